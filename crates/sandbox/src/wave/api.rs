//! The simulated Wave Checkout API (`/v1/checkout/sessions…`).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::auth::authenticate;
use super::error::{detail, ApiError};
use super::model::{CheckoutStatus, PaymentStatus};
use super::sim::WaveSim;
use super::validation::parse_create;

const SESSIONS: &str = "/v1/checkout/sessions";

pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource(SESSIONS)
            .route(web::post().to(create))
            .route(web::get().to(by_transaction_id)),
    )
    .service(web::resource("/v1/checkout/sessions/search").route(web::get().to(search)))
    .service(web::resource("/v1/checkout/sessions/{id}").route(web::get().to(get)))
    .service(web::resource("/v1/checkout/sessions/{id}/expire").route(web::post().to(expire)))
    .service(web::resource("/v1/checkout/sessions/{id}/refund").route(web::post().to(refund)));
}

fn query_param(req: &HttpRequest, name: &str) -> Option<String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Scheme, host and mount prefix of this request, for `wave_launch_url`.
fn derived_base(req: &HttpRequest) -> String {
    let info = req.connection_info();
    let prefix = req.path().strip_suffix(SESSIONS).unwrap_or("");
    format!("{}://{}{}", info.scheme(), info.host(), prefix)
}

async fn create(
    sim: web::Data<WaveSim>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let key = authenticate(&sim, &req, &body).await?;
    let request = parse_create(&body, &sim.currencies(), sim.allows_http_redirect_urls())?;
    let idempotency_key = req
        .headers()
        .get("Idempotency-Key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let session = sim.create(
        &key,
        request,
        idempotency_key.as_deref(),
        &derived_base(&req),
    )?;
    Ok(HttpResponse::Ok().json(session.to_value()))
}

async fn get(
    sim: web::Data<WaveSim>,
    req: HttpRequest,
    body: web::Bytes,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key = authenticate(&sim, &req, &body).await?;
    let session = sim.with_owned(&key.business_name, &id, |r, _| Ok(r.session.clone()))?;
    Ok(HttpResponse::Ok().json(session.to_value()))
}

async fn by_transaction_id(
    sim: web::Data<WaveSim>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let key = authenticate(&sim, &req, &body).await?;
    let Some(tx) = query_param(&req, "transaction_id") else {
        return Err(ApiError::validation(vec![detail(
            &["transaction_id"],
            "field required",
            "value_error.missing",
        )]));
    };
    let found = sim.find_owned(&key.business_name, |s| {
        s.transaction_id.as_deref() == Some(tx.as_str())
    });
    match found.into_iter().next() {
        Some(session) => Ok(HttpResponse::Ok().json(session.to_value())),
        None => Err(ApiError::session_not_found()),
    }
}

async fn search(
    sim: web::Data<WaveSim>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let key = authenticate(&sim, &req, &body).await?;
    let Some(reference) = query_param(&req, "client_reference") else {
        return Err(ApiError::validation(vec![detail(
            &["client_reference"],
            "field required",
            "value_error.missing",
        )]));
    };
    let found = sim.find_owned(&key.business_name, |s| {
        s.client_reference.as_deref() == Some(reference.as_str())
    });
    let result: Vec<_> = found.iter().map(|s| s.to_value()).collect();
    Ok(HttpResponse::Ok().json(json!({ "result": result })))
}

async fn expire(
    sim: web::Data<WaveSim>,
    req: HttpRequest,
    body: web::Bytes,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key = authenticate(&sim, &req, &body).await?;
    sim.with_owned(&key.business_name, &id, |r, now| {
        if r.session.checkout_status != CheckoutStatus::Open {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "checkout-session-not-open",
                format!(
                    "Checkout session is {} and cannot be expired",
                    r.session.checkout_status.as_str()
                ),
            ));
        }
        r.session.expire_at(now);
        Ok(())
    })?;
    Ok(HttpResponse::Ok().finish())
}

async fn refund(
    sim: web::Data<WaveSim>,
    req: HttpRequest,
    body: web::Bytes,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key = authenticate(&sim, &req, &body).await?;
    sim.with_owned(&key.business_name, &id, |r, now| {
        if r.session.payment_status != PaymentStatus::Succeeded {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "checkout-refund-failed",
                "Only a checkout session whose payment succeeded can be refunded",
            ));
        }
        if !r.refunded {
            r.refunded = true;
            r.when_refunded = Some(now);
        }
        Ok(())
    })?;
    Ok(HttpResponse::Ok().finish())
}
