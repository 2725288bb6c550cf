//! The payments service over the in-process bus, on SQLite and PostgreSQL: expiry
//! sweeper, outbox relay, concurrent provider choices.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use nexpay_bus::{Bus, ConsumerOptions, Envelope, HandlerError, InProcessBus};
use nexpay_contracts::{
    kinds, queues, Caller, CancelSession, CheckoutSession, CreateSession, Customer, ProviderState,
    ProviderStatus, ProviderUpdate, RedirectUrls,
};
use nexpay_payments::{Payments, PaymentsConfig};
use nexpay_provider_adapter::{Connectors, ProviderAdapter};
use nexpay_store::testing::TestDb;
use nexpay_store::{now, ProjectRow, ProviderRow, Store};
use serde_json::json;

async fn setup(db: &TestDb) -> (Payments, InProcessBus, String) {
    let (payments, bus, project, _sims) = setup_with_sims(db).await;
    (payments, bus, project)
}

/// [`setup`], with the provider simulators, to look at what the providers saw.
async fn setup_with_sims(
    db: &TestDb,
) -> (
    Payments,
    InProcessBus,
    String,
    nexpay_sandbox::test_mode::Simulators,
) {
    let store = db.store().clone();
    let at = now();
    let project = ProjectRow {
        id: nexpay_domain::ProjectId::generate().into_string(),
        name: "Ma Boutique".into(),
        success_url: Some("https://shop.example/ok".into()),
        failure_url: None,
        cancel_url: Some("https://shop.example/cancel".into()),
        settings: "{}".into(),
        is_default: false,
        created_at: at,
        updated_at: at,
        archived_at: None,
    };
    store.insert_project(&project).await.unwrap();
    for (code, name) in [("wave", "Wave"), ("om", "Orange Money")] {
        store
            .ensure_provider(&ProviderRow {
                code: code.into(),
                name: name.into(),
                enabled: true,
                logo_url: format!("/static/{code}.svg"),
                sealed_config: None,
                updated_at: at,
                config_summary: "{}".into(),
                secrets_ok: false,
                webhook_ok: false,
                test_passed_at: None,
            })
            .await
            .unwrap();
    }
    let bus = InProcessBus::new();
    let shared: Arc<dyn Bus> = Arc::new(bus.clone());
    let payments = Payments::new(
        store,
        shared.clone(),
        PaymentsConfig {
            public_url: "http://localhost:9090".into(),
            session_ttl: Duration::from_secs(1800),
            provider_timeout: Duration::from_secs(5),
            reconcile: nexpay_payments::ReconcileSchedule::default(),
        },
    );
    payments.serve(ConsumerOptions::default()).await.unwrap();
    // The provider simulators on a local port; their webhooks go nowhere here.
    let (sims, sandbox) =
        nexpay_sandbox::test_mode::Simulators::spawn_local("http://127.0.0.1:9").unwrap();
    let connectors = Connectors::test_mode(
        &sandbox,
        "http://127.0.0.1:9",
        Arc::new(nexpay_providers::InMemoryTokenCache::new()),
    )
    .unwrap();
    let keyring =
        nexpay_security::Keyring::new(nexpay_security::SealingKey::generate().0, Vec::new());
    ProviderAdapter::new(connectors, keyring)
        .serve(shared.as_ref(), ConsumerOptions::default())
        .await
        .unwrap();
    (payments, bus, project.id, sims)
}

fn session_cmd(project_id: &str) -> CreateSession {
    CreateSession {
        caller: Caller {
            project_id: project_id.into(),
            mode: "test".into(),
            request_key: None,
        },
        amount_minor: 5000,
        currency: "XOF".into(),
        customer: Customer {
            name: Some("Awa".into()),
            email: None,
            phone: "+221771234567".into(),
        },
        metadata: serde_json::json!({"order_id": "A-1"}),
        items: None,
        client_reference: None,
        urls: RedirectUrls::default(),
        expires_in_secs: Some(60),
    }
}

/// A direct payment in test mode, retried under `request_key`.
fn initiate_cmd(
    project_id: &str,
    request_key: &str,
    amount_minor: i64,
    provider_code: &str,
) -> nexpay_contracts::InitiatePayment {
    nexpay_contracts::InitiatePayment {
        caller: Caller {
            project_id: project_id.into(),
            mode: "test".into(),
            request_key: Some(request_key.into()),
        },
        amount_minor,
        currency: "XOF".into(),
        provider_code: provider_code.into(),
        customer: Customer {
            name: None,
            email: None,
            phone: "+221771234567".into(),
        },
        metadata: serde_json::json!({}),
        client_reference: None,
        urls: RedirectUrls::default(),
    }
}

async fn outbox_kinds(store: &Store, payment_id: &str) -> Vec<String> {
    store
        .list_outbox(payment_id)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.kind)
        .collect()
}

macro_rules! both {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = nexpay_store::testing::TestDb::sqlite().await.unwrap();
                super::$body(&db).await;
                db.cleanup().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[ignore = "needs PostgreSQL (NEXPAY_TEST_PG_URL); run with -- --ignored"]
            async fn postgres() {
                let db = nexpay_store::testing::TestDb::postgres().await.unwrap();
                super::$body(&db).await;
                db.cleanup().await;
            }
        }
    };
}

both!(sweeper_expires_overdue_sessions_once, sweeper_case);
async fn sweeper_case(db: &TestDb) {
    let (payments, _bus, project) = setup(db).await;
    let store = db.store();
    let created = payments
        .create_session(session_cmd(&project), "t1")
        .await
        .unwrap();
    let fresh = payments
        .create_session(session_cmd(&project), "t2")
        .await
        .unwrap();
    // Choose a provider so an attempt is open when the deadline passes.
    payments
        .checkout_session(
            CheckoutSession {
                project_id: None,
                mode: None,
                session_id: created.session_id.clone(),
                provider_code: "wave".into(),
            },
            "t3",
        )
        .await
        .unwrap();
    // Nothing is overdue yet.
    assert_eq!(payments.expiry_sweeper().sweep_once().await.unwrap(), 0);
    // Move the deadline into the past the way time would: through a conditional update.
    let (session, payment, _) = store
        .get_session_view(&created.session_id)
        .await
        .unwrap()
        .unwrap();
    store
        .set_session_deadline(&session.id, now() - chrono::Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(payments.expiry_sweeper().sweep_once().await.unwrap(), 1);
    assert_eq!(
        payments.expiry_sweeper().sweep_once().await.unwrap(),
        0,
        "a second sweep changes nothing"
    );
    let (session, payment_after, _) = store.get_session_view(&session.id).await.unwrap().unwrap();
    assert_eq!(session.status, "expired");
    assert_eq!(payment_after.status, "EXPIRED");
    assert!(payment_after.resolved_at.is_some());
    let attempts = store.list_attempts(&payment.id).await.unwrap();
    assert!(
        attempts.iter().all(|a| a.status == "expired"),
        "{attempts:?}"
    );
    let kinds = outbox_kinds(store, &payment.id).await;
    assert_eq!(
        kinds.iter().filter(|k| *k == "payment.expired").count(),
        1,
        "{kinds:?}"
    );
    // The untouched session is still open.
    let (other, _, _) = store
        .get_session_view(&fresh.session_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(other.status, "opened");
    // An expired session cannot be checked out any more.
    let err = payments
        .checkout_session(
            CheckoutSession {
                project_id: None,
                mode: None,
                session_id: session.id.clone(),
                provider_code: "om".into(),
            },
            "t4",
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("session_closed"), "{err}");
}

both!(relay_publishes_every_event_once_and_marks_it, relay_case);
async fn relay_case(db: &TestDb) {
    let (payments, bus, project) = setup(db).await;
    let mut sub = bus.subscribe("test-observer", &["payment.*", "session.*"], 100);
    let created = payments
        .create_session(session_cmd(&project), "corr-1")
        .await
        .unwrap();
    payments
        .checkout_session(
            CheckoutSession {
                project_id: None,
                mode: None,
                session_id: created.session_id.clone(),
                provider_code: "om".into(),
            },
            "corr-2",
        )
        .await
        .unwrap();
    let relay = payments.outbox_relay();
    let mut published = 0;
    while let Ok(n) = relay.relay_once().await {
        if n == 0 {
            break;
        }
        published += n;
    }
    assert_eq!(published, 2);
    let mut kinds = Vec::new();
    for _ in 0..2 {
        let d = tokio::time::timeout(Duration::from_secs(5), sub.next())
            .await
            .unwrap()
            .unwrap();
        kinds.push(d.envelope.kind.clone());
        assert!(!d.envelope.correlation_id.is_empty());
        d.ack();
    }
    kinds.sort();
    assert_eq!(kinds, vec!["payment.pending", "session.created"]);
    assert_eq!(db.store().outbox_backlog().await.unwrap().0, 0);
    assert_eq!(
        relay.relay_once().await.unwrap(),
        0,
        "published rows are not sent again"
    );
}

both!(
    concurrent_provider_choices_leave_one_active_attempt,
    concurrent_case
);
async fn concurrent_case(db: &TestDb) {
    let (payments, _bus, project) = setup(db).await;
    let created = payments
        .create_session(session_cmd(&project), "c")
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..6 {
        let p = payments.clone();
        let id = created.session_id.clone();
        let code = if i % 2 == 0 { "wave" } else { "om" };
        tasks.push(tokio::spawn(async move {
            p.checkout_session(
                CheckoutSession {
                    project_id: None,
                    mode: None,
                    session_id: id,
                    provider_code: code.into(),
                },
                "c",
            )
            .await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        if t.await.unwrap().is_ok() {
            ok += 1;
        }
    }
    assert!(ok >= 1);
    let (_, payment, _) = db
        .store()
        .get_session_view(&created.session_id)
        .await
        .unwrap()
        .unwrap();
    let attempts = db.store().list_attempts(&payment.id).await.unwrap();
    let active = attempts
        .iter()
        .filter(|a| a.status == "pending" || a.status == "created")
        .count();
    assert_eq!(active, 1, "exactly one open attempt: {attempts:?}");
}

both!(
    direct_payment_expires_when_its_checkout_does,
    direct_expiry_case
);
async fn direct_expiry_case(db: &TestDb) {
    let (payments, _bus, project) = setup(db).await;
    let store = db.store();
    let mut cmd = initiate_cmd(&project, "k-1", 1500, "om");
    cmd.client_reference = Some("ORDER-9".into());
    let created = payments.initiate_payment(cmd.clone(), "d1").await.unwrap();
    // The same request key finds the same payment instead of creating another.
    let again = payments.initiate_payment(cmd, "d2").await.unwrap();
    assert_eq!(created.reference, again.reference);
    assert_eq!(
        payments.expiry_sweeper().sweep_once().await.unwrap(),
        0,
        "its checkout is still valid"
    );
    let payment = store
        .get_payment_by_reference(&created.reference)
        .await
        .unwrap()
        .unwrap();
    let attempt = store.list_attempts(&payment.id).await.unwrap().remove(0);
    assert!(store
        .set_attempt_deadline(&attempt.id, now() - chrono::Duration::seconds(1))
        .await
        .unwrap());
    assert_eq!(payments.expiry_sweeper().sweep_once().await.unwrap(), 1);
    let payment = store.get_payment(&payment.id).await.unwrap().unwrap();
    assert_eq!(payment.status, "EXPIRED");
    assert_eq!(
        store.list_attempts(&payment.id).await.unwrap()[0].status,
        "expired"
    );
    let kinds = outbox_kinds(store, &payment.id).await;
    assert_eq!(kinds, vec!["payment.pending", "payment.expired"]);
    assert_eq!(payments.expiry_sweeper().sweep_once().await.unwrap(), 0);
}

both!(redelivered_command_applies_once, redelivery_case);
/// The same message delivered twice (a replica died after committing, before its ack)
/// creates one session, answered twice with the same id; a new message creates another.
async fn redelivery_case(db: &TestDb) {
    let (_payments, bus, project) = setup(db).await;
    let msg = nexpay_bus::Envelope::new(
        nexpay_contracts::kinds::CREATE_SESSION,
        "corr-redelivery",
        serde_json::to_value(session_cmd(&project)).unwrap(),
    );
    let timeout = Duration::from_secs(5);
    let first = bus
        .request(nexpay_contracts::queues::PAYMENTS, msg.clone(), timeout)
        .await
        .unwrap();
    let again = bus
        .request(nexpay_contracts::queues::PAYMENTS, msg, timeout)
        .await
        .unwrap();
    assert!(first["sessionId"].is_string(), "{first}");
    assert_eq!(first["sessionId"], again["sessionId"], "{first} / {again}");
    let store = db.store();
    assert_eq!(store.count_payments(&project, "test").await.unwrap(), 1);
    let fresh = nexpay_bus::Envelope::new(
        nexpay_contracts::kinds::CREATE_SESSION,
        "corr-other",
        serde_json::to_value(session_cmd(&project)).unwrap(),
    );
    let other = bus
        .request(nexpay_contracts::queues::PAYMENTS, fresh, timeout)
        .await
        .unwrap();
    assert!(other["sessionId"].is_string(), "{other}");
    assert_ne!(first["sessionId"], other["sessionId"]);
    assert_eq!(store.count_payments(&project, "test").await.unwrap(), 2);
}

both!(
    provider_updates_are_checked_and_applied_once,
    provider_update_case
);
/// A confirmed success is applied only when the provider's amount and currency are the
/// payment's; a mismatch is flagged and changes nothing; a replayed success changes
/// nothing either; a success from another mode's credentials is refused.
async fn provider_update_case(db: &TestDb) {
    use nexpay_contracts::{ProviderState, ProviderStatus, ProviderUpdate};
    let (payments, _bus, project) = setup(db).await;
    let store = db.store();
    let cmd = initiate_cmd(&project, "k-upd", 2500, "wave");
    let created = payments.initiate_payment(cmd, "u1").await.unwrap();
    let payment = store
        .get_payment_by_reference(&created.reference)
        .await
        .unwrap()
        .unwrap();
    let attempt = store.list_attempts(&payment.id).await.unwrap().remove(0);
    let update = |amount: i64, mode: &str| ProviderUpdate {
        provider_code: "wave".into(),
        mode: mode.into(),
        provider_reference: attempt.provider_reference.clone(),
        status: ProviderStatus {
            state: ProviderState::Succeeded,
            provider_id: attempt.provider_id.clone().unwrap_or_default(),
            transaction_id: Some("T_TEST_1".into()),
            amount_minor: Some(amount),
            currency: Some("XOF".into()),
            payer: None,
            completed_at: None,
        },
        source: "webhook".into(),
        webhook_id: None,
        webhook_claim: None,
    };
    // Another mode's credentials cannot move this payment.
    let out = payments
        .apply_provider_update(update(2500, "live"), "u2")
        .await
        .unwrap();
    assert_eq!(out.outcome, "refused_other_mode");

    // The provider reports 2 000 where we asked 2 500: flagged, still pending.
    let out = payments
        .apply_provider_update(update(2000, "test"), "u3")
        .await
        .unwrap();
    assert_eq!(out.outcome, "flagged");
    let now = store.get_payment(&payment.id).await.unwrap().unwrap();
    assert_eq!(now.status, "PENDING");
    let flagged = store.list_attempts(&payment.id).await.unwrap().remove(0);
    assert_eq!(flagged.flag.as_deref(), Some("amount_mismatch"));
    assert_eq!(
        outbox_kinds(store, &payment.id).await,
        vec!["payment.pending"]
    );

    // The right amount: succeeded once, with its event in the same transaction.
    let out = payments
        .apply_provider_update(update(2500, "test"), "u4")
        .await
        .unwrap();
    assert_eq!(out.outcome, "applied");
    assert_eq!(out.payment_status.as_deref(), Some("SUCCEEDED"));
    let again = payments
        .apply_provider_update(update(2500, "test"), "u5")
        .await
        .unwrap();
    assert_eq!(again.outcome, "unchanged");
    let done = store.get_payment(&payment.id).await.unwrap().unwrap();
    assert_eq!(done.status, "SUCCEEDED");
    assert!(!done.late);
    assert_eq!(
        outbox_kinds(store, &payment.id).await,
        vec!["payment.pending", "payment.succeeded"]
    );
    let att = store.list_attempts(&payment.id).await.unwrap().remove(0);
    assert_eq!(att.provider_transaction_id.as_deref(), Some("T_TEST_1"));
    assert_eq!(att.next_check_at, None, "nothing left to reconcile");
}

// --- payments.cancel_session: the hosted page's "Cancel and return to the shop" ---

fn cancel_cmd(session_id: &str) -> CancelSession {
    CancelSession {
        project_id: None,
        mode: None,
        session_id: session_id.into(),
    }
}

fn choose(session_id: &str, provider: &str) -> CheckoutSession {
    CheckoutSession {
        project_id: None,
        mode: None,
        session_id: session_id.into(),
        provider_code: provider.into(),
    }
}

/// `(status, code, message)` of a business refusal.
fn rejection(err: HandlerError) -> (u16, String, String) {
    match err {
        HandlerError::Rejected {
            status,
            code,
            message,
            ..
        } => (status, code, message),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

/// The `payment.cancelled` outbox rows of a payment.
async fn cancelled_events(store: &Store, payment_id: &str) -> Vec<nexpay_store::OutboxRow> {
    store
        .list_outbox(payment_id)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.kind == "payment.cancelled")
        .collect()
}

async fn history_kinds(store: &Store, payment_id: &str) -> Vec<String> {
    store
        .list_payment_history(payment_id)
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.kind)
        .collect()
}

/// A confirmed Wave success for the payment's latest attempt.
async fn wave_success(store: &Store, payment_id: &str, amount: i64) -> ProviderUpdate {
    let attempt = store
        .list_attempts(payment_id)
        .await
        .unwrap()
        .pop()
        .unwrap();
    ProviderUpdate {
        provider_code: "wave".into(),
        mode: "test".into(),
        provider_reference: attempt.provider_reference.clone(),
        status: ProviderStatus {
            state: ProviderState::Succeeded,
            provider_id: attempt.provider_id.clone().unwrap_or_default(),
            transaction_id: Some("T_CANCEL_RACE".into()),
            amount_minor: Some(amount),
            currency: Some("XOF".into()),
            payer: None,
            completed_at: None,
        },
        source: "webhook".into(),
        webhook_id: None,
        webhook_claim: None,
    }
}

both!(cancel_opened_session, cancel_opened_case);
/// An opened session (no provider chosen yet), cancelled over the bus as the hosted page
/// does: session cancelled, payment CANCELLED, one `payment.cancelled` event built like
/// every payment event, one history row.
async fn cancel_opened_case(db: &TestDb) {
    let (payments, bus, project) = setup(db).await;
    let store = db.store();
    let created = payments
        .create_session(session_cmd(&project), "o1")
        .await
        .unwrap();
    let msg = Envelope::new(
        kinds::CANCEL_SESSION,
        "corr-cancel",
        serde_json::to_value(cancel_cmd(&created.session_id)).unwrap(),
    );
    let answer = bus
        .request(queues::PAYMENTS, msg, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(
        answer,
        json!({
            "sessionId": created.session_id,
            "status": "cancelled",
            "cancelUrl": "https://shop.example/cancel",
        })
    );
    let (session, payment, latest) = store
        .get_session_view(&created.session_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(session.status, "cancelled");
    assert_eq!(payment.status, "CANCELLED");
    assert!(payment.resolved_at.is_some());
    assert!(latest.is_none(), "no attempt was ever made");

    let rows = cancelled_events(store, &payment.id).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    assert_eq!(row.correlation_id, "corr-cancel");
    let body: serde_json::Value = serde_json::from_str(&row.payload).unwrap();
    assert_eq!(body["type"], "payment.cancelled");
    assert_eq!(body["id"], row.id.as_str());
    assert!(body["created_at"].is_string(), "{body}");
    let data = &body["data"];
    assert_eq!(data["status"], "CANCELLED");
    assert_eq!(data["amount"], "5000");
    assert_eq!(data["currency"], "XOF");
    assert_eq!(data["client_reference"], json!(null));
    assert_eq!(
        data["resolvedAt"],
        json!(
            chrono::TimeZone::from_utc_datetime(&chrono::Utc, &payment.resolved_at.unwrap())
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        )
    );
    assert_eq!(
        data["payer"],
        json!({"name": "Awa", "email": null, "phone": "+221771234567"})
    );
    assert_eq!(data["provider"], json!(null), "no provider was chosen");
    assert_eq!(
        data["project"],
        json!({"id": project, "name": "Ma Boutique"})
    );
    assert_eq!(data["metadata"], json!({"order_id": "A-1"}));
    assert_eq!(data["reference"], payment.reference.as_str());
    assert_eq!(data["sessionId"], created.session_id.as_str());
    assert_eq!(data["mode"], "test");
    assert_eq!(data["late"], false);

    let history = store.list_payment_history(&payment.id).await.unwrap();
    let cancelled: Vec<_> = history
        .iter()
        .filter(|h| h.kind == "payment.cancelled")
        .collect();
    assert_eq!(cancelled.len(), 1, "{history:?}");
    assert_eq!(cancelled[0].from_status.as_deref(), Some("PENDING"));
    assert_eq!(cancelled[0].to_status, "CANCELLED");
    assert_eq!(cancelled[0].attempt_id, None);
    let detail: serde_json::Value = serde_json::from_str(&cancelled[0].detail).unwrap();
    assert_eq!(detail["sessionId"], created.session_id.as_str());

    // A cancelled session cannot be checked out any more.
    let err = payments
        .checkout_session(choose(&created.session_id, "wave"), "o2")
        .await
        .unwrap_err();
    assert_eq!(rejection(err).1, "session_closed");
}

both!(
    cancel_session_with_pending_wave_attempt,
    cancel_pending_case
);
/// A session with a Wave checkout open: the attempt is cancelled and due for
/// reconciliation at once, which closes the checkout at Wave.
async fn cancel_pending_case(db: &TestDb) {
    let (payments, _bus, project, sims) = setup_with_sims(db).await;
    let store = db.store();
    let created = payments
        .create_session(session_cmd(&project), "w1")
        .await
        .unwrap();
    payments
        .checkout_session(choose(&created.session_id, "wave"), "w2")
        .await
        .unwrap();
    let (session, payment, latest) = store
        .get_session_view(&created.session_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(session.status, "pending");
    let attempt = latest.unwrap();
    assert_eq!(attempt.status, "pending");
    let wave_id = attempt.provider_id.clone().unwrap();

    let before = now();
    let answer = payments
        .cancel_session(cancel_cmd(&created.session_id), "w3")
        .await
        .unwrap();
    assert_eq!(answer.status, "cancelled");
    assert_eq!(answer.session_id, created.session_id);
    assert_eq!(
        answer.cancel_url.as_deref(),
        Some("https://shop.example/cancel")
    );
    let (session, payment_after, _) = store
        .get_session_view(&created.session_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(session.status, "cancelled");
    assert_eq!(payment_after.status, "CANCELLED");
    let att = store.list_attempts(&payment.id).await.unwrap().remove(0);
    assert_eq!(att.id, attempt.id);
    assert_eq!(att.status, "cancelled");
    assert!(att.resolved_at.is_some());
    let due = att.next_check_at.expect("due for reconciliation");
    assert!(due >= before && due <= now(), "{due} not now");
    let history = store.list_payment_history(&payment.id).await.unwrap();
    assert!(
        history.iter().any(|h| h.kind == "attempt.cancelled"
            && h.attempt_id.as_deref() == Some(attempt.id.as_str())
            && h.from_status.as_deref() == Some("pending")),
        "{history:?}"
    );
    assert_eq!(
        history_kinds(store, &payment.id)
            .await
            .iter()
            .filter(|k| *k == "payment.cancelled")
            .count(),
        1
    );

    // The event names the provider, with the same fields as the payment's other events.
    let outbox = store.list_outbox(&payment.id).await.unwrap();
    let kinds_seen: Vec<_> = outbox.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(
        kinds_seen,
        vec!["session.created", "payment.pending", "payment.cancelled"]
    );
    let body = |kind: &str| -> serde_json::Value {
        let row = outbox.iter().find(|r| r.kind == kind).unwrap();
        serde_json::from_str(&row.payload).unwrap()
    };
    let (pending, cancelled) = (body("payment.pending"), body("payment.cancelled"));
    assert_eq!(
        cancelled["data"]["provider"],
        json!({"name": "Wave", "code": "wave"})
    );
    let keys = |v: &serde_json::Value| -> Vec<String> {
        let mut k: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&pending), keys(&cancelled));
    assert_eq!(keys(&pending["data"]), keys(&cancelled["data"]));
    assert_eq!(cancelled["data"]["status"], "CANCELLED");
    assert_eq!(cancelled["data"]["reference"], pending["data"]["reference"]);

    // Reconciliation closes the checkout at Wave right away, and leaves it alone then.
    assert_eq!(
        sims.wave.session(&wave_id).unwrap().checkout_status,
        nexpay_sandbox::wave::CheckoutStatus::Open
    );
    assert!(payments.reconciler().run_once().await.unwrap() >= 1);
    assert_eq!(
        sims.wave.session(&wave_id).unwrap().checkout_status,
        nexpay_sandbox::wave::CheckoutStatus::Expired
    );
    let att = store.list_attempts(&payment.id).await.unwrap().remove(0);
    assert_eq!(att.status, "cancelled");
    assert_eq!(att.next_check_at, None, "nothing left to reconcile");
    let payment_after = store.get_payment(&payment.id).await.unwrap().unwrap();
    assert_eq!(payment_after.status, "CANCELLED");
    assert_eq!(cancelled_events(store, &payment.id).await.len(), 1);
}

both!(cancel_session_twice_is_idempotent, cancel_twice_case);
/// A second cancel (double click, retried message, the merchant's key) answers the same
/// and changes nothing; concurrent cancels write one event.
async fn cancel_twice_case(db: &TestDb) {
    let (payments, _bus, project) = setup(db).await;
    let store = db.store();
    let created = payments
        .create_session(session_cmd(&project), "i1")
        .await
        .unwrap();
    let first = payments
        .cancel_session(cancel_cmd(&created.session_id), "i2")
        .await
        .unwrap();
    let (session, payment, _) = store
        .get_session_view(&created.session_id)
        .await
        .unwrap()
        .unwrap();
    let history = history_kinds(store, &payment.id).await;
    let outbox = store.list_outbox(&payment.id).await.unwrap();
    let again = payments
        .cancel_session(
            CancelSession {
                project_id: Some(project.clone()),
                mode: Some("test".into()),
                session_id: created.session_id.clone(),
            },
            "i3",
        )
        .await
        .unwrap();
    assert_eq!(again, first);
    assert_eq!(again.status, "cancelled");
    let (session_again, payment_again, _) = store
        .get_session_view(&created.session_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(session_again, session, "the session did not change");
    assert_eq!(payment_again, payment, "the payment did not change");
    assert_eq!(history_kinds(store, &payment.id).await, history);
    assert_eq!(store.list_outbox(&payment.id).await.unwrap(), outbox);
    assert_eq!(cancelled_events(store, &payment.id).await.len(), 1);

    // Several clicks at once on another session: all answered, one cancellation.
    let other = payments
        .create_session(session_cmd(&project), "i4")
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..4 {
        let p = payments.clone();
        let id = other.session_id.clone();
        tasks.push(tokio::spawn(async move {
            p.cancel_session(cancel_cmd(&id), &format!("i5-{i}")).await
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().status, "cancelled");
    }
    let (s, p, _) = store
        .get_session_view(&other.session_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (s.status.as_str(), p.status.as_str()),
        ("cancelled", "CANCELLED")
    );
    assert_eq!(cancelled_events(store, &p.id).await.len(), 1);
    assert_eq!(
        history_kinds(store, &p.id)
            .await
            .iter()
            .filter(|k| *k == "payment.cancelled")
            .count(),
        1
    );
}

both!(cancel_closed_session_is_refused, cancel_closed_case);
/// A succeeded (or expired) session cannot be cancelled: 409 session_closed, nothing
/// changes.
async fn cancel_closed_case(db: &TestDb) {
    let (payments, _bus, project) = setup(db).await;
    let store = db.store();
    let created = payments
        .create_session(session_cmd(&project), "s1")
        .await
        .unwrap();
    payments
        .checkout_session(choose(&created.session_id, "wave"), "s2")
        .await
        .unwrap();
    let (_, payment, _) = store
        .get_session_view(&created.session_id)
        .await
        .unwrap()
        .unwrap();
    let out = payments
        .apply_provider_update(wave_success(store, &payment.id, 5000).await, "s3")
        .await
        .unwrap();
    assert_eq!(out.payment_status.as_deref(), Some("SUCCEEDED"));
    let before = store
        .get_session_view(&created.session_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(before.0.status, "succeeded");
    let outbox = store.list_outbox(&payment.id).await.unwrap();
    let history = history_kinds(store, &payment.id).await;

    let err = payments
        .cancel_session(cancel_cmd(&created.session_id), "s4")
        .await
        .unwrap_err();
    let (status, code, message) = rejection(err);
    assert_eq!((status, code.as_str()), (409, "session_closed"));
    assert!(message.contains("succeeded"), "{message}");
    let after = store
        .get_session_view(&created.session_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after, before, "nothing changed");
    assert_eq!(after.1.status, "SUCCEEDED");
    assert_eq!(store.list_outbox(&payment.id).await.unwrap(), outbox);
    assert_eq!(history_kinds(store, &payment.id).await, history);

    // An expired session likewise.
    let expiring = payments
        .create_session(session_cmd(&project), "s5")
        .await
        .unwrap();
    store
        .set_session_deadline(&expiring.session_id, now() - chrono::Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(payments.expiry_sweeper().sweep_once().await.unwrap(), 1);
    let err = payments
        .cancel_session(cancel_cmd(&expiring.session_id), "s6")
        .await
        .unwrap_err();
    let (status, code, message) = rejection(err);
    assert_eq!((status, code.as_str()), (409, "session_closed"));
    assert!(message.contains("expired"), "{message}");
    let (s, p, _) = store
        .get_session_view(&expiring.session_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (s.status.as_str(), p.status.as_str()),
        ("expired", "EXPIRED")
    );
    assert!(cancelled_events(store, &p.id).await.is_empty());
}

both!(
    cancel_unknown_or_foreign_session_is_not_found,
    cancel_not_found_case
);
/// Unknown and malformed ids, and another project's (or mode's) session, are 404 and
/// change nothing. The answer's URL falls back to the failure URL.
async fn cancel_not_found_case(db: &TestDb) {
    let (payments, bus, project) = setup(db).await;
    let store = db.store();
    let at = now();
    let other_project = ProjectRow {
        id: nexpay_domain::ProjectId::generate().into_string(),
        name: "Autre Boutique".into(),
        success_url: None,
        failure_url: Some("https://other.example/failed".into()),
        cancel_url: None,
        settings: "{}".into(),
        is_default: false,
        created_at: at,
        updated_at: at,
        archived_at: None,
    };
    store.insert_project(&other_project).await.unwrap();
    let foreign = payments
        .create_session(session_cmd(&other_project.id), "n1")
        .await
        .unwrap();

    let not_found = |err: HandlerError| {
        let (status, code, _) = rejection(err);
        assert_eq!((status, code.as_str()), (404, "not_found"));
    };
    for id in [
        nexpay_domain::SessionId::generate().into_string(),
        "cs_nope".to_owned(),
        String::new(),
        "cs_\u{0}aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_owned(),
    ] {
        not_found(
            payments
                .cancel_session(cancel_cmd(&id), "n2")
                .await
                .unwrap_err(),
        );
    }
    // The merchant API of the first project asks about the other project's session.
    not_found(
        payments
            .cancel_session(
                CancelSession {
                    project_id: Some(project.clone()),
                    mode: Some("test".into()),
                    session_id: foreign.session_id.clone(),
                },
                "n3",
            )
            .await
            .unwrap_err(),
    );
    // Its own project, but with a live key.
    not_found(
        payments
            .cancel_session(
                CancelSession {
                    project_id: Some(other_project.id.clone()),
                    mode: Some("live".into()),
                    session_id: foreign.session_id.clone(),
                },
                "n4",
            )
            .await
            .unwrap_err(),
    );
    // Over the bus, the refusal reaches the caller as it is.
    let msg = Envelope::new(
        kinds::CANCEL_SESSION,
        "n5",
        serde_json::to_value(CancelSession {
            project_id: Some(project.clone()),
            mode: Some("test".into()),
            session_id: foreign.session_id.clone(),
        })
        .unwrap(),
    );
    match bus
        .request(queues::PAYMENTS, msg, Duration::from_secs(5))
        .await
        .unwrap_err()
    {
        nexpay_bus::BusError::Handler(err) => not_found(err),
        other => panic!("unexpected {other:?}"),
    }
    let (session, payment, _) = store
        .get_session_view(&foreign.session_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(session.status, "opened");
    assert_eq!(payment.status, "PENDING");
    assert!(cancelled_events(store, &payment.id).await.is_empty());

    // Its own project may cancel it; with no cancel URL, the failure URL is the way back.
    let answer = payments
        .cancel_session(
            CancelSession {
                project_id: Some(other_project.id.clone()),
                mode: Some("test".into()),
                session_id: foreign.session_id.clone(),
            },
            "n6",
        )
        .await
        .unwrap();
    assert_eq!(answer.status, "cancelled");
    assert_eq!(
        answer.cancel_url.as_deref(),
        Some("https://other.example/failed")
    );
}

both!(
    cancel_racing_a_success_never_cancels_a_paid_payment,
    cancel_race_case
);
/// A cancel and a confirmed payment at the same moment: either the cancel loses (409
/// session_closed, no `payment.cancelled`), or it wins and the payment is then recorded
/// as a late success. A paid payment is never left cancelled.
async fn cancel_race_case(db: &TestDb) {
    let (payments, _bus, project) = setup(db).await;
    let store = db.store();
    for round in 0..4 {
        let created = payments
            .create_session(session_cmd(&project), "r1")
            .await
            .unwrap();
        payments
            .checkout_session(choose(&created.session_id, "wave"), "r2")
            .await
            .unwrap();
        let (_, payment, _) = store
            .get_session_view(&created.session_id)
            .await
            .unwrap()
            .unwrap();
        let update = wave_success(store, &payment.id, 5000).await;
        let (p1, p2) = (payments.clone(), payments.clone());
        let id = created.session_id.clone();
        let cancel = tokio::spawn(async move { p1.cancel_session(cancel_cmd(&id), "r3").await });
        let paid = tokio::spawn(async move { p2.apply_provider_update(update, "r4").await });
        let cancel = cancel.await.unwrap();
        paid.await.unwrap().unwrap();
        let (session, after, _) = store
            .get_session_view(&created.session_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(after.status, "SUCCEEDED", "round {round}");
        assert_eq!(session.status, "succeeded", "round {round}");
        let cancelled = cancelled_events(store, &payment.id).await;
        match cancel {
            Ok(answer) => {
                assert_eq!(answer.status, "cancelled");
                assert_eq!(cancelled.len(), 1, "round {round}");
                assert!(after.late, "paid after the cancel: late (round {round})");
            }
            Err(err) => {
                let (status, code, _) = rejection(err);
                assert_eq!((status, code.as_str()), (409, "session_closed"));
                assert!(cancelled.is_empty(), "round {round}");
                assert!(!after.late);
            }
        }
    }
}

both!(
    session_retry_under_its_key_gets_the_first_session,
    session_retry_case
);
/// A creation retried under the same Idempotency-Key gets the session created first,
/// from the unique index's conflict, even once no provider accepts the currency any
/// more; a project's new default URL applies to the next session.
async fn session_retry_case(db: &TestDb) {
    let (payments, _bus, project) = setup(db).await;
    let store = db.store();
    let keyed = |key: &str| {
        let mut cmd = session_cmd(&project);
        cmd.caller.request_key = Some(key.into());
        cmd
    };
    let first = payments.create_session(keyed("k-s"), "c").await.unwrap();
    let again = payments.create_session(keyed("k-s"), "c").await.unwrap();
    assert_eq!(again.session_id, first.session_id);
    assert_eq!(store.count_payments(&project, "test").await.unwrap(), 1);

    let update = nexpay_store::ProjectUpdate {
        success_url: Some(Some("https://shop.example/merci".into())),
        ..Default::default()
    };
    store.update_project(&project, &update).await.unwrap();
    let later = payments.create_session(keyed("k-t"), "c").await.unwrap();
    let row = store.get_session(&later.session_id).await.unwrap().unwrap();
    assert_eq!(
        row.success_url.as_deref(),
        Some("https://shop.example/merci"),
        "the project's new default"
    );

    for code in ["wave", "om"] {
        assert!(store.set_provider_enabled(code, false).await.unwrap());
    }
    let retried = payments.create_session(keyed("k-s"), "c").await.unwrap();
    assert_eq!(retried.session_id, first.session_id);
    let refused = payments
        .create_session(keyed("k-u"), "c")
        .await
        .unwrap_err();
    let (status, code, _) = rejection(refused);
    assert_eq!((status, code.as_str()), (422, "unsupported_currency"));
    assert_eq!(store.count_payments(&project, "test").await.unwrap(), 2);
}
