//! The background prune: a timer that wakes every few minutes, asks the journal for one small
//! batch, and only keeps going while there is something to do. Idle, it costs one short writer
//! job per check. It must not log personal data (the journal logs counts only).

use std::time::Duration;

use tokio::sync::watch;

use crate::store::{Journal, RetentionPolicy};

/// How often the daemon checks whether anything is due. Retention is counted in days, so a
/// few minutes' delay changes nothing, and an idle daemon stays near zero CPU.
pub const CHECK_EVERY: Duration = Duration::from_secs(5 * 60);

/// The first check comes this long after start rather than a whole [`CHECK_EVERY`] later, so
/// a daemon restarted more often than that still prunes; the delay lets start-up (recovery,
/// cron catch-up, the first pushes) go first.
pub const FIRST_CHECK_AFTER: Duration = Duration::from_secs(30);

/// Rows per prune step: one step is one share of one writer commit, so an acknowledgement
/// waiting behind it waits that long at most. Measured (`bench --growth`, release, 2 shared
/// cores): 200-row redaction steps put the probe's commit p99 at 23 ms, 50-row steps at
/// 14-16 ms; most of that was WAL checkpoints inside commits, now run beside the writer
/// (`store::writer`), which brought it to 7-8 ms (README, Performance).
pub const BATCH: usize = 50;

/// When the background prune checks; "now" is the journal's (the daemon's) clock. The daemon
/// uses [`PruneTiming::default`]; tests start it (`daemon::start_with`) with a manual clock and
/// short intervals, to see the running daemon prune leads aged by moving the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PruneTiming {
    /// Delay from start to the first check.
    pub first_check: Duration,
    /// Delay between the end of one check and the next.
    pub every: Duration,
}

impl Default for PruneTiming {
    fn default() -> Self {
        PruneTiming {
            first_check: FIRST_CHECK_AFTER,
            every: CHECK_EVERY,
        }
    }
}

/// Runs until `stopped` turns true: checks `timing.first_check` after start and then every
/// `timing.every`, pruning what is due at the clock's time of each check.
pub async fn run(
    journal: Journal,
    policy: RetentionPolicy,
    timing: PruneTiming,
    mut stopped: watch::Receiver<bool>,
) {
    let mut wait = timing.first_check;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stopped.wait_for(|s| *s) => return,
        }
        wait = timing.every;
        let now = journal.clock().unix_millis();
        tokio::select! {
            result = journal.prune(policy, now, BATCH) => {
                if let Err(error) = result {
                    tracing::error!(%error, "journal: prune failed; retried at the next check");
                }
            }
            // A prune stopped between steps loses nothing: each step committed on its own.
            _ = stopped.wait_for(|s| *s) => return,
        }
    }
}
