//! `--distributed`: the five release service binaries as child processes (one replica
//! each) over the machine's PostgreSQL (fresh database), RabbitMQ (fresh vhost, made
//! with `rabbitmqctl`) and Redis (a fresh key prefix); session creation goes
//! gateway → RabbitMQ → payments → PostgreSQL, reads gateway → Redis/PostgreSQL.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::child::Instance;
use crate::load::{self, Timing};
use crate::stats::{self, PhaseResult, Window};

/// Start order: the dashboard bootstraps the default project and writes the keys.
pub const SERVICES: &[&str] = &[
    "dashboard",
    "payments",
    "provider-adapter",
    "webhook-dispatcher",
    "gateway",
];

/// The provider simulators' service (`--scenario providers` only).
pub const SANDBOX: &str = "sandbox";

pub struct Services {
    pub instances: Vec<(&'static str, Instance)>,
    pub vhost: String,
    pub redis_prefix: String,
    /// What [`Services::add_replica`] starts another process with.
    bin_dir: std::path::PathBuf,
    data_dir: std::path::PathBuf,
    database_url: String,
    env: Vec<(String, String)>,
}

fn rabbitmqctl(args: &[&str]) -> anyhow::Result<()> {
    let out = std::process::Command::new("rabbitmqctl")
        .arg("--quiet")
        .args(args)
        .output()
        .context("running rabbitmqctl (is RabbitMQ installed here?)")?;
    anyhow::ensure!(
        out.status.success(),
        "rabbitmqctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

impl Services {
    /// `with_sandbox`: also the `sandbox` service (the provider simulators), started
    /// last on a port chosen beforehand: provider-adapter's test-mode connectors reach
    /// it directly (`SANDBOX_URL`) and it sends its webhooks straight to
    /// provider-adapter (`SANDBOX_CALLBACK_URL`), the two routes Traefik serves in
    /// production; payer pages are at its own URL.
    pub async fn start(
        bin_dir: &Path,
        data_dir: &Path,
        database_url: &str,
        extra_env: &[(String, String)],
        with_sandbox: bool,
    ) -> anyhow::Result<Services> {
        let extra: &[&str] = if with_sandbox { &[SANDBOX] } else { &[] };
        for s in SERVICES.iter().chain(extra) {
            let bin = bin_dir.join(format!("nexpay-{s}"));
            anyhow::ensure!(
                bin.is_file(),
                "{} is missing; build the services first:\n  cargo build --release -p nexpay-gateway \
                 -p nexpay-payments -p nexpay-provider-adapter -p nexpay-webhook-dispatcher -p nexpay-dashboard{}",
                bin.display(),
                if with_sandbox { " -p nexpay-sandbox-service" } else { "" }
            );
        }
        let sandbox_port = if with_sandbox {
            Some(crate::child::free_port()?)
        } else {
            None
        };
        let vhost = format!("nexpay_bench_{}", std::process::id());
        rabbitmqctl(&["add_vhost", &vhost])?;
        let redis_prefix = format!("nexpay_bench_{}:", std::process::id());
        let mut services = Services {
            instances: Vec::new(),
            vhost: vhost.clone(),
            redis_prefix: redis_prefix.clone(),
            bin_dir: bin_dir.to_owned(),
            data_dir: data_dir.to_owned(),
            database_url: database_url.to_owned(),
            env: Vec::new(),
        };
        rabbitmqctl(&["set_permissions", "-p", &vhost, "guest", ".*", ".*", ".*"])?;
        let mut env: Vec<(String, String)> = vec![
            (
                "AMQP_URL".into(),
                format!("amqp://guest:guest@127.0.0.1:5672/{vhost}"),
            ),
            ("REDIS_URL".into(), "redis://127.0.0.1:6379/0".into()),
            ("REDIS_KEY_PREFIX".into(), redis_prefix),
        ];
        env.extend(extra_env.iter().cloned());
        services.env = env.clone();
        for s in SERVICES {
            let bin = bin_dir.join(format!("nexpay-{s}"));
            eprintln!("starting {}", bin.display());
            let mut env = env.clone();
            if let (Some(port), &"provider-adapter") = (sandbox_port, s) {
                env.push(("SANDBOX_URL".into(), format!("http://127.0.0.1:{port}")));
            }
            match Instance::start_logging_to(
                &bin,
                &format!("{s}.log"),
                data_dir,
                database_url,
                &env,
            )
            .await
            {
                Ok(inst) => services.instances.push((s, inst)),
                Err(e) => {
                    services.stop().await;
                    return Err(e);
                }
            }
        }
        if let Some(port) = sandbox_port {
            let bin = bin_dir.join(format!("nexpay-{SANDBOX}"));
            eprintln!("starting {}", bin.display());
            let mut env = env.clone();
            env.push((
                "SANDBOX_CALLBACK_URL".into(),
                services.service("provider-adapter").base_url.clone(),
            ));
            match Instance::start_on_port(
                &bin,
                &format!("{SANDBOX}.log"),
                data_dir,
                database_url,
                &env,
                port,
            )
            .await
            {
                Ok(inst) => services.instances.push((SANDBOX, inst)),
                Err(e) => {
                    services.stop().await;
                    return Err(e);
                }
            }
        }
        Ok(services)
    }

    /// Starts one more replica of `service` (e.g. a second webhook-dispatcher).
    pub async fn add_replica(&mut self, service: &'static str) -> anyhow::Result<()> {
        let n = self.instances.iter().filter(|(s, _)| *s == service).count();
        let bin = self.bin_dir.join(format!("nexpay-{service}"));
        eprintln!("starting {} (replica {})", bin.display(), n + 1);
        let inst = Instance::start_logging_to(
            &bin,
            &format!("{service}-{}.log", n + 1),
            &self.data_dir,
            &self.database_url,
            &self.env,
        )
        .await?;
        self.instances.push((service, inst));
        Ok(())
    }

    pub fn service(&self, name: &str) -> &Instance {
        &self
            .instances
            .iter()
            .find(|(s, _)| *s == name)
            .unwrap_or_else(|| panic!("{name} was started"))
            .1
    }

    pub fn pids(&self) -> Vec<u32> {
        self.instances.iter().map(|(_, i)| i.pid).collect()
    }

    pub fn gateway(&self) -> &Instance {
        &self
            .instances
            .iter()
            .find(|(s, _)| *s == "gateway")
            .expect("the gateway was started")
            .1
    }

    /// (service, kB) of a `/proc/<pid>/status` field.
    pub fn memory(&self, field: &str) -> Vec<(&'static str, u64)> {
        self.instances
            .iter()
            .map(|(s, i)| (*s, i.status_kb(field).unwrap_or(0)))
            .collect()
    }

    /// Any service that died, with its log.
    pub fn check_alive(&mut self, phase: &str) -> anyhow::Result<()> {
        for (s, inst) in &mut self.instances {
            if let Some(status) = inst.exited() {
                anyhow::bail!(
                    "{s} exited during {phase}: {status}; last lines of its log:\n{}",
                    inst.log_tail(30)
                );
            }
        }
        Ok(())
    }

    pub async fn stop(&mut self) {
        for (_, inst) in self.instances.iter_mut().rev() {
            inst.stop(Duration::from_secs(10)).await;
        }
        self.instances.clear();
        if let Err(e) = rabbitmqctl(&["delete_vhost", &self.vhost]) {
            eprintln!("warning: could not delete vhost {}: {e:#}", self.vhost);
        }
        nexpay_testkit::distributed::delete_redis_prefix_blocking(&self.redis_prefix);
    }
}

/// CPU seconds of each process group taking part, at one instant.
struct CpuCounters {
    groups: Vec<(String, f64)>,
    at: std::time::Instant,
}

/// The infrastructure processes, by `/proc/<pid>/comm`.
const INFRA: &[(&str, &str)] = &[
    ("PostgreSQL", "postgres"),
    ("RabbitMQ", "beam.smp"),
    ("Redis", "redis-server"),
];

impl CpuCounters {
    fn take(services: &[(&'static str, u32)]) -> CpuCounters {
        let mut groups: Vec<(String, f64)> = services
            .iter()
            .map(|(s, pid)| (s.to_string(), stats::cpu_seconds(Some(*pid)).unwrap_or(0.0)))
            .collect();
        for (label, comm) in INFRA {
            groups.push((label.to_string(), stats::named_seconds(comm)));
        }
        groups.push((
            "load generator".into(),
            stats::cpu_seconds(None).unwrap_or(0.0),
        ));
        CpuCounters {
            groups,
            at: std::time::Instant::now(),
        }
    }

    /// Cores busy on average per group between `self` and `end`, plus the machine's.
    fn until(&self, end: &CpuCounters) -> Vec<(String, f64)> {
        let secs = (end.at - self.at).as_secs_f64().max(1e-9);
        self.groups
            .iter()
            .zip(&end.groups)
            .map(|((name, a), (_, b))| (name.clone(), ((b - a) / secs).max(0.0)))
            .collect()
    }
}

/// CPU of every process group over the measured window of a phase.
async fn sample_groups(window: Window, services: Vec<(&'static str, u32)>) -> Vec<(String, f64)> {
    tokio::time::sleep_until(window.measure_from.into()).await;
    let start = CpuCounters::take(&services);
    let machine_start = stats::machine_busy_seconds();
    tokio::time::sleep_until(window.until.into()).await;
    let end = CpuCounters::take(&services);
    let machine_end = stats::machine_busy_seconds();
    let mut cores = start.until(&end);
    if let (Some(a), Some(b)) = (machine_start, machine_end) {
        let secs = (end.at - start.at).as_secs_f64().max(1e-9);
        cores.push(("whole machine".into(), (b - a) / secs));
    }
    cores
}

pub struct Figures {
    pub create: PhaseResult,
    /// Cores busy per process group during the creation window.
    pub create_cpu: Vec<(String, f64)>,
    pub read: Option<PhaseResult>,
    pub idle_kb: Vec<(&'static str, u64)>,
    pub peak_kb: Vec<(&'static str, u64)>,
}

/// Runs both phases against the gateway.
pub async fn measure(services: &mut Services, timing: Timing) -> anyhow::Result<Figures> {
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_kb = services.memory("VmRSS");
    let gw = services.gateway();
    let (base_url, write_key, read_key) = (
        gw.base_url.clone(),
        gw.write_key.clone(),
        gw.read_key.clone(),
    );
    let timing = Timing {
        server_pid: Some(gw.pid),
        ..timing
    };
    eprintln!("distributed session creation through the gateway");
    let named: Vec<(&'static str, u32)> = services
        .instances
        .iter()
        .map(|(s, i)| (*s, i.pid))
        .collect();
    let groups = tokio::spawn(sample_groups(
        Window::starting_now(timing.warmup, timing.duration),
        named,
    ));
    let (create, ids) = load::create_sessions(&base_url, &write_key, timing).await?;
    let create_cpu = groups.await?;
    eprintln!(
        "  {:.0}/s, p99 {:.2} ms, errors: {}",
        create.rate(),
        create.p99_ms,
        create.errors_summary()
    );
    services.check_alive("session creation")?;
    let read = if ids.is_empty() {
        None
    } else {
        let r = load::read_sessions(&base_url, &read_key, Arc::new(ids), timing).await?;
        eprintln!(
            "  reads {:.0}/s, p99 {:.2} ms, errors: {}",
            r.rate(),
            r.p99_ms,
            r.errors_summary()
        );
        Some(r)
    };
    services.check_alive("session reads")?;
    let peak_kb = services.memory("VmHWM");
    Ok(Figures {
        create,
        create_cpu,
        read,
        idle_kb,
        peak_kb,
    })
}

fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

/// The distributed figures as markdown, against the targets.
pub fn print(figures: &Figures, ceiling: Option<&PhaseResult>, concurrency: usize, command: &str) {
    let c = &figures.create;
    println!("## Distributed (gateway → RabbitMQ → payments → PostgreSQL)\n");
    println!(
        "Command: `{command}`; {concurrency} connections; {}\n",
        crate::machine::describe()
    );
    println!("| phase | requests/s | p50 ms | p99 ms | errors |");
    println!("|---|---|---|---|---|");
    let row = |r: &PhaseResult, name: &str| {
        println!(
            "| {name} | {:.0} | {:.2} | {:.2} | {} |",
            r.rate(),
            r.p50_ms,
            r.p99_ms,
            r.errors_summary()
        );
    };
    row(c, "session creation");
    if let Some(r) = &figures.read {
        row(r, "session reads");
    }
    if let Some(ceil) = ceiling {
        row(ceil, "raw PostgreSQL insert ceiling");
    }
    if c.ok > 0 && !figures.create_cpu.is_empty() {
        println!("\nCPU during session creation (cores busy on average; µs of CPU per session created):\n");
        println!("| process | cores | µs per session |");
        println!("|---|---|---|");
        let per_op = |cores: f64| cores * c.seconds * 1e6 / c.ok as f64;
        let (machine, groups): (Vec<_>, Vec<_>) = figures
            .create_cpu
            .iter()
            .partition(|(name, _)| name == "whole machine");
        for (name, cores) in &groups {
            println!("| {name} | {cores:.2} | {:.0} |", per_op(*cores));
        }
        let counted: f64 = groups.iter().map(|(_, c)| c).sum();
        println!(
            "| all of the above | {counted:.2} | {:.0} |",
            per_op(counted)
        );
        for (name, cores) in &machine {
            println!("| {name} | {cores:.2} | {:.0} |", per_op(*cores));
        }
    }
    println!("\n| service | idle RSS MB | peak RSS MB |");
    println!("|---|---|---|");
    for ((s, idle), (_, peak)) in figures.idle_kb.iter().zip(&figures.peak_kb) {
        println!("| {s} | {:.1} | {:.1} |", mb(*idle), mb(*peak));
    }
    let idle_total: u64 = figures.idle_kb.iter().map(|(_, k)| k).sum();
    println!("| all five | {:.1} | |", mb(idle_total));
    println!("\n| target | measured | met |");
    println!("|---|---|---|");
    if let Some(ceil) = ceiling {
        let ratio = c.rate() / ceil.rate();
        println!(
            "| creation ≥ 1/3 of the raw insert ceiling | {ratio:.2} | {} |",
            if ratio >= 1.0 / 3.0 { "yes" } else { "no" }
        );
    }
    println!(
        "| creation p99 < 25 ms | {:.2} ms | {} |",
        c.p99_ms,
        if c.p99_ms < 25.0 { "yes" } else { "no" }
    );
    println!(
        "| all five services idle < 100 MB | {:.1} MB | {} |",
        mb(idle_total),
        if mb(idle_total) < 100.0 { "yes" } else { "no" }
    );
}
