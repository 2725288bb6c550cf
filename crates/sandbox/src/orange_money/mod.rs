//! Orange Money (Sonatel eWallet) API simulator.
