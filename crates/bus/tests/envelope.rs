use std::collections::HashSet;

use nexpay_bus::{BusError, Envelope, HandlerError, SCHEMA_VERSION};
use serde::Deserialize;
use serde_json::json;

#[derive(Debug, Deserialize, PartialEq)]
struct Paid {
    amount: u64,
}

#[test]
fn new_envelopes_get_unique_hex_ids_and_current_schema() {
    let ids: HashSet<String> = (0..1000)
        .map(|_| Envelope::new("payment.succeeded", "req-1", json!({})).id)
        .collect();
    assert_eq!(ids.len(), 1000);
    for id in &ids {
        assert_eq!(id.len(), 32);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
    }
    let env = Envelope::new("payment.succeeded", "req-1", json!({}));
    assert_eq!(env.schema_version, SCHEMA_VERSION);
    assert_eq!(env.kind, "payment.succeeded");
    assert_eq!(env.correlation_id, "req-1");
}

#[test]
fn with_id_keeps_the_stored_id() {
    let env = Envelope::with_id("outbox-42", "payment.failed", "req-2", json!({"x": 1}));
    assert_eq!(env.id, "outbox-42");
    assert_eq!(env.payload, json!({"x": 1}));
}

#[test]
fn decode_and_serde_round_trip() {
    let env = Envelope::new("payment.succeeded", "req-3", json!({"amount": 1250}));
    assert_eq!(
        env.decode::<Paid>().expect("decodes"),
        Paid { amount: 1250 }
    );
    let bad = Envelope::new("payment.succeeded", "req-3", json!({"amount": "x"}));
    assert!(matches!(bad.decode::<Paid>(), Err(BusError::Codec(_))));

    let text = serde_json::to_string(&env).expect("serializes");
    let back: Envelope = serde_json::from_str(&text).expect("deserializes");
    assert_eq!(back, env);
}

#[test]
fn handler_errors_serialize_for_the_wire() {
    let err = HandlerError::Rejected {
        status: 422,
        code: "invalid_amount".into(),
        message: "amount must be positive".into(),
        details: json!({"field": "amount"}),
    };
    let text = serde_json::to_string(&err).expect("serializes");
    assert_eq!(
        serde_json::from_str::<HandlerError>(&text).expect("parses"),
        err
    );
    assert_eq!(
        err.to_string(),
        "rejected: invalid_amount: amount must be positive"
    );
    assert_eq!(
        BusError::Handler(HandlerError::Retryable("db down".into())).to_string(),
        "retryable: db down"
    );
}
