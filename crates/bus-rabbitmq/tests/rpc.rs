//! Request/reply over command queues (`request` / `serve`).

mod common;

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{wait_dead, wait_depth, within, Vhost};
use nexpay_bus::{handler_fn, Bus, BusError, ConsumerOptions, Envelope, Handler, HandlerError};
use serde_json::json;

const QUEUE: &str = "payments.commands";
const SHORT: Duration = Duration::from_millis(300);
const LONG: Duration = Duration::from_secs(5);

fn command(n: u64) -> Envelope {
    Envelope::new("payments.create_session", "req-rpc", json!({ "n": n }))
}

#[tokio::test]
#[ignore = "needs RabbitMQ at 127.0.0.1:5672 and rabbitmqctl; run with -- --ignored"]
async fn request_returns_the_handlers_value() {
    let vhost = Vhost::new().await;
    let bus = vhost.bus("payments").await;
    let h = handler_fn(|msg: Envelope| async move {
        let n = msg.payload["n"].as_u64().unwrap_or(0);
        Ok(json!({ "doubled": n * 2, "corr": msg.correlation_id }))
    });
    let server = bus
        .serve(QUEUE, h, ConsumerOptions::default())
        .await
        .expect("serve");
    // The caller is another process.
    let caller = vhost.bus("gateway").await;
    let reply = within("reply", caller.request(QUEUE, command(21), LONG)).await;
    assert_eq!(
        reply.expect("ok"),
        json!({ "doubled": 42, "corr": "req-rpc" })
    );
    assert_eq!(caller.queue_depth(QUEUE).await.expect("depth"), 0);

    // Many requests in flight at once are each answered correctly.
    let replies = (0..50).map(|n| caller.request(QUEUE, command(n), LONG));
    let replies = within("50 replies", futures::future::join_all(replies)).await;
    for (n, reply) in replies.into_iter().enumerate() {
        assert_eq!(reply.expect("ok")["doubled"], json!(n * 2));
    }
    within("shutdown", server.shutdown()).await;
}

#[tokio::test]
#[ignore = "needs RabbitMQ at 127.0.0.1:5672 and rabbitmqctl; run with -- --ignored"]
async fn rejections_travel_back_without_retry_or_dead_letter() {
    let vhost = Vhost::new().await;
    let bus = vhost.bus("payments").await;
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
    let err = within("reply", bus.request(QUEUE, command(1), LONG)).await;
    match err {
        Err(BusError::Handler(HandlerError::Rejected {
            status,
            code,
            message,
            details,
        })) => {
            assert_eq!((status, code.as_str()), (404, "not_found"));
            assert_eq!(message, "no such session");
            assert_eq!(details, json!({ "session": "s1" }));
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(bus.dead_letters(QUEUE).await.expect("dlq").is_empty());
    assert_eq!(bus.queue_depth(QUEUE).await.expect("depth"), 0);
}

#[tokio::test]
#[ignore = "needs RabbitMQ at 127.0.0.1:5672 and rabbitmqctl; run with -- --ignored"]
async fn retryable_errors_are_retried_transparently_and_permanent_ones_returned() {
    let vhost = Vhost::new().await;
    let bus = vhost.bus("payments").await;
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
    let ok = within("retried", bus.request(QUEUE, command(1), LONG)).await;
    assert_eq!(ok.expect("third attempt succeeds"), json!(3));

    let bad = command(0);
    let err = within("permanent", bus.request(QUEUE, bad.clone(), LONG)).await;
    assert!(
        matches!(err, Err(BusError::Handler(HandlerError::Permanent(_)))),
        "{err:?}"
    );
    assert_eq!(wait_dead(&bus, QUEUE, 1).await, vec![bad]);
}

#[tokio::test]
#[ignore = "needs RabbitMQ at 127.0.0.1:5672 and rabbitmqctl; run with -- --ignored"]
async fn a_request_nobody_answers_times_out() {
    let vhost = Vhost::new().await;
    let bus = vhost.bus("payments").await;
    // A server that never answers.
    let h = handler_fn(|_msg: Envelope| std::future::pending());
    let _server = bus
        .serve(QUEUE, h, ConsumerOptions::default())
        .await
        .expect("serve");
    let res = within("deadline", bus.request(QUEUE, command(1), SHORT)).await;
    assert!(matches!(res, Err(BusError::Timeout)), "{res:?}");

    // A declared queue without any server: the request waits, then expires
    // (RabbitMQ discards it) and is not served late.
    let calls = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&calls);
    let answer = handler_fn(move |_m: Envelope| {
        counter.fetch_add(1, Ordering::SeqCst);
        async { Ok(json!(1)) }
    });
    let server = bus.serve("idle", Arc::clone(&answer), ConsumerOptions::default());
    within("shutdown", server.await.expect("serve").shutdown()).await;
    let res = within("deadline", bus.request("idle", command(2), SHORT)).await;
    assert!(matches!(res, Err(BusError::Timeout)), "{res:?}");
    wait_depth(&bus, "idle", |d| d == 0).await;
    assert!(bus.dead_letters("idle").await.expect("dlq").is_empty());
    let _late = bus
        .serve("idle", answer, ConsumerOptions::default())
        .await
        .expect("serve");
    let ok = within("a fresh request", bus.request("idle", command(3), LONG)).await;
    assert_eq!(ok.expect("answered"), json!(1));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "the expired request was not served"
    );
}

#[tokio::test]
#[ignore = "needs RabbitMQ at 127.0.0.1:5672 and rabbitmqctl; run with -- --ignored"]
async fn a_request_to_an_undeclared_queue_fails_fast() {
    let vhost = Vhost::new().await;
    let bus = vhost.bus("payments").await;
    let res = within("no handler", bus.request("nobody.home", command(1), LONG)).await;
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
) -> Arc<dyn Handler> {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs RabbitMQ at 127.0.0.1:5672 and rabbitmqctl; run with -- --ignored"]
async fn a_panicking_servers_request_is_retried() {
    let vhost = Vhost::new().await;
    let (pa, pb) = (vhost.bus("payments-a").await, vhost.bus("payments-b").await);
    let tripped = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicU32::new(0));
    let a = panics_once("a", Arc::clone(&tripped), Arc::clone(&calls));
    let b = panics_once("b", Arc::clone(&tripped), Arc::clone(&calls));
    let _a = pa
        .serve(QUEUE, a, ConsumerOptions::default())
        .await
        .expect("serve a");
    let _b = pb
        .serve(QUEUE, b, ConsumerOptions::default())
        .await
        .expect("serve b");

    let reply = within("reply", pa.request(QUEUE, command(1), LONG)).await;
    let answered_by = reply.expect("answered after the retry");
    assert!(answered_by == json!("a") || answered_by == json!("b"));
    assert_eq!(calls.load(Ordering::SeqCst), 2, "one crash, one answer");
    wait_depth(&pa, QUEUE, |d| d == 0).await;
}

#[tokio::test]
#[ignore = "needs RabbitMQ at 127.0.0.1:5672 and rabbitmqctl; run with -- --ignored"]
async fn a_request_whose_caller_gives_up_before_the_retry_is_not_retried() {
    let vhost = Vhost::new().await;
    let bus = vhost.bus("payments").await;
    let calls = Arc::new(AtomicU32::new(0));
    let h = panics_once("only", Arc::new(AtomicBool::new(false)), Arc::clone(&calls));
    let _server = bus
        .serve(QUEUE, h, ConsumerOptions::default())
        .await
        .expect("serve");
    // The deadline (50 ms) is shorter than the retry delay (100 ms).
    let res = within(
        "deadline",
        bus.request(QUEUE, command(1), Duration::from_millis(50)),
    )
    .await;
    assert!(matches!(res, Err(BusError::Timeout)), "{res:?}");
    wait_depth(&bus, QUEUE, |d| d == 0).await;
    assert_eq!(calls.load(Ordering::SeqCst), 1, "not retried");
    assert!(bus.dead_letters(QUEUE).await.expect("dlq").is_empty());
}
