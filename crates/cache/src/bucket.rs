//! Token bucket arithmetic for the in-process adapter. `token_bucket.lua` does the
//! same steps inside Redis; keep the two in step.

use std::time::Duration;

use crate::RateDecision;

/// Slowest refill accepted: one token a day. Slower (or zero, negative, NaN) rates
/// would make `retry_after` and the bucket's expiry unbounded.
const MIN_RATE: f64 = 1.0 / 86_400.0;
/// Fastest refill accepted; faster is indistinguishable from "no limit" anyway.
const MAX_RATE: f64 = 1e9;
/// A bucket idle for longer than this is forgotten even if not yet full again, so a
/// slow rate with a huge capacity cannot pin state forever. Matches the Lua script.
const MAX_IDLE: Duration = Duration::from_secs(30 * 24 * 60 * 60);
/// Extra lifetime past "full again", so a bucket is never dropped while it still
/// differs from a fresh one because of rounding.
const EXPIRY_MARGIN: Duration = Duration::from_secs(1);

/// Brings a caller's refill rate into the range both adapters support.
pub(crate) fn sanitize_rate(refill_per_sec: f64) -> f64 {
    if refill_per_sec.is_nan() {
        return MIN_RATE;
    }
    refill_per_sec.clamp(MIN_RATE, MAX_RATE)
}

/// Microseconds as a `Duration`, rounded up so a caller retrying after
/// `retry_after` is never early. Float-to-int `as` saturates, so no overflow.
fn micros_ceil(micros: f64) -> Duration {
    Duration::from_micros(micros.ceil() as u64)
}

/// State of one bucket: tokens left as of `elapsed` ago.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Previous {
    pub tokens: f64,
    pub elapsed: Duration,
}

/// Takes one token. `previous` is `None` for a new (full) bucket. Returns the tokens
/// left now, the decision, and how long the state must be kept.
pub(crate) fn take(
    previous: Option<Previous>,
    capacity: u32,
    refill_per_sec: f64,
) -> (f64, RateDecision, Duration) {
    let rate = sanitize_rate(refill_per_sec);
    let capacity = f64::from(capacity);
    let mut tokens = match previous {
        None => capacity,
        Some(p) => (p.tokens + p.elapsed.as_secs_f64() * rate).min(capacity),
    };
    let decision = if tokens >= 1.0 {
        tokens -= 1.0;
        RateDecision {
            allowed: true,
            remaining: tokens.floor() as u32,
            retry_after: Duration::ZERO,
        }
    } else {
        RateDecision {
            allowed: false,
            remaining: 0,
            retry_after: micros_ceil((1.0 - tokens) * 1e6 / rate),
        }
    };
    let keep = micros_ceil((capacity - tokens).max(0.0) * 1e6 / rate)
        .saturating_add(EXPIRY_MARGIN)
        .min(MAX_IDLE);
    (tokens, decision, keep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_bucket_starts_full_and_takes_one() {
        let (tokens, d, keep) = take(None, 3, 1.0);
        assert_eq!(tokens, 2.0);
        assert!(d.allowed);
        assert_eq!(d.remaining, 2);
        assert_eq!(d.retry_after, Duration::ZERO);
        assert_eq!(keep, Duration::from_secs(2));
    }

    #[test]
    fn empty_bucket_refuses_with_time_to_next_token() {
        let prev = Previous {
            tokens: 0.25,
            elapsed: Duration::ZERO,
        };
        let (tokens, d, _) = take(Some(prev), 3, 2.0);
        assert_eq!(tokens, 0.25);
        assert!(!d.allowed);
        assert_eq!(d.remaining, 0);
        assert_eq!(d.retry_after, Duration::from_millis(375));
    }

    #[test]
    fn refill_is_capped_at_capacity() {
        let prev = Previous {
            tokens: 0.0,
            elapsed: Duration::from_secs(3600),
        };
        let (tokens, d, _) = take(Some(prev), 5, 10.0);
        assert_eq!(tokens, 4.0);
        assert_eq!(d.remaining, 4);
    }

    #[test]
    fn zero_capacity_always_refuses() {
        let (_, d, _) = take(None, 0, 4.0);
        assert!(!d.allowed);
        assert_eq!(d.retry_after, Duration::from_millis(250));
    }

    #[test]
    fn odd_rates_are_clamped_not_panicking() {
        assert_eq!(sanitize_rate(f64::NAN), MIN_RATE);
        assert_eq!(sanitize_rate(-3.0), MIN_RATE);
        assert_eq!(sanitize_rate(f64::INFINITY), MAX_RATE);
        let (_, d, keep) = take(None, 0, 0.0);
        assert_eq!(d.retry_after, Duration::from_secs(86_400));
        assert!(keep <= MAX_IDLE);
        let drained = Previous {
            tokens: 0.0,
            elapsed: Duration::ZERO,
        };
        let (_, _, keep) = take(Some(drained), u32::MAX, 0.0);
        assert_eq!(keep, MAX_IDLE);
    }
}
