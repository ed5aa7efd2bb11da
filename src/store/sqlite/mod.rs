//! The journal: one SQLite file (WAL) holding leads, follow records, work items, runs, calls,
//! checkpoints, cron slot claims, dead letters, quarantine and the stdlib's assignment counters.
//! Depends on `lead` only. It must not run scripts, call vendors, or log phone numbers or
//! payloads (lead bodies are stored, never traced).
//!
//! ## One writer, group commit
//!
//! All writes go through one thread that owns the write connection (see `writer.rs`). Callers
//! send a job on a bounded channel and wait for its answer, which comes only after the
//! transaction holding that job has committed: [`SqliteJournal::accept_leads`] resolving is the
//! promise that the leads (and the checkpoint passed with them) are in the journal. Jobs that
//! queue up while a commit is in progress share the next commit, so durability costs one commit
//! per batch, not per lead. A failing job is rolled back to its own savepoint and does not
//! affect the others in its batch; a lead's intake, which can fail only with the database
//! itself, skips the savepoint and fails its batch instead (a savepoint copies every page the
//! batch already changed). A run's outcome ([`SqliteJournal::finish`]) does not wake the
//! writer: in the daemon it waits up to [`FINISH_LINGER`](crate::store::FINISH_LINGER) beside
//! the channel and rides along with the next batch, usually the next lead's intake, so a lead
//! costs two commits, not three, even when nothing else could share them. A blocking caller
//! (the thread running a script, recording its call) commits its own job on the shared
//! connection while the writer thread is idle rather than wake it. The bounded channel
//! is the only queue: when the writer falls behind, callers wait (and pushes see
//! [`SqliteJournal::is_overloaded`]), memory does not grow.
//!
//! ## Durability
//!
//! The default, [`Durability::Process`], is `journal_mode=WAL` with `synchronous=NORMAL`: a
//! commit is written to the WAL (handed to the OS) before it is acknowledged, but the WAL is
//! fsynced only at checkpoints. Every acknowledged lead therefore survives the daemon crashing,
//! being killed or redeployed — the failures a relay actually sees — and the database is never
//! corrupted; an OS crash or power loss may lose the last commits before the next checkpoint.
//! We chose this because the sources are at-least-once anyway (pulls overlap their windows and
//! platforms re-push unacknowledged webhooks; duplicates are dropped here), so the rare power
//! loss costs a re-delivery, while an fsync per batch costs milliseconds on ordinary disks.
//! [`Durability::Power`] (`synchronous=FULL`) fsyncs every commit for deployments that want it;
//! group commit keeps that to one fsync per batch.
//!
//! ## Schema
//!
//! Versioned migrations in `schema.rs` (`PRAGMA user_version` + `schema_migrations`; a newer
//! file is refused). Tables: `leads` (unique per account + vendor lead id, full JSON body),
//! `follows` (unique per account + msgId), `work` (one item per new lead, follow record or fired
//! cron slot: pending → running → done | retry | dead | unrouted | skipped), `runs`, `calls`,
//! `checkpoints` (per account and endpoint), `cron_claims` + `cron_state`, `dead_letters`,
//! `quarantine`, `assignments`, `once_keys`, and since migration 3 `erasures` plus
//! `phone_hash`/`redacted_ms` on leads and follow records.
//!
//! ## Retention and personal data
//!
//! `retention.rs` owns what is final, the redacted form, pruning and erasure on request (see its
//! doc). Pruning runs on the writer as small jobs ([`SqliteJournal::prune_step`], driven by
//! `daemon::retention`), so it shares commits with intake instead of holding the lock; erasure
//! runs from the CLI like `dead retry` (`offline.rs`). The write connections run with
//! `secure_delete=ON` so rewritten and deleted rows leave no old bytes in the file, new
//! journals use `auto_vacuum=INCREMENTAL` so pruned space is returned in small steps
//! ([`SqliteJournal::reclaim`]), and [`JournalReader::backup_to`] makes online copies.
//!
//! ## Calls are journaled as they return
//!
//! A run's calls are not held until the run ends: the daemon commits each sent call with
//! [`SqliteJournal::record_call_blocking`] before the script sees its answer (the run's first call
//! also writes the run's row, as `running`), and [`SqliteJournal::finish`] completes the rows and
//! adds what had no reason to be written earlier (replays, calls refused before sending, runs
//! that made no call). Each of these is a share of a group commit, not a transaction of its
//! own, and a lead that makes no call costs no more than before. After a crash, runs still
//! `running` become `interrupted`; their succeeded calls are in [`SqliteJournal::succeeded_calls`],
//! so the retry replays them instead of sending them again.
//!
//! ## Cron slots and once keys
//!
//! [`SqliteJournal::fire_cron_slot`] claims a slot and inserts its work item in one transaction, so a
//! slot is neither fired twice nor lost between its claim and its run. `once(key, ttl)` is one
//! conditional upsert on `once_keys` ([`JournalOnce`]); the key remembers the work item that
//! claimed it, which gets `true` again when it is retried.
//!
//! ## Reading
//!
//! Queries for the CLI go through a [`JournalReader`] with its own read-only connection, so
//! they run while the daemon writes ([`SqliteJournal::reader`] in the daemon,
//! [`JournalReader::open`] from another process). Reads the daemon's async paths need
//! ([`SqliteJournal::checkpoint`], [`SqliteJournal::succeeded_calls`]) go through the writer, so they see
//! every earlier write and never block a runtime thread.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::{mpsc, oneshot};

use super::model::{
    CallRow, CronFire, DeadSelector, Handoff, PriorCall, RerouteSelector, RunRecord, RunRow,
    RunStart, Work, WorkKind, WorkOutcome, WorkStatus,
};
use super::retention::{PruneReport, RetentionPolicy};
use super::roles::{
    Backend, CallLog, Checkpoints, Claims, CronLedger, Intake, Maintenance, Queries, WorkQueue,
    IDLE_LOOK,
};
use super::types::{
    Accepted, Arrival, AssignmentStore, Checkpoint, FollowArrival, IntakeError, MemoryAssignments,
    OnceError, OnceStore, Quarantined, Via,
};
use super::{JournalOptions, StoreError};
use crate::clock::Clock;
use crate::lead::Lead;

pub(crate) mod copy;
pub mod offline;
pub mod probe;
mod reader;
mod retention;
mod schema;
mod writer;

pub use reader::JournalReader;
use writer::{Ctx, Job, Queued, Writer};

/// Where the journal lives when the config names no path.
pub const DEFAULT_PATH: &str = "./leadrelay.db";

/// Free pages one reclaim step hands back (4 KiB each): small enough that the step is a
/// fraction of a millisecond of the writer's time.
pub const RECLAIM_PAGES: u32 = 256;

/// How long claimed cron slots are remembered one by one; older slots are refused wholesale.
const CRON_RETENTION_MS: i64 = 7 * 24 * 3600 * 1000;

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}

/// The durable journal. Cheap to clone (all clones share one writer); `Send + Sync`.
#[derive(Clone)]
pub struct SqliteJournal {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    sender: Option<mpsc::Sender<Queued>>,
    // The write connection, shared with the writer thread (see `write_blocking`) and holding
    // the finishes that wait to ride along with its next batch (see `write_deferred`).
    writer: Arc<Writer>,
    finish_linger: Duration,
    writer_thread: Mutex<Option<JoinHandle<()>>>,
    backlog: Arc<AtomicI64>,
    backlog_limit: u64,
    // The earliest retry's time as of the last claim (`i64::MAX`: none).
    next_due_ms: Arc<AtomicI64>,
    // What lets a claim that would find nothing be answered without a transaction: every
    // writer job that may add due work counts itself here as it runs on the writer thread;
    // a claim that came back short notes the count it saw (`u64::MAX`: look again) and when.
    writes: Arc<AtomicU64>,
    seen_writes: Arc<AtomicU64>,
    looked_at: Mutex<Instant>,
    handoff: std::sync::OnceLock<Handoff>,
    reader: JournalReader,
    clock: Clock,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the channel lets the writer finish what is queued and close the file; waiting
        // for it means a reopen of the same path sees every committed write.
        self.sender.take();
        if let Some(handle) = self.writer_thread.lock().ok().and_then(|mut h| h.take()) {
            let _ = handle.join();
        }
    }
}

impl std::fmt::Debug for SqliteJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteJournal")
            .field("path", &self.inner.path)
            .field("backlog", &self.backlog())
            .finish()
    }
}

use super::codec::{decode_claimed, decode_prior, serialize_response, ClaimedRow, PriorRow};
pub(crate) use super::{now_ms, parse_status, parse_via};

fn via_str(via: Via) -> &'static str {
    via.as_str()
}

/// The calls that succeeded in earlier runs of a work item (replays excluded: they repeat an
/// original), oldest first; on the writer's connection, so they include every committed call.
fn prior_rows(conn: &Connection, work_id: i64) -> Result<Vec<PriorRow>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT r.handler, c.seq, c.fingerprint, c.response
         FROM calls c JOIN runs r ON r.id = c.run_id
         WHERE r.work_id = ?1 AND c.ok = 1 AND c.replayed = 0
         ORDER BY r.id, c.seq",
    )?;
    let rows = stmt.query_map([work_id], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Statements the writer keeps prepared: every distinct statement it runs, with room to spare.
const WRITER_STATEMENTS: usize = 128;

impl SqliteJournal {
    /// Opens (creating if needed) the journal at `path`, migrates it to the current schema, and
    /// recovers from a crash: work left `running` goes back to `pending`, and runs left
    /// `running` become `interrupted`. Expired `once` keys are dropped.
    ///
    /// Only one `SqliteJournal` may use a file at a time: recovery assumes nothing else is running
    /// its work. Other processes (the CLI next to a live daemon) use [`JournalReader::open`].
    pub fn open(path: &Path, options: JournalOptions) -> Result<SqliteJournal, StoreError> {
        let open_error = |e: rusqlite::Error| StoreError::Open {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let mut conn = Connection::open(path).map_err(open_error)?;
        // Every statement of the lead path stays prepared: rusqlite's default cache (16) is
        // smaller than the writer's working set, and an evicted statement is parsed again.
        conn.set_prepared_statement_cache_capacity(WRITER_STATEMENTS);
        schema::configure(&conn, options.durability)?;
        schema::migrate(&mut conn, path)?;
        if schema::enable_incremental_vacuum(&conn, path)? {
            tracing::info!(path = %path.display(), "journal: switched to incremental vacuum");
        }
        let recovered = conn.execute(
            "UPDATE work SET status = 'pending', updated_ms = ?1 WHERE status = 'running'",
            [options.clock.unix_millis()],
        )?;
        if recovered > 0 {
            tracing::warn!(
                recovered,
                "journal: work interrupted by a crash is pending again"
            );
        }
        // Runs written at their first call and never completed: the process died during them.
        // Their succeeded calls stay, so the retry replays them instead of sending them again.
        let interrupted = conn.execute(
            "UPDATE runs SET status = 'interrupted' WHERE status = 'running'",
            [],
        )?;
        if interrupted > 0 {
            tracing::warn!(
                interrupted,
                "journal: runs interrupted by a crash are marked interrupted"
            );
        }
        sweep_once_keys(&conn, options.clock.unix_millis())?;
        let backlog: i64 = conn.query_row(
            "SELECT count(*) FROM work WHERE status IN ('pending', 'running', 'retry')",
            [],
            |r| r.get(0),
        )?;
        let reader = JournalReader::open(path)?;
        let backlog = Arc::new(AtomicI64::new(backlog));
        let (sender, receiver) = mpsc::channel(options.queue_capacity.max(1));
        let (handle, writer) =
            writer::spawn(conn, receiver, backlog.clone(), options.max_batch.max(1)).map_err(
                |e| StoreError::Open {
                    path: path.to_path_buf(),
                    message: format!("cannot start the writer thread: {e}"),
                },
            )?;
        tracing::info!(path = %path.display(), backlog = backlog.load(Ordering::Relaxed), "journal open");
        Ok(SqliteJournal {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                sender: Some(sender),
                writer,
                finish_linger: options.finish_linger,
                writer_thread: Mutex::new(Some(handle)),
                backlog,
                backlog_limit: options.backlog_limit,
                // Unknown until the first claim, which the dispatcher makes at once.
                next_due_ms: Arc::new(AtomicI64::new(0)),
                writes: Arc::new(AtomicU64::new(0)),
                seen_writes: Arc::new(AtomicU64::new(u64::MAX)),
                looked_at: Mutex::new(Instant::now()),
                handoff: std::sync::OnceLock::new(),
                reader,
                clock: options.clock,
            }),
        })
    }

    /// The journal file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    fn sender(&self) -> Result<&mpsc::Sender<Queued>, StoreError> {
        self.inner.sender.as_ref().ok_or(StoreError::Closed)
    }

    /// True when a claim at `now_ms` would find nothing, known without a transaction: no job
    /// that may add work ran since the last claim came back short, no retry is due, and that
    /// claim is younger than [`IDLE_LOOK`] (work another process added, e.g. `leadrelay dead
    /// retry` beside the daemon, is found by the next real look).
    fn nothing_to_claim(&self, now_ms: i64) -> bool {
        self.inner.seen_writes.load(Ordering::SeqCst) == self.inner.writes.load(Ordering::SeqCst)
            && now_ms < self.inner.next_due_ms.load(Ordering::SeqCst)
            && self
                .inner
                .looked_at
                .lock()
                .expect("looked_at lock")
                .elapsed()
                < IDLE_LOOK
    }

    /// Runs `f` on the writer; resolves after the transaction holding it has committed. The
    /// job counts as one that may add due work (see [`claim_due`](WorkQueue::claim_due)).
    async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Ctx<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let writes = self.inner.writes.clone();
        self.write_quiet(move |ctx| {
            writes.fetch_add(1, Ordering::SeqCst);
            f(ctx)
        })
        .await
    }

    /// [`write`](Self::write) for a job that adds no work that could be due before the
    /// journal's next due time (a claim, a finish, a read).
    async fn write_quiet<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Ctx<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        self.submit(writer::job(f)).await
    }

    /// Queues a job made by [`writer::job`] or [`writer::job_failing_its_batch`] and waits for
    /// its commit.
    async fn submit<T>(
        &self,
        (job, answer): (Job, oneshot::Receiver<Result<T, StoreError>>),
    ) -> Result<T, StoreError> {
        self.sender()?
            .send(Queued::Job(job))
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// [`write_quiet`](Self::write_quiet) for a job whose caller can wait up to `linger`: it
    /// waits beside the channel for the writer's next batch instead of waking the writer for a
    /// transaction of its own, and asks for one only if no batch took it meanwhile. At a few
    /// leads a second a finished run's outcome so shares the next lead's intake commit: one
    /// transaction and one writer wake-up fewer per lead.
    async fn write_deferred<T, F>(&self, linger: Duration, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Ctx<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let sender = self.sender()?;
        let (job, mut answer) = writer::job(f);
        self.inner.writer.defer(job);
        tokio::select! {
            committed = &mut answer => return committed.map_err(|_| StoreError::Closed)?,
            _ = tokio::time::sleep(linger) => {}
        }
        sender
            .send(Queued::Flush)
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// [`write`](Self::write) for blocking threads (never call it from an async task).
    fn write_blocking<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Ctx<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let (job, answer) = writer::job(f);
        let sender = self.sender()?;
        // Nothing queued and the connection free: the writer thread is idle, so commit here
        // rather than wake it and wait to be woken in turn (two thread switches per call a
        // script makes).
        let left = if sender.capacity() == sender.max_capacity() {
            self.inner.writer.commit_here(job).err()
        } else {
            Some(job)
        };
        if let Some(job) = left {
            sender
                .blocking_send(Queued::Job(job))
                .map_err(|_| StoreError::Closed)?;
        }
        answer.blocking_recv().map_err(|_| StoreError::Closed)?
    }
}

#[async_trait]
impl Intake for SqliteJournal {
    /// Commits `leads` (new ones get one pending work item each; a lead already stored for the
    /// same account and vendor id is a duplicate) and, in the same transaction, `checkpoint`.
    /// Returns, per lead in order, whether it was new. Resolves only after COMMIT.
    async fn accept_leads(
        &self,
        leads: Vec<Lead>,
        arrival: Arrival,
        checkpoint: Option<Checkpoint>,
    ) -> Result<Vec<Accepted>, IntakeError> {
        let rows = leads
            .into_iter()
            .map(|lead| {
                let body = serde_json::to_string(&lead)
                    .map_err(|e| StoreError::Corrupt(format!("lead {}: {e}", lead.id)))?;
                let phone_hash = crate::store::retention::lead_phone_hash(&lead);
                Ok((lead, body, phone_hash))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let clock = self.clock();
        let handoff = self.inner.handoff.get().cloned();
        let reserved = Arc::new(AtomicU64::new(0));
        let (writes, seen_writes) = (self.inner.writes.clone(), self.inner.seen_writes.clone());
        let held = reserved.clone();
        // Nothing in it can fail but the database itself: no savepoint (see the writer).
        let result = self
            .submit(writer::job_failing_its_batch(move |ctx| {
                let now = clock.unix_millis();
                // Handed over only when nothing older waits to be claimed (the last claim
                // came back short and no work was added since), so leads keep their order.
                let mut hand_over = handoff.filter(|_| {
                    seen_writes.load(Ordering::SeqCst) == writes.load(Ordering::SeqCst)
                });
                let mut out = Vec::with_capacity(rows.len());
                let mut handed = Vec::new();
                for (lead, body, phone_hash) in rows {
                    let inserted = ctx
                        .conn
                        .prepare_cached(
                            "INSERT INTO leads (vendor, account, vendor_lead_id, kind, body, via,
                                                endpoint, received_ms, phone_hash)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                             ON CONFLICT (account, vendor_lead_id) DO NOTHING",
                        )?
                        .execute(params![
                            lead.vendor.as_str(),
                            lead.account,
                            lead.id,
                            lead.kind.as_str(),
                            body,
                            via_str(arrival.via),
                            arrival.endpoint,
                            arrival.received_at_ms,
                            phone_hash,
                        ])?;
                    if inserted == 0 {
                        out.push(Accepted::Duplicate);
                        continue;
                    }
                    let lead_id = ctx.conn.last_insert_rowid();
                    let claimed = hand_over.as_ref().is_some_and(|h| h.reserve());
                    if claimed {
                        held.fetch_add(1, Ordering::SeqCst);
                    } else {
                        // From here on this batch queues its leads behind this one.
                        hand_over = None;
                        writes.fetch_add(1, Ordering::SeqCst);
                    }
                    ctx.conn
                        .prepare_cached(
                            "INSERT INTO work (lead_id, account, status, attempts, due_ms,
                                               first_seen_ms, updated_ms)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)",
                        )?
                        .execute(params![
                            lead_id,
                            lead.account,
                            if claimed { "running" } else { "pending" },
                            claimed as u32,
                            arrival.received_at_ms,
                            now
                        ])?;
                    if claimed {
                        handed.push(Work {
                            id: ctx.conn.last_insert_rowid(),
                            account: lead.account.clone(),
                            kind: WorkKind::Lead(Box::new(lead)),
                            attempts: 1,
                            first_seen_ms: arrival.received_at_ms,
                            prior: Vec::new(),
                        });
                    }
                    ctx.backlog_delta += 1;
                    out.push(Accepted::New);
                }
                if let Some(cp) = &checkpoint {
                    upsert_checkpoint(ctx.conn, cp, now)?;
                }
                Ok((out, handed))
            }))
            .await;
        match result {
            Ok((accepted, handed)) => {
                if let Some(handoff) = self.inner.handoff.get() {
                    for work in handed {
                        handoff.send(work);
                    }
                }
                Ok(accepted)
            }
            Err(e) => {
                // Nothing was committed: the places taken for it are free again.
                if let Some(handoff) = self.inner.handoff.get() {
                    handoff.release(reserved.load(Ordering::SeqCst) as usize);
                }
                Err(e.into())
            }
        }
    }

    /// Commits a Waiqin follow record (de-duplicated by account + msgId); a new one gets a
    /// pending work item.
    async fn accept_follow(&self, follow: FollowArrival) -> Result<Accepted, IntakeError> {
        let record = serde_json::to_string(&follow.record)
            .map_err(|e| StoreError::Corrupt(format!("follow {}: {e}", follow.msg_id)))?;
        let phone_hash = crate::store::retention::record_phone_hash(&follow.record);
        let clock = self.clock();
        let accepted = self
            .write(move |ctx| {
                let inserted = ctx
                    .conn
                    .prepare_cached(
                        "INSERT INTO follows (account, msg_id, data_id, record, via, endpoint,
                                              received_ms, phone_hash)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                         ON CONFLICT (account, msg_id) DO NOTHING",
                    )?
                    .execute(params![
                        follow.account,
                        follow.msg_id,
                        follow.data_id,
                        record,
                        via_str(follow.arrival.via),
                        follow.arrival.endpoint,
                        follow.arrival.received_at_ms,
                        phone_hash,
                    ])?;
                if inserted == 0 {
                    return Ok(Accepted::Duplicate);
                }
                let follow_id = ctx.conn.last_insert_rowid();
                ctx.conn
                    .prepare_cached(
                        "INSERT INTO work (follow_id, account, status, due_ms, first_seen_ms,
                                           updated_ms)
                         VALUES (?1, ?2, 'pending', ?3, ?3, ?4)",
                    )?
                    .execute(params![
                        follow_id,
                        follow.account,
                        follow.arrival.received_at_ms,
                        clock.unix_millis()
                    ])?;
                ctx.backlog_delta += 1;
                Ok(Accepted::New)
            })
            .await?;
        Ok(accepted)
    }

    /// Keeps a verified but unparsable payload, byte for byte; returns its quarantine id.
    async fn quarantine(&self, item: Quarantined) -> Result<i64, IntakeError> {
        let id = self
            .write(move |ctx| {
                ctx.conn
                    .prepare_cached(
                        "INSERT INTO quarantine (account, endpoint, reason, content_type, body,
                                                 received_ms)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    )?
                    .execute(params![
                        item.account,
                        item.endpoint,
                        item.reason,
                        item.content_type,
                        item.body,
                        item.received_at_ms
                    ])?;
                Ok(ctx.conn.last_insert_rowid())
            })
            .await?;
        Ok(id)
    }

    /// Work still to do (pending + running + retry), as of the last commit.
    fn backlog(&self) -> u64 {
        self.inner.backlog.load(Ordering::Relaxed).max(0) as u64
    }

    /// True when the backlog is above `backlog_limit`. Reads a counter the writer keeps; no query.
    fn is_overloaded(&self) -> bool {
        self.backlog() > self.inner.backlog_limit
    }
}

#[async_trait]
impl Checkpoints for SqliteJournal {
    /// The last committed position of a pull.
    async fn checkpoint(
        &self,
        account: &str,
        endpoint: &str,
    ) -> Result<Option<String>, IntakeError> {
        let (account, endpoint) = (account.to_string(), endpoint.to_string());
        let position = self
            .write(move |ctx| {
                Ok(ctx
                    .conn
                    .prepare_cached(
                        "SELECT position FROM checkpoints WHERE account = ?1 AND endpoint = ?2",
                    )?
                    .query_row(params![account, endpoint], |r| r.get(0))
                    .optional()?)
            })
            .await?;
        Ok(position)
    }
}

#[async_trait]
impl WorkQueue for SqliteJournal {
    /// Claims up to `limit` items to route — pending ones, and retries due at `now_ms` — oldest
    /// first, and marks them running.
    async fn claim_due(&self, now_ms: i64, limit: usize) -> Result<Vec<Work>, StoreError> {
        if limit == 0 || self.nothing_to_claim(now_ms) {
            return Ok(Vec::new());
        }
        let clock = self.clock();
        let next_due = self.inner.next_due_ms.clone();
        let (writes, seen_writes) = (self.inner.writes.clone(), self.inner.seen_writes.clone());
        let rows = self
            .write_quiet(move |ctx| {
                // Jobs run one after another on this thread: every job counted so far is in
                // this transaction's view.
                let writes_seen = writes.load(Ordering::SeqCst);
                const COLUMNS: &str = "SELECT w.id, w.account, w.attempts, w.first_seen_ms,
                        w.due_ms, l.body, f.account, f.msg_id, f.data_id, f.record, w.job_key,
                        w.slot_ms
                     FROM work w
                     LEFT JOIN leads l ON l.id = w.lead_id
                     LEFT JOIN follows f ON f.id = w.follow_id";
                let read = |r: &rusqlite::Row<'_>| -> rusqlite::Result<(i64, ClaimedRow)> {
                    let follow = match r.get::<_, Option<String>>(6)? {
                        Some(account) => Some((account, r.get(7)?, r.get(8)?, r.get(9)?)),
                        None => None,
                    };
                    let job = match r.get::<_, Option<String>>(10)? {
                        Some(key) => Some((key, r.get(11)?)),
                        None => None,
                    };
                    Ok((
                        r.get(4)?,
                        ClaimedRow {
                            id: r.get(0)?,
                            account: r.get(1)?,
                            attempts: r.get(2)?,
                            first_seen_ms: r.get(3)?,
                            lead_body: r.get(5)?,
                            follow,
                            job,
                            prior: Vec::new(),
                        },
                    ))
                };
                let mut due: Vec<(i64, ClaimedRow)> = Vec::new();
                // No `LIMIT ?`: SQLite re-plans a statement whose bound LIMIT changes (a full
                // parse on every claim). The rows come in index order, and stepping stops at
                // `limit`.
                let mut pending = ctx.conn.prepare_cached(&format!(
                    "{COLUMNS} WHERE w.status = 'pending' ORDER BY w.id"
                ))?;
                for row in pending.query_map([], read)?.take(limit) {
                    due.push(row?);
                }
                // The retry query binds a range (`due_ms <= ?1`), which SQLite re-plans for every
                // new value — measurable at thousands of claims a second. Most of the time there
                // are no retries at all, which a parameterless probe of the partial index says.
                let any_retry: bool = ctx
                    .conn
                    .prepare_cached("SELECT EXISTS (SELECT 1 FROM work WHERE status = 'retry')")?
                    .query_row([], |r| r.get(0))?;
                if any_retry {
                    let mut retries = ctx.conn.prepare_cached(&format!(
                        "{COLUMNS} WHERE w.status = 'retry' AND w.due_ms <= ?1
                         ORDER BY w.due_ms, w.id"
                    ))?;
                    for row in retries.query_map([now_ms], read)?.take(limit) {
                        due.push(row?);
                    }
                }
                due.sort_by_key(|(due_ms, row)| (*due_ms, row.id));
                due.truncate(limit);
                let now = clock.unix_millis();
                let mut mark = ctx.conn.prepare_cached(
                    "UPDATE work SET status = 'running', attempts = attempts + 1, updated_ms = ?2
                     WHERE id = ?1",
                )?;
                let mut out = Vec::with_capacity(due.len());
                for (_, mut row) in due {
                    mark.execute(params![row.id, now])?;
                    row.attempts += 1;
                    // In the claim's transaction rather than a writer job of its own per item:
                    // an index probe that finds nothing on a first run.
                    row.prior = prior_rows(ctx.conn, row.id)?;
                    out.push(row);
                }
                let next_retry: Option<i64> = if any_retry {
                    ctx.conn
                        .prepare_cached("SELECT MIN(due_ms) FROM work WHERE status = 'retry'")?
                        .query_row([], |r| r.get(0))?
                } else {
                    None
                };
                next_due.store(next_retry.unwrap_or(i64::MAX), Ordering::Relaxed);
                // A full claim may have left pending work behind: the next one must look.
                seen_writes.store(
                    if out.len() < limit {
                        writes_seen
                    } else {
                        u64::MAX
                    },
                    Ordering::SeqCst,
                );
                Ok(out)
            })
            .await?;
        *self.inner.looked_at.lock().expect("looked_at lock") = Instant::now();
        rows.into_iter().map(decode_claimed).collect()
    }

    fn next_due_ms(&self) -> Option<i64> {
        match self.inner.next_due_ms.load(Ordering::Relaxed) {
            i64::MAX => None,
            at => Some(at),
        }
    }

    /// Records the runs of one claim of `work_id` and moves the item on: done, retry at a
    /// time, dead (which opens a dead letter with the reason), unrouted or skipped. Runs whose
    /// row was written at their first call are completed (status, time, error, skip reason);
    /// the others are inserted. Either way the calls still carried (replays, calls failed
    /// before sending) are added. One share of one batch.
    async fn finish(
        &self,
        work_id: i64,
        runs: Vec<RunRecord>,
        outcome: WorkOutcome,
    ) -> Result<(), StoreError> {
        // Responses are serialized here, off the writer thread.
        let mut prepared = Vec::with_capacity(runs.len());
        for run in runs {
            let responses = run
                .calls
                .iter()
                .map(|call| serialize_response(work_id, call))
                .collect::<Result<Vec<_>, _>>()?;
            prepared.push((run, responses));
        }
        let clock = self.clock();
        let next_due = self.inner.next_due_ms.clone();
        let finish = move |ctx: &mut Ctx<'_>| {
            let now = clock.unix_millis();
            let (status, attempts): (String, u32) = ctx
                .conn
                .prepare_cached("SELECT status, attempts FROM work WHERE id = ?1")?
                .query_row([work_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?
                .ok_or_else(|| StoreError::NotFound(format!("work {work_id}")))?;
            let status = parse_status(&status)?;
            if status != WorkStatus::Running {
                return Err(StoreError::Conflict(format!(
                    "work {work_id} is {status}, not running; it cannot be finished"
                )));
            }
            for (run, responses) in &prepared {
                let status = if run.error.is_some() {
                    "failed"
                } else if run.skipped.is_some() {
                    "skipped"
                } else {
                    "ok"
                };
                let run_id = match run.id {
                    Some(id) => {
                        let completed = ctx
                            .conn
                            .prepare_cached(
                                "UPDATE runs SET status = ?3, elapsed_ms = ?4, error = ?5, note = ?6
                                 WHERE id = ?1 AND work_id = ?2 AND status = 'running'",
                            )?
                            .execute(params![
                                id,
                                work_id,
                                status,
                                run.elapsed_ms,
                                run.error,
                                run.skipped
                            ])?;
                        if completed == 0 {
                            return Err(StoreError::Conflict(format!(
                                "run {id} of work {work_id} is not running; it cannot be completed"
                            )));
                        }
                        id
                    }
                    None => insert_run(
                        ctx.conn,
                        work_id,
                        &RunStart {
                            attempt: attempts,
                            script: run.script.clone(),
                            handler: run.handler.clone(),
                            version: run.version.clone(),
                            started_ms: run.started_ms,
                        },
                        status,
                        run.elapsed_ms,
                        run.error.as_deref(),
                        run.skipped.as_deref(),
                    )?,
                };
                for (call, response) in run.calls.iter().zip(responses) {
                    insert_call(ctx.conn, run_id, call, response.as_deref())?;
                }
            }
            let (next, due, reason) = match &outcome {
                WorkOutcome::Done => (WorkStatus::Done, None, None),
                WorkOutcome::Retry { at_ms, reason } => {
                    (WorkStatus::Retry, Some(*at_ms), Some(reason.as_str()))
                }
                WorkOutcome::Dead { reason } => (WorkStatus::Dead, None, Some(reason.as_str())),
                WorkOutcome::Unrouted { reason } => {
                    (WorkStatus::Unrouted, None, Some(reason.as_str()))
                }
                WorkOutcome::Skipped { reason } => {
                    (WorkStatus::Skipped, None, Some(reason.as_str()))
                }
            };
            ctx.conn
                .prepare_cached(
                    "UPDATE work SET status = ?2, due_ms = coalesce(?3, due_ms), reason = ?4,
                                     updated_ms = ?5
                     WHERE id = ?1",
                )?
                .execute(params![work_id, next.as_str(), due, reason, now])?;
            if let WorkOutcome::Dead { reason } = &outcome {
                ctx.conn
                    .prepare_cached(
                        "INSERT INTO dead_letters (work_id, reason, attempts, created_ms)
                         VALUES (?1, ?2, ?3, ?4)",
                    )?
                    .execute(params![work_id, reason, attempts, now])?;
            }
            if !next.in_backlog() {
                ctx.backlog_delta -= 1;
            }
            if let Some(due) = due {
                // Before the commit, so no claim can run between it and this.
                next_due.fetch_min(due, Ordering::SeqCst);
            }
            Ok(())
        };
        // Nothing waits on the outcome's commit but the dispatcher's room for more work: its
        // calls are journaled already, and a crash before the commit leaves the work running,
        // so it is pending again after restart and its calls are replayed, not sent again.
        match self.inner.finish_linger {
            linger if linger.is_zero() => self.write_quiet(finish).await,
            linger => self.write_deferred(linger, finish).await,
        }
    }

    /// Calls that succeeded in earlier runs of `work_id` (replays excluded: they repeat an
    /// original), oldest first. A retried run answers an identical call from these.
    /// [`claim_due`](Self::claim_due) reads the same into [`Work::prior`].
    async fn succeeded_calls(&self, work_id: i64) -> Result<Vec<PriorCall>, StoreError> {
        let rows = self.write(move |ctx| prior_rows(ctx.conn, work_id)).await?;
        decode_prior(work_id, rows)
    }

    /// Puts dead letters back: their work becomes pending with attempts reset, and the dead
    /// letter is marked retried. Returns how many were put back.
    async fn retry_dead(&self, which: DeadSelector) -> Result<usize, StoreError> {
        let clock = self.clock();
        self.write(move |ctx| {
            let count = revive_dead_letters(ctx.conn, which, clock.unix_millis())?;
            ctx.backlog_delta += count as i64;
            Ok(count)
        })
        .await
    }

    /// Makes every retry that waits because a call to `account` failed due now, and returns
    /// how many. Called when the account's circuit breaker closes: those retries would
    /// otherwise sleep out backoffs that grew while the account was down.
    async fn wake_retries_waiting_on(&self, account: &str) -> Result<usize, StoreError> {
        let account = account.to_string();
        let clock = self.clock();
        self.write(move |ctx| {
            let now = clock.unix_millis();
            // The failed call of the attempt that scheduled the retry names the account; runs
            // of earlier attempts do not count (that account may have recovered long ago).
            let woken = ctx
                .conn
                .prepare_cached(
                    "UPDATE work SET due_ms = ?2, updated_ms = ?2
                     WHERE status = 'retry' AND due_ms > ?2
                       AND EXISTS (SELECT 1 FROM runs r JOIN calls c ON c.run_id = r.id
                                   WHERE r.work_id = work.id AND r.attempt = work.attempts
                                     AND c.ok = 0 AND c.account = ?1)",
                )?
                .execute(params![account, now])?;
            Ok(woken)
        })
        .await
    }

    /// Routes unrouted leads again (after a script fix): their work becomes pending with
    /// attempts reset. Returns how many were put back.
    async fn reroute(&self, which: RerouteSelector) -> Result<usize, StoreError> {
        let clock = self.clock();
        self.write(move |ctx| {
            let count = reroute_unrouted(ctx.conn, &which, clock.unix_millis())?;
            ctx.backlog_delta += count as i64;
            Ok(count)
        })
        .await
    }
}

impl CallLog for SqliteJournal {
    /// Commits one call of a run as it returns, before the script goes on: a crash after this
    /// cannot make a retry send the call again (a retried run answers it from
    /// [`succeeded_calls`](Self::succeeded_calls)). The run's first call also inserts the
    /// run's row, as `running` (`run_id` is `None` then); later calls pass the id this
    /// returned. A share of the writer's next batch, not a transaction of its own.
    ///
    /// Blocking: call it from the thread running the script, never from an async task.
    fn record_call_blocking(
        &self,
        work_id: i64,
        run: RunRow,
        call: CallRow,
    ) -> Result<i64, StoreError> {
        let response = serialize_response(work_id, &call)?;
        self.write_blocking(move |ctx| {
            let run_id = match run {
                RunRow::Written(id) => id,
                RunRow::First(start) => {
                    insert_run(ctx.conn, work_id, &start, "running", 0, None, None)?
                }
            };
            insert_call(ctx.conn, run_id, &call, response.as_deref())?;
            Ok(run_id)
        })
    }
}

#[async_trait]
impl CronLedger for SqliteJournal {
    /// True exactly once per (schedule, slot): the caller that gets `true` fires the slot.
    /// Survives reloads and restarts. Claims are remembered one by one for a week behind the
    /// newest; a slot older than that is refused (it would be a stale catch-up anyway).
    async fn claim_cron_slot(&self, schedule_key: &str, slot_ms: i64) -> Result<bool, StoreError> {
        let key = schedule_key.to_string();
        let clock = self.clock();
        self.write(move |ctx| {
            let now = clock.unix_millis();
            let claimed = claim_slot(ctx.conn, &key, slot_ms, now)?;
            if claimed {
                count_fired_slot(ctx.conn, &key, slot_ms, now)?;
            }
            Ok(claimed)
        })
        .await
    }

    /// Fires one slot of a scheduled job: claims it ([`claim_cron_slot`](Self::claim_cron_slot)
    /// rules) and, in the same transaction, makes it a pending work item the dispatcher runs
    /// like a lead — so a job killed mid-run is run again after a restart with its succeeded
    /// calls replayed, and a failing job retries and then becomes a dead letter. A job whose
    /// previous slot is not finished yet (pending, running or waiting to retry) skips this one:
    /// the slot is claimed (it never fires later) and counted as a skip.
    async fn fire_cron_slot(
        &self,
        schedule_key: &str,
        slot_ms: i64,
    ) -> Result<CronFire, StoreError> {
        let key = schedule_key.to_string();
        let clock = self.clock();
        self.write(move |ctx| {
            let now = clock.unix_millis();
            if !claim_slot(ctx.conn, &key, slot_ms, now)? {
                return Ok(CronFire::Taken);
            }
            let unfinished: bool = ctx
                .conn
                .prepare_cached(JOB_UNFINISHED)?
                .query_row([&key], |r| r.get(0))?;
            if unfinished {
                count_skipped_slot(ctx.conn, &key, slot_ms, "previous run still going")?;
                return Ok(CronFire::Overlap);
            }
            count_fired_slot(ctx.conn, &key, slot_ms, now)?;
            ctx.conn
                .prepare_cached(
                    "INSERT INTO work (job_key, slot_ms, account, status, due_ms, first_seen_ms,
                                       updated_ms)
                     VALUES (?1, ?2, '', 'pending', ?3, ?3, ?3)",
                )?
                .execute(params![key, slot_ms, now])?;
            ctx.backlog_delta += 1;
            Ok(CronFire::Fired {
                work_id: ctx.conn.last_insert_rowid(),
            })
        })
        .await
    }

    /// The newest slot of `schedule_key` that fired (unix milliseconds), if any ever did: where
    /// a catch-up after downtime starts from.
    async fn last_cron_slot(&self, schedule_key: &str) -> Result<Option<i64>, StoreError> {
        let key = schedule_key.to_string();
        self.write(move |ctx| {
            Ok(ctx
                .conn
                .prepare_cached("SELECT last_slot_ms FROM cron_state WHERE schedule_key = ?1")?
                .query_row([key], |r| r.get::<_, Option<i64>>(0))
                .optional()?
                .flatten())
        })
        .await
    }

    /// Counts a slot the overlap policy skipped (the previous tick was still running).
    async fn record_cron_skip(
        &self,
        schedule_key: &str,
        slot_ms: i64,
        reason: &str,
    ) -> Result<(), StoreError> {
        let (key, reason) = (schedule_key.to_string(), reason.to_string());
        self.write(move |ctx| count_skipped_slot(ctx.conn, &key, slot_ms, &reason))
            .await
    }
}

#[async_trait]
impl Claims for SqliteJournal {
    /// `once(key, ttl)` keys kept in the journal. Hand it to the engine as its [`OnceStore`].
    fn once_keys(&self) -> Arc<dyn OnceStore> {
        Arc::new(JournalOnce {
            journal: self.clone(),
        })
    }

    /// The stdlib's round-robin counters, kept in the journal so rotations continue across
    /// restarts. Hand it to the engine as its [`AssignmentStore`].
    fn assignments(&self) -> Arc<dyn AssignmentStore> {
        Arc::new(JournalAssignments {
            journal: self.clone(),
            fallback: Default::default(),
        })
    }

    /// Drops `once` keys that have expired (they answer as if absent anyway); keeps the table
    /// from growing with every key ever claimed. Returns how many went.
    async fn sweep_once_keys(&self) -> Result<usize, StoreError> {
        let clock = self.clock();
        self.write(move |ctx| sweep_once_keys(ctx.conn, clock.unix_millis()))
            .await
    }
}

#[async_trait]
impl Maintenance for SqliteJournal {
    /// Whether the writer takes and commits a transaction: an empty one through the same queue
    /// as intake (the admin listener's `/readyz`).
    async fn probe_writable(&self) -> Result<(), StoreError> {
        self.write(|_ctx| Ok(())).await
    }

    /// One prune step (see `retention`): deletes up to `limit` final items past `keep_days`,
    /// then redacts final items past `personal_data_days` with the rest of `limit`, as `now_ms`
    /// sees it (a parameter so tests age leads without waiting). One share of one batch: a
    /// small `limit` keeps the commit it shares with intake short.
    async fn prune_step(
        &self,
        policy: RetentionPolicy,
        now_ms: i64,
        limit: usize,
    ) -> Result<PruneReport, StoreError> {
        self.write(move |ctx| retention::prune_step(ctx.conn, policy, now_ms, limit))
            .await
    }

    /// Hands up to `pages` free pages back to the OS (`PRAGMA incremental_vacuum`); returns
    /// how many free pages are left. Does nothing on a journal without incremental vacuum.
    async fn reclaim_step(&self, pages: u32) -> Result<u64, StoreError> {
        self.write(move |ctx| {
            ctx.conn
                .execute_batch(&format!("PRAGMA incremental_vacuum({pages})"))?;
            let free: i64 = ctx
                .conn
                .pragma_query_value(None, "freelist_count", |r| r.get(0))?;
            let mode: i64 = ctx
                .conn
                .pragma_query_value(None, "auto_vacuum", |r| r.get(0))?;
            // Without incremental vacuum free pages are reused in place, never handed back.
            Ok(if mode == 2 { free.max(0) as u64 } else { 0 })
        })
        .await
    }

    /// After pruning: hands free pages back in steps of [`RECLAIM_PAGES`], then truncates the
    /// WAL (best effort) so page images from before a redaction leave the disk.
    async fn reclaim(&self) -> Result<(), StoreError> {
        while self.reclaim_step(RECLAIM_PAGES).await? > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        let path = self.inner.path.clone();
        match tokio::task::spawn_blocking(move || retention::truncate_wal(&path)).await {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => tracing::debug!("journal: WAL busy; truncated at a later prune"),
            Ok(Err(error)) => tracing::warn!(%error, "journal: WAL truncate after prune failed"),
            Err(error) => tracing::warn!(%error, "journal: WAL truncate task failed"),
        }
        Ok(())
    }
}

impl Backend for SqliteJournal {
    fn location(&self) -> String {
        self.inner.path.display().to_string()
    }

    /// The clock the journal stamps with (the daemon's one clock).
    fn clock(&self) -> Clock {
        self.inner.clock
    }

    /// The read side: queries for the CLI on a separate read-only connection.
    fn reader(&self) -> &dyn Queries {
        &self.inner.reader
    }

    fn set_handoff(&self, handoff: Handoff) {
        let _ = self.inner.handoff.set(handoff);
    }
}

fn upsert_checkpoint(conn: &Connection, cp: &Checkpoint, now: i64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO checkpoints (account, endpoint, position, updated_ms) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (account, endpoint) DO UPDATE SET position = ?3, updated_ms = ?4",
    )?
    .execute(params![cp.account, cp.endpoint, cp.position, now])?;
    Ok(())
}

/// Whether job `?1` has a slot not finished yet. Its condition is the `work_job_open` partial
/// index's, word for word, so SQLite answers from that index (`store::tests` checks the plan).
const JOB_UNFINISHED: &str = "SELECT EXISTS (SELECT 1 FROM work
     WHERE job_key = ?1 AND status IN ('pending', 'running', 'retry'))";

/// Claims (schedule, slot) inside the caller's transaction; false when it was claimed before
/// or lies below the schedule's pruned floor.
fn claim_slot(conn: &Connection, key: &str, slot_ms: i64, now: i64) -> Result<bool, StoreError> {
    conn.prepare_cached(
        "INSERT INTO cron_state (schedule_key, floor_ms) VALUES (?1, ?2)
         ON CONFLICT (schedule_key) DO NOTHING",
    )?
    .execute(params![key, i64::MIN])?;
    let floor: i64 = conn
        .prepare_cached("SELECT floor_ms FROM cron_state WHERE schedule_key = ?1")?
        .query_row([key], |r| r.get(0))?;
    if slot_ms < floor {
        return Ok(false);
    }
    let claimed = conn
        .prepare_cached(
            "INSERT INTO cron_claims (schedule_key, slot_ms, claimed_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT (schedule_key, slot_ms) DO NOTHING",
        )?
        .execute(params![key, slot_ms, now])?;
    if claimed == 0 {
        return Ok(false);
    }
    // Claims far behind the newest are pruned; the floor keeps refusing them.
    let horizon = slot_ms.saturating_sub(CRON_RETENTION_MS);
    conn.prepare_cached(
        "UPDATE cron_state SET floor_ms = max(floor_ms, ?2) WHERE schedule_key = ?1",
    )?
    .execute(params![key, horizon])?;
    conn.prepare_cached("DELETE FROM cron_claims WHERE schedule_key = ?1 AND slot_ms < ?2")?
        .execute(params![key, horizon])?;
    Ok(true)
}

/// Counts a claimed slot as fired: `status` shows claims and the last slot, and catch-up
/// starts after it.
fn count_fired_slot(
    conn: &Connection,
    key: &str,
    slot_ms: i64,
    now: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE cron_state SET
             last_slot_ms = max(coalesce(last_slot_ms, ?2), ?2),
             last_claimed_ms = ?3,
             claims = claims + 1
         WHERE schedule_key = ?1",
    )?
    .execute(params![key, slot_ms, now])?;
    Ok(())
}

fn count_skipped_slot(
    conn: &Connection,
    key: &str,
    slot_ms: i64,
    reason: &str,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO cron_state (schedule_key, floor_ms, skips, last_skip_slot_ms,
                                 last_skip_reason)
         VALUES (?1, ?2, 1, ?3, ?4)
         ON CONFLICT (schedule_key) DO UPDATE SET
             skips = skips + 1, last_skip_slot_ms = ?3, last_skip_reason = ?4",
    )?
    .execute(params![key, i64::MIN, slot_ms, reason])?;
    Ok(())
}

fn sweep_once_keys(conn: &Connection, now: i64) -> Result<usize, StoreError> {
    Ok(conn
        .prepare_cached("DELETE FROM once_keys WHERE expires_ms <= ?1")?
        .execute([now])?)
}

#[allow(clippy::too_many_arguments)]
fn insert_run(
    conn: &Connection,
    work_id: i64,
    run: &RunStart,
    status: &str,
    elapsed_ms: i64,
    error: Option<&str>,
    note: Option<&str>,
) -> Result<i64, StoreError> {
    conn.prepare_cached(
        "INSERT INTO runs (work_id, attempt, script, handler, version, started_ms, elapsed_ms,
                           status, error, note)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        work_id,
        run.attempt,
        run.script,
        run.handler,
        run.version,
        run.started_ms,
        elapsed_ms,
        status,
        error,
        note,
    ])?;
    Ok(conn.last_insert_rowid())
}

fn insert_call(
    conn: &Connection,
    run_id: i64,
    call: &CallRow,
    response: Option<&str>,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO calls (run_id, seq, vendor, account, op, fingerprint, ok, status, code,
                            message, response, attempts, replayed)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?
    .execute(params![
        run_id,
        call.seq,
        call.vendor,
        call.account,
        call.op,
        call.fingerprint,
        call.ok,
        call.status,
        call.code,
        call.message,
        response,
        call.attempts,
        call.replayed,
    ])?;
    Ok(())
}

/// The SQL of a dead-letter retry, inside the caller's write transaction: the work of each
/// selected open dead letter becomes pending with attempts reset, and the letter is marked
/// retried. Returns how many work items were revived. Shared by [`SqliteJournal::retry_dead`] (on
/// the writer) and [`offline::retry_dead_offline`] (the CLI next to a live daemon) so the two
/// can never disagree on what a retry means.
pub(crate) fn revive_dead_letters(
    conn: &Connection,
    which: DeadSelector,
    now: i64,
) -> Result<usize, StoreError> {
    let letters: Vec<(i64, i64)> = match which {
        DeadSelector::One(id) => conn
            .prepare_cached(
                "SELECT id, work_id FROM dead_letters
                 WHERE id = ?1 AND retried_ms IS NULL",
            )?
            .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?,
        DeadSelector::All => conn
            .prepare_cached(
                "SELECT id, work_id FROM dead_letters WHERE retried_ms IS NULL ORDER BY id",
            )?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?,
    };
    if let (DeadSelector::One(id), true) = (which, letters.is_empty()) {
        return Err(StoreError::NotFound(format!("open dead letter {id}")));
    }
    let mut count = 0;
    for (letter, work_id) in letters {
        // `status = 'dead'` guards work that is somewhere else already: only a dead item may
        // be revived, so a retry can never re-run work that is running or done.
        let revived = conn
            .prepare_cached(
                "UPDATE work SET status = 'pending', attempts = 0, reason = NULL,
                                 due_ms = ?2, updated_ms = ?2
                 WHERE id = ?1 AND status = 'dead'",
            )?
            .execute(params![work_id, now])?;
        conn.prepare_cached("UPDATE dead_letters SET retried_ms = ?2 WHERE id = ?1")?
            .execute(params![letter, now])?;
        count += revived;
    }
    Ok(count)
}

/// The SQL of a reroute, inside the caller's write transaction; shared by [`SqliteJournal::reroute`]
/// and [`offline::reroute_offline`] like [`revive_dead_letters`]. Only `unrouted` work moves:
/// a lead that was routed, skipped or dead-lettered is refused by name, so a reroute can never
/// import a routed lead again.
pub(crate) fn reroute_unrouted(
    conn: &Connection,
    which: &RerouteSelector,
    now: i64,
) -> Result<usize, StoreError> {
    let revive = |conn: &Connection, sql: &str| -> Result<usize, StoreError> {
        Ok(conn.prepare_cached(sql)?.execute([now])?)
    };
    match which {
        RerouteSelector::Unrouted => revive(
            conn,
            "UPDATE work SET status = 'pending', attempts = 0, reason = NULL, due_ms = ?1,
                             updated_ms = ?1
             WHERE status = 'unrouted'",
        ),
        RerouteSelector::Lead(id) => {
            let lead_id = reader::find_lead(conn, id)?
                .ok_or_else(|| StoreError::NotFound(format!("lead `{id}`")))?;
            let (work_id, status): (i64, String) = conn
                .prepare_cached("SELECT id, status FROM work WHERE lead_id = ?1")?
                .query_row([lead_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
            let status = parse_status(&status)?;
            if status != WorkStatus::Unrouted {
                return Err(StoreError::Conflict(format!(
                    "lead `{id}` is {status}, not unrouted; only unrouted leads are rerouted \
                     (a dead letter goes back with `leadrelay dead retry`)"
                )));
            }
            conn.prepare_cached(
                "UPDATE work SET status = 'pending', attempts = 0, reason = NULL, due_ms = ?2,
                                 updated_ms = ?2
                 WHERE id = ?1 AND status = 'unrouted'",
            )?
            .execute(params![work_id, now])
            .map_err(Into::into)
        }
    }
}

/// The journal as the stdlib's [`AssignmentStore`]. Called from the blocking threads scripts
/// run on; it waits for the writer's commit, so a counter handed out is never handed out again.
#[derive(Debug)]
pub struct JournalAssignments {
    journal: SqliteJournal,
    // Only used when the journal fails: rotation keeps going (unpersisted) rather than
    // sending every lead to the first person in the list.
    fallback: MemoryAssignments,
}

impl AssignmentStore for JournalAssignments {
    fn next(&self, key: &str) -> u64 {
        let owned = key.to_string();
        let result = self.journal.write_blocking(move |ctx| {
            let value: i64 = ctx
                .conn
                .prepare_cached(
                    "INSERT INTO assignments (key, next) VALUES (?1, 1)
                     ON CONFLICT (key) DO UPDATE SET next = next + 1
                     RETURNING next - 1",
                )?
                .query_row([owned], |r| r.get(0))?;
            Ok(value.max(0) as u64)
        });
        match result {
            Ok(value) => value,
            Err(error) => {
                tracing::error!(%error, key, "journal: assignment counter not persisted");
                self.fallback.next(key)
            }
        }
    }
}

/// The journal as the engine's [`OnceStore`]. Called from the blocking threads scripts run on;
/// the claim is one statement, committed (a share of the writer's next batch) before the script
/// sees the answer. The single writer serializes claims, so of many concurrent runs claiming a
/// free key exactly one gets `true`. The statement is a plain conditional upsert so a PostgreSQL
/// journal can run it as it is.
///
/// Keys are stored as their SHA-256: scripts build them from phone numbers, which the journal
/// should not keep a second copy of in clear.
#[derive(Debug, Clone)]
pub struct JournalOnce {
    journal: SqliteJournal,
}

impl OnceStore for JournalOnce {
    fn claim(&self, key: &str, ttl: std::time::Duration, owner: i64) -> Result<bool, OnceError> {
        use sha2::Digest;
        let hashed = hex::encode(sha2::Sha256::digest(key.as_bytes()));
        let now = self.journal.clock().unix_millis();
        let expires = now.saturating_add(ttl.as_millis().min(i64::MAX as u128) as i64);
        self.journal
            .write_blocking(move |ctx| {
                // A row comes back when the key was free (inserted), had expired (taken over),
                // or is already this owner's (kept as it was: a retry does not extend it).
                let held = ctx
                    .conn
                    .prepare_cached(
                        "INSERT INTO once_keys (key, work_id, claimed_ms, expires_ms)
                         VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT (key) DO UPDATE SET
                             work_id = excluded.work_id,
                             claimed_ms = CASE WHEN once_keys.expires_ms > excluded.claimed_ms
                                               THEN once_keys.claimed_ms
                                               ELSE excluded.claimed_ms END,
                             expires_ms = CASE WHEN once_keys.expires_ms > excluded.claimed_ms
                                               THEN once_keys.expires_ms
                                               ELSE excluded.expires_ms END
                         WHERE once_keys.expires_ms <= excluded.claimed_ms
                            OR once_keys.work_id = excluded.work_id
                         RETURNING 1",
                    )?
                    .query_row(params![hashed, owner, now, expires], |_| Ok(()))
                    .optional()?;
                Ok(held.is_some())
            })
            .map_err(|e| OnceError(format!("the journal could not answer: {e}")))
    }
}

#[cfg(test)]
mod tests;
