//! Fault injection, then authentication of API requests: the §1.2 error codes,
//! key flags and optional request signing.

use std::time::Duration as StdDuration;

use actix_web::http::header::AUTHORIZATION;
use actix_web::http::StatusCode;
use actix_web::HttpRequest;

use super::config::{ApiKeyConfig, ApiScope};
use super::error::ApiError;
use super::signature::{verify_signature_header, SignatureError};
use super::sim::WaveSim;

fn unauthorized(code: &'static str, message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, code, message)
}

fn forbidden(code: &'static str, message: &str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, code, message)
}

/// Applies the request faults, then authenticates `req` (whose raw body is
/// `body`) and returns the calling key.
pub(crate) async fn authenticate(
    sim: &WaveSim,
    req: &HttpRequest,
    body: &[u8],
) -> Result<ApiKeyConfig, ApiError> {
    let (delay_ms, fault) = sim.take_request_fault();
    if delay_ms > 0 {
        tokio::time::sleep(StdDuration::from_millis(delay_ms)).await;
    }
    if let Some(error) = fault {
        return Err(error);
    }

    let header = req
        .headers()
        .get(AUTHORIZATION)
        .ok_or_else(|| unauthorized("missing-auth-header", "Missing Authorization header"))?;
    let value = header
        .to_str()
        .map_err(|_| unauthorized("invalid-auth", "Invalid Authorization header"))?;
    let (scheme, rest) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(unauthorized(
            "invalid-auth",
            "Authorization header must be 'Bearer <api key>'",
        ));
    }
    let presented = rest.trim();
    if presented.is_empty() {
        return Err(unauthorized("api-key-not-provided", "No API key provided"));
    }
    let key = sim
        .api_key(presented)
        .ok_or_else(|| unauthorized("no-matching-api-key", "No matching API key"))?;
    if key.revoked {
        return Err(unauthorized(
            "api-key-revoked",
            "This API key has been revoked",
        ));
    }
    if !key.allowed_ips.is_empty() {
        let allowed = req
            .peer_addr()
            .is_some_and(|peer| key.allowed_ips.contains(&peer.ip()));
        if !allowed {
            // The code for this case is not documented; this one is the simulator's.
            return Err(forbidden(
                "ip-not-allowed",
                "Requests from this IP address are not allowed for this API key",
            ));
        }
    }
    if let Some(secret) = &key.signing_secret {
        let header = req
            .headers()
            .get("Wave-Signature")
            .and_then(|h| h.to_str().ok())
            .ok_or_else(|| {
                unauthorized(
                    "missing-signature",
                    "This API key requires a Wave-Signature header",
                )
            })?;
        verify_signature_header(
            header,
            secret,
            body,
            sim.now().timestamp(),
            sim.signature_tolerance(),
        )
        .map_err(|e| match e {
            SignatureError::Malformed => {
                unauthorized("invalid-signature", "Malformed Wave-Signature header")
            }
            SignatureError::Stale => unauthorized(
                "invalid-signature",
                "Wave-Signature timestamp is too far from the current time",
            ),
            SignatureError::Mismatch => unauthorized(
                "invalid-signature",
                "Wave-Signature does not match the request",
            ),
        })?;
    }
    if key.wallet_disabled {
        return Err(forbidden(
            "disabled-wallet",
            "This wallet is temporarily disabled",
        ));
    }
    if !key.scopes.contains(&ApiScope::Checkout) {
        return Err(forbidden(
            "invalid-wallet",
            "This wallet cannot use the Checkout API",
        ));
    }
    Ok(key)
}
