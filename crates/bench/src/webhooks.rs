//! `--scenario webhooks`: merchant webhook delivery by webhook-dispatcher, to a
//! receiver in this process (a minimal HTTP/1.1 keep-alive server answering 200).
//!
//! 1. Throughput: `--webhook-deliveries` deliveries of one test-mode endpoint are
//!    written to the store as failed, then made due all at once with the admin's
//!    "resend failed" operation (one statement). The figure is the number delivered
//!    over the time from that statement to the last arrival at the receiver, every
//!    delivery then being checked `succeeded` in the store. With `--distributed`, the
//!    phase runs with each replica count of `--dispatchers` (replicas are added
//!    between phases).
//! 2. End to end, provider webhook → merchant webhook, under load: while
//!    `--webhook-load` deliveries per second fall due for a second endpoint of the
//!    same receiver (written before the phase, due times spaced evenly over
//!    [`LOAD_WINDOW`]; live mode, so the test payments' events do not go to it),
//!    `--webhook-payments` Wave test payments are approved on the simulator's payer
//!    page by `--webhook-parallel` workers. For each, the latency runs from the Wave
//!    webhook's `received_at` (`provider_webhooks`, written by provider-adapter when it
//!    stores the call) to the arrival of the merchant's `payment.succeeded` at the
//!    receiver, also split in three steps ([`STEPS`]) from the rows each step wrote.
//!    Same machine, same clock.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::NaiveDateTime;
use nexpay_store::{Store, WebhookDeliveryRow, WebhookEndpointRow};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::providers::Dist;
use crate::stats::{CpuSnapshot, CpuUse};

/// How long the background load of phase 2 lasts (its deliveries fall due over this
/// window from the start of the phase; the approvals must end within it).
pub const LOAD_WINDOW: Duration = Duration::from_secs(20);
/// Between writing the load and its first due time.
const LOAD_LEAD: Duration = Duration::from_secs(15);

pub struct Wiring {
    pub api_base: String,
    pub write_key: String,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub deliveries: usize,
    pub load_per_sec: usize,
    pub payments: usize,
    pub parallel: usize,
}

/// One request as the receiver saw it.
struct Arrival {
    at: Instant,
    wall: NaiveDateTime,
    body: Vec<u8>,
}

/// The merchant's receiver.
pub struct Receiver {
    pub url: String,
    arrivals: Arc<Mutex<Vec<Arrival>>>,
    count: Arc<AtomicUsize>,
}

impl Receiver {
    pub async fn start() -> anyhow::Result<Receiver> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/hook", listener.local_addr()?);
        let arrivals: Arc<Mutex<Vec<Arrival>>> = Arc::default();
        let count = Arc::new(AtomicUsize::new(0));
        let (sink, counter) = (arrivals.clone(), count.clone());
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let _ = sock.set_nodelay(true);
                tokio::spawn(connection(sock, sink.clone(), counter.clone()));
            }
        });
        Ok(Receiver {
            url,
            arrivals,
            count,
        })
    }

    fn count(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    fn take(&self) -> Vec<Arrival> {
        std::mem::take(&mut *self.arrivals.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

async fn connection(
    mut sock: tokio::net::TcpStream,
    sink: Arc<Mutex<Vec<Arrival>>>,
    count: Arc<AtomicUsize>,
) {
    let mut buf: Vec<u8> = Vec::with_capacity(16 * 1024);
    loop {
        let head_end = loop {
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
            match sock.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + len {
            match sock.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
        let body = buf[head_end..head_end + len].to_vec();
        buf.drain(..head_end + len);
        sink.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arrival {
                at: Instant::now(),
                wall: chrono::Utc::now().naive_utc(),
                body,
            });
        count.fetch_add(1, Ordering::Relaxed);
        if sock
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            .await
            .is_err()
        {
            return;
        }
    }
}

/// A test-mode endpoint of the default project pointing at the receiver, sealed with
/// the instance's WEBHOOK_SECRETS_KEY (read from its data directory).
pub async fn create_endpoint(
    store: &Store,
    data_dir: &std::path::Path,
    url: &str,
    mode: &str,
) -> anyhow::Result<WebhookEndpointRow> {
    let pairs = vec![(
        "NEXPAY_DATA_DIR".to_string(),
        data_dir.display().to_string(),
    )];
    let config = nexpay_config::Config::load_for(
        nexpay_config::Source::from_pairs(pairs),
        nexpay_config::Keys {
            encryption: false,
            webhook_secrets: true,
        },
    )?;
    let key = config
        .webhook_secrets_key
        .ok_or_else(|| anyhow::anyhow!("no WEBHOOK_SECRETS_KEY in {}", data_dir.display()))?;
    let keyring = nexpay_security::Keyring::new(
        nexpay_security::SealingKey::from_base64(key.expose())?,
        Vec::new(),
    );
    let project = store
        .default_project()
        .await?
        .ok_or_else(|| anyhow::anyhow!("no default project"))?;
    let id = format!("whe_bench{}", nexpay_security::random_base62(16));
    let secret = nexpay_webhook_signing::generate_secret();
    let at = nexpay_store::now();
    let row = WebhookEndpointRow {
        description: Some("benchmark receiver".into()),
        ..WebhookEndpointRow::new(
            id.clone(),
            &project.id,
            mode,
            url,
            keyring.seal(secret.as_bytes(), &nexpay_webhook_signing::secret_aad(&id)),
            secret[secret.len() - 4..].to_owned(),
            at,
        )
    };
    store.insert_webhook_endpoint(&row).await?;
    Ok(row)
}

/// A delivery row with a realistic body (about 600 bytes).
fn synthetic(
    endpoint: &WebhookEndpointRow,
    tag: &str,
    i: usize,
    status: &str,
) -> WebhookDeliveryRow {
    let at = nexpay_store::now();
    let event_id = format!("evt_bench_{tag}_{i}");
    let reference = format!("NEXPAY_TX_BENCH{tag}{i:08}");
    let body = json!({
        "type": "payment.succeeded",
        "data": {
            "amount": "10000", "client_reference": format!("ORDER-{i}"), "status": "SUCCEEDED",
            "resolvedAt": "2026-11-27T10:00:00.000Z",
            "payer": {"name": "Mouhamed Baba", "email": "customer@example.com", "phone": "+221771234567"},
            "provider": {"name": "Wave", "code": "wave"},
            "project": {"id": endpoint.project_id, "name": "Default project"},
            "metadata": {"order_id": format!("ORDER-{i}")},
            "reference": reference, "sessionId": null, "currency": "XOF", "mode": "test", "late": false
        },
        "id": event_id,
        "created_at": "2026-11-27T10:00:00.000Z"
    });
    let mut row = WebhookDeliveryRow::due(
        format!("whd_bench_{tag}_{i}"),
        endpoint,
        event_id,
        "payment.succeeded",
        reference,
        nexpay_webhook_signing::js_compact(&body),
        at,
    );
    row.status = status.into();
    row.next_attempt_at = (status == "pending").then_some(at);
    row
}

pub struct Throughput {
    pub dispatchers: usize,
    pub deliveries: usize,
    pub delivered: usize,
    pub seconds: f64,
    pub first_ms: f64,
    pub cpu: CpuUse,
    pub stored_succeeded: usize,
}

impl Throughput {
    pub fn rate(&self) -> f64 {
        self.delivered as f64 / self.seconds
    }
}

/// Phase 1 with the dispatchers running now.
pub async fn throughput(
    store: &Store,
    endpoint: &WebhookEndpointRow,
    receiver: &Receiver,
    n: usize,
    dispatchers: usize,
    pids: &[u32],
    tag: &str,
) -> anyhow::Result<Throughput> {
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let rows: Vec<WebhookDeliveryRow> = chunk
            .iter()
            .map(|&i| synthetic(endpoint, tag, i, "failed"))
            .collect();
        store.insert_webhook_deliveries(&rows).await?;
    }
    receiver.take();
    let before = receiver.count();
    let since = nexpay_store::now() - chrono::Duration::minutes(10);
    let cpu0 = CpuSnapshot::take(pids);
    let started = Instant::now();
    let resent = store
        .resend_failed_webhook_deliveries(&endpoint.id, since)
        .await?;
    anyhow::ensure!(resent == n, "{resent} deliveries made due, expected {n}");
    let deadline = started + Duration::from_secs(300);
    while receiver.count() - before < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let cpu = cpu0.until(&CpuSnapshot::take(pids));
    let arrivals = receiver.take();
    let last = arrivals.iter().map(|a| a.at).max().unwrap_or(started);
    let first = arrivals.iter().map(|a| a.at).min().unwrap_or(started);
    // Let the last attempts be recorded.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stored_succeeded = store
        .list_webhook_deliveries(&endpoint.id, Some("succeeded"), (n * 4) as i64 + 10)
        .await?
        .iter()
        .filter(|d| d.id.starts_with(&format!("whd_bench_{tag}_")))
        .count();
    Ok(Throughput {
        dispatchers,
        deliveries: n,
        delivered: arrivals.len(),
        seconds: (last - started).as_secs_f64(),
        first_ms: (first - started).as_secs_f64() * 1000.0,
        cpu,
        stored_succeeded,
    })
}

pub struct EndToEnd {
    pub dispatchers: usize,
    pub payments: usize,
    pub parallel: usize,
    pub load_per_sec: usize,
    /// Background deliveries that arrived during the phase, per second.
    pub load_delivered_per_sec: f64,
    /// Provider webhook stored → merchant payment.succeeded received.
    pub latency: Dist,
    /// The latency in three steps (see [`STEPS`]).
    pub steps: [Dist; 3],
    pub missing: usize,
    /// From the first approval to the last merchant webhook.
    pub seconds: f64,
}

/// The end-to-end latency in three steps, from the rows each step wrote: provider
/// webhook stored → payment resolved (the processor's claim, the status check with the
/// simulator, payments' transaction); → delivery written (the outbox relay, the bus, the
/// fan-out); → arrival at the receiver (the fast lane, signing, the HTTP post).
pub const STEPS: [&str; 3] = [
    "webhook stored → payment resolved",
    "payment resolved → delivery written",
    "delivery written → received",
];

#[derive(Default)]
struct Steps {
    resolved: Vec<f64>,
    written: Vec<f64>,
    sent: Vec<f64>,
}

fn ms(d: chrono::Duration) -> f64 {
    d.num_microseconds()
        .map_or(f64::NAN, |us| us as f64 / 1000.0)
}

/// Phase 2.
pub async fn end_to_end(
    w: &Wiring,
    store: &Store,
    load_endpoint: &WebhookEndpointRow,
    receiver: &Receiver,
    opts: &Options,
    dispatchers: usize,
) -> anyhow::Result<EndToEnd> {
    let created = crate::providers::create_payments_for(
        &w.api_base,
        &w.write_key,
        opts.payments,
        opts.parallel,
    )
    .await?;
    // Their payment.pending events arrive first; start clean.
    tokio::time::sleep(Duration::from_secs(1)).await;
    receiver.take();

    // The background load, written now, before the clock starts: the phase itself
    // writes nothing to the database from this process. (With SQLite, a second process
    // writing waits on the file lock in the busy handler's sleeps: that would measure
    // the benchmark, not NexPay.) The dispatcher's claim loop meets these deliveries as
    // a paced stream of due retries.
    let lead_until = Instant::now() + LOAD_LEAD;
    let first_due = nexpay_store::now() + chrono::Duration::from_std(LOAD_LEAD)?;
    let total = opts.load_per_sec * LOAD_WINDOW.as_secs() as usize;
    let tag = format!("load{dispatchers}");
    for chunk in (0..total).collect::<Vec<_>>().chunks(500) {
        let rows: Vec<WebhookDeliveryRow> = chunk
            .iter()
            .map(|&k| {
                let mut row = synthetic(load_endpoint, &tag, k, "pending");
                let offset_us = (k as f64 * 1e6 / opts.load_per_sec as f64) as i64;
                row.next_attempt_at = Some(first_due + chrono::Duration::microseconds(offset_us));
                row
            })
            .collect();
        store.insert_webhook_deliveries(&rows).await?;
    }
    anyhow::ensure!(
        Instant::now() < lead_until,
        "writing {total} load deliveries took longer than {LOAD_LEAD:?}"
    );
    tokio::time::sleep_until(lead_until.into()).await;
    // Let the load reach its pace.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let created = Arc::new(created);
    let workers: Vec<_> = (0..opts.parallel.max(1))
        .map(|_| {
            let (created, next) = (created.clone(), next.clone());
            tokio::spawn(async move {
                let client = reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .timeout(Duration::from_secs(30))
                    .build()
                    .expect("a default client builds");
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(c) = created.get(i) else { return };
                    let answer = client
                        .post(format!("{}/approve", c.page))
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body("")
                        .send()
                        .await;
                    if !answer.is_ok_and(|r| r.status().as_u16() == 303) {
                        eprintln!("approving {} failed", c.reference);
                    }
                    // One approval every ~20 ms per worker keeps the flow steady.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
        })
        .collect();
    for w in workers {
        w.await?;
    }
    // Wait for the merchant webhooks of every payment.
    let wanted: HashMap<String, String> = created
        .iter()
        .map(|c| (c.reference.clone(), c.cos.clone()))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    // Reference → (arrival, the event's id).
    let mut arrived: HashMap<String, (NaiveDateTime, String)> = HashMap::new();
    let mut load_arrivals = 0usize;
    let mut last_load = started;
    while arrived.len() < wanted.len() && Instant::now() < deadline {
        for a in receiver.take() {
            let v: Value = serde_json::from_slice(&a.body).unwrap_or(Value::Null);
            let reference = v["data"]["reference"].as_str().unwrap_or_default();
            if wanted.contains_key(reference) {
                if v["type"] == json!("payment.succeeded") {
                    let event_id = v["id"].as_str().unwrap_or_default().to_owned();
                    arrived
                        .entry(reference.to_owned())
                        .or_insert((a.wall, event_id));
                }
            } else if a.at >= started {
                load_arrivals += 1;
                last_load = last_load.max(a.at);
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    if started.elapsed() + Duration::from_secs(1) > LOAD_WINDOW {
        eprintln!("  note: the phase outlasted the background load ({LOAD_WINDOW:?})");
    }
    // What is left of the load is failed with its endpoint.
    store.delete_webhook_endpoint(&load_endpoint.id).await?;
    let hooks = store
        .list_provider_webhooks("wave", (opts.payments * 4 + 100) as i64)
        .await?;
    let mut received: HashMap<String, NaiveDateTime> = HashMap::new();
    for h in hooks.iter().filter(|h| h.verified) {
        if let Some(id) = &h.provider_id {
            let e = received.entry(id.clone()).or_insert(h.received_at);
            *e = (*e).min(h.received_at);
        }
    }
    let mut latency = Vec::new();
    let mut steps = Steps::default();
    let mut missing = 0;
    for (reference, cos) in &wanted {
        match (arrived.get(reference), received.get(cos)) {
            (Some((at, event_id)), Some(stored)) => {
                latency.push(ms(*at - *stored));
                // Where the time went, from the rows each step wrote.
                let resolved = store
                    .get_payment_by_reference(reference)
                    .await?
                    .and_then(|p| p.resolved_at);
                let written = store
                    .list_event_deliveries(event_id)
                    .await?
                    .into_iter()
                    .map(|d| d.created_at)
                    .min();
                if let (Some(resolved), Some(written)) = (resolved, written) {
                    steps.resolved.push(ms(resolved - *stored));
                    steps.written.push(ms(written - resolved));
                    steps.sent.push(ms(*at - written));
                }
            }
            _ => missing += 1,
        }
    }
    Ok(EndToEnd {
        dispatchers,
        payments: opts.payments,
        parallel: opts.parallel,
        load_per_sec: opts.load_per_sec,
        load_delivered_per_sec: load_arrivals as f64
            / (last_load - started).as_secs_f64().max(0.001),
        latency: Dist::from_samples(latency),
        steps: [
            Dist::from_samples(steps.resolved),
            Dist::from_samples(steps.written),
            Dist::from_samples(steps.sent),
        ],
        missing,
        seconds,
    })
}

pub async fn connect(url: &str) -> anyhow::Result<Store> {
    Store::connect(url, 8)
        .await
        .context("connecting to the product's database")
}

pub fn print(wiring: &str, command: &str, throughput: &[Throughput], e2e: &[EndToEnd]) {
    println!("\n--- markdown for docs/benchmarks.md ---");
    println!(
        "#### {wiring} — {}\n",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    println!("- Command: `{command}`\n");
    println!("| dispatchers | deliveries | delivered | deliveries/s | first arrival ms | stored succeeded | NexPay CPU (cores) | machine CPU |");
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for t in throughput {
        println!(
            "| {} | {} | {} | {:.0} | {:.1} | {} | {:.2} | {:.2} |",
            t.dispatchers,
            t.deliveries,
            t.delivered,
            t.rate(),
            t.first_ms,
            t.stored_succeeded,
            t.cpu.server_cores.unwrap_or(f64::NAN),
            t.cpu.machine_cores
        );
    }
    println!();
    println!("| dispatchers | payments | approvals in flight | background load asked/s | background delivered/s | p50 ms | p99 ms | max ms | missing | seconds |");
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for e in e2e {
        println!(
            "| {} | {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {} | {:.1} |",
            e.dispatchers,
            e.payments,
            e.parallel,
            e.load_per_sec,
            e.load_delivered_per_sec,
            e.latency.q(0.5),
            e.latency.q(0.99),
            e.latency.max(),
            e.missing,
            e.seconds
        );
    }
    println!();
    println!("| dispatchers | step | p50 ms | p99 ms | max ms |");
    println!("| ---: | --- | ---: | ---: | ---: |");
    for e in e2e {
        for (name, d) in STEPS.iter().zip(&e.steps) {
            println!(
                "| {} | {name} | {:.2} | {:.2} | {:.2} |",
                e.dispatchers,
                d.q(0.5),
                d.q(0.99),
                d.max()
            );
        }
    }
    println!("\n--- end ---");
}
