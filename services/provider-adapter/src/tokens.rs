//! Orange Money access tokens shared by every provider-adapter replica through the
//! cache (Redis in the distributed stack), so replicas do not each ask Sonatel for a
//! token, and a token refused by the gateway is dropped for all of them.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use nexpay_cache::Cache;
use nexpay_providers::{CachedToken, TokenCache};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Stored {
    access_token: String,
    use_until: DateTime<Utc>,
}

/// [`TokenCache`] over a [`Cache`]. A cache failure is a miss: the connector then asks
/// for a new token, which always works.
pub struct SharedTokenCache {
    cache: Arc<dyn Cache>,
}

impl SharedTokenCache {
    pub fn new(cache: Arc<dyn Cache>) -> Self {
        SharedTokenCache { cache }
    }

    /// The cache key: the connector's key (base URL and client id) hashed, so neither
    /// appears in the cache's key space.
    fn key(key: &str) -> String {
        format!(
            "om-token:{}",
            nexpay_security::hmac_sha256_hex(b"nexpay-om-token", key.as_bytes())
        )
    }
}

#[async_trait]
impl TokenCache for SharedTokenCache {
    async fn get(&self, key: &str) -> Option<CachedToken> {
        let raw = self.cache.get(&Self::key(key)).await.ok()??;
        let stored: Stored = serde_json::from_slice(&raw).ok()?;
        (stored.use_until > Utc::now()).then_some(CachedToken {
            access_token: stored.access_token,
            use_until: stored.use_until,
        })
    }

    async fn put(&self, key: &str, token: CachedToken) {
        let ttl = (token.use_until - Utc::now())
            .to_std()
            .unwrap_or(Duration::ZERO);
        if ttl.is_zero() {
            return;
        }
        let value = serde_json::to_vec(&Stored {
            access_token: token.access_token,
            use_until: token.use_until,
        })
        .unwrap_or_default();
        if let Err(e) = self.cache.set(&Self::key(key), &value, ttl).await {
            tracing::warn!(error = %e, "cannot share an Orange Money token; each replica will fetch its own");
        }
    }

    async fn invalidate(&self, key: &str, access_token: &str) {
        if self
            .get(key)
            .await
            .is_some_and(|t| t.access_token == access_token)
        {
            let _ = self.cache.delete(&Self::key(key)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nexpay_cache::MemoryCache;

    fn token(value: &str, secs: i64) -> CachedToken {
        CachedToken {
            access_token: value.to_owned(),
            use_until: Utc::now() + chrono::Duration::seconds(secs),
        }
    }

    #[tokio::test]
    async fn replicas_share_one_token_and_drop_it_together() {
        let cache: Arc<dyn Cache> = Arc::new(MemoryCache::with_max_entries(100));
        let (a, b) = (
            SharedTokenCache::new(cache.clone()),
            SharedTokenCache::new(cache.clone()),
        );
        assert!(a.get("https://api|client").await.is_none());
        a.put("https://api|client", token("tok-1", 60)).await;
        let seen = b.get("https://api|client").await.expect("shared");
        assert_eq!(seen.access_token, "tok-1");
        // Another client id is another token.
        assert!(b.get("https://api|other").await.is_none());
        // Invalidating a token that is no longer the cached one changes nothing.
        b.invalidate("https://api|client", "tok-0").await;
        assert!(a.get("https://api|client").await.is_some());
        b.invalidate("https://api|client", "tok-1").await;
        assert!(a.get("https://api|client").await.is_none());
        // An expired token is never served (nor stored).
        a.put("https://api|client", token("tok-2", -1)).await;
        assert!(b.get("https://api|client").await.is_none());
    }
}
