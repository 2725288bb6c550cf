//! Simulator-only test control: pay a QR code, fault switches, delivery log.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::notify::spawn_dispatch;
use super::problem::{bad_request, not_found, problem};
use super::state::{Faults, PayOutcome, Transaction};
use super::OmSim;

/// Why a payment could not happen.
#[derive(Debug)]
pub(crate) enum PayError {
    UnknownQr,
    Expired,
    AlreadyPaid,
    BelowMinimum(i64),
    Invalid(String),
}

impl PayError {
    pub fn response(&self, instance: &str) -> HttpResponse {
        match self {
            Self::UnknownQr => not_found(instance),
            Self::Expired => problem(
                StatusCode::BAD_REQUEST,
                "/qr-code-expired",
                "QR code expired",
                instance,
                "4004",
                "The QR code has expired",
            ),
            Self::AlreadyPaid => problem(
                StatusCode::CONFLICT,
                "/qr-code-already-paid",
                "QR code already paid",
                instance,
                "409",
                "The QR code has already been paid",
            ),
            Self::BelowMinimum(min) => bad_request(
                instance,
                &format!("The amount is below the minimum payable amount ({min} XOF)"),
            ),
            Self::Invalid(detail) => bad_request(instance, detail),
        }
    }
}

fn is_msisdn(s: &str) -> bool {
    s.len() == 9 && s.bytes().all(|b| b.is_ascii_digit())
}

/// `MP<yyMMdd>.<HHmm>.A<5 digits>`.
fn transaction_id(now: DateTime<Utc>) -> String {
    let bytes = nexpay_security::random_bytes(4);
    let n = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) % 100_000;
    format!("MP{}.A{n:05}", now.format("%y%m%d.%H%M"))
}

/// A customer pays (or fails to pay) `qr_id` from `channel`: records the transaction and
/// sends the notification in the background. Returns the transaction object.
pub(crate) fn pay_qr(
    sim: &OmSim,
    qr_id: &str,
    msisdn: &str,
    channel: &str,
    outcome: PayOutcome,
) -> Result<Value, PayError> {
    if !is_msisdn(msisdn) {
        return Err(PayError::Invalid(
            "msisdn must be 9 local digits (77xxxxxxx, no +221)".into(),
        ));
    }
    if channel != "MAXIT" && channel != "OM" {
        return Err(PayError::Invalid("channel must be MAXIT or OM".into()));
    }
    let now = sim.now();
    let min = sim.config().min_payable_amount;
    let tx = {
        let mut st = sim.state();
        let qr = st.qrs.get(qr_id).ok_or(PayError::UnknownQr)?;
        if now >= qr.valid_until || now < qr.valid_from {
            return Err(PayError::Expired);
        }
        if qr.paid {
            return Err(PayError::AlreadyPaid);
        }
        if qr.amount < min {
            return Err(PayError::BelowMinimum(min));
        }
        let mut id = transaction_id(now);
        while st.transactions.iter().any(|t| t.transaction_id == id) {
            id = transaction_id(now);
        }
        let tx = Transaction {
            transaction_id: id,
            qr_id: qr.qr_id.clone(),
            amount: qr.amount,
            reference: qr.reference.clone(),
            metadata: qr.metadata.clone(),
            partner_code: qr.code.clone(),
            customer_msisdn: msisdn.to_owned(),
            channel: channel.to_owned(),
            status: outcome.status().to_owned(),
            created_at: now,
            updated_at: now + chrono::Duration::milliseconds(1831),
            idempotency_key: nexpay_security::random_hex(16),
        };
        if outcome == PayOutcome::Success {
            if let Some(q) = st.qrs.get_mut(qr_id) {
                q.paid = true;
            }
        }
        st.transactions.push(tx.clone());
        tx
    };
    spawn_dispatch(sim.clone(), tx.transaction_id.clone());
    Ok(tx.to_json())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PayRequest {
    msisdn: String,
    channel: String,
    #[serde(default = "default_outcome")]
    outcome: PayOutcome,
}

fn default_outcome() -> PayOutcome {
    PayOutcome::Success
}

/// `POST /_sim/qr/{qrId}/pay {msisdn, channel, outcome}`.
pub(crate) async fn pay(
    sim: web::Data<OmSim>,
    req: HttpRequest,
    qr_id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let body: PayRequest = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return bad_request(req.path(), &e.to_string()),
    };
    match pay_qr(&sim, &qr_id, &body.msisdn, &body.channel, body.outcome) {
        Ok(tx) => HttpResponse::Ok().json(tx),
        Err(e) => e.response(req.path()),
    }
}

/// `POST /_sim/faults` — replaces every switch (absent fields are off).
pub(crate) async fn set_faults(
    sim: web::Data<OmSim>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let faults: Faults = match serde_json::from_slice(&body) {
        Ok(f) => f,
        Err(e) => return bad_request(req.path(), &e.to_string()),
    };
    if faults
        .api_error_status
        .is_some_and(|s| StatusCode::from_u16(s).is_err() || s < 400)
    {
        return bad_request(req.path(), "apiErrorStatus must be an HTTP error status");
    }
    {
        let mut st = sim.state();
        st.faults = faults.clone();
        st.api_errors_served = 0;
    }
    HttpResponse::Ok().json(faults)
}

/// `GET /_sim/faults`.
pub(crate) async fn get_faults(sim: web::Data<OmSim>) -> HttpResponse {
    HttpResponse::Ok().json(sim.faults())
}

/// `GET /_sim/notifications` — every delivery attempt so far.
pub(crate) async fn notifications(sim: web::Data<OmSim>) -> HttpResponse {
    HttpResponse::Ok().json(sim.state().deliveries.clone())
}
