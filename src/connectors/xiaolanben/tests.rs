//! Unit tests: every spec §4.4 vector byte-exact, the signer's edge cases, model decoding of the
//! guide's examples (and tolerant variants), validation messages and error classification.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::{json, Value};

use super::client::error_from_response;
use super::model::*;
use super::sign::*;
use crate::connectors::http::RawResponse;
use crate::connectors::{FailureKind, Vendor};
use crate::lead::{Gender, Lead};

fn p(pairs: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
    pairs
        .iter()
        .map(|(k, vs)| (k.to_string(), vs.iter().map(|v| v.to_string()).collect()))
        .collect()
}

const SEED_KEY: &str = "xxxxxx-xxxxxx-xxxxxx";
const H_T_VEC: i64 = 1_704_083_435_345;

#[test]
fn x1_post_import_with_the_seed_params() {
    let params = p(&[
        ("checkKeepLimit", &["true"]),
        ("autoUnlock", &["false"]),
        ("duplicateControl", &["CUSTOMER_PHONE_DUPLICATE_FAIL"]),
    ]);
    let body = r#"{"customerName":"鲍哥2024测试1","tag":"未分组","contacts":[{"thirdDataId":"u1","name":"联系人1","phone":"13909876543"}]}"#;
    assert_eq!(
        string_to_sign(&params, Some(body), H_T_VEC, SEED_KEY),
        format!("autoUnlock=false&checkKeepLimit=true&duplicateControl=CUSTOMER_PHONE_DUPLICATE_FAIL{body}1704083435345xxxxxx-xxxxxx-xxxxxx")
    );
    assert_eq!(
        h_sign(&params, Some(body), H_T_VEC, SEED_KEY),
        "61c8b3c065e02ae6e676a9bb0f2497cd"
    );
}

#[test]
fn x1_body_built_from_the_typed_model_is_byte_identical() {
    let customer = Customer {
        customer_name: "鲍哥2024测试1".into(),
        tag: Some("未分组".into()),
        contacts: vec![Contact {
            third_data_id: "u1".into(),
            name: Some("联系人1".into()),
            phone: Some("13909876543".into()),
            ..Contact::default()
        }],
        ..Customer::default()
    };
    let body = serde_json::to_string(&customer).unwrap();
    assert_eq!(
        body,
        r#"{"customerName":"鲍哥2024测试1","tag":"未分组","contacts":[{"thirdDataId":"u1","name":"联系人1","phone":"13909876543"}]}"#
    );
    let options = ImportOptions {
        check_keep_limit: Some(true),
        auto_unlock: Some(false),
        duplicate_control: Some(DuplicateControl::CustomerPhoneDuplicateFail),
        ..ImportOptions::default()
    };
    assert_eq!(
        h_sign(&options.to_params(), Some(&body), H_T_VEC, SEED_KEY),
        "61c8b3c065e02ae6e676a9bb0f2497cd"
    );
}

#[test]
fn x2_get_staff_list_and_its_exact_wire_query() {
    let params = p(&[
        ("pageIndex", &["1"]),
        ("pageSize", &["20"]),
        ("search", &["张三"]),
    ]);
    assert_eq!(
        string_to_sign(&params, None, H_T_VEC, SEED_KEY),
        "pageIndex=1&pageSize=20&search=张三1704083435345xxxxxx-xxxxxx-xxxxxx"
    );
    let sig = h_sign(&params, None, H_T_VEC, SEED_KEY);
    assert_eq!(sig, "68ced203770e834f4cf23fa0f3d05a16");
    assert_eq!(
        format!("?{}", query_string(&params, H_T_VEC, &sig)),
        "?pageIndex=1&pageSize=20&search=%E5%BC%A0%E4%B8%89&h_t=1704083435345&h_sign=68ced203770e834f4cf23fa0f3d05a16"
    );
    let req = ListStaffsRequest {
        page_index: 1,
        page_size: 20,
        search: Some("张三".into()),
    };
    assert_eq!(h_sign(&req.to_params(), None, H_T_VEC, SEED_KEY), sig);
}

#[test]
fn x3_multi_valued_parameter_with_an_empty_value() {
    let params = p(&[("b", &["y", "x", ""]), ("a", &["1"])]);
    assert_eq!(
        string_to_sign(&params, None, H_T_VEC, "k"),
        "a=1&b=x,y1704083435345k"
    );
    assert_eq!(
        h_sign(&params, None, H_T_VEC, "k"),
        "695f7337590dbb9d04e54f1628814414"
    );
    // On the wire each non-empty value is its own pair; the server merges them back.
    let q = query_string(&params, H_T_VEC, "s");
    assert_eq!(q, "a=1&b=x&b=y&h_t=1704083435345&h_sign=s");
    assert_eq!(
        h_sign(&parse_query(&q), None, H_T_VEC, "k"),
        "695f7337590dbb9d04e54f1628814414"
    );
}

#[test]
fn x4_no_params_no_body() {
    assert_eq!(string_to_sign(&[], None, H_T_VEC, "k"), "1704083435345k");
    assert_eq!(
        h_sign(&[], None, H_T_VEC, "k"),
        "277017570ed5ee3a1270f137859631ec"
    );
    // A blank body is the same as no body (StringUtils.isNotBlank).
    assert_eq!(
        h_sign(&[], Some(" \n\t"), H_T_VEC, "k"),
        "277017570ed5ee3a1270f137859631ec"
    );
    assert_eq!(
        h_sign(&[], Some(""), H_T_VEC, "k"),
        "277017570ed5ee3a1270f137859631ec"
    );
}

#[test]
fn all_empty_keys_and_signature_params_are_left_out() {
    let params = p(&[
        ("search", &[""]),
        ("h_t", &["1"]),
        ("h_sign", &["x"]),
        ("a", &["1"]),
    ]);
    assert_eq!(param_string(&params), "a=1");
    assert_eq!(
        query_string(&params, 5, "sig"),
        "a=1&h_t=5&h_sign=sig",
        "empty values and caller-supplied h_t/h_sign are never sent"
    );
}

#[test]
fn keys_sort_like_a_java_tree_map_and_repeated_keys_merge() {
    let params = p(&[("b", &["2"]), ("Z", &["z"]), ("a", &["1"]), ("b", &["1"])]);
    assert_eq!(param_string(&params), "Z=z&a=1&b=1,2");
}

#[test]
fn values_sort_by_utf16_units_not_bytes() {
    // U+1F600 (surrogates D83D DE00) sorts before U+FF01 in Java, after it in byte order.
    let params = p(&[("k", &["\u{FF01}", "\u{1F600}"])]);
    assert_eq!(param_string(&params), "k=\u{1F600},\u{FF01}");
}

#[test]
fn raw_values_are_signed_and_encoded_only_on_the_wire() {
    let params = p(&[("search", &["a b&c=d+e"])]);
    assert_eq!(param_string(&params), "search=a b&c=d+e");
    assert_eq!(
        query_string(&params, 1, "s"),
        "search=a+b%26c%3Dd%2Be&h_t=1&h_sign=s"
    );
    assert_eq!(parse_query("search=a+b%26c%3Dd%2Be"), params);
}

#[test]
fn blank_means_java_whitespace_only() {
    assert!(is_blank(""));
    assert!(is_blank(" \t\r\n\u{3000}\u{1F}"));
    assert!(!is_blank("\u{00A0}"), "NBSP is not Java whitespace");
    assert!(!is_blank(" {} "));
}

#[test]
fn the_guides_java_example_request_decodes_and_keeps_its_dotted_keys() {
    let payload = json!({
        "staffId": null, "entName": "", "customerName": "鲍哥2024测试1", "customerSource": "",
        "publicSeaId": "", "tag": "未分组", "customizeField.text_13": "测试13",
        "customizeField.bool_5": true, "tagIds": [],
        "contacts": [{
            "thirdDataId": "u1", "name": "联系人1", "position": "职位1", "dept": "部门1",
            "phone": "13909876543", "tel": "", "email": "", "addr": "", "logo": "", "wechat": "",
            "qq": "", "gender": "男", "birthday": "", "customizeField.text_2": "测试2", "remark": "备注"
        }],
        "options": {"checkKeepLimit": true, "autoUnlock": false, "duplicateControl": "CUSTOMER_PHONE_DUPLICATE_FAIL"}
    });
    let req: ImportCustomerRequest = serde_json::from_value(payload).unwrap();
    req.customer.validate("").unwrap();
    assert_eq!(req.customer.staff_id, None);
    assert_eq!(req.customer.upsert_key(), "鲍哥2024测试1");
    assert_eq!(
        req.customer.customize_fields["customizeField.bool_5"],
        json!(true)
    );
    assert_eq!(
        req.customer.contacts[0].customize_fields["customizeField.text_2"],
        json!("测试2")
    );
    assert_eq!(
        req.options.duplicate_control,
        Some(DuplicateControl::CustomerPhoneDuplicateFail)
    );
    let body: Value = serde_json::from_str(&serde_json::to_string(&req.customer).unwrap()).unwrap();
    assert_eq!(body["customizeField.text_13"], json!("测试13"));
    assert_eq!(body["contacts"][0]["customizeField.text_2"], json!("测试2"));
    assert!(body.get("options").is_none(), "options go in the query");
    assert!(
        body.get("customizeField").is_none(),
        "dotted keys are literal, not nested"
    );
}

#[test]
fn tolerant_inputs_staff_id_as_text_and_numeric_ids() {
    let c: Customer = serde_json::from_value(json!({
        "customerName": "x", "staffId": "1001", "tagIds": [12, "a"],
        "contacts": [{"thirdDataId": 42, "phone": 13800000000u64}]
    }))
    .unwrap();
    assert_eq!(c.staff_id, Some(1001));
    assert_eq!(c.tag_ids, Some(vec!["12".into(), "a".into()]));
    assert_eq!(c.contacts[0].third_data_id, "42");
    assert_eq!(c.contacts[0].phone.as_deref(), Some("13800000000"));
    let body = serde_json::to_string(&c).unwrap();
    assert!(
        body.contains(r#""staffId":1001"#),
        "staffId goes out as a number: {body}"
    );
}

#[test]
fn validation_names_the_field() {
    let mut c = Customer::default();
    assert_eq!(c.validate("").unwrap_err().to_string(), "customerName: is required");
    c.customer_name = "字".repeat(201);
    assert_eq!(
        c.validate("").unwrap_err().to_string(),
        "customerName: must be 1–200 characters (got 201)"
    );
    c.customer_name = "ok".into();
    c.contacts = vec![Contact::default()];
    assert_eq!(
        c.validate("").unwrap_err().to_string(),
        "contacts[0].thirdDataId: is required"
    );
    c.contacts[0].third_data_id = "u1".into();
    c.contacts[0].gender = Some("M".into());
    assert!(c
        .validate("")
        .unwrap_err().to_string()
        .starts_with("contacts[0].gender: must be 男, 女 or 未知"));
    c.contacts[0].gender = Some("女".into());
    c.contacts[0].birthday = Some("1990/01/02".into());
    assert!(c
        .validate("")
        .unwrap_err().to_string()
        .contains("birthday: must be a yyyy-MM-dd date"));
    c.contacts[0].birthday = Some("1990-01-02".into());
    c.contacts[0].phone = Some("1".repeat(31));
    assert_eq!(
        c.validate("").unwrap_err().to_string(),
        "contacts[0].phone: must be at most 30 characters (got 31)"
    );
    c.contacts[0].phone = None;
    c.contacts.push(Contact {
        third_data_id: "u1".into(),
        ..Contact::default()
    });
    assert!(c.validate("").unwrap_err().to_string().contains("repeats contacts[0]"));
    c.contacts.pop();
    c.customize_fields
        .insert("custmerName".into(), json!("typo"));
    assert!(c
        .validate("")
        .unwrap_err().to_string()
        .starts_with("custmerName: is not a known field"));
    c.customize_fields.clear();
    c.validate("").unwrap();
}

#[test]
fn batch_caps_and_distinct_names() {
    let one = |name: &str| Customer {
        customer_name: name.into(),
        ..Customer::default()
    };
    let mut req = ImportCustomersRequest::default();
    assert_eq!(req.validate().unwrap_err().to_string(), "customers: must not be empty");
    req.customers = (0..11).map(|i| one(&format!("c{i}"))).collect();
    assert!(req.validate().unwrap_err().to_string().contains("at most 10 per call"));
    req.customers.truncate(10);
    req.validate().unwrap();
    req.customers[1].contacts = (0..11)
        .map(|i| Contact {
            third_data_id: format!("u{i}"),
            ..Contact::default()
        })
        .collect();
    assert!(req
        .validate()
        .unwrap_err().to_string()
        .starts_with("customers[1].contacts: has 11 entries"));
    req.customers[1].contacts.clear();
    req.customers[2].customer_name = "c0".into();
    assert!(req
        .validate()
        .unwrap_err().to_string()
        .starts_with("customers[2].customerName: \"c0\" repeats customers[0]"));
    req.customers[2].customer_name = String::new();
    assert_eq!(
        req.validate().unwrap_err().to_string(),
        "customers[2].customerName: is required"
    );
}

#[test]
fn payload_rejects_unknown_options_and_duplicate_controls() {
    assert!(serde_json::from_value::<ImportCustomerRequest>(
        json!({"customerName": "x", "options": {"autoDraw": true, "bogus": 1}})
    )
    .is_err());
    assert!(serde_json::from_value::<ImportCustomerRequest>(
        json!({"customerName": "x", "options": {"duplicateControl": "NEVER"}})
    )
    .is_err());
}

#[test]
fn options_become_query_params() {
    let o = ImportOptions {
        check_keep_limit: Some(false),
        owner_conflict_update: Some(true),
        auto_unlock: None,
        auto_draw: Some(true),
        duplicate_control: Some(DuplicateControl::System),
    };
    assert_eq!(
        param_string(&o.to_params()),
        "autoDraw=true&checkKeepLimit=false&duplicateControl=SYSTEM&ownerConflictUpdate=true"
    );
    assert!(ImportOptions::default().to_params().is_empty());
}

#[test]
fn single_answer_decodes_bare_wrapped_and_with_string_ids() {
    let bare = json!({"customerId": 1800000000000000001i64, "staffId": 1001, "publicSeaId": "PS1",
        "isNew": true, "contactIdMap": {"u1": 1900000000000000001i64}, "newField": 1});
    let r = decode_import(bare.clone()).unwrap();
    assert_eq!(r.customer_id, 1_800_000_000_000_000_001);
    assert_eq!(r.staff_id, Some(1001));
    assert_eq!(r.is_new, Some(true));
    assert_eq!(r.contact_id_map["u1"], 1_900_000_000_000_000_001);
    assert_eq!(r.extra["newField"], json!(1));
    assert_eq!(decode_import(json!({"data": bare})).unwrap(), r);
    let texty = json!({"customerId": "1800000000000000001", "staffId": null, "publicSeaId": 7,
        "isNew": false, "contactIdMap": {"u1": "1900000000000000001"}});
    let r = decode_import(texty).unwrap();
    assert_eq!(r.customer_id, 1_800_000_000_000_000_001);
    assert_eq!(r.staff_id, None);
    assert_eq!(r.public_sea_id.as_deref(), Some("7"));
    assert_eq!(r.contact_id_map["u1"], 1_900_000_000_000_000_001);
    assert!(decode_import(json!({"isNew": true})).is_err());
}

fn named(names: &[&str]) -> Vec<Customer> {
    names
        .iter()
        .map(|n| Customer {
            customer_name: n.to_string(),
            ..Customer::default()
        })
        .collect()
}

#[test]
fn batch_answer_marks_each_customer_in_request_order() {
    let answer = json!({
        "乙公司": {"success": false, "failedReason": "员工不存在: staffId=9"},
        "甲公司": {"success": true, "customerId": 11, "staffId": 1001, "isNew": true,
                  "contactIdMap": {"u1": 21}, "failedReason": null}
    });
    let r = decode_batch(answer, &named(&["甲公司", "乙公司", "丙公司"])).unwrap();
    assert_eq!((r.succeeded_count, r.failed_count), (1, 2));
    assert!(r.is_partial());
    let names: Vec<_> = r.results.iter().map(|o| o.customer_name.as_str()).collect();
    assert_eq!(names, ["甲公司", "乙公司", "丙公司"]);
    assert!(r.results[0].success);
    assert_eq!(
        r.results[0].contact_id_map,
        BTreeMap::from([("u1".into(), 21)])
    );
    assert_eq!(
        r.results[1].failed_reason.as_deref(),
        Some("员工不存在: staffId=9")
    );
    assert_eq!(
        r.results[2].failed_reason.as_deref(),
        Some("the answer has no entry for this customer")
    );
    let as_json = serde_json::to_value(&r).unwrap();
    assert_eq!(as_json["results"][1]["success"], json!(false));
    assert_eq!(as_json["succeededCount"], json!(1));
}

#[test]
fn batch_answer_unwraps_data_unless_data_is_a_customer() {
    let wrapped = json!({"data": {"甲": {"success": true, "customerId": 1}}});
    let r = decode_batch(wrapped, &named(&["甲"])).unwrap();
    assert!(r.results[0].success);
    let customer_named_data = json!({"data": {"success": true, "customerId": 5}});
    let r = decode_batch(customer_named_data, &named(&["data"])).unwrap();
    assert_eq!(r.results[0].customer_id, Some(5));
    // No `success`: inferred from an id and no reason.
    let r = decode_batch(json!({"甲": {"customerId": 3}}), &named(&["甲"])).unwrap();
    assert!(r.results[0].success);
    assert!(decode_batch(json!([1, 2]), &named(&["甲"])).is_err());
}

#[test]
fn staff_list_decodes_bare_wrapped_and_tolerant() {
    let page = json!([{"staffId": 1001, "realName": "王建国", "mobile": "13810021001",
        "department": "销售一部", "roleId": 2, "role": "销售经理"},
        {"staffId": "1002", "realName": "李娜", "mobile": 13910021002u64, "roleId": "3"}]);
    let staff = decode_staffs(page.clone()).unwrap();
    assert_eq!(staff.len(), 2);
    assert_eq!(staff[1].staff_id, 1002);
    assert_eq!(staff[1].mobile.as_deref(), Some("13910021002"));
    assert_eq!(staff[1].role_id, Some(3));
    assert_eq!(decode_staffs(json!({"data": page})).unwrap(), staff);
    assert!(decode_staffs(Value::Null).unwrap().is_empty());
    assert!(decode_staffs(json!({"rows": []})).is_err());
}

fn raw(status: u16, body: &str) -> RawResponse {
    RawResponse {
        status,
        headers: Default::default(),
        body: body.as_bytes().to_vec().into(),
    }
}

#[test]
fn error_bodies_are_classified_with_the_vendors_code_and_message() {
    let replay = r#"{"trackingId":"12b505a5-ff57-43ac-9571-5a1993a49c9e","errors":[{"code":403,"message":"请求不允许重复执行"}]}"#;
    let e = error_from_response("acct", "import_customer", &raw(403, replay));
    assert_eq!(e.kind, FailureKind::Auth);
    assert!(!e.retryable());
    assert_eq!(e.code.as_deref(), Some("403"));
    assert_eq!(e.message, "请求不允许重复执行");
    assert_eq!(e.status, Some(403));
    assert_eq!(e.account, "acct");
    assert_eq!(e.vendor, Vendor::Xiaolanben);
    let missing = r#"{"errors":[{"code":403,"message":"请求未包含签名信息"}]}"#;
    let e = error_from_response("a", "import_customer", &raw(403, missing));
    assert_eq!(e.kind, FailureKind::Auth);
    // Any other 403 is a signature parameter problem the guide does not spell out: for a client
    // that signs every call afresh, that is an h_t outside the 10 s window — the clock.
    let stale = r#"{"errors":[{"code":403,"message":"请求签名已过期"}]}"#;
    let e = error_from_response("a", "import_customer", &raw(403, stale));
    assert_eq!(e.kind, FailureKind::Clock);
    assert!(e.retryable());
    assert_eq!(e.code.as_deref(), Some("403"));

    let e = error_from_response(
        "a",
        "list_staffs",
        &raw(
            401,
            r#"{"errors":[{"code":401,"message":"请求未经过认证"}]}"#,
        ),
    );
    assert_eq!(
        (e.kind, e.message.as_str()),
        (FailureKind::Auth, "请求未经过认证")
    );
    let e = error_from_response(
        "a",
        "list_staffs",
        &raw(
            400,
            r#"{"errors":[{"code":400,"message":"pageSize 需介于2~100之间"}]}"#,
        ),
    );
    assert_eq!(e.kind, FailureKind::InvalidRequest);
    let e = error_from_response(
        "a",
        "list_staffs",
        &raw(500, r#"{"errors":[{"code":500,"message":"x"}]}"#),
    );
    assert!(e.retryable());
    let e = error_from_response("a", "list_staffs", &raw(502, "<html>bad gateway</html>"));
    assert_eq!(e.kind, FailureKind::ServerError);
    assert_eq!(e.code, None);
    assert!(e.message.contains("bad gateway"));
}

#[test]
fn lead_becomes_a_customer_with_one_contact() {
    let mut lead = Lead::new(Vendor::Tencent, "tx", "6789690485561771524", json!({}));
    lead.name = Some("王秀英".into());
    lead.phone = Some("13812345621".into());
    lead.gender = Gender::Female;
    lead.province = Some("广东省".into());
    lead.city = Some("深圳市".into());
    let c = Customer::from_lead(&lead);
    c.validate("").unwrap();
    assert_eq!(c.customer_name, "王秀英");
    assert_eq!(c.contacts[0].third_data_id, "tencent:6789690485561771524");
    assert_eq!(c.contacts[0].gender.as_deref(), Some("女"));
    assert_eq!(c.contacts[0].addr.as_deref(), Some("广东省深圳市"));
    let anonymous = Lead::new(Vendor::Feiyu, "fy", "7", json!({}));
    assert_eq!(Customer::from_lead(&anonymous).customer_name, "线索 7");
}

#[test]
fn ops_are_registered_with_unique_names() {
    let names: Vec<_> = super::OPS.iter().map(|o| o.name).collect();
    assert_eq!(
        names,
        [
            "import_customer",
            "import_customers",
            "list_staffs",
            "list_all_staffs"
        ]
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn query_round_trip_preserves_the_signature(
        params in proptest::collection::vec(
            ("[a-zA-Z_]{1,6}", proptest::collection::vec("\\PC{0,8}", 0..4)), 0..5),
        body in proptest::option::of("\\PC{0,40}"),
        h_t in 0i64..=9_999_999_999_999,
    ) {
        let sig = h_sign(&params, body.as_deref(), h_t, "k");
        let q = query_string(&params, h_t, &sig);
        let parsed = parse_query(&q);
        prop_assert_eq!(h_sign(&parsed, body.as_deref(), h_t, "k"), sig.clone());
        prop_assert_eq!(sig.len(), 32);
    }

    #[test]
    fn untrusted_queries_and_bodies_never_panic(query in "\\PC{0,200}", body in proptest::collection::vec(any::<u8>(), 0..200)) {
        let parsed = parse_query(&query);
        let _ = h_sign(&parsed, Some(&String::from_utf8_lossy(&body)), 1, "k");
        let _ = decode_error(&body);
        if let Ok(v) = serde_json::from_slice::<Value>(&body) {
            let _ = decode_import(v.clone());
            let _ = decode_staffs(v.clone());
            let _ = decode_batch(v, &named(&["a"]));
        }
        let _ = error_from_response("a", "op", &RawResponse { status: 400, headers: Default::default(), body: body.into() });
    }
}
