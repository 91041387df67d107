//! `ChaosEngine` for JS: seeded, order-independent fault-injection decisions (see
//! `omega_pr_core::chaos`), a fast batch path, and the `chaos-log.json` builder.

use napi::bindgen_prelude::{Uint32Array, Uint8Array};
use napi_derive::napi;
use omega_pr_core::chaos::{
    self, ChaosEntryInput, ChaosGateInput as CoreGateInput, ChaosLog, FailureType,
};
use serde_json::Value;

use crate::error::{from_core, whole, Code};
use napi::Result;

/// Options of a `ChaosEngine`.
#[napi(object, object_to_js = false)]
pub struct ChaosEngineOptions {
    /// Profile name from calibration `chaos_profiles` (`light`, `medium`, `heavy`, `hellfire`);
    /// omitted: rate `CHAOS_RATE` with every failure type, named `default`.
    pub profile: Option<String>,
    /// Seed (a non-negative safe integer); defaults to calibration `SEED`.
    pub seed: Option<f64>,
    /// Calibration document; defaults to the shipped one.
    #[napi(ts_type = "Calibration | CalibrationDocument")]
    pub calibration: Option<crate::calibration::CalibrationArg>,
}

/// The chaos decision of one call.
#[napi(object)]
pub struct ChaosDecision {
    /// Index of the call.
    pub call_index: f64,
    /// Whether a fault is injected.
    pub injected: bool,
    /// The fault, when injected.
    #[napi(ts_type = "FailureType")]
    pub failure_type: Option<String>,
    /// Injected delay of a `latency` fault, ms.
    pub latency_ms: Option<f64>,
    /// `retry-after` hint of a `rate_limit` fault, ms.
    pub retry_after_ms: Option<f64>,
    /// HTTP status: 500/503 (`server_error`), 429 (`rate_limit`), 529 (`overloaded`).
    pub status: Option<u32>,
    /// The `ERR_OMEGA_…` code a provider throws for this fault (absent for `latency` and when
    /// not injected).
    pub error_code: Option<String>,
}

impl From<chaos::ChaosDecision> for ChaosDecision {
    fn from(d: chaos::ChaosDecision) -> Self {
        Self {
            call_index: d.call_index as f64,
            injected: d.injected,
            failure_type: d.failure_type.map(|t| t.as_str().to_owned()),
            latency_ms: d.latency_ms.map(|v| v as f64),
            retry_after_ms: d.retry_after_ms.map(|v| v as f64),
            status: d.status.map(u32::from),
            error_code: d
                .failure_type
                .and_then(FailureType::error_code)
                .map(str::to_owned),
        }
    }
}

/// Decisions of calls `start .. start + count`, in typed arrays.
#[napi(object)]
pub struct ChaosBatch {
    /// First call index.
    pub start: f64,
    /// 1 when call `start + i` gets a fault, else 0.
    pub injected: Uint8Array,
    /// Index into `engine.failureTypes` of the fault of call `start + i`; 255 when none.
    pub failure_type_index: Uint8Array,
    /// The fault's parameter: latency ms, retry-after ms or HTTP status; 0 when none.
    pub parameter: Uint32Array,
}

/// One entry given to `ChaosEngine.buildLog` (camelCase in, snake_case out).
#[napi(object)]
pub struct ChaosLogEntryInput {
    /// Index of the call.
    pub call_index: f64,
    /// Attempt number of the call (1-based), when retried with the same index.
    pub attempt: Option<u32>,
    /// Scene the call belonged to.
    pub scene_id: Option<String>,
    /// When the call was made (ISO 8601 text, from the caller's clock).
    pub timestamp: String,
    /// What became of the call.
    #[napi(ts_type = "ChaosOutcome")]
    pub outcome: Option<String>,
    /// Code of the error the call ended with.
    pub error_code: Option<String>,
    /// Message of the error, for failures of the provider itself (not injected).
    pub error_message: Option<String>,
}

/// Seeded chaos decisions for one run: a decision is a pure function of
/// `(seed, profile, callIndex, attempt)` — the same run injects the same faults whatever the
/// order of concurrent calls. The profile's name is not part of the key (only its rate and
/// failure types), so with one seed the calls `light` injects are a subset of those `heavy`
/// injects.
#[napi]
pub struct ChaosEngine {
    inner: chaos::ChaosEngine,
}

#[napi]
impl ChaosEngine {
    /// Throws `ERR_OMEGA_UNKNOWN_PROFILE` for a profile the calibration lacks,
    /// `ERR_OMEGA_SEED_RANGE` for a seed that is not an integer in 0..=2^53−1,
    /// `ERR_OMEGA_CALIBRATION` for an invalid calibration.
    #[napi(constructor)]
    pub fn new(options: Option<ChaosEngineOptions>) -> Result<Self, Code> {
        let (profile, seed_value, calibration) = match options {
            Some(o) => (o.profile, o.seed, o.calibration),
            None => (None, None, None),
        };
        let cal = crate::calibration::parse(calibration)?;
        let seed_value = seed_value
            .map(omega_pr_core::numbers::seed)
            .transpose()
            .map_err(from_core)?;
        let inner = chaos::ChaosEngine::from_calibration(&cal, profile.as_deref(), seed_value)
            .map_err(from_core)?;
        Ok(Self { inner })
    }

    /// The decision of call `callIndex` (attempt `attempt`, 1-based, default 1; another
    /// attempt of the same call is an independent draw).
    #[napi]
    pub fn decide(&self, call_index: f64, attempt: Option<u32>) -> Result<ChaosDecision, Code> {
        self.inner
            .decide_js(call_index, attempt)
            .map(Into::into)
            .map_err(from_core)
    }

    /// Decisions of calls `start .. start + count` (first attempts), identical to `decide` call
    /// by call, in typed arrays (the fast path: one ChaCha stream read sequentially).
    #[napi]
    pub fn decide_batch(&self, start: f64, count: f64) -> Result<ChaosBatch, Code> {
        let b = self
            .inner
            .decide_batch_js(start, count)
            .map_err(from_core)?;
        Ok(ChaosBatch {
            start: b.start as f64,
            injected: Uint8Array::new(b.injected),
            failure_type_index: Uint8Array::new(b.failure_type_index),
            parameter: Uint32Array::new(b.parameter),
        })
    }

    /// Injection rate of the profile.
    #[napi(getter)]
    pub fn rate(&self) -> f64 {
        self.inner.profile().rate
    }

    /// Profile name (`default` without a named profile).
    #[napi(getter)]
    pub fn profile(&self) -> String {
        self.inner.profile_name().to_owned()
    }

    /// The seed.
    #[napi(getter)]
    pub fn seed(&self) -> f64 {
        self.inner.seed() as f64
    }

    /// The failure types the profile draws from, in order (`decideBatch` indexes into it).
    #[napi(getter, ts_return_type = "FailureType[]")]
    pub fn failure_types(&self) -> Vec<String> {
        self.inner
            .profile()
            .failure_types
            .iter()
            .map(|t| t.as_str().to_owned())
            .collect()
    }

    fn core_log(&self, entries: Vec<ChaosLogEntryInput>) -> Result<ChaosLog, Code> {
        let mut calls = Vec::with_capacity(entries.len());
        for (i, e) in entries.into_iter().enumerate() {
            calls.push(ChaosEntryInput {
                call_index: whole(&format!("entries[{i}].callIndex"), e.call_index)?,
                attempt: e.attempt,
                scene_id: e.scene_id,
                timestamp: e.timestamp,
                outcome: e.outcome,
                error_code: e.error_code,
                error_message: e.error_message,
            });
        }
        ChaosLog::from_calls(&self.inner, &calls).map_err(from_core)
    }

    /// `chaos-log.json` as text (2-space indent, trailing newline, keys in the runbook's order:
    /// `call_index`, `scene_id`, `injected`, `failure_type`, `timestamp`, then outcome fields).
    /// Same seed and calls → byte-identical text.
    #[napi]
    pub fn build_log_json(&self, entries: Vec<ChaosLogEntryInput>) -> Result<String, Code> {
        self.core_log(entries)?.to_json_string().map_err(from_core)
    }

    /// Builds the `chaos-log.json` content from the calls made (decisions are recomputed from
    /// `callIndex`/`attempt`, so the log cannot disagree with the engine): the core's document,
    /// typed from its schema (`ChaosLogDocument`). Entries are sorted by `(call_index, attempt)`:
    /// same seed and calls → identical log. (Key order of the returned object is not the
    /// runbook's; write files with `buildLogJson`.)
    #[napi(ts_return_type = "ChaosLogDocument")]
    pub fn build_log(&self, entries: Vec<ChaosLogEntryInput>) -> Result<Value, Code> {
        serde_json::to_value(self.core_log(entries)?).map_err(crate::error::internal)
    }
}

/// The `ERR_OMEGA_…` code a provider throws for a failure type (`null` for `latency`, which is
/// a delay then success). Throws `ERR_OMEGA_INVALID_ARGUMENT` for an unknown name.
#[napi]
pub fn failure_type_error_code(failure_type: String) -> Result<Option<String>, Code> {
    FailureType::from_js(&failure_type)
        .map(|t| t.error_code().map(str::to_owned))
        .map_err(from_core)
}

/// What gate PR-G3 judges (counts of a chaos run's logical calls).
#[napi(object)]
pub struct ChaosGateInput {
    /// Logical calls made.
    pub calls: f64,
    /// Logical calls that ended in a success.
    pub calls_succeeded: f64,
    /// Observed injection rate within tolerance.
    pub rate_ok: bool,
    /// Injected faults that ended in a silent success.
    pub silent_successes: f64,
    /// Successes with empty text.
    pub empty_successes: f64,
    /// The written documents are valid JSON.
    pub json_valid: bool,
}

/// Verdict of gate PR-G3.
#[napi(object)]
pub struct ChaosGateVerdict {
    /// `PASS` or `FAIL`.
    #[napi(ts_type = "'PASS' | 'FAIL'")]
    pub verdict: String,
    /// Every reason of a FAIL, in words (empty on PASS).
    pub reasons: Vec<String>,
}

/// Judges gate PR-G3 (core `chaos::judge_chaos_gate`): a run in which no logical call succeeded
/// cannot pass.
#[napi]
pub fn judge_chaos_gate(input: ChaosGateInput) -> Result<ChaosGateVerdict, Code> {
    let v = chaos::judge_chaos_gate(
        &CoreGateInput::from_js(
            input.calls,
            input.calls_succeeded,
            input.rate_ok,
            input.silent_successes,
            input.empty_successes,
            input.json_valid,
        )
        .map_err(from_core)?,
    );
    Ok(ChaosGateVerdict {
        verdict: v.verdict.to_owned(),
        reasons: v.reasons,
    })
}
