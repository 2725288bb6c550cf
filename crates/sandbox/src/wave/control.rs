//! Simulator-only control API (`/_sim/…`): drive payments, inject faults,
//! register webhooks and API keys, move the clock. No authentication.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::config::ApiKeyConfig;
use super::error::{detail, ApiError};
use super::sim::{Faults, WaveSim};
use super::webhooks::WebhookStrategy;

pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/_sim/sessions/{id}").route(web::get().to(inspect)))
        .service(web::resource("/_sim/sessions/{id}/pay").route(web::post().to(pay)))
        .service(web::resource("/_sim/sessions/{id}/fail").route(web::post().to(fail)))
        .service(
            web::resource("/_sim/faults")
                .route(web::get().to(get_faults))
                .route(web::post().to(set_faults))
                .route(web::delete().to(reset_faults)),
        )
        .service(
            web::resource("/_sim/webhooks")
                .route(web::get().to(list_webhooks))
                .route(web::post().to(register_webhook)),
        )
        .service(web::resource("/_sim/webhooks/deliveries").route(web::get().to(deliveries)))
        .service(web::resource("/_sim/webhooks/{id}").route(web::delete().to(remove_webhook)))
        .service(web::resource("/_sim/clock/advance").route(web::post().to(advance_clock)))
        .service(web::resource("/_sim/api-keys").route(web::post().to(add_api_key)));
}

/// Parses a strict JSON body; an empty body means `{}`.
fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, ApiError> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(body)
        .map_err(|e| ApiError::validation(vec![detail(&["body"], &e.to_string(), "value_error")]))
}

async fn inspect(sim: web::Data<WaveSim>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    sim.inspect(&id)
        .map(|v| HttpResponse::Ok().json(v))
        .ok_or_else(ApiError::session_not_found)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PayBody {
    #[serde(default = "default_payer")]
    payer_mobile: String,
}

pub(crate) fn default_payer() -> String {
    "+221761110001".into()
}

async fn pay(
    sim: web::Data<WaveSim>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let body: PayBody = parse(&body)?;
    let session = sim.pay(&id, &body.payer_mobile).map_err(|e| e.into_api())?;
    Ok(HttpResponse::Ok().json(session.to_value()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FailBody {
    #[serde(default = "default_fail_code")]
    code: String,
    #[serde(default)]
    message: Option<String>,
}

fn default_fail_code() -> String {
    "payment-failure".into()
}

async fn fail(
    sim: web::Data<WaveSim>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let body: FailBody = parse(&body)?;
    let session = sim
        .fail(&id, &body.code, body.message.as_deref())
        .map_err(|e| e.into_api())?;
    Ok(HttpResponse::Ok().json(session.to_value()))
}

async fn get_faults(sim: web::Data<WaveSim>) -> HttpResponse {
    HttpResponse::Ok().json(sim.faults())
}

async fn set_faults(sim: web::Data<WaveSim>, body: web::Bytes) -> Result<HttpResponse, ApiError> {
    let faults: Faults = parse(&body)?;
    sim.set_faults(faults.clone());
    Ok(HttpResponse::Ok().json(faults))
}

async fn reset_faults(sim: web::Data<WaveSim>) -> HttpResponse {
    sim.set_faults(Faults::default());
    HttpResponse::NoContent().finish()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookBody {
    url: String,
    strategy: WebhookStrategy,
    secret: String,
    #[serde(default)]
    events: Vec<String>,
}

async fn register_webhook(
    sim: web::Data<WaveSim>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let body: WebhookBody = parse(&body)?;
    if url::Url::parse(&body.url).is_err() {
        return Err(ApiError::validation(vec![detail(
            &["url"],
            "invalid or missing URL scheme",
            "value_error.url.scheme",
        )]));
    }
    let id = sim.register_webhook(body.url, body.strategy, body.secret, body.events);
    let endpoint = sim.webhooks().into_iter().find(|w| w.id == id);
    Ok(HttpResponse::Created().json(endpoint))
}

async fn list_webhooks(sim: web::Data<WaveSim>) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "result": sim.webhooks() }))
}

async fn deliveries(sim: web::Data<WaveSim>) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "result": sim.deliveries() }))
}

async fn remove_webhook(
    sim: web::Data<WaveSim>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if sim.remove_webhook(&id) {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "webhook-not-found",
            "Webhook endpoint not found",
        ))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApiKeyBody {
    key: String,
    #[serde(default = "default_business_name")]
    business_name: String,
    #[serde(default)]
    signing_secret: Option<String>,
}

fn default_business_name() -> String {
    "NexPay Simulated Business".into()
}

/// `POST /_sim/api-keys {key, business_name?, signing_secret?}`: the simulator accepts
/// this key from now on (Checkout scope), as if it had been created in the Business
/// Portal. Registering a key again replaces it. Answers without the key.
async fn add_api_key(sim: web::Data<WaveSim>, body: web::Bytes) -> Result<HttpResponse, ApiError> {
    let body: ApiKeyBody = parse(&body)?;
    let key = body.key.trim();
    if key.is_empty() || key.chars().any(char::is_whitespace) {
        return Err(ApiError::validation(vec![detail(
            &["key"],
            "must be a non-empty key without spaces",
            "value_error",
        )]));
    }
    let mut config = ApiKeyConfig::new(key, body.business_name.clone());
    if let Some(secret) = body.signing_secret.filter(|s| !s.is_empty()) {
        config = config.with_signing_secret(secret);
    }
    let signed = config.signing_secret.is_some();
    sim.add_api_key(config);
    Ok(HttpResponse::Created().json(json!({
        "business_name": body.business_name,
        "scopes": ["checkout"],
        "request_signing": signed,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdvanceBody {
    seconds: i64,
}

async fn advance_clock(
    sim: web::Data<WaveSim>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let body: AdvanceBody = parse(&body)?;
    sim.advance_clock(chrono::Duration::seconds(body.seconds));
    Ok(HttpResponse::Ok().json(json!({ "now": super::model::rfc3339(sim.now()) })))
}
