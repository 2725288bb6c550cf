//! The hosted checkout page over plain HTTP (no browser, no JavaScript): what a phone
//! without JavaScript gets, the redirects, the languages, the headers and the size
//! budget. The browser journeys are in `tests/browser_checkout.rs`.

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
    let s = status(app, &id).await;
    assert_eq!(s["state"], "pay");
    let attempt = s["attempt"].as_str().unwrap().to_owned();

    // The QR code is served from this origin, as a PNG.
    let qr = app
        .client
        .get(app.url(&format!("{path}/qr.png?a={attempt}")))
        .send()
        .await
        .unwrap();
    assert_eq!(qr.status(), 200);
    assert_eq!(qr.headers()["content-type"], "image/png");
    let png = qr.bytes().await.unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));

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
    assert!(receipt.html.contains("Payé avec"));
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

e2e!(first_load_fits_the_budget, |app| {
    let id = create_session(app).await;
    let path = format!("/checkout/{id}");
    let mut total = 0;
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
    let (encoding, html_bytes) = get_gzip(app.url(&path)).await;
    assert_eq!(encoding.as_deref(), Some("gzip"));
    total += html_bytes;
    let html = page(app, &path, &[]).await.html;
    let assets: Vec<String> = ["href=\"/static/", "src=\"/static/"]
        .iter()
        .flat_map(|attr| {
            html.split(attr)
                .skip(1)
                .filter_map(|s| s.split('"').next())
                .map(|s| format!("/static/{}", s.replace("&#38;", "&").replace("&amp;", "&")))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        assets.iter().any(|a| a.contains("checkout.css")),
        "{assets:?}"
    );
    assert!(
        assets.iter().any(|a| a.contains("checkout.js")),
        "{assets:?}"
    );
    assert!(
        assets.iter().any(|a| a.contains("providers/wave.svg")),
        "{assets:?}"
    );
    for a in &assets {
        total += get_gzip(app.url(a)).await.1;
    }
    assert!(
        total < FIRST_LOAD_BUDGET,
        "first load is {total} bytes compressed (budget {FIRST_LOAD_BUDGET})"
    );
    eprintln!(
        "checkout first load: {total} bytes compressed ({} files)",
        assets.len() + 1
    );
});

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
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        let png = png.clone();
        App::new()
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
    let logo = app
        .client
        .get(app.url(&format!("{path}/logo")))
        .send()
        .await
        .unwrap();
    assert_eq!(logo.status(), 200);
    assert_eq!(logo.headers()["content-type"], "image/png");
    assert!(logo.bytes().await.unwrap().starts_with(b"\x89PNG"));

    // An SVG (which can carry script) is not relayed.
    app.store
        .update_project(
            &app.project_id,
            &nexpay_store::ProjectUpdate {
                settings: Some(
                    serde_json::json!({"logoUrl": format!("{site}/logo.svg")}).to_string(),
                ),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let logo = app
        .client
        .get(app.url(&format!("{path}/logo")))
        .send()
        .await
        .unwrap();
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
