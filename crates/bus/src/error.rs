//! Errors of the bus and of message handlers.

use serde::{Deserialize, Serialize};

/// Errors returned by [`crate::Bus`] operations.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// A request got no reply within its deadline.
    #[error("request timed out")]
    Timeout,
    /// The broker cannot be reached or refused the operation.
    #[error("bus unavailable: {0}")]
    Unavailable(String),
    /// A request was sent to a queue nobody has declared (RabbitMQ returns a
    /// mandatory publish to a missing queue as unroutable).
    #[error("no handler for `{0}`")]
    NoHandler(String),
    /// The remote handler answered a request with an error.
    #[error("{0}")]
    Handler(#[from] HandlerError),
    /// A message could not be encoded or decoded.
    #[error("codec error: {0}")]
    Codec(String),
    /// The bus was closed.
    #[error("bus closed")]
    Closed,
}

/// What a handler returns on failure.
///
/// * `Retryable`: nack and redeliver; dead-lettered after `max_deliveries`.
/// * `Permanent`: dead-lettered at once.
/// * `Rejected`: a business-level answer to a request (validation failure,
///   not found, ...). It is neither retried nor dead-lettered; it travels
///   back to the caller. On an event (where nobody waits for an answer) it is
///   treated like `Permanent`.
///
/// For request/reply, the final error is sent back to the caller as
/// [`BusError::Handler`].
#[derive(Debug, Clone, thiserror::Error, Serialize, Deserialize, PartialEq)]
pub enum HandlerError {
    #[error("retryable: {0}")]
    Retryable(String),
    #[error("permanent: {0}")]
    Permanent(String),
    #[error("rejected: {code}: {message}")]
    Rejected {
        status: u16,
        code: String,
        message: String,
        details: serde_json::Value,
    },
}

impl HandlerError {
    /// A `Rejected` error without details.
    pub fn rejected(status: u16, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Rejected {
            status,
            code: code.into(),
            message: message.into(),
            details: serde_json::Value::Null,
        }
    }
}
