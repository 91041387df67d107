//! `BudgetTracker` for JS: reserve the worst case before a call, settle the real usage after.

use napi::bindgen_prelude::{Object, Unknown};
use napi::ValueType;
use napi_derive::napi;
use omega_pr_core::budget::{self, RawCount, RawUsage, ReserveRequest, Usage};
use omega_pr_core::money::micro_to_usd;
use serde_json::Value;

use crate::error::{from_core, whole, Code};
use napi::Result;

/// Token usage of one call. `inputTokens` includes cached-read and cache-write tokens;
/// `outputTokens` includes reasoning tokens (nothing is counted twice).
/// (The TS type of usage arguments: the functions take the raw JS value, see [`raw_usage`].)
#[napi(object)]
#[allow(dead_code)]
pub struct TokenUsage {
    /// All prompt tokens.
    pub input_tokens: f64,
    /// Of which read from the provider's prompt cache.
    pub cached_input_tokens: Option<f64>,
    /// Of which written to the provider's prompt cache.
    pub cache_write_tokens: Option<f64>,
    /// Of the cache-write tokens, those written with a 1-hour TTL (the rest: 5 minutes).
    #[napi(js_name = "cacheWrite1hTokens")]
    pub cache_write_1h_tokens: Option<f64>,
    /// All completion tokens.
    pub output_tokens: f64,
    /// Of which reasoning tokens.
    pub reasoning_tokens: Option<f64>,
}

/// Reads a usage object as the provider gave it, without trusting any field: the core
/// validates it (`ERR_OMEGA_INVALID_USAGE` naming the field), so napi's own type errors
/// (`NumberExpected`) never reach a user.
pub fn raw_usage(usage: &Unknown<'_>) -> Result<RawUsage, Code> {
    let not_object = |e: napi::Error| from_core(RawUsage::unreadable(&e.reason));
    let ty = usage.get_type().map_err(not_object)?;
    if ty != ValueType::Object {
        // Still charged (at the reservation) by the core, like any untrusted usage.
        return Ok(RawUsage::not_an_object(&ty.to_string()));
    }
    // SAFETY: the value was just checked to be an object.
    let obj = unsafe { usage.cast::<Object>() }.map_err(not_object)?;
    let field = |name: &str| -> Result<RawCount, Code> {
        let v = obj.get::<Unknown>(name).map_err(not_object)?;
        let Some(v) = v else {
            return Ok(RawCount::Missing);
        };
        let ty = v.get_type().map_err(not_object)?;
        // SAFETY: each cast matches the type just read.
        Ok(match ty {
            ValueType::Undefined | ValueType::Null => RawCount::Missing,
            ValueType::Number => RawCount::Number(unsafe { v.cast::<f64>() }.map_err(not_object)?),
            ValueType::String => RawCount::Text(unsafe { v.cast::<String>() }.map_err(not_object)?),
            other => RawCount::Other(other.to_string().to_lowercase()),
        })
    };
    Ok(RawUsage {
        input_tokens: field("inputTokens")?,
        cached_input_tokens: field("cachedInputTokens")?,
        cache_write_tokens: field("cacheWriteTokens")?,
        cache_write_1h_tokens: field("cacheWrite1hTokens")?,
        output_tokens: field("outputTokens")?,
        reasoning_tokens: field("reasoningTokens")?,
    })
}

fn trusted(usage: &Unknown<'_>) -> Result<Usage, Code> {
    raw_usage(usage)?.to_usage().map_err(from_core)
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
        ts_args_type = "calibration?: Calibration | CalibrationDocument | undefined | null, options?: BudgetTrackerOptions | undefined | null"
    )]
    pub fn new(
        calibration: Option<crate::calibration::CalibrationArg>,
        options: Option<BudgetTrackerOptions>,
    ) -> Result<Self, Code> {
        let cal = crate::calibration::parse(calibration)?;
        let settings = cal
            .budget
            .for_shards(options.and_then(|o| o.shards))
            .map_err(from_core)?;
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

    /// Replaces reservation `id` with the real cost of `usage`. Usage that cannot be trusted
    /// (NaN, negative, fractional or string counts, parts above their whole) throws
    /// `ERR_OMEGA_INVALID_USAGE` naming the field; the call is then **charged at its
    /// reservation** and recorded as an `invalid_usage` violation (never $0).
    #[napi(ts_args_type = "id: number, usage: TokenUsage")]
    pub fn settle(&mut self, id: u32, usage: Unknown<'_>) -> Result<CallCostInfo, Code> {
        let raw = raw_usage(&usage)?;
        self.inner
            .settle_raw(u64::from(id), &raw)
            .map(Into::into)
            .map_err(from_core)
    }

    /// The cost of `usage` with `model`'s price (matched by name, provider prefix, alias or
    /// snapshot date), without tracking it. Throws `ERR_OMEGA_UNKNOWN_MODEL` when unpriced,
    /// `ERR_OMEGA_INVALID_USAGE` for untrusted usage.
    #[napi(ts_args_type = "model: string, usage: TokenUsage")]
    pub fn cost(&self, model: String, usage: Unknown<'_>) -> Result<CallCostInfo, Code> {
        let usage = trusted(&usage)?;
        self.inner
            .call_cost(&model, &usage)
            .map(Into::into)
            .map_err(from_core)
    }

    /// Settles reservation `id` at its full reserved amount: the call was made but its usage is
    /// unknown (e.g. a stream cut before the API reported usage). Conservative, never $0.
    #[napi]
    pub fn charge_reservation(&mut self, id: u32) -> Result<CallCostInfo, Code> {
        self.inner
            .charge_reservation(u64::from(id))
            .map(Into::into)
            .map_err(from_core)
    }

    /// Cancels reservation `id` at no cost (the call was not billed).
    #[napi]
    pub fn release(&mut self, id: u32) -> Result<(), Code> {
        self.inner.release(u64::from(id)).map_err(from_core)
    }

    /// Accounts a call made without a reservation.
    #[napi(ts_args_type = "call: RecordOptions, usage: TokenUsage")]
    pub fn record(
        &mut self,
        call: RecordOptions,
        usage: Unknown<'_>,
    ) -> Result<CallCostInfo, Code> {
        let raw = raw_usage(&usage)?;
        self.inner
            .record_raw(&call.call_id, call.scene_id, &call.model, &raw)
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

    /// The ledger entries accounted since the last call (and forgets them): one per settled,
    /// charged or refused call and per unpriced model, snake_case fields. A stress run files
    /// them with the run they belong to in its journal; {@link runCostFromLedger} sums them back.
    #[napi(ts_return_type = "BudgetLedgerEntry[]")]
    pub fn take_ledger(&mut self) -> Result<Value, Code> {
        serde_json::to_value(self.inner.take_ledger()).map_err(crate::error::internal)
    }

    /// Applies recorded ledger entries (the finished runs of an interrupted run): their money,
    /// calls and violations count again, so the caps hold for the rest of the run. They are not
    /// returned by `takeLedger()` again.
    #[napi(ts_args_type = "entries: BudgetLedgerEntry[]")]
    pub fn restore_ledger(&mut self, entries: Value) -> Result<(), Code> {
        let entries = ledger_of(entries)?;
        self.inner.restore(&entries);
        Ok(())
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
    ts_args_type = "model: string, usage: TokenUsage, calibration?: Calibration | CalibrationDocument | undefined | null"
)]
pub fn call_cost(
    model: String,
    usage: Unknown<'_>,
    calibration: Option<crate::calibration::CalibrationArg>,
) -> Result<CallCostInfo, Code> {
    let cal = crate::calibration::parse(calibration)?;
    let usage = trusted(&usage)?;
    cal.budget
        .call_cost(&model, &usage)
        .map(Into::into)
        .map_err(from_core)
}

/// Combines the `run-cost.json` of the shards of one run: money, calls and tokens add up, and the
/// verdict is `FAIL` when any shard has a violation. Shards split from `calibration`'s run cap
/// (`⌊cap / n⌋` each) merge back to that cap; otherwise the shards' caps add up.
#[napi(
    ts_args_type = "parts: RunCost[], calibration?: Calibration | CalibrationDocument | undefined | null",
    ts_return_type = "RunCost"
)]
pub fn merge_run_costs(
    parts: Vec<Value>,
    calibration: Option<crate::calibration::CalibrationArg>,
) -> Result<Value, Code> {
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

fn ledger_of(entries: Value) -> Result<Vec<budget::LedgerEntry>, Code> {
    serde_json::from_value::<Vec<budget::LedgerEntry>>(entries)
        .map_err(|e| crate::error::invalid("entries", format!("not budget ledger entries: {e}")))
}

/// Options of {@link runCostFromLedger}.
#[napi(object)]
pub struct RunCostFromLedgerOptions {
    /// The run was one shard of this many (its run cap is `max_per_run_usd / shards`); default 1.
    pub shards: Option<u32>,
}

/// The `run-cost.json` of a run from its budget ledger entries (in any order): equals the
/// `finalize()` of the tracker that accounted them. `calibration` gives the caps and prices;
/// `shards` splits the run cap as the shard's tracker did.
#[napi(
    ts_args_type = "entries: BudgetLedgerEntry[], calibration?: Calibration | CalibrationDocument | undefined | null, options?: RunCostFromLedgerOptions | undefined | null",
    ts_return_type = "RunCost"
)]
pub fn run_cost_from_ledger(
    entries: Value,
    calibration: Option<crate::calibration::CalibrationArg>,
    options: Option<RunCostFromLedgerOptions>,
) -> Result<Value, Code> {
    let cal = crate::calibration::parse(calibration)?;
    let settings = cal
        .budget
        .for_shards(options.and_then(|o| o.shards))
        .map_err(from_core)?;
    let entries = ledger_of(entries)?;
    serde_json::to_value(budget::RunCost::from_ledger(settings, &entries))
        .map_err(crate::error::internal)
}

/// How a model name matched a price.
#[napi(object)]
pub struct ModelMatchInfo {
    /// The name asked for.
    pub requested: String,
    /// The priced name it resolved to.
    pub matched: String,
    /// `exact`, `provider_prefix`, `alias`, `alias_pattern` or `dated_snapshot`.
    pub rule: String,
    /// The model's `deprecation_date` (`YYYY-MM-DD`), if any.
    pub deprecation_date: Option<String>,
}

/// Resolves `model` to its price entry in `calibration` (exact name, then without a provider
/// prefix, then an alias, then without a snapshot date, then the longest `*` alias pattern).
/// Throws `ERR_OMEGA_UNKNOWN_MODEL` when nothing matches: check it **before** any call.
#[napi(
    ts_args_type = "model: string, calibration?: Calibration | CalibrationDocument | undefined | null"
)]
pub fn resolve_model(
    model: String,
    calibration: Option<crate::calibration::CalibrationArg>,
) -> Result<ModelMatchInfo, Code> {
    let cal = crate::calibration::parse(calibration)?;
    let m = cal.budget.resolve_known(&model).map_err(from_core)?;
    Ok(ModelMatchInfo {
        requested: m.requested,
        matched: m.matched,
        rule: m.rule.to_owned(),
        deprecation_date: m.deprecation_date,
    })
}

/// What importing a LiteLLM price file gave.
#[napi(object)]
pub struct PriceImportInfo {
    /// Imported entries as calibration `budget.models` entries (LiteLLM key names, pruned).
    pub models: Value,
    /// `alias_of` entries: alias → model.
    pub aliases: Value,
    /// Entries skipped, by reason (`mode:<mode>`, `no_token_price`, `doc`).
    pub skipped: Value,
    /// Entries in the file.
    pub total_entries: u32,
    /// Entries imported.
    pub imported: u32,
    /// The pruned price file (LiteLLM format, keys sorted, deterministic).
    pub pruned_json: String,
}

/// Reads a LiteLLM `model_prices_and_context_window.json` text (`budget.prices_file`). Throws
/// `ERR_OMEGA_PRICE_FILE` naming the entry and key of a malformed price.
#[napi]
pub fn import_prices(text: String, source_name: Option<String>) -> Result<PriceImportInfo, Code> {
    let imp =
        omega_pr_core::prices::import_litellm(&text, source_name.as_deref()).map_err(from_core)?;
    let to = |v: serde_json::Result<Value>| v.map_err(crate::error::internal);
    Ok(PriceImportInfo {
        models: Value::Object(imp.entries.clone()),
        aliases: to(serde_json::to_value(&imp.aliases))?,
        skipped: to(serde_json::to_value(&imp.skipped))?,
        total_entries: u32::try_from(imp.total_entries).unwrap_or(u32::MAX),
        imported: u32::try_from(imp.models.len()).unwrap_or(u32::MAX),
        pruned_json: imp.pruned_json(),
    })
}
