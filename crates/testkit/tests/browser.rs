//! The browser harness (`nexpay_testkit::browser`) against a tiny actix-web page: a form
//! that POSTs and is answered with a 303 to a result page, and a script that changes a
//! text. Runs in `cargo test --workspace`; skipped (with a message) only outside CI when
//! Chromium is not installed (`bash .ci/browser-setup` installs it).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpResponse, HttpServer};
use nexpay_testkit::browser::{Browser, Js, Lang, SessionOptions, Viewport};

const WAIT: Duration = Duration::from_secs(10);
const NO_JS: &str = "JavaScript inactif";
const WITH_JS: &str = "JavaScript actif";

fn html(body: &str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(format!(
            "<!doctype html><html><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>Test</title></head><body>{body}\
             <p id=\"js\">{NO_JS}</p>\
             <script>document.getElementById('js').textContent = '{WITH_JS}';</script>\
             </body></html>"
        ))
}

async fn form() -> HttpResponse {
    html(
        "<h1>Paiement</h1>\
         <form method=\"post\" action=\"/pay\">\
         <label>Montant <input name=\"amount\" value=\"\"></label>\
         <button type=\"submit\">Payer maintenant</button></form>",
    )
}

async fn pay(form: web::Form<HashMap<String, String>>) -> HttpResponse {
    let amount: String = form
        .get("amount")
        .map(|a| a.chars().filter(char::is_ascii_digit).collect())
        .unwrap_or_default();
    HttpResponse::SeeOther()
        .insert_header(("Location", format!("/result?amount={amount}")))
        .finish()
}

async fn result(query: web::Query<HashMap<String, String>>) -> HttpResponse {
    let amount = query.get("amount").cloned().unwrap_or_default();
    html(&format!(
        "<h1>Paiement reçu</h1><p id=\"amount\">{amount} EUR</p>"
    ))
}

/// Serves the page on 127.0.0.1; returns its base URL.
fn serve() -> anyhow::Result<(String, actix_web::dev::ServerHandle)> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let server = HttpServer::new(|| {
        App::new()
            .route("/", web::get().to(form))
            .route("/pay", web::post().to(pay))
            .route("/result", web::get().to(result))
    })
    .workers(1)
    .listen(listener)?
    .disable_signals()
    .shutdown_timeout(0)
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    Ok((format!("http://127.0.0.1:{port}"), handle))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn form_posts_and_redirects_with_and_without_javascript() -> anyhow::Result<()> {
    if !Browser::available()? {
        return Ok(());
    }
    let (base, server) = serve()?;
    let started = Instant::now();
    let browser = Browser::start().await?;
    eprintln!("chromedriver ready in {:?}", started.elapsed());

    for (js, viewport) in [(Js::Off, Viewport::Phone), (Js::On, Viewport::Desktop)] {
        let started = Instant::now();
        let page = browser.session(viewport, js).await?;
        eprintln!(
            "{js:?} {viewport:?} session started in {:?}",
            started.elapsed()
        );

        page.goto(&format!("{base}/")).await?;
        assert!(page.body_text().await?.contains("Paiement"));
        let script_text = page.text("#js").await?;
        match js {
            Js::Off => assert_eq!(script_text, NO_JS, "the script ran with JS off"),
            Js::On => assert_eq!(script_text, WITH_JS, "the script did not run with JS on"),
        }

        page.fill("input[name=amount]", "1250").await?;
        page.click_text("button", "Payer").await?;
        let url = page.wait_for_url("/result", WAIT).await?;
        assert_eq!(url, format!("{base}/result?amount=1250"));
        page.wait_for_text("Paiement reçu", WAIT).await?;
        assert_eq!(page.text("#amount").await?, "1250 EUR");
        let body = page.body_text().await?;
        match js {
            Js::Off => assert!(body.contains(NO_JS) && !body.contains(WITH_JS), "{body}"),
            Js::On => assert!(body.contains(WITH_JS) && !body.contains(NO_JS), "{body}"),
        }
        assert!(page
            .wait_for_url(|u: &str| u.ends_with("amount=1250"), WAIT)
            .await
            .is_ok());
        page.close().await?;
    }
    server.stop(false).await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewports_language_and_screenshot() -> anyhow::Result<()> {
    if !Browser::available()? {
        return Ok(());
    }
    let (base, server) = serve()?;
    let browser = Browser::start().await?;

    let phone = browser.session(Viewport::Phone, Js::On).await?;
    phone.goto(&format!("{base}/")).await?;
    assert_eq!(phone.execute("return window.innerWidth").await?, 360);
    assert_eq!(phone.execute("return window.innerHeight").await?, 740);
    assert_eq!(phone.execute("return window.devicePixelRatio").await?, 2);
    assert_eq!(phone.execute("return navigator.language").await?, "fr-FR");
    let ua = phone.execute("return navigator.userAgent").await?;
    assert!(ua.as_str().is_some_and(|u| u.contains("Android")), "{ua}");
    let coarse = "return matchMedia('(pointer: coarse)').matches";
    assert_eq!(
        phone.execute(coarse).await?,
        true,
        "a touch screen with JS on"
    );

    let shot = std::env::temp_dir().join(format!(
        "nexpay-browser-test-{}/phone.png",
        std::process::id()
    ));
    phone.screenshot(&shot).await?;
    let bytes = std::fs::read(&shot)?;
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let img = image::load_from_memory_with_format(&bytes, image::ImageFormat::Png)?;
    assert_eq!(
        (img.width(), img.height()),
        (720, 1480),
        "360x740 at ratio 2"
    );
    phone.close().await?;
    let _ = std::fs::remove_dir_all(shot.parent().unwrap_or(&shot));

    let desktop = browser.session(Viewport::Desktop, Js::Off).await?;
    desktop.goto(&format!("{base}/")).await?;
    assert_eq!(desktop.execute("return window.innerWidth").await?, 1280);
    assert_eq!(desktop.execute("return window.innerHeight").await?, 800);
    assert_eq!(desktop.execute("return navigator.language").await?, "fr-FR");
    desktop.close().await?;

    let en = browser
        .session_with(SessionOptions::new(Viewport::Desktop, Js::On).lang(Lang::EnUs))
        .await?;
    en.goto(&format!("{base}/")).await?;
    assert_eq!(en.execute("return navigator.language").await?, "en-US");
    en.close().await?;

    server.stop(false).await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_name_the_page() -> anyhow::Result<()> {
    if !Browser::available()? {
        return Ok(());
    }
    let (base, server) = serve()?;
    let browser = Browser::start().await?;
    let mut page = browser.session(Viewport::Desktop, Js::Off).await?;
    page.set_find_timeout(Duration::from_millis(300));
    page.goto(&format!("{base}/")).await?;

    let err = page.click("#nope").await.err().map(|e| e.to_string());
    let err = err.unwrap_or_default();
    assert!(err.contains("#nope"), "{err}");
    assert!(err.contains(&format!("{base}/")), "{err}");
    assert!(err.contains("Paiement"), "{err}");

    let err = page
        .wait_for_text("jamais", Duration::from_millis(300))
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("jamais") && err.contains("Paiement"), "{err}");
    page.close().await?;
    server.stop(false).await;
    Ok(())
}
