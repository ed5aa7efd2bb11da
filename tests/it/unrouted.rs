//! Leads no handler wants (`unrouted`) and the recovery of an account whose breaker closes,
//! through the daemon started in-process on loopback against the simulators.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use leadrelay::config::Config;
use leadrelay::connectors::tencent::config::Algorithm;
use leadrelay::connectors::tencent::webhook::sign_push;
use leadrelay::connectors::Vendor;
use leadrelay::daemon::RunningDaemon;
use leadrelay::sim::{Faults, Simulator};
use leadrelay::store::offline::reroute_offline;
use leadrelay::store::Queries;
use leadrelay::store::{
    JournalReader, LeadQuery, RerouteSelector, StoreError, WorkState, WorkStatus,
};
use serde_json::json;

const TENCENT_TOKEN: &str = "10001";
const TENCENT_SECRET: &str = "sim-tencent-secret-0123456789abcd";

struct Env {
    sim: Simulator,
    dir: tempfile::TempDir,
    config: Config,
}

impl Env {
    async fn new(script: &str, daemon: &str) -> Env {
        let sim = Simulator::start_local().await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("scripts")).unwrap();
        std::fs::write(dir.path().join("scripts/route.rhai"), script).unwrap();
        let text = format!(
            "{}\n[daemon]\nlisten = \"127.0.0.1:0\"\njournal = \"{}\"\nscripts = \"{}\"\n{daemon}\n\
             [[sources]]\naccount = \"sim_tencent\"\npush = \"/hooks/tencent\"\n",
            sim.config_toml(),
            dir.path().join("leadrelay.db").display(),
            dir.path().join("scripts").display(),
        );
        std::fs::write(dir.path().join("leadrelay.toml"), &text).unwrap();
        let config = Config::parse(&text, "leadrelay.toml", &|_| None).unwrap();
        Env { sim, dir, config }
    }

    fn journal_path(&self) -> PathBuf {
        self.dir.path().join("leadrelay.db")
    }

    fn reader(&self) -> JournalReader {
        JournalReader::open(&self.journal_path()).unwrap()
    }

    async fn start(&self) -> RunningDaemon {
        leadrelay::daemon::start(&self.config).await.unwrap()
    }

    /// Waits until `done` holds for the journal, polling.
    async fn wait_for(&self, what: &str, within: Duration, done: impl Fn(&JournalReader) -> bool) {
        let started = Instant::now();
        let reader = self.reader();
        while !done(&reader) {
            assert!(started.elapsed() < within, "{what}: not after {within:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn push(addr: &str, id: u64) {
    let body = json!({"leads_id": id, "leads_type": "LEADS_TYPE_FORM",
                      "leads_name": format!("客户{id}"), "leads_tel": "13812345678"});
    let headers = sign_push(
        TENCENT_TOKEN,
        TENCENT_SECRET,
        chrono::Utc::now().timestamp(),
        Algorithm::Sha256,
    );
    let mut request = reqwest::Client::new()
        .post(format!("http://{addr}/hooks/tencent"))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&body).unwrap());
    for (name, value) in headers.pairs() {
        request = request.header(name, value);
    }
    assert_eq!(request.send().await.unwrap().status().as_u16(), 200);
}

fn state_of(reader: &JournalReader, id: &str) -> WorkState {
    reader.lead_story(id).unwrap().unwrap().state
}

fn unrouted_ids(reader: &JournalReader) -> Vec<String> {
    let query = LeadQuery {
        status: Some(WorkStatus::Unrouted),
        ..LeadQuery::default()
    };
    let mut ids: Vec<String> = reader
        .list_leads(&query)
        .unwrap()
        .into_iter()
        .map(|l| l.vendor_lead_id)
        .collect();
    ids.sort();
    ids
}

/// The handler only wants Feiyu leads: a Tencent lead matched nothing. Before, it was marked
/// done and shown as routed.
const FEIYU_ONLY: &str = r#"
on_lead("feiyu", "route");
fn route(lead) {
    xiaolanben::import_customer(#{ customerName: "lead " + lead.id });
}
"#;

const TYPO: &str = r#"
on_lead("feiyu", "route");
on_lead("tencent", "sim_tencnt", "route");
fn route(lead) {
    xiaolanben::import_customer(#{ customerName: "lead " + lead.id });
}
"#;

const FIXED: &str = r#"
on_lead("feiyu", "route");
on_lead("tencent", "route");
fn route(lead) {
    xiaolanben::import_customer(#{ customerName: "lead " + lead.id });
}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_no_handler_wants_is_unrouted_not_routed_and_reroutes_after_a_fix() {
    let env = Env::new(FEIYU_ONLY, "").await;
    let daemon = env.start().await;
    let addr = daemon.addr.to_string();
    for id in [7001, 7002] {
        push(&addr, id).await;
    }
    env.wait_for("unrouted", Duration::from_secs(10), |r| {
        unrouted_ids(r).len() == 2
    })
    .await;
    let reader = env.reader();
    let WorkState::Unrouted { reason } = state_of(&reader, "7001") else {
        panic!("{:?}", state_of(&reader, "7001"));
    };
    assert!(
        reason.starts_with("no handler matched: on_lead handlers exist for feiyu (")
            && reason.contains("route.rhai"),
        "{reason}"
    );
    let shown = leadrelay::inspect::lead_show(&reader, "7001")
        .unwrap()
        .unwrap();
    assert!(
        shown.contains("now: unrouted: no handler matched"),
        "{shown}"
    );
    assert!(shown.contains("leadrelay leads reroute 7001"), "{shown}");
    let status = leadrelay::inspect::status_report(&reader, &[]).unwrap();
    assert!(
        status.contains("unrouted: 2 (no handler matched"),
        "{status}"
    );
    assert_eq!(env.sim.shared().requests(Vendor::Xiaolanben), 0);

    // Only unrouted work can be rerouted: a routed lead is refused by name.
    let err =
        reroute_offline(&env.journal_path(), &RerouteSelector::Lead("9999".into())).unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");

    // A "fix" with a typo in the account is refused by the daemon, naming the config; the last
    // good version keeps serving.
    std::fs::write(env.dir.path().join("scripts/route.rhai"), TYPO).unwrap();
    let started = Instant::now();
    let refusal = loop {
        let rejected = daemon
            .host
            .status()
            .into_values()
            .find_map(|s| match s.verdict {
                leadrelay::host::generation::Verdict::Rejected(errors) => Some(errors),
                _ => None,
            });
        if let Some(errors) = rejected {
            break errors;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the typo was not refused"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let message = refusal[0].to_string();
    assert!(
        message.ends_with(
            ":3:1: on_lead names account \"sim_tencnt\", which is not in leadrelay.toml \
             (accounts of tencent: sim_tencent)"
        ),
        "{message}"
    );
    assert!(daemon
        .host
        .generation()
        .scripts
        .values()
        .all(|v| v.declarations.len() == 1));

    // Fix the script; once it is live, reroute one lead by id, then the rest.
    std::fs::write(env.dir.path().join("scripts/route.rhai"), FIXED).unwrap();
    let started = Instant::now();
    while daemon
        .host
        .generation()
        .scripts
        .values()
        .all(|v| v.declarations.len() < 2)
    {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the fix never went live"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        reroute_offline(&env.journal_path(), &RerouteSelector::Lead("7001".into())).unwrap(),
        1
    );
    env.wait_for("7001 routed", Duration::from_secs(10), |r| {
        state_of(r, "7001") == WorkState::Done
    })
    .await;
    let err =
        reroute_offline(&env.journal_path(), &RerouteSelector::Lead("7001".into())).unwrap_err();
    assert!(
        err.to_string()
            .contains("lead `7001` is done, not unrouted; only unrouted leads are rerouted"),
        "{err}"
    );
    // The rest through the CLI, as an operator would, beside the running daemon.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_leadrelay"))
        .arg("--config")
        .arg(env.dir.path().join("leadrelay.toml"))
        .args(["leads", "reroute", "--unrouted"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with("1 unrouted lead(s) queued again"),
        "{stdout}"
    );
    env.wait_for("7002 routed", Duration::from_secs(10), |r| {
        state_of(r, "7002") == WorkState::Done
    })
    .await;
    assert_eq!(env.sim.shared().requests(Vendor::Xiaolanben), 2);
    assert!(unrouted_ids(&env.reader()).is_empty());
    daemon.stop().await;
}

/// Imports each lead into Xiaolanben; a retryable failure there makes the lead wait.
const TO_XIAOLANBEN: &str = r#"
on_lead("tencent", "route");
fn route(lead) {
    xiaolanben::import_customer(#{ customerName: "lead " + lead.id });
}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_breaker_closes_the_accounts_retries_run_at_once() {
    let env = Env::new(
        TO_XIAOLANBEN,
        "breaker_failures = 3\nbreaker_probe_secs = 1\n",
    )
    .await;
    let daemon = env.start().await;
    let addr = daemon.addr.to_string();
    env.sim.shared().set_faults(Faults {
        vendor: Some(Vendor::Xiaolanben),
        error_rate: 1.0,
        status: Some(503),
        ..Default::default()
    });
    let ids: Vec<u64> = (8000..8030).collect();
    for id in &ids {
        push(&addr, *id).await;
    }
    // Long enough for backoffs to grow well past the recovery bound asserted below: while the
    // breaker is open every attempt fails fast and counts, so ceilings double each second.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let waiting = env.reader().status().unwrap().count(WorkStatus::Retry);
    assert!(waiting >= 25, "{waiting} leads wait for a retry");

    env.sim.shared().clear_faults();
    let recovered = Instant::now();
    env.wait_for("drained after recovery", Duration::from_secs(60), |r| {
        r.status().unwrap().backlog() == 0
    })
    .await;
    let drain = recovered.elapsed();
    // One probe interval until the probe goes out, then everything at once. Before, the
    // retries slept out their grown backoffs (up to the ceiling, 8-16 s here).
    assert!(
        drain < Duration::from_secs(4),
        "the backlog took {drain:?} to drain after the vendor recovered"
    );
    let reader = env.reader();
    for id in &ids {
        assert_eq!(
            state_of(&reader, &id.to_string()),
            WorkState::Done,
            "lead {id}"
        );
    }
    daemon.stop().await;
}
