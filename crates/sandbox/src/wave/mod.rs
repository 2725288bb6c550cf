//! Wave Checkout API simulator.
//!
//! An offline, faithful stand-in for `https://api.wave.com` (Checkout sessions and
//! webhooks), plus simulator-only control endpoints under `/_sim/…` and a payer page
//! under `/c/{id}` that plays the role of the Wave app after a QR scan.
//!
//! ```no_run
//! use actix_web::{web, App, HttpServer};
//! use nexpay_sandbox::wave::{configure, ApiKeyConfig, WaveSim, WaveSimConfig};
//!
//! # async fn run() -> std::io::Result<()> {
//! let sim = WaveSim::new(WaveSimConfig {
//!     api_keys: vec![ApiKeyConfig::new("wave_sn_prod_demo", "Ma Boutique")],
//!     ..WaveSimConfig::default()
//! });
//! HttpServer::new(move || {
//!     App::new().service(web::scope("/sandbox/wave").configure(configure(sim.clone())))
//! })
//! .bind(("127.0.0.1", 8080))?
//! .run()
//! .await
//! # }
//! ```

mod api;
mod auth;

mod config;
mod control;
mod error;
mod ids;
mod model;
mod payer_page;
mod pyjson;
mod signature;
mod sim;
mod validation;
mod webhooks;

pub use crate::clock::{Clock, ManualClock, SystemClock};
pub use config::{ApiKeyConfig, ApiScope, WaveSimConfig};
pub use error::ApiError;
pub use model::{CheckoutStatus, PaymentError, PaymentStatus, Session, PAYMENT_ERROR_CODES};
pub use pyjson::to_python_json;
pub use signature::{
    compute_signature, parse_signature_header, signature_header, verify_signature_header,
    ParsedSignature, SignatureError,
};
pub use sim::{Faults, SimError, WaveSim};
pub use webhooks::{
    DeliveryRecord, WebhookEndpoint, WebhookStrategy, EVENT_COMPLETED, EVENT_PAYMENT_FAILED,
};

/// Mounts the simulator routes relative to the scope chosen by the caller:
/// the Wave API (`/v1/checkout/sessions…`), the control API (`/_sim/…`) and the
/// payer page (`/c/{id}`).
pub fn configure(sim: WaveSim) -> impl FnOnce(&mut actix_web::web::ServiceConfig) {
    move |cfg| {
        cfg.app_data(actix_web::web::Data::new(sim));
        api::routes(cfg);
        control::routes(cfg);
        payer_page::routes(cfg);
    }
}
