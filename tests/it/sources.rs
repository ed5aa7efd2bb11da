//! Lead sources end to end: the webhook server (real HTTP on 127.0.0.1) and the pull workers
//! against the simulators, both writing into an in-memory [`Intake`].

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use leadrelay::clock::Clock;
use leadrelay::config::Credentials;
use leadrelay::connectors::tencent::config::Algorithm;
use leadrelay::connectors::tencent::webhook::{sign_push, PUSH_ACK};
use leadrelay::connectors::waiqin::webhook::{encode_follow_push, PushMeta};
use leadrelay::connectors::{Accounts, HttpClient, Vendor};
use leadrelay::lead::Lead;
use leadrelay::sim::Faults;
use leadrelay::store::types::{Accepted, Arrival, Checkpoint, FollowArrival, Quarantined, Via};
use leadrelay::trigger::guard::NetList;
use leadrelay::trigger::pull::{
    self, pull_once, pull_sources, run_pulls, PullError, ScheduledPull,
};
use leadrelay::trigger::webhook::{self, push_routes, PushCounters, PushRoute, WebhookOptions};
use leadrelay::trigger::{Intake, IntakeError, SourceSpec};
use serde_json::{json, Value};
use tokio::sync::{oneshot, watch};

use crate::common::Harness;

// ---------------------------------------------------------------------------------------------
// The fake intake
// ---------------------------------------------------------------------------------------------

#[derive(Default)]
struct Store {
    leads: BTreeMap<(String, String), (Lead, Arrival)>,
    follows: BTreeMap<(String, String), FollowArrival>,
    quarantine: Vec<Quarantined>,
    checkpoints: HashMap<(String, String), String>,
    outcomes: Vec<Accepted>,
}

/// A Mutex'd journal: de-duplicates by (account, id), commits leads and checkpoint together,
/// and can be told to fail, to be overloaded, or to take its time committing.
#[derive(Default)]
struct FakeIntake {
    store: Mutex<Store>,
    fail: AtomicBool,
    overloaded: AtomicBool,
    commit_delay_ms: AtomicU64,
}

impl FakeIntake {
    fn lock(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap()
    }
    fn lead_count(&self) -> usize {
        self.lock().leads.len()
    }
    fn checkpoint_of(&self, account: &str, endpoint: &str) -> Option<String> {
        self.lock()
            .checkpoints
            .get(&(account.to_string(), endpoint.to_string()))
            .cloned()
    }
    fn failing(&self) -> Result<(), IntakeError> {
        if self.fail.load(Ordering::SeqCst) {
            Err(IntakeError("disk full (simulated)".into()))
        } else {
            Ok(())
        }
    }
    async fn delay(&self) {
        let ms = self.commit_delay_ms.load(Ordering::SeqCst);
        if ms > 0 {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
    }
}

impl Intake for FakeIntake {
    async fn accept_leads(
        &self,
        leads: Vec<Lead>,
        arrival: Arrival,
        checkpoint: Option<Checkpoint>,
    ) -> Result<Vec<Accepted>, IntakeError> {
        self.delay().await;
        self.failing()?;
        let mut store = self.lock();
        let mut out = Vec::with_capacity(leads.len());
        for lead in leads {
            let key = (lead.account.clone(), lead.id.clone());
            match store.leads.entry(key) {
                Entry::Occupied(_) => out.push(Accepted::Duplicate),
                Entry::Vacant(slot) => {
                    slot.insert((lead, arrival.clone()));
                    out.push(Accepted::New);
                }
            }
        }
        if let Some(c) = checkpoint {
            store
                .checkpoints
                .insert((c.account, c.endpoint), c.position);
        }
        store.outcomes.extend(out.iter().copied());
        Ok(out)
    }

    async fn accept_follow(&self, follow: FollowArrival) -> Result<Accepted, IntakeError> {
        self.delay().await;
        self.failing()?;
        let mut store = self.lock();
        let key = (follow.account.clone(), follow.msg_id.clone());
        let outcome = match store.follows.entry(key) {
            Entry::Occupied(_) => Accepted::Duplicate,
            Entry::Vacant(slot) => {
                slot.insert(follow);
                Accepted::New
            }
        };
        store.outcomes.push(outcome);
        Ok(outcome)
    }

    async fn quarantine(&self, item: Quarantined) -> Result<i64, IntakeError> {
        self.failing()?;
        let mut store = self.lock();
        store.quarantine.push(item);
        Ok(store.quarantine.len() as i64)
    }

    async fn checkpoint(
        &self,
        account: &str,
        endpoint: &str,
    ) -> Result<Option<String>, IntakeError> {
        Ok(self.checkpoint_of(account, endpoint))
    }

    fn is_overloaded(&self) -> bool {
        self.overloaded.load(Ordering::SeqCst)
    }
}

// ---------------------------------------------------------------------------------------------
// Webhook helpers
// ---------------------------------------------------------------------------------------------

const TX_PATH: &str = "/hooks/tencent/sim_tencent";
const WQ_PATH: &str = "/hooks/waiqin/sim_waiqin";
const TX_ACCOUNT: &str = "sim_tencent";
const WQ_ACCOUNT: &str = "sim_waiqin";

fn source(account: &str, pull: Option<&str>, push: Option<&str>) -> SourceSpec {
    SourceSpec {
        account: account.to_string(),
        pull: pull.map(str::to_string),
        push: push.map(str::to_string),
        overlap_secs: 600,
        page_size: None,
        allow_from: None,
    }
}

struct Hooks {
    harness: Harness,
    intake: Arc<FakeIntake>,
    url: String,
    http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    /// Clones of the served routes: they share the replay guards' counters.
    routes: Vec<PushRoute>,
}

impl Hooks {
    async fn start(options: WebhookOptions) -> Hooks {
        Self::start_guarded(options, None).await
    }

    /// Both push paths, each with `allow_from` when given.
    async fn start_guarded(options: WebhookOptions, allow_from: Option<&[&str]>) -> Hooks {
        let harness = Harness::start().await;
        let allow_from = allow_from.map(|a| a.iter().map(|e| e.to_string()).collect::<Vec<_>>());
        let sources = [
            source(TX_ACCOUNT, None, Some(TX_PATH)),
            source(WQ_ACCOUNT, None, Some(WQ_PATH)),
        ]
        .map(|s| SourceSpec {
            allow_from: allow_from.clone(),
            ..s
        });
        let routes = push_routes(&harness.config, &sources).expect("routes");
        let intake = Arc::new(FakeIntake::default());
        let app = webhook::router(intake.clone(), routes.clone(), options);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(webhook::serve(listener, app, async {
            let _ = stopped.await;
        }));
        Hooks {
            harness,
            intake,
            url,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
            stop: Some(stop),
            server,
            routes,
        }
    }

    /// `(path, suspicious pushes)` of every guarded path, as the daemon's status file has them.
    fn suspicious(&self) -> Vec<(String, u64)> {
        PushCounters::of(&self.routes).snapshot()
    }

    async fn control(&self, path: &str, body: Value) -> Value {
        self.http
            .post(format!("{}{path}", self.harness.base_url()))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// A push the simulator signed: (headers, body bytes).
    async fn sim_tencent_push(&self) -> (Vec<(String, String)>, Vec<u8>) {
        let push = self
            .control("/_sim/tencent/push", json!({"algorithm": "SHA256"}))
            .await;
        let headers = push["headers"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect();
        (headers, serde_json::to_vec(&push["body"]).unwrap())
    }

    async fn post(
        &self,
        path: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
    ) -> (u16, Option<String>, String) {
        let mut request = self.http.post(format!("{}{path}", self.url)).body(body);
        for (k, v) in headers {
            request = request.header(k.as_str(), v.as_str());
        }
        let response = request.send().await.expect("the webhook server answers");
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_string());
        (status, retry_after, response.text().await.unwrap())
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(5), self.server)
            .await
            .expect("graceful shutdown is prompt")
            .unwrap()
            .unwrap();
    }
}

fn tencent_headers(token: &str, secret: &str, ts: i64) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = sign_push(token, secret, ts, Algorithm::Sha256)
        .pairs()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    headers.push(("Content-Type".into(), "application/json".into()));
    headers
}

fn form_headers() -> Vec<(String, String)> {
    vec![(
        "Content-Type".into(),
        "application/x-www-form-urlencoded".into(),
    )]
}

fn follow_body(msg_id: &str, data: &str, secret: &str) -> Vec<u8> {
    let meta = PushMeta {
        data_id: Some(format!("d-{msg_id}")),
        ..PushMeta::follow(msg_id, Clock::system().unix_millis())
    };
    encode_follow_push(&meta, data, secret).into_bytes()
}

const FOLLOW_DATA: &str = r#"{"lead_ID":"SK202101090003","lead_code":"zsmd","activity_content":"电话回访","ext_score":"7"}"#;

// ---------------------------------------------------------------------------------------------
// Webhook tests
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn tencent_push_is_answered_after_commit_and_a_replay_is_a_duplicate() {
    let hooks = Hooks::start(WebhookOptions::default()).await;
    hooks.intake.commit_delay_ms.store(150, Ordering::SeqCst);
    let (headers, body) = hooks.sim_tencent_push().await;
    let lead_id = leadrelay::connectors::tencent::model::TencentLead::from_value(
        serde_json::from_slice(&body).unwrap(),
    )
    .unwrap()
    .leads_id;

    let started = Instant::now();
    let (status, _, answer) = hooks.post(TX_PATH, &headers, body.clone()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer, PUSH_ACK);
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "answered before the intake committed"
    );
    {
        let store = hooks.intake.lock();
        let (lead, arrival) = &store.leads[&(TX_ACCOUNT.to_string(), lead_id.clone())];
        assert_eq!(lead.vendor, Vendor::Tencent);
        assert_eq!(arrival.via, Via::Push);
        assert_eq!(arrival.endpoint, TX_PATH);
        assert!(arrival.received_at_ms > 0);
    }

    let (status, _, answer) = hooks.post(TX_PATH, &headers, body).await;
    assert_eq!((status, answer.as_str()), (200, PUSH_ACK));
    assert_eq!(hooks.intake.lead_count(), 1);
    assert_eq!(
        hooks.intake.lock().outcomes,
        vec![Accepted::New, Accepted::Duplicate]
    );
    hooks.stop().await;
}

#[tokio::test]
async fn tencent_push_signed_locally_with_sha256_is_accepted() {
    let hooks = Hooks::start(WebhookOptions::default()).await;
    let lead = hooks
        .control("/_sim/tencent/leads", json!({"count": 1}))
        .await["leads"][0]
        .clone();
    let headers = tencent_headers(
        leadrelay::sim::tencent::SIM_TOKEN,
        leadrelay::sim::tencent::SIM_SECRET,
        Clock::system().unix_secs(),
    );
    let (status, _, answer) = hooks
        .post(TX_PATH, &headers, serde_json::to_vec(&lead).unwrap())
        .await;
    assert_eq!((status, answer.as_str()), (200, PUSH_ACK));
    assert_eq!(hooks.intake.lead_count(), 1);
    hooks.stop().await;
}

#[tokio::test]
async fn tencent_forged_wrong_token_and_stale_pushes_are_401_and_store_nothing() {
    let hooks = Hooks::start(WebhookOptions::default()).await;
    let (_, body) = hooks.sim_tencent_push().await;
    let now = Clock::system().unix_secs();
    let token = leadrelay::sim::tencent::SIM_TOKEN;
    let secret = leadrelay::sim::tencent::SIM_SECRET;
    let cases = [
        ("forged", tencent_headers(token, "not-the-secret", now)),
        ("wrong token", tencent_headers("99999", secret, now)),
        ("stale", tencent_headers(token, secret, now - 400)),
        ("future", tencent_headers(token, secret, now + 400)),
        ("missing", vec![]),
    ];
    for (name, headers) in cases {
        let (status, _, answer) = hooks.post(TX_PATH, &headers, body.clone()).await;
        assert_eq!(status, 401, "{name}: {answer}");
        let answer: Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(answer["code"], 2001, "{name}");
        assert!(answer["message"].as_str().unwrap().contains("unauthorized"));
    }
    // A malformed body with a bad signature is still 401: nothing reaches the quarantine.
    let (status, _, _) = hooks
        .post(
            TX_PATH,
            &tencent_headers(token, "nope", now),
            b"{not json".to_vec(),
        )
        .await;
    assert_eq!(status, 401);
    assert_eq!(hooks.intake.lead_count(), 0);
    assert!(hooks.intake.lock().quarantine.is_empty());
    hooks.stop().await;
}

#[tokio::test]
async fn waiqin_follow_push_is_acknowledged_with_its_msg_id_once() {
    let hooks = Hooks::start(WebhookOptions::default()).await;
    let secret = leadrelay::sim::waiqin::PUSHSECRET;
    let body = follow_body("7898952955531954883", FOLLOW_DATA, secret);
    let (status, _, answer) = hooks.post(WQ_PATH, &form_headers(), body.clone()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer,
        r#"{"return_code":0,"return_msg":"","msg_id":"7898952955531954883"}"#
    );
    {
        let store = hooks.intake.lock();
        let follow = &store.follows[&(WQ_ACCOUNT.to_string(), "7898952955531954883".to_string())];
        assert_eq!(follow.data_id.as_deref(), Some("d-7898952955531954883"));
        assert_eq!(follow.record["lead_ID"], "SK202101090003");
        assert_eq!(follow.record["ext_score"], "7");
        assert_eq!(follow.arrival.endpoint, WQ_PATH);
        assert_eq!(follow.arrival.via, Via::Push);
    }
    // 勤策 re-sends with status=2 until it hears success: same msgId, one row.
    let (status, _, answer) = hooks.post(WQ_PATH, &form_headers(), body).await;
    assert_eq!(status, 200);
    assert!(answer.contains("\"return_code\":0"));
    assert_eq!(hooks.intake.lock().follows.len(), 1);
    assert_eq!(
        hooks.intake.lock().outcomes,
        vec![Accepted::New, Accepted::Duplicate]
    );

    // A push produced by the simulator's own control.
    let generated = hooks
        .control("/_sim/waiqin/leads", json!({"count": 1}))
        .await;
    let code = generated["first_code"].as_str().unwrap();
    let push = hooks
        .control("/_sim/waiqin/follow", json!({"code": code}))
        .await;
    let body = push["body"].as_str().unwrap().as_bytes().to_vec();
    let (status, _, answer) = hooks.post(WQ_PATH, &form_headers(), body).await;
    assert_eq!(status, 200, "{answer}");
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["msg_id"], push["msg_id"]);
    assert_eq!(hooks.intake.lock().follows.len(), 2);
    hooks.stop().await;
}

#[tokio::test]
async fn waiqin_wrong_digest_is_401_in_the_vendors_shape() {
    let hooks = Hooks::start(WebhookOptions::default()).await;
    let body = follow_body("1", FOLLOW_DATA, "WrongSecret");
    let (status, _, answer) = hooks.post(WQ_PATH, &form_headers(), body).await;
    assert_eq!(status, 401);
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["return_code"], 1);
    assert!(hooks.intake.lock().follows.is_empty());
    assert!(hooks.intake.lock().quarantine.is_empty());
    hooks.stop().await;
}

#[tokio::test]
async fn verified_but_unparsable_pushes_are_400_and_quarantined_byte_for_byte() {
    let hooks = Hooks::start(WebhookOptions::default()).await;
    let headers = tencent_headers(
        leadrelay::sim::tencent::SIM_TOKEN,
        leadrelay::sim::tencent::SIM_SECRET,
        Clock::system().unix_secs(),
    );
    let tencent_body = b"[{\"leads_id\": 1}, \xff garbage".to_vec();
    let (status, _, answer) = hooks.post(TX_PATH, &headers, tencent_body.clone()).await;
    assert_eq!(status, 400, "{answer}");
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["code"], 2101);
    assert!(answer["message"].as_str().unwrap().contains("not JSON"));

    let waiqin_body = follow_body(
        "42",
        "{this is not json",
        leadrelay::sim::waiqin::PUSHSECRET,
    );
    let (status, _, answer) = hooks
        .post(WQ_PATH, &form_headers(), waiqin_body.clone())
        .await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer.contains("\"return_code\":1"), "{answer}");

    {
        let store = hooks.intake.lock();
        assert!(store.leads.is_empty() && store.follows.is_empty());
        assert_eq!(store.quarantine.len(), 2);
        let (t, w) = (&store.quarantine[0], &store.quarantine[1]);
        assert_eq!(t.body, tencent_body);
        assert_eq!(t.account, TX_ACCOUNT);
        assert_eq!(t.endpoint, TX_PATH);
        assert_eq!(t.content_type.as_deref(), Some("application/json"));
        assert!(t.reason.contains("not JSON"), "{}", t.reason);
        assert_eq!(w.body, waiqin_body);
        assert_eq!(w.account, WQ_ACCOUNT);
        assert!(w.reason.contains("not a follow record"), "{}", w.reason);
    }
    hooks.stop().await;
}

#[tokio::test]
async fn oversize_overloaded_failing_intake_unknown_path_and_wrong_method() {
    let hooks = Hooks::start(WebhookOptions {
        max_body_bytes: 4096,
        retry_after_secs: 7,
        ..WebhookOptions::default()
    })
    .await;
    let now = Clock::system().unix_secs();
    let token = leadrelay::sim::tencent::SIM_TOKEN;
    let secret = leadrelay::sim::tencent::SIM_SECRET;

    let (status, _, answer) = hooks
        .post(
            TX_PATH,
            &tencent_headers(token, secret, now),
            vec![b' '; 5000],
        )
        .await;
    assert_eq!(status, 413, "{answer}");
    assert!(answer.contains("4096 bytes"), "{answer}");
    let (status, _, _) = hooks.post(WQ_PATH, &form_headers(), vec![b'a'; 5000]).await;
    assert_eq!(status, 413);

    hooks.intake.overloaded.store(true, Ordering::SeqCst);
    let (headers, body) = hooks.sim_tencent_push().await;
    let (status, retry_after, answer) = hooks.post(TX_PATH, &headers, body.clone()).await;
    assert_eq!(status, 503, "{answer}");
    assert_eq!(retry_after.as_deref(), Some("7"));
    let wq = follow_body("9", FOLLOW_DATA, leadrelay::sim::waiqin::PUSHSECRET);
    let (status, retry_after, _) = hooks.post(WQ_PATH, &form_headers(), wq.clone()).await;
    assert_eq!((status, retry_after.as_deref()), (503, Some("7")));
    hooks.intake.overloaded.store(false, Ordering::SeqCst);

    hooks.intake.fail.store(true, Ordering::SeqCst);
    let (status, _, answer) = hooks.post(TX_PATH, &headers, body.clone()).await;
    assert_eq!(status, 503, "{answer}");
    assert_ne!(answer, PUSH_ACK);
    let (status, _, answer) = hooks.post(WQ_PATH, &form_headers(), wq.clone()).await;
    assert_eq!(status, 503);
    assert!(answer.contains("\"return_code\":1"), "{answer}");
    hooks.intake.fail.store(false, Ordering::SeqCst);
    assert_eq!(hooks.intake.lead_count(), 0);

    // After the journal recovers the platform's retry goes through.
    let (status, _, answer) = hooks.post(TX_PATH, &headers, body).await;
    assert_eq!((status, answer.as_str()), (200, PUSH_ACK));

    let (status, _, _) = hooks
        .post("/hooks/tencent/nobody", &headers, b"{}".to_vec())
        .await;
    assert_eq!(status, 404);
    let (status, _, _) = hooks.post("/", &[], vec![]).await;
    assert_eq!(status, 404);
    let response = hooks
        .http
        .get(format!("{}{TX_PATH}", hooks.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    assert_eq!(response.headers()["allow"], "POST");
    assert_eq!(hooks.intake.lead_count(), 1);
    hooks.stop().await;
}

#[test]
fn garbage_never_panics_the_webhook_server() {
    use proptest::prelude::*;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let hooks = rt.block_on(Hooks::start(WebhookOptions {
        max_body_bytes: 2048,
        ..WebhookOptions::default()
    }));
    let header_names = [
        "X-Signature",
        "X-Signature-Algorithm",
        "Content-Type",
        "X-Other",
    ];
    let config = ProptestConfig {
        cases: 96,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(
        body in proptest::collection::vec(any::<u8>(), 0..3000),
        headers in proptest::collection::vec((0usize..4, "[ -~]{0,80}"), 0..4),
        target in 0usize..3,
    )| {
        let path = [TX_PATH, WQ_PATH, "/hooks/x"][target];
        let headers: Vec<(String, String)> = headers
            .into_iter()
            .map(|(i, v)| (header_names[i].to_string(), v))
            .collect();
        let (status, _, _) = rt.block_on(hooks.post(path, &headers, body));
        prop_assert!([400u16, 401, 404, 413].contains(&status), "status {}", status);
    });
    // Still serving, and nothing got in.
    let (headers, body) = rt.block_on(hooks.sim_tencent_push());
    let (status, _, _) = rt.block_on(hooks.post(TX_PATH, &headers, body));
    assert_eq!(status, 200);
    assert_eq!(hooks.intake.lead_count(), 1);
    assert!(hooks.intake.lock().follows.is_empty());
    rt.block_on(hooks.stop());
}

// ---------------------------------------------------------------------------------------------
// Push security (issue 8, item 12): allow_from, trusted proxies, the replay guard. Every request
// goes to 127.0.0.1; "outside" means an allow-list that leaves 127.0.0.1 out.
// ---------------------------------------------------------------------------------------------

fn with_header(
    mut headers: Vec<(String, String)>,
    name: &str,
    value: &str,
) -> Vec<(String, String)> {
    headers.push((name.to_string(), value.to_string()));
    headers
}

#[tokio::test]
async fn push_from_outside_allow_from_is_refused_and_not_stored() {
    let hooks = Hooks::start_guarded(WebhookOptions::default(), Some(&["10.1.0.0/16"])).await;
    let (headers, body) = hooks.sim_tencent_push().await;
    let (status, _, answer) = hooks.post(TX_PATH, &headers, body.clone()).await;
    assert_eq!(status, 403, "{answer}");
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["code"], 2100, "Tencent's reject shape: {answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("127.0.0.1 is not allowed"),
        "{answer}"
    );
    // A correctly signed but unreadable body would be quarantined from an allowed sender; from
    // outside nothing is read, so nothing reaches the quarantine either.
    let signed = tencent_headers(
        leadrelay::sim::tencent::SIM_TOKEN,
        leadrelay::sim::tencent::SIM_SECRET,
        Clock::system().unix_secs(),
    );
    let (status, _, _) = hooks.post(TX_PATH, &signed, b"{not json".to_vec()).await;
    assert_eq!(status, 403);
    // Without trusted_proxies an X-Forwarded-For naming an allowed address is the sender's own
    // claim and changes nothing.
    let spoofed = with_header(headers.clone(), "X-Forwarded-For", "10.1.2.3");
    let (status, _, _) = hooks.post(TX_PATH, &spoofed, body.clone()).await;
    assert_eq!(status, 403);
    // Waiqin follow pushes are guarded the same way, refused in Waiqin's shape.
    let follow = follow_body("77", FOLLOW_DATA, leadrelay::sim::waiqin::PUSHSECRET);
    let (status, _, answer) = hooks.post(WQ_PATH, &form_headers(), follow.clone()).await;
    assert_eq!(status, 403, "{answer}");
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["return_code"], 1, "{answer}");
    let bad_follow = follow_body("78", "{not json", leadrelay::sim::waiqin::PUSHSECRET);
    let (status, _, _) = hooks.post(WQ_PATH, &form_headers(), bad_follow).await;
    assert_eq!(status, 403);
    {
        let store = hooks.intake.lock();
        assert!(store.leads.is_empty(), "a refused push was stored");
        assert!(store.follows.is_empty(), "a refused follow push was stored");
        assert!(
            store.quarantine.is_empty(),
            "a refused push was quarantined"
        );
        assert!(store.outcomes.is_empty());
    }
    assert_eq!(
        hooks.suspicious(),
        vec![(TX_PATH.to_string(), 0)],
        "refused pushes never reach the replay guard"
    );
    hooks.stop().await;

    // The same pushes from an allowed address (loopback listed, plain IPs in both families).
    let hooks = Hooks::start_guarded(
        WebhookOptions::default(),
        Some(&["10.1.0.0/16", "127.0.0.1", "::1/128"]),
    )
    .await;
    let (status, _, answer) = hooks.post(TX_PATH, &headers, body).await;
    assert_eq!((status, answer.as_str()), (200, PUSH_ACK));
    let (status, _, _) = hooks.post(WQ_PATH, &form_headers(), follow).await;
    assert_eq!(status, 200);
    assert_eq!(hooks.intake.lead_count(), 1);
    assert_eq!(hooks.intake.lock().follows.len(), 1);
    hooks.stop().await;
}

#[tokio::test]
async fn x_forwarded_for_is_trusted_only_from_trusted_proxies() {
    // The test client (127.0.0.1) plays the reverse proxy.
    let options = WebhookOptions {
        trusted_proxies: NetList::parse(&["127.0.0.1/32"]).unwrap(),
        ..WebhookOptions::default()
    };
    let hooks = Hooks::start_guarded(options, Some(&["10.1.0.0/16"])).await;
    let cases: [(&str, &[&str], u16); 8] = [
        ("no header: the proxy itself is the sender", &[], 403),
        ("client in allow_from", &["10.1.2.3"], 200),
        (
            "an allowed address written by an outside client to the left of what the proxy appended",
            &["10.1.2.3, 203.0.113.9"],
            403,
        ),
        (
            "right-most untrusted entry is allowed; the left part is the client's and ignored",
            &["203.0.113.9, 10.1.2.4"],
            200,
        ),
        ("trusted hops are skipped", &["10.1.2.5, 127.0.0.1"], 200),
        (
            "several header lines are one list",
            &["10.1.2.6", "203.0.113.9"],
            403,
        ),
        ("unreadable entry fails closed", &["10.1.2.7, unknown"], 403),
        ("with a port", &["10.1.2.8:51234"], 200),
    ];
    let mut accepted = 0;
    for (name, forwarded, expected) in cases {
        let (mut headers, body) = hooks.sim_tencent_push().await;
        for value in forwarded {
            headers = with_header(headers, "X-Forwarded-For", value);
        }
        let (status, _, answer) = hooks.post(TX_PATH, &headers, body).await;
        assert_eq!(status, expected, "{name}: {answer}");
        if expected == 403 {
            let answer: Value = serde_json::from_str(&answer).unwrap();
            assert_eq!(answer["code"], 2100, "{name}");
        } else {
            accepted += 1;
        }
    }
    assert_eq!(hooks.intake.lead_count(), accepted);
    assert!(hooks.intake.lock().quarantine.is_empty());
    hooks.stop().await;

    // Trusted proxies that do not include the peer: the header is ignored again.
    let options = WebhookOptions {
        trusted_proxies: NetList::parse(&["10.9.0.0/16"]).unwrap(),
        ..WebhookOptions::default()
    };
    let hooks = Hooks::start_guarded(options, Some(&["10.1.0.0/16"])).await;
    let (headers, body) = hooks.sim_tencent_push().await;
    let headers = with_header(headers, "X-Forwarded-For", "10.1.2.3");
    let (status, _, _) = hooks.post(TX_PATH, &headers, body).await;
    assert_eq!(status, 403);
    assert_eq!(hooks.intake.lead_count(), 0);
    hooks.stop().await;
}

/// The same signature in another encoding: the 4-part form with an invented nonce and the digest
/// in upper case, without base64 padding. None of it needs the secret.
fn reencoded(headers: &[(String, String)]) -> Vec<(String, String)> {
    use base64::Engine as _;
    headers
        .iter()
        .map(|(k, v)| {
            if !k.eq_ignore_ascii_case("x-signature") {
                return (k.clone(), v.clone());
            }
            let text =
                String::from_utf8(base64::engine::general_purpose::STANDARD.decode(v).unwrap())
                    .unwrap();
            let parts: Vec<&str> = text.split(',').collect();
            let variant = format!(
                "{},{},madeupnonce,{}",
                parts[0],
                parts[1],
                parts[2].to_ascii_uppercase()
            );
            (
                k.clone(),
                base64::engine::general_purpose::STANDARD_NO_PAD.encode(variant),
            )
        })
        .collect()
}

#[tokio::test]
async fn same_signature_with_another_body_is_counted_as_suspicious() {
    let hooks = Hooks::start(WebhookOptions::default()).await;
    let leads = hooks
        .control("/_sim/tencent/leads", json!({"count": 3}))
        .await["leads"]
        .clone();
    let body = |i: usize| serde_json::to_vec(&leads[i]).unwrap();
    let now = Clock::system().unix_secs();
    let headers = tencent_headers(
        leadrelay::sim::tencent::SIM_TOKEN,
        leadrelay::sim::tencent::SIM_SECRET,
        now,
    );
    let suspicious = |hooks: &Hooks| hooks.suspicious()[0].1;

    let (status, _, _) = hooks.post(TX_PATH, &headers, body(0)).await;
    assert_eq!(status, 200);
    // The same signature with the same body is an ordinary re-delivery.
    let (status, _, _) = hooks.post(TX_PATH, &headers, body(0)).await;
    assert_eq!(status, 200);
    assert_eq!(suspicious(&hooks), 0, "a re-delivery is not suspicious");

    // The same signature with another body: counted, and (by design) still accepted, because
    // the vendor's scheme cannot tell it from a second genuine lead pushed in the same second.
    let (status, _, answer) = hooks.post(TX_PATH, &headers, body(1)).await;
    assert_eq!((status, answer.as_str()), (200, PUSH_ACK));
    assert_eq!(suspicious(&hooks), 1);
    let (status, _, _) = hooks.post(TX_PATH, &headers, body(1)).await;
    assert_eq!(status, 200);
    assert_eq!(
        suspicious(&hooks),
        1,
        "re-delivering that body again is not counted twice"
    );

    // Re-encoding the header does not make it a new signature.
    let (status, _, answer) = hooks.post(TX_PATH, &reencoded(&headers), body(2)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(suspicious(&hooks), 2);

    // Another second is another signature.
    let later = tencent_headers(
        leadrelay::sim::tencent::SIM_TOKEN,
        leadrelay::sim::tencent::SIM_SECRET,
        now - 1,
    );
    let (status, _, _) = hooks.post(TX_PATH, &later, body(2)).await;
    assert_eq!(status, 200);
    assert_eq!(suspicious(&hooks), 2);

    // A bad signature never reaches the guard.
    let forged = tencent_headers(leadrelay::sim::tencent::SIM_TOKEN, "nope", now);
    let (status, _, _) = hooks.post(TX_PATH, &forged, body(1)).await;
    assert_eq!(status, 401);
    assert_eq!(suspicious(&hooks), 2);

    assert_eq!(hooks.intake.lead_count(), 3);
    // Waiqin's digest covers the data it carries: its path has no replay guard.
    assert_eq!(
        hooks.suspicious(),
        vec![(TX_PATH.to_string(), 2)],
        "only the Tencent path is guarded"
    );
    hooks.stop().await;
}

#[tokio::test]
async fn allow_from_config_errors_name_the_source_and_value() {
    let harness = Harness::start().await;
    let with_allow =
        |account: &str, pull: Option<&str>, push: Option<&str>, allow: &[&str]| SourceSpec {
            allow_from: Some(allow.iter().map(|e| e.to_string()).collect()),
            ..source(account, pull, push)
        };
    let err = |sources: &[SourceSpec]| push_routes(&harness.config, sources).unwrap_err();
    let e = err(&[
        source(TX_ACCOUNT, None, Some(TX_PATH)),
        with_allow(
            WQ_ACCOUNT,
            None,
            Some(WQ_PATH),
            &["10.0.0.0/8", "10.0.0.0/40"],
        ),
    ]);
    assert!(
        e.starts_with("[[sources]] #2 (account `sim_waiqin`): key `allow_from`: `10.0.0.0/40`"),
        "{e}"
    );
    let e = err(&[with_allow(
        TX_ACCOUNT,
        None,
        Some(TX_PATH),
        &["tencent.com"],
    )]);
    assert!(e.contains("`tencent.com` is not an IP address"), "{e}");
    let e = err(&[with_allow(TX_ACCOUNT, None, Some(TX_PATH), &[])]);
    assert!(e.contains("`allow_from` is empty"), "{e}");
    let e = err(&[with_allow(
        TX_ACCOUNT,
        Some("0 * * * * *"),
        None,
        &["10.0.0.0/8"],
    )]);
    assert!(e.contains("has no `push` path"), "{e}");

    let routes = push_routes(
        &harness.config,
        &[with_allow(
            TX_ACCOUNT,
            None,
            Some(TX_PATH),
            &["10.0.0.0/8", "::1"],
        )],
    )
    .unwrap();
    let allowed = routes[0].allow_from.as_ref().unwrap();
    assert!(allowed.contains("10.200.0.1".parse().unwrap()));
    assert!(allowed.contains("::1".parse().unwrap()));
    assert!(!allowed.contains("127.0.0.1".parse().unwrap()));
}

// ---------------------------------------------------------------------------------------------
// Config errors
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn push_config_errors_are_clear() {
    let harness = Harness::start().await;
    let config = &harness.config;
    let err = |sources: &[SourceSpec]| push_routes(config, sources).unwrap_err();

    let e = err(&[source("nope", None, Some("/hooks/x"))]);
    assert!(
        e.contains("[[sources]] #1 (account `nope`)") && e.contains("no account `nope`"),
        "{e}"
    );
    let e = err(&[source("sim_feiyu", None, Some("/hooks/f"))]);
    assert!(
        e.contains("feiyu does not push leads") && e.contains("pull"),
        "{e}"
    );
    let e = err(&[source("sim_xiaolanben", None, Some("/hooks/x"))]);
    assert!(e.contains("xiaolanben account, a destination"), "{e}");
    let e = err(&[source("sim_linkflow", None, Some("/hooks/l"))]);
    assert!(e.contains("linkflow account"), "{e}");
    let e = err(&[source(TX_ACCOUNT, None, Some("hooks/t"))]);
    assert!(e.contains("must start with `/`"), "{e}");
    let e = err(&[
        source(TX_ACCOUNT, None, Some("/hooks/same")),
        source(WQ_ACCOUNT, None, Some("/hooks/same")),
    ]);
    assert!(
        e.starts_with("[[sources]] #2 (account `sim_waiqin`)"),
        "{e}"
    );
    assert!(e.contains("already used by account `sim_tencent`"), "{e}");
    let e = err(&[source(TX_ACCOUNT, None, None)]);
    assert!(e.contains("neither `pull` nor `push`"), "{e}");

    let mut no_secret = config.clone();
    if let Some(Credentials::Waiqin(c)) = no_secret
        .accounts
        .get_mut(WQ_ACCOUNT)
        .map(|a| &mut a.credentials)
    {
        c.pushsecret = None;
    }
    let e = push_routes(&no_secret, &[source(WQ_ACCOUNT, None, Some(WQ_PATH))]).unwrap_err();
    assert!(e.contains("has no `pushsecret`"), "{e}");
    assert!(!e.contains(leadrelay::sim::waiqin::APPKEY));

    // Pull-only sources are not push routes.
    let routes = push_routes(config, &[source(TX_ACCOUNT, Some("0 */2 * * * *"), None)]).unwrap();
    assert!(routes.is_empty());
}

#[tokio::test]
async fn pull_config_errors_are_clear() {
    let harness = Harness::start().await;
    let config = &harness.config;
    let accounts = Accounts::from_config(config, HttpClient::new(), Clock::system());
    let err = |sources: &[SourceSpec]| pull_sources(config, &accounts, sources).unwrap_err();

    let e = err(&[source("ghost", Some("0 */2 * * * *"), None)]);
    assert!(e.contains("no account `ghost`"), "{e}");
    let e = err(&[source("sim_xiaolanben", Some("0 */2 * * * *"), None)]);
    assert!(
        e.contains("destination") && e.contains("tencent, feiyu and waiqin"),
        "{e}"
    );
    let e = err(&[source("sim_linkflow", Some("0 */2 * * * *"), None)]);
    assert!(e.contains("linkflow account"), "{e}");
    let e = err(&[source(TX_ACCOUNT, Some("every two minutes"), None)]);
    assert!(e.contains("key `pull`: bad cron expression"), "{e}");
    let mut big = source("sim_feiyu", Some("0 */2 * * * *"), None);
    big.page_size = Some(500);
    let e = err(&[big]);
    assert!(e.contains("key `page_size`: feiyu serves 1 to 100"), "{e}");

    let mut ok = source(TX_ACCOUNT, Some("*/30 * * * *"), Some(TX_PATH));
    ok.page_size = Some(50);
    let sources = pull_sources(
        config,
        &accounts,
        &[ok, source(WQ_ACCOUNT, None, Some(WQ_PATH))],
    )
    .unwrap();
    assert_eq!(sources.len(), 1);
    assert_eq!(sources[0].page_size, 50);
    assert_eq!(sources[0].endpoint(), "/leads/list");
}

// ---------------------------------------------------------------------------------------------
// Pulls
// ---------------------------------------------------------------------------------------------

fn pull_source(harness: &Harness, account: &str, page_size: Option<u32>) -> ScheduledPull {
    let accounts = Accounts::from_config(
        &harness.config,
        HttpClient::with_timeout(Duration::from_secs(5)),
        Clock::system(),
    );
    let mut spec = source(account, Some("* * * * * *"), None);
    spec.page_size = page_size;
    let mut sources = pull_sources(&harness.config, &accounts, &[spec]).unwrap();
    let mut source = sources.remove(0);
    source.page_pause = Duration::ZERO;
    source
}

async fn control(harness: &Harness, path: &str, body: Value) -> Value {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", harness.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    response.json().await.unwrap()
}

#[tokio::test]
async fn tencent_pull_pages_through_and_overlapping_windows_import_each_lead_once() {
    let harness = Harness::start().await;
    let intake = FakeIntake::default();
    let source = pull_source(&harness, TX_ACCOUNT, Some(7));
    control(
        &harness,
        "/_sim/tencent/leads",
        json!({"count": 30, "spread_secs": 300}),
    )
    .await;

    let now = Utc::now();
    let first = pull_once(&source, &intake, now).await.unwrap();
    assert_eq!((first.fetched, first.new, first.duplicate), (30, 30, 0));
    assert_eq!(first.window_end, now.timestamp());
    assert_eq!(
        first.window_start,
        now.timestamp() - pull::INITIAL_LOOKBACK_SECS
    );
    assert_eq!(
        intake.checkpoint_of(TX_ACCOUNT, "/leads/list"),
        Some(now.timestamp().to_string())
    );

    control(
        &harness,
        "/_sim/tencent/leads",
        json!({"count": 5, "spread_secs": 0}),
    )
    .await;
    let later = now + chrono::Duration::seconds(1);
    let second = pull_once(&source, &intake, later.max(Utc::now()))
        .await
        .unwrap();
    // The 600 s overlap re-reads the first 30: the journal drops them.
    assert_eq!(second.window_start, now.timestamp() - 600);
    assert_eq!((second.new, second.duplicate), (5, 30));
    assert_eq!(intake.lead_count(), 35);
    let store = intake.lock();
    assert!(store.leads.values().all(|(l, a)| {
        l.account == TX_ACCOUNT && a.via == Via::Pull && a.endpoint == "/leads/list"
    }));
}

#[tokio::test]
async fn feiyu_pull_is_day_granular_and_the_journal_drops_the_repeats() {
    let harness = Harness::start().await;
    let intake = FakeIntake::default();
    let source = pull_source(&harness, "sim_feiyu", Some(8));
    control(&harness, "/_sim/feiyu/clues", json!({"count": 20})).await;

    let first = pull_once(&source, &intake, Utc::now()).await.unwrap();
    assert_eq!((first.fetched, first.new), (20, 20));
    control(&harness, "/_sim/feiyu/clues", json!({"count": 3})).await;
    let second = pull_once(&source, &intake, Utc::now()).await.unwrap();
    assert_eq!((second.fetched, second.new, second.duplicate), (23, 3, 20));
    assert_eq!(intake.lead_count(), 23);
    assert!(intake
        .checkpoint_of("sim_feiyu", "/crm/v2/openapi/pull-clues/")
        .is_some());
}

#[tokio::test]
async fn waiqin_pull_by_modify_date() {
    let harness = Harness::start().await;
    let intake = FakeIntake::default();
    let source = pull_source(&harness, WQ_ACCOUNT, Some(4));
    control(&harness, "/_sim/waiqin/leads", json!({"count": 10})).await;
    let report = pull_once(&source, &intake, Utc::now()).await.unwrap();
    assert_eq!((report.fetched, report.new), (10, 10));
    let again = pull_once(&source, &intake, Utc::now()).await.unwrap();
    assert_eq!((again.new, again.duplicate), (0, 10));
    assert!(intake.lock().leads.keys().all(|(a, _)| a == WQ_ACCOUNT));
    assert!(intake
        .checkpoint_of(WQ_ACCOUNT, "querySalesLeads")
        .is_some());
}

#[tokio::test]
async fn a_failed_pull_leaves_the_checkpoint_and_loses_nothing() {
    let harness = Harness::start().await;
    let intake = FakeIntake::default();
    let source = pull_source(&harness, TX_ACCOUNT, Some(3));
    control(
        &harness,
        "/_sim/tencent/leads",
        json!({"count": 4, "spread_secs": 60}),
    )
    .await;
    let first_at = Utc::now();
    pull_once(&source, &intake, first_at).await.unwrap();
    let checkpoint = intake.checkpoint_of(TX_ACCOUNT, "/leads/list");
    assert_eq!(checkpoint, Some(first_at.timestamp().to_string()));

    control(
        &harness,
        "/_sim/tencent/leads",
        json!({"count": 6, "spread_secs": 0}),
    )
    .await;
    harness.sim.shared().set_faults(Faults {
        vendor: Some(Vendor::Tencent),
        error_rate: 1.0,
        status: Some(503),
        ..Faults::default()
    });
    let e = pull_once(&source, &intake, Utc::now()).await.unwrap_err();
    match &e {
        PullError::Vendor { source, .. } => assert!(source.retryable(), "{e}"),
        other => panic!("expected a vendor error, got {other}"),
    }
    assert!(e.to_string().contains("sim_tencent"), "{e}");
    assert_eq!(intake.checkpoint_of(TX_ACCOUNT, "/leads/list"), checkpoint);
    assert_eq!(intake.lead_count(), 4);
    harness.sim.shared().clear_faults();

    // The journal refusing the commit also leaves the checkpoint alone.
    intake.fail.store(true, Ordering::SeqCst);
    let e = pull_once(&source, &intake, Utc::now()).await.unwrap_err();
    assert!(matches!(e, PullError::Intake { .. }), "{e}");
    assert_eq!(intake.checkpoint_of(TX_ACCOUNT, "/leads/list"), checkpoint);
    intake.fail.store(false, Ordering::SeqCst);

    let now = Utc::now();
    let report = pull_once(&source, &intake, now).await.unwrap();
    assert_eq!(report.new, 6);
    assert_eq!(intake.lead_count(), 10);
    assert_eq!(
        intake.checkpoint_of(TX_ACCOUNT, "/leads/list"),
        Some(now.timestamp().to_string())
    );
}

#[tokio::test]
async fn a_corrupt_checkpoint_is_an_error_not_a_reset() {
    let harness = Harness::start().await;
    let intake = FakeIntake::default();
    intake.lock().checkpoints.insert(
        (TX_ACCOUNT.to_string(), "/leads/list".to_string()),
        "yesterday".to_string(),
    );
    let source = pull_source(&harness, TX_ACCOUNT, None);
    let e = pull_once(&source, &intake, Utc::now()).await.unwrap_err();
    assert!(
        e.to_string().contains("\"yesterday\" is not unix seconds"),
        "{e}"
    );
}

#[tokio::test]
async fn scheduled_pulls_run_skip_busy_ticks_and_stop_promptly() {
    let harness = Harness::start().await;
    let intake = Arc::new(FakeIntake::default());
    control(
        &harness,
        "/_sim/tencent/leads",
        json!({"count": 3, "spread_secs": 30}),
    )
    .await;
    control(&harness, "/_sim/waiqin/leads", json!({"count": 2})).await;
    // Each Tencent page takes 1.5 s, so its every-second schedule keeps ticking while it runs.
    harness.sim.shared().set_faults(Faults {
        vendor: Some(Vendor::Tencent),
        latency_ms: 1500,
        ..Faults::default()
    });
    let sources = vec![
        pull_source(&harness, TX_ACCOUNT, None),
        pull_source(&harness, WQ_ACCOUNT, None),
    ];
    let (stop, stopped) = watch::channel(false);
    let runner = tokio::spawn(run_pulls(sources, intake.clone(), stopped));
    tokio::time::sleep(Duration::from_millis(4500)).await;
    // Stop while a slow Tencent pull is probably in flight.
    let asked = Instant::now();
    stop.send(true).unwrap();
    let stats = tokio::time::timeout(Duration::from_secs(2), runner)
        .await
        .expect("run_pulls stops promptly")
        .unwrap();
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "{:?}",
        asked.elapsed()
    );

    let tx = stats.iter().find(|s| s.account == TX_ACCOUNT).unwrap();
    let wq = stats.iter().find(|s| s.account == WQ_ACCOUNT).unwrap();
    assert!(tx.succeeded >= 1, "{tx:?}");
    assert!(tx.skipped_ticks >= 1, "{tx:?}");
    assert_eq!(tx.failed, 0, "{tx:?}");
    assert!(wq.succeeded >= 2, "{wq:?}");
    assert_eq!(intake.lead_count(), 5);
}

#[tokio::test]
async fn scheduled_pulls_back_off_after_failures() {
    let harness = Harness::start().await;
    let intake = Arc::new(FakeIntake::default());
    harness.sim.shared().set_faults(Faults {
        vendor: Some(Vendor::Tencent),
        error_rate: 1.0,
        status: Some(503),
        ..Faults::default()
    });
    let mut source = pull_source(&harness, TX_ACCOUNT, None);
    source.backoff = pull::Backoff {
        initial: Duration::from_millis(400),
        max: Duration::from_millis(800),
    };
    let health = source.health.clone();
    let (stop, stopped) = watch::channel(false);
    let runner = tokio::spawn(run_pulls(vec![source], intake.clone(), stopped));
    tokio::time::sleep(Duration::from_millis(3500)).await;
    stop.send(true).unwrap();
    let stats = runner.await.unwrap();
    // First tick within 1 s, then 0.4, 0.8, 0.8, … : a handful of attempts, not a hot loop.
    let tx = &stats[0];
    assert!((2..=8).contains(&tx.failed), "{tx:?}");
    // The console's view: the last pull failed, how many times in a row, why, and the retry.
    let last = health.last().expect("the scheduler reports its last pull");
    assert_eq!(u64::from(last.failures), tx.failed);
    let error = last.error.expect("a failed pull says why");
    assert!(error.contains("503"), "{error}");
    assert!(last.next_ms.is_some_and(|next| next > last.at_ms));
    assert_eq!(health.skipped_ticks(), tx.skipped_ticks);
    assert_eq!(tx.succeeded, 0);
    assert!(intake.checkpoint_of(TX_ACCOUNT, "/leads/list").is_none());
    // Dropping the sender also stops the runner.
    let (stop, stopped) = watch::channel(false);
    let runner = tokio::spawn(run_pulls(
        vec![pull_source(&harness, WQ_ACCOUNT, None)],
        intake.clone(),
        stopped,
    ));
    drop(stop);
    tokio::time::timeout(Duration::from_secs(2), runner)
        .await
        .expect("stops when the sender is gone")
        .unwrap();
}

// Config sanity: the sources shape in leadrelay.toml.
#[test]
fn sources_table_parses_from_toml() {
    #[derive(serde::Deserialize)]
    struct File {
        sources: Vec<SourceSpec>,
    }
    let file: File = toml::from_str(
        r#"
        [[sources]]
        account = "tx_main"
        pull = "0 */2 * * * *"
        overlap_secs = 300
        page_size = 100
        push = "/hooks/tencent/tx_main"

        [[sources]]
        account = "fy"
        pull = "*/5 * * * *"
        "#,
    )
    .unwrap();
    assert_eq!(file.sources[0].overlap_secs, 300);
    assert_eq!(file.sources[1].overlap_secs, 600);
}

#[tokio::test]
async fn unreadable_pulled_records_are_quarantined_not_dropped() {
    // A stand-in Feiyu answering one good clue and one without `clue_id` (Feiyu's client hands
    // such records back instead of failing the page).
    let app = axum::Router::new().route(
        "/crm/v2/openapi/pull-clues/",
        axum::routing::get(|| async {
            axum::Json(json!({
                "status": "success",
                "count": 2,
                "data": [
                    {"clue_id": "7000000000000000001", "name": "张三", "telephone": "13800138000"},
                    {"name": "no id", "telephone": "13900139000"},
                ],
            }))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let harness = Harness::start().await;
    let mut config = harness.config.clone();
    config.accounts.get_mut("sim_feiyu").unwrap().base_url = base;
    let accounts = Accounts::from_config(&config, HttpClient::new(), Clock::system());
    let mut source = pull_sources(
        &config,
        &accounts,
        &[source("sim_feiyu", Some("0 */5 * * * *"), None)],
    )
    .unwrap()
    .remove(0);
    source.page_pause = Duration::ZERO;

    let intake = FakeIntake::default();
    let report = pull_once(&source, &intake, Utc::now()).await.unwrap();
    assert_eq!((report.fetched, report.new, report.quarantined), (2, 1, 1));
    let store = intake.lock();
    assert_eq!(store.quarantine.len(), 1);
    let q = &store.quarantine[0];
    assert_eq!(q.account, "sim_feiyu");
    assert_eq!(q.endpoint, "/crm/v2/openapi/pull-clues/");
    assert!(q.reason.contains("clue_id"), "{}", q.reason);
    let kept: Value = serde_json::from_slice(&q.body).unwrap();
    assert_eq!(kept["name"], "no id");
}

#[tokio::test]
async fn a_quarantine_that_cannot_store_answers_503() {
    let hooks = Hooks::start(WebhookOptions::default()).await;
    hooks.intake.fail.store(true, Ordering::SeqCst);
    let headers = tencent_headers(
        leadrelay::sim::tencent::SIM_TOKEN,
        leadrelay::sim::tencent::SIM_SECRET,
        Clock::system().unix_secs(),
    );
    let (status, _, answer) = hooks.post(TX_PATH, &headers, b"not json".to_vec()).await;
    assert_eq!(status, 503, "{answer}");
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["code"], 1100);
    hooks.stop().await;
}
