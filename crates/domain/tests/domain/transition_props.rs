//! Invariants of the state machines over random event sequences.

use nexpay_domain::{
    attempt_transition, payment_transition, session_transition, AttemptEvent, AttemptStatus,
    PaymentEvent, PaymentStatus, SessionEvent, SessionStatus,
};
use proptest::prelude::*;

fn payment_event() -> impl Strategy<Value = PaymentEvent> {
    prop_oneof![
        Just(PaymentEvent::AttemptStarted),
        any::<bool>().prop_map(|retry_possible| PaymentEvent::AttemptFailed { retry_possible }),
        Just(PaymentEvent::ProviderSucceeded),
        Just(PaymentEvent::Cancel),
        Just(PaymentEvent::Expire),
    ]
}

fn attempt_event() -> impl Strategy<Value = AttemptEvent> {
    prop::sample::select(vec![
        AttemptEvent::ProviderAccepted,
        AttemptEvent::ProviderFailed,
        AttemptEvent::ProviderSucceeded,
        AttemptEvent::Cancel,
        AttemptEvent::Expire,
    ])
}

fn events<T: std::fmt::Debug>(s: impl Strategy<Value = T>) -> impl Strategy<Value = Vec<T>> {
    prop::collection::vec(s, 0..30)
}

/// Checks one step of any machine against the shared invariants; returns
/// the next status.
fn step<S: Copy + PartialEq + std::fmt::Debug>(
    from: S,
    result: Result<nexpay_domain::Transition<S>, nexpay_domain::TransitionError>,
    succeeded: S,
    is_terminal: fn(&S) -> bool,
) -> Result<S, TestCaseError> {
    match result {
        Ok(t) => {
            prop_assert!(from != succeeded, "Succeeded changed to {:?}", t.to);
            if is_terminal(&from) {
                prop_assert_eq!(t.to, succeeded);
                prop_assert!(t.late);
                prop_assert!(t.to != from);
            } else {
                prop_assert!(!t.late);
            }
            Ok(t.to)
        }
        Err(_) => Ok(from),
    }
}

proptest! {
    #[test]
    fn payment_invariants(
        start in prop::sample::select(PaymentStatus::ALL),
        evs in events(payment_event()),
    ) {
        let mut s = start;
        for ev in &evs {
            let was_succeeded = s == PaymentStatus::Succeeded;
            s = step(s, payment_transition(s, ev), PaymentStatus::Succeeded, PaymentStatus::is_terminal)?;
            if was_succeeded {
                prop_assert_eq!(s, PaymentStatus::Succeeded);
            }
        }
    }

    #[test]
    fn session_invariants(
        start in prop::sample::select(SessionStatus::ALL),
        evs in events(payment_event().prop_map(SessionEvent::from)),
    ) {
        let mut s = start;
        for ev in &evs {
            s = step(s, session_transition(s, ev), SessionStatus::Succeeded, SessionStatus::is_terminal)?;
        }
        if start == SessionStatus::Succeeded {
            prop_assert_eq!(s, SessionStatus::Succeeded);
        }
    }

    #[test]
    fn attempt_invariants(
        start in prop::sample::select(AttemptStatus::ALL),
        evs in events(attempt_event()),
    ) {
        let mut s = start;
        for ev in &evs {
            s = step(s, attempt_transition(s, ev), AttemptStatus::Succeeded, AttemptStatus::is_terminal)?;
        }
        if start == AttemptStatus::Succeeded {
            prop_assert_eq!(s, AttemptStatus::Succeeded);
        }
    }

    /// A session and its payment fed the same events stay consistent:
    /// the session status is always the one derived from the payment.
    #[test]
    fn session_agrees_with_payment(
        start in prop::sample::select(PaymentStatus::ALL),
        active in any::<bool>(),
        evs in events(payment_event()),
    ) {
        let mut payment = start;
        let mut active = active && payment == PaymentStatus::Pending;
        let mut session = SessionStatus::from_payment(payment, active);
        for ev in &evs {
            let p = payment_transition(payment, ev);
            let s = session_transition(session, &SessionEvent::from(*ev));
            match (p, s) {
                (Ok(p), Ok(s)) => {
                    prop_assert_eq!(p.late, s.late);
                    payment = p.to;
                    session = s.to;
                    active = matches!(ev, PaymentEvent::AttemptStarted);
                }
                (Err(pe), Err(se)) => {
                    prop_assert_eq!(
                        std::mem::discriminant(&pe),
                        std::mem::discriminant(&se)
                    );
                }
                (p, s) => prop_assert!(false, "disagree on {:?}: {:?} vs {:?}", ev, p, s),
            }
            prop_assert_eq!(session, SessionStatus::from_payment(payment, active));
        }
    }
}
