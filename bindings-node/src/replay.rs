//! `proofpack replay` comparisons, forwarded to `omega_pr_core::replay`.

use napi::Result;
use napi_derive::napi;
use omega_pr_core::replay;

use crate::error::{from_core, Code};

/// The first JSON path (`$.runs[17].hard_score`, document order) at which `replayed` differs
/// from `recorded`; `null` when the two texts are byte-identical; `$ (formatting)` for the same
/// values in other bytes; `$ (not JSON)` when either is not JSON.
#[napi]
pub fn first_json_difference(recorded: String, replayed: String) -> Option<String> {
    replay::first_difference(&recorded, &replayed)
}

/// A field of one run that differs between the packed and the replayed `PR_REPORT.json`.
#[napi(object)]
pub struct RunChange {
    /// `run_index` of the run.
    pub run_index: f64,
    /// The field (`hard_score`, `hard_pass`, …; `run` when the run is in one report only).
    pub field: String,
    /// The packed value as JSON text (`absent` when missing).
    pub recorded: String,
    /// The replayed value as JSON text (`absent` when missing).
    pub replayed: String,
}

/// The runs of two `PR_REPORT.json` texts that differ, one entry per differing field (scores
/// and pass flags first). Throws `ERR_OMEGA_INVALID_ARGUMENT` when either text is not JSON.
#[napi]
pub fn changed_runs(recorded: String, replayed: String) -> Result<Vec<RunChange>, Code> {
    Ok(replay::changed_runs(&recorded, &replayed)
        .map_err(from_core)?
        .into_iter()
        .map(|c| RunChange {
            run_index: c.run_index as f64,
            field: c.field,
            recorded: c.recorded,
            replayed: c.replayed,
        })
        .collect())
}
