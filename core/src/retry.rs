//! Retry decisions: which failures are retryable, and how long to wait (exponential backoff with
//! full jitter, seeded and reproducible, honouring `retry-after` within caps and the deadline).

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
