//! Checks of the numbers JS callers pass (IEEE doubles): a count, index or clock reading must
//! be a finite, non-negative whole number that fits in `u64` without loss (≤ 2^53 − 1). One
//! rule for every binding; errors name the caller's field.

use crate::error::{Error, Result};

/// Largest integer a JS number holds exactly (2^53 − 1).
pub const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// Reads `value` as a whole number (finite, ≥ 0, no fraction, ≤ 2^53 − 1); otherwise
/// [`Error::InvalidArgument`] naming `field`.
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
    if value.fract() != 0.0 || value > MAX_SAFE_INTEGER {
        return Err(Error::invalid(
            field,
            format!("must be a whole number ≤ 2^53−1, got {value}"),
        ));
    }
    Ok(value as u64)
}

/// Reads an optional whole number (see [`whole`]).
pub fn whole_opt(field: &str, value: Option<f64>) -> Result<Option<u64>> {
    value.map(|v| whole(field, v)).transpose()
}

/// Reads a seed (a whole number ≤ 2^53 − 1); otherwise [`Error::SeedRange`].
pub fn seed(value: f64) -> Result<u64> {
    if !value.is_finite() || value < 0.0 || value.fract() != 0.0 || value > MAX_SAFE_INTEGER {
        return Err(Error::SeedRange {
            value: format!("{value}"),
        });
    }
    Ok(value as u64)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may panic
mod tests {
    use super::*;
    use crate::calibration::MAX_SEED;

    #[test]
    fn whole_numbers_and_their_errors() {
        assert_eq!(whole("n", 0.0).unwrap(), 0);
        assert_eq!(whole("n", MAX_SAFE_INTEGER).unwrap(), (1 << 53) - 1);
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
        assert!(whole("n", MAX_SAFE_INTEGER + 2.0).is_err());
        assert_eq!(whole_opt("n", None).unwrap(), None);
        assert_eq!(whole_opt("n", Some(3.0)).unwrap(), Some(3));
    }

    #[test]
    fn seeds() {
        assert_eq!(seed(42.0).unwrap(), 42);
        assert_eq!(MAX_SEED, (1 << 53) - 1);
        for bad in [-1.0, 0.5, f64::INFINITY, MAX_SAFE_INTEGER + 2.0] {
            assert_eq!(seed(bad).unwrap_err().code(), "ERR_OMEGA_SEED_RANGE");
        }
    }
}
