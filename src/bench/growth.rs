//! `leadrelay bench --growth N`: the journal over months, in minutes.
//!
//! ## Method
//!
//! - N synthetic Tencent leads (name, phone, WeChat, address, a raw record like the platform's)
//!   are journaled through [`Journal::accept_leads`] with arrival times spread at 10,000 a day
//!   of simulated time, then routed as the dispatcher would: claimed, and finished `done` with
//!   one run holding one successful call whose response echoes the customer.
//! - **Bytes per lead** is the database's used pages (`(page_count - freelist_count) ×
//!   page_size`, after a WAL checkpoint) over N: before redaction, after redacting every lead
//!   (policy: personal data 1 day, keep for ever), and after deleting them all.
//! - **Steady state at the defaults** (10,000 leads a day, `personal_data_days = 30`, `keep_days
//!   = 90`) is computed from those: 30 days of full leads plus 60 days of redacted ones.
//! - **Writer latency while pruning**: during each prune a probe commits one new lead every
//!   2 ms through the same writer (`accept_leads`, what a push waits for before it is acked)
//!   and records how long each took. This is the journal commit an acknowledgement waits for,
//!   measured in-process; it is not an HTTP ack latency measured against a daemon under push
//!   load (the HTTP path adds its own ~1 ms, see the main bench).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::connectors::Vendor;
use crate::lead::{Lead, LeadKind};
use crate::store::retention::DAY_MS;
use crate::store::types::{Arrival, Via};
use crate::store::{
    fingerprint, CallRow, Journal, JournalOptions, PruneReport, RetentionPolicy, RunRecord,
    WorkOutcome,
};

/// Leads a simulated day.
const PER_DAY: u64 = 10_000;

/// What `bench --growth` measured.
#[derive(Debug, Clone)]
pub struct GrowthReport {
    /// Leads journaled.
    pub leads: u64,
    /// Seconds to journal and route them.
    pub fill_secs: f64,
    /// Used bytes per lead with full personal data (lead, work, run, call, indexes).
    pub bytes_per_lead_full: f64,
    /// Used bytes per lead after redaction.
    pub bytes_per_lead_redacted: f64,
    /// Stored payload bytes per lead (lead body + call response) with full personal data:
    /// what redaction rewrites, before SQLite's page layout.
    pub payload_per_lead_full: f64,
    /// The same after redaction.
    pub payload_per_lead_redacted: f64,
    /// Used bytes left after every lead was deleted (schema, the probe's leads).
    pub bytes_after_delete: u64,
    /// The file after deleting and reclaiming.
    pub file_bytes_after_delete: u64,
    /// The redaction prune.
    pub redact: PrunePhase,
    /// The deletion prune.
    pub delete: PrunePhase,
}

/// One prune with its probe.
#[derive(Debug, Clone)]
pub struct PrunePhase {
    /// What it did.
    pub report: PruneReport,
    /// Seconds it took (including the pauses it leaves the writer and reclaiming space).
    pub secs: f64,
    /// Probe commits made meanwhile.
    pub probes: usize,
    /// Their latency, milliseconds: p50, p99, max.
    pub p50_ms: f64,
    /// p99.
    pub p99_ms: f64,
    /// Max.
    pub max_ms: f64,
}

impl GrowthReport {
    /// The file at steady state for `per_day` leads a day under `policy`: full leads for
    /// `personal_data_days`, redacted ones for the rest of `keep_days`.
    pub fn steady_state_bytes(&self, per_day: u64, policy: RetentionPolicy) -> f64 {
        let full = (per_day * policy.personal_data_days as u64) as f64;
        let redacted = (per_day * (policy.keep_days - policy.personal_data_days) as u64) as f64;
        full * self.bytes_per_lead_full + redacted * self.bytes_per_lead_redacted
    }
}

impl std::fmt::Display for GrowthReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let policy = RetentionPolicy::default();
        writeln!(
            f,
            "journal growth: {} leads at {PER_DAY}/day of simulated time (filled in {:.1} s)",
            self.leads, self.fill_secs
        )?;
        writeln!(
            f,
            "  bytes per lead, full personal data : {:.0}",
            self.bytes_per_lead_full
        )?;
        writeln!(
            f,
            "  bytes per lead, redacted           : {:.0}",
            self.bytes_per_lead_redacted
        )?;
        writeln!(
            f,
            "  payload bytes per lead (body + call response): {:.0} full, {:.0} redacted",
            self.payload_per_lead_full, self.payload_per_lead_redacted
        )?;
        writeln!(
            f,
            "  after deleting all: {} bytes used, file {} bytes",
            self.bytes_after_delete, self.file_bytes_after_delete
        )?;
        writeln!(
            f,
            "  steady state at {PER_DAY}/day, keep_days {} / personal_data_days {}: {:.0} MB",
            policy.keep_days,
            policy.personal_data_days,
            self.steady_state_bytes(PER_DAY, policy) / 1e6
        )?;
        for (name, p) in [("redact", &self.redact), ("delete", &self.delete)] {
            writeln!(
                f,
                "  prune ({name}): {} rows in {:.1} s ({:.0} rows/s); writer commit latency of {} \
                 probe leads meanwhile: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                p.report.total(),
                p.secs,
                p.report.total() as f64 / p.secs.max(1e-9),
                p.probes,
                p.p50_ms,
                p.p99_ms,
                p.max_ms
            )?;
        }
        Ok(())
    }
}

fn synthetic(i: u64) -> Lead {
    let id = format!("{}", 9_000_000_000u64 + i);
    let phone = format!("139{:08}", i % 100_000_000);
    let mut lead = Lead::new(
        Vendor::Tencent,
        "tx_main",
        id.clone(),
        json!({
            "leads_id": id,
            "leads_name": format!("客户{i}"),
            "leads_tel": phone,
            "leads_type": "LEADS_TYPE_FORM",
            "leads_source": "AD",
            "leads_area": "广东省广州市",
            "leads_wechat": format!("wx_{i}"),
            "leads_address": format!("天河区体育西路{}号", i % 1000),
            "leads_create_time": "2026-11-30 10:00:00",
            "adgroup_id": 4_000_000 + i % 1000,
            "bundle": {"question_1": "您的预算?", "answer_1": "10-20万"}
        }),
    );
    lead.name = Some(format!("客户{i}"));
    lead.phone = Some(phone);
    lead.wechat = Some(format!("wx_{i}"));
    lead.city = Some("广州".into());
    lead.province = Some("广东".into());
    lead.address = Some(format!("天河区体育西路{}号", i % 1000));
    lead.kind = LeadKind::Form;
    lead.source = Some("AD".into());
    lead
}

fn payload_bytes(path: &std::path::Path) -> anyhow::Result<u64> {
    let conn = rusqlite::Connection::open(path)?;
    Ok(conn.query_row(
        // The probe's leads (accepted while pruning, never routed) are not the N measured.
        "SELECT (SELECT coalesce(sum(length(body)), 0) FROM leads
                 WHERE vendor_lead_id NOT LIKE 'probe-%')
              + (SELECT coalesce(sum(length(response)), 0) FROM calls)",
        [],
        |r| r.get::<_, i64>(0),
    )? as u64)
}

fn used_bytes(path: &std::path::Path) -> anyhow::Result<(u64, u64)> {
    let conn = rusqlite::Connection::open(path)?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    let pages: i64 = conn.pragma_query_value(None, "page_count", |r| r.get(0))?;
    let free: i64 = conn.pragma_query_value(None, "freelist_count", |r| r.get(0))?;
    let size: i64 = conn.pragma_query_value(None, "page_size", |r| r.get(0))?;
    let file = std::fs::metadata(path)?.len();
    Ok((((pages - free) * size) as u64, file))
}

/// `bench --growth N` in a temporary folder.
pub async fn growth(n: u64) -> anyhow::Result<GrowthReport> {
    let dir = super::TempDir::new()?;
    growth_with(&dir.0.join("growth.db"), n).await
}

/// The growth benchmark on a journal created at `path` (must not exist).
pub async fn growth_with(path: &std::path::Path, n: u64) -> anyhow::Result<GrowthReport> {
    anyhow::ensure!(n > 0, "--growth needs at least one lead");
    let journal = Journal::open(path, JournalOptions::default())?;
    let start_ms = 1_700_000_000_000i64;
    let step_ms = DAY_MS / PER_DAY as i64;
    let filled = Instant::now();
    const CHUNK: u64 = 500;
    let mut next = 0u64;
    while next < n {
        // A few chunks in flight share the writer's commits, like concurrent pushes.
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..4 {
            if next >= n {
                break;
            }
            let end = (next + CHUNK).min(n);
            let leads: Vec<Lead> = (next..end).map(synthetic).collect();
            let at = start_ms + next as i64 * step_ms;
            let j = journal.clone();
            set.spawn(async move {
                j.accept_leads(
                    leads,
                    Arrival {
                        via: Via::Push,
                        endpoint: "/hooks/tencent/tx_main".into(),
                        received_at_ms: at,
                    },
                    None,
                )
                .await
            });
            next = end;
        }
        while let Some(done) = set.join_next().await {
            done??;
        }
        route_all(&journal).await?;
        if next % 100_000 < CHUNK * 4 {
            super::progress(&format!("growth: {next} of {n} leads journaled and routed"));
        }
    }
    let fill_secs = filled.elapsed().as_secs_f64();
    let (full, _) = used_bytes(path)?;
    let payload_full = payload_bytes(path)?;
    let end_ms = start_ms + n as i64 * step_ms;

    // Redact everything (personal data 1 day, keep for ever) ...
    let redact_policy = RetentionPolicy::new(u32::MAX / 2, 1).map_err(anyhow::Error::msg)?;
    let redact = prune_with_probe(&journal, redact_policy, end_ms + 2 * DAY_MS, end_ms).await?;
    let (redacted, _) = used_bytes(path)?;
    let payload_redacted = payload_bytes(path)?;
    // ... then delete everything.
    let delete_policy = RetentionPolicy::new(1, 1).map_err(anyhow::Error::msg)?;
    let delete = prune_with_probe(&journal, delete_policy, end_ms + 2 * DAY_MS, end_ms).await?;
    drop(journal);
    let (after, file_after) = used_bytes(path)?;
    Ok(GrowthReport {
        leads: n,
        fill_secs,
        bytes_per_lead_full: full as f64 / n as f64,
        bytes_per_lead_redacted: redacted as f64 / n as f64,
        payload_per_lead_full: payload_full as f64 / n as f64,
        payload_per_lead_redacted: payload_redacted as f64 / n as f64,
        bytes_after_delete: after,
        file_bytes_after_delete: file_after,
        redact,
        delete,
    })
}

/// Claims and finishes every pending item as routed, with one run and one call each.
async fn route_all(journal: &Journal) -> anyhow::Result<()> {
    loop {
        let work = journal.claim_due(i64::MAX, 256).await?;
        if work.is_empty() {
            return Ok(());
        }
        let mut set = tokio::task::JoinSet::new();
        for item in work {
            let j = journal.clone();
            set.spawn(async move {
                let payload = json!({"entName": format!("客户{}", item.id), "phone": "x"});
                let call = CallRow {
                    seq: 1,
                    vendor: "xiaolanben".into(),
                    account: "xlb".into(),
                    op: "import_customer".into(),
                    fingerprint: fingerprint("xiaolanben", "xlb", "import_customer", &payload),
                    ok: true,
                    status: None,
                    code: None,
                    message: None,
                    response: Some(json!({"code": 0, "data": {"customerId": item.id,
                                          "entName": format!("客户{}", item.id)}})),
                    attempts: 1,
                    replayed: false,
                };
                let run = RunRecord {
                    id: None,
                    script: "scripts/route.rhai".into(),
                    handler: "route".into(),
                    version: "v1-abcdef".into(),
                    started_ms: item.first_seen_ms,
                    elapsed_ms: 3,
                    error: None,
                    skipped: None,
                    calls: vec![call],
                };
                j.finish(item.id, vec![run], WorkOutcome::Done).await
            });
        }
        while let Some(done) = set.join_next().await {
            done??;
        }
    }
}

async fn prune_with_probe(
    journal: &Journal,
    policy: RetentionPolicy,
    now_ms: i64,
    probe_at_ms: i64,
) -> anyhow::Result<PrunePhase> {
    let stop = Arc::new(AtomicBool::new(false));
    let probe = {
        let (j, stop) = (journal.clone(), stop.clone());
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let mut lead = synthetic(i);
                lead.id = format!("probe-{probe_at_ms}-{i}");
                i += 1;
                let started = Instant::now();
                let result = j
                    .accept_leads(
                        vec![lead],
                        Arrival {
                            via: Via::Push,
                            endpoint: "/hooks/tencent/tx_main".into(),
                            // Newer than any cutoff: the probe's leads are never pruned.
                            received_at_ms: now_ms,
                        },
                        None,
                    )
                    .await;
                latencies.push(started.elapsed());
                if result.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            latencies
        })
    };
    let started = Instant::now();
    let report = journal
        .prune(policy, now_ms, crate::daemon::retention::BATCH)
        .await?;
    let secs = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let mut latencies = probe.await?;
    latencies.sort();
    let at = |q: f64| -> f64 {
        if latencies.is_empty() {
            return 0.0;
        }
        let i = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[i].as_secs_f64() * 1e3
    };
    Ok(PrunePhase {
        report,
        secs,
        probes: latencies.len(),
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        max_ms: at(1.0),
    })
}
