//! Browser build of omega-pr (wasm-bindgen). Thin: every function forwards to `omega-pr-core`.

use wasm_bindgen::prelude::*;

/// Converts a core error to a JS `Error` whose `code` property is the stable `ERR_OMEGA_…` code.
pub fn to_js_error(err: omega_pr_core::Error) -> JsValue {
    let js = js_sys::Error::new(&err.to_string());
    let _ = js_sys::Reflect::set(
        &js,
        &JsValue::from_str("code"),
        &JsValue::from_str(err.code()),
    );
    js.into()
}

/// Version of the omega-pr core inside this build.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

/// Validates calibration JSON text; throws an error with code `ERR_OMEGA_CALIBRATION` listing
/// every problem with its JSON path.
#[wasm_bindgen(js_name = validateCalibrationJson)]
pub fn validate_calibration_json(text: &str) -> Result<(), JsValue> {
    omega_pr_core::calibration::Calibration::from_json_str(text, None)
        .map(|_| ())
        .map_err(to_js_error)
}
