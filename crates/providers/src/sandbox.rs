//! In-process test-mode connector: answers at once with checkout links pointing at the
//! instance's own simulator pages and a real QR code. It shapes ids and links like the
//! real providers (Wave `cos-` session ids and launch URLs, Orange Money MaxIt and Orange
//! Money deep links) so merchants integrate against realistic data.

use async_trait::async_trait;
use chrono::Utc;
use nexpay_contracts::{CheckoutCreated, CheckoutLink, CreateCheckout};
use nexpay_domain::{base32_lower, random_bytes, Currency};

use crate::{qr_png_base64, Connector, ConnectorError};

pub struct SandboxConnector {
    code: &'static str,
    /// Public base URL of this instance, e.g. `http://localhost:9090`.
    base_url: String,
}

impl SandboxConnector {
    pub fn wave(base_url: impl Into<String>) -> Self {
        SandboxConnector {
            code: "wave",
            base_url: base_url.into(),
        }
    }

    pub fn orange_money(base_url: impl Into<String>) -> Self {
        SandboxConnector {
            code: "om",
            base_url: base_url.into(),
        }
    }

    fn unavailable(&self, message: String) -> ConnectorError {
        ConnectorError::Unavailable {
            provider: self.code.to_owned(),
            message,
        }
    }
}

#[async_trait]
impl Connector for SandboxConnector {
    fn code(&self) -> &'static str {
        self.code
    }

    fn supports_currency(&self, currency: Currency) -> bool {
        currency == Currency::XOF
    }

    async fn create_checkout(
        &self,
        req: &CreateCheckout,
    ) -> Result<CheckoutCreated, ConnectorError> {
        if !self.supports_currency(
            Currency::parse(&req.currency).map_err(|e| self.unavailable(e.to_string()))?,
        ) {
            return Err(ConnectorError::Rejected {
                provider: self.code.to_owned(),
                code: "unsupported-currency".to_owned(),
                message: format!("{} is not accepted", req.currency),
            });
        }
        // Derived from the attempt id, so a retried call returns the same checkout.
        let suffix: String = base32_lower(req.attempt_id.as_bytes())
            .chars()
            .rev()
            .take(13)
            .collect();
        let merchant =
            url::form_urlencoded::byte_serialize(req.merchant_name.as_bytes()).collect::<String>();
        let (provider_id, links, qr_text, ttl) = if self.code == "wave" {
            let id = format!("cos-{suffix}");
            let launch = format!(
                "{}/sandbox/wave/c/{id}?a={}&c={}&m={merchant}",
                self.base_url, req.amount_minor, req.currency
            );
            let links = vec![CheckoutLink {
                name: "Wave".into(),
                url: launch.clone(),
                thumb: "/static/providers/wave.svg".into(),
            }];
            (id, links, launch, chrono::Duration::minutes(30))
        } else {
            let id = format!("om-{}", base32_lower(&random_bytes::<4>()));
            let id = format!("{id}{}", &suffix[..6.min(suffix.len())]);
            let pay = format!("{}/sandbox/om/pay/{id}", self.base_url);
            let links = vec![
                CheckoutLink {
                    name: "MaxIt".into(),
                    url: format!("{pay}?channel=MAXIT"),
                    thumb: "/static/providers/maxit.svg".into(),
                },
                CheckoutLink {
                    name: "Orange Money".into(),
                    url: format!("{pay}?channel=OM"),
                    thumb: "/static/providers/om.svg".into(),
                },
            ];
            (id, links, pay, chrono::Duration::minutes(10))
        };
        let qr = qr_png_base64(&qr_text).map_err(|e| self.unavailable(e))?;
        Ok(CheckoutCreated {
            provider_id,
            checkout_urls: links,
            qr_png_base64: Some(qr),
            expires_at: Utc::now() + ttl,
        })
    }
}
