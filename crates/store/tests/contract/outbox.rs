//! The relay's side of the outbox: leases, publication, disjoint concurrent claims.

use std::collections::BTreeSet;

use chrono::{Duration, NaiveDateTime};
use nexpay_store::{now, OutboxRow, Store};

use crate::fixtures::{event, uid};
use crate::support::{Ctx, TestResult};

/// Writes `n` events one second apart (oldest first) and returns their ids in order.
async fn seed_events(
    store: &Store,
    n: i64,
) -> Result<(Vec<String>, NaiveDateTime), nexpay_store::StoreError> {
    let base = now() - Duration::hours(1);
    let aggregate = uid("pay");
    let mut ids = Vec::new();
    // Inserted newest first so that order can only come from created_at.
    for i in (0..n).rev() {
        let ev = event("payment.updated", &aggregate);
        ids.push(ev.id.clone());
        store
            .apply_changes(&[], &[], &[ev], base + Duration::seconds(i))
            .await?;
    }
    ids.reverse();
    Ok((ids, base))
}

fn ids(rows: &[OutboxRow]) -> Vec<String> {
    rows.iter().map(|r| r.id.clone()).collect()
}

contract!(claims_lease_oldest_first);
async fn claims_lease_oldest_first(ctx: Ctx) -> TestResult {
    let s = &ctx.store;
    assert_eq!(
        s.claim_outbox_batch(10, Duration::minutes(1)).await?,
        vec![]
    );
    assert_eq!(s.outbox_backlog().await?, (0, None));
    let (all, base) = seed_events(s, 5).await?;
    assert_eq!(s.outbox_backlog().await?, (5, Some(base)));

    let before = now();
    let first = s.claim_outbox_batch(2, Duration::minutes(1)).await?;
    assert_eq!(ids(&first), all[..2].to_vec(), "oldest first");
    for row in &first {
        assert_eq!(row.attempts, 1);
        assert!(
            row.locked_until.is_some_and(|t| t > before),
            "leased into the future"
        );
        assert_eq!(row.published_at, None);
    }
    let second = s.claim_outbox_batch(10, Duration::minutes(1)).await?;
    assert_eq!(ids(&second), all[2..].to_vec(), "only the rows not leased");
    assert!(
        s.claim_outbox_batch(10, Duration::minutes(1))
            .await?
            .is_empty(),
        "all leased"
    );
    assert_eq!(
        s.outbox_backlog().await?,
        (5, Some(base)),
        "leased is not published"
    );

    s.mark_outbox_published(&ids(&first)).await?;
    s.mark_outbox_published(&[]).await?;
    assert_eq!(
        s.outbox_backlog().await?,
        (3, Some(base + Duration::seconds(2)))
    );
    let published = s.list_outbox(&first[0].aggregate_id).await?;
    assert!(published[..2]
        .iter()
        .all(|r| r.published_at.is_some() && r.locked_until.is_none()));
    assert!(published[2..].iter().all(|r| r.published_at.is_none()));
    Ok(())
}

contract!(expired_lease_is_claimable_again);
async fn expired_lease_is_claimable_again(ctx: Ctx) -> TestResult {
    let s = &ctx.store;
    let (all, _) = seed_events(s, 4).await?;
    let lapsed = Duration::seconds(-1);

    let first = s.claim_outbox_batch(10, lapsed).await?;
    assert_eq!(ids(&first), all);
    let again = s.claim_outbox_batch(10, lapsed).await?;
    assert_eq!(ids(&again), all, "a relay that died only delays its rows");
    assert!(again.iter().all(|r| r.attempts == 2), "attempts counted");

    s.mark_outbox_published(&all[..3]).await?;
    let rest = s.claim_outbox_batch(10, lapsed).await?;
    assert_eq!(
        ids(&rest),
        all[3..].to_vec(),
        "published rows never come back"
    );
    assert_eq!(rest[0].attempts, 3);
    s.mark_outbox_published(&all[3..]).await?;
    assert!(s.claim_outbox_batch(10, lapsed).await?.is_empty());
    assert_eq!(s.outbox_backlog().await?, (0, None));
    Ok(())
}

contract!(concurrent_claimers_are_disjoint);
async fn concurrent_claimers_are_disjoint(ctx: Ctx) -> TestResult {
    let (all, _) = seed_events(&ctx.store, 20).await?;
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let store = ctx.store.clone();
            tokio::spawn(async move { store.claim_outbox_batch(5, Duration::minutes(1)).await })
        })
        .collect();
    let mut seen = BTreeSet::new();
    let mut total = 0;
    for task in futures::future::join_all(tasks).await {
        let batch = task??;
        assert_eq!(batch.len(), 5, "each claimer gets a full batch");
        total += batch.len();
        seen.extend(ids(&batch));
    }
    assert_eq!(total, seen.len(), "no row claimed twice");
    assert_eq!(
        seen,
        all.into_iter().collect::<BTreeSet<_>>(),
        "the union is everything"
    );
    assert!(ctx
        .store
        .claim_outbox_batch(100, Duration::minutes(1))
        .await?
        .is_empty());
    Ok(())
}
