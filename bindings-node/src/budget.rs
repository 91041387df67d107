//! `BudgetTracker` for JS: reserve the worst case before a call, settle the real usage after.

use napi_derive::napi;
use omega_pr_core::budget::{self, ReserveRequest, Usage};
use omega_pr_core::money::micro_to_usd;
use serde_json::Value;

use crate::error::{from_core, whole, Code};
use napi::Result;

/// Token usage of one call. `inputTokens` includes cached-read and cache-write tokens;
/// `outputTokens` includes reasoning tokens (nothing is counted twice).
#[napi(object)]
pub struct TokenUsage {
    /// All prompt tokens.
    pub input_tokens: f64,
    /// Of which read from the provider's prompt cache.
    pub cached_input_tokens: Option<f64>,
    /// Of which written to the provider's prompt cache.
    pub cache_write_tokens: Option<f64>,
    /// All completion tokens.
    pub output_tokens: f64,
    /// Of which reasoning tokens.
    pub reasoning_tokens: Option<f64>,
}

impl TokenUsage {
    fn to_core(&self) -> Result<Usage, Code> {
        Ok(Usage {
            input_tokens: whole("usage.inputTokens", self.input_tokens)?,
            cached_input_tokens: whole(
                "usage.cachedInputTokens",
                self.cached_input_tokens.unwrap_or(0.0),
            )?,
            cache_write_tokens: whole(
                "usage.cacheWriteTokens",
                self.cache_write_tokens.unwrap_or(0.0),
            )?,
            output_tokens: whole("usage.outputTokens", self.output_tokens)?,
            reasoning_tokens: whole(
                "usage.reasoningTokens",
                self.reasoning_tokens.unwrap_or(0.0),
            )?,
        })
    }
}

/// What to reserve before a call.
#[napi(object)]
pub struct ReserveOptions {
    /// Id of the call, unique within the run.
    pub call_id: String,
    /// Scene the call belongs to.
    pub scene_id: Option<String>,
    /// Model name (must be priced in calibration `budget.models`).
    pub model: String,
    /// Prompt tokens (all of them).
    pub input_tokens: f64,
    /// Cap of completion tokens; defaults to calibration `budget.max_output_tokens`.
    pub max_output_tokens: Option<f64>,
}

/// A granted reservation.
#[napi(object)]
pub struct ReservationInfo {
    /// Id to `settle` or `release` it with.
    pub id: u32,
    /// Money booked, USD.
    pub reserved_usd: f64,
    /// Money booked, µUSD.
    pub reserved_micro_usd: f64,
}

/// A call accounted without a reservation.
#[napi(object)]
pub struct RecordOptions {
    /// Id of the call.
    pub call_id: String,
    /// Scene the call belongs to.
    pub scene_id: Option<String>,
    /// Model name.
    pub model: String,
}

/// Cost of one settled call.
#[napi(object)]
pub struct CallCostInfo {
    /// Real cost, USD.
    pub cost_usd: f64,
    /// Real cost, µUSD.
    pub cost_micro_usd: f64,
    /// Run total settled so far, USD.
    pub run_total_usd: f64,
}

impl From<budget::CallCost> for CallCostInfo {
    fn from(c: budget::CallCost) -> Self {
        Self {
            cost_usd: c.cost_usd,
            cost_micro_usd: c.cost_micro_usd as f64,
            run_total_usd: micro_to_usd(c.run_total_micro_usd),
        }
    }
}

/// Options of a tracker.
#[napi(object)]
pub struct BudgetTrackerOptions {
    /// Split the run budget across this many shards (each shard gets `max_per_run_usd / shards`).
    pub shards: Option<u32>,
}

/// Tracks the money of one run in integer micro-USD. Over budget is `FAIL`, never a warning.
#[napi]
pub struct BudgetTracker {
    inner: budget::BudgetTracker,
}

#[napi]
impl BudgetTracker {
    /// A tracker for one run, with the limits and prices of `calibration` (the shipped defaults
    /// when omitted).
    #[napi(
        constructor,
        ts_args_type = "calibration?: CalibrationDocument | undefined | null, options?: BudgetTrackerOptions | undefined | null"
    )]
    pub fn new(
        calibration: Option<Value>,
        options: Option<BudgetTrackerOptions>,
    ) -> Result<Self, Code> {
        let cal = crate::calibration::parse(calibration)?;
        let shards = options.and_then(|o| o.shards).unwrap_or(1);
        let settings = cal.budget.split(u64::from(shards)).map_err(from_core)?;
        Ok(Self {
            inner: budget::BudgetTracker::new(settings),
        })
    }

    /// Books the worst case of a call. Throws `ERR_OMEGA_BUDGET_EXCEEDED` (and records a
    /// violation) when the per-call or per-run cap would be exceeded, `ERR_OMEGA_UNKNOWN_MODEL`
    /// for an unpriced model.
    #[napi]
    pub fn reserve(&mut self, options: ReserveOptions) -> Result<ReservationInfo, Code> {
        let req = ReserveRequest {
            call_id: options.call_id,
            scene_id: options.scene_id,
            model: options.model,
            input_tokens: whole("inputTokens", options.input_tokens)?,
            max_output_tokens: options
                .max_output_tokens
                .map(|m| whole("maxOutputTokens", m))
                .transpose()?,
        };
        let r = self.inner.reserve(req).map_err(from_core)?;
        Ok(ReservationInfo {
            id: u32::try_from(r.id).unwrap_or(u32::MAX),
            reserved_usd: micro_to_usd(r.reserved_micro_usd),
            reserved_micro_usd: r.reserved_micro_usd as f64,
        })
    }

    /// Replaces reservation `id` with the real cost of `usage`.
    #[napi]
    pub fn settle(&mut self, id: u32, usage: TokenUsage) -> Result<CallCostInfo, Code> {
        let usage = usage.to_core()?;
        self.inner
            .settle(u64::from(id), &usage)
            .map(Into::into)
            .map_err(from_core)
    }

    /// Cancels reservation `id` at no cost (the call was not billed).
    #[napi]
    pub fn release(&mut self, id: u32) -> Result<(), Code> {
        self.inner.release(u64::from(id)).map_err(from_core)
    }

    /// Accounts a call made without a reservation.
    #[napi]
    pub fn record(&mut self, call: RecordOptions, usage: TokenUsage) -> Result<CallCostInfo, Code> {
        let usage = usage.to_core()?;
        self.inner
            .record(&call.call_id, call.scene_id, &call.model, &usage)
            .map(Into::into)
            .map_err(from_core)
    }

    /// Money settled so far, USD.
    #[napi(getter)]
    pub fn spent_usd(&self) -> f64 {
        micro_to_usd(self.inner.spent_micro())
    }

    /// Money booked by open reservations, USD.
    #[napi(getter)]
    pub fn reserved_usd(&self) -> f64 {
        micro_to_usd(self.inner.reserved_micro())
    }

    /// Money still free under the run cap, USD.
    #[napi(getter)]
    pub fn remaining_usd(&self) -> f64 {
        micro_to_usd(self.inner.remaining_micro())
    }

    /// The runbook's `run-cost.json` content (snake_case fields): `total_cost_usd`,
    /// `budget_verdict`, `violations`, `per_model`, `call_count`, …
    #[napi(ts_return_type = "RunCost")]
    pub fn finalize(&self) -> Result<Value, Code> {
        serde_json::to_value(self.inner.finalize()).map_err(crate::error::internal)
    }
}

/// The cost of one call's `usage` with `model`'s calibration prices, without tracking it (for
/// per-run cost metrics). Throws `ERR_OMEGA_UNKNOWN_MODEL` for an unpriced model.
#[napi(
    ts_args_type = "model: string, usage: TokenUsage, calibration?: CalibrationDocument | undefined | null"
)]
pub fn call_cost(
    model: String,
    usage: TokenUsage,
    calibration: Option<Value>,
) -> Result<CallCostInfo, Code> {
    let cal = crate::calibration::parse(calibration)?;
    let usage = usage.to_core()?;
    usage.validate().map_err(from_core)?;
    let price = cal.budget.models.get(&model).ok_or_else(|| {
        from_core(omega_pr_core::Error::UnknownModel {
            model: model.clone(),
        })
    })?;
    let micro = price.cost_micro(&usage);
    Ok(CallCostInfo {
        cost_usd: micro_to_usd(micro),
        cost_micro_usd: micro as f64,
        run_total_usd: micro_to_usd(micro),
    })
}

/// Combines the `run-cost.json` of the shards of one run: money, calls and tokens add up, and the
/// verdict is `FAIL` when any shard has a violation. Shards split from `calibration`'s run cap
/// (`⌊cap / n⌋` each) merge back to that cap; otherwise the shards' caps add up.
#[napi(
    ts_args_type = "parts: RunCost[], calibration?: CalibrationDocument | undefined | null",
    ts_return_type = "RunCost"
)]
pub fn merge_run_costs(parts: Vec<Value>, calibration: Option<Value>) -> Result<Value, Code> {
    let run_cap = match calibration {
        Some(c) => Some(
            crate::calibration::parse(Some(c))?
                .budget
                .max_per_run_micro_usd,
        ),
        None => None,
    };
    let parsed = parts
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            serde_json::from_value::<budget::RunCost>(v).map_err(|e| {
                crate::error::invalid(
                    &format!("parts[{i}]"),
                    format!("not a run-cost document: {e}"),
                )
            })
        })
        .collect::<Result<Vec<_>, Code>>()?;
    let merged = budget::RunCost::merge(&parsed, run_cap).map_err(from_core)?;
    serde_json::to_value(merged).map_err(crate::error::internal)
}
