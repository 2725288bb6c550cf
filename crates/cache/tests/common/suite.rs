//! Behaviour every `Cache` adapter must have; run against MemoryCache and RedisCache.

use std::sync::Arc;
use std::time::{Duration, Instant};

use nexpay_cache::Cache;
use tokio::sync::Barrier;

use super::eventually;

const LONG: Duration = Duration::from_secs(60);

pub async fn get_set_delete(cache: &impl Cache) {
    assert_eq!(cache.get("k").await.unwrap(), None);
    cache.set("k", b"v1", LONG).await.unwrap();
    assert_eq!(cache.get("k").await.unwrap().as_deref(), Some(&b"v1"[..]));
    cache.set("k", b"\x00\xffbinary", LONG).await.unwrap();
    assert_eq!(
        cache.get("k").await.unwrap().as_deref(),
        Some(&b"\x00\xffbinary"[..])
    );
    cache.delete("k").await.unwrap();
    assert_eq!(cache.get("k").await.unwrap(), None);
    // Deleting a missing key is not an error.
    cache.delete("k").await.unwrap();
    cache.health().await.unwrap();
}

pub async fn ttl_expiry(cache: &impl Cache) {
    let ttl = Duration::from_millis(150);
    let start = Instant::now();
    cache.set("short", b"x", ttl).await.unwrap();
    cache.set("long", b"y", LONG).await.unwrap();
    let present = cache.get("short").await.unwrap();
    // The read can only miss if this machine stalled past the TTL.
    if start.elapsed() < ttl {
        assert_eq!(present.as_deref(), Some(&b"x"[..]));
    }
    let gone = eventually(Duration::from_secs(3), || async {
        cache.get("short").await.unwrap().is_none()
    })
    .await;
    assert!(gone, "key with a 150 ms TTL still there after 3 s");
    assert!(
        start.elapsed() >= Duration::from_millis(140),
        "expired early"
    );
    assert_eq!(cache.get("long").await.unwrap().as_deref(), Some(&b"y"[..]));
}

pub async fn set_if_absent_semantics(cache: &impl Cache) {
    assert!(cache.set_if_absent("nx", b"a", LONG).await.unwrap());
    assert!(!cache.set_if_absent("nx", b"b", LONG).await.unwrap());
    assert_eq!(cache.get("nx").await.unwrap().as_deref(), Some(&b"a"[..]));
    // Once the holder expires, the key can be taken again.
    assert!(cache
        .set_if_absent("nx-short", b"a", Duration::from_millis(50))
        .await
        .unwrap());
    let retaken = eventually(Duration::from_secs(3), || async {
        cache.set_if_absent("nx-short", b"b", LONG).await.unwrap()
    })
    .await;
    assert!(retaken);
    assert_eq!(
        cache.get("nx-short").await.unwrap().as_deref(),
        Some(&b"b"[..])
    );
}

/// 16 tasks race for one key: exactly one wins.
pub async fn set_if_absent_one_winner<C: Cache + Clone>(cache: &C) {
    const TASKS: usize = 16;
    let barrier = Arc::new(Barrier::new(TASKS));
    let racers: Vec<_> = (0..TASKS)
        .map(|i| {
            let cache = cache.clone();
            let barrier = Arc::clone(&barrier);
            tokio::spawn(async move {
                barrier.wait().await;
                let won = cache
                    .set_if_absent("race", i.to_string().as_bytes(), LONG)
                    .await
                    .unwrap();
                (i, won)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for racer in racers {
        let (i, won) = racer.await.unwrap();
        if won {
            winners.push(i);
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    let stored = cache.get("race").await.unwrap().unwrap();
    assert_eq!(stored, winners[0].to_string().into_bytes());
}

/// `capacity` allowed, then refused with a retry_after of at most one refill
/// interval, then allowed again once that has passed.
pub async fn token_bucket(cache: &impl Cache) {
    let (capacity, rate) = (5, 10.0);
    for i in 0..capacity {
        let d = cache.take_token("bucket", capacity, rate).await.unwrap();
        assert!(d.allowed, "take {i} refused: {d:?}");
        assert_eq!(d.remaining, capacity - 1 - i);
        assert_eq!(d.retry_after, Duration::ZERO);
    }
    // Taken before the call: the server decides at some moment after it, so the time
    // measured from here to an allowed answer is at least the real wait, however slow
    // the round trips of a loaded machine are.
    let asked_at = Instant::now();
    let refused = cache.take_token("bucket", capacity, rate).await.unwrap();
    assert!(!refused.allowed, "{refused:?}");
    assert_eq!(refused.remaining, 0);
    assert!(refused.retry_after > Duration::ZERO, "{refused:?}");
    assert!(
        refused.retry_after <= Duration::from_millis(100),
        "one token takes 100 ms at 10/s: {refused:?}"
    );
    let refilled = eventually(Duration::from_secs(2), || async {
        cache
            .take_token("bucket", capacity, rate)
            .await
            .unwrap()
            .allowed
    })
    .await;
    assert!(refilled, "no token after 2 s at 10/s");
    let waited = asked_at.elapsed();
    assert!(waited >= refused.retry_after, "refilled after {waited:?}");

    // Buckets are independent, and a zero capacity refuses.
    assert!(cache.take_token("other", 1, 1.0).await.unwrap().allowed);
    assert!(!cache.take_token("zero", 0, 1.0).await.unwrap().allowed);
    // Deleting a bucket resets it.
    assert!(!cache.take_token("other", 1, 0.001).await.unwrap().allowed);
    cache.delete("other").await.unwrap();
    assert!(cache.take_token("other", 1, 0.001).await.unwrap().allowed);
}

/// Fires `total` concurrent takes spread over `caches` and counts the allowed ones.
pub async fn burst<C: Cache + Clone>(
    caches: &[C],
    key: &str,
    capacity: u32,
    total: usize,
) -> usize {
    let barrier = Arc::new(Barrier::new(total));
    let takes: Vec<_> = (0..total)
        .map(|i| {
            let cache = caches[i % caches.len()].clone();
            let barrier = Arc::clone(&barrier);
            let key = key.to_owned();
            tokio::spawn(async move {
                barrier.wait().await;
                // A slow refill keeps the burst's own duration from adding tokens.
                cache
                    .take_token(&key, capacity, 0.01)
                    .await
                    .unwrap()
                    .allowed
            })
        })
        .collect();
    let mut allowed = 0;
    for take in takes {
        if take.await.unwrap() {
            allowed += 1;
        }
    }
    allowed
}
