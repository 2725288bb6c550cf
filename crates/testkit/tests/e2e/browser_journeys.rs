//! The hosted checkout page in a real browser (Debian's headless Chromium through
//! chromedriver): the payer's journeys on a phone and on a desktop, with and without
//! JavaScript, on every wiring. The provider simulators stand in for the Wave and
//! Orange Money apps: their payer pages are where the payer approves or declines.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::journeys::payer_action;
use crate::support::*;
use nexpay_testkit::browser::{Browser, Js, Lang, Page, SessionOptions, Viewport};
use nexpay_testkit::TestApp;
use serde_json::{json, Value};

pub(crate) const WAIT: Duration = Duration::from_secs(20);

/// The merchant's shop: where the page sends the payer back.
pub(crate) struct Shop {
    pub(crate) url: String,
    server: actix_web::dev::ServerHandle,
}

impl Shop {
    pub(crate) async fn start() -> Shop {
        use actix_web::{web, App, HttpResponse, HttpServer};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = HttpServer::new(|| {
            App::new().route(
                "/{page}",
                web::get().to(|page: web::Path<String>| async move {
                    HttpResponse::Ok()
                        .content_type("text/html; charset=utf-8")
                        .body(format!(
                            "<!doctype html><title>Shop</title><h1>Shop: {page}</h1>"
                        ))
                }),
            )
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Shop {
            url: format!("http://127.0.0.1:{port}"),
            server: handle,
        }
    }

    pub(crate) async fn stop(self) {
        self.server.stop(false).await;
    }
}

/// A session whose redirect URLs point at `shop`; returns its id and checkoutUrl.
pub(crate) async fn session(app: &TestApp, shop: &Shop) -> (String, String) {
    let mut body = session_body();
    body["success_url"] = json!(format!("{}/success", shop.url));
    body["cancel_url"] = json!(format!("{}/cancel", shop.url));
    body["failure_url"] = json!(format!("{}/failure", shop.url));
    body["items"] = json!([{"label": "Thiéboudienne", "unitPrice": 5000, "quantity": 2}]);
    let r = post(app, SESSION, Some(&app.write_key), &body, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let id = r.data()["sessionId"].as_str().unwrap().to_owned();
    let url = r.data()["checkoutUrl"].as_str().unwrap().to_owned();
    assert_eq!(url, app.url(&format!("/checkout/{id}")));
    (id, url)
}

/// `None` (and a printed reason) when Chromium is absent outside CI.
pub(crate) async fn browser() -> Option<Browser> {
    if !Browser::available().unwrap() {
        eprintln!(
            "skipped: Debian's chromium and chromedriver are not installed (.ci/browser-setup)"
        );
        return None;
    }
    Some(Browser::start().await.unwrap())
}

/// Where screenshots go: `$NEXPAY_SCREENSHOTS` when set, else a temporary folder.
fn shots_dir(app: &TestApp) -> PathBuf {
    match std::env::var_os("NEXPAY_SCREENSHOTS") {
        // Relative to the workspace (tests run in the crate's folder).
        Some(dir) => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(dir),
        // One folder per app: the wirings run at the same time.
        None => {
            std::env::temp_dir().join(format!("nexpay-shots-{}-{}", std::process::id(), app.port))
        }
    }
}

async fn shot(page: &Page, dir: &Path, name: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(format!("{name}.png"));
    page.screenshot(&path).await.unwrap();
    path
}

/// The payer page behind the page's first app link (the simulator's).
async fn first_link(page: &Page) -> String {
    let v = page
        .execute("return document.querySelector('.links a').href")
        .await
        .unwrap();
    v.as_str().unwrap().to_owned()
}

/// The payer acts in "the app" (another device): the simulator's payer page behind the
/// page's first link gets `action` (`approve`, `decline`, `insufficient`). Returns that
/// page's URL.
pub(crate) async fn in_the_app(app: &TestApp, page: &Page, action: &str) -> String {
    let link = first_link(page).await;
    let payer = link.split('?').next().unwrap().to_owned();
    let (code, _, body) = payer_action(app, &format!("{payer}/{action}"), &[]).await;
    assert!(code < 400, "{action} on {payer}: {code} {body}");
    payer
}

/// Vertical position of an element, to check what comes first on screen.
async fn top(page: &Page, css: &str) -> f64 {
    page.execute(&format!(
        "return document.querySelector('{css}').getBoundingClientRect().top"
    ))
    .await
    .unwrap()
    .as_f64()
    .unwrap()
}

async fn store_state(app: &TestApp, id: &str) -> (String, String, Vec<String>) {
    let (s, p, _) = app.store.get_session_view(id).await.unwrap().unwrap();
    let attempts = app
        .store
        .list_attempts(&p.id)
        .await
        .unwrap()
        .into_iter()
        .map(|a| format!("{}:{}", a.provider_code, a.status))
        .collect();
    (s.status, p.status, attempts)
}

e2e!(browser_wave_on_a_phone, |app| {
    let Some(browser) = browser().await else {
        return;
    };
    let shop = Shop::start().await;
    let (id, url) = session(app, &shop).await;
    let page = browser.session(Viewport::Phone, Js::On).await.unwrap();
    page.goto(&url).await.unwrap();
    let text = page.body_text().await.unwrap();
    // WebDriver reports no-break spaces as plain ones.
    let plain = text.replace(['\u{a0}', '\u{202f}'], " ");
    assert!(plain.contains("10 000 FCFA"), "{text}");
    assert!(text.contains("Thiéboudienne"), "{text}");
    // At 360 px nothing overflows sideways.
    let width = page
        .execute("return document.documentElement.scrollWidth")
        .await
        .unwrap();
    assert!(width.as_f64().unwrap() <= 360.0, "page is {width} px wide");
    page.click_text("button", "Payer avec Wave").await.unwrap();
    page.wait_for_text("Ouvrir Wave", WAIT).await.unwrap();
    // On a phone the app link comes before the QR code.
    assert!(top(&page, ".links").await < top(&page, ".qr").await);
    // Follow the launch link to Wave's payer page, approve there.
    let launch = first_link(&page).await;
    assert!(launch.contains("/sandbox/wave/c/cos-"), "{launch}");
    page.click(".links a").await.unwrap();
    page.wait_for_url(launch.split('?').next().unwrap(), WAIT)
        .await
        .unwrap();
    page.click("button.approve").await.unwrap();
    // Wave sends the payer back to the checkout page, which shows the receipt, then the
    // shop's success page.
    page.wait_for_text("Paiement réussi", WAIT).await.unwrap();
    page.wait_for_url(format!("{}/success", shop.url), WAIT)
        .await
        .unwrap();
    page.wait_for_text("Shop: success", WAIT).await.unwrap();
    let (s, p, attempts) = store_state(app, &id).await;
    assert_eq!((s.as_str(), p.as_str()), ("succeeded", "SUCCEEDED"));
    assert_eq!(attempts, ["wave:succeeded"]);
    page.close().await.unwrap();
    shop.stop().await;
});

e2e!(browser_orange_money_on_a_desktop_follows_live, |app| {
    let Some(browser) = browser().await else {
        return;
    };
    let shop = Shop::start().await;
    let (id, url) = session(app, &shop).await;
    let page = browser
        .session_with(SessionOptions::new(Viewport::Desktop, Js::On).lang(Lang::EnUs))
        .await
        .unwrap();
    page.goto(&url).await.unwrap();
    page.wait_for_text("Choose how to pay", WAIT).await.unwrap();
    page.click_text("button", "Pay with Orange Money")
        .await
        .unwrap();
    page.wait_for_text("Waiting for your confirmation", WAIT)
        .await
        .unwrap();
    // On a desktop the QR code comes first; the deep links are there too.
    assert!(top(&page, ".qr").await < top(&page, ".links").await);
    let qr_loaded = page
        .execute("var i=document.querySelector('.qr img');return i.complete&&i.naturalWidth>0")
        .await
        .unwrap();
    assert_eq!(qr_loaded, Value::Bool(true));
    // The payer scans and approves in the app (another device): the page, left as it
    // is, turns to success by itself and goes back to the shop.
    let payer = in_the_app(app, &page, "approve").await;
    assert!(payer.contains("/sandbox/om/pay/"), "{payer}");
    page.wait_for_text("Payment successful", WAIT)
        .await
        .unwrap();
    page.wait_for_url(format!("{}/success", shop.url), WAIT)
        .await
        .unwrap();
    let (s, _, _) = store_state(app, &id).await;
    assert_eq!(s, "succeeded");
    page.close().await.unwrap();
    shop.stop().await;
});

e2e!(browser_orange_money_deep_link_on_a_phone, |app| {
    let Some(browser) = browser().await else {
        return;
    };
    let shop = Shop::start().await;
    let (id, url) = session(app, &shop).await;
    let page = browser.session(Viewport::Phone, Js::On).await.unwrap();
    page.goto(&url).await.unwrap();
    page.click_text("button", "Payer avec Orange Money")
        .await
        .unwrap();
    page.wait_for_text("Ouvrir Orange Money", WAIT)
        .await
        .unwrap();
    // The deep link opens "the app": the simulator's Orange Money payer page.
    page.click_text("a", "Ouvrir Orange Money").await.unwrap();
    page.wait_for_url(|u: &str| u.contains("/sandbox/om/pay/"), WAIT)
        .await
        .unwrap();
    page.click("button[value=approve]").await.unwrap();
    page.wait_for_text("Paiement effectué", WAIT).await.unwrap();
    // Orange Money has no way back to the shop: the payer returns to the browser tab,
    // which has turned to success meanwhile, then goes on to the shop.
    page.goto(&url).await.unwrap();
    page.wait_for_text("Paiement réussi", WAIT).await.unwrap();
    page.wait_for_url(format!("{}/success", shop.url), WAIT)
        .await
        .unwrap();
    let (s, p, attempts) = store_state(app, &id).await;
    assert_eq!((s.as_str(), p.as_str()), ("succeeded", "SUCCEEDED"));
    assert_eq!(attempts, ["om:succeeded"]);
    page.close().await.unwrap();
    shop.stop().await;
});

e2e!(browser_decline_then_retry_and_switch, |app| {
    let Some(browser) = browser().await else {
        return;
    };
    let shop = Shop::start().await;
    let (id, url) = session(app, &shop).await;
    let page = browser.session(Viewport::Phone, Js::On).await.unwrap();
    page.goto(&url).await.unwrap();
    // Orange Money: not enough money; the page offers the choice again.
    page.click_text("button", "Payer avec Orange Money")
        .await
        .unwrap();
    page.wait_for_text("En attente", WAIT).await.unwrap();
    in_the_app(app, &page, "insufficient").await;
    page.wait_for_text("Le paiement n'a pas abouti", WAIT)
        .await
        .unwrap();
    page.wait_for_text("Choisissez votre moyen de paiement", WAIT)
        .await
        .unwrap();
    // Retry with Orange Money, then change method to Wave before paying.
    page.click_text("button", "Payer avec Orange Money")
        .await
        .unwrap();
    page.wait_for_text("En attente", WAIT).await.unwrap();
    page.click_text("a", "Changer de moyen de paiement")
        .await
        .unwrap();
    page.wait_for_text("Choisissez votre moyen de paiement", WAIT)
        .await
        .unwrap();
    page.click_text("button", "Payer avec Wave").await.unwrap();
    page.wait_for_text("Ouvrir Wave", WAIT).await.unwrap();
    in_the_app(app, &page, "approve").await;
    page.wait_for_text("Paiement réussi", WAIT).await.unwrap();
    let (s, p, attempts) = store_state(app, &id).await;
    assert_eq!((s.as_str(), p.as_str()), ("succeeded", "SUCCEEDED"));
    assert_eq!(attempts.len(), 3, "{attempts:?}");
    assert!(
        attempts.contains(&"wave:succeeded".to_owned()),
        "{attempts:?}"
    );
    assert!(
        attempts.contains(&"om:cancelled".to_owned()),
        "{attempts:?}"
    );
    page.close().await.unwrap();
    shop.stop().await;
});

e2e!(browser_expiry_and_cancel, |app| {
    let Some(browser) = browser().await else {
        return;
    };
    let shop = Shop::start().await;
    let page = browser.session(Viewport::Phone, Js::On).await.unwrap();
    // Expiry while the payer looks at the QR code: the page says so by itself.
    let (id, url) = session(app, &shop).await;
    page.goto(&url).await.unwrap();
    page.click_text("button", "Payer avec Wave").await.unwrap();
    page.wait_for_text("Temps restant", WAIT).await.unwrap();
    let past = nexpay_store::now() - chrono::Duration::seconds(1);
    assert!(app.store.set_session_deadline(&id, past).await.unwrap());
    page.wait_for_text("Session expirée", WAIT).await.unwrap();
    page.click_text("a", "Retourner à la boutique")
        .await
        .unwrap();
    page.wait_for_url(format!("{}/failure", shop.url), WAIT)
        .await
        .unwrap();
    // Cancel from the page: back to the shop's cancel URL, the session cancelled.
    let (id, url) = session(app, &shop).await;
    page.goto(&url).await.unwrap();
    page.click_text("button", "Annuler et retourner à la boutique")
        .await
        .unwrap();
    page.wait_for_url(format!("{}/cancel", shop.url), WAIT)
        .await
        .unwrap();
    let (s, p, _) = store_state(app, &id).await;
    assert_eq!((s.as_str(), p.as_str()), ("cancelled", "CANCELLED"));
    page.goto(&url).await.unwrap();
    page.wait_for_text("Paiement annulé", WAIT).await.unwrap();
    page.close().await.unwrap();
    shop.stop().await;
});

e2e!(browser_without_javascript, |app| {
    let Some(browser) = browser().await else {
        return;
    };
    let shop = Shop::start().await;
    let (id, url) = session(app, &shop).await;
    let page = browser.session(Viewport::Phone, Js::Off).await.unwrap();
    page.goto(&url).await.unwrap();
    page.click_text("button", "Payer avec Wave").await.unwrap();
    page.wait_for_text("Ouvrir Wave", WAIT).await.unwrap();
    // Without the script, no countdown and no copy button, but everything else.
    let text = page.body_text().await.unwrap();
    assert!(!text.contains("Temps restant"), "{text}");
    assert!(text.contains("Expire à"), "{text}");
    in_the_app(app, &page, "approve").await;
    // The payer checks by hand; the receipt then goes on to the shop by itself (a meta
    // refresh, no script).
    let mut paid = false;
    for _ in 0..40 {
        page.click_text("a", "J'ai payé, vérifier").await.unwrap();
        if page.body_text().await.unwrap().contains("Paiement réussi") {
            paid = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(paid, "{}", page.body_text().await.unwrap_or_default());
    page.wait_for_url(format!("{}/success", shop.url), WAIT)
        .await
        .unwrap();
    page.wait_for_text("Shop: success", WAIT).await.unwrap();
    let (s, _, _) = store_state(app, &id).await;
    assert_eq!(s, "succeeded");
    page.close().await.unwrap();
    shop.stop().await;
});

// The main states on a phone and a desktop, as PNG files:
// `NEXPAY_SCREENSHOTS=docs/screenshots cargo test -p nexpay-testkit --test e2e checkout_screenshots::sqlite`
// (without the variable they go to a temporary folder and are only checked).
e2e!(checkout_screenshots, |app| {
    let Some(browser) = browser().await else {
        return;
    };
    let shop = Shop::start().await;
    let dir = shots_dir(app);
    let mut files = Vec::new();
    for (viewport, name, scale) in [
        (Viewport::Phone, "phone", 2),
        (Viewport::Desktop, "desktop", 1),
    ] {
        let page = browser.session(viewport, Js::On).await.unwrap();
        let (_, url) = session(app, &shop).await;
        page.goto(&url).await.unwrap();
        page.wait_for_text("Choisissez", WAIT).await.unwrap();
        files.push((
            shot(&page, &dir, &format!("checkout-{name}-choose")).await,
            viewport,
            scale,
        ));
        page.click_text("button", "Payer avec Orange Money")
            .await
            .unwrap();
        page.wait_for_text("En attente", WAIT).await.unwrap();
        // Wait for the QR image before the picture.
        let loaded = nexpay_testkit::eventually(WAIT, || async {
            let v = page
                .execute(
                    "var i=document.querySelector('.qr img');return i.complete&&i.naturalWidth>0",
                )
                .await
                .ok()?;
            (v == Value::Bool(true)).then_some(())
        })
        .await;
        assert!(loaded.is_some());
        files.push((
            shot(&page, &dir, &format!("checkout-{name}-pay")).await,
            viewport,
            scale,
        ));
        in_the_app(app, &page, "approve").await;
        page.wait_for_text("Paiement réussi", WAIT).await.unwrap();
        files.push((
            shot(&page, &dir, &format!("checkout-{name}-paid")).await,
            viewport,
            scale,
        ));
        page.close().await.unwrap();
    }
    for (file, viewport, scale) in &files {
        let img = image::open(file).unwrap();
        let (w, _) = viewport.size();
        assert_eq!(img.width(), w * scale, "{}", file.display());
        eprintln!("saved {}", file.display());
    }
    if std::env::var_os("NEXPAY_SCREENSHOTS").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    shop.stop().await;
});
