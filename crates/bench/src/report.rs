//! The results: a table, the targets with PASS/MISS, and a markdown block for
//! docs/benchmarks.md.

use std::fmt::Write as _;

use crate::stats::PhaseResult;

pub struct Report {
    pub backend: &'static str,
    pub backend_detail: String,
    /// "shipped defaults", or the `--child-env` overrides.
    pub child_config: String,
    pub concurrency: usize,
    pub duration_secs: u64,
    pub warmup_secs: u64,
    pub command: String,
    pub create: PhaseResult,
    pub read: Option<PhaseResult>,
    pub ceiling: Option<PhaseResult>,
    pub baseline: Option<PhaseResult>,
    pub idle_rss_kb: u64,
    pub peak_rss_kb: u64,
    pub sessions_in_pool: usize,
    pub stop: String,
}

pub struct Target {
    pub name: String,
    pub measured: String,
    pub pass: bool,
}

fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
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

impl Report {
    fn phases(&self) -> Vec<&PhaseResult> {
        let mut phases = vec![&self.create];
        phases.extend(self.read.as_ref());
        phases.extend(self.ceiling.as_ref());
        phases.extend(self.baseline.as_ref());
        phases
    }

    /// creation / ceiling, when the ceiling was measured.
    pub fn ratio(&self) -> Option<f64> {
        let c = self.ceiling.as_ref()?.rate();
        (c > 0.0).then(|| self.create.rate() / c)
    }

    /// Phases during which something besides nexpay, the load generator and PostgreSQL
    /// kept a good part of the machine busy (a build, a test suite...).
    pub fn noise_warnings(&self) -> Vec<String> {
        self.phases()
            .into_iter()
            .filter_map(|p| {
                let ours =
                    p.cpu.server_cores.unwrap_or(0.0) + p.cpu.bench_cores + p.cpu.postgres_cores;
                let other = p.cpu.machine_cores - ours;
                (other > 0.4).then(|| {
                    format!(
                        "during {}, other processes (or kernel I/O threads) used {other:.2} cores: \
                         on a busy machine the figures are low and noisy",
                        p.name
                    )
                })
            })
            .collect()
    }

    pub fn targets(&self) -> Vec<Target> {
        let mut t = Vec::new();
        if let (Some(ratio), Some(c)) = (self.ratio(), &self.ceiling) {
            t.push(Target {
                name: "session creation >= 0.5 x ceiling".into(),
                measured: format!(
                    "{:.0}/s vs ceiling {:.0}/s = {ratio:.2} x",
                    self.create.rate(),
                    c.rate()
                ),
                pass: ratio >= 0.5,
            });
        }
        let reads = self.read.as_ref().map(|r| r.rate()).unwrap_or(0.0);
        t.push(Target {
            name: "session reads >= 10,000/s".into(),
            measured: format!("{reads:.0}/s"),
            pass: reads >= 10_000.0,
        });
        let at = if self.concurrency == 32 {
            "at 32 connections".to_owned()
        } else {
            format!(
                "at {} connections (target is stated at 32)",
                self.concurrency
            )
        };
        t.push(Target {
            name: format!("creation p99 < 10 ms {at}"),
            measured: format!("{} ms", ms(self.create.p99_ms)),
            pass: self.create.p99_ms < 10.0,
        });
        let read_p99 = self.read.as_ref().map(|r| r.p99_ms).unwrap_or(f64::NAN);
        t.push(Target {
            name: format!("read p99 < 10 ms {at}"),
            measured: format!("{} ms", ms(read_p99)),
            pass: read_p99 < 10.0,
        });
        t.push(Target {
            name: "idle RSS < 30 MB".into(),
            measured: format!("{:.1} MB", mb(self.idle_rss_kb)),
            pass: mb(self.idle_rss_kb) < 30.0,
        });
        t
    }

    pub fn print(&self) {
        println!();
        println!(
            "NexPay benchmark, backend {} ({}), {} connections, {} s (+{} s warm-up) per phase",
            self.backend,
            self.backend_detail,
            self.concurrency,
            self.duration_secs,
            self.warmup_secs
        );
        println!("nexpay configuration: {}", self.child_config);
        println!();
        print_phase_table(self.phases());
        println!("(CPU in cores busy on average: srv = the nexpay child, gen = this process, the load generator,");
        println!(" PG = every postgres process, all = the whole machine; for the ceiling, gen is the store itself)");
        for w in self.noise_warnings() {
            println!("warning: {w}");
        }
        println!();
        println!(
            "idle RSS {:.1} MB, peak RSS (VmHWM) {:.1} MB",
            mb(self.idle_rss_kb),
            mb(self.peak_rss_kb)
        );
        match self.ratio() {
            Some(r) => println!("creation / ceiling = {r:.2}"),
            None => println!("creation / ceiling: no ceiling measured"),
        }
        println!(
            "sessions read from a pool of {}; child {}",
            self.sessions_in_pool, self.stop
        );
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
        println!("{}", self.markdown());
        println!("--- end ---");
    }

    pub fn markdown(&self) -> String {
        let m = crate::machine::describe();
        let mut s = String::new();
        let _ = writeln!(
            s,
            "### {} — {}",
            self.backend,
            chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
        );
        let _ = writeln!(s);
        let _ = writeln!(s, "- Machine: {m}");
        let _ = writeln!(s, "- Database: {}", self.backend_detail);
        let _ = writeln!(s, "- nexpay configuration: {}", self.child_config);
        let _ = writeln!(s, "- Command: `{}`", self.command);
        let _ = writeln!(s, "- Load: {} connections (one keep-alive client each), {} s measured after a {} s warm-up, load generator on the same machine", self.concurrency, self.duration_secs, self.warmup_secs);
        let _ = writeln!(s);
        let _ = writeln!(s, "| measure | requests/s | p50 ms | p99 ms | nexpay CPU (cores) | nexpay CPU µs/request | load generator CPU (cores) | PostgreSQL CPU (cores) | machine CPU (cores) | errors |");
        let _ = writeln!(
            s,
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
        );
        for p in self.phases() {
            let _ = writeln!(
                s,
                "| {} | {:.0} | {} | {} | {} | {} | {:.2} | {:.2} | {:.2} | {} |",
                p.name,
                p.rate(),
                ms(p.p50_ms),
                ms(p.p99_ms),
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
        let ratio = self
            .ratio()
            .map(|r| format!("{r:.2}"))
            .unwrap_or_else(|| "-".into());
        let _ = writeln!(
            s,
            "Idle RSS {:.1} MB, peak RSS {:.1} MB, creation / ceiling {ratio}.",
            mb(self.idle_rss_kb),
            mb(self.peak_rss_kb)
        );
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

/// The plain-text table of phases every scenario prints.
pub fn print_phase_table<'a>(phases: impl IntoIterator<Item = &'a PhaseResult>) {
    println!(
        "{:<40} {:>9} {:>8} {:>8} {:>8} {:>8} {:>9} {:>8} {:>8} {:>8}  errors",
        "phase",
        "ops/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "srv CPU",
        "srv µs/op",
        "gen CPU",
        "PG CPU",
        "all CPU"
    );
    for p in phases {
        println!(
            "{:<40} {:>9.0} {:>8} {:>8} {:>8} {:>8} {:>9} {:>8.2} {:>8.2} {:>8.2}  {}",
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
}
