//! Calibration loading and validation for JS.

use napi_derive::napi;
use omega_pr_core::calibration::{Calibration, DEFAULT_CALIBRATION_JSON};
use serde_json::Value;

use crate::error::{from_core, Code};
use napi::Result;

/// Parses a calibration given to a native function: the JS object itself (as returned by
/// `loadCalibration`), or `undefined` for the shipped defaults.
pub fn parse(calibration: Option<Value>) -> Result<Calibration, Code> {
    match calibration {
        Some(value) => Calibration::from_value(&value, None).map_err(from_core),
        None => omega_pr_core::calibration::default_calibration().map_err(from_core),
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
    // A UTF-8 byte-order mark (Windows editors) is not part of the document.
    let value: Value = match serde_json::from_str(omega_pr_core::calibration::strip_bom(&text)) {
        Ok(v) => v,
        Err(_) => {
            // Let the core report it with its own wording and code.
            return Calibration::from_json_str(&text, source_name.as_deref())
                .map(|_| Value::Null)
                .map_err(from_core);
        }
    };
    Calibration::from_value(&value, source_name.as_deref()).map_err(from_core)?;
    Ok(value)
}

/// Validates a calibration object; returns it unchanged when valid. Throws
/// `ERR_OMEGA_CALIBRATION` listing every problem with its JSON path.
#[napi(
    ts_args_type = "calibration: unknown",
    ts_return_type = "CalibrationDocument"
)]
pub fn validate_calibration(calibration: Value) -> Result<Value, Code> {
    Calibration::from_value(&calibration, None).map_err(from_core)?;
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
    Calibration::check(&calibration)
        .into_iter()
        .map(|p| CalibrationProblem {
            path: p.path,
            message: p.message,
        })
        .collect()
}
