//! Tolerant serde helpers for vendor JSON: ids that arrive as strings or numbers (kept exact
//! beyond 2^53), and integers that arrive as strings. Used by every vendor's `model.rs`.

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use serde_json::Value;
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
    match Value::deserialize(d)? {
        Value::Null => Err(de::Error::custom(format!("{EXPECTED_INT}, got null"))),
        other => int_of(other).map_err(de::Error::custom),
    }
}

/// Like [`int`] for an optional field: `null`, absence and `""` read as `None`.
pub fn opt_int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::String(t) if t.trim().is_empty() => Ok(None),
        other => int_of(other).map(Some).map_err(de::Error::custom),
    }
}

const EXPECTED_INT: &str = "expected an integer or a string of digits";

/// The integer in a JSON number or numeric string; the error says what came instead (the path
/// to the field is added by [`crate::connectors::decode_payload`]).
fn int_of(value: Value) -> Result<i64, String> {
    let parsed = match &value {
        Value::Number(n) => n.as_i64(),
        Value::String(t) => t.trim().parse().ok(),
        _ => None,
    };
    parsed.ok_or_else(|| format!("{EXPECTED_INT}, got {value}"))
}

/// For a typed struct `#[serde(flatten)]`ed into a request: decodes it with its own field paths
/// and puts the path of a failure into the message. serde decodes a flattened struct from a
/// buffer, so without this the path of a bad value in it is lost and the error names no field.
/// Use with `#[serde(flatten, deserialize_with = "wire::flat")]`.
pub fn flat<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    serde_path_to_error::deserialize(d).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            inner
        } else {
            de::Error::custom(format!("{path}: {inner}"))
        }
    })
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
        assert!(
            e.to_string()
                .contains(r#"expected an integer or a string of digits, got "zero""#),
            "{e}"
        );
        let e = serde_json::from_str::<Rec>(r#"{"id":1,"code":true}"#)
            .err()
            .unwrap();
        assert!(e.to_string().contains("got true"), "{e}");
    }
}
