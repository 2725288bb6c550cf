use nexpay_domain::{DomainError, EventType, PaymentStatus};

#[test]
fn wire_strings_and_parse() {
    let all: Vec<_> = EventType::ALL.iter().map(|e| e.as_str()).collect();
    assert_eq!(
        all,
        [
            "payment.pending",
            "payment.succeeded",
            "payment.failed",
            "payment.cancelled",
            "payment.expired"
        ]
    );
    for e in EventType::ALL {
        assert_eq!(EventType::parse(e.as_str()), Ok(*e));
        assert_eq!(e.to_string(), e.as_str());
    }
    assert_eq!(
        EventType::parse("payment.refunded"),
        Err(DomainError::InvalidEventType("payment.refunded".into()))
    );
    assert!(EventType::parse("PAYMENT.SUCCEEDED").is_err());
    assert!(EventType::parse("payment_succeeded").is_err());
}

#[test]
fn serde() {
    assert_eq!(
        serde_json::to_string(&EventType::PaymentSucceeded).unwrap(),
        "\"payment.succeeded\""
    );
    assert_eq!(
        serde_json::from_str::<EventType>("\"payment.expired\"").unwrap(),
        EventType::PaymentExpired
    );
    assert!(serde_json::from_str::<EventType>("\"payment\"").is_err());
}

#[test]
fn one_event_type_per_payment_status() {
    use EventType as E;
    use PaymentStatus as P;
    assert_eq!(E::for_payment_status(P::Pending), E::PaymentPending);
    assert_eq!(E::for_payment_status(P::Succeeded), E::PaymentSucceeded);
    assert_eq!(E::for_payment_status(P::Failed), E::PaymentFailed);
    assert_eq!(E::for_payment_status(P::Cancelled), E::PaymentCancelled);
    assert_eq!(E::for_payment_status(P::Expired), E::PaymentExpired);
    // The suffix of the event type is the lower-cased payment status.
    for p in P::ALL {
        let e = E::for_payment_status(*p);
        assert_eq!(e.as_str(), format!("payment.{}", p.as_str().to_lowercase()));
    }
}
