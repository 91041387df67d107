//! Strict conversion of a JS value to JSON: only what `JSON.parse(JSON.stringify(v))` gives
//! back unchanged is accepted. Functions, symbols, `undefined`, BigInt, NaN/±Infinity, cycles,
//! and objects that are not plain (Date, Map, Set, class instances, typed arrays…) are rejected
//! with the path of the offending part (`value.a[2].b`).

use std::ptr;

use napi::bindgen_prelude::FromNapiValue;
use napi::sys;
use serde_json::{Map, Number, Value};

use crate::error::{invalid, Code};
use napi::Result;

/// Deepest nesting accepted.
const MAX_DEPTH: usize = 512;

struct Walker {
    env: sys::napi_env,
    object_prototype: sys::napi_value,
    ancestors: Vec<sys::napi_value>,
}

fn status(code: sys::napi_status, what: &str) -> Result<(), Code> {
    if code == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(crate::error::internal(format!(
            "N-API call failed while reading {what} (status {code})"
        )))
    }
}

fn type_name(t: i32) -> &'static str {
    use sys::ValueType as T;
    match t {
        T::napi_undefined => "undefined",
        T::napi_null => "null",
        T::napi_boolean => "a boolean",
        T::napi_number => "a number",
        T::napi_string => "a string",
        T::napi_symbol => "a symbol",
        T::napi_object => "an object",
        T::napi_function => "a function",
        T::napi_external => "an external value",
        T::napi_bigint => "a BigInt",
        _ => "an unknown value",
    }
}

/// The JS type of `v`.
///
/// # Safety
/// `env` and `v` must be live handles of the current call.
pub unsafe fn type_of(env: sys::napi_env, v: sys::napi_value, what: &str) -> Result<i32, Code> {
    let mut t = 0;
    status(unsafe { sys::napi_typeof(env, v, &mut t) }, what)?;
    Ok(t)
}

/// A JS string argument, or `ERR_OMEGA_INVALID_ARGUMENT` naming `field`.
///
/// # Safety
/// `env` and `v` must be live handles of the current call.
pub unsafe fn string_arg(
    env: sys::napi_env,
    v: sys::napi_value,
    field: &str,
) -> Result<String, Code> {
    let t = unsafe { type_of(env, v, field)? };
    if t != sys::ValueType::napi_string {
        return Err(invalid(
            field,
            format!("must be a string, got {}", type_name(t)),
        ));
    }
    unsafe { strict_string(env, v, field) }
}

/// Reads a JS string that must be valid Unicode: a lone surrogate (which UTF-8 cannot carry and
/// N-API would silently replace by U+FFFD) is `ERR_OMEGA_INVALID_ARGUMENT` naming `path`.
///
/// # Safety
/// `env` and `v` must be live handles of the current call, `v` a string.
unsafe fn strict_string(
    env: sys::napi_env,
    v: sys::napi_value,
    path: &str,
) -> Result<String, Code> {
    let s = unsafe { String::from_napi_value(env, v) }
        .map_err(|e| invalid(path, format!("is not a valid string: {}", e.reason)))?;
    // Fast path: without U+FFFD in the result nothing was replaced.
    if !s.contains('\u{fffd}') {
        return Ok(s);
    }
    let mut len = 0usize;
    status(
        unsafe { sys::napi_get_value_string_utf16(env, v, ptr::null_mut(), 0, &mut len) },
        path,
    )?;
    let mut buf = vec![0u16; len + 1];
    let mut written = 0usize;
    status(
        unsafe {
            sys::napi_get_value_string_utf16(env, v, buf.as_mut_ptr(), buf.len(), &mut written)
        },
        path,
    )?;
    buf.truncate(written);
    match char::decode_utf16(buf.iter().copied()).position(|c| c.is_err()) {
        None => Ok(s),
        Some(at) => Err(crate::error::js_error(
            "ERR_OMEGA_INVALID_ARGUMENT",
            format!(
                "`{path}` is a string with a lone surrogate (UTF-16 unit {at}), which is not valid Unicode and cannot be stored as JSON text unchanged"
            ),
        )),
    }
}

/// Converts `v` to JSON; `path` names it in errors (e.g. `value`).
///
/// # Safety
/// `env` and `v` must be live handles of the current call.
pub unsafe fn to_json(env: sys::napi_env, v: sys::napi_value, path: &str) -> Result<Value, Code> {
    let mut global = ptr::null_mut();
    status(
        unsafe { sys::napi_get_global(env, &mut global) },
        "globalThis",
    )?;
    let mut object_ctor = ptr::null_mut();
    status(
        unsafe { sys::napi_get_named_property(env, global, c"Object".as_ptr(), &mut object_ctor) },
        "Object",
    )?;
    let mut object_prototype = ptr::null_mut();
    status(
        unsafe {
            sys::napi_get_named_property(
                env,
                object_ctor,
                c"prototype".as_ptr(),
                &mut object_prototype,
            )
        },
        "Object.prototype",
    )?;
    let mut w = Walker {
        env,
        object_prototype,
        ancestors: Vec::new(),
    };
    unsafe { w.value(v, &mut path.to_owned()) }
}

fn reject(path: &str, what: &str) -> napi::Error<Code> {
    crate::error::js_error(
        "ERR_OMEGA_INVALID_ARGUMENT",
        format!("`{path}` is {what}, which is not a JSON value (the cache stores JSON only)"),
    )
}

fn push_key(path: &mut String, key: &str) {
    let ident = !key.is_empty()
        && key
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    if ident {
        path.push('.');
        path.push_str(key);
    } else {
        path.push('[');
        path.push_str(&Value::String(key.to_owned()).to_string());
        path.push(']');
    }
}

impl Walker {
    unsafe fn strict_equals(&self, a: sys::napi_value, b: sys::napi_value) -> Result<bool, Code> {
        let mut eq = false;
        status(
            unsafe { sys::napi_strict_equals(self.env, a, b, &mut eq) },
            "value",
        )?;
        Ok(eq)
    }

    unsafe fn value(&mut self, v: sys::napi_value, path: &mut String) -> Result<Value, Code> {
        let env = self.env;
        let t = unsafe { type_of(env, v, path)? };
        use sys::ValueType as T;
        match t {
            T::napi_null => Ok(Value::Null),
            T::napi_boolean => unsafe { bool::from_napi_value(env, v) }
                .map(Value::Bool)
                .map_err(|_| reject(path, "an unreadable boolean")),
            T::napi_string => unsafe { strict_string(env, v, path) }.map(Value::String),
            T::napi_number => {
                let n = unsafe { f64::from_napi_value(env, v) }
                    .map_err(|_| reject(path, "an unreadable number"))?;
                number(n).ok_or_else(|| {
                    let shown = if n.is_nan() {
                        "NaN"
                    } else if n > 0.0 {
                        "Infinity"
                    } else {
                        "-Infinity"
                    };
                    reject(path, &format!("the number {shown}"))
                })
            }
            T::napi_object => unsafe { self.object(v, path) },
            other => Err(reject(path, type_name(other))),
        }
    }

    unsafe fn object(&mut self, v: sys::napi_value, path: &mut String) -> Result<Value, Code> {
        let env = self.env;
        for &a in &self.ancestors {
            if unsafe { self.strict_equals(a, v)? } {
                return Err(reject(
                    path,
                    "a reference to one of its own ancestors (a cycle)",
                ));
            }
        }
        if self.ancestors.len() >= MAX_DEPTH {
            return Err(reject(
                path,
                &format!("nested deeper than {MAX_DEPTH} levels"),
            ));
        }
        let mut is_array = false;
        status(unsafe { sys::napi_is_array(env, v, &mut is_array) }, path)?;
        self.ancestors.push(v);
        let out = if is_array {
            unsafe { self.array(v, path) }
        } else {
            unsafe { self.plain(v, path) }
        };
        self.ancestors.pop();
        out
    }

    unsafe fn array(&mut self, v: sys::napi_value, path: &mut String) -> Result<Value, Code> {
        let env = self.env;
        let mut len = 0u32;
        status(
            unsafe { sys::napi_get_array_length(env, v, &mut len) },
            path,
        )?;
        let mut out = Vec::with_capacity(len as usize);
        for i in 0..len {
            let mut el = ptr::null_mut();
            status(unsafe { sys::napi_get_element(env, v, i, &mut el) }, path)?;
            let base = path.len();
            path.push_str(&format!("[{i}]"));
            out.push(unsafe { self.value(el, path)? });
            path.truncate(base);
        }
        Ok(Value::Array(out))
    }

    unsafe fn plain(&mut self, v: sys::napi_value, path: &mut String) -> Result<Value, Code> {
        let env = self.env;
        let mut proto = ptr::null_mut();
        status(unsafe { sys::napi_get_prototype(env, v, &mut proto) }, path)?;
        let proto_type = unsafe { type_of(env, proto, path)? };
        if proto_type != sys::ValueType::napi_null
            && !unsafe { self.strict_equals(proto, self.object_prototype)? }
        {
            return Err(reject(
                path,
                "not a plain object (a Date, Map, Set, typed array, class instance…)",
            ));
        }
        let mut names = ptr::null_mut();
        status(
            unsafe {
                sys::napi_get_all_property_names(
                    env,
                    v,
                    sys::KeyCollectionMode::own_only,
                    sys::KeyFilter::enumerable | sys::KeyFilter::skip_symbols,
                    sys::KeyConversion::numbers_to_strings,
                    &mut names,
                )
            },
            path,
        )?;
        let mut len = 0u32;
        status(
            unsafe { sys::napi_get_array_length(env, names, &mut len) },
            path,
        )?;
        let mut map = Map::new();
        for i in 0..len {
            let mut key = ptr::null_mut();
            status(
                unsafe { sys::napi_get_element(env, names, i, &mut key) },
                path,
            )?;
            let base = path.len();
            let shown_key = unsafe { String::from_napi_value(env, key) }
                .map_err(|_| reject(path, "an object with an unreadable key"))?;
            push_key(path, &shown_key);
            if shown_key == "__proto__" {
                // JSON.parse makes it an own key, but setting it back on an object changes the
                // prototype instead: it would silently disappear.
                return Err(crate::error::js_error(
                    "ERR_OMEGA_INVALID_ARGUMENT",
                    format!("`{path}`: an own `__proto__` key cannot round-trip through a JS object (it would be silently dropped); rename it"),
                ));
            }
            let k = unsafe { strict_string(env, key, path) }?;
            path.truncate(base);
            let mut val = ptr::null_mut();
            status(
                unsafe { sys::napi_get_property(env, v, key, &mut val) },
                path,
            )?;
            let base = path.len();
            push_key(path, &k);
            let json = unsafe { self.value(val, path)? };
            path.truncate(base);
            map.insert(k, json);
        }
        Ok(Value::Object(map))
    }
}

/// A JSON number from a JS number: whole numbers in the safe range become integers (so `5`
/// is written `5`, not `5.0`); non-finite numbers are not JSON.
pub fn number(n: f64) -> Option<Value> {
    if !n.is_finite() {
        return None;
    }
    if n.fract() == 0.0 && n.abs() <= 9_007_199_254_740_991.0 {
        return Some(Value::Number(Number::from(n as i64)));
    }
    Number::from_f64(n).map(Value::Number)
}
