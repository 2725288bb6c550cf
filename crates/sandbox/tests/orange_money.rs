//! Orange Money (Sonatel) simulator against PROVIDERS.md §4 and §7.
#![allow(clippy::unwrap_used)]

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{test, web, App, HttpRequest, HttpResponse, HttpServer};
use base64::Engine;
use chrono::{TimeZone, Utc};
use nexpay_sandbox::orange_money::{
    configure, sign_notification, verify_signature_header, Faults, ManualClock, OmClient, OmSim,
    OmSimConfig,
};
use serde_json::{json, Value};

const SECRET: &str = "om_endpoint_secret_test";
const API_KEY: &str = "merchant-api-key-42";
const BASE: &str = "/sandbox/om";
/// Receiver script entry: answer 200 after the simulator's timeout.
const SLOW: u16 = 0;

fn config() -> OmSimConfig {
    let mut pending = OmClient::new("pending-app", "pending-secret");
    pending.provisioned = false;
    OmSimConfig {
        clients: vec![OmClient::new("client-1", "secret-1"), pending],
        endpoint_secret: Some(SECRET.into()),
        notification_max_attempts: 3,
        notification_retry_backoff: Duration::from_millis(20),
        notification_timeout: Duration::from_secs(2),
        ..OmSimConfig::default()
    }
}

fn sim() -> (OmSim, ManualClock) {
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 9, 9, 10, 2, 59).unwrap());
    (OmSim::with_clock(config(), Arc::new(clock.clone())), clock)
}

type Answer = (StatusCode, String, Option<String>);
type AnswerFuture = Pin<Box<dyn Future<Output = Answer>>>;

/// The in-process simulator service (mounted under `/sandbox/om`).
struct TestApp(Rc<dyn Fn(test::TestRequest) -> AnswerFuture>);

async fn app(sim: &OmSim) -> TestApp {
    let svc = Rc::new(
        test::init_service(App::new().service(web::scope(BASE).configure(configure(sim.clone()))))
            .await,
    );
    TestApp(Rc::new(move |req: test::TestRequest| {
        let svc = svc.clone();
        Box::pin(async move {
            let resp = test::call_service(&*svc, req.to_request()).await;
            let status = resp.status();
            let ct = resp
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_owned());
            let body = test::read_body(resp).await;
            (status, String::from_utf8(body.to_vec()).unwrap(), ct)
        })
    }))
}

fn path(p: &str) -> String {
    format!("{BASE}{p}")
}

async fn call(app: &TestApp, req: test::TestRequest) -> Answer {
    (app.0)(req).await
}

async fn token(app: &TestApp) -> String {
    let (status, body, _) = call(
        app,
        test::TestRequest::post()
            .uri(&path("/oauth/v1/token"))
            .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
            .set_payload("grant_type=client_credentials&client_id=client-1&client_secret=secret-1"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    v["access_token"].as_str().unwrap().to_owned()
}

fn api_get(uri: &str, token: &str) -> test::TestRequest {
    test::TestRequest::get()
        .uri(&path(uri))
        .insert_header(("Authorization", format!("Bearer {token}")))
        .insert_header(("Content-Type", "application/json"))
}

fn api_post(uri: &str, token: &str, body: &Value) -> test::TestRequest {
    test::TestRequest::post()
        .uri(&path(uri))
        .insert_header(("Authorization", format!("Bearer {token}")))
        .insert_header(("Content-Type", "application/json"))
        .set_payload(body.to_string())
}

fn qr_body(reference: &str, value: i64) -> Value {
    json!({
        "amount": {"unit": "XOF", "value": value},
        "code": "621513",
        "name": "MY SHOP <&>",
        "validity": 900,
        "reference": reference,
        "metadata": {"orderId": reference},
        "callbackSuccessUrl": "https://shop.example/om/ok",
        "callbackCancelUrl": "https://shop.example/om/ko"
    })
}

// ---------------------------------------------------------------- notification receiver

#[derive(Clone, Debug)]
struct Received {
    authorization: Option<String>,
    signature: Option<String>,
    idempotency_key: Option<String>,
    body: Vec<u8>,
}

#[derive(Clone, Default)]
struct Receiver {
    received: Arc<Mutex<Vec<Received>>>,
    /// Statuses to answer, in order; 200 once exhausted; `SLOW` answers 200 too late.
    script: Arc<Mutex<VecDeque<u16>>>,
}

impl Receiver {
    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..250 {
            if self.received.lock().unwrap().len() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.received()
    }
}

async fn receive(rx: web::Data<Receiver>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    rx.received.lock().unwrap().push(Received {
        authorization: header("Authorization"),
        signature: header("X-Sonatel-Signature"),
        idempotency_key: header("X-Sonatel-Idempotency-Key"),
        body: body.to_vec(),
    });
    let status = rx.script.lock().unwrap().pop_front().unwrap_or(200);
    if status == SLOW {
        tokio::time::sleep(Duration::from_millis(600)).await;
        return HttpResponse::Ok().finish();
    }
    HttpResponse::build(StatusCode::from_u16(status).unwrap()).finish()
}

/// A local HTTP server recording notifications; returns its URL.
async fn receiver(script: &[u16]) -> (Receiver, String) {
    let rx = Receiver::default();
    rx.script.lock().unwrap().extend(script.iter().copied());
    let data = web::Data::new(rx.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/webhooks/om", web::post().to(receive))
    })
    .workers(1)
    .disable_signals()
    .bind(("127.0.0.1", 0))
    .unwrap();
    let addr = server.addrs()[0];
    actix_web::rt::spawn(server.run());
    (rx, format!("http://{addr}/webhooks/om"))
}

async fn register_callback(app: &TestApp, tok: &str, url: &str) {
    let (status, body, _) = call(
        app,
        api_post(
            "/api/notification/v1/merchantcallback",
            tok,
            &json!({"apiKey": API_KEY, "code": "621513", "name": "MY SHOP", "callbackUrl": url}),
        ),
    )
    .await;
    assert!(status.is_success(), "{status} {body}");
    assert!(body.is_empty(), "registration answers an empty body");
}

async fn create_qr(app: &TestApp, tok: &str, body: &Value) -> Value {
    let (status, text, _) = call(app, api_post("/api/eWallet/v4/qrcode", tok, body)).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    serde_json::from_str(&text).unwrap()
}

async fn pay(app: &TestApp, qr_id: &str, outcome: &str) -> (StatusCode, Value) {
    let (status, text, _) = call(
        app,
        test::TestRequest::post()
            .uri(&path(&format!("/_sim/qr/{qr_id}/pay")))
            .insert_header(("Content-Type", "application/json"))
            .set_payload(
                json!({"msisdn": "772490530", "channel": "MAXIT", "outcome": outcome}).to_string(),
            ),
    )
    .await;
    (status, serde_json::from_str(&text).unwrap())
}

// ---------------------------------------------------------------- tests

#[core::prelude::v1::test]
fn orange_signature_known_answer_vector() {
    let body = br#"{"amount":{"value":10.0,"unit":"XOF"},"reference":"ORDER-1","status":"SUCCESS","transactionId":"MP231114.2213.A00001","type":"MERCHANT_PAYMENT"}"#;
    let header = sign_notification(SECRET.as_bytes(), 1_700_000_000, body);
    assert_eq!(
        header,
        "t=1700000000,v1=e2409657e6a38f92fae426fc4accd21d9647c489905714fe34287e047d54e451"
    );
    assert!(verify_signature_header(
        SECRET.as_bytes(),
        &header,
        body,
        1_700_000_100,
        300
    ));
    // Several v1 values (rotation): any match is enough.
    let rotated = format!("t=1700000000,v1={},{}", "00".repeat(32), &header[13..]);
    assert!(verify_signature_header(
        SECRET.as_bytes(),
        &rotated,
        body,
        1_700_000_000,
        300
    ));
    // Outside the 300 s tolerance, wrong secret, altered body.
    assert!(!verify_signature_header(
        SECRET.as_bytes(),
        &header,
        body,
        1_700_000_301,
        300
    ));
    assert!(!verify_signature_header(
        b"other",
        &header,
        body,
        1_700_000_000,
        300
    ));
    assert!(!verify_signature_header(
        SECRET.as_bytes(),
        &header,
        &body[1..],
        1_700_000_000,
        300
    ));
}

#[actix_web::test]
async fn token_lives_299_seconds() {
    let (sim, clock) = sim();
    let app = app(&sim).await;
    let (status, body, _) = call(
        &app,
        test::TestRequest::post()
            .uri(&path("/oauth/v1/token"))
            .set_payload("grant_type=client_credentials&client_id=client-1&client_secret=secret-1"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["expires_in"], 299);
    assert_eq!(v["token_type"], "bearer");
    let tok = v["access_token"].as_str().unwrap().to_owned();

    let search = "/api/eWallet/v1/transactions?reference=X";
    assert_eq!(call(&app, api_get(search, &tok)).await.0, StatusCode::OK);
    clock.advance(chrono::Duration::seconds(298));
    assert_eq!(call(&app, api_get(search, &tok)).await.0, StatusCode::OK);
    clock.advance(chrono::Duration::seconds(1));
    let (status, _, _) = call(&app, api_get(search, &tok)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = call(&app, api_get(search, "not-a-token")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn token_errors_follow_the_doc() {
    let (sim, _) = sim();
    let app = app(&sim).await;
    let form = |body: &'static str| {
        test::TestRequest::post()
            .uri(&path("/oauth/v1/token"))
            .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
            .set_payload(body)
    };
    let (status, body, _) = call(
        &app,
        form("grant_type=client_credentials&client_id=client-1&client_secret=nope"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"error":"unauthorized_client","error_description":"INVALID_CREDENTIALS: Invalid client credentials"})
    );
    let (status, body, _) = call(
        &app,
        form("grant_type=client_credentials&client_id=pending-app&client_secret=pending-secret"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("\"unauthorized_client\""));
    let (status, body, _) = call(
        &app,
        form("grant_type=client_credentials&client_id=ghost&client_secret=x"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("\"invalid_client\""));
    let (status, _, _) = call(
        &app,
        form("grant_type=password&client_id=client-1&client_secret=secret-1"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Basic auth is also accepted.
    let basic = base64::engine::general_purpose::STANDARD.encode("client-1:secret-1");
    let (status, _, _) = call(
        &app,
        form("grant_type=client_credentials")
            .insert_header(("Authorization", format!("Basic {basic}"))),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[actix_web::test]
async fn content_type_is_required_even_on_get() {
    let (sim, _) = sim();
    let app = app(&sim).await;
    let tok = token(&app).await;
    let (status, body, ct) = call(
        &app,
        test::TestRequest::get()
            .uri(&path("/api/eWallet/v1/transactions?reference=X"))
            .insert_header(("Authorization", format!("Bearer {tok}"))),
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    assert_eq!(ct.as_deref(), Some("application/problem+json"));
    let (status, _, _) = call(
        &app,
        test::TestRequest::post()
            .uri(&path("/api/eWallet/v4/qrcode"))
            .insert_header(("Authorization", format!("Bearer {tok}")))
            .set_payload(qr_body("R", 100).to_string()),
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // Without a token: 401.
    let (status, _, _) = call(
        &app,
        test::TestRequest::get()
            .uri(&path("/api/eWallet/v1/transactions"))
            .insert_header(("Content-Type", "application/json")),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn qrcode_validation_errors() {
    let (sim, _) = sim();
    let app = app(&sim).await;
    let tok = token(&app).await;
    let base = qr_body("ORD-1", 5000);
    let with = |key: &str, value: Value| {
        let mut b = base.clone();
        b[key] = value;
        b
    };
    let without = |key: &str| {
        let mut b = base.clone();
        b.as_object_mut().unwrap().remove(key);
        b
    };
    let metadata: serde_json::Map<String, Value> =
        (0..11).map(|i| (format!("k{i}"), json!("v"))).collect();
    let bad = [
        with("validity", json!(86_401)),
        with("validity", json!(0)),
        without("validity"),
        with("amount", json!({"unit": "EUR", "value": 5000})),
        with("amount", json!({"unit": "XOF", "value": 10.5})),
        with("amount", json!({"unit": "XOF", "value": 0})),
        with("amount", json!(5000)),
        with("code", json!("12345")),
        without("code"),
        without("name"),
        with("metadata", Value::Object(metadata)),
        with("metadata", json!({"n": 1})),
        with("reference", json!(42)),
        with("callbackSuccessUrl", json!("not a url")),
    ];
    for body in bad {
        let (status, text, ct) = call(&app, api_post("/api/eWallet/v4/qrcode", &tok, &body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} -> {text}");
        assert_eq!(ct.as_deref(), Some("application/problem+json"));
        let problem: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(problem["status"], "400");
        assert!(problem["detail"].is_string());
        assert_eq!(problem["instance"], path("/api/eWallet/v4/qrcode"));
    }
    let (status, _, _) = call(
        &app,
        api_post("/api/eWallet/v4/qrcode", &tok, &base)
            .insert_header(("X-Callback-Url", "ftp://nope")),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Limits themselves are accepted; `code` may be a number.
    let mut ok = with("validity", json!(86_400));
    ok["code"] = json!(621513);
    ok["metadata"] = Value::Object((0..10).map(|i| (format!("k{i}"), json!("v"))).collect());
    create_qr(&app, &tok, &ok).await;
}

#[actix_web::test]
async fn qrcode_response_has_png_and_deep_links() {
    let (sim, _) = sim();
    let app = app(&sim).await;
    let tok = token(&app).await;
    let qr = create_qr(&app, &tok, &qr_body("ORD-2024-001", 5000)).await;
    let png = base64::engine::general_purpose::STANDARD
        .decode(qr["qrCode"].as_str().unwrap())
        .unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&png[12..16], b"IHDR");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    assert!(width >= 240, "{width}");
    let deep = qr["deepLink"].as_str().unwrap();
    assert!(deep.starts_with("https://sugu.orange-sonatel.com/mp/"));
    assert_eq!(qr["deepLinks"]["MAXIT"], deep);
    assert!(qr["deepLinks"]["OM"]
        .as_str()
        .unwrap()
        .starts_with("https://orangemoneysn.page.link/"));
    assert_eq!(qr["validity"], 900);
    assert_eq!(qr["metadata"], json!({"orderId": "ORD-2024-001"}));
    assert!(!qr["qrId"].as_str().unwrap().is_empty());
    assert!(qr["shortLink"].as_str().unwrap().starts_with("https://"));
    assert_eq!(qr["validFor"]["startDateTime"], "2026-09-09T10:02:59.000Z");
    assert_eq!(qr["validFor"]["endDateTime"], "2026-09-09T10:17:59.000Z");
    // An unpaid QR code is invisible to the search.
    let (_, text, _) = call(
        &app,
        api_get("/api/eWallet/v1/transactions?reference=ORD-2024-001", &tok),
    )
    .await;
    assert_eq!(text, "[]");
}

#[actix_web::test]
async fn transactions_search_and_status_use_float_amounts() {
    let (sim, _) = sim();
    let app = app(&sim).await;
    let tok = token(&app).await;
    let qr = create_qr(&app, &tok, &qr_body("ORD-7", 5000)).await;
    let (status, tx) = pay(&app, qr["qrId"].as_str().unwrap(), "SUCCESS").await;
    assert_eq!(status, StatusCode::OK, "{tx}");
    let id = tx["transactionId"].as_str().unwrap().to_owned();
    // MP<yyMMdd>.<HHmm>.A<5 digits>
    assert!(id.starts_with("MP260909.1002.A"), "{id}");
    assert_eq!(id.len(), "MP260909.1002.A34169".len());
    assert!(id[15..].bytes().all(|b| b.is_ascii_digit()));

    let (status, text, _) = call(
        &app,
        api_get("/api/eWallet/v1/transactions?reference=ORD-7", &tok),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.starts_with('['));
    assert!(
        text.contains(r#""amount":{"value":5000.0,"unit":"XOF"}"#),
        "{text}"
    );
    let rows: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 1);
    let row = &rows[0];
    assert!(row["amount"]["value"].is_f64());
    assert_eq!(row["transactionId"], id.as_str());
    assert_eq!(row["type"], "MERCHANT_PAYMENT");
    assert_eq!(row["status"], "SUCCESS");
    assert_eq!(row["channel"], "MAXIT");
    assert_eq!(row["reference"], "ORD-7");
    assert_eq!(
        row["partner"],
        json!({"id":"621513","idType":"CODE","walletType":"PRINCIPAL"})
    );
    assert_eq!(row["customer"]["id"], "772490530");
    assert_eq!(row["metadata"]["orderId"], "ORD-7");

    // Filters: status, the `type` bug, unknown reference, fromDateTime (strict).
    for (query, expected) in [
        ("reference=ORD-7&status=SUCCESS", 1),
        ("reference=ORD-7&status=FAILED", 0),
        ("reference=ORD-7&type=MERCHANT_PAYMENT", 0),
        ("reference=nope", 0),
        ("reference=ORD-7&fromDateTime=2026-09-09T10:00:59Z", 1),
        ("reference=ORD-7&fromDateTime=2026-09-09T10:02:59Z", 0),
    ] {
        let (_, text, _) = call(
            &app,
            api_get(&format!("/api/eWallet/v1/transactions?{query}"), &tok),
        )
        .await;
        let rows: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(rows.as_array().unwrap().len(), expected, "{query}");
    }

    let (status, text, _) = call(
        &app,
        api_get(&format!("/api/eWallet/v1/transactions/{id}/status"), &tok),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        json!({"status":"SUCCESS"})
    );
    let (status, text, _) = call(
        &app,
        api_get(
            "/api/eWallet/v1/transactions/MP000000.0000.A00000/status",
            &tok,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let problem: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(problem["type"], "/entity-not-found");
    assert_eq!(problem["code"], "60");
    assert_eq!(problem["status"], "404");
    let (status, _, _) = call(
        &app,
        api_get(&format!("/api/eWallet/v4/transactions/{id}/status"), &tok),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A paid QR code cannot be paid again.
    let (status, _) = pay(&app, qr["qrId"].as_str().unwrap(), "SUCCESS").await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[actix_web::test]
async fn type_filter_bug_can_be_switched_off() {
    let clock = ManualClock::new(Utc::now());
    let sim = OmSim::with_clock(
        OmSimConfig {
            type_filter_bug: false,
            ..config()
        },
        Arc::new(clock),
    );
    let app = app(&sim).await;
    let tok = token(&app).await;
    let qr = create_qr(&app, &tok, &qr_body("ORD-T", 100)).await;
    pay(&app, qr["qrId"].as_str().unwrap(), "SUCCESS").await;
    let (_, text, _) = call(
        &app,
        api_get(
            "/api/eWallet/v1/transactions?reference=ORD-T&type=MERCHANT_PAYMENT",
            &tok,
        ),
    )
    .await;
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()[0]["reference"],
        "ORD-T"
    );
}

#[actix_web::test]
async fn callback_registration_is_empty_2xx_and_listed() {
    let (sim, _) = sim();
    let app = app(&sim).await;
    let tok = token(&app).await;
    register_callback(&app, &tok, "https://agg.example/webhooks/om").await;
    let (status, text, _) = call(
        &app,
        api_get("/api/notification/v1/merchantcallback?code=621513", &tok),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let rows: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 1);
    assert_eq!(rows[0]["apiKey"], API_KEY);
    assert_eq!(rows[0]["msisdn"], Value::Null);
    assert_eq!(rows[0]["callbackUrl"], "https://agg.example/webhooks/om");
    assert_eq!(rows[0]["createdAt"], "09-09-2026 10:02:59");
    let (_, text, _) = call(
        &app,
        api_get("/api/notification/v1/merchantcallback?code=999999", &tok),
    )
    .await;
    assert_eq!(text, "[]");
    let (status, _, _) = call(
        &app,
        api_post(
            "/api/notification/v1/merchantcallback",
            &tok,
            &json!({"code": "621513", "name": "X", "callbackUrl": "https://a.example/"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[actix_web::test]
async fn payment_notification_has_basic_api_key_and_valid_signature() {
    let (sim, clock) = sim();
    let app = app(&sim).await;
    let tok = token(&app).await;
    let (rx, url) = receiver(&[]).await;
    register_callback(&app, &tok, &url).await;
    let qr = create_qr(&app, &tok, &qr_body("ORD-N", 5000)).await;
    let (_, tx) = pay(&app, qr["qrId"].as_str().unwrap(), "SUCCESS").await;
    let got = rx.wait_for(1).await;
    assert_eq!(got.len(), 1);
    let n = &got[0];
    assert_eq!(
        n.authorization.as_deref(),
        Some("Basic merchant-api-key-42")
    );
    let sig = n.signature.as_deref().unwrap();
    assert!(sig.starts_with(&format!("t={},v1=", clock.now_unix())));
    assert!(verify_signature_header(
        SECRET.as_bytes(),
        sig,
        &n.body,
        clock.now_unix(),
        300
    ));
    assert!(!n.idempotency_key.as_deref().unwrap_or_default().is_empty());
    let body: Value = serde_json::from_slice(&n.body).unwrap();
    assert_eq!(body, tx);
    assert_eq!(body["status"], "SUCCESS");
    assert_eq!(body["reference"], "ORD-N");
    // Once delivered, Orange marks the transaction in its metadata.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (_, text, _) = call(
        &app,
        api_get("/api/eWallet/v1/transactions?reference=ORD-N", &tok),
    )
    .await;
    let rows: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(rows[0]["metadata"]["notification.dispatched"], "true");
}

trait UnixNow {
    fn now_unix(&self) -> i64;
}

impl UnixNow for ManualClock {
    fn now_unix(&self) -> i64 {
        use nexpay_sandbox::orange_money::Clock;
        self.now().timestamp()
    }
}

#[actix_web::test]
async fn x_callback_url_overrides_the_registered_url() {
    let (sim, _) = sim();
    let app = app(&sim).await;
    let tok = token(&app).await;
    let (registered, registered_url) = receiver(&[]).await;
    let (per_request, per_request_url) = receiver(&[]).await;
    register_callback(&app, &tok, &registered_url).await;
    let (status, text, _) = call(
        &app,
        api_post("/api/eWallet/v4/qrcode", &tok, &qr_body("ORD-X", 100))
            .insert_header(("X-Callback-Url", per_request_url.as_str())),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let qr: Value = serde_json::from_str(&text).unwrap();
    pay(&app, qr["qrId"].as_str().unwrap(), "FAILED").await;
    let got = per_request.wait_for(1).await;
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].authorization.as_deref(),
        Some("Basic merchant-api-key-42")
    );
    let body: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(body["status"], "FAILED");
    assert!(registered.received().is_empty());
}

#[actix_web::test]
async fn no_retry_on_4xx() {
    let (sim, _) = sim();
    let app = app(&sim).await;
    let tok = token(&app).await;
    let (rx, url) = receiver(&[400, 500, 500]).await;
    register_callback(&app, &tok, &url).await;
    let qr = create_qr(&app, &tok, &qr_body("ORD-4", 100)).await;
    pay(&app, qr["qrId"].as_str().unwrap(), "SUCCESS").await;
    rx.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.received().len(), 1);
}

#[actix_web::test]
async fn retries_on_5xx_with_the_same_idempotency_key() {
    let (sim, _) = sim();
    let app = app(&sim).await;
    let tok = token(&app).await;
    let (rx, url) = receiver(&[500, 503]).await;
    register_callback(&app, &tok, &url).await;
    let qr = create_qr(&app, &tok, &qr_body("ORD-5", 100)).await;
    pay(&app, qr["qrId"].as_str().unwrap(), "SUCCESS").await;
    let got = rx.wait_for(3).await;
    assert_eq!(got.len(), 3);
    assert!(got
        .iter()
        .all(|r| r.idempotency_key == got[0].idempotency_key));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(rx.received().len(), 3, "no retry after the 2xx");
    let (_, text, _) = call(
        &app,
        test::TestRequest::get().uri(&path("/_sim/notifications")),
    )
    .await;
    let log: Value = serde_json::from_str(&text).unwrap();
    let statuses: Vec<u64> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [500, 503, 200]);
}

#[actix_web::test]
async fn retries_after_a_timeout() {
    let clock = ManualClock::new(Utc::now());
    let sim = OmSim::with_clock(
        OmSimConfig {
            notification_timeout: Duration::from_millis(200),
            ..config()
        },
        Arc::new(clock),
    );
    let app = app(&sim).await;
    let tok = token(&app).await;
    let (rx, url) = receiver(&[SLOW]).await;
    register_callback(&app, &tok, &url).await;
    let qr = create_qr(&app, &tok, &qr_body("ORD-TO", 100)).await;
    pay(&app, qr["qrId"].as_str().unwrap(), "SUCCESS").await;
    let got = rx.wait_for(2).await;
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].idempotency_key, got[1].idempotency_key);
}

#[actix_web::test]
async fn notification_faults() {
    let (sim, clock) = sim();
    let app = app(&sim).await;
    let tok = token(&app).await;
    let (rx, url) = receiver(&[]).await;
    register_callback(&app, &tok, &url).await;

    let set = |faults: Value| {
        test::TestRequest::post()
            .uri(&path("/_sim/faults"))
            .insert_header(("Content-Type", "application/json"))
            .set_payload(faults.to_string())
    };
    assert_eq!(
        call(&app, set(json!({"loseNotification": true}))).await.0,
        StatusCode::OK
    );
    let qr = create_qr(&app, &tok, &qr_body("ORD-L", 100)).await;
    let (status, _) = pay(&app, qr["qrId"].as_str().unwrap(), "SUCCESS").await;
    assert_eq!(status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(rx.received().is_empty());

    call(
        &app,
        set(json!({"duplicateNotification": true, "badSignature": true})),
    )
    .await;
    let qr = create_qr(&app, &tok, &qr_body("ORD-D", 100)).await;
    pay(&app, qr["qrId"].as_str().unwrap(), "SUCCESS").await;
    let got = rx.wait_for(2).await;
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].idempotency_key, got[1].idempotency_key);
    assert!(!verify_signature_header(
        SECRET.as_bytes(),
        got[0].signature.as_deref().unwrap(),
        &got[0].body,
        clock.now_unix(),
        300
    ));

    // API faults: two 429 then normal service; then a permanent 500.
    call(
        &app,
        set(json!({"apiErrorStatus": 429, "apiErrorCount": 2})),
    )
    .await;
    let search = "/api/eWallet/v1/transactions?reference=ORD-D";
    let (status, _, _) = call(&app, api_get(search, &tok)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        call(&app, api_get(search, &tok)).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(call(&app, api_get(search, &tok)).await.0, StatusCode::OK);
    call(&app, set(json!({"apiErrorStatus": 500}))).await;
    assert_eq!(
        call(&app, api_get(search, &tok)).await.0,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    sim.set_faults(Faults::default());
    assert_eq!(call(&app, api_get(search, &tok)).await.0, StatusCode::OK);
    assert_eq!(
        call(&app, set(json!({"unknownSwitch": true}))).await.0,
        StatusCode::BAD_REQUEST
    );
}

#[actix_web::test]
async fn expired_qr_and_minimum_payable_amount() {
    let (sim, clock) = sim();
    let app = app(&sim).await;
    let tok = token(&app).await;
    // The API accepts 5 XOF but MaxIt refuses to pay under 10 XOF.
    let small = create_qr(&app, &tok, &qr_body("ORD-S", 5)).await;
    let (status, _) = pay(&app, small["qrId"].as_str().unwrap(), "SUCCESS").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let qr = create_qr(&app, &tok, &qr_body("ORD-E", 100)).await;
    clock.advance(chrono::Duration::seconds(900));
    let (status, problem) = pay(&app, qr["qrId"].as_str().unwrap(), "SUCCESS").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(problem["code"], "4004");
    let (status, _) = pay(&app, "unknown", "SUCCESS").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn payer_page_in_french_and_english_drives_payments() {
    let (sim, _) = sim();
    let app = app(&sim).await;
    let tok = token(&app).await;
    let qr = create_qr(&app, &tok, &qr_body("ORD-P", 12500)).await;
    let id = qr["qrId"].as_str().unwrap();

    let (status, html, ct) = call(
        &app,
        test::TestRequest::get().uri(&path(&format!("/pay/{id}?channel=OM"))),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(ct.unwrap().starts_with("text/html"));
    assert!(html.contains("lang=\"fr\""));
    assert!(html.contains("Payer à"));
    assert!(html.contains("12 500 FCFA"));
    assert!(
        html.contains("MY SHOP &lt;&amp;&gt;"),
        "merchant name is escaped"
    );
    assert!(html.contains("Orange Money"));
    for action in ["approve", "decline", "insufficient"] {
        assert!(
            html.contains(&format!("action=\"{id}/{action}\"")),
            "{action}"
        );
    }
    let (_, html, _) = call(
        &app,
        test::TestRequest::get().uri(&path(&format!("/pay/{id}?channel=MAXIT&lang=en"))),
    )
    .await;
    assert!(html.contains("lang=\"en\""));
    assert!(html.contains("Insufficient funds"));

    let form = |action: &str| {
        test::TestRequest::post()
            .uri(&path(&format!("/pay/{id}/{action}")))
            .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
            .set_payload("msisdn=776543210&channel=OM&lang=fr")
    };
    let (status, html, _) = call(&app, form("insufficient")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("solde insuffisant"));
    let (status, _, _) = call(&app, form("decline")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, html, _) = call(&app, form("approve")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Paiement effectué"));
    let (status, _, _) = call(&app, form("approve")).await;
    assert_eq!(status, StatusCode::CONFLICT);

    let (_, text, _) = call(
        &app,
        api_get("/api/eWallet/v1/transactions?reference=ORD-P", &tok),
    )
    .await;
    let rows: Value = serde_json::from_str(&text).unwrap();
    let statuses: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["FAILED", "CANCELLED", "SUCCESS"]);
    assert!(rows
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["channel"] == "OM" && r["customer"]["id"] == "776543210"));
    let (status, _, _) = call(&app, test::TestRequest::get().uri(&path("/pay/unknown"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
