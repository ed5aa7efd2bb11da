//! Retention on the PostgreSQL journal: the same prune step and erasure as SQLite's
//! (`sqlite/retention.rs`, rules in `store::retention`).
//!
//! **Prune**, in one transaction of the node's: delete final items past `keep_days` oldest
//! first, then redact final items past `personal_data_days`. Rows are taken with
//! `FOR UPDATE SKIP LOCKED`, so two nodes pruning at once share the work instead of waiting on
//! each other.
//!
//! **Erasure** (`leads forget`), beside running nodes, in one transaction of its own on a
//! connection that claims nothing and never migrates: the search reads a snapshot (MVCC: it
//! blocks no node however long it scans), then the rows to rewrite are locked in id order —
//! leads, follow records, their work items and the work items of the runs and calls quoting
//! the phone, quarantined payloads — with `FOR NO KEY UPDATE`: a node finishing one of those
//! items (`FOR UPDATE` on its work) waits for the erasure's commit, a prune step skips them
//! (`SKIP LOCKED`), and a run in flight may still journal its calls (they only need
//! `KEY SHARE`). Rows gone by then (pruned meanwhile) are skipped, as on SQLite; a lead
//! journaled after the search is not in this erasure (running it again finds it). A deadlock
//! with a node (which PostgreSQL breaks by failing one side) makes the whole erasure run
//! again, at most three times.

use deadpool_postgres::{GenericClient, Transaction};

use super::reader::FINAL;
use crate::lead::Lead;
use crate::store::retention::*;
use crate::store::target::PgUrl;
use crate::store::StoreError;

/// One prune step inside `tx`: at most `limit` rows deleted or redacted.
pub(crate) async fn prune_step(
    tx: &Transaction<'_>,
    policy: RetentionPolicy,
    now_ms: i64,
    limit: usize,
) -> Result<PruneReport, StoreError> {
    let mut report = PruneReport::default();
    let delete_before = policy.delete_before(now_ms);
    let mut left = limit as i64;
    let pairs = |sql: String, n: i64| async move {
        Ok::<_, StoreError>(
            tx.query(&sql, &[&delete_before, &n])
                .await?
                .iter()
                .map(|r| (r.get::<_, i64>(0), r.get::<_, i64>(1)))
                .collect::<Vec<_>>(),
        )
    };
    let leads = pairs(
        format!(
            "SELECT w.id, l.id FROM leads l JOIN work w ON w.lead_id = l.id
             WHERE l.received_ms < $1 AND {FINAL} ORDER BY l.received_ms LIMIT $2
             FOR UPDATE OF l, w SKIP LOCKED"
        ),
        left,
    )
    .await?;
    for (work_id, lead_id) in &leads {
        delete_work_item(tx, *work_id).await?;
        tx.execute("DELETE FROM leads WHERE id = $1", &[lead_id])
            .await?;
    }
    report.deleted_leads = leads.len() as u64;
    left -= leads.len() as i64;
    if left > 0 {
        let follows = pairs(
            format!(
                "SELECT w.id, f.id FROM follows f JOIN work w ON w.follow_id = f.id
                 WHERE f.received_ms < $1 AND {FINAL} ORDER BY f.received_ms LIMIT $2
                 FOR UPDATE OF f, w SKIP LOCKED"
            ),
            left,
        )
        .await?;
        for (work_id, follow_id) in &follows {
            delete_work_item(tx, *work_id).await?;
            tx.execute("DELETE FROM follows WHERE id = $1", &[follow_id])
                .await?;
        }
        report.deleted_follows = follows.len() as u64;
        left -= follows.len() as i64;
    }
    if left > 0 {
        let jobs = pairs(
            format!(
                "SELECT w.id, 0::bigint FROM work w
                 WHERE w.job_key IS NOT NULL AND w.updated_ms < $1 AND {FINAL}
                 ORDER BY w.updated_ms LIMIT $2 FOR UPDATE OF w SKIP LOCKED"
            ),
            left,
        )
        .await?;
        for (work_id, _) in &jobs {
            delete_work_item(tx, *work_id).await?;
        }
        report.deleted_jobs = jobs.len() as u64;
        left -= jobs.len() as i64;
    }
    let redact_before = policy.redact_before(now_ms);
    let ids = |sql: String, n: i64| async move {
        Ok::<_, StoreError>(
            tx.query(&sql, &[&redact_before, &n])
                .await?
                .iter()
                .map(|r| r.get::<_, i64>(0))
                .collect::<Vec<_>>(),
        )
    };
    if left > 0 {
        let leads = ids(
            format!(
                "SELECT l.id FROM leads l JOIN work w ON w.lead_id = l.id
                 WHERE l.redacted_ms IS NULL AND l.received_ms < $1 AND {FINAL}
                 ORDER BY l.received_ms LIMIT $2 FOR UPDATE OF l SKIP LOCKED"
            ),
            left,
        )
        .await?;
        for lead_id in &leads {
            redact_lead(tx, *lead_id, now_ms, &[]).await?;
        }
        report.redacted_leads = leads.len() as u64;
        left -= leads.len() as i64;
    }
    if left > 0 {
        let follows = ids(
            format!(
                "SELECT f.id FROM follows f JOIN work w ON w.follow_id = f.id
                 WHERE f.redacted_ms IS NULL AND f.received_ms < $1 AND {FINAL}
                 ORDER BY f.received_ms LIMIT $2 FOR UPDATE OF f SKIP LOCKED"
            ),
            left,
        )
        .await?;
        for follow_id in &follows {
            redact_follow(tx, *follow_id, now_ms, &[]).await?;
        }
        report.redacted_follows = follows.len() as u64;
    }
    Ok(report)
}

async fn delete_work_item(tx: &Transaction<'_>, work_id: i64) -> Result<(), StoreError> {
    tx.execute(
        "DELETE FROM calls WHERE run_id IN (SELECT id FROM runs WHERE work_id = $1)",
        &[&work_id],
    )
    .await?;
    tx.execute("DELETE FROM runs WHERE work_id = $1", &[&work_id])
        .await?;
    tx.execute("DELETE FROM dead_letters WHERE work_id = $1", &[&work_id])
        .await?;
    tx.execute("DELETE FROM work WHERE id = $1", &[&work_id])
        .await?;
    Ok(())
}

/// A lead's body becomes its redacted form; its work's runs and calls are scrubbed of its
/// personal values and `extra`. Returns (runs, calls) changed.
async fn redact_lead(
    tx: &Transaction<'_>,
    lead_id: i64,
    now_ms: i64,
    extra: &[String],
) -> Result<(u64, u64), StoreError> {
    let body: String = tx
        .query_one("SELECT body FROM leads WHERE id = $1", &[&lead_id])
        .await?
        .get(0);
    let lead: Lead = serde_json::from_str(&body)
        .map_err(|e| StoreError::Corrupt(format!("lead {lead_id}: {e}")))?;
    let mut secrets = lead.personal_values();
    secrets.extend(extra.iter().cloned());
    let redacted = serde_json::to_string(&lead.redacted(now_ms))
        .map_err(|e| StoreError::Corrupt(format!("lead {lead_id}: {e}")))?;
    tx.execute(
        "UPDATE leads SET body = $2, phone_hash = '', redacted_ms = coalesce(redacted_ms, $3)
         WHERE id = $1",
        &[&lead_id, &redacted, &now_ms],
    )
    .await?;
    match tx
        .query_opt("SELECT id FROM work WHERE lead_id = $1", &[&lead_id])
        .await?
    {
        Some(row) => scrub_work(tx, row.get(0), &secrets).await,
        None => Ok((0, 0)),
    }
}

/// A follow record becomes `{}`; its work's runs and calls are scrubbed. Returns (runs, calls)
/// changed.
async fn redact_follow(
    tx: &Transaction<'_>,
    follow_id: i64,
    now_ms: i64,
    extra: &[String],
) -> Result<(u64, u64), StoreError> {
    let record: String = tx
        .query_one("SELECT record FROM follows WHERE id = $1", &[&follow_id])
        .await?
        .get(0);
    let secrets = follow_secrets(&record, extra);
    tx.execute(
        "UPDATE follows SET record = '{}', phone_hash = '', redacted_ms = coalesce(redacted_ms, $2)
         WHERE id = $1",
        &[&follow_id, &now_ms],
    )
    .await?;
    match tx
        .query_opt("SELECT id FROM work WHERE follow_id = $1", &[&follow_id])
        .await?
    {
        Some(row) => scrub_work(tx, row.get(0), &secrets).await,
        None => Ok((0, 0)),
    }
}

/// Scrubs one work item's run texts, call messages, reason and dead letters, and drops its
/// call responses (they may echo the person). Returns (runs changed, calls changed), counted
/// as on SQLite.
async fn scrub_work(
    tx: &Transaction<'_>,
    work_id: i64,
    secrets: &[String],
) -> Result<(u64, u64), StoreError> {
    let mut runs_changed = 0;
    for run in tx
        .query(
            "SELECT id, error, note FROM runs WHERE work_id = $1 ORDER BY id",
            &[&work_id],
        )
        .await?
    {
        let (id, error, note): (i64, Option<String>, Option<String>) =
            (run.get(0), run.get(1), run.get(2));
        if let Some((error, note)) = scrub_run_texts(&error, &note, secrets) {
            tx.execute(
                "UPDATE runs SET error = $2, note = $3 WHERE id = $1",
                &[&id, &error, &note],
            )
            .await?;
            runs_changed += 1;
        }
    }
    let mut calls_changed = 0;
    for call in tx
        .query(
            "SELECT c.id, c.message, c.response IS NOT NULL FROM calls c
             JOIN runs r ON r.id = c.run_id WHERE r.work_id = $1 ORDER BY c.id",
            &[&work_id],
        )
        .await?
    {
        let (id, message, has_response): (i64, Option<String>, bool) =
            (call.get(0), call.get(1), call.get(2));
        let scrubbed = message.as_deref().map(|t| scrub(t, secrets));
        if scrubbed != message || has_response {
            tx.execute(
                "UPDATE calls SET message = $2, response = NULL WHERE id = $1",
                &[&id, &scrubbed],
            )
            .await?;
            calls_changed += 1;
        }
    }
    let reason: Option<String> = tx
        .query_one("SELECT reason FROM work WHERE id = $1", &[&work_id])
        .await?
        .get(0);
    if let Some(reason) = reason {
        tx.execute(
            "UPDATE work SET reason = $2 WHERE id = $1",
            &[&work_id, &scrub(&reason, secrets)],
        )
        .await?;
    }
    for letter in tx
        .query(
            "SELECT id, reason FROM dead_letters WHERE work_id = $1",
            &[&work_id],
        )
        .await?
    {
        let (id, reason): (i64, String) = (letter.get(0), letter.get(1));
        tx.execute(
            "UPDATE dead_letters SET reason = $2 WHERE id = $1",
            &[&id, &scrub(&reason, secrets)],
        )
        .await?;
    }
    Ok((runs_changed, calls_changed))
}

/// `leadrelay leads forget` on the PostgreSQL journal at `url`, beside running nodes (see the
/// module doc): connects without migrating (a journal of another schema version is refused),
/// erases in one transaction, commits. Synchronous, for the CLI: inside a multi-threaded
/// runtime (the CLI's) it runs on it, otherwise on a small runtime of its own.
pub(crate) fn forget_beside(
    url: &PgUrl,
    selector: &ForgetSelector,
    by: &str,
    now_ms: i64,
) -> Result<Erasure, StoreError> {
    let location = url.to_string();
    let work = async {
        let pool = super::pool(url)?;
        super::reader::open_checked(&pool, &location).await?;
        let mut client = pool.get().await?;
        let mut tries = 0;
        loop {
            tries += 1;
            let tx = client.transaction().await?;
            let result = async {
                let candidates = forget_candidates(&tx, selector).await?;
                forget(&tx, &candidates, selector.matched(), by, now_ms).await
            }
            .await;
            let erasure = match result {
                Ok(erasure) => tx
                    .commit()
                    .await
                    .map(|()| erasure)
                    .map_err(StoreError::from),
                Err(error) => Err(error),
            };
            match erasure {
                Err(error) if tries < 3 && is_deadlock(&error) => {
                    tracing::info!(%error, "journal: erasure met a node's transaction; again");
                }
                Ok(erasure) => {
                    tracing::info!(
                        journal = %location,
                        erasure = erasure.id,
                        leads = erasure.leads.len(),
                        follows = erasure.follows.len(),
                        "journal: erasure recorded (PostgreSQL)"
                    );
                    return Ok(erasure);
                }
                Err(error) => return Err(error),
            }
        }
    };
    super::block_on(work)
}

/// A deadlock or serialization failure: the transaction may simply run again.
fn is_deadlock(error: &StoreError) -> bool {
    matches!(error, StoreError::Database(m) if m.starts_with("40P01:") || m.starts_with("40001:"))
}

/// Finds what an erasure will touch, inside `tx` (a plain snapshot read: it locks nothing).
/// The same rules and the same answers as SQLite's `forget_candidates`.
pub(crate) async fn forget_candidates(
    tx: &Transaction<'_>,
    selector: &ForgetSelector,
) -> Result<ForgetCandidates, StoreError> {
    let mut out = ForgetCandidates::default();
    let ids = |rows: Vec<tokio_postgres::Row>| rows.iter().map(|r| r.get(0)).collect::<Vec<i64>>();
    match selector {
        ForgetSelector::Id(id) => {
            let mut tokens = vec![id.trim().to_string()];
            if let Some(lead) = super::journal::find_lead(tx, id).await? {
                out.leads.push(lead);
                tokens.push(
                    tx.query_one("SELECT vendor_lead_id FROM leads WHERE id = $1", &[&lead])
                        .await?
                        .get(0),
                );
            } else {
                for row in tx
                    .query(
                        "SELECT id, msg_id, data_id FROM follows WHERE msg_id = $1 OR data_id = $1
                         ORDER BY id",
                        &[&id.trim()],
                    )
                    .await?
                {
                    out.follows.push(row.get(0));
                    tokens.push(row.get(1));
                    tokens.extend(row.get::<_, Option<String>>(2));
                }
            }
            let tokens = id_tokens(tokens);
            out.quarantine =
                quarantine_matching(tx, |text| tokens.iter().any(|t| text_mentions_id(text, t)))
                    .await?;
            if out.leads.is_empty() && out.follows.is_empty() && out.quarantine.is_empty() {
                return Err(forget_not_found(id));
            }
        }
        ForgetSelector::Phone(phone) => {
            let target = forget_phone(phone)?;
            let hash = phone_hash(&target);
            // Hash hits are this phone by construction; rows without a hash (copied from a
            // SQLite journal older than its migration 3) are checked one by one.
            for row in tx
                .query(
                    "SELECT id, body FROM leads WHERE phone_hash = $1 OR phone_hash IS NULL
                     ORDER BY id",
                    &[&hash],
                )
                .await?
            {
                if lead_body_holds_phone(row.get(1), &target) {
                    out.leads.push(row.get(0));
                }
            }
            for row in tx
                .query(
                    "SELECT id, record FROM follows WHERE phone_hash = $1 OR phone_hash IS NULL
                     ORDER BY id",
                    &[&hash],
                )
                .await?
            {
                if follow_record_holds_phone(row.get(1), &target) {
                    out.follows.push(row.get(0));
                }
            }
            // Other places a script or a vendor may have echoed the number.
            let like = phone_like(&target);
            out.runs = ids(tx
                .query(
                    "SELECT id FROM runs WHERE error LIKE $1 OR note LIKE $1 ORDER BY id",
                    &[&like],
                )
                .await?);
            out.calls = ids(tx
                .query(
                    "SELECT id FROM calls WHERE response LIKE $1 OR message LIKE $1 ORDER BY id",
                    &[&like],
                )
                .await?);
            out.quarantine =
                quarantine_matching(tx, |text| text_mentions_phone(text, &target)).await?;
            out.target = Some(target);
        }
    }
    Ok(out)
}

/// Quarantined payloads (read whole: quarantine is small) whose body or reason `matches`.
async fn quarantine_matching(
    tx: &Transaction<'_>,
    matches: impl Fn(&str) -> bool,
) -> Result<Vec<i64>, StoreError> {
    Ok(tx
        .query("SELECT id, body, reason FROM quarantine ORDER BY id", &[])
        .await?
        .iter()
        .filter(|row| quarantined_matches(row.get(1), row.get(2), &matches))
        .map(|row| row.get(0))
        .collect())
}

/// Locks, in id order, every row an erasure rewrites (see the module doc).
async fn lock(tx: &Transaction<'_>, c: &ForgetCandidates) -> Result<(), StoreError> {
    tx.query(
        "SELECT id FROM leads WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE",
        &[&c.leads],
    )
    .await?;
    tx.query(
        "SELECT id FROM follows WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE",
        &[&c.follows],
    )
    .await?;
    tx.query(
        "SELECT id FROM work
         WHERE lead_id = ANY($1) OR follow_id = ANY($2)
            OR id IN (SELECT work_id FROM runs
                      WHERE id = ANY($3) OR id IN (SELECT run_id FROM calls WHERE id = ANY($4)))
         ORDER BY id FOR NO KEY UPDATE",
        &[&c.leads, &c.follows, &c.runs, &c.calls],
    )
    .await?;
    tx.query(
        "SELECT id FROM quarantine WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE",
        &[&c.quarantine],
    )
    .await?;
    Ok(())
}

/// Applies an erasure inside `tx` and records it in `erasures`: what SQLite's `forget` does,
/// statement for statement, after locking what it rewrites.
pub(crate) async fn forget(
    tx: &Transaction<'_>,
    candidates: &ForgetCandidates,
    matched: &str,
    by: &str,
    now_ms: i64,
) -> Result<Erasure, StoreError> {
    lock(tx, candidates).await?;
    let extra: Vec<String> = candidates.target.iter().cloned().collect();
    let mut out = Erasure::default();
    let mut work_ids = Vec::new();
    for lead_id in &candidates.leads {
        // Gone since the candidates were read (pruned meanwhile): nothing left to erase.
        let Some(label) = tx
            .query_opt(
                "SELECT vendor, account, vendor_lead_id FROM leads WHERE id = $1",
                &[lead_id],
            )
            .await?
        else {
            continue;
        };
        let (vendor, account, id): (String, String, String) =
            (label.get(0), label.get(1), label.get(2));
        let (runs, calls) = redact_lead(tx, *lead_id, now_ms, &extra).await?;
        out.runs += runs;
        out.calls += calls;
        out.leads.push(format!("{vendor} {account} {id}"));
        if let Some(row) = tx
            .query_opt("SELECT id FROM work WHERE lead_id = $1", &[lead_id])
            .await?
        {
            work_ids.push(row.get::<_, i64>(0));
        }
    }
    for follow_id in &candidates.follows {
        let Some(label) = tx
            .query_opt(
                "SELECT account, msg_id FROM follows WHERE id = $1",
                &[follow_id],
            )
            .await?
        else {
            continue;
        };
        let (account, msg_id): (String, String) = (label.get(0), label.get(1));
        let (runs, calls) = redact_follow(tx, *follow_id, now_ms, &extra).await?;
        out.runs += runs;
        out.calls += calls;
        out.follows.push(format!("{account} {msg_id}"));
        if let Some(row) = tx
            .query_opt("SELECT id FROM work WHERE follow_id = $1", &[follow_id])
            .await?
        {
            work_ids.push(row.get::<_, i64>(0));
        }
    }
    for run_id in &candidates.runs {
        let Some(texts) = tx
            .query_opt("SELECT error, note FROM runs WHERE id = $1", &[run_id])
            .await?
        else {
            continue;
        };
        let (error, note): (Option<String>, Option<String>) = (texts.get(0), texts.get(1));
        if let Some((error, note)) = scrub_run_texts(&error, &note, &extra) {
            tx.execute(
                "UPDATE runs SET error = $2, note = $3 WHERE id = $1",
                &[run_id, &error, &note],
            )
            .await?;
            out.runs += 1;
        }
    }
    for call_id in &candidates.calls {
        let Some(row) = tx
            .query_opt("SELECT message FROM calls WHERE id = $1", &[call_id])
            .await?
        else {
            continue;
        };
        let message: Option<String> = row.get(0);
        tx.execute(
            "UPDATE calls SET message = $2, response = NULL WHERE id = $1",
            &[call_id, &message.as_deref().map(|t| scrub(t, &extra))],
        )
        .await?;
        out.calls += 1;
    }
    for quarantine_id in &candidates.quarantine {
        let Some(row) = tx
            .query_opt(
                "SELECT reason FROM quarantine WHERE id = $1",
                &[quarantine_id],
            )
            .await?
        else {
            continue;
        };
        let reason: String = row.get(0);
        // The reason may quote the body (a parser's message): scrubbed like a run error.
        tx.execute(
            "UPDATE quarantine SET body = $2, reason = $3 WHERE id = $1",
            &[quarantine_id, &QUARANTINE_ERASED, &scrub(&reason, &extra)],
        )
        .await?;
        out.quarantined.push(*quarantine_id);
    }
    // Work not finished yet would be routed with the person gone; it is closed instead.
    // Running work is left to finish (its node holds it); see the README.
    for work_id in work_ids {
        out.closed += tx
            .execute(
                "UPDATE work SET status = 'skipped', reason = $3, updated_ms = $2
                 WHERE id = $1 AND status IN ('pending', 'retry', 'unrouted')",
                &[&work_id, &now_ms, &ERASED_REASON],
            )
            .await?;
    }
    out.id = tx
        .query_one(
            "INSERT INTO erasures (at_ms, by, matched, leads, follows, runs, calls, quarantined)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            &[
                &now_ms,
                &by,
                &matched,
                &(out.leads.len() as i64),
                &(out.follows.len() as i64),
                &(out.runs as i64),
                &(out.calls as i64),
                &(out.quarantined.len() as i64),
            ],
        )
        .await?
        .get(0);
    Ok(out)
}
