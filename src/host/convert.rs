//! JSON ⇄ Rhai values, converted directly (no `Engine::parse_json`, which re-parses text and is
//! an order of magnitude slower per lead).

use rhai::{Array, Dynamic, Map, INT};
use serde_json::{Number, Value};

use crate::lead::Lead;

/// A JSON value as a Rhai value. Integers beyond `i64` become strings so they stay exact.
pub fn json_to_dynamic(value: &Value) -> Dynamic {
    match value {
        Value::Null => Dynamic::UNIT,
        Value::Bool(b) => (*b).into(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Dynamic::from_int(i as INT)
            } else if let Some(u) = n.as_u64() {
                u.to_string().into()
            } else {
                Dynamic::from_float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Value::String(s) => s.as_str().into(),
        Value::Array(items) => {
            let array: Array = items.iter().map(json_to_dynamic).collect();
            array.into()
        }
        Value::Object(object) => {
            let map: Map = object
                .iter()
                .map(|(k, v)| (k.as_str().into(), json_to_dynamic(v)))
                .collect();
            map.into()
        }
    }
}

/// A Rhai value as JSON, or a message naming the type that has no JSON form.
pub fn dynamic_to_json(value: &Dynamic) -> Result<Value, String> {
    if value.is_unit() {
        return Ok(Value::Null);
    }
    if let Some(b) = value.clone().try_cast::<bool>() {
        return Ok(Value::Bool(b));
    }
    if let Some(i) = value.clone().try_cast::<INT>() {
        return Ok(Value::Number(i.into()));
    }
    if let Some(f) = value.clone().try_cast::<rhai::FLOAT>() {
        return Number::from_f64(f)
            .map(Value::Number)
            .ok_or_else(|| format!("the number {f} has no JSON form"));
    }
    if value.is_string() {
        return Ok(Value::String(
            value.clone().into_string().unwrap_or_default(),
        ));
    }
    if let Some(c) = value.clone().try_cast::<char>() {
        return Ok(Value::String(c.to_string()));
    }
    if value.is_array() {
        let array = value.read_lock::<Array>().expect("checked is_array");
        return array
            .iter()
            .map(dynamic_to_json)
            .collect::<Result<_, _>>()
            .map(Value::Array);
    }
    if value.is_map() {
        let map = value.read_lock::<Map>().expect("checked is_map");
        let mut object = serde_json::Map::with_capacity(map.len());
        for (k, v) in map.iter() {
            object.insert(k.to_string(), dynamic_to_json(v)?);
        }
        return Ok(Value::Object(object));
    }
    if let Some(lead) = value.clone().try_cast::<Lead>() {
        return Ok(Value::Object(lead.to_json()));
    }
    Err(format!(
        "a value of type {} cannot be sent to a vendor",
        value.type_name()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_json_and_keeps_big_ids_exact() {
        let v = json!({"a": 1, "b": [true, null, 2.5, "x"], "c": {"d": "e"}, "big": 18446744073709551615u64});
        let d = json_to_dynamic(&v);
        let back = dynamic_to_json(&d).unwrap();
        assert_eq!(back["a"], 1);
        assert_eq!(back["b"], json!([true, null, 2.5, "x"]));
        assert_eq!(back["c"]["d"], "e");
        assert_eq!(back["big"], "18446744073709551615");
    }

    #[test]
    fn unsupported_types_are_named() {
        let e = dynamic_to_json(&Dynamic::from(std::time::Instant::now())).unwrap_err();
        assert!(e.contains("cannot be sent to a vendor"), "{e}");
    }
}
