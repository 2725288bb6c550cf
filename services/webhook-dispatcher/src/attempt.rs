//! What an attempt's result means, and when the next one is due.

use std::time::Duration;

use chrono::NaiveDateTime;
use nexpay_config::WebhookSettings;

/// An attempt's result, as far as retrying is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Classified {
    /// 2xx.
    Delivered,
    /// 410 Gone: the receiver is no more; the endpoint is disabled.
    Gone,
    /// Anything else. `floor`: the least wait before the next attempt (`Retry-After`,
    /// or the slowdown floor after a 429 or a timeout).
    Failed { floor: Option<Duration> },
}

/// `status`: the receiver's HTTP status, None when no answer came (`timed_out` tells
/// whether the deadline passed). Redirects are not followed: they are failures.
pub fn classify(
    status: Option<u16>,
    timed_out: bool,
    retry_after: Option<Duration>,
    settings: &WebhookSettings,
) -> Classified {
    let asked = retry_after.map(|d| d.min(settings.retry_after_max));
    match status {
        Some(200..=299) => Classified::Delivered,
        Some(410) => Classified::Gone,
        Some(429) => Classified::Failed {
            floor: Some(asked.unwrap_or_default().max(settings.slowdown_floor)),
        },
        Some(_) => Classified::Failed { floor: asked },
        None if timed_out => Classified::Failed {
            floor: Some(settings.slowdown_floor),
        },
        None => Classified::Failed { floor: None },
    }
}

/// When to try again after the attempt numbered `attempt` (1 for the first) failed,
/// or None when the delivery is given up: the wait is the schedule's entry for that
/// attempt (the last entry repeats), ±10 % (`jitter` in [0, 1)), at least `floor`; a
/// try that would fall after `created_at + give_up_after` is not made.
pub fn next_attempt(
    settings: &WebhookSettings,
    attempt: u32,
    created_at: NaiveDateTime,
    now: NaiveDateTime,
    floor: Option<Duration>,
    jitter: f64,
) -> Option<NaiveDateTime> {
    let schedule = &settings.retry_schedule;
    let index = (attempt.max(1) as usize - 1).min(schedule.len().saturating_sub(1));
    let base = schedule
        .get(index)
        .copied()
        .unwrap_or(Duration::from_secs(60));
    let factor = 0.9 + 0.2 * jitter.clamp(0.0, 1.0);
    let wait = base.mul_f64(factor).max(floor.unwrap_or_default());
    let next = now + chrono::Duration::from_std(wait).ok()?;
    let deadline = created_at + chrono::Duration::from_std(settings.give_up_after).ok()?;
    (next <= deadline).then_some(next)
}

/// `Retry-After`: seconds, or an HTTP date.
pub fn parse_retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    (at.with_timezone(&chrono::Utc) - now).to_std().ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn settings() -> WebhookSettings {
        let dir = std::env::temp_dir().join(format!(
            "nexpay-dispatch-{}",
            nexpay_security::random_hex(6)
        ));
        let pairs = vec![("NEXPAY_DATA_DIR".to_string(), dir.display().to_string())];
        let settings = nexpay_config::Config::load_for(
            nexpay_config::Source::from_pairs(pairs),
            nexpay_config::Keys::NONE,
        )
        .unwrap()
        .webhooks;
        let _ = std::fs::remove_dir_all(&dir);
        settings
    }

    #[test]
    fn statuses_are_classified() {
        let s = settings();
        assert_eq!(classify(Some(200), false, None, &s), Classified::Delivered);
        assert_eq!(classify(Some(204), false, None, &s), Classified::Delivered);
        assert_eq!(classify(Some(410), false, None, &s), Classified::Gone);
        assert_eq!(
            classify(Some(302), false, None, &s),
            Classified::Failed { floor: None }
        );
        assert_eq!(
            classify(Some(500), false, None, &s),
            Classified::Failed { floor: None }
        );
        // A 429 waits at least the slowdown floor, longer when the receiver asks.
        assert_eq!(
            classify(Some(429), false, Some(Duration::from_secs(5)), &s),
            Classified::Failed {
                floor: Some(Duration::from_secs(60))
            }
        );
        assert_eq!(
            classify(Some(429), false, Some(Duration::from_secs(600)), &s),
            Classified::Failed {
                floor: Some(Duration::from_secs(600))
            }
        );
        // ... within bounds.
        assert_eq!(
            classify(Some(503), false, Some(Duration::from_secs(86400 * 30)), &s),
            Classified::Failed {
                floor: Some(Duration::from_secs(6 * 3600))
            }
        );
        assert_eq!(
            classify(None, true, None, &s),
            Classified::Failed {
                floor: Some(Duration::from_secs(60))
            }
        );
        assert_eq!(
            classify(None, false, None, &s),
            Classified::Failed { floor: None }
        );
    }

    #[test]
    fn the_schedule_backs_off_then_gives_up_after_about_three_days() {
        let s = settings();
        let start = nexpay_store::now();
        let mut now = start;
        let mut waits = Vec::new();
        let mut attempt = 1;
        while let Some(next) = next_attempt(&s, attempt, start, now, None, 0.5) {
            waits.push((next - now).num_seconds());
            now = next;
            attempt += 1;
        }
        assert_eq!(
            waits,
            vec![5, 300, 1800, 7200, 18000, 36000, 36000, 36000, 36000, 36000, 36000]
        );
        let total = (now - start).num_hours();
        assert!((60..=72).contains(&total), "{total} h");
        // Jitter stays within 10 %, and a floor wins over a shorter wait.
        let lo = next_attempt(&s, 2, start, start, None, 0.0).unwrap();
        let hi = next_attempt(&s, 2, start, start, None, 0.999).unwrap();
        assert_eq!((lo - start).num_seconds(), 270);
        assert!((hi - start).num_seconds() >= 329);
        let floored = next_attempt(&s, 1, start, start, Some(Duration::from_secs(60)), 0.5);
        assert_eq!((floored.unwrap() - start).num_seconds(), 60);
    }

    #[test]
    fn retry_after_is_seconds_or_a_date() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-27T10:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Fri, 27 Nov 2026 10:05:00 GMT", now),
            Some(Duration::from_secs(300))
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(
            parse_retry_after("Fri, 27 Nov 2026 09:00:00 GMT", now),
            None
        );
    }
}
