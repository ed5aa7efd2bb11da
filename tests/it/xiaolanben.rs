//! xiaolanben against the simulator over real HTTP.

use std::time::Duration;

use leadrelay::clock::Clock;
use leadrelay::connectors::http::RawResponse;
use leadrelay::connectors::xiaolanben::client::{
    error_from_response, IMPORT_CUSTOMERS_PATH, IMPORT_CUSTOMER_PATH, STAFFS_PATH,
};
use leadrelay::connectors::xiaolanben::model::{
    Contact, Customer, DuplicateControl, ImportCustomerRequest, ImportCustomersRequest,
    ImportOptions, ListStaffsRequest,
};
use leadrelay::connectors::xiaolanben::{sign, Client};
use leadrelay::connectors::{AccountClient, FailureKind, Vendor};
use leadrelay::sim::{ClockSkew, Faults};
use leadrelay::store::Queries;
use serde_json::{json, Value};

use crate::common::Harness;

const KEY: &str = "sim-xiaolanben-key";
const COMPANY: &str = "10001";

fn typed(client: AccountClient) -> Client {
    match client {
        AccountClient::Xiaolanben(c) => c,
        _ => unreachable!(),
    }
}

fn xlb(h: &Harness) -> Client {
    typed(h.client(Vendor::Xiaolanben))
}

fn snapshot(h: &Harness) -> Value {
    h.sim.shared().xiaolanben.snapshot()
}

fn customer(name: &str, third: &str, phone: &str) -> Customer {
    Customer {
        customer_name: name.into(),
        contacts: vec![Contact {
            third_data_id: third.into(),
            name: Some("联系人".into()),
            phone: Some(phone.into()),
            gender: Some("男".into()),
            ..Contact::default()
        }],
        ..Customer::default()
    }
}

fn single(c: Customer) -> ImportCustomerRequest {
    ImportCustomerRequest {
        customer: c,
        options: ImportOptions::default(),
    }
}

/// Sends a request signed with `key` at `h_t` by hand, like a third-party caller would.
async fn signed(
    h: &Harness,
    method: reqwest::Method,
    path: &str,
    params: &[(String, Vec<String>)],
    body: Option<&str>,
    h_t: i64,
    key: &str,
) -> reqwest::Response {
    let sig = sign::h_sign(params, body, h_t, key);
    let url = format!(
        "{}{path}?{}",
        h.sim.vendor_base_url(Vendor::Xiaolanben),
        sign::query_string(params, h_t, &sig)
    );
    let mut req = reqwest::Client::new()
        .request(method, url)
        .header("companyId", COMPANY)
        .timeout(Duration::from_secs(5));
    if let Some(body) = body {
        req = req
            .header("content-type", "application/json; charset=utf-8")
            .body(body.to_string());
    }
    req.send().await.expect("simulator answers")
}

/// Asserts the error shape the guide documents (spec §4.5) — exactly
/// `{"trackingId": "…", "errors": [{"code": N, "message": "…"}]}` under a non-2xx status, the
/// code mirroring the status — and returns (status, code, message).
async fn vendor_error(resp: reqwest::Response) -> (u16, i64, String) {
    let status = resp.status().as_u16();
    assert!(!(200..300).contains(&status), "an error is never a 2xx");
    let body: Value = resp.json().await.expect("error body is JSON");
    let keys = crate::common::keys(&body);
    assert_eq!(keys, ["trackingId", "errors"], "{body}");
    assert!(
        body["trackingId"].as_str().is_some_and(|t| !t.is_empty()),
        "{body}"
    );
    let errors = body["errors"].as_array().expect("errors is a list");
    assert_eq!(errors.len(), 1, "{body}");
    let e = &errors[0];
    let keys = crate::common::keys(e);
    assert_eq!(keys, ["code", "message"], "{body}");
    let code = e["code"].as_i64().expect("numeric code");
    assert_eq!(
        code,
        i64::from(status),
        "the code mirrors the status: {body}"
    );
    (
        status,
        code,
        e["message"].as_str().expect("message").to_string(),
    )
}

fn now_ms() -> i64 {
    Clock::system().unix_millis()
}

#[tokio::test]
async fn import_customer_creates_then_updates_by_key() {
    let h = Harness::start().await;
    let c = xlb(&h);
    let req = single(customer("深圳市甲科技有限公司", "lead-1", "13800000001"));
    let first = c.import_customer(&req).await.unwrap();
    assert_eq!(first.is_new, Some(true));
    assert_eq!(first.staff_id, None);
    assert_eq!(first.public_sea_id.as_deref(), Some("PS-DEFAULT"));
    assert!(first.customer_id > 1 << 53, "ids beyond 2^53 stay exact");
    let contact_id = first.contact_id_map["lead-1"];

    let second = c.import_customer(&req).await.unwrap();
    assert_eq!(second.is_new, Some(false));
    assert_eq!(second.customer_id, first.customer_id);
    assert_eq!(second.contact_id_map["lead-1"], contact_id);

    let snap = snapshot(&h);
    assert_eq!(snap["creates_by_key"]["深圳市甲科技有限公司"], json!(1));
    assert_eq!(snap["updates_by_key"]["深圳市甲科技有限公司"], json!(1));
    assert_eq!(snap["customers"], json!(1));
    assert_eq!(snap["contacts"], json!(1));

    // entName is the identity when present: a new customerName updates the same record.
    let mut with_ent = customer("甲科技", "lead-2", "13800000002");
    with_ent.ent_name = Some("广州乙贸易有限公司".into());
    with_ent.staff_id = Some(1001);
    let a = c.import_customer(&single(with_ent.clone())).await.unwrap();
    assert_eq!((a.is_new, a.staff_id), (Some(true), Some(1001)));
    with_ent.customer_name = "乙贸易(更名)".into();
    let b = c.import_customer(&single(with_ent)).await.unwrap();
    assert_eq!((b.is_new, b.customer_id), (Some(false), a.customer_id));
    assert_eq!(
        snapshot(&h)["creates_by_key"]["广州乙贸易有限公司"],
        json!(1)
    );

    let listed: Value = reqwest::get(format!("{}/_sim/xiaolanben/customers", h.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let renamed = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"] == "广州乙贸易有限公司")
        .unwrap();
    assert_eq!(renamed["customerName"], "乙贸易(更名)");
}

#[tokio::test]
async fn batch_import_surfaces_per_customer_failures_under_http_200() {
    let h = Harness::start().await;
    let c = xlb(&h);
    let mut bad = customer("丙公司", "u3", "13800000013");
    bad.staff_id = Some(9999); // no such staff: fails this customer only
    let req = ImportCustomersRequest {
        customers: vec![
            customer("甲公司", "u1", "13800000011"),
            bad,
            customer("乙公司", "u2", "13800000012"),
        ],
        options: ImportOptions {
            duplicate_control: Some(DuplicateControl::System),
            ..ImportOptions::default()
        },
    };
    let r = c.import_customers(&req).await.unwrap();
    assert_eq!((r.succeeded_count, r.failed_count), (2, 1));
    assert!(r.is_partial());
    let failed: Vec<_> = r.failures().collect();
    assert_eq!(failed[0].customer_name, "丙公司");
    assert_eq!(
        failed[0].failed_reason.as_deref(),
        Some("员工不存在: staffId=9999")
    );
    assert!(r.results[0].success && r.results[2].success);
    assert!(r.results[0].customer_id.is_some());
    assert_eq!(r.results[0].contact_id_map.len(), 1);
    assert_eq!(snapshot(&h)["creates"], json!(2));

    // Every customer failing is an error, not a success.
    let mut bad2 = customer("丁公司", "u4", "13800000014");
    bad2.staff_id = Some(1);
    let mut bad3 = customer("戊公司", "u5", "13800000015");
    bad3.staff_id = Some(2);
    let err = c
        .import_customers(&ImportCustomersRequest {
            customers: vec![bad2, bad3],
            options: ImportOptions::default(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind, FailureKind::Business);
    assert_eq!(err.status, Some(200));
    assert!(!err.retryable());
    assert!(
        err.message.contains("丁公司: 员工不存在"),
        "{}",
        err.message
    );
    assert!(err.message.contains("戊公司"), "{}", err.message);
}

#[tokio::test]
async fn staff_paging_returns_every_staff_member_once() {
    let h = Harness::start().await;
    let c = xlb(&h);
    let page = c
        .list_staffs(&ListStaffsRequest {
            page_index: 3,
            page_size: 5,
            search: None,
        })
        .await
        .unwrap();
    assert_eq!(page.len(), 2, "12 staff: pages of 5, 5, 2");
    assert_eq!(page[0].staff_id, 1011);

    let all = c.list_all_staffs(None).await.unwrap();
    let ids: Vec<i64> = all.iter().map(|s| s.staff_id).collect();
    assert_eq!(ids, (1001..=1012).collect::<Vec<_>>());
    assert!(all
        .iter()
        .all(|s| s.real_name.is_some() && s.mobile.is_some() && s.department.is_some()));

    let by_name = c.list_all_staffs(Some("张")).await.unwrap();
    assert_eq!(by_name.len(), 1);
    assert_eq!(by_name[0].real_name.as_deref(), Some("张伟"));
    let by_mobile = c.list_all_staffs(Some("13610021008")).await.unwrap();
    assert_eq!(by_mobile[0].staff_id, 1008);
    assert!(
        c.list_all_staffs(Some("1361002")).await.unwrap().is_empty(),
        "mobile must match exactly"
    );
}

#[tokio::test]
async fn every_op_runs_through_the_account_client_with_json_payloads() {
    let h = Harness::start().await;
    let client = h.client(Vendor::Xiaolanben);
    let one = client
        .call(
            "import_customer",
            json!({
                "customerName": "杭州丙网络科技有限公司", "staffId": "1002", "tag": "未分组",
                "customizeField.text_13": "来自腾讯广告",
                "contacts": [{"thirdDataId": "tencent:1", "name": "王秀英", "phone": "13812345621",
                              "gender": "女", "birthday": "1990-05-01", "customizeField.text_2": "表单"}],
                "options": {"checkKeepLimit": true, "autoDraw": false, "duplicateControl": "CUSTOMER_PHONE_DUPLICATE_FAIL"}
            }),
        )
        .await
        .unwrap();
    assert_eq!(one["isNew"], json!(true));
    assert_eq!(one["staffId"], json!(1002));
    assert!(one["contactIdMap"]["tencent:1"].is_i64());

    let many = client
        .call(
            "import_customers",
            json!({"customers": [{"customerName": "甲"}, {"customerName": "乙", "contacts": [{"thirdDataId": 7}]}]}),
        )
        .await
        .unwrap();
    assert_eq!(many["succeededCount"], json!(2));
    assert_eq!(many["results"][1]["customerName"], json!("乙"));
    assert!(many["results"][1]["contactIdMap"]["7"].is_i64());

    let page = client
        .call("list_staffs", json!({"pageSize": 2}))
        .await
        .unwrap();
    assert_eq!(page.as_array().unwrap().len(), 2);
    let all = client.call("list_all_staffs", Value::Null).await.unwrap();
    assert_eq!(all.as_array().unwrap().len(), 12);

    let stored: Value = reqwest::get(format!("{}/_sim/xiaolanben/customers", h.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let first = stored
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"] == "杭州丙网络科技有限公司")
        .unwrap();
    assert_eq!(
        first["customizeFields"]["customizeField.text_13"],
        "来自腾讯广告"
    );
    assert_eq!(
        first["contacts"][0]["fields"]["customizeField.text_2"],
        "表单"
    );
}

#[tokio::test]
async fn wrong_key_and_wrong_company_are_auth_errors_with_the_vendors_code() {
    let h = Harness::start().await;
    let wrong_key = typed(h.client_with(Vendor::Xiaolanben, Clock::system(), |a| {
        if let leadrelay::config::Credentials::Xiaolanben(c) = &mut a.credentials {
            c.key = leadrelay::secret::Secret::new("not-the-key");
        }
    }));
    let err = wrong_key.list_all_staffs(None).await.unwrap_err();
    assert_eq!(err.kind, FailureKind::Auth);
    assert!(!err.retryable());
    assert_eq!(err.status, Some(401));
    assert_eq!(err.code.as_deref(), Some("401"));
    assert_eq!(err.message, "请求未经过认证");
    assert_eq!(err.account, "sim_xiaolanben");

    let wrong_company = typed(h.client_with(Vendor::Xiaolanben, Clock::system(), |a| {
        if let leadrelay::config::Credentials::Xiaolanben(c) = &mut a.credentials {
            c.company_id = "10002".into();
        }
    }));
    let err = wrong_company
        .import_customer(&single(customer("甲", "u1", "1")))
        .await
        .unwrap_err();
    assert_eq!((err.kind, err.status), (FailureKind::Auth, Some(401)));
    assert_eq!(err.message, "请求未经过认证");
    assert_eq!(snapshot(&h)["customers"], json!(0));
}

#[tokio::test]
async fn a_stale_h_t_is_a_retryable_clock_error() {
    let h = Harness::start().await;
    // Our clock 10 minutes behind.
    let stale = typed(h.client_with(Vendor::Xiaolanben, Clock::skewed_secs(-600), |_| {}));
    let err = stale
        .import_customer(&single(customer("甲", "u1", "13800000001")))
        .await
        .unwrap_err();
    assert_eq!(err.kind, FailureKind::Clock, "{err}");
    assert_eq!(err.kind.neutral().as_str(), "clock");
    assert!(err.retryable());
    assert_eq!(err.status, Some(403));
    assert_eq!(err.code.as_deref(), Some("403"));
    assert_eq!(snapshot(&h)["rejected"]["stale"], json!(1));
    assert_eq!(snapshot(&h)["customers"], json!(0));

    // The server's clock 30 s ahead: the same, and nothing was imported.
    h.sim.shared().set_clock_skew(&ClockSkew {
        vendor: Some(Vendor::Xiaolanben),
        skew_secs: 30,
    });
    let err = xlb(&h)
        .import_customer(&single(customer("甲", "u1", "13800000001")))
        .await
        .unwrap_err();
    assert_eq!(err.kind, FailureKind::Clock, "{err}");
    assert_eq!(snapshot(&h)["customers"], json!(0));
    // Within the 10 s window is fine.
    h.sim.shared().set_clock_skew(&ClockSkew {
        vendor: Some(Vendor::Xiaolanben),
        skew_secs: 5,
    });
    xlb(&h)
        .import_customer(&single(customer("甲", "u1", "13800000001")))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_replayed_signed_request_is_refused_and_classified_not_retryable() {
    let h = Harness::start().await;
    let params = vec![
        ("autoUnlock".to_string(), vec!["false".to_string()]),
        ("duplicateControl".to_string(), vec!["SYSTEM".to_string()]),
    ];
    let body = r#"{"customerName":"重放测试公司","contacts":[{"thirdDataId":"r1","phone":"13900000001"}]}"#;
    let h_t = now_ms();
    let first = signed(
        &h,
        reqwest::Method::POST,
        IMPORT_CUSTOMER_PATH,
        &params,
        Some(body),
        h_t,
        KEY,
    )
    .await;
    assert_eq!(first.status(), 200);
    let answer: Value = first.json().await.unwrap();
    assert_eq!(answer["isNew"], json!(true));

    let again = signed(
        &h,
        reqwest::Method::POST,
        IMPORT_CUSTOMER_PATH,
        &params,
        Some(body),
        h_t,
        KEY,
    )
    .await;
    let status = again.status().as_u16();
    let headers = again.headers().clone();
    let bytes = again.bytes().await.unwrap();
    let parsed: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(status, 403);
    assert_eq!(parsed["errors"][0]["code"], json!(403));
    assert_eq!(parsed["errors"][0]["message"], json!("请求不允许重复执行"));
    assert_eq!(
        snapshot(&h)["creates"],
        json!(1),
        "the replay imported nothing"
    );
    assert_eq!(snapshot(&h)["updates"], json!(0));

    let err = error_from_response(
        "sim_xiaolanben",
        "import_customer",
        &RawResponse {
            status,
            headers,
            body: bytes,
        },
    );
    assert_eq!(err.kind, FailureKind::Auth);
    assert!(!err.retryable());
    assert_eq!(err.code.as_deref(), Some("403"));
    assert_eq!(err.message, "请求不允许重复执行");

    // The client never replays itself: identical concurrent calls (same URL and params,
    // likely the same millisecond) still get distinct h_t and all succeed.
    let c = xlb(&h);
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let c = c.clone();
        set.spawn(async move { c.list_staffs(&ListStaffsRequest::default()).await });
    }
    while let Some(result) = set.join_next().await {
        assert_eq!(result.unwrap().unwrap().len(), 12);
    }
    assert_eq!(snapshot(&h)["rejected"]["replay"], json!(1));
}

#[tokio::test]
async fn server_errors_are_retryable_with_retry_after() {
    let h = Harness::start().await;
    h.sim.shared().set_faults(Faults {
        vendor: Some(Vendor::Xiaolanben),
        error_rate: 1.0,
        status: Some(503),
        ..Default::default()
    });
    let err = xlb(&h)
        .import_customer(&single(customer("甲", "u1", "1")))
        .await
        .unwrap_err();
    assert_eq!(err.kind, FailureKind::ServerError);
    assert!(err.retryable());
    assert_eq!(err.status, Some(503));
    assert_eq!(err.retry_after, Some(Duration::from_secs(1)));
    h.sim.shared().clear_faults();
    assert!(xlb(&h)
        .list_staffs(&ListStaffsRequest::default())
        .await
        .is_ok());
}

/// A lost answer: the vendor applied the import but the answer never arrived. The caller sees a
/// retryable transport failure, and because the import is an upsert, the retry updates the
/// customer instead of creating it twice.
#[tokio::test]
async fn a_lost_answer_is_a_retryable_transport_failure_and_the_retry_does_not_create_twice() {
    let h = Harness::start().await;
    h.sim.shared().set_faults(Faults {
        vendor: Some(Vendor::Xiaolanben),
        lost_rate: 1.0,
        ..Default::default()
    });
    let request = single(customer("甲", "u1", "13800000001"));
    let err = xlb(&h).import_customer(&request).await.unwrap_err();
    assert_eq!(err.kind, FailureKind::Connect, "{err}");
    assert!(err.retryable());
    assert_eq!(snapshot(&h)["creates"], json!(1), "the vendor applied it");
    h.sim.shared().clear_faults();
    xlb(&h).import_customer(&request).await.unwrap();
    let state = snapshot(&h);
    assert_eq!(state["creates"], json!(1), "{state}");
    assert_eq!(state["updates"], json!(1), "{state}");
}

#[tokio::test]
async fn business_rules_fail_in_the_vendor_shape() {
    let h = Harness::start().await;
    let c = xlb(&h);
    let mut owned = customer("己公司", "u1", "13700000001");
    owned.staff_id = Some(1001);
    c.import_customer(&single(owned.clone())).await.unwrap();

    // Another owner may not update it…
    owned.staff_id = Some(1002);
    let err = c.import_customer(&single(owned.clone())).await.unwrap_err();
    assert_eq!(
        (err.kind, err.status),
        (FailureKind::InvalidRequest, Some(400))
    );
    assert_eq!(err.message, "客户已归属于其它员工，不允许更新");
    // …unless ownerConflictUpdate, and the owner stays.
    let ok = c
        .import_customer(&ImportCustomerRequest {
            customer: owned,
            options: ImportOptions {
                owner_conflict_update: Some(true),
                ..ImportOptions::default()
            },
        })
        .await
        .unwrap();
    assert_eq!((ok.is_new, ok.staff_id), (Some(false), Some(1001)));

    // A phone held by another customer fails, or the contact is dropped when asked.
    let clash = customer("庚公司", "u9", "13700000001");
    let err = c.import_customer(&single(clash.clone())).await.unwrap_err();
    assert!(
        err.message.starts_with("联系人手机号已归属于其它客户"),
        "{}",
        err.message
    );
    let ignored = c
        .import_customer(&ImportCustomerRequest {
            customer: clash,
            options: ImportOptions {
                duplicate_control: Some(DuplicateControl::CustomerPhoneDuplicateIgnore),
                ..ImportOptions::default()
            },
        })
        .await
        .unwrap();
    assert_eq!(ignored.is_new, Some(true));
    assert!(
        ignored.contact_id_map.is_empty(),
        "ignored contacts are not returned"
    );
}

#[tokio::test]
async fn invalid_payloads_are_rejected_before_sending() {
    let h = Harness::start().await;
    let c = xlb(&h);
    let before = h.sim.shared().requests(Vendor::Xiaolanben);
    let err = c
        .import_customer(&single(customer("", "u1", "1")))
        .await
        .unwrap_err();
    assert_eq!(err.kind, FailureKind::InvalidPayload);
    assert_eq!(err.message, "customerName: is required");
    let err = c
        .import_customer(&single(customer("甲", "", "1")))
        .await
        .unwrap_err();
    assert_eq!(err.message, "contacts[0].thirdDataId: is required");
    let err = c
        .list_staffs(&ListStaffsRequest {
            page_index: 1,
            page_size: 101,
            search: None,
        })
        .await
        .unwrap_err();
    assert_eq!(err.message, "pageSize: must be between 2 and 100 (got 101)");
    let err = h
        .client(Vendor::Xiaolanben)
        .call("import_customers", json!({"customers": "nope"}))
        .await
        .unwrap_err();
    assert_eq!(err.kind, FailureKind::InvalidPayload);
    assert_eq!(
        h.sim.shared().requests(Vendor::Xiaolanben),
        before,
        "nothing was sent"
    );
}

/// Every refusal, whatever its cause, is the error shape the guide documents (checked by
/// [`vendor_error`]) under the documented statuses 400/401/403 (500 comes from injected
/// faults), plus the web server's own 404/405/413 in the same shape.
#[tokio::test]
async fn xiaolanben_sim_errors_match_the_spec_shape() {
    let h = Harness::start().await;
    let base = h.sim.vendor_base_url(Vendor::Xiaolanben);
    let http = reqwest::Client::new();
    let no_params: Vec<(String, Vec<String>)> = Vec::new();

    // No signature at all.
    let resp = http
        .post(format!("{base}{IMPORT_CUSTOMER_PATH}"))
        .header("companyId", COMPANY)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        vendor_error(resp).await,
        (403, 403, "请求未包含签名信息".into())
    );

    // Signed but no companyId header.
    let sig = sign::h_sign(&no_params, None, now_ms(), KEY);
    let resp = http
        .get(format!(
            "{base}{STAFFS_PATH}?pageIndex=1&pageSize=10&h_t={}&h_sign={sig}",
            now_ms()
        ))
        .send()
        .await
        .unwrap();
    let (status, _, message) = vendor_error(resp).await;
    assert_eq!((status, message.as_str()), (400, "缺少请求头 companyId"));

    // A tampered body no longer matches its signature.
    let h_t = now_ms();
    let sig = sign::h_sign(&no_params, Some(r#"{"customerName":"甲"}"#), h_t, KEY);
    let resp = http
        .post(format!(
            "{base}{IMPORT_CUSTOMER_PATH}?h_t={h_t}&h_sign={sig}"
        ))
        .header("companyId", COMPANY)
        .body(r#"{"customerName":"乙"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(
        vendor_error(resp).await,
        (401, 401, "请求未经过认证".into())
    );

    // Correctly signed bad JSON, wrong body shapes and bad parameters.
    let resp = signed(
        &h,
        reqwest::Method::POST,
        IMPORT_CUSTOMER_PATH,
        &no_params,
        Some("{not json"),
        now_ms(),
        KEY,
    )
    .await;
    let (status, code, message) = vendor_error(resp).await;
    assert_eq!((status, code), (400, 400));
    assert!(message.starts_with("请求体不是合法的JSON"), "{message}");
    let resp = signed(
        &h,
        reqwest::Method::POST,
        IMPORT_CUSTOMER_PATH,
        &no_params,
        Some(r#"{"tag":"x"}"#),
        now_ms(),
        KEY,
    )
    .await;
    assert_eq!(
        vendor_error(resp).await,
        (400, 400, "customerName 不能为空".into())
    );
    let resp = signed(
        &h,
        reqwest::Method::POST,
        IMPORT_CUSTOMERS_PATH,
        &no_params,
        Some(r#"{"customerName":"x"}"#),
        now_ms(),
        KEY,
    )
    .await;
    assert_eq!(vendor_error(resp).await.0, 400);
    let resp = signed(
        &h,
        reqwest::Method::POST,
        IMPORT_CUSTOMERS_PATH,
        &no_params,
        Some(r#"[{"customerName":"x"},{"tag":"y"}]"#),
        now_ms(),
        KEY,
    )
    .await;
    assert_eq!(
        vendor_error(resp).await,
        (400, 400, "[1].customerName 不能为空".into())
    );
    let bad_opt = vec![("autoDraw".to_string(), vec!["maybe".to_string()])];
    let resp = signed(
        &h,
        reqwest::Method::POST,
        IMPORT_CUSTOMER_PATH,
        &bad_opt,
        Some(r#"{"customerName":"x"}"#),
        now_ms(),
        KEY,
    )
    .await;
    assert_eq!(
        vendor_error(resp).await,
        (400, 400, "参数类型错误: autoDraw=maybe".into())
    );
    let page = |size: &str| {
        vec![
            ("pageIndex".to_string(), vec!["1".to_string()]),
            ("pageSize".to_string(), vec![size.to_string()]),
        ]
    };
    let resp = signed(
        &h,
        reqwest::Method::GET,
        STAFFS_PATH,
        &page("1"),
        None,
        now_ms(),
        KEY,
    )
    .await;
    assert_eq!(
        vendor_error(resp).await,
        (400, 400, "pageSize 需介于2~100之间".into())
    );
    let resp = signed(
        &h,
        reqwest::Method::GET,
        STAFFS_PATH,
        &page("ten"),
        None,
        now_ms(),
        KEY,
    )
    .await;
    assert_eq!(
        vendor_error(resp).await,
        (400, 400, "参数类型错误: pageSize=ten".into())
    );
    let resp = signed(
        &h,
        reqwest::Method::GET,
        STAFFS_PATH,
        &no_params,
        None,
        now_ms(),
        KEY,
    )
    .await;
    assert_eq!(
        vendor_error(resp).await,
        (400, 400, "缺少必传参数 pageIndex".into())
    );

    // A body over the limit, a wrong method, an unknown path.
    let huge = "x".repeat(leadrelay::sim::MAX_BODY + 1024);
    let resp = signed(
        &h,
        reqwest::Method::POST,
        IMPORT_CUSTOMER_PATH,
        &no_params,
        Some(&huge),
        now_ms(),
        KEY,
    )
    .await;
    assert_eq!(vendor_error(resp).await.0, 413);
    let resp = signed(
        &h,
        reqwest::Method::GET,
        IMPORT_CUSTOMER_PATH,
        &no_params,
        None,
        now_ms(),
        KEY,
    )
    .await;
    assert_eq!(vendor_error(resp).await.0, 405);
    let resp = http
        .get(format!("{base}/blue-crm/api/v1/open/nothing"))
        .send()
        .await
        .unwrap();
    let (status, _, message) = vendor_error(resp).await;
    assert_eq!(status, 404);
    assert!(
        message.contains("/blue-crm/api/v1/open/nothing"),
        "{message}"
    );

    assert_eq!(
        snapshot(&h)["customers"],
        json!(0),
        "garbage imported nothing"
    );
}

#[tokio::test]
async fn repeated_query_params_are_verified_as_one_sorted_entry() {
    let h = Harness::start().await;
    // The wire carries `trace=b&trace=a` (the empty value is never sent); the server merges
    // them and signs `trace=a,b`, like the Java reference's parameter map.
    let params = vec![
        ("pageIndex".to_string(), vec!["1".to_string()]),
        ("pageSize".to_string(), vec!["20".to_string()]),
        (
            "trace".to_string(),
            vec!["b".to_string(), "a".to_string(), String::new()],
        ),
    ];
    let resp = signed(
        &h,
        reqwest::Method::GET,
        STAFFS_PATH,
        &params,
        None,
        now_ms(),
        KEY,
    )
    .await;
    assert_eq!(resp.status(), 200);
    let staff: Value = resp.json().await.unwrap();
    assert_eq!(staff.as_array().unwrap().len(), 12);

    // Signing only one of the values does not pass.
    let h_t = now_ms();
    let one_value = vec![
        ("pageIndex".to_string(), vec!["1".to_string()]),
        ("pageSize".to_string(), vec!["20".to_string()]),
        ("trace".to_string(), vec!["a".to_string()]),
    ];
    let sig = sign::h_sign(&one_value, None, h_t, KEY);
    let resp = reqwest::Client::new()
        .get(format!(
            "{}{STAFFS_PATH}?pageIndex=1&pageSize=20&trace=a&trace=b&h_t={h_t}&h_sign={sig}",
            h.sim.vendor_base_url(Vendor::Xiaolanben)
        ))
        .header("companyId", COMPANY)
        .send()
        .await
        .unwrap();
    assert_eq!(
        vendor_error(resp).await,
        (401, 401, "请求未经过认证".into())
    );
}

/// Issue 8, item 4: a Xiaolanben server whose clock is 30 s ahead refuses every `h_t`. The real
/// daemon keeps those leads waiting in `retry` (none is dead-lettered), the refusals open the
/// account's breaker, `leadrelay status` says "clock skew suspected for account
/// sim_xiaolanben", and once the clock is right again every lead is routed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clock_skew_keeps_leads_in_retry_and_status_names_the_account() {
    use leadrelay::connectors::tencent::config::Algorithm;
    use leadrelay::connectors::tencent::webhook::sign_push;
    use leadrelay::store::{JournalReader, WorkStatus};
    use std::time::Instant;

    const LEADS: u64 = 4;
    let h = Harness::start().await;
    h.sim.shared().set_clock_skew(&ClockSkew {
        vendor: Some(Vendor::Xiaolanben),
        skew_secs: 30,
    });
    let dir = tempfile::tempdir().unwrap();
    let scripts = dir.path().join("scripts");
    std::fs::create_dir(&scripts).unwrap();
    std::fs::write(
        scripts.join("route.rhai"),
        r#"
on_lead("tencent", "route");
fn route(lead) {
    xiaolanben::import_customer(#{
        customerName: "lead " + lead.id,
        contacts: [#{ thirdDataId: "tencent:" + lead.id }],
    });
}
"#,
    )
    .unwrap();
    let journal = dir.path().join("leadrelay.db");
    let toml = format!(
        "{}\n[daemon]\nlisten = \"127.0.0.1:0\"\njournal = \"{}\"\nscripts = \"{}\"\n\
         breaker_failures = 3\nbreaker_probe_secs = 1\nretry_max_age_secs = 3600\n\n\
         [[sources]]\naccount = \"sim_tencent\"\npush = \"/hooks/tencent\"\n",
        h.sim.config_toml(),
        journal.display(),
        scripts.display(),
    );
    let config_path = dir.path().join("leadrelay.toml");
    std::fs::write(&config_path, &toml).unwrap();
    let config = leadrelay::config::Config::parse(&toml, "leadrelay.toml", &|_| None).unwrap();
    let daemon = leadrelay::daemon::start(&config).await.unwrap();

    let http = reqwest::Client::new();
    for id in 0..LEADS {
        let body = json!({"leads_id": 7_100 + id, "leads_type": "LEADS_TYPE_FORM",
                          "leads_name": format!("客户{id}"), "leads_tel": "13812345678",
                          "leads_create_time": "2026-11-22 10:00:00"});
        let signed = sign_push(
            leadrelay::sim::tencent::SIM_TOKEN,
            leadrelay::sim::tencent::SIM_SECRET,
            Clock::system().unix_secs(),
            Algorithm::Sha256,
        );
        let mut request = http
            .post(format!("http://{}/hooks/tencent", daemon.addr))
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&body).unwrap());
        for (name, value) in signed.pairs() {
            request = request.header(name, value);
        }
        assert_eq!(request.send().await.unwrap().status(), 200);
    }

    let reader = || JournalReader::open(&journal).unwrap();
    let wait = |what: &str, within: Duration, started: Instant| {
        assert!(started.elapsed() < within, "{what} within {within:?}");
    };
    // Every lead was tried, refused for its timestamp, and none became a dead letter.
    let started = Instant::now();
    loop {
        let status = reader().status().unwrap();
        assert_eq!(
            status.count(WorkStatus::Dead),
            0,
            "a clock refusal dead-lettered a lead"
        );
        assert_eq!(
            status.count(WorkStatus::Done),
            0,
            "the skewed server took a lead"
        );
        let stale = snapshot(&h)["rejected"]["stale"].as_u64().unwrap_or(0);
        // The simulator counts a refusal before the daemon has read it, so wait for the
        // breaker itself rather than for the third refusal.
        let open =
            daemon.breakers.states().iter().any(|(a, s)| {
                a == "sim_xiaolanben" && *s != leadrelay::daemon::BreakerState::Closed
            });
        if status.leads == LEADS && stale >= 3 && open {
            break;
        }
        wait("the clock refusals", Duration::from_secs(20), started);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        daemon.breakers.clock_skew_suspects()[0].0,
        "sim_xiaolanben",
        "the refusals are counted for the account"
    );

    // `leadrelay status`, in another process, reads the daemon's status file (rewritten every
    // 2 s) and leads with the warning.
    let started = Instant::now();
    let shown = loop {
        let config_path = config_path.clone();
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_leadrelay"))
                .arg("--config")
                .arg(&config_path)
                .arg("status")
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        if stdout.contains("clock skew suspected for account sim_xiaolanben") {
            break stdout;
        }
        wait("the status line", Duration::from_secs(15), started);
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(
        shown.starts_with("!! clock skew suspected"),
        "first and loud: {shown}"
    );
    assert!(shown.contains("dead letters: 0 open"), "{shown}");

    // The clock fixed: every waiting lead goes through on its next retry.
    h.sim.shared().set_clock_skew(&ClockSkew {
        vendor: Some(Vendor::Xiaolanben),
        skew_secs: 0,
    });
    let started = Instant::now();
    loop {
        let status = reader().status().unwrap();
        assert_eq!(status.count(WorkStatus::Dead), 0);
        if status.count(WorkStatus::Done) == LEADS {
            break;
        }
        wait(
            "every lead routed after the fix",
            Duration::from_secs(60),
            started,
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(snapshot(&h)["creates"], json!(LEADS));
    assert!(daemon.breakers.clock_skew_suspects().is_empty());
    daemon.stop().await;
}
