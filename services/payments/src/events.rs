//! History rows and outbox events, built next to the change that causes them.

use chrono::{NaiveDateTime, SecondsFormat, TimeZone, Utc};
use nexpay_contracts::{NamedRef, PayerRef, PaymentEvent, PaymentEventData, ProjectRef};
use nexpay_domain::{Currency, EventId, EventType, Money};
use nexpay_store::{OutboxEvent, PaymentEventRow, PaymentRow, ProjectRow, ProviderRow};

pub(crate) fn rfc3339(at: NaiveDateTime) -> String {
    Utc.from_utc_datetime(&at)
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(crate) fn history(
    payment_id: &str,
    attempt_id: Option<&str>,
    kind: &str,
    from: Option<&str>,
    to: &str,
    detail: serde_json::Value,
    at: NaiveDateTime,
) -> PaymentEventRow {
    PaymentEventRow {
        id: EventId::generate().into_string(),
        payment_id: payment_id.to_owned(),
        attempt_id: attempt_id.map(str::to_owned),
        kind: kind.to_owned(),
        from_status: from.map(str::to_owned),
        to_status: to.to_owned(),
        detail: detail.to_string(),
        created_at: at,
    }
}

pub(crate) fn major_amount(amount: i64, currency: &str) -> String {
    Currency::parse(currency)
        .ok()
        .and_then(|c| Money::from_minor(amount, c).ok())
        .map(|m| m.to_major_string())
        .unwrap_or_else(|| amount.to_string())
}

/// The merchant-facing event for `payment` as it is AFTER the change (`status`,
/// `resolved_at`), written to the outbox in the same transaction.
#[allow(clippy::too_many_arguments)]
pub(crate) fn merchant_event(
    kind: EventType,
    payment: &PaymentRow,
    project: &ProjectRow,
    provider: Option<&ProviderRow>,
    resolved_at: Option<NaiveDateTime>,
    late: bool,
    correlation_id: &str,
    at: NaiveDateTime,
) -> OutboxEvent {
    let id = EventId::generate().into_string();
    let status = nexpay_domain::PaymentStatus::ALL
        .iter()
        .find(|s| EventType::for_payment_status(**s) == kind)
        .map(|s| s.as_str())
        .unwrap_or("PENDING");
    let event = PaymentEvent {
        kind: kind.as_str().to_owned(),
        data: PaymentEventData {
            amount: major_amount(payment.amount, &payment.currency),
            client_reference: payment.client_reference.clone(),
            status: status.to_owned(),
            resolved_at: resolved_at.map(rfc3339),
            payer: PayerRef {
                name: payment.payer_name.clone(),
                email: payment.payer_email.clone(),
                phone: payment.payer_phone.clone(),
            },
            provider: provider.map(|p| NamedRef {
                name: p.name.clone(),
                code: p.code.clone(),
            }),
            project: ProjectRef {
                id: project.id.clone(),
                name: project.name.clone(),
            },
            metadata: serde_json::from_str(&payment.metadata)
                .unwrap_or_else(|_| serde_json::json!({})),
            reference: payment.reference.clone(),
            session_id: payment.session_id.clone(),
            currency: payment.currency.clone(),
            mode: payment.mode.clone(),
            late,
        },
        id: id.clone(),
        created_at: rfc3339(at),
    };
    OutboxEvent {
        id,
        kind: kind.as_str().to_owned(),
        aggregate_id: payment.id.clone(),
        correlation_id: correlation_id.to_owned(),
        payload: serde_json::to_value(&event).unwrap_or_default(),
    }
}
