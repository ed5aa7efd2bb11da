//! waiqin against the simulator over real HTTP: every op, the auth refusals and their
//! classification, faults, business errors under HTTP 200, garbage input, big ids, push
//! verification of the simulator's own push bodies, and that every refusal has the one shape the
//! spec documents (`return_code` "1" and a message, §2.5).

use leadrelay::clock::Clock;
use leadrelay::config::Credentials;
use leadrelay::connectors::waiqin::model::*;
use leadrelay::connectors::waiqin::webhook::{
    encode_follow_push, verify_follow_push, PushError, PushMeta, UnauthorizedReason,
};
use leadrelay::connectors::waiqin::{sign, Client};
use leadrelay::connectors::{AccountClient, CallError, FailureKind, Vendor};
use leadrelay::secret::Secret;
use leadrelay::sim::{waiqin as simwq, Faults};
use serde_json::{json, Value};

use crate::common::Harness;

fn typed(client: AccountClient) -> Client {
    match client {
        AccountClient::Waiqin(c) => c,
        _ => unreachable!(),
    }
}

fn unique_code(tag: &str) -> String {
    format!(
        "IT-{tag}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

fn add_request(code: &str, mobile: &str) -> AddSalesLeadsRequest {
    AddSalesLeadsRequest {
        code: Some(code.into()),
        fields: SalesLeadFields {
            emp_name: Some("李四".into()),
            cus_name: Some("南京掌控网络".into()),
            source_type: Some("客户介绍".into()),
            linkman: Some("王秀英".into()),
            mobile_country: Some("86".into()),
            mobile: Some(mobile.into()),
            mss_province_name: Some("江苏省".into()),
            mss_city_name: Some("南京市".into()),
            mark_addr: Some("江苏省南京市建邺区".into()),
            detail: Some("想要报价".into()),
            exts: Some(vec![SalesLeadExtInput {
                salesleads_ext_key: "渠道".into(),
                salesleads_ext_value: Some("腾讯广告".into()),
            }]),
            ..Default::default()
        },
        mobile_repeat: Some("1".into()),
        ..Default::default()
    }
}

fn by_code(code: &str) -> QuerySalesLeadsRequest {
    QuerySalesLeadsRequest {
        conditions: QueryConditions {
            code: Some(code.into()),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// A refusal as the spec documents it: HTTP 200, `return_code` "1", the reason in the message.
fn assert_refused(e: &CallError, kind: FailureKind, message_part: &str) {
    assert_eq!(e.kind, kind, "{e}");
    assert!(!e.retryable(), "{e}");
    assert_eq!(e.vendor, Vendor::Waiqin);
    assert_eq!(e.account, "sim_waiqin", "{e}");
    assert_eq!(e.status, Some(200), "{e}");
    assert_eq!(e.code.as_deref(), Some("1"), "{e}");
    assert!(e.message.contains(message_part), "{e}");
}

#[tokio::test]
async fn every_op_succeeds_add_query_modify_remove() {
    let h = Harness::start().await;
    let c = typed(h.client(Vendor::Waiqin));
    let code = unique_code("ops");

    let ack = c
        .add_sales_leads(&add_request(&code, "13812345621"))
        .await
        .unwrap();
    assert_eq!(
        ack.msg_id.as_ref().map(String::len),
        Some(32),
        "uuid simple echoed"
    );

    let found = c.query_sales_leads(&by_code(&code)).await.unwrap();
    assert_eq!(found.len(), 1);
    let rec = &found[0];
    assert_eq!(rec.code.as_deref(), Some(code.as_str()));
    assert_eq!(rec.source_type_name.as_deref(), Some("客户介绍"));
    assert_eq!(rec.exts[0].ext_value.as_deref(), Some("腾讯广告"));
    let lead = rec.to_lead(c.account());
    assert_eq!(lead.name.as_deref(), Some("王秀英"));
    assert_eq!(lead.phone.as_deref(), Some("13812345621"));
    assert_eq!(lead.city.as_deref(), Some("南京市"));
    assert!(lead.created_at.is_some());
    assert_eq!(lead.raw["code"], code.as_str());

    // Modify by id, then by code.
    let modify = ModifySalesLeadsRequest {
        id: Some(rec.id.clone()),
        fields: SalesLeadFields {
            linkman: Some("王芳".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    c.modify_sales_leads(&modify).await.unwrap();
    let modify = ModifySalesLeadsRequest {
        code: Some(code.clone()),
        fields: SalesLeadFields {
            detail: Some("已电话沟通".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    c.modify_sales_leads(&modify).await.unwrap();
    let after = c.query_sales_leads(&by_code(&code)).await.unwrap();
    assert_eq!(after[0].linkman.as_deref(), Some("王芳"));
    assert_eq!(after[0].detail.as_deref(), Some("已电话沟通"));

    // aPaaS ops.
    let apaas_code = unique_code("apaas");
    let add = AddSalesLeadsApaasRequest {
        code: Some(apaas_code.clone()),
        fields: ApaasLeadFields {
            company_name: Some("示例公司".into()),
            linkman: Some("联系人".into()),
            mobile: Some(ApaasMobile {
                phone: Some("18912804466".into()),
                code: Some("86".into()),
            }),
            allocation_status: Some("0".into()),
            pool_name: Some("默认线索池".into()),
            exts: Some(
                serde_json::from_value(json!({"field_kig9p__cywdzm9": "10000.00"})).unwrap(),
            ),
            ..Default::default()
        },
        ..Default::default()
    };
    c.add_sales_leads_apaas(&add).await.unwrap();
    let modify = ModifySalesLeadsApaasRequest {
        code: Some(apaas_code.clone()),
        fields: ApaasLeadFields {
            salesleads_status: Some("2".into()),
            ..Default::default()
        },
        mark_address: Some("国家广告产业园".into()),
        ..Default::default()
    };
    c.modify_sales_leads_apaas(&modify).await.unwrap();
    let query = QuerySalesLeadsApaasRequest {
        conditions: QueryConditions {
            code: Some(apaas_code.clone()),
            ..Default::default()
        },
        sorts: Some(json!({"field_key": "create_time", "type": "desc"})),
        ..Default::default()
    };
    let apaas = c.query_sales_leads_apaas(&query).await.unwrap();
    assert_eq!(apaas.len(), 1);
    assert_eq!(apaas[0].code.as_deref(), Some(apaas_code.as_str()));
    assert_eq!(apaas[0].fields["mobile"]["phone"], "18912804466");
    assert_eq!(apaas[0].fields["mark_addr"], "国家广告产业园");
    assert_eq!(apaas[0].fields["salesleads_status"]["code"], "2");
    assert_eq!(apaas[0].fields["exts"]["field_kig9p__cywdzm9"], "10000.00");

    // Remove, then it is gone and a second remove is a business error.
    let remove = RemoveSalesLeadsRequest {
        code: Some(code.clone()),
        reason_id: Some("1000025".into()),
        content: Some("重复".into()),
        ..Default::default()
    };
    c.remove_sales_leads(&remove).await.unwrap();
    assert!(c
        .query_sales_leads(&by_code(&code))
        .await
        .unwrap()
        .is_empty());
    let e = c.remove_sales_leads(&remove).await.unwrap_err();
    assert_refused(&e, FailureKind::Business, "线索不存在");

    let state = h.sim.shared().waiqin.snapshot();
    assert_eq!(state["creates"][&code], 1);
    assert_eq!(state["creates"][&apaas_code], 1);
    assert_eq!(state["modifies"], 3);
    assert_eq!(state["removes"], 1);
    assert_eq!(state["leads"], 1);
}

#[tokio::test]
async fn named_ops_take_vendor_field_names_through_account_client() {
    let h = Harness::start().await;
    let client = h.client(Vendor::Waiqin);
    let code = unique_code("call");
    let answer = client
        .call(
            "add_sales_leads",
            json!({"poolName": "线索池", "code": code, "linkman": "张伟", "mobile": "13900000000",
                   "tenant_custom_field": "kept"}),
        )
        .await
        .unwrap();
    assert_eq!(answer["msg_id"].as_str().map(str::len), Some(32));
    let records = client
        .call(
            "query_sales_leads",
            json!({"code": code, "page": 1, "pageSize": 10}),
        )
        .await
        .unwrap();
    assert_eq!(records[0]["linkman"], "张伟");
    assert_eq!(records[0]["status_value"], "未分配");
    // Validation happens before sending and names the field.
    let before = h.sim.shared().requests(Vendor::Waiqin);
    let e = client
        .call("add_sales_leads", json!({"linkman": "没有负责人"}))
        .await
        .unwrap_err();
    assert_eq!(e.kind, FailureKind::InvalidPayload);
    assert!(e.message.contains("empName|poolName"), "{e}");
    let e = client
        .call(
            "query_sales_leads",
            json!({"modify_time_start": "2024/01/01"}),
        )
        .await
        .unwrap_err();
    assert!(e.message.contains("modify_time_start"), "{e}");
    assert_eq!(
        h.sim.shared().requests(Vendor::Waiqin),
        before,
        "nothing was sent"
    );
}

#[tokio::test]
async fn wrong_appkey_is_an_auth_error_with_the_vendor_code() {
    let h = Harness::start().await;
    let c = typed(h.client_with(Vendor::Waiqin, Clock::system(), |account| {
        if let Credentials::Waiqin(creds) = &mut account.credentials {
            creds.appkey = Secret::new("WRONGwaiqinAppKey1");
        }
    }));
    let e = c.query_sales_leads(&by_code("anything")).await.unwrap_err();
    assert_refused(&e, FailureKind::Auth, "签名错误");
    assert!(!e.to_string().contains("WRONGwaiqin"), "no secret in {e}");
    assert_eq!(h.sim.shared().waiqin.snapshot()["auth_failures"], 1);
}

#[tokio::test]
async fn wrong_openid_is_an_auth_error() {
    let h = Harness::start().await;
    let c = typed(h.client_with(Vendor::Waiqin, Clock::system(), |account| {
        if let Credentials::Waiqin(creds) = &mut account.credentials {
            creds.openid = "1111111111111111111".into();
        }
    }));
    let e = c.query_sales_leads(&by_code("x")).await.unwrap_err();
    assert_refused(&e, FailureKind::Auth, "openid无效");
}

#[tokio::test]
async fn the_sim_invents_no_timestamp_window() {
    // Waiqin publishes no window for the signed timestamp (spec §2.3, W-b), so the simulator
    // accepts one ten minutes off: refusing it would make tests depend on a made-up limit.
    let h = Harness::start().await;
    let c = typed(h.client_with(Vendor::Waiqin, Clock::skewed_secs(-600), |_| {}));
    c.add_sales_leads(&add_request(&unique_code("skewed"), "13800000001"))
        .await
        .unwrap();
    assert_eq!(h.sim.shared().waiqin.snapshot()["leads"], 1);
}

#[tokio::test]
async fn each_call_signs_with_a_fresh_msg_id() {
    let h = Harness::start().await;
    let c = typed(h.client(Vendor::Waiqin));
    // The typed methods never reuse a msg_id: the same request three times is three ids.
    for _ in 0..3 {
        c.query_sales_leads(&by_code("replay")).await.unwrap();
    }
    assert_eq!(h.sim.shared().waiqin.snapshot()["replays"], 0);
    // A reused one is counted, not refused: the spec only says the server echoes it.
    let body = serde_json::to_vec(&by_code("replay")).unwrap();
    let msg_id = "0123456789abcdef0123456789abcdef";
    for _ in 0..2 {
        let envelope = c
            .send_raw("query_sales_leads", body.clone(), msg_id)
            .await
            .unwrap();
        assert!(envelope.is_success());
    }
    assert_eq!(h.sim.shared().waiqin.snapshot()["replays"], 1);
}

#[tokio::test]
async fn server_503_is_retryable_with_retry_after() {
    let h = Harness::start().await;
    let c = typed(h.client(Vendor::Waiqin));
    h.sim.shared().set_faults(Faults {
        vendor: Some(Vendor::Waiqin),
        error_rate: 1.0,
        status: Some(503),
        ..Default::default()
    });
    let e = c.query_sales_leads(&by_code("x")).await.unwrap_err();
    assert_eq!(e.kind, FailureKind::ServerError);
    assert!(e.retryable());
    assert_eq!(e.status, Some(503));
    assert_eq!(e.retry_after, Some(std::time::Duration::from_secs(1)));
    assert_eq!(e.account, "sim_waiqin");
    h.sim.shared().clear_faults();
    c.query_sales_leads(&by_code("x")).await.unwrap();
}

#[tokio::test]
async fn duplicate_code_under_http_200_is_an_exists_error() {
    let h = Harness::start().await;
    let c = typed(h.client(Vendor::Waiqin));
    let code = unique_code("dup");
    c.add_sales_leads(&add_request(&code, "13800000002"))
        .await
        .unwrap();
    let e = c
        .add_sales_leads(&add_request(&code, "13800000003"))
        .await
        .unwrap_err();
    assert_refused(&e, FailureKind::Exists, &format!("线索编码[{code}]已存在"));
    assert_eq!(h.sim.shared().waiqin.creates(&code), 1);

    // mobile_repeat "0" refuses a second lead with the same mobile.
    let mut strict = add_request(&unique_code("mob"), "13800000002");
    strict.mobile_repeat = Some("0".into());
    let e = c.add_sales_leads(&strict).await.unwrap_err();
    assert_refused(&e, FailureKind::Exists, "已存在");
    assert!(!e.message.contains("13800000002"), "phone masked: {e}");
}

#[tokio::test]
async fn sim_parameter_errors_are_invalid_request() {
    let h = Harness::start().await;
    let c = typed(h.client(Vendor::Waiqin));
    let e = c
        .send_raw("add_sales_leads", b"{}".to_vec(), "m1")
        .await
        .unwrap_err();
    assert_refused(&e, FailureKind::InvalidRequest, "参数缺失");
    let e = c
        .send_raw("query_sales_leads", br#"{"page":1}"#.to_vec(), "m2")
        .await
        .unwrap_err();
    assert_refused(&e, FailureKind::InvalidRequest, "查询条件");
    let e = c
        .send_raw(
            "query_sales_leads",
            br#"{"salesleads_status":"4"}"#.to_vec(),
            "m3",
        )
        .await
        .unwrap_err();
    assert_refused(&e, FailureKind::InvalidRequest, "salesleads_status");
    let e = c
        .send_raw("add_sales_leads", b"not json{".to_vec(), "m4")
        .await
        .unwrap_err();
    assert_refused(&e, FailureKind::InvalidRequest, "参数格式错误");
}

/// Every refusal of the simulator, whatever its cause, is the one failure shape Waiqin
/// documents (spec §2.5, W-f): the envelope `{return_code, return_msg, msg_id, response_data}`
/// with `return_code` "1" and the reason in `return_msg` — never another code, because the
/// vendor's code appendix is not public. The web server's own statuses (404, 405, 413) carry the
/// same envelope.
#[tokio::test]
async fn waiqin_sim_errors_match_the_spec_shape() {
    let h = Harness::start().await;
    let http = reqwest::Client::new();
    let base = h.sim.vendor_base_url(Vendor::Waiqin);
    let now = Clock::system().now_beijing();
    let ts = sign::timestamp(&now);
    let signed = |op: &str, body: &[u8], msg_id: &str| {
        let digest = sign::digest(body, simwq::APPKEY, &ts);
        sign::signed_url(
            &base,
            "salesleads/v1",
            op,
            simwq::OPENID,
            &ts,
            &digest,
            msg_id,
        )
    };
    let json = |url: String, body: &[u8]| {
        http.post(url)
            .header("content-type", "application/json")
            .body(body.to_vec())
    };
    let existing = unique_code("shape");
    typed(h.client(Vendor::Waiqin))
        .add_sales_leads(&add_request(&existing, "13800000009"))
        .await
        .unwrap();
    let duplicate = format!(r#"{{"code":"{existing}","poolName":"公海"}}"#).into_bytes();
    let bad_ts = format!(
        "{base}/salesleads/v1/querySalesLeads/{}/2024-01-01/abc/g3",
        simwq::OPENID
    );
    let unsigned = format!(
        "{base}/salesleads/v1/querySalesLeads/{}/{ts}/00000000000000000000000000000000/g2",
        simwq::OPENID
    );
    let wrong_openid = format!(
        "{base}/salesleads/v1/querySalesLeads/1111111111111111111/{ts}/{}/g8",
        sign::digest(b"{}", simwq::APPKEY, &ts)
    );
    // (what, request, HTTP status, a word of the message)
    let cases: Vec<(&str, reqwest::RequestBuilder, u16, &str)> = vec![
        (
            "unknown path",
            http.post(format!("{base}/nothing/here")),
            404,
            "接口不存在",
        ),
        (
            "unknown op",
            json(signed("dropTables", b"{}", "g0"), b"{}"),
            404,
            "接口不存在",
        ),
        (
            "not a POST",
            http.get(signed("querySalesLeads", b"", "g1")),
            405,
            "请求方式",
        ),
        (
            "bad digest",
            http.post(unsigned).body("garbage"),
            200,
            "签名错误",
        ),
        ("bad openid", json(wrong_openid, b"{}"), 200, "openid无效"),
        ("bad timestamp", json(bad_ts, b"{}"), 200, "时间戳格式错误"),
        (
            "not JSON",
            json(
                signed("addSalesLeads", b"\x00\xffnot json", "g4"),
                b"\x00\xffnot json",
            ),
            200,
            "参数格式错误",
        ),
        (
            "not an object",
            json(signed("addSalesLeads", b"[1,2]", "g5"), b"[1,2]"),
            200,
            "参数格式错误",
        ),
        (
            "wrong Content-Type",
            http.post(signed("querySalesLeads", br#"{"code":"x"}"#, "g6"))
                .header("content-type", "text/plain")
                .body(r#"{"code":"x"}"#),
            200,
            "Content-Type",
        ),
        (
            "missing field",
            json(signed("addSalesLeads", b"{}", "g9"), b"{}"),
            200,
            "参数缺失",
        ),
        (
            "bad enum",
            json(
                signed("querySalesLeads", br#"{"salesleads_status":"4"}"#, "g10"),
                br#"{"salesleads_status":"4"}"#,
            ),
            200,
            "参数错误",
        ),
        (
            "code exists",
            json(signed("addSalesLeads", &duplicate, "g11"), &duplicate),
            200,
            "已存在",
        ),
        (
            "not found",
            json(
                signed("removeSalesLeads", br#"{"code":"no-such-lead"}"#, "g12"),
                br#"{"code":"no-such-lead"}"#,
            ),
            200,
            "线索不存在",
        ),
        (
            "too large",
            http.post(signed("addSalesLeads", b"", "g7"))
                .body(vec![b'a'; leadrelay::sim::MAX_BODY + 10]),
            413,
            "请求体过大",
        ),
    ];
    for (what, request, status, word) in cases {
        let resp = request.send().await.unwrap();
        assert_eq!(resp.status().as_u16(), status, "{what}");
        let v: Value = resp.json().await.unwrap();
        let keys = crate::common::keys(&v);
        assert_eq!(
            keys,
            ["return_code", "return_msg", "msg_id", "response_data"],
            "{what}: {v}"
        );
        assert_eq!(v["return_code"], simwq::FAILURE, "{what}: {v}");
        assert_eq!(v["response_data"], Value::Null, "{what}");
        let message = v["return_msg"].as_str().unwrap();
        assert!(message.contains(word), "{what}: {message}");
    }

    // Controls reject bad input too (they are ours, not the vendor's).
    let resp = http
        .post(format!("{}/_sim/waiqin/leads", h.base_url()))
        .body("{\"count\": 0}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
}

#[tokio::test]
async fn ids_above_2_pow_53_survive_both_ways() {
    let h = Harness::start().await;
    let client = h.client(Vendor::Waiqin);
    let c = typed(client.clone());
    let code = unique_code("bigid");
    c.add_sales_leads(&add_request(&code, "13800000004"))
        .await
        .unwrap();
    let id = c.query_sales_leads(&by_code(&code)).await.unwrap()[0]
        .id
        .clone();
    let n: u64 = id.parse().unwrap();
    assert!(n > 1 << 53, "{id}");
    // The id as a JSON number in a script payload still finds exactly this lead.
    let payload: Value =
        serde_json::from_str(&format!(r#"{{"id": {id}, "linkman": "大数字"}}"#)).unwrap();
    client.call("modify_sales_leads", payload).await.unwrap();
    let by_id = QuerySalesLeadsRequest {
        conditions: QueryConditions {
            id: Some(id.clone()),
            ..Default::default()
        },
        ..Default::default()
    };
    let recs = c.query_sales_leads(&by_id).await.unwrap();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].id, id);
    assert_eq!(recs[0].linkman.as_deref(), Some("大数字"));
    let answer = client
        .call("query_sales_leads", json!({"id": id}))
        .await
        .unwrap();
    assert_eq!(answer[0]["id"], Value::String(id));
}

#[tokio::test]
async fn generated_leads_page_by_modify_window() {
    let h = Harness::start().await;
    let c = typed(h.client(Vendor::Waiqin));
    let resp: Value = reqwest::Client::new()
        .post(format!("{}/_sim/waiqin/leads", h.base_url()))
        .json(&json!({"count": 25}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(resp["generated"], 25);
    let today = h
        .sim
        .shared()
        .clock(Vendor::Waiqin)
        .now_beijing()
        .date_naive();
    let mut req = QuerySalesLeadsRequest {
        conditions: QueryConditions::modified_between(today - chrono::Days::new(1), today),
        ..Default::default()
    };
    req.conditions.page_size = Some(10);
    let before = h.sim.shared().requests(Vendor::Waiqin);
    let all = c.query_sales_leads_all(&req).await.unwrap();
    assert_eq!(all.len(), 25);
    assert_eq!(
        h.sim.shared().requests(Vendor::Waiqin) - before,
        3,
        "pages 10+10+5"
    );
    let mut ids: Vec<_> = all.iter().map(|r| r.id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 25);
    for rec in &all {
        let lead = rec.to_lead("sim_waiqin");
        assert!(lead.name.is_some() && lead.phone.as_ref().unwrap().len() == 11);
        assert!(lead.province.is_some() && lead.source.is_some());
    }
    // Nothing modified tomorrow.
    let tomorrow = QuerySalesLeadsRequest {
        conditions: QueryConditions::modified_between(
            today + chrono::Days::new(1),
            today + chrono::Days::new(1),
        ),
        ..Default::default()
    };
    assert!(c.query_sales_leads_all(&tomorrow).await.unwrap().is_empty());
    let state = h.sim.shared().waiqin.snapshot();
    assert_eq!(
        (state["generated"].as_u64(), state["leads"].as_u64()),
        (Some(25), Some(25))
    );
}

#[tokio::test]
async fn push_verification_accepts_sim_pushes_and_w3_and_rejects_tampering() {
    let h = Harness::start().await;
    let c = typed(h.client(Vendor::Waiqin));
    let code = unique_code("push");
    c.add_sales_leads(&add_request(&code, "13800000005"))
        .await
        .unwrap();
    let resp: Value = reqwest::Client::new()
        .post(format!("{}/_sim/waiqin/follow", h.base_url()))
        .json(&json!({"code": code, "activity_content": "上门拜访"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let body = resp["body"].as_str().unwrap();
    let secret = match &h.config.accounts["sim_waiqin"].credentials {
        Credentials::Waiqin(c) => c.pushsecret.clone().unwrap(),
        _ => unreachable!(),
    };
    let push = verify_follow_push(body.as_bytes(), secret.expose()).unwrap();
    assert_eq!(push.meta.msg_id, resp["msg_id"].as_str().unwrap());
    assert_eq!(push.record.lead_code.as_deref(), Some(code.as_str()));
    assert_eq!(push.record.activity_content.as_deref(), Some("上门拜访"));
    let lead = h.sim.shared().waiqin.lead(&code).unwrap();
    assert_eq!(push.record.lead_id, lead["id"].as_str().unwrap());

    // Our own encoder, and W3, verify; tampering with data or digest does not.
    let own = encode_follow_push(
        &PushMeta::follow("1", 1_569_404_987_248),
        &push.data,
        secret.expose(),
    );
    assert!(verify_follow_push(own.as_bytes(), secret.expose()).is_ok());
    let w3 = "msgId=7898952955531954883&dataType=salesLeads_follow&data=%7B%22lead_ID%22%3A%22SK202101090003%22%2C%22lead_code%22%3A%22zsmd%22%2C%22activity_content%22%3A%22%E7%94%B5%E8%AF%9D%E5%9B%9E%E8%AE%BF%22%7D&timestamp=1569404987248&digest=e0e4c4d34c4afcd29d0b34defa6f1a7a";
    assert!(verify_follow_push(w3.as_bytes(), "PuShSeCrEt0001").is_ok());
    let tampered_data = body.replace("%E4%B8%8A%E9%97%A8", "%E4%B8%8B%E9%97%A8"); // 上门 → 下门
    assert_ne!(tampered_data, body);
    assert_eq!(
        verify_follow_push(tampered_data.as_bytes(), secret.expose()).unwrap_err(),
        PushError::Unauthorized(UnauthorizedReason::DigestMismatch)
    );
    let digest = push_digest_of(body);
    let tampered_digest = body.replace(&digest, &"0".repeat(32));
    assert_eq!(
        verify_follow_push(tampered_digest.as_bytes(), secret.expose()).unwrap_err(),
        PushError::Unauthorized(UnauthorizedReason::DigestMismatch)
    );
}

fn push_digest_of(body: &str) -> String {
    body.split('&')
        .find_map(|kv| kv.strip_prefix("digest="))
        .unwrap()
        .to_string()
}
