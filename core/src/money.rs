//! Money as integers. Budgets and costs are whole **micro-USD** (1 USD = 1,000,000 µUSD); prices
//! per token are whole **pico-USD** (1 µUSD = 1,000,000 pUSD) so that cheap cached-token prices
//! ($0.30 per million tokens = 300,000 pUSD per token) stay exact. Dollars exist only at the edges.

/// A per-token price above this (USD) is almost surely a per-**million** price typed in the
/// wrong field: $1,000 per million tokens is beyond any model on sale.
pub const MAX_SANE_PRICE_PER_TOKEN_USD: f64 = 0.001;

/// Micro-USD per USD.
pub const MICRO_PER_USD: u64 = 1_000_000;
/// Pico-USD per micro-USD.
pub const PICO_PER_MICRO: u128 = 1_000_000;

/// Converts a micro-USD amount to dollars (for reports and messages only).
pub fn micro_to_usd(micro: u64) -> f64 {
    micro as f64 / MICRO_PER_USD as f64
}

/// Converts dollars to whole micro-USD, rounding to the nearest µUSD. `None` when the value is
/// not finite, negative, or too large to count.
pub fn usd_to_micro(usd: f64) -> Option<u64> {
    if !usd.is_finite() || usd < 0.0 {
        return None;
    }
    let micro = (usd * MICRO_PER_USD as f64).round();
    if micro > 9.0e15 {
        return None;
    }
    Some(micro as u64)
}

/// Converts a per-token dollar price to whole pico-USD per token, rounding to the nearest pUSD;
/// a non-zero price below half a pUSD becomes 1 pUSD (never 0: a priced token is never free).
pub fn usd_per_token_to_pico(usd: f64) -> Option<u64> {
    if !usd.is_finite() || usd < 0.0 {
        return None;
    }
    let pico = (usd * 1e12).round();
    if pico > 9.0e15 {
        return None;
    }
    if pico == 0.0 && usd > 0.0 {
        return Some(1);
    }
    Some(pico as u64)
}

/// Rounds a pico-USD amount **up** to whole micro-USD: a budget never under-counts.
pub fn pico_to_micro_ceil(pico: u128) -> u64 {
    let micro = pico.div_ceil(PICO_PER_MICRO);
    u64::try_from(micro).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_values() {
        assert_eq!(usd_to_micro(0.5), Some(500_000));
        assert_eq!(usd_to_micro(-0.01), None);
        assert_eq!(usd_to_micro(f64::NAN), None);
        assert_eq!(usd_per_token_to_pico(3e-6), Some(3_000_000));
        assert_eq!(usd_per_token_to_pico(3e-7), Some(300_000));
        assert_eq!(pico_to_micro_ceil(1), 1);
        assert_eq!(pico_to_micro_ceil(1_000_000), 1);
        assert_eq!(pico_to_micro_ceil(1_000_001), 2);
        assert_eq!(pico_to_micro_ceil(0), 0);
    }

    #[test]
    fn papercut_05_tiny_price_never_costs_zero() {
        assert_eq!(usd_per_token_to_pico(4e-13), Some(1));
        assert_eq!(usd_per_token_to_pico(0.0), Some(0));
        let price = crate::budget::ModelPrice {
            input_pico: usd_per_token_to_pico(4e-13).unwrap_or(0),
            cache_read_pico: 0,
            cache_write_pico: 0,
            output_pico: usd_per_token_to_pico(4e-13).unwrap_or(0),
            reasoning_pico: None,
            ..Default::default()
        };
        let usage = crate::budget::Usage {
            input_tokens: 1,
            output_tokens: 1,
            ..Default::default()
        };
        assert_eq!(price.cost_micro(&usage), 1, "rounded up to one µUSD");
    }

    proptest! {
        #[test]
        fn micro_round_trips_through_dollars(micro in 0u64..1_000_000_000_000) {
            prop_assert_eq!(usd_to_micro(micro_to_usd(micro)), Some(micro));
        }

        #[test]
        fn ceil_never_undercounts(pico in 0u128..u64::MAX as u128) {
            let micro = pico_to_micro_ceil(pico) as u128;
            prop_assert!(micro * PICO_PER_MICRO >= pico);
            prop_assert!(micro * PICO_PER_MICRO < pico + PICO_PER_MICRO);
        }
    }
}
