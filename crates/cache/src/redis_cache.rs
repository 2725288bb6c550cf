//! Redis adapter, shared by every replica of the distributed wiring.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deadpool::managed::{self, Metrics, Object, RecycleResult};
use deadpool_redis::redis::aio::MultiplexedConnection;
use deadpool_redis::redis::{self, AsyncConnectionConfig, RedisError, Script, Value};
use deadpool_redis::{Manager, Runtime};

use crate::{bucket, effective_ttl, Cache, CacheError, RateDecision};

/// Connect, pool wait, pool recycle (a PING) and each reply: a healthy local Redis
/// answers in well under a millisecond, so anything slower is an outage and the
/// request should move on (cache miss, fail open) rather than hang.
const IO_TIMEOUT: Duration = Duration::from_millis(250);
/// Upper bound on one whole operation (wait + recycle/connect + command), so even a
/// chain of timeouts answers `Unavailable` in well under a second.
const OP_DEADLINE: Duration = Duration::from_millis(750);
/// Connections are multiplexed, so a few serve many concurrent requests.
const POOL_SIZE: usize = 8;
/// A pooled connection is checked (PING) before use only when it has sat unused for
/// this long; a connection in steady use proves itself with every command, and one
/// whose command fails is taken out of the pool (see [`settle`]).
const CHECK_IDLE_AFTER: Duration = Duration::from_secs(1);

/// deadpool-redis's manager checks every connection at every checkout with an
/// `UNWATCH` + `PING` round trip, which doubles the cost of each cache call. This one
/// creates connections the same way and checks only those idle for
/// [`CHECK_IDLE_AFTER`]; we never use `WATCH`, so there is nothing to unwatch on a
/// connection handed back after a command.
#[derive(Debug)]
struct LeanManager(Manager);

impl managed::Manager for LeanManager {
    type Type = MultiplexedConnection;
    type Error = RedisError;

    async fn create(&self) -> Result<MultiplexedConnection, RedisError> {
        self.0.create().await
    }

    async fn recycle(
        &self,
        conn: &mut MultiplexedConnection,
        metrics: &Metrics,
    ) -> RecycleResult<RedisError> {
        if metrics.last_used() < CHECK_IDLE_AFTER {
            return Ok(());
        }
        self.0.recycle(conn, metrics).await
    }
}

type Pool = managed::Pool<LeanManager>;
type Connection = Object<LeanManager>;

/// [`Cache`] on Redis through a deadpool-redis pool. Cloning is cheap (shared pool).
///
/// Every key is stored as `key_prefix + key`, so several deployments or test runs
/// can share one Redis without seeing each other's keys.
#[derive(Clone)]
pub struct RedisCache {
    pool: Pool,
    prefix: Arc<str>,
    token_bucket: Arc<Script>,
}

impl RedisCache {
    /// Builds the pool for `url` (e.g. `redis://127.0.0.1:6379/0`).
    ///
    /// Connections are opened lazily, so a service can start while Redis is down
    /// (and run degraded behind [`crate::FailOpen`]); use [`Cache::health`] to check
    /// reachability. Fails only on an invalid URL.
    pub fn connect(url: &str, key_prefix: &str) -> Result<Self, CacheError> {
        let connection = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(IO_TIMEOUT))
            .set_response_timeout(Some(IO_TIMEOUT));
        let manager = Manager::new_with_config(url, connection)
            .map_err(|e| CacheError::Unavailable(format!("invalid redis url: {e}")))?;
        let pool = Pool::builder(LeanManager(manager))
            .max_size(POOL_SIZE)
            .wait_timeout(Some(IO_TIMEOUT))
            .create_timeout(Some(IO_TIMEOUT))
            .recycle_timeout(Some(IO_TIMEOUT))
            // Pool timeouts need a runtime to measure them with.
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| CacheError::Unavailable(format!("redis pool: {e}")))?;
        Ok(Self {
            pool,
            prefix: Arc::from(key_prefix),
            token_bucket: Arc::new(Script::new(include_str!("token_bucket.lua"))),
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    async fn conn(&self) -> Result<Connection, CacheError> {
        self.pool
            .get()
            .await
            .map_err(|e| CacheError::Unavailable(format!("redis connection: {e}")))
    }

    /// Runs one command on a pooled connection within [`OP_DEADLINE`].
    async fn query<T: redis::FromRedisValue>(
        &self,
        what: &'static str,
        cmd: &redis::Cmd,
    ) -> Result<T, CacheError> {
        within(what, async {
            let mut conn = self.conn().await?;
            let result = cmd.query_async(&mut *conn).await;
            settle(conn, result).map_err(|e| failed(what, e))
        })
        .await
    }
}

/// Hands `conn` back to the pool after a command that worked, and discards it after
/// one that failed: since connections in steady use are not checked at checkout, a
/// broken one must not go back (the next caller gets a fresh connection instead).
fn settle<T>(conn: Connection, result: Result<T, RedisError>) -> Result<T, RedisError> {
    if result.is_err() {
        drop(Object::take(conn));
    }
    result
}

/// Bounds `op` by [`OP_DEADLINE`].
async fn within<T>(
    what: &'static str,
    op: impl Future<Output = Result<T, CacheError>>,
) -> Result<T, CacheError> {
    tokio::time::timeout(OP_DEADLINE, op)
        .await
        .unwrap_or_else(|_| {
            Err(CacheError::Unavailable(format!(
                "redis {what}: no answer within {OP_DEADLINE:?}"
            )))
        })
}

fn failed(what: &'static str, e: redis::RedisError) -> CacheError {
    CacheError::Unavailable(format!("redis {what}: {e}"))
}

/// Milliseconds for `PX`, after the shared TTL clamping (so never 0 nor huge).
fn px(ttl: Duration) -> u64 {
    u64::try_from(effective_ttl(ttl).as_millis()).unwrap_or(u64::MAX)
}

/// Lua numbers come back as Redis integers; bring them into the decision's types.
fn decision(allowed: i64, remaining: i64, retry_after_us: i64) -> RateDecision {
    RateDecision {
        allowed: allowed == 1,
        remaining: u32::try_from(remaining.max(0)).unwrap_or(u32::MAX),
        retry_after: Duration::from_micros(u64::try_from(retry_after_us).unwrap_or(0)),
    }
}

impl fmt::Debug for RedisCache {
    // The URL may carry a password, so only the prefix and pool status are shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisCache")
            .field("prefix", &self.prefix)
            .field("pool", &self.pool.status())
            .finish()
    }
}

#[async_trait]
impl Cache for RedisCache {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        self.query("GET", redis::cmd("GET").arg(self.key(key)))
            .await
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), CacheError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.key(key)).arg(value).arg("PX").arg(px(ttl));
        self.query::<Value>("SET", &cmd).await.map(drop)
    }

    async fn set_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, CacheError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.key(key))
            .arg(value)
            .arg("NX")
            .arg("PX")
            .arg(px(ttl));
        // SET NX answers OK when it wrote and nil when the key already existed.
        let reply: Value = self.query("SET NX", &cmd).await?;
        Ok(!matches!(reply, Value::Nil))
    }

    async fn delete(&self, key: &str) -> Result<(), CacheError> {
        self.query::<Value>("DEL", redis::cmd("DEL").arg(self.key(key)))
            .await
            .map(drop)
    }

    async fn take_token(
        &self,
        key: &str,
        capacity: u32,
        refill_per_sec: f64,
    ) -> Result<RateDecision, CacheError> {
        let rate = bucket::sanitize_rate(refill_per_sec);
        let mut invocation = self.token_bucket.prepare_invoke();
        invocation.key(self.key(key)).arg(capacity).arg(rate);
        within("token bucket", async {
            let mut conn = self.conn().await?;
            // EVALSHA, falling back to EVAL (which caches the script) after a
            // Redis restart or failover forgot it.
            let result = invocation.invoke_async(&mut *conn).await;
            let (allowed, remaining, retry_us): (i64, i64, i64) =
                settle(conn, result).map_err(|e| failed("token bucket", e))?;
            Ok(decision(allowed, remaining, retry_us))
        })
        .await
    }

    async fn health(&self) -> Result<(), CacheError> {
        self.query::<Value>("PING", &redis::cmd("PING"))
            .await
            .map(drop)
    }
}
