//! Unit tests: every §3.5 vector byte-exact, the X-Signature parser, push verification (§6.1),
//! model decoding of the spec's example shapes (tolerant cases included), request validation,
//! and the `Lead` conversion.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::client::kind_for_code;
use super::config::Algorithm;
use super::model::*;
use super::sign::*;
use super::webhook::*;
use crate::connectors::FailureKind;
use crate::lead::{Gender, LeadKind};
use crate::secret::Secret;

const TOKEN: &str = "1234567890";
const TS: i64 = 1_700_000_000;
const NONCE: &str = "abcdef0123456789abcdef0123456789";
const SECRET: &str = "0123456789abcdef0123456789abcdef";

const T1_SIGN: &str = "45f8ce7ea81a17b94817d4d4bb3d016de5c6e8c3";
const T1: &str = "MTIzNDU2Nzg5MCwxNzAwMDAwMDAwLGFiY2RlZjAxMjM0NTY3ODlhYmNkZWYwMTIzNDU2Nzg5LDQ1ZjhjZTdlYTgxYTE3Yjk0ODE3ZDRkNGJiM2QwMTZkZTVjNmU4YzM=";
const T2_SIGN: &str = "585bffc53ee84bed36204848011a62fa9d61c30df318813aa2376f6a2adbf17b";
const T2: &str = "MTIzNDU2Nzg5MCwxNzAwMDAwMDAwLGFiY2RlZjAxMjM0NTY3ODlhYmNkZWYwMTIzNDU2Nzg5LDU4NWJmZmM1M2VlODRiZWQzNjIwNDg0ODAxMWE2MmZhOWQ2MWMzMGRmMzE4ODEzYWEyMzc2ZjZhMmFkYmYxN2I=";
const T3: &str =
    "MTIzNDU2Nzg5MCwxNzAwMDAwMDAwLDQ1ZjhjZTdlYTgxYTE3Yjk0ODE3ZDRkNGJiM2QwMTZkZTVjNmU4YzM=";
const T4: &str = "MTIzNDU2Nzg5MCwxNzAwMDAwMDAwLDU4NWJmZmM1M2VlODRiZWQzNjIwNDg0ODAxMWE2MmZhOWQ2MWMzMGRmMzE4ODEzYWEyMzc2ZjZhMmFkYmYxN2I=";

fn b64_text(s: &str) -> String {
    use base64::Engine;
    String::from_utf8(base64::engine::general_purpose::STANDARD.decode(s).unwrap()).unwrap()
}

// ----------------------------------------------------------------------------- vectors

#[test]
fn t1_pull_sha1_byte_exact() {
    assert_eq!(
        digest(TOKEN, "1700000000", SECRET, Algorithm::Sha1),
        T1_SIGN
    );
    let sig = x_signature(TOKEN, SECRET, TS, NONCE, Algorithm::Sha1);
    assert_eq!(b64_text(&sig), format!("{TOKEN},{TS},{NONCE},{T1_SIGN}"));
    assert_eq!(sig, T1);
}

#[test]
fn t2_pull_sha256_byte_exact() {
    assert_eq!(
        digest(TOKEN, "1700000000", SECRET, Algorithm::Sha256),
        T2_SIGN
    );
    let sig = x_signature(TOKEN, SECRET, TS, NONCE, Algorithm::Sha256);
    assert_eq!(b64_text(&sig), format!("{TOKEN},{TS},{NONCE},{T2_SIGN}"));
    assert_eq!(sig, T2);
}

#[test]
fn t3_push_sha1_byte_exact() {
    let sig = push_x_signature(TOKEN, SECRET, TS, Algorithm::Sha1);
    assert_eq!(b64_text(&sig), format!("{TOKEN},{TS},{T1_SIGN}"));
    assert_eq!(sig, T3);
    assert_eq!(sign_push(TOKEN, SECRET, TS, Algorithm::Sha1).signature, T3);
}

#[test]
fn t4_push_sha256_byte_exact() {
    let sig = push_x_signature(TOKEN, SECRET, TS, Algorithm::Sha256);
    assert_eq!(b64_text(&sig), format!("{TOKEN},{TS},{T2_SIGN}"));
    assert_eq!(sig, T4);
    let h = sign_push(TOKEN, SECRET, TS, Algorithm::Sha256);
    assert_eq!(
        h.pairs(),
        [
            ("X-Signature", T4.to_string()),
            ("X-Signature-Algorithm", "SHA256".to_string())
        ]
    );
}

// ----------------------------------------------------------------------------- parser

#[test]
fn parses_four_and_three_part_vectors() {
    let p = parse_x_signature(T1).unwrap();
    assert_eq!(
        p,
        ParsedSignature {
            token: TOKEN.into(),
            ts: "1700000000".into(),
            nonce: Some(NONCE.into()),
            digest: T1_SIGN.into()
        }
    );
    let p = parse_x_signature(T4).unwrap();
    assert_eq!(p.nonce, None);
    assert_eq!(p.digest, T2_SIGN);
}

#[test]
fn parser_tolerates_missing_padding_and_white_space() {
    let unpadded = T3.trim_end_matches('=');
    assert_ne!(unpadded, T3);
    assert_eq!(
        parse_x_signature(unpadded).unwrap(),
        parse_x_signature(T3).unwrap()
    );
    assert_eq!(
        parse_x_signature(&format!("  {T3}\t")).unwrap().digest,
        T1_SIGN
    );
}

#[test]
fn parser_names_each_format_problem() {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    assert_eq!(parse_x_signature(""), Err(SignatureFormatError::Empty));
    assert_eq!(
        parse_x_signature("not base64!"),
        Err(SignatureFormatError::NotBase64)
    );
    assert_eq!(
        parse_x_signature(&b64("a,b")),
        Err(SignatureFormatError::PartCount(2))
    );
    assert_eq!(
        parse_x_signature(&b64("a,b,c,d,e")),
        Err(SignatureFormatError::PartCount(5))
    );
    let not_utf8 = base64::engine::general_purpose::STANDARD.encode([0xff, 0xfe, b',']);
    assert_eq!(
        parse_x_signature(&not_utf8),
        Err(SignatureFormatError::NotUtf8)
    );
    assert!(matches!(
        parse_x_signature(&"A".repeat(MAX_SIGNATURE_LEN + 1)),
        Err(SignatureFormatError::TooLong(_))
    ));
}

#[test]
fn timestamps_must_be_ten_digits() {
    assert_eq!(parse_ts("1700000000"), Some(TS));
    assert_eq!(parse_ts("170000000"), None);
    assert_eq!(parse_ts("+700000000"), None);
    assert_eq!(parse_ts("17000000000"), None);
}

#[test]
fn algorithm_names_and_lengths() {
    assert_eq!(Algorithm::parse("SHA256"), Some(Algorithm::Sha256));
    assert_eq!(Algorithm::parse("sha-1"), Some(Algorithm::Sha1));
    assert_eq!(Algorithm::parse("MD5"), None);
    assert_eq!(Algorithm::from_digest_len(40), Some(Algorithm::Sha1));
    assert_eq!(Algorithm::from_digest_len(64), Some(Algorithm::Sha256));
    assert_eq!(Algorithm::from_digest_len(32), None);
}

// ----------------------------------------------------------------------------- push verification

fn verifier() -> PushVerifier {
    PushVerifier::new(Secret::new(TOKEN), Secret::new(SECRET))
}

const PUSH_BODY: &str = r#"{"leads_id":9007199254740993,"leads_type":"LEADS_TYPE_FORM","leads_name":"张三","leads_tel":"13800138000","leads_create_time":"2023-11-15 06:13:20"}"#;

#[test]
fn push_vectors_t3_and_t4_are_accepted() {
    let v = verifier();
    for (sig, alg) in [
        (T3, Some("SHA1")),
        (T3, None),
        (T4, Some("SHA256")),
        (T4, None),
    ] {
        let ok = v.verify_signature(Some(sig), alg, TS).unwrap();
        assert_eq!(ok.ts, TS);
        let lead = v
            .verify(Some(sig), alg, PUSH_BODY.as_bytes(), TS + 299)
            .unwrap();
        assert_eq!(lead.leads_id, "9007199254740993");
    }
    // Inferred from the digest length when the header is absent.
    assert_eq!(
        v.verify_signature(Some(T4), None, TS).unwrap().algorithm,
        Algorithm::Sha256
    );
}

#[test]
fn four_part_push_is_accepted_defensively_and_uppercase_digest_too() {
    let v = verifier();
    let ok = v.verify_signature(Some(T2), Some("SHA256"), TS).unwrap();
    assert_eq!(ok.nonce.as_deref(), Some(NONCE));
    use base64::Engine;
    let upper = base64::engine::general_purpose::STANDARD
        .encode(format!("{TOKEN},{TS},{}", T1_SIGN.to_uppercase()));
    assert!(v.verify_signature(Some(&upper), None, TS).is_ok());
}

#[test]
fn push_rejections_have_specific_reasons() {
    let v = verifier();
    let unauthorized = |r: Result<_, PushError>| match r {
        Err(PushError::Unauthorized(reason)) => reason,
        other => panic!("expected Unauthorized, got {other:?}"),
    };
    let body = PUSH_BODY.as_bytes();
    assert_eq!(
        unauthorized(v.verify(None, None, body, TS)),
        AuthFailure::MissingSignature
    );
    assert_eq!(
        unauthorized(v.verify(Some("%%%"), None, body, TS)),
        AuthFailure::Format(SignatureFormatError::NotBase64)
    );
    let other_token = sign_push("999", SECRET, TS, Algorithm::Sha1).signature;
    assert_eq!(
        unauthorized(v.verify(Some(&other_token), None, body, TS)),
        AuthFailure::TokenMismatch
    );
    let forged = sign_push(TOKEN, "wrong-secret", TS, Algorithm::Sha1).signature;
    assert_eq!(
        unauthorized(v.verify(Some(&forged), None, body, TS)),
        AuthFailure::DigestMismatch(Algorithm::Sha1)
    );
    assert_eq!(
        unauthorized(v.verify(Some(T3), None, body, TS + 301)),
        AuthFailure::Stale {
            skew_secs: -301,
            max_secs: 300
        }
    );
    assert_eq!(
        unauthorized(v.verify(Some(T3), Some("SHA256"), body, TS)),
        AuthFailure::DigestMismatch(Algorithm::Sha256)
    );
    assert_eq!(
        unauthorized(v.verify(Some(T3), Some("MD5"), body, TS)),
        AuthFailure::UnknownAlgorithm("MD5".into())
    );
    use base64::Engine;
    let short_ts =
        base64::engine::general_purpose::STANDARD.encode(format!("{TOKEN},170000000,{T1_SIGN}"));
    assert_eq!(
        unauthorized(v.verify(Some(&short_ts), None, body, TS)),
        AuthFailure::BadTimestamp
    );
    // A bad signature wins over a bad body: nothing unauthenticated is quarantined.
    assert!(matches!(
        v.verify(Some(&forged), None, b"garbage", TS),
        Err(PushError::Unauthorized(_))
    ));
}

#[test]
fn skew_window_is_configurable() {
    let v = verifier().with_max_skew(Some(10));
    assert!(v.verify_signature(Some(T3), None, TS + 10).is_ok());
    assert!(v.verify_signature(Some(T3), None, TS + 11).is_err());
    let v = verifier().with_max_skew(None);
    assert!(v.verify_signature(Some(T3), None, TS + 86_400).is_ok());
}

#[test]
fn valid_signature_with_unparsable_body_is_malformed() {
    let v = verifier();
    for (body, needle) in [
        (&b""[..], "empty body"),
        (b"{not json", "not JSON"),
        (b"[{\"leads_id\":1}]", "one lead object"),
        (b"{\"leads_name\":\"x\"}", "leads_id"),
        (b"{\"leads_id\":{}}", "not a lead"),
    ] {
        match v.verify(Some(T3), None, body, TS) {
            Err(e @ PushError::Malformed(_)) => {
                assert!(e.to_string().contains(needle), "{e} lacks {needle}");
                assert_eq!(e.http_status(), 400);
            }
            other => panic!("expected Malformed for {body:?}, got {other:?}"),
        }
    }
}

#[test]
fn ack_and_rejection_bodies() {
    let ack: Value = serde_json::from_str(PUSH_ACK).unwrap();
    assert_eq!(ack, json!({"code":0,"message":"success","data":[{}]}));
    let e = PushError::Unauthorized(AuthFailure::TokenMismatch);
    assert_eq!(e.http_status(), 401);
    let body: Value = serde_json::from_str(&e.response_body()).unwrap();
    assert_eq!(body["code"], 2001);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn verifier_never_panics(
        sig in proptest::option::of(".{0,200}"),
        alg in proptest::option::of(".{0,12}"),
        body in proptest::collection::vec(any::<u8>(), 0..256),
        now in any::<i64>(),
    ) {
        let v = verifier();
        let _ = v.verify(sig.as_deref(), alg.as_deref(), &body, now);
        let _ = v.verify(Some(T3), alg.as_deref(), &body, TS);
    }

    #[test]
    fn parser_never_panics_on_base64_of_anything(raw in ".{0,120}", text in "[A-Za-z0-9+/=]{0,160}") {
        use base64::Engine;
        let _ = parse_x_signature(&base64::engine::general_purpose::STANDARD.encode(&raw));
        let _ = parse_x_signature(&text);
    }

    #[test]
    fn any_signed_push_verifies(token in "[0-9]{1,12}", secret in "[ -~]{1,40}", ts in 1_000_000_000i64..9_999_999_999, sha256 in any::<bool>()) {
        let alg = if sha256 { Algorithm::Sha256 } else { Algorithm::Sha1 };
        let h = sign_push(&token, &secret, ts, alg);
        let v = PushVerifier::new(Secret::new(token.as_str()), Secret::new(secret.as_str()));
        prop_assert!(v.verify_signature(Some(&h.signature), Some(h.algorithm.as_str()), ts).is_ok());
        prop_assert!(v.verify_signature(Some(&h.signature), None, ts).is_ok());
    }
}

// ----------------------------------------------------------------------------- models

/// The list example of the seed (§2.2.2), with the OCR damage repaired and the spec's tolerant
/// cases added: a `leads_id` beyond 2^53 as a number, `leads_`-prefixed spellings, numbers where
/// the table says string, an unknown enum value and an unknown field.
fn list_example() -> Value {
    serde_json::from_str(
        r#"{
        "code": 0,
        "message": "",
        "data": {
            "page_info": {"page": 1, "page_size": 10, "total_number": 2, "total_page": 1},
            "list": [
                {
                    "account_id": 25610,
                    "leads_id": 9007199254740993,
                    "click_id": "xvssdrewrrer3",
                    "account_type": "ACCOUNT_TYPE_GDT",
                    "wechat_appid": "",
                    "agency_id": "",
                    "advertiser_id": "",
                    "claim_advertiser_id": 25610,
                    "campaign_id": 0,
                    "page_id": "",
                    "page_tools": "",
                    "ad_id": "0",
                    "dynamic_creative_id": 0,
                    "leads_type": "LEADS_TYPE_FORM",
                    "leads_sub_type": "INTELLIGENT_TOOL__LEAVE_INFORMATION",
                    "chat_id": "1819401570",
                    "leads_tags": "高意向;已加微信;待回访",
                    "leads_name": "王秀英",
                    "leads_tel": "15111488120",
                    "tel_location": "广东 深圳",
                    "leads_area": "广东省深圳市南山区",
                    "leads_email": "34354345@qq.com",
                    "leads_qq": "34354345",
                    "leads_wechat": "cvxsfs",
                    "leads_gender": "GENDER_TYPE_MALE",
                    "leads_nationality": "中国",
                    "leads_working_years": "1年",
                    "leads_age": "21岁",
                    "leads_profession": "工程师",
                    "leads_id_number": "210111199912110901",
                    "leads_address": "科技园路1号",
                    "bundle": {"意向": "试听"},
                    "leads_potential_score": 5,
                    "leads_follow_tag": "LEADS_FOLLOW_TAG_VALID",
                    "leads_source": "SOME_NEW_SOURCE",
                    "leads_create_time": "2019-05-31 10:11:12",
                    "leads_action_time": "2019-05-31 10:10:00",
                    "brand_new_field": {"x": 1}
                },
                {
                    "leads_id": "310498",
                    "leads_type": "LEADS_TYPE_BRAND_NEW",
                    "age": "30",
                    "leads_gender": "GENDER_TYPE_FEMALE",
                    "tel_location": "北京",
                    "leads_create_time": "2019-05-30 09:00:00"
                }
            ]
        }
    }"#,
    )
    .unwrap()
}

#[test]
fn list_example_decodes_tolerantly() {
    let envelope: Envelope = serde_json::from_value(list_example()).unwrap();
    assert_eq!(envelope.code, 0);
    let page: ListLeadsPage = serde_json::from_value(envelope.data).unwrap();
    assert_eq!(
        page.page_info,
        PageInfo {
            page: 1,
            page_size: 10,
            total_number: 2,
            total_page: 1
        }
    );
    let a = &page.list[0];
    assert_eq!(a.leads_id, "9007199254740993");
    assert_eq!(a.account_id.as_deref(), Some("25610"));
    assert_eq!(a.campaign_id.as_deref(), Some("0"));
    assert_eq!(a.age.as_deref(), Some("21岁"));
    assert_eq!(a.working_years.as_deref(), Some("1年"));
    assert_eq!(a.nationality.as_deref(), Some("中国"));
    assert_eq!(a.profession.as_deref(), Some("工程师"));
    assert_eq!(a.id_number.as_deref(), Some("210111199912110901"));
    assert_eq!(a.address.as_deref(), Some("科技园路1号"));
    assert_eq!(a.leads_source.as_deref(), Some("SOME_NEW_SOURCE"));
    assert_eq!(a.leads_potential_score.as_deref(), Some("5"));
    assert_eq!(a.bundle.as_deref(), Some(r#"{"意向":"试听"}"#));
    assert_eq!(a.extra.get("brand_new_field"), Some(&json!({"x": 1})));
    assert_eq!(a.raw["leads_id"], json!(9007199254740993u64));
    let b = &page.list[1];
    assert_eq!(b.leads_id, "310498");
    assert_eq!(b.leads_type.as_deref(), Some("LEADS_TYPE_BRAND_NEW"));
    assert_eq!(b.age.as_deref(), Some("30"));
}

#[test]
fn both_spellings_of_an_aliased_field_do_not_break_decoding() {
    let lead =
        TencentLead::from_value(json!({"leads_id": 1, "age": "30", "leads_age": "31"})).unwrap();
    assert_eq!(lead.age.as_deref(), Some("30"));
    assert_eq!(lead.extra.get("leads_age"), Some(&json!("31")));
    assert_eq!(lead.raw["leads_age"], json!("31"));
}

#[test]
fn lead_serializes_with_canonical_names_and_extra() {
    let lead = TencentLead::from_value(
        json!({"leads_id": 12345678901234567890u64, "leads_age": 7, "zz": true}),
    )
    .unwrap();
    let out = serde_json::to_value(&lead).unwrap();
    assert_eq!(
        out,
        json!({"leads_id": "12345678901234567890", "age": "7", "zz": true})
    );
}

#[test]
fn to_lead_normalizes_fields_and_keeps_raw() {
    let envelope: Envelope = serde_json::from_value(list_example()).unwrap();
    let page: ListLeadsPage = serde_json::from_value(envelope.data).unwrap();
    let lead = page.list[0].to_lead("tx_main");
    assert_eq!(lead.vendor, crate::connectors::Vendor::Tencent);
    assert_eq!(lead.account, "tx_main");
    assert_eq!(lead.id, "9007199254740993");
    assert_eq!(lead.kind, LeadKind::Form);
    assert_eq!(lead.gender, Gender::Male);
    assert_eq!(lead.name.as_deref(), Some("王秀英"));
    assert_eq!(lead.phone.as_deref(), Some("15111488120"));
    assert_eq!(lead.email.as_deref(), Some("34354345@qq.com"));
    assert_eq!(lead.qq.as_deref(), Some("34354345"));
    assert_eq!(lead.wechat.as_deref(), Some("cvxsfs"));
    assert_eq!(lead.address.as_deref(), Some("科技园路1号"));
    assert_eq!(lead.province.as_deref(), Some("广东省"));
    assert_eq!(lead.city.as_deref(), Some("深圳市"));
    assert_eq!(lead.source.as_deref(), Some("SOME_NEW_SOURCE"));
    assert_eq!(
        lead.created_at.unwrap().to_rfc3339(),
        "2019-05-31T10:11:12+08:00"
    );
    let original = &list_example()["data"]["list"][0];
    assert_eq!(&lead.raw, original);

    let other = page.list[1].to_lead("tx_main");
    assert_eq!(other.kind, LeadKind::Other);
    assert_eq!(other.gender, Gender::Female);
    assert_eq!(other.province.as_deref(), Some("北京市"));
    assert_eq!(other.city.as_deref(), Some("北京市"));
    assert_eq!(other.wechat, None);
}

#[test]
fn areas_are_split_and_named_in_full() {
    let s = |t: &str| split_area(t);
    let both = |p: &str, c: &str| (Some(p.to_string()), Some(c.to_string()));
    assert_eq!(s("广东省深圳市南山区"), both("广东省", "深圳市"));
    assert_eq!(s("广东 深圳"), both("广东省", "深圳市"));
    assert_eq!(s("广东深圳"), both("广东省", "深圳市"));
    assert_eq!(s("上海市浦东新区"), both("上海市", "上海市"));
    assert_eq!(s("重庆"), both("重庆市", "重庆市"));
    assert_eq!(s("北京 朝阳"), both("北京市", "北京市"));
    assert_eq!(s("广西壮族自治区南宁市"), both("广西壮族自治区", "南宁市"));
    assert_eq!(s("江苏省"), (Some("江苏省".into()), None));
    assert_eq!(s("海外"), (Some("海外".into()), None));
    assert_eq!(s("  "), (None, None));
}

#[test]
fn every_enum_list_is_nonempty_and_keeps_the_unkown_spelling() {
    assert!(super::enums::ALL
        .iter()
        .all(|(_, values)| !values.is_empty()));
    assert!(super::enums::LEADS_INEFFECT_REASON.contains(&"LEADS_INEFFECT_REASON_UNKOWN"));
    assert_eq!(super::enums::LEADS_TYPE.len(), 12);
    for t in super::enums::LEADS_TYPE {
        // Every documented type maps to a real kind except none.
        assert_ne!(LeadKind::from_tencent(t), LeadKind::Other, "{t}");
    }
}

// ----------------------------------------------------------------------------- requests

#[test]
fn report_sends_leads_id_as_a_number_and_camel_case_outer_fields() {
    let req: ReportRequest = serde_json::from_value(json!({"list": [
        {"leads_id": "9007199254740993", "leads_convert_type": "LEADS_CONVERT_STATUS_DEPRECATED",
         "leads_ineffect_reason": "LEADS_INEFFECT_REASON_UNKOWN"},
        {"leads_id": 456, "outer_leads_convert_type": "已到店", "outerLeadsIneffectReason": "无"},
        {"leads_id": "abc", "leads_intention_score": "LEADS_INTENTION_SCORE_LEVEL_3"}
    ]}))
    .unwrap();
    req.validate().unwrap();
    let body = serde_json::to_string(&req).unwrap();
    assert_eq!(
        body,
        r#"{"list":[{"leads_id":9007199254740993,"leads_convert_type":"LEADS_CONVERT_STATUS_DEPRECATED","leads_ineffect_reason":"LEADS_INEFFECT_REASON_UNKOWN"},{"leads_id":456,"outerLeadsConvertType":"已到店","outerLeadsIneffectReason":"无"},{"leads_id":"abc","leads_intention_score":"LEADS_INTENTION_SCORE_LEVEL_3"}]}"#
    );
}

#[test]
fn report_validation_names_the_field() {
    let item = |v: Value| serde_json::from_value::<ReportItem>(v).unwrap();
    let err = |list: Vec<ReportItem>| ReportRequest { list }.validate().unwrap_err();
    assert_eq!(err(vec![]).field, "list");
    let ok = item(json!({"leads_id": 1, "leads_intention_score": "LEADS_INTENTION_SCORE_LEVEL_1"}));
    assert_eq!(err(vec![ok.clone(); 51]).field, "list");
    assert!(ReportRequest {
        list: vec![ok.clone(); 50]
    }
    .validate()
    .is_ok());
    let e = err(vec![ok.clone(), item(json!({"leads_id": 2}))]);
    assert_eq!(e.field, "list[1].leads_convert_type");
    let e = err(vec![item(
        json!({"leads_id": 3, "leads_convert_type": "LEADS_CONVERT_STATUS_DEPRECATED"}),
    )]);
    assert_eq!(e.field, "list[0].leads_ineffect_reason");
    assert!(e.to_string().contains("LEADS_CONVERT_STATUS_DEPRECATED"));
    let e = err(vec![item(
        json!({"leads_id": "", "leads_convert_type": "LEADS_CONVERT_STATUS_TRANS_COMPLETED"}),
    )]);
    assert_eq!(e.field, "list[0].leads_id");
    // Typos are caught at decoding.
    assert!(serde_json::from_value::<ReportItem>(
        json!({"leads_id": 1, "leads_convert_status": "x"})
    )
    .is_err());
}

#[test]
fn list_request_defaults_validation_and_query() {
    let req: ListLeadsRequest =
        serde_json::from_value(json!({"start_time": "2019-05-01", "end_time": 1559318399}))
            .unwrap();
    assert_eq!((req.page, req.page_size, req.time_type), (1, 10, None));
    assert_eq!(req.end_time, "1559318399");
    assert_eq!(
        req.query(),
        "start_time=2019-05-01&end_time=1559318399&page=1&page_size=10"
    );
    let mut deep = req.clone();
    deep.search_after_leads_id = Some("310498".into());
    deep.time_type = Some(1);
    assert_eq!(
        deep.query(),
        "start_time=2019-05-01&end_time=1559318399&time_type=1&page=1&page_size=10&search_after_leads_id=310498"
    );
    let mut big = req.clone();
    big.page_size = 201;
    assert_eq!(big.validate().unwrap_err().field, "page_size");
    let mut bad = req.clone();
    bad.time_type = Some(2);
    assert_eq!(bad.validate().unwrap_err().field, "time_type");
    let mut bad = req.clone();
    bad.page = 0;
    assert_eq!(bad.validate().unwrap_err().field, "page");
    assert!(serde_json::from_value::<ListLeadsRequest>(json!({"start_time": "x"})).is_err());
}

#[test]
fn list_window_helper_writes_dates_or_seconds() {
    let start = crate::clock::parse_beijing("2019-05-01 00:30:00").unwrap();
    let end = crate::clock::parse_beijing("2019-05-31 23:00:00").unwrap();
    let d = ListLeadsRequest::window(start, end, TimeFormat::Date);
    assert_eq!(
        (d.start_time.as_str(), d.end_time.as_str()),
        ("2019-05-01", "2019-05-31")
    );
    assert_eq!(d.page_size, 200);
    let u = ListLeadsRequest::window(start, end, TimeFormat::UnixSeconds);
    assert_eq!(u.start_time, start.timestamp().to_string());
}

#[test]
fn status_system_and_personal_wechat_validation() {
    let s: SetLeadsStatusSystemRequest =
        serde_json::from_value(json!({"account_id": "25610", "leads_status_system_option": 2}))
            .unwrap();
    s.validate().unwrap();
    assert_eq!(
        serde_json::to_value(&s).unwrap(),
        json!({"account_id": 25610, "leads_status_system_option": 2})
    );
    let bad = SetLeadsStatusSystemRequest {
        account_id: 25610,
        leads_status_system_option: 3,
    };
    assert_eq!(
        bad.validate().unwrap_err().field,
        "leads_status_system_option"
    );

    let full = json!({
        "uuid": "20458_wx81179f1f5da_o_Tba5fDhhugb0UldX02HfycAfw4", "account_id": 20458,
        "app_id": "wx81179f1f5da", "open_id": "o_Tba5fDhhugb0UldX02HfycAfw4",
        "avatar_url": "https://example.com/a.png", "nickname": "小王", "click_id": "c1",
        "action_time": "2022-08-09 10:00:00"
    });
    let w: ReportPersonalWechatRequest = serde_json::from_value(full.clone()).unwrap();
    w.validate().unwrap();
    for key in [
        "uuid",
        "account_id",
        "app_id",
        "open_id",
        "avatar_url",
        "nickname",
        "click_id",
        "action_time",
    ] {
        let mut v = full.clone();
        v.as_object_mut().unwrap().remove(key);
        let w: ReportPersonalWechatRequest = serde_json::from_value(v).unwrap();
        assert_eq!(w.validate().unwrap_err().field, key);
    }
    let mut v = full.clone();
    v["action_time"] = json!("2022/08/09");
    let w: ReportPersonalWechatRequest = serde_json::from_value(v).unwrap();
    assert_eq!(w.validate().unwrap_err().field, "action_time");
}

#[test]
fn code_ranges_classify_failures() {
    assert_eq!(kind_for_code(1100, "内部错误"), FailureKind::VendorBusy);
    assert_eq!(kind_for_code(1199, ""), FailureKind::VendorBusy);
    assert_eq!(kind_for_code(2000, "invalid signature"), FailureKind::Auth);
    assert_eq!(kind_for_code(2099, "no permission"), FailureKind::Auth);
    // The permission range also covers the clock ("check token, secret, clock and algorithm").
    assert_eq!(
        kind_for_code(
            2000,
            "timestamp expired: 1700000000 is -600 s from server time"
        ),
        FailureKind::Clock
    );
    assert_eq!(kind_for_code(2050, "时间戳已过期"), FailureKind::Clock);
    assert_eq!(
        kind_for_code(2100, "missing parameter"),
        FailureKind::InvalidRequest
    );
    assert_eq!(kind_for_code(2199, ""), FailureKind::InvalidRequest);
    // A timestamp word outside the permission range is not a clock problem.
    assert_eq!(
        kind_for_code(2101, "invalid time_type"),
        FailureKind::InvalidRequest
    );
    assert_eq!(kind_for_code(10000, "timestamp"), FailureKind::Business);
    assert_eq!(kind_for_code(-1, ""), FailureKind::Business);
}

#[test]
fn ops_are_listed_with_endpoints() {
    let names: Vec<_> = super::OPS.iter().map(|o| o.name).collect();
    assert_eq!(
        names,
        [
            "list_leads",
            "report",
            "set_leads_status_system",
            "report_personal_wechat"
        ]
    );
}
