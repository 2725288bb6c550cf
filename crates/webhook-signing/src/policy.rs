//! Which receiver URLs NexPay may call. Merchant endpoints are configured by admins but
//! reached from inside the deployment, so in production private, loopback and
//! link-local addresses are refused (unless the operator allows them): a webhook must
//! not become a way to probe the internal network.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why a URL cannot be a webhook endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlRefused(pub String);

impl std::fmt::Display for UrlRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UrlRefused {}

/// Checks an endpoint URL: `http` or `https`, a host, no credentials in it, at most
/// 2048 characters; with `allow_private` false, no host that names a private, loopback
/// or link-local address (`localhost` included). Host names are checked again when
/// they are resolved, at each delivery.
pub fn check_endpoint_url(raw: &str, allow_private: bool) -> Result<url::Url, UrlRefused> {
    let refuse = |m: &str| Err(UrlRefused(m.to_owned()));
    if raw.len() > 2048 {
        return refuse("is longer than 2048 characters");
    }
    let Ok(url) = url::Url::parse(raw.trim()) else {
        return refuse("is not an absolute URL (e.g. https://shop.example/webhooks/nexpay)");
    };
    if !matches!(url.scheme(), "http" | "https") {
        return refuse("must start with https:// (or http://)");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return refuse("must not carry credentials; the signature authenticates NexPay");
    }
    let Some(host) = url.host() else {
        return refuse("has no host");
    };
    if !allow_private {
        let private = match host {
            url::Host::Ipv4(ip) => is_private(IpAddr::V4(ip)),
            url::Host::Ipv6(ip) => is_private(IpAddr::V6(ip)),
            url::Host::Domain(d) => {
                let d = d.trim_end_matches('.').to_ascii_lowercase();
                d == "localhost" || d.ends_with(".localhost") || d.ends_with(".internal")
            }
        };
        if private {
            return refuse(
                "points at a private, loopback or link-local address, which this instance does not call (WEBHOOK_ALLOW_PRIVATE_URLS)",
            );
        }
    }
    Ok(url)
}

/// Private, loopback, link-local, unspecified, shared (CGNAT), multicast or
/// documentation-reserved: not a public receiver.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_private_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_private_v4(v4),
            None => is_private_v6(v6),
        },
    }
}

fn is_private_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 198 && (b == 18 || b == 19))
        || a >= 240
}

fn is_private_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || first == 0x2001 && ip.segments()[1] == 0x0db8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked() {
        for ok in [
            "https://shop.example/webhooks/nexpay",
            "http://shop.example:8080/hook?x=1",
            "https://93.184.216.34/hook",
        ] {
            assert!(check_endpoint_url(ok, false).is_ok(), "{ok}");
        }
        for bad in [
            "ftp://shop.example/",
            "shop.example/hook",
            "https://user:pw@shop.example/",
            "http://127.0.0.1:3000/hook",
            "http://localhost/hook",
            "http://api.localhost/hook",
            "http://10.0.0.5/hook",
            "http://172.20.1.1/hook",
            "http://192.168.1.10/hook",
            "http://169.254.169.254/latest/meta-data",
            "http://100.64.0.1/",
            "http://[::1]/hook",
            "http://[fd00::1]/hook",
            "http://[fe80::1]/hook",
            "http://[::ffff:10.0.0.1]/hook",
            "http://0.0.0.0/",
        ] {
            assert!(check_endpoint_url(bad, false).is_err(), "{bad}");
        }
        assert!(check_endpoint_url("http://127.0.0.1:3000/hook", true).is_ok());
        assert!(check_endpoint_url("ftp://127.0.0.1/", true).is_err());
    }
}
