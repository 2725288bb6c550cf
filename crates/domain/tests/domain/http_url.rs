use nexpay_domain::{DomainError, HttpUrl};

#[test]
fn accepts_http_and_https() {
    let u = HttpUrl::parse("https://shop.example.sn/return?order=42").unwrap();
    assert!(u.is_https());
    assert_eq!(u.host_str(), "shop.example.sn");
    assert_eq!(u.as_str(), "https://shop.example.sn/return?order=42");

    let u = HttpUrl::parse(" http://localhost:8080/hook ").unwrap();
    assert!(!u.is_https());
    assert_eq!(u.host_str(), "localhost");
    assert_eq!(u.as_url().port(), Some(8080));

    let u = HttpUrl::parse("http://127.0.0.1/x").unwrap();
    assert_eq!(u.host_str(), "127.0.0.1");
}

#[test]
fn normalises_through_the_url_crate() {
    let u = HttpUrl::parse("HTTPS://Shop.Example.COM").unwrap();
    assert_eq!(u.as_str(), "https://shop.example.com/");
}

#[test]
fn refuses_other_schemes_and_hostless_urls() {
    for bad in [
        "ftp://example.com/",
        "javascript:alert(1)",
        "data:text/html,hi",
        "file:///etc/passwd",
        "mailto:a@b.co",
        "wss://example.com/",
        "https://",
        "/relative/path",
        "example.com",
        "",
        "https://exa mple.com/",
    ] {
        assert!(
            matches!(HttpUrl::parse(bad), Err(DomainError::InvalidUrl(_))),
            "{bad:?}"
        );
    }
}

#[test]
fn refuses_credentials() {
    for bad in [
        "https://user:pass@example.com/",
        "https://user@example.com/",
        "https://:pass@example.com/",
    ] {
        let err = HttpUrl::parse(bad).unwrap_err();
        assert!(err.to_string().contains("credentials"), "{bad:?}: {err}");
    }
}

#[test]
fn length_limit() {
    let base = "https://example.com/";
    let ok = format!("{base}{}", "a".repeat(2048 - base.len()));
    assert!(HttpUrl::parse(&ok).is_ok());
    let too_long = format!("{ok}a");
    assert!(HttpUrl::parse(&too_long).is_err());
    // Percent-encoding grows the text past the limit after parsing.
    let grows = format!("{base}{}", " ".repeat(1000));
    assert!(HttpUrl::parse(&format!("{grows}x")).is_err());
}

#[test]
fn serde_validates() {
    let u: HttpUrl = serde_json::from_str("\"https://example.com/a\"").unwrap();
    assert_eq!(
        serde_json::to_string(&u).unwrap(),
        "\"https://example.com/a\""
    );
    assert!(serde_json::from_str::<HttpUrl>("\"ftp://example.com\"").is_err());
}
