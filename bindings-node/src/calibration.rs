//! Calibration loading and validation for JS.

use std::sync::Arc;

use napi::bindgen_prelude::{FromNapiRef, FromNapiValue, TypeName, ValidateNapiValue, ValueType};
use napi::sys;
use napi_derive::napi;
use omega_pr_core::calibration::{Calibration as CoreCalibration, DEFAULT_CALIBRATION_JSON};
use serde_json::Value;

use crate::error::{from_core, Code};
use napi::Result;

/// A calibration parsed and validated once: the native handle every constructor and analysis
/// takes (`new BudgetTracker(cal)`, `new ChaosEngine({ calibration: cal })`, `analyzeVariance(runs,
/// cal)`, …) so the document is not converted and re-validated at each FFI call. Each of them also
/// still accepts the plain document (parsed on the spot).
#[napi]
pub struct Calibration {
    inner: Arc<CoreCalibration>,
    document: Value,
}

#[napi]
impl Calibration {
    /// Validates a calibration document (as `loadCalibration` returns it). Throws
    /// `ERR_OMEGA_CALIBRATION` listing every problem with its JSON path.
    #[napi(factory, ts_args_type = "document: unknown")]
    pub fn parse(document: Value) -> Result<Self, Code> {
        let inner = CoreCalibration::from_value(&document, None).map_err(from_core)?;
        Ok(Self {
            inner: Arc::new(inner),
            document,
        })
    }

    /// Parses calibration JSON text; `sourceName` (a file name) is quoted in errors.
    #[napi(factory)]
    pub fn from_json(text: String, source_name: Option<String>) -> Result<Self, Code> {
        let (document, inner) = CoreCalibration::from_json_document(&text, source_name.as_deref())
            .map_err(from_core)?;
        Ok(Self {
            inner: Arc::new(inner),
            document,
        })
    }

    /// The shipped defaults (`budgets/calibration.json`).
    #[napi(factory)]
    pub fn defaults() -> Result<Self, Code> {
        Self::from_json(DEFAULT_CALIBRATION_JSON.to_owned(), None)
    }

    /// The validated document (snake_case; object keys in sorted order).
    #[napi(getter, ts_return_type = "CalibrationDocument")]
    pub fn document(&self) -> Value {
        self.document.clone()
    }
}

/// A calibration argument: the native [`Calibration`] handle, or a plain document parsed on the
/// spot (`undefined`/`null`: the shipped defaults).
pub enum CalibrationArg {
    /// A parsed handle (no conversion, no validation).
    Handle(Arc<CoreCalibration>),
    /// A JS object: converted and validated at this call.
    Document(Value),
    /// Neither (a function, another class, a symbol…): why, reported as
    /// `ERR_OMEGA_INVALID_ARGUMENT` by [`parse`].
    Invalid(String),
}

impl TypeName for CalibrationArg {
    fn type_name() -> &'static str {
        "Calibration | CalibrationDocument"
    }

    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl ValidateNapiValue for CalibrationArg {}

impl FromNapiValue for CalibrationArg {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Self> {
        // A `Calibration` instance (checked by its napi type tag), else a document.
        // SAFETY: `env` and `value` come from napi for this call; `from_napi_ref` rejects any
        // value that is not a wrapped `Calibration` before touching its pointer.
        if let Ok(handle) = unsafe { <Calibration as FromNapiRef>::from_napi_ref(env, value) } {
            return Ok(Self::Handle(Arc::clone(&handle.inner)));
        }
        // SAFETY: as above; serde conversion of any JS value.
        Ok(match unsafe { Value::from_napi_value(env, value) } {
            Ok(document) => Self::Document(document),
            Err(e) => Self::Invalid(e.reason),
        })
    }
}

/// Resolves a calibration argument: the handle's parsed calibration, the document parsed now, or
/// the shipped defaults when omitted.
pub fn parse(calibration: Option<CalibrationArg>) -> Result<Arc<CoreCalibration>, Code> {
    match calibration {
        Some(CalibrationArg::Handle(inner)) => Ok(inner),
        Some(CalibrationArg::Document(value)) => CoreCalibration::from_value(&value, None)
            .map(Arc::new)
            .map_err(from_core),
        Some(CalibrationArg::Invalid(why)) => Err(crate::error::invalid(
            "calibration",
            format!("expected a Calibration or a calibration document ({why})"),
        )),
        None => omega_pr_core::calibration::default_calibration()
            .map(Arc::new)
            .map_err(from_core),
    }
}

/// The shipped default calibration document (`budgets/calibration.json`) as JSON text.
#[napi]
pub fn default_calibration_json() -> String {
    DEFAULT_CALIBRATION_JSON.to_owned()
}

/// Validates calibration JSON text; `sourceName` (a file name) is quoted in errors. Returns the
/// parsed document. Throws `ERR_OMEGA_CALIBRATION` listing **every** problem with its JSON path.
#[napi(ts_return_type = "CalibrationDocument")]
pub fn parse_calibration_json(text: String, source_name: Option<String>) -> Result<Value, Code> {
    CoreCalibration::from_json_document(&text, source_name.as_deref())
        .map(|(document, _)| document)
        .map_err(from_core)
}

/// Validates a calibration object; returns it unchanged when valid. Throws
/// `ERR_OMEGA_CALIBRATION` listing every problem with its JSON path.
#[napi(
    ts_args_type = "calibration: unknown",
    ts_return_type = "CalibrationDocument"
)]
pub fn validate_calibration(calibration: Value) -> Result<Value, Code> {
    CoreCalibration::from_value(&calibration, None).map_err(from_core)?;
    Ok(calibration)
}

/// One problem of a calibration document.
#[napi(object)]
pub struct CalibrationProblem {
    /// JSON path, e.g. `$.budget.max_per_call_usd`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// Every problem of a calibration object (empty when valid), without throwing.
#[napi(ts_args_type = "calibration: unknown")]
pub fn check_calibration(calibration: Value) -> Vec<CalibrationProblem> {
    CoreCalibration::check(&calibration)
        .into_iter()
        .map(|p| CalibrationProblem {
            path: p.path,
            message: p.message,
        })
        .collect()
}
