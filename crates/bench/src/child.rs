//! The `nexpay` release binary as a child process: started on a temp data dir and a free
//! port, its first-start keys read back, its memory read from /proc, stopped with
//! SIGTERM (SIGKILL after 10 s).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use tokio::process::Child;

/// Written by the dashboard's bootstrap on the first start (see its `FirstStart::banner`).
const CREDENTIALS_FILE: &str = "first-start-credentials.txt";
/// Log of the standalone child; service children log to `<service>.log`.
pub const LOG_FILE: &str = "nexpay.log";
const ADMIN_EMAIL: &str = "bench@example.com";
const ADMIN_PASSWORD: &str = "Bench-Passw0rd-not-secret";

/// `nexpay` next to this executable: `cargo build --release` puts both in the same
/// `<target>/release/` directory.
pub fn locate_binary(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(p) = explicit {
        return match p.is_file() {
            true => Ok(p.to_owned()),
            false => Err(anyhow!("--nexpay-bin {} does not exist", p.display())),
        };
    }
    let exe = std::env::current_exe().context("cannot find the benchmark's own path")?;
    let dir = exe
        .parent()
        .ok_or_else(|| anyhow!("{} has no parent directory", exe.display()))?;
    let bin = dir.join("nexpay");
    if !bin.is_file() {
        bail!(
            "the release `nexpay` binary is missing: expected {}.\n\
             Build it first, with the same target directory as this benchmark:\n  \
             cargo build --release -p nexpay-standalone",
            bin.display()
        );
    }
    if !dir.ends_with("release") {
        eprintln!(
            "warning: {} is not a release build; the figures will not mean much",
            bin.display()
        );
    }
    Ok(bin)
}

/// A fresh, empty directory under the system temp dir.
pub fn temp_dir(label: &str) -> anyhow::Result<PathBuf> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!(
        "nexpay-bench-{label}-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

pub fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("cannot find a free port")?;
    Ok(listener.local_addr()?.port())
}

/// Set for the child before `--child-env` (which may override them): the load drives
/// ONE read key and ONE write key at thousands of requests per second, far above the
/// shipped per-key rate limit. The limiter still runs (a token is taken per request),
/// it just never refuses, so its cost stays in the figures.
pub const BENCH_ENV: &[(&str, &str)] = &[
    ("RATE_LIMIT_PER_SEC", "1000000"),
    ("RATE_LIMIT_BURST", "1000000"),
];

pub struct Instance {
    child: Option<Child>,
    log_file: String,
    pub pid: u32,
    pub base_url: String,
    pub data_dir: PathBuf,
    pub write_key: String,
    pub read_key: String,
}

impl Instance {
    /// Starts `bin` with a clean environment (nothing from the caller's shell leaks into
    /// the configuration) and waits until `/health/ready` answers 200.
    pub async fn start(
        bin: &Path,
        data_dir: &Path,
        database_url: &str,
        extra_env: &[(String, String)],
    ) -> anyhow::Result<Instance> {
        Self::start_logging_to(bin, LOG_FILE, data_dir, database_url, extra_env).await
    }

    /// [`Instance::start`] with the log in `data_dir/log_file` (several processes share
    /// one data dir in the distributed mode).
    pub async fn start_logging_to(
        bin: &Path,
        log_file: &str,
        data_dir: &Path,
        database_url: &str,
        extra_env: &[(String, String)],
    ) -> anyhow::Result<Instance> {
        Self::start_on_port(
            bin,
            log_file,
            data_dir,
            database_url,
            extra_env,
            free_port()?,
        )
        .await
    }

    /// [`Instance::start_logging_to`] on a port chosen beforehand (a service whose URL
    /// another one must know before it starts).
    pub async fn start_on_port(
        bin: &Path,
        log_file: &str,
        data_dir: &Path,
        database_url: &str,
        extra_env: &[(String, String)],
        port: u16,
    ) -> anyhow::Result<Instance> {
        let base_url = format!("http://127.0.0.1:{port}");
        let log = std::fs::File::create(data_dir.join(log_file))?;
        let child = tokio::process::Command::new(bin)
            .env_clear()
            .env("NEXPAY_DATA_DIR", data_dir)
            .env("DATABASE_URL", database_url)
            .env("HOST", "127.0.0.1")
            .env("PORT", port.to_string())
            .env("PUBLIC_URL", &base_url)
            .env("ADMIN_EMAIL", ADMIN_EMAIL)
            .env("ADMIN_PASSWORD", ADMIN_PASSWORD)
            .envs(BENCH_ENV.iter().copied())
            .envs(extra_env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let pid = child
            .id()
            .ok_or_else(|| anyhow!("the child exited at once"))?;
        let mut inst = Instance {
            child: Some(child),
            log_file: log_file.to_owned(),
            pid,
            base_url,
            data_dir: data_dir.to_owned(),
            write_key: String::new(),
            read_key: String::new(),
        };
        if let Err(e) = inst.wait_ready(Duration::from_secs(60)).await {
            return Err(e.context(format!(
                "{} did not become ready; last lines of its log:\n{}",
                bin.display(),
                inst.log_tail(20)
            )));
        }
        let (write_key, read_key) = read_keys(&data_dir.join(CREDENTIALS_FILE))?;
        inst.write_key = write_key;
        inst.read_key = read_key;
        Ok(inst)
    }

    async fn wait_ready(&mut self, limit: Duration) -> anyhow::Result<()> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()?;
        let url = format!("{}/health/ready", self.base_url);
        let deadline = Instant::now() + limit;
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait()? {
                    bail!("nexpay exited during start-up ({status})");
                }
            }
            if let Ok(resp) = client.get(&url).send().await {
                if resp.status().is_success() {
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                bail!("no 200 from {url} within {} s", limit.as_secs());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A `/proc/<pid>/status` field in kB (VmRSS: resident now; VmHWM: peak resident).
    pub fn status_kb(&self, field: &str) -> anyhow::Result<u64> {
        proc_status_kb(self.pid, field)
    }

    /// `Some(status)` once the process has exited (crashed: the benchmark never stops it
    /// before it is done).
    pub fn exited(&mut self) -> Option<String> {
        let status = self.child.as_mut()?.try_wait().ok()??;
        Some(status.to_string())
    }

    /// Copies the log out of the data dir (which is deleted at the end) and returns where.
    pub fn keep_log(&self) -> Option<PathBuf> {
        let dest =
            std::env::temp_dir().join(format!("nexpay-bench-{}-nexpay.log", std::process::id()));
        std::fs::copy(self.data_dir.join(&self.log_file), &dest)
            .ok()
            .map(|_| dest)
    }

    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(self.data_dir.join(&self.log_file)).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// SIGTERM, then SIGKILL if the process is still there after `grace`. Returns how it
    /// ended, for the report.
    pub async fn stop(&mut self, grace: Duration) -> String {
        let Some(mut child) = self.child.take() else {
            return "already stopped".to_owned();
        };
        if let Ok(Some(status)) = child.try_wait() {
            return format!("had already exited ({status})");
        }
        let term = std::process::Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status();
        if !term.map(|s| s.success()).unwrap_or(false) {
            let _ = child.kill().await;
            return "killed (SIGTERM could not be sent)".to_owned();
        }
        let started = Instant::now();
        match tokio::time::timeout(grace, child.wait()).await {
            Ok(Ok(status)) => format!(
                "stopped on SIGTERM in {:.1} s ({status})",
                started.elapsed().as_secs_f64()
            ),
            Ok(Err(e)) => format!("wait failed: {e}"),
            Err(_) => {
                let _ = child.kill().await;
                format!(
                    "did not stop within {} s of SIGTERM: SIGKILLed",
                    grace.as_secs()
                )
            }
        }
    }
}

pub fn proc_status_kb(pid: u32, field: &str) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    let prefix = format!("{field}:");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| anyhow!("no {field} in {path}"))
}

/// The keys from the credentials file's lines `  read key  (test): …` and
/// `  write key (test): …`.
fn read_keys(path: &Path) -> anyhow::Result<(String, String)> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {} (was this a first start?)", path.display()))?;
    let key = |label: &str| {
        text.lines()
            .map(str::trim)
            .find(|l| l.starts_with(label))
            .and_then(|l| l.rsplit_once("): "))
            .map(|(_, k)| k.trim().to_owned())
            .filter(|k| !k.is_empty())
            .ok_or_else(|| anyhow!("no `{label}` line in {}", path.display()))
    };
    Ok((key("write key")?, key("read key")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_banner() {
        let dir = temp_dir("test").expect("temp dir");
        let path = dir.join(CREDENTIALS_FILE);
        let banner = "NexPay first start: keep these values private, then delete x.\n\nAdmin dashboard\n  email:    a@b.c\n  password: p\n\nDefault project prj_1\n  read key  (test): npk_test_r\n  write key (test): nsk_test_w\n\nThe keys...\n";
        std::fs::write(&path, banner).expect("write");
        let (w, r) = read_keys(&path).expect("keys");
        assert_eq!((w.as_str(), r.as_str()), ("nsk_test_w", "npk_test_r"));
        let _ = std::fs::remove_dir_all(dir);
    }
}
