//! What an operator does to a journal while daemons run on it (`dead retry`, `leads reroute`,
//! `job run`), on either backend: on SQLite through a short transaction of its own under the
//! file's write lock (`sqlite::offline`), on PostgreSQL through a connection that claims
//! nothing. Synchronous, for the CLI's commands; safe to call from inside its runtime.

use std::future::Future;

use super::model::{DeadSelector, RerouteSelector};
use super::postgres::PgJournal;
use super::target::PgUrl;
use super::{JournalTarget, StoreError, WorkQueue};
use crate::clock::Clock;

/// Puts dead letters back to pending; how many.
pub fn retry_dead(
    target: &JournalTarget,
    which: DeadSelector,
    clock: Clock,
) -> Result<usize, StoreError> {
    match target {
        JournalTarget::Sqlite(path) => super::offline::retry_dead_offline(path, which),
        JournalTarget::Postgres(url) => on_postgres(url, clock, |journal| async move {
            journal.retry_dead(which).await
        }),
    }
}

/// Puts unrouted work (or one lead's) back to pending; how many.
pub fn reroute(
    target: &JournalTarget,
    which: &RerouteSelector,
    clock: Clock,
) -> Result<usize, StoreError> {
    match target {
        JournalTarget::Sqlite(path) => super::offline::reroute_offline(path, which),
        JournalTarget::Postgres(url) => {
            let which = which.clone();
            on_postgres(
                url,
                clock,
                |journal| async move { journal.reroute(which).await },
            )
        }
    }
}

/// Queues a run of job `key` at `slot_ms`; the work id.
pub fn enqueue_job(
    target: &JournalTarget,
    key: &str,
    slot_ms: i64,
    clock: Clock,
) -> Result<i64, StoreError> {
    match target {
        JournalTarget::Sqlite(path) => super::offline::enqueue_job_offline(path, key, slot_ms),
        JournalTarget::Postgres(url) => {
            let key = key.to_string();
            on_postgres(url, clock, |journal| async move {
                journal.enqueue_job(&key, slot_ms).await
            })
        }
    }
}

/// Runs `f` on a claim-free PostgreSQL handle to completion: inside a multi-threaded runtime
/// (the CLI's) on it, otherwise on a small runtime of its own.
fn on_postgres<T, F, Fut>(url: &PgUrl, clock: Clock, f: F) -> Result<T, StoreError>
where
    F: FnOnce(PgJournal) -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    super::postgres::block_on(async move { f(PgJournal::connect_tool(url, clock).await?).await })
}
