//! Shared helpers: raw HTTP calls, request bodies and envelope checks; `fixtures` has
//! second projects and keys written straight into the store, and the admin API.

mod fixtures;
pub use fixtures::*;

use nexpay_testkit::TestApp;
use reqwest::header::HeaderMap;
use serde_json::{json, Value};

pub const SESSION: &str = "/api/v1/payment/session/initiate";
pub const PAYMENT: &str = "/api/v1/payment/initiate";
pub const ADMIN: &str = "/admin/api/v1";

pub fn session_path(id: &str) -> String {
    format!("/api/v1/payment/session/{id}")
}

pub fn checkout_path(id: &str) -> String {
    format!("/api/v1/payment/session/{id}/checkout")
}

pub fn session_body() -> Value {
    json!({
        "amount": 10000,
        "currency": "XOF",
        "customer": {"name": "Mouhamed Baba", "email": "customer@example.com", "phone": "+221771234567"},
        "success_url": "https://shop.example/success",
        "cancel_url": "https://shop.example/cancel",
        "metadata": {"order_id": "ORDER-123"}
    })
}

pub fn payment_body(provider: &str) -> Value {
    json!({
        "amount": 10000,
        "currency": "XOF",
        "provider_code": provider,
        "customer": {"name": "Mouhamed Baba", "email": "customer@example.com", "phone": "+221771234567"},
        "metadata": {"order_id": "ORDER-123", "custom_field": "value"}
    })
}

/// A response read as text first, so byte-level properties can be checked too.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn data(&self) -> &Value {
        &self.json["data"]
    }
}

/// Any request: `body` is `(content type or None, bytes)`.
pub async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    key: Option<&str>,
    body: Option<(Option<&str>, Vec<u8>)>,
    headers: &[(&str, &str)],
) -> Resp {
    let mut req = app.client.request(method, app.url(path));
    if let Some(k) = key {
        req = req.header("x-api-key", k);
    }
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    if let Some((content_type, bytes)) = body {
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        req = req.body(bytes);
    }
    Resp::read(req.send().await.expect("request sent")).await
}

impl Resp {
    pub async fn read(resp: reqwest::Response) -> Resp {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body read");
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            text,
            json,
        }
    }
}

pub async fn post(
    app: &TestApp,
    path: &str,
    key: Option<&str>,
    body: &Value,
    headers: &[(&str, &str)],
) -> Resp {
    let bytes = serde_json::to_vec(body).expect("serialisable body");
    send(
        app,
        reqwest::Method::POST,
        path,
        key,
        Some((Some("application/json"), bytes)),
        headers,
    )
    .await
}

pub async fn get(app: &TestApp, path: &str, key: Option<&str>) -> Resp {
    send(app, reqwest::Method::GET, path, key, None, &[]).await
}

/// Asserts the error envelope and returns the `details` list.
#[track_caller]
pub fn assert_error<'a>(r: &'a Resp, status: u16, code: &str) -> &'a Vec<Value> {
    assert_eq!(r.status, status, "status of {}", r.text);
    assert_eq!(
        r.json["statusCode"],
        json!(status),
        "statusCode of {}",
        r.text
    );
    assert!(
        r.json["message"].as_str().is_some_and(|m| !m.is_empty()),
        "message of {}",
        r.text
    );
    assert_eq!(
        r.json["error"]["code"],
        json!(code),
        "error code of {}",
        r.text
    );
    let request_id = r
        .header("x-request-id")
        .expect("x-request-id header on an error");
    assert!(!request_id.is_empty());
    assert_eq!(
        r.json["requestId"],
        json!(request_id),
        "requestId of {}",
        r.text
    );
    assert_no_leak(&r.text);
    r.json["error"]["details"]
        .as_array()
        .expect("error.details is a list")
}

/// The `field` of every detail.
pub fn fields(details: &[Value]) -> Vec<String> {
    details
        .iter()
        .map(|d| d["field"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Asserts a 400 validation error naming `field` (among possibly others).
#[track_caller]
pub fn assert_invalid_field(r: &Resp, field: &str) {
    let details = assert_error(r, 400, "validation_error");
    let names = fields(details);
    assert!(
        names.iter().any(|f| f == field),
        "expected a detail for {field}, got {names:?} in {}",
        r.text
    );
    for d in details {
        assert!(
            d["message"].as_str().is_some_and(|m| !m.is_empty()),
            "detail without message: {d}"
        );
    }
}

#[track_caller]
pub fn assert_no_leak(text: &str) {
    let lower = text.to_lowercase();
    for needle in [
        "diesel",
        "sqlx",
        "panicked",
        "stack backtrace",
        "rust_backtrace",
        ".rs:",
        "select ",
        "insert into",
        "constraint",
        "sqlite",
        "postgres",
        "nexpay_store",
    ] {
        assert!(
            !lower.contains(needle),
            "response leaks internals ({needle}): {text}"
        );
    }
}

pub async fn count(app: &TestApp) -> i64 {
    app.store
        .count_payments(&app.project_id, "test")
        .await
        .expect("count payments")
}

pub async fn create_session(app: &TestApp) -> String {
    let r = post(app, SESSION, Some(&app.write_key), &session_body(), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.data()["sessionId"]
        .as_str()
        .expect("sessionId")
        .to_owned()
}

/// Parses an RFC 3339 timestamp.
#[track_caller]
pub fn rfc3339(v: &Value) -> chrono::DateTime<chrono::Utc> {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("expected an RFC 3339 string, got {v}"));
    chrono::DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{s:?} is not RFC 3339: {e}"))
        .with_timezone(&chrono::Utc)
}

/// The keys of a JSON object, in order.
pub fn keys(v: &Value) -> Vec<&str> {
    v.as_object()
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default()
}
