//! Row constructors with unique ids, and small counting helpers.

use chrono::{Duration, NaiveDate, NaiveDateTime};
use nexpay_store::testing::unique_suffix;
use nexpay_store::{
    now, ApiKeyRow, AttemptRow, NewPaymentBundle, OutboxEvent, PaymentEventRow, PaymentRow,
    PaymentUpdate, ProjectRow, SessionRow, SessionUpdate, StatusChange, Store, StoreResult,
    UserRow,
};

pub fn uid(prefix: &str) -> String {
    format!("{prefix}_{}", unique_suffix())
}

/// A fixed timestamp with microseconds, for exact round-trip checks.
pub fn ts(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, micro: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(y, mo, d)
        .and_then(|date| date.and_hms_micro_opt(h, mi, s, micro))
        .expect("valid timestamp")
}

pub fn project() -> ProjectRow {
    let at = now();
    ProjectRow {
        id: uid("prj"),
        name: "Boutique".to_owned(),
        success_url: Some("https://shop.example/ok".to_owned()),
        failure_url: Some("https://shop.example/ko".to_owned()),
        cancel_url: None,
        settings: r#"{"theme":"dark"}"#.to_owned(),
        is_default: false,
        created_at: at,
        updated_at: at,
        archived_at: None,
    }
}

/// Inserts a fresh project and returns it.
pub async fn seed_project(store: &Store) -> StoreResult<ProjectRow> {
    let row = project();
    store.insert_project(&row).await?;
    Ok(row)
}

pub fn api_key(project_id: &str, mode: &str) -> ApiKeyRow {
    ApiKeyRow {
        id: uid("key"),
        project_id: project_id.to_owned(),
        kind: "write".to_owned(),
        mode: mode.to_owned(),
        prefix: "np_test_".to_owned(),
        key_hash: uid("hash"),
        label: Some("ci".to_owned()),
        created_at: now(),
        last_used_at: None,
        expires_at: None,
        revoked_at: None,
    }
}

/// Callers store emails lowercase.
pub fn user() -> UserRow {
    let at = now();
    UserRow {
        id: uid("usr"),
        email: format!("{}@example.com", uid("admin")),
        password_hash: "$argon2id$old".to_owned(),
        role: "admin".to_owned(),
        must_change_password: false,
        session_version: 1,
        created_at: at,
        updated_at: at,
        disabled_at: None,
    }
}

pub fn payment(project_id: &str, mode: &str, request_key: Option<&str>) -> PaymentRow {
    let at = now();
    PaymentRow {
        id: uid("pay"),
        reference: uid("NPX"),
        project_id: project_id.to_owned(),
        mode: mode.to_owned(),
        session_id: None,
        amount: 10_000,
        currency: "XOF".to_owned(),
        payer_name: Some("Ada".to_owned()),
        payer_email: Some("ada@example.com".to_owned()),
        payer_phone: "+221770000000".to_owned(),
        metadata: r#"{"order":"42"}"#.to_owned(),
        client_reference: Some("order-42".to_owned()),
        status: "PENDING".to_owned(),
        provider_code: None,
        late: false,
        request_key: request_key.map(str::to_owned),
        created_at: at,
        updated_at: at,
        resolved_at: None,
    }
}

pub fn session(payment: &PaymentRow, status: &str, expires_at: NaiveDateTime) -> SessionRow {
    SessionRow {
        id: uid("cs"),
        project_id: payment.project_id.clone(),
        mode: payment.mode.clone(),
        payment_id: payment.id.clone(),
        amount: payment.amount,
        currency: payment.currency.clone(),
        customer_name: payment.payer_name.clone(),
        customer_email: payment.payer_email.clone(),
        customer_phone: payment.payer_phone.clone(),
        metadata: payment.metadata.clone(),
        items: Some(r#"[{"name":"tee","qty":1}]"#.to_owned()),
        client_reference: payment.client_reference.clone(),
        success_url: Some("https://shop.example/ok".to_owned()),
        failure_url: None,
        cancel_url: None,
        status: status.to_owned(),
        request_key: payment.request_key.clone(),
        expires_at,
        created_at: payment.created_at,
        updated_at: payment.created_at,
    }
}

pub fn history(payment_id: &str, from: Option<&str>, to: &str) -> PaymentEventRow {
    PaymentEventRow {
        id: uid("evt"),
        payment_id: payment_id.to_owned(),
        attempt_id: None,
        kind: "status_changed".to_owned(),
        from_status: from.map(str::to_owned),
        to_status: to.to_owned(),
        detail: "{}".to_owned(),
        created_at: now(),
    }
}

pub fn event(kind: &str, aggregate_id: &str) -> OutboxEvent {
    OutboxEvent {
        id: uid("obx"),
        kind: kind.to_owned(),
        aggregate_id: aggregate_id.to_owned(),
        correlation_id: uid("corr"),
        payload: serde_json::json!({ "id": aggregate_id, "kind": kind }),
    }
}

pub fn attempt(payment_id: &str) -> AttemptRow {
    let at = now();
    AttemptRow {
        id: uid("att"),
        payment_id: payment_id.to_owned(),
        provider_code: "wave".to_owned(),
        provider_reference: uid("ref"),
        provider_id: None,
        provider_transaction_id: None,
        status: "PENDING".to_owned(),
        checkout_urls: "[]".to_owned(),
        qr_png_base64: None,
        expires_at: Some(at + Duration::minutes(10)),
        failure_code: None,
        failure_message: None,
        late: false,
        created_at: at,
        updated_at: at,
        resolved_at: None,
        next_check_at: None,
        checks: 0,
        flag: None,
    }
}

/// A hosted-checkout payment: payment + open session + first history row + one event.
pub fn bundle(project_id: &str, mode: &str, request_key: Option<&str>) -> NewPaymentBundle {
    let mut payment = payment(project_id, mode, request_key);
    let session = session(&payment, "opened", now() + Duration::minutes(30));
    payment.session_id = Some(session.id.clone());
    NewPaymentBundle {
        history: vec![history(&payment.id, None, "PENDING")],
        events: vec![event("payment.created", &payment.id)],
        session: Some(session),
        payment,
    }
}

/// PENDING → SUCCEEDED, resolved at `at`.
pub fn payment_succeeds(id: &str, at: NaiveDateTime) -> StatusChange {
    StatusChange::Payment {
        id: id.to_owned(),
        from: vec!["PENDING".to_owned()],
        set: PaymentUpdate {
            status: Some("SUCCEEDED".to_owned()),
            resolved_at: Some(Some(at)),
            updated_at: Some(at),
            ..PaymentUpdate::default()
        },
    }
}

pub fn session_to(id: &str, from: &[&str], to: &str) -> StatusChange {
    StatusChange::Session {
        id: id.to_owned(),
        from: from.iter().map(|s| (*s).to_owned()).collect(),
        set: SessionUpdate {
            status: Some(to.to_owned()),
            updated_at: Some(now()),
        },
    }
}

/// (history rows, outbox rows) recorded for a payment.
pub async fn trail(store: &Store, payment_id: &str) -> StoreResult<(usize, usize)> {
    Ok((
        store.list_payment_history(payment_id).await?.len(),
        store.list_outbox(payment_id).await?.len(),
    ))
}
