//! Absolute http(s) URLs supplied by merchants (redirects, webhooks).

use crate::error::DomainError;
use url::Url;

const MAX_LEN: usize = 2048;

/// An absolute `http` or `https` URL with a host and no credentials.
///
/// Credentials are refused because these URLs are stored in clear, shown in
/// the dashboard and put in browser redirects, where a password would leak.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HttpUrl(Url);

impl HttpUrl {
    pub fn parse(input: &str) -> Result<HttpUrl, DomainError> {
        let input = input.trim();
        if input.len() > MAX_LEN {
            return Err(invalid("longer than 2048 characters"));
        }
        let url = Url::parse(input).map_err(|e| DomainError::InvalidUrl(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid("only http and https are allowed"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(invalid("a host is required"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid("credentials (user:password@) are not allowed"));
        }
        // Normalisation (punycode, percent-encoding) can lengthen the text.
        if url.as_str().len() > MAX_LEN {
            return Err(invalid("longer than 2048 characters"));
        }
        Ok(HttpUrl(url))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn as_url(&self) -> &Url {
        &self.0
    }

    pub fn is_https(&self) -> bool {
        self.0.scheme() == "https"
    }

    /// Never empty: `parse` guarantees a host.
    pub fn host_str(&self) -> &str {
        self.0.host_str().unwrap_or_default()
    }
}

fn invalid(reason: &str) -> DomainError {
    DomainError::InvalidUrl(reason.to_owned())
}

serde_via_str!(HttpUrl, as_str);
