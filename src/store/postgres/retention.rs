//! Retention on the PostgreSQL journal: the same prune step as SQLite's (`sqlite/retention.rs`,
//! rules in `store::retention`), in one transaction of the node's: delete final items past
//! `keep_days` oldest first, then redact final items past `personal_data_days`. Rows are taken
//! with `FOR UPDATE SKIP LOCKED`, so two nodes pruning at once share the work instead of
//! waiting on each other.

use deadpool_postgres::{GenericClient, Transaction};
use serde_json::Value;

use super::reader::FINAL;
use crate::lead::Lead;
use crate::store::retention::{collect_strings, scrub, PruneReport, RetentionPolicy};
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
            redact_lead(tx, *lead_id, now_ms).await?;
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
            redact_follow(tx, *follow_id, now_ms).await?;
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

/// A lead's body becomes its redacted form; its work's runs and calls are scrubbed.
async fn redact_lead(tx: &Transaction<'_>, lead_id: i64, now_ms: i64) -> Result<(), StoreError> {
    let body: String = tx
        .query_one("SELECT body FROM leads WHERE id = $1", &[&lead_id])
        .await?
        .get(0);
    let lead: Lead = serde_json::from_str(&body)
        .map_err(|e| StoreError::Corrupt(format!("lead {lead_id}: {e}")))?;
    let secrets = lead.personal_values();
    let redacted = serde_json::to_string(&lead.redacted(now_ms))
        .map_err(|e| StoreError::Corrupt(format!("lead {lead_id}: {e}")))?;
    tx.execute(
        "UPDATE leads SET body = $2, phone_hash = '', redacted_ms = coalesce(redacted_ms, $3)
         WHERE id = $1",
        &[&lead_id, &redacted, &now_ms],
    )
    .await?;
    if let Some(row) = tx
        .query_opt("SELECT id FROM work WHERE lead_id = $1", &[&lead_id])
        .await?
    {
        scrub_work(tx, row.get(0), &secrets).await?;
    }
    Ok(())
}

/// A follow record becomes `{}`; its work's runs and calls are scrubbed.
async fn redact_follow(
    tx: &Transaction<'_>,
    follow_id: i64,
    now_ms: i64,
) -> Result<(), StoreError> {
    let record: String = tx
        .query_one("SELECT record FROM follows WHERE id = $1", &[&follow_id])
        .await?
        .get(0);
    let mut secrets = Vec::new();
    if let Ok(value) = serde_json::from_str::<Value>(&record) {
        collect_strings(&value, &mut secrets);
    }
    // Short values ("1", "否") would turn every digit or word of an error into `***`.
    secrets.retain(|s| s.chars().count() >= 2);
    tx.execute(
        "UPDATE follows SET record = '{}', phone_hash = '', redacted_ms = coalesce(redacted_ms, $2)
         WHERE id = $1",
        &[&follow_id, &now_ms],
    )
    .await?;
    if let Some(row) = tx
        .query_opt("SELECT id FROM work WHERE follow_id = $1", &[&follow_id])
        .await?
    {
        scrub_work(tx, row.get(0), &secrets).await?;
    }
    Ok(())
}

/// Scrubs one work item's run texts, call messages, reason and dead letters, and drops its
/// call responses (they may echo the person).
async fn scrub_work(
    tx: &Transaction<'_>,
    work_id: i64,
    secrets: &[String],
) -> Result<(), StoreError> {
    let scrubbed = |text: Option<String>| text.map(|t| scrub(&t, secrets));
    for run in tx
        .query(
            "SELECT id, error, note FROM runs WHERE work_id = $1",
            &[&work_id],
        )
        .await?
    {
        let (id, error, note): (i64, Option<String>, Option<String>) =
            (run.get(0), run.get(1), run.get(2));
        tx.execute(
            "UPDATE runs SET error = $2, note = $3 WHERE id = $1",
            &[&id, &scrubbed(error), &scrubbed(note)],
        )
        .await?;
    }
    for call in tx
        .query(
            "SELECT c.id, c.message FROM calls c JOIN runs r ON r.id = c.run_id
             WHERE r.work_id = $1",
            &[&work_id],
        )
        .await?
    {
        let (id, message): (i64, Option<String>) = (call.get(0), call.get(1));
        tx.execute(
            "UPDATE calls SET message = $2, response = NULL WHERE id = $1",
            &[&id, &scrubbed(message)],
        )
        .await?;
    }
    let reason: Option<String> = tx
        .query_one("SELECT reason FROM work WHERE id = $1", &[&work_id])
        .await?
        .get(0);
    tx.execute(
        "UPDATE work SET reason = $2 WHERE id = $1",
        &[&work_id, &scrubbed(reason)],
    )
    .await?;
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
    Ok(())
}
