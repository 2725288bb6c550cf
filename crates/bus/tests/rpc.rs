//! Request/reply over command queues (`request` / `serve`).

mod common;

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{wait_stats, within};
use nexpay_bus::{
    handler_fn, Bus, BusError, ConsumerOptions, Envelope, HandlerError, InProcessBus,
};
use serde_json::json;

const QUEUE: &str = "payments.commands";
const SHORT: Duration = Duration::from_millis(100);

fn command(n: u64) -> Envelope {
    Envelope::new("payments.create_session", "req-rpc", json!({ "n": n }))
}

#[tokio::test]
async fn request_returns_the_handlers_value() {
    let bus = InProcessBus::new();
    let h = handler_fn(|msg: Envelope| async move {
        Ok(
            json!({ "doubled": msg.payload["n"].as_u64().unwrap_or(0) * 2, "corr": msg.correlation_id }),
        )
    });
    let server = bus
        .serve(QUEUE, h, ConsumerOptions::default())
        .await
        .expect("serve");
    let reply = within(
        "reply",
        bus.request(QUEUE, command(21), Duration::from_secs(5)),
    )
    .await;
    assert_eq!(
        reply.expect("ok"),
        json!({ "doubled": 42, "corr": "req-rpc" })
    );
    assert_eq!(bus.queue_depth(QUEUE).await.expect("depth"), 0);
    within("shutdown", server.shutdown()).await;
}

#[tokio::test]
async fn rejections_travel_back_without_retry_or_dead_letter() {
    let bus = InProcessBus::new();
    let calls = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&calls);
    let h = handler_fn(move |_msg: Envelope| {
        counter.fetch_add(1, Ordering::SeqCst);
        async move {
            Err(HandlerError::Rejected {
                status: 404,
                code: "not_found".into(),
                message: "no such session".into(),
                details: json!({ "session": "s1" }),
            })
        }
    });
    let _server = bus
        .serve(QUEUE, h, ConsumerOptions::default())
        .await
        .expect("serve");
    let err = within(
        "reply",
        bus.request(QUEUE, command(1), Duration::from_secs(5)),
    )
    .await;
    match err {
        Err(BusError::Handler(HandlerError::Rejected {
            status,
            code,
            details,
            ..
        })) => {
            assert_eq!((status, code.as_str()), (404, "not_found"));
            assert_eq!(details, json!({ "session": "s1" }));
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(bus.dead_letters(QUEUE).await.expect("dlq").is_empty());
    assert_eq!(bus.queue_depth(QUEUE).await.expect("depth"), 0);
}

#[tokio::test]
async fn retryable_errors_are_retried_transparently_and_permanent_ones_returned() {
    let bus = InProcessBus::new();
    let calls = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&calls);
    let h = handler_fn(move |msg: Envelope| {
        let attempt = counter.fetch_add(1, Ordering::SeqCst) + 1;
        async move {
            match msg.payload["n"].as_u64() {
                Some(0) => Err(HandlerError::Permanent("corrupt".into())),
                _ if attempt < 3 => Err(HandlerError::Retryable("flaky".into())),
                _ => Ok(json!(attempt)),
            }
        }
    });
    let _server = bus
        .serve(QUEUE, h, ConsumerOptions::default())
        .await
        .expect("serve");
    let ok = within(
        "retried",
        bus.request(QUEUE, command(1), Duration::from_secs(5)),
    )
    .await;
    assert_eq!(ok.expect("third attempt succeeds"), json!(3));

    let bad = command(0);
    let err = within(
        "permanent",
        bus.request(QUEUE, bad.clone(), Duration::from_secs(5)),
    )
    .await;
    assert!(
        matches!(err, Err(BusError::Handler(HandlerError::Permanent(_)))),
        "{err:?}"
    );
    assert_eq!(bus.dead_letters(QUEUE).await.expect("dlq"), vec![bad]);
}

#[tokio::test]
async fn a_request_nobody_answers_times_out() {
    let bus = InProcessBus::new();
    // A server that never answers.
    let h = handler_fn(|_msg: Envelope| std::future::pending());
    let _server = bus
        .serve(QUEUE, h, ConsumerOptions::default())
        .await
        .expect("serve");
    let res = within("deadline", bus.request(QUEUE, command(1), SHORT)).await;
    assert!(matches!(res, Err(BusError::Timeout)), "{res:?}");

    // A declared queue without any server: the request waits, then expires
    // (and is not served late).
    let idle = InProcessBus::new();
    let server = idle.serve(
        "idle",
        handler_fn(|_m: Envelope| async { Ok(json!(1)) }),
        ConsumerOptions::default(),
    );
    within("shutdown", server.await.expect("serve").shutdown()).await;
    let res = within("deadline", idle.request("idle", command(2), SHORT)).await;
    assert!(matches!(res, Err(BusError::Timeout)), "{res:?}");
    assert_eq!(
        idle.queue_depth("idle").await.expect("depth"),
        0,
        "expired request discarded"
    );
}

#[tokio::test]
async fn a_request_to_an_undeclared_queue_fails_fast() {
    let bus = InProcessBus::new();
    let res = bus
        .request("nobody.home", command(1), Duration::from_secs(5))
        .await;
    assert!(
        matches!(res, Err(BusError::NoHandler(ref q)) if q == "nobody.home"),
        "{res:?}"
    );
}

/// Panics on the first call overall, answers with `name` afterwards.
fn panics_once(
    name: &'static str,
    tripped: Arc<AtomicBool>,
    calls: Arc<AtomicU32>,
) -> Arc<dyn nexpay_bus::Handler> {
    handler_fn(move |_msg: Envelope| {
        calls.fetch_add(1, Ordering::SeqCst);
        let first = !tripped.swap(true, Ordering::SeqCst);
        async move {
            if first {
                panic!("server {name} crashed");
            }
            Ok(json!(name))
        }
    })
}

// Real threads, so the replicas actually race.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_panicking_server_has_its_request_redelivered_to_another() {
    let bus = InProcessBus::new();
    let tripped = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicU32::new(0));
    let a = panics_once("a", Arc::clone(&tripped), Arc::clone(&calls));
    let b = panics_once("b", Arc::clone(&tripped), Arc::clone(&calls));
    let _a = bus
        .serve(QUEUE, a, ConsumerOptions::default())
        .await
        .expect("serve a");
    let _b = bus
        .serve(QUEUE, b, ConsumerOptions::default())
        .await
        .expect("serve b");

    let reply = within(
        "reply",
        bus.request(QUEUE, command(1), Duration::from_secs(5)),
    )
    .await;
    let answered_by = reply.expect("answered by the surviving server");
    assert!(answered_by == json!("a") || answered_by == json!("b"));
    assert_eq!(calls.load(Ordering::SeqCst), 2, "one crash, one answer");
    wait_stats(&bus, QUEUE, |s| s.ready + s.unacked == 0).await;
}

#[tokio::test]
async fn with_a_single_panicking_server_the_caller_times_out() {
    let bus = InProcessBus::new();
    let calls = Arc::new(AtomicU32::new(0));
    let h = panics_once("only", Arc::new(AtomicBool::new(false)), Arc::clone(&calls));
    let _server = bus
        .serve(QUEUE, h, ConsumerOptions::default())
        .await
        .expect("serve");
    let res = within("deadline", bus.request(QUEUE, command(1), SHORT)).await;
    assert!(matches!(res, Err(BusError::Timeout)), "{res:?}");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "not retried on the crashed server"
    );
    assert_eq!(bus.queue_depth(QUEUE).await.expect("depth"), 0);
}
