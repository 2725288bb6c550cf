//! Browser tests: drives Debian's headless Chromium through `chromedriver` with
//! [fantoccini](https://docs.rs/fantoccini) (WebDriver over plain HTTP on 127.0.0.1).
//!
//! `.ci/browser-setup` installs `/usr/bin/chromium` and `/usr/bin/chromedriver` (the
//! Debian packages `chromium` and `chromium-driver`); only Debian's build runs here.
//!
//! ```no_run
//! use std::time::Duration;
//! use nexpay_testkit::browser::{Browser, Js, Lang, SessionOptions, Viewport};
//!
//! # async fn demo(base: &str) -> anyhow::Result<()> {
//! // Skips (prints why, returns false) when Chromium is missing, except under CI=true
//! // where that is an error.
//! if !Browser::available()? {
//!     return Ok(());
//! }
//! let browser = Browser::start().await?; // one chromedriver, killed on drop
//! let page = browser.session(Viewport::Phone, Js::Off).await?; // fr-FR by default
//! page.goto(&format!("{base}/checkout/abc")).await?;
//! page.fill("input[name=email]", "a@example.com").await?;
//! page.click_text("button", "Payer").await?;
//! page.wait_for_url("/checkout/abc/done", Duration::from_secs(5)).await?;
//! page.wait_for_text("Paiement reçu", Duration::from_secs(5)).await?;
//! page.screenshot("target/checkout-phone.png").await?;
//! page.close().await?;
//!
//! let en = browser
//!     .session_with(SessionOptions::new(Viewport::Desktop, Js::On).lang(Lang::EnUs))
//!     .await?;
//! en.close().await?;
//! # Ok(()) }
//! ```
//!
//! - [`Browser::start`] runs `chromedriver --port=<free port>` as a child process in its
//!   own process group, waits until `/status` says ready, and kills the group (driver and
//!   any browser left open) on drop. Several sessions can share one `Browser`.
//! - [`Browser::session`] opens a fresh headless Chromium (new profile, `--headless=new
//!   --no-sandbox --disable-gpu --disable-dev-shm-usage`):
//!   - [`Viewport::Phone`]: Chrome's mobile emulation, 360x740 CSS pixels, pixel ratio 2,
//!     an Android user agent ([`PHONE_USER_AGENT`]), a touch screen with [`Js::On`] only
//!     (chromedriver's tap hangs when the page's JavaScript is blocked, so with
//!     [`Js::Off`] clicks are mouse clicks and `(pointer: coarse)` does not match). As on
//!     a real phone, `window.innerWidth` is 360 only for a page with
//!     `<meta name="viewport" content="width=device-width">` (980 without);
//!   - [`Viewport::Desktop`]: a 1280x800 window;
//!   - [`Viewport::Narrow`]: as the phone, 320x640 CSS pixels;
//!   - [`Js::Off`]: JavaScript blocked by the content setting
//!     `profile.managed_default_content_settings.javascript = 2` (the page's scripts do
//!     not run; [`Page::execute`] still works, it goes through the driver);
//!   - [`Lang::FrFr`] by default (`--lang` and the `intl.accept_languages` preference,
//!     so `navigator.language` and the `Accept-Language` header), [`Lang::EnUs`] with
//!     [`Browser::session_with`].
//! - [`Page`] wraps the [`fantoccini::Client`] ([`Page::client`] for anything else).
//!   Element look-ups (`click`, `click_text`, `fill`, `text`) wait up to
//!   [`Page::find_timeout`] (5 s by default) for the element to appear; `wait_for_text`
//!   and `wait_for_url` poll every 100 ms until their timeout. Every error names the
//!   current URL and the start of the page's text.
//! - Always [`Page::close`] a page: that quits its Chromium. A page dropped without it
//!   (a failing test) is cleaned up when the `Browser` drops.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

/// Debian's Chromium (a wrapper script around /usr/lib/chromium/chromium).
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// Debian's chromedriver (package `chromium-driver`), the same version as Chromium.
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The user agent of [`Viewport::Phone`].
pub const PHONE_USER_AGENT: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) \
     AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36";

/// How often the `wait_for_*` helpers and element look-ups poll.
const POLL: Duration = Duration::from_millis(100);
/// How long `chromedriver` may take to answer `/status`.
const DRIVER_START_TIMEOUT: Duration = Duration::from_secs(20);
/// How much of the page text an error message shows.
const EXCERPT_CHARS: usize = 600;

/// The size of the window and how the page sees the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewport {
    /// 360x740 CSS pixels, device pixel ratio 2, mobile user agent, touch (with [`Js::On`]).
    Phone,
    /// A 1280x800 window.
    Desktop,
    /// The narrowest phone the page supports: 320x640 CSS pixels, otherwise as
    /// [`Viewport::Phone`] (the width WCAG's reflow criterion names).
    Narrow,
}

impl Viewport {
    /// Width and height in CSS pixels.
    pub fn size(self) -> (u32, u32) {
        match self {
            Viewport::Phone => (360, 740),
            Viewport::Desktop => (1280, 800),
            Viewport::Narrow => (320, 640),
        }
    }
}

/// Whether the page's own scripts run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Js {
    On,
    Off,
}

/// The browser's language: `--lang` and `Accept-Language`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// `fr-FR` (then `fr`): the default.
    #[default]
    FrFr,
    /// `en-US` (then `en`).
    EnUs,
}

impl Lang {
    /// The `--lang` value, also `navigator.language`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::FrFr => "fr-FR",
            Lang::EnUs => "en-US",
        }
    }

    /// The `intl.accept_languages` preference (`Accept-Language`, `navigator.languages`).
    pub fn accept_languages(self) -> &'static str {
        match self {
            Lang::FrFr => "fr-FR,fr",
            Lang::EnUs => "en-US,en",
        }
    }
}

/// What [`Browser::session_with`] opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionOptions {
    pub viewport: Viewport,
    pub js: Js,
    pub lang: Lang,
}

impl SessionOptions {
    /// `lang` is [`Lang::FrFr`].
    pub fn new(viewport: Viewport, js: Js) -> SessionOptions {
        SessionOptions {
            viewport,
            js,
            lang: Lang::default(),
        }
    }

    pub fn lang(mut self, lang: Lang) -> SessionOptions {
        self.lang = lang;
        self
    }

    /// The WebDriver capabilities that ask chromedriver for this session.
    pub fn capabilities(&self) -> serde_json::Map<String, Value> {
        let (width, height) = self.viewport.size();
        let mut args = vec![
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--no-first-run".to_owned(),
            "--no-default-browser-check".to_owned(),
            "--disable-extensions".to_owned(),
            "--hide-scrollbars".to_owned(),
            format!("--lang={}", self.lang.tag()),
            format!("--window-size={width},{height}"),
        ];
        if self.viewport == Viewport::Desktop {
            args.push("--force-device-scale-factor=1".to_owned());
        }
        let mut prefs = serde_json::Map::new();
        prefs.insert(
            "intl.accept_languages".into(),
            self.lang.accept_languages().into(),
        );
        if self.js == Js::Off {
            prefs.insert(
                "profile.managed_default_content_settings.javascript".into(),
                2.into(),
            );
        }
        let mut chrome = serde_json::Map::new();
        chrome.insert("binary".into(), CHROMIUM.into());
        chrome.insert("args".into(), args.into());
        chrome.insert("prefs".into(), prefs.into());
        if self.viewport != Viewport::Desktop {
            chrome.insert(
                "mobileEmulation".into(),
                json!({
                    "deviceMetrics": {
                        "width": width,
                        "height": height,
                        "pixelRatio": 2,
                        "mobile": true,
                        // chromedriver taps an emulated touch screen by awaiting a
                        // page timer, which never fires with JavaScript blocked: every
                        // click would hang for 600 s. Without JS, plain mouse clicks.
                        "touch": self.js == Js::On,
                    },
                    "userAgent": PHONE_USER_AGENT,
                }),
            );
        }
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), "chrome".into());
        caps.insert("pageLoadStrategy".into(), "normal".into());
        caps.insert("goog:chromeOptions".into(), chrome.into());
        caps
    }
}

/// A running `chromedriver`; killed (with the browsers it started) on drop.
pub struct Browser {
    child: Child,
    /// The driver's address, e.g. `http://127.0.0.1:9515`.
    pub webdriver_url: String,
    /// chromedriver's own output (one file per `Browser`).
    pub log_path: PathBuf,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser")
            .field("pid", &self.child.id())
            .field("webdriver_url", &self.webdriver_url)
            .field("log_path", &self.log_path)
            .finish()
    }
}

/// Under `CI=true`, a missing browser fails the tests instead of skipping them.
fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true"))
}

/// What is missing to run a browser, if anything.
fn missing() -> Option<String> {
    let gone: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .filter(|p| !Path::new(p).exists())
        .collect();
    (!gone.is_empty()).then(|| {
        format!(
            "{} missing (install with `bash .ci/browser-setup`: Debian's chromium and \
             chromium-driver)",
            gone.join(" and ")
        )
    })
}

impl Browser {
    /// Whether browser tests can run: `Ok(true)` when Chromium and chromedriver are
    /// installed; otherwise prints the reason on stderr and returns `Ok(false)` (the test
    /// returns early), except under `CI=true` where it is an error.
    pub fn available() -> anyhow::Result<bool> {
        match missing() {
            None => Ok(true),
            Some(why) if under_ci() => bail!("browser tests cannot run under CI=true: {why}"),
            Some(why) => {
                eprintln!("skipping browser test: {why}");
                Ok(false)
            }
        }
    }

    /// Starts `chromedriver` on a free port of 127.0.0.1 and waits until it is ready.
    pub async fn start() -> anyhow::Result<Browser> {
        if let Some(why) = missing() {
            bail!("cannot start the browser: {why}");
        }
        // The port is free when probed; another process may take it before chromedriver
        // binds it, so a driver that exits at once is retried on another port.
        let mut last = None;
        for _ in 0..3 {
            match Browser::start_once().await {
                Ok(b) => return Ok(b),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| anyhow!("chromedriver did not start")))
    }

    async fn start_once() -> anyhow::Result<Browser> {
        let port = std::net::TcpListener::bind(("127.0.0.1", 0))?
            .local_addr()?
            .port();
        let log_path = std::env::temp_dir().join(format!(
            "nexpay-chromedriver-{}-{port}.log",
            std::process::id()
        ));
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("creating {}", log_path.display()))?;
        let child = {
            use std::os::unix::process::CommandExt;
            Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .arg("--allowed-ips=127.0.0.1")
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log)
                // Its own process group: drop kills the driver and every browser in it.
                .process_group(0)
                .spawn()
                .with_context(|| format!("starting {CHROMEDRIVER}"))?
        };
        let mut browser = Browser {
            child,
            webdriver_url: format!("http://127.0.0.1:{port}"),
            log_path,
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()?;
        let status_url = format!("{}/status", browser.webdriver_url);
        let until = Instant::now() + DRIVER_START_TIMEOUT;
        loop {
            if let Some(exit) = browser.child.try_wait()? {
                bail!(
                    "chromedriver exited at start ({exit}); its log:\n{}",
                    browser.log_tail()
                );
            }
            if let Ok(resp) = http.get(&status_url).send().await {
                if let Ok(body) = resp.json::<Value>().await {
                    if body["value"]["ready"] == Value::Bool(true) {
                        return Ok(browser);
                    }
                }
            }
            if Instant::now() >= until {
                bail!(
                    "chromedriver did not answer {status_url} within {DRIVER_START_TIMEOUT:?}; \
                     its log:\n{}",
                    browser.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The last lines of chromedriver's log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// A new headless Chromium in `fr-FR`.
    pub async fn session(&self, viewport: Viewport, js: Js) -> anyhow::Result<Page> {
        self.session_with(SessionOptions::new(viewport, js)).await
    }

    /// A new headless Chromium with every option (e.g. [`Lang::EnUs`]).
    pub async fn session_with(&self, options: SessionOptions) -> anyhow::Result<Page> {
        let mut builder =
            ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
        builder.capabilities(options.capabilities());
        let client = builder.connect(&self.webdriver_url).await.map_err(|e| {
            anyhow!(
                "chromedriver could not open a Chromium session ({options:?}): {e}\n\
                 chromedriver's log:\n{}",
                self.log_tail()
            )
        })?;
        if options.viewport == Viewport::Desktop {
            // --window-size sets the outer window; make the viewport itself 1280x800.
            let (width, height) = options.viewport.size();
            let inner = client
                .execute("return [window.innerWidth, window.innerHeight]", vec![])
                .await?;
            let (iw, ih) = (inner[0].as_u64(), inner[1].as_u64());
            if let (Some(iw), Some(ih)) = (iw, ih) {
                if (iw, ih) != (u64::from(width), u64::from(height)) {
                    let (ow, oh) = client.get_window_size().await?;
                    let w = (ow + u64::from(width)).saturating_sub(iw);
                    let h = (oh + u64::from(height)).saturating_sub(ih);
                    client
                        .set_window_size(
                            u32::try_from(w).unwrap_or(width),
                            u32::try_from(h).unwrap_or(height),
                        )
                        .await?;
                }
            }
        }
        Ok(Page {
            client,
            options,
            find_timeout: Duration::from_secs(5),
        })
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The whole process group: chromedriver and any Chromium a test left open.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log_path);
    }
}

/// What [`Page::wait_for_url`] waits for: a `&str`/`String` is a prefix of the URL, or
/// of its path when it starts with `/`; a closure `Fn(&str) -> bool` gets the whole URL.
pub trait UrlMatch {
    fn is_match(&self, url: &str) -> bool;
    fn describe(&self) -> String;
}

impl UrlMatch for &str {
    fn is_match(&self, url: &str) -> bool {
        url.starts_with(self) || (self.starts_with('/') && path_of(url).starts_with(self))
    }
    fn describe(&self) -> String {
        format!("a URL starting with {self:?}")
    }
}

impl UrlMatch for String {
    fn is_match(&self, url: &str) -> bool {
        self.as_str().is_match(url)
    }
    fn describe(&self) -> String {
        self.as_str().describe()
    }
}

impl<F: Fn(&str) -> bool> UrlMatch for F {
    fn is_match(&self, url: &str) -> bool {
        self(url)
    }
    fn describe(&self) -> String {
        "a URL matching the predicate".to_owned()
    }
}

/// The path, query and fragment of an absolute URL (`/a?b` of `http://h:1/a?b`).
fn path_of(url: &str) -> &str {
    match url.find("://") {
        Some(i) => {
            let rest = &url[i + 3..];
            rest.find('/').map_or("/", |j| &rest[j..])
        }
        None => url,
    }
}

/// One Chromium session (a fantoccini [`Client`]) with helpers whose errors say where the
/// page was. [`Page::close`] it at the end.
pub struct Page {
    client: Client,
    options: SessionOptions,
    find_timeout: Duration,
}

impl std::fmt::Debug for Page {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Page")
            .field("options", &self.options)
            .field("find_timeout", &self.find_timeout)
            .finish()
    }
}

impl Page {
    /// The underlying fantoccini client, for anything the helpers do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// What the session was opened with.
    pub fn options(&self) -> SessionOptions {
        self.options
    }

    /// How long element look-ups wait for the element to appear (5 s by default).
    pub fn find_timeout(&self) -> Duration {
        self.find_timeout
    }

    pub fn set_find_timeout(&mut self, timeout: Duration) {
        self.find_timeout = timeout;
    }

    /// Navigates to `url` and waits for the page to load.
    pub async fn goto(&self, url: &str) -> anyhow::Result<()> {
        if let Err(e) = self.client.goto(url).await {
            return Err(self.fail(format!("goto {url}: {e}")).await);
        }
        Ok(())
    }

    /// The current URL.
    pub async fn current_url(&self) -> anyhow::Result<String> {
        Ok(self
            .client
            .current_url()
            .await
            .context("reading the current URL")?
            .to_string())
    }

    /// Clicks the first element matching the CSS selector.
    pub async fn click(&self, css: &str) -> anyhow::Result<()> {
        let el = self.find(css).await?;
        if let Err(e) = el.click().await {
            return Err(self.fail(format!("click on {css:?}: {e}")).await);
        }
        Ok(())
    }

    /// Clicks the first `tag` element (e.g. `button`, `a`, or any CSS selector) whose
    /// visible text contains `text` (for an `<input>`, its value).
    pub async fn click_text(&self, tag: &str, text: &str) -> anyhow::Result<()> {
        let until = Instant::now() + self.find_timeout;
        loop {
            if let Ok(candidates) = self.client.find_all(Locator::Css(tag)).await {
                for el in candidates {
                    let mut shown = el.text().await.unwrap_or_default();
                    if shown.trim().is_empty() {
                        shown = el.prop("value").await.ok().flatten().unwrap_or_default();
                    }
                    if shown.contains(text) {
                        if let Err(e) = el.click().await {
                            return Err(self
                                .fail(format!("click on <{tag}> with text {text:?}: {e}"))
                                .await);
                        }
                        return Ok(());
                    }
                }
            }
            if Instant::now() >= until {
                return Err(self
                    .fail(format!(
                        "no <{tag}> with text containing {text:?} within {:?}",
                        self.find_timeout
                    ))
                    .await);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Types `value` into the field matching the CSS selector, after clearing it.
    pub async fn fill(&self, css: &str, value: &str) -> anyhow::Result<()> {
        let el = self.find(css).await?;
        let typed = async {
            el.clear().await?;
            el.send_keys(value).await
        }
        .await;
        if let Err(e) = typed {
            return Err(self.fail(format!("typing into {css:?}: {e}")).await);
        }
        Ok(())
    }

    /// The visible text of the first element matching the CSS selector.
    pub async fn text(&self, css: &str) -> anyhow::Result<String> {
        let el = self.find(css).await?;
        match el.text().await {
            Ok(t) => Ok(t),
            Err(e) => Err(self.fail(format!("reading the text of {css:?}: {e}")).await),
        }
    }

    /// The visible text of the whole page (`<body>`).
    pub async fn body_text(&self) -> anyhow::Result<String> {
        let body = self
            .client
            .find(Locator::Css("body"))
            .await
            .context("finding <body>")?;
        body.text().await.context("reading the text of <body>")
    }

    /// Waits until the page's visible text contains `needle`.
    pub async fn wait_for_text(&self, needle: &str, timeout: Duration) -> anyhow::Result<()> {
        let until = Instant::now() + timeout;
        loop {
            if let Ok(text) = self.body_text().await {
                if text.contains(needle) {
                    return Ok(());
                }
            }
            if Instant::now() >= until {
                return Err(self
                    .fail(format!(
                        "the text {needle:?} did not appear within {timeout:?}"
                    ))
                    .await);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until the URL matches (see [`UrlMatch`]: a prefix, a path prefix, or a
    /// predicate); returns it.
    pub async fn wait_for_url(
        &self,
        want: impl UrlMatch,
        timeout: Duration,
    ) -> anyhow::Result<String> {
        let until = Instant::now() + timeout;
        loop {
            if let Ok(url) = self.current_url().await {
                if want.is_match(&url) {
                    return Ok(url);
                }
            }
            if Instant::now() >= until {
                return Err(self
                    .fail(format!("waited {timeout:?} for {}", want.describe()))
                    .await);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Runs `js` as the body of a function in the page (`return ...` gives a value); works
    /// with [`Js::Off`] too.
    pub async fn execute(&self, js: &str) -> anyhow::Result<Value> {
        match self.client.execute(js, vec![]).await {
            Ok(v) => Ok(v),
            Err(e) => {
                // Scripts can be long (an injected library): name their start only.
                let head: String = js.chars().take(160).collect();
                Err(self.fail(format!("executing {head:?}…: {e}")).await)
            }
        }
    }

    /// Presses and releases `key` on the keyboard (WebDriver actions, as a person would:
    /// the key goes to the focused element, Tab moves the focus).
    pub async fn press(&self, key: fantoccini::key::Key) -> anyhow::Result<()> {
        use fantoccini::actions::{InputSource, KeyAction, KeyActions};
        let value: char = key.into();
        let actions = KeyActions::new("keyboard".to_owned())
            .then(KeyAction::Down { value })
            .then(KeyAction::Up { value });
        if let Err(e) = self.client.perform_actions(actions).await {
            return Err(self.fail(format!("pressing {key:?}: {e}")).await);
        }
        Ok(())
    }

    /// Writes a PNG of the viewport to `path` (creating its folder).
    pub async fn screenshot(&self, path: impl AsRef<Path>) -> anyhow::Result<()> {
        let path = path.as_ref();
        let png = match self.client.screenshot().await {
            Ok(png) => png,
            Err(e) => return Err(self.fail(format!("taking a screenshot: {e}")).await),
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(path, png).with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }

    /// Ends the session and quits its Chromium.
    pub async fn close(self) -> anyhow::Result<()> {
        self.client
            .close()
            .await
            .context("closing the browser session")
    }

    /// The first element matching `css`, waiting up to `find_timeout` for it.
    async fn find(&self, css: &str) -> anyhow::Result<fantoccini::elements::Element> {
        let until = Instant::now() + self.find_timeout;
        loop {
            match self.client.find(Locator::Css(css)).await {
                Ok(el) => return Ok(el),
                Err(e) if Instant::now() >= until => {
                    return Err(self
                        .fail(format!(
                            "no element matches {css:?} within {:?} ({e})",
                            self.find_timeout
                        ))
                        .await)
                }
                Err(_) => tokio::time::sleep(POLL).await,
            }
        }
    }

    /// An error saying what failed, where the page was and what it showed.
    async fn fail(&self, what: String) -> anyhow::Error {
        let url = self
            .current_url()
            .await
            .unwrap_or_else(|e| format!("(unknown: {e})"));
        let text = match self.body_text().await {
            Ok(t) => excerpt(&t),
            Err(e) => format!("(unreadable: {e})"),
        };
        anyhow!("browser: {what}\n  at: {url}\n  page text: {text}")
    }
}

/// The start of `text`, on one line.
fn excerpt(text: &str) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= EXCERPT_CHARS {
        format!("{flat:?}")
    } else {
        let head: String = flat.chars().take(EXCERPT_CHARS).collect();
        format!("{head:?}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_prefixes_match_the_url_or_its_path() {
        let url = "http://127.0.0.1:8080/result?amount=12";
        assert!("http://127.0.0.1:8080/res".is_match(url));
        assert!("/result".is_match(url));
        assert!(!"/pay".is_match(url));
        assert!((|u: &str| u.ends_with("=12")).is_match(url));
        assert_eq!(path_of("http://h:1"), "/");
    }

    #[test]
    fn js_off_and_phone_are_in_the_capabilities() {
        let caps = SessionOptions::new(Viewport::Phone, Js::Off).capabilities();
        let chrome = &caps["goog:chromeOptions"];
        assert_eq!(
            chrome["prefs"]["profile.managed_default_content_settings.javascript"],
            2
        );
        assert_eq!(chrome["mobileEmulation"]["deviceMetrics"]["width"], 360);
        assert_eq!(chrome["prefs"]["intl.accept_languages"], "fr-FR,fr");
        let en = SessionOptions::new(Viewport::Desktop, Js::On)
            .lang(Lang::EnUs)
            .capabilities();
        assert!(en["goog:chromeOptions"]["args"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x == "--lang=en-US")));
        assert!(en["goog:chromeOptions"].get("mobileEmulation").is_none());
    }
}
