//! Name resolution for receivers: in production, a host name that resolves to a
//! private, loopback or link-local address is refused when the connection is made, so
//! an endpoint's DNS cannot be pointed at the internal network after it was accepted.

use std::net::SocketAddr;

use nexpay_webhook_signing::policy::is_private;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// The system resolver, keeping public addresses only.
pub(crate) struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| !is_private(a.ip()))
                .collect();
            if public.is_empty() {
                return Err(format!(
                    "{host} resolves only to private, loopback or link-local addresses, which this instance does not call"
                )
                .into());
            }
            let addrs: Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}
