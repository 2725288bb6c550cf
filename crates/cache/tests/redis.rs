//! RedisCache against the real Redis at 127.0.0.1:6379, each test under its own
//! key prefix that is deleted afterwards.
// A test fails by panicking: unwrap is how it says "this must succeed".
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::redis_env::Cleanup;
use common::suite;
use nexpay_cache::Cache;

#[tokio::test]
#[ignore = "needs Redis at 127.0.0.1:6379; run with -- --ignored"]
async fn get_set_delete() {
    let env = Cleanup::new();
    suite::get_set_delete(&env.cache()).await;
}

#[tokio::test]
#[ignore = "needs Redis at 127.0.0.1:6379; run with -- --ignored"]
async fn ttl_expiry() {
    let env = Cleanup::new();
    suite::ttl_expiry(&env.cache()).await;
}

#[tokio::test]
#[ignore = "needs Redis at 127.0.0.1:6379; run with -- --ignored"]
async fn set_if_absent() {
    let env = Cleanup::new();
    suite::set_if_absent_semantics(&env.cache()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs Redis at 127.0.0.1:6379; run with -- --ignored"]
async fn set_if_absent_has_one_winner_among_16_tasks() {
    let env = Cleanup::new();
    suite::set_if_absent_one_winner(&env.cache()).await;
}

#[tokio::test]
#[ignore = "needs Redis at 127.0.0.1:6379; run with -- --ignored"]
async fn token_bucket() {
    let env = Cleanup::new();
    suite::token_bucket(&env.cache()).await;
}

#[tokio::test]
#[ignore = "needs Redis at 127.0.0.1:6379; run with -- --ignored"]
async fn keys_are_prefixed_and_cleaned_up() {
    let env = Cleanup::new();
    let cache = env.cache();
    cache.set("a", b"1", Duration::from_secs(60)).await.unwrap();
    cache.take_token("rate", 3, 1.0).await.unwrap();
    let mut keys = env.keys().unwrap();
    keys.sort();
    assert_eq!(
        keys,
        [format!("{}a", env.prefix), format!("{}rate", env.prefix)]
    );
    // Another prefix does not see these keys.
    let other = Cleanup::new();
    assert_eq!(other.cache().get("a").await.unwrap(), None);
    let prefix = env.prefix.clone();
    drop(env);
    let after = Cleanup { prefix };
    assert!(after.keys().unwrap().is_empty());
}

/// Two pools, as two gateway replicas: 50 concurrent takes never exceed capacity.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs Redis at 127.0.0.1:6379; run with -- --ignored"]
async fn token_bucket_is_shared_by_two_instances() {
    let env = Cleanup::new();
    let replicas = [env.cache(), env.cache()];
    assert_eq!(suite::burst(&replicas, "merchant-1", 10, 50).await, 10);
    // A second burst on a fresh key behaves the same (the script is now cached).
    assert_eq!(suite::burst(&replicas, "merchant-2", 7, 50).await, 7);
}

/// Not a benchmark, a bounded sanity figure: prints take_token ops/s with 32 callers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Redis at 127.0.0.1:6379; run with -- --ignored"]
async fn take_token_throughput() {
    const CALLERS: usize = 32;
    const PER_CALLER: usize = 300;
    let env = Cleanup::new();
    let cache = env.cache();
    cache.health().await.unwrap();
    let start = Instant::now();
    let callers: Vec<_> = (0..CALLERS)
        .map(|i| {
            let cache = cache.clone();
            tokio::spawn(async move {
                for _ in 0..PER_CALLER {
                    let key = format!("tput{}", i % 8);
                    cache.take_token(&key, 1000, 1000.0).await.unwrap();
                }
            })
        })
        .collect();
    for caller in callers {
        caller.await.unwrap();
    }
    let elapsed = start.elapsed();
    let ops = (CALLERS * PER_CALLER) as f64 / elapsed.as_secs_f64();
    println!("take_token on Redis: {ops:.0} ops/s ({CALLERS} callers, {elapsed:?})");
    assert!(ops > 100.0, "implausibly slow: {ops:.0} ops/s");
}
