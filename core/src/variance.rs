//! Variance statistics: mergeable Welford accumulators, percentiles, Wilson intervals, pass^k,
//! envelopes and the runbook's PR-G4 verdict.
//!
//! # Pieces
//! - [`Accumulator`]: streaming n / mean / M2 (Welford) / min / max, plus the samples themselves
//!   so percentiles are exact. [`Accumulator::merge`] combines two accumulators with the parallel
//!   formula of Chan et al.; samples are concatenated.
//! - [`summarize`]: a one-shot [`Summary`] of a slice (two-pass mean/variance, one copy for the
//!   percentile selection).
//! - [`Analysis`]: the mergeable state of a stress run (run count, pass counts, one accumulator
//!   per metric). It serializes to a shard file (`stress --shard i/n`) and merges back
//!   (`stress merge`); [`Analysis::report`] gives the [`VarianceReport`] (`PR_REPORT.json`).
//! - [`analyze`]: runs → report in one call.
//!
//! # Definitions
//! - `std` is the **sample** standard deviation (divisor n − 1); it is `0` for a single value.
//! - `cv` is `std / |mean|`; it is `0` when `std == 0`, and `null` (undefined) when the mean is 0
//!   and `std > 0`.
//! - Percentiles use linear interpolation between order statistics (Hyndman & Fan type 7, numpy's
//!   default): `h = (n − 1)·p`, `x[⌊h⌋] + (h − ⌊h⌋)·(x[⌊h⌋+1] − x[⌊h⌋])`, with numpy's lerp.
//! - Pass rates carry a Wilson 95 % score interval (z = 1.959963984540054).
//! - pass^k (on the **hard** pass) is the unbiased estimator C(c, k) / C(n, k) of the probability
//!   that k runs drawn without replacement all pass; it is reported for every asked k ≤ n.
//!
//! # Envelopes and verdict
//! An envelope `statistic(metric) ≤ max` is violated when the statistic is above `max`. An envelope
//! naming a metric **with no data** is a violation too (`value: null`, `reason: "no_data"`): the
//! variance of an unmeasured metric cannot be certified, and we never pass silently. A `cv` that is
//! undefined (mean 0, std > 0) is a violation with `reason: "undefined"`.
//! Verdict (runbook PR-G4): `hard_pass_rate < PASS_RATIO_MIN` → `FAIL` (no downgrade flag: FAIL
//! dominates); otherwise `PASS`, with `downgrade_flag: "DOWNGRADE_VARIANCE"` when any envelope is
//! violated. `variance_violations` is listed in both cases.
//!
//! # Merging shards
//! Merging the states of shards gives **bit-identical** n, min, max, percentiles and pass counts
//! (hence pass rates, Wilson intervals and pass^k) to analysing all runs at once, whatever the
//! shard order. Mean and std go through Chan's formula and agree within ~1e-15 relative (the tests
//! check 1e-12). A serialized state holds the raw samples; a parser that reads JSON numbers exactly
//! (JS `JSON.parse`, `serde_json::Value` from JS, `serde_json` with `float_roundtrip`) keeps this.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// z of a two-sided 95 % normal interval.
pub const Z95: f64 = 1.959_963_984_540_054;

/// Version tag of a serialized [`Analysis`] (shard state).
pub const STATE_SCHEMA_VERSION: &str = "OMEGA-VARIANCE-STATE-1.0";

/// Which statistic an envelope bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum EnvelopeStatistic {
    /// Sample standard deviation.
    Std,
    /// Coefficient of variation (std / |mean|).
    Cv,
    /// max − min.
    Range,
}

impl EnvelopeStatistic {
    /// Parses `std`, `cv` or `range`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "std" => Some(Self::Std),
            "cv" => Some(Self::Cv),
            "range" => Some(Self::Range),
            _ => None,
        }
    }

    /// The name used in calibration and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Std => "std",
            Self::Cv => "cv",
            Self::Range => "range",
        }
    }
}

/// A variance envelope: `statistic(metric) ≤ max`.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// The statistic bounded.
    pub statistic: EnvelopeStatistic,
    /// Its upper bound.
    pub max: f64,
}

// ---------------------------------------------------------------------------------------------
// Percentiles
// ---------------------------------------------------------------------------------------------

/// numpy's `_lerp`: exact at both ends and monotone in `t`.
fn lerp(a: f64, b: f64, t: f64) -> f64 {
    let diff = b - a;
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

fn check_p(p: f64) -> Result<()> {
    if p.is_finite() && (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(Error::invalid(
            "p",
            format!("percentile must be in [0, 1], got {p}"),
        ))
    }
}

fn min_of(xs: &[f64]) -> f64 {
    xs.iter().copied().fold(f64::INFINITY, f64::min)
}

/// Type-7 quantiles of `data` for every `p` in `ps` (each in [0, 1]), reordering `data` in place
/// with `select_nth_unstable_by(total_cmp)` (no full sort). `data` must be non-empty and finite.
fn quantiles_in_place(data: &mut [f64], ps: &[f64]) -> Vec<f64> {
    let n = data.len();
    let mut out = vec![f64::NAN; ps.len()];
    if n == 0 {
        return out;
    }
    // Largest p first: each selection narrows the range the next one works in.
    let mut order: Vec<usize> = (0..ps.len()).collect();
    order.sort_by(|&a, &b| ps[b].total_cmp(&ps[a]));
    // Invariant: every element of data[..bound] ≤ every element of data[bound..], and when
    // bound < n, data[bound] is the minimum of data[bound..].
    let mut bound = n;
    for i in order {
        let h = (n - 1) as f64 * ps[i];
        let lo = (h.floor() as usize).min(n - 1);
        let t = h - lo as f64;
        if lo < bound {
            data[..bound].select_nth_unstable_by(lo, f64::total_cmp);
        }
        let a = data[lo];
        let b = if t == 0.0 || lo + 1 >= n {
            a
        } else if lo + 1 < bound {
            min_of(&data[lo + 1..bound])
        } else if lo + 1 == bound {
            data[bound]
        } else {
            // lo == bound (same order statistic as the previous p): data[lo + 1..] is unordered.
            min_of(&data[lo + 1..])
        };
        out[i] = lerp(a, b, t);
        bound = lo;
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Batch moments (fast path)
// ---------------------------------------------------------------------------------------------

const LANES: usize = 8;

/// n, mean, M2, min, max of a non-empty slice of finite values: corrected two-pass algorithm
/// (numerically stable), lane-parallel so it vectorizes. Returns the index of the first
/// non-finite value as the error.
fn batch_moments(xs: &[f64]) -> std::result::Result<(f64, f64, f64, f64), usize> {
    let n = xs.len();
    // Pass 1: sum, min, max. `x * 0.0` is ±0 for finite x and NaN otherwise: a vectorizable check.
    let mut sum = [0.0f64; LANES];
    let mut chk = [0.0f64; LANES];
    let mut mn = [f64::INFINITY; LANES];
    let mut mx = [f64::NEG_INFINITY; LANES];
    let chunks = xs.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for j in 0..LANES {
            let x = c[j];
            sum[j] += x;
            chk[j] += x * 0.0;
            mn[j] = if x < mn[j] { x } else { mn[j] };
            mx[j] = if x > mx[j] { x } else { mx[j] };
        }
    }
    for (j, &x) in rest.iter().enumerate() {
        sum[j] += x;
        chk[j] += x * 0.0;
        mn[j] = if x < mn[j] { x } else { mn[j] };
        mx[j] = if x > mx[j] { x } else { mx[j] };
    }
    if chk.iter().any(|c| *c != 0.0) {
        return Err(xs.iter().position(|x| !x.is_finite()).unwrap_or(0));
    }
    let min = min_of(&mn);
    let max = mx.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let total: f64 = sum.iter().sum();
    let nf = n as f64;
    let mut mean = total / nf;
    if !mean.is_finite() {
        // The sum overflowed (values near f64::MAX): fall back to Welford, which cannot.
        let mut acc = Accumulator::new();
        for &x in xs {
            acc.push_unchecked(x);
        }
        return Ok((acc.mean, acc.m2, min, max));
    }
    // Pass 2: deviations from the provisional mean; correct both mean and M2 with their sum.
    let mut d1 = [0.0f64; LANES];
    let mut d2 = [0.0f64; LANES];
    let chunks = xs.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for j in 0..LANES {
            let d = c[j] - mean;
            d1[j] += d;
            d2[j] += d * d;
        }
    }
    for (j, &x) in rest.iter().enumerate() {
        let d = x - mean;
        d1[j] += d;
        d2[j] += d * d;
    }
    let s1: f64 = d1.iter().sum();
    let s2: f64 = d2.iter().sum();
    let m2 = (s2 - s1 * s1 / nf).max(0.0);
    mean += s1 / nf;
    Ok((mean, m2, min, max))
}

// ---------------------------------------------------------------------------------------------
// Accumulator
// ---------------------------------------------------------------------------------------------

/// Streaming statistics of one metric: Welford's n / mean / M2 / min / max, and the samples (for
/// exact percentiles). [`Accumulator::merge`] uses Chan et al.'s parallel formula.
#[derive(Debug, Clone, PartialEq)]
pub struct Accumulator {
    n: u64,
    mean: f64,
    m2: f64,
    min: f64,
    max: f64,
    samples: Vec<f64>,
}

impl Default for Accumulator {
    fn default() -> Self {
        Self::new()
    }
}

/// Summary statistics of one metric.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "schema",
    schemars(rename = "MetricStats", deny_unknown_fields)
)]
pub struct Summary {
    /// Number of samples.
    pub n: u64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Sample standard deviation (n − 1); 0 for one sample.
    pub std: f64,
    /// Smallest sample.
    pub min: f64,
    /// Largest sample.
    pub max: f64,
    /// Median (type 7).
    pub p50: f64,
    /// 95th percentile (type 7).
    pub p95: f64,
    /// Coefficient of variation `std / |mean|`; `None` when undefined (mean 0, std > 0).
    pub cv: Option<f64>,
}

fn std_of(n: u64, m2: f64) -> f64 {
    match n {
        0 => f64::NAN,
        1 => 0.0,
        _ => (m2 / (n - 1) as f64).sqrt(),
    }
}

fn cv_of(mean: f64, std: f64) -> Option<f64> {
    if std == 0.0 {
        Some(0.0)
    } else if mean == 0.0 {
        None
    } else {
        Some(std / mean.abs())
    }
}

impl Accumulator {
    /// An empty accumulator.
    pub fn new() -> Self {
        Self {
            n: 0,
            mean: 0.0,
            m2: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            samples: Vec::new(),
        }
    }

    fn push_unchecked(&mut self, x: f64) {
        self.n += 1;
        let delta = x - self.mean;
        self.mean += delta / self.n as f64;
        self.m2 += delta * (x - self.mean);
        if x < self.min {
            self.min = x;
        }
        if x > self.max {
            self.max = x;
        }
        self.samples.push(x);
    }

    /// Adds one sample (Welford). NaN and ±Infinity are refused (`samples[i]` named).
    pub fn push(&mut self, x: f64) -> Result<()> {
        if !x.is_finite() {
            return Err(Error::invalid(
                format!("samples[{}]", self.n),
                format!("must be a finite number, got {x}"),
            ));
        }
        self.push_unchecked(x);
        Ok(())
    }

    /// Adds many samples at once: two-pass moments of the batch, then a Chan merge. Nothing is
    /// added when any value is not finite (`values[i]` named).
    pub fn extend_from_slice(&mut self, xs: &[f64]) -> Result<()> {
        if xs.is_empty() {
            return Ok(());
        }
        let (mean, m2, min, max) = batch_moments(xs).map_err(|i| {
            Error::invalid(
                format!("values[{i}]"),
                format!("must be a finite number, got {}", xs[i]),
            )
        })?;
        self.merge_moments(xs.len() as u64, mean, m2, min, max);
        self.samples.extend_from_slice(xs);
        Ok(())
    }

    fn merge_moments(&mut self, nb: u64, mb: f64, m2b: f64, minb: f64, maxb: f64) {
        if nb == 0 {
            return;
        }
        if self.n == 0 {
            self.n = nb;
            self.mean = mb;
            self.m2 = m2b;
        } else {
            let na = self.n as f64;
            let nbf = nb as f64;
            let n = na + nbf;
            let delta = mb - self.mean;
            self.mean += delta * (nbf / n);
            self.m2 += m2b + delta * delta * (na * nbf / n);
            self.n += nb;
        }
        self.min = self.min.min(minb);
        self.max = self.max.max(maxb);
    }

    /// Adds every sample of `other` (Chan et al.; samples concatenated).
    pub fn merge(&mut self, other: &Accumulator) {
        self.merge_moments(other.n, other.mean, other.m2, other.min, other.max);
        self.samples.extend_from_slice(&other.samples);
    }

    /// Number of samples.
    pub fn count(&self) -> u64 {
        self.n
    }

    /// Mean (NaN when empty).
    pub fn mean(&self) -> f64 {
        if self.n == 0 {
            f64::NAN
        } else {
            self.mean
        }
    }

    /// Sample standard deviation (n − 1): NaN when empty, 0 for one sample.
    pub fn std(&self) -> f64 {
        std_of(self.n, self.m2)
    }

    /// Sample variance (n − 1): NaN when empty, 0 for one sample.
    pub fn variance(&self) -> f64 {
        let s = self.std();
        s * s
    }

    /// Smallest sample (NaN when empty).
    pub fn min(&self) -> f64 {
        if self.n == 0 {
            f64::NAN
        } else {
            self.min
        }
    }

    /// Largest sample (NaN when empty).
    pub fn max(&self) -> f64 {
        if self.n == 0 {
            f64::NAN
        } else {
            self.max
        }
    }

    /// Coefficient of variation (see [`Summary::cv`]); `None` when empty.
    pub fn cv(&self) -> Option<f64> {
        if self.n == 0 {
            None
        } else {
            cv_of(self.mean, self.std())
        }
    }

    /// The samples (in an unspecified order once a percentile has been asked for).
    pub fn samples(&self) -> &[f64] {
        &self.samples
    }

    fn non_empty(&self, what: &str) -> Result<()> {
        if self.n == 0 {
            Err(Error::EmptyRuns {
                what: what.to_owned(),
            })
        } else {
            Ok(())
        }
    }

    /// Type-7 percentiles for every p in [0, 1]. Reorders the stored samples (selection, not a
    /// sort). [`Error::EmptyRuns`] when empty, [`Error::InvalidArgument`] for a p out of range.
    pub fn percentiles(&mut self, ps: &[f64]) -> Result<Vec<f64>> {
        self.non_empty("a percentile")?;
        for &p in ps {
            check_p(p)?;
        }
        Ok(quantiles_in_place(&mut self.samples, ps))
    }

    /// One type-7 percentile (see [`Accumulator::percentiles`]).
    pub fn percentile(&mut self, p: f64) -> Result<f64> {
        Ok(self.percentiles(&[p])?[0])
    }

    /// n, mean, std, min, max, p50, p95, cv. [`Error::EmptyRuns`] when empty.
    pub fn summary(&mut self) -> Result<Summary> {
        self.non_empty("a summary")?;
        let q = quantiles_in_place(&mut self.samples, &[0.5, 0.95]);
        let std = self.std();
        Ok(Summary {
            n: self.n,
            mean: self.mean,
            std,
            min: self.min,
            max: self.max,
            p50: q[0],
            p95: q[1],
            cv: cv_of(self.mean, std),
        })
    }

    /// Builds an accumulator from samples pushed in order (Welford), naming `field[i]` for a
    /// non-finite value.
    fn from_samples(field: &str, xs: &[f64]) -> Result<Self> {
        let mut acc = Self::new();
        acc.samples.reserve_exact(xs.len());
        for (i, &x) in xs.iter().enumerate() {
            if !x.is_finite() {
                return Err(Error::invalid(
                    format!("{field}[{i}]"),
                    format!("must be a finite number, got {x}"),
                ));
            }
            acc.push_unchecked(x);
        }
        Ok(acc)
    }
}

/// One-shot summary of `values`: two-pass mean/variance and one copy for the percentile
/// selection. [`Error::EmptyRuns`] when empty; [`Error::InvalidArgument`] naming `values[i]` for
/// the first non-finite value.
pub fn summarize(values: &[f64]) -> Result<Summary> {
    if values.is_empty() {
        return Err(Error::EmptyRuns {
            what: "summarize".into(),
        });
    }
    let (mean, m2, min, max) = batch_moments(values).map_err(|i| {
        Error::invalid(
            format!("values[{i}]"),
            format!("must be a finite number, got {}", values[i]),
        )
    })?;
    let mut copy = values.to_vec();
    let q = quantiles_in_place(&mut copy, &[0.5, 0.95]);
    let n = values.len() as u64;
    let std = std_of(n, m2);
    Ok(Summary {
        n,
        mean,
        std,
        min,
        max,
        p50: q[0],
        p95: q[1],
        cv: cv_of(mean, std),
    })
}

// ---------------------------------------------------------------------------------------------
// Pass rates
// ---------------------------------------------------------------------------------------------

/// A closed interval `[low, high]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct Interval {
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
}

/// Wilson score interval of `successes` out of `n` at normal quantile `z`, clamped to [0, 1]
/// (exactly 0 / 1 at the ends). `n == 0` gives `[0, 1]`.
pub fn wilson_interval(successes: u64, n: u64, z: f64) -> Interval {
    if n == 0 {
        return Interval {
            low: 0.0,
            high: 1.0,
        };
    }
    let nf = n as f64;
    let p = successes as f64 / nf;
    let z2 = z * z;
    let denom = 1.0 + z2 / nf;
    let center = (p + z2 / (2.0 * nf)) / denom;
    let half = z * (p * (1.0 - p) / nf + z2 / (4.0 * nf * nf)).sqrt() / denom;
    let low = if successes == 0 {
        0.0
    } else {
        (center - half).clamp(0.0, p)
    };
    let high = if successes >= n {
        1.0
    } else {
        (center + half).clamp(p, 1.0)
    };
    Interval { low, high }
}

/// Unbiased pass^k estimate C(c, k) / C(n, k) = Π_{i<k} (c − i) / (n − i): the probability that
/// k runs drawn without replacement all pass. `None` when k = 0 or k > n.
pub fn pass_hat_k(c: u64, n: u64, k: u64) -> Option<f64> {
    if k == 0 || k > n || c > n {
        return None;
    }
    if k > c {
        return Some(0.0);
    }
    let mut p = 1.0f64;
    for i in 0..k {
        p *= (c - i) as f64 / (n - i) as f64;
    }
    Some(p)
}

// ---------------------------------------------------------------------------------------------
// Runs, analysis, report
// ---------------------------------------------------------------------------------------------

/// One stress run.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunSample {
    /// Hard score (also the metric `hard_score`).
    pub hard_score: f64,
    /// Soft score (also the metric `soft_score`).
    pub soft_score: f64,
    /// Whether the hard gate passed.
    pub hard_pass: bool,
    /// Whether the soft gate passed.
    pub soft_pass: bool,
    /// Other metrics of the run (latency_ms, cost_usd, …). A run may omit a metric.
    pub metrics: BTreeMap<String, f64>,
}

/// Name of the built-in hard-score metric.
pub const HARD_SCORE: &str = "hard_score";
/// Name of the built-in soft-score metric.
pub const SOFT_SCORE: &str = "soft_score";

/// The mergeable state of a stress run: run and pass counts and one [`Accumulator`] per metric.
/// Serializes (as [`AnalysisState`]) to a shard file and merges back.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(try_from = "AnalysisState", into = "AnalysisState")]
pub struct Analysis {
    total_runs: u64,
    hard_passes: u64,
    soft_passes: u64,
    metrics: BTreeMap<String, Accumulator>,
}

/// Serialized form of an [`Analysis`] (a shard file): counts and the raw samples per metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalysisState {
    /// Always [`STATE_SCHEMA_VERSION`].
    pub schema_version: String,
    /// Runs analysed.
    pub total_runs: u64,
    /// Runs whose hard gate passed.
    pub hard_passes: u64,
    /// Runs whose soft gate passed.
    pub soft_passes: u64,
    /// Samples per metric.
    pub metrics: BTreeMap<String, Vec<f64>>,
}

impl From<Analysis> for AnalysisState {
    fn from(a: Analysis) -> Self {
        Self {
            schema_version: STATE_SCHEMA_VERSION.to_owned(),
            total_runs: a.total_runs,
            hard_passes: a.hard_passes,
            soft_passes: a.soft_passes,
            metrics: a.metrics.into_iter().map(|(k, v)| (k, v.samples)).collect(),
        }
    }
}

impl TryFrom<AnalysisState> for Analysis {
    type Error = Error;

    fn try_from(s: AnalysisState) -> Result<Self> {
        Self::from_state_named(s, "state")
    }
}

impl Analysis {
    /// Rebuilds (and validates) an analysis from a state the caller calls `name` (`state`,
    /// `states[2]`): errors name fields under it (`states[2].metrics.hard_score`).
    pub fn from_state_named(s: AnalysisState, name: &str) -> Result<Self> {
        if s.schema_version != STATE_SCHEMA_VERSION {
            return Err(Error::invalid(
                format!("{name}.schema_version"),
                format!(
                    "must be \"{STATE_SCHEMA_VERSION}\", got \"{}\"",
                    s.schema_version
                ),
            ));
        }
        for (counter, count) in [
            ("hard_passes", s.hard_passes),
            ("soft_passes", s.soft_passes),
        ] {
            if count > s.total_runs {
                return Err(Error::invalid(
                    format!("{name}.{counter}"),
                    format!("{count} exceeds total_runs ({})", s.total_runs),
                ));
            }
        }
        let mut metrics = BTreeMap::new();
        for (metric, samples) in &s.metrics {
            let field = format!("{name}.metrics.{metric}");
            let len = samples.len() as u64;
            let builtin = metric == HARD_SCORE || metric == SOFT_SCORE;
            if len > s.total_runs || (builtin && len != s.total_runs) {
                return Err(Error::invalid(
                    field,
                    format!("has {len} samples for {} runs", s.total_runs),
                ));
            }
            if len == 0 {
                continue;
            }
            metrics.insert(metric.clone(), Accumulator::from_samples(&field, samples)?);
        }
        if s.total_runs > 0
            && !(metrics.contains_key(HARD_SCORE) && metrics.contains_key(SOFT_SCORE))
        {
            return Err(Error::invalid(
                format!("{name}.metrics"),
                "must hold hard_score and soft_score samples",
            ));
        }
        Ok(Self {
            total_runs: s.total_runs,
            hard_passes: s.hard_passes,
            soft_passes: s.soft_passes,
            metrics,
        })
    }
}

/// Statistics of one metric in the report.
pub type MetricStats = Summary;

/// One envelope violation.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "schema",
    schemars(rename = "VarianceViolation", deny_unknown_fields)
)]
pub struct Violation {
    /// The metric.
    pub metric: String,
    /// The statistic bounded (`std`, `cv`, `range`).
    pub statistic: EnvelopeStatistic,
    /// Its value; `None` (null) when there is no data or it is undefined.
    pub value: Option<f64>,
    /// The envelope's bound.
    pub max: f64,
    /// `exceeds_max`, `no_data` or `undefined`.
    #[cfg_attr(feature = "schema", schemars(extend("enum" = ["exceeds_max", "no_data", "undefined"])))]
    pub reason: &'static str,
}

/// The variance verdict of gate PR-G4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(rename = "VarianceVerdict"))]
pub enum Verdict {
    /// hard_pass_rate ≥ PASS_RATIO_MIN.
    Pass,
    /// hard_pass_rate < PASS_RATIO_MIN.
    Fail,
}

/// The downgrade flag of a passing run whose variance is out of its envelopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum DowngradeFlag {
    /// At least one envelope is violated.
    #[serde(rename = "DOWNGRADE_VARIANCE")]
    DowngradeVariance,
}

/// The variance analysis of a stress run (gate PR-G4): the statistical part of `PR_REPORT.json`
/// (snake_case, deterministic key order), returned by `analyzeVariance`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct VarianceReport {
    /// Number of runs.
    pub total_runs: u64,
    /// Fraction of runs whose hard gate passed.
    pub hard_pass_rate: f64,
    /// `PASS` or `FAIL`.
    pub variance_verdict: Verdict,
    /// Envelope violations, in metric order.
    pub variance_violations: Vec<Violation>,
    /// `DOWNGRADE_VARIANCE` when the verdict is PASS and an envelope is violated, else null.
    pub downgrade_flag: Option<DowngradeFlag>,
    /// Fraction of runs whose soft gate passed.
    pub soft_pass_rate: f64,
    /// Wilson 95 % interval of the hard pass rate.
    pub hard_pass_ci95: Interval,
    /// Wilson 95 % interval of the soft pass rate.
    pub soft_pass_ci95: Interval,
    /// Runs whose hard gate passed.
    pub hard_passes: u64,
    /// Runs whose soft gate passed.
    pub soft_passes: u64,
    /// pass^k of the hard gate for each asked k ≤ total_runs (keys are k).
    pub pass_k: BTreeMap<u32, f64>,
    /// The PASS_RATIO_MIN applied.
    pub pass_ratio_min: f64,
    /// Statistics per metric (hard_score, soft_score and every metric given).
    pub metrics: BTreeMap<String, MetricStats>,
}

fn check_value(field: impl FnOnce() -> String, x: f64) -> Result<()> {
    if x.is_finite() {
        Ok(())
    } else {
        Err(Error::invalid(
            field(),
            format!("must be a finite number, got {x}"),
        ))
    }
}

impl Analysis {
    /// An empty analysis.
    pub fn new() -> Self {
        Self::default()
    }

    /// Analysis of `runs` (indices in error messages start at 0).
    pub fn from_runs(runs: &[RunSample]) -> Result<Self> {
        let mut a = Self::new();
        for run in runs {
            a.push(run)?;
        }
        Ok(a)
    }

    /// Analysis of runs given from JS (`varianceState`; an empty list gives an empty analysis).
    /// Every value must be finite, named as JS spells it: `runs[i].metrics.<name>` (a run's
    /// metrics first, by name), then `runs[i].hardScore`, `runs[i].softScore`; then as
    /// [`Analysis::from_runs`].
    pub fn from_js_runs(runs: &[RunSample]) -> Result<Self> {
        for (i, r) in runs.iter().enumerate() {
            for (name, &x) in &r.metrics {
                check_value(|| format!("runs[{i}].metrics.{name}"), x)?;
            }
            check_value(|| format!("runs[{i}].hardScore"), r.hard_score)?;
            check_value(|| format!("runs[{i}].softScore"), r.soft_score)?;
        }
        Self::from_runs(runs)
    }

    /// As [`Analysis::from_js_runs`], but no runs is [`Error::EmptyRuns`] naming `what` (the JS
    /// function, `analyzeVariance`), checked first.
    pub fn from_js_runs_required(runs: &[RunSample], what: &str) -> Result<Self> {
        if runs.is_empty() {
            return Err(Error::EmptyRuns { what: what.into() });
        }
        Self::from_js_runs(runs)
    }

    /// An analysis from a state given from JS (`mergeVarianceStates`, `varianceReportFromState`):
    /// its counts are JS numbers, each a whole number ([`crate::numbers::whole`], named
    /// `<name>.total_runs`, `<name>.hard_passes`, `<name>.soft_passes`, in that order); then as
    /// [`Analysis::from_state_named`].
    pub fn from_js_state(
        name: &str,
        schema_version: String,
        total_runs: f64,
        hard_passes: f64,
        soft_passes: f64,
        metrics: BTreeMap<String, Vec<f64>>,
    ) -> Result<Self> {
        let state = AnalysisState {
            schema_version,
            total_runs: crate::numbers::whole(&format!("{name}.total_runs"), total_runs)?,
            hard_passes: crate::numbers::whole(&format!("{name}.hard_passes"), hard_passes)?,
            soft_passes: crate::numbers::whole(&format!("{name}.soft_passes"), soft_passes)?,
            metrics,
        };
        Self::from_state_named(state, name)
    }

    /// Adds one run. Refuses (naming `runs[i].hard_score`, `runs[i].metrics.<name>`, with i the
    /// run's index in this analysis) non-finite values and metrics named like the built-in scores;
    /// nothing is added then.
    pub fn push(&mut self, run: &RunSample) -> Result<()> {
        let i = self.total_runs;
        check_value(|| format!("runs[{i}].{HARD_SCORE}"), run.hard_score)?;
        check_value(|| format!("runs[{i}].{SOFT_SCORE}"), run.soft_score)?;
        for (name, &x) in &run.metrics {
            if name == HARD_SCORE || name == SOFT_SCORE {
                return Err(Error::invalid(
                    format!("runs[{i}].metrics.{name}"),
                    "is reserved: the score is given by the run itself",
                ));
            }
            if name.is_empty() {
                return Err(Error::invalid(
                    format!("runs[{i}].metrics"),
                    "metric name must not be empty",
                ));
            }
            check_value(|| format!("runs[{i}].metrics.{name}"), x)?;
        }
        self.total_runs += 1;
        self.hard_passes += u64::from(run.hard_pass);
        self.soft_passes += u64::from(run.soft_pass);
        let scores = [(HARD_SCORE, run.hard_score), (SOFT_SCORE, run.soft_score)];
        for (name, x) in scores
            .into_iter()
            .chain(run.metrics.iter().map(|(k, v)| (k.as_str(), *v)))
        {
            self.metrics
                .entry(name.to_owned())
                .or_default()
                .push_unchecked(x);
        }
        Ok(())
    }

    /// Adds every run of `other` (shard merge).
    pub fn merge(&mut self, other: &Analysis) {
        self.total_runs += other.total_runs;
        self.hard_passes += other.hard_passes;
        self.soft_passes += other.soft_passes;
        for (name, acc) in &other.metrics {
            self.metrics.entry(name.clone()).or_default().merge(acc);
        }
    }

    /// Runs analysed.
    pub fn total_runs(&self) -> u64 {
        self.total_runs
    }

    /// Runs whose hard gate passed.
    pub fn hard_passes(&self) -> u64 {
        self.hard_passes
    }

    /// Runs whose soft gate passed.
    pub fn soft_passes(&self) -> u64 {
        self.soft_passes
    }

    /// The accumulator of a metric.
    pub fn metric(&self, name: &str) -> Option<&Accumulator> {
        self.metrics.get(name)
    }

    /// The serializable state (shard file content).
    pub fn to_state(&self) -> AnalysisState {
        self.clone().into()
    }

    /// Rebuilds (and validates) an analysis from its state.
    pub fn from_state(state: AnalysisState) -> Result<Self> {
        Self::try_from(state)
    }

    /// The report. [`Error::EmptyRuns`] without runs; [`Error::InvalidArgument`] for a
    /// `pass_ratio_min` outside [0, 1], a k of 0 or an envelope `max` that is NaN or negative.
    /// Percentile selection reorders the stored samples (hence `&mut`).
    pub fn report(
        &mut self,
        envelopes: &BTreeMap<String, Envelope>,
        pass_ratio_min: f64,
        pass_k: &[u32],
    ) -> Result<VarianceReport> {
        if self.total_runs == 0 {
            return Err(Error::EmptyRuns {
                what: "variance analysis".into(),
            });
        }
        if !(pass_ratio_min.is_finite() && (0.0..=1.0).contains(&pass_ratio_min)) {
            return Err(Error::invalid(
                "pass_ratio_min",
                format!("must be in [0, 1], got {pass_ratio_min}"),
            ));
        }
        for (i, &k) in pass_k.iter().enumerate() {
            if k == 0 {
                return Err(Error::invalid(format!("pass_k[{i}]"), "must be ≥ 1, got 0"));
            }
        }
        for (metric, env) in envelopes {
            if env.max.is_nan() || env.max < 0.0 {
                return Err(Error::invalid(
                    format!("envelopes.{metric}.max"),
                    format!("must be a number ≥ 0, got {}", env.max),
                ));
            }
        }
        let n = self.total_runs;
        let mut metrics = BTreeMap::new();
        for (name, acc) in &mut self.metrics {
            metrics.insert(name.clone(), acc.summary()?);
        }
        let mut violations = Vec::new();
        for (metric, env) in envelopes {
            let value = match metrics.get(metric) {
                None => Err("no_data"),
                Some(s) => match env.statistic {
                    EnvelopeStatistic::Std => Ok(s.std),
                    EnvelopeStatistic::Range => Ok(s.max - s.min),
                    EnvelopeStatistic::Cv => s.cv.ok_or("undefined"),
                },
            };
            let violation = match value {
                Ok(v) if v > env.max => Some((Some(v), "exceeds_max")),
                Ok(_) => None,
                Err(reason) => Some((None, reason)),
            };
            if let Some((value, reason)) = violation {
                violations.push(Violation {
                    metric: metric.clone(),
                    statistic: env.statistic,
                    value,
                    max: env.max,
                    reason,
                });
            }
        }
        let hard_pass_rate = self.hard_passes as f64 / n as f64;
        let soft_pass_rate = self.soft_passes as f64 / n as f64;
        let verdict = if hard_pass_rate < pass_ratio_min {
            Verdict::Fail
        } else {
            Verdict::Pass
        };
        let downgrade_flag = (verdict == Verdict::Pass && !violations.is_empty())
            .then_some(DowngradeFlag::DowngradeVariance);
        let pass_k = pass_k
            .iter()
            .filter_map(|&k| pass_hat_k(self.hard_passes, n, u64::from(k)).map(|p| (k, p)))
            .collect();
        Ok(VarianceReport {
            total_runs: n,
            hard_pass_rate,
            variance_verdict: verdict,
            variance_violations: violations,
            downgrade_flag,
            soft_pass_rate,
            hard_pass_ci95: wilson_interval(self.hard_passes, n, Z95),
            soft_pass_ci95: wilson_interval(self.soft_passes, n, Z95),
            hard_passes: self.hard_passes,
            soft_passes: self.soft_passes,
            pass_k,
            pass_ratio_min,
            metrics,
        })
    }
}

/// Analyses `runs` against `envelopes`, `pass_ratio_min` (PASS_RATIO_MIN) and the `pass_k` values.
/// [`Error::EmptyRuns`] for no runs; [`Error::InvalidArgument`] naming `runs[i].<metric>` for a
/// non-finite value (see [`Analysis::push`] and [`Analysis::report`]).
pub fn analyze(
    runs: &[RunSample],
    envelopes: &BTreeMap<String, Envelope>,
    pass_ratio_min: f64,
    pass_k: &[u32],
) -> Result<VarianceReport> {
    if runs.is_empty() {
        return Err(Error::EmptyRuns {
            what: "variance analysis".into(),
        });
    }
    Analysis::from_runs(runs)?.report(envelopes, pass_ratio_min, pass_k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn js_runs_and_states_name_fields_as_js_does() -> Result<()> {
        let field = |r: Result<Analysis>| match r {
            Err(Error::InvalidArgument { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        let ok = RunSample {
            hard_score: 1.0,
            soft_score: 0.5,
            hard_pass: true,
            soft_pass: false,
            metrics: BTreeMap::from([("latency_ms".to_owned(), 3.0)]),
        };
        let mut bad = ok.clone();
        bad.soft_score = f64::NAN;
        bad.metrics.insert("b".into(), f64::INFINITY);
        bad.metrics.insert("a".into(), f64::NAN);
        assert_eq!(
            field(Analysis::from_js_runs(&[ok.clone(), bad.clone()])),
            "runs[1].metrics.a"
        );
        bad.metrics.clear();
        bad.hard_score = f64::INFINITY;
        assert_eq!(
            field(Analysis::from_js_runs(&[ok.clone(), bad.clone()])),
            "runs[1].hardScore"
        );
        bad.hard_score = 0.0;
        assert_eq!(field(Analysis::from_js_runs(&[bad])), "runs[0].softScore");
        assert_eq!(Analysis::from_js_runs(&[])?, Analysis::new());
        match Analysis::from_js_runs_required(&[], "analyzeVariance") {
            Err(Error::EmptyRuns { what }) => assert_eq!(what, "analyzeVariance"),
            other => panic!("{other:?}"),
        }
        let a = Analysis::from_js_runs_required(std::slice::from_ref(&ok), "x")?;
        assert_eq!(a, Analysis::from_runs(&[ok])?);

        let s = a.to_state();
        let back = Analysis::from_js_state(
            "states[0]",
            s.schema_version.clone(),
            1.0,
            1.0,
            0.0,
            s.metrics.clone(),
        )?;
        assert_eq!(back, a);
        let with = |t: f64, h: f64, so: f64| {
            Analysis::from_js_state(
                "states[1]",
                s.schema_version.clone(),
                t,
                h,
                so,
                s.metrics.clone(),
            )
        };
        assert_eq!(field(with(1.5, 1.0, 0.0)), "states[1].total_runs");
        assert_eq!(field(with(1.0, -1.0, 0.0)), "states[1].hard_passes");
        assert_eq!(field(with(1.0, 1.0, f64::NAN)), "states[1].soft_passes");
        assert_eq!(field(with(1.0, 1.0, 2.0)), "states[1].soft_passes");
        assert_eq!(field(with(2.0, 1.0, 0.0)), "states[1].metrics.hard_score");
        Ok(())
    }

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * a.abs().max(b.abs()).max(1e-300)
    }

    fn acc_of(xs: &[f64]) -> Accumulator {
        let mut a = Accumulator::new();
        for &x in xs {
            a.push(x).unwrap_or_else(|e| panic!("{e}"));
        }
        a
    }

    fn run(hard: f64, soft: f64, hp: bool, sp: bool) -> RunSample {
        RunSample {
            hard_score: hard,
            soft_score: soft,
            hard_pass: hp,
            soft_pass: sp,
            metrics: BTreeMap::new(),
        }
    }

    /// 100 runs: 85 hard passes, 95 soft passes, scores around 0.8 / 0.9.
    fn runbook_runs() -> Vec<RunSample> {
        (0..100)
            .map(|i| {
                let mut r = run(
                    0.8 + ((i % 5) as f64 - 2.0) * 0.02,
                    0.9 + ((i % 3) as f64 - 1.0) * 0.01,
                    i % 20 >= 3,
                    i % 20 != 0,
                );
                r.metrics
                    .insert("latency_ms".into(), 1000.0 + (i % 7) as f64 * 50.0);
                r.metrics
                    .insert("cost_usd".into(), 0.02 + (i % 4) as f64 * 0.001);
                r
            })
            .collect()
    }

    fn shipped_envelopes() -> BTreeMap<String, Envelope> {
        crate::calibration::default_calibration()
            .map(|c| c.variance_envelopes)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn known_answer_mean_std() {
        let xs = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        let mut a = acc_of(&xs);
        assert_eq!(a.mean(), 5.0);
        assert!(close(a.std(), 2.138_089_935_299_395, 1e-15), "{}", a.std());
        let s = summarize(&xs).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.mean, 5.0);
        assert!(close(s.std, 2.138_089_935_299_395, 1e-15));
        assert_eq!((s.min, s.max, s.n), (2.0, 9.0, 8));
        // numpy: percentile(xs, [50, 95]) = [4.5, 8.3]
        assert_eq!(s.p50, 4.5);
        assert!(close(s.p95, 8.3, 1e-15), "{}", s.p95);
        assert_eq!(a.summary().unwrap_or_else(|e| panic!("{e}")).p50, 4.5);
        assert_eq!(a.percentile(0.0).ok(), Some(2.0));
        assert_eq!(a.percentile(1.0).ok(), Some(9.0));
    }

    #[test]
    fn known_answer_percentiles_type7() {
        let xs: Vec<f64> = (1..=10).map(f64::from).collect();
        let mut a = acc_of(&xs);
        let q = a
            .percentiles(&[0.95, 0.5, 0.25, 0.0, 1.0, 0.1])
            .unwrap_or_else(|e| panic!("{e}"));
        // numpy.percentile(range(1, 11), [95, 50, 25, 0, 100, 10])
        let want = [9.55, 5.5, 3.25, 1.0, 10.0, 1.9];
        for (g, w) in q.iter().zip(want) {
            assert!(close(*g, w, 1e-15), "{q:?}");
        }
        // Two p on the same order statistic (the second must not reuse a stale neighbour).
        let mut b = acc_of(&[3.0, 1.0, 2.0, 5.0, 4.0]);
        let q = b.percentiles(&[0.55, 0.51]).unwrap_or_default();
        assert!(close(q[0], 3.2, 1e-15) && close(q[1], 3.04, 1e-15), "{q:?}");
        assert_eq!(
            summarize(&[42.0]).map(|s| (s.p50, s.p95, s.std, s.cv)).ok(),
            Some((42.0, 42.0, 0.0, Some(0.0)))
        );
    }

    #[test]
    fn catastrophic_cancellation() {
        let xs = [1e9 + 4.0, 1e9 + 7.0, 1e9 + 13.0, 1e9 + 16.0];
        let a = acc_of(&xs);
        assert!(close(a.variance(), 30.0, 1e-9), "{}", a.variance());
        assert_eq!(a.mean(), 1e9 + 10.0);
        let s = summarize(&xs).unwrap_or_else(|e| panic!("{e}"));
        assert!(close(s.std * s.std, 30.0, 1e-9), "{}", s.std);
        let mut b = Accumulator::new();
        b.extend_from_slice(&xs[..1])
            .unwrap_or_else(|e| panic!("{e}"));
        b.extend_from_slice(&xs[1..])
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(close(b.variance(), 30.0, 1e-9), "{}", b.variance());
    }

    #[test]
    fn non_finite_is_refused_with_index() {
        let mut a = Accumulator::new();
        assert!(a.push(1.0).is_ok());
        let e = a
            .push(f64::NAN)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("samples[1]"), "{e}");
        let e = summarize(&[1.0, 2.0, f64::INFINITY]).err();
        assert!(
            matches!(e, Some(Error::InvalidArgument { ref field, .. }) if field == "values[2]"),
            "{e:?}"
        );
        let e = a
            .extend_from_slice(
                &[1.0; 20]
                    .iter()
                    .copied()
                    .chain([f64::NEG_INFINITY])
                    .collect::<Vec<_>>(),
            )
            .err();
        assert!(
            matches!(e, Some(Error::InvalidArgument { ref field, .. }) if field == "values[20]"),
            "{e:?}"
        );
        assert_eq!(a.count(), 1);
        assert!(matches!(summarize(&[]), Err(Error::EmptyRuns { .. })));
        assert!(matches!(
            Accumulator::new().summary(),
            Err(Error::EmptyRuns { .. })
        ));
        assert!(matches!(
            a.percentile(1.5),
            Err(Error::InvalidArgument { .. })
        ));
        let mut r = run(0.5, 0.5, true, true);
        r.metrics.insert("latency_ms".into(), f64::NAN);
        let runs = vec![
            run(0.5, 0.5, true, true),
            run(0.5, 0.5, true, true),
            run(0.5, 0.5, true, true),
            r,
        ];
        let e = analyze(&runs, &BTreeMap::new(), 0.75, &[1])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("runs[3].metrics.latency_ms"), "{e}");
        let e = analyze(
            &[run(f64::INFINITY, 0.0, true, true)],
            &BTreeMap::new(),
            0.75,
            &[1],
        )
        .err();
        assert!(
            matches!(e, Some(Error::InvalidArgument { ref field, .. }) if field == "runs[0].hard_score"),
            "{e:?}"
        );
        assert!(matches!(
            analyze(&[], &BTreeMap::new(), 0.75, &[1]),
            Err(Error::EmptyRuns { .. })
        ));
    }

    #[test]
    fn huge_values_do_not_overflow() {
        let xs = [f64::MAX, f64::MAX, f64::MAX / 2.0];
        let s = summarize(&xs).unwrap_or_else(|e| panic!("{e}"));
        assert!(s.mean.is_finite() && s.mean > f64::MAX / 2.0);
    }

    #[test]
    fn wilson_known_answer() {
        let w = wilson_interval(85, 100, Z95);
        assert!(close(w.low, 0.767_164_404_091_676_3, 1e-12), "{w:?}");
        assert!(close(w.high, 0.906_940_147_163_433_7, 1e-12), "{w:?}");
        let w = wilson_interval(0, 10, Z95);
        assert_eq!(w.low, 0.0);
        assert!(close(w.high, 0.277_532_799_862_889_2, 1e-12));
        assert_eq!(wilson_interval(10, 10, Z95).high, 1.0);
    }

    #[test]
    fn pass_k_known_answer() {
        assert_eq!(pass_hat_k(85, 100, 1), Some(0.85));
        assert!(close(
            pass_hat_k(85, 100, 2).unwrap_or(0.0),
            85.0 * 84.0 / (100.0 * 99.0),
            1e-15
        ));
        assert_eq!(pass_hat_k(3, 10, 4), Some(0.0));
        assert_eq!(pass_hat_k(10, 10, 10), Some(1.0));
        assert_eq!(pass_hat_k(5, 10, 11), None);
        // Large n and k: no overflow.
        let p = pass_hat_k(900_000, 1_000_000, 1000).unwrap_or(f64::NAN);
        assert!(p > 0.0 && p < 0.9f64.powi(999), "{p}");
    }

    #[test]
    fn runbook_example_passes() {
        let r = analyze(&runbook_runs(), &shipped_envelopes(), 0.75, &[1, 2, 4, 8])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.total_runs, 100);
        assert_eq!(r.hard_pass_rate, 0.85);
        assert_eq!(r.soft_pass_rate, 0.95);
        assert_eq!(r.variance_verdict, Verdict::Pass);
        assert!(
            r.variance_violations.is_empty(),
            "{:?}",
            r.variance_violations
        );
        assert_eq!(r.downgrade_flag, None);
        assert_eq!(r.pass_k.get(&1), Some(&0.85));
        let json = serde_json::to_value(&r).unwrap_or_default();
        assert_eq!(json["variance_verdict"], "PASS");
        assert_eq!(json["downgrade_flag"], serde_json::Value::Null);
        assert_eq!(json["variance_violations"], serde_json::json!([]));
        assert_eq!(json["pass_k"]["8"].as_f64(), r.pass_k.get(&8).copied());
        assert!(json["metrics"]["hard_score"]["p95"].is_number());
        let keys: Vec<&String> = json["metrics"]
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        assert_eq!(keys, ["cost_usd", "hard_score", "latency_ms", "soft_score"]);
    }

    #[test]
    fn verdict_cases() {
        let runs = runbook_runs();
        // Below PASS_RATIO_MIN → FAIL (no downgrade flag even with violations).
        let r = analyze(&runs, &shipped_envelopes(), 0.9, &[1]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.variance_verdict, Verdict::Fail);
        assert_eq!(r.downgrade_flag, None);
        // Exactly at the minimum → PASS.
        let r = analyze(&runs, &BTreeMap::new(), 0.85, &[1]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.variance_verdict, Verdict::Pass);
        // Envelope violated → PASS + DOWNGRADE_VARIANCE, the violation listed.
        let mut env = shipped_envelopes();
        env.insert(
            HARD_SCORE.into(),
            Envelope {
                statistic: EnvelopeStatistic::Std,
                max: 0.001,
            },
        );
        env.insert(
            "tokens".into(),
            Envelope {
                statistic: EnvelopeStatistic::Range,
                max: 10.0,
            },
        );
        let r = analyze(&runs, &env, 0.75, &[1]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.variance_verdict, Verdict::Pass);
        assert_eq!(r.downgrade_flag, Some(DowngradeFlag::DowngradeVariance));
        assert_eq!(r.variance_violations.len(), 2);
        let v = &r.variance_violations[0];
        assert_eq!(
            (v.metric.as_str(), v.statistic, v.max, v.reason),
            ("hard_score", EnvelopeStatistic::Std, 0.001, "exceeds_max")
        );
        assert_eq!(v.value, r.metrics.get(HARD_SCORE).map(|m| m.std));
        let v = &r.variance_violations[1];
        assert_eq!(
            (v.metric.as_str(), v.value, v.reason),
            ("tokens", None, "no_data")
        );
        let json = serde_json::to_value(&r).unwrap_or_default();
        assert_eq!(json["downgrade_flag"], "DOWNGRADE_VARIANCE");
        assert_eq!(json["variance_violations"][0]["statistic"], "std");
        // Undefined cv (mean 0, std > 0) is a violation; range works.
        let runs = vec![run(-1.0, 0.0, true, true), run(1.0, 0.0, true, true)];
        let mut env = BTreeMap::new();
        env.insert(
            HARD_SCORE.into(),
            Envelope {
                statistic: EnvelopeStatistic::Cv,
                max: 1.0,
            },
        );
        env.insert(
            SOFT_SCORE.into(),
            Envelope {
                statistic: EnvelopeStatistic::Cv,
                max: 0.0,
            },
        );
        let r = analyze(&runs, &env, 0.75, &[1, 2, 3]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.variance_violations.len(), 1);
        assert_eq!(r.variance_violations[0].reason, "undefined");
        assert_eq!(r.pass_k.keys().copied().collect::<Vec<_>>(), [1, 2]);
        // Bad parameters.
        assert!(matches!(
            analyze(&runs, &env, 1.5, &[1]),
            Err(Error::InvalidArgument { .. })
        ));
        assert!(matches!(
            analyze(&runs, &env, 0.5, &[0]),
            Err(Error::InvalidArgument { .. })
        ));
    }

    #[test]
    fn reserved_metric_names() {
        let mut r = run(0.5, 0.5, true, true);
        r.metrics.insert(HARD_SCORE.into(), 1.0);
        assert!(matches!(
            analyze(&[r], &BTreeMap::new(), 0.5, &[1]),
            Err(Error::InvalidArgument { .. })
        ));
    }

    #[test]
    fn state_round_trip_and_validation() {
        let runs = runbook_runs();
        let a = Analysis::from_runs(&runs).unwrap_or_else(|e| panic!("{e}"));
        let v = serde_json::to_value(&a).unwrap_or_default();
        assert_eq!(v["schema_version"], STATE_SCHEMA_VERSION);
        let b: Analysis = serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a, b);
        let mut bad = v.clone();
        bad["hard_passes"] = serde_json::json!(-1);
        let e = serde_json::from_value::<Analysis>(bad)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("invalid value: integer `-1`"), "{e}");
        let mut bad = v.clone();
        bad["hard_passes"] = serde_json::json!(101);
        let e = serde_json::from_value::<Analysis>(bad)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("state.hard_passes"), "{e}");
        let mut bad = v;
        bad["metrics"]["hard_score"] = serde_json::json!([1.0]);
        let e = serde_json::from_value::<Analysis>(bad)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("hard_score"), "{e}");
    }

    fn check_summary(s: &Summary) {
        assert!(s.min <= s.p50 && s.p50 <= s.p95 && s.p95 <= s.max, "{s:?}");
        assert!(s.std >= 0.0);
    }

    proptest! {
        #[test]
        fn merge_equals_all_at_once(xs in prop::collection::vec(-1e6f64..1e6, 1..300), cut in 0usize..300) {
            let cut = cut.min(xs.len());
            let mut whole = acc_of(&xs);
            let mut a = acc_of(&xs[..cut]);
            let b = acc_of(&xs[cut..]);
            a.merge(&b);
            prop_assert_eq!(a.count(), whole.count());
            prop_assert_eq!(a.min(), whole.min());
            prop_assert_eq!(a.max(), whole.max());
            prop_assert!(close(a.mean(), whole.mean(), 1e-12) || (a.mean() - whole.mean()).abs() < 1e-9);
            prop_assert!(close(a.std(), whole.std(), 1e-9) || (a.std() - whole.std()).abs() < 1e-9);
            let sa = a.summary().unwrap_or_else(|e| panic!("{e}"));
            let sw = whole.summary().unwrap_or_else(|e| panic!("{e}"));
            prop_assert_eq!(sa.p50, sw.p50);
            prop_assert_eq!(sa.p95, sw.p95);
            // Batch path agrees with Welford too.
            let mut c = Accumulator::new();
            c.extend_from_slice(&xs[..cut]).unwrap_or_else(|e| panic!("{e}"));
            c.extend_from_slice(&xs[cut..]).unwrap_or_else(|e| panic!("{e}"));
            prop_assert!((c.mean() - sw.mean).abs() <= 1e-9 * (1.0 + sw.mean.abs()));
            prop_assert!((c.std() - sw.std).abs() <= 1e-9 * (1.0 + sw.std));
            let s = summarize(&xs).unwrap_or_else(|e| panic!("{e}"));
            prop_assert_eq!((s.p50, s.p95, s.min, s.max), (sw.p50, sw.p95, sw.min, sw.max));
        }

        #[test]
        fn percentiles_monotone_and_bounded(xs in prop::collection::vec(-1e9f64..1e9, 1..200), ps in prop::collection::vec(0.0f64..=1.0, 1..6)) {
            let mut a = acc_of(&xs);
            let q = a.percentiles(&ps).unwrap_or_else(|e| panic!("{e}"));
            let mut sorted = xs.clone();
            sorted.sort_by(f64::total_cmp);
            for (p, v) in ps.iter().zip(&q) {
                prop_assert!(*v >= sorted[0] && *v <= sorted[sorted.len() - 1]);
                // Reference type 7 on the sorted data.
                let h = (sorted.len() - 1) as f64 * p;
                let lo = h.floor() as usize;
                let hi = (lo + 1).min(sorted.len() - 1);
                prop_assert_eq!(*v, lerp(sorted[lo], sorted[hi], h - lo as f64));
            }
            for (i, pi) in ps.iter().enumerate() {
                for (j, pj) in ps.iter().enumerate() {
                    if pi <= pj {
                        prop_assert!(q[i] <= q[j]);
                    }
                }
            }
            check_summary(&a.summary().unwrap_or_else(|e| panic!("{e}")));
        }

        #[test]
        fn pass_rates_wilson_and_pass1(passes in prop::collection::vec(any::<(bool, bool)>(), 1..200)) {
            let runs: Vec<RunSample> = passes.iter().enumerate().map(|(i, &(h, s))| run(i as f64 * 0.01, 0.5, h, s)).collect();
            let r = analyze(&runs, &BTreeMap::new(), 0.75, &[1, 2, 3]).unwrap_or_else(|e| panic!("{e}"));
            prop_assert_eq!(r.pass_k.get(&1).copied(), Some(r.hard_pass_rate));
            for (rate, ci) in [(r.hard_pass_rate, r.hard_pass_ci95), (r.soft_pass_rate, r.soft_pass_ci95)] {
                prop_assert!(0.0 <= ci.low && ci.low <= rate && rate <= ci.high && ci.high <= 1.0, "{rate} {ci:?}");
            }
            prop_assert_eq!(r.variance_verdict == Verdict::Fail, r.hard_pass_rate < 0.75);
            check_summary(&r.metrics[HARD_SCORE]);
        }

        #[test]
        fn four_shards_equal_all_at_once(seed_runs in prop::collection::vec((0.0f64..1.0, 0.0f64..1.0, any::<bool>(), any::<bool>(), 0.0f64..5000.0, any::<bool>()), 4..120)) {
            let runs: Vec<RunSample> = seed_runs.iter().map(|&(h, s, hp, sp, lat, has)| {
                let mut r = run(h, s, hp, sp);
                if has { r.metrics.insert("latency_ms".into(), lat); }
                r
            }).collect();
            let env = shipped_envelopes();
            let whole = analyze(&runs, &env, 0.75, &[1, 2, 4, 8]).unwrap_or_else(|e| panic!("{e}"));
            // Strided shards (run j → shard j % 4), through the JSON state, merged in reverse.
            let mut states = Vec::new();
            for i in 0..4 {
                let shard: Vec<RunSample> = runs.iter().skip(i).step_by(4).cloned().collect();
                let a = Analysis::from_runs(&shard).unwrap_or_else(|e| panic!("{e}"));
                states.push(serde_json::to_value(&a).unwrap_or_default());
            }
            let mut merged = Analysis::new();
            for v in states.into_iter().rev() {
                let a: Analysis = serde_json::from_value(v).unwrap_or_else(|e| panic!("{e}"));
                merged.merge(&a);
            }
            let m = merged.report(&env, 0.75, &[1, 2, 4, 8]).unwrap_or_else(|e| panic!("{e}"));
            prop_assert_eq!(m.total_runs, whole.total_runs);
            prop_assert_eq!(m.hard_pass_rate, whole.hard_pass_rate);
            prop_assert_eq!(m.hard_pass_ci95, whole.hard_pass_ci95);
            prop_assert_eq!(m.soft_pass_ci95, whole.soft_pass_ci95);
            prop_assert_eq!(&m.pass_k, &whole.pass_k);
            prop_assert_eq!(m.variance_verdict, whole.variance_verdict);
            prop_assert_eq!(m.metrics.keys().collect::<Vec<_>>(), whole.metrics.keys().collect::<Vec<_>>());
            for (name, a) in &m.metrics {
                let b = &whole.metrics[name];
                prop_assert_eq!((a.n, a.min, a.max, a.p50, a.p95), (b.n, b.min, b.max, b.p50, b.p95));
                prop_assert!(close(a.mean, b.mean, 1e-12), "{name} {} {}", a.mean, b.mean);
                prop_assert!(close(a.std, b.std, 1e-12) || (a.std - b.std).abs() < 1e-15, "{name} {} {}", a.std, b.std);
            }
        }
    }

    #[test]
    fn deterministic_json() {
        let a = serde_json::to_string(
            &analyze(&runbook_runs(), &shipped_envelopes(), 0.75, &[8, 1, 2]).ok(),
        )
        .unwrap_or_default();
        let b = serde_json::to_string(
            &analyze(&runbook_runs(), &shipped_envelopes(), 0.75, &[8, 1, 2]).ok(),
        )
        .unwrap_or_default();
        assert_eq!(a, b);
        assert!(
            a.starts_with(
                "{\"total_runs\":100,\"hard_pass_rate\":0.85,\"variance_verdict\":\"PASS\""
            ),
            "{a}"
        );
    }
}
