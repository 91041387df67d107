//! The cases file for JS (see `omega_pr_core::cases`): validation (`CaseSuite.fromJson`), the
//! deterministic checks of one answer (`evaluate`), the run score (`scoreRun`) and the per-case
//! statistics of a stress run (`analyzeCases`).

use napi_derive::napi;
use omega_pr_core::cases::{self, CaseRun, CaseSet, EngineCheck, External, Output};
use omega_pr_core::outcome::{self, DetectionCount, OutcomeFault};
use serde_json::Value;

use crate::error::{from_core, internal, Code};
use napi::Result;

/// The answer a case is judged on.
#[napi(object)]
pub struct CaseOutput {
    /// The answer text; absent (or null) when no answer arrived.
    pub text: Option<String>,
    /// Why there is no answer (error code and message).
    pub error: Option<String>,
    /// Latency of the case's calls, ms.
    pub latency_ms: f64,
    /// Cost of the case's calls, USD.
    pub cost_usd: f64,
}

/// The result of a check evaluated in JS (`json-schema`, `js`), by its index in `assert`.
#[napi(object)]
pub struct ExternalCheckResult {
    /// Index of the check in the case's `assert`.
    pub index: u32,
    /// Whether it passed.
    pub pass: bool,
    /// Why it failed.
    pub message: Option<String>,
}

/// One of the engine's own checks of a case (its parser, validators, …).
#[napi(object)]
pub struct EngineCheckInput {
    /// Name of the check.
    pub name: String,
    /// Whether it passed.
    pub pass: bool,
    /// `hard` (default) or `soft`.
    #[napi(ts_type = "'hard' | 'soft'")]
    pub level: Option<String>,
    /// Weight (default 1).
    pub weight: Option<f64>,
    /// Why it failed.
    pub message: Option<String>,
}

/// One case of one run, for `analyzeCases`.
#[napi(object)]
pub struct CaseRunInput {
    /// Case id.
    pub id: String,
    /// Whether the case passed its hard checks.
    pub hard_pass: bool,
    /// Types of the checks that failed.
    pub failed_checks: Vec<String>,
}

/// A validated cases file (`--input cases.json`).
#[napi]
pub struct CaseSuite {
    inner: CaseSet,
}

#[napi]
impl CaseSuite {
    /// Parses and validates a cases document; `sourceName` (a file name) is quoted in errors.
    /// Throws `ERR_OMEGA_CASES` naming the case id and check index (unknown check type, bad
    /// regex, missing prompt, unknown `{{var}}`, …).
    #[napi(factory)]
    pub fn from_json(text: String, source_name: Option<String>) -> Result<CaseSuite, Code> {
        let inner = CaseSet::from_json_str(&text, source_name.as_deref()).map_err(from_core)?;
        Ok(CaseSuite { inner })
    }

    /// The normalized document: rendered prompts, `level` and `weight` filled in.
    #[napi(ts_return_type = "CasesDocument")]
    pub fn document(&self) -> Value {
        self.inner.to_value()
    }

    /// Whether any case has a check.
    #[napi(getter)]
    pub fn has_checks(&self) -> bool {
        self.inner.has_checks()
    }

    /// Judges one answer of case `caseIndex` by its checks, with the results of the checks
    /// evaluated in JS and the engine's own checks.
    #[napi(ts_return_type = "CaseResult")]
    pub fn evaluate(
        &self,
        case_index: u32,
        output: CaseOutput,
        external: Option<Vec<ExternalCheckResult>>,
        engine: Option<Vec<EngineCheckInput>>,
    ) -> Result<Value, Code> {
        let case = self.inner.case_js(case_index).map_err(from_core)?;
        let o = output;
        let out = Output::from_js(o.text, o.error, o.latency_ms, o.cost_usd).map_err(from_core)?;
        let ext: Vec<External> = external
            .unwrap_or_default()
            .into_iter()
            .map(|e| External {
                index: e.index as usize,
                pass: e.pass,
                message: e.message,
            })
            .collect();
        let eng = (engine.unwrap_or_default().into_iter().enumerate())
            .map(|(i, e)| {
                EngineCheck::from_js(i, e.name, e.pass, e.level.as_deref(), e.weight, e.message)
            })
            .collect::<omega_pr_core::Result<Vec<_>>>()
            .map_err(from_core)?;
        serde_json::to_value(case.evaluate(&out, &ext, &eng)).map_err(internal)
    }

    /// The scores of a run from its case results (`hard_score` / `soft_score` of each): their
    /// means against the file's `hard_pass_score` / `soft_pass_score`.
    #[napi(
        ts_args_type = "results: CaseResult[]",
        ts_return_type = "CaseRunScore"
    )]
    pub fn score_run(&self, results: Vec<Value>) -> Result<Value, Code> {
        let s = self.inner.score_run_js(&results).map_err(from_core)?;
        serde_json::to_value(s).map_err(internal)
    }
}

/// Per-case statistics of a stress run: for each case (in `caseIds` order) its pass rate with a
/// Wilson 95 % interval, pass^k for the calibration's `PASS_K`, flaky / always failing, failed
/// checks by type; cases under the calibration's optional `CASE_PASS_MIN` as violations.
/// Independent of the order of the runs (shards merge exactly).
#[napi(
    ts_args_type = "caseIds: string[], runs: CaseRunInput[][], calibration?: Calibration | CalibrationDocument | undefined | null",
    ts_return_type = "CaseReport"
)]
pub fn analyze_cases(
    case_ids: Vec<String>,
    runs: Vec<Vec<CaseRunInput>>,
    calibration: Option<crate::calibration::CalibrationArg>,
) -> Result<Value, Code> {
    let cal = crate::calibration::parse(calibration)?;
    let runs: Vec<Vec<CaseRun>> = runs
        .into_iter()
        .map(|r| {
            r.into_iter()
                .map(|c| CaseRun {
                    id: c.id,
                    hard_pass: c.hard_pass,
                    failed_checks: c.failed_checks,
                })
                .collect()
        })
        .collect();
    let report = cases::analyze_cases(&case_ids, &runs, &cal.pass_k, cal.case_pass_min)
        .map_err(from_core)?;
    serde_json::to_value(report).map_err(internal)
}

/// Outcome-fault settings of a chaos profile (`outcome_faults` in the calibration).
#[napi(object)]
pub struct OutcomeFaultSettings {
    /// Probability in [0, 1] that an attempt without a thrown fault gets an outcome fault.
    pub rate: f64,
    /// Relative weights per fault (`truncated`, `refusal`, `malformed_json`, `renamed_key`,
    /// `empty_billed`, `latency_spike`).
    pub weights: std::collections::HashMap<String, f64>,
}

/// The outcome decision of one attempt.
#[napi(object)]
pub struct OutcomeDecisionResult {
    /// The fault to deliver, if any.
    pub fault: Option<String>,
    /// Extra delay of a latency spike, ms.
    pub latency_ms: Option<f64>,
}

/// Whether attempt `attempt` of call `callIndex` gets an outcome fault (an answer that arrives
/// corrupted): a pure function of (seed, call, attempt) and the settings.
#[napi]
pub fn decide_outcome(
    seed: f64,
    call_index: f64,
    attempt: u32,
    settings: OutcomeFaultSettings,
    spike_min_ms: f64,
    spike_max_ms: f64,
) -> Result<OutcomeDecisionResult, Code> {
    let (rate, weights) = (settings.rate, settings.weights);
    let spike = (spike_min_ms, spike_max_ms);
    let d =
        outcome::decide_js(seed, call_index, attempt, rate, weights, spike).map_err(from_core)?;
    Ok(OutcomeDecisionResult {
        fault: d.fault.map(|f| f.as_str().to_owned()),
        latency_ms: d.latency_ms.map(|x| x as f64),
    })
}

/// The text an outcome fault delivers instead of `text` (`truncated`: the first half; `refusal`;
/// `malformed_json`; `renamed_key`: the first key of a JSON object renamed; `empty_billed`: empty;
/// `latency_spike`: unchanged).
#[napi]
pub fn apply_outcome_fault(fault: String, text: String) -> Result<String, Code> {
    let f = OutcomeFault::from_js("fault", &fault).map_err(from_core)?;
    Ok(outcome::apply(f, &text))
}

/// Outcome faults of one type delivered in a run and how many were caught.
#[napi(object)]
pub struct DetectionCountInput {
    /// The fault (`truncated`, `refusal`, …).
    pub fault: String,
    /// Delivered.
    pub delivered: f64,
    /// Of them, caught.
    pub caught: f64,
}

/// The fault types whose detection rate is below the calibration's `OUTCOME_DETECTION_MIN`
/// (core `outcome::detection_violations`; none without the threshold). One rule for gates PR-G3
/// (`chaos`) and PR-G4 (`stress`): every type delivered but `latency_spike` must be caught at
/// least at that rate.
#[napi(
    ts_args_type = "counts: DetectionCountInput[], calibration?: Calibration | CalibrationDocument | undefined | null",
    ts_return_type = "DetectionViolation[]"
)]
pub fn judge_outcome_detection(
    counts: Vec<DetectionCountInput>,
    calibration: Option<crate::calibration::CalibrationArg>,
) -> Result<Value, Code> {
    let cal = crate::calibration::parse(calibration)?;
    let input = (counts.into_iter())
        .map(|c| DetectionCount::from_js(c.fault, c.delivered, c.caught))
        .collect::<omega_pr_core::Result<Vec<_>>>()
        .map_err(from_core)?;
    let v = outcome::detection_violations(&input, cal.outcome_detection_min).map_err(from_core)?;
    serde_json::to_value(v).map_err(internal)
}

/// The two messages of an `llm-judge` call (core `cases::JUDGE_SYSTEM`, `cases::judge_prompt`).
#[napi(object)]
pub struct JudgeMessages {
    /// The system message: the reply format (`{"score": 0..1, "reason": "…"}`).
    pub system: String,
    /// The user message: rubric, task, answer between `<answer>` tags.
    pub user: String,
}

/// The messages an `llm-judge` check sends to the judge model.
#[napi]
pub fn judge_messages(rubric: String, task: String, answer: String) -> JudgeMessages {
    JudgeMessages {
        system: cases::JUDGE_SYSTEM.to_owned(),
        user: cases::judge_prompt(&rubric, &task, &answer),
    }
}

/// The result of an `llm-judge` check.
#[napi(object)]
pub struct JudgeVerdict {
    /// Whether the score reached the threshold.
    pub pass: bool,
    /// Why it failed (the score and the judge's reason, or why no score could be read).
    pub message: Option<String>,
    /// The score read, when one was.
    pub score: Option<f64>,
}

/// Judges an `llm-judge` check from the judge's reply text, or from the error of its call
/// (`reply` null): passes when the score in [0, 1] is at least `threshold`.
#[napi]
pub fn judge_verdict(
    reply: Option<String>,
    error: Option<String>,
    threshold: f64,
) -> Result<JudgeVerdict, Code> {
    let (pass, message, score) =
        cases::judge_verdict_js(reply.as_deref(), error.as_deref(), threshold)
            .map_err(from_core)?;
    Ok(JudgeVerdict {
        pass,
        message,
        score,
    })
}
