//! The write side of the PostgreSQL journal: every role but [`Queries`], for one node among
//! several sharing the database (see the module doc of `postgres` for leases and waking).

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Object, Pool, Transaction};
use tokio::sync::Notify;

use super::reader::PgReader;
use super::{pg_error, pool_error};
use crate::clock::Clock;
use crate::lead::Lead;
use crate::store::codec::{decode_claimed, decode_prior, serialize_response, ClaimedRow, PriorRow};
use crate::store::model::{
    CallRow, CronFire, DeadSelector, PriorCall, RerouteSelector, RunRecord, RunRow, RunStart, Work,
    WorkOutcome, WorkStatus,
};
use crate::store::retention::{lead_phone_hash, record_phone_hash, PruneReport, RetentionPolicy};
use crate::store::target::PgUrl;
use crate::store::types::{
    Accepted, Arrival, AssignmentStore, Checkpoint, FollowArrival, IntakeError, MemoryAssignments,
    OnceError, OnceStore, Quarantined,
};
use crate::store::{
    parse_status, Backend, CallLog, Checkpoints, Claims, CronLedger, Intake, JournalOptions,
    Maintenance, Queries, StoreError, WorkQueue,
};

/// The channel intake and breaker recoveries notify on.
const CHANNEL: &str = "leadrelay_work";

/// How long claimed cron slots are remembered one by one (as on SQLite).
const CRON_RETENTION_MS: i64 = 7 * 24 * 3600 * 1000;

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        pg_error(e)
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        pool_error(e)
    }
}

/// One node's handle on the shared PostgreSQL journal. Cheap to clone.
#[derive(Clone)]
pub struct PgJournal {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    url: PgUrl,
    node: String,
    // Who claims: the node's name and this process's own id, so a restarted node neither
    // renews nor finishes what its previous process had claimed.
    instance: String,
    clock: Clock,
    lease_ms: i64,
    backlog: AtomicI64,
    // This node's own changes to `backlog`, made and in the making: a heartbeat's recount is
    // kept only when none was committed while it ran (its snapshot may or may not hold it).
    backlog_changes: std::sync::atomic::AtomicU64,
    backlog_committing: AtomicI64,
    backlog_limit: u64,
    // The earliest retry or lease lapse as of the last claim that left room (`i64::MAX`: none).
    next_due_ms: AtomicI64,
    reader: PgReader,
    handle: tokio::runtime::Handle,
    waker: Mutex<Option<Arc<Notify>>>,
    // The work this process claimed and has not finished: the only leases it renews. An item
    // whose finish failed (the database went away) leaves this set, so its lease lapses and it
    // is claimed again, its succeeded calls replayed.
    held: Mutex<std::collections::HashSet<i64>>,
    // (scripts, open breakers) as the daemon last reported them; written by the heartbeat.
    report: Mutex<(String, String)>,
    // The other nodes whose scripts differed at the last heartbeat (warned about once).
    differing: Mutex<Vec<String>>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    database_down: AtomicBool,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for task in self
            .tasks
            .lock()
            .map(|mut t| std::mem::take(&mut *t))
            .unwrap_or_default()
        {
            task.abort();
        }
    }
}

impl std::fmt::Debug for PgJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgJournal")
            .field("url", &self.inner.url)
            .field("node", &self.inner.node)
            .finish()
    }
}

impl PgJournal {
    /// Connects, migrates, takes back the work still leased to this node's name (it died
    /// with it), and starts the heartbeat and the listener. Other nodes' work is left alone.
    pub async fn connect(url: &PgUrl, options: JournalOptions) -> Result<PgJournal, StoreError> {
        let pool = super::connect(url).await?;
        let node = options.node.clone();
        let now = options.clock.unix_millis();
        {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            let interrupted = tx
                .execute(
                    "UPDATE runs SET status = 'interrupted'
                     WHERE status = 'running' AND work_id IN
                         (SELECT id FROM work
                          WHERE status = 'running' AND split_part(claimed_by, '#', 1) = $1)",
                    &[&node],
                )
                .await?;
            let recovered = tx
                .execute(
                    "UPDATE work SET status = 'pending', claimed_by = NULL,
                                     lease_until_ms = NULL, updated_ms = $2
                     WHERE status = 'running' AND split_part(claimed_by, '#', 1) = $1",
                    &[&node, &now],
                )
                .await?;
            tx.commit().await?;
            if recovered > 0 {
                tracing::warn!(
                    recovered,
                    interrupted,
                    node = %node,
                    "journal: work this node was running when it stopped is pending again"
                );
            }
        }
        let journal = PgJournal::with_pool(pool, url, options.clone());
        journal.heartbeat(now).await?;
        let weak = Arc::downgrade(&journal.inner);
        let beat = options.lease / 4;
        let heartbeat = tokio::spawn(async move {
            let mut tick = tokio::time::interval(beat.max(Duration::from_millis(100)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                let journal = PgJournal { inner };
                let now = journal.inner.clock.unix_millis();
                journal.note_health(journal.heartbeat(now).await);
            }
        });
        let listener = tokio::spawn(listen(url.clone(), Arc::downgrade(&journal.inner)));
        journal
            .inner
            .tasks
            .lock()
            .expect("tasks lock")
            .extend([heartbeat, listener]);
        tracing::info!(journal = %url, node = %journal.inner.node, "journal open (PostgreSQL)");
        Ok(journal)
    }

    /// The handle itself, without recovery, heartbeat or listener.
    fn with_pool(pool: Pool, url: &PgUrl, options: JournalOptions) -> PgJournal {
        PgJournal {
            inner: Arc::new(Inner {
                reader: PgReader::new(pool.clone(), url.to_string()),
                pool,
                url: url.clone(),
                instance: format!(
                    "{}#{}",
                    options.node,
                    &uuid::Uuid::new_v4().simple().to_string()[..8]
                ),
                node: options.node,
                clock: options.clock,
                lease_ms: options.lease.as_millis() as i64,
                backlog: AtomicI64::new(0),
                backlog_changes: std::sync::atomic::AtomicU64::new(0),
                backlog_committing: AtomicI64::new(0),
                backlog_limit: options.backlog_limit,
                next_due_ms: AtomicI64::new(0),
                handle: tokio::runtime::Handle::current(),
                waker: Mutex::new(None),
                held: Mutex::new(std::collections::HashSet::new()),
                report: Mutex::new((String::new(), String::new())),
                differing: Mutex::new(Vec::new()),
                tasks: Mutex::new(Vec::new()),
                database_down: AtomicBool::new(false),
            }),
        }
    }

    /// A handle for one operator command beside running nodes (`dead retry`, `leads reroute`,
    /// `job run`): it claims nothing, so it neither recovers work, heartbeats nor listens, and it
    /// is not listed among the nodes.
    pub async fn connect_tool(url: &PgUrl, clock: Clock) -> Result<PgJournal, StoreError> {
        let pool = super::connect(url).await?;
        Ok(PgJournal::with_pool(
            pool,
            url,
            JournalOptions {
                clock,
                node: "leadrelay-cli".to_string(),
                ..JournalOptions::default()
            },
        ))
    }

    /// `leadrelay job run`: a pending work item for job `key` at `slot_ms`, run by whichever
    /// node claims it first, like a fired cron slot (no cron slot is claimed).
    pub async fn enqueue_job(&self, key: &str, slot_ms: i64) -> Result<i64, StoreError> {
        let now = self.inner.clock.unix_millis();
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let id = insert_job_work(&tx, key, slot_ms, now).await?;
        self.commit_due(tx, 1, 1).await?;
        Ok(id)
    }

    /// This node's name, as runs and the `nodes` table record it.
    pub fn node(&self) -> &str {
        &self.inner.node
    }

    async fn client(&self) -> Result<Object, StoreError> {
        Ok(self.inner.pool.get().await?)
    }

    /// Logs the database going away and coming back once each, not every heartbeat.
    fn note_health(&self, result: Result<(), StoreError>) {
        match result {
            Ok(()) => {
                if self.inner.database_down.swap(false, Ordering::Relaxed) {
                    tracing::info!(journal = %self.inner.url, "journal: the database is back");
                    self.wake();
                }
            }
            Err(error) => {
                if !self.inner.database_down.swap(true, Ordering::Relaxed) {
                    tracing::error!(
                        journal = %self.inner.url,
                        %error,
                        "journal: the database is unreachable; pushes are answered 503 until \
                         it is back"
                    );
                }
            }
        }
    }

    /// One heartbeat: this node's row, its running work's leases, and the cluster's backlog.
    async fn heartbeat(&self, now: i64) -> Result<(), StoreError> {
        let client = self.client().await?;
        let node = &self.inner.node;
        let lease_until = now + self.inner.lease_ms;
        let (scripts, breakers) = self
            .inner
            .report
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default();
        client
            .execute(
                "INSERT INTO nodes (name, started_ms, heartbeat_ms, leadrelay, scripts,
                                    open_breakers)
                 VALUES ($1, $2, $2, $3, $4, $5)
                 ON CONFLICT (name) DO UPDATE SET heartbeat_ms = $2, leadrelay = $3,
                                                  scripts = $4, open_breakers = $5",
                &[node, &now, &env!("CARGO_PKG_VERSION"), &scripts, &breakers],
            )
            .await?;
        // Nodes alive within three leases that run other script versions: a deploy that
        // reached some nodes only. Warned once per change, not every heartbeat.
        let differing: Vec<String> = client
            .query(
                "SELECT name FROM nodes
                 WHERE name <> $1 AND heartbeat_ms > $2 AND scripts <> $3 AND scripts <> ''
                 ORDER BY name",
                &[node, &(now - 3 * self.inner.lease_ms), &scripts],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        if let Ok(mut known) = self.inner.differing.lock() {
            if *known != differing && !scripts.is_empty() {
                if !differing.is_empty() {
                    tracing::warn!(
                        node = %node,
                        others = %differing.join(", "),
                        "nodes run different script versions; `leadrelay status` lists them"
                    );
                }
                *known = differing;
            }
        }
        let held: Vec<i64> = self
            .inner
            .held
            .lock()
            .map(|held| held.iter().copied().collect())
            .unwrap_or_default();
        if !held.is_empty() {
            client
                .execute(
                    "UPDATE work SET lease_until_ms = $3
                     WHERE id = ANY($2) AND status = 'running' AND claimed_by = $1",
                    &[&self.inner.instance, &held, &lease_until],
                )
                .await?;
        }
        let changes = self.inner.backlog_changes.load(Ordering::SeqCst);
        let backlog: i64 = client
            .query_one(
                "SELECT count(*) FROM work WHERE status IN ('pending', 'running', 'retry')",
                &[],
            )
            .await?
            .get(0);
        // Otherwise the next heartbeat recounts; this node's own changes are counted anyway.
        if self.inner.backlog_changes.load(Ordering::SeqCst) == changes
            && self.inner.backlog_committing.load(Ordering::SeqCst) == 0
        {
            self.inner.backlog.store(backlog, Ordering::SeqCst);
        }
        Ok(())
    }

    /// Commits `tx`, which changed the backlog by `by`, and counts it in this node's figure.
    async fn commit_counted(&self, tx: Transaction<'_>, by: i64) -> Result<(), StoreError> {
        self.inner.backlog_committing.fetch_add(1, Ordering::SeqCst);
        let committed = tx.commit().await;
        if committed.is_ok() {
            self.inner.backlog.fetch_add(by, Ordering::SeqCst);
            self.inner.backlog_changes.fetch_add(1, Ordering::SeqCst);
        }
        self.inner.backlog_committing.fetch_sub(1, Ordering::SeqCst);
        Ok(committed?)
    }

    fn wake(&self) {
        if let Some(waker) = self.inner.waker.lock().ok().and_then(|w| w.clone()) {
            waker.notify_one();
        }
    }

    /// Runs `f` to completion from a blocking thread (a script's), on the runtime the pool's
    /// connections live on.
    fn block<T>(&self, f: impl std::future::Future<Output = T>) -> T {
        self.inner.handle.block_on(f)
    }
}

/// Wakes this node's dispatcher on every `NOTIFY leadrelay_work`, on a connection of its own;
/// reconnects after a second when the database goes away, and wakes once on reconnecting (a
/// notification sent meanwhile was lost).
async fn listen(url: PgUrl, inner: std::sync::Weak<Inner>) {
    loop {
        match listen_once(&url, &inner).await {
            Ok(()) => return,
            Err(error) => tracing::debug!(%error, "journal: listener lost its connection"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let Some(inner) = inner.upgrade() else { return };
        PgJournal { inner }.wake();
    }
}

async fn listen_once(url: &PgUrl, inner: &std::sync::Weak<Inner>) -> Result<(), StoreError> {
    let config: tokio_postgres::Config = url
        .expose()
        .parse()
        .map_err(|e: tokio_postgres::Error| StoreError::Database(e.to_string()))?;
    let (client, mut connection) =
        if config.get_ssl_mode() == tokio_postgres::config::SslMode::Disable {
            let (c, conn) = config.connect(tokio_postgres::NoTls).await?;
            (
                c,
                Box::pin(conn) as std::pin::Pin<Box<dyn ConnectionStream>>,
            )
        } else {
            let (c, conn) = config.connect(super::tls()).await?;
            (
                c,
                Box::pin(conn) as std::pin::Pin<Box<dyn ConnectionStream>>,
            )
        };
    let (sender, mut notifications) = tokio::sync::mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        loop {
            match std::future::poll_fn(|cx| connection.as_mut().poll_next_message(cx)).await {
                Some(Ok(tokio_postgres::AsyncMessage::Notification(_))) => {
                    if sender.send(()).is_err() {
                        return;
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return,
            }
        }
    });
    client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
    while notifications.recv().await.is_some() {
        let Some(inner) = inner.upgrade() else {
            driver.abort();
            return Ok(());
        };
        PgJournal { inner }.wake();
    }
    Err(StoreError::Database(
        "listener connection closed".to_string(),
    ))
}

/// A `tokio_postgres::Connection` of either TLS kind, polled for its messages.
trait ConnectionStream: Send {
    fn poll_next_message(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<tokio_postgres::AsyncMessage, tokio_postgres::Error>>>;
}

impl<S, T> ConnectionStream for tokio_postgres::Connection<S, T>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send,
{
    fn poll_next_message(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<tokio_postgres::AsyncMessage, tokio_postgres::Error>>> {
        self.get_mut().poll_message(cx)
    }
}

impl PgJournal {
    /// Commits `tx`, which made `new` items due (new, revived or woken): other nodes are woken
    /// on commit (`NOTIFY` is delivered then, and not at all on rollback), and this node's
    /// backlog figure counts the ones added to it (`backlog` more).
    async fn commit_due(
        &self,
        tx: Transaction<'_>,
        new: i64,
        backlog: i64,
    ) -> Result<(), StoreError> {
        if new > 0 {
            tx.execute(&format!("SELECT pg_notify('{CHANNEL}', '')"), &[])
                .await?;
        }
        self.commit_counted(tx, backlog).await
    }
}

#[async_trait]
impl Intake for PgJournal {
    async fn accept_leads(
        &self,
        leads: Vec<Lead>,
        arrival: Arrival,
        checkpoint: Option<Checkpoint>,
    ) -> Result<Vec<Accepted>, IntakeError> {
        let mut rows = Vec::with_capacity(leads.len());
        for lead in leads {
            let body = serde_json::to_string(&lead)
                .map_err(|e| StoreError::Corrupt(format!("lead {}: {e}", lead.id)))?;
            rows.push((lead_phone_hash(&lead), lead, body));
        }
        let now = self.inner.clock.unix_millis();
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(StoreError::from)?;
        let insert_lead = tx
            .prepare_cached(
                "INSERT INTO leads (vendor, account, vendor_lead_id, kind, body, via, endpoint,
                                    received_ms, phone_hash)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 ON CONFLICT (account, vendor_lead_id) DO NOTHING
                 RETURNING id",
            )
            .await
            .map_err(StoreError::from)?;
        let insert_work = tx
            .prepare_cached(
                "INSERT INTO work (lead_id, account, status, due_ms, first_seen_ms, updated_ms)
                 VALUES ($1, $2, 'pending', $3, $3, $4)",
            )
            .await
            .map_err(StoreError::from)?;
        // Two batches sharing leads (one page pulled by two nodes, a push beside a pull) wait
        // for each other's uncommitted insert of a shared lead; inserting in batch order, those
        // waits could form a cycle, which PostgreSQL breaks by refusing a batch (40P01). So a
        // batch of several leads first takes a transaction lock on each of its leads' keys in
        // one order common to all nodes; its inserts then wait only on batches that already
        // hold their keys. The leads themselves go in in the batch's order, as on SQLite.
        if rows.len() > 1 {
            let mut keys: Vec<i64> = rows.iter().map(|(_, lead, _)| lead_lock(lead)).collect();
            keys.sort_unstable();
            keys.dedup();
            tx.execute(
                "SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS k",
                &[&keys],
            )
            .await
            .map_err(StoreError::from)?;
        }
        let mut out = Vec::with_capacity(rows.len());
        for (phone_hash, lead, body) in &rows {
            let inserted = tx
                .query_opt(
                    &insert_lead,
                    &[
                        &lead.vendor.as_str(),
                        &lead.account,
                        &lead.id,
                        &lead.kind.as_str(),
                        body,
                        &arrival.via.as_str(),
                        &arrival.endpoint,
                        &arrival.received_at_ms,
                        phone_hash,
                    ],
                )
                .await
                .map_err(StoreError::from)?;
            let Some(row) = inserted else {
                out.push(Accepted::Duplicate);
                continue;
            };
            let lead_id: i64 = row.get(0);
            tx.execute(
                &insert_work,
                &[&lead_id, &lead.account, &arrival.received_at_ms, &now],
            )
            .await
            .map_err(StoreError::from)?;
            out.push(Accepted::New);
        }
        if let Some(cp) = &checkpoint {
            upsert_checkpoint(&tx, cp, now).await?;
        }
        let new = out.iter().filter(|a| **a == Accepted::New).count() as i64;
        self.commit_due(tx, new, new).await?;
        Ok(out)
    }

    async fn accept_follow(&self, follow: FollowArrival) -> Result<Accepted, IntakeError> {
        let record = serde_json::to_string(&follow.record)
            .map_err(|e| StoreError::Corrupt(format!("follow {}: {e}", follow.msg_id)))?;
        let phone_hash = record_phone_hash(&follow.record);
        let now = self.inner.clock.unix_millis();
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(StoreError::from)?;
        let inserted = tx
            .query_opt(
                "INSERT INTO follows (account, msg_id, data_id, record, via, endpoint,
                                      received_ms, phone_hash)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (account, msg_id) DO NOTHING
                 RETURNING id",
                &[
                    &follow.account,
                    &follow.msg_id,
                    &follow.data_id,
                    &record,
                    &follow.arrival.via.as_str(),
                    &follow.arrival.endpoint,
                    &follow.arrival.received_at_ms,
                    &phone_hash,
                ],
            )
            .await
            .map_err(StoreError::from)?;
        let Some(row) = inserted else {
            return Ok(Accepted::Duplicate);
        };
        let follow_id: i64 = row.get(0);
        tx.execute(
            "INSERT INTO work (follow_id, account, status, due_ms, first_seen_ms, updated_ms)
             VALUES ($1, $2, 'pending', $3, $3, $4)",
            &[
                &follow_id,
                &follow.account,
                &follow.arrival.received_at_ms,
                &now,
            ],
        )
        .await
        .map_err(StoreError::from)?;
        self.commit_due(tx, 1, 1).await?;
        Ok(Accepted::New)
    }

    async fn quarantine(&self, item: Quarantined) -> Result<i64, IntakeError> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "INSERT INTO quarantine (account, endpoint, reason, content_type, body,
                                         received_ms)
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                &[
                    &item.account,
                    &item.endpoint,
                    &item.reason,
                    &item.content_type,
                    &item.body,
                    &item.received_at_ms,
                ],
            )
            .await
            .map_err(StoreError::from)?;
        Ok(row.get(0))
    }

    fn backlog(&self) -> u64 {
        self.inner.backlog.load(Ordering::Relaxed).max(0) as u64
    }

    /// Over the limit, or the database unreachable at the last heartbeat: either way a push
    /// is answered 503 at once rather than waiting on a connection.
    fn is_overloaded(&self) -> bool {
        self.backlog() > self.inner.backlog_limit
            || self.inner.database_down.load(Ordering::Relaxed)
    }
}

/// The advisory lock key of a lead's unique key (account, vendor lead id): the same on every
/// node. Two keys whose digests collide share a lock: they wait for each other, no more.
fn lead_lock(lead: &Lead) -> i64 {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("lead\x1f{}\x1f{}", lead.account, lead.id));
    i64::from_be_bytes(
        digest[..8]
            .try_into()
            .expect("a SHA-256 digest has 8 bytes"),
    )
}

async fn upsert_checkpoint(
    tx: &Transaction<'_>,
    cp: &Checkpoint,
    now: i64,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO checkpoints (account, endpoint, position, updated_ms)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (account, endpoint) DO UPDATE SET position = $3, updated_ms = $4",
        &[&cp.account, &cp.endpoint, &cp.position, &now],
    )
    .await?;
    Ok(())
}

#[async_trait]
impl Checkpoints for PgJournal {
    async fn checkpoint(
        &self,
        account: &str,
        endpoint: &str,
    ) -> Result<Option<String>, IntakeError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT position FROM checkpoints WHERE account = $1 AND endpoint = $2",
                &[&account, &endpoint],
            )
            .await
            .map_err(StoreError::from)?;
        Ok(row.map(|r| r.get(0)))
    }

    /// One node at a time pulls a source: the lease row is taken when free, lapsed, or
    /// already this node's, and renewed by each pull.
    async fn lease_source(
        &self,
        account: &str,
        endpoint: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let now = self.inner.clock.unix_millis();
        let until = now + ttl.as_millis() as i64;
        let client = self.client().await?;
        let held = client
            .query_opt(
                "INSERT INTO source_leases (account, endpoint, node, lease_until_ms)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (account, endpoint) DO UPDATE
                     SET node = excluded.node, lease_until_ms = excluded.lease_until_ms
                     WHERE source_leases.lease_until_ms < $5
                        OR source_leases.node = excluded.node
                 RETURNING 1",
                &[&account, &endpoint, &self.inner.node, &until, &now],
            )
            .await?;
        Ok(held.is_some())
    }
}

#[async_trait]
impl WorkQueue for PgJournal {
    /// Claims due work for this node: pending items, retries whose time has come, and running
    /// items whose lease lapsed (their node died). One statement: `FOR UPDATE SKIP LOCKED`
    /// makes concurrent claims from other nodes take other rows.
    fn next_due_ms(&self) -> Option<i64> {
        match self.inner.next_due_ms.load(Ordering::Relaxed) {
            i64::MAX => None,
            at => Some(at),
        }
    }

    async fn claim_due(&self, now_ms: i64, limit: usize) -> Result<Vec<Work>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let now = self.inner.clock.unix_millis();
        let client = self.client().await?;
        let claim = client
            .prepare_cached(
                "WITH due AS (
                     SELECT id FROM work
                     WHERE status = 'pending'
                        OR (status = 'retry' AND due_ms <= $1)
                        OR (status = 'running' AND lease_until_ms < $3)
                     ORDER BY due_ms, id
                     LIMIT $2
                     FOR UPDATE SKIP LOCKED
                 ), claimed AS (
                     UPDATE work w SET status = 'running', attempts = w.attempts + 1,
                                       updated_ms = $3, claimed_by = $4, lease_until_ms = $5
                     FROM due WHERE w.id = due.id
                     RETURNING w.id, w.account, w.attempts, w.first_seen_ms, w.due_ms,
                               w.lead_id, w.follow_id, w.job_key, w.slot_ms
                 )
                 SELECT c.id, c.account, c.attempts, c.first_seen_ms, c.due_ms, l.body,
                        f.account, f.msg_id, f.data_id, f.record, c.job_key, c.slot_ms
                 FROM claimed c
                 LEFT JOIN leads l ON l.id = c.lead_id
                 LEFT JOIN follows f ON f.id = c.follow_id
                 ORDER BY c.due_ms, c.id",
            )
            .await?;
        // Asked in the same round trip (the connection pipelines it right after the claim,
        // which it sees committed): when the dispatcher must look again without being woken.
        let next_due = client
            .prepare_cached(
                "SELECT LEAST((SELECT MIN(due_ms) FROM work WHERE status = 'retry'),
                              (SELECT MIN(lease_until_ms) FROM work WHERE status = 'running'))",
            )
            .await?;
        let (limit, lease_until) = (limit as i64, now + self.inner.lease_ms);
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 5] =
            [&now_ms, &limit, &now, &self.inner.instance, &lease_until];
        let (rows, next_due) = tokio::try_join!(
            client.query(&claim, &params),
            client.query_one(&next_due, &[]),
        )?;
        self.inner.next_due_ms.store(
            next_due.get::<_, Option<i64>>(0).unwrap_or(i64::MAX),
            Ordering::Relaxed,
        );
        let mut claimed: Vec<ClaimedRow> = rows
            .iter()
            .map(|r| {
                let follow = r
                    .get::<_, Option<String>>(6)
                    .map(|account| (account, r.get(7), r.get(8), r.get(9)));
                let job = r
                    .get::<_, Option<String>>(10)
                    .map(|key| (key, r.get::<_, i64>(11)));
                ClaimedRow {
                    id: r.get(0),
                    account: r.get(1),
                    attempts: r.get::<_, i64>(2) as u32,
                    first_seen_ms: r.get(3),
                    lead_body: r.get(5),
                    follow,
                    job,
                    prior: Vec::new(),
                }
            })
            .collect();
        // Only items claimed before carry earlier runs: a takeover's runs still `running`
        // are interrupted, and every item's succeeded calls come along to be replayed.
        let again: Vec<i64> = claimed
            .iter()
            .filter(|r| r.attempts > 1)
            .map(|r| r.id)
            .collect();
        if !again.is_empty() {
            client
                .execute(
                    "UPDATE runs SET status = 'interrupted'
                     WHERE work_id = ANY($1) AND status = 'running'",
                    &[&again],
                )
                .await?;
            let prior = client
                .query(
                    "SELECT r.work_id, r.handler, c.seq, c.fingerprint, c.response
                     FROM calls c JOIN runs r ON r.id = c.run_id
                     WHERE r.work_id = ANY($1) AND c.ok = 1 AND c.replayed = 0
                     ORDER BY r.id, c.seq",
                    &[&again],
                )
                .await?;
            for row in prior {
                let work_id: i64 = row.get(0);
                if let Some(item) = claimed.iter_mut().find(|c| c.id == work_id) {
                    let prior: PriorRow = (
                        row.get(1),
                        row.get::<_, i64>(2) as u32,
                        row.get(3),
                        row.get(4),
                    );
                    item.prior.push(prior);
                }
            }
        }
        if let Ok(mut held) = self.inner.held.lock() {
            held.extend(claimed.iter().map(|c| c.id));
        }
        claimed.into_iter().map(decode_claimed).collect()
    }

    /// Completes an item this node holds. Refused when its lease lapsed and another node took
    /// it over: that node's outcome stands.
    async fn finish(
        &self,
        work_id: i64,
        runs: Vec<RunRecord>,
        outcome: WorkOutcome,
    ) -> Result<(), StoreError> {
        let finished = self.finish_held(work_id, runs, outcome).await;
        if let Ok(mut held) = self.inner.held.lock() {
            held.remove(&work_id);
        }
        finished
    }

    async fn succeeded_calls(&self, work_id: i64) -> Result<Vec<PriorCall>, StoreError> {
        self.succeeded_calls_of(work_id).await
    }

    async fn retry_dead(&self, which: DeadSelector) -> Result<usize, StoreError> {
        let now = self.inner.clock.unix_millis();
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let letters = match which {
            DeadSelector::One(id) => {
                tx.query(
                    "SELECT id, work_id FROM dead_letters
                     WHERE id = $1 AND retried_ms IS NULL FOR UPDATE",
                    &[&id],
                )
                .await?
            }
            DeadSelector::All => {
                tx.query(
                    "SELECT id, work_id FROM dead_letters
                     WHERE retried_ms IS NULL ORDER BY id FOR UPDATE",
                    &[],
                )
                .await?
            }
        };
        if let (DeadSelector::One(id), true) = (which, letters.is_empty()) {
            return Err(StoreError::NotFound(format!("open dead letter {id}")));
        }
        let mut count = 0;
        for letter in letters {
            let (letter, work_id): (i64, i64) = (letter.get(0), letter.get(1));
            // Only a dead item may be revived: a retry never re-runs running or done work.
            count += tx
                .execute(
                    "UPDATE work SET status = 'pending', attempts = 0, reason = NULL,
                                     due_ms = $2, updated_ms = $2
                     WHERE id = $1 AND status = 'dead'",
                    &[&work_id, &now],
                )
                .await? as usize;
            tx.execute(
                "UPDATE dead_letters SET retried_ms = $2 WHERE id = $1",
                &[&letter, &now],
            )
            .await?;
        }
        self.commit_due(tx, count as i64, count as i64).await?;
        Ok(count)
    }

    async fn wake_retries_waiting_on(&self, account: &str) -> Result<usize, StoreError> {
        let now = self.inner.clock.unix_millis();
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let woken = tx
            .execute(
                "UPDATE work SET due_ms = $2, updated_ms = $2
                 WHERE status = 'retry' AND due_ms > $2
                   AND EXISTS (SELECT 1 FROM runs r JOIN calls c ON c.run_id = r.id
                               WHERE r.work_id = work.id AND r.attempt = work.attempts
                                 AND c.ok = 0 AND c.account = $1)",
                &[&account, &now],
            )
            .await? as usize;
        // Woken retries were in the backlog already.
        self.commit_due(tx, woken as i64, 0).await?;
        Ok(woken)
    }

    async fn reroute(&self, which: RerouteSelector) -> Result<usize, StoreError> {
        let now = self.inner.clock.unix_millis();
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let count = match &which {
            RerouteSelector::Unrouted => {
                tx.execute(
                    "UPDATE work SET status = 'pending', attempts = 0, reason = NULL,
                                     due_ms = $1, updated_ms = $1
                     WHERE status = 'unrouted'",
                    &[&now],
                )
                .await? as usize
            }
            RerouteSelector::Lead(id) => {
                let lead_id = find_lead(&tx, id)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("lead `{id}`")))?;
                let row = tx
                    .query_one(
                        "SELECT id, status FROM work WHERE lead_id = $1 FOR UPDATE",
                        &[&lead_id],
                    )
                    .await?;
                let (work_id, status): (i64, WorkStatus) = (row.get(0), parse_status(row.get(1))?);
                if status != WorkStatus::Unrouted {
                    return Err(StoreError::Conflict(format!(
                        "lead `{id}` is {status}, not unrouted; only unrouted leads are rerouted \
                         (a dead letter goes back with `leadrelay dead retry`)"
                    )));
                }
                tx.execute(
                    "UPDATE work SET status = 'pending', attempts = 0, reason = NULL,
                                     due_ms = $2, updated_ms = $2
                     WHERE id = $1 AND status = 'unrouted'",
                    &[&work_id, &now],
                )
                .await? as usize
            }
        };
        self.commit_due(tx, count as i64, count as i64).await?;
        Ok(count)
    }
}

impl PgJournal {
    /// [`WorkQueue::finish`] of an item this process holds.
    async fn finish_held(
        &self,
        work_id: i64,
        runs: Vec<RunRecord>,
        outcome: WorkOutcome,
    ) -> Result<(), StoreError> {
        let mut prepared = Vec::with_capacity(runs.len());
        for run in runs {
            let responses = run
                .calls
                .iter()
                .map(|call| serialize_response(work_id, call))
                .collect::<Result<Vec<_>, _>>()?;
            prepared.push((run, responses));
        }
        let now = self.inner.clock.unix_millis();
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let row = tx
            .query_opt(
                "SELECT status, attempts, claimed_by FROM work WHERE id = $1 FOR UPDATE",
                &[&work_id],
            )
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("work {work_id}")))?;
        let status = parse_status(row.get(0))?;
        let attempts: i64 = row.get(1);
        let holder: Option<String> = row.get(2);
        if status != WorkStatus::Running || holder.as_deref() != Some(&self.inner.instance) {
            return Err(StoreError::Conflict(format!(
                "work {work_id} is {status} and held by {}, not running on this node ({}); \
                 its lease lapsed and another node took it over",
                holder.as_deref().unwrap_or("no node"),
                self.inner.instance
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
            let run_id =
                match run.id {
                    Some(id) => {
                        let completed = tx
                        .execute(
                            "UPDATE runs SET status = $3, elapsed_ms = $4, error = $5, note = $6
                             WHERE id = $1 AND work_id = $2 AND status = 'running'",
                            &[&id, &work_id, &status, &run.elapsed_ms, &run.error, &run.skipped],
                        )
                        .await?;
                        if completed == 0 {
                            return Err(StoreError::Conflict(format!(
                                "run {id} of work {work_id} is not running; it cannot be completed"
                            )));
                        }
                        id
                    }
                    None => {
                        let start = RunStart {
                            attempt: attempts as u32,
                            script: run.script.clone(),
                            handler: run.handler.clone(),
                            version: run.version.clone(),
                            started_ms: run.started_ms,
                        };
                        self.insert_run(
                            &tx,
                            work_id,
                            &start,
                            status,
                            run.elapsed_ms,
                            &run.error,
                            &run.skipped,
                        )
                        .await?
                    }
                };
            for (call, response) in run.calls.iter().zip(responses) {
                insert_call(&tx, run_id, call, response.as_deref()).await?;
            }
        }
        let (next, due, reason) = match &outcome {
            WorkOutcome::Done => (WorkStatus::Done, None, None),
            WorkOutcome::Retry { at_ms, reason } => {
                (WorkStatus::Retry, Some(*at_ms), Some(reason.as_str()))
            }
            WorkOutcome::Dead { reason } => (WorkStatus::Dead, None, Some(reason.as_str())),
            WorkOutcome::Unrouted { reason } => (WorkStatus::Unrouted, None, Some(reason.as_str())),
            WorkOutcome::Skipped { reason } => (WorkStatus::Skipped, None, Some(reason.as_str())),
        };
        tx.execute(
            "UPDATE work SET status = $2, due_ms = coalesce($3, due_ms), reason = $4,
                             updated_ms = $5, claimed_by = NULL, lease_until_ms = NULL
             WHERE id = $1",
            &[&work_id, &next.as_str(), &due, &reason, &now],
        )
        .await?;
        if let WorkOutcome::Dead { reason } = &outcome {
            tx.execute(
                "INSERT INTO dead_letters (work_id, reason, attempts, created_ms)
                 VALUES ($1, $2, $3, $4)",
                &[&work_id, reason, &attempts, &now],
            )
            .await?;
        }
        self.commit_counted(tx, if next.in_backlog() { 0 } else { -1 })
            .await
    }

    async fn succeeded_calls_of(&self, work_id: i64) -> Result<Vec<PriorCall>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT r.handler, c.seq, c.fingerprint, c.response
                 FROM calls c JOIN runs r ON r.id = c.run_id
                 WHERE r.work_id = $1 AND c.ok = 1 AND c.replayed = 0
                 ORDER BY r.id, c.seq",
                &[&work_id],
            )
            .await?;
        let rows = rows
            .iter()
            .map(|r| (r.get(0), r.get::<_, i64>(1) as u32, r.get(2), r.get(3)))
            .collect();
        decode_prior(work_id, rows)
    }
}

/// A lead's journal id from `#N`, a vendor lead id (the newest), or a bare number.
pub(crate) async fn find_lead(
    client: &impl GenericClient,
    id: &str,
) -> Result<Option<i64>, StoreError> {
    let id = id.trim();
    let by_journal_id = |n: i64| async move {
        Ok::<_, StoreError>(
            client
                .query_opt("SELECT id FROM leads WHERE id = $1", &[&n])
                .await?
                .map(|r| r.get(0)),
        )
    };
    if let Some(number) = id.strip_prefix('#') {
        return match number.parse::<i64>() {
            Ok(n) => by_journal_id(n).await,
            Err(_) => Ok(None),
        };
    }
    let by_vendor_id: Option<i64> = client
        .query_opt(
            "SELECT id FROM leads WHERE vendor_lead_id = $1
             ORDER BY received_ms DESC, id DESC LIMIT 1",
            &[&id],
        )
        .await?
        .map(|r| r.get(0));
    match (by_vendor_id, id.parse::<i64>()) {
        (Some(found), _) => Ok(Some(found)),
        (None, Ok(n)) => by_journal_id(n).await,
        (None, Err(_)) => Ok(None),
    }
}

impl PgJournal {
    #[allow(clippy::too_many_arguments)]
    async fn insert_run(
        &self,
        tx: &Transaction<'_>,
        work_id: i64,
        run: &RunStart,
        status: &str,
        elapsed_ms: i64,
        error: &Option<String>,
        note: &Option<String>,
    ) -> Result<i64, StoreError> {
        Ok(tx
            .query_one(
                "INSERT INTO runs (work_id, attempt, script, handler, version, started_ms,
                                   elapsed_ms, status, error, note, node)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                 RETURNING id",
                &[
                    &work_id,
                    &(run.attempt as i64),
                    &run.script,
                    &run.handler,
                    &run.version,
                    &run.started_ms,
                    &elapsed_ms,
                    &status,
                    error,
                    note,
                    &self.inner.node,
                ],
            )
            .await?
            .get(0))
    }
}

async fn insert_call(
    tx: &Transaction<'_>,
    run_id: i64,
    call: &CallRow,
    response: Option<&str>,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO calls (run_id, seq, vendor, account, op, fingerprint, ok, status, code,
                            message, response, attempts, replayed)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        &[
            &run_id,
            &(call.seq as i64),
            &call.vendor,
            &call.account,
            &call.op,
            &call.fingerprint,
            &(call.ok as i64),
            &call.status.map(i64::from),
            &call.code,
            &call.message,
            &response,
            &(call.attempts as i64),
            &(call.replayed as i64),
        ],
    )
    .await?;
    Ok(())
}

impl CallLog for PgJournal {
    fn record_call_blocking(
        &self,
        work_id: i64,
        run: RunRow,
        call: CallRow,
    ) -> Result<i64, StoreError> {
        let response = serialize_response(work_id, &call)?;
        self.block(async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let run_id = match &run {
                RunRow::Written(id) => *id,
                RunRow::First(start) => {
                    self.insert_run(&tx, work_id, start, "running", 0, &None, &None)
                        .await?
                }
            };
            insert_call(&tx, run_id, &call, response.as_deref()).await?;
            tx.commit().await?;
            Ok(run_id)
        })
    }
}

/// Claims (schedule, slot) inside `tx`; false when claimed before or below the pruned floor.
/// The schedule's `cron_state` row is locked first, so nodes claiming the same schedule take
/// turns and the loser sees the winner's claim.
async fn claim_slot(
    tx: &Transaction<'_>,
    key: &str,
    slot_ms: i64,
    now: i64,
) -> Result<bool, StoreError> {
    tx.execute(
        "INSERT INTO cron_state (schedule_key, floor_ms) VALUES ($1, $2)
         ON CONFLICT (schedule_key) DO NOTHING",
        &[&key, &i64::MIN],
    )
    .await?;
    let floor: i64 = tx
        .query_one(
            "SELECT floor_ms FROM cron_state WHERE schedule_key = $1 FOR UPDATE",
            &[&key],
        )
        .await?
        .get(0);
    if slot_ms < floor {
        return Ok(false);
    }
    let claimed = tx
        .execute(
            "INSERT INTO cron_claims (schedule_key, slot_ms, claimed_ms) VALUES ($1, $2, $3)
             ON CONFLICT (schedule_key, slot_ms) DO NOTHING",
            &[&key, &slot_ms, &now],
        )
        .await?;
    if claimed == 0 {
        return Ok(false);
    }
    let horizon = slot_ms.saturating_sub(CRON_RETENTION_MS);
    tx.execute(
        "UPDATE cron_state SET floor_ms = GREATEST(floor_ms, $2) WHERE schedule_key = $1",
        &[&key, &horizon],
    )
    .await?;
    tx.execute(
        "DELETE FROM cron_claims WHERE schedule_key = $1 AND slot_ms < $2",
        &[&key, &horizon],
    )
    .await?;
    Ok(true)
}

/// A pending work item running job `key` for `slot_ms`, inside `tx`; its id.
async fn insert_job_work(
    tx: &Transaction<'_>,
    key: &str,
    slot_ms: i64,
    now: i64,
) -> Result<i64, StoreError> {
    Ok(tx
        .query_one(
            "INSERT INTO work (job_key, slot_ms, account, status, due_ms, first_seen_ms,
                               updated_ms)
             VALUES ($1, $2, '', 'pending', $3, $3, $3)
             RETURNING id",
            &[&key, &slot_ms, &now],
        )
        .await?
        .get(0))
}

async fn count_fired_slot(
    tx: &Transaction<'_>,
    key: &str,
    slot_ms: i64,
    now: i64,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE cron_state SET
             last_slot_ms = GREATEST(coalesce(last_slot_ms, $2), $2),
             last_claimed_ms = $3,
             claims = claims + 1
         WHERE schedule_key = $1",
        &[&key, &slot_ms, &now],
    )
    .await?;
    Ok(())
}

async fn count_skipped_slot(
    client: &impl GenericClient,
    key: &str,
    slot_ms: i64,
    reason: &str,
) -> Result<(), StoreError> {
    client
        .execute(
            "INSERT INTO cron_state (schedule_key, floor_ms, skips, last_skip_slot_ms,
                                     last_skip_reason)
             VALUES ($1, $2, 1, $3, $4)
             ON CONFLICT (schedule_key) DO UPDATE SET
                 skips = cron_state.skips + 1, last_skip_slot_ms = $3, last_skip_reason = $4",
            &[&key, &i64::MIN, &slot_ms, &reason],
        )
        .await?;
    Ok(())
}

#[async_trait]
impl CronLedger for PgJournal {
    async fn claim_cron_slot(&self, schedule_key: &str, slot_ms: i64) -> Result<bool, StoreError> {
        let now = self.inner.clock.unix_millis();
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let claimed = claim_slot(&tx, schedule_key, slot_ms, now).await?;
        if claimed {
            count_fired_slot(&tx, schedule_key, slot_ms, now).await?;
        }
        tx.commit().await?;
        Ok(claimed)
    }

    async fn fire_cron_slot(
        &self,
        schedule_key: &str,
        slot_ms: i64,
    ) -> Result<CronFire, StoreError> {
        let now = self.inner.clock.unix_millis();
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        if !claim_slot(&tx, schedule_key, slot_ms, now).await? {
            tx.commit().await?;
            return Ok(CronFire::Taken);
        }
        let unfinished: bool = tx
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM work
                     WHERE job_key = $1 AND status IN ('pending', 'running', 'retry'))",
                &[&schedule_key],
            )
            .await?
            .get(0);
        if unfinished {
            count_skipped_slot(&tx, schedule_key, slot_ms, "previous run still going").await?;
            tx.commit().await?;
            return Ok(CronFire::Overlap);
        }
        count_fired_slot(&tx, schedule_key, slot_ms, now).await?;
        let work_id = insert_job_work(&tx, schedule_key, slot_ms, now).await?;
        self.commit_due(tx, 1, 1).await?;
        Ok(CronFire::Fired { work_id })
    }

    async fn last_cron_slot(&self, schedule_key: &str) -> Result<Option<i64>, StoreError> {
        let client = self.client().await?;
        Ok(client
            .query_opt(
                "SELECT last_slot_ms FROM cron_state WHERE schedule_key = $1",
                &[&schedule_key],
            )
            .await?
            .and_then(|r| r.get(0)))
    }

    async fn record_cron_skip(
        &self,
        schedule_key: &str,
        slot_ms: i64,
        reason: &str,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        count_skipped_slot(&client, schedule_key, slot_ms, reason).await
    }
}

/// `once(key, ttl)` keys in the shared database: the same conditional upsert as on SQLite,
/// atomic across nodes because it is one statement on one row.
#[derive(Debug, Clone)]
struct PgOnce {
    journal: PgJournal,
}

impl OnceStore for PgOnce {
    fn claim(&self, key: &str, ttl: Duration, owner: i64) -> Result<bool, OnceError> {
        use sha2::Digest;
        let hashed = hex::encode(sha2::Sha256::digest(key.as_bytes()));
        let now = self.journal.inner.clock.unix_millis();
        let expires = now.saturating_add(ttl.as_millis().min(i64::MAX as u128) as i64);
        let journal = &self.journal;
        journal
            .block(async {
                let client = journal.client().await?;
                let held = client
                    .query_opt(
                        "INSERT INTO once_keys (key, work_id, claimed_ms, expires_ms)
                         VALUES ($1, $2, $3, $4)
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
                        &[&hashed, &owner, &now, &expires],
                    )
                    .await?;
                Ok::<_, StoreError>(held.is_some())
            })
            .map_err(|e| OnceError(format!("the journal could not answer: {e}")))
    }
}

/// Assignment counters in the shared database: one atomic increment, so nodes share one
/// rotation.
#[derive(Debug)]
struct PgAssignments {
    journal: PgJournal,
    fallback: MemoryAssignments,
}

impl AssignmentStore for PgAssignments {
    fn next(&self, key: &str) -> u64 {
        let journal = &self.journal;
        let result = journal.block(async {
            let client = journal.client().await?;
            let value: i64 = client
                .query_one(
                    "INSERT INTO assignments (key, next) VALUES ($1, 1)
                     ON CONFLICT (key) DO UPDATE SET next = assignments.next + 1
                     RETURNING next - 1",
                    &[&key],
                )
                .await?
                .get(0);
            Ok::<_, StoreError>(value.max(0) as u64)
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

#[async_trait]
impl Claims for PgJournal {
    fn once_keys(&self) -> Arc<dyn OnceStore> {
        Arc::new(PgOnce {
            journal: self.clone(),
        })
    }

    fn assignments(&self) -> Arc<dyn AssignmentStore> {
        Arc::new(PgAssignments {
            journal: self.clone(),
            fallback: MemoryAssignments::default(),
        })
    }

    async fn sweep_once_keys(&self) -> Result<usize, StoreError> {
        let now = self.inner.clock.unix_millis();
        let client = self.client().await?;
        Ok(client
            .execute("DELETE FROM once_keys WHERE expires_ms <= $1", &[&now])
            .await? as usize)
    }
}

#[async_trait]
impl Maintenance for PgJournal {
    async fn probe_writable(&self) -> Result<(), StoreError> {
        self.heartbeat(self.inner.clock.unix_millis()).await
    }

    /// One prune step in a transaction of its own (see `retention.rs`).
    async fn prune_step(
        &self,
        policy: RetentionPolicy,
        now_ms: i64,
        limit: usize,
    ) -> Result<PruneReport, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let report = super::retention::prune_step(&tx, policy, now_ms, limit).await?;
        tx.commit().await?;
        let deleted = report.deleted_leads + report.deleted_follows + report.deleted_jobs;
        if deleted > 0 {
            tracing::debug!(deleted, "journal: pruned (PostgreSQL)");
        }
        Ok(report)
    }

    /// PostgreSQL's autovacuum hands space back; nothing to do here.
    async fn reclaim_step(&self, _pages: u32) -> Result<u64, StoreError> {
        Ok(0)
    }

    async fn reclaim(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

impl Backend for PgJournal {
    fn location(&self) -> String {
        self.inner.url.to_string()
    }

    fn clock(&self) -> Clock {
        self.inner.clock
    }

    fn reader(&self) -> &dyn Queries {
        &self.inner.reader
    }

    fn report_node(&self, scripts: String, open_breakers: String) {
        if let Ok(mut report) = self.inner.report.lock() {
            *report = (scripts, open_breakers);
        }
    }

    fn set_waker(&self, wake: Arc<Notify>) {
        if let Ok(mut waker) = self.inner.waker.lock() {
            *waker = Some(wake);
        }
    }
}
