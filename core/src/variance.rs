//! Variance statistics: mergeable Welford accumulators, percentiles, Wilson intervals, pass^k,
//! envelopes and the runbook's PR-G4 verdict.

/// Which statistic an envelope bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
