//! Shared helpers for the tests against the real broker (127.0.0.1:5672,
//! guest/guest). Every test runs in a fresh vhost that is deleted when its
//! [`Vhost`] guard drops, also when the test panics. Every wait is bounded
//! by a deadline and checks a condition.
#![allow(dead_code)] // each test binary uses a different subset

use std::future::Future;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use nexpay_bus::{handler_fn, Bus, ConsumerOptions, Envelope, Handler, HandlerError};
use nexpay_bus_rabbitmq::{RabbitBus, RabbitConfig};
use serde_json::json;
use tokio::sync::{mpsc, Semaphore};

pub const DEADLINE: Duration = Duration::from_secs(15);

fn rabbitmqctl() -> String {
    std::env::var("RABBITMQCTL").unwrap_or_else(|_| "rabbitmqctl".to_owned())
}

/// Run `rabbitmqctl args...` and return its output, panicking with it if
/// the command fails.
pub fn ctl(args: &[&str]) -> String {
    let out = Command::new(rabbitmqctl())
        .arg("--quiet")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running rabbitmqctl {args:?}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "rabbitmqctl {args:?} failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// [`ctl`] off the async runtime's worker thread.
pub async fn ctl_async(args: &[&str]) -> String {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ctl(&args)
    })
    .await
    .expect("rabbitmqctl task")
}

/// A fresh vhost, deleted on drop.
pub struct Vhost {
    pub name: String,
}

impl Vhost {
    pub async fn new() -> Self {
        // Logs with RUST_LOG=..., e.g. RUST_LOG=nexpay_bus_rabbitmq=debug.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let name = format!(
            "nexpay_test_{}_{}_{nanos}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        ctl_async(&["add_vhost", &name]).await;
        // From here on the guard exists, so a failure below still cleans up.
        let vhost = Self { name };
        vhost.grant().await;
        vhost
    }

    pub fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:5672/{}", self.name)
    }

    pub async fn grant(&self) {
        ctl_async(&[
            "set_permissions",
            "-p",
            &self.name,
            "guest",
            ".*",
            ".*",
            ".*",
        ])
        .await;
    }

    pub async fn revoke(&self) {
        ctl_async(&["clear_permissions", "-p", &self.name, "guest"]).await;
    }

    /// The broker drops every connection of this vhost.
    pub async fn close_all_connections(&self) {
        ctl_async(&["close_all_connections", "-p", &self.name, "test"]).await;
    }

    /// A bus for `service` with short retry delays.
    pub async fn bus(&self, service: &str) -> RabbitBus {
        RabbitBus::connect_with(&self.url(), service, test_config())
            .await
            .expect("connect")
    }
}

impl Drop for Vhost {
    fn drop(&mut self) {
        let out = Command::new(rabbitmqctl())
            .args(["--quiet", "delete_vhost", &self.name])
            .output();
        match out {
            Ok(o) if o.status.success() => {}
            other => eprintln!("could not delete vhost {}: {other:?}", self.name),
        }
    }
}

pub fn test_config() -> RabbitConfig {
    RabbitConfig {
        retry_delay: Duration::from_millis(100),
        ..RabbitConfig::default()
    }
}

/// Await `fut`, failing the test if it takes longer than [`DEADLINE`].
pub async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(DEADLINE, fut).await {
        Ok(out) => out,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

/// Re-check the async `cond` until it holds, failing after [`DEADLINE`].
pub async fn eventually<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    within(what, async {
        while !cond().await {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

/// Wait until `queue_depth(queue)` satisfies `cond`.
pub async fn wait_depth(bus: &RabbitBus, queue: &str, cond: impl Fn(u64) -> bool) {
    eventually(&format!("depth of `{queue}`"), || async {
        bus.queue_depth(queue).await.is_ok_and(&cond)
    })
    .await;
}

/// Wait until `queue` has exactly `n` dead letters.
pub async fn wait_dead(bus: &RabbitBus, queue: &str, n: usize) -> Vec<Envelope> {
    within(&format!("{n} dead letters in `{queue}`"), async {
        loop {
            let letters = bus.dead_letters(queue).await.unwrap_or_default();
            if letters.len() == n {
                return letters;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

pub fn event(kind: &str, n: u64) -> Envelope {
    Envelope::new(kind, "req-test", json!({ "n": n }))
}

pub fn opts(prefetch: u16, max_deliveries: u32, concurrency: usize) -> ConsumerOptions {
    ConsumerOptions {
        prefetch,
        max_deliveries,
        concurrency,
    }
}

/// Reports `(consumer, n)` when it starts, then waits for a gate permit.
pub fn gated(
    idx: usize,
    tx: mpsc::UnboundedSender<(usize, u64)>,
    gate: Arc<Semaphore>,
) -> Arc<dyn Handler> {
    handler_fn(move |msg: Envelope| {
        let (tx, gate) = (tx.clone(), Arc::clone(&gate));
        async move {
            let n = msg.payload["n"].as_u64().unwrap_or(u64::MAX);
            let _ = tx.send((idx, n));
            gate.acquire()
                .await
                .map_err(|e| HandlerError::Retryable(e.to_string()))?
                .forget();
            Ok(json!(null))
        }
    })
}

/// Counts calls and always fails with `err`.
pub fn failing(calls: Arc<AtomicU32>, err: HandlerError) -> Arc<dyn Handler> {
    handler_fn(move |_msg: Envelope| {
        calls.fetch_add(1, Ordering::SeqCst);
        let err = err.clone();
        async move { Err(err) }
    })
}
