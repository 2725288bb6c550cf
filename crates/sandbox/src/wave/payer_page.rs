//! The payer page (`GET /c/{id}`): what the customer sees after scanning the QR
//! code or opening `wave_launch_url`. French by default, English with `?lang=en`.
//! Its buttons drive the same state machine as the `/_sim` endpoints.

use actix_web::http::header::{CACHE_CONTROL, LOCATION};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::control::default_payer;
use super::model::{CheckoutStatus, Session};
use super::sim::{SimError, WaveSim};

pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/c/{id}").route(web::get().to(page)))
        .service(web::resource("/c/{id}/approve").route(web::post().to(approve)))
        .service(web::resource("/c/{id}/decline").route(web::post().to(decline)))
        .service(web::resource("/c/{id}/insufficient").route(web::post().to(insufficient)));
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lang {
    Fr,
    En,
}

impl Lang {
    fn from_query(req: &HttpRequest) -> Self {
        let en = url::form_urlencoded::parse(req.query_string().as_bytes())
            .any(|(k, v)| k == "lang" && v.eq_ignore_ascii_case("en"));
        if en {
            Self::En
        } else {
            Self::Fr
        }
    }

    fn code(self) -> &'static str {
        match self {
            Self::Fr => "fr",
            Self::En => "en",
        }
    }

    fn t(self, fr: &'static str, en: &'static str) -> &'static str {
        match self {
            Self::Fr => fr,
            Self::En => en,
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

/// `1000` → `1 000 F CFA` (fr) / `1,000 XOF` (en).
fn format_amount(amount: &str, currency: &str, lang: Lang) -> String {
    let (int, frac) = amount.split_once('.').unwrap_or((amount, ""));
    let sep = lang.t(" ", ",");
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push_str(sep);
        }
        grouped.push(c);
    }
    if !frac.is_empty() {
        grouped.push_str(lang.t(",", "."));
        grouped.push_str(frac);
    }
    let unit = if currency == "XOF" && lang == Lang::Fr {
        "F CFA"
    } else {
        currency
    };
    format!("{grouped} {unit}")
}

fn render(session: &Session, base_path: &str, lang: Lang) -> String {
    let amount = escape(&format_amount(&session.amount, &session.currency, lang));
    let merchant = escape(&session.business_name);
    let mut body = String::new();
    match session.checkout_status {
        CheckoutStatus::Complete => body.push_str(&format!(
            "<p class=\"ok\" id=\"status\">{}</p><p>{} {}</p>",
            lang.t("Paiement effectué.", "Payment completed."),
            lang.t("Transaction :", "Transaction:"),
            escape(session.transaction_id.as_deref().unwrap_or(""))
        )),
        CheckoutStatus::Expired => body.push_str(&format!(
            "<p class=\"ko\" id=\"status\">{}</p>",
            lang.t(
                "Ce lien de paiement a expiré.",
                "This payment link has expired."
            )
        )),
        CheckoutStatus::Open => {
            if let Some(err) = &session.last_payment_error {
                body.push_str(&format!(
                    "<p class=\"ko\" id=\"last-error\">{} {} ({})</p>",
                    lang.t(
                        "La dernière tentative a échoué :",
                        "The last attempt failed:"
                    ),
                    escape(&err.message),
                    escape(&err.code)
                ));
            }
            let payer = session
                .restrict_payer_mobile
                .clone()
                .unwrap_or_else(default_payer);
            let action = |name: &str, label: &str, class: &str| {
                format!(
                    "<form method=\"post\" action=\"{base}/{name}\">\
                     <input type=\"hidden\" name=\"lang\" value=\"{lang}\">\
                     <input type=\"hidden\" name=\"payer_mobile\" value=\"{payer}\">\
                     <button type=\"submit\" class=\"{class}\">{label}</button></form>",
                    base = escape(base_path),
                    lang = lang.code(),
                    payer = escape(&payer),
                )
            };
            body.push_str(&format!(
                "<p>{} <strong>{}</strong></p>",
                lang.t("Payer en tant que", "Pay as"),
                escape(&payer)
            ));
            body.push_str(&action(
                "approve",
                lang.t("Approuver", "Approve"),
                "approve",
            ));
            body.push_str(&action("decline", lang.t("Refuser", "Decline"), "decline"));
            body.push_str(&action(
                "insufficient",
                lang.t("Solde insuffisant", "Insufficient funds"),
                "insufficient",
            ));
        }
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"{code}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>body{{font-family:sans-serif;max-width:28rem;margin:2rem auto;\
         text-align:center}}.amount{{font-size:2rem;font-weight:bold}}button{{width:100%;\
         padding:.8rem;margin:.3rem 0;border:0;border-radius:.5rem;font-size:1rem}}\
         .approve{{background:#1dc8ff}}.decline{{background:#eee}}.insufficient{{background:#ffd166}}\
         .ok{{color:#0a7d2c}}.ko{{color:#b00020}}</style></head><body>\
         <p class=\"sandbox\">{sandbox}</p><h1 id=\"merchant\">{merchant}</h1>\
         <p class=\"amount\" id=\"amount\">{amount}</p>{body}</body></html>",
        code = lang.code(),
        title = lang.t("Paiement Wave", "Wave payment"),
        sandbox = lang.t(
            "Simulateur Wave — aucun argent réel",
            "Wave simulator — no real money"
        ),
    )
}

fn html(status: actix_web::http::StatusCode, content: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((CACHE_CONTROL, "no-store"))
        .body(content)
}

async fn page(sim: web::Data<WaveSim>, req: HttpRequest, id: web::Path<String>) -> HttpResponse {
    let lang = Lang::from_query(&req);
    match sim.session(&id) {
        Some(session) => html(
            actix_web::http::StatusCode::OK,
            render(&session, req.path(), lang),
        ),
        None => html(
            actix_web::http::StatusCode::NOT_FOUND,
            format!(
                "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\"></head><body><p>{}</p></body></html>",
                lang.code(),
                lang.t("Session de paiement introuvable.", "Payment session not found.")
            ),
        ),
    }
}

#[derive(Debug, Deserialize, Default)]
struct PayerForm {
    #[serde(default)]
    lang: Option<String>,
    #[serde(default)]
    payer_mobile: Option<String>,
}

enum Action {
    Approve,
    Fail(&'static str),
}

fn act(
    sim: &WaveSim,
    req: &HttpRequest,
    id: &str,
    form: PayerForm,
    action: Action,
) -> HttpResponse {
    let lang = if form.lang.as_deref() == Some("en") {
        Lang::En
    } else {
        Lang::Fr
    };
    let page_path = req
        .path()
        .rsplit_once('/')
        .map(|(p, _)| p.to_owned())
        .unwrap_or_default();
    let back = format!("{page_path}?lang={}", lang.code());
    let result = match action {
        Action::Approve => {
            let payer = form.payer_mobile.unwrap_or_else(default_payer);
            sim.pay(id, &payer)
        }
        Action::Fail(code) => sim.fail(id, code, None),
    };
    let location = match result {
        // Like Wave: the payer goes back to the merchant after a successful payment.
        Ok(session) if session.checkout_status == CheckoutStatus::Complete => session.success_url,
        Ok(_) | Err(SimError::NotOpen(_)) => back,
        Err(SimError::NotFound) | Err(SimError::UnknownErrorCode(_)) => {
            return HttpResponse::NotFound().finish()
        }
    };
    HttpResponse::SeeOther()
        .insert_header((LOCATION, location))
        .finish()
}

async fn approve(
    sim: web::Data<WaveSim>,
    req: HttpRequest,
    id: web::Path<String>,
    form: web::Form<PayerForm>,
) -> HttpResponse {
    act(&sim, &req, &id, form.into_inner(), Action::Approve)
}

async fn decline(
    sim: web::Data<WaveSim>,
    req: HttpRequest,
    id: web::Path<String>,
    form: web::Form<PayerForm>,
) -> HttpResponse {
    act(
        &sim,
        &req,
        &id,
        form.into_inner(),
        Action::Fail("payment-failure"),
    )
}

async fn insufficient(
    sim: web::Data<WaveSim>,
    req: HttpRequest,
    id: web::Path<String>,
    form: web::Form<PayerForm>,
) -> HttpResponse {
    act(
        &sim,
        &req,
        &id,
        form.into_inner(),
        Action::Fail("insufficient-funds"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts() {
        assert_eq!(format_amount("1000", "XOF", Lang::Fr), "1 000 F CFA");
        assert_eq!(format_amount("1234567", "XOF", Lang::En), "1,234,567 XOF");
        assert_eq!(format_amount("100", "XOF", Lang::Fr), "100 F CFA");
        assert_eq!(format_amount("10.50", "GMD", Lang::En), "10.50 GMD");
    }
}
