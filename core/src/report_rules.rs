//! Small rules every report shares, in one place: the report clock (`SOURCE_DATE_EPOCH`), the
//! nearest-rank percentile of latency-style figures, and how run folders are named (the runbook's
//! `stress100_20260212_143000`, shards, `_latest`). Both bindings and the TS layer call these
//! instead of restating them.

use crate::numbers::MAX_SAFE_INTEGER as MAX_SAFE;

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

/// The run-folder timestamp of `epoch_secs` (UTC): `YYYYMMDD_HHMMSS`, as the runbook names run
/// folders (`stress100_20260212_143000`).
pub fn run_stamp(epoch_secs: u64) -> String {
    let days = epoch_secs / 86_400;
    let secs = epoch_secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}_{:02}{:02}{:02}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

/// The proleptic Gregorian date of `days` since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// The folder name of a stress run: `stress<count>_<stamp>`, and `_shard<i>of<n>` for shard `i`
/// of `n` (1-based).
pub fn stress_run_name(count: u64, stamp: &str, shard: Option<(u64, u64)>) -> String {
    match shard {
        Some((i, n)) => format!("stress{count}_{stamp}_shard{i}of{n}"),
        None => format!("stress{count}_{stamp}"),
    }
}

/// Whether a run folder name is a shard's (`…_shard<i>of<n>`): shards never move a `_latest` link.
pub fn is_shard_run(name: &str) -> bool {
    let Some((_, tail)) = name.rsplit_once("_shard") else {
        return false;
    };
    let Some((i, n)) = tail.split_once("of") else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(i) && digits(n)
}

/// The `PR_RUNS/<kind>_latest` alias of a run folder name: its kind (before the first `_`) +
/// `_latest` (`stress100_20260212_143000` → `stress100_latest`).
pub fn latest_alias(run_name: &str) -> String {
    let kind = run_name.split('_').next().unwrap_or(run_name);
    format!("{kind}_latest")
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
    fn run_folders_are_named_as_the_runbook_names_them() {
        assert_eq!(run_stamp(0), "19700101_000000");
        assert_eq!(run_stamp(1_707_748_200), "20240212_143000");
        assert_eq!(run_stamp(951_782_400), "20000229_000000"); // a leap day
        assert_eq!(run_stamp(4_102_444_799), "20991231_235959");
        let stamp = run_stamp(1_707_748_200);
        assert_eq!(
            stress_run_name(100, &stamp, None),
            "stress100_20240212_143000"
        );
        let shard = stress_run_name(100, &stamp, Some((2, 4)));
        assert_eq!(shard, "stress100_20240212_143000_shard2of4");
        assert!(is_shard_run(&shard));
        assert!(!is_shard_run("stress100_20240212_143000"));
        assert!(!is_shard_run("stress100_x_shardof4"));
        assert_eq!(
            latest_alias("stress100_20240212_143000"),
            "stress100_latest"
        );
        assert_eq!(latest_alias("chaos_20240212_143000"), "chaos_latest");
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
