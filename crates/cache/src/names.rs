//! Names of the entries the services share through the cache. Writers and readers live
//! in different services (the dashboard deletes what the gateway cached, payments
//! invalidates what the gateway serves), so the names are defined once, here.
//!
//! Each kind has its own prefix: plain values and token buckets must never share a key
//! (Redis stores them with different types).

/// The lookup of an API key by the SHA-256 hex of its secret (`hash_api_key`).
pub fn api_key(key_hash: &str) -> String {
    format!("apikey:{key_hash}")
}

/// The token bucket limiting one API key (by key id).
pub fn rate_limit(key_id: &str) -> String {
    format!("rate:{key_id}")
}

/// The rendered status of a checkout session.
pub fn session_status(session_id: &str) -> String {
    format!("session:{session_id}")
}

/// Written by payments under [`session_status`] right after it commits a change to the
/// session, for [`SESSION_CHANGED_TTL`]: it replaces whatever view was cached, and
/// readers neither use it nor cache a view over it, so a view read from the database
/// just before the change cannot be stored just after it.
pub const SESSION_CHANGED: &[u8] = b"changed";

/// Longer than the slowest database read a reader may still cache (half a second) plus
/// a cache call's deadline.
pub const SESSION_CHANGED_TTL: std::time::Duration = std::time::Duration::from_secs(3);

/// A completed idempotent response. The merchant's key comes last: it may contain `:`.
pub fn idempotency(project_id: &str, mode: &str, key: &str) -> String {
    format!("idem:{project_id}:{mode}:{key}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_never_collide() {
        let names = [
            api_key("x"),
            rate_limit("x"),
            session_status("x"),
            idempotency("x", "test", "x"),
        ];
        for (i, a) in names.iter().enumerate() {
            for b in &names[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(idempotency("prj_1", "live", "a:b"), "idem:prj_1:live:a:b");
    }
}
