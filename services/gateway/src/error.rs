//! The error envelope of the merchant API. Messages are for humans; codes are stable.
//! Internal causes are logged, never returned.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::request_id::current_request_id;

#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub details: serde_json::Value,
    /// Seconds for a `Retry-After` header (429 `rate_limited`).
    retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code: code.to_owned(),
            message: message.into(),
            details: json!([]),
            retry_after: None,
        }
    }

    /// Adds a `Retry-After` header (whole seconds) to the response.
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    pub fn retry_after(&self) -> Option<u64> {
        self.retry_after
    }

    pub fn validation(details: Vec<(String, String)>) -> Self {
        let message = match details.first() {
            Some((field, msg)) if details.len() == 1 => format!("{field}: {msg}"),
            _ => "The request has invalid fields".to_owned(),
        };
        let details = details
            .into_iter()
            .map(|(field, message)| json!({"field": field, "message": message}))
            .collect();
        ApiError {
            status: 400,
            code: "validation_error".to_owned(),
            message,
            details: serde_json::Value::Array(details),
            retry_after: None,
        }
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(cause = %cause, "internal error");
        ApiError::new(
            500,
            "internal_error",
            "An internal error occurred; it has been logged.",
        )
    }

    pub fn body(&self) -> serde_json::Value {
        json!({
            "statusCode": self.status,
            "message": self.message,
            "error": {"code": self.code, "details": self.details},
            "requestId": current_request_id(),
        })
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if let Some(secs) = self.retry_after {
            response.insert_header((actix_web::http::header::RETRY_AFTER, secs.to_string()));
        }
        response.json(self.body())
    }
}

pub(crate) fn json_error(err: actix_web::error::JsonPayloadError) -> ApiError {
    use actix_web::error::JsonPayloadError as E;
    match err {
        E::OverflowKnownLength { limit, .. } | E::Overflow { limit } => ApiError::new(
            413,
            "payload_too_large",
            format!("The request body exceeds {limit} bytes"),
        ),
        E::ContentType => ApiError::new(
            415,
            "unsupported_media_type",
            "Send the body as JSON with Content-Type: application/json",
        ),
        E::Deserialize(e) => ApiError::new(
            400,
            "invalid_json",
            format!("The body is not valid JSON: {e}"),
        ),
        other => ApiError::new(
            400,
            "invalid_json",
            format!("The body could not be read: {other}"),
        ),
    }
}

pub(crate) fn from_bus(e: nexpay_bus::BusError) -> ApiError {
    use nexpay_bus::{BusError, HandlerError};
    match e {
        BusError::Handler(HandlerError::Rejected {
            status,
            code,
            message,
            details,
        }) => ApiError {
            status,
            code,
            message,
            details,
            retry_after: None,
        },
        BusError::Timeout => ApiError::new(
            504,
            "timeout",
            "The payment service did not answer in time; retry with the same Idempotency-Key.",
        ),
        other => {
            tracing::error!(error = %other, "payments service call failed");
            ApiError::new(
                503,
                "service_unavailable",
                "The payment service is unavailable; retry with the same Idempotency-Key.",
            )
        }
    }
}
