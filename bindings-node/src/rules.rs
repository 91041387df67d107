//! Shared report rules of the core, exposed as they are (no logic here).

use napi_derive::napi;
use omega_pr_core::report_rules;

/// `SOURCE_DATE_EPOCH` as whole seconds, or `null` when `value` is missing or not a plain
/// non-negative integer (≤ 2^53 − 1): the one parser of the variable. Pass
/// `process.env.SOURCE_DATE_EPOCH`.
#[napi]
pub fn parse_source_date_epoch(value: Option<String>) -> Option<f64> {
    value
        .as_deref()
        .and_then(report_rules::parse_source_date_epoch)
        .map(|s| s as f64)
}

/// Nearest-rank percentile (`p` in 0..=100) of values sorted ascending; 0 for none.
#[napi]
pub fn nearest_rank_percentile(sorted: Vec<f64>, p: f64) -> f64 {
    report_rules::nearest_rank(&sorted, p)
}
