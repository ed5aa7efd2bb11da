//! The Feiyu request signer (spec §1.4), pure: the timestamp comes in as an argument.
//!
//! `Signature = base64(lower_hex(HMAC-SHA256(key = raw key bytes, msg = route[?query] + " " + ts)))`.
//! Three fine points every public client warns about, and the spec vectors F1–F3 pin:
//! the key is used as its raw bytes even though it looks like base64 (F-a), the hex is lowercase
//! and it is the 64 hex *characters* that get base64-encoded (F-b), and exactly one 0x20 separates
//! the route/query from the timestamp (F-c).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The pull route. The trailing slash is part of the path and of the signed text.
pub const PULL_CLUES_ROUTE: &str = "/crm/v2/openapi/pull-clues/";

/// The status-callback route (spec §1.8), signed without a query.
pub const CALLBACK_ROUTE: &str = "/crm/v2/openapi/clue/callback/";

/// The text to sign: `route`, then `?k=v&k=v` when `query` is not empty, then one space and `ts`.
///
/// `query` holds the signed pairs in order with their raw (not URL-encoded) values; for the pull
/// that is exactly `[("start_time", s), ("end_time", e)]` — `page` and `page_size` are not signed.
/// `ts` is the `Timestamp` header text (unix seconds).
pub fn string_to_sign(route: &str, query: &[(&str, &str)], ts: &str) -> String {
    let mut out = String::with_capacity(route.len() + ts.len() + 64);
    out.push_str(route);
    for (i, (key, value)) in query.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(key);
        out.push('=');
        out.push_str(value);
    }
    out.push(' ');
    out.push_str(ts);
    out
}

/// Lowercase hex of HMAC-SHA256 over `string_to_sign`, keyed with the raw bytes of
/// `signature_key` (64 characters).
pub fn mac_hex(signature_key: &str, string_to_sign: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(signature_key.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(string_to_sign.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The `Signature` header: base64 of the ASCII lowercase hex MAC (88 characters).
pub fn signature(signature_key: &str, string_to_sign: &str) -> String {
    STANDARD.encode(mac_hex(signature_key, string_to_sign))
}
