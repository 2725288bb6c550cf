//! Wave Checkout API simulator.
