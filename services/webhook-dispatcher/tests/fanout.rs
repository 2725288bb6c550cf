//! The fan-out: one delivery per endpoint that wants the event, written before the
//! event is acknowledged (or, in standalone, before it reaches the in-memory bus), and
//! never twice for a redelivered event.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use nexpay_bus::{Bus, Envelope, InProcessBus};
use nexpay_store::testing::TestDb;
use nexpay_store::{ProjectRow, Store, WebhookEndpointRow};
use nexpay_webhook_dispatcher::{Fanout, FanoutBus};
use serde_json::{json, Value};

async fn project(store: &Store) -> String {
    let at = nexpay_store::now();
    let id = format!("proj_{}", nexpay_security::random_hex(8));
    store
        .insert_project(&ProjectRow {
            id: id.clone(),
            name: "Boutique Dakar".into(),
            success_url: None,
            failure_url: None,
            cancel_url: None,
            settings: "{}".into(),
            is_default: false,
            created_at: at,
            updated_at: at,
            archived_at: None,
        })
        .await
        .unwrap();
    id
}

async fn endpoint(
    store: &Store,
    project_id: &str,
    mode: &str,
    types: &str,
    enabled: bool,
) -> String {
    let at = nexpay_store::now();
    let id = format!("whe_{}", nexpay_security::random_hex(8));
    store
        .insert_webhook_endpoint(&WebhookEndpointRow {
            event_types: types.into(),
            enabled,
            ..WebhookEndpointRow::new(
                id.clone(),
                project_id,
                mode,
                "https://shop.example/hook",
                "not opened here".into(),
                "abcd".into(),
                at,
            )
        })
        .await
        .unwrap();
    id
}

fn event(kind: &str, project_id: &str, mode: &str, id: &str) -> Value {
    json!({
        "type": kind,
        "data": {
            "amount": "2500", "client_reference": null, "status": "SUCCEEDED",
            "resolvedAt": "2026-11-27T10:00:00.000Z",
            "payer": {"name": "Awa", "email": null, "phone": "+221771234567"},
            "provider": {"name": "Wave", "code": "wave"},
            "project": {"id": project_id, "name": "Boutique Dakar"},
            "metadata": {"10": "b", "2": "a"},
            "reference": "NEXPAY_TX_00000000000000AA", "sessionId": null,
            "currency": "XOF", "mode": mode, "late": false
        },
        "id": id,
        "created_at": "2026-11-27T10:00:00.000Z"
    })
}

#[tokio::test]
async fn each_event_becomes_one_delivery_per_interested_endpoint_once() {
    let db = TestDb::sqlite().await.unwrap();
    let store = db.store().clone();
    let p = project(&store).await;
    let all = endpoint(&store, &p, "test", "[]", true).await;
    let succeeded_only = endpoint(&store, &p, "test", r#"["payment.succeeded"]"#, true).await;
    let failed_only = endpoint(&store, &p, "test", r#"["payment.failed"]"#, true).await;
    let live = endpoint(&store, &p, "live", "[]", true).await;
    let disabled = endpoint(&store, &p, "test", "[]", false).await;

    let inner: Arc<dyn Bus> = Arc::new(InProcessBus::new());
    let wake = Arc::new(tokio::sync::Notify::new());
    let bus = FanoutBus::new(inner, Fanout::new(store.clone(), wake));
    let payload = event("payment.succeeded", &p, "test", "evt_fanout_1");
    let envelope =
        || Envelope::with_id("evt_fanout_1", "payment.succeeded", "corr", payload.clone());
    bus.publish(envelope()).await.unwrap();
    // Published again (the relay died before marking the outbox row): nothing new.
    bus.publish(envelope()).await.unwrap();
    // Not a merchant event: nothing.
    bus.publish(Envelope::new("session.created", "corr", json!({})))
        .await
        .unwrap();

    let deliveries = store.list_event_deliveries("evt_fanout_1").await.unwrap();
    let mut endpoints: Vec<&str> = deliveries.iter().map(|d| d.endpoint_id.as_str()).collect();
    endpoints.sort_unstable();
    let mut expected = vec![all.as_str(), succeeded_only.as_str()];
    expected.sort_unstable();
    assert_eq!(
        endpoints, expected,
        "not {failed_only}, {live} or {disabled}"
    );
    for d in &deliveries {
        assert_eq!(d.status, "pending");
        assert_eq!(d.event_type, "payment.succeeded");
        assert_eq!(d.aggregate_id, "NEXPAY_TX_00000000000000AA");
        // The bytes to send: compact, integer-like keys first, as JSON.stringify prints.
        assert!(
            d.body
                .starts_with(r#"{"type":"payment.succeeded","data":{"amount":"2500""#),
            "{}",
            d.body
        );
        assert!(
            d.body.contains(r#""metadata":{"2":"a","10":"b"}"#),
            "{}",
            d.body
        );
    }
    db.cleanup().await;
}

#[tokio::test]
async fn a_malformed_event_is_refused_and_writes_nothing() {
    let db = TestDb::sqlite().await.unwrap();
    let store = db.store().clone();
    let p = project(&store).await;
    endpoint(&store, &p, "test", "[]", true).await;
    let fanout = Fanout::new(store.clone(), Arc::new(tokio::sync::Notify::new()));
    let err = fanout
        .accept(
            "payment.succeeded",
            &json!({"type": "payment.succeeded", "id": "evt_bad"}),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("malformed"), "{err}");
    assert!(store
        .list_event_deliveries("evt_bad")
        .await
        .unwrap()
        .is_empty());
    db.cleanup().await;
}
