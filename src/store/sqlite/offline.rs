//! Writes the CLI makes to a journal that a running daemon may own: `leadrelay dead retry
//! ID|--all`, `leadrelay leads reroute ID|--unrouted` and `leadrelay leads forget`. Each opens a short-lived read-write connection, does one
//! transaction and closes it. It must not do what [`Journal::open`](super::Journal::open) does
//! on start (migrate, recover crashed work): those assume no one else is using the file.
//!
//! ## Why this is safe next to a live daemon
//!
//! - **One writer at a time.** The journal is in WAL mode. SQLite lets one connection write at a
//!   time; readers (the daemon's [`JournalReader`](super::JournalReader), other CLI commands)
//!   are never blocked. The daemon's writer thread takes the write lock only for the span of one
//!   batch (`BEGIN IMMEDIATE … COMMIT`), so we take it the same way, with the same busy
//!   timeout (`schema::BUSY_TIMEOUT`): we wait for the batch in flight to commit, do a handful
//!   of statements, commit, and the writer's next `BEGIN IMMEDIATE` waits the few milliseconds
//!   that takes. Taking the lock up front (rather than a deferred transaction that
//!   upgrades on its first write) means we never fail half-way with `SQLITE_BUSY` after reading.
//! - **No crash recovery.** `Journal::open` turns `running` work back into `pending` because
//!   it assumes the previous owner died. Next to a live daemon that would hand its in-flight
//!   items to the dispatcher a second time, so this path never touches running work; the
//!   shared SQL (`revive_dead_letters`, which [`Journal::retry_dead`](super::Journal::retry_dead)
//!   runs too) changes only items whose status is `dead`.
//! - **The dispatcher picks it up.** A revived item is `pending`, and the dispatcher's claim
//!   ([`Journal::claim_due`](super::Journal::claim_due)) queries the table in a fresh
//!   transaction each time, so its next claim after our commit returns the item. Nothing has to
//!   tell the daemon.
//! - **The daemon's backlog counter lags.** [`Journal::backlog`](super::Journal::backlog) is an
//!   in-memory counter the writer keeps from its own writes, counted from the table only when
//!   the journal is opened. It does not see our revivals, so it reads low by the number revived
//!   until the daemon's next recount (its next start). Nothing depends on it for correctness:
//!   claims query the table; the counter only feeds
//!   [`Journal::is_overloaded`](super::Journal::is_overloaded), which then sheds load slightly
//!   later; and when the revived items finish, the counter may dip below zero, which
//!   `backlog()` clamps to 0. `leadrelay status` reads the table and is always exact.

use std::path::Path;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use super::retention;
use super::{now_ms, reroute_unrouted, revive_dead_letters, schema, StoreError};
use crate::store::model::{DeadSelector, RerouteSelector};
use crate::store::retention::{Erasure, ForgetSelector};

/// Does what [`Journal::retry_dead`](super::Journal::retry_dead) does — the selected open dead
/// letters' work becomes pending with attempts reset — on the journal at `path`, whether or not
/// a daemon has it open. Returns how many work items were put back. See the module doc for why
/// this is safe next to a live daemon.
pub fn retry_dead_offline(path: &Path, selector: DeadSelector) -> Result<usize, StoreError> {
    let mut conn = open_existing(path)?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| locked_or(path, e))?;
    let count = revive_dead_letters(&tx, selector, now_ms())?;
    tx.commit().map_err(|e| locked_or(path, e))?;
    tracing::info!(path = %path.display(), revived = count, "journal: dead letters retried offline");
    Ok(count)
}

/// Does what [`Journal::reroute`](super::Journal::reroute) does — unrouted work becomes pending
/// with attempts reset — on the journal at `path`, whether or not a daemon has it open (safe for
/// the same reasons as [`retry_dead_offline`]: it only touches `unrouted` work). Returns how many
/// work items were put back.
pub fn reroute_offline(path: &Path, selector: &RerouteSelector) -> Result<usize, StoreError> {
    let mut conn = open_existing(path)?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| locked_or(path, e))?;
    let count = reroute_unrouted(&tx, selector, now_ms())?;
    tx.commit().map_err(|e| locked_or(path, e))?;
    tracing::info!(path = %path.display(), rerouted = count, "journal: unrouted work rerouted offline");
    Ok(count)
}

/// `leadrelay job run NAME`: a pending work item for the job `key` (a schedule key,
/// `path::function::cron`) at `slot_ms`, on the journal at `path`, whether or not a daemon has
/// it open. The dispatcher claims it like a fired cron slot, so the run is a real one: journaled
/// with its calls, retried with backoff, dead-lettered if it keeps failing. No cron slot is
/// claimed: the schedule's own slots are untouched (one falling while this item is unfinished is
/// skipped and counted, as for any unfinished slot). Returns the work id. Safe next to a live
/// daemon for the reasons in the module doc: it only inserts.
pub fn enqueue_job_offline(path: &Path, key: &str, slot_ms: i64) -> Result<i64, StoreError> {
    let mut conn = open_existing(path)?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| locked_or(path, e))?;
    let now = now_ms();
    tx.execute(
        "INSERT INTO work (job_key, slot_ms, account, status, due_ms, first_seen_ms, updated_ms)
         VALUES (?1, ?2, '', 'pending', ?3, ?3, ?3)",
        rusqlite::params![key, slot_ms, now],
    )?;
    let id = tx.last_insert_rowid();
    tx.commit().map_err(|e| locked_or(path, e))?;
    tracing::info!(path = %path.display(), job = key, work = id, "journal: job queued by hand");
    Ok(id)
}

/// `leadrelay leads forget`: redacts every lead and follow record of one person (by phone or
/// by id), scrubs the runs and calls that quote them, and records the erasure (`by`, when, how
/// many; never the phone) — whether or not a daemon has the journal open. The search (which
/// may scan every run and call for the phone) reads outside the write lock; the write lock is
/// then held only for the rewrites, like `dead retry`. A lead journaled between the two is not
/// in this erasure: running the command again finds it. Work the daemon is running right now
/// is redacted but left to finish; a run finishing after the erasure may journal what its
/// calls answered, so run `forget` again once it has (the README says so). At `now_ms`.
pub fn forget_offline(
    path: &Path,
    selector: &ForgetSelector,
    by: &str,
    now_ms: i64,
) -> Result<Erasure, StoreError> {
    let mut conn = open_existing(path)?;
    let candidates = retention::forget_candidates(&conn, selector)?;
    let matched = match selector {
        ForgetSelector::Phone(_) => "phone",
        ForgetSelector::Id(_) => "id",
    };
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| locked_or(path, e))?;
    let erasure = retention::forget(&tx, &candidates, matched, by, now_ms)?;
    tx.commit().map_err(|e| locked_or(path, e))?;
    drop(conn);
    // The WAL may still hold page images from before the rewrite.
    if let Err(error) = retention::truncate_wal(path) {
        tracing::warn!(%error, "journal: WAL truncate after an erasure failed; the next prune retries");
    }
    tracing::info!(
        path = %path.display(),
        erasure = erasure.id,
        leads = erasure.leads.len(),
        follows = erasure.follows.len(),
        "journal: erasure recorded"
    );
    Ok(erasure)
}

/// Opens an existing journal read-write, without creating, migrating or recovering anything.
fn open_existing(path: &Path) -> Result<Connection, StoreError> {
    let open_error = |message: String| StoreError::Open {
        path: path.to_path_buf(),
        message,
    };
    // Without this check SQLite would report a mistyped path as "unable to open database file".
    if !path.exists() {
        return Err(open_error("no such file".into()));
    }
    // No SQLITE_OPEN_CREATE: a mistyped path must not leave an empty database behind.
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| open_error(e.to_string()))?;
    conn.busy_timeout(schema::BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // As on the daemon's writer (see `schema::configure`): rewritten rows leave no old bytes.
    conn.pragma_update(None, "secure_delete", "ON")?;
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version == 0 {
        return Err(StoreError::NotAJournal {
            path: path.to_path_buf(),
        });
    }
    schema::check_version(version, path)?;
    if version < schema::known_version() {
        // Migrating is the owner's job (`Journal::open`); the SQL here is written for the
        // current schema only.
        return Err(StoreError::Conflict(format!(
            "journal {} has schema version {version}, older than this leadrelay ({}); start \
             the daemon on it once to migrate it, then retry",
            path.display(),
            schema::known_version()
        )));
    }
    Ok(conn)
}

/// Turns "database is locked" (the busy timeout ran out) into a message that says who holds
/// the lock and what to do.
fn locked_or(path: &Path, error: rusqlite::Error) -> StoreError {
    match error.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            StoreError::Conflict(format!(
                "journal {} stayed locked by another writer for {}s; try again",
                path.display(),
                schema::BUSY_TIMEOUT.as_secs()
            ))
        }
        _ => error.into(),
    }
}
