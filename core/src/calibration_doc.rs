//! The shape of `budgets/calibration.json` as a document: the source of
//! `schemas/calibration.schema.json` and of the TS type `CalibrationDocument` (both generated,
//! with the `schema` feature, by `bash scripts/gen-schemas.sh`).
//!
//! [`crate::calibration`] validates a calibration by walking the JSON (every problem at once,
//! each with its path, with typo hints); this module only describes the document it accepts, with
//! the same bounds, so that editors, CI and TypeScript see one contract. A test deserializes the
//! shipped calibration into [`CalibrationDocument`] (unknown keys refused) and back: a key added
//! to the checker and to the shipped file but not here fails it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::faults::FailureType;
use crate::variance::EnvelopeStatistic;

/// `budgets/calibration.json`: every threshold of the PR sprint. Complete, zero nulls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CalibrationDocument {
    /// Optional (editors use it); when present a non-empty string, never null.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(length(min = 1)))]
    pub schema: Option<String>,
    /// Free text.
    #[serde(rename = "$comment", default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(length(min = 1)))]
    pub comment: Option<String>,
    /// Always `OMEGA-CALIBRATION-1.0`.
    #[cfg_attr(feature = "schema", schemars(extend("const" = crate::calibration::SCHEMA_VERSION)))]
    pub schema_version: String,
    /// Seed of every seeded decision (default 42).
    #[serde(rename = "SEED")]
    #[cfg_attr(feature = "schema", schemars(range(max = crate::calibration::MAX_SEED)))]
    pub seed: u64,
    /// Default N of stress100.
    #[serde(rename = "STRESS_COUNT")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 1_000_000)))]
    pub stress_count: u32,
    /// Gate PR-G4: minimum hard pass rate.
    #[serde(rename = "PASS_RATIO_MIN")]
    #[cfg_attr(feature = "schema", schemars(range(min = 0, max = 1)))]
    pub pass_ratio_min: f64,
    /// The k values for which pass^k is reported.
    #[serde(rename = "PASS_K")]
    #[cfg_attr(
        feature = "schema",
        schemars(length(min = 1), inner(range(min = 1, max = 1000)))
    )]
    pub pass_k: Vec<u32>,
    /// Optional per-case floor of gate PR-G4 (stress --input): a case whose pass rate is below it
    /// is named in variance_violations.
    #[serde(
        rename = "CASE_PASS_MIN",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "schema", schemars(range(min = 0, max = 1)))]
    pub case_pass_min: Option<f64>,
    /// Optional outcome-chaos threshold: each outcome fault type delivered (but `latency_spike`)
    /// whose detection rate is below it fails the gate (PR-G3 for `chaos`, a variance violation for
    /// `stress`).
    #[serde(
        rename = "OUTCOME_DETECTION_MIN",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "schema", schemars(range(min = 0, max = 1)))]
    pub outcome_detection_min: Option<f64>,
    /// Optional per-model rate limits (the providers' RPM / TPM / ITPM / OTPM), enforced before each
    /// attempt by token buckets in the core: never more than the limit in any minute; calls in
    /// flight follow an AIMD window (additive increase, halved on 429/529, retry-after honoured).
    /// Key: a model name, or a prefix pattern ending in `*` (matched like prices).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(extend("propertyNames" = {"minLength": 1, "not": {"const": "*"}})))]
    pub rate_limits: Option<BTreeMap<String, CalibrationRateLimits>>,
    /// Time a cache writer waits for the lock before `ERR_OMEGA_LOCK_TIMEOUT`, ms.
    #[serde(rename = "LOCK_TIMEOUT_MS")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 3_600_000)))]
    pub lock_timeout_ms: u64,
    /// Durability of the atomic cache's writes.
    #[serde(rename = "CACHE_DURABILITY")]
    pub cache_durability: CacheDurability,
    /// Injection rate when chaos is on without a named profile (all failure types).
    #[serde(rename = "CHAOS_RATE")]
    #[cfg_attr(feature = "schema", schemars(range(min = 0, max = 1)))]
    pub chaos_rate: f64,
    /// Named chaos profiles.
    #[cfg_attr(feature = "schema", schemars(extend("minProperties" = 1)))]
    pub chaos_profiles: BTreeMap<String, CalibrationChaosProfile>,
    /// Parameters of injected faults.
    pub chaos_faults: CalibrationChaosFaults,
    /// Retry policy.
    pub retry: CalibrationRetry,
    /// Budget limits and prices.
    pub budget: CalibrationBudget,
    /// Variance envelopes per metric.
    #[serde(rename = "VARIANCE_ENVELOPES")]
    pub variance_envelopes: BTreeMap<String, CalibrationEnvelope>,
    /// Proofpack settings.
    pub proofpack: CalibrationProofpack,
    /// Largest provider answer accepted, bytes of UTF-8 text (default 4194304 = 4 MiB). A larger
    /// answer becomes the fault ERR_OMEGA_RESPONSE_TOO_LARGE (not retryable), is logged, and is
    /// never kept or cached.
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = crate::calibration::MAX_MAX_RESPONSE_BYTES)))]
    pub max_response_bytes: u64,
}

/// Durability of the atomic cache's writes: `full` (fsync) or `none`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum CacheDurability {
    /// fsync the temp file and the directory after rename.
    Full,
    /// No fsync (regenerable caches).
    None,
}

/// A chaos profile of the calibration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CalibrationChaosProfile {
    /// Probability that a call gets a fault.
    #[cfg_attr(feature = "schema", schemars(range(min = 0, max = 1)))]
    pub rate: f64,
    /// The faults drawn from.
    #[cfg_attr(feature = "schema", schemars(length(min = 1), extend("uniqueItems" = true)))]
    pub failure_types: Vec<FailureType>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Outcome faults: answers that arrive corrupted (truncated, refusal, malformed JSON, renamed
    /// key, empty but billed, late) instead of throwing, keyed by (seed, call, attempt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome_faults: Option<CalibrationOutcomeFaults>,
}

/// Outcome faults of a chaos profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CalibrationOutcomeFaults {
    /// Probability that an attempt without a thrown fault gets an outcome fault.
    #[cfg_attr(feature = "schema", schemars(range(min = 0, max = 1)))]
    pub rate: f64,
    /// Relative weights (≥ 0, not all 0) per outcome fault, by name.
    #[cfg_attr(feature = "schema", schemars(extend(
        "minProperties" = 1,
        "propertyNames" = outcome_fault_names_schema(),
        "additionalProperties" = {"type": "number", "minimum": 0}
    )))]
    pub weights: BTreeMap<String, f64>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `{"enum": [every outcome fault name]}`.
#[cfg(feature = "schema")]
fn outcome_fault_names_schema() -> serde_json::Value {
    serde_json::json!({ "enum": crate::outcome::ALL_OUTCOME_FAULTS.map(crate::outcome::OutcomeFault::as_str) })
}

/// Parameters of injected faults, ms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CalibrationChaosFaults {
    /// Shortest injected latency.
    #[cfg_attr(feature = "schema", schemars(range(max = 86_400_000)))]
    pub latency_ms_min: u64,
    /// Longest injected latency.
    #[cfg_attr(feature = "schema", schemars(range(max = 86_400_000)))]
    pub latency_ms_max: u64,
    /// Shortest injected retry-after hint.
    #[cfg_attr(feature = "schema", schemars(range(max = 86_400_000)))]
    pub retry_after_ms_min: u64,
    /// Longest injected retry-after hint.
    #[cfg_attr(feature = "schema", schemars(range(max = 86_400_000)))]
    pub retry_after_ms_max: u64,
}

/// Retry policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CalibrationRetry {
    /// Attempts of one logical call, the first included.
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 100)))]
    pub max_attempts: u32,
    /// Base of the exponential backoff, ms.
    #[cfg_attr(feature = "schema", schemars(range(max = 86_400_000)))]
    pub base_delay_ms: u64,
    /// Cap of one backoff delay, ms.
    #[cfg_attr(feature = "schema", schemars(range(max = 86_400_000)))]
    pub max_delay_ms: u64,
    /// Longest retry-after hint honoured, ms.
    #[cfg_attr(feature = "schema", schemars(range(max = 86_400_000)))]
    pub max_retry_after_ms: u64,
    /// Deadline of one logical call, ms.
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 86_400_000)))]
    pub deadline_ms: u64,
}

/// Budget limits and prices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CalibrationBudget {
    /// Cap of one call, USD.
    #[cfg_attr(feature = "schema", schemars(range(min = 0)))]
    pub max_per_call_usd: f64,
    /// Cap of one run, USD.
    #[cfg_attr(feature = "schema", schemars(range(min = 0)))]
    pub max_per_run_usd: f64,
    /// Completion cap of a call without its own.
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 10_000_000)))]
    pub max_output_tokens: u64,
    /// Prices by model name.
    #[cfg_attr(feature = "schema", schemars(extend("minProperties" = 1)))]
    pub models: BTreeMap<String, CalibrationModelPrice>,
    /// LiteLLM model_prices_and_context_window.json (or a file written by `omega-pr prices
    /// import`), relative to the calibration file; its chat/responses/completion entries are
    /// priced, budget.models entries take precedence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(length(min = 1)))]
    pub prices_file: Option<String>,
    /// Model name (or a prefix pattern ending in *) → priced model name; the longest pattern
    /// wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(extend("additionalProperties" = {"type": "string", "minLength": 1})))]
    pub aliases: Option<BTreeMap<String, String>>,
}

/// The price of one model, USD per token (LiteLLM's field names and key grammar).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields, extend("patternProperties" = price_tier_schema())))]
pub struct CalibrationModelPrice {
    /// USD per token (not per million).
    #[cfg_attr(feature = "schema", schemars(range(min = 0, max = crate::money::MAX_SANE_PRICE_PER_TOKEN_USD)))]
    pub input_cost_per_token: f64,
    /// USD per token (not per million).
    #[cfg_attr(feature = "schema", schemars(range(min = 0, max = crate::money::MAX_SANE_PRICE_PER_TOKEN_USD)))]
    pub cache_read_input_token_cost: f64,
    /// USD per token (not per million).
    #[cfg_attr(feature = "schema", schemars(range(min = 0, max = crate::money::MAX_SANE_PRICE_PER_TOKEN_USD)))]
    pub cache_creation_input_token_cost: f64,
    /// USD per token (not per million).
    #[cfg_attr(feature = "schema", schemars(range(min = 0, max = crate::money::MAX_SANE_PRICE_PER_TOKEN_USD)))]
    pub output_cost_per_token: f64,
    /// USD per token (not per million).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(min = 0, max = crate::money::MAX_SANE_PRICE_PER_TOKEN_USD)))]
    pub output_cost_per_reasoning_token: Option<f64>,
    /// LiteLLM deprecation_date (`YYYY-MM-DD`): a run using the model after it warns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(regex(pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"))
    )]
    pub deprecation_date: Option<String>,
    /// LiteLLM's provider name (informative).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub litellm_provider: Option<String>,
    /// LiteLLM's mode (informative).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// The other LiteLLM price keys: `*_above_<N>k_tokens` tiers, 1-hour cache writes
    /// (`cache_creation_input_token_cost_above_1hr`), `*_batches`, … (USD per token).
    #[serde(flatten)]
    #[cfg_attr(feature = "schema", schemars(skip))]
    pub tiers: BTreeMap<String, f64>,
}

/// `patternProperties` of a model price: the LiteLLM key grammar of tiered prices.
#[cfg(feature = "schema")]
fn price_tier_schema() -> serde_json::Value {
    serde_json::json!({
        "^(input_cost_per_token|output_cost_per_token|cache_read_input_token_cost|cache_creation_input_token_cost|output_cost_per_reasoning_token)(_above_1hr|_above_[0-9]+k_tokens|_(batches|priority|flex|ultrafast|decisions|balanced))+$": {
            "type": "number",
            "minimum": 0,
            "maximum": crate::money::MAX_SANE_PRICE_PER_TOKEN_USD,
            "description": "USD per token (LiteLLM key grammar: tiers, 1-hour cache writes, batch prices)"
        }
    })
}

/// A variance envelope: `statistic(metric) <= max`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CalibrationEnvelope {
    /// The statistic bounded.
    pub statistic: EnvelopeStatistic,
    /// Its bound.
    #[cfg_attr(feature = "schema", schemars(range(min = 0)))]
    pub max: f64,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// The rate limits of one model (calibration `rate_limits.<model>`): at least one of the four
/// per-minute limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(extend("anyOf" = [
    {"required": ["requests_per_minute"], "properties": {"requests_per_minute": true}},
    {"required": ["tokens_per_minute"], "properties": {"tokens_per_minute": true}},
    {"required": ["input_tokens_per_minute"], "properties": {"input_tokens_per_minute": true}},
    {"required": ["output_tokens_per_minute"], "properties": {"output_tokens_per_minute": true}}
])))]
pub struct CalibrationRateLimits {
    /// Requests per minute (RPM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 1_000_000_000)))]
    pub requests_per_minute: Option<u64>,
    /// Input + output tokens per minute (OpenAI's TPM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 1_000_000_000)))]
    pub tokens_per_minute: Option<u64>,
    /// Input tokens per minute (Anthropic's ITPM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 1_000_000_000)))]
    pub input_tokens_per_minute: Option<u64>,
    /// Output tokens per minute (Anthropic's OTPM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 1_000_000_000)))]
    pub output_tokens_per_minute: Option<u64>,
    /// Upper bound of the AIMD window of calls in flight (default 64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 100_000)))]
    pub max_in_flight: Option<u32>,
    /// Starting AIMD window (default 8); must be ≤ `max_in_flight`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 100_000)))]
    pub initial_in_flight: Option<u32>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(length(min = 1)))]
    pub description: Option<String>,
}

/// Proofpack settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CalibrationProofpack {
    /// Substrings that mark an absolute path in a proofpack file.
    #[cfg_attr(feature = "schema", schemars(inner(length(min = 1))))]
    pub forbidden_path_patterns: Vec<String>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on a broken fixture
mod tests {
    use super::*;

    #[test]
    fn shipped_calibration_is_a_calibration_document_and_round_trips() {
        let value: serde_json::Value =
            serde_json::from_str(crate::calibration::DEFAULT_CALIBRATION_JSON).unwrap();
        let doc: CalibrationDocument = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(serde_json::to_value(&doc).unwrap(), value);
        assert!(doc.budget.models["claude-sonnet-4-5"]
            .tiers
            .contains_key("cache_creation_input_token_cost_above_1hr"));
    }

    #[test]
    fn unknown_keys_are_refused_like_the_checker_refuses_them() {
        let mut value: serde_json::Value =
            serde_json::from_str(crate::calibration::DEFAULT_CALIBRATION_JSON).unwrap();
        value["LOCK_TIMEOUT"] = 5.into();
        assert!(serde_json::from_value::<CalibrationDocument>(value.clone()).is_err());
        assert!(!crate::calibration::Calibration::check(&value).is_empty());
    }
}
