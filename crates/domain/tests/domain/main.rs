//! Tests of the public API of nexpay-domain, one module per concept.

#![allow(clippy::unwrap_used)]

mod currency;
mod email;
mod event_type;
mod http_url;
mod ids;
mod metadata;
mod money;
mod money_props;
mod phone;
mod status;
mod transition_props;
mod transitions;
