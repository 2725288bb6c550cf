//! Errors shared by every parser of the crate.

use crate::money::MoneyError;

/// Inputs echoed back in error messages are cut to this many characters so a
/// hostile request cannot make logs or API responses arbitrarily large.
const ECHO_LIMIT: usize = 64;

/// Why a piece of untrusted input was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("invalid phone number: use the international format, e.g. +221771234567")]
    InvalidPhone,
    #[error("invalid email address")]
    InvalidEmail,
    #[error("invalid URL: {0}")]
    InvalidUrl(String),
    #[error("unsupported currency {0:?}: expected one of XOF, XAF, GNF, GMD, EUR, USD")]
    UnsupportedCurrency(String),
    #[error("invalid {kind}")]
    InvalidId { kind: &'static str },
    #[error("invalid status {0:?}")]
    InvalidStatus(String),
    #[error("unknown event type {0:?}")]
    InvalidEventType(String),
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// Copies untrusted input into an error message, bounded by `ECHO_LIMIT`.
pub(crate) fn echo(input: &str) -> String {
    match input.char_indices().nth(ECHO_LIMIT) {
        Some((cut, _)) => format!("{}…", &input[..cut]),
        None => input.to_owned(),
    }
}

/// Why a state machine refused an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// `from` is the wire string of the final status, e.g. "failed".
    #[error("status {from:?} is final and cannot change")]
    Terminal { from: String },
    /// The event repeats something already recorded (a second success
    /// notification, a second acceptance); callers treat it as a no-op.
    #[error("duplicate event: it has already been applied")]
    Duplicate,
}
