//! The Waiqin365 signer (spec §2.3 and §2.6). Pure: the time, the message id and the exact body
//! bytes are arguments, so the spec's vectors W1–W3 pin every function here byte for byte.
//!
//! Outbound: `digest = lowerhex(md5(body | appkey | ts))` over the RAW body bytes (W1 hashes a
//! body that is not even valid JSON, so the server cannot be normalizing it), and the signature
//! travels in the path `…/{op}/{openid}/{ts}/{digest}/{msg_id}`.
//! Inbound push: `digest = lowerhex(md5(data | pushsecret | timestamp))` over the URL-decoded
//! `data` string as received. The two timestamps have different formats (W-h) and share no parser.

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone};
use md5::{Digest, Md5};

use crate::clock::beijing;

/// The module path of the sales-leads API below the base URL.
pub const SALESLEADS_MODULE: &str = "salesleads/v1";

/// `yyyyMMddHHmmss` in Beijing time (UTC+8, W-b) for any instant, e.g. `20150806142836`.
pub fn timestamp<Tz: TimeZone>(now: &DateTime<Tz>) -> String {
    now.with_timezone(&beijing())
        .format("%Y%m%d%H%M%S")
        .to_string()
}

/// Reads an outbound `yyyyMMddHHmmss` timestamp as Beijing time: exactly 14 ASCII digits forming a
/// valid calendar time, else `None`. The simulator checks its window with it.
pub fn parse_timestamp(ts: &str) -> Option<DateTime<FixedOffset>> {
    if ts.len() != 14 || !ts.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let naive = NaiveDateTime::parse_from_str(ts, "%Y%m%d%H%M%S").ok()?;
    beijing().from_local_datetime(&naive).single()
}

/// `lowerhex(md5(a | b | c))`, the one shape both directions use.
fn md5_joined(first: &[u8], second: &[u8], third: &[u8]) -> String {
    let mut md5 = Md5::new();
    md5.update(first);
    md5.update(b"|");
    md5.update(second);
    md5.update(b"|");
    md5.update(third);
    hex::encode(md5.finalize())
}

/// The outbound digest over the exact body bytes that will be POSTed.
pub fn digest(body: &[u8], appkey: &str, ts: &str) -> String {
    md5_joined(body, appkey.as_bytes(), ts.as_bytes())
}

/// The signed URL: `base/module_path/op/openid/ts/digest/msg_id`. `base` may end with a slash.
pub fn signed_url(
    base: &str,
    module_path: &str,
    op: &str,
    openid: &str,
    ts: &str,
    digest: &str,
    msg_id: &str,
) -> String {
    format!(
        "{}/{}/{op}/{openid}/{ts}/{digest}/{msg_id}",
        base.trim_end_matches('/'),
        module_path.trim_matches('/'),
    )
}

/// The digest of an inbound push: over the decoded `data` bytes and the `timestamp` text exactly
/// as received (13-digit epoch milliseconds, but never reparsed, so any text signs as sent).
pub fn push_digest(data: &[u8], pushsecret: &str, timestamp: &str) -> String {
    md5_joined(data, pushsecret.as_bytes(), timestamp.as_bytes())
}
