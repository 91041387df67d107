//! `RateLimiter` for JS: the providers' per-minute limits (token buckets) and the AIMD window of
//! calls in flight. Thin: the clock is the caller's (`nowMs`), every decision is the core's
//! (`omega_pr_core::ratelimit`).

use napi_derive::napi;
use omega_pr_core::ratelimit::{self, Acquire, Outcome, RateLimits, MAX_LIMIT_PER_MINUTE};

use crate::error::{invalid, whole, Code};
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

fn limit(field: &str, v: Option<f64>) -> Result<Option<u64>, Code> {
    let Some(v) = v else { return Ok(None) };
    let n = whole(field, v)?;
    if !(1..=MAX_LIMIT_PER_MINUTE).contains(&n) {
        return Err(invalid(
            field,
            format!("must be in [1, {MAX_LIMIT_PER_MINUTE}], got {n}"),
        ));
    }
    Ok(Some(n))
}

fn opt_whole(field: &str, v: Option<f64>) -> Result<Option<u64>, Code> {
    v.map(|x| whole(field, x)).transpose()
}

#[napi]
impl RateLimiter {
    /// Throws `ERR_OMEGA_INVALID_ARGUMENT` naming the field for a bad limit or option.
    #[napi(constructor)]
    pub fn new(options: RateLimiterOptions) -> Result<Self, Code> {
        let l = &options.limits;
        let limits = RateLimits {
            requests_per_minute: limit("limits.requestsPerMinute", l.requests_per_minute)?,
            tokens_per_minute: limit("limits.tokensPerMinute", l.tokens_per_minute)?,
            input_tokens_per_minute: limit(
                "limits.inputTokensPerMinute",
                l.input_tokens_per_minute,
            )?,
            output_tokens_per_minute: limit(
                "limits.outputTokensPerMinute",
                l.output_tokens_per_minute,
            )?,
            max_in_flight: l.max_in_flight,
            initial_in_flight: l.initial_in_flight,
        };
        if limits.requests_per_minute.is_none()
            && limits.tokens_per_minute.is_none()
            && limits.input_tokens_per_minute.is_none()
            && limits.output_tokens_per_minute.is_none()
        {
            return Err(invalid("limits", "must set at least one per-minute limit"));
        }
        if options.shares == Some(0) {
            return Err(invalid("shares", "must be ≥ 1, got 0"));
        }
        let limits = limits.share(u64::from(options.shares.unwrap_or(1)));
        let now = opt_whole("nowMs", options.now_ms.map(f64::floor))?.unwrap_or(0);
        let estimate =
            opt_whole("initialOutputEstimate", options.initial_output_estimate)?.unwrap_or(0);
        Ok(Self {
            inner: ratelimit::RateLimiter::new(limits, now, estimate),
            name: l.name.clone(),
        })
    }

    /// Admits a call of `inputTokens` (an estimate) at `nowMs` — charged to every bucket — or
    /// says how long to wait (a `retry-after` not passed yet, a bucket short of the cost).
    /// Ask for one call at a time (FIFO).
    #[napi]
    pub fn acquire(&mut self, now_ms: f64, input_tokens: f64) -> Result<RateAcquire, Code> {
        let now = whole("nowMs", now_ms.max(0.0).floor())?;
        let input = whole("inputTokens", input_tokens.max(0.0).ceil())?;
        Ok(match self.inner.acquire(now, input) {
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
        let ticket = whole("ticket", ticket)?;
        let now = whole("nowMs", now_ms.max(0.0).floor())?;
        let outcome = match settlement.outcome.as_str() {
            "success" => Outcome::Success,
            "failed" => Outcome::Failed,
            "throttled" => Outcome::Throttled {
                status: if settlement.status == Some(529) {
                    529
                } else {
                    429
                },
                retry_after_ms: opt_whole(
                    "retryAfterMs",
                    settlement.retry_after_ms.map(|v| v.max(0.0).ceil()),
                )?,
            },
            other => {
                return Err(invalid(
                    "outcome",
                    format!("must be \"success\", \"throttled\" or \"failed\", got \"{other}\""),
                ))
            }
        };
        let tokens = |field: &str, v: Option<f64>| {
            opt_whole(
                field,
                v.filter(|x| x.is_finite()).map(|x| x.max(0.0).ceil()),
            )
        };
        let input = tokens("inputTokens", settlement.input_tokens)?;
        let output = tokens("outputTokens", settlement.output_tokens)?;
        Ok(self.inner.settle(ticket, now, outcome, input, output))
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
