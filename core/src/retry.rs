//! Retry decisions: which failures are retryable, and how long to wait (exponential backoff with
//! full jitter, seeded and reproducible, honouring `retry-after` within caps and the deadline).

use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::faults::FailureType;
use crate::{Error, Result};

/// The retry policy, from calibration `retry`.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first one included (≥ 1).
    pub max_attempts: u32,
    /// Base of the exponential backoff, ms.
    pub base_delay_ms: u64,
    /// Cap of one backoff delay, ms.
    pub max_delay_ms: u64,
    /// Cap applied to a provider's `retry-after` hint, ms.
    pub max_retry_after_ms: u64,
    /// Total time budget of one logical call across all its attempts, ms.
    pub deadline_ms: u64,
}

/// Overrides of a calibration's retry policy, each optional (the `RetryPolicy` options of the JS
/// API). Errors name the option (`maxAttempts`, `maxDelayMs`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetryOverrides {
    /// Attempts in all, the first included (≥ 1).
    pub max_attempts: Option<u32>,
    /// Base of the exponential backoff, ms.
    pub base_delay_ms: Option<u64>,
    /// Cap of one backoff delay, ms (≥ the base).
    pub max_delay_ms: Option<u64>,
    /// Cap of a provider's `retry-after` hint, ms.
    pub max_retry_after_ms: Option<u64>,
    /// Time budget of one logical call across all its attempts, ms.
    pub deadline_ms: Option<u64>,
}

impl RetryPolicy {
    /// This policy with `o`'s values in place of its own. [`Error::InvalidArgument`] for
    /// `maxAttempts` 0 or a base delay above the cap.
    pub fn with_overrides(&self, o: &RetryOverrides) -> Result<Self> {
        if o.max_attempts == Some(0) {
            return Err(Error::invalid("maxAttempts", "must be ≥ 1, got 0"));
        }
        let p = Self {
            max_attempts: o.max_attempts.unwrap_or(self.max_attempts),
            base_delay_ms: o.base_delay_ms.unwrap_or(self.base_delay_ms),
            max_delay_ms: o.max_delay_ms.unwrap_or(self.max_delay_ms),
            max_retry_after_ms: o.max_retry_after_ms.unwrap_or(self.max_retry_after_ms),
            deadline_ms: o.deadline_ms.unwrap_or(self.deadline_ms),
        };
        if p.base_delay_ms > p.max_delay_ms {
            return Err(Error::invalid(
                "maxDelayMs",
                format!(
                    "must be ≥ baseDelayMs ({}), got {}",
                    p.base_delay_ms, p.max_delay_ms
                ),
            ));
        }
        Ok(p)
    }
}

impl RetryPolicy {
    /// Whether attempt `attempt` (1-based) failing with `failure`, `elapsed_ms` after the first
    /// attempt started, should be retried, and after how long.
    ///
    /// In order: not retryable → `not_retryable`; `attempt ≥ max_attempts` → `max_attempts`;
    /// then the delay is drawn with exponential backoff and **full jitter**, uniform in
    /// `[0, min(max_delay_ms, base_delay_ms · 2^(attempt−1))]`, seeded by
    /// `(seed, call_index, attempt)` (ChaCha8, reproducible); a `retry-after` hint is honoured:
    /// `delay = max(jitter, min(hint, max_retry_after_ms))`; if the wait would reach the deadline
    /// (`delay ≥ deadline_ms − elapsed_ms`) → `deadline`. All arithmetic saturates: any
    /// `attempt` (0 counts as 1) is safe.
    pub fn decide(
        &self,
        seed: u64,
        call_index: u64,
        attempt: u32,
        failure: RetryInput,
        elapsed_ms: u64,
    ) -> RetryDecision {
        let stop = |reason| RetryDecision {
            retry: false,
            delay_ms: 0,
            reason,
        };
        if !failure.retryable {
            return stop(RetryReason::NotRetryable);
        }
        let attempt = attempt.max(1);
        if attempt >= self.max_attempts {
            return stop(RetryReason::MaxAttempts);
        }
        let cap = self.backoff_cap_ms(attempt);
        let jitter = jitter_ms(seed, call_index, attempt, cap);
        let (delay_ms, reason) = match failure.retry_after_ms {
            Some(hint) => {
                let hint = hint.min(self.max_retry_after_ms);
                if hint > jitter {
                    (hint, RetryReason::RetryAfter)
                } else {
                    (jitter, RetryReason::Backoff)
                }
            }
            None => (jitter, RetryReason::Backoff),
        };
        let remaining = self.deadline_ms.saturating_sub(elapsed_ms);
        if delay_ms >= remaining {
            return stop(RetryReason::Deadline);
        }
        RetryDecision {
            retry: true,
            delay_ms,
            reason,
        }
    }

    /// The upper bound of the jittered delay after attempt `attempt`:
    /// `min(max_delay_ms, base_delay_ms · 2^(attempt−1))`, saturating.
    pub fn backoff_cap_ms(&self, attempt: u32) -> u64 {
        let shift = attempt.max(1) - 1;
        let factor = if shift >= 64 { u64::MAX } else { 1u64 << shift };
        self.base_delay_ms
            .saturating_mul(factor)
            .min(self.max_delay_ms)
    }
}

/// Key of the retry jitter stream: the seed in the first 8 bytes, a domain tag in the rest, so
/// jitter never shares a ChaCha stream with chaos decisions of the same seed.
fn retry_key(seed: u64) -> [u8; 32] {
    let mut key = *b"........omega-pr/retry-jitter/v1";
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key
}

/// Full jitter: uniform in `[0, cap]`, a pure function of `(seed, call_index, attempt)`.
/// Stream = call index, word position = attempt · 2³² (each attempt owns 2³² words, enough for
/// any rejection sampling), unbiased (Lemire with rejection).
pub fn jitter_ms(seed: u64, call_index: u64, attempt: u32, cap: u64) -> u64 {
    let mut rng = ChaCha8Rng::from_seed(retry_key(seed));
    rng.set_stream(call_index);
    rng.set_word_pos(u128::from(attempt) << 32);
    let Some(n) = cap.checked_add(1) else {
        return rng.next_u64();
    };
    let mut m = u128::from(rng.next_u64()) * u128::from(n);
    if (m as u64) < n {
        let threshold = n.wrapping_neg() % n;
        while (m as u64) < threshold {
            m = u128::from(rng.next_u64()) * u128::from(n);
        }
    }
    (m >> 64) as u64
}

/// What failed, as the retry decision needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RetryInput {
    /// Whether the failure is retryable (see [`classify`]).
    pub retryable: bool,
    /// The provider's `retry-after` hint, ms.
    pub retry_after_ms: Option<u64>,
}

/// Why a retry decision was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryReason {
    /// Retry after the jittered backoff delay.
    Backoff,
    /// Retry after the provider's (capped) `retry-after` hint, longer than the jitter.
    RetryAfter,
    /// Do not retry: the failure is not retryable.
    NotRetryable,
    /// Do not retry: the attempts are used up.
    MaxAttempts,
    /// Do not retry: the wait would pass the deadline.
    Deadline,
}

impl RetryReason {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            RetryReason::Backoff => "backoff",
            RetryReason::RetryAfter => "retry_after",
            RetryReason::NotRetryable => "not_retryable",
            RetryReason::MaxAttempts => "max_attempts",
            RetryReason::Deadline => "deadline",
        }
    }
}

/// A retry decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RetryDecision {
    /// Whether to retry.
    pub retry: bool,
    /// How long to wait before the next attempt, ms (0 when not retrying).
    pub delay_ms: u64,
    /// Why.
    pub reason: RetryReason,
}

/// Error codes that are retryable (transient provider faults).
pub const RETRYABLE_CODES: &[&str] = &[
    "ERR_OMEGA_PROVIDER_TIMEOUT",
    "ERR_OMEGA_RATE_LIMIT",
    "ERR_OMEGA_SERVER_ERROR",
    "ERR_OMEGA_OVERLOADED",
    "ERR_OMEGA_CONNECTION_RESET",
    "ERR_OMEGA_EMPTY_RESPONSE",
    "ERR_OMEGA_TRUNCATED_RESPONSE",
    "ERR_OMEGA_MALFORMED_JSON",
    // Node / undici network errors.
    "ECONNRESET",
    "ETIMEDOUT",
    "EPIPE",
    "EAI_AGAIN",
    "UND_ERR_SOCKET",
    "UND_ERR_CONNECT_TIMEOUT",
    "ERR_OMEGA_NETWORK",
];

/// What is known of a failure that did not come from omega-pr: a plain `Error` from a user
/// module, or an SDK's HTTP error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FailureFacts {
    /// `err.code` (`ECONNRESET`, `ERR_…`, an SDK's `rate_limit_exceeded`, …).
    pub code: Option<String>,
    /// `err.cause.code` (fetch wraps socket errors: `TypeError: fetch failed` + cause).
    pub cause_code: Option<String>,
    /// HTTP status, when the failure is an HTTP response.
    pub status: Option<u16>,
    /// `err.name` (`APIConnectionTimeoutError`, …).
    pub name: Option<String>,
    /// `retry-after-ms` header (milliseconds).
    pub retry_after_ms_header: Option<String>,
    /// `retry-after` header (seconds; the HTTP-date form is not used).
    pub retry_after_header: Option<String>,
}

/// The class a failure falls into.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailureClass {
    /// Stable code (`ERR_OMEGA_RATE_LIMIT`, `ERR_OMEGA_CONNECTION_RESET`, …, or the failure's
    /// own `code` when it has one and is not a known transient one).
    pub code: String,
    /// Whether retrying may help.
    pub retryable: bool,
    /// Wait asked by the server, ms (`retry-after-ms`, else `retry-after` seconds).
    pub retry_after_ms: Option<u64>,
}

fn network_code(code: &str) -> Option<&'static str> {
    Some(match code {
        "ECONNRESET" | "EPIPE" | "UND_ERR_SOCKET" | "ERR_STREAM_PREMATURE_CLOSE" => {
            "ERR_OMEGA_CONNECTION_RESET"
        }
        "ETIMEDOUT"
        | "ESOCKETTIMEDOUT"
        | "UND_ERR_CONNECT_TIMEOUT"
        | "UND_ERR_HEADERS_TIMEOUT"
        | "UND_ERR_BODY_TIMEOUT" => "ERR_OMEGA_PROVIDER_TIMEOUT",
        "EAI_AGAIN" | "ECONNREFUSED" | "ECONNABORTED" | "ENETUNREACH" | "ENETDOWN"
        | "EHOSTUNREACH" | "EHOSTDOWN" | "UND_ERR_CLOSED" => "ERR_OMEGA_NETWORK",
        _ => return None,
    })
}

fn parse_retry_after(ms: Option<&str>, secs: Option<&str>) -> Option<u64> {
    let num = |s: &str| {
        s.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
    };
    if let Some(v) = ms.and_then(num) {
        return Some(v.ceil() as u64);
    }
    secs.and_then(num).map(|v| (v * 1000.0).ceil() as u64)
}

/// Classifies a failure (the one rule; the TS layer asks it for every foreign error):
///
/// - an HTTP status: 429 → `ERR_OMEGA_RATE_LIMIT`, 529 → `ERR_OMEGA_OVERLOADED`, 500/502/503/504
///   → `ERR_OMEGA_SERVER_ERROR`, 408 → `ERR_OMEGA_PROVIDER_TIMEOUT` (all retryable, honouring
///   `retry-after-ms` / `retry-after`); 400 `ERR_OMEGA_PROVIDER_BAD_REQUEST`, 401
///   `ERR_OMEGA_PROVIDER_AUTH`, 403 `ERR_OMEGA_PROVIDER_FORBIDDEN`, 404
///   `ERR_OMEGA_PROVIDER_NOT_FOUND`, any other status `ERR_OMEGA_PROVIDER_HTTP` (not retryable,
///   except the retryable statuses of [`classify_status`]); a Node-style upper-case `code` of the
///   error's own (`ERR_FIXTURE_AUTH`) is kept as the code, the status still decides retrying;
/// - a network-ish `code` or `cause.code`: `ECONNRESET`/`EPIPE`/`UND_ERR_SOCKET` →
///   `ERR_OMEGA_CONNECTION_RESET`, `ETIMEDOUT`/undici timeouts → `ERR_OMEGA_PROVIDER_TIMEOUT`,
///   `EAI_AGAIN`/`ECONNREFUSED`/`ENETUNREACH`/… → `ERR_OMEGA_NETWORK` (retryable);
/// - SDK connection errors by name: `APIConnectionTimeoutError` → timeout,
///   `APIConnectionError` → `ERR_OMEGA_NETWORK` (retryable);
/// - any other `code` is kept, retryable only if [`classify`] says so;
/// - nothing known: `ERR_OMEGA_PROVIDER`, not retryable.
pub fn classify_failure(f: &FailureFacts) -> FailureClass {
    let retry_after_ms = parse_retry_after(
        f.retry_after_ms_header.as_deref(),
        f.retry_after_header.as_deref(),
    );
    let class = |code: &str, retryable: bool| FailureClass {
        code: code.to_owned(),
        retryable,
        retry_after_ms: if retryable { retry_after_ms } else { None },
    };
    if let Some(code) = f.code.as_deref().filter(|c| c.starts_with("ERR_OMEGA_")) {
        return class(code, classify(code));
    }
    for c in [f.code.as_deref(), f.cause_code.as_deref()]
        .into_iter()
        .flatten()
    {
        if let Some(mapped) = network_code(c) {
            return class(mapped, true);
        }
    }
    // A Node-style code of the user's own (`ERR_FIXTURE_AUTH`, `HTTP_429`) names the failure
    // better than the status; an API's lowercase code (`rate_limit_exceeded`) does not.
    let own = f.code.as_deref().filter(|c| {
        !c.is_empty()
            && c.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
    });
    if let Some(status) = f.status {
        let mapped = match status {
            429 => "ERR_OMEGA_RATE_LIMIT",
            529 => "ERR_OMEGA_OVERLOADED",
            500 | 502 | 503 | 504 => "ERR_OMEGA_SERVER_ERROR",
            408 => "ERR_OMEGA_PROVIDER_TIMEOUT",
            400 => "ERR_OMEGA_PROVIDER_BAD_REQUEST",
            401 => "ERR_OMEGA_PROVIDER_AUTH",
            403 => "ERR_OMEGA_PROVIDER_FORBIDDEN",
            404 => "ERR_OMEGA_PROVIDER_NOT_FOUND",
            _ => "ERR_OMEGA_PROVIDER_HTTP",
        };
        return class(own.unwrap_or(mapped), classify_status(status));
    }
    match f.name.as_deref() {
        Some("APIConnectionTimeoutError") => return class("ERR_OMEGA_PROVIDER_TIMEOUT", true),
        Some("APIConnectionError") => return class("ERR_OMEGA_NETWORK", true),
        _ => {}
    }
    match f.code.as_deref().filter(|c| !c.is_empty()) {
        Some(code) => class(code, classify(code)),
        None => class("ERR_OMEGA_PROVIDER", false),
    }
}

/// Whether a failure is retryable, by chaos failure type name (`timeout`, `rate_limit`, …) or
/// error code (`ERR_OMEGA_RATE_LIMIT`, `ECONNRESET`, …). Every chaos failure type is retryable
/// except `latency` (a delay, then success: nothing to retry). Budget refusals
/// (`ERR_OMEGA_BUDGET_EXCEEDED`), invalid requests/arguments, unknown models and anything not
/// known to be transient are **not** retryable.
pub fn classify(kind: &str) -> bool {
    if let Some(t) = FailureType::parse(kind) {
        return t.retryable();
    }
    RETRYABLE_CODES.contains(&kind)
}

/// Whether an HTTP status is retryable: 408, 425, 429, 500, 502, 503, 504, 529.
pub fn classify_status(status: u16) -> bool {
    matches!(status, 408 | 425 | 429 | 500 | 502 | 503 | 504 | 529)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on a broken fixture
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            base_delay_ms: 50,
            max_delay_ms: 2000,
            max_retry_after_ms: 5000,
            deadline_ms: 60_000,
        }
    }

    const RETRYABLE: RetryInput = RetryInput {
        retryable: true,
        retry_after_ms: None,
    };

    #[test]
    fn classification() {
        for t in FailureType::ALL {
            assert_eq!(classify(t.as_str()), t != FailureType::Latency, "{t:?}");
            if let Some(code) = t.error_code() {
                assert!(classify(code), "{code}");
            }
        }
        for code in [
            "ERR_OMEGA_BUDGET_EXCEEDED",
            "ERR_OMEGA_INVALID_ARGUMENT",
            "ERR_OMEGA_UNKNOWN_MODEL",
            "invalid_request",
            "",
            "whatever",
        ] {
            assert!(!classify(code), "{code}");
        }
        assert!(classify("ECONNRESET"));
        assert!(classify_status(429) && classify_status(529) && classify_status(503));
        assert!(!classify_status(400) && !classify_status(401) && !classify_status(404));
    }

    #[test]
    fn failures_are_classified() {
        let facts = |code: Option<&str>, cause: Option<&str>, status: Option<u16>| FailureFacts {
            code: code.map(Into::into),
            cause_code: cause.map(Into::into),
            status,
            ..Default::default()
        };
        let c = |f: FailureFacts| {
            let k = classify_failure(&f);
            (k.code, k.retryable)
        };
        assert_eq!(
            c(facts(Some("ECONNRESET"), None, None)),
            ("ERR_OMEGA_CONNECTION_RESET".into(), true)
        );
        assert_eq!(
            c(facts(None, Some("EAI_AGAIN"), None)),
            ("ERR_OMEGA_NETWORK".into(), true)
        );
        assert_eq!(
            c(facts(Some("ETIMEDOUT"), None, None)),
            ("ERR_OMEGA_PROVIDER_TIMEOUT".into(), true)
        );
        assert_eq!(
            c(facts(None, None, None)),
            ("ERR_OMEGA_PROVIDER".into(), false)
        );
        assert_eq!(
            c(facts(Some("ERR_FIXTURE_AUTH"), None, None)),
            ("ERR_FIXTURE_AUTH".into(), false)
        );
        assert_eq!(
            c(facts(Some("ENOTFOUND"), None, None)),
            ("ENOTFOUND".into(), false)
        );
        assert_eq!(
            c(facts(None, None, Some(529))),
            ("ERR_OMEGA_OVERLOADED".into(), true)
        );
        assert_eq!(
            c(facts(None, None, Some(502))),
            ("ERR_OMEGA_SERVER_ERROR".into(), true)
        );
        assert_eq!(
            c(facts(Some("invalid_api_key"), None, Some(401))),
            ("ERR_OMEGA_PROVIDER_AUTH".into(), false)
        );
        assert_eq!(
            c(facts(None, None, Some(404))),
            ("ERR_OMEGA_PROVIDER_NOT_FOUND".into(), false)
        );
        assert_eq!(
            c(facts(None, None, Some(422))),
            ("ERR_OMEGA_PROVIDER_HTTP".into(), false)
        );
        assert_eq!(
            c(facts(Some("ERR_OMEGA_RATE_LIMIT"), None, None)),
            ("ERR_OMEGA_RATE_LIMIT".into(), true)
        );
        let named = FailureFacts {
            name: Some("APIConnectionTimeoutError".into()),
            ..Default::default()
        };
        assert_eq!(c(named), ("ERR_OMEGA_PROVIDER_TIMEOUT".into(), true));
        let limited = |ms: Option<&str>, s: Option<&str>| {
            classify_failure(&FailureFacts {
                status: Some(429),
                retry_after_ms_header: ms.map(Into::into),
                retry_after_header: s.map(Into::into),
                ..Default::default()
            })
            .retry_after_ms
        };
        assert_eq!(limited(Some("250"), Some("3")), Some(250));
        assert_eq!(limited(None, Some("2")), Some(2000));
        assert_eq!(limited(None, Some("0.5")), Some(500));
        assert_eq!(limited(None, Some("Wed, 21 Oct 2015 07:28:00 GMT")), None);
        assert_eq!(limited(None, None), None);
    }

    #[test]
    fn reasons() {
        let p = policy();
        let not = RetryInput {
            retryable: false,
            retry_after_ms: None,
        };
        assert_eq!(
            p.decide(42, 0, 1, not, 0),
            RetryDecision {
                retry: false,
                delay_ms: 0,
                reason: RetryReason::NotRetryable
            }
        );
        assert_eq!(
            p.decide(42, 0, 5, RETRYABLE, 0).reason,
            RetryReason::MaxAttempts
        );
        assert!(p.decide(42, 0, 4, RETRYABLE, 0).retry);
        assert_eq!(
            p.decide(42, 0, 1, RETRYABLE, 60_000).reason,
            RetryReason::Deadline
        );
        let hint = RetryInput {
            retryable: true,
            retry_after_ms: Some(1500),
        };
        let d = p.decide(42, 0, 1, hint, 0);
        assert_eq!(
            (d.retry, d.delay_ms, d.reason),
            (true, 1500, RetryReason::RetryAfter)
        );
        // Hint capped at max_retry_after_ms.
        let big = RetryInput {
            retryable: true,
            retry_after_ms: Some(1_000_000),
        };
        assert_eq!(p.decide(42, 0, 1, big, 0).delay_ms, 5000);
        // Wait reaching the deadline → no retry.
        assert_eq!(
            p.decide(42, 0, 1, hint, 58_600).reason,
            RetryReason::Deadline
        );
        assert!(p.decide(42, 0, 1, hint, 58_400).retry);
        assert_eq!(RetryReason::MaxAttempts.as_str(), "max_attempts");
    }

    #[test]
    fn backoff_caps_grow_then_saturate() {
        let p = policy();
        let caps: Vec<u64> = (1..=8).map(|a| p.backoff_cap_ms(a)).collect();
        assert_eq!(caps, vec![50, 100, 200, 400, 800, 1600, 2000, 2000]);
        assert_eq!(p.backoff_cap_ms(0), 50);
        assert_eq!(p.backoff_cap_ms(u32::MAX), 2000);
    }

    #[test]
    fn jitter_is_full_and_reproducible() {
        let a: Vec<u64> = (0..2000).map(|i| jitter_ms(42, i, 3, 200)).collect();
        let b: Vec<u64> = (0..2000).map(|i| jitter_ms(42, i, 3, 200)).collect();
        assert_eq!(a, b);
        assert!(a.iter().all(|&d| d <= 200));
        assert!(
            a.iter().any(|&d| d < 20) && a.iter().any(|&d| d > 180),
            "full jitter spans [0, cap]"
        );
        let mean = a.iter().sum::<u64>() as f64 / a.len() as f64;
        assert!((90.0..110.0).contains(&mean), "{mean}");
        let c: Vec<u64> = (0..2000).map(|i| jitter_ms(43, i, 3, 200)).collect();
        assert_ne!(a, c);
        assert_eq!(jitter_ms(1, 2, 3, 0), 0);
        let _ = jitter_ms(1, 2, 3, u64::MAX);
        // Known answer (pins the algorithm).
        let pinned: Vec<u64> = (0..5).map(|i| jitter_ms(42, i, 1, 1000)).collect();
        assert_eq!(pinned, vec![217, 846, 93, 413, 103]);
    }

    /// One case of the property below; returns the decision so the caller can count branches.
    #[allow(clippy::too_many_arguments)]
    fn check_decision(
        seed: u64,
        call: u64,
        attempt: u32,
        hint: Option<u64>,
        elapsed: u64,
        max_attempts: u32,
        base: u64,
        extra: u64,
        max_ra: u64,
        deadline: u64,
    ) -> Result<RetryDecision, TestCaseError> {
        let p = RetryPolicy {
            max_attempts,
            base_delay_ms: base,
            max_delay_ms: base + extra,
            max_retry_after_ms: max_ra,
            deadline_ms: deadline,
        };
        let input = RetryInput {
            retryable: true,
            retry_after_ms: hint,
        };
        let d = p.decide(seed, call, attempt, input, elapsed);
        prop_assert_eq!(d, p.decide(seed, call, attempt, input, elapsed));
        if d.retry {
            prop_assert!(attempt.max(1) < max_attempts);
            prop_assert!(d.delay_ms <= (base + extra).max(max_ra));
            prop_assert!(
                d.delay_ms <= p.backoff_cap_ms(attempt) || d.reason == RetryReason::RetryAfter
            );
            prop_assert!(elapsed.saturating_add(d.delay_ms) < deadline);
            if let Some(h) = hint {
                prop_assert!(d.delay_ms >= h.min(max_ra));
            }
        } else {
            prop_assert_eq!(d.delay_ms, 0);
            prop_assert!(d.reason != RetryReason::Backoff && d.reason != RetryReason::RetryAfter);
            if attempt.max(1) < max_attempts {
                // Not out of attempts: only the deadline can have stopped it.
                prop_assert_eq!(d.reason, RetryReason::Deadline);
            } else {
                prop_assert_eq!(d.reason, RetryReason::MaxAttempts);
            }
        }
        let no = p.decide(
            seed,
            call,
            attempt,
            RetryInput {
                retryable: false,
                retry_after_ms: hint,
            },
            elapsed,
        );
        prop_assert_eq!(no.reason, RetryReason::NotRetryable);
        Ok(d)
    }

    /// The property over ranges where every branch is reached (attempts around `max_attempts`,
    /// elapsed time around the deadline), and a check that it was: a property whose retry branch
    /// never runs would pass whatever `decide` does.
    #[test]
    fn decisions_respect_caps_deadline_and_attempts() {
        use proptest::test_runner::{Config, TestRunner};
        use std::cell::RefCell;
        let strategy = (
            (any::<u64>(), any::<u64>(), 0u32..25),
            (proptest::option::of(0u64..150_000), 0u64..250_000),
            (1u32..30, 0u64..20_000, 0u64..200_000),
            (0u64..100_000, 1u64..200_000),
        );
        let reasons = RefCell::new(std::collections::BTreeMap::<&'static str, u32>::new());
        let cases = 2_000u32;
        let mut runner = TestRunner::new(Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        });
        let result = runner.run(
            &strategy,
            |(
                (seed, call, attempt),
                (hint, elapsed),
                (max_attempts, base, extra),
                (max_ra, deadline),
            )| {
                let d = check_decision(
                    seed,
                    call,
                    attempt,
                    hint,
                    elapsed,
                    max_attempts,
                    base,
                    extra,
                    max_ra,
                    deadline,
                )?;
                *reasons.borrow_mut().entry(d.reason.as_str()).or_default() += 1;
                Ok(())
            },
        );
        if let Err(e) = result {
            panic!("{e}");
        }
        let reasons = reasons.into_inner();
        let total: u32 = reasons.values().sum();
        let share = |r: &str| f64::from(reasons.get(r).copied().unwrap_or(0)) / f64::from(total);
        println!("decisions over {total} cases: {reasons:?}");
        // Every branch is reached in a fair share of the cases (the retry branch in ≥ 10 %).
        assert!(
            share("backoff") + share("retry_after") >= 0.10,
            "{reasons:?}"
        );
        for r in ["backoff", "retry_after", "max_attempts", "deadline"] {
            assert!(share(r) >= 0.02, "{r}: {reasons:?}");
        }
    }

    #[test]
    fn overrides_replace_values_and_keep_base_at_most_the_cap() {
        let p = RetryPolicy {
            max_attempts: 3,
            base_delay_ms: 100,
            max_delay_ms: 1000,
            max_retry_after_ms: 5000,
            deadline_ms: 30_000,
        };
        let o = RetryOverrides {
            max_attempts: Some(5),
            max_delay_ms: Some(2000),
            ..RetryOverrides::default()
        };
        let q = p.with_overrides(&o).unwrap();
        assert_eq!(
            (q.max_attempts, q.base_delay_ms, q.max_delay_ms),
            (5, 100, 2000)
        );
        assert_eq!(p.with_overrides(&RetryOverrides::default()).unwrap(), p);
        let zero = RetryOverrides {
            max_attempts: Some(0),
            ..RetryOverrides::default()
        };
        assert!(
            matches!(p.with_overrides(&zero), Err(Error::InvalidArgument { field, .. }) if field == "maxAttempts")
        );
        let inverted = RetryOverrides {
            base_delay_ms: Some(2000),
            ..RetryOverrides::default()
        };
        let err = p.with_overrides(&inverted).unwrap_err();
        assert_eq!(
            err.to_string(),
            Error::invalid("maxDelayMs", "must be ≥ baseDelayMs (2000), got 1000").to_string()
        );
    }
}
