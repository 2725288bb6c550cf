//! The one error type of the admin actions, shared by the HTTP handlers and the CLI, and
//! its rendering in the envelope the merchant API also uses.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use nexpay_store::StoreError;
use serde::Serialize;
use serde_json::json;

/// One rejected field, so a form can show the message next to the right input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldIssue {
    pub field: String,
    pub message: String,
}

impl FieldIssue {
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        FieldIssue {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The message lists every issue so the CLI can print it as is.
    #[error("{}", join_issues(.0))]
    Validation(Vec<FieldIssue>),
    /// Malformed request (bad JSON, wrong content type) rather than a bad value.
    #[error("{0}")]
    BadRequest(String),
    /// Missing, invalid or revoked session. The message never says which.
    #[error("authentication required")]
    Unauthorized,
    /// The same message for an unknown email and a wrong password: no user enumeration.
    #[error("invalid email or password")]
    BadCredentials,
    #[error("the password must be changed before using the admin API")]
    PasswordChangeRequired,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    /// Details go to the log (and to the CLI operator); HTTP clients get a fixed text.
    #[error("internal error: {0}")]
    Internal(String),
    /// Another service this action needs did not answer; retrying later may work.
    #[error("{0}")]
    Unavailable(String),
}

fn join_issues(issues: &[FieldIssue]) -> String {
    let parts: Vec<String> = issues
        .iter()
        .map(|i| format!("{}: {}", i.field, i.message))
        .collect();
    parts.join("; ")
}

impl AdminError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        AdminError::Validation(vec![FieldIssue::new(field, message)])
    }

    pub fn code(&self) -> &'static str {
        match self {
            AdminError::Validation(_) => "validation_error",
            AdminError::BadRequest(_) => "bad_request",
            AdminError::Unauthorized | AdminError::BadCredentials => "unauthorized",
            AdminError::PasswordChangeRequired => "password_change_required",
            AdminError::NotFound(_) => "not_found",
            AdminError::Conflict(_) => "conflict",
            AdminError::Internal(_) => "internal_error",
            AdminError::Unavailable(_) => "service_unavailable",
        }
    }

    /// What an HTTP client may see: internal details stay in the log.
    pub fn public_message(&self) -> String {
        match self {
            AdminError::Internal(_) => "internal server error".to_owned(),
            other => other.to_string(),
        }
    }

    pub fn details(&self) -> &[FieldIssue] {
        match self {
            AdminError::Validation(issues) => issues,
            _ => &[],
        }
    }

    /// The envelope body, also used for errors raised outside this crate's code.
    pub fn render(&self, request_id: &str) -> HttpResponse {
        let status = self.status_code();
        let mut res = HttpResponse::build(status);
        if status == StatusCode::UNAUTHORIZED {
            res.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        res.insert_header((header::CACHE_CONTROL, "no-store"));
        res.json(envelope(
            status,
            &self.public_message(),
            self.code(),
            self.details(),
            request_id,
        ))
    }
}

pub(crate) fn envelope(
    status: StatusCode,
    message: &str,
    code: &str,
    details: &[FieldIssue],
    request_id: &str,
) -> serde_json::Value {
    json!({
        "statusCode": status.as_u16(),
        "message": message,
        "error": { "code": code, "details": details },
        "requestId": request_id,
    })
}

impl ResponseError for AdminError {
    fn status_code(&self) -> StatusCode {
        match self {
            AdminError::Validation(_) | AdminError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AdminError::Unauthorized | AdminError::BadCredentials => StatusCode::UNAUTHORIZED,
            AdminError::PasswordChangeRequired => StatusCode::FORBIDDEN,
            AdminError::NotFound(_) => StatusCode::NOT_FOUND,
            AdminError::Conflict(_) => StatusCode::CONFLICT,
            AdminError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            AdminError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// Rendered again with the request id by the scope's middleware; this fallback only
    /// matters if a handler is mounted without it.
    fn error_response(&self) -> HttpResponse {
        self.render("")
    }
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => AdminError::NotFound("record"),
            // The database message names tables and constraints: keep it for the log.
            StoreError::Conflict(detail) => {
                tracing::info!(%detail, "unique constraint hit");
                AdminError::Conflict("a conflicting record already exists".to_owned())
            }
            other => AdminError::Internal(other.to_string()),
        }
    }
}

pub type AdminResult<T> = Result<T, AdminError>;

/// Argon2 takes tens of milliseconds of CPU: run it off the async workers so one login
/// does not stall every other request on the same thread.
pub(crate) async fn blocking<T, F>(f: F) -> AdminResult<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AdminError::Internal(format!("blocking task failed: {e}")))
}

/// Collects every issue of one input, so a form can show them all at once. Each
/// feature module adds its own checks in an `impl Issues` block.
#[derive(Default)]
pub(crate) struct Issues(pub(crate) Vec<FieldIssue>);

impl Issues {
    pub(crate) fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldIssue::new(field, message));
    }

    pub(crate) fn finish(self) -> AdminResult<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(AdminError::Validation(self.0))
        }
    }
}
