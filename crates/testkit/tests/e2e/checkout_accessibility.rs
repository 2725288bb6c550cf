//! The hosted checkout page's accessibility, checked in a real browser on every wiring:
//! axe-core's WCAG 2.2 A/AA rules and best practices on every state of the page (French
//! on a phone, English on a desktop, without JavaScript, with a pale and a dark brand
//! colour), the keyboard path (focus order, a visible focus indicator with enough
//! contrast, paying with the keyboard alone), and the page at 320 px wide.

use crate::browser_journeys::{browser, in_the_app, session, Shop, WAIT};
use crate::support::*;
use fantoccini::key::Key;
use nexpay_testkit::a11y::{focus_walk, focusable, overflow, Axe, Focused};
use nexpay_testkit::browser::{Browser, Js, Lang, Page, SessionOptions, Viewport};
use nexpay_testkit::TestApp;
use serde_json::json;

/// axe-core, or `None` (with the reason printed) outside CI when it is not installed.
fn axe() -> Option<Axe> {
    Axe::load().unwrap()
}

/// Waits until the page shows `state` (`choose`, `pay`, `paid`, `expired`, ...).
async fn wait_state(page: &Page, state: &str) {
    let script = "return document.body.getAttribute('data-state')";
    let seen = nexpay_testkit::eventually(WAIT, || async {
        let v = page.execute(script).await.ok()?;
        (v.as_str() == Some(state)).then_some(())
    })
    .await;
    if seen.is_none() {
        let now = page.execute(script).await.unwrap();
        panic!(
            "the page did not reach {state:?} (it shows {now}): {}",
            page.body_text().await.unwrap_or_default()
        );
    }
}

/// A session with no redirect URL: its receipt stays on screen.
async fn session_without_urls(app: &TestApp) -> String {
    let mut body = session_body();
    for k in ["success_url", "cancel_url"] {
        body.as_object_mut().unwrap().remove(k);
    }
    body["items"] = json!([
        {"label": "Thiéboudienne", "unitPrice": 5000, "quantity": 1},
        {"label": "Bissap (1 L)", "unitPrice": 2500, "quantity": 2}
    ]);
    let r = post(app, SESSION, Some(&app.write_key), &body, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.data()["checkoutUrl"].as_str().unwrap().to_owned()
}

async fn set_brand(app: &TestApp, name: &str, accent: &str) {
    let settings = json!({ "accentColor": accent });
    app.store
        .update_project(
            &app.project_id,
            &nexpay_store::ProjectUpdate {
                name: Some(name.into()),
                settings: Some(settings.to_string()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
}

/// Audits every state a payer can meet with `options`: choice, Wave, Orange Money, a
/// failed attempt, the receipt, expired, cancelled, and an unknown session.
///
/// With JavaScript on only: axe runs on the page's timers, which a browser with
/// JavaScript blocked never fires. The page without its script is the same markup with
/// the copy buttons and the countdown left `hidden`, which axe skips anyway; its
/// keyboard path is checked in `checkout_keyboard_path`.
async fn audit_states(
    app: &TestApp,
    browser: &Browser,
    axe: &Axe,
    shop: &Shop,
    options: SessionOptions,
) {
    assert_eq!(options.js, Js::On, "axe needs the page's JavaScript");
    let page = browser.session_with(options).await.unwrap();
    let label = format!("{options:?}");
    let check = |what: &'static str| {
        let label = label.clone();
        let page = &page;
        async move {
            axe.assert_clean(page, &format!("{what} ({label})"))
                .await
                .unwrap();
        }
    };

    let (_, url) = session(app, shop).await;
    page.goto(&url).await.unwrap();
    wait_state(&page, "choose").await;
    check("choice of provider").await;
    page.click("button[value=wave]").await.unwrap();
    wait_state(&page, "pay").await;
    check("paying with Wave").await;
    page.goto(&format!("{url}?choose=1")).await.unwrap();
    wait_state(&page, "choose").await;
    page.click("button[value=om]").await.unwrap();
    wait_state(&page, "pay").await;
    check("paying with Orange Money").await;
    in_the_app(app, &page, "insufficient").await;
    let notice = nexpay_testkit::eventually(WAIT, || async {
        let v = page
            .execute("return !!document.querySelector('.notice')")
            .await
            .ok()?;
        (v.as_bool() == Some(true)).then_some(())
    })
    .await;
    assert!(
        notice.is_some(),
        "no failure notice after a declined attempt"
    );
    check("choice after a failed attempt").await;

    // Cancelled, then expired, then the receipt of another session.
    page.click("form[action$='/cancel'] button").await.unwrap();
    page.wait_for_url(format!("{}/cancel", shop.url), WAIT)
        .await
        .unwrap();
    page.goto(&url).await.unwrap();
    wait_state(&page, "cancelled").await;
    check("cancelled").await;
    let (id2, url2) = session(app, shop).await;
    let past = nexpay_store::now() - chrono::Duration::seconds(1);
    assert!(app.store.set_session_deadline(&id2, past).await.unwrap());
    page.goto(&url2).await.unwrap();
    wait_state(&page, "expired").await;
    check("expired").await;
    let url3 = session_without_urls(app).await;
    page.goto(&url3).await.unwrap();
    page.click("button[value=wave]").await.unwrap();
    wait_state(&page, "pay").await;
    in_the_app(app, &page, "approve").await;
    wait_state(&page, "paid").await;
    check("receipt").await;
    page.goto(&app.url("/checkout/cs_doesnotexist0000000000"))
        .await
        .unwrap();
    check("unknown session").await;
    page.close().await.unwrap();
}

e2e!(checkout_passes_accessibility_rules, |app| {
    let Some(axe) = axe() else {
        return;
    };
    let Some(browser) = browser().await else {
        return;
    };
    let shop = Shop::start().await;
    let phone = SessionOptions::new(Viewport::Phone, Js::On);
    let desktop = SessionOptions::new(Viewport::Desktop, Js::On).lang(Lang::EnUs);
    // The default colour on a phone and a desktop, then a merchant's pale brand colour,
    // a dark one and an orange: the buttons must stay readable.
    for (accent, options) in [
        (None, phone),
        (None, desktop),
        (Some("#ffcc00"), phone),
        (Some("#1e1b4b"), phone),
        (Some("#ff7900"), phone),
    ] {
        if let Some(accent) = accent {
            set_brand(app, "Boutique Ndèye & Fils", accent).await;
        }
        audit_states(app, &browser, &axe, &shop, options).await;
    }
    shop.stop().await;
});

/// The Tab walk reaches exactly the elements that should take the focus, in document
/// order, which is also the order on screen (top to bottom, then left to right on one
/// line); each shows a focus outline of at least 2 px with at least 3:1 contrast
/// (WCAG 2.4.7, 2.4.11, 1.4.11).
fn assert_focus_path(walk: &[Focused], expected: &[nexpay_testkit::a11y::Focusable], what: &str) {
    let names: Vec<(&str, &str)> = walk
        .iter()
        .map(|f| (f.element.tag.as_str(), f.element.name.as_str()))
        .collect();
    let want: Vec<(&str, &str)> = expected
        .iter()
        .map(|f| (f.tag.as_str(), f.name.as_str()))
        .collect();
    assert_eq!(names, want, "{what}: Tab order");
    for pair in walk.windows(2) {
        let (a, b) = (&pair[0].element, &pair[1].element);
        let same_line = (b.top - a.top).abs() < a.height.min(b.height) / 2.0;
        assert!(
            if same_line {
                b.left > a.left
            } else {
                b.top > a.top
            },
            "{what}: focus goes from {a:?} back up or left to {b:?}"
        );
    }
    for f in walk {
        assert!(
            f.shadow || (f.outline_width >= 2.0 && f.outline_contrast >= 3.0),
            "{what}: no visible focus indicator on {f:?}"
        );
    }
}

e2e!(checkout_keyboard_path, |app| {
    let Some(browser) = browser().await else {
        return;
    };
    let shop = Shop::start().await;
    for options in [
        SessionOptions::new(Viewport::Desktop, Js::On).lang(Lang::EnUs),
        SessionOptions::new(Viewport::Phone, Js::On),
        SessionOptions::new(Viewport::Desktop, Js::Off),
    ] {
        let what = format!("{options:?}");
        let page = browser.session_with(options).await.unwrap();
        let (_, url) = session(app, &shop).await;
        page.goto(&url).await.unwrap();
        wait_state(&page, "choose").await;
        let expected = focusable(&page).await.unwrap();
        // Copy the reference (a script's), one button per provider, cancel, the
        // language switch.
        let count = if options.js == Js::On { 5 } else { 4 };
        assert_eq!(expected.len(), count, "{what}: {expected:?}");
        let walk = focus_walk(&page, 20).await.unwrap();
        assert_focus_path(&walk, &expected, &format!("choice, {what}"));

        // Pay with the keyboard alone: Tab to Wave's button, Enter.
        let wave = expected
            .iter()
            .position(|f| f.name.contains("Wave"))
            .unwrap();
        focus_walk(&page, wave + 1).await.unwrap();
        let focused = page
            .execute("return document.activeElement.value")
            .await
            .unwrap();
        assert_eq!(focused, json!("wave"), "{what}");
        page.press(Key::Enter).await.unwrap();
        wait_state(&page, "pay").await;
        let expected = focusable(&page).await.unwrap();
        let walk = focus_walk(&page, 20).await.unwrap();
        assert_focus_path(&walk, &expected, &format!("paying, {what}"));
        let tags: Vec<&str> = walk.iter().map(|f| f.element.name.as_str()).collect();
        let open = if options.lang == Lang::EnUs {
            "Open Wave"
        } else {
            "Ouvrir Wave"
        };
        assert!(tags.iter().any(|n| n.contains(open)), "{what}: {tags:?}");
        page.close().await.unwrap();
    }
    shop.stop().await;
});

e2e!(checkout_at_320_px, |app| {
    let Some(browser) = browser().await else {
        return;
    };
    let axe = axe();
    // A long shop name and long item labels must wrap, not widen the page.
    set_brand(
        app,
        "Boutique Ndèye & Fils — Alimentation générale et produits frais de la Médina",
        "#0b6e4f",
    )
    .await;
    let page = browser.session(Viewport::Narrow, Js::On).await.unwrap();
    let url = session_without_urls(app).await;
    let check = |what: &'static str| {
        let page = &page;
        let axe = axe.as_ref();
        async move {
            // Nothing the browser fetched came from another origin (no CDN, no font,
            // no analytics; the shop's logo is relayed by this server).
            let fetched = page
                .execute(
                    "return performance.getEntriesByType('resource')\
                     .map(function (e) { return e.name; })",
                )
                .await
                .unwrap();
            for name in fetched.as_array().unwrap() {
                let name = name.as_str().unwrap();
                assert!(
                    name.starts_with(&format!("{}/", app.base_url)),
                    "{what}: the page fetched {name}"
                );
            }
            let (width, out) = overflow(page).await.unwrap();
            assert!(width <= 320.0, "{what}: the page is {width} px wide");
            assert!(out.is_empty(), "{what}: past the edges at 320 px: {out:#?}");
            // Targets of at least 24x24 CSS px (WCAG 2.5.8); the main buttons 44 px high.
            for f in focusable(page).await.unwrap() {
                assert!(
                    f.width >= 24.0 && f.height >= 24.0,
                    "{what}: target too small: {f:?}"
                );
            }
            let heights = page
                .execute(
                    "return Array.from(document.querySelectorAll('.btn'))\
                     .map(function (b) { return b.getBoundingClientRect().height; })",
                )
                .await
                .unwrap();
            for h in heights.as_array().unwrap() {
                assert!(
                    h.as_f64().unwrap() >= 44.0,
                    "{what}: a button is {h} px high"
                );
            }
            if let Some(axe) = axe {
                axe.assert_clean(page, &format!("{what} at 320 px"))
                    .await
                    .unwrap();
            }
        }
    };
    page.goto(&url).await.unwrap();
    wait_state(&page, "choose").await;
    check("choice").await;
    page.click("button[value=om]").await.unwrap();
    wait_state(&page, "pay").await;
    check("paying with Orange Money").await;
    page.goto(&format!("{url}?choose=1")).await.unwrap();
    page.click("button[value=wave]").await.unwrap();
    wait_state(&page, "pay").await;
    check("paying with Wave").await;
    in_the_app(app, &page, "approve").await;
    wait_state(&page, "paid").await;
    check("receipt").await;
    // The other ends, in English too (its words are longer in places).
    let url = session_without_urls(app).await;
    page.goto(&format!("{url}?lang=en")).await.unwrap();
    wait_state(&page, "choose").await;
    check("choice in English").await;
    page.click("button.linkbtn").await.unwrap();
    wait_state(&page, "cancelled").await;
    check("cancelled").await;
    let url = session_without_urls(app).await;
    let id = url.rsplit('/').next().unwrap();
    let past = nexpay_store::now() - chrono::Duration::seconds(1);
    assert!(app.store.set_session_deadline(id, past).await.unwrap());
    page.goto(&url).await.unwrap();
    wait_state(&page, "expired").await;
    check("expired").await;
    page.goto(&app.url("/checkout/cs_0000000000000000000000000000000000000000"))
        .await
        .unwrap();
    page.wait_for_text("Page not found", WAIT).await.unwrap();
    check("unknown session").await;
    page.close().await.unwrap();
});
