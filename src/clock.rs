//! Time for signing, windows and everything due later: the one injected [`Clock`] (system,
//! skewed, or manual in tests), and Beijing time, which every vendor's local timestamps use.
//! Owns no I/O.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};
use tokio::sync::watch;

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
///
/// ## Who holds it
///
/// The daemon makes one clock ([`crate::daemon::start_with_clock`]; `start` uses the system
/// clock) and hands copies to everything that reads the time: the journal (its timestamps and
/// `once` expiries), the account clients (signing), the script host (`now_beijing()`), the
/// dispatcher (due retries, backoff), the breakers (open intervals, through
/// [`instant`](Self::instant)), the cron loop, the retention timer, the status file, the pull
/// windows and the webhook replay guard. What stays on `std::time::Instant` measures a duration
/// for reporting (latency, bench, run budgets and timeouts), never when something is due.
///
/// ## Waking sleepers when a manual clock moves
///
/// Loops that wait for a time to come (cron slots, due retries, pull ticks) sleep on tokio
/// timers, which a manual clock does not drive. So a manual clock tells its watchers when it
/// moves: [`moves`](Self::moves) gives a loop a [`ClockMoves`] whose
/// [`next`](ClockMoves::next) resolves after every [`set`](Self::set) or
/// [`advance`](Self::advance) (and never on the system clock), and the loops select on it next
/// to their timer. A test therefore advances the clock and waits for the effect; it never has to
/// sleep until a poll interval passes.
#[derive(Clone, Copy, Debug, Default)]
pub struct Clock {
    skew_ms: i64,
    manual: Option<&'static Manual>,
    /// A manual clock read as running: its time plus the real time since it was last set.
    ticking: bool,
}

/// A manual clock's state: its time (in a watch channel, so moving it wakes its watchers) and a
/// monotonic anchor for [`Clock::instant`].
#[derive(Debug)]
struct Manual {
    millis: watch::Sender<i64>,
    anchor: Instant,
    anchor_ms: i64,
    /// System milliseconds when it was last set (or made), for [`Clock::ticking`].
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

    /// A clock that reads `start` until [`set`](Self::set) or [`advance`](Self::advance) moves it.
    pub fn manual(start: DateTime<Utc>) -> Self {
        let start_ms = start.timestamp_millis();
        let cell: &'static Manual = Box::leak(Box::new(Manual {
            millis: watch::Sender::new(start_ms),
            anchor: Instant::now(),
            anchor_ms: start_ms,
            set_at_ms: AtomicI64::new(Utc::now().timestamp_millis()),
        }));
        Self {
            skew_ms: 0,
            manual: Some(cell),
            ticking: false,
        }
    }

    /// Whether this is a manual clock.
    pub fn is_manual(&self) -> bool {
        self.manual.is_some()
    }

    /// Sets a manual clock to `t` (every copy of it sees the change, and its watchers wake). On
    /// the system clock this is a no-op that returns `false`.
    pub fn set(&self, t: DateTime<Utc>) -> bool {
        match self.manual {
            Some(cell) => {
                cell.set_at_ms
                    .store(Utc::now().timestamp_millis(), Ordering::SeqCst);
                cell.millis.send_replace(t.timestamp_millis());
                true
            }
            None => false,
        }
    }

    /// Moves a manual clock forward by `by` (its watchers wake); `false` (and no effect) on the
    /// system clock.
    pub fn advance(&self, by: chrono::Duration) -> bool {
        match self.manual {
            Some(cell) => {
                cell.millis
                    .send_modify(|ms| *ms = ms.saturating_add(by.num_milliseconds()));
                true
            }
            None => false,
        }
    }

    /// Now, in UTC.
    pub fn now(&self) -> DateTime<Utc> {
        let base = match self.manual {
            Some(cell) => {
                let mut ms = *cell.millis.borrow();
                if self.ticking {
                    let since_set =
                        Utc::now().timestamp_millis() - cell.set_at_ms.load(Ordering::SeqCst);
                    ms = ms.saturating_add(since_set.max(0));
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

    /// A monotonic instant for deadlines measured on this clock (a breaker's open interval):
    /// `Instant::now()` on the system clock, so a wall-clock step cannot stretch or cut an
    /// interval; on a manual clock, an instant that moves exactly as far as the clock has moved
    /// since it was made (never before that point: setting a manual clock earlier than its start
    /// reads as its start).
    pub fn instant(&self) -> Instant {
        match self.manual {
            Some(cell) => {
                let moved = cell.millis.borrow().saturating_sub(cell.anchor_ms).max(0);
                cell.anchor + Duration::from_millis(moved as u64)
            }
            None => Instant::now(),
        }
    }

    /// Moves of this clock from now on: see the type's doc. On the system clock the returned
    /// watcher never fires (the loops' own timers follow the system clock).
    pub fn moves(&self) -> ClockMoves {
        ClockMoves {
            moves: self.manual.map(|cell| cell.millis.subscribe()),
        }
    }

    /// Resolves at the next move of a manual clock after this call; never on the system clock.
    /// For a loop that re-enters its wait often, [`moves`](Self::moves) also sees a move made
    /// between two waits.
    pub fn moved(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut moves = self.moves();
        async move { moves.next().await }
    }
}

/// Tells a loop that a manual clock moved (see [`Clock::moves`]).
#[derive(Debug)]
pub struct ClockMoves {
    moves: Option<watch::Receiver<i64>>,
}

impl ClockMoves {
    /// Resolves when the clock has moved since this watcher was made or last resolved; pending
    /// forever on the system clock.
    pub async fn next(&mut self) {
        if let Some(moves) = &mut self.moves {
            if moves.changed().await.is_ok() {
                return;
            }
        }
        // The system clock, or (never: the cell is leaked) a dropped sender.
        std::future::pending().await
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
    fn a_manual_clocks_instant_moves_with_it_and_never_goes_back() {
        let start = Utc::now();
        let clock = Clock::manual(start);
        let before = clock.instant();
        assert_eq!(clock.instant(), before, "it stands still");
        clock.advance(chrono::Duration::seconds(90));
        assert_eq!(clock.instant() - before, Duration::from_secs(90));
        clock.set(start - chrono::Duration::hours(1));
        assert_eq!(
            clock.instant(),
            before,
            "earlier than its start reads as its start"
        );
        let system = Clock::system().instant();
        assert!(Clock::system().instant() >= system);
    }

    #[tokio::test(start_paused = true)]
    async fn watchers_wake_when_a_manual_clock_moves_and_never_on_the_system_clock() {
        let clock = Clock::manual(Utc::now());
        let mut moves = clock.moves();
        let waiter = tokio::spawn(async move {
            moves.next().await;
            moves
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "nothing moved yet");
        clock.advance(chrono::Duration::milliseconds(1));
        let mut moves = waiter.await.unwrap();
        // A move made while nobody waits is not lost: the next wait returns at once.
        clock.set(Utc::now());
        tokio::time::timeout(Duration::from_millis(1), moves.next())
            .await
            .expect("the move made between two waits is seen");
        // `moved()` watches from its call.
        let moved = clock.moved();
        clock.advance(chrono::Duration::seconds(1));
        tokio::time::timeout(Duration::from_millis(1), moved)
            .await
            .expect("moved() sees a move after its call");
        // The system clock never signals (paused time makes this hour instant).
        let never = tokio::time::timeout(Duration::from_secs(3600), Clock::system().moved());
        assert!(never.await.is_err());
    }

    #[test]
    fn skew_moves_the_clock() {
        let drift = Clock::skewed_secs(-600).unix_secs() - Clock::system().unix_secs();
        assert!((-601..=-599).contains(&drift), "{drift}");
    }
}
