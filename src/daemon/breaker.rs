//! Circuit breakers, one per account: after `threshold` consecutive failed calls the account's
//! breaker opens and calls fail fast (retryable, nothing sent) except one probe per interval; the
//! first successful call closes it. Only failures a retry can cure count (connect, timeout, 5xx,
//! 429, vendor busy, and a timestamp refused for clock skew): a refused signature or a duplicate
//! means the vendor is answering and the request itself is wrong.
//!
//! The open interval is measured on the daemon's [`Clock`] ([`Clock::instant`]: monotonic on the
//! system clock, so a wall-clock step neither stretches nor cuts it), so a test on a manual
//! clock ends it by advancing the clock.
//!
//! A breaker also remembers how many of its account's latest failures in a row were clock
//! failures, so `status` can say "clock skew suspected for account X" instead of leaving an
//! operator to guess why every lead of an account is waiting.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::clock::Clock;
use crate::connectors::FailureKind;

#[derive(Debug, Default)]
struct Breaker {
    consecutive_failures: u32,
    open_until: Option<Instant>,
    probe_in_flight: bool,
    /// How many of the latest failures in a row were `Clock` failures.
    clock_failures: u32,
}

/// What `status` shows for one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls go through.
    Closed,
    /// Calls fail fast until the next probe.
    Open {
        /// Consecutive failures so far.
        failures: u32,
    },
}

/// Every account's breaker.
#[derive(Debug)]
pub struct Breakers {
    threshold: u32,
    probe_interval: Duration,
    clock: Clock,
    accounts: Mutex<HashMap<String, Breaker>>,
}

impl Breakers {
    /// Breakers that open after `threshold` consecutive failures and probe every `probe_interval`,
    /// on the system clock.
    pub fn new(threshold: u32, probe_interval: Duration) -> Self {
        Self::with_clock(threshold, probe_interval, Clock::system())
    }

    /// [`new`](Self::new) with the open interval measured on `clock`.
    pub fn with_clock(threshold: u32, probe_interval: Duration, clock: Clock) -> Self {
        Breakers {
            threshold: threshold.max(1),
            probe_interval,
            clock,
            accounts: Mutex::new(HashMap::new()),
        }
    }

    /// `Ok` when a call to `account` may be sent now (possibly as the probe); otherwise how long
    /// until the next probe.
    pub fn admit(&self, account: &str) -> Result<(), Duration> {
        let mut accounts = self.accounts.lock().expect("breaker lock");
        let Some(breaker) = accounts.get_mut(account) else {
            return Ok(());
        };
        let Some(until) = breaker.open_until else {
            return Ok(());
        };
        let now = self.clock.instant();
        if now < until {
            return Err(until - now);
        }
        if breaker.probe_in_flight {
            return Err(self.probe_interval);
        }
        breaker.probe_in_flight = true;
        Ok(())
    }

    /// Records a sent call's outcome: `None` for a success, else the failure's kind. Retryable
    /// failures (clock failures among them) count toward opening the breaker; anything else
    /// proves the vendor answers and closes it. Returns true when this outcome closed an open
    /// breaker (the account is back).
    pub fn record(&self, account: &str, failure: Option<FailureKind>) -> bool {
        let outage = failure.is_some_and(FailureKind::retryable);
        let clock = failure == Some(FailureKind::Clock);
        let mut accounts = self.accounts.lock().expect("breaker lock");
        let breaker = accounts.entry(account.to_string()).or_default();
        if outage {
            breaker.consecutive_failures += 1;
            breaker.clock_failures = if clock { breaker.clock_failures + 1 } else { 0 };
            if breaker.probe_in_flight || breaker.consecutive_failures >= self.threshold {
                if breaker.open_until.is_none() {
                    tracing::warn!(
                        account,
                        failures = breaker.consecutive_failures,
                        "circuit breaker opened"
                    );
                }
                breaker.open_until = Some(self.clock.instant() + self.probe_interval);
            }
            breaker.probe_in_flight = false;
            false
        } else {
            let was_open = breaker.open_until.is_some();
            if was_open {
                tracing::info!(account, "circuit breaker closed");
            }
            *breaker = Breaker::default();
            was_open
        }
    }

    /// Every account with a breaker that is not closed.
    pub fn states(&self) -> Vec<(String, BreakerState)> {
        let accounts = self.accounts.lock().expect("breaker lock");
        let mut out: Vec<_> = accounts
            .iter()
            .map(|(name, b)| {
                let state = if b.open_until.is_some() {
                    BreakerState::Open {
                        failures: b.consecutive_failures,
                    }
                } else {
                    BreakerState::Closed
                };
                (name.clone(), state)
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Accounts whose latest failures were all clock failures (the vendor refused the
    /// timestamps), with how many in a row, by account name. Cleared by the account's next
    /// success or non-clock answer.
    pub fn clock_skew_suspects(&self) -> Vec<(String, u32)> {
        let accounts = self.accounts.lock().expect("breaker lock");
        let mut out: Vec<_> = accounts
            .iter()
            .filter(|(_, b)| b.clock_failures > 0)
            .map(|(name, b)| (name.clone(), b.clock_failures))
            .collect();
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_and_admits_one_probe_per_interval() {
        let breakers = Breakers::new(3, Duration::from_millis(50));
        for _ in 0..3 {
            assert!(breakers.admit("xlb").is_ok());
            breakers.record("xlb", Some(FailureKind::ServerError));
        }
        assert!(breakers.admit("xlb").is_err(), "open after 3 failures");
        assert!(
            breakers.admit("other").is_ok(),
            "other accounts are unaffected"
        );
        std::thread::sleep(Duration::from_millis(60));
        assert!(breakers.admit("xlb").is_ok(), "the probe");
        assert!(breakers.admit("xlb").is_err(), "only one probe at a time");
        breakers.record("xlb", Some(FailureKind::ServerError));
        assert!(breakers.admit("xlb").is_err(), "a failed probe reopens");
        std::thread::sleep(Duration::from_millis(60));
        assert!(breakers.admit("xlb").is_ok());
        assert!(
            breakers.record("xlb", None),
            "the successful probe closes it"
        );
        assert!(
            !breakers.record("xlb", None),
            "closing twice is not reported"
        );
        assert!(
            breakers.admit("xlb").is_ok() && breakers.admit("xlb").is_ok(),
            "closed again"
        );
        assert_eq!(
            breakers.states(),
            vec![("xlb".to_string(), BreakerState::Closed)]
        );
    }

    #[test]
    fn on_a_manual_clock_the_open_interval_ends_when_the_clock_is_advanced() {
        let clock = Clock::manual(chrono::Utc::now());
        let breakers = Breakers::with_clock(2, Duration::from_secs(30), clock);
        breakers.record("xlb", Some(FailureKind::Timeout));
        breakers.record("xlb", Some(FailureKind::Timeout));
        assert_eq!(breakers.admit("xlb"), Err(Duration::from_secs(30)));
        clock.advance(chrono::Duration::seconds(29));
        assert_eq!(
            breakers.admit("xlb"),
            Err(Duration::from_secs(1)),
            "the wait is counted on the clock"
        );
        clock.advance(chrono::Duration::seconds(1));
        assert!(breakers.admit("xlb").is_ok(), "the probe, at 30 s");
        breakers.record("xlb", Some(FailureKind::Timeout));
        assert_eq!(
            breakers.admit("xlb"),
            Err(Duration::from_secs(30)),
            "a failed probe opens a new interval from the clock's now"
        );
        clock.advance(chrono::Duration::seconds(30));
        assert!(breakers.admit("xlb").is_ok());
        assert!(
            breakers.record("xlb", None),
            "the successful probe closes it"
        );
    }

    #[test]
    fn clock_failures_open_the_breaker_and_are_remembered_until_the_vendor_answers() {
        let breakers = Breakers::new(3, Duration::from_secs(60));
        breakers.record("xlb", Some(FailureKind::Clock));
        breakers.record("xlb", Some(FailureKind::Clock));
        assert_eq!(breakers.clock_skew_suspects(), vec![("xlb".to_string(), 2)]);
        breakers.record("xlb", Some(FailureKind::Clock));
        assert!(breakers.admit("xlb").is_err(), "clock failures count");
        assert_eq!(
            breakers.states(),
            vec![("xlb".to_string(), BreakerState::Open { failures: 3 })]
        );
        // An outage of another kind is not the clock.
        breakers.record("xlb", Some(FailureKind::ServerError));
        assert!(breakers.clock_skew_suspects().is_empty());
        breakers.record("xlb", Some(FailureKind::Clock));
        assert_eq!(breakers.clock_skew_suspects(), vec![("xlb".to_string(), 1)]);
        // A refusal that is not retryable means the vendor took our timestamp: not suspected,
        // and like a success it closes the breaker.
        breakers.record("xlb", Some(FailureKind::Exists));
        assert!(breakers.clock_skew_suspects().is_empty());
        assert!(breakers.admit("xlb").is_ok());
        breakers.record("tx", Some(FailureKind::Clock));
        breakers.record("tx", None);
        assert!(breakers.clock_skew_suspects().is_empty());
    }
}
