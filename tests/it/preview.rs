//! `leadrelay preview`: 50 leads journaled by a real daemon through the shipped scripts, then
//! replayed through edited copies. Changing `FORM_OWNER` changes exactly the form leads'
//! `staffId`; an edit that throws for some leads is reported at its `path:line:col` with a
//! non-zero exit; the journal is byte-identical before and after.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use leadrelay::config::Config;
use leadrelay::connectors::tencent::config::Algorithm;
use leadrelay::connectors::tencent::webhook::sign_push;
use leadrelay::preview::{self, CallChange, LeadVerdict, ScriptSet, Window};
use leadrelay::sim::Simulator;
use leadrelay::store::{JournalReader, WorkStatus};
use serde_json::json;
use sha2::{Digest, Sha256};

const KINDS: [&str; 4] = [
    "LEADS_TYPE_FORM",
    "LEADS_TYPE_ONLINE_CONSULT",
    "LEADS_TYPE_FORM",
    "LEADS_TYPE_PHONE",
];

fn copy_scripts(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rhai") {
            std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
        }
    }
}

fn edit(dir: &Path, file: &str, from: &str, to: &str) {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{file} has no `{from}`");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

fn digest(path: &Path) -> Option<String> {
    std::fs::read(path)
        .ok()
        .map(|bytes| hex::encode(Sha256::digest(bytes)))
}

fn journal_digests(journal: &Path) -> Vec<Option<String>> {
    let wal = PathBuf::from(format!("{}-wal", journal.display()));
    vec![digest(journal), digest(&wal)]
}

/// The journal's digests once the stopped daemon's last clones have closed it (its writer
/// checkpoints the WAL into the file as it closes, a moment after `stop` returns): the same
/// digests seen over half a second.
async fn settled_digests(journal: &Path) -> Vec<Option<String>> {
    let started = Instant::now();
    let mut last = journal_digests(journal);
    let mut same = 0;
    while same < 5 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the journal never settles"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = journal_digests(journal);
        same = if now == last { same + 1 } else { 0 };
        last = now;
    }
    last
}

struct Journaled {
    dir: tempfile::TempDir,
    config_path: PathBuf,
    config: Config,
    forms: usize,
}

impl Journaled {
    fn live(&self) -> PathBuf {
        self.dir.path().join("live")
    }
    fn journal(&self) -> PathBuf {
        self.dir.path().join("leadrelay.db")
    }
}

/// A daemon with the shipped scripts in `live/` routes 50 signed Tencent pushes (every other
/// one a form lead) into a journal; the daemon is stopped before returning.
async fn journal_fifty_leads() -> Journaled {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live");
    copy_scripts(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts"),
        &live,
    );
    let simulator = Simulator::start_local().await.unwrap();
    let text = format!(
        "{}\n[daemon]\nlisten = \"127.0.0.1:0\"\njournal = \"{}\"\nscripts = \"{}\"\n\n\
         [[sources]]\naccount = \"sim_tencent\"\npush = \"/hooks/tencent\"\n",
        simulator.config_toml(),
        dir.path().join("leadrelay.db").display(),
        live.display()
    );
    let config_path = dir.path().join("leadrelay.toml");
    std::fs::write(&config_path, &text).unwrap();
    let config = Config::parse(&text, &config_path.display().to_string(), &|_| None).unwrap();
    let daemon = leadrelay::daemon::start(&config).await.unwrap();
    let http = reqwest::Client::new();
    let mut forms = 0;
    for i in 0..50u64 {
        let kind = KINDS[(i % 4) as usize];
        forms += usize::from(kind == "LEADS_TYPE_FORM");
        let body = json!({
            "leads_id": 770_000 + i,
            "leads_type": kind,
            "leads_name": format!("客户{i}"),
            "leads_tel": format!("1380013{:04}", i),
            "leads_area": "广东省-深圳市",
            "leads_create_time": "2026-11-30 10:00:00",
        });
        let headers = sign_push(
            leadrelay::sim::tencent::SIM_TOKEN,
            leadrelay::sim::tencent::SIM_SECRET,
            chrono::Utc::now().timestamp(),
            Algorithm::Sha256,
        );
        let mut request = http
            .post(format!("http://{}/hooks/tencent", daemon.addr))
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&body).unwrap());
        for (name, value) in headers.pairs() {
            request = request.header(name, value);
        }
        let status = request.send().await.unwrap().status();
        assert!(status.is_success(), "push {i}: {status}");
    }
    let started = Instant::now();
    loop {
        let status = daemon.journal.reader().status().unwrap();
        if status.count(WorkStatus::Done) == 50 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "not routed in time: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    daemon.stop().await;
    Journaled {
        dir,
        config_path,
        config,
        forms,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preview_reports_exactly_the_form_leads_as_changing_staff_id_and_failures_at_their_place() {
    let j = journal_fifty_leads().await;
    let before = settled_digests(&j.journal()).await;

    // 1. FORM_OWNER 1001 → 1002: exactly the form leads change, and only their staffId.
    let edited = j.dir.path().join("edited");
    copy_scripts(&j.live(), &edited);
    edit(
        &edited,
        "tencent_to_xiaolanben.rhai",
        "const FORM_OWNER = 1001;",
        "const FORM_OWNER = 1002;",
    );
    let reader = JournalReader::open(&j.journal()).unwrap();
    let report = preview::preview(
        &j.config,
        &reader,
        &ScriptSet::read(&edited).unwrap(),
        Some(&ScriptSet::read(&j.live()).unwrap()),
        Window {
            since_ms: None,
            last: 50,
        },
    )
    .await
    .unwrap();
    drop(reader);
    assert_eq!(report.leads.len(), 50);
    for lead in &report.leads {
        assert!(!lead.replay_differs, "{lead:?}");
        if lead.kind == "form" {
            assert_eq!(
                lead.verdict,
                LeadVerdict::Changed { owner: true },
                "{lead:?}"
            );
            assert_eq!(lead.calls.len(), 1, "{lead:?}");
            let CallChange::Payload {
                call,
                fields: Some(fields),
            } = &lead.calls[0]
            else {
                panic!("{lead:?}")
            };
            assert_eq!(
                (call.vendor.as_str(), call.op.as_str()),
                ("xiaolanben", "import_customer")
            );
            assert_eq!(fields.len(), 1, "{fields:?}");
            assert_eq!(fields[0].path, "staffId");
            assert_eq!(fields[0].before, Some(json!(1001)));
            assert_eq!(fields[0].after, Some(json!(1002)));
        } else {
            assert_eq!(lead.verdict, LeadVerdict::Unchanged, "{lead:?}");
            assert!(lead.calls.is_empty());
        }
    }
    assert_eq!(
        report.summary(),
        format!(
            "50 leads: {} would change owner, {} unchanged",
            j.forms,
            50 - j.forms
        )
    );
    assert!(!report.fails());
    let text = report.render();
    assert!(
        text.contains("  ~ xiaolanben::import_customer staffId 1001 → 1002\n"),
        "{text}"
    );

    // 2. The same edit compared with the journal alone (no live folder to replay): the form
    // leads still change, by fingerprint.
    let reader = JournalReader::open(&j.journal()).unwrap();
    let report = preview::preview(
        &j.config,
        &reader,
        &ScriptSet::read(&edited).unwrap(),
        None,
        Window {
            since_ms: None,
            last: 50,
        },
    )
    .await
    .unwrap();
    drop(reader);
    assert_eq!(
        report.summary(),
        format!(
            "50 leads: {} would change calls, {} unchanged",
            j.forms,
            50 - j.forms
        )
    );

    // 3. An edit that throws for phone leads, through the binary: reported at its place, and
    // the exit is non-zero.
    let throwing = j.dir.path().join("throwing");
    copy_scripts(&j.live(), &throwing);
    edit(
        &throwing,
        "tencent_to_xiaolanben.rhai",
        "fn route_tencent(lead) {\n",
        "fn route_tencent(lead) {\n    if lead.kind == \"phone\" { throw \"phone leads are not ready\"; }\n",
    );
    let source = std::fs::read_to_string(throwing.join("tencent_to_xiaolanben.rhai")).unwrap();
    let (line, column) = source
        .lines()
        .enumerate()
        .find_map(|(i, l)| l.find("throw \"phone").map(|c| (i + 1, c + 1)))
        .unwrap();
    let config_path = j.config_path.clone();
    let throwing_dir = throwing.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_leadrelay"))
            .args([
                "--config",
                config_path.to_str().unwrap(),
                "preview",
                "--last",
                "50",
                "--scripts",
                throwing_dir.to_str().unwrap(),
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    let phones = 50 / 4 + usize::from(50 % 4 > 3);
    let place = format!("tencent_to_xiaolanben.rhai:{line}:{column}");
    assert!(
        stdout.contains(&format!(
            "50 leads: {phones} would fail at {place}, {} unchanged",
            50 - phones
        )),
        "{stdout}"
    );
    assert!(stdout.contains("phone leads are not ready"), "{stdout}");
    assert!(!stdout.contains("13800130"), "phones are masked: {stdout}");

    assert_eq!(journal_digests(&j.journal()), before, "the journal changed");
}
