//! Payer page: what the customer sees in MaxIt / Orange Money after scanning the QR code.
//! French by default, English with `lang=en`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::control::{pay_qr, PayError};
use super::state::PayOutcome;
use super::OmSim;

/// Default payer number pre-filled in the form.
const DEFAULT_MSISDN: &str = "771234567";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Lang {
    Fr,
    En,
}

struct Texts {
    title: &'static str,
    pay_to: &'static str,
    amount: &'static str,
    reference: &'static str,
    number: &'static str,
    approve: &'static str,
    decline: &'static str,
    insufficient: &'static str,
    not_found: &'static str,
    expired: &'static str,
    already_paid: &'static str,
    paid: &'static str,
    declined: &'static str,
    failed_funds: &'static str,
    error: &'static str,
}

const FR: Texts = Texts {
    title: "Paiement marchand",
    pay_to: "Payer à",
    amount: "Montant",
    reference: "Référence",
    number: "Votre numéro",
    approve: "Confirmer le paiement",
    decline: "Refuser",
    insufficient: "Solde insuffisant",
    not_found: "Ce code QR est inconnu.",
    expired: "Ce code QR a expiré.",
    already_paid: "Ce code QR a déjà été payé.",
    paid: "Paiement effectué avec succès.",
    declined: "Paiement annulé.",
    failed_funds: "Échec du paiement : solde insuffisant.",
    error: "Le paiement n'a pas pu être effectué",
};

const EN: Texts = Texts {
    title: "Merchant payment",
    pay_to: "Pay to",
    amount: "Amount",
    reference: "Reference",
    number: "Your number",
    approve: "Approve payment",
    decline: "Decline",
    insufficient: "Insufficient funds",
    not_found: "This QR code is unknown.",
    expired: "This QR code has expired.",
    already_paid: "This QR code has already been paid.",
    paid: "Payment successful.",
    declined: "Payment cancelled.",
    failed_funds: "Payment failed: insufficient funds.",
    error: "The payment could not be made",
};

impl Lang {
    fn texts(self) -> &'static Texts {
        match self {
            Self::Fr => &FR,
            Self::En => &EN,
        }
    }

    fn code(self) -> &'static str {
        match self {
            Self::Fr => "fr",
            Self::En => "en",
        }
    }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// `1234567` → `1 234 567`.
fn group_thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let lead = digits.len() % 3;
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && i % 3 == lead {
            out.push(' ');
        }
        out.push(c);
    }
    if n < 0 {
        out.insert(0, '-');
    }
    out
}

fn params(raw: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn param<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn lang_of(params: &[(String, String)]) -> Lang {
    match param(params, "lang") {
        Some(l) if l.eq_ignore_ascii_case("en") => Lang::En,
        _ => Lang::Fr,
    }
}

fn channel_of(params: &[(String, String)]) -> &'static str {
    match param(params, "channel") {
        Some(c) if c.eq_ignore_ascii_case("OM") => "OM",
        _ => "MAXIT",
    }
}

fn html(status: StatusCode, lang: Lang, channel: &str, body: &str) -> HttpResponse {
    let brand = if channel == "OM" {
        "Orange Money"
    } else {
        "Max it"
    };
    let page = format!(
        "<!DOCTYPE html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{brand} — {title}</title>\
<style>body{{font-family:sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem}}\
header{{background:#ff7900;color:#fff;padding:.75rem 1rem;font-weight:bold}}\
.amount{{font-size:2rem;font-weight:bold}}button{{width:100%;padding:.75rem;margin:.25rem 0;font-size:1rem}}\
</style></head><body><header>{brand}</header><main>{body}</main></body></html>\n",
        lang = lang.code(),
        title = lang.texts().title,
    );
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(page)
}

fn error_message(t: &Texts, e: &PayError) -> (StatusCode, String) {
    match e {
        PayError::UnknownQr => (StatusCode::NOT_FOUND, t.not_found.to_owned()),
        PayError::Expired => (StatusCode::GONE, t.expired.to_owned()),
        PayError::AlreadyPaid => (StatusCode::CONFLICT, t.already_paid.to_owned()),
        PayError::BelowMinimum(min) => (
            StatusCode::BAD_REQUEST,
            format!("{} (minimum {} XOF).", t.error, group_thousands(*min)),
        ),
        PayError::Invalid(detail) => (StatusCode::BAD_REQUEST, format!("{}: {detail}", t.error)),
    }
}

/// `GET /pay/{qrId}?channel=MAXIT|OM&lang=fr|en`.
pub(crate) async fn page(
    sim: web::Data<OmSim>,
    req: HttpRequest,
    qr_id: web::Path<String>,
) -> HttpResponse {
    let params = params(req.query_string().as_bytes());
    let lang = lang_of(&params);
    let channel = channel_of(&params);
    let t = lang.texts();
    let now = sim.now();
    let view = {
        let st = sim.state();
        st.qrs.get(qr_id.as_str()).map(|q| {
            let state = if q.paid {
                Some(PayError::AlreadyPaid)
            } else if now >= q.valid_until {
                Some(PayError::Expired)
            } else {
                None
            };
            (q.name.clone(), q.amount, q.reference.clone(), state)
        })
    };
    let Some((name, amount, reference, state)) = view else {
        let (status, msg) = error_message(t, &PayError::UnknownQr);
        return html(status, lang, channel, &format!("<p>{}</p>", escape(&msg)));
    };
    if let Some(e) = state {
        let (status, msg) = error_message(t, &e);
        return html(status, lang, channel, &format!("<p>{}</p>", escape(&msg)));
    }
    let id = escape(&qr_id);
    let hidden = format!(
        "<input type=\"hidden\" name=\"channel\" value=\"{channel}\">\
<input type=\"hidden\" name=\"lang\" value=\"{}\">",
        lang.code()
    );
    let reference = reference
        .map(|r| format!("<p>{}&nbsp;: {}</p>", t.reference, escape(&r)))
        .unwrap_or_default();
    let form = |action: &str, label: &str| {
        format!(
            "<form method=\"post\" action=\"{id}/{action}\">{hidden}\
<input type=\"hidden\" name=\"msisdn\" value=\"{DEFAULT_MSISDN}\" class=\"msisdn\">\
<button type=\"submit\" name=\"action\" value=\"{action}\">{label}</button></form>"
        )
    };
    let body = format!(
        "<h1>{title}</h1><p>{pay_to}&nbsp;: <strong id=\"merchant\">{name}</strong></p>\
<p>{amount_label}</p><p class=\"amount\" id=\"amount\">{amount} FCFA</p>{reference}\
<p><label>{number}&nbsp;: <input id=\"msisdn\" value=\"{DEFAULT_MSISDN}\" \
pattern=\"[0-9]{{9}}\" oninput=\"document.querySelectorAll('.msisdn').forEach(e => e.value = this.value)\">\
</label></p>{approve}{decline}{insufficient}",
        title = t.title,
        pay_to = t.pay_to,
        name = escape(&name),
        amount_label = t.amount,
        amount = group_thousands(amount),
        number = t.number,
        approve = form("approve", t.approve),
        decline = form("decline", t.decline),
        insufficient = form("insufficient", t.insufficient),
    );
    html(StatusCode::OK, lang, channel, &body)
}

/// `POST /pay/{qrId}/approve|decline|insufficient` (form: msisdn, channel, lang).
pub(crate) async fn act(
    sim: web::Data<OmSim>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let (qr_id, action) = path.into_inner();
    let params = params(&body);
    let lang = lang_of(&params);
    let channel = channel_of(&params);
    let t = lang.texts();
    let (outcome, done) = match action.as_str() {
        "approve" => (PayOutcome::Success, t.paid),
        "decline" => (PayOutcome::Cancelled, t.declined),
        "insufficient" => (PayOutcome::Failed, t.failed_funds),
        _ => return HttpResponse::NotFound().finish(),
    };
    let msisdn = param(&params, "msisdn").unwrap_or(DEFAULT_MSISDN).trim();
    match pay_qr(&sim, &qr_id, msisdn, channel, outcome) {
        Ok(tx) => {
            let id = tx
                .get("transactionId")
                .and_then(|v| v.as_str())
                .unwrap_or_default();
            html(
                StatusCode::OK,
                lang,
                channel,
                &format!(
                    "<p id=\"result\">{done}</p><p>Transaction&nbsp;: <code id=\"transaction\">{}</code></p>",
                    escape(id)
                ),
            )
        }
        Err(e) => {
            let (status, msg) = error_message(t, &e);
            html(status, lang, channel, &format!("<p>{}</p>", escape(&msg)))
        }
    }
}
