//! The message envelope shared by events and commands.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use ring::rand::{SecureRandom, SystemRandom};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::BusError;

/// Version of the envelope/payload schema this build produces. Consumers use
/// it to reject (dead-letter) messages from a newer producer they cannot read.
pub const SCHEMA_VERSION: u16 = 1;

/// A message on the bus, event or command alike.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Envelope {
    /// Unique message id; delivery is at-least-once, so consumers dedupe on it.
    pub id: String,
    /// Event type or command name, e.g. `payment.succeeded`. For events it is
    /// also the routing key on the topic exchange.
    pub kind: String,
    pub schema_version: u16,
    /// Request id of the HTTP request that caused this message, propagated
    /// so logs of every service can be joined on it.
    pub correlation_id: String,
    pub timestamp: DateTime<Utc>,
    pub payload: serde_json::Value,
}

impl Envelope {
    /// A new message with a fresh random id, stamped now.
    pub fn new(
        kind: impl Into<String>,
        correlation_id: impl Into<String>,
        payload: serde_json::Value,
    ) -> Self {
        Self::with_id(new_message_id(), kind, correlation_id, payload)
    }

    /// A message with a caller-chosen id: the outbox relay republishes rows
    /// with the id they were stored with, so a republish after a crash is
    /// recognised as a duplicate by consumers.
    pub fn with_id(
        id: impl Into<String>,
        kind: impl Into<String>,
        correlation_id: impl Into<String>,
        payload: serde_json::Value,
    ) -> Self {
        Self {
            id: id.into(),
            kind: kind.into(),
            schema_version: SCHEMA_VERSION,
            correlation_id: correlation_id.into(),
            timestamp: Utc::now(),
            payload,
        }
    }

    /// Deserialize the payload into `T`.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, BusError> {
        // `T::deserialize(&Value)` reads the payload in place instead of
        // cloning a possibly large JSON tree.
        T::deserialize(&self.payload)
            .map_err(|e| BusError::Codec(format!("decoding `{}` payload: {e}", self.kind)))
    }
}

/// 16 random bytes, hex-encoded (32 characters).
pub(crate) fn new_message_id() -> String {
    let mut bytes = [0u8; 16];
    if SystemRandom::new().fill(&mut bytes).is_err() {
        // The OS RNG practically never fails, but an id is required and
        // `Envelope::new` is infallible. Fall back to something unique within
        // this process (clock + counter) rather than panicking; the id only
        // has to be unique, not secret.
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        tracing::warn!("system RNG failed; using a clock+counter message id");
        let nanos = Utc::now().timestamp_nanos_opt().unwrap_or_default() as u64;
        let count = COUNTER.fetch_add(1, Ordering::Relaxed);
        bytes[..8].copy_from_slice(&nanos.to_be_bytes());
        bytes[8..].copy_from_slice(&count.to_be_bytes());
    }
    hex::encode(bytes)
}
