//! Merchant webhook delivery settings.

use std::time::Duration;

use crate::source::Source;
use crate::{ConfigError, RunMode};

/// How webhook-dispatcher delivers merchant webhooks.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookSettings {
    /// Waits between attempts (`WEBHOOK_RETRY_SCHEDULE`, default
    /// `5s,5m,30m,2h,5h,10h,10h`); the last one repeats until `give_up_after`.
    pub retry_schedule: Vec<Duration>,
    /// A delivery is given up this long after its event (`WEBHOOK_GIVE_UP_AFTER`, `3d`).
    pub give_up_after: Duration,
    /// One attempt's whole HTTP exchange (`WEBHOOK_TIMEOUT`, `15s`).
    pub timeout: Duration,
    /// The least wait after a 429 or a timeout: the receiver is overloaded
    /// (`WEBHOOK_SLOWDOWN_FLOOR`, `1m`).
    pub slowdown_floor: Duration,
    /// The most a `Retry-After` may delay the next attempt (`WEBHOOK_RETRY_AFTER_MAX`, `6h`).
    pub retry_after_max: Duration,
    /// An endpoint failing without a success for this long is disabled
    /// (`WEBHOOK_DISABLE_AFTER`, `3d`).
    pub disable_after: Duration,
    /// How long the old secret stays valid after a rotation (`WEBHOOK_SECRET_GRACE`, `24h`).
    pub secret_grace: Duration,
    /// Private, loopback and link-local receivers (`WEBHOOK_ALLOW_PRIVATE_URLS`; allowed in
    /// development, refused in production unless set).
    pub allow_private_urls: bool,
    /// Deliveries in flight per dispatcher process (`WEBHOOK_CONCURRENCY`, 256).
    pub concurrency: usize,
}

impl WebhookSettings {
    pub(crate) fn load(src: &Source, mode: RunMode) -> Result<Self, ConfigError> {
        let retry_schedule = match src.get("WEBHOOK_RETRY_SCHEDULE") {
            None => ["5s", "5m", "30m", "2h", "5h", "10h", "10h"]
                .iter()
                .map(|s| parse_duration(s).unwrap_or_default())
                .collect(),
            Some(list) => list
                .split(',')
                .map(|s| parse_duration(s.trim()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ConfigError::invalid("WEBHOOK_RETRY_SCHEDULE", e))?,
        };
        if retry_schedule.is_empty() || retry_schedule.iter().any(Duration::is_zero) {
            return Err(ConfigError::invalid(
                "WEBHOOK_RETRY_SCHEDULE",
                "must list at least one wait, none of them zero (e.g. 5s,5m,30m,2h)",
            ));
        }
        let duration = |key: &'static str, default: &str| -> Result<Duration, ConfigError> {
            match src.get(key) {
                None => parse_duration(default).map_err(|e| ConfigError::invalid(key, e)),
                Some(v) => parse_duration(&v).map_err(|e| ConfigError::invalid(key, e)),
            }
        };
        let timeout = duration("WEBHOOK_TIMEOUT", "15s")?;
        if timeout.is_zero() {
            return Err(ConfigError::invalid(
                "WEBHOOK_TIMEOUT",
                "must be more than zero",
            ));
        }
        let concurrency = src.parse_or("WEBHOOK_CONCURRENCY", 256usize)?;
        if concurrency == 0 {
            return Err(ConfigError::invalid(
                "WEBHOOK_CONCURRENCY",
                "must be at least 1",
            ));
        }
        Ok(WebhookSettings {
            retry_schedule,
            give_up_after: duration("WEBHOOK_GIVE_UP_AFTER", "3d")?,
            timeout,
            slowdown_floor: duration("WEBHOOK_SLOWDOWN_FLOOR", "1m")?,
            retry_after_max: duration("WEBHOOK_RETRY_AFTER_MAX", "6h")?,
            disable_after: duration("WEBHOOK_DISABLE_AFTER", "3d")?,
            secret_grace: duration("WEBHOOK_SECRET_GRACE", "24h")?,
            allow_private_urls: src
                .parse_bool_or("WEBHOOK_ALLOW_PRIVATE_URLS", mode == RunMode::Development)?,
            concurrency,
        })
    }
}

/// `500ms`, `5s`, `5m`, `2h`, `3d`; a bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 500ms, 5s, 5m, 2h or 3d"))?;
    let ms = match unit.trim() {
        "ms" => Some(n),
        "" | "s" => n.checked_mul(1000),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        "d" => n.checked_mul(86_400_000),
        _ => {
            return Err(format!(
                "{text:?} is not a duration like 500ms, 5s, 5m, 2h or 3d"
            ))
        }
    }
    .ok_or_else(|| format!("{text:?} is too long"))?;
    Ok(Duration::from_millis(ms))
}
