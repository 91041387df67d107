//! `PR_REPORT.json` (runbook phase 5, gate PR-G4): the document's shape and its layout around the
//! PR-G4 fields of [`crate::gate_g4::judge_stress`] — provenance (`StressMeta`), provider call
//! counts, the cost block, calibration `rate_limits` at work, outcome chaos, and every run.
//!
//! Byte rules (the documents are written by `JSON.stringify` of what the core returns): keys in
//! the order of the fields below; maps the core builds are sorted as JavaScript sorts strings
//! (UTF-16 code units, [`js_sorted`]); maps read from a run (`metrics`) keep their order
//! ([`OrderedMap`]); `analysis`, `variance_violations` and `case_analysis` keep the sorted key
//! order they have always had ([`sorted_keys`]: they crossed to JS as a JSON value).

use std::cmp::Ordering;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::budget::RunCost;
use crate::calibration::Calibration;
use crate::cases::CaseReport;
use crate::error::Result;
use crate::gate_g4::{self, GateViolation, StressCase, StressOutcomeFault, StressRun};
use crate::variance::{DowngradeFlag, VarianceReport, Verdict};

/// Schema version of `PR_REPORT.json`.
pub const PR_REPORT_SCHEMA_VERSION: &str = "OMEGA-PR-REPORT-1.0";

/// A JSON object whose keys keep the order they were inserted (or read) in.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderedMap<V>(pub Vec<(String, V)>);

impl<V> Default for OrderedMap<V> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<V> OrderedMap<V> {
    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&V> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The entries, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &V)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    /// Whether there is no entry.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<V: Serialize> Serialize for OrderedMap<V> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for OrderedMap<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V2<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for V2<V> {
            type Value = OrderedMap<V>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let mut out: Vec<(String, V)> = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, V>()? {
                    // A repeated key keeps its first place and its last value (as JSON.parse).
                    match out.iter_mut().find(|(ok, _)| *ok == k) {
                        Some(slot) => slot.1 = v,
                        None => out.push((k, v)),
                    }
                }
                Ok(OrderedMap(out))
            }
        }
        d.deserialize_map(V2(std::marker::PhantomData))
    }
}

/// Compares strings as JavaScript's default `sort()` does (UTF-16 code units).
pub fn js_cmp(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// `entries` sorted by key as JavaScript sorts strings.
pub fn js_sorted<V>(mut entries: Vec<(String, V)>) -> OrderedMap<V> {
    entries.sort_by(|a, b| js_cmp(&a.0, &b.0));
    OrderedMap(entries)
}

/// JavaScript's `Math.round` (halves toward +∞).
pub fn js_round(x: f64) -> f64 {
    if !x.is_finite() {
        return x;
    }
    let f = x.floor();
    if x - f >= 0.5 {
        f + 1.0
    } else {
        f
    }
}

/// `Math.round(x * 10) / 10`.
pub fn round1(x: f64) -> f64 {
    js_round(x * 10.0) / 10.0
}

fn sort_value(v: Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, sort_value(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sort_value).collect()),
        other => other,
    }
}

/// Serializes `value` with every object's keys sorted (byte order), as a `serde_json::Value`
/// without `preserve_order` lays them out: the order the core's documents reached JS in when
/// they crossed as JSON values (`analysis`, `case_analysis`, `run-cost.json`).
pub fn sorted_keys<T: Serialize, S: Serializer>(
    value: &T,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    let v = serde_json::to_value(value).map_err(serde::ser::Error::custom)?;
    sort_value(v).serialize(s)
}

/// A field that may be absent, and `null` when present (`Some(None)`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> std::result::Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// `{"anyOf": [string, null]}` for a field that is null or a string (the journal's case outputs
/// use it too).
#[cfg(feature = "schema")]
pub(crate) fn nullable_string(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    // `const: null` (not `type: null`): the branch survives `absent_not_null`, which is right
    // for a field that may be absent and is null when present.
    schemars::json_schema!({"anyOf": [{"type": "string"}, {"const": null}]})
}

/// A shard of a stress run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "schema",
    schemars(rename = "ShardIndex", deny_unknown_fields)
)]
pub struct Shard {
    /// 1-based shard index.
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub index: u64,
    /// Shard count.
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub total: u64,
}

/// How a stress run was made (recorded in the report and in the journal header).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct StressMeta {
    /// `simulated` for the built-in provider, else the module's file name.
    #[cfg_attr(feature = "schema", schemars(length(min = 1)))]
    pub provider: String,
    /// The scorer's name.
    #[cfg_attr(feature = "schema", schemars(length(min = 1)))]
    pub scorer: String,
    /// Seed of the run.
    pub seed: u64,
    /// Chaos profile, or null: no chaos.
    pub chaos_profile: Option<String>,
    /// Runs in flight at once.
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub concurrency: u64,
    /// Scenes (or cases) per run.
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub scenes_per_run: u64,
    /// The model asked for.
    pub model: String,
    /// Runs planned for the whole stress run (all shards).
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub planned_runs: u64,
    /// `{ index, total }` for a shard, null for a whole (or merged) run.
    pub shard: Option<Shard>,
    /// Score at or above which the scorer passes a run, when known.
    pub hard_pass_score: Option<f64>,
    /// The engine module's name (`--engine`), or null for one call per case / scene.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "schema", schemars(schema_with = "nullable_string"))]
    pub engine: Option<Option<String>>,
    /// The cases file's name (`--input`), or null for the simulated scenes.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "schema", schemars(schema_with = "nullable_string"))]
    pub cases_file: Option<Option<String>>,
    /// Ids of the cases, in file order (per-case statistics follow it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_ids: Option<Vec<String>>,
}

/// The model asked for and the model names the provider answered with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "schema",
    schemars(rename = "ModelsSeen", deny_unknown_fields)
)]
pub struct ModelsSeen {
    /// The model asked for.
    pub requested: String,
    /// The model names the provider answered with (sorted).
    pub returned: Vec<String>,
}

/// Calls of `llm-judge` checks (not counted in `total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct JudgeCalls {
    /// Judge calls made.
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub total: u64,
    /// Of them, failed after retries.
    pub failed: u64,
}

/// Provider calls of a stress run: failed ones counted per error code (keys sorted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct CallCounts {
    /// Calls made.
    pub total: u64,
    /// Calls that failed (after retries).
    pub failed: u64,
    /// Retries the stack made.
    pub retries: u64,
    /// Failed calls per error code (`ERR_OMEGA_EMPTY_RESPONSE`, `ERR_OMEGA_PROVIDER_TIMEOUT`, …),
    /// keys sorted.
    #[cfg_attr(
        feature = "schema",
        schemars(with = "std::collections::BTreeMap<String, u64>")
    )]
    pub by_error: OrderedMap<u64>,
    /// One message per error code of `by_error` (the failed call's with the lowest call index):
    /// what the provider said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(with = "Option<std::collections::BTreeMap<String, String>>")
    )]
    pub error_samples: Option<OrderedMap<String>>,
    /// The model asked for, and the model names the provider answered with (sorted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub models: Option<ModelsSeen>,
    /// Calls of `llm-judge` checks (not in `total`): made, and failed after retries. Absent
    /// without any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge_calls: Option<JudgeCalls>,
}

/// The AIMD window of calls in flight: smallest, largest and last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct InFlight {
    /// Smallest window.
    pub min: u64,
    /// Largest window.
    pub max: u64,
    /// Last window (summed over merged shards).
    #[serde(rename = "final")]
    pub last: u64,
}

/// One calibration `rate_limits` key at work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct RateLimitEntryReport {
    /// Requests per minute (RPM) of the limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub requests_per_minute: Option<u64>,
    /// Tokens per minute (TPM) of the limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub tokens_per_minute: Option<u64>,
    /// Input tokens per minute (ITPM) of the limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub input_tokens_per_minute: Option<u64>,
    /// Output tokens per minute (OTPM) of the limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub output_tokens_per_minute: Option<u64>,
    /// Attempts admitted by the limiter.
    pub calls: u64,
    /// Time attempts waited for the limiter, summed over attempts (logical ms).
    pub throttled_ms: u64,
    /// Attempts that waited at all.
    pub throttled_calls: u64,
    /// 429 answers seen.
    pub responses_429: u64,
    /// 529 answers seen.
    pub responses_529: u64,
    /// Successful requests per minute, first admission to last answer.
    #[cfg_attr(feature = "schema", schemars(range(min = 0)))]
    pub effective_rpm: Option<f64>,
    /// Input tokens per minute achieved.
    #[cfg_attr(feature = "schema", schemars(range(min = 0)))]
    pub effective_input_tpm: Option<f64>,
    /// Output tokens per minute achieved.
    #[cfg_attr(feature = "schema", schemars(range(min = 0)))]
    pub effective_output_tpm: Option<f64>,
    /// The AIMD window of calls in flight.
    pub in_flight: InFlight,
}

/// Calibration `rate_limits` at work (present only when a limit applied to the run's models):
/// time throttled, 429/529 answers seen, effective requests per minute (wall-clock measurements,
/// recorded in the journal's `end` line).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct RateLimitReport {
    /// Time throttled, ms (all keys).
    pub throttled_ms: u64,
    /// Attempts throttled (all keys).
    pub throttled_calls: u64,
    /// 429 answers seen.
    pub responses_429: u64,
    /// 529 answers seen.
    pub responses_529: u64,
    /// Effective requests per minute (all keys).
    #[cfg_attr(feature = "schema", schemars(range(min = 0)))]
    pub effective_rpm: Option<f64>,
    /// Per calibration `rate_limits` key that applied.
    #[cfg_attr(
        feature = "schema",
        schemars(with = "std::collections::BTreeMap<String, RateLimitEntryReport>")
    )]
    pub limits: OrderedMap<RateLimitEntryReport>,
}

/// The cost block of the report (from `run-cost.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "schema",
    schemars(rename = "PrReportCost", deny_unknown_fields)
)]
pub struct CostSummary {
    /// Total settled cost, USD.
    #[cfg_attr(feature = "schema", schemars(range(min = 0)))]
    pub total_cost_usd: f64,
    /// `PASS`, or `FAIL` when there is any budget violation.
    #[cfg_attr(feature = "schema", schemars(extend("enum" = ["PASS", "FAIL"])))]
    pub budget_verdict: String,
    /// Budget violations.
    pub violations: u64,
}

/// Outcome faults of one type: delivered and caught.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct FaultDetection {
    /// Faults delivered.
    pub delivered: u64,
    /// Of them, caught.
    pub caught: u64,
    /// caught / delivered (null when none was delivered).
    pub detection_rate: Option<f64>,
}

/// Outcome chaos: faults delivered (answers that arrived corrupted) and how many were caught
/// (by the stack's retry, the engine, or a failed case or run).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "schema",
    schemars(rename = "OutcomeChaosReport", deny_unknown_fields)
)]
pub struct OutcomeChaos {
    /// Faults delivered.
    pub delivered: u64,
    /// Of them, caught.
    pub caught: u64,
    /// caught / delivered (null when none was delivered).
    #[cfg_attr(feature = "schema", schemars(range(min = 0, max = 1)))]
    pub detection_rate: Option<f64>,
    /// Per fault type (sorted).
    #[cfg_attr(
        feature = "schema",
        schemars(with = "std::collections::BTreeMap<String, FaultDetection>")
    )]
    pub by_fault: OrderedMap<FaultDetection>,
    /// Caught faults per catcher (`retry`, `engine`, `case_failed`, `run_failed`; sorted).
    #[cfg_attr(
        feature = "schema",
        schemars(with = "std::collections::BTreeMap<String, u64>")
    )]
    pub by_catcher: OrderedMap<u64>,
}

/// One case of one run, as the report lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct CaseRunRecord {
    /// Case id.
    pub id: String,
    /// Whether the case got an answer.
    pub ok: bool,
    /// Whether its hard checks passed.
    pub hard_pass: bool,
    /// Whether its soft checks passed.
    pub soft_pass: bool,
    /// Hard score.
    #[cfg_attr(feature = "schema", schemars(range(min = 0, max = 1)))]
    pub hard_score: f64,
    /// Soft score.
    #[cfg_attr(feature = "schema", schemars(range(min = 0, max = 1)))]
    pub soft_score: f64,
    /// Types of the checks that failed (`run_failed` first when the run failed).
    pub failed_checks: Vec<String>,
    /// Messages of the failed checks (`type: message`), absent when every check passed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failures: Option<Vec<String>>,
}

/// One outcome fault delivered in a run and what caught it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct OutcomeFaultRecord {
    /// Index of the call.
    pub call_index: u64,
    /// Attempt (1-based).
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub attempt: u64,
    /// The fault.
    #[cfg_attr(feature = "schema", schemars(extend("enum" = crate::outcome::ALL_OUTCOME_FAULTS)))]
    pub fault: String,
    /// `retry` (the stack retried past it), `engine` (the engine asked again), `case_failed`,
    /// `run_failed`, or null: accepted.
    #[cfg_attr(feature = "schema", schemars(extend("enum" = ["retry", "engine", "case_failed", "run_failed", null])))]
    pub caught: Option<String>,
}

/// One run as the report lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct RunRecord {
    /// The run.
    pub run_index: u64,
    /// Hard score.
    #[cfg_attr(feature = "schema", schemars(range(min = 0, max = 1)))]
    pub hard_score: f64,
    /// Soft score.
    #[cfg_attr(feature = "schema", schemars(range(min = 0, max = 1)))]
    pub soft_score: f64,
    /// Whether the hard gate passed.
    pub hard_pass: bool,
    /// Whether the soft gate passed.
    pub soft_pass: bool,
    /// Scenes (or cases) that failed.
    pub failed_scenes: u64,
    /// Provider attempts.
    pub attempts: u64,
    /// Latency, ms.
    #[cfg_attr(feature = "schema", schemars(range(min = 0)))]
    pub latency_ms: f64,
    /// Cost, USD.
    #[cfg_attr(feature = "schema", schemars(range(min = 0)))]
    pub cost_usd: f64,
    /// Metrics (`latency_ms`, `cost_usd`, then the scorer's), in the run's order.
    #[cfg_attr(
        feature = "schema",
        schemars(with = "std::collections::BTreeMap<String, f64>")
    )]
    pub metrics: OrderedMap<f64>,
    /// The run failed as a whole (engine threw, timed out, returned nothing; scorer threw;
    /// budget exceeded): why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Per-case results (runs of a cases file or an engine).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cases: Option<Vec<CaseRunRecord>>,
    /// Outcome faults delivered to this run and who caught them (chaos profiles with
    /// `outcome_faults`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome_faults: Option<Vec<OutcomeFaultRecord>>,
}

impl RunRecord {
    /// What the PR-G4 verdict reads of the run.
    pub fn to_stress_run(&self) -> StressRun {
        StressRun {
            hard_score: self.hard_score,
            soft_score: self.soft_score,
            hard_pass: self.hard_pass,
            soft_pass: self.soft_pass,
            metrics: self.metrics.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            cases: self.cases.as_ref().map(|cs| {
                cs.iter()
                    .map(|c| StressCase {
                        id: c.id.clone(),
                        hard_pass: c.hard_pass,
                        failed_checks: c.failed_checks.clone(),
                    })
                    .collect()
            }),
            outcome_faults: self.outcome_faults.as_ref().map(|fs| {
                fs.iter()
                    .map(|f| StressOutcomeFault {
                        fault: f.fault.clone(),
                        caught: f.caught.clone(),
                    })
                    .collect()
            }),
        }
    }
}

/// `PR_REPORT.json`: the runbook's fields first (the PR-G4 verdict), then provenance, calls,
/// cost, the core's statistics, and every run.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct PrReport {
    /// Always `OMEGA-PR-REPORT-1.0` ([`PR_REPORT_SCHEMA_VERSION`]).
    #[cfg_attr(feature = "schema", schemars(extend("const" = PR_REPORT_SCHEMA_VERSION)))]
    pub schema_version: String,
    /// Gate PR-G4: `variance_verdict` PASS and 0 cache corruption.
    pub verdict: Verdict,
    /// Number of runs.
    pub total_runs: u64,
    /// Fraction of runs whose hard gate passed.
    #[cfg_attr(feature = "schema", schemars(range(min = 0, max = 1)))]
    pub hard_pass_rate: f64,
    /// PASS when the hard pass rate reaches `PASS_RATIO_MIN`, no case is under `CASE_PASS_MIN`
    /// and no outcome fault type is caught less often than `OUTCOME_DETECTION_MIN`.
    pub variance_verdict: Verdict,
    /// Envelope violations, then the cases under `CASE_PASS_MIN`, then the outcome fault types
    /// caught too rarely.
    #[serde(serialize_with = "sorted_keys")]
    pub variance_violations: Vec<GateViolation>,
    /// `DOWNGRADE_VARIANCE` when the variance verdict passes but an envelope is violated.
    pub downgrade_flag: Option<DowngradeFlag>,
    /// Corrupted answers-cache entries.
    pub cache_corruption: u64,
    /// Report time (from `SOURCE_DATE_EPOCH` when set).
    #[cfg_attr(feature = "schema", schemars(extend("format" = "date-time")))]
    pub generated: String,
    /// `simulated` for the built-in provider, else the module's file name.
    #[cfg_attr(feature = "schema", schemars(length(min = 1)))]
    pub provider: String,
    /// The scorer's name.
    #[cfg_attr(feature = "schema", schemars(length(min = 1)))]
    pub scorer: String,
    /// Seed of the run.
    pub seed: u64,
    /// Chaos profile, or null: no chaos.
    pub chaos_profile: Option<String>,
    /// Runs in flight at once.
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub concurrency: u64,
    /// Scenes (or cases) per run.
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub scenes_per_run: u64,
    /// The model asked for.
    pub model: String,
    /// Runs planned for the whole stress run (all shards).
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub planned_runs: u64,
    /// `{ index, total }` for a shard, null for a whole (or merged) run.
    pub shard: Option<Shard>,
    /// Score at or above which the scorer passes a run, when known.
    pub hard_pass_score: Option<f64>,
    /// The engine module (`--engine`), or null: one call per case / the simulated scenes.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(schema_with = "nullable_string"))]
    pub engine: Option<Option<String>>,
    /// The cases file (`--input`), or null.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(schema_with = "nullable_string"))]
    pub cases_file: Option<Option<String>>,
    /// Ids of the cases, in file order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case_ids: Option<Vec<String>>,
    /// Provider calls.
    pub calls: CallCounts,
    /// Calibration `rate_limits` at work (only when a limit applied).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimitReport>,
    /// The money (from `run-cost.json`).
    pub cost: CostSummary,
    /// The variance analysis (statistics per metric, intervals, pass^k).
    #[serde(serialize_with = "sorted_keys")]
    pub analysis: VarianceReport,
    /// Per-case statistics (runs of a cases file or an engine).
    #[serde(serialize_with = "sorted_opt", skip_serializing_if = "Option::is_none")]
    pub case_analysis: Option<CaseReport>,
    /// Outcome chaos: faults delivered and how many were caught.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome_chaos: Option<OutcomeChaos>,
    /// Every run, in run order.
    pub runs: Vec<RunRecord>,
}

fn sorted_opt<T: Serialize, S: Serializer>(
    value: &Option<T>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    sorted_keys(value, s)
}

impl PrReport {
    /// The report's meta (provenance) fields.
    pub fn meta(&self) -> StressMeta {
        StressMeta {
            provider: self.provider.clone(),
            scorer: self.scorer.clone(),
            seed: self.seed,
            chaos_profile: self.chaos_profile.clone(),
            concurrency: self.concurrency,
            scenes_per_run: self.scenes_per_run,
            model: self.model.clone(),
            planned_runs: self.planned_runs,
            shard: self.shard,
            hard_pass_score: self.hard_pass_score,
            engine: self.engine.clone(),
            cases_file: self.cases_file.clone(),
            case_ids: self.case_ids.clone(),
        }
    }
}

/// What [`build_pr_report`] lays out.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ReportInputs {
    /// How the runs were made.
    pub meta: StressMeta,
    /// The runs, in run order.
    pub runs: Vec<RunRecord>,
    /// The run's `run-cost.json`.
    pub run_cost: RunCost,
    /// Provider call counts.
    pub calls: CallCounts,
    /// Corrupted answers-cache entries.
    pub cache_corruption: u64,
    /// Report time.
    pub generated: String,
    /// The rate limiter's figures (none: no `rate_limit` block).
    #[serde(default)]
    pub rate_limit: Option<RateLimitReport>,
}

/// Lays out `PR_REPORT.json`: the PR-G4 fields are [`gate_g4::judge_stress`]'s (variance and
/// per-case statistics, the verdict), then the meta, calls, rate limits, cost, analyses, runs.
pub fn build_pr_report(inputs: ReportInputs, calibration: &Calibration) -> Result<PrReport> {
    let ReportInputs {
        meta,
        runs,
        run_cost,
        calls,
        cache_corruption,
        generated,
        rate_limit,
    } = inputs;
    let stress: Vec<StressRun> = runs.iter().map(RunRecord::to_stress_run).collect();
    let g4 = gate_g4::judge_stress(
        &stress,
        meta.case_ids.as_deref(),
        calibration,
        cache_corruption,
    )?;
    let outcome_chaos = outcome_chaos(&runs);
    Ok(PrReport {
        schema_version: PR_REPORT_SCHEMA_VERSION.to_owned(),
        verdict: g4.verdict,
        total_runs: g4.total_runs,
        hard_pass_rate: g4.hard_pass_rate,
        variance_verdict: g4.variance_verdict,
        variance_violations: g4.variance_violations,
        downgrade_flag: g4.downgrade_flag,
        cache_corruption: g4.cache_corruption,
        generated,
        provider: meta.provider,
        scorer: meta.scorer,
        seed: meta.seed,
        chaos_profile: meta.chaos_profile,
        concurrency: meta.concurrency,
        scenes_per_run: meta.scenes_per_run,
        model: meta.model,
        planned_runs: meta.planned_runs,
        shard: meta.shard,
        hard_pass_score: meta.hard_pass_score,
        engine: meta.engine,
        cases_file: meta.cases_file,
        case_ids: meta.case_ids,
        calls,
        rate_limit,
        cost: CostSummary {
            total_cost_usd: run_cost.total_cost_usd,
            budget_verdict: run_cost.budget_verdict.clone(),
            violations: run_cost.violations.len() as u64,
        },
        analysis: g4.analysis,
        case_analysis: g4.case_analysis,
        outcome_chaos,
        runs,
    })
}

/// Counts the outcome faults of the runs (independent of run order: shards merge exactly);
/// none when no run records outcome faults.
pub fn outcome_chaos(runs: &[RunRecord]) -> Option<OutcomeChaos> {
    if !runs.iter().any(|r| r.outcome_faults.is_some()) {
        return None;
    }
    let mut by_fault: Vec<(String, (u64, u64))> = Vec::new();
    let mut by_catcher: Vec<(String, u64)> = Vec::new();
    let (mut delivered, mut caught) = (0u64, 0u64);
    for f in runs.iter().flat_map(|r| r.outcome_faults.iter().flatten()) {
        let i = match by_fault.iter().position(|(k, _)| *k == f.fault) {
            Some(i) => i,
            None => {
                by_fault.push((f.fault.clone(), (0, 0)));
                by_fault.len() - 1
            }
        };
        by_fault[i].1 .0 += 1;
        delivered += 1;
        if let Some(c) = &f.caught {
            by_fault[i].1 .1 += 1;
            caught += 1;
            match by_catcher.iter_mut().find(|(k, _)| k == c) {
                Some(e) => e.1 += 1,
                None => by_catcher.push((c.clone(), 1)),
            }
        }
    }
    let rate = |d: u64, c: u64| (d != 0).then(|| c as f64 / d as f64);
    Some(OutcomeChaos {
        delivered,
        caught,
        detection_rate: rate(delivered, caught),
        by_fault: js_sorted(
            by_fault
                .into_iter()
                .map(|(k, (d, c))| {
                    (
                        k,
                        FaultDetection {
                            delivered: d,
                            caught: c,
                            detection_rate: rate(d, c),
                        },
                    )
                })
                .collect(),
        ),
        by_catcher: js_sorted(by_catcher),
    })
}

fn sum_rates(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (None, b) => b,
        (a, None) => a,
        (Some(a), Some(b)) => Some(round1(a + b)),
    }
}

/// Adds up the `rate_limit` blocks of shards that ran at once (counters and rates summed, the
/// rates rounded to 0.1 after each sum, in the order given); none when no part has one.
pub fn merge_rate_limit_reports<'a>(
    parts: impl IntoIterator<Item = &'a RateLimitReport>,
) -> Option<RateLimitReport> {
    let mut out: Option<RateLimitReport> = None;
    let mut limits: Vec<(String, RateLimitEntryReport)> = Vec::new();
    for p in parts {
        let o = out.get_or_insert_with(|| RateLimitReport {
            throttled_ms: 0,
            throttled_calls: 0,
            responses_429: 0,
            responses_529: 0,
            effective_rpm: None,
            limits: OrderedMap::default(),
        });
        o.throttled_ms += p.throttled_ms;
        o.throttled_calls += p.throttled_calls;
        o.responses_429 += p.responses_429;
        o.responses_529 += p.responses_529;
        o.effective_rpm = sum_rates(o.effective_rpm, p.effective_rpm);
        for (k, e) in p.limits.iter() {
            let Some((_, prev)) = limits.iter_mut().find(|(pk, _)| pk == k) else {
                limits.push((k.clone(), e.clone()));
                continue;
            };
            let add = |a: Option<u64>, b: Option<u64>| match b {
                Some(b) => Some(a.unwrap_or(0) + b),
                None => a,
            };
            prev.requests_per_minute = add(prev.requests_per_minute, e.requests_per_minute);
            prev.tokens_per_minute = add(prev.tokens_per_minute, e.tokens_per_minute);
            prev.input_tokens_per_minute =
                add(prev.input_tokens_per_minute, e.input_tokens_per_minute);
            prev.output_tokens_per_minute =
                add(prev.output_tokens_per_minute, e.output_tokens_per_minute);
            prev.calls += e.calls;
            prev.throttled_ms += e.throttled_ms;
            prev.throttled_calls += e.throttled_calls;
            prev.responses_429 += e.responses_429;
            prev.responses_529 += e.responses_529;
            prev.effective_rpm = sum_rates(prev.effective_rpm, e.effective_rpm);
            prev.effective_input_tpm = sum_rates(prev.effective_input_tpm, e.effective_input_tpm);
            prev.effective_output_tpm =
                sum_rates(prev.effective_output_tpm, e.effective_output_tpm);
            prev.in_flight = InFlight {
                min: prev.in_flight.min.min(e.in_flight.min),
                max: prev.in_flight.max.max(e.in_flight.max),
                last: prev.in_flight.last + e.in_flight.last,
            };
        }
    }
    out.map(|mut o| {
        o.limits = js_sorted(limits);
        o
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on a broken fixture
mod tests {
    use super::*;

    #[test]
    fn js_round_matches_math_round() {
        assert_eq!(js_round(2.5), 3.0);
        assert_eq!(js_round(-2.5), -2.0);
        assert_eq!(js_round(0.49999999999999994), 0.0);
        assert_eq!(round1(12.345), 12.3);
    }

    #[test]
    fn js_cmp_sorts_by_utf16_units() {
        // U+FF5E (one unit 0xFF5E) sorts after U+1F600 (surrogates 0xD83D…) in JS.
        let m = js_sorted(vec![
            ("\u{FF5E}".to_owned(), 1),
            ("\u{1F600}".to_owned(), 2),
        ]);
        assert_eq!(m.0[0].0, "\u{1F600}");
    }

    #[test]
    fn ordered_map_keeps_order() {
        let m: OrderedMap<u64> = serde_json::from_str(r#"{"b":1,"a":2,"b":3}"#).unwrap();
        assert_eq!(serde_json::to_string(&m).unwrap(), r#"{"b":3,"a":2}"#);
    }

    #[test]
    fn meta_keeps_absent_and_null_apart() {
        let m: StressMeta = serde_json::from_str(
            r#"{"provider":"p","scorer":"s","seed":1,"chaos_profile":null,"concurrency":1,"scenes_per_run":1,"model":"m","planned_runs":1,"shard":null,"hard_pass_score":null,"engine":null}"#,
        )
        .unwrap();
        assert_eq!(m.engine, Some(None));
        assert_eq!(m.cases_file, None);
        let text = serde_json::to_string(&m).unwrap();
        assert!(text.ends_with(r#""hard_pass_score":null,"engine":null}"#));
    }

    fn fault(f: &str, caught: Option<&str>) -> OutcomeFaultRecord {
        OutcomeFaultRecord {
            call_index: 0,
            attempt: 1,
            fault: f.into(),
            caught: caught.map(str::to_owned),
        }
    }

    #[test]
    fn outcome_chaos_counts_and_sorts() {
        let run = |faults: Vec<OutcomeFaultRecord>| RunRecord {
            run_index: 0,
            hard_score: 1.0,
            soft_score: 1.0,
            hard_pass: true,
            soft_pass: true,
            failed_scenes: 0,
            attempts: 1,
            latency_ms: 0.0,
            cost_usd: 0.0,
            metrics: OrderedMap::default(),
            error: None,
            cases: None,
            outcome_faults: Some(faults),
        };
        let runs = vec![
            run(vec![
                fault("truncated", Some("retry")),
                fault("refusal", None),
            ]),
            run(vec![fault("refusal", Some("engine"))]),
        ];
        let oc = outcome_chaos(&runs).unwrap();
        assert_eq!(
            serde_json::to_string(&oc).unwrap(),
            r#"{"delivered":3,"caught":2,"detection_rate":0.6666666666666666,"by_fault":{"refusal":{"delivered":2,"caught":1,"detection_rate":0.5},"truncated":{"delivered":1,"caught":1,"detection_rate":1.0}},"by_catcher":{"engine":1,"retry":1}}"#
        );
        let mut rev = runs.clone();
        rev.reverse();
        assert_eq!(outcome_chaos(&rev), Some(oc));
    }
}
