//! `--scenario providers`: the test-mode provider flow through the real Wave connector
//! and the built-in Wave simulator (`/sandbox/wave`), on either wiring.
//!
//! 1. Webhook → state latency: `--webhook-payments` direct Wave payments are created,
//!    then approved on the simulator's payer page (`POST <launch page>/approve`) by
//!    `--webhook-parallel` workers, one payment at a time each. The simulator sends its
//!    signed webhook to `/api/v1/webhook/wave`; provider-adapter stores it, confirms the
//!    status with the simulator and payments marks the payment SUCCEEDED. The latency
//!    is taken from the approve call's answer to the `created_at` of the payment's
//!    SUCCEEDED history row (`payment_events`, written in the transaction that changes
//!    the status), and, as a cross-check, to the moment a store poll every
//!    `--poll-ms` first sees SUCCEEDED. The webhook's `received_at`
//!    (`provider_webhooks`) splits it into delivery and processing. Same machine, same
//!    clock.
//! 2. Initiation: `POST /api/v1/payment/initiate` with `provider_code: "wave"` and the
//!    test write key, back to back, at each `--initiate-concurrency` level (the same
//!    worker model and timing as the session phases).
//!
//! The latency phase runs first: its payments are all resolved within milliseconds,
//! whereas the thousands of PENDING payments the initiation phases leave behind would
//! draw reconciliation's status checks (first one 60 s after each attempt) into a later
//! phase.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::NaiveDateTime;
use nexpay_store::Store;
use serde_json::{json, Value};

use crate::load::{self, run_workers_of, Timing};
use crate::stats::{CpuSnapshot, CpuUse, PhaseResult, Recorder};

/// What the scenario needs from a wiring.
pub struct Wiring {
    /// Where `/api/v1/payment/initiate` answers (the standalone binary or the gateway).
    pub api_base: String,
    /// Where `/sandbox/wave/_sim/...` answers (the standalone binary or the sandbox
    /// service).
    pub sim_base: String,
    pub write_key: String,
    /// The product's database, read by the benchmark as a witness.
    pub database_url: String,
    /// NexPay's processes, whose CPU is summed in the "server" column.
    pub pids: Vec<u32>,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub levels: Vec<usize>,
    pub warmup: Duration,
    pub duration: Duration,
    pub payments: usize,
    pub parallel: usize,
    pub poll: Duration,
    /// Latency phase only: the simulator's API (the status check included) waits this
    /// long before answering each call, like a remote provider would.
    pub sim_api_delay: Duration,
}

/// Giving up on one payment reaching SUCCEEDED.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Sorted samples in milliseconds (signed: a split point may precede the start).
#[derive(Debug, Clone, Default)]
pub struct Dist {
    sorted: Vec<f64>,
}

impl Dist {
    pub fn from_samples(v: Vec<f64>) -> Dist {
        Dist::new(v)
    }

    fn new(mut v: Vec<f64>) -> Dist {
        v.sort_by(f64::total_cmp);
        Dist { sorted: v }
    }

    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// Nearest-rank quantile; NaN when empty.
    pub fn q(&self, q: f64) -> f64 {
        if self.sorted.is_empty() {
            return f64::NAN;
        }
        let rank = (q * self.sorted.len() as f64).ceil() as usize;
        self.sorted[rank.clamp(1, self.sorted.len()) - 1]
    }

    pub fn max(&self) -> f64 {
        self.sorted.last().copied().unwrap_or(f64::NAN)
    }

    pub fn mean(&self) -> f64 {
        if self.sorted.is_empty() {
            f64::NAN
        } else {
            self.sorted.iter().sum::<f64>() / self.sorted.len() as f64
        }
    }
}

pub struct WebhookFigures {
    pub sim_api_delay_ms: u64,
    pub payments: usize,
    pub parallel: usize,
    pub poll_ms: f64,
    /// POST .../approve until its 303.
    pub approve: Dist,
    /// Approve answered → SUCCEEDED history row's `created_at`.
    pub to_succeeded: Dist,
    /// Approve answered → first poll that saw SUCCEEDED.
    pub observed: Dist,
    /// Approve answered → webhook `received_at` (negative: stored before the payer's
    /// answer arrived).
    pub delivery: Dist,
    /// Webhook `received_at` → SUCCEEDED `created_at`.
    pub processing: Dist,
    pub seconds: f64,
    pub cpu: CpuUse,
    /// Failures by kind ("approve HTTP 404", "not SUCCEEDED within 30 s", ...).
    pub errors: Vec<(String, u64)>,
    /// (events, attempts, attempts not answered 2xx) from `/_sim/webhooks/deliveries`.
    pub deliveries: Option<(usize, usize, usize)>,
    /// Webhooks stored per payment beyond the first (duplicates).
    pub extra_webhooks: usize,
}

pub struct Figures {
    pub webhook: WebhookFigures,
    pub initiate: Vec<PhaseResult>,
}

fn payment_body(worker: usize, n: u64) -> Value {
    json!({
        "amount": 10000,
        "currency": "XOF",
        "provider_code": "wave",
        "customer": {"name": "Mouhamed Baba", "email": "customer@example.com", "phone": "+221771234567"},
        "metadata": {"order_id": format!("BENCH-WAVE-{worker}-{n}")}
    })
}

/// A created payment: its reference and the simulator's payer page (launch URL
/// without the query), whose last segment is the Wave session id.
#[derive(Debug, Clone)]
pub struct Created {
    pub reference: String,
    pub page: String,
    pub cos: String,
}

fn parse_created(body: &[u8]) -> anyhow::Result<Created> {
    let v: Value = serde_json::from_slice(body).context("initiate answer is not JSON")?;
    let data = &v["data"];
    let reference = data["reference"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("no data.reference in {v}"))?
        .to_owned();
    let url = data
        .pointer("/checkout_urls/0/url")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow::anyhow!("no data.checkout_urls[0].url in {v}"))?;
    let page = url.split('?').next().unwrap_or(url).to_owned();
    anyhow::ensure!(
        page.contains("/sandbox/wave/c/cos-"),
        "the launch URL is not the Wave simulator's payer page: {url}"
    );
    let cos = page.rsplit('/').next().unwrap_or_default().to_owned();
    Ok(Created {
        reference,
        page,
        cos,
    })
}

/// Both measures, latency first (see the module comment).
pub async fn measure(w: &Wiring, opts: &Options) -> anyhow::Result<Figures> {
    let store = Store::connect(&w.database_url, opts.parallel.max(1) + 1)
        .await
        .context("connecting to the product's database as a witness")?;
    eprintln!(
        "webhook → SUCCEEDED: {} Wave payments, approved {} at a time",
        opts.payments, opts.parallel
    );
    let webhook = webhook_latency(w, opts, &store).await?;
    eprintln!(
        "  p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms over {} payments; errors: {}",
        webhook.to_succeeded.q(0.5),
        webhook.to_succeeded.q(0.99),
        webhook.to_succeeded.max(),
        webhook.to_succeeded.len(),
        errors_text(&webhook.errors)
    );
    let mut initiate = Vec::new();
    for &level in &opts.levels {
        eprintln!(
            "Wave payment initiation: {level} connections, {} s + {} s warm-up",
            opts.duration.as_secs(),
            opts.warmup.as_secs()
        );
        let r = initiate_phase(w, opts, level).await?;
        eprintln!(
            "  {:.0}/s, p50 {:.2} ms, p99 {:.2} ms, errors: {}",
            r.rate(),
            r.p50_ms,
            r.p99_ms,
            r.errors_summary()
        );
        initiate.push(r);
    }
    Ok(Figures { webhook, initiate })
}

fn phase_name(level: usize) -> &'static str {
    // Names are `&'static str` in PhaseResult; the usual levels get a literal, others
    // a leaked string (a handful per run).
    match level {
        8 => "Wave initiation, 8 connections",
        32 => "Wave initiation, 32 connections",
        n => Box::leak(format!("Wave initiation, {n} connections").into_boxed_str()),
    }
}

async fn initiate_phase(w: &Wiring, opts: &Options, level: usize) -> anyhow::Result<PhaseResult> {
    let timing = Timing {
        concurrency: level,
        warmup: opts.warmup,
        duration: opts.duration,
        server_pid: None,
    };
    let url = Arc::new(format!("{}/api/v1/payment/initiate", w.api_base));
    let key = Arc::new(w.write_key.clone());
    let (rec, _) = run_workers_of(timing, w.pids.clone(), |worker, window| {
        let (url, key) = (url.clone(), key.clone());
        async move {
            let client = load::client();
            let mut rec = Recorder::new();
            let mut n = 0u64;
            while !window.over() {
                n += 1;
                let started = Instant::now();
                let req = client
                    .post(url.as_str())
                    .header("x-api-key", key.as_str())
                    .json(&payment_body(worker, n));
                let outcome = load::exchange(req).await;
                load::record(&mut rec, &window, started, &outcome).await;
            }
            (rec, ())
        }
    })
    .await?;
    Ok(rec.finish(phase_name(level), opts.duration))
}

/// Creates `n` payments from `parallel` tasks (not measured).
async fn create_payments(w: &Wiring, n: usize, parallel: usize) -> anyhow::Result<Vec<Created>> {
    create_payments_for(&w.api_base, &w.write_key, n, parallel).await
}

/// [`create_payments`] for any API base and test write key.
pub async fn create_payments_for(
    api_base: &str,
    write_key: &str,
    n: usize,
    parallel: usize,
) -> anyhow::Result<Vec<Created>> {
    let url = Arc::new(format!("{api_base}/api/v1/payment/initiate"));
    let key = Arc::new(write_key.to_owned());
    let next = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..parallel.max(1))
        .map(|worker| {
            let (url, key, next) = (url.clone(), key.clone(), next.clone());
            tokio::spawn(async move {
                let client = load::client();
                let mut out = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n as u64 {
                        return Ok::<_, anyhow::Error>(out);
                    }
                    let req = client
                        .post(url.as_str())
                        .header("x-api-key", key.as_str())
                        .json(&payment_body(1000 + worker, i));
                    let body = load::exchange(req)
                        .await
                        .map_err(|e| anyhow::anyhow!("creating a Wave payment: {e}"))?;
                    out.push(parse_created(&body)?);
                }
            })
        })
        .collect();
    let mut all = Vec::with_capacity(n);
    for t in tasks {
        all.extend(t.await??);
    }
    Ok(all)
}

/// One approved payment, as the worker saw it.
struct Sample {
    created: Created,
    payment_id: String,
    answered_wall: NaiveDateTime,
    approve_ms: f64,
    observed_ms: f64,
}

fn ms_between(from: NaiveDateTime, to: NaiveDateTime) -> f64 {
    (to - from)
        .num_microseconds()
        .map_or(f64::NAN, |us| us as f64 / 1000.0)
}

async fn webhook_latency(
    w: &Wiring,
    opts: &Options,
    store: &Store,
) -> anyhow::Result<WebhookFigures> {
    let created = Arc::new(create_payments(w, opts.payments, opts.parallel).await?);
    let delay_ms = opts.sim_api_delay.as_millis() as u64;
    if delay_ms > 0 {
        sim_faults(&w.sim_base, json!({ "delay_ms": delay_ms })).await?;
    }
    // Let the creation's tail (outbox relay, caches) settle before measuring.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let cpu0 = CpuSnapshot::take(&w.pids);
    let tasks: Vec<_> = (0..opts.parallel.max(1))
        .map(|_| {
            let (created, next, store) = (created.clone(), next.clone(), store.clone());
            let poll = opts.poll;
            tokio::spawn(async move {
                // The payer page answers 303 to the merchant's success URL: not followed.
                let client = reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .pool_max_idle_per_host(1)
                    .tcp_nodelay(true)
                    .timeout(Duration::from_secs(30))
                    .build()
                    .expect("a client with default TLS settings builds");
                let mut samples = Vec::new();
                let mut errors: Vec<String> = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(c) = created.get(i) else {
                        return (samples, errors);
                    };
                    match approve_and_wait(&client, &store, c, poll).await {
                        Ok(s) => samples.push(s),
                        Err(e) => errors.push(e),
                    }
                }
            })
        })
        .collect();
    let mut samples = Vec::new();
    let mut error_list = Vec::new();
    for t in tasks {
        let (s, e) = t.await?;
        samples.extend(s);
        error_list.extend(e);
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu = cpu0.until(&CpuSnapshot::take(&w.pids));
    if delay_ms > 0 {
        sim_faults(&w.sim_base, json!({})).await?;
    }

    // Timestamps written by the product, read once everything is settled.
    let hooks = store
        .list_provider_webhooks("wave", (opts.payments * 4 + 100) as i64)
        .await?;
    let mut received: HashMap<String, (NaiveDateTime, usize)> = HashMap::new();
    for h in hooks.iter().filter(|h| h.verified) {
        if let Some(id) = &h.provider_id {
            let e = received.entry(id.clone()).or_insert((h.received_at, 0));
            e.0 = e.0.min(h.received_at);
            e.1 += 1;
        }
    }
    let mut to_succeeded = Vec::new();
    let mut delivery = Vec::new();
    let mut processing = Vec::new();
    let mut extra_webhooks = 0;
    for s in &samples {
        let history = store.list_payment_history(&s.payment_id).await?;
        let Some(succeeded_at) = history
            .iter()
            .find(|h| h.to_status == "SUCCEEDED")
            .map(|h| h.created_at)
        else {
            error_list.push("no SUCCEEDED history row".to_owned());
            continue;
        };
        to_succeeded.push(ms_between(s.answered_wall, succeeded_at));
        match received.get(&s.created.cos) {
            Some((at, n)) => {
                delivery.push(ms_between(s.answered_wall, *at));
                processing.push(ms_between(*at, succeeded_at));
                extra_webhooks += n.saturating_sub(1);
            }
            None => error_list.push("no stored webhook for the Wave session".to_owned()),
        }
    }
    let mut errors: HashMap<String, u64> = HashMap::new();
    for e in error_list {
        *errors.entry(e).or_insert(0) += 1;
    }
    let mut errors: Vec<(String, u64)> = errors.into_iter().collect();
    errors.sort();
    Ok(WebhookFigures {
        sim_api_delay_ms: delay_ms,
        payments: opts.payments,
        parallel: opts.parallel,
        poll_ms: opts.poll.as_secs_f64() * 1000.0,
        approve: Dist::new(samples.iter().map(|s| s.approve_ms).collect()),
        to_succeeded: Dist::new(to_succeeded),
        observed: Dist::new(samples.iter().map(|s| s.observed_ms).collect()),
        delivery: Dist::new(delivery),
        processing: Dist::new(processing),
        seconds,
        cpu,
        errors,
        deliveries: sim_deliveries(&w.sim_base).await,
        extra_webhooks,
    })
}

/// Approves one payment on the payer page, then polls the store until it is SUCCEEDED.
async fn approve_and_wait(
    client: &reqwest::Client,
    store: &Store,
    c: &Created,
    poll: Duration,
) -> Result<Sample, String> {
    let sent = Instant::now();
    let resp = client
        .post(format!("{}/approve", c.page))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .map_err(|e| format!("approve: {}", transport(&e)))?;
    let answered = Instant::now();
    let answered_wall = nexpay_store::now();
    let status = resp.status().as_u16();
    let _ = resp.bytes().await;
    if status != 303 {
        return Err(format!("approve HTTP {status}"));
    }
    loop {
        let row = store
            .get_payment_by_reference(&c.reference)
            .await
            .map_err(|e| format!("store: {e}"))?
            .ok_or_else(|| "payment not found".to_owned())?;
        match row.status.as_str() {
            "SUCCEEDED" => {
                return Ok(Sample {
                    created: c.clone(),
                    payment_id: row.id,
                    answered_wall,
                    approve_ms: (answered - sent).as_secs_f64() * 1000.0,
                    observed_ms: answered.elapsed().as_secs_f64() * 1000.0,
                })
            }
            "PENDING" | "PROCESSING" => {}
            other => return Err(format!("payment became {other}")),
        }
        if answered.elapsed() > SETTLE_TIMEOUT {
            return Err(format!(
                "not SUCCEEDED within {} s",
                SETTLE_TIMEOUT.as_secs()
            ));
        }
        tokio::time::sleep(poll).await;
    }
}

fn transport(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect error"
    } else {
        "transport error"
    }
}

/// Sets the Wave simulator's fault switches (`{}`: none).
async fn sim_faults(sim_base: &str, faults: Value) -> anyhow::Result<()> {
    let r = reqwest::Client::new()
        .post(format!("{sim_base}/sandbox/wave/_sim/faults"))
        .json(&faults)
        .send()
        .await?;
    anyhow::ensure!(
        r.status().is_success(),
        "setting the simulator's faults {faults}: HTTP {}",
        r.status()
    );
    Ok(())
}

/// (events, attempts, attempts not answered 2xx) of the Wave simulator's deliveries.
async fn sim_deliveries(sim_base: &str) -> Option<(usize, usize, usize)> {
    let v: Value = reqwest::get(format!("{sim_base}/sandbox/wave/_sim/webhooks/deliveries"))
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    let list = v["result"].as_array()?;
    let mut events: Vec<&str> = list.iter().filter_map(|d| d["event_id"].as_str()).collect();
    events.sort_unstable();
    events.dedup();
    let failed = list
        .iter()
        .filter(|d| !d["delivered"].as_bool().unwrap_or(false))
        .count();
    Some((events.len(), list.len(), failed))
}

fn delay_text(ms: u64) -> String {
    if ms == 0 {
        String::new()
    } else {
        format!(", every simulator API call delayed by {ms} ms")
    }
}

fn errors_text(errors: &[(String, u64)]) -> String {
    if errors.is_empty() {
        return "none".to_owned();
    }
    let n: u64 = errors.iter().map(|(_, n)| n).sum();
    let kinds: Vec<String> = errors.iter().map(|(k, n)| format!("{k}: {n}")).collect();
    format!("{n} ({})", kinds.join(", "))
}

fn ms(v: f64) -> String {
    if v.is_nan() {
        "-".to_owned()
    } else {
        format!("{v:.2}")
    }
}

fn opt(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.decimals$}"))
}

/// Everything the report needs besides the figures.
pub struct RunInfo {
    pub wiring: String,
    pub database: String,
    pub child_config: String,
    pub command: String,
}

impl Figures {
    fn latency_rows(&self) -> Vec<(String, &Dist)> {
        let w = &self.webhook;
        vec![
            (
                "approve answered → payment SUCCEEDED (payment_events.created_at)".to_owned(),
                &w.to_succeeded,
            ),
            (
                format!(
                    "approve answered → SUCCEEDED seen by polling the store every {} ms",
                    w.poll_ms
                ),
                &w.observed,
            ),
            (
                "  of which approve answered → webhook stored (provider_webhooks.received_at)"
                    .to_owned(),
                &w.delivery,
            ),
            (
                "  of which webhook stored → SUCCEEDED (status check + payments)".to_owned(),
                &w.processing,
            ),
            (
                "payer page approve call (POST → 303)".to_owned(),
                &w.approve,
            ),
        ]
    }

    fn delivery_note(&self) -> String {
        let w = &self.webhook;
        let sims = match w.deliveries {
            Some((events, attempts, failed)) => format!(
                "simulator: {events} webhook events, {attempts} delivery attempts, {failed} not answered 2xx"
            ),
            None => "simulator deliveries: not readable".to_owned(),
        };
        let share = w.delivery.q(0.5) / w.to_succeeded.q(0.5);
        format!(
            "{sims}; {} duplicate webhooks stored; median delivery share {:.0}% of the median latency; \
             {} payments in {:.1} s ({:.0}/s), errors: {}",
            w.extra_webhooks,
            share * 100.0,
            w.to_succeeded.len(),
            w.seconds,
            w.to_succeeded.len() as f64 / w.seconds.max(1e-9),
            errors_text(&w.errors)
        )
    }

    pub fn print(&self, ctx: &RunInfo) {
        println!();
        println!("NexPay provider flows (Wave, test mode), {}", ctx.wiring);
        println!("database: {}", ctx.database);
        println!("configuration: {}", ctx.child_config);
        println!();
        crate::report::print_phase_table(&self.initiate);
        println!("(srv = every NexPay process of the wiring, gen = this process, PG = every postgres process,");
        println!(
            " all = the whole machine; CPU in cores busy on average over the measured window)"
        );
        println!();
        let w = &self.webhook;
        println!(
            "Webhook → payment state, {} payments approved {} at a time{}:",
            w.payments,
            w.parallel,
            delay_text(w.sim_api_delay_ms)
        );
        println!(
            "{:<80} {:>8} {:>8} {:>8} {:>8}",
            "measure", "p50 ms", "p99 ms", "max ms", "mean ms"
        );
        for (name, d) in self.latency_rows() {
            println!(
                "{:<80} {:>8} {:>8} {:>8} {:>8}",
                name,
                ms(d.q(0.5)),
                ms(d.q(0.99)),
                ms(d.max()),
                ms(d.mean())
            );
        }
        println!("{}", self.delivery_note());
        println!(
            "CPU during the latency phase: srv {}, gen {:.2}, PG {:.2}, all {:.2} cores",
            opt(w.cpu.server_cores, 2),
            w.cpu.bench_cores,
            w.cpu.postgres_cores,
            w.cpu.machine_cores
        );
        println!();
        println!("--- markdown for docs/benchmarks.md ---");
        println!("{}", self.markdown(ctx));
        println!("--- end ---");
    }

    pub fn markdown(&self, ctx: &RunInfo) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "#### {} — {}",
            ctx.wiring,
            chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
        );
        let _ = writeln!(s);
        let _ = writeln!(s, "- Machine: {}", crate::machine::describe());
        let _ = writeln!(s, "- Database: {}", ctx.database);
        let _ = writeln!(s, "- Configuration: {}", ctx.child_config);
        let _ = writeln!(s, "- Command: `{}`", ctx.command);
        let _ = writeln!(s);
        let _ = writeln!(s, "| measure | requests/s | p50 ms | p99 ms | max ms | NexPay CPU (cores) | NexPay CPU µs/request | load generator CPU | PostgreSQL CPU | machine CPU | errors |");
        let _ = writeln!(
            s,
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
        );
        for p in &self.initiate {
            let _ = writeln!(
                s,
                "| {} | {:.0} | {} | {} | {} | {} | {} | {:.2} | {:.2} | {:.2} | {} |",
                p.name,
                p.rate(),
                ms(p.p50_ms),
                ms(p.p99_ms),
                ms(p.max_ms),
                opt(p.cpu.server_cores, 2),
                opt(p.server_cpu_us_per_op(), 0),
                p.cpu.bench_cores,
                p.cpu.postgres_cores,
                p.cpu.machine_cores,
                p.errors_summary()
            );
        }
        let _ = writeln!(s);
        let w = &self.webhook;
        let _ = writeln!(
            s,
            "{} payments approved {} at a time{}:",
            w.payments,
            w.parallel,
            delay_text(w.sim_api_delay_ms)
        );
        let _ = writeln!(s);
        let _ = writeln!(s, "| measure | p50 ms | p99 ms | max ms | mean ms |");
        let _ = writeln!(s, "| --- | ---: | ---: | ---: | ---: |");
        for (name, d) in self.latency_rows() {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} |",
                name.trim(),
                ms(d.q(0.5)),
                ms(d.q(0.99)),
                ms(d.max()),
                ms(d.mean())
            );
        }
        let _ = writeln!(s);
        let _ = writeln!(s, "{}.", self.delivery_note());
        s
    }
}
