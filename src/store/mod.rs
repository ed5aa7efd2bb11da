//! The journal: everything that must survive a restart (leads, follow records, work items,
//! runs, calls, checkpoints, cron slot claims, dead letters, quarantine, `once` keys and
//! assignment counters). Depends on `lead` only. It must not run scripts, call vendors, or log
//! phone numbers or payloads (lead bodies are stored, never traced).
//!
//! ## One seam, two backends
//!
//! What the rest of leadrelay asks of a journal is split into roles (`roles.rs`): [`Intake`],
//! [`Checkpoints`], [`WorkQueue`], [`CallLog`], [`CronLedger`], [`Claims`], [`Maintenance`]
//! and the read side [`Queries`]. A backend implements all of them ([`Backend`]):
//!
//! - `sqlite/` — one SQLite file with one writer thread and group commit; the embedded
//!   default, for one node (see its module doc for durability and the schema).
//! - `postgres/` — one PostgreSQL database shared by several nodes.
//!
//! Consumers hold a [`Journal`], a cheap handle on the backend chosen by
//! [`JournalTarget`] (`[daemon] journal`), and call the roles through it; no database type
//! crosses this module's boundary. The values exchanged (`model.rs`, `types.rs`) and the rules
//! of retention and erasure (`retention.rs`) are the backends' common ground.

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::clock::Clock;
use types::{IntakeError, Via};

pub mod beside;
mod codec;
pub mod copy;
mod fingerprint;
mod model;
pub mod postgres;
pub mod retention;
mod roles;
pub mod sqlite;
pub mod target;
pub mod types;

pub use fingerprint::{fingerprint, is_volatile};
pub use model::{
    BackupReport, CallRow, CallStory, CheckpointRow, CronFire, CronRow, DeadLetter, DeadSelector,
    FollowStory, FollowSummary, Handoff, JournalStatus, LeadQuery, LeadStory, LeadSummary, NodeRow,
    PriorCall, QuarantineSummary, RecordedCall, RecordedLead, RecordedRun, RerouteSelector,
    RetentionStatus, RunRecord, RunRow, RunStart, RunStory, Work, WorkKind, WorkOutcome, WorkState,
    WorkStatus,
};
pub use retention::{Erasure, ForgetSelector, PruneReport, RetentionPolicy};
pub use roles::{
    Backend, CallLog, Checkpoints, Claims, CronLedger, Intake, Maintenance, Queries, WorkQueue,
    IDLE_LOOK,
};
pub use sqlite::{offline, JournalReader, DEFAULT_PATH, RECLAIM_PAGES};
pub use target::JournalTarget;

/// Why the journal failed. Messages say what and where; they never contain lead contents.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The file could not be opened or created.
    #[error("journal {path}: cannot open: {message}")]
    Open {
        /// The journal file.
        path: PathBuf,
        /// What SQLite or the OS said.
        message: String,
    },
    /// The file was written by a newer leadrelay.
    #[error(
        "journal {path} has schema version {found}, newer than this leadrelay knows ({known}); \
         upgrade leadrelay or point it at another journal"
    )]
    TooNew {
        /// The journal file.
        path: PathBuf,
        /// Its `user_version`.
        found: i64,
        /// The newest version this build knows.
        known: i64,
    },
    /// A read-only open found no journal schema.
    #[error(
        "{path} is not a leadrelay journal (no schema); is the daemon's `journal` path right?"
    )]
    NotAJournal {
        /// The file.
        path: PathBuf,
    },
    /// The database refused a statement or could not be reached.
    #[error("journal: {0}")]
    Database(String),
    /// A stored value could not be decoded.
    #[error("journal: unreadable stored value: {0}")]
    Corrupt(String),
    /// The thing asked for does not exist.
    #[error("journal: {0} not found")]
    NotFound(String),
    /// The request contradicts the stored state (e.g. finishing work that is not running).
    #[error("journal: {0}")]
    Conflict(String),
    /// The writer thread has stopped.
    #[error("journal writer has stopped")]
    Closed,
}
impl From<StoreError> for IntakeError {
    fn from(e: StoreError) -> Self {
        IntakeError(e.to_string())
    }
}

/// What an acknowledged commit survives (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous=NORMAL`: survives the process dying; may lose the last commits on power loss.
    #[default]
    Process,
    /// `synchronous=FULL`: every commit is fsynced before it is acknowledged.
    Power,
}

/// The default of `[daemon] backlog_limit`, and of [`JournalOptions::backlog_limit`]: one
/// number, so a journal opened without a config (tests, `demo`) sheds load where the daemon does.
/// Defined here because the journal sits below `config`; `DaemonSettings::default` reads it.
pub const DEFAULT_BACKLOG_LIMIT: u64 = 10_000;

/// Tuning of a [`Journal`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalOptions {
    /// Backlog (pending + running + retry) above which [`Journal::is_overloaded`] is true.
    pub backlog_limit: u64,
    /// What a commit survives.
    pub durability: Durability,
    /// Jobs that may wait for the writer; callers beyond it wait to enqueue.
    pub queue_capacity: usize,
    /// Most jobs sharing one commit.
    pub max_batch: usize,
    /// The clock of every timestamp the journal writes and of `once` expiries (the daemon's
    /// one clock; the system clock by default).
    pub clock: Clock,
    /// This node's name, recorded with its runs and claims (`[daemon] node`; the host name by
    /// default).
    pub node: String,
    /// How long a claim on work (or on a pull source) outlives its node's last heartbeat
    /// before another node may take it over (PostgreSQL only).
    pub lease: std::time::Duration,
    /// How long a finished run's outcome may wait to share the writer's next commit before it
    /// gets one of its own (SQLite only; zero: commit at once). The daemon uses
    /// [`FINISH_LINGER`].
    pub finish_linger: std::time::Duration,
}

/// The daemon's [`JournalOptions::finish_linger`]: at 10 leads a second or more, a run's
/// outcome rides along with the next lead's intake commit instead of taking a transaction of
/// its own. The only cost is that the outcome shows in the journal this much later at most.
pub const FINISH_LINGER: std::time::Duration = std::time::Duration::from_millis(100);

impl Default for JournalOptions {
    fn default() -> Self {
        JournalOptions {
            backlog_limit: DEFAULT_BACKLOG_LIMIT,
            durability: Durability::Process,
            queue_capacity: 1024,
            max_batch: 256,
            clock: Clock::system(),
            node: default_node_name(),
            lease: DEFAULT_LEASE,
            finish_linger: std::time::Duration::ZERO,
        }
    }
}
/// The journal the daemon writes: a cheap, cloneable handle on one backend. Every role is
/// called through it (`journal.accept_leads(…)`, with the role's trait in scope).
#[derive(Clone)]
pub struct Journal {
    backend: Arc<dyn Backend>,
}

impl Journal {
    /// Opens (creating if needed) the SQLite journal at `path`; see
    /// [`sqlite::SqliteJournal::open`].
    pub fn open(path: &Path, options: JournalOptions) -> Result<Journal, StoreError> {
        Ok(Journal::from_backend(sqlite::SqliteJournal::open(
            path, options,
        )?))
    }

    /// Opens the journal `target` names.
    pub async fn connect(
        target: &JournalTarget,
        options: JournalOptions,
    ) -> Result<Journal, StoreError> {
        match target {
            JournalTarget::Sqlite(path) => Journal::open(path, options),
            JournalTarget::Postgres(url) => Ok(Journal::from_backend(
                postgres::PgJournal::connect(url, options).await?,
            )),
        }
    }

    /// Wraps a backend.
    pub fn from_backend(backend: impl Backend + 'static) -> Journal {
        Journal {
            backend: Arc::new(backend),
        }
    }
}

impl Deref for Journal {
    type Target = dyn Backend;

    fn deref(&self) -> &Self::Target {
        self.backend.as_ref()
    }
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("location", &self.backend.location())
            .field("backlog", &self.backend.backlog())
            .finish()
    }
}

/// Opens the read side of the journal `target` names, for a process that does not write it
/// (the CLI next to a running daemon).
pub fn open_reader(target: &JournalTarget) -> Result<Box<dyn Queries>, StoreError> {
    match target {
        JournalTarget::Sqlite(path) => Ok(Box::new(JournalReader::open(path)?)),
        JournalTarget::Postgres(url) => Ok(Box::new(postgres::reader::PgReader::open(url)?)),
    }
}

/// The default of [`JournalOptions::lease`]: a killed node's work is taken over this long
/// after its last heartbeat (heartbeats come every quarter of it).
pub const DEFAULT_LEASE: std::time::Duration = std::time::Duration::from_secs(12);

/// The machine's host name, the default node name (`[daemon] node`).
pub fn default_node_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "leadrelay".to_string())
}

/// Unix milliseconds now on the system clock: for the CLI's one-shot writes next to a daemon
/// (`offline.rs`) and migration records. A [`Journal`] stamps with its own [`Clock`].
pub(crate) fn now_ms() -> i64 {
    Clock::system().unix_millis()
}

pub(crate) fn parse_via(s: &str) -> Result<Via, StoreError> {
    match s {
        "push" => Ok(Via::Push),
        "pull" => Ok(Via::Pull),
        "manual" => Ok(Via::Manual),
        other => Err(StoreError::Corrupt(format!("via `{other}`"))),
    }
}

pub(crate) fn parse_status(s: &str) -> Result<WorkStatus, StoreError> {
    WorkStatus::parse(s).ok_or_else(|| StoreError::Corrupt(format!("work status `{s}`")))
}
