//! Shared helpers for the integration tests.

#![allow(dead_code)]

use leadrelay::clock::Clock;
use leadrelay::config::Config;
use leadrelay::connectors::{AccountClient, HttpClient, Vendor};
use leadrelay::sim::Simulator;

/// A simulator on a free loopback port, its config, and a way to build clients.
pub struct Harness {
    pub sim: Simulator,
    pub config: Config,
}

impl Harness {
    pub async fn start() -> Harness {
        let sim = Simulator::start_local().await.expect("simulator starts");
        let config = sim.config();
        Harness { sim, config }
    }

    /// The built-in account of `vendor`, signing with the system clock.
    pub fn client(&self, vendor: Vendor) -> AccountClient {
        self.client_with(vendor, Clock::system(), |_| {})
    }

    /// The built-in account of `vendor`, with a clock and a chance to edit the account.
    pub fn client_with(
        &self,
        vendor: Vendor,
        clock: Clock,
        edit: impl FnOnce(&mut leadrelay::config::Account),
    ) -> AccountClient {
        let mut account = self.config.accounts[&Simulator::account_name(vendor)].clone();
        edit(&mut account);
        AccountClient::new(
            &account,
            HttpClient::with_timeout(std::time::Duration::from_secs(5)),
            clock,
        )
    }

    pub fn base_url(&self) -> String {
        self.sim.base_url()
    }
}

/// The top-level keys of a JSON object in order (the vendors' error shapes are pinned by them).
pub fn keys(body: &serde_json::Value) -> Vec<&str> {
    body.as_object()
        .unwrap_or_else(|| panic!("not a JSON object: {body}"))
        .keys()
        .map(String::as_str)
        .collect()
}

/// The simulator's Tencent push credentials (its built-in account `sim_tencent`).
pub const TENCENT_TOKEN: &str = "10001";
pub const TENCENT_SECRET: &str = "sim-tencent-secret-0123456789abcd";

/// A routing script for the daemon tests: every Tencent lead → Xiaolanben (customer keyed by
/// the lead) and Waiqin (code keyed by the lead; an "already exists" answer after a crash is
/// success).
pub const ROUTE: &str = r#"
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

/// A Tencent form lead as the platform pushes it.
pub fn tencent_lead(id: u64) -> serde_json::Value {
    serde_json::json!({"leads_id": id, "leads_type": "LEADS_TYPE_FORM",
                       "leads_name": format!("客户{id}"), "leads_tel": "13812345678",
                       "leads_create_time": "2026-11-22 10:00:00"})
}

/// A push of `body` to `http://addr/hooks/tencent`, signed at `signed_at` (unix seconds).
pub fn signed_tencent_push(
    client: &reqwest::blocking::Client,
    addr: &str,
    body: &serde_json::Value,
    signed_at: i64,
) -> reqwest::blocking::RequestBuilder {
    use leadrelay::connectors::tencent::config::Algorithm;
    let headers = leadrelay::connectors::tencent::webhook::sign_push(
        TENCENT_TOKEN,
        TENCENT_SECRET,
        signed_at,
        Algorithm::Sha256,
    );
    let mut request = client
        .post(format!("http://{addr}/hooks/tencent"))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(body).unwrap());
    for (name, value) in headers.pairs() {
        request = request.header(name, value);
    }
    request
}

/// [`signed_tencent_push`] sent: the HTTP status, or why there was none.
pub fn push_tencent(
    client: &reqwest::blocking::Client,
    addr: &str,
    body: &serde_json::Value,
    signed_at: i64,
) -> Result<u16, String> {
    signed_tencent_push(client, addr, body, signed_at)
        .send()
        .map(|r| r.status().as_u16())
        .map_err(|e| e.to_string())
}

/// Starts `leadrelay --config CONFIG run` in `dir` with its stderr in `stderr`; returns the
/// child and the webhook address from its first line (the panic names the log's content when
/// it does not start within 30 s).
pub fn spawn_daemon(
    config: &std::path::Path,
    dir: &std::path::Path,
    level: &str,
    stderr: &std::path::Path,
) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_leadrelay"))
        .arg("--config")
        .arg(config)
        .arg("run")
        .current_dir(dir)
        .env("LEADRELAY_LOG", level)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::from(
            std::fs::File::create(stderr).unwrap(),
        ))
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
        .recv_timeout(std::time::Duration::from_secs(30))
        .unwrap_or_else(|_| {
            let _ = child.kill();
            let log = std::fs::read_to_string(stderr).unwrap_or_default();
            panic!("leadrelay run did not start: {log}")
        });
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap_or_else(|| panic!("unexpected first line: {line}"))
        .to_string();
    (child, addr)
}
