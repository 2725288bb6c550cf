use nexpay_domain::{Currency, Money, MAX_MINOR};
use proptest::prelude::*;

fn currency() -> impl Strategy<Value = Currency> {
    prop::sample::select(Currency::ALL)
}

proptest! {
    #[test]
    fn major_string_round_trips(minor in 1..=MAX_MINOR, c in currency()) {
        let m = Money::from_minor(minor, c).unwrap();
        prop_assert_eq!(Money::parse_major(&m.to_major_string(), c), Ok(m));
    }

    #[test]
    fn small_amounts_round_trip(minor in 1..=100_000_i64, c in currency()) {
        let m = Money::from_minor(minor, c).unwrap();
        prop_assert_eq!(Money::parse_major(&m.to_major_string(), c), Ok(m));
    }

    #[test]
    fn every_i64_in_range_is_accepted_and_others_refused(minor in any::<i64>(), c in currency()) {
        let r = Money::from_minor(minor, c);
        prop_assert_eq!(r.is_ok(), (1..=MAX_MINOR).contains(&minor));
        if let Ok(m) = r {
            prop_assert_eq!(m.minor(), minor);
        }
    }

    #[test]
    fn parse_never_panics_and_never_accepts_non_positive(s in any::<String>(), c in currency()) {
        if let Ok(m) = Money::parse_major(&s, c) {
            prop_assert!(m.minor() > 0 && m.minor() <= MAX_MINOR);
        }
    }

    #[test]
    fn number_like_text_never_panics(
        s in "-?[0-9]{0,20}(\\.[0-9]{0,20})?([eE][+-]?[0-9]{0,25})?",
        c in currency(),
    ) {
        if let Ok(m) = Money::parse_major(&s, c) {
            prop_assert!(m.minor() > 0 && m.minor() <= MAX_MINOR);
        }
    }

    #[test]
    fn scientific_form_equals_plain_form(mantissa in 1..=99_999_i64, exp in 0..=9_u32) {
        let sci = format!("{mantissa}e{exp}");
        let plain = format!("{mantissa}{}", "0".repeat(exp as usize));
        prop_assert_eq!(
            Money::parse_major(&sci, Currency::XOF),
            Money::parse_major(&plain, Currency::XOF)
        );
    }
}
