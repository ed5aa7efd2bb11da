//! The console in a real browser: headless Chromium (Debian's `chromium` and
//! `chromium-driver`; `.ci/run` installs them) driven over WebDriver with `fantoccini`, against
//! a real `leadrelay run` child process. Log in through the form, read the overview's counts
//! and compare them with the journal, find a lead and read its calls, retry a dead letter after
//! fixing its script and see it routed, read a broken script's `path:line:col`, log out. Every
//! page is saved as a screenshot under the test's temp dir.
//!
//! Beside it, over plain HTTP: every console page and action answers 401 without the token, and
//! no page shows a full phone number.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use leadrelay::connectors::tencent::config::Algorithm;
use leadrelay::connectors::tencent::webhook::sign_push;
use leadrelay::store::Queries;
use leadrelay::store::{JournalReader, WorkState, WorkStatus};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::admin::{start_with, start_with_source, Running, TOKEN};

const FIXED: &str = r#"
on_lead("tencent", "route");
fn route(lead) {
    xiaolanben::import_customer(#{
        customerName: "lead " + lead.id,
        contacts: [#{ thirdDataId: "tencent:" + lead.id, name: "?" }],
    });
}
"#;

/// The same script, but it throws for lead 9002: that lead becomes a dead letter.
fn throwing() -> String {
    FIXED.replace(
        "fn route(lead) {\n",
        "fn route(lead) {\n    if lead.id == \"9002\" { throw \"no owner for lead 9002 yet\"; }\n",
    )
}

const BROKEN: &str = "on_lead(\"feiyu\", \"route\");\nfn route(lead) {\n    let owner = ;\n}\n";

/// Where Debian's packages put them.
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn eventually<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !done().await {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn push(http: &reqwest::Client, daemon: &Running, lead: Value) {
    push_bytes(http, daemon, serde_json::to_vec(&lead).unwrap(), 200).await;
}

async fn push_bytes(http: &reqwest::Client, daemon: &Running, body: Vec<u8>, expect: u16) {
    let headers = sign_push(
        "10001",
        leadrelay::sim::tencent::SIM_SECRET,
        chrono::Utc::now().timestamp(),
        Algorithm::Sha256,
    );
    let mut request = http
        .post(format!("http://{}/hooks/tencent", daemon.push))
        .header("content-type", "application/json")
        .body(body);
    for (name, value) in headers.pairs() {
        request = request.header(name, value);
    }
    assert_eq!(request.send().await.unwrap().status(), expect);
}

fn state_of(journal: &Path, lead: &str) -> Option<WorkState> {
    let reader = JournalReader::open(journal).ok()?;
    reader.lead_story(lead).ok().flatten().map(|s| s.state)
}

/// A page's text as the admin sees it (Bearer).
async fn admin_get(http: &reqwest::Client, admin: &str, path: &str) -> String {
    http.get(format!("http://{admin}{path}"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn start_browser(profile: &Path) -> (Driver, Client) {
    for needed in [CHROMIUM, CHROMEDRIVER] {
        assert!(
            Path::new(needed).exists(),
            "{needed} is missing: install Debian's chromium and chromium-driver \
             (.ci/run does: apt-get install chromium chromium-driver)"
        );
    }
    let port = free_port();
    let driver = Driver(
        Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts"),
    );
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    eventually("chromedriver to answer", || {
        let status = http.get(format!("{url}/status")).send();
        async move { status.await.is_ok_and(|r| r.status().is_success()) }
    })
    .await;
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1280,1000",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&url)
        .await
        .expect("a WebDriver session in headless Chromium");
    (driver, client)
}

async fn screenshot(browser: &Client, dir: &Path, name: &str) -> PathBuf {
    let png = browser.screenshot().await.unwrap();
    let path = dir.join(format!("{name}.png"));
    std::fs::write(&path, &png).unwrap();
    assert!(
        png.len() > 1000 && png.starts_with(b"\x89PNG"),
        "{} is a real picture ({} bytes)",
        path.display(),
        png.len()
    );
    path
}

async fn text_of(browser: &Client, css: &str) -> String {
    browser
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css} on the page: {e}"))
        .text()
        .await
        .unwrap()
}

async fn count(browser: &Client, id: &str) -> u64 {
    let text = text_of(browser, &format!("#{id}")).await;
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("#{id} is a count: {text:?}"))
}

/// The browser test's source also pulls the simulator's Tencent leads, every second.
const PULL: &str = "pull = \"* * * * * *\"\noverlap_secs = 3600\n";
/// How many leads the simulator has to pull.
const PULLED: usize = 3;

/// A lead the simulator generated for the pull: its id and phone number.
#[derive(Clone, Debug)]
struct Pulled {
    id: String,
    phone: String,
}

#[test]
fn the_console_in_a_real_browser() {
    let daemon = start_with_source(&throwing(), PULL);
    let pulled: Vec<Pulled> = daemon
        .sim
        .shared()
        .tencent
        .generate(chrono::Utc::now().timestamp(), PULLED, 60)
        .iter()
        .map(|lead| Pulled {
            id: lead["leads_id"].to_string(),
            phone: lead["leads_tel"].as_str().unwrap_or_default().to_string(),
        })
        .collect();
    assert!(pulled.iter().all(|p| p.phone.len() == 11), "{pulled:?}");
    let journal = daemon.dir.path().join("leadrelay.db");
    let scripts = daemon.dir.path().join("scripts");
    let shots = daemon.dir.path().join("screenshots");
    std::fs::create_dir(&shots).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let http = reqwest::Client::new();
        push(
            &http,
            &daemon,
            json!({"leads_id": 9001, "leads_type": "LEADS_TYPE_FORM", "leads_name": "王小明",
                   "leads_tel": "13812345678", "leads_create_time": "2026-11-22 10:00:00"}),
        )
        .await;
        push(
            &http,
            &daemon,
            json!({"leads_id": 9002, "leads_type": "LEADS_TYPE_FORM", "leads_name": "李四",
                   "leads_tel": "13900001111", "leads_create_time": "2026-11-22 10:01:00"}),
        )
        .await;
        // Signed, but cut short: quarantined.
        push_bytes(
            &http,
            &daemon,
            br#"{"leads_id": 9003, "leads_tel": "13700001234", "leads_na"#.to_vec(),
            400,
        )
        .await;
        eventually("9001 routed and 9002 dead", || {
            let states = (state_of(&journal, "9001"), state_of(&journal, "9002"));
            async move {
                matches!(
                    states,
                    (Some(WorkState::Done), Some(WorkState::Dead { .. }))
                )
            }
        })
        .await;
        eventually("the pulled leads routed", || {
            let done = pulled
                .iter()
                .all(|p| state_of(&journal, &p.id) == Some(WorkState::Done));
            async move { done }
        })
        .await;

        let (_driver, browser) = start_browser(&daemon.dir.path().join("chromium")).await;
        // The pages are driven in a task: if an assertion fails, the session is still closed
        // (and Chromium with it) before the failure is reported.
        let pages = tokio::spawn(browse(
            browser.clone(),
            daemon.admin.clone(),
            journal.clone(),
            scripts.clone(),
            shots.clone(),
            pulled.clone(),
        ));
        let outcome = pages.await;
        let _ = browser.close().await;
        if let Err(e) = outcome {
            std::panic::resume_unwind(e.into_panic());
        }
    });
    let saved: Vec<_> = std::fs::read_dir(&shots)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(saved.len(), 12, "{saved:?}");
    if let Ok(keep) = std::env::var("LEADRELAY_KEEP_SCREENSHOTS") {
        for name in saved {
            let _ = std::fs::copy(shots.join(&name), Path::new(&keep).join(name));
        }
    }
}

/// Log in, then every page in turn.
async fn browse(
    browser: Client,
    admin: String,
    journal: PathBuf,
    scripts: PathBuf,
    shots: PathBuf,
    pulled: Vec<Pulled>,
) {
    let http = reqwest::Client::new();
    let base = format!("http://{admin}");

    // Log in through the form.
    browser.goto(&format!("{base}/")).await.unwrap();
    let token = browser
        .wait()
        .for_element(Locator::Css("input[name=token]"))
        .await
        .unwrap();
    screenshot(&browser, &shots, "login").await;
    token.send_keys(TOKEN).await.unwrap();
    browser
        .find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    // The overview's counts are the journal's.
    let status = JournalReader::open(&journal).unwrap().status().unwrap();
    assert_eq!(count(&browser, "count-leads").await, status.leads);
    assert_eq!(
        status.leads,
        2 + PULLED as u64,
        "two pushed, {PULLED} pulled"
    );
    assert_eq!(
        count(&browser, "count-routed").await,
        status.count(WorkStatus::Done)
    );
    assert_eq!(count(&browser, "count-dead").await, status.dead_letters);
    assert_eq!(status.dead_letters, 1);
    assert_eq!(
        count(&browser, "count-unrouted").await,
        status.count(WorkStatus::Unrouted)
    );
    assert_eq!(
        count(&browser, "count-quarantine").await,
        status.quarantined
    );
    assert_eq!(status.quarantined, 1);
    assert_eq!(count(&browser, "state-done").await, 1 + PULLED as u64);
    assert_eq!(count(&browser, "state-dead").await, 1);
    assert!(browser.find(Locator::Css("svg#chart rect")).await.is_ok());
    screenshot(&browser, &shots, "overview").await;

    // Find a lead by the last four digits of its phone, and read its calls.
    browser
        .find(Locator::LinkText("Leads"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let search = browser
        .wait()
        .for_element(Locator::Css("#q"))
        .await
        .unwrap();
    search.send_keys("5678").await.unwrap();
    browser
        .find(Locator::Css("#search button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let story = text_of(&browser, "#story").await;
    assert!(story.contains("tencent lead 9001"), "{story}");
    assert!(
        story.contains("call 0")
            && story.contains("xiaolanben")
            && story.contains("import_customer"),
        "{story}"
    );
    assert!(story.contains("now: routed"), "{story}");
    let page = browser.source().await.unwrap();
    assert!(
        !page.contains("13812345678"),
        "a full phone number on the page"
    );
    screenshot(&browser, &shots, "leads").await;
    // A pulled lead: its story, its phone masked.
    browser
        .goto(&format!("{base}/leads?q={}", pulled[0].id))
        .await
        .unwrap();
    let story = text_of(&browser, "#story").await;
    assert!(
        story.contains(&format!("tencent lead {}", pulled[0].id)),
        "{story}"
    );
    assert!(story.contains("pulled from /leads/list"), "{story}");
    assert!(
        story.contains("import_customer") && story.contains("now: routed"),
        "{story}"
    );
    let page = browser.source().await.unwrap();
    assert!(
        !page.contains(&pulled[0].phone),
        "a full phone number on the page"
    );

    // The pull source: its schedule, next pull, last pull and the journal's checkpoint.
    browser
        .find(Locator::LinkText("Sources and cron"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let pulls = text_of(&browser, "#pulls").await;
    assert!(pulls.contains("sim_tencent"), "{pulls}");
    let row = browser
        .find(Locator::Css("#pulls tr:nth-child(2)"))
        .await
        .unwrap();
    let cells = row.find_all(Locator::Css("td")).await.unwrap();
    let mut texts = Vec::new();
    for cell in &cells {
        texts.push(cell.text().await.unwrap());
    }
    // account, endpoint, schedule, next pull, last pull, last committed, pulled up to, lag, skips
    assert_eq!(texts.len(), 9, "{texts:?}");
    assert_eq!(texts[0], "sim_tencent");
    assert_eq!(texts[2], "* * * * * *");
    assert!(
        texts[3].starts_with("20"),
        "the next pull is a time: {texts:?}"
    );
    assert!(
        texts[4].ends_with("ok"),
        "the last pull succeeded: {texts:?}"
    );
    assert!(
        texts[3].as_str() > &texts[4][..19],
        "the next pull comes after the last: {texts:?}"
    );
    assert_ne!(texts[5], "not yet", "a checkpoint was committed: {texts:?}");
    let checkpoint = JournalReader::open(&journal)
        .unwrap()
        .status()
        .unwrap()
        .checkpoints
        .into_iter()
        .find(|c| c.account == "sim_tencent")
        .expect("the journal has the pull's checkpoint");
    assert_eq!(texts[1], checkpoint.endpoint);
    screenshot(&browser, &shots, "sources").await;
    // The checkpoint moves with every pull: the page shows the one the journal has, read just
    // before it.
    eventually("the sources page to show the journal's checkpoint", || {
        let browser = browser.clone();
        let (journal, base) = (journal.clone(), base.clone());
        async move {
            let Some(position) = JournalReader::open(&journal)
                .ok()
                .and_then(|r| r.status().ok())
                .and_then(|s| {
                    s.checkpoints
                        .into_iter()
                        .find(|c| c.account == "sim_tencent")
                })
                .and_then(|c| c.position.trim().parse::<i64>().ok())
            else {
                return false;
            };
            let shown = leadrelay::inspect::beijing_time(position * 1000);
            browser.goto(&format!("{base}/sources")).await.unwrap();
            text_of(&browser, "#pulls").await.contains(&shown)
        }
    })
    .await;
    // By name, too; a full number finds nothing.
    browser
        .goto(&format!("{base}/leads?q=%E5%B0%8F%E6%98%8E"))
        .await
        .unwrap();
    assert!(text_of(&browser, "#results").await.contains("9001"));
    browser
        .goto(&format!("{base}/leads?q=13812345678"))
        .await
        .unwrap();
    text_of(&browser, "#none").await;

    // Preview the script on disk (it still throws for 9002) against the journal's leads.
    let phones: Vec<String> = ["13812345678", "13900001111"]
        .into_iter()
        .map(String::from)
        .chain(pulled.iter().map(|p| p.phone.clone()))
        .collect();
    browser
        .find(Locator::LinkText("Scripts"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let summary = preview(&browser, "route.rhai", "#preview-summary").await;
    let leads = 2 + PULLED;
    let failing = format!("{leads} leads: 1 would fail at route.rhai:4:");
    assert!(
        summary.starts_with(&failing) && summary.ends_with(&format!(", {} unchanged", leads - 1)),
        "{summary}"
    );
    // The whole report opens under the summary.
    browser
        .find(Locator::Css("#preview details summary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let report = text_of(&browser, "#preview-report").await;
    assert!(report.contains("no owner for lead 9002 yet"), "{report}");
    no_phones(&browser, &phones).await;
    screenshot(&browser, &shots, "preview-failing").await;

    // Fix the script, wait for the new version to be live, retry the dead letter.
    std::fs::write(scripts.join("route.rhai"), FIXED).unwrap();
    let version = hex::encode(Sha256::digest(FIXED.as_bytes()))[..12].to_string();
    eventually("the fixed script to be live", || {
        let page = admin_get(&http, &admin, "/scripts");
        let version = version.clone();
        async move { page.await.contains(&version) }
    })
    .await;
    // The preview now: 9002 would get its call, the others are unchanged.
    browser.goto(&format!("{base}/scripts")).await.unwrap();
    let summary = preview(&browser, "route.rhai", "#preview-summary").await;
    assert_eq!(
        summary,
        format!(
            "{leads} leads: 1 would change calls, {} unchanged",
            leads - 1
        )
    );
    let changed = text_of(&browser, "#preview-leads").await;
    assert!(changed.contains("9002 #2"), "{changed}");
    assert!(changed.contains("would change calls"), "{changed}");
    let calls = text_of(&browser, "#preview-calls").await;
    assert!(
        calls.contains("xiaolanben::import_customer added 1"),
        "{calls}"
    );
    no_phones(&browser, &phones).await;
    screenshot(&browser, &shots, "preview-fixed").await;
    browser
        .find(Locator::LinkText("Dead letters"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let dead = JournalReader::open(&journal)
        .unwrap()
        .dead_letters()
        .unwrap();
    assert_eq!(dead.len(), 1);
    let reasons = text_of(&browser, "#dead").await;
    assert!(reasons.contains("no owner for lead 9002 yet"), "{reasons}");
    screenshot(&browser, &shots, "dead").await;
    browser
        .find(Locator::Css(&format!("#retry-{}", dead[0].id)))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let note = text_of(&browser, "#note").await;
    assert!(note.contains("1 dead letter(s) queued again"), "{note}");
    eventually("9002 routed after the retry", || {
        let state = state_of(&journal, "9002");
        async move { state == Some(WorkState::Done) }
    })
    .await;
    browser.goto(&format!("{base}/leads?q=9002")).await.unwrap();
    let story = text_of(&browser, "#story").await;
    assert!(story.contains("now: routed"), "{story}");
    assert!(story.contains("import_customer"), "{story}");
    browser.goto(&format!("{base}/")).await.unwrap();
    assert_eq!(count(&browser, "count-dead").await, 0);
    assert_eq!(count(&browser, "count-routed").await, 2 + PULLED as u64);

    // A broken script: its error at path:line:col.
    std::fs::write(scripts.join("broken.rhai"), BROKEN).unwrap();
    eventually("the broken script to be rejected", || {
        let page = admin_get(&http, &admin, "/scripts");
        async move { page.await.contains("broken.rhai:") }
    })
    .await;
    browser
        .find(Locator::LinkText("Scripts"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let table = text_of(&browser, "#scripts").await;
    let located = table
        .split_whitespace()
        .find(|w| w.contains("broken.rhai:"))
        .unwrap_or_else(|| panic!("{table}"));
    let mut parts = located
        .trim_end_matches(':')
        .rsplit(':')
        .take(2)
        .map(|n| n.parse::<u32>());
    assert!(
        matches!((parts.next(), parts.next()), (Some(Ok(col)), Some(Ok(3))) if col > 0),
        "line 3 and a column: {located} in {table}"
    );
    assert!(table.contains("rejected"), "{table}");
    screenshot(&browser, &shots, "scripts").await;
    // Preview with a file that does not load: nothing replayed, the error at path:line:col.
    let error = preview(&browser, "broken.rhai", "#preview-error").await;
    assert!(
        error.contains("nothing was replayed") && error.contains("broken.rhai:3:"),
        "{error}"
    );
    screenshot(&browser, &shots, "preview-broken").await;

    for (name, path) in [("unrouted", "/unrouted"), ("quarantine", "/quarantine")] {
        browser.goto(&format!("{base}{path}")).await.unwrap();
        text_of(&browser, "main h1").await;
        screenshot(&browser, &shots, name).await;
    }
    // The quarantined body, its phone number masked.
    browser.goto(&format!("{base}/quarantine")).await.unwrap();
    browser
        .find(Locator::LinkText("1"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let raw = text_of(&browser, "#body").await;
    assert!(raw.contains("\"leads_id\": 9003"), "{raw}");
    assert!(!raw.contains("13700001234"), "a full phone number: {raw}");
    screenshot(&browser, &shots, "quarantined-body").await;

    // Log out: the console asks for the token again.
    browser
        .find(Locator::Css("#logout"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait()
        .for_element(Locator::Css("input[name=token]"))
        .await
        .unwrap();
    browser.goto(&format!("{base}/")).await.unwrap();
    browser
        .wait()
        .for_element(Locator::Css("input[name=token]"))
        .await
        .unwrap();
}

/// Presses `script`'s Preview button on the scripts page and waits for a new result, then
/// returns the text of `css` (`#preview-summary` or `#preview-error`).
async fn preview(browser: &Client, script: &str, css: &str) -> String {
    let before = preview_number(browser).await;
    browser
        .find(Locator::Css(&format!("button.preview[value$='/{script}']")))
        .await
        .unwrap_or_else(|e| panic!("no Preview button for {script}: {e}"))
        .click()
        .await
        .unwrap();
    // The POST answers when the preview ends (at most 30 s); its result has the next number.
    eventually("the preview's result", || {
        let browser = browser.clone();
        async move { preview_number(&browser).await == before + 1 }
    })
    .await;
    let about = text_of(browser, "#preview p.muted").await;
    assert!(
        about.starts_with("Asked from ") && about.contains(&format!("/{script} at ")),
        "{about}"
    );
    text_of(browser, css).await
}

/// The number of the preview the page shows (0: none yet).
async fn preview_number(browser: &Client) -> u64 {
    let Ok(section) = browser.find(Locator::Css("#preview")).await else {
        return 0;
    };
    section
        .attr("data-run")
        .await
        .ok()
        .flatten()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// No full phone number, and no credential (the admin token, the simulator's push secret) on
/// the page.
async fn no_phones(browser: &Client, phones: &[String]) {
    let page = browser.source().await.unwrap();
    assert!(!page.contains(TOKEN), "the admin token on the page");
    assert!(
        !page.contains(leadrelay::sim::tencent::SIM_SECRET),
        "a secret on the page"
    );
    for phone in phones {
        assert!(
            !page.contains(phone.as_str()),
            "a full phone number on the page"
        );
    }
}

const PAGES: [&str; 9] = [
    "/",
    "/leads",
    "/leads?q=5678",
    "/leads/1",
    "/dead",
    "/unrouted",
    "/quarantine",
    "/scripts",
    "/sources",
];
const ACTIONS: [&str; 2] = ["/dead/retry", "/unrouted/reroute"];
const PREVIEW: &str = "/scripts/preview";

#[test]
fn every_console_page_and_action_needs_the_token_and_no_page_shows_a_phone() {
    let daemon = start_with(FIXED);
    let journal = daemon.dir.path().join("leadrelay.db");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        push(
            &http,
            &daemon,
            json!({"leads_id": 9101, "leads_type": "LEADS_TYPE_FORM", "leads_name": "<b>王</b>",
                   "leads_tel": "13812345678", "leads_create_time": "2026-11-22 10:00:00"}),
        )
        .await;
        eventually("9101 routed", || {
            let state = state_of(&journal, "9101");
            async move { state == Some(WorkState::Done) }
        })
        .await;
        let url = |path: &str| format!("http://{}{path}", daemon.admin);
        for path in PAGES {
            let anonymous = http.get(url(path)).send().await.unwrap();
            assert_eq!(anonymous.status(), 401, "GET {path} without a token");
            let wrong = http
                .get(url(path))
                .bearer_auth("not-the-token")
                .send()
                .await
                .unwrap();
            assert_eq!(wrong.status(), 401, "GET {path} with a wrong token");
            let forged = http
                .get(url(path))
                .header("cookie", "leadrelay_session=forged")
                .send()
                .await
                .unwrap();
            assert_eq!(forged.status(), 401, "GET {path} with a forged cookie");
            let page = http.get(url(path)).bearer_auth(TOKEN).send().await.unwrap();
            assert_eq!(page.status(), 200, "GET {path} with the token");
            let html = page.text().await.unwrap();
            assert!(!html.contains("13812345678"), "{path} shows a full phone");
            assert!(!html.contains(TOKEN), "{path} shows the token");
            assert!(!html.contains("<b>王</b>"), "{path} does not escape a name");
        }
        // The name is shown escaped in the story.
        let story = admin_get(&http, &daemon.admin, "/leads/1").await;
        assert!(story.contains("&lt;b&gt;王&lt;/b&gt;"), "{story}");
        for path in ACTIONS.into_iter().chain([PREVIEW]) {
            let anonymous = http
                .post(url(path))
                .form(&[("which", "all"), ("script", "route.rhai")])
                .send()
                .await
                .unwrap();
            assert_eq!(anonymous.status(), 401, "POST {path} without a token");
            let wrong = http
                .post(url(path))
                .bearer_auth("not-the-token")
                .form(&[("which", "all"), ("script", "route.rhai")])
                .send()
                .await
                .unwrap();
            assert_eq!(wrong.status(), 401, "POST {path} with a wrong token");
        }
        let scripts = admin_get(&http, &daemon.admin, "/scripts").await;
        assert!(
            !scripts.contains("id=\"preview\""),
            "no preview has run: {scripts}"
        );
        // Logged in by cookie, an action needs the csrf field.
        let login = http
            .post(url("/login"))
            .form(&[("token", TOKEN)])
            .send()
            .await
            .unwrap();
        let cookie = login.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        let overview = http
            .get(url("/"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = overview
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("the logout form carries the csrf field")
            .to_string();
        for path in ACTIONS {
            let no_csrf = http
                .post(url(path))
                .header("cookie", &cookie)
                .form(&[("which", "all")])
                .send()
                .await
                .unwrap();
            assert_eq!(no_csrf.status(), 403, "POST {path} without csrf");
            let with_csrf = http
                .post(url(path))
                .header("cookie", &cookie)
                .form(&[("which", "all"), ("csrf", csrf.as_str())])
                .send()
                .await
                .unwrap();
            assert_eq!(with_csrf.status(), 303, "POST {path} with csrf");
            let to = with_csrf.headers()["location"].to_str().unwrap();
            assert!(to.contains("note=0+"), "nothing to put back: {to}");
        }
        // The Preview button: a cookie POST needs the csrf field too; then the scripts page
        // shows what the scripts on disk would do to the journal's lead.
        let no_csrf = http
            .post(url(PREVIEW))
            .header("cookie", &cookie)
            .form(&[("script", "route.rhai")])
            .send()
            .await
            .unwrap();
        assert_eq!(no_csrf.status(), 403, "POST {PREVIEW} without csrf");
        let started = Instant::now();
        let previewed = http
            .post(url(PREVIEW))
            .header("cookie", &cookie)
            .form(&[("script", "route.rhai"), ("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(previewed.status(), 303, "POST {PREVIEW} with csrf");
        assert_eq!(previewed.headers()["location"], "/scripts#preview");
        assert!(started.elapsed() < Duration::from_secs(30), "bounded");
        let page = admin_get(&http, &daemon.admin, "/scripts").await;
        assert!(
            page.contains("<p id=\"preview-summary\" class=\"ok\"><b>1 lead: 1 unchanged</b></p>"),
            "{page}"
        );
        assert!(page.contains("Asked from"), "{page}");
        assert!(
            !page.contains("13812345678"),
            "the preview shows a full phone"
        );
        assert!(!page.contains(TOKEN), "the preview shows the token");
    });
}
