//! The HTTP phases: N workers, each a tokio task with its own keep-alive client (so one
//! TCP connection per worker), sending back-to-back requests for warm-up + duration.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::stats::{PhaseResult, Recorder, Window};

/// Session ids kept for the read phase, at most.
const MAX_IDS: usize = 200_000;

#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub concurrency: usize,
    pub warmup: Duration,
    pub duration: Duration,
    /// The process whose CPU use is sampled besides this one's.
    pub server_pid: Option<u32>,
}

/// Runs `worker(i, window)` on `concurrency` tasks and merges what they return.
pub async fn run_workers<T, W, Fut>(timing: Timing, worker: W) -> anyhow::Result<(Recorder, Vec<T>)>
where
    W: Fn(usize, Window) -> Fut,
    Fut: Future<Output = (Recorder, T)> + Send + 'static,
    T: Send + 'static,
{
    run_workers_of(timing, timing.server_pid.into_iter().collect(), worker).await
}

/// [`run_workers`] with the server CPU summed over `server_pids` (several processes).
pub async fn run_workers_of<T, W, Fut>(
    timing: Timing,
    server_pids: Vec<u32>,
    worker: W,
) -> anyhow::Result<(Recorder, Vec<T>)>
where
    W: Fn(usize, Window) -> Fut,
    Fut: Future<Output = (Recorder, T)> + Send + 'static,
    T: Send + 'static,
{
    let window = Window::starting_now(timing.warmup, timing.duration);
    let cpu = tokio::spawn(crate::stats::sample_cpu_of(window, server_pids));
    let handles: Vec<_> = (0..timing.concurrency)
        .map(|i| tokio::spawn(worker(i, window)))
        .collect();
    let mut total = Recorder::new();
    let mut extras = Vec::with_capacity(handles.len());
    for h in handles {
        let (rec, extra) = h.await?;
        total.merge(rec);
        extras.push(extra);
    }
    total.cpu = cpu.await?;
    Ok((total, extras))
}

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a client with default TLS settings builds")
}

/// The body on success, else the kind of failure ("HTTP 503", "timeout", ...).
pub(crate) async fn exchange(req: reqwest::RequestBuilder) -> Result<Vec<u8>, String> {
    let resp = req.send().await.map_err(|e| transport_kind(&e))?;
    let status = resp.status();
    let body = resp.bytes().await.map_err(|e| transport_kind(&e))?;
    if status.as_u16() == 200 {
        Ok(body.to_vec())
    } else {
        Err(format!("HTTP {}", status.as_u16()))
    }
}

fn transport_kind(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timeout".to_owned()
    } else if e.is_connect() {
        "connect error".to_owned()
    } else {
        format!("transport error ({e})")
    }
}

/// Records one finished request; after a transport error, pauses briefly so a dead
/// server does not turn the worker into a busy loop.
pub(crate) async fn record(
    rec: &mut Recorder,
    window: &Window,
    started: Instant,
    outcome: &Result<Vec<u8>, String>,
) {
    match outcome {
        Ok(_) if window.counts(started) => rec.ok(started.elapsed()),
        Ok(_) => {}
        Err(kind) => {
            if window.counts(started) {
                rec.error(kind.clone());
            }
            if !kind.starts_with("HTTP") {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

fn session_body(worker: usize, n: u64) -> serde_json::Value {
    json!({
        "amount": 10000,
        "currency": "XOF",
        "customer": {"name": "Mouhamed Baba", "email": "customer@example.com", "phone": "+221771234567"},
        "success_url": "https://shop.example.com/success",
        "cancel_url": "https://shop.example.com/cancel",
        "metadata": {"order_id": format!("BENCH-{worker}-{n}")}
    })
}

fn session_id(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.pointer("/data/sessionId")?.as_str().map(str::to_owned)
}

/// POST /api/v1/payment/session/initiate with the write key. Returns the phase result and
/// the ids of the sessions created (warm-up included), for the read phase.
pub async fn create_sessions(
    base_url: &str,
    write_key: &str,
    timing: Timing,
) -> anyhow::Result<(PhaseResult, Vec<String>)> {
    let url = Arc::new(format!("{base_url}/api/v1/payment/session/initiate"));
    let key = Arc::new(write_key.to_owned());
    let cap = MAX_IDS / timing.concurrency.max(1);
    let (rec, ids) = run_workers(timing, |w, window| {
        let (url, key) = (url.clone(), key.clone());
        async move {
            let client = client();
            let mut rec = Recorder::new();
            let mut ids = Vec::new();
            let mut n = 0u64;
            while !window.over() {
                n += 1;
                let started = Instant::now();
                let req = client
                    .post(url.as_str())
                    .header("x-api-key", key.as_str())
                    .json(&session_body(w, n));
                let outcome = exchange(req).await;
                if let Ok(body) = &outcome {
                    if ids.len() < cap {
                        ids.extend(session_id(body));
                    }
                }
                record(&mut rec, &window, started, &outcome).await;
            }
            (rec, ids)
        }
    })
    .await?;
    Ok((
        rec.finish("session creation", timing.duration),
        ids.into_iter().flatten().collect(),
    ))
}

/// GET /api/v1/payment/session/{id} with the read key, over the ids created before; each
/// worker walks the pool from its own offset.
pub async fn read_sessions(
    base_url: &str,
    read_key: &str,
    ids: Arc<Vec<String>>,
    timing: Timing,
) -> anyhow::Result<PhaseResult> {
    anyhow::ensure!(!ids.is_empty(), "no session was created: nothing to read");
    let base = Arc::new(format!("{base_url}/api/v1/payment/session/"));
    let key = Arc::new(read_key.to_owned());
    let (rec, _) = run_workers(timing, |w, window| {
        let (base, key, ids) = (base.clone(), key.clone(), ids.clone());
        async move {
            let client = client();
            let mut rec = Recorder::new();
            let mut i = w * ids.len() / timing.concurrency.max(1);
            while !window.over() {
                let url = format!("{base}{}", ids[i % ids.len()]);
                i += 1;
                let started = Instant::now();
                let outcome = exchange(client.get(url).header("x-api-key", key.as_str())).await;
                record(&mut rec, &window, started, &outcome).await;
            }
            (rec, ())
        }
    })
    .await?;
    Ok(rec.finish("session read", timing.duration))
}

/// GET /health/live: no key, no database. What HTTP alone costs on this machine with
/// this load generator, to read the other figures against.
pub async fn http_baseline(base_url: &str, timing: Timing) -> anyhow::Result<PhaseResult> {
    let url = Arc::new(format!("{base_url}/health/live"));
    let (rec, _) = run_workers(timing, |_, window| {
        let url = url.clone();
        async move {
            let client = client();
            let mut rec = Recorder::new();
            while !window.over() {
                let started = Instant::now();
                let outcome = exchange(client.get(url.as_str())).await;
                record(&mut rec, &window, started, &outcome).await;
            }
            (rec, ())
        }
    })
    .await?;
    Ok(rec.finish("HTTP baseline (GET /health/live)", timing.duration))
}
