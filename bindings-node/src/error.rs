//! Conversion of errors to JS: every error thrown by the addon carries a stable `code`
//! (`ERR_OMEGA_…`) and a message that names the offending field, value or file.

use napi::Error;

/// The status of a JS error thrown by this addon: its string becomes the JS `err.code`.
#[derive(Debug, Clone)]
pub struct Code(pub &'static str);

impl AsRef<str> for Code {
    fn as_ref(&self) -> &str {
        self.0
    }
}

/// Result of every exported function: errors become JS errors with `code`.
pub type JsResult<T> = napi::Result<T, Code>;

/// A JS error with a code and a message.
pub fn js_error(code: &'static str, message: impl Into<String>) -> Error<Code> {
    Error::new(Code(code), message.into())
}

/// Converts a core error (the one place where that happens for the Node addon).
pub fn from_core(err: omega_pr_core::Error) -> Error<Code> {
    js_error(err.code(), err.to_string())
}

/// An internal error (`ERR_OMEGA_INTERNAL`): a bug or an N-API/serialisation failure.
pub fn internal(message: impl std::fmt::Display) -> Error<Code> {
    from_core(omega_pr_core::Error::Internal {
        message: message.to_string(),
    })
}

/// Every `ERR_OMEGA_…` code the package can throw, in registry order (the core's
/// `ERROR_CODES`): `src/error-codes.ts` and the README's error table are checked against it.
#[napi_derive::napi]
pub fn error_codes() -> Vec<String> {
    omega_pr_core::error::ERROR_CODES
        .iter()
        .map(|(code, _)| (*code).to_owned())
        .collect()
}

/// An invalid-argument error naming the field.
pub fn invalid(field: &str, message: impl std::fmt::Display) -> Error<Code> {
    from_core(omega_pr_core::Error::invalid(field, message.to_string()))
}

/// A JS number as a whole number (the core's rule, [`omega_pr_core::numbers::whole`]), naming
/// `field` otherwise.
pub fn whole(field: &str, value: f64) -> JsResult<u64> {
    omega_pr_core::numbers::whole(field, value).map_err(from_core)
}

/// A JS number as a seed (`ERR_OMEGA_SEED_RANGE` otherwise).
pub fn seed(value: f64) -> JsResult<u64> {
    omega_pr_core::numbers::seed(value).map_err(from_core)
}
