//! The topology on the broker, as rabbitmqctl lists it.

mod common;

use common::{ctl_async, event, opts, Vhost};
use nexpay_bus::{handler_fn, Bus, ConsumerOptions, Envelope};
use serde_json::json;

/// Lines of a `rabbitmqctl list_*` output, columns joined by `|`.
async fn listing(vhost: &Vhost, what: &[&str]) -> Vec<String> {
    let mut args = vec![what[0], "-p", vhost.name.as_str(), "--no-table-headers"];
    args.extend_from_slice(&what[1..]);
    let out = ctl_async(&args).await;
    let mut lines: Vec<String> = out
        .lines()
        .map(|l| l.split('\t').collect::<Vec<_>>().join("|"))
        .collect();
    lines.sort();
    lines
}

#[tokio::test]
#[ignore = "needs RabbitMQ at 127.0.0.1:5672 and rabbitmqctl; run with -- --ignored"]
async fn topology_is_declared_as_documented() {
    let vhost = Vhost::new().await;
    let bus = vhost.bus("ledger").await;
    let h = handler_fn(|_m: Envelope| async { Ok(json!(null)) });
    let _events = bus
        .consume(
            "ledger",
            &["payment.*", "refund.#"],
            h.clone(),
            opts(10, 5, 1),
        )
        .await
        .expect("consume");
    let _commands = bus
        .serve("payments.commands", h, ConsumerOptions::default())
        .await
        .expect("serve");

    let exchanges = listing(&vhost, &["list_exchanges", "name", "type", "durable"]).await;
    for expected in [
        "nexpay.commands|direct|true",
        "nexpay.dlx|direct|true",
        "nexpay.events|topic|true",
    ] {
        assert!(
            exchanges.iter().any(|l| l == expected),
            "{expected} in {exchanges:#?}"
        );
    }
    let queues = listing(&vhost, &["list_queues", "name", "durable", "arguments"]).await;
    for expected in [
        // Event queue: dead-letters to nexpay.dlx.
        r#"ledger|true|[{"x-dead-letter-exchange","nexpay.dlx"},{"x-dead-letter-routing-key","ledger.dead"}]"#,
        "ledger.dead|true|[]",
        // Back to `ledger` through the default exchange after the TTL
        // (100 ms in the tests' configuration).
        r#"ledger.retry|true|[{"x-dead-letter-exchange",[]},{"x-dead-letter-routing-key","ledger"},{"x-message-ttl",100}]"#,
        // Command queue: expired requests are discarded, not dead-lettered.
        "payments.commands|true|[]",
        "payments.commands.dead|true|[]",
        r#"payments.commands.retry|true|[{"x-dead-letter-exchange",[]},{"x-dead-letter-routing-key","payments.commands"},{"x-message-ttl",100}]"#,
    ] {
        assert!(
            queues.iter().any(|l| l == expected),
            "{expected} in {queues:#?}"
        );
    }
    // The reply queue: server-named, exclusive, auto-delete.
    assert!(
        queues
            .iter()
            .any(|l| l.starts_with("amq.gen-") && l.ends_with("|false|[]")),
        "{queues:#?}"
    );

    let bindings = listing(
        &vhost,
        &[
            "list_bindings",
            "source_name",
            "destination_name",
            "routing_key",
        ],
    )
    .await;
    for expected in [
        "nexpay.commands|payments.commands|payments.commands",
        "nexpay.dlx|ledger.dead|ledger.dead",
        "nexpay.dlx|payments.commands.dead|payments.commands.dead",
        "nexpay.events|ledger|payment.*",
        "nexpay.events|ledger|refund.#",
    ] {
        assert!(
            bindings.iter().any(|l| l == expected),
            "{expected} in {bindings:#?}"
        );
    }
    assert!(
        !bindings
            .iter()
            .any(|l| l.starts_with("nexpay.") && l.contains(".retry")),
        "retry queues are only reached through the default exchange: {bindings:#?}"
    );
}

#[tokio::test]
#[ignore = "needs RabbitMQ at 127.0.0.1:5672 and rabbitmqctl; run with -- --ignored"]
async fn declaring_twice_and_from_another_process_is_idempotent() {
    let vhost = Vhost::new().await;
    let (a, b) = (vhost.bus("ledger-a").await, vhost.bus("ledger-b").await);
    let h = handler_fn(|_m: Envelope| async { Ok(json!(null)) });
    for bus in [&a, &b, &a] {
        bus.consume("ledger", &["payment.*"], h.clone(), opts(10, 5, 1))
            .await
            .expect("consume")
            .shutdown()
            .await;
    }
    let queues = listing(&vhost, &["list_queues", "name"]).await;
    let ours: Vec<&String> = queues
        .iter()
        .filter(|q| !q.starts_with("amq.gen-"))
        .collect();
    assert_eq!(ours, ["ledger", "ledger.dead", "ledger.retry"]);
}

#[tokio::test]
#[ignore = "needs RabbitMQ at 127.0.0.1:5672 and rabbitmqctl; run with -- --ignored"]
async fn a_process_with_another_retry_delay_uses_the_existing_retry_queue() {
    let vhost = Vhost::new().await;
    let first = vhost.bus("ledger-a").await;
    let other = nexpay_bus_rabbitmq::RabbitBus::connect_with(
        &vhost.url(),
        "ledger-b",
        nexpay_bus_rabbitmq::RabbitConfig {
            retry_delay: std::time::Duration::from_secs(7),
            ..common::test_config()
        },
    )
    .await
    .expect("connect");
    let h = handler_fn(|_m: Envelope| async { Ok(json!(null)) });
    let _a = first
        .consume("ledger", &["payment.*"], h.clone(), opts(10, 5, 1))
        .await
        .expect("consume");
    let _b = other
        .consume("ledger", &["payment.*"], h, opts(10, 5, 1))
        .await
        .expect("a different delay does not prevent consuming");
    let queues = listing(&vhost, &["list_queues", "name", "arguments"]).await;
    assert!(
        queues
            .iter()
            .any(|l| l.starts_with("ledger.retry|") && l.contains(r#"{"x-message-ttl",100}"#)),
        "{queues:#?}"
    );
}

#[tokio::test]
#[ignore = "needs RabbitMQ at 127.0.0.1:5672 and rabbitmqctl; run with -- --ignored"]
async fn published_messages_are_persistent() {
    let vhost = Vhost::new().await;
    let bus = vhost.bus("ledger").await;
    let h = handler_fn(|_m: Envelope| async { Ok(json!(null)) });
    let c = bus
        .consume("ledger", &["payment.*"], h, opts(10, 5, 1))
        .await
        .expect("consume");
    c.shutdown().await;
    for n in 0..3 {
        bus.publish(event("payment.succeeded", n))
            .await
            .expect("published");
    }
    let queues = listing(&vhost, &["list_queues", "name", "messages_persistent"]).await;
    assert!(queues.iter().any(|l| l == "ledger|3"), "{queues:#?}");
}
