//! The pull API: ack/nack, redelivery, prefetch and queue depth.

mod common;

use common::{event, wait_stats, within};
use futures::FutureExt;
use nexpay_bus::{Bus, InProcessBus, QueueStats};

// Real threads, so the replicas actually race.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn competing_subscriptions_share_a_queue() {
    let bus = InProcessBus::new();
    let mut a = bus.subscribe("ledger", &["payment.*"], 1);
    let mut b = bus.subscribe("ledger", &["payment.*"], 1);
    let (m1, m2) = (event("payment.succeeded", 1), event("payment.succeeded", 2));
    bus.publish(m1.clone()).await.expect("published");
    bus.publish(m2.clone()).await.expect("published");

    let da = within("a", a.next()).await.expect("open");
    // `a` is at its prefetch limit, so the second message is `b`'s.
    assert!(a.next().now_or_never().is_none());
    let db = within("b", b.next()).await.expect("open");
    assert_eq!(da.envelope, m1);
    assert_eq!(db.envelope, m2);
    da.ack();
    db.ack();
    assert_eq!(bus.queue_depth("ledger").await.expect("depth"), 0);
    assert!(
        a.next().now_or_never().is_none(),
        "each message delivered once"
    );
    assert!(
        b.next().now_or_never().is_none(),
        "each message delivered once"
    );
}

#[tokio::test]
async fn a_dropped_delivery_is_redelivered() {
    let bus = InProcessBus::new();
    let mut sub = bus.subscribe("q", &["payment.*"], 1);
    let msg = event("payment.succeeded", 1);
    bus.publish(msg.clone()).await.expect("published");

    let first = within("first", sub.next()).await.expect("open");
    assert!(!first.redelivered);
    assert_eq!(first.delivery_count, 1);
    drop(first); // the consumer "crashed" before acking

    let second = within("redelivery", sub.next()).await.expect("open");
    assert_eq!(second.envelope, msg);
    assert!(second.redelivered);
    assert_eq!(second.delivery_count, 2);
    second.ack();
    assert_eq!(bus.queue_depth("q").await.expect("depth"), 0);
}

#[tokio::test]
async fn a_dropped_subscription_requeues_what_it_held_in_order() {
    let bus = InProcessBus::new();
    let mut dying = bus.subscribe("q", &["payment.*"], 10);
    let msgs: Vec<_> = (0..3).map(|n| event("payment.succeeded", n)).collect();
    for m in &msgs {
        bus.publish(m.clone()).await.expect("published");
    }
    let held: Vec<_> = [
        within("1", dying.next()).await.expect("open"),
        within("2", dying.next()).await.expect("open"),
    ]
    .into();
    drop(dying);
    // Acking after the channel is gone has no effect: they were requeued.
    for d in held {
        d.ack();
    }

    let mut survivor = bus.subscribe("q", &["payment.*"], 10);
    for (i, expected) in msgs.iter().enumerate() {
        let d = within("survivor", survivor.next()).await.expect("open");
        assert_eq!(&d.envelope, expected);
        assert_eq!(d.redelivered, i < 2, "message {i}");
        d.ack();
    }
    assert_eq!(bus.queue_depth("q").await.expect("depth"), 0);
}

#[tokio::test]
async fn nack_requeues_or_dead_letters() {
    let bus = InProcessBus::new();
    let mut sub = bus.subscribe("q", &["payment.*"], 1);
    let msg = event("payment.failed", 7);
    bus.publish(msg.clone()).await.expect("published");

    within("first", sub.next()).await.expect("open").nack(true);
    let again = within("redelivery", sub.next()).await.expect("open");
    assert!(again.redelivered);
    assert_eq!(again.delivery_count, 2);
    again.nack(false);

    assert_eq!(bus.dead_letters("q").await.expect("dlq"), vec![msg]);
    assert_eq!(bus.queue_depth("q").await.expect("depth"), 0);
    assert!(sub.next().now_or_never().is_none());
}

#[tokio::test]
async fn prefetch_bounds_unacked_deliveries() {
    let bus = InProcessBus::new();
    let mut sub = bus.subscribe("q", &["payment.*"], 2);
    for n in 0..3 {
        bus.publish(event("payment.succeeded", n))
            .await
            .expect("published");
    }
    let d1 = within("1", sub.next()).await.expect("open");
    let _d2 = within("2", sub.next()).await.expect("open");
    // The window is full: the third message waits (the first poll of
    // `next` would return it if it were allowed to).
    let mut third = Box::pin(sub.next());
    assert!(futures::poll!(third.as_mut()).is_pending());
    assert_eq!(bus.queue_stats("q").ready, 1);

    d1.ack();
    let d3 = within("3 after an ack", third).await.expect("open");
    assert_eq!(d3.envelope.payload["n"], 2);
}

#[tokio::test]
async fn queue_depth_counts_ready_and_unacked() {
    let bus = InProcessBus::new();
    let mut sub = bus.subscribe("q", &["payment.*"], 10);
    for n in 0..3 {
        bus.publish(event("payment.succeeded", n))
            .await
            .expect("published");
    }
    let d = within("1", sub.next()).await.expect("open");
    assert_eq!(bus.queue_depth("q").await.expect("depth"), 3);
    let stats = bus.queue_stats("q");
    assert_eq!((stats.ready, stats.unacked, stats.consumers), (2, 1, 1));

    d.ack();
    assert_eq!(bus.queue_depth("q").await.expect("depth"), 2);
    drop(sub);
    wait_stats(&bus, "q", |s| s.consumers == 0).await;
    assert_eq!(bus.queue_depth("q").await.expect("depth"), 2);
    assert_eq!(bus.queue_depth("never-declared").await.expect("depth"), 0);
    assert_eq!(bus.queue_stats("never-declared"), QueueStats::default());
}
