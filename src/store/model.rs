//! Values the dispatcher exchanges with the journal (work items, run and call records, outcomes)
//! and the read models the CLI shows (lead summaries, a lead's story, status).

use serde::Serialize;
use serde_json::Value;

use crate::lead::Lead;

use super::retention::PruneReport;
use super::types::Arrival;

/// One item the dispatcher has to route: a new lead, a Waiqin follow record, or a fired cron slot.
#[derive(Debug, Clone, PartialEq)]
pub struct Work {
    /// The work id (pass it back to [`finish`](super::Journal::finish)).
    pub id: i64,
    /// What to route.
    pub kind: WorkKind,
    /// The account it arrived through.
    pub account: String,
    /// How many times it has been claimed, this claim included (1 on the first run). A claim
    /// interrupted by a crash counts.
    pub attempts: u32,
    /// Unix milliseconds when it was first received.
    pub first_seen_ms: i64,
    /// Calls that succeeded in earlier runs of this item, read in the claim's transaction (see
    /// [`succeeded_calls`](super::Journal::succeeded_calls)): a retried run answers them from
    /// here instead of sending them again. Empty on a first run.
    pub prior: Vec<PriorCall>,
}

/// What a work item carries.
#[derive(Debug, Clone, PartialEq)]
pub enum WorkKind {
    /// A lead for the lead handlers.
    Lead(Box<Lead>),
    /// A Waiqin follow record for the follow handlers.
    Follow {
        /// The account whose push carried it.
        account: String,
        /// Waiqin's `msgId`.
        msg_id: String,
        /// Waiqin's `dataId`.
        data_id: Option<String>,
        /// The decoded record.
        record: Value,
    },
    /// One fired slot of a scheduled job.
    Job {
        /// The schedule key: `script path::function::cron expression`.
        key: String,
        /// The slot (unix milliseconds).
        slot_ms: i64,
    },
}

/// One run of one handler, as the dispatcher reports it to [`finish`](super::Journal::finish).
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    /// The run's row, when [`record_call_blocking`](super::Journal::record_call_blocking)
    /// already wrote it (the run's first call did); `None` for a run that wrote no call as it
    /// went, whose row `finish` inserts.
    pub id: Option<i64>,
    /// The script's path (`scripts/route.rhai`).
    pub script: String,
    /// The handler function.
    pub handler: String,
    /// The script version the run was pinned to.
    pub version: String,
    /// Unix milliseconds when it started.
    pub started_ms: i64,
    /// How long it took.
    pub elapsed_ms: i64,
    /// `path:line:col: message` when the run failed.
    pub error: Option<String>,
    /// The reason given to `skip(reason)`, when the run skipped.
    pub skipped: Option<String>,
    /// Its vendor calls not yet in the journal, in order: replays, calls failed before they
    /// were sent, and any whose own write failed. Calls written as they returned are not
    /// repeated here.
    pub calls: Vec<CallRow>,
}

/// What the row of a run written at its first call holds
/// ([`record_call_blocking`](super::Journal::record_call_blocking)); the rest comes with
/// [`finish`](super::Journal::finish).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunStart {
    /// Which claim of the work item it belongs to.
    pub attempt: u32,
    /// The script's path.
    pub script: String,
    /// The handler function.
    pub handler: String,
    /// The script version.
    pub version: String,
    /// Unix milliseconds when it started.
    pub started_ms: i64,
}

/// Which run a call committed as it returns belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunRow {
    /// The run's first call: its row is inserted with the call.
    First(RunStart),
    /// The row an earlier call of the run inserted.
    Written(i64),
}

/// What [`fire_cron_slot`](super::Journal::fire_cron_slot) did with a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CronFire {
    /// Claimed now; the slot is this pending work item.
    Fired {
        /// The new work item.
        work_id: i64,
    },
    /// Claimed before (another tick, a reload, a restart, another node) or too old.
    Taken,
    /// Claimed and skipped: the job's previous slot is not finished (pending, running or
    /// waiting to retry). Counted in `status`.
    Overlap,
}
/// One vendor call made by a run.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRow {
    /// 0-based order within its run.
    pub seq: u32,
    /// The vendor (`xiaolanben`).
    pub vendor: String,
    /// The account used.
    pub account: String,
    /// The op (`import_customer`).
    pub op: String,
    /// [`fingerprint`](super::fingerprint) of the request.
    pub fingerprint: String,
    /// True when the vendor accepted it.
    pub ok: bool,
    /// The HTTP status of a failure, when an answer arrived.
    pub status: Option<u16>,
    /// The vendor's error code of a failure.
    pub code: Option<String>,
    /// The failure's message.
    pub message: Option<String>,
    /// The decoded answer of a success.
    pub response: Option<Value>,
    /// HTTP attempts the client made.
    pub attempts: u32,
    /// True when the answer came from the journal (a retried run repeating a succeeded call).
    pub replayed: bool,
}

/// How a work item ended this time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkOutcome {
    /// Every handler succeeded.
    Done,
    /// Try again at `at_ms` (unix milliseconds).
    Retry {
        /// When it becomes due again.
        at_ms: i64,
        /// Why it failed this time.
        reason: String,
    },
    /// Needs a human: becomes a dead letter.
    Dead {
        /// Why (shown by `leads show` and the dead-letter list).
        reason: String,
    },
    /// No live handler wanted it (`leads reroute` runs it again after a fix).
    Unrouted {
        /// Which handlers exist, so the reader sees what did not match.
        reason: String,
    },
    /// Every handler that ran chose `skip(reason)`.
    Skipped {
        /// The reasons given.
        reason: String,
    },
}

/// A call that succeeded in an earlier run of the same work item.
#[derive(Debug, Clone, PartialEq)]
pub struct PriorCall {
    /// The handler that made it.
    pub handler: String,
    /// Its order within that run.
    pub seq: u32,
    /// [`fingerprint`](super::fingerprint) of the request.
    pub fingerprint: String,
    /// The decoded answer.
    pub response: Value,
}

/// Which dead letters [`retry_dead`](super::Journal::retry_dead) puts back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadSelector {
    /// One dead letter, by its id.
    One(i64),
    /// Every dead letter not yet retried.
    All,
}

/// Which unrouted leads [`reroute`](super::Journal::reroute) routes again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RerouteSelector {
    /// One lead: its vendor lead id, or `#N` for the journal's id (as `leads show` takes).
    Lead(String),
    /// Every unrouted lead and follow record.
    Unrouted,
}

/// Where a work item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkStatus {
    /// Waiting for its first run.
    Pending,
    /// Claimed by the dispatcher.
    Running,
    /// Waiting for a retry.
    Retry,
    /// Routed.
    Done,
    /// A dead letter.
    Dead,
    /// No live handler wanted the lead; `leads reroute` runs it again after a fix.
    Unrouted,
    /// Every handler that ran chose `skip(reason)`.
    Skipped,
}

impl WorkStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [WorkStatus; 7] = [
        WorkStatus::Pending,
        WorkStatus::Running,
        WorkStatus::Retry,
        WorkStatus::Done,
        WorkStatus::Dead,
        WorkStatus::Unrouted,
        WorkStatus::Skipped,
    ];

    /// The name stored in the journal and shown by the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkStatus::Pending => "pending",
            WorkStatus::Running => "running",
            WorkStatus::Retry => "retry",
            WorkStatus::Done => "done",
            WorkStatus::Dead => "dead",
            WorkStatus::Unrouted => "unrouted",
            WorkStatus::Skipped => "skipped",
        }
    }

    /// The status named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// True for work still to do (counted in the backlog).
    pub fn in_backlog(self) -> bool {
        matches!(
            self,
            WorkStatus::Pending | WorkStatus::Running | WorkStatus::Retry
        )
    }
}

impl std::fmt::Display for WorkStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which leads [`list_leads`](super::JournalReader::list_leads) returns, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeadQuery {
    /// Only leads received at or after this (unix milliseconds).
    pub since_ms: Option<i64>,
    /// Only leads whose work is in this state.
    pub status: Option<WorkStatus>,
    /// Only leads of this vendor (`tencent`).
    pub vendor: Option<String>,
    /// Only leads of this account.
    pub account: Option<String>,
    /// At most this many (capped at [`LeadQuery::MAX_LIMIT`]).
    pub limit: usize,
}

impl LeadQuery {
    /// The most rows one query returns, so a listing never loads the whole journal.
    pub const MAX_LIMIT: usize = 10_000;
}

impl Default for LeadQuery {
    fn default() -> Self {
        LeadQuery {
            since_ms: None,
            status: None,
            vendor: None,
            account: None,
            limit: 100,
        }
    }
}

/// One line of `leads list`. Carries no contact details.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeadSummary {
    /// The journal id.
    pub id: i64,
    /// The vendor.
    pub vendor: String,
    /// The account.
    pub account: String,
    /// The vendor's lead id.
    pub vendor_lead_id: String,
    /// The lead kind (`form`).
    pub kind: String,
    /// Unix milliseconds when received.
    pub received_ms: i64,
    /// Where its work is.
    pub status: WorkStatus,
    /// Claims so far.
    pub attempts: u32,
    /// Why it is waiting for a retry or dead.
    pub reason: Option<String>,
}

/// Where a work item is now, with what that state needs to be understood.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum WorkState {
    /// Waiting for its first run (or again after a crash or a manual retry).
    Pending,
    /// Being routed now.
    Running,
    /// Waiting to be retried.
    Retry {
        /// When (unix milliseconds).
        at_ms: i64,
        /// Why the last attempt failed.
        reason: String,
    },
    /// Routed.
    Done,
    /// A dead letter.
    Dead {
        /// Why.
        reason: String,
    },
    /// No live handler wanted it.
    Unrouted {
        /// Which handlers existed when it was tried.
        reason: String,
    },
    /// Every handler that ran chose `skip(reason)`.
    Skipped {
        /// The reasons given.
        reason: String,
    },
}

impl WorkState {
    /// The state of a work item stored as `status`, due at `due_ms`, with `reason`.
    pub(crate) fn from_stored(status: WorkStatus, due_ms: i64, reason: Option<String>) -> Self {
        let reason = reason.unwrap_or_default();
        match status {
            WorkStatus::Pending => WorkState::Pending,
            WorkStatus::Running => WorkState::Running,
            WorkStatus::Retry => WorkState::Retry {
                at_ms: due_ms,
                reason,
            },
            WorkStatus::Done => WorkState::Done,
            WorkStatus::Dead => WorkState::Dead { reason },
            WorkStatus::Unrouted => WorkState::Unrouted { reason },
            WorkStatus::Skipped => WorkState::Skipped { reason },
        }
    }
}

/// Everything the journal knows about one lead: `leads show`.
#[derive(Debug, Clone, PartialEq)]
pub struct LeadStory {
    /// The journal id.
    pub id: i64,
    /// The lead as stored.
    pub lead: Lead,
    /// How and when it arrived.
    pub arrival: Arrival,
    /// Its work item.
    pub work_id: i64,
    /// Claims so far.
    pub attempts: u32,
    /// Every run, oldest first.
    pub runs: Vec<RunStory>,
    /// Where it is now.
    pub state: WorkState,
}

/// One run in a [`LeadStory`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunStory {
    /// Which claim of the work item it belonged to.
    pub attempt: u32,
    /// The script's path.
    pub script: String,
    /// The handler.
    pub handler: String,
    /// The script version.
    pub version: String,
    /// `running`, `ok`, `failed`, `skipped`, or `interrupted` (the daemon stopped during it).
    pub status: String,
    /// `path:line:col: message` of a failure.
    pub error: Option<String>,
    /// The reason given to `skip(reason)`.
    pub note: Option<String>,
    /// Unix milliseconds when it started.
    pub started_ms: i64,
    /// How long it took.
    pub elapsed_ms: i64,
    /// The node that made it, on a journal several nodes share (`None` on SQLite).
    pub node: Option<String>,
    /// Its vendor calls, in order.
    pub calls: Vec<CallStory>,
}

/// One call in a [`RunStory`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallStory {
    /// Order within the run.
    pub seq: u32,
    /// The vendor.
    pub vendor: String,
    /// The account.
    pub account: String,
    /// The op.
    pub op: String,
    /// True when the vendor accepted it.
    pub ok: bool,
    /// HTTP status of a failure.
    pub status: Option<u16>,
    /// The vendor's error code.
    pub code: Option<String>,
    /// The failure's message.
    pub message: Option<String>,
    /// HTTP attempts.
    pub attempts: u32,
    /// True when answered from the journal.
    pub replayed: bool,
    /// The answer, shortened to [`CallStory::SUMMARY_CHARS`] characters.
    pub response_summary: Option<String>,
}

impl CallStory {
    /// How much of an answer a story shows.
    pub const SUMMARY_CHARS: usize = 200;

    /// The first [`CallStory::SUMMARY_CHARS`] characters of an answer, with `…` when cut.
    pub(crate) fn summarize(text: &str) -> String {
        match text.char_indices().nth(CallStory::SUMMARY_CHARS) {
            Some((cut, _)) => format!("{}…", &text[..cut]),
            None => text.to_string(),
        }
    }
}

/// One open dead letter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadLetter {
    /// The dead letter id (for `retry_dead`).
    pub id: i64,
    /// Its work item.
    pub work_id: i64,
    /// `lead`, `follow` or `job`.
    pub kind: String,
    /// The account (empty for a job).
    pub account: String,
    /// The vendor lead id, Waiqin msgId, or a job's schedule key.
    pub item: String,
    /// A job's slot (unix milliseconds).
    pub slot_ms: Option<i64>,
    /// Why it died.
    pub reason: String,
    /// Claims it took.
    pub attempts: u32,
    /// Unix milliseconds when it died.
    pub created_ms: i64,
}

/// One quarantined payload, without its body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuarantineSummary {
    /// The quarantine id.
    pub id: i64,
    /// The account.
    pub account: String,
    /// The push path.
    pub endpoint: String,
    /// Why it could not be parsed.
    pub reason: String,
    /// Its Content-Type.
    pub content_type: Option<String>,
    /// Body size in bytes.
    pub bytes: usize,
    /// Unix milliseconds when it arrived.
    pub received_ms: i64,
}

/// One pull position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckpointRow {
    /// The account.
    pub account: String,
    /// The endpoint.
    pub endpoint: String,
    /// The opaque position.
    pub position: String,
    /// Unix milliseconds when it last advanced.
    pub updated_ms: i64,
}

/// One cron schedule's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CronRow {
    /// The schedule key.
    pub schedule_key: String,
    /// The last claimed slot (unix milliseconds).
    pub last_slot_ms: Option<i64>,
    /// When it was claimed.
    pub last_claimed_ms: Option<i64>,
    /// Slots claimed in all.
    pub claims: u64,
    /// Slots skipped by the overlap policy.
    pub skips: u64,
    /// Why the last skip happened.
    pub last_skip_reason: Option<String>,
}

/// The journal at a glance: `leadrelay status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JournalStatus {
    /// Schema version.
    pub schema_version: i64,
    /// Leads stored.
    pub leads: u64,
    /// Follow records stored.
    pub follows: u64,
    /// Work items per status, in [`WorkStatus::ALL`] order (zero counts included).
    pub work: Vec<(WorkStatus, u64)>,
    /// Dead letters not yet retried.
    pub dead_letters: u64,
    /// Quarantined payloads.
    pub quarantined: u64,
    /// Pull positions.
    pub checkpoints: Vec<CheckpointRow>,
    /// Cron schedules.
    pub cron: Vec<CronRow>,
    /// The nodes sharing the journal, by name (empty on SQLite: one node).
    pub nodes: Vec<NodeRow>,
}

/// One node of several sharing a PostgreSQL journal, as its heartbeat last wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeRow {
    /// `[daemon] node`.
    pub name: String,
    /// When its current process started (unix ms).
    pub started_ms: i64,
    /// Its last heartbeat (unix ms).
    pub heartbeat_ms: i64,
    /// Its leadrelay version.
    pub leadrelay: String,
    /// Its live scripts, `path@version, …`.
    pub scripts: String,
    /// Its open circuit breakers.
    pub open_breakers: String,
}

impl JournalStatus {
    /// Work items in state `status`.
    pub fn count(&self, status: WorkStatus) -> u64 {
        self.work
            .iter()
            .filter(|(s, _)| *s == status)
            .map(|(_, n)| n)
            .sum()
    }

    /// Work still to do (pending + running + retry).
    pub fn backlog(&self) -> u64 {
        self.work
            .iter()
            .filter(|(s, _)| s.in_backlog())
            .map(|(_, n)| n)
            .sum()
    }
}

/// The journal's size and what retention will do next, for `status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionStatus {
    /// The database file, in bytes.
    pub file_bytes: u64,
    /// The WAL beside it, in bytes.
    pub wal_bytes: u64,
    /// Free pages inside the file (reclaimed by the next prune, or reused).
    pub free_bytes: u64,
    /// When the oldest lead still stored arrived.
    pub oldest_lead_ms: Option<i64>,
    /// Leads whose personal data was removed.
    pub redacted_leads: u64,
    /// Erasures recorded (`leads forget`).
    pub erasures: u64,
    /// When the last erasure was made.
    pub last_erasure_ms: Option<i64>,
    /// What a prune now would do.
    pub next_prune: PruneReport,
}

/// What `journal backup` wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReport {
    /// The copy's size in bytes.
    pub bytes: u64,
    /// Leads in the copy.
    pub leads: u64,
}

/// A lead as `preview` replays it: its body and what the live scripts did with it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedLead {
    /// The journal id.
    pub id: i64,
    /// The lead as stored.
    pub lead: crate::lead::Lead,
    /// Where its work ended (or waits for a retry).
    pub status: WorkStatus,
    /// Why it is unrouted, skipped, dead or waiting.
    pub reason: Option<String>,
    /// The runs of its last attempt, in order.
    pub runs: Vec<RecordedRun>,
}

/// One run of a [`RecordedLead`]'s last attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRun {
    /// The script's path.
    pub script: String,
    /// The handler.
    pub handler: String,
    /// `ok`, `failed`, `skipped`, `interrupted` or `running`.
    pub status: String,
    /// `path:line:col: message` of a failure.
    pub error: Option<String>,
    /// Its calls, in order.
    pub calls: Vec<RecordedCall>,
}

/// One call of a [`RecordedRun`]: the journal keeps its fingerprint, never the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedCall {
    /// The vendor.
    pub vendor: String,
    /// The account.
    pub account: String,
    /// The op.
    pub op: String,
    /// [`super::fingerprint`] of the payload sent.
    pub fingerprint: String,
    /// True when the vendor accepted it.
    pub ok: bool,
}

/// One line of `follows list`. Carries no contact details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowSummary {
    /// The journal id.
    pub id: i64,
    /// The Waiqin account whose push carried it.
    pub account: String,
    /// Waiqin's `msgId`.
    pub msg_id: String,
    /// Waiqin's `dataId`.
    pub data_id: Option<String>,
    /// Unix milliseconds when received.
    pub received_ms: i64,
    /// Where its work is.
    pub status: WorkStatus,
    /// Why it is waiting, dead, unrouted or skipped.
    pub reason: Option<String>,
}

/// Everything the journal knows about one follow record: `follows show`.
#[derive(Debug, Clone, PartialEq)]
pub struct FollowStory {
    /// The journal id.
    pub id: i64,
    /// The Waiqin account whose push carried it.
    pub account: String,
    /// Waiqin's `msgId`.
    pub msg_id: String,
    /// Waiqin's `dataId`.
    pub data_id: Option<String>,
    /// The decoded record (`{}` once redacted).
    pub record: serde_json::Value,
    /// How and when it arrived.
    pub arrival: Arrival,
    /// Its work item.
    pub work_id: i64,
    /// Claims so far.
    pub attempts: u32,
    /// Every run, oldest first.
    pub runs: Vec<RunStory>,
    /// Where it is now.
    pub state: WorkState,
}

/// New work handed from the intake straight to this node's dispatcher, and the dispatcher's
/// room for work in flight. A journal that can (SQLite, where this node is the only writer)
/// commits a new lead as already claimed when the dispatcher has room and nothing older is
/// waiting, and sends it here after the commit: the lead skips the claim's transaction and the
/// hops to and from the writer. Everything else is claimed as before, within the same room.
#[derive(Debug, Clone)]
pub struct Handoff {
    room: std::sync::Arc<std::sync::atomic::AtomicI64>,
    sender: tokio::sync::mpsc::UnboundedSender<Work>,
}

impl Handoff {
    /// A handoff for a dispatcher that runs at most `capacity` items at once, and the receiving
    /// end the dispatcher reads handed work from.
    pub fn new(capacity: usize) -> (Handoff, tokio::sync::mpsc::UnboundedReceiver<Work>) {
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        let room = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(capacity as i64));
        (Handoff { room, sender }, receiver)
    }

    /// How many more items the dispatcher may start.
    pub fn room(&self) -> usize {
        self.room.load(std::sync::atomic::Ordering::SeqCst).max(0) as usize
    }

    /// Takes one place for an item to hand over; false when there is none.
    pub fn reserve(&self) -> bool {
        use std::sync::atomic::Ordering;
        self.room
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |r| {
                (r > 0).then(|| r - 1)
            })
            .is_ok()
    }

    /// Takes `n` places for claimed items.
    pub fn take(&self, n: usize) {
        self.room
            .fetch_sub(n as i64, std::sync::atomic::Ordering::SeqCst);
    }

    /// Gives `n` places back (items finished, or reserved for a commit that failed).
    pub fn release(&self, n: usize) {
        self.room
            .fetch_add(n as i64, std::sync::atomic::Ordering::SeqCst);
    }

    /// Hands over committed work. False when the dispatcher has stopped; the item stays
    /// claimed in the journal and is pending again after a restart, like any item in flight.
    pub fn send(&self, work: Work) -> bool {
        self.sender.send(work).is_ok()
    }
}
