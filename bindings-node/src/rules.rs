//! Shared report rules of the core, exposed as they are (no logic here).

use napi::Result;
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

/// Run-folder timestamp of `epochSecs` (UTC): `YYYYMMDD_HHMMSS`, as the runbook names run folders.
#[napi]
pub fn run_stamp(epoch_secs: f64) -> Result<String, crate::error::Code> {
    let secs = crate::error::whole("epochSecs", epoch_secs)?;
    Ok(report_rules::run_stamp(secs))
}

/// A stress run's folder name: `stress<count>_<stamp>`, plus `_shard<i>of<n>` for a shard.
#[napi]
pub fn stress_run_name(
    count: f64,
    stamp: String,
    shard: Option<ShardRef>,
) -> Result<String, crate::error::Code> {
    let count = crate::error::whole("count", count)?;
    let shard = shard.map(|s| (u64::from(s.index), u64::from(s.total)));
    Ok(report_rules::stress_run_name(count, &stamp, shard))
}

/// One shard of a run (1-based `index` of `total`).
#[napi(object)]
pub struct ShardRef {
    /// 1-based shard index.
    pub index: u32,
    /// Shard count.
    pub total: u32,
}

/// Whether a run folder name is a shard's (`…_shard<i>of<n>`): shards never move a `_latest` link.
#[napi]
pub fn is_shard_run(name: String) -> bool {
    report_rules::is_shard_run(&name)
}

/// The `PR_RUNS/<kind>_latest` alias of a run folder name (`stress100_…` → `stress100_latest`).
#[napi]
pub fn latest_alias(run_name: String) -> String {
    report_rules::latest_alias(&run_name)
}

/// One shard to merge (`checkShards`): its report meta (or journal header meta) and, when known,
/// the digest of its calibration.
#[napi(object, object_to_js = false)]
pub struct ShardPartInput {
    /// The meta fields (`seed`, `provider`, …, `shard: { index, total }`).
    #[napi(ts_type = "Record<string, unknown>")]
    pub meta: serde_json::Value,
    /// `sha256:…` of the shard's calibration, when recorded.
    pub calibration_digest: Option<String>,
}

/// Checks that `parts` are every shard of one stress run, once each, run with the same options
/// (and calibration, when recorded); returns the shard count. Throws `ERR_OMEGA_MERGE` naming what
/// does not fit. `source` names where the meta was read (`PR_REPORT.json`, `journal header`).
#[napi]
pub fn check_shards(parts: Vec<ShardPartInput>, source: String) -> Result<u32, crate::error::Code> {
    let refs: Vec<omega_pr_core::shards::ShardPart<'_>> = parts
        .iter()
        .map(|p| omega_pr_core::shards::ShardPart {
            meta: &p.meta,
            calibration_digest: p.calibration_digest.as_deref(),
        })
        .collect();
    let total =
        omega_pr_core::shards::check_shards(&refs, &source).map_err(crate::error::from_core)?;
    Ok(u32::try_from(total).unwrap_or(u32::MAX))
}
