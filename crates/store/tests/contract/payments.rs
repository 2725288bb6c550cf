//! Payment bundles, request-key deduplication, exact money and exact timestamps.

use nexpay_store::{now, NewPaymentBundle, StoreError};

use crate::fixtures::{bundle, payment, project, seed_project, session, trail, ts};
use crate::support::{Ctx, TestResult};

contract!(bundle_writes_everything);
async fn bundle_writes_everything(ctx: Ctx) -> TestResult {
    let s = &ctx.store;
    let project = seed_project(s).await?;
    let b = bundle(&project.id, "test", Some("req-1"));
    let (pay, sess) = (b.payment.clone(), b.session.clone().expect("session"));
    let (hist, events) = (b.history.clone(), b.events.clone());
    s.insert_payment_bundle(b).await?;

    assert_eq!(s.get_payment(&pay.id).await?, Some(pay.clone()));
    assert_eq!(
        s.get_payment_by_reference(&pay.reference).await?,
        Some(pay.clone())
    );
    assert_eq!(s.get_session(&sess.id).await?, Some(sess.clone()));
    assert_eq!(
        s.get_session_view(&sess.id).await?,
        Some((sess.clone(), pay.clone(), None))
    );
    assert_eq!(s.get_session_view("cs_missing").await?, None);
    assert_eq!(s.list_payment_history(&pay.id).await?, hist);
    assert_eq!(
        s.find_payment_by_request_key(&project.id, "test", "req-1")
            .await?,
        Some(pay.clone())
    );
    assert_eq!(
        s.find_session_by_request_key(&project.id, "test", "req-1")
            .await?,
        Some(sess)
    );
    assert_eq!(s.count_payments(&project.id, "test").await?, 1);
    assert_eq!(s.count_payments(&project.id, "live").await?, 0);

    let outbox = s.list_outbox(&pay.id).await?;
    assert_eq!(outbox.len(), 1);
    let row = &outbox[0];
    assert_eq!(
        (row.id.as_str(), row.kind.as_str()),
        (events[0].id.as_str(), "payment.created")
    );
    assert_eq!(row.correlation_id, events[0].correlation_id);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&row.payload)?,
        events[0].payload
    );
    assert_eq!(row.created_at, pay.created_at);
    assert_eq!(
        (row.published_at, row.attempts, row.locked_until),
        (None, 0, None)
    );
    assert_eq!(s.outbox_backlog().await?, (1, Some(pay.created_at)));
    Ok(())
}

contract!(duplicate_request_key_conflicts_and_writes_nothing);
async fn duplicate_request_key_conflicts_and_writes_nothing(ctx: Ctx) -> TestResult {
    let s = &ctx.store;
    let project = seed_project(s).await?;
    let first = bundle(&project.id, "live", Some("order-7"));
    let first_id = first.payment.id.clone();
    s.insert_payment_bundle(first).await?;
    let backlog = s.outbox_backlog().await?;

    let retry = bundle(&project.id, "live", Some("order-7"));
    let (pay, sess) = (
        retry.payment.clone(),
        retry.session.clone().expect("session"),
    );
    let err = s
        .insert_payment_bundle(retry)
        .await
        .expect_err("same request key");
    assert!(
        matches!(err, StoreError::Conflict(_)),
        "expected Conflict, got {err:?}"
    );
    assert_eq!(s.get_payment(&pay.id).await?, None);
    assert_eq!(s.get_session(&sess.id).await?, None);
    assert_eq!(
        trail(s, &pay.id).await?,
        (0, 0),
        "no history, no outbox row"
    );
    assert_eq!(s.outbox_backlog().await?, backlog);
    assert_eq!(s.count_payments(&project.id, "live").await?, 1);
    let found = s
        .find_payment_by_request_key(&project.id, "live", "order-7")
        .await?;
    assert_eq!(
        found.map(|p| p.id),
        Some(first_id),
        "the first payment is the one found"
    );

    // A session-less bundle colliding on the payment alone is refused just the same.
    let mut bare = bundle(&project.id, "live", Some("order-7"));
    bare.session = None;
    let bare_id = bare.payment.id.clone();
    let err = s
        .insert_payment_bundle(bare)
        .await
        .expect_err("same request key");
    assert!(
        matches!(err, StoreError::Conflict(_)),
        "expected Conflict, got {err:?}"
    );
    assert_eq!(trail(s, &bare_id).await?, (0, 0));
    Ok(())
}

contract!(a_bundle_failing_on_its_last_row_writes_nothing);
/// The rows of a bundle land together or not at all, whichever of them is refused: here
/// the outbox event, written last, reuses another event's id.
async fn a_bundle_failing_on_its_last_row_writes_nothing(ctx: Ctx) -> TestResult {
    let s = &ctx.store;
    let project = seed_project(s).await?;
    let first = bundle(&project.id, "live", None);
    let taken = first.events[0].id.clone();
    s.insert_payment_bundle(first).await?;
    let backlog = s.outbox_backlog().await?;

    let mut second = bundle(&project.id, "live", None);
    second.history.push(second.history[0].clone());
    second.history[1].id = format!("{}b", second.history[0].id);
    second.events[0].id = taken;
    let (pay, sess) = (
        second.payment.id.clone(),
        second.session.as_ref().expect("session").id.clone(),
    );
    let err = s
        .insert_payment_bundle(second)
        .await
        .expect_err("a duplicate event id");
    assert!(
        matches!(err, StoreError::Conflict(_)),
        "expected Conflict, got {err:?}"
    );
    assert_eq!(s.get_payment(&pay).await?, None);
    assert_eq!(s.get_session(&sess).await?, None);
    assert_eq!(trail(s, &pay).await?, (0, 0));
    assert_eq!(s.outbox_backlog().await?, backlog);
    assert_eq!(s.count_payments(&project.id, "live").await?, 1);

    // With two history rows and a fresh event id, the same bundle lands whole.
    let mut third = bundle(&project.id, "live", None);
    third.history.push(third.history[0].clone());
    third.history[1].id = format!("{}b", third.history[0].id);
    let id = third.payment.id.clone();
    s.insert_payment_bundle(third).await?;
    assert_eq!(trail(s, &id).await?, (2, 1));
    Ok(())
}

contract!(request_key_is_scoped_by_project_and_mode);
async fn request_key_is_scoped_by_project_and_mode(ctx: Ctx) -> TestResult {
    let s = &ctx.store;
    let p1 = seed_project(s).await?;
    let p2 = seed_project(s).await?;
    s.insert_payment_bundle(bundle(&p1.id, "test", Some("k")))
        .await?;
    s.insert_payment_bundle(bundle(&p1.id, "live", Some("k")))
        .await?;
    s.insert_payment_bundle(bundle(&p2.id, "test", Some("k")))
        .await?;
    for _ in 0..3 {
        s.insert_payment_bundle(bundle(&p1.id, "test", None))
            .await?;
    }
    assert_eq!(
        s.count_payments(&p1.id, "test").await?,
        4,
        "NULL request keys never collide"
    );
    assert_eq!(s.count_payments(&p1.id, "live").await?, 1);
    assert_eq!(s.count_payments(&p2.id, "test").await?, 1);
    Ok(())
}

contract!(money_is_exact_i64);
async fn money_is_exact_i64(ctx: Ctx) -> TestResult {
    let s = &ctx.store;
    let project = seed_project(s).await?;
    for amount in [9_007_199_254_740_993_i64, i64::MAX, 1] {
        let mut p = payment(&project.id, "test", None);
        p.amount = amount;
        let sess = session(&p, "opened", now());
        let (id, sid) = (p.id.clone(), sess.id.clone());
        let b = NewPaymentBundle {
            payment: p,
            session: Some(sess),
            history: vec![],
            events: vec![],
        };
        s.insert_payment_bundle(b).await?;
        assert_eq!(s.get_payment(&id).await?.map(|p| p.amount), Some(amount));
        assert_eq!(s.get_session(&sid).await?.map(|s| s.amount), Some(amount));
    }
    let mut zero = payment(&project.id, "test", None);
    zero.amount = 0;
    let b = NewPaymentBundle {
        payment: zero,
        session: None,
        history: vec![],
        events: vec![],
    };
    assert!(
        s.insert_payment_bundle(b).await.is_err(),
        "CHECK (amount > 0)"
    );
    Ok(())
}

contract!(timestamps_round_trip_exactly);
async fn timestamps_round_trip_exactly(ctx: Ctx) -> TestResult {
    let s = &ctx.store;
    let stamps = [
        now(),
        ts(2026, 1, 2, 3, 4, 5, 0),
        ts(2026, 1, 2, 3, 4, 5, 1),
        ts(2026, 1, 2, 3, 4, 5, 100_000),
        ts(2026, 12, 31, 23, 59, 59, 999_999),
        ts(1999, 2, 28, 0, 0, 0, 123_456),
    ];
    for at in stamps {
        let mut row = project();
        (row.created_at, row.updated_at, row.archived_at) = (at, at, Some(at));
        s.insert_project(&row).await?;
        assert_eq!(
            s.get_project(&row.id).await?,
            Some(row),
            "round trip of {at}"
        );
    }
    let mut listed: Vec<_> = s
        .list_projects(true)
        .await?
        .into_iter()
        .map(|p| p.created_at)
        .collect();
    let mut expected = stamps.to_vec();
    expected.sort();
    assert_eq!(listed, expected, "ordered by time, not by text");
    listed.dedup();
    assert_eq!(listed.len(), stamps.len());
    Ok(())
}

contract!(concurrent_bundles_land_alone_or_fail_alone);
/// Many creations at once, some of them retries of a request key already used: each
/// lands whole or fails alone, whatever it was committed with. On SQLite they share
/// commits (group commit) without sharing outcomes.
async fn concurrent_bundles_land_alone_or_fail_alone(ctx: Ctx) -> TestResult {
    let s = &ctx.store;
    let project = seed_project(s).await?;
    s.insert_payment_bundle(bundle(&project.id, "live", Some("taken")))
        .await?;
    let before = s.group_commit_stats();
    let tasks: Vec<_> = (0..60)
        .map(|i| {
            let (s, project_id) = (s.clone(), project.id.clone());
            tokio::spawn(async move {
                let key = if i % 6 == 0 {
                    "taken".to_owned()
                } else {
                    format!("order-{i}")
                };
                let b = bundle(&project_id, "live", Some(&key));
                let id = b.payment.id.clone();
                (i, id, s.insert_payment_bundle(b).await)
            })
        })
        .collect();
    for t in tasks {
        let (i, id, result) = t.await?;
        if i % 6 == 0 {
            assert!(
                matches!(result, Err(StoreError::Conflict(_))),
                "{i}: {result:?}"
            );
            assert_eq!(s.get_payment(&id).await?, None);
            assert_eq!(trail(s, &id).await?, (0, 0), "{i}: nothing of it written");
        } else {
            assert!(result.is_ok(), "{i}: {result:?}");
            assert_eq!(trail(s, &id).await?, (1, 1), "{i}: history and outbox row");
        }
    }
    assert_eq!(s.count_payments(&project.id, "live").await?, 51);
    if let (Some(before), Some(after)) = (before, s.group_commit_stats()) {
        let writes = after.transactions - before.transactions;
        let commits = after.commits - before.commits;
        assert!(writes >= 60, "{writes} writes counted");
        assert!(
            commits < writes,
            "{writes} concurrent writes took {commits} commits"
        );
    }
    Ok(())
}
