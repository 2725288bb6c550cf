//! `/projects/{id}/webhooks`, `/webhook-deliveries` and `/notifications`: merchant
//! webhook endpoints, their deliveries and the admins' notifications.
//!
//! The signing secret appears in the answers to create and rotate-secret only, as
//! `signingSecret`. Every answer here is `no-store`: delivery bodies carry payer data.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use crate::error::{envelope, AdminError, AdminResult};
use crate::request_id::RequestId;
use crate::session::Admin;
use crate::webhooks::{
    self, CreateEndpointInput, EndpointWithSecret, RotateSecretInput, UpdateEndpointInput,
    NO_KEY_MESSAGE,
};
use crate::DashboardState;

fn no_store(status: StatusCode, body: impl serde::Serialize) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

fn ok(body: impl serde::Serialize) -> HttpResponse {
    no_store(StatusCode::OK, body)
}

fn no_content() -> HttpResponse {
    HttpResponse::NoContent()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// The one place a signing secret is written into a response.
fn with_secret(status: StatusCode, created: &EndpointWithSecret) -> AdminResult<HttpResponse> {
    let mut body = serde_json::to_value(&created.endpoint)
        .map_err(|e| AdminError::Internal(format!("cannot encode the endpoint: {e}")))?;
    body["signingSecret"] = json!(created.signing_secret.expose());
    Ok(no_store(status, body))
}

/// A missing `WEBHOOK_SECRETS_KEY` is a deployment mistake the admin can fix: say so,
/// rather than the fixed text of other internal errors.
fn explain_missing_key(req: &HttpRequest, err: AdminError) -> AdminResult<HttpResponse> {
    match err {
        AdminError::Internal(detail) if detail == NO_KEY_MESSAGE => {
            let id = req
                .extensions()
                .get::<RequestId>()
                .map(|r| r.0.clone())
                .unwrap_or_default();
            tracing::error!(request_id = %id, %detail, "webhook endpoint secret not sealed");
            let status = StatusCode::INTERNAL_SERVER_ERROR;
            Ok(no_store(
                status,
                envelope(status, NO_KEY_MESSAGE, "internal_error", &[], &id),
            ))
        }
        other => Err(other),
    }
}

/// An optional JSON body: absent is the default, malformed is still an error.
fn optional_body<T: Default + serde::de::DeserializeOwned>(body: &[u8]) -> AdminResult<T> {
    if body.iter().all(u8::is_ascii_whitespace) {
        Ok(T::default())
    } else {
        serde_json::from_slice(body)
            .map_err(|e| AdminError::BadRequest(format!("invalid JSON body: {e}")))
    }
}

pub(crate) async fn list(
    state: web::Data<DashboardState>,
    _admin: Admin,
    project_id: web::Path<String>,
) -> AdminResult<HttpResponse> {
    let list = webhooks::list_endpoints(&state.store, &project_id).await?;
    Ok(ok(json!({ "data": list })))
}

pub(crate) async fn get(
    state: web::Data<DashboardState>,
    _admin: Admin,
    path: web::Path<(String, String)>,
) -> AdminResult<HttpResponse> {
    let (project_id, endpoint_id) = path.into_inner();
    let view = webhooks::get_endpoint(&state.store, &project_id, &endpoint_id).await?;
    Ok(ok(view))
}

/// `POST /projects/{id}/webhooks`: 201 with the endpoint and its secret, shown once.
pub(crate) async fn create(
    state: web::Data<DashboardState>,
    Admin(user): Admin,
    req: HttpRequest,
    project_id: web::Path<String>,
    body: web::Json<CreateEndpointInput>,
) -> AdminResult<HttpResponse> {
    match webhooks::create_endpoint(&state.store, &state.config, &user.id, &project_id, &body).await
    {
        Ok(created) => with_secret(StatusCode::CREATED, &created),
        Err(e) => explain_missing_key(&req, e),
    }
}

pub(crate) async fn update(
    state: web::Data<DashboardState>,
    Admin(user): Admin,
    path: web::Path<(String, String)>,
    body: web::Json<UpdateEndpointInput>,
) -> AdminResult<HttpResponse> {
    let (project_id, endpoint_id) = path.into_inner();
    let view = webhooks::update_endpoint(
        &state.store,
        &state.config,
        &user.id,
        &project_id,
        &endpoint_id,
        &body,
    )
    .await?;
    Ok(ok(view))
}

pub(crate) async fn delete(
    state: web::Data<DashboardState>,
    Admin(user): Admin,
    path: web::Path<(String, String)>,
) -> AdminResult<HttpResponse> {
    let (project_id, endpoint_id) = path.into_inner();
    webhooks::delete_endpoint(&state.store, &user.id, &project_id, &endpoint_id).await?;
    Ok(no_content())
}

/// `POST /projects/{id}/webhooks/{wid}/rotate-secret`: the body is optional.
pub(crate) async fn rotate_secret(
    state: web::Data<DashboardState>,
    Admin(user): Admin,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> AdminResult<HttpResponse> {
    let input: RotateSecretInput = optional_body(&body)?;
    let (project_id, endpoint_id) = path.into_inner();
    match webhooks::rotate_secret(
        &state.store,
        &state.config,
        &user.id,
        &project_id,
        &endpoint_id,
        &input,
    )
    .await
    {
        Ok(rotated) => with_secret(StatusCode::OK, &rotated),
        Err(e) => explain_missing_key(&req, e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeliveriesQuery {
    status: Option<String>,
    limit: Option<i64>,
}

pub(crate) async fn deliveries(
    state: web::Data<DashboardState>,
    _admin: Admin,
    path: web::Path<(String, String)>,
    query: web::Query<DeliveriesQuery>,
) -> AdminResult<HttpResponse> {
    let (project_id, endpoint_id) = path.into_inner();
    let list = webhooks::list_deliveries(
        &state.store,
        &project_id,
        &endpoint_id,
        query.status.as_deref(),
        query.limit,
    )
    .await?;
    Ok(ok(json!({ "data": list })))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ResendFailedBody {
    #[serde(default)]
    since: Option<String>,
}

/// `POST /projects/{id}/webhooks/{wid}/resend-failed` with `{"since": "<RFC 3339>"}`.
pub(crate) async fn resend_failed(
    state: web::Data<DashboardState>,
    Admin(user): Admin,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> AdminResult<HttpResponse> {
    let input: ResendFailedBody = optional_body(&body)?;
    let (project_id, endpoint_id) = path.into_inner();
    let n = webhooks::resend_failed(
        &state.store,
        &user.id,
        &project_id,
        &endpoint_id,
        input.since.as_deref(),
    )
    .await?;
    Ok(ok(json!({ "resent": n })))
}

pub(crate) async fn delivery(
    state: web::Data<DashboardState>,
    _admin: Admin,
    delivery_id: web::Path<String>,
) -> AdminResult<HttpResponse> {
    Ok(ok(webhooks::get_delivery(&state.store, &delivery_id).await?))
}

/// `POST /webhook-deliveries/{did}/resend`: 202, the dispatcher sends it shortly.
pub(crate) async fn resend(
    state: web::Data<DashboardState>,
    Admin(user): Admin,
    delivery_id: web::Path<String>,
) -> AdminResult<HttpResponse> {
    let view = webhooks::resend_delivery(&state.store, &user.id, &delivery_id).await?;
    Ok(no_store(StatusCode::ACCEPTED, view))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NotificationsQuery {
    limit: Option<i64>,
}

pub(crate) async fn notifications(
    state: web::Data<DashboardState>,
    _admin: Admin,
    query: web::Query<NotificationsQuery>,
) -> AdminResult<HttpResponse> {
    let list = webhooks::list_notifications(&state.store, query.limit).await?;
    Ok(ok(json!({ "data": list })))
}

/// `POST /notifications/{nid}/read`: 204; 404 when unknown or already read.
pub(crate) async fn notification_read(
    state: web::Data<DashboardState>,
    _admin: Admin,
    id: web::Path<String>,
) -> AdminResult<HttpResponse> {
    webhooks::mark_notification_read(&state.store, &id).await?;
    Ok(no_content())
}
