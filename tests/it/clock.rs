//! Time is injected: the cron loop, the dispatcher's retries and the breakers' open intervals
//! follow the daemon's one `Clock`, so these tests move a manual clock instead of sleeping.
//!
//! The cron test runs on tokio's paused time (no HTTP involved): tokio time passing by hours
//! fires nothing, moving the manual clock across a slot fires it once. The dispatcher and
//! breaker tests drive the daemon over loopback HTTP against the simulators, so they run on a
//! real runtime (paused time would auto-advance through the HTTP clients' timeouts while a
//! request waits on a socket); their only real waiting is condition polls.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use leadrelay::clock::{beijing, parse_beijing, Clock};
use leadrelay::config::Config;
use leadrelay::connectors::tencent::config::Algorithm;
use leadrelay::connectors::tencent::webhook::sign_push;
use leadrelay::connectors::{Accounts, Vendor};
use leadrelay::daemon::{cron, BreakerState, RunningDaemon};
use leadrelay::host::engine::Services;
use leadrelay::host::generation::{Host, Verdict};
use leadrelay::sim::{ClockSkew, Faults, Simulator};
use leadrelay::store::Queries;
use leadrelay::store::{Journal, JournalOptions, JournalReader, WorkKind, WorkOutcome, WorkState};
use serde_json::json;
use tokio::sync::{watch, Notify};

fn beijing_time(text: &str) -> DateTime<Utc> {
    parse_beijing(text).unwrap().with_timezone(&Utc)
}

/// Polls `done` every 10 ms (tokio time, which may be paused) for at most 10 s of real time.
async fn poll_until<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !done().await {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{what}: not within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

const HOURLY: &str = r#"
schedule("0 0 * * * *", "report");
fn report() { print("report"); }
"#;

#[tokio::test(start_paused = true)]
async fn a_cron_slot_fires_once_when_the_manual_clock_crosses_it_not_when_tokio_time_passes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("scripts")).unwrap();
    let script = dir.path().join("scripts/report.rhai");
    std::fs::write(&script, HOURLY).unwrap();
    let clock = Clock::manual(beijing_time("2026-12-05 09:59:58"));
    let journal = Journal::open(
        &dir.path().join("leadrelay.db"),
        JournalOptions {
            clock,
            ..JournalOptions::default()
        },
    )
    .unwrap();
    let host = Host::new(Arc::new(Services {
        clock,
        ..Services::new(Accounts::default())
    }));
    let loaded = host.load_dir(&dir.path().join("scripts")).unwrap();
    assert_eq!(loaded[0].1, Verdict::Live);
    let key = cron::job_key(&script.display().to_string(), "report", "0 0 * * * *");

    let wake = Arc::new(Notify::new());
    let (stop, stopped) = watch::channel(false);
    let crons = tokio::spawn(cron::run(
        host.clone(),
        journal.clone(),
        beijing(),
        clock,
        Duration::from_secs(3600),
        wake.clone(),
        stopped,
    ));

    // Three hours of tokio time: the loop ticks hundreds of times, but the daemon's clock
    // still reads 09:59:58, so nothing is due.
    for _ in 0..3 {
        tokio::time::advance(Duration::from_secs(3600)).await;
        tokio::task::yield_now().await;
    }
    assert_eq!(journal.last_cron_slot(&key).await.unwrap(), None);

    // Across the 10:00 slot: it fires, stamped with the manual clock.
    assert!(clock.advance(chrono::Duration::seconds(3)));
    let ten = beijing_time("2026-12-05 10:00:00").timestamp_millis();
    poll_until("the 10:00 slot", || async {
        journal.last_cron_slot(&key).await.unwrap() == Some(ten)
    })
    .await;
    let cron_row = |reader: &dyn Queries| {
        let status = reader.status().unwrap();
        let row = status.cron.into_iter().find(|c| c.schedule_key == key);
        row.expect("the schedule has a row")
    };
    let reader = journal.reader();
    let row = cron_row(reader);
    assert_eq!(row.claims, 1, "exactly one fire");
    assert_eq!(row.last_claimed_ms, Some(clock.unix_millis()));
    // The slot is one work item for the dispatcher (absent here: the test finishes it, so the
    // next slot does not find its job still running and skip).
    let works = journal.claim_due(clock.unix_millis(), 10).await.unwrap();
    assert_eq!(works.len(), 1, "one work item per fire");
    assert!(matches!(&works[0].kind, WorkKind::Job { key: k, .. } if *k == key));
    journal
        .finish(works[0].id, Vec::new(), WorkOutcome::Done)
        .await
        .unwrap();

    // Within the hour nothing more fires; across 11:00, the next slot does, once.
    assert!(clock.advance(chrono::Duration::minutes(30)));
    tokio::time::advance(Duration::from_secs(1)).await;
    assert!(clock.set(beijing_time("2026-12-05 11:00:00")));
    let eleven = beijing_time("2026-12-05 11:00:00").timestamp_millis();
    poll_until("the 11:00 slot", || async {
        journal.last_cron_slot(&key).await.unwrap() == Some(eleven)
    })
    .await;
    assert_eq!(cron_row(reader).claims, 2, "one fire per slot crossed");

    stop.send(true).unwrap();
    crons.await.unwrap();
}

#[tokio::test]
async fn now_beijing_reads_the_engines_clock() {
    let clock = Clock::manual(beijing_time("2026-12-05 21:30:00"));
    let host = Host::new(Arc::new(Services {
        clock,
        ..Services::new(Accounts::default())
    }));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("t.rhai"),
        "fn at() { let n = now_beijing(); `${n.hour}:${n.minute}` }",
    )
    .unwrap();
    host.load_dir(dir.path()).unwrap();
    let version = host.generation().scripts.values().next().unwrap().clone();
    let at = |host: Arc<Host>, version| async move {
        let run = host.run(version, "at", vec![]).await;
        run.result.outcome.unwrap().into_string().unwrap()
    };
    assert_eq!(at(host.clone(), version.clone()).await, "21:30");
    clock.advance(chrono::Duration::minutes(45));
    assert_eq!(at(host.clone(), version).await, "22:15");
}

// ----- the daemon on a manual clock ---------------------------------------------------------

const ROUTE: &str = r#"
on_lead("tencent", "route");
fn route(lead) {
    xiaolanben::import_customer(#{ customerName: "lead " + lead.id });
}
"#;

/// A daemon on a manual clock that starts now (the simulated vendors check our signatures'
/// timestamps against their own clocks, which [`Env::advance`] keeps in step).
struct Env {
    sim: Simulator,
    dir: tempfile::TempDir,
    clock: Clock,
    daemon: RunningDaemon,
}

impl Env {
    async fn start(daemon_settings: &str) -> Env {
        Self::start_with(ROUTE, daemon_settings).await
    }

    async fn start_with(script: &str, daemon_settings: &str) -> Env {
        let sim = Simulator::start_local().await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("scripts")).unwrap();
        std::fs::write(dir.path().join("scripts/route.rhai"), script).unwrap();
        let text = format!(
            "{}\n[daemon]\nlisten = \"127.0.0.1:0\"\njournal = \"{}\"\nscripts = \"{}\"\n\
             {daemon_settings}\n[[sources]]\naccount = \"sim_tencent\"\npush = \"/hooks/tencent\"\n",
            sim.config_toml(),
            dir.path().join("leadrelay.db").display(),
            dir.path().join("scripts").display(),
        );
        let config = Config::parse(&text, "leadrelay.toml", &|_| None).unwrap();
        let clock = Clock::manual(Utc::now());
        let daemon = leadrelay::daemon::start_with_clock(&config, clock)
            .await
            .unwrap();
        Env {
            sim,
            dir,
            clock,
            daemon,
        }
    }

    fn journal_path(&self) -> PathBuf {
        self.dir.path().join("leadrelay.db")
    }

    /// Moves the daemon's clock, and the simulated vendors' clocks to match.
    fn advance(&self, by: chrono::Duration) {
        assert!(self.clock.advance(by));
        self.sync_vendor_clocks();
    }

    fn sync_vendor_clocks(&self) {
        self.sim.shared().set_clock_skew(&ClockSkew {
            vendor: None,
            skew_secs: (self.clock.now() - Utc::now()).num_seconds(),
        });
    }

    fn xiaolanben_down(&self, down: bool) {
        self.sim.shared().set_faults(Faults {
            vendor: Some(Vendor::Xiaolanben),
            error_rate: if down { 1.0 } else { 0.0 },
            status: Some(503),
            ..Faults::default()
        });
    }

    fn xiaolanben_requests(&self) -> u64 {
        self.sim.shared().requests(Vendor::Xiaolanben)
    }

    /// Pushes a Tencent lead signed at the daemon's time.
    async fn push(&self, id: u64) {
        self.sync_vendor_clocks();
        let body = json!({"leads_id": id, "leads_type": "LEADS_TYPE_FORM",
                          "leads_name": format!("客户{id}"), "leads_tel": "13812345678"});
        let headers = sign_push(
            leadrelay::sim::tencent::SIM_TOKEN,
            leadrelay::sim::tencent::SIM_SECRET,
            self.clock.unix_secs(),
            Algorithm::Sha256,
        );
        let mut request = reqwest::Client::new()
            .post(format!("http://{}/hooks/tencent", self.daemon.addr))
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&body).unwrap());
        for (name, value) in headers.pairs() {
            request = request.header(name, value);
        }
        assert_eq!(request.send().await.unwrap().status().as_u16(), 200);
    }

    /// The lead's state and claims so far.
    fn lead(&self, id: u64) -> Option<(WorkState, u32)> {
        let reader = JournalReader::open(&self.journal_path()).ok()?;
        let story = reader.lead_story(&id.to_string()).ok()??;
        Some((story.state, story.attempts))
    }

    async fn wait_for_lead(&self, id: u64, what: &str, want: impl Fn(&WorkState, u32) -> bool) {
        poll_until(what, || async {
            self.lead(id)
                .is_some_and(|(state, attempts)| want(&state, attempts))
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_becomes_due_when_the_clock_passes_its_backoff_not_before() {
    let env = Env::start("").await;
    env.xiaolanben_down(true);
    let t0 = env.clock.unix_millis();
    env.push(8001).await;
    // The 503 carries Retry-After: 1, which sets the first backoff's floor above its jitter
    // ceiling (1 s): the retry is due exactly one second after the failed attempt, on the
    // daemon's clock, which has not moved.
    env.wait_for_lead(8001, "the first attempt fails", |s, a| {
        matches!(s, WorkState::Retry { .. }) && a == 1
    })
    .await;
    let Some((WorkState::Retry { at_ms, .. }, _)) = env.lead(8001) else {
        unreachable!()
    };
    assert_eq!(at_ms, t0 + 1000, "due one backoff after the failure");
    env.xiaolanben_down(false);

    // One millisecond short of the backoff: a claim happens (a second lead is routed), and the
    // retry is not in it.
    env.advance(chrono::Duration::milliseconds(999));
    env.push(8002).await;
    env.wait_for_lead(8002, "the second lead", |s, _| *s == WorkState::Done)
        .await;
    let (state, attempts) = env.lead(8001).unwrap();
    assert!(
        matches!(state, WorkState::Retry { at_ms: a, .. } if a == at_ms),
        "not due yet: {state:?}"
    );
    assert_eq!(attempts, 1);

    // The last millisecond: the dispatcher wakes on the clock's move and runs the retry.
    env.advance(chrono::Duration::milliseconds(1));
    env.wait_for_lead(8001, "the retry", |s, a| *s == WorkState::Done && a == 2)
        .await;
    assert_eq!(
        env.xiaolanben_requests(),
        3,
        "the failure, lead 2, the retry"
    );
    env.daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_breakers_open_interval_ends_when_the_clock_is_advanced() {
    let env = Env::start("breaker_failures = 1\nbreaker_probe_secs = 60\n").await;
    env.xiaolanben_down(true);
    env.push(8101).await;
    env.wait_for_lead(8101, "the first attempt fails", |s, a| {
        matches!(s, WorkState::Retry { .. }) && a == 1
    })
    .await;
    let open = |env: &Env| {
        env.daemon.breakers.states().contains(&(
            "sim_xiaolanben".to_string(),
            BreakerState::Open { failures: 1 },
        ))
    };
    assert!(open(&env), "one failure opens it");
    env.xiaolanben_down(false);

    // The retry comes due, but the breaker is open for another 59 s of the daemon's clock: the
    // call fails fast (nothing is sent) and the retry waits for the probe.
    env.advance(chrono::Duration::seconds(1));
    env.wait_for_lead(8101, "the retry refused by the breaker", |s, a| {
        matches!(s, WorkState::Retry { reason, .. } if reason.contains("circuit breaker open"))
            && a == 2
    })
    .await;
    assert_eq!(
        env.xiaolanben_requests(),
        1,
        "an open breaker sends nothing"
    );
    assert!(open(&env));

    // Past the interval: the probe goes out, succeeds, and closes the breaker.
    env.advance(chrono::Duration::seconds(60));
    env.wait_for_lead(8101, "the probe", |s, a| *s == WorkState::Done && a == 3)
        .await;
    assert_eq!(env.xiaolanben_requests(), 2);
    assert_eq!(
        env.daemon.breakers.states(),
        vec![("sim_xiaolanben".to_string(), BreakerState::Closed)]
    );
    env.daemon.stop().await;
}

/// The same function declared twice: one lead, two runs of `route` in one claim, which start at
/// the same instant of a frozen clock. The first run makes one call, the second two (a turn
/// counter tells them apart), so a call journaled under the wrong run shows.
const ROUTE_TWICE: &str = r#"
on_lead("tencent", "route");
on_lead("tencent", "route");
fn route(lead) {
    let calls = assign::round_robin("calls", [1, 2]);
    for i in 0..calls {
        xiaolanben::import_customer(#{ customerName: "lead " + lead.id + " #" + i });
    }
}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_are_stamped_with_the_daemons_clock_and_two_runs_at_one_frozen_instant_stay_apart() {
    let env = Env::start_with(ROUTE_TWICE, "").await;
    // Well away from the wall clock, so a wall-clock stamp cannot pass for the injected one.
    env.advance(chrono::Duration::hours(-3));
    let frozen = env.clock.unix_millis();
    env.push(8201).await;
    env.wait_for_lead(8201, "the lead is routed", |s, _| *s == WorkState::Done)
        .await;
    let reader = JournalReader::open(&env.journal_path()).unwrap();
    let story = reader.lead_story("8201").unwrap().unwrap();
    assert_eq!(story.runs.len(), 2, "two runs: {:#?}", story.runs);
    let mut calls_per_run = Vec::new();
    for run in &story.runs {
        assert_eq!(run.started_ms, frozen, "stamped with the daemon's clock");
        assert_eq!(run.status, "ok");
        let seqs: Vec<u32> = run.calls.iter().map(|c| c.seq).collect();
        assert_eq!(
            seqs,
            (0..seqs.len() as u32).collect::<Vec<_>>(),
            "each run keeps its own calls: {:#?}",
            story.runs
        );
        calls_per_run.push(seqs.len());
    }
    calls_per_run.sort();
    assert_eq!(calls_per_run, vec![1, 2], "{:#?}", story.runs);
    assert_eq!(env.xiaolanben_requests(), 3);
    env.daemon.stop().await;
}
