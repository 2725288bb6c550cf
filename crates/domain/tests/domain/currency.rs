use nexpay_domain::{Currency, DomainError};

#[test]
fn parses_every_supported_code() {
    for c in Currency::ALL {
        assert_eq!(Currency::parse(c.code()).unwrap(), *c);
        assert_eq!(c.to_string(), c.code());
    }
    assert_eq!(Currency::ALL.len(), 6);
}

#[test]
fn exponents_follow_iso_4217() {
    assert_eq!(Currency::XOF.exponent(), 0);
    assert_eq!(Currency::XAF.exponent(), 0);
    assert_eq!(Currency::GNF.exponent(), 0);
    assert_eq!(Currency::GMD.exponent(), 2);
    assert_eq!(Currency::EUR.exponent(), 2);
    assert_eq!(Currency::USD.exponent(), 2);
}

#[test]
fn refuses_lower_case_unknown_and_padded_codes() {
    for bad in ["xof", "Xof", "GBP", "", " XOF", "XOF ", "XOFX", "FCFA"] {
        assert_eq!(
            Currency::parse(bad),
            Err(DomainError::UnsupportedCurrency(bad.to_owned())),
            "{bad:?}"
        );
    }
}

#[test]
fn error_echo_is_bounded() {
    let long = "X".repeat(10_000);
    let msg = Currency::parse(&long).unwrap_err().to_string();
    assert!(msg.len() < 300, "{msg}");
}

#[test]
fn serde_uses_the_code() {
    assert_eq!(serde_json::to_string(&Currency::XOF).unwrap(), "\"XOF\"");
    let c: Currency = serde_json::from_str("\"EUR\"").unwrap();
    assert_eq!(c, Currency::EUR);
    assert!(serde_json::from_str::<Currency>("\"eur\"").is_err());
    assert!(serde_json::from_str::<Currency>("1").is_err());
}

#[test]
fn from_str_matches_parse() {
    assert_eq!("GMD".parse::<Currency>().unwrap(), Currency::GMD);
    assert!("gmd".parse::<Currency>().is_err());
}
