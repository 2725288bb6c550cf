//! The hosted checkout page, `/checkout/{sessionId}`: what the merchant's customer sees.
//!
//! Server-rendered HTML (askama templates compiled into the binary), one small
//! stylesheet and one small script served from this origin, no third-party request and
//! no API key in the page: the session id in the URL is the only credential, as it is
//! for the merchant's own links. Everything essential works without JavaScript (forms
//! and links); the script only follows the payment live, counts down and copies.
//!
//! Reads come from the database (sessions, payments, attempts, projects, providers);
//! every change goes to the payments service over the bus, the same commands the
//! merchant API sends (`payments.checkout_session`, `payments.cancel_session`).
//! Redirect URLs come only from the session (set by the merchant's server) or the
//! project; nothing from the browser decides where it is sent.

pub mod assets;
pub mod i18n;
mod logo;
mod page;

use std::time::Duration;

use actix_web::http::header;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use base64::Engine;
use nexpay_bus::{BusError, Envelope, HandlerError};
use nexpay_contracts::{kinds, queues, CancelSession, CheckoutSession};
use serde::Deserialize;

use crate::DashboardState;
use i18n::Lang;
pub use page::{load, CheckoutView, State};

/// The cookie that remembers the language chosen with the switch.
pub const LANG_COOKIE: &str = "nexpay_lang";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/checkout")
            .wrap(actix_web::middleware::Compress::default())
            .route("/{id}", web::get().to(show))
            .route("/{id}/status", web::get().to(status))
            .route("/{id}/qr.png", web::get().to(qr))
            .route("/{id}/logo", web::get().to(project_logo))
            .route("/{id}/pay", web::post().to(pay))
            .route("/{id}/cancel", web::post().to(cancel)),
    )
    .service(
        web::scope("/static")
            .wrap(actix_web::middleware::Compress::default())
            .route("/{file:.*}", web::get().to(assets::serve)),
    );
}

#[derive(Debug, Deserialize, Default)]
pub struct PageQuery {
    lang: Option<String>,
    /// Show the provider choice even while an attempt is open ("change method").
    choose: Option<String>,
    /// An error code from the last action, shown as a notice.
    e: Option<String>,
}

/// The language of this request: the switch (`?lang=`), then the remembered choice,
/// then the browser's `Accept-Language`, then the project's `locale` setting, then
/// French.
fn language(req: &HttpRequest, query: Option<&str>, project_default: Option<Lang>) -> Lang {
    query
        .and_then(Lang::parse)
        .or_else(|| cookie(req, LANG_COOKIE).and_then(|v| Lang::parse(&v)))
        .or_else(|| {
            req.headers()
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(Lang::from_accept_language)
        })
        .or(project_default)
        .unwrap_or(Lang::Fr)
}

fn cookie(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name).then(|| v.to_owned())
        })
}

/// Headers every checkout page carries: nothing is loaded from elsewhere, nothing may
/// frame it, nothing is cached (the state changes under the payer).
fn page_headers(resp: &mut actix_web::HttpResponseBuilder, inline_style: Option<&str>) {
    let style_hash = inline_style
        .map(|s| {
            use sha2::Digest;
            format!(
                " 'sha256-{}'",
                base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(s))
            )
        })
        .unwrap_or_default();
    resp.insert_header((
        header::CONTENT_SECURITY_POLICY,
        format!(
            "default-src 'none'; img-src 'self'; style-src 'self'{style_hash}; script-src 'self'; \
             connect-src 'self'; base-uri 'none'; frame-ancestors 'none'"
        ),
    ))
    .insert_header((header::CACHE_CONTROL, "no-store"))
    .insert_header((header::REFERRER_POLICY, "same-origin"))
    .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
    .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"));
}

fn html(
    status: actix_web::http::StatusCode,
    body: String,
    inline_style: Option<&str>,
    set_lang: Option<Lang>,
) -> HttpResponse {
    let mut resp = HttpResponse::build(status);
    page_headers(&mut resp, inline_style);
    if let Some(lang) = set_lang {
        resp.insert_header((
            header::SET_COOKIE,
            format!(
                "{LANG_COOKIE}={}; Path=/checkout; Max-Age=31536000; SameSite=Lax; HttpOnly",
                lang.code()
            ),
        ));
    }
    resp.body(body)
}

/// A failure behind a route the page's script or images use: logged, no detail out.
fn internal(e: impl std::fmt::Display) -> actix_web::Error {
    tracing::error!(error = %e, "checkout page failed");
    actix_web::error::ErrorInternalServerError("internal error")
}

/// A page with only a message, in the reader's language.
fn message_page(
    req: &HttpRequest,
    status: actix_web::http::StatusCode,
    which: page::Message,
) -> HttpResponse {
    let lang = language(req, None, None);
    // The message template has no field that can fail to render; keep an answer anyway.
    let body =
        page::render_message(lang, which).unwrap_or_else(|_| lang.texts().error_title.to_owned());
    html(status, body, None, None)
}

/// A failure behind a page the payer sees: logged; the payer gets a page in their
/// language that says nothing was charged, never the cause.
fn page_error(req: &HttpRequest, e: impl std::fmt::Display) -> actix_web::Error {
    tracing::error!(error = %e, "checkout page failed");
    actix_web::error::InternalError::from_response(
        "checkout page failed",
        message_page(
            req,
            actix_web::http::StatusCode::INTERNAL_SERVER_ERROR,
            page::Message::Error,
        ),
    )
    .into()
}

/// A form posted from another site.
fn refused(req: &HttpRequest) -> HttpResponse {
    message_page(
        req,
        actix_web::http::StatusCode::FORBIDDEN,
        page::Message::Refused,
    )
}

async fn show(
    state: web::Data<DashboardState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
) -> actix_web::Result<HttpResponse> {
    let id = path.into_inner();
    let view = load(&state.store, &id)
        .await
        .map_err(|e| page_error(&req, e))?;
    let lang = language(
        &req,
        query.lang.as_deref(),
        view.as_ref().and_then(|v| v.project_lang),
    );
    let set_lang = query.lang.as_deref().and_then(Lang::parse);
    let Some(view) = view else {
        let body =
            page::render_message(lang, page::Message::NotFound).map_err(|e| page_error(&req, e))?;
        return Ok(html(
            actix_web::http::StatusCode::NOT_FOUND,
            body,
            None,
            set_lang,
        ));
    };
    let (body, style) = page::render(&view, lang, query.choose.is_some(), query.e.as_deref())
        .map_err(|e| page_error(&req, e))?;
    Ok(html(
        actix_web::http::StatusCode::OK,
        body,
        Some(&style),
        set_lang,
    ))
}

/// What the page's script polls: the page's state and its attempt, so a change in
/// either makes it reload. One read of the session view; no provider call; a few dozen
/// bytes, sent as they are (compressing them would make them larger).
async fn status(
    state: web::Data<DashboardState>,
    path: web::Path<String>,
) -> actix_web::Result<HttpResponse> {
    let id = path.into_inner();
    let found = page::load_state(&state.store, &id)
        .await
        .map_err(internal)?;
    let body = match &found {
        None => serde_json::json!({"state": "not_found"}),
        Some((s, attempt)) => serde_json::json!({
            "state": s.as_str(),
            "attempt": attempt,
        }),
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header(header::ContentEncoding::Identity)
        .json(body))
}

/// The open attempt's QR code (Orange Money's own, or ours for Wave's launch URL).
async fn qr(
    state: web::Data<DashboardState>,
    path: web::Path<String>,
) -> actix_web::Result<HttpResponse> {
    let id = path.into_inner();
    let view = load(&state.store, &id).await.map_err(internal)?;
    let png = view
        .as_ref()
        .filter(|v| v.state == State::Pay)
        .and_then(|v| v.attempt.as_ref())
        .and_then(|a| a.qr_png_base64.as_deref())
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok());
    Ok(match png {
        Some(bytes) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, "image/png"))
            .insert_header((header::CACHE_CONTROL, "private, max-age=300"))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .body(bytes),
        None => HttpResponse::NotFound().finish(),
    })
}

/// The project's logo (its `logoUrl` setting), fetched by the server: see [`logo`].
async fn project_logo(
    state: web::Data<DashboardState>,
    path: web::Path<String>,
) -> actix_web::Result<HttpResponse> {
    let id = path.into_inner();
    let view = load(&state.store, &id).await.map_err(internal)?;
    let Some(url) = view.as_ref().and_then(CheckoutView::logo_url) else {
        return Ok(HttpResponse::NotFound().finish());
    };
    Ok(
        match logo::get(&url, state.config.webhooks.allow_private_urls).await {
            Some(l) => HttpResponse::Ok()
                .insert_header((header::CONTENT_TYPE, l.content_type))
                .insert_header((header::CACHE_CONTROL, "public, max-age=600"))
                .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                .body(l.bytes),
            None => HttpResponse::NotFound().finish(),
        },
    )
}

/// Refuses a form posted from another site: the session id is a credential, but a
/// page elsewhere that learnt it must not act for the payer. Browsers say where a
/// request comes from in `Sec-Fetch-Site`; older ones only in `Origin` (this page's
/// `Referrer-Policy: same-origin` keeps it on same-origin posts). A request with
/// neither (a script, curl) is not a browser acting for someone else.
fn same_origin(req: &HttpRequest) -> bool {
    let headers = req.headers();
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return matches!(site, "same-origin" | "none");
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = req.connection_info().host().to_owned();
    // `null` is what a sandboxed or privacy-preserving context sends: not this site.
    origin != "null"
        && url::Url::parse(origin)
            .ok()
            .map(|u| match u.port() {
                Some(p) => format!("{}:{p}", u.host_str().unwrap_or_default()),
                None => u.host_str().unwrap_or_default().to_owned(),
            })
            .is_some_and(|h| h == host)
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

#[derive(Debug, Deserialize)]
pub struct PayForm {
    provider: String,
}

/// The notice code for a failed command (shown on the page, never the raw message).
fn error_code(e: &BusError) -> &'static str {
    match e {
        BusError::Handler(HandlerError::Rejected { code, .. }) => match code.as_str() {
            "provider_not_configured" => "not_configured",
            "session_closed" => "closed",
            "provider_unavailable" | "unsupported_currency" | "validation_error" => "unavailable",
            _ => "generic",
        },
        BusError::Timeout => "busy",
        _ => "generic",
    }
}

async fn command(
    state: &DashboardState,
    req: &HttpRequest,
    kind: &str,
    payload: serde_json::Value,
) -> Result<serde_json::Value, BusError> {
    let Some(bus) = &state.bus else {
        return Err(BusError::Unavailable("no bus".into()));
    };
    let corr = req
        .extensions()
        .get::<crate::request_id::RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_else(|| format!("chk_{}", nexpay_security::random_hex(12)));
    let env = Envelope::new(kind, corr, payload);
    bus.request(queues::PAYMENTS, env, state.config.rpc_timeout)
        .await
}

/// Chooses (or switches) the provider: the same command as the merchant API's session
/// checkout, with no project (the session id is the credential). Then back to the page,
/// which shows the QR code and the app links, or the reason it could not.
async fn pay(
    state: web::Data<DashboardState>,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<PayForm>,
) -> actix_web::Result<HttpResponse> {
    let id = path.into_inner();
    if !same_origin(&req) {
        return Ok(refused(&req));
    }
    let page = format!("/checkout/{}", urlencode(&id));
    let cmd = CheckoutSession {
        project_id: None,
        mode: None,
        session_id: id.clone(),
        provider_code: form.into_inner().provider,
    };
    let payload = serde_json::to_value(cmd).map_err(|e| page_error(&req, e))?;
    Ok(
        match command(&state, &req, kinds::CHECKOUT_SESSION, payload).await {
            Ok(_) => see_other(&page),
            Err(e) => {
                let code = error_code(&e);
                if code == "generic" {
                    tracing::warn!(error = %e, "checkout page: choosing a provider failed");
                }
                see_other(&format!("{page}?e={code}"))
            }
        },
    )
}

/// "Cancel and return to the shop": cancels the session, then goes to the session's
/// cancel URL (or its failure URL), else back to the page, which says it is cancelled.
async fn cancel(
    state: web::Data<DashboardState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> actix_web::Result<HttpResponse> {
    let id = path.into_inner();
    if !same_origin(&req) {
        return Ok(refused(&req));
    }
    let page = format!("/checkout/{}", urlencode(&id));
    let cmd = CancelSession {
        project_id: None,
        mode: None,
        session_id: id.clone(),
    };
    let payload = serde_json::to_value(cmd).map_err(|e| page_error(&req, e))?;
    Ok(
        match command(&state, &req, kinds::CANCEL_SESSION, payload).await {
            Ok(_) => {
                // The URL is read back from the database, never taken from the answer or
                // the request.
                let target = load(&state.store, &id)
                    .await
                    .map_err(|e| page_error(&req, e))?
                    .and_then(|v| v.return_url());
                see_other(target.as_deref().unwrap_or(&page))
            }
            Err(e) => see_other(&format!("{page}?e={}", error_code(&e))),
        },
    )
}

/// Session ids are `cs_` and hex, but a path segment is echoed in a Location header:
/// keep only what an id may hold.
fn urlencode(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect()
}

/// Polling interval the page's script uses, in milliseconds (also in `checkout.js`).
pub const POLL_EVERY: Duration = Duration::from_secs(3);
