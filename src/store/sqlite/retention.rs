//! Retention's SQL on the SQLite journal: pruning, redaction and erasure inside a caller's
//! write transaction. What is final, the redacted form and erasure are described in
//! [`crate::store::retention`].

use rusqlite::{params, Connection, OptionalExtension};

use super::StoreError;
use crate::lead::Lead;
use crate::store::retention::*;

/// `w` (a `work` row) is final for retention; see the module doc.
const FINAL: &str = "(w.status IN ('done', 'skipped')
     OR (w.status = 'dead' AND NOT EXISTS (SELECT 1 FROM dead_letters d
                                         WHERE d.work_id = w.id AND d.retried_ms IS NULL)))";

// Why `INDEXED BY`: without statistics SQLite's planner prefers `work_status` (an equality on
// `status`) and would read every routed item of the journal and sort them, for every step;
// walking the age index oldest first reads only what is due (`store::tests` checks the plans).

/// The oldest final leads past keep_days (`?1` the cutoff, `?2` the limit).
pub(crate) fn delete_leads_sql() -> String {
    format!(
        "SELECT w.id, l.id FROM leads l INDEXED BY leads_received JOIN work w ON w.lead_id = l.id
         WHERE l.received_ms < ?1 AND {FINAL} ORDER BY l.received_ms LIMIT ?2"
    )
}

/// The oldest final leads still holding personal data past personal_data_days.
pub(crate) fn redact_leads_sql() -> String {
    format!(
        "SELECT l.id FROM leads l INDEXED BY leads_unredacted JOIN work w ON w.lead_id = l.id
         WHERE l.redacted_ms IS NULL AND l.received_ms < ?1 AND {FINAL}
         ORDER BY l.received_ms LIMIT ?2"
    )
}

/// One prune step inside the caller's transaction: deletes up to `limit` final items past
/// `keep_days`, then redacts final items past `personal_data_days` with what is left of
/// `limit`. An empty report means there was nothing to do.
pub(crate) fn prune_step(
    conn: &Connection,
    policy: RetentionPolicy,
    now_ms: i64,
    limit: usize,
) -> Result<PruneReport, StoreError> {
    let mut report = PruneReport::default();
    let delete_before = policy.delete_before(now_ms);
    let mut left = limit as i64;
    // Oldest first through the `received_ms` indexes; non-final old items (unrouted, open dead
    // letters) are skipped by the condition, which is cheap while they are few.
    let pairs = |sql: &str, n: i64| -> Result<Vec<(i64, i64)>, StoreError> {
        let mut stmt = conn.prepare_cached(sql)?;
        let rows = stmt.query_map(params![delete_before, n], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    };
    let leads = pairs(&delete_leads_sql(), left)?;
    for (work_id, lead_id) in &leads {
        delete_work_item(conn, *work_id)?;
        conn.prepare_cached("DELETE FROM leads WHERE id = ?1")?
            .execute([lead_id])?;
    }
    report.deleted_leads = leads.len() as u64;
    left -= leads.len() as i64;
    if left > 0 {
        let follows = pairs(
            &format!(
                "SELECT w.id, f.id FROM follows f INDEXED BY follows_received
                 JOIN work w ON w.follow_id = f.id
                 WHERE f.received_ms < ?1 AND {FINAL} ORDER BY f.received_ms LIMIT ?2"
            ),
            left,
        )?;
        for (work_id, follow_id) in &follows {
            delete_work_item(conn, *work_id)?;
            conn.prepare_cached("DELETE FROM follows WHERE id = ?1")?
                .execute([follow_id])?;
        }
        report.deleted_follows = follows.len() as u64;
        left -= follows.len() as i64;
    }
    if left > 0 {
        let jobs = pairs(
            &format!(
                "SELECT w.id, 0 FROM work w INDEXED BY work_job_age
                 WHERE w.job_key IS NOT NULL AND w.updated_ms < ?1 AND {FINAL}
                 ORDER BY w.updated_ms LIMIT ?2"
            ),
            left,
        )?;
        for (work_id, _) in &jobs {
            delete_work_item(conn, *work_id)?;
        }
        report.deleted_jobs = jobs.len() as u64;
        left -= jobs.len() as i64;
    }
    let redact_before = policy.redact_before(now_ms);
    let ids = |sql: &str, n: i64| -> Result<Vec<i64>, StoreError> {
        let mut stmt = conn.prepare_cached(sql)?;
        let rows = stmt.query_map(params![redact_before, n], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    };
    if left > 0 {
        let leads = ids(&redact_leads_sql(), left)?;
        for lead_id in &leads {
            redact_lead(conn, *lead_id, now_ms, &[])?;
        }
        report.redacted_leads = leads.len() as u64;
        left -= leads.len() as i64;
    }
    if left > 0 {
        let follows = ids(
            &format!(
                "SELECT f.id FROM follows f INDEXED BY follows_unredacted
                 JOIN work w ON w.follow_id = f.id
                 WHERE f.redacted_ms IS NULL AND f.received_ms < ?1 AND {FINAL}
                 ORDER BY f.received_ms LIMIT ?2"
            ),
            left,
        )?;
        for follow_id in &follows {
            redact_follow(conn, *follow_id, now_ms, &[])?;
        }
        report.redacted_follows = follows.len() as u64;
    }
    Ok(report)
}

/// What the next prune would do, counted without changing anything (for `status`).
pub(crate) fn preview(
    conn: &Connection,
    policy: RetentionPolicy,
    now_ms: i64,
) -> Result<PruneReport, StoreError> {
    let count = |sql: String, at: i64| -> Result<u64, StoreError> {
        Ok(conn.query_row(&sql, [at], |r| r.get::<_, i64>(0))? as u64)
    };
    let del = policy.delete_before(now_ms);
    let red = policy.redact_before(now_ms);
    Ok(PruneReport {
        deleted_leads: count(
            format!(
                "SELECT count(*) FROM leads l INDEXED BY leads_received
                 JOIN work w ON w.lead_id = l.id
                 WHERE l.received_ms < ?1 AND {FINAL}"
            ),
            del,
        )?,
        deleted_follows: count(
            format!(
                "SELECT count(*) FROM follows f JOIN work w ON w.follow_id = f.id
                 WHERE f.received_ms < ?1 AND {FINAL}"
            ),
            del,
        )?,
        deleted_jobs: count(
            format!(
                "SELECT count(*) FROM work w
                 WHERE w.job_key IS NOT NULL AND w.updated_ms < ?1 AND {FINAL}"
            ),
            del,
        )?,
        // Rows past keep_days are deleted rather than redacted: not counted twice.
        redacted_leads: count(
            format!(
                "SELECT count(*) FROM leads l INDEXED BY leads_unredacted
                 JOIN work w ON w.lead_id = l.id
                 WHERE l.redacted_ms IS NULL AND l.received_ms < ?1
                   AND l.received_ms >= {del} AND {FINAL}"
            ),
            red,
        )?,
        redacted_follows: count(
            format!(
                "SELECT count(*) FROM follows f JOIN work w ON w.follow_id = f.id
                 WHERE f.redacted_ms IS NULL AND f.received_ms < ?1
                   AND f.received_ms >= {del} AND {FINAL}"
            ),
            red,
        )?,
    })
}

/// Deletes one work item with its calls, runs and (resolved) dead letters.
fn delete_work_item(conn: &Connection, work_id: i64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "DELETE FROM calls WHERE run_id IN (SELECT id FROM runs WHERE work_id = ?1)",
    )?
    .execute([work_id])?;
    conn.prepare_cached("DELETE FROM runs WHERE work_id = ?1")?
        .execute([work_id])?;
    conn.prepare_cached("DELETE FROM dead_letters WHERE work_id = ?1")?
        .execute([work_id])?;
    conn.prepare_cached("DELETE FROM work WHERE id = ?1")?
        .execute([work_id])?;
    Ok(())
}

/// Replaces lead `lead_id`'s body by its redacted form and scrubs its work's runs and calls.
/// `extra` are more strings to scrub (the phone an erasure asked for). Returns (runs, calls)
/// touched.
fn redact_lead(
    conn: &Connection,
    lead_id: i64,
    now_ms: i64,
    extra: &[String],
) -> Result<(u64, u64), StoreError> {
    let body: String = conn
        .prepare_cached("SELECT body FROM leads WHERE id = ?1")?
        .query_row([lead_id], |r| r.get(0))?;
    let lead: Lead = serde_json::from_str(&body)
        .map_err(|e| StoreError::Corrupt(format!("lead {lead_id}: {e}")))?;
    let mut secrets = lead.personal_values();
    secrets.extend(extra.iter().cloned());
    let redacted = serde_json::to_string(&lead.redacted(now_ms))
        .map_err(|e| StoreError::Corrupt(format!("lead {lead_id}: {e}")))?;
    conn.prepare_cached(
        "UPDATE leads SET body = ?2, phone_hash = '', redacted_ms = coalesce(redacted_ms, ?3)
         WHERE id = ?1",
    )?
    .execute(params![lead_id, redacted, now_ms])?;
    let work_id: Option<i64> = conn
        .prepare_cached("SELECT id FROM work WHERE lead_id = ?1")?
        .query_row([lead_id], |r| r.get(0))
        .optional()?;
    match work_id {
        Some(work_id) => scrub_work(conn, work_id, &secrets),
        None => Ok((0, 0)),
    }
}

/// Like [`redact_lead`] for a follow record: its record becomes `{}`.
fn redact_follow(
    conn: &Connection,
    follow_id: i64,
    now_ms: i64,
    extra: &[String],
) -> Result<(u64, u64), StoreError> {
    let record: String = conn
        .prepare_cached("SELECT record FROM follows WHERE id = ?1")?
        .query_row([follow_id], |r| r.get(0))?;
    let secrets = follow_secrets(&record, extra);
    conn.prepare_cached(
        "UPDATE follows SET record = '{}', phone_hash = '', redacted_ms = coalesce(redacted_ms, ?2)
         WHERE id = ?1",
    )?
    .execute(params![follow_id, now_ms])?;
    let work_id: Option<i64> = conn
        .prepare_cached("SELECT id FROM work WHERE follow_id = ?1")?
        .query_row([follow_id], |r| r.get(0))
        .optional()?;
    match work_id {
        Some(work_id) => scrub_work(conn, work_id, &secrets),
        None => Ok((0, 0)),
    }
}

/// Scrubs the texts of one work item's runs and calls and drops its call responses. Returns
/// (runs changed, calls changed).
fn scrub_work(
    conn: &Connection,
    work_id: i64,
    secrets: &[String],
) -> Result<(u64, u64), StoreError> {
    let mut runs_changed = 0;
    let runs: Vec<(i64, Option<String>, Option<String>)> = conn
        .prepare_cached("SELECT id, error, note FROM runs WHERE work_id = ?1")?
        .query_map([work_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    for (run_id, error, note) in runs {
        if let Some((e2, n2)) = scrub_run_texts(&error, &note, secrets) {
            conn.prepare_cached("UPDATE runs SET error = ?2, note = ?3 WHERE id = ?1")?
                .execute(params![run_id, e2, n2])?;
            runs_changed += 1;
        }
    }
    let mut calls_changed = 0;
    let calls: Vec<(i64, Option<String>, bool)> = conn
        .prepare_cached(
            "SELECT c.id, c.message, c.response IS NOT NULL
             FROM calls c JOIN runs r ON r.id = c.run_id WHERE r.work_id = ?1",
        )?
        .query_map([work_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    for (call_id, message, has_response) in calls {
        let m2 = message.as_deref().map(|t| scrub(t, secrets));
        if m2 != message || has_response {
            conn.prepare_cached("UPDATE calls SET message = ?2, response = NULL WHERE id = ?1")?
                .execute(params![call_id, m2])?;
            calls_changed += 1;
        }
    }
    let reason: Option<String> = conn
        .prepare_cached("SELECT reason FROM work WHERE id = ?1")?
        .query_row([work_id], |r| r.get(0))?;
    if let Some(reason) = reason {
        conn.prepare_cached("UPDATE work SET reason = ?2 WHERE id = ?1")?
            .execute(params![work_id, scrub(&reason, secrets)])?;
    }
    let letters: Vec<(i64, String)> = conn
        .prepare_cached("SELECT id, reason FROM dead_letters WHERE work_id = ?1")?
        .query_map([work_id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (id, reason) in letters {
        conn.prepare_cached("UPDATE dead_letters SET reason = ?2 WHERE id = ?1")?
            .execute(params![id, scrub(&reason, secrets)])?;
    }
    Ok((runs_changed, calls_changed))
}

/// Finds what an erasure will touch. Read-only, so it can run outside the write lock: the
/// scans over runs and calls may take a while on a big journal and must not stall the daemon.
pub(crate) fn forget_candidates(
    conn: &Connection,
    selector: &ForgetSelector,
) -> Result<ForgetCandidates, StoreError> {
    let mut out = ForgetCandidates::default();
    match selector {
        ForgetSelector::Id(id) => {
            // The vendor's ids of what was found (also for `#N`), searched for in quarantine.
            let mut tokens = vec![id.trim().to_string()];
            if let Some(lead) = super::reader::find_lead(conn, id)? {
                out.leads.push(lead);
                tokens.push(conn.query_row(
                    "SELECT vendor_lead_id FROM leads WHERE id = ?1",
                    [lead],
                    |r| r.get(0),
                )?);
            } else {
                let follows: Vec<(i64, String, Option<String>)> = conn
                    .prepare(
                        "SELECT id, msg_id, data_id FROM follows WHERE msg_id = ?1 OR data_id = ?1
                         ORDER BY id",
                    )?
                    .query_map([id.trim()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect::<Result<_, _>>()?;
                for (follow, msg_id, data_id) in follows {
                    out.follows.push(follow);
                    tokens.push(msg_id);
                    tokens.extend(data_id);
                }
            }
            // An internal `#N` is no vendor's id; very short ids would match by chance.
            let tokens = id_tokens(tokens);
            out.quarantine = quarantine_matching(conn, |text| {
                tokens.iter().any(|t| text_mentions_id(text, t))
            })?;
            if out.leads.is_empty() && out.follows.is_empty() && out.quarantine.is_empty() {
                return Err(forget_not_found(id));
            }
        }
        ForgetSelector::Phone(phone) => {
            let target = forget_phone(phone)?;
            let hash = phone_hash(&target);
            // Hash hits are this phone by construction; rows from before migration 3 have no
            // hash and are checked one by one.
            let mut stmt = conn.prepare(
                "SELECT id, body FROM leads WHERE phone_hash = ?1 OR phone_hash IS NULL
                 ORDER BY id",
            )?;
            for row in stmt.query_map([&hash], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })? {
                let (id, body) = row?;
                if lead_body_holds_phone(&body, &target) {
                    out.leads.push(id);
                }
            }
            let mut stmt = conn.prepare(
                "SELECT id, record FROM follows WHERE phone_hash = ?1 OR phone_hash IS NULL
                 ORDER BY id",
            )?;
            for row in stmt.query_map([&hash], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })? {
                let (id, record) = row?;
                if follow_record_holds_phone(&record, &target) {
                    out.follows.push(id);
                }
            }
            // Other places a script or a vendor may have echoed the number.
            let like = phone_like(&target);
            out.runs = conn
                .prepare("SELECT id FROM runs WHERE error LIKE ?1 OR note LIKE ?1 ORDER BY id")?
                .query_map([&like], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            out.calls = conn
                .prepare(
                    "SELECT id FROM calls WHERE response LIKE ?1 OR message LIKE ?1 ORDER BY id",
                )?
                .query_map([&like], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            // Quarantine holds payloads nobody could parse: searched as text, however the
            // number is written there.
            out.quarantine = quarantine_matching(conn, |text| text_mentions_phone(text, &target))?;
            out.target = Some(target);
        }
    }
    Ok(out)
}

/// Quarantined payloads whose body (read as text, invalid UTF-8 replaced) or reason `matches`.
/// Quarantine is small (each row waits for a human), so it is read whole.
fn quarantine_matching(
    conn: &Connection,
    matches: impl Fn(&str) -> bool,
) -> Result<Vec<i64>, StoreError> {
    let mut found = Vec::new();
    let mut stmt = conn.prepare("SELECT id, body, reason FROM quarantine ORDER BY id")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let (id, body, reason): (i64, Vec<u8>, String) = (row.get(0)?, row.get(1)?, row.get(2)?);
        if quarantined_matches(&body, &reason, &matches) {
            found.push(id);
        }
    }
    Ok(found)
}

/// Applies an erasure inside the caller's write transaction and records it in `erasures`.
pub(crate) fn forget(
    conn: &Connection,
    candidates: &ForgetCandidates,
    matched: &str,
    by: &str,
    now_ms: i64,
) -> Result<Erasure, StoreError> {
    let extra: Vec<String> = candidates.target.iter().cloned().collect();
    let mut out = Erasure::default();
    let mut work_ids = Vec::new();
    for lead_id in &candidates.leads {
        let label: Option<(String, String, String)> = conn
            .query_row(
                "SELECT vendor, account, vendor_lead_id FROM leads WHERE id = ?1",
                [lead_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        // Gone since the candidates were read (pruned meanwhile): nothing left to erase.
        let Some((vendor, account, id)) = label else {
            continue;
        };
        let (runs, calls) = redact_lead(conn, *lead_id, now_ms, &extra)?;
        out.runs += runs;
        out.calls += calls;
        out.leads.push(format!("{vendor} {account} {id}"));
        work_ids.extend(
            conn.query_row("SELECT id FROM work WHERE lead_id = ?1", [lead_id], |r| {
                r.get::<_, i64>(0)
            })
            .optional()?,
        );
    }
    for follow_id in &candidates.follows {
        let label: Option<(String, String)> = conn
            .query_row(
                "SELECT account, msg_id FROM follows WHERE id = ?1",
                [follow_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((account, msg_id)) = label else {
            continue;
        };
        let (runs, calls) = redact_follow(conn, *follow_id, now_ms, &extra)?;
        out.runs += runs;
        out.calls += calls;
        out.follows.push(format!("{account} {msg_id}"));
        work_ids.extend(
            conn.query_row(
                "SELECT id FROM work WHERE follow_id = ?1",
                [follow_id],
                |r| r.get::<_, i64>(0),
            )
            .optional()?,
        );
    }
    for run_id in &candidates.runs {
        let texts: Option<(Option<String>, Option<String>)> = conn
            .query_row(
                "SELECT error, note FROM runs WHERE id = ?1",
                [run_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        if let Some((e2, n2)) = texts.and_then(|(e, n)| scrub_run_texts(&e, &n, &extra)) {
            conn.execute(
                "UPDATE runs SET error = ?2, note = ?3 WHERE id = ?1",
                params![run_id, e2, n2],
            )?;
            out.runs += 1;
        }
    }
    for call_id in &candidates.calls {
        let message: Option<Option<String>> = conn
            .query_row("SELECT message FROM calls WHERE id = ?1", [call_id], |r| {
                r.get(0)
            })
            .optional()?;
        if let Some(message) = message {
            conn.execute(
                "UPDATE calls SET message = ?2, response = NULL WHERE id = ?1",
                params![call_id, message.as_deref().map(|t| scrub(t, &extra))],
            )?;
            out.calls += 1;
        }
    }
    for quarantine_id in &candidates.quarantine {
        let reason: Option<String> = conn
            .query_row(
                "SELECT reason FROM quarantine WHERE id = ?1",
                [quarantine_id],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(reason) = reason {
            // The reason may quote the body (a parser's message): scrubbed like a run error.
            conn.execute(
                "UPDATE quarantine SET body = ?2, reason = ?3 WHERE id = ?1",
                params![quarantine_id, QUARANTINE_ERASED, scrub(&reason, &extra)],
            )?;
            out.quarantined.push(*quarantine_id);
        }
    }
    // Work not finished yet would be routed with the person gone; it is closed instead.
    // Running work is left to finish (the daemon holds it); see the README.
    for work_id in work_ids {
        out.closed += conn.execute(
            "UPDATE work SET status = 'skipped', reason = ?3, updated_ms = ?2
             WHERE id = ?1 AND status IN ('pending', 'retry', 'unrouted')",
            params![work_id, now_ms, ERASED_REASON],
        )? as u64;
    }
    conn.execute(
        "INSERT INTO erasures (at_ms, by, matched, leads, follows, runs, calls, quarantined)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            now_ms,
            by,
            matched,
            out.leads.len() as i64,
            out.follows.len() as i64,
            out.runs as i64,
            out.calls as i64,
            out.quarantined.len() as i64
        ],
    )?;
    out.id = conn.last_insert_rowid();
    Ok(out)
}

/// Best effort: copies the WAL into the database and truncates it, so page images written
/// before a redaction (which the WAL may still hold) leave the disk too. Needs a moment with
/// no reader inside a transaction; when a reader is, the next try gets it.
pub(crate) fn truncate_wal(path: &std::path::Path) -> Result<bool, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(super::schema::BUSY_TIMEOUT)?;
    let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
    Ok(busy == 0)
}
