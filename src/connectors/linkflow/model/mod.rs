//! Typed Linkflow requests and answers, with the vendor's own field names (camelCase, except
//! `request_id`/`message_id`) so an op payload reads like the vendor's doc.
//!
//! Requests deny unknown fields (a typo such as `tagkey` is caught before anything is sent) and
//! carry `validate()` for the documented constraints; answers are tolerant: ids come as numbers
//! or strings and stay exact beyond 2^53 ([`Id`]), and unknown fields are kept in `extra`.
//!
//! One file per resource (`messages`, `contacts`, `wecom`, `tags`, `dimensions`, `groups`,
//! `orders`, `reports`, `short_urls`, `token`), all re-exported here so `linkflow::model::X`
//! names every type; this file holds the pieces they share: [`Id`], [`Identity`] and the
//! validation helpers, which answer with the vendors' shared [`Invalid`].

mod contacts;
mod dimensions;
mod groups;
mod messages;
mod orders;
mod reports;
mod short_urls;
mod tags;
mod token;
mod wecom;

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use crate::connectors::{wire, Invalid};

pub use contacts::*;
pub use dimensions::*;
pub use groups::*;
pub use messages::*;
pub use orders::*;
pub use reports::*;
pub use short_urls::*;
pub use tags::*;
pub use token::*;
pub use wecom::*;

/// A Linkflow numeric id (contact, group, tag, task, order…). Read from a JSON integer or a
/// numeric string and written as a JSON integer, always exact: real ids are around 7·10^14 and
/// the simulator hands out ids above 2^53 on purpose, so an f64 would corrupt them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Id(pub u64);

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl From<u64> for Id {
    fn from(v: u64) -> Self {
        Id(v)
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

struct IdVisitor;

impl<'de> Visitor<'de> for IdVisitor {
    type Value = Id;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a non-negative integer id (number or numeric string)")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Id, E> {
        Ok(Id(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Id, E> {
        u64::try_from(v)
            .map(Id)
            .map_err(|_| E::custom(format!("id {v} is negative")))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Id, E> {
        // Only floats that are certainly exact; anything beyond 2^53 has already lost digits.
        if v.fract() == 0.0 && (0.0..9_007_199_254_740_992.0).contains(&v) {
            Ok(Id(v as u64))
        } else {
            Err(E::custom(format!("id {v} is not an exact integer")))
        }
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Id, E> {
        v.trim()
            .parse()
            .map(Id)
            .map_err(|_| E::custom(format!("id {v:?} is not a non-negative integer")))
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(IdVisitor)
    }
}

/// One identity of a contact (`{"id": "13800000000", "type": "mobilePhone"}`). The value is
/// text on the wire; a payload may give it as a number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    /// The identity value (phone number, email, openid…).
    #[serde(deserialize_with = "wire::id")]
    pub id: String,
    /// The identity type (`mobilePhone`, `email`, `idCard`, `wechat.unionId`…).
    #[serde(rename = "type")]
    pub kind: String,
}

impl Identity {
    /// An identity of `kind` with value `id`.
    pub fn new(kind: impl Into<String>, id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            kind: kind.into(),
        }
    }

    /// Requires `id` and `type`, reported under `field` (`identities[0]`), or bare when empty.
    pub fn validate_as(&self, field: &str) -> Result<(), Invalid> {
        let name = |leaf: &str| {
            if field.is_empty() {
                leaf.to_string()
            } else {
                format!("{field}.{leaf}")
            }
        };
        require(&name("id"), &self.id)?;
        require(&name("type"), &self.kind)
    }
}

fn require(field: &str, value: &str) -> Result<(), Invalid> {
    if value.trim().is_empty() {
        Err(Invalid::new(field, "is required"))
    } else {
        Ok(())
    }
}

fn require_opt(field: &str, value: &Option<String>) -> Result<(), Invalid> {
    require(field, value.as_deref().unwrap_or(""))
}

fn one_of(field: &str, value: &str, allowed: &[&str]) -> Result<(), Invalid> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(Invalid::new(
            field,
            format!("is {value:?}, expected one of: {}", allowed.join(", ")),
        ))
    }
}

fn size_in(field: &str, size: Option<u32>, max: u32) -> Result<(), Invalid> {
    match size {
        Some(s) if s == 0 || s > max => Err(Invalid::new(field, format!("is {s}, must be 1..={max}"))),
        _ => Ok(()),
    }
}

/// `yyyy-MM-dd HH:mm:ss`, as the orders window wants.
fn datetime(field: &str, value: &str) -> Result<(), Invalid> {
    chrono::NaiveDateTime::parse_from_str(value, "%Y-%m-%d %H:%M:%S")
        .map(|_| ())
        .map_err(|_| Invalid::new(field, format!("is {value:?}, expected yyyy-MM-dd HH:mm:ss")))
}

/// `yyyy-MM-dd`, as the contact-id export wants.
fn date(field: &str, value: &str) -> Result<(), Invalid> {
    chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .map(|_| ())
        .map_err(|_| Invalid::new(field, format!("is {value:?}, expected yyyy-MM-dd")))
}

/// Rejects integers that already lost digits: without serde_json's `arbitrary_precision` a
/// value such as the doc's `11111111111111112001` arrives as an f64, and sending it on would
/// silently store a different number (K-f). The caller must send such values as strings.
fn exact_numbers(field: &str, value: &Value) -> Result<(), Invalid> {
    match value {
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() >= 9_007_199_254_740_992.0 => {
                Err(Invalid::new(
                    field,
                    format!(
                        "is {n}, an integer beyond 2^53 that cannot be kept exact; send it as a string"
                    ),
                ))
            }
            _ => Ok(()),
        },
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| exact_numbers(&format!("{field}[{i}]"), v)),
        Value::Object(map) => map
            .iter()
            .try_for_each(|(k, v)| exact_numbers(&format!("{field}.{k}"), v)),
        _ => Ok(()),
    }
}

/// The tag key rule (B01157): `tag_` followed by lowercase letters, digits and underscores.
pub fn is_valid_tag_key(key: &str) -> bool {
    key.strip_prefix("tag_").is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    })
}

fn tag_key(field: &str, key: &str) -> Result<(), Invalid> {
    require(field, key)?;
    if is_valid_tag_key(key) {
        Ok(())
    } else {
        Err(Invalid::new(
            field,
            format!("is {key:?}: must be `tag_` followed by lowercase letters, digits or `_`"),
        ))
    }
}
