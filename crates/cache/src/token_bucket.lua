-- Token bucket shared by every replica; the same steps as src/bucket.rs.
-- KEYS[1]: the bucket, a hash {tokens, ts}.
-- ARGV[1]: capacity (whole tokens); ARGV[2]: refill rate in tokens per second,
--          already clamped by the caller to [1/86400, 1e9].
-- Returns {allowed (1|0), whole tokens remaining, retry_after in microseconds}.
--
-- The script runs atomically, so concurrent callers on any number of replicas
-- see each other's takes. Time comes from the Redis server, never from the
-- callers, so replicas with skewed clocks still agree.

-- Redis < 7 must switch to effects replication before TIME may precede a write;
-- Redis 7 always replicates effects and keeps this call only as a no-op.
if redis.replicate_commands then redis.replicate_commands() end

local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local time = redis.call('TIME')
-- Microseconds since the epoch (~1.8e15) are exact in a double (< 2^53).
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])

local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = capacity
else
  -- After a failover to a server whose clock is behind, refill nothing rather
  -- than take tokens away.
  local elapsed = math.max(0, now - ts)
  tokens = math.min(capacity, tokens + elapsed * rate / 1000000)
end

local allowed = 0
local retry_after = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  retry_after = math.ceil((1 - tokens) * 1000000 / rate)
end

-- '%.17g' keeps every bit of the fraction; '%.0f' writes large integers without
-- an exponent, which PEXPIRE needs.
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'ts', string.format('%.0f', now))
-- Keep the state until the bucket is full again (plus 1 s for rounding): a missing
-- hash reads as full, so forgetting it then is exact. At most 30 days, so a slow
-- rate with a huge capacity cannot pin memory (it then restarts full).
local keep_ms = math.ceil(math.max(0, capacity - tokens) * 1000 / rate) + 1000
keep_ms = math.min(keep_ms, 30 * 24 * 3600 * 1000)
redis.call('PEXPIRE', KEYS[1], string.format('%.0f', keep_ms))

return {allowed, math.floor(tokens), retry_after}
