//! The Orange Money connector against the Orange Money simulator on a real port.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use async_trait::async_trait;
use base64::Engine;
use chrono::{DateTime, TimeZone, Utc};
use nexpay_contracts::CreateCheckout;
use nexpay_providers::orange_money::{CachedToken, RetryPolicy};
use nexpay_providers::{
    Connector, ConnectorError, InMemoryTokenCache, OrangeMoneyConfig, OrangeMoneyConnector,
    ProviderState, TokenCache, WebhookError,
};
use nexpay_sandbox::orange_money::{
    configure, Clock, Faults, ManualClock, OmClient, OmSim, OmSimConfig,
};
use nexpay_security::Secret;
use serde_json::{json, Value};

const ENDPOINT_SECRET: &str = "om_endpoint_secret_test";
const API_KEY: &str = "nexpay-om-callback-key-0001";

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 9, 9, 10, 2, 59).unwrap()
}

struct Env {
    sim: OmSim,
    clock: ManualClock,
    base: String,
    http: reqwest::Client,
}

/// The simulator (manual clock) served on a free loopback port.
async fn env() -> Env {
    let mut pending = OmClient::new("pending-app", "pending-secret");
    pending.provisioned = false;
    let config = OmSimConfig {
        clients: vec![OmClient::new("client-1", "secret-1"), pending],
        endpoint_secret: Some(ENDPOINT_SECRET.into()),
        notification_max_attempts: 2,
        notification_retry_backoff: Duration::from_millis(20),
        notification_timeout: Duration::from_secs(2),
        ..OmSimConfig::default()
    };
    let clock = ManualClock::new(start());
    let sim = OmSim::with_clock(config, Arc::new(clock.clone()));
    let served = sim.clone();
    let server = HttpServer::new(move || {
        App::new().service(web::scope("/sandbox/om").configure(configure(served.clone())))
    })
    .workers(1)
    .disable_signals()
    .bind(("127.0.0.1", 0))
    .unwrap();
    let addr = server.addrs()[0];
    actix_web::rt::spawn(server.run());
    Env {
        sim,
        clock,
        base: format!("http://{addr}/sandbox/om"),
        http: reqwest::Client::new(),
    }
}

fn om_config(env: &Env) -> OrangeMoneyConfig {
    let mut c = OrangeMoneyConfig::new(
        env.base.clone(),
        "client-1",
        "secret-1",
        "621513",
        "MY SHOP",
        API_KEY,
    );
    c.webhook_signing_secret = Some(Secret::new(ENDPOINT_SECRET));
    c.request_timeout = Duration::from_secs(5);
    c.retry = RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
    };
    c
}

/// A connector whose clock is the simulator's.
fn connector_with(env: &Env, config: OrangeMoneyConfig) -> OrangeMoneyConnector {
    let clock = env.clock.clone();
    OrangeMoneyConnector::new(config)
        .unwrap()
        .with_clock(Arc::new(move || clock.now()))
}

fn checkout(attempt: &str, amount: i64) -> CreateCheckout {
    CreateCheckout {
        provider_code: "om".into(),
        mode: "live".into(),
        attempt_id: attempt.into(),
        provider_reference: format!("NP-{attempt}"),
        amount_minor: amount,
        currency: "XOF".into(),
        payer_phone: "+221772490530".into(),
        merchant_name: "Boutique".into(),
        success_url: "https://shop.example/ok".into(),
        error_url: "https://shop.example/ko".into(),
    }
}

async fn pay(env: &Env, qr_id: &str, outcome: &str) -> Value {
    let resp = env
        .http
        .post(format!("{}/_sim/qr/{qr_id}/pay", env.base))
        .json(&json!({"msisdn": "772490530", "channel": "MAXIT", "outcome": outcome}))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    resp.json().await.unwrap()
}

/// Counts the tokens the connector stores, i.e. the tokens it requested.
#[derive(Default)]
struct CountingCache {
    inner: InMemoryTokenCache,
    puts: AtomicUsize,
}

#[async_trait]
impl TokenCache for CountingCache {
    async fn get(&self, key: &str) -> Option<CachedToken> {
        self.inner.get(key).await
    }
    async fn put(&self, key: &str, token: CachedToken) {
        self.puts.fetch_add(1, Ordering::SeqCst);
        self.inner.put(key, token).await;
    }
    async fn invalidate(&self, key: &str, access_token: &str) {
        self.inner.invalidate(key, access_token).await;
    }
}

// ---------------------------------------------------------------- notification receiver

/// Lower-case headers and raw body of one notification.
type Delivery = (Vec<(String, String)>, Vec<u8>);

#[derive(Clone, Default)]
struct Inbox(Arc<Mutex<Vec<Delivery>>>);

impl Inbox {
    async fn wait_for(&self, n: usize) -> Vec<Delivery> {
        for _ in 0..250 {
            if self.0.lock().unwrap().len() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.0.lock().unwrap().clone()
    }
}

async fn receive(inbox: web::Data<Inbox>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let headers = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                v.to_str().unwrap().to_owned(),
            )
        })
        .collect();
    inbox.0.lock().unwrap().push((headers, body.to_vec()));
    HttpResponse::Accepted().finish()
}

async fn receiver() -> (Inbox, String) {
    let inbox = Inbox::default();
    let data = web::Data::new(inbox.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/api/v1/webhook/om", web::post().to(receive))
    })
    .workers(1)
    .disable_signals()
    .bind(("127.0.0.1", 0))
    .unwrap();
    let addr = server.addrs()[0];
    actix_web::rt::spawn(server.run());
    (inbox, format!("http://{addr}/api/v1/webhook/om"))
}

// ---------------------------------------------------------------- tests

#[actix_web::test]
async fn token_is_fetched_once_reused_and_refreshed_after_expiry() {
    let env = env().await;
    let cache = Arc::new(CountingCache::default());
    let clock = env.clock.clone();
    let om = OrangeMoneyConnector::with_token_cache(om_config(&env), cache.clone())
        .unwrap()
        .with_clock(Arc::new(move || clock.now()));

    om.create_checkout(&checkout("a1", 100)).await.unwrap();
    om.fetch_status("qr", "NP-a1").await.unwrap();
    om.create_checkout(&checkout("a2", 100)).await.unwrap();
    assert_eq!(
        cache.puts.load(Ordering::SeqCst),
        1,
        "one token for three calls"
    );

    // 299 s tokens with a 30 s margin: still used at +200 s, renewed at +280 s.
    env.clock.advance(chrono::Duration::seconds(200));
    om.fetch_status("qr", "NP-a1").await.unwrap();
    assert_eq!(cache.puts.load(Ordering::SeqCst), 1);
    env.clock.advance(chrono::Duration::seconds(80));
    om.fetch_status("qr", "NP-a1").await.unwrap();
    assert_eq!(
        cache.puts.load(Ordering::SeqCst),
        2,
        "renewed before expiry"
    );
}

#[actix_web::test]
async fn a_401_renews_the_token_once() {
    let env = env().await;
    let cache = Arc::new(CountingCache::default());
    // The connector's own clock stands still: it believes its token is fresh while the
    // gateway has expired it.
    let frozen = ManualClock::new(start());
    let om = OrangeMoneyConnector::with_token_cache(om_config(&env), cache.clone())
        .unwrap()
        .with_clock(Arc::new(move || frozen.now()));
    om.fetch_status("qr", "NP-x").await.unwrap();
    env.clock.advance(chrono::Duration::seconds(300));
    let status = om.fetch_status("qr", "NP-x").await.unwrap();
    assert_eq!(status.state, ProviderState::Pending);
    assert_eq!(
        cache.puts.load(Ordering::SeqCst),
        2,
        "renewed after the 401"
    );

    // A token refused again after renewal is not retried forever: the application is
    // not provisioned, so the token request itself is refused.
    let mut config = om_config(&env);
    config.client_id = "pending-app".into();
    config.client_secret = Secret::new("pending-secret");
    let pending = connector_with(&env, config);
    match pending.fetch_status("qr", "NP-x").await {
        Err(ConnectorError::Rejected { code, message, .. }) => {
            assert_eq!(code, "unauthorized_client");
            assert!(message.contains("INVALID_CREDENTIALS"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[actix_web::test]
async fn create_checkout_returns_png_deep_links_and_expiry() {
    let env = env().await;
    let om = connector_with(&env, om_config(&env));
    let created = om.create_checkout(&checkout("att-1", 5000)).await.unwrap();

    let png = base64::engine::general_purpose::STANDARD
        .decode(created.qr_png_base64.as_deref().unwrap())
        .unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let names: Vec<&str> = created
        .checkout_urls
        .iter()
        .map(|l| l.name.as_str())
        .collect();
    assert_eq!(names, ["MaxIt", "Orange Money"]);
    assert!(created.checkout_urls[0]
        .url
        .starts_with("https://sugu.orange-sonatel.com/"));
    assert!(created.checkout_urls[1]
        .url
        .starts_with("https://orangemoneysn.page.link/"));
    assert_eq!(created.expires_at, start() + chrono::Duration::seconds(900));

    // A retried attempt gets the same QR code.
    let again = om.create_checkout(&checkout("att-1", 5000)).await.unwrap();
    assert_eq!(again.provider_id, created.provider_id);

    // The QR code carries our reference and attempt id.
    let tx = pay(&env, &created.provider_id, "SUCCESS").await;
    assert_eq!(tx["reference"], "NP-att-1");
    assert_eq!(tx["metadata"]["attemptId"], "att-1");
    assert_eq!(tx["amount"]["value"], 5000.0);
}

#[actix_web::test]
async fn status_is_pending_before_payment_and_succeeded_after() {
    let env = env().await;
    let om = connector_with(&env, om_config(&env));
    let created = om.create_checkout(&checkout("att-2", 5000)).await.unwrap();
    let qr = created.provider_id.clone();

    let before = om.fetch_status(&qr, "NP-att-2").await.unwrap();
    assert_eq!(before.state, ProviderState::Pending);
    assert_eq!(before.provider_id, qr);
    assert_eq!(before.transaction_id, None);

    let tx = pay(&env, &qr, "SUCCESS").await;
    let after = om.fetch_status(&qr, "NP-att-2").await.unwrap();
    assert_eq!(after.state, ProviderState::Succeeded);
    assert_eq!(
        after.amount_minor,
        Some(5000),
        "10.0-style float parsed exactly"
    );
    assert_eq!(after.currency.as_deref(), Some("XOF"));
    assert_eq!(
        after.transaction_id.as_deref(),
        tx["transactionId"].as_str()
    );
    assert_eq!(after.payer.as_deref(), Some("+221772490530"));
    assert!(after.completed_at.is_some());

    // The authoritative status endpoint agrees.
    let id = after.transaction_id.unwrap();
    assert_eq!(om.transaction_status(&id).await.unwrap(), "SUCCESS");
}

#[actix_web::test]
async fn failed_and_cancelled_payments_are_mapped_and_a_later_success_wins() {
    let env = env().await;
    let om = connector_with(&env, om_config(&env));
    let qr = om
        .create_checkout(&checkout("att-3", 1500))
        .await
        .unwrap()
        .provider_id;

    pay(&env, &qr, "FAILED").await;
    let failed = om.fetch_status(&qr, "NP-att-3").await.unwrap();
    assert!(
        matches!(&failed.state, ProviderState::Failed { code, .. } if code == "FAILED"),
        "{failed:?}"
    );
    assert_eq!(failed.amount_minor, Some(1500));

    // The QR code stays payable after a failed try: a success must win.
    env.clock.advance(chrono::Duration::seconds(5));
    pay(&env, &qr, "SUCCESS").await;
    let paid = om.fetch_status(&qr, "NP-att-3").await.unwrap();
    assert_eq!(paid.state, ProviderState::Succeeded);

    let other = om
        .create_checkout(&checkout("att-4", 1500))
        .await
        .unwrap()
        .provider_id;
    pay(&env, &other, "CANCELLED").await;
    let cancelled = om.fetch_status(&other, "NP-att-4").await.unwrap();
    assert_eq!(cancelled.state, ProviderState::Cancelled);
}

#[actix_web::test]
async fn gets_carry_a_json_content_type() {
    let env = env().await;
    // The gateway refuses a GET without Content-Type...
    let token: Value = env
        .http
        .post(format!("{}/oauth/v1/token", env.base))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&client_id=client-1&client_secret=secret-1")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bare = env
        .http
        .get(format!(
            "{}/api/eWallet/v1/transactions?reference=x",
            env.base
        ))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status().as_u16(), 415);
    // ...and the connector's GETs go through.
    let om = connector_with(&env, om_config(&env));
    om.fetch_status("qr", "x").await.unwrap();
    assert!(matches!(
        om.transaction_status("MP260909.1002.A00000").await,
        Err(ConnectorError::Rejected { code, .. }) if code == "60"
    ));
}

#[actix_web::test]
async fn callback_registration_accepts_an_empty_answer() {
    let env = env().await;
    let (_inbox, url) = receiver().await;
    let mut config = om_config(&env);
    config.callback_url = Some(url.clone());
    let om = connector_with(&env, config.clone());
    om.register_callback().await.unwrap();

    let token: Value = env
        .http
        .post(format!("{}/oauth/v1/token", env.base))
        .body("grant_type=client_credentials&client_id=client-1&client_secret=secret-1")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed: Value = env
        .http
        .get(format!(
            "{}/api/notification/v1/merchantcallback?code=621513",
            env.base
        ))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .header("Content-Type", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["callbackUrl"], url.as_str());
    assert_eq!(listed[0]["apiKey"], API_KEY);

    // A short apiKey or a missing URL is refused before any call.
    config.webhook_api_key = Secret::new("too-short");
    let short = connector_with(&env, config);
    assert!(matches!(
        short.register_callback().await,
        Err(ConnectorError::Rejected { code, .. }) if code == "invalid-config"
    ));
    let none = connector_with(&env, om_config(&env));
    assert!(none.register_callback().await.is_err());
}

#[actix_web::test]
async fn server_errors_and_rate_limits_are_retried_then_unavailable() {
    let env = env().await;
    let om = connector_with(&env, om_config(&env));
    om.fetch_status("qr", "NP-f").await.unwrap(); // token cached

    // Two failures, three attempts: the call succeeds.
    env.sim.set_faults(Faults {
        api_error_status: Some(500),
        api_error_count: Some(2),
        ..Faults::default()
    });
    om.fetch_status("qr", "NP-f").await.unwrap();
    env.sim.set_faults(Faults {
        api_error_status: Some(429),
        api_error_count: Some(2),
        ..Faults::default()
    });
    om.create_checkout(&checkout("f-1", 100)).await.unwrap();

    for status in [500, 429] {
        env.sim.set_faults(Faults {
            api_error_status: Some(status),
            ..Faults::default()
        });
        match om.fetch_status("qr", "NP-f").await {
            Err(ConnectorError::Unavailable { message, .. }) => {
                assert!(message.contains("after 3 attempt(s)"), "{message}");
                assert!(message.contains(&status.to_string()), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }
    env.sim.set_faults(Faults::default());
    om.fetch_status("qr", "NP-f").await.unwrap();
}

#[actix_web::test]
async fn business_errors_are_clear_rejections() {
    let env = env().await;
    let mut config = om_config(&env);
    config.merchant_name = "N".repeat(300);
    let om = connector_with(&env, config);
    match om.create_checkout(&checkout("e-1", 100)).await {
        Err(ConnectorError::Rejected { code, message, .. }) => {
            assert_eq!(code, "400");
            assert!(
                message.contains("name must be at most 255 characters"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    let om = connector_with(&env, om_config(&env));
    assert!(matches!(
        om.create_checkout(&checkout("e-2", 5)).await,
        Err(ConnectorError::Rejected { code, .. }) if code == "amount-too-small"
    ));
    let mut eur = checkout("e-3", 100);
    eur.currency = "EUR".into();
    assert!(matches!(
        om.create_checkout(&eur).await,
        Err(ConnectorError::Rejected { code, .. }) if code == "unsupported-currency"
    ));
    assert!(matches!(
        om.expire("qr").await,
        Err(ConnectorError::Unsupported { .. })
    ));
    assert!(matches!(
        om.refund("qr").await,
        Err(ConnectorError::Unsupported { .. })
    ));
}

#[actix_web::test]
async fn notifications_from_the_simulator_are_verified() {
    let env = env().await;
    let (inbox, url) = receiver().await;
    let mut config = om_config(&env);
    config.callback_url = Some(url);
    let om = connector_with(&env, config.clone());
    om.register_callback().await.unwrap();
    let qr = om
        .create_checkout(&checkout("n-1", 2500))
        .await
        .unwrap()
        .provider_id;
    let tx = pay(&env, &qr, "SUCCESS").await;

    let received = inbox.wait_for(1).await;
    let (headers, body) = received.first().cloned().unwrap();
    let event = om.verify_webhook(&headers, &body, env.sim.now()).unwrap();
    let key = headers
        .iter()
        .find(|(k, _)| k == "x-sonatel-idempotency-key")
        .map(|(_, v)| v.clone())
        .unwrap();
    assert_eq!(event.event_id, key);
    assert_eq!(event.reference.as_deref(), Some("NP-n-1"));
    assert_eq!(event.claimed, ProviderState::Succeeded);
    assert_eq!(event.amount_minor, Some(2500));
    assert_eq!(event.currency.as_deref(), Some("XOF"));
    assert_eq!(event.kind, "MERCHANT_PAYMENT");
    assert_ne!(event.event_id, tx["transactionId"].as_str().unwrap());

    // Without the idempotency header, the transaction id identifies the event.
    let no_key: Vec<_> = headers
        .iter()
        .filter(|(k, _)| k != "x-sonatel-idempotency-key")
        .cloned()
        .collect();
    let event = om.verify_webhook(&no_key, &body, env.sim.now()).unwrap();
    assert_eq!(event.event_id, tx["transactionId"].as_str().unwrap());

    // Wrong apiKey.
    let mut other = config.clone();
    other.webhook_api_key = Secret::new("another-api-key-of-20-chars");
    let wrong_key = connector_with(&env, other);
    assert!(matches!(
        wrong_key.verify_webhook(&headers, &body, env.sim.now()),
        Err(WebhookError::Unverified(_))
    ));
    // Tampered body (amount raised), missing signature, stale timestamp.
    let forged = String::from_utf8(body.clone())
        .unwrap()
        .replace("2500.0", "25000.0");
    assert!(matches!(
        om.verify_webhook(&headers, forged.as_bytes(), env.sim.now()),
        Err(WebhookError::Unverified(_))
    ));
    let unsigned: Vec<_> = headers
        .iter()
        .filter(|(k, _)| k != "x-sonatel-signature")
        .cloned()
        .collect();
    assert!(matches!(
        om.verify_webhook(&unsigned, &body, env.sim.now()),
        Err(WebhookError::Unverified(_))
    ));
    assert!(matches!(
        om.verify_webhook(
            &headers,
            &body,
            env.sim.now() + chrono::Duration::seconds(301)
        ),
        Err(WebhookError::Unverified(_))
    ));

    // The simulator signing with a wrong secret.
    env.sim.set_faults(Faults {
        bad_signature: true,
        ..Faults::default()
    });
    let qr = om
        .create_checkout(&checkout("n-2", 2500))
        .await
        .unwrap()
        .provider_id;
    pay(&env, &qr, "SUCCESS").await;
    let received = inbox.wait_for(2).await;
    let (headers, body) = received[1].clone();
    assert!(matches!(
        om.verify_webhook(&headers, &body, env.sim.now()),
        Err(WebhookError::Unverified(m)) if m.contains("signature")
    ));
}

#[actix_web::test]
async fn failed_payment_notifications_claim_a_failure() {
    let env = env().await;
    let (inbox, url) = receiver().await;
    let mut config = om_config(&env);
    config.callback_url = Some(url);
    config.webhook_signing_secret = None;
    let om = connector_with(&env, config);
    om.register_callback().await.unwrap();
    let qr = om
        .create_checkout(&checkout("n-3", 700))
        .await
        .unwrap()
        .provider_id;
    pay(&env, &qr, "FAILED").await;
    let (headers, body) = inbox.wait_for(1).await.first().cloned().unwrap();
    // No signing secret configured: the Basic apiKey alone authenticates.
    let event = om.verify_webhook(&headers, &body, env.sim.now()).unwrap();
    assert!(matches!(event.claimed, ProviderState::Failed { .. }));
    assert_eq!(event.amount_minor, Some(700));
}

#[actix_web::test]
async fn the_orange_vector_from_the_provider_notes_verifies() {
    let env = env().await;
    let mut config = om_config(&env);
    config.webhook_api_key = Secret::new(API_KEY);
    let om = connector_with(&env, config);
    let body = br#"{"amount":{"value":10.0,"unit":"XOF"},"reference":"ORDER-1","status":"SUCCESS","transactionId":"MP231114.2213.A00001","type":"MERCHANT_PAYMENT"}"#;
    let signature =
        "t=1700000000,v1=e2409657e6a38f92fae426fc4accd21d9647c489905714fe34287e047d54e451";
    let headers = |sig: &str| {
        vec![
            ("authorization".to_owned(), format!("Basic {API_KEY}")),
            ("x-sonatel-signature".to_owned(), sig.to_owned()),
        ]
    };
    let now = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
    let event = om.verify_webhook(&headers(signature), body, now).unwrap();
    assert_eq!(event.event_id, "MP231114.2213.A00001");
    assert_eq!(event.reference.as_deref(), Some("ORDER-1"));
    assert_eq!(event.amount_minor, Some(10));
    assert_eq!(event.claimed, ProviderState::Succeeded);

    // Several v1 values (rotation): one match is enough.
    let rotated = format!("t=1700000000,v1={},{}", "00".repeat(32), &signature[13..]);
    assert!(om.verify_webhook(&headers(&rotated), body, now).is_ok());
    // Wave's construction (no comma) must not verify.
    let wave_style = format!(
        "t=1700000000,v1={}",
        nexpay_security::hmac_sha256_hex(
            ENDPOINT_SECRET.as_bytes(),
            &[b"1700000000".as_slice(), body].concat()
        )
    );
    assert!(om.verify_webhook(&headers(&wave_style), body, now).is_err());
    // A non-integral amount is malformed once verified.
    let odd = br#"{"amount":{"value":10.5,"unit":"XOF"},"reference":"ORDER-1","status":"SUCCESS","transactionId":"MP231114.2213.A00001","type":"MERCHANT_PAYMENT"}"#;
    let sig = format!(
        "t=1700000000,v1={}",
        nexpay_security::hmac_sha256_hex(
            ENDPOINT_SECRET.as_bytes(),
            &[b"1700000000,".as_slice(), odd].concat()
        )
    );
    assert!(matches!(
        om.verify_webhook(&headers(&sig), odd, now),
        Err(WebhookError::Malformed(_))
    ));
}
