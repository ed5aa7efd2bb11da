//! Unit tests: the spec's expiry vectors (§5.3), the refresh boundary, error classification
//! (§5.4, K-g), the exact multipart bytes, validation naming the field, and decoding of the
//! vendor doc's example answers (tolerant ids, unknown fields kept).

use bytes::Bytes;
use chrono::{Duration, TimeZone, Utc};
use proptest::prelude::*;
use reqwest::header::HeaderMap;
use serde_json::{json, Value};

use super::client::{classify, encode, rejects_token, Client};
use super::model::*;
use super::multipart::file_part;
use super::sign::*;
use crate::clock::Clock;
use crate::connectors::http::RawResponse;
use crate::connectors::{ClientContext, FailureKind, HttpClient};
use crate::secret::Secret;

// --- expiration (spec §5.3, K-a) ---------------------------------------------------------------

#[test]
fn spec_vector_expiration_text_is_beijing_time() {
    let t = parse_expiration(&json!("2017-09-04 09:30:23")).unwrap();
    assert_eq!(t.timestamp(), 1_504_488_623);
}

#[test]
fn expiration_as_epoch_milliseconds_and_seconds() {
    for v in [
        json!(1_504_488_623_000i64),
        json!(1_504_488_623i64),
        json!("1504488623000"),
        json!(" 1504488623 "),
    ] {
        assert_eq!(
            parse_expiration(&v).unwrap().timestamp(),
            1_504_488_623,
            "{v}"
        );
    }
    // Milliseconds keep their fraction.
    let t = parse_expiration(&json!(1_504_488_623_250i64)).unwrap();
    assert_eq!(t.timestamp_millis(), 1_504_488_623_250);
    // The 10^11 boundary: below is seconds, at and above is milliseconds.
    assert_eq!(
        parse_expiration(&json!(99_999_999_999i64))
            .unwrap()
            .timestamp(),
        99_999_999_999
    );
    assert_eq!(
        parse_expiration(&json!(100_000_000_000i64))
            .unwrap()
            .timestamp_millis(),
        100_000_000_000
    );
}

#[test]
fn bad_expirations_are_errors_not_panics() {
    assert!(matches!(
        parse_expiration(&json!("next tuesday")),
        Err(ExpirationError::BadText(_))
    ));
    assert!(matches!(
        parse_expiration(&json!(-5)),
        Err(ExpirationError::BadNumber(_))
    ));
    assert!(matches!(
        parse_expiration(&json!(1.5)),
        Err(ExpirationError::BadNumber(_))
    ));
    assert_eq!(
        parse_expiration(&Value::Null),
        Err(ExpirationError::Missing)
    );
    assert_eq!(parse_expiration(&json!({})), Err(ExpirationError::Missing));
}

#[test]
fn format_expiration_round_trips_the_spec_example() {
    let t = Utc.timestamp_opt(1_504_488_623, 0).unwrap();
    assert_eq!(format_expiration(t), "2017-09-04 09:30:23");
    assert_eq!(parse_expiration(&json!(format_expiration(t))).unwrap(), t);
}

#[test]
fn refresh_starts_exactly_five_minutes_before_expiry() {
    let exp = parse_expiration(&json!("2017-09-04 09:30:23")).unwrap();
    let boundary = exp - Duration::minutes(5);
    assert!(needs_refresh(exp, boundary), "exactly 5 min before");
    assert!(!needs_refresh(exp, boundary - Duration::milliseconds(1)));
    assert!(!needs_refresh(exp, exp - Duration::hours(1)));
    assert!(needs_refresh(exp, exp));
    assert!(needs_refresh(exp, exp + Duration::hours(1)));
}

#[test]
fn token_answer_of_the_doc_decodes() {
    let a: TokenAnswer = serde_json::from_str(
        r#"{"expiration":"2017-09-04 09:30:23","token":"Mi03Y2IxNjNkMC05YWFjLTQ5NmYtOWE3OS01NjU3ZWRjMmQwNzk="}"#,
    )
    .unwrap();
    assert_eq!(
        a.token,
        "Mi03Y2IxNjNkMC05YWFjLTQ5NmYtOWE3OS01NjU3ZWRjMmQwNzk="
    );
    assert_eq!(
        parse_expiration(&a.expiration).unwrap().timestamp(),
        1_504_488_623
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn parse_expiration_never_panics(text in ".{0,40}", n in any::<i64>(), f in any::<f64>()) {
        let _ = parse_expiration(&json!(text));
        let _ = parse_expiration(&json!(n));
        let _ = parse_expiration(&json!(f));
    }

    #[test]
    fn id_from_arbitrary_text_never_panics(text in ".{0,30}") {
        let _ = serde_json::from_value::<Id>(json!(text));
    }

    #[test]
    fn id_round_trips_every_u64(n in any::<u64>()) {
        let id: Id = serde_json::from_str(&n.to_string()).unwrap();
        prop_assert_eq!(id.0, n);
        let id: Id = serde_json::from_value(json!(n.to_string())).unwrap();
        prop_assert_eq!(serde_json::to_string(&id).unwrap(), n.to_string());
    }
}

// --- errors (spec §5.4, K-g) -------------------------------------------------------------------

#[test]
fn known_codes_decide_before_the_status() {
    use FailureKind::*;
    let cases: &[(u16, &str, &str, FailureKind)] = &[
        (
            420,
            "B00008",
            "No [contact] found with id [71302452690124]",
            Business,
        ),
        (500, "B01151", "标签已经存在", Exists),
        (400, "B00001", "群组已存在", Exists),
        (420, "B01102", "群组名已存在", Exists),
        (500, "B01162", "tagKey不存在", Business),
        (500, "B_01162", "标签不存在", Business),
        (412, "B00157", "群组数量已达到上限", Business),
        (400, "B00002", "必填参数为空", InvalidRequest),
        (500, "B00010", "参数不合法", InvalidRequest),
        (420, "B00030", "page*size必须小于等于10000", InvalidRequest),
        (500, "B00093", "超过最大页数", InvalidRequest),
        (500, "B01157", "key不符合", InvalidRequest),
        (401, "", "", Auth),
        (403, "B00008", "forbidden", Auth),
        (500, "X1", "access token expired", Auth),
        (503, "X1", "busy", ServerError),
        (500, "X1", "internal", ServerError),
        (429, "B00010", "slow down", RateLimited),
        (420, "X1", "client error", InvalidRequest),
        (404, "X1", "missing", Business),
        (200, "X1", "refused", Business),
    ];
    for (status, code, message, kind) in cases {
        assert_eq!(
            classify(*status, code, message),
            *kind,
            "{status} {code} {message}"
        );
    }
}

fn raw(status: u16, body: &str) -> RawResponse {
    RawResponse {
        status,
        headers: HeaderMap::new(),
        body: Bytes::from(body.to_string()),
    }
}

fn offline_client() -> Client {
    Client::new(
        ClientContext {
            account: "lf_test".into(),
            base_url: "http://127.0.0.1:9".into(),
            http: HttpClient::new(),
            clock: Clock::system(),
        },
        super::config::Credentials {
            app_key: Secret::new("k"),
            app_secret: Secret::new("s"),
        },
    )
}

#[test]
fn bare_bodies_decode_and_errors_keep_code_and_message() {
    let c = offline_client();
    let n: Option<Id> = c
        .decode("find_contact", &raw(200, "703941987164160"))
        .unwrap();
    assert_eq!(n, Some(Id(703_941_987_164_160)));
    let n: Option<Id> = c.decode("find_contact", &raw(200, "null")).unwrap();
    assert_eq!(n, None);
    let v: Value = c.decode("delete_tag", &raw(200, "")).unwrap();
    assert_eq!(v, Value::Null);
    let v: Option<Vec<Group>> = c.decode("list_groups", &raw(200, " \n")).unwrap();
    assert_eq!(v, None);

    let e = c
        .decode::<ShortUrl>(
            "create_distribute_short_url",
            &raw(
                420,
                r#"{"domain":"linkflow","code":"B00008","message":"No [contact] found with id [71302452690124]"}"#,
            ),
        )
        .unwrap_err();
    assert_eq!(e.kind, FailureKind::Business);
    assert_eq!(e.status, Some(420));
    assert_eq!(e.code.as_deref(), Some("B00008"));
    assert_eq!(e.message, "No [contact] found with id [71302452690124]");
    assert_eq!(e.account, "lf_test");
    assert!(!e.retryable());

    // The vendor's error shape under HTTP 200 is an error, never a success.
    let e = c
        .decode::<Value>(
            "create_tag",
            &raw(
                200,
                r#"{"domain":"linkflow","code":"B01151","message":"标签已经存在"}"#,
            ),
        )
        .unwrap_err();
    assert_eq!(
        (e.kind, e.code.as_deref()),
        (FailureKind::Exists, Some("B01151"))
    );

    // A success object that merely has a `code` field is not mistaken for an error.
    let v: Value = c
        .decode("x", &raw(200, r#"{"code":"E1","name":"ok"}"#))
        .unwrap();
    assert_eq!(v["name"], "ok");

    // A non-JSON error body keeps the status classification.
    let e = c
        .decode::<Value>("x", &raw(503, "upstream unavailable"))
        .unwrap_err();
    assert!(e.retryable());
    assert_eq!(e.message, "upstream unavailable");

    // Garbage under 200 is BadResponse.
    let e = c
        .decode::<Vec<Tag>>("list_tags", &raw(200, "<html>"))
        .unwrap_err();
    assert_eq!(e.kind, FailureKind::BadResponse);
}

#[test]
fn token_rejection_is_recognised() {
    assert!(rejects_token(&raw(401, "")));
    assert!(rejects_token(&raw(403, "{}")));
    assert!(rejects_token(&raw(
        500,
        r#"{"domain":"linkflow","code":"B09999","message":"token expired"}"#
    )));
    assert!(!rejects_token(&raw(
        420,
        r#"{"domain":"linkflow","code":"B00008","message":"No [contact] found"}"#
    )));
    assert!(!rejects_token(&raw(200, r#"{"tagKey":"tag_token"}"#)));
}

#[test]
fn debug_never_shows_credentials() {
    let text = format!("{:?}", offline_client());
    assert!(!text.contains("\"k\"") && !text.contains("\"s\""), "{text}");
    assert!(text.contains("***"), "{text}");
}

// --- wire details -------------------------------------------------------------------------------

#[test]
fn query_values_are_percent_encoded_like_the_doc() {
    assert_eq!(encode("2023-01-01 15:44:20"), "2023-01-01%2015%3A44%3A20");
    assert_eq!(encode("tag_ab-1.x~"), "tag_ab-1.x~");
    assert_eq!(encode("渠道"), "%E6%B8%A0%E9%81%93");
}

#[test]
fn multipart_body_is_byte_exact() {
    let body = file_part(
        "B0UND",
        "file",
        "tag_878.csv",
        "text/csv",
        b"phone,value\n1,a",
    )
    .unwrap();
    assert_eq!(body.content_type, "multipart/form-data; boundary=B0UND");
    assert_eq!(
        String::from_utf8(body.bytes).unwrap(),
        "--B0UND\r\nContent-Disposition: form-data; name=\"file\"; filename=\"tag_878.csv\"\r\n\
         Content-Type: text/csv\r\n\r\nphone,value\n1,a\r\n--B0UND--\r\n"
    );
    assert!(file_part("B0UND", "file", "x", "text/plain", b"a--B0UNDb").is_none());
}

// --- ids and validation -----------------------------------------------------------------------

#[test]
fn ids_beyond_2_pow_53_stay_exact() {
    let id: Id = serde_json::from_str("9007199254740993").unwrap();
    assert_eq!(id.0, 9_007_199_254_740_993);
    let id: Id = serde_json::from_str("\"9007199254740993\"").unwrap();
    assert_eq!(serde_json::to_string(&id).unwrap(), "9007199254740993");
    assert!(serde_json::from_str::<Id>("-1").is_err());
    assert!(serde_json::from_str::<Id>("1.5").is_err());
    assert!(serde_json::from_str::<Id>("\"abc\"").is_err());
}

fn doc_message_batch() -> Value {
    json!({
        "request_id": "5f0c0e7e-2a51-4a37-9a53-8f2d1f0f0b11",
        "channelKey": "udc_12SyQfFmg",
        "channelType": "UDC",
        "identities": [
            {"id": "321100199012203412", "type": "idCard"},
            {"id": "email@163.com", "type": "email"}
        ],
        "messages": [
            {
                "message_id": "m-1", "domain": "contact", "action": "set", "ts": 1663146117310i64,
                "data": {"name": "contactName", "email": "email@163.com", "utm": {},
                         "props": {"string": "merge1", "int": 11, "date": "2022-09-15T03:20:13.000Z",
                                   "long": 11111111111111112001.0, "bool": false}}
            },
            {
                "message_id": "m-2", "domain": "event", "action": "track", "ts": 1667295883115i64,
                "data": {"utm": {}, "event": "WECHAT_WXA__HIDE", "eventDate": 1663146117310i64,
                         "props": {"s_hideCount": 2, "s_entryPagePath": "pages/index/index"}}
            }
        ]
    })
}

#[test]
fn doc_message_example_decodes_and_its_huge_integer_is_refused_k_f() {
    let batch: MessageBatch = serde_json::from_value(doc_message_batch()).unwrap();
    assert_eq!(
        batch.identities[0],
        Identity::new("idCard", "321100199012203412")
    );
    let e = batch.validate_messages().unwrap_err();
    assert_eq!(e.field, "messages[0].data.props.long");

    let mut payload = doc_message_batch();
    payload["messages"][0]["data"]["props"]["long"] = json!("11111111111111112001");
    let batch: MessageBatch = serde_json::from_value(payload).unwrap();
    batch.validate_messages().unwrap();
    // The body we send keeps the vendor's mixed spellings.
    let sent = serde_json::to_value(&batch).unwrap();
    assert!(sent.get("request_id").is_some() && sent.get("channelKey").is_some());
    assert_eq!(sent["messages"][1]["message_id"], "m-2");
    assert_eq!(sent["messages"][0]["ts"], json!(1663146117310i64));
}

#[test]
fn message_validation_names_the_field() {
    let base: MessageBatch = {
        let mut v = doc_message_batch();
        v["messages"][0]["data"]["props"]["long"] = json!(1);
        serde_json::from_value(v).unwrap()
    };
    let field = |edit: &dyn Fn(&mut MessageBatch)| {
        let mut b = base.clone();
        edit(&mut b);
        b.validate_messages().unwrap_err().field
    };
    assert_eq!(field(&|b| b.channel_key.clear()), "channelKey");
    assert_eq!(field(&|b| b.identities.clear()), "identities");
    assert_eq!(
        field(&|b| b.identities[1].kind.clear()),
        "identities[1].type"
    );
    assert_eq!(field(&|b| b.messages.clear()), "messages");
    assert_eq!(
        field(&|b| b.messages[1].action = "set".into()),
        "messages[1].action"
    );
    assert_eq!(
        field(&|b| b.messages[0].domain = "order".into()),
        "messages[0].domain"
    );
    assert_eq!(
        field(&|b| b.messages[0].ts = Some(1_663_146_117)),
        "messages[0].ts"
    );
    assert_eq!(
        field(&|b| b.channel_type = Some("YOUZAN".into())),
        "channelType"
    );
    assert_eq!(
        field(&|b| {
            b.messages[1].data.remove("event");
        }),
        "messages[1].data.event"
    );
    // ts given as a numeric string is read as an integer.
    let m: Message = serde_json::from_value(
        json!({"domain":"event","action":"track","ts":"1663146117310","data":{}}),
    )
    .unwrap();
    assert_eq!(m.ts, Some(1_663_146_117_310));
}

#[test]
fn order_batches_need_sales_order_set_and_order_ids() {
    let mut data = serde_json::Map::new();
    data.insert("orderId".into(), json!("E20221028"));
    data.insert("orderDate".into(), json!("2022-10-28 10:33:44"));
    data.insert(
        "lines".into(),
        json!([{"lineId": "L20221028", "price": 50.12}]),
    );
    let batch = MessageBatch {
        request_id: None,
        channel_key: "udc_12SyQfFmg".into(),
        channel_type: Some("YOUZAN".into()),
        identities: vec![Identity::new("mobilePhone", "12345678901")],
        messages: vec![Message::order(data)],
    };
    batch.validate_orders().unwrap();
    let mut wrong = batch.clone();
    wrong.messages[0].domain = "salesOrders".into();
    assert_eq!(
        wrong.validate_orders().unwrap_err().field,
        "messages[0].domain"
    );
    let mut no_line_id = batch.clone();
    no_line_id.messages[0]
        .data
        .insert("lines".into(), json!([{"price": 1}]));
    assert_eq!(
        no_line_id.validate_orders().unwrap_err().field,
        "messages[0].data.lines[0].lineId"
    );
    let mut no_order = batch;
    no_order.messages[0].data.remove("orderId");
    assert_eq!(
        no_order.validate_orders().unwrap_err().field,
        "messages[0].data.orderId"
    );
}

#[test]
fn tag_key_rule_b01157() {
    for ok in ["tag_ccc2", "tag_878", "tag_a_b_1"] {
        assert!(is_valid_tag_key(ok), "{ok}");
    }
    for bad in [
        "tag_",
        "Tag_x",
        "tag_X",
        "tag-x",
        "tagx",
        "tag_a-b",
        "",
        "tag_中文",
    ] {
        assert!(!is_valid_tag_key(bad), "{bad}");
    }
}

#[test]
fn documented_limits_are_checked_before_sending() {
    let create = |v: Value| {
        serde_json::from_value::<CreateTagRequest>(v)
            .unwrap()
            .validate()
    };
    let doc = json!({"tagName":"aaccc","tagKey":"tag_ccc2","dataType":"number","tagType":"UPLOAD","identityType":"externalId","channelId":"1"});
    create(doc.clone()).unwrap();
    let mut v = doc.clone();
    v["tagKey"] = json!("ccc2");
    assert_eq!(create(v).unwrap_err().field, "tagKey");
    let mut v = doc.clone();
    v["dataType"] = json!("float");
    assert_eq!(create(v).unwrap_err().field, "dataType");
    let mut v = doc.clone();
    v["tagType"] = json!("SQL");
    assert_eq!(create(v).unwrap_err().field, "tagType");
    let mut v = doc;
    v.as_object_mut().unwrap().remove("channelId");
    assert_eq!(create(v).unwrap_err().field, "channelId");

    let ids = ListContactIdsRequest {
        page: 101,
        size: Some(100),
        ..Default::default()
    };
    assert_eq!(ids.validate().unwrap_err().field, "page");
    let ids = ListContactIdsRequest {
        page: 100,
        size: Some(100),
        ..Default::default()
    };
    ids.validate().unwrap();
    let ids = ListContactIdsRequest {
        size: Some(5),
        min_update_time: Some("2017/01/01".into()),
        ..Default::default()
    };
    assert_eq!(ids.validate().unwrap_err().field, "minUpdateTime");
    assert_eq!(
        ListContactIdsRequest::default()
            .validate()
            .unwrap_err()
            .field,
        "size"
    );

    let bulk = GetContactsRequest {
        ids: (0..101).map(Id).collect(),
        need_open_id: true,
    };
    assert_eq!(bulk.validate().unwrap_err().field, "ids");
    assert_eq!(
        ListTagsRequest {
            page: 0,
            size: Some(201)
        }
        .validate()
        .unwrap_err()
        .field,
        "size"
    );
    assert_eq!(
        ListGroupMembersRequest {
            group_id: Id(1),
            member_id: None,
            size: Some(501)
        }
        .validate()
        .unwrap_err()
        .field,
        "size"
    );

    let upload = |operate: &str| UploadTagValuesRequest {
        tag_key: "tag_878".into(),
        operate: operate.into(),
        file_name: "v.csv".into(),
        content: "a,b".into(),
        content_type: None,
    };
    upload("append").validate().unwrap();
    assert_eq!(upload("replace").validate().unwrap_err().field, "operate");
    assert_eq!(upload("append").part_content_type(), "text/csv");

    let orders = |v: Value| {
        serde_json::from_value::<ListOrdersRequest>(v)
            .unwrap()
            .validate()
    };
    orders(json!({"lastMaxId": 0})).unwrap();
    orders(json!({"startTime":"2023-01-01 15:44:20","endTime":"2024-03-16 15:44:20","page":2}))
        .unwrap();
    assert_eq!(
        orders(
            json!({"startTime":"2023-01-01 15:44:20","endTime":"2024-03-16 15:44:20","page":101})
        )
        .unwrap_err()
        .field,
        "page"
    );
    assert_eq!(
        orders(json!({"lastMaxId": 0, "page": 1}))
            .unwrap_err()
            .field,
        "lastMaxId"
    );
    assert_eq!(orders(json!({})).unwrap_err().field, "lastMaxId");
    assert_eq!(
        orders(json!({"startTime":"2023-01-01","endTime":"2024-03-16 15:44:20"}))
            .unwrap_err()
            .field,
        "startTime"
    );

    let tag_values: SetTagValuesRequest = serde_json::from_value(json!({
        "identity": {"id": "18888888888", "type": "mobilePhone"},
        "actions": [{"tagId": 382, "action": "delete"}, {"tagId": 383, "value": "红色,蓝色", "action": "set"}]
    }))
    .unwrap();
    tag_values.validate().unwrap();
    let mut missing_value = tag_values.clone();
    missing_value.actions[1].value = None;
    assert_eq!(
        missing_value.validate().unwrap_err().field,
        "actions[1].value"
    );

    let short: ShortUrlRequest =
        serde_json::from_value(json!({"url": "http://www.baidu.com", "utm": {"source": "s"}}))
            .unwrap();
    short.validate().unwrap();
    assert_eq!(short.validate_distribute().unwrap_err().field, "utm.term");
    let short: ShortUrlRequest = serde_json::from_value(
        json!({"url": "http://www.baidu.com", "utm": {"term": 71302452690124u64}}),
    )
    .unwrap();
    short.validate_distribute().unwrap();
}

#[test]
fn typos_in_payloads_are_refused_by_name() {
    let e = serde_json::from_value::<CreateTagRequest>(json!({"tagkey": "tag_x"})).unwrap_err();
    assert!(e.to_string().contains("unknown field `tagkey`"), "{e}");
}

// --- decoding the doc's example answers -------------------------------------------------------

#[test]
fn doc_contact_answers_decode() {
    let contacts: Vec<Contact> = serde_json::from_value(json!([{
        "anonymousId": null, "name": "peter pan", "nickname": null, "gender": "unknown",
        "mobilePhone": "13774202819", "email": null,
        "utm": {"source": "source", "campaign": "campaign", "medium": "medium", "content": "content", "term": "term"},
        "props": {"attr1": "单身", "attr2": 10000}, "isAnonymous": false, "id": 2865,
        "dateCreated": "2017-08-22 13:50:51", "lastUpdated": "2017-08-22 13:50:51",
        "openIds": [{"channelId": "wxaceb2577e5f0000", "channelName": "渠道名称A", "openId": "olbUb0q01JkL55FwJxVpuA1f3suk"}]
    }]))
    .unwrap();
    let c = &contacts[0];
    assert_eq!(c.id, Id(2865));
    assert_eq!(c.mobile_phone.as_deref(), Some("13774202819"));
    assert_eq!(c.props.as_ref().unwrap()["attr2"], 10000);
    assert!(c.extra.contains_key("utm") && c.extra.contains_key("openIds"));
    // Unknown fields survive a round trip.
    let back = serde_json::to_value(c).unwrap();
    assert_eq!(back["openIds"][0]["openId"], "olbUb0q01JkL55FwJxVpuA1f3suk");

    let ids: Vec<Id> = serde_json::from_str("[1,3,5,7,8]").unwrap();
    assert_eq!(ids.len(), 5);

    let channel: Vec<ChannelIdentity> = serde_json::from_value(json!([{
        "dateCreated": "2022-05-23 11:27:08", "lastUpdated": "2022-05-23 11:27:08", "ver": 2,
        "id": 140992033742850u64, "contactId": 703941987164160u64, "channelId": 140926029029409u64,
        "isActive": true, "externalId": "wmbbj8CwAA6LB80PlgbjpHyzUGrupa9g",
        "channel": {"id": 140926029029409u64, "channelId": "ww0b8772cfc1ed757c", "channelType": "WORKWECHAT_PRO"}
    }]))
    .unwrap();
    assert_eq!(channel[0].contact_id, Some(Id(703_941_987_164_160)));
    assert_eq!(
        channel[0].channel.as_ref().unwrap()["channelType"],
        "WORKWECHAT_PRO"
    );

    let identities: ContactIdentities = serde_json::from_value(json!({
        "contactId": 29,
        "identities": [{"id": "123456@qq.com", "type": "email", "dateCreated": "2023-02-20 15:47:30"}]
    }))
    .unwrap();
    assert_eq!(identities.identities[0].kind, "email");

    let tags: Vec<ContactTag> = serde_json::from_value(
        json!([{"tagId": 1, "tagName": "性别", "tagKey": "tag_yhxb", "value": "男"}]),
    )
    .unwrap();
    assert_eq!(tags[0].value, "男");
}

#[test]
fn doc_tag_answers_decode() {
    // The doc's sample has a trailing comma (invalid JSON); this is it without the comma.
    let tag: Tag = serde_json::from_value(json!({
        "tagId": 1, "tagKey": "tag_ccc2", "tagName": "aaccc", "dataType": "number",
        "status": "ACTIVE", "dateCreated": "2017-11-30 19:37:12", "lastUpdated": "2017-11-30 19:37:12"
    }))
    .unwrap();
    assert_eq!((tag.tag_id, tag.tag_key.as_str()), (Id(1), "tag_ccc2"));
    let tags: Vec<Tag> = serde_json::from_value(json!([{
        "tagId": 2, "tagKey": "tag_878", "tagName": "用户活跃度", "dataType": "text", "tagType": "UPLOAD",
        "status": "ACTIVE", "folderId": 56, "lastCalculateTime": "2017-11-30 20:37:12"
    }]))
    .unwrap();
    assert_eq!(tags[0].folder_id, Some(Id(56)));
    assert_eq!(tags[0].extra["lastCalculateTime"], "2017-11-30 20:37:12");

    let folders: Vec<Folder> = serde_json::from_value(json!([
        {"id": 175, "name": "测试目录名称", "domain": "TAG", "parentId": 174},
        {"id": 174, "name": "根", "domain": "TAG", "parentId": 0},
        {"id": 1, "name": "无父", "domain": "TAG"}
    ]))
    .unwrap();
    assert_eq!(
        folders.iter().map(Folder::is_root).collect::<Vec<_>>(),
        [false, true, true]
    );

    let upload: TagUpload = serde_json::from_value(json!({
        "tagKey": "tag_878", "fileName": "tag_878_file1",
        "ossUrl": "https://devtest.leadswarp.com/oss/1/tag/upload/tmp/20220321/7216b1262f184413bb529701a060eba9/ef00c630b0bb4f90a10de9e5bfcd7194"
    }))
    .unwrap();
    assert_eq!(upload.file_name.as_deref(), Some("tag_878_file1"));

    let task: TagExport = serde_json::from_value(
        json!({"tagKey": "tag_sf", "taskId": 19723653547885u64, "status": "INITIAL"}),
    )
    .unwrap();
    assert!(!task.is_finished());
    let done: TagExport = serde_json::from_value(
        json!({"taskId": 19723653547885u64, "status": "FINISH", "errorMsg": "", "fileUrl": ""}),
    )
    .unwrap();
    assert!(done.is_finished());
    assert_eq!(done.task_id, Id(19_723_653_547_885));
}

#[test]
fn doc_group_order_report_answers_decode() {
    let change: MembershipChange = serde_json::from_value(json!({
        "success": [17760, 17771, 17578], "failure": [],
        "group": {"lastUpdated": "2018-06-25 14:58:10", "groupType": "static",
                  "dateCreated": "2018-06-25 10:15:46", "name": "双11vip客户", "id": 333}
    }))
    .unwrap();
    assert_eq!(change.success.len(), 3);
    assert_eq!(change.group.unwrap().id, Id(333));

    let members: Vec<GroupMember> = serde_json::from_value(json!([{
        "lastUpdated": "2018-04-19 11:19:41", "dateCreated": "2018-04-19 11:19:41",
        "contact": {"mobilePhone": null, "name": "tiger", "id": 17760, "email": null},
        "contactGroupId": 252, "version": null, "memberId": 1243184
    }]))
    .unwrap();
    assert_eq!(members[0].member_id, Id(1_243_184));
    assert_eq!(members[0].contact_id(), Some(Id(17760)));

    let orders: Vec<Order> = serde_json::from_value(json!([{
        "dateCreated": "2023-03-16 15:48:41", "lastUpdated": "2023-03-16 15:48:41", "ver": 1,
        "id": 144357503180802u64, "props": {}, "tenantId": 1, "saleChannel": "有赞", "channelId": 63,
        "contactId": 706402597617664u64, "orderId": "433", "orderStatus": "SELLER_CONSIGNED_PART",
        "totalPrice": 100.240,
        "lines": [{"id": 144357503180803u64, "lineId": "L202210ddzda28", "price": 50.12}]
    }]))
    .unwrap();
    assert_eq!(orders[0].id, Id(144_357_503_180_802));
    assert_eq!(orders[0].order_id, "433");
    assert_eq!(orders[0].lines[0]["lineId"], "L202210ddzda28");

    let report: Report = serde_json::from_value(json!({
        "status": 1, "reportName": "test", "chartType": "TWO_YAXIS",
        "chart": {"type": "TWO_YAXIS", "display": "双轴图"},
        "measures": ["任意事件的总次数"], "dimensions": [{"field": "#{contact.gender}", "fieldType": "text"}],
        "result": [{"dateList": ["2024-05-20"], "dimRsList": [{"dim": ["总体"], "rs": [["0"]], "summary": ["0"]}]}]
    }))
    .unwrap();
    assert!(report.is_done());
    let computing: Report = serde_json::from_value(json!({"status": 0})).unwrap();
    assert!(!computing.is_done());

    let dashboard: Dashboard = serde_json::from_value(json!({
        "kanBanName": "y01", "reports": [{"id": 404, "reportName": "归因无"}, {"id": 410, "reportName": "统计分析"}]
    }))
    .unwrap();
    assert_eq!(dashboard.reports[1].id, Id(410));

    let short: ShortUrl =
        serde_json::from_value(json!({"shorturl": "http://ln8w.cn/5T2SnX"})).unwrap();
    assert_eq!(short.shorturl, "http://ln8w.cn/5T2SnX");
}

#[test]
fn ops_are_unique_snake_case_and_documented() {
    let mut names: Vec<_> = super::OPS.iter().map(|o| o.name).collect();
    assert!(names.len() >= 36);
    for op in super::OPS {
        assert!(
            op.name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "{}",
            op.name
        );
        assert!(!op.summary.is_empty());
        let method = op.endpoint.split(' ').next().unwrap();
        assert!(
            ["GET", "POST", "DELETE"].contains(&method),
            "{}",
            op.endpoint
        );
    }
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), super::OPS.len());
}

#[tokio::test]
async fn unknown_op_and_bad_payload_fail_before_sending() {
    let c = offline_client();
    let e = c.call_op("send_fax", json!({})).await.unwrap_err();
    assert_eq!(e.kind, FailureKind::InvalidPayload);
    let e = c
        .call_op("create_tag", json!({"tagKey": "bad key", "tagName": "x", "dataType": "text", "identityType": "phone"}))
        .await
        .unwrap_err();
    assert_eq!(e.kind, FailureKind::InvalidPayload);
    assert!(e.message.starts_with("tagKey: "), "{}", e.message);
    assert_eq!(e.account, "lf_test");
    let e = c
        .call_op("list_folders", json!({"x": 1}))
        .await
        .unwrap_err();
    assert_eq!(e.kind, FailureKind::InvalidPayload);
}
