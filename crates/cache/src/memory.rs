//! In-process cache for the single-process `standalone` wiring (and tests).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::bucket::{self, Previous};
use crate::{effective_ttl, Cache, CacheError, RateDecision};

/// Enough for the idempotency keys and rate buckets of one busy process while
/// keeping the worst case to tens of MB.
const DEFAULT_MAX_ENTRIES: usize = 100_000;

/// Bounded in-memory [`Cache`]. Cloning is cheap and clones share the same entries.
///
/// When full, an insert first drops expired entries, then the entry written longest
/// ago. Every operation is O(log n) under one mutex, never held across an await.
#[derive(Clone)]
pub struct MemoryCache {
    store: Arc<Mutex<Store>>,
}

enum Value {
    Bytes(Vec<u8>),
    /// Token bucket: tokens left as of `at`.
    Bucket {
        tokens: f64,
        at: Instant,
    },
}

struct Entry {
    value: Value,
    expires_at: Instant,
    /// Write order; also disambiguates equal expiry instants in `by_expiry`.
    seq: u64,
}

struct Store {
    entries: HashMap<Arc<str>, Entry>,
    /// Soonest expiry first, so expired entries are found without a scan.
    by_expiry: BTreeMap<(Instant, u64), Arc<str>>,
    /// Oldest write first: the eviction victim when nothing has expired.
    by_age: BTreeMap<u64, Arc<str>>,
    next_seq: u64,
    max_entries: usize,
}

impl Store {
    fn remove(&mut self, key: &str) -> Option<Entry> {
        let entry = self.entries.remove(key)?;
        self.by_expiry.remove(&(entry.expires_at, entry.seq));
        self.by_age.remove(&entry.seq);
        Some(entry)
    }

    fn purge_expired(&mut self, now: Instant) {
        while let Some((&(expires_at, _), key)) = self.by_expiry.first_key_value() {
            if expires_at > now {
                break;
            }
            let key = Arc::clone(key);
            self.remove(&key);
        }
    }

    /// The live entry under `key`; an expired one is dropped on the way.
    fn live(&mut self, key: &str, now: Instant) -> Option<&mut Entry> {
        let expired = self.entries.get(key)?.expires_at <= now;
        if expired {
            self.remove(key);
            return None;
        }
        self.entries.get_mut(key)
    }

    fn insert(&mut self, key: &str, value: Value, ttl: Duration, now: Instant) {
        self.remove(key);
        self.purge_expired(now);
        while self.entries.len() >= self.max_entries {
            let Some((_, oldest)) = self.by_age.pop_first() else {
                break;
            };
            self.remove(&oldest);
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        // `effective_ttl` caps the TTL, so this only falls back on a clock near its end.
        let expires_at = now.checked_add(ttl).unwrap_or(now);
        let key: Arc<str> = Arc::from(key);
        self.by_expiry.insert((expires_at, seq), Arc::clone(&key));
        self.by_age.insert(seq, Arc::clone(&key));
        self.entries.insert(
            key,
            Entry {
                value,
                expires_at,
                seq,
            },
        );
    }
}

impl MemoryCache {
    /// A cache holding at most 100 000 entries.
    pub fn new() -> Self {
        Self::with_max_entries(DEFAULT_MAX_ENTRIES)
    }

    /// A cache holding at most `max_entries` entries (at least one).
    pub fn with_max_entries(max_entries: usize) -> Self {
        Self {
            store: Arc::new(Mutex::new(Store {
                entries: HashMap::new(),
                by_expiry: BTreeMap::new(),
                by_age: BTreeMap::new(),
                next_seq: 0,
                max_entries: max_entries.max(1),
            })),
        }
    }

    /// Entries held, counting expired ones not yet dropped.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, Store> {
        // A poisoned lock only means another thread panicked while holding it; the
        // critical sections are plain map updates, so the data is still usable and a
        // cache must not turn one panic into failing every later request.
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for MemoryCache {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryCache")
            .field("entries", &self.len())
            .finish()
    }
}

#[async_trait]
impl Cache for MemoryCache {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        let mut store = self.lock();
        Ok(match store.live(key, Instant::now()) {
            Some(Entry {
                value: Value::Bytes(bytes),
                ..
            }) => Some(bytes.clone()),
            // A bucket is not a value (Redis would answer WRONGTYPE): treat as a miss.
            _ => None,
        })
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), CacheError> {
        let value = Value::Bytes(value.to_vec());
        self.lock()
            .insert(key, value, effective_ttl(ttl), Instant::now());
        Ok(())
    }

    async fn set_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, CacheError> {
        let now = Instant::now();
        let mut store = self.lock();
        if store.live(key, now).is_some() {
            return Ok(false);
        }
        store.insert(key, Value::Bytes(value.to_vec()), effective_ttl(ttl), now);
        Ok(true)
    }

    async fn delete(&self, key: &str) -> Result<(), CacheError> {
        self.lock().remove(key);
        Ok(())
    }

    async fn take_token(
        &self,
        key: &str,
        capacity: u32,
        refill_per_sec: f64,
    ) -> Result<RateDecision, CacheError> {
        let now = Instant::now();
        let mut store = self.lock();
        let previous = match store.live(key, now) {
            Some(Entry {
                value: Value::Bucket { tokens, at },
                ..
            }) => Some(Previous {
                tokens: *tokens,
                elapsed: now.saturating_duration_since(*at),
            }),
            // Missing, expired, or a plain value under a rate key: start a full bucket.
            _ => None,
        };
        let (tokens, decision, keep) = bucket::take(previous, capacity, refill_per_sec);
        store.insert(key, Value::Bucket { tokens, at: now }, keep, now);
        Ok(decision)
    }

    async fn health(&self) -> Result<(), CacheError> {
        Ok(())
    }
}
