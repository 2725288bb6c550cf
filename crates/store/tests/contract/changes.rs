//! Conditional status changes: once only, all-or-nothing, race-safe.

use chrono::Duration;
use nexpay_store::{now, NewPaymentBundle, StoreError};

use crate::fixtures::{
    attempt, bundle, event, history, payment, payment_succeeds, seed_project, session, session_to,
    trail,
};
use crate::support::{Ctx, TestResult};

contract!(apply_once_then_stale);
async fn apply_once_then_stale(ctx: Ctx) -> TestResult {
    let s = &ctx.store;
    let project = seed_project(s).await?;
    let b = bundle(&project.id, "test", None);
    let id = b.payment.id.clone();
    s.insert_payment_bundle(b).await?;

    let at = now();
    let change = [payment_succeeds(&id, at)];
    let hist = [history(&id, Some("PENDING"), "SUCCEEDED")];
    s.apply_changes(&change, &hist, &[event("payment.succeeded", &id)], at)
        .await?;
    let paid = s.get_payment(&id).await?.expect("payment");
    assert_eq!(
        (paid.status.as_str(), paid.resolved_at),
        ("SUCCEEDED", Some(at))
    );
    assert_eq!(trail(s, &id).await?, (2, 2));
    assert_eq!(s.list_payment_history(&id).await?.last(), hist.last());

    let before = trail(s, &id).await?;
    let hist = [history(&id, Some("PENDING"), "SUCCEEDED")];
    let err = s
        .apply_changes(&change, &hist, &[event("payment.succeeded", &id)], now())
        .await
        .expect_err("second application");
    assert!(
        matches!(err, StoreError::Stale(_)),
        "expected Stale, got {err:?}"
    );
    assert_eq!(
        trail(s, &id).await?,
        before,
        "no history, no outbox row written"
    );
    assert_eq!(
        s.get_payment(&id).await?.map(|p| p.resolved_at),
        Some(Some(at))
    );
    Ok(())
}

contract!(one_stale_change_rolls_back_the_others);
async fn one_stale_change_rolls_back_the_others(ctx: Ctx) -> TestResult {
    let s = &ctx.store;
    let project = seed_project(s).await?;
    let b = bundle(&project.id, "test", None);
    let (id, sid) = (b.payment.id.clone(), b.session.clone().expect("session").id);
    s.insert_payment_bundle(b).await?;
    let before = trail(s, &id).await?;

    // The payment change would match; the session is "opened", not "pending".
    let changes = [
        payment_succeeds(&id, now()),
        session_to(&sid, &["pending"], "completed"),
    ];
    let hist = [history(&id, Some("PENDING"), "SUCCEEDED")];
    let err = s
        .apply_changes(&changes, &hist, &[event("payment.succeeded", &id)], now())
        .await
        .expect_err("stale session change");
    assert!(
        matches!(err, StoreError::Stale(_)),
        "expected Stale, got {err:?}"
    );
    assert_eq!(
        s.get_payment(&id).await?.map(|p| p.status),
        Some("PENDING".to_owned())
    );
    assert_eq!(
        s.get_session(&sid).await?.map(|s| s.status),
        Some("opened".to_owned())
    );
    assert_eq!(trail(s, &id).await?, before);

    let err = s
        .apply_changes(&[payment_succeeds("pay_missing", now())], &[], &[], now())
        .await;
    assert!(
        matches!(err, Err(StoreError::Stale(_))),
        "unknown row: {err:?}"
    );
    Ok(())
}

contract!(concurrent_changes_exactly_one_wins);
async fn concurrent_changes_exactly_one_wins(ctx: Ctx) -> TestResult {
    let s = &ctx.store;
    let project = seed_project(s).await?;
    let b = bundle(&project.id, "live", None);
    let id = b.payment.id.clone();
    s.insert_payment_bundle(b).await?;
    let (hist_before, _) = trail(s, &id).await?;

    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (store, id) = (ctx.store.clone(), id.clone());
            tokio::spawn(async move {
                let at = now();
                let hist = [history(&id, Some("PENDING"), "SUCCEEDED")];
                let ev = [event("payment.succeeded", &id)];
                store
                    .apply_changes(&[payment_succeeds(&id, at)], &hist, &ev, at)
                    .await
            })
        })
        .collect();
    let (mut ok, mut stale) = (0, 0);
    for task in futures::future::join_all(tasks).await {
        match task? {
            Ok(()) => ok += 1,
            Err(StoreError::Stale(_)) => stale += 1,
            Err(other) => return Err(format!("unexpected error: {other}").into()),
        }
    }
    assert_eq!((ok, stale), (1, 7));
    let succeeded = s.list_outbox(&id).await?;
    let succeeded = succeeded
        .iter()
        .filter(|r| r.kind == "payment.succeeded")
        .count();
    assert_eq!(succeeded, 1, "exactly one outbox row of that kind");
    assert_eq!(
        trail(s, &id).await?.0,
        hist_before + 1,
        "exactly one history row"
    );
    Ok(())
}

contract!(attempt_with_session_change);
async fn attempt_with_session_change(ctx: Ctx) -> TestResult {
    let s = &ctx.store;
    let project = seed_project(s).await?;
    let b = bundle(&project.id, "test", None);
    let (id, sid) = (b.payment.id.clone(), b.session.clone().expect("session").id);
    s.insert_payment_bundle(b).await?;

    let att = attempt(&id);
    let change = [session_to(&sid, &["opened"], "pending")];
    let mut hist = history(&id, Some("PENDING"), "PENDING");
    hist.attempt_id = Some(att.id.clone());
    s.insert_attempt(&att, &change, &[hist], &[event("attempt.created", &id)])
        .await?;
    assert_eq!(s.list_attempts(&id).await?, vec![att.clone()]);
    let (sess, _, latest) = s.get_session_view(&sid).await?.expect("view");
    assert_eq!(sess.status, "pending");
    assert_eq!(latest, Some(att));
    assert_eq!(trail(s, &id).await?, (2, 2));
    Ok(())
}

contract!(attempt_on_expired_session_rolls_back);
async fn attempt_on_expired_session_rolls_back(ctx: Ctx) -> TestResult {
    let s = &ctx.store;
    let project = seed_project(s).await?;
    let b = bundle(&project.id, "test", None);
    let (id, sid) = (b.payment.id.clone(), b.session.clone().expect("session").id);
    s.insert_payment_bundle(b).await?;
    s.apply_changes(
        &[session_to(&sid, &["opened", "pending"], "expired")],
        &[],
        &[],
        now(),
    )
    .await?;
    let before = trail(s, &id).await?;

    let att = attempt(&id);
    let change = [session_to(&sid, &["opened", "pending"], "pending")];
    let hist = [history(&id, Some("PENDING"), "PENDING")];
    let err = s
        .insert_attempt(&att, &change, &hist, &[event("attempt.created", &id)])
        .await
        .expect_err("session expired");
    assert!(
        matches!(err, StoreError::Stale(_)),
        "expected Stale, got {err:?}"
    );
    assert!(
        s.list_attempts(&id).await?.is_empty(),
        "attempt insert rolled back"
    );
    assert_eq!(trail(s, &id).await?, before);
    assert_eq!(s.get_session_view(&sid).await?.and_then(|v| v.2), None);
    assert_eq!(
        s.get_session(&sid).await?.map(|s| s.status),
        Some("expired".to_owned())
    );
    Ok(())
}

contract!(expired_sessions_are_open_past_deadline_oldest_first);
async fn expired_sessions_are_open_past_deadline_oldest_first(ctx: Ctx) -> TestResult {
    let s = &ctx.store;
    let project = seed_project(s).await?;
    let at = now();
    // (status, deadline relative to `at` in microseconds)
    let cases: [(&str, i64); 8] = [
        ("opened", -3_000_000),
        ("pending", -1),
        ("opened", -900_000),
        ("pending", -60_000_000),
        ("expired", -120_000_000),
        ("completed", -5_000_000),
        ("opened", 1),
        ("pending", 600_000_000),
    ];
    let mut expected = Vec::new();
    for (status, offset) in cases {
        let p = payment(&project.id, "test", None);
        let deadline = at + Duration::microseconds(offset);
        let sess = session(&p, status, deadline);
        if offset < 0 && (status == "opened" || status == "pending") {
            expected.push((deadline, sess.id.clone()));
        }
        let b = NewPaymentBundle {
            payment: p,
            session: Some(sess),
            history: vec![],
            events: vec![],
        };
        s.insert_payment_bundle(b).await?;
    }
    expected.sort();
    let ids =
        |rows: Vec<nexpay_store::SessionRow>| rows.into_iter().map(|r| r.id).collect::<Vec<_>>();
    let want: Vec<_> = expected.iter().map(|(_, id)| id.clone()).collect();
    assert_eq!(ids(s.list_expired_sessions(at, 100).await?), want);
    assert_eq!(
        ids(s.list_expired_sessions(at, 2).await?),
        want[..2].to_vec(),
        "limit"
    );
    assert!(s
        .list_expired_sessions(at - Duration::hours(1), 100)
        .await?
        .is_empty());
    Ok(())
}
