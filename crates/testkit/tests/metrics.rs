//! `/metrics` on the real broker: a message that keeps failing ends in its queue's
//! dead-letter queue and shows there, with the handler outcomes that sent it.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use nexpay_bus::{handler_fn, Bus, ConsumerOptions, Envelope, HandlerError};
use nexpay_bus_rabbitmq::RabbitBus;
use nexpay_runtime::{MeteredBus, Metrics};
use nexpay_testkit::rabbit::Vhost;

/// The value of the first series of `name` carrying every label in `labels`.
fn series(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(name) && labels.iter().all(|lab| l.contains(lab)))
        .find_map(|l| l.rsplit(' ').next()?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs RabbitMQ (rabbitmqctl); run with -- --ignored"]
async fn dead_letters_and_outcomes_are_visible_in_metrics() {
    let vhost = Vhost::create(format!(
        "nexpay_test_metrics_{}",
        nexpay_store::testing::unique_suffix()
    ))
    .await
    .unwrap();
    let rabbit = RabbitBus::connect(&vhost.url(), "metrics-test")
        .await
        .unwrap();
    let metrics = Metrics::new("test");
    let bus: Arc<dyn Bus> = Arc::new(MeteredBus::new(Arc::new(rabbit.clone()), metrics.clone()));
    metrics.watch_queues(bus.clone(), &["ledger"]);

    // A handler that can never succeed: retried, then dead-lettered after 2 deliveries.
    let handle = bus
        .consume(
            "ledger",
            &["payment.*"],
            handler_fn(|_msg| async {
                Err::<serde_json::Value, _>(HandlerError::Retryable("ledger is down".into()))
            }),
            ConsumerOptions {
                prefetch: 1,
                max_deliveries: 2,
                concurrency: 1,
            },
        )
        .await
        .unwrap();
    bus.publish(Envelope::new(
        "payment.succeeded",
        "corr-metrics",
        serde_json::json!({"n": 1}),
    ))
    .await
    .unwrap();

    let deadline = Instant::now() + Duration::from_secs(20);
    let text = loop {
        let text = metrics.render().await;
        if series(&text, "nexpay_queue_dead_letters", &[r#"queue="ledger""#]) == Some(1.0) {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "no dead letter in the metrics:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        series(
            &text,
            "nexpay_bus_messages_handled_total",
            &[r#"queue="ledger""#, r#"outcome="retryable""#]
        ),
        Some(2.0),
        "both deliveries counted:\n{text}"
    );
    assert_eq!(
        series(
            &text,
            "nexpay_bus_events_published_total",
            &[r#"kind="payment.succeeded""#, r#"outcome="ok""#]
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        series(&text, "nexpay_queue_depth", &[r#"queue="ledger""#]),
        Some(0.0),
        "{text}"
    );
    handle.shutdown().await;
    rabbit.close().await;
}
