//! The built-in simulated provider and scorer (seeded, deterministic), for offline sprints.

use napi::Result;
use napi_derive::napi;
use omega_pr_core::simulate;

use crate::error::{seed, whole, Code};

/// One simulated provider answer.
#[napi(object)]
pub struct SimulatedCall {
    /// Generated text (never empty).
    pub text: String,
    /// Prompt tokens (including cached ones).
    pub input_tokens: f64,
    /// Of which read from the prompt cache.
    pub cached_input_tokens: f64,
    /// Completion tokens.
    pub output_tokens: f64,
    /// Simulated latency, ms.
    pub latency_ms: f64,
}

/// The simulated answer to call `callIndex` of a run seeded with `seed`.
#[napi]
pub fn simulate_call(
    seed_value: f64,
    call_index: f64,
    scene_id: String,
) -> Result<SimulatedCall, Code> {
    let c = simulate::simulate_call(
        seed(seed_value)?,
        whole("callIndex", call_index)?,
        &scene_id,
    );
    Ok(SimulatedCall {
        text: c.text,
        input_tokens: c.input_tokens as f64,
        cached_input_tokens: c.cached_input_tokens as f64,
        output_tokens: c.output_tokens as f64,
        latency_ms: c.latency_ms as f64,
    })
}

/// One simulated score.
#[napi(object)]
pub struct SimulatedScore {
    /// Hard score in [0, 1].
    pub hard_score: f64,
    /// Soft score in [0, 1].
    pub soft_score: f64,
    /// Hard gate passed.
    pub hard_pass: bool,
    /// Soft gate passed.
    pub soft_pass: bool,
}

/// The simulated scorer for run `runIndex`, of which `failedScenes` of `totalScenes` scenes
/// ended in an error; a run whose every scene failed scores 0 (`totalScenes` omitted: unknown).
#[napi]
pub fn simulate_score(
    seed_value: f64,
    run_index: f64,
    failed_scenes: u32,
    total_scenes: Option<u32>,
) -> Result<SimulatedScore, Code> {
    let s = simulate::simulate_score(
        seed(seed_value)?,
        whole("runIndex", run_index)?,
        failed_scenes,
        total_scenes.unwrap_or(0),
    );
    Ok(SimulatedScore {
        hard_score: s.hard_score,
        soft_score: s.soft_score,
        hard_pass: s.hard_pass,
        soft_pass: s.soft_pass,
    })
}
