//! Event consumers: competing consumers, retries through `.retry`, dead
//! letters, graceful shutdown, redelivery after a consumer process dies.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{event, failing, gated, opts, wait_dead, wait_depth, within, Vhost};
use nexpay_bus::{handler_fn, Bus, Envelope, HandlerError};
use tokio::sync::{mpsc, Semaphore};

// Two buses = two processes competing for one queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs RabbitMQ at 127.0.0.1:5672 and rabbitmqctl; run with -- --ignored"]
async fn competing_consumers_handle_each_message_once() {
    let vhost = Vhost::new().await;
    let (a, b) = (vhost.bus("ledger-a").await, vhost.bus("ledger-b").await);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let gate = Arc::new(Semaphore::new(0));
    let mut handles = Vec::new();
    for (idx, bus) in [&a, &b].into_iter().enumerate() {
        let h = gated(idx, tx.clone(), Arc::clone(&gate));
        handles.push(
            bus.consume("ledger", &["payment.*"], h, opts(1, 5, 1))
                .await
                .expect("consume"),
        );
    }
    for n in 0..4 {
        a.publish(event("payment.succeeded", n))
            .await
            .expect("published");
    }
    // Each consumer may hold one message, so the first two go to both.
    let first = within("start 1", rx.recv()).await.expect("open");
    let second = within("start 2", rx.recv()).await.expect("open");
    assert_ne!(first.0, second.0, "both replicas got work");

    gate.add_permits(100);
    let mut seen = vec![first.1, second.1];
    for _ in 0..2 {
        seen.push(within("rest", rx.recv()).await.expect("open").1);
    }
    seen.sort_unstable();
    assert_eq!(seen, vec![0, 1, 2, 3]);
    wait_depth(&a, "ledger", |d| d == 0).await;
    // A marker proves nothing was redelivered: it comes after any duplicate.
    a.publish(event("payment.succeeded", 99))
        .await
        .expect("marker");
    assert_eq!(within("marker", rx.recv()).await.expect("open").1, 99);
    for h in handles {
        within("shutdown", h.shutdown()).await;
    }
}

#[tokio::test]
#[ignore = "needs RabbitMQ at 127.0.0.1:5672 and rabbitmqctl; run with -- --ignored"]
async fn retryable_errors_are_retried_then_dead_lettered() {
    let vhost = Vhost::new().await;
    let bus = vhost.bus("ledger").await;
    let calls = Arc::new(AtomicU32::new(0));
    let h = failing(
        Arc::clone(&calls),
        HandlerError::Retryable("db down".into()),
    );
    let handle = bus
        .consume("q", &["payment.*"], h, opts(4, 3, 1))
        .await
        .expect("consume");
    let msg = event("payment.succeeded", 1);
    bus.publish(msg.clone()).await.expect("published");

    assert_eq!(wait_dead(&bus, "q", 1).await, vec![msg]);
    assert_eq!(calls.load(Ordering::SeqCst), 3, "max_deliveries attempts");
    assert_eq!(bus.queue_depth("q").await.expect("depth"), 0);
    // Reading the dead letters leaves them in place.
    assert_eq!(bus.dead_letters("q").await.expect("dlq").len(), 1);
    within("shutdown", handle.shutdown()).await;
    assert_eq!(calls.load(Ordering::SeqCst), 3, "not handled again");
}

#[tokio::test]
#[ignore = "needs RabbitMQ at 127.0.0.1:5672 and rabbitmqctl; run with -- --ignored"]
async fn permanent_errors_and_rejections_dead_letter_at_once() {
    let vhost = Vhost::new().await;
    let bus = vhost.bus("ledger").await;
    for (queue, err) in [
        ("perm", HandlerError::Permanent("bad payload".into())),
        // Nobody awaits an event's answer: a rejection is final too.
        ("rej", HandlerError::rejected(422, "invalid", "bad amount")),
    ] {
        let calls = Arc::new(AtomicU32::new(0));
        let h = failing(Arc::clone(&calls), err);
        let handle = bus
            .consume(queue, &["payment.*"], h, opts(4, 5, 1))
            .await
            .expect("consume");
        let msg = event("payment.succeeded", 1);
        bus.publish(msg.clone()).await.expect("published");
        assert_eq!(wait_dead(&bus, queue, 1).await, vec![msg]);
        assert_eq!(calls.load(Ordering::SeqCst), 1, "{queue}: no retry");
        within("shutdown", handle.shutdown()).await;
    }
}

#[tokio::test]
#[ignore = "needs RabbitMQ at 127.0.0.1:5672 and rabbitmqctl; run with -- --ignored"]
async fn a_panicking_event_handler_is_retried_then_dead_lettered() {
    let vhost = Vhost::new().await;
    let bus = vhost.bus("ledger").await;
    let calls = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&calls);
    let h = handler_fn(move |_msg: Envelope| {
        counter.fetch_add(1, Ordering::SeqCst);
        async move { panic!("handler bug") }
    });
    let handle = bus
        .consume("q", &["payment.*"], h, opts(4, 2, 1))
        .await
        .expect("consume");
    bus.publish(event("payment.succeeded", 1))
        .await
        .expect("published");
    wait_dead(&bus, "q", 1).await;
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    within("shutdown", handle.shutdown()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs RabbitMQ at 127.0.0.1:5672 and rabbitmqctl; run with -- --ignored"]
async fn shutdown_finishes_in_flight_and_requeues_unstarted() {
    let vhost = Vhost::new().await;
    let bus = vhost.bus("ledger").await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let gate = Arc::new(Semaphore::new(0));
    let handle = bus
        .consume(
            "q",
            &["payment.*"],
            gated(0, tx, Arc::clone(&gate)),
            opts(3, 5, 1),
        )
        .await
        .expect("consume");
    for n in 0..3 {
        bus.publish(event("payment.succeeded", n))
            .await
            .expect("published");
    }
    assert_eq!(within("start", rx.recv()).await, Some((0, 0)));
    // All three prefetched (none ready), one running.
    wait_depth(&bus, "q", |d| d == 0).await;

    let stopping = tokio::spawn(handle.shutdown());
    // Unstarted messages go back at once; the running one is waited for.
    wait_depth(&bus, "q", |d| d == 2).await;
    assert!(!stopping.is_finished());
    gate.add_permits(1);
    within("shutdown", stopping).await.expect("no panic");
    assert_eq!(bus.queue_depth("q").await.expect("depth"), 2);
    assert!(rx.try_recv().is_err(), "nothing else started");

    let (tx, mut rx) = mpsc::unbounded_channel();
    let _next = bus
        .consume(
            "q",
            &["payment.*"],
            gated(1, tx, Arc::new(Semaphore::new(10))),
            opts(1, 5, 1),
        )
        .await
        .expect("consume");
    for n in 1..3 {
        assert_eq!(within("requeued", rx.recv()).await, Some((1, n)));
    }
}

#[tokio::test]
#[ignore = "needs RabbitMQ at 127.0.0.1:5672 and rabbitmqctl; run with -- --ignored"]
async fn shutdown_requeues_handlers_that_outlive_the_grace() {
    let vhost = Vhost::new().await;
    let bus = vhost.bus("ledger").await;
    let calls = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&calls);
    let h = handler_fn(move |_msg: Envelope| {
        counter.fetch_add(1, Ordering::SeqCst);
        std::future::pending()
    });
    let handle = bus
        .consume("q", &["payment.*"], h, opts(1, 5, 1))
        .await
        .expect("consume");
    bus.publish(event("payment.succeeded", 1))
        .await
        .expect("published");
    common::eventually("handler started", || async {
        calls.load(Ordering::SeqCst) == 1
    })
    .await;

    within(
        "shutdown",
        handle.shutdown_with_grace(Duration::from_millis(50)),
    )
    .await;
    wait_depth(&bus, "q", |d| d == 1).await;
    assert!(bus.dead_letters("q").await.expect("dlq").is_empty());
}

#[tokio::test]
#[ignore = "needs RabbitMQ at 127.0.0.1:5672 and rabbitmqctl; run with -- --ignored"]
async fn dropping_the_handle_keeps_the_consumer_running() {
    let vhost = Vhost::new().await;
    let bus = vhost.bus("ledger").await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let gate = Arc::new(Semaphore::new(10));
    drop(
        bus.consume("q", &["payment.*"], gated(0, tx, gate), opts(1, 5, 1))
            .await
            .expect("consume"),
    );
    bus.publish(event("payment.succeeded", 9))
        .await
        .expect("published");
    assert_eq!(within("handled", rx.recv()).await, Some((0, 9)));
    wait_depth(&bus, "q", |d| d == 0).await;
}

// The consumer's process dies (its bus and connection go away) with the
// message unacked: RabbitMQ gives it to the other process.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs RabbitMQ at 127.0.0.1:5672 and rabbitmqctl; run with -- --ignored"]
async fn a_message_held_by_a_dying_process_is_redelivered_to_another() {
    let vhost = Vhost::new().await;
    let publisher = vhost.bus("publisher").await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let never = Arc::new(Semaphore::new(0));
    let survivor_gate = Arc::new(Semaphore::new(10));

    let dying = vhost.bus("dying").await;
    let _held = dying
        .consume(
            "q",
            &["payment.*"],
            gated(0, tx.clone(), never),
            opts(1, 5, 1),
        )
        .await
        .expect("consume");
    let msg = event("payment.succeeded", 7);
    publisher.publish(msg).await.expect("published");
    assert_eq!(within("held", rx.recv()).await, Some((0, 7)));

    let survivor = vhost.bus("survivor").await;
    let _c = survivor
        .consume(
            "q",
            &["payment.*"],
            gated(1, tx, survivor_gate),
            opts(1, 5, 1),
        )
        .await
        .expect("consume");
    drop(dying); // the process "crashes": its connection closes, no ack
    assert_eq!(within("redelivered", rx.recv()).await, Some((1, 7)));
    wait_depth(&publisher, "q", |d| d == 0).await;
}
