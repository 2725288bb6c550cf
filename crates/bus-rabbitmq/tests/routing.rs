//! Publishing: topic routing, publisher confirms, closed bus.

mod common;

use std::time::{Duration, Instant};

use common::{event, opts, within, Vhost};
use nexpay_bus::{handler_fn, Bus, BusError, ConsumerHandle, Envelope};
use nexpay_bus_rabbitmq::RabbitBus;
use serde_json::json;
use tokio::sync::mpsc;

type Seen = mpsc::UnboundedReceiver<(&'static str, Envelope)>;

/// A consumer on `queue` reporting `(queue, envelope)` for every message.
async fn recorder(
    bus: &RabbitBus,
    queue: &'static str,
    bindings: &[&str],
    tx: &mpsc::UnboundedSender<(&'static str, Envelope)>,
) -> ConsumerHandle {
    let tx = tx.clone();
    let h = handler_fn(move |msg: Envelope| {
        let _ = tx.send((queue, msg));
        async { Ok(json!(null)) }
    });
    bus.consume(queue, bindings, h, opts(10, 5, 1))
        .await
        .expect("consume")
}

async fn next(rx: &mut Seen) -> (&'static str, Envelope) {
    within("a delivery", rx.recv()).await.expect("open")
}

#[tokio::test]
#[ignore = "needs RabbitMQ at 127.0.0.1:5672 and rabbitmqctl; run with -- --ignored"]
async fn each_bound_queue_gets_its_own_copy() {
    let vhost = Vhost::new().await;
    let bus = vhost.bus("routing").await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let _ledger = recorder(&bus, "ledger", &["payment.*"], &tx).await;
    let _notifier = recorder(&bus, "notifier", &["payment.*"], &tx).await;
    let _audit = recorder(&bus, "audit", &["#"], &tx).await;
    let _refunds = recorder(&bus, "refunds", &["refund.#"], &tx).await;

    let msg = event("payment.succeeded", 1);
    bus.publish(msg.clone()).await.expect("published");
    let mut queues = Vec::new();
    for _ in 0..3 {
        let (queue, env) = next(&mut rx).await;
        assert_eq!(env, msg);
        queues.push(queue);
    }
    queues.sort_unstable();
    assert_eq!(queues, ["audit", "ledger", "notifier"]);

    // A marker every queue gets proves no queue got a second copy (each
    // queue is FIFO with one consumer handling one message at a time).
    bus.publish(event("refund.created", 2))
        .await
        .expect("marker");
    let mut markers = Vec::new();
    for _ in 0..2 {
        let (queue, env) = next(&mut rx).await;
        assert_eq!(env.payload["n"], 2, "{queue} got an extra message");
        markers.push(queue);
    }
    markers.sort_unstable();
    assert_eq!(markers, ["audit", "refunds"]);
}

#[tokio::test]
#[ignore = "needs RabbitMQ at 127.0.0.1:5672 and rabbitmqctl; run with -- --ignored"]
async fn overlapping_bindings_deliver_one_copy_per_queue() {
    let vhost = Vhost::new().await;
    let bus = vhost.bus("routing").await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let _c = recorder(&bus, "ledger", &["payment.*", "payment.#", "#"], &tx).await;
    bus.publish(event("payment.succeeded", 1))
        .await
        .expect("published");
    bus.publish(event("payment.failed", 2))
        .await
        .expect("marker");
    assert_eq!(next(&mut rx).await.1.payload["n"], 1);
    assert_eq!(next(&mut rx).await.1.payload["n"], 2, "one copy only");
}

#[tokio::test]
#[ignore = "needs RabbitMQ at 127.0.0.1:5672 and rabbitmqctl; run with -- --ignored"]
async fn events_without_a_bound_queue_are_dropped() {
    let vhost = Vhost::new().await;
    let bus = vhost.bus("routing").await;
    bus.publish(event("payment.succeeded", 1))
        .await
        .expect("confirmed even if unroutable");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let _late = recorder(&bus, "late", &["payment.*"], &tx).await;
    bus.publish(event("payment.succeeded", 2))
        .await
        .expect("marker");
    assert_eq!(
        next(&mut rx).await.1.payload["n"],
        2,
        "earlier event not kept"
    );
}

#[tokio::test]
#[ignore = "needs RabbitMQ at 127.0.0.1:5672 and rabbitmqctl; run with -- --ignored"]
async fn a_confirmed_publish_is_in_the_queue() {
    let vhost = Vhost::new().await;
    let bus = vhost.bus("routing").await;
    let h = handler_fn(|_m: Envelope| async { Ok(json!(null)) });
    let c = bus
        .consume("ledger", &["payment.*"], h, opts(10, 5, 1))
        .await
        .expect("consume");
    within("shutdown", c.shutdown()).await;
    for n in 0..3 {
        bus.publish(event("payment.succeeded", n))
            .await
            .expect("published");
    }
    // No polling: a confirm means the broker has the message enqueued.
    assert_eq!(bus.queue_depth("ledger").await.expect("depth"), 3);
    assert_eq!(bus.queue_depth("never-declared").await.expect("depth"), 0);
    bus.health().await.expect("healthy");
}

#[tokio::test]
#[ignore = "needs RabbitMQ at 127.0.0.1:5672 and rabbitmqctl; run with -- --ignored"]
async fn a_thousand_concurrent_publishes_are_confirmed() {
    let vhost = Vhost::new().await;
    let bus = vhost.bus("routing").await;
    let h = handler_fn(|_m: Envelope| async { Ok(json!(null)) });
    let c = bus
        .consume("sink", &["load.#"], h, opts(10, 5, 1))
        .await
        .expect("consume");
    within("shutdown", c.shutdown()).await;

    let started = Instant::now();
    let publishes = (0..1000).map(|n| bus.publish(event("load.test", n)));
    let results = within("1000 publishes", futures::future::join_all(publishes)).await;
    let elapsed = started.elapsed();
    assert!(results.iter().all(Result::is_ok), "all confirmed");
    assert_eq!(bus.queue_depth("sink").await.expect("depth"), 1000);
    eprintln!(
        "1000 concurrent confirmed publishes in {elapsed:?} ({:.0}/s)",
        1000.0 / elapsed.as_secs_f64().max(f64::EPSILON)
    );
}

#[tokio::test]
#[ignore = "needs RabbitMQ at 127.0.0.1:5672 and rabbitmqctl; run with -- --ignored"]
async fn a_closed_bus_refuses_work() {
    let vhost = Vhost::new().await;
    let bus = vhost.bus("routing").await;
    bus.health().await.expect("healthy");
    assert!(bus.is_connected());
    within("close", bus.close()).await;
    assert!(matches!(bus.health().await, Err(BusError::Closed)));
    assert!(matches!(
        bus.publish(event("payment.succeeded", 1)).await,
        Err(BusError::Closed)
    ));
    let res = bus
        .request("q", event("x", 1), Duration::from_secs(1))
        .await;
    assert!(matches!(res, Err(BusError::Closed)), "{res:?}");
}

#[tokio::test]
#[ignore = "needs RabbitMQ at 127.0.0.1:5672 and rabbitmqctl; run with -- --ignored"]
async fn a_bad_url_fails_to_connect() {
    let res = RabbitBus::connect(
        "amqp://guest:guest@127.0.0.1:5672/nexpay_no_such_vhost",
        "x",
    )
    .await;
    assert!(matches!(res, Err(BusError::Unavailable(_))), "{res:?}");
}
