//! `RateLimiter` for JS: the providers' per-minute limits (token buckets) and the AIMD window of
//! calls in flight. Thin: the clock is the caller's (`nowMs`), every decision is the core's
//! (`omega_pr_core::ratelimit`).

use napi_derive::napi;
use omega_pr_core::ratelimit::{self, Acquire, JsLimiterArgs, JsSettlement, RateLimits};

use crate::error::{from_core, Code};
use napi::Result;

/// The rate limits of one model (calibration `rate_limits.<name>`).
#[napi(object)]
#[derive(Clone)]
pub struct RateLimitsInfo {
    /// The calibration key that matched (a model name or a `prefix*` pattern).
    pub name: String,
    /// Requests per minute (RPM).
    pub requests_per_minute: Option<f64>,
    /// Input + output tokens per minute (OpenAI's TPM).
    pub tokens_per_minute: Option<f64>,
    /// Input tokens per minute (Anthropic's ITPM).
    pub input_tokens_per_minute: Option<f64>,
    /// Output tokens per minute (Anthropic's OTPM).
    pub output_tokens_per_minute: Option<f64>,
    /// Upper bound of the window of calls in flight (default 64).
    pub max_in_flight: Option<u32>,
    /// Starting window of calls in flight (default 8).
    pub initial_in_flight: Option<u32>,
}

fn info(name: &str, l: &RateLimits) -> RateLimitsInfo {
    let f = |v: Option<u64>| v.map(|x| x as f64);
    RateLimitsInfo {
        name: name.to_owned(),
        requests_per_minute: f(l.requests_per_minute),
        tokens_per_minute: f(l.tokens_per_minute),
        input_tokens_per_minute: f(l.input_tokens_per_minute),
        output_tokens_per_minute: f(l.output_tokens_per_minute),
        max_in_flight: l.max_in_flight,
        initial_in_flight: l.initial_in_flight,
    }
}

/// The rate limits calibration `rate_limits` sets for `model` (matched like prices: exact name,
/// provider prefix, snapshot date, the priced model of an alias, `prefix*` patterns), or null.
/// Throws `ERR_OMEGA_CALIBRATION` for an invalid calibration.
#[napi(
    ts_args_type = "calibration: Calibration | CalibrationDocument | undefined | null, model: string"
)]
pub fn rate_limits_for(
    calibration: Option<crate::calibration::CalibrationArg>,
    model: String,
) -> Result<Option<RateLimitsInfo>, Code> {
    let cal = crate::calibration::parse(calibration)?;
    let priced = cal.budget.resolve(&model).map(|(_, m)| m.matched);
    Ok(ratelimit::resolve(&cal.rate_limits, &model, priced.as_deref()).map(|(k, l)| info(k, l)))
}

/// Whether a failed call was throttled, and as which status to settle it: 529 (HTTP 529 or
/// `ERR_OMEGA_OVERLOADED`), 429 (HTTP 429 or `ERR_OMEGA_RATE_LIMIT`), or null for any other
/// failure. The core's rule (`ratelimit::throttle_status`).
#[napi]
pub fn throttle_status(status: Option<u32>, code: Option<String>) -> Option<u32> {
    let status = status.and_then(|s| u16::try_from(s).ok());
    ratelimit::throttle_status(status, code.as_deref()).map(u32::from)
}

/// Options of a `RateLimiter`.
#[napi(object)]
pub struct RateLimiterOptions {
    /// The limits (from `rateLimitsFor`).
    pub limits: RateLimitsInfo,
    /// The clock now, ms (any monotonic origin; default 0).
    pub now_ms: Option<f64>,
    /// Split the limits `shares` ways (shards running at once on one account; default 1).
    pub shares: Option<u32>,
    /// Output tokens charged per call before any call settled (default 0).
    pub initial_output_estimate: Option<f64>,
}

/// What `acquire` decided.
#[napi(object)]
pub struct RateAcquire {
    /// Admitted (and charged): settle it with `ticket`.
    pub ready: bool,
    /// Ticket of the admitted call (0 when not ready).
    pub ticket: f64,
    /// Not ready: ms to wait before asking again (0 when ready).
    pub wait_ms: f64,
}

/// How an admitted call ended.
#[napi(object)]
pub struct RateSettlement {
    /// `success`, `throttled` (HTTP 429/529) or `failed` (anything else).
    #[napi(ts_type = "'success' | 'throttled' | 'failed'")]
    pub outcome: String,
    /// HTTP status of a throttled call (429 or 529; default 429).
    pub status: Option<u32>,
    /// The server's `retry-after`, ms.
    pub retry_after_ms: Option<f64>,
    /// Input tokens billed, when known.
    pub input_tokens: Option<f64>,
    /// Output tokens billed, when known.
    pub output_tokens: Option<f64>,
}

/// Counters of a limiter.
#[napi(object)]
pub struct RateLimitStatsInfo {
    /// Calls admitted.
    pub admitted: f64,
    /// Acquisitions told to wait.
    pub waits: f64,
    /// Calls settled as successes.
    pub succeeded: f64,
    /// HTTP 429 answers seen.
    #[napi(js_name = "responses429")]
    pub responses_429: f64,
    /// HTTP 529 answers seen.
    #[napi(js_name = "responses529")]
    pub responses_529: f64,
    /// Multiplicative decreases of the window.
    pub decreases: f64,
    /// Input tokens billed.
    pub input_tokens: f64,
    /// Output tokens billed.
    pub output_tokens: f64,
    /// Smallest window of calls in flight reached.
    pub min_in_flight: u32,
    /// Largest window of calls in flight reached.
    pub max_in_flight: u32,
    /// Successful requests per minute, first admission to last settle.
    pub effective_rpm: Option<f64>,
    /// Billed input tokens per minute over the same span.
    pub effective_input_tpm: Option<f64>,
    /// Billed output tokens per minute over the same span.
    pub effective_output_tpm: Option<f64>,
}

/// A rate limiter for one model: token buckets for its per-minute limits (never more than the
/// limit in any minute) and an AIMD window of calls in flight (additive increase on success,
/// halved on 429/529, `retry-after` honoured). Pure: the clock is passed in.
#[napi]
pub struct RateLimiter {
    inner: ratelimit::RateLimiter,
    name: String,
}

#[napi]
impl RateLimiter {
    /// Throws `ERR_OMEGA_INVALID_ARGUMENT` naming the field for a bad limit or option.
    #[napi(constructor)]
    pub fn new(options: RateLimiterOptions) -> Result<Self, Code> {
        let l = options.limits;
        let inner = ratelimit::RateLimiter::from_js(&JsLimiterArgs {
            per_minute: [
                l.requests_per_minute,
                l.tokens_per_minute,
                l.input_tokens_per_minute,
                l.output_tokens_per_minute,
            ],
            max_in_flight: l.max_in_flight,
            initial_in_flight: l.initial_in_flight,
            now_ms: options.now_ms,
            shares: options.shares,
            initial_output_estimate: options.initial_output_estimate,
        })
        .map_err(from_core)?;
        Ok(Self {
            inner,
            name: l.name,
        })
    }

    /// Admits a call of `inputTokens` (an estimate) at `nowMs` — charged to every bucket — or
    /// says how long to wait (a `retry-after` not passed yet, a bucket short of the cost).
    /// Ask for one call at a time (FIFO).
    #[napi]
    pub fn acquire(&mut self, now_ms: f64, input_tokens: f64) -> Result<RateAcquire, Code> {
        let acquired = self
            .inner
            .acquire_js(now_ms, input_tokens)
            .map_err(from_core)?;
        Ok(match acquired {
            Acquire::Ready { ticket } => RateAcquire {
                ready: true,
                ticket: ticket as f64,
                wait_ms: 0.0,
            },
            Acquire::Wait { ms } => RateAcquire {
                ready: false,
                ticket: 0.0,
                wait_ms: ms as f64,
            },
        })
    }

    /// Settles the call of `ticket`: billed tokens correct the estimates, the window reacts to
    /// the outcome. Returns false for an unknown (or already settled) ticket.
    #[napi]
    pub fn settle(
        &mut self,
        ticket: f64,
        now_ms: f64,
        settlement: RateSettlement,
    ) -> Result<bool, Code> {
        self.inner
            .settle_js(
                ticket,
                now_ms,
                &JsSettlement {
                    outcome: &settlement.outcome,
                    status: settlement.status,
                    retry_after_ms: settlement.retry_after_ms,
                    input_tokens: settlement.input_tokens,
                    output_tokens: settlement.output_tokens,
                },
            )
            .map_err(from_core)
    }

    /// Calls allowed in flight now (the AIMD window, whole, in `[1, maxInFlight]`).
    #[napi(getter)]
    pub fn concurrency(&self) -> u32 {
        self.inner.concurrency()
    }

    /// The AIMD window (fractional).
    #[napi(getter)]
    pub fn window(&self) -> f64 {
        self.inner.window()
    }

    /// Output tokens charged per call now (the running mean of the settled ones).
    #[napi(getter)]
    pub fn output_estimate(&self) -> f64 {
        self.inner.output_estimate() as f64
    }

    /// Calls admitted and not settled.
    #[napi(getter)]
    pub fn open_calls(&self) -> u32 {
        u32::try_from(self.inner.open_calls()).unwrap_or(u32::MAX)
    }

    /// The calibration key of the limits.
    #[napi(getter)]
    pub fn name(&self) -> String {
        self.name.clone()
    }

    /// The limits enforced (after the split between shards).
    #[napi(getter)]
    pub fn limits(&self) -> RateLimitsInfo {
        info(&self.name, self.inner.limits())
    }

    /// The counters.
    #[napi]
    pub fn stats(&self) -> RateLimitStatsInfo {
        let s = self.inner.stats();
        RateLimitStatsInfo {
            admitted: s.admitted as f64,
            waits: s.waits as f64,
            succeeded: s.succeeded as f64,
            responses_429: s.responses_429 as f64,
            responses_529: s.responses_529 as f64,
            decreases: s.decreases as f64,
            input_tokens: s.input_tokens as f64,
            output_tokens: s.output_tokens as f64,
            min_in_flight: s.min_in_flight,
            max_in_flight: s.max_in_flight,
            effective_rpm: s.effective_rpm(),
            effective_input_tpm: s.per_minute(s.input_tokens),
            effective_output_tpm: s.per_minute(s.output_tokens),
        }
    }
}
