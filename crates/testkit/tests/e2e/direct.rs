//! Direct payments (`POST /api/v1/payment/initiate`) through the sandbox connectors.

use crate::support::*;
use base64::Engine;
use nexpay_testkit::TestApp;
use serde_json::{json, Value};

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

fn is_reference(s: &str) -> bool {
    s.strip_prefix("NEXPAY_TX_").is_some_and(|hex| {
        hex.len() == 16
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
    })
}

/// Decodes `qr_code.data` and checks it is a real, non-trivial PNG image.
#[track_caller]
fn assert_png(data: &Value) {
    let b64 = data.as_str().expect("qr_code.data is a string");
    assert!(!b64.starts_with("data:"), "no data: prefix");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("qr_code.data is base64");
    assert!(bytes.starts_with(PNG_SIGNATURE), "PNG signature");
    let img = image::load_from_memory_with_format(&bytes, image::ImageFormat::Png)
        .expect("a decodable PNG");
    assert!(
        img.width() >= 21 && img.height() >= 21,
        "a QR code is at least 21x21: {}x{}",
        img.width(),
        img.height()
    );
    let luma = img.to_luma8();
    let dark = luma.pixels().filter(|p| p.0[0] < 128).count();
    let light = luma.pixels().filter(|p| p.0[0] >= 128).count();
    assert!(
        dark > 0 && light > 0,
        "a QR code has dark and light modules"
    );
}

async fn direct_payment(app: &TestApp, provider: &str) -> Value {
    let before = count(app).await;
    let r = post(
        app,
        PAYMENT,
        Some(&app.write_key),
        &payment_body(provider),
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.text.starts_with(r#"{"statusCode":200,"message":"#),
        "{}",
        r.text
    );
    assert_eq!(
        r.json["message"],
        json!("Payment data successfully initialized")
    );
    assert!(r.header("x-request-id").is_some());
    let d = r.data().clone();
    assert_eq!(d["amount"], json!(10000));
    assert_eq!(d["currency"], json!("XOF"));
    let reference = d["reference"].as_str().expect("reference");
    assert!(is_reference(reference), "reference format: {reference}");

    assert_eq!(keys(&d["provider"]), ["id", "name", "code", "logoUrl"]);
    assert_eq!(d["provider"]["code"], json!(provider));
    let name = if provider == "om" {
        "Orange Money"
    } else {
        "Wave"
    };
    assert_eq!(d["provider"]["name"], json!(name));
    assert!(d["provider"]["logoUrl"]
        .as_str()
        .is_some_and(|u| !u.is_empty()));

    assert_eq!(keys(&d["payer"]), ["userId", "email", "phone", "name"]);
    assert!(d["payer"]["userId"].as_str().is_some_and(|u| u.len() > 4));
    assert_eq!(d["payer"]["email"], json!("customer@example.com"));
    assert_eq!(d["payer"]["phone"], json!("+221771234567"));
    assert_eq!(d["payer"]["name"], json!("Mouhamed Baba"));

    let links = d["checkout_urls"].as_array().expect("checkout_urls list");
    for l in links {
        assert_eq!(keys(l), ["name", "url", "thumb"]);
        assert!(
            l["url"].as_str().is_some_and(|u| u.starts_with("http")),
            "{l}"
        );
    }
    let names: Vec<&str> = links.iter().filter_map(|l| l["name"].as_str()).collect();
    if provider == "om" {
        assert_eq!(names, ["MaxIt", "Orange Money"]);
    } else {
        assert_eq!(names, ["Wave"]);
        assert!(
            links[0]["url"]
                .as_str()
                .unwrap()
                .contains("/sandbox/wave/c/cos-"),
            "wave launch URL: {}",
            links[0]["url"]
        );
    }
    assert_png(&d["qr_code"]["data"]);
    let expiration = rfc3339(&d["expiration"]);
    assert!(
        expiration > chrono::Utc::now(),
        "expiration in the future: {expiration}"
    );
    assert!(
        d["expiration"].as_str().unwrap().ends_with('Z'),
        "UTC: {}",
        d["expiration"]
    );

    // The store holds exactly this payment, pending, with one pending attempt and its event.
    assert_eq!(count(app).await, before + 1);
    let payment = app
        .store
        .get_payment_by_reference(reference)
        .await
        .unwrap()
        .expect("payment stored");
    assert_eq!(payment.status, "PENDING");
    assert_eq!(payment.amount, 10000);
    assert_eq!(payment.provider_code.as_deref(), Some(provider));
    assert_eq!(payment.project_id, app.project_id);
    assert_eq!(payment.mode, "test");
    assert!(payment.session_id.is_none());
    assert_eq!(
        serde_json::from_str::<Value>(&payment.metadata).unwrap(),
        json!({"order_id": "ORDER-123", "custom_field": "value"})
    );
    let attempts = app.store.list_attempts(&payment.id).await.unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].status, "pending");
    assert_eq!(attempts[0].provider_code, provider);
    assert!(attempts[0].provider_id.is_some());
    let outbox = app.store.list_outbox(&payment.id).await.unwrap();
    let pending = outbox
        .iter()
        .find(|o| o.kind == "payment.pending")
        .expect("a payment.pending event in the outbox");
    let payload: Value = serde_json::from_str(&pending.payload).expect("payload is JSON");
    for k in ["type", "data", "id", "created_at"] {
        assert!(payload.get(k).is_some(), "payload has {k}: {payload}");
    }
    assert_eq!(payload["type"], json!("payment.pending"));
    assert_eq!(payload["data"]["status"], json!("PENDING"));
    assert_eq!(payload["data"]["amount"], json!("10000"));
    assert_eq!(payload["data"]["reference"], json!(reference));
    assert_eq!(payload["data"]["provider"]["code"], json!(provider));
    rfc3339(&payload["created_at"]);
    d
}

e2e!(direct_payment_orange_money, |app| {
    direct_payment(app, "om").await;
});

e2e!(direct_payment_wave, |app| {
    let first = direct_payment(app, "wave").await;
    let second = direct_payment(app, "wave").await;
    assert_ne!(
        first["reference"], second["reference"],
        "references are unique"
    );
    assert_eq!(
        first["payer"]["userId"], second["payer"]["userId"],
        "same customer, same userId"
    );
});
