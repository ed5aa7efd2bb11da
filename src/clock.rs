//! Time for signing and windows: a [`Clock`] that tests can skew, and Beijing time, which every
//! vendor's local timestamps use. Owns no I/O.

use std::sync::atomic::{AtomicI64, Ordering};

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

/// The one source of wall-clock time: the system clock, optionally skewed (tests skew it to make
/// a vendor see a stale timestamp without waiting), or a manual clock that stands still until a
/// test sets or advances it (`set_now` in script tests, cron and dispatcher tests on paused time).
///
/// `Clock` stays `Copy` so it can be handed to every client and task by value: a manual clock's
/// time lives in a leaked cell, which costs a few bytes per manual clock and is only made by
/// tests and offline runs.
#[derive(Clone, Copy, Debug, Default)]
pub struct Clock {
    skew_ms: i64,
    manual: Option<&'static ManualCell>,
    /// A manual clock read as running: its time plus the real time since it was last set.
    ticking: bool,
}

/// The shared time of a manual clock and the system instant it was last set at.
#[derive(Debug)]
struct ManualCell {
    at_ms: AtomicI64,
    set_at_ms: AtomicI64,
}

impl PartialEq for Clock {
    fn eq(&self, other: &Self) -> bool {
        self.skew_ms == other.skew_ms
            && self.ticking == other.ticking
            && match (self.manual, other.manual) {
                (None, None) => true,
                (Some(a), Some(b)) => std::ptr::eq(a, b),
                _ => false,
            }
    }
}

impl Eq for Clock {}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self::default()
    }

    /// The system clock moved by `seconds` (negative = in the past).
    pub fn skewed_secs(seconds: i64) -> Self {
        Self {
            skew_ms: seconds * 1000,
            manual: None,
            ticking: false,
        }
    }

    /// This clock moved by `seconds` more (a simulated vendor's clock on top of the base one).
    pub fn skewed_by_secs(self, seconds: i64) -> Self {
        Self {
            skew_ms: self.skew_ms + seconds * 1000,
            ..self
        }
    }

    /// A clock that reads `start` until [`set`](Self::set) or [`advance`](Self::advance) moves it.
    pub fn manual(start: DateTime<Utc>) -> Self {
        let cell: &'static ManualCell = Box::leak(Box::new(ManualCell {
            at_ms: AtomicI64::new(start.timestamp_millis()),
            set_at_ms: AtomicI64::new(Utc::now().timestamp_millis()),
        }));
        Self {
            skew_ms: 0,
            manual: Some(cell),
            ticking: false,
        }
    }

    /// The same manual clock read as running: its time plus the real time elapsed since it was
    /// last set (or made). `leadrelay test` hands this to the vendor clients and simulators, so
    /// their timestamps follow `set_now` while two identical requests still get different
    /// timestamps, as they would in production (a simulator refuses a replayed signature). The
    /// scripts read the frozen clock. On the system clock this is the clock itself.
    pub fn ticking(self) -> Self {
        Self {
            ticking: self.manual.is_some(),
            ..self
        }
    }

    /// Whether this is a manual clock.
    pub fn is_manual(&self) -> bool {
        self.manual.is_some()
    }

    /// Sets a manual clock to `t` (every copy of it sees the change). On the system clock this
    /// is a no-op that returns `false`.
    pub fn set(&self, t: DateTime<Utc>) -> bool {
        match self.manual {
            Some(cell) => {
                cell.at_ms.store(t.timestamp_millis(), Ordering::SeqCst);
                cell.set_at_ms
                    .store(Utc::now().timestamp_millis(), Ordering::SeqCst);
                true
            }
            None => false,
        }
    }

    /// Moves a manual clock forward by `by`; `false` (and no effect) on the system clock.
    pub fn advance(&self, by: chrono::Duration) -> bool {
        match self.manual {
            Some(cell) => {
                cell.at_ms
                    .fetch_add(by.num_milliseconds(), Ordering::SeqCst);
                true
            }
            None => false,
        }
    }

    /// Now, in UTC.
    pub fn now(&self) -> DateTime<Utc> {
        let base = match self.manual {
            Some(cell) => {
                let mut ms = cell.at_ms.load(Ordering::SeqCst);
                if self.ticking {
                    ms += (Utc::now().timestamp_millis() - cell.set_at_ms.load(Ordering::SeqCst))
                        .max(0);
                }
                DateTime::from_timestamp_millis(ms)
                    .expect("a manual clock holds a representable time")
            }
            None => Utc::now(),
        };
        base + chrono::Duration::milliseconds(self.skew_ms)
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
    fn a_manual_clock_stands_still_until_set_or_advanced_and_copies_share_it() {
        let start = parse_beijing("2026-12-05 21:30")
            .unwrap()
            .with_timezone(&Utc);
        let clock = Clock::manual(start);
        let copy = clock;
        assert_eq!(clock.now(), start);
        assert!(copy.advance(chrono::Duration::minutes(90)));
        assert_eq!(
            clock.now_beijing().to_rfc3339(),
            "2026-12-05T23:00:00+08:00"
        );
        assert!(clock.set(start));
        assert_eq!(copy.now(), start);
        assert!(
            !Clock::system().set(start),
            "the system clock cannot be set"
        );
    }

    #[test]
    fn a_ticking_view_of_a_manual_clock_runs_from_the_time_it_was_set() {
        let start = parse_beijing("2026-12-05 21:30")
            .unwrap()
            .with_timezone(&Utc);
        let frozen = Clock::manual(start);
        let running = frozen.ticking();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(frozen.now(), start);
        let ahead = running.now() - start;
        assert!(
            ahead >= chrono::Duration::milliseconds(20) && ahead < chrono::Duration::seconds(5),
            "{ahead}"
        );
        let later = start + chrono::Duration::days(3);
        assert!(running.set(later));
        assert_eq!(frozen.now(), later);
        assert!(running.now() - later < chrono::Duration::seconds(5));
        let skewed = running.skewed_by_secs(60).now() - later;
        assert!(
            skewed >= chrono::Duration::seconds(60) && skewed < chrono::Duration::seconds(65),
            "{skewed}"
        );
        assert_eq!(Clock::system().ticking(), Clock::system());
    }

    #[test]
    fn skew_moves_the_clock() {
        let drift = Clock::skewed_secs(-600).unix_secs() - Clock::system().unix_secs();
        assert!((-601..=-599).contains(&drift), "{drift}");
    }
}
