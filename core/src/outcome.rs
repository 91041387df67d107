//! Outcome chaos (Polly/Simmy's "outcome" strategies): faults that *return* instead of throwing —
//! a truncated answer, a refusal, malformed JSON, a renamed key, an empty answer that is still
//! billed, a latency spike. Whether attempt `a` of call `i` gets one, and which, is a pure function
//! of (seed, call, attempt) and the profile's `outcome_faults` settings, drawn from ChaCha8
//! streams of their own (the thrown-fault decisions of [`crate::chaos`] are unchanged by them).
//! The corruption of the text is a pure function too.

use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// One outcome fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(rename = "OutcomeFaultName"))]
pub enum OutcomeFault {
    /// The answer is cut in half (finish reason `length`).
    Truncated,
    /// The answer is replaced by a refusal.
    Refusal,
    /// The answer loses its closing characters so it no longer parses as JSON.
    MalformedJson,
    /// The first key of a JSON answer is renamed (schema drift).
    RenamedKey,
    /// The answer is empty, its usage still billed.
    EmptyBilled,
    /// The answer arrives intact, late.
    LatencySpike,
}

/// Every outcome fault, in a fixed order (the weights' order).
pub const ALL_OUTCOME_FAULTS: [OutcomeFault; 6] = [
    OutcomeFault::Truncated,
    OutcomeFault::Refusal,
    OutcomeFault::MalformedJson,
    OutcomeFault::RenamedKey,
    OutcomeFault::EmptyBilled,
    OutcomeFault::LatencySpike,
];

impl OutcomeFault {
    /// The name in calibrations and logs (`truncated`, `refusal`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeFault::Truncated => "truncated",
            OutcomeFault::Refusal => "refusal",
            OutcomeFault::MalformedJson => "malformed_json",
            OutcomeFault::RenamedKey => "renamed_key",
            OutcomeFault::EmptyBilled => "empty_billed",
            OutcomeFault::LatencySpike => "latency_spike",
        }
    }

    /// Parses a name.
    pub fn parse(name: &str) -> Option<Self> {
        ALL_OUTCOME_FAULTS
            .iter()
            .copied()
            .find(|f| f.as_str() == name)
    }
}

/// The outcome-fault settings of a chaos profile (`chaos_profiles.<name>.outcome_faults`).
#[derive(Debug, Clone, PartialEq)]
pub struct OutcomeSettings {
    /// Probability in [0, 1] that an attempt that got no thrown fault gets an outcome fault.
    pub rate: f64,
    /// Relative weights (≥ 0, not all 0) per fault.
    pub weights: Vec<(OutcomeFault, f64)>,
}

/// The outcome decision of one attempt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutcomeDecision {
    /// Call index.
    pub call_index: u64,
    /// Attempt (1-based).
    pub attempt: u32,
    /// The fault, if any.
    pub fault: Option<OutcomeFault>,
    /// Extra delay of a latency spike, ms.
    pub latency_ms: Option<u64>,
}

/// Stream offset of the outcome draws (far from the thrown-fault streams `2(a−1)`, `2(a−1)+1`).
const OUTCOME_STREAM_BASE: u64 = 1 << 40;

/// Decides attempt `attempt` of call `call_index`. `spike_ms` bounds the latency spike.
pub fn decide(
    seed: u64,
    call_index: u64,
    attempt: u32,
    settings: &OutcomeSettings,
    spike_ms: (u64, u64),
) -> OutcomeDecision {
    let attempt = attempt.max(1);
    let mut out = OutcomeDecision {
        call_index,
        attempt,
        fault: None,
        latency_ms: None,
    };
    let total: f64 = settings.weights.iter().map(|(_, w)| *w).sum();
    if settings.rate <= 0.0 || total <= 0.0 {
        return out;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(OUTCOME_STREAM_BASE + u64::from(attempt));
    rng.set_word_pos(u128::from(call_index) * 4);
    let hit = f64::from(rng.next_u32()) / 4_294_967_296.0;
    if hit >= settings.rate {
        return out;
    }
    let pick = f64::from(rng.next_u32()) / 4_294_967_296.0 * total;
    let mut acc = 0.0;
    let mut chosen = None;
    for (f, w) in &settings.weights {
        if *w <= 0.0 {
            continue;
        }
        acc += w;
        chosen = Some(*f);
        if pick < acc {
            break;
        }
    }
    out.fault = chosen;
    if chosen == Some(OutcomeFault::LatencySpike) {
        let (lo, hi) = spike_ms;
        let span = hi.saturating_sub(lo).saturating_add(1);
        out.latency_ms = Some(lo + u64::from(rng.next_u32()) % span.max(1));
    }
    out
}

/// The text a fault delivers instead of `text`.
pub fn apply(fault: OutcomeFault, text: &str) -> String {
    match fault {
        OutcomeFault::Truncated => {
            let n = text.chars().count() / 2;
            text.chars().take(n).collect()
        }
        OutcomeFault::Refusal => "I'm sorry, but I can't help with that request.".to_owned(),
        OutcomeFault::MalformedJson => {
            let trimmed = text.trim_end();
            let cut: String = trimmed
                .chars()
                .take(trimmed.chars().count().saturating_sub(1))
                .collect();
            if cut.trim_start().starts_with(['{', '[']) {
                format!("{cut},")
            } else {
                format!("{{\"text\": \"{}", cut.replace('"', "'"))
            }
        }
        OutcomeFault::RenamedKey => match serde_json::from_str::<serde_json::Value>(text.trim()) {
            Ok(serde_json::Value::Object(map)) => {
                let mut out = serde_json::Map::new();
                for (i, (k, v)) in map.into_iter().enumerate() {
                    out.insert(if i == 0 { format!("{k}_v2") } else { k }, v);
                }
                serde_json::Value::Object(out).to_string()
            }
            // Not a JSON object: a renamed key cannot apply; the text drifts in its first word.
            _ => text.replacen(' ', "_ ", 1),
        },
        OutcomeFault::EmptyBilled => String::new(),
        OutcomeFault::LatencySpike => text.to_owned(),
    }
}

/// Outcome faults of one type delivered in a run, and how many were caught (by the stack's
/// retry, the engine, a failed case or a failed run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectionCount {
    /// The fault's name (`truncated`, `refusal`, …).
    pub fault: String,
    /// Faults of this type delivered.
    pub delivered: u64,
    /// Of them, caught.
    pub caught: u64,
}

/// A fault type whose detection rate is below `OUTCOME_DETECTION_MIN`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct DetectionViolation {
    /// `outcome_detection:<fault>`.
    #[cfg_attr(feature = "schema", schemars(regex(pattern = "^outcome_detection:")))]
    pub metric: String,
    /// Always `detection_rate`.
    #[cfg_attr(feature = "schema", schemars(extend("const" = "detection_rate")))]
    pub statistic: &'static str,
    /// caught / delivered.
    pub value: f64,
    /// The threshold (`OUTCOME_DETECTION_MIN`).
    pub min: f64,
    /// Always `below_min`.
    #[cfg_attr(feature = "schema", schemars(extend("const" = "below_min")))]
    pub reason: &'static str,
    /// In words: "your engine accepted 5 of 12 truncated answers (…)".
    pub message: String,
}

/// What a fault delivers, in words (plural), for messages.
fn fault_noun(fault: &str) -> String {
    match OutcomeFault::parse(fault) {
        Some(OutcomeFault::Truncated) => "truncated answers".into(),
        Some(OutcomeFault::Refusal) => "refusals".into(),
        Some(OutcomeFault::MalformedJson) => "malformed JSON answers".into(),
        Some(OutcomeFault::RenamedKey) => "answers with a renamed key".into(),
        Some(OutcomeFault::EmptyBilled) => "empty billed answers".into(),
        Some(OutcomeFault::LatencySpike) => "late answers".into(),
        None => format!("`{fault}` answers"),
    }
}

/// The rule of `OUTCOME_DETECTION_MIN` (one rule for gates PR-G3 and PR-G4): for every outcome
/// fault type that was delivered at least once, except `latency_spike` (its answer arrives intact:
/// nothing is wrong with it to catch), the detection rate caught / delivered must be at least
/// `min`; each type below it is one violation, in the order of `counts`. No threshold, no
/// violation. A threshold outside [0, 1] or more caught than delivered is an `invalid` error.
pub fn detection_violations(
    counts: &[DetectionCount],
    min: Option<f64>,
) -> Result<Vec<DetectionViolation>, crate::error::Error> {
    let Some(min) = min else {
        return Ok(Vec::new());
    };
    if !(0.0..=1.0).contains(&min) {
        return Err(crate::error::Error::invalid(
            "OUTCOME_DETECTION_MIN",
            format!("must be in [0, 1], got {min}"),
        ));
    }
    let mut out = Vec::new();
    for c in counts {
        if c.caught > c.delivered {
            return Err(crate::error::Error::invalid(
                "caught",
                format!(
                    "{}: caught {} of {} delivered (more caught than delivered)",
                    c.fault, c.caught, c.delivered
                ),
            ));
        }
        if c.delivered == 0 || c.fault == OutcomeFault::LatencySpike.as_str() {
            continue;
        }
        let rate = c.caught as f64 / c.delivered as f64;
        if rate < min {
            out.push(DetectionViolation {
                metric: format!("outcome_detection:{}", c.fault),
                statistic: "detection_rate",
                value: rate,
                min,
                reason: "below_min",
                message: format!(
                    "your engine accepted {} of {} {} (caught {}: detection rate {:.1} % < OUTCOME_DETECTION_MIN {:.1} %)",
                    c.delivered - c.caught,
                    c.delivered,
                    fault_noun(&c.fault),
                    c.caught,
                    rate * 100.0,
                    min * 100.0
                ),
            });
        }
    }
    Ok(out)
}

impl OutcomeFault {
    /// Parses the name a JS caller gives as `field`; an unknown name is an invalid argument.
    pub fn from_js(field: &str, name: &str) -> Result<Self> {
        Self::parse(name)
            .ok_or_else(|| Error::invalid(field, format!("unknown outcome fault {name:?}")))
    }
}

impl OutcomeSettings {
    /// Settings from a JS caller (`settings` of the Node API's `decideOutcome`): `rate` in
    /// [0, 1], each weight a known fault (`settings.weights.<name>`) with a finite weight ≥ 0;
    /// the weights sorted by fault (the draw does not depend on the caller's key order).
    pub fn from_js(rate: f64, weights: impl IntoIterator<Item = (String, f64)>) -> Result<Self> {
        if !(0.0..=1.0).contains(&rate) {
            return Err(Error::invalid(
                "settings.rate",
                format!("must be in [0, 1], got {rate}"),
            ));
        }
        let mut checked = Vec::new();
        for (name, w) in weights {
            let field = format!("settings.weights.{name}");
            let fault = OutcomeFault::parse(&name)
                .ok_or_else(|| Error::invalid(&field, "unknown outcome fault"))?;
            if !(w >= 0.0 && w.is_finite()) {
                return Err(Error::invalid(&field, format!("must be ≥ 0, got {w}")));
            }
            checked.push((fault, w));
        }
        checked.sort_by_key(|(f, _)| *f);
        Ok(Self {
            rate,
            weights: checked,
        })
    }
}

/// [`decide`] with a JS caller's arguments, checked in order: `seed` (a seed), `callIndex`,
/// `spikeMinMs`, `spikeMaxMs` (whole numbers; a maximum below the minimum is the minimum), then
/// the settings `rate` and `weights` ([`OutcomeSettings::from_js`]).
pub fn decide_js(
    seed: f64,
    call_index: f64,
    attempt: u32,
    rate: f64,
    weights: impl IntoIterator<Item = (String, f64)>,
    spike_ms: (f64, f64),
) -> Result<OutcomeDecision> {
    use crate::numbers::whole;
    let seed = crate::numbers::seed(seed)?;
    let call = whole("callIndex", call_index)?;
    let lo = whole("spikeMinMs", spike_ms.0)?;
    let hi = whole("spikeMaxMs", spike_ms.1)?;
    let settings = OutcomeSettings::from_js(rate, weights)?;
    Ok(decide(seed, call, attempt, &settings, (lo, hi.max(lo))))
}

impl DetectionCount {
    /// A count from JS numbers (`delivered`, `caught`: whole numbers).
    pub fn from_js(fault: String, delivered: f64, caught: f64) -> Result<Self> {
        Ok(Self {
            delivered: crate::numbers::whole("delivered", delivered)?,
            caught: crate::numbers::whole("caught", caught)?,
            fault,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on a broken fixture
mod tests {
    use super::*;

    fn settings(rate: f64) -> OutcomeSettings {
        OutcomeSettings {
            rate,
            weights: ALL_OUTCOME_FAULTS.iter().map(|f| (*f, 1.0)).collect(),
        }
    }

    #[test]
    fn js_arguments_are_checked() {
        let s = OutcomeSettings::from_js(
            0.5,
            vec![("refusal".to_owned(), 2.0), ("truncated".to_owned(), 1.0)],
        )
        .unwrap();
        assert_eq!(
            s.weights,
            vec![(OutcomeFault::Truncated, 1.0), (OutcomeFault::Refusal, 2.0)]
        );
        let err = |rate: f64, name: &str, w: f64| {
            OutcomeSettings::from_js(rate, vec![(name.to_owned(), w)])
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err(1.5, "refusal", 1.0),
            "invalid argument `settings.rate`: must be in [0, 1], got 1.5"
        );
        assert_eq!(
            err(0.5, "gremlin", 1.0),
            "invalid argument `settings.weights.gremlin`: unknown outcome fault"
        );
        assert_eq!(
            err(0.5, "refusal", -1.0),
            "invalid argument `settings.weights.refusal`: must be ≥ 0, got -1"
        );
        let all = || {
            ALL_OUTCOME_FAULTS
                .iter()
                .map(|f| (f.as_str().to_owned(), 1.0))
        };
        let d = decide_js(7.0, 3.0, 1, 1.0, all(), (100.0, 50.0)).unwrap();
        assert_eq!(d, decide(7, 3, 1, &settings(1.0), (100, 100)));
        assert_eq!(
            decide_js(-1.0, 3.0, 1, 1.0, all(), (0.0, 0.0))
                .unwrap_err()
                .code(),
            "ERR_OMEGA_SEED_RANGE"
        );
        // the numbers are checked before the settings
        assert!(decide_js(1.0, 0.5, 1, 7.0, all(), (0.0, 0.0))
            .unwrap_err()
            .to_string()
            .contains("`callIndex`"));
        assert_eq!(
            OutcomeFault::from_js("fault", "nope")
                .unwrap_err()
                .to_string(),
            "invalid argument `fault`: unknown outcome fault \"nope\""
        );
        assert_eq!(
            DetectionCount::from_js("refusal".into(), 3.0, 2.0)
                .unwrap()
                .caught,
            2
        );
        assert!(DetectionCount::from_js("refusal".into(), 3.0, 0.5)
            .unwrap_err()
            .to_string()
            .contains("`caught`"));
    }

    #[test]
    fn deterministic_and_near_rate() {
        let s = settings(0.3);
        let a: Vec<_> = (0..4000)
            .map(|i| decide(42, i, 1, &s, (2000, 8000)))
            .collect();
        let b: Vec<_> = (0..4000)
            .rev()
            .map(|i| decide(42, i, 1, &s, (2000, 8000)))
            .collect();
        let mut b2 = b.clone();
        b2.reverse();
        assert_eq!(a, b2);
        let hits = a.iter().filter(|d| d.fault.is_some()).count() as f64 / 4000.0;
        assert!((hits - 0.3).abs() < 0.03, "{hits}");
        for f in ALL_OUTCOME_FAULTS {
            assert!(a.iter().any(|d| d.fault == Some(f)), "{f:?} never drawn");
        }
        assert_eq!(decide(42, 1, 1, &settings(0.0), (1, 2)).fault, None);
    }

    #[test]
    fn faults_corrupt_the_text() {
        assert_eq!(apply(OutcomeFault::Truncated, "abcdef"), "abc");
        assert!(serde_json::from_str::<serde_json::Value>(&apply(
            OutcomeFault::MalformedJson,
            "{\"a\":1}"
        ))
        .is_err());
        assert_eq!(
            apply(OutcomeFault::RenamedKey, "{\"mood\":\"x\",\"t\":1}"),
            "{\"mood_v2\":\"x\",\"t\":1}"
        );
        assert_eq!(apply(OutcomeFault::EmptyBilled, "x"), "");
        assert!(crate::cases::is_refusal(&apply(OutcomeFault::Refusal, "x")));
    }
    fn count(fault: &str, delivered: u64, caught: u64) -> DetectionCount {
        DetectionCount {
            fault: fault.into(),
            delivered,
            caught,
        }
    }

    #[test]
    fn detection_threshold_names_each_fault_type_below_it() {
        let counts = [
            count("truncated", 12, 7),
            count("refusal", 4, 4),
            count("latency_spike", 5, 0),
            count("renamed_key", 0, 0),
        ];
        assert!(detection_violations(&counts, None).unwrap().is_empty());
        let v = detection_violations(&counts, Some(0.9)).unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].metric, "outcome_detection:truncated");
        assert_eq!(v[0].statistic, "detection_rate");
        assert!((v[0].value - 7.0 / 12.0).abs() < 1e-12);
        assert!(v[0]
            .message
            .starts_with("your engine accepted 5 of 12 truncated answers"));
        // At the threshold exactly: no violation.
        assert!(detection_violations(&counts, Some(7.0 / 12.0))
            .unwrap()
            .is_empty());
        assert!(detection_violations(&counts, Some(1.5)).is_err());
        assert!(detection_violations(&[count("refusal", 1, 2)], Some(0.5)).is_err());
    }
}
