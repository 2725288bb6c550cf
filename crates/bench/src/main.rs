#![forbid(unsafe_code)]
//! `nexpay-bench`: starts the release `nexpay` binary as a child process on a fresh
//! database, measures session creation and session reads over HTTP, the process's
//! memory, and the storage ceiling (the same rows inserted through the store directly),
//! then prints the figures against the targets.
//!
//! ```text
//! cargo build --release -p nexpay-standalone -p nexpay-bench
//! cargo run --release -p nexpay-bench -- [--concurrency 32] [--duration 10] [--backend sqlite|postgres]
//! ```
//!
//! `--distributed` measures the five service binaries instead (PostgreSQL, RabbitMQ and
//! Redis of the machine; build them with `cargo build --release -p nexpay-gateway
//! -p nexpay-payments -p nexpay-provider-adapter -p nexpay-webhook-dispatcher
//! -p nexpay-dashboard`).
//!
//! `--scenario providers` measures the test-mode Wave flow instead of sessions, on either
//! wiring: payment initiation through the Wave connector and simulator, and the latency
//! from a payer's approval to the payment being SUCCEEDED through the signed webhook
//! (see `providers.rs`; the distributed wiring also needs `-p nexpay-sandbox-service`).
//!
//! `--scenario checkout` measures the hosted checkout page: its render at 1 and at
//! `--concurrency` connections and the status poll its script sends (see `checkout.rs`).

mod ceiling;
mod checkout;
mod child;
mod cleanup;
mod distributed;
mod load;
mod machine;
mod pg;
mod providers;
mod report;
mod stats;
mod webhooks;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use crate::child::Instance;
use crate::cleanup::{check_alive, Cleanup};
use crate::load::Timing;
use crate::report::Report;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// Session creation and reads, against the storage ceiling.
    Sessions,
    /// Wave payment initiation and webhook → SUCCEEDED latency (test mode, simulator).
    Providers,
    /// Merchant webhook deliveries per second, and provider webhook → merchant webhook
    /// latency under load.
    Webhooks,
    /// The hosted checkout page: render time and status polls.
    Checkout,
}

#[derive(Debug, Parser)]
#[command(
    name = "nexpay-bench",
    about = "Benchmarks the release `nexpay` binary against its storage ceiling"
)]
struct Args {
    /// Concurrent connections (one worker task and one keep-alive client each).
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Measured seconds per phase (after the warm-up).
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Warm-up seconds before each phase's measurement.
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    #[arg(long, value_enum, default_value_t = Backend::Sqlite)]
    backend: Backend,
    /// Maintenance database URL used to create and drop the benchmark databases.
    #[arg(long, default_value = pg::DEFAULT_ADMIN_URL)]
    pg_admin_url: String,
    /// The `nexpay` binary (default: next to this executable).
    #[arg(long)]
    nexpay_bin: Option<PathBuf>,
    /// Skip the storage ceiling phase.
    #[arg(long)]
    no_ceiling: bool,
    /// Also measure GET /health/live (no key, no database): the HTTP-only baseline.
    #[arg(long)]
    baseline: bool,
    /// Extra configuration for the child, `KEY=VALUE` (repeatable), e.g. `RUST_LOG=warn`
    /// or `DB_MAX_CONNECTIONS=32`. Without it the child runs on the shipped defaults, except
    /// for a per-key rate limit raised out of the way (`RATE_LIMIT_PER_SEC`, `RATE_LIMIT_BURST`).
    #[arg(long = "child-env", value_parser = parse_env_pair)]
    child_env: Vec<(String, String)>,
    /// Measure the distributed services (gateway → RabbitMQ → payments → PostgreSQL)
    /// instead of the standalone binary; implies PostgreSQL.
    #[arg(long)]
    distributed: bool,
    /// What to measure.
    #[arg(long, value_enum, default_value_t = Scenario::Sessions)]
    scenario: Scenario,
    /// `--scenario providers`: connections of the initiation phases, one phase each.
    #[arg(long, value_delimiter = ',', default_value = "8,32")]
    initiate_concurrency: Vec<usize>,
    /// `--scenario providers`: payments approved for the webhook latency.
    #[arg(long, default_value_t = 200)]
    webhook_payments: usize,
    /// `--scenario providers`: approvals in flight at once (each worker approves one
    /// payment and waits for SUCCEEDED before the next).
    #[arg(long, default_value_t = 4)]
    webhook_parallel: usize,
    /// `--scenario providers`: interval of the store polls that watch for SUCCEEDED.
    #[arg(long, default_value_t = 2)]
    poll_ms: u64,
    /// `--scenario providers`: during the webhook latency phase only, every call to the
    /// Wave simulator's API (the status check included) waits this long, like a remote
    /// provider's round trip.
    #[arg(long, default_value_t = 0)]
    sim_api_delay_ms: u64,
    /// `--scenario webhooks`: deliveries of the throughput phase.
    #[arg(long, default_value_t = 5000)]
    webhook_deliveries: usize,
    /// `--scenario webhooks`: background deliveries written per second during the
    /// end-to-end phase.
    #[arg(long, default_value_t = 1000)]
    webhook_load: usize,
    /// `--scenario webhooks --distributed`: webhook-dispatcher replica counts, one round
    /// of both phases each (replicas are added between rounds).
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    dispatchers: Vec<usize>,
    /// `--scenario checkout`: sessions created for the page phases (every other one
    /// gets a Wave attempt chosen on the page).
    #[arg(long, default_value_t = 500)]
    checkout_sessions: usize,
    /// `--scenario checkout`: exit with an error when a target is missed (the figures
    /// are printed first), so that a regression fails the run that measured it.
    #[arg(long)]
    check_targets: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.concurrency > 0, "--concurrency must be at least 1");
    anyhow::ensure!(args.duration > 0, "--duration must be at least 1");
    let mut cleanup = Cleanup {
        pg_admin_url: args.pg_admin_url.clone(),
        ..Default::default()
    };
    let outcome = tokio::select! {
        r = run(&args, &mut cleanup) => r,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };
    cleanup.finish().await;
    outcome
}

/// The load's timing, this process's id and a fresh data dir (removed at the end).
fn prepare(
    args: &Args,
    cleanup: &mut Cleanup,
) -> anyhow::Result<(Timing, u32, std::path::PathBuf)> {
    let timing = Timing {
        concurrency: args.concurrency,
        warmup: Duration::from_secs(args.warmup),
        duration: Duration::from_secs(args.duration),
        server_pid: None,
    };
    let data_dir = child::temp_dir("data")?;
    cleanup.dirs.push(data_dir.clone());
    Ok((timing, std::process::id(), data_dir))
}

async fn run_distributed(args: &Args, cleanup: &mut Cleanup) -> anyhow::Result<()> {
    let bin = child::locate_binary(args.nexpay_bin.as_deref())?;
    let bin_dir = bin
        .parent()
        .ok_or_else(|| anyhow::anyhow!("{} has no directory", bin.display()))?
        .to_owned();
    let (timing, pid, data_dir) = prepare(args, cleanup)?;
    let name = format!("nexpay_bench_{pid}");
    cleanup.pg_databases.push(name.clone());
    let url = pg::create_database(&args.pg_admin_url, &name).await?;
    let services = cleanup.services.insert(
        distributed::Services::start(&bin_dir, &data_dir, &url, &args.child_env, false).await?,
    );
    let figures = distributed::measure(services, timing).await?;
    cleanup.stop_services().await;
    let ceiling = if args.no_ceiling {
        None
    } else {
        let name = format!("nexpay_bench_{pid}_ceiling");
        cleanup.pg_databases.push(name.clone());
        let url = pg::create_database(&args.pg_admin_url, &name).await?;
        eprintln!(
            "ceiling: Store::insert_payment_bundle from {} tasks",
            args.concurrency
        );
        Some(ceiling::run(&url, timing).await?)
    };
    distributed::print(
        &figures,
        ceiling.as_ref(),
        args.concurrency,
        &command_line(),
    );
    Ok(())
}

/// The standalone child's database: (backend, description, URL).
async fn standalone_database(
    args: &Args,
    cleanup: &mut Cleanup,
    pid: u32,
    data_dir: &std::path::Path,
) -> anyhow::Result<(&'static str, String, String)> {
    Ok(match args.backend {
        Backend::Sqlite => {
            let url = format!("sqlite://{}", data_dir.join("nexpay.db").display());
            (
                "sqlite",
                "SQLite (bundled), WAL, synchronous=FULL, single writer connection".to_owned(),
                url,
            )
        }
        Backend::Postgres => {
            let name = format!("nexpay_bench_{pid}");
            cleanup.pg_databases.push(name.clone());
            let url = pg::create_database(&args.pg_admin_url, &name).await?;
            let detail =
                pg::server_info(&args.pg_admin_url).unwrap_or_else(|| "PostgreSQL".to_owned());
            (
                "postgres",
                format!("{detail}, pool of DB_MAX_CONNECTIONS (default 16) connections"),
                url,
            )
        }
    })
}

/// The child's configuration as the reports state it.
fn child_config(args: &Args) -> String {
    let overrides: Vec<String> = child::BENCH_ENV
        .iter()
        .filter(|(k, _)| !args.child_env.iter().any(|(name, _)| name == k))
        .map(|(k, v)| format!("{k}={v}"))
        .chain(args.child_env.iter().map(|(k, v)| format!("{k}={v}")))
        .collect();
    format!(
        "shipped defaults except {} (per-key rate limit raised for the load)",
        overrides.join(" ")
    )
}

fn provider_options(args: &Args) -> providers::Options {
    providers::Options {
        levels: args.initiate_concurrency.clone(),
        warmup: Duration::from_secs(args.warmup),
        duration: Duration::from_secs(args.duration),
        payments: args.webhook_payments,
        parallel: args.webhook_parallel,
        poll: Duration::from_millis(args.poll_ms),
        sim_api_delay: Duration::from_millis(args.sim_api_delay_ms),
    }
}

async fn run_providers(args: &Args, cleanup: &mut Cleanup) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.initiate_concurrency.iter().all(|&c| c > 0),
        "--initiate-concurrency values must be at least 1"
    );
    anyhow::ensure!(
        args.webhook_payments > 0 && args.webhook_parallel > 0,
        "--webhook-payments and --webhook-parallel must be at least 1"
    );
    let bin = child::locate_binary(args.nexpay_bin.as_deref())?;
    let (_, pid, data_dir) = prepare(args, cleanup)?;
    let opts = provider_options(args);
    if args.distributed {
        let bin_dir = bin
            .parent()
            .ok_or_else(|| anyhow::anyhow!("{} has no directory", bin.display()))?
            .to_owned();
        let name = format!("nexpay_bench_{pid}");
        cleanup.pg_databases.push(name.clone());
        let url = pg::create_database(&args.pg_admin_url, &name).await?;
        let detail = pg::server_info(&args.pg_admin_url).unwrap_or_else(|| "PostgreSQL".to_owned());
        let services = cleanup.services.insert(
            distributed::Services::start(&bin_dir, &data_dir, &url, &args.child_env, true).await?,
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
        let gw = services.gateway();
        let wiring = providers::Wiring {
            api_base: gw.base_url.clone(),
            sim_base: services.service(distributed::SANDBOX).base_url.clone(),
            write_key: gw.write_key.clone(),
            database_url: url,
            pids: services.pids(),
        };
        let measured = providers::measure(&wiring, &opts).await;
        services.check_alive("the provider flows")?;
        let figures = measured?;
        cleanup.stop_services().await;
        figures.print(&providers::RunInfo {
            wiring: "distributed (gateway, payments, provider-adapter, webhook-dispatcher, \
                     dashboard and sandbox, one process each, over RabbitMQ and Redis)"
                .to_owned(),
            database: detail,
            child_config: child_config(args),
            command: command_line(),
        });
        return Ok(());
    }
    let (backend, backend_detail, database_url) =
        standalone_database(args, cleanup, pid, &data_dir).await?;
    eprintln!(
        "starting {} ({backend}) on {}",
        bin.display(),
        data_dir.display()
    );
    let inst = cleanup
        .instance
        .insert(Instance::start(&bin, &data_dir, &database_url, &args.child_env).await?);
    eprintln!("ready at {} (pid {}); idling 1 s", inst.base_url, inst.pid);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let wiring = providers::Wiring {
        api_base: inst.base_url.clone(),
        sim_base: inst.base_url.clone(),
        write_key: inst.write_key.clone(),
        database_url,
        pids: vec![inst.pid],
    };
    let measured = providers::measure(&wiring, &opts).await;
    check_alive(cleanup, "the provider flows")?;
    let figures = measured?;
    cleanup.stop_child().await;
    figures.print(&providers::RunInfo {
        wiring: format!("standalone (one `nexpay` process), {backend}"),
        database: backend_detail,
        child_config: child_config(args),
        command: command_line(),
    });
    Ok(())
}

async fn run_webhooks(args: &Args, cleanup: &mut Cleanup) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.webhook_deliveries > 0 && args.webhook_payments > 0 && args.webhook_parallel > 0,
        "--webhook-deliveries, --webhook-payments and --webhook-parallel must be at least 1"
    );
    let bin = child::locate_binary(args.nexpay_bin.as_deref())?;
    let (_, pid, data_dir) = prepare(args, cleanup)?;
    let opts = webhooks::Options {
        deliveries: args.webhook_deliveries,
        load_per_sec: args.webhook_load,
        payments: args.webhook_payments,
        parallel: args.webhook_parallel,
    };
    let receiver = webhooks::Receiver::start().await?;
    let mut throughput = Vec::new();
    let mut e2e = Vec::new();
    let wiring_text;
    if args.distributed {
        let bin_dir = bin
            .parent()
            .ok_or_else(|| anyhow::anyhow!("{} has no directory", bin.display()))?
            .to_owned();
        let name = format!("nexpay_bench_{pid}");
        cleanup.pg_databases.push(name.clone());
        let url = pg::create_database(&args.pg_admin_url, &name).await?;
        let services = cleanup.services.insert(
            distributed::Services::start(&bin_dir, &data_dir, &url, &args.child_env, true).await?,
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
        let store = webhooks::connect(&url).await?;
        let endpoint = webhooks::create_endpoint(&store, &data_dir, &receiver.url, "test").await?;
        let wiring = webhooks::Wiring {
            api_base: services.gateway().base_url.clone(),
            write_key: services.gateway().write_key.clone(),
        };
        let mut running = 1;
        for &n in &args.dispatchers {
            while running < n {
                services.add_replica("webhook-dispatcher").await?;
                running += 1;
            }
            eprintln!("{n} dispatcher(s): {} deliveries", opts.deliveries);
            let t = webhooks::throughput(
                &store,
                &endpoint,
                &receiver,
                opts.deliveries,
                n,
                &services.pids(),
                &format!("d{n}"),
            )
            .await?;
            eprintln!("  {:.0} deliveries/s", t.rate());
            throughput.push(t);
            eprintln!(
                "{n} dispatcher(s): end to end, {} payments under {}/s of background deliveries",
                opts.payments, opts.load_per_sec
            );
            let load = webhooks::create_endpoint(&store, &data_dir, &receiver.url, "live").await?;
            let e = webhooks::end_to_end(&wiring, &store, &load, &receiver, &opts, n).await?;
            eprintln!(
                "  p50 {:.1} ms, p99 {:.1} ms",
                e.latency.q(0.5),
                e.latency.q(0.99)
            );
            e2e.push(e);
            services.check_alive("the webhook phases")?;
        }
        cleanup.stop_services().await;
        wiring_text =
            "distributed (one process per service, webhook-dispatcher replicas as listed)"
                .to_owned();
    } else {
        let (backend, _, database_url) = standalone_database(args, cleanup, pid, &data_dir).await?;
        let inst = cleanup
            .instance
            .insert(Instance::start(&bin, &data_dir, &database_url, &args.child_env).await?);
        tokio::time::sleep(Duration::from_secs(1)).await;
        let wiring = webhooks::Wiring {
            api_base: inst.base_url.clone(),
            write_key: inst.write_key.clone(),
        };
        let pids = vec![inst.pid];
        let store = webhooks::connect(&database_url).await?;
        let endpoint = webhooks::create_endpoint(&store, &data_dir, &receiver.url, "test").await?;
        let t = webhooks::throughput(&store, &endpoint, &receiver, opts.deliveries, 1, &pids, "s")
            .await?;
        eprintln!("  {:.0} deliveries/s", t.rate());
        throughput.push(t);
        let load = webhooks::create_endpoint(&store, &data_dir, &receiver.url, "live").await?;
        let e = webhooks::end_to_end(&wiring, &store, &load, &receiver, &opts, 1).await?;
        eprintln!(
            "  p50 {:.1} ms, p99 {:.1} ms",
            e.latency.q(0.5),
            e.latency.q(0.99)
        );
        e2e.push(e);
        check_alive(cleanup, "the webhook phases")?;
        cleanup.stop_child().await;
        wiring_text = format!("standalone (one `nexpay` process), {backend}");
    }
    webhooks::print(&wiring_text, &command_line(), &throughput, &e2e);
    Ok(())
}

async fn run_checkout(args: &Args, cleanup: &mut Cleanup) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.checkout_sessions >= 2,
        "--checkout-sessions must be at least 2 (one per page state)"
    );
    let bin = child::locate_binary(args.nexpay_bin.as_deref())?;
    let (_, pid, data_dir) = prepare(args, cleanup)?;
    let opts = checkout::Options {
        sessions: args.checkout_sessions,
        concurrency: args.concurrency,
        warmup: Duration::from_secs(args.warmup),
        duration: Duration::from_secs(args.duration),
    };
    if args.distributed {
        let bin_dir = bin
            .parent()
            .ok_or_else(|| anyhow::anyhow!("{} has no directory", bin.display()))?
            .to_owned();
        let name = format!("nexpay_bench_{pid}");
        cleanup.pg_databases.push(name.clone());
        let url = pg::create_database(&args.pg_admin_url, &name).await?;
        let detail = pg::server_info(&args.pg_admin_url).unwrap_or_else(|| "PostgreSQL".to_owned());
        // The sandbox: choosing Wave on the page reaches the Wave simulator.
        let services = cleanup.services.insert(
            distributed::Services::start(&bin_dir, &data_dir, &url, &args.child_env, true).await?,
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (gw, dashboard) = (services.gateway(), services.service("dashboard"));
        let wiring = checkout::Wiring {
            api_base: gw.base_url.clone(),
            page_base: dashboard.base_url.clone(),
            write_key: gw.write_key.clone(),
            pids: vec![dashboard.pid],
        };
        let measured = checkout::measure(&wiring, &opts).await;
        services.check_alive("the checkout phases")?;
        let figures = measured?;
        cleanup.stop_services().await;
        figures.print(&checkout::RunInfo {
            wiring: "distributed (the page served by the dashboard service; sessions created \
                     through the gateway)"
                .to_owned(),
            database: detail,
            child_config: child_config(args),
            command: command_line(),
            postgres: true,
        });
        return checked(args, &figures);
    }
    let (backend, backend_detail, database_url) =
        standalone_database(args, cleanup, pid, &data_dir).await?;
    eprintln!(
        "starting {} ({backend}) on {}",
        bin.display(),
        data_dir.display()
    );
    let inst = cleanup
        .instance
        .insert(Instance::start(&bin, &data_dir, &database_url, &args.child_env).await?);
    eprintln!("ready at {} (pid {}); idling 1 s", inst.base_url, inst.pid);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let wiring = checkout::Wiring {
        api_base: inst.base_url.clone(),
        page_base: inst.base_url.clone(),
        write_key: inst.write_key.clone(),
        pids: vec![inst.pid],
    };
    let measured = checkout::measure(&wiring, &opts).await;
    check_alive(cleanup, "the checkout phases")?;
    let figures = measured?;
    cleanup.stop_child().await;
    figures.print(&checkout::RunInfo {
        wiring: format!("standalone (one `nexpay` process), {backend}"),
        database: backend_detail,
        child_config: child_config(args),
        command: command_line(),
        postgres: args.backend == Backend::Postgres,
    });
    checked(args, &figures)
}

/// With `--check-targets`, a missed checkout target is an error.
fn checked(args: &Args, figures: &checkout::Figures) -> anyhow::Result<()> {
    let missed: Vec<String> = figures
        .targets()
        .into_iter()
        .filter(|t| !t.pass)
        .map(|t| format!("{}: {}", t.name, t.measured))
        .collect();
    anyhow::ensure!(
        !args.check_targets || missed.is_empty(),
        "checkout targets missed: {}",
        missed.join("; ")
    );
    Ok(())
}

async fn run(args: &Args, cleanup: &mut Cleanup) -> anyhow::Result<()> {
    if args.scenario == Scenario::Checkout {
        return run_checkout(args, cleanup).await;
    }
    if args.scenario == Scenario::Providers {
        return run_providers(args, cleanup).await;
    }
    if args.scenario == Scenario::Webhooks {
        return run_webhooks(args, cleanup).await;
    }
    if args.distributed {
        return run_distributed(args, cleanup).await;
    }
    let bin = child::locate_binary(args.nexpay_bin.as_deref())?;
    let (timing, pid, data_dir) = prepare(args, cleanup)?;

    let (backend, backend_detail, database_url) =
        standalone_database(args, cleanup, pid, &data_dir).await?;

    eprintln!(
        "starting {} ({backend}) on {}",
        bin.display(),
        data_dir.display()
    );
    let inst = cleanup
        .instance
        .insert(Instance::start(&bin, &data_dir, &database_url, &args.child_env).await?);
    eprintln!("ready at {} (pid {}); idling 1 s", inst.base_url, inst.pid);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_rss_kb = inst.status_kb("VmRSS")?;
    let http_timing = Timing {
        server_pid: Some(inst.pid),
        ..timing
    };
    let (base_url, write_key, read_key) = (
        inst.base_url.clone(),
        inst.write_key.clone(),
        inst.read_key.clone(),
    );

    eprintln!(
        "session creation: {} connections, {} s + {} s warm-up",
        args.concurrency, args.duration, args.warmup
    );
    let (create, ids) = load::create_sessions(&base_url, &write_key, http_timing).await?;
    eprintln!(
        "  {:.0}/s, p99 {:.2} ms, errors: {}",
        create.rate(),
        create.p99_ms,
        create.errors_summary()
    );
    check_alive(cleanup, "session creation")?;
    let sessions_in_pool = ids.len();
    let read = if ids.is_empty() {
        eprintln!("session reads: skipped, no session was created");
        None
    } else {
        eprintln!("session reads over {sessions_in_pool} sessions");
        let r = load::read_sessions(&base_url, &read_key, Arc::new(ids), http_timing).await?;
        eprintln!(
            "  {:.0}/s, p99 {:.2} ms, errors: {}",
            r.rate(),
            r.p99_ms,
            r.errors_summary()
        );
        Some(r)
    };
    check_alive(cleanup, "session reads")?;
    let baseline = if args.baseline {
        eprintln!("HTTP baseline: GET /health/live");
        let b = load::http_baseline(&base_url, http_timing).await?;
        eprintln!(
            "  {:.0}/s, p99 {:.2} ms, errors: {}",
            b.rate(),
            b.p99_ms,
            b.errors_summary()
        );
        check_alive(cleanup, "the HTTP baseline")?;
        Some(b)
    } else {
        None
    };
    let peak_rss_kb = cleanup
        .instance
        .as_ref()
        .map(|i| i.status_kb("VmHWM"))
        .transpose()?
        .unwrap_or(0);
    if create.error_count() > 0 || read.as_ref().is_some_and(|r| r.error_count() > 0) {
        if let Some(i) = &cleanup.instance {
            eprintln!("last lines of the nexpay log:\n{}", i.log_tail(15));
        }
    }
    // The child is stopped before the ceiling runs so that both get the whole machine.
    cleanup.stop_child().await;

    let ceiling = if args.no_ceiling {
        None
    } else {
        let url = match args.backend {
            Backend::Sqlite => {
                let dir = child::temp_dir("ceiling")?;
                cleanup.dirs.push(dir.clone());
                format!("sqlite://{}", dir.join("ceiling.db").display())
            }
            Backend::Postgres => {
                let name = format!("nexpay_bench_{pid}_ceiling");
                cleanup.pg_databases.push(name.clone());
                pg::create_database(&args.pg_admin_url, &name).await?
            }
        };
        eprintln!(
            "ceiling: Store::insert_payment_bundle from {} tasks",
            args.concurrency
        );
        let c = ceiling::run(&url, timing).await?;
        eprintln!(
            "  {:.0}/s, p99 {:.2} ms, errors: {}",
            c.rate(),
            c.p99_ms,
            c.errors_summary()
        );
        Some(c)
    };

    let report = Report {
        backend,
        backend_detail,
        child_config: child_config(args),
        concurrency: args.concurrency,
        duration_secs: args.duration,
        warmup_secs: args.warmup,
        command: command_line(),
        create,
        read,
        ceiling,
        baseline,
        idle_rss_kb,
        peak_rss_kb,
        sessions_in_pool,
        stop: cleanup.stop.clone().unwrap_or_default(),
    };
    report.print();
    Ok(())
}

fn parse_env_pair(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("{s:?} is not KEY=VALUE")),
    }
}

fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut cmd = "cargo run --release -p nexpay-bench".to_owned();
    if !args.is_empty() {
        cmd.push_str(" -- ");
        cmd.push_str(&args.join(" "));
    }
    cmd
}
