//! Pure domain types of NexPay: money, currencies, contact details, ids,
//! statuses and the state machines that move payments between them.
//!
//! Nothing here performs I/O (the only side effect is reading the OS random
//! generator for new ids), so every other crate can rely on these types being
//! valid by construction: a `Money`, `PhoneNumber` or `PaymentId` that exists
//! has already passed its checks.

#![forbid(unsafe_code)]

#[macro_use]
mod macros;

pub mod currency;
mod decimal;
pub mod email;
pub mod error;
pub mod event_type;
pub mod http_url;
pub mod ids;
pub mod metadata;
pub mod money;
pub mod phone;
pub mod random;
pub mod status;

pub use currency::Currency;
pub use email::Email;
pub use error::{DomainError, TransitionError};
pub use event_type::EventType;
pub use http_url::HttpUrl;
pub use ids::{
    ApiKeyId, AttemptId, DeliveryId, EndpointId, EventId, PaymentId, PaymentReference, ProjectId,
    SessionId, UserId,
};
pub use metadata::{FieldError, Metadata};
pub use money::{Money, MoneyError, MAX_MINOR};
pub use phone::PhoneNumber;
pub use random::{base32_lower, random_bytes};
pub use status::{
    attempt_transition, payment_transition, session_transition, AttemptEvent, AttemptStatus,
    PaymentEvent, PaymentStatus, SessionEvent, SessionStatus, Transition,
};
