//! Bad input: every case is a clear 4xx in the envelope, and nothing is written.

use crate::support::*;
use serde_json::{json, Map, Value};

/// Sets (or adds) the field at `pointer`, e.g. "/customer/phone".
fn with(mut body: Value, pointer: &str, value: Value) -> Value {
    let (parent, name) = pointer.rsplit_once('/').expect("a JSON pointer");
    let target = if parent.is_empty() {
        &mut body
    } else {
        body.pointer_mut(parent).expect("parent exists")
    };
    target
        .as_object_mut()
        .expect("object")
        .insert(name.to_owned(), value);
    body
}

fn without(mut body: Value, parent: &str, field: &str) -> Value {
    let target = if parent.is_empty() {
        &mut body
    } else {
        body.pointer_mut(parent).expect("parent exists")
    };
    target.as_object_mut().expect("object").remove(field);
    body
}

e2e!(malformed_bodies, |app| {
    let before = count(app).await;
    for path in [SESSION, PAYMENT] {
        for bad in [&b"{"[..], b"{\"amount\": }", b"not json", b"", b"[1,2"] {
            let r = send(
                app,
                reqwest::Method::POST,
                path,
                Some(&app.write_key),
                Some((Some("application/json"), bad.to_vec())),
                &[],
            )
            .await;
            assert_error(&r, 400, "invalid_json");
        }
        // Valid JSON but not an object.
        let r = send(
            app,
            reqwest::Method::POST,
            path,
            Some(&app.write_key),
            Some((Some("application/json"), b"[1]".to_vec())),
            &[],
        )
        .await;
        assert_invalid_field(&r, "body");
        // Missing or wrong content type.
        let body = serde_json::to_vec(&session_body()).unwrap();
        let r = send(
            app,
            reqwest::Method::POST,
            path,
            Some(&app.write_key),
            Some((None, body.clone())),
            &[],
        )
        .await;
        assert_error(&r, 415, "unsupported_media_type");
        let r = send(
            app,
            reqwest::Method::POST,
            path,
            Some(&app.write_key),
            Some((Some("text/plain"), body)),
            &[],
        )
        .await;
        assert_error(&r, 415, "unsupported_media_type");
    }
    assert_eq!(count(app).await, before);
});

e2e!(
    body_over_the_limit,
    env = [("MAX_BODY_BYTES", "1024")],
    |app| {
        let before = count(app).await;
        let mut body = session_body();
        body["client_reference"] = json!("x".repeat(2048));
        let bytes = serde_json::to_vec(&body).unwrap();
        assert!(bytes.len() > 2048);
        for path in [SESSION, PAYMENT] {
            let r = send(
                app,
                reqwest::Method::POST,
                path,
                Some(&app.write_key),
                Some((Some("application/json"), bytes.clone())),
                &[],
            )
            .await;
            assert_error(&r, 413, "payload_too_large");
        }
        // Under the limit still works.
        let r = post(app, SESSION, Some(&app.write_key), &session_body(), &[]).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(count(app).await, before + 1);
    }
);

e2e!(invalid_fields, |app| {
    let s = session_body;
    let p = || payment_body("wave");
    let cases: Vec<(&str, Value, &str)> = vec![
        (SESSION, with(s(), "/amount", json!("abc")), "amount"),
        (SESSION, with(s(), "/amount", json!(true)), "amount"),
        (SESSION, with(s(), "/customer", json!("x")), "customer"),
        (
            SESSION,
            without(s(), "/customer", "phone"),
            "customer.phone",
        ),
        (SESSION, without(s(), "", "customer"), "customer.phone"),
        (SESSION, without(s(), "", "amount"), "amount"),
        (SESSION, without(s(), "", "currency"), "currency"),
        (
            SESSION,
            with(s(), "/customer/phone", json!("12")),
            "customer.phone",
        ),
        (
            SESSION,
            with(s(), "/customer/phone", json!("+221 77 123")),
            "customer.phone",
        ),
        (
            SESSION,
            with(s(), "/customer/phone", json!(771234567)),
            "customer.phone",
        ),
        (
            SESSION,
            with(s(), "/customer/email", json!("not-an-email")),
            "customer.email",
        ),
        (
            SESSION,
            with(s(), "/success_url", json!("ftp://x")),
            "success_url",
        ),
        (
            SESSION,
            with(s(), "/success_url", json!("javascript:alert(1)")),
            "success_url",
        ),
        (
            SESSION,
            with(s(), "/cancel_url", json!("not a url")),
            "cancel_url",
        ),
        (SESSION, with(s(), "/amount", json!(0)), "amount"),
        (SESSION, with(s(), "/amount", json!(-5)), "amount"),
        (SESSION, with(s(), "/amount", json!(10.5)), "amount"),
        (SESSION, with(s(), "/amount", json!(1e20)), "amount"),
        (SESSION, with(s(), "/amount", json!("10.5")), "amount"),
        (SESSION, with(s(), "/currency", json!("ABC")), "currency"),
        (SESSION, with(s(), "/currency", json!("xof")), "currency"),
        (SESSION, with(s(), "/expires_in", json!(5)), "expires_in"),
        (SESSION, with(s(), "/metadata", json!("x")), "metadata"),
        (PAYMENT, with(p(), "/amount", json!("abc")), "amount"),
        (PAYMENT, with(p(), "/amount", json!(0)), "amount"),
        (PAYMENT, with(p(), "/amount", json!(1e20)), "amount"),
        (
            PAYMENT,
            with(p(), "/customer/phone", json!("abc")),
            "customer.phone",
        ),
        (
            PAYMENT,
            with(p(), "/provider_code", json!("paypal")),
            "provider_code",
        ),
        (
            PAYMENT,
            with(p(), "/provider_code", json!(7)),
            "provider_code",
        ),
        (PAYMENT, without(p(), "", "provider_code"), "provider_code"),
        (
            PAYMENT,
            with(p(), "/success_url", json!("javascript:alert(1)")),
            "success_url",
        ),
    ];
    let before = count(app).await;
    for (path, body, field) in cases {
        let r = post(app, path, Some(&app.write_key), &body, &[]).await;
        assert_invalid_field(&r, field);
    }
    // Every problem is reported at once.
    let mut body = with(s(), "/amount", json!(-1));
    body["customer"]["email"] = json!("nope");
    body["success_url"] = json!("ftp://x");
    let r = post(app, SESSION, Some(&app.write_key), &body, &[]).await;
    let details = assert_error(&r, 400, "validation_error");
    let names = fields(details);
    for f in ["amount", "customer.email", "success_url"] {
        assert!(names.iter().any(|n| n == f), "{f} in {names:?}");
    }
    assert_eq!(count(app).await, before);
});

e2e!(metadata_limits, |app| {
    let many: Map<String, Value> = (0..51).map(|i| (format!("k{i}"), json!(i))).collect();
    let cases: Vec<(Value, &str)> = vec![
        (Value::Object(many), "metadata"),
        (json!({"long": "x".repeat(501)}), "metadata.long"),
        (json!({"price": 10.5}), "metadata.price"),
        (json!({"big": 9_007_199_254_740_993_i64}), "metadata.big"),
        (json!({"a": {"b": {"c": {"d": 1}}}}), "metadata.a.b.c"),
        (json!({"list": [[[1]]]}), "metadata.list[0][0]"),
    ];
    let before = count(app).await;
    for path in [SESSION, PAYMENT] {
        for (metadata, field) in &cases {
            let mut body = if path == SESSION {
                session_body()
            } else {
                payment_body("om")
            };
            body["metadata"] = metadata.clone();
            let r = post(app, path, Some(&app.write_key), &body, &[]).await;
            assert_invalid_field(&r, field);
        }
    }
    assert_eq!(count(app).await, before);
    // At the limits it is accepted.
    let ok: Map<String, Value> = (0..50).map(|i| (format!("k{i}"), json!("v"))).collect();
    let r = post(
        app,
        SESSION,
        Some(&app.write_key),
        &with(session_body(), "/metadata", Value::Object(ok)),
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = post(
        app,
        SESSION,
        Some(&app.write_key),
        &with(
            session_body(),
            "/metadata",
            json!({"s": "x".repeat(500), "a": {"b": {"c": 1}}}),
        ),
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
});
