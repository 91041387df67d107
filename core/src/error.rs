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
    /// A cases file (`--input cases.json`) is invalid: names the case and the check index.
    #[error("cases{}: case `{case_id}`{}: {message}", source_suffix(.source_name), .index.map(|i| format!(" assert[{i}]")).unwrap_or_default())]
    Cases {
        /// File name (relative) the cases came from, if any.
        source_name: Option<String>,
        /// Id of the offending case (`#<n>` when it has none).
        case_id: String,
        /// Index of the offending check in the case's `assert` list, if the problem is a check.
        index: Option<usize>,
        /// What is wrong.
        message: String,
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
    /// Names that must not be packed (issue 14): every refused name of the source at once, as
    /// `"name": reason: explanation` lines (see `proofpack::names`).
    #[error("{} unsafe name(s) refused (rename or remove them all, then build again):{}", .refused.len(), .refused.iter().map(|h| format!("\n  - {h}")).collect::<String>())]
    UnsafeNames {
        /// One line per refused entry.
        refused: Vec<String>,
    },
    /// A proofpack source without a single file: a pack of nothing would verify PASS.
    #[error("source `{path}` has no files: refusing to build an empty proofpack")]
    EmptySource {
        /// The source path, as given.
        path: String,
    },
    /// A provider answer larger than calibration `max_response_bytes` (not retryable).
    #[error("response of {bytes} bytes exceeds calibration max_response_bytes ({limit}); it was dropped")]
    ResponseTooLarge {
        /// Size of the answer (UTF-8 bytes), or at least this much when cut off early.
        bytes: u64,
        /// The limit.
        limit: u64,
    },
    /// The work was cancelled (SIGINT / SIGTERM in the CLI): nothing was left behind.
    #[error("{what} interrupted: cancelled, nothing written")]
    Interrupted {
        /// What was cancelled (`proofpack build`).
        what: String,
    },
    /// A signature (minisign `.minisig`, DSSE envelope) is malformed, does not verify, was made by
    /// another key, or covers other bytes than the pack's `MANIFEST.json`.
    #[error("signature `{file}`: {reason}: {message}")]
    Signature {
        /// The signature file (relative name), e.g. `MANIFEST.json.minisig`.
        file: String,
        /// Stable reason: `malformed`, `key_id_mismatch`, `bad_signature`, `bad_comment_signature`,
        /// `legacy_refused`, `comment_mismatch`, `payload_changed`, `subject_mismatch`.
        reason: String,
        /// Details.
        message: String,
    },
    /// A minisign public or secret key is malformed, or its password is wrong.
    #[error("key `{file}`: {reason}: {message}")]
    Key {
        /// The key file (relative name or `--pubkey-string`).
        file: String,
        /// Stable reason: `malformed`, `wrong_password`, `unsupported`, `password_required`.
        reason: String,
        /// Details.
        message: String,
    },
    /// A signature was required (`--require-signature`) but the pack carries none.
    #[error("pack `{path}` is not signed (no MANIFEST.json.minisig) but a signature is required")]
    Unsigned {
        /// The pack directory, as given.
        path: String,
    },
    /// The lock of an atomic cache file was not obtained within `LOCK_TIMEOUT_MS`.
    #[error("lock of cache `{file}` not obtained within {waited_ms} ms (LOCK_TIMEOUT_MS)")]
    LockTimeout {
        /// The cache file as given.
        file: String,
        /// Time waited, ms.
        waited_ms: u64,
    },
    /// An atomic cache file is not valid JSON or not an object; it is never overwritten.
    #[error("cache file `{path}` is corrupt ({reason}); it was not modified — inspect it or call AtomicCache.repair() to move it aside")]
    CacheCorrupt {
        /// The cache file as given.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The directory of a cache file does not exist (or is not a directory). Code `ERR_OMEGA_IO`.
    #[error("cache directory `{dir}` does not exist; nothing was written")]
    CacheDirMissing {
        /// The directory.
        dir: String,
    },
    /// The directory of a cache file cannot be written. Code `ERR_OMEGA_IO`.
    #[error("cache directory `{dir}` is not writable ({reason}); nothing was written")]
    CacheDirReadOnly {
        /// The directory.
        dir: String,
        /// The OS message.
        reason: String,
    },
    /// A command line that cannot be run: unknown flag, missing value, bad combination (exit 2).
    #[error("{message}")]
    Usage {
        /// What is wrong, naming the flag or file.
        message: String,
    },
    /// A user module (engine, scorer, scenes) cannot be loaded or lacks what is needed.
    #[error("{file}: {message}")]
    Module {
        /// The module file (base name).
        file: String,
        /// What is wrong.
        message: String,
    },
    /// Shard results that do not belong to one run (or overlap / leave gaps) cannot be merged.
    #[error("{message}")]
    Merge {
        /// What does not fit, naming the shard.
        message: String,
    },
    /// A run journal that cannot be resumed: damaged, or written by a run with other inputs
    /// (calibration, seed, count, chaos profile, cases, modules).
    #[error("{message}")]
    Resume {
        /// What differs or is wrong, naming the journal.
        message: String,
    },
    /// A scorer returned something that is not a valid score.
    #[error("{message}")]
    Scorer {
        /// What is wrong, naming the field and run.
        message: String,
    },
    /// A provider failed with an error that carries no code of its own.
    #[error("{message}")]
    Provider {
        /// The provider's message.
        message: String,
    },
    /// A provider fault (injected by chaos or real); the code follows the failure type.
    #[error("{message}")]
    ProviderFault {
        /// The kind of fault (never `latency`, which is a delay, then success).
        failure_type: crate::faults::FailureType,
        /// What happened.
        message: String,
    },
    /// A call or backoff sleep was aborted by its signal.
    #[error("{message}")]
    Aborted {
        /// What was aborted.
        message: String,
    },
    /// A bug or an unexpected runtime failure (N-API, serialisation); never an input problem.
    #[error("{message}")]
    Internal {
        /// What failed.
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
    /// A pack (or run folder) that `proofpack replay` cannot re-derive: no recorded outputs
    /// (`journal.jsonl`), no packed calibration, an inconsistent record (exit 2).
    #[error("not replayable: {reason}")]
    NotReplayable {
        /// Why, naming the missing or unreadable file.
        reason: String,
    },
    /// A module (scorer, engine, provider, check module) whose SHA-256 is not the one the run
    /// recorded in `modules.json`: replay refuses to run or trust it (exit 2).
    #[error("module `{file}` refused: its sha256 {actual} differs from the recorded {recorded}")]
    ModuleDigest {
        /// The module file (relative or base name).
        file: String,
        /// The digest recorded by the run.
        recorded: String,
        /// The digest of the file given.
        actual: String,
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

/// Every code an omega-pr error can carry, with what it means (the registry: the README's error
/// table is checked against it, and TS reads it through `errorCodes()`).
pub const ERROR_CODES: &[(&str, &str)] = &[
    (
        "ERR_OMEGA_CALIBRATION",
        "invalid calibration (every problem, with JSON paths)",
    ),
    (
        "ERR_OMEGA_INVALID_ARGUMENT",
        "an invalid argument or option (the field is named)",
    ),
    (
        "ERR_OMEGA_UNKNOWN_MODEL",
        "a model without a price: never counted as $0",
    ),
    (
        "ERR_OMEGA_BUDGET_EXCEEDED",
        "a reservation would pass the per-call or per-run cap",
    ),
    (
        "ERR_OMEGA_UNKNOWN_RESERVATION",
        "settle/release of an id that is not open",
    ),
    (
        "ERR_OMEGA_UNKNOWN_PROFILE",
        "a chaos profile the calibration does not define",
    ),
    (
        "ERR_OMEGA_SEED_RANGE",
        "a seed that is not a safe non-negative integer",
    ),
    ("ERR_OMEGA_EMPTY_RUNS", "statistics over no runs"),
    (
        "ERR_OMEGA_PARSE",
        "a SHA256SUMS / MANIFEST that cannot be parsed",
    ),
    (
        "ERR_OMEGA_ABSOLUTE_PATH",
        "an absolute path in a file to publish",
    ),
    (
        "ERR_OMEGA_UNSAFE_PATH",
        "a symlink, special file or reserved name in a pack",
    ),
    (
        "ERR_OMEGA_OUTPUT_NOT_EMPTY",
        "a proofpack output folder that is not empty",
    ),
    (
        "ERR_OMEGA_IO",
        "a file that cannot be read or written (the path is named)",
    ),
    (
        "ERR_OMEGA_LOCK_TIMEOUT",
        "the atomic cache lock was not obtained in time",
    ),
    (
        "ERR_OMEGA_CACHE_CORRUPT",
        "an atomic cache file that is not a JSON object",
    ),
    ("ERR_OMEGA_USAGE", "a command line that cannot be run"),
    ("ERR_OMEGA_MODULE", "a user module that cannot be loaded"),
    ("ERR_OMEGA_MERGE", "shards that do not belong to one run"),
    (
        "ERR_OMEGA_RESUME",
        "a run journal that cannot be resumed (damaged, or other inputs)",
    ),
    (
        "ERR_OMEGA_SCORER",
        "a scorer result that is not a valid score",
    ),
    (
        "ERR_OMEGA_PROVIDER",
        "a provider failure without a code of its own",
    ),
    ("ERR_OMEGA_PROVIDER_TIMEOUT", "provider fault: timeout"),
    (
        "ERR_OMEGA_RATE_LIMIT",
        "provider fault: rate limit (HTTP 429)",
    ),
    (
        "ERR_OMEGA_SERVER_ERROR",
        "provider fault: server error (HTTP 500/503)",
    ),
    (
        "ERR_OMEGA_OVERLOADED",
        "provider fault: overloaded (HTTP 529)",
    ),
    (
        "ERR_OMEGA_CONNECTION_RESET",
        "provider fault: connection reset",
    ),
    ("ERR_OMEGA_EMPTY_RESPONSE", "provider fault: empty response"),
    (
        "ERR_OMEGA_TRUNCATED_RESPONSE",
        "provider fault: truncated response",
    ),
    ("ERR_OMEGA_MALFORMED_JSON", "provider fault: malformed JSON"),
    ("ERR_OMEGA_ABORTED", "a call or sleep aborted by its signal"),
    ("ERR_OMEGA_INTERNAL", "a bug or unexpected runtime failure"),
    (
        "ERR_OMEGA_EMPTY_SOURCE",
        "a proofpack source without a single file",
    ),
    (
        "ERR_OMEGA_RESPONSE_TOO_LARGE",
        "a provider answer above calibration max_response_bytes",
    ),
    (
        "ERR_OMEGA_INTERRUPTED",
        "SIGINT / SIGTERM: the command stopped (exit 130)",
    ),
    (
        "ERR_OMEGA_SIGNATURE",
        "a signature or attestation that does not verify with the pinned key",
    ),
    (
        "ERR_OMEGA_KEY",
        "a minisign key that is malformed, or a wrong password",
    ),
    (
        "ERR_OMEGA_UNSIGNED",
        "an unsigned pack where a signature is required",
    ),
    (
        "ERR_OMEGA_CASES",
        "an invalid cases file (the case id and check index are named)",
    ),
    (
        "ERR_OMEGA_NO_SCORER",
        "a run with a real provider or engine and nothing that judges the answers",
    ),
    (
        "ERR_OMEGA_RUN_TIMEOUT",
        "an engine run that did not finish within its timeout",
    ),
    (
        "ERR_OMEGA_RUN_ENDED",
        "an LLM call made by an engine after its run ended",
    ),
    (
        "ERR_OMEGA_ENGINE_OUTPUT",
        "an engine run that returned nothing usable",
    ),
    (
        "ERR_OMEGA_TOO_MANY_CALLS",
        "an engine run that made more LLM calls than a run may",
    ),
    (
        "ERR_OMEGA_INVALID_USAGE",
        "token usage that cannot be trusted: charged at the reservation",
    ),
    (
        "ERR_OMEGA_PRICE_FILE",
        "an invalid price file (LiteLLM format; the entry and key are named)",
    ),
    (
        "ERR_OMEGA_NETWORK",
        "a network failure of the provider (ECONNRESET, ETIMEDOUT, …): retried",
    ),
    (
        "ERR_OMEGA_PROVIDER_BAD_REQUEST",
        "the provider refused the request (HTTP 400): surfaced at once",
    ),
    (
        "ERR_OMEGA_PROVIDER_AUTH",
        "the provider refused the credentials (HTTP 401): surfaced at once",
    ),
    (
        "ERR_OMEGA_PROVIDER_FORBIDDEN",
        "the provider forbade the request (HTTP 403): surfaced at once",
    ),
    (
        "ERR_OMEGA_PROVIDER_NOT_FOUND",
        "the provider does not know the model or route (HTTP 404): surfaced at once",
    ),
    (
        "ERR_OMEGA_PROVIDER_HTTP",
        "another HTTP status from the provider: surfaced at once",
    ),
    (
        "ERR_OMEGA_NOT_REPLAYABLE",
        "a pack without what `proofpack replay` needs (recorded outputs, calibration): exit 2",
    ),
    (
        "ERR_OMEGA_MODULE_DIGEST",
        "a module whose sha256 differs from the one the run recorded: refused (exit 2)",
    ),
];

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
            Error::UnsafeNames { .. } => "ERR_OMEGA_UNSAFE_PATH",
            Error::EmptySource { .. } => "ERR_OMEGA_EMPTY_SOURCE",
            Error::ResponseTooLarge { .. } => "ERR_OMEGA_RESPONSE_TOO_LARGE",
            Error::Interrupted { .. } => "ERR_OMEGA_INTERRUPTED",
            Error::Signature { .. } => "ERR_OMEGA_SIGNATURE",
            Error::Key { .. } => "ERR_OMEGA_KEY",
            Error::Unsigned { .. } => "ERR_OMEGA_UNSIGNED",
            Error::LockTimeout { .. } => "ERR_OMEGA_LOCK_TIMEOUT",
            Error::CacheCorrupt { .. } => "ERR_OMEGA_CACHE_CORRUPT",
            Error::CacheDirMissing { .. } | Error::CacheDirReadOnly { .. } => "ERR_OMEGA_IO",
            Error::Usage { .. } => "ERR_OMEGA_USAGE",
            Error::Module { .. } => "ERR_OMEGA_MODULE",
            Error::Merge { .. } => "ERR_OMEGA_MERGE",
            Error::Resume { .. } => "ERR_OMEGA_RESUME",
            Error::Scorer { .. } => "ERR_OMEGA_SCORER",
            Error::Provider { .. } => "ERR_OMEGA_PROVIDER",
            Error::ProviderFault { failure_type, .. } => {
                failure_type.error_code().unwrap_or("ERR_OMEGA_PROVIDER")
            }
            Error::Aborted { .. } => "ERR_OMEGA_ABORTED",
            Error::Internal { .. } => "ERR_OMEGA_INTERNAL",
            Error::Cases { .. } => "ERR_OMEGA_CASES",
            Error::InvalidUsage { .. } => "ERR_OMEGA_INVALID_USAGE",
            Error::PriceFile { .. } => "ERR_OMEGA_PRICE_FILE",
            Error::NotReplayable { .. } => "ERR_OMEGA_NOT_REPLAYABLE",
            Error::ModuleDigest { .. } => "ERR_OMEGA_MODULE_DIGEST",
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

    /// Every `ERR_OMEGA_…` literal of this file (the codes `code()` returns) and of the
    /// failure-type map is in the registry, once.
    #[test]
    fn every_code_is_registered_once() {
        let codes: Vec<&str> = ERROR_CODES.iter().map(|(c, _)| *c).collect();
        let mut sorted = codes.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), codes.len(), "duplicate code in ERROR_CODES");
        let sources = [include_str!("error.rs"), include_str!("faults.rs")];
        let mut seen = 0;
        for text in sources {
            for (i, _) in text.match_indices("\"ERR_OMEGA_") {
                let rest = &text[i + 1..];
                let end = rest
                    .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
                    .unwrap_or(rest.len());
                let code = &rest[..end];
                if code.ends_with('_') {
                    continue; // this test's own search pattern
                }
                assert!(codes.contains(&code), "{code} is not in ERROR_CODES");
                seen += 1;
            }
        }
        assert!(seen > ERROR_CODES.len());
        for t in crate::faults::FailureType::ALL {
            let e = Error::ProviderFault {
                failure_type: t,
                message: String::new(),
            };
            assert!(codes.contains(&e.code()), "{t:?}");
        }
    }
}
