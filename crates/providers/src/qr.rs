use base64::Engine;
use image::{ImageFormat, Luma};
use qrcode::QrCode;

/// A QR code of `text` as a base64 PNG (no `data:` prefix, as the API returns it).
pub fn qr_png_base64(text: &str) -> Result<String, String> {
    let code = QrCode::new(text.as_bytes()).map_err(|e| e.to_string())?;
    let img = code.render::<Luma<u8>>().min_dimensions(240, 240).build();
    let mut png = std::io::Cursor::new(Vec::new());
    img.write_to(&mut png, ImageFormat::Png)
        .map_err(|e| e.to_string())?;
    Ok(base64::engine::general_purpose::STANDARD.encode(png.into_inner()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_real_png() {
        let b64 = qr_png_base64("https://pay.wave.com/c/cos-1b01sghpg100j?a=100&c=XOF")
            .unwrap_or_default();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap_or_default();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        let img = image::load_from_memory(&bytes)
            .map(|i| i.width())
            .unwrap_or(0);
        assert!(img >= 240);
    }
}
