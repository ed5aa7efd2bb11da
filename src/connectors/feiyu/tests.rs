//! Unit tests: the spec's vectors F1–F3 byte-exact, decoding of the seed's and the captured
//! payload's shapes (tolerant cases included), envelope failures, request validation and the
//! `Lead` conversion.

use serde_json::{json, Value};

use super::client::classify;
use super::model::*;
use super::sign::*;
use crate::connectors::FailureKind;
use crate::lead::{Gender, LeadKind};

const SEED_KEY: &str = "Qgr70EalfhX1lcFDGh2l";

#[test]
fn vector_f1_seed_key_date_window() {
    let to_sign = string_to_sign(
        PULL_CLUES_ROUTE,
        &[("start_time", "2018-07-01"), ("end_time", "2018-07-30")],
        "1531000000",
    );
    assert_eq!(
        to_sign,
        "/crm/v2/openapi/pull-clues/?start_time=2018-07-01&end_time=2018-07-30 1531000000"
    );
    assert_eq!(
        mac_hex(SEED_KEY, &to_sign),
        "fe092887fb345c86e47708ed50dc8872dcfa9727800012685b03cfe513d03513"
    );
    let sig = signature(SEED_KEY, &to_sign);
    assert_eq!(
        sig,
        "ZmUwOTI4ODdmYjM0NWM4NmU0NzcwOGVkNTBkYzg4NzJkY2ZhOTcyNzgwMDAxMjY4NWIwM2NmZTUxM2QwMzUxMw=="
    );
    assert_eq!(sig.len(), 88);
}

#[test]
fn vector_f2_unix_second_window() {
    let to_sign = string_to_sign(
        PULL_CLUES_ROUTE,
        &[("start_time", "1569859200"), ("end_time", "1572537600")],
        "1572574424",
    );
    assert_eq!(
        to_sign,
        "/crm/v2/openapi/pull-clues/?start_time=1569859200&end_time=1572537600 1572574424"
    );
    assert_eq!(
        mac_hex(SEED_KEY, &to_sign),
        "b62e346576e03bb58493c448990badf6404cdb7fa7077ecfca525a77f65bd5af"
    );
    assert_eq!(
        signature(SEED_KEY, &to_sign),
        "YjYyZTM0NjU3NmUwM2JiNTg0OTNjNDQ4OTkwYmFkZjY0MDRjZGI3ZmE3MDc3ZWNmY2E1MjVhNzdmNjViZDVhZg=="
    );
}

#[test]
fn vector_f3_callback_route_without_query() {
    let to_sign = string_to_sign(CALLBACK_ROUTE, &[], "1531000000");
    assert_eq!(to_sign, "/crm/v2/openapi/clue/callback/ 1531000000");
    assert_eq!(
        mac_hex(SEED_KEY, &to_sign),
        "eb8f64db29785a7515ca936ad79762defe7bb578d3cb76278125f321363381ba"
    );
    assert_eq!(
        signature(SEED_KEY, &to_sign),
        "ZWI4ZjY0ZGIyOTc4NWE3NTE1Y2E5MzZhZDc5NzYyZGVmZTdiYjU3OGQzY2I3NjI3ODEyNWYzMjEzNjMzODFiYQ=="
    );
}

#[test]
fn key_is_raw_bytes_not_base64_decoded() {
    // "TDJDMkNDVDlVTFY5" is valid base64 of "L2C2CCT9ULV9"; the vendor uses the text itself.
    let msg = string_to_sign(CALLBACK_ROUTE, &[], "1");
    assert_ne!(
        signature("TDJDMkNDVDlVTFY5", &msg),
        signature("L2C2CCT9ULV9", &msg)
    );
}

/// A page shaped like the captured real response (spec §1.6): string ids, `telphone`, string
/// `create_time`, `site_id: null`, and the extra fields.
fn captured_page() -> Value {
    // A string rather than `json!`: the record is too big for json!'s macro recursion limit.
    serde_json::from_str(
        r#"{
        "status": "success",
        "count": 1,
        "data": [{
            "clue_id": "6831434361875726350",
            "adv_id": "1664750332606472",
            "adv_name": "镇江某某装饰",
            "ad_plan_id": "1667868546478107",
            "ad_plan_name": "装修-表单-0527",
            "site_id": null,
            "external_url": "https://www.chengzijianzhan.com/tetris/page/6830000000000000000/",
            "clue_type": 0,
            "module_name": "表单",
            "module_id": "1667870000000000",
            "create_time": "1590567259",
            "clue_source": 1,
            "name": "张三",
            "telphone": "13912345678",
            "gender": 0,
            "age": 0,
            "email": "",
            "weixin": "",
            "qq": "",
            "province_name": "",
            "city_name": "",
            "address": "",
            "remark": "",
            "remark_dict": {},
            "form_remark": "",
            "appname": "抖音",
            "convert_status": "合法转化",
            "store_id": "",
            "store": {"store_name": "", "store_id": "", "store_pack_remark": "",
                      "store_pack_name": "", "store_remark": "", "store_address": "",
                      "store_location": "", "store_pack_id": ""},
            "location": "江苏+镇江",
            "cid": "1667870000000001",
            "req_id": "2020052716141901001404708415051E7D",
            "date": "2020-05-27 16:14:19"
        }]
    }"#,
    )
    .unwrap()
}

#[test]
fn captured_real_payload_decodes_and_converts() {
    let body = serde_json::to_vec(&captured_page()).unwrap();
    let page = parse_pull_answer(&body, 1, 100).unwrap();
    assert_eq!((page.status.as_str(), page.count), ("success", 1));
    assert!(page.invalid.is_empty());
    assert!(!page.has_more());
    let clue = &page.data[0];
    assert_eq!(clue.clue_id, "6831434361875726350");
    assert_eq!(clue.adv_id.as_deref(), Some("1664750332606472"));
    assert_eq!(clue.site_id, None);
    assert_eq!(clue.telephone.as_deref(), Some("13912345678"));
    assert_eq!(clue.create_time, Some(Code::Int(1_590_567_259)));
    assert_eq!(clue.extra["location"], "江苏+镇江");
    assert_eq!(clue.extra["req_id"], "2020052716141901001404708415051E7D");
    assert!(clue.extra["store"].is_object());
    assert!(
        !clue.extra.contains_key("telphone"),
        "known spellings are not extras"
    );

    let lead = clue.to_lead("fy_main");
    assert_eq!(lead.vendor, crate::connectors::Vendor::Feiyu);
    assert_eq!(lead.account, "fy_main");
    assert_eq!(lead.id, "6831434361875726350");
    assert_eq!(lead.name.as_deref(), Some("张三"));
    assert_eq!(lead.phone.as_deref(), Some("13912345678"));
    assert_eq!(lead.kind, LeadKind::Form);
    assert_eq!(lead.gender, Gender::Unknown);
    assert_eq!(lead.source.as_deref(), Some("正常投放"));
    assert_eq!(
        (lead.province.as_deref(), lead.city.as_deref()),
        (Some("江苏省"), Some("镇江市")),
        "empty province_name/city_name fall back to location, named in full"
    );
    assert_eq!(
        lead.raw["location"], "江苏+镇江",
        "the vendor's own value stays in raw"
    );
    assert_eq!(
        lead.created_at.unwrap().to_rfc3339(),
        "2020-05-27T16:14:19+08:00"
    );
    assert_eq!(
        (lead.email, lead.wechat, lead.qq, lead.remark),
        (None, None, None, None)
    );
    assert_eq!(
        lead.raw,
        captured_page()["data"][0],
        "raw is the record as received"
    );
    // Serializing a clue writes the record back as received.
    assert_eq!(serde_json::to_value(clue).unwrap(), lead.raw);
}

#[test]
fn seed_shaped_clue_with_numbers_and_seed_spelling() {
    let body = json!({
        "status": "sucess",
        "count": 25,
        "data": [{
            "clue_id": 6831434361875726350u64,
            "adv_id": 1664750332606472u64,
            "ad_plan_id": 1667868546478107u64,
            "site_id": 6822000000000000000u64,
            "clue_type": "3",
            "create_time": 1590567259,
            "clue_source": 9,
            "name": " 李四 ",
            "telephone": "13800001111",
            "gender": 2,
            "age": 31.5,
            "email": "li@example.com",
            "weixin": "lisi_wx",
            "qq": 10001,
            "province_name": "广东省",
            "city_name": "深圳市",
            "address": "南山区科技园",
            "remark": "想了解价格",
            "remark_dict": {"下拉测试": "节点 1,节点 1-1,节点 1-1-1"},
            "location": "江苏+镇江"
        }]
    });
    let page = parse_pull_answer(body.to_string().as_bytes(), 1, 10).unwrap();
    assert_eq!((page.status.as_str(), page.count), ("sucess", 25));
    assert!(page.has_more());
    let clue = &page.data[0];
    assert_eq!(clue.clue_id, "6831434361875726350");
    assert_eq!(clue.site_id.as_deref(), Some("6822000000000000000"));
    assert_eq!(clue.clue_type, Some(Code::Int(3)));
    assert_eq!(clue.qq.as_deref(), Some("10001"));
    assert_eq!(clue.age.as_deref(), Some("31.5"));
    let lead = clue.to_lead("a");
    assert_eq!(lead.kind, LeadKind::Callback);
    assert_eq!(lead.gender, Gender::Female);
    assert_eq!(lead.name.as_deref(), Some("李四"));
    assert_eq!(lead.phone.as_deref(), Some("13800001111"));
    assert_eq!(lead.email.as_deref(), Some("li@example.com"));
    assert_eq!(lead.wechat.as_deref(), Some("lisi_wx"));
    assert_eq!(lead.qq.as_deref(), Some("10001"));
    assert_eq!(lead.address.as_deref(), Some("南山区科技园"));
    assert_eq!(lead.remark.as_deref(), Some("想了解价格"));
    assert_eq!(
        lead.source.as_deref(),
        Some("9"),
        "unknown source keeps its number"
    );
    assert_eq!(
        (lead.province.as_deref(), lead.city.as_deref()),
        (Some("广东省"), Some("深圳市")),
        "province_name/city_name win over location"
    );
}

#[test]
fn both_phone_spellings_and_odd_enum_values_are_tolerated() {
    let clue: Clue = serde_json::from_value(json!({
        "clue_id": "1", "telephone": "", "telphone": "13700000000",
        "gender": "男", "clue_type": "表单", "clue_source": "鲁班线索",
        "create_time": "2020-05-27 16:14:19"
    }))
    .unwrap();
    assert_eq!(clue.telephone.as_deref(), Some("13700000000"));
    let lead = clue.to_lead("a");
    assert_eq!(lead.gender, Gender::Male);
    assert_eq!(lead.kind, LeadKind::Other);
    assert_eq!(lead.source.as_deref(), Some("鲁班线索"));
    assert_eq!(lead.created_at.unwrap().timestamp(), 1_590_567_259);
}

#[test]
fn a_bad_record_is_reported_without_sinking_the_page() {
    let body = json!({"status": "success", "count": 2,
        "data": [{"name": "no id"}, {"clue_id": "7", "create_time": 1}]});
    let page = parse_pull_answer(body.to_string().as_bytes(), 1, 100).unwrap();
    assert_eq!(page.data.len(), 1);
    assert_eq!(page.invalid.len(), 1);
    assert_eq!(page.invalid[0].index, 0);
    assert!(
        page.invalid[0].error.contains("clue_id"),
        "{}",
        page.invalid[0].error
    );
    assert_eq!(page.invalid[0].raw, json!({"name": "no id"}));
    // Serialized answers list the invalid records only when there are some.
    let out = serde_json::to_value(&page).unwrap();
    assert_eq!(out["invalid"][0]["index"], 0);
    assert_eq!(out["data"][0], json!({"clue_id": "7", "create_time": 1}));
}

#[test]
fn non_success_statuses_are_errors_with_raw_msg() {
    let cases = [
        (
            json!({"status": "error", "msg": "invalid signature"}),
            "error",
            "invalid signature",
        ),
        (json!({"status": "-2", "msg": "拉取失败"}), "-2", "拉取失败"),
        (
            json!({"status": 0, "data": []}),
            "0",
            "status 0 without msg",
        ),
        (
            json!({"status": "fail", "msg": {"start_time": ["bad"]}}),
            "fail",
            r#"{"start_time":["bad"]}"#,
        ),
        (
            json!({"status": "error", "msg": ["a", "b"]}),
            "error",
            r#"["a","b"]"#,
        ),
        (json!({"msg": "x"}), "null", "x"),
    ];
    for (body, code, message) in cases {
        let err = parse_pull_answer(body.to_string().as_bytes(), 1, 10).unwrap_err();
        assert_eq!(
            err,
            AnswerError::Vendor {
                code: code.into(),
                message: message.into()
            },
            "{body}"
        );
    }
}

#[test]
fn undecodable_answers_say_why() {
    for (body, needle) in [
        (&b"<html>502</html>"[..], "expected value"),
        (b"[1,2]", "a list"),
        (
            br#"{"status":"success","data":{"a":1}}"#,
            "`data` should be a list",
        ),
    ] {
        match parse_pull_answer(body, 1, 10) {
            Err(AnswerError::Undecodable(why)) => assert!(why.contains(needle), "{why}"),
            other => panic!("{other:?}"),
        }
    }
    // A success without data or count is an empty page, not an error.
    let page = parse_pull_answer(br#"{"status":"success"}"#, 1, 10).unwrap();
    assert_eq!(
        (page.count, page.data.len(), page.has_more()),
        (0, 0, false)
    );
}

#[test]
fn error_bodies_of_non_2xx_answers_are_read_when_vendor_shaped() {
    assert_eq!(
        error_body(br#"{"status":"error","msg":"invalid access token"}"#),
        Some(AnswerError::Vendor {
            code: "error".into(),
            message: "invalid access token".into()
        })
    );
    assert_eq!(error_body(b"simulated fault: HTTP 503"), None);
}

#[test]
fn request_defaults_and_validation_name_the_field() {
    let r: PullRequest =
        serde_json::from_value(json!({"start_time": "2024-05-01", "end_time": "2024-05-31"}))
            .unwrap();
    assert_eq!((r.page, r.page_size), (1, 100));
    assert!(r.validate().is_ok());
    let d = chrono::NaiveDate::from_ymd_opt(2024, 5, 1).unwrap();
    assert_eq!(PullRequest::days(d, d).start_time, "2024-05-01");

    let bad = |edit: fn(&mut PullRequest)| {
        let mut r = r.clone();
        edit(&mut r);
        r.validate().unwrap_err()
    };
    assert_eq!(bad(|r| r.start_time.clear()).field, "start_time");
    assert_eq!(
        bad(|r| r.end_time = "2024-05-31 23:59:59".into()).field,
        "end_time"
    );
    assert_eq!(bad(|r| r.page = 0).field, "page");
    assert_eq!(bad(|r| r.page_size = 101).field, "page_size");
    assert_eq!(bad(|r| r.page_size = 0).field, "page_size");
    assert!(serde_json::from_value::<PullRequest>(
        json!({"start_time": "a", "end_time": "b", "pagesize": 5})
    )
    .is_err());
}

#[test]
fn vendor_messages_classify_clock_auth_params_and_business() {
    assert_eq!(classify("invalid signature"), FailureKind::Auth);
    assert_eq!(classify("timestamp expired"), FailureKind::Clock);
    assert_eq!(classify("时间戳过期"), FailureKind::Clock);
    assert_eq!(classify("invalid access token"), FailureKind::Auth);
    assert_eq!(classify("签名错误"), FailureKind::Auth);
    assert_eq!(
        classify("bad start_time: expected YYYY-MM-DD"),
        FailureKind::InvalidRequest
    );
    assert_eq!(classify("拉取失败"), FailureKind::Business);
}

#[test]
fn enum_tables_match_the_seed_and_the_lead_kinds() {
    assert_eq!(CLUE_TYPES.len(), 6);
    assert_eq!(CLUE_SOURCES.len(), 7);
    assert_eq!(label(CLUE_TYPES, 2), Some("智能电话"));
    assert_eq!(label(CLUE_SOURCES, 6), Some("鲁班线索"));
    assert_eq!(label(GENDERS, 2), Some("女"));
    for (i, (name, value, _)) in CLUE_TYPES.iter().enumerate() {
        assert_eq!(*value, i as i64);
        assert!(name.starts_with("CLUE_TYPE_"));
        assert_ne!(LeadKind::from_feiyu(*value), LeadKind::Other);
    }
}

#[test]
fn the_callback_body_is_the_one_spec_1_8_shows() {
    let request = CallbackRequest::from_payload(
        &json!({"clue_id": "6831434361875726350", "clue_convert_state": 3}),
    )
    .unwrap();
    // The signature does not cover the body (F3 signs the route and timestamp only), but we
    // send it in §1.8's order anyway (serde_json keeps insertion order here).
    assert_eq!(
        serde_json::to_string(&request.body()).unwrap(),
        r#"{"source":0,"data":{"clue_id":"6831434361875726350","clue_convert_state":3}}"#
    );
    assert_eq!(
        request.body(),
        json!({"source": 0, "data": {"clue_id": "6831434361875726350", "clue_convert_state": 3}})
    );
}

#[test]
fn callback_answers_succeed_only_on_success_and_keep_the_vendors_msg() {
    let ok = parse_callback_answer(br#"{"status":"success","extra":1}"#).unwrap();
    assert_eq!(ok.status, "success");
    assert_eq!(ok.rest["extra"], 1);
    let e = parse_callback_answer(br#"{"status":"-2","msg":"clue not found"}"#).unwrap_err();
    assert_eq!(
        e,
        AnswerError::Vendor {
            code: "-2".into(),
            message: "clue not found".into()
        }
    );
    assert!(matches!(
        parse_callback_answer(b"[]"),
        Err(AnswerError::Undecodable(_))
    ));
}
