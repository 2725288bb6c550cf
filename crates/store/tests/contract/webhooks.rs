//! The dispatcher's side of merchant webhooks: attempts recorded in batches, each
//! conditional on the lease its dispatcher holds.

use chrono::Duration;
use nexpay_store::{
    now, AttemptOutcome, AttemptRecord, WebhookAttemptRow, WebhookDeliveryRow, WebhookEndpointRow,
    DELIVERY_FAILED, DELIVERY_PENDING, DELIVERY_SUCCEEDED,
};

use crate::fixtures::{seed_project, uid};
use crate::support::{Ctx, TestResult};

fn endpoint(project_id: &str) -> WebhookEndpointRow {
    WebhookEndpointRow::new(
        uid("whe"),
        project_id,
        "test",
        "https://shop.example/hook",
        "sealed".into(),
        "abcd".into(),
        now(),
    )
}

fn attempt(delivery: &WebhookDeliveryRow, status: i32) -> WebhookAttemptRow {
    WebhookAttemptRow {
        id: uid("wha"),
        delivery_id: delivery.id.clone(),
        number: 1,
        attempted_at: now(),
        duration_ms: 12,
        status_code: Some(status),
        response_snippet: None,
        error: (status >= 300).then(|| format!("HTTP {status}")),
        next_attempt_at: None,
    }
}

contract!(attempts_are_recorded_in_batches);
async fn attempts_are_recorded_in_batches(ctx: Ctx) -> TestResult {
    let s = &ctx.store;
    let project = seed_project(s).await?;
    let ok = endpoint(&project.id);
    let failing = endpoint(&project.id);
    s.insert_webhook_endpoint(&ok).await?;
    s.insert_webhook_endpoint(&failing).await?;
    let at = now() - Duration::seconds(5);
    let rows: Vec<WebhookDeliveryRow> = (0..4)
        .map(|i| {
            let e = if i < 3 { &ok } else { &failing };
            WebhookDeliveryRow::due(
                uid("whd"),
                e,
                uid("evt"),
                "payment.succeeded",
                format!("REF{i}"),
                "{}".into(),
                at,
            )
        })
        .collect();
    assert_eq!(s.insert_webhook_deliveries(&rows).await?, 4);
    let mut claimed = s.claim_webhook_deliveries(10, Duration::minutes(1)).await?;
    claimed.sort_by_key(|d| d.aggregate_id.clone());
    assert_eq!(claimed.len(), 4);

    let retry_at = now() + Duration::minutes(5);
    let record = |i: usize, status: i32, outcome: AttemptOutcome, lease: Duration| {
        let d: &WebhookDeliveryRow = &claimed[i];
        AttemptRecord {
            attempt: attempt(d, status),
            claimed_until: d.locked_until.map(|t| t - lease),
            outcome,
            shutdown: None,
        }
    };
    let held = Duration::zero();
    let records = vec![
        record(0, 200, AttemptOutcome::Delivered, held),
        // Under a lease this dispatcher no longer holds: not written.
        record(1, 200, AttemptOutcome::Delivered, Duration::seconds(1)),
        record(2, 410, AttemptOutcome::GaveUp, held),
        // Failed, tried again later: the endpoint starts failing.
        record(3, 500, AttemptOutcome::Retry(retry_at), held),
    ];
    assert_eq!(
        s.record_webhook_attempts(&records).await?,
        vec![true, false, true, true]
    );
    let state = |i: usize| {
        let id = claimed[i].id.clone();
        async move { s.get_webhook_delivery(&id).await }
    };
    let d0 = state(0).await?.expect("delivery 0");
    assert_eq!(d0.status, DELIVERY_SUCCEEDED);
    assert_eq!((d0.attempts, d0.locked_until), (1, None));
    assert!(d0.delivered_at.is_some());
    let d1 = state(1).await?.expect("delivery 1");
    assert_eq!(d1.status, DELIVERY_PENDING);
    assert_eq!(d1.attempts, 0);
    assert_eq!(d1.locked_until, claimed[1].locked_until, "left as it was");
    assert!(s.list_webhook_attempts(&claimed[1].id).await?.is_empty());
    let d2 = state(2).await?.expect("delivery 2");
    assert_eq!(
        (d2.status.as_str(), d2.last_status_code),
        (DELIVERY_FAILED, Some(410))
    );
    let d3 = state(3).await?.expect("delivery 3");
    assert_eq!(d3.status, DELIVERY_PENDING);
    assert_eq!(d3.next_attempt_at, Some(retry_at));
    assert_eq!(d3.last_error.as_deref(), Some("HTTP 500"));
    for (i, n) in [(0, 1), (2, 1), (3, 1)] {
        assert_eq!(s.list_webhook_attempts(&claimed[i].id).await?.len(), n);
    }
    let failing = s
        .get_webhook_endpoint(&failing.id)
        .await?
        .expect("endpoint");
    assert!(failing.failing_since.is_some());
    let ok = s.get_webhook_endpoint(&ok.id).await?.expect("endpoint");
    assert!(ok.failing_since.is_some(), "the 410 counts as a failure");

    // Recorded again (a duplicate message, a retried batch): nothing changes.
    assert_eq!(
        s.record_webhook_attempts(&records).await?,
        vec![false, false, false, false]
    );
    assert_eq!(s.list_webhook_attempts(&claimed[0].id).await?.len(), 1);
    assert!(s.record_webhook_attempts(&[]).await?.is_empty());
    Ok(())
}
