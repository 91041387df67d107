//! Variance statistics for JS (see `omega_pr_core::variance`): the PR-G4 analysis
//! (`analyzeVariance`, the `PR_REPORT.json` fields), mergeable shard states, a streaming
//! `VarianceAccumulator` and a one-shot `summarize` over a `Float64Array`.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};

use napi::bindgen_prelude::{Float64ArraySlice, ObjectFinalize};
use napi::Env;
use napi_derive::napi;
use omega_pr_core::variance::{self, Accumulator, Analysis, RunSample};
use serde_json::Value;

use crate::error::{from_core, internal, Code};
use napi::Result;

/// One stress run, as the engine reports it.
#[napi(object)]
pub struct RunInput {
    /// Hard score of the run (also reported as metric `hard_score`).
    pub hard_score: f64,
    /// Soft score of the run (also reported as metric `soft_score`).
    pub soft_score: f64,
    /// Whether the hard gate passed.
    pub hard_pass: bool,
    /// Whether the soft gate passed.
    pub soft_pass: bool,
    /// Other metrics of the run (`latency_ms`, `cost_usd`, …); a run may omit any of them.
    pub metrics: Option<HashMap<String, f64>>,
}

/// Summary statistics: sample std (n − 1, 0 for one value), type-7 percentiles (numpy's default).
#[napi(object)]
pub struct VarianceSummary {
    /// Number of values.
    pub n: f64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Sample standard deviation (divisor n − 1).
    pub std: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// Coefficient of variation `std / |mean|`; absent when undefined (mean 0, std > 0).
    pub cv: Option<f64>,
}

impl From<variance::Summary> for VarianceSummary {
    fn from(s: variance::Summary) -> Self {
        Self {
            n: s.n as f64,
            mean: s.mean,
            std: s.std,
            min: s.min,
            max: s.max,
            p50: s.p50,
            p95: s.p95,
            cv: s.cv,
        }
    }
}

/// The mergeable state of a stress run or of one shard of it (`stress --shard i/n`): counts and
/// the raw samples per metric. Serialize it with `JSON.stringify` (exact for every double) and
/// combine shards with `mergeVarianceStates`.
#[napi(object)]
pub struct VarianceShardState {
    /// Always `OMEGA-VARIANCE-STATE-1.0`.
    #[napi(js_name = "schema_version", ts_type = "'OMEGA-VARIANCE-STATE-1.0'")]
    pub schema_version: String,
    /// Runs analysed.
    #[napi(js_name = "total_runs")]
    pub total_runs: f64,
    /// Runs whose hard gate passed.
    #[napi(js_name = "hard_passes")]
    pub hard_passes: f64,
    /// Runs whose soft gate passed.
    #[napi(js_name = "soft_passes")]
    pub soft_passes: f64,
    /// Samples per metric (`hard_score`, `soft_score`, and every other metric given).
    pub metrics: BTreeMap<String, Vec<f64>>,
}

/// The runs as the core's samples (field moves only; the core checks them).
fn samples(runs: Vec<RunInput>) -> Vec<RunSample> {
    runs.into_iter()
        .map(|r| RunSample {
            hard_score: r.hard_score,
            soft_score: r.soft_score,
            hard_pass: r.hard_pass,
            soft_pass: r.soft_pass,
            metrics: r.metrics.unwrap_or_default().into_iter().collect(),
        })
        .collect()
}

fn to_state(a: &Analysis) -> VarianceShardState {
    let s = a.to_state();
    VarianceShardState {
        schema_version: s.schema_version,
        total_runs: s.total_runs as f64,
        hard_passes: s.hard_passes as f64,
        soft_passes: s.soft_passes as f64,
        metrics: s.metrics,
    }
}

fn from_state(field: &str, s: VarianceShardState) -> Result<Analysis, Code> {
    Analysis::from_js_state(
        field,
        s.schema_version,
        s.total_runs,
        s.hard_passes,
        s.soft_passes,
        s.metrics,
    )
    .map_err(from_core)
}

fn report(
    mut analysis: Analysis,
    calibration: Option<crate::calibration::CalibrationArg>,
) -> Result<Value, Code> {
    let cal = crate::calibration::parse(calibration)?;
    let report = analysis
        .report(&cal.variance_envelopes, cal.pass_ratio_min, &cal.pass_k)
        .map_err(from_core)?;
    serde_json::to_value(report).map_err(internal)
}

/// The PR-G4 variance analysis of stress runs (the statistical part of `PR_REPORT.json`, snake_case):
/// `total_runs`, `hard_pass_rate`, `variance_verdict` (`FAIL` when `hard_pass_rate <
/// PASS_RATIO_MIN`), `variance_violations`, `downgrade_flag` (`DOWNGRADE_VARIANCE` when PASS but an
/// envelope is violated), `soft_pass_rate`, Wilson 95 % intervals, `pass_k` (unbiased, hard gate),
/// per-metric `metrics`. Thresholds come from `calibration` (shipped defaults when omitted). An
/// envelope on a metric with no data is a violation (`value: null`, `reason: "no_data"`).
/// Throws `ERR_OMEGA_EMPTY_RUNS` for no runs, `ERR_OMEGA_INVALID_ARGUMENT` naming
/// `runs[i].hardScore` (…) for a NaN or infinite value, `ERR_OMEGA_CALIBRATION`.
#[napi(
    ts_args_type = "runs: RunInput[], calibration?: Calibration | CalibrationDocument | undefined | null",
    ts_return_type = "VarianceReport"
)]
pub fn analyze_variance(
    runs: Vec<RunInput>,
    calibration: Option<crate::calibration::CalibrationArg>,
) -> Result<Value, Code> {
    let analysis =
        Analysis::from_js_runs_required(&samples(runs), "analyzeVariance").map_err(from_core)?;
    report(analysis, calibration)
}

/// The mergeable state of `runs` (one shard of a stress run). Same checks as `analyzeVariance`;
/// an empty list gives an empty state.
#[napi(ts_args_type = "runs: RunInput[]")]
pub fn variance_state(runs: Vec<RunInput>) -> Result<VarianceShardState, Code> {
    let analysis = Analysis::from_js_runs(&samples(runs)).map_err(from_core)?;
    Ok(to_state(&analysis))
}

/// Merges shard states (`stress merge`). n, min, max, percentiles and pass counts of the merged
/// state are bit-identical to analysing all runs at once; mean and std within 1e-12 relative.
/// Throws `ERR_OMEGA_INVALID_ARGUMENT` naming `states[i].…` for a malformed state (negative or
/// fractional counts, more passes than runs, sample counts that do not match).
#[napi]
pub fn merge_variance_states(states: Vec<VarianceShardState>) -> Result<VarianceShardState, Code> {
    let mut merged = Analysis::new();
    for (i, s) in states.into_iter().enumerate() {
        merged.merge(&from_state(&format!("states[{i}]"), s)?);
    }
    Ok(to_state(&merged))
}

/// The report (as `analyzeVariance`) of a (merged) state.
#[napi(
    ts_args_type = "state: VarianceShardState, calibration?: Calibration | CalibrationDocument | undefined | null",
    ts_return_type = "VarianceReport"
)]
pub fn variance_report_from_state(
    state: VarianceShardState,
    calibration: Option<crate::calibration::CalibrationArg>,
) -> Result<Value, Code> {
    report(from_state("state", state)?, calibration)
}

/// One-shot summary of `values` (n, mean, std, min, max, p50, p95, cv): two passes over the
/// array in place and one copy for the percentile selection. Throws `ERR_OMEGA_EMPTY_RUNS` when
/// empty, `ERR_OMEGA_INVALID_ARGUMENT` naming `values[i]` for a NaN or infinite value.
#[napi]
pub fn summarize(values: Float64ArraySlice) -> Result<VarianceSummary, Code> {
    variance::summarize(&values)
        .map(Into::into)
        .map_err(from_core)
}

/// Streaming statistics (Welford; mergeable with Chan et al.'s formula). Keeps the samples for
/// exact percentiles (8 bytes per value, reported to the JS garbage collector).
#[napi(custom_finalize)]
pub struct VarianceAccumulator {
    inner: RefCell<Accumulator>,
    /// Bytes of samples reported to V8 with `adjust_external_memory`.
    reported: Cell<i64>,
}

/// Report sample memory to V8 in steps of at least this many bytes.
const MEMORY_STEP: i64 = 1 << 16;

impl ObjectFinalize for VarianceAccumulator {
    fn finalize(self, env: Env) -> napi::Result<()> {
        let reported = self.reported.get();
        if reported != 0 {
            env.adjust_external_memory(-reported)?;
        }
        Ok(())
    }
}

impl VarianceAccumulator {
    fn with<T>(&self, f: impl FnOnce(&mut Accumulator) -> T) -> Result<T, Code> {
        let mut acc = self.inner.try_borrow_mut().map_err(internal)?;
        Ok(f(&mut acc))
    }

    fn get<T>(&self, f: impl FnOnce(&Accumulator) -> T) -> Result<T, Code> {
        let acc = self.inner.try_borrow().map_err(internal)?;
        Ok(f(&acc))
    }

    /// Tells V8 how much native memory the samples hold, so that dropped accumulators are
    /// collected promptly (their memory is invisible to the GC otherwise).
    fn sync_memory(&self, env: &Env) -> Result<(), Code> {
        let bytes = self.get(|a| std::mem::size_of_val(a.samples()) as i64)?;
        let delta = bytes - self.reported.get();
        if delta.abs() >= MEMORY_STEP {
            env.adjust_external_memory(delta).map_err(internal)?;
            self.reported.set(bytes);
        }
        Ok(())
    }
}

impl Default for VarianceAccumulator {
    fn default() -> Self {
        Self::new()
    }
}

#[napi]
impl VarianceAccumulator {
    /// An empty accumulator.
    #[napi(constructor)]
    pub fn new() -> Self {
        Self {
            inner: RefCell::new(Accumulator::new()),
            reported: Cell::new(0),
        }
    }

    /// Adds one value. Throws `ERR_OMEGA_INVALID_ARGUMENT` for NaN or ±Infinity.
    #[napi]
    pub fn push(&self, env: Env, x: f64) -> Result<(), Code> {
        self.with(|a| a.push(x))?.map_err(from_core)?;
        self.sync_memory(&env)
    }

    /// Adds every value of `values` (fast path). Nothing is added when one is not finite
    /// (`ERR_OMEGA_INVALID_ARGUMENT` naming `values[i]`).
    #[napi]
    pub fn push_many(&self, env: Env, values: Float64ArraySlice) -> Result<(), Code> {
        self.with(|a| a.extend_from_slice(&values))?
            .map_err(from_core)?;
        self.sync_memory(&env)
    }

    /// Adds every value of `other` (which is left unchanged; merging with itself doubles it).
    #[napi]
    pub fn merge(&self, env: Env, other: &VarianceAccumulator) -> Result<(), Code> {
        if std::ptr::eq(self, other) {
            let copy = self.get(Accumulator::clone)?;
            self.with(|a| a.merge(&copy))?;
        } else {
            let theirs = other.inner.try_borrow().map_err(internal)?;
            self.with(|a| a.merge(&theirs))?;
        }
        self.sync_memory(&env)
    }

    /// Number of values.
    #[napi(getter)]
    pub fn count(&self) -> Result<f64, Code> {
        self.get(|a| a.count() as f64)
    }

    /// Mean (NaN when empty).
    #[napi(getter)]
    pub fn mean(&self) -> Result<f64, Code> {
        self.get(Accumulator::mean)
    }

    /// Sample standard deviation (n − 1): NaN when empty, 0 for one value.
    #[napi(getter)]
    pub fn std(&self) -> Result<f64, Code> {
        self.get(Accumulator::std)
    }

    /// Smallest value (NaN when empty).
    #[napi(getter)]
    pub fn min(&self) -> Result<f64, Code> {
        self.get(Accumulator::min)
    }

    /// Largest value (NaN when empty).
    #[napi(getter)]
    pub fn max(&self) -> Result<f64, Code> {
        self.get(Accumulator::max)
    }

    /// Type-7 percentile, `p` in [0, 1]. Throws `ERR_OMEGA_EMPTY_RUNS` when empty,
    /// `ERR_OMEGA_INVALID_ARGUMENT` for `p` out of range.
    #[napi]
    pub fn percentile(&self, p: f64) -> Result<f64, Code> {
        self.with(|a| a.percentile(p))?.map_err(from_core)
    }

    /// n, mean, std, min, max, p50, p95, cv. Throws `ERR_OMEGA_EMPTY_RUNS` when empty.
    #[napi]
    pub fn summary(&self) -> Result<VarianceSummary, Code> {
        self.with(|a| a.summary())?
            .map(Into::into)
            .map_err(from_core)
    }
}
