//! Push security through the real daemon (issue 8, item 12): `leadrelay run` as a child process
//! on loopback with `allow_from`, `trusted_proxies` and the replay guard, checked in its
//! journal, its WARN lines and `leadrelay status`. All traffic goes to 127.0.0.1; "outside" is
//! an allow-list that leaves 127.0.0.1 out, and the test client plays the reverse proxy.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use leadrelay::connectors::tencent::config::Algorithm;
use leadrelay::connectors::tencent::webhook::sign_push;
use leadrelay::connectors::waiqin::webhook::{encode_follow_push, PushMeta};
use leadrelay::sim::Simulator;
use leadrelay::store::JournalReader;
use leadrelay::store::Queries;
use serde_json::{json, Value};

const TENCENT_TOKEN: &str = "10001";
const TENCENT_SECRET: &str = "sim-tencent-secret-0123456789abcd";
const PUSHSECRET: &str = "SimPushSecret0001";
const PHONE: &str = "13812345678";

const SOURCES: &str = r#"
[[sources]]
account = "sim_tencent"
push = "/hooks/tencent/locked"
allow_from = ["10.1.0.0/16"]

[[sources]]
account = "sim_tencent"
push = "/hooks/tencent/open"
allow_from = ["10.1.0.0/16", "127.0.0.1"]

[[sources]]
account = "sim_waiqin"
push = "/hooks/waiqin"
allow_from = ["10.1.0.0/16"]
"#;

struct Daemon {
    child: Child,
    addr: String,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(config: &Path) -> Daemon {
    let mut child = Command::new(env!("CARGO_BIN_EXE_leadrelay"))
        .arg("--config")
        .arg(config)
        .arg("run")
        .env("LEADRELAY_LOG", "warn")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = Arc::new(Mutex::new(Vec::new()));
    let (lines, pipe) = (stderr.clone(), child.stderr.take().unwrap());
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
            lines.lock().unwrap().push(strip_ansi(&line));
        }
    });
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    // Keep draining stdout so the daemon never blocks on a full pipe.
    std::thread::spawn(move || for _ in stdout.lines().map_while(Result::ok) {});
    let addr = first
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap_or_else(|| panic!("unexpected first line: {first:?}"))
        .to_string();
    Daemon {
        child,
        addr,
        stderr,
    }
}

/// Log lines without terminal color codes, whatever the subscriber decides about colors.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn lead(id: u64) -> Vec<u8> {
    serde_json::to_vec(&json!({"leads_id": id, "leads_type": "LEADS_TYPE_FORM",
        "leads_name": format!("客户{id}"), "leads_tel": PHONE,
        "leads_create_time": "2026-11-22 10:00:00"}))
    .unwrap()
}

fn post(
    client: &reqwest::blocking::Client,
    url: String,
    headers: &[(&str, String)],
    body: Vec<u8>,
) -> (u16, Value) {
    let mut request = client.post(url).body(body);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request.send().unwrap();
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Value::Null))
}

fn status_output(config: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_leadrelay"))
        .arg("--config")
        .arg(config)
        .arg("status")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn push_security_through_the_daemon_refuses_outsiders_and_reports_suspicious_pushes_in_status() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sim = runtime.block_on(Simulator::start_local()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("scripts")).unwrap();
    let journal: PathBuf = dir.path().join("leadrelay.db");
    let config = dir.path().join("leadrelay.toml");
    std::fs::write(
        &config,
        format!(
            "{}\n[daemon]\nlisten = \"127.0.0.1:0\"\njournal = \"{}\"\nscripts = \"{}\"\ntrusted_proxies = [\"127.0.0.1/32\"]\n{SOURCES}",
            sim.config_toml(),
            journal.display(),
            dir.path().join("scripts").display(),
        ),
    )
    .unwrap();
    let daemon = start(&config);
    let base = format!("http://{}", daemon.addr);
    let client = reqwest::blocking::Client::new();
    let now = chrono::Utc::now().timestamp();
    let signed_headers = |ts: i64| {
        let signed = sign_push(TENCENT_TOKEN, TENCENT_SECRET, ts, Algorithm::Sha256);
        let mut headers: Vec<(&str, String)> = signed.pairs().into_iter().collect();
        headers.push(("content-type", "application/json".to_string()));
        (signed.signature, headers)
    };
    let (signature, headers) = signed_headers(now);
    let (earlier_signature, earlier) = signed_headers(now - 1);
    let forwarded = |headers: &[(&'static str, String)], from: &str| {
        let mut h = headers.to_vec();
        h.push(("x-forwarded-for", from.to_string()));
        h
    };

    // Outside the allow-list: the peer, 127.0.0.1, is a trusted proxy pushing on its own behalf.
    let locked = format!("{base}/hooks/tencent/locked");
    let (status, answer) = post(&client, locked.clone(), &headers, lead(9001));
    assert_eq!(status, 403, "{answer}");
    assert_eq!(answer["code"], 2100, "{answer}");
    // A client the proxy vouches for, outside the allow-list.
    let (status, _) = post(
        &client,
        locked.clone(),
        &forwarded(&headers, "203.0.113.9"),
        lead(9002),
    );
    assert_eq!(status, 403);
    // Waiqin's follow push is guarded too.
    let meta = PushMeta::follow("555", now * 1000);
    let follow = encode_follow_push(&meta, r#"{"lead_ID":"SK1","lead_code":"c"}"#, PUSHSECRET);
    let (status, answer) = post(
        &client,
        format!("{base}/hooks/waiqin"),
        &[(
            "content-type",
            "application/x-www-form-urlencoded".to_string(),
        )],
        follow.into_bytes(),
    );
    assert_eq!(status, 403, "{answer}");
    assert_eq!(answer["return_code"], 1, "{answer}");

    // Inside: a client behind the trusted proxy, and loopback on the open path.
    let (status, _) = post(
        &client,
        locked,
        &forwarded(&earlier, "10.1.2.3"),
        lead(9003),
    );
    assert_eq!(status, 200);
    let open = format!("{base}/hooks/tencent/open");
    assert_eq!(post(&client, open.clone(), &headers, lead(9004)).0, 200);
    assert_eq!(
        post(&client, open.clone(), &headers, lead(9004)).0,
        200,
        "re-delivery"
    );
    // The same headers with another lead: accepted, logged and counted.
    assert_eq!(post(&client, open.clone(), &headers, lead(9005)).0, 200);
    // Headers seen on the other path of the same account, with another lead: counted too.
    assert_eq!(post(&client, open, &earlier, lead(9006)).0, 200);

    // `leadrelay status` shows the count per path once the daemon has written its status file.
    let started = Instant::now();
    let report = loop {
        let report = status_output(&config);
        if report.contains("/hooks/tencent/open: 2 suspicious pushes ") {
            break report;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "no suspicious count in status:\n{report}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        report.contains("suspicious pushes since the daemon started"),
        "{report}"
    );
    assert!(report.contains("/hooks/tencent/locked: none"), "{report}");
    assert!(
        !report.contains("/hooks/waiqin:"),
        "Waiqin has no replay guard: {report}"
    );

    let reader = JournalReader::open(&journal).unwrap();
    let status = reader.status().unwrap();
    assert_eq!(status.leads, 4, "leads 9003 to 9006; nothing from outside");
    assert_eq!(status.follows, 0);
    assert_eq!(status.quarantined, 0);
    assert!(reader.lead_story("9001").unwrap().is_none());
    assert!(reader.lead_story("9002").unwrap().is_none());

    let log = {
        // The WARN lines are written before the answers; give the pipe reader a moment.
        std::thread::sleep(Duration::from_millis(300));
        daemon.stderr.lock().unwrap().clone()
    };
    let refused: Vec<&String> = log
        .iter()
        .filter(|l| l.contains("WARN") && l.contains("forbidden"))
        .collect();
    assert_eq!(refused.len(), 3, "one WARN per refused push: {log:#?}");
    assert!(
        refused
            .iter()
            .any(|l| l.contains("path=/hooks/tencent/locked")
                && l.contains("peer=127.0.0.1")
                && l.contains("client=203.0.113.9")),
        "{log:#?}"
    );
    assert!(
        refused
            .iter()
            .any(|l| l.contains("path=/hooks/waiqin") && l.contains("peer=127.0.0.1")),
        "{log:#?}"
    );
    let suspicious: Vec<&String> = log.iter().filter(|l| l.contains("suspicious")).collect();
    // Two were counted (status above); one line a minute per path is logged, so busy paths,
    // where genuine leads share a second's signature, do not flood the log.
    assert_eq!(suspicious.len(), 1, "{log:#?}");
    assert!(
        suspicious
            .iter()
            .all(|l| l.contains("WARN") && l.contains("path=/hooks/tencent/open")),
        "{log:#?}"
    );
    for line in &log {
        assert!(!line.contains(PHONE), "a phone number in the log: {line}");
        assert!(!line.contains("客户"), "body contents in the log: {line}");
        for signature in [&signature, &earlier_signature] {
            assert!(
                !line.contains(signature.as_str()),
                "a signature in the log: {line}"
            );
        }
    }
}
