//! The merchant's logo on the checkout page, served from this origin.
//!
//! A project's `logoUrl` setting points at the merchant's own site. The payer's browser
//! never fetches it there (the page makes no third-party request, which keeps the
//! payer's address and the session off other servers and the page fast on a slow
//! network): the dashboard fetches it once, checks it is a small raster image, keeps it
//! in memory and serves it at `/checkout/{sessionId}/logo`.
//!
//! The fetch follows the merchant webhook policy: no redirects, a short timeout, and
//! in production (unless `WEBHOOK_ALLOW_PRIVATE_URLS`) no private, loopback or
//! link-local address, checked on the URL and again on every address its name resolves
//! to.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, PoisonError};
use std::time::{Duration, Instant};

use actix_web::web::Bytes;

/// Largest logo accepted.
pub const MAX_BYTES: usize = 100 * 1024;
const TIMEOUT: Duration = Duration::from_secs(3);
/// How long a fetched logo (or a failure) is kept before asking again.
const KEEP: Duration = Duration::from_secs(600);
const KEEP_FAILURE: Duration = Duration::from_secs(60);
const MAX_ENTRIES: usize = 256;

/// Raster types only: an SVG can carry script.
const TYPES: &[&str] = &["image/png", "image/jpeg", "image/webp", "image/gif"];

#[derive(Clone)]
pub struct Logo {
    pub content_type: &'static str,
    pub bytes: Bytes,
}

type Entry = (Instant, Option<Logo>);

static CACHE: LazyLock<Mutex<HashMap<String, Entry>>> = LazyLock::new(Mutex::default);

static CLIENT: LazyLock<reqwest::Client> = LazyLock::new(|| {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(TIMEOUT)
        .build()
        .unwrap_or_default()
});

/// The logo at `url`, from memory or fetched; `None` when it cannot be had.
pub async fn get(url: &str, allow_private: bool) -> Option<Logo> {
    if let Some((at, logo)) = CACHE
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(url)
    {
        let keep = if logo.is_some() { KEEP } else { KEEP_FAILURE };
        if at.elapsed() < keep {
            return logo.clone();
        }
    }
    let logo = match fetch(url, allow_private).await {
        Ok(l) => Some(l),
        Err(why) => {
            tracing::info!(%why, "merchant logo not shown");
            None
        }
    };
    let mut cache = CACHE.lock().unwrap_or_else(PoisonError::into_inner);
    if cache.len() >= MAX_ENTRIES {
        cache.clear();
    }
    cache.insert(url.to_owned(), (Instant::now(), logo.clone()));
    logo
}

async fn fetch(raw: &str, allow_private: bool) -> Result<Logo, String> {
    let url =
        nexpay_webhook_signing::policy::check_endpoint_url(raw, allow_private).map_err(|e| e.0)?;
    if !allow_private {
        let host = url.host_str().unwrap_or_default();
        let port = url.port_or_known_default().unwrap_or(443);
        let addrs = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| e.to_string())?;
        for a in addrs {
            if nexpay_webhook_signing::policy::is_private(a.ip()) {
                return Err("resolves to a private address".into());
            }
        }
    }
    let mut resp = CLIENT.get(url).send().await.map_err(|e| e.to_string())?;
    if !resp.status().is_success() {
        return Err(format!("answered {}", resp.status()));
    }
    let declared = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let Some(content_type) = TYPES.iter().find(|t| **t == declared) else {
        return Err(format!(
            "is {declared:?}, not a PNG, JPEG, WebP or GIF image"
        ));
    };
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| e.to_string())? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_BYTES {
            return Err(format!("is larger than {MAX_BYTES} bytes"));
        }
    }
    if !magic_matches(content_type, &body) {
        return Err(format!("does not look like {content_type}"));
    }
    Ok(Logo {
        content_type,
        bytes: Bytes::from(body),
    })
}

fn magic_matches(content_type: &str, body: &[u8]) -> bool {
    match content_type {
        "image/png" => body.starts_with(b"\x89PNG\r\n\x1a\n"),
        "image/jpeg" => body.starts_with(&[0xff, 0xd8, 0xff]),
        "image/gif" => body.starts_with(b"GIF8"),
        "image/webp" => body.len() > 12 && &body[..4] == b"RIFF" && &body[8..12] == b"WEBP",
        _ => false,
    }
}
