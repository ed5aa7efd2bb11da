//! Read-only queries on the PostgreSQL journal for the CLI, the console and `preview`: the
//! same answers as `sqlite/reader.rs`, from the shared database.
//!
//! [`Queries`] is synchronous (the CLI has no runtime; the daemon calls it from blocking
//! threads), so each query is an async one run to completion on a runtime handle: the daemon's
//! (the pool's connections live there), or, in a process without one, a runtime of its own.

use std::future::Future;
use std::path::Path;

use deadpool_postgres::Pool;

use deadpool_postgres::Transaction;
use tokio_postgres::types::ToSql;
use tokio_postgres::{IsolationLevel, Row};

use super::pg_error;
use crate::store::model::{
    BackupReport, CallStory, CheckpointRow, CronRow, DeadLetter, FollowStory, FollowSummary,
    JournalStatus, LeadQuery, LeadStory, LeadSummary, NodeRow, QuarantineSummary, RecordedCall,
    RecordedLead, RecordedRun, RetentionStatus, RunStory, WorkState, WorkStatus,
};
use crate::store::retention::{PruneReport, RetentionPolicy};
use crate::store::target::PgUrl;
use crate::store::types::{Arrival, Quarantined};
use crate::store::{parse_status, parse_via, Queries, StoreError};

/// Queries over the PostgreSQL journal. `Send + Sync`.
pub struct PgReader {
    pool: Pool,
    location: String,
    handle: tokio::runtime::Handle,
    // Kept alive when this reader made its own runtime (a process without one: the CLI).
    own_runtime: Option<tokio::runtime::Runtime>,
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
            own_runtime: None,
        }
    }

    /// Opens a reader from anywhere: inside a multi-threaded runtime (the CLI's) it uses that
    /// runtime; in a thread without one it starts a small runtime of its own.
    pub fn open(url: &PgUrl) -> Result<PgReader, StoreError> {
        let (handle, runtime) = match tokio::runtime::Handle::try_current() {
            Ok(handle) => (handle, None),
            Err(_) => {
                // One worker of its own: only a worker drives the runtime's IO and timers while
                // `Handle::block_on` waits (a current-thread runtime's handle never would).
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .enable_all()
                    .build()
                    .map_err(|e| StoreError::Open {
                        path: url.to_string().into(),
                        message: format!("cannot start a runtime: {e}"),
                    })?;
                (runtime.handle().clone(), Some(runtime))
            }
        };
        let reader = PgReader {
            pool: super::pool(url)?,
            location: url.to_string(),
            handle,
            own_runtime: runtime,
        };
        // Read-only: the schema is checked, never created or migrated.
        reader.block(open_checked(&reader.pool, &reader.location))?;
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
        if let Some(runtime) = self.own_runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Checks a connection of `pool` and that the database holds a journal of the schema this
/// build reads, without changing anything: for what must not migrate (read-only commands,
/// and the CLI's writes beside running nodes). Worded as the SQLite journal's read-only
/// open is: no schema, too new, too old.
pub(crate) async fn open_checked(pool: &Pool, location: &str) -> Result<(), StoreError> {
    let open_error = |message: String| StoreError::Open {
        path: location.into(),
        message,
    };
    let client = pool.get().await.map_err(|e| {
        open_error(match super::pool_error(e) {
            StoreError::Database(m) => m,
            other => other.to_string(),
        })
    })?;
    let exists: bool = client
        .query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])
        .await
        .map_err(pg_error)?
        .get(0);
    let found: i64 = if exists {
        client
            .query_one(
                "SELECT COALESCE(max(version), 0) FROM schema_migrations",
                &[],
            )
            .await
            .map_err(pg_error)?
            .get(0)
    } else {
        0
    };
    let known = super::schema::known_version();
    match found {
        0 => Err(open_error(
            "this database holds no leadrelay journal (no schema); run the daemon on it or \
             `leadrelay journal copy` to create it, or check `[daemon] journal`"
                .into(),
        )),
        found if found > known => Err(StoreError::TooNew {
            path: location.into(),
            found,
            known,
        }),
        found if found < known => Err(StoreError::Conflict(format!(
            "journal {location} has schema version {found}, older than this leadrelay \
             ({known}); start the daemon on it once to migrate it, then retry"
        ))),
        _ => Ok(()),
    }
}

type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

async fn rows(tx: &Transaction<'_>, sql: &str, params: Params<'_>) -> Result<Vec<Row>, StoreError> {
    tx.query(sql, params).await.map_err(pg_error)
}

async fn opt(
    tx: &Transaction<'_>,
    sql: &str,
    params: Params<'_>,
) -> Result<Option<Row>, StoreError> {
    tx.query_opt(sql, params).await.map_err(pg_error)
}

async fn one(tx: &Transaction<'_>, sql: &str, params: Params<'_>) -> Result<Row, StoreError> {
    tx.query_one(sql, params).await.map_err(pg_error)
}

async fn count(tx: &Transaction<'_>, sql: &str, params: Params<'_>) -> Result<u64, StoreError> {
    Ok(one(tx, sql, params).await?.get::<_, i64>(0).max(0) as u64)
}

/// `w` (a `work` row) is final for retention (as in `sqlite/retention.rs`).
pub(crate) const FINAL: &str = "(w.status IN ('done', 'skipped')
     OR (w.status = 'dead' AND NOT EXISTS (SELECT 1 FROM dead_letters d
                                         WHERE d.work_id = w.id AND d.retried_ms IS NULL)))";

const LEAD_SUMMARY: &str = "SELECT l.id, l.vendor, l.account, l.vendor_lead_id, l.kind,
        l.received_ms, w.status, w.attempts, w.reason
 FROM leads l JOIN work w ON w.lead_id = l.id";

/// A lead summary from a row of [`LEAD_SUMMARY`].
fn lead_summary(r: &Row) -> Result<LeadSummary, StoreError> {
    Ok(LeadSummary {
        id: r.get(0),
        vendor: r.get(1),
        account: r.get(2),
        vendor_lead_id: r.get(3),
        kind: r.get(4),
        received_ms: r.get(5),
        status: parse_status(r.get(6))?,
        attempts: r.get::<_, i64>(7) as u32,
        reason: r.get(8),
    })
}

async fn work_state(tx: &Transaction<'_>, work_id: i64) -> Result<Option<WorkState>, StoreError> {
    let Some(r) = opt(
        tx,
        "SELECT status, due_ms, reason FROM work WHERE id = $1",
        &[&work_id],
    )
    .await?
    else {
        return Ok(None);
    };
    Ok(Some(WorkState::from_stored(
        parse_status(r.get(0))?,
        r.get(1),
        r.get(2),
    )))
}

/// A lead's journal id from a vendor lead id or `#42` (as `sqlite/reader.rs` `find_lead`).
async fn find_lead(tx: &Transaction<'_>, id: &str) -> Result<Option<i64>, StoreError> {
    let id = id.trim();
    let by_id = |n: i64| async move {
        Ok::<_, StoreError>(
            opt(tx, "SELECT id FROM leads WHERE id = $1", &[&n])
                .await?
                .map(|r| r.get(0)),
        )
    };
    if let Some(number) = id.strip_prefix('#') {
        return match number.parse::<i64>() {
            Ok(n) => by_id(n).await,
            Err(_) => Ok(None),
        };
    }
    let by_vendor_id: Option<i64> = opt(
        tx,
        "SELECT id FROM leads WHERE vendor_lead_id = $1 ORDER BY received_ms DESC, id DESC
         LIMIT 1",
        &[&id],
    )
    .await?
    .map(|r| r.get(0));
    match (by_vendor_id, id.parse::<i64>()) {
        (Some(found), _) => Ok(Some(found)),
        (None, Ok(n)) => by_id(n).await,
        (None, Err(_)) => Ok(None),
    }
}

async fn runs_of(tx: &Transaction<'_>, work_id: i64) -> Result<Vec<RunStory>, StoreError> {
    let runs = rows(
        tx,
        "SELECT id, attempt, script, handler, version, status, error, started_ms, elapsed_ms,
                note, node
         FROM runs WHERE work_id = $1 ORDER BY id",
        &[&work_id],
    )
    .await?;
    let mut out = Vec::with_capacity(runs.len());
    for r in runs {
        let run_id: i64 = r.get(0);
        let calls = rows(
            tx,
            "SELECT seq, vendor, account, op, ok, status, code, message, attempts, replayed,
                    response
             FROM calls WHERE run_id = $1 ORDER BY seq",
            &[&run_id],
        )
        .await?
        .iter()
        .map(|c| CallStory {
            seq: c.get::<_, i64>(0) as u32,
            vendor: c.get(1),
            account: c.get(2),
            op: c.get(3),
            ok: c.get::<_, i64>(4) != 0,
            status: c.get::<_, Option<i64>>(5).map(|s| s as u16),
            code: c.get(6),
            message: c.get(7),
            attempts: c.get::<_, i64>(8) as u32,
            replayed: c.get::<_, i64>(9) != 0,
            response_summary: c
                .get::<_, Option<String>>(10)
                .map(|s| CallStory::summarize(&s)),
        })
        .collect();
        out.push(RunStory {
            attempt: r.get::<_, i64>(1) as u32,
            script: r.get(2),
            handler: r.get(3),
            version: r.get(4),
            status: r.get(5),
            error: r.get(6),
            started_ms: r.get(7),
            elapsed_ms: r.get(8),
            note: r.get(9),
            node: r.get(10),
            calls,
        });
    }
    Ok(out)
}

impl PgReader {
    /// Runs `f` in one read-only repeatable-read transaction: every part of an answer comes
    /// from one snapshot, as on SQLite.
    fn with<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: for<'t> FnOnce(
            &'t Transaction<'t>,
        ) -> std::pin::Pin<
            Box<dyn Future<Output = Result<T, StoreError>> + Send + 't>,
        >,
    {
        self.block(async {
            let mut client = self.client().await?;
            let tx = client
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await
                .map_err(pg_error)?;
            let out = f(&tx).await?;
            tx.commit().await.map_err(pg_error)?;
            Ok(out)
        })
    }
}

impl Queries for PgReader {
    fn location(&self) -> String {
        self.location.clone()
    }

    fn list_leads(&self, query: &LeadQuery) -> Result<Vec<LeadSummary>, StoreError> {
        let status = query.status.map(WorkStatus::as_str);
        let limit = query.limit.min(LeadQuery::MAX_LIMIT) as i64;
        let query = query.clone();
        self.with(move |tx| {
            Box::pin(async move {
                rows(
                    tx,
                    &format!(
                        "{LEAD_SUMMARY}
                         WHERE ($1::BIGINT IS NULL OR l.received_ms >= $1)
                           AND ($2::TEXT IS NULL OR w.status = $2)
                           AND ($3::TEXT IS NULL OR l.vendor = $3)
                           AND ($4::TEXT IS NULL OR l.account = $4)
                         ORDER BY l.received_ms DESC, l.id DESC
                         LIMIT $5"
                    ),
                    &[
                        &query.since_ms,
                        &status,
                        &query.vendor,
                        &query.account,
                        &limit,
                    ],
                )
                .await?
                .iter()
                .map(lead_summary)
                .collect()
            })
        })
    }

    fn lead_story(&self, id: &str) -> Result<Option<LeadStory>, StoreError> {
        let id = id.to_string();
        self.with(move |tx| {
            Box::pin(async move {
                let Some(lead_id) = find_lead(tx, &id).await? else {
                    return Ok(None);
                };
                let l = one(
                    tx,
                    "SELECT body, via, endpoint, received_ms FROM leads WHERE id = $1",
                    &[&lead_id],
                )
                .await?;
                let lead = serde_json::from_str(l.get(0))
                    .map_err(|e| StoreError::Corrupt(format!("lead {lead_id}: {e}")))?;
                let w = one(
                    tx,
                    "SELECT id, status, attempts, due_ms, reason FROM work WHERE lead_id = $1",
                    &[&lead_id],
                )
                .await?;
                let work_id: i64 = w.get(0);
                Ok(Some(LeadStory {
                    id: lead_id,
                    lead,
                    arrival: Arrival {
                        via: parse_via(l.get(1))?,
                        endpoint: l.get(2),
                        received_at_ms: l.get(3),
                    },
                    work_id,
                    attempts: w.get::<_, i64>(2) as u32,
                    runs: runs_of(tx, work_id).await?,
                    state: WorkState::from_stored(parse_status(w.get(1))?, w.get(3), w.get(4)),
                }))
            })
        })
    }

    fn dead_letters(&self) -> Result<Vec<DeadLetter>, StoreError> {
        self.with(|tx| {
            Box::pin(async move {
                Ok(rows(
                    tx,
                    "SELECT d.id, d.work_id, w.account, d.reason, d.attempts, d.created_ms,
                            l.vendor_lead_id, f.msg_id, w.job_key, w.slot_ms
                     FROM dead_letters d
                     JOIN work w ON w.id = d.work_id
                     LEFT JOIN leads l ON l.id = w.lead_id
                     LEFT JOIN follows f ON f.id = w.follow_id
                     WHERE d.retried_ms IS NULL
                     ORDER BY d.id",
                    &[],
                )
                .await?
                .iter()
                .map(|r| {
                    let lead: Option<String> = r.get(6);
                    let job: Option<String> = r.get(8);
                    let (kind, item) = match (lead, job) {
                        (Some(id), _) => ("lead", id),
                        (None, Some(key)) => ("job", key),
                        (None, None) => {
                            ("follow", r.get::<_, Option<String>>(7).unwrap_or_default())
                        }
                    };
                    DeadLetter {
                        id: r.get(0),
                        work_id: r.get(1),
                        kind: kind.to_string(),
                        account: r.get(2),
                        item,
                        slot_ms: r.get(9),
                        reason: r.get(3),
                        attempts: r.get::<_, i64>(4) as u32,
                        created_ms: r.get(5),
                    }
                })
                .collect())
            })
        })
    }

    fn quarantined(&self) -> Result<Vec<QuarantineSummary>, StoreError> {
        self.with(|tx| {
            Box::pin(async move {
                Ok(rows(
                    tx,
                    "SELECT id, account, endpoint, reason, content_type,
                            octet_length(body)::BIGINT, received_ms
                     FROM quarantine ORDER BY id",
                    &[],
                )
                .await?
                .iter()
                .map(|r| QuarantineSummary {
                    id: r.get(0),
                    account: r.get(1),
                    endpoint: r.get(2),
                    reason: r.get(3),
                    content_type: r.get(4),
                    bytes: r.get::<_, i64>(5) as usize,
                    received_ms: r.get(6),
                })
                .collect())
            })
        })
    }

    fn quarantine_item(&self, id: i64) -> Result<Option<Quarantined>, StoreError> {
        self.with(|tx| {
            Box::pin(async move {
                Ok(opt(
                    tx,
                    "SELECT account, endpoint, reason, content_type, body, received_ms
                     FROM quarantine WHERE id = $1",
                    &[&id],
                )
                .await?
                .map(|r| Quarantined {
                    account: r.get(0),
                    endpoint: r.get(1),
                    reason: r.get(2),
                    content_type: r.get(3),
                    body: r.get(4),
                    received_at_ms: r.get(5),
                }))
            })
        })
    }

    fn status(&self) -> Result<JournalStatus, StoreError> {
        self.with(|tx| {
            Box::pin(async move {
                let mut work: Vec<(WorkStatus, u64)> =
                    WorkStatus::ALL.iter().map(|s| (*s, 0)).collect();
                for r in rows(tx, "SELECT status, count(*) FROM work GROUP BY status", &[]).await? {
                    let status = parse_status(r.get(0))?;
                    if let Some(slot) = work.iter_mut().find(|(s, _)| *s == status) {
                        slot.1 = r.get::<_, i64>(1) as u64;
                    }
                }
                let checkpoints = rows(
                    tx,
                    "SELECT account, endpoint, position, updated_ms FROM checkpoints
                     ORDER BY account, endpoint",
                    &[],
                )
                .await?
                .iter()
                .map(|r| CheckpointRow {
                    account: r.get(0),
                    endpoint: r.get(1),
                    position: r.get(2),
                    updated_ms: r.get(3),
                })
                .collect();
                let cron = rows(
                    tx,
                    "SELECT schedule_key, last_slot_ms, last_claimed_ms, claims, skips,
                            last_skip_reason
                     FROM cron_state ORDER BY schedule_key",
                    &[],
                )
                .await?
                .iter()
                .map(|r| CronRow {
                    schedule_key: r.get(0),
                    last_slot_ms: r.get(1),
                    last_claimed_ms: r.get(2),
                    claims: r.get::<_, i64>(3) as u64,
                    skips: r.get::<_, i64>(4) as u64,
                    last_skip_reason: r.get(5),
                })
                .collect();
                let nodes = rows(
                    tx,
                    "SELECT name, started_ms, heartbeat_ms, leadrelay, scripts, open_breakers
                     FROM nodes ORDER BY name",
                    &[],
                )
                .await?
                .iter()
                .map(|r| NodeRow {
                    name: r.get(0),
                    started_ms: r.get(1),
                    heartbeat_ms: r.get(2),
                    leadrelay: r.get(3),
                    scripts: r.get(4),
                    open_breakers: r.get(5),
                })
                .collect();
                Ok(JournalStatus {
                    schema_version: one(
                        tx,
                        "SELECT COALESCE(max(version), 0) FROM schema_migrations",
                        &[],
                    )
                    .await?
                    .get(0),
                    leads: count(tx, "SELECT count(*) FROM leads", &[]).await?,
                    follows: count(tx, "SELECT count(*) FROM follows", &[]).await?,
                    work,
                    dead_letters: count(
                        tx,
                        "SELECT count(*) FROM dead_letters WHERE retried_ms IS NULL",
                        &[],
                    )
                    .await?,
                    quarantined: count(tx, "SELECT count(*) FROM quarantine", &[]).await?,
                    checkpoints,
                    cron,
                    nodes,
                })
            })
        })
    }

    /// As on SQLite, except the sizes: `file_bytes` is `pg_database_size` of the journal's
    /// database, and `wal_bytes`/`free_bytes` are 0 (PostgreSQL's WAL is the server's, shared
    /// by every database on it, and its free space is reused by VACUUM, not reclaimed).
    fn retention_status(
        &self,
        policy: RetentionPolicy,
        now_ms: i64,
    ) -> Result<RetentionStatus, StoreError> {
        let del = policy.delete_before(now_ms);
        let red = policy.redact_before(now_ms);
        self.with(|tx| {
            Box::pin(async move {
                let erasures = one(tx, "SELECT count(*), max(at_ms) FROM erasures", &[]).await?;
                let next_prune = PruneReport {
                    deleted_leads: count(
                        tx,
                        &format!(
                            "SELECT count(*) FROM leads l JOIN work w ON w.lead_id = l.id
                             WHERE l.received_ms < $1 AND {FINAL}"
                        ),
                        &[&del],
                    )
                    .await?,
                    deleted_follows: count(
                        tx,
                        &format!(
                            "SELECT count(*) FROM follows f JOIN work w ON w.follow_id = f.id
                             WHERE f.received_ms < $1 AND {FINAL}"
                        ),
                        &[&del],
                    )
                    .await?,
                    deleted_jobs: count(
                        tx,
                        &format!(
                            "SELECT count(*) FROM work w
                             WHERE w.job_key IS NOT NULL AND w.updated_ms < $1 AND {FINAL}"
                        ),
                        &[&del],
                    )
                    .await?,
                    // Rows past keep_days are deleted rather than redacted: not counted twice.
                    redacted_leads: count(
                        tx,
                        &format!(
                            "SELECT count(*) FROM leads l JOIN work w ON w.lead_id = l.id
                             WHERE l.redacted_ms IS NULL AND l.received_ms < $1
                               AND l.received_ms >= $2 AND {FINAL}"
                        ),
                        &[&red, &del],
                    )
                    .await?,
                    redacted_follows: count(
                        tx,
                        &format!(
                            "SELECT count(*) FROM follows f JOIN work w ON w.follow_id = f.id
                             WHERE f.redacted_ms IS NULL AND f.received_ms < $1
                               AND f.received_ms >= $2 AND {FINAL}"
                        ),
                        &[&red, &del],
                    )
                    .await?,
                };
                Ok(RetentionStatus {
                    file_bytes: one(tx, "SELECT pg_database_size(current_database())", &[])
                        .await?
                        .get::<_, i64>(0)
                        .max(0) as u64,
                    wal_bytes: 0,
                    free_bytes: 0,
                    oldest_lead_ms: one(tx, "SELECT min(received_ms) FROM leads", &[])
                        .await?
                        .get(0),
                    redacted_leads: count(
                        tx,
                        "SELECT count(*) FROM leads WHERE redacted_ms IS NOT NULL",
                        &[],
                    )
                    .await?,
                    erasures: erasures.get::<_, i64>(0) as u64,
                    last_erasure_ms: erasures.get(1),
                    next_prune,
                })
            })
        })
    }

    fn activity(&self, since_ms: i64, bucket_ms: i64) -> Result<Vec<(i64, u64, u64)>, StoreError> {
        let bucket_ms = bucket_ms.max(1);
        self.with(|tx| {
            Box::pin(async move {
                let mut out: std::collections::BTreeMap<i64, (u64, u64)> = Default::default();
                for r in rows(
                    tx,
                    "SELECT received_ms / $2 * $2, count(*) FROM leads WHERE received_ms >= $1
                     GROUP BY 1",
                    &[&since_ms, &bucket_ms],
                )
                .await?
                {
                    out.entry(r.get(0)).or_default().0 = r.get::<_, i64>(1) as u64;
                }
                for r in rows(
                    tx,
                    "SELECT updated_ms / $2 * $2, count(*) FROM work
                     WHERE status = 'done' AND lead_id IS NOT NULL AND updated_ms >= $1
                     GROUP BY 1",
                    &[&since_ms, &bucket_ms],
                )
                .await?
                {
                    out.entry(r.get(0)).or_default().1 = r.get::<_, i64>(1) as u64;
                }
                Ok(out.into_iter().map(|(at, (r, d))| (at, r, d)).collect())
            })
        })
    }

    fn search_leads(&self, text: &str, limit: usize) -> Result<Vec<LeadSummary>, StoreError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(Vec::new());
        }
        let journal_id: Option<i64> = text.trim_start_matches('#').parse().ok();
        let last4 =
            (text.len() == 4 && text.bytes().all(|b| b.is_ascii_digit())).then(|| text.to_string());
        let name =
            (!text.starts_with('#') && !text.bytes().all(|b| b.is_ascii_digit())).then(|| {
                let literal = text
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_");
                format!("%{literal}%")
            });
        let limit = limit.min(LeadQuery::MAX_LIMIT) as i64;
        let hashed = text.starts_with('#');
        let text = text.to_string();
        self.with(move |tx| {
            Box::pin(async move {
                // ILIKE: SQLite's LIKE ignores ASCII case.
                rows(
                    tx,
                    &format!(
                        "{LEAD_SUMMARY}
                         WHERE l.vendor_lead_id = $1
                            OR (l.id = $2 AND ($6 OR NOT EXISTS
                                (SELECT 1 FROM leads v WHERE v.vendor_lead_id = $1)))
                            OR ($3::TEXT IS NOT NULL
                                AND right(l.body::jsonb ->> 'phone', 4) = $3)
                            OR ($4::TEXT IS NOT NULL
                                AND (l.body::jsonb ->> 'name') ILIKE $4 ESCAPE '\\')
                         ORDER BY l.received_ms DESC, l.id DESC
                         LIMIT $5"
                    ),
                    &[&text, &journal_id, &last4, &name, &limit, &hashed],
                )
                .await?
                .iter()
                .map(lead_summary)
                .collect()
            })
        })
    }

    fn recorded_leads(
        &self,
        since_ms: Option<i64>,
        limit: usize,
    ) -> Result<Vec<RecordedLead>, StoreError> {
        let limit = limit.min(i64::MAX as usize) as i64;
        self.with(|tx| {
            Box::pin(async move {
                let leads = rows(
                    tx,
                    "SELECT l.id, l.body, w.id, w.status, w.reason, w.attempts
                     FROM leads l JOIN work w ON w.lead_id = l.id
                     WHERE ($1::BIGINT IS NULL OR l.received_ms >= $1)
                       AND w.status NOT IN ('pending', 'running')
                       AND l.redacted_ms IS NULL
                     ORDER BY l.received_ms DESC, l.id DESC
                     LIMIT $2",
                    &[&since_ms, &limit],
                )
                .await?;
                let mut out = Vec::with_capacity(leads.len());
                for l in leads.iter().rev() {
                    let id: i64 = l.get(0);
                    let lead = serde_json::from_str(l.get(1))
                        .map_err(|e| StoreError::Corrupt(format!("lead {id}: {e}")))?;
                    let work_id: i64 = l.get(2);
                    let attempts: i64 = l.get(5);
                    let mut runs = Vec::new();
                    for r in rows(
                        tx,
                        "SELECT id, script, handler, status, error FROM runs
                         WHERE work_id = $1 AND attempt = $2 ORDER BY id",
                        &[&work_id, &attempts],
                    )
                    .await?
                    {
                        let run_id: i64 = r.get(0);
                        let calls = rows(
                            tx,
                            "SELECT vendor, account, op, fingerprint, ok FROM calls
                             WHERE run_id = $1 ORDER BY seq",
                            &[&run_id],
                        )
                        .await?
                        .iter()
                        .map(|c| RecordedCall {
                            vendor: c.get(0),
                            account: c.get(1),
                            op: c.get(2),
                            fingerprint: c.get(3),
                            ok: c.get::<_, i64>(4) != 0,
                        })
                        .collect();
                        runs.push(RecordedRun {
                            script: r.get(1),
                            handler: r.get(2),
                            status: r.get(3),
                            error: r.get(4),
                            calls,
                        });
                    }
                    out.push(RecordedLead {
                        id,
                        lead,
                        status: parse_status(l.get(3))?,
                        reason: l.get(4),
                        runs,
                    });
                }
                Ok(out)
            })
        })
    }

    fn work_story(&self, work_id: i64) -> Result<Option<(WorkState, Vec<RunStory>)>, StoreError> {
        self.with(|tx| {
            Box::pin(async move {
                let Some(state) = work_state(tx, work_id).await? else {
                    return Ok(None);
                };
                Ok(Some((state, runs_of(tx, work_id).await?)))
            })
        })
    }

    fn list_follows(
        &self,
        since_ms: Option<i64>,
        account: Option<&str>,
        limit: usize,
    ) -> Result<Vec<FollowSummary>, StoreError> {
        let limit = limit.min(LeadQuery::MAX_LIMIT) as i64;
        let account = account.map(str::to_string);
        self.with(move |tx| {
            Box::pin(async move {
                rows(
                    tx,
                    "SELECT f.id, f.account, f.msg_id, f.data_id, f.received_ms, w.status,
                            w.reason
                     FROM follows f JOIN work w ON w.follow_id = f.id
                     WHERE ($1::BIGINT IS NULL OR f.received_ms >= $1)
                       AND ($2::TEXT IS NULL OR f.account = $2)
                     ORDER BY f.received_ms DESC, f.id DESC
                     LIMIT $3",
                    &[&since_ms, &account, &limit],
                )
                .await?
                .iter()
                .map(|r| {
                    Ok(FollowSummary {
                        id: r.get(0),
                        account: r.get(1),
                        msg_id: r.get(2),
                        data_id: r.get(3),
                        received_ms: r.get(4),
                        status: parse_status(r.get(5))?,
                        reason: r.get(6),
                    })
                })
                .collect()
            })
        })
    }

    fn follow_story(&self, id: &str) -> Result<Option<FollowStory>, StoreError> {
        let id = id.trim().to_string();
        self.with(move |tx| {
            Box::pin(async move {
                let id = id.as_str();
                let found: Option<i64> = match id.strip_prefix('#') {
                    Some(n) => match n.parse::<i64>() {
                        Ok(n) => opt(tx, "SELECT id FROM follows WHERE id = $1", &[&n])
                            .await?
                            .map(|r| r.get(0)),
                        Err(_) => None,
                    },
                    None => opt(
                        tx,
                        "SELECT id FROM follows WHERE msg_id = $1
                         ORDER BY received_ms DESC, id DESC LIMIT 1",
                        &[&id],
                    )
                    .await?
                    .map(|r| r.get(0)),
                };
                let Some(follow_id) = found else {
                    return Ok(None);
                };
                let f = one(
                    tx,
                    "SELECT account, msg_id, data_id, record, via, endpoint, received_ms
                     FROM follows WHERE id = $1",
                    &[&follow_id],
                )
                .await?;
                let record = serde_json::from_str(f.get(3))
                    .map_err(|e| StoreError::Corrupt(format!("follow record {follow_id}: {e}")))?;
                let w = one(
                    tx,
                    "SELECT id, attempts FROM work WHERE follow_id = $1",
                    &[&follow_id],
                )
                .await?;
                let work_id: i64 = w.get(0);
                let state = work_state(tx, work_id).await?.ok_or_else(|| {
                    StoreError::Corrupt(format!("follow record {follow_id}: no work"))
                })?;
                Ok(Some(FollowStory {
                    id: follow_id,
                    account: f.get(0),
                    msg_id: f.get(1),
                    data_id: f.get(2),
                    record,
                    arrival: Arrival {
                        via: parse_via(f.get(4))?,
                        endpoint: f.get(5),
                        received_at_ms: f.get(6),
                    },
                    work_id,
                    attempts: w.get::<_, i64>(1) as u32,
                    runs: runs_of(tx, work_id).await?,
                    state,
                }))
            })
        })
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
