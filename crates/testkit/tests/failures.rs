//! Failure tests of the distributed wiring: a payments replica killed with SIGKILL, the
//! broker dropping every connection (and refusing reconnections for a while),
//! PostgreSQL terminating the services' backends, Redis going silent. Each asserts
//! that no payment, no state change and no event is lost or applied twice.
//!
//! A merchant retries a failed call with the same `Idempotency-Key`; the tests do the
//! same. The witness of events is a durable queue of its own bound to every event the
//! outbox publishes: it must see every outbox event at least once, and nothing else.
#![allow(clippy::unwrap_used)]

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nexpay_bus::{handler_fn, Bus, ConsumerHandle, ConsumerOptions};
use nexpay_bus_rabbitmq::RabbitBus;
use nexpay_testkit::{Backend, TestApp};
use serde_json::{json, Value};

fn payment_body(i: usize) -> Value {
    json!({
        "amount": 1000 + i as i64,
        "currency": "XOF",
        "provider_code": if i.is_multiple_of(2) { "wave" } else { "om" },
        "customer": {"name": "Awa Ndiaye", "phone": "+221771234567"},
        "metadata": {"order_id": format!("ORDER-{i}")}
    })
}

/// POSTs like a careful merchant: on a 5xx, a 409 "in progress" or a dropped
/// connection it retries with the same key, for up to a minute.
async fn initiate_until_done(app: &TestApp, key: &str, body: &Value) -> Value {
    let started = Instant::now();
    let mut last = String::new();
    while started.elapsed() < Duration::from_secs(60) {
        match app
            .client
            .post(app.url("/api/v1/payment/initiate"))
            .header("x-api-key", &app.write_key)
            .header("Idempotency-Key", key)
            .json(body)
            .timeout(Duration::from_secs(15))
            .send()
            .await
        {
            Ok(r) => {
                let status = r.status().as_u16();
                let text = r.text().await.unwrap_or_default();
                if status == 200 {
                    return serde_json::from_str(&text).unwrap();
                }
                assert!(
                    status >= 500 || status == 409 || status == 429,
                    "unexpected answer {status}: {text}"
                );
                last = format!("{status} {text}");
            }
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{key} never succeeded; last answer: {last}");
}

/// The witness's own durable queue: the dispatchers consume theirs.
const WITNESS_QUEUE: &str = "witness.events";

/// Counts every event id published to the topic exchange.
struct Witness {
    seen: Arc<Mutex<HashMap<String, usize>>>,
    consumer: ConsumerHandle,
    bus: RabbitBus,
}

impl Witness {
    async fn start(app: &TestApp) -> Witness {
        let stack = app.stack.as_ref().unwrap();
        let bus = RabbitBus::connect(&stack.vhost.url(), "witness")
            .await
            .unwrap();
        let seen: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let sink = seen.clone();
        let consumer = bus
            .consume(
                WITNESS_QUEUE,
                &["payment.*", "session.*"],
                handler_fn(move |msg| {
                    let sink = sink.clone();
                    async move {
                        *sink.lock().unwrap().entry(msg.id).or_default() += 1;
                        Ok(Value::Null)
                    }
                }),
                ConsumerOptions::default(),
            )
            .await
            .unwrap();
        Witness {
            seen,
            consumer,
            bus,
        }
    }

    fn ids(&self) -> HashSet<String> {
        self.seen.lock().unwrap().keys().cloned().collect()
    }

    async fn stop(self) {
        self.consumer.shutdown().await;
        self.bus.close().await;
    }
}

/// Every payment of `references` exists once with one attempt and one
/// `payment.pending` event; the payment count is exactly what was created; every
/// outbox row ends up published and seen by the witness, which sees nothing else.
async fn assert_nothing_lost_or_doubled(
    app: &TestApp,
    references: &[String],
    expected_payments: i64,
    witness: &Witness,
) {
    let unique: HashSet<&String> = references.iter().collect();
    assert_eq!(
        unique.len(),
        references.len(),
        "one payment per idempotency key"
    );
    assert_eq!(
        app.store
            .count_payments(&app.project_id, "test")
            .await
            .unwrap(),
        expected_payments,
        "no payment lost, none created twice"
    );
    let mut event_ids = HashSet::new();
    for reference in references {
        let payment = app
            .store
            .get_payment_by_reference(reference)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{reference} stored"));
        assert_eq!(payment.status, "PENDING");
        let attempts = app.store.list_attempts(&payment.id).await.unwrap();
        assert_eq!(attempts.len(), 1, "{reference}: exactly one attempt");
        let outbox = app.store.list_outbox(&payment.id).await.unwrap();
        let pending = outbox
            .iter()
            .filter(|o| o.kind == "payment.pending")
            .count();
        assert_eq!(pending, 1, "{reference}: one payment.pending event");
        event_ids.extend(outbox.into_iter().map(|o| o.id));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (backlog, _) = app.store.outbox_backlog().await.unwrap();
        let seen = witness.ids();
        if backlog == 0 && event_ids.is_subset(&seen) {
            let unknown: Vec<_> = seen.difference(&event_ids).collect();
            assert!(unknown.is_empty(), "events nobody wrote: {unknown:?}");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "outbox backlog {backlog}; events never delivered: {:?}",
            event_ids.difference(&seen).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Creates `n` payments, `concurrency` at a time, while `disruption` runs after
/// `delay`; returns their references.
async fn payments_during<F>(
    app: &TestApp,
    tag: &str,
    n: usize,
    delay: Duration,
    disruption: F,
) -> Vec<String>
where
    F: std::future::Future<Output = ()>,
{
    let work = async {
        let mut refs = Vec::new();
        let mut batch = Vec::new();
        for i in 0..n {
            let key = format!("{tag}-{i}");
            batch.push(async move {
                let body = payment_body(i);
                let r = initiate_until_done(app, &key, &body).await;
                r["data"]["reference"].as_str().unwrap().to_owned()
            });
            if batch.len() == 8 {
                refs.extend(futures::future::join_all(batch.drain(..)).await);
            }
        }
        refs.extend(futures::future::join_all(batch).await);
        refs
    };
    let disrupt = async {
        tokio::time::sleep(delay).await;
        disruption.await;
    };
    let (refs, ()) = tokio::join!(work, disrupt);
    refs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL, RabbitMQ and Redis; run with -- --ignored"]
async fn payments_replica_killed_mid_flight() {
    let app = TestApp::spawn(Backend::Distributed).await.unwrap();
    let stack = app.stack.as_ref().unwrap();
    let witness = Witness::start(&app).await;
    let refs = payments_during(&app, "kill", 60, Duration::from_millis(300), async {
        stack.kill("payments", 0).await.unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        stack.restart("payments", 0).await.unwrap();
    })
    .await;
    // Then the other replica dies too, and the restarted one carries on alone.
    stack.kill("payments", 1).await.unwrap();
    let more = payments_during(&app, "kill-2", 10, Duration::ZERO, async {}).await;
    let all: Vec<String> = refs.into_iter().chain(more).collect();
    assert_nothing_lost_or_doubled(&app, &all, 70, &witness).await;
    // Replaying a key now returns the same payment, not a new one.
    let again = initiate_until_done(&app, "kill-0", &payment_body(0)).await;
    assert_eq!(again["data"]["reference"].as_str().unwrap(), all[0]);
    witness.stop().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL, RabbitMQ and Redis; run with -- --ignored"]
async fn broker_drops_every_connection() {
    let app = TestApp::spawn(Backend::Distributed).await.unwrap();
    let stack = app.stack.as_ref().unwrap();
    let witness = Witness::start(&app).await;
    let vhost = stack.vhost.name.clone();
    let refs = payments_during(&app, "broker", 40, Duration::from_millis(300), async {
        // A real outage: connections dropped and refused for two seconds.
        nexpay_testkit::rabbit::ctl(&["clear_permissions", "-p", &vhost, "guest"])
            .await
            .unwrap();
        stack.close_broker_connections().await.unwrap();
        tokio::time::sleep(Duration::from_secs(2)).await;
        nexpay_testkit::rabbit::ctl(&["set_permissions", "-p", &vhost, "guest", ".*", ".*", ".*"])
            .await
            .unwrap();
    })
    .await;
    // Every service reconnected: each is ready again.
    for (service, _, replicas) in nexpay_testkit::distributed::SERVICES {
        for i in 0..*replicas {
            let url = format!("{}/health/ready", stack.url_of(service, i).unwrap());
            let deadline = Instant::now() + Duration::from_secs(30);
            while !reqwest::get(&url)
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                assert!(
                    Instant::now() < deadline,
                    "{service} #{i} never reconnected"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    let more = payments_during(&app, "broker-after", 10, Duration::ZERO, async {}).await;
    let all: Vec<String> = refs.into_iter().chain(more).collect();
    // The witness itself was disconnected too; its bus reconnects and resumes.
    assert_nothing_lost_or_doubled(&app, &all, 50, &witness).await;
    witness.stop().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL, RabbitMQ and Redis; run with -- --ignored"]
async fn database_terminates_the_backends() {
    let app = TestApp::spawn(Backend::Distributed).await.unwrap();
    let stack = app.stack.as_ref().unwrap();
    let witness = Witness::start(&app).await;
    let refs = payments_during(&app, "pg", 40, Duration::from_millis(300), async {
        for _ in 0..3 {
            let n = stack.terminate_database_backends().await.unwrap();
            assert!(n > 0, "the services hold database connections");
            tokio::time::sleep(Duration::from_millis(400)).await;
        }
    })
    .await;
    // Pools recovered: a plain read answers at once, without retries.
    let r = app
        .client
        .get(app.url(&format!(
            "/api/v1/payment/session/{}",
            "cs_0000000000000000000000000000000000000000"
        )))
        .header("x-api-key", &app.read_key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "a clean answer from a recovered pool");
    let more = payments_during(&app, "pg-after", 10, Duration::ZERO, async {}).await;
    let all: Vec<String> = refs.into_iter().chain(more).collect();
    assert_nothing_lost_or_doubled(&app, &all, 50, &witness).await;
    witness.stop().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL, RabbitMQ and Redis; run with -- --ignored"]
async fn redis_stops_answering() {
    let app = TestApp::spawn_with(
        Backend::Distributed,
        &[("RATE_LIMIT_PER_SEC", "2"), ("RATE_LIMIT_BURST", "5")],
    )
    .await
    .unwrap();
    let stack = app.stack.as_ref().unwrap();
    let witness = Witness::start(&app).await;
    let gateway_ready = format!("{}/health/ready", stack.url_of("gateway", 0).unwrap());

    // With Redis, the shared bucket refuses a burst beyond its capacity.
    let burst = burst_statuses(&app, 12).await;
    assert!(
        burst.contains(&429),
        "rate limited with Redis up: {burst:?}"
    );

    stack.cut_redis().await;
    // Payments keep working and rate limiting fails open: no 429, no error.
    let started = Instant::now();
    let mut refs = Vec::new();
    for i in 0..12 {
        let r = app
            .client
            .post(app.url("/api/v1/payment/initiate"))
            .header("x-api-key", &app.write_key)
            .header("Idempotency-Key", format!("redis-{i}"))
            .json(&payment_body(i))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap();
        assert_eq!(status, 200, "served with Redis down: {body}");
        refs.push(body["data"]["reference"].as_str().unwrap().to_owned());
    }
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "a Redis outage must not stall requests: {:?}",
        started.elapsed()
    );
    let ready: Value = reqwest::get(&gateway_ready)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["status"], json!("ok"), "still ready: {ready}");
    assert_eq!(ready["cache"], json!("degraded"), "{ready}");

    // Recovery is automatic.
    stack.restore_redis().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready: Value = reqwest::get(&gateway_ready)
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if ready["cache"] == json!("ok") {
            break;
        }
        assert!(Instant::now() < deadline, "cache never recovered: {ready}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The shared bucket applies again (each replica retries the cache once its short
    // back-off after the outage has passed).
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let burst = burst_statuses(&app, 12).await;
        if burst.contains(&429) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "rate limited again after recovery: {burst:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    assert_nothing_lost_or_doubled(&app, &refs, 12, &witness).await;
    witness.stop().await;
    app.stop().await;
}

/// Session creations fired at once; their statuses.
async fn burst_statuses(app: &TestApp, n: usize) -> Vec<u16> {
    let calls = (0..n).map(|_| async {
        app.client
            .get(app.url("/api/v1/payment/session/cs_0000000000000000000000000000000000000000"))
            .header("x-api-key", &app.read_key)
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    });
    futures::future::join_all(calls).await
}

/// A merchant endpoint of the stack's test project, written straight to the store with
/// the stack's WEBHOOK_SECRETS_KEY; returns its secret.
async fn test_endpoint(app: &TestApp, url: &str) -> (String, String) {
    use nexpay_security::{Keyring, SealingKey};
    let pairs = vec![(
        "NEXPAY_DATA_DIR".to_string(),
        app.data_dir.display().to_string(),
    )];
    let config = nexpay_config::Config::load(nexpay_config::Source::from_pairs(pairs)).unwrap();
    let key = config.webhook_secrets_key.unwrap();
    let keyring = Keyring::new(SealingKey::from_base64(key.expose()).unwrap(), Vec::new());
    let id = format!("whe_{}", nexpay_security::random_base62(24));
    let secret = nexpay_webhook_signing::generate_secret();
    let at = nexpay_store::now();
    app.store
        .insert_webhook_endpoint(&nexpay_store::WebhookEndpointRow::new(
            id.clone(),
            &app.project_id,
            "test",
            url,
            keyring.seal(secret.as_bytes(), &nexpay_webhook_signing::secret_aad(&id)),
            secret[secret.len() - 4..].to_owned(),
            at,
        ))
        .await
        .unwrap();
    (id, secret)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL, RabbitMQ and Redis; run with -- --ignored"]
async fn dispatchers_killed_mid_delivery() {
    use nexpay_testkit::receiver::{Receiver, Reply};
    // A lease of WEBHOOK_TIMEOUT + 10 s: a delivery cut off by a kill is claimed again
    // 13 s after it was first claimed.
    let app = TestApp::spawn_with(Backend::Distributed, &[("WEBHOOK_TIMEOUT", "3s")])
        .await
        .unwrap();
    let stack = app.stack.as_ref().unwrap();
    let receiver = Receiver::start(vec![Reply::Hang(Duration::from_secs(30))]).unwrap();
    let (endpoint_id, secret) = test_endpoint(&app, &receiver.url).await;

    let first = initiate_until_done(&app, "dispatch-kill-1", &payment_body(1)).await;
    let got = receiver.wait_for(1, Duration::from_secs(15)).await;
    assert_eq!(got.len(), 1, "the first attempt is in flight");
    // Every dispatcher dies while the receiver still holds the request.
    stack.kill("webhook-dispatcher", 0).await.unwrap();
    stack.kill("webhook-dispatcher", 1).await.unwrap();
    // An event published meanwhile waits in the dispatchers' durable queue.
    let second = initiate_until_done(&app, "dispatch-kill-2", &payment_body(2)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    stack.restart("webhook-dispatcher", 0).await.unwrap();
    stack.restart("webhook-dispatcher", 1).await.unwrap();

    // Both events are delivered; the cut-off one at most twice, with one webhook-id.
    let got = receiver.wait_for(3, Duration::from_secs(40)).await;
    let mut by_reference: HashMap<String, Vec<String>> = HashMap::new();
    for r in &got {
        assert!(nexpay_webhook_signing::verify_legacy(
            &secret,
            r.header("x-webhook-secret").unwrap_or_default(),
            &r.body
        ));
        by_reference
            .entry(r.json()["data"]["reference"].as_str().unwrap().to_owned())
            .or_default()
            .push(r.header("webhook-id").unwrap().to_owned());
    }
    for payment in [&first, &second] {
        let reference = payment["data"]["reference"].as_str().unwrap();
        let ids = by_reference.get(reference).cloned().unwrap_or_default();
        assert!(
            !ids.is_empty(),
            "{reference} was delivered: {by_reference:?}"
        );
        assert!(ids.len() <= 2, "{reference}: {ids:?}");
        assert!(ids.iter().all(|i| *i == ids[0]), "one webhook-id: {ids:?}");
    }
    // The receiver has answered; the dispatcher records the attempt just after.
    let settled = nexpay_testkit::eventually(Duration::from_secs(15), || async {
        let deliveries = app
            .store
            .list_webhook_deliveries(&endpoint_id, None, 10)
            .await
            .unwrap();
        deliveries
            .iter()
            .all(|d| d.status == "succeeded")
            .then_some(deliveries)
    })
    .await;
    let deliveries = match settled {
        Some(d) => d,
        None => app
            .store
            .list_webhook_deliveries(&endpoint_id, None, 10)
            .await
            .unwrap(),
    };
    assert_eq!(deliveries.len(), 2, "{deliveries:?}");
    assert!(
        deliveries.iter().all(|d| d.status == "succeeded"),
        "{deliveries:?}"
    );
    // The restarted dispatchers count what they delivered on /metrics.
    let mut delivered = 0.0;
    for i in 0..2 {
        let text = stack.metrics("webhook-dispatcher", i).await.unwrap();
        delivered += text
            .lines()
            .filter(|l| l.starts_with("nexpay_webhook_attempts_total") && l.contains("delivered"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>();
    }
    assert!(delivered >= 2.0, "{delivered}");
    app.stop().await;
}
