//! Session expiry: the deadline is moved into the past through the store (the operator
//! action `set_session_deadline`), and the app's own sweeper must do the rest.

use std::time::Duration;

use crate::support::*;
use nexpay_testkit::{eventually, TestApp};
use serde_json::json;

async fn wait_for_status(app: &TestApp, id: &str, wanted: &str) -> bool {
    eventually(Duration::from_secs(10), || async {
        let r = get(app, &session_path(id), Some(&app.read_key)).await;
        (r.data()["status"] == json!(wanted)).then_some(())
    })
    .await
    .is_some()
}

async fn expire_now(app: &TestApp, id: &str) {
    let past = nexpay_store::now() - chrono::Duration::seconds(1);
    assert!(
        app.store.set_session_deadline(id, past).await.unwrap(),
        "an open session's deadline can move"
    );
}

e2e!(
    pending_session_expires,
    env = [("SWEEP_INTERVAL_MS", "100")],
    |app| {
        let id = create_session(app).await;
        let r = post(
            app,
            &checkout_path(&id),
            Some(&app.write_key),
            &json!({"provider_code": "wave"}),
            &[],
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        expire_now(app, &id).await;
        assert!(
            wait_for_status(app, &id, "expired").await,
            "the sweeper expires the session within 10 s"
        );

        let (session, payment, _) = app.store.get_session_view(&id).await.unwrap().unwrap();
        assert_eq!(session.status, "expired");
        assert_eq!(payment.status, "EXPIRED");
        assert!(payment.resolved_at.is_some());
        let attempts = app.store.list_attempts(&payment.id).await.unwrap();
        assert!(
            attempts.iter().all(|a| a.status == "expired"),
            "{:?}",
            attempts.iter().map(|a| &a.status).collect::<Vec<_>>()
        );
        let outbox = app.store.list_outbox(&payment.id).await.unwrap();
        let expired = outbox
            .iter()
            .filter(|o| o.kind == "payment.expired")
            .count();
        assert_eq!(expired, 1, "one payment.expired event");

        let status = get(app, &session_path(&id), Some(&app.write_key)).await;
        assert_eq!(status.data()["paymentStatus"], json!("EXPIRED"));
        assert_eq!(status.data()["provider"]["code"], json!("wave"));
        // An expired session cannot be paid any more.
        let r = post(
            app,
            &checkout_path(&id),
            Some(&app.read_key),
            &json!({"provider_code": "om"}),
            &[],
        )
        .await;
        assert_error(&r, 409, "session_closed");
        // Its deadline cannot move back either.
        assert!(!app
            .store
            .set_session_deadline(&id, nexpay_store::now() + chrono::Duration::hours(1))
            .await
            .unwrap());
    }
);

e2e!(
    opened_session_expires_and_others_stay_open,
    env = [("SWEEP_INTERVAL_MS", "100")],
    |app| {
        let doomed = create_session(app).await;
        let alive = create_session(app).await;
        expire_now(app, &doomed).await;
        assert!(wait_for_status(app, &doomed, "expired").await);
        let (_, payment, attempt) = app.store.get_session_view(&doomed).await.unwrap().unwrap();
        assert_eq!(payment.status, "EXPIRED");
        assert!(attempt.is_none());
        // The sweeper touched only the overdue one; the other is still payable.
        let r = get(app, &session_path(&alive), Some(&app.read_key)).await;
        assert_eq!(r.data()["status"], json!("opened"));
        let r = post(
            app,
            &checkout_path(&alive),
            Some(&app.read_key),
            &json!({"provider_code": "om"}),
            &[],
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
);

e2e!(
    deadline_passed_before_the_sweep_refuses_checkout,
    env = [("SWEEP_INTERVAL_MS", "3600000")],
    |app| {
        // With a sweeper that has not run yet, the deadline alone closes the session.
        // The sweeper's one pass in this test's hour is at start-up, which may still be
        // under way (a first database connection under load): the deadline passes a
        // while after the session is created, when that pass can only have been too
        // early to expire it.
        let id = create_session(app).await;
        let soon = nexpay_store::now() + chrono::Duration::seconds(2);
        assert!(app.store.set_session_deadline(&id, soon).await.unwrap());
        tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
        let r = post(
            app,
            &checkout_path(&id),
            Some(&app.read_key),
            &json!({"provider_code": "wave"}),
            &[],
        )
        .await;
        assert_error(&r, 409, "session_closed");
        let (_, payment, attempt) = app.store.get_session_view(&id).await.unwrap().unwrap();
        assert!(attempt.is_none(), "no attempt on an overdue session");
        assert_eq!(payment.status, "PENDING");
    }
);
