//! Positive amounts of money, held as integer minor units.
//!
//! Floats never appear here: amounts are parsed from decimal text exactly and
//! rendered back to text exactly, so what the merchant sent is what the
//! provider is asked to collect.

use crate::currency::Currency;
use serde::{Deserialize, Serialize};

/// Largest accepted amount in minor units (10^14). It is far above any mobile
/// money wallet limit yet leaves ample headroom below `i64::MAX` for sums.
pub const MAX_MINOR: i64 = 100_000_000_000_000;

/// U+00A0. French CLDR data uses U+202F (narrow no-break space) as thousands
/// separator, but many fonts, e-mail clients and SMS gateways still render it
/// as a box or drop it; U+00A0 keeps the "no line break" guarantee everywhere.
const FR_SPACE: char = '\u{a0}';

/// Why an amount was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("amount must be greater than zero")]
    Zero,
    #[error("amount must not be negative")]
    Negative,
    #[error("{}", fractional_message(.currency))]
    FractionalAmount { currency: Currency },
    #[error("amount is too large (at most 100000000000000 minor units)")]
    TooLarge,
    #[error("amount is not a valid decimal number")]
    Invalid,
}

fn fractional_message(currency: &Currency) -> String {
    match currency.exponent() {
        0 => format!("{currency} amounts must be whole numbers"),
        n => format!("{currency} amounts cannot have more than {n} decimal places"),
    }
}

/// A strictly positive amount in a given currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawMoney", into = "RawMoney")]
pub struct Money {
    minor: i64,
    currency: Currency,
}

/// Wire form of `Money`; deserialisation goes through `from_minor` so that no
/// invalid amount can enter through serde.
#[derive(Serialize, Deserialize)]
struct RawMoney {
    minor: i64,
    currency: Currency,
}

impl TryFrom<RawMoney> for Money {
    type Error = MoneyError;
    fn try_from(raw: RawMoney) -> Result<Self, Self::Error> {
        Money::from_minor(raw.minor, raw.currency)
    }
}

impl From<Money> for RawMoney {
    fn from(m: Money) -> Self {
        RawMoney {
            minor: m.minor,
            currency: m.currency,
        }
    }
}

impl Money {
    pub const MAX_MINOR: i64 = MAX_MINOR;

    pub fn from_minor(minor: i64, currency: Currency) -> Result<Money, MoneyError> {
        match minor {
            0 => Err(MoneyError::Zero),
            m if m < 0 => Err(MoneyError::Negative),
            m if m > MAX_MINOR => Err(MoneyError::TooLarge),
            _ => Ok(Money { minor, currency }),
        }
    }

    /// Parses an amount written in major units ("10.50" euros), exactly.
    ///
    /// Scientific notation ("1e3", "1.5e1") is accepted because JSON
    /// serialisers emit it for large numbers; it is still evaluated exactly.
    /// Digits beyond the currency's exponent are refused unless they are
    /// zeros, since silently rounding someone's money is never right.
    pub fn parse_major(text: &str, currency: Currency) -> Result<Money, MoneyError> {
        let minor = crate::decimal::parse_scaled(text, currency)?;
        Money::from_minor(minor, currency)
    }

    pub fn minor(&self) -> i64 {
        self.minor
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// Plain decimal text in major units with exactly `exponent` decimals,
    /// e.g. "10000" (XOF) or "10.50" (EUR). `parse_major` reads it back.
    pub fn to_major_string(&self) -> String {
        let (int, frac) = self.split();
        match frac {
            Some(frac) => format!("{int}.{frac}"),
            None => int,
        }
    }

    /// French rendering for customers: "10 000 FCFA", "1 234,50 €".
    ///
    /// Separators are U+00A0 rather than the U+202F of CLDR; see `FR_SPACE`.
    pub fn format_fr(&self) -> String {
        let (int, frac) = self.split();
        let mut out = group(&int, FR_SPACE);
        if let Some(frac) = frac {
            out.push(',');
            out.push_str(&frac);
        }
        out.push(FR_SPACE);
        out.push_str(match self.currency {
            Currency::XOF | Currency::XAF => "FCFA",
            Currency::EUR => "€",
            Currency::USD => "$US",
            Currency::GNF => "GNF",
            Currency::GMD => "GMD",
        });
        out
    }

    /// English rendering with the ISO code first: "XOF 10,000", "EUR 10.50".
    pub fn format_en(&self) -> String {
        let (int, frac) = self.split();
        let mut out = format!("{} {}", self.currency.code(), group(&int, ','));
        if let Some(frac) = frac {
            out.push('.');
            out.push_str(&frac);
        }
        out
    }

    /// Integer digits and, for currencies with minor units, the zero-padded
    /// fractional digits.
    fn split(&self) -> (String, Option<String>) {
        let exp = usize::from(self.currency.exponent());
        if exp == 0 {
            return (self.minor.to_string(), None);
        }
        let digits = format!("{:0>width$}", self.minor, width = exp + 1);
        let (int, frac) = digits.split_at(digits.len() - exp);
        (int.to_owned(), Some(frac.to_owned()))
    }
}

/// Inserts `sep` every three digits from the right of an ASCII digit string.
fn group(digits: &str, sep: char) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 * sep.len_utf8());
    // Counting down rather than testing `% 3 == 0` keeps this readable
    // without `is_multiple_of`, which is newer than the workspace MSRV.
    let mut until_sep = match digits.len() % 3 {
        0 => 3,
        n => n,
    };
    for c in digits.chars() {
        if until_sep == 0 {
            out.push(sep);
            until_sep = 3;
        }
        out.push(c);
        until_sep -= 1;
    }
    out
}
