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
//! - **Low rates** (30 and 100 leads/s by default, the rates real users run at): open loop as
//!   above, each run lasting at least [`LOW_RATE_MIN_LEADS`] leads (15 s at 30/s) so the daemon's
//!   CPU spans many clock ticks. **Daemon CPU per lead** (µs, every open-loop and closed-loop
//!   row) is the daemon's CPU from the first push until the journal's backlog is empty (the
//!   drain included) over the routed leads; at a few leads a second it shows any cost paid per
//!   wake-up or per second rather than per lead.
//! - **Idle CPU**: a fresh daemon with the same config, no traffic at all: after a settle
//!   (2 s: start-up's own work done), its CPU over a 10 s window as a percent of one core.
//! - **Closed loop**: a fixed number of senders, each sending its next push as soon as the
//!   previous one is answered; leads/s is the saturation throughput, routed leads over the time
//!   from the first push to the last lead reaching the simulator (the backlog drained).
//! - **Overload**: open loop at twice the closed-loop throughput. The daemon must shed with 503
//!   once its backlog limit is reached instead of buffering, so its peak RSS stays bounded.
//! - **CPU per shed push**: a fresh daemon with a small `backlog_limit` (200) and the simulated
//!   vendor answering only after 1.5 s (`sim::Faults::latency_ms`; below the scripts' 2 s run
//!   budget, so a held call never fails and retries): 16 senders fill the backlog at once (some
//!   pushes answered 503: it is full, and nothing finishes before the first vendor answer),
//!   then after a 300 ms settle a burst of up to 5,000 pushes from 16 senders without back-off,
//!   stopped 200 ms before the first vendor answer. Every burst push should be answered 503
//!   (the table counts any other answer). CPU per shed push is the daemon's CPU over the burst
//!   over the pushes answered 503; the in-flight vendor calls are only waiting, so the only
//!   other cost in the window is the idle cost (above). Then the fault is cleared and every
//!   acknowledged lead must be routed like in every other run.
//! - **CPU readings**: the rate and overload runs use the process's clock ticks (±1 tick, hence
//!   their lengths). The idle and shedding windows are short or nearly empty, so they sum the
//!   growth of each thread's `/proc/PID/task/TID/schedstat` run time (nanoseconds); a thread
//!   exiting inside the window would lose its share of it, which for the parked threads of an
//!   idle or shedding daemon is next to nothing (clock ticks when schedstat is missing).
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

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

mod daemon;
mod growth;
mod load;
mod report;

pub use growth::{growth, growth_with, GrowthReport};
pub use report::{
    cpu_us_per, percent_of_core, BenchReport, Idle, Latencies, Reload, RunResult, Scenario,
    ShedRun, Shedding, Startup, TargetCheck,
};

use daemon::{cpu_secs_between, customer_name, script, Daemon, DaemonDir, TempDir};
use load::{burst, closed_loop, open_loop, Ids, Push, Pusher};
use report::median_f64;

use crate::sim::Simulator;
use crate::store::JournalTarget;

/// Most open-loop pushes awaiting their answer; far above rate × latency at every rate we
/// offer, so it only binds when the daemon stalls.
pub const OPEN_LOOP_IN_FLIGHT: usize = 512;

/// The push path of the benchmark's Tencent source.
const PUSH_PATH: &str = "/hooks/tencent";

/// Fewest leads of a (non-quick) open-loop run: a low rate runs longer than `--seconds` so its
/// CPU per lead spans many clock ticks (15 s at 30 leads/s).
pub const LOW_RATE_MIN_LEADS: u32 = 450;

/// The shedding burst ends this long before the first vendor answer.
const SHED_MARGIN: Duration = Duration::from_millis(200);

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
    /// A PostgreSQL journal shared by every run instead of a fresh SQLite file per run.
    pub journal: Option<crate::store::target::PgUrl>,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            rates: vec![30, 100, 500, 1000, 2000],
            run_time: Duration::from_secs(5),
            repeat: 3,
            quick: false,
            daemon_exe: None,
            journal: None,
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
            journal: None,
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
    /// Fewest leads of an open-loop run (0: `run_time` alone).
    min_open_leads: u32,
    idle_settle: Duration,
    idle_window: Duration,
    shed_backlog_limit: u64,
    shed_vendor_latency: Duration,
    shed_settle: Duration,
    shed_pushes: u64,
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
                min_open_leads: 0,
                idle_settle: Duration::from_millis(200),
                idle_window: Duration::from_millis(500),
                shed_backlog_limit: 20,
                shed_vendor_latency: Duration::from_millis(1500),
                shed_settle: Duration::from_millis(100),
                shed_pushes: 200,
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
                min_open_leads: LOW_RATE_MIN_LEADS,
                idle_settle: Duration::from_secs(2),
                idle_window: Duration::from_secs(10),
                shed_backlog_limit: 200,
                // Below the scripts' 2 s run budget, so a held call never fails and retries.
                shed_vendor_latency: Duration::from_millis(1500),
                shed_settle: Duration::from_millis(300),
                shed_pushes: 5000,
            }
        }
    }
}

/// How long an open-loop run at `rate` sends: `run_time`, or longer so it sends at least
/// `min_leads`.
fn open_loop_duration(rate: u32, run_time: Duration, min_leads: u32) -> Duration {
    run_time.max(Duration::from_secs_f64(
        f64::from(min_leads) / f64::from(rate.max(1)),
    ))
}

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
    journal: Option<crate::store::target::PgUrl>,
    clock_ticks: f64,
    lost: Mutex<u64>,
}

impl Bench {
    async fn daemon(&self) -> anyhow::Result<Daemon> {
        self.daemon_with_backlog(self.plan.backlog_limit).await
    }

    async fn daemon_with_backlog(&self, backlog_limit: Option<u64>) -> anyhow::Result<Daemon> {
        let dir = DaemonDir::new(&self.sim, backlog_limit, self.journal.as_ref())?;
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
        let switches_before = daemon.switches();
        let db_before = self.journal.as_ref().map(|_| postgres_cpu_ticks());
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
        let acked_ids: Vec<u64> = acked.iter().map(|p| p.id).collect();
        let received = self.wait_routed(&acked_ids).await;
        self.wait_journal_idle(&daemon.dir.journal()).await;
        let cpu_ticks = daemon.cpu_ticks()?.saturating_sub(cpu_before);
        let switches = switches_before
            .zip(daemon.switches())
            .map(|(before, after)| after.saturating_sub(before));
        let db_cpu_secs = db_before
            .map(|before| postgres_cpu_ticks().saturating_sub(before) as f64 / self.clock_ticks)
            .unwrap_or(0.0);
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
            cpu_us_per_lead: cpu_us_per(cpu_secs, routed),
            switches_per_lead: match switches {
                Some(n) if routed > 0 => n as f64 / routed as f64,
                _ => f64::NAN,
            },
            db_cpu_secs,
            leads_per_db_cpu_sec: if db_cpu_secs > 0.0 {
                routed as f64 / db_cpu_secs
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
    async fn wait_routed(&self, acked: &[u64]) -> Vec<Option<Instant>> {
        let state = &self.sim.shared().xiaolanben;
        let mut arrived: Vec<Option<Instant>> = vec![None; acked.len()];
        let mut missing: Vec<usize> = (0..acked.len()).collect();
        let deadline = Instant::now() + DRAIN_TIMEOUT;
        let mut progressed = Instant::now();
        loop {
            let before = missing.len();
            missing.retain(|&i| {
                arrived[i] = state.received_at(&customer_name(acked[i], "v0"));
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
    async fn wait_journal_idle(&self, journal: &JournalTarget) {
        let journal = journal.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let deadline = Instant::now() + Duration::from_secs(30);
            let Ok(reader) = crate::store::open_reader(&journal) else {
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

    /// The daemon's CPU with no traffic, one fresh daemon per repetition.
    async fn idle(&self, repeat: usize) -> anyhow::Result<Idle> {
        let mut percent = Vec::new();
        for i in 0..repeat {
            progress(&format!("idle CPU: daemon {}/{repeat}", i + 1));
            let daemon = self.daemon().await?;
            tokio::time::sleep(self.plan.idle_settle).await;
            let before = daemon.cpu_sample()?;
            let began = Instant::now();
            tokio::time::sleep(self.plan.idle_window).await;
            let after = daemon.cpu_sample()?;
            let window = began.elapsed();
            daemon.stop().await;
            let cpu = cpu_secs_between(&before, &after, self.clock_ticks);
            percent.push(percent_of_core(cpu, window));
        }
        Ok(Idle {
            settle: self.plan.idle_settle,
            window: self.plan.idle_window,
            median_percent: median_f64(percent.iter().copied()),
            percent,
        })
    }

    /// CPU per shed push: the backlog held full by a vendor that does not answer yet, then a
    /// burst of pushes that should all be answered 503.
    async fn shedding(&self, repeat: usize) -> anyhow::Result<Shedding> {
        let plan = &self.plan;
        let mut runs = Vec::new();
        for i in 0..repeat {
            progress(&format!("shedding: run {}/{repeat}", i + 1));
            self.clear_customers().await?;
            let daemon = self
                .daemon_with_backlog(Some(plan.shed_backlog_limit))
                .await?;
            let result = self.shed_run(&daemon).await;
            self.sim.shared().clear_faults();
            let run = result?;
            // The filled leads (and any burst push acknowledged) must all be routed.
            let received = self.wait_routed(&run.1).await;
            self.wait_journal_idle(&daemon.dir.journal()).await;
            let lost = received.iter().filter(|r| r.is_none()).count() as u64;
            if lost > 0 {
                progress(&format!(
                    "shedding: {lost} acknowledged leads did not reach the simulator"
                ));
            }
            *self.lost.lock().expect("lost lock") += lost;
            daemon.stop().await;
            runs.push(run.0);
        }
        Ok(Shedding {
            backlog_limit: plan.shed_backlog_limit,
            vendor_latency: plan.shed_vendor_latency,
            median_cpu_us_per_shed: median_f64(runs.iter().map(|r| r.cpu_us_per_shed)),
            runs,
        })
    }

    /// One shedding run against `daemon`; the run and the ids of every acknowledged push.
    async fn shed_run(&self, daemon: &Daemon) -> anyhow::Result<(ShedRun, Vec<u64>)> {
        let plan = &self.plan;
        self.sim.shared().set_faults(crate::sim::Faults {
            vendor: Some(crate::connectors::Vendor::Xiaolanben),
            latency_ms: plan.shed_vendor_latency.as_millis() as u64,
            ..Default::default()
        });
        let max_fill = 2 * plan.shed_backlog_limit + 100;
        let senders = self.plan.closed_loop_senders;
        // The first vendor calls start now and answer `shed_vendor_latency` later, when the
        // backlog starts to drain: the burst must be over by then.
        let filling = Instant::now();
        let drains = filling + plan.shed_vendor_latency;
        let fill = burst(
            &self.pusher,
            &daemon.push_url,
            max_fill,
            senders,
            filling + plan.shed_vendor_latency / 2,
            &self.ids,
        )
        .await;
        let mut acked: Vec<u64> = fill
            .iter()
            .filter(|(_, s)| *s == 200)
            .map(|(id, _)| *id)
            .collect();
        if !fill.iter().any(|(_, s)| *s == 503) {
            bail!(
                "shedding: {} pushes did not fill a backlog of {}",
                fill.len(),
                plan.shed_backlog_limit
            );
        }
        tokio::time::sleep(plan.shed_settle).await;
        let before = daemon.cpu_sample()?;
        let began = Instant::now();
        let answers = burst(
            &self.pusher,
            &daemon.push_url,
            plan.shed_pushes,
            senders,
            drains.checked_sub(SHED_MARGIN).unwrap_or(drains),
            &self.ids,
        )
        .await;
        let after = daemon.cpu_sample()?;
        let window = began.elapsed();
        let cpu_secs = cpu_secs_between(&before, &after, self.clock_ticks);
        let filled = acked.len() as u64;
        acked.extend(answers.iter().filter(|(_, s)| *s == 200).map(|(id, _)| *id));
        let shed = answers.iter().filter(|(_, s)| *s == 503).count() as u64;
        Ok((
            ShedRun {
                filled,
                sent: answers.len() as u64,
                shed,
                other: answers.len() as u64 - shed,
                window,
                cpu_secs,
                cpu_us_per_shed: cpu_us_per(cpu_secs, shed),
            },
            acked,
        ))
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
        journal: options.journal.clone(),
        clock_ticks: ticks as f64,
        lost: Mutex::new(0),
    };

    progress("start-up and idle RSS");
    let startup = bench.startup().await?;
    let idle = bench.idle(options.repeat).await?;
    let mut open = Vec::new();
    for rate in &options.rates {
        let duration = open_loop_duration(*rate, options.run_time, bench.plan.min_open_leads);
        let name = if duration > options.run_time {
            format!(
                "Open loop, {rate} leads/s for {:.0} s (at least {} leads)",
                duration.as_secs_f64(),
                bench.plan.min_open_leads
            )
        } else {
            format!("Open loop, {rate} leads/s")
        };
        let load = Load::Open {
            rate: f64::from(*rate),
            duration,
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
    let shedding = bench.shedding(options.repeat).await?;
    progress("hot reload");
    let reload = bench.reload().await?;
    let lost = *bench.lost.lock().expect("lost lock");
    Ok(BenchReport {
        debug_build: cfg!(debug_assertions),
        clock_ticks: ticks,
        clock_ticks_assumed: ticks_assumed,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        startup,
        idle,
        open_loop: open,
        closed_loop: closed,
        closed_loop_senders: senders,
        overload,
        shedding,
        reload,
        lost,
        elapsed: began.elapsed(),
        options,
    })
}

/// CPU ticks of every `postgres` process on this machine: its own time, plus the time of the
/// children it waited for (the postmaster's exited backends), read from `/proc`.
fn postgres_cpu_ticks() -> u64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter_map(|stat| {
            let (head, rest) = stat.rsplit_once(')')?;
            if !head.ends_with("(postgres") {
                return None;
            }
            // Fields 14–17 of stat(5) (utime, stime, cutime, cstime); `rest` starts at field 3.
            let fields: Vec<u64> = rest
                .split_whitespace()
                .skip(11)
                .take(4)
                .filter_map(|v| v.parse().ok())
                .collect();
            Some(fields.iter().sum::<u64>())
        })
        .sum()
}
