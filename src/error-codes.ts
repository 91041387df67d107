/**
 * The registry of error codes, as TypeScript sees it: the core's `ERROR_CODES`
 * (`core/src/error.rs`), in the same order. Kept in step by `tests/pr/error-registry.test.ts`,
 * which compares it with the addon's `errorCodes()` — when you add a code to the core, add it here
 * and to the README's error table.
 */
export const ERROR_CODES = [
  'ERR_OMEGA_CALIBRATION', // invalid calibration (every problem, with JSON paths)
  'ERR_OMEGA_INVALID_ARGUMENT', // an invalid argument or option (the field is named)
  'ERR_OMEGA_UNKNOWN_MODEL', // a model without a price: never counted as $0
  'ERR_OMEGA_BUDGET_EXCEEDED', // a reservation would pass the per-call or per-run cap
  'ERR_OMEGA_UNKNOWN_RESERVATION', // settle/release of an id that is not open
  'ERR_OMEGA_UNKNOWN_PROFILE', // a chaos profile the calibration does not define
  'ERR_OMEGA_SEED_RANGE', // a seed that is not a safe non-negative integer
  'ERR_OMEGA_EMPTY_RUNS', // statistics over no runs
  'ERR_OMEGA_PARSE', // a SHA256SUMS / MANIFEST that cannot be parsed
  'ERR_OMEGA_ABSOLUTE_PATH', // an absolute path in a file to publish
  'ERR_OMEGA_UNSAFE_PATH', // a symlink, special file or reserved name in a pack
  'ERR_OMEGA_OUTPUT_NOT_EMPTY', // a proofpack output folder that is not empty
  'ERR_OMEGA_IO', // a file that cannot be read or written (the path is named)
  'ERR_OMEGA_LOCK_TIMEOUT', // the atomic cache lock was not obtained in time
  'ERR_OMEGA_CACHE_CORRUPT', // an atomic cache file that is not a JSON object
  'ERR_OMEGA_USAGE', // a command line that cannot be run
  'ERR_OMEGA_MODULE', // a user module that cannot be loaded
  'ERR_OMEGA_MERGE', // shards that do not belong to one run
  'ERR_OMEGA_SCORER', // a scorer result that is not a valid score
  'ERR_OMEGA_PROVIDER', // a provider failure without a code of its own
  'ERR_OMEGA_PROVIDER_TIMEOUT', // provider fault: timeout
  'ERR_OMEGA_RATE_LIMIT', // provider fault: rate limit (HTTP 429)
  'ERR_OMEGA_SERVER_ERROR', // provider fault: server error (HTTP 500/503)
  'ERR_OMEGA_OVERLOADED', // provider fault: overloaded (HTTP 529)
  'ERR_OMEGA_CONNECTION_RESET', // provider fault: connection reset
  'ERR_OMEGA_EMPTY_RESPONSE', // provider fault: empty response
  'ERR_OMEGA_TRUNCATED_RESPONSE', // provider fault: truncated response
  'ERR_OMEGA_MALFORMED_JSON', // provider fault: malformed JSON
  'ERR_OMEGA_ABORTED', // a call or sleep aborted by its signal
  'ERR_OMEGA_INTERNAL', // a bug or unexpected runtime failure
] as const;

/** Every code an omega-pr error can carry. */
export type OmegaErrorCode = (typeof ERROR_CODES)[number];
