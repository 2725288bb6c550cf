//! How envelopes, replies and delivery metadata look on the wire.

use lapin::protocol::{AMQPErrorKind, AMQPSoftError};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::BasicProperties;
use nexpay_bus::{BusError, Envelope, HandlerError};

use crate::config::{ATTEMPT_HEADER, DEADLINE_HEADER};

/// The answer to a request: the handler's value or its error.
pub(crate) type Reply = Result<serde_json::Value, HandlerError>;

const CONTENT_TYPE: &str = "application/json";
const PERSISTENT: u8 = 2;

/// An AMQP short string (at most 255 bytes), as a codec error if too long.
pub(crate) fn short(s: &str) -> Result<ShortString, BusError> {
    ShortString::try_new(s).map_err(|e| BusError::Codec(format!("`{s:.40}…`: {e}")))
}

/// A lapin failure as the bus reports it.
pub(crate) fn unavailable(what: &str, err: &lapin::Error) -> BusError {
    BusError::Unavailable(format!("{what}: {err}"))
}

/// The broker's channel-level error code, if `err` is one.
pub(crate) fn soft_error(err: &lapin::Error) -> Option<AMQPSoftError> {
    match err.kind() {
        lapin::ErrorKind::ProtocolError(e) => match e.kind() {
            AMQPErrorKind::Soft(soft) => Some(soft.clone()),
            AMQPErrorKind::Hard(_) => None,
        },
        _ => None,
    }
}

pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Body of an envelope: its JSON.
pub(crate) fn encode(msg: &Envelope) -> Result<Vec<u8>, BusError> {
    serde_json::to_vec(msg).map_err(|e| BusError::Codec(format!("encoding `{}`: {e}", msg.kind)))
}

pub(crate) fn decode(body: &[u8]) -> Result<Envelope, String> {
    serde_json::from_slice(body).map_err(|e| format!("undecodable envelope: {e}"))
}

/// Properties of a first delivery: persistent JSON, ids, kind and time of
/// the envelope, attempt 1.
pub(crate) fn properties(msg: &Envelope) -> Result<BasicProperties, BusError> {
    let mut headers = FieldTable::default();
    headers.insert(ATTEMPT_HEADER.into(), AMQPValue::LongLongInt(1));
    let seconds = u64::try_from(msg.timestamp.timestamp()).unwrap_or_default();
    Ok(BasicProperties::default()
        .with_delivery_mode(PERSISTENT)
        .with_content_type(CONTENT_TYPE.into())
        .with_message_id(short(&msg.id)?)
        .with_correlation_id(short(&msg.correlation_id)?)
        .with_type(short(&msg.kind)?)
        .with_timestamp(seconds)
        .with_headers(headers))
}

/// What the adapter reads from a delivery's properties.
#[derive(Clone, Debug, Default)]
pub(crate) struct Meta {
    /// Delivery attempt according to [`ATTEMPT_HEADER`] (at least 1).
    pub attempt: u32,
    /// Caller's deadline (requests only), ms since the epoch.
    pub deadline_ms: Option<i64>,
    /// Where the reply goes (requests only).
    pub reply_to: Option<ShortString>,
    pub message_id: Option<ShortString>,
}

impl Meta {
    pub(crate) fn of(props: &BasicProperties) -> Self {
        let header = |key: &str| props.headers().as_ref().and_then(|h| h.inner().get(key));
        let attempt = header(ATTEMPT_HEADER)
            .and_then(as_i64)
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(1)
            .max(1);
        Self {
            attempt,
            deadline_ms: header(DEADLINE_HEADER).and_then(as_i64),
            reply_to: props.reply_to().clone().filter(|r| !r.as_str().is_empty()),
            message_id: props.message_id().clone(),
        }
    }

    pub(crate) fn is_request(&self) -> bool {
        self.reply_to.is_some()
    }

    /// Milliseconds left before the caller's deadline (None: no deadline).
    pub(crate) fn remaining_ms(&self) -> Option<i64> {
        self.deadline_ms.map(|d| d - now_ms())
    }
}

fn as_i64(v: &AMQPValue) -> Option<i64> {
    match v {
        AMQPValue::ShortShortInt(n) => Some(i64::from(*n)),
        AMQPValue::ShortShortUInt(n) => Some(i64::from(*n)),
        AMQPValue::ShortInt(n) => Some(i64::from(*n)),
        AMQPValue::ShortUInt(n) => Some(i64::from(*n)),
        AMQPValue::LongInt(n) => Some(i64::from(*n)),
        AMQPValue::LongUInt(n) => Some(i64::from(*n)),
        AMQPValue::LongLongInt(n) => Some(*n),
        AMQPValue::Timestamp(n) => i64::try_from(*n).ok(),
        _ => None,
    }
}

/// Properties of a republished copy (retry or dead letter): the original
/// ones without `expiration` (a dead letter must never expire, and a retry is
/// timed by its queue), with `headers` replaced.
pub(crate) fn republished(
    props: &BasicProperties,
    headers: FieldTable,
    keep_reply_to: bool,
) -> BasicProperties {
    let mut out = BasicProperties::default()
        .with_delivery_mode(PERSISTENT)
        .with_headers(headers);
    if let Some(v) = props.content_type() {
        out = out.with_content_type(v.clone());
    }
    if let Some(v) = props.message_id() {
        out = out.with_message_id(v.clone());
    }
    if let Some(v) = props.correlation_id() {
        out = out.with_correlation_id(v.clone());
    }
    if let Some(v) = props.kind() {
        out = out.with_type(v.clone());
    }
    if let Some(v) = props.timestamp() {
        out = out.with_timestamp(*v);
    }
    if keep_reply_to {
        if let Some(v) = props.reply_to() {
            out = out.with_reply_to(v.clone());
        }
    }
    out
}

/// The headers of `props` with `set` applied and `remove` removed.
pub(crate) fn headers_with(
    props: &BasicProperties,
    set: &[(&str, AMQPValue)],
    remove: &[&str],
) -> FieldTable {
    let mut map = props
        .headers()
        .as_ref()
        .map(|h| h.inner().clone())
        .unwrap_or_default();
    for key in remove {
        map.remove(*key);
    }
    for (key, value) in set {
        map.insert((*key).into(), value.clone());
    }
    FieldTable::from(map)
}

/// A string header value.
pub(crate) fn text(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s.as_bytes().to_vec()))
}

pub(crate) fn encode_reply(reply: &Reply) -> Vec<u8> {
    serde_json::to_vec(reply).unwrap_or_else(|e| {
        // Only a non-string map key could fail; answer with that instead.
        let fallback: Reply = Err(HandlerError::Permanent(format!("unencodable reply: {e}")));
        serde_json::to_vec(&fallback).unwrap_or_default()
    })
}

pub(crate) fn decode_reply(body: &[u8]) -> Result<Reply, BusError> {
    serde_json::from_slice(body).map_err(|e| BusError::Codec(format!("undecodable reply: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn properties_round_trip_through_meta() {
        let msg = Envelope::new("payment.succeeded", "req-1", json!({"n": 1}));
        let props = properties(&msg).expect("props");
        assert_eq!(props.delivery_mode(), &Some(2));
        assert_eq!(
            props.kind().as_ref().map(|k| k.as_str()),
            Some("payment.succeeded")
        );
        let meta = Meta::of(&props);
        assert_eq!(meta.attempt, 1);
        assert!(!meta.is_request());
        let headers = headers_with(&props, &[(ATTEMPT_HEADER, AMQPValue::LongLongInt(3))], &[]);
        let again = republished(&props, headers, true);
        assert_eq!(Meta::of(&again).attempt, 3);
        assert_eq!(again.message_id(), props.message_id());
    }

    #[test]
    fn long_strings_are_codec_errors_not_panics() {
        let msg = Envelope::new("k".repeat(300), "req", json!(null));
        assert!(matches!(properties(&msg), Err(BusError::Codec(_))));
    }

    #[test]
    fn replies_round_trip() {
        let err: Reply = Err(HandlerError::rejected(404, "not_found", "nope"));
        assert_eq!(decode_reply(&encode_reply(&err)).expect("decodes"), err);
        let ok: Reply = Ok(json!({"a": 1}));
        assert_eq!(decode_reply(&encode_reply(&ok)).expect("decodes"), ok);
    }
}
