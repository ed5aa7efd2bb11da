//! Circuit breakers, one per account: after `threshold` consecutive failed calls the account's
//! breaker opens and calls fail fast (retryable, nothing sent) except one probe per interval; the
//! first successful call closes it. Only outage-like failures count (connect, timeout, 5xx, 429,
//! vendor busy): a refused signature or a duplicate means the vendor is answering.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
struct Breaker {
    consecutive_failures: u32,
    open_until: Option<Instant>,
    probe_in_flight: bool,
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
    accounts: Mutex<HashMap<String, Breaker>>,
}

impl Breakers {
    /// Breakers that open after `threshold` consecutive failures and probe every `probe_interval`.
    pub fn new(threshold: u32, probe_interval: Duration) -> Self {
        Breakers {
            threshold: threshold.max(1),
            probe_interval,
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
        let now = Instant::now();
        if now < until {
            return Err(until - now);
        }
        if breaker.probe_in_flight {
            return Err(self.probe_interval);
        }
        breaker.probe_in_flight = true;
        Ok(())
    }

    /// Records a sent call's outcome: `outage` for connect/timeout/5xx/429/busy failures.
    /// Returns true when this outcome closed an open breaker (the account is back).
    pub fn record(&self, account: &str, outage: bool) -> bool {
        let mut accounts = self.accounts.lock().expect("breaker lock");
        let breaker = accounts.entry(account.to_string()).or_default();
        if outage {
            breaker.consecutive_failures += 1;
            if breaker.probe_in_flight || breaker.consecutive_failures >= self.threshold {
                if breaker.open_until.is_none() {
                    tracing::warn!(
                        account,
                        failures = breaker.consecutive_failures,
                        "circuit breaker opened"
                    );
                }
                breaker.open_until = Some(Instant::now() + self.probe_interval);
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_and_admits_one_probe_per_interval() {
        let breakers = Breakers::new(3, Duration::from_millis(50));
        for _ in 0..3 {
            assert!(breakers.admit("xlb").is_ok());
            breakers.record("xlb", true);
        }
        assert!(breakers.admit("xlb").is_err(), "open after 3 failures");
        assert!(
            breakers.admit("other").is_ok(),
            "other accounts are unaffected"
        );
        std::thread::sleep(Duration::from_millis(60));
        assert!(breakers.admit("xlb").is_ok(), "the probe");
        assert!(breakers.admit("xlb").is_err(), "only one probe at a time");
        breakers.record("xlb", true);
        assert!(breakers.admit("xlb").is_err(), "a failed probe reopens");
        std::thread::sleep(Duration::from_millis(60));
        assert!(breakers.admit("xlb").is_ok());
        assert!(
            breakers.record("xlb", false),
            "the successful probe closes it"
        );
        assert!(
            !breakers.record("xlb", false),
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
}
