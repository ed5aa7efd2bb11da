//! tencent against the simulator over real HTTP.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::TimeZone;

use leadrelay::clock::{self, Clock};
use leadrelay::config::Credentials;
use leadrelay::connectors::tencent::config::Algorithm;
use leadrelay::connectors::tencent::model::{
    ListLeadsRequest, ReportItem, ReportPersonalWechatRequest, ReportRequest,
    SetLeadsStatusSystemRequest, TimeFormat,
};
use leadrelay::connectors::tencent::webhook::{sign_push, AuthFailure, PushError, PushVerifier};
use leadrelay::connectors::tencent::{sign, Client};
use leadrelay::connectors::{AccountClient, CallError, FailureKind, Vendor};
use leadrelay::secret::Secret;
use leadrelay::sim::tencent::{SIM_ACCOUNT_ID, SIM_SECRET, SIM_TOKEN};
use leadrelay::sim::{ClockSkew, Faults};
use serde_json::{json, Value};

use crate::common::Harness;

fn typed(client: AccountClient) -> Client {
    match client {
        AccountClient::Tencent(c) => c,
        _ => unreachable!(),
    }
}

async fn generate(h: &Harness, body: Value) -> Vec<Value> {
    let answer: Value = reqwest::Client::new()
        .post(format!("{}/_sim/tencent/leads", h.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["leads"].as_array().unwrap().clone()
}

fn window_unix(from: i64, to: i64, page_size: i64) -> ListLeadsRequest {
    ListLeadsRequest {
        start_time: from.to_string(),
        end_time: to.to_string(),
        time_type: Some(1),
        page: 1,
        page_size,
        search_after_leads_id: None,
        account_id: None,
    }
}

fn report_of(id: &str, convert: &str) -> ReportRequest {
    ReportRequest {
        list: vec![ReportItem {
            leads_id: id.to_string(),
            leads_convert_type: Some(convert.to_string()),
            leads_ineffect_reason: None,
            leads_intention_score: None,
            outer_leads_convert_type: None,
            outer_leads_ineffect_reason: None,
        }],
    }
}

/// The permission/signature range of spec §3.6 ("2000–2100"); the platform publishes no finer
/// codes, so tests check the range, never one code.
const AUTH_RANGE: std::ops::Range<i64> = 2000..2100;
/// The parameter range ("2100–2200").
const PARAM_RANGE: std::ops::Range<i64> = 2100..2200;

fn assert_vendor_error(
    e: &CallError,
    kind: FailureKind,
    range: std::ops::Range<i64>,
    needle: &str,
) {
    assert_eq!(e.kind, kind, "{e}");
    let code: i64 = e.code.as_deref().unwrap().parse().unwrap();
    assert!(range.contains(&code), "{code} outside {range:?}: {e}");
    assert_eq!(e.status, Some(200), "{e}");
    assert!(e.message.contains(needle), "{e}");
    assert_eq!(e.account, "sim_tencent");
    assert_eq!(e.retryable(), kind == FailureKind::Clock, "{e}");
}

/// A raw signed request, for sending what the client refuses to send.
fn signed_raw(rb: reqwest::RequestBuilder, nonce: &str) -> reqwest::RequestBuilder {
    let ts = Clock::system().unix_secs();
    rb.header(
        "X-Signature",
        sign::x_signature(SIM_TOKEN, SIM_SECRET, ts, nonce, Algorithm::Sha256),
    )
    .header("X-Signature-Algorithm", "SHA256")
}

#[tokio::test]
async fn every_op_succeeds_and_changes_sim_state() {
    let h = Harness::start().await;
    let client = typed(h.client(Vendor::Tencent));
    let now = Clock::system().unix_secs();
    let leads = generate(&h, json!({"count": 5, "spread_secs": 60})).await;
    assert_eq!(leads.len(), 5);

    let page = client
        .list_leads(&window_unix(now - 600, now + 60, 10))
        .await
        .unwrap();
    assert_eq!(page.page_info.total_number, 5);
    assert_eq!(page.list.len(), 5);
    let id = page.list[0].leads_id.clone();

    let ack = client
        .report(&report_of(&id, "LEADS_CONVERT_STATUS_POTENTIAL_CUSTOMER"))
        .await
        .unwrap();
    assert_eq!(ack.data, json!([{}]));
    let stored = h.sim.shared().tencent.reports_for(&id);
    assert_eq!(stored.len(), 1);
    assert_eq!(
        stored[0]["leads_convert_type"],
        "LEADS_CONVERT_STATUS_POTENTIAL_CUSTOMER"
    );

    client
        .set_leads_status_system(&SetLeadsStatusSystemRequest {
            account_id: SIM_ACCOUNT_ID,
            leads_status_system_option: 2,
        })
        .await
        .unwrap();
    assert_eq!(
        h.sim.shared().tencent.status_system(SIM_ACCOUNT_ID),
        Some(2)
    );
    // The industry statuses are accepted once the industry system is chosen.
    client
        .report(&report_of(&id, "LEADS_CONVERT_STATUS_VISIT_STORE"))
        .await
        .unwrap();

    let wechat: ReportPersonalWechatRequest = serde_json::from_value(json!({
        "uuid": "25610_wx81179f1f5da_o_Tba5fDhhugb0UldX02HfycAfw4", "account_id": SIM_ACCOUNT_ID,
        "app_id": "wx81179f1f5da", "open_id": "o_Tba5fDhhugb0UldX02HfycAfw4",
        "avatar_url": "https://example.com/a.png", "nickname": "小王", "click_id": "c1",
        "action_time": "2022-08-09 10:00:00", "page_name": "报名页"
    }))
    .unwrap();
    client.report_personal_wechat(&wechat).await.unwrap();
    client.report_personal_wechat(&wechat).await.unwrap();
    assert!(h
        .sim
        .shared()
        .tencent
        .personal_wechat("25610_wx81179f1f5da_o_Tba5fDhhugb0UldX02HfycAfw4")
        .is_some());

    let snap = h.sim.shared().snapshot()["tencent"].clone();
    assert_eq!(snap["leads"], 5);
    assert_eq!(snap["reports"], 2);
    assert_eq!(snap["reports_by_leads_id"][&id], 2);
    assert_eq!(snap["personal_wechat"]["created"], 1);
    assert_eq!(snap["personal_wechat"]["updated"], 1);
    // Six signed calls, six distinct nonces.
    assert_eq!(snap["nonces_remembered"], 6);
}

#[tokio::test]
async fn call_op_takes_vendor_field_names() {
    let h = Harness::start().await;
    let client = h.client(Vendor::Tencent);
    generate(&h, json!({"count": 3, "spread_secs": 10})).await;
    let now = Clock::system().unix_secs();
    let page = client
        .call(
            "list_leads",
            json!({"start_time": now - 300, "end_time": now + 60, "time_type": 1, "page_size": 2}),
        )
        .await
        .unwrap();
    assert_eq!(page["page_info"]["total_page"], 2);
    let id = page["list"][0]["leads_id"].as_str().unwrap().to_string();
    let ack = client
        .call(
            "report",
            json!({"list": [{"leads_id": id, "leads_intention_score": "LEADS_INTENTION_SCORE_LEVEL_5"}]}),
        )
        .await
        .unwrap();
    assert_eq!(ack["message"], "success");
    // A typo is refused before anything is sent.
    let e = client
        .call("report", json!({"list": [{"leads_idd": 1}]}))
        .await
        .unwrap_err();
    assert_eq!(e.kind, FailureKind::InvalidPayload);
    let e = client
        .call("report", json!({"list": [{"leads_id": 1, "leads_convert_type": "LEADS_CONVERT_STATUS_DEPRECATED"}]}))
        .await
        .unwrap_err();
    assert_eq!(e.kind, FailureKind::InvalidPayload);
    assert!(e.message.contains("list[0].leads_ineffect_reason"), "{e}");
    assert_eq!(e.account, "sim_tencent");
}

#[tokio::test]
async fn wrong_secret_is_auth_not_retryable() {
    let h = Harness::start().await;
    let client = typed(h.client_with(Vendor::Tencent, Clock::system(), |a| {
        if let Credentials::Tencent(c) = &mut a.credentials {
            c.secret = Secret::new("not-the-secret");
        }
    }));
    let now = Clock::system().unix_secs();
    let e = client
        .list_leads(&window_unix(now - 60, now, 10))
        .await
        .unwrap_err();
    assert_vendor_error(&e, FailureKind::Auth, AUTH_RANGE, "invalid signature");
}

#[tokio::test]
async fn sha1_accounts_work_too() {
    let h = Harness::start().await;
    let client = typed(h.client_with(Vendor::Tencent, Clock::system(), |a| {
        if let Credentials::Tencent(c) = &mut a.credentials {
            c.algorithm = Algorithm::Sha1;
        }
    }));
    let now = Clock::system().unix_secs();
    client
        .list_leads(&window_unix(now - 60, now, 10))
        .await
        .unwrap();
}

#[tokio::test]
async fn stale_timestamp_is_a_retryable_clock_error() {
    let h = Harness::start().await;
    let client = typed(h.client_with(Vendor::Tencent, Clock::skewed_secs(-600), |_| {}));
    let now = Clock::system().unix_secs();
    let e = client
        .list_leads(&window_unix(now - 60, now, 10))
        .await
        .unwrap_err();
    assert_vendor_error(&e, FailureKind::Clock, AUTH_RANGE, "timestamp expired");
    assert_eq!(e.kind.neutral().as_str(), "clock");
}

#[tokio::test]
async fn a_refused_signature_with_the_clocks_apart_is_clock_whatever_the_message() {
    // The platform documents no message for a stale timestamp. When the server's clock (its
    // `Date`) is further from ours than the 5-minute window, the refusal is the clock's even if
    // the message only says "invalid signature" — here the wrong secret fails first.
    let h = Harness::start().await;
    h.sim.shared().set_clock_skew(&ClockSkew {
        vendor: Some(Vendor::Tencent),
        skew_secs: 600,
    });
    let client = typed(h.client_with(Vendor::Tencent, Clock::system(), |a| {
        if let Credentials::Tencent(c) = &mut a.credentials {
            c.secret = Secret::new("not-the-secret");
        }
    }));
    let now = Clock::system().unix_secs();
    let e = client
        .list_leads(&window_unix(now - 60, now, 10))
        .await
        .unwrap_err();
    assert_vendor_error(&e, FailureKind::Clock, AUTH_RANGE, "invalid signature");
    // With the clocks together, the same refusal is what it says: auth.
    h.sim.shared().set_clock_skew(&ClockSkew {
        vendor: Some(Vendor::Tencent),
        skew_secs: 0,
    });
    let e = client
        .list_leads(&window_unix(now - 60, now, 10))
        .await
        .unwrap_err();
    assert_vendor_error(&e, FailureKind::Auth, AUTH_RANGE, "invalid signature");
}

#[tokio::test]
async fn reused_nonce_is_rejected_and_fresh_ones_pass() {
    let h = Harness::start().await;
    let fixed: Arc<dyn Fn() -> String + Send + Sync> =
        Arc::new(|| "0123456789abcdef0123456789abcdef".to_string());
    let replaying = typed(h.client(Vendor::Tencent)).with_nonce_source(fixed);
    let now = Clock::system().unix_secs();
    let req = window_unix(now - 60, now, 10);
    replaying.list_leads(&req).await.unwrap();
    let e = replaying.list_leads(&req).await.unwrap_err();
    assert_vendor_error(&e, FailureKind::Auth, AUTH_RANGE, "nonce reused");
    // The default client draws a new nonce per call, so repeating the call just works.
    let fresh = typed(h.client(Vendor::Tencent));
    for _ in 0..3 {
        fresh.list_leads(&req).await.unwrap();
    }
    let rejected = h.sim.shared().snapshot()["tencent"]["rejected"].clone();
    let total: u64 = rejected
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(total, 1, "{rejected}");
}

#[tokio::test]
async fn http_503_is_retryable() {
    let h = Harness::start().await;
    h.sim.shared().set_faults(Faults {
        vendor: Some(Vendor::Tencent),
        error_rate: 1.0,
        status: Some(503),
        ..Default::default()
    });
    let client = typed(h.client(Vendor::Tencent));
    let e = client
        .report(&report_of("1", "LEADS_CONVERT_STATUS_TRANS_COMPLETED"))
        .await
        .unwrap_err();
    assert_eq!(e.kind, FailureKind::ServerError, "{e}");
    assert_eq!(e.status, Some(503));
    assert!(e.retryable());
    assert_eq!(e.retry_after, Some(std::time::Duration::from_secs(1)));
    assert_eq!(e.account, "sim_tencent");
}

#[tokio::test]
async fn business_errors_under_http_200_are_errors() {
    let h = Harness::start().await;
    let client = typed(h.client(Vendor::Tencent));
    // An open enum passes our validation; the platform knows better.
    let e = client
        .report(&report_of("1", "LEADS_CONVERT_STATUS_NOT_A_THING"))
        .await
        .unwrap_err();
    assert_vendor_error(
        &e,
        FailureKind::InvalidRequest,
        PARAM_RANGE,
        "list[0].leads_convert_type",
    );
    // Industry statuses need the industry system first.
    let e = client
        .report(&report_of("1", "LEADS_CONVERT_STATUS_ADD_WEIXIN"))
        .await
        .unwrap_err();
    assert_vendor_error(&e, FailureKind::InvalidRequest, PARAM_RANGE, "industry");
    // An advertiser the token does not own.
    let e = client
        .set_leads_status_system(&SetLeadsStatusSystemRequest {
            account_id: 99,
            leads_status_system_option: 1,
        })
        .await
        .unwrap_err();
    assert_vendor_error(&e, FailureKind::Auth, AUTH_RANGE, "no permission");
    // Deep paging from an id that is not in the window.
    let now = Clock::system().unix_secs();
    let mut req = window_unix(now - 60, now, 10);
    req.search_after_leads_id = Some("12345".into());
    let e = client.list_leads(&req).await.unwrap_err();
    assert_vendor_error(
        &e,
        FailureKind::InvalidRequest,
        PARAM_RANGE,
        "search_after_leads_id",
    );
}

#[tokio::test]
async fn a_report_for_an_unknown_leads_id_is_refused_and_stores_nothing() {
    let h = Harness::start().await;
    let client = typed(h.client(Vendor::Tencent));
    let leads = generate(&h, json!({"count": 1, "spread_secs": 10})).await;
    let known = leads[0]["leads_id"].as_u64().unwrap().to_string();
    // One unknown id refuses the whole call, as an invalid parameter.
    let mut req = report_of(&known, "LEADS_CONVERT_STATUS_TRANS_COMPLETED");
    req.list
        .push(report_of("12345", "LEADS_CONVERT_STATUS_TRANS_COMPLETED").list[0].clone());
    let e = client.report(&req).await.unwrap_err();
    assert_vendor_error(&e, FailureKind::InvalidRequest, PARAM_RANGE, "12345");
    assert_eq!(e.kind.neutral().as_str(), "invalid");
    assert!(h.sim.shared().tencent.reports_for(&known).is_empty());
    assert_eq!(h.sim.shared().snapshot()["tencent"]["reports"], 0);
    // The known lead alone is taken.
    client
        .report(&report_of(&known, "LEADS_CONVERT_STATUS_TRANS_COMPLETED"))
        .await
        .unwrap();
    assert_eq!(h.sim.shared().tencent.reports_for(&known).len(), 1);
}

/// Every refusal is the envelope spec §3.6 documents — exactly `{"code": N, "message": "…"}`
/// (the seed's failure example carries no `data`), under HTTP 200 — with `code` inside the range
/// the cause belongs to (2000–2100 permission/signature, 2100–2200 parameters). The platform
/// publishes no finer codes, so nothing here checks one. Unknown paths and methods are the web
/// server's 404/405 and an oversized body its 413, in the same envelope.
#[tokio::test]
async fn tencent_sim_errors_match_the_spec_shape() {
    let h = Harness::start().await;
    let base = h.sim.vendor_base_url(Vendor::Tencent);
    let http = reqwest::Client::new();
    let send = |rb: reqwest::RequestBuilder| async move {
        let r = rb.send().await.unwrap();
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap();
        let keys = crate::common::keys(&body);
        assert_eq!(keys, ["code", "message"], "{body}");
        let code = body["code"].as_i64().unwrap();
        assert_ne!(code, 0, "{body}");
        (status, code, body["message"].as_str().unwrap().to_string())
    };
    let now = Clock::system().unix_secs();
    let list = format!("{base}/leads/list?start_time={}&end_time={now}", now - 60);

    let (s, c, m) = send(http.get(&list)).await;
    assert_eq!(s, 200, "{m}");
    assert!(AUTH_RANGE.contains(&c), "{c}: {m}");
    let (s, c, m) = send(http.get(&list).header("X-Signature", "@@@")).await;
    assert_eq!(s, 200, "{m}");
    assert!(AUTH_RANGE.contains(&c), "{c}: {m}");
    assert!(m.contains("base64"), "{m}");
    let md5 = http
        .get(&list)
        .header(
            "X-Signature",
            sign::x_signature(SIM_TOKEN, SIM_SECRET, now, "n1", Algorithm::Sha1),
        )
        .header("X-Signature-Algorithm", "MD5");
    let (_, c, m) = send(md5).await;
    assert!(AUTH_RANGE.contains(&c), "{c}: {m}");
    let (_, c, m) = send(signed_raw(http.get(format!("{list}&page_size=500")), "n2")).await;
    assert!(PARAM_RANGE.contains(&c), "{c}: {m}");
    assert!(m.contains("page_size"), "{m}");
    let (_, c, m) = send(signed_raw(
        http.get(format!("{base}/leads/list?end_time=1")),
        "n3",
    ))
    .await;
    assert!(PARAM_RANGE.contains(&c), "{c}: {m}");
    assert!(m.contains("start_time"), "{m}");
    let (_, c, m) = send(signed_raw(
        http.get(format!("{base}/leads/list?start_time=yesterday&end_time=1")),
        "n4",
    ))
    .await;
    assert!(PARAM_RANGE.contains(&c), "{c}: {m}");
    let (_, c, m) =
        send(signed_raw(http.post(format!("{base}/leads/report")), "n5").body("{not json")).await;
    assert!(PARAM_RANGE.contains(&c), "{c}: {m}");
    let (_, c, m) =
        send(signed_raw(http.post(format!("{base}/leads/report")), "n6").body("{}")).await;
    assert!(PARAM_RANGE.contains(&c), "{c}: {m}");
    let too_many: Vec<Value> = (0..51)
        .map(|i| json!({"leads_id": i + 1, "leads_intention_score": "LEADS_INTENTION_SCORE_LEVEL_1"}))
        .collect();
    let (_, c, m) = send(
        signed_raw(http.post(format!("{base}/leads/report")), "n7")
            .body(json!({"list": too_many}).to_string()),
    )
    .await;
    assert!(PARAM_RANGE.contains(&c), "{c}: {m}");
    assert!(m.contains("51"), "{m}");
    // What our client would refuse to send, sent raw: the platform refuses it too.
    let (_, c, m) = send(
        signed_raw(http.post(format!("{base}/leads/report")), "n8").body(
            json!({"list": [{"leads_id": 1, "leads_convert_type": "LEADS_CONVERT_STATUS_DEPRECATED"}]})
                .to_string(),
        ),
    )
    .await;
    assert!(PARAM_RANGE.contains(&c), "{c}: {m}");
    let (_, c, m) = send(
        signed_raw(http.post(format!("{base}/leads/report")), "n9")
            .body(json!({"list": [{"leads_id": 1}]}).to_string()),
    )
    .await;
    assert!(PARAM_RANGE.contains(&c), "{c}: {m}");
    let (_, c, m) = send(
        signed_raw(
            http.post(format!("{base}/leads/report_personal_wechat")),
            "n10",
        )
        .body(json!({"uuid": "u"}).to_string()),
    )
    .await;
    assert!(PARAM_RANGE.contains(&c), "{c}: {m}");
    assert!(m.contains("app_id"), "{m}");
    let (_, c, m) = send(
        signed_raw(
            http.post(format!("{base}/leads/set_leads_status_system")),
            "n11",
        )
        .body(json!({"account_id": SIM_ACCOUNT_ID, "leads_status_system_option": 7}).to_string()),
    )
    .await;
    assert!(PARAM_RANGE.contains(&c), "{c}: {m}");
    // A status for a lead the platform never issued.
    let (s, c, m) = send(
        signed_raw(http.post(format!("{base}/leads/report")), "n13").body(
            json!({"list": [{"leads_id": 1, "leads_intention_score": "LEADS_INTENTION_SCORE_LEVEL_1"}]})
                .to_string(),
        ),
    )
    .await;
    assert_eq!(s, 200, "{m}");
    assert!(PARAM_RANGE.contains(&c), "{c}: {m}");
    assert!(m.contains("leads_id"), "{m}");
    let nonce33 = "a".repeat(33);
    let (_, c, m) = send(signed_raw(http.get(&list), &nonce33)).await;
    assert!(AUTH_RANGE.contains(&c), "{c}: {m}");
    let (s, c, m) = send(http.get(format!("{base}/leads/report"))).await;
    assert_eq!(s, 405, "{m}");
    assert!(PARAM_RANGE.contains(&c), "{c}: {m}");
    let (s, c, m) = send(http.post(format!("{base}/leads/nothing"))).await;
    assert_eq!(s, 404, "{m}");
    assert!(PARAM_RANGE.contains(&c), "{c}: {m}");
    let (s, c, m) = send(
        signed_raw(http.post(format!("{base}/leads/report")), "n12")
            .body(vec![b' '; 3 * 1024 * 1024]),
    )
    .await;
    assert_eq!(s, 413, "{m}");
    assert!(PARAM_RANGE.contains(&c), "{c}: {m}");
}

#[tokio::test]
async fn paging_through_a_window_returns_every_lead_exactly_once() {
    let h = Harness::start().await;
    let client = typed(h.client(Vendor::Tencent));
    let now = Clock::system().unix_secs();
    let generated = generate(&h, json!({"count": 537, "spread_secs": 3000, "at": now})).await;
    let expected: HashSet<String> = generated
        .iter()
        .map(|l| l["leads_id"].as_u64().unwrap().to_string())
        .collect();
    assert_eq!(expected.len(), 537);

    // Page by page, by hand, with a page size that does not divide the total.
    let mut req = window_unix(now - 3100, now + 10, 50);
    let mut seen = Vec::new();
    let mut created = Vec::new();
    loop {
        let page = client.list_leads(&req).await.unwrap();
        assert_eq!(page.page_info.total_number, 537);
        assert_eq!(page.page_info.total_page, 11);
        for lead in &page.list {
            seen.push(lead.leads_id.clone());
            created.push(lead.created_at().unwrap());
        }
        if req.page >= page.page_info.total_page {
            break;
        }
        req.page += 1;
    }
    assert_eq!(seen.len(), 537);
    assert_eq!(seen.iter().cloned().collect::<HashSet<_>>(), expected);
    assert!(created.windows(2).all(|w| w[0] >= w[1]), "newest first");

    // The convenience does the same.
    let all = client
        .list_window(&window_unix(now - 3100, now + 10, 200))
        .await
        .unwrap();
    assert_eq!(all.len(), 537);
    assert_eq!(
        all.iter()
            .map(|l| l.leads_id.clone())
            .collect::<HashSet<_>>(),
        expected
    );

    // Dates as the seed writes them cover the same leads.
    let dates = ListLeadsRequest::window(
        clock::beijing().timestamp_opt(now - 86_400, 0).unwrap(),
        clock::beijing().timestamp_opt(now + 86_400, 0).unwrap(),
        TimeFormat::Date,
    );
    assert_eq!(client.list_window(&dates).await.unwrap().len(), 537);

    // Deep paging continues exactly after the given id.
    let first = client
        .list_leads(&window_unix(now - 3100, now + 10, 100))
        .await
        .unwrap();
    let mut after = window_unix(now - 3100, now + 10, 100);
    after.search_after_leads_id = Some(first.list.last().unwrap().leads_id.clone());
    let next = client.list_leads(&after).await.unwrap();
    assert_eq!(next.page_info.total_number, 437);
    assert_eq!(next.list[0].leads_id, seen[100]);
}

#[tokio::test]
async fn large_leads_ids_survive_exactly() {
    let h = Harness::start().await;
    let client = typed(h.client(Vendor::Tencent));
    let generated = generate(&h, json!({"count": 20, "spread_secs": 30})).await;
    let now = Clock::system().unix_secs();
    let page = client
        .list_leads(&window_unix(now - 300, now + 60, 200))
        .await
        .unwrap();
    for lead in &page.list {
        let id: u64 = lead.leads_id.parse().unwrap();
        assert!(id > 1 << 53, "{id}");
        assert!(generated.iter().any(|g| g["leads_id"].as_u64() == Some(id)));
        assert_eq!(lead.raw["leads_id"].as_u64(), Some(id));
        let normalized = lead.to_lead("sim_tencent");
        assert_eq!(normalized.id, lead.leads_id);
        assert!(normalized.name.is_some() && normalized.phone.is_some());
        assert!(normalized.province.is_some() && normalized.city.is_some());
        assert!(normalized.created_at.is_some());
    }
    let id = page.list[7].leads_id.clone();
    client
        .report(&report_of(&id, "LEADS_CONVERT_STATUS_TRANS_COMPLETED"))
        .await
        .unwrap();
    let stored = h.sim.shared().tencent.reports_for(&id);
    assert_eq!(stored.len(), 1);
    // Sent as a JSON number (X-p), exact.
    assert_eq!(stored[0]["leads_id"].as_u64().unwrap().to_string(), id);
    // Or as a string, when switched.
    client
        .clone()
        .with_report_ids_as_strings(true)
        .report(&report_of(&id, "LEADS_CONVERT_STATUS_TRANS_COMPLETED"))
        .await
        .unwrap();
    let stored = h.sim.shared().tencent.reports_for(&id);
    assert_eq!(stored[1]["leads_id"], Value::String(id.clone()));
}

#[tokio::test]
async fn push_verifier_accepts_signed_pushes_and_rejects_forged_ones() {
    let h = Harness::start().await;
    let sample: Value = reqwest::Client::new()
        .post(format!("{}/_sim/tencent/push", h.base_url()))
        .json(&json!({"algorithm": "SHA256"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let body = serde_json::to_vec(&sample["body"]).unwrap();
    let sig = sample["headers"]["X-Signature"].as_str().unwrap();
    let alg = sample["headers"]["X-Signature-Algorithm"].as_str().unwrap();
    let verifier = PushVerifier::new(Secret::new(SIM_TOKEN), Secret::new(SIM_SECRET));
    let now = Clock::system().unix_secs();
    let lead = verifier.verify(Some(sig), Some(alg), &body, now).unwrap();
    assert_eq!(
        Some(lead.leads_id.as_str()),
        sample["body"]["leads_id"]
            .as_u64()
            .map(|n| n.to_string())
            .as_deref()
    );

    let ours = sign_push(SIM_TOKEN, SIM_SECRET, now, Algorithm::Sha1);
    assert!(verifier
        .verify(Some(&ours.signature), None, &body, now)
        .is_ok());

    let forged = sign_push(SIM_TOKEN, "guessed-secret", now, Algorithm::Sha1);
    assert!(matches!(
        verifier.verify(Some(&forged.signature), None, &body, now),
        Err(PushError::Unauthorized(AuthFailure::DigestMismatch(_)))
    ));
    let stale = sign_push(SIM_TOKEN, SIM_SECRET, now - 600, Algorithm::Sha1);
    assert!(matches!(
        verifier.verify(Some(&stale.signature), None, &body, now),
        Err(PushError::Unauthorized(AuthFailure::Stale { .. }))
    ));
    let wrong_token = sign_push("10002", SIM_SECRET, now, Algorithm::Sha1);
    assert!(matches!(
        verifier.verify(Some(&wrong_token.signature), None, &body, now),
        Err(PushError::Unauthorized(AuthFailure::TokenMismatch))
    ));
    assert!(matches!(
        verifier.verify(Some(&ours.signature), None, b"[1,2]", now),
        Err(PushError::Malformed(_))
    ));
}
