//! The real `leadrelay run` as a child process on loopback, against in-process simulators.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use leadrelay::sim::Simulator;
use leadrelay::store::{JournalReader, WorkState};
use leadrelay::vendor::tencent::config::Algorithm;
use leadrelay::vendor::tencent::webhook::sign_push;
use leadrelay::vendor::waiqin::webhook::{encode_follow_push, PushMeta};
use serde_json::{json, Value};

const TENCENT_TOKEN: &str = "10001";
const TENCENT_SECRET: &str = "sim-tencent-secret-0123456789abcd";

/// A routing script for the tests: every Tencent lead → Xiaolanben (customer keyed by the lead)
/// and Waiqin (code keyed by the lead; an "already exists" answer after a crash is success).
const ROUTE: &str = r#"
on_lead("tencent", "route");
fn route(lead) {
    xiaolanben::import_customer(#{
        customerName: "lead " + lead.id,
        contacts: [#{ thirdDataId: "tencent:" + lead.id, name: lead.name ?? "?" }],
    });
    try {
        waiqin::add_sales_leads(#{ code: "tencent-" + lead.id, cus_name: lead.name ?? "?", poolName: "公海" });
    } catch (e) {
        if e.kind != "exists" { throw e; }
    }
}
"#;

struct Env {
    sim: Simulator,
    dir: tempfile::TempDir,
    // Serves the simulators; the tests themselves are plain blocking code driving a child process.
    _runtime: tokio::runtime::Runtime,
}

impl Env {
    fn new(script: &str, sources: &str, daemon: &str) -> Env {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let sim = runtime.block_on(Simulator::start_local()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("scripts")).unwrap();
        std::fs::write(dir.path().join("scripts/route.rhai"), script).unwrap();
        let config = format!(
            "{}\n[daemon]\nlisten = \"127.0.0.1:0\"\njournal = \"{}\"\nscripts = \"{}\"\n{daemon}\n{sources}\n",
            sim.config_toml(),
            dir.path().join("leadrelay.db").display(),
            dir.path().join("scripts").display(),
        );
        std::fs::write(dir.path().join("leadrelay.toml"), config).unwrap();
        Env {
            sim,
            dir,
            _runtime: runtime,
        }
    }

    fn script_path(&self) -> PathBuf {
        self.dir.path().join("scripts/route.rhai")
    }

    fn start(&self) -> Daemon {
        let mut child = Command::new(env!("CARGO_BIN_EXE_leadrelay"))
            .arg("--config")
            .arg(self.dir.path().join("leadrelay.toml"))
            .arg("run")
            .env("LEADRELAY_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                let _ = tx.send(line);
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| {
                let _ = child.kill();
                panic!("leadrelay run did not start")
            });
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split(',').next())
            .unwrap_or_else(|| panic!("unexpected first line: {line}"))
            .to_string();
        Daemon { child, addr }
    }

    fn reader(&self) -> JournalReader {
        JournalReader::open(&self.dir.path().join("leadrelay.db")).unwrap()
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

fn tencent_lead(id: u64) -> Value {
    json!({"leads_id": id, "leads_type": "LEADS_TYPE_FORM", "leads_name": format!("客户{id}"),
           "leads_tel": "13812345678", "leads_create_time": "2026-11-22 10:00:00"})
}

fn push(
    client: &reqwest::blocking::Client,
    addr: &str,
    body: &Value,
    signed_at: i64,
) -> Result<u16, String> {
    let headers = sign_push(TENCENT_TOKEN, TENCENT_SECRET, signed_at, Algorithm::Sha256);
    let mut request = client
        .post(format!("http://{addr}/hooks/tencent"))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(body).unwrap());
    for (name, value) in headers.pairs() {
        request = request.header(name, value);
    }
    request
        .send()
        .map(|r| r.status().as_u16())
        .map_err(|e| e.to_string())
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

const PUSH_SOURCE: &str = "[[sources]]\naccount = \"sim_tencent\"\npush = \"/hooks/tencent\"\n\n\
                           [[sources]]\naccount = \"sim_waiqin\"\npush = \"/hooks/waiqin\"\n";

#[test]
fn pushes_are_verified_journaled_acknowledged_and_routed_once() {
    let env = Env::new(ROUTE, PUSH_SOURCE, "");
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
        let follow = client
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

#[test]
fn twenty_kill_9s_under_load_lose_nothing_and_import_nothing_twice() {
    let env = Env::new(ROUTE, PUSH_SOURCE, "");
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

#[test]
fn pulls_journal_once_and_route_once_across_overlapping_windows_and_script_edits() {
    let sources =
        "[[sources]]\naccount = \"sim_tencent\"\npull = \"* * * * * *\"\noverlap_secs = 3600\n";
    let env = Env::new(ROUTE, sources, "");
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

#[test]
fn an_outage_loses_nothing_probes_once_per_interval_and_drains_after_recovery() {
    let env = Env::new(
        ROUTE,
        PUSH_SOURCE,
        "breaker_failures = 3\nbreaker_probe_secs = 1\n",
    );
    let daemon = env.start();
    env.sim.shared().set_faults(leadrelay::sim::Faults {
        vendor: Some(leadrelay::vendor::Vendor::Xiaolanben),
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
        .requests(leadrelay::vendor::Vendor::Xiaolanben);
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

#[test]
fn cron_slots_fire_once_through_100_saves_and_a_restart() {
    let job = |n: usize| {
        format!(
            "schedule(\"* * * * * *\", \"tick\");\n// save {n}\nfn tick() {{ xiaolanben::list_staffs(#{{ pageIndex: 1, pageSize: 2 }}); }}\n"
        )
    };
    let env = Env::new(&job(0), "", "");
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
        .requests(leadrelay::vendor::Vendor::Xiaolanben);
    assert!(claims >= 3, "the job ran: {claims} slots claimed");
    // At most once per slot: a kill -9 between a slot's claim and its run loses that run rather
    // than firing the slot again after the restart.
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
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn a_throwing_script_dead_letters_with_its_place_and_dead_retry_routes_it_after_the_fix() {
    let broken = "on_lead(\"tencent\", \"route\");\nfn route(lead) {\n    throw \"no owner for \" + lead.kind;\n}\n";
    let env = Env::new(broken, PUSH_SOURCE, "");
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
