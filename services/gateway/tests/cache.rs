//! The gateway with a cache, on a real (SQLite) database: what happens on cache misses,
//! on a cache that fails every call, on key changes made by another process, and (with
//! `-- --ignored`) with two replicas sharing a Redis.
// A test fails by panicking: unwrap is how it says "this must succeed".
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::http::header::HeaderMap;
use actix_web::{test, App};
use async_trait::async_trait;
use nexpay_bus::{handler_fn, Bus, ConsumerOptions, HandlerError, InProcessBus};
use nexpay_cache::{names, Cache, CacheError, MemoryCache, RateDecision};
use nexpay_domain::{ApiKeyId, PaymentId, PaymentReference, ProjectId, SessionId};
use nexpay_gateway::{GatewayConfig, GatewayState, RateLimit, RequestIdMiddleware};
use nexpay_security::{generate_api_key, KeyKind, KeyMode};
use nexpay_store::testing::TestDb;
use nexpay_store::{ApiKeyRow, NewPaymentBundle, PaymentRow, ProjectRow, SessionRow, Store};
use serde_json::{json, Value};

/// A cache that is down: every call fails, and is counted.
#[derive(Default)]
struct Down {
    calls: AtomicUsize,
}

impl Down {
    fn fail<T>(&self) -> Result<T, CacheError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(CacheError::Unavailable("connection refused (test)".into()))
    }
}

#[async_trait]
impl Cache for Down {
    async fn get(&self, _: &str) -> Result<Option<Vec<u8>>, CacheError> {
        self.fail()
    }
    async fn set(&self, _: &str, _: &[u8], _: Duration) -> Result<(), CacheError> {
        self.fail()
    }
    async fn set_if_absent(&self, _: &str, _: &[u8], _: Duration) -> Result<bool, CacheError> {
        self.fail()
    }
    async fn delete(&self, _: &str) -> Result<(), CacheError> {
        self.fail()
    }
    async fn take_token(&self, _: &str, _: u32, _: f64) -> Result<RateDecision, CacheError> {
        self.fail()
    }
    async fn health(&self) -> Result<(), CacheError> {
        self.fail()
    }
}

struct Fixture {
    db: TestDb,
    project_id: String,
    read_key: String,
    read_key_id: String,
    read_key_hash: String,
    write_key: String,
    session_id: String,
    bus: Arc<dyn Bus>,
    /// Commands the fake payments service received.
    commands: Arc<AtomicUsize>,
}

async fn insert_key(
    store: &Store,
    project_id: &str,
    kind: KeyKind,
    expires_at: Option<chrono::NaiveDateTime>,
) -> (String, String, String) {
    let key = generate_api_key(kind, KeyMode::Test);
    let row = ApiKeyRow {
        id: ApiKeyId::generate().into_string(),
        project_id: project_id.to_owned(),
        kind: key.kind.as_str().to_owned(),
        mode: key.mode.as_str().to_owned(),
        prefix: key.prefix.clone(),
        key_hash: key.hash.clone(),
        label: None,
        created_at: nexpay_store::now(),
        last_used_at: None,
        expires_at,
        revoked_at: None,
    };
    store.insert_api_key(&row).await.unwrap();
    (row.id, key.full.expose().to_owned(), key.hash)
}

async fn insert_project(store: &Store) -> String {
    let at = nexpay_store::now();
    let project = ProjectRow {
        id: ProjectId::generate().into_string(),
        name: "Shop".into(),
        success_url: None,
        failure_url: None,
        cancel_url: None,
        settings: "{}".into(),
        is_default: false,
        created_at: at,
        updated_at: at,
        archived_at: None,
    };
    store.insert_project(&project).await.unwrap();
    project.id
}

async fn insert_session(store: &Store, project_id: &str) -> String {
    let at = nexpay_store::now();
    let session_id = SessionId::generate().into_string();
    let payment = PaymentRow {
        id: PaymentId::generate().into_string(),
        reference: PaymentReference::generate().into_string(),
        project_id: project_id.to_owned(),
        mode: "test".into(),
        session_id: Some(session_id.clone()),
        amount: 5000,
        currency: "XOF".into(),
        payer_name: Some("Awa".into()),
        payer_email: None,
        payer_phone: "+221771234567".into(),
        metadata: r#"{"order_id":"A-1"}"#.into(),
        client_reference: None,
        status: "PENDING".into(),
        provider_code: None,
        late: false,
        request_key: None,
        created_at: at,
        updated_at: at,
        resolved_at: None,
    };
    let session = SessionRow {
        id: session_id.clone(),
        project_id: project_id.to_owned(),
        mode: "test".into(),
        payment_id: payment.id.clone(),
        amount: 5000,
        currency: "XOF".into(),
        customer_name: Some("Awa".into()),
        customer_email: None,
        customer_phone: "+221771234567".into(),
        metadata: r#"{"order_id":"A-1"}"#.into(),
        items: Some(r#"[{"label":"Tea","unitPrice":5000,"quantity":1}]"#.into()),
        client_reference: None,
        success_url: None,
        failure_url: None,
        cancel_url: None,
        status: "opened".into(),
        request_key: None,
        expires_at: at + chrono::Duration::minutes(30),
        created_at: at,
        updated_at: at,
    };
    store
        .insert_payment_bundle(NewPaymentBundle {
            payment,
            session: Some(session),
            history: vec![],
            events: vec![],
        })
        .await
        .unwrap();
    session_id
}

async fn fixture() -> Fixture {
    let db = TestDb::sqlite().await.unwrap();
    let store = db.store().clone();
    let project_id = insert_project(&store).await;
    let (read_key_id, read_key, read_key_hash) =
        insert_key(&store, &project_id, KeyKind::Read, None).await;
    let (_, write_key, _) = insert_key(&store, &project_id, KeyKind::Write, None).await;
    let session_id = insert_session(&store, &project_id).await;
    // A stand-in for the payments service: accepts every command.
    let (bus, commands) = scripted_payments(Vec::new()).await;
    Fixture {
        db,
        project_id,
        read_key,
        read_key_id,
        read_key_hash,
        write_key,
        session_id,
        bus,
        commands,
    }
}

impl Fixture {
    fn gateway(&self, store: Store) -> GatewayState {
        GatewayState::new(
            store,
            self.bus.clone(),
            GatewayConfig {
                rpc_timeout: Duration::from_secs(5),
                idempotency_ttl: Duration::from_secs(24 * 3600),
                max_body_bytes: 64 * 1024,
                serve_openapi: false,
                public_url: "http://pay.test".into(),
            },
        )
    }

    fn session_path(&self) -> String {
        format!("/api/v1/payment/session/{}", self.session_id)
    }
}

struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// Builds the app for a gateway state once per call site; `send!(app, req)` runs one
/// request through it.
macro_rules! app {
    ($state:expr) => {
        test::init_service(
            App::new()
                .wrap(RequestIdMiddleware)
                .configure(nexpay_gateway::configure($state)),
        )
        .await
    };
}

macro_rules! send {
    ($app:expr, $req:expr) => {{
        let resp = test::call_service(&$app, $req.to_request()).await;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = test::read_body(resp).await.to_vec();
        Answer {
            status,
            headers,
            body,
        }
    }};
}

fn get(path: &str, key: &str) -> test::TestRequest {
    test::TestRequest::get()
        .uri(path)
        .insert_header(("x-api-key", key))
}

fn create_session(key: &str, idempotency_key: &str, amount: u64) -> test::TestRequest {
    test::TestRequest::post()
        .uri("/api/v1/payment/session/initiate")
        .insert_header(("x-api-key", key))
        .insert_header(("Idempotency-Key", idempotency_key))
        .set_json(json!({
            "amount": amount,
            "currency": "XOF",
            "customer": {"name": "Awa", "phone": "+221771234567"},
        }))
}

#[actix_web::test]
async fn a_cache_that_fails_every_call_changes_no_answer() {
    let fx = fixture().await;
    let plain = app!(fx.gateway(fx.db.store().clone()));
    let down = Arc::new(Down::default());
    let degraded = app!(fx
        .gateway(fx.db.store().clone())
        .with_cache(down.clone())
        .with_rate_limit(RateLimit {
            per_sec: 1,
            burst: 1
        }));

    let expected = send!(plain, get(&fx.session_path(), &fx.read_key));
    assert_eq!(expected.status, 200);
    // Far over the (unreachable) limit: allowed, fail open, and the same answer.
    for _ in 0..5 {
        let r = send!(degraded, get(&fx.session_path(), &fx.read_key));
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.body, expected.body);
    }
    let r = send!(degraded, get(&fx.session_path(), "nxp_pk_test_unknown"));
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"]["code"], json!("invalid_api_key"));

    // Idempotency falls back to the database.
    let first = send!(degraded, create_session(&fx.write_key, "k-down", 100));
    assert_eq!(first.status, 200);
    let replay = send!(degraded, create_session(&fx.write_key, "k-down", 100));
    assert_eq!(replay.status, 200);
    assert_eq!(replay.body, first.body);
    assert_eq!(
        replay.headers.get("idempotent-replayed").unwrap(),
        "true",
        "replayed from the database"
    );
    let conflict = send!(degraded, create_session(&fx.write_key, "k-down", 200));
    assert_eq!(conflict.status, 409);
    assert_eq!(fx.commands.load(Ordering::SeqCst), 1);

    // After the first failure the cache is left alone for a while: an outage costs one
    // timeout now and then, not several per request.
    let calls = down.calls.load(Ordering::SeqCst);
    assert!(calls <= 5, "{calls} calls to a cache that is down");
}

/// A payments service whose answers to successive commands are given in advance; past
/// the list it accepts. Returns the bus and the count of commands received.
async fn scripted_payments(script: Vec<(u16, &'static str)>) -> (Arc<dyn Bus>, Arc<AtomicUsize>) {
    let bus: Arc<dyn Bus> = Arc::new(InProcessBus::new());
    let commands = Arc::new(AtomicUsize::new(0));
    let seen = commands.clone();
    let handler = handler_fn(move |_| {
        let n = seen.fetch_add(1, Ordering::SeqCst);
        let answer = script.get(n).copied();
        async move {
            match answer {
                Some((status, code)) => Err(HandlerError::rejected(status, code, "scripted")),
                None => Ok(json!({"sessionId": format!("cs_fake_{n}"),
                                  "checkoutUrl": "http://x/checkout", "status": "opened",
                                  "expiresAt": "2026-11-27T12:00:00Z"})),
            }
        }
    });
    bus.serve(
        nexpay_contracts::queues::PAYMENTS,
        handler,
        ConsumerOptions::default(),
    )
    .await
    .unwrap();
    (bus, commands)
}

/// "Try again" answers (409 `conflict`, 429, 503) are not kept under the Idempotency-Key:
/// the merchant's retry with the same key runs again and gets the real answer, which is
/// then kept. A final error is kept and replayed without running again.
#[actix_web::test]
async fn retryable_answers_are_not_replayed_final_ones_are() {
    let mut fx = fixture().await;
    let (bus, commands) = scripted_payments(vec![
        (409, "conflict"),
        (429, "rate_limited"),
        (503, "service_unavailable"),
    ])
    .await;
    fx.bus = bus;
    let app = app!(fx.gateway(fx.db.store().clone()));
    for (status, code) in [
        (409, "conflict"),
        (429, "rate_limited"),
        (503, "service_unavailable"),
    ] {
        let r = send!(app, create_session(&fx.write_key, "k-retry", 100));
        assert_eq!(r.status, status, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.json()["error"]["code"], json!(code));
        assert!(r.headers.get("idempotent-replayed").is_none());
    }
    let ok = send!(app, create_session(&fx.write_key, "k-retry", 100));
    assert_eq!(ok.status, 200, "{}", String::from_utf8_lossy(&ok.body));
    assert_eq!(
        ok.json()["data"]["sessionId"],
        json!("cs_fake_3"),
        "{}",
        String::from_utf8_lossy(&ok.body)
    );
    let replay = send!(app, create_session(&fx.write_key, "k-retry", 100));
    assert_eq!(replay.body, ok.body);
    assert_eq!(replay.headers.get("idempotent-replayed").unwrap(), "true");
    assert_eq!(commands.load(Ordering::SeqCst), 4, "the replay ran nothing");

    // A final refusal (here a 409 that is not a concurrency conflict) is kept.
    let (bus, commands) = scripted_payments(vec![(409, "session_not_open")]).await;
    fx.bus = bus;
    let app = app!(fx.gateway(fx.db.store().clone()));
    let first = send!(app, create_session(&fx.write_key, "k-final", 100));
    assert_eq!(first.status, 409);
    let again = send!(app, create_session(&fx.write_key, "k-final", 100));
    assert_eq!(again.status, 409);
    assert_eq!(again.body, first.body);
    assert_eq!(again.headers.get("idempotent-replayed").unwrap(), "true");
    assert_eq!(commands.load(Ordering::SeqCst), 1);
}

#[actix_web::test]
async fn misses_fall_back_to_the_database_with_the_same_answers() {
    let fx = fixture().await;
    let cache = Arc::new(MemoryCache::new());
    let app = app!(fx.gateway(fx.db.store().clone()).with_cache(cache.clone()));
    let plain = app!(fx.gateway(fx.db.store().clone()));
    let expected = send!(plain, get(&fx.session_path(), &fx.read_key));
    let data = expected.json()["data"].clone();
    assert_eq!(data["items"][0]["label"], json!("Tea"));
    assert_eq!(data["metadata"], json!({"order_id": "A-1"}));
    assert_eq!(data["amount"], json!(5000));
    assert_eq!(data["provider"], Value::Null);

    let miss = send!(app, get(&fx.session_path(), &fx.read_key));
    assert_eq!(miss.body, expected.body);
    assert_eq!(
        miss.headers.get("content-type").unwrap(),
        "application/json"
    );
    let entry = names::session_status(&fx.session_id);
    assert!(cache.get(&entry).await.unwrap().is_some(), "view cached");
    assert!(
        cache
            .get(&names::api_key(&fx.read_key_hash))
            .await
            .unwrap()
            .is_some(),
        "key cached"
    );
    let hit = send!(app, get(&fx.session_path(), &fx.read_key));
    assert_eq!(hit.body, expected.body);
    // Another project's key: 404 from the cached view too.
    let other = insert_project(fx.db.store()).await;
    let (_, other_key, _) = insert_key(fx.db.store(), &other, KeyKind::Read, None).await;
    let r = send!(app, get(&fx.session_path(), &other_key));
    assert_eq!(r.status, 404);
    assert!(!String::from_utf8_lossy(&r.body).contains("Awa"));

    // A marker written by payments after a change: read from the database, not cached.
    cache
        .set(&entry, names::SESSION_CHANGED, Duration::from_secs(3))
        .await
        .unwrap();
    let r = send!(app, get(&fx.session_path(), &fx.read_key));
    assert_eq!(r.body, expected.body);
    assert_eq!(
        cache.get(&entry).await.unwrap().as_deref(),
        Some(names::SESSION_CHANGED)
    );

    // Idempotency: the completed answer is cached; without it, the database replays
    // the same bytes.
    let first = send!(app, create_session(&fx.write_key, "k-1", 100));
    assert_eq!(first.status, 200);
    let idem = names::idempotency(&fx.project_id, "test", "k-1");
    assert!(cache.get(&idem).await.unwrap().is_some(), "answer cached");
    let from_cache = send!(app, create_session(&fx.write_key, "k-1", 100));
    assert_eq!(from_cache.body, first.body);
    assert_eq!(
        from_cache.headers.get("idempotent-replayed").unwrap(),
        "true"
    );
    let conflict = send!(app, create_session(&fx.write_key, "k-1", 101));
    assert_eq!(conflict.status, 409);
    assert_eq!(conflict.json()["error"]["code"], json!("idempotency_error"));
    cache.delete(&idem).await.unwrap();
    let from_db = send!(app, create_session(&fx.write_key, "k-1", 100));
    assert_eq!(from_db.body, first.body);
    assert_eq!(from_db.headers.get("idempotent-replayed").unwrap(), "true");
    cache.delete(&idem).await.unwrap();
    let conflict = send!(app, create_session(&fx.write_key, "k-1", 101));
    assert_eq!(conflict.status, 409);
    assert_eq!(fx.commands.load(Ordering::SeqCst), 1, "ran once");
}

#[actix_web::test]
async fn rate_limit_answers_429_with_retry_after() {
    let fx = fixture().await;
    let app = app!(fx
        .gateway(fx.db.store().clone())
        .with_cache(Arc::new(MemoryCache::new()))
        .with_rate_limit(RateLimit {
            per_sec: 1,
            burst: 2
        }));
    for _ in 0..2 {
        assert_eq!(
            send!(app, get(&fx.session_path(), &fx.read_key)).status,
            200
        );
    }
    let r = send!(app, get(&fx.session_path(), &fx.read_key));
    assert_eq!(r.status, 429);
    assert_eq!(r.headers.get("retry-after").unwrap(), "1");
    let body = r.json();
    assert_eq!(body["statusCode"], json!(429));
    assert_eq!(body["error"]["code"], json!("rate_limited"));
    assert_eq!(
        body["requestId"].as_str().unwrap(),
        r.headers.get("x-request-id").unwrap().to_str().unwrap()
    );
    // Another key has its own bucket.
    let other = send!(app, create_session(&fx.write_key, "k-rate", 100));
    assert_eq!(other.status, 200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        send!(app, get(&fx.session_path(), &fx.read_key)).status,
        200
    );
}

#[actix_web::test]
async fn key_changes_apply_although_the_key_is_cached() {
    let fx = fixture().await;
    let store = fx.db.store().clone();
    let app = app!(fx
        .gateway(store.clone())
        .with_cache(Arc::new(MemoryCache::new())));
    // Through a store of this process (the dashboard's): at once.
    for _ in 0..2 {
        assert_eq!(
            send!(app, get(&fx.session_path(), &fx.read_key)).status,
            200
        );
    }
    assert!(store
        .revoke_api_key(&fx.project_id, &fx.read_key_id)
        .await
        .unwrap());
    assert_eq!(
        send!(app, get(&fx.session_path(), &fx.read_key)).status,
        401
    );

    // Through another process's store (the `nexpay keys` CLI): within a second.
    let cli = Store::connect(&fx.db.url, 1).await.unwrap();
    let (id, key, _) = insert_key(&store, &fx.project_id, KeyKind::Read, None).await;
    for _ in 0..2 {
        assert_eq!(send!(app, get(&fx.session_path(), &key)).status, 200);
    }
    assert!(cli.revoke_api_key(&fx.project_id, &id).await.unwrap());
    let revoked_at = Instant::now();
    loop {
        let r = send!(app, get(&fx.session_path(), &key));
        if r.status == 401 {
            break;
        }
        assert_eq!(r.status, 200);
        assert!(
            revoked_at.elapsed() < Duration::from_millis(1500),
            "a key revoked by another process still works after 1.5 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // A cached key whose deadline passes is refused at its deadline.
    let soon = nexpay_store::now() + chrono::Duration::milliseconds(800);
    let (_, expiring, _) = insert_key(&store, &fx.project_id, KeyKind::Read, Some(soon)).await;
    for _ in 0..2 {
        assert_eq!(send!(app, get(&fx.session_path(), &expiring)).status, 200);
    }
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(send!(app, get(&fx.session_path(), &expiring)).status, 401);
}

/// Two gateway replicas, each with its own database connection (as two processes),
/// sharing one Redis: one budget per key, and a key entry deleted by the dashboard is
/// gone for both.
#[actix_web::test]
#[ignore = "needs Redis at 127.0.0.1:6379; run with -- --ignored"]
async fn replicas_share_rate_limits_and_key_invalidation_through_redis() {
    let fx = fixture().await;
    let prefix = format!(
        "nexpay_test_gw_{}_{}:",
        std::process::id(),
        nexpay_security::random_hex(8)
    );
    let redis: Arc<dyn Cache> =
        Arc::new(nexpay_cache::RedisCache::connect("redis://127.0.0.1:6379", &prefix).unwrap());
    redis.health().await.expect("Redis answers");
    let limit = RateLimit {
        per_sec: 1,
        burst: 4,
    };
    let store_a = Store::connect(&fx.db.url, 2).await.unwrap();
    let store_b = Store::connect(&fx.db.url, 2).await.unwrap();
    let a = app!(fx
        .gateway(store_a)
        .with_cache(redis.clone())
        .with_rate_limit(limit));
    let b = app!(fx
        .gateway(store_b)
        .with_cache(redis.clone())
        .with_rate_limit(limit));

    let (id, key, hash) = insert_key(fx.db.store(), &fx.project_id, KeyKind::Read, None).await;
    let mut ok = 0;
    let mut refused = None;
    for i in 0..12u32 {
        let r = if i.is_multiple_of(2) {
            send!(a, get(&fx.session_path(), &key))
        } else {
            send!(b, get(&fx.session_path(), &key))
        };
        if r.status == 429 {
            refused = Some(r);
            break;
        }
        assert_eq!(r.status, 200);
        ok += 1;
    }
    let refused = refused.expect("the shared budget runs out");
    assert!(
        (4..=5).contains(&ok),
        "{ok} requests allowed over two replicas"
    );
    assert_eq!(refused.headers.get("retry-after").unwrap(), "1");
    assert!(redis.get(&names::api_key(&hash)).await.unwrap().is_some());

    // The dashboard revokes in its own process and deletes the shared entry.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let dashboard = Store::connect(&fx.db.url, 1).await.unwrap();
    assert!(dashboard.revoke_api_key(&fx.project_id, &id).await.unwrap());
    redis.delete(&names::api_key(&hash)).await.unwrap();
    assert_eq!(send!(a, get(&fx.session_path(), &key)).status, 401);
    assert_eq!(send!(b, get(&fx.session_path(), &key)).status, 401);

    for name in [
        names::api_key(&hash),
        names::api_key(&fx.read_key_hash),
        names::rate_limit(&id),
        names::session_status(&fx.session_id),
    ] {
        redis.delete(&name).await.unwrap();
    }
}
