//! Tests of the shared vendor plumbing: payload decoding and validation errors, across vendors.

use serde_json::{json, Value};

use super::{
    decode_payload, linkflow, tencent, waiqin, xiaolanben, CallError, FailureKind, Vendor,
};

fn decode_error<T: serde::de::DeserializeOwned + std::fmt::Debug>(
    vendor: Vendor,
    op: &str,
    payload: Value,
) -> CallError {
    decode_payload::<T>(vendor, op, payload).unwrap_err()
}

/// A payload value of the wrong type is refused before sending, and the message names the field
/// and says what was expected, whether the field is read by a tolerant helper (an integer that
/// may come as a string), sits in a struct flattened into the request, or in a list item.
#[test]
fn a_wrong_payload_value_names_its_field_and_what_was_expected() {
    let cases = [
        (
            decode_error::<xiaolanben::model::ImportCustomerRequest>(
                Vendor::Xiaolanben,
                "import_customer",
                json!({"customerName": "甲", "staffId": true}),
            ),
            "invalid payload: staffId: expected an integer or a string of digits, got true",
        ),
        (
            decode_error::<xiaolanben::model::ImportCustomerRequest>(
                Vendor::Xiaolanben,
                "import_customer",
                json!({"customerName": "甲", "contacts": [{"thirdDataId": "u1"}, {"thirdDataId": "u2", "qq": [1]}]}),
            ),
            "invalid payload: contacts[1].qq: invalid type: sequence, expected a string or an integer id",
        ),
        (
            decode_error::<xiaolanben::model::ListStaffsRequest>(
                Vendor::Xiaolanben,
                "list_staffs",
                json!({"pageSize": "x"}),
            ),
            "invalid payload: pageSize: invalid type: string \"x\", expected u32",
        ),
        (
            decode_error::<tencent::model::ListLeadsRequest>(
                Vendor::Tencent,
                "list_leads",
                json!({"start_time": "2026-11-30", "end_time": "2026-11-30", "page": "two"}),
            ),
            "invalid payload: page: expected an integer or a string of digits, got \"two\"",
        ),
        (
            decode_error::<waiqin::model::QuerySalesLeadsRequest>(
                Vendor::Waiqin,
                "query_sales_leads",
                json!({"page": {"n": 1}}),
            ),
            "invalid payload: page: expected an integer or a string of digits, got {\"n\":1}",
        ),
        (
            decode_error::<xiaolanben::model::ImportCustomersRequest>(
                Vendor::Xiaolanben,
                "import_customers",
                json!({"customers": [{"customerName": "甲", "contacts": [{"thirdDataId": false}]}]}),
            ),
            "invalid payload: customers[0].contacts[0].thirdDataId: invalid type: boolean `false`, expected a string or an integer",
        ),
        (
            decode_error::<linkflow::model::MessageBatch>(
                Vendor::Linkflow,
                "send_messages",
                json!({"messages": [{"domain": "contact", "action": "set", "ts": "soon"}]}),
            ),
            "invalid payload: messages[0].ts: expected an integer or a string of digits, got \"soon\"",
        ),
    ];
    for (err, expected) in cases {
        assert_eq!(err.kind, FailureKind::InvalidPayload, "{err}");
        assert_eq!(err.message, expected);
    }
}
