//! End-to-end tests of the Wave Checkout simulator.

use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::{test, web, App, HttpRequest, HttpResponse, HttpServer};
use chrono::{Duration, TimeZone, Utc};
use nexpay_sandbox::wave::{
    configure, signature_header, verify_signature_header, ApiKeyConfig, ApiScope, Faults,
    ManualClock, WaveSim, WaveSimConfig, WebhookStrategy,
};
use serde_json::{json, Value};

const KEY: &str = "wave_sn_prod_TestKey0001";
const OTHER_KEY: &str = "wave_sn_prod_OtherWallet";
const SIGNED_KEY: &str = "wave_sn_prod_SignedKey";
const AKS: &str = "wave_sn_AKS_request_signing_secret";
const WHS: &str = "wave_sn_WHS_webhook_secret_for_tests";
const BASE: &str = "/sandbox/wave";

fn sim_with(clock: &ManualClock) -> WaveSim {
    let config = WaveSimConfig {
        api_keys: vec![
            ApiKeyConfig::new(KEY, "Annas Apiaries"),
            ApiKeyConfig::new(OTHER_KEY, "Other Shop"),
            ApiKeyConfig::new(SIGNED_KEY, "Annas Apiaries").with_signing_secret(AKS),
            ApiKeyConfig::new("wave_sn_prod_Revoked", "X").revoked(),
            ApiKeyConfig::new("wave_sn_prod_Disabled", "X").wallet_disabled(),
            ApiKeyConfig::new("wave_sn_prod_PayoutOnly", "X").with_scopes(vec![ApiScope::Payout]),
        ],
        webhook_initial_backoff: StdDuration::from_millis(50),
        webhook_max_backoff: StdDuration::from_millis(200),
        webhook_max_attempts: 4,
        ..WaveSimConfig::default()
    };
    WaveSim::with_clock(config, Arc::new(clock.clone()))
}

fn start() -> ManualClock {
    ManualClock::new(
        Utc.with_ymd_and_hms(2024, 1, 15, 10, 0, 0)
            .single()
            .unwrap_or_default(),
    )
}

macro_rules! app {
    ($sim:expr) => {
        test::init_service(App::new().service(web::scope(BASE).configure(configure($sim.clone()))))
            .await
    };
}

fn create_body() -> Value {
    json!({
        "amount": "1000",
        "currency": "XOF",
        "success_url": "https://shop.example/pay/ok",
        "error_url": "https://shop.example/pay/ko",
        "client_reference": "ORD-2024-001"
    })
}

async fn decode(resp: ServiceResponse) -> (StatusCode, Value) {
    let status = resp.status();
    let bytes = test::read_body(resp).await;
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()))
    };
    (status, value)
}

macro_rules! call {
    ($app:expr, $req:expr $(,)?) => {
        decode(test::call_service(&$app, $req.to_request()).await)
    };
}

fn post(path: &str, key: &str, body: &Value) -> test::TestRequest {
    test::TestRequest::post()
        .uri(&format!("{BASE}{path}"))
        .insert_header(("Authorization", format!("Bearer {key}")))
        .set_json(body)
}

fn get(path: &str, key: &str) -> test::TestRequest {
    test::TestRequest::get()
        .uri(&format!("{BASE}{path}"))
        .insert_header(("Authorization", format!("Bearer {key}")))
}

fn sim_post(path: &str, body: &Value) -> test::TestRequest {
    test::TestRequest::post()
        .uri(&format!("{BASE}{path}"))
        .set_json(body)
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap_or_default().to_owned()
}

#[actix_web::test]
async fn auth_error_codes() {
    let sim = sim_with(&start());
    let app = app!(sim);
    let uri = format!("{BASE}/v1/checkout/sessions");
    let cases: Vec<(Option<&str>, StatusCode, &str)> = vec![
        (None, StatusCode::UNAUTHORIZED, "missing-auth-header"),
        (Some("Basic abc"), StatusCode::UNAUTHORIZED, "invalid-auth"),
        (
            Some("Bearer "),
            StatusCode::UNAUTHORIZED,
            "api-key-not-provided",
        ),
        (
            Some("Bearer"),
            StatusCode::UNAUTHORIZED,
            "api-key-not-provided",
        ),
        (
            Some("Bearer wave_sn_prod_nope"),
            StatusCode::UNAUTHORIZED,
            "no-matching-api-key",
        ),
        (
            Some("Bearer wave_sn_prod_Revoked"),
            StatusCode::UNAUTHORIZED,
            "api-key-revoked",
        ),
        (
            Some("Bearer wave_sn_prod_Disabled"),
            StatusCode::FORBIDDEN,
            "disabled-wallet",
        ),
        (
            Some("Bearer wave_sn_prod_PayoutOnly"),
            StatusCode::FORBIDDEN,
            "invalid-wallet",
        ),
    ];
    for (header, status, code) in cases {
        let mut req = test::TestRequest::post().uri(&uri).set_json(create_body());
        if let Some(h) = header {
            req = req.insert_header(("Authorization", h));
        }
        let (got, body) = call!(app, req).await;
        assert_eq!(got, status, "{header:?}");
        assert_eq!(body["code"], code, "{header:?}");
        assert!(body["message"].is_string());
        assert_eq!(body.as_object().map(|o| o.len()), Some(2), "{body}");
    }
    // Revoking at runtime.
    sim.revoke_api_key(OTHER_KEY);
    let (got, body) = call!(
        app,
        post("/v1/checkout/sessions", OTHER_KEY, &create_body()),
    )
    .await;
    assert_eq!(got, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "api-key-revoked");
}

#[actix_web::test]
async fn request_signing() {
    let clock = start();
    let sim = sim_with(&clock);
    let app = app!(sim);
    let now = clock_now(&clock);
    let body = serde_json::to_string(&create_body()).unwrap_or_default();
    let uri = format!("{BASE}/v1/checkout/sessions");
    let req = |sig: Option<String>| {
        let mut r = test::TestRequest::post()
            .uri(&uri)
            .insert_header(("Authorization", format!("Bearer {SIGNED_KEY}")))
            .insert_header(("Content-Type", "application/json"))
            .set_payload(body.clone());
        if let Some(sig) = sig {
            r = r.insert_header(("Wave-Signature", sig));
        }
        r
    };
    let (status, v) = call!(app, req(None)).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("missing-signature"))
    );
    let (status, v) = call!(
        app,
        req(Some(signature_header("wrong", now, body.as_bytes()))),
    )
    .await;
    assert_eq!(
        (status, v["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid-signature"))
    );
    let stale = signature_header(AKS, now - 301, body.as_bytes());
    let (status, _) = call!(app, req(Some(stale))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, v) = call!(
        app,
        req(Some(signature_header(AKS, now - 299, body.as_bytes()))),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    // GET: the signature covers the timestamp alone.
    let id = id_of(&v);
    let (status, _) = call!(
        app,
        get(&format!("/v1/checkout/sessions/{id}"), SIGNED_KEY)
            .insert_header(("Wave-Signature", signature_header(AKS, now, b""))),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

fn clock_now(clock: &ManualClock) -> i64 {
    use nexpay_sandbox::wave::Clock;
    clock.now().timestamp()
}

#[actix_web::test]
async fn strict_schema_and_amount_rules() {
    let sim = sim_with(&start());
    let app = app!(sim);
    let mut body = create_body();
    body["metadata"] = json!({"order": 1});
    let (status, v) = call!(app, post("/v1/checkout/sessions", KEY, &body)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        v,
        json!({"code": "request-validation-error", "message": "Request invalid",
               "details": [{"loc": ["metadata"], "msg": "extra fields not permitted",
                            "type": "value_error.extra"}]})
    );
    for amount in ["10.5", "01000", "1000.00", "0", "-5"] {
        let mut body = create_body();
        body["amount"] = json!(amount);
        let (status, v) = call!(app, post("/v1/checkout/sessions", KEY, &body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{amount}");
        assert_eq!(v["code"], "request-validation-error");
        assert_eq!(v["details"][0]["loc"], json!(["amount"]), "{amount}");
    }
    let mut body = create_body();
    body["amount"] = json!(1000);
    body["success_url"] = json!("myapp://ok");
    body["error_url"] = json!("http://shop.example/ko");
    body["restrict_payer_mobile"] = json!("761110001");
    body.as_object_mut().map(|o| o.remove("currency"));
    let (status, v) = call!(app, post("/v1/checkout/sessions", KEY, &body)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let locs: Vec<Value> = v["details"]
        .as_array()
        .map(|d| d.iter().map(|x| x["loc"][0].clone()).collect())
        .unwrap_or_default();
    for field in [
        "amount",
        "currency",
        "success_url",
        "error_url",
        "restrict_payer_mobile",
    ] {
        assert!(locs.contains(&json!(field)), "{field} missing in {v}");
    }
    // Two decimals are fine for other currencies.
    let mut body = create_body();
    body["amount"] = json!("10.50");
    body["currency"] = json!("GMD");
    let (status, v) = call!(app, post("/v1/checkout/sessions", KEY, &body)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
}

#[actix_web::test]
async fn create_get_search_expire_refund() {
    let clock = start();
    let sim = sim_with(&clock);
    let app = app!(sim);
    let mut body = create_body();
    body["restrict_payer_mobile"] = json!("+221761110001");
    body["aggregated_merchant_id"] = json!("am-7lks22ap113t4");
    let (status, s) = call!(app, post("/v1/checkout/sessions", KEY, &body)).await;
    assert_eq!(status, StatusCode::OK, "{s}");
    let id = id_of(&s);
    assert_eq!(id.len(), 17);
    assert!(id.starts_with("cos-"));
    assert!(id[4..]
        .bytes()
        .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase()));
    let keys: Vec<&str> = s
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    assert_eq!(
        keys,
        [
            "id",
            "amount",
            "checkout_status",
            "client_reference",
            "currency",
            "error_url",
            "last_payment_error",
            "business_name",
            "payment_status",
            "success_url",
            "wave_launch_url",
            "when_completed",
            "when_created",
            "when_expires",
            "transaction_id",
            "aggregated_merchant_id",
            "restrict_payer_mobile"
        ]
    );
    assert_eq!(s["checkout_status"], "open");
    assert_eq!(s["payment_status"], "processing");
    assert_eq!(s["business_name"], "Annas Apiaries");
    assert_eq!(s["when_created"], "2024-01-15T10:00:00Z");
    assert_eq!(s["when_expires"], "2024-01-16T10:00:00Z");
    assert_eq!(s["when_completed"], Value::Null);
    assert_eq!(s["transaction_id"], Value::Null);
    assert_eq!(
        s["wave_launch_url"],
        format!("http://localhost:8080{BASE}/c/{id}?a=1000&c=XOF&m=Annas%20Apiaries")
    );

    let (status, g) = call!(app, get(&format!("/v1/checkout/sessions/{id}"), KEY)).await;
    assert_eq!((status, &g), (StatusCode::OK, &s));
    // Another wallet cannot see it.
    let (status, v) = call!(app, get(&format!("/v1/checkout/sessions/{id}"), OTHER_KEY)).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("checkout-session-not-found"))
    );
    let (status, v) = call!(app, get("/v1/checkout/sessions/cos-unknown000000", KEY)).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("checkout-session-not-found"))
    );

    // Second session with the same reference.
    let (_, s2) = call!(app, post("/v1/checkout/sessions", KEY, &create_body())).await;
    let (status, found) = call!(
        app,
        get(
            "/v1/checkout/sessions/search?client_reference=ORD-2024-001",
            KEY,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(found["result"].as_array().map(Vec::len), Some(2));
    assert_eq!(found["result"][0]["id"], id.as_str());
    assert_eq!(found["result"][1]["id"], s2["id"]);
    let (_, none) = call!(
        app,
        get("/v1/checkout/sessions/search?client_reference=nope", KEY),
    )
    .await;
    assert_eq!(none, json!({"result": []}));

    // Refund before payment fails.
    let (status, v) = call!(
        app,
        post(
            &format!("/v1/checkout/sessions/{id}/refund"),
            KEY,
            &json!({}),
        ),
    )
    .await;
    assert_eq!(
        (status, v["code"].as_str()),
        (StatusCode::CONFLICT, Some("checkout-refund-failed"))
    );

    // Pay (restricted payer), then refund twice (idempotent).
    clock.advance(Duration::seconds(13));
    let (status, paid) = call!(
        app,
        sim_post(
            &format!("/_sim/sessions/{id}/pay"),
            &json!({"payer_mobile": "+221761110001"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{paid}");
    assert_eq!(paid["checkout_status"], "complete");
    assert_eq!(paid["payment_status"], "succeeded");
    assert_eq!(paid["when_completed"], "2024-01-15T10:00:13Z");
    let tx = paid["transaction_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(tx.len(), 11);
    let (status, by_tx) = call!(
        app,
        get(&format!("/v1/checkout/sessions?transaction_id={tx}"), KEY),
    )
    .await;
    assert_eq!(
        (status, by_tx["id"].as_str()),
        (StatusCode::OK, Some(id.as_str()))
    );
    for _ in 0..2 {
        let resp = test::call_service(
            &app,
            post(
                &format!("/v1/checkout/sessions/{id}/refund"),
                KEY,
                &json!({}),
            )
            .to_request(),
        )
        .await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(test::read_body(resp).await.is_empty());
    }
    assert!(sim.is_refunded(&id));
    let (_, after) = call!(app, get(&format!("/v1/checkout/sessions/{id}"), KEY)).await;
    assert_eq!(after["payment_status"], "succeeded");

    // Expire: complete → 409; open → 200 then 409; paying an expired session fails.
    let (status, v) = call!(
        app,
        post(
            &format!("/v1/checkout/sessions/{id}/expire"),
            KEY,
            &json!({}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    let id2 = id_of(&s2);
    let (status, v) = call!(
        app,
        post(
            &format!("/v1/checkout/sessions/{id2}/expire"),
            KEY,
            &json!({}),
        ),
    )
    .await;
    assert_eq!((status, v), (StatusCode::OK, Value::Null));
    let (_, e) = call!(app, get(&format!("/v1/checkout/sessions/{id2}"), KEY)).await;
    assert_eq!(e["checkout_status"], "expired");
    assert_eq!(e["payment_status"], "cancelled");
    assert_eq!(e["when_completed"], "2024-01-15T10:00:13Z");
    let (status, _) = call!(
        app,
        post(
            &format!("/v1/checkout/sessions/{id2}/expire"),
            KEY,
            &json!({}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = call!(
        app,
        post(
            "/v1/checkout/sessions/cos-unknown000000/expire",
            KEY,
            &json!({}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call!(
        app,
        sim_post(&format!("/_sim/sessions/{id2}/pay"), &json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[actix_web::test]
async fn lazy_expiry_and_restricted_payer() {
    let clock = start();
    let sim = sim_with(&clock);
    let app = app!(sim);
    let mut body = create_body();
    body["restrict_payer_mobile"] = json!("+221761110001");
    let (_, s) = call!(app, post("/v1/checkout/sessions", KEY, &body)).await;
    let id = id_of(&s);
    let (_, v) = call!(
        app,
        sim_post(
            &format!("/_sim/sessions/{id}/pay"),
            &json!({"payer_mobile": "+221770000000"}),
        ),
    )
    .await;
    assert_eq!(v["checkout_status"], "open");
    assert_eq!(v["last_payment_error"]["code"], "payer-mobile-mismatch");
    clock.advance(Duration::hours(24));
    let (_, v) = call!(app, get(&format!("/v1/checkout/sessions/{id}"), KEY)).await;
    assert_eq!(v["checkout_status"], "expired");
    assert_eq!(v["payment_status"], "cancelled");
    assert_eq!(v["when_completed"], v["when_expires"]);
}

#[actix_web::test]
async fn idempotency_key() {
    let sim = sim_with(&start());
    let app = app!(sim);
    let req = |body: &Value| {
        post("/v1/checkout/sessions", KEY, body)
            .insert_header(("Idempotency-Key", "9b1d2c6e-0000-4000-8000-000000000001"))
    };
    let (_, a) = call!(app, req(&create_body())).await;
    let (status, b) = call!(app, req(&create_body())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(a, b);
    let mut other = create_body();
    other["amount"] = json!("2000");
    let (status, v) = call!(app, req(&other)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    // Without the header, each call creates a session.
    let (_, c) = call!(app, post("/v1/checkout/sessions", KEY, &create_body())).await;
    assert_ne!(a["id"], c["id"]);
}

#[actix_web::test]
async fn request_faults() {
    let sim = sim_with(&start());
    let app = app!(sim);
    let (status, _) = call!(
        app,
        sim_post("/_sim/faults", &json!({"http_429": 1, "http_500": 1})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let resp = test::call_service(
        &app,
        post("/v1/checkout/sessions", KEY, &create_body()).to_request(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(resp.headers().contains_key("retry-after"));
    let (status, v) = call!(app, post("/v1/checkout/sessions", KEY, &create_body())).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{v}");
    let (status, _) = call!(app, post("/v1/checkout/sessions", KEY, &create_body())).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call!(app, sim_post("/_sim/faults", &json!({"bogus": 1}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(sim.faults(), Faults::default());
}

#[actix_web::test]
async fn payer_page() {
    let sim = sim_with(&start());
    let app = app!(sim);
    let (_, s) = call!(app, post("/v1/checkout/sessions", KEY, &create_body())).await;
    let id = id_of(&s);
    let app_ref = &app;
    let html = |lang: &'static str| {
        let uri = format!("{BASE}/c/{id}{lang}");
        async move {
            let resp =
                test::call_service(app_ref, test::TestRequest::get().uri(&uri).to_request()).await;
            String::from_utf8_lossy(&test::read_body(resp).await).into_owned()
        }
    };
    let fr = html("").await;
    assert!(fr.contains("lang=\"fr\""));
    assert!(fr.contains("1 000 F CFA"));
    assert!(fr.contains("Annas Apiaries"));
    assert!(fr.contains("Approuver") && fr.contains("Refuser") && fr.contains("Solde insuffisant"));
    assert!(fr.contains(&format!("action=\"{BASE}/c/{id}/approve\"")));
    let en = html("?lang=en").await;
    assert!(en.contains("Approve") && en.contains("Decline") && en.contains("Insufficient funds"));
    assert!(en.contains("1,000 XOF"));

    let form = |action: &str| {
        test::TestRequest::post()
            .uri(&format!("{BASE}/c/{id}/{action}"))
            .set_form([("lang", "en"), ("payer_mobile", "+221761110001")])
            .to_request()
    };
    let resp = test::call_service(&app, form("insufficient")).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        resp.headers().get("location").and_then(|h| h.to_str().ok()),
        Some(format!("{BASE}/c/{id}?lang=en").as_str())
    );
    let session = sim.session(&id).map(|s| s.to_value()).unwrap_or_default();
    assert_eq!(session["last_payment_error"]["code"], "insufficient-funds");
    assert_eq!(session["checkout_status"], "open");
    assert!(html("?lang=en").await.contains("insufficient-funds"));
    let resp = test::call_service(&app, form("approve")).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        resp.headers().get("location").and_then(|h| h.to_str().ok()),
        Some("https://shop.example/pay/ok")
    );
    assert!(html("").await.contains("Paiement effectué"));
}

/// Requests received by the local webhook receiver.
type Received = Arc<Mutex<Vec<(Option<String>, Option<String>, String)>>>;

/// Starts a receiver that answers `fail_first` times 500, then 200.
async fn receiver(fail_first: usize) -> (String, Received) {
    let received: Received = Arc::default();
    let store = received.clone();
    let server = HttpServer::new(move || {
        let store = store.clone();
        App::new().route(
            "/hook",
            web::post().to(move |req: HttpRequest, body: web::Bytes| {
                let store = store.clone();
                async move {
                    let header = |n: &str| {
                        req.headers()
                            .get(n)
                            .and_then(|h| h.to_str().ok())
                            .map(str::to_owned)
                    };
                    let mut all = store.lock().unwrap_or_else(|e| e.into_inner());
                    all.push((
                        header("wave-signature"),
                        header("authorization"),
                        String::from_utf8_lossy(&body).into_owned(),
                    ));
                    if all.len() <= fail_first {
                        HttpResponse::InternalServerError().finish()
                    } else {
                        HttpResponse::Ok().finish()
                    }
                }
            }),
        )
    })
    .workers(1)
    .disable_signals()
    .bind(("127.0.0.1", 0))
    .unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = server.addrs()[0];
    actix_web::rt::spawn(server.run());
    (format!("http://{addr}/hook"), received)
}

async fn wait_for(received: &Received, n: usize) -> Vec<(Option<String>, Option<String>, String)> {
    for _ in 0..100 {
        {
            let all = received.lock().unwrap_or_else(|e| e.into_inner());
            if all.len() >= n {
                return all.clone();
            }
        }
        actix_web::rt::time::sleep(StdDuration::from_millis(50)).await;
    }
    received.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

#[actix_web::test]
async fn webhooks_failed_then_succeeded_signed() {
    let clock = start();
    let sim = sim_with(&clock);
    let app = app!(sim);
    let (url, received) = receiver(0).await;
    let (status, _) = call!(
        app,
        sim_post(
            "/_sim/webhooks",
            &json!({"url": url, "strategy": "signing", "secret": WHS}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, s) = call!(app, post("/v1/checkout/sessions", KEY, &create_body())).await;
    let id = id_of(&s);

    let (_, failed) = call!(
        app,
        sim_post(
            &format!("/_sim/sessions/{id}/fail"),
            &json!({"code": "insufficient-funds"}),
        ),
    )
    .await;
    assert_eq!(failed["checkout_status"], "open");
    assert_eq!(failed["payment_status"], "cancelled");
    assert_eq!(failed["last_payment_error"]["code"], "insufficient-funds");
    let got = wait_for(&received, 1).await;
    assert_eq!(got.len(), 1);

    let (status, paid) = call!(
        app,
        sim_post(
            &format!("/_sim/sessions/{id}/pay"),
            &json!({"payer_mobile": "+221761110001"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let got = wait_for(&received, 2).await;
    assert_eq!(got.len(), 2);

    let now = clock_now(&clock);
    let mut types = Vec::new();
    for (signature, authorization, body) in &got {
        let signature = signature.clone().unwrap_or_default();
        assert!(authorization.is_none());
        assert!(
            signature.starts_with(&format!("t={now},v1=")),
            "{signature}"
        );
        assert_eq!(
            verify_signature_header(&signature, WHS, body.as_bytes(), now, 300),
            Ok(())
        );
        // Python json.dumps separators, and nothing else.
        assert!(body.starts_with("{\"id\": \"AE_"), "{body}");
        assert!(body.contains("\", \"type\": \"checkout.session."));
        assert!(!body.contains("\":\"") && !body.contains("\",\""));
        let event: Value = serde_json::from_str(body).unwrap_or_default();
        assert_eq!(event["data"]["id"], id.as_str());
        assert_eq!(
            nexpay_sandbox::wave::to_python_json(&event),
            *body,
            "re-serializing in Python style gives the same bytes"
        );
        types.push(event["type"].as_str().unwrap_or_default().to_owned());
    }
    assert_eq!(
        types,
        [
            "checkout.session.payment_failed",
            "checkout.session.completed"
        ]
    );
    let completed: Value = serde_json::from_str(&got[1].2).unwrap_or_default();
    assert_eq!(completed["data"], paid);
    assert_eq!(
        completed["data"]["last_payment_error"]["code"],
        "insufficient-funds"
    );
}

#[actix_web::test]
async fn webhook_retries_shared_secret_and_faults() {
    let sim = sim_with(&start());
    let app = app!(sim);
    let (url, received) = receiver(2).await;
    sim.register_webhook(url, WebhookStrategy::Shared, WHS, vec![]);
    let (_, s) = call!(app, post("/v1/checkout/sessions", KEY, &create_body())).await;
    let id = id_of(&s);
    sim.fail(&id, "payment-failure", None)
        .unwrap_or_else(|e| panic!("{e}"));
    let got = wait_for(&received, 3).await;
    assert_eq!(got.len(), 3, "two 500s then a 200");
    assert!(got.iter().all(|(sig, auth, body)| sig.is_none()
        && auth.as_deref() == Some(&format!("Bearer {WHS}"))
        && *body == got[0].2));
    let deliveries = sim.deliveries();
    assert_eq!(deliveries.len(), 3);
    assert_eq!(deliveries[2].status, Some(200));
    assert!(deliveries[2].delivered && !deliveries[1].delivered);

    // Lose one event, then duplicate the next one with a bad secret.
    sim.set_faults(Faults {
        webhook_lose: 1,
        webhook_duplicate: 1,
        webhook_bad_signature: 1,
        ..Faults::default()
    });
    sim.fail(&id, "payment-failure", None)
        .unwrap_or_else(|e| panic!("{e}"));
    sim.pay(&id, "+221761110001")
        .unwrap_or_else(|e| panic!("{e}"));
    let got = wait_for(&received, 5).await;
    assert_eq!(got.len(), 5);
    assert_eq!(got[3].2, got[4].2);
    assert!(got[3].2.contains("checkout.session.completed"));
    assert!(got[3..]
        .iter()
        .all(|(_, auth, _)| auth.as_deref() != Some(&format!("Bearer {WHS}"))));
}
