use nexpay_domain::{DomainError, Email};

#[test]
fn accepts_ordinary_addresses() {
    for ok in [
        "a@b.co",
        "awa.diop@example.sn",
        "first+tag@mail.example.com",
        "x@sub-domain.example.org",
        "user@123.example",
    ] {
        assert_eq!(Email::parse(ok).unwrap().as_str(), ok);
    }
}

#[test]
fn trims_and_lowercases_the_domain_only() {
    let e = Email::parse("  Awa.Diop@Example.SN \n").unwrap();
    assert_eq!(e.as_str(), "Awa.Diop@example.sn");
}

#[test]
fn length_limits() {
    let local64 = "a".repeat(64);
    assert!(Email::parse(&format!("{local64}@example.com")).is_ok());
    assert!(Email::parse(&format!("a{local64}@example.com")).is_err());

    let label = "a".repeat(63);
    let long_domain = format!("{label}.{label}.{label}.{}.com", "b".repeat(50));
    let at_limit = format!("{}@{long_domain}", "c".repeat(254 - 1 - long_domain.len()));
    assert_eq!(at_limit.len(), 254);
    assert!(Email::parse(&at_limit).is_ok());
    assert!(Email::parse(&format!("c{at_limit}")).is_err());

    assert!(Email::parse(&format!("a@{}.com", "b".repeat(64))).is_err());
}

#[test]
fn refuses_malformed_addresses() {
    for bad in [
        "",
        "   ",
        "plain",
        "@example.com",
        "a@",
        "a@@example.com",
        "a@b@example.com",
        "a@localhost",
        "a@.example.com",
        "a@example.com.",
        "a@example..com",
        "a@-example.com",
        "a@example-.com",
        "a@exa_mple.com",
        "a b@example.com",
        "a@exa mple.com",
        "a\r\nBcc: x@evil.com@example.com",
        "a\u{0}@example.com",
        "a\t@example.com",
        "a@exämple.com",
        "a@[127.0.0.1]",
    ] {
        assert_eq!(Email::parse(bad), Err(DomainError::InvalidEmail), "{bad:?}");
    }
}

#[test]
fn serde_validates() {
    let e: Email = serde_json::from_str("\"a@b.co\"").unwrap();
    assert_eq!(serde_json::to_string(&e).unwrap(), "\"a@b.co\"");
    assert!(serde_json::from_str::<Email>("\"nope\"").is_err());
}
