//! The admin listener of a real `leadrelay run` child process: `/metrics` counters move by
//! exactly the workload, the text parses as Prometheus exposition, health and readiness
//! answer, and the console refuses requests without the token.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use leadrelay::connectors::tencent::config::Algorithm;
use leadrelay::connectors::tencent::webhook::sign_push;
use leadrelay::sim::Simulator;
use serde_json::json;

pub(crate) const TOKEN: &str = "admin-token-for-tests";
const SCRIPT: &str = r#"
on_lead("tencent", "route");
fn route(lead) {
    xiaolanben::import_customer(#{
        customerName: "lead " + lead.id,
        contacts: [#{ thirdDataId: "tencent:" + lead.id, name: "?" }],
    });
}
"#;

pub(crate) struct Running {
    child: Child,
    pub(crate) push: String,
    pub(crate) admin: String,
    pub(crate) sim: Simulator,
    _runtime: tokio::runtime::Runtime,
    pub(crate) dir: tempfile::TempDir,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start() -> Running {
    start_with(SCRIPT)
}

/// A daemon with `scripts/route.rhai` = `script`, admin listener and token on.
pub(crate) fn start_with(script: &str) -> Running {
    start_with_source(script, "")
}

/// [`start_with`], with `source` (TOML keys such as `pull = "…"`) added to the one source: the
/// simulator's Tencent account, pushed to at `/hooks/tencent`.
pub(crate) fn start_with_source(script: &str, source: &str) -> Running {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sim = runtime.block_on(Simulator::start_local()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("scripts")).unwrap();
    std::fs::write(dir.path().join("scripts/route.rhai"), script).unwrap();
    let config = format!(
        "{}\n[daemon]\nlisten = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\n\
         admin_token = \"${{LEADRELAY_TEST_ADMIN_TOKEN}}\"\njournal = \"{}\"\nscripts = \"{}\"\n\n\
         [[sources]]\naccount = \"sim_tencent\"\npush = \"/hooks/tencent\"\n{}",
        sim.config_toml(),
        dir.path().join("leadrelay.db").display(),
        dir.path().join("scripts").display(),
        source,
    );
    std::fs::write(dir.path().join("leadrelay.toml"), config).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_leadrelay"))
        .arg("--config")
        .arg(dir.path().join("leadrelay.toml"))
        .arg("run")
        .env("LEADRELAY_LOG", "warn")
        .env("LEADRELAY_TEST_ADMIN_TOKEN", TOKEN)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .unwrap();
    let urls: Vec<&str> = line
        .split("http://")
        .skip(1)
        .map(|rest| rest.split([',', '/', '\n']).next().unwrap())
        .collect();
    assert_eq!(urls.len(), 2, "startup line names both listeners: {line}");
    Running {
        child,
        push: urls[0].to_string(),
        admin: urls[1].to_string(),
        sim,
        _runtime: runtime,
        dir,
    }
}

fn push(client: &reqwest::blocking::Client, daemon: &Running, id: u64, secret: &str) -> u16 {
    let body = json!({"leads_id": id, "leads_type": "LEADS_TYPE_FORM", "leads_tel": "13812345678",
                      "leads_create_time": "2026-11-22 10:00:00"});
    let headers = sign_push(
        "10001",
        secret,
        chrono::Utc::now().timestamp(),
        Algorithm::Sha256,
    );
    let mut request = client
        .post(format!("http://{}/hooks/tencent", daemon.push))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&body).unwrap());
    for (name, value) in headers.pairs() {
        request = request.header(name, value);
    }
    request.send().unwrap().status().as_u16()
}

/// Every sample of the exposition, by `name{labels}` as printed. The text is first checked
/// strictly: each sample line is `name{k="v",…} value`, its family was declared with `# TYPE`
/// before it, and the whole text also parses with the `prometheus-parse` crate.
fn scrape(client: &reqwest::blocking::Client, daemon: &Running) -> BTreeMap<String, f64> {
    let response = client
        .get(format!("http://{}/metrics", daemon.admin))
        .send()
        .unwrap();
    assert_eq!(response.status(), 200, "/metrics needs no token");
    let text = response.text().unwrap();
    let lines: Vec<std::io::Result<String>> = text.lines().map(|l| Ok(l.to_string())).collect();
    prometheus_parse::Scrape::parse(lines.into_iter()).expect("prometheus-parse reads it");
    let mut typed = std::collections::BTreeSet::new();
    let mut samples = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            let name = parts.next().unwrap();
            let kind = parts.next().unwrap();
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "{line}"
            );
            typed.insert(name.to_string());
            continue;
        }
        if line.starts_with('#') {
            assert!(line.starts_with("# HELP "), "unknown comment: {line}");
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("a sample is `series value`");
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("value: {line}"));
        let name = series.split('{').next().unwrap();
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "{line}"
        );
        if let Some(labels) = series.strip_prefix(name) {
            if !labels.is_empty() {
                assert!(labels.starts_with('{') && labels.ends_with('}'), "{line}");
                for pair in labels[1..labels.len() - 1]
                    .split("\",")
                    .filter(|p| !p.is_empty())
                {
                    let (key, value) = pair.split_once("=\"").unwrap_or_else(|| panic!("{line}"));
                    assert!(
                        key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                        "{line}"
                    );
                    assert!(!value.contains('\n'), "{line}");
                }
            }
        }
        let family = ["_bucket", "_sum", "_count", "_total"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|f| typed.contains(*f)))
            .unwrap_or(name);
        assert!(
            typed.contains(family) || typed.contains(name),
            "no # TYPE before {line}"
        );
        samples.insert(series.to_string(), value);
    }
    samples
}

fn get(samples: &BTreeMap<String, f64>, series: &str) -> f64 {
    samples.get(series).copied().unwrap_or(0.0)
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn metrics_move_by_exactly_the_workload_and_parse_as_prometheus_text() {
    let daemon = start();
    let client = reqwest::blocking::Client::new();
    let secret = leadrelay::sim::tencent::SIM_SECRET;
    let received =
        r#"leadrelay_leads_received_total{vendor="tencent",account="sim_tencent",via="push"}"#;
    let calls = r#"leadrelay_vendor_calls_total{vendor="xiaolanben",account="sim_xiaolanben",op="import_customer",outcome="ok"}"#;
    let runs = r#"leadrelay_runs_total{script="#;
    let forged = r#"leadrelay_pushes_rejected_total{account="sim_tencent",reason="unauthorized"}"#;
    let acks = "leadrelay_push_ack_duration_seconds_count";

    let before = scrape(&client, &daemon);
    for id in 1..=5 {
        assert_eq!(push(&client, &daemon, 7000 + id, secret), 200);
    }
    assert_eq!(
        push(&client, &daemon, 7001, secret),
        200,
        "a duplicate is acknowledged"
    );
    assert_eq!(push(&client, &daemon, 7100, "wrong-secret"), 401);
    // A call is counted when it returns, its lead's state when the run's outcome is committed
    // just after: wait for both.
    wait_for("five routed leads", || {
        let now = scrape(&client, &daemon);
        get(&now, calls) - get(&before, calls) >= 5.0
            && get(&now, r#"leadrelay_backlog{state="done"}"#) >= 5.0
    });
    let after = scrape(&client, &daemon);
    assert_eq!(
        get(&after, received) - get(&before, received),
        5.0,
        "duplicates are not counted"
    );
    assert_eq!(get(&after, calls) - get(&before, calls), 5.0);
    assert_eq!(get(&after, forged) - get(&before, forged), 1.0);
    assert_eq!(
        get(&after, acks) - get(&before, acks),
        6.0,
        "each acknowledged push is timed"
    );
    let ok_runs: f64 = after
        .iter()
        .filter(|(k, _)| k.starts_with(runs) && k.contains(r#"outcome="ok""#))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(
        ok_runs,
        5.0,
        "{:?}",
        after
            .keys()
            .filter(|k| k.contains("runs"))
            .collect::<Vec<_>>()
    );
    assert_eq!(get(&after, r#"leadrelay_backlog{state="done"}"#), 5.0);
    assert!(
        after
            .keys()
            .any(|k| k.starts_with("process_resident_memory_bytes")),
        "process metrics"
    );
    for series in after.keys() {
        assert!(
            !series.contains("13812345678") && !series.contains("7001"),
            "{series}"
        );
    }
}

#[test]
fn health_readiness_and_the_console_behind_the_token() {
    let daemon = start();
    let client = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = |path: &str| format!("http://{}{path}", daemon.admin);
    assert_eq!(client.get(url("/healthz")).send().unwrap().status(), 200);
    let ready = client.get(url("/readyz")).send().unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.text().unwrap(), "ready\n");

    // No token: 401 on pages and actions, HTML login for a browser.
    assert_eq!(client.get(url("/")).send().unwrap().status(), 401);
    let page = client
        .get(url("/"))
        .header("accept", "text/html")
        .send()
        .unwrap();
    assert_eq!(page.status(), 401);
    assert!(page.text().unwrap().contains("name=\"token\""));
    assert_eq!(client.post(url("/")).send().unwrap().status(), 401);
    let wrong = client
        .get(url("/"))
        .header("authorization", "Bearer nope")
        .send()
        .unwrap();
    assert_eq!(wrong.status(), 401);

    // Bearer for scripts.
    let ok = client
        .get(url("/"))
        .header("authorization", format!("Bearer {TOKEN}"))
        .send()
        .unwrap();
    assert_eq!(ok.status(), 200);

    // The login form sets an HttpOnly, SameSite=Strict cookie that does not hold the token.
    let login = client
        .post(url("/login"))
        .form(&[("token", TOKEN)])
        .send()
        .unwrap();
    assert_eq!(login.status(), 303);
    let cookie = login
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(
        !cookie.contains(TOKEN),
        "the cookie must not carry the token"
    );
    let session = cookie.split(';').next().unwrap().to_string();
    let page = client
        .get(url("/"))
        .header("cookie", &session)
        .send()
        .unwrap();
    assert_eq!(page.status(), 200);
    // A cookie-authenticated POST without the form's csrf field is refused.
    let post = client
        .post(url("/"))
        .header("cookie", &session)
        .form(&[("x", "1")])
        .send()
        .unwrap();
    assert_eq!(post.status(), 403);
    assert_eq!(
        client
            .post(url("/login"))
            .form(&[("token", "wrong")])
            .send()
            .unwrap()
            .status(),
        401
    );
}

#[test]
fn an_admin_listener_open_to_the_network_needs_a_token() {
    let e = leadrelay::config::Config::parse(
        "[daemon]\nadmin_listen = \"0.0.0.0:8081\"\n",
        "leadrelay.toml",
        &|_| None,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("admin_token") && e.contains("0.0.0.0:8081"),
        "{e}"
    );
    let e = leadrelay::config::Config::parse(
        "[daemon]\nadmin_listen = \"0.0.0.0:8081\"\nadmin_token = \"${UNSET_ADMIN}\"\n",
        "leadrelay.toml",
        &|_| None,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("UNSET_ADMIN"), "{e}");
    leadrelay::config::Config::parse(
        "[daemon]\nadmin_listen = \"127.0.0.1:8081\"\n",
        "leadrelay.toml",
        &|_| None,
    )
    .expect("loopback without a token is allowed");
}

#[test]
fn logs_carry_no_colour_codes_into_files_and_are_json_lines_on_request() {
    let run = |format: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_leadrelay"));
        let scripts = format!("{}/scripts", env!("CARGO_MANIFEST_DIR"));
        command
            .args(["test", &scripts])
            .env("LEADRELAY_LOG", "debug");
        if let Some(format) = format {
            command.env("LEADRELAY_LOG_FORMAT", format);
        }
        let out = command.output().unwrap();
        String::from_utf8(out.stderr).unwrap()
    };
    let text = run(None);
    assert!(text.contains("script live"), "{text}");
    assert!(!text.contains('\u{1b}'), "colour codes in a pipe: {text:?}");
    let json = run(Some("json"));
    let lines: Vec<&str> = json.lines().filter(|l| l.starts_with('{')).collect();
    assert!(lines.len() >= 5, "one JSON object per log line: {json}");
    for line in &lines {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(value.get("level").is_some(), "{line}");
    }
}
