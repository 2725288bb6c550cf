use nexpay_domain::{
    base32_lower, random_bytes, ApiKeyId, AttemptId, DeliveryId, DomainError, EndpointId, EventId,
    PaymentId, PaymentReference, ProjectId, SessionId, UserId,
};
use std::collections::HashSet;

macro_rules! check_id_type {
    ($test:ident, $ty:ty, $prefix:literal, $random_len:literal) => {
        #[test]
        fn $test() {
            let id = <$ty>::generate();
            let s = id.as_str().to_owned();
            assert!(s.starts_with($prefix), "{s}");
            assert_eq!(s.len(), $prefix.len() + $random_len, "{s}");
            assert!(s[$prefix.len()..]
                .bytes()
                .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b)));
            assert_eq!(<$ty>::parse(&s).unwrap(), id);
            assert_eq!(id.to_string(), s);
            assert_eq!(s.parse::<$ty>().unwrap(), id);

            let json = serde_json::to_string(&id).unwrap();
            assert_eq!(json, format!("\"{s}\""));
            assert_eq!(serde_json::from_str::<$ty>(&json).unwrap(), id);
            assert!(serde_json::from_str::<$ty>("\"nope\"").is_err());

            let random = &s[$prefix.len()..];
            let bad = [
                String::new(),
                $prefix.to_owned(),
                random.to_owned(),
                format!("{s}a"),
                s[..s.len() - 1].to_owned(),
                format!("{}{}", $prefix.to_uppercase(), random),
                format!("{}{}", $prefix, random.to_uppercase()),
                format!("{}1{}", $prefix, &random[1..]),
                format!("{}8{}", $prefix, &random[1..]),
                format!("{}={}", $prefix, &random[1..]),
                format!("{}é{}", $prefix, &random[2..]),
                format!(" {s}"),
                format!("x{}", &s[1..]),
            ];
            for b in bad {
                assert!(
                    matches!(<$ty>::parse(&b), Err(DomainError::InvalidId { .. })),
                    "{b:?}"
                );
            }
            assert_eq!(id.clone().into_string(), s);
        }
    };
}

check_id_type!(project_id, ProjectId, "proj_", 26);
check_id_type!(api_key_id, ApiKeyId, "key_", 26);
check_id_type!(session_id, SessionId, "cs_", 32);
check_id_type!(payment_id, PaymentId, "pay_", 26);
check_id_type!(attempt_id, AttemptId, "att_", 26);
check_id_type!(event_id, EventId, "evt_", 26);
check_id_type!(user_id, UserId, "usr_", 26);
check_id_type!(endpoint_id, EndpointId, "we_", 26);
check_id_type!(delivery_id, DeliveryId, "wd_", 26);

#[test]
fn ids_of_one_kind_do_not_parse_as_another() {
    let pay = PaymentId::generate();
    assert!(AttemptId::parse(pay.as_str()).is_err());
    let cs = SessionId::generate();
    assert!(PaymentId::parse(cs.as_str()).is_err());
    // Same random length and prefix length, different prefix.
    let we = EndpointId::generate();
    assert!(DeliveryId::parse(we.as_str()).is_err());
}

#[test]
fn generated_ids_are_unique() {
    let ids: HashSet<_> = (0..1000).map(|_| SessionId::generate()).collect();
    assert_eq!(ids.len(), 1000);
}

#[test]
fn invalid_id_message_names_the_kind() {
    let err = SessionId::parse("pay_x").unwrap_err();
    assert_eq!(err, DomainError::InvalidId { kind: "session id" });
    assert_eq!(err.to_string(), "invalid session id");
}

#[test]
fn base32_matches_rfc_4648_vectors() {
    assert_eq!(base32_lower(b""), "");
    assert_eq!(base32_lower(b"f"), "my");
    assert_eq!(base32_lower(b"fo"), "mzxq");
    assert_eq!(base32_lower(b"foo"), "mzxw6");
    assert_eq!(base32_lower(b"foob"), "mzxw6yq");
    assert_eq!(base32_lower(b"fooba"), "mzxw6ytb");
    assert_eq!(base32_lower(b"foobar"), "mzxw6ytboi");
    assert_eq!(base32_lower(&[0xFF; 5]), "77777777");
    assert_eq!(base32_lower(&[0; 16]).len(), 26);
    assert_eq!(base32_lower(&[0; 20]).len(), 32);
}

#[test]
fn random_bytes_are_random() {
    let a: [u8; 32] = random_bytes();
    let b: [u8; 32] = random_bytes();
    assert_ne!(a, b);
    assert_eq!(random_bytes::<0>(), [0_u8; 0]);
}

#[test]
fn payment_reference() {
    let r = PaymentReference::generate();
    let s = r.as_str().to_owned();
    assert!(s.starts_with("NEXPAY_TX_"));
    assert_eq!(s.len(), 26);
    assert!(s[10..]
        .bytes()
        .all(|b| matches!(b, b'0'..=b'9' | b'A'..=b'F')));
    assert_eq!(PaymentReference::parse(&s).unwrap(), r);
    assert_eq!(r.to_string(), s);
    assert_eq!(serde_json::to_string(&r).unwrap(), format!("\"{s}\""));
    assert_eq!(
        serde_json::from_str::<PaymentReference>(&format!("\"{s}\"")).unwrap(),
        r
    );
    assert_ne!(PaymentReference::generate(), r);

    assert!(PaymentReference::parse("NEXPAY_TX_0123456789ABCDEF").is_ok());
    for bad in [
        "",
        "NEXPAY_TX_",
        "NEXPAY_TX_0123456789abcdef",
        "NEXPAY_TX_0123456789ABCDE",
        "NEXPAY_TX_0123456789ABCDEF0",
        "NEXPAY_TX_0123456789ABCDEG",
        "nexpay_tx_0123456789ABCDEF",
        "NEXPAY-TX-0123456789ABCDEF",
        "XNEXPAY_TX_123456789ABCDEF",
    ] {
        assert_eq!(
            PaymentReference::parse(bad),
            Err(DomainError::InvalidId {
                kind: "payment reference"
            }),
            "{bad:?}"
        );
    }
    assert!(serde_json::from_str::<PaymentReference>("\"NEXPAY_TX_\"").is_err());
}
