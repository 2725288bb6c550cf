//! Turns request JSON into validated commands, collecting every field error so the
//! merchant sees all problems at once. Parsing goes through the domain newtypes.

use nexpay_contracts::{Customer, Item, RedirectUrls};
use nexpay_domain::{Currency, Email, HttpUrl, Metadata, Money, PhoneNumber};
use serde_json::{Map, Value};

use crate::error::ApiError;

pub struct Fields<'a> {
    obj: &'a Map<String, Value>,
    pub errors: Vec<(String, String)>,
}

impl<'a> Fields<'a> {
    pub fn new(body: &'a Value) -> Result<Fields<'a>, ApiError> {
        match body.as_object() {
            Some(obj) => Ok(Fields {
                obj,
                errors: Vec::new(),
            }),
            None => Err(ApiError::validation(vec![(
                "body".into(),
                "must be a JSON object".into(),
            )])),
        }
    }

    fn err(&mut self, field: &str, msg: impl Into<String>) {
        self.errors.push((field.to_owned(), msg.into()));
    }

    pub fn has(&self, name: &str) -> bool {
        self.obj.get(name).is_some_and(|v| !v.is_null())
    }

    pub fn opt_str(&mut self, name: &str, max: usize) -> Option<String> {
        match self.obj.get(name) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.chars().count() <= max => Some(s.clone()),
            Some(Value::String(_)) => {
                self.err(name, format!("must be at most {max} characters"));
                None
            }
            Some(_) => {
                self.err(name, "must be a string");
                None
            }
        }
    }

    pub fn req_str(&mut self, name: &str, max: usize) -> Option<String> {
        if !self.has(name) {
            self.err(name, "is required");
            return None;
        }
        self.opt_str(name, max)
    }

    pub fn currency(&mut self) -> Option<Currency> {
        let code = self.req_str("currency", 8)?;
        match Currency::parse(&code) {
            Ok(c) => Some(c),
            Err(_) => {
                self.err(
                    "currency",
                    format!("unsupported currency {code:?} (supported: XOF)"),
                );
                None
            }
        }
    }

    /// `amount` in major units, as a JSON number or a decimal string; never via floats
    /// (a JSON number is re-read from its text).
    pub fn amount(&mut self, currency: Option<Currency>) -> Option<Money> {
        let text = match self.obj.get("amount") {
            None | Some(Value::Null) => {
                self.err("amount", "is required");
                return None;
            }
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::String(s)) => s.clone(),
            Some(_) => {
                self.err("amount", "must be a number");
                return None;
            }
        };
        let currency = currency?;
        match Money::parse_major(&text, currency) {
            Ok(m) => Some(m),
            Err(e) => {
                self.err("amount", e.to_string());
                None
            }
        }
    }

    pub fn url(&mut self, name: &str) -> Option<String> {
        let raw = self.opt_str(name, 2048)?;
        match HttpUrl::parse(&raw) {
            Ok(u) => Some(u.as_str().to_owned()),
            Err(e) => {
                self.err(name, e.to_string());
                None
            }
        }
    }

    pub fn urls(&mut self) -> RedirectUrls {
        RedirectUrls {
            success_url: self.url("success_url"),
            failure_url: self.url("failure_url"),
            cancel_url: self.url("cancel_url"),
        }
    }

    pub fn customer(&mut self) -> Option<Customer> {
        let Some(c) = self.obj.get("customer").filter(|v| !v.is_null()) else {
            self.err("customer.phone", "is required");
            return None;
        };
        let Some(obj) = c.as_object() else {
            self.err("customer", "must be an object");
            return None;
        };
        let mut sub = Fields {
            obj,
            errors: Vec::new(),
        };
        let name = sub.opt_str("name", 200);
        let email = sub
            .opt_str("email", 254)
            .and_then(|e| match Email::parse(&e) {
                Ok(e) => Some(e.as_str().to_owned()),
                Err(err) => {
                    sub.err("email", err.to_string());
                    None
                }
            });
        let phone = sub
            .req_str("phone", 32)
            .and_then(|p| match PhoneNumber::parse(&p) {
                Ok(p) => Some(p.as_str().to_owned()),
                Err(err) => {
                    sub.err("phone", err.to_string());
                    None
                }
            });
        self.errors.extend(
            sub.errors
                .into_iter()
                .map(|(f, m)| (format!("customer.{f}"), m)),
        );
        Some(Customer {
            name,
            email,
            phone: phone?,
        })
    }

    pub fn metadata(&mut self) -> Value {
        let raw = self.obj.get("metadata").cloned().unwrap_or(Value::Null);
        match Metadata::parse(raw) {
            Ok(m) => m.into_value(),
            Err(errs) => {
                for e in errs {
                    let field = if e.field.starts_with("metadata") {
                        e.field
                    } else {
                        format!("metadata.{}", e.field)
                    };
                    self.errors.push((field, e.message));
                }
                Value::Object(Map::new())
            }
        }
    }

    pub fn items(&mut self) -> Option<Vec<Item>> {
        let v = self.obj.get("items").filter(|v| !v.is_null())?;
        let Some(arr) = v.as_array().filter(|a| a.len() <= 100) else {
            self.err("items", "must be a list of at most 100 items");
            return None;
        };
        let mut items = Vec::new();
        for (i, it) in arr.iter().enumerate() {
            let label = it
                .get("label")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty() && s.chars().count() <= 200);
            let unit = it
                .get("unitPrice")
                .and_then(Value::as_i64)
                .filter(|n| *n >= 0);
            let qty = it
                .get("quantity")
                .and_then(Value::as_i64)
                .filter(|n| (1..=10_000).contains(n));
            match (label, unit, qty) {
                (Some(l), Some(u), Some(q)) => items.push(Item {
                    label: l.to_owned(),
                    unit_price: u,
                    quantity: q,
                }),
                _ => self.err(
                    &format!("items[{i}]"),
                    "needs label (text), unitPrice (integer ≥ 0) and quantity (1 to 10000)",
                ),
            }
        }
        Some(items)
    }

    pub fn expires_in(&mut self) -> Option<u64> {
        match self.obj.get("expires_in") {
            None | Some(Value::Null) => None,
            Some(v) => match v.as_u64().filter(|n| (60..=86_400).contains(n)) {
                Some(n) => Some(n),
                None => {
                    self.err(
                        "expires_in",
                        "must be a number of seconds between 60 and 86400",
                    );
                    None
                }
            },
        }
    }

    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(self.errors))
        }
    }
}
