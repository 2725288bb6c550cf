//! Exhaustive tables: every (status, event) pair of every machine.

use nexpay_domain::{
    attempt_transition, payment_transition, session_transition, AttemptEvent, AttemptStatus,
    PaymentEvent, PaymentStatus, SessionEvent, SessionStatus, Transition, TransitionError,
};

/// `Ok((to, late))`, `Err("dup")` for Duplicate, or `Err(from)` for Terminal.
type Expected<S> = Result<(S, bool), &'static str>;

fn check<S: Copy + std::fmt::Debug + PartialEq>(
    got: Result<Transition<S>, TransitionError>,
    want: Expected<S>,
    ctx: &str,
) {
    match (got, want) {
        (Ok(t), Ok((to, late))) => assert_eq!((t.to, t.late), (to, late), "{ctx}"),
        (Err(TransitionError::Duplicate), Err("dup")) => {}
        (Err(TransitionError::Terminal { from }), Err(w)) if w != "dup" => {
            assert_eq!(from, w, "{ctx}")
        }
        (got, want) => panic!("{ctx}: got {got:?}, want {want:?}"),
    }
}

/// Row of a final status: every event refused as Terminal except the
/// success event (at `success`), which is either a late success or, for
/// `Succeeded` itself (`late_to == None`), a duplicate.
fn final_row<S: Copy, const N: usize>(
    name: &'static str,
    success: usize,
    late_to: Option<S>,
) -> [Expected<S>; N] {
    std::array::from_fn(|i| match (i == success, late_to) {
        (true, Some(to)) => Ok((to, true)),
        (true, None) => Err("dup"),
        (false, _) => Err(name),
    })
}

const RETRY: bool = true;

#[test]
fn payment_table() {
    use PaymentEvent as E;
    use PaymentStatus as P;
    let events = [
        E::AttemptStarted,
        E::AttemptFailed {
            retry_possible: RETRY,
        },
        E::AttemptFailed {
            retry_possible: !RETRY,
        },
        E::ProviderSucceeded,
        E::Cancel,
        E::Expire,
    ];
    let pending = [
        Ok((P::Pending, false)),
        Ok((P::Pending, false)),
        Ok((P::Failed, false)),
        Ok((P::Succeeded, false)),
        Ok((P::Cancelled, false)),
        Ok((P::Expired, false)),
    ];
    let late = Some(P::Succeeded);
    let table = [
        (P::Pending, pending),
        (P::Succeeded, final_row("SUCCEEDED", 3, None)),
        (P::Failed, final_row("FAILED", 3, late)),
        (P::Cancelled, final_row("CANCELLED", 3, late)),
        (P::Expired, final_row("EXPIRED", 3, late)),
    ];
    assert_eq!(table.len(), P::ALL.len());
    for (from, row) in table {
        for (ev, want) in events.iter().zip(row) {
            check(
                payment_transition(from, ev),
                want,
                &format!("{from:?} + {ev:?}"),
            );
        }
    }
}

#[test]
fn session_table() {
    use SessionEvent as E;
    use SessionStatus as S;
    let events = [
        E::AttemptStarted,
        E::AttemptFailed {
            retry_possible: RETRY,
        },
        E::AttemptFailed {
            retry_possible: !RETRY,
        },
        E::ProviderSucceeded,
        E::Cancel,
        E::Expire,
    ];
    let open = [
        Ok((S::Pending, false)),
        Ok((S::Opened, false)),
        Ok((S::Failed, false)),
        Ok((S::Succeeded, false)),
        Ok((S::Cancelled, false)),
        Ok((S::Expired, false)),
    ];
    let late = Some(S::Succeeded);
    let table = [
        (S::Opened, open),
        (S::Pending, open),
        (S::Succeeded, final_row("succeeded", 3, None)),
        (S::Failed, final_row("failed", 3, late)),
        (S::Cancelled, final_row("cancelled", 3, late)),
        (S::Expired, final_row("expired", 3, late)),
    ];
    assert_eq!(table.len(), S::ALL.len());
    for (from, row) in table {
        for (ev, want) in events.iter().zip(row) {
            check(
                session_transition(from, ev),
                want,
                &format!("{from:?} + {ev:?}"),
            );
        }
    }
}

#[test]
fn attempt_table() {
    use AttemptEvent as E;
    use AttemptStatus as A;
    let events = [
        E::ProviderAccepted,
        E::ProviderFailed,
        E::ProviderSucceeded,
        E::Cancel,
        E::Expire,
    ];
    let created = [
        Ok((A::Pending, false)),
        Ok((A::Failed, false)),
        Ok((A::Succeeded, false)),
        Ok((A::Cancelled, false)),
        Ok((A::Expired, false)),
    ];
    // A second acceptance is a replay, not a change.
    let pending = [
        Err("dup"),
        Ok((A::Failed, false)),
        Ok((A::Succeeded, false)),
        Ok((A::Cancelled, false)),
        Ok((A::Expired, false)),
    ];
    let late = Some(A::Succeeded);
    let table = [
        (A::Created, created),
        (A::Pending, pending),
        (A::Succeeded, final_row("succeeded", 2, None)),
        (A::Failed, final_row("failed", 2, late)),
        (A::Cancelled, final_row("cancelled", 2, late)),
        (A::Expired, final_row("expired", 2, late)),
    ];
    assert_eq!(table.len(), A::ALL.len());
    for (from, row) in table {
        for (ev, want) in events.iter().zip(row) {
            check(
                attempt_transition(from, ev),
                want,
                &format!("{from:?} + {ev:?}"),
            );
        }
    }
}

#[test]
fn transition_error_messages() {
    let err = payment_transition(PaymentStatus::Failed, &PaymentEvent::Cancel).unwrap_err();
    assert_eq!(
        err.to_string(),
        "status \"FAILED\" is final and cannot change"
    );
    let dup = payment_transition(PaymentStatus::Succeeded, &PaymentEvent::ProviderSucceeded);
    assert_eq!(dup, Err(TransitionError::Duplicate));
}

#[test]
fn session_and_payment_events_convert_both_ways() {
    let ev = SessionEvent::AttemptFailed {
        retry_possible: true,
    };
    let p = PaymentEvent::from(ev);
    assert_eq!(
        p,
        PaymentEvent::AttemptFailed {
            retry_possible: true
        }
    );
    assert_eq!(SessionEvent::from(p), ev);
}
