//! `RetryPolicy` for JS: which failures are retryable and how long to wait (exponential backoff
//! with full jitter, seeded by `(seed, callIndex, attempt)`, honouring `retry-after` within caps
//! and the deadline). See `omega_pr_core::retry`.

use napi_derive::napi;
use omega_pr_core::retry::{self, RetryInput};

use crate::error::{from_core, seed, whole, Code};
use napi::Result;

/// Options of a `RetryPolicy`: calibration `retry` (shipped defaults when omitted), each
/// value overridable.
#[napi(object, object_to_js = false)]
pub struct RetryPolicyOptions {
    /// Calibration document; defaults to the shipped one.
    #[napi(ts_type = "Calibration | CalibrationDocument")]
    pub calibration: Option<crate::calibration::CalibrationArg>,
    /// Seed of the jitter (a non-negative safe integer); defaults to calibration `SEED`.
    pub seed: Option<f64>,
    /// Attempts in all, the first included (≥ 1).
    pub max_attempts: Option<u32>,
    /// Base of the exponential backoff, ms.
    pub base_delay_ms: Option<f64>,
    /// Cap of one backoff delay, ms.
    pub max_delay_ms: Option<f64>,
    /// Cap of a provider's `retry-after` hint, ms.
    pub max_retry_after_ms: Option<f64>,
    /// Time budget of one logical call across all its attempts, ms.
    pub deadline_ms: Option<f64>,
}

/// What failed, and when.
#[napi(object)]
pub struct RetryDecisionInput {
    /// Index of the logical call (keys the jitter).
    pub call_index: f64,
    /// The attempt that just failed (1-based).
    pub attempt: u32,
    /// Whether the failure is retryable (see `isRetryable`).
    pub retryable: bool,
    /// The provider's `retry-after` hint, ms.
    pub retry_after_ms: Option<f64>,
    /// Time since the first attempt started, ms.
    pub elapsed_ms: f64,
}

/// A retry decision.
#[napi(object)]
pub struct RetryDecision {
    /// Whether to retry.
    pub retry: bool,
    /// Wait before the next attempt, ms (0 when not retrying).
    pub delay_ms: f64,
    /// Why: retrying after `backoff` or `retry_after`; stopping on `not_retryable`,
    /// `max_attempts` or `deadline`.
    #[napi(ts_type = "'backoff' | 'retry_after' | 'not_retryable' | 'max_attempts' | 'deadline'")]
    pub reason: String,
}

/// A seeded retry policy.
#[napi]
pub struct RetryPolicy {
    inner: retry::RetryPolicy,
    seed: u64,
}

#[napi]
impl RetryPolicy {
    /// Throws `ERR_OMEGA_CALIBRATION`, `ERR_OMEGA_SEED_RANGE` or `ERR_OMEGA_INVALID_ARGUMENT`
    /// (naming the field) for bad options.
    #[napi(constructor)]
    pub fn new(options: Option<RetryPolicyOptions>) -> Result<Self, Code> {
        let o = options.unwrap_or(RetryPolicyOptions {
            calibration: None,
            seed: None,
            max_attempts: None,
            base_delay_ms: None,
            max_delay_ms: None,
            max_retry_after_ms: None,
            deadline_ms: None,
        });
        let cal = crate::calibration::parse(o.calibration)?;
        let ms = |field: &str, v: Option<f64>| v.map(|v| whole(field, v)).transpose();
        let overrides = retry::RetryOverrides {
            max_attempts: o.max_attempts,
            base_delay_ms: ms("baseDelayMs", o.base_delay_ms)?,
            max_delay_ms: ms("maxDelayMs", o.max_delay_ms)?,
            max_retry_after_ms: ms("maxRetryAfterMs", o.max_retry_after_ms)?,
            deadline_ms: ms("deadlineMs", o.deadline_ms)?,
        };
        let p = cal.retry.with_overrides(&overrides).map_err(from_core)?;
        let seed = match o.seed {
            Some(s) => seed(s)?,
            None => cal.seed,
        };
        Ok(Self { inner: p, seed })
    }

    /// Whether (and after how long) to retry after a failed attempt. Pure: same input → same
    /// decision.
    #[napi]
    pub fn decide(&self, input: RetryDecisionInput) -> Result<RetryDecision, Code> {
        let call_index = whole("callIndex", input.call_index)?;
        let retry_after_ms = input
            .retry_after_ms
            .map(|v| whole("retryAfterMs", v))
            .transpose()?;
        let elapsed_ms = whole("elapsedMs", input.elapsed_ms.max(0.0).floor())?;
        let d = self.inner.decide(
            self.seed,
            call_index,
            input.attempt,
            RetryInput {
                retryable: input.retryable,
                retry_after_ms,
            },
            elapsed_ms,
        );
        Ok(RetryDecision {
            retry: d.retry,
            delay_ms: d.delay_ms as f64,
            reason: d.reason.as_str().to_owned(),
        })
    }

    /// Upper bound of the jittered delay after attempt `attempt`:
    /// `min(maxDelayMs, baseDelayMs · 2^(attempt−1))`.
    #[napi]
    pub fn backoff_cap_ms(&self, attempt: u32) -> f64 {
        self.inner.backoff_cap_ms(attempt) as f64
    }

    /// The jitter seed.
    #[napi(getter)]
    pub fn seed(&self) -> f64 {
        self.seed as f64
    }

    /// Attempts in all, the first included.
    #[napi(getter)]
    pub fn max_attempts(&self) -> u32 {
        self.inner.max_attempts
    }

    /// Base of the backoff, ms.
    #[napi(getter)]
    pub fn base_delay_ms(&self) -> f64 {
        self.inner.base_delay_ms as f64
    }

    /// Cap of one backoff delay, ms.
    #[napi(getter)]
    pub fn max_delay_ms(&self) -> f64 {
        self.inner.max_delay_ms as f64
    }

    /// Cap of a `retry-after` hint, ms.
    #[napi(getter)]
    pub fn max_retry_after_ms(&self) -> f64 {
        self.inner.max_retry_after_ms as f64
    }

    /// Time budget of one logical call, ms.
    #[napi(getter)]
    pub fn deadline_ms(&self) -> f64 {
        self.inner.deadline_ms as f64
    }
}

/// Whether a failure is retryable, by chaos failure type (`timeout`, …; `latency` is not a
/// failure) or error code (`ERR_OMEGA_RATE_LIMIT`, `ECONNRESET`, …). Budget refusals, invalid
/// requests/arguments, unknown models and unknown codes are not retryable.
#[napi]
pub fn is_retryable(kind: String) -> bool {
    retry::classify(&kind)
}

/// Whether an HTTP status is retryable (408, 425, 429, 500, 502, 503, 504, 529).
#[napi]
pub fn is_retryable_status(status: u32) -> bool {
    u16::try_from(status).is_ok_and(retry::classify_status)
}

/// What is known of a foreign failure (a plain `Error`, an SDK's HTTP error).
#[napi(object)]
pub struct FailureFactsInput {
    /// `err.code`.
    pub code: Option<String>,
    /// `err.cause.code`.
    pub cause_code: Option<String>,
    /// HTTP status.
    pub status: Option<u32>,
    /// `err.name`.
    pub name: Option<String>,
    /// `retry-after-ms` header value.
    pub retry_after_ms_header: Option<String>,
    /// `retry-after` header value (seconds).
    pub retry_after_header: Option<String>,
}

/// The class of a failure.
#[napi(object)]
pub struct FailureClassInfo {
    /// Stable code (`ERR_OMEGA_RATE_LIMIT`, `ERR_OMEGA_CONNECTION_RESET`, …, or the failure's own).
    pub code: String,
    /// Whether retrying may help.
    pub retryable: bool,
    /// Wait the server asked for, ms.
    pub retry_after_ms: Option<f64>,
}

/// Classifies a failure that did not come from omega-pr (the core's one rule): HTTP 429/529/
/// 500/502/503/504/408 and network-ish codes (`ECONNRESET`, `ETIMEDOUT`, `EAI_AGAIN`, …) are
/// retryable; 400/401/403/404 and unknown errors are not.
#[napi]
pub fn classify_failure(facts: FailureFactsInput) -> FailureClassInfo {
    let c = retry::classify_failure(&retry::FailureFacts {
        code: facts.code,
        cause_code: facts.cause_code,
        status: facts.status.and_then(|s| u16::try_from(s).ok()),
        name: facts.name,
        retry_after_ms_header: facts.retry_after_ms_header,
        retry_after_header: facts.retry_after_header,
    });
    FailureClassInfo {
        code: c.code,
        retryable: c.retryable,
        retry_after_ms: c.retry_after_ms.map(|v| v as f64),
    }
}
