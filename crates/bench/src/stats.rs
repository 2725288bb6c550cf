//! Per-phase counters: successful requests with their latencies, errors by kind.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// The measured part of a phase: after the warm-up, before the deadline. A request
/// counts when it STARTED inside the window.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub measure_from: Instant,
    pub until: Instant,
}

impl Window {
    pub fn starting_now(warmup: Duration, duration: Duration) -> Window {
        let now = Instant::now();
        Window {
            measure_from: now + warmup,
            until: now + warmup + duration,
        }
    }

    pub fn counts(&self, started: Instant) -> bool {
        started >= self.measure_from && started < self.until
    }

    pub fn over(&self) -> bool {
        Instant::now() >= self.until
    }
}

/// Average CPU use over the measured window, in cores (1.0 = one core busy).
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuUse {
    /// The `nexpay` child, when there is one.
    pub server_cores: Option<f64>,
    /// This process: the load generator (and, for the ceiling, the store itself).
    pub bench_cores: f64,
    /// The whole machine (every process: nexpay, the database server, this one, and
    /// anything else running), from /proc/stat.
    pub machine_cores: f64,
    /// Every `postgres` process of the machine (the local database server).
    pub postgres_cores: f64,
}

/// CPU seconds (user + system) used so far by `pid` (`None`: this process), from
/// `/proc/<pid>/stat`.
pub fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let path = pid.map_or_else(
        || "/proc/self/stat".to_owned(),
        |p| format!("/proc/{p}/stat"),
    );
    let text = std::fs::read_to_string(path).ok()?;
    // Fields after the command name (which may contain spaces) start with the state
    // (field 3); utime and stime are fields 14 and 15, in clock ticks.
    let rest = text.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / CLOCK_TICKS_PER_SEC)
}

/// Busy CPU seconds of the whole machine so far (all CPUs: user, nice, system, irq,
/// softirq, steal), from the first line of /proc/stat.
pub fn machine_busy_seconds() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let f: Vec<u64> = text
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal ...
    let busy =
        f.first()? + f.get(1)? + f.get(2)? + f.get(5)? + f.get(6)? + f.get(7).copied().unwrap_or(0);
    Some(busy as f64 / CLOCK_TICKS_PER_SEC)
}

/// CPU seconds used so far by every process named `postgres`.
pub fn postgres_seconds() -> f64 {
    named_seconds("postgres")
}

/// CPU seconds used so far by every process whose command name is `comm` (as in
/// `/proc/<pid>/comm`: `postgres`, `beam.smp` for RabbitMQ, `redis-server`).
pub fn named_seconds(comm: &str) -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == comm)
        })
        .filter_map(|pid| cpu_seconds(Some(pid)))
        .sum()
}

/// `getconf CLK_TCK` on every Linux architecture this runs on.
const CLOCK_TICKS_PER_SEC: f64 = 100.0;

/// CPU counters at one instant: the server processes (summed), this process, the
/// machine and every `postgres` process.
#[derive(Debug, Clone, Copy)]
pub struct CpuSnapshot {
    server: Option<f64>,
    bench: Option<f64>,
    machine: Option<f64>,
    postgres: f64,
    at: Instant,
}

impl CpuSnapshot {
    /// `server_pids` empty: no server column.
    pub fn take(server_pids: &[u32]) -> CpuSnapshot {
        let server = if server_pids.is_empty() {
            None
        } else {
            server_pids
                .iter()
                .map(|p| cpu_seconds(Some(*p)))
                .sum::<Option<f64>>()
        };
        CpuSnapshot {
            server,
            bench: cpu_seconds(None),
            machine: machine_busy_seconds(),
            postgres: postgres_seconds(),
            at: Instant::now(),
        }
    }

    /// Average use between `self` and the later snapshot `end`.
    pub fn until(&self, end: &CpuSnapshot) -> CpuUse {
        let secs = (end.at - self.at).as_secs_f64().max(1e-9);
        CpuUse {
            server_cores: self.server.zip(end.server).map(|(a, b)| (b - a) / secs),
            bench_cores: self
                .bench
                .zip(end.bench)
                .map(|(a, b)| (b - a) / secs)
                .unwrap_or(0.0),
            machine_cores: self
                .machine
                .zip(end.machine)
                .map(|(a, b)| (b - a) / secs)
                .unwrap_or(0.0),
            // Backends that exited during the window drop out of the sum: never below zero.
            postgres_cores: ((end.postgres - self.postgres) / secs).max(0.0),
        }
    }
}

/// Samples CPU time at the start and end of `window`; the server column sums the CPU
/// of `server_pids` (none: no server column; several: the distributed services).
pub async fn sample_cpu_of(window: Window, server_pids: Vec<u32>) -> CpuUse {
    tokio::time::sleep_until(window.measure_from.into()).await;
    let start = CpuSnapshot::take(&server_pids);
    tokio::time::sleep_until(window.until.into()).await;
    let end = CpuSnapshot::take(&server_pids);
    let mut cpu = start.until(&end);
    // The window's nominal length, as before, rather than the sampled one.
    let secs = (window.until - window.measure_from).as_secs_f64().max(1e-9);
    let scale = (end.at - start.at).as_secs_f64().max(1e-9) / secs;
    cpu.server_cores = cpu.server_cores.map(|c| c * scale);
    cpu.bench_cores *= scale;
    cpu.machine_cores *= scale;
    cpu.postgres_cores *= scale;
    cpu
}

/// What one worker saw; workers' recorders are merged at the end of a phase.
pub struct Recorder {
    hist: Histogram<u64>,
    ok: u64,
    errors: BTreeMap<String, u64>,
    pub cpu: CpuUse,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder::new()
    }
}

impl Recorder {
    pub fn new() -> Recorder {
        // Microseconds, from 1 µs to 2 minutes, 3 significant digits.
        let hist = Histogram::new_with_bounds(1, 120_000_000, 3)
            .expect("static histogram bounds are valid");
        Recorder {
            hist,
            ok: 0,
            errors: BTreeMap::new(),
            cpu: CpuUse::default(),
        }
    }

    pub fn ok(&mut self, latency: Duration) {
        self.ok += 1;
        let micros = u64::try_from(latency.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        self.hist.saturating_record(micros);
    }

    pub fn error(&mut self, kind: String) {
        *self.errors.entry(kind).or_insert(0) += 1;
    }

    pub fn merge(&mut self, other: Recorder) {
        // Same bounds on both sides: adding cannot fail.
        let _ = self.hist.add(&other.hist);
        self.ok += other.ok;
        for (k, n) in other.errors {
            *self.errors.entry(k).or_insert(0) += n;
        }
    }

    pub fn finish(self, name: &'static str, duration: Duration) -> PhaseResult {
        let ms = |q: f64| {
            if self.hist.is_empty() {
                f64::NAN
            } else {
                self.hist.value_at_quantile(q) as f64 / 1000.0
            }
        };
        PhaseResult {
            name,
            ok: self.ok,
            seconds: duration.as_secs_f64(),
            p50_ms: ms(0.50),
            p99_ms: ms(0.99),
            max_ms: if self.hist.is_empty() {
                f64::NAN
            } else {
                self.hist.max() as f64 / 1000.0
            },
            errors: self.errors,
            cpu: self.cpu,
        }
    }
}

/// A finished phase: successful operations per second and their latency.
#[derive(Debug, Clone)]
pub struct PhaseResult {
    pub name: &'static str,
    pub ok: u64,
    pub seconds: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub errors: BTreeMap<String, u64>,
    pub cpu: CpuUse,
}

impl PhaseResult {
    /// Server CPU time per successful request, in microseconds.
    pub fn server_cpu_us_per_op(&self) -> Option<f64> {
        let cores = self.cpu.server_cores?;
        (self.ok > 0).then(|| cores * self.seconds * 1e6 / self.ok as f64)
    }

    pub fn rate(&self) -> f64 {
        if self.seconds > 0.0 {
            self.ok as f64 / self.seconds
        } else {
            0.0
        }
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// "none", or "12 (HTTP 503: 10, timeout: 2)".
    pub fn errors_summary(&self) -> String {
        if self.errors.is_empty() {
            return "none".to_owned();
        }
        let kinds: Vec<String> = self
            .errors
            .iter()
            .map(|(k, n)| format!("{k}: {n}"))
            .collect();
        format!("{} ({})", self.error_count(), kinds.join(", "))
    }
}
