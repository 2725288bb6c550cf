use super::*;
use proptest::prelude::*;

const ALL: [(KeyKind, KeyMode); 4] = [
    (KeyKind::Read, KeyMode::Test),
    (KeyKind::Read, KeyMode::Live),
    (KeyKind::Write, KeyMode::Test),
    (KeyKind::Write, KeyMode::Live),
];

fn valid_key() -> String {
    format!("nxp_sk_live_{}", "aB3".repeat(14) + "z")
}

#[test]
fn kind_and_mode_strings_round_trip() {
    for kind in [KeyKind::Read, KeyKind::Write] {
        assert_eq!(KeyKind::parse(kind.as_str()), Some(kind));
        assert_eq!(kind.as_str().parse::<KeyKind>(), Ok(kind));
        assert_eq!(kind.to_string(), kind.as_str());
    }
    for mode in [KeyMode::Test, KeyMode::Live] {
        assert_eq!(KeyMode::parse(mode.as_str()), Some(mode));
        assert_eq!(mode.as_str().parse::<KeyMode>(), Ok(mode));
        assert_eq!(mode.to_string(), mode.as_str());
    }
    assert_eq!(KeyKind::Read.as_str(), "read");
    assert_eq!(KeyKind::Write.as_str(), "write");
    assert_eq!(KeyMode::Test.as_str(), "test");
    assert_eq!(KeyMode::Live.as_str(), "live");
    assert_eq!(KeyKind::parse("WRITE"), Some(KeyKind::Write));
    assert_eq!(KeyMode::parse("Live"), Some(KeyMode::Live));
}

#[test]
fn kind_and_mode_reject_unknown_values() {
    assert_eq!(KeyKind::parse("admin"), None);
    assert_eq!(KeyKind::parse(""), None);
    assert_eq!(KeyKind::parse(" read"), None);
    assert_eq!("sk".parse::<KeyKind>(), Err(KeyError::UnknownKind));
    assert_eq!(KeyMode::parse("prod"), None);
    assert_eq!("sandbox".parse::<KeyMode>(), Err(KeyError::UnknownMode));
}

#[test]
fn kind_and_mode_serialize_lowercase() {
    assert_eq!(serde_json::to_string(&KeyKind::Write).unwrap(), "\"write\"");
    assert_eq!(serde_json::to_string(&KeyMode::Live).unwrap(), "\"live\"");
    assert_eq!(
        serde_json::from_str::<KeyKind>("\"read\"").unwrap(),
        KeyKind::Read
    );
}

#[test]
fn generated_key_has_the_documented_format() {
    for (kind, mode) in ALL {
        let key = generate_api_key(kind, mode);
        let full = key.full.expose();
        let header = format!("nxp_{}_{}_", kind.tag(), mode.as_str());
        assert!(full.starts_with(&header), "{full}");
        assert_eq!(full.len(), header.len() + 43);
        assert!(full[header.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(key.prefix.len(), header.len() + 6);
        assert!(full.starts_with(&key.prefix));
        assert_eq!(key.hash, hash_api_key(full));
        assert_eq!((key.kind, key.mode), (kind, mode));
    }
}

#[test]
fn generated_key_tags_match_the_kind() {
    let read = generate_api_key(KeyKind::Read, KeyMode::Test);
    assert!(read.full.expose().starts_with("nxp_pk_test_"));
    let write = generate_api_key(KeyKind::Write, KeyMode::Live);
    assert!(write.full.expose().starts_with("nxp_sk_live_"));
}

#[test]
fn generated_keys_are_unique() {
    let a = generate_api_key(KeyKind::Write, KeyMode::Live);
    let b = generate_api_key(KeyKind::Write, KeyMode::Live);
    assert_ne!(a.full, b.full);
    assert_ne!(a.hash, b.hash);
}

#[test]
fn generated_key_debug_does_not_leak() {
    let key = generate_api_key(KeyKind::Write, KeyMode::Live);
    let shown = format!("{key:?}");
    assert!(!shown.contains(key.full.expose()));
    assert!(shown.contains("[REDACTED]"));
}

#[test]
fn parse_accepts_generated_keys() {
    for (kind, mode) in ALL {
        let key = generate_api_key(kind, mode);
        let parsed = parse_api_key(key.full.expose()).unwrap();
        assert_eq!(parsed.kind, kind);
        assert_eq!(parsed.mode, mode);
        assert_eq!(parsed.prefix, key.prefix);
        assert_eq!(parsed.hash, key.hash);
    }
}

#[test]
fn parse_rejects_malformed_keys() {
    let good = valid_key();
    assert!(parse_api_key(&good).is_ok());
    let body = &good["nxp_sk_live_".len()..];
    let bad = [
        String::new(),
        "nxp_".to_owned(),
        format!("NXP_sk_live_{body}"),
        format!("xyz_sk_live_{body}"),
        format!("nxp_rk_live_{body}"),
        format!("nxp_sk_prod_{body}"),
        format!("nxp_sk_LIVE_{body}"),
        format!("nxp_sk_live{body}"),
        format!("nxp_sk_live_{}", &body[1..]),
        format!("nxp_sk_live_{body}a"),
        format!("nxp_sk_live_{}-", &body[1..]),
        format!("nxp_sk_live_{}é", &body[2..]),
        format!(" {good}"),
        format!("{good}\n"),
        good.replace("sk_", "pk__"),
    ];
    for key in bad {
        assert!(
            matches!(parse_api_key(&key), Err(KeyError::Malformed(_))),
            "accepted {key:?}"
        );
    }
}

#[test]
fn parse_rejects_overlong_input_before_anything_else() {
    assert_eq!(parse_api_key(&"a".repeat(101)), Err(KeyError::TooLong));
    let padded = format!("{}{}", valid_key(), "A".repeat(60));
    assert_eq!(parse_api_key(&padded), Err(KeyError::TooLong));
    assert_eq!(parse_api_key(&"x".repeat(1 << 20)), Err(KeyError::TooLong));
    assert!(matches!(
        parse_api_key(&"a".repeat(100)),
        Err(KeyError::Malformed(_))
    ));
}

#[test]
fn malformed_error_does_not_echo_the_key() {
    let err = parse_api_key("nxp_sk_live_SECRETSECRET").unwrap_err();
    assert!(!err.to_string().contains("SECRETSECRET"), "{err}");
}

#[test]
fn hash_is_lower_hex_sha256() {
    // SHA-256("abc"), FIPS 180-2 appendix B.1.
    assert_eq!(
        hash_api_key("abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(hash_api_key("x").len(), 64);
    assert_ne!(hash_api_key("a"), hash_api_key("b"));
}

#[test]
fn constant_time_eq_compares_exactly() {
    assert!(constant_time_eq(b"", b""));
    assert!(constant_time_eq(b"abc", b"abc"));
    assert!(!constant_time_eq(b"abc", b"abd"));
    assert!(!constant_time_eq(b"abc", b"abcd"));
    assert!(!constant_time_eq(b"", b"a"));
}

#[test]
fn external_key_is_registered_with_short_prefix() {
    let full = "Zm9vYmFyYmF6cXV4cXV1eDEyMzQ1Njc4OTA=";
    let key = register_external_key(full, KeyKind::Write, KeyMode::Live).unwrap();
    assert_eq!(key.full.expose(), full);
    assert_eq!(key.prefix, "Zm9vYmFy…");
    assert_eq!(key.hash, hash_api_key(full));
    assert_eq!((key.kind, key.mode), (KeyKind::Write, KeyMode::Live));
}

#[test]
fn external_key_length_bounds() {
    let alphabet = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ!#";
    let of_len = |n: usize| alphabet.chars().cycle().take(n).collect::<String>();
    for ok in [24, 25, 64, 128] {
        assert!(register_external_key(&of_len(ok), KeyKind::Read, KeyMode::Test).is_ok());
    }
    for bad in [0, 8, 23, 129, 4096] {
        let err = register_external_key(&of_len(bad), KeyKind::Read, KeyMode::Test).unwrap_err();
        assert!(matches!(err, KeyError::WeakExternalKey(_)));
        assert!(err.to_string().contains("openssl rand -base64 32"), "{err}");
    }
}

#[test]
fn external_key_rejects_whitespace_and_non_ascii() {
    let base = "abcdefghijklmnopqrstuvwx";
    for bad in [
        format!("{base} y"),
        format!("{base}\t"),
        format!("{base}\n"),
        format!("{base}é"),
        format!("{base}\u{7f}"),
    ] {
        let err = register_external_key(&bad, KeyKind::Write, KeyMode::Test).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("openssl rand -base64 32"), "{message}");
        assert!(!message.contains(base), "the key must not be echoed");
    }
}

#[test]
fn external_key_rejects_placeholders() {
    for bad in ["x".repeat(32), "0123".repeat(8), "abab".repeat(10)] {
        let err = register_external_key(&bad, KeyKind::Write, KeyMode::Live).unwrap_err();
        assert!(err.to_string().contains("write API key"), "{err}");
    }
}

proptest! {
    #[test]
    fn parse_never_panics(s in "\\PC{0,120}") {
        let _ = parse_api_key(&s);
    }

    #[test]
    fn parse_accepts_any_base62_body(body in "[0-9A-Za-z]{43}", live: bool, write: bool) {
        let kind = if write { KeyKind::Write } else { KeyKind::Read };
        let mode = if live { KeyMode::Live } else { KeyMode::Test };
        let full = format!("{}{body}", header(kind, mode));
        let parsed = parse_api_key(&full).unwrap();
        prop_assert_eq!(parsed.kind, kind);
        prop_assert_eq!(parsed.mode, mode);
        prop_assert_eq!(parsed.hash, hash_api_key(&full));
    }

    #[test]
    fn external_never_panics(s in "\\PC{0,140}") {
        let _ = register_external_key(&s, KeyKind::Read, KeyMode::Test);
    }
}
