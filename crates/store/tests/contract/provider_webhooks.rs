//! The queue of inbound provider webhooks: stored once per event, claimed with a lease
//! by one processor at a time, oldest first.

use chrono::Duration;
use nexpay_store::{now, ProviderWebhookRow, WebhookInsert};

use crate::fixtures::uid;
use crate::support::{Ctx, TestResult};

fn row(event: &str, verified: bool, received_minutes_ago: i64) -> ProviderWebhookRow {
    ProviderWebhookRow {
        id: uid("pwh"),
        provider_code: "wave".into(),
        mode: verified.then(|| "test".to_owned()),
        event_id: verified.then(|| event.to_owned()),
        event_type: Some("checkout.session.completed".into()),
        provider_id: Some(uid("cos")),
        reference: Some(uid("REF")),
        claim: None,
        verified,
        verification_error: (!verified).then(|| "unverified: bad signature".to_owned()),
        headers: "{}".into(),
        body: "{}".into(),
        received_at: now() - Duration::minutes(received_minutes_ago),
        attempts: 0,
        locked_until: None,
        processed_at: None,
        outcome: None,
    }
}

contract!(provider_webhooks_are_claimed_once_oldest_first);
async fn provider_webhooks_are_claimed_once_oldest_first(ctx: Ctx) -> TestResult {
    let s = &ctx.store;
    let oldest = row(&uid("evt"), true, 30);
    let middle = row(&uid("evt"), true, 20);
    let newest = row(&uid("evt"), true, 10);
    let unverified = row("", false, 40);
    // Stored already claimed, as the inbox does when it hands a row to its processor.
    let mut in_hand = row(&uid("evt"), true, 50);
    in_hand.locked_until = Some(now() + Duration::minutes(1));
    in_hand.attempts = 1;
    for r in [&newest, &oldest, &middle, &unverified, &in_hand] {
        assert_eq!(s.insert_provider_webhook(r).await?, WebhookInsert::Stored);
    }
    // The same event again is not stored twice.
    let mut again = oldest.clone();
    again.id = uid("pwh");
    assert_eq!(
        s.insert_provider_webhook(&again).await?,
        WebhookInsert::Duplicate {
            first_id: oldest.id.clone()
        }
    );

    let lease = Duration::minutes(1);
    let first = s.claim_provider_webhooks(2, lease).await?;
    let ids: Vec<&str> = first.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, [oldest.id.as_str(), middle.id.as_str()]);
    for r in &first {
        assert_eq!(r.attempts, 1);
        assert!(r.locked_until.is_some_and(|t| t > now()));
        let stored = s.get_provider_webhook(&r.id).await?.expect("stored");
        assert_eq!((stored.attempts, stored.locked_until), (1, r.locked_until));
    }
    let second = s.claim_provider_webhooks(10, lease).await?;
    assert_eq!(
        second.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        [newest.id.as_str()],
        "claimed rows, unverified ones and the one in hand are not claimed"
    );
    assert!(s.claim_provider_webhooks(10, lease).await?.is_empty());

    // A deferred row comes back when its time has come; a processed one never.
    s.defer_provider_webhook(&oldest.id, now() - Duration::seconds(1), "timeout")
        .await?;
    s.mark_provider_webhook_processed(&middle.id, "applied")
        .await?;
    let retried = s.claim_provider_webhooks(10, lease).await?;
    assert_eq!(retried.len(), 1);
    assert_eq!(
        (retried[0].id.as_str(), retried[0].attempts),
        (oldest.id.as_str(), 2)
    );
    Ok(())
}

contract!(concurrent_claims_take_different_rows);
/// Two processors claiming at once (two provider-adapter replicas) never get the same
/// row.
async fn concurrent_claims_take_different_rows(ctx: Ctx) -> TestResult {
    let s = &ctx.store;
    let rows: Vec<ProviderWebhookRow> = (0..40).map(|i| row(&uid("evt"), true, 60 - i)).collect();
    for r in &rows {
        s.insert_provider_webhook(r).await?;
    }
    let lease = Duration::minutes(1);
    let claims =
        futures::future::join_all((0..4).map(|_| s.claim_provider_webhooks(8, lease))).await;
    let mut seen = std::collections::HashSet::new();
    for claim in claims {
        for r in claim? {
            assert!(seen.insert(r.id.clone()), "{} claimed twice", r.id);
        }
    }
    assert_eq!(seen.len(), 32, "every claim got its full share");
    let rest = s.claim_provider_webhooks(100, lease).await?;
    assert_eq!(rest.len(), 8);
    assert!(rest.iter().all(|r| !seen.contains(&r.id)));
    assert!(s.claim_provider_webhooks(100, lease).await?.is_empty());
    Ok(())
}
