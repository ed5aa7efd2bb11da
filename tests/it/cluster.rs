//! Three real `leadrelay run` nodes on one throwaway PostgreSQL journal, against in-process
//! simulators: signed pushes spread over the nodes while nodes are killed with SIGKILL and
//! restarted, vendor faults on; every acknowledged lead must be imported exactly once, and a
//! node killed for good has its work finished by the others once its lease lapses.

use std::process::Child;
use std::time::{Duration, Instant};

use leadrelay::connectors::Vendor;
use leadrelay::sim::{Faults, Simulator};
use serde_json::Value;

use crate::common::{push_tencent, signed_tencent_push, spawn_daemon, tencent_lead, ROUTE};
use crate::pg;

const LEASE_SECS: u64 = 3;

struct Cluster {
    sim: Simulator,
    dir: tempfile::TempDir,
    _runtime: tokio::runtime::Runtime,
}

struct Node {
    child: Child,
    addr: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Node {
    fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Cluster {
    fn new(runtime: tokio::runtime::Runtime, url: &str, script: &str) -> Cluster {
        Cluster::with_sources(
            runtime,
            url,
            script,
            "[[sources]]\naccount = \"sim_tencent\"\npush = \"/hooks/tencent\"\n",
        )
    }

    fn with_sources(
        runtime: tokio::runtime::Runtime,
        url: &str,
        script: &str,
        sources: &str,
    ) -> Cluster {
        let sim = runtime.block_on(Simulator::start_local()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("scripts")).unwrap();
        std::fs::write(dir.path().join("scripts/route.rhai"), script).unwrap();
        for name in ["a", "b", "c"] {
            let config = format!(
                "{}\n[daemon]\nlisten = \"127.0.0.1:0\"\njournal = \"{url}\"\nnode = \"{name}\"\n\
                 lease_secs = {LEASE_SECS}\nscripts = \"{}\"\n\n{sources}",
                sim.config_toml(),
                dir.path().join("scripts").display(),
            );
            std::fs::write(dir.path().join(format!("{name}.toml")), config).unwrap();
        }
        Cluster {
            sim,
            dir,
            _runtime: runtime,
        }
    }

    fn start(&self, name: &str) -> Node {
        let (child, addr) = spawn_daemon(
            &self.dir.path().join(format!("{name}.toml")),
            self.dir.path(),
            "warn",
            &self.dir.path().join(format!("{name}.stderr")),
        );
        Node { child, addr }
    }

    fn state(&self) -> Value {
        self.sim.shared().snapshot()
    }

    /// Leads of `ids` not yet imported into both vendors.
    fn missing(&self, ids: &[u64]) -> Vec<u64> {
        let state = self.state();
        ids.iter()
            .copied()
            .filter(|id| {
                state["xiaolanben"]["creates_by_key"][format!("lead {id}")] != 1
                    || self.sim.shared().waiqin.creates(&format!("tencent-{id}")) != 1
            })
            .collect()
    }

    fn wait_routed(&self, ids: &[u64], within: Duration) -> Duration {
        let started = Instant::now();
        loop {
            let missing = self.missing(ids);
            if missing.is_empty() {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < within,
                "{} acknowledged leads not routed after {within:?}, e.g. {:?}",
                missing.len(),
                &missing[..missing.len().min(5)]
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn push(client: &reqwest::blocking::Client, addr: &str, id: u64) -> bool {
    push_tencent(
        client,
        addr,
        &tencent_lead(id),
        chrono::Utc::now().timestamp(),
    ) == Ok(200)
}

#[test]
fn three_nodes_through_thirty_kill_9s_route_every_acknowledged_lead_exactly_once() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(db) = runtime.block_on(pg::database()) else {
        return;
    };
    let cluster = Cluster::new(runtime, &db.url, ROUTE);
    // Vendors fail one call in ten, lose the answer to one in twenty after applying it, and
    // answer slowly, so kills land mid-call.
    for vendor in [Vendor::Xiaolanben, Vendor::Waiqin] {
        cluster.sim.shared().set_faults(Faults {
            vendor: Some(vendor),
            error_rate: 0.1,
            status: Some(503),
            latency_ms: 5,
            timeout: false,
            lost_rate: 0.05,
        });
    }
    let names = ["a", "b", "c"];
    let mut nodes: Vec<Node> = names.iter().map(|n| cluster.start(n)).collect();
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let mut acked = Vec::new();
    let mut next_id = 5_000_000u64;
    let mut rng = 0x2545F4914F6CDD1Du64;
    let mut random = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut kills = 0;
    while kills < 30 || acked.len() < 3_000 {
        // A burst of pushes spread over the three nodes, then one node killed and restarted.
        for _ in 0..(60 + random() % 80) {
            next_id += 1;
            let node = &nodes[(next_id % 3) as usize];
            if push(&client, &node.addr, next_id) {
                acked.push(next_id);
            }
        }
        // A crash, then the restart (systemd's `Restart=always`).
        let victim = (random() % 3) as usize;
        nodes.remove(victim).kill9();
        nodes.insert(victim, cluster.start(names[victim]));
        kills += 1;
    }
    cluster.sim.shared().clear_faults();
    cluster.wait_routed(&acked, Duration::from_secs(120));
    // Now a node dies for good while it has work in flight: the others finish it once the
    // lease lapses.
    cluster.sim.shared().set_faults(Faults {
        vendor: Some(Vendor::Xiaolanben),
        latency_ms: 300,
        ..Faults::default()
    });
    let mut last = Vec::new();
    for _ in 0..30 {
        next_id += 1;
        if push(&client, &nodes[2].addr, next_id) {
            last.push(next_id);
        }
    }
    std::thread::sleep(Duration::from_millis(200));
    let c = nodes.pop().unwrap();
    c.kill9();
    cluster.sim.shared().clear_faults();
    let took = cluster.wait_routed(&last, Duration::from_secs(LEASE_SECS * 5 + 30));
    assert!(
        took <= Duration::from_secs(LEASE_SECS * 3 + 5),
        "the dead node's work took {took:?} to be taken over (lease {LEASE_SECS} s)"
    );
    let state = cluster.state();
    let creates = state["xiaolanben"]["creates_by_key"].as_object().unwrap();
    assert!(
        creates.values().all(|n| n == 1),
        "a lead was imported into Xiaolanben twice"
    );
    let waiqin = &cluster.sim.shared().waiqin;
    for id in acked.iter().chain(&last) {
        assert_eq!(
            waiqin.creates(&format!("tencent-{id}")),
            1,
            "lead {id} was not created exactly once in Waiqin"
        );
    }
    println!(
        "cluster: {} leads acknowledged over {kills} kills, all routed exactly once",
        acked.len() + last.len()
    );
    drop(nodes);
}

/// A job every two seconds on three nodes, through script saves and kills: every slot is one
/// work item (never two), and no slot between the first and the last is missing while at least
/// one node was up.
#[test]
fn a_cron_job_on_three_nodes_fires_each_slot_once_through_saves_and_kills() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(db) = runtime.block_on(pg::database()) else {
        return;
    };
    let job = |n: u32| {
        format!(
            "schedule(\"*/2 * * * * *\", \"tick\");\n// save {n}\n\
             fn tick() {{ xiaolanben::list_staffs(#{{ pageIndex: 1, pageSize: 2 }}); }}\n"
        )
    };
    let cluster = Cluster::new(runtime, &db.url, &job(0));
    let names = ["a", "b", "c"];
    let mut nodes: Vec<Node> = names.iter().map(|n| cluster.start(n)).collect();
    let started = Instant::now();
    let mut round = 0u32;
    while started.elapsed() < Duration::from_secs(16) {
        std::thread::sleep(Duration::from_millis(1_300));
        round += 1;
        std::fs::write(cluster.dir.path().join("scripts/route.rhai"), job(round)).unwrap();
        let victim = (round % 3) as usize;
        nodes.remove(victim).kill9();
        nodes.insert(victim, cluster.start(names[victim]));
    }
    std::thread::sleep(Duration::from_secs(3));
    drop(nodes);
    let slots: Vec<(i64, i64)> = cluster._runtime.block_on(async {
        let (client, conn) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        client
            .query(
                "SELECT slot_ms, count(*) FROM work WHERE job_key IS NOT NULL
                 GROUP BY slot_ms ORDER BY slot_ms",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect()
    });
    assert!(slots.len() >= 6, "too few slots fired: {slots:?}");
    assert!(
        slots.iter().all(|(_, n)| *n == 1),
        "a slot fired twice: {slots:?}"
    );
    let gaps: Vec<_> = slots
        .windows(2)
        .filter(|w| w[1].0 - w[0].0 != 2_000)
        .collect();
    assert!(gaps.is_empty(), "slots missed: {gaps:?}");
}

/// A pull source configured on all three nodes is pulled by one node at a time: the vendor
/// sees about one pull a tick, not three, and every lead is journaled and routed once.
#[test]
fn a_pull_source_on_three_nodes_is_pulled_by_one_at_a_time() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(db) = runtime.block_on(pg::database()) else {
        return;
    };
    let cluster = Cluster::with_sources(
        runtime,
        &db.url,
        ROUTE,
        "[[sources]]\naccount = \"sim_tencent\"\npull = \"* * * * * *\"\noverlap_secs = 3600\n",
    );
    let now = chrono::Utc::now().timestamp();
    cluster.sim.shared().tencent.generate(now, 40, 60);
    let nodes: Vec<Node> = ["a", "b", "c"].iter().map(|n| cluster.start(n)).collect();
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs(6));
    let pulls = cluster.sim.shared().requests(Vendor::Tencent);
    let seconds = started.elapsed().as_secs();
    assert!(
        pulls >= 3 && pulls <= seconds + 2,
        "{pulls} pulls in {seconds} s by three nodes: the source was not pulled by one at a time"
    );
    // `status` from any node's config lists the three nodes and their live script.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_leadrelay"))
        .arg("--config")
        .arg(cluster.dir.path().join("a.toml"))
        .arg("status")
        .current_dir(cluster.dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listing = text
        .split("\nnodes\n")
        .nth(1)
        .unwrap_or_else(|| panic!("{text}"));
    for name in ["a", "b", "c"] {
        assert!(
            listing
                .lines()
                .any(|l| l.split_whitespace().next() == Some(name)),
            "node {name} missing from status:\n{text}"
        );
    }
    assert!(listing.contains("route.rhai@"), "{text}");
    assert!(!text.contains("different script versions"), "{text}");
    let state = cluster.state();
    let creates = state["xiaolanben"]["creates_by_key"].as_object().unwrap();
    assert_eq!(creates.len(), 40, "every generated lead routed");
    assert!(
        creates.values().all(|n| n == 1),
        "a lead was imported twice"
    );
    drop(nodes);
}

/// PostgreSQL stops (immediately, as a crash or a failover would) while two nodes take pushes:
/// during the outage pushes are answered 503 and nothing is acknowledged without a commit;
/// once it is back both nodes reconnect by themselves, pushes are taken again, and every
/// acknowledged lead is routed exactly once.
fn pushes_get_503_while_postgres_is_down_and_the_backlog_drains_after(
    cluster: &Cluster,
    stop_database: impl FnOnce(),
    start_database: impl FnOnce(),
) {
    let nodes: Vec<Node> = ["a", "b"].iter().map(|n| cluster.start(n)).collect();
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    let mut next_id = 7_000_000u64;
    let mut push_for = |duration: Duration, acked: &mut Vec<u64>| -> (u64, u64) {
        let (mut ok, mut refused) = (0, 0);
        let until = Instant::now() + duration;
        while Instant::now() < until {
            next_id += 1;
            if push(&client, &nodes[(next_id % 2) as usize].addr, next_id) {
                acked.push(next_id);
                ok += 1;
            } else {
                refused += 1;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        (ok, refused)
    };
    let mut acked = Vec::new();
    let (before, _) = push_for(Duration::from_secs(2), &mut acked);
    assert!(before > 50, "only {before} pushes taken before the outage");
    stop_database();
    // A push whose commit was under way when the server stopped may still have been answered
    // 200 (it committed); after a moment every push is refused.
    std::thread::sleep(Duration::from_millis(300));
    let mut during_acked = Vec::new();
    let (during, refused) = push_for(Duration::from_secs(3), &mut during_acked);
    assert_eq!(
        during, 0,
        "pushes acknowledged while the database was down: {during_acked:?}"
    );
    assert!(refused > 50, "{refused} pushes refused during the outage");
    // Refused the way platforms re-deliver: 503 with Retry-After, on both nodes.
    for node in &nodes {
        let answer = signed_tencent_push(
            &client,
            &node.addr,
            &tencent_lead(6_999_999),
            chrono::Utc::now().timestamp(),
        )
        .send()
        .unwrap();
        assert_eq!(answer.status().as_u16(), 503);
        assert!(
            answer.headers().contains_key("retry-after"),
            "{:?}",
            answer.headers()
        );
    }
    start_database();
    let back = Instant::now();
    let mut after = Vec::new();
    loop {
        let (ok, _) = push_for(Duration::from_millis(500), &mut after);
        if ok > 0 {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(30),
            "the nodes did not take pushes again within 30 s of the database's return"
        );
    }
    push_for(Duration::from_secs(2), &mut after);
    acked.extend(after);
    cluster.wait_routed(&acked, Duration::from_secs(60));
    let state = cluster.state();
    let creates = state["xiaolanben"]["creates_by_key"].as_object().unwrap();
    assert!(
        creates.values().all(|n| n == 1),
        "a lead was imported twice"
    );
    println!(
        "outage: {} leads acknowledged, {refused} pushes refused during the outage, back in {:?}",
        acked.len(),
        back.elapsed()
    );
    drop(nodes);
}

#[test]
fn postgres_restarted_under_load_loses_nothing() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some((url, stop, start)) = runtime.block_on(pg::private_database()) else {
        return;
    };
    let cluster = Cluster::new(runtime, &url, ROUTE);
    pushes_get_503_while_postgres_is_down_and_the_backlog_drains_after(&cluster, stop, start);
}
