//! Exact conversion of decimal text to integer minor units.
//!
//! The text is handled as a digit string plus a power of ten, never as a
//! binary float, so "0.1" + "0.2" style errors cannot exist.

use crate::currency::Currency;
use crate::money::{MoneyError, MAX_MINOR};

/// Digits of `MAX_MINOR`; any longer significant digit string is too large.
const MAX_DIGITS: usize = 15;

/// Exponents are clamped to this magnitude: beyond it the outcome (too large,
/// or fractional) no longer depends on the exact value, and clamping keeps
/// the arithmetic below free of overflow.
const EXPONENT_CLAMP: i64 = 1_000_000;

/// Parses `[-]digits[.digits][(e|E)[+|-]digits]` (surrounding whitespace
/// ignored) into minor units of `currency`.
///
/// Error precedence: syntax, then zero, then sign, then precision, then size,
/// so that "-0.5" for XOF reports the sign rather than the decimals.
pub(crate) fn parse_scaled(text: &str, currency: Currency) -> Result<i64, MoneyError> {
    let text = text.trim();
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = match body.split_once(['e', 'E']) {
        Some((m, e)) => (m, parse_exponent(e)?),
        None => (body, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if !is_digits(int) || (mantissa.contains('.') && !is_digits(frac)) {
        return Err(MoneyError::Invalid);
    }

    let all: String = [int, frac].concat();
    let significant = all.trim_start_matches('0');
    if significant.is_empty() {
        return Err(MoneyError::Zero);
    }
    if negative {
        return Err(MoneyError::Negative);
    }

    // Value = significant * 10^shift, in minor units.
    let frac_len = i64::try_from(frac.len()).map_err(|_| MoneyError::Invalid)?;
    let shift = exponent - frac_len + i64::from(currency.exponent());

    let mut digits = significant.to_owned();
    if shift < 0 {
        let drop = usize::try_from(shift.unsigned_abs()).unwrap_or(usize::MAX);
        let trailing_zeros = digits.len() - digits.trim_end_matches('0').len();
        if drop > trailing_zeros {
            return Err(MoneyError::FractionalAmount { currency });
        }
        digits.truncate(digits.len() - drop);
    } else {
        let append = usize::try_from(shift).unwrap_or(usize::MAX);
        if append > MAX_DIGITS.saturating_sub(digits.len()) {
            return Err(MoneyError::TooLarge);
        }
        digits.extend(std::iter::repeat_n('0', append));
    }
    if digits.len() > MAX_DIGITS {
        return Err(MoneyError::TooLarge);
    }
    match digits.parse::<i64>() {
        Ok(minor) if minor <= MAX_MINOR => Ok(minor),
        Ok(_) => Err(MoneyError::TooLarge),
        Err(_) => Err(MoneyError::Invalid),
    }
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn parse_exponent(text: &str) -> Result<i64, MoneyError> {
    let (sign, digits) = match text.as_bytes().first() {
        Some(b'-') => (-1, &text[1..]),
        Some(b'+') => (1, &text[1..]),
        _ => (1, text),
    };
    if !is_digits(digits) {
        return Err(MoneyError::Invalid);
    }
    let magnitude = digits.bytes().fold(0_i64, |acc, b| {
        (acc * 10 + i64::from(b - b'0')).min(EXPONENT_CLAMP)
    });
    Ok(sign * magnitude)
}
