//! The hosted checkout page over plain HTTP (no browser, no JavaScript): what a phone
//! without JavaScript gets, the redirects, the languages, the headers and the size
//! budget. The browser journeys are in `browser_journeys.rs`.

use std::time::Duration;

use crate::journeys::payer_action;
use crate::support::*;
use nexpay_testkit::{eventually, TestApp};
use serde_json::Value;

/// What the first load may weigh, compressed: HTML, CSS, JS and logos (not the QR).
const FIRST_LOAD_BUDGET: usize = 30 * 1024;

struct Page {
    status: u16,
    headers: reqwest::header::HeaderMap,
    html: String,
}

impl Page {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

async fn page(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> Page {
    let mut req = app.client.get(app.url(path));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.send().await.unwrap();
    Page {
        status: r.status().as_u16(),
        headers: r.headers().clone(),
        html: r.text().await.unwrap(),
    }
}

/// Posts a page form; returns the status and the Location.
async fn submit(app: &TestApp, path: &str, body: &str, origin: Option<&str>) -> (u16, String) {
    let mut req = app
        .client
        .post(app.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_owned());
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    let r = req.send().await.unwrap();
    let location = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (r.status().as_u16(), location)
}

async fn status(app: &TestApp, id: &str) -> Value {
    page(app, &format!("/checkout/{id}/status"), &[])
        .await
        .html
        .parse::<Value>()
        .unwrap()
}

/// The launch/deep links of the page's pay state, as the page shows them.
fn links(html: &str) -> Vec<String> {
    html.split("class=\"btn\" href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(|s| s.replace("&#38;", "&").replace("&amp;", "&"))
        .filter(|s| !s.starts_with("/checkout/"))
        .collect()
}

/// A plain GET on the app.
async fn fetch(app: &TestApp, path: &str) -> reqwest::Response {
    app.client.get(app.url(path)).send().await.unwrap()
}

/// The text a QR code image holds.
fn decode_qr(png: &[u8]) -> String {
    let img = image::load_from_memory(png).unwrap().to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(
        img.width() as usize,
        img.height() as usize,
        |x, y| img.get_pixel(x as u32, y as u32)[0],
    );
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the image");
    grids[0].decode().unwrap().1
}

/// The QR code the page shows for its open attempt, decoded.
async fn page_qr(app: &TestApp, id: &str) -> String {
    let attempt = status(app, id).await["attempt"]
        .as_str()
        .unwrap()
        .to_owned();
    let qr = fetch(app, &format!("/checkout/{id}/qr.png?a={attempt}")).await;
    assert_eq!(qr.status(), 200);
    assert_eq!(qr.headers()["content-type"], "image/png");
    let png = qr.bytes().await.unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    decode_qr(&png)
}

/// Scheme, host and port of a URL, with its trailing slash.
fn origin_of(url: &str) -> String {
    let u = reqwest::Url::parse(url).unwrap();
    format!("{}/", u.origin().ascii_serialization())
}

/// The payment reference as the store has it.
async fn reference(app: &TestApp, id: &str) -> String {
    let (_, payment, _) = app.store.get_session_view(id).await.unwrap().unwrap();
    payment.reference
}

/// Every URL the page loads or links to is on this origin, except the merchant's
/// return links and the provider app links it is meant to open.
fn assert_self_contained(html: &str, allowed: &[&str]) {
    for attr in ["src=\"", "href=\""] {
        for value in html.split(attr).skip(1).filter_map(|s| s.split('"').next()) {
            let ok = value.starts_with('/')
                || allowed.iter().any(|a| value.starts_with(a))
                || value.starts_with("maxit://")
                || value.starts_with("orangemoney://");
            assert!(ok, "the page refers to {value:?}\n{html}");
        }
    }
}

e2e!(
    hosted_page_speaks_french_first_and_english_on_request,
    |app| {
        let id = create_session(app).await;
        let path = format!("/checkout/{id}");
        let fr = page(app, &path, &[]).await;
        assert_eq!(fr.status, 200, "{}", fr.html);
        assert!(fr.header("content-type").starts_with("text/html"));
        assert!(fr.html.contains("<html lang=\"fr\">"));
        assert!(fr.html.contains("10\u{202f}000\u{a0}FCFA"), "{}", fr.html);
        assert!(fr.html.contains("Choisissez votre moyen de paiement"));
        assert!(fr.html.contains("Payer avec Wave"));
        assert!(fr.html.contains("Payer avec Orange Money"));
        assert!(fr.html.contains("Annuler et retourner à la boutique"));
        // No key of any kind reaches the browser; nothing is loaded from elsewhere.
        assert!(!fr.html.contains(&app.read_key) && !fr.html.contains(&app.write_key));
        assert!(!fr.html.contains("npk_") && !fr.html.contains("x-api-key"));
        assert_self_contained(&fr.html, &[]);
        let csp = fr.header("content-security-policy");
        assert!(
            csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
            "{csp}"
        );
        assert_eq!(fr.header("cache-control"), "no-store");

        let en = page(app, &path, &[("accept-language", "en-GB,en;q=0.9")]).await;
        assert!(en.html.contains("<html lang=\"en\">"));
        assert!(en.html.contains("10,000\u{a0}FCFA"));
        assert!(en.html.contains("Choose how to pay"));

        // The switch wins over the browser and is remembered.
        let switched = page(
            app,
            &format!("{path}?lang=en"),
            &[("accept-language", "fr")],
        )
        .await;
        assert!(switched.html.contains("Choose how to pay"));
        let cookie = switched.header("set-cookie").to_owned();
        assert!(cookie.starts_with("nexpay_lang=en"), "{cookie}");
        let remembered = page(
            app,
            &path,
            &[("accept-language", "fr"), ("cookie", "nexpay_lang=en")],
        )
        .await;
        assert!(remembered.html.contains("Choose how to pay"));
    }
);

e2e!(unknown_sessions_get_a_404_page, |app| {
    for id in [
        "cs_0000000000000000000000000000000000000000",
        "not-a-session",
        "cs_%00",
    ] {
        let p = page(app, &format!("/checkout/{id}"), &[]).await;
        assert_eq!(p.status, 404, "{id}");
        assert!(p.header("content-type").starts_with("text/html"));
        assert!(p.html.contains("Page introuvable"), "{}", p.html);
        let s = page(app, &format!("/checkout/{id}/status"), &[]).await;
        assert!(s.html.contains("not_found"));
    }
});

e2e!(paying_with_wave_without_javascript, |app| {
    let id = create_session(app).await;
    let path = format!("/checkout/{id}");
    assert_eq!(status(app, &id).await["state"], "choose");

    let (code, location) = submit(app, &format!("{path}/pay"), "provider=wave", None).await;
    assert_eq!((code, location.as_str()), (303, path.as_str()));
    let pay = page(app, &path, &[]).await;
    assert!(pay.html.contains("data-state=\"pay\""), "{}", pay.html);
    assert!(pay.html.contains("Ouvrir Wave"));
    assert!(pay.html.contains("Changer de moyen de paiement"));
    assert!(
        pay.html.contains("J'ai payé, vérifier") || pay.html.contains("J&#39;ai payé, vérifier")
    );
    let launch = links(&pay.html);
    assert_eq!(launch.len(), 1, "{launch:?}");
    assert!(launch[0].contains("/sandbox/wave/c/cos-"), "{launch:?}");
    assert_eq!(status(app, &id).await["state"], "pay");
    // The amount and the reference the payer may be asked for.
    assert!(pay.html.contains("10\u{202f}000\u{a0}FCFA"));
    let reference = reference(app, &id).await;
    assert!(
        pay.html.contains(&format!(
            "Référence\u{a0}: <span id=\"ref\">{reference}</span>"
        )),
        "{}",
        pay.html
    );
    // The QR code is served from this origin, as a PNG, and holds the launch link.
    assert_eq!(page_qr(app, &id).await, launch[0]);
    assert_self_contained(&pay.html, &[&origin_of(&launch[0])]);

    // The payer approves in "the app" (the simulator's payer page).
    let payer = launch[0].split('?').next().unwrap().to_owned();
    let (approved, _, _) = payer_action(app, &format!("{payer}/approve"), &[]).await;
    assert!(approved == 303 || approved == 200, "{approved}");
    let paid = eventually(Duration::from_secs(20), || async {
        (status(app, &id).await["state"] == "paid").then_some(())
    })
    .await;
    assert!(paid.is_some(), "the page never saw the payment");
    let receipt = page(app, &path, &[]).await;
    assert!(receipt.html.contains("Paiement réussi"), "{}", receipt.html);
    assert!(receipt.html.contains("<dt>Payé avec</dt><dd>Wave</dd>"));
    let (_, payment, _) = app.store.get_session_view(&id).await.unwrap().unwrap();
    let paid_on = nexpay_dashboard::checkout::i18n::format_datetime(
        nexpay_dashboard::checkout::i18n::Lang::Fr,
        payment.updated_at,
    );
    assert!(
        receipt
            .html
            .contains(&format!("<dt>Payé le</dt><dd>{paid_on}</dd>")),
        "{}",
        receipt.html
    );
    assert!(receipt
        .html
        .contains(&format!("<dt>Référence</dt><dd>{reference}</dd>")));
    assert_self_contained(&receipt.html, &["https://shop.example/"]);
    assert!(receipt
        .html
        .contains("<meta http-equiv=\"refresh\" content=\"4;url=https://shop.example/success\">"));
    // A paid session offers a receipt, not a second payment.
    assert!(!receipt.html.contains("/pay\""));
    let (code, location) = submit(app, &format!("{path}/pay"), "provider=om", None).await;
    assert_eq!(code, 303);
    assert_eq!(location, format!("{path}?e=closed"));
    let (_, payment, _) = app.store.get_session_view(&id).await.unwrap().unwrap();
    assert_eq!(payment.status, "SUCCEEDED");
});

e2e!(paying_with_orange_money_without_javascript, |app| {
    let id = create_session(app).await;
    let path = format!("/checkout/{id}");
    let (code, location) = submit(app, &format!("{path}/pay"), "provider=om", None).await;
    assert_eq!((code, location.as_str()), (303, path.as_str()));
    let pay = page(app, &path, &[]).await;
    assert!(pay.html.contains("data-state=\"pay\""), "{}", pay.html);
    assert!(pay.html.contains("Payer avec Orange Money"));
    // Orange Money's two apps, MaxIt first, each with its own deep link.
    assert!(pay.html.contains(">Ouvrir MaxIt</a>"), "{}", pay.html);
    assert!(
        pay.html.contains(">Ouvrir Orange Money</a>"),
        "{}",
        pay.html
    );
    let deep = links(&pay.html);
    assert_eq!(deep.len(), 2, "{deep:?}");
    assert!(deep[0].ends_with("?channel=MAXIT"), "{deep:?}");
    assert!(deep[1].ends_with("?channel=OM"), "{deep:?}");
    let reference = reference(app, &id).await;
    assert!(pay
        .html
        .contains(&format!("<span id=\"ref\">{reference}</span>")));
    assert!(pay.html.contains("Scannez"), "{}", pay.html);
    assert_self_contained(&pay.html, &[&origin_of(&deep[0])]);
    // Orange Money's own QR code, relayed as it came: it opens the MaxIt link.
    assert_eq!(page_qr(app, &id).await, deep[0]);

    // The payer approves in Orange Money; the page, reloaded, shows the receipt.
    let payer = deep[1].split('?').next().unwrap().to_owned();
    let (code, _, body) = payer_action(app, &format!("{payer}/approve"), &[]).await;
    assert!(code < 400, "{code} {body}");
    let paid = eventually(Duration::from_secs(20), || async {
        (status(app, &id).await["state"] == "paid").then_some(())
    })
    .await;
    assert!(paid.is_some(), "the page never saw the payment");
    let receipt = page(app, &path, &[("accept-language", "en")]).await;
    assert!(receipt
        .html
        .contains("<dt>Paid with</dt><dd>Orange Money</dd>"));
    assert!(receipt.html.contains("<dt>Reference</dt>"));
});

// Wave keeps a checkout session open after a failed attempt (PROVIDERS.md): the payer
// may try again in the app until it expires, so the page keeps showing the same launch
// link and QR code, and "Change payment method" stays there.
e2e!(a_declined_wave_payment_can_be_retried_in_the_app, |app| {
    let id = create_session(app).await;
    let path = format!("/checkout/{id}");
    submit(app, &format!("{path}/pay"), "provider=wave", None).await;
    let pay = page(app, &path, &[]).await;
    let launch = links(&pay.html);
    let attempt = status(app, &id).await["attempt"].clone();
    let payer = launch[0].split('?').next().unwrap().to_owned();
    let (code, _, body) = payer_action(app, &format!("{payer}/decline"), &[]).await;
    assert!(code < 400, "{code} {body}");
    // The failure reached us (Wave's webhook was processed) and closed nothing.
    let seen = eventually(Duration::from_secs(20), || async {
        app.store
            .list_provider_webhooks("wave", 20)
            .await
            .unwrap()
            .into_iter()
            .find(|w| {
                w.event_type.as_deref() == Some("checkout.session.payment_failed")
                    && w.processed_at.is_some()
            })
            .map(|w| w.outcome)
    })
    .await;
    assert!(
        seen.is_some(),
        "Wave's payment_failed webhook was not processed"
    );
    let s = status(app, &id).await;
    assert_eq!(
        (s["state"].as_str(), &s["attempt"]),
        (Some("pay"), &attempt),
        "{seen:?}"
    );
    let again = page(app, &path, &[]).await;
    assert_eq!(links(&again.html), launch);
    assert!(again.html.contains("Changer de moyen de paiement"));
    // The second try in the app succeeds, on the same attempt.
    let (code, _, body) = payer_action(app, &format!("{payer}/approve"), &[]).await;
    assert!(code < 400, "{code} {body}");
    let paid = eventually(Duration::from_secs(20), || async {
        (status(app, &id).await["state"] == "paid").then_some(())
    })
    .await;
    assert!(paid.is_some(), "the retry was not seen");
    let (_, payment, attempt) = app.store.get_session_view(&id).await.unwrap().unwrap();
    assert_eq!(payment.status, "SUCCEEDED");
    assert_eq!(attempt.unwrap().status, "succeeded");
});

e2e!(an_expired_attempt_offers_the_choice_again, |app| {
    let id = create_session(app).await;
    let path = format!("/checkout/{id}");
    submit(app, &format!("{path}/pay"), "provider=om", None).await;
    let attempt = status(app, &id).await["attempt"]
        .as_str()
        .unwrap()
        .to_owned();
    let past = nexpay_store::now() - chrono::Duration::seconds(1);
    assert!(app
        .store
        .set_attempt_deadline(&attempt, past)
        .await
        .unwrap());
    let back = eventually(Duration::from_secs(20), || async {
        (status(app, &id).await["state"] == "choose").then_some(())
    })
    .await;
    assert!(back.is_some(), "the attempt never expired");
    let p = page(app, &path, &[("accept-language", "en")]).await;
    assert!(
        p.html
            .contains("This payment timed out. Choose again to retry."),
        "{}",
        p.html
    );
    let (session, payment, attempt) = app.store.get_session_view(&id).await.unwrap().unwrap();
    // The session stays open for another choice.
    assert!(
        matches!(session.status.as_str(), "opened" | "pending"),
        "{}",
        session.status
    );
    assert_eq!(payment.status, "PENDING");
    assert_eq!(attempt.unwrap().status, "expired");
});

e2e!(cancel_without_a_cancel_url_stays_on_the_page, |app| {
    let mut body = session_body();
    body.as_object_mut().unwrap().remove("cancel_url");
    let r = post(app, SESSION, Some(&app.write_key), &body, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let id = r.data()["sessionId"].as_str().unwrap().to_owned();
    let path = format!("/checkout/{id}");
    let (code, location) = submit(app, &format!("{path}/cancel"), "", None).await;
    assert_eq!((code, location.as_str()), (303, path.as_str()));
    let p = page(app, &path, &[]).await;
    assert!(p.html.contains("Paiement annulé"), "{}", p.html);
    // No shop to go back to: no such link, and no way to pay.
    assert!(!p.html.contains("Retourner à la boutique"), "{}", p.html);
    assert!(!p.html.contains("/pay\""));
    let (session, payment, _) = app.store.get_session_view(&id).await.unwrap().unwrap();
    assert_eq!(
        (session.status.as_str(), payment.status.as_str()),
        ("cancelled", "CANCELLED")
    );
});

e2e!(the_browser_never_chooses_where_the_payer_goes, |app| {
    let id = create_session(app).await;
    let path = format!("/checkout/{id}");
    let evil = "https%3A%2F%2Fevil.example%2F";
    let p = page(
        app,
        &format!("{path}?success_url={evil}&cancel_url={evil}&return_url={evil}"),
        &[],
    )
    .await;
    assert_eq!(p.status, 200);
    assert!(!p.html.contains("evil.example"), "{}", p.html);
    let (code, _) = submit(
        app,
        &format!("{path}/pay"),
        &format!("provider=wave&success_url={evil}&cancel_url={evil}"),
        None,
    )
    .await;
    assert_eq!(code, 303);
    let (code, location) = submit(
        app,
        &format!("{path}/cancel?cancel_url={evil}"),
        &format!("cancel_url={evil}&failure_url={evil}"),
        None,
    )
    .await;
    assert_eq!(
        (code, location.as_str()),
        (303, "https://shop.example/cancel")
    );
    let (session, _, _) = app.store.get_session_view(&id).await.unwrap().unwrap();
    assert_eq!(
        session.cancel_url.as_deref(),
        Some("https://shop.example/cancel")
    );
    assert_eq!(
        session.success_url.as_deref(),
        Some("https://shop.example/success")
    );
});

e2e!(cancel_returns_to_the_shop, |app| {
    let id = create_session(app).await;
    let path = format!("/checkout/{id}");
    let (code, _) = submit(app, &format!("{path}/pay"), "provider=om", None).await;
    assert_eq!(code, 303);
    let (code, location) = submit(app, &format!("{path}/cancel"), "", None).await;
    assert_eq!(code, 303);
    assert_eq!(location, "https://shop.example/cancel");
    let (session, payment, attempt) = app.store.get_session_view(&id).await.unwrap().unwrap();
    assert_eq!(session.status, "cancelled");
    assert_eq!(payment.status, "CANCELLED");
    assert_eq!(attempt.unwrap().status, "cancelled");
    let p = page(app, &path, &[]).await;
    assert!(p.html.contains("Paiement annulé"), "{}", p.html);
    assert!(p.html.contains("href=\"https://shop.example/cancel\""));
    assert_eq!(status(app, &id).await["state"], "cancelled");
    // Nothing more can happen to it from the page.
    let (code, location) = submit(app, &format!("{path}/pay"), "provider=wave", None).await;
    assert_eq!((code, location), (303, format!("{path}?e=closed")));
});

e2e!(forms_posted_from_another_site_are_refused, |app| {
    let id = create_session(app).await;
    let path = format!("/checkout/{id}");
    for action in ["pay", "cancel"] {
        let (code, _) = submit(
            app,
            &format!("{path}/{action}"),
            "provider=wave",
            Some("https://evil.example"),
        )
        .await;
        assert_eq!(code, 403, "{action}");
    }
    // The refusal is a page the payer can read, in their language.
    let r = app
        .client
        .post(app.url(&format!("{path}/cancel")))
        .header("origin", "https://evil.example")
        .header("accept-language", "en")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let text = r.text().await.unwrap();
    assert!(
        text.contains("<html lang=\"en\">") && text.contains("Action refused"),
        "{text}"
    );
    let (session, payment, attempt) = app.store.get_session_view(&id).await.unwrap().unwrap();
    assert_eq!(session.status, "opened");
    assert_eq!(payment.status, "PENDING");
    assert!(attempt.is_none());
    // The page's own origin is accepted.
    let (code, _) = submit(
        app,
        &format!("{path}/pay"),
        "provider=wave",
        Some(&app.base_url),
    )
    .await;
    assert_eq!(code, 303);
});

e2e!(expired_session_says_so, |app| {
    let id = create_session(app).await;
    let past = nexpay_store::now() - chrono::Duration::seconds(1);
    assert!(app.store.set_session_deadline(&id, past).await.unwrap());
    let p = page(
        app,
        &format!("/checkout/{id}"),
        &[("accept-language", "en")],
    )
    .await;
    assert_eq!(p.status, 200);
    assert!(p.html.contains("Session expired"), "{}", p.html);
    assert!(!p.html.contains("Choose how to pay"));
    assert_eq!(status(app, &id).await["state"], "expired");
});

/// What one load of `path` weighs compressed: the page and everything it loads from
/// `/static/` and the shop's logo (not the QR code); the assets' paths.
async fn first_load(app: &TestApp, path: &str) -> (usize, Vec<String>) {
    let get_gzip = |url: String| async move {
        let r = app
            .client
            .get(url)
            .header("accept-encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let encoding = r
            .headers()
            .get("content-encoding")
            .map(|v| v.to_str().unwrap().to_owned());
        (encoding, r.bytes().await.unwrap().len())
    };
    let (encoding, mut total) = get_gzip(app.url(path)).await;
    assert_eq!(encoding.as_deref(), Some("gzip"));
    let html = page(app, path, &[]).await.html;
    let assets: Vec<String> = ["href=\"/static/", "src=\"/static/", "src=\"/checkout/"]
        .iter()
        .flat_map(|attr| {
            let prefix = &attr[attr.find('/').unwrap()..];
            html.split(attr)
                .skip(1)
                .filter_map(|s| s.split('"').next())
                .map(|s| format!("{prefix}{}", s.replace("&#38;", "&").replace("&amp;", "&")))
                .filter(|s| !s.contains("/qr.png"))
                .collect::<Vec<_>>()
        })
        .collect();
    for a in &assets {
        total += get_gzip(app.url(a)).await.1;
    }
    (total, assets)
}

e2e!(first_load_fits_the_budget, |app| {
    // The shop's logo is a large photograph: the page serves it fitted to the budget.
    let (site, server) = merchant_site().await;
    set_logo(app, &format!("{site}/photo.png")).await;
    let id = create_session(app).await;
    let path = format!("/checkout/{id}");
    let (total, assets) = first_load(app, &path).await;
    for wanted in [
        "checkout.css",
        "checkout.js",
        "providers/wave.svg",
        "providers/om.svg",
    ] {
        assert!(
            assets.iter().any(|a| a.contains(wanted)),
            "{wanted}: {assets:?}"
        );
    }
    assert!(assets.contains(&format!("{path}/logo")), "{assets:?}");
    let logo = fetch(app, &format!("{path}/logo")).await;
    assert_eq!(logo.status(), 200);
    let logo = logo.bytes().await.unwrap();
    let img = image::load_from_memory(&logo).unwrap();
    assert!(
        img.height() <= 120 && img.width() <= 480,
        "{}x{}",
        img.width(),
        img.height()
    );
    assert!(
        total < FIRST_LOAD_BUDGET,
        "first load is {total} bytes compressed (budget {FIRST_LOAD_BUDGET})"
    );
    eprintln!(
        "checkout first load: {total} bytes compressed ({} files, logo {} bytes)",
        assets.len() + 1,
        logo.len()
    );
    // The page after choosing (the links, the reference, the countdown) too.
    submit(app, &format!("{path}/pay"), "provider=om", None).await;
    assert_eq!(status(app, &id).await["state"], "pay");
    let (total, assets) = first_load(app, &path).await;
    assert!(
        assets.iter().any(|a| a.contains("providers/om.svg")),
        "{assets:?}"
    );
    assert!(
        total < FIRST_LOAD_BUDGET,
        "the pay page's load is {total} bytes compressed (budget {FIRST_LOAD_BUDGET})"
    );
    server.stop(false).await;
});

/// Sets the project's `logoUrl` (and nothing else of its settings).
async fn set_logo(app: &TestApp, url: &str) {
    app.store
        .update_project(
            &app.project_id,
            &nexpay_store::ProjectUpdate {
                settings: Some(serde_json::json!({ "logoUrl": url }).to_string()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
}

/// A photograph's worth of pixels: gradients with grain, which PNG cannot squeeze.
fn photo_png() -> Vec<u8> {
    let mut seed = 0x2545_f491_u32;
    let img = image::RgbImage::from_fn(600, 150, |x, y| {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let grain = |shift: u32| ((seed >> shift) & 31) as u8;
        image::Rgb([
            ((x * 200 / 600) as u8).saturating_add(grain(0)),
            ((y * 200 / 150) as u8).saturating_add(grain(8)),
            (((x + y) % 256) as u8 / 2).saturating_add(grain(16)),
        ])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    let png = out.into_inner();
    assert!(png.len() > 100 * 1024, "{}", png.len());
    png
}

/// A merchant site serving its logo (and an SVG, which the page must not relay).
async fn merchant_site() -> (String, actix_web::dev::ServerHandle) {
    use actix_web::{web, App, HttpResponse, HttpServer};
    let png = {
        let mut out = std::io::Cursor::new(Vec::new());
        image::RgbImage::from_pixel(8, 8, image::Rgb([200, 30, 30]))
            .write_to(&mut out, image::ImageFormat::Png)
            .unwrap();
        out.into_inner()
    };
    let photo = photo_png();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        let png = png.clone();
        let photo = photo.clone();
        App::new()
            .route(
                "/photo.png",
                web::get().to(move || {
                    let photo = photo.clone();
                    async move { HttpResponse::Ok().content_type("image/png").body(photo) }
                }),
            )
            .route(
                "/logo.png",
                web::get().to(move || {
                    let png = png.clone();
                    async move { HttpResponse::Ok().content_type("image/png").body(png) }
                }),
            )
            .route(
                "/logo.svg",
                web::get().to(|| async {
                    HttpResponse::Ok().content_type("image/svg+xml").body(
                        "<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
                    )
                }),
            )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    (format!("http://127.0.0.1:{port}"), handle)
}

e2e!(merchant_brand_on_the_page, |app| {
    let (site, server) = merchant_site().await;
    let settings = serde_json::json!({
        "accentColor": "#ffcc00",
        "locale": "en",
        "logoUrl": format!("{site}/logo.png"),
    });
    app.store
        .update_project(
            &app.project_id,
            &nexpay_store::ProjectUpdate {
                name: Some("Boutique Ndèye & Fils".into()),
                settings: Some(settings.to_string()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let id = create_session(app).await;
    let path = format!("/checkout/{id}");
    // The project's locale applies when the browser names neither French nor English.
    let p = page(app, &path, &[("accept-language", "wo-SN")]).await;
    assert!(p.html.contains("Choose how to pay"), "{}", p.html);
    assert!(
        p.html.contains("Boutique Ndèye &#38; Fils")
            || p.html.contains("Boutique Ndèye &amp; Fils")
    );
    // A light accent gets dark text on its buttons; its inline style is allowed by hash.
    assert!(p
        .html
        .contains("<style>:root{--accent:#ffcc00;--on-accent:#111}</style>"));
    assert!(p
        .header("content-security-policy")
        .contains("style-src 'self' 'sha256-"));
    assert!(p.html.contains(&format!("src=\"/checkout/{id}/logo\"")));
    assert_self_contained(&p.html, &[]);
    let logo = fetch(app, &format!("{path}/logo")).await;
    assert_eq!(logo.status(), 200);
    assert_eq!(logo.headers()["content-type"], "image/png");
    assert!(logo.bytes().await.unwrap().starts_with(b"\x89PNG"));

    // An SVG (which can carry script) is not relayed.
    set_logo(app, &format!("{site}/logo.svg")).await;
    let logo = fetch(app, &format!("{path}/logo")).await;
    assert_eq!(logo.status(), 404);
    server.stop(false).await;
});

e2e!(browsers_fetch_metadata_decides, |app| {
    let id = create_session(app).await;
    let path = format!("/checkout/{id}");
    let post = |site: &'static str| {
        let url = app.url(&format!("{path}/cancel"));
        async move {
            app.client
                .post(url)
                .header("sec-fetch-site", site)
                // What a browser sends under `Referrer-Policy: no-referrer`.
                .header("origin", "null")
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(post("cross-site").await, 403);
    assert_eq!(post("same-site").await, 403);
    let (session, _, _) = app.store.get_session_view(&id).await.unwrap().unwrap();
    assert_eq!(session.status, "opened");
    assert_eq!(post("same-origin").await, 303);
    let (session, _, _) = app.store.get_session_view(&id).await.unwrap().unwrap();
    assert_eq!(session.status, "cancelled");
});
