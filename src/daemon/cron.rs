//! Cron jobs declared with `schedule(...)`. Each slot fires at most once, ever: it is claimed in
//! the journal (keyed by script path, function and expression — not the script's text), so
//! saving a script, reloading it or restarting the daemon never fires a slot twice.
//!
//! A fired slot is not run here: it becomes a work item (claimed and inserted in one
//! transaction, [`Journal::fire_cron_slot`]) that the dispatcher runs like a lead. So a job
//! killed mid-run runs again after a restart with its succeeded calls replayed, and a failing
//! job retries with backoff and then becomes a dead letter (`dead list`, `dead retry`). A job
//! whose previous slot is not finished (pending, running or waiting to retry) skips the slot,
//! and the skip is counted.
//!
//! Catch-up: slots that fall while the daemon is down are not fired one by one. On start, each
//! schedule whose policy is `catch_up: "last"` (the default) fires its most recent missed slot
//! once, if that slot is younger than `[daemon] cron_catch_up_max_age_secs`; `"none"` fires
//! nothing. "Missed" means after the last slot the schedule fired: a schedule that never fired
//! has nothing to catch up (it was not running before, so nothing was missed).
//!
//! Slots are read on the daemon's one [`Clock`]. The loop sleeps until the next slot (at most
//! [`TICK`], so a schedule added by a reload is seen), and looks at once when a manual clock
//! moves ([`Clock::moves`]): a test advances the clock across a slot and waits for the fire,
//! without sleeping a tick (`tests/it/clock.rs`).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use tokio::sync::{watch, Notify};

use crate::clock::Clock;
use crate::host::generation::Host;
use crate::host::run::{CatchUp, Declaration};
use crate::host::schedule::parse_cron;
use crate::host::script::ScriptVersion;
use crate::store::{CronFire, Journal};

/// Longest the loop sleeps: a schedule a reload adds is seen within this. Otherwise the loop
/// sleeps until the next slot of the schedules it knows, so an idle daemon does not tick.
const TICK: Duration = Duration::from_secs(1);

/// How long to sleep before `next` (a slot) is due on `clock`: at most [`TICK`].
fn until(next: Option<DateTime<FixedOffset>>, clock: &Clock) -> Duration {
    let Some(next) = next else {
        return TICK;
    };
    let left = next.timestamp_millis() - clock.unix_millis();
    // A millisecond late rather than early: a slot is fired once its instant has passed.
    Duration::from_millis(left.max(0) as u64 + 1).min(TICK)
}

/// How often expired `once` keys are swept from the journal.
const ONCE_SWEEP: Duration = Duration::from_secs(3600);

/// The journal key of a schedule: `path::function::cron`. Independent of the script's text, so
/// edits elsewhere in the script keep its history.
pub fn job_key(path: &str, function: &str, cron: &str) -> String {
    format!("{path}::{function}::{cron}")
}

/// The live script version and function of the job `key` names. A job is found by its script
/// and function, so a slot that waited for a retry still runs after its cron expression was
/// edited; it is `None` once the script is gone, does not load, or no longer schedules it.
pub fn find_job(host: &Host, key: &str) -> Option<(Arc<ScriptVersion>, String)> {
    // The cron expression never contains `::`; a path could.
    let mut parts = key.rsplitn(3, "::");
    let (_cron, function, path) = (parts.next()?, parts.next()?, parts.next()?);
    let version = host.generation().scripts.get(path)?.clone();
    let scheduled = version
        .declarations
        .iter()
        .any(|d| matches!(d, Declaration::Schedule { function: f, .. } if f == function));
    scheduled.then(|| (version, function.to_string()))
}

/// One `schedule(...)` of a live script, for `status` and `job run`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleInfo {
    /// The journal key (`path::function::cron`).
    pub key: String,
    /// The script's path.
    pub script: String,
    /// The job function.
    pub function: String,
    /// The cron expression as written.
    pub cron: String,
    /// The next slot after the time asked about (unix milliseconds), if the expression has one.
    pub next_ms: Option<i64>,
}

/// Every schedule of `host`'s live scripts, in script order, with its next slot after `now`
/// read in `zone`.
pub fn schedules(host: &Host, zone: FixedOffset, now_ms: i64) -> Vec<ScheduleInfo> {
    let now = DateTime::from_timestamp_millis(now_ms)
        .unwrap_or_default()
        .with_timezone(&zone);
    let mut out = Vec::new();
    for version in host.generation().scripts.values() {
        for declaration in &version.declarations {
            let Declaration::Schedule { cron, function, .. } = declaration else {
                continue;
            };
            let next_ms = parse_cron(cron)
                .ok()
                .and_then(|s| s.after(&now).next())
                .map(|t| t.timestamp_millis());
            out.push(ScheduleInfo {
                key: job_key(&version.path, function, cron),
                script: version.path.to_string(),
                function: function.clone(),
                cron: cron.clone(),
                next_ms,
            });
        }
    }
    out
}

/// The schedule `name` means: a job function (`daily_report`), `file.rhai::function`, or a
/// whole key. An unknown or ambiguous name is an error listing the jobs there are.
pub fn find_schedule<'a>(
    schedules: &'a [ScheduleInfo],
    name: &str,
) -> Result<&'a ScheduleInfo, String> {
    let file_of = |s: &ScheduleInfo| {
        std::path::Path::new(&s.script)
            .file_name()
            .map_or(String::new(), |n| n.to_string_lossy().to_string())
    };
    let matches: Vec<&ScheduleInfo> = schedules
        .iter()
        .filter(|s| {
            s.key == name
                || s.function == name
                || format!("{}::{}", file_of(s), s.function) == name
                || format!("{}::{}", s.script, s.function) == name
        })
        .collect();
    let names = || {
        schedules
            .iter()
            .map(|s| format!("{}::{}", file_of(s), s.function))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match matches.as_slice() {
        [one] => Ok(one),
        [] if schedules.is_empty() => Err(format!(
            "no job `{name}`: no live script declares schedule(…)"
        )),
        [] => Err(format!("no job `{name}`; the jobs are: {}", names())),
        several => Err(format!(
            "`{name}` names {} jobs ({}); write it as file.rhai::function",
            several.len(),
            several
                .iter()
                .map(|s| format!("{}::{}", file_of(s), s.function))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// The slot a schedule catches up on a start at `start`: its most recent slot at or before
/// `start`, if that is after `last_fired_ms` (the newest slot it fired, `None` if it never
/// fired) and at most `max_age` old.
pub fn catch_up_slot(
    schedule: &cron::Schedule,
    last_fired_ms: Option<i64>,
    start: DateTime<FixedOffset>,
    max_age: Duration,
) -> Option<i64> {
    let last_fired_ms = last_fired_ms?;
    let start_ms = start.timestamp_millis();
    // Walking back from a second later includes a slot exactly at `start` (slots are whole
    // seconds); later ones are the regular loop's.
    let from = start + chrono::Duration::seconds(1);
    let slot = schedule
        .after(&from)
        .rev()
        .map(|t| t.timestamp_millis())
        .find(|slot| *slot <= start_ms)?;
    let age = start_ms.saturating_sub(slot);
    (slot > last_fired_ms && age <= max_age.as_millis() as i64).then_some(slot)
}

/// Fires due slots, read on `clock` in `zone`, until `shutdown` turns true; `wake` tells the
/// dispatcher a job's work item is waiting.
pub async fn run(
    host: Arc<Host>,
    journal: Journal,
    zone: FixedOffset,
    clock: Clock,
    catch_up_max_age: Duration,
    wake: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    // Watching before the first read: a move made from here on wakes the loop.
    let mut clock_moves = clock.moves();
    let start = clock.now().with_timezone(&zone);
    catch_up(&host, &journal, start, catch_up_max_age, &wake).await;
    let mut checked_up_to = start;
    let mut last_sweep = tokio::time::Instant::now();
    let mut next_slot = None;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(until(next_slot, &clock)) => {}
            _ = clock_moves.next() => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            break;
        }
        let now = clock.now().with_timezone(&zone);
        next_slot = None;
        for version in host.generation().scripts.values() {
            for declaration in &version.declarations {
                let Declaration::Schedule { cron, function, .. } = declaration else {
                    continue;
                };
                let Ok(schedule) = parse_cron(cron) else {
                    continue; // rejected at load; a live version never has a bad expression
                };
                let key = job_key(&version.path, function, cron);
                for slot in schedule.after(&checked_up_to).take_while(|t| *t <= now) {
                    fire(&journal, &key, slot.timestamp_millis(), &wake).await;
                }
                if let Some(next) = schedule.after(&now).next() {
                    next_slot =
                        Some(next_slot.map_or(next, |n: DateTime<FixedOffset>| n.min(next)));
                }
            }
        }
        checked_up_to = now;
        if last_sweep.elapsed() >= ONCE_SWEEP {
            last_sweep = tokio::time::Instant::now();
            match journal.sweep_once_keys().await {
                Ok(swept) => tracing::debug!(swept, "expired once keys swept"),
                Err(e) => tracing::error!(error = %e, "cannot sweep expired once keys"),
            }
        }
    }
}

/// On start: fires, per schedule that catches up, the most recent slot missed while down.
async fn catch_up(
    host: &Host,
    journal: &Journal,
    start: DateTime<FixedOffset>,
    max_age: Duration,
    wake: &Notify,
) {
    for version in host.generation().scripts.values() {
        for declaration in &version.declarations {
            let Declaration::Schedule {
                cron,
                function,
                catch_up: CatchUp::Last,
                ..
            } = declaration
            else {
                continue;
            };
            let Ok(schedule) = parse_cron(cron) else {
                continue;
            };
            let key = job_key(&version.path, function, cron);
            let last = match journal.last_cron_slot(&key).await {
                Ok(last) => last,
                Err(e) => {
                    tracing::error!(job = %key, error = %e, "cannot read the last fired slot; no catch-up");
                    continue;
                }
            };
            if let Some(slot_ms) = catch_up_slot(&schedule, last, start, max_age) {
                tracing::info!(job = %key, slot_ms, "catching up the last slot missed while down");
                fire(journal, &key, slot_ms, wake).await;
            }
        }
    }
}

async fn fire(journal: &Journal, key: &str, slot_ms: i64, wake: &Notify) {
    match journal.fire_cron_slot(key, slot_ms).await {
        Ok(CronFire::Fired { work_id }) => {
            crate::metrics::cron_fired(key, "fired");
            tracing::debug!(job = %key, slot_ms, work = work_id, "slot fired");
            wake.notify_one();
        }
        Ok(CronFire::Overlap) => {
            crate::metrics::cron_fired(key, "skipped");
            tracing::warn!(job = %key, slot_ms, "skipped: the previous run is still going")
        }
        Ok(CronFire::Taken) => {}
        Err(e) => tracing::error!(job = %key, error = %e, "cannot fire a cron slot"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(text).unwrap()
    }

    fn ms(text: &str) -> i64 {
        at(text).timestamp_millis()
    }

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn catch_up_fires_the_most_recent_missed_slot_only_when_young_enough() {
        let daily_9 = parse_cron("0 0 9 * * *").unwrap();
        let yesterday = Some(ms("2026-11-29T09:00:00+08:00"));
        // Down from 08:55 to 09:20: today's 09:00 was missed.
        assert_eq!(
            catch_up_slot(
                &daily_9,
                yesterday,
                at("2026-11-30T09:20:00.500+08:00"),
                HOUR
            ),
            Some(ms("2026-11-30T09:00:00+08:00"))
        );
        // Too old.
        assert_eq!(
            catch_up_slot(&daily_9, yesterday, at("2026-11-30T10:00:01+08:00"), HOUR),
            None
        );
        // Already fired.
        let today = Some(ms("2026-11-30T09:00:00+08:00"));
        assert_eq!(
            catch_up_slot(&daily_9, today, at("2026-11-30T09:20:00+08:00"), HOUR),
            None
        );
        // Never fired: nothing was missed.
        assert_eq!(
            catch_up_slot(&daily_9, None, at("2026-11-30T09:20:00+08:00"), HOUR),
            None
        );
        // Several missed: only the most recent one.
        let every_minute = parse_cron("0 * * * * *").unwrap();
        assert_eq!(
            catch_up_slot(
                &every_minute,
                Some(ms("2026-11-30T09:00:00+08:00")),
                at("2026-11-30T09:10:30+08:00"),
                HOUR
            ),
            Some(ms("2026-11-30T09:10:00+08:00"))
        );
        // A slot exactly at the start is the start's to catch up (the loop fires later ones).
        assert_eq!(
            catch_up_slot(
                &every_minute,
                Some(ms("2026-11-30T09:00:00+08:00")),
                at("2026-11-30T09:10:00+08:00"),
                HOUR
            ),
            Some(ms("2026-11-30T09:10:00+08:00"))
        );
    }

    #[test]
    fn job_keys_name_script_function_and_expression() {
        let key = job_key("scripts/a::b.rhai", "report", "0 0 9 * * *");
        assert_eq!(key, "scripts/a::b.rhai::report::0 0 9 * * *");
        let mut parts = key.rsplitn(3, "::");
        assert_eq!(parts.next(), Some("0 0 9 * * *"));
        assert_eq!(parts.next(), Some("report"));
        assert_eq!(parts.next(), Some("scripts/a::b.rhai"));
    }
}
