//! `PR_PREFLIGHT.json`, gate PR-G0 (runbook phase 0): the shape of the document. The TS layer
//! runs the test command (a child process, the core stays process-free), judges the gate (the
//! command exited 0 with more than 0 tests and none failed, plus the expected total, branch and
//! clean tree when asked) and writes this struct's fields in this order; its JSON Schema
//! (`schemas/pr-preflight.schema.json`) and TS type (`PreflightReport`) derive from it.

use serde::{Deserialize, Serialize};

/// Schema version of `PR_PREFLIGHT.json`.
pub const PREFLIGHT_SCHEMA_VERSION: &str = "PR-PREFLIGHT-1.0";

/// Written by `omega-pr preflight` (and `sprint`) to `metrics/pr/PR_PREFLIGHT.json`: the
/// runbook's fields plus the test command and the expected total.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct PreflightReport {
    /// Always `PR-PREFLIGHT-1.0` ([`PREFLIGHT_SCHEMA_VERSION`]).
    #[cfg_attr(feature = "schema", schemars(extend("const" = PREFLIGHT_SCHEMA_VERSION)))]
    pub schema_version: String,
    /// git branch, or `unknown` outside a repository.
    pub branch: String,
    /// git HEAD sha, or `unknown`.
    pub head: String,
    /// The gate: the command exited 0 with more than 0 tests, none failed (and the expected
    /// total, branch and clean tree, when asked).
    pub vitest_pass: bool,
    /// Tests the command ran.
    pub vitest_total: u64,
    /// Of them, failed.
    pub vitest_failed: u64,
    /// `PASS` when `vitest_pass`, else `FAIL`.
    #[cfg_attr(feature = "schema", schemars(extend("enum" = ["PASS", "FAIL"])))]
    pub verdict: String,
    /// The shell command that ran the tests.
    pub test_command: String,
    /// `--expect-total`, or null when not asked.
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub expected_total: Option<u64>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on a broken fixture
mod tests {
    use super::*;

    #[test]
    fn a_written_report_reads_back_in_the_same_order() {
        let text = r#"{
  "schema_version": "PR-PREFLIGHT-1.0",
  "branch": "main",
  "head": "0123456789abcdef0123456789abcdef01234567",
  "vitest_pass": true,
  "vitest_total": 12,
  "vitest_failed": 0,
  "verdict": "PASS",
  "test_command": "npx vitest run",
  "expected_total": null
}"#;
        let r: PreflightReport = serde_json::from_str(text).expect("valid");
        assert_eq!(r.schema_version, PREFLIGHT_SCHEMA_VERSION);
        assert_eq!(serde_json::to_string_pretty(&r).expect("serializes"), text);
        assert!(
            serde_json::from_str::<PreflightReport>(&text.replace("\"head\"", "\"hed\"")).is_err()
        );
    }
}
