//! Route table of the admin API.
//!
//! Three groups, each behind its own gate: login (open), the session routes a user who
//! must change their password may still use, and everything else. Every group sits
//! inside the request-id middleware, which renders all errors in the common envelope.

mod auth;
mod keys;
mod projects;
mod providers;
mod reviews;
mod webhooks;

use actix_web::error::{JsonPayloadError, QueryPayloadError};
use actix_web::middleware::from_fn;
use actix_web::{web, HttpResponse};

use crate::error::AdminError;
use crate::request_id::envelope_errors;
use crate::session::{require_admin, require_session};

pub const API_PREFIX: &str = "/admin/api/v1";
/// Admin bodies are small JSON objects; anything larger is a mistake or an attack.
const MAX_JSON_BYTES: usize = 64 * 1024;

fn json_error(err: JsonPayloadError) -> AdminError {
    match err {
        JsonPayloadError::ContentType => {
            AdminError::BadRequest("expected a JSON body (Content-Type: application/json)".into())
        }
        JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => {
            AdminError::BadRequest(format!("the body is larger than {MAX_JSON_BYTES} bytes"))
        }
        JsonPayloadError::Deserialize(e) => {
            AdminError::BadRequest(format!("invalid JSON body: {e}"))
        }
        other => AdminError::BadRequest(other.to_string()),
    }
}

fn query_error(err: QueryPayloadError) -> AdminError {
    AdminError::BadRequest(format!("invalid query string: {err}"))
}

async fn not_found() -> Result<HttpResponse, AdminError> {
    Err(AdminError::NotFound("route"))
}

async fn method_not_allowed() -> HttpResponse {
    HttpResponse::MethodNotAllowed().finish()
}

pub(crate) fn mount(cfg: &mut web::ServiceConfig) {
    let json = web::JsonConfig::default()
        .limit(MAX_JSON_BYTES)
        .error_handler(|err, _| json_error(err).into());
    let query = web::QueryConfig::default().error_handler(|err, _| query_error(err).into());
    cfg.service(
        web::scope(API_PREFIX)
            .wrap(from_fn(envelope_errors))
            .app_data(json)
            .app_data(query)
            // Registered before the `/auth` scope so it is matched first and stays open.
            .service(
                web::resource("/auth/login")
                    .route(web::post().to(auth::login))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::scope("/auth")
                    .wrap(from_fn(require_session))
                    .route("/me", web::get().to(auth::me))
                    .route("/change-password", web::post().to(auth::change_password))
                    .route("/logout", web::post().to(auth::logout))
                    .default_service(web::to(not_found)),
            )
            .service(
                web::scope("")
                    .wrap(from_fn(require_admin))
                    .service(
                        web::resource("/projects")
                            .route(web::get().to(projects::list))
                            .route(web::post().to(projects::create)),
                    )
                    .service(
                        web::resource("/projects/{id}")
                            .route(web::get().to(projects::get))
                            .route(web::patch().to(projects::update))
                            .route(web::delete().to(projects::archive)),
                    )
                    .service(
                        web::resource("/projects/{id}/keys")
                            .route(web::get().to(keys::list))
                            .route(web::post().to(keys::create)),
                    )
                    .route(
                        "/projects/{id}/keys/{key_id}/rotate",
                        web::post().to(keys::rotate),
                    )
                    .route(
                        "/projects/{id}/keys/{key_id}/revoke",
                        web::post().to(keys::revoke),
                    )
                    .route(
                        "/projects/{id}/keys/{key_id}",
                        web::delete().to(keys::revoke),
                    )
                    .route("/providers", web::get().to(providers::list))
                    .route("/providers/{code}", web::get().to(providers::get))
                    .service(
                        web::resource("/providers/{code}/config")
                            .route(web::put().to(providers::configure))
                            .route(web::delete().to(providers::remove_config)),
                    )
                    .route(
                        "/providers/{code}/enable",
                        web::post().to(providers::enable),
                    )
                    .route(
                        "/providers/{code}/disable",
                        web::post().to(providers::disable),
                    )
                    .route(
                        "/providers/{code}/test-payment",
                        web::post().to(providers::test_payment),
                    )
                    .route(
                        "/providers/{code}/webhooks",
                        web::get().to(reviews::provider_webhooks),
                    )
                    .route("/attempts/flagged", web::get().to(reviews::flagged))
                    .service(
                        web::resource("/projects/{id}/webhooks")
                            .route(web::get().to(webhooks::list))
                            .route(web::post().to(webhooks::create)),
                    )
                    .service(
                        web::resource("/projects/{id}/webhooks/{wid}")
                            .route(web::get().to(webhooks::get))
                            .route(web::patch().to(webhooks::update))
                            .route(web::delete().to(webhooks::delete)),
                    )
                    .route(
                        "/projects/{id}/webhooks/{wid}/rotate-secret",
                        web::post().to(webhooks::rotate_secret),
                    )
                    .route(
                        "/projects/{id}/webhooks/{wid}/deliveries",
                        web::get().to(webhooks::deliveries),
                    )
                    .route(
                        "/projects/{id}/webhooks/{wid}/resend-failed",
                        web::post().to(webhooks::resend_failed),
                    )
                    .route(
                        "/webhook-deliveries/{did}",
                        web::get().to(webhooks::delivery),
                    )
                    .route(
                        "/webhook-deliveries/{did}/resend",
                        web::post().to(webhooks::resend),
                    )
                    .route("/notifications", web::get().to(webhooks::notifications))
                    .route(
                        "/notifications/{nid}/read",
                        web::post().to(webhooks::notification_read),
                    )
                    .default_service(web::to(not_found)),
            ),
    );
}
