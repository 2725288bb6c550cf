//! Accessibility checks of a page open in [`crate::browser`]:
//!
//! - [`Axe`]: the axe-core rules engine (Deque's, the one browsers' audit tools use),
//!   injected into the page through WebDriver and run against the WCAG 2.0, 2.1 and 2.2
//!   A and AA rules plus axe's best practices: accessible names of buttons, links and
//!   images, labels, colour contrast of every text (with the colours the page really
//!   computed), landmarks, headings, `lang`, target sizes. `.ci/browser-setup` installs
//!   it from the npm registry into `$NEXPAY_BROWSER_TOOLS_DIR` (default
//!   `~/.cache/nexpay-browser`).
//! - [`focus_walk`]: presses Tab as a keyboard user would and records where the focus
//!   goes, with what the page shows around the focused element (its outline and the
//!   outline's contrast), to compare with [`focusable`], the elements that should take
//!   the focus, in document order.
//! - [`overflow`]: what sticks out of the viewport sideways (the 320 px reflow check).

use std::path::PathBuf;

use anyhow::{bail, Context};
use fantoccini::key::Key;
use serde::Deserialize;
use serde_json::Value;

use crate::browser::Page;

/// The axe-core version `.ci/browser-setup` installs.
pub const AXE_VERSION: &str = "4.14.1";

/// The rule sets run: WCAG 2.0, 2.1 and 2.2 at levels A and AA, and axe's best practices.
pub const AXE_TAGS: &[&str] = &[
    "wcag2a",
    "wcag2aa",
    "wcag21a",
    "wcag21aa",
    "wcag22aa",
    "best-practice",
];

/// axe-core's source, loaded once and injected into each page it audits.
pub struct Axe {
    source: String,
}

/// One broken rule and where.
#[derive(Debug, Clone, Deserialize)]
pub struct Violation {
    pub id: String,
    pub impact: Option<String>,
    pub help: String,
    /// Each offending element: its CSS path and axe's summary of what is wrong.
    pub nodes: Vec<String>,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.id,
            self.impact.as_deref().unwrap_or("?"),
            self.help
        )?;
        for n in &self.nodes {
            write!(f, "\n    - {n}")?;
        }
        Ok(())
    }
}

fn tools_dir() -> PathBuf {
    match std::env::var_os("NEXPAY_BROWSER_TOOLS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
            .join(".cache/nexpay-browser"),
    }
}

impl Axe {
    /// Loads `axe.min.js`. `Ok(None)` (and the reason on stderr) when it is not
    /// installed, except under `CI=true`, where that is an error.
    pub fn load() -> anyhow::Result<Option<Axe>> {
        let dir = tools_dir().join("node_modules/axe-core");
        let version = std::fs::read_to_string(dir.join("package.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .and_then(|v| v["version"].as_str().map(str::to_owned));
        let why = match version.as_deref() {
            Some(AXE_VERSION) => None,
            Some(other) => Some(format!(
                "axe-core {other} in {} (expected {AXE_VERSION})",
                dir.display()
            )),
            None => Some(format!("axe-core is not installed in {}", dir.display())),
        };
        if let Some(why) = why {
            let why = format!("{why}; install it with `bash .ci/browser-setup`");
            if std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true")) {
                bail!("accessibility tests cannot run under CI=true: {why}");
            }
            eprintln!("skipping accessibility checks: {why}");
            return Ok(None);
        }
        let path = dir.join("axe.min.js");
        let source = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        Ok(Some(Axe { source }))
    }

    /// Runs the [`AXE_TAGS`] rules on the page as it is now; the violations found. The
    /// page needs its JavaScript on ([`crate::browser::Js::On`]): axe waits on timers.
    pub async fn audit(&self, page: &Page) -> anyhow::Result<Vec<Violation>> {
        let tags = serde_json::to_string(AXE_TAGS)?;
        let script = format!(
            "if (!window.axe) {{ {source}\n }}\n\
             return window.axe.run(document, {{runOnly: {{type: 'tag', values: {tags}}}, \
               resultTypes: ['violations']}}).then(function (r) {{ \
               return r.violations.map(function (v) {{ return {{id: v.id, impact: v.impact, \
                 help: v.help, nodes: v.nodes.map(function (n) {{ \
                   return n.target.join(' ') + ': ' + \
                     (n.failureSummary || '').replace(/\\s+/g, ' '); }})}}; }}); }});",
            source = self.source,
        );
        let found = page.execute(&script).await?;
        serde_json::from_value(found).context("reading axe's results")
    }

    /// [`Axe::audit`], failing with every violation listed; `what` names the state.
    pub async fn assert_clean(&self, page: &Page, what: &str) -> anyhow::Result<()> {
        let found = self.audit(page).await?;
        if !found.is_empty() {
            let list: Vec<String> = found.iter().map(|v| format!("  {v}")).collect();
            bail!(
                "{what}: {} accessibility violation(s):\n{}",
                found.len(),
                list.join("\n")
            );
        }
        Ok(())
    }
}

/// An element that takes (or should take) the keyboard focus.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Focusable {
    pub tag: String,
    /// Its accessible text: `aria-label`, else what it shows (or an image's `alt`).
    pub name: String,
    /// Page coordinates (CSS pixels) of its box.
    pub top: f64,
    pub left: f64,
    pub width: f64,
    pub height: f64,
}

/// Where a Tab press put the focus, and how the page shows it.
#[derive(Debug, Clone, Deserialize)]
pub struct Focused {
    #[serde(flatten)]
    pub element: Focusable,
    /// Width in CSS pixels of the outline drawn around it (0 without one).
    pub outline_width: f64,
    /// Contrast between the outline's colour and the background around the element.
    pub outline_contrast: f64,
    /// Whether it has a box shadow (another way to show the focus).
    pub shadow: bool,
}

/// JavaScript helpers shared by the scripts below: an element's description, the
/// effective background behind an element, WCAG contrast.
const JS_HELPERS: &str = r#"
function nameOf(e) {
  var t = e.getAttribute('aria-label') || e.innerText || e.value || '';
  if (!t.trim()) { var i = e.querySelector('img[alt]'); if (i) t = i.alt; }
  return t.trim().replace(/\s+/g, ' ');
}
function describe(e) {
  var r = e.getBoundingClientRect();
  return {tag: e.tagName.toLowerCase(), name: nameOf(e), top: r.top + scrollY,
          left: r.left + scrollX, width: r.width, height: r.height};
}
function rgb(c) {
  var m = c.match(/[\d.]+/g) || [0, 0, 0, 0];
  return m.map(Number).concat(m.length < 4 ? [1] : []);
}
function background(e) {
  for (var n = e; n && n.nodeType === 1; n = n.parentElement) {
    var c = rgb(getComputedStyle(n).backgroundColor);
    if (c[3] > 0) return c;
  }
  return [255, 255, 255, 1];
}
function luminance(c) {
  var ch = c.slice(0, 3).map(function (v) {
    v = v / 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
  return 0.2126 * ch[0] + 0.7152 * ch[1] + 0.0722 * ch[2];
}
function contrast(a, b) {
  var x = luminance(a), y = luminance(b);
  return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05);
}
"#;

/// The elements that should take the keyboard focus, in document (= tab) order: links,
/// enabled buttons and form fields, and anything with a non-negative `tabindex`, that
/// are rendered and visible.
pub async fn focusable(page: &Page) -> anyhow::Result<Vec<Focusable>> {
    let script = format!(
        "{JS_HELPERS}
         var sel = 'a[href],button:not([disabled]),input:not([disabled]):not([type=hidden]),' +
                   'select:not([disabled]),textarea:not([disabled]),[tabindex]';
         return Array.from(document.querySelectorAll(sel)).filter(function (e) {{
           return e.tabIndex >= 0 && e.getClientRects().length > 0 &&
                  getComputedStyle(e).visibility !== 'hidden';
         }}).map(describe);"
    );
    let v = page.execute(&script).await?;
    serde_json::from_value(v).context("reading the focusable elements")
}

/// Presses Tab from the top of the page until the focus leaves the page or comes back
/// to where it started (at most `limit` presses); where it went, in order.
pub async fn focus_walk(page: &Page, limit: usize) -> anyhow::Result<Vec<Focused>> {
    // Start before the first element, as after loading the page.
    page.execute(
        "if (document.activeElement && document.activeElement.blur) \
             document.activeElement.blur(); window.scrollTo(0, 0);",
    )
    .await?;
    let probe = format!(
        "{JS_HELPERS}
         var e = document.activeElement;
         if (!e || e === document.body || e === document.documentElement) return null;
         var cs = getComputedStyle(e);
         var width = cs.outlineStyle === 'none' ? 0 : parseFloat(cs.outlineWidth) || 0;
         var around = background(e.parentElement || e);
         var d = describe(e);
         d.outline_width = width;
         d.outline_contrast = width > 0 ? contrast(rgb(cs.outlineColor), around) : 0;
         d.shadow = cs.boxShadow !== 'none';
         return d;"
    );
    let mut seen: Vec<Focused> = Vec::new();
    for _ in 0..limit {
        page.press(Key::Tab).await?;
        let v = page.execute(&probe).await?;
        if v.is_null() {
            break;
        }
        let f: Focused = serde_json::from_value(v).context("reading the focused element")?;
        if seen.first().is_some_and(|first| first.element == f.element) {
            break;
        }
        seen.push(f);
    }
    Ok(seen)
}

/// Elements whose box goes past the left or right edge of the viewport (by more than
/// half a pixel), described as `tag.class "text" [left, right]`; and the document's
/// scroll width.
pub async fn overflow(page: &Page) -> anyhow::Result<(f64, Vec<String>)> {
    let v = page
        .execute(
            "var w = document.documentElement.clientWidth, out = [];
             document.querySelectorAll('body *').forEach(function (e) {
               var r = e.getBoundingClientRect();
               if (r.width === 0 && r.height === 0) return;
               if (r.left < -0.5 || r.right > w + 0.5) {
                 out.push(e.tagName.toLowerCase() + '.' + e.className + ' \"' +
                   (e.innerText || '').slice(0, 40) + '\" [' + r.left + ', ' + r.right + ']');
               }
             });
             return [document.documentElement.scrollWidth, out];",
        )
        .await?;
    let width = v[0].as_f64().unwrap_or(f64::MAX);
    let out = serde_json::from_value(v[1].clone()).context("reading overflowing elements")?;
    Ok((width, out))
}
