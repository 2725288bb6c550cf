//! Replies built from stored rows, with the existing API's field names.

use nexpay_contracts::{CheckoutLink, Payer, PaymentInitiated, ProviderRef, QrCode};
use nexpay_domain::Currency;
use nexpay_store::{AttemptRow, PaymentRow, ProviderRow};
use sha2::{Digest, Sha256};

use crate::events::rfc3339;

/// A stable payer id per project and phone number, so the same customer keeps the same
/// `userId` without NexPay keeping a customer table.
pub(crate) fn payer_id(project_id: &str, phone: &str) -> String {
    let digest = Sha256::digest(format!("{project_id}:{phone}").as_bytes());
    format!("cus_{}", hex::encode(&digest[..12]))
}

/// Amounts are numbers in major units, as in requests; zero-exponent currencies (XOF)
/// are exact integers.
pub(crate) fn amount_json(amount: i64, currency: &str) -> serde_json::Value {
    match Currency::parse(currency) {
        Ok(c) if c.exponent() == 0 => serde_json::Value::from(amount),
        _ => serde_json::Value::String(crate::events::major_amount(amount, currency)),
    }
}

pub(crate) fn provider_ref(p: &ProviderRow) -> ProviderRef {
    ProviderRef {
        id: p.code.clone(),
        name: p.name.clone(),
        code: p.code.clone(),
        logo_url: p.logo_url.clone(),
    }
}

pub(crate) fn payment_view(
    payment: &PaymentRow,
    attempt: &AttemptRow,
    provider: &ProviderRow,
) -> PaymentInitiated {
    PaymentInitiated {
        amount: amount_json(payment.amount, &payment.currency),
        currency: payment.currency.clone(),
        provider: provider_ref(provider),
        reference: payment.reference.clone(),
        payer: Payer {
            user_id: payer_id(&payment.project_id, &payment.payer_phone),
            email: payment.payer_email.clone(),
            phone: payment.payer_phone.clone(),
            name: payment.payer_name.clone(),
        },
        checkout_urls: serde_json::from_str::<Vec<CheckoutLink>>(&attempt.checkout_urls)
            .unwrap_or_default(),
        qr_code: attempt.qr_png_base64.clone().map(|data| QrCode { data }),
        expiration: attempt.expires_at.map(rfc3339),
        status: payment.status.clone(),
        session_id: payment.session_id.clone(),
        client_reference: payment.client_reference.clone(),
    }
}
