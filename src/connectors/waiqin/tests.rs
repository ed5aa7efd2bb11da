//! Unit tests: every Waiqin vector of spec §2.4/§2.6 byte for byte, the vendor document's example
//! payloads through the models, validation, envelope tolerance, `Lead` conversion and the push
//! verifier (with a proptest that arbitrary bodies never panic).

use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use serde_json::{json, Value};

use super::client::classify;
use super::model::*;
use super::sign;
use super::webhook::*;
use crate::connectors::FailureKind;
use crate::lead::LeadKind;

const APPKEY: &str = "BFCO0PAgIUgd50c0l6";
const OPENID: &str = "5465103569540931532";

// ---------------------------------------------------------------- vectors

#[test]
fn w1_digest_over_raw_bytes_and_full_url() {
    // Not valid JSON (`001`): the digest is over raw bytes, never over normalized JSON.
    let body =
        r#"{"org_id":"ORG001","org_name":"南京掌控网络","org_parent_id":"","org_sequence":001}"#;
    assert!(serde_json::from_str::<Value>(body).is_err());
    let ts = "20150806142836";
    let digest = sign::digest(body.as_bytes(), APPKEY, ts);
    assert_eq!(digest, "74267bf0cae0998a719879ec9b3c7780");
    assert_eq!(
        sign::signed_url(
            "https://openapi.waiqin365.com/api",
            "organization/v1",
            "addOrganization",
            OPENID,
            ts,
            &digest,
            "ORG00001"
        ),
        "https://openapi.waiqin365.com/api/organization/v1/addOrganization/5465103569540931532/20150806142836/74267bf0cae0998a719879ec9b3c7780/ORG00001"
    );
}

#[test]
fn w1_timestamp_is_beijing_time_of_the_instant() {
    let utc = Utc.with_ymd_and_hms(2015, 8, 6, 6, 28, 36).unwrap();
    assert_eq!(sign::timestamp(&utc), "20150806142836");
    assert_eq!(
        sign::timestamp(&utc.with_timezone(&crate::clock::beijing())),
        "20150806142836"
    );
    // Crossing midnight: 16:30 UTC is the next day in Beijing.
    let late = Utc.with_ymd_and_hms(2023, 12, 31, 16, 30, 0).unwrap();
    assert_eq!(sign::timestamp(&late), "20240101003000");
    assert_eq!(
        sign::parse_timestamp("20150806142836").unwrap().timestamp(),
        utc.timestamp()
    );
    for bad in [
        "2015080614283",
        "201508061428360",
        "2015-08-06 14:2",
        "20151306142836",
        "２0150806142836",
    ] {
        assert!(sign::parse_timestamp(bad).is_none(), "{bad}");
    }
}

#[test]
fn w2_query_body_digest_and_url() {
    // The typed request serializes to exactly the vector's body.
    let req = QuerySalesLeadsRequest {
        conditions: QueryConditions {
            code: Some("codezs".into()),
            page: Some(1),
            page_size: Some(10),
            ..Default::default()
        },
        ..Default::default()
    };
    let body = serde_json::to_vec(&req).unwrap();
    assert_eq!(body, br#"{"code":"codezs","page":1,"pageSize":10}"#);
    let digest = sign::digest(&body, APPKEY, "20240101123035");
    assert_eq!(digest, "3a634c9d2e0d3ea1b357bd58622338eb");
    assert_eq!(
        sign::signed_url(
            "https://openapi.waiqin365.com/api/",
            sign::SALESLEADS_MODULE,
            "querySalesLeads",
            OPENID,
            "20240101123035",
            &digest,
            "90b4b267dd3d49aeace879038b1e7291"
        ),
        "https://openapi.waiqin365.com/api/salesleads/v1/querySalesLeads/5465103569540931532/20240101123035/3a634c9d2e0d3ea1b357bd58622338eb/90b4b267dd3d49aeace879038b1e7291"
    );
}

#[test]
fn w2b_empty_object_digest() {
    assert_eq!(
        sign::digest(b"{}", APPKEY, "20240101123035"),
        "e9ea1580b17a018776c224836d3aed27"
    );
}

const W3_SECRET: &str = "PuShSeCrEt0001";
const W3_DATA: &str =
    r#"{"lead_ID":"SK202101090003","lead_code":"zsmd","activity_content":"电话回访"}"#;
const W3_WIRE: &str = "msgId=7898952955531954883&dataType=salesLeads_follow&data=%7B%22lead_ID%22%3A%22SK202101090003%22%2C%22lead_code%22%3A%22zsmd%22%2C%22activity_content%22%3A%22%E7%94%B5%E8%AF%9D%E5%9B%9E%E8%AE%BF%22%7D&timestamp=1569404987248&digest=e0e4c4d34c4afcd29d0b34defa6f1a7a";

#[test]
fn w3_push_digest() {
    assert_eq!(
        sign::push_digest(W3_DATA.as_bytes(), W3_SECRET, "1569404987248"),
        "e0e4c4d34c4afcd29d0b34defa6f1a7a"
    );
}

#[test]
fn w3_wire_body_verifies_and_round_trips() {
    let push = verify_follow_push(W3_WIRE.as_bytes(), W3_SECRET).unwrap();
    assert_eq!(push.meta.msg_id, "7898952955531954883");
    assert_eq!(push.meta.timestamp, "1569404987248");
    assert_eq!(push.meta.data_type, FOLLOW_DATA_TYPE);
    assert_eq!(push.data, W3_DATA);
    assert_eq!(push.record.lead_id, "SK202101090003");
    assert_eq!(push.record.lead_code.as_deref(), Some("zsmd"));
    assert_eq!(push.record.activity_content.as_deref(), Some("电话回访"));
    assert!(!push.meta.is_retry());
    assert_eq!(
        encode_follow_push(&push.meta, &push.data, W3_SECRET),
        W3_WIRE
    );
}

#[test]
fn w3_uppercase_digest_is_accepted() {
    let wire = W3_WIRE.replace(
        "e0e4c4d34c4afcd29d0b34defa6f1a7a",
        "E0E4C4D34C4AFCD29D0B34DEFA6F1A7A",
    );
    assert!(verify_follow_push(wire.as_bytes(), W3_SECRET).is_ok());
}

#[test]
fn tampered_pushes_are_unauthorized() {
    let unauthorized = |body: &str, secret: &str| match verify_follow_push(body.as_bytes(), secret)
    {
        Err(PushError::Unauthorized(reason)) => reason,
        other => panic!("expected Unauthorized, got {other:?}"),
    };
    assert_eq!(
        unauthorized(&W3_WIRE.replace("zsmd", "zsme"), W3_SECRET),
        UnauthorizedReason::DigestMismatch
    );
    assert_eq!(
        unauthorized(&W3_WIRE.replace("digest=e0e4", "digest=e0e5"), W3_SECRET),
        UnauthorizedReason::DigestMismatch
    );
    assert_eq!(
        unauthorized(
            &W3_WIRE.replace("1569404987248", "1569404987249"),
            W3_SECRET
        ),
        UnauthorizedReason::DigestMismatch
    );
    assert_eq!(
        unauthorized(W3_WIRE, "wrong-secret"),
        UnauthorizedReason::DigestMismatch
    );
    assert_eq!(unauthorized(W3_WIRE, ""), UnauthorizedReason::NoSecret);
    let no_digest = W3_WIRE.split("&digest=").next().unwrap();
    assert_eq!(
        unauthorized(no_digest, W3_SECRET),
        UnauthorizedReason::MissingField("digest")
    );
    assert_eq!(
        unauthorized(&format!("{W3_WIRE}&data=%7B%7D"), W3_SECRET),
        UnauthorizedReason::DuplicateField("data")
    );
    assert_eq!(
        unauthorized("", W3_SECRET),
        UnauthorizedReason::MissingField("data")
    );
    let err = verify_follow_push(b"garbage", W3_SECRET).unwrap_err();
    assert_eq!(err.http_status(), 401);
}

#[test]
fn signed_but_unreadable_pushes_are_malformed() {
    let malformed = |meta: &PushMeta, data: &str| {
        let wire = encode_follow_push(meta, data, W3_SECRET);
        match verify_follow_push(wire.as_bytes(), W3_SECRET) {
            Err(e @ PushError::Malformed(_)) => {
                assert_eq!(e.http_status(), 400);
                e
            }
            other => panic!("expected Malformed, got {other:?}"),
        }
    };
    let meta = PushMeta::follow("m1", 1_569_404_987_248);
    assert_eq!(
        malformed(&meta, "not json"),
        PushError::Malformed(MalformedReason::BadData(
            "expected ident at line 1 column 2".into()
        ))
    );
    assert!(matches!(
        malformed(&meta, r#"{"lead_code":"x"}"#),
        PushError::Malformed(MalformedReason::BadData(m)) if m.contains("lead_ID")
    ));
    let other_type = PushMeta {
        data_type: "customer_add".into(),
        ..meta.clone()
    };
    assert_eq!(
        malformed(&other_type, W3_DATA),
        PushError::Malformed(MalformedReason::UnexpectedDataType("customer_add".into()))
    );
    let no_msg = PushMeta {
        msg_id: String::new(),
        ..meta
    };
    assert_eq!(
        malformed(&no_msg, W3_DATA),
        PushError::Malformed(MalformedReason::MissingMsgId)
    );
}

#[test]
fn full_push_keeps_every_field_and_ext_values() {
    let data = json!({
        "lead_ID": 6789690485561771524u64, "lead_code": "zsmd", "lead_name": "张三门店",
        "activity_type": "电话", "activity_content": "zhangsan", "location": "10,20",
        "offset": 50, "photo_path": "/aaa/bb.png", "create_by": "创建人", "department": "部门",
        "create_at": "2021-01-09 08:05", "ext_1": "自定义字段"
    })
    .to_string();
    let meta = PushMeta {
        data_id: Some("D1".into()),
        data_version: Some("001".into()),
        data_format: Some("json".into()),
        data_source: Some("biz".into()),
        tenant_id: Some("7872470323618986146".into()),
        status: Some("2".into()),
        status_time: Some("2021-01-10 01:30:00".into()),
        ..PushMeta::follow("X0001", 1_503_276_678_552)
    };
    let wire = encode_follow_push(&meta, &data, "s3cret");
    // Old timestamps are fine: retries come days later with the original one.
    let push = verify_follow_push(wire.as_bytes(), "s3cret").unwrap();
    assert_eq!(push.meta, meta);
    assert!(push.meta.is_retry());
    let r = &push.record;
    assert_eq!(r.lead_id, "6789690485561771524");
    assert_eq!(r.offset.as_deref(), Some("50"));
    assert_eq!(r.ext["ext_1"], "自定义字段");
    assert_eq!(
        r.created_at().unwrap().to_rfc3339(),
        "2021-01-09T08:05:00+08:00"
    );
    assert_eq!(
        ack("X0001"),
        r#"{"return_code":0,"return_msg":"","msg_id":"X0001"}"#
    );
    assert_eq!(
        nack("X0001", "db down"),
        r#"{"return_code":1,"return_msg":"db down","msg_id":"X0001"}"#
    );
}

#[test]
fn plus_and_bad_percent_sequences_decode_like_forms() {
    let data = r#"{"lead_ID":"a b%zz"}"#;
    let digest = sign::push_digest(data.as_bytes(), "k", "1");
    let wire = format!(
        "msgId=1&dataType=salesLeads_follow&data=%7B%22lead_ID%22%3A%22a+b%zz%22%7D&timestamp=1&digest={digest}"
    );
    let push = verify_follow_push(wire.as_bytes(), "k").unwrap();
    assert_eq!(push.record.lead_id, "a b%zz");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn arbitrary_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = verify_follow_push(&body, W3_SECRET);
    }

    #[test]
    fn form_shaped_bodies_never_panic(body in "[a-zA-Z=&%+0-9_{}\":,]{0,200}") {
        let _ = verify_follow_push(body.as_bytes(), W3_SECRET);
        let with_fields = format!("data={body}&timestamp=1&digest=00&msgId=1&dataType=salesLeads_follow");
        prop_assert!(matches!(
            verify_follow_push(with_fields.as_bytes(), W3_SECRET),
            Err(PushError::Unauthorized(_))
        ));
    }

    #[test]
    fn any_signed_record_round_trips(
        content in "\\PC{0,40}",
        msg_id in "[0-9]{1,19}",
        ts in 0i64..9_999_999_999_999,
    ) {
        let data = json!({"lead_ID": "L1", "activity_content": content}).to_string();
        let meta = PushMeta::follow(msg_id, ts);
        let wire = encode_follow_push(&meta, &data, W3_SECRET);
        let push = verify_follow_push(wire.as_bytes(), W3_SECRET).unwrap();
        prop_assert_eq!(push.record.activity_content.as_deref(), Some(content.as_str()));
        prop_assert_eq!(&push.data, &data);
        prop_assert_eq!(encode_follow_push(&push.meta, &push.data, W3_SECRET), wire);
    }
}

// ---------------------------------------------------------------- models

const ADD_EXAMPLE: &str = r#"{
    "empName":"负责人","code":"code","cus_name":"api专用","poolName":"线索池名称",
    "source_type":"客户介绍","market_name":"市场活动1","linkman":"联系人1","mobile_country":"86",
    "mobile":"18811111111","mobile_repeat":"0","tel":"02588888888",
    "customer_classification_name":"学校","position":"公务员","detail":"线索详情线索详情",
    "mssProvinceName":"江苏省","mssCityName":"南京市","mssAreaName":"建邺区","mssStreetName":"沙洲街道",
    "mark_addr":"江苏省南京市雨花台区春江路1号肯德基(铁心桥餐厅)","email":"waiqin365@waiqin365.com",
    "website":"https://api.waiqin365.com/","address":"江苏省南京市雨花台区春江路1号肯德基(铁心桥餐厅)",
    "latlon":"31.963018601806095,118.76207851993819",
    "exts":[{"salesleads_ext_key":"自定义字段1","salesleads_ext_value":"api测试用啊"},
            {"salesleads_ext_key":"自定义字段2","salesleads_ext_value":"测试用"}]
}"#;

#[test]
fn add_example_decodes_validates_and_re_encodes_every_field() {
    let req: AddSalesLeadsRequest = serde_json::from_str(ADD_EXAMPLE).unwrap();
    assert_eq!(req.code.as_deref(), Some("code"));
    assert_eq!(req.fields.emp_name.as_deref(), Some("负责人"));
    assert_eq!(req.fields.mss_city_name.as_deref(), Some("南京市"));
    assert_eq!(req.fields.exts.as_ref().unwrap().len(), 2);
    assert!(req.extra.is_empty(), "{:?}", req.extra);
    req.validate().unwrap();
    let back = serde_json::to_value(&req).unwrap();
    let original: Value = serde_json::from_str(ADD_EXAMPLE).unwrap();
    assert_eq!(back, original);
}

#[test]
fn unknown_fields_pass_through_and_none_fields_are_skipped() {
    let req: AddSalesLeadsRequest = serde_json::from_value(
        json!({"poolName": "池", "new_field": {"x": 1}, "mobile": 13800000000u64}),
    )
    .unwrap();
    assert_eq!(req.fields.mobile.as_deref(), Some("13800000000"));
    assert_eq!(
        serde_json::to_string(&req).unwrap(),
        r#"{"poolName":"池","mobile":"13800000000","new_field":{"x":1}}"#
    );
}

#[test]
fn add_validation_names_the_field() {
    let e = AddSalesLeadsRequest::default().validate().unwrap_err();
    assert_eq!(e.field, "empName|poolName");
    let mut req = AddSalesLeadsRequest {
        fields: SalesLeadFields {
            emp_name: Some("  ".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    assert_eq!(req.validate().unwrap_err().field, "empName|poolName");
    req.fields.emp_name = Some("张三".into());
    req.mobile_repeat = Some("2".into());
    assert_eq!(req.validate().unwrap_err().field, "mobile_repeat");
    req.mobile_repeat = Some(String::new());
    req.validate().unwrap();
}

#[test]
fn modify_example_sends_the_big_id_as_an_exact_string() {
    let req: ModifySalesLeadsRequest = serde_json::from_str(
        r#"{"id": 6789690485561771524, "code": "codezs", "poolName": "线索池名称", "mark_addr": "南京市铁心桥",
            "exts": [{"salesleads_ext_key": "自定义字段1", "salesleads_ext_value": "api测试用啊"}]}"#,
    )
    .unwrap();
    assert_eq!(req.id.as_deref(), Some("6789690485561771524"));
    let body = serde_json::to_string(&req).unwrap();
    assert!(
        body.starts_with(r#"{"id":"6789690485561771524","code":"codezs","poolName""#),
        "{body}"
    );
    req.validate().unwrap();
    let e = ModifySalesLeadsRequest::default().validate().unwrap_err();
    assert_eq!(e.field, "id|code");
}

#[test]
fn remove_example_decodes_with_numeric_reason_id() {
    let req: RemoveSalesLeadsRequest = serde_json::from_str(
        r#"{"code":"codezs","emp_id":"5061962864497943367","reason_id":1000025,"content":"api删除1342"}"#,
    )
    .unwrap();
    assert_eq!(req.reason_id.as_deref(), Some("1000025"));
    assert_eq!(
        serde_json::to_string(&req).unwrap(),
        r#"{"code":"codezs","reason_id":"1000025","content":"api删除1342","emp_id":"5061962864497943367"}"#
    );
    req.validate().unwrap();
    assert_eq!(
        RemoveSalesLeadsRequest::default()
            .validate()
            .unwrap_err()
            .field,
        "id|code"
    );
}

#[test]
fn apaas_add_example_decodes_and_checks_allocation() {
    let req: AddSalesLeadsApaasRequest = serde_json::from_value(json!({
        "company_name":"示例公司","code":"L90188053235235","source_type":"客户介绍",
        "mobile":{"phone":"18912804466","code": "86"},"linkman":"联系人","telephone":"02588888888",
        "mss_province":"江苏省","mark_addr":"江苏省南京市","latitude":"31.963018601806095",
        "longitude":"118.76207851993819","address":"江苏省南京市雨花台区春江路",
        "allocation_status":"1","salesleads_status":"1","pool_name":"默认线索池","removed_result":"暂无",
        "labels":"示例标签","responsible_person":"负责人ID","card_photo":"名片","mobile_duplicate":"1",
        "exts":{"field_kig9p__cywdzm9": "10000.00", "field_db3nn__ctvj575": "2024-07-26"}
    }))
    .unwrap();
    assert_eq!(
        req.fields.mobile.as_ref().unwrap().phone.as_deref(),
        Some("18912804466")
    );
    assert_eq!(req.fields.exts.as_ref().unwrap().len(), 2);
    assert!(req.extra.is_empty(), "{:?}", req.extra);
    req.validate().unwrap();
    let mut pool = req.clone();
    pool.fields.allocation_status = Some("0".into());
    pool.fields.pool_name = None;
    assert_eq!(pool.validate().unwrap_err().field, "pool_name");
    let mut status = req.clone();
    status.fields.salesleads_status = Some("3".into());
    assert_eq!(status.validate().unwrap_err().field, "salesleads_status");
    let mut owner = req;
    owner.fields.responsible_person = None;
    assert_eq!(owner.validate().unwrap_err().field, "responsible_person");
}

#[test]
fn apaas_modify_uses_mark_address_and_string_id() {
    let req: ModifySalesLeadsApaasRequest = serde_json::from_value(json!({
        "id": 5031887187231707391u64, "company_name": "掌控网络", "mark_address": "国家广告产业园",
        "allocation_status": "1", "responsible_person": "5031887187231707391", "removed_result": null,
        "salesleads_label": null
    }))
    .unwrap();
    req.validate().unwrap();
    let body = serde_json::to_value(&req).unwrap();
    assert_eq!(body["id"], "5031887187231707391");
    assert_eq!(body["mark_address"], "国家广告产业园");
    assert!(body.get("removed_result").is_none());
    assert_eq!(
        body["salesleads_label"],
        Value::Null,
        "unknown fields pass through"
    );
}

#[test]
fn query_example_decodes_and_validation_rules_hold() {
    let req: QuerySalesLeadsRequest = serde_json::from_str(
        r#"{"code":"codezs","id":"5025653528380651509","linkman":"联系人","mobile":"18811111111",
            "emp_name":"张三","cus_name":"线索1","create_time_start":"2020-01-20",
            "create_time_end":"2020-09-20","salesleads_status":"1","page":1,"pageSize":10}"#,
    )
    .unwrap();
    assert_eq!(req.conditions.page_size, Some(10));
    req.validate().unwrap();

    let only_paging: QuerySalesLeadsRequest =
        serde_json::from_value(json!({"page": 1, "pageSize": 10})).unwrap();
    assert!(only_paging
        .validate()
        .unwrap_err()
        .reason
        .contains("at least one condition"));
    let bad_date: QuerySalesLeadsRequest =
        serde_json::from_value(json!({"modify_time_start": "2020/01/20"})).unwrap();
    assert_eq!(bad_date.validate().unwrap_err().field, "modify_time_start");
    let bad_status: QuerySalesLeadsRequest =
        serde_json::from_value(json!({"salesleads_status": 4})).unwrap();
    assert_eq!(
        bad_status.validate().unwrap_err().field,
        "salesleads_status"
    );
    let unmodelled: QuerySalesLeadsRequest =
        serde_json::from_value(json!({"tenant_field": "x"})).unwrap();
    unmodelled.validate().unwrap();

    let window = QueryConditions::modified_between(
        chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
        chrono::NaiveDate::from_ymd_opt(2024, 1, 2).unwrap(),
    );
    assert_eq!(
        serde_json::to_string(&window).unwrap(),
        r#"{"modify_time_start":"2024-01-01","modify_time_end":"2024-01-02"}"#
    );
}

#[test]
fn apaas_query_example_keeps_sorts_and_query_group() {
    let req: QuerySalesLeadsApaasRequest = serde_json::from_value(json!({
        "modify_time_start":"2025-01-20","modify_time_end":"2025-01-21",
        "sorts": {"field_key": "create_time", "type": "asc"},
        "query_group": {"connector": "AND", "filters": {"field_key": " ", "field_values":" ","operator": ""}},
        "page":1,"pageSize":10
    }))
    .unwrap();
    req.validate().unwrap();
    let body = serde_json::to_value(&req).unwrap();
    assert_eq!(body["sorts"]["type"], "asc");
    assert_eq!(body["query_group"]["connector"], "AND");
    let group_only: QuerySalesLeadsApaasRequest =
        serde_json::from_value(json!({"query_group": {"connector": "OR"}})).unwrap();
    group_only.validate().unwrap();
}

#[test]
fn envelope_accepts_string_and_int_codes_and_double_encoded_data() {
    let e: Envelope = serde_json::from_str(
        r#"{"return_code":"0","return_msg":null,"msg_id":"90b4b267dd3d49aeace879038b1e7291","response_data":null}"#,
    )
    .unwrap();
    assert!(e.is_success());
    assert_eq!(e.data().unwrap(), Value::Null);
    let e: Envelope =
        serde_json::from_str(r#"{"return_code":0,"response_data":"[{\"id\":\"1\"}]"}"#).unwrap();
    assert!(e.is_success());
    assert_eq!(e.data().unwrap(), json!([{"id": "1"}]));
    let e: Envelope =
        serde_json::from_str(r#"{"return_code":0,"response_data":[{"id":2}]}"#).unwrap();
    assert_eq!(e.data().unwrap(), json!([{"id": 2}]));
    let e: Envelope =
        serde_json::from_str(r#"{"return_code":"1","return_msg":"线索编码已存在","msg_id":null}"#)
            .unwrap();
    assert!(!e.is_success());
    let e: Envelope = serde_json::from_str(r#"{"return_code":0,"response_data":"[oops"}"#).unwrap();
    assert!(e.data().is_err());
    assert!(serde_json::from_str::<Envelope>(r#"{"code":0}"#).is_err());
}

const QUERY_RECORD: &str = r##"{
    "id":"6789690485561771524","cus_name":"api专用","code":"","source_type_name":"客户介绍",
    "market_name":"市场活动1","linkman":"联系人1","mobile_country":"86","mobile":"18811111111",
    "tel":"02588888888","position":"公务员","detail":"线索详情","mss_province":"江苏省","mss_city":"南京市",
    "mss_area":"雨花台区","mss_street":"","mark_addr":"江苏省南京市雨花台区春江路1号肯德基(铁心桥餐厅)详细地址",
    "email":"waiqin365@waiqin365.com","website":"https://api.waiqin365.com/","emp_name":"李四",
    "status_value":"跟进","emp_id_str":"5025653528380651509","create_time":"2020-07-25 14:45",
    "owner_change_time":"2020-07-27 17:10","result":"跟进内容","disable_reason_name":"线索重复2",
    "disable_reason_ext":"误操作重复导入了","creator_name":"系统","follow_name":"张三",
    "follow_time":"2020-07-27 19:43","modifyier_name":"张三","transf_time":"","modify_time":"2020-07-27 19:42",
    "pool_name":"","distribution_name":"","distribution_take_time":"","return_reason_name":"",
    "delete_reason_name":"客户暂无需求","delete_reason_ext":"录制错误了","customer_classification_name":"学校",
    "cm_code":"CUS000044","cm_name":"已转换客户名称",
    "labels":[{"salesleads_id":"6789690485561771524","color":"#cc0000","name":"重复",
               "rule_description":"新增、编辑线索时根据设置的查重条件检查","id":"1","status":"1"}],
    "exts":[{"ext_column":"ext_2206290023","ext_key":"数值111","ext_value":"10"}]
}"##;

#[test]
fn query_record_example_decodes_and_converts_to_lead() {
    let raw: Value = serde_json::from_str(QUERY_RECORD).unwrap();
    let rec = SalesLead::from_raw(raw.clone()).unwrap();
    assert!(
        rec.extra.is_empty(),
        "every documented field is modelled: {:?}",
        rec.extra
    );
    assert_eq!(rec.labels[0].color.as_deref(), Some("#cc0000"));
    assert_eq!(rec.exts[0].ext_value.as_deref(), Some("10"));
    assert_eq!(rec.modifyier_name.as_deref(), Some("张三"));
    let lead = rec.to_lead("wq_main");
    assert_eq!(lead.vendor, crate::connectors::Vendor::Waiqin);
    assert_eq!(lead.account, "wq_main");
    assert_eq!(lead.id, "6789690485561771524");
    assert_eq!(lead.name.as_deref(), Some("联系人1"));
    assert_eq!(lead.phone.as_deref(), Some("18811111111"));
    assert_eq!(lead.email.as_deref(), Some("waiqin365@waiqin365.com"));
    assert_eq!(lead.province.as_deref(), Some("江苏省"));
    assert_eq!(lead.city.as_deref(), Some("南京市"));
    assert_eq!(
        lead.address.as_deref(),
        Some("江苏省南京市雨花台区春江路1号肯德基(铁心桥餐厅)详细地址")
    );
    assert_eq!(lead.kind, LeadKind::Other);
    assert_eq!(lead.source.as_deref(), Some("客户介绍"));
    assert_eq!(
        lead.created_at.unwrap().to_rfc3339(),
        "2020-07-25T14:45:00+08:00"
    );
    assert_eq!(lead.remark.as_deref(), Some("线索详情"));
    assert_eq!(lead.raw, raw);
}

#[test]
fn query_record_tolerates_numbers_nulls_and_unknown_fields() {
    let raw = json!({
        "id": 6789690485561771524u64, "mobile": 18811111111u64, "mobile_country": 86,
        "labels": null, "exts": null, "address": "江苏省南京市", "mark_addr": "铁心桥",
        "brand_new_field": {"a": 1}, "create_time": "not a time"
    });
    let rec = SalesLead::from_raw(raw.clone()).unwrap();
    assert_eq!(rec.id, "6789690485561771524");
    assert_eq!(rec.mobile.as_deref(), Some("18811111111"));
    assert!(rec.labels.is_empty() && rec.exts.is_empty());
    assert_eq!(rec.extra["brand_new_field"], json!({"a": 1}));
    let lead = rec.to_lead("a");
    assert_eq!(lead.address.as_deref(), Some("江苏省南京市"));
    assert_eq!(lead.created_at, None);
    assert_eq!(lead.name, None);
    assert_eq!(lead.raw, raw);
    assert!(SalesLead::from_raw(json!({"code": "no id"})).is_err());
}

#[test]
fn records_decode_from_array_or_null_and_reject_objects() {
    let recs = decode_records(json!([{"id": "1"}, {"id": 2}]), SalesLead::from_raw).unwrap();
    assert_eq!(recs[1].id, "2");
    assert!(decode_records(Value::Null, SalesLead::from_raw)
        .unwrap()
        .is_empty());
    assert!(decode_records(json!({"id": 1}), SalesLead::from_raw)
        .unwrap_err()
        .contains("an object"));
    assert!(decode_records(json!([{"x": 1}]), SalesLead::from_raw)
        .unwrap_err()
        .starts_with("record 0"));
}

#[test]
fn apaas_record_example_decodes_flexibly() {
    let rec: ApaasSalesLead = serde_json::from_value(json!({
        "card_photo": [{"path": "apaas/x.jpg", "name": null, "url": "http://image-test/x.jpg"}],
        "code": "L2025040300000568",
        "mss_province": {"code": "320000", "name": "江苏省"},
        "salesleads_status": {"code": "4YJHrhGk", "label": "待处理", "content": null},
        "id": "4983449723663499848",
        "exts": {"field_Jl4uS__c": {"format": "YYYY-MM-DD", "value": "2025-12-31"}},
        "owner": {"name": "老板", "id": "6044797260167447230", "status": "1"},
        "mobile": {"code": "86", "phone": "15269887453"},
        "invalid_reason_id": null
    }))
    .unwrap();
    assert_eq!(rec.id, "4983449723663499848");
    assert_eq!(rec.code.as_deref(), Some("L2025040300000568"));
    assert_eq!(rec.fields["mobile"]["phone"], "15269887453");
    assert_eq!(rec.fields["owner"]["id"], "6044797260167447230");
}

#[test]
fn vendor_messages_classify_by_meaning() {
    assert_eq!(classify("签名错误(digest mismatch)"), FailureKind::Auth);
    // A timestamp out of the window is the clock, retried; a malformed one is our signing.
    assert_eq!(classify("时间戳已过期"), FailureKind::Clock);
    assert_eq!(
        classify("时间戳已过期或超前: 与服务器时间相差-600秒"),
        FailureKind::Clock
    );
    assert_eq!(classify("timestamp expired"), FailureKind::Clock);
    assert_eq!(classify("时间戳格式错误"), FailureKind::Auth);
    assert_eq!(classify("openid不存在"), FailureKind::Auth);
    assert_eq!(classify("IP不在白名单内"), FailureKind::Auth);
    assert_eq!(classify("重复的请求(msg_id已使用)"), FailureKind::Auth);
    assert_eq!(
        classify("参数错误: empName或poolName必填"),
        FailureKind::InvalidRequest
    );
    assert_eq!(
        classify("请求体不是合法的JSON"),
        FailureKind::InvalidRequest
    );
    // "已存在" in any form is an existing key: what scripts see as `e.kind == "exists"`.
    assert_eq!(classify("线索编码已存在"), FailureKind::Exists);
    assert_eq!(classify("线索编码[feiyu-7004]已存在"), FailureKind::Exists);
    assert_eq!(classify("手机号码[13900001111]已存在"), FailureKind::Exists);
    assert_eq!(classify("线索不存在"), FailureKind::Business);
    assert_eq!(classify("系统繁忙,请稍后重试"), FailureKind::VendorBusy);
    assert_eq!(classify("调用过于频繁"), FailureKind::RateLimited);
}
