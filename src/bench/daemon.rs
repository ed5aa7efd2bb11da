//! The daemon under test as a child process: its temporary folder, config and script, start-up,
//! CPU and memory read from `/proc`, and stopping it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::io::{AsyncBufReadExt, BufReader};

use super::PUSH_PATH;
use crate::sim::Simulator;

/// A temporary folder removed when dropped.
pub(super) struct TempDir(pub(super) PathBuf);

impl TempDir {
    pub(super) fn new() -> anyhow::Result<TempDir> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "leadrelay-bench-{}-{}-{}",
            std::process::id(),
            chrono::Utc::now().timestamp_millis(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        Ok(TempDir(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The routing script the benchmark measures, with `marker` baked into the customer names.
pub(super) fn script(marker: &str) -> String {
    format!(
        r#"// leadrelay bench routing script, version {marker}: one Xiaolanben import per Tencent lead,
// the customer named after the lead so the benchmark can time its arrival.
on_lead("tencent", "route");
fn route(lead) {{
    xiaolanben::import_customer(#{{
        customerName: lead.id + "@{marker}",
        customerSource: "leadrelay-bench",
        contacts: [#{{ thirdDataId: "tencent:" + lead.id, name: lead.name ?? "?" }}],
    }});
}}
"#
    )
}

/// The customer name the script gives lead `id` in version `marker`.
pub(super) fn customer_name(id: u64, marker: &str) -> String {
    format!("{id}@{marker}")
}

/// A daemon's folder: config, scripts, journal.
pub(super) struct DaemonDir {
    pub(super) dir: TempDir,
    pub(super) journal: Option<crate::store::target::PgUrl>,
}

impl DaemonDir {
    pub(super) fn new(
        sim: &Simulator,
        backlog_limit: Option<u64>,
        journal: Option<&crate::store::target::PgUrl>,
    ) -> anyhow::Result<DaemonDir> {
        let dir = TempDir::new()?;
        let scripts = dir.0.join("scripts");
        std::fs::create_dir(&scripts)?;
        std::fs::write(scripts.join("route.rhai"), script("v0"))?;
        let backlog = backlog_limit
            .map(|n| format!("backlog_limit = {n}\n"))
            .unwrap_or_default();
        let config = format!(
            "{}\n[daemon]\nlisten = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\njournal = \"{}\"\nscripts = \"{}\"\n{backlog}\n\
             [[sources]]\naccount = \"sim_tencent\"\npush = \"{PUSH_PATH}\"\n",
            sim.config_toml(),
            journal.map_or_else(|| dir.0.join("leadrelay.db").display().to_string(), |url| url.expose().to_string()),
            scripts.display(),
        );
        std::fs::write(dir.0.join("leadrelay.toml"), config)?;
        Ok(DaemonDir {
            dir,
            journal: journal.cloned(),
        })
    }

    pub(super) fn config(&self) -> PathBuf {
        self.dir.0.join("leadrelay.toml")
    }

    pub(super) fn journal(&self) -> crate::store::JournalTarget {
        match &self.journal {
            Some(url) => crate::store::JournalTarget::Postgres(url.clone()),
            None => crate::store::JournalTarget::Sqlite(self.dir.0.join("leadrelay.db")),
        }
    }

    pub(super) fn script(&self) -> PathBuf {
        self.dir.0.join("scripts/route.rhai")
    }

    pub(super) fn stderr(&self) -> PathBuf {
        self.dir.0.join("daemon.stderr")
    }
}

/// The daemon's CPU at one instant: the process's clock ticks, and each live thread's
/// nanoseconds when the kernel gives them.
#[derive(Debug, Clone, Default)]
pub(super) struct CpuSample {
    pub(super) ticks: u64,
    pub(super) threads: Option<HashMap<u32, u64>>,
}

/// CPU seconds from `before` to `after`. With both per-thread readings: the sum over the threads
/// alive at `after` of their growth (the whole reading for a thread born in between), to the
/// nanosecond; a thread that exited in between loses its share of the window, which for the
/// short idle and shedding windows is a parked thread's exit, next to nothing. Otherwise the
/// process's clock ticks (`ticks_per_sec` each, so ±1 tick).
pub(super) fn cpu_secs_between(before: &CpuSample, after: &CpuSample, ticks_per_sec: f64) -> f64 {
    match (&before.threads, &after.threads) {
        (Some(b), Some(a)) => {
            let ns: u64 = a
                .iter()
                .map(|(tid, ns)| ns.saturating_sub(b.get(tid).copied().unwrap_or(0)))
                .sum();
            ns as f64 / 1e9
        }
        _ => after.ticks.saturating_sub(before.ticks) as f64 / ticks_per_sec,
    }
}

pub(super) struct Daemon {
    pub(super) child: tokio::process::Child,
    pub(super) pid: u32,
    pub(super) push_url: String,
    pub(super) startup: Duration,
    // Last: the folder goes after the process is gone.
    pub(super) dir: DaemonDir,
}

impl Daemon {
    pub(super) async fn start(exe: &Path, dir: DaemonDir) -> anyhow::Result<Daemon> {
        let stderr = std::fs::File::create(dir.stderr())?;
        let spawned = Instant::now();
        let mut child = tokio::process::Command::new(exe)
            .arg("--config")
            .arg(dir.config())
            .arg("run")
            .env("LEADRELAY_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", exe.display()))?;
        let stdout = child.stdout.take().context("no stdout pipe")?;
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line()).await;
        let startup = spawned.elapsed();
        let line = match first {
            Ok(Ok(Some(line))) => line,
            _ => {
                let _ = child.start_kill();
                let _ = child.wait().await;
                let log = std::fs::read_to_string(dir.stderr()).unwrap_or_default();
                bail!(
                    "{} run did not start: {}",
                    exe.display(),
                    log.lines().last().unwrap_or("(no output)")
                );
            }
        };
        // Keep reading so the daemon never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split(',').next())
            .with_context(|| format!("unexpected first line from the daemon: {line}"))?;
        let pid = child.id().context("the daemon exited at once")?;
        Ok(Daemon {
            child,
            pid,
            push_url: format!("http://{addr}{PUSH_PATH}"),
            startup,
            dir,
        })
    }

    /// utime + stime in clock ticks.
    pub(super) fn cpu_ticks(&self) -> anyhow::Result<u64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid))
            .context("cannot read /proc/PID/stat (the benchmark needs Linux)")?;
        // The command name may contain spaces; fields are counted after its closing paren.
        let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
        let fields: Vec<&str> = after.split_whitespace().collect();
        let field = |i: usize| -> anyhow::Result<u64> {
            fields
                .get(i)
                .and_then(|v| v.parse().ok())
                .context("unexpected /proc/PID/stat format")
        };
        // Fields 14 and 15 of stat(5); `after` starts at field 3.
        Ok(field(11)? + field(12)?)
    }

    /// The CPU of every live thread in nanoseconds (first field of
    /// `/proc/PID/task/TID/schedstat`), by thread id; `None` when the kernel does not expose it.
    pub(super) fn thread_cpu_ns(&self) -> Option<HashMap<u32, u64>> {
        let tasks = std::fs::read_dir(format!("/proc/{}/task", self.pid)).ok()?;
        let mut threads = HashMap::new();
        for task in tasks.flatten() {
            let Ok(tid) = task.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            // A thread may exit between the listing and the read: skip it.
            let Ok(stat) = std::fs::read_to_string(task.path().join("schedstat")) else {
                continue;
            };
            let ns = stat.split_whitespace().next()?.parse().ok()?;
            threads.insert(tid, ns);
        }
        (!threads.is_empty()).then_some(threads)
    }

    /// How many times the kernel has switched to one of the daemon's threads so far: the sum
    /// over its live threads of the third field of `/proc/PID/task/TID/schedstat` (time slices
    /// run). Every hand-off of a lead from one thread to a sleeping other costs one, so this
    /// counts the lead path's thread hops, and unlike CPU time it does not depend on how fast
    /// the host is.
    /// A thread that exits takes its count along (the blocking pool keeps idle threads for
    /// 10 s, longer than a run's gaps). `None` when the kernel does not expose it.
    pub(super) fn switches(&self) -> Option<u64> {
        let tasks = std::fs::read_dir(format!("/proc/{}/task", self.pid)).ok()?;
        let mut total = 0;
        for task in tasks.flatten() {
            let Ok(stat) = std::fs::read_to_string(task.path().join("schedstat")) else {
                continue;
            };
            total += stat.split_whitespace().nth(2)?.parse::<u64>().ok()?;
        }
        Some(total)
    }

    /// A CPU reading for [`cpu_secs_between`].
    pub(super) fn cpu_sample(&self) -> anyhow::Result<CpuSample> {
        Ok(CpuSample {
            ticks: self.cpu_ticks()?,
            threads: self.thread_cpu_ns(),
        })
    }

    /// (VmRSS, VmHWM) in KiB.
    pub(super) fn memory_kib(&self) -> anyhow::Result<(u64, u64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .context("cannot read /proc/PID/status (the benchmark needs Linux)")?;
        let value = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .with_context(|| format!("no {key} in /proc/PID/status"))
        };
        Ok((value("VmRSS:")?, value("VmHWM:")?))
    }

    pub(super) async fn stop(mut self) {
        // SIGTERM, as an operator would; the daemon is idle by now, so it exits at once.
        let _ = tokio::process::Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await;
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.start_kill();
            let _ = self.child.wait().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_between_sums_each_live_threads_growth_to_the_nanosecond() {
        let sample = |ticks, threads: &[(u32, u64)]| CpuSample {
            ticks,
            threads: Some(threads.iter().copied().collect()),
        };
        // Thread 1 grew 2 ms, thread 3 was born with 0.5 ms, thread 2 exited (not counted).
        let before = sample(10, &[(1, 5_000_000), (2, 9_000_000)]);
        let after = sample(11, &[(1, 7_000_000), (3, 500_000)]);
        let secs = cpu_secs_between(&before, &after, 100.0);
        assert!((secs - 0.0025).abs() < 1e-12, "{secs}");
    }

    #[test]
    fn cpu_between_falls_back_to_clock_ticks() {
        let before = CpuSample {
            ticks: 10,
            threads: None,
        };
        let after = CpuSample {
            ticks: 13,
            threads: Some(HashMap::from([(1, 1)])),
        };
        assert_eq!(cpu_secs_between(&before, &after, 100.0), 0.03);
        assert_eq!(cpu_secs_between(&after, &before, 100.0), 0.0);
    }
}
