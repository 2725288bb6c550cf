//! The real Redis these tests run against, and per-test key isolation.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, SystemTime};

use deadpool_redis::redis;
use nexpay_cache::RedisCache;

pub const REDIS_URL: &str = "redis://127.0.0.1:6379";
pub const REDIS_ADDR: &str = "127.0.0.1:6379";

/// `nexpay_test_<pid>_<random>:` — unique per test, so tests running in parallel
/// (or other users of this Redis) never see each other's keys.
pub fn unique_prefix() -> String {
    // RandomState is seeded randomly per instance; mixing in the time makes two
    // prefixes in one process differ even if the seeds did not.
    let mut hasher = RandomState::new().build_hasher();
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    hasher.write_u128(nanos);
    format!(
        "nexpay_test_{}_{:016x}:",
        std::process::id(),
        hasher.finish()
    )
}

/// Deletes every key under its prefix when dropped, also when the test panics.
pub struct Cleanup {
    pub prefix: String,
}

impl Cleanup {
    pub fn new() -> Self {
        Self {
            prefix: unique_prefix(),
        }
    }

    pub fn cache(&self) -> RedisCache {
        RedisCache::connect(REDIS_URL, &self.prefix).unwrap()
    }

    /// Keys currently stored under the prefix.
    pub fn keys(&self) -> redis::RedisResult<Vec<String>> {
        // A blocking connection: `Drop` cannot await.
        let client = redis::Client::open(REDIS_URL)?;
        let mut conn = client.get_connection_with_timeout(Duration::from_secs(2))?;
        let mut keys = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{}*", self.prefix))
                .arg("COUNT")
                .arg(1000)
                .query(&mut conn)?;
            keys.extend(batch);
            if next == 0 {
                return Ok(keys);
            }
            cursor = next;
        }
    }

    fn delete_all(&self) -> redis::RedisResult<usize> {
        let keys = self.keys()?;
        if !keys.is_empty() {
            let client = redis::Client::open(REDIS_URL)?;
            let mut conn = client.get_connection_with_timeout(Duration::from_secs(2))?;
            redis::cmd("DEL").arg(&keys).exec(&mut conn)?;
        }
        Ok(keys.len())
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Err(e) = self.delete_all() {
            eprintln!("could not delete test keys {}*: {e}", self.prefix);
        }
    }
}
