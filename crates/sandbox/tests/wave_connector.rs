//! The Wave connector against the Wave simulator on a real port.
//!
//! Requests go through a recording pass-through (`/tap/…` forwards to the simulator
//! mounted at `/wave/…`), so the tests can check the exact bytes put on the wire.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::Engine;
use chrono::{TimeZone, Utc};
use nexpay_contracts::CreateCheckout;
use nexpay_providers::{
    Connector, ConnectorError, ProviderState, WaveConfig, WaveConnector, WaveRetryPolicy,
    WaveWebhookAuth, WebhookError,
};
use nexpay_sandbox::wave::{
    configure, ApiKeyConfig, Faults, WaveSim, WaveSimConfig, WebhookStrategy,
};
use nexpay_security::Secret;
use serde_json::{json, Value};

const KEY: &str = "wave_sn_prod_ConnectorTestKey";
const SIGNED_KEY: &str = "wave_sn_prod_ConnectorSignedKey";
const AKS: &str = "wave_sn_AKS_connector_request_signing";
const WHS: &str = "wave_sn_WHS_connector_webhook_secret";

/// A request seen by the pass-through.
#[derive(Debug, Clone)]
struct Tapped {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Tapped {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Clone)]
struct TapState {
    origin: Arc<OnceLock<String>>,
    seen: Arc<Mutex<Vec<Tapped>>>,
    client: reqwest::Client,
}

async fn tap(req: HttpRequest, body: web::Bytes, state: web::Data<TapState>) -> HttpResponse {
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let rest = req.path().strip_prefix("/tap").unwrap_or_default();
    state
        .seen
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Tapped {
            method: req.method().as_str().to_owned(),
            path: rest.to_owned(),
            headers: headers.clone(),
            body: body.to_vec(),
        });
    let query = if req.query_string().is_empty() {
        String::new()
    } else {
        format!("?{}", req.query_string())
    };
    let origin = state.origin.get().cloned().unwrap_or_default();
    let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes())
        .unwrap_or(reqwest::Method::GET);
    let mut forward = state
        .client
        .request(method, format!("{origin}/wave{rest}{query}"));
    for (name, value) in &headers {
        if name != "host" && name != "content-length" {
            forward = forward.header(name.as_str(), value.as_str());
        }
    }
    match forward.body(body.to_vec()).send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let retry_after = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let content_type = resp
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let bytes = resp.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
            let mut out = HttpResponse::build(
                actix_web::http::StatusCode::from_u16(status)
                    .unwrap_or(actix_web::http::StatusCode::BAD_GATEWAY),
            );
            if let Some(v) = retry_after {
                out.insert_header(("Retry-After", v));
            }
            if let Some(v) = content_type {
                out.insert_header(("Content-Type", v));
            }
            out.body(bytes)
        }
        Err(e) => HttpResponse::BadGateway().body(e.to_string()),
    }
}

/// Simulator and pass-through on one bound port.
struct Harness {
    sim: WaveSim,
    origin: String,
    seen: Arc<Mutex<Vec<Tapped>>>,
    client: reqwest::Client,
}

impl Harness {
    async fn start() -> Self {
        let sim = WaveSim::new(WaveSimConfig {
            api_keys: vec![
                ApiKeyConfig::new(KEY, "Annas Apiaries"),
                ApiKeyConfig::new(SIGNED_KEY, "Annas Apiaries").with_signing_secret(AKS),
            ],
            webhook_initial_backoff: Duration::from_millis(50),
            webhook_max_backoff: Duration::from_millis(200),
            webhook_max_attempts: 3,
            ..WaveSimConfig::default()
        });
        let state = TapState {
            origin: Arc::new(OnceLock::new()),
            seen: Arc::default(),
            client: reqwest::Client::new(),
        };
        let app_sim = sim.clone();
        let app_state = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(app_state.clone()))
                .service(web::scope("/wave").configure(configure(app_sim.clone())))
                .service(web::scope("/tap").default_service(web::to(tap)))
        })
        .workers(2)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .unwrap_or_else(|e| panic!("bind: {e}"));
        let origin = format!("http://{}", server.addrs()[0]);
        let _ = state.origin.set(origin.clone());
        actix_web::rt::spawn(server.run());
        Self {
            sim,
            origin,
            seen: state.seen,
            client: reqwest::Client::new(),
        }
    }

    /// Connector config through the pass-through, with fast retries.
    fn config(&self, key: &str) -> WaveConfig {
        let mut config = WaveConfig::new(format!("{}/tap", self.origin), key);
        config.request_timeout = Duration::from_secs(5);
        config.retry = WaveRetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(50),
            max_retry_after: Duration::from_secs(2),
        };
        config
    }

    fn connector(&self, config: WaveConfig) -> WaveConnector {
        WaveConnector::new(config).unwrap_or_else(|e| panic!("{e}"))
    }

    fn seen(&self) -> Vec<Tapped> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    async fn control(&self, path: &str, body: Value) -> Value {
        let resp = self
            .client
            .post(format!("{}/wave{path}", self.origin))
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
        resp.json().await.unwrap_or_default()
    }
}

fn checkout(attempt: &str, amount_minor: i64) -> CreateCheckout {
    CreateCheckout {
        provider_code: "wave".into(),
        mode: "live".into(),
        attempt_id: attempt.into(),
        provider_reference: format!("ref-{attempt}"),
        amount_minor,
        currency: "XOF".into(),
        payer_phone: "+221761110001".into(),
        merchant_name: "Annas Apiaries".into(),
        success_url: "https://shop.example/pay/ok".into(),
        error_url: "https://shop.example/pay/ko".into(),
    }
}

fn rejected_code(e: &ConnectorError) -> (&str, &str) {
    match e {
        ConnectorError::Rejected { code, message, .. } => (code.as_str(), message.as_str()),
        other => panic!("expected Rejected, got {other:?}"),
    }
}

#[actix_web::test]
async fn create_sends_only_wave_fields_and_retries_return_the_same_session() {
    let h = Harness::start().await;
    let wave = h.connector(h.config(KEY));
    let req = checkout("att_0001", 1500);
    let created = wave
        .create_checkout(&req)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let seen = h.seen();
    assert_eq!(seen.len(), 1);
    let wire = &seen[0];
    assert_eq!(wire.method, "POST");
    assert_eq!(wire.path, "/v1/checkout/sessions");
    assert_eq!(wire.header("idempotency-key"), Some("att_0001"));
    assert_eq!(
        wire.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(wire.header("content-type"), Some("application/json"));
    assert_eq!(wire.header("wave-signature"), None);
    let body: Value = serde_json::from_slice(&wire.body).unwrap_or_default();
    assert_eq!(
        body,
        json!({
            "amount": "1500",
            "currency": "XOF",
            "success_url": "https://shop.example/pay/ok",
            "error_url": "https://shop.example/pay/ko",
            "client_reference": "ref-att_0001",
        }),
        "exactly Wave's fields, amount as an integer string"
    );

    assert!(created.provider_id.starts_with("cos-"), "{created:?}");
    let session = h
        .sim
        .session(&created.provider_id)
        .unwrap_or_else(|| panic!("no session"));
    assert_eq!(created.checkout_urls.len(), 1);
    assert_eq!(created.checkout_urls[0].url, session.wave_launch_url);
    assert!(session
        .wave_launch_url
        .contains(&format!("/c/{}", created.provider_id)));
    // Wave sends whole seconds.
    assert_eq!(
        created.expires_at.timestamp(),
        session.when_expires.timestamp()
    );
    let png = base64::engine::general_purpose::STANDARD
        .decode(created.qr_png_base64.clone().unwrap_or_default())
        .unwrap_or_default();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));

    // A retry after a lost answer: same attempt, same session.
    let again = wave
        .create_checkout(&req)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again.provider_id, created.provider_id);
    assert_eq!(again.checkout_urls, created.checkout_urls);
    let status = wave
        .fetch_status("", "ref-att_0001")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status.provider_id, created.provider_id);

    // Another attempt gets its own session.
    let other = wave
        .create_checkout(&checkout("att_0002", 1500))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(other.provider_id, created.provider_id);

    // Refused locally, never sent: non-https URL, zero amount, other currency.
    let mut bad = checkout("att_0003", 1500);
    bad.success_url = "myapp://paid".into();
    let e = wave.create_checkout(&bad).await.err();
    assert_eq!(e.as_ref().map(|e| rejected_code(e).0), Some("invalid-url"));
    let e = wave.create_checkout(&checkout("att_0004", 0)).await.err();
    assert_eq!(
        e.as_ref().map(|e| rejected_code(e).0),
        Some("invalid-amount")
    );
    let mut eur = checkout("att_0005", 1500);
    eur.currency = "EUR".into();
    let e = wave.create_checkout(&eur).await.err();
    assert_eq!(
        e.as_ref().map(|e| rejected_code(e).0),
        Some("unsupported-currency")
    );
    assert_eq!(h.seen().len(), 4, "no request for the refused checkouts");
}

#[actix_web::test]
async fn restricted_payer_is_sent_only_when_enabled() {
    let h = Harness::start().await;
    let mut config = h.config(KEY);
    config.restrict_payer_mobile = true;
    let wave = h.connector(config);
    let created = wave
        .create_checkout(&checkout("att_r1", 700))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut local = checkout("att_r2", 700);
    local.payer_phone = "761110001".into();
    wave.create_checkout(&local)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let seen = h.seen();
    let first: Value = serde_json::from_slice(&seen[0].body).unwrap_or_default();
    let second: Value = serde_json::from_slice(&seen[1].body).unwrap_or_default();
    assert_eq!(first["restrict_payer_mobile"], "+221761110001");
    assert!(second.get("restrict_payer_mobile").is_none(), "not E.164");

    h.control(
        &format!("/_sim/sessions/{}/pay", created.provider_id),
        json!({"payer_mobile": "+221761110001"}),
    )
    .await;
    let status = wave
        .fetch_status(&created.provider_id, "")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status.state, ProviderState::Succeeded);
    assert_eq!(status.payer.as_deref(), Some("+221761110001"));
}

#[actix_web::test]
async fn status_refund_and_expire() {
    let h = Harness::start().await;
    let wave = h.connector(h.config(KEY));
    let created = wave
        .create_checkout(&checkout("att_s1", 2500))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let id = created.provider_id.clone();

    let open = wave
        .fetch_status(&id, "ref-att_s1")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(open.state, ProviderState::Pending);
    assert_eq!(open.amount_minor, Some(2500));
    assert_eq!(open.transaction_id, None);

    // A failed attempt is not final: the payer may retry.
    let failed = h
        .control(
            &format!("/_sim/sessions/{id}/fail"),
            json!({"code": "insufficient-funds"}),
        )
        .await;
    assert_eq!(failed["payment_status"], "cancelled");
    let after_failure = wave
        .fetch_status(&id, "")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(after_failure.state, ProviderState::Pending);

    // Refund of an unpaid session is refused.
    let e = wave.refund(&id).await.err();
    assert_eq!(
        e.as_ref().map(|e| rejected_code(e).0),
        Some("checkout-refund-failed")
    );

    let paid = h
        .control(&format!("/_sim/sessions/{id}/pay"), json!({}))
        .await;
    let status = wave
        .fetch_status(&id, "")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status.state, ProviderState::Succeeded);
    assert_eq!(status.provider_id, id);
    assert_eq!(status.amount_minor, Some(2500));
    assert_eq!(status.currency.as_deref(), Some("XOF"));
    assert_eq!(
        status.transaction_id.as_deref(),
        paid["transaction_id"].as_str()
    );
    assert!(status.completed_at.is_some());
    // By reference only, as for a lost provider id.
    let by_reference = wave
        .fetch_status("", "ref-att_s1")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(by_reference, status);

    // A paid session cannot be expired.
    let e = wave.expire(&id).await.err();
    assert_eq!(
        e.as_ref().map(|e| rejected_code(e).0),
        Some("checkout-session-complete")
    );

    wave.refund(&id).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(h.sim.is_refunded(&id));
    wave.refund(&id)
        .await
        .unwrap_or_else(|e| panic!("second refund: {e}"));
    let refund_call = h
        .seen()
        .into_iter()
        .rfind(|t| t.path.ends_with("/refund"))
        .unwrap_or_else(|| panic!("no refund call"));
    assert_eq!(
        refund_call.path,
        format!("/v1/checkout/sessions/{id}/refund")
    );
    assert!(refund_call.body.is_empty());

    // Expire an open session; expiring it again is a no-op.
    let other = wave
        .create_checkout(&checkout("att_s2", 100))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    wave.expire(&other.provider_id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let expired = wave
        .fetch_status(&other.provider_id, "")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(expired.state, ProviderState::Expired);
    assert!(expired.completed_at.is_some());
    wave.expire(&other.provider_id)
        .await
        .unwrap_or_else(|e| panic!("expire twice: {e}"));

    // Unknown ids and references.
    let e = wave.fetch_status("cos-doesnotexist1", "").await.err();
    assert_eq!(
        e.as_ref().map(|e| rejected_code(e).0),
        Some("checkout-session-not-found")
    );
    let e = wave.fetch_status("", "no-such-ref").await.err();
    assert_eq!(
        e.as_ref().map(|e| rejected_code(e).0),
        Some("checkout-session-not-found")
    );
    let e = wave.expire("../../_sim/faults").await.err();
    assert_eq!(
        e.as_ref().map(|e| rejected_code(e).0),
        Some("invalid-session-id")
    );
}

#[actix_web::test]
async fn wrong_key_signing_and_validation_errors_are_clear() {
    let h = Harness::start().await;
    let wrong = h.connector(h.config("wave_sn_prod_NotAKey"));
    let e = wrong
        .create_checkout(&checkout("att_k1", 100))
        .await
        .err()
        .unwrap_or_else(|| panic!("accepted a wrong key"));
    let (code, message) = rejected_code(&e);
    assert_eq!(code, "no-matching-api-key");
    assert!(
        message.starts_with("Wave rejected the API key"),
        "{message}"
    );
    assert!(
        !message.contains("NotAKey"),
        "the key never appears: {message}"
    );
    assert_eq!(h.seen().len(), 1, "a refusal is not retried");

    // A key created with request signing.
    let mut signed = h.config(SIGNED_KEY);
    signed.request_signing_secret = Some(Secret::new(AKS));
    let signed = h.connector(signed);
    let created = signed
        .create_checkout(&checkout("att_k2", 100))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    signed
        .fetch_status(&created.provider_id, "")
        .await
        .unwrap_or_else(|e| panic!("signed GET: {e}"));
    let wire = h
        .seen()
        .into_iter()
        .find(|t| {
            t.method == "POST" && t.header("authorization") == Some(&format!("Bearer {SIGNED_KEY}"))
        })
        .unwrap_or_else(|| panic!("no signed call"));
    let header = wire.header("wave-signature").unwrap_or_default();
    let now = Utc::now().timestamp();
    assert_eq!(
        nexpay_sandbox::wave::verify_signature_header(header, AKS, &wire.body, now, 300),
        Ok(())
    );

    let unsigned = h.connector(h.config(SIGNED_KEY));
    let e = unsigned
        .create_checkout(&checkout("att_k3", 100))
        .await
        .err()
        .unwrap_or_else(|| panic!("accepted an unsigned call"));
    let (code, message) = rejected_code(&e);
    assert_eq!(code, "missing-signature");
    assert!(message.contains("signing"), "{message}");

    // Wave's validation details are part of the message.
    let mut config = h.config(KEY);
    config.aggregated_merchant_id = Some("merchant-7".into());
    let e = h
        .connector(config)
        .create_checkout(&checkout("att_k4", 100))
        .await
        .err()
        .unwrap_or_else(|| panic!("accepted a bad aggregated merchant"));
    let (code, message) = rejected_code(&e);
    assert_eq!(code, "request-validation-error");
    assert!(
        message.contains("aggregated_merchant_id: invalid aggregated merchant id"),
        "{message}"
    );
}

#[actix_web::test]
async fn server_errors_and_rate_limits_are_retried() {
    let h = Harness::start().await;
    let wave = h.connector(h.config(KEY));

    // Two 500s, then success on the third attempt; one session only.
    h.sim.set_faults(Faults {
        http_500: 2,
        ..Faults::default()
    });
    let created = wave
        .create_checkout(&checkout("att_f1", 300))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let posts: Vec<_> = h
        .seen()
        .into_iter()
        .filter(|t| t.method == "POST")
        .collect();
    assert_eq!(posts.len(), 3);
    assert!(posts
        .iter()
        .all(|t| t.header("idempotency-key") == Some("att_f1") && t.body == posts[0].body));
    assert_eq!(h.sim.faults(), Faults::default());
    let sessions = wave
        .fetch_status("", "ref-att_f1")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sessions.provider_id, created.provider_id);

    // Persistent 500s: three attempts, then Unavailable.
    h.sim.set_faults(Faults {
        http_500: 10,
        ..Faults::default()
    });
    let e = wave.fetch_status(&created.provider_id, "").await.err();
    match e {
        Some(ConnectorError::Unavailable { provider, message }) => {
            assert_eq!(provider, "wave");
            assert!(message.contains("after 3 attempts"), "{message}");
            assert!(message.contains("internal-server-error"), "{message}");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert_eq!(h.sim.faults().http_500, 7);

    // 429 with Retry-After: 1 is honoured, then the call succeeds.
    h.sim.set_faults(Faults {
        http_429: 1,
        ..Faults::default()
    });
    let started = Instant::now();
    wave.fetch_status(&created.provider_id, "")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(started.elapsed() >= Duration::from_millis(950));

    // Persistent 429s: Unavailable after the attempts.
    h.sim.set_faults(Faults {
        http_429: 10,
        ..Faults::default()
    });
    let mut config = h.config(KEY);
    config.retry.max_attempts = 2;
    let e = h
        .connector(config)
        .fetch_status(&created.provider_id, "")
        .await
        .err();
    assert!(
        matches!(&e, Some(ConnectorError::Unavailable { message, .. }) if message.contains("rate-limit-exceeded")),
        "{e:?}"
    );

    // A Retry-After beyond the bound ends the retries at once.
    h.sim.set_faults(Faults {
        http_429: 10,
        ..Faults::default()
    });
    let mut config = h.config(KEY);
    config.retry.max_retry_after = Duration::ZERO;
    let before = h.sim.faults().http_429;
    let e = h
        .connector(config)
        .fetch_status(&created.provider_id, "")
        .await
        .err();
    assert!(
        matches!(&e, Some(ConnectorError::Unavailable { message, .. }) if message.contains("retry after 1 s")),
        "{e:?}"
    );
    assert_eq!(h.sim.faults().http_429, before - 1);

    // A slow Wave hits the timeout on every attempt.
    h.sim.set_faults(Faults {
        delay_ms: 800,
        ..Faults::default()
    });
    let mut config = h.config(KEY);
    config.request_timeout = Duration::from_millis(200);
    config.retry.max_attempts = 2;
    let e = h
        .connector(config)
        .fetch_status(&created.provider_id, "")
        .await
        .err();
    assert!(
        matches!(&e, Some(ConnectorError::Unavailable { message, .. }) if message.contains("timed out")),
        "{e:?}"
    );
    h.sim.set_faults(Faults::default());
}

/// Webhook requests received: lower-case headers and raw body.
type Received = Arc<Mutex<Vec<(Vec<(String, String)>, Vec<u8>)>>>;

async fn receiver() -> (String, Received) {
    let received: Received = Arc::default();
    let store = received.clone();
    let server = HttpServer::new(move || {
        let store = store.clone();
        App::new().route(
            "/hook",
            web::post().to(move |req: HttpRequest, body: web::Bytes| {
                let store = store.clone();
                async move {
                    let headers = req
                        .headers()
                        .iter()
                        .map(|(n, v)| {
                            (
                                n.as_str().to_ascii_lowercase(),
                                String::from_utf8_lossy(v.as_bytes()).into_owned(),
                            )
                        })
                        .collect();
                    store
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((headers, body.to_vec()));
                    HttpResponse::Ok().finish()
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

async fn wait_for(received: &Received, n: usize) -> Vec<(Vec<(String, String)>, Vec<u8>)> {
    for _ in 0..100 {
        {
            let all = received.lock().unwrap_or_else(|e| e.into_inner());
            if all.len() >= n {
                return all.clone();
            }
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    received.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

#[actix_web::test]
async fn webhooks_from_the_simulator_are_verified() {
    let h = Harness::start().await;
    let (signed_url, signed_hooks) = receiver().await;
    let (shared_url, shared_hooks) = receiver().await;
    h.sim
        .register_webhook(signed_url, WebhookStrategy::Signing, WHS, vec![]);
    h.sim
        .register_webhook(shared_url, WebhookStrategy::Shared, WHS, vec![]);

    let mut signing = h.config(KEY);
    signing.webhook = WaveWebhookAuth::SigningSecret(Secret::new(WHS));
    let signing = h.connector(signing);
    let mut shared = h.config(KEY);
    shared.webhook = WaveWebhookAuth::SharedSecret(Secret::new(WHS));
    let shared = h.connector(shared);

    let created = signing
        .create_checkout(&checkout("att_w1", 4200))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let id = created.provider_id.clone();
    h.control(
        &format!("/_sim/sessions/{id}/fail"),
        json!({"code": "payment-failure"}),
    )
    .await;
    wait_for(&signed_hooks, 1).await;
    wait_for(&shared_hooks, 1).await;
    h.control(&format!("/_sim/sessions/{id}/pay"), json!({}))
        .await;
    let signed = wait_for(&signed_hooks, 2).await;
    let shared_got = wait_for(&shared_hooks, 2).await;
    assert_eq!(signed.len(), 2);
    assert_eq!(shared_got.len(), 2);

    for (connector, got) in [(&signing, &signed), (&shared, &shared_got)] {
        let failed = connector
            .verify_webhook(&got[0].0, &got[0].1, Utc::now())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(failed.kind, "checkout.session.payment_failed");
        assert_eq!(failed.claimed, ProviderState::Pending);
        assert_eq!(failed.provider_id.as_deref(), Some(id.as_str()));
        assert!(failed.event_id.starts_with("AE_") || failed.event_id.starts_with("EV_"));

        let completed = connector
            .verify_webhook(&got[1].0, &got[1].1, Utc::now())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(completed.kind, "checkout.session.completed");
        assert_eq!(completed.claimed, ProviderState::Succeeded);
        assert_eq!(completed.provider_id.as_deref(), Some(id.as_str()));
        assert_eq!(completed.reference.as_deref(), Some("ref-att_w1"));
        assert_eq!(completed.amount_minor, Some(4200));
        assert_eq!(completed.currency.as_deref(), Some("XOF"));
        assert_ne!(completed.event_id, failed.event_id);
    }

    // Each strategy refuses the other's deliveries.
    assert!(matches!(
        shared.verify_webhook(&signed[1].0, &signed[1].1, Utc::now()),
        Err(WebhookError::Unverified(_))
    ));
    assert!(matches!(
        signing.verify_webhook(&shared_got[1].0, &shared_got[1].1, Utc::now()),
        Err(WebhookError::Unverified(_))
    ));
    // A tampered body no longer matches the signature.
    let tampered = String::from_utf8_lossy(&signed[1].1).replace("\"4200\"", "\"1\"");
    assert!(matches!(
        signing.verify_webhook(&signed[1].0, tampered.as_bytes(), Utc::now()),
        Err(WebhookError::Unverified(_))
    ));
    // Too late for the tolerance.
    assert!(matches!(
        signing.verify_webhook(
            &signed[1].0,
            &signed[1].1,
            Utc::now() + chrono::Duration::seconds(400)
        ),
        Err(WebhookError::Unverified(_))
    ));
    // No secret configured: refused.
    let none = h.connector(h.config(KEY));
    assert!(matches!(
        none.verify_webhook(&signed[1].0, &signed[1].1, Utc::now()),
        Err(WebhookError::Unverified(_))
    ));
}

#[actix_web::test]
async fn forged_and_stale_webhooks_are_refused() {
    let h = Harness::start().await;
    let (url, hooks) = receiver().await;
    h.sim
        .register_webhook(url, WebhookStrategy::Signing, WHS, vec![]);
    let (shared_url, shared_hooks) = receiver().await;
    h.sim
        .register_webhook(shared_url, WebhookStrategy::Shared, WHS, vec![]);
    let mut config = h.config(KEY);
    config.webhook = WaveWebhookAuth::SigningSecret(Secret::new(WHS));
    let wave = h.connector(config);
    let mut shared = h.config(KEY);
    shared.webhook = WaveWebhookAuth::SharedSecret(Secret::new(WHS));
    let shared = h.connector(shared);

    let created = wave
        .create_checkout(&checkout("att_x1", 100))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let id = created.provider_id;

    h.sim.set_faults(Faults {
        webhook_bad_signature: 1,
        ..Faults::default()
    });
    h.control(&format!("/_sim/sessions/{id}/fail"), json!({}))
        .await;
    let got = wait_for(&hooks, 1).await;
    let shared_got = wait_for(&shared_hooks, 1).await;
    let forged = wave.verify_webhook(&got[0].0, &got[0].1, Utc::now());
    assert!(
        matches!(&forged, Err(WebhookError::Unverified(m)) if m.contains("does not match")),
        "{forged:?}"
    );
    let forged = shared.verify_webhook(&shared_got[0].0, &shared_got[0].1, Utc::now());
    assert!(
        matches!(&forged, Err(WebhookError::Unverified(m)) if m.contains("wrong webhook secret")),
        "{forged:?}"
    );

    h.sim.set_faults(Faults {
        webhook_stale_timestamp: 1,
        ..Faults::default()
    });
    h.control(&format!("/_sim/sessions/{id}/pay"), json!({}))
        .await;
    let got = wait_for(&hooks, 2).await;
    let stale = wave.verify_webhook(&got[1].0, &got[1].1, Utc::now());
    assert!(
        matches!(&stale, Err(WebhookError::Unverified(m)) if m.contains("tolerance")),
        "{stale:?}"
    );

    // Missing or malformed headers.
    let body = &got[1].1;
    for headers in [
        vec![],
        vec![("wave-signature".to_owned(), "v1=abc".to_owned())],
        vec![("wave-signature".to_owned(), "t=abc,v1=abc".to_owned())],
        vec![(
            "wave-signature".to_owned(),
            format!("t={}", Utc::now().timestamp()),
        )],
    ] {
        assert!(
            matches!(
                wave.verify_webhook(&headers, body, Utc::now()),
                Err(WebhookError::Unverified(_))
            ),
            "{headers:?}"
        );
    }
    assert!(matches!(
        shared.verify_webhook(
            &[("authorization".to_owned(), format!("Basic {WHS}"))],
            body,
            Utc::now()
        ),
        Err(WebhookError::Unverified(_))
    ));
}

const OFFICIAL_SECRET: &str = "wave_sn_WHS_xz4m6g8rjs9bshxy05xj4khcvjv7j3hcp4fbpvv6met0zdrjvezg";
const OFFICIAL_T: i64 = 1_667_920_421;
const OFFICIAL_BODY: &str = r#"{"id": "AE_ijzo7oGgrlM7", "type": "checkout.session.completed", "data": {"id": "cos-1b01sghpg100j", "amount": "100", "checkout_status": "complete", "client_reference": null, "currency": "XOF", "error_url": "https://example.com/error", "last_payment_error": null, "business_name": "Annas Apiaries", "payment_status": "succeeded", "success_url": "https://example.com/success", "wave_launch_url": "https://pay.wave.com/c/cos-1b01sghpg100j?a=100&c=XOF&m=Annas%20Apiaries", "when_completed": "2022-11-08T15:05:45Z", "when_created": "2022-11-08T15:05:32Z", "when_expires": "2022-11-09T15:05:32Z", "transaction_id": "TCN4Y4ZC3FM"}}"#;
const OFFICIAL_V1: &str = "53c971695230e9c51b1030d673eee76e70bbcdf8a7c5b8c1d44e0b8b1329647b";

#[test]
fn official_wave_vector_is_verified() {
    let mut config = WaveConfig::new("https://api.wave.com", "wave_sn_prod_unused");
    config.webhook = WaveWebhookAuth::SigningSecret(Secret::new(OFFICIAL_SECRET));
    let wave = WaveConnector::new(config).unwrap_or_else(|e| panic!("{e}"));
    let at = |secs: i64| {
        Utc.timestamp_opt(OFFICIAL_T + secs, 0)
            .single()
            .unwrap_or_default()
    };
    let headers = |value: String| vec![("wave-signature".to_owned(), value)];

    let event = wave
        .verify_webhook(
            &headers(format!("t={OFFICIAL_T},v1={OFFICIAL_V1}")),
            OFFICIAL_BODY.as_bytes(),
            at(12),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(event.event_id, "AE_ijzo7oGgrlM7");
    assert_eq!(event.kind, "checkout.session.completed");
    assert_eq!(event.provider_id.as_deref(), Some("cos-1b01sghpg100j"));
    assert_eq!(event.reference, None);
    assert_eq!(event.claimed, ProviderState::Succeeded);
    assert_eq!(event.amount_minor, Some(100));
    assert_eq!(event.currency.as_deref(), Some("XOF"));

    // Several v1 values (secret rotation): any one may match.
    let rotated = format!("t={OFFICIAL_T},v1={},v1={OFFICIAL_V1}", "0".repeat(64));
    assert!(wave
        .verify_webhook(&headers(rotated), OFFICIAL_BODY.as_bytes(), at(-299))
        .is_ok());
    // 300 s tolerance on both sides.
    for skew in [301, -301, 3600] {
        assert!(matches!(
            wave.verify_webhook(
                &headers(format!("t={OFFICIAL_T},v1={OFFICIAL_V1}")),
                OFFICIAL_BODY.as_bytes(),
                at(skew)
            ),
            Err(WebhookError::Unverified(_))
        ));
    }
    // The Stripe-style "t.body" construction is not Wave's.
    let dotted = nexpay_security::hmac_sha256_hex(
        OFFICIAL_SECRET.as_bytes(),
        format!("{OFFICIAL_T}.{OFFICIAL_BODY}").as_bytes(),
    );
    assert!(wave
        .verify_webhook(
            &headers(format!("t={OFFICIAL_T},v1={dotted}")),
            OFFICIAL_BODY.as_bytes(),
            at(0)
        )
        .is_err());
    // Re-serialized JSON (other separators) is not the signed body.
    let compact =
        serde_json::to_string(&serde_json::from_str::<Value>(OFFICIAL_BODY).unwrap_or_default())
            .unwrap_or_default();
    assert!(wave
        .verify_webhook(
            &headers(format!("t={OFFICIAL_T},v1={OFFICIAL_V1}")),
            compact.as_bytes(),
            at(0)
        )
        .is_err());
}
