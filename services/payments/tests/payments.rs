//! The payments service over the in-process bus, on SQLite and PostgreSQL: expiry
//! sweeper, outbox relay, concurrent provider choices.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use nexpay_bus::{Bus, ConsumerOptions, InProcessBus};
use nexpay_contracts::{Caller, CheckoutSession, CreateSession, Customer, RedirectUrls};
use nexpay_payments::{Payments, PaymentsConfig};
use nexpay_provider_adapter::{Connectors, ProviderAdapter};
use nexpay_store::testing::TestDb;
use nexpay_store::{now, ProjectRow, ProviderRow, Store};

async fn setup(db: &TestDb) -> (Payments, InProcessBus, String) {
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
    let (_sims, sandbox) =
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
    (payments, bus, project.id)
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
    let cmd = nexpay_contracts::InitiatePayment {
        caller: Caller {
            project_id: project.clone(),
            mode: "test".into(),
            request_key: Some("k-1".into()),
        },
        amount_minor: 1500,
        currency: "XOF".into(),
        provider_code: "om".into(),
        customer: Customer {
            name: None,
            email: None,
            phone: "+221771234567".into(),
        },
        metadata: serde_json::json!({}),
        client_reference: Some("ORDER-9".into()),
        urls: RedirectUrls::default(),
    };
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
    let cmd = nexpay_contracts::InitiatePayment {
        caller: Caller {
            project_id: project.clone(),
            mode: "test".into(),
            request_key: Some("k-upd".into()),
        },
        amount_minor: 2500,
        currency: "XOF".into(),
        provider_code: "wave".into(),
        customer: Customer {
            name: None,
            email: None,
            phone: "+221771234567".into(),
        },
        metadata: serde_json::json!({}),
        client_reference: None,
        urls: RedirectUrls::default(),
    };
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
