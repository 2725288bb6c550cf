#![forbid(unsafe_code)]
//! Offline simulators of the providers' real APIs (see the project's provider notes):
//! Wave Checkout (`wave`) and Orange Money Sénégal (`orange_money`). Mounted by the
//! standalone binary under `/sandbox/wave` and `/sandbox/om`, and used by every test.

mod clock;
pub mod orange_money;
pub mod test_mode;
pub mod wave;
