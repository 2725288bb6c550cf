//! The broker drops the connections: the bus reconnects with backoff,
//! re-declares its topology, re-registers consumers and the reply queue.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{ctl_async, event, eventually, opts, within, Vhost, DEADLINE};
use nexpay_bus::{handler_fn, Bus, BusError, ConsumerOptions, Envelope};
use serde_json::json;
use tokio::sync::mpsc;

const QUEUE: &str = "payments.commands";

fn command(n: u64) -> Envelope {
    Envelope::new("payments.create_session", "req-rpc", json!({ "n": n }))
}

async fn echo_server(bus: &nexpay_bus_rabbitmq::RabbitBus) -> nexpay_bus::ConsumerHandle {
    let h = handler_fn(|msg: Envelope| async move { Ok(msg.payload) });
    bus.serve(QUEUE, h, ConsumerOptions::default())
        .await
        .expect("serve")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs RabbitMQ at 127.0.0.1:5672 and rabbitmqctl; run with -- --ignored"]
async fn after_the_broker_drops_all_connections_everything_resumes() {
    let vhost = Vhost::new().await;
    let bus = vhost.bus("payments").await;
    assert_eq!(bus.connection_generation(), 1);
    let _server = echo_server(&bus).await;

    // The first delivery of n=1 hangs (the connection drops under it); it
    // must be redelivered after the reconnection and handled then.
    let (tx, mut rx) = mpsc::unbounded_channel();
    let calls = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&calls);
    let h = handler_fn(move |msg: Envelope| {
        let first = counter.fetch_add(1, Ordering::SeqCst) == 0;
        let tx = tx.clone();
        async move {
            if first {
                std::future::pending::<()>().await;
            }
            let _ = tx.send(msg.payload["n"].as_u64().unwrap_or(0));
            Ok(json!(null))
        }
    });
    let _consumer = bus
        .consume("ledger", &["payment.*"], h, opts(1, 5, 1))
        .await
        .expect("consume");
    bus.publish(event("payment.succeeded", 1))
        .await
        .expect("published");
    eventually("first delivery", || async {
        calls.load(Ordering::SeqCst) == 1
    })
    .await;

    vhost.close_all_connections().await;
    eventually("reconnected", || async { bus.connection_generation() >= 2 }).await;
    bus.health().await.expect("healthy again");

    assert_eq!(within("redelivered", rx.recv()).await, Some(1));
    bus.publish(event("payment.succeeded", 2))
        .await
        .expect("published after reconnect");
    assert_eq!(within("consumer resumed", rx.recv()).await, Some(2));
    let reply = within(
        "request",
        bus.request(QUEUE, command(3), Duration::from_secs(5)),
    )
    .await;
    assert_eq!(
        reply.expect("server and reply queue resumed"),
        json!({ "n": 3 })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs RabbitMQ at 127.0.0.1:5672 and rabbitmqctl; run with -- --ignored"]
async fn during_an_outage_operations_fail_fast_and_succeed_afterwards() {
    let vhost = Vhost::new().await;
    let bus = vhost.bus("payments").await;
    let caller = vhost.bus("gateway").await;
    let _server = echo_server(&bus).await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let h = handler_fn(move |msg: Envelope| {
        let _ = tx.send(msg.payload["n"].as_u64().unwrap_or(0));
        async { Ok(json!(null)) }
    });
    let _consumer = bus
        .consume("ledger", &["payment.*"], h, opts(10, 5, 1))
        .await
        .expect("consume");

    // The broker refuses the reconnections until access is granted again.
    vhost.revoke().await;
    vhost.close_all_connections().await;
    eventually("outage noticed", || async {
        bus.health().await.is_err() && caller.health().await.is_err()
    })
    .await;
    assert!(!bus.is_connected());

    let started = Instant::now();
    let res = caller.publish(event("payment.succeeded", 1)).await;
    assert!(matches!(res, Err(BusError::Unavailable(_))), "{res:?}");
    let res = caller
        .request(QUEUE, command(1), Duration::from_secs(5))
        .await;
    assert!(matches!(res, Err(BusError::Unavailable(_))), "{res:?}");
    let res = bus.queue_depth("ledger").await;
    assert!(matches!(res, Err(BusError::Unavailable(_))), "{res:?}");
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "fast: {:?}",
        started.elapsed()
    );

    vhost.grant().await;
    assert!(caller.wait_connected(DEADLINE).await, "caller reconnected");
    assert!(bus.wait_connected(DEADLINE).await, "server reconnected");
    caller
        .publish(event("payment.succeeded", 2))
        .await
        .expect("published");
    assert_eq!(within("consumer resumed", rx.recv()).await, Some(2));
    // The server's consumer may still be re-attaching: retry on NoHandler
    // is not needed since its queue is durable, the request just waits.
    let reply = within(
        "request",
        caller.request(QUEUE, command(3), Duration::from_secs(10)),
    )
    .await;
    assert_eq!(reply.expect("answered"), json!({ "n": 3 }));
}

#[tokio::test]
#[ignore = "needs RabbitMQ at 127.0.0.1:5672 and rabbitmqctl; run with -- --ignored"]
async fn a_request_in_flight_when_the_connection_drops_fails_at_once() {
    let vhost = Vhost::new().await;
    let server_bus = vhost.bus("payments").await;
    let h = handler_fn(|_m: Envelope| std::future::pending());
    let _server = server_bus
        .serve(QUEUE, h, ConsumerOptions::default())
        .await
        .expect("serve");
    let caller = vhost.bus("gateway").await;
    let pending = tokio::spawn({
        let caller = caller.clone();
        async move {
            caller
                .request(QUEUE, command(1), Duration::from_secs(30))
                .await
        }
    });
    eventually("request delivered", || async {
        caller.queue_depth(QUEUE).await.is_ok_and(|d| d == 0)
    })
    .await;
    vhost.close_all_connections().await;
    let res = within("failed request", pending).await.expect("no panic");
    assert!(matches!(res, Err(BusError::Unavailable(_))), "{res:?}");
}

/// A plain lapin channel on the vhost, to break the topology behind the
/// bus's back.
async fn admin(vhost: &Vhost) -> (lapin::Connection, lapin::Channel) {
    let conn = lapin::Connection::connect(&vhost.url(), lapin::ConnectionProperties::default())
        .await
        .expect("admin connection");
    let channel = conn.create_channel().await.expect("admin channel");
    (conn, channel)
}

async fn bound(vhost: &Vhost, line: &str) -> bool {
    let out = ctl_async(&[
        "list_bindings",
        "-p",
        &vhost.name,
        "--no-table-headers",
        "source_name",
        "destination_name",
        "routing_key",
    ])
    .await;
    out.lines()
        .any(|l| l.split('\t').collect::<Vec<_>>().join("|") == line)
}

fn recorder(tx: mpsc::UnboundedSender<u64>) -> std::sync::Arc<dyn nexpay_bus::Handler> {
    handler_fn(move |msg: Envelope| {
        let _ = tx.send(msg.payload["n"].as_u64().unwrap_or(0));
        async { Ok(json!(null)) }
    })
}

#[tokio::test]
#[ignore = "needs RabbitMQ at 127.0.0.1:5672 and rabbitmqctl; run with -- --ignored"]
async fn the_topology_is_redeclared_after_a_reconnection() {
    let vhost = Vhost::new().await;
    let bus = vhost.bus("ledger").await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let _c = bus
        .consume("ledger", &["payment.*"], recorder(tx), opts(10, 5, 1))
        .await
        .expect("consume");
    let (_conn, channel) = admin(&vhost).await;
    channel
        .exchange_delete("nexpay.events".into(), Default::default())
        .await
        .expect("exchange deleted");
    assert!(!bound(&vhost, "nexpay.events|ledger|payment.*").await);

    vhost.close_all_connections().await;
    eventually("reconnected", || async { bus.connection_generation() >= 2 }).await;
    eventually("binding re-declared", || {
        bound(&vhost, "nexpay.events|ledger|payment.*")
    })
    .await;
    bus.publish(event("payment.succeeded", 5))
        .await
        .expect("exchange exists again");
    assert_eq!(within("consumed", rx.recv()).await, Some(5));
}

#[tokio::test]
#[ignore = "needs RabbitMQ at 127.0.0.1:5672 and rabbitmqctl; run with -- --ignored"]
async fn a_consumer_whose_queue_is_deleted_redeclares_it() {
    let vhost = Vhost::new().await;
    let bus = vhost.bus("ledger").await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let _c = bus
        .consume("ledger", &["payment.*"], recorder(tx), opts(10, 5, 1))
        .await
        .expect("consume");
    let (_conn, channel) = admin(&vhost).await;
    channel
        .queue_delete("ledger".into(), Default::default())
        .await
        .expect("queue deleted");
    // The broker cancels the consumer; it re-attaches on the same connection.
    eventually("queue re-declared", || {
        bound(&vhost, "nexpay.events|ledger|payment.*")
    })
    .await;
    bus.publish(event("payment.succeeded", 6))
        .await
        .expect("published");
    assert_eq!(within("consumed", rx.recv()).await, Some(6));
    assert_eq!(bus.connection_generation(), 1, "no reconnection needed");
}
