//! `concurrency<N>-report.json`, gate PR-G1 (runbook phase 2, PR-1): the shape of the document.
//! The TS layer spawns the writer processes (the core stays process-free), counts successes,
//! lost updates and residual `.lock`/`.tmp` files, takes the lock-wait percentiles with
//! [`crate::report_rules::nearest_rank`] and writes this struct's fields in this order; its JSON
//! Schema (`schemas/concurrency-report.schema.json`) and TS type (`ConcurrencyReport`) derive
//! from it.

use serde::{Deserialize, Serialize};

/// Most worker error lines a report keeps.
pub const MAX_WORKER_ERRORS: usize = 20;

/// Written by `omega-pr concurrency` (and `sprint`) to
/// `metrics/pr/PR_RUNS/concurrency<N>_<ts>/concurrency<N>-report.json`: the runbook's fields plus
/// throughput and lock-wait figures. PASS when every worker succeeded, 0 residual `.lock`/`.tmp`
/// files, the cache reads back as valid JSON and 0 updates were lost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct ConcurrencyReport {
    /// Writer processes.
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub workers: u64,
    /// Workers that exited 0 with every update written.
    pub successes: u64,
    /// `workers − successes`.
    pub failures: u64,
    /// `.lock` files left in the run folder.
    pub residual_locks: u64,
    /// `.tmp` files left in the run folder.
    pub residual_tmps: u64,
    /// The final cache file reads back as a JSON object.
    pub cache_valid: bool,
    /// Gate PR-G1.
    #[cfg_attr(feature = "schema", schemars(extend("enum" = ["PASS", "FAIL"])))]
    pub verdict: String,
    /// Updates a worker reported written that the final cache does not hold.
    pub lost_updates: u64,
    /// Updates each worker makes.
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub updates_per_worker: u64,
    /// Updates the workers reported written.
    pub total_updates: u64,
    /// `full` (fsync file and directory) or `none`.
    #[cfg_attr(feature = "schema", schemars(extend("enum" = ["full", "none"])))]
    pub durability: String,
    /// `--lock-timeout-ms`, or null for the calibration's `LOCK_TIMEOUT_MS`.
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub lock_timeout_ms: Option<u64>,
    /// Lock-wait percentiles of every update, ms.
    pub lock_wait_ms: LockWaitMs,
    /// Updates per second over the run.
    #[cfg_attr(feature = "schema", schemars(range(min = 0)))]
    pub updates_per_sec: f64,
    /// From the first worker's start to the last one's end, ms.
    #[cfg_attr(feature = "schema", schemars(range(min = 0)))]
    pub duration_ms: f64,
    /// The cache's file name only, never a path.
    #[cfg_attr(feature = "schema", schemars(regex(pattern = r"^[^/\\]+$")))]
    pub cache_file: String,
    /// The first worker errors (`worker <i>: …`, run-folder paths removed), at most
    /// [`MAX_WORKER_ERRORS`].
    #[cfg_attr(feature = "schema", schemars(length(max = 20)))]
    pub worker_errors: Vec<String>,
    /// When the report was written, ISO 8601 UTC (from `SOURCE_DATE_EPOCH` when set).
    #[cfg_attr(feature = "schema", schemars(extend("format" = "date-time")))]
    pub timestamp: String,
}

/// Nearest-rank lock-wait percentiles (`report_rules::nearest_rank`) and the maximum, ms.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct LockWaitMs {
    /// Median.
    #[cfg_attr(feature = "schema", schemars(range(min = 0)))]
    pub p50: f64,
    /// 99th percentile.
    #[cfg_attr(feature = "schema", schemars(range(min = 0)))]
    pub p99: f64,
    /// Longest wait.
    #[cfg_attr(feature = "schema", schemars(range(min = 0)))]
    pub max: f64,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on a broken fixture
mod tests {
    use super::*;

    #[test]
    fn a_written_report_reads_back_in_the_same_order() {
        let text = r#"{
  "workers": 2,
  "successes": 2,
  "failures": 0,
  "residual_locks": 0,
  "residual_tmps": 0,
  "cache_valid": true,
  "verdict": "PASS",
  "lost_updates": 0,
  "updates_per_worker": 5,
  "total_updates": 10,
  "durability": "none",
  "lock_timeout_ms": null,
  "lock_wait_ms": {
    "p50": 0.1,
    "p99": 2.5,
    "max": 2.5
  },
  "updates_per_sec": 812.3,
  "duration_ms": 12.3,
  "cache_file": "cache.json",
  "worker_errors": [],
  "timestamp": "2024-02-12T14:30:00.000Z"
}"#;
        let r: ConcurrencyReport = serde_json::from_str(text).expect("valid");
        assert_eq!(serde_json::to_string_pretty(&r).expect("serializes"), text);
    }
}
