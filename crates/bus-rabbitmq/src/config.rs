//! Tuning of the RabbitMQ adapter and the names of its topology.

use std::time::Duration;

/// Durable topic exchange events are published to (routing key = kind).
pub const EVENTS_EXCHANGE: &str = "nexpay.events";
/// Durable direct exchange commands are sent to (routing key = queue name).
pub const COMMANDS_EXCHANGE: &str = "nexpay.commands";
/// Durable direct dead-letter exchange (routing key = `<queue>.dead`).
pub const DEAD_LETTER_EXCHANGE: &str = "nexpay.dlx";

/// Message header carrying the delivery attempt (1 for the first delivery).
/// RabbitMQ classic queues do not count deliveries, so the adapter does.
pub const ATTEMPT_HEADER: &str = "x-nexpay-attempt";
/// Message header on requests: the caller's deadline, in milliseconds since
/// the Unix epoch. A server discards a request whose deadline has passed.
pub const DEADLINE_HEADER: &str = "x-nexpay-deadline";
/// Message header on dead letters: why the message was dead-lettered.
pub const ERROR_HEADER: &str = "x-nexpay-error";

/// Queue holding the dead letters of `queue`.
pub fn dead_queue(queue: &str) -> String {
    format!("{queue}.dead")
}

/// TTL queue a failed message of `queue` waits in before it is redelivered.
pub fn retry_queue(queue: &str) -> String {
    format!("{queue}.retry")
}

/// Tuning of a [`crate::RabbitBus`]. `Default` suits production.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RabbitConfig {
    /// How long a message that failed with `Retryable` waits in
    /// `<queue>.retry` (its `x-message-ttl`) before it is redelivered.
    ///
    /// It is an argument of the retry queue, fixed when RabbitMQ first
    /// creates it: a process configured differently logs a warning and uses
    /// the existing queue's delay (delete the retry queue to change it).
    pub retry_delay: Duration,
    /// How long `publish` waits for the broker's confirm.
    pub confirm_timeout: Duration,
    /// How long one connection attempt (TCP + AMQP handshake) may take.
    pub connect_timeout: Duration,
    /// First delay between reconnection attempts; doubled after each failure.
    pub reconnect_min: Duration,
    /// Upper bound of the reconnection delay.
    pub reconnect_max: Duration,
    /// How many dead letters [`nexpay_bus::Bus::dead_letters`] returns at
    /// most (they are read with `basic.get`, see the crate docs).
    pub dead_letter_peek_limit: usize,
}

impl Default for RabbitConfig {
    fn default() -> Self {
        Self {
            retry_delay: Duration::from_secs(1),
            confirm_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            reconnect_min: Duration::from_millis(100),
            reconnect_max: Duration::from_secs(5),
            dead_letter_peek_limit: 10_000,
        }
    }
}

/// Exponential backoff between `min` and `max`.
#[derive(Debug)]
pub(crate) struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub(crate) fn new(min: Duration, max: Duration) -> Self {
        let min = min.max(Duration::from_millis(1));
        Self {
            min,
            max: max.max(min),
            next: min,
        }
    }

    /// The delay to wait now; the following one is twice as long.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = self.next.checked_mul(2).unwrap_or(self.max).min(self.max);
        delay
    }

    pub(crate) fn reset(&mut self) {
        self.next = self.min;
    }
}

/// `now + after`, saturating far in the future instead of overflowing.
pub(crate) fn deadline_after(after: Duration) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    now.checked_add(after)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_max_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        let delays: Vec<u128> = (0..8).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_millis(100));
        let mut huge = Backoff::new(Duration::from_secs(1), Duration::MAX);
        for _ in 0..100 {
            huge.next_delay();
        }
        assert!(deadline_after(Duration::MAX) > tokio::time::Instant::now());
    }

    #[test]
    fn queue_names() {
        assert_eq!(dead_queue("ledger"), "ledger.dead");
        assert_eq!(retry_queue("ledger"), "ledger.retry");
    }
}
