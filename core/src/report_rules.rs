//! Small rules every report shares, in one place: the report clock (`SOURCE_DATE_EPOCH`) and the
//! nearest-rank percentile of latency-style figures. Both bindings and the TS layer call these
//! instead of restating them.

/// Largest integer a JS number holds exactly (2^53 − 1).
const MAX_SAFE: u64 = 9_007_199_254_740_991;

/// Parses a `SOURCE_DATE_EPOCH` value: whole seconds since the Unix epoch, ASCII digits only
/// (surrounding whitespace ignored), at most 2^53 − 1. Anything else (empty, signed, fractional,
/// exponent, hex, too large) is `None`: the caller then uses its clock. The one parser of the
/// variable (reproducible-builds.org spec) for the addon, the wasm build and the TS layer.
pub fn parse_source_date_epoch(value: &str) -> Option<u64> {
    let v = value.trim();
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse::<u64>().ok().filter(|n| *n <= MAX_SAFE)
}

/// Nearest-rank percentile (`p` in 0..=100) of values sorted ascending: the value at rank
/// ⌈p/100 · n⌉ (clamped to 1..=n); 0 for no values.
pub fn nearest_rank(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil();
    let rank = if rank.is_nan() { 1 } else { rank as usize };
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_date_epoch_accepts_whole_seconds_only() {
        assert_eq!(parse_source_date_epoch("1700000000"), Some(1_700_000_000));
        assert_eq!(parse_source_date_epoch(" 0\n"), Some(0));
        assert_eq!(parse_source_date_epoch("9007199254740991"), Some(MAX_SAFE));
        for bad in [
            "",
            " ",
            "-1",
            "+1",
            "1.5",
            "1e9",
            "0x10",
            "12abc",
            "9007199254740992",
        ] {
            assert_eq!(parse_source_date_epoch(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn nearest_rank_percentile() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0];
        assert_eq!(nearest_rank(&v, 50.0), 5.0);
        assert_eq!(nearest_rank(&v, 99.0), 10.0);
        assert_eq!(nearest_rank(&v, 0.0), 1.0);
        assert_eq!(nearest_rank(&v, 100.0), 10.0);
        assert_eq!(nearest_rank(&v, 11.0), 2.0);
        assert_eq!(nearest_rank(&[], 50.0), 0.0);
        assert_eq!(nearest_rank(&[7.0], 99.0), 7.0);
    }
}
