//! Push consumers (`consume`): competing consumers, retries, dead letters
//! and graceful shutdown.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{event, wait_stats, within};
use futures::FutureExt;
use nexpay_bus::{handler_fn, Bus, ConsumerOptions, Envelope, Handler, HandlerError, InProcessBus};
use serde_json::json;
use tokio::sync::{mpsc, Semaphore};

/// Reports `(consumer, n)` when it starts, then waits for a gate permit.
fn gated(
    idx: usize,
    tx: mpsc::UnboundedSender<(usize, u64)>,
    gate: Arc<Semaphore>,
) -> Arc<dyn Handler> {
    handler_fn(move |msg: Envelope| {
        let (tx, gate) = (tx.clone(), Arc::clone(&gate));
        async move {
            let n = msg.payload["n"].as_u64().unwrap_or(u64::MAX);
            let _ = tx.send((idx, n));
            gate.acquire()
                .await
                .map_err(|e| HandlerError::Retryable(e.to_string()))?
                .forget();
            Ok(json!(null))
        }
    })
}

/// Counts calls and always fails with `err`.
fn failing(calls: Arc<AtomicU32>, err: HandlerError) -> Arc<dyn Handler> {
    handler_fn(move |_msg: Envelope| {
        calls.fetch_add(1, Ordering::SeqCst);
        let err = err.clone();
        async move { Err(err) }
    })
}

fn opts(prefetch: u16, max_deliveries: u32, concurrency: usize) -> ConsumerOptions {
    ConsumerOptions {
        prefetch,
        max_deliveries,
        concurrency,
    }
}

// Real threads, so the replicas actually race.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn competing_consumers_handle_each_message_once() {
    let bus = InProcessBus::new();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let gate = Arc::new(Semaphore::new(0));
    let mut handles = Vec::new();
    for idx in 0..2 {
        let h = gated(idx, tx.clone(), Arc::clone(&gate));
        handles.push(
            bus.consume("ledger", &["payment.*"], h, opts(1, 5, 1))
                .await
                .expect("consume"),
        );
    }
    for n in 0..4 {
        bus.publish(event("payment.succeeded", n))
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
    wait_stats(&bus, "ledger", |s| s.ready + s.unacked == 0).await;
    seen.sort_unstable();
    assert_eq!(seen, vec![0, 1, 2, 3]);
    assert!(rx.recv().now_or_never().is_none(), "nothing handled twice");
    for h in handles {
        within("shutdown", h.shutdown()).await;
    }
}

#[tokio::test]
async fn retryable_errors_redeliver_then_dead_letter() {
    let bus = InProcessBus::new();
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

    wait_stats(&bus, "q", |s| s.dead_lettered == 1).await;
    assert_eq!(calls.load(Ordering::SeqCst), 3, "max_deliveries attempts");
    assert_eq!(bus.dead_letters("q").await.expect("dlq"), vec![msg]);
    assert_eq!(bus.queue_depth("q").await.expect("depth"), 0);
    within("shutdown", handle.shutdown()).await;
}

#[tokio::test]
async fn permanent_errors_dead_letter_at_once() {
    let bus = InProcessBus::new();
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
        bus.publish(event("payment.succeeded", 1))
            .await
            .expect("published");
        wait_stats(&bus, queue, |s| s.dead_lettered == 1 && s.unacked == 0).await;
        assert_eq!(calls.load(Ordering::SeqCst), 1, "{queue}: no retry");
        within("shutdown", handle.shutdown()).await;
    }
}

#[tokio::test]
async fn a_panicking_event_handler_is_retried_then_dead_lettered() {
    let bus = InProcessBus::new();
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
    wait_stats(&bus, "q", |s| s.dead_lettered == 1 && s.unacked == 0).await;
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    within("shutdown", handle.shutdown()).await;
}

// Real threads, so the replicas actually race.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shutdown_finishes_in_flight_and_requeues_unstarted() {
    let bus = InProcessBus::new();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let gate = Arc::new(Semaphore::new(0));
    let h = gated(0, tx, Arc::clone(&gate));
    let handle = bus
        .consume("q", &["payment.*"], h, opts(3, 5, 1))
        .await
        .expect("consume");
    for n in 0..3 {
        bus.publish(event("payment.succeeded", n))
            .await
            .expect("published");
    }
    assert_eq!(within("start", rx.recv()).await, Some((0, 0)));
    // All three prefetched, one running.
    wait_stats(&bus, "q", |s| s.unacked == 3).await;

    let stopping = tokio::spawn(handle.shutdown());
    // Unstarted messages go back at once; the running one is waited for.
    wait_stats(&bus, "q", |s| s.ready == 2 && s.unacked == 1).await;
    assert!(!stopping.is_finished());
    gate.add_permits(1);
    within("shutdown", stopping).await.expect("no panic");

    let stats = bus.queue_stats("q");
    assert_eq!((stats.ready, stats.unacked, stats.consumers), (2, 0, 0));
    assert!(
        rx.recv().now_or_never().flatten().is_none(),
        "nothing else started"
    );
    let mut next = bus.subscribe("q", &[], 10);
    for n in 1..3 {
        let d = within("requeued", next.next()).await.expect("open");
        assert_eq!(d.envelope.payload["n"], n);
        assert!(d.redelivered);
        assert_eq!(
            d.delivery_count, 1,
            "an unstarted delivery is no failed attempt"
        );
        d.ack();
    }
}

#[tokio::test]
async fn shutdown_requeues_handlers_that_outlive_the_grace() {
    let bus = InProcessBus::new();
    let h = handler_fn(|_msg: Envelope| std::future::pending());
    let handle = bus
        .consume("q", &["payment.*"], h, opts(1, 5, 1))
        .await
        .expect("consume");
    bus.publish(event("payment.succeeded", 1))
        .await
        .expect("published");
    wait_stats(&bus, "q", |s| s.unacked == 1).await;

    within(
        "shutdown",
        handle.shutdown_with_grace(Duration::from_millis(20)),
    )
    .await;
    let mut sub = bus.subscribe("q", &[], 1);
    let d = within("requeued", sub.next()).await.expect("open");
    assert!(d.redelivered);
    assert_eq!(d.delivery_count, 2);
}

#[tokio::test]
async fn dropping_the_handle_keeps_the_consumer_running() {
    let bus = InProcessBus::new();
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
    wait_stats(&bus, "q", |s| s.ready + s.unacked == 0 && s.consumers == 1).await;
}
