//! Admin sessions on the wire: the bearer token or cookie, the middleware that checks it
//! before any handler runs, and the extractor handlers use to get the signed-in user.
//!
//! Authentication is a middleware rather than a handler argument because actix polls
//! all extractors of a handler together: a body error could otherwise answer before
//! the session check and tell an anonymous caller how a route parses its input.

use std::future::{ready, Ready};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap};
use actix_web::middleware::Next;
use actix_web::{web, Error, FromRequest, HttpMessage, HttpRequest, HttpResponseBuilder};
use nexpay_store::UserRow;

use crate::accounts::{self, SESSION_TTL_SECS};
use crate::error::AdminError;
use crate::DashboardState;

pub const COOKIE_NAME: &str = "nexpay_admin";
/// Covers the admin UI pages as well as this API.
const COOKIE_PATH: &str = "/admin";

/// The authenticated user of the current request.
#[derive(Clone)]
pub struct Admin(pub UserRow);

impl FromRequest for Admin {
    type Error = AdminError;
    type Future = Ready<Result<Admin, AdminError>>;

    /// Only reads what the middleware stored; a route mounted outside the authenticated
    /// scopes therefore fails closed.
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            req.extensions()
                .get::<Admin>()
                .cloned()
                .ok_or(AdminError::Unauthorized),
        )
    }
}

/// `Authorization: Bearer …` first; the cookie only when that header is absent, so an
/// explicit but wrong header is never silently replaced by an ambient cookie.
pub(crate) fn presented_token(headers: &HeaderMap) -> Option<String> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value.to_str().ok()?.trim();
        let (scheme, token) = value.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_owned());
    }
    headers
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.trim().to_owned())
}

/// HttpOnly keeps the token away from scripts; SameSite=Strict stops cross-site requests
/// from carrying it (CSRF); Secure in production so it never travels in clear.
pub(crate) fn set_cookie(res: &mut HttpResponseBuilder, token: &str, secure: bool) {
    res.append_header((header::SET_COOKIE, cookie(token, SESSION_TTL_SECS, secure)));
}

pub(crate) fn clear_cookie(res: &mut HttpResponseBuilder, secure: bool) {
    res.append_header((header::SET_COOKIE, cookie("", 0, secure)));
}

fn cookie(value: &str, max_age: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{COOKIE_NAME}={value}; Path={COOKIE_PATH}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
    )
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Gate {
    /// Every route but the password change and `me`.
    PasswordChanged,
    /// Routes a user who must change their password can still use.
    AllowPendingChange,
}

/// Middleware for the routes that need a session and a changed password.
pub(crate) async fn require_admin(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    check(req, next, Gate::PasswordChanged).await
}

/// Middleware for the routes that only need a session.
pub(crate) async fn require_session(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    check(req, next, Gate::AllowPendingChange).await
}

async fn check(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
    gate: Gate,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let Some(state) = req.app_data::<web::Data<DashboardState>>().cloned() else {
        let err = AdminError::Internal("DashboardState is not registered as app data".into());
        return Ok(req.error_response(err));
    };
    let Some(token) = presented_token(req.headers()) else {
        return Ok(req.error_response(AdminError::Unauthorized));
    };
    let user = match accounts::authenticate(&state.store, &state.signer, &token).await {
        Ok(user) => user,
        Err(e) => return Ok(req.error_response(e)),
    };
    if gate == Gate::PasswordChanged && user.must_change_password {
        return Ok(req.error_response(AdminError::PasswordChangeRequired));
    }
    req.extensions_mut().insert(Admin(user));
    Ok(next.call(req).await?.map_into_boxed_body())
}
