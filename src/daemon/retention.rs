//! The background prune: a timer that wakes every few minutes, asks the journal for one small
//! batch, and only keeps going while there is something to do. Idle, it costs one short writer
//! job per check. It must not log personal data (the journal logs counts only).

use std::time::Duration;

use tokio::sync::watch;

use crate::store::{Journal, RetentionPolicy};

/// How often the daemon checks whether anything is due. Retention is counted in days, so a
/// few minutes' delay changes nothing, and an idle daemon stays near zero CPU.
pub const CHECK_EVERY: Duration = Duration::from_secs(5 * 60);

/// Rows per prune step: one step is one share of one writer commit, so an acknowledgement
/// waiting behind it waits that long at most. Measured (`bench --growth 1000000`, release, 2
/// shared cores): 200-row redaction steps put the probe's commit p99 at 23 ms; 50-row steps
/// (100,000 leads) at 15.6 ms, deletion at 6 ms. The remainder is not the step size alone
/// (README, Performance: WAL checkpoints are the first suspect).
pub const BATCH: usize = 50;

/// Runs until `stopped` turns true: checks at `every` (the first check one `every` after
/// start), prunes what is due at the wall-clock time of the check.
pub async fn run(
    journal: Journal,
    policy: RetentionPolicy,
    every: Duration,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stopped.wait_for(|s| *s) => return,
        }
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
