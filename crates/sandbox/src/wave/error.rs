//! Wave error bodies: `{"code": "...", "message": "..."}`, plus pydantic-style
//! `details` for validation errors.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::{json, Value};

/// An error answered by the simulated Wave API.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Kebab-case error code.
    pub code: &'static str,
    /// Human-readable message.
    pub message: String,
    /// Validation details (`[{"loc": [...], "msg": ..., "type": ...}]`).
    pub details: Option<Vec<Value>>,
}

impl ApiError {
    /// An error without details.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: None,
        }
    }

    /// `400 request-validation-error` with pydantic-style details.
    pub fn validation(details: Vec<Value>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "request-validation-error",
            message: "Request invalid".into(),
            details: Some(details),
        }
    }

    /// `404 checkout-session-not-found`.
    pub fn session_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "checkout-session-not-found",
            "Checkout session not found",
        )
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        let mut body = json!({"code": self.code, "message": self.message});
        if let (Some(details), Value::Object(map)) = (&self.details, &mut body) {
            map.insert("details".into(), Value::Array(details.clone()));
        }
        body
    }
}

/// One pydantic-style validation detail.
pub(crate) fn detail(loc: &[&str], msg: &str, kind: &str) -> Value {
    json!({"loc": loc, "msg": msg, "type": kind})
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut builder = HttpResponse::build(self.status);
        if self.status == StatusCode::TOO_MANY_REQUESTS {
            builder.insert_header(("Retry-After", "1"));
        }
        builder.json(self.body())
    }
}
