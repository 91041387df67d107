//! The one error type of the core. Every variant has a stable code (`ERR_OMEGA_…`) that the
//! bindings put on the JS error's `code` property, and a message that names the offending
//! field, value or file.

use std::fmt;

/// One problem found while validating a document (calibration, manifest, …): where, and what.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// JSON path of the offending value, e.g. `$.budget.max_per_call_usd`.
    pub path: String,
    /// What is wrong with it, in words.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

fn join_problems(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("\n  - {p}"))
        .collect::<String>()
}

/// Every error the core can return.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// The calibration document is invalid; every problem is listed with its JSON path.
    #[error("invalid calibration{}: {} problem(s):{}", source_suffix(.source_name), .problems.len(), join_problems(.problems))]
    Calibration {
        /// File name (relative) the calibration came from, if any.
        source_name: Option<String>,
        /// Every problem found, in document order.
        problems: Vec<Problem>,
    },
    /// An argument given by the caller is invalid (NaN, negative, out of range, …).
    #[error("invalid argument `{field}`: {message}")]
    InvalidArgument {
        /// Name (or path) of the argument.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// A model has no price in the calibration: it would be counted as $0, which we never do.
    #[error("model `{model}` has no price in calibration `budget.models`")]
    UnknownModel {
        /// The model name that was asked for.
        model: String,
    },
    /// A reservation would exceed the per-call or per-run budget: the call must not be made.
    #[error("budget exceeded ({kind}): {call} needs ${amount_usd} but the limit is ${limit_usd} (already committed ${committed_usd})")]
    BudgetExceeded {
        /// `per_call` or `per_run`.
        kind: String,
        /// Call id / scene id description.
        call: String,
        /// Worst-case amount of the refused call, USD.
        amount_usd: f64,
        /// The limit, USD.
        limit_usd: f64,
        /// Money already settled or reserved in the run, USD.
        committed_usd: f64,
    },
    /// A reservation id that the tracker does not know (already settled, released, or never made).
    #[error("unknown reservation id {id}")]
    UnknownReservation {
        /// The id given.
        id: u64,
    },
    /// A chaos profile name that the calibration does not define.
    #[error("unknown chaos profile `{name}` (known: {known})")]
    UnknownProfile {
        /// The name asked for.
        name: String,
        /// The profile names that exist, comma separated.
        known: String,
    },
    /// A seed outside the accepted range (a non-negative safe integer).
    #[error("seed {value} out of range: must be an integer in 0..=9007199254740991")]
    SeedRange {
        /// The value given, as text.
        value: String,
    },
    /// Statistics were asked for over no runs at all.
    #[error("empty run list: {what} needs at least one run")]
    EmptyRuns {
        /// What needed runs.
        what: String,
    },
    /// A SHA256SUMS / MANIFEST document could not be parsed or is unsafe.
    #[error("{file}:{line}: {reason}: {message}")]
    Parse {
        /// File name (relative).
        file: String,
        /// 1-based line number (0 when not line-based).
        line: usize,
        /// Stable reason code, e.g. `bad_hex`, `duplicate_path`.
        reason: String,
        /// Details.
        message: String,
    },
    /// A file that must be published contains an absolute path.
    #[error("absolute path(s) found:{}", .hits.iter().map(|h| format!("\n  - {h}")).collect::<String>())]
    AbsolutePath {
        /// `file:line: pattern` descriptions of each hit.
        hits: Vec<String>,
    },
    /// A path that must not be packed or followed: a symlink, a special file, a reserved name, a
    /// name that is not UTF-8 (proofpack build).
    #[error("unsafe path `{path}`: {reason}")]
    UnsafePath {
        /// The path (relative to the source).
        path: String,
        /// Why: `symlink`, `not_a_file`, `reserved_name`, `not_utf8`, `inside_source`.
        reason: String,
    },
    /// The output directory of a build exists and is not empty (packs are never merged).
    #[error("output `{path}` exists and is not empty: refusing to write a proofpack into it")]
    OutputNotEmpty {
        /// The output path, as given.
        path: String,
    },
    /// An I/O failure, with the (relative or caller-given) path.
    #[error("{op} `{path}`: {message}")]
    Io {
        /// What was being done (`read`, `write`, `rename`, …).
        op: String,
        /// The path involved.
        path: String,
        /// The OS message.
        message: String,
    },
    /// A provider reported token usage that cannot be trusted (NaN, negative, fractional, a
    /// string, missing): the call is charged at its reservation, never at $0.
    #[error("invalid usage `{field}`: {message}")]
    InvalidUsage {
        /// The usage field, e.g. `usage.inputTokens`.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// A price file (LiteLLM `model_prices_and_context_window.json` format) is invalid.
    #[error("invalid price file{}: {}", source_suffix(.source_name), .message)]
    PriceFile {
        /// File name (relative) of the price file, if any.
        source_name: Option<String>,
        /// What is wrong, naming the entry and key.
        message: String,
    },
}

fn source_suffix(source: &Option<String>) -> String {
    match source {
        Some(name) => format!(" `{name}`"),
        None => String::new(),
    }
}

impl Error {
    /// The stable code of this error, as JS sees it on `err.code`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Calibration { .. } => "ERR_OMEGA_CALIBRATION",
            Error::InvalidArgument { .. } => "ERR_OMEGA_INVALID_ARGUMENT",
            Error::UnknownModel { .. } => "ERR_OMEGA_UNKNOWN_MODEL",
            Error::BudgetExceeded { .. } => "ERR_OMEGA_BUDGET_EXCEEDED",
            Error::UnknownReservation { .. } => "ERR_OMEGA_UNKNOWN_RESERVATION",
            Error::UnknownProfile { .. } => "ERR_OMEGA_UNKNOWN_PROFILE",
            Error::SeedRange { .. } => "ERR_OMEGA_SEED_RANGE",
            Error::EmptyRuns { .. } => "ERR_OMEGA_EMPTY_RUNS",
            Error::Parse { .. } => "ERR_OMEGA_PARSE",
            Error::AbsolutePath { .. } => "ERR_OMEGA_ABSOLUTE_PATH",
            Error::UnsafePath { .. } => "ERR_OMEGA_UNSAFE_PATH",
            Error::OutputNotEmpty { .. } => "ERR_OMEGA_OUTPUT_NOT_EMPTY",
            Error::Io { .. } => "ERR_OMEGA_IO",
            Error::InvalidUsage { .. } => "ERR_OMEGA_INVALID_USAGE",
            Error::PriceFile { .. } => "ERR_OMEGA_PRICE_FILE",
        }
    }

    /// Shorthand for [`Error::InvalidArgument`].
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidArgument {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Result alias of the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calibration_message_lists_every_problem_with_path() {
        let err = Error::Calibration {
            source_name: Some("calibration.json".into()),
            problems: vec![
                Problem {
                    path: "$.SEED".into(),
                    message: "is null".into(),
                },
                Problem {
                    path: "$.budget.max_per_run_usd".into(),
                    message: "must be ≥ 0".into(),
                },
            ],
        };
        let text = err.to_string();
        assert!(text.contains("`calibration.json`"));
        assert!(text.contains("2 problem(s)"));
        assert!(text.contains("$.SEED: is null"));
        assert!(text.contains("$.budget.max_per_run_usd"));
        assert_eq!(err.code(), "ERR_OMEGA_CALIBRATION");
    }
}
