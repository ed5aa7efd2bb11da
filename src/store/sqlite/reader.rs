//! Read-only queries for the CLI (`leads list`, `leads show`, `dead`, `quarantine`, `status`).
//! Uses its own read-only connection: WAL lets it read a consistent snapshot while the daemon
//! writes, from the daemon or from another process.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use super::retention;
use super::{parse_status, parse_via, schema, StoreError};
use crate::store::model::{
    BackupReport, CallStory, CheckpointRow, CronRow, DeadLetter, FollowStory, FollowSummary,
    JournalStatus, LeadQuery, LeadStory, LeadSummary, QuarantineSummary, RecordedCall,
    RecordedLead, RecordedRun, RetentionStatus, RunStory, WorkState, WorkStatus,
};
use crate::store::retention::RetentionPolicy;
use crate::store::types::{Arrival, Quarantined};
use crate::store::Queries;

/// Queries over a journal, on a read-only connection. `Send + Sync`; queries are serialized.
#[derive(Debug)]
pub struct JournalReader {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl JournalReader {
    /// Opens an existing journal read-only (the CLI, while a daemon may be writing it).
    pub fn open(path: &Path) -> Result<JournalReader, StoreError> {
        let open_error = |message: String| StoreError::Open {
            path: path.to_path_buf(),
            message,
        };
        if !path.exists() {
            return Err(open_error("no such file".into()));
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| open_error(e.to_string()))?;
        conn.busy_timeout(schema::BUSY_TIMEOUT)?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version == 0 {
            return Err(StoreError::NotAJournal {
                path: path.to_path_buf(),
            });
        }
        schema::check_version(version, path)?;
        Ok(JournalReader {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
        })
    }

    /// The journal file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self
            .conn
            .lock()
            .map_err(|_| StoreError::Database("reader connection poisoned".into()))?;
        // One read transaction per query: every part of an answer comes from one snapshot.
        let tx = conn.transaction()?;
        let out = f(&tx)?;
        tx.finish()?;
        Ok(out)
    }
}

impl Queries for JournalReader {
    fn location(&self) -> String {
        self.path.display().to_string()
    }

    /// Leads matching `query`, newest first.
    fn list_leads(&self, query: &LeadQuery) -> Result<Vec<LeadSummary>, StoreError> {
        self.with(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT l.id, l.vendor, l.account, l.vendor_lead_id, l.kind, l.received_ms,
                        w.status, w.attempts, w.reason
                 FROM leads l JOIN work w ON w.lead_id = l.id
                 WHERE (?1 IS NULL OR l.received_ms >= ?1)
                   AND (?2 IS NULL OR w.status = ?2)
                   AND (?3 IS NULL OR l.vendor = ?3)
                   AND (?4 IS NULL OR l.account = ?4)
                 ORDER BY l.received_ms DESC, l.id DESC
                 LIMIT ?5",
            )?;
            let rows = stmt.query_map(
                params![
                    query.since_ms,
                    query.status.map(WorkStatus::as_str),
                    query.vendor,
                    query.account,
                    query.limit.min(LeadQuery::MAX_LIMIT) as i64,
                ],
                lead_summary,
            )?;
            with_status(rows, |summary, status| summary.status = status)
        })
    }

    /// Everything known about one lead. `id` is a vendor lead id (the newest such lead if
    /// several accounts share it), or a journal id written `#42` (a bare number that is no
    /// vendor lead id is also tried as a journal id).
    fn lead_story(&self, id: &str) -> Result<Option<LeadStory>, StoreError> {
        self.with(|conn| {
            let Some(lead_id) = find_lead(conn, id)? else {
                return Ok(None);
            };
            let (body, via, endpoint, received_ms): (String, String, String, i64) = conn
                .query_row(
                    "SELECT body, via, endpoint, received_ms FROM leads WHERE id = ?1",
                    [lead_id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )?;
            let lead = serde_json::from_str(&body)
                .map_err(|e| StoreError::Corrupt(format!("lead {lead_id}: {e}")))?;
            let (work_id, status, attempts, due_ms, reason): (
                i64,
                String,
                u32,
                i64,
                Option<String>,
            ) = conn.query_row(
                "SELECT id, status, attempts, due_ms, reason FROM work WHERE lead_id = ?1",
                [lead_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )?;
            let state = WorkState::from_stored(parse_status(&status)?, due_ms, reason);
            Ok(Some(LeadStory {
                id: lead_id,
                lead,
                arrival: Arrival {
                    via: parse_via(&via)?,
                    endpoint,
                    received_at_ms: received_ms,
                },
                work_id,
                attempts,
                runs: runs_of(conn, work_id)?,
                state,
            }))
        })
    }

    /// Dead letters not yet retried, oldest first.
    fn dead_letters(&self) -> Result<Vec<DeadLetter>, StoreError> {
        self.with(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT d.id, d.work_id, w.account, d.reason, d.attempts, d.created_ms,
                        l.vendor_lead_id, f.msg_id, w.job_key, w.slot_ms
                 FROM dead_letters d
                 JOIN work w ON w.id = d.work_id
                 LEFT JOIN leads l ON l.id = w.lead_id
                 LEFT JOIN follows f ON f.id = w.follow_id
                 WHERE d.retried_ms IS NULL
                 ORDER BY d.id",
            )?;
            let rows = stmt.query_map([], |r| {
                let lead: Option<String> = r.get(6)?;
                let job: Option<String> = r.get(8)?;
                let (kind, item) = match (lead, job) {
                    (Some(id), _) => ("lead", id),
                    (None, Some(key)) => ("job", key),
                    (None, None) => ("follow", r.get::<_, Option<String>>(7)?.unwrap_or_default()),
                };
                Ok(DeadLetter {
                    id: r.get(0)?,
                    work_id: r.get(1)?,
                    kind: kind.to_string(),
                    account: r.get(2)?,
                    item,
                    slot_ms: r.get(9)?,
                    reason: r.get(3)?,
                    attempts: r.get(4)?,
                    created_ms: r.get(5)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// Quarantined payloads, oldest first, without their bodies.
    fn quarantined(&self) -> Result<Vec<QuarantineSummary>, StoreError> {
        self.with(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, account, endpoint, reason, content_type, length(body), received_ms
                 FROM quarantine ORDER BY id",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(QuarantineSummary {
                    id: r.get(0)?,
                    account: r.get(1)?,
                    endpoint: r.get(2)?,
                    reason: r.get(3)?,
                    content_type: r.get(4)?,
                    bytes: r.get::<_, i64>(5)? as usize,
                    received_ms: r.get(6)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// One quarantined payload with its body, byte for byte.
    fn quarantine_item(&self, id: i64) -> Result<Option<Quarantined>, StoreError> {
        self.with(|conn| {
            Ok(conn
                .query_row(
                    "SELECT account, endpoint, reason, content_type, body, received_ms
                     FROM quarantine WHERE id = ?1",
                    [id],
                    |r| {
                        Ok(Quarantined {
                            account: r.get(0)?,
                            endpoint: r.get(1)?,
                            reason: r.get(2)?,
                            content_type: r.get(3)?,
                            body: r.get(4)?,
                            received_at_ms: r.get(5)?,
                        })
                    },
                )
                .optional()?)
        })
    }

    /// The journal at a glance.
    fn status(&self) -> Result<JournalStatus, StoreError> {
        self.with(|conn| {
            let count = |sql: &str| -> Result<u64, StoreError> {
                Ok(conn.query_row(sql, [], |r| r.get::<_, i64>(0))? as u64)
            };
            let mut work: Vec<(WorkStatus, u64)> =
                WorkStatus::ALL.iter().map(|s| (*s, 0)).collect();
            let mut stmt = conn.prepare("SELECT status, count(*) FROM work GROUP BY status")?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
            for row in rows {
                let (status, n) = row?;
                let status = parse_status(&status)?;
                if let Some(slot) = work.iter_mut().find(|(s, _)| *s == status) {
                    slot.1 = n as u64;
                }
            }
            let mut stmt = conn.prepare(
                "SELECT account, endpoint, position, updated_ms FROM checkpoints
                 ORDER BY account, endpoint",
            )?;
            let checkpoints = stmt
                .query_map([], |r| {
                    Ok(CheckpointRow {
                        account: r.get(0)?,
                        endpoint: r.get(1)?,
                        position: r.get(2)?,
                        updated_ms: r.get(3)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            let mut stmt = conn.prepare(
                "SELECT schedule_key, last_slot_ms, last_claimed_ms, claims, skips,
                        last_skip_reason
                 FROM cron_state ORDER BY schedule_key",
            )?;
            let cron = stmt
                .query_map([], |r| {
                    Ok(CronRow {
                        schedule_key: r.get(0)?,
                        last_slot_ms: r.get(1)?,
                        last_claimed_ms: r.get(2)?,
                        claims: r.get::<_, i64>(3)? as u64,
                        skips: r.get::<_, i64>(4)? as u64,
                        last_skip_reason: r.get(5)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            Ok(JournalStatus {
                schema_version: conn.pragma_query_value(None, "user_version", |r| r.get(0))?,
                leads: count("SELECT count(*) FROM leads")?,
                follows: count("SELECT count(*) FROM follows")?,
                work,
                dead_letters: count("SELECT count(*) FROM dead_letters WHERE retried_ms IS NULL")?,
                quarantined: count("SELECT count(*) FROM quarantine")?,
                checkpoints,
                cron,
                nodes: Vec::new(),
            })
        })
    }

    /// Size, oldest lead, erasures and what the next prune under `policy` at `now_ms` would do.
    fn retention_status(
        &self,
        policy: RetentionPolicy,
        now_ms: i64,
    ) -> Result<RetentionStatus, StoreError> {
        let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        let mut wal = self.path.as_os_str().to_owned();
        wal.push("-wal");
        let (file_bytes, wal_bytes) = (size(&self.path), size(Path::new(&wal)));
        self.with(|conn| {
            let free: i64 = conn.pragma_query_value(None, "freelist_count", |r| r.get(0))?;
            let page: i64 = conn.pragma_query_value(None, "page_size", |r| r.get(0))?;
            let (erasures, last_erasure_ms): (i64, Option<i64>) =
                conn.query_row("SELECT count(*), max(at_ms) FROM erasures", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
            Ok(RetentionStatus {
                file_bytes,
                wal_bytes,
                free_bytes: (free * page).max(0) as u64,
                oldest_lead_ms: conn
                    .query_row("SELECT min(received_ms) FROM leads", [], |r| r.get(0))?,
                redacted_leads: conn.query_row(
                    "SELECT count(*) FROM leads WHERE redacted_ms IS NOT NULL",
                    [],
                    |r| r.get::<_, i64>(0),
                )? as u64,
                erasures: erasures as u64,
                last_erasure_ms,
                next_prune: retention::preview(conn, policy, now_ms)?,
            })
        })
    }

    /// Copies the journal to `dest` with SQLite's online backup API, in one step under one
    /// read transaction: the copy is the journal as of one commit — every lead acknowledged
    /// before the backup began is in it — and the daemon keeps writing meanwhile (a WAL
    /// reader does not block the writer). Written to `dest.partial` and renamed, so `dest`
    /// is either absent or complete; an existing `dest` is refused. The copy is checked
    /// (`quick_check`) before it is renamed.
    fn backup_to(&self, dest: &Path) -> Result<BackupReport, StoreError> {
        if dest.exists() {
            return Err(StoreError::Conflict(format!(
                "{} exists; a backup never overwrites a file",
                dest.display()
            )));
        }
        let mut partial = dest.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let _ = std::fs::remove_file(&partial);
        let io = |what: &str, e: &dyn std::fmt::Display| StoreError::Open {
            path: dest.to_path_buf(),
            message: format!("{what}: {e}"),
        };
        {
            let mut copy = Connection::open(&partial).map_err(|e| io("cannot create", &e))?;
            let conn = self
                .conn
                .lock()
                .map_err(|_| StoreError::Database("reader connection poisoned".into()))?;
            let backup = rusqlite::backup::Backup::new(&conn, &mut copy)?;
            // -1: every page in one step, so the copy is one snapshot (stepping in chunks
            // would restart whenever the daemon commits in between).
            backup.step(-1)?;
            drop(backup);
            // The copy is a standalone file: no WAL beside it to carry around.
            copy.pragma_update(None, "journal_mode", "DELETE")?;
            let check: String = copy.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
            if check != "ok" {
                return Err(StoreError::Corrupt(format!(
                    "backup {}: quick_check says {check}",
                    partial.display()
                )));
            }
        }
        std::fs::rename(&partial, dest).map_err(|e| io("cannot rename the finished copy", &e))?;
        let leads = {
            let copy = Connection::open_with_flags(dest, OpenFlags::SQLITE_OPEN_READ_ONLY)
                .map_err(|e| io("cannot reopen", &e))?;
            copy.query_row("SELECT count(*) FROM leads", [], |r| r.get::<_, i64>(0))? as u64
        };
        Ok(BackupReport {
            bytes: std::fs::metadata(dest).map(|m| m.len()).unwrap_or(0),
            leads,
        })
    }

    /// Leads received and leads routed (their work done) per `bucket_ms` since `since_ms`, for
    /// the console's chart: `(bucket start, received, routed)`, oldest first, empty buckets left
    /// out. A lead counts as routed in the bucket its work last changed in.
    fn activity(&self, since_ms: i64, bucket_ms: i64) -> Result<Vec<(i64, u64, u64)>, StoreError> {
        let bucket_ms = bucket_ms.max(1);
        self.with(|conn| {
            let mut out: std::collections::BTreeMap<i64, (u64, u64)> = Default::default();
            let mut received = conn.prepare_cached(
                "SELECT received_ms / ?2 * ?2, count(*) FROM leads WHERE received_ms >= ?1
                 GROUP BY 1",
            )?;
            for row in received.query_map(params![since_ms, bucket_ms], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
            })? {
                let (at, n) = row?;
                out.entry(at).or_default().0 = n as u64;
            }
            let mut routed = conn.prepare_cached(
                "SELECT updated_ms / ?2 * ?2, count(*) FROM work
                 WHERE status = 'done' AND lead_id IS NOT NULL AND updated_ms >= ?1
                 GROUP BY 1",
            )?;
            for row in routed.query_map(params![since_ms, bucket_ms], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
            })? {
                let (at, n) = row?;
                out.entry(at).or_default().1 = n as u64;
            }
            Ok(out.into_iter().map(|(at, (r, d))| (at, r, d)).collect())
        })
    }

    /// Leads found by what a person remembers of them, newest first, at most `limit`: a vendor
    /// lead id (exactly), a journal id (`#42`, or a bare number that is no vendor lead id, as
    /// `leads show` reads it), the last four digits of the
    /// phone (exactly four digits; a longer number never matches a phone, so the search cannot
    /// be used to look a full number up), or part of the name.
    fn search_leads(&self, text: &str, limit: usize) -> Result<Vec<LeadSummary>, StoreError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(Vec::new());
        }
        let journal_id: Option<i64> = text.trim_start_matches('#').parse().ok();
        let last4 = (text.len() == 4 && text.bytes().all(|b| b.is_ascii_digit())).then_some(text);
        let name =
            (!text.starts_with('#') && !text.bytes().all(|b| b.is_ascii_digit())).then(|| {
                let literal = text
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_");
                format!("%{literal}%")
            });
        self.with(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT l.id, l.vendor, l.account, l.vendor_lead_id, l.kind, l.received_ms,
                        w.status, w.attempts, w.reason
                 FROM leads l JOIN work w ON w.lead_id = l.id
                 WHERE l.vendor_lead_id = ?1
                    OR (l.id = ?2 AND (?6 OR NOT EXISTS
                        (SELECT 1 FROM leads v WHERE v.vendor_lead_id = ?1)))
                    OR (?3 IS NOT NULL AND substr(json_extract(l.body, '$.phone'), -4) = ?3)
                    OR (?4 IS NOT NULL AND json_extract(l.body, '$.name') LIKE ?4 ESCAPE '\\')
                 ORDER BY l.received_ms DESC, l.id DESC
                 LIMIT ?5",
            )?;
            let rows = stmt.query_map(
                params![
                    text,
                    journal_id,
                    last4,
                    name,
                    limit.min(LeadQuery::MAX_LIMIT) as i64,
                    text.starts_with('#'),
                ],
                lead_summary,
            )?;
            with_status(rows, |summary, status| summary.status = status)
        })
    }

    /// The leads `preview` replays, oldest first: those received at or after `since_ms` (all
    /// when `None`), at most the newest `limit`, whose work has a final state or waits for a
    /// retry (pending and running ones have no outcome yet), each with the runs of its last
    /// attempt and their calls' fingerprints. Read in one snapshot.
    fn recorded_leads(
        &self,
        since_ms: Option<i64>,
        limit: usize,
    ) -> Result<Vec<RecordedLead>, StoreError> {
        self.with(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT l.id, l.body, w.id, w.status, w.reason, w.attempts
                 FROM leads l JOIN work w ON w.lead_id = l.id
                 WHERE (?1 IS NULL OR l.received_ms >= ?1)
                   AND w.status NOT IN ('pending', 'running')
                   AND l.redacted_ms IS NULL
                 ORDER BY l.received_ms DESC, l.id DESC
                 LIMIT ?2",
            )?;
            let rows = stmt
                .query_map(
                    params![since_ms, limit.min(i64::MAX as usize) as i64],
                    |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, i64>(2)?,
                            r.get::<_, String>(3)?,
                            r.get::<_, Option<String>>(4)?,
                            r.get::<_, u32>(5)?,
                        ))
                    },
                )?
                .collect::<Result<Vec<_>, _>>()?;
            let mut runs = conn.prepare_cached(
                "SELECT id, script, handler, status, error FROM runs
                 WHERE work_id = ?1 AND attempt = ?2 ORDER BY id",
            )?;
            let mut calls = conn.prepare_cached(
                "SELECT vendor, account, op, fingerprint, ok FROM calls
                 WHERE run_id = ?1 ORDER BY seq",
            )?;
            let mut out = Vec::with_capacity(rows.len());
            for (id, body, work_id, status, reason, attempts) in rows.into_iter().rev() {
                let lead = serde_json::from_str(&body)
                    .map_err(|e| StoreError::Corrupt(format!("lead {id}: {e}")))?;
                let run_rows = runs
                    .query_map(params![work_id, attempts], |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            RecordedRun {
                                script: r.get(1)?,
                                handler: r.get(2)?,
                                status: r.get(3)?,
                                error: r.get(4)?,
                                calls: Vec::new(),
                            },
                        ))
                    })?
                    .collect::<Result<Vec<_>, _>>()?;
                let mut recorded_runs = Vec::with_capacity(run_rows.len());
                for (run_id, mut run) in run_rows {
                    run.calls = calls
                        .query_map([run_id], |r| {
                            Ok(RecordedCall {
                                vendor: r.get(0)?,
                                account: r.get(1)?,
                                op: r.get(2)?,
                                fingerprint: r.get(3)?,
                                ok: r.get(4)?,
                            })
                        })?
                        .collect::<Result<_, _>>()?;
                    recorded_runs.push(run);
                }
                out.push(RecordedLead {
                    id,
                    lead,
                    status: parse_status(&status)?,
                    reason,
                    runs: recorded_runs,
                });
            }
            Ok(out)
        })
    }

    /// A work item's state and its runs, oldest first (`job run` follows the item it queued).
    fn work_story(&self, work_id: i64) -> Result<Option<(WorkState, Vec<RunStory>)>, StoreError> {
        self.with(|conn| {
            let Some(state) = work_state(conn, work_id)? else {
                return Ok(None);
            };
            Ok(Some((state, runs_of(conn, work_id)?)))
        })
    }

    /// Waiqin follow records, newest first: those received at or after `since_ms`, of
    /// `account`, at most `limit` (capped like leads).
    fn list_follows(
        &self,
        since_ms: Option<i64>,
        account: Option<&str>,
        limit: usize,
    ) -> Result<Vec<FollowSummary>, StoreError> {
        self.with(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT f.id, f.account, f.msg_id, f.data_id, f.received_ms, w.status, w.reason
                 FROM follows f JOIN work w ON w.follow_id = f.id
                 WHERE (?1 IS NULL OR f.received_ms >= ?1) AND (?2 IS NULL OR f.account = ?2)
                 ORDER BY f.received_ms DESC, f.id DESC
                 LIMIT ?3",
            )?;
            let rows = stmt.query_map(
                params![since_ms, account, limit.min(LeadQuery::MAX_LIMIT) as i64],
                |r| {
                    Ok((
                        FollowSummary {
                            id: r.get(0)?,
                            account: r.get(1)?,
                            msg_id: r.get(2)?,
                            data_id: r.get(3)?,
                            received_ms: r.get(4)?,
                            status: WorkStatus::Pending,
                            reason: r.get(6)?,
                        },
                        r.get::<_, String>(5)?,
                    ))
                },
            )?;
            with_status(rows, |summary, status| summary.status = status)
        })
    }

    /// Everything known about one follow record: `id` is Waiqin's msgId (the newest such
    /// record if several accounts share it) or a journal id written `#42`.
    fn follow_story(&self, id: &str) -> Result<Option<FollowStory>, StoreError> {
        self.with(|conn| {
            let id = id.trim();
            let found: Option<i64> = match id.strip_prefix('#') {
                Some(n) => match n.parse::<i64>() {
                    Ok(n) => conn
                        .query_row("SELECT id FROM follows WHERE id = ?1", [n], |r| r.get(0))
                        .optional()?,
                    Err(_) => None,
                },
                None => conn
                    .query_row(
                        "SELECT id FROM follows WHERE msg_id = ?1 ORDER BY received_ms DESC, id DESC
                         LIMIT 1",
                        [id],
                        |r| r.get(0),
                    )
                    .optional()?,
            };
            let Some(follow_id) = found else {
                return Ok(None);
            };
            let (account, msg_id, data_id, record, via, endpoint, received_ms): (
                String,
                String,
                Option<String>,
                String,
                String,
                String,
                i64,
            ) = conn.query_row(
                "SELECT account, msg_id, data_id, record, via, endpoint, received_ms
                 FROM follows WHERE id = ?1",
                [follow_id],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                    ))
                },
            )?;
            let record = serde_json::from_str(&record)
                .map_err(|e| StoreError::Corrupt(format!("follow record {follow_id}: {e}")))?;
            let (work_id, attempts): (i64, u32) = conn.query_row(
                "SELECT id, attempts FROM work WHERE follow_id = ?1",
                [follow_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let state = work_state(conn, work_id)?.ok_or_else(|| {
                StoreError::Corrupt(format!("follow record {follow_id}: no work"))
            })?;
            Ok(Some(FollowStory {
                id: follow_id,
                account,
                msg_id,
                data_id,
                record,
                arrival: Arrival {
                    via: parse_via(&via)?,
                    endpoint,
                    received_at_ms: received_ms,
                },
                work_id,
                attempts,
                runs: runs_of(conn, work_id)?,
                state,
            }))
        })
    }

    /// The applied migrations (version, name), oldest first.
    fn migrations(&self) -> Result<Vec<(i64, String)>, StoreError> {
        self.with(schema::applied)
    }
}

/// A lead summary from a row of `l.id, l.vendor, l.account, l.vendor_lead_id, l.kind,
/// l.received_ms, w.status, w.attempts, w.reason`, with its status still as stored.
fn lead_summary(r: &rusqlite::Row<'_>) -> rusqlite::Result<(LeadSummary, String)> {
    Ok((
        LeadSummary {
            id: r.get(0)?,
            vendor: r.get(1)?,
            account: r.get(2)?,
            vendor_lead_id: r.get(3)?,
            kind: r.get(4)?,
            received_ms: r.get(5)?,
            status: WorkStatus::Pending,
            attempts: r.get(7)?,
            reason: r.get(8)?,
        },
        r.get::<_, String>(6)?,
    ))
}

/// Collects `(summary, stored status)` rows, parsing each status into the summary with `set`.
fn with_status<T>(
    rows: impl Iterator<Item = rusqlite::Result<(T, String)>>,
    set: impl Fn(&mut T, WorkStatus),
) -> Result<Vec<T>, StoreError> {
    rows.map(|row| {
        let (mut summary, status) = row?;
        set(&mut summary, parse_status(&status)?);
        Ok(summary)
    })
    .collect()
}

fn work_state(conn: &Connection, work_id: i64) -> Result<Option<WorkState>, StoreError> {
    let row: Option<(String, i64, Option<String>)> = conn
        .query_row(
            "SELECT status, due_ms, reason FROM work WHERE id = ?1",
            [work_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let Some((status, due_ms, reason)) = row else {
        return Ok(None);
    };
    Ok(Some(WorkState::from_stored(
        parse_status(&status)?,
        due_ms,
        reason,
    )))
}

pub(crate) fn find_lead(conn: &Connection, id: &str) -> Result<Option<i64>, StoreError> {
    let id = id.trim();
    let journal_id = |n: i64| -> Result<Option<i64>, StoreError> {
        Ok(conn
            .query_row("SELECT id FROM leads WHERE id = ?1", [n], |r| r.get(0))
            .optional()?)
    };
    if let Some(number) = id.strip_prefix('#') {
        return match number.parse::<i64>() {
            Ok(n) => journal_id(n),
            Err(_) => Ok(None),
        };
    }
    let by_vendor_id: Option<i64> = conn
        .query_row(
            "SELECT id FROM leads WHERE vendor_lead_id = ?1 ORDER BY received_ms DESC, id DESC
             LIMIT 1",
            [id],
            |r| r.get(0),
        )
        .optional()?;
    match (by_vendor_id, id.parse::<i64>()) {
        (Some(found), _) => Ok(Some(found)),
        (None, Ok(n)) => journal_id(n),
        (None, Err(_)) => Ok(None),
    }
}

fn runs_of(conn: &Connection, work_id: i64) -> Result<Vec<RunStory>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, attempt, script, handler, version, status, error, started_ms, elapsed_ms,
                note
         FROM runs WHERE work_id = ?1 ORDER BY id",
    )?;
    let runs = stmt
        .query_map([work_id], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                RunStory {
                    attempt: r.get(1)?,
                    script: r.get(2)?,
                    handler: r.get(3)?,
                    version: r.get(4)?,
                    status: r.get(5)?,
                    error: r.get(6)?,
                    started_ms: r.get(7)?,
                    elapsed_ms: r.get(8)?,
                    note: r.get(9)?,
                    node: None,
                    calls: Vec::new(),
                },
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut calls = conn.prepare_cached(
        "SELECT seq, vendor, account, op, ok, status, code, message, attempts, replayed, response
         FROM calls WHERE run_id = ?1 ORDER BY seq",
    )?;
    let mut out = Vec::with_capacity(runs.len());
    for (run_id, mut run) in runs {
        run.calls = calls
            .query_map([run_id], |r| {
                Ok(CallStory {
                    seq: r.get(0)?,
                    vendor: r.get(1)?,
                    account: r.get(2)?,
                    op: r.get(3)?,
                    ok: r.get(4)?,
                    status: r.get(5)?,
                    code: r.get(6)?,
                    message: r.get(7)?,
                    attempts: r.get(8)?,
                    replayed: r.get(9)?,
                    response_summary: r
                        .get::<_, Option<String>>(10)?
                        .map(|s| CallStory::summarize(&s)),
                })
            })?
            .collect::<Result<_, _>>()?;
        out.push(run);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_cut_on_character_boundaries() {
        let cut = CallStory::summarize(&"线".repeat(300));
        assert_eq!(cut.chars().count(), CallStory::SUMMARY_CHARS + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(CallStory::summarize("{\"ok\":1}"), "{\"ok\":1}");
    }
}
