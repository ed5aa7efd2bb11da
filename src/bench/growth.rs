//! `leadrelay bench --growth N`: the journal over months, in minutes.
//!
//! ## Method
//!
//! - N synthetic Tencent leads (name, phone, WeChat, address, a raw record like the platform's)
//!   are journaled through [`Journal::accept_leads`] with arrival times spread evenly over the
//!   100 days before now (10,000 a day at N = 1,000,000), then routed as the dispatcher would: claimed, and finished `done` with
//!   one run holding one successful call whose response echoes the customer.
//! - **Bytes per lead** is the database's used pages (`(page_count - freelist_count) ×
//!   page_size`, after a WAL checkpoint) over N: before redaction, after redacting every lead
//!   (policy: personal data 1 day, keep for ever), and after deleting them all.
//! - **Steady state at the defaults** (10,000 leads a day, `personal_data_days = 30`, `keep_days
//!   = 90`) is computed from those: 30 days of full leads plus 60 days of redacted ones.
//! - **Writer latency while pruning**: during each prune a probe commits one new lead every
//!   2 ms through the same writer (`accept_leads`, what a push waits for before it is acked)
//!   and records how long each took. This is the journal commit an acknowledgement waits for,
//!   measured in-process.
//! - **Ack latency during a prune, against a daemon** (`bench --growth`, not the library's
//!   [`growth_with`]): a copy of the filled journal (online backup, taken before the prunes
//!   above) is given to a real daemon — this executable, `leadrelay run`, as a child process,
//!   routing to the simulators like the main bench — at the default retention (90/30 days).
//!   Its prune timer's first check comes [`FIRST_CHECK_AFTER`] after start; meanwhile and
//!   throughout, an open-loop generator sends signed Tencent pushes at [`DAEMON_RATE`] a second
//!   (latency from the intended send instant, as in the main bench). A read-only connection
//!   polls the journal every 20 ms to see when the prune starts (the oldest lead still holding
//!   personal data changes) and ends (nothing due is left and the freed pages are reclaimed).
//!   Acks are reported for pushes sent before, during and after the prune.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::json;

use crate::connectors::Vendor;
use crate::daemon::retention::FIRST_CHECK_AFTER;
use crate::lead::{Lead, LeadKind};
use crate::store::retention::DAY_MS;
use crate::store::types::{Arrival, Via};
use crate::store::{
    fingerprint, CallRow, Journal, JournalOptions, PruneReport, Queries, RetentionPolicy,
    RunRecord, WorkOutcome,
};

/// Leads a simulated day (for the steady state; the fill spreads N over [`SPAN_DAYS`]).
const PER_DAY: u64 = 10_000;

/// The journal's leads arrive over this many days before now: at the defaults, a tenth is
/// past `keep_days`, six tenths past `personal_data_days`.
const SPAN_DAYS: i64 = 100;

/// Pushes a second while the daemon prunes (the main bench's ack target rate).
pub const DAEMON_RATE: f64 = 1000.0;

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
    /// Ack latency over HTTP while a running daemon prunes (`bench --growth` only).
    pub daemon: Option<DaemonPrune>,
}

/// A running daemon's prune of a copy of the filled journal, under push load.
#[derive(Debug, Clone)]
pub struct DaemonPrune {
    /// Pushes a second.
    pub rate: f64,
    /// What was due at the default retention when the daemon started.
    pub due: PruneReport,
    /// Seconds from the first change the prune made to nothing due and the pages reclaimed;
    /// `None` when no prune was seen.
    pub prune_secs: Option<f64>,
    /// Pushes sent before the prune (after a 2 s warm-up).
    pub before: AckWindow,
    /// Pushes sent during it.
    pub during: AckWindow,
    /// Pushes sent in the 5 s after it.
    pub after: AckWindow,
    /// Pushes not answered 200.
    pub refused: usize,
}

/// Ack latencies of the pushes of one window, milliseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct AckWindow {
    /// Pushes.
    pub pushes: usize,
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Slowest.
    pub max_ms: f64,
}

impl AckWindow {
    fn of(mut acks: Vec<Duration>) -> AckWindow {
        acks.sort();
        let (p50_ms, p99_ms, max_ms) = (
            quantile(&acks, 0.50),
            quantile(&acks, 0.99),
            quantile(&acks, 1.0),
        );
        AckWindow {
            pushes: acks.len(),
            p50_ms,
            p99_ms,
            max_ms,
        }
    }
}

impl std::fmt::Display for AckWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} pushes)",
            self.p50_ms, self.p99_ms, self.max_ms, self.pushes
        )
    }
}

/// The `q` quantile of sorted `values`, in milliseconds (0 when empty).
fn quantile(values: &[Duration], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let i = ((values.len() as f64 * q).ceil() as usize).clamp(1, values.len()) - 1;
    values[i].as_secs_f64() * 1e3
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
            "journal growth: {} leads over {SPAN_DAYS} days (filled in {:.1} s)",
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
        if let Some(d) = &self.daemon {
            writeln!(
                f,
                "  running daemon (child process), defaults 90/30 days, {} signed pushes/s over \
                 HTTP; due: delete {} leads, redact {} leads",
                d.rate, d.due.deleted_leads, d.due.redacted_leads
            )?;
            match d.prune_secs {
                Some(secs) => writeln!(f, "    prune took {secs:.1} s")?,
                None => writeln!(f, "    no prune seen")?,
            }
            writeln!(f, "    ack before the prune : {}", d.before)?;
            writeln!(f, "    ack during the prune : {}", d.during)?;
            writeln!(f, "    ack after the prune  : {}", d.after)?;
            writeln!(f, "    pushes not answered 200: {}", d.refused)?;
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
    Ok(crate::store::sqlite::probe::payload_bytes(path)?)
}

fn used_bytes(path: &std::path::Path) -> anyhow::Result<(u64, u64)> {
    Ok(crate::store::sqlite::probe::used_bytes(path)?)
}

/// `bench --growth N` in a temporary folder, with the daemon phase (this executable is the
/// daemon).
pub async fn growth(n: u64) -> anyhow::Result<GrowthReport> {
    let dir = super::TempDir::new()?;
    let copy = dir.0.join("for-daemon.db");
    let mut report = growth_run(&dir.0.join("growth.db"), n, Some(&copy)).await?;
    let exe = std::env::current_exe().context("cannot find this executable")?;
    super::progress("growth: a daemon prunes a copy of the journal under push load");
    report.daemon = Some(daemon_prune(&exe, &copy).await?);
    Ok(report)
}

/// The growth benchmark on a journal created at `path` (must not exist), in-process only.
pub async fn growth_with(path: &std::path::Path, n: u64) -> anyhow::Result<GrowthReport> {
    growth_run(path, n, None).await
}

async fn growth_run(
    path: &std::path::Path,
    n: u64,
    copy: Option<&std::path::Path>,
) -> anyhow::Result<GrowthReport> {
    anyhow::ensure!(n > 0, "--growth needs at least one lead");
    let journal = Journal::open(path, JournalOptions::default())?;
    let span_ms = SPAN_DAYS * DAY_MS;
    let start_ms = chrono::Utc::now().timestamp_millis() - span_ms;
    let step_ms = (span_ms / n as i64).max(1);
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
    if let Some(copy) = copy {
        super::progress("growth: copying the journal for the daemon phase");
        journal.reader().backup_to(copy)?;
    }

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
        daemon: None,
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
    let window = AckWindow::of(probe.await?);
    Ok(PrunePhase {
        report,
        secs,
        probes: window.pushes,
        p50_ms: window.p50_ms,
        p99_ms: window.p99_ms,
        max_ms: window.max_ms,
    })
}

/// When the daemon's prune was seen to start and end: microseconds after `base` (0 = not
/// yet). Atomics, so the load generator's loop never waits for the watcher's queries.
struct PruneSeen {
    base: Instant,
    started: std::sync::atomic::AtomicU64,
    ended: std::sync::atomic::AtomicU64,
}

impl PruneSeen {
    fn mark(&self, which: &std::sync::atomic::AtomicU64) {
        let at = self.base.elapsed().as_micros().max(1) as u64;
        which.store(at, Ordering::Relaxed);
    }

    fn get(&self, which: &std::sync::atomic::AtomicU64) -> Option<Instant> {
        match which.load(Ordering::Relaxed) {
            0 => None,
            at => Some(self.base + Duration::from_micros(at)),
        }
    }
}

/// Starts a daemon on `journal` (moved into its folder) with the default retention, pushes at
/// [`DAEMON_RATE`] until its prune has ended (and 5 s more), and sorts the acks by window.
async fn daemon_prune(
    exe: &std::path::Path,
    journal: &std::path::Path,
) -> anyhow::Result<DaemonPrune> {
    let policy = RetentionPolicy::default();
    let sim = crate::sim::Simulator::start_local().await?;
    let dir = super::TempDir::new()?;
    let scripts = dir.0.join("scripts");
    std::fs::create_dir(&scripts)?;
    std::fs::write(scripts.join("route.rhai"), super::script("v0"))?;
    let db = dir.0.join("leadrelay.db");
    std::fs::rename(journal, &db).or_else(|_| std::fs::copy(journal, &db).map(|_| ()))?;
    std::fs::write(
        dir.0.join("leadrelay.toml"),
        format!(
            "{}\n[daemon]\nlisten = \"127.0.0.1:0\"\njournal = \"{}\"\nscripts = \"{}\"\n\
             keep_days = {}\npersonal_data_days = {}\n\n\
             [[sources]]\naccount = \"sim_tencent\"\npush = \"{}\"\n",
            sim.config_toml(),
            db.display(),
            scripts.display(),
            policy.keep_days,
            policy.personal_data_days,
            super::PUSH_PATH,
        ),
    )?;
    let now = chrono::Utc::now().timestamp_millis();
    let due = crate::store::JournalReader::open(&db)?
        .retention_status(policy, now)?
        .next_prune;
    let (delete_before, redact_before) = (policy.delete_before(now), policy.redact_before(now));

    let daemon = super::Daemon::start(exe, super::DaemonDir { dir, journal: None }).await?;
    let url = daemon.push_url.clone();
    let seen = Arc::new(PruneSeen {
        base: Instant::now(),
        started: Default::default(),
        ended: Default::default(),
    });
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (seen, stop, db) = (seen.clone(), stop.clone(), db.clone());
        tokio::task::spawn_blocking(move || {
            watch_prune(&db, delete_before, redact_before, &seen, &stop)
        })
    };
    let load_started = Instant::now();
    let pusher = super::Pusher::new()?;
    let permits = Arc::new(tokio::sync::Semaphore::new(super::OPEN_LOOP_IN_FLIGHT));
    let period = Duration::from_secs_f64(1.0 / DAEMON_RATE);
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::new();
    // Long enough for a million-lead prune on a slow machine; ends 5 s after the prune.
    let cap = Duration::from_secs(3600);
    let mut i = 0u64;
    loop {
        let ended = seen.get(&seen.ended);
        let over = match ended {
            Some(at) => at.elapsed() > Duration::from_secs(5),
            None => load_started.elapsed() > cap,
        };
        if over || (watcher.is_finished() && ended.is_none()) {
            break;
        }
        let intended = start + period.mul_f64(i as f64);
        i += 1;
        tokio::time::sleep_until(intended).await;
        let permit = permits.clone().acquire_owned().await?;
        let (pusher, url) = (pusher.clone(), url.clone());
        let intended = intended.into_std();
        tasks.push(tokio::spawn(async move {
            let status = pusher.send(&url, i).await;
            drop(permit);
            (intended, intended.elapsed(), status)
        }));
    }
    stop.store(true, Ordering::Relaxed);
    let mut pushes = Vec::with_capacity(tasks.len());
    for task in tasks {
        pushes.push(task.await?);
    }
    watcher.await??;
    daemon.stop().await;
    let (started, ended) = (seen.get(&seen.started), seen.get(&seen.ended));
    let warm = load_started + Duration::from_secs(2);
    let (mut before, mut during, mut after) = (Vec::new(), Vec::new(), Vec::new());
    for (intended, ack, _) in &pushes {
        match (started, ended) {
            (Some(s), _) if *intended < s => {
                if *intended >= warm {
                    before.push(*ack)
                }
            }
            (Some(_), Some(e)) if *intended <= e => during.push(*ack),
            (Some(_), Some(_)) => after.push(*ack),
            _ => before.push(*ack),
        }
    }
    Ok(DaemonPrune {
        rate: DAEMON_RATE,
        due,
        prune_secs: started
            .zip(ended)
            .map(|(s, e)| e.duration_since(s).as_secs_f64()),
        before: AckWindow::of(before),
        during: AckWindow::of(during),
        after: AckWindow::of(after),
        refused: pushes
            .iter()
            .filter(|(_, _, status)| *status != 200)
            .count(),
    })
}

/// Polls the daemon's journal (read-only, every 20 ms) until its prune has ended or `stop`:
/// started = the oldest lead still holding personal data changed (deletion and redaction both
/// go oldest first); ended = no lead left past either cutoff and no free page left to reclaim.
/// Gives up 120 s after the daemon's first check was due if nothing started.
fn watch_prune(
    db: &std::path::Path,
    delete_before: i64,
    redact_before: i64,
    seen: &PruneSeen,
    stop: &AtomicBool,
) -> anyhow::Result<()> {
    let probe = crate::store::sqlite::probe::PruneProbe::open(db)?;
    let oldest_unredacted = || probe.oldest_unredacted();
    let first = oldest_unredacted()?;
    let began = Instant::now();
    let give_up = FIRST_CHECK_AFTER + Duration::from_secs(120);
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(20));
        if seen.get(&seen.started).is_none() {
            if oldest_unredacted()? != first {
                seen.mark(&seen.started);
            } else if began.elapsed() > give_up {
                return Ok(());
            }
            continue;
        }
        let oldest = probe.oldest()?;
        let rows_done = oldest.is_none_or(|t| t >= delete_before)
            && oldest_unredacted()?.is_none_or(|t| t >= redact_before);
        let free = probe.free_pages()?;
        if rows_done && free == 0 {
            seen.mark(&seen.ended);
            return Ok(());
        }
    }
    Ok(())
}
