//! The real `leadrelay run` as a child process on loopback, against in-process simulators, on
//! either journal backend: every test body is written once as `fn name(backend: Backend)` and
//! [`both!`] makes a `sqlite::name` and a `postgres::name` test of it (the PostgreSQL one returns
//! early, after the skip line of `pg.rs`, when no server is installed).

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use leadrelay::connectors::waiqin::webhook::{encode_follow_push, PushMeta};
use leadrelay::sim::Simulator;

use crate::common::{push_tencent as push, spawn_daemon, tencent_lead, ROUTE};
use crate::pg;
use leadrelay::store::{JournalTarget, Queries};
use leadrelay::store::{WorkState, WorkStatus};
use serde_json::{json, Value};

/// The journal a test's daemon writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    /// A SQLite file in the test's temp dir.
    Sqlite,
    /// A fresh database on the test PostgreSQL server, written by one node of a fixed name (so
    /// a restarted daemon takes back the work its killed predecessor was running).
    Postgres,
}

/// Makes, for each test body `name(backend: Backend)`, the tests `sqlite::name` and
/// `postgres::name`.
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test]
            fn $name() {
                super::$name(super::Backend::Sqlite)
            })*
        }
        mod postgres {
            $(#[test]
            fn $name() {
                if crate::pg::server().is_none() {
                    return;
                }
                super::$name(super::Backend::Postgres)
            })*
        }
    };
}

both!(
    pushes_are_verified_journaled_acknowledged_and_routed_once,
    twenty_kill_9s_under_load_lose_nothing_and_import_nothing_twice,
    pulls_journal_once_and_route_once_across_overlapping_windows_and_script_edits,
    an_outage_loses_nothing_probes_once_per_interval_and_drains_after_recovery,
    cron_slots_fire_once_through_100_saves_and_a_restart,
    a_throwing_script_dead_letters_with_its_place_and_dead_retry_routes_it_after_the_fix,
    kill_between_calls_does_not_resend_the_first,
    a_job_killed_mid_run_reruns_on_restart_without_resending_its_succeeded_calls,
    a_failing_job_retries_with_backoff_then_dead_letters_and_shows_in_dead_list,
    cron_catches_up_the_last_slot_missed_while_down_and_none_fires_nothing,
    once_keeps_a_retried_lead_and_skips_its_duplicate_which_leads_show_explains,
    job_run_next_fire_times_and_follow_records_work_beside_a_running_daemon,
    a_saved_script_logs_its_preview_summary_when_preview_on_reload_is_set,
);

/// The node name of the PostgreSQL tests' daemon.
const NODE: &str = "solo";

struct Env {
    sim: Simulator,
    dir: tempfile::TempDir,
    journal: JournalTarget,
    // Serves the simulators (and the PostgreSQL queries of `job_slots`); the tests themselves
    // are plain blocking code driving a child process.
    runtime: tokio::runtime::Runtime,
}

impl Env {
    fn new(backend: Backend, script: &str, sources: &str, daemon: &str) -> Env {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let sim = runtime.block_on(Simulator::start_local()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("scripts")).unwrap();
        std::fs::write(dir.path().join("scripts/route.rhai"), script).unwrap();
        let (journal, node) = match backend {
            Backend::Sqlite => (
                dir.path().join("leadrelay.db").display().to_string(),
                String::new(),
            ),
            Backend::Postgres => (
                runtime
                    .block_on(pg::database())
                    .expect("the postgres:: tests run only with a server")
                    .url,
                format!("node = \"{NODE}\"\n"),
            ),
        };
        let config = format!(
            "{}\n[daemon]\nlisten = \"127.0.0.1:0\"\njournal = \"{journal}\"\n{node}scripts = \"{}\"\n{daemon}\n{sources}\n",
            sim.config_toml(),
            dir.path().join("scripts").display(),
        );
        std::fs::write(dir.path().join("leadrelay.toml"), config).unwrap();
        Env {
            sim,
            dir,
            journal: JournalTarget::parse(&journal).unwrap(),
            runtime,
        }
    }

    fn script_path(&self) -> PathBuf {
        self.dir.path().join("scripts/route.rhai")
    }

    fn start(&self) -> Daemon {
        self.start_with_log(None)
    }

    /// Starts the daemon; with `log`, its INFO lines go to that file.
    fn start_with_log(&self, log: Option<&std::path::Path>) -> Daemon {
        let stderr = self.dir.path().join("daemon.stderr");
        let (child, addr) = spawn_daemon(
            &self.dir.path().join("leadrelay.toml"),
            self.dir.path(),
            if log.is_some() { "info" } else { "warn" },
            log.unwrap_or(&stderr),
        );
        Daemon { child, addr }
    }

    /// The journal's read side, opened afresh (as the CLI would).
    fn reader(&self) -> Box<dyn Queries> {
        leadrelay::store::open_reader(&self.journal).unwrap()
    }

    /// Waits until the journal has no work left (routed or dead-lettered).
    fn wait_idle(&self, within: Duration) {
        let started = Instant::now();
        loop {
            let status = self.reader().status().unwrap();
            if status.backlog() == 0 {
                return;
            }
            assert!(
                started.elapsed() < within,
                "backlog still {} after {within:?}",
                status.backlog()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn state(&self) -> Value {
        self.sim.shared().snapshot()
    }
}

struct Daemon {
    child: Child,
    addr: String,
}

impl Daemon {
    fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    fn terminate(mut self) -> std::process::ExitStatus {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "no exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

const PUSH_SOURCE: &str = "[[sources]]\naccount = \"sim_tencent\"\npush = \"/hooks/tencent\"\n\n\
                           [[sources]]\naccount = \"sim_waiqin\"\npush = \"/hooks/waiqin\"\n";

fn pushes_are_verified_journaled_acknowledged_and_routed_once(backend: Backend) {
    let env = Env::new(backend, ROUTE, PUSH_SOURCE, "");
    let daemon = env.start();
    let addr = daemon.addr.clone();
    let results = {
        let client = reqwest::blocking::Client::new();
        let ok = push(&client, &addr, &tencent_lead(9_007_199_254_740_993), now());
        let replay = push(&client, &addr, &tencent_lead(9_007_199_254_740_993), now());
        let stale = push(&client, &addr, &tencent_lead(2), now() - 400);
        let forged = client
            .post(format!("http://{addr}/hooks/tencent"))
            .header("X-Signature", "Zm9yZ2Vk")
            .body(serde_json::to_vec(&tencent_lead(3)).unwrap())
            .send()
            .unwrap()
            .status()
            .as_u16();
        let malformed = push(&client, &addr, &json!(["not", "a", "lead"]), now());
        let huge = json!({"leads_id": 4, "leads_name": "x".repeat(2 << 20)});
        let oversize = push(&client, &addr, &huge, now());
        let meta = PushMeta::follow("7898952955531954883", now() * 1000);
        let data =
            r#"{"lead_ID":"SK202101090003","lead_code":"zsmd","activity_content":"电话回访"}"#;
        // A new connection: the server answers 413 before reading the oversize body and closes
        // that connection, which a pooled client may otherwise reuse (flaked ~4 in 10 runs).
        let follow = reqwest::blocking::Client::new()
            .post(format!("http://{addr}/hooks/waiqin"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(encode_follow_push(&meta, data, "SimPushSecret0001"))
            .send()
            .unwrap();
        let follow = (follow.status().as_u16(), follow.json::<Value>().unwrap());
        (ok, replay, stale, forged, malformed, oversize, follow)
    };
    assert_eq!(results.0, Ok(200));
    assert_eq!(results.1, Ok(200), "a replayed push is answered success");
    assert_eq!(results.2, Ok(401), "timestamp older than 300 s");
    assert_eq!(results.3, 401);
    assert_eq!(results.4, Ok(400), "valid signature, unparsable body");
    assert_eq!(results.5, Ok(413), "bodies over max_body_bytes");
    assert_eq!(results.6 .0, 200);
    assert_eq!(
        results.6 .1["return_code"], 0,
        "Waiqin's own success shape: {}",
        results.6 .1
    );
    assert_eq!(results.6 .1["msg_id"], "7898952955531954883");
    env.wait_idle(Duration::from_secs(20));
    let reader = env.reader();
    let status = reader.status().unwrap();
    assert_eq!(status.leads, 1, "only the valid push is stored, once");
    assert_eq!(status.quarantined, 1);
    assert_eq!(status.follows, 1, "the Waiqin follow record is journaled");
    let story = reader
        .lead_story("9007199254740993")
        .unwrap()
        .expect("the lead is journaled");
    assert_eq!(story.state, WorkState::Done);
    let state = env.state();
    assert_eq!(
        state["xiaolanben"]["creates_by_key"]["lead 9007199254740993"],
        1
    );
    assert_eq!(
        env.sim.shared().waiqin.creates("tencent-9007199254740993"),
        1
    );
    assert_eq!(daemon.terminate().code(), Some(0), "SIGTERM exits 0");
}

fn twenty_kill_9s_under_load_lose_nothing_and_import_nothing_twice(backend: Backend) {
    let env = Env::new(backend, ROUTE, PUSH_SOURCE, "");
    let acked = {
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        let mut acked = Vec::new();
        let mut next_id = 1_000_000u64;
        let mut rng_state = 0x2545F4914F6CDD1Du64;
        for _round in 0..20 {
            let daemon = env.start();
            // A pseudo-random number of pushes before the kill: the kill lands mid-stream.
            rng_state ^= rng_state << 13;
            rng_state ^= rng_state >> 7;
            rng_state ^= rng_state << 17;
            let pushes = 5 + (rng_state % 25);
            for _ in 0..pushes {
                next_id += 1;
                if push(&client, &daemon.addr, &tencent_lead(next_id), now()) == Ok(200) {
                    acked.push(next_id);
                }
            }
            daemon.kill9();
        }
        acked
    };
    assert!(
        acked.len() >= 100,
        "only {} pushes were acknowledged",
        acked.len()
    );
    let daemon = env.start();
    env.wait_idle(Duration::from_secs(60));
    let reader = env.reader();
    let state = env.state();
    for id in &acked {
        let story = reader
            .lead_story(&id.to_string())
            .unwrap()
            .unwrap_or_else(|| panic!("acknowledged lead {id} lost"));
        assert!(
            matches!(story.state, WorkState::Done | WorkState::Dead { .. }),
            "lead {id}: {:?}",
            story.state
        );
        assert_eq!(
            state["xiaolanben"]["creates_by_key"][format!("lead {id}")],
            1,
            "lead {id} imported into Xiaolanben {} times",
            state["xiaolanben"]["creates_by_key"][format!("lead {id}")]
        );
        assert_eq!(
            env.sim.shared().waiqin.creates(&format!("tencent-{id}")),
            1,
            "lead {id} in Waiqin"
        );
    }
    let dead = reader.dead_letters().unwrap();
    assert!(dead.is_empty(), "nothing should need a human: {dead:?}");
    drop(daemon);
}

fn pulls_journal_once_and_route_once_across_overlapping_windows_and_script_edits(backend: Backend) {
    let sources =
        "[[sources]]\naccount = \"sim_tencent\"\npull = \"* * * * * *\"\noverlap_secs = 3600\n";
    let env = Env::new(backend, ROUTE, sources, "");
    env.sim.shared().tencent.generate(now(), 30, 60);
    let daemon = env.start();
    std::thread::sleep(Duration::from_millis(2500));
    // An edit between pulls: the new version routes the leads that arrive from now on.
    std::fs::write(env.script_path(), ROUTE.replace("\"公海\"", "\"新公海\"")).unwrap();
    env.sim.shared().tencent.generate(now(), 20, 5);
    std::thread::sleep(Duration::from_millis(2500));
    env.wait_idle(Duration::from_secs(20));
    let status = env.reader().status().unwrap();
    assert_eq!(
        status.leads, 50,
        "every generated lead journaled exactly once"
    );
    let state = env.state();
    let creates = state["xiaolanben"]["creates_by_key"].as_object().unwrap();
    assert_eq!(creates.len(), 50);
    assert!(
        creates.values().all(|n| n == 1),
        "a lead was imported twice: {creates:?}"
    );
    let versions: std::collections::BTreeSet<String> = env
        .reader()
        .list_leads(&Default::default())
        .unwrap()
        .iter()
        .filter_map(|l| env.reader().lead_story(&format!("#{}", l.id)).unwrap())
        .flat_map(|s| s.runs.into_iter().map(|r| r.version))
        .collect();
    assert_eq!(
        versions.len(),
        2,
        "runs on both script versions: {versions:?}"
    );
    drop(daemon);
}

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .map(str::to_string)
        })
        .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

fn an_outage_loses_nothing_probes_once_per_interval_and_drains_after_recovery(backend: Backend) {
    let env = Env::new(
        backend,
        ROUTE,
        PUSH_SOURCE,
        "breaker_failures = 3\nbreaker_probe_secs = 1\n",
    );
    let daemon = env.start();
    env.sim.shared().set_faults(leadrelay::sim::Faults {
        vendor: Some(leadrelay::connectors::Vendor::Xiaolanben),
        error_rate: 1.0,
        status: Some(503),
        ..Default::default()
    });
    let client = reqwest::blocking::Client::new();
    let ids: Vec<u64> = (5000..5040).collect();
    for id in &ids {
        assert_eq!(
            push(&client, &daemon.addr, &tencent_lead(*id), now()),
            Ok(200)
        );
    }
    let outage = Duration::from_secs(4);
    std::thread::sleep(outage);
    let sent_during_outage = env
        .sim
        .shared()
        .requests(leadrelay::connectors::Vendor::Xiaolanben);
    // 3 failures open the breaker, then one probe per second (plus calls already on their way
    // when it opened, at most the in-flight limit of that account).
    assert!(
        sent_during_outage <= 3 + 8 + outage.as_secs() + 1,
        "{sent_during_outage} calls reached Xiaolanben during the outage"
    );
    assert!(
        env.reader().status().unwrap().backlog() > 0,
        "the leads wait during the outage"
    );
    assert!(
        rss_kb(daemon.child.id()) < 256 * 1024,
        "RSS {} kB",
        rss_kb(daemon.child.id())
    );
    env.sim.shared().clear_faults();
    env.wait_idle(Duration::from_secs(60));
    let reader = env.reader();
    let state = env.state();
    for id in &ids {
        let story = reader.lead_story(&id.to_string()).unwrap().unwrap();
        assert_eq!(story.state, WorkState::Done, "lead {id}");
        assert_eq!(
            state["xiaolanben"]["creates_by_key"][format!("lead {id}")],
            1
        );
    }
    drop(daemon);
}

fn cron_slots_fire_once_through_100_saves_and_a_restart(backend: Backend) {
    let job = |n: usize| {
        format!(
            "schedule(\"* * * * * *\", \"tick\");\n// save {n}\nfn tick() {{ xiaolanben::list_staffs(#{{ pageIndex: 1, pageSize: 2 }}); }}\n"
        )
    };
    let env = Env::new(backend, &job(0), "", "");
    let daemon = env.start();
    for n in 1..=100 {
        std::fs::write(env.script_path(), job(n)).unwrap();
        std::thread::sleep(Duration::from_millis(30));
    }
    daemon.kill9();
    let daemon = env.start();
    std::thread::sleep(Duration::from_millis(1500));
    drop(daemon);
    let status = env.reader().status().unwrap();
    assert_eq!(
        status.cron.len(),
        1,
        "one schedule key however often the script was saved: {:?}",
        status.cron
    );
    let claims = status.cron[0].claims;
    let calls = env
        .sim
        .shared()
        .requests(leadrelay::connectors::Vendor::Xiaolanben);
    assert!(claims >= 3, "the job ran: {claims} slots claimed");
    // At most once per slot: a slot claimed before the kill -9 is a work item the restarted
    // daemon runs (once); only the slot claimed last may not have run yet when the test stops.
    assert!(
        calls <= claims && calls + 1 >= claims,
        "{calls} runs for {claims} claimed slots"
    );
}

fn cli(env: &Env, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_leadrelay"))
        .arg("--config")
        .arg(env.dir.path().join("leadrelay.toml"))
        .args(args)
        // Where the daemon runs: on PostgreSQL its status file is in its working directory.
        .current_dir(env.dir.path())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn a_throwing_script_dead_letters_with_its_place_and_dead_retry_routes_it_after_the_fix(
    backend: Backend,
) {
    let broken = "on_lead(\"tencent\", \"route\");\nfn route(lead) {\n    throw \"no owner for \" + lead.kind;\n}\n";
    let env = Env::new(backend, broken, PUSH_SOURCE, "");
    let daemon = env.start();
    let client = reqwest::blocking::Client::new();
    assert_eq!(
        push(&client, &daemon.addr, &tencent_lead(7001), now()),
        Ok(200)
    );
    env.wait_idle(Duration::from_secs(20));
    let (ok, dead) = cli(&env, &["dead", "list"]);
    assert!(ok, "{dead}");
    let script = env.script_path().display().to_string();
    assert!(
        dead.contains(&format!("{script}:3:5: no owner for form")),
        "{dead}"
    );

    std::fs::write(env.script_path(), ROUTE).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let (ok, retried) = cli(&env, &["dead", "retry", "--all"]);
    assert!(
        ok && retried.contains("1 dead letter(s) queued again"),
        "{retried}"
    );
    let started = Instant::now();
    while env.reader().lead_story("7001").unwrap().unwrap().state != WorkState::Done {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the retried lead was not routed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(env.state()["xiaolanben"]["creates_by_key"]["lead 7001"], 1);

    let (ok, story) = cli(&env, &["leads", "show", "7001"]);
    assert!(ok, "{story}");
    assert!(
        story.contains("pushed to /hooks/tencent"),
        "arrival: {story}"
    );
    assert!(
        story.contains("no owner for form"),
        "the failed run: {story}"
    );
    assert!(
        story.contains("xiaolanben sim_xiaolanben import_customer  ok"),
        "the call: {story}"
    );
    let version = leadrelay::host::script::content_hash(ROUTE);
    assert!(
        story.contains(&version),
        "the script version {version}: {story}"
    );
    assert!(story.contains("now: routed"), "{story}");
    assert!(
        !story.contains("13812345678"),
        "phone numbers are masked: {story}"
    );

    std::thread::sleep(leadrelay::daemon::status::INTERVAL);
    let (ok, status) = cli(&env, &["status"]);
    assert!(ok, "{status}");
    assert!(
        status.contains(&version) && status.contains("all closed"),
        "{status}"
    );
    let (ok, list) = cli(&env, &["leads", "list", "--status", "done"]);
    assert!(ok && list.contains("7001"), "{list}");
    drop(daemon);
}

/// Waits until `done()` holds, or fails naming `what`.
fn wait_for(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < within, "{what}: not after {within:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn waiqin_never_answers() -> leadrelay::sim::Faults {
    leadrelay::sim::Faults {
        vendor: Some(leadrelay::connectors::Vendor::Waiqin),
        timeout: true,
        ..Default::default()
    }
}

fn requests(env: &Env, vendor: leadrelay::connectors::Vendor) -> u64 {
    env.sim.shared().requests(vendor)
}

fn kill_between_calls_does_not_resend_the_first(backend: Backend) {
    // Two calls; the second hangs (Waiqin never answers) so the kill lands after the first
    // returned and before the second did.
    let script = r#"
on_lead("tencent", "route");
fn route(lead) {
    xiaolanben::import_customer(#{
        customerName: "lead " + lead.id,
        contacts: [#{ thirdDataId: "tencent:" + lead.id, name: lead.name ?? "?" }],
    });
    waiqin::add_sales_leads(#{ code: "tencent-" + lead.id, cus_name: lead.name ?? "?", poolName: "公海" });
}
"#;
    use leadrelay::connectors::Vendor::{Waiqin, Xiaolanben};
    let env = Env::new(backend, script, PUSH_SOURCE, "run_budget_ms = 60000\n");
    env.sim.shared().set_faults(waiqin_never_answers());
    let daemon = env.start();
    let client = reqwest::blocking::Client::new();
    assert_eq!(
        push(&client, &daemon.addr, &tencent_lead(8001), now()),
        Ok(200)
    );
    wait_for(
        "the second call reaches Waiqin",
        Duration::from_secs(20),
        || requests(&env, Waiqin) >= 1,
    );
    assert_eq!(requests(&env, Xiaolanben), 1);
    daemon.kill9();

    env.sim.shared().clear_faults();
    let daemon = env.start();
    env.wait_idle(Duration::from_secs(30));
    assert_eq!(
        requests(&env, Xiaolanben),
        1,
        "the import that succeeded before the kill was sent again"
    );
    assert_eq!(
        env.sim.shared().waiqin.creates("tencent-8001"),
        1,
        "the call in doubt is sent once after the restart"
    );
    let story = env.reader().lead_story("8001").unwrap().unwrap();
    assert_eq!(story.state, WorkState::Done);
    // Per run: its status and, per call, (seq, ok, replayed).
    type Calls = Vec<(u32, bool, bool)>;
    let runs: Vec<(&str, Calls)> = story
        .runs
        .iter()
        .map(|r| {
            (
                r.status.as_str(),
                r.calls.iter().map(|c| (c.seq, c.ok, c.replayed)).collect(),
            )
        })
        .collect();
    assert_eq!(
        runs,
        [
            ("interrupted", vec![(0, true, false)]),
            ("ok", vec![(0, true, true), (1, true, false)]),
        ]
    );
    let (ok, shown) = cli(&env, &["leads", "show", "8001"]);
    assert!(ok, "{shown}");
    assert!(
        shown.contains("interrupted") && shown.contains("the daemon stopped during this run"),
        "{shown}"
    );
    drop(daemon);
}

/// A daily expression (in UTC) for the whole second `at`.
fn daily_at(at: chrono::DateTime<chrono::Utc>) -> String {
    use chrono::Timelike;
    format!("{} {} {} * * *", at.second(), at.minute(), at.hour())
}

fn a_job_killed_mid_run_reruns_on_restart_without_resending_its_succeeded_calls(backend: Backend) {
    use leadrelay::connectors::Vendor::{Waiqin, Xiaolanben};
    let job = |cron: &str| {
        format!(
            r#"
schedule("{cron}", "push_job", #{{ catch_up: "none" }});
fn push_job() {{
    xiaolanben::import_customer(#{{ customerName: "job import", contacts: [#{{ thirdDataId: "job:1", name: "job" }}] }});
    waiqin::add_sales_leads(#{{ code: "job-1", cus_name: "job", poolName: "公海" }});
}}
"#
        )
    };
    let env = Env::new(
        backend,
        &job("* * * * * *"),
        "",
        "run_budget_ms = 60000\ntimezone = \"UTC\"\n",
    );
    env.sim.shared().set_faults(waiqin_never_answers());
    let daemon = env.start();
    wait_for(
        "the job's second call reaches Waiqin",
        Duration::from_secs(20),
        || requests(&env, Waiqin) >= 1,
    );
    // Later slots fall while the job hangs: they are skipped, not run alongside.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(requests(&env, Xiaolanben), 1, "one run at a time");
    daemon.kill9();
    let status = env.reader().status().unwrap();
    assert!(
        status.cron[0].skips >= 1,
        "overlapping slots are counted as skipped: {:?}",
        status.cron
    );

    // Restart with the job rescheduled to a slot that never comes during the test: only the
    // interrupted slot runs again.
    std::fs::write(env.script_path(), job("0 0 0 1 1 *")).unwrap();
    env.sim.shared().clear_faults();
    let daemon = env.start();
    env.wait_idle(Duration::from_secs(30));
    assert_eq!(
        requests(&env, Xiaolanben),
        1,
        "the job's import that succeeded before the kill was sent again"
    );
    assert_eq!(env.sim.shared().waiqin.creates("job-1"), 1);
    let status = env.reader().status().unwrap();
    assert_eq!(status.count(WorkStatus::Done), 1, "{:?}", status.work);
    drop(daemon);
}

fn a_failing_job_retries_with_backoff_then_dead_letters_and_shows_in_dead_list(backend: Backend) {
    use leadrelay::connectors::Vendor::Xiaolanben;
    // A few seconds ahead, so the daemon is up when it comes even on a slow machine.
    let slot = chrono::Utc::now() + chrono::Duration::seconds(5);
    let script = format!(
        "schedule(\"{}\", \"nightly\");\nfn nightly() {{\n    xiaolanben::import_customer(#{{ customerName: \"nightly\", contacts: [#{{ thirdDataId: \"n:1\", name: \"n\" }}] }});\n}}\n",
        daily_at(slot)
    );
    let env = Env::new(
        backend,
        &script,
        "",
        "timezone = \"UTC\"\nretry_max_age_secs = 3\nbreaker_failures = 100\n",
    );
    env.sim.shared().set_faults(leadrelay::sim::Faults {
        vendor: Some(Xiaolanben),
        error_rate: 1.0,
        status: Some(503),
        ..Default::default()
    });
    let daemon = env.start();
    wait_for("the job dead-letters", Duration::from_secs(30), || {
        !env.reader().dead_letters().unwrap().is_empty()
    });
    assert!(
        requests(&env, Xiaolanben) >= 2,
        "the failed job was retried before it died"
    );
    let (ok, dead) = cli(&env, &["dead", "list"]);
    assert!(ok, "{dead}");
    let script_path = env.script_path().display().to_string();
    assert!(
        dead.contains(&format!("job {script_path}::nightly")) && dead.contains("HTTP 503"),
        "{dead}"
    );
    assert!(dead.contains("1 dead letter"), "{dead}");

    env.sim.shared().clear_faults();
    let (ok, retried) = cli(&env, &["dead", "retry", "--all"]);
    assert!(ok, "{retried}");
    env.wait_idle(Duration::from_secs(20));
    let status = env.reader().status().unwrap();
    assert_eq!(status.count(WorkStatus::Done), 1, "{:?}", status.work);
    assert_eq!(status.dead_letters, 0);
    assert_eq!(env.state()["xiaolanben"]["creates_by_key"]["nightly"], 1);
    drop(daemon);
}

/// Slots of the job `function` that became work items, oldest first. (No query of the read
/// side lists work items by slot, so each backend is asked in its own SQL.)
fn job_slots(env: &Env, function: &str) -> Vec<i64> {
    let pattern = format!("%::{function}::%");
    match &env.journal {
        JournalTarget::Sqlite(path) => {
            let conn = rusqlite::Connection::open(path).unwrap();
            let mut stmt = conn
                .prepare("SELECT slot_ms FROM work WHERE job_key LIKE ?1 ORDER BY slot_ms")
                .unwrap();
            stmt.query_map([pattern], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        }
        JournalTarget::Postgres(url) => env.runtime.block_on(async {
            let (client, conn) = tokio_postgres::connect(url.expose(), tokio_postgres::NoTls)
                .await
                .unwrap();
            let conn = tokio::spawn(conn);
            let slots = client
                .query(
                    "SELECT slot_ms FROM work WHERE job_key LIKE $1 ORDER BY slot_ms",
                    &[&pattern],
                )
                .await
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
            drop(client);
            let _ = conn.await;
            slots
        }),
    }
}

fn wall_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn cron_catches_up_the_last_slot_missed_while_down_and_none_fires_nothing(backend: Backend) {
    let script = "schedule(\"* * * * * *\", \"caught\", #{ catch_up: \"last\" });\n\
                  schedule(\"* * * * * *\", \"missed\", #{ catch_up: \"none\" });\n\
                  fn caught() {}\nfn missed() {}\n";
    let env = Env::new(backend, script, "", "");
    let daemon = env.start();
    // Both schedules fire a few slots first: catch-up starts from the last slot fired. The kill
    // comes between two slots with every fired job finished: a job item left unfinished by
    // the kill would rightly make the catch-up slot an overlap, which this test is not about.
    wait_for("both schedules fire", Duration::from_secs(20), || {
        let fired = job_slots(&env, "caught").len() >= 2
            && job_slots(&env, "missed").len() >= 2
            // Pending, running or retrying work: here only the jobs'.
            && env.reader().status().unwrap().backlog() == 0;
        // Read after the journal: the kill follows at once.
        let into_second = wall_ms().rem_euclid(1000);
        fired && (300..700).contains(&into_second)
    });
    daemon.kill9();
    let killed_ms = wall_ms();
    std::thread::sleep(Duration::from_millis(2500));
    let restarted_ms = wall_ms();
    let daemon = env.start();
    std::thread::sleep(Duration::from_millis(1500));
    drop(daemon);
    let stopped_ms = wall_ms();

    // Slots fired by the restarted daemon, except the last moments before it stopped, when one
    // schedule's slot may have fired and the other's not yet.
    let after_kill = |function: &str| -> Vec<i64> {
        job_slots(&env, function)
            .into_iter()
            .filter(|slot| *slot > killed_ms && *slot < stopped_ms - 700)
            .collect()
    };
    let (caught, missed) = (after_kill("caught"), after_kill("missed"));
    // Slots after the restart fire for both schedules alike; only "last" has one more.
    assert!(
        missed.iter().all(|slot| caught.contains(slot)),
        "{caught:?} {missed:?}"
    );
    let extra: Vec<i64> = caught
        .iter()
        .copied()
        .filter(|slot| !missed.contains(slot))
        .collect();
    assert_eq!(extra.len(), 1, "caught {caught:?}, missed {missed:?}");
    assert!(
        extra[0] + 1000 >= restarted_ms,
        "the most recent missed slot is caught up, not an older one: {extra:?} vs restart at {restarted_ms}"
    );
    assert!(
        missed.iter().all(|slot| *slot > restarted_ms),
        "catch_up: \"none\" fired a slot that fell while the daemon was down: {missed:?}"
    );
}

fn once_keeps_a_retried_lead_and_skips_its_duplicate_which_leads_show_explains(backend: Backend) {
    use leadrelay::connectors::Vendor::Xiaolanben;
    let script = r#"
on_lead("tencent", "route");
fn route(lead) {
    if !once("phone:" + phone::normalize(lead.phone), 86400) {
        skip("same phone today");
        return;
    }
    xiaolanben::import_customer(#{
        customerName: "lead " + lead.id,
        contacts: [#{ thirdDataId: "tencent:" + lead.id, name: lead.name ?? "?" }],
    });
}
"#;
    let env = Env::new(backend, script, PUSH_SOURCE, "breaker_failures = 100\n");
    env.sim.shared().set_faults(leadrelay::sim::Faults {
        vendor: Some(Xiaolanben),
        error_rate: 1.0,
        status: Some(503),
        ..Default::default()
    });
    let daemon = env.start();
    let client = reqwest::blocking::Client::new();
    // The first lead claims the phone, then its import fails and it waits to retry.
    assert_eq!(
        push(&client, &daemon.addr, &tencent_lead(9101), now()),
        Ok(200)
    );
    wait_for(
        "the first lead waits to retry",
        Duration::from_secs(20),
        || {
            matches!(
                env.reader().lead_story("9101").unwrap().map(|s| s.state),
                Some(WorkState::Retry { .. })
            )
        },
    );
    // Another lead with the same phone (tencent_lead uses one number) is skipped meanwhile.
    assert_eq!(
        push(&client, &daemon.addr, &tencent_lead(9102), now()),
        Ok(200)
    );
    env.sim.shared().clear_faults();
    env.wait_idle(Duration::from_secs(30));
    let reader = env.reader();
    assert_eq!(
        reader.lead_story("9101").unwrap().unwrap().state,
        WorkState::Done,
        "the retried run got its own claim back"
    );
    assert_eq!(
        reader.lead_story("9102").unwrap().unwrap().state,
        WorkState::Skipped {
            reason: "route: same phone today".into()
        }
    );
    let creates = &env.state()["xiaolanben"]["creates_by_key"];
    assert_eq!(creates["lead 9101"], 1);
    assert!(creates["lead 9102"].is_null(), "{creates}");

    let (ok, shown) = cli(&env, &["leads", "show", "9102"]);
    assert!(ok, "{shown}");
    assert!(
        shown.contains("skipped: same phone today") && shown.contains("now: skipped"),
        "{shown}"
    );
    let (ok, listed) = cli(&env, &["leads", "list", "--status", "skipped"]);
    assert!(
        ok && listed.contains("9102") && !listed.contains("9101"),
        "{listed}"
    );
    drop(daemon);
}

/// Issue 10, item 6: a job run by hand beside the daemon (recorded like a cron slot), the next
/// fire time in `status`, and follow records listed and shown like leads.
const JOB_AND_FOLLOW: &str = r#"
schedule("0 0 3 * * *", "nightly");
fn nightly() {
    xiaolanben::import_customer(#{
        customerName: "nightly report",
        contacts: [#{ thirdDataId: "nightly", name: "?" }],
    });
}
on_follow("sim_waiqin", "note");
fn note(record) {
    print("follow of " + record.lead_code);
}
"#;

fn job_run_next_fire_times_and_follow_records_work_beside_a_running_daemon(backend: Backend) {
    let env = Env::new(backend, JOB_AND_FOLLOW, PUSH_SOURCE, "");
    let daemon = env.start();

    let (ok, out) = cli(&env, &["status"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("nightly") && out.contains("03:00"),
        "status names the schedule and its next fire time: {out}"
    );

    let (ok, out) = cli(&env, &["job", "run", "nightly"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("import_customer"),
        "job run prints the run's calls: {out}"
    );
    let creates = |env: &Env| env.state()["xiaolanben"]["creates"].as_u64().unwrap_or(0);
    assert_eq!(creates(&env), 1, "the job ran once, for real");

    let meta = PushMeta::follow("7898952955531954001", now() * 1000);
    let data = r#"{"lead_ID":"SK202101090003","lead_code":"zsmd","activity_content":"电话回访"}"#;
    let status = reqwest::blocking::Client::new()
        .post(format!("http://{}/hooks/waiqin", daemon.addr))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encode_follow_push(&meta, data, "SimPushSecret0001"))
        .send()
        .unwrap()
        .status();
    assert_eq!(status, 200);
    env.wait_idle(Duration::from_secs(20));
    let (ok, out) = cli(&env, &["follows", "list"]);
    assert!(ok && out.contains("7898952955531954001"), "{out}");
    let (ok, out) = cli(&env, &["follows", "show", "7898952955531954001"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("note") && out.contains("zsmd"),
        "the story names the handler: {out}"
    );
}

/// Issue 10, item 5: with `preview_on_reload`, saving a script logs what the new version would
/// have done to the newest leads.
fn a_saved_script_logs_its_preview_summary_when_preview_on_reload_is_set(backend: Backend) {
    let env = Env::new(backend, ROUTE, PUSH_SOURCE, "preview_on_reload = 10\n");
    let log = env.dir.path().join("daemon.log");
    let daemon = env.start_with_log(Some(&log));
    let client = reqwest::blocking::Client::new();
    for id in 1..=3 {
        assert_eq!(
            push(&client, &daemon.addr, &tencent_lead(8800 + id), now()),
            Ok(200)
        );
    }
    env.wait_idle(Duration::from_secs(20));
    let edited = ROUTE.replace("\"lead \" + lead.id", "\"client \" + lead.id");
    assert_ne!(edited, ROUTE);
    std::fs::write(env.script_path(), edited).unwrap();
    let mut text = String::new();
    wait_for("the reload's preview line", Duration::from_secs(30), || {
        text = std::fs::read_to_string(&log).unwrap_or_default();
        text.contains("preview of the reload")
    });
    let line = text
        .lines()
        .find(|l| l.contains("preview of the reload"))
        .unwrap();
    assert!(line.contains("3 leads"), "{line}");
    assert!(
        !line.contains("3 unchanged"),
        "the edit changes every lead's customer: {line}"
    );
    drop(daemon);
}
