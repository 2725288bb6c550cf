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

contract!(failure_records_follow_the_attempts_in_order);
/// Several attempts of one endpoint in one batch leave its `failing_since` as the same
/// attempts recorded one by one would.
async fn failure_records_follow_the_attempts_in_order(ctx: Ctx) -> TestResult {
    use chrono::Timelike;
    let s = &ctx.store;
    let project = seed_project(s).await?;
    let base = now().with_nanosecond(0).expect("a whole second") - Duration::hours(1);
    let t = |minutes: i64| base + Duration::minutes(minutes);
    // (attempts as (delivered, minute), failing since before the batch, after it)
    type Case = (Vec<(bool, i64)>, Option<i64>, Option<i64>);
    let cases: Vec<Case> = vec![
        // A success, then a failure: failing since that failure.
        (vec![(true, 2), (false, 3)], Some(0), Some(3)),
        // A failure while already failing: the first failure stays.
        (vec![(false, 4)], Some(0), Some(0)),
        // A failure, then a success: not failing.
        (vec![(false, 5), (true, 6)], None, None),
        // Two failures: since the first.
        (vec![(false, 7), (false, 8)], None, Some(7)),
    ];
    let mut endpoints = Vec::new();
    let mut records = Vec::new();
    for (attempts, before, _) in &cases {
        let e = endpoint(&project.id);
        s.insert_webhook_endpoint(&e).await?;
        // The failure record before the batch, from an attempt recorded alone.
        let mut rows: Vec<WebhookDeliveryRow> = (0..attempts.len() + 1)
            .map(|i| {
                WebhookDeliveryRow::due(
                    uid("whd"),
                    &e,
                    uid("evt"),
                    "payment.succeeded",
                    format!("{}-{i}", e.id),
                    "{}".into(),
                    base,
                )
            })
            .collect();
        assert_eq!(s.insert_webhook_deliveries(&rows).await?, rows.len());
        let claimed = s.claim_webhook_deliveries(10, Duration::minutes(1)).await?;
        rows = rows
            .iter()
            .map(|r| {
                claimed
                    .iter()
                    .find(|c| c.id == r.id)
                    .expect("claimed")
                    .clone()
            })
            .collect();
        if let Some(minute) = before {
            let mut a = attempt(&rows[0], 500);
            a.attempted_at = t(*minute);
            assert!(
                s.record_webhook_attempt(&a, rows[0].locked_until, &AttemptOutcome::GaveUp, None)
                    .await?
            );
        }
        for (row, (delivered, minute)) in rows[1..].iter().zip(attempts) {
            let mut a = attempt(row, if *delivered { 200 } else { 500 });
            a.attempted_at = t(*minute);
            records.push(AttemptRecord {
                attempt: a,
                claimed_until: row.locked_until,
                outcome: if *delivered {
                    AttemptOutcome::Delivered
                } else {
                    AttemptOutcome::GaveUp
                },
                shutdown: None,
            });
        }
        endpoints.push(e);
    }
    let written = s.record_webhook_attempts(&records).await?;
    assert!(written.iter().all(|w| *w), "{written:?}");
    for (e, (_, _, after)) in endpoints.iter().zip(&cases) {
        let now_failing = s
            .get_webhook_endpoint(&e.id)
            .await?
            .expect("endpoint")
            .failing_since;
        assert_eq!(now_failing, after.map(t), "endpoint {}", e.id);
    }
    Ok(())
}
