//! What only the running daemon knows — live script versions and their last reload verdicts,
//! circuit breaker states, accounts suspected of clock skew, suspicious pushes — written every few
//! seconds to `<journal>.status.json`, so that
//! `leadrelay status` in another process can show it next to the journal's own counts.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::breaker::{BreakerState, Breakers};
use crate::clock::Clock;
use crate::host::generation::{Host, Verdict};
use crate::store::{Journal, JournalTarget};
use crate::trigger::webhook::PushCounters;

/// How often the file is rewritten.
pub const INTERVAL: Duration = Duration::from_secs(2);

/// The daemon's view, as written to the status file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DaemonStatus {
    /// Process id.
    pub pid: u32,
    /// Unix ms of this snapshot.
    pub written_ms: i64,
    /// Unix ms the daemon started.
    pub started_ms: i64,
    /// Webhook address.
    pub listen: String,
    /// Per script: path, live version, last verdict.
    pub scripts: Vec<ScriptLine>,
    /// Accounts whose breaker is open: (account, consecutive failures).
    pub open_breakers: Vec<(String, u32)>,
    /// Accounts whose vendor refused the timestamps of its latest calls: (account, clock
    /// failures in a row). Absent in files written before it existed.
    #[serde(default)]
    pub clock_skew: Vec<(String, u32)>,
    /// Per push path with a replay guard (Tencent): pushes since start that reused a signature
    /// with another body. Absent in files of older daemons.
    #[serde(default)]
    pub suspicious_pushes: Vec<(String, u64)>,
}

/// One script's line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScriptLine {
    /// The script's path.
    pub path: String,
    /// The live version, if any.
    pub version: Option<String>,
    /// `live`, `unchanged`, `removed`, or `rejected: path:line:col: message`.
    pub verdict: String,
}

/// The status file a node writes: beside a SQLite journal; for a PostgreSQL journal (no file
/// of its own), `leadrelay-NODE.status.json` in the working directory.
pub fn status_path(journal: &JournalTarget, node: &str) -> PathBuf {
    match journal {
        JournalTarget::Sqlite(path) => {
            let mut name = path.as_os_str().to_owned();
            name.push(".status.json");
            PathBuf::from(name)
        }
        JournalTarget::Postgres(_) => PathBuf::from(format!("leadrelay-{node}.status.json")),
    }
}

/// Reads a daemon's status file; `None` when absent or unreadable.
pub fn read(journal: &JournalTarget, node: &str) -> Option<DaemonStatus> {
    serde_json::from_slice(&std::fs::read(status_path(journal, node)).ok()?).ok()
}

fn snapshot(
    host: &Host,
    breakers: &Breakers,
    pushes: &PushCounters,
    listen: &str,
    started_ms: i64,
    clock: Clock,
) -> DaemonStatus {
    let scripts = host
        .status()
        .into_iter()
        .map(|(path, s)| ScriptLine {
            path,
            version: s.live_version,
            verdict: match s.verdict {
                Verdict::Live => "live".to_string(),
                Verdict::Unchanged => "unchanged".to_string(),
                Verdict::Removed => "removed".to_string(),
                Verdict::Rejected(problems) => format!(
                    "rejected: {}",
                    problems
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            },
        })
        .collect();
    let open_breakers = breakers
        .states()
        .into_iter()
        .filter_map(|(account, state)| match state {
            BreakerState::Open { failures } => Some((account, failures)),
            BreakerState::Closed => None,
        })
        .collect();
    DaemonStatus {
        pid: std::process::id(),
        written_ms: clock.unix_millis(),
        started_ms,
        listen: listen.to_string(),
        scripts,
        open_breakers,
        clock_skew: breakers.clock_skew_suspects(),
        suspicious_pushes: pushes.snapshot(),
    }
}

/// Rewrites the status file every [`INTERVAL`] until shutdown, then removes it.
pub async fn publish(
    host: Arc<Host>,
    breakers: Arc<Breakers>,
    pushes: PushCounters,
    path: PathBuf,
    listen: String,
    journal: Journal,
    mut shutdown: watch::Receiver<bool>,
) {
    // The daemon's one clock, which the journal stamps with too.
    let clock = journal.clock();
    let started_ms = clock.unix_millis();
    loop {
        let status = snapshot(&host, &breakers, &pushes, &listen, started_ms, clock);
        journal.report_node(
            status
                .scripts
                .iter()
                .filter_map(|s| Some(format!("{}@{}", s.path, s.version.as_deref()?)))
                .collect::<Vec<_>>()
                .join(", "),
            status
                .open_breakers
                .iter()
                .map(|(account, failures)| format!("{account} ({failures} failures)"))
                .collect::<Vec<_>>()
                .join(", "),
        );
        let tmp = path.with_extension("json.tmp");
        // Written beside and renamed over, so a reader never sees half a file.
        let written = serde_json::to_vec_pretty(&status)
            .map_err(std::io::Error::other)
            .and_then(|bytes| std::fs::write(&tmp, bytes))
            .and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = written {
            tracing::warn!(path = %path.display(), error = %e, "cannot write the status file");
        }
        tokio::select! {
            _ = tokio::time::sleep(INTERVAL) => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            let _ = std::fs::remove_file(&path);
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_file_from_before_clock_skew_tracking_still_reads() {
        let old = r#"{"pid": 7, "written_ms": 1, "started_ms": 0, "listen": "127.0.0.1:1",
                      "scripts": [], "open_breakers": [["xlb", 5]]}"#;
        let status: DaemonStatus = serde_json::from_str(old).unwrap();
        assert_eq!(status.open_breakers, vec![("xlb".to_string(), 5)]);
        assert!(status.clock_skew.is_empty());
    }
}
