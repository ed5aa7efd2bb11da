//! feiyu against the simulator over real HTTP.

use std::collections::HashMap;
use std::time::Duration;

use leadrelay::clock::Clock;
use leadrelay::config::Credentials;
use leadrelay::connectors::feiyu::model::parse_pull_answer;
use leadrelay::connectors::feiyu::{sign, Client, PullRequest};
use leadrelay::connectors::{AccountClient, FailureKind, Vendor};
use leadrelay::lead::LeadKind;
use leadrelay::secret::Secret;
use leadrelay::sim::{feiyu as simfy, Faults, Simulator};
use proptest::prelude::*;
use serde_json::{json, Value};

use crate::common::Harness;

const DAY: &str = "2024-05-01";

fn typed(client: AccountClient) -> Client {
    match client {
        AccountClient::Feiyu(c) => c,
        _ => unreachable!(),
    }
}

fn request(page: u32, page_size: u32) -> PullRequest {
    PullRequest {
        start_time: DAY.into(),
        end_time: DAY.into(),
        page,
        page_size,
    }
}

/// Generates `count` clues on `date` through the control endpoint; returns them.
async fn generate(h: &Harness, count: usize, date: &str) -> Vec<Value> {
    let answer: Value = reqwest::Client::new()
        .post(format!("{}/_sim/feiyu/clues", h.base_url()))
        .json(&json!({"count": count, "date": date}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["clues"].as_array().unwrap().clone()
}

fn snapshot(h: &Harness) -> Value {
    h.sim.shared().snapshot()["feiyu"].clone()
}

#[tokio::test]
async fn pull_pages_through_every_generated_clue_exactly_once() {
    let h = Harness::start().await;
    let generated = generate(&h, 25, DAY).await;
    generate(&h, 3, "2024-05-03").await; // outside the window
    let client = typed(h.client(Vendor::Feiyu));

    let first = client.pull_clues(&request(1, 10)).await.unwrap();
    assert_eq!((first.status.as_str(), first.count), ("success", 25));
    assert_eq!(first.data.len(), 10);
    assert!(first.has_more());
    let last = client.pull_clues(&request(3, 10)).await.unwrap();
    assert_eq!(last.data.len(), 5);
    assert!(!last.has_more());

    let window = client
        .pull_window(&request(1, 7), Duration::ZERO)
        .await
        .unwrap();
    assert_eq!((window.count, window.pages), (25, 4));
    assert!(window.invalid.is_empty());
    let mut pulled: Vec<&str> = window.clues.iter().map(|c| c.clue_id.as_str()).collect();
    let mut expected: Vec<&str> = generated
        .iter()
        .map(|c| c["clue_id"].as_str().unwrap())
        .collect();
    pulled.sort_unstable();
    expected.sort_unstable();
    assert_eq!(pulled, expected);

    // A window of several days holds the other day's clues too; a day without clues is empty.
    let mut wide = request(1, 100);
    wide.end_time = "2024-05-03".into();
    assert_eq!(client.pull_clues(&wide).await.unwrap().count, 28);
    let mut empty = request(1, 100);
    (empty.start_time, empty.end_time) = ("2024-05-02".into(), "2024-05-02".into());
    let empty = client.pull_clues(&empty).await.unwrap();
    assert_eq!((empty.count, empty.data.len()), (0, 0));

    let snap = snapshot(&h);
    assert_eq!(snap["clues"], 28);
    assert_eq!(snap["pulls"], 2 + 4 + 2);
    assert_eq!(snap["rejected"], 0);
}

#[tokio::test]
async fn the_op_runs_by_name_with_the_vendors_field_names() {
    let h = Harness::start().await;
    generate(&h, 3, DAY).await;
    let answer = h
        .client(Vendor::Feiyu)
        .call(
            "pull_clues",
            json!({"start_time": DAY, "end_time": DAY, "page_size": 2}),
        )
        .await
        .unwrap();
    assert_eq!(answer["status"], "success");
    assert_eq!(answer["count"], 3);
    assert_eq!(
        (answer["page"].clone(), answer["page_size"].clone()),
        (json!(1), json!(2))
    );
    assert_eq!(answer["data"].as_array().unwrap().len(), 2);
    assert!(
        answer["data"][0]["clue_id"].is_string(),
        "records are returned as received"
    );
    assert!(answer.get("invalid").is_none());
}

#[tokio::test]
async fn both_phone_spellings_big_ids_and_every_kind_survive_into_the_lead() {
    let h = Harness::start().await;
    let generated = generate(&h, 12, DAY).await;
    let by_id: HashMap<&str, &Value> = generated
        .iter()
        .map(|c| (c["clue_id"].as_str().unwrap(), c))
        .collect();
    let client = typed(h.client(Vendor::Feiyu));
    let page = client.pull_clues(&request(1, 100)).await.unwrap();
    assert_eq!(page.data.len(), 12);

    let (mut telphone, mut telephone) = (0, 0);
    let mut kinds = std::collections::HashSet::new();
    for clue in &page.data {
        let original = by_id[clue.clue_id.as_str()];
        let lead = clue.to_lead(client.account());
        assert_eq!(lead.account, "sim_feiyu");
        assert!(lead.id.parse::<u64>().unwrap() > 1 << 53);
        assert_eq!(lead.id, original["clue_id"].as_str().unwrap());
        let phone = match (original.get("telphone"), original.get("telephone")) {
            (Some(p), None) => {
                telphone += 1;
                p
            }
            (None, Some(p)) => {
                telephone += 1;
                p
            }
            other => panic!("one phone spelling per synthetic clue, got {other:?}"),
        };
        assert_eq!(lead.phone.as_deref(), phone.as_str());
        assert_eq!(
            lead.created_at.unwrap().timestamp().to_string(),
            original["create_time"].as_str().unwrap()
        );
        assert!(lead.province.is_some() && lead.city.is_some());
        assert_eq!(&lead.raw, original);
        kinds.insert(lead.kind);
    }
    assert!(telphone > 0 && telephone > 0);
    assert_eq!(kinds.len(), 6, "every clue_type 0–5: {kinds:?}");
    assert!(!kinds.contains(&LeadKind::Other));
}

fn assert_vendor_error(
    e: &leadrelay::connectors::CallError,
    kind: FailureKind,
    message_start: &str,
) {
    assert_eq!(e.kind, kind, "{e}");
    assert_eq!(e.retryable(), kind == FailureKind::Clock, "{e}");
    assert_eq!(e.status, Some(200), "{e}");
    assert_eq!(e.code.as_deref(), Some(simfy::FAILURE_STATUS), "{e}");
    assert!(e.message.starts_with(message_start), "{e}");
    assert_eq!(e.account, "sim_feiyu");
    assert_eq!(e.vendor, Vendor::Feiyu);
}

#[tokio::test]
async fn wrong_key_and_token_are_auth_errors_and_a_stale_timestamp_is_clock() {
    let h = Harness::start().await;
    let wrong_key = typed(h.client_with(Vendor::Feiyu, Clock::system(), |a| {
        if let Credentials::Feiyu(c) = &mut a.credentials {
            c.signature_key = Secret::new("not-the-key");
        }
    }));
    let e = wrong_key.pull_clues(&request(1, 10)).await.unwrap_err();
    assert_vendor_error(&e, FailureKind::Auth, "invalid signature");

    // Our clock 10 minutes behind: the vendor refuses the timestamp, which is retried.
    let stale = typed(h.client_with(Vendor::Feiyu, Clock::skewed_secs(-600), |_| {}));
    let e = stale.pull_clues(&request(1, 10)).await.unwrap_err();
    assert_vendor_error(&e, FailureKind::Clock, "timestamp expired");
    assert_eq!(e.kind.neutral().as_str(), "clock");
    // Within the ±300 s window is fine.
    let skewed = typed(h.client_with(Vendor::Feiyu, Clock::skewed_secs(-200), |_| {}));
    skewed.pull_clues(&request(1, 10)).await.unwrap();

    let wrong_token = typed(h.client_with(Vendor::Feiyu, Clock::system(), |a| {
        if let Credentials::Feiyu(c) = &mut a.credentials {
            c.token = Secret::new("someone-elses-token");
        }
    }));
    let e = wrong_token.pull_clues(&request(1, 10)).await.unwrap_err();
    assert_vendor_error(&e, FailureKind::Auth, "invalid access token");
    assert!(!e.to_string().contains("someone-elses-token"));

    assert_eq!(snapshot(&h)["rejected"], 3);
    assert_eq!(snapshot(&h)["pulls"], 1);
}

#[tokio::test]
async fn injected_503_is_retryable_and_keeps_retry_after() {
    let h = Harness::start().await;
    h.sim.shared().set_faults(Faults {
        vendor: Some(Vendor::Feiyu),
        error_rate: 1.0,
        status: Some(503),
        ..Default::default()
    });
    let e = typed(h.client(Vendor::Feiyu))
        .pull_clues(&request(1, 10))
        .await
        .unwrap_err();
    assert_eq!(e.kind, FailureKind::ServerError, "{e}");
    assert!(e.retryable());
    assert_eq!(e.status, Some(503));
    assert_eq!(e.retry_after, Some(Duration::from_secs(1)));
    assert_eq!(e.account, "sim_feiyu");
}

#[tokio::test]
async fn a_bad_window_is_an_error_under_http_200() {
    let h = Harness::start().await;
    let client = typed(h.client(Vendor::Feiyu));
    let mut bad = request(1, 10);
    bad.start_time = "2024-13-45".into();
    let e = client.pull_clues(&bad).await.unwrap_err();
    assert_eq!(e.status, Some(200));
    assert_eq!(e.code.as_deref(), Some(simfy::FAILURE_STATUS));
    assert_eq!(e.kind, FailureKind::InvalidRequest, "{e}");
    assert!(!e.retryable());
    assert!(e.message.starts_with("bad start_time"), "{e}");

    let mut reversed = request(1, 10);
    reversed.start_time = "2024-05-02".into();
    let e = client.pull_clues(&reversed).await.unwrap_err();
    assert!(e.message.contains("after end_time"), "{e}");
    assert!(!e.retryable());
}

#[tokio::test]
async fn invalid_payloads_fail_before_anything_is_sent() {
    let h = Harness::start().await;
    let client = h.client(Vendor::Feiyu);
    for payload in [
        json!({"start_time": DAY, "end_time": DAY, "page_size": 500}),
        json!({"start_time": DAY, "end_time": DAY, "page": 0}),
        json!({"start_time": "2024-05-01 00:00:00", "end_time": DAY}),
        json!({"end_time": DAY}),
        json!({"start_time": DAY, "end_time": DAY, "pagesize": 5}),
    ] {
        let e = client
            .call("pull_clues", payload.clone())
            .await
            .unwrap_err();
        assert_eq!(e.kind, FailureKind::InvalidPayload, "{payload}: {e}");
        assert_eq!(e.account, "sim_feiyu", "{payload}: {e}");
    }
    assert_eq!(h.sim.shared().requests(Vendor::Feiyu), 0);
}

/// A raw GET to the pull route with the given headers and query; returns (HTTP status, body).
async fn raw_get(h: &Harness, headers: &[(&str, &str)], query: &str) -> (u16, Value) {
    let url = format!(
        "{}{}?{query}",
        h.sim.vendor_base_url(Vendor::Feiyu),
        sign::PULL_CLUES_ROUTE
    );
    let mut req = reqwest::Client::new().get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

/// Headers, query, and the start of the expected `msg`.
type GarbageCase<'a> = (Vec<(&'a str, &'a str)>, String, &'a str);

/// Every refusal is the failure shape the spec documents for Feiyu (§1.6, F-d): a JSON object
/// whose `status` is not "success" — "-2", the one failure value on record — with a `msg`, and
/// nothing else; under HTTP 200 for the API's own refusals. Feiyu publishes no error codes, so
/// the simulator has none to invent; the messages are its own and only tell which check fired.
#[tokio::test]
async fn feiyu_sim_errors_match_the_spec_shape() {
    let h = Harness::start().await;
    let ts = Clock::system().unix_secs().to_string();
    let sig = |s: &str, e: &str| {
        sign::signature(
            "SimFeiyuSignKey01",
            &sign::string_to_sign(
                sign::PULL_CLUES_ROUTE,
                &[("start_time", s), ("end_time", e)],
                &ts,
            ),
        )
    };
    let good_sig = sig(DAY, DAY);
    let q = format!("start_time={DAY}&end_time={DAY}");
    let token = ("Access-Token", "sim-feiyu-token");
    let cases: Vec<GarbageCase> = vec![
        (vec![], q.clone(), "missing Access-Token header"),
        (vec![token], q.clone(), "missing Timestamp header"),
        (
            vec![token, ("Timestamp", &ts)],
            q.clone(),
            "missing Signature header",
        ),
        (
            vec![token, ("Timestamp", "yesterday"), ("Signature", &good_sig)],
            q.clone(),
            "invalid Timestamp \"yesterday\"",
        ),
        (
            vec![token, ("Timestamp", &ts), ("Signature", &good_sig)],
            format!("end_time={DAY}"),
            "missing parameter start_time",
        ),
        (
            vec![token, ("Timestamp", &ts), ("Signature", &good_sig)],
            format!("{q}&start_time={DAY}"),
            "duplicate parameter start_time",
        ),
        (
            vec![token, ("Timestamp", &ts), ("Signature", &good_sig)],
            format!("{q}&page_size=1000"),
            "bad page_size \"1000\"",
        ),
        (
            vec![token, ("Timestamp", &ts), ("Signature", &good_sig)],
            format!("{q}&page=zero"),
            "bad page \"zero\"",
        ),
        (
            vec![
                token,
                ("Timestamp", &ts),
                ("Signature", "bm90IGEgc2lnbmF0dXJl"),
            ],
            q.clone(),
            "invalid signature",
        ),
        // The values are signed as sent: a signature over other values does not fit.
        (
            vec![token, ("Timestamp", &ts), ("Signature", &good_sig)],
            format!("start_time={DAY}&end_time=2024-05-02"),
            "invalid signature",
        ),
    ];
    for (headers, query, expected) in cases {
        let (status, body) = raw_get(&h, &headers, &query).await;
        assert_eq!(status, 200, "{expected}: {body}");
        let keys = crate::common::keys(&body);
        assert_eq!(keys, ["status", "msg"], "{expected}: {body}");
        assert_eq!(body["status"], simfy::FAILURE_STATUS, "{expected}: {body}");
        let msg = body["msg"].as_str().unwrap();
        assert!(
            msg.starts_with(expected),
            "expected {expected:?}, got {msg:?}"
        );
    }
    // A correctly signed raw request with the defaults (page 1, page_size 10) is served.
    let (status, body) = raw_get(
        &h,
        &[token, ("Timestamp", &ts), ("Signature", &good_sig)],
        &q,
    )
    .await;
    assert_eq!(
        (status, body["status"].clone()),
        (200, json!("success")),
        "{body}"
    );

    let http = reqwest::Client::new();
    let base = h.sim.vendor_base_url(Vendor::Feiyu);
    let resp = http
        .get(format!("{base}/crm/v2/openapi/pull-clues"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], simfy::FAILURE_STATUS);
    assert!(
        body["msg"].as_str().unwrap().contains("no such api"),
        "{body}"
    );

    let resp = http
        .post(format!("{base}{}", sign::PULL_CLUES_ROUTE))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 405);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["msg"].as_str().unwrap().contains("not allowed"),
        "{body}"
    );

    for (payload, needle) in [
        ("{not json", "invalid body"),
        (r#"{"count": 0}"#, "count must be"),
        (r#"{"count": 2, "date": "May 1st"}"#, "bad date"),
    ] {
        let resp = http
            .post(format!("{}/_sim/feiyu/clues", h.base_url()))
            .header("content-type", "application/json")
            .body(payload)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 400, "{payload}");
        let body: Value = resp.json().await.unwrap();
        assert!(body["msg"].as_str().unwrap().contains(needle), "{body}");
    }
    assert_eq!(snapshot(&h)["clues"], 0);
}

#[tokio::test]
async fn the_sim_account_is_the_built_in_one() {
    let h = Harness::start().await;
    assert!(h
        .config
        .accounts
        .contains_key(&Simulator::account_name(Vendor::Feiyu)));
    assert_eq!(typed(h.client(Vendor::Feiyu)).account(), "sim_feiyu");
    // Debug of a client never shows the credentials.
    let debug = format!("{:?}", h.client(Vendor::Feiyu));
    assert!(!debug.contains("sim-feiyu-token") && !debug.contains("SimFeiyuSignKey01"));
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "[ -~]{0,12}".prop_map(Value::from),
        "[0-9]{1,22}".prop_map(Value::from),
        Just(Value::from("江苏+镇江")),
        Just(Value::from("success")),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::vec(
                (
                    prop_oneof![
                        Just("clue_id".to_string()),
                        Just("telphone".to_string()),
                        Just("telephone".to_string()),
                        Just("create_time".to_string()),
                        Just("clue_type".to_string()),
                        Just("gender".to_string()),
                        Just("location".to_string()),
                        Just("site_id".to_string()),
                        "[a-z_]{1,8}",
                    ],
                    inner
                ),
                0..8
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn arbitrary_envelopes_and_clues_never_panic_the_decoder(
        status in prop_oneof![Just(json!("success")), Just(json!("sucess")), arb_json()],
        count in arb_json(),
        data in prop_oneof![prop::collection::vec(arb_json(), 0..5).prop_map(Value::from), arb_json()],
        msg in arb_json(),
    ) {
        let body = json!({"status": status, "count": count, "data": data, "msg": msg});
        if let Ok(page) = parse_pull_answer(body.to_string().as_bytes(), 1, 10) {
            let _ = page.has_more();
            for clue in &page.data {
                let lead = clue.to_lead("p");
                prop_assert_eq!(&lead.raw, &clue.raw);
                prop_assert_eq!(&lead.id, &clue.clue_id);
            }
            let _ = serde_json::to_value(&page).unwrap();
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_decoder(body in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = parse_pull_answer(&body, 1, 10);
    }
}

/// The callbacks the simulator accepted, as their bodies.
async fn callbacks(h: &Harness) -> Vec<Value> {
    reqwest::get(format!("{}/_sim/feiyu/callbacks", h.base_url()))
        .await
        .unwrap()
        .json::<Vec<Value>>()
        .await
        .unwrap()
}

#[tokio::test]
async fn clue_callback_sends_the_spec_body_signed_over_the_route_and_timestamp() {
    let h = Harness::start().await;
    let clue = generate(&h, 1, DAY).await[0]["clue_id"]
        .as_str()
        .unwrap()
        .to_string();
    let answer = h
        .client(Vendor::Feiyu)
        .call(
            "clue_callback",
            json!({"clue_id": clue, "clue_convert_state": 3}),
        )
        .await
        .unwrap();
    assert_eq!(answer["status"], "success");
    // An id given as a number (exact beyond 2^53 in JSON) is sent as the string §1.8 shows.
    h.client(Vendor::Feiyu)
        .call(
            "clue_callback",
            json!({"clue_id": 6831434361875726351u64, "clue_convert_state": "2"}),
        )
        .await
        .unwrap();
    assert_eq!(
        callbacks(&h).await,
        [
            json!({"source": 0, "data": {"clue_id": clue, "clue_convert_state": 3}}),
            json!({"source": 0, "data": {"clue_id": "6831434361875726351", "clue_convert_state": 2}}),
        ]
    );
    assert_eq!(snapshot(&h)["callbacks"], 2);
}

#[tokio::test]
async fn clue_callback_with_a_wrong_key_is_refused_in_feiyus_shape_and_bad_payloads_never_leave() {
    let h = Harness::start().await;
    let wrong_key = typed(h.client_with(Vendor::Feiyu, Clock::system(), |a| {
        if let Credentials::Feiyu(c) = &mut a.credentials {
            c.signature_key = Secret::new("not-the-key");
        }
    }));
    let request = leadrelay::connectors::feiyu::CallbackRequest {
        clue_id: "6831434361875726350".into(),
        clue_convert_state: 1,
    };
    let e = wrong_key.clue_callback(&request).await.unwrap_err();
    assert_vendor_error(&e, FailureKind::Auth, "invalid signature");
    assert_eq!(e.op, "clue_callback");
    let stale = typed(h.client_with(Vendor::Feiyu, Clock::skewed_secs(-600), |_| {}));
    let e = stale.clue_callback(&request).await.unwrap_err();
    assert_vendor_error(&e, FailureKind::Clock, "timestamp expired");
    assert_eq!(snapshot(&h)["rejected"], 2);
    assert!(callbacks(&h).await.is_empty());

    // A signature made for the pull route does not pass on the callback route: the route is
    // what is signed.
    let ts = Clock::system().unix_secs().to_string();
    let pull_signature = sign::signature(
        "SimFeiyuSignKey01",
        &sign::string_to_sign(sign::PULL_CLUES_ROUTE, &[], &ts),
    );
    let resp = reqwest::Client::new()
        .post(format!(
            "{}{}",
            h.sim.vendor_base_url(Vendor::Feiyu),
            sign::CALLBACK_ROUTE
        ))
        .header("Access-Token", "sim-feiyu-token")
        .header("Timestamp", &ts)
        .header("Signature", pull_signature)
        .json(&json!({"source": 0, "data": {"clue_id": "1", "clue_convert_state": 1}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200, "Feiyu refuses under HTTP 200");
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"status": simfy::FAILURE_STATUS, "msg": "invalid signature"})
    );

    let before = h.sim.shared().requests(Vendor::Feiyu);
    let client = h.client(Vendor::Feiyu);
    for (payload, names) in [
        (json!({"clue_convert_state": 1}), "clue_id: is required"),
        (
            json!({"clue_id": "", "clue_convert_state": 1}),
            "clue_id: must not be empty",
        ),
        (
            json!({"clue_id": "6831 4343", "clue_convert_state": 1}),
            "clue_id: \"6831 4343\" must not contain spaces",
        ),
        (json!({"clue_id": "1"}), "clue_convert_state: is required"),
        (
            json!({"clue_id": "1", "clue_convert_state": 1.5}),
            "clue_convert_state: must be an integer, got 1.5",
        ),
        (
            json!({"clue_id": "1", "clue_convert_state": 1, "source": 2}),
            "source: unknown field",
        ),
    ] {
        let e = client
            .call("clue_callback", payload.clone())
            .await
            .unwrap_err();
        assert_eq!(e.kind, FailureKind::InvalidPayload, "{payload}: {e}");
        assert!(e.message.contains(names), "{payload}: {e}");
    }
    assert_eq!(h.sim.shared().requests(Vendor::Feiyu), before);
}
