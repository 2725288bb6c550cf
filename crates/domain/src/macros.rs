//! Boilerplate shared by the string-backed types.

/// Serde as a plain string, validated through `parse` on the way in so that
/// deserialisation can never build a value the constructors would refuse.
macro_rules! serde_via_str {
    ($ty:ty, $as_str:ident) => {
        impl ::serde::Serialize for $ty {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.$as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <String as ::serde::Deserialize>::deserialize(d)?;
                <$ty>::parse(&text).map_err(<D::Error as ::serde::de::Error>::custom)
            }
        }

        impl ::std::str::FromStr for $ty {
            type Err = $crate::error::DomainError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                <$ty>::parse(s)
            }
        }

        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.$as_str())
            }
        }
    };
}

/// A closed set of values, each with one exact wire string.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $name:ident, $err:ident {
            $($(#[$vmeta:meta])* $variant:ident => $wire:literal),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(&self) -> &'static str {
                match self {
                    $($name::$variant => $wire),+
                }
            }

            /// Exact, case-sensitive match on the wire string.
            pub fn parse(s: &str) -> Result<Self, $crate::error::DomainError> {
                match s {
                    $($wire => Ok($name::$variant),)+
                    _ => Err($crate::error::DomainError::$err($crate::error::echo(s))),
                }
            }
        }

        serde_via_str!($name, as_str);
    };
}
