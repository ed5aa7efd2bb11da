//! The one writer: a dedicated thread that commits in groups on the one write connection
//! ([`Writer`]). A blocking caller whose job finds the thread idle (nothing queued, the
//! connection free) commits it itself instead ([`Writer::commit_here`]): waking the thread and
//! being woken by it cost two thread switches per call a script makes.
//!
//! Callers send a [`Job`] on a bounded channel. The thread takes the first job, drains up to
//! `max_batch - 1` more that are already queued, runs them all inside one `BEGIN IMMEDIATE …
//! COMMIT`, and only then answers each caller. Under load many callers share one commit (and,
//! with `synchronous=FULL`, one fsync); when idle a lone job commits at once, so latency is
//! never traded for batching. Each job runs inside its own SAVEPOINT, so one failing job is
//! rolled back alone and the rest of its batch still commits; only a job that cannot fail but
//! with the database itself (a lead's intake) skips it ([`job_failing_its_batch`]).
//!
//! A job whose caller can wait (a finished run's outcome, see [`Writer::defer`]) does not start a
//! transaction of its own: it waits beside the channel and rides along with the next batch,
//! which at a few leads a second is the next lead's intake. Its caller sends
//! [`Queued::Flush`] only if no batch took it within the linger.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::StoreError;

/// What a job sees while it runs: the connection inside the open transaction, and the change
/// it makes to the backlog (applied to the shared counter only once the batch commits).
pub(crate) struct Ctx<'c> {
    /// The write connection, inside the batch's transaction.
    pub conn: &'c Connection,
    /// Change to the backlog (pending + running + retry) made by the current job.
    pub backlog_delta: i64,
    /// Set when a savepoint could not be rolled back or a job without one failed: the batch
    /// must not commit.
    broken: bool,
}

impl Ctx<'_> {
    /// Runs `f` as `isolation` says. In a savepoint, an error undoes its writes and its
    /// backlog change, and the other jobs of the batch are unaffected; without one, an error
    /// aborts the batch.
    fn run<T>(
        &mut self,
        isolation: Isolation,
        f: impl FnOnce(&mut Ctx<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if self.broken {
            return Err(StoreError::Database(
                "an earlier failure aborted this commit".into(),
            ));
        }
        if let Isolation::Batch = isolation {
            let result = f(self);
            if let Err(error) = &result {
                tracing::error!(%error, "journal job failed without a savepoint; aborting batch");
                self.broken = true;
            }
            return result;
        }
        let before = self.backlog_delta;
        // Cached statements: every job pays for these, so they are parsed once, not per job.
        run_cached(self.conn, "SAVEPOINT job")?;
        match f(self) {
            Ok(value) => {
                run_cached(self.conn, "RELEASE job")?;
                Ok(value)
            }
            Err(error) => {
                self.backlog_delta = before;
                let rollback = run_cached(self.conn, "ROLLBACK TO job")
                    .and_then(|()| run_cached(self.conn, "RELEASE job"));
                if let Err(rollback) = rollback {
                    tracing::error!(%rollback, "journal savepoint rollback failed; aborting batch");
                    self.broken = true;
                }
                Err(error)
            }
        }
    }
}

/// Answers a job's caller once the batch's fate is known.
pub(crate) type Reply = Box<dyn FnOnce(Result<(), &StoreError>) + Send>;

/// A unit of work for the writer. Given the open transaction (or why none could be opened), it
/// does its writes and returns how to answer its caller after COMMIT.
pub(crate) type Job = Box<dyn FnOnce(Result<&mut Ctx<'_>, &StoreError>) -> Reply + Send>;

/// What the writer's channel carries.
pub(crate) enum Queued {
    /// A job to run in the next batch.
    Job(Job),
    /// Commit the deferred jobs ([`Writer::defer`]) now: a caller's linger ran out with no
    /// batch to ride.
    Flush,
}

/// The write connection and what every batch needs besides its jobs, shared by the writer
/// thread and the journal: a blocking caller commits its own job here while the writer thread
/// is idle ([`Writer::commit_here`]) instead of waking it and waiting to be woken in turn.
pub(crate) struct Writer {
    conn: Mutex<Connection>,
    /// Jobs that may wait for the next batch instead of waking the writer: every batch takes
    /// them first, in the order they were deferred.
    deferred: Mutex<Vec<Job>>,
    backlog: Arc<AtomicI64>,
    checkpoints: Option<CheckpointSignal>,
}

impl Writer {
    /// Leaves `job` for the next batch (see [`Queued::Flush`]).
    pub(crate) fn defer(&self, job: Job) {
        self.deferred.lock().expect("deferred jobs lock").push(job);
    }

    /// Commits `job` (with the deferred jobs) on the calling thread when the connection is
    /// free; gives it back when the writer thread holds it. Blocking: never call it from an
    /// async task.
    pub(crate) fn commit_here(&self, job: Job) -> Result<(), Job> {
        let Ok(conn) = self.conn.try_lock() else {
            return Err(job);
        };
        self.commit(&conn, &mut vec![job]);
        Ok(())
    }

    /// Runs the deferred jobs and then `jobs` as one batch.
    fn commit(&self, conn: &Connection, jobs: &mut Vec<Job>) {
        {
            let mut waiting = self.deferred.lock().expect("deferred jobs lock");
            if !waiting.is_empty() {
                jobs.splice(0..0, waiting.drain(..));
            }
        }
        // A flush whose jobs an earlier batch already took.
        if jobs.is_empty() {
            return;
        }
        run_batch(conn, jobs, &self.backlog);
        if let Some(c) = &self.checkpoints {
            c.committed();
        }
    }
}

/// Wraps `f` as a [`Job`] whose result arrives on the returned receiver only after commit.
pub(crate) fn job<T, F>(f: F) -> (Job, oneshot::Receiver<Result<T, StoreError>>)
where
    T: Send + 'static,
    F: FnOnce(&mut Ctx<'_>) -> Result<T, StoreError> + Send + 'static,
{
    wrap(f, Isolation::Savepoint)
}

/// [`job`] for a job that can fail only when the database does (disk full, I/O error), never
/// by its own logic: it runs without a savepoint, and if it fails anyway its whole batch is
/// rolled back and every caller in it gets the error. A savepoint copies each page the batch
/// has already changed before the job changes it again; for the intake of a lead, the most
/// frequent job, that was 5 % of the daemon's CPU at saturation.
pub(crate) fn job_failing_its_batch<T, F>(f: F) -> (Job, oneshot::Receiver<Result<T, StoreError>>)
where
    T: Send + 'static,
    F: FnOnce(&mut Ctx<'_>) -> Result<T, StoreError> + Send + 'static,
{
    wrap(f, Isolation::Batch)
}

/// What a job's failure undoes.
enum Isolation {
    /// Its own writes: it runs in a savepoint.
    Savepoint,
    /// The whole batch.
    Batch,
}

fn wrap<T, F>(f: F, isolation: Isolation) -> (Job, oneshot::Receiver<Result<T, StoreError>>)
where
    T: Send + 'static,
    F: FnOnce(&mut Ctx<'_>) -> Result<T, StoreError> + Send + 'static,
{
    let (tx, rx) = oneshot::channel();
    let job: Job = Box::new(move |ctx| {
        let result = match ctx {
            Ok(ctx) => ctx.run(isolation, f),
            Err(e) => Err(e.clone()),
        };
        Box::new(move |committed| {
            let answer = result.and_then(|value| committed.map(|()| value).map_err(Clone::clone));
            // The caller may have given up (a dropped future); nothing to do then.
            let _ = tx.send(answer);
        })
    });
    (job, rx)
}

/// Starts the writer thread. It runs until every sender is dropped, then checkpoints the WAL
/// away; the connection closes with the last [`Writer`].
pub(crate) fn spawn(
    conn: Connection,
    mut rx: mpsc::Receiver<Queued>,
    backlog: Arc<AtomicI64>,
    max_batch: usize,
) -> std::io::Result<(JoinHandle<()>, Arc<Writer>)> {
    let checkpointer = Checkpointer::start(&conn);
    let writer = Arc::new(Writer {
        conn: Mutex::new(conn),
        deferred: Mutex::new(Vec::new()),
        backlog,
        checkpoints: checkpointer.as_ref().map(|c| c.signal.clone()),
    });
    let shared = writer.clone();
    let thread = std::thread::Builder::new()
        .name("journal-writer".into())
        .spawn(move || {
            let mut jobs: Vec<Job> = Vec::with_capacity(max_batch);
            while let Some(first) = rx.blocking_recv() {
                let mut next = Some(first);
                while let Some(item) = next {
                    if let Queued::Job(job) = item {
                        jobs.push(job);
                    }
                    next = (jobs.len() < max_batch)
                        .then(|| rx.try_recv().ok())
                        .flatten();
                }
                let conn = shared.conn.lock().expect("write connection lock");
                shared.commit(&conn, &mut jobs);
            }
            let conn = shared.conn.lock().expect("write connection lock");
            // Stopping: what still waits beside the channel commits too.
            shared.commit(&conn, &mut jobs);
            if let Some(c) = checkpointer {
                c.stop();
            }
            // The read connection usually outlives this one and, being read-only, cannot
            // checkpoint on close; without this the WAL would keep page images of redacted or
            // deleted rows on disk after a stop.
            if let Err(error) = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())) {
                tracing::warn!(%error, "journal: final WAL checkpoint failed");
            }
            tracing::debug!("journal writer stopped");
        })?;
    Ok((thread, writer))
}

/// Background WAL checkpoints, off the commit path.
///
/// SQLite's automatic checkpoint runs inside the `COMMIT` that makes the WAL pass 1,000 pages:
/// it copies those pages into the database file and syncs it while every caller of that batch
/// (a push waiting for its ack) waits. Measured during a redaction prune, where each step
/// rewrites many pages, those commits were the writer's p99 (README, Performance). So the
/// writer's automatic checkpoint is raised to a safety net ([`SAFETY_NET_PAGES`], reached only
/// if this thread falls behind), and a thread with its own connection runs `PASSIVE`
/// checkpoints, which never take the write lock: the writer keeps committing meanwhile. It is
/// woken by the first commit after a checkpoint only (an idle journal costs nothing) and runs
/// at the end of the first busy [`CHECKPOINT_EVERY`] span, or after [`CHECKPOINT_QUIET_EVERY`].
struct Checkpointer {
    signal: CheckpointSignal,
    stopping: Arc<std::sync::atomic::AtomicBool>,
    thread: JoinHandle<()>,
}

/// What a commit tells the checkpoint thread, from whichever thread committed.
#[derive(Clone)]
struct CheckpointSignal {
    wake: std::sync::mpsc::SyncSender<()>,
    // Commits since the last checkpoint started.
    commits: Arc<std::sync::atomic::AtomicU64>,
    // Set by the first commit after a checkpoint, cleared when the next one starts: only that
    // commit wakes the thread, so a lead's several commits cost one wake-up per span, not one
    // each.
    due: Arc<std::sync::atomic::AtomicBool>,
}

/// The writer's own automatic checkpoint, kept only as a safety net: 10,000 pages (40 MB of
/// WAL with 4 KiB pages).
pub(crate) const SAFETY_NET_PAGES: i64 = 10_000;

/// Commits within this span share one background checkpoint, when the span was busy.
pub(crate) const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

/// A span with at least this many commits is busy: its checkpoint runs at the end of the span,
/// so the WAL stays short under load (a second of saturation is about a safety net's worth of
/// pages, and a long WAL showed as ack p99 ×5 at 1,000 leads/s).
pub(crate) const BUSY_SPAN_COMMITS: u64 = 100;

/// Quieter spans are joined until this long has passed: at a few leads a second most commits
/// change the same few pages, so one checkpoint copies them once instead of five times (at
/// 30 leads/s the checkpoints every 200 ms were a tenth of the daemon's CPU).
pub(crate) const CHECKPOINT_QUIET_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

impl Checkpointer {
    /// Starts the thread for the writer's database; `None` (SQLite's automatic checkpoint
    /// stays as it was) for an in-memory database or when the thread cannot start.
    fn start(writer: &Connection) -> Option<Checkpointer> {
        let path = writer.path().filter(|p| !p.is_empty())?.to_string();
        let conn = Connection::open_with_flags(
            &path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .and_then(|conn| {
            conn.busy_timeout(super::schema::BUSY_TIMEOUT)?;
            Ok(conn)
        })
        .map_err(|error| tracing::warn!(%error, "journal: no background checkpoints"))
        .ok()?;
        let (wake, woken) = std::sync::mpsc::sync_channel::<()>(1);
        let due = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let pending = due.clone();
        let commits = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counted = commits.clone();
        let stopping = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop = stopping.clone();
        let thread = std::thread::Builder::new()
            .name("journal-checkpoint".into())
            .spawn(move || {
                use std::sync::mpsc::RecvTimeoutError;
                // The writer truncates the WAL itself as it stops.
                while woken.recv().is_ok() && !stop.load(Ordering::SeqCst) {
                    // Commits made meanwhile are in this checkpoint; a stop ends the wait.
                    let first = std::time::Instant::now();
                    let mut at = first + CHECKPOINT_EVERY;
                    loop {
                        let left = at.saturating_duration_since(std::time::Instant::now());
                        match woken.recv_timeout(left) {
                            Ok(()) if stop.load(Ordering::SeqCst) => return,
                            Ok(()) => continue,
                            Err(RecvTimeoutError::Timeout) => {}
                            Err(RecvTimeoutError::Disconnected) => return,
                        }
                        if counted.load(Ordering::SeqCst) >= BUSY_SPAN_COMMITS
                            || at >= first + CHECKPOINT_QUIET_EVERY
                        {
                            break;
                        }
                        at += CHECKPOINT_EVERY;
                    }
                    // Before checkpointing: a commit from now on needs another checkpoint.
                    pending.store(false, Ordering::SeqCst);
                    counted.store(0, Ordering::SeqCst);
                    if let Err(error) =
                        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::warn!(%error, "journal: background checkpoint failed");
                    }
                }
            })
            .map_err(|error| tracing::warn!(%error, "journal: no background checkpoints"))
            .ok()?;
        if let Err(error) = writer.pragma_update(None, "wal_autocheckpoint", SAFETY_NET_PAGES) {
            tracing::warn!(%error, "journal: cannot raise the writer's automatic checkpoint");
        }
        Some(Checkpointer {
            signal: CheckpointSignal { wake, commits, due },
            stopping,
            thread,
        })
    }

    /// Lets the last checkpoint finish and ends the thread.
    fn stop(self) {
        self.stopping.store(true, Ordering::SeqCst);
        // A full channel means the thread is already woken and sees the flag.
        let _ = self.signal.wake.try_send(());
        let _ = self.thread.join();
    }
}

impl CheckpointSignal {
    /// After a commit: wakes the thread unless a checkpoint is already due.
    fn committed(&self) {
        self.commits.fetch_add(1, Ordering::SeqCst);
        if !self.due.swap(true, Ordering::SeqCst) {
            let _ = self.wake.try_send(());
        }
    }
}

fn run_batch(conn: &Connection, jobs: &mut Vec<Job>, backlog: &AtomicI64) {
    let size = jobs.len();
    let mut replies: Vec<Reply> = Vec::with_capacity(size);
    let mut delta = 0i64;
    let mut commit = match run_cached(conn, "BEGIN IMMEDIATE") {
        Ok(()) => {
            let mut ctx = Ctx {
                conn,
                backlog_delta: 0,
                broken: false,
            };
            for job in jobs.drain(..) {
                ctx.backlog_delta = 0;
                replies.push(job(Ok(&mut ctx)));
                delta += ctx.backlog_delta;
            }
            if ctx.broken {
                Err(StoreError::Database(
                    "a job without a savepoint or a rollback failed; this commit was aborted"
                        .into(),
                ))
            } else {
                run_cached(conn, "COMMIT")
            }
        }
        Err(e) => {
            for job in jobs.drain(..) {
                replies.push(job(Err(&e)));
            }
            Err(e)
        }
    };
    if let Err(e) = &commit {
        tracing::error!(error = %e, batch = size, "journal commit failed");
        if !conn.is_autocommit() {
            if let Err(rollback) = conn.execute_batch("ROLLBACK") {
                tracing::error!(%rollback, "journal rollback failed");
                commit = Err(StoreError::Database(format!(
                    "{e}; rollback failed: {rollback}"
                )));
            }
        }
    } else {
        backlog.fetch_add(delta, Ordering::Relaxed);
    }
    let committed = commit.as_ref().map(|_| ());
    for reply in replies {
        reply(committed);
    }
}

/// Runs a parameterless statement through the connection's statement cache.
fn run_cached(conn: &Connection, sql: &str) -> Result<(), StoreError> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}
