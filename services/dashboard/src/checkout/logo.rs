//! The merchant's logo on the checkout page, served from this origin.
//!
//! A project's `logoUrl` setting points at the merchant's own site. The payer's browser
//! never fetches it there (the page makes no third-party request, which keeps the
//! payer's address and the session off other servers and the page fast on a slow
//! network): the dashboard fetches it once, checks it is a small raster image, keeps it
//! in memory and serves it at `/checkout/{sessionId}/logo`.
//!
//! The page must stay light on a slow network, so the logo is fitted to its share of
//! the first-load budget: an image larger than [`PAGE_BYTES`] or than the size it is
//! shown at (40 CSS pixels high, 3x for dense screens) is decoded, scaled down and
//! re-encoded (PNG, or JPEG on white when PNG stays too large); one that still does not
//! fit is not shown.
//!
//! The fetch follows the merchant webhook policy: no redirects, a short timeout, and
//! in production (unless `WEBHOOK_ALLOW_PRIVATE_URLS`) no private, loopback or
//! link-local address, checked on the URL and again on every address its name resolves
//! to.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, PoisonError};
use std::time::{Duration, Instant};

use actix_web::web::Bytes;

/// Largest image fetched from the merchant's site.
pub const MAX_BYTES: usize = 512 * 1024;
/// Largest logo served to the page (its share of the 30 KB first-load budget).
pub const PAGE_BYTES: usize = 16 * 1024;
/// Largest size served: 40 CSS pixels high at 3x, and a wide wordmark.
pub const MAX_HEIGHT: u32 = 120;
pub const MAX_WIDTH: u32 = 480;
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
    fit(content_type, body)
}

/// The logo as the page serves it: as fetched when it is small enough in bytes and in
/// pixels, else scaled down and re-encoded; an error when it cannot be made to fit.
pub fn fit(content_type: &'static str, body: Vec<u8>) -> Result<Logo, String> {
    use image::{GenericImageView, ImageFormat};
    let format = match content_type {
        "image/png" => ImageFormat::Png,
        "image/jpeg" => ImageFormat::Jpeg,
        "image/gif" => ImageFormat::Gif,
        _ => ImageFormat::WebP,
    };
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(&body), format);
    reader.limits(limits_for_decode());
    let (w, h) = reader
        .into_dimensions()
        .map_err(|e| format!("cannot be read: {e}"))?;
    if body.len() <= PAGE_BYTES && w <= MAX_WIDTH && h <= MAX_HEIGHT {
        return Ok(Logo {
            content_type,
            bytes: Bytes::from(body),
        });
    }
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(&body), format);
    reader.limits(limits_for_decode());
    let img = reader
        .decode()
        .map_err(|e| format!("cannot be decoded: {e}"))?;
    let img = if img.width() > MAX_WIDTH || img.height() > MAX_HEIGHT {
        img.resize(MAX_WIDTH, MAX_HEIGHT, image::imageops::FilterType::Triangle)
    } else {
        img
    };
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), ImageFormat::Png)
        .map_err(|e| e.to_string())?;
    if png.len() <= PAGE_BYTES {
        return Ok(Logo {
            content_type: "image/png",
            bytes: Bytes::from(png),
        });
    }
    // A photograph: JPEG on a white background (the page's card colour).
    let (w, h) = img.dimensions();
    let mut flat = image::RgbImage::from_pixel(w, h, image::Rgb([255, 255, 255]));
    for (x, y, p) in img.to_rgba8().enumerate_pixels() {
        let a = u16::from(p[3]);
        let blend = |c: u8| ((u16::from(c) * a + 255 * (255 - a)) / 255) as u8;
        flat.put_pixel(x, y, image::Rgb([blend(p[0]), blend(p[1]), blend(p[2])]));
    }
    for quality in [80, 60, 40] {
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, quality)
            .encode_image(&flat)
            .map_err(|e| e.to_string())?;
        if jpeg.len() <= PAGE_BYTES {
            return Ok(Logo {
                content_type: "image/jpeg",
                bytes: Bytes::from(jpeg),
            });
        }
    }
    Err(format!(
        "does not fit in {PAGE_BYTES} bytes even scaled down"
    ))
}

fn limits_for_decode() -> image::Limits {
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(8192);
    limits.max_image_height = Some(8192);
    limits.max_alloc = Some(64 * 1024 * 1024);
    limits
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn png(img: &image::RgbaImage) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    /// Gradients with grain: what a photograph costs a lossless encoder.
    fn photo(w: u32, h: u32) -> image::RgbaImage {
        let mut seed = 0x2545_f491_u32;
        image::RgbaImage::from_fn(w, h, |x, y| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let grain = |shift: u32| ((seed >> shift) & 31) as u8;
            image::Rgba([
                ((x * 200 / w) as u8).saturating_add(grain(0)),
                ((y * 200 / h) as u8).saturating_add(grain(8)),
                (((x + y) % 256) as u8 / 2).saturating_add(grain(16)),
                255,
            ])
        })
    }

    #[test]
    fn a_small_logo_is_served_as_fetched() {
        let body = png(&image::RgbaImage::from_pixel(
            96,
            40,
            image::Rgba([200, 30, 30, 255]),
        ));
        let logo = fit("image/png", body.clone()).unwrap();
        assert_eq!(logo.content_type, "image/png");
        assert_eq!(logo.bytes.as_ref(), body.as_slice());
    }

    #[test]
    fn a_large_flat_logo_is_scaled_down_as_png() {
        let body = png(&image::RgbaImage::from_fn(1600, 400, |x, _| {
            image::Rgba([(x / 400) as u8 * 60, 40, 90, 255])
        }));
        let logo = fit("image/png", body).unwrap();
        assert_eq!(logo.content_type, "image/png");
        assert!(logo.bytes.len() <= PAGE_BYTES);
        let img = image::load_from_memory(&logo.bytes).unwrap();
        assert_eq!((img.width(), img.height()), (MAX_WIDTH, MAX_HEIGHT));
    }

    #[test]
    fn a_photograph_becomes_a_small_jpeg() {
        let body = png(&photo(800, 200));
        assert!(body.len() > 100 * 1024, "{}", body.len());
        let logo = fit("image/png", body).unwrap();
        assert_eq!(logo.content_type, "image/jpeg");
        assert!(logo.bytes.len() <= PAGE_BYTES, "{}", logo.bytes.len());
        let img = image::load_from_memory(&logo.bytes).unwrap();
        assert!(img.width() <= MAX_WIDTH && img.height() <= MAX_HEIGHT);
    }

    #[test]
    fn garbage_and_bombs_are_refused() {
        let mut body = b"\x89PNG\r\n\x1a\n".to_vec();
        body.extend_from_slice(&[0; 64]);
        assert!(fit("image/png", body).is_err());
        // A PNG header claiming 100,000 x 100,000 pixels.
        let mut bomb = png(&image::RgbaImage::from_pixel(1, 1, image::Rgba([0; 4])));
        bomb[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        bomb[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        assert!(fit("image/png", bomb).is_err());
    }
}
