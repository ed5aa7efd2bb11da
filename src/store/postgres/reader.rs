//! Read-only queries on the PostgreSQL journal for the CLI, the console and `preview`: the
//! same answers as `sqlite/reader.rs`, from the shared database.
//!
//! [`Queries`] is synchronous (the CLI has no runtime; the daemon calls it from blocking
//! threads), so each query is an async one run to completion on a runtime handle: the daemon's
//! (the pool's connections live there), or, in a process without one, a runtime of its own.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use deadpool_postgres::Pool;

use crate::store::model::{
    BackupReport, DeadLetter, FollowStory, FollowSummary, JournalStatus, LeadQuery, LeadStory,
    LeadSummary, QuarantineSummary, RecordedLead, RetentionStatus, RunStory, WorkState,
};
use crate::store::retention::RetentionPolicy;
use crate::store::target::PgUrl;
use crate::store::types::Quarantined;
use crate::store::{Queries, StoreError};

/// Queries over the PostgreSQL journal. `Send + Sync`.
pub struct PgReader {
    pool: Pool,
    location: String,
    handle: tokio::runtime::Handle,
    // Kept alive when this reader made its own runtime (a process without one: the CLI).
    _runtime: Option<Arc<tokio::runtime::Runtime>>,
}

impl std::fmt::Debug for PgReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgReader")
            .field("location", &self.location)
            .finish()
    }
}

impl PgReader {
    /// A reader on the daemon's pool; must be created inside the daemon's runtime.
    pub(crate) fn new(pool: Pool, location: String) -> PgReader {
        PgReader {
            pool,
            location,
            handle: tokio::runtime::Handle::current(),
            _runtime: None,
        }
    }

    /// Opens a reader from anywhere: inside a multi-threaded runtime (the CLI's) it uses that
    /// runtime; in a thread without one it starts a small runtime of its own.
    pub fn open(url: &PgUrl) -> Result<PgReader, StoreError> {
        let (handle, runtime) = match tokio::runtime::Handle::try_current() {
            Ok(handle) => (handle, None),
            Err(_) => {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| StoreError::Open {
                        path: url.to_string().into(),
                        message: format!("cannot start a runtime: {e}"),
                    })?;
                (runtime.handle().clone(), Some(Arc::new(runtime)))
            }
        };
        let mut reader = PgReader {
            pool: super::pool(url)?,
            location: url.to_string(),
            handle,
            _runtime: runtime,
        };
        reader.pool = reader.block(super::connect(url))?;
        Ok(reader)
    }

    /// Runs one query to completion from synchronous code: on a blocking thread directly; on
    /// a worker of a multi-threaded runtime by handing the worker's other tasks away first.
    fn block<T>(
        &self,
        query: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        match tokio::runtime::Handle::try_current() {
            Ok(current)
                if current.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread =>
            {
                tokio::task::block_in_place(|| self.handle.block_on(query))
            }
            _ => self.handle.block_on(query),
        }
    }

    /// A pooled connection.
    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(super::pool_error)
    }
}

impl Drop for PgReader {
    fn drop(&mut self) {
        // A runtime of its own may be dropped from async code (the CLI's); shutting it down in
        // the background is the one way that never blocks.
        if let Some(runtime) = self._runtime.take().and_then(|r| Arc::try_unwrap(r).ok()) {
            runtime.shutdown_background();
        }
    }
}

fn not_yet(what: &str) -> StoreError {
    StoreError::Database(format!(
        "{what} is not available on the PostgreSQL journal yet"
    ))
}

impl Queries for PgReader {
    fn location(&self) -> String {
        self.location.clone()
    }
    fn list_leads(&self, _query: &LeadQuery) -> Result<Vec<LeadSummary>, StoreError> {
        Err(not_yet("leads list"))
    }
    fn lead_story(&self, _id: &str) -> Result<Option<LeadStory>, StoreError> {
        Err(not_yet("leads show"))
    }
    fn dead_letters(&self) -> Result<Vec<DeadLetter>, StoreError> {
        Err(not_yet("dead list"))
    }
    fn quarantined(&self) -> Result<Vec<QuarantineSummary>, StoreError> {
        Err(not_yet("quarantine list"))
    }
    fn quarantine_item(&self, _id: i64) -> Result<Option<Quarantined>, StoreError> {
        Err(not_yet("quarantine show"))
    }
    fn status(&self) -> Result<JournalStatus, StoreError> {
        Err(not_yet("status"))
    }
    fn retention_status(
        &self,
        _policy: RetentionPolicy,
        _now_ms: i64,
    ) -> Result<RetentionStatus, StoreError> {
        Err(not_yet("retention status"))
    }
    fn activity(
        &self,
        _since_ms: i64,
        _bucket_ms: i64,
    ) -> Result<Vec<(i64, u64, u64)>, StoreError> {
        Err(not_yet("activity"))
    }
    fn search_leads(&self, _text: &str, _limit: usize) -> Result<Vec<LeadSummary>, StoreError> {
        Err(not_yet("search"))
    }
    fn recorded_leads(
        &self,
        _since_ms: Option<i64>,
        _limit: usize,
    ) -> Result<Vec<RecordedLead>, StoreError> {
        Err(not_yet("recorded leads"))
    }
    fn work_story(&self, _work_id: i64) -> Result<Option<(WorkState, Vec<RunStory>)>, StoreError> {
        Err(not_yet("work story"))
    }
    fn list_follows(
        &self,
        _since_ms: Option<i64>,
        _account: Option<&str>,
        _limit: usize,
    ) -> Result<Vec<FollowSummary>, StoreError> {
        Err(not_yet("follows list"))
    }
    fn follow_story(&self, _id: &str) -> Result<Option<FollowStory>, StoreError> {
        Err(not_yet("follows show"))
    }
    fn migrations(&self) -> Result<Vec<(i64, String)>, StoreError> {
        self.block(async { super::schema::applied(&*self.client().await?).await })
    }
    fn backup_to(&self, _dest: &Path) -> Result<BackupReport, StoreError> {
        Err(StoreError::Conflict(
            "a PostgreSQL journal is backed up with the database's own tools (pg_dump, or the \
             managed service's snapshots), or copied to a file with `leadrelay journal copy`"
                .to_string(),
        ))
    }
}
