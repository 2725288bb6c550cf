//! What the checkout page shows for a session, and its rendering.

use askama::Template;
use chrono::NaiveDateTime;
use nexpay_store::{
    now, AttemptRow, PaymentRow, ProjectRow, ProviderRow, SessionRow, Store, StoreResult,
};

use super::assets;
use super::i18n::{format_amount, format_datetime, format_time, Lang, Texts};

/// The page's state, derived from the session, its payment and its latest attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Open, no attempt in progress: one button per provider.
    Choose,
    /// Open, an attempt waits for the payer: QR code and app links.
    Pay,
    Paid,
    Expired,
    Cancelled,
    Failed,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Choose => "choose",
            State::Pay => "pay",
            State::Paid => "paid",
            State::Expired => "expired",
            State::Cancelled => "cancelled",
            State::Failed => "failed",
        }
    }
}

/// Everything the page needs, read in one go.
#[derive(Debug, Clone)]
pub struct CheckoutView {
    pub session: SessionRow,
    pub payment: PaymentRow,
    pub attempt: Option<AttemptRow>,
    pub project: Option<ProjectRow>,
    /// Providers the payer can choose (enabled, usable in the session's mode, taking its
    /// currency), in a stable order.
    pub providers: Vec<ProviderRow>,
    pub state: State,
    pub project_lang: Option<Lang>,
}

/// The page's state and its attempt id only: one read (the session view), for the
/// status route the page polls.
pub async fn load_state(store: &Store, id: &str) -> StoreResult<Option<(State, Option<String>)>> {
    if nexpay_domain::SessionId::parse(id).is_err() {
        return Ok(None);
    }
    Ok(store
        .get_session_view(id)
        .await?
        .map(|(session, payment, attempt)| {
            let state = state_of(&session, &payment, attempt.as_ref(), now());
            (state, attempt.map(|a| a.id))
        }))
}

/// Reads a session for the page; `None` for an unknown or malformed id.
pub async fn load(store: &Store, id: &str) -> StoreResult<Option<CheckoutView>> {
    // A malformed id never reaches the database.
    if nexpay_domain::SessionId::parse(id).is_err() {
        return Ok(None);
    }
    let Some((session, payment, attempt)) = store.get_session_view(id).await? else {
        return Ok(None);
    };
    let project = store.get_project(&session.project_id).await?;
    let state = state_of(&session, &payment, attempt.as_ref(), now());
    let providers = if matches!(state, State::Choose | State::Pay) {
        let mut all = store.list_providers().await?;
        all.retain(|p| p.usable_in(&session.mode) && p.accepts(&session.currency));
        all.sort_by(|a, b| a.code.cmp(&b.code).reverse());
        all
    } else {
        Vec::new()
    };
    let project_lang = project
        .as_ref()
        .and_then(|p| setting(p, "locale"))
        .and_then(|l| Lang::parse(&l));
    Ok(Some(CheckoutView {
        session,
        payment,
        attempt,
        project,
        providers,
        state,
        project_lang,
    }))
}

pub(crate) fn state_of(
    session: &SessionRow,
    payment: &PaymentRow,
    attempt: Option<&AttemptRow>,
    at: NaiveDateTime,
) -> State {
    if session.status == "succeeded" || payment.status == "SUCCEEDED" {
        return State::Paid;
    }
    match session.status.as_str() {
        "cancelled" => State::Cancelled,
        "expired" => State::Expired,
        "failed" => State::Failed,
        // Past its expiry the sweeper will close it shortly: show it closed now.
        _ if session.expires_at <= at => State::Expired,
        _ => match attempt {
            Some(a) if a.status == "pending" => State::Pay,
            _ => State::Choose,
        },
    }
}

fn setting(project: &ProjectRow, key: &str) -> Option<String> {
    serde_json::from_str::<serde_json::Value>(&project.settings)
        .ok()?
        .get(key)?
        .as_str()
        .map(str::to_owned)
}

fn http_url(url: Option<&String>) -> Option<String> {
    url.filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        .cloned()
}

impl CheckoutView {
    /// The provider's name as the project configured it, else its usual name.
    pub fn provider_display_name(&self, code: &str) -> String {
        self.providers
            .iter()
            .find(|p| p.code == code)
            .map_or_else(|| provider_name(code), |p| p.name.clone())
    }

    /// The project's `logoUrl` setting, if any.
    pub fn logo_url(&self) -> Option<String> {
        self.project.as_ref().and_then(|p| setting(p, "logoUrl"))
    }

    /// Where "return to the shop" goes for this state: the session's URL for it, else
    /// the project's (already merged into the session at creation).
    pub fn return_url(&self) -> Option<String> {
        let s = &self.session;
        match self.state {
            State::Paid => http_url(s.success_url.as_ref()),
            State::Cancelled => {
                http_url(s.cancel_url.as_ref()).or_else(|| http_url(s.failure_url.as_ref()))
            }
            State::Expired | State::Failed => {
                http_url(s.failure_url.as_ref()).or_else(|| http_url(s.cancel_url.as_ref()))
            }
            State::Choose | State::Pay => {
                http_url(s.cancel_url.as_ref()).or_else(|| http_url(s.failure_url.as_ref()))
            }
        }
    }
}

pub struct ItemView {
    pub label: String,
    pub quantity: i64,
    pub total: String,
}

pub struct ProviderView {
    pub code: String,
    pub name: String,
    pub logo: String,
}

pub struct LinkView {
    pub label: String,
    pub url: String,
}

pub struct PayView {
    pub provider: String,
    pub logo: String,
    pub qr_url: Option<String>,
    pub links: Vec<LinkView>,
    /// ISO 8601, for the script's countdown.
    pub deadline_iso: String,
    pub deadline_text: String,
}

#[derive(Template)]
#[template(path = "checkout/page.html")]
pub struct PageTemplate<'a> {
    pub t: &'a Texts,
    pub lang: &'static str,
    pub switch_url: String,
    pub state: &'static str,
    pub heading: &'a str,
    pub merchant: String,
    /// Same-origin URL of the merchant's logo, when the project has one.
    pub logo: Option<String>,
    pub amount: String,
    pub reference: String,
    pub session_id: String,
    pub attempt_id: String,
    pub items: Vec<ItemView>,
    pub notice: Option<&'a str>,
    pub providers: Vec<ProviderView>,
    pub pay: Option<PayView>,
    pub return_url: Option<String>,
    pub message: &'a str,
    pub paid_on: Option<String>,
    pub paid_with: Option<String>,
    pub test_mode: bool,
    pub open: bool,
    pub css: &'static str,
    pub js: &'static str,
    /// `:root{--accent:…}`: the one inline style, allowed by its hash in the CSP.
    pub style: String,
}

/// A page with only a message: an unknown session, a refused form, a failure.
#[derive(Template)]
#[template(path = "checkout/message.html")]
pub struct MessageTemplate<'a> {
    pub t: &'a Texts,
    pub lang: &'static str,
    pub css: &'static str,
    pub mark: &'static str,
    pub title: &'static str,
    pub text: &'static str,
}

/// Why a page shows only a message.
#[derive(Debug, Clone, Copy)]
pub enum Message {
    NotFound,
    Refused,
    Error,
}

pub fn render_message(lang: Lang, which: Message) -> askama::Result<String> {
    let t = lang.texts();
    let (mark, title, text) = match which {
        Message::NotFound => ("?", t.not_found_title, t.not_found_text),
        Message::Refused => ("×", t.refused_title, t.refused_text),
        Message::Error => ("!", t.error_title, t.error_text),
    };
    MessageTemplate {
        t,
        lang: lang.code(),
        css: assets::css_url(),
        mark,
        title,
        text,
    }
    .render()
}

const DEFAULT_ACCENT: &str = "#0b6e4f";

fn is_hex_color(s: &str) -> bool {
    s.len() == 7 && s.starts_with('#') && s[1..].bytes().all(|b| b.is_ascii_hexdigit())
}

fn provider_logo(code: &str) -> String {
    assets::provider_logo_url(code)
}

/// The notice for an error code from the last action (`?e=`).
fn notice_for(t: &'static Texts, code: &str) -> Option<&'static str> {
    Some(match code {
        "unavailable" => t.error_unavailable,
        "not_configured" => t.error_not_configured,
        "closed" => t.error_closed,
        "busy" => t.error_busy,
        "generic" => t.error_generic,
        _ => return None,
    })
}

fn link_label(t: &Texts, name: &str) -> String {
    format!("{} {name}", t.open_app)
}

/// The page, and its inline style (for the CSP hash).
pub fn render(
    view: &CheckoutView,
    lang: Lang,
    choose: bool,
    error: Option<&str>,
) -> askama::Result<(String, String)> {
    let t = lang.texts();
    let s = &view.session;
    let mut state = view.state;
    // "Change payment method": back to the choice while the attempt stays open until
    // another provider is chosen (which cancels it).
    if choose && state == State::Pay {
        state = State::Choose;
    }
    let mut notice = error.and_then(|e| notice_for(t, e));
    if notice.is_none() && state == State::Choose {
        notice = match view.attempt.as_ref().map(|a| a.status.as_str()) {
            Some("failed") => Some(t.attempt_failed),
            Some("expired") => Some(t.attempt_expired),
            _ => None,
        };
    }
    let pay = match (state, &view.attempt) {
        (State::Pay, Some(a)) => {
            let links: Vec<LinkView> =
                serde_json::from_str::<Vec<nexpay_contracts::CheckoutLink>>(&a.checkout_urls)
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|l| {
                        // App links (`maxit://`, `orangemoney://`) and web launch URLs; never
                        // `javascript:` or `data:`.
                        let scheme = l
                            .url
                            .split(':')
                            .next()
                            .unwrap_or_default()
                            .to_ascii_lowercase();
                        !matches!(scheme.as_str(), "javascript" | "data" | "vbscript" | "file")
                    })
                    .map(|l| LinkView {
                        label: link_label(t, &l.name),
                        url: l.url,
                    })
                    .collect();
            // The attempt's own expiry if sooner than the session's.
            let deadline = a.expires_at.map_or(s.expires_at, |e| e.min(s.expires_at));
            Some(PayView {
                provider: view.provider_display_name(&a.provider_code),
                logo: provider_logo(&a.provider_code),
                qr_url: a
                    .qr_png_base64
                    .as_ref()
                    .map(|_| format!("/checkout/{}/qr.png?a={}", s.id, a.id)),
                links,
                deadline_iso: format!("{}Z", deadline.format("%Y-%m-%dT%H:%M:%S")),
                deadline_text: format_time(deadline),
            })
        }
        _ => None,
    };
    let (heading, message) = match state {
        State::Choose | State::Pay => (t.page_title, ""),
        State::Paid => (t.paid_title, t.paid_text),
        State::Expired => (t.expired_title, t.expired_text),
        State::Cancelled => (t.cancelled_title, t.cancelled_text),
        State::Failed => (t.failed_title, t.failed_text),
    };
    let items = s
        .items
        .as_deref()
        .and_then(|i| serde_json::from_str::<Vec<nexpay_contracts::Item>>(i).ok())
        .unwrap_or_default()
        .into_iter()
        .map(|i| ItemView {
            total: format_amount(lang, i.unit_price.saturating_mul(i.quantity), &s.currency),
            label: i.label,
            quantity: i.quantity,
        })
        .collect();
    let (paid_on, paid_with) = if state == State::Paid {
        (
            Some(format_datetime(lang, view.payment.updated_at)),
            view.attempt
                .as_ref()
                .map(|a| view.provider_display_name(&a.provider_code)),
        )
    } else {
        (None, None)
    };
    let project = view.project.as_ref();
    let accent = project
        .and_then(|p| setting(p, "accentColor"))
        .filter(|c| is_hex_color(c))
        .unwrap_or_else(|| DEFAULT_ACCENT.to_owned());
    let open = matches!(state, State::Choose | State::Pay);
    let style = format!(
        ":root{{--accent:{accent};--on-accent:{}}}",
        on_accent(&accent)
    );
    let html = PageTemplate {
        t,
        lang: lang.code(),
        switch_url: format!("/checkout/{}?lang={}", s.id, lang.other().code()),
        state: state.as_str(),
        heading,
        merchant: project.map_or_else(String::new, |p| p.name.clone()),
        logo: view.logo_url().map(|_| format!("/checkout/{}/logo", s.id)),
        amount: format_amount(lang, s.amount, &s.currency),
        reference: view.payment.reference.clone(),
        session_id: s.id.clone(),
        attempt_id: view
            .attempt
            .as_ref()
            .map_or_else(String::new, |a| a.id.clone()),
        items,
        notice,
        providers: view
            .providers
            .iter()
            .map(|p| ProviderView {
                code: p.code.clone(),
                name: p.name.clone(),
                logo: provider_logo(&p.code),
            })
            .collect(),
        pay,
        return_url: view.return_url(),
        message,
        paid_on,
        paid_with,
        test_mode: s.mode == "test",
        open,
        css: assets::css_url(),
        js: assets::js_url(),
        style: style.clone(),
    }
    .render()?;
    Ok((html, style))
}

/// Text on the accent colour: white on a dark accent, near-black on a light one, so a
/// merchant's pale brand colour keeps its buttons readable (WCAG relative luminance).
fn on_accent(hex: &str) -> &'static str {
    let channel = |i: usize| {
        let v = f64::from(u8::from_str_radix(hex.get(i..i + 2).unwrap_or("00"), 16).unwrap_or(0))
            / 255.0;
        if v <= 0.039_28 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    let l = 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
    // Contrast with white is (1.05)/(l+0.05), with #111 is (l+0.05)/(0.0056+0.05).
    if 1.05 / (l + 0.05) >= (l + 0.05) / 0.0556 {
        "#fff"
    } else {
        "#111"
    }
}

fn provider_name(code: &str) -> String {
    match code {
        "wave" => "Wave".to_owned(),
        "om" => "Orange Money".to_owned(),
        other => other.to_owned(),
    }
}
