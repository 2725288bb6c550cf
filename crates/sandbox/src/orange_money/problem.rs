//! Error bodies: problem+json for business calls (§4.7), RFC 6749 for OAuth.

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use serde_json::json;

/// `{type, title, instance, status (string), code, detail}` as application/problem+json.
pub(crate) fn problem(
    status: StatusCode,
    kind: &str,
    title: &str,
    instance: &str,
    code: &str,
    detail: &str,
) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("application/problem+json")
        .body(
            json!({
                "type": kind,
                "title": title,
                "instance": instance,
                "status": status.as_u16().to_string(),
                "code": code,
                "detail": detail,
            })
            .to_string(),
        )
}

pub(crate) fn not_found(instance: &str) -> HttpResponse {
    problem(
        StatusCode::NOT_FOUND,
        "/entity-not-found",
        "Entity not found",
        instance,
        "60",
        "Entity not found",
    )
}

pub(crate) fn bad_request(instance: &str, detail: &str) -> HttpResponse {
    problem(
        StatusCode::BAD_REQUEST,
        "/bad-request",
        "Bad Request",
        instance,
        "400",
        detail,
    )
}

pub(crate) fn oauth_error(status: StatusCode, error: &str, description: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({
        "error": error,
        "error_description": description,
    }))
}
