//! Budget accounting in integer micro-USD.
//!
//! Before a call, [`BudgetTracker::reserve`] books the worst case (every input token at the full
//! input price plus the maximum output at the dearest output price) and refuses the call if the
//! per-call or per-run cap would be exceeded — settled money **and** open reservations count, so
//! concurrent calls cannot overspend together. After the call, [`BudgetTracker::settle`] replaces
//! the reservation with the real cost. Over budget is a `FAIL`, never a warning.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::money::{micro_to_usd, pico_to_micro_ceil};

/// Schema version of [`RunCost`].
pub const RUN_COST_SCHEMA_VERSION: &str = "OMEGA-RUN-COST-1.0";

/// The price of one model, pico-USD per token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelPrice {
    /// Uncached input tokens.
    pub input_pico: u64,
    /// Input tokens read from the provider's prompt cache.
    pub cache_read_pico: u64,
    /// Input tokens written to the provider's prompt cache (5-minute TTL, the default).
    pub cache_write_pico: u64,
    /// Output tokens.
    pub output_pico: u64,
    /// Reasoning tokens, when priced apart; otherwise they are output tokens.
    pub reasoning_pico: Option<u64>,
    /// Input tokens written to the prompt cache with a 1-hour TTL (LiteLLM
    /// `cache_creation_input_token_cost_above_1hr`); `None`: the 5-minute write price.
    pub cache_write_1h_pico: Option<u64>,
    /// Long-context tiers (`*_above_<N>k_tokens`), ascending by threshold: when the prompt
    /// exceeds a tier's threshold, that tier's rates apply to **all** tokens of the call.
    pub tiers: Vec<PriceTier>,
    /// Batch-API prices (`*_batches`), input and output, when the file gives them.
    pub batch: Option<(u64, u64)>,
    /// LiteLLM `deprecation_date` (`YYYY-MM-DD`), when the model is scheduled to retire.
    pub deprecation_date: Option<String>,
}

/// The rates of one long-context tier, pico-USD per token. A missing cache rate falls back to
/// the tier's input rate (never cheaper than LiteLLM).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PriceTier {
    /// The tier applies when the prompt has **more** than this many tokens.
    pub above_tokens: u64,
    /// Uncached input.
    pub input_pico: u64,
    /// Output.
    pub output_pico: u64,
    /// Cache reads.
    pub cache_read_pico: Option<u64>,
    /// 5-minute cache writes.
    pub cache_write_pico: Option<u64>,
    /// 1-hour cache writes.
    pub cache_write_1h_pico: Option<u64>,
    /// Reasoning output.
    pub reasoning_pico: Option<u64>,
}

/// The per-token rates that apply to one call (after choosing the tier).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rates {
    /// Uncached input.
    pub input: u64,
    /// Cache reads.
    pub cache_read: u64,
    /// 5-minute cache writes.
    pub cache_write: u64,
    /// 1-hour cache writes.
    pub cache_write_1h: u64,
    /// Output.
    pub output: u64,
    /// Reasoning output, when priced apart.
    pub reasoning: Option<u64>,
}

/// Budget limits and the price table, from calibration `budget`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetSettings {
    /// Cap of one call, µUSD.
    pub max_per_call_micro_usd: u64,
    /// Cap of the whole run, µUSD.
    pub max_per_run_micro_usd: u64,
    /// Output tokens assumed by a reservation that does not say.
    pub max_output_tokens: u64,
    /// Prices by model name.
    pub models: BTreeMap<String, ModelPrice>,
    /// Explicit aliases (calibration `budget.aliases`, LiteLLM `alias_of`): a name, or a prefix
    /// pattern ending in `*`, mapped to a priced model name.
    pub aliases: BTreeMap<String, String>,
}

/// How a requested model name was matched to a price (see [`BudgetSettings::resolve`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelMatch {
    /// The name that was asked for.
    pub requested: String,
    /// The priced name it resolved to.
    pub matched: String,
    /// `exact`, `provider_prefix`, `alias`, `alias_pattern` or `dated_snapshot`.
    pub rule: &'static str,
    /// The priced model's `deprecation_date`, if any.
    pub deprecation_date: Option<String>,
}

/// Strips a trailing snapshot date: `-2024-08-06`, `-20250219`, `@20250219`.
pub(crate) fn strip_snapshot_date(model: &str) -> Option<&str> {
    let b = model.as_bytes();
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    if b.len() > 11 {
        let (head, tail) = b.split_at(b.len() - 11);
        if tail[0] == b'-'
            && digits(&tail[1..5])
            && tail[5] == b'-'
            && digits(&tail[6..8])
            && tail[8] == b'-'
            && digits(&tail[9..11])
            && !head.is_empty()
        {
            return model.get(..model.len() - 11);
        }
    }
    if b.len() > 9 {
        let tail = &b[b.len() - 9..];
        if (tail[0] == b'-' || tail[0] == b'@') && digits(&tail[1..]) && tail[1] == b'2' {
            return model.get(..model.len() - 9);
        }
    }
    None
}

impl BudgetSettings {
    /// The cost of `usage` with `model`'s price (matched as [`BudgetSettings::resolve`] does),
    /// µUSD. [`Error::UnknownModel`] when unpriced; the usage is validated first.
    pub fn cost(&self, model: &str, usage: &Usage) -> Result<u64> {
        usage.validate()?;
        let (price, _) = self.resolve(model).ok_or_else(|| Error::UnknownModel {
            model: model.into(),
        })?;
        Ok(price.cost_micro(usage))
    }

    fn lookup_plain(&self, name: &str) -> Option<(String, &'static str)> {
        if self.models.contains_key(name) {
            return Some((name.to_owned(), "exact"));
        }
        // Provider-prefixed: `anthropic/claude-…`, `openrouter/openai/gpt-…` → the rest.
        let mut rest = name;
        while let Some((_, tail)) = rest.split_once('/') {
            if self.models.contains_key(tail) {
                return Some((tail.to_owned(), "provider_prefix"));
            }
            rest = tail;
        }
        if let Some(target) = self.aliases.get(name) {
            if self.models.contains_key(target) {
                return Some((target.clone(), "alias"));
            }
        }
        None
    }

    /// Finds the price of `model`. Matching, first hit wins: the exact name; the name without a
    /// provider prefix (`anthropic/claude-x` → `claude-x`, each `/` from the left); an explicit
    /// alias; the same three for the name without a snapshot date (`gpt-4o-2024-08-06` →
    /// `gpt-4o`, only when the dated name is not itself priced); finally alias patterns ending in
    /// `*` (prefix match; the longest pattern wins). `None` when nothing matches.
    pub fn resolve(&self, model: &str) -> Option<(&ModelPrice, ModelMatch)> {
        let found = self.lookup_plain(model).or_else(|| {
            strip_snapshot_date(model)
                .and_then(|base| self.lookup_plain(base))
                .map(|(m, _)| (m, "dated_snapshot"))
        });
        let found = found.or_else(|| {
            self.aliases
                .iter()
                .filter_map(|(pat, target)| {
                    let prefix = pat.strip_suffix('*')?;
                    (model.starts_with(prefix) && self.models.contains_key(target))
                        .then_some((prefix.len(), target))
                })
                .max_by_key(|(len, _)| *len)
                .map(|(_, t)| (t.clone(), "alias_pattern"))
        });
        let (matched, rule) = found?;
        let price = self.models.get(&matched)?;
        Some((
            price,
            ModelMatch {
                requested: model.to_owned(),
                matched,
                rule,
                deprecation_date: price.deprecation_date.clone(),
            },
        ))
    }

    /// The cost of `usage` with `model`'s price as a [`CallCost`] of a call tracked alone (its
    /// run total is its own cost): what `callCost` returns. Errors as [`BudgetSettings::cost`].
    pub fn call_cost(&self, model: &str, usage: &Usage) -> Result<CallCost> {
        let micro = self.cost(model, usage)?;
        Ok(CallCost {
            cost_micro_usd: micro,
            cost_usd: micro_to_usd(micro),
            run_total_micro_usd: micro,
        })
    }

    /// [`BudgetSettings::resolve`]'s match of `model`, [`Error::UnknownModel`] when nothing
    /// matches (what `resolveModel` throws: check a model before any call).
    pub fn resolve_known(&self, model: &str) -> Result<ModelMatch> {
        self.resolve(model)
            .map(|(_, m)| m)
            .ok_or_else(|| Error::UnknownModel {
                model: model.to_owned(),
            })
    }

    /// The budget of one shard when the run is split `shards` ways (`None`: not split, one
    /// shard): [`BudgetSettings::split`] with the default of 1.
    pub fn for_shards(&self, shards: Option<u32>) -> Result<Self> {
        self.split(u64::from(shards.unwrap_or(1)))
    }

    /// The same settings with both caps divided by `n` (rounded down): the budget of one shard of
    /// a run split `n` ways.
    pub fn split(&self, n: u64) -> Result<Self> {
        if n == 0 {
            return Err(Error::invalid("shards", "must be ≥ 1"));
        }
        Ok(Self {
            max_per_run_micro_usd: self.max_per_run_micro_usd / n,
            ..self.clone()
        })
    }
}

/// Token usage of one call. Follows the OpenAI convention: `input_tokens` **includes** the
/// cached-read and cache-write tokens, `output_tokens` **includes** the reasoning tokens, so
/// nothing is counted twice.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Usage {
    /// All prompt tokens.
    pub input_tokens: u64,
    /// Of which read from the prompt cache.
    pub cached_input_tokens: u64,
    /// Of which written to the prompt cache.
    pub cache_write_tokens: u64,
    /// Of the cache-write tokens, those written with a 1-hour TTL (Anthropic
    /// `cache_creation.ephemeral_1h_input_tokens`); the rest are 5-minute writes.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cache_write_1h_tokens: u64,
    /// All completion tokens.
    pub output_tokens: u64,
    /// Of which reasoning tokens.
    pub reasoning_tokens: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One token count as a provider reported it, before it is trusted.
#[derive(Debug, Clone, PartialEq)]
pub enum RawCount {
    /// Absent (`undefined` / `null`).
    Missing,
    /// A number (possibly NaN, negative, fractional, huge).
    Number(f64),
    /// A string (`"12"` is still refused: a provider that sends text is not trusted).
    Text(String),
    /// Any other type, by name (`boolean`, `object`, …).
    Other(String),
}

/// Token usage as reported, field by field (JS names), validated by [`RawUsage::to_usage`].
#[derive(Debug, Clone, PartialEq)]
pub struct RawUsage {
    /// `inputTokens` (required).
    pub input_tokens: RawCount,
    /// `cachedInputTokens`.
    pub cached_input_tokens: RawCount,
    /// `cacheWriteTokens`.
    pub cache_write_tokens: RawCount,
    /// `cacheWrite1hTokens`.
    pub cache_write_1h_tokens: RawCount,
    /// `outputTokens` (required).
    pub output_tokens: RawCount,
    /// `reasoningTokens`.
    pub reasoning_tokens: RawCount,
}

impl Default for RawUsage {
    fn default() -> Self {
        Self {
            input_tokens: RawCount::Missing,
            cached_input_tokens: RawCount::Missing,
            cache_write_tokens: RawCount::Missing,
            cache_write_1h_tokens: RawCount::Missing,
            output_tokens: RawCount::Missing,
            reasoning_tokens: RawCount::Missing,
        }
    }
}

/// The largest token count accepted (2^53 − 1, the largest integer a JS number holds exactly).
pub const MAX_TOKENS: f64 = crate::numbers::MAX_SAFE_INTEGER as f64;

fn count(field: &str, raw: &RawCount, required: bool) -> Result<u64> {
    let bad = |message: String| Error::InvalidUsage {
        field: format!("usage.{field}"),
        message,
    };
    match raw {
        RawCount::Missing if required => Err(bad("is missing".into())),
        RawCount::Missing => Ok(0),
        RawCount::Text(t) => Err(bad(format!(
            "must be a number of tokens, got the string {t:?}"
        ))),
        RawCount::Other(kind) => Err(bad(format!("must be a number of tokens, got {kind}"))),
        RawCount::Number(n) if n.is_nan() => {
            Err(bad("must be a finite number of tokens, got NaN".into()))
        }
        RawCount::Number(n) if !n.is_finite() => Err(bad(format!("must be finite, got {n}"))),
        RawCount::Number(n) if *n < 0.0 => Err(bad(format!("must not be negative, got {n}"))),
        RawCount::Number(n) if n.fract() != 0.0 => {
            Err(bad(format!("must be a whole number of tokens, got {n}")))
        }
        RawCount::Number(n) if *n > MAX_TOKENS => Err(bad(format!("is too large, got {n}"))),
        RawCount::Number(n) => Ok(*n as u64),
    }
}

impl RawUsage {
    /// The usage reported as a value of type `type_name` (`Undefined`, `String`, …; any case)
    /// instead of a usage object: the call is still charged (at its reservation, like any usage
    /// not trusted), and [`RawUsage::to_usage`] refuses it naming `usage.inputTokens` ("… got
    /// undefined instead of a usage object").
    pub fn not_an_object(type_name: &str) -> Self {
        Self {
            input_tokens: RawCount::Other(format!(
                "{} instead of a usage object",
                type_name.to_lowercase()
            )),
            ..Self::default()
        }
    }

    /// The error of a usage object whose fields could not be read at all (`reason`, e.g. a
    /// throwing getter): [`Error::InvalidUsage`] naming `usage`.
    pub fn unreadable(reason: &str) -> Error {
        Error::InvalidUsage {
            field: "usage".into(),
            message: format!("must be an object of token counts, got {reason}"),
        }
    }

    /// The trusted usage, or [`Error::InvalidUsage`] naming the first bad field.
    pub fn to_usage(&self) -> Result<Usage> {
        let u = Usage {
            input_tokens: count("inputTokens", &self.input_tokens, true)?,
            cached_input_tokens: count("cachedInputTokens", &self.cached_input_tokens, false)?,
            cache_write_tokens: count("cacheWriteTokens", &self.cache_write_tokens, false)?,
            cache_write_1h_tokens: count("cacheWrite1hTokens", &self.cache_write_1h_tokens, false)?,
            output_tokens: count("outputTokens", &self.output_tokens, true)?,
            reasoning_tokens: count("reasoningTokens", &self.reasoning_tokens, false)?,
        };
        u.validate()?;
        Ok(u)
    }
}

impl From<&Usage> for RawUsage {
    fn from(u: &Usage) -> Self {
        let n = |v: u64| RawCount::Number(v as f64);
        Self {
            input_tokens: n(u.input_tokens),
            cached_input_tokens: n(u.cached_input_tokens),
            cache_write_tokens: n(u.cache_write_tokens),
            cache_write_1h_tokens: n(u.cache_write_1h_tokens),
            output_tokens: n(u.output_tokens),
            reasoning_tokens: n(u.reasoning_tokens),
        }
    }
}

impl Usage {
    /// Checks the parts fit in their wholes ([`Error::InvalidUsage`] otherwise).
    pub fn validate(&self) -> Result<()> {
        let cached = self
            .cached_input_tokens
            .checked_add(self.cache_write_tokens);
        if cached.is_none_or(|c| c > self.input_tokens) {
            return Err(Error::InvalidUsage {
                field: "usage.cachedInputTokens".into(),
                message: format!(
                    "cached ({}) + cache-write ({}) tokens exceed input tokens ({}); input tokens include cached ones",
                    self.cached_input_tokens, self.cache_write_tokens, self.input_tokens
                ),
            });
        }
        if self.cache_write_1h_tokens > self.cache_write_tokens {
            return Err(Error::InvalidUsage {
                field: "usage.cacheWrite1hTokens".into(),
                message: format!(
                    "1-hour cache-write tokens ({}) exceed cache-write tokens ({}); cache-write tokens include them",
                    self.cache_write_1h_tokens, self.cache_write_tokens
                ),
            });
        }
        if self.reasoning_tokens > self.output_tokens {
            return Err(Error::InvalidUsage {
                field: "usage.reasoningTokens".into(),
                message: format!(
                    "reasoning tokens ({}) exceed output tokens ({}); output tokens include reasoning ones",
                    self.reasoning_tokens, self.output_tokens
                ),
            });
        }
        Ok(())
    }

    fn add(&mut self, other: &Usage) {
        self.input_tokens = self.input_tokens.saturating_add(other.input_tokens);
        self.cached_input_tokens = self
            .cached_input_tokens
            .saturating_add(other.cached_input_tokens);
        self.cache_write_tokens = self
            .cache_write_tokens
            .saturating_add(other.cache_write_tokens);
        self.cache_write_1h_tokens = self
            .cache_write_1h_tokens
            .saturating_add(other.cache_write_1h_tokens);
        self.output_tokens = self.output_tokens.saturating_add(other.output_tokens);
        self.reasoning_tokens = self.reasoning_tokens.saturating_add(other.reasoning_tokens);
    }
}

impl ModelPrice {
    /// A flat price (no tiers, no 1-hour or batch prices).
    pub fn flat(input: u64, cache_read: u64, cache_write: u64, output: u64) -> Self {
        Self {
            input_pico: input,
            cache_read_pico: cache_read,
            cache_write_pico: cache_write,
            output_pico: output,
            ..Default::default()
        }
    }

    /// The rates for a call whose prompt has `prompt_tokens` tokens: the base rates, or those
    /// of the highest tier whose threshold the prompt **exceeds** (LiteLLM's rule: then the
    /// tier's rates apply to all tokens).
    pub fn rates(&self, prompt_tokens: u64) -> Rates {
        let base = Rates {
            input: self.input_pico,
            cache_read: self.cache_read_pico,
            cache_write: self.cache_write_pico,
            cache_write_1h: self.cache_write_1h_pico.unwrap_or(self.cache_write_pico),
            output: self.output_pico,
            reasoning: self.reasoning_pico,
        };
        match self
            .tiers
            .iter()
            .rev()
            .find(|t| prompt_tokens > t.above_tokens)
        {
            None => base,
            Some(t) => {
                let write = t.cache_write_pico.unwrap_or(t.input_pico);
                Rates {
                    input: t.input_pico,
                    cache_read: t.cache_read_pico.unwrap_or(t.input_pico),
                    cache_write: write,
                    cache_write_1h: t
                        .cache_write_1h_pico
                        .unwrap_or(write.max(base.cache_write_1h)),
                    output: t.output_pico,
                    reasoning: t
                        .reasoning_pico
                        .or(self.reasoning_pico.map(|_| t.output_pico)),
                }
            }
        }
    }

    /// Exact cost of `usage` in pico-USD.
    pub fn cost_pico(&self, usage: &Usage) -> u128 {
        let r = self.rates(usage.input_tokens);
        let plain_input = usage
            .input_tokens
            .saturating_sub(usage.cached_input_tokens)
            .saturating_sub(usage.cache_write_tokens);
        let write_1h = usage.cache_write_1h_tokens.min(usage.cache_write_tokens);
        let write_5m = usage.cache_write_tokens - write_1h;
        let (plain_output, reasoning, reasoning_price) = match r.reasoning {
            Some(price) => (
                usage.output_tokens.saturating_sub(usage.reasoning_tokens),
                usage.reasoning_tokens,
                price,
            ),
            None => (usage.output_tokens, 0, 0),
        };
        u128::from(plain_input) * u128::from(r.input)
            + u128::from(usage.cached_input_tokens) * u128::from(r.cache_read)
            + u128::from(write_5m) * u128::from(r.cache_write)
            + u128::from(write_1h) * u128::from(r.cache_write_1h)
            + u128::from(plain_output) * u128::from(r.output)
            + u128::from(reasoning) * u128::from(reasoning_price)
    }

    /// Cost of `usage` in whole micro-USD, rounded up.
    pub fn cost_micro(&self, usage: &Usage) -> u64 {
        pico_to_micro_ceil(self.cost_pico(usage))
    }

    /// Cost of `usage` at Batch-API prices (`*_batches`), µUSD rounded up; `None` when the
    /// model has no batch price.
    pub fn batch_cost_micro(&self, usage: &Usage) -> Option<u64> {
        let (input, output) = self.batch?;
        Some(pico_to_micro_ceil(
            u128::from(usage.input_tokens) * u128::from(input)
                + u128::from(usage.output_tokens) * u128::from(output),
        ))
    }

    /// Worst-case cost of a call: all input at the full input price, all output at the dearer
    /// of the output and reasoning prices, at the tier the prompt size selects.
    pub fn worst_case_micro(&self, input_tokens: u64, max_output_tokens: u64) -> u64 {
        let r = self.rates(input_tokens);
        let in_price = r.input;
        let out_price = r.output.max(r.reasoning.unwrap_or(0));
        pico_to_micro_ceil(
            u128::from(input_tokens) * u128::from(in_price)
                + u128::from(max_output_tokens) * u128::from(out_price),
        )
    }
}

/// What a caller asks to reserve before a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReserveRequest {
    /// Id of the call (unique within the run, for reports).
    pub call_id: String,
    /// Scene the call belongs to, if any.
    pub scene_id: Option<String>,
    /// Model name, priced in calibration.
    pub model: String,
    /// Prompt tokens (all of them).
    pub input_tokens: u64,
    /// Cap of completion tokens; `None` uses calibration `budget.max_output_tokens`.
    pub max_output_tokens: Option<u64>,
}

/// A granted reservation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reservation {
    /// Id to settle or release it with.
    pub id: u64,
    /// Money booked, µUSD.
    pub reserved_micro_usd: u64,
}

/// One budget violation. Any violation makes the verdict `FAIL`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "schema",
    schemars(rename = "BudgetViolation", deny_unknown_fields)
)]
pub struct Violation {
    /// `per_call`, `per_run`, `unpriced_model` or `invalid_usage` (untrusted usage, charged
    /// at the reservation).
    #[cfg_attr(feature = "schema", schemars(extend("enum" = ["per_call", "per_run", "unpriced_model", "invalid_usage"])))]
    pub kind: String,
    /// `reserve` (the call was refused before it was made) or `settle` (it was made and cost more).
    #[cfg_attr(feature = "schema", schemars(extend("enum" = ["reserve", "settle"])))]
    pub phase: String,
    /// Call id.
    pub call_id: String,
    /// Scene id, if any.
    pub scene_id: Option<String>,
    /// Model name.
    pub model: String,
    /// The amount that broke the limit, USD.
    #[cfg_attr(feature = "schema", schemars(range(min = 0)))]
    pub amount_usd: f64,
    /// The limit, USD.
    #[cfg_attr(feature = "schema", schemars(range(min = 0)))]
    pub limit_usd: f64,
}

/// Totals per model in [`RunCost`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "schema",
    schemars(rename = "ModelCostTotals", deny_unknown_fields)
)]
pub struct ModelTotals {
    /// Calls settled.
    pub calls: u64,
    /// Summed usage.
    #[serde(flatten)]
    pub usage: Usage,
    /// Cost, USD.
    #[cfg_attr(feature = "schema", schemars(range(min = 0)))]
    pub cost_usd: f64,
    /// Cost, µUSD.
    pub cost_micro_usd: u64,
}

/// `run-cost.json` (runbook phase 3, gate PR-G2): the budget tracker's final account
/// (`BudgetTracker.finalize`, or `mergeRunCosts` of shards). Money: USD with µUSD twins; any
/// violation makes `budget_verdict` `FAIL`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct RunCost {
    /// Always `OMEGA-RUN-COST-1.0` ([`RUN_COST_SCHEMA_VERSION`]).
    #[cfg_attr(feature = "schema", schemars(extend("const" = RUN_COST_SCHEMA_VERSION)))]
    pub schema_version: String,
    /// Total settled cost, USD.
    #[cfg_attr(feature = "schema", schemars(range(min = 0)))]
    pub total_cost_usd: f64,
    /// Total settled cost, µUSD.
    pub total_cost_micro_usd: u64,
    /// `PASS`, or `FAIL` when there is any violation.
    #[cfg_attr(feature = "schema", schemars(extend("enum" = ["PASS", "FAIL"])))]
    pub budget_verdict: String,
    /// Every violation, by call id in natural order (independent of completion order).
    pub violations: Vec<Violation>,
    /// Calls settled.
    pub call_count: u64,
    /// Calls refused at reservation.
    pub refused_calls: u64,
    /// Reservations neither settled nor released.
    pub open_reservations: u64,
    /// Per-call cap, USD.
    #[cfg_attr(feature = "schema", schemars(range(min = 0)))]
    pub max_per_call_usd: f64,
    /// Per-run cap, USD.
    #[cfg_attr(feature = "schema", schemars(range(min = 0)))]
    pub max_per_run_usd: f64,
    /// Totals by model.
    pub per_model: BTreeMap<String, ModelTotals>,
}

/// The result of settling one call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallCost {
    /// Real cost, µUSD.
    pub cost_micro_usd: u64,
    /// Real cost, USD.
    pub cost_usd: f64,
    /// Total settled in the run so far, µUSD.
    pub run_total_micro_usd: u64,
}

/// What one [`LedgerEntry`] accounted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum LedgerKind {
    /// A call settled at the real cost of its usage ([`BudgetTracker::settle`], [`BudgetTracker::record`]).
    Settled,
    /// A call charged at its reservation, usage unknown ([`BudgetTracker::charge_reservation`]).
    Charged,
    /// A call whose usage could not be trusted, charged at its reservation (an `invalid_usage` violation).
    Untrusted,
    /// A reservation refused (a `per_call` / `per_run` violation; the call was not made).
    Refused,
    /// A model without a price (an `unpriced_model` violation; nothing charged).
    Unpriced,
}

/// One accounted event of a [`BudgetTracker`]: what [`BudgetTracker::finalize`] sums. A run's
/// ledger (the entries of all its calls, in any order) gives its `run-cost.json` back through
/// [`RunCost::from_ledger`], so a run journal can hold the money of each run and a resumed or
/// merged run re-derives the same document. Reservations and releases are not entries: they
/// move no money.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "schema",
    schemars(rename = "BudgetLedgerEntry", deny_unknown_fields)
)]
pub struct LedgerEntry {
    /// What was accounted.
    pub kind: LedgerKind,
    /// Call id (`call-<index>#<attempt>` in a stress run).
    pub call_id: String,
    /// Scene id, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scene_id: Option<String>,
    /// The model the money is booked to.
    pub model: String,
    /// The usage settled (kind `settled` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Money charged, µUSD (0 for `refused` / `unpriced`).
    pub cost_micro_usd: u64,
    /// The violations this event recorded (a settle past the run cap records the cap it broke
    /// with the total at that moment).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub violations: Vec<Violation>,
}

#[derive(Debug, Clone)]
struct Open {
    request: ReserveRequest,
    micro: u64,
}

/// Tracks the money of one run.
#[derive(Debug, Clone)]
pub struct BudgetTracker {
    settings: BudgetSettings,
    next_id: u64,
    open: BTreeMap<u64, Open>,
    reserved_micro: u64,
    settled_micro: u64,
    per_model: BTreeMap<String, ModelTotals>,
    violations: Vec<Violation>,
    call_count: u64,
    refused: u64,
    /// Entries accounted since the last [`BudgetTracker::take_ledger`].
    ledger: Vec<LedgerEntry>,
}

impl BudgetTracker {
    /// A tracker with nothing spent.
    pub fn new(settings: BudgetSettings) -> Self {
        Self {
            settings,
            next_id: 1,
            open: BTreeMap::new(),
            reserved_micro: 0,
            settled_micro: 0,
            per_model: BTreeMap::new(),
            violations: Vec::new(),
            call_count: 0,
            refused: 0,
            ledger: Vec::new(),
        }
    }

    /// The ledger entries accounted since the last call (and forgets them): the caller files
    /// them with the run they belong to.
    pub fn take_ledger(&mut self) -> Vec<LedgerEntry> {
        std::mem::take(&mut self.ledger)
    }

    /// Applies recorded ledger entries (of the finished runs of an interrupted run) as if their
    /// calls had just been accounted: the money spent, the calls, the violations. The caps then
    /// hold for what is left. The entries are not queued for [`BudgetTracker::take_ledger`]
    /// again.
    pub fn restore(&mut self, entries: &[LedgerEntry]) {
        for e in entries {
            self.apply(e);
        }
    }

    fn apply(&mut self, e: &LedgerEntry) {
        match e.kind {
            LedgerKind::Settled | LedgerKind::Charged | LedgerKind::Untrusted => {
                self.settled_micro = self.settled_micro.saturating_add(e.cost_micro_usd);
                self.call_count += 1;
                let totals = self.per_model.entry(e.model.clone()).or_default();
                totals.calls += 1;
                if let Some(u) = &e.usage {
                    totals.usage.add(u);
                }
                totals.cost_micro_usd = totals.cost_micro_usd.saturating_add(e.cost_micro_usd);
                totals.cost_usd = micro_to_usd(totals.cost_micro_usd);
            }
            LedgerKind::Refused => self.refused += 1,
            LedgerKind::Unpriced => {}
        }
        self.violations.extend(e.violations.iter().cloned());
    }

    /// Applies `e` and queues it for [`BudgetTracker::take_ledger`].
    fn book(&mut self, e: LedgerEntry) {
        self.apply(&e);
        self.ledger.push(e);
    }

    /// Money settled so far, µUSD.
    pub fn spent_micro(&self) -> u64 {
        self.settled_micro
    }

    /// Money booked by open reservations, µUSD.
    pub fn reserved_micro(&self) -> u64 {
        self.reserved_micro
    }

    /// Money still free under the run cap, µUSD.
    pub fn remaining_micro(&self) -> u64 {
        self.settings
            .max_per_run_micro_usd
            .saturating_sub(self.settled_micro.saturating_add(self.reserved_micro))
    }

    fn price(
        &mut self,
        model: &str,
        call_id: &str,
        scene_id: &Option<String>,
        phase: &str,
    ) -> Result<ModelPrice> {
        match self.settings.resolve(model) {
            Some((p, _)) => Ok(p.clone()),
            None => {
                self.book(LedgerEntry {
                    kind: LedgerKind::Unpriced,
                    call_id: call_id.into(),
                    scene_id: scene_id.clone(),
                    model: model.into(),
                    usage: None,
                    cost_micro_usd: 0,
                    violations: vec![Violation {
                        kind: "unpriced_model".into(),
                        phase: phase.into(),
                        call_id: call_id.into(),
                        scene_id: scene_id.clone(),
                        model: model.into(),
                        amount_usd: 0.0,
                        limit_usd: 0.0,
                    }],
                });
                Err(Error::UnknownModel {
                    model: model.into(),
                })
            }
        }
    }

    fn refuse(&mut self, kind: &str, req: &ReserveRequest, amount: u64, limit: u64) -> Error {
        self.book(LedgerEntry {
            kind: LedgerKind::Refused,
            call_id: req.call_id.clone(),
            scene_id: req.scene_id.clone(),
            model: req.model.clone(),
            usage: None,
            cost_micro_usd: 0,
            violations: vec![Violation {
                kind: kind.into(),
                phase: "reserve".into(),
                call_id: req.call_id.clone(),
                scene_id: req.scene_id.clone(),
                model: req.model.clone(),
                amount_usd: micro_to_usd(amount),
                limit_usd: micro_to_usd(limit),
            }],
        });
        Error::BudgetExceeded {
            kind: kind.into(),
            call: describe_call(&req.call_id, &req.scene_id),
            amount_usd: micro_to_usd(amount),
            limit_usd: micro_to_usd(limit),
            committed_usd: micro_to_usd(self.settled_micro.saturating_add(self.reserved_micro)),
        }
    }

    /// Books the worst case of a call, or refuses it with [`Error::BudgetExceeded`] (and records
    /// the refusal as a violation).
    pub fn reserve(&mut self, req: ReserveRequest) -> Result<Reservation> {
        let price = self.price(&req.model, &req.call_id, &req.scene_id, "reserve")?;
        let max_output = req
            .max_output_tokens
            .unwrap_or(self.settings.max_output_tokens);
        let worst = price.worst_case_micro(req.input_tokens, max_output);
        if worst > self.settings.max_per_call_micro_usd {
            return Err(self.refuse(
                "per_call",
                &req,
                worst,
                self.settings.max_per_call_micro_usd,
            ));
        }
        let committed = self.settled_micro.saturating_add(self.reserved_micro);
        if committed.saturating_add(worst) > self.settings.max_per_run_micro_usd {
            return Err(self.refuse(
                "per_run",
                &req,
                committed.saturating_add(worst),
                self.settings.max_per_run_micro_usd,
            ));
        }
        let id = self.next_id;
        self.next_id += 1;
        self.reserved_micro += worst;
        self.open.insert(
            id,
            Open {
                request: req,
                micro: worst,
            },
        );
        Ok(Reservation {
            id,
            reserved_micro_usd: worst,
        })
    }

    /// Replaces reservation `id` with the real cost of `usage`.
    pub fn settle(&mut self, id: u64, usage: &Usage) -> Result<CallCost> {
        usage.validate()?;
        let open = self
            .open
            .remove(&id)
            .ok_or(Error::UnknownReservation { id })?;
        self.reserved_micro = self.reserved_micro.saturating_sub(open.micro);
        let r = open.request;
        self.account(&r.call_id, &r.scene_id, &r.model, usage)
    }

    /// Settles reservation `id` with usage as the provider reported it. Usage that cannot be
    /// trusted (NaN, negative, fractional, a string, parts larger than their whole) is **charged
    /// at the reservation** — never forgiven — recorded as an `invalid_usage` violation, and
    /// returned as [`Error::InvalidUsage`] naming the field.
    pub fn settle_raw(&mut self, id: u64, raw: &RawUsage) -> Result<CallCost> {
        match raw.to_usage() {
            Ok(usage) => self.settle(id, &usage),
            Err(err) => {
                let open = self
                    .open
                    .remove(&id)
                    .ok_or(Error::UnknownReservation { id })?;
                self.reserved_micro = self.reserved_micro.saturating_sub(open.micro);
                let r = open.request;
                self.charge_untrusted(&r.call_id, &r.scene_id, &r.model, open.micro);
                Err(err)
            }
        }
    }

    /// Settles reservation `id` at its full reserved amount: the call was made but its usage is
    /// unknown (a stream cut before the API reported usage). Conservative, never $0; not a
    /// violation.
    pub fn charge_reservation(&mut self, id: u64) -> Result<CallCost> {
        let open = self
            .open
            .remove(&id)
            .ok_or(Error::UnknownReservation { id })?;
        self.reserved_micro = self.reserved_micro.saturating_sub(open.micro);
        self.book(LedgerEntry {
            kind: LedgerKind::Charged,
            call_id: open.request.call_id,
            scene_id: open.request.scene_id,
            model: open.request.model,
            usage: None,
            cost_micro_usd: open.micro,
            violations: Vec::new(),
        });
        Ok(CallCost {
            cost_micro_usd: open.micro,
            cost_usd: micro_to_usd(open.micro),
            run_total_micro_usd: self.settled_micro,
        })
    }

    /// Accounts a call made without a reservation, with usage as reported; untrusted usage is
    /// an `invalid_usage` violation and [`Error::InvalidUsage`] (nothing to charge it at).
    pub fn record_raw(
        &mut self,
        call_id: &str,
        scene_id: Option<String>,
        model: &str,
        raw: &RawUsage,
    ) -> Result<CallCost> {
        match raw.to_usage() {
            Ok(usage) => self.record(call_id, scene_id, model, &usage),
            Err(err) => {
                self.charge_untrusted(call_id, &scene_id, model, 0);
                Err(err)
            }
        }
    }

    fn charge_untrusted(
        &mut self,
        call_id: &str,
        scene_id: &Option<String>,
        model: &str,
        micro: u64,
    ) {
        self.book(LedgerEntry {
            kind: LedgerKind::Untrusted,
            call_id: call_id.into(),
            scene_id: scene_id.clone(),
            model: model.into(),
            usage: None,
            cost_micro_usd: micro,
            violations: vec![Violation {
                kind: "invalid_usage".into(),
                phase: "settle".into(),
                call_id: call_id.into(),
                scene_id: scene_id.clone(),
                model: model.into(),
                amount_usd: micro_to_usd(micro),
                limit_usd: 0.0,
            }],
        });
    }

    /// The cost of `usage` with `model`'s price (matched as [`BudgetSettings::resolve`] does),
    /// without tracking it. [`Error::UnknownModel`] when unpriced.
    pub fn cost(&self, model: &str, usage: &Usage) -> Result<u64> {
        self.settings.cost(model, usage)
    }

    /// The cost of `usage` with `model`'s price as a [`CallCost`], without tracking it; its run
    /// total is the money settled so far. Errors as [`BudgetSettings::cost`].
    pub fn call_cost(&self, model: &str, usage: &Usage) -> Result<CallCost> {
        let micro = self.settings.cost(model, usage)?;
        Ok(CallCost {
            cost_micro_usd: micro,
            cost_usd: micro_to_usd(micro),
            run_total_micro_usd: self.settled_micro,
        })
    }

    /// The budget settings (limits, prices, aliases).
    pub fn settings(&self) -> &BudgetSettings {
        &self.settings
    }

    /// Cancels reservation `id` without cost (the call was never answered and is not billed).
    pub fn release(&mut self, id: u64) -> Result<()> {
        let open = self
            .open
            .remove(&id)
            .ok_or(Error::UnknownReservation { id })?;
        self.reserved_micro = self.reserved_micro.saturating_sub(open.micro);
        Ok(())
    }

    /// Accounts a call that was made without a reservation.
    pub fn record(
        &mut self,
        call_id: &str,
        scene_id: Option<String>,
        model: &str,
        usage: &Usage,
    ) -> Result<CallCost> {
        usage.validate()?;
        self.account(call_id, &scene_id, model, usage)
    }

    fn account(
        &mut self,
        call_id: &str,
        scene_id: &Option<String>,
        model: &str,
        usage: &Usage,
    ) -> Result<CallCost> {
        let price = self.price(model, call_id, scene_id, "settle")?;
        let cost = price.cost_micro(usage);
        let total = self.settled_micro.saturating_add(cost);
        let violation = |kind: &str, amount: u64, limit: u64| Violation {
            kind: kind.into(),
            phase: "settle".into(),
            call_id: call_id.into(),
            scene_id: scene_id.clone(),
            model: model.into(),
            amount_usd: micro_to_usd(amount),
            limit_usd: micro_to_usd(limit),
        };
        let mut violations = Vec::new();
        if cost > self.settings.max_per_call_micro_usd {
            violations.push(violation(
                "per_call",
                cost,
                self.settings.max_per_call_micro_usd,
            ));
        }
        if total > self.settings.max_per_run_micro_usd {
            violations.push(violation(
                "per_run",
                total,
                self.settings.max_per_run_micro_usd,
            ));
        }
        self.book(LedgerEntry {
            kind: LedgerKind::Settled,
            call_id: call_id.into(),
            scene_id: scene_id.clone(),
            model: model.into(),
            usage: Some(*usage),
            cost_micro_usd: cost,
            violations,
        });
        Ok(CallCost {
            cost_micro_usd: cost,
            cost_usd: micro_to_usd(cost),
            run_total_micro_usd: self.settled_micro,
        })
    }

    /// The `run-cost.json` content of the run so far.
    pub fn finalize(&self) -> RunCost {
        RunCost {
            schema_version: RUN_COST_SCHEMA_VERSION.to_owned(),
            total_cost_usd: micro_to_usd(self.settled_micro),
            total_cost_micro_usd: self.settled_micro,
            budget_verdict: verdict(&self.violations).to_owned(),
            violations: sorted_violations(self.violations.clone()),
            call_count: self.call_count,
            refused_calls: self.refused,
            open_reservations: self.open.len() as u64,
            max_per_call_usd: micro_to_usd(self.settings.max_per_call_micro_usd),
            max_per_run_usd: micro_to_usd(self.settings.max_per_run_micro_usd),
            per_model: self.per_model.clone(),
        }
    }
}

/// Violations in a fixed order — by call id in natural order (`call-2` before `call-10`), then
/// phase and kind — so that a report does not depend on the order concurrent calls finished in,
/// and shards merge into exactly the single run's list.
fn sorted_violations(mut v: Vec<Violation>) -> Vec<Violation> {
    v.sort_by(|a, b| {
        natural_cmp(&a.call_id, &b.call_id)
            .then_with(|| a.phase.cmp(&b.phase))
            .then_with(|| a.kind.cmp(&b.kind))
    });
    v
}

/// Compares strings treating runs of ASCII digits as numbers (`a2` < `a10`).
fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let (mut x, mut y) = (a.as_bytes(), b.as_bytes());
    loop {
        match (x.first(), y.first()) {
            (None, None) => return std::cmp::Ordering::Equal,
            (None, Some(_)) => return std::cmp::Ordering::Less,
            (Some(_), None) => return std::cmp::Ordering::Greater,
            (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                let i = x.iter().take_while(|c| c.is_ascii_digit()).count();
                let j = y.iter().take_while(|c| c.is_ascii_digit()).count();
                let (na, nb) = (trim_zeros(&x[..i]), trim_zeros(&y[..j]));
                let ord = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
                if ord != std::cmp::Ordering::Equal {
                    return ord;
                }
                x = &x[i..];
                y = &y[j..];
            }
            (Some(c), Some(d)) => {
                if c != d {
                    return c.cmp(d);
                }
                x = &x[1..];
                y = &y[1..];
            }
        }
    }
}

fn trim_zeros(digits: &[u8]) -> &[u8] {
    let zeros = digits.iter().take_while(|&&c| c == b'0').count();
    &digits[zeros..]
}

fn verdict(violations: &[Violation]) -> &'static str {
    if violations.is_empty() {
        "PASS"
    } else {
        "FAIL"
    }
}

impl RunCost {
    /// The `run-cost.json` of the calls whose ledger entries are `entries` (in any order: the
    /// violations are sorted, the sums commute), under `settings` (the run's caps and prices; a
    /// shard's split caps for one shard, the whole run's for merged shards). Equals
    /// [`BudgetTracker::finalize`] of the tracker that accounted them, with no reservation open.
    pub fn from_ledger(settings: BudgetSettings, entries: &[LedgerEntry]) -> RunCost {
        let mut t = BudgetTracker::new(settings);
        t.restore(entries);
        t.finalize()
    }

    /// Combines the run costs of the shards of one run (`stress --shard i/n` then `stress merge`):
    /// money, calls and tokens add up, and the verdict is `FAIL` when any shard has a violation.
    /// Each shard had `⌊cap / n⌋` of the run cap: when every shard's cap is that split of
    /// `run_cap_micro` (the whole run's cap), the merged cap is `run_cap_micro` itself, as the run
    /// of one machine reports it; otherwise (or with `None`) the shards' caps add up.
    pub fn merge(parts: &[RunCost], run_cap_micro: Option<u64>) -> Result<RunCost> {
        let first = parts.first().ok_or_else(|| Error::EmptyRuns {
            what: "merging run costs".into(),
        })?;
        let mut total_micro = 0u64;
        let mut shard_caps_micro = 0u64;
        let mut per_model: BTreeMap<String, ModelTotals> = BTreeMap::new();
        let mut violations = Vec::new();
        let (mut calls, mut refused, mut open) = (0u64, 0u64, 0u64);
        for part in parts {
            if part.max_per_call_usd != first.max_per_call_usd {
                return Err(Error::invalid(
                    "max_per_call_usd",
                    "shards were run with different per-call caps",
                ));
            }
            total_micro = total_micro.saturating_add(part.total_cost_micro_usd);
            shard_caps_micro = shard_caps_micro
                .saturating_add(crate::money::usd_to_micro(part.max_per_run_usd).unwrap_or(0));
            violations.extend(part.violations.iter().cloned());
            calls += part.call_count;
            refused += part.refused_calls;
            open += part.open_reservations;
            for (model, t) in &part.per_model {
                let m = per_model.entry(model.clone()).or_default();
                m.calls += t.calls;
                m.usage.add(&t.usage);
                m.cost_micro_usd = m.cost_micro_usd.saturating_add(t.cost_micro_usd);
                m.cost_usd = micro_to_usd(m.cost_micro_usd);
            }
        }
        let run_cap_micro = match run_cap_micro {
            Some(whole)
                if parts
                    .iter()
                    .all(|p| p.max_per_run_usd == micro_to_usd(whole / parts.len() as u64)) =>
            {
                whole
            }
            _ => shard_caps_micro,
        };
        Ok(RunCost {
            schema_version: RUN_COST_SCHEMA_VERSION.to_owned(),
            total_cost_usd: micro_to_usd(total_micro),
            total_cost_micro_usd: total_micro,
            budget_verdict: verdict(&violations).to_owned(),
            violations: sorted_violations(violations),
            call_count: calls,
            refused_calls: refused,
            open_reservations: open,
            max_per_call_usd: first.max_per_call_usd,
            max_per_run_usd: micro_to_usd(run_cap_micro),
            per_model,
        })
    }
}

fn describe_call(call_id: &str, scene_id: &Option<String>) -> String {
    match scene_id {
        Some(scene) => format!("call `{call_id}` (scene `{scene}`)"),
        None => format!("call `{call_id}`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn settings(per_call: u64, per_run: u64) -> BudgetSettings {
        let mut models = BTreeMap::new();
        // $3 / $15 per million, cached read $0.30, cache write $3.75.
        models.insert(
            "m".to_owned(),
            ModelPrice {
                input_pico: 3_000_000,
                cache_read_pico: 300_000,
                cache_write_pico: 3_750_000,
                output_pico: 15_000_000,
                reasoning_pico: None,
                ..Default::default()
            },
        );
        models.insert(
            "r".to_owned(),
            ModelPrice {
                input_pico: 1_000_000,
                cache_read_pico: 100_000,
                cache_write_pico: 1_000_000,
                output_pico: 4_000_000,
                reasoning_pico: Some(8_000_000),
                ..Default::default()
            },
        );
        BudgetSettings {
            max_per_call_micro_usd: per_call,
            max_per_run_micro_usd: per_run,
            max_output_tokens: 1000,
            models,
            aliases: BTreeMap::from([("m-pinned-*".to_owned(), "m".to_owned())]),
        }
    }

    fn req(id: &str, input: u64) -> ReserveRequest {
        ReserveRequest {
            call_id: id.into(),
            scene_id: Some("SCN-01".into()),
            model: "m".into(),
            input_tokens: input,
            max_output_tokens: None,
        }
    }

    #[test]
    fn call_cost_resolve_known_and_for_shards() -> Result<()> {
        let s = settings(1_000_000, 10_000_000);
        let u = Usage {
            input_tokens: 1_000_000,
            ..Default::default()
        };
        // Alone: the run total is the call's own cost.
        let c = s.call_cost("m", &u)?;
        assert_eq!(
            (c.cost_micro_usd, c.cost_usd, c.run_total_micro_usd),
            (3_000_000, 3.0, 3_000_000)
        );
        assert!(matches!(
            s.call_cost("nope", &u),
            Err(Error::UnknownModel { .. })
        ));
        // Through a tracker: the run total is what was settled, not this cost.
        let mut t = BudgetTracker::new(s.clone());
        let r = t.reserve(req("c1", 1000))?;
        let settled = t.settle(
            r.id,
            &Usage {
                input_tokens: 1000,
                ..Default::default()
            },
        )?;
        let c = t.call_cost("m", &u)?;
        assert_eq!(c.cost_micro_usd, 3_000_000);
        assert_eq!(c.run_total_micro_usd, settled.run_total_micro_usd);
        assert_eq!(t.spent_micro(), settled.run_total_micro_usd);

        let m = s.resolve_known("m-pinned-2")?;
        assert_eq!((m.matched.as_str(), m.rule), ("m", "alias_pattern"));
        match s.resolve_known("nope") {
            Err(Error::UnknownModel { model }) => assert_eq!(model, "nope"),
            other => panic!("{other:?}"),
        }

        assert_eq!(s.for_shards(None)?, s);
        assert_eq!(s.for_shards(Some(4))?.max_per_run_micro_usd, 2_500_000);
        assert!(s.for_shards(Some(0)).is_err());
        Ok(())
    }

    #[test]
    fn usage_that_is_not_an_object() {
        let raw = RawUsage::not_an_object("Undefined");
        assert_eq!(
            raw.input_tokens,
            RawCount::Other("undefined instead of a usage object".into())
        );
        assert_eq!(raw.output_tokens, RawCount::Missing);
        match raw.to_usage() {
            Err(e @ Error::InvalidUsage { .. }) => assert_eq!(
                e.to_string(),
                Error::InvalidUsage {
                    field: "usage.inputTokens".into(),
                    message: "must be a number of tokens, got undefined instead of a usage object"
                        .into(),
                }
                .to_string()
            ),
            other => panic!("{other:?}"),
        }
        match RawUsage::unreadable("boom") {
            Error::InvalidUsage { field, message } => {
                assert_eq!(field, "usage");
                assert_eq!(message, "must be an object of token counts, got boom");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn known_costs() {
        let s = settings(1_000_000, 10_000_000);
        let m = &s.models["m"];
        // 1M plain input tokens = $3.
        let u = Usage {
            input_tokens: 1_000_000,
            ..Default::default()
        };
        assert_eq!(m.cost_micro(&u), 3_000_000);
        // 1000 input of which 400 cached and 100 written, 200 output:
        // 500*3 + 400*0.3 + 100*3.75 + 200*15 µUSD = 1500 + 120 + 375 + 3000 = 4995 µUSD.
        let u = Usage {
            input_tokens: 1000,
            cached_input_tokens: 400,
            cache_write_tokens: 100,
            output_tokens: 200,
            ..Default::default()
        };
        assert_eq!(m.cost_micro(&u), 4995);
        // Reasoning priced apart: 100 output of which 60 reasoning: 40*4 + 60*8 = 640 µUSD.
        let r = &s.models["r"];
        let u = Usage {
            output_tokens: 100,
            reasoning_tokens: 60,
            ..Default::default()
        };
        assert_eq!(r.cost_micro(&u), 640);
        // Reasoning not priced: counted as output, not twice.
        let u = Usage {
            output_tokens: 100,
            reasoning_tokens: 60,
            ..Default::default()
        };
        assert_eq!(m.cost_micro(&u), 1500);
    }

    #[test]
    fn reserve_refuses_per_call_and_per_run() {
        // worst case of req(_, 1000): 1000*3 + 1000*15 = 18,000 µUSD.
        let mut t = BudgetTracker::new(settings(17_999, 100_000));
        let err = t.reserve(req("c1", 1000));
        assert!(matches!(err, Err(Error::BudgetExceeded { ref kind, .. }) if kind == "per_call"));
        let mut t = BudgetTracker::new(settings(18_000, 40_000));
        assert!(t.reserve(req("c1", 1000)).is_ok());
        assert!(t.reserve(req("c2", 1000)).is_ok());
        // Third would bring open reservations to 54,000 > 40,000: refused although nothing is settled.
        let err = t.reserve(req("c3", 1000));
        assert!(matches!(err, Err(Error::BudgetExceeded { ref kind, .. }) if kind == "per_run"));
        let cost = t.finalize();
        assert_eq!(cost.budget_verdict, "FAIL");
        assert_eq!(cost.refused_calls, 1);
        assert_eq!(cost.violations[0].kind, "per_run");
        assert_eq!(cost.violations[0].phase, "reserve");
        assert_eq!(cost.open_reservations, 2);
    }

    #[test]
    fn settle_replaces_reservation_with_real_cost() {
        let mut t = BudgetTracker::new(settings(18_000, 40_000));
        let r = t.reserve(req("c1", 1000)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.reserved_micro(), 18_000);
        let c = t.settle(
            r.id,
            &Usage {
                input_tokens: 1000,
                output_tokens: 100,
                ..Default::default()
            },
        );
        assert_eq!(c.map(|c| c.cost_micro_usd).ok(), Some(4_500));
        assert_eq!(t.reserved_micro(), 0);
        assert_eq!(t.spent_micro(), 4_500);
        assert!(matches!(
            t.settle(r.id, &Usage::default()),
            Err(Error::UnknownReservation { .. })
        ));
        let f = t.finalize();
        assert_eq!(f.budget_verdict, "PASS");
        assert_eq!(f.total_cost_micro_usd, 4_500);
        assert_eq!(f.per_model["m"].calls, 1);
    }

    #[test]
    fn unpriced_model_is_an_error_and_a_violation_never_zero() {
        let mut t = BudgetTracker::new(settings(18_000, 40_000));
        let mut r = req("c1", 10);
        r.model = "mystery".into();
        assert!(matches!(t.reserve(r), Err(Error::UnknownModel { .. })));
        assert!(matches!(
            t.record("c2", None, "mystery", &Usage::default()),
            Err(Error::UnknownModel { .. })
        ));
        let f = t.finalize();
        assert_eq!(f.budget_verdict, "FAIL");
        assert!(f.violations.iter().all(|v| v.kind == "unpriced_model"));
    }

    #[test]
    fn settled_overspend_is_fail() {
        let mut t = BudgetTracker::new(settings(1_000, 1_500));
        let usage = Usage {
            output_tokens: 100,
            ..Default::default()
        }; // 1,500 µUSD
        assert!(t.record("c1", None, "m", &usage).is_ok());
        let f = t.finalize();
        assert_eq!(f.budget_verdict, "FAIL");
        assert_eq!(f.violations.len(), 1);
        assert_eq!(f.violations[0].kind, "per_call");
        assert_eq!(f.violations[0].phase, "settle");
    }

    #[test]
    fn shard_costs_merge_into_the_whole() {
        let call = |t: &mut BudgetTracker, i: u64| {
            let r = t
                .reserve(req(&format!("c{i}"), 100 + i))
                .unwrap_or_else(|e| panic!("{e}"));
            t.settle(
                r.id,
                &Usage {
                    input_tokens: 100 + i,
                    output_tokens: 10 + i,
                    ..Default::default()
                },
            )
            .unwrap_or_else(|e| panic!("{e}"));
        };
        let s = settings(50_000, 400_000);
        let mut whole = BudgetTracker::new(s.clone());
        let mut shards: Vec<BudgetTracker> = (0..4)
            .map(|_| BudgetTracker::new(s.split(4).unwrap_or_else(|e| panic!("{e}"))))
            .collect();
        for i in 0..40 {
            call(&mut whole, i);
            call(&mut shards[(i % 4) as usize], i);
        }
        let parts: Vec<RunCost> = shards.iter().map(BudgetTracker::finalize).collect();
        assert_eq!(RunCost::merge(&parts, None), Ok(whole.finalize()));
        assert!(matches!(
            RunCost::merge(&[], None),
            Err(Error::EmptyRuns { .. })
        ));
        // 3 shards of a 400,000 µUSD cap get 133,333 each: the merge restores the whole cap.
        let mut three: Vec<BudgetTracker> = (0..3)
            .map(|_| BudgetTracker::new(s.split(3).unwrap_or_else(|e| panic!("{e}"))))
            .collect();
        let mut whole = BudgetTracker::new(s.clone());
        for i in 0..30 {
            call(&mut whole, i);
            call(&mut three[(i % 3) as usize], i);
        }
        let parts: Vec<RunCost> = three.iter().map(BudgetTracker::finalize).collect();
        assert_eq!(RunCost::merge(&parts, Some(400_000)), Ok(whole.finalize()));
        assert_eq!(
            RunCost::merge(&parts, None).map(|m| m.max_per_run_usd),
            Ok(0.399_999)
        );
    }

    #[test]
    fn violations_are_listed_in_natural_call_order() {
        use std::cmp::Ordering::*;
        assert_eq!(natural_cmp("call-2#1", "call-10#1"), Less);
        assert_eq!(natural_cmp("call-10#2", "call-10#10"), Less);
        assert_eq!(natural_cmp("call-007", "call-7"), Equal);
        assert_eq!(natural_cmp("a", "b"), Less);
        assert_eq!(natural_cmp("call-1", "call-1x"), Less);
        let mut t = BudgetTracker::new(settings(1_000, 1_000_000));
        for i in [10u64, 2, 33, 1] {
            let usage = Usage {
                output_tokens: 100,
                ..Default::default()
            }; // 1,500 µUSD > per-call cap
            assert!(t.record(&format!("call-{i}"), None, "m", &usage).is_ok());
        }
        let ids: Vec<String> = t
            .finalize()
            .violations
            .into_iter()
            .map(|v| v.call_id)
            .collect();
        assert_eq!(ids, ["call-1", "call-2", "call-10", "call-33"]);
    }

    #[test]
    fn untrusted_usage_is_charged_at_the_reservation() {
        let mut t = BudgetTracker::new(settings(18_000, 1_000_000));
        for (i, (raw, field)) in [
            (RawCount::Number(f64::NAN), "usage.inputTokens"),
            (RawCount::Number(-5.0), "usage.inputTokens"),
            (RawCount::Number(1.5), "usage.inputTokens"),
            (RawCount::Text("12".into()), "usage.inputTokens"),
            (RawCount::Missing, "usage.inputTokens"),
        ]
        .into_iter()
        .enumerate()
        {
            let r = t
                .reserve(req(&format!("c{i}"), 1000))
                .unwrap_or_else(|e| panic!("{e}"));
            let usage = RawUsage {
                input_tokens: raw,
                output_tokens: RawCount::Number(10.0),
                ..Default::default()
            };
            let err = t.settle_raw(r.id, &usage);
            assert!(
                matches!(err, Err(Error::InvalidUsage { field: ref f, .. }) if f == field),
                "{err:?}"
            );
        }
        let bad_output = RawUsage {
            input_tokens: RawCount::Number(1.0),
            output_tokens: RawCount::Other("boolean".into()),
            ..Default::default()
        };
        let r = t.reserve(req("c9", 1000)).unwrap_or_else(|e| panic!("{e}"));
        let err = t
            .settle_raw(r.id, &bad_output)
            .err()
            .map(|e| (e.code(), e.to_string()));
        assert_eq!(
            err,
            Some((
                "ERR_OMEGA_INVALID_USAGE",
                "invalid usage `usage.outputTokens`: must be a number of tokens, got boolean"
                    .into()
            ))
        );
        let f = t.finalize();
        // Six calls, each charged its 18,000 µUSD reservation: never $0.
        assert_eq!(f.total_cost_micro_usd, 6 * 18_000);
        assert_eq!(f.open_reservations, 0);
        assert_eq!(f.budget_verdict, "FAIL");
        assert_eq!(f.violations.len(), 6);
        assert!(f.violations.iter().all(|v| v.kind == "invalid_usage"));
        // A call whose usage never came is charged its reservation, without a violation.
        let r = t
            .reserve(req("c11", 1000))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            t.charge_reservation(r.id).map(|c| c.cost_micro_usd),
            Ok(18_000)
        );
        assert_eq!(t.finalize().violations.len(), 6);
        // Valid raw usage settles normally.
        let r = t
            .reserve(req("c10", 1000))
            .unwrap_or_else(|e| panic!("{e}"));
        let ok = RawUsage::from(&Usage {
            input_tokens: 1000,
            output_tokens: 100,
            ..Default::default()
        });
        assert_eq!(t.settle_raw(r.id, &ok).map(|c| c.cost_micro_usd), Ok(4_500));
    }

    #[test]
    fn ledger_entries_are_what_finalize_sums() {
        let s = settings(18_000, 30_000);
        let mut t = BudgetTracker::new(s.clone());
        let r = t
            .reserve(req("call-1#1", 1000))
            .unwrap_or_else(|e| panic!("{e}"));
        let usage = Usage {
            input_tokens: 1000,
            output_tokens: 100,
            ..Default::default()
        };
        assert!(t.settle(r.id, &usage).is_ok());
        // 4,500 settled: a second worst case of 18,000 fits, a third does not.
        let r = t
            .reserve(req("call-2#1", 1000))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(t.reserve(req("call-3#1", 1000)).is_err());
        assert!(t.charge_reservation(r.id).is_ok());
        let ledger = t.take_ledger();
        let kinds: Vec<LedgerKind> = ledger.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            vec![
                LedgerKind::Settled,
                LedgerKind::Refused,
                LedgerKind::Charged
            ]
        );
        assert_eq!(ledger[0].cost_micro_usd, 4_500);
        assert_eq!(ledger[0].usage, Some(usage));
        assert_eq!(ledger[2].cost_micro_usd, 18_000);
        assert_eq!(ledger[1].violations.len(), 1);
        assert_eq!(RunCost::from_ledger(s, &ledger), t.finalize());
        let json = serde_json::to_value(&ledger[1]).unwrap_or_default();
        assert_eq!(json["kind"], "refused");
        assert!(json.get("usage").is_none());
    }

    #[test]
    fn model_names_resolve() {
        let s = settings(1, 1);
        let r = |m: &str| s.resolve(m).map(|(_, x)| (x.matched, x.rule));
        assert_eq!(r("m"), Some(("m".into(), "exact")));
        assert_eq!(r("openai/m"), Some(("m".into(), "provider_prefix")));
        assert_eq!(r("m-2024-08-06"), Some(("m".into(), "dated_snapshot")));
        assert_eq!(r("m-20250219"), Some(("m".into(), "dated_snapshot")));
        assert_eq!(r("m-pinned-7"), Some(("m".into(), "alias_pattern")));
        assert_eq!(r("x"), None);
        assert_eq!(r("m-2024"), None);
        let t = BudgetTracker::new(s);
        assert_eq!(
            t.cost(
                "r-2025-01-01",
                &Usage {
                    output_tokens: 10,
                    ..Default::default()
                }
            ),
            Ok(40)
        );
        assert!(matches!(
            t.cost("zz", &Usage::default()),
            Err(Error::UnknownModel { .. })
        ));
    }

    #[test]
    fn usage_parts_must_fit() {
        let bad = Usage {
            input_tokens: 10,
            cached_input_tokens: 8,
            cache_write_tokens: 5,
            ..Default::default()
        };
        assert!(matches!(bad.validate(), Err(Error::InvalidUsage { .. })));
        let bad = Usage {
            output_tokens: 1,
            reasoning_tokens: 2,
            ..Default::default()
        };
        assert!(matches!(bad.validate(), Err(Error::InvalidUsage { .. })));
    }

    proptest! {
        /// However calls interleave, settled + reserved never passes the run cap, and the settled
        /// total equals the sum of the call costs.
        #[test]
        fn reservations_never_overspend(ops in proptest::collection::vec((0u64..3000, 0u64..1000, proptest::bool::ANY), 1..60)) {
            let mut t = BudgetTracker::new(settings(50_000, 200_000));
            let mut open = Vec::new();
            let mut sum = 0u64;
            for (i, (input, output, settle_now)) in ops.into_iter().enumerate() {
                if let Ok(r) = t.reserve(req(&format!("c{i}"), input)) {
                    open.push((r.id, input, output));
                }
                prop_assert!(t.spent_micro() + t.reserved_micro() <= 200_000);
                if settle_now {
                    if let Some((id, input, output)) = open.pop() {
                        let c = t.settle(id, &Usage { input_tokens: input, output_tokens: output.min(1000), ..Default::default() });
                        sum += c.map(|c| c.cost_micro_usd).unwrap_or(0);
                    }
                }
            }
            prop_assert_eq!(t.spent_micro(), sum);
            prop_assert!(t.finalize().violations.iter().all(|v| v.phase == "reserve"));
        }

        /// Cached tokens are never double counted: moving tokens from plain to cached input never
        /// raises the cost when cached reads are cheaper.
        #[test]
        fn caching_never_costs_more(input in 0u64..1_000_000, cached in 0u64..1_000_000) {
            let s = settings(1, 1);
            let m = &s.models["m"];
            let cached = cached.min(input);
            let plain = Usage { input_tokens: input, ..Default::default() };
            let with_cache = Usage { input_tokens: input, cached_input_tokens: cached, ..Default::default() };
            prop_assert!(m.cost_pico(&with_cache) <= m.cost_pico(&plain));
            prop_assert_eq!(m.cost_pico(&plain) - m.cost_pico(&with_cache), u128::from(cached) * 2_700_000);
        }

        /// The ledger of any sequence of calls (settled, charged, untrusted, refused, unpriced)
        /// re-derives `finalize()` exactly, in any order of its entries; a tracker restored from
        /// the first part of the ledger and given the rest of the calls ends where the
        /// uninterrupted one did.
        #[test]
        fn ledger_rederives_finalize(
            ops in proptest::collection::vec((0u8..6, 0u64..4000, 0u64..1000), 1..50),
            cut in 0usize..50,
            rotate in 0usize..50,
        ) {
            let s = settings(40_000, 150_000);
            let run = |t: &mut BudgetTracker, from: usize, to: usize| {
                for (i, (op, input, output)) in ops.iter().enumerate().take(to).skip(from) {
                    let id = format!("call-{i}#1");
                    let usage = Usage { input_tokens: *input, output_tokens: (*output).min(1000), ..Default::default() };
                    match op {
                        0 | 1 => {
                            if let Ok(r) = t.reserve(req(&id, *input)) {
                                let _ = t.settle(r.id, &usage);
                            }
                        }
                        2 => {
                            if let Ok(r) = t.reserve(req(&id, *input)) {
                                let _ = t.charge_reservation(r.id);
                            }
                        }
                        3 => {
                            if let Ok(r) = t.reserve(req(&id, *input)) {
                                let _ = t.settle_raw(r.id, &RawUsage { output_tokens: RawCount::Number(-1.0), ..RawUsage::from(&usage) });
                            }
                        }
                        4 => {
                            let _ = t.record(&id, None, "unpriced-model", &usage);
                        }
                        _ => {
                            if let Ok(r) = t.reserve(req(&id, *input)) {
                                let _ = t.release(r.id);
                            }
                        }
                    }
                }
            };
            let mut whole = BudgetTracker::new(s.clone());
            run(&mut whole, 0, ops.len());
            let mut ledger = whole.take_ledger();
            prop_assert!(whole.take_ledger().is_empty());
            prop_assert_eq!(RunCost::from_ledger(s.clone(), &ledger), whole.finalize());
            // JSON round trip (the journal's form) changes nothing.
            let text = serde_json::to_string(&ledger).unwrap_or_default();
            let back: Vec<LedgerEntry> = serde_json::from_str(&text).unwrap_or_default();
            prop_assert_eq!(&back, &ledger);
            let n = ledger.len().max(1);
            ledger.rotate_left(rotate % n);
            ledger.reverse();
            prop_assert_eq!(RunCost::from_ledger(s.clone(), &ledger), whole.finalize());
            // Interrupted after `cut` calls, resumed from the ledger.
            let cut = cut.min(ops.len());
            let mut first = BudgetTracker::new(s.clone());
            run(&mut first, 0, cut);
            let done = first.take_ledger();
            let mut resumed = BudgetTracker::new(s.clone());
            resumed.restore(&done);
            prop_assert!(resumed.take_ledger().is_empty());
            run(&mut resumed, cut, ops.len());
            prop_assert_eq!(resumed.finalize(), whole.finalize());
            let mut all = done.clone();
            all.extend(resumed.take_ledger());
            prop_assert_eq!(RunCost::from_ledger(s.clone(), &all), whole.finalize());
        }
    }
}
