#![forbid(unsafe_code)]
//! `nexpay-sandbox`: the Wave and Orange Money simulators for the distributed stack, at
//! the same paths as the standalone binary serves them (`/sandbox/wave`, `/sandbox/om`):
//! test-mode payments, the payer pages customers open, and the dashboard's test payment.
//! It holds no data that must survive a restart: simulated sessions live in memory.
//! Webhooks go to `SANDBOX_CALLBACK_URL` (default: the public URL, which routes
//! `/api/v1/webhook/*` to provider-adapter).

use nexpay_runtime as rt;
use nexpay_sandbox::test_mode::Simulators;

const SERVICE: &str = "sandbox";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = rt::load_config(SERVICE, 8085);
    rt::init_tracing(config.log_json);
    let metrics = rt::Metrics::new(SERVICE);
    let sims = Simulators::for_test_mode(&config.public_url, config.sandbox_callback_base());
    let (server, port) = rt::http_server(&config, rt::Probes::default(), metrics, move |cfg| {
        cfg.configure(rt::health_routes).configure(sims.configure());
    })?;
    tracing::info!(port, "provider simulators listening");
    rt::run_until_stopped(SERVICE, server, Vec::new(), Vec::new(), None).await
}
