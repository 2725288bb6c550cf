//! The ceiling: what the storage alone can do. The rows one session creation writes (a
//! payment, its checkout session, one history row, one outbox event: see
//! `services/payments/src/sessions.rs`) go through `Store::insert_payment_bundle`, the
//! very call the payments service makes, from N tasks, with no HTTP, JSON validation,
//! authentication or bus in front. The store brings its own durability settings (SQLite:
//! WAL, synchronous=FULL, busy_timeout=5000, one writer connection; PostgreSQL: the
//! server's) and its own pool.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use nexpay_domain::{EventId, PaymentId, PaymentReference, ProjectId, SessionId};
use nexpay_store::{
    now, NewPaymentBundle, OutboxEvent, PaymentEventRow, PaymentRow, ProjectRow, SessionRow, Store,
};
use serde_json::json;

use crate::load::{run_workers, Timing};
use crate::stats::{PhaseResult, Recorder};

/// The product's default `DB_MAX_CONNECTIONS`, so the ceiling uses the pool the child has.
const POOL_SIZE: usize = 16;
const SESSION_TTL_SECS: i64 = 1800;

/// Migrates the (fresh) database at `url`, adds one project, then inserts bundles from
/// `timing.concurrency` tasks for warm-up + duration.
pub async fn run(url: &str, timing: Timing) -> anyhow::Result<PhaseResult> {
    let applied = nexpay_store::run_migrations(url)
        .await
        .context("applying the migrations to the ceiling database")?;
    anyhow::ensure!(
        applied > 0,
        "the ceiling database was not fresh (no migration applied)"
    );
    let store = Store::connect(url, POOL_SIZE).await?;
    let project = project_row();
    store.insert_project(&project).await?;
    let project_id = Arc::new(project.id);
    let (rec, _) = run_workers(timing, |w, window| {
        let (store, project_id) = (store.clone(), project_id.clone());
        async move {
            let mut rec = Recorder::new();
            let mut n = 0u64;
            while !window.over() {
                n += 1;
                let started = Instant::now();
                let bundle = session_bundle(&project_id, w, n);
                match store.insert_payment_bundle(bundle).await {
                    Ok(()) if window.counts(started) => rec.ok(started.elapsed()),
                    Ok(()) => {}
                    Err(e) if window.counts(started) => rec.error(e.to_string()),
                    Err(_) => {}
                }
            }
            (rec, ())
        }
    })
    .await?;
    Ok(rec.finish("ceiling (Store::insert_payment_bundle)", timing.duration))
}

fn project_row() -> ProjectRow {
    let at = now();
    ProjectRow {
        id: ProjectId::generate().into_string(),
        name: "Default project".to_owned(),
        success_url: None,
        failure_url: None,
        cancel_url: None,
        settings: "{}".to_owned(),
        is_default: true,
        created_at: at,
        updated_at: at,
        archived_at: None,
    }
}

/// The same rows, with the same contents, that `Payments::create_session` builds for the
/// benchmark's request body.
fn session_bundle(project_id: &str, worker: usize, n: u64) -> NewPaymentBundle {
    let at = now();
    let session_id = SessionId::generate().into_string();
    let metadata = json!({"order_id": format!("BENCH-{worker}-{n}")}).to_string();
    let payment = PaymentRow {
        id: PaymentId::generate().into_string(),
        reference: PaymentReference::generate().into_string(),
        project_id: project_id.to_owned(),
        mode: "test".to_owned(),
        session_id: Some(session_id.clone()),
        amount: 10000,
        currency: "XOF".to_owned(),
        payer_name: Some("Mouhamed Baba".to_owned()),
        payer_email: Some("customer@example.com".to_owned()),
        payer_phone: "+221771234567".to_owned(),
        metadata: metadata.clone(),
        client_reference: None,
        status: "PENDING".to_owned(),
        provider_code: None,
        late: false,
        request_key: None,
        created_at: at,
        updated_at: at,
        resolved_at: None,
    };
    let session = SessionRow {
        id: session_id.clone(),
        project_id: project_id.to_owned(),
        mode: "test".to_owned(),
        payment_id: payment.id.clone(),
        amount: 10000,
        currency: "XOF".to_owned(),
        customer_name: payment.payer_name.clone(),
        customer_email: payment.payer_email.clone(),
        customer_phone: payment.payer_phone.clone(),
        metadata,
        items: None,
        client_reference: None,
        success_url: Some("https://shop.example.com/success".to_owned()),
        failure_url: None,
        cancel_url: Some("https://shop.example.com/cancel".to_owned()),
        status: "opened".to_owned(),
        request_key: None,
        expires_at: at + chrono::Duration::seconds(SESSION_TTL_SECS),
        created_at: at,
        updated_at: at,
    };
    let history = PaymentEventRow {
        id: EventId::generate().into_string(),
        payment_id: payment.id.clone(),
        attempt_id: None,
        kind: "session.created".to_owned(),
        from_status: None,
        to_status: "PENDING".to_owned(),
        detail: json!({"sessionId": session_id}).to_string(),
        created_at: at,
    };
    let event = OutboxEvent {
        id: EventId::generate().into_string(),
        kind: "session.created".to_owned(),
        aggregate_id: payment.id.clone(),
        correlation_id: format!("bench-{worker}-{n}"),
        payload: json!({"sessionId": session_id, "projectId": project_id, "mode": "test", "amount": 10000, "currency": "XOF"}),
    };
    NewPaymentBundle {
        payment,
        session: Some(session),
        history: vec![history],
        events: vec![event],
    }
}
