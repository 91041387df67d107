//! Seeded chaos decisions: whether call `i` of a run gets a fault, and which one.
//!
//! A decision is a pure function of `(seed, profile, call_index)` so that the same run injects
//! the same faults whatever order concurrent calls happen in.

use serde::{Deserialize, Serialize};

/// The kinds of fault chaos can inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureType {
    /// The provider never answers within its timeout.
    Timeout,
    /// HTTP 429 with a `retry-after` hint.
    RateLimit,
    /// HTTP 500 / 503.
    ServerError,
    /// HTTP 529 (provider overloaded).
    Overloaded,
    /// A response with no text.
    EmptyResponse,
    /// A response cut short.
    TruncatedResponse,
    /// A response that should be JSON and is not.
    MalformedJson,
    /// The connection drops mid-call.
    ConnectionReset,
    /// A delay, then success.
    Latency,
}

impl FailureType {
    /// Every failure type, in a fixed order.
    pub const ALL: [FailureType; 9] = [
        FailureType::Timeout,
        FailureType::RateLimit,
        FailureType::ServerError,
        FailureType::Overloaded,
        FailureType::EmptyResponse,
        FailureType::TruncatedResponse,
        FailureType::MalformedJson,
        FailureType::ConnectionReset,
        FailureType::Latency,
    ];

    /// The snake_case name used in calibration and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureType::Timeout => "timeout",
            FailureType::RateLimit => "rate_limit",
            FailureType::ServerError => "server_error",
            FailureType::Overloaded => "overloaded",
            FailureType::EmptyResponse => "empty_response",
            FailureType::TruncatedResponse => "truncated_response",
            FailureType::MalformedJson => "malformed_json",
            FailureType::ConnectionReset => "connection_reset",
            FailureType::Latency => "latency",
        }
    }

    /// Parses a snake_case name.
    pub fn parse(name: &str) -> Option<FailureType> {
        FailureType::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

/// One chaos profile: how often, and which faults.
#[derive(Debug, Clone, PartialEq)]
pub struct ChaosProfile {
    /// Probability in [0, 1] that a call gets a fault.
    pub rate: f64,
    /// The faults this profile draws from (uniformly); never empty.
    pub failure_types: Vec<FailureType>,
}

/// Parameters of the injected faults themselves.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultSettings {
    /// Smallest injected latency, ms.
    pub latency_ms_min: u64,
    /// Largest injected latency, ms.
    pub latency_ms_max: u64,
    /// Smallest `retry-after` hint of a rate limit, ms.
    pub retry_after_ms_min: u64,
    /// Largest `retry-after` hint of a rate limit, ms.
    pub retry_after_ms_max: u64,
}
