#![forbid(unsafe_code)]
//! `nexpay-sandbox`: the Wave and Orange Money simulators for the distributed stack, at
//! the same paths as the standalone binary serves them (`/sandbox/wave`, `/sandbox/om`):
//! test-mode payments, the payer pages customers open, and the dashboard's test payment.
//! It holds no data that must survive a restart: simulated sessions live in memory.

use actix_web::web;
use nexpay_runtime as rt;
use nexpay_sandbox::{orange_money, wave};

const SERVICE: &str = "sandbox";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = rt::load_config(SERVICE, 8085);
    rt::init_tracing(config.log_json);
    let metrics = rt::Metrics::new(SERVICE);
    let wave_sim = wave::WaveSim::default();
    let om_sim = orange_money::OmSim::new(Default::default());
    let (server, port) = rt::http_server(&config, rt::Probes::default(), metrics, move |cfg| {
        cfg.configure(rt::health_routes)
            .service(web::scope("/sandbox/wave").configure(wave::configure(wave_sim.clone())))
            .service(web::scope("/sandbox/om").configure(orange_money::configure(om_sim.clone())));
    })?;
    tracing::info!(port, "provider simulators listening");
    rt::run_until_stopped(SERVICE, server, Vec::new(), Vec::new(), None).await
}
