//! `/providers`: list, show, configure, switch on or off, test payment. No answer ever
//! carries a secret: configurations show `configured` and the last four characters.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::{envelope, AdminError, AdminResult, FieldIssue};
use crate::providers::{self, TestPaymentError};
use crate::request_id::RequestId;
use crate::session::Admin;
use crate::DashboardState;

fn request_id(req: &HttpRequest) -> String {
    req.extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default()
}

/// An error in the common envelope with a status `AdminError` has no variant for.
fn reply(
    req: &HttpRequest,
    status: StatusCode,
    code: &str,
    message: &str,
    details: &[FieldIssue],
) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(envelope(status, message, code, details, &request_id(req)))
}

/// Rejected values of a provider configuration answer 422, like the merchant API's
/// validation of provider data; everything else keeps its usual status.
fn unprocessable(req: &HttpRequest, err: AdminError) -> AdminResult<HttpResponse> {
    match err {
        AdminError::Validation(issues) => {
            let message = AdminError::Validation(issues.clone()).to_string();
            Ok(reply(
                req,
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_error",
                &message,
                &issues,
            ))
        }
        other => Err(other),
    }
}

pub(super) fn no_store(body: impl serde::Serialize) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

pub(crate) async fn list(
    state: web::Data<DashboardState>,
    _admin: Admin,
) -> AdminResult<HttpResponse> {
    let list = providers::list_providers(&state.store, &state.config.public_url).await?;
    Ok(no_store(json!({ "data": list })))
}

pub(crate) async fn get(
    state: web::Data<DashboardState>,
    _admin: Admin,
    code: web::Path<String>,
) -> AdminResult<HttpResponse> {
    let p = providers::get_provider(&state.store, &state.config.public_url, &code).await?;
    Ok(no_store(p))
}

pub(crate) async fn enable(
    state: web::Data<DashboardState>,
    Admin(user): Admin,
    code: web::Path<String>,
) -> AdminResult<HttpResponse> {
    let p = providers::set_provider_enabled(
        &state.store,
        &state.config.public_url,
        &user.id,
        &code,
        true,
    )
    .await?;
    Ok(no_store(p))
}

pub(crate) async fn disable(
    state: web::Data<DashboardState>,
    Admin(user): Admin,
    code: web::Path<String>,
) -> AdminResult<HttpResponse> {
    let p = providers::set_provider_enabled(
        &state.store,
        &state.config.public_url,
        &user.id,
        &code,
        false,
    )
    .await?;
    Ok(no_store(p))
}

/// `PUT /providers/{code}/config`: replaces the whole configuration.
pub(crate) async fn configure(
    state: web::Data<DashboardState>,
    Admin(user): Admin,
    req: HttpRequest,
    code: web::Path<String>,
    body: web::Json<Value>,
) -> AdminResult<HttpResponse> {
    if !body.is_object() {
        return Err(AdminError::BadRequest(
            "expected a JSON object with the provider's settings".into(),
        ));
    }
    let sealer = providers::Sealer::new(&state.config, state.bus.as_deref())?;
    match providers::configure(
        &state.store,
        &state.config,
        &sealer,
        &user.id,
        &code,
        body.into_inner(),
    )
    .await
    {
        Ok(p) => Ok(no_store(p)),
        Err(e) => unprocessable(&req, e),
    }
}

/// `DELETE /providers/{code}/config`.
pub(crate) async fn remove_config(
    state: web::Data<DashboardState>,
    Admin(user): Admin,
    code: web::Path<String>,
) -> AdminResult<HttpResponse> {
    let p =
        providers::remove_config(&state.store, &state.config.public_url, &user.id, &code).await?;
    Ok(no_store(p))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TestPaymentBody {
    /// The payer's number, recorded with the payment (optional).
    #[serde(default)]
    phone: Option<String>,
}

/// `POST /providers/{code}/test-payment`: a 100 XOF live payment on the default
/// project, answered with what is needed to pay it.
pub(crate) async fn test_payment(
    state: web::Data<DashboardState>,
    Admin(user): Admin,
    req: HttpRequest,
    code: web::Path<String>,
    body: web::Bytes,
) -> AdminResult<HttpResponse> {
    let body: TestPaymentBody = if body.iter().all(u8::is_ascii_whitespace) {
        TestPaymentBody::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| AdminError::BadRequest(format!("invalid JSON body: {e}")))?
    };
    let result = providers::test_payment(
        &state.store,
        state.bus.as_deref(),
        state.config.rpc_timeout,
        &user.id,
        &code,
        body.phone.as_deref(),
        &request_id(&req),
    )
    .await;
    match result {
        Ok(payment) => Ok(HttpResponse::Created()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(payment)),
        Err(TestPaymentError::Admin(e)) => unprocessable(&req, e),
        Err(e) => {
            if let TestPaymentError::Unavailable(detail) = &e {
                tracing::error!(%detail, "test payment: payments service call failed");
            }
            let status =
                StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let details: Vec<FieldIssue> = match &e {
                TestPaymentError::NotLive { missing, .. } => missing
                    .iter()
                    .map(|m| FieldIssue::new(m, "not configured"))
                    .collect(),
                _ => Vec::new(),
            };
            Ok(reply(&req, status, e.code(), &e.public_message(), &details))
        }
    }
}
