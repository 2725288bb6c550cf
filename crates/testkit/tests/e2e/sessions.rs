//! Session creation, the status route, and request ids.

use crate::support::*;
use serde_json::json;

e2e!(create_session_envelope, |app| {
    let before = count(app).await;
    let r = post(app, SESSION, Some(&app.write_key), &session_body(), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.text.starts_with(r#"{"statusCode":200,"message":"#),
        "envelope starts with statusCode then message: {}",
        r.text
    );
    assert_eq!(keys(&r.json), ["statusCode", "message", "data"]);
    assert!(r.json["message"].as_str().is_some_and(|m| !m.is_empty()));
    let data = r.data();
    assert_eq!(
        keys(data),
        ["sessionId", "checkoutUrl", "status", "expiresAt"]
    );
    let id = data["sessionId"].as_str().unwrap();
    let random = id.strip_prefix("cs_").expect("session ids start with cs_");
    assert!(
        random.len() >= 32,
        "at least 128 bits (32 base32 characters): {id}"
    );
    assert!(
        random
            .bytes()
            .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b)),
        "base32: {id}"
    );
    assert_eq!(
        data["checkoutUrl"],
        json!(format!("{}/checkout/{id}", app.base_url))
    );
    assert_eq!(data["status"], json!("opened"));
    let expires = rfc3339(&data["expiresAt"]);
    let ttl = (expires - chrono::Utc::now()).num_seconds();
    assert!(
        (1700..=1800).contains(&ttl),
        "default TTL is 30 minutes, got {ttl}s"
    );
    assert!(r.header("x-request-id").is_some_and(|v| !v.is_empty()));
    assert_eq!(count(app).await, before + 1);

    // Two sessions never share an id.
    let other = create_session(app).await;
    assert_ne!(other, id);
});

e2e!(session_status_with_read_and_write_keys, |app| {
    let mut body = session_body();
    body["customer"]["phone"] = json!("771234567");
    body["metadata"] =
        json!({"order_id": "ORDER-123", "zeta": 1, "alpha": {"b": "x", "a": [1, 2]}, "beta": true});
    body["client_reference"] = json!("ref-42");
    let r = post(app, SESSION, Some(&app.write_key), &body, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let id = r.data()["sessionId"].as_str().unwrap().to_owned();

    let by_read = get(app, &session_path(&id), Some(&app.read_key)).await;
    let by_write = get(app, &session_path(&id), Some(&app.write_key)).await;
    for g in [&by_read, &by_write] {
        assert_eq!(g.status, 200, "{}", g.text);
        assert!(
            g.text.starts_with(r#"{"statusCode":200,"message":"#),
            "{}",
            g.text
        );
        let d = g.data();
        assert_eq!(d["sessionId"], json!(id));
        assert_eq!(d["status"], json!("opened"));
        assert_eq!(d["amount"], json!(10000));
        assert_eq!(d["currency"], json!("XOF"));
        assert_eq!(
            d["customer"],
            json!({"name": "Mouhamed Baba", "email": "customer@example.com", "phone": "+221771234567"})
        );
        assert_eq!(keys(&d["customer"]), ["name", "email", "phone"]);
        assert!(
            d["provider"].is_null(),
            "no provider chosen yet: {}",
            d["provider"]
        );
        assert_eq!(d["metadata"], body["metadata"]);
        assert_eq!(
            keys(&d["metadata"]),
            ["order_id", "zeta", "alpha", "beta"],
            "metadata keeps its key order"
        );
        assert_eq!(keys(&d["metadata"]["alpha"]), ["b", "a"]);
        assert_eq!(d["client_reference"], json!("ref-42"));
        assert_eq!(
            d["checkoutUrl"],
            json!(format!("{}/checkout/{id}", app.base_url))
        );
        assert_eq!(rfc3339(&d["expiresAt"]), rfc3339(&r.data()["expiresAt"]));
        assert!(g.header("x-request-id").is_some());
    }
    assert_eq!(by_read.data(), by_write.data());

    // The store agrees.
    let stored = app
        .store
        .get_session(&id)
        .await
        .unwrap()
        .expect("session stored");
    assert_eq!(stored.customer_phone, "+221771234567");
    assert_eq!(
        stored.success_url.as_deref(),
        Some("https://shop.example/success")
    );
    assert_eq!(stored.status, "opened");
});

e2e!(request_ids_everywhere, |app| {
    // Generated on success and on errors, and equal to the error body's requestId.
    let ok = post(app, SESSION, Some(&app.write_key), &session_body(), &[]).await;
    assert_eq!(ok.status, 200);
    let generated = ok.header("x-request-id").expect("x-request-id on success");
    assert!(generated.len() >= 8, "{generated}");
    let again = post(app, SESSION, Some(&app.write_key), &session_body(), &[]).await;
    assert_ne!(
        again.header("x-request-id"),
        Some(generated),
        "a fresh id per request"
    );

    let missing = post(app, SESSION, None, &session_body(), &[]).await;
    assert_error(&missing, 401, "missing_api_key");
    let route = get(app, "/api/v1/payment/nope", Some(&app.write_key)).await;
    assert_error(&route, 404, "not_found");
    let invalid = post(
        app,
        SESSION,
        Some(&app.write_key),
        &json!({"amount": 0}),
        &[],
    )
    .await;
    assert_error(&invalid, 400, "validation_error");

    // An incoming id is echoed, on success and on errors (body included).
    let trace = [("x-request-id", "trace-e2e_42.a:b")];
    let ok = post(app, SESSION, Some(&app.write_key), &session_body(), &trace).await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.header("x-request-id"), Some("trace-e2e_42.a:b"));
    let get_ok = send(
        app,
        reqwest::Method::GET,
        &session_path(ok.data()["sessionId"].as_str().unwrap()),
        Some(&app.read_key),
        None,
        &trace,
    )
    .await;
    assert_eq!(get_ok.status, 200);
    assert_eq!(get_ok.header("x-request-id"), Some("trace-e2e_42.a:b"));
    let err = post(
        app,
        SESSION,
        Some("nxp_sk_test_unknown"),
        &session_body(),
        &trace,
    )
    .await;
    assert_error(&err, 401, "invalid_api_key");
    assert_eq!(err.json["requestId"], json!("trace-e2e_42.a:b"));
    let bad = send(
        app,
        reqwest::Method::POST,
        SESSION,
        Some(&app.write_key),
        Some((Some("application/json"), b"{".to_vec())),
        &trace,
    )
    .await;
    assert_error(&bad, 400, "invalid_json");
    assert_eq!(bad.json["requestId"], json!("trace-e2e_42.a:b"));

    // An unsafe incoming id is replaced, not echoed.
    let unsafe_id = [("x-request-id", "evil id<script>")];
    let r = send(
        app,
        reqwest::Method::GET,
        "/health/live",
        None,
        None,
        &unsafe_id,
    )
    .await;
    let id = r.header("x-request-id").expect("replaced id");
    assert_ne!(id, "evil id<script>");
    assert!(
        id.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b)),
        "{id}"
    );
});
