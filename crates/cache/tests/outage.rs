//! A dead or stalled Redis answers fast, and FailOpen degrades then recovers.
// A test fails by panicking: unwrap is how it says "this must succeed".
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::eventually;
use common::proxy::Proxy;
use common::redis_env::{unique_prefix, Cleanup, REDIS_ADDR};
use nexpay_cache::{Cache, CacheError, FailOpen, RedisCache};
use tokio::net::TcpListener;

const FAST: Duration = Duration::from_secs(1);
const MINUTE: Duration = Duration::from_secs(60);

/// Runs every operation once, asserting each fails with Unavailable within FAST.
async fn assert_all_unavailable_fast(cache: &RedisCache) {
    macro_rules! check {
        ($op:expr) => {{
            let start = Instant::now();
            let result = $op.await;
            let took = start.elapsed();
            assert!(took < FAST, "{} took {took:?}", stringify!($op));
            match result {
                Err(CacheError::Unavailable(message)) => assert!(!message.is_empty()),
                Ok(v) => panic!("{} succeeded: {v:?}", stringify!($op)),
            }
        }};
    }
    check!(cache.get("k"));
    check!(cache.set("k", b"v", MINUTE));
    check!(cache.set_if_absent("k", b"v", MINUTE));
    check!(cache.delete("k"));
    check!(cache.take_token("k", 5, 1.0));
    check!(cache.health());
}

#[tokio::test]
async fn closed_port_answers_unavailable_fast() {
    let cache = RedisCache::connect("redis://127.0.0.1:1", &unique_prefix()).unwrap();
    assert_all_unavailable_fast(&cache).await;
    // A second round: the pool must not get stuck after failed creations.
    assert_all_unavailable_fast(&cache).await;
}

/// A server that accepts connections and never answers must not hang requests.
#[tokio::test]
async fn silent_server_answers_unavailable_fast() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("redis://{}", listener.local_addr().unwrap());
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let cache = RedisCache::connect(&url, &unique_prefix()).unwrap();
    assert_all_unavailable_fast(&cache).await;
    hold.abort();
}

#[tokio::test]
async fn invalid_url_is_refused() {
    assert!(matches!(
        RedisCache::connect("http://nope", "p:"),
        Err(CacheError::Unavailable(_))
    ));
}

#[tokio::test]
async fn fail_open_over_dead_redis_degrades() {
    let cache = FailOpen::new(RedisCache::connect("redis://127.0.0.1:1", "p:").unwrap());
    assert!(!cache.degraded());
    let start = Instant::now();
    assert_eq!(cache.get("k").await.unwrap(), None);
    assert!(cache.degraded());
    let d = cache.take_token("k", 5, 1.0).await.unwrap();
    assert!(d.allowed);
    assert_eq!(d.retry_after, Duration::ZERO);
    cache.set("k", b"v", MINUTE).await.unwrap();
    cache.delete("k").await.unwrap();
    assert!(start.elapsed() < 4 * FAST, "took {:?}", start.elapsed());
    assert!(
        cache.health().await.is_err(),
        "health must report the outage"
    );
    assert!(cache.degraded());
    assert!(cache.last_error().unwrap().starts_with("cache unavailable"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Redis at 127.0.0.1:6379; run with -- --ignored"]
async fn fail_open_recovers_when_redis_comes_back() {
    let env = Cleanup::new();
    let mut proxy = Proxy::start(REDIS_ADDR).await;
    let cache = FailOpen::new(RedisCache::connect(&proxy.url(), &env.prefix).unwrap());

    cache.set("k", b"v", MINUTE).await.unwrap();
    assert_eq!(cache.get("k").await.unwrap().as_deref(), Some(&b"v"[..]));
    assert!(cache.take_token("rate", 1, 0.01).await.unwrap().allowed);
    assert!(!cache.take_token("rate", 1, 0.01).await.unwrap().allowed);
    assert!(!cache.degraded());

    proxy.cut().await;
    let start = Instant::now();
    assert_eq!(
        cache.get("k").await.unwrap(),
        None,
        "outage reads as a miss"
    );
    assert!(start.elapsed() < FAST, "miss took {:?}", start.elapsed());
    assert!(cache.degraded());
    let start = Instant::now();
    assert!(
        cache.take_token("rate", 1, 0.01).await.unwrap().allowed,
        "fails open"
    );
    assert!(start.elapsed() < FAST);
    assert!(cache.health().await.is_err());

    proxy.resume().await;
    let recovered = eventually(Duration::from_secs(5), || async {
        cache.get("k").await.unwrap().is_some()
    })
    .await;
    assert!(recovered, "no recovery within 5 s of Redis coming back");
    assert!(!cache.degraded());
    cache.health().await.unwrap();
    // The bucket's state survived the outage: still empty.
    assert!(!cache.take_token("rate", 1, 0.01).await.unwrap().allowed);
}

/// A connection in steady use costs one round trip per command (no check at each
/// checkout); one idle for a while is checked before use; one whose command failed
/// is not handed out again, so recovery after a blip needs no waiting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Redis at 127.0.0.1:6379; run with -- --ignored"]
async fn pooled_connections_are_checked_only_when_idle_or_failed() {
    let env = Cleanup::new();
    let mut proxy = Proxy::start(REDIS_ADDR).await;
    let cache = RedisCache::connect(&proxy.url(), &env.prefix).unwrap();
    cache.set("k", b"v", MINUTE).await.unwrap();

    let before = proxy.commands();
    for _ in 0..20 {
        assert_eq!(cache.get("k").await.unwrap().as_deref(), Some(&b"v"[..]));
    }
    assert_eq!(
        proxy.commands() - before,
        20,
        "one command per get, no PING"
    );

    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let before = proxy.commands();
    cache.get("k").await.unwrap();
    assert_eq!(
        proxy.commands() - before,
        3,
        "after 1 s idle: UNWATCH and PING, then the GET"
    );

    // The proxy closes every open connection; the pooled one is now broken.
    proxy.cut().await;
    proxy.resume().await;
    let first = cache.get("k").await;
    let second = cache.get("k").await;
    assert!(
        second.is_ok(),
        "the broken connection was not handed out twice: {first:?}, {second:?}"
    );
    for _ in 0..5 {
        assert_eq!(cache.get("k").await.unwrap().as_deref(), Some(&b"v"[..]));
    }
}
