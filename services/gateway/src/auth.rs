//! `x-api-key` authentication. Keys are looked up by the SHA-256 of the presented value
//! (an indexed equality on a high-entropy secret), then compared in constant time.
//!
//! With a cache ([`crate::GatewayState::with_cache`]) a successful lookup is kept for
//! [`KEY_TTL`] under the key's hash, so a busy key costs no database round trip. The
//! expiry is checked on every request against the cached deadline. A revoked, rotated or
//! archived key must stop working at once, whoever made the change:
//! - the dashboard and the CLI delete the entry when they change a key (immediate for
//!   every replica sharing the cache);
//! - every entry carries the database's key fingerprint
//!   ([`nexpay_store::Store::api_key_fingerprint`], counters that grow with each
//!   revocation, rotation and archived project) from before its lookup, and is only used
//!   while the fingerprint is unchanged. The gateway re-reads the fingerprint at once
//!   when a change was committed through a store of this process
//!   ([`nexpay_store::Store::key_change_epoch`]), and every [`FINGERPRINT_EVERY`]
//!   otherwise, which covers changes made by another process (the `nexpay keys` CLI
//!   next to a standalone server whose cache is in memory).
//!
//! Failed lookups are never cached: an unknown key always reaches the database.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use actix_web::HttpRequest;
use chrono::NaiveDateTime;
use nexpay_cache::names;
use nexpay_security::{constant_time_eq, hash_api_key};
use nexpay_store::{now, Store};

use crate::cache::GatewayCache;
use crate::error::ApiError;
use crate::GatewayState;

/// How long a successful key lookup is cached.
pub(crate) const KEY_TTL: Duration = Duration::from_secs(60);
/// How often the key fingerprint is re-read while requests keep coming: the longest a
/// key changed by another process (without a shared cache) keeps working.
pub(crate) const FINGERPRINT_EVERY: Duration = Duration::from_millis(500);

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

/// Per-key request rate, enforced through the shared cache's token bucket (so replicas
/// sharing a Redis share the budget). Only applies when the gateway has a cache.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Sustained requests per second per API key; 0 turns the limit off.
    pub per_sec: u32,
    /// Requests a key may send at once after being idle (the bucket's size).
    pub burst: u32,
}

impl Default for RateLimit {
    /// The defaults of `RATE_LIMIT_PER_SEC` and `RATE_LIMIT_BURST`.
    fn default() -> Self {
        RateLimit {
            per_sec: 50,
            burst: 100,
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

/// The database key fingerprint as last read, and when to read it again.
pub(crate) struct KeyFingerprint {
    state: Mutex<FingerprintState>,
    /// Numbers the reads, so an older read finishing late cannot overwrite a newer one.
    reads: AtomicU64,
    origin: Instant,
    next_read_ms: AtomicU64,
}

#[derive(Default)]
struct FingerprintState {
    value: Option<u64>,
    /// The read it came from.
    read: u64,
    /// `Store::key_change_epoch` as it was before that read.
    epoch: u64,
}

impl Default for KeyFingerprint {
    fn default() -> Self {
        KeyFingerprint {
            state: Mutex::default(),
            reads: AtomicU64::new(0),
            origin: Instant::now(),
            next_read_ms: AtomicU64::new(0),
        }
    }
}

impl KeyFingerprint {
    /// The fingerprint to validate and stamp cache entries with; `None` when it cannot
    /// be known (the database did not answer): then the cache is not used.
    async fn current(self: &Arc<Self>, store: &Store) -> Option<u64> {
        let epoch = store.key_change_epoch();
        let (value, seen_epoch) = {
            let s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            (s.value, s.epoch)
        };
        let Some(value) = value.filter(|_| seen_epoch == epoch) else {
            // First use, or a key changed in this process: read it now, before
            // trusting any entry.
            return self.read(store).await;
        };
        let now = u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX);
        let due = self.next_read_ms.load(Ordering::Relaxed);
        if now >= due
            && self
                .next_read_ms
                .compare_exchange(
                    due,
                    now + FINGERPRINT_EVERY.as_millis() as u64,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
        {
            // Periodic refresh in the background: no request waits for it.
            let (me, store) = (self.clone(), store.clone());
            tokio::spawn(async move { me.read(&store).await });
        }
        Some(value)
    }

    async fn read(&self, store: &Store) -> Option<u64> {
        let read = self.reads.fetch_add(1, Ordering::Relaxed) + 1;
        let epoch = store.key_change_epoch();
        let counts = match store.api_key_fingerprint().await {
            Ok(counts) => counts,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the key fingerprint; key cache bypassed");
                return None;
            }
        };
        let value = fingerprint(counts);
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if read > s.read {
            *s = FingerprintState {
                value: Some(value),
                read,
                epoch,
            };
        }
        Some(value)
    }
}

/// Packs the three counters (21 bits each) into one number. They only ever grow, so two
/// states can only look alike after two million keys, revocations or archived projects.
fn fingerprint((keys, revoked, archived): (i64, i64, i64)) -> u64 {
    let part = |n: i64| u64::try_from(n).unwrap_or(0) & 0x1f_ffff;
    (part(keys) << 42) | (part(revoked) << 21) | part(archived)
}

/// A valid key as the gateway needs it, as cached.
#[derive(Debug, Clone, PartialEq)]
struct KeyEntry {
    caller: Caller,
    expires_at: Option<NaiveDateTime>,
}

impl KeyEntry {
    fn encode(&self, fingerprint: u64) -> Vec<u8> {
        let expires = self
            .expires_at
            .map(|t| t.and_utc().timestamp_micros().to_string())
            .unwrap_or_default();
        let c = &self.caller;
        format!(
            "1|{fingerprint}|{}|{}|{}|{}|{expires}",
            c.key_id, c.project_id, c.kind, c.mode
        )
        .into_bytes()
    }

    /// The entry, if it is well formed and was stamped with `fingerprint`.
    fn decode(bytes: &[u8], fingerprint: u64) -> Option<KeyEntry> {
        let text = std::str::from_utf8(bytes).ok()?;
        let mut parts = text.split('|');
        if parts.next()? != "1" || parts.next()?.parse::<u64>().ok()? != fingerprint {
            return None;
        }
        let caller = Caller {
            key_id: parts.next()?.to_owned(),
            project_id: parts.next()?.to_owned(),
            kind: parts.next()?.to_owned(),
            mode: parts.next()?.to_owned(),
        };
        let expires_at = match parts.next()? {
            "" => None,
            micros => {
                Some(chrono::DateTime::from_timestamp_micros(micros.parse().ok()?)?.naive_utc())
            }
        };
        if parts.next().is_some() {
            return None;
        }
        Some(KeyEntry { caller, expires_at })
    }

    fn expired(&self, at: NaiveDateTime) -> bool {
        self.expires_at.is_some_and(|e| e <= at)
    }
}

const MAX_KEY_LEN: usize = 200;

fn invalid() -> ApiError {
    ApiError::new(
        401,
        "invalid_api_key",
        "The API key is unknown, revoked or expired",
    )
}

pub async fn authenticate(state: &GatewayState, req: &HttpRequest) -> Result<Caller, ApiError> {
    let presented = req
        .headers()
        .get("x-api-key")
        .map(|v| v.to_str().unwrap_or_default().trim())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            ApiError::new(
                401,
                "missing_api_key",
                "Send your API key in the x-api-key header",
            )
        })?;
    if presented.len() > MAX_KEY_LEN {
        return Err(invalid());
    }
    let hash = hash_api_key(presented);
    let at = now();
    let entry = match &state.cache {
        Some(cache) => cached_lookup(state, cache, &hash, at).await?,
        None => lookup(state, &hash, at).await?.0,
    };
    if state.keys.should_touch(&entry.caller.key_id) {
        let store = state.store.clone();
        let id = entry.caller.key_id.clone();
        tokio::spawn(async move {
            if let Err(e) = store.touch_api_key(&id, at).await {
                tracing::warn!(error = %e, "could not record key use");
            }
        });
    }
    if let Some(cache) = &state.cache {
        check_rate(cache, state.rate_limit, &entry.caller.key_id).await?;
    }
    Ok(entry.caller)
}

async fn cached_lookup(
    state: &GatewayState,
    cache: &GatewayCache,
    hash: &str,
    at: NaiveDateTime,
) -> Result<KeyEntry, ApiError> {
    // Taken before the database lookup: an entry filled from a lookup that raced with
    // a key change carries the old fingerprint and is never used.
    let fingerprint = state.key_fingerprint.current(&state.store).await;
    let name = names::api_key(hash);
    if let Some(fp) = fingerprint {
        if let Some(entry) = cache
            .get(&name)
            .await
            .and_then(|bytes| KeyEntry::decode(&bytes, fp))
        {
            if entry.expired(at) {
                return Err(invalid());
            }
            return Ok(entry);
        }
    }
    let (entry, cacheable) = lookup(state, hash, at).await?;
    if let (Some(fp), true) = (fingerprint, cacheable) {
        cache.set(&name, &entry.encode(fp), KEY_TTL).await;
    }
    Ok(entry)
}

/// The database lookup. Also says whether the answer may be cached (a key with a
/// revocation date, even a future one, is always looked up again).
async fn lookup(
    state: &GatewayState,
    hash: &str,
    at: NaiveDateTime,
) -> Result<(KeyEntry, bool), ApiError> {
    let found = state.store.find_key_by_hash(hash).await.map_err(|e| {
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
    if found.key.revoked_at.is_some_and(|r| r <= at)
        || found.key.expires_at.is_some_and(|e| e <= at)
    {
        return Err(invalid());
    }
    let cacheable = found.key.revoked_at.is_none();
    Ok((
        KeyEntry {
            caller: Caller {
                key_id: found.key.id,
                project_id: found.project.id,
                kind: found.key.kind,
                mode: found.key.mode,
            },
            expires_at: found.key.expires_at,
        },
        cacheable,
    ))
}

/// Takes a token from the key's bucket; 429 `rate_limited` with `Retry-After` (whole
/// seconds, at least 1) when it is empty. A cache that cannot answer lets the request
/// through.
async fn check_rate(cache: &GatewayCache, limit: RateLimit, key_id: &str) -> Result<(), ApiError> {
    if limit.per_sec == 0 {
        return Ok(());
    }
    let Some(decision) = cache
        .take_token(
            &names::rate_limit(key_id),
            limit.burst,
            f64::from(limit.per_sec),
        )
        .await
    else {
        return Ok(());
    };
    if decision.allowed {
        return Ok(());
    }
    let secs = decision.retry_after.as_secs_f64().ceil().max(1.0) as u64;
    Err(ApiError::new(
        429,
        "rate_limited",
        format!(
            "Too many requests with this API key (limit {} per second); retry in {secs} s.",
            limit.per_sec
        ),
    )
    .with_retry_after(secs))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn entry(expires_at: Option<NaiveDateTime>) -> KeyEntry {
        KeyEntry {
            caller: Caller {
                key_id: "key_1".into(),
                project_id: "prj_1".into(),
                kind: "read".into(),
                mode: "test".into(),
            },
            expires_at,
        }
    }

    #[test]
    fn entries_round_trip_and_need_the_same_fingerprint() {
        let e = entry(None);
        assert_eq!(KeyEntry::decode(&e.encode(7), 7), Some(e.clone()));
        assert_eq!(KeyEntry::decode(&e.encode(7), 8), None);
        let at = now() + chrono::Duration::seconds(30);
        let e = entry(Some(at));
        let back = KeyEntry::decode(&e.encode(1), 1).unwrap();
        assert_eq!(back, e);
        assert!(!back.expired(now()));
        assert!(back.expired(at));
        for junk in [
            &b""[..],
            b"1|1|a|b|c",
            b"2|1|a|b|c|d|",
            b"1|1|a|b|c|d||x",
            b"\xff",
        ] {
            assert_eq!(KeyEntry::decode(junk, 1), None);
        }
    }

    #[test]
    fn fingerprint_changes_with_each_counter() {
        let base = fingerprint((10, 2, 1));
        assert_ne!(base, fingerprint((11, 2, 1)));
        assert_ne!(base, fingerprint((10, 3, 1)));
        assert_ne!(base, fingerprint((10, 2, 2)));
    }
}
