//! The journal's roles: what the daemon, the CLI and the console ask of a journal, one trait a
//! role, so a backend (`sqlite/`, `postgres/`) is one implementation of each and nothing above
//! `store` names a database type.
//!
//! Every write method resolves only after the backend has committed it: that is the promise
//! the intake's acknowledgement and the dispatcher's "call sent, now tell the script" rest on.
//! Methods that are async run on the runtime; the `*_blocking` ones are for the blocking
//! threads scripts run on (never call them from an async task).

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;

use super::model::{
    BackupReport, CallRow, CronFire, DeadLetter, DeadSelector, FollowStory, FollowSummary, Handoff,
    JournalStatus, LeadQuery, LeadStory, LeadSummary, PriorCall, QuarantineSummary, RecordedLead,
    RerouteSelector, RetentionStatus, RunRecord, RunRow, RunStory, Work, WorkOutcome, WorkState,
};
use super::retention::{PruneReport, RetentionPolicy};
use super::types::{
    Accepted, Arrival, AssignmentStore, Checkpoint, FollowArrival, IntakeError, OnceStore,
    Quarantined,
};
use super::StoreError;
use crate::clock::Clock;
use crate::lead::Lead;

/// Taking what arrives: leads (with the pull checkpoint that produced them), follow records,
/// and what could not be parsed (quarantine).
#[async_trait]
pub trait Intake: Send + Sync {
    /// Commits `leads` (new ones get one pending work item each; a lead already stored for the
    /// same account and vendor id is a duplicate) and, in the same transaction, `checkpoint`.
    /// Returns, per lead in order, whether it was new. Resolves only after COMMIT.
    async fn accept_leads(
        &self,
        leads: Vec<Lead>,
        arrival: Arrival,
        checkpoint: Option<Checkpoint>,
    ) -> Result<Vec<Accepted>, IntakeError>;

    /// Commits a follow record (unique per account and msgId) and its work item.
    async fn accept_follow(&self, follow: FollowArrival) -> Result<Accepted, IntakeError>;

    /// Keeps a body that could not be parsed, with the reason; returns its id.
    async fn quarantine(&self, item: Quarantined) -> Result<i64, IntakeError>;

    /// Work still to do (pending + running + retry), as this node last saw it.
    fn backlog(&self) -> u64;

    /// Whether the backlog is over the limit: pushes answer 503 instead of journaling.
    fn is_overloaded(&self) -> bool;
}

/// Pull positions, per account and endpoint (written with the leads, see [`Intake`]).
#[async_trait]
pub trait Checkpoints: Send + Sync {
    /// The position the last committed pull of `endpoint` for `account` reached.
    async fn checkpoint(
        &self,
        account: &str,
        endpoint: &str,
    ) -> Result<Option<String>, IntakeError>;

    /// Whether this node may pull `endpoint` for `account` now, for `ttl`: one node at a time
    /// pulls a source. A journal only one node uses always says yes.
    async fn lease_source(
        &self,
        _account: &str,
        _endpoint: &str,
        _ttl: std::time::Duration,
    ) -> Result<bool, StoreError> {
        Ok(true)
    }
}

/// Longest a dispatcher waits between claims when nothing wakes it: work that another process
/// added without waking this one (`leadrelay dead retry` beside a daemon on a SQLite journal)
/// is found within this. A journal may answer an idle claim from memory in between.
pub const IDLE_LOOK: std::time::Duration = std::time::Duration::from_secs(1);

/// The work queue: claiming due work, finishing it, and the operator's ways to put work back.
#[async_trait]
pub trait WorkQueue: Send + Sync {
    /// Claims up to `limit` items due at `now_ms` (pending, or retry whose time has come) for
    /// this node, with the calls earlier runs of each already made.
    async fn claim_due(&self, now_ms: i64, limit: usize) -> Result<Vec<Work>, StoreError>;

    /// When, as of the last [`claim_due`](Self::claim_due), work that was not due then becomes
    /// due (unix milliseconds): the earliest retry and, where nodes share the journal, the
    /// earliest lease to lapse. `None` when nothing waits on time. The dispatcher sleeps until
    /// then instead of polling.
    fn next_due_ms(&self) -> Option<i64>;

    /// Completes a claimed item: its runs and their calls, and its new state.
    async fn finish(
        &self,
        work_id: i64,
        runs: Vec<RunRecord>,
        outcome: WorkOutcome,
    ) -> Result<(), StoreError>;

    /// The calls that succeeded in earlier runs of `work_id`, oldest first.
    async fn succeeded_calls(&self, work_id: i64) -> Result<Vec<PriorCall>, StoreError>;

    /// Puts dead letters back to pending; returns how many.
    async fn retry_dead(&self, which: DeadSelector) -> Result<usize, StoreError>;

    /// Makes retries waiting on `account` (its breaker just closed) due now; returns how many.
    async fn wake_retries_waiting_on(&self, account: &str) -> Result<usize, StoreError>;

    /// Puts unrouted (or one lead's) work back to pending for another try; returns how many.
    async fn reroute(&self, which: RerouteSelector) -> Result<usize, StoreError>;
}

/// Calls, journaled as they return (before the script sees the answer).
pub trait CallLog: Send + Sync {
    /// Commits one sent call of a running work item (its run's row too, on the run's first
    /// call); returns the call's id. For blocking threads.
    fn record_call_blocking(
        &self,
        work_id: i64,
        run: RunRow,
        call: CallRow,
    ) -> Result<i64, StoreError>;
}

/// Cron slots: each fired once, globally.
#[async_trait]
pub trait CronLedger: Send + Sync {
    /// Claims a slot without work (a job whose run is not journaled). True if this caller won.
    async fn claim_cron_slot(&self, schedule_key: &str, slot_ms: i64) -> Result<bool, StoreError>;

    /// Claims a slot and inserts its work item in one transaction.
    async fn fire_cron_slot(
        &self,
        schedule_key: &str,
        slot_ms: i64,
    ) -> Result<CronFire, StoreError>;

    /// The newest slot claimed for a schedule.
    async fn last_cron_slot(&self, schedule_key: &str) -> Result<Option<i64>, StoreError>;

    /// Records that a slot was skipped, and why.
    async fn record_cron_skip(
        &self,
        schedule_key: &str,
        slot_ms: i64,
        reason: &str,
    ) -> Result<(), StoreError>;
}

/// What scripts claim through the stdlib: `once(key)` keys and assignment counters, global to
/// every node sharing the journal.
#[async_trait]
pub trait Claims: Send + Sync {
    /// `once(key, ttl)` keys kept in the journal, as the engine's [`OnceStore`].
    fn once_keys(&self) -> Arc<dyn OnceStore>;

    /// Round-robin counters kept in the journal, as the engine's [`AssignmentStore`].
    fn assignments(&self) -> Arc<dyn AssignmentStore>;

    /// Drops expired `once` keys; returns how many.
    async fn sweep_once_keys(&self) -> Result<usize, StoreError>;
}

/// Keeping the journal healthy: probes, retention, space, backups.
#[async_trait]
pub trait Maintenance: Send + Sync {
    /// Resolves once a trivial write has committed (the readiness probe).
    async fn probe_writable(&self) -> Result<(), StoreError>;

    /// One small prune step: at most `limit` rows redacted or deleted.
    async fn prune_step(
        &self,
        policy: RetentionPolicy,
        now_ms: i64,
        limit: usize,
    ) -> Result<PruneReport, StoreError>;

    /// Hands back up to `pages` free pages; returns how many free pages remain.
    async fn reclaim_step(&self, pages: u32) -> Result<u64, StoreError>;

    /// Returns all free space to the operating system.
    async fn reclaim(&self) -> Result<(), StoreError>;

    /// Prunes until nothing is due: steps of `batch` rows, each followed by a pause as long as
    /// the step took, so the writer spends at most about half its time pruning and intake
    /// jobs always get the next commit. Then reclaims the freed pages in steps of
    /// [`RECLAIM_PAGES`] and truncates the WAL (so old page images leave the disk). Returns
    /// what was done.
    async fn prune(
        &self,
        policy: RetentionPolicy,
        now_ms: i64,
        batch: usize,
    ) -> Result<PruneReport, StoreError> {
        let mut total = PruneReport::default();
        loop {
            let started = std::time::Instant::now();
            let step = self.prune_step(policy, now_ms, batch.max(1)).await?;
            total.add(step);
            if step.total() < batch.max(1) as u64 {
                break;
            }
            tokio::time::sleep(started.elapsed()).await;
        }
        if total.total() == 0 {
            return Ok(total);
        }
        self.reclaim().await?;
        tracing::info!(
            deleted_leads = total.deleted_leads,
            deleted_follows = total.deleted_follows,
            deleted_jobs = total.deleted_jobs,
            redacted_leads = total.redacted_leads,
            redacted_follows = total.redacted_follows,
            "journal: pruned"
        );
        Ok(total)
    }
}

/// Reading the journal for people: the CLI, the console, `preview`. Synchronous; the daemon
/// calls it from blocking threads.
pub trait Queries: Send + Sync {
    /// Where the journal is, for messages: a file path, or a PostgreSQL URL without password.
    fn location(&self) -> String;
    /// Leads, newest first, filtered by `query`.
    fn list_leads(&self, query: &LeadQuery) -> Result<Vec<LeadSummary>, StoreError>;
    /// One lead's whole story, by `#id`, vendor lead id or phone.
    fn lead_story(&self, id: &str) -> Result<Option<LeadStory>, StoreError>;
    /// Every dead letter.
    fn dead_letters(&self) -> Result<Vec<DeadLetter>, StoreError>;
    /// Every quarantined body (summaries).
    fn quarantined(&self) -> Result<Vec<QuarantineSummary>, StoreError>;
    /// One quarantined body.
    fn quarantine_item(&self, id: i64) -> Result<Option<Quarantined>, StoreError>;
    /// Counts by state, checkpoints and cron slots.
    fn status(&self) -> Result<JournalStatus, StoreError>;
    /// What retention would do now.
    fn retention_status(
        &self,
        policy: RetentionPolicy,
        now_ms: i64,
    ) -> Result<RetentionStatus, StoreError>;
    /// Leads received and finished per bucket since `since_ms`.
    fn activity(&self, since_ms: i64, bucket_ms: i64) -> Result<Vec<(i64, u64, u64)>, StoreError>;
    /// Leads whose id, vendor id or phone matches `text`.
    fn search_leads(&self, text: &str, limit: usize) -> Result<Vec<LeadSummary>, StoreError>;
    /// Recent leads with their runs and calls, for `preview`.
    fn recorded_leads(
        &self,
        since_ms: Option<i64>,
        limit: usize,
    ) -> Result<Vec<RecordedLead>, StoreError>;
    /// A work item's state and runs.
    fn work_story(&self, work_id: i64) -> Result<Option<(WorkState, Vec<RunStory>)>, StoreError>;
    /// Follow records, newest first.
    fn list_follows(
        &self,
        since_ms: Option<i64>,
        account: Option<&str>,
        limit: usize,
    ) -> Result<Vec<FollowSummary>, StoreError>;
    /// One follow record's story.
    fn follow_story(&self, id: &str) -> Result<Option<FollowStory>, StoreError>;
    /// The schema migrations applied, oldest first.
    fn migrations(&self) -> Result<Vec<(i64, String)>, StoreError>;
    /// An online copy of the journal at `dest` (a backend without file copies says how to
    /// back it up instead).
    fn backup_to(&self, dest: &Path) -> Result<BackupReport, StoreError>;
}

/// A whole journal backend: every role, plus what the daemon needs to know about it.
pub trait Backend:
    Intake + Checkpoints + WorkQueue + CallLog + CronLedger + Claims + Maintenance + Send + Sync
{
    /// Where the journal is, for messages: a file path, or a PostgreSQL URL without password.
    fn location(&self) -> String;

    /// The clock every timestamp the journal writes comes from.
    fn clock(&self) -> Clock;

    /// The read side, on its own connection(s).
    fn reader(&self) -> &dyn Queries;

    /// Hands the backend the dispatcher's wake-up: a backend other nodes write to (PostgreSQL)
    /// rings it when they add work. A journal only this node writes needs no help.
    fn set_waker(&self, _wake: Arc<tokio::sync::Notify>) {}

    /// Hands the backend the dispatcher's [`Handoff`]: a backend that can commit new work as
    /// already claimed sends it there. Others ignore it; their work is claimed.
    fn set_handoff(&self, _handoff: Handoff) {}

    /// What this node runs, for the other nodes and `status`: its live script versions and its
    /// open circuit breakers, one line each. A journal only this node uses keeps nothing.
    fn report_node(&self, _scripts: String, _open_breakers: String) {}
}
