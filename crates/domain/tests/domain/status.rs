use nexpay_domain::{AttemptStatus, DomainError, PaymentStatus, SessionStatus};

#[test]
fn wire_strings() {
    let session: Vec<_> = SessionStatus::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(
        session,
        [
            "opened",
            "pending",
            "succeeded",
            "failed",
            "cancelled",
            "expired"
        ]
    );
    let payment: Vec<_> = PaymentStatus::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(
        payment,
        ["PENDING", "SUCCEEDED", "FAILED", "CANCELLED", "EXPIRED"]
    );
    let attempt: Vec<_> = AttemptStatus::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(
        attempt,
        [
            "created",
            "pending",
            "succeeded",
            "failed",
            "cancelled",
            "expired"
        ]
    );
}

#[test]
fn parse_round_trips_and_is_case_sensitive() {
    for s in SessionStatus::ALL {
        assert_eq!(SessionStatus::parse(s.as_str()), Ok(*s));
        assert_eq!(SessionStatus::parse(&s.as_str().to_uppercase()).ok(), None);
    }
    for s in PaymentStatus::ALL {
        assert_eq!(PaymentStatus::parse(s.as_str()), Ok(*s));
        assert_eq!(PaymentStatus::parse(&s.as_str().to_lowercase()).ok(), None);
    }
    for s in AttemptStatus::ALL {
        assert_eq!(AttemptStatus::parse(s.as_str()), Ok(*s));
    }
    assert_eq!(
        PaymentStatus::parse("PAID"),
        Err(DomainError::InvalidStatus("PAID".into()))
    );
    assert!(SessionStatus::parse("").is_err());
    assert!(SessionStatus::parse("canceled").is_err());
    assert!(AttemptStatus::parse(" created").is_err());
    assert!(SessionStatus::parse("created").is_err());
    assert!(AttemptStatus::parse("opened").is_err());
}

#[test]
fn terminal_statuses() {
    let terminal: Vec<_> = SessionStatus::ALL
        .iter()
        .filter(|s| s.is_terminal())
        .collect();
    assert_eq!(
        terminal,
        [
            &SessionStatus::Succeeded,
            &SessionStatus::Failed,
            &SessionStatus::Cancelled,
            &SessionStatus::Expired
        ]
    );
    assert!(!PaymentStatus::Pending.is_terminal());
    assert_eq!(
        PaymentStatus::ALL
            .iter()
            .filter(|s| s.is_terminal())
            .count(),
        4
    );
    assert!(!AttemptStatus::Created.is_terminal());
    assert!(!AttemptStatus::Pending.is_terminal());
    assert_eq!(
        AttemptStatus::ALL
            .iter()
            .filter(|s| s.is_terminal())
            .count(),
        4
    );
}

#[test]
fn serde_uses_wire_strings() {
    assert_eq!(
        serde_json::to_string(&PaymentStatus::Succeeded).unwrap(),
        "\"SUCCEEDED\""
    );
    assert_eq!(
        serde_json::to_string(&SessionStatus::Opened).unwrap(),
        "\"opened\""
    );
    assert_eq!(
        serde_json::from_str::<AttemptStatus>("\"expired\"").unwrap(),
        AttemptStatus::Expired
    );
    assert!(serde_json::from_str::<PaymentStatus>("\"succeeded\"").is_err());
    assert_eq!(PaymentStatus::Failed.to_string(), "FAILED");
    assert_eq!(
        "cancelled".parse::<SessionStatus>(),
        Ok(SessionStatus::Cancelled)
    );
}

#[test]
fn session_status_from_payment() {
    use PaymentStatus as P;
    use SessionStatus as S;
    assert_eq!(S::from_payment(P::Pending, true), S::Pending);
    assert_eq!(S::from_payment(P::Pending, false), S::Opened);
    for active in [true, false] {
        assert_eq!(S::from_payment(P::Succeeded, active), S::Succeeded);
        assert_eq!(S::from_payment(P::Failed, active), S::Failed);
        assert_eq!(S::from_payment(P::Cancelled, active), S::Cancelled);
        assert_eq!(S::from_payment(P::Expired, active), S::Expired);
    }
}
