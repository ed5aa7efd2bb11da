//! `leadrelay bench`: the end-to-end benchmark against the simulators, on 127.0.0.1 only.
//!
//! Every measured lead takes the whole production path: a signed Tencent push into the daemon's
//! webhook, the journal commit, the acknowledgement, the dispatcher, a Rhai handler, a signed
//! Xiaolanben `import_customer` call into the simulator, and the journal recording the outcome.
//!
//! ## Method
//!
//! - **The daemon is a child process** (`leadrelay run`, this executable by default) with a
//!   generated config, a fresh temporary journal and scripts folder, and `LEADRELAY_LOG=warn`
//!   (per-lead info lines are not part of what we measure). Its CPU time is `utime + stime` of
//!   `/proc/PID/stat` (ticks of `getconf CLK_TCK`, 100 assumed if that fails) and its memory
//!   `VmRSS`/`VmHWM` of `/proc/PID/status`, so they are the daemon's alone. The simulators and
//!   the load generator run in this process and share the machine's cores with it.
//! - **Every run gets a fresh daemon**, so runs do not inherit each other's journal and the
//!   high-water mark `VmHWM` is that run's peak RSS.
//! - **Open loop**: pushes are sent at fixed intended instants by a scheduler that never waits
//!   for answers (at most [`OPEN_LOOP_IN_FLIGHT`] outstanding; beyond that the scheduler falls
//!   behind, which shows as latency, because every latency is measured from the *intended*
//!   send instant: no coordinated omission). Ack latency is intended send → HTTP answer read.
//!   Push→vendor latency is intended send → the simulator receiving the routed call for that
//!   lead: the script names each customer after its lead id, and the simulator records when it
//!   first received a call for a name ([`crate::sim::xiaolanben::State::received_at`]).
//! - **Closed loop**: a fixed number of senders, each sending its next push as soon as the
//!   previous one is answered; leads/s is the saturation throughput, routed leads over the time
//!   from the first push to the last lead reaching the simulator (the backlog drained).
//! - **Overload**: open loop at twice the closed-loop throughput. The daemon must shed with 503
//!   once its backlog limit is reached instead of buffering, so its peak RSS stays bounded.
//! - **Nothing acknowledged is lost**: after every run we wait (bounded) until every lead
//!   answered 200 has reached the simulator and the journal's backlog is empty; a lead that
//!   never arrives is counted as lost.
//! - **Leads per daemon CPU-second**: routed leads over the daemon's CPU time from the first
//!   push until the journal's backlog is empty.
//! - **Save → live**: with a daemon running, the script is saved (written in place) with a new
//!   marker baked into the customer names; right after each save we push a lead every ~2 ms and
//!   stop at the first customer carrying the new marker. Save → live is the save instant to the
//!   simulator receiving that call, so it includes one push→vendor latency and up to one push
//!   interval: it slightly overstates the reload itself.
//! - **Start-up**: spawn → the daemon's first stdout line (`leadrelay running: …`), with a
//!   fresh journal; idle RSS is `VmRSS` after a further second without traffic.
//!
//! Every scenario runs `repeat` times; the tables show every run and a median row (each column
//! the median of its runs); the targets use the median rows.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::Semaphore;

mod growth;
pub use growth::{growth, growth_with, GrowthReport};

use crate::connectors::tencent::config::Algorithm;
use crate::connectors::tencent::webhook::sign_push;
use crate::sim::tencent::{SIM_SECRET, SIM_TOKEN};
use crate::sim::Simulator;
use crate::store::JournalReader;

/// Most open-loop pushes awaiting their answer; far above rate × latency at every rate we
/// offer, so it only binds when the daemon stalls.
pub const OPEN_LOOP_IN_FLIGHT: usize = 512;

/// The push path of the benchmark's Tencent source.
const PUSH_PATH: &str = "/hooks/tencent";

/// How long a run may take to deliver what was acknowledged before the rest counts as lost.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);
/// A drain with no lead arriving for this long has stopped (retries back off for longer).
const DRAIN_STALL: Duration = Duration::from_secs(10);

/// What to measure and how long.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Open-loop rates, leads per second.
    pub rates: Vec<u32>,
    /// How long each run sends.
    pub run_time: Duration,
    /// Runs per scenario (the median is reported).
    pub repeat: usize,
    /// Tiny counts for tests: a few seconds in all, numbers not meaningful.
    pub quick: bool,
    /// The `leadrelay` binary started as the daemon; default this executable.
    pub daemon_exe: Option<PathBuf>,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            rates: vec![500, 1000, 2000],
            run_time: Duration::from_secs(5),
            repeat: 3,
            quick: false,
            daemon_exe: None,
        }
    }
}

impl BenchOptions {
    /// The quick mode used by the tests.
    pub fn quick() -> Self {
        BenchOptions {
            rates: vec![200],
            run_time: Duration::from_millis(500),
            repeat: 1,
            quick: true,
            daemon_exe: None,
        }
    }
}

/// Sizes derived from the options.
struct Plan {
    closed_loop_senders: usize,
    overload_time: Duration,
    backlog_limit: Option<u64>,
    reload_saves: usize,
    startup_samples: usize,
    idle_wait: Duration,
}

impl Plan {
    fn new(options: &BenchOptions) -> Plan {
        if options.quick {
            Plan {
                closed_loop_senders: 4,
                overload_time: Duration::from_secs(1),
                // Small enough that the short overload run reaches it.
                backlog_limit: Some(100),
                reload_saves: 3,
                startup_samples: 2,
                idle_wait: Duration::from_millis(300),
            }
        } else {
            Plan {
                closed_loop_senders: 16,
                // Long enough to fill the default backlog limit (10,000) at twice the
                // saturation rate and then shed for a while.
                overload_time: options.run_time + Duration::from_secs(3),
                backlog_limit: None,
                reload_saves: 30,
                startup_samples: 5,
                idle_wait: Duration::from_secs(1),
            }
        }
    }
}

/// p50/p99/p99.9 of a set of durations.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Latencies {
    /// Median.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// 99.9th percentile (the maximum when there are fewer than 1,000 samples).
    pub p999: Duration,
    /// Largest.
    pub max: Duration,
    /// How many samples.
    pub samples: usize,
}

impl Latencies {
    /// Nearest-rank percentiles of `values`.
    pub fn of(mut values: Vec<Duration>) -> Latencies {
        if values.is_empty() {
            return Latencies::default();
        }
        values.sort_unstable();
        let rank = |q: f64| {
            let i = (q * values.len() as f64).ceil() as usize;
            values[i.clamp(1, values.len()) - 1]
        };
        Latencies {
            p50: rank(0.5),
            p99: rank(0.99),
            p999: rank(0.999),
            max: values[values.len() - 1],
            samples: values.len(),
        }
    }
}

/// One run of one scenario.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunResult {
    /// Offered pushes per second (open loop); the achieved intake rate for the closed loop.
    pub offered_per_sec: f64,
    /// Pushes sent.
    pub sent: u64,
    /// Pushes answered 200 (journaled).
    pub acked: u64,
    /// Pushes answered 503 (load shed).
    pub shed: u64,
    /// Pushes answered otherwise or not at all.
    pub failed: u64,
    /// Acknowledged leads that reached the simulator.
    pub routed: u64,
    /// Acknowledged leads that did not reach the simulator within the drain timeout.
    pub lost: u64,
    /// Routed leads per second, first push → last routed lead.
    pub leads_per_sec: f64,
    /// The daemon's CPU seconds, first push → backlog empty.
    pub cpu_secs: f64,
    /// Routed leads per daemon CPU-second.
    pub leads_per_cpu_sec: f64,
    /// Intended send → HTTP answer, every answered push.
    pub ack: Latencies,
    /// Intended send → the simulator receiving the routed call, every routed lead.
    pub push_to_vendor: Latencies,
    /// Intended send → the push task starting to send: the load generator's own lateness
    /// (timer granularity, sharing the cores), included in both latencies above.
    pub send_lag: Latencies,
    /// The daemon's peak RSS (VmHWM), KiB.
    pub peak_rss_kib: u64,
}

/// Every run of one scenario and their median.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// What was run.
    pub name: String,
    /// Each repetition.
    pub runs: Vec<RunResult>,
    /// Each field the median over `runs`.
    pub median: RunResult,
}

impl Scenario {
    fn new(name: String, runs: Vec<RunResult>) -> Scenario {
        let median = median_run(&runs);
        Scenario { name, runs, median }
    }
}

/// Start-up and idle memory.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Startup {
    /// Spawn → first stdout line, per start.
    pub times: Vec<Duration>,
    /// Median of `times`.
    pub median: Duration,
    /// VmRSS after the idle wait, KiB, per start.
    pub idle_rss_kib: Vec<u64>,
    /// Median of `idle_rss_kib`.
    pub idle_rss_median_kib: u64,
    /// The idle wait.
    pub idle_wait: Duration,
}

/// Save → live of the hot reload.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reload {
    /// Saves made.
    pub saves: usize,
    /// Saves whose version was seen routing a lead within the time limit.
    pub live: usize,
    /// Save → first call routed by the new version.
    pub save_to_live: Latencies,
}

/// One target and whether it was met.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetCheck {
    /// The target.
    pub target: String,
    /// What was measured.
    pub measured: String,
    /// Met, missed, or not measured (`None`).
    pub pass: Option<bool>,
}

/// Everything `leadrelay bench` measured.
#[derive(Debug, Clone)]
pub struct BenchReport {
    /// The options it ran with.
    pub options: BenchOptions,
    /// `cfg!(debug_assertions)` of this build (the daemon is usually the same binary).
    pub debug_build: bool,
    /// Clock ticks per second used for CPU times.
    pub clock_ticks: u64,
    /// True when `getconf CLK_TCK` failed and 100 was assumed.
    pub clock_ticks_assumed: bool,
    /// Cores seen by this process.
    pub cores: usize,
    /// Start-up and idle RSS.
    pub startup: Startup,
    /// One scenario per open-loop rate.
    pub open_loop: Vec<Scenario>,
    /// Closed-loop saturation.
    pub closed_loop: Scenario,
    /// Closed-loop senders.
    pub closed_loop_senders: usize,
    /// Twice the saturation rate.
    pub overload: Scenario,
    /// Hot reload.
    pub reload: Reload,
    /// Acknowledged leads never routed, summed over every run (must be 0).
    pub lost: u64,
    /// Wall time of the whole benchmark.
    pub elapsed: Duration,
}

impl BenchReport {
    /// The targets of the issue, each with its measurement.
    pub fn targets(&self) -> Vec<TargetCheck> {
        let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1e3);
        let check = |target: &str, measured: String, pass: Option<bool>| TargetCheck {
            target: target.to_string(),
            measured,
            pass,
        };
        let at_1000 = self
            .open_loop
            .iter()
            .find(|s| s.runs.first().is_some_and(|r| r.offered_per_sec == 1000.0));
        let sat = &self.closed_loop.median;
        let mut checks = vec![check(
            "leads per daemon CPU-second ≥ 5,000 (closed loop)",
            format!("{:.0}", sat.leads_per_cpu_sec),
            Some(sat.leads_per_cpu_sec >= 5000.0),
        )];
        match at_1000 {
            Some(s) => {
                let lag = format!(" (lag p99 {})", ms(s.median.send_lag.p99));
                checks.push(check(
                    "ack p99 ≤ 5 ms at 1,000 leads/s",
                    format!("{}{lag}", ms(s.median.ack.p99)),
                    Some(s.median.ack.p99 <= Duration::from_millis(5)),
                ));
                checks.push(check(
                    "push→vendor p99 ≤ 10 ms at 1,000 leads/s",
                    format!("{}{lag}", ms(s.median.push_to_vendor.p99)),
                    Some(s.median.push_to_vendor.p99 <= Duration::from_millis(10)),
                ));
            }
            None => {
                for target in [
                    "ack p99 ≤ 5 ms at 1,000 leads/s",
                    "push→vendor p99 ≤ 10 ms at 1,000 leads/s",
                ] {
                    checks.push(check(target, "not run (add 1000 to --rates)".into(), None));
                }
            }
        }
        checks.push(check(
            "save→live p99 ≤ 110 ms",
            format!(
                "{} ({}/{} saves live)",
                ms(self.reload.save_to_live.p99),
                self.reload.live,
                self.reload.saves
            ),
            Some(
                self.reload.live == self.reload.saves
                    && self.reload.save_to_live.p99 <= Duration::from_millis(110),
            ),
        ));
        checks.push(check(
            "idle RSS ≤ 20 MB",
            mib(self.startup.idle_rss_median_kib),
            Some(self.startup.idle_rss_median_kib <= 20 * 1024),
        ));
        let over = &self.overload.median;
        checks.push(check(
            "peak RSS ≤ 256 MB under 2× overload, shedding with 503",
            format!("{} ({} shed)", mib(over.peak_rss_kib), over.shed),
            Some(over.peak_rss_kib <= 256 * 1024 && over.shed > 0),
        ));
        checks.push(check(
            "start-up ≤ 100 ms",
            ms(self.startup.median),
            Some(self.startup.median <= Duration::from_millis(100)),
        ));
        checks.push(check(
            "every acknowledged lead routed",
            format!("{} lost", self.lost),
            Some(self.lost == 0),
        ));
        checks
    }
}

fn mib(kib: u64) -> String {
    format!("{:.1} MB", kib as f64 / 1024.0)
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.options;
        writeln!(
            f,
            "leadrelay bench: end to end (push → journal → Rhai → signed vendor call → journal) \
             against the simulators on 127.0.0.1"
        )?;
        writeln!(
            f,
            "{} build; {} cores shared by the daemon (child process), the simulators and the load \
             generator; CPU at {} ticks/s{}",
            if self.debug_build { "DEBUG" } else { "release" },
            self.cores,
            self.clock_ticks,
            if self.clock_ticks_assumed {
                " (assumed: getconf CLK_TCK failed)"
            } else {
                ""
            }
        )?;
        writeln!(
            f,
            "{} run(s) per scenario of {:.1} s each, median reported; latencies in ms from the \
             intended send instant (lag: the load generator's own lateness, included){}",
            o.repeat,
            o.run_time.as_secs_f64(),
            if o.quick {
                "; QUICK MODE: numbers not meaningful"
            } else {
                ""
            }
        )?;
        writeln!(f)?;
        let st = &self.startup;
        writeln!(
            f,
            "Start-up (spawn → \"leadrelay running\"), {} starts: median {:.1} ms [{}]",
            st.times.len(),
            st.median.as_secs_f64() * 1e3,
            st.times
                .iter()
                .map(|t| format!("{:.1}", t.as_secs_f64() * 1e3))
                .collect::<Vec<_>>()
                .join(", ")
        )?;
        writeln!(
            f,
            "Idle RSS after {:.1} s without traffic: median {} [{}]",
            st.idle_wait.as_secs_f64(),
            mib(st.idle_rss_median_kib),
            st.idle_rss_kib
                .iter()
                .map(|k| format!("{:.1}", *k as f64 / 1024.0))
                .collect::<Vec<_>>()
                .join(", ")
        )?;
        for scenario in &self.open_loop {
            write_scenario(f, scenario)?;
        }
        write_scenario(f, &self.closed_loop)?;
        write_scenario(f, &self.overload)?;
        writeln!(f)?;
        let r = &self.reload.save_to_live;
        writeln!(
            f,
            "Hot reload, {} saves ({} live): save→live p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            self.reload.saves,
            self.reload.live,
            r.p50.as_secs_f64() * 1e3,
            r.p99.as_secs_f64() * 1e3,
            r.max.as_secs_f64() * 1e3
        )?;
        writeln!(f)?;
        writeln!(f, "Targets")?;
        let targets = self.targets();
        let width = targets.iter().map(|t| t.target.chars().count()).max();
        let width = width.unwrap_or(0);
        for t in &targets {
            let verdict = match t.pass {
                Some(true) => "pass",
                Some(false) => "MISS",
                None => "-",
            };
            let pad = width - t.target.chars().count();
            writeln!(
                f,
                "  {}{}  {:<34} {verdict}",
                t.target,
                " ".repeat(pad),
                t.measured
            )?;
        }
        write!(f, "\nTotal time {:.0} s", self.elapsed.as_secs_f64())
    }
}

fn write_scenario(f: &mut fmt::Formatter<'_>, s: &Scenario) -> fmt::Result {
    writeln!(f, "\n{}", s.name)?;
    writeln!(
        f,
        "  {:<7}{:>7}{:>7}{:>7}{:>5}{:>6}{:>9}{:>7}{:>9}  {:<20}{:<26}{:>8}{:>8}",
        "run",
        "sent",
        "acked",
        "503",
        "err",
        "lost",
        "leads/s",
        "CPU s",
        "lds/CPUs",
        "ack p50/p99/p99.9",
        "push→vendor p50/p99/p99.9",
        "lag p99",
        "RSS MB"
    )?;
    let row = |f: &mut fmt::Formatter<'_>, label: &str, r: &RunResult| {
        writeln!(
            f,
            "  {:<7}{:>7}{:>7}{:>7}{:>5}{:>6}{:>9.0}{:>7.2}{:>9.0}  {:<20}{:<26}{:>8.1}{:>8.1}",
            label,
            r.sent,
            r.acked,
            r.shed,
            r.failed,
            r.lost,
            r.leads_per_sec,
            r.cpu_secs,
            r.leads_per_cpu_sec,
            triple(&r.ack),
            triple(&r.push_to_vendor),
            r.send_lag.p99.as_secs_f64() * 1e3,
            r.peak_rss_kib as f64 / 1024.0
        )
    };
    for (i, r) in s.runs.iter().enumerate() {
        row(f, &format!("#{}", i + 1), r)?;
    }
    row(f, "median", &s.median)
}

fn triple(l: &Latencies) -> String {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    format!("{:.1}/{:.1}/{:.1}", ms(l.p50), ms(l.p99), ms(l.p999))
}

fn median_f64(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.collect();
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    v[(v.len() - 1) / 2]
}

fn median_run(runs: &[RunResult]) -> RunResult {
    let m = |get: fn(&RunResult) -> f64| median_f64(runs.iter().map(get));
    let lat = |get: fn(&RunResult) -> &Latencies| Latencies {
        p50: Duration::from_secs_f64(median_f64(runs.iter().map(|r| get(r).p50.as_secs_f64()))),
        p99: Duration::from_secs_f64(median_f64(runs.iter().map(|r| get(r).p99.as_secs_f64()))),
        p999: Duration::from_secs_f64(median_f64(runs.iter().map(|r| get(r).p999.as_secs_f64()))),
        max: Duration::from_secs_f64(median_f64(runs.iter().map(|r| get(r).max.as_secs_f64()))),
        samples: median_f64(runs.iter().map(|r| get(r).samples as f64)) as usize,
    };
    RunResult {
        offered_per_sec: m(|r| r.offered_per_sec),
        sent: m(|r| r.sent as f64) as u64,
        acked: m(|r| r.acked as f64) as u64,
        shed: m(|r| r.shed as f64) as u64,
        failed: m(|r| r.failed as f64) as u64,
        routed: m(|r| r.routed as f64) as u64,
        lost: m(|r| r.lost as f64) as u64,
        leads_per_sec: m(|r| r.leads_per_sec),
        cpu_secs: m(|r| r.cpu_secs),
        leads_per_cpu_sec: m(|r| r.leads_per_cpu_sec),
        ack: lat(|r| &r.ack),
        push_to_vendor: lat(|r| &r.push_to_vendor),
        send_lag: lat(|r| &r.send_lag),
        peak_rss_kib: m(|r| r.peak_rss_kib as f64) as u64,
    }
}

// ---------------------------------------------------------------------------------------------
// The daemon as a child process.

/// A temporary folder removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> anyhow::Result<TempDir> {
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
fn script(marker: &str) -> String {
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
fn customer_name(id: u64, marker: &str) -> String {
    format!("{id}@{marker}")
}

/// A daemon's folder: config, scripts, journal.
struct DaemonDir {
    dir: TempDir,
}

impl DaemonDir {
    fn new(sim: &Simulator, backlog_limit: Option<u64>) -> anyhow::Result<DaemonDir> {
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
            dir.0.join("leadrelay.db").display(),
            scripts.display(),
        );
        std::fs::write(dir.0.join("leadrelay.toml"), config)?;
        Ok(DaemonDir { dir })
    }

    fn config(&self) -> PathBuf {
        self.dir.0.join("leadrelay.toml")
    }

    fn journal(&self) -> PathBuf {
        self.dir.0.join("leadrelay.db")
    }

    fn script(&self) -> PathBuf {
        self.dir.0.join("scripts/route.rhai")
    }

    fn stderr(&self) -> PathBuf {
        self.dir.0.join("daemon.stderr")
    }
}

struct Daemon {
    child: tokio::process::Child,
    pid: u32,
    push_url: String,
    startup: Duration,
    // Last: the folder goes after the process is gone.
    dir: DaemonDir,
}

impl Daemon {
    async fn start(exe: &Path, dir: DaemonDir) -> anyhow::Result<Daemon> {
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
    fn cpu_ticks(&self) -> anyhow::Result<u64> {
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

    /// (VmRSS, VmHWM) in KiB.
    fn memory_kib(&self) -> anyhow::Result<(u64, u64)> {
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

    async fn stop(mut self) {
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

// ---------------------------------------------------------------------------------------------
// Load.

/// One push and its answer.
#[derive(Debug, Clone, Copy)]
struct Push {
    id: u64,
    intended: Instant,
    /// HTTP status; 0 when there was no answer.
    status: u16,
    ack: Duration,
    lag: Duration,
}

/// Sends signed pushes.
#[derive(Clone)]
struct Pusher {
    client: reqwest::Client,
}

impl Pusher {
    fn new() -> anyhow::Result<Pusher> {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(OPEN_LOOP_IN_FLIGHT)
            .tcp_nodelay(true)
            .timeout(Duration::from_secs(10))
            .no_proxy()
            .build()?;
        Ok(Pusher { client })
    }

    /// Sends lead `id`; returns the status (0: no answer) once the whole answer is read.
    async fn send(&self, url: &str, id: u64) -> u16 {
        let headers = sign_push(
            SIM_TOKEN,
            SIM_SECRET,
            chrono::Utc::now().timestamp(),
            Algorithm::Sha256,
        );
        let mut request = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .body(lead_body(id));
        for (name, value) in headers.pairs() {
            request = request.header(name, value);
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                // Read to the end so the connection goes back to the pool.
                match response.bytes().await {
                    Ok(_) => status,
                    Err(_) => 0,
                }
            }
            Err(_) => 0,
        }
    }
}

/// A Tencent push body of a typical size (~300 bytes).
fn lead_body(id: u64) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "leads_id": id,
        "leads_type": "LEADS_TYPE_FORM",
        "leads_name": "王女士",
        "leads_tel": "13812345678",
        "leads_create_time": chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string(),
        "leads_area": "北京市",
        "adgroup_id": 1_234_567,
        "campaign_id": 7_654_321,
        "leads_source": "LEADS_SOURCE_FORM",
        "bundle": "{\"city\":\"北京\",\"需求\":\"门店加盟\"}"
    }))
    .expect("a JSON value serializes")
}

/// Lead ids unique over the whole benchmark.
struct Ids(AtomicU64);

impl Ids {
    fn next(&self) -> u64 {
        self.0.fetch_add(1, Ordering::Relaxed)
    }
}

/// `rate` pushes per second for `duration`, each at its intended instant whatever happened
/// to the earlier ones.
async fn open_loop(
    pusher: &Pusher,
    url: &str,
    rate: f64,
    duration: Duration,
    ids: &Ids,
) -> Vec<Push> {
    let count = (rate * duration.as_secs_f64()).round().max(1.0) as u64;
    let period = Duration::from_secs_f64(1.0 / rate);
    let permits = Arc::new(Semaphore::new(OPEN_LOOP_IN_FLIGHT));
    let mut tasks = Vec::with_capacity(count as usize);
    let start = tokio::time::Instant::now() + Duration::from_millis(5);
    for i in 0..count {
        let intended = start + period.mul_f64(i as f64);
        tokio::time::sleep_until(intended).await;
        let permit = permits
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let (pusher, url, id) = (pusher.clone(), url.to_string(), ids.next());
        let intended = intended.into_std();
        tasks.push(tokio::spawn(async move {
            let lag = intended.elapsed();
            let status = pusher.send(&url, id).await;
            drop(permit);
            Push {
                id,
                intended,
                status,
                ack: intended.elapsed(),
                lag,
            }
        }));
    }
    let mut pushes = Vec::with_capacity(tasks.len());
    for task in tasks {
        if let Ok(push) = task.await {
            pushes.push(push);
        }
    }
    pushes
}

/// `senders` loops, each sending its next push when the previous one is answered.
async fn closed_loop(
    pusher: &Pusher,
    url: &str,
    senders: usize,
    duration: Duration,
    ids: &Arc<Ids>,
) -> Vec<Push> {
    let until = Instant::now() + duration;
    let mut tasks = Vec::new();
    for _ in 0..senders {
        let (pusher, url, ids) = (pusher.clone(), url.to_string(), ids.clone());
        tasks.push(tokio::spawn(async move {
            let mut pushes = Vec::new();
            while Instant::now() < until {
                let id = ids.next();
                let sent = Instant::now();
                let status = pusher.send(&url, id).await;
                pushes.push(Push {
                    id,
                    intended: sent,
                    status,
                    ack: sent.elapsed(),
                    lag: Duration::ZERO,
                });
                if status != 200 {
                    // Shed or failing: back off a little rather than spin on refusals.
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
            pushes
        }));
    }
    let mut pushes = Vec::new();
    for task in tasks {
        if let Ok(mut p) = task.await {
            pushes.append(&mut p);
        }
    }
    pushes
}

// ---------------------------------------------------------------------------------------------
// Runs.

enum Load {
    Open { rate: f64, duration: Duration },
    Closed { senders: usize, duration: Duration },
}

struct Bench {
    sim: Simulator,
    exe: PathBuf,
    pusher: Pusher,
    ids: Arc<Ids>,
    plan: Plan,
    clock_ticks: f64,
    lost: Mutex<u64>,
}

impl Bench {
    async fn daemon(&self) -> anyhow::Result<Daemon> {
        let dir = DaemonDir::new(&self.sim, self.plan.backlog_limit)?;
        Daemon::start(&self.exe, dir).await
    }

    /// Forgets the simulator's customers and receive instants, so its memory stays small
    /// across runs.
    async fn clear_customers(&self) -> anyhow::Result<()> {
        let url = format!("{}/_sim/xiaolanben/customers", self.sim.base_url());
        self.pusher
            .client
            .delete(url)
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }

    async fn run(&self, load: &Load) -> anyhow::Result<RunResult> {
        self.clear_customers().await?;
        let daemon = self.daemon().await?;
        let cpu_before = daemon.cpu_ticks()?;
        let began = Instant::now();
        let (pushes, offered) = match *load {
            Load::Open { rate, duration } => (
                open_loop(&self.pusher, &daemon.push_url, rate, duration, &self.ids).await,
                rate,
            ),
            Load::Closed { senders, duration } => {
                let pushes =
                    closed_loop(&self.pusher, &daemon.push_url, senders, duration, &self.ids).await;
                let rate = pushes.len() as f64 / duration.as_secs_f64();
                (pushes, rate)
            }
        };
        let acked: Vec<&Push> = pushes.iter().filter(|p| p.status == 200).collect();
        let received = self.wait_routed(&acked).await;
        self.wait_journal_idle(&daemon.dir.journal()).await;
        let cpu_ticks = daemon.cpu_ticks()?.saturating_sub(cpu_before);
        let (_, peak_rss_kib) = daemon.memory_kib()?;
        let missing = received.iter().filter(|r| r.is_none()).count();
        if missing > 0 {
            let log = std::fs::read_to_string(daemon.dir.stderr()).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(5).collect();
            progress(&format!(
                "{missing} acknowledged leads did not reach the simulator; the daemon's last \
                 log lines:\n  {}",
                tail.join("\n  ")
            ));
        }
        daemon.stop().await;

        let push_to_vendor: Vec<Duration> = acked
            .iter()
            .zip(&received)
            .filter_map(|(p, at)| at.map(|at| at.saturating_duration_since(p.intended)))
            .collect();
        let routed = push_to_vendor.len() as u64;
        let lost = acked.len() as u64 - routed;
        *self.lost.lock().expect("lost lock") += lost;
        let last = received.iter().flatten().max().copied().unwrap_or(began);
        let first = pushes.iter().map(|p| p.intended).min().unwrap_or(began);
        let span = last.saturating_duration_since(first).as_secs_f64();
        let cpu_secs = cpu_ticks as f64 / self.clock_ticks;
        let count = |pred: fn(u16) -> bool| pushes.iter().filter(|p| pred(p.status)).count() as u64;
        Ok(RunResult {
            offered_per_sec: offered,
            sent: pushes.len() as u64,
            acked: acked.len() as u64,
            shed: count(|s| s == 503),
            failed: count(|s| s != 200 && s != 503),
            routed,
            lost,
            leads_per_sec: if span > 0.0 {
                routed as f64 / span
            } else {
                0.0
            },
            cpu_secs,
            leads_per_cpu_sec: if cpu_secs > 0.0 {
                routed as f64 / cpu_secs
            } else {
                0.0
            },
            ack: Latencies::of(
                pushes
                    .iter()
                    .filter(|p| p.status != 0)
                    .map(|p| p.ack)
                    .collect(),
            ),
            push_to_vendor: Latencies::of(push_to_vendor),
            send_lag: Latencies::of(pushes.iter().map(|p| p.lag).collect()),
            peak_rss_kib,
        })
    }

    /// Waits (bounded) until every acknowledged lead reached the simulator; their arrival
    /// instants, `None` for the ones that never did.
    async fn wait_routed(&self, acked: &[&Push]) -> Vec<Option<Instant>> {
        let state = &self.sim.shared().xiaolanben;
        let mut arrived: Vec<Option<Instant>> = vec![None; acked.len()];
        let mut missing: Vec<usize> = (0..acked.len()).collect();
        let deadline = Instant::now() + DRAIN_TIMEOUT;
        let mut progressed = Instant::now();
        loop {
            let before = missing.len();
            missing.retain(|&i| {
                arrived[i] = state.received_at(&customer_name(acked[i].id, "v0"));
                arrived[i].is_none()
            });
            if missing.len() < before {
                progressed = Instant::now();
            }
            let stalled = progressed.elapsed() > DRAIN_STALL;
            if missing.is_empty() || stalled || Instant::now() > deadline {
                return arrived;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits (bounded) until the journal has recorded every outcome.
    async fn wait_journal_idle(&self, journal: &Path) {
        let journal = journal.to_path_buf();
        let _ = tokio::task::spawn_blocking(move || {
            let deadline = Instant::now() + Duration::from_secs(30);
            let Ok(reader) = JournalReader::open(&journal) else {
                return;
            };
            while Instant::now() < deadline {
                match reader.status() {
                    Ok(status) if status.backlog() == 0 => return,
                    Ok(_) => std::thread::sleep(Duration::from_millis(10)),
                    Err(_) => return,
                }
            }
        })
        .await;
    }

    async fn scenario(&self, name: String, load: Load, repeat: usize) -> anyhow::Result<Scenario> {
        let mut runs = Vec::new();
        for i in 0..repeat {
            progress(&format!("{name}: run {}/{repeat}", i + 1));
            runs.push(self.run(&load).await?);
        }
        Ok(Scenario::new(name, runs))
    }

    async fn startup(&self) -> anyhow::Result<Startup> {
        let mut times = Vec::new();
        let mut idle = Vec::new();
        for _ in 0..self.plan.startup_samples {
            let daemon = self.daemon().await?;
            times.push(daemon.startup);
            tokio::time::sleep(self.plan.idle_wait).await;
            idle.push(daemon.memory_kib()?.0);
            daemon.stop().await;
        }
        let median = Duration::from_secs_f64(median_f64(times.iter().map(Duration::as_secs_f64)));
        let idle_rss_median_kib = median_f64(idle.iter().map(|k| *k as f64)) as u64;
        Ok(Startup {
            times,
            median,
            idle_rss_kib: idle,
            idle_rss_median_kib,
            idle_wait: self.plan.idle_wait,
        })
    }

    async fn reload(&self) -> anyhow::Result<Reload> {
        self.clear_customers().await?;
        let daemon = self.daemon().await?;
        let state = &self.sim.shared().xiaolanben;
        let mut times = Vec::new();
        for save in 1..=self.plan.reload_saves {
            // Lets the previous save's file events settle, as between two real saves.
            tokio::time::sleep(Duration::from_millis(50)).await;
            let marker = format!("v{save}");
            let saved = Instant::now();
            std::fs::write(daemon.dir.script(), script(&marker))?;
            let mut pushed = Vec::new();
            let deadline = saved + Duration::from_secs(3);
            'watch: while Instant::now() < deadline {
                let id = self.ids.next();
                self.pusher.send(&daemon.push_url, id).await;
                pushed.push(id);
                for id in &pushed {
                    if let Some(at) = state.received_at(&customer_name(*id, &marker)) {
                        times.push(at.saturating_duration_since(saved));
                        break 'watch;
                    }
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        daemon.stop().await;
        Ok(Reload {
            saves: self.plan.reload_saves,
            live: times.len(),
            save_to_live: Latencies::of(times),
        })
    }
}

fn progress(what: &str) {
    eprintln!("bench: {what}");
}

fn clock_ticks() -> (u64, bool) {
    let out = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .stderr(Stdio::null())
        .output();
    match out
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<u64>().ok())
        .filter(|t| *t > 0)
    {
        Some(ticks) => (ticks, false),
        None => (100, true),
    }
}

/// Runs the benchmark: start-up and idle RSS, the open-loop rates, the closed loop, the
/// overload and the hot reload. Prints progress to stderr; the report is returned.
pub async fn run(options: BenchOptions) -> anyhow::Result<BenchReport> {
    let began = Instant::now();
    if options.rates.is_empty() || options.rates.contains(&0) {
        bail!("--rates needs one or more rates above 0");
    }
    if options.repeat == 0 {
        bail!("--repeat must be at least 1");
    }
    if options.run_time.is_zero() {
        bail!("--seconds must be above 0");
    }
    let exe = match &options.daemon_exe {
        Some(exe) => exe.clone(),
        None => std::env::current_exe().context("cannot find this executable")?,
    };
    let (ticks, ticks_assumed) = clock_ticks();
    let bench = Bench {
        sim: Simulator::start_local()
            .await
            .context("cannot start the simulators")?,
        exe,
        pusher: Pusher::new()?,
        ids: Arc::new(Ids(AtomicU64::new(1))),
        plan: Plan::new(&options),
        clock_ticks: ticks as f64,
        lost: Mutex::new(0),
    };

    progress("start-up and idle RSS");
    let startup = bench.startup().await?;
    let mut open = Vec::new();
    for rate in &options.rates {
        let name = format!("Open loop, {rate} leads/s");
        let load = Load::Open {
            rate: f64::from(*rate),
            duration: options.run_time,
        };
        open.push(bench.scenario(name, load, options.repeat).await?);
    }
    let senders = bench.plan.closed_loop_senders;
    let closed = bench
        .scenario(
            format!("Closed loop, {senders} senders (saturation)"),
            Load::Closed {
                senders,
                duration: options.run_time,
            },
            options.repeat,
        )
        .await?;
    let overload_rate = (2.0 * closed.median.leads_per_sec).round().max(1.0);
    let overload = bench
        .scenario(
            format!(
                "Overload, open loop at 2× saturation = {overload_rate:.0} leads/s for {:.0} s",
                bench.plan.overload_time.as_secs_f64()
            ),
            Load::Open {
                rate: overload_rate,
                duration: bench.plan.overload_time,
            },
            options.repeat,
        )
        .await?;
    progress("hot reload");
    let reload = bench.reload().await?;
    let lost = *bench.lost.lock().expect("lost lock");
    Ok(BenchReport {
        debug_build: cfg!(debug_assertions),
        clock_ticks: ticks,
        clock_ticks_assumed: ticks_assumed,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        startup,
        open_loop: open,
        closed_loop: closed,
        closed_loop_senders: senders,
        overload,
        reload,
        lost,
        elapsed: began.elapsed(),
        options,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let values: Vec<Duration> = (1..=1000).map(Duration::from_millis).collect();
        let l = Latencies::of(values);
        assert_eq!(l.p50, Duration::from_millis(500));
        assert_eq!(l.p99, Duration::from_millis(990));
        assert_eq!(l.p999, Duration::from_millis(999));
        assert_eq!(l.max, Duration::from_millis(1000));
        assert_eq!(Latencies::of(vec![]).samples, 0);
        let one = Latencies::of(vec![Duration::from_millis(7)]);
        assert_eq!(
            (one.p50, one.p999),
            (Duration::from_millis(7), Duration::from_millis(7))
        );
    }

    #[test]
    fn the_median_row_takes_each_column_median() {
        let run = |lps: f64, rss: u64| RunResult {
            leads_per_sec: lps,
            peak_rss_kib: rss,
            ..RunResult::default()
        };
        let m = median_run(&[run(3.0, 10), run(1.0, 30), run(2.0, 20)]);
        assert_eq!((m.leads_per_sec, m.peak_rss_kib), (2.0, 20));
    }
}
