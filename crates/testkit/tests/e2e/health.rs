//! Liveness and readiness probes.

use crate::support::*;
use serde_json::json;

e2e!(health_probes, |app| {
    let live = get(app, "/health/live", None).await;
    assert_eq!(live.status, 200, "{}", live.text);
    assert_eq!(live.json["status"], json!("ok"));
    assert!(live.header("x-request-id").is_some());
    let ready = get(app, "/health/ready", None).await;
    assert_eq!(ready.status, 200, "{}", ready.text);
    assert_eq!(ready.json["status"], json!("ok"));
    assert_eq!(ready.json["database"], json!("ok"));
    assert!(ready.header("x-request-id").is_some());

    // Distributed: every replica of every service is ready (its database, broker and
    // cache, whichever it uses) and exposes Prometheus metrics.
    if let Some(stack) = &app.stack {
        for (service, _, replicas) in nexpay_testkit::distributed::SERVICES {
            for i in 0..*replicas {
                let base = stack.url_of(service, i).unwrap();
                let r = Resp::read(
                    app.client
                        .get(format!("{base}/health/ready"))
                        .send()
                        .await
                        .unwrap(),
                )
                .await;
                assert_eq!(r.status, 200, "{service} #{i}: {}", r.text);
                assert_eq!(r.json["status"], json!("ok"), "{service} #{i}");
                let expected: &[&str] = match *service {
                    "gateway" | "payments" => &["database", "broker", "cache"],
                    "dashboard" => &["database", "cache"],
                    "sandbox" => &[],
                    _ => &["broker"],
                };
                for dep in expected {
                    assert!(
                        r.json[dep] == json!("ok"),
                        "{service} #{i} checks its {dep}: {}",
                        r.text
                    );
                }
                let metrics = stack.metrics(service, i).await.unwrap();
                assert!(
                    metrics.contains(&format!("service=\"{service}\"")),
                    "{service} #{i} metrics: {metrics}"
                );
            }
        }
        // Queue depths and the outbox backlog are reported by the services that own them.
        let payments = stack.metrics("payments", 0).await.unwrap();
        assert!(
            payments.contains("nexpay_queue_depth{queue=\"payments.commands\""),
            "{payments}"
        );
        assert!(payments.contains("nexpay_outbox_pending"), "{payments}");
        let dispatcher = stack.metrics("webhook-dispatcher", 1).await.unwrap();
        assert!(
            dispatcher.contains("nexpay_queue_depth{queue=\"webhook-dispatcher.events\""),
            "{dispatcher}"
        );
    }
});
