//! Time for signing and windows: a [`Clock`] that tests can skew, and Beijing time, which every
//! vendor's local timestamps use. Owns no I/O.

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};

/// UTC+8, the zone of every vendor's local timestamps (China has had no DST since 1991).
pub fn beijing() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset")
}

/// Parses a vendor's local `yyyy-MM-dd HH:mm[:ss]` text as Beijing time.
pub fn parse_beijing(text: &str) -> Option<DateTime<FixedOffset>> {
    let text = text.trim();
    ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .and_then(|naive| beijing().from_local_datetime(&naive).single())
}

/// The time a client signs with. The system clock, optionally skewed: tests skew it to make a
/// vendor see a stale timestamp without waiting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Clock {
    skew_ms: i64,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self::default()
    }

    /// The system clock moved by `seconds` (negative = in the past).
    pub fn skewed_secs(seconds: i64) -> Self {
        Self {
            skew_ms: seconds * 1000,
        }
    }

    /// Now, in UTC.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::milliseconds(self.skew_ms)
    }

    /// Now, in Beijing time.
    pub fn now_beijing(&self) -> DateTime<FixedOffset> {
        self.now().with_timezone(&beijing())
    }

    /// Unix seconds.
    pub fn unix_secs(&self) -> i64 {
        self.now().timestamp()
    }

    /// Unix milliseconds.
    pub fn unix_millis(&self) -> i64 {
        self.now().timestamp_millis()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_beijing_local_text_with_and_without_seconds() {
        let t = parse_beijing("2017-09-04 09:30:23").unwrap();
        assert_eq!(t.timestamp(), 1_504_488_623);
        let t = parse_beijing("2021-01-09 08:05").unwrap();
        assert_eq!(t.to_rfc3339(), "2021-01-09T08:05:00+08:00");
        assert!(parse_beijing("yesterday").is_none());
    }

    #[test]
    fn skew_moves_the_clock() {
        let drift = Clock::skewed_secs(-600).unix_secs() - Clock::system().unix_secs();
        assert!((-601..=-599).contains(&drift), "{drift}");
    }
}
