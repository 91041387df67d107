//! Gate PR-G4 for JS (see `omega_pr_core::gate_g4`): the verdict of a stress run from its runs
//! (`judgeStress`, what `buildPrReport` lays out) and its re-derivation from a recorded
//! `PR_REPORT.json` (`rederiveStressVerdict`, what `proofpack verify` prints).

use std::collections::HashMap;

use napi_derive::napi;
use omega_pr_core::gate_g4::{self, StressCase, StressOutcomeFault, StressRun};
use serde_json::Value;

use crate::error::{from_core, internal, whole, Code};
use napi::Result;

/// One case of one run, as `PR_REPORT.json` lists it (other fields are ignored).
#[napi(object)]
pub struct StressCaseInput {
    /// Case id.
    pub id: String,
    /// Whether the case passed its hard checks.
    #[napi(js_name = "hard_pass")]
    pub hard_pass: bool,
    /// Types of the checks that failed.
    #[napi(js_name = "failed_checks")]
    pub failed_checks: Vec<String>,
}

/// One run, as `PR_REPORT.json` lists it in `runs` (a `RunRecord`; other fields are ignored).
#[napi(object)]
pub struct StressRunInput {
    /// Hard score.
    #[napi(js_name = "hard_score")]
    pub hard_score: f64,
    /// Soft score.
    #[napi(js_name = "soft_score")]
    pub soft_score: f64,
    /// Whether the hard gate passed.
    #[napi(js_name = "hard_pass")]
    pub hard_pass: bool,
    /// Whether the soft gate passed.
    #[napi(js_name = "soft_pass")]
    pub soft_pass: bool,
    /// Other metrics (`latency_ms`, `cost_usd`, …).
    pub metrics: Option<HashMap<String, f64>>,
    /// Per-case results (runs of a cases file or an engine).
    pub cases: Option<Vec<StressCaseInput>>,
    /// Outcome faults delivered to the run and what caught them.
    #[napi(js_name = "outcome_faults")]
    pub outcome_faults: Option<Vec<StressOutcomeFaultInput>>,
}

/// One outcome fault of a run, as `PR_REPORT.json` lists it (other fields are ignored).
#[napi(object)]
pub struct StressOutcomeFaultInput {
    /// The fault (`truncated`, `refusal`, …).
    pub fault: String,
    /// What caught it, or null: accepted.
    #[napi(ts_type = "string | null")]
    pub caught: Option<Value>,
}

/// The PR-G4 fields of `PR_REPORT.json` (snake_case): `verdict` (PASS when the variance verdict
/// passes and `cacheCorruption` is 0), `total_runs`, `hard_pass_rate`, `variance_verdict` (FAIL
/// when the hard pass rate is under `PASS_RATIO_MIN` or a case is under `CASE_PASS_MIN`),
/// `variance_violations` (envelopes, then cases), `downgrade_flag`, `cache_corruption`,
/// `analysis` (as `analyzeVariance`) and, when `caseIds` is given, `case_analysis` (as
/// `analyzeCases`). Thresholds from `calibration` (shipped defaults when omitted). Throws
/// `ERR_OMEGA_EMPTY_RUNS` for no runs, `ERR_OMEGA_INVALID_ARGUMENT` naming `runs[i].hard_score`
/// (…) for a NaN or infinite value, `ERR_OMEGA_CALIBRATION`.
#[napi(
    ts_args_type = "runs: StressRunInput[], caseIds: string[] | null | undefined, calibration: Calibration | CalibrationDocument | undefined | null, cacheCorruption: number",
    ts_return_type = "StressVerdict"
)]
pub fn judge_stress(
    runs: Vec<StressRunInput>,
    case_ids: Option<Vec<String>>,
    calibration: Option<crate::calibration::CalibrationArg>,
    cache_corruption: f64,
) -> Result<Value, Code> {
    let cal = crate::calibration::parse(calibration)?;
    let cache_corruption = whole("cacheCorruption", cache_corruption)?;
    let runs: Vec<StressRun> = runs
        .into_iter()
        .map(|r| StressRun {
            hard_score: r.hard_score,
            soft_score: r.soft_score,
            hard_pass: r.hard_pass,
            soft_pass: r.soft_pass,
            metrics: r.metrics.unwrap_or_default().into_iter().collect(),
            cases: r.cases.map(|cs| {
                cs.into_iter()
                    .map(|c| StressCase {
                        id: c.id,
                        hard_pass: c.hard_pass,
                        failed_checks: c.failed_checks,
                    })
                    .collect()
            }),
            outcome_faults: r.outcome_faults.map(|fs| {
                fs.into_iter()
                    .map(|f| StressOutcomeFault {
                        fault: f.fault,
                        caught: f.caught.and_then(|v| v.as_str().map(str::to_owned)),
                    })
                    .collect()
            }),
        })
        .collect();
    let verdict = gate_g4::judge_stress(&runs, case_ids.as_deref(), &cal, cache_corruption)
        .map_err(from_core)?;
    serde_json::to_value(verdict).map_err(internal)
}

/// Re-derives the PR-G4 verdict of a recorded `PR_REPORT.json` (parsed) from its per-run scores
/// with `calibration` (the run folder's `calibration.json`, parsed; null when it has none) and
/// compares every PR-G4 field. Never throws on bad input: `status` is `reproduced`, `differs`
/// (with `first_difference`, a JSON path) or `not_rederivable`; `line` is what to print.
#[napi(
    ts_args_type = "report: unknown, calibration?: unknown",
    ts_return_type = "StressRederivation"
)]
pub fn rederive_stress_verdict(report: Value, calibration: Option<Value>) -> Result<Value, Code> {
    let r = gate_g4::rederive(&report, calibration.as_ref());
    serde_json::to_value(r).map_err(internal)
}

/// Reads JSON text `text` (named `what` in errors) into `T`: `ERR_OMEGA_INVALID_ARGUMENT`
/// naming the field path (`journals[0].lines[3].record.hard_score`).
fn from_json_text<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T, Code> {
    let mut de = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            what.to_owned()
        } else {
            format!(
                "{what}{}{path}",
                if path.starts_with('[') { "" } else { "." }
            )
        };
        crate::error::invalid(&field, e.into_inner())
    })
}

/// The stress documents (core `derive::answer`): `requestJson` is the JSON text of one request —
/// `{"derive": {journals, generated, merge}}` (the documents of a run from its journal(s)),
/// `{"report": {meta, runs, run_cost, calls, cache_corruption, generated, rate_limit?}}`
/// (`PR_REPORT.json`), `{"merge_shards": {parts: [{report, run_cost, chaos_log}], generated}}`,
/// `{"merge_rate_limits": {parts}}`, `{"call_counts": {calls, requested_model}}`; returns the JSON text of the answer
/// (`{report, run_cost, chaos_log}` for `derive` and `merge_shards`). JSON text in and out, not
/// JS objects: the documents are written by `JSON.stringify` of what JS parses back (numbers, key
/// order and absent fields exactly as before), call indices above 2^32 stay numbers (napi's
/// serializer makes them BigInt), and a journal's `undefined` fields are absent as in the file.
/// Throws `ERR_OMEGA_MERGE` (shards that do not belong together, a run recorded twice),
/// `ERR_OMEGA_EMPTY_RUNS`, `ERR_OMEGA_INVALID_ARGUMENT` naming the field
/// (`request.derive.journals[0].lines[3].record.hard_score`), `ERR_OMEGA_CALIBRATION`.
#[napi(
    ts_args_type = "calibration: Calibration | CalibrationDocument | undefined | null, requestJson: string"
)]
pub fn stress_documents_json(
    calibration: Option<crate::calibration::CalibrationArg>,
    request_json: String,
) -> Result<String, Code> {
    let cal = crate::calibration::parse(calibration)?;
    let request: omega_pr_core::derive::StressRequest = from_json_text(&request_json, "request")?;
    omega_pr_core::derive::answer(&cal, request).map_err(from_core)
}
