//! Scheduled pulls of every vendor that is a [`PullSource`] (each vendor's `pull.rs` says which
//! endpoint, page size and pause), each on its own cron schedule in Beijing time.
//!
//! A pull reads its checkpoint (the end of the last fully pulled window, unix seconds), fetches
//! the window `[checkpoint − overlap, now]` page by page, and hands every lead to the [`Intake`]
//! together with the new checkpoint, so both commit in ONE transaction. The checkpoint therefore
//! only moves when every page was fetched and every lead committed; any failure leaves it where
//! it was and the next pull covers the same window again. Re-pulled leads (the overlap, a
//! retried window, day-granular vendors) are dropped by the journal's de-duplication, which is
//! what makes the overlap free.
//!
//! The first pull of an account (no checkpoint yet) looks back [`INITIAL_LOOKBACK_SECS`] (one
//! day): enough to pick up what arrived while leadrelay was being set up, without importing an
//! account's whole history into scripts that were written for new leads.
//!
//! Day granularity: a vendor that only filters by date (`YYYY-MM-DD`, Beijing) re-fetches the
//! whole of the window's first and last days on every pull. Each of today's leads is thus
//! fetched again by every pull of the day and dropped as a duplicate by the journal; only the
//! page count grows over the day.
//!
//! Records the vendor returns but cannot convert ([`Pulled::rejected`]) are quarantined with the
//! reason, never dropped; so are records without an id.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use super::{Intake, IntakeError, SourceSpec};
use crate::clock::beijing;
use crate::config::Config;
use crate::config::{check_has_trigger, source_label};
use crate::connectors::source::{PullSource, PullWindow, Pulled, RejectedRecord};
use crate::connectors::{vendors_that, Accounts, CallError, Vendor};
use crate::host::schedule::parse_cron;
use crate::lead::Lead;
use crate::store::types::{Arrival, Checkpoint, Quarantined, Via};

/// How far the first pull of an account looks back, in seconds (one day).
pub const INITIAL_LOOKBACK_SECS: i64 = 86_400;

/// First wait after a failed pull.
pub const BACKOFF_INITIAL: Duration = Duration::from_secs(5);

/// Longest wait between failed pulls.
pub const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// How long to wait after failures: doubling from `initial` up to `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Wait after the first failure.
    pub initial: Duration,
    /// Upper bound of the wait.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: BACKOFF_INITIAL,
            max: BACKOFF_MAX,
        }
    }
}

impl Backoff {
    /// The wait after `failures` consecutive failures (≥ 1).
    pub fn delay(&self, failures: u32) -> Duration {
        let factor = 1u32 << failures.saturating_sub(1).min(16);
        self.initial.saturating_mul(factor).min(self.max)
    }
}

/// One scheduled pull of one account.
#[derive(Clone)]
pub struct ScheduledPull {
    /// The account.
    pub account: String,
    /// Its vendor.
    pub vendor: Vendor,
    /// The vendor's pull, through the account's client.
    pub source: Arc<dyn PullSource>,
    /// When to pull, read in Beijing time.
    pub schedule: cron::Schedule,
    /// Each window starts this many seconds before the checkpoint.
    pub overlap_secs: u64,
    /// Records per page (the vendor's maximum unless configured).
    pub page_size: u32,
    /// Pause between pages (the vendor's, unless a test sets it).
    pub page_pause: Duration,
    /// Waits after failed pulls.
    pub backoff: Backoff,
    /// What its last pull did; shared by every clone (the console reads it).
    pub health: Arc<PullHealth>,
}

/// The last pull of one source, as the console shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastPull {
    /// When it ended (unix milliseconds).
    pub at_ms: i64,
    /// Why it failed; `None` when it committed.
    pub error: Option<String>,
    /// Failed pulls in a row (0 after a success).
    pub failures: u32,
    /// When the next pull is due (unix milliseconds): the next tick, or the retry after a
    /// failure.
    pub next_ms: Option<i64>,
}

/// What a source's scheduler reports while it runs, read by the console.
#[derive(Debug, Default)]
pub struct PullHealth {
    last: std::sync::Mutex<Option<LastPull>>,
    skipped_ticks: std::sync::atomic::AtomicU64,
}

impl PullHealth {
    /// The last pull since the daemon started, if any ran.
    pub fn last(&self) -> Option<LastPull> {
        self.last.lock().ok().and_then(|l| l.clone())
    }

    /// Ticks skipped since the daemon started (a pull still running or backing off).
    pub fn skipped_ticks(&self) -> u64 {
        self.skipped_ticks
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    fn record(&self, last: LastPull, skipped_ticks: u64) {
        if let Ok(mut slot) = self.last.lock() {
            *slot = Some(last);
        }
        self.skipped_ticks
            .store(skipped_ticks, std::sync::atomic::Ordering::Relaxed);
    }
}

impl ScheduledPull {
    /// The endpoint this source pulls (and the name of its checkpoint).
    pub fn endpoint(&self) -> &'static str {
        self.source.endpoint()
    }
}

impl std::fmt::Debug for ScheduledPull {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScheduledPull")
            .field("account", &self.account)
            .field("vendor", &self.vendor)
            .field("endpoint", &self.endpoint())
            .field("schedule", &self.schedule.to_string())
            .field("overlap_secs", &self.overlap_secs)
            .field("page_size", &self.page_size)
            .field("page_pause", &self.page_pause)
            .field("backoff", &self.backoff)
            .finish()
    }
}

/// The pull sources of every `[[sources]]` entry with a `pull` schedule. Errors name the entry
/// (1-based) and its account: unknown account, a vendor without a pull API, a bad cron
/// expression, a page size out of the vendor's range.
pub fn pull_sources(
    config: &Config,
    accounts: &Accounts,
    sources: &[SourceSpec],
) -> Result<Vec<ScheduledPull>, String> {
    let mut out = Vec::new();
    for (i, source) in sources.iter().enumerate() {
        let at = source_label(i, &source.account);
        check_has_trigger(source, &at)?;
        let Some(expr) = &source.pull else { continue };
        let account = config
            .account(&source.account)
            .map_err(|e| format!("{at}: {e}"))?;
        let client = accounts
            .get(&account.name)
            .ok_or_else(|| format!("{at}: no client was built for account `{}`", account.name))?;
        let pull = client.pull_source().map_err(|reason| {
            let pulls_exist_for = vendors_that(Vendor::pulls);
            if account.vendor.is_destination() {
                format!(
                    "{at}: key `pull`: account `{}` is a {} account, a destination rather than a lead source; pulls exist for {pulls_exist_for}",
                    account.name, account.vendor
                )
            } else {
                format!("{at}: key `pull`: account `{}`: {reason}", account.name)
            }
        })?;
        let schedule = parse_cron(expr).map_err(|e| format!("{at}: key `pull`: {e}"))?;
        let max = pull.max_page_size();
        let page_size = match source.page_size {
            None => max,
            Some(n) if (1..=max).contains(&n) => n,
            Some(n) => {
                return Err(format!(
                    "{at}: key `page_size`: {} serves 1 to {max} records per page, got {n}",
                    account.vendor
                ))
            }
        };
        out.push(ScheduledPull {
            account: account.name.clone(),
            vendor: account.vendor,
            page_pause: pull.page_pause(),
            source: pull,
            schedule,
            overlap_secs: source.overlap_secs,
            page_size,
            backoff: Backoff::default(),
            health: Arc::default(),
        });
    }
    Ok(out)
}

/// What one successful pull did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullReport {
    /// The account.
    pub account: String,
    /// The endpoint (checkpoint name).
    pub endpoint: &'static str,
    /// Window start, unix seconds.
    pub window_start: i64,
    /// Window end, unix seconds: the new checkpoint.
    pub window_end: i64,
    /// Records the vendor returned.
    pub fetched: usize,
    /// Leads the journal did not know.
    pub new: usize,
    /// Leads it already had (overlap, re-pulled days, pushes).
    pub duplicate: usize,
    /// Records kept in the quarantine because they could not be converted.
    pub quarantined: usize,
}

/// Why a pull failed. The checkpoint did not move.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// The journal could not read the checkpoint, keep a record, or commit.
    #[error("pull of account `{account}` ({endpoint}): {source}")]
    Intake {
        /// The account.
        account: String,
        /// The endpoint.
        endpoint: &'static str,
        /// The journal's error.
        source: IntakeError,
    },
    /// The stored checkpoint is not unix seconds.
    #[error(
        "pull of account `{account}` ({endpoint}): checkpoint {position:?} is not unix seconds"
    )]
    BadCheckpoint {
        /// The account.
        account: String,
        /// The endpoint.
        endpoint: &'static str,
        /// What was stored.
        position: String,
    },
    /// A page could not be fetched.
    #[error("pull of account `{account}` ({endpoint}): {source}")]
    Vendor {
        /// The account.
        account: String,
        /// The endpoint.
        endpoint: &'static str,
        /// The client's error (kind, status, vendor code and message).
        source: CallError,
    },
}

/// Pulls `source`'s window ending at `now` and commits its leads with the new checkpoint.
pub async fn pull_once<I: Intake>(
    source: &ScheduledPull,
    intake: &I,
    now: DateTime<Utc>,
) -> Result<PullReport, PullError> {
    let account = source.account.clone();
    let endpoint = source.endpoint();
    let intake_error = |source: IntakeError| PullError::Intake {
        account: account.clone(),
        endpoint,
        source,
    };
    let position = intake
        .checkpoint(&account, endpoint)
        .await
        .map_err(intake_error)?;
    let end = now.timestamp();
    let start = match position {
        None => end - INITIAL_LOOKBACK_SECS,
        Some(text) => {
            let at: i64 = text.trim().parse().map_err(|_| PullError::BadCheckpoint {
                account: account.clone(),
                endpoint,
                position: text.clone(),
            })?;
            at.saturating_sub(i64::try_from(source.overlap_secs).unwrap_or(i64::MAX))
        }
    }
    // A clock that went backwards must not make an inverted window the vendor refuses forever.
    .min(end);

    let (leads, rejected) = fetch(source, start, end)
        .await
        .map_err(|e| PullError::Vendor {
            account: account.clone(),
            endpoint,
            source: e,
        })?;
    let fetched = leads.len() + rejected.len();
    let received_at_ms = now.timestamp_millis();

    // Quarantined before the commit that moves the checkpoint: if this fails the window is
    // pulled again (a record may be quarantined twice), never lost.
    for item in &rejected {
        intake
            .quarantine(Quarantined {
                account: account.clone(),
                endpoint: endpoint.to_string(),
                reason: item.reason.clone(),
                content_type: Some("application/json".to_string()),
                body: serde_json::to_vec(&item.raw).unwrap_or_default(),
                received_at_ms,
            })
            .await
            .map_err(intake_error)?;
    }

    let checkpoint = Checkpoint {
        account: account.clone(),
        endpoint: endpoint.to_string(),
        position: end.to_string(),
    };
    let arrival = Arrival {
        via: Via::Pull,
        endpoint: endpoint.to_string(),
        received_at_ms,
    };
    let accepted = intake
        .accept_leads(leads, arrival, Some(checkpoint))
        .await
        .map_err(intake_error)?;
    let new = accepted
        .iter()
        .filter(|a| **a == crate::store::types::Accepted::New)
        .count();
    let report = PullReport {
        account,
        endpoint,
        window_start: start,
        window_end: end,
        fetched,
        new,
        duplicate: accepted.len() - new,
        quarantined: rejected.len(),
    };
    tracing::info!(
        account = %report.account,
        endpoint,
        window_start = start,
        window_end = end,
        fetched,
        new,
        duplicate = report.duplicate,
        quarantined = report.quarantined,
        "pull"
    );
    Ok(report)
}

/// Every record of `[start, end]` (unix seconds), converted; records without an id (the
/// journal's de-duplication key) are rejected for quarantine rather than journaled.
async fn fetch(
    source: &ScheduledPull,
    start: i64,
    end: i64,
) -> Result<(Vec<Lead>, Vec<RejectedRecord>), CallError> {
    let at = |t: i64| {
        DateTime::from_timestamp(t, 0)
            .unwrap_or_default()
            .with_timezone(&beijing())
    };
    let window = PullWindow {
        start: at(start),
        end: at(end),
        page_size: source.page_size,
        page_pause: source.page_pause,
    };
    let Pulled {
        leads,
        mut rejected,
    } = source.source.fetch_window(window).await?;
    let (leads, without_id): (Vec<Lead>, Vec<Lead>) =
        leads.into_iter().partition(|l| !l.id.trim().is_empty());
    rejected.extend(without_id.into_iter().map(|l| RejectedRecord {
        reason: "the record's id is empty, so it cannot be de-duplicated".to_string(),
        raw: l.raw,
    }));
    Ok((leads, rejected))
}

/// What a source's scheduler did until shutdown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PullStats {
    /// The account.
    pub account: String,
    /// Pulls that committed.
    pub succeeded: u64,
    /// Pulls that failed.
    pub failed: u64,
    /// Ticks that came while a pull was running or backing off, and were skipped.
    pub skipped_ticks: u64,
}

/// Runs every source on its schedule until `shutdown` turns true (or its sender is dropped),
/// one task per source, and returns what each did.
///
/// Ticks are read in Beijing time whatever the server's zone. A pull still running when its
/// next tick comes does not start a second one: the tick is skipped and counted, and the next
/// pull's window (from the checkpoint) covers it anyway. After a failure the source retries after
/// a bounded, doubling backoff instead of waiting for its next tick, then returns to its schedule.
/// On shutdown a running pull is abandoned: leads and checkpoint commit together, so an
/// abandoned pull has either committed whole or not at all and is redone on the next start.
pub async fn run_pulls<I: Intake>(
    sources: Vec<ScheduledPull>,
    intake: Arc<I>,
    shutdown: watch::Receiver<bool>,
) -> Vec<PullStats> {
    let tasks: Vec<_> = sources
        .into_iter()
        .map(|source| {
            let intake = intake.clone();
            let shutdown = shutdown.clone();
            let account = source.account.clone();
            (account, tokio::spawn(run_source(source, intake, shutdown)))
        })
        .collect();
    let mut stats = Vec::with_capacity(tasks.len());
    for (account, task) in tasks {
        match task.await {
            Ok(s) => stats.push(s),
            Err(e) => {
                tracing::error!(account = %account, error = %e, "pull scheduler task failed");
                stats.push(PullStats {
                    account,
                    ..PullStats::default()
                });
            }
        }
    }
    stats
}

/// Resolves when shutdown is asked for (or nobody can ask any more).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

async fn run_source<I: Intake>(
    source: ScheduledPull,
    intake: Arc<I>,
    mut shutdown: watch::Receiver<bool>,
) -> PullStats {
    let mut stats = PullStats {
        account: source.account.clone(),
        ..PullStats::default()
    };
    let mut failures: u32 = 0;
    let mut next = next_tick(&source.schedule, intake.clock().now());
    loop {
        if *shutdown.borrow() {
            break;
        }
        let Some(at) = next else {
            tracing::warn!(account = %source.account, "pull schedule has no future tick; stopping");
            break;
        };
        let wait = (at - intake.clock().now())
            .to_std()
            .unwrap_or(Duration::ZERO);
        tokio::select! {
            _ = stopped(&mut shutdown) => break,
            _ = tokio::time::sleep(wait) => {}
            _ = intake.clock().moved() => continue, // a manual clock moved: wait again
        }
        // Nodes sharing a journal take turns: the lease outlives two periods of the schedule,
        // so the node pulling a source keeps it, and another takes over once it stops.
        let period = next_tick(&source.schedule, at)
            .and_then(|after| (after - at).to_std().ok())
            .unwrap_or(Duration::from_secs(60));
        let ttl = (period * 2).max(Duration::from_secs(10));
        match intake
            .lease_source(&source.account, source.endpoint(), ttl)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                tracing::debug!(account = %source.account, "pulled by another node this time");
                next = next_tick(&source.schedule, intake.clock().now());
                continue;
            }
            Err(e) => {
                tracing::warn!(account = %source.account, error = %e, "pull lease not answered");
                next = next_tick(&source.schedule, intake.clock().now());
                continue;
            }
        }
        let started = intake.clock().now();
        let result = tokio::select! {
            _ = stopped(&mut shutdown) => break,
            result = pull_once(&source, intake.as_ref(), started) => result,
        };
        let now = intake.clock().now();
        let error = result.as_ref().err().map(ToString::to_string);
        let resume = match result {
            Ok(_) => {
                stats.succeeded += 1;
                failures = 0;
                next_tick(&source.schedule, now)
            }
            Err(e) => {
                stats.failed += 1;
                failures = failures.saturating_add(1);
                let delay = source.backoff.delay(failures);
                tracing::warn!(
                    account = %source.account,
                    failures,
                    retry_in_ms = delay.as_millis() as u64,
                    error = %e,
                    "pull failed"
                );
                chrono::Duration::from_std(delay).ok().map(|d| now + d)
            }
        };
        // Ticks between the one we ran and the next attempt were not run on their own; the
        // next window starts at the checkpoint, so nothing they would have pulled is lost.
        if let Some(resume) = resume {
            stats.skipped_ticks += ticks_between(&source.schedule, at, resume);
        }
        source.health.record(
            LastPull {
                at_ms: now.timestamp_millis(),
                error,
                failures,
                next_ms: resume.map(|t| t.timestamp_millis()),
            },
            stats.skipped_ticks,
        );
        next = resume;
    }
    tracing::info!(
        account = %source.account,
        succeeded = stats.succeeded,
        failed = stats.failed,
        skipped_ticks = stats.skipped_ticks,
        "pull scheduler stopped"
    );
    stats
}

/// The first tick strictly after `after`, read in Beijing time.
fn next_tick(schedule: &cron::Schedule, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    schedule
        .after(&after.with_timezone(&beijing()))
        .next()
        .map(|t| t.with_timezone(&Utc))
}

/// Ticks strictly after `from` and strictly before `to` (bounded, for absurd schedules).
fn ticks_between(schedule: &cron::Schedule, from: DateTime<Utc>, to: DateTime<Utc>) -> u64 {
    schedule
        .after(&from.with_timezone(&beijing()))
        .take_while(|t| t.with_timezone(&Utc) < to)
        .take(1_000_000)
        .count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn backoff_doubles_and_is_bounded() {
        let b = Backoff {
            initial: Duration::from_secs(5),
            max: Duration::from_secs(60),
        };
        assert_eq!(b.delay(1), Duration::from_secs(5));
        assert_eq!(b.delay(2), Duration::from_secs(10));
        assert_eq!(b.delay(4), Duration::from_secs(40));
        assert_eq!(b.delay(5), Duration::from_secs(60));
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(60));
    }

    #[test]
    fn ticks_are_beijing_time_not_the_server_zone() {
        // 09:30 every day in Beijing is 01:30 UTC.
        let schedule = parse_cron("0 30 9 * * *").unwrap();
        let after = Utc.with_ymd_and_hms(2024, 5, 1, 0, 0, 0).unwrap();
        let tick = next_tick(&schedule, after).unwrap();
        assert_eq!(tick, Utc.with_ymd_and_hms(2024, 5, 1, 1, 30, 0).unwrap());
    }

    #[test]
    fn ticks_between_counts_the_skipped_ones() {
        let schedule = parse_cron("*/10 * * * * *").unwrap();
        let from = Utc.with_ymd_and_hms(2024, 5, 1, 0, 0, 0).unwrap();
        let to = from + chrono::Duration::seconds(35);
        // 10, 20, 30 came while busy.
        assert_eq!(ticks_between(&schedule, from, to), 3);
    }
}
