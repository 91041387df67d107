//! Seeded chaos decisions: whether call `i` of a run gets a fault, and which one.
//!
//! A decision is a pure function of `(seed, profile, call_index)` so that the same run injects
//! the same faults whatever order concurrent calls happen in.

use std::collections::BTreeMap;

use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::calibration::{Calibration, MAX_SEED};
use crate::error::{Error, Result};
pub use crate::faults::{ChaosProfile, FailureType, FaultSettings};

/// Schema version of the chaos log ([`ChaosLog`]).
pub const CHAOS_LOG_SCHEMA_VERSION: &str = "OMEGA-CHAOS-LOG-1.0";

/// Name of the profile used when chaos is on without a named profile (rate `CHAOS_RATE`, every
/// failure type).
pub const DEFAULT_PROFILE_NAME: &str = "default";

/// Word position where the per-call overflow region starts. Decision words of every stream stay
/// below it (`2 · call_index < 2^65`).
const OVERFLOW_BASE: u128 = 1 << 67;

/// The decision for one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ChaosDecision {
    /// Index of the call in the run (0-based).
    pub call_index: u64,
    /// Whether a fault is injected.
    pub injected: bool,
    /// The fault, when injected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_type: Option<FailureType>,
    /// Injected delay of a `latency` fault, ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// `retry-after` hint of a `rate_limit` fault, ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
    /// HTTP status of the fault: 500/503 (`server_error`), 429 (`rate_limit`), 529 (`overloaded`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
}

/// Decisions of a contiguous range of calls, in compact arrays (for fast batch paths).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChaosBatch {
    /// First call index of the batch.
    pub start: u64,
    /// 1 when call `start + i` gets a fault, else 0.
    pub injected: Vec<u8>,
    /// Index into the profile's `failure_types` of the fault of call `start + i`;
    /// [`ChaosBatch::NONE`] when not injected.
    pub failure_type_index: Vec<u8>,
    /// The fault's parameter: latency ms, retry-after ms or HTTP status; 0 when none.
    pub parameter: Vec<u32>,
}

impl ChaosBatch {
    /// Marker of "no fault" in [`ChaosBatch::failure_type_index`].
    pub const NONE: u8 = u8::MAX;
}

/// The draws of one injected decision: the call's two words of the auxiliary stream, then (for
/// rejection sampling only, rarely) an unbounded per-call overflow region, so every draw stays a
/// pure function of `(seed, call_index, attempt)`.
struct Draws {
    window: [u32; 2],
    used: usize,
    seed: u64,
    call_index: u64,
    attempt: u32,
    overflow: Option<ChaCha8Rng>,
}

impl Draws {
    fn next_u32(&mut self) -> u32 {
        if let Some(v) = self.window.get(self.used) {
            self.used += 1;
            return *v;
        }
        let (seed, call_index, attempt) = (self.seed, self.call_index, self.attempt);
        let rng = self.overflow.get_or_insert_with(|| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(call_index);
            rng.set_word_pos(OVERFLOW_BASE + (u128::from(attempt) << 32));
            rng
        });
        rng.next_u32()
    }

    fn next_u64(&mut self) -> u64 {
        let lo = u64::from(self.next_u32());
        (u64::from(self.next_u32()) << 32) | lo
    }

    /// Uniform in `[0, n)` (`n > 0`), unbiased: Lemire's widening multiply with rejection, on one
    /// 32-bit word when `n ≤ 2^32`, on two otherwise.
    fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        if n == 1 << 32 {
            return u64::from(self.next_u32());
        }
        if let Ok(n32) = u32::try_from(n) {
            let mut m = u64::from(self.next_u32()) * u64::from(n32);
            if (m as u32) < n32 {
                let threshold = n32.wrapping_neg() % n32;
                while (m as u32) < threshold {
                    m = u64::from(self.next_u32()) * u64::from(n32);
                }
            }
            return m >> 32;
        }
        let mut m = u128::from(self.next_u64()) * u128::from(n);
        if (m as u64) < n {
            let threshold = n.wrapping_neg() % n;
            while (m as u64) < threshold {
                m = u128::from(self.next_u64()) * u128::from(n);
            }
        }
        (m >> 64) as u64
    }

    /// Uniform in `[lo, hi]` (`lo ≤ hi`), unbiased.
    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        match (hi - lo).checked_add(1) {
            Some(span) => lo + self.below(span),
            None => self.next_u64(),
        }
    }
}

/// The little-endian u32 at `at`.
fn le_u32(bytes: &[u8], at: usize) -> u32 {
    bytes
        .get(at..at + 4)
        .and_then(|s| <[u8; 4]>::try_from(s).ok())
        .map_or(0, u32::from_le_bytes)
}

/// Seeded chaos decisions for one run.
///
/// # Algorithm (pinned by a known-answer test)
/// ChaCha8 keyed by `seed_from_u64(seed)`. Attempt `a` (1-based) of call `i` uses two streams:
/// the **injection word** at word position `i` of stream `2(a−1)`, and two **auxiliary words**
/// at position `2i` of stream `2(a−1)+1`. So a decision depends only on
/// `(seed, profile, call_index, attempt)`, never on the order in which calls are decided, and a
/// batch reads both streams sequentially (12 bytes of key stream per call).
///
/// `injected = w < ⌊rate·2³²⌋` (exact integer threshold on a u32; rate 1 always injects). When
/// injected, from the auxiliary words: the failure type, uniform over the profile's list (Lemire
/// widening multiply with rejection: unbiased), then its parameter (Lemire again): latency in
/// `[latency_ms_min, latency_ms_max]`, retry-after in `[retry_after_ms_min,
/// retry_after_ms_max]`, 500 or 503 for `server_error`. Rejected draws continue in a per-call
/// overflow region (stream `i`, position `2^67 + a·2^32`), far from every decision word.
///
/// The profile **name is not part of the key**: only its rate and failure types matter. With
/// the same seed, the injection draw of a call is the same under every profile, so the calls a
/// lighter profile injects are a subset of those a heavier one injects (nested fault sets, which
/// makes `light` → `hellfire` comparisons meaningful), and two profiles with equal parameters
/// decide identically.
#[derive(Debug, Clone, PartialEq)]
pub struct ChaosEngine {
    seed: u64,
    profile_name: String,
    profile: ChaosProfile,
    faults: FaultSettings,
    threshold: Option<u32>,
}

impl ChaosEngine {
    /// An engine; checks the seed (≤ 2^53 − 1), the rate (in [0, 1]), the failure types (1 to
    /// 255 of them) and the fault ranges (min ≤ max).
    pub fn new(
        seed: u64,
        profile_name: impl Into<String>,
        profile: ChaosProfile,
        faults: FaultSettings,
    ) -> Result<Self> {
        if seed > MAX_SEED {
            return Err(Error::SeedRange {
                value: seed.to_string(),
            });
        }
        if !(0.0..=1.0).contains(&profile.rate) {
            return Err(Error::invalid(
                "rate",
                format!("must be in [0, 1], got {}", profile.rate),
            ));
        }
        if profile.failure_types.is_empty()
            || profile.failure_types.len() >= usize::from(ChaosBatch::NONE)
        {
            return Err(Error::invalid(
                "failure_types",
                "must list 1 to 254 failure types",
            ));
        }
        if faults.latency_ms_min > faults.latency_ms_max {
            return Err(Error::invalid("latency_ms_max", "must be ≥ latency_ms_min"));
        }
        if faults.retry_after_ms_min > faults.retry_after_ms_max {
            return Err(Error::invalid(
                "retry_after_ms_max",
                "must be ≥ retry_after_ms_min",
            ));
        }
        // `None` means "always" (rate 1). The product is exact: scaling by a power of two.
        let threshold = (profile.rate < 1.0).then_some((profile.rate * 4_294_967_296.0) as u32);
        Ok(Self {
            seed,
            profile_name: profile_name.into(),
            profile,
            faults,
            threshold,
        })
    }

    /// The engine of a named calibration profile (`None`: the default profile, rate
    /// `CHAOS_RATE`, every failure type, named [`DEFAULT_PROFILE_NAME`]). `seed` defaults to
    /// calibration `SEED`.
    pub fn from_calibration(
        cal: &Calibration,
        profile: Option<&str>,
        seed: Option<u64>,
    ) -> Result<Self> {
        let seed = seed.unwrap_or(cal.seed);
        match profile {
            Some(name) => Self::new(
                seed,
                name,
                cal.profile(name)?.clone(),
                cal.chaos_faults.clone(),
            ),
            None => Self::new(
                seed,
                DEFAULT_PROFILE_NAME,
                ChaosProfile {
                    rate: cal.chaos_rate,
                    failure_types: FailureType::ALL.to_vec(),
                },
                cal.chaos_faults.clone(),
            ),
        }
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The profile's name.
    pub fn profile_name(&self) -> &str {
        &self.profile_name
    }

    /// The profile.
    pub fn profile(&self) -> &ChaosProfile {
        &self.profile
    }

    /// The fault parameters.
    pub fn faults(&self) -> &FaultSettings {
        &self.faults
    }

    fn rng(&self) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(self.seed)
    }

    /// The streams of attempt `attempt` (≥ 1): injection words, auxiliary words.
    fn streams(attempt: u32) -> (u64, u64) {
        let base = u64::from(attempt.max(1) - 1) * 2;
        (base, base + 1)
    }

    fn is_injected(&self, word: u32) -> bool {
        self.threshold.is_none_or(|t| word < t)
    }

    fn injected_decision(&self, call_index: u64, attempt: u32, window: [u32; 2]) -> ChaosDecision {
        let mut d = Draws {
            window,
            used: 0,
            seed: self.seed,
            call_index,
            attempt,
            overflow: None,
        };
        let mut out = ChaosDecision {
            call_index,
            injected: false,
            failure_type: None,
            latency_ms: None,
            retry_after_ms: None,
            status: None,
        };
        let types = &self.profile.failure_types;
        let index = d.below(types.len() as u64) as usize;
        let Some(&kind) = types.get(index) else {
            return out;
        };
        out.injected = true;
        out.failure_type = Some(kind);
        let f = &self.faults;
        match kind {
            FailureType::Latency => {
                out.latency_ms = Some(d.between(f.latency_ms_min, f.latency_ms_max))
            }
            FailureType::RateLimit => {
                out.retry_after_ms = Some(d.between(f.retry_after_ms_min, f.retry_after_ms_max));
                out.status = Some(429);
            }
            FailureType::ServerError => out.status = Some(if d.below(2) == 0 { 500 } else { 503 }),
            FailureType::Overloaded => out.status = Some(529),
            _ => {}
        }
        out
    }

    fn not_injected(call_index: u64) -> ChaosDecision {
        ChaosDecision {
            call_index,
            injected: false,
            failure_type: None,
            latency_ms: None,
            retry_after_ms: None,
            status: None,
        }
    }

    /// The decision of call `call_index` (its first attempt).
    pub fn decide(&self, call_index: u64) -> ChaosDecision {
        self.decide_attempt(call_index, 1)
    }

    /// The decision of attempt `attempt` (1-based; 0 counts as 1) of call `call_index`: a retry
    /// of the same call is a new, independent draw, so a retried call is not doomed to fail
    /// the same way forever.
    pub fn decide_attempt(&self, call_index: u64, attempt: u32) -> ChaosDecision {
        let attempt = attempt.max(1);
        let (inject_stream, aux_stream) = Self::streams(attempt);
        let mut rng = self.rng();
        rng.set_stream(inject_stream);
        rng.set_word_pos(u128::from(call_index));
        if !self.is_injected(rng.next_u32()) {
            return Self::not_injected(call_index);
        }
        rng.set_stream(aux_stream);
        rng.set_word_pos(u128::from(call_index) * 2);
        let window = [rng.next_u32(), rng.next_u32()];
        self.injected_decision(call_index, attempt, window)
    }

    /// Decisions of calls `start .. start + count` (first attempts), identical to
    /// [`ChaosEngine::decide`] call by call, in compact arrays. `count` is clamped so that
    /// indices do not overflow.
    pub fn decide_batch(&self, start: u64, count: usize) -> ChaosBatch {
        /// Calls per `fill_bytes` of both streams.
        const CHUNK_CALLS: usize = 4096;
        let count = count.min(usize::try_from(u64::MAX - start).unwrap_or(usize::MAX));
        let mut batch = ChaosBatch {
            start,
            injected: vec![0; count],
            failure_type_index: vec![ChaosBatch::NONE; count],
            parameter: vec![0; count],
        };
        let (inject_stream, aux_stream) = Self::streams(1);
        let mut inject_rng = self.rng();
        inject_rng.set_stream(inject_stream);
        inject_rng.set_word_pos(u128::from(start));
        let mut aux_rng = self.rng();
        aux_rng.set_stream(aux_stream);
        aux_rng.set_word_pos(u128::from(start) * 2);
        let mut inject_buf = vec![0u8; CHUNK_CALLS * 4];
        let mut aux_buf = vec![0u8; CHUNK_CALLS * 8];
        let outputs = batch
            .injected
            .chunks_mut(CHUNK_CALLS)
            .zip(batch.failure_type_index.chunks_mut(CHUNK_CALLS))
            .zip(batch.parameter.chunks_mut(CHUNK_CALLS));
        let mut call_index = start;
        for ((injected, types), params) in outputs {
            let n = injected.len();
            let words = &mut inject_buf[..n * 4];
            let aux = &mut aux_buf[..n * 8];
            // Both streams read sequentially: the same words `decide` seeks to, call by call.
            inject_rng.fill_bytes(words);
            aux_rng.fill_bytes(aux);
            let calls = words.chunks_exact(4).zip(aux.chunks_exact(8));
            for (((w, a), inj), (ty, par)) in calls.zip(injected).zip(types.iter_mut().zip(params))
            {
                let index = call_index;
                call_index += 1;
                if !self.is_injected(le_u32(w, 0)) {
                    continue; // outputs are preset to "no fault"
                }
                let d = self.injected_decision(index, 1, [le_u32(a, 0), le_u32(a, 4)]);
                *inj = u8::from(d.injected);
                *ty = d
                    .failure_type
                    .and_then(|k| self.profile.failure_types.iter().position(|t| *t == k))
                    .and_then(|p| u8::try_from(p).ok())
                    .unwrap_or(ChaosBatch::NONE);
                let parameter = d
                    .latency_ms
                    .or(d.retry_after_ms)
                    .or(d.status.map(u64::from))
                    .unwrap_or(0);
                *par = u32::try_from(parameter).unwrap_or(u32::MAX);
            }
        }
        batch
    }
}

/// What became of a call, as recorded in the chaos log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(rename = "ChaosOutcome"))]
pub enum Outcome {
    /// No fault injected; the provider answered.
    Passed,
    /// A fault was injected and absorbed (e.g. `latency`, then success).
    Recovered,
    /// A fault was injected and surfaced to the caller as a coded error (never silently).
    Surfaced,
    /// No fault injected, but the provider itself failed (its error was propagated).
    Failed,
}

impl Outcome {
    /// Parses a snake_case name.
    pub fn parse(name: &str) -> Option<Outcome> {
        [
            Outcome::Passed,
            Outcome::Recovered,
            Outcome::Surfaced,
            Outcome::Failed,
        ]
        .into_iter()
        .find(|o| o.as_str() == name)
    }

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Recovered => "recovered",
            Outcome::Surfaced => "surfaced",
            Outcome::Failed => "failed",
        }
    }
}

/// One entry of `chaos-log.json`, with the runbook's field names. An injected entry names its
/// `failure_type`; an entry without a fault has none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(
    rename = "ChaosLogEntryRecord",
    deny_unknown_fields,
    extend(
        "if" = {"properties": {"injected": {"const": true}}},
        "then" = {"properties": {"failure_type": true}, "required": ["failure_type"]},
        "else" = {"properties": {"failure_type": false}}
    )
))]
pub struct ChaosLogEntry {
    /// Index of the call in the run.
    pub call_index: u64,
    /// Scene the call belonged to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scene_id: Option<String>,
    /// Whether a fault was injected.
    pub injected: bool,
    /// The fault (omitted when not injected).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_type: Option<FailureType>,
    /// When the call was made (given by the caller; deterministic runs pass a fixed clock).
    #[cfg_attr(feature = "schema", schemars(extend("format" = "date-time")))]
    pub timestamp: String,
    /// Attempt number of the call (1-based), when the caller retries.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub attempt: Option<u32>,
    /// What became of the call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// Code of the error the call ended with, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// Message of that error when the provider itself failed (not injected): a plain `Error`
    /// from a user module keeps its words here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// Injected latency, ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// Injected retry-after hint, ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
    /// Injected HTTP status.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(min = 100, max = 599)))]
    pub status: Option<u16>,
}

impl ChaosLogEntry {
    /// An entry for `decision`, without outcome.
    pub fn from_decision(
        decision: &ChaosDecision,
        scene_id: Option<String>,
        timestamp: impl Into<String>,
    ) -> Self {
        Self {
            call_index: decision.call_index,
            scene_id,
            injected: decision.injected,
            failure_type: decision.failure_type,
            timestamp: timestamp.into(),
            attempt: None,
            outcome: None,
            error_code: None,
            error_message: None,
            latency_ms: decision.latency_ms,
            retry_after_ms: decision.retry_after_ms,
            status: decision.status,
        }
    }
}

/// `chaos-log.json` (runbook phase 4, gate PR-G3), built by the core (`ChaosEngine.buildLog`)
/// and written by `omega-pr chaos` and `omega-pr stress --chaos`: a header (schema version, seed, profile, rate, failure types,
/// counts) and the entries, sorted by `(call_index, attempt)` so that concurrent runs with the
/// same seed write byte-identical logs.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "schema",
    schemars(rename = "ChaosLogDocument", deny_unknown_fields)
)]
pub struct ChaosLog {
    /// Always `OMEGA-CHAOS-LOG-1.0` ([`CHAOS_LOG_SCHEMA_VERSION`]).
    #[cfg_attr(feature = "schema", schemars(extend("const" = CHAOS_LOG_SCHEMA_VERSION)))]
    pub schema_version: &'static str,
    /// Seed of the run.
    pub seed: u64,
    /// Profile name.
    #[cfg_attr(feature = "schema", schemars(length(min = 1)))]
    pub profile: String,
    /// Injection rate of the profile.
    #[cfg_attr(feature = "schema", schemars(range(min = 0, max = 1)))]
    pub rate: f64,
    /// Failure types of the profile.
    #[cfg_attr(feature = "schema", schemars(extend("uniqueItems" = true)))]
    pub failure_types: Vec<FailureType>,
    /// Number of entries.
    pub total_calls: u64,
    /// Entries with a fault injected.
    pub injected_count: u64,
    /// `injected_count / total_calls` (0 when empty).
    #[cfg_attr(feature = "schema", schemars(range(min = 0, max = 1)))]
    pub injected_rate: f64,
    /// Entries per failure type (injected only), by name.
    #[cfg_attr(feature = "schema", schemars(extend("propertyNames" = crate::faults::failure_type_names_schema())))]
    pub by_failure_type: BTreeMap<String, u64>,
    /// The entries, sorted by `(call_index, attempt)`.
    pub entries: Vec<ChaosLogEntry>,
    /// Outcome faults (profile `outcome_faults`): answers that arrived corrupted instead of
    /// throwing, in `(call_index, attempt)` order. Filled by the TS layer, which sees the answers;
    /// absent when the profile has no outcome faults.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivered_faults: Option<Vec<DeliveredFault>>,
}

/// One outcome fault delivered (an answer that arrived corrupted), in `chaos-log.json`
/// `delivered_faults`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct DeliveredFault {
    /// Index of the call.
    pub call_index: u64,
    /// Attempt (1-based).
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub attempt: u32,
    /// Scene of the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scene_id: Option<String>,
    /// The fault.
    pub fault: crate::outcome::OutcomeFault,
    /// Always `true`: the answer was delivered (corrupted) rather than thrown.
    #[cfg_attr(feature = "schema", schemars(extend("const" = true)))]
    pub delivered: bool,
    /// Extra delay of a latency spike, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
}

impl ChaosLog {
    /// An empty log for `engine`'s run.
    pub fn new(engine: &ChaosEngine) -> Self {
        Self {
            schema_version: CHAOS_LOG_SCHEMA_VERSION,
            seed: engine.seed,
            profile: engine.profile_name.clone(),
            rate: engine.profile.rate,
            failure_types: engine.profile.failure_types.clone(),
            total_calls: 0,
            injected_count: 0,
            injected_rate: 0.0,
            by_failure_type: BTreeMap::new(),
            entries: Vec::new(),
            delivered_faults: None,
        }
    }

    /// Adds an entry.
    pub fn push(&mut self, entry: ChaosLogEntry) {
        self.total_calls += 1;
        if entry.injected {
            self.injected_count += 1;
            if let Some(kind) = entry.failure_type {
                *self
                    .by_failure_type
                    .entry(kind.as_str().to_owned())
                    .or_insert(0) += 1;
            }
        }
        self.injected_rate = self.injected_count as f64 / self.total_calls as f64;
        self.entries.push(entry);
    }

    /// The finished log: entries sorted by `(call_index, attempt)` (stable).
    pub fn finish(mut self) -> Self {
        self.entries
            .sort_by_key(|e| (e.call_index, e.attempt.unwrap_or(1)));
        self
    }

    /// Pretty JSON text (2-space indent, trailing newline).
    pub fn to_json_string(&self) -> Result<String> {
        serde_json::to_string_pretty(self)
            .map(|mut s| {
                s.push('\n');
                s
            })
            .map_err(|e| Error::invalid("chaos_log", e.to_string()))
    }
}

/// What gate PR-G3 judges a chaos run on (counts of the run's logical calls).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChaosGateInput {
    /// Logical calls made.
    pub calls: u64,
    /// Logical calls that ended in a success (after retries).
    pub calls_succeeded: u64,
    /// Observed injection rate within the tolerance of the profile's rate.
    pub rate_ok: bool,
    /// Injected (non-latency) faults whose attempt returned a success.
    pub silent_successes: u64,
    /// Successes with empty text.
    pub empty_successes: u64,
    /// The written documents read back as valid JSON.
    pub json_valid: bool,
}

/// Verdict of gate PR-G3 and every reason for a FAIL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChaosGateVerdict {
    /// `PASS` or `FAIL`.
    pub verdict: &'static str,
    /// Why it failed (empty on PASS), in words.
    pub reasons: Vec<String>,
}

/// Judges gate PR-G3. A run in which **no** logical call succeeded cannot pass, however well
/// the faults were injected: the retry layer never got a call through (issue 14).
pub fn judge_chaos_gate(g: &ChaosGateInput) -> ChaosGateVerdict {
    let mut reasons = Vec::new();
    if g.calls == 0 {
        reasons.push("no logical call was made".to_owned());
    } else if g.calls_succeeded == 0 {
        reasons.push(format!(
            "no logical call succeeded (0 of {}): retries never got a call through",
            g.calls
        ));
    }
    if !g.rate_ok {
        reasons.push("observed injection rate outside the tolerance of the profile's rate".into());
    }
    if g.silent_successes > 0 {
        reasons.push(format!(
            "{} injected fault(s) ended in a silent success",
            g.silent_successes
        ));
    }
    if g.empty_successes > 0 {
        reasons.push(format!(
            "{} call(s) succeeded with empty text",
            g.empty_successes
        ));
    }
    if !g.json_valid {
        reasons.push("chaos-log.json or run-cost.json is not valid JSON".into());
    }
    ChaosGateVerdict {
        verdict: if reasons.is_empty() { "PASS" } else { "FAIL" },
        reasons,
    }
}

/// Schema version of `chaos-summary.json` ([`ChaosSummary`]).
pub const CHAOS_SUMMARY_SCHEMA_VERSION: &str = "OMEGA-CHAOS-SUMMARY-1.0";

/// `chaos-summary.json`, gate PR-G3: written by `omega-pr chaos` next to `chaos-log.json`.
/// Injection rate vs the profile (±3.29 standard errors), faults recovered or surfaced, silent
/// successes (must be 0); `verdict` and `verdict_reasons` are [`judge_chaos_gate`]'s (and, with
/// `--engine`, the detection violations'). The TS layer counts the calls and writes this struct's
/// fields in this order (`generated` last).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct ChaosSummary {
    /// Always `OMEGA-CHAOS-SUMMARY-1.0` ([`CHAOS_SUMMARY_SCHEMA_VERSION`]).
    #[cfg_attr(feature = "schema", schemars(extend("const" = CHAOS_SUMMARY_SCHEMA_VERSION)))]
    pub schema_version: String,
    /// Provider the calls went to.
    #[cfg_attr(feature = "schema", schemars(length(min = 1)))]
    pub provider: String,
    /// Chaos profile.
    #[cfg_attr(feature = "schema", schemars(length(min = 1)))]
    pub profile: String,
    /// Seed of the run.
    pub seed: u64,
    /// Logical calls made.
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub calls: u64,
    /// Attempts (calls and their retries).
    pub attempts: u64,
    /// Attempts with a fault injected.
    pub injected: u64,
    /// Injection rate of the profile.
    #[cfg_attr(feature = "schema", schemars(range(min = 0, max = 1)))]
    pub expected_rate: f64,
    /// `injected / attempts` (6 decimals).
    #[cfg_attr(feature = "schema", schemars(range(min = 0, max = 1)))]
    pub observed_rate: f64,
    /// |observed − expected| allowed: 3.29 standard errors of a binomial proportion (99.9 %).
    #[cfg_attr(feature = "schema", schemars(range(min = 0)))]
    pub rate_tolerance: f64,
    /// The observed rate is within the tolerance.
    pub rate_ok: bool,
    /// Logical calls that ended in a success (after retries).
    pub calls_succeeded: u64,
    /// `calls − calls_succeeded`.
    pub calls_failed: u64,
    /// Calls with a fault that still succeeded through a retry.
    pub faults_recovered_by_retry: u64,
    /// Calls with a fault that surfaced to the caller as an error.
    pub faults_surfaced_to_caller: u64,
    /// Injected (non-latency) faults whose attempt returned a success: must be 0.
    pub silent_successes: u64,
    /// Calls that "succeeded" with empty text: must be 0.
    pub empty_successes: u64,
    /// `chaos-log.json` and `run-cost.json` read back as valid JSON.
    pub json_valid: bool,
    /// `run-cost.json`'s `budget_verdict`.
    #[cfg_attr(feature = "schema", schemars(extend("enum" = ["PASS", "FAIL"])))]
    pub budget_verdict: String,
    /// Gate PR-G3.
    #[cfg_attr(feature = "schema", schemars(extend("enum" = ["PASS", "FAIL"])))]
    pub verdict: String,
    /// Why PR-G3 failed, in words (empty on PASS); e.g. no logical call succeeded.
    pub verdict_reasons: Vec<String>,
    /// With `--engine`: the engine module's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(length(min = 1)))]
    pub engine: Option<String>,
    /// With `--engine`: runs of the engine under the profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runs: Option<u64>,
    /// With `--engine`: runs that failed as a whole (engine threw, timed out, budget, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runs_failed: Option<u64>,
    /// With `--engine`: outcome faults delivered and caught (null when the profile delivers
    /// none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(with = "ChaosSummaryOutcomesOrNull"))]
    pub outcome_chaos: Option<Option<ChaosSummaryOutcomes>>,
    /// With `--engine`: outcome fault types caught less often than the calibration's
    /// `OUTCOME_DETECTION_MIN`; each message is also a verdict reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detection_violations: Option<Vec<crate::outcome::DetectionViolation>>,
    /// When the summary was written, ISO 8601 UTC (from `SOURCE_DATE_EPOCH` when set).
    #[cfg_attr(feature = "schema", schemars(extend("format" = "date-time")))]
    pub generated: String,
}

/// Outcome faults of an engine's chaos run (`chaos-summary.json` `outcome_chaos`): answers that
/// arrived corrupted, and how many the stack or the engine caught.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct ChaosSummaryOutcomes {
    /// Outcome faults delivered.
    pub delivered: u64,
    /// Of them, caught.
    pub caught: u64,
    /// `caught / delivered`, null when none was delivered.
    #[cfg_attr(feature = "schema", schemars(range(min = 0, max = 1)))]
    pub detection_rate: Option<f64>,
    /// The same per fault type, by name.
    pub by_fault: BTreeMap<String, ChaosSummaryFaultCount>,
}

/// Outcome faults of one type delivered and caught.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct ChaosSummaryFaultCount {
    /// Faults of this type delivered.
    pub delivered: u64,
    /// Of them, caught.
    pub caught: u64,
    /// `caught / delivered`, null when none was delivered.
    #[cfg_attr(feature = "schema", schemars(range(min = 0, max = 1)))]
    pub detection_rate: Option<f64>,
}

/// The schema of a present `outcome_chaos`: the object or `null` (a property that may be absent
/// otherwise loses its `null`, see `schema::absent_not_null`).
#[cfg(feature = "schema")]
struct ChaosSummaryOutcomesOrNull;

#[cfg(feature = "schema")]
impl schemars::JsonSchema for ChaosSummaryOutcomesOrNull {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ChaosSummaryOutcomesOrNull".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let object = generator.subschema_for::<ChaosSummaryOutcomes>();
        schemars::json_schema!({
            "oneOf": [{ "type": "null" }, object]
        })
    }
}

/// A chaos settings file (`omega-pr chaos --chaos FILE`, the runbook's
/// `scripts/pr/chaos-config.json`): every key optional, no other key; a command-line flag
/// overrides the file. Read by the TS layer (`readChaosConfig`, errors naming the file and field).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "schema",
    schemars(
        deny_unknown_fields,
        title = "omega-pr chaos settings (omega-pr chaos --chaos FILE, scripts/pr/chaos-config.json)",
        description = "Every key optional; a command-line flag overrides the file."
    )
)]
pub struct ChaosConfigFile {
    /// The schema the file names (ignored).
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Free text (ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// light | medium | heavy | hellfire | default, or a profile of the calibration's
    /// chaos_profiles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(length(min = 1)))]
    pub profile: Option<String>,
    /// Logical calls to make.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub calls: Option<u64>,
    /// Seed (default: calibration SEED).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Calls in flight at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub concurrency: Option<u64>,
}

impl FailureType {
    /// Parses the name a JS caller gives as `failureType`; an unknown name is an invalid
    /// argument.
    pub fn from_js(name: &str) -> Result<FailureType> {
        FailureType::parse(name).ok_or_else(|| {
            Error::invalid("failureType", format!("unknown failure type \"{name}\""))
        })
    }
}

/// Most calls one [`ChaosEngine::decide_batch_js`] decides (2^31).
pub const MAX_BATCH_CALLS: u64 = 1 << 31;

impl ChaosEngine {
    /// [`ChaosEngine::decide_attempt`] with a JS number `callIndex` (a whole number) and an
    /// optional attempt (default 1).
    pub fn decide_js(&self, call_index: f64, attempt: Option<u32>) -> Result<ChaosDecision> {
        let index = crate::numbers::whole("callIndex", call_index)?;
        Ok(self.decide_attempt(index, attempt.unwrap_or(1)))
    }

    /// [`ChaosEngine::decide_batch`] with JS numbers: `start` and `count` whole numbers, `count`
    /// at most [`MAX_BATCH_CALLS`].
    pub fn decide_batch_js(&self, start: f64, count: f64) -> Result<ChaosBatch> {
        let start = crate::numbers::whole("start", start)?;
        let count = crate::numbers::whole("count", count)?;
        if count > MAX_BATCH_CALLS {
            return Err(Error::invalid(
                "count",
                format!("must be ≤ 2^31, got {count}"),
            ));
        }
        let count = usize::try_from(count).map_err(|e| Error::invalid("count", e.to_string()))?;
        Ok(self.decide_batch(start, count))
    }
}

/// One call as its caller reports it for `chaos-log.json`: a journal's chaos entries and the
/// entries `ChaosEngine.buildLog` takes (camelCase). The decision is not in it: the log recomputes
/// it from `(call_index, attempt)`, so it cannot disagree with the engine.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "schema",
    schemars(rename = "JournalChaosEntry", deny_unknown_fields)
)]
pub struct ChaosEntryInput {
    /// Index of the call.
    pub call_index: u64,
    /// Attempt (1-based).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// Scene of the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scene_id: Option<String>,
    /// When the call was made.
    pub timestamp: String,
    /// What became of the call (`passed`, `recovered`, `surfaced`, `failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<Outcome>"))]
    pub outcome: Option<String>,
    /// Code of the error the call ended with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// Message of that error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

impl ChaosLog {
    /// The finished log of the calls a caller reports, each decision recomputed from
    /// `(call_index, attempt)`. An unknown outcome is an error naming its entry
    /// (`entries[3].outcome`).
    pub fn from_calls<'a>(
        engine: &ChaosEngine,
        calls: impl IntoIterator<Item = &'a ChaosEntryInput>,
    ) -> Result<Self> {
        let mut log = ChaosLog::new(engine);
        for (i, c) in calls.into_iter().enumerate() {
            log.push(ChaosLogEntry::of_call(engine, i, c)?);
        }
        Ok(log.finish())
    }
}

impl ChaosLogEntry {
    /// The log entry of the reported call `c` (the `i`-th), as `engine` decides it, with what
    /// became of the call: `outcome` by name (`passed`, `recovered`, `surfaced`, `failed`;
    /// another name is an error naming `entries[i].outcome`).
    pub fn of_call(engine: &ChaosEngine, i: usize, c: &ChaosEntryInput) -> Result<Self> {
        let attempt = c.attempt;
        let decision = engine.decide_attempt(c.call_index, attempt.unwrap_or(1));
        let mut entry = ChaosLogEntry::from_decision(&decision, c.scene_id.clone(), &c.timestamp);
        entry.attempt = attempt;
        entry.outcome = match c.outcome.as_deref() {
            None => None,
            Some(name) => Some(Outcome::parse(name).ok_or_else(|| {
                Error::invalid(
                    format!("entries[{i}].outcome"),
                    format!("must be passed, recovered, surfaced or failed, got \"{name}\""),
                )
            })?),
        };
        entry.error_code = c.error_code.clone();
        entry.error_message = c.error_message.clone();
        Ok(entry)
    }
}

impl ChaosGateInput {
    /// The gate's input from JS numbers (each count a whole number, errors naming the JS
    /// field: `calls`, `callsSucceeded`, `silentSuccesses`, `emptySuccesses`).
    pub fn from_js(
        calls: f64,
        calls_succeeded: f64,
        rate_ok: bool,
        silent_successes: f64,
        empty_successes: f64,
        json_valid: bool,
    ) -> Result<Self> {
        use crate::numbers::whole;
        Ok(Self {
            calls: whole("calls", calls)?,
            calls_succeeded: whole("callsSucceeded", calls_succeeded)?,
            rate_ok,
            silent_successes: whole("silentSuccesses", silent_successes)?,
            empty_successes: whole("emptySuccesses", empty_successes)?,
            json_valid,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calibration::default_calibration;
    use proptest::prelude::*;

    fn engine(profile: &str, seed: u64) -> ChaosEngine {
        let cal = default_calibration().unwrap_or_else(|e| panic!("{e}"));
        ChaosEngine::from_calibration(&cal, Some(profile), Some(seed))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    #[allow(clippy::unwrap_used)] // a test may panic
    fn js_arguments_of_the_engine_are_checked() {
        let e = engine("heavy", 7);
        assert_eq!(e.decide_js(5.0, None).unwrap(), e.decide_attempt(5, 1));
        assert_eq!(e.decide_js(5.0, Some(2)).unwrap(), e.decide_attempt(5, 2));
        assert_eq!(
            e.decide_js(-3.0, None).unwrap_err().to_string(),
            "invalid argument `callIndex`: must not be negative, got -3"
        );
        assert_eq!(
            e.decide_batch_js(10.0, 50.0).unwrap(),
            e.decide_batch(10, 50)
        );
        assert_eq!(
            e.decide_batch_js(0.0, 4294967296.0)
                .unwrap_err()
                .to_string(),
            "invalid argument `count`: must be ≤ 2^31, got 4294967296"
        );
        assert!(e
            .decide_batch_js(0.5, 1.0)
            .unwrap_err()
            .to_string()
            .contains("`start`"));
    }

    #[test]
    #[allow(clippy::unwrap_used)] // a test may panic
    fn log_of_reported_calls() {
        let e = engine("heavy", 7);
        let call = |i: u64, outcome: Option<&str>| ChaosEntryInput {
            call_index: i,
            attempt: None,
            scene_id: None,
            timestamp: "2023-11-14T22:13:20.000Z".into(),
            outcome: outcome.map(str::to_owned),
            error_code: None,
            error_message: None,
        };
        let log = ChaosLog::from_calls(&e, &[call(2, Some("passed")), call(1, None)]).unwrap();
        assert_eq!(log.entries.len(), 2);
        assert_eq!(log.entries[0].call_index, 1);
        assert_eq!(log.entries[1].outcome, Some(Outcome::Passed));
        assert_eq!(log.entries[1].injected, e.decide_attempt(2, 1).injected);
        assert_eq!(
            ChaosLog::from_calls(&e, &[call(0, None), call(1, Some("lost"))])
                .unwrap_err()
                .to_string(),
            "invalid argument `entries[1].outcome`: must be passed, recovered, surfaced or failed, got \"lost\""
        );
    }

    #[test]
    #[allow(clippy::unwrap_used)] // a test may panic
    fn gate_input_from_js_numbers() {
        let g = ChaosGateInput::from_js(10.0, 9.0, true, 0.0, 0.0, true).unwrap();
        assert_eq!(judge_chaos_gate(&g).verdict, "PASS");
        assert!(ChaosGateInput::from_js(10.0, 1.5, true, 0.0, 0.0, true)
            .unwrap_err()
            .to_string()
            .contains("`callsSucceeded`"));
    }

    #[test]
    #[allow(clippy::unwrap_used)] // a test may panic
    fn failure_type_from_js() {
        assert_eq!(
            FailureType::from_js("rate_limit").unwrap(),
            FailureType::RateLimit
        );
        assert_eq!(
            FailureType::from_js("meteor").unwrap_err().to_string(),
            "invalid argument `failureType`: unknown failure type \"meteor\""
        );
    }

    fn custom(rate: f64, types: Vec<FailureType>) -> ChaosEngine {
        let faults = FaultSettings {
            latency_ms_min: 50,
            latency_ms_max: 1500,
            retry_after_ms_min: 100,
            retry_after_ms_max: 2000,
        };
        ChaosEngine::new(
            7,
            "custom",
            ChaosProfile {
                rate,
                failure_types: types,
            },
            faults,
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn same_inputs_same_decision() {
        let a = engine("heavy", 42);
        let b = engine("heavy", 42);
        for i in 0..1000 {
            assert_eq!(a.decide(i), b.decide(i));
        }
        let c = engine("heavy", 43);
        assert!(
            (0..1000).any(|i| a.decide(i) != c.decide(i)),
            "seed must matter"
        );
    }

    #[test]
    fn order_independent_and_batch_matches() {
        let e = engine("hellfire", 42);
        let forward: Vec<_> = (0..2000).map(|i| e.decide(i)).collect();
        let mut reversed: Vec<_> = (0..2000).rev().map(|i| e.decide(i)).collect();
        reversed.reverse();
        assert_eq!(forward, reversed);
        let batch = e.decide_batch(0, 2000);
        let mid = e.decide_batch(777, 500);
        for (i, d) in forward.iter().enumerate() {
            assert_eq!(batch.injected[i] == 1, d.injected, "call {i}");
            let want = d
                .failure_type
                .and_then(|k| e.profile().failure_types.iter().position(|t| *t == k))
                .map_or(ChaosBatch::NONE, |p| p as u8);
            assert_eq!(batch.failure_type_index[i], want);
            let param = d
                .latency_ms
                .or(d.retry_after_ms)
                .or(d.status.map(u64::from))
                .unwrap_or(0);
            assert_eq!(u64::from(batch.parameter[i]), param);
            if (777..1277).contains(&i) {
                assert_eq!(mid.injected[i - 777], batch.injected[i]);
                assert_eq!(mid.failure_type_index[i - 777], batch.failure_type_index[i]);
            }
        }
    }

    #[test]
    fn rates_within_one_point_over_10k() {
        for (name, rate) in [
            ("light", 0.05),
            ("medium", 0.15),
            ("heavy", 0.30),
            ("hellfire", 0.50),
        ] {
            let e = engine(name, 42);
            let n = 10_000u64;
            let injected = (0..n).filter(|&i| e.decide(i).injected).count() as f64;
            let got = injected / n as f64;
            assert!((got - rate).abs() <= 0.01, "{name}: {got} vs {rate}");
            let mut seen: Vec<FailureType> =
                (0..n).filter_map(|i| e.decide(i).failure_type).collect();
            seen.sort();
            seen.dedup();
            let mut want = e.profile().failure_types.clone();
            want.sort();
            assert_eq!(
                seen, want,
                "{name}: every listed failure type occurs, and only those"
            );
        }
    }

    #[test]
    fn failure_types_roughly_uniform() {
        let e = custom(1.0, FailureType::ALL.to_vec());
        let mut counts = [0u32; 9];
        for i in 0..90_000 {
            if let Some(k) = e.decide(i).failure_type {
                counts[FailureType::ALL.iter().position(|t| *t == k).unwrap_or(0)] += 1;
            }
        }
        for c in counts {
            assert!((9_400..=10_600).contains(&c), "{counts:?}");
        }
    }

    #[test]
    fn rate_zero_never_rate_one_always() {
        let never = custom(0.0, FailureType::ALL.to_vec());
        let always = custom(1.0, FailureType::ALL.to_vec());
        for i in 0..10_000 {
            assert!(!never.decide(i).injected);
            assert!(always.decide(i).injected);
        }
        assert!(never
            .decide_batch(0, 10_000)
            .injected
            .iter()
            .all(|&b| b == 0));
        assert!(always
            .decide_batch(0, 10_000)
            .injected
            .iter()
            .all(|&b| b == 1));
    }

    #[test]
    fn lighter_profiles_inject_a_subset() {
        let light = engine("light", 42);
        let hell = engine("hellfire", 42);
        for i in 0..5000 {
            if light.decide(i).injected {
                assert!(hell.decide(i).injected, "call {i}");
            }
        }
    }

    #[test]
    fn attempts_are_independent_draws() {
        let e = custom(0.5, FailureType::ALL.to_vec());
        assert_eq!(e.decide(5), e.decide_attempt(5, 1));
        assert_eq!(e.decide_attempt(5, 0), e.decide_attempt(5, 1));
        let differ = (0..1000)
            .filter(|&i| e.decide_attempt(i, 1) != e.decide_attempt(i, 2))
            .count();
        assert!(differ > 400, "{differ}");
    }

    #[test]
    fn known_answer_seed_42_medium() {
        let e = engine("medium", 42);
        let got: Vec<String> = (0..200)
            .map(|i| e.decide(i))
            .filter(|d| d.injected)
            .take(10)
            .map(|d| serde_json::to_string(&d).unwrap_or_default())
            .collect();
        let want = [
            r#"{"call_index":2,"injected":true,"failure_type":"timeout"}"#,
            r#"{"call_index":11,"injected":true,"failure_type":"empty_response"}"#,
            r#"{"call_index":34,"injected":true,"failure_type":"timeout"}"#,
            r#"{"call_index":39,"injected":true,"failure_type":"rate_limit","retry_after_ms":300,"status":429}"#,
            r#"{"call_index":47,"injected":true,"failure_type":"empty_response"}"#,
            r#"{"call_index":49,"injected":true,"failure_type":"timeout"}"#,
            r#"{"call_index":63,"injected":true,"failure_type":"server_error","status":500}"#,
            r#"{"call_index":68,"injected":true,"failure_type":"empty_response"}"#,
            r#"{"call_index":70,"injected":true,"failure_type":"empty_response"}"#,
            r#"{"call_index":75,"injected":true,"failure_type":"server_error","status":503}"#,
        ];
        assert_eq!(got, want);
        assert!((0..2).all(|i| !e.decide(i).injected));
        let latency = ChaosEngine::from_calibration(
            &default_calibration().unwrap_or_else(|e| panic!("{e}")),
            Some("hellfire"),
            Some(42),
        )
        .map(|h| {
            (0..100)
                .filter_map(|i| h.decide(i).latency_ms)
                .take(3)
                .collect::<Vec<_>>()
        });
        assert_eq!(latency.ok(), Some(vec![1044, 653, 1381]));
    }

    /// Retries draw from their own streams, keyed by the attempt: the first injected decisions of
    /// attempts 2 and 3 are pinned (as `call:type:parameter`), so a change of keying (streams, word
    /// positions, the attempt in the overflow key) shows.
    #[test]
    fn known_answer_seed_42_attempts_2_and_3() {
        let first_injected = |e: &ChaosEngine, attempt: u32| -> Vec<String> {
            (0..400)
                .map(|i| e.decide_attempt(i, attempt))
                .filter(|d| d.injected)
                .take(8)
                .map(|d| {
                    let param = d
                        .latency_ms
                        .or(d.retry_after_ms)
                        .or(d.status.map(u64::from))
                        .unwrap_or(0);
                    let kind = d.failure_type.map(FailureType::as_str).unwrap_or("?");
                    format!("{}:{kind}:{param}", d.call_index)
                })
                .collect()
        };
        let medium = engine("medium", 42);
        let hell = engine("hellfire", 42);
        assert_eq!(
            first_injected(&medium, 2),
            [
                "0:empty_response:0",
                "7:rate_limit:852",
                "8:empty_response:0",
                "17:latency:970",
                "19:timeout:0",
                "20:connection_reset:0",
                "24:rate_limit:628",
                "32:server_error:500",
            ]
        );
        assert_eq!(
            first_injected(&medium, 3),
            [
                "0:empty_response:0",
                "2:rate_limit:1116",
                "10:empty_response:0",
                "17:rate_limit:792",
                "19:empty_response:0",
                "30:empty_response:0",
                "37:empty_response:0",
                "49:timeout:0",
            ]
        );
        assert_eq!(
            first_injected(&hell, 2),
            [
                "0:empty_response:0",
                "1:malformed_json:0",
                "2:truncated_response:0",
                "3:empty_response:0",
                "6:timeout:0",
                "7:server_error:500",
                "8:truncated_response:0",
                "9:server_error:503",
            ]
        );
        assert_eq!(
            first_injected(&hell, 3),
            [
                "0:empty_response:0",
                "2:server_error:503",
                "4:latency:968",
                "6:malformed_json:0",
                "9:server_error:503",
                "10:empty_response:0",
                "14:rate_limit:1583",
                "16:overloaded:529",
            ]
        );
        // Attempt 0 counts as 1; attempt 2 of a call is not its attempt 1 or 3.
        assert_eq!(medium.decide_attempt(7, 0), medium.decide(7));
        assert_ne!(medium.decide_attempt(7, 2), medium.decide_attempt(7, 3));
    }

    #[test]
    fn invalid_settings_are_refused() {
        let faults = FaultSettings {
            latency_ms_min: 10,
            latency_ms_max: 5,
            retry_after_ms_min: 0,
            retry_after_ms_max: 0,
        };
        let p = ChaosProfile {
            rate: 0.1,
            failure_types: vec![FailureType::Timeout],
        };
        assert_eq!(
            ChaosEngine::new(1, "x", p.clone(), faults.clone()).map_err(|e| e.code()),
            Err("ERR_OMEGA_INVALID_ARGUMENT")
        );
        let ok_faults = FaultSettings {
            latency_ms_max: 10,
            ..faults
        };
        assert_eq!(
            ChaosEngine::new(MAX_SEED + 1, "x", p.clone(), ok_faults.clone()).map_err(|e| e.code()),
            Err("ERR_OMEGA_SEED_RANGE")
        );
        let bad_rate = ChaosProfile {
            rate: f64::NAN,
            ..p.clone()
        };
        let err = ChaosEngine::new(1, "x", bad_rate, ok_faults.clone())
            .err()
            .map(|e| (e.code(), e.to_string()));
        assert!(
            matches!(&err, Some(("ERR_OMEGA_INVALID_ARGUMENT", m)) if m.contains("rate")),
            "{err:?}"
        );
        let empty = ChaosProfile {
            rate: 0.1,
            failure_types: vec![],
        };
        let err = ChaosEngine::new(1, "x", empty, ok_faults)
            .err()
            .map(|e| (e.code(), e.to_string()));
        assert!(
            matches!(&err, Some(("ERR_OMEGA_INVALID_ARGUMENT", m)) if m.contains("failure_types")),
            "{err:?}"
        );
        let cal = default_calibration().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            ChaosEngine::from_calibration(&cal, Some("nope"), None).map_err(|e| e.code()),
            Err("ERR_OMEGA_UNKNOWN_PROFILE")
        );
        let default =
            ChaosEngine::from_calibration(&cal, None, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(default.profile_name(), DEFAULT_PROFILE_NAME);
        assert_eq!(default.seed(), 42);
        assert_eq!(default.profile().rate, cal.chaos_rate);
        assert_eq!(default.profile().failure_types, FailureType::ALL.to_vec());
    }

    #[test]
    fn huge_indices_do_not_panic() {
        let e = custom(1.0, FailureType::ALL.to_vec());
        let _ = e.decide(u64::MAX);
        let _ = e.decide_attempt(u64::MAX, u32::MAX);
        let b = e.decide_batch(u64::MAX - 2, 10);
        assert_eq!(b.injected.len(), 2);
    }

    #[test]
    fn chaos_log_shape_and_order() {
        let e = engine("medium", 42);
        let mut log = ChaosLog::new(&e);
        for i in (0..20).rev() {
            let d = e.decide(i);
            let mut entry = ChaosLogEntry::from_decision(
                &d,
                Some(format!("SCN-{:02}", i + 1)),
                "2026-01-01T00:00:00.000Z",
            );
            entry.outcome = Some(if d.injected {
                Outcome::Surfaced
            } else {
                Outcome::Passed
            });
            log.push(entry);
        }
        let log = log.finish();
        let v = serde_json::to_value(&log).unwrap_or_default();
        assert_eq!(v["schema_version"], CHAOS_LOG_SCHEMA_VERSION);
        assert_eq!(v["seed"], 42);
        assert_eq!(v["profile"], "medium");
        assert_eq!(v["rate"], 0.15);
        assert_eq!(v["total_calls"], 20);
        let entries = v["entries"].as_array().cloned().unwrap_or_default();
        assert_eq!(entries.len(), 20);
        for (i, entry) in entries.iter().enumerate() {
            assert_eq!(entry["call_index"], i as u64);
            assert_eq!(entry["scene_id"], format!("SCN-{:02}", i + 1));
            let injected = entry["injected"].as_bool().unwrap_or(false);
            assert_eq!(entry.get("failure_type").is_some(), injected, "{entry}");
            assert_eq!(
                entry["outcome"],
                if injected { "surfaced" } else { "passed" }
            );
            assert!(entry["timestamp"].is_string());
        }
        let text = log.to_json_string().unwrap_or_default();
        assert!(text.ends_with("}\n"));
        assert_eq!(Outcome::parse("recovered"), Some(Outcome::Recovered));
    }

    proptest! {
        #[test]
        fn parameters_within_ranges(seed in 0u64..=MAX_SEED, index in any::<u64>(), lmin in 0u64..5000, lspan in 0u64..5000, rmin in 0u64..5000, rspan in 0u64..5000) {
            let faults = FaultSettings {
                latency_ms_min: lmin,
                latency_ms_max: lmin + lspan,
                retry_after_ms_min: rmin,
                retry_after_ms_max: rmin + rspan,
            };
            let profile = ChaosProfile { rate: 1.0, failure_types: vec![FailureType::Latency, FailureType::RateLimit, FailureType::ServerError, FailureType::Overloaded, FailureType::Timeout] };
            let e = ChaosEngine::new(seed, "p", profile, faults).unwrap_or_else(|e| panic!("{e}"));
            let d = e.decide(index);
            prop_assert!(d.injected);
            match d.failure_type {
                Some(FailureType::Latency) => {
                    let l = d.latency_ms.unwrap_or(u64::MAX);
                    prop_assert!((lmin..=lmin + lspan).contains(&l));
                    prop_assert_eq!(d.status, None);
                }
                Some(FailureType::RateLimit) => {
                    let r = d.retry_after_ms.unwrap_or(u64::MAX);
                    prop_assert!((rmin..=rmin + rspan).contains(&r));
                    prop_assert_eq!(d.status, Some(429));
                }
                Some(FailureType::ServerError) => prop_assert!(matches!(d.status, Some(500 | 503))),
                Some(FailureType::Overloaded) => prop_assert_eq!(d.status, Some(529)),
                Some(FailureType::Timeout) => prop_assert_eq!((d.status, d.latency_ms, d.retry_after_ms), (None, None, None)),
                other => prop_assert!(false, "unexpected {:?}", other),
            }
            prop_assert_eq!(d, e.decide(index));
        }

        #[test]
        fn draws_between_small_spans(lo in 0u64..1_000_000, span in 0u64..200_000_000, seed in any::<u64>()) {
            let mut d = Draws { window: [seed as u32, (seed >> 32) as u32], used: 0, seed, call_index: 9, attempt: 2, overflow: None };
            for _ in 0..8 {
                let v = d.between(lo, lo + span);
                prop_assert!(v >= lo && v <= lo + span);
            }
            prop_assert!(d.below(1) == 0);
            prop_assert!(d.below(1 << 32) < 1 << 32);
        }

        #[test]
        fn draws_between_stay_in_range(lo in any::<u64>(), span in any::<u64>(), seed in any::<u64>()) {
            let hi = lo.saturating_add(span);
            let mut d = Draws { window: [seed as u32, (seed >> 32) as u32], used: 0, seed, call_index: 3, attempt: 1, overflow: None };
            for _ in 0..8 {
                let v = d.between(lo, hi);
                prop_assert!(v >= lo && v <= hi);
            }
        }
    }

    #[test]
    fn papercut_12_chaos_with_no_successful_call_cannot_pass() {
        let ok = ChaosGateInput {
            calls: 5,
            calls_succeeded: 5,
            rate_ok: true,
            silent_successes: 0,
            empty_successes: 0,
            json_valid: true,
        };
        assert_eq!(judge_chaos_gate(&ok).verdict, "PASS");
        assert!(judge_chaos_gate(&ok).reasons.is_empty());
        let none = ChaosGateInput {
            calls_succeeded: 0,
            ..ok
        };
        let v = judge_chaos_gate(&none);
        assert_eq!(v.verdict, "FAIL");
        assert_eq!(
            v.reasons,
            vec!["no logical call succeeded (0 of 5): retries never got a call through".to_owned()]
        );
        let nothing = ChaosGateInput {
            calls: 0,
            calls_succeeded: 0,
            ..ok
        };
        assert_eq!(judge_chaos_gate(&nothing).verdict, "FAIL");
    }
}
