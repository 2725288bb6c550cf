//! `x-api-key` authentication. Keys are looked up by the SHA-256 of the presented value
//! (an indexed equality on a high-entropy secret), then compared in constant time.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::HttpRequest;
use nexpay_security::{constant_time_eq, hash_api_key};
use nexpay_store::now;

use crate::error::ApiError;
use crate::GatewayState;

#[derive(Debug, Clone, PartialEq)]
pub struct Caller {
    pub key_id: String,
    pub project_id: String,
    pub kind: String,
    pub mode: String,
}

impl Caller {
    pub fn require_write(&self) -> Result<(), ApiError> {
        if self.kind == "write" {
            Ok(())
        } else {
            Err(ApiError::new(
                403,
                "forbidden",
                "This route needs a write (secret) API key; a read key can only read sessions.",
            ))
        }
    }
}

/// Remembers when each key's `last_used_at` was last written, so a busy key costs one
/// write a minute instead of one per request.
#[derive(Default)]
pub(crate) struct KeyUsage {
    touched: Mutex<HashMap<String, Instant>>,
}

const TOUCH_EVERY: Duration = Duration::from_secs(60);

impl KeyUsage {
    fn should_touch(&self, key_id: &str) -> bool {
        let Ok(mut map) = self.touched.lock() else {
            return false;
        };
        let now = Instant::now();
        match map.get(key_id) {
            Some(t) if now.duration_since(*t) < TOUCH_EVERY => false,
            _ => {
                map.insert(key_id.to_owned(), now);
                true
            }
        }
    }
}

const MAX_KEY_LEN: usize = 200;

pub async fn authenticate(state: &GatewayState, req: &HttpRequest) -> Result<Caller, ApiError> {
    let presented = req
        .headers()
        .get("x-api-key")
        .map(|v| v.to_str().unwrap_or_default().trim().to_owned())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            ApiError::new(
                401,
                "missing_api_key",
                "Send your API key in the x-api-key header",
            )
        })?;
    let invalid = || {
        ApiError::new(
            401,
            "invalid_api_key",
            "The API key is unknown, revoked or expired",
        )
    };
    if presented.len() > MAX_KEY_LEN {
        return Err(invalid());
    }
    let hash = hash_api_key(&presented);
    let found = state.store.find_key_by_hash(&hash).await.map_err(|e| {
        tracing::error!(error = %e, "key lookup failed");
        ApiError::new(
            503,
            "service_unavailable",
            "Authentication is temporarily unavailable; retry.",
        )
    })?;
    let Some(found) = found else {
        return Err(invalid());
    };
    if !constant_time_eq(found.key.key_hash.as_bytes(), hash.as_bytes()) {
        return Err(invalid());
    }
    let at = now();
    if found.key.revoked_at.is_some_and(|r| r <= at)
        || found.key.expires_at.is_some_and(|e| e <= at)
    {
        return Err(invalid());
    }
    if state.keys.should_touch(&found.key.id) {
        let store = state.store.clone();
        let id = found.key.id.clone();
        tokio::spawn(async move {
            if let Err(e) = store.touch_api_key(&id, at).await {
                tracing::warn!(error = %e, "could not record key use");
            }
        });
    }
    Ok(Caller {
        key_id: found.key.id,
        project_id: found.project.id,
        kind: found.key.kind,
        mode: found.key.mode,
    })
}
