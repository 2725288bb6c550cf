use nexpay_domain::{DomainError, PhoneNumber};
use proptest::prelude::*;

fn norm(s: &str) -> Result<String, DomainError> {
    PhoneNumber::parse(s).map(|p| p.as_str().to_owned())
}

#[test]
fn accepts_international_forms() {
    let expected = Ok("+221771234567".to_owned());
    for input in [
        "+221771234567",
        "+221 77 123 45 67",
        "+221-77-123-45-67",
        "+221.77.123.45.67",
        "(+221) 77 123 45 67",
        "00221771234567",
        "00 221 77 123 45 67",
        "  +221 77 123 45 67  ",
        "+221\u{a0}77\u{202f}123\t45 67",
    ] {
        assert_eq!(norm(input), expected, "{input:?}");
    }
    assert_eq!(norm("+33612345678"), Ok("+33612345678".to_owned()));
    assert_eq!(norm("+2250712345678"), Ok("+2250712345678".to_owned()));
}

#[test]
fn accepts_senegal_local_form() {
    assert_eq!(norm("771234567"), Ok("+221771234567".to_owned()));
    assert_eq!(norm("77 123 45 67"), Ok("+221771234567".to_owned()));
    assert_eq!(norm("78-123-45-67"), Ok("+221781234567".to_owned()));
    assert_eq!(norm("338211234"), Ok("+221338211234".to_owned()));
}

#[test]
fn length_limits_after_plus() {
    assert!(PhoneNumber::parse("+1234567").is_err()); // 7 digits
    assert!(PhoneNumber::parse("+12345678").is_ok()); // 8
    assert!(PhoneNumber::parse("+123456789012345").is_ok()); // 15
    assert!(PhoneNumber::parse("+1234567890123456").is_err()); // 16
    assert!(PhoneNumber::parse("001234567890123456").is_err());
}

#[test]
fn senegal_numbers_need_nine_national_digits() {
    assert!(PhoneNumber::parse("+22177123456").is_err());
    assert!(PhoneNumber::parse("+2217712345678").is_err());
    assert!(PhoneNumber::parse("0022177123456").is_err());
}

#[test]
fn refuses_everything_else() {
    for bad in [
        "",
        "+",
        "00",
        "+0221771234567",
        "000221771234567",
        "+221 77 ABC 45 67",
        "+221771234567x",
        "++221771234567",
        "+221+771234567",
        "77123456",   // 8 local digits
        "7712345678", // 10 local digits
        "671234567",  // local, not 7 or 3
        "071234567",
        "0771234567", // trunk prefix is not used in Senegal
        "+221/771234567",
        "tel:+221771234567",
        "+２２１771234567", // full-width digits
        "+221_771234567",
    ] {
        assert_eq!(
            PhoneNumber::parse(bad),
            Err(DomainError::InvalidPhone),
            "{bad:?}"
        );
    }
}

#[test]
fn national_sn() {
    let p = PhoneNumber::parse("+221 77 123 45 67").unwrap();
    assert_eq!(p.national_sn(), Some("771234567".to_owned()));
    let p = PhoneNumber::parse("+2250712345678").unwrap();
    assert_eq!(p.national_sn(), None);
    let p = PhoneNumber::parse("+22212345678").unwrap(); // Mauritania, not Senegal
    assert_eq!(p.national_sn(), None);
}

#[test]
fn serde_and_display() {
    let p = PhoneNumber::parse("77 123 45 67").unwrap();
    assert_eq!(p.to_string(), "+221771234567");
    assert_eq!(serde_json::to_string(&p).unwrap(), "\"+221771234567\"");
    let back: PhoneNumber = serde_json::from_str("\"00221771234567\"").unwrap();
    assert_eq!(back, p);
    assert!(serde_json::from_str::<PhoneNumber>("\"hello\"").is_err());
}

proptest! {
    #[test]
    fn normalising_is_idempotent(s in "[+0-9 ().-]{0,20}") {
        if let Ok(p) = PhoneNumber::parse(&s) {
            prop_assert_eq!(PhoneNumber::parse(p.as_str()), Ok(p.clone()));
        }
    }

    #[test]
    fn international_numbers_are_idempotent(digits in "[1-9][0-9]{7,14}") {
        if let Ok(p) = PhoneNumber::parse(&format!("+{digits}")) {
            prop_assert_eq!(p.as_str(), format!("+{digits}"));
            prop_assert_eq!(PhoneNumber::parse(p.as_str()), Ok(p.clone()));
        }
    }

    #[test]
    fn any_nine_digits_starting_with_7_is_senegalese(local in "7[0-9]{8}") {
        let p = PhoneNumber::parse(&local).unwrap();
        prop_assert_eq!(p.as_str(), format!("+221{local}"));
        prop_assert_eq!(p.national_sn(), Some(local));
    }

    #[test]
    fn never_panics(s in any::<String>()) {
        let _ = PhoneNumber::parse(&s);
    }
}
