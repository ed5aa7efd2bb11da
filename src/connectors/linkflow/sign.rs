//! The pure half of Linkflow's token handling. Linkflow signs nothing: a `GET /token` with the
//! App Key and App Secret returns an opaque token plus an absolute `expiration`, and every other
//! call carries `X-OpenApi-Token`. What is left to get right without I/O is reading
//! `expiration` (spec §5.3, K-a) and deciding when to refresh. The clock is always an argument.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::Value;

use crate::clock::parse_beijing;

/// Refresh this long before the vendor's stated expiration (spec §5.3 policy), so a token never
/// expires between our check and the vendor's.
pub const REFRESH_MARGIN: Duration = Duration::minutes(5);

/// Epoch numbers below this are seconds, at or above it milliseconds: 10^11 s is the year 5138,
/// while 10^11 ms is 1973, so no real expiration is ambiguous.
const SECONDS_BELOW: i64 = 100_000_000_000;

/// Why an `expiration` value could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpirationError {
    /// A string that is not `yyyy-MM-dd HH:mm:ss` (or a numeric string).
    #[error("expiration {0:?} is neither `yyyy-MM-dd HH:mm:ss` nor an epoch number")]
    BadText(String),
    /// A number that is negative, fractional or out of range.
    #[error("expiration {0} is not a usable epoch timestamp")]
    BadNumber(String),
    /// Absent, `null`, a bool, an array or an object.
    #[error("expiration is missing or has the wrong JSON type")]
    Missing,
}

/// Reads Linkflow's `expiration` as an instant. The official doc sends `"2017-09-04 09:30:23"`
/// with no zone, read as Beijing time (K-a); a public client reads it as epoch milliseconds, so a
/// JSON number (or numeric string) is accepted too: milliseconds, or seconds when below 10^11.
pub fn parse_expiration(value: &Value) -> Result<DateTime<Utc>, ExpirationError> {
    match value {
        Value::String(text) => {
            if let Some(t) = parse_beijing(text) {
                return Ok(t.with_timezone(&Utc));
            }
            let trimmed = text.trim();
            match trimmed.parse::<i64>() {
                Ok(n) => from_epoch(n).ok_or_else(|| ExpirationError::BadNumber(trimmed.into())),
                Err(_) => Err(ExpirationError::BadText(text.clone())),
            }
        }
        Value::Number(n) => n
            .as_i64()
            .and_then(from_epoch)
            .ok_or_else(|| ExpirationError::BadNumber(n.to_string())),
        _ => Err(ExpirationError::Missing),
    }
}

fn from_epoch(n: i64) -> Option<DateTime<Utc>> {
    if n < 0 {
        return None;
    }
    if n < SECONDS_BELOW {
        Utc.timestamp_opt(n, 0).single()
    } else {
        Utc.timestamp_millis_opt(n).single()
    }
}

/// True when a token expiring at `expiration` must be replaced before use at `now`:
/// `now >= expiration - 5 min`.
pub fn needs_refresh(expiration: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now >= expiration - REFRESH_MARGIN
}

/// Formats an instant the way Linkflow writes `expiration` (Beijing local time); used by the
/// simulator so both sides agree on the format.
pub fn format_expiration(at: DateTime<Utc>) -> String {
    at.with_timezone(&crate::clock::beijing())
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}
