//! Request ids and the error envelope for the whole admin scope.
//!
//! Errors are rendered here rather than in `ResponseError::error_response`, which has no
//! access to the request: this is the one place that knows the request id, and it also
//! catches errors raised by actix itself (unknown route, wrong method, oversized body) so
//! every failure has the same shape.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::InternalError;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};

use crate::error::{envelope, AdminError};

pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// Longer or stranger ids are replaced: they end up in logs and response headers.
const MAX_ID_LEN: usize = 128;

/// The id of the current request, available to handlers through the extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn incoming_id(req: &ServiceRequest) -> Option<String> {
    let value = req.headers().get(REQUEST_ID_HEADER)?.to_str().ok()?.trim();
    let acceptable = !value.is_empty()
        && value.len() <= MAX_ID_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    acceptable.then(|| value.to_owned())
}

fn generate_id() -> String {
    format!("req_{}", nexpay_security::random_hex(12))
}

/// Echoes (or creates) the request id and turns every error into the envelope.
pub async fn envelope_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    // An enclosing scope wrapped in this middleware already chose the id.
    let existing = req.extensions().get::<RequestId>().map(|r| r.0.clone());
    let id = existing
        .or_else(|| incoming_id(&req))
        .unwrap_or_else(generate_id);
    req.extensions_mut().insert(RequestId(id.clone()));
    // No clone of the request may live across `next.call`: routing needs it unshared.
    let res = match next.call(req).await {
        Ok(res) => res.map_into_boxed_body(),
        // Inner services answer errors as responses; should one fail outright, the
        // envelope travels inside the error for the server to send.
        Err(e) => return Err(envelope_for_error(&e, &id)),
    };
    let mut res = render_error(res, &id);
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
    }
    Ok(res)
}

fn envelope_for_error(err: &Error, id: &str) -> Error {
    let status = err.as_response_error().status_code();
    let mut body = match err.as_error::<AdminError>() {
        Some(admin) => admin.render(id),
        None => {
            tracing::error!(request_id = %id, error = %err, "admin API error");
            let message = status.canonical_reason().unwrap_or("error").to_lowercase();
            let body = envelope(status, &message, code_for(status), &[], id);
            actix_web::HttpResponse::build(status).json(body)
        }
    };
    if let Ok(value) = HeaderValue::from_str(id) {
        body.headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
    }
    InternalError::from_response(err.to_string(), body).into()
}

fn render_error(res: ServiceResponse<BoxBody>, id: &str) -> ServiceResponse<BoxBody> {
    let status = res.status();
    if let Some(err) = res.response().error() {
        if let Some(admin) = err.as_error::<AdminError>() {
            if let AdminError::Internal(detail) = admin {
                tracing::error!(request_id = %id, %detail, "admin API internal error");
            }
            let body = admin.render(id);
            return res.into_response(body);
        }
        let message = if status.is_server_error() {
            tracing::error!(request_id = %id, error = %err, "admin API internal error");
            "internal server error".to_owned()
        } else {
            err.to_string()
        };
        return generic(res, status, &message, id);
    }
    // actix answers unknown routes and methods with an empty body and no content type.
    let bare = !res.headers().contains_key(header::CONTENT_TYPE);
    if (status.is_client_error() || status.is_server_error()) && bare {
        let message = status.canonical_reason().unwrap_or("error").to_lowercase();
        return generic(res, status, &message, id);
    }
    res
}

fn generic(
    res: ServiceResponse<BoxBody>,
    status: StatusCode,
    message: &str,
    id: &str,
) -> ServiceResponse<BoxBody> {
    let body = actix_web::HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(envelope(status, message, code_for(status), &[], id));
    res.into_response(body)
}

/// Codes for errors raised by actix rather than by this crate.
fn code_for(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNAUTHORIZED => "unauthorized",
        s if s.is_server_error() => "internal_error",
        _ => "bad_request",
    }
}
