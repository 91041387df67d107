//! What calibration, chaos and retry share: the kinds of fault, a chaos profile and the fault
//! parameters, with the rules attached to a fault kind (its error code, HTTP status and
//! retryability). A leaf module: it imports nothing of the crate, so `calibration`, `chaos` and
//! `retry` can all depend on it without a cycle.

use serde::{Deserialize, Serialize};

/// The kinds of fault chaos can inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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

/// `{"enum": [every failure type name]}`: the schema of a key naming a failure type (for maps
/// keyed by name, e.g. `chaos-log.json` `by_failure_type`).
#[cfg(feature = "schema")]
pub fn failure_type_names_schema() -> serde_json::Value {
    serde_json::json!({ "enum": FailureType::ALL.map(FailureType::as_str) })
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

impl FailureType {
    /// The `ERR_OMEGA_…` code of the error a provider throws for this fault, or `None` for
    /// [`FailureType::Latency`] (a delay, then success).
    pub fn error_code(self) -> Option<&'static str> {
        match self {
            FailureType::Timeout => Some("ERR_OMEGA_PROVIDER_TIMEOUT"),
            FailureType::RateLimit => Some("ERR_OMEGA_RATE_LIMIT"),
            FailureType::ServerError => Some("ERR_OMEGA_SERVER_ERROR"),
            FailureType::Overloaded => Some("ERR_OMEGA_OVERLOADED"),
            FailureType::EmptyResponse => Some("ERR_OMEGA_EMPTY_RESPONSE"),
            FailureType::TruncatedResponse => Some("ERR_OMEGA_TRUNCATED_RESPONSE"),
            FailureType::MalformedJson => Some("ERR_OMEGA_MALFORMED_JSON"),
            FailureType::ConnectionReset => Some("ERR_OMEGA_CONNECTION_RESET"),
            FailureType::Latency => None,
        }
    }

    /// Whether the failure is worth retrying: every injected fault is, except `latency`, which is
    /// not a failure at all.
    pub fn retryable(self) -> bool {
        self != FailureType::Latency
    }
}
