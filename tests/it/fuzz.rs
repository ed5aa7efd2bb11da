//! Property tests over everything that parses untrusted input: push bodies, the `X-Signature`
//! header, the Waiqin push form, and vendor JSON → `Lead`. The property is always "a specific
//! answer, never a panic", plus round trips where a correct input exists.
//!
//! CI runs a short pass; a long run is
//! `LEADRELAY_FUZZ_CASES=200000 cargo test --release --test it fuzz`.

use proptest::prelude::*;
use serde_json::{json, Value};

use leadrelay::connectors::tencent::config::Algorithm;
use leadrelay::connectors::tencent::sign::parse_x_signature;
use leadrelay::connectors::tencent::webhook::{parse_push_body, sign_push, PushVerifier};
use leadrelay::connectors::waiqin::webhook::{encode_follow_push, verify_follow_push, PushMeta};
use leadrelay::connectors::{lead_from_record, Vendor};
use leadrelay::secret::Secret;

fn cases() -> u32 {
    std::env::var("LEADRELAY_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

/// Arbitrary JSON, biased towards the shapes vendors send: objects with known keys holding
/// strings, numbers beyond 2^53, nulls, nesting.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,24}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("leads_id".to_string()),
                    Just("leads_tel".to_string()),
                    Just("clue_id".to_string()),
                    Just("telphone".to_string()),
                    Just("create_time".to_string()),
                    Just("clue_type".to_string()),
                    Just("id".to_string()),
                    Just("code".to_string()),
                    Just("leads_create_time".to_string()),
                    "[a-z_]{1,12}",
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn x_signature_parser_never_panics(header in ".{0,300}") {
        let _ = parse_x_signature(&header);
    }

    #[test]
    fn x_signature_parser_reads_base64_of_arbitrary_parts(parts in prop::collection::vec("[^,]{0,40}", 0..6)) {
        use base64::Engine as _;
        let header = base64::engine::general_purpose::STANDARD.encode(parts.join(","));
        let parsed = parse_x_signature(&header);
        if parts.len() == 3 || parts.len() == 4 {
            // Well-formed part counts parse unless a part is empty or oversized.
            if let Ok(p) = parsed {
                prop_assert_eq!(&p.token, &parts[0]);
            }
        } else {
            prop_assert!(parsed.is_err());
        }
    }

    #[test]
    fn tencent_push_verification_never_panics_and_accepts_only_real_signatures(
        signature in proptest::option::of(".{0,200}"),
        algorithm in proptest::option::of("[A-Za-z0-9-]{0,10}"),
        body in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        let verifier = PushVerifier::new(Secret::new("10001"), Secret::new("s3cret"));
        let now = 1_700_000_000;
        prop_assert!(verifier.verify(signature.as_deref(), algorithm.as_deref(), &body, now).is_err());
        let _ = parse_push_body(&body);
    }

    #[test]
    fn tencent_push_bodies_with_a_valid_signature_parse_or_say_why(body in json_value()) {
        let verifier = PushVerifier::new(Secret::new("10001"), Secret::new("s3cret"));
        let headers = sign_push("10001", "s3cret", 1_700_000_000, Algorithm::Sha256);
        let bytes = serde_json::to_vec(&body).unwrap();
        match verifier.verify(Some(&headers.signature), Some("SHA256"), &bytes, 1_700_000_000) {
            Ok(lead) => prop_assert!(!lead.to_lead("acct").id.is_empty()),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }

    #[test]
    fn waiqin_push_form_never_panics(body in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = verify_follow_push(&body, "PuShSeCrEt0001");
    }

    #[test]
    fn waiqin_push_form_round_trips_any_data(data in ".{0,200}", msg_id in "[0-9]{1,19}", ts in 0i64..4_000_000_000_000) {
        let meta = PushMeta::follow(msg_id.clone(), ts);
        let wire = encode_follow_push(&meta, &data, "PuShSeCrEt0001");
        match verify_follow_push(wire.as_bytes(), "PuShSeCrEt0001") {
            Ok(push) => prop_assert_eq!(&push.meta.msg_id, &msg_id),
            // A valid signature over data that is not a JSON record: malformed, not forged.
            Err(e) => prop_assert_eq!(e.http_status(), 400, "{}", e),
        }
        prop_assert_eq!(verify_follow_push(wire.as_bytes(), "wrong-secret").unwrap_err().http_status(), 401);
    }

    #[test]
    fn vendor_json_to_lead_never_panics(record in json_value(), vendor in prop_oneof![Just(Vendor::Tencent), Just(Vendor::Feiyu), Just(Vendor::Waiqin)]) {
        match lead_from_record(vendor, "acct", record) {
            Ok(lead) => {
                prop_assert_eq!(lead.vendor, vendor);
                prop_assert!(lead.to_json().contains_key("raw"));
            }
            Err(reason) => prop_assert!(reason.starts_with("not a "), "{}", reason),
        }
    }
}
