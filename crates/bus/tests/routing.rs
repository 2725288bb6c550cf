mod common;

use common::{event, within};
use futures::FutureExt;
use nexpay_bus::{Bus, BusError, InProcessBus};

#[tokio::test]
async fn each_bound_queue_gets_its_own_copy() {
    let bus = InProcessBus::new();
    let mut ledger = bus.subscribe("ledger", &["payment.*"], 10);
    let mut notifier = bus.subscribe("notifier", &["payment.*"], 10);
    let mut audit = bus.subscribe("audit", &["#"], 10);
    let mut refunds = bus.subscribe("refunds", &["refund.#"], 10);

    let msg = event("payment.succeeded", 1);
    bus.publish(msg.clone()).await.expect("published");

    for sub in [&mut ledger, &mut notifier, &mut audit] {
        let d = within("copy", sub.next()).await.expect("open");
        assert_eq!(d.envelope, msg);
        assert!(!d.redelivered);
        d.ack();
    }
    assert!(
        refunds.next().now_or_never().is_none(),
        "not bound to payment.*"
    );
    assert_eq!(bus.queue_depth("refunds").await.expect("depth"), 0);
}

#[tokio::test]
async fn overlapping_bindings_deliver_one_copy_per_queue() {
    let bus = InProcessBus::new();
    let mut sub = bus.subscribe("ledger", &["payment.*", "payment.#", "#"], 10);
    bus.publish(event("payment.succeeded", 1))
        .await
        .expect("published");
    within("copy", sub.next()).await.expect("open").ack();
    assert_eq!(bus.queue_depth("ledger").await.expect("depth"), 0);
}

#[tokio::test]
async fn events_without_a_bound_queue_are_dropped() {
    let bus = InProcessBus::new();
    bus.publish(event("payment.succeeded", 1))
        .await
        .expect("published");
    // A queue bound afterwards does not see earlier events (the outbox, not
    // the exchange, is what guards against loss).
    let mut sub = bus.subscribe("late", &["payment.*"], 10);
    assert!(sub.next().now_or_never().is_none());
    assert_eq!(bus.queue_depth("late").await.expect("depth"), 0);
}

#[tokio::test]
async fn a_closed_bus_refuses_work_and_ends_subscriptions() {
    let bus = InProcessBus::new();
    let mut sub = bus.subscribe("q", &["#"], 10);
    bus.health().await.expect("healthy");
    bus.close();
    assert!(matches!(bus.health().await, Err(BusError::Closed)));
    assert!(matches!(
        bus.publish(event("payment.succeeded", 1)).await,
        Err(BusError::Closed)
    ));
    assert!(within("end of subscription", sub.next()).await.is_none());
}
