//! Tolerant serde helpers for vendor JSON: ids that arrive as strings or numbers (kept exact
//! beyond 2^53), and integers that arrive as strings. Used by every vendor's `model.rs`.

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::fmt;

struct IdVisitor;

impl<'de> Visitor<'de> for IdVisitor {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string or an integer id")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        if v.fract() == 0.0 && v.abs() < 9.0e15 {
            Ok(Some(format!("{v:.0}")))
        } else {
            Err(E::custom(format!("id {v} is not an exact integer")))
        }
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(IdVisitor)
    }
}

/// Deserializes a required id given as a JSON string or integer into its exact decimal text.
pub fn id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    d.deserialize_any(IdVisitor)?
        .ok_or_else(|| de::Error::custom("id is null"))
}

/// Like [`id`] for an optional field: `null` and absence read as `None`.
/// Use with `#[serde(default, deserialize_with = "wire::opt_id")]`.
pub fn opt_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    d.deserialize_any(IdVisitor)
}

/// An integer sent as a JSON number or as a numeric string (`0`, `"0"`).
/// Use with `#[serde(deserialize_with = "wire::int")]`.
pub fn int<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum IntOrText {
        Int(i64),
        Text(String),
    }
    match IntOrText::deserialize(d)? {
        IntOrText::Int(i) => Ok(i),
        IntOrText::Text(t) => t
            .trim()
            .parse()
            .map_err(|_| de::Error::custom(format!("expected an integer, got {t:?}"))),
    }
}

/// Like [`int`] for an optional field: `null`, absence and `""` read as `None`.
pub fn opt_int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum IntOrText {
        Int(i64),
        Text(String),
    }
    match Option::<IntOrText>::deserialize(d)? {
        None => Ok(None),
        Some(IntOrText::Int(i)) => Ok(Some(i)),
        Some(IntOrText::Text(t)) if t.trim().is_empty() => Ok(None),
        Some(IntOrText::Text(t)) => t
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| de::Error::custom(format!("expected an integer, got {t:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Rec {
        #[serde(deserialize_with = "id")]
        id: String,
        #[serde(default, deserialize_with = "opt_id")]
        other: Option<String>,
        #[serde(deserialize_with = "int")]
        code: i64,
        #[serde(default, deserialize_with = "opt_int")]
        maybe: Option<i64>,
    }

    #[test]
    fn ids_beyond_2_pow_53_stay_exact_from_numbers_and_strings() {
        let r: Rec = serde_json::from_str(
            r#"{"id":6789690485561771524,"other":"6831434361875726350","code":"0","maybe":""}"#,
        )
        .unwrap();
        assert_eq!(r.id, "6789690485561771524");
        assert_eq!(r.other.as_deref(), Some("6831434361875726350"));
        assert_eq!(r.code, 0);
        assert_eq!(r.maybe, None);
        let r: Rec =
            serde_json::from_str(r#"{"id":"x1","other":null,"code":1,"maybe":7}"#).unwrap();
        assert_eq!((r.other, r.code, r.maybe), (None, 1, Some(7)));
    }

    #[test]
    fn non_numeric_code_is_a_clear_error() {
        let e = serde_json::from_str::<Rec>(r#"{"id":1,"code":"zero"}"#)
            .err()
            .unwrap();
        assert!(e.to_string().contains("expected an integer"), "{e}");
    }
}
