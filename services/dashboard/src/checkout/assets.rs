//! The checkout page's stylesheet, script and provider logos, compiled into the binary
//! and served from this origin (`/static/...`). URLs carry a hash of the content, so
//! browsers may keep them for a year and still get a new version at once.

use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::{web, HttpResponse};

pub const CSS: &str = include_str!("../../assets/checkout.css");
pub const JS: &str = include_str!("../../assets/checkout.js");
pub const WAVE_SVG: &str = include_str!("../../assets/wave.svg");
pub const OM_SVG: &str = include_str!("../../assets/om.svg");

/// FNV-1a, enough to tell versions of our own files apart.
fn fingerprint(content: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in content.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{:010x}", h & 0xff_ffff_ffff)
}

static CSS_URL: LazyLock<String> =
    LazyLock::new(|| format!("/static/checkout.css?v={}", fingerprint(CSS)));
static JS_URL: LazyLock<String> =
    LazyLock::new(|| format!("/static/checkout.js?v={}", fingerprint(JS)));

pub fn css_url() -> &'static str {
    &CSS_URL
}

pub fn js_url() -> &'static str {
    &JS_URL
}

/// The built-in providers' logos (the `providers.logo_url` the dashboard stores).
pub fn provider_logo_url(code: &str) -> String {
    format!("/static/providers/{code}.svg")
}

fn file(name: &str) -> Option<(&'static str, &'static str)> {
    Some(match name {
        "checkout.css" => (CSS, "text/css; charset=utf-8"),
        "checkout.js" => (JS, "text/javascript; charset=utf-8"),
        "providers/wave.svg" => (WAVE_SVG, "image/svg+xml"),
        "providers/om.svg" => (OM_SVG, "image/svg+xml"),
        _ => return None,
    })
}

pub async fn serve(path: web::Path<String>) -> HttpResponse {
    match file(&path.into_inner()) {
        Some((body, content_type)) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, content_type))
            // Versioned by URL (`?v=`); logos change with a release at most.
            .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            // An SVG opened on its own runs nothing.
            .insert_header((
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'",
            ))
            .body(body),
        None => HttpResponse::NotFound().finish(),
    }
}
