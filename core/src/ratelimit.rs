//! Client-side rate limiting: the providers' per-minute limits (calibration `rate_limits`),
//! enforced **before** each attempt by token buckets, plus an AIMD controller of the number of
//! calls in flight.
//!
//! Pure and deterministic: the clock is passed in (`now_ms`, any monotonic origin), nothing here
//! reads the time or sleeps, so the same sequence of calls gives the same decisions (tests drive
//! it with a fake clock; it builds for `wasm32-unknown-unknown`).
//!
//! ## The buckets
//! One bucket per configured limit `L` per minute (requests, input tokens, output tokens,
//! input + output tokens). Capacity `B = max(1, ⌈L / 60⌉)` (one second of the limit), refilled
//! continuously at `(L − B + 1)` per minute, starting full. Arithmetic is exact (integers in
//! units of 1/60 000 token), so over **any** window of 60 000 ms (half-open, integer ms) at most
//! `L` is admitted: `B + (L − B + 1)·59 999/60 000 < L + 1` (see the property test). The
//! throughput ceiling is thus `(L − B + 1)/L` of the limit (98.5 % at 600 RPM, 99.8 % at
//! 30 000 ITPM): the price of never bursting past the provider's limit.
//!
//! A request costs 1 request, its input estimate, and an output estimate (the mean output of
//! the calls settled so far; before the first settle, `initial_output_estimate`). A cost larger
//! than a bucket's capacity is admitted only when the bucket is full, leaving it in debt.
//! [`RateLimiter::settle`] corrects the estimates with the billed figures (a refund, or a debt
//! the following calls wait for).
//!
//! ## The concurrency controller (AIMD)
//! `window` starts at `initial_in_flight`; each successful call adds 1 below the slow-start
//! threshold and `1/window` above it (one per round trip) — only for a call admitted without
//! waiting for the buckets while at least half the window was in use (as TCP validates its
//! congestion window, RFC 7661): when the buckets pace the calls, a larger window would only
//! queue more of them, so the window stays within twice what the limits let through; a 429 or
//! 529 multiplies it by ½ (never below 1), once per round trip (a throttle on a call admitted
//! before the last decrease does not decrease it again), sets the slow-start threshold to the
//! new window, empties the buckets, and blocks every acquisition until the server's
//! `retry-after` has passed. [`RateLimiter::concurrency`] is `⌊window⌋` in
//! `[1, max_in_flight]`.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::faults::FailureType;

/// Milliseconds in the limits' period (one minute).
pub const PERIOD_MS: u64 = 60_000;

/// Largest per-minute limit accepted (10⁹).
pub const MAX_LIMIT_PER_MINUTE: u64 = 1_000_000_000;

/// Default upper bound of the calls in flight (`max_in_flight`).
pub const DEFAULT_MAX_IN_FLIGHT: u32 = 64;

/// Default starting window of calls in flight (`initial_in_flight`): the stress default `K`.
pub const DEFAULT_INITIAL_IN_FLIGHT: u32 = 8;

/// The limits of one model (calibration `rate_limits.<model>`); every field optional, at least
/// one of the four per-minute limits set.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct RateLimits {
    /// Requests per minute (RPM).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests_per_minute: Option<u64>,
    /// Input + output tokens per minute (OpenAI's TPM).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens_per_minute: Option<u64>,
    /// Input tokens per minute (Anthropic's ITPM).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_tokens_per_minute: Option<u64>,
    /// Output tokens per minute (Anthropic's OTPM).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_tokens_per_minute: Option<u64>,
    /// Upper bound of the AIMD window (default 64).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_in_flight: Option<u32>,
    /// Starting AIMD window (default 8, at most `max_in_flight`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_in_flight: Option<u32>,
}

impl RateLimits {
    /// The same limits divided by `n` (at least 1 each): the share of one of `n` shards running
    /// at once against the same account.
    pub fn share(&self, n: u64) -> Self {
        let n = n.max(1);
        let div = |v: Option<u64>| v.map(|x| (x / n).max(1));
        Self {
            requests_per_minute: div(self.requests_per_minute),
            tokens_per_minute: div(self.tokens_per_minute),
            input_tokens_per_minute: div(self.input_tokens_per_minute),
            output_tokens_per_minute: div(self.output_tokens_per_minute),
            max_in_flight: self.max_in_flight,
            initial_in_flight: self.initial_in_flight,
        }
    }
}

/// Finds the rate limits of `model` in `limits` (calibration `rate_limits`). First hit wins: the
/// exact name; the name without a provider prefix (`openai/gpt-4o` → `gpt-4o`, each `/` from the
/// left); the name without a snapshot date (`gpt-4o-2024-08-06` → `gpt-4o`); `priced_as` (the
/// priced model the budget resolved the name to, aliases included); finally keys ending in `*`
/// (prefix match, the longest wins). Returns the matching key and its limits.
pub fn resolve<'a>(
    limits: &'a BTreeMap<String, RateLimits>,
    model: &str,
    priced_as: Option<&str>,
) -> Option<(&'a str, &'a RateLimits)> {
    let plain = |name: &str| -> Option<(&'a str, &'a RateLimits)> {
        if let Some((k, v)) = limits.get_key_value(name) {
            return Some((k.as_str(), v));
        }
        let mut rest = name;
        while let Some((_, tail)) = rest.split_once('/') {
            if let Some((k, v)) = limits.get_key_value(tail) {
                return Some((k.as_str(), v));
            }
            rest = tail;
        }
        None
    };
    plain(model)
        .or_else(|| crate::budget::strip_snapshot_date(model).and_then(plain))
        .or_else(|| priced_as.and_then(plain))
        .or_else(|| {
            limits
                .iter()
                .filter_map(|(k, v)| {
                    let prefix = k.strip_suffix('*')?;
                    model
                        .starts_with(prefix)
                        .then_some((prefix.len(), k.as_str(), v))
                })
                .max_by_key(|(len, _, _)| *len)
                .map(|(_, k, v)| (k, v))
        })
}

/// What a bucket limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Requests,
    Tokens,
    Input,
    Output,
}

/// One token bucket of a per-minute limit, in exact units of 1/60 000 (so one token refilled
/// per minute is one unit per ms).
#[derive(Debug, Clone)]
struct Bucket {
    kind: Kind,
    /// Capacity, units.
    capacity: i128,
    /// Refill per ms, units (`L − B + 1`).
    rate: i128,
    /// Level, units (negative: debt).
    level: i128,
    /// Time of the last refill, ms.
    at: u64,
}

impl Bucket {
    fn new(kind: Kind, per_minute: u64, now: u64) -> Self {
        let limit = per_minute.clamp(1, MAX_LIMIT_PER_MINUTE);
        let burst = limit.div_ceil(60).max(1);
        let capacity = i128::from(burst) * i128::from(PERIOD_MS);
        Self {
            kind,
            capacity,
            rate: i128::from(limit - burst + 1),
            level: capacity,
            at: now,
        }
    }

    fn refill(&mut self, now: u64) {
        if now > self.at {
            let gained = i128::from(now - self.at) * self.rate;
            self.level = (self.level + gained).min(self.capacity).max(self.level);
            self.at = now;
        }
    }

    /// Units a cost of `amount` needs in the bucket: the cost, or a full bucket when larger.
    fn needed(&self, amount: u64) -> i128 {
        (i128::from(amount) * i128::from(PERIOD_MS)).min(self.capacity)
    }

    /// Ms until `needed` units are there (0 when they are).
    fn wait_for(&self, needed: i128) -> u64 {
        let deficit = needed - self.level;
        if deficit <= 0 {
            return 0;
        }
        let ms = (deficit + self.rate - 1) / self.rate;
        u64::try_from(ms).unwrap_or(u64::MAX)
    }

    fn take(&mut self, amount: u64) {
        self.level -= i128::from(amount) * i128::from(PERIOD_MS);
    }

    /// Adds back `amount` (a refund), never above capacity.
    fn give(&mut self, amount: u64) {
        self.level = (self.level + i128::from(amount) * i128::from(PERIOD_MS)).min(self.capacity);
    }
}

/// The outcome of [`RateLimiter::acquire`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acquire {
    /// Go: the call is admitted and charged; settle it with this ticket.
    Ready {
        /// Ticket to pass to [`RateLimiter::settle`].
        ticket: u64,
    },
    /// Not yet: ask again after this many ms (nothing was charged).
    Wait {
        /// Ms to wait (≥ 1).
        ms: u64,
    },
}

/// How an admitted call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Answered (the window grows).
    Success,
    /// HTTP 429 (rate limited) or 529 (overloaded): the window shrinks; `retry_after_ms` (the
    /// server's hint) blocks every acquisition until it has passed.
    Throttled {
        /// 429 or 529.
        status: u16,
        /// The server's `retry-after`, ms.
        retry_after_ms: Option<u64>,
    },
    /// Any other failure (the window is unchanged).
    Failed,
}

/// What one admitted call cost (charged at admission).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Charge {
    input: u64,
    output: u64,
    /// Decrease epoch at admission.
    epoch: u64,
    /// Admitted without waiting for the buckets, with the window at least half full: the
    /// window, not the limits, was the constraint.
    window_limited: bool,
}

/// Counters of a limiter (for the report).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct RateLimitStats {
    /// Calls admitted.
    pub admitted: u64,
    /// Acquisitions told to wait.
    pub waits: u64,
    /// Calls settled as successes.
    pub succeeded: u64,
    /// 429 answers seen.
    pub responses_429: u64,
    /// 529 answers seen.
    pub responses_529: u64,
    /// Multiplicative decreases of the window.
    pub decreases: u64,
    /// Input tokens billed (settled).
    pub input_tokens: u64,
    /// Output tokens billed (settled).
    pub output_tokens: u64,
    /// First admission, ms (the clock's origin).
    pub first_admit_ms: Option<u64>,
    /// Last settle, ms.
    pub last_settle_ms: Option<u64>,
    /// Smallest window reached.
    pub min_in_flight: u32,
    /// Largest window reached.
    pub max_in_flight: u32,
}

impl RateLimitStats {
    /// Successful requests per minute between the first admission and the last settle
    /// (`None` before any settle or over an empty span).
    pub fn effective_rpm(&self) -> Option<f64> {
        self.per_minute(self.succeeded)
    }

    /// `amount` per minute over the same span.
    pub fn per_minute(&self, amount: u64) -> Option<f64> {
        let span = self.last_settle_ms?.checked_sub(self.first_admit_ms?)?;
        (span > 0).then(|| amount as f64 * PERIOD_MS as f64 / span as f64)
    }
}

/// Multiplicative decrease factor of the window.
const DECREASE: f64 = 0.5;

/// A rate limiter for one model: token buckets for its per-minute limits and an AIMD window of
/// calls in flight. See the module docs.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    limits: RateLimits,
    buckets: Vec<Bucket>,
    window: f64,
    ssthresh: f64,
    max_window: f64,
    epoch: u64,
    blocked_until: u64,
    /// An acquisition was told to wait since the last admission.
    waited: bool,
    next_ticket: u64,
    open: BTreeMap<u64, Charge>,
    output_estimate: u64,
    settled_outputs: u64,
    stats: RateLimitStats,
}

impl RateLimiter {
    /// A limiter for `limits` whose clock reads `now_ms`; `initial_output_estimate` is the
    /// output charged per call before any call has settled (it is then the running mean).
    pub fn new(limits: RateLimits, now_ms: u64, initial_output_estimate: u64) -> Self {
        let mut buckets = Vec::new();
        for (kind, limit) in [
            (Kind::Requests, limits.requests_per_minute),
            (Kind::Tokens, limits.tokens_per_minute),
            (Kind::Input, limits.input_tokens_per_minute),
            (Kind::Output, limits.output_tokens_per_minute),
        ] {
            if let Some(l) = limit {
                buckets.push(Bucket::new(kind, l, now_ms));
            }
        }
        let max_window = f64::from(limits.max_in_flight.unwrap_or(DEFAULT_MAX_IN_FLIGHT).max(1));
        let window = f64::from(
            limits
                .initial_in_flight
                .unwrap_or(DEFAULT_INITIAL_IN_FLIGHT)
                .max(1),
        )
        .min(max_window);
        let w = window as u32;
        Self {
            limits,
            buckets,
            window,
            ssthresh: max_window,
            max_window,
            epoch: 0,
            blocked_until: 0,
            waited: false,
            next_ticket: 1,
            open: BTreeMap::new(),
            output_estimate: initial_output_estimate,
            settled_outputs: 0,
            stats: RateLimitStats {
                min_in_flight: w,
                max_in_flight: w,
                ..Default::default()
            },
        }
    }

    /// The limits enforced.
    pub fn limits(&self) -> &RateLimits {
        &self.limits
    }

    /// Calls allowed in flight now: `⌊window⌋` in `[1, max_in_flight]`.
    pub fn concurrency(&self) -> u32 {
        self.window.floor().clamp(1.0, self.max_window) as u32
    }

    /// The AIMD window (fractional).
    pub fn window(&self) -> f64 {
        self.window
    }

    /// Output tokens charged per call now (the running mean of the settled ones).
    pub fn output_estimate(&self) -> u64 {
        self.output_estimate
    }

    /// Calls admitted and not settled yet.
    pub fn open_calls(&self) -> usize {
        self.open.len()
    }

    /// The counters.
    pub fn stats(&self) -> RateLimitStats {
        self.stats
    }

    /// Admits a call of `input_tokens` (an estimate) at `now_ms`, charging every bucket, or says
    /// how long to wait: until a `retry-after` has passed and every bucket holds the cost (a
    /// cost above a bucket's capacity waits for a full bucket). FIFO fairness is the caller's:
    /// ask for one call at a time.
    pub fn acquire(&mut self, now_ms: u64, input_tokens: u64) -> Acquire {
        let output = self.output_estimate;
        let mut wait = self.blocked_until.saturating_sub(now_ms);
        for b in &mut self.buckets {
            b.refill(now_ms);
            let amount = Self::cost(b.kind, input_tokens, output);
            wait = wait.max(b.wait_for(b.needed(amount)));
        }
        if wait > 0 {
            self.stats.waits += 1;
            self.waited = true;
            return Acquire::Wait { ms: wait };
        }
        for b in &mut self.buckets {
            b.take(Self::cost(b.kind, input_tokens, output));
        }
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        let waited = std::mem::take(&mut self.waited);
        let window_limited = !waited && 2 * (self.open.len() + 1) >= self.concurrency() as usize;
        self.open.insert(
            ticket,
            Charge {
                input: input_tokens,
                output,
                epoch: self.epoch,
                window_limited,
            },
        );
        self.stats.admitted += 1;
        self.stats.first_admit_ms.get_or_insert(now_ms);
        Acquire::Ready { ticket }
    }

    fn cost(kind: Kind, input: u64, output: u64) -> u64 {
        match kind {
            Kind::Requests => 1,
            Kind::Tokens => input.saturating_add(output),
            Kind::Input => input,
            Kind::Output => output,
        }
    }

    /// Settles the call of `ticket` at `now_ms`: the billed tokens (when known) replace the
    /// estimates charged at admission (refunding or charging the difference), the output
    /// estimate becomes the running mean, and the window reacts to `outcome`. An unknown ticket
    /// (settled twice) is ignored; returns whether it was open.
    pub fn settle(
        &mut self,
        ticket: u64,
        now_ms: u64,
        outcome: Outcome,
        input_tokens: Option<u64>,
        output_tokens: Option<u64>,
    ) -> bool {
        let Some(charge) = self.open.remove(&ticket) else {
            return false;
        };
        // A refused call (429/529) was not served: its output is refunded; its input stays
        // charged unless billed figures say otherwise (the conservative side).
        let output_billed = match outcome {
            Outcome::Throttled { .. } => output_tokens.unwrap_or(0),
            _ => output_tokens.unwrap_or(charge.output),
        };
        let input_billed = input_tokens.unwrap_or(charge.input);
        for b in &mut self.buckets {
            b.refill(now_ms);
            let charged = Self::cost(b.kind, charge.input, charge.output);
            let billed = Self::cost(b.kind, input_billed, output_billed);
            if billed < charged {
                b.give(charged - billed);
            } else {
                b.take(billed - charged);
            }
        }
        if let Some(out) = output_tokens {
            self.stats.output_tokens = self.stats.output_tokens.saturating_add(out);
            self.settled_outputs += 1;
            // Running mean of the billed outputs, rounded up.
            self.output_estimate = self
                .stats
                .output_tokens
                .div_ceil(self.settled_outputs.max(1));
        }
        if let Some(inp) = input_tokens {
            self.stats.input_tokens = self.stats.input_tokens.saturating_add(inp);
        }
        self.stats.last_settle_ms =
            Some(self.stats.last_settle_ms.map_or(now_ms, |t| t.max(now_ms)));
        match outcome {
            Outcome::Success => {
                self.stats.succeeded += 1;
                if charge.window_limited {
                    self.increase();
                }
            }
            Outcome::Throttled {
                status,
                retry_after_ms,
            } => {
                if status == 529 {
                    self.stats.responses_529 += 1;
                } else {
                    self.stats.responses_429 += 1;
                }
                self.throttled(now_ms, charge.epoch, retry_after_ms);
            }
            Outcome::Failed => {}
        }
        true
    }

    fn increase(&mut self) {
        let step = if self.window < self.ssthresh {
            1.0
        } else {
            1.0 / self.window
        };
        self.window = (self.window + step).min(self.max_window);
        self.stats.max_in_flight = self.stats.max_in_flight.max(self.concurrency());
    }

    fn throttled(&mut self, now_ms: u64, epoch: u64, retry_after_ms: Option<u64>) {
        if let Some(ra) = retry_after_ms {
            self.blocked_until = self.blocked_until.max(now_ms.saturating_add(ra));
        }
        // Once per round trip: calls admitted before the last decrease saw the old window.
        if epoch < self.epoch {
            return;
        }
        self.epoch += 1;
        self.stats.decreases += 1;
        self.window = (self.window * DECREASE).max(1.0);
        self.ssthresh = self.window;
        for b in &mut self.buckets {
            b.refill(now_ms);
            b.level = b.level.min(0);
        }
        self.stats.min_in_flight = self.stats.min_in_flight.min(self.concurrency());
    }
}

/// The arguments of a limiter as a JS caller gives them (the Node API's `RateLimiter`): numbers
/// are JS numbers, unchecked; [`RateLimiter::from_js`] checks them, errors naming the JS fields
/// (`limits.requestsPerMinute`, `shares`, `nowMs`, …).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct JsLimiterArgs {
    /// `limits.requestsPerMinute`, `limits.tokensPerMinute`, `limits.inputTokensPerMinute`,
    /// `limits.outputTokensPerMinute`, in that order.
    pub per_minute: [Option<f64>; 4],
    /// `limits.maxInFlight`.
    pub max_in_flight: Option<u32>,
    /// `limits.initialInFlight`.
    pub initial_in_flight: Option<u32>,
    /// `nowMs`: the clock now (floored; default 0).
    pub now_ms: Option<f64>,
    /// `shares`: split the limits that many ways (≥ 1; default 1).
    pub shares: Option<u32>,
    /// `initialOutputEstimate`: output tokens charged per call before any settled (default 0).
    pub initial_output_estimate: Option<f64>,
}

/// JS names of the per-minute limits, in [`JsLimiterArgs::per_minute`] order.
const JS_LIMIT_FIELDS: [&str; 4] = [
    "limits.requestsPerMinute",
    "limits.tokensPerMinute",
    "limits.inputTokensPerMinute",
    "limits.outputTokensPerMinute",
];

impl RateLimits {
    /// Checks limits given as JS numbers: each per-minute limit set is a whole number in
    /// [1, [`MAX_LIMIT_PER_MINUTE`]] and at least one is set.
    pub fn from_js(
        per_minute: [Option<f64>; 4],
        max_in_flight: Option<u32>,
        initial_in_flight: Option<u32>,
    ) -> Result<Self> {
        let mut checked = [None; 4];
        for ((slot, field), value) in checked.iter_mut().zip(JS_LIMIT_FIELDS).zip(per_minute) {
            let Some(n) = crate::numbers::whole_opt(field, value)? else {
                continue;
            };
            if !(1..=MAX_LIMIT_PER_MINUTE).contains(&n) {
                return Err(Error::invalid(
                    field,
                    format!("must be in [1, {MAX_LIMIT_PER_MINUTE}], got {n}"),
                ));
            }
            *slot = Some(n);
        }
        if checked.iter().all(Option::is_none) {
            return Err(Error::invalid(
                "limits",
                "must set at least one per-minute limit",
            ));
        }
        let [requests_per_minute, tokens_per_minute, input_tokens_per_minute, output_tokens_per_minute] =
            checked;
        Ok(Self {
            requests_per_minute,
            tokens_per_minute,
            input_tokens_per_minute,
            output_tokens_per_minute,
            max_in_flight,
            initial_in_flight,
        })
    }
}

/// A JS clock reading, ms (`field`): negative (or NaN) reads 0, fractions are floored.
pub fn js_clock_ms(field: &str, now_ms: f64) -> Result<u64> {
    crate::numbers::whole(field, now_ms.max(0.0).floor())
}

/// A JS token count (`field`), estimated or billed: negative (or NaN) is 0, fractions round up.
pub fn js_tokens(field: &str, tokens: f64) -> Result<u64> {
    crate::numbers::whole(field, tokens.max(0.0).ceil())
}

impl Outcome {
    /// The outcome a JS caller names: `success`, `failed` or `throttled` (with `status` 529 an
    /// overload, anything else 429; `retry_after_ms` rounded up, negative is 0).
    pub fn from_js(
        outcome: &str,
        status: Option<u32>,
        retry_after_ms: Option<f64>,
    ) -> Result<Self> {
        match outcome {
            "success" => Ok(Outcome::Success),
            "failed" => Ok(Outcome::Failed),
            "throttled" => Ok(Outcome::Throttled {
                status: if status == Some(529) { 529 } else { 429 },
                retry_after_ms: crate::numbers::whole_opt(
                    "retryAfterMs",
                    retry_after_ms.map(|v| v.max(0.0).ceil()),
                )?,
            }),
            other => Err(Error::invalid(
                "outcome",
                format!("must be \"success\", \"throttled\" or \"failed\", got \"{other}\""),
            )),
        }
    }
}

/// Whether a failed call was throttled by the provider, and as which HTTP status: 529 for an
/// overload (status 529 or the `overloaded` fault's code), else 429 for a rate limit (status 429
/// or the `rate_limit` fault's code); `None` for any other failure (the window stays as it is).
pub fn throttle_status(status: Option<u16>, code: Option<&str>) -> Option<u16> {
    let is = |t: FailureType| code.is_some() && code == t.error_code();
    if status == Some(529) || is(FailureType::Overloaded) {
        Some(529)
    } else if status == Some(429) || is(FailureType::RateLimit) {
        Some(429)
    } else {
        None
    }
}

/// Billed tokens a JS caller reports (`field`): absent or not finite is unknown; otherwise as
/// [`js_tokens`].
pub fn js_billed_tokens(field: &str, tokens: Option<f64>) -> Result<Option<u64>> {
    tokens
        .filter(|x| x.is_finite())
        .map(|x| js_tokens(field, x))
        .transpose()
}

/// How a JS caller settles a call (the Node API's `RateSettlement`): numbers unchecked, read by
/// [`RateLimiter::settle_js`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JsSettlement<'a> {
    /// `success`, `throttled` or `failed` (see [`Outcome::from_js`]).
    pub outcome: &'a str,
    /// HTTP status of a throttled call.
    pub status: Option<u32>,
    /// The server's `retry-after`, ms.
    pub retry_after_ms: Option<f64>,
    /// Input tokens billed, when known (see [`js_billed_tokens`]).
    pub input_tokens: Option<f64>,
    /// Output tokens billed, when known.
    pub output_tokens: Option<f64>,
}

impl RateLimiter {
    /// A limiter from the arguments of a JS caller, checked in field order: the limits
    /// ([`RateLimits::from_js`]), `shares` (≥ 1), `nowMs`, `initialOutputEstimate`.
    pub fn from_js(args: &JsLimiterArgs) -> Result<Self> {
        let limits =
            RateLimits::from_js(args.per_minute, args.max_in_flight, args.initial_in_flight)?;
        if args.shares == Some(0) {
            return Err(Error::invalid("shares", "must be ≥ 1, got 0"));
        }
        let limits = limits.share(u64::from(args.shares.unwrap_or(1)));
        let now = crate::numbers::whole_opt("nowMs", args.now_ms.map(f64::floor))?.unwrap_or(0);
        let estimate =
            crate::numbers::whole_opt("initialOutputEstimate", args.initial_output_estimate)?
                .unwrap_or(0);
        Ok(Self::new(limits, now, estimate))
    }

    /// [`RateLimiter::acquire`] with JS numbers (`nowMs` as [`js_clock_ms`], `inputTokens` as
    /// [`js_tokens`]).
    pub fn acquire_js(&mut self, now_ms: f64, input_tokens: f64) -> Result<Acquire> {
        let now = js_clock_ms("nowMs", now_ms)?;
        let input = js_tokens("inputTokens", input_tokens)?;
        Ok(self.acquire(now, input))
    }

    /// [`RateLimiter::settle`] with JS numbers, checked in order: `ticket` (a whole number),
    /// `nowMs` ([`js_clock_ms`]), the outcome ([`Outcome::from_js`]), the billed tokens
    /// ([`js_billed_tokens`]).
    pub fn settle_js(&mut self, ticket: f64, now_ms: f64, s: &JsSettlement<'_>) -> Result<bool> {
        let ticket = crate::numbers::whole("ticket", ticket)?;
        let now = js_clock_ms("nowMs", now_ms)?;
        let outcome = Outcome::from_js(s.outcome, s.status, s.retry_after_ms)?;
        let input = js_billed_tokens("inputTokens", s.input_tokens)?;
        let output = js_billed_tokens("outputTokens", s.output_tokens)?;
        Ok(self.settle(ticket, now, outcome, input, output))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rpm(n: u64) -> RateLimits {
        RateLimits {
            requests_per_minute: Some(n),
            ..Default::default()
        }
    }

    fn ready(a: Acquire) -> u64 {
        match a {
            Acquire::Ready { ticket } => ticket,
            Acquire::Wait { ms } => panic!("expected Ready, got Wait({ms})"),
        }
    }

    #[test]
    #[allow(clippy::unwrap_used)] // a test may panic
    fn js_arguments_are_checked_naming_the_js_field() {
        let msg = |args: JsLimiterArgs| RateLimiter::from_js(&args).unwrap_err().to_string();
        let base = JsLimiterArgs {
            per_minute: [Some(600.0), None, None, None],
            ..Default::default()
        };
        assert!(RateLimiter::from_js(&base).is_ok());
        assert_eq!(
            msg(JsLimiterArgs {
                per_minute: [None; 4],
                ..base
            }),
            "invalid argument `limits`: must set at least one per-minute limit"
        );
        assert_eq!(
            msg(JsLimiterArgs {
                per_minute: [Some(0.0), Some(1.5), None, None],
                ..base
            }),
            "invalid argument `limits.requestsPerMinute`: must be in [1, 1000000000], got 0"
        );
        assert_eq!(
            msg(JsLimiterArgs { per_minute: [None, None, None, Some(2e9)], ..base }),
            "invalid argument `limits.outputTokensPerMinute`: must be in [1, 1000000000], got 2000000000"
        );
        assert_eq!(
            msg(JsLimiterArgs {
                shares: Some(0),
                ..base
            }),
            "invalid argument `shares`: must be ≥ 1, got 0"
        );
        assert!(msg(JsLimiterArgs {
            now_ms: Some(-1.0),
            ..base
        })
        .starts_with("invalid argument `nowMs`"));
        assert!(msg(JsLimiterArgs {
            initial_output_estimate: Some(0.5),
            ..base
        })
        .starts_with("invalid argument `initialOutputEstimate`"));
        let shared = RateLimiter::from_js(&JsLimiterArgs {
            shares: Some(4),
            ..base
        })
        .unwrap();
        assert_eq!(shared.limits().requests_per_minute, Some(150));
    }

    #[test]
    #[allow(clippy::unwrap_used)] // a test may panic
    fn js_outcomes_clock_and_tokens() {
        assert_eq!(
            Outcome::from_js("success", None, None).unwrap(),
            Outcome::Success
        );
        assert_eq!(
            Outcome::from_js("failed", Some(529), None).unwrap(),
            Outcome::Failed
        );
        assert_eq!(
            Outcome::from_js("throttled", Some(529), Some(10.2)).unwrap(),
            Outcome::Throttled {
                status: 529,
                retry_after_ms: Some(11)
            }
        );
        assert_eq!(
            Outcome::from_js("throttled", Some(503), Some(-5.0)).unwrap(),
            Outcome::Throttled {
                status: 429,
                retry_after_ms: Some(0)
            }
        );
        assert_eq!(
            Outcome::from_js("ok", None, None).unwrap_err().to_string(),
            "invalid argument `outcome`: must be \"success\", \"throttled\" or \"failed\", got \"ok\""
        );
        assert_eq!(js_clock_ms("nowMs", -3.0).unwrap(), 0);
        assert_eq!(js_clock_ms("nowMs", 12.9).unwrap(), 12);
        assert_eq!(js_clock_ms("nowMs", f64::NAN).unwrap(), 0);
        assert!(js_clock_ms("nowMs", f64::INFINITY).is_err());
        assert_eq!(js_tokens("inputTokens", 2.1).unwrap(), 3);
        assert_eq!(
            js_billed_tokens("outputTokens", Some(f64::INFINITY)).unwrap(),
            None
        );
        assert_eq!(
            js_billed_tokens("outputTokens", Some(-2.0)).unwrap(),
            Some(0)
        );
        let mut l = RateLimiter::new(rpm(600), 0, 0);
        assert!(matches!(
            l.acquire_js(0.7, 0.2).unwrap(),
            Acquire::Ready { .. }
        ));
        assert!(l.acquire_js(1e300, 0.0).is_err());
        let ticket = match l.acquire_js(0.0, 1.0).unwrap() {
            Acquire::Ready { ticket } => ticket as f64,
            Acquire::Wait { ms } => panic!("expected Ready, got Wait({ms})"),
        };
        let settled = JsSettlement {
            outcome: "success",
            status: None,
            retry_after_ms: None,
            input_tokens: Some(1.0),
            output_tokens: Some(f64::NAN),
        };
        assert!(l
            .settle_js(
                ticket,
                5.0,
                &JsSettlement {
                    outcome: "done",
                    ..settled
                }
            )
            .unwrap_err()
            .to_string()
            .contains("`outcome`"));
        assert!(l.settle_js(ticket, 5.0, &settled).unwrap());
        assert!(!l.settle_js(ticket, 5.0, &settled).unwrap());
        assert!(l
            .settle_js(0.5, 5.0, &settled)
            .unwrap_err()
            .to_string()
            .contains("`ticket`"));
    }

    #[test]
    fn paces_requests_at_the_limit() {
        // 600 RPM: burst 10, then (600 − 10 + 1) per minute = one every ~101.5 ms.
        let mut l = RateLimiter::new(rpm(600), 0, 0);
        for _ in 0..10 {
            ready(l.acquire(0, 0));
        }
        assert_eq!(l.acquire(0, 0), Acquire::Wait { ms: 102 });
        assert_eq!(l.acquire(101, 0), Acquire::Wait { ms: 1 });
        ready(l.acquire(102, 0));
        // Over a simulated hour, driven by the waits: 591 per minute.
        let mut now = 102;
        let mut n = 11u64;
        while now < 3_600_000 {
            match l.acquire(now, 0) {
                Acquire::Ready { .. } => n += 1,
                Acquire::Wait { ms } => now += ms,
            }
        }
        let per_min = n as f64 * 60_000.0 / now as f64;
        assert!((590.0..=592.0).contains(&per_min), "{per_min}");
    }

    #[test]
    fn one_per_minute_is_one_per_minute() {
        let mut l = RateLimiter::new(rpm(1), 5, 0);
        ready(l.acquire(5, 0));
        assert_eq!(l.acquire(5, 0), Acquire::Wait { ms: 60_000 });
        assert_eq!(l.acquire(60_004, 0), Acquire::Wait { ms: 1 });
        ready(l.acquire(60_005, 0));
    }

    #[test]
    fn tokens_settle_and_the_output_estimate_follows() {
        let limits = RateLimits {
            input_tokens_per_minute: Some(6_000),
            output_tokens_per_minute: Some(6_000),
            ..Default::default()
        };
        // Capacity 100 tokens each; the first call charges 100 output tokens (initial estimate).
        let mut l = RateLimiter::new(limits, 0, 100);
        let t = ready(l.acquire(0, 40));
        assert!(matches!(l.acquire(0, 40), Acquire::Wait { .. }));
        // The call used 40 in, 10 out: 90 output tokens refunded; the estimate is now 10.
        assert!(l.settle(t, 0, Outcome::Success, Some(40), Some(10)));
        assert!(
            !l.settle(t, 0, Outcome::Success, Some(40), Some(10)),
            "settled twice"
        );
        assert_eq!(l.output_estimate(), 10);
        ready(l.acquire(0, 40));
        // Input left: 100 − 40 − 40 = 20 < 40.
        assert!(matches!(l.acquire(0, 40), Acquire::Wait { .. }));
        // An under-estimate leaves a debt the next calls wait for.
        let mut l = RateLimiter::new(
            RateLimits {
                output_tokens_per_minute: Some(6_000),
                ..Default::default()
            },
            0,
            10,
        );
        let t = ready(l.acquire(0, 0));
        l.settle(t, 0, Outcome::Success, None, Some(300));
        assert_eq!(l.output_estimate(), 300);
        // Level 100 − 300 = −200 tokens; a call needs 100 (capacity): 300 tokens at 5 901/min.
        match l.acquire(0, 0) {
            Acquire::Wait { ms } => assert_eq!(ms, (300 * 60_000u64).div_ceil(5_901)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn oversize_cost_waits_for_a_full_bucket() {
        let limits = RateLimits {
            input_tokens_per_minute: Some(6_000),
            ..Default::default()
        };
        let mut l = RateLimiter::new(limits, 0, 0);
        ready(l.acquire(0, 30));
        // 1 000 > capacity 100: waits until the bucket is full again (30 tokens to refill).
        match l.acquire(0, 1_000) {
            Acquire::Wait { ms } => assert_eq!(ms, (30 * 60_000u64).div_ceil(5_901)),
            other => panic!("{other:?}"),
        }
        ready(l.acquire((30 * 60_000u64).div_ceil(5_901), 1_000));
    }

    #[test]
    fn aimd_slow_start_then_additive_then_halving() {
        let mut l = RateLimiter::new(
            RateLimits {
                requests_per_minute: Some(1_000_000),
                max_in_flight: Some(20),
                initial_in_flight: Some(2),
                ..Default::default()
            },
            0,
            0,
        );
        assert_eq!(l.concurrency(), 2);
        // Full windows: slow start grows it by the successes of the half-full window per round
        // trip, then the cap.
        let mut trips = Vec::new();
        for _ in 0..5 {
            let n = l.concurrency();
            let open: Vec<u64> = (0..n).map(|_| ready(l.acquire(0, 0))).collect();
            for t in open {
                l.settle(t, 0, Outcome::Success, None, None);
            }
            trips.push(l.concurrency());
        }
        assert_eq!(trips, vec![4, 7, 11, 17, 20], "capped at max_in_flight");
        let mut tickets = Vec::new();
        for _ in 0..5 {
            tickets.push(ready(l.acquire(10, 0)));
        }
        // The first 429 halves the window; the others of the same round trip do not.
        for t in &tickets {
            l.settle(
                *t,
                20,
                Outcome::Throttled {
                    status: 429,
                    retry_after_ms: Some(1_000),
                },
                None,
                None,
            );
        }
        assert_eq!(l.concurrency(), 10);
        assert_eq!(l.stats().decreases, 1);
        assert_eq!(l.stats().responses_429, 5);
        // retry-after honoured.
        assert_eq!(l.acquire(500, 0), Acquire::Wait { ms: 520 });
        // The first call after the wait waited: no growth for it.
        let t = ready(l.acquire(1_020, 0));
        l.settle(t, 1_030, Outcome::Success, None, None);
        assert_eq!(l.window(), 10.0);
        // Above the threshold: +1/window per success (with half the window in use).
        let open: Vec<u64> = (0..5).map(|_| ready(l.acquire(1_030, 0))).collect();
        for t in open {
            l.settle(t, 1_030, Outcome::Success, None, None);
        }
        assert!((l.window() - 10.1).abs() < 1e-9, "{}", l.window());
        // Paced by a bucket (every call waits), the window does not grow, however full.
        let mut paced = RateLimiter::new(rpm(60), 0, 0);
        let mut now = 0;
        let mut open = std::collections::VecDeque::new();
        for _ in 0..200 {
            match paced.acquire(now, 0) {
                Acquire::Ready { ticket } => {
                    open.push_back(ticket);
                    if open.len() > 6 {
                        let t = open.pop_front().unwrap_or(0);
                        paced.settle(t, now, Outcome::Success, None, None);
                    }
                }
                Acquire::Wait { ms } => now += ms,
            }
        }
        assert_eq!(paced.stats().succeeded, 94, "100 admitted, 6 still open");
        assert_eq!(
            paced.concurrency(),
            DEFAULT_INITIAL_IN_FLIGHT,
            "paced: no growth"
        );
        // A new 429 (admitted after the decrease) halves again; 529 counts too.
        let t = ready(l.acquire(1_040, 0));
        l.settle(
            t,
            1_050,
            Outcome::Throttled {
                status: 529,
                retry_after_ms: None,
            },
            None,
            None,
        );
        assert_eq!(l.concurrency(), 5);
        assert_eq!(l.stats().responses_529, 1);
        assert_eq!(l.stats().min_in_flight, 2, "the starting window");
        assert_eq!(l.stats().max_in_flight, 20);
    }

    #[test]
    fn resolves_like_prices() {
        let mut m = BTreeMap::new();
        m.insert("gpt-4o".to_owned(), rpm(1));
        m.insert("claude-*".to_owned(), rpm(2));
        m.insert("claude-sonnet-*".to_owned(), rpm(3));
        let r = |name: &str, priced: Option<&str>| resolve(&m, name, priced).map(|(k, _)| k);
        assert_eq!(r("gpt-4o", None), Some("gpt-4o"));
        assert_eq!(r("openai/gpt-4o", None), Some("gpt-4o"));
        assert_eq!(r("gpt-4o-2024-08-06", None), Some("gpt-4o"));
        assert_eq!(r("my-alias", Some("gpt-4o")), Some("gpt-4o"));
        assert_eq!(r("claude-sonnet-4-5", None), Some("claude-sonnet-*"));
        assert_eq!(r("claude-opus-4", None), Some("claude-*"));
        assert_eq!(r("o4-mini", None), None);
        let shared = rpm(600).share(4);
        assert_eq!(shared.requests_per_minute, Some(150));
        assert_eq!(rpm(3).share(4).requests_per_minute, Some(1));
    }

    /// Admissions of a random workload against random limits: over every window of 60 000 ms
    /// (and over windows of any length w: ≤ B + (L − B + 1)·(w − 1)/60 000), what was admitted
    /// never exceeds the limit, for requests and for tokens (billed ≤ estimated).
    #[test]
    fn never_exceeds_the_limit_over_any_window() {
        let strategy = (
            1u64..2_000,
            60u64..200_000,
            proptest::collection::vec((0u64..3_000, 0u64..10_000, 0u64..100), 50..400),
        );
        let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
            cases: 300,
            failure_persistence: None,
            ..Default::default()
        });
        let waits = std::cell::Cell::new(0u64);
        let result = runner.run(&strategy, |(rpm_l, itpm_l, ops)| {
            let limits = RateLimits {
                requests_per_minute: Some(rpm_l),
                input_tokens_per_minute: Some(itpm_l),
                ..Default::default()
            };
            let cap_in = itpm_l.div_ceil(60);
            let mut l = RateLimiter::new(limits, 0, 0);
            let mut now = 0u64;
            let mut admitted: Vec<(u64, u64)> = Vec::new();
            for (step, tokens, refund_pct) in ops {
                now += step;
                // Costs within the bucket's capacity (the bound is for those).
                let est = tokens % (cap_in + 1);
                loop {
                    match l.acquire(now, est) {
                        Acquire::Ready { ticket } => {
                            let billed = est * (100 - refund_pct) / 100;
                            l.settle(ticket, now, Outcome::Success, Some(billed), Some(0));
                            admitted.push((now, billed));
                            break;
                        }
                        Acquire::Wait { ms } => {
                            prop_assert!(ms >= 1);
                            waits.set(waits.get() + 1);
                            now += ms;
                        }
                    }
                }
            }
            for (kind_limit, pick) in [(rpm_l, 0usize), (itpm_l, 1usize)] {
                let burst = kind_limit.div_ceil(60).max(1);
                let mut j = 0;
                let mut sum = 0u128;
                // Sliding window [admitted[i].0, admitted[i].0 + 60 000).
                for i in 0..admitted.len() {
                    while j < admitted.len() && admitted[j].0 < admitted[i].0 + PERIOD_MS {
                        sum += u128::from(if pick == 0 { 1 } else { admitted[j].1 });
                        j += 1;
                    }
                    prop_assert!(
                        sum <= u128::from(kind_limit),
                        "{} admitted in a minute, limit {}",
                        sum,
                        kind_limit
                    );
                    // Shorter windows: the token-bucket bound.
                    let mut s = 0u128;
                    for k in i..j.min(i + 50) {
                        s += u128::from(if pick == 0 { 1 } else { admitted[k].1 });
                        let w = admitted[k].0 - admitted[i].0 + 1;
                        let bound = u128::from(burst) * 60_000
                            + u128::from(kind_limit - burst + 1) * u128::from(w - 1);
                        prop_assert!(s * 60_000 <= bound);
                    }
                    sum -= u128::from(if pick == 0 { 1 } else { admitted[i].1 });
                }
            }
            Ok(())
        });
        if let Err(e) = result {
            panic!("{e}");
        }
        let waits = waits.get();
        assert!(waits > 1_000, "the limits were reached ({waits} waits)");
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 500, failure_persistence: None, ..ProptestConfig::default() })]

        /// The window stays in [1, max]; a success never shrinks it, a throttle never grows it
        /// and halves it at most once per round trip; `retry-after` blocks every acquisition.
        #[test]
        fn aimd_bounds(
            max in 1u32..200,
            init in 0u32..300,
            ops in proptest::collection::vec((0u8..4, 0u64..5_000, proptest::option::of(0u64..10_000)), 1..300),
        ) {
            let limits = RateLimits {
                requests_per_minute: Some(MAX_LIMIT_PER_MINUTE),
                max_in_flight: Some(max),
                initial_in_flight: Some(init),
                ..Default::default()
            };
            let mut l = RateLimiter::new(limits, 0, 0);
            let mut now = 0u64;
            let mut open: Vec<u64> = Vec::new();
            let mut blocked_until = 0u64;
            for (op, step, ra) in ops {
                now += step;
                let before = l.window();
                let decreases = l.stats().decreases;
                match op {
                    0 | 1 => match l.acquire(now, 0) {
                        Acquire::Ready { ticket } => {
                            prop_assert!(now >= blocked_until);
                            open.push(ticket);
                        }
                        Acquire::Wait { ms } => {
                            // retry-after, or 1 ms for the (huge) request bucket emptied by a throttle.
                            prop_assert!(ms >= blocked_until.saturating_sub(now));
                            prop_assert!(ms <= blocked_until.saturating_sub(now).max(1));
                        }
                    },
                    2 => if let Some(t) = open.pop() {
                        l.settle(t, now, Outcome::Success, None, None);
                        prop_assert!(l.window() >= before);
                    },
                    _ => if let Some(t) = open.pop() {
                        l.settle(t, now, Outcome::Throttled { status: 429, retry_after_ms: ra }, None, None);
                        if let Some(ra) = ra { blocked_until = blocked_until.max(now + ra); }
                        prop_assert!(l.window() <= before);
                        prop_assert!(l.stats().decreases <= decreases + 1);
                        if l.stats().decreases > decreases {
                            prop_assert!((l.window() - (before * 0.5).max(1.0)).abs() < 1e-9);
                        }
                    },
                }
                prop_assert!(l.window() >= 1.0 && l.window() <= f64::from(max.max(1)));
                prop_assert!(l.concurrency() >= 1 && l.concurrency() <= max.max(1));
            }
        }
    }

    #[test]
    fn throttled_by_status_or_by_the_faults_codes() {
        assert_eq!(throttle_status(Some(429), None), Some(429));
        assert_eq!(throttle_status(Some(529), None), Some(529));
        assert_eq!(
            throttle_status(None, Some("ERR_OMEGA_RATE_LIMIT")),
            Some(429)
        );
        assert_eq!(
            throttle_status(Some(500), Some("ERR_OMEGA_OVERLOADED")),
            Some(529)
        );
        assert_eq!(
            throttle_status(Some(429), Some("ERR_OMEGA_OVERLOADED")),
            Some(529)
        );
        assert_eq!(
            throttle_status(Some(503), Some("ERR_OMEGA_SERVER_ERROR")),
            None
        );
        assert_eq!(throttle_status(None, None), None);
    }
}
