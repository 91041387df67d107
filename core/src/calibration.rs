//! Calibration: the one document (`budgets/calibration.json`) that sets every threshold of the
//! sprint. Loading validates **everything** and reports every problem at once, each with its JSON
//! path: nulls, missing keys, unknown keys (typo protection), wrong types and out-of-range values.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::budget::{BudgetSettings, ModelPrice};
use crate::error::{Error, Problem, Result};
use crate::faults::{ChaosProfile, FailureType, FaultSettings};
use crate::money::{usd_per_token_to_pico, usd_to_micro};
use crate::ratelimit::{RateLimits, MAX_LIMIT_PER_MINUTE};
use crate::retry::RetryPolicy;
use crate::variance::{Envelope, EnvelopeStatistic};

/// The schema version this core reads.
pub const SCHEMA_VERSION: &str = "OMEGA-CALIBRATION-1.0";

pub use crate::money::MAX_SANE_PRICE_PER_TOKEN_USD;

/// Largest seed accepted: JS's `Number.MAX_SAFE_INTEGER`, so every seed survives a round trip
/// through a JS number.
pub const MAX_SEED: u64 = crate::numbers::MAX_SAFE_INTEGER;

/// Durability of the atomic cache's writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// fsync the temp file and the directory after rename.
    Full,
    /// No fsync (regenerable caches).
    None,
}

/// The validated calibration.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibration {
    /// Seed of every seeded decision (default 42).
    pub seed: u64,
    /// Default number of stress runs (the runbook's N).
    pub stress_count: u32,
    /// Minimum hard pass rate of gate PR-G4.
    pub pass_ratio_min: f64,
    /// The k values for which pass^k is reported.
    pub pass_k: Vec<u32>,
    /// Time a cache writer waits for the lock before `ERR_OMEGA_LOCK_TIMEOUT`, ms.
    pub lock_timeout_ms: u64,
    /// Durability of cache writes.
    pub cache_durability: Durability,
    /// Injection rate used when chaos is on without a named profile.
    pub chaos_rate: f64,
    /// Named chaos profiles.
    pub chaos_profiles: BTreeMap<String, ChaosProfile>,
    /// Parameters of injected faults.
    pub chaos_faults: FaultSettings,
    /// Retry policy.
    pub retry: RetryPolicy,
    /// Budget limits and prices.
    pub budget: BudgetSettings,
    /// Variance envelopes per metric.
    pub variance_envelopes: BTreeMap<String, Envelope>,
    /// Substrings that mark an absolute path in a proofpack file.
    pub forbidden_path_patterns: Vec<String>,
    /// Largest provider answer accepted, bytes of UTF-8 text: a larger answer is the fault
    /// `ERR_OMEGA_RESPONSE_TOO_LARGE` (not retryable) and is never kept.
    pub max_response_bytes: u64,
    /// Outcome-fault settings per chaos profile (`chaos_profiles.<name>.outcome_faults`).
    pub outcome_faults: BTreeMap<String, crate::outcome::OutcomeSettings>,
    /// Optional per-case floor of gate PR-G4 (`CASE_PASS_MIN`): a case of the cases file whose
    /// pass rate is below it is a variance violation, whatever the pooled rate.
    pub case_pass_min: Option<f64>,
    /// Optional outcome-chaos threshold (`OUTCOME_DETECTION_MIN`): when outcome faults were
    /// delivered, each fault type (but `latency_spike`) whose detection rate is below it fails
    /// the gate — PR-G3 for `chaos`, a variance violation of PR-G4 for `stress`
    /// ([`crate::outcome::detection_violations`]).
    pub outcome_detection_min: Option<f64>,
    /// Optional per-model rate limits (`rate_limits`): key = model name, or a prefix pattern
    /// ending in `*` (resolved like prices, see [`crate::ratelimit::resolve`]). Empty when absent.
    pub rate_limits: BTreeMap<String, RateLimits>,
}

/// Default of `max_response_bytes`: 4 MiB of text per answer.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 4 * 1024 * 1024;

/// Largest `max_response_bytes` accepted: 1 GiB (a string in a JS engine cannot be much longer).
pub const MAX_MAX_RESPONSE_BYTES: u64 = 1 << 30;

/// Removes a UTF-8 byte-order mark at the start of a document (editors on Windows add one).
pub fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// Levenshtein distance between two short keys (by chars).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = Vec::with_capacity(b.len() + 1);
        cur.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The known key nearest to `key`: same key ignoring case first, else the smallest edit distance
/// (case-insensitive) when it is at most a third of the key's length (at least 2); ties go to
/// the first key in document order.
pub fn nearest_key<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    if let Some(k) = known.iter().find(|k| k.eq_ignore_ascii_case(key)) {
        return Some(k);
    }
    let lower = key.to_lowercase();
    let limit = (key.chars().count() / 3).max(2);
    known
        .iter()
        .map(|k| (edit_distance(&lower, &k.to_lowercase()), *k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

impl Calibration {
    /// Parses and validates calibration JSON text. `source_name` (a file name, never an absolute
    /// path) is quoted in the error message.
    pub fn from_json_str(text: &str, source_name: Option<&str>) -> Result<Self> {
        Self::from_json_document(text, source_name).map(|(_, cal)| cal)
    }

    /// Parses and validates calibration JSON text (a leading byte-order mark ignored), keeping
    /// the document as read: what `parseCalibrationJson` and `Calibration.fromJson` return and
    /// hold. Errors as [`Calibration::from_json_str`].
    pub fn from_json_document(text: &str, source_name: Option<&str>) -> Result<(Value, Self)> {
        let value: Value =
            serde_json::from_str(strip_bom(text)).map_err(|e| Error::Calibration {
                source_name: source_name.map(str::to_owned),
                problems: vec![Problem {
                    path: "$".into(),
                    message: format!("not valid JSON: {e}"),
                }],
            })?;
        let cal = Self::from_value(&value, source_name)?;
        Ok((value, cal))
    }

    /// Validates an already-parsed JSON value.
    pub fn from_value(value: &Value, source_name: Option<&str>) -> Result<Self> {
        let mut c = Checker::default();
        let parsed = c.calibration(value);
        match parsed {
            Some(cal) if c.problems.is_empty() => Ok(cal),
            _ => Err(Error::Calibration {
                source_name: source_name.map(str::to_owned),
                problems: c.problems,
            }),
        }
    }

    /// Every problem of a document (empty when valid), without failing.
    pub fn check(value: &Value) -> Vec<Problem> {
        let mut c = Checker::default();
        let _ = c.calibration(value);
        c.problems
    }

    /// The chaos profile of that name, or [`Error::UnknownProfile`].
    pub fn profile(&self, name: &str) -> Result<&ChaosProfile> {
        self.chaos_profiles
            .get(name)
            .ok_or_else(|| Error::UnknownProfile {
                name: name.to_owned(),
                known: self
                    .chaos_profiles
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

/// The shipped default calibration (`budgets/calibration.json`), embedded at compile time.
pub const DEFAULT_CALIBRATION_JSON: &str = include_str!("../../budgets/calibration.json");

/// The shipped default calibration, validated.
pub fn default_calibration() -> Result<Calibration> {
    Calibration::from_json_str(DEFAULT_CALIBRATION_JSON, Some("calibration.json"))
}

/// Optional keys that carry free text (`$schema`, `$comment`, `description`).
const TEXT_KEYS: [&str; 3] = ["$schema", "$comment", "description"];

/// Collects problems while walking the document.
#[derive(Default)]
struct Checker {
    problems: Vec<Problem>,
    outcome: BTreeMap<String, crate::outcome::OutcomeSettings>,
}

/// The JSON type of `v`, as messages name it (`null`, `boolean`, `number`, …).
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

impl Checker {
    fn problem(&mut self, path: &str, message: impl Into<String>) {
        self.problems.push(Problem {
            path: path.to_owned(),
            message: message.into(),
        });
    }

    /// Checks `v` is an object with exactly the `keys` (plus any of `optional`), reporting
    /// missing and unknown keys. Returns the map when it is an object.
    fn object<'a>(
        &mut self,
        v: &'a Value,
        path: &str,
        keys: &[&str],
        optional: &[&str],
    ) -> Option<&'a Map<String, Value>> {
        let map = self.expect_object(v, path)?;
        for key in keys {
            if !map.contains_key(*key) {
                self.problem(&format!("{path}.{key}"), "is missing");
            }
        }
        for key in map.keys() {
            if !keys.contains(&key.as_str()) && !optional.contains(&key.as_str()) {
                let known: Vec<&str> = keys.iter().chain(optional).copied().collect();
                let hint = nearest_key(key, &known)
                    .map(|k| format!(" (did you mean `{k}`?)"))
                    .unwrap_or_default();
                self.problem(&format!("{path}.{key}"), format!("unknown key{hint}"));
            }
        }
        // Optional text keys are optional, but otherwise like every other key: never null,
        // always a non-empty string.
        for key in optional.iter().filter(|k| TEXT_KEYS.contains(k)) {
            if map.contains_key(*key) {
                if let Some(v) = self.string(map, path, key) {
                    if v.is_empty() {
                        self.problem(&format!("{path}.{key}"), "must not be empty");
                    }
                }
            }
        }
        Some(map)
    }

    fn expect_object<'a>(&mut self, v: &'a Value, path: &str) -> Option<&'a Map<String, Value>> {
        match v {
            Value::Object(map) => Some(map),
            Value::Null => {
                self.problem(path, "is null (every value must be set)");
                None
            }
            other => {
                self.problem(path, format!("must be an object, got {}", type_name(other)));
                None
            }
        }
    }

    /// The value at `key` if present and not null (missing keys were already reported).
    fn field<'a>(
        &mut self,
        map: &'a Map<String, Value>,
        path: &str,
        key: &str,
    ) -> Option<&'a Value> {
        match map.get(key) {
            None => None,
            Some(Value::Null) => {
                self.problem(
                    &format!("{path}.{key}"),
                    "is null (every value must be set)",
                );
                None
            }
            Some(v) => Some(v),
        }
    }

    fn number(
        &mut self,
        map: &Map<String, Value>,
        path: &str,
        key: &str,
        min: f64,
        max: f64,
    ) -> Option<f64> {
        let v = self.field(map, path, key)?;
        let p = format!("{path}.{key}");
        let Some(n) = v.as_f64() else {
            self.problem(&p, format!("must be a number, got {}", type_name(v)));
            return None;
        };
        if !(min..=max).contains(&n) {
            let range = if max == f64::MAX {
                format!("≥ {min}")
            } else {
                format!("in [{min}, {max}]")
            };
            self.problem(&p, format!("must be {range}, got {n}"));
            return None;
        }
        Some(n)
    }

    fn integer(
        &mut self,
        map: &Map<String, Value>,
        path: &str,
        key: &str,
        min: u64,
        max: u64,
    ) -> Option<u64> {
        let v = self.field(map, path, key)?;
        let p = format!("{path}.{key}");
        let Some(n) = v.as_u64() else {
            let got = match v.as_f64() {
                Some(f) => format!("{f}"),
                None => type_name(v).to_owned(),
            };
            self.problem(
                &p,
                format!("must be a whole number in [{min}, {max}], got {got}"),
            );
            return None;
        };
        if !(min..=max).contains(&n) {
            self.problem(&p, format!("must be in [{min}, {max}], got {n}"));
            return None;
        }
        Some(n)
    }

    fn string<'a>(
        &mut self,
        map: &'a Map<String, Value>,
        path: &str,
        key: &str,
    ) -> Option<&'a str> {
        let v = self.field(map, path, key)?;
        match v.as_str() {
            Some(s) => Some(s),
            None => {
                self.problem(
                    &format!("{path}.{key}"),
                    format!("must be a string, got {}", type_name(v)),
                );
                None
            }
        }
    }

    fn array<'a>(
        &mut self,
        map: &'a Map<String, Value>,
        path: &str,
        key: &str,
        non_empty: bool,
    ) -> Option<&'a Vec<Value>> {
        let v = self.field(map, path, key)?;
        let p = format!("{path}.{key}");
        match v.as_array() {
            Some(items) if non_empty && items.is_empty() => {
                self.problem(&p, "must not be empty");
                None
            }
            Some(items) => Some(items),
            None => {
                self.problem(&p, format!("must be an array, got {}", type_name(v)));
                None
            }
        }
    }

    fn money(&mut self, map: &Map<String, Value>, path: &str, key: &str) -> Option<u64> {
        let v = self.field(map, path, key)?;
        let p = format!("{path}.{key}");
        match v.as_f64() {
            None => {
                self.problem(&p, format!("must be a number of USD, got {}", type_name(v)));
                None
            }
            Some(n) if n < 0.0 => {
                self.problem(&p, format!("money must not be negative, got {n}"));
                None
            }
            Some(n) => {
                let micro = usd_to_micro(n);
                if micro.is_none() {
                    self.problem(&p, format!("amount too large, got {n}"));
                }
                micro
            }
        }
    }

    fn price(&mut self, map: &Map<String, Value>, path: &str, key: &str) -> Option<u64> {
        let v = self.field(map, path, key)?;
        let p = format!("{path}.{key}");
        match v.as_f64() {
            None => {
                self.problem(
                    &p,
                    format!("must be a number of USD per token, got {}", type_name(v)),
                );
                None
            }
            Some(n) if n < 0.0 => {
                self.problem(&p, format!("price must not be negative, got {n}"));
                None
            }
            Some(n) if n > MAX_SANE_PRICE_PER_TOKEN_USD => {
                self.problem(
                    &p,
                    format!(
                        "{n} USD per token looks like a per-million-token price; write it per token (e.g. {:e})",
                        n / 1e6
                    ),
                );
                None
            }
            Some(n) => usd_per_token_to_pico(n),
        }
    }

    fn calibration(&mut self, root: &Value) -> Option<Calibration> {
        const KEYS: &[&str] = &[
            "schema_version",
            "SEED",
            "STRESS_COUNT",
            "PASS_RATIO_MIN",
            "PASS_K",
            "LOCK_TIMEOUT_MS",
            "CACHE_DURABILITY",
            "CHAOS_RATE",
            "chaos_profiles",
            "chaos_faults",
            "retry",
            "budget",
            "VARIANCE_ENVELOPES",
            "proofpack",
            "max_response_bytes",
        ];
        let map = self.object(
            root,
            "$",
            KEYS,
            &[
                "$schema",
                "$comment",
                "CASE_PASS_MIN",
                "OUTCOME_DETECTION_MIN",
                "rate_limits",
            ],
        )?;
        let p = "$";
        if let Some(version) = self.string(map, p, "schema_version") {
            if version != SCHEMA_VERSION {
                self.problem(
                    "$.schema_version",
                    format!("must be \"{SCHEMA_VERSION}\", got \"{version}\""),
                );
            }
        }
        let seed = self.integer(map, p, "SEED", 0, MAX_SEED);
        let stress_count = self.integer(map, p, "STRESS_COUNT", 1, 1_000_000);
        let pass_ratio_min = self.number(map, p, "PASS_RATIO_MIN", 0.0, 1.0);
        let pass_k = self.pass_k(map);
        let lock_timeout_ms = self.integer(map, p, "LOCK_TIMEOUT_MS", 1, 3_600_000);
        let cache_durability = match self.string(map, p, "CACHE_DURABILITY") {
            Some("full") => Some(Durability::Full),
            Some("none") => Some(Durability::None),
            Some(other) => {
                self.problem(
                    "$.CACHE_DURABILITY",
                    format!("must be \"full\" or \"none\", got \"{other}\""),
                );
                None
            }
            None => None,
        };
        let chaos_rate = self.number(map, p, "CHAOS_RATE", 0.0, 1.0);
        let chaos_profiles = self.chaos_profiles(map);
        let chaos_faults = self.chaos_faults(map);
        let retry = self.retry(map);
        let budget = self.budget(map);
        let variance_envelopes = self.envelopes(map);
        let forbidden_path_patterns = self.proofpack(map);
        let max_response_bytes =
            self.integer(map, p, "max_response_bytes", 1, MAX_MAX_RESPONSE_BYTES);
        let case_pass_min = if map.contains_key("CASE_PASS_MIN") {
            Some(self.number(map, p, "CASE_PASS_MIN", 0.0, 1.0)?)
        } else {
            None
        };
        let outcome_detection_min = if map.contains_key("OUTCOME_DETECTION_MIN") {
            Some(self.number(map, p, "OUTCOME_DETECTION_MIN", 0.0, 1.0)?)
        } else {
            None
        };
        let rate_limits = self.rate_limits(map);
        Some(Calibration {
            seed: seed?,
            stress_count: u32::try_from(stress_count?).ok()?,
            pass_ratio_min: pass_ratio_min?,
            pass_k: pass_k?,
            lock_timeout_ms: lock_timeout_ms?,
            cache_durability: cache_durability?,
            chaos_rate: chaos_rate?,
            chaos_profiles: chaos_profiles?,
            chaos_faults: chaos_faults?,
            retry: retry?,
            budget: budget?,
            variance_envelopes: variance_envelopes?,
            forbidden_path_patterns: forbidden_path_patterns?,
            max_response_bytes: max_response_bytes?,
            case_pass_min,
            outcome_detection_min,
            outcome_faults: std::mem::take(&mut self.outcome),
            rate_limits: rate_limits?,
        })
    }

    /// `rate_limits` (optional): per model (or `prefix*` pattern), the providers' per-minute
    /// limits, at least one of them, each a whole number in [1, 10⁹]; optional AIMD bounds.
    fn rate_limits(&mut self, map: &Map<String, Value>) -> Option<BTreeMap<String, RateLimits>> {
        const LIMITS: &[&str] = &[
            "requests_per_minute",
            "tokens_per_minute",
            "input_tokens_per_minute",
            "output_tokens_per_minute",
        ];
        const OPTIONAL: &[&str] = &[
            "requests_per_minute",
            "tokens_per_minute",
            "input_tokens_per_minute",
            "output_tokens_per_minute",
            "max_in_flight",
            "initial_in_flight",
            "description",
        ];
        let mut out = BTreeMap::new();
        if !map.contains_key("rate_limits") {
            return Some(out);
        }
        let v = self.field(map, "$", "rate_limits")?;
        let models = self.expect_object(v, "$.rate_limits")?;
        let mut ok = true;
        for (name, entry) in models {
            let path = format!("$.rate_limits.{name}");
            if name.is_empty() || name == "*" {
                self.problem(&path, "must name a model or a prefix pattern (`claude-*`)");
                ok = false;
                continue;
            }
            let Some(m) = self.object(entry, &path, &[], OPTIONAL) else {
                ok = false;
                continue;
            };
            if !LIMITS.iter().any(|k| m.contains_key(*k)) {
                self.problem(
                    &path,
                    format!("must set at least one of {}", LIMITS.join(", ")),
                );
                ok = false;
                continue;
            }
            let limit = |c: &mut Self, key: &str, max: u64| -> Option<Option<u64>> {
                if m.contains_key(key) {
                    c.integer(m, &path, key, 1, max).map(Some)
                } else {
                    Some(None)
                }
            };
            let rpm = limit(self, "requests_per_minute", MAX_LIMIT_PER_MINUTE);
            let tpm = limit(self, "tokens_per_minute", MAX_LIMIT_PER_MINUTE);
            let itpm = limit(self, "input_tokens_per_minute", MAX_LIMIT_PER_MINUTE);
            let otpm = limit(self, "output_tokens_per_minute", MAX_LIMIT_PER_MINUTE);
            let max_in_flight = limit(self, "max_in_flight", 100_000);
            let initial = limit(self, "initial_in_flight", 100_000);
            if let (Some(Some(mx)), Some(Some(init))) = (max_in_flight, initial) {
                if init > mx {
                    self.problem(
                        &format!("{path}.initial_in_flight"),
                        format!("must be ≤ max_in_flight ({mx}), got {init}"),
                    );
                    ok = false;
                    continue;
                }
            }
            match (rpm, tpm, itpm, otpm, max_in_flight, initial) {
                (Some(r), Some(t), Some(i), Some(o), Some(mx), Some(init)) => {
                    out.insert(
                        name.clone(),
                        RateLimits {
                            requests_per_minute: r,
                            tokens_per_minute: t,
                            input_tokens_per_minute: i,
                            output_tokens_per_minute: o,
                            max_in_flight: mx.map(|x| x as u32),
                            initial_in_flight: init.map(|x| x as u32),
                        },
                    );
                }
                _ => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn pass_k(&mut self, map: &Map<String, Value>) -> Option<Vec<u32>> {
        let items = self.array(map, "$", "PASS_K", true)?;
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            match item.as_u64() {
                Some(k) if (1..=1000).contains(&k) => out.push(k as u32),
                _ => {
                    ok = false;
                    self.problem(
                        &format!("$.PASS_K[{i}]"),
                        format!("must be a whole number in [1, 1000], got {item}"),
                    );
                }
            }
        }
        ok.then_some(out)
    }

    fn chaos_profiles(
        &mut self,
        map: &Map<String, Value>,
    ) -> Option<BTreeMap<String, ChaosProfile>> {
        let v = self.field(map, "$", "chaos_profiles")?;
        let profiles = self.expect_object(v, "$.chaos_profiles")?;
        let mut out = BTreeMap::new();
        let mut ok = true;
        if profiles.is_empty() {
            self.problem("$.chaos_profiles", "must define at least one profile");
            ok = false;
        }
        for (name, profile) in profiles {
            let path = format!("$.chaos_profiles.{name}");
            let Some(pm) = self.object(
                profile,
                &path,
                &["rate", "failure_types"],
                &["description", "outcome_faults"],
            ) else {
                ok = false;
                continue;
            };
            let rate = self.number(pm, &path, "rate", 0.0, 1.0);
            let types = self.failure_types(pm, &path);
            if pm.contains_key("outcome_faults") {
                match self.outcome_faults(pm, &path) {
                    Some(settings) => {
                        self.outcome.insert(name.clone(), settings);
                    }
                    None => ok = false,
                }
            }
            match (rate, types) {
                (Some(rate), Some(failure_types)) => {
                    out.insert(
                        name.clone(),
                        ChaosProfile {
                            rate,
                            failure_types,
                        },
                    );
                }
                _ => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn outcome_faults(
        &mut self,
        map: &Map<String, Value>,
        path: &str,
    ) -> Option<crate::outcome::OutcomeSettings> {
        let v = self.field(map, path, "outcome_faults")?;
        let p = format!("{path}.outcome_faults");
        let om = self.object(v, &p, &["rate", "weights"], &["description"])?;
        let rate = self.number(om, &p, "rate", 0.0, 1.0);
        let wv = self.field(om, &p, "weights")?;
        let wp = format!("{p}.weights");
        let wm = self.expect_object(wv, &wp)?;
        let mut weights = Vec::new();
        let mut ok = true;
        for (name, w) in wm {
            let Some(fault) = crate::outcome::OutcomeFault::parse(name) else {
                self.problem(
                    &format!("{wp}.{name}"),
                    format!(
                        "unknown outcome fault (known: {})",
                        crate::outcome::ALL_OUTCOME_FAULTS
                            .iter()
                            .map(|f| f.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
                ok = false;
                continue;
            };
            match w.as_f64() {
                Some(x) if x >= 0.0 && x.is_finite() => weights.push((fault, x)),
                _ => {
                    self.problem(
                        &format!("{wp}.{name}"),
                        format!("must be a number ≥ 0, got {w}"),
                    );
                    ok = false;
                }
            }
        }
        if ok && weights.iter().all(|(_, w)| *w <= 0.0) {
            self.problem(&wp, "needs at least one weight > 0");
            ok = false;
        }
        weights.sort_by_key(|(f, _)| *f);
        Some(crate::outcome::OutcomeSettings {
            rate: rate?,
            weights,
        })
        .filter(|_| ok)
    }

    fn failure_types(&mut self, map: &Map<String, Value>, path: &str) -> Option<Vec<FailureType>> {
        let items = self.array(map, path, "failure_types", true)?;
        let mut out = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let p = format!("{path}.failure_types[{i}]");
            match item.as_str().and_then(FailureType::parse) {
                Some(t) if out.contains(&t) => {
                    ok = false;
                    self.problem(&p, format!("duplicate failure type \"{}\"", t.as_str()));
                }
                Some(t) => out.push(t),
                None => {
                    ok = false;
                    let known: Vec<&str> = FailureType::ALL.iter().map(|t| t.as_str()).collect();
                    self.problem(
                        &p,
                        format!("unknown failure type {item} (known: {})", known.join(", ")),
                    );
                }
            }
        }
        ok.then_some(out)
    }

    fn chaos_faults(&mut self, map: &Map<String, Value>) -> Option<FaultSettings> {
        const KEYS: &[&str] = &[
            "latency_ms_min",
            "latency_ms_max",
            "retry_after_ms_min",
            "retry_after_ms_max",
        ];
        let v = self.field(map, "$", "chaos_faults")?;
        let p = "$.chaos_faults";
        let m = self.object(v, p, KEYS, &[])?;
        let day = 86_400_000;
        let lmin = self.integer(m, p, "latency_ms_min", 0, day);
        let lmax = self.integer(m, p, "latency_ms_max", 0, day);
        let rmin = self.integer(m, p, "retry_after_ms_min", 0, day);
        let rmax = self.integer(m, p, "retry_after_ms_max", 0, day);
        if let (Some(a), Some(b)) = (lmin, lmax) {
            if a > b {
                self.problem(
                    "$.chaos_faults.latency_ms_max",
                    format!("must be ≥ latency_ms_min ({a}), got {b}"),
                );
                return None;
            }
        }
        if let (Some(a), Some(b)) = (rmin, rmax) {
            if a > b {
                self.problem(
                    "$.chaos_faults.retry_after_ms_max",
                    format!("must be ≥ retry_after_ms_min ({a}), got {b}"),
                );
                return None;
            }
        }
        Some(FaultSettings {
            latency_ms_min: lmin?,
            latency_ms_max: lmax?,
            retry_after_ms_min: rmin?,
            retry_after_ms_max: rmax?,
        })
    }

    fn retry(&mut self, map: &Map<String, Value>) -> Option<RetryPolicy> {
        const KEYS: &[&str] = &[
            "max_attempts",
            "base_delay_ms",
            "max_delay_ms",
            "max_retry_after_ms",
            "deadline_ms",
        ];
        let v = self.field(map, "$", "retry")?;
        let p = "$.retry";
        let m = self.object(v, p, KEYS, &[])?;
        let day = 86_400_000;
        let max_attempts = self.integer(m, p, "max_attempts", 1, 100);
        let base = self.integer(m, p, "base_delay_ms", 0, day);
        let max = self.integer(m, p, "max_delay_ms", 0, day);
        let max_retry_after_ms = self.integer(m, p, "max_retry_after_ms", 0, day);
        let deadline_ms = self.integer(m, p, "deadline_ms", 1, day);
        if let (Some(b), Some(mx)) = (base, max) {
            if b > mx {
                self.problem(
                    "$.retry.max_delay_ms",
                    format!("must be ≥ base_delay_ms ({b}), got {mx}"),
                );
                return None;
            }
        }
        Some(RetryPolicy {
            max_attempts: u32::try_from(max_attempts?).ok()?,
            base_delay_ms: base?,
            max_delay_ms: max?,
            max_retry_after_ms: max_retry_after_ms?,
            deadline_ms: deadline_ms?,
        })
    }

    fn budget(&mut self, map: &Map<String, Value>) -> Option<BudgetSettings> {
        const KEYS: &[&str] = &[
            "max_per_call_usd",
            "max_per_run_usd",
            "max_output_tokens",
            "models",
        ];
        let v = self.field(map, "$", "budget")?;
        let p = "$.budget";
        let m = self.object(v, p, KEYS, &["prices_file", "aliases"])?;
        if m.contains_key("prices_file") {
            self.string(m, p, "prices_file");
        }
        let aliases = self.aliases(m);
        let per_call = self.money(m, p, "max_per_call_usd");
        let per_run = self.money(m, p, "max_per_run_usd");
        let max_output = self.integer(m, p, "max_output_tokens", 1, 10_000_000);
        if let (Some(c), Some(r)) = (per_call, per_run) {
            if c > r {
                self.problem(
                    "$.budget.max_per_call_usd",
                    "must not exceed max_per_run_usd",
                );
                return None;
            }
        }
        let models = self.models(m);
        Some(BudgetSettings {
            max_per_call_micro_usd: per_call?,
            max_per_run_micro_usd: per_run?,
            max_output_tokens: max_output?,
            models: models?,
            aliases: aliases?,
        })
    }

    fn aliases(&mut self, map: &Map<String, Value>) -> Option<BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        let Some(v) = self.field(map, "$.budget", "aliases") else {
            return Some(out);
        };
        let obj = self.expect_object(v, "$.budget.aliases")?;
        let mut ok = true;
        for (name, target) in obj {
            match target.as_str() {
                Some(t) if !t.is_empty() => {
                    out.insert(name.clone(), t.to_owned());
                }
                _ => {
                    self.problem(
                        &format!("$.budget.aliases.{name}"),
                        format!("must be a model name, got {}", type_name(target)),
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }

    fn models(&mut self, map: &Map<String, Value>) -> Option<BTreeMap<String, ModelPrice>> {
        const KEYS: &[&str] = &[
            "input_cost_per_token",
            "cache_read_input_token_cost",
            "cache_creation_input_token_cost",
            "output_cost_per_token",
        ];
        let v = self.field(map, "$.budget", "models")?;
        let models = self.expect_object(v, "$.budget.models")?;
        if models.is_empty() {
            self.problem("$.budget.models", "must price at least one model");
            return None;
        }
        let mut out = BTreeMap::new();
        let mut ok = true;
        for (name, price) in models {
            let path = format!("$.budget.models.{name}");
            let Some(pm) = self.expect_object(price, &path) else {
                ok = false;
                continue;
            };
            for key in KEYS {
                if !pm.contains_key(*key) {
                    self.problem(&format!("{path}.{key}"), "is missing");
                    ok = false;
                }
            }
            let mut parsed = Vec::new();
            for key in pm.keys() {
                if let Some(k) = crate::prices::parse_price_key(key) {
                    match self.price(pm, &path, key) {
                        Some(pico) => parsed.push((k, pico)),
                        None => ok = false,
                    }
                } else if !crate::prices::META_KEYS.contains(&key.as_str()) {
                    let hint = KEYS
                        .iter()
                        .find(|k| k.eq_ignore_ascii_case(key))
                        .map(|k| format!(" (did you mean `{k}`?)"))
                        .unwrap_or_default();
                    self.problem(&format!("{path}.{key}"), format!("unknown key{hint}"));
                    ok = false;
                }
            }
            let deprecation = match pm.get("deprecation_date") {
                None => None,
                Some(Value::String(d)) if crate::prices::is_iso_date(d) => Some(d.clone()),
                Some(other) => {
                    self.problem(
                        &format!("{path}.deprecation_date"),
                        format!("must be a YYYY-MM-DD date, got {other}"),
                    );
                    ok = false;
                    None
                }
            };
            if let Some(price) = crate::prices::assemble(&parsed, deprecation) {
                out.insert(name.clone(), price);
            }
        }
        ok.then_some(out)
    }

    fn envelopes(&mut self, map: &Map<String, Value>) -> Option<BTreeMap<String, Envelope>> {
        let v = self.field(map, "$", "VARIANCE_ENVELOPES")?;
        let envs = self.expect_object(v, "$.VARIANCE_ENVELOPES")?;
        let mut out = BTreeMap::new();
        let mut ok = true;
        for (metric, env) in envs {
            let path = format!("$.VARIANCE_ENVELOPES.{metric}");
            let Some(em) = self.object(env, &path, &["statistic", "max"], &["description"]) else {
                ok = false;
                continue;
            };
            let statistic = match self.string(em, &path, "statistic") {
                Some(s) => match EnvelopeStatistic::parse(s) {
                    Some(st) => Some(st),
                    None => {
                        self.problem(
                            &format!("{path}.statistic"),
                            format!("must be \"std\", \"cv\" or \"range\", got \"{s}\""),
                        );
                        None
                    }
                },
                None => None,
            };
            let max = self.number(em, &path, "max", 0.0, f64::MAX);
            match (statistic, max) {
                (Some(statistic), Some(max)) => {
                    out.insert(metric.clone(), Envelope { statistic, max });
                }
                _ => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn proofpack(&mut self, map: &Map<String, Value>) -> Option<Vec<String>> {
        let v = self.field(map, "$", "proofpack")?;
        let p = "$.proofpack";
        let m = self.object(v, p, &["forbidden_path_patterns"], &[])?;
        let items = self.array(m, p, "forbidden_path_patterns", false)?;
        let mut out = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            match item.as_str() {
                Some(s) if !s.is_empty() => out.push(s.to_owned()),
                _ => {
                    ok = false;
                    self.problem(
                        &format!("{p}.forbidden_path_patterns[{i}]"),
                        format!("must be a non-empty string, got {item}"),
                    );
                }
            }
        }
        ok.then_some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn shipped() -> Value {
        serde_json::from_str(DEFAULT_CALIBRATION_JSON).unwrap_or(Value::Null)
    }

    fn problems_of(v: &Value) -> Vec<String> {
        Calibration::check(v)
            .into_iter()
            .map(|p| p.to_string())
            .collect()
    }

    #[test]
    fn json_document_keeps_the_document_and_ignores_a_bom() {
        let text = format!("\u{feff}{DEFAULT_CALIBRATION_JSON}");
        let Ok((doc, cal)) = Calibration::from_json_document(&text, Some("c.json")) else {
            panic!("the shipped calibration parses with a BOM")
        };
        assert_eq!(doc, shipped());
        assert_eq!(cal.seed, 42);
        let Err(e) = Calibration::from_json_document("{", Some("c.json")) else {
            panic!("not JSON")
        };
        assert_eq!(e.code(), "ERR_OMEGA_CALIBRATION");
        assert!(e.to_string().contains("not valid JSON"), "{e}");
        assert!(e.to_string().contains("c.json"), "{e}");
        let Err(e) = Calibration::from_json_document("{}", None) else {
            panic!("an empty document is invalid")
        };
        assert_eq!(e.code(), "ERR_OMEGA_CALIBRATION");
    }

    #[test]
    fn shipped_calibration_is_valid_and_has_no_nulls() {
        let cal = default_calibration();
        assert!(cal.is_ok(), "{cal:?}");
        assert!(!DEFAULT_CALIBRATION_JSON.contains("null"));
        let cal = cal.unwrap_or_else(|_| unreachable!());
        assert_eq!(cal.seed, 42);
        for name in ["light", "medium", "heavy", "hellfire"] {
            assert!(cal.profile(name).is_ok(), "{name}");
        }
        assert_eq!(
            cal.profile("heavy").map(|p| p.failure_types.len()).ok(),
            Some(FailureType::ALL.len())
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let mut v = shipped();
        v["SEED"] = Value::Null;
        v["CHAOS_RATE"] = json!(1.5);
        v["budget"]["max_per_run_usd"] = json!(-3);
        v["LOCK_TIMEOUT"] = json!(5);
        v["budget"]["models"]["gpt-4o"]["input_cost_per_token"] = json!(2.5);
        if let Some(m) = v["retry"].as_object_mut() {
            m.remove("max_attempts");
        }
        v["PASS_RATIO_MIN"] = json!("0.75");
        let problems = problems_of(&v);
        let want = [
            "$.SEED: is null",
            "$.CHAOS_RATE: must be in [0, 1], got 1.5",
            "$.budget.max_per_run_usd: money must not be negative",
            "$.LOCK_TIMEOUT: unknown key",
            "$.budget.models.gpt-4o.input_cost_per_token: 2.5 USD per token looks like a per-million-token price",
            "$.retry.max_attempts: is missing",
            "$.PASS_RATIO_MIN: must be a number, got string",
        ];
        for w in want {
            assert!(
                problems.iter().any(|p| p.starts_with(w)),
                "missing {w:?} in {problems:#?}"
            );
        }
        assert_eq!(problems.len(), want.len(), "{problems:#?}");
        let err = Calibration::from_value(&v, Some("calibration.json"));
        assert!(
            matches!(err, Err(Error::Calibration { ref problems, .. }) if problems.len() == want.len())
        );
    }

    #[test]
    fn outcome_detection_min_is_optional_and_checked_with_its_path() {
        let mut v = shipped();
        let cal = Calibration::from_value(&v, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cal.outcome_detection_min, None);
        v["OUTCOME_DETECTION_MIN"] = json!(0.8);
        let cal = Calibration::from_value(&v, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cal.outcome_detection_min, Some(0.8));
        v["OUTCOME_DETECTION_MIN"] = json!(1.2);
        assert_eq!(
            problems_of(&v),
            vec!["$.OUTCOME_DETECTION_MIN: must be in [0, 1], got 1.2".to_owned()]
        );
        v["OUTCOME_DETECTION_MIN"] = Value::Null;
        assert_eq!(
            problems_of(&v),
            vec!["$.OUTCOME_DETECTION_MIN: is null (every value must be set)".to_owned()]
        );
    }

    #[test]
    fn typo_gets_a_hint() {
        let mut v = shipped();
        if let Some(m) = v.as_object_mut() {
            let seed = m.remove("SEED").unwrap_or(Value::Null);
            m.insert("seed".into(), seed);
        }
        let problems = problems_of(&v);
        assert!(
            problems
                .iter()
                .any(|p| p.contains("$.seed: unknown key (did you mean `SEED`?)")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.contains("$.SEED: is missing")),
            "{problems:?}"
        );
    }

    #[test]
    fn unknown_failure_type_and_profile() {
        let mut v = shipped();
        v["chaos_profiles"]["light"]["failure_types"] = json!(["timeout", "gremlins"]);
        let problems = problems_of(&v);
        assert!(problems.iter().any(
            |p| p.starts_with("$.chaos_profiles.light.failure_types[1]: unknown failure type")
        ));
        let cal = default_calibration().unwrap_or_else(|_| unreachable!());
        assert!(matches!(
            cal.profile("nope"),
            Err(Error::UnknownProfile { .. })
        ));
    }

    #[test]
    fn not_json_and_not_object() {
        assert!(matches!(
            Calibration::from_json_str("{", None),
            Err(Error::Calibration { .. })
        ));
        assert_eq!(
            problems_of(&json!([1])),
            vec!["$: must be an object, got array".to_owned()]
        );
    }

    #[test]
    fn seed_range() {
        let mut v = shipped();
        v["SEED"] = json!(9_007_199_254_740_992u64);
        assert!(problems_of(&v)[0].starts_with("$.SEED: must be in"));
        v["SEED"] = json!(-1);
        assert!(problems_of(&v)[0].starts_with("$.SEED: must be a whole number"));
    }

    // ---- issue 14 (papercuts) -----------------------------------------------------------

    #[test]
    fn papercut_01_schema_key_null_or_wrong_type_is_refused() {
        let mut v = shipped();
        v["$schema"] = Value::Null;
        assert_eq!(
            problems_of(&v),
            vec!["$.$schema: is null (every value must be set)".to_owned()]
        );
        v["$schema"] = json!(7);
        assert_eq!(
            problems_of(&v),
            vec!["$.$schema: must be a string, got number".to_owned()]
        );
        v["$schema"] = json!("");
        assert_eq!(
            problems_of(&v),
            vec!["$.$schema: must not be empty".to_owned()]
        );
        v["$comment"] = Value::Null;
        assert!(problems_of(&v)
            .iter()
            .any(|p| p.starts_with("$.$comment: is null")));
        v["chaos_profiles"]["light"]["description"] = Value::Null;
        assert!(problems_of(&v)
            .iter()
            .any(|p| p.starts_with("$.chaos_profiles.light.description: is null")));
        v["chaos_profiles"]["light"]["description"] = json!("five per cent");
        // Optional: a document without `$schema` is valid.
        if let Some(m) = v.as_object_mut() {
            m.remove("$schema");
            m.remove("$comment");
        }
        assert!(problems_of(&v).is_empty());
    }

    #[test]
    fn papercut_02_unknown_key_names_the_nearest_known_key() {
        let mut v = shipped();
        if let Some(m) = v.as_object_mut() {
            let x = m.remove("STRESS_COUNT").unwrap_or(Value::Null);
            m.insert("STRES_COUNT".into(), x);
        }
        v["retry"]["max_attempt"] = json!(5);
        v["totally_unrelated"] = json!(1);
        let problems = problems_of(&v);
        assert!(
            problems
                .iter()
                .any(|p| p == "$.STRES_COUNT: unknown key (did you mean `STRESS_COUNT`?)"),
            "{problems:#?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p == "$.retry.max_attempt: unknown key (did you mean `max_attempts`?)"),
            "{problems:#?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p == "$.totally_unrelated: unknown key"),
            "{problems:#?}"
        );
        assert_eq!(
            nearest_key("chaos_profile", &["CHAOS_RATE", "chaos_profiles"]),
            Some("chaos_profiles")
        );
    }

    #[test]
    fn papercut_03_utf8_bom_is_accepted() {
        let text = format!("\u{feff}{DEFAULT_CALIBRATION_JSON}");
        let cal = Calibration::from_json_str(&text, Some("calibration.json"));
        assert!(cal.is_ok(), "{cal:?}");
    }

    #[test]
    fn papercut_04_envelope_range_is_readable() {
        let mut v = shipped();
        v["VARIANCE_ENVELOPES"]["hard_score"]["max"] = json!(-1);
        let problems = problems_of(&v);
        assert_eq!(
            problems,
            vec!["$.VARIANCE_ENVELOPES.hard_score.max: must be ≥ 0, got -1".to_owned()]
        );
        assert!(problems[0].len() < 80);
    }

    #[test]
    fn rate_limits_are_optional_and_validated_with_field_paths() {
        let cal = default_calibration().unwrap_or_else(|_| unreachable!());
        assert!(cal.rate_limits.is_empty());
        let mut v = shipped();
        v["rate_limits"] = json!({
            "gpt-4o": { "requests_per_minute": 500, "tokens_per_minute": 30000 },
            "claude-*": { "requests_per_minute": 50, "input_tokens_per_minute": 30000,
                          "output_tokens_per_minute": 8000, "max_in_flight": 16, "initial_in_flight": 4 }
        });
        let cal = Calibration::from_value(&v, None);
        let cal = cal.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cal.rate_limits.len(), 2);
        assert_eq!(
            cal.rate_limits["claude-*"].output_tokens_per_minute,
            Some(8000)
        );
        assert_eq!(cal.rate_limits["claude-*"].initial_in_flight, Some(4));
        v["rate_limits"] = json!({
            "gpt-4o": { "requests_per_minute": 0, "tokens_per_minute": 1.5 },
            "o4-mini": { "request_per_minute": 10 },
            "x": {},
            "y": { "requests_per_minute": null },
            "z": { "requests_per_minute": 5, "max_in_flight": 2, "initial_in_flight": 3 },
            "w": 7
        });
        let problems = problems_of(&v);
        let want = [
            "$.rate_limits.gpt-4o.requests_per_minute: must be in [1, 1000000000], got 0",
            "$.rate_limits.gpt-4o.tokens_per_minute: must be a whole number in [1, 1000000000], got 1.5",
            "$.rate_limits.o4-mini.request_per_minute: unknown key (did you mean `requests_per_minute`?)",
            "$.rate_limits.x: must set at least one of requests_per_minute",
            "$.rate_limits.y.requests_per_minute: is null",
            "$.rate_limits.z.initial_in_flight: must be ≤ max_in_flight (2), got 3",
            "$.rate_limits.w: must be an object, got number",
        ];
        for w in want {
            assert!(
                problems.iter().any(|p| p.starts_with(w)),
                "missing {w:?} in {problems:#?}"
            );
        }
        v["rate_limits"] = Value::Null;
        assert!(problems_of(&v)[0].starts_with("$.rate_limits: is null"));
    }

    #[test]
    fn papercut_14_max_response_bytes_is_a_calibration_key() {
        let cal = default_calibration().unwrap_or_else(|_| unreachable!());
        assert_eq!(cal.max_response_bytes, DEFAULT_MAX_RESPONSE_BYTES);
        let mut v = shipped();
        v["max_response_bytes"] = json!(0);
        assert!(problems_of(&v)[0].starts_with("$.max_response_bytes: must be in [1, "));
        v["max_response_bytes"] = Value::Null;
        assert!(problems_of(&v)[0].starts_with("$.max_response_bytes: is null"));
    }
}
