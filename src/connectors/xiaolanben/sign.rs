//! The Xiaolanben `h_sign` signer (spec §4.3), pure: the timestamp and key are arguments, there
//! is no clock and no I/O. Used by the client to sign and by the simulator to verify, so both
//! sides share one definition of the canonical string.
//!
//! `S = A + B + h_t + key`, `h_sign = lower_hex(md5(utf8(S)))`, where `A` is the business query
//! parameters as `k=v1,v2&…` (keys in Java `TreeMap` order, values sorted, empties dropped, raw
//! not URL-encoded) and `B` is the raw body unless it is blank.

use std::cmp::Ordering;
use std::collections::HashMap;

use md5::{Digest, Md5};

/// The query parameter carrying the timestamp (epoch milliseconds).
pub const H_T: &str = "h_t";
/// The query parameter carrying the signature.
pub const H_SIGN: &str = "h_sign";

/// Business query parameters: each key with its values in the order given. A key may repeat;
/// its values are merged, as the server's parameter map does.
pub type Params = [(String, Vec<String>)];

/// Java `String.compareTo`: by UTF-16 code unit. Equal to byte order except for supplementary
/// characters against U+E000–U+FFFF (spec §4.3 edge case 8), which we get right anyway because
/// values are user text.
pub fn java_cmp(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// `Character.isWhitespace`, which commons-lang `StringUtils.isBlank` uses. Unlike Rust's
/// `char::is_whitespace` it excludes the no-break spaces and U+0085 and includes U+001C–U+001F,
/// so a body of only NBSPs is signed like the Java server signs it.
fn java_is_whitespace(c: char) -> bool {
    matches!(c,
        '\t' | '\n' | '\u{0B}' | '\u{0C}' | '\r' | '\u{1C}'..='\u{1F}' | ' ' | '\u{1680}'
        | '\u{2000}'..='\u{2006}' | '\u{2008}'..='\u{200A}' | '\u{2028}' | '\u{2029}'
        | '\u{205F}' | '\u{3000}')
}

/// `StringUtils.isBlank`: empty or only Java white space.
pub fn is_blank(text: &str) -> bool {
    text.chars().all(java_is_whitespace)
}

/// The parameters as the signature sees them: `h_t`/`h_sign` removed, repeated keys merged,
/// keys in Java order, values without empties and sorted, keys left with no value dropped
/// (spec L-a: never sign `k=`).
pub fn canonical_params(params: &Params) -> Vec<(&str, Vec<&str>)> {
    // An index rather than a linear search: the simulator feeds untrusted queries through here.
    let mut index: HashMap<&str, usize> = HashMap::with_capacity(params.len());
    let mut merged: Vec<(&str, Vec<&str>)> = Vec::with_capacity(params.len());
    for (key, values) in params {
        if key == H_T || key == H_SIGN {
            continue;
        }
        let values = values.iter().map(String::as_str).filter(|v| !v.is_empty());
        match index.get(key.as_str()) {
            Some(&i) => merged[i].1.extend(values),
            None => {
                index.insert(key.as_str(), merged.len());
                merged.push((key.as_str(), values.collect()));
            }
        }
    }
    merged.retain(|(_, values)| !values.is_empty());
    merged.sort_by(|a, b| java_cmp(a.0, b.0));
    for (_, values) in &mut merged {
        values.sort_by(|a, b| java_cmp(a, b));
    }
    merged
}

/// The string `A`: `k1=v1&k2=v2,v3`, raw (not URL-encoded).
pub fn param_string(params: &Params) -> String {
    canonical_params(params)
        .iter()
        .map(|(k, values)| format!("{k}={}", values.join(",")))
        .collect::<Vec<_>>()
        .join("&")
}

/// The full string to hash, `A + B + h_t + key`. Exposed for tests and debugging only: it holds
/// the key, so never log it.
pub fn string_to_sign(params: &Params, body: Option<&str>, h_t: i64, key: &str) -> String {
    let mut s = param_string(params);
    if let Some(body) = body.filter(|b| !is_blank(b)) {
        s.push_str(body);
    }
    s.push_str(&h_t.to_string());
    s.push_str(key);
    s
}

/// `h_sign`: lowercase hex MD5 of [`string_to_sign`].
pub fn h_sign(params: &Params, body: Option<&str>, h_t: i64, key: &str) -> String {
    hex::encode(Md5::digest(
        string_to_sign(params, body, h_t, key).as_bytes(),
    ))
}

/// The query string to send (without `?`): the business parameters form-urlencoded (space →
/// `+`, like Java's `URLEncoder`) in canonical order (keys, then each key's values), each
/// non-empty value as its own `k=v` pair, then `h_t` and `h_sign`. Empty values are left out, matching [`h_sign`].
pub fn query_string(params: &Params, h_t: i64, h_sign: &str) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (key, values) in canonical_params(params) {
        for value in values {
            out.append_pair(key, value);
        }
    }
    out.append_pair(H_T, &h_t.to_string());
    out.append_pair(H_SIGN, h_sign);
    out.finish()
}

/// Parses a raw query string (as received) into parameters, merging repeated keys in order of
/// appearance, the way a servlet's `getParameterMap` does. Never fails: malformed escapes are
/// kept as text.
pub fn parse_query(query: &str) -> Vec<(String, Vec<String>)> {
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        match index.get(k.as_ref()) {
            Some(&i) => out[i].1.push(v.into_owned()),
            None => {
                index.insert(k.to_string(), out.len());
                out.push((k.into_owned(), vec![v.into_owned()]));
            }
        }
    }
    out
}
