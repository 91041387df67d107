//! Gate PR-G4 (stress variance): the verdict of a stress run from its per-run scores
//! ([`judge_stress`]), and its re-derivation from a recorded `PR_REPORT.json` plus the calibration
//! document used ([`rederive`]) — what the browser verifier and `proofpack verify` show as
//! "verdict reproduced" / "verdict differs".
//!
//! The verdict: PASS when the variance verdict passes (hard pass rate ≥ `PASS_RATIO_MIN`) and no
//! case is under `CASE_PASS_MIN` (runs of a cases file), and the cache saw 0 corruption.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::calibration::Calibration;
use crate::cases::{self, CaseReport, CaseRun, CaseViolation};
use crate::error::{Error, Result};
use crate::outcome::{detection_violations, DetectionCount, DetectionViolation};
use crate::variance::{self, DowngradeFlag, RunSample, VarianceReport, Verdict, Violation};

/// One case of one stress run, as `PR_REPORT.json` lists it (other fields are ignored).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct StressCase {
    /// Case id.
    pub id: String,
    /// Whether the case passed its hard checks.
    pub hard_pass: bool,
    /// Types of the checks that failed.
    #[serde(default)]
    pub failed_checks: Vec<String>,
}

/// One stress run, as `PR_REPORT.json` lists it in `runs` (other fields are ignored).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct StressRun {
    /// Hard score.
    pub hard_score: f64,
    /// Soft score.
    pub soft_score: f64,
    /// Whether the hard gate passed.
    pub hard_pass: bool,
    /// Whether the soft gate passed.
    pub soft_pass: bool,
    /// Other metrics (`latency_ms`, `cost_usd`, …).
    #[serde(default)]
    pub metrics: BTreeMap<String, f64>,
    /// Per-case results (runs of a cases file or an engine).
    #[serde(default)]
    pub cases: Option<Vec<StressCase>>,
    /// Outcome faults delivered to the run and what caught them (chaos with `outcome_faults`).
    #[serde(default)]
    pub outcome_faults: Option<Vec<StressOutcomeFault>>,
}

/// One outcome fault delivered in a stress run, as `PR_REPORT.json` lists it (other fields are
/// ignored).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct StressOutcomeFault {
    /// The fault (`truncated`, `refusal`, …).
    pub fault: String,
    /// What caught it (`retry`, `engine`, `case_failed`, `run_failed`), or null: accepted.
    #[serde(default)]
    pub caught: Option<String>,
}

/// A violation of gate PR-G4: an envelope (variance) or a case under the floor.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum GateViolation {
    /// A variance envelope violated (or without data).
    Envelope(Violation),
    /// A case whose pass rate is under `CASE_PASS_MIN`.
    Case(CaseViolation),
    /// An outcome fault type caught less often than `OUTCOME_DETECTION_MIN`.
    Detection(DetectionViolation),
}

/// The PR-G4 part of `PR_REPORT.json` (snake_case, the report's key order).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct StressVerdict {
    /// Gate PR-G4: `variance_verdict` PASS and 0 cache corruption.
    pub verdict: Verdict,
    /// Number of runs.
    pub total_runs: u64,
    /// Fraction of runs whose hard gate passed.
    pub hard_pass_rate: f64,
    /// PASS when the hard pass rate reaches `PASS_RATIO_MIN` and no case is under the floor.
    pub variance_verdict: Verdict,
    /// Envelope violations, then the cases under `CASE_PASS_MIN`.
    pub variance_violations: Vec<GateViolation>,
    /// `DOWNGRADE_VARIANCE` when the variance verdict passes but an envelope is violated.
    pub downgrade_flag: Option<DowngradeFlag>,
    /// Corrupted cache entries seen during the run.
    pub cache_corruption: u64,
    /// The variance analysis (statistics per metric, intervals, pass^k).
    pub analysis: VarianceReport,
    /// Per-case statistics, for runs of a cases file or an engine.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case_analysis: Option<CaseReport>,
}

/// Outcome faults delivered and caught per fault type (sorted by name) over `runs`.
fn detection_counts(runs: &[StressRun]) -> Vec<DetectionCount> {
    let mut by_fault: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for f in runs.iter().flat_map(|r| r.outcome_faults.iter().flatten()) {
        let e = by_fault.entry(f.fault.as_str()).or_default();
        e.0 += 1;
        if f.caught.is_some() {
            e.1 += 1;
        }
    }
    by_fault
        .into_iter()
        .map(|(fault, (delivered, caught))| DetectionCount {
            fault: fault.to_owned(),
            delivered,
            caught,
        })
        .collect()
}

/// The PR-G4 verdict of `runs` under `calibration`: the variance analysis, the per-case analysis
/// when `case_ids` is given (the cases file's ids, in order), and the gate verdict.
/// [`Error::EmptyRuns`] without runs; [`Error::InvalidArgument`] naming `runs[i].hard_score` (…)
/// for a non-finite value.
pub fn judge_stress(
    runs: &[StressRun],
    case_ids: Option<&[String]>,
    calibration: &Calibration,
    cache_corruption: u64,
) -> Result<StressVerdict> {
    if runs.is_empty() {
        return Err(Error::EmptyRuns {
            what: "PR-G4 verdict".into(),
        });
    }
    let samples: Vec<RunSample> = runs
        .iter()
        .map(|r| RunSample {
            hard_score: r.hard_score,
            soft_score: r.soft_score,
            hard_pass: r.hard_pass,
            soft_pass: r.soft_pass,
            metrics: r.metrics.clone(),
        })
        .collect();
    let analysis = variance::analyze(
        &samples,
        &calibration.variance_envelopes,
        calibration.pass_ratio_min,
        &calibration.pass_k,
    )?;
    let case_analysis = match case_ids {
        None => None,
        Some(ids) => {
            let per_run: Vec<Vec<CaseRun>> = runs
                .iter()
                .map(|r| {
                    r.cases
                        .iter()
                        .flatten()
                        .map(|c| CaseRun {
                            id: c.id.clone(),
                            hard_pass: c.hard_pass,
                            failed_checks: c.failed_checks.clone(),
                        })
                        .collect()
                })
                .collect();
            Some(cases::analyze_cases(
                ids,
                &per_run,
                &calibration.pass_k,
                calibration.case_pass_min,
            )?)
        }
    };
    let case_violations: &[CaseViolation] = case_analysis
        .as_ref()
        .map_or(&[], |c| c.violations.as_slice());
    // Outcome faults caught too rarely (OUTCOME_DETECTION_MIN) fail PR-G4 like a case under its
    // floor: counted per fault type over every run (order-independent: shards merge exactly).
    let detection =
        detection_violations(&detection_counts(runs), calibration.outcome_detection_min)?;
    let variance_verdict = if analysis.variance_verdict == Verdict::Pass
        && case_violations.is_empty()
        && detection.is_empty()
    {
        Verdict::Pass
    } else {
        Verdict::Fail
    };
    let verdict = if variance_verdict == Verdict::Pass && cache_corruption == 0 {
        Verdict::Pass
    } else {
        Verdict::Fail
    };
    let variance_violations = analysis
        .variance_violations
        .iter()
        .cloned()
        .map(GateViolation::Envelope)
        .chain(case_violations.iter().cloned().map(GateViolation::Case))
        .chain(detection.into_iter().map(GateViolation::Detection))
        .collect();
    Ok(StressVerdict {
        verdict,
        total_runs: analysis.total_runs,
        hard_pass_rate: analysis.hard_pass_rate,
        variance_verdict,
        variance_violations,
        downgrade_flag: analysis.downgrade_flag,
        cache_corruption,
        analysis,
        case_analysis,
    })
}

/// Outcome of a re-derivation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum RederiveStatus {
    /// The derived verdict and statistics equal the recorded ones.
    Reproduced,
    /// They differ (the first differing JSON path is named).
    Differs,
    /// The recorded data does not allow it (no calibration, no per-run scores, …).
    NotRederivable,
}

/// The PR-G4 verdict re-derived from a recorded `PR_REPORT.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "schema",
    schemars(rename = "StressRederivation", deny_unknown_fields)
)]
pub struct Rederivation {
    /// `reproduced`, `differs` or `not_rederivable`.
    pub status: RederiveStatus,
    /// The verdict the report records, when it records one.
    pub recorded_verdict: Option<String>,
    /// The verdict derived from the recorded runs, when derivable.
    pub derived_verdict: Option<Verdict>,
    /// Runs the derivation used.
    pub total_runs: Option<u64>,
    /// First JSON path (`$.analysis.metrics.hard_score.mean`) where the recorded and derived
    /// reports differ.
    pub first_difference: Option<String>,
    /// One line for people: `verdict reproduced: …`, `verdict differs: recorded PASS, derived
    /// FAIL …`, `not re-derivable: …`.
    pub line: String,
    /// The derived PR-G4 fields (absent when not derivable).
    pub derived: Option<StressVerdict>,
}

/// The fields of `PR_REPORT.json` that gate PR-G4 derives, in the order they are compared.
pub const PR_G4_FIELDS: [&str; 9] = [
    "verdict",
    "variance_verdict",
    "total_runs",
    "hard_pass_rate",
    "variance_violations",
    "downgrade_flag",
    "cache_corruption",
    "analysis",
    "case_analysis",
];

fn not_rederivable(recorded_verdict: Option<String>, why: impl Into<String>) -> Rederivation {
    Rederivation {
        status: RederiveStatus::NotRederivable,
        recorded_verdict,
        derived_verdict: None,
        total_runs: None,
        first_difference: None,
        line: format!("not re-derivable: {}", why.into()),
        derived: None,
    }
}

fn verdict_str(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "PASS",
        Verdict::Fail => "FAIL",
    }
}

/// JSON-path segment for an object key.
fn key_path(path: &str, key: &str) -> String {
    if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        format!("{path}.{key}")
    } else {
        format!("{path}[{}]", Value::String(key.to_owned()))
    }
}

/// The first path where `recorded` and `derived` differ. Numbers compare by value (a recorded
/// `1` equals a derived `1.0`); object key order does not matter.
pub fn first_difference(recorded: &Value, derived: &Value, path: &str) -> Option<String> {
    match (recorded, derived) {
        (Value::Number(a), Value::Number(b)) => (a.as_f64() != b.as_f64()).then(|| path.to_owned()),
        (Value::Object(a), Value::Object(b)) => {
            for (k, dv) in b {
                let p = key_path(path, k);
                match a.get(k) {
                    None => return Some(p),
                    Some(rv) => {
                        if let Some(d) = first_difference(rv, dv, &p) {
                            return Some(d);
                        }
                    }
                }
            }
            a.keys()
                .find(|k| !b.contains_key(*k))
                .map(|k| key_path(path, k))
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, (rv, dv)) in a.iter().zip(b).enumerate() {
                if let Some(d) = first_difference(rv, dv, &format!("{path}[{i}]")) {
                    return Some(d);
                }
            }
            (a.len() != b.len()).then(|| format!("{path}[{}]", a.len().min(b.len())))
        }
        (a, b) => (a != b).then(|| path.to_owned()),
    }
}

/// Re-derives the PR-G4 verdict of a recorded `PR_REPORT.json` (`report`, parsed) from its
/// per-run scores (`runs`), its `case_ids` and `cache_corruption`, with `calibration` (the
/// calibration document used, parsed; `None` when the run folder has none), and compares every
/// PR-G4 field (`verdict`, `total_runs`, `hard_pass_rate`, `variance_verdict`,
/// `variance_violations`, `downgrade_flag`, `cache_corruption`, `analysis`, `case_analysis`) with
/// the recorded one. Never fails: what cannot be derived is `not_rederivable`, with the reason.
pub fn rederive(report: &Value, calibration: Option<&Value>) -> Rederivation {
    let recorded_verdict = report
        .get("verdict")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let Some(obj) = report.as_object() else {
        return not_rederivable(recorded_verdict, "PR_REPORT.json is not a JSON object");
    };
    let Some(runs_value) = obj.get("runs") else {
        return not_rederivable(
            recorded_verdict,
            "PR_REPORT.json has no per-run scores (`runs`)",
        );
    };
    let runs: Vec<StressRun> = match serde_json::from_value(runs_value.clone()) {
        Ok(r) => r,
        Err(e) => {
            return not_rederivable(
                recorded_verdict,
                format!("PR_REPORT.json `runs` is malformed: {e}"),
            )
        }
    };
    let case_ids: Option<Vec<String>> = match obj.get("case_ids") {
        None | Some(Value::Null) => None,
        Some(v) => match serde_json::from_value(v.clone()) {
            Ok(ids) => Some(ids),
            Err(e) => {
                return not_rederivable(
                    recorded_verdict,
                    format!("PR_REPORT.json `case_ids` is malformed: {e}"),
                )
            }
        },
    };
    let cache_corruption = match obj.get("cache_corruption").map(Value::as_u64) {
        None => 0,
        Some(Some(n)) => n,
        Some(None) => {
            return not_rederivable(
                recorded_verdict,
                "PR_REPORT.json `cache_corruption` is not a whole number",
            )
        }
    };
    let Some(cal_value) = calibration else {
        return not_rederivable(recorded_verdict, "no calibration.json");
    };
    let cal = match Calibration::from_value(cal_value, Some("calibration.json")) {
        Ok(c) => c,
        Err(e) => {
            return not_rederivable(
                recorded_verdict,
                format!("calibration.json is invalid: {e}"),
            )
        }
    };
    let derived = match judge_stress(&runs, case_ids.as_deref(), &cal, cache_corruption) {
        Ok(d) => d,
        Err(e) => return not_rederivable(recorded_verdict, e.to_string()),
    };
    let derived_value = match serde_json::to_value(&derived) {
        Ok(v) => v,
        Err(e) => return not_rederivable(recorded_verdict, e.to_string()),
    };
    // Compare only the PR-G4 fields, verdict first.
    let diff = PR_G4_FIELDS.iter().find_map(|k| {
        let path = key_path("$", k);
        match (obj.get(*k), derived_value.get(*k)) {
            (None, None) => None,
            (Some(r), Some(d)) => first_difference(r, d, &path),
            _ => Some(path),
        }
    });
    let derived_verdict = verdict_str(derived.verdict);
    let recorded_text = recorded_verdict.as_deref().unwrap_or("(none)");
    let n = derived.total_runs;
    let (status, line) = match &diff {
        None => (
            RederiveStatus::Reproduced,
            format!(
                "verdict reproduced: {derived_verdict} re-derived from the {n} recorded run(s)"
            ),
        ),
        Some(path) => (
            RederiveStatus::Differs,
            format!(
                "verdict differs: recorded {recorded_text}, derived {derived_verdict} (first difference at {path})"
            ),
        ),
    };
    Rederivation {
        status,
        recorded_verdict,
        derived_verdict: Some(derived.verdict),
        total_runs: Some(n),
        first_difference: diff,
        line,
        derived: Some(derived),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on a broken fixture
mod tests {
    use super::*;
    use crate::calibration::DEFAULT_CALIBRATION_JSON;
    use serde_json::json;

    fn cal_value() -> Value {
        serde_json::from_str(DEFAULT_CALIBRATION_JSON).unwrap()
    }

    fn runs(n: usize, passing: usize) -> Vec<Value> {
        (0..n)
            .map(|i| {
                let pass = i < passing;
                json!({
                    "run_index": i,
                    "hard_score": if pass { 0.9 } else { 0.2 },
                    "soft_score": 0.8,
                    "hard_pass": pass,
                    "soft_pass": true,
                    "failed_scenes": 0,
                    "metrics": { "latency_ms": 100.0 + i as f64 },
                })
            })
            .collect()
    }

    /// A report laid out the way `buildPrReport` does (PR-G4 fields from [`judge_stress`]).
    fn report(n: usize, passing: usize, cache_corruption: u64) -> Value {
        let runs_v = runs(n, passing);
        let parsed: Vec<StressRun> = serde_json::from_value(Value::Array(runs_v.clone())).unwrap();
        let cal = Calibration::from_value(&cal_value(), None).unwrap();
        let d = judge_stress(&parsed, None, &cal, cache_corruption).unwrap();
        let mut v = serde_json::to_value(&d).unwrap();
        let o = v.as_object_mut().unwrap();
        o.insert("schema_version".into(), json!("OMEGA-PR-REPORT-1.0"));
        o.insert("case_ids".into(), Value::Null);
        o.insert("runs".into(), Value::Array(runs_v));
        v
    }

    #[test]
    fn verdict_follows_pass_rate_cases_and_cache() {
        let cal = Calibration::from_value(&cal_value(), None).unwrap();
        let parse =
            |v: Vec<Value>| -> Vec<StressRun> { serde_json::from_value(Value::Array(v)).unwrap() };
        let all = judge_stress(&parse(runs(20, 20)), None, &cal, 0).unwrap();
        assert_eq!(all.verdict, Verdict::Pass);
        assert_eq!(all.variance_verdict, Verdict::Pass);
        assert!(all.case_analysis.is_none());
        let corrupt = judge_stress(&parse(runs(20, 20)), None, &cal, 1).unwrap();
        assert_eq!(
            (corrupt.variance_verdict, corrupt.verdict),
            (Verdict::Pass, Verdict::Fail)
        );
        let few = judge_stress(&parse(runs(20, 5)), None, &cal, 0).unwrap();
        assert_eq!(few.verdict, Verdict::Fail);
        assert!(matches!(
            judge_stress(&[], None, &cal, 0),
            Err(Error::EmptyRuns { .. })
        ));
    }

    #[test]
    fn a_case_under_the_floor_fails_the_gate() {
        let mut cv = cal_value();
        cv["CASE_PASS_MIN"] = json!(0.9);
        let cal = Calibration::from_value(&cv, None).unwrap();
        let mut rs: Vec<StressRun> = serde_json::from_value(Value::Array(runs(10, 10))).unwrap();
        for (i, r) in rs.iter_mut().enumerate() {
            r.cases = Some(vec![
                StressCase {
                    id: "a".into(),
                    hard_pass: true,
                    failed_checks: vec![],
                },
                StressCase {
                    id: "b".into(),
                    hard_pass: i % 2 == 0,
                    failed_checks: vec!["contains".into()],
                },
            ]);
        }
        let ids = vec!["a".to_owned(), "b".to_owned()];
        let d = judge_stress(&rs, Some(&ids), &cal, 0).unwrap();
        assert_eq!(d.analysis.variance_verdict, Verdict::Pass);
        assert_eq!(d.variance_verdict, Verdict::Fail);
        assert_eq!(d.verdict, Verdict::Fail);
        assert!(matches!(
            d.variance_violations.last(),
            Some(GateViolation::Case(c)) if c.metric == "case:b"
        ));
    }

    #[test]
    fn a_recorded_report_reproduces() {
        let r = rederive(&report(20, 20, 0), Some(&cal_value()));
        assert_eq!(r.status, RederiveStatus::Reproduced, "{}", r.line);
        assert_eq!(r.derived_verdict, Some(Verdict::Pass));
        assert_eq!(
            r.line,
            "verdict reproduced: PASS re-derived from the 20 recorded run(s)"
        );
        // Integers written as `1` (JSON.stringify) equal the derived 1.0.
        let text = serde_json::to_string(&report(20, 20, 0))
            .unwrap()
            .replace(":1.0,", ":1,");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            rederive(&v, Some(&cal_value())).status,
            RederiveStatus::Reproduced
        );
    }

    #[test]
    fn edited_runs_or_verdict_differ() {
        let mut rep = report(20, 20, 0);
        for i in 0..10 {
            rep["runs"][i]["hard_pass"] = json!(false);
            rep["runs"][i]["hard_score"] = json!(0.1);
        }
        let r = rederive(&rep, Some(&cal_value()));
        assert_eq!(r.status, RederiveStatus::Differs);
        assert_eq!(r.first_difference.as_deref(), Some("$.verdict"));
        assert!(
            r.line
                .starts_with("verdict differs: recorded PASS, derived FAIL"),
            "{}",
            r.line
        );
        // A statistic edited alone: the verdict is the same, the path names the statistic.
        let mut rep = report(20, 20, 0);
        rep["analysis"]["metrics"]["latency_ms"]["mean"] = json!(1.5);
        let r = rederive(&rep, Some(&cal_value()));
        assert_eq!(r.status, RederiveStatus::Differs);
        assert_eq!(
            r.first_difference.as_deref(),
            Some("$.analysis.metrics.latency_ms.mean")
        );
        // A case analysis recorded without case ids.
        let mut rep = report(20, 20, 0);
        rep["case_analysis"] = json!({});
        assert_eq!(
            rederive(&rep, Some(&cal_value()))
                .first_difference
                .as_deref(),
            Some("$.case_analysis")
        );
    }

    #[test]
    fn what_cannot_be_derived_says_why() {
        let r = rederive(&report(3, 3, 0), None);
        assert_eq!(r.status, RederiveStatus::NotRederivable);
        assert_eq!(r.line, "not re-derivable: no calibration.json");
        assert_eq!(r.recorded_verdict.as_deref(), Some("PASS"));
        let r = rederive(
            &json!({"verdict": "PASS", "total_runs": 100}),
            Some(&cal_value()),
        );
        assert!(r.line.contains("no per-run scores"), "{}", r.line);
        let r = rederive(&json!({"runs": [{"hard_score": "x"}]}), Some(&cal_value()));
        assert!(r.line.contains("`runs` is malformed"), "{}", r.line);
        let r = rederive(&report(3, 3, 0), Some(&json!({"PASS_RATIO_MIN": 7})));
        assert!(r.line.contains("calibration.json is invalid"), "{}", r.line);
        let r = rederive(&json!({"runs": []}), Some(&cal_value()));
        assert!(r.line.contains("empty run list"), "{}", r.line);
    }

    #[test]
    fn first_difference_paths() {
        let a = json!({"a": [1, {"b c": 2}]});
        assert_eq!(first_difference(&a, &a, "$"), None);
        let b = json!({"a": [1, {"b c": 3}]});
        assert_eq!(
            first_difference(&a, &b, "$").as_deref(),
            Some("$.a[1][\"b c\"]")
        );
        let c = json!({"a": [1]});
        assert_eq!(first_difference(&a, &c, "$").as_deref(), Some("$.a[1]"));
        let d = json!({"a": [1, {"b c": 2}], "z": null});
        assert_eq!(first_difference(&a, &d, "$").as_deref(), Some("$.z"));
        assert_eq!(first_difference(&d, &a, "$").as_deref(), Some("$.z"));
    }
}
