//! Cron jobs declared with `schedule(...)`: each slot fires at most once, ever. A slot is claimed
//! in the journal (keyed by script path, function and expression — not the script's text), so
//! saving a script, reloading it or restarting the daemon never fires a slot twice. A job whose
//! previous run is still going skips the slot, and the skip is counted.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::host::generation::Host;
use crate::host::run::Declaration;
use crate::host::schedule::parse_cron;
use crate::store::Journal;

/// How often due slots are looked for.
const TICK: Duration = Duration::from_millis(250);

/// Fires due slots, read in `zone`, until `shutdown` turns true.
pub async fn run(
    host: Arc<Host>,
    journal: Journal,
    zone: FixedOffset,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut checked_up_to: DateTime<FixedOffset> = chrono::Utc::now().with_timezone(&zone);
    let mut running: HashMap<String, JoinHandle<()>> = HashMap::new();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(TICK) => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            break;
        }
        let now = chrono::Utc::now().with_timezone(&zone);
        running.retain(|_, job| !job.is_finished());
        for version in host.generation().scripts.values() {
            for declaration in &version.declarations {
                let Declaration::Schedule { cron, function, .. } = declaration else {
                    continue;
                };
                let Ok(schedule) = parse_cron(cron) else {
                    continue; // rejected at load; a live version never has a bad expression
                };
                let key = format!("{}::{function}::{cron}", version.path);
                for slot in schedule.after(&checked_up_to).take_while(|t| *t <= now) {
                    let slot_ms = slot.timestamp_millis();
                    if running.contains_key(&key) {
                        tracing::warn!(job = %key, slot = %slot, "skipped: the previous run is still going");
                        if let Err(e) = journal
                            .record_cron_skip(&key, slot_ms, "previous run still going")
                            .await
                        {
                            tracing::error!(error = %e, "cannot record a cron skip");
                        }
                        continue;
                    }
                    match journal.claim_cron_slot(&key, slot_ms).await {
                        Ok(true) => {
                            let (host, version, function) =
                                (host.clone(), version.clone(), function.clone());
                            let job = key.clone();
                            running.insert(
                                key.clone(),
                                tokio::spawn(async move {
                                    let run = host.run(version, &function, vec![]).await;
                                    match &run.result.outcome {
                                        Ok(_) => tracing::info!(job = %job, calls = run.result.calls.len(), ms = run.result.elapsed.as_millis() as u64, "scheduled run ok"),
                                        Err(e) => tracing::error!(job = %job, "scheduled run failed: {}", crate::secret::mask_phones_in(&e.to_string())),
                                    }
                                }),
                            );
                        }
                        Ok(false) => {}
                        Err(e) => {
                            tracing::error!(job = %key, error = %e, "cannot claim a cron slot")
                        }
                    }
                }
            }
        }
        checked_up_to = now;
    }
}
