//! Customer journeys in test mode, end to end through the real connectors and the
//! provider simulators: the merchant creates a payment, the customer opens the payer
//! page and acts, the simulator sends its signed webhook to provider-adapter, which
//! stores it, confirms it with the provider's status API and hands it to payments.
//! Reconciliation covers what webhooks do not deliver.

use std::time::Duration;

use crate::support::*;
use nexpay_testkit::{eventually, TestApp};
use serde_json::{json, Value};

// Reconciliation checks every second where a test sets RECONCILE_* (60 s / 5 min by
// default).
const WAIT: Duration = Duration::from_secs(20);

/// The payer pages' forms only carry plain ASCII values here.
fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// POSTs a payer-page form; returns the status and the `Location` header.
pub(crate) async fn payer_action(
    app: &TestApp,
    url: &str,
    fields: &[(&str, &str)],
) -> (u16, String, String) {
    let r = app
        .client
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(fields))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, location, r.text().await.unwrap_or_default())
}

/// The Wave payer page of a checkout answer: its launch URL
/// (`.../sandbox/wave/c/cos-...?a=...`) without the query.
pub(crate) fn wave_page(data: &Value) -> String {
    let url = data["checkout_urls"][0]["url"].as_str().unwrap();
    assert!(url.contains("/sandbox/wave/c/cos-"), "{url}");
    url.split('?').next().unwrap().to_owned()
}

/// The Orange Money payer page of a checkout answer (`.../sandbox/om/pay/<qrId>`).
fn om_page(data: &Value) -> String {
    let url = data["checkout_urls"][0]["url"].as_str().unwrap();
    let page = url.split('?').next().unwrap().to_owned();
    assert!(page.contains("/sandbox/om/pay/"), "{url}");
    page
}

async fn checkout(app: &TestApp, session: &str, provider: &str) -> Value {
    let r = post(
        app,
        &checkout_path(session),
        Some(&app.write_key),
        &json!({"provider_code": provider}),
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.data().clone()
}

pub(crate) async fn direct(app: &TestApp, provider: &str) -> Value {
    let r = post(
        app,
        PAYMENT,
        Some(&app.write_key),
        &payment_body(provider),
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.data().clone()
}

async fn session_status(app: &TestApp, session: &str) -> String {
    let r = get(app, &session_path(session), Some(&app.read_key)).await;
    r.data()["status"].as_str().unwrap_or_default().to_owned()
}

/// Polls `read` until it returns `want`, failing with what it last read after [`WAIT`].
async fn wait_until<F, Fut>(what: &str, want: &str, read: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = String>,
{
    let reached = eventually(WAIT, || async { (read().await == want).then_some(()) }).await;
    assert!(
        reached.is_some(),
        "{what} never became {want} (now {})",
        read().await
    );
}

async fn wait_session(app: &TestApp, session: &str, want: &str) {
    wait_until(&format!("session {session}"), want, || {
        session_status(app, session)
    })
    .await;
}

async fn payment_status(app: &TestApp, reference: &str) -> String {
    app.store
        .get_payment_by_reference(reference)
        .await
        .unwrap()
        .map(|p| p.status)
        .unwrap_or_default()
}

async fn wait_payment(app: &TestApp, reference: &str, want: &str) {
    wait_until(&format!("payment {reference}"), want, || {
        payment_status(app, reference)
    })
    .await;
}

async fn payment_id(app: &TestApp, reference: &str) -> String {
    app.store
        .get_payment_by_reference(reference)
        .await
        .unwrap()
        .unwrap()
        .id
}

/// Merchant events of a payment in the outbox, by kind.
async fn events(app: &TestApp, reference: &str) -> Vec<String> {
    let id = payment_id(app, reference).await;
    app.store
        .list_outbox(&id)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.kind)
        // `payment.pending` is written when the payment is created.
        .filter(|k| k.starts_with("payment.") && k != "payment.pending")
        .collect()
}

async fn history_kinds(app: &TestApp, reference: &str) -> Vec<String> {
    let id = payment_id(app, reference).await;
    app.store
        .list_payment_history(&id)
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.kind)
        .collect()
}

/// The Wave simulator's control API (`/_sim/...`), at the instance's sandbox route.
async fn wave_faults(app: &TestApp, faults: Value) {
    let r = app
        .client
        .post(app.url("/sandbox/wave/_sim/faults"))
        .json(&faults)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
}

/// The simulator's view of a Wave checkout session.
async fn wave_session(app: &TestApp, cos: &str) -> Value {
    let v: Value = app
        .client
        .get(app.url(&format!("/sandbox/wave/_sim/sessions/{cos}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["session"].clone()
}

/// The simulator's record of its webhook deliveries.
async fn wave_deliveries(app: &TestApp) -> Option<Vec<Value>> {
    let d: Value = app
        .client
        .get(app.url("/sandbox/wave/_sim/webhooks/deliveries"))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    d["result"].as_array().cloned()
}

fn cos_id(page: &str) -> String {
    page.rsplit('/')
        .next()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_owned()
}

e2e!(wave_session_paid_on_the_payer_page, |app| {
    let session = create_session(app).await;
    let data = checkout(app, &session, "wave").await;
    let page = wave_page(&data);
    let reference = data["reference"].as_str().unwrap().to_owned();

    // What the customer sees after scanning.
    let r = app.client.get(&page).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("5") && html.contains("approve"), "{html}");

    let (status, location, _) = payer_action(app, &format!("{page}/approve"), &[]).await;
    assert_eq!(status, 303);
    assert!(
        location.starts_with("http"),
        "Wave sends the payer back: {location}"
    );

    wait_session(app, &session, "succeeded").await;
    assert_eq!(payment_status(app, &reference).await, "SUCCEEDED");
    // One success event, written with the change.
    let evs = events(app, &reference).await;
    assert_eq!(
        evs.iter().filter(|k| *k == "payment.succeeded").count(),
        1,
        "{evs:?}"
    );
    // The webhook was stored raw, verified, confirmed and applied.
    let hooks = app.store.list_provider_webhooks("wave", 10).await.unwrap();
    let hook = hooks
        .iter()
        .find(|h| h.event_type.as_deref() == Some("checkout.session.completed"))
        .expect("the completed webhook is stored");
    assert!(hook.verified);
    assert_eq!(hook.mode.as_deref(), Some("test"));
    assert!(hook.body.contains("checkout.session.completed"));
    let processed = eventually(WAIT, || async {
        let h = app.store.get_provider_webhook(&hook.id).await.unwrap()?;
        h.processed_at.map(|_| h.outcome.unwrap_or_default())
    })
    .await
    .unwrap();
    assert!(processed.starts_with("applied"), "{processed}");
    // The session view shows the payment as paid.
    let view = get(app, &session_path(&session), Some(&app.read_key)).await;
    assert_eq!(view.data()["status"], json!("succeeded"), "{}", view.text);
});

e2e!(orange_money_direct_payment_approved, |app| {
    let data = direct(app, "om").await;
    let reference = data["reference"].as_str().unwrap().to_owned();
    let page = om_page(&data);
    let r = app.client.get(&page).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let (status, _, body) = payer_action(
        app,
        &format!("{page}/approve"),
        &[("msisdn", "771234567"), ("channel", "MAXIT")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    wait_payment(app, &reference, "SUCCEEDED").await;
    let hooks = app.store.list_provider_webhooks("om", 10).await.unwrap();
    assert_eq!(hooks.len(), 1, "one notification, stored once");
    assert!(hooks[0].verified);
    assert!(
        !hooks[0]
            .headers
            .contains(nexpay_contracts::sandbox::OM_WEBHOOK_API_KEY),
        "credentials are not stored: {}",
        hooks[0].headers
    );
    assert_eq!(events(app, &reference).await, vec!["payment.succeeded"]);
});

e2e!(a_slow_status_check_holds_up_no_other_payment, |app| {
    // Orange Money's status API turns slow after this payment is initiated.
    let om = direct(app, "om").await;
    let om_reference = om["reference"].as_str().unwrap().to_owned();
    let page = om_page(&om);
    let r = app
        .client
        .post(app.url("/sandbox/om/_sim/faults"))
        .json(&json!({"apiDelayMs": 3000}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    payer_action(
        app,
        &format!("{page}/approve"),
        &[("msisdn", "771234567"), ("channel", "MAXIT")],
    )
    .await;
    // Its notification is stored and its confirmation is waiting on the slow API.
    let stored = eventually(WAIT, || async {
        let hooks = app.store.list_provider_webhooks("om", 10).await.unwrap();
        (!hooks.is_empty()).then_some(())
    })
    .await;
    assert!(stored.is_some(), "the Orange Money notification is stored");

    // A Wave payment made meanwhile is confirmed without waiting for it.
    let wave = direct(app, "wave").await;
    let wave_reference = wave["reference"].as_str().unwrap().to_owned();
    let (status, _, body) = payer_action(app, &format!("{}/approve", wave_page(&wave)), &[]).await;
    assert_eq!(status, 303, "{body}");
    wait_payment(app, &wave_reference, "SUCCEEDED").await;
    assert_eq!(
        payment_status(app, &om_reference).await,
        "PENDING",
        "the Orange Money confirmation is still waiting on its status check"
    );
    wait_payment(app, &om_reference, "SUCCEEDED").await;
    assert_eq!(events(app, &om_reference).await, vec!["payment.succeeded"]);
    assert_eq!(
        events(app, &wave_reference).await,
        vec!["payment.succeeded"]
    );
});

e2e!(declines_and_insufficient_funds, |app| {
    // Orange Money, direct: the payer declines → the payment fails.
    let data = direct(app, "om").await;
    let reference = data["reference"].as_str().unwrap().to_owned();
    let page = om_page(&data);
    payer_action(app, &format!("{page}/decline"), &[("msisdn", "771234567")]).await;
    wait_payment(app, &reference, "FAILED").await;
    assert_eq!(events(app, &reference).await, vec!["payment.failed"]);

    // Orange Money, session: insufficient funds → back to the choice; a new attempt
    // then succeeds.
    let session = create_session(app).await;
    let data = checkout(app, &session, "om").await;
    let reference = data["reference"].as_str().unwrap().to_owned();
    payer_action(
        app,
        &format!("{}/insufficient", om_page(&data)),
        &[("msisdn", "771234567")],
    )
    .await;
    wait_session(app, &session, "opened").await;
    assert_eq!(payment_status(app, &reference).await, "PENDING");
    let data = checkout(app, &session, "om").await;
    payer_action(
        app,
        &format!("{}/approve", om_page(&data)),
        &[("msisdn", "771234567")],
    )
    .await;
    wait_session(app, &session, "succeeded").await;

    // Wave: a failed try is not terminal (the payer may retry on the same page).
    let session = create_session(app).await;
    let data = checkout(app, &session, "wave").await;
    let reference = data["reference"].as_str().unwrap().to_owned();
    let page = wave_page(&data);
    payer_action(app, &format!("{page}/insufficient"), &[]).await;
    let failed_seen = eventually(WAIT, || async {
        let hooks = app.store.list_provider_webhooks("wave", 20).await.unwrap();
        hooks
            .iter()
            .any(|h| {
                h.event_type.as_deref() == Some("checkout.session.payment_failed")
                    && h.processed_at.is_some()
            })
            .then_some(())
    })
    .await;
    assert!(
        failed_seen.is_some(),
        "the payment_failed webhook was processed"
    );
    assert_eq!(payment_status(app, &reference).await, "PENDING");
    assert_eq!(session_status(app, &session).await, "pending");
    payer_action(app, &format!("{page}/approve"), &[]).await;
    wait_session(app, &session, "succeeded").await;
    assert_eq!(events(app, &reference).await, vec!["payment.succeeded"]);
});

e2e!(
    switching_provider_closes_the_first_checkout,
    env = [
        ("RECONCILE_FIRST_CHECK_MS", "1000"),
        ("RECONCILE_INTERVAL_MS", "1000")
    ],
    |app| {
        let session = create_session(app).await;
        let first = checkout(app, &session, "wave").await;
        let cos = cos_id(&wave_page(&first));
        let second = checkout(app, &session, "om").await;
        assert_eq!(first["reference"], second["reference"], "one payment");
        // The abandoned Wave checkout is expired at Wave: it can no longer be paid.
        let closed = eventually(WAIT, || async {
            let s = wave_session(app, &cos).await;
            (s["checkout_status"] == json!("expired")).then_some(())
        })
        .await;
        assert!(closed.is_some(), "{}", wave_session(app, &cos).await);
        // The customer who still had the Wave page open cannot pay it any more.
        payer_action(app, &format!("{}/approve", wave_page(&first)), &[]).await;
        assert_eq!(
            wave_session(app, &cos).await["checkout_status"],
            json!("expired")
        );
        payer_action(
            app,
            &format!("{}/approve", om_page(&second)),
            &[("msisdn", "771234567")],
        )
        .await;
        wait_session(app, &session, "succeeded").await;
        let reference = second["reference"].as_str().unwrap();
        assert_eq!(events(app, reference).await, vec!["payment.succeeded"]);
    }
);

e2e!(
    lost_webhook_is_recovered_by_reconciliation,
    env = [
        ("RECONCILE_FIRST_CHECK_MS", "1000"),
        ("RECONCILE_INTERVAL_MS", "1000")
    ],
    |app| {
        wave_faults(app, json!({"webhook_lose": 1})).await;
        let session = create_session(app).await;
        let data = checkout(app, &session, "wave").await;
        payer_action(app, &format!("{}/approve", wave_page(&data)), &[]).await;
        wait_session(app, &session, "succeeded").await;
        assert!(
            app.store
                .list_provider_webhooks("wave", 10)
                .await
                .unwrap()
                .is_empty(),
            "no webhook arrived: reconciliation found the payment"
        );
        let reference = data["reference"].as_str().unwrap();
        assert_eq!(events(app, reference).await, vec!["payment.succeeded"]);
    }
);

e2e!(duplicate_and_out_of_order_webhooks, |app| {
    // Every event twice: stored once, applied once.
    wave_faults(app, json!({"webhook_duplicate": 1})).await;
    let session = create_session(app).await;
    let data = checkout(app, &session, "wave").await;
    let reference = data["reference"].as_str().unwrap().to_owned();
    payer_action(app, &format!("{}/approve", wave_page(&data)), &[]).await;
    wait_session(app, &session, "succeeded").await;
    let deliveries = eventually(WAIT, || async {
        let ok = wave_deliveries(app)
            .await?
            .iter()
            .filter(|x| x["delivered"] == json!(true))
            .count();
        (ok >= 2).then_some(ok)
    })
    .await;
    assert!(
        deliveries.is_some(),
        "the simulator delivered the event twice"
    );
    let stored = app.store.list_provider_webhooks("wave", 10).await.unwrap();
    assert_eq!(stored.len(), 1, "the duplicate is not stored again");
    assert_eq!(events(app, &reference).await, vec!["payment.succeeded"]);

    // Out of order: the failed try's webhook arrives after the success.
    wave_faults(app, json!({"webhook_delay_ms": 1500})).await;
    let session = create_session(app).await;
    let data = checkout(app, &session, "wave").await;
    let reference = data["reference"].as_str().unwrap().to_owned();
    let page = wave_page(&data);
    payer_action(app, &format!("{page}/insufficient"), &[]).await;
    wave_faults(app, json!({})).await;
    payer_action(app, &format!("{page}/approve"), &[]).await;
    wait_session(app, &session, "succeeded").await;
    let late_failure = eventually(WAIT, || async {
        let hooks = app.store.list_provider_webhooks("wave", 20).await.unwrap();
        hooks
            .into_iter()
            .find(|h| {
                h.event_type.as_deref() == Some("checkout.session.payment_failed")
                    && h.processed_at.is_some()
                    && h.body.contains(&reference)
            })
            .and_then(|h| h.outcome)
    })
    .await
    .expect("the late payment_failed webhook is processed");
    assert!(late_failure.starts_with("unchanged"), "{late_failure}");
    assert_eq!(session_status(app, &session).await, "succeeded");
    assert_eq!(events(app, &reference).await, vec!["payment.succeeded"]);
});

e2e!(forged_and_stale_webhooks_are_refused, |app| {
    // Without any credential.
    let body = json!({"id": "AE_forged", "type": "checkout.session.completed", "data": {}});
    let r = app
        .client
        .post(app.url("/api/v1/webhook/wave"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = app
        .client
        .post(app.url("/api/v1/webhook/om"))
        .header("authorization", "Basic not-the-key")
        .json(&json!({"transactionId": "MP1", "status": "SUCCESS"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // The simulator signs with a wrong secret, then with a stale timestamp: refused
    // (401) and stored as unverified; the payment is still found by reconciliation,
    // never by the forged call.
    for (n, fault) in ["webhook_bad_signature", "webhook_stale_timestamp"]
        .into_iter()
        .enumerate()
    {
        wave_faults(app, json!({ fault: 1, "webhook_duplicate": 0 })).await;
        let session = create_session(app).await;
        let data = checkout(app, &session, "wave").await;
        payer_action(app, &format!("{}/approve", wave_page(&data)), &[]).await;
        let refused = eventually(WAIT, || async {
            wave_deliveries(app)
                .await?
                .iter()
                .filter(|x| x["status"] == json!(401))
                .count()
                .gt(&n)
                .then_some(())
        })
        .await;
        assert!(refused.is_some(), "{fault}: the webhook got 401");
        wave_faults(app, json!({})).await;
    }
    let stored = app.store.list_provider_webhooks("wave", 20).await.unwrap();
    assert!(stored.iter().any(|h| !h.verified
        && h.verification_error
            .as_deref()
            .is_some_and(|e| e.starts_with("unverified"))));

    // A verified Orange notification about a reference nobody knows: 2xx (Orange
    // would drop it for good on a 4xx), recorded, nothing changed.
    let r = app
        .client
        .post(app.url("/api/v1/webhook/om"))
        .header(
            "authorization",
            format!("Basic {}", nexpay_contracts::sandbox::OM_WEBHOOK_API_KEY),
        )
        .json(&json!({
            "amount": {"value": 5000.0, "unit": "XOF"},
            "reference": "NEXPAY_TX_UNKNOWN",
            "transactionId": "MP000000.0000.X00000",
            "status": "SUCCESS",
            "type": "MERCHANT_PAYMENT",
        }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
});

e2e!(tampered_webhook_is_caught_by_the_status_check, |app| {
    let session = create_session(app).await;
    let data = checkout(app, &session, "wave").await;
    let reference = data["reference"].as_str().unwrap().to_owned();
    let cos = cos_id(&wave_page(&data));
    // A correctly signed event claiming a success that did not happen, for 1 XOF.
    let sim = wave_session(app, &cos).await;
    let mut fake = sim.clone();
    fake["checkout_status"] = json!("complete");
    fake["payment_status"] = json!("succeeded");
    fake["amount"] = json!("1");
    let body = json!({
        "id": "AE_tampered_1",
        "type": "checkout.session.completed",
        "data": fake,
    })
    .to_string();
    let ts = chrono::Utc::now().timestamp();
    let sig = nexpay_sandbox::wave::signature_header(
        nexpay_contracts::sandbox::WAVE_WEBHOOK_SECRET,
        ts,
        body.as_bytes(),
    );
    let r = app
        .client
        .post(app.url("/api/v1/webhook/wave"))
        .header("wave-signature", sig)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        200,
        "a verified call is accepted for processing"
    );
    let outcome = eventually(WAIT, || async {
        let hooks = app.store.list_provider_webhooks("wave", 10).await.unwrap();
        hooks
            .into_iter()
            .find(|h| h.event_id.as_deref() == Some("AE_tampered_1"))
            .and_then(|h| h.processed_at.and(h.outcome))
    })
    .await
    .expect("the event is processed");
    assert!(outcome.starts_with("unchanged"), "{outcome}");
    assert_eq!(payment_status(app, &reference).await, "PENDING");
    assert!(
        history_kinds(app, &reference)
            .await
            .contains(&"provider.webhook_disputed".to_owned()),
        "the disagreement is recorded for an admin"
    );
    assert!(events(app, &reference).await.is_empty());
    // The admin reads the event as received, with what processing concluded.
    let token = admin_token(app).await;
    let r = admin(
        app,
        reqwest::Method::GET,
        "/providers/wave/webhooks?limit=50",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let logged = r.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["eventId"] == json!("AE_tampered_1"))
        .cloned()
        .unwrap_or_else(|| panic!("the event is in the log: {}", r.text));
    assert_eq!(logged["verified"], json!(true), "{logged}");
    assert_eq!(logged["mode"], json!("test"), "{logged}");
    assert!(
        logged["outcome"].as_str().unwrap().starts_with("unchanged"),
        "{logged}"
    );
    assert!(
        logged["body"]
            .as_str()
            .unwrap()
            .contains("\"amount\":\"1\""),
        "{logged}"
    );
    let r = admin(
        app,
        reqwest::Method::GET,
        "/providers/wave/webhooks?limit=0",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
    let r = admin(
        app,
        reqwest::Method::GET,
        "/providers/paypal/webhooks",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.text);
    let r = admin(
        app,
        reqwest::Method::GET,
        "/providers/wave/webhooks",
        None,
        None,
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.text);
});

e2e!(
    two_successes_in_one_session_are_flagged_for_an_admin,
    |app| {
        // Orange Money cannot close a QR code: after a switch to Wave, the customer
        // can still pay the first one, and then the Wave checkout too.
        let session = create_session(app).await;
        let first = checkout(app, &session, "om").await;
        let second = checkout(app, &session, "wave").await;
        let reference = second["reference"].as_str().unwrap().to_owned();
        payer_action(
            app,
            &format!("{}/approve", om_page(&first)),
            &[("msisdn", "771234567")],
        )
        .await;
        wait_payment(app, &reference, "SUCCEEDED").await;
        payer_action(app, &format!("{}/approve", wave_page(&second)), &[]).await;
        let token = admin_token(app).await;
        let flagged = eventually(WAIT, || async {
            let r = admin(
                app,
                reqwest::Method::GET,
                "/attempts/flagged",
                Some(&token),
                None,
            )
            .await;
            assert_eq!(r.status, 200, "{}", r.text);
            r.json["data"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["reference"] == json!(reference))
                .cloned()
        })
        .await
        .expect("the second success is flagged for an admin");
        assert_eq!(flagged["flag"], json!("second_success"), "{flagged}");
        assert_eq!(flagged["provider"], json!("wave"), "{flagged}");
        assert_eq!(flagged["attemptStatus"], json!("succeeded"), "{flagged}");
        assert_eq!(flagged["paymentStatus"], json!("SUCCEEDED"), "{flagged}");
        assert_eq!(flagged["mode"], json!("test"), "{flagged}");
        assert_eq!(flagged["amount"], json!(10000), "{flagged}");
        // The merchant hears of the payment once, and the history keeps both successes.
        assert_eq!(events(app, &reference).await, vec!["payment.succeeded"]);
        wait_session(app, &session, "succeeded").await;
    }
);

e2e!(provider_down_gives_a_clear_error_and_no_orphan, |app| {
    wave_faults(app, json!({"http_500": 10})).await;
    let before = count(app).await;
    let key = "provider-down-1";
    let r = post(
        app,
        PAYMENT,
        Some(&app.write_key),
        &payment_body("wave"),
        &[("idempotency-key", key)],
    )
    .await;
    assert_error(&r, 503, "provider_unavailable");
    assert_eq!(count(app).await, before + 1, "the payment is recorded...");
    let payment = app
        .store
        .find_payment_by_request_key(&app.project_id, "test", key)
        .await
        .unwrap()
        .expect("the payment of the failed request");
    assert_eq!(payment.status, "FAILED", "...and failed, not left pending");
    wave_faults(app, json!({})).await;
});

e2e!(
    expiry_closes_the_checkout_at_wave_and_a_late_payment_is_kept,
    env = [
        ("SWEEP_INTERVAL_MS", "100"),
        ("RECONCILE_FIRST_CHECK_MS", "1000"),
        ("RECONCILE_INTERVAL_MS", "500"),
    ],
    |app| {
        // Wave: when our session expires, the Wave checkout is expired at Wave too.
        let session = create_session(app).await;
        let data = checkout(app, &session, "wave").await;
        let cos = cos_id(&wave_page(&data));
        let past = nexpay_store::now() - chrono::Duration::seconds(1);
        assert!(app
            .store
            .set_session_deadline(&session, past)
            .await
            .unwrap());
        wait_session(app, &session, "expired").await;
        let closed = eventually(WAIT, || async {
            (wave_session(app, &cos).await["checkout_status"] == json!("expired")).then_some(())
        })
        .await;
        assert!(closed.is_some(), "{}", wave_session(app, &cos).await);

        // Orange Money cannot expire a QR code: the customer pays it after our expiry.
        // The money was taken, so the payment is recorded as succeeded, flagged late.
        let session = create_session(app).await;
        let data = checkout(app, &session, "om").await;
        let reference = data["reference"].as_str().unwrap().to_owned();
        let past = nexpay_store::now() - chrono::Duration::seconds(1);
        assert!(app
            .store
            .set_session_deadline(&session, past)
            .await
            .unwrap());
        wait_session(app, &session, "expired").await;
        assert_eq!(events(app, &reference).await, vec!["payment.expired"]);
        payer_action(
            app,
            &format!("{}/approve", om_page(&data)),
            &[("msisdn", "771234567")],
        )
        .await;
        wait_payment(app, &reference, "SUCCEEDED").await;
        let payment = app
            .store
            .get_payment_by_reference(&reference)
            .await
            .unwrap()
            .unwrap();
        assert!(payment.late, "a success after our expiry is flagged late");
        assert_eq!(
            events(app, &reference).await,
            vec!["payment.expired", "payment.succeeded"]
        );
        let id = payment.id.clone();
        let outbox = app.store.list_outbox(&id).await.unwrap();
        let succeeded = outbox
            .iter()
            .find(|r| r.kind == "payment.succeeded")
            .unwrap();
        let body: Value = serde_json::from_str(&succeeded.payload).unwrap();
        assert_eq!(body["data"]["late"], json!(true), "{body}");
    }
);
