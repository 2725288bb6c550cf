use super::*;
use proptest::prelude::*;

/// Base64 of the bytes 0..32, a fixed key for deterministic key ids.
const FIXED_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

fn fixed() -> SealingKey {
    SealingKey::from_base64(FIXED_KEY).unwrap()
}

#[test]
fn round_trip() {
    let (key, _) = SealingKey::generate();
    let sealed = key.seal(b"provider secret", b"row:1");
    assert_eq!(key.open(&sealed, b"row:1").unwrap(), b"provider secret");
    let empty = key.seal(b"", b"");
    assert_eq!(key.open(&empty, b"").unwrap(), b"");
}

#[test]
fn sealed_format_is_versioned_and_names_the_key() {
    let key = fixed();
    let sealed = key.seal(b"hello", b"");
    let parts: Vec<&str> = sealed.split('.').collect();
    assert_eq!(parts.len(), 3);
    assert_eq!(parts[0], "v1");
    assert_eq!(parts[1], key.key_id());
    let raw = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    assert_eq!(raw.len(), 12 + 5 + 16);
    assert!(!sealed.contains('=') && !sealed.contains('+') && !sealed.contains('/'));
}

#[test]
fn key_id_is_sha256_prefix() {
    let bytes: Vec<u8> = (0u8..32).collect();
    let expected = hex::encode(&digest(&SHA256, &bytes).as_ref()[..4]);
    assert_eq!(fixed().key_id(), expected);
    assert_eq!(fixed().key_id().len(), 8);
}

#[test]
fn nonces_are_random() {
    let key = fixed();
    assert_ne!(key.seal(b"same", b""), key.seal(b"same", b""));
}

#[test]
fn generate_returns_matching_base64() {
    let (key, encoded) = SealingKey::generate();
    let again = SealingKey::from_base64(&encoded).unwrap();
    assert_eq!(again.key_id(), key.key_id());
    assert_eq!(again.open(&key.seal(b"x", b"a"), b"a").unwrap(), b"x");
    assert!(!is_weak_encryption_key(&encoded));
    assert_ne!(SealingKey::generate().1, encoded);
}

#[test]
fn from_base64_requires_exactly_32_bytes() {
    assert!(SealingKey::from_base64(&format!("  {FIXED_KEY}\n")).is_ok());
    let short = STANDARD.encode([1u8; 31]);
    let long = STANDARD.encode([1u8; 33]);
    let url_safe = URL_SAFE_NO_PAD.encode([0xfbu8; 32]);
    for bad in ["", "changeme", "not base64!!", &short, &long, &url_safe] {
        let err = SealingKey::from_base64(bad).unwrap_err();
        assert_eq!(err, SealError::BadKey, "{bad:?}");
        let message = err.to_string();
        assert!(message.contains("ENCRYPTION_KEY must be 32 random bytes in base64"));
        assert!(message.contains("openssl rand -base64 32"));
    }
}

#[test]
fn wrong_key_is_unknown_key() {
    let (a, _) = SealingKey::generate();
    let (b, _) = SealingKey::generate();
    let sealed = a.seal(b"secret", b"");
    assert_eq!(b.open(&sealed, b""), Err(SealError::UnknownKey(a.key_id())));
}

#[test]
fn wrong_key_with_forged_key_id_is_invalid() {
    let (a, _) = SealingKey::generate();
    let (b, _) = SealingKey::generate();
    let sealed = a.seal(b"secret", b"");
    let forged = sealed.replacen(&a.key_id(), &b.key_id(), 1);
    assert_eq!(b.open(&forged, b""), Err(SealError::Invalid));
}

#[test]
fn wrong_aad_is_invalid() {
    let key = fixed();
    let sealed = key.seal(b"secret", b"merchant:1");
    assert_eq!(key.open(&sealed, b"merchant:2"), Err(SealError::Invalid));
    assert_eq!(key.open(&sealed, b""), Err(SealError::Invalid));
}

#[test]
fn tampered_ciphertext_is_invalid() {
    let key = fixed();
    let sealed = key.seal(b"a longer secret value", b"");
    let prefix_len = "v1.".len() + 8 + 1;
    let mut raw = URL_SAFE_NO_PAD.decode(&sealed[prefix_len..]).unwrap();
    for i in [0, 11, 12, raw.len() - 1] {
        raw[i] ^= 0x01;
        let tampered = format!("{}{}", &sealed[..prefix_len], URL_SAFE_NO_PAD.encode(&raw));
        assert_eq!(
            key.open(&tampered, b""),
            Err(SealError::Invalid),
            "byte {i}"
        );
        raw[i] ^= 0x01;
    }
    raw.truncate(raw.len() - 1);
    let truncated = format!("{}{}", &sealed[..prefix_len], URL_SAFE_NO_PAD.encode(&raw));
    assert_eq!(key.open(&truncated, b""), Err(SealError::Invalid));
}

#[test]
fn malformed_sealed_values_are_invalid() {
    let key = fixed();
    let id = key.key_id();
    for bad in [
        String::new(),
        "garbage".to_owned(),
        format!("v2.{id}.AAAA"),
        format!("v1.{id}"),
        format!("v1.{id}."),
        format!("v1.{id}.AAAA"),
        format!("v1.{id}.!!!!"),
        format!("v1.{id}.{}", URL_SAFE_NO_PAD.encode([0u8; 27])),
        format!("v1.zzzzzzzz.{}", URL_SAFE_NO_PAD.encode([0u8; 40])),
        format!("v1.{id}.{}.x", URL_SAFE_NO_PAD.encode([0u8; 40])),
    ] {
        assert_eq!(key.open(&bad, b""), Err(SealError::Invalid), "{bad:?}");
    }
}

#[test]
fn debug_shows_only_the_key_id() {
    let key = fixed();
    let shown = format!("{key:?}");
    assert!(shown.contains(&key.key_id()));
    assert!(!shown.contains("AAECAw"));
}

#[test]
fn keyring_opens_values_of_previous_keys() {
    let (old, _) = SealingKey::generate();
    let (new, _) = SealingKey::generate();
    let old_value = old.seal(b"old", b"aad");
    let ring = Keyring::new(new.clone(), vec![old.clone()]);
    let new_value = ring.seal(b"new", b"aad");

    assert!(new_value.starts_with(&format!("v1.{}.", new.key_id())));
    assert_eq!(ring.open(&old_value, b"aad").unwrap(), b"old");
    assert_eq!(ring.open(&new_value, b"aad").unwrap(), b"new");
    assert!(ring.needs_reseal(&old_value));
    assert!(!ring.needs_reseal(&new_value));
    assert!(ring.needs_reseal("garbage"));
}

#[test]
fn keyring_failures() {
    let (stranger, _) = SealingKey::generate();
    let ring = Keyring {
        current: fixed(),
        previous: Vec::new(),
    };
    let foreign = stranger.seal(b"x", b"");
    assert_eq!(
        ring.open(&foreign, b""),
        Err(SealError::UnknownKey(stranger.key_id()))
    );
    let own = ring.seal(b"x", b"a");
    assert_eq!(ring.open(&own, b"b"), Err(SealError::Invalid));
    assert_eq!(ring.open("v1.nothex!.AAAA", b""), Err(SealError::Invalid));
}

#[test]
fn weak_key_detection() {
    assert!(!is_weak_encryption_key(FIXED_KEY));
    assert!(is_weak_encryption_key(""));
    assert!(is_weak_encryption_key("changeme"));
    assert!(is_weak_encryption_key(&STANDARD.encode([0u8; 32])));
    assert!(is_weak_encryption_key(&STANDARD.encode([0xffu8; 32])));
    assert!(is_weak_encryption_key(&STANDARD.encode([7u8; 16])));
    assert!(is_weak_encryption_key(&STANDARD.encode([7u8; 64])));
}

proptest! {
    #[test]
    fn round_trip_any_input(plaintext in proptest::collection::vec(any::<u8>(), 0..512),
                            aad in proptest::collection::vec(any::<u8>(), 0..64)) {
        let key = fixed();
        let sealed = key.seal(&plaintext, &aad);
        prop_assert_eq!(key.open(&sealed, &aad).unwrap(), plaintext);
    }

    #[test]
    fn open_never_panics(s in "\\PC{0,200}") {
        let _ = fixed().open(&s, b"");
    }
}
