//! Browser build of omega-pr (wasm-bindgen). Thin: every function forwards to `omega-pr-core`.

use wasm_bindgen::prelude::*;

// The types of the snake_case objects these functions return are generated from the core's
// schemas (`report-types.generated.d.ts`, which `scripts/build-wasm.sh` copies next to each
// generated `.d.ts` as `report-types.d.ts`); the two input shapes are declared here.
#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
import type { ProofpackIntegrity, ProofpackProblem, ProofpackVerification, StressRederivation, StressVerdict } from './report-types';
export type * from './report-types';

/** The result of `verifyPack` (integrity only; `verifySignedPack` returns the full `ProofpackVerification`). */
export type PackVerification = ProofpackIntegrity;
/** One problem found by verification (the name of earlier releases). */
export type PackProblem = ProofpackProblem;

/** One line of `SHA256SUMS.txt` (`parseSha256Sums`). */
export interface Sha256SumEntry {
  /** Relative path, `/` separators. */
  path: string;
  /** SHA-256 of the file, 64 lowercase hex digits. */
  sha256: string;
}

/** One file as the caller observed it in the pack folder. */
export interface ObservedEntry {
  /** Relative path, `/` separators. */
  path: string;
  kind: 'file' | 'symlink' | 'other';
  /** Size in bytes (0 when not a regular file). */
  bytes: number;
  /** Lowercase hex SHA-256, or `null` when not hashed (e.g. an unlisted file). */
  sha256: string | null;
  /** Why a regular file could not be read (an I/O problem, not tampering). */
  read_error?: string;
}
"#;

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

/// Incremental SHA-256: `new Sha256()`, `update(bytes)` as many times as needed, `digestHex()`.
/// Feed a big file in chunks (`Blob.slice`) and memory stays bounded.
#[wasm_bindgen]
#[derive(Default)]
pub struct Sha256 {
    inner: omega_pr_core::proofpack::hash::Sha256,
}

#[wasm_bindgen]
impl Sha256 {
    /// A fresh hasher.
    #[wasm_bindgen(constructor)]
    pub fn new() -> Sha256 {
        Sha256::default()
    }

    /// Absorbs bytes.
    pub fn update(&mut self, data: &[u8]) {
        self.inner.update(data);
    }

    /// The digest, lowercase hex; the hasher is reset.
    #[wasm_bindgen(js_name = digestHex)]
    pub fn digest_hex(&mut self) -> String {
        self.inner.digest_hex()
    }
}

/// SHA-256 of bytes, lowercase hex.
#[wasm_bindgen(js_name = sha256Hex)]
pub fn sha256_hex(data: &[u8]) -> String {
    omega_pr_core::proofpack::manifest::sha256_hex(data)
}

fn to_js<T: serde::Serialize>(value: &T) -> Result<JsValue, JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| JsValue::from_str(&e.to_string()))
}

/// Parses `SHA256SUMS.txt` bytes: `[{ path, sha256 }]` in file order. Throws `ERR_OMEGA_PARSE`
/// with the line and reason code (same rules as the native parser).
#[wasm_bindgen(js_name = parseSha256Sums, unchecked_return_type = "Sha256SumEntry[]")]
pub fn parse_sha256_sums(data: &[u8]) -> Result<JsValue, JsValue> {
    let list =
        omega_pr_core::proofpack::sums::parse(data, omega_pr_core::proofpack::sums::SUMS_FILE)
            .map_err(to_js_error)?;
    to_js(&list)
}

/// Verifies a pack from its two documents (`undefined` when absent) and the entries observed
/// (`[{ path, kind: 'file' | 'symlink' | 'other', bytes, sha256 }]`, `sha256` `null` when not
/// hashed). Returns `{ verdict, complete, valid, pack_id, files, file_count, total_bytes,
/// problems }` — the same verdict as the native `verifyProofpack`.
#[wasm_bindgen(js_name = verifyPack, unchecked_return_type = "PackVerification")]
pub fn verify_pack(
    sums: Option<Vec<u8>>,
    manifest: Option<Vec<u8>>,
    #[wasm_bindgen(unchecked_param_type = "ObservedEntry[]")] observed: JsValue,
) -> Result<JsValue, JsValue> {
    let observed: Vec<omega_pr_core::proofpack::verify::ObservedFile> =
        serde_wasm_bindgen::from_value(observed)
            .map_err(|e| to_js_error(omega_pr_core::Error::invalid("observed", e.to_string())))?;
    let v =
        omega_pr_core::proofpack::verify::verify(sums.as_deref(), manifest.as_deref(), &observed);
    to_js(&v)
}

/// Verifies a pack like [`verify_pack`], plus the recorded verdict, the minisign signature
/// (`MANIFEST.json.minisig`) and the attestation (`attestation.intoto.json`) with the pinned
/// public key (`.pub` text or the `RW…` line), and a manifest digest published elsewhere.
/// Returns the snake_case object of the native `verifyProofpack` (same fields, same values).
/// Throws `ERR_OMEGA_KEY` when the public key is garbled.
#[wasm_bindgen(js_name = verifySignedPack, unchecked_return_type = "ProofpackVerification")]
#[allow(clippy::too_many_arguments)]
pub fn verify_signed_pack(
    sums: Option<Vec<u8>>,
    manifest: Option<Vec<u8>>,
    minisig: Option<Vec<u8>>,
    attestation: Option<Vec<u8>>,
    #[wasm_bindgen(unchecked_param_type = "ObservedEntry[]")] observed: JsValue,
    pubkey: Option<String>,
    expect_manifest_sha256: Option<String>,
) -> Result<JsValue, JsValue> {
    let observed: Vec<omega_pr_core::proofpack::verify::ObservedFile> =
        serde_wasm_bindgen::from_value(observed)
            .map_err(|e| to_js_error(omega_pr_core::Error::invalid("observed", e.to_string())))?;
    let key = match pubkey.as_deref().map(str::trim).filter(|k| !k.is_empty()) {
        None => None,
        Some(text) => Some(
            omega_pr_core::sign::minisign::PublicKey::parse(text, "pinned public key")
                .map_err(to_js_error)?,
        ),
    };
    let v = omega_pr_core::sign::pack::verify_pack(&omega_pr_core::sign::pack::PackInputs {
        sums: sums.as_deref(),
        manifest: manifest.as_deref(),
        minisig: minisig.as_deref(),
        attestation: attestation.as_deref(),
        observed: &observed,
        pubkey: key.as_ref(),
        expect_manifest_sha256: expect_manifest_sha256.as_deref(),
    });
    to_js(&v)
}

/// Key id (minisign's 16 hex digits) of a public key (`.pub` text or `RW…` line); throws
/// `ERR_OMEGA_KEY` when garbled.
#[wasm_bindgen(js_name = minisignPublicKeyId)]
pub fn minisign_public_key_id(pubkey: &str) -> Result<String, JsValue> {
    omega_pr_core::sign::minisign::PublicKey::parse(pubkey, "pinned public key")
        .map(|k| k.key_id_hex())
        .map_err(to_js_error)
}

/// Serializes through `serde_json::Value` first, so maps with integer keys (`pass_k`) become
/// objects with string keys — the same object the native addon returns.
fn to_js_via_json<T: serde::Serialize>(value: &T) -> Result<JsValue, JsValue> {
    let v = serde_json::to_value(value).map_err(|e| JsValue::from_str(&e.to_string()))?;
    to_js(&v)
}

fn json_arg(field: &str, value: JsValue) -> Result<Option<serde_json::Value>, JsValue> {
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    serde_wasm_bindgen::from_value(value)
        .map(Some)
        .map_err(|e| to_js_error(omega_pr_core::Error::invalid(field, e.to_string())))
}

/// The PR-G4 fields of `PR_REPORT.json` from the runs (`[{ hard_score, soft_score, hard_pass,
/// soft_pass, metrics, cases? }]`, other fields ignored), the cases file's ids (or null), the
/// calibration document (shipped defaults when undefined) and the cache corruption count — the
/// same object as the native `judgeStress`. Throws `ERR_OMEGA_EMPTY_RUNS`,
/// `ERR_OMEGA_INVALID_ARGUMENT`, `ERR_OMEGA_CALIBRATION`.
#[wasm_bindgen(js_name = judgeStress, unchecked_return_type = "StressVerdict")]
pub fn judge_stress(
    #[wasm_bindgen(unchecked_param_type = "unknown[]")] runs: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string[] | null | undefined")] case_ids: JsValue,
    #[wasm_bindgen(unchecked_param_type = "unknown")] calibration: JsValue,
    cache_corruption: f64,
) -> Result<JsValue, JsValue> {
    use omega_pr_core::gate_g4;
    let runs: Vec<gate_g4::StressRun> = serde_wasm_bindgen::from_value(runs)
        .map_err(|e| to_js_error(omega_pr_core::Error::invalid("runs", e.to_string())))?;
    let case_ids: Option<Vec<String>> =
        if case_ids.is_undefined() || case_ids.is_null() {
            None
        } else {
            Some(serde_wasm_bindgen::from_value(case_ids).map_err(|e| {
                to_js_error(omega_pr_core::Error::invalid("caseIds", e.to_string()))
            })?)
        };
    let cal = match json_arg("calibration", calibration)? {
        Some(v) => omega_pr_core::calibration::Calibration::from_value(&v, None),
        None => omega_pr_core::calibration::default_calibration(),
    }
    .map_err(to_js_error)?;
    if !(cache_corruption.is_finite() && cache_corruption >= 0.0 && cache_corruption.fract() == 0.0)
    {
        return Err(to_js_error(omega_pr_core::Error::invalid(
            "cacheCorruption",
            format!("must be a whole number ≥ 0, got {cache_corruption}"),
        )));
    }
    let v = gate_g4::judge_stress(&runs, case_ids.as_deref(), &cal, cache_corruption as u64)
        .map_err(to_js_error)?;
    to_js_via_json(&v)
}

/// Re-derives the PR-G4 verdict of a recorded `PR_REPORT.json` (the parsed object) from its
/// per-run scores with the run folder's `calibration.json` (parsed; undefined when absent) and
/// compares every PR-G4 field: `{ status: 'reproduced' | 'differs' | 'not_rederivable',
/// recorded_verdict, derived_verdict, total_runs, first_difference, line, derived }` — the same
/// object as the native `rederiveStressVerdict`.
#[wasm_bindgen(
    js_name = rederiveStressVerdict,
    unchecked_return_type = "StressRederivation"
)]
pub fn rederive_stress_verdict(
    #[wasm_bindgen(unchecked_param_type = "unknown")] report: JsValue,
    #[wasm_bindgen(unchecked_param_type = "unknown")] calibration: JsValue,
) -> Result<JsValue, JsValue> {
    let report = json_arg("report", report)?.unwrap_or(serde_json::Value::Null);
    let calibration = json_arg("calibration", calibration)?;
    to_js_via_json(&omega_pr_core::gate_g4::rederive(
        &report,
        calibration.as_ref(),
    ))
}

/// The stress documents, as the native `stressDocumentsJson` (core `derive::answer`):
/// `requestJson` is the JSON text of `{"derive": {journals, generated, merge}}` (the documents of
/// a run from its journal(s): what the verifier page can re-derive from a pack),
/// `{"report": …}`, `{"merge_shards": …}`, `{"merge_rate_limits": …}` or `{"call_counts": …}`;
/// returns the JSON text of the answer, byte for byte the native one. `calibration` is the
/// calibration document (shipped defaults when undefined). Throws `ERR_OMEGA_MERGE`,
/// `ERR_OMEGA_EMPTY_RUNS`, `ERR_OMEGA_INVALID_ARGUMENT`, `ERR_OMEGA_CALIBRATION`.
#[wasm_bindgen(js_name = stressDocumentsJson)]
pub fn stress_documents_json(
    #[wasm_bindgen(unchecked_param_type = "unknown")] calibration: JsValue,
    request_json: &str,
) -> Result<String, JsValue> {
    let cal = match json_arg("calibration", calibration)? {
        Some(v) => omega_pr_core::calibration::Calibration::from_value(&v, None),
        None => omega_pr_core::calibration::default_calibration(),
    }
    .map_err(to_js_error)?;
    let request: omega_pr_core::derive::StressRequest = serde_json::from_str(request_json)
        .map_err(|e| to_js_error(omega_pr_core::Error::invalid("request", e.to_string())))?;
    omega_pr_core::derive::answer(&cal, request).map_err(to_js_error)
}
