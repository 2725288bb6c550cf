//! Idempotency keys with Stripe's semantics.

use chrono::Duration;
use nexpay_store::{IdempotencyClaim, IdempotencyRecord, IdempotencyScope, Store, StoreResult};

use crate::fixtures::uid;
use crate::support::{Ctx, TestResult};

const ROUTE: &str = "POST /v1/payments";

fn ttl() -> Duration {
    Duration::hours(24)
}

fn stale() -> Duration {
    Duration::minutes(5)
}

async fn claim(
    store: &Store,
    scope: &IdempotencyScope<'_>,
    hash: &str,
) -> StoreResult<IdempotencyClaim> {
    store
        .claim_idempotency_key(scope, ROUTE, hash, ttl(), stale())
        .await
}

contract!(claim_progress_complete_mismatch);
async fn claim_progress_complete_mismatch(ctx: Ctx) -> TestResult {
    let s = &ctx.store;
    let key = uid("idem");
    let scope = IdempotencyScope {
        project_id: "prj_a",
        mode: "test",
        key: &key,
    };
    assert_eq!(claim(s, &scope, "h1").await?, IdempotencyClaim::Claimed);
    assert_eq!(claim(s, &scope, "h1").await?, IdempotencyClaim::InProgress);
    assert_eq!(
        claim(s, &scope, "h2").await?,
        IdempotencyClaim::Mismatch,
        "while started"
    );

    s.complete_idempotency_key(&scope, 201, r#"{"id":"pay_1"}"#)
        .await?;
    let record = IdempotencyRecord {
        status_code: 201,
        response_body: r#"{"id":"pay_1"}"#.to_owned(),
    };
    assert_eq!(
        claim(s, &scope, "h1").await?,
        IdempotencyClaim::Completed(record.clone())
    );
    assert_eq!(claim(s, &scope, "h2").await?, IdempotencyClaim::Mismatch);
    let other_route = s
        .claim_idempotency_key(&scope, "POST /v1/refunds", "h1", ttl(), stale())
        .await?;
    assert_eq!(other_route, IdempotencyClaim::Mismatch, "different route");

    // A completed key is neither released nor re-completed.
    s.release_idempotency_key(&scope).await?;
    s.complete_idempotency_key(&scope, 500, "overwritten")
        .await?;
    assert_eq!(
        claim(s, &scope, "h1").await?,
        IdempotencyClaim::Completed(record)
    );
    Ok(())
}

contract!(release_and_takeover);
async fn release_and_takeover(ctx: Ctx) -> TestResult {
    let s = &ctx.store;
    let key = uid("idem");
    let scope = IdempotencyScope {
        project_id: "prj_a",
        mode: "live",
        key: &key,
    };
    assert_eq!(claim(s, &scope, "h1").await?, IdempotencyClaim::Claimed);
    s.release_idempotency_key(&scope).await?;
    assert_eq!(
        claim(s, &scope, "h1").await?,
        IdempotencyClaim::Claimed,
        "released"
    );

    // The owner died: a started key older than `stale_after` can be taken over...
    let taken = s
        .claim_idempotency_key(&scope, ROUTE, "h1", ttl(), Duration::seconds(-1))
        .await?;
    assert_eq!(taken, IdempotencyClaim::Claimed);
    // ...but not with another body.
    let other = s
        .claim_idempotency_key(&scope, ROUTE, "h2", ttl(), Duration::seconds(-1))
        .await?;
    assert_eq!(other, IdempotencyClaim::Mismatch);
    // Taking over restarted the clock: a normal retry sees it in progress.
    assert_eq!(claim(s, &scope, "h1").await?, IdempotencyClaim::InProgress);
    Ok(())
}

contract!(expired_key_is_reusable);
async fn expired_key_is_reusable(ctx: Ctx) -> TestResult {
    let s = &ctx.store;
    let key = uid("idem");
    let scope = IdempotencyScope {
        project_id: "prj_a",
        mode: "test",
        key: &key,
    };
    let gone = Duration::seconds(-1);
    assert_eq!(
        s.claim_idempotency_key(&scope, ROUTE, "h1", gone, stale())
            .await?,
        IdempotencyClaim::Claimed
    );
    s.complete_idempotency_key(&scope, 200, "{}").await?;
    assert_eq!(
        claim(s, &scope, "h2").await?,
        IdempotencyClaim::Claimed,
        "expired: new body ok"
    );
    assert_eq!(
        claim(s, &scope, "h2").await?,
        IdempotencyClaim::InProgress,
        "new ttl applies"
    );
    assert_eq!(claim(s, &scope, "h1").await?, IdempotencyClaim::Mismatch);
    Ok(())
}

contract!(concurrent_claims_one_winner);
async fn concurrent_claims_one_winner(ctx: Ctx) -> TestResult {
    let key = uid("idem");
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (store, key) = (ctx.store.clone(), key.clone());
            tokio::spawn(async move {
                let scope = IdempotencyScope {
                    project_id: "prj_a",
                    mode: "test",
                    key: &key,
                };
                claim(&store, &scope, "h1").await
            })
        })
        .collect();
    let mut claims = Vec::new();
    for task in futures::future::join_all(tasks).await {
        claims.push(task??);
    }
    let won = claims
        .iter()
        .filter(|c| **c == IdempotencyClaim::Claimed)
        .count();
    let busy = claims
        .iter()
        .filter(|c| **c == IdempotencyClaim::InProgress)
        .count();
    assert_eq!((won, busy), (1, 7), "{claims:?}");
    Ok(())
}

contract!(purge_deletes_only_expired);
async fn purge_deletes_only_expired(ctx: Ctx) -> TestResult {
    let s = &ctx.store;
    let (k1, k2, k3) = (uid("idem"), uid("idem"), uid("idem"));
    let expired = IdempotencyScope {
        project_id: "prj_a",
        mode: "test",
        key: &k1,
    };
    let expired_done = IdempotencyScope {
        project_id: "prj_a",
        mode: "test",
        key: &k2,
    };
    let live = IdempotencyScope {
        project_id: "prj_a",
        mode: "test",
        key: &k3,
    };
    let gone = Duration::seconds(-1);
    s.claim_idempotency_key(&expired, ROUTE, "h", gone, stale())
        .await?;
    s.claim_idempotency_key(&expired_done, ROUTE, "h", gone, stale())
        .await?;
    s.complete_idempotency_key(&expired_done, 200, "{}").await?;
    assert_eq!(claim(s, &live, "h").await?, IdempotencyClaim::Claimed);

    assert_eq!(s.purge_expired_idempotency_keys().await?, 2);
    assert_eq!(s.purge_expired_idempotency_keys().await?, 0);
    assert_eq!(
        claim(s, &live, "h").await?,
        IdempotencyClaim::InProgress,
        "live key kept"
    );
    assert_eq!(
        claim(s, &expired, "other").await?,
        IdempotencyClaim::Claimed
    );
    Ok(())
}

contract!(scopes_are_independent);
async fn scopes_are_independent(ctx: Ctx) -> TestResult {
    let s = &ctx.store;
    let key = uid("idem");
    let scopes = [("prj_a", "test"), ("prj_a", "live"), ("prj_b", "test")];
    for (i, (project_id, mode)) in scopes.into_iter().enumerate() {
        let scope = IdempotencyScope {
            project_id,
            mode,
            key: &key,
        };
        let hash = format!("h{i}");
        assert_eq!(
            claim(s, &scope, &hash).await?,
            IdempotencyClaim::Claimed,
            "{project_id}/{mode}"
        );
        s.complete_idempotency_key(&scope, 200 + i as i32, &hash)
            .await?;
    }
    for (i, (project_id, mode)) in scopes.into_iter().enumerate() {
        let scope = IdempotencyScope {
            project_id,
            mode,
            key: &key,
        };
        let hash = format!("h{i}");
        let record = IdempotencyRecord {
            status_code: 200 + i as i32,
            response_body: hash.clone(),
        };
        assert_eq!(
            claim(s, &scope, &hash).await?,
            IdempotencyClaim::Completed(record)
        );
    }
    Ok(())
}
