//! The distributed wiring for tests: every service binary as a child process on a free
//! port, two replicas of gateway, payments and webhook-dispatcher, a fresh PostgreSQL
//! database, a fresh RabbitMQ vhost, a Redis key prefix reached through a proxy a test
//! can cut, and a router in front that routes like Traefik.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

use crate::proxy::TcpProxy;
use crate::rabbit::Vhost;
use crate::router::{self, Routes};

/// (service, binary, replicas) of the stack, in start order.
pub const SERVICES: &[(&str, &str, usize)] = &[
    ("dashboard", "nexpay-dashboard", 1),
    ("payments", "nexpay-payments", 2),
    ("provider-adapter", "nexpay-provider-adapter", 1),
    ("webhook-dispatcher", "nexpay-webhook-dispatcher", 2),
    ("gateway", "nexpay-gateway", 2),
    ("sandbox", "nexpay-sandbox", 1),
];

struct Process {
    service: &'static str,
    index: usize,
    port: u16,
    child: Option<Child>,
    /// Length of the log (shared by a replica's successive runs) when this run started.
    log_from: u64,
}

pub struct Stack {
    env: Vec<(String, String)>,
    bin_dir: PathBuf,
    log_dir: PathBuf,
    processes: Mutex<Vec<Process>>,
    routes: Arc<RwLock<Routes>>,
    router: actix_web::dev::ServerHandle,
    pub router_port: u16,
    pub vhost: Vhost,
    redis: tokio::sync::Mutex<TcpProxy>,
    redis_prefix: String,
    pub database_url: String,
}

const READY_TIMEOUT: Duration = Duration::from_secs(60);

impl Stack {
    /// Starts the stack. `env`: the configuration every service gets (database URL,
    /// data dir, admin, extras of the test); `router_port` must be the port `router`
    /// listens on, which is also the stack's public URL.
    pub async fn start(env: Vec<(String, String)>, suffix: &str) -> anyhow::Result<Stack> {
        let bin_dir = service_binaries().await?;
        let vhost = Vhost::create(format!("nexpay_test_{suffix}")).await?;
        let redis_target =
            std::env::var("NEXPAY_TEST_REDIS_ADDR").unwrap_or_else(|_| "127.0.0.1:6379".into());
        let redis = TcpProxy::start(&redis_target).await?;
        let redis_prefix = format!("nexpay_test_{suffix}:");
        let routes = Arc::new(RwLock::new(Routes::default()));
        let (router_port, router) = router::start(routes.clone())?;
        let database_url = env
            .iter()
            .find(|(k, _)| k == "DATABASE_URL")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let data_dir = env
            .iter()
            .find(|(k, _)| k == "NEXPAY_DATA_DIR")
            .map(|(_, v)| PathBuf::from(v))
            .unwrap_or_else(std::env::temp_dir);
        let log_dir = data_dir.join("logs");
        std::fs::create_dir_all(&log_dir)?;
        let mut env = env;
        env.retain(|(k, _)| k != "PUBLIC_URL" && k != "PORT");
        env.extend([
            ("AMQP_URL".to_owned(), vhost.url()),
            ("REDIS_URL".to_owned(), format!("redis://{}", redis.addr)),
            ("REDIS_KEY_PREFIX".to_owned(), redis_prefix.clone()),
            (
                "PUBLIC_URL".to_owned(),
                format!("http://127.0.0.1:{router_port}"),
            ),
            ("DB_MAX_CONNECTIONS".to_owned(), "4".to_owned()),
        ]);
        let stack = Stack {
            env,
            bin_dir,
            log_dir,
            processes: Mutex::new(Vec::new()),
            routes,
            router,
            router_port,
            vhost,
            redis: tokio::sync::Mutex::new(redis),
            redis_prefix,
            database_url,
        };
        for (service, _, replicas) in SERVICES {
            for index in 0..*replicas {
                let port = free_port()?;
                let process = stack.spawn(service, index, port)?;
                stack.lock().push(process);
            }
        }
        for (service, _, replicas) in SERVICES {
            for index in 0..*replicas {
                stack.ready_or_move(service, index).await?;
            }
        }
        stack.publish_routes();
        Ok(stack)
    }

    /// Points the router at the replicas' current ports.
    fn publish_routes(&self) {
        let (webhook, sandbox, api, dashboard) = (
            self.urls("provider-adapter"),
            self.urls("sandbox"),
            self.urls("gateway"),
            self.urls("dashboard"),
        );
        let mut r = self.routes.write().unwrap_or_else(PoisonError::into_inner);
        r.webhook = webhook;
        r.sandbox = sandbox;
        r.api = api;
        r.dashboard = dashboard;
    }

    /// Waits until a spawned replica is ready. A free port is only free when it is
    /// picked: if something else took it before the replica could bind it, the replica
    /// exits, and it is started again on another port (the caller publishes the routes).
    async fn ready_or_move(&self, service: &str, index: usize) -> anyhow::Result<()> {
        let mut attempts = 0;
        loop {
            match self.wait_ready(service, index).await {
                Ok(()) => return Ok(()),
                Err(e) if attempts < 3 && e.to_string().contains(PORT_TAKEN) => {
                    attempts += 1;
                    let process = self.spawn(service, index, free_port()?)?;
                    let mut procs = self.lock();
                    procs.retain(|p| !(p.service == service && p.index == index));
                    procs.push(process);
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Process>> {
        self.processes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn urls(&self, service: &str) -> Vec<String> {
        self.lock()
            .iter()
            .filter(|p| p.service == service)
            .map(|p| format!("http://127.0.0.1:{}", p.port))
            .collect()
    }

    /// Base URL of one replica (health, metrics, direct calls).
    pub fn url_of(&self, service: &str, index: usize) -> Option<String> {
        self.lock()
            .iter()
            .find(|p| p.service == service && p.index == index)
            .map(|p| format!("http://127.0.0.1:{}", p.port))
    }

    fn spawn(&self, service: &str, index: usize, port: u16) -> anyhow::Result<Process> {
        let (service, binary, _) = SERVICES
            .iter()
            .find(|(s, _, _)| *s == service)
            .ok_or_else(|| anyhow::anyhow!("unknown service {service}"))?;
        let log = self.log_dir.join(format!("{service}-{index}.log"));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)?;
        let log_from = file.metadata()?.len();
        let child = Command::new(self.bin_dir.join(binary))
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("PORT", port.to_string())
            .env("HOST", "127.0.0.1")
            .env(
                "RUST_LOG",
                std::env::var("NEXPAY_TEST_SERVICE_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| anyhow::anyhow!("starting {}: {e}", binary))?;
        Ok(Process {
            service,
            index,
            port,
            child: Some(child),
            log_from,
        })
    }

    async fn wait_ready(&self, service: &str, index: usize) -> anyhow::Result<()> {
        let url = self
            .url_of(service, index)
            .ok_or_else(|| anyhow::anyhow!("no {service} #{index}"))?;
        let client = reqwest::Client::new();
        let started = Instant::now();
        loop {
            let (pid, port, exited, log_from) = {
                let mut procs = self.lock();
                let p = procs
                    .iter_mut()
                    .find(|p| p.service == service && p.index == index)
                    .ok_or_else(|| anyhow::anyhow!("no {service} #{index}"))?;
                let port = p.port;
                let child = p.child.as_mut();
                let pid = child.as_ref().and_then(|c| c.id());
                let log_from = p.log_from;
                (
                    pid,
                    port,
                    child.and_then(|c| c.try_wait().ok().flatten()),
                    log_from,
                )
            };
            // The answer must come from this replica, not from whatever else may have
            // bound the port in the meantime.
            let ours = pid.is_some_and(|pid| listens_on(pid, port));
            if ours {
                if let Ok(r) = client.get(format!("{url}/health/ready")).send().await {
                    if r.status().is_success() {
                        return Ok(());
                    }
                }
            }
            if exited.is_some() || started.elapsed() > READY_TIMEOUT {
                // The cause is the first line of the error, which a backtrace
                // (RUST_BACKTRACE=1) can push out of the log's last lines.
                let log = self.log_text(service, index);
                let this_run = log
                    .get(usize::try_from(log_from).unwrap_or(0)..)
                    .unwrap_or(&log);
                let cause = this_run
                    .lines()
                    .find(|l| l.starts_with("Error:") || l.contains(PORT_TAKEN))
                    .unwrap_or("(no error line)");
                anyhow::bail!(
                    "{service} #{index} did not become ready ({}): {cause}\n{}",
                    exited.map_or("timed out".to_owned(), |s| format!("exited with {s}")),
                    self.log_tail(service, index)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Everything a replica logged.
    fn log_text(&self, service: &str, index: usize) -> String {
        let path = self.log_dir.join(format!("{service}-{index}.log"));
        std::fs::read_to_string(path).unwrap_or_default()
    }

    /// The last lines a replica logged.
    pub fn log_tail(&self, service: &str, index: usize) -> String {
        let text = self.log_text(service, index);
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// `kill -9` of one replica: no shutdown, in-flight work is cut off.
    pub async fn kill(&self, service: &str, index: usize) -> anyhow::Result<()> {
        let child = {
            let mut procs = self.lock();
            procs
                .iter_mut()
                .find(|p| p.service == service && p.index == index)
                .and_then(|p| p.child.take())
        };
        let mut child = child.ok_or_else(|| anyhow::anyhow!("{service} #{index} not running"))?;
        child.start_kill()?;
        child.wait().await?;
        Ok(())
    }

    /// Starts a killed replica again, on its old port (or another one if the old port
    /// was taken meanwhile), and waits until it is ready.
    pub async fn restart(&self, service: &str, index: usize) -> anyhow::Result<()> {
        let port = self
            .lock()
            .iter()
            .find(|p| p.service == service && p.index == index)
            .map(|p| p.port)
            .ok_or_else(|| anyhow::anyhow!("no {service} #{index}"))?;
        let process = self.spawn(service, index, port)?;
        {
            let mut procs = self.lock();
            procs.retain(|p| !(p.service == service && p.index == index));
            procs.push(process);
        }
        self.ready_or_move(service, index).await?;
        self.publish_routes();
        Ok(())
    }

    /// The broker drops every connection of the stack's vhost.
    pub async fn close_broker_connections(&self) -> anyhow::Result<()> {
        self.vhost.close_all_connections().await
    }

    /// PostgreSQL terminates every backend connected to the stack's database.
    pub async fn terminate_database_backends(&self) -> anyhow::Result<u64> {
        use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
        let name = self
            .database_url
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .split('?')
            .next()
            .unwrap_or_default()
            .to_owned();
        let mut admin =
            AsyncPgConnection::establish(&nexpay_store::testing::pg_admin_url()).await?;
        let n = diesel::sql_query(format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = '{name}' AND pid <> pg_backend_pid()"
        ))
        .execute(&mut admin)
        .await?;
        Ok(n as u64)
    }

    /// Redis stops answering the stack (the shared server is untouched).
    pub async fn cut_redis(&self) {
        self.redis.lock().await.cut().await;
    }

    pub async fn restore_redis(&self) -> anyhow::Result<()> {
        self.redis.lock().await.resume().await
    }

    /// A Prometheus text dump of one replica.
    pub async fn metrics(&self, service: &str, index: usize) -> anyhow::Result<String> {
        let url = self
            .url_of(service, index)
            .ok_or_else(|| anyhow::anyhow!("no {service} #{index}"))?;
        Ok(reqwest::get(format!("{url}/metrics")).await?.text().await?)
    }

    /// SIGTERM to every process (graceful shutdown), SIGKILL after 10 s; then the
    /// router, the Redis keys of the prefix and (on drop) the vhost go away.
    pub async fn stop(self) {
        let mut children: Vec<Child> = self
            .lock()
            .iter_mut()
            .filter_map(|p| p.child.take())
            .collect();
        for child in &children {
            if let Some(pid) = child.id() {
                let _ = std::process::Command::new("kill")
                    .args(["-TERM", &pid.to_string()])
                    .status();
            }
        }
        for child in &mut children {
            if tokio::time::timeout(Duration::from_secs(10), child.wait())
                .await
                .is_err()
            {
                let _ = child.start_kill();
                let _ = child.wait().await;
            }
        }
        self.router.stop(false).await;
        delete_redis_prefix(&self.redis_prefix).await;
    }
}

/// Deletes every key under `prefix`, with redis-cli when it is installed.
pub fn delete_redis_prefix_blocking(prefix: &str) {
    let pattern = format!("{prefix}*");
    let Ok(out) = std::process::Command::new("redis-cli")
        .args(["--scan", "--pattern", &pattern])
        .output()
    else {
        return;
    };
    let keys: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    for chunk in keys.chunks(500) {
        let _ = std::process::Command::new("redis-cli")
            .arg("DEL")
            .args(chunk)
            .output();
    }
}

async fn delete_redis_prefix(prefix: &str) {
    let prefix = prefix.to_owned();
    let _ = tokio::task::spawn_blocking(move || delete_redis_prefix_blocking(&prefix)).await;
}

/// What a replica logs when its port was taken before it could bind it.
const PORT_TAKEN: &str = "Address already in use";

/// Whether process `pid` holds a listening TCP socket on `port` (Linux `/proc`; true
/// where `/proc` cannot tell).
fn listens_on(pid: u32, port: u16) -> bool {
    let mut inodes = Vec::new();
    let mut readable = false;
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        readable = true;
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state), Some(inode)) = (cols.get(1), cols.get(3), cols.get(9))
            else {
                continue;
            };
            let local_port = local
                .rsplit(':')
                .next()
                .and_then(|h| u16::from_str_radix(h, 16).ok());
            if *state == "0A" && local_port == Some(port) {
                inodes.push(format!("socket:[{inode}]"));
            }
        }
    }
    if !readable {
        return true;
    }
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path())
            .is_ok_and(|target| inodes.iter().any(|i| target.as_os_str() == i.as_str()))
    })
}

fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    Ok(l.local_addr()?.port())
}

/// Builds the service binaries once per test process (cargo is quick when they are up
/// to date) in the profile and target directory of the running test, and returns the
/// directory holding them. `NEXPAY_SERVICE_BIN_DIR` points at prebuilt binaries instead.
pub async fn service_binaries() -> anyhow::Result<PathBuf> {
    static BUILT: tokio::sync::OnceCell<PathBuf> = tokio::sync::OnceCell::const_new();
    BUILT
        .get_or_try_init(|| async {
            if let Ok(dir) = std::env::var("NEXPAY_SERVICE_BIN_DIR") {
                return Ok(PathBuf::from(dir));
            }
            tokio::task::spawn_blocking(build_binaries).await?
        })
        .await
        .cloned()
}

fn build_binaries() -> anyhow::Result<PathBuf> {
    // The test executable lives in <target>/<profile>/deps/.
    let exe = std::env::current_exe()?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| anyhow::anyhow!("cannot locate the target directory from {exe:?}"))?
        .to_path_buf();
    let target_dir = profile_dir
        .parent()
        .ok_or_else(|| anyhow::anyhow!("no target directory above {profile_dir:?}"))?;
    let profile = profile_dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("debug");
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = std::process::Command::new(cargo);
    cmd.current_dir(&workspace)
        .arg("build")
        .arg("--quiet")
        .arg("--target-dir")
        .arg(target_dir);
    match profile {
        "debug" => {}
        "release" => {
            cmd.arg("--release");
        }
        other => {
            cmd.args(["--profile", other]);
        }
    }
    for (_, binary, _) in SERVICES {
        let package = if *binary == "nexpay-sandbox" {
            "nexpay-sandbox-service"
        } else {
            binary
        };
        cmd.args(["-p", package, "--bin", binary]);
    }
    let status = cmd.status()?;
    anyhow::ensure!(status.success(), "building the service binaries failed");
    Ok(profile_dir)
}
