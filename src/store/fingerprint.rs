//! Request fingerprints: the identity of a vendor call that survives a retry.
//!
//! A retried run rebuilds its payloads, and anything derived from the clock (a timestamp, a
//! nonce, a signature over them) differs from the first run. Those keys are dropped before
//! hashing. Vendor idempotency keys (`request_id`, `message_id`, `msg_id`) are business identity
//! and are kept: two calls with different ones are different calls.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Keys (compared case-insensitively, at any depth) that carry the clock or a signature.
const VOLATILE_KEYS: &[&str] = &[
    "ts",
    "timestamp",
    "h_t",
    "h_sign",
    "nonce",
    "sign",
    "signature",
    "digest",
];

/// Hex SHA-256 of the vendor, account, op and the payload as canonical JSON (object keys
/// sorted, clock and signature keys removed), so a retried run's identical call matches.
pub fn fingerprint(vendor: &str, account: &str, op: &str, payload: &Value) -> String {
    let mut canonical = String::new();
    write_canonical(payload, &mut canonical);
    let mut hasher = Sha256::new();
    // NUL separators: no vendor, account or op name contains one, so fields cannot run together.
    for part in [vendor, account, op, canonical.as_str()] {
        hasher.update(part.as_bytes());
        hasher.update([0u8]);
    }
    hex::encode(hasher.finalize())
}

/// True for a key the fingerprint leaves out (the clock or a signature), at any depth.
pub fn is_volatile(key: &str) -> bool {
    VOLATILE_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key))
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().filter(|k| !is_volatile(k)).collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(&map[key.as_str()], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn clock_and_signature_keys_do_not_change_it() {
        let a = json!({"entName": "ACME", "ts": 1, "nested": {"h_t": "1", "h_sign": "x", "n": 1}});
        let b = json!({"nested": {"n": 1, "h_sign": "y", "h_t": "2"}, "Timestamp": 9, "entName": "ACME", "nonce": "q"});
        assert_eq!(
            fingerprint("xiaolanben", "x", "import_customer", &a),
            fingerprint("xiaolanben", "x", "import_customer", &b)
        );
    }

    #[test]
    fn business_fields_idempotency_keys_and_identity_change_it() {
        let base = json!({"entName": "ACME", "request_id": "r1"});
        let fp = |v: &Value| fingerprint("linkflow", "lf", "send_event", v);
        assert_ne!(
            fp(&base),
            fp(&json!({"entName": "ACME2", "request_id": "r1"}))
        );
        assert_ne!(
            fp(&base),
            fp(&json!({"entName": "ACME", "request_id": "r2"}))
        );
        assert_ne!(
            fp(&base),
            fingerprint("linkflow", "lf2", "send_event", &base)
        );
        assert_ne!(fp(&base), fingerprint("linkflow", "lf", "other", &base));
        assert_ne!(fp(&json!([1, 2])), fp(&json!([2, 1])));
        assert_ne!(fp(&json!({"a": "1"})), fp(&json!({"a": 1})));
    }

    #[test]
    fn it_is_64_hex_digits() {
        let fp = fingerprint("tencent", "t", "report", &json!(null));
        assert_eq!(fp.len(), 64);
        assert!(fp.bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
