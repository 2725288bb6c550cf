//! `--scenario checkout`: the hosted checkout page (`/checkout/{sessionId}`), what the
//! merchant's customer loads and what the page's script polls, on either wiring.
//!
//! 0. Set-up (not timed): `--checkout-sessions` sessions are created through the API
//!    with the test write key; every other one then gets a Wave attempt chosen on the
//!    page itself (`POST /checkout/{id}/pay`, form `provider=wave`, the 303 not
//!    followed), so the page is rendered in both its open states: "choose" (one button
//!    per provider) and "pay" (QR code and app links). The states are read back from
//!    `/status` before and after the measures.
//! 1. Page render: `GET /checkout/{id}` cycling over the sessions (each worker from its
//!    own offset, so both states alternate), with the request headers a browser sends
//!    (`Accept-Encoding: gzip, deflate, br`, a French `Accept-Language`). Three runs:
//!    over ONE connection (no queueing: on loopback the latency is the server's time
//!    plus what TCP adds); over one connection without `Accept-Encoding` (the server's
//!    own time, without what a compressed, chunked answer costs on the wire: the
//!    server leaves Nagle's algorithm on, see docs/benchmarks.md); over
//!    `--concurrency` connections. Latencies are also split by state, and the share of
//!    pages that took [`SLOW_MS`] or more is counted.
//! 2. Status polling: `GET /checkout/{id}/status` (the script's poll, every 3 s per
//!    open page) over `--concurrency` connections at full speed. The server's CPU per
//!    poll gives how many waiting customers one core can follow.
//!
//! Same worker model, windows and CPU columns as the session phases. "Server" is the
//! process that serves the page: the standalone `nexpay`, or the dashboard service.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{json, Value};

use crate::load::{self, run_workers_of, Timing};
use crate::stats::{PhaseResult, Recorder};

/// What the page's script waits between two polls (`POLL_EVERY` in the dashboard).
const POLL_EVERY_SECS: f64 = 3.0;
/// The issue's targets.
const PAGE_P50_TARGET_MS: f64 = 5.0;
const POLLING_CUSTOMERS_TARGET: f64 = 1_000.0;
/// Requests of the set-up in flight at once.
const SETUP_PARALLEL: usize = 8;

/// What a browser sends with a page load (and, for the encoding, with its fetches).
const ACCEPT_HTML: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
const ACCEPT_ENCODING: &str = "gzip, deflate, br";
const ACCEPT_LANGUAGE: &str = "fr-FR,fr;q=0.9,en;q=0.8";

pub struct Wiring {
    /// Where `/api/v1/payment/session/initiate` answers (the binary or the gateway).
    pub api_base: String,
    /// Where `/checkout/...` answers (the binary or the dashboard).
    pub page_base: String,
    pub write_key: String,
    /// The processes whose CPU is the "server" column (the one serving the page).
    pub pids: Vec<u32>,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub sessions: usize,
    pub concurrency: usize,
    pub warmup: Duration,
    pub duration: Duration,
}

/// One page as the server sends it to a browser, and without compression.
#[derive(Debug, Clone, Default)]
pub struct PageSize {
    pub plain_bytes: usize,
    pub wire_bytes: usize,
    /// `Content-Encoding` of the browser-like request ("identity" when none).
    pub encoding: String,
}

/// A page phase, with the latencies split by the page's state.
pub struct PagePhase {
    pub all: PhaseResult,
    pub choose: PhaseResult,
    pub pay: PhaseResult,
    /// Mean body bytes received per page (compressed when the server compressed).
    pub mean_wire_bytes: f64,
    /// Share of the measured pages that took [`SLOW_MS`] or more.
    pub slow_share: f64,
}

/// Above the delayed-ACK timer's 40 ms floor, minus a margin: a page this slow on an
/// idle loopback waited on TCP, not on the server.
const SLOW_MS: u128 = 30;

pub struct Figures {
    pub sessions: usize,
    /// `pay` 303s that came back with a notice (`?e=...`) or failed, by kind.
    pub pay_errors: BTreeMap<String, usize>,
    pub states_before: BTreeMap<String, usize>,
    pub states_after: BTreeMap<String, usize>,
    pub choose_size: PageSize,
    pub pay_size: PageSize,
    pub page_one: PagePhase,
    /// One connection, no `Accept-Encoding`.
    pub page_plain: PagePhase,
    pub page_many: PagePhase,
    pub status: PhaseResult,
    pub concurrency: usize,
    pub warmup_secs: u64,
    pub duration_secs: u64,
}

/// Everything the report needs besides the figures.
pub struct RunInfo {
    pub wiring: String,
    pub database: String,
    pub child_config: String,
    pub command: String,
    /// The product's database is PostgreSQL: its CPU belongs to every request too.
    pub postgres: bool,
}

fn session_body(i: usize) -> Value {
    json!({
        "amount": 10000,
        "currency": "XOF",
        "customer": {"name": "Mouhamed Baba", "email": "customer@example.com", "phone": "+221771234567"},
        "success_url": "https://shop.example.com/success",
        "cancel_url": "https://shop.example.com/cancel",
        "items": [
            {"label": "T-shirt wax", "unitPrice": 3500, "quantity": 2},
            {"label": "Livraison Dakar", "unitPrice": 3000, "quantity": 1}
        ],
        "metadata": {"order_id": format!("BENCH-CHECKOUT-{i}")}
    })
}

fn no_redirect_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(1)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a client with default TLS settings builds")
}

/// Runs `job(i)` for `0..n` from [`SETUP_PARALLEL`] tasks; results in index order.
async fn parallel<T, F, Fut>(n: usize, job: F) -> anyhow::Result<Vec<T>>
where
    T: Send + 'static,
    F: Fn(reqwest::Client, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<T>> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let job = Arc::new(job);
    let tasks: Vec<_> = (0..SETUP_PARALLEL.min(n.max(1)))
        .map(|_| {
            let (next, job) = (next.clone(), job.clone());
            tokio::spawn(async move {
                let client = no_redirect_client();
                let mut out = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        return Ok::<_, anyhow::Error>(out);
                    }
                    out.push((i, job(client.clone(), i).await?));
                }
            })
        })
        .collect();
    let mut all = Vec::with_capacity(n);
    for t in tasks {
        all.extend(t.await??);
    }
    all.sort_by_key(|(i, _)| *i);
    Ok(all.into_iter().map(|(_, v)| v).collect())
}

async fn create_sessions(w: &Wiring, n: usize) -> anyhow::Result<Vec<String>> {
    let url = Arc::new(format!("{}/api/v1/payment/session/initiate", w.api_base));
    let key = Arc::new(w.write_key.clone());
    parallel(n, move |client, i| {
        let (url, key) = (url.clone(), key.clone());
        async move {
            let req = client
                .post(url.as_str())
                .header("x-api-key", key.as_str())
                .json(&session_body(i));
            let body = load::exchange(req)
                .await
                .map_err(|e| anyhow::anyhow!("creating a session: {e}"))?;
            let v: Value = serde_json::from_slice(&body).context("session answer is not JSON")?;
            v.pointer("/data/sessionId")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| anyhow::anyhow!("no data.sessionId in {v}"))
        }
    })
    .await
}

/// Chooses Wave on the page of each session given; `None` when it went through (303
/// back to the page without a notice), else what went wrong.
async fn choose_wave(w: &Wiring, ids: Vec<String>) -> anyhow::Result<Vec<Option<String>>> {
    let base = Arc::new(w.page_base.clone());
    let ids = Arc::new(ids);
    parallel(ids.len(), move |client, i| {
        let (base, ids) = (base.clone(), ids.clone());
        async move {
            let id = &ids[i];
            let r = client
                .post(format!("{base}/checkout/{id}/pay"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("provider=wave")
                .send()
                .await;
            Ok(match r {
                Err(e) => Some(format!("pay: transport error ({e})")),
                Ok(r) => {
                    let status = r.status().as_u16();
                    let location = r
                        .headers()
                        .get("location")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    let _ = r.bytes().await;
                    match (status, location.split_once("?e=")) {
                        (303, None) => None,
                        (303, Some((_, code))) => Some(format!("pay 303 with notice {code}")),
                        (s, _) => Some(format!("pay HTTP {s}")),
                    }
                }
            })
        }
    })
    .await
}

/// Each session's state as `/status` says, counted.
async fn states(w: &Wiring, ids: &Arc<Vec<String>>) -> anyhow::Result<BTreeMap<String, usize>> {
    let base = Arc::new(w.page_base.clone());
    let list = {
        let ids = ids.clone();
        parallel(ids.len(), move |client, i| {
            let (base, ids) = (base.clone(), ids.clone());
            async move {
                let body = load::exchange(client.get(format!("{base}/checkout/{}/status", ids[i])))
                    .await
                    .map_err(|e| anyhow::anyhow!("GET status: {e}"))?;
                let v: Value = serde_json::from_slice(&body).context("status is not JSON")?;
                Ok(v["state"].as_str().unwrap_or("?").to_owned())
            }
        })
        .await?
    };
    let mut counts = BTreeMap::new();
    for s in list {
        *counts.entry(s).or_insert(0) += 1;
    }
    Ok(counts)
}

/// One page with and without the browser's `Accept-Encoding`.
async fn page_size(w: &Wiring, id: &str) -> anyhow::Result<PageSize> {
    let client = no_redirect_client();
    let url = format!("{}/checkout/{id}", w.page_base);
    let plain = page_get(&client, &url, false).send().await?;
    let plain_bytes = plain.bytes().await?.len();
    let r = page_get(&client, &url, true).send().await?;
    let encoding = r
        .headers()
        .get("content-encoding")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity")
        .to_owned();
    Ok(PageSize {
        plain_bytes,
        wire_bytes: r.bytes().await?.len(),
        encoding,
    })
}

/// A browser's page request, with or without its `Accept-Encoding`.
fn page_get(client: &reqwest::Client, url: &str, compressed: bool) -> reqwest::RequestBuilder {
    let req = client
        .get(url)
        .header("accept", ACCEPT_HTML)
        .header("accept-language", ACCEPT_LANGUAGE);
    if compressed {
        req.header("accept-encoding", ACCEPT_ENCODING)
    } else {
        req
    }
}

/// Phase names are `&'static str` in PhaseResult: a handful per run.
fn name(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

/// What one page worker saw besides its recorder.
struct PageExtra {
    choose: Recorder,
    pay: Recorder,
    bytes: u64,
    pages: u64,
    slow: u64,
}

/// `GET /checkout/{id}` over `ids` (even indexes: "pay", odd: "choose").
async fn page_phase(
    w: &Wiring,
    opts: &Options,
    ids: &Arc<Vec<String>>,
    concurrency: usize,
    compressed: bool,
) -> anyhow::Result<PagePhase> {
    let timing = Timing {
        concurrency,
        warmup: opts.warmup,
        duration: opts.duration,
        server_pid: None,
    };
    let base = Arc::new(format!("{}/checkout/", w.page_base));
    let (rec, extras) = run_workers_of(timing, w.pids.clone(), |worker, window| {
        let (base, ids) = (base.clone(), ids.clone());
        async move {
            let client = load::client();
            let mut rec = Recorder::new();
            let mut extra = PageExtra {
                choose: Recorder::new(),
                pay: Recorder::new(),
                bytes: 0,
                pages: 0,
                slow: 0,
            };
            let mut i = worker * ids.len() / concurrency.max(1);
            while !window.over() {
                let k = i % ids.len();
                i += 1;
                let url = format!("{base}{}", ids[k]);
                let started = Instant::now();
                let outcome = load::exchange(page_get(&client, &url, compressed)).await;
                let took = started.elapsed();
                if let Ok(body) = &outcome {
                    if window.counts(started) {
                        let by_state = if k.is_multiple_of(2) {
                            &mut extra.pay
                        } else {
                            &mut extra.choose
                        };
                        by_state.ok(took);
                        extra.bytes += body.len() as u64;
                        extra.pages += 1;
                        extra.slow += u64::from(took.as_millis() >= SLOW_MS);
                    }
                }
                load::record(&mut rec, &window, started, &outcome).await;
            }
            (rec, extra)
        }
    })
    .await?;
    let mut choose = Recorder::new();
    let mut pay = Recorder::new();
    let (mut bytes, mut pages, mut slow) = (0u64, 0u64, 0u64);
    for e in extras {
        choose.merge(e.choose);
        pay.merge(e.pay);
        bytes += e.bytes;
        pages += e.pages;
        slow += e.slow;
    }
    let mut conns = if concurrency == 1 {
        "1 connection".to_owned()
    } else {
        format!("{concurrency} connections")
    };
    if !compressed {
        conns.push_str(", no compression");
    }
    Ok(PagePhase {
        all: rec.finish(name(format!("checkout page, {conns}")), opts.duration),
        choose: choose.finish(name(format!("  \"choose\" pages, {conns}")), opts.duration),
        pay: pay.finish(name(format!("  \"pay\" pages, {conns}")), opts.duration),
        mean_wire_bytes: bytes as f64 / pages.max(1) as f64,
        slow_share: slow as f64 / pages.max(1) as f64,
    })
}

/// `GET /checkout/{id}/status` over `ids`, as the page's script sends it.
async fn status_phase(
    w: &Wiring,
    opts: &Options,
    ids: &Arc<Vec<String>>,
) -> anyhow::Result<PhaseResult> {
    let timing = Timing {
        concurrency: opts.concurrency,
        warmup: opts.warmup,
        duration: opts.duration,
        server_pid: None,
    };
    let base = Arc::new(format!("{}/checkout/", w.page_base));
    let (rec, _) = run_workers_of(timing, w.pids.clone(), |worker, window| {
        let (base, ids) = (base.clone(), ids.clone());
        async move {
            let client = load::client();
            let mut rec = Recorder::new();
            let mut i = worker * ids.len() / timing.concurrency.max(1);
            while !window.over() {
                let url = format!("{base}{}/status", ids[i % ids.len()]);
                i += 1;
                let started = Instant::now();
                let req = client
                    .get(url)
                    .header("accept", "*/*")
                    .header("accept-encoding", ACCEPT_ENCODING);
                let outcome = load::exchange(req).await;
                load::record(&mut rec, &window, started, &outcome).await;
            }
            (rec, ())
        }
    })
    .await?;
    Ok(rec.finish(
        name(format!("status poll, {} connections", opts.concurrency)),
        opts.duration,
    ))
}

fn states_text(counts: &BTreeMap<String, usize>) -> String {
    let parts: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    parts.join(", ")
}

pub async fn measure(w: &Wiring, opts: &Options) -> anyhow::Result<Figures> {
    eprintln!("set-up: {} sessions through the API", opts.sessions);
    let ids = create_sessions(w, opts.sessions).await?;
    // Even indexes get a Wave attempt: cycling over the list alternates the states.
    let to_pay: Vec<String> = ids.iter().step_by(2).cloned().collect();
    eprintln!(
        "set-up: Wave chosen on the page of {} of them (POST /checkout/{{id}}/pay)",
        to_pay.len()
    );
    let outcomes = choose_wave(w, to_pay).await?;
    let mut pay_errors = BTreeMap::new();
    for e in outcomes.into_iter().flatten() {
        *pay_errors.entry(e).or_insert(0) += 1;
    }
    let ids = Arc::new(ids);
    let states_before = states(w, &ids).await?;
    eprintln!("  states: {}", states_text(&states_before));
    anyhow::ensure!(
        states_before.get("pay").copied().unwrap_or(0) > 0
            && states_before.get("choose").copied().unwrap_or(0) > 0,
        "the sessions are not in both open states ({}); pay errors: {pay_errors:?}",
        states_text(&states_before)
    );
    let pay_size = page_size(w, &ids[0]).await?;
    let choose_size = page_size(w, &ids[1]).await?;
    // Let the set-up's tail (outbox relay, webhooks to nowhere) settle.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let mut page_phases = Vec::new();
    for (conns, compressed) in [(1, true), (1, false), (opts.concurrency, true)] {
        eprintln!(
            "checkout page: {conns} connection(s){}, {} s + {} s warm-up",
            if compressed { "" } else { ", no compression" },
            opts.duration.as_secs(),
            opts.warmup.as_secs()
        );
        let p = page_phase(w, opts, &ids, conns, compressed).await?;
        eprintln!(
            "  {:.0}/s, p50 {:.2} ms, p99 {:.2} ms, server {} µs/page, {:.0}% over {SLOW_MS} ms, errors: {}",
            p.all.rate(),
            p.all.p50_ms,
            p.all.p99_ms,
            opt(p.all.server_cpu_us_per_op(), 0),
            p.slow_share * 100.0,
            p.all.errors_summary()
        );
        page_phases.push(p);
    }
    eprintln!(
        "status polling: {} connections, {} s + {} s warm-up",
        opts.concurrency,
        opts.duration.as_secs(),
        opts.warmup.as_secs()
    );
    let status = status_phase(w, opts, &ids).await?;
    eprintln!(
        "  {:.0}/s, p50 {:.2} ms, p99 {:.2} ms, server {} µs/poll, errors: {}",
        status.rate(),
        status.p50_ms,
        status.p99_ms,
        opt(status.server_cpu_us_per_op(), 0),
        status.errors_summary()
    );
    let states_after = states(w, &ids).await?;
    let page_many = page_phases.pop().expect("three page phases");
    let page_plain = page_phases.pop().expect("three page phases");
    let page_one = page_phases.pop().expect("three page phases");
    Ok(Figures {
        sessions: ids.len(),
        pay_errors,
        states_before,
        states_after,
        choose_size,
        pay_size,
        page_one,
        page_plain,
        page_many,
        status,
        concurrency: opts.concurrency,
        warmup_secs: opts.warmup.as_secs(),
        duration_secs: opts.duration.as_secs(),
    })
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

/// PostgreSQL's CPU per successful request, in microseconds.
fn pg_us_per_op(p: &PhaseResult) -> Option<f64> {
    (p.ok > 0).then(|| p.cpu.postgres_cores * p.seconds * 1e6 / p.ok as f64)
}

fn kib(bytes: f64) -> String {
    format!("{:.1} KiB", bytes / 1024.0)
}

pub struct Target {
    pub name: String,
    pub measured: String,
    pub pass: bool,
}

impl Figures {
    fn phases(&self) -> Vec<&PhaseResult> {
        vec![
            &self.page_one.all,
            &self.page_plain.all,
            &self.page_many.all,
            &self.status,
        ]
    }

    fn page_phases(&self) -> [&PagePhase; 3] {
        [&self.page_one, &self.page_plain, &self.page_many]
    }

    /// Waiting customers one core follows at one poll every 3 s (server CPU only).
    pub fn polling_customers(&self) -> Option<f64> {
        let us = self.status.server_cpu_us_per_op()?;
        (us > 0.0).then(|| 1e6 / us * POLL_EVERY_SECS)
    }

    /// The same, counting PostgreSQL's CPU per poll too.
    fn polling_customers_with_pg(&self) -> Option<f64> {
        let us = self.status.server_cpu_us_per_op()? + pg_us_per_op(&self.status)?;
        (us > 0.0).then(|| 1e6 / us * POLL_EVERY_SECS)
    }

    /// Phases during which something besides the server, the load generator and
    /// PostgreSQL kept a good part of the machine busy (a build, a test suite...).
    pub fn noise_warnings(&self) -> Vec<String> {
        self.phases()
            .into_iter()
            .filter_map(|p| {
                let ours =
                    p.cpu.server_cores.unwrap_or(0.0) + p.cpu.bench_cores + p.cpu.postgres_cores;
                let other = p.cpu.machine_cores - ours;
                (other > 0.4).then(|| {
                    format!(
                        "during {}, other processes (or kernel threads) used {other:.2} cores: \
                         on a busy machine the figures are low and noisy",
                        p.name
                    )
                })
            })
            .collect()
    }

    pub fn targets(&self) -> Vec<Target> {
        let p50 = self.page_one.all.p50_ms;
        let customers = self.polling_customers();
        vec![
            Target {
                name: format!("page p50 < {PAGE_P50_TARGET_MS} ms at 1 connection"),
                measured: format!(
                    "{} ms (server CPU {} µs/page)",
                    ms(p50),
                    opt(self.page_one.all.server_cpu_us_per_op(), 0)
                ),
                pass: p50 < PAGE_P50_TARGET_MS,
            },
            Target {
                name: format!(
                    "polling customers per core >= {POLLING_CUSTOMERS_TARGET:.0} (1 poll / 3 s)"
                ),
                measured: format!(
                    "{} (server CPU {} µs/poll)",
                    opt(customers, 0),
                    opt(self.status.server_cpu_us_per_op(), 0)
                ),
                pass: customers.is_some_and(|c| c >= POLLING_CUSTOMERS_TARGET),
            },
        ]
    }

    fn size_text(&self) -> String {
        format!(
            "page size: \"choose\" {} ({} as sent, {}), \"pay\" {} ({} as sent, {}); \
             mean body received {} at 1 connection",
            kib(self.choose_size.plain_bytes as f64),
            kib(self.choose_size.wire_bytes as f64),
            self.choose_size.encoding,
            kib(self.pay_size.plain_bytes as f64),
            kib(self.pay_size.wire_bytes as f64),
            self.pay_size.encoding,
            kib(self.page_one.mean_wire_bytes)
        )
    }

    fn slow_text(&self) -> String {
        let parts: Vec<String> = self
            .page_phases()
            .iter()
            .map(|p| {
                format!(
                    "{:.0}% at {}",
                    p.slow_share * 100.0,
                    p.all.name.trim_start_matches("checkout page, ")
                )
            })
            .collect();
        format!("pages that took {SLOW_MS} ms or more: {}", parts.join("; "))
    }

    fn setup_text(&self) -> String {
        let pay_errors = if self.pay_errors.is_empty() {
            "none".to_owned()
        } else {
            let kinds: Vec<String> = self
                .pay_errors
                .iter()
                .map(|(k, n)| format!("{k}: {n}"))
                .collect();
            kinds.join(", ")
        };
        format!(
            "{} sessions; states before the measures: {}; after: {}; Wave choices that failed: {pay_errors}",
            self.sessions,
            states_text(&self.states_before),
            states_text(&self.states_after)
        )
    }

    pub fn print(&self, ctx: &RunInfo) {
        println!();
        println!("NexPay hosted checkout page, {}", ctx.wiring);
        println!("database: {}", ctx.database);
        println!("configuration: {}", ctx.child_config);
        println!();
        crate::report::print_phase_table(self.phases());
        println!(
            "(srv = the process serving the page, gen = this process, PG = every postgres process,"
        );
        println!(
            " all = the whole machine; CPU in cores busy on average over the measured window)"
        );
        for w in self.noise_warnings() {
            println!("warning: {w}");
        }
        println!();
        println!(
            "{:<52} {:>8} {:>8} {:>8}",
            "page latency by state", "p50 ms", "p99 ms", "pages/s"
        );
        for p in self.page_phases() {
            for r in [&p.choose, &p.pay] {
                println!(
                    "{:<52} {:>8} {:>8} {:>8.0}",
                    r.name.trim(),
                    ms(r.p50_ms),
                    ms(r.p99_ms),
                    r.rate()
                );
            }
        }
        println!("{}", self.slow_text());
        println!();
        println!("{}", self.size_text());
        println!("{}", self.setup_text());
        if ctx.postgres {
            println!(
                "counting PostgreSQL's CPU too: {} µs/poll, {} polling customers per core",
                opt(
                    self.status
                        .server_cpu_us_per_op()
                        .zip(pg_us_per_op(&self.status))
                        .map(|(a, b)| a + b),
                    0
                ),
                opt(self.polling_customers_with_pg(), 0)
            );
        }
        println!();
        println!("Targets:");
        for t in self.targets() {
            println!(
                "  [{}] {:<52} {}",
                if t.pass { "PASS" } else { "MISS" },
                t.name,
                t.measured
            );
        }
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
        let _ = writeln!(
            s,
            "- Load: 1 then {} connections (one keep-alive client each), {} s measured after a {} s \
             warm-up per phase, load generator on the same machine; {}",
            self.concurrency,
            self.duration_secs,
            self.warmup_secs,
            self.setup_text()
        );
        let _ = writeln!(s);
        let _ = writeln!(s, "| measure | requests/s | p50 ms | p99 ms | max ms | server CPU (cores) | server CPU µs/request | load generator CPU | PostgreSQL CPU | machine CPU | errors |");
        let _ = writeln!(
            s,
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
        );
        for p in self.phases() {
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
        for w in self.noise_warnings() {
            let _ = writeln!(s, "\nNote: {w}.");
        }
        let _ = writeln!(s);
        let _ = writeln!(s, "| page latency by state | p50 ms | p99 ms |");
        let _ = writeln!(s, "| --- | ---: | ---: |");
        for p in self.page_phases() {
            for r in [&p.choose, &p.pay] {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} |",
                    r.name.trim(),
                    ms(r.p50_ms),
                    ms(r.p99_ms)
                );
            }
        }
        let _ = writeln!(s);
        let _ = writeln!(s, "{}.", capitalize(&self.slow_text()));
        let _ = writeln!(s, "{}.", capitalize(&self.size_text()));
        if ctx.postgres {
            let _ = writeln!(
                s,
                "Counting PostgreSQL's CPU too: {} polling customers per core.",
                opt(self.polling_customers_with_pg(), 0)
            );
        }
        let _ = writeln!(s);
        let _ = writeln!(s, "| target | measured | result |");
        let _ = writeln!(s, "| --- | --- | --- |");
        for t in self.targets() {
            let _ = writeln!(
                s,
                "| {} | {} | {} |",
                t.name,
                t.measured,
                if t.pass { "PASS" } else { "**MISS**" }
            );
        }
        s
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}
