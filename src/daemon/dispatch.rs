//! The dispatcher: takes due work from the journal with bounded in-flight work, runs the
//! handlers on the script host, and decides per lead: done, retry later (exponential backoff
//! with full jitter, honouring Retry-After, up to a maximum age), or dead letter.
//!
//! Each call a run makes is committed to the journal as soon as it returns and before the
//! script goes on ([`WorkHooks`] through [`Journal::record_call_blocking`], a share of the
//! writer's group commit), so even after `kill -9` in the middle of a run the journal knows every
//! call that succeeded. A retried lead runs its handlers again, but calls that already succeeded
//! for it — in a finished run or in one a crash interrupted — are answered from the journal
//! (matched by handler, call sequence and request fingerprint) instead of being sent again, so a
//! retry never imports a lead twice. Replayed calls are only written with the run's outcome:
//! they sent nothing, so there is nothing to lose.
//!
//! Time comes from the daemon's one [`Clock`]: a retry is due when the clock passes its
//! `at_ms`, and the claim loop wakes on new work, on finished runs, when the journal's next due
//! time comes (a retry's; on a shared journal also a lease's lapse), at least every
//! [`IDLE_LOOK`] (work another process added without waking it), and when a manual clock moves
//! ([`Clock::moves`]), so a test that advances the clock past a backoff sees the retry run
//! without sleeping.
//!
//! On SQLite a new lead usually skips the claim: while the dispatcher has room and nothing older
//! waits, the intake commits the lead's work item as already claimed and hands it over through a
//! [`Handoff`] after the commit (one transaction and two thread hops fewer per lead). A crash
//! then leaves it running in the journal, pending again after restart, like any claimed item.
//!
//! Fired cron slots are work items too ([`WorkKind::Job`]): the job runs here with the same
//! hooks, retries and dead letters as a lead.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;
use serde_json::Value;
use tokio::sync::{mpsc, watch, Notify, Semaphore};
use tokio::task::JoinSet;

use super::breaker::Breakers;
use crate::clock::Clock;
use crate::config::DaemonSettings;
use crate::connectors::{CallError, FailureKind, Vendor};
use crate::host::generation::{HandlerRun, Host};
use crate::host::run::{CallHooks, CallSite};
use crate::secret::mask_phones_in;
use crate::store::{
    fingerprint, CallRow, Handoff, Journal, PriorCall, RunRecord, RunRow, RunStart, Work, WorkKind,
    WorkOutcome, IDLE_LOOK,
};

/// First retry delay (before jitter).
pub const BACKOFF_START: Duration = Duration::from_secs(1);
/// Longest retry delay (before jitter).
pub const BACKOFF_CAP: Duration = Duration::from_secs(300);

/// Shortest sleep before looking again, so a due time that a claim just missed (clock
/// rounding) cannot make the loop spin.
const MIN_LOOK: Duration = Duration::from_millis(2);

/// Runs leads and records what happened.
pub struct Dispatcher {
    journal: Journal,
    host: Arc<Host>,
    settings: DaemonSettings,
    breakers: Arc<Breakers>,
    wake: Arc<Notify>,
    clock: Clock,
    account_permits: Mutex<HashMap<String, Arc<Semaphore>>>,
    /// Accounts whose breaker just closed (sent from the blocking threads runs call from).
    recovered: mpsc::UnboundedSender<String>,
    recovered_rx: Mutex<Option<mpsc::UnboundedReceiver<String>>>,
}

impl Dispatcher {
    /// A dispatcher over `journal` and `host`; `wake` is notified when new work arrives; retries
    /// come due on `clock`.
    pub fn new(
        journal: Journal,
        host: Arc<Host>,
        settings: DaemonSettings,
        breakers: Arc<Breakers>,
        wake: Arc<Notify>,
        clock: Clock,
    ) -> Self {
        let (recovered, recovered_rx) = mpsc::unbounded_channel();
        Dispatcher {
            journal,
            host,
            settings,
            breakers,
            wake,
            clock,
            account_permits: Mutex::new(HashMap::new()),
            recovered,
            recovered_rx: Mutex::new(Some(recovered_rx)),
        }
    }

    /// Claims and runs work until `shutdown` turns true, then lets work in flight finish (at most
    /// `drain` long; whatever is still running then is reclaimed after restart).
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>, drain: Duration) {
        let mut in_flight = JoinSet::new();
        let mut recovered = self
            .recovered_rx
            .lock()
            .expect("recovered lock")
            .take()
            .expect("a dispatcher runs once");
        let mut clock_moves = self.clock.moves();
        // The room for work in flight, shared with the journal, which may hand new leads over
        // directly (already claimed in their intake's commit) instead of leaving them to a claim.
        let (handoff, mut handed) = Handoff::new(self.settings.max_in_flight);
        self.journal.set_handoff(handoff.clone());
        let start = |in_flight: &mut JoinSet<()>, work: Work| {
            let (this, room) = (self.clone(), handoff.clone());
            in_flight.spawn(async move {
                this.process(work).await;
                room.release(1);
            });
        };
        loop {
            if *shutdown.borrow() {
                break;
            }
            while in_flight.try_join_next().is_some() {}
            while let Ok(work) = handed.try_recv() {
                start(&mut in_flight, work);
            }
            let free = handoff.room();
            if free > 0 {
                match self.journal.claim_due(self.clock.unix_millis(), free).await {
                    Ok(works) if !works.is_empty() => {
                        handoff.take(works.len());
                        for work in works {
                            start(&mut in_flight, work);
                        }
                        continue;
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::error!(error = %e, "cannot claim work from the journal");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
            // Retries come due without anyone waking us: sleep until the first one. With no
            // room for more work there is nothing to claim until a run finishes.
            let until_due = self.until_next_due();
            tokio::select! {
                Some(work) = handed.recv() => start(&mut in_flight, work),
                _ = self.wake.notified() => {}
                Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
                _ = tokio::time::sleep(until_due), if free > 0 => {}
                // A manual clock moved: retries may be due (never fires on the system clock).
                _ = clock_moves.next() => {}
                _ = shutdown.changed() => {}
                Some(account) = recovered.recv() => self.wake_retries_of(&account).await,
            }
        }
        let drained = tokio::time::timeout(drain, async {
            while in_flight.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                left = in_flight.len(),
                "stopping with runs in flight; they are retried after restart"
            );
            in_flight.abort_all();
        }
    }

    /// How long the claim loop may sleep before due work could be waiting: until the
    /// journal's next due time, and at most [`IDLE_LOOK`].
    fn until_next_due(&self) -> Duration {
        let Some(at) = self.journal.next_due_ms() else {
            return IDLE_LOOK;
        };
        let wait = at.saturating_sub(self.clock.unix_millis()).max(0) as u64;
        Duration::from_millis(wait).clamp(MIN_LOOK, IDLE_LOOK)
    }

    /// An account's breaker closed: its waiting retries are due now, so the backlog drains as
    /// soon as the vendor is back instead of after backoffs that grew during the outage. The
    /// claim loop and the account permits bound how many run at once.
    async fn wake_retries_of(&self, account: &str) {
        match self.journal.wake_retries_waiting_on(account).await {
            Ok(0) => {}
            Ok(woken) => tracing::info!(account, woken, "account recovered; its retries run now"),
            Err(e) => tracing::error!(account, error = %e, "cannot wake the account's retries"),
        }
    }

    fn account_permits(&self, account: &str) -> Arc<Semaphore> {
        let mut permits = self.account_permits.lock().expect("permits lock");
        permits
            .entry(account.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(self.settings.account_concurrency.max(1))))
            .clone()
    }

    async fn process(self: Arc<Self>, mut work: Work) {
        let permits = self.account_permits(&work.account);
        let _permit = permits
            .acquire()
            .await
            .expect("account semaphores are never closed");
        // Read with the claim, in its transaction.
        let prior = std::mem::take(&mut work.prior);
        let work_hooks = Arc::new(WorkHooks {
            journal: self.journal.clone(),
            work_id: work.id,
            attempt: work.attempts,
            prior,
            breakers: self.breakers.clone(),
            recovered: self.recovered.clone(),
            runs: Mutex::new(HashMap::new()),
        });
        let hooks: Arc<dyn CallHooks> = work_hooks.clone();
        let (label, runs) = match &work.kind {
            WorkKind::Lead(lead) => (
                lead.id.clone(),
                self.host.run_lead_with(lead, Some(hooks)).await,
            ),
            WorkKind::Follow {
                account,
                msg_id,
                record,
                ..
            } => (
                format!("follow {msg_id}"),
                self.host
                    .run_follow_with(account, record, Some(hooks))
                    .await,
            ),
            WorkKind::Job { key, .. } => {
                let label = format!("job {key}");
                match super::cron::find_job(&self.host, key) {
                    Some((version, function)) => {
                        let run = self
                            .host
                            .run_with(version, &function, vec![], Some(hooks))
                            .await;
                        (label, vec![run])
                    }
                    None => {
                        // Loading failed at start or the schedule was removed while this slot
                        // waited: a human decides (fix and `dead retry`, or leave it).
                        let reason = format!(
                            "no live script schedules this job any more ({key}); if the script \
                             does not load, fix it and run leadrelay dead retry"
                        );
                        tracing::error!(job = %key, "dead letter: {reason}");
                        let outcome = WorkOutcome::Dead { reason };
                        if let Err(e) = self.journal.finish(work.id, Vec::new(), outcome).await {
                            tracing::error!(work = work.id, error = %e, "cannot record the outcome");
                        }
                        return;
                    }
                }
            }
        };
        let now = self.clock.unix_millis();
        let outcome = if runs.is_empty() {
            // Never "routed": a lead no handler wants (a typo in an `on_lead` filter, a script
            // removed) keeps its own state until `leads reroute` runs it after a fix.
            let follow = matches!(work.kind, WorkKind::Follow { .. });
            WorkOutcome::Unrouted {
                reason: self.host.unrouted_reason(follow),
            }
        } else {
            decide(&work, &runs, now, &self.settings)
        };
        if runs.is_empty() {
            crate::metrics::run_finished("", "", "unrouted");
        }
        for run in &runs {
            crate::metrics::run_finished(
                &run.script,
                &run.function,
                match (&run.result.outcome, &run.result.skipped, &outcome) {
                    (Ok(_), Some(_), _) => "skipped",
                    (Ok(_), None, _) | (Err(_), _, WorkOutcome::Done) => "ok",
                    (Err(_), _, WorkOutcome::Dead { .. }) => "dead",
                    (Err(_), _, _) => "retry",
                },
            );
            let verdict = match (&run.result.outcome, &run.result.skipped) {
                (Ok(_), Some(reason)) => format!("skipped: {}", mask_phones_in(reason)),
                (Ok(_), None) => "ok".to_string(),
                // Script and vendor messages can quote a lead's phone number.
                (Err(e), _) => format!("failed: {}", mask_phones_in(&e.to_string())),
            };
            tracing::info!(
                lead = %label,
                account = %work.account,
                handler = %run.function,
                version = %run.version,
                attempt = work.attempts,
                ms = run.result.elapsed.as_millis() as u64,
                "run {verdict}"
            );
        }
        match &outcome {
            WorkOutcome::Retry { at_ms, reason } => {
                tracing::warn!(lead = %label, in_ms = at_ms - now, "retrying later: {}", mask_phones_in(reason))
            }
            WorkOutcome::Dead { reason } => {
                tracing::error!(lead = %label, "dead letter: {}", mask_phones_in(reason))
            }
            WorkOutcome::Unrouted { reason } => {
                tracing::warn!(lead = %label, account = %work.account, "unrouted: {reason}")
            }
            WorkOutcome::Skipped { reason } => {
                tracing::info!(lead = %label, "skipped: {}", mask_phones_in(reason))
            }
            WorkOutcome::Done => {}
        }
        let records = runs.iter().map(|run| work_hooks.record(run)).collect();
        if let Err(e) = self.journal.finish(work.id, records, outcome).await {
            // The work stays `running`; a restart makes it pending again and replays its calls.
            tracing::error!(work = work.id, error = %e, "cannot record the outcome");
        }
    }
}

/// The delay before attempt `attempts + 1`: full jitter over an exponential ceiling, never less
/// than the vendor's Retry-After.
pub fn backoff(attempts: u32, retry_after: Option<Duration>) -> Duration {
    let exp = attempts.saturating_sub(1).min(20);
    let ceiling = BACKOFF_START.saturating_mul(1 << exp).min(BACKOFF_CAP);
    let jittered =
        Duration::from_millis(rand::thread_rng().gen_range(0..=ceiling.as_millis() as u64));
    jittered.max(retry_after.unwrap_or_default())
}

/// What to do with a work item after its runs.
pub fn decide(
    work: &Work,
    runs: &[HandlerRun],
    now_ms: i64,
    settings: &DaemonSettings,
) -> WorkOutcome {
    let mut retry: Option<(String, Option<Duration>)> = None;
    for run in runs {
        let Err(script_error) = &run.result.outcome else {
            continue;
        };
        let failed_call = run
            .result
            .calls
            .iter()
            .rev()
            .find_map(|c| c.outcome.as_ref().err());
        match failed_call {
            Some(call) if call.retryable() => {
                let entry =
                    retry.get_or_insert_with(|| (format!("{}: {call}", run.function), None));
                entry.1 = entry.1.max(call.retry_after);
            }
            Some(call) => {
                return WorkOutcome::Dead {
                    reason: format!("{}: {call}", run.function),
                }
            }
            None => {
                return WorkOutcome::Dead {
                    reason: script_error.to_string(),
                }
            }
        }
    }
    let Some((reason, retry_after)) = retry else {
        return done_or_skipped(runs);
    };
    let age = Duration::from_millis((now_ms - work.first_seen_ms).max(0) as u64);
    if age >= Duration::from_secs(settings.retry_max_age_secs) {
        return WorkOutcome::Dead {
            reason: format!("gave up after {} s of retries: {reason}", age.as_secs()),
        };
    }
    let delay = backoff(work.attempts, retry_after);
    WorkOutcome::Retry {
        at_ms: now_ms + delay.as_millis() as i64,
        reason,
    }
}

/// Done, unless every run chose `skip(reason)`: then skipped, with their reasons.
fn done_or_skipped(runs: &[HandlerRun]) -> WorkOutcome {
    let reasons: Vec<String> = runs
        .iter()
        .map_while(|run| {
            run.result
                .skipped
                .as_ref()
                .map(|reason| format!("{}: {reason}", run.function))
        })
        .collect();
    if !runs.is_empty() && reasons.len() == runs.len() {
        WorkOutcome::Skipped {
            reason: reasons.join("; "),
        }
    } else {
        WorkOutcome::Done
    }
}

/// The journal's record of a call, as it is written when it returns or with the run's outcome.
fn call_row(
    seq: usize,
    vendor: Vendor,
    account: &str,
    op: &str,
    fingerprint: String,
    outcome: &Result<Value, CallError>,
    replayed: bool,
) -> CallRow {
    let error = outcome.as_ref().err();
    CallRow {
        seq: seq as u32,
        vendor: vendor.as_str().to_string(),
        account: account.to_string(),
        op: op.to_string(),
        fingerprint,
        ok: outcome.is_ok(),
        status: error.and_then(|e| e.status),
        code: error.and_then(|e| e.code.clone()),
        message: error.map(|e| e.to_string()),
        response: outcome.as_ref().ok().cloned(),
        attempts: 1,
        replayed,
    }
}

/// What the journal already holds of one run of the current claim.
#[derive(Debug, Default)]
struct RunSlot {
    /// The run's row, written by its first call.
    id: Option<i64>,
    /// Calls committed as they returned (by sequence).
    written: Vec<usize>,
}

/// What one claim of a work item passes its calls through: replay of calls that succeeded in
/// earlier runs, the breakers, and the journal, which gets each sent call before the script
/// sees its answer.
struct WorkHooks {
    journal: Journal,
    work_id: i64,
    attempt: u32,
    prior: Vec<PriorCall>,
    breakers: Arc<Breakers>,
    recovered: mpsc::UnboundedSender<String>,
    /// Per run, keyed by its run id. The runs of a claim go one after the other, so the lock is
    /// never contended.
    runs: Mutex<HashMap<RunKey, RunSlot>>,
}

/// Identifies one run of a claim: the host's run id, which reaches the hooks (in each
/// [`CallSite`]) and the dispatcher (in the run's result). Not the script, function and start
/// time: a script may declare one function twice, and on a frozen or manual clock both runs
/// start at the same instant, so their calls would land in one run's row.
type RunKey = u64;

impl WorkHooks {
    /// The run as [`Journal::finish`] wants it: its row if a call already wrote it, and only
    /// the calls the journal does not hold yet.
    fn record(&self, run: &HandlerRun) -> RunRecord {
        let slot = self
            .runs
            .lock()
            .expect("run slots lock")
            .remove(&run.result.run_id)
            .unwrap_or_default();
        let started: chrono::DateTime<chrono::Utc> = run.result.started_at.into();
        RunRecord {
            id: slot.id,
            script: run.script.to_string(),
            handler: run.function.clone(),
            version: run.version.clone(),
            started_ms: started.timestamp_millis(),
            elapsed_ms: run.result.elapsed.as_millis() as i64,
            error: run.result.outcome.as_ref().err().map(ToString::to_string),
            skipped: run.result.skipped.clone(),
            calls: run
                .result
                .calls
                .iter()
                .filter(|c| !slot.written.contains(&c.seq))
                .map(|c| {
                    let fp = fingerprint(c.vendor.as_str(), &c.account, &c.op, &c.payload);
                    call_row(
                        c.seq, c.vendor, &c.account, &c.op, fp, &c.outcome, c.replayed,
                    )
                })
                .collect(),
        }
    }
}

impl CallHooks for WorkHooks {
    fn before(&self, call: &CallSite<'_>) -> Option<Result<Value, CallError>> {
        if !self.prior.is_empty() {
            let fp = fingerprint(call.vendor.as_str(), call.account, call.op, call.payload);
            let earlier = self.prior.iter().find(|p| {
                p.handler == call.function && p.seq as usize == call.seq && p.fingerprint == fp
            });
            if let Some(earlier) = earlier {
                return Some(Ok(earlier.response.clone()));
            }
        }
        if let Err(wait) = self.breakers.admit(call.account) {
            let mut e = CallError::new(
                call.vendor,
                call.op,
                FailureKind::ServerError,
                format!(
                    "circuit breaker open for account {} after repeated failures; next probe in {} s",
                    call.account,
                    wait.as_secs().max(1)
                ),
            );
            e.retry_after = Some(wait);
            return Some(Err(e));
        }
        None
    }

    fn after(&self, call: &CallSite<'_>, outcome: &Result<Value, CallError>, elapsed: Duration) {
        crate::metrics::vendor_call(
            call.vendor.as_str(),
            call.account,
            call.op,
            match outcome {
                Ok(_) => "ok",
                Err(e) => e.kind.neutral().as_str(),
            },
            elapsed,
        );
        if self
            .breakers
            .record(call.account, outcome.as_ref().err().map(|e| e.kind))
        {
            // The dispatcher may be stopping; then restart recovery picks the retries up.
            let _ = self.recovered.send(call.account.to_string());
        }
        let key: RunKey = call.run_id;
        let run_id = self
            .runs
            .lock()
            .expect("run slots lock")
            .get(&key)
            .and_then(|slot| slot.id);
        let run = match run_id {
            Some(id) => RunRow::Written(id),
            None => RunRow::First(RunStart {
                attempt: self.attempt,
                script: call.script.to_string(),
                handler: call.function.to_string(),
                version: call.version.to_string(),
                started_ms: chrono::DateTime::<chrono::Utc>::from(call.started_at)
                    .timestamp_millis(),
            }),
        };
        let fp = fingerprint(call.vendor.as_str(), call.account, call.op, call.payload);
        let row = call_row(
            call.seq,
            call.vendor,
            call.account,
            call.op,
            fp,
            outcome,
            false,
        );
        // We are on the thread running the script (the blocking pool), so waiting for the
        // commit here is what holds the script until its call is durable.
        match self.journal.record_call_blocking(self.work_id, run, row) {
            Ok(id) => {
                let mut runs = self.runs.lock().expect("run slots lock");
                let slot = runs.entry(key).or_default();
                slot.id = Some(id);
                slot.written.push(call.seq);
            }
            // The call stays in the run's record and is written with its outcome; only a crash
            // before then could make a retry send it again.
            Err(e) => tracing::error!(
                work = self.work_id,
                handler = call.function,
                seq = call.seq,
                error = %e,
                "cannot journal a call as it returned"
            ),
        }
    }

    fn work_id(&self) -> Option<i64> {
        Some(self.work_id)
    }
}
