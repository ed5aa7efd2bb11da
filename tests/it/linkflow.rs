//! linkflow against the simulator over real HTTP.
//!
//! Linkflow signs nothing, so the brief's auth cases map to its token flow: "wrong secret" is a
//! wrong App Secret on `GET /token`; "stale timestamp" is an expired token, which the client
//! must replace once, transparently; a token that keeps failing ends as an Auth error after
//! exactly one retry.

use std::collections::BTreeSet;
use std::time::Duration;

use leadrelay::clock::Clock;
use leadrelay::config::Credentials;
use leadrelay::connectors::linkflow::{self, model::*};
use leadrelay::connectors::{AccountClient, FailureKind, Vendor};
use leadrelay::secret::Secret;
use leadrelay::sim::Faults;
use serde_json::{json, Value};

use crate::common::Harness;

fn typed(client: AccountClient) -> linkflow::Client {
    match client {
        AccountClient::Linkflow(c) => c,
        _ => unreachable!(),
    }
}

fn state(h: &Harness) -> Value {
    h.sim.shared().snapshot()["linkflow"].clone()
}

async fn control(h: &Harness, path: &str, body: Value) {
    let url = format!("{}/_sim/linkflow/{path}", h.base_url());
    let response = reqwest::Client::new()
        .post(url)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "control {path}");
}

/// Every op in OPS, in an order that feeds ids forward, checked against the simulator's state.
#[tokio::test]
async fn every_op_succeeds_against_the_simulator() {
    let h = Harness::start().await;
    let client = h.client(Vendor::Linkflow);
    let mut called = BTreeSet::new();
    let mut call = |op: &'static str, payload: Value| {
        called.insert(op);
        let client = client.clone();
        async move {
            client
                .call(op, payload)
                .await
                .unwrap_or_else(|e| panic!("{op}: {e}"))
        }
    };
    let phone = "13800000001";
    let identities =
        json!([{"id": phone, "type": "mobilePhone"}, {"id": "li@example.com", "type": "email"}]);

    // Contacts and events.
    let answer = call("send_messages", json!({
        "channelKey": "udc_12SyQfFmg",
        "identities": identities,
        "messages": [
            {"domain": "contact", "action": "set", "data": {"name": "李伟", "props": {"level": "A"}}},
            {"domain": "event", "action": "track", "data": {"event": "form_submit", "props": {"form": "试驾"}}}
        ]
    })).await;
    assert_eq!(answer, Value::Null);
    call("send_messages", json!({
        "channelKey": "udc_12SyQfFmg",
        "identities": [{"id": phone, "type": "mobilePhone"}],
        "messages": [{"domain": "contact", "action": "set", "ts": 1_663_146_117_310i64, "data": {"city": "上海市"}}]
    })).await;
    let s = state(&h);
    assert_eq!(
        (
            s["contacts_created"].as_u64(),
            s["contacts_updated"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(s["events_by_type"]["form_submit"], 1);
    assert_eq!(s["creates_by_identity"][format!("mobilePhone:{phone}")], 1);

    // The sim's contact ids start above 2^53: the id must arrive exactly.
    let id = call(
        "find_contact",
        json!({"idType": "mobilePhone", "id": phone}),
    )
    .await;
    assert_eq!(id, json!(9_007_199_254_740_993u64));
    let contact_id = id.as_u64().unwrap();
    assert_eq!(
        call("find_contact", json!({"idType": "mobilePhone", "id": "1"})).await,
        Value::Null
    );

    let channels = call("get_contact_channel_identities", json!({"id": contact_id})).await;
    assert_eq!(channels[0]["channel"]["channelId"], "udc_12SyQfFmg");
    assert_eq!(channels[0]["contactId"], json!(contact_id));
    let ids = call(
        "list_contact_identities",
        json!({"id": contact_id.to_string()}),
    )
    .await;
    assert_eq!(ids.as_array().unwrap().len(), 2);
    let found = call(
        "find_contact_identities",
        json!({
            "identity": {"id": phone, "type": "mobilePhone"}, "identityTypes": ["email"]
        }),
    )
    .await;
    assert_eq!(found["contactId"], json!(contact_id));
    assert_eq!(found["identities"][0]["id"], "li@example.com");
    let qr = call(
        "list_wecom_qrcodes",
        json!({"channelId": "ww0b8772cfc1ed757c"}),
    )
    .await;
    assert_eq!(qr.as_array().unwrap().len(), 2);

    // Tags.
    let tag = call("create_tag", json!({
        "tagKey": "tag_level", "tagName": "等级", "dataType": "text", "identityType": "mobilePhone"
    })).await;
    let tag_id = tag["tagId"].as_u64().unwrap();
    assert_eq!(
        call("list_tags", json!({"page": 0, "size": 10})).await[0]["tagKey"],
        "tag_level"
    );
    let folders = call("list_folders", Value::Null).await;
    assert_eq!(folders.as_array().unwrap().len(), 2);
    let upload = call(
        "upload_tag_values",
        json!({
            "tagKey": "tag_level", "operate": "append", "fileName": "等级.csv",
            "content": format!("mobilePhone,value\n{phone},A\n")
        }),
    )
    .await;
    assert_eq!(upload["fileName"], "等级.csv");
    assert!(upload["ossUrl"].as_str().unwrap().starts_with("https://"));
    call("calculate_tag", json!({"tagKey": "tag_level"})).await;
    let task = call(
        "export_tag",
        json!({"tagKey": "tag_level", "identityType": "mobilePhone"}),
    )
    .await;
    assert_eq!(task["status"], "INITIAL");
    let poll = json!({"taskId": task["taskId"]});
    assert_eq!(
        call("get_tag_export", poll.clone()).await["status"],
        "RUNNING"
    );
    let done = call("get_tag_export", poll).await;
    assert_eq!(done["status"], "FINISH");
    assert!(done["fileUrl"].as_str().unwrap().contains("tag_level"));
    call(
        "set_tag_values",
        json!({
            "identity": {"id": phone, "type": "mobilePhone"},
            "actions": [{"tagId": tag_id, "value": "A,B", "action": "set"}]
        }),
    )
    .await;
    let tags = call(
        "get_contact_tags",
        json!({"id": phone, "type": "mobilePhone"}),
    )
    .await;
    assert_eq!(tags[0]["value"], "A,B");
    call("upload_dimension_data", json!({
        "dimensionId": "dim_color", "rows": [{"id": "1", "color": "红色"}, {"id": "2", "color": "蓝色"}]
    })).await;
    assert_eq!(state(&h)["dimension_rows"]["dim_color"], 2);

    // Contact listings over synthetic contacts.
    control(&h, "contacts", json!({"count": 5})).await;
    assert_eq!(
        call("list_contacts", json!({"page": 0, "size": 3}))
            .await
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let all = call("scan_contacts", json!({"lastMaxId": 0, "size": 200})).await;
    assert_eq!(all.as_array().unwrap().len(), 6);
    let next = call(
        "scan_contacts",
        json!({"lastMaxId": contact_id, "size": 200}),
    )
    .await;
    assert_eq!(next.as_array().unwrap().len(), 5);
    let today = Clock::system().now_beijing().date_naive();
    let ids = call(
        "list_contact_ids",
        json!({
            "page": 0, "size": 100,
            "minUpdateTime": today.format("%Y-%m-%d").to_string(),
            "maxUpdateTime": today.succ_opt().unwrap().format("%Y-%m-%d").to_string(),
            "anonymous": 0
        }),
    )
    .await;
    assert_eq!(ids.as_array().unwrap().len(), 6);
    assert_eq!(ids[0], json!(contact_id));
    let bulk = call(
        "get_contacts",
        json!({"ids": [ids[0], ids[1]], "needOpenId": true}),
    )
    .await;
    assert_eq!(bulk[0]["name"], "李伟");
    assert_eq!(bulk[0]["city"], "上海市");
    assert!(bulk[0]["openIds"].is_array());

    // Groups.
    let group = call(
        "create_group",
        json!({"name": "双11vip客户", "ext1": "wx134210231"}),
    )
    .await;
    let group_id = group["id"].as_u64().unwrap();
    assert_eq!(
        call(
            "list_groups",
            json!({"name": "双11", "groupType": "static"})
        )
        .await[0]["id"],
        json!(group_id)
    );
    call(
        "rename_group",
        json!({"id": group_id, "name": "双12vip客户"}),
    )
    .await;
    let added = call(
        "add_group_members",
        json!({"groupId": group_id, "contactIds": [contact_id, 42]}),
    )
    .await;
    assert_eq!(added["success"], json!([contact_id]));
    assert_eq!(added["failure"], json!([42]));
    assert_eq!(added["group"]["name"], "双12vip客户");
    let members = call(
        "list_group_members",
        json!({"groupId": group_id, "size": 10}),
    )
    .await;
    assert_eq!(members[0]["contact"]["id"], json!(contact_id));
    let groups = call(
        "list_contact_groups",
        json!({"contactId": contact_id, "groupType": "static"}),
    )
    .await;
    assert_eq!(groups[0]["id"], json!(group_id));
    let in_group = call("list_contacts", json!({"groupId": group_id})).await;
    assert_eq!(in_group.as_array().unwrap().len(), 1);
    let removed = call(
        "remove_group_members",
        json!({"groupId": group_id, "contactIds": [contact_id]}),
    )
    .await;
    assert_eq!(removed["success"], json!([contact_id]));
    call("delete_group", json!({"id": group_id})).await;
    assert!(call("list_groups", json!({"id": group_id}))
        .await
        .as_array()
        .unwrap()
        .is_empty());

    // Orders.
    call("send_orders", json!({
        "channelKey": "udc_12SyQfFmg", "channelType": "YOUZAN",
        "identities": [{"id": phone, "type": "mobilePhone"}],
        "messages": [{"message_id": "o-1", "domain": "salesOrder", "action": "set", "data": {
            "saleChannel": "有赞", "orderId": "E20221028", "orderStatus": "TRADE_PAID",
            "orderDate": "2022-10-28 10:33:44", "totalPrice": 100.24,
            "lines": [{"lineId": "L20221028", "productName": "维生素C", "quantity": 2, "price": 50.12}]
        }}]
    })).await;
    let orders = call("list_orders", json!({"lastMaxId": 0})).await;
    assert_eq!(orders[0]["orderId"], "E20221028");
    assert_eq!(orders[0]["contactId"], json!(contact_id));
    let now = Clock::system().now_beijing();
    let window = call(
        "list_orders",
        json!({
            "startTime": (now - chrono::Duration::hours(1)).format("%Y-%m-%d %H:%M:%S").to_string(),
            "endTime": (now + chrono::Duration::hours(1)).format("%Y-%m-%d %H:%M:%S").to_string(),
            "page": 1
        }),
    )
    .await;
    assert_eq!(window.as_array().unwrap().len(), 1);
    assert_eq!(state(&h)["orders_created"], 1);

    // Reports, short links.
    let dashboard = call("get_dashboard", json!({"dashboardId": 1})).await;
    let report_id = dashboard["reports"][0]["id"].clone();
    assert_eq!(
        call("get_report", json!({"reportId": report_id})).await["status"],
        0
    );
    let report = call("get_report", json!({"reportId": report_id})).await;
    assert_eq!(report["status"], 1);
    assert_eq!(report["chartType"], "NUMBER");
    let short = call(
        "create_short_url",
        json!({"url": "http://www.baidu.com", "utm": {"source": "testSource"}}),
    )
    .await;
    assert!(short["shorturl"]
        .as_str()
        .unwrap()
        .starts_with("http://ln8w.cn/"));
    let short = call(
        "create_distribute_short_url",
        json!({
            "url": "http://www.baidu.com", "utm": {"term": contact_id.to_string()}
        }),
    )
    .await;
    assert!(short["shorturl"].is_string());

    // Destructive ops last.
    call(
        "unbind_identities",
        json!({"contactId": contact_id, "identities": [{"id": phone, "type": "mobilePhone"}]}),
    )
    .await;
    assert_eq!(
        call(
            "find_contact",
            json!({"idType": "mobilePhone", "id": phone})
        )
        .await,
        Value::Null
    );
    call("delete_tag", json!({"tagKey": "tag_level"})).await;
    assert!(call("list_tags", json!({"page": 0}))
        .await
        .as_array()
        .unwrap()
        .is_empty());

    let all_ops: BTreeSet<_> = linkflow::OPS.iter().map(|o| o.name).collect();
    assert_eq!(called, all_ops, "every op in OPS is exercised");
    // One token served the whole session.
    assert_eq!(state(&h)["token_requests"], 1);
}

#[tokio::test]
async fn typed_methods_keep_ids_exact() {
    let h = Harness::start().await;
    let client = typed(h.client(Vendor::Linkflow));
    let batch = MessageBatch {
        request_id: None,
        channel_key: "udc_1".into(),
        channel_type: None,
        identities: vec![Identity::new("mobilePhone", "13900000009")],
        messages: vec![Message::contact(serde_json::Map::new())],
    };
    client.send_messages(&batch).await.unwrap();
    let id = client
        .find_contact(&FindContactRequest {
            id_type: "mobilePhone".into(),
            id: "13900000009".into(),
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(id, Id(9_007_199_254_740_993));
    let contacts = client
        .get_contacts(&GetContactsRequest {
            ids: vec![id],
            need_open_id: false,
        })
        .await
        .unwrap();
    assert_eq!(contacts[0].id, id);
    assert_eq!(contacts[0].mobile_phone.as_deref(), Some("13900000009"));
}

#[tokio::test]
async fn wrong_app_secret_is_auth_not_retryable_without_an_invented_code() {
    let h = Harness::start().await;
    let client = h.client_with(Vendor::Linkflow, Clock::system(), |account| {
        account.credentials = Credentials::Linkflow(linkflow::config::Credentials {
            app_key: Secret::new("sim-linkflow-key"),
            app_secret: Secret::new("not-the-secret"),
        });
    });
    let e = client.call("list_folders", json!({})).await.unwrap_err();
    assert_eq!(e.kind, FailureKind::Auth);
    assert!(!e.retryable());
    assert_eq!(e.status, Some(401));
    // Linkflow documents no code for token errors (spec §5.3–5.4), so there is none.
    assert_eq!(e.code, None);
    assert!(e.message.contains("App Key or App Secret is wrong"), "{e}");
    assert_eq!(e.account, "sim_linkflow");
    assert_eq!(e.op, "list_folders");
    assert!(!e.to_string().contains("not-the-secret"));
    // No token was issued, so nothing else was attempted.
    assert_eq!(state(&h)["tokens_issued"], 0);
}

#[tokio::test]
async fn expired_token_is_refreshed_once_transparently() {
    let h = Harness::start().await;
    let client = h.client(Vendor::Linkflow);
    client.call("list_folders", json!({})).await.unwrap();
    // The vendor expires the token while the client still believes it valid for hours.
    control(&h, "expire_tokens", json!({})).await;
    let folders = client.call("list_folders", json!({})).await.unwrap();
    assert_eq!(folders.as_array().unwrap().len(), 2);
    let s = state(&h);
    assert_eq!(s["token_requests"], 2);
    assert_eq!(s["token_rejections"], 1);
    // The fresh token is cached: the next call needs no refresh.
    client.call("list_folders", json!({})).await.unwrap();
    assert_eq!(state(&h)["token_requests"], 2);
}

#[tokio::test]
async fn a_token_that_keeps_failing_is_auth_after_one_retry() {
    let h = Harness::start().await;
    // Tokens are born expired: every request is refused for its token.
    control(&h, "token_ttl", json!({"seconds": 0})).await;
    let client = h.client(Vendor::Linkflow);
    let e = client
        .call("create_short_url", json!({"url": "https://example.com"}))
        .await
        .unwrap_err();
    assert_eq!(e.kind, FailureKind::Auth);
    assert!(!e.retryable());
    assert_eq!(e.status, Some(401));
    assert_eq!(e.code, None);
    assert!(e.message.contains("X-OpenApi-Token has expired"), "{e}");
    let s = state(&h);
    assert_eq!(s["token_requests"], 2, "one refresh, not a loop");
    assert_eq!(s["token_rejections"], 2);
    assert_eq!(s["short_urls"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_cold_callers_share_one_token_request() {
    let h = Harness::start().await;
    let client = typed(h.client(Vendor::Linkflow));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..24 {
        let c = client.clone();
        tasks.spawn(async move { c.list_folders().await });
    }
    while let Some(result) = tasks.join_next().await {
        assert_eq!(result.unwrap().unwrap().len(), 2);
    }
    assert_eq!(state(&h)["token_requests"], 1);
    assert_eq!(state(&h)["token_rejections"], 0);
}

#[tokio::test]
async fn tokens_are_refreshed_inside_the_five_minute_margin() {
    let h = Harness::start().await;
    // 200 s of life is already inside the 5-minute margin: every call refreshes first.
    control(&h, "token_ttl", json!({"seconds": 200})).await;
    let client = h.client(Vendor::Linkflow);
    for _ in 0..3 {
        client.call("list_folders", json!({})).await.unwrap();
    }
    assert_eq!(state(&h)["token_requests"], 3);
    assert_eq!(state(&h)["token_rejections"], 0);

    // 400 s of life is outside the margin: one token serves every call.
    control(&h, "token_ttl", json!({"seconds": 400})).await;
    let client = h.client(Vendor::Linkflow);
    for _ in 0..3 {
        client.call("list_folders", json!({})).await.unwrap();
    }
    assert_eq!(state(&h)["token_requests"], 4);

    // Same decision from a client whose clock runs ahead: with the default 2 h lifetime, a
    // clock 1 h 56 min ahead sees every fresh token 4 min from expiry, inside the margin.
    let h = Harness::start().await;
    let skewed = h.client_with(Vendor::Linkflow, Clock::skewed_secs(7200 - 240), |_| {});
    for _ in 0..2 {
        skewed.call("list_folders", json!({})).await.unwrap();
    }
    assert_eq!(state(&h)["token_requests"], 2);
}

#[tokio::test]
async fn server_errors_are_retryable_with_retry_after() {
    let h = Harness::start().await;
    let client = h.client(Vendor::Linkflow);
    client.call("list_folders", json!({})).await.unwrap();
    h.sim.shared().set_faults(Faults {
        vendor: Some(Vendor::Linkflow),
        error_rate: 1.0,
        status: Some(503),
        ..Default::default()
    });
    let e = client.call("list_folders", json!({})).await.unwrap_err();
    assert_eq!(e.kind, FailureKind::ServerError);
    assert!(e.retryable());
    assert_eq!(e.status, Some(503));
    assert_eq!(e.retry_after, Some(Duration::from_secs(1)));
    h.sim.shared().clear_faults();
    client.call("list_folders", json!({})).await.unwrap();
}

#[tokio::test]
async fn not_found_under_420_is_a_business_error_with_its_code() {
    let h = Harness::start().await;
    let client = h.client(Vendor::Linkflow);
    let e = client
        .call(
            "create_distribute_short_url",
            json!({"url": "http://www.baidu.com", "utm": {"term": "71302452690124"}}),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind, FailureKind::Business);
    assert!(!e.retryable());
    assert_eq!(e.status, Some(420));
    assert_eq!(e.code.as_deref(), Some("B00008"));
    assert_eq!(e.message, "No [contact] found with id [71302452690124]");

    // The doc's 500-status business codes are not retryable either.
    client
        .call(
            "create_tag",
            json!({"tagKey": "tag_a", "tagName": "A", "dataType": "text", "identityType": "phone"}),
        )
        .await
        .unwrap();
    let e = client
        .call(
            "create_tag",
            json!({"tagKey": "tag_a", "tagName": "A", "dataType": "text", "identityType": "phone"}),
        )
        .await
        .unwrap_err();
    // 标签已经存在: the key exists, which scripts see as `e.kind == "exists"`.
    assert_eq!(
        (e.status, e.code.as_deref(), e.kind),
        (Some(500), Some("B01151"), FailureKind::Exists)
    );
    let e = client
        .call("delete_tag", json!({"tagKey": "tag_zzz"}))
        .await
        .unwrap_err();
    assert_eq!(
        (e.code.as_deref(), e.kind),
        (Some("B_01162"), FailureKind::Business)
    );
    let e = client
        .call("list_wecom_qrcodes", json!({"channelId": "ww_unknown"}))
        .await
        .unwrap_err();
    assert_eq!(
        (e.code.as_deref(), e.kind),
        (Some("B00022"), FailureKind::Business)
    );
}

#[tokio::test]
async fn business_error_under_http_200_is_an_error() {
    let h = Harness::start().await;
    let client = h.client(Vendor::Linkflow);
    control(
        &h,
        "fail_next",
        json!({"status": 200, "code": "B00037", "message": "标签超过配额数"}),
    )
    .await;
    let e = client
        .call(
            "create_tag",
            json!({"tagKey": "tag_b", "tagName": "B", "dataType": "text", "identityType": "phone"}),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind, FailureKind::Business);
    assert_eq!((e.status, e.code.as_deref()), (Some(200), Some("B00037")));
    assert_eq!(e.message, "标签超过配额数");
    assert_eq!(state(&h)["tags"], 0);
}

#[tokio::test]
async fn validation_errors_name_the_field_and_send_nothing() {
    let h = Harness::start().await;
    let client = h.client(Vendor::Linkflow);
    let cases = [
        (
            "create_tag",
            json!({"tagKey": "Tag-X", "tagName": "x", "dataType": "text", "identityType": "phone"}),
            "tagKey: ",
        ),
        (
            "list_contact_ids",
            json!({"page": 200, "size": 100}),
            "page: ",
        ),
        (
            "get_contacts",
            json!({"ids": (0..101).collect::<Vec<u32>>()}),
            "ids: ",
        ),
        (
            "list_orders",
            json!({"startTime": "2024-01-01 00:00:00", "endTime": "2024-02-01 00:00:00", "page": 101}),
            "page: ",
        ),
        (
            "upload_tag_values",
            json!({"tagKey": "tag_a", "operate": "replace", "fileName": "a.csv", "content": "x"}),
            "operate: ",
        ),
        (
            "send_messages",
            json!({"channelKey": "c", "identities": [{"id": "1", "type": "t"}], "messages": [{"domain": "event", "action": "set", "data": {"event": "e"}}]}),
            "messages[0].action: ",
        ),
        (
            "send_messages",
            json!({"channelKey": "c", "identities": [], "messages": []}),
            "identities: ",
        ),
        (
            "send_orders",
            json!({"channelKey": "c", "identities": [{"id": "1", "type": "t"}], "messages": [{"domain": "salesOrders", "action": "set", "data": {}}]}),
            "messages[0].domain: ",
        ),
        (
            "list_group_members",
            json!({"groupId": 1, "size": 501}),
            "size: ",
        ),
        (
            "set_tag_values",
            json!({"identity": {"id": "1", "type": "phone"}, "actions": [{"tagId": 1, "action": "toggle"}]}),
            "actions[0].action: ",
        ),
        (
            "create_tag",
            json!({"tagkey": "tag_x"}),
            "unknown field `tagkey`",
        ),
    ];
    for (op, payload, needle) in cases {
        let e = client.call(op, payload).await.unwrap_err();
        assert_eq!(e.kind, FailureKind::InvalidPayload, "{op}");
        assert!(e.message.contains(needle), "{op}: {}", e.message);
        assert!(!e.retryable());
    }
    assert_eq!(
        h.sim.shared().requests(Vendor::Linkflow),
        0,
        "nothing was sent"
    );
}

#[tokio::test]
async fn resent_request_ids_are_not_applied_twice() {
    let h = Harness::start().await;
    let client = h.client(Vendor::Linkflow);
    let batch = json!({
        "request_id": "req-1", "channelKey": "udc_1",
        "identities": [{"id": "13700000000", "type": "mobilePhone"}],
        "messages": [{"message_id": "msg-1", "domain": "contact", "action": "set", "data": {"name": "王芳"}}]
    });
    client.call("send_messages", batch.clone()).await.unwrap();
    client.call("send_messages", batch).await.unwrap();
    let s = state(&h);
    assert_eq!(s["contacts_created"], 1);
    assert_eq!(s["contacts_updated"], 0);
    assert_eq!(s["duplicate_requests"], 1);
    assert_eq!(s["creates_by_identity"]["mobilePhone:13700000000"], 1);
}

/// The codes spec §5.4 lists (from the seed's per-endpoint tables).
const DOCUMENTED_CODES: &[&str] = &[
    "B00001", "B00002", "B00008", "B00010", "B00022", "B00030", "B00031", "B00037", "B00043",
    "B00093", "B00157", "B00159", "B01102", "B01151", "B01152", "B01157", "B01162", "B_01162",
    "B01163", "B01165", "B01201", "B01205", "B01206", "B01376", "B01402", "B01403", "B01404",
    "B01405",
];

/// Every refusal is either the error body spec §5.4 documents — exactly
/// `{"domain":"linkflow","code","message"}` with a code from its list, under one of the statuses
/// it lists (400, 404, 412, 420, 500; 413 for an oversized body is the web server's) — or, where
/// Linkflow documents no body (token problems, unknown paths), a bare HTTP status without any
/// made-up code.
#[tokio::test]
async fn linkflow_sim_errors_match_the_spec_shape() {
    let h = Harness::start().await;
    let base = format!("{}/linkflow", h.base_url());
    let http = reqwest::Client::new();
    let check = |response: reqwest::Response, status: u16, code: &'static str| async move {
        assert_eq!(response.status().as_u16(), status, "expected {code}");
        assert!(
            [400, 404, 412, 420, 500, 413].contains(&status),
            "{status} is not a documented status"
        );
        assert!(DOCUMENTED_CODES.contains(&code), "{code} is not documented");
        let body: Value = response.json().await.unwrap();
        let keys = crate::common::keys(&body);
        assert_eq!(keys, ["domain", "code", "message"], "{body}");
        assert_eq!(body["domain"], "linkflow", "{body}");
        assert_eq!(body["code"], code, "{body}");
        assert!(!body["message"].as_str().unwrap().is_empty());
    };
    let bare = |response: reqwest::Response, status: u16| async move {
        assert_eq!(response.status().as_u16(), status);
        let text = response.text().await.unwrap();
        assert!(
            serde_json::from_str::<Value>(&text).is_err(),
            "no Linkflow error body where none is documented: {text}"
        );
        assert!(!text.is_empty());
    };

    bare(http.get(format!("{base}/token")).send().await.unwrap(), 401).await;
    bare(
        http.post(format!("{base}/token")).send().await.unwrap(),
        405,
    )
    .await;
    bare(
        http.get(format!("{base}/open/folders"))
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
    bare(
        http.get(format!("{base}/open/folders"))
            .header("X-OpenApi-Token", "bogus")
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;

    let token: Value = http
        .get(format!("{base}/token"))
        .header("X-OpenApi-Key", "sim-linkflow-key")
        .header("X-OpenApi-Secret", "sim-linkflow-secret")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let expiration = token["expiration"].as_str().unwrap();
    assert!(
        leadrelay::clock::parse_beijing(expiration).is_some(),
        "{expiration}"
    );
    let token = token["token"].as_str().unwrap().to_string();
    let authed = |method: reqwest::Method, path: &str| {
        http.request(method, format!("{base}{path}"))
            .header("X-OpenApi-Token", token.clone())
    };
    use reqwest::Method;

    let r = authed(Method::POST, "/open/messages")
        .body("{not json")
        .send()
        .await
        .unwrap();
    check(r, 400, "B00010").await;
    let r = authed(Method::POST, "/open/messages")
        .body("")
        .send()
        .await
        .unwrap();
    check(r, 400, "B00002").await;
    let r = authed(Method::POST, "/open/messages")
        .body("{}")
        .send()
        .await
        .unwrap();
    check(r, 400, "B00002").await;
    // ts in seconds instead of milliseconds (K-d).
    let r = authed(Method::POST, "/open/messages")
        .json(&json!({"channelKey": "c", "identities": [{"id": "1", "type": "t"}],
                      "messages": [{"domain": "contact", "action": "set", "ts": 1663146117, "data": {}}]}))
        .send()
        .await
        .unwrap();
    check(r, 400, "B00010").await;
    let r = authed(Method::GET, "/open/nowhere").send().await.unwrap();
    bare(r, 404).await;
    let r = authed(Method::GET, "/open/contacts/abc/identities")
        .send()
        .await
        .unwrap();
    check(r, 400, "B00010").await;
    let r = authed(Method::GET, "/open/contacts/12/identities")
        .send()
        .await
        .unwrap();
    check(r, 404, "B00008").await;
    let r = authed(Method::POST, "/v1/tags")
        .json(&json!({"tagKey": "TAG", "tagName": "x", "dataType": "text", "tagType": "UPLOAD", "identityType": "phone"}))
        .send()
        .await
        .unwrap();
    check(r, 500, "B01157").await;
    let r = authed(Method::GET, "/open/contacts_bulk/ids?page=101&size=100")
        .send()
        .await
        .unwrap();
    check(r, 420, "B00030").await;
    let r = authed(Method::GET, "/open/orders?startTime=2024-01-01%2000%3A00%3A00&endTime=2024-02-01%2000%3A00%3A00&page=101")
        .send()
        .await
        .unwrap();
    check(r, 500, "B00093").await;
    let r = authed(Method::POST, "/open/dim/dim_missing/data")
        .json(&json!([{"id": 1}]))
        .send()
        .await
        .unwrap();
    check(r, 500, "B00043").await;
    let r = authed(Method::POST, "/open/dim/dim_color/data")
        .json(&json!([{"color": "红"}]))
        .send()
        .await
        .unwrap();
    check(r, 500, "B01205").await;
    let r = authed(Method::POST, "/open/groups/1/contacts")
        .body("[1,2")
        .send()
        .await
        .unwrap();
    check(r, 400, "B00010").await;
    let r = authed(
        Method::POST,
        "/v1/tags/tagkeys/tag_x/upload/file/operates/append",
    )
    .body("plain text")
    .send()
    .await
    .unwrap();
    check(r, 500, "B01162").await;
    let r = authed(Method::POST, "/v1/tags")
        .json(&json!({"tagKey": "tag_x", "tagName": "x", "dataType": "text", "tagType": "UPLOAD", "identityType": "phone"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r = authed(
        Method::POST,
        "/v1/tags/tagkeys/tag_x/upload/file/operates/append",
    )
    .header("Content-Type", "text/plain")
    .body("plain text")
    .send()
    .await
    .unwrap();
    check(r, 500, "B00010").await;
    let r = authed(
        Method::POST,
        "/v1/tags/tagkeys/tag_x/upload/file/operates/append",
    )
    .header("Content-Type", "multipart/form-data; boundary=XX")
    .body("--XX\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nv\r\n--XX--\r\n")
    .send()
    .await
    .unwrap();
    check(r, 500, "B00002").await;
    let r = authed(Method::POST, "/open/messages")
        .body(vec![b' '; 3 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    check(r, 413, "B00010").await;
}
