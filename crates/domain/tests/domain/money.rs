use nexpay_domain::{Currency, Money, MoneyError, MAX_MINOR};

fn major(text: &str, c: Currency) -> Result<i64, MoneyError> {
    Money::parse_major(text, c).map(|m| m.minor())
}

#[test]
fn from_minor_bounds() {
    assert_eq!(Money::from_minor(0, Currency::XOF), Err(MoneyError::Zero));
    assert_eq!(
        Money::from_minor(-1, Currency::XOF),
        Err(MoneyError::Negative)
    );
    assert_eq!(
        Money::from_minor(i64::MIN, Currency::XOF),
        Err(MoneyError::Negative)
    );
    assert_eq!(
        Money::from_minor(MAX_MINOR + 1, Currency::XOF),
        Err(MoneyError::TooLarge)
    );
    assert_eq!(
        Money::from_minor(i64::MAX, Currency::EUR),
        Err(MoneyError::TooLarge)
    );
    let m = Money::from_minor(1, Currency::EUR).unwrap();
    assert_eq!((m.minor(), m.currency()), (1, Currency::EUR));
    assert_eq!(
        Money::from_minor(MAX_MINOR, Currency::XOF).unwrap().minor(),
        MAX_MINOR
    );
    assert_eq!(MAX_MINOR, 100_000_000_000_000);
    assert_eq!(Money::MAX_MINOR, MAX_MINOR);
}

#[test]
fn parses_whole_and_decimal_amounts() {
    assert_eq!(major("10000", Currency::XOF), Ok(10000));
    assert_eq!(major("10.50", Currency::EUR), Ok(1050));
    assert_eq!(major("10.5", Currency::EUR), Ok(1050));
    assert_eq!(major("10", Currency::EUR), Ok(1000));
    assert_eq!(major("0.01", Currency::USD), Ok(1));
    assert_eq!(major("007", Currency::GNF), Ok(7));
    assert_eq!(major(" 25 ", Currency::XAF), Ok(25));
}

#[test]
fn trailing_zero_decimals_are_exact_and_accepted() {
    assert_eq!(major("10.0", Currency::XOF), Ok(10));
    assert_eq!(major("10.000", Currency::XOF), Ok(10));
    assert_eq!(major("10.500", Currency::EUR), Ok(1050));
    assert_eq!(major("1.2300000000000000000000", Currency::GMD), Ok(123));
}

#[test]
fn refuses_more_decimals_than_the_currency_has() {
    let xof = MoneyError::FractionalAmount {
        currency: Currency::XOF,
    };
    let eur = MoneyError::FractionalAmount {
        currency: Currency::EUR,
    };
    assert_eq!(major("10.5", Currency::XOF), Err(xof));
    assert_eq!(major("0.5", Currency::XOF), Err(xof));
    assert_eq!(major("10.501", Currency::EUR), Err(eur));
    assert_eq!(major("0.001", Currency::EUR), Err(eur));
    assert_eq!(major("1e-1", Currency::XOF), Err(xof));
    assert_eq!(major("1e-999999999999", Currency::XOF), Err(xof));
}

#[test]
fn zero_and_negative() {
    for zero in ["0", "0.00", "-0", "000", "0e5", "0.0e-3"] {
        assert_eq!(major(zero, Currency::EUR), Err(MoneyError::Zero), "{zero}");
    }
    assert_eq!(major("-5", Currency::XOF), Err(MoneyError::Negative));
    assert_eq!(major("-0.5", Currency::XOF), Err(MoneyError::Negative));
    assert_eq!(major("-1e30", Currency::XOF), Err(MoneyError::Negative));
}

#[test]
fn too_large() {
    assert_eq!(major("100000000000000", Currency::XOF), Ok(MAX_MINOR));
    assert_eq!(
        major("100000000000001", Currency::XOF),
        Err(MoneyError::TooLarge)
    );
    assert_eq!(major("1000000000000.00", Currency::EUR), Ok(MAX_MINOR));
    assert_eq!(
        major("1000000000000.01", Currency::EUR),
        Err(MoneyError::TooLarge)
    );
    assert_eq!(
        major("99999999999999999999999999", Currency::XOF),
        Err(MoneyError::TooLarge)
    );
    assert_eq!(major("1e20", Currency::XOF), Err(MoneyError::TooLarge));
    assert_eq!(major("1e14", Currency::XOF), Ok(MAX_MINOR));
    assert_eq!(major("1e15", Currency::XOF), Err(MoneyError::TooLarge));
    assert_eq!(
        major("1e99999999999999999999", Currency::XOF),
        Err(MoneyError::TooLarge)
    );
    assert_eq!(
        major("9223372036854775808", Currency::XOF),
        Err(MoneyError::TooLarge)
    );
}

#[test]
fn scientific_notation_is_exact() {
    assert_eq!(major("1e3", Currency::XOF), Ok(1000));
    assert_eq!(major("1E3", Currency::XOF), Ok(1000));
    assert_eq!(major("1e+3", Currency::XOF), Ok(1000));
    assert_eq!(major("1.5e1", Currency::XOF), Ok(15));
    assert_eq!(major("1.5e1", Currency::EUR), Ok(1500));
    assert_eq!(major("1050e-2", Currency::EUR), Ok(1050));
    assert_eq!(major("15000e-3", Currency::XOF), Ok(15));
    assert_eq!(major("1.23456789e8", Currency::XOF), Ok(123_456_789));
}

#[test]
fn refuses_non_numbers() {
    for bad in [
        "", " ", "abc", "10a", "1,5", "10 000", ".5", "5.", "1..2", "1.2.3", "+5", "--5", "-",
        "e3", "1e", "1e+", "1e-", "1e3.5", "NaN", "inf", "Infinity", "0x10", "1_000", "١٢",
        "1e3e3", "\u{0}",
    ] {
        assert_eq!(
            major(bad, Currency::EUR),
            Err(MoneyError::Invalid),
            "{bad:?}"
        );
    }
}

#[test]
fn renders_major_units() {
    let m = |minor, c| Money::from_minor(minor, c).unwrap();
    assert_eq!(m(10000, Currency::XOF).to_major_string(), "10000");
    assert_eq!(m(1050, Currency::EUR).to_major_string(), "10.50");
    assert_eq!(m(5, Currency::USD).to_major_string(), "0.05");
    assert_eq!(m(100, Currency::GMD).to_major_string(), "1.00");
}

#[test]
fn french_format_uses_no_break_spaces() {
    let m = |minor, c| Money::from_minor(minor, c).unwrap();
    assert_eq!(m(10000, Currency::XOF).format_fr(), "10\u{a0}000\u{a0}FCFA");
    assert_eq!(m(10000, Currency::XAF).format_fr(), "10\u{a0}000\u{a0}FCFA");
    assert_eq!(m(500, Currency::XOF).format_fr(), "500\u{a0}FCFA");
    assert_eq!(
        m(1_234_567, Currency::GNF).format_fr(),
        "1\u{a0}234\u{a0}567\u{a0}GNF"
    );
    assert_eq!(m(1050, Currency::EUR).format_fr(), "10,50\u{a0}€");
    assert_eq!(
        m(123_456_789, Currency::EUR).format_fr(),
        "1\u{a0}234\u{a0}567,89\u{a0}€"
    );
    assert_eq!(m(5, Currency::USD).format_fr(), "0,05\u{a0}$US");
    assert_eq!(m(2500, Currency::GMD).format_fr(), "25,00\u{a0}GMD");
    assert!(!m(100_000, Currency::XOF).format_fr().contains('\u{202f}'));
}

#[test]
fn english_format_puts_the_code_first() {
    let m = |minor, c| Money::from_minor(minor, c).unwrap();
    assert_eq!(m(10000, Currency::XOF).format_en(), "XOF 10,000");
    assert_eq!(m(999, Currency::XOF).format_en(), "XOF 999");
    assert_eq!(m(100_000_000, Currency::XOF).format_en(), "XOF 100,000,000");
    assert_eq!(m(1050, Currency::EUR).format_en(), "EUR 10.50");
    assert_eq!(
        m(123_456_789, Currency::USD).format_en(),
        "USD 1,234,567.89"
    );
}

#[test]
fn error_messages_are_human() {
    let frac = MoneyError::FractionalAmount {
        currency: Currency::XOF,
    };
    assert_eq!(frac.to_string(), "XOF amounts must be whole numbers");
    let frac = MoneyError::FractionalAmount {
        currency: Currency::EUR,
    };
    assert_eq!(
        frac.to_string(),
        "EUR amounts cannot have more than 2 decimal places"
    );
    assert_eq!(
        MoneyError::Zero.to_string(),
        "amount must be greater than zero"
    );
}

#[test]
fn serde_validates() {
    let m = Money::from_minor(1050, Currency::EUR).unwrap();
    let json = serde_json::to_string(&m).unwrap();
    assert_eq!(json, r#"{"minor":1050,"currency":"EUR"}"#);
    assert_eq!(serde_json::from_str::<Money>(&json).unwrap(), m);
    assert!(serde_json::from_str::<Money>(r#"{"minor":0,"currency":"EUR"}"#).is_err());
    assert!(serde_json::from_str::<Money>(r#"{"minor":-3,"currency":"EUR"}"#).is_err());
    assert!(serde_json::from_str::<Money>(r#"{"minor":1.5,"currency":"EUR"}"#).is_err());
}
