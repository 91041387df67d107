//! Prices in LiteLLM's `model_prices_and_context_window.json` format.
//!
//! The same key grammar serves calibration `budget.models` entries and price files
//! (`budget.prices_file`, `omega-pr prices import`):
//! `<base>[_above_1hr][_above_<N>k_tokens][_<service tier>]` with the bases
//! `input_cost_per_token`, `output_cost_per_token`, `cache_read_input_token_cost`,
//! `cache_creation_input_token_cost` (the `_above_1hr` form is the 1-hour cache write) and
//! `output_cost_per_reasoning_token`. Every price is USD per token and becomes whole pico-USD.
//!
//! Used: the base rates, the `_above_<N>k_tokens` tiers (when the prompt exceeds N·1000 tokens
//! the tier's rates apply to **all** tokens of the call, as LiteLLM computes it), cache reads,
//! 5-minute and 1-hour cache writes, `_batches` (Batch API) prices and `deprecation_date`.
//! A missing cache rate is the input rate (never cheaper than LiteLLM). Ignored: every other key
//! (context sizes, `supports_*`, per-image/audio/query costs, `priority`/`flex` service tiers,
//! `tiered_pricing`) — they price nothing this tool counts.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::budget::{ModelPrice, PriceTier};
use crate::error::{Error, Result};
use crate::money::usd_per_token_to_pico;

use crate::money::MAX_SANE_PRICE_PER_TOKEN_USD;

/// The quantity a price key prices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PriceField {
    /// `input_cost_per_token`.
    Input,
    /// `output_cost_per_token`.
    Output,
    /// `cache_read_input_token_cost`.
    CacheRead,
    /// `cache_creation_input_token_cost`.
    CacheWrite,
    /// `cache_creation_input_token_cost_above_1hr`.
    CacheWrite1h,
    /// `output_cost_per_reasoning_token`.
    Reasoning,
}

/// A parsed price key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceKey {
    /// What it prices.
    pub field: PriceField,
    /// `_above_<N>k_tokens`: N·1000.
    pub above_tokens: Option<u64>,
    /// Service tier suffix (`batches`, `priority`, `flex`, …).
    pub service_tier: Option<String>,
}

const SERVICE_TIERS: &[&str] = &[
    "batches",
    "priority",
    "flex",
    "ultrafast",
    "decisions",
    "balanced",
];

/// Non-price keys a calibration model entry may carry (copied from a price file).
pub const META_KEYS: &[&str] = &["deprecation_date", "litellm_provider", "mode"];

/// Parses a LiteLLM price key; `None` for any other key (including prices of things not counted
/// here, such as `output_cost_per_image` or `_above_12hr` writes).
pub fn parse_price_key(key: &str) -> Option<PriceKey> {
    const BASES: &[(&str, PriceField)] = &[
        ("input_cost_per_token", PriceField::Input),
        ("output_cost_per_token", PriceField::Output),
        ("cache_read_input_token_cost", PriceField::CacheRead),
        ("cache_creation_input_token_cost", PriceField::CacheWrite),
        ("output_cost_per_reasoning_token", PriceField::Reasoning),
    ];
    let (mut field, mut rest) = BASES
        .iter()
        .find_map(|(b, f)| key.strip_prefix(b).map(|r| (*f, r)))?;
    if field == PriceField::CacheWrite {
        if let Some(r) = rest.strip_prefix("_above_1hr") {
            field = PriceField::CacheWrite1h;
            rest = r;
        }
    }
    let mut above_tokens = None;
    if let Some(r) = rest.strip_prefix("_above_") {
        let (n, r) = r.split_once("k_tokens")?;
        let n: u64 = n.parse().ok()?;
        above_tokens = Some(n.checked_mul(1000)?);
        rest = r;
    }
    let service_tier = if rest.is_empty() {
        None
    } else {
        let t = rest.strip_prefix('_')?;
        if !SERVICE_TIERS.contains(&t) {
            return None;
        }
        Some(t.to_owned())
    };
    Some(PriceKey {
        field,
        above_tokens,
        service_tier,
    })
}

/// Converts one USD-per-token value to pico-USD, or says what is wrong with it.
pub fn price_value(v: &Value) -> std::result::Result<u64, String> {
    let Some(n) = v.as_f64() else {
        return Err(format!("must be a number of USD per token, got {v}"));
    };
    if n < 0.0 {
        return Err(format!("price must not be negative, got {n}"));
    }
    if n > MAX_SANE_PRICE_PER_TOKEN_USD {
        return Err(format!(
            "{n} USD per token looks like a per-million-token price; write it per token (e.g. {:e})",
            n / 1e6
        ));
    }
    usd_per_token_to_pico(n).ok_or_else(|| format!("price out of range, got {n}"))
}

/// Builds a [`ModelPrice`] from parsed `(key, pico)` pairs. `None` without both the base input
/// and output prices.
pub fn assemble(
    prices: &[(PriceKey, u64)],
    deprecation_date: Option<String>,
) -> Option<ModelPrice> {
    let get = |field: PriceField, above: Option<u64>, tier: Option<&str>| {
        prices.iter().find_map(|(k, p)| {
            (k.field == field && k.above_tokens == above && k.service_tier.as_deref() == tier)
                .then_some(*p)
        })
    };
    let input = get(PriceField::Input, None, None)?;
    let output = get(PriceField::Output, None, None)?;
    let cache_write = get(PriceField::CacheWrite, None, None).unwrap_or(input);
    let mut thresholds: Vec<u64> = prices
        .iter()
        .filter(|(k, _)| k.service_tier.is_none())
        .filter_map(|(k, _)| k.above_tokens)
        .collect();
    thresholds.sort_unstable();
    thresholds.dedup();
    let tiers = thresholds
        .into_iter()
        .map(|n| {
            let at = |f| get(f, Some(n), None);
            PriceTier {
                above_tokens: n,
                input_pico: at(PriceField::Input).unwrap_or(input),
                output_pico: at(PriceField::Output).unwrap_or(output),
                cache_read_pico: at(PriceField::CacheRead),
                cache_write_pico: at(PriceField::CacheWrite),
                cache_write_1h_pico: at(PriceField::CacheWrite1h),
                reasoning_pico: at(PriceField::Reasoning),
            }
        })
        .collect();
    let batch = match (
        get(PriceField::Input, None, Some("batches")),
        get(PriceField::Output, None, Some("batches")),
    ) {
        (Some(i), Some(o)) => Some((i, o)),
        _ => None,
    };
    Some(ModelPrice {
        input_pico: input,
        cache_read_pico: get(PriceField::CacheRead, None, None).unwrap_or(input),
        cache_write_pico: cache_write,
        output_pico: output,
        reasoning_pico: get(PriceField::Reasoning, None, None),
        cache_write_1h_pico: get(PriceField::CacheWrite1h, None, None),
        tiers,
        batch,
        deprecation_date,
    })
}

/// Whether `s` is a `YYYY-MM-DD` date.
pub fn is_iso_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

/// What importing a price file gave.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PriceImport {
    /// Priced models by name.
    pub models: BTreeMap<String, ModelPrice>,
    /// The imported entries, pruned to the keys used (calibration-compatible `budget.models`
    /// entries: the four base prices always present, cache rates filled with the input rate).
    pub entries: Map<String, Value>,
    /// `alias_of` entries: alias → model.
    pub aliases: BTreeMap<String, String>,
    /// Entries not imported, counted by reason (`mode:<mode>`, `no_token_price`, `doc`).
    pub skipped: BTreeMap<String, u64>,
    /// Entries in the file.
    pub total_entries: u64,
}

/// Modes whose entries price text tokens (kept); entries without a mode are kept when they
/// have token prices.
const TOKEN_MODES: &[&str] = &["chat", "responses", "completion"];

/// Reads a LiteLLM `model_prices_and_context_window.json` document. Skips `sample_spec`,
/// `fallback_generalizations`, entries of non-text modes (image, embedding, audio, …) and
/// entries without both token prices; collects `alias_of` entries as aliases. A malformed
/// price in an entry that is imported is an error naming the entry and key.
pub fn import_litellm(text: &str, source_name: Option<&str>) -> Result<PriceImport> {
    let fail = |message: String| Error::PriceFile {
        source_name: source_name.map(str::to_owned),
        message,
    };
    let root: Value = serde_json::from_str(text).map_err(|e| fail(format!("not JSON: {e}")))?;
    let Value::Object(root) = root else {
        return Err(fail("must be a JSON object of model entries".into()));
    };
    let mut out = PriceImport {
        total_entries: root.len() as u64,
        ..Default::default()
    };
    let skip = |out: &mut PriceImport, why: String| {
        *out.skipped.entry(why).or_insert(0) += 1;
    };
    for (name, entry) in &root {
        let Value::Object(m) = entry else {
            skip(&mut out, "not_an_object".into());
            continue;
        };
        if name == "sample_spec" || name == "fallback_generalizations" {
            skip(&mut out, "doc".into());
            continue;
        }
        if let Some(target) = m.get("alias_of").and_then(Value::as_str) {
            out.aliases.insert(name.clone(), target.to_owned());
            continue;
        }
        let mode = m.get("mode").and_then(Value::as_str);
        if let Some(mode) = mode {
            if !TOKEN_MODES.contains(&mode) {
                skip(&mut out, format!("mode:{mode}"));
                continue;
            }
        }
        if !m.get("input_cost_per_token").is_some_and(Value::is_number)
            || !m.get("output_cost_per_token").is_some_and(Value::is_number)
        {
            skip(&mut out, "no_token_price".into());
            continue;
        }
        let mut prices = Vec::new();
        let mut pruned = Map::new();
        for (key, v) in m {
            let Some(k) = parse_price_key(key) else {
                continue;
            };
            if v.is_null() {
                continue;
            }
            let pico = price_value(v).map_err(|e| fail(format!("`{name}`.{key}: {e}")))?;
            prices.push((k, pico));
            pruned.insert(key.clone(), v.clone());
        }
        let deprecation = match m.get("deprecation_date") {
            Some(Value::String(d)) if is_iso_date(d) => Some(d.clone()),
            Some(Value::Null) | None => None,
            Some(other) => {
                return Err(fail(format!(
                    "`{name}`.deprecation_date: must be a YYYY-MM-DD date, got {other}"
                )))
            }
        };
        let Some(price) = assemble(&prices, deprecation.clone()) else {
            skip(&mut out, "no_token_price".into());
            continue;
        };
        for (key, fill) in [
            ("cache_read_input_token_cost", "input_cost_per_token"),
            ("cache_creation_input_token_cost", "input_cost_per_token"),
        ] {
            if !pruned.contains_key(key) {
                if let Some(v) = pruned.get(fill).cloned() {
                    pruned.insert(key.into(), v);
                }
            }
        }
        if let Some(d) = deprecation {
            pruned.insert("deprecation_date".into(), Value::String(d));
        }
        for key in ["litellm_provider", "mode"] {
            if let Some(v @ Value::String(_)) = m.get(key) {
                pruned.insert(key.into(), v.clone());
            }
        }
        out.models.insert(name.clone(), price);
        out.entries.insert(name.clone(), Value::Object(pruned));
    }
    // Aliases to models that were not imported are dropped.
    let models = &out.models;
    out.aliases.retain(|_, target| models.contains_key(target));
    Ok(out)
}

impl PriceImport {
    /// The pruned price file: LiteLLM format, imported entries only, used keys only, keys
    /// sorted; `alias_of` entries kept. Same input → same bytes.
    pub fn pruned_json(&self) -> String {
        let mut root: BTreeMap<String, Value> = self
            .entries
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (alias, target) in &self.aliases {
            root.insert(alias.clone(), serde_json::json!({ "alias_of": target }));
        }
        let mut text = serde_json::to_string_pretty(&root).unwrap_or_else(|_| "{}".into());
        text.push('\n');
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::Usage;

    #[test]
    fn key_grammar() {
        let k = parse_price_key("input_cost_per_token_above_200k_tokens");
        assert_eq!(
            k,
            Some(PriceKey {
                field: PriceField::Input,
                above_tokens: Some(200_000),
                service_tier: None
            })
        );
        let k = parse_price_key("cache_creation_input_token_cost_above_1hr");
        assert_eq!(k.map(|k| k.field), Some(PriceField::CacheWrite1h));
        let k = parse_price_key("output_cost_per_token_batches");
        assert_eq!(k.and_then(|k| k.service_tier), Some("batches".into()));
        let k = parse_price_key("input_cost_per_token_above_272k_tokens_priority");
        assert_eq!(
            k.map(|k| (k.above_tokens, k.service_tier)),
            Some((Some(272_000), Some("priority".into())))
        );
        assert_eq!(parse_price_key("output_cost_per_image"), None);
        assert_eq!(parse_price_key("input_cost_per_token_per_second"), None);
        assert_eq!(parse_price_key("max_tokens"), None);
    }

    #[test]
    fn import_tiers_batch_aliases_and_skips() {
        let text = r#"{
          "sample_spec": {"input_cost_per_token": "doc"},
          "m": {"mode": "chat", "litellm_provider": "x", "max_tokens": 10,
                "input_cost_per_token": 3e-6, "output_cost_per_token": 1.5e-5,
                "cache_read_input_token_cost": 3e-7, "cache_creation_input_token_cost": 3.75e-6,
                "cache_creation_input_token_cost_above_1hr": 6e-6,
                "input_cost_per_token_above_200k_tokens": 6e-6, "output_cost_per_token_above_200k_tokens": 2.25e-5,
                "input_cost_per_token_batches": 1.5e-6, "output_cost_per_token_batches": 7.5e-6,
                "output_cost_per_image": 0.04, "deprecation_date": "2026-11-30"},
          "m-latest": {"alias_of": "m"},
          "img": {"mode": "image_generation", "output_cost_per_image": 0.04},
          "e": {"mode": "embedding", "input_cost_per_token": 1e-7, "output_cost_per_token": 0}
        }"#;
        let imp = import_litellm(text, Some("p.json")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(imp.models.len(), 1);
        assert_eq!(imp.aliases.get("m-latest").map(String::as_str), Some("m"));
        assert_eq!(imp.skipped.get("mode:embedding"), Some(&1));
        let m = &imp.models["m"];
        assert_eq!(m.deprecation_date.as_deref(), Some("2026-11-30"));
        assert_eq!(m.batch, Some((1_500_000, 7_500_000)));
        // 200,000 input tokens: base rates; 200,001: the tier's, on every token.
        let at = |n| {
            m.cost_micro(&Usage {
                input_tokens: n,
                output_tokens: 1000,
                ..Default::default()
            })
        };
        assert_eq!(at(200_000), 600_000 + 15_000);
        assert_eq!(at(200_001), 1_200_006 + 22_500);
        // 1-hour cache writes at their own price.
        let u = Usage {
            input_tokens: 1000,
            cache_write_tokens: 1000,
            cache_write_1h_tokens: 400,
            ..Default::default()
        };
        assert_eq!(m.cost_micro(&u), 600 * 375 / 100 + 400 * 6);
        assert_eq!(
            m.batch_cost_micro(&Usage {
                input_tokens: 1_000_000,
                output_tokens: 1_000_000,
                ..Default::default()
            }),
            Some(9_000_000)
        );
        let pruned = imp.pruned_json();
        assert!(!pruned.contains("output_cost_per_image") && !pruned.contains("max_tokens"));
        let again = import_litellm(&pruned, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again.models, imp.models);
        assert_eq!(again.pruned_json(), pruned);
    }

    #[test]
    fn bad_prices_name_the_entry() {
        let err = import_litellm(
            r#"{"m": {"input_cost_per_token": 3, "output_cost_per_token": 1e-6}}"#,
            Some("p.json"),
        );
        let text = err.map(|_| ()).err().map(|e| (e.code(), e.to_string()));
        assert!(
            matches!(text, Some(("ERR_OMEGA_PRICE_FILE", ref m)) if m.contains("`m`.input_cost_per_token") && m.contains("p.json"))
        );
        assert!(import_litellm("[]", None).is_err());
        assert!(import_litellm("{", None).is_err());
    }

    fn real_file() -> String {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/litellm/model_prices_chat.json"
        );
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// Every `mode: "chat"` entry of the real LiteLLM map (1.110.2) with per-token prices
    /// imports, and prices a sample usage as tokens × price per field, to the µUSD (rounded up).
    #[test]
    fn real_litellm_chat_entries() {
        use crate::budget::BudgetSettings;
        let text = real_file();
        let raw: Map<String, Value> = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        let imp =
            import_litellm(&text, Some("model_prices_chat.json")).unwrap_or_else(|e| panic!("{e}"));
        let f = |m: &Map<String, Value>, k: &str| m.get(k).and_then(Value::as_f64);
        let mut priced = 0;
        let mut no_price = 0;
        for (name, entry) in &raw {
            let Some(m) = entry.as_object() else { continue };
            if m.get("mode").and_then(Value::as_str) != Some("chat") {
                continue;
            }
            let (Some(input), Some(output)) =
                (f(m, "input_cost_per_token"), f(m, "output_cost_per_token"))
            else {
                assert!(!imp.models.contains_key(name), "{name}");
                no_price += 1;
                continue;
            };
            let price = imp
                .models
                .get(name)
                .unwrap_or_else(|| panic!("{name} not imported"));
            let read = f(m, "cache_read_input_token_cost").unwrap_or(input);
            let write = f(m, "cache_creation_input_token_cost").unwrap_or(input);
            let write_1h = f(m, "cache_creation_input_token_cost_above_1hr").unwrap_or(write);
            let reasoning = f(m, "output_cost_per_reasoning_token");
            // 12,000 input tokens (3,000 cached reads, 2,000 writes of which 500 for 1 hour),
            // 900 output tokens (300 reasoning). Below every tier (the lowest is 32k).
            let u = Usage {
                input_tokens: 12_000,
                cached_input_tokens: 3_000,
                cache_write_tokens: 2_000,
                cache_write_1h_tokens: 500,
                output_tokens: 900,
                reasoning_tokens: 300,
            };
            let out_usd = match reasoning {
                Some(r) => 600.0 * output + 300.0 * r,
                None => 900.0 * output,
            };
            let usd =
                7_000.0 * input + 3_000.0 * read + 1_500.0 * write + 500.0 * write_1h + out_usd;
            let micro = price.cost_micro(&u) as f64;
            let exact = usd * 1e6;
            assert!(
                micro >= exact - 1e-6 && micro < exact + 1.0,
                "{name}: {micro} µUSD vs {exact}"
            );
            priced += 1;
        }
        assert_eq!(priced + no_price, 3_471);
        assert_eq!(priced, imp.models.len());
        assert!(priced > 3_300, "{priced}");

        // The >200k tier switches at 200,001 input tokens, on every token.
        let settings = BudgetSettings {
            max_per_call_micro_usd: 1,
            max_per_run_micro_usd: 1,
            max_output_tokens: 1,
            models: imp.models.clone(),
            aliases: imp.aliases.clone(),
        };
        let mut tiered = 0;
        for (name, entry) in &raw {
            let Some(m) = entry.as_object() else { continue };
            let (Some(hi_in), Some(lo_in)) = (
                f(m, "input_cost_per_token_above_200k_tokens"),
                f(m, "input_cost_per_token"),
            ) else {
                continue;
            };
            if m.get("mode").and_then(Value::as_str) != Some("chat")
                || m.keys().any(|k| {
                    k.contains("_above_32k")
                        || k.contains("_above_100k")
                        || k.contains("_above_128k")
                })
            {
                continue;
            }
            let price = &imp.models[name];
            let at = |n: u64| {
                price.cost_micro(&Usage {
                    input_tokens: n,
                    ..Default::default()
                }) as f64
            };
            assert!(
                (at(200_000) - (200_000.0 * lo_in * 1e6)).abs() < 1.0,
                "{name}"
            );
            assert!(
                (at(200_001) - (200_001.0 * hi_in * 1e6)).abs() < 1.0,
                "{name}"
            );
            tiered += 1;
        }
        assert!(tiered > 50, "{tiered}");

        // Dated snapshots and prefixes resolve; nothing else does.
        let r = |m: &str| settings.resolve(m).map(|(_, x)| (x.matched, x.rule));
        assert_eq!(
            r("gpt-4o-2024-08-06"),
            Some(("gpt-4o-2024-08-06".into(), "exact"))
        );
        assert_eq!(
            r("gpt-4o-2099-01-01"),
            Some(("gpt-4o".into(), "dated_snapshot"))
        );
        assert_eq!(
            r("claude-sonnet-5-5-20261001"),
            Some(("claude-sonnet-5-5".into(), "dated_snapshot"))
        );
        assert_eq!(
            r("anthropic/claude-sonnet-5-5"),
            Some(("claude-sonnet-5-5".into(), "provider_prefix"))
        );
        assert_eq!(r("no-such-model-7"), None);
        let sonnet = settings
            .resolve("claude-sonnet-4-5")
            .map(|(_, x)| x.deprecation_date);
        assert_eq!(sonnet, Some(Some("2026-11-30".into())));
    }
}
