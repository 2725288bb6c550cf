//! Currencies NexPay can settle, with their ISO 4217 minor-unit exponent.

wire_enum! {
    /// An ISO 4217 currency supported by at least one provider.
    ///
    /// Serialised as its upper-case code; parsing is case-sensitive because
    /// the code is also part of signed webhook payloads.
    Currency, UnsupportedCurrency {
        /// West African CFA franc (UEMOA: Senegal, Côte d'Ivoire, Mali…).
        XOF => "XOF",
        /// Central African CFA franc (CEMAC: Cameroon, Gabon…).
        XAF => "XAF",
        /// Guinean franc.
        GNF => "GNF",
        /// Gambian dalasi.
        GMD => "GMD",
        EUR => "EUR",
        USD => "USD",
    }
}

impl Currency {
    pub fn code(&self) -> &'static str {
        self.as_str()
    }

    /// Number of decimal digits of the minor unit: an amount of `n` minor
    /// units is `n / 10^exponent` major units.
    pub fn exponent(&self) -> u8 {
        match self {
            Currency::XOF | Currency::XAF | Currency::GNF => 0,
            Currency::GMD | Currency::EUR | Currency::USD => 2,
        }
    }
}
