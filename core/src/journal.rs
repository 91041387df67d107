//! The lines of the run journal (`journal.jsonl`, docs/JOURNAL.md): the one description of its
//! format. The TS layer writes these lines (their TS types are generated from the schemas
//! `journal-header`, `journal-run-line`, `journal-late-line` and `journal-end-line`, derived from
//! these structs by `schemars`); [`derive`] reads them.
//!
//! The reader is lenient: a field [`derive`] does not use is read as any JSON value (or not at
//! all), so a line never fails to parse for it; the schema still gives its precise type
//! (`schemars(with = …)`).
//!
//! [`derive`]: crate::derive::derive

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::budget::LedgerEntry;
pub use crate::chaos::ChaosEntryInput;
#[cfg(feature = "schema")]
use crate::chaos::DeliveredFault;
use crate::pr_report::{JudgeCalls, RateLimitReport, RunRecord, StressMeta};

/// `sha256:<hex>` digests of the inputs that determine a run's result (absent: not a file / not
/// used). `derive` reads only `calibration`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct JournalDigests {
    /// The calibration document (its JSON text as loaded).
    pub calibration: String,
    /// The cases file's bytes (or the cases document's JSON when not given as a file).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub cases: Option<Value>,
    /// The engine module file.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub engine: Option<Value>,
    /// The provider module file.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub provider: Option<Value>,
    /// The scorer module file.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub scorer: Option<Value>,
}

/// The first line of a journal: the options and digests that determine the result. `derive`
/// reads `meta` and `digests`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct JournalHeader {
    /// Always `header`.
    #[serde(rename = "type")]
    #[cfg_attr(
        feature = "schema",
        schemars(with = "String", extend("const" = "header"))
    )]
    pub line_type: Option<Value>,
    /// Schema id of the journal: `OMEGA-PR-JOURNAL-1`.
    #[cfg_attr(
        feature = "schema",
        schemars(with = "String", extend("const" = "OMEGA-PR-JOURNAL-1"))
    )]
    pub schema: Option<Value>,
    /// Version of omega-pr that wrote the journal.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub omega_pr_version: Option<Value>,
    /// How the runs were made: exactly what `PR_REPORT.json` records (seed, count, profile,
    /// model, shard, names, case ids, …).
    pub meta: StressMeta,
    /// `scenes` (simulated scenes), `cases` (one call per case) or `engine` (the user's engine).
    #[cfg_attr(
        feature = "schema",
        schemars(
            with = "String",
            extend("enum" = ["scenes", "cases", "engine"])
        )
    )]
    pub mode: Option<Value>,
    /// Whether the user's scorer judged the runs (else the cases' / engine's checks, or the
    /// simulated scorer).
    #[cfg_attr(feature = "schema", schemars(with = "bool"))]
    pub user_scorer: Option<Value>,
    /// Digests of the inputs.
    pub digests: JournalDigests,
}

/// A string field read leniently: anything but a string is absent (as `typeof x === 'string'`).
fn lenient_string<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => Some(s),
        _ => None,
    })
}

/// Usage of an answer as the provider reported it (camelCase, as the TS layer's `TokenUsage`).
#[cfg(feature = "schema")]
#[derive(schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "JournalTokenUsage")]
pub struct TokenUsageShape {
    /// All prompt tokens.
    pub input_tokens: f64,
    /// Of which read from the provider's prompt cache.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cached_input_tokens: Option<f64>,
    /// Of which written to the provider's prompt cache.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_write_tokens: Option<f64>,
    /// Of the cache-write tokens, those written with a 1-hour TTL (the rest: 5 minutes).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(rename = "cacheWrite1hTokens")]
    pub cache_write_1h_tokens: Option<f64>,
    /// All completion tokens.
    pub output_tokens: f64,
    /// Of which reasoning tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_tokens: Option<f64>,
}

/// One provider call of a run (a logical call: its attempts and retries folded in). `derive`
/// reads `call_index`, `retries`, `ok`, `error_code`, `error_message` and `model`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct JournalCall {
    /// The call's index.
    pub call_index: u64,
    /// Scene (or case) of the call.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub scene_id: Option<Value>,
    /// Attempts made.
    #[cfg_attr(feature = "schema", schemars(with = "u64"))]
    pub attempts: Option<Value>,
    /// Retries the stack made for this call (counted in `PR_REPORT.calls.retries`).
    pub retries: u64,
    /// Whether the call succeeded.
    pub ok: bool,
    /// Code of the error (failed calls).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// Message of the error (failed calls).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// The model the provider answered with (ok calls).
    #[serde(
        default,
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub model: Option<String>,
    /// Usage of the answer (ok calls), as the provider reported it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<TokenUsageShape>"))]
    pub usage: Option<Value>,
    /// The answer the caller saw (ok calls; after outcome faults).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub text: Option<Value>,
    /// Cost of the answer, µUSD (0 when failed).
    #[cfg_attr(feature = "schema", schemars(with = "f64"))]
    pub cost_micro_usd: Option<Value>,
    /// Latency of the call, ms.
    #[cfg_attr(feature = "schema", schemars(with = "f64"))]
    pub latency_ms: Option<Value>,
    /// Key the answer was written under in the answers cache.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub cache_key: Option<Value>,
    /// The cache write failed (always `true` when present).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<bool>", extend("const" = true)))]
    pub cache_error: Option<Value>,
}

/// One outcome fault delivered, as the run recorded it (its key order is the document's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveredFaultRecord {
    /// Index of the call.
    pub call_index: u64,
    /// Attempt (1-based).
    pub attempt: u64,
    /// The fault.
    pub fault: String,
    /// Always true.
    pub delivered: bool,
    /// Scene of the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scene_id: Option<String>,
    /// Extra delay of a latency spike, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
}

/// Chaos decisions of a run's calls and the outcome faults delivered to it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct JournalChaos {
    /// The chaos-log inputs.
    pub entries: Vec<ChaosEntryInput>,
    /// Outcome faults delivered.
    #[cfg_attr(feature = "schema", schemars(with = "Vec<DeliveredFault>"))]
    pub delivered: Vec<DeliveredFaultRecord>,
}

/// Result of a check computed in JavaScript (`json-schema`, `js`), by its index in the case's
/// `assert`.
#[cfg(feature = "schema")]
#[derive(schemars::JsonSchema)]
#[schemars(rename = "JournalExternalCheck", deny_unknown_fields)]
pub struct ExternalCheckShape {
    /// Index of the check in the case's `assert`.
    pub index: u32,
    /// Whether it passed.
    pub pass: bool,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// One of the engine's own checks of a case (its parser, validators, …).
#[cfg(feature = "schema")]
#[derive(schemars::JsonSchema)]
#[schemars(rename = "JournalEngineCheck", deny_unknown_fields)]
pub struct EngineCheckShape {
    /// Name of the check.
    pub name: String,
    /// Whether it passed.
    pub pass: bool,
    /// `hard` (default) or `soft`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["hard", "soft"]))]
    pub level: Option<String>,
    /// Weight (default 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<f64>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// What the scoring saw for one case of a run (cases or engine runs).
#[cfg(feature = "schema")]
#[derive(schemars::JsonSchema)]
#[schemars(rename = "JournalCaseOutput", deny_unknown_fields)]
pub struct CaseOutputShape {
    /// Case id.
    pub id: String,
    /// The answer judged (null: none).
    #[schemars(schema_with = "crate::pr_report::nullable_string")]
    pub text: Option<String>,
    /// Why there is no answer (null: there is one).
    #[schemars(schema_with = "crate::pr_report::nullable_string")]
    pub error: Option<String>,
    /// Latency of the case's calls, ms.
    pub latency_ms: f64,
    /// Cost of the case's calls, USD.
    pub cost_usd: f64,
    /// Results of the checks computed in JavaScript (`json-schema`, `js`).
    pub external: Vec<ExternalCheckShape>,
    /// The engine's own checks for this case.
    pub engine_checks: Vec<EngineCheckShape>,
}

/// A scorer's verdict on one run (camelCase, as the TS layer's `RunScore`).
#[cfg(feature = "schema")]
#[derive(schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "JournalRunScore")]
pub struct RunScoreShape {
    /// Hard score in [0, 1].
    pub hard_score: f64,
    /// Soft score in [0, 1].
    pub soft_score: f64,
    /// Whether the run passes the hard gate.
    pub hard_pass: bool,
    /// Whether the run passes the soft gate.
    pub soft_pass: bool,
    /// Extra metrics of the run (checked against `VARIANCE_ENVELOPES` when named there).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics: Option<std::collections::BTreeMap<String, f64>>,
}

/// The recorded inputs of a run's scoring (what a replay re-scores).
#[cfg(feature = "schema")]
#[derive(schemars::JsonSchema)]
#[schemars(rename = "JournalOutputs", deny_unknown_fields)]
pub struct OutputsShape {
    /// Per case (cases or engine runs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cases: Option<Vec<CaseOutputShape>>,
    /// What the scorer returned (the user's scorer, or the simulated one for scenes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<RunScoreShape>,
    /// Why the run failed as a whole before scoring (engine threw, budget, output shape).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_error: Option<String>,
}

/// One finished run. `derive` reads all but `outputs` (what a replay re-scores).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct JournalRunLine {
    /// Always `run` (read as the tag of [`JournalLine`]).
    #[serde(rename = "type")]
    #[cfg_attr(
        feature = "schema",
        schemars(with = "String", extend("const" = "run"))
    )]
    pub line_type: Option<Value>,
    /// The run.
    pub run_index: u64,
    /// The run as `PR_REPORT.json` lists it.
    pub record: RunRecord,
    /// Its provider calls.
    pub calls: Vec<JournalCall>,
    /// The recorded inputs of the run's scoring.
    #[cfg_attr(feature = "schema", schemars(with = "OutputsShape"))]
    pub outputs: Option<Value>,
    /// Budget ledger entries of its calls (what `run-cost.json` sums).
    pub ledger: Vec<LedgerEntry>,
    /// Present with a chaos profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chaos: Option<JournalChaos>,
    /// `llm-judge` calls of the run (counted apart from its calls), when it made any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge_calls: Option<JudgeCalls>,
}

/// Calls of a finished run that ended after its line was written (an engine that timed out).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct JournalLateLine {
    /// Always `late` (read as the tag of [`JournalLine`]).
    #[serde(rename = "type")]
    #[cfg_attr(
        feature = "schema",
        schemars(with = "String", extend("const" = "late"))
    )]
    pub line_type: Option<Value>,
    /// The run.
    pub run_index: u64,
    /// The calls.
    pub calls: Vec<JournalCall>,
    /// Their ledger entries.
    pub ledger: Vec<LedgerEntry>,
    /// Their chaos decisions (with a chaos profile).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chaos: Option<JournalChaos>,
}

/// The last line of a complete run: the final check of the answers cache.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct JournalEndLine {
    /// Always `end` (read as the tag of [`JournalLine`]).
    #[serde(rename = "type")]
    #[cfg_attr(
        feature = "schema",
        schemars(with = "String", extend("const" = "end"))
    )]
    pub line_type: Option<Value>,
    /// Corrupt entries the final check of the answers cache found.
    pub cache_corruption: u64,
    /// The rate limiter's figures of the process that finished the run (calibration
    /// `rate_limits`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimitReport>,
}

/// Any line after the header, by its `type` (each variant has its schema: `journal-run-line`,
/// `journal-late-line`, `journal-end-line`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[allow(clippy::large_enum_variant)] // most lines are runs: boxing them would only allocate more
pub enum JournalLine {
    /// A finished run.
    Run(JournalRunLine),
    /// Late calls of a finished run.
    Late(JournalLateLine),
    /// The end.
    End(JournalEndLine),
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on a broken fixture
mod tests {
    use super::*;
    use serde_json::json;

    /// A call with only what `derive` reads.
    fn bare_call() -> Value {
        json!({"call_index": 3, "retries": 0, "ok": true})
    }

    #[test]
    fn a_line_with_only_what_derive_reads_parses() {
        let line: JournalLine = serde_json::from_value(json!({
            "type": "late", "run_index": 1, "calls": [bare_call()], "ledger": []
        }))
        .unwrap();
        let JournalLine::Late(late) = line else {
            panic!("a late line")
        };
        assert_eq!(late.calls[0].call_index, 3);
        assert_eq!(late.calls[0].scene_id, None);
        assert_eq!(late.line_type, None, "the tag is the enum's");
    }

    #[test]
    fn fields_derive_does_not_use_never_fail_a_line() {
        let mut call = bare_call();
        for (k, v) in [
            ("scene_id", json!(7)),
            ("attempts", json!("two")),
            ("usage", json!([1])),
            ("text", json!({"x": 1})),
            ("cost_micro_usd", json!(null)),
            ("latency_ms", json!("slow")),
            ("cache_key", json!(false)),
            ("cache_error", json!("yes")),
            ("model", json!(42)),
        ] {
            call[k] = v;
        }
        let call: JournalCall = serde_json::from_value(call).unwrap();
        assert_eq!(call.model, None, "a model that is not a string is absent");
        let header: JournalHeader = serde_json::from_value(json!({
            "type": 1, "schema": null, "omega_pr_version": [], "mode": 3, "user_scorer": "no",
            "meta": {
                "provider": "simulated", "scorer": "simulated", "seed": 7, "chaos_profile": null,
                "concurrency": 1, "scenes_per_run": 3, "model": "m", "planned_runs": 1,
                "shard": null, "hard_pass_score": null
            },
            "digests": {"calibration": "sha256:00", "cases": 1, "engine": {}}
        }))
        .unwrap();
        assert_eq!(header.digests.calibration, "sha256:00");
    }
}
