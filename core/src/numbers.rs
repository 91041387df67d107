//! Numbers as JavaScript holds them: the one home of the whole-number rule (finite, ≥ 0, no
//! fraction, at most 2^53 − 1 so it round-trips through a JS number) that every count, delay and
//! seed given through the bindings must meet. The bindings convert a JS number with these and
//! never restate them.

use crate::{Error, Result};

/// The largest integer a JS number holds exactly: `Number.MAX_SAFE_INTEGER` (2^53 − 1).
pub const MAX_SAFE_INTEGER: u64 = 9_007_199_254_740_991;

/// `value` as a whole number, or [`Error::InvalidArgument`] naming `field`: not finite,
/// negative, fractional or above [`MAX_SAFE_INTEGER`].
pub fn whole(field: &str, value: f64) -> Result<u64> {
    if !value.is_finite() {
        return Err(Error::invalid(
            field,
            format!("must be a finite number, got {value}"),
        ));
    }
    if value < 0.0 {
        return Err(Error::invalid(
            field,
            format!("must not be negative, got {value}"),
        ));
    }
    if value.fract() != 0.0 || value > MAX_SAFE_INTEGER as f64 {
        return Err(Error::invalid(
            field,
            format!("must be a whole number ≤ 2^53−1, got {value}"),
        ));
    }
    Ok(value as u64)
}

/// An optional whole number (see [`whole`]).
pub fn whole_opt(field: &str, value: Option<f64>) -> Result<Option<u64>> {
    value.map(|v| whole(field, v)).transpose()
}

/// `value` as a seed (a whole number ≤ 2^53 − 1), or [`Error::SeedRange`].
pub fn seed(value: f64) -> Result<u64> {
    whole("seed", value).map_err(|_| Error::SeedRange {
        value: format!("{value}"),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on a broken fixture
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_up_to_two_to_the_53_minus_one() {
        assert_eq!(whole("n", 0.0).unwrap(), 0);
        assert_eq!(
            whole("n", 9_007_199_254_740_991.0).unwrap(),
            MAX_SAFE_INTEGER
        );
        for bad in [f64::NAN, f64::INFINITY, -1.0, 0.5, 9_007_199_254_740_992.0] {
            let e = whole("retry.maxDelayMs", bad).unwrap_err();
            assert!(e.to_string().contains("retry.maxDelayMs"), "{e}");
        }
        assert!(matches!(seed(-1.0), Err(Error::SeedRange { .. })));
        assert_eq!(seed(42.0).unwrap(), 42);
    }

    #[test]
    fn messages_name_the_field() {
        let msg = |v: f64| whole("options.n", v).unwrap_err().to_string();
        assert_eq!(
            msg(f64::NAN),
            "invalid argument `options.n`: must be a finite number, got NaN"
        );
        assert_eq!(
            msg(-1.0),
            "invalid argument `options.n`: must not be negative, got -1"
        );
        assert_eq!(
            msg(1.5),
            "invalid argument `options.n`: must be a whole number ≤ 2^53−1, got 1.5"
        );
        assert_eq!(whole_opt("n", None).unwrap(), None);
        assert_eq!(whole_opt("n", Some(3.0)).unwrap(), Some(3));
        assert_eq!(crate::calibration::MAX_SEED, (1 << 53) - 1);
        for bad in [-1.0, 0.5, f64::INFINITY, MAX_SAFE_INTEGER as f64 + 2.0] {
            assert_eq!(seed(bad).unwrap_err().code(), "ERR_OMEGA_SEED_RANGE");
        }
    }
}
