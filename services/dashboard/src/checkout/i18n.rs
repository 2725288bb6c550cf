//! The checkout page's words and formats, French first. Every string the page shows is
//! a field of [`Texts`], so a missing translation is a compile error, not a blank.

use chrono::{Datelike, NaiveDateTime, Timelike};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Fr,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::En => "en",
        }
    }

    pub fn parse(s: &str) -> Option<Lang> {
        match s.trim().to_ascii_lowercase().get(..2) {
            Some("fr") => Some(Lang::Fr),
            Some("en") => Some(Lang::En),
            _ => None,
        }
    }

    pub fn other(self) -> Lang {
        match self {
            Lang::Fr => Lang::En,
            Lang::En => Lang::Fr,
        }
    }

    /// The first of French or English in an `Accept-Language` header, by quality;
    /// `None` when it names neither.
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        let mut best: Option<(f32, usize, Lang)> = None;
        for (index, part) in header.split(',').enumerate() {
            let mut pieces = part.split(';');
            let Some(lang) = pieces.next().and_then(Lang::parse) else {
                continue;
            };
            let q = pieces
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if q <= 0.0 {
                continue;
            }
            // Higher quality wins; on a tie, the one listed first.
            if best.is_none_or(|(bq, bi, _)| q > bq || (q == bq && index < bi)) {
                best = Some((q, index, lang));
            }
        }
        best.map(|(_, _, l)| l)
    }

    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::Fr => &FR,
            Lang::En => &EN,
        }
    }
}

/// Every string of the checkout page.
#[derive(Debug)]
pub struct Texts {
    pub page_title: &'static str,
    pub pay_to: &'static str,
    pub amount: &'static str,
    pub reference: &'static str,
    /// `reference` followed by its colon, as each language writes it.
    pub reference_label: &'static str,
    pub items: &'static str,
    pub choose: &'static str,
    pub pay_with: &'static str,
    pub scan: &'static str,
    pub scan_hint: &'static str,
    pub open_app: &'static str,
    pub open_hint: &'static str,
    pub waiting: &'static str,
    pub check_status: &'static str,
    pub change_method: &'static str,
    pub cancel_return: &'static str,
    pub expires_at: &'static str,
    pub time_left: &'static str,
    pub copy: &'static str,
    pub copied: &'static str,
    pub paid_title: &'static str,
    pub paid_text: &'static str,
    pub redirecting: &'static str,
    pub return_shop: &'static str,
    pub receipt: &'static str,
    pub paid_on: &'static str,
    pub paid_with: &'static str,
    pub expired_title: &'static str,
    pub expired_text: &'static str,
    pub cancelled_title: &'static str,
    pub cancelled_text: &'static str,
    pub failed_title: &'static str,
    pub failed_text: &'static str,
    pub not_found_title: &'static str,
    pub not_found_text: &'static str,
    pub refused_title: &'static str,
    pub refused_text: &'static str,
    pub error_title: &'static str,
    pub error_text: &'static str,
    pub attempt_failed: &'static str,
    pub attempt_expired: &'static str,
    pub error_unavailable: &'static str,
    pub error_not_configured: &'static str,
    pub error_closed: &'static str,
    pub error_busy: &'static str,
    pub error_generic: &'static str,
    pub language_name: &'static str,
    pub switch_language: &'static str,
    pub test_mode: &'static str,
    pub secured_by: &'static str,
    pub no_provider: &'static str,
}

pub static FR: Texts = Texts {
    page_title: "Paiement",
    pay_to: "Paiement à",
    amount: "Montant",
    reference: "Référence",
    reference_label: "Référence\u{a0}:",
    items: "Articles",
    choose: "Choisissez votre moyen de paiement",
    pay_with: "Payer avec",
    scan: "Scannez ce code avec votre téléphone",
    scan_hint: "Ouvrez l'application, touchez « Scanner », puis visez le code.",
    open_app: "Ouvrir",
    open_hint: "Sur ce téléphone, ouvrez l'application pour confirmer le paiement.",
    waiting: "En attente de votre confirmation…",
    check_status: "J'ai payé, vérifier",
    change_method: "Changer de moyen de paiement",
    cancel_return: "Annuler et retourner à la boutique",
    expires_at: "Expire à",
    time_left: "Temps restant",
    copy: "Copier",
    copied: "Copié",
    paid_title: "Paiement réussi",
    paid_text: "Merci ! Votre paiement a bien été reçu.",
    redirecting: "Retour à la boutique dans quelques secondes…",
    return_shop: "Retourner à la boutique",
    receipt: "Reçu",
    paid_on: "Payé le",
    paid_with: "Payé avec",
    expired_title: "Session expirée",
    expired_text: "Le délai pour payer est dépassé. Aucun montant n'a été débité.",
    cancelled_title: "Paiement annulé",
    cancelled_text: "Ce paiement a été annulé. Aucun montant n'a été débité.",
    failed_title: "Paiement échoué",
    failed_text: "Le paiement n'a pas abouti. Aucun montant n'a été débité.",
    not_found_title: "Page introuvable",
    not_found_text:
        "Ce lien de paiement n'existe pas ou n'est plus valable. Vérifiez le lien reçu du marchand.",
    refused_title: "Action refusée",
    refused_text: "Cette action n'est possible que depuis la page de paiement. Rouvrez le lien reçu du marchand.",
    error_title: "Un problème est survenu",
    error_text: "Cette page n'a pas pu être affichée. Rien n'a été débité ; réessayez dans un instant.",
    attempt_failed: "Le paiement n'a pas abouti. Réessayez ou choisissez un autre moyen.",
    attempt_expired: "Le délai de ce paiement est passé. Choisissez à nouveau pour réessayer.",
    error_unavailable:
        "Ce moyen de paiement est momentanément indisponible. Réessayez ou choisissez-en un autre.",
    error_not_configured: "Ce moyen de paiement n'est pas encore disponible pour ce marchand.",
    error_closed: "Cette session de paiement est close.",
    error_busy: "Le service met trop de temps à répondre. Réessayez dans un instant.",
    error_generic: "Une erreur est survenue. Réessayez dans un instant.",
    language_name: "Français",
    switch_language: "English",
    test_mode: "Mode test : aucun argent réel ne circule.",
    secured_by: "Paiement sécurisé par NexPay",
    no_provider: "Aucun moyen de paiement n'est disponible pour le moment.",
};

pub static EN: Texts = Texts {
    page_title: "Payment",
    pay_to: "Pay",
    amount: "Amount",
    reference: "Reference",
    reference_label: "Reference:",
    items: "Items",
    choose: "Choose how to pay",
    pay_with: "Pay with",
    scan: "Scan this code with your phone",
    scan_hint: "Open the app, tap \u{201c}Scan\u{201d}, then point at the code.",
    open_app: "Open",
    open_hint: "On this phone, open the app to confirm the payment.",
    waiting: "Waiting for your confirmation…",
    check_status: "I have paid, check",
    change_method: "Change payment method",
    cancel_return: "Cancel and return to the shop",
    expires_at: "Expires at",
    time_left: "Time left",
    copy: "Copy",
    copied: "Copied",
    paid_title: "Payment successful",
    paid_text: "Thank you! Your payment has been received.",
    redirecting: "Returning to the shop in a few seconds…",
    return_shop: "Return to the shop",
    receipt: "Receipt",
    paid_on: "Paid on",
    paid_with: "Paid with",
    expired_title: "Session expired",
    expired_text: "The time to pay has run out. Nothing was charged.",
    cancelled_title: "Payment cancelled",
    cancelled_text: "This payment was cancelled. Nothing was charged.",
    failed_title: "Payment failed",
    failed_text: "The payment did not go through. Nothing was charged.",
    not_found_title: "Page not found",
    not_found_text: "This payment link does not exist or is no longer valid. Check the link the merchant sent you.",
    refused_title: "Action refused",
    refused_text: "This can only be done from the payment page. Open the link the merchant sent you again.",
    error_title: "Something went wrong",
    error_text: "This page could not be shown. Nothing was charged; try again in a moment.",
    attempt_failed: "The payment did not go through. Try again or choose another method.",
    attempt_expired: "This payment timed out. Choose again to retry.",
    error_unavailable: "This payment method is unavailable right now. Try again or choose another one.",
    error_not_configured: "This payment method is not available for this merchant yet.",
    error_closed: "This payment session is closed.",
    error_busy: "The service is taking too long to answer. Try again in a moment.",
    error_generic: "Something went wrong. Try again in a moment.",
    language_name: "English",
    switch_language: "Français",
    test_mode: "Test mode: no real money moves.",
    secured_by: "Payment secured by NexPay",
    no_provider: "No payment method is available right now.",
};

const MONTHS_FR: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];
const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Digits per currency unit (ISO 4217 exponent) and how the currency is written.
fn currency_format(currency: &str) -> (u32, &str) {
    match currency {
        // West and Central African CFA francs have no minor unit in practice.
        "XOF" | "XAF" => (0, "FCFA"),
        "GNF" => (0, "GNF"),
        "EUR" => (2, "€"),
        "USD" => (2, "$"),
        other => (2, other),
    }
}

/// Groups of three digits with `sep`.
fn group(digits: u64, sep: &str) -> String {
    let s = digits.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3 * sep.len());
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push_str(sep);
        }
        out.push(c);
    }
    out
}

/// An amount in minor units as the payer reads it: `10 000 FCFA` (fr-SN, narrow
/// no-break spaces as CLDR has them) or `10,000 FCFA` (en).
pub fn format_amount(lang: Lang, minor: i64, currency: &str) -> String {
    let (exp, unit) = currency_format(currency);
    let negative = minor < 0;
    let abs = minor.unsigned_abs();
    let scale = 10u64.pow(exp);
    let (whole, frac) = (abs / scale, abs % scale);
    let (group_sep, decimal_sep) = match lang {
        Lang::Fr => ("\u{202f}", ","),
        Lang::En => (",", "."),
    };
    let mut number = group(whole, group_sep);
    if exp > 0 {
        number.push_str(decimal_sep);
        number.push_str(&format!("{frac:0width$}", width = exp as usize));
    }
    let sign = if negative { "-" } else { "" };
    format!("{sign}{number}\u{a0}{unit}")
}

/// A UTC time as the payer reads it (Dakar and Abidjan are on GMT all year).
pub fn format_datetime(lang: Lang, t: NaiveDateTime) -> String {
    let month = (t.month0() as usize).min(11);
    match lang {
        Lang::Fr => format!(
            "{} {} {} à {:02}:{:02} GMT",
            t.day(),
            MONTHS_FR[month],
            t.year(),
            t.hour(),
            t.minute()
        ),
        Lang::En => format!(
            "{} {} {}, {:02}:{:02} GMT",
            t.day(),
            MONTHS_EN[month],
            t.year(),
            t.hour(),
            t.minute()
        ),
    }
}

/// Hours and minutes only, for the expiry line.
pub fn format_time(t: NaiveDateTime) -> String {
    format!("{:02}:{:02} GMT", t.hour(), t.minute())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_written_for_the_reader() {
        assert_eq!(
            format_amount(Lang::Fr, 10_000, "XOF"),
            "10\u{202f}000\u{a0}FCFA"
        );
        assert_eq!(format_amount(Lang::En, 10_000, "XOF"), "10,000\u{a0}FCFA");
        assert_eq!(format_amount(Lang::Fr, 100, "XOF"), "100\u{a0}FCFA");
        assert_eq!(
            format_amount(Lang::Fr, 1_234_567, "XOF"),
            "1\u{202f}234\u{202f}567\u{a0}FCFA"
        );
        assert_eq!(
            format_amount(Lang::Fr, 123_456, "EUR"),
            "1\u{202f}234,56\u{a0}€"
        );
        assert_eq!(format_amount(Lang::En, 5, "EUR"), "0.05\u{a0}€");
    }

    #[test]
    fn dates_are_written_for_the_reader() {
        let t = chrono::NaiveDate::from_ymd_opt(2026, 11, 27)
            .and_then(|d| d.and_hms_opt(18, 5, 0))
            .unwrap_or_default();
        assert_eq!(format_datetime(Lang::Fr, t), "27 novembre 2026 à 18:05 GMT");
        assert_eq!(format_datetime(Lang::En, t), "27 November 2026, 18:05 GMT");
    }

    #[test]
    fn accept_language_picks_french_or_english_by_quality() {
        assert_eq!(Lang::from_accept_language("fr-SN,fr;q=0.9"), Some(Lang::Fr));
        assert_eq!(
            Lang::from_accept_language("en-US,en;q=0.9,fr;q=0.8"),
            Some(Lang::En)
        );
        assert_eq!(
            Lang::from_accept_language("wo;q=1, en;q=0.5, fr;q=0.7"),
            Some(Lang::Fr)
        );
        assert_eq!(Lang::from_accept_language("de-DE"), None);
        assert_eq!(Lang::from_accept_language("fr;q=0, en"), Some(Lang::En));
        assert_eq!(Lang::from_accept_language(""), None);
    }
}
