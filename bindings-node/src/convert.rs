//! The one conversion of structured arguments and results: a JS object is read into a core
//! type with serde (napi's `De`), and a core value is returned through serde (`to_js_value`).
//! Shapes are the core's (`#[derive(Deserialize/Serialize, JsonSchema)]`); their TS types are
//! generated from the schemas (`report-types.generated.d.ts`), named in `ts_args_type` /
//! `ts_return_type`. No mirror structs here.

use napi::bindgen_prelude::{Object, Unknown};
use napi::{De, Env, ValueType};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{internal, invalid, Code};
use napi::Result;

/// Reads the JS argument `value` (named `what` in errors) into `T`. A wrong or missing field
/// is `ERR_OMEGA_INVALID_ARGUMENT` naming its path (`options.inputTokens`); `undefined` and
/// `null` fields are absent.
pub fn from_js<T: DeserializeOwned>(value: Unknown<'_>, what: &str) -> Result<T, Code> {
    let ty = value.get_type().map_err(internal)?;
    if ty != ValueType::Object {
        return Err(invalid(
            what,
            format!("must be an object, got {}", ty.to_string().to_lowercase()),
        ));
    }
    // SAFETY: the value was just checked to be an object.
    let obj = unsafe { value.cast::<Object>() }.map_err(internal)?;
    let mut de = De::new(&obj);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            what.to_owned()
        } else {
            format!("{what}.{path}")
        };
        invalid(&field, e.into_inner().reason)
    })
}

/// Reads an optional JS argument (`undefined`/`null` → `None`).
pub fn from_js_opt<T: DeserializeOwned>(
    value: Option<Unknown<'_>>,
    what: &str,
) -> Result<Option<T>, Code> {
    match value {
        None => Ok(None),
        Some(v) => match v.get_type().map_err(internal)? {
            ValueType::Undefined | ValueType::Null => Ok(None),
            _ => from_js(v, what).map(Some),
        },
    }
}

/// Returns a core value to JS as a plain object (field names as the core serializes them).
pub fn to_js<'env, T: Serialize>(env: &Env, value: &T) -> Result<Unknown<'env>, Code> {
    env.to_js_value(value).map_err(internal)
}
