//! Pure transition functions. They decide, callers persist: the same event
//! replayed (webhook retries, polling racing a callback) must give the same
//! answer, which is why duplicates are a distinct error rather than `Ok`.
//!
//! One rule overrides finality: if a provider reports that money was taken
//! after we gave up (failed, cancelled or expired), the record moves to
//! `Succeeded` with `late = true`, because the customer has paid and the
//! merchant must know it. `Succeeded` itself never changes.

use super::{AttemptStatus, PaymentStatus, SessionStatus};
use crate::error::TransitionError;

/// Outcome of an accepted event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition<S> {
    pub to: S,
    /// The success arrived after the record had reached another final status.
    pub late: bool,
}

impl<S> Transition<S> {
    fn now(to: S) -> Self {
        Transition { to, late: false }
    }

    fn late(to: S) -> Self {
        Transition { to, late: true }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaymentEvent {
    AttemptStarted,
    /// `retry_possible`: the customer may still start another attempt
    /// (e.g. a hosted session still open), so the payment stays pending.
    AttemptFailed {
        retry_possible: bool,
    },
    ProviderSucceeded,
    Cancel,
    Expire,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionEvent {
    AttemptStarted,
    AttemptFailed { retry_possible: bool },
    ProviderSucceeded,
    Cancel,
    Expire,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttemptEvent {
    ProviderAccepted,
    ProviderFailed,
    ProviderSucceeded,
    Cancel,
    Expire,
}

/// A session and its payment see the same events.
impl From<SessionEvent> for PaymentEvent {
    fn from(ev: SessionEvent) -> Self {
        match ev {
            SessionEvent::AttemptStarted => PaymentEvent::AttemptStarted,
            SessionEvent::AttemptFailed { retry_possible } => {
                PaymentEvent::AttemptFailed { retry_possible }
            }
            SessionEvent::ProviderSucceeded => PaymentEvent::ProviderSucceeded,
            SessionEvent::Cancel => PaymentEvent::Cancel,
            SessionEvent::Expire => PaymentEvent::Expire,
        }
    }
}

impl From<PaymentEvent> for SessionEvent {
    fn from(ev: PaymentEvent) -> Self {
        match ev {
            PaymentEvent::AttemptStarted => SessionEvent::AttemptStarted,
            PaymentEvent::AttemptFailed { retry_possible } => {
                SessionEvent::AttemptFailed { retry_possible }
            }
            PaymentEvent::ProviderSucceeded => SessionEvent::ProviderSucceeded,
            PaymentEvent::Cancel => SessionEvent::Cancel,
            PaymentEvent::Expire => SessionEvent::Expire,
        }
    }
}

fn terminal(from: &str) -> TransitionError {
    TransitionError::Terminal {
        from: from.to_owned(),
    }
}

pub fn payment_transition(
    from: PaymentStatus,
    ev: &PaymentEvent,
) -> Result<Transition<PaymentStatus>, TransitionError> {
    use PaymentEvent as E;
    use PaymentStatus as S;
    match (from, ev) {
        (S::Pending, E::AttemptStarted) => Ok(Transition::now(S::Pending)),
        (S::Pending, E::AttemptFailed { retry_possible }) => {
            Ok(Transition::now(if *retry_possible {
                S::Pending
            } else {
                S::Failed
            }))
        }
        (S::Pending, E::ProviderSucceeded) => Ok(Transition::now(S::Succeeded)),
        (S::Pending, E::Cancel) => Ok(Transition::now(S::Cancelled)),
        (S::Pending, E::Expire) => Ok(Transition::now(S::Expired)),
        (S::Succeeded, E::ProviderSucceeded) => Err(TransitionError::Duplicate),
        (S::Failed | S::Cancelled | S::Expired, E::ProviderSucceeded) => {
            Ok(Transition::late(S::Succeeded))
        }
        (S::Succeeded | S::Failed | S::Cancelled | S::Expired, _) => Err(terminal(from.as_str())),
    }
}

pub fn session_transition(
    from: SessionStatus,
    ev: &SessionEvent,
) -> Result<Transition<SessionStatus>, TransitionError> {
    use SessionEvent as E;
    use SessionStatus as S;
    match (from, ev) {
        (S::Opened | S::Pending, E::AttemptStarted) => Ok(Transition::now(S::Pending)),
        // Back to the provider choice: the customer may try again.
        (S::Opened | S::Pending, E::AttemptFailed { retry_possible }) => {
            Ok(Transition::now(if *retry_possible {
                S::Opened
            } else {
                S::Failed
            }))
        }
        (S::Opened | S::Pending, E::ProviderSucceeded) => Ok(Transition::now(S::Succeeded)),
        (S::Opened | S::Pending, E::Cancel) => Ok(Transition::now(S::Cancelled)),
        (S::Opened | S::Pending, E::Expire) => Ok(Transition::now(S::Expired)),
        (S::Succeeded, E::ProviderSucceeded) => Err(TransitionError::Duplicate),
        (S::Failed | S::Cancelled | S::Expired, E::ProviderSucceeded) => {
            Ok(Transition::late(S::Succeeded))
        }
        (S::Succeeded | S::Failed | S::Cancelled | S::Expired, _) => Err(terminal(from.as_str())),
    }
}

pub fn attempt_transition(
    from: AttemptStatus,
    ev: &AttemptEvent,
) -> Result<Transition<AttemptStatus>, TransitionError> {
    use AttemptEvent as E;
    use AttemptStatus as S;
    match (from, ev) {
        (S::Created, E::ProviderAccepted) => Ok(Transition::now(S::Pending)),
        // A repeated acceptance (retried provider call) changes nothing.
        (S::Pending, E::ProviderAccepted) => Err(TransitionError::Duplicate),
        (S::Created | S::Pending, E::ProviderFailed) => Ok(Transition::now(S::Failed)),
        (S::Created | S::Pending, E::ProviderSucceeded) => Ok(Transition::now(S::Succeeded)),
        (S::Created | S::Pending, E::Cancel) => Ok(Transition::now(S::Cancelled)),
        (S::Created | S::Pending, E::Expire) => Ok(Transition::now(S::Expired)),
        (S::Succeeded, E::ProviderSucceeded) => Err(TransitionError::Duplicate),
        (S::Failed | S::Cancelled | S::Expired, E::ProviderSucceeded) => {
            Ok(Transition::late(S::Succeeded))
        }
        (S::Succeeded | S::Failed | S::Cancelled | S::Expired, _) => Err(terminal(from.as_str())),
    }
}
