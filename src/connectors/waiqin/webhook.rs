//! Inbound `salesLeads_follow` pushes (spec §2.6, §6.2): 勤策 POSTs a follow record to our URL as
//! `application/x-www-form-urlencoded`, signed `md5(data|pushsecret|timestamp)`.
//!
//! [`verify_follow_push`] percent-decodes the raw body itself, so `data` is hashed as the exact
//! bytes received (a lossy UTF-8 decode before hashing could turn a bad signature into a good one
//! or the reverse). It enforces NO freshness window: 勤策 retries failed pushes daily for ten days
//! with the original timestamp, so an old timestamp is normal; de-duplicate on
//! [`PushMeta::msg_id`] / [`PushMeta::data_id`] instead. The two failure classes are distinct on
//! purpose: a bad signature is [`PushError::Unauthorized`] (answer 401, store nothing), a good
//! signature over something we cannot read is [`PushError::Malformed`] (answer 400, quarantine).
//! A JSON push body (W-g's "defensively") is not accepted: nothing documents how it is signed.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;

use super::model::opt_text;
use super::sign;
use crate::connectors::wire;
use crate::connectors::source::{PushHead, PushReceiver, PushRefusal, Pushed, PushedFollow, VerifiedPush};
use crate::secret::Secret;

/// The `dataType` of a follow-record push.
pub const FOLLOW_DATA_TYPE: &str = "salesLeads_follow";

/// Why a push was refused before its signature was proven: answer 401 and store nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnauthorizedReason {
    /// A signed field (`data`, `timestamp`, `digest`) is absent.
    #[error("form field `{0}` is missing")]
    MissingField(&'static str),
    /// A signed field appears twice, so which one was signed is ambiguous.
    #[error("form field `{0}` appears more than once")]
    DuplicateField(&'static str),
    /// `timestamp` is not UTF-8 text.
    #[error("form field `timestamp` is not text")]
    BadTimestamp,
    /// No push secret is configured; an empty secret would let anyone sign.
    #[error("no pushsecret is configured")]
    NoSecret,
    /// The digest does not match `md5(data|pushsecret|timestamp)`.
    #[error("digest does not match md5(data|pushsecret|timestamp)")]
    DigestMismatch,
}

/// Why a correctly signed push could not be read: answer 400 and quarantine the body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MalformedReason {
    /// `msgId` is absent or empty, so the push can neither be de-duplicated nor acknowledged.
    #[error("form field `msgId` is missing")]
    MissingMsgId,
    /// `dataType` is absent or not `salesLeads_follow`.
    #[error("dataType is {0:?}, expected \"salesLeads_follow\"")]
    UnexpectedDataType(String),
    /// `data` is not UTF-8.
    #[error("data is not UTF-8 text")]
    DataNotUtf8,
    /// `data` is not JSON, or not a follow record.
    #[error("data is not a follow record: {0}")]
    BadData(String),
}

/// A refused push.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// The signature could not be checked or did not match.
    #[error("unauthorized waiqin push: {0}")]
    Unauthorized(UnauthorizedReason),
    /// The signature matched but the content is unusable.
    #[error("malformed waiqin push: {0}")]
    Malformed(MalformedReason),
}

impl PushError {
    /// The HTTP status to answer with: 401 for `Unauthorized`, 400 for `Malformed`.
    pub fn http_status(&self) -> u16 {
        match self {
            PushError::Unauthorized(_) => 401,
            PushError::Malformed(_) => 400,
        }
    }
}

/// The form fields of a push besides `data` and `digest`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushMeta {
    /// `msgId`: the de-duplication key; retries resend the same one.
    pub msg_id: String,
    /// `dataId`.
    pub data_id: Option<String>,
    /// `dataVersion`, e.g. `001`.
    pub data_version: Option<String>,
    /// `dataFormat`, `json`.
    pub data_format: Option<String>,
    /// `dataSource`: `biz` or `api`.
    pub data_source: Option<String>,
    /// `tenantId`.
    pub tenant_id: Option<String>,
    /// `status`: `0` first delivery, `2` retry after a failure.
    pub status: Option<String>,
    /// `statusTime`: last failure, `yyyy-MM-dd HH:mm:ss`.
    pub status_time: Option<String>,
    /// `dataType`, `salesLeads_follow`.
    pub data_type: String,
    /// `timestamp`: 13-digit epoch milliseconds, kept as the signed text.
    pub timestamp: String,
}

impl PushMeta {
    /// A first-delivery follow push with only the required fields.
    pub fn follow(msg_id: impl Into<String>, timestamp_ms: i64) -> Self {
        Self {
            msg_id: msg_id.into(),
            data_type: FOLLOW_DATA_TYPE.to_string(),
            timestamp: timestamp_ms.to_string(),
            ..Self::default()
        }
    }

    /// True for a redelivery (`status=2`).
    pub fn is_retry(&self) -> bool {
        self.status.as_deref() == Some("2")
    }
}

/// The follow record inside `data`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FollowRecord {
    /// `lead_ID`: declared INT8 but alphanumeric in the example (W-i), so text.
    #[serde(rename = "lead_ID", alias = "lead_id", deserialize_with = "wire::id")]
    pub lead_id: String,
    /// 线索编码.
    #[serde(
        default,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub lead_code: Option<String>,
    /// 客户名称.
    #[serde(
        default,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub lead_name: Option<String>,
    /// 跟进方式.
    #[serde(
        default,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub activity_type: Option<String>,
    /// 跟进内容.
    #[serde(
        default,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub activity_content: Option<String>,
    /// 位置.
    #[serde(
        default,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub location: Option<String>,
    /// 偏差(米).
    #[serde(
        default,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub offset: Option<String>,
    /// 照片路径.
    #[serde(
        default,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub photo_path: Option<String>,
    /// 跟进人.
    #[serde(
        default,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub create_by: Option<String>,
    /// 跟进人部门.
    #[serde(
        default,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub department: Option<String>,
    /// 跟进时间, `yyyy-mm-dd hh:mm` Beijing.
    #[serde(
        default,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub create_at: Option<String>,
    /// `ext_*` custom fields and anything else, as received.
    #[serde(flatten)]
    pub ext: Map<String, Value>,
}

impl FollowRecord {
    /// `create_at` as Beijing time, when it parses.
    pub fn created_at(&self) -> Option<chrono::DateTime<chrono::FixedOffset>> {
        self.create_at
            .as_deref()
            .and_then(crate::clock::parse_beijing)
    }
}

/// A verified follow push.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FollowPush {
    /// The envelope fields.
    pub meta: PushMeta,
    /// `data` exactly as received (decoded), the text that was signed.
    pub data: String,
    /// `data` parsed.
    pub record: FollowRecord,
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `application/x-www-form-urlencoded` decoding to bytes: `+` is a space, `%XX` a byte, and a `%`
/// not followed by two hex digits stays literal (as WHATWG URL parsing does).
fn form_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < input.len() => {
                match (hex_value(input[i + 1]), hex_value(input[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push(h << 4 | l);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    out
}

/// The form's `(name, value)` pairs, decoded to bytes, empty segments skipped.
fn parse_form(body: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    body.split(|&b| b == b'&')
        .filter(|part| !part.is_empty())
        .map(|part| match part.iter().position(|&b| b == b'=') {
            Some(eq) => (form_decode(&part[..eq]), form_decode(&part[eq + 1..])),
            None => (form_decode(part), Vec::new()),
        })
        .collect()
}

struct Form(Vec<(Vec<u8>, Vec<u8>)>);

impl Form {
    /// The single value of `name`; `Err` when it appears twice.
    fn unique(&self, name: &'static str) -> Result<Option<&[u8]>, &'static str> {
        let mut found = None;
        for (key, value) in &self.0 {
            if key.as_slice() == name.as_bytes() {
                if found.is_some() {
                    return Err(name);
                }
                found = Some(value.as_slice());
            }
        }
        Ok(found)
    }

    fn signed(&self, name: &'static str) -> Result<&[u8], PushError> {
        match self.unique(name) {
            Err(n) => Err(PushError::Unauthorized(UnauthorizedReason::DuplicateField(
                n,
            ))),
            Ok(None) => Err(PushError::Unauthorized(UnauthorizedReason::MissingField(
                name,
            ))),
            Ok(Some(v)) => Ok(v),
        }
    }

    /// An unsigned field as text (first occurrence, lossy), `None` when absent or empty.
    fn text(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(k, _)| k.as_slice() == name.as_bytes())
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
            .filter(|v| !v.is_empty())
    }
}

/// Verifies and parses a `salesLeads_follow` push from its raw form body.
pub fn verify_follow_push(body: &[u8], pushsecret: &str) -> Result<FollowPush, PushError> {
    let form = Form(parse_form(body));
    check_digest(&form, pushsecret)?;
    read_follow_push(&form)
}

/// The signature check alone: `digest == md5(data|pushsecret|timestamp)`.
fn check_digest(form: &Form, pushsecret: &str) -> Result<(), PushError> {
    let data = form.signed("data")?;
    let timestamp = form.signed("timestamp")?;
    let digest = form.signed("digest")?;
    let timestamp = std::str::from_utf8(timestamp)
        .map_err(|_| PushError::Unauthorized(UnauthorizedReason::BadTimestamp))?;
    if pushsecret.is_empty() {
        return Err(PushError::Unauthorized(UnauthorizedReason::NoSecret));
    }
    let expected = sign::push_digest(data, pushsecret, timestamp);
    let received = digest.to_ascii_lowercase();
    if !bool::from(expected.as_bytes().ct_eq(&received)) {
        return Err(PushError::Unauthorized(UnauthorizedReason::DigestMismatch));
    }
    Ok(())
}

/// Reads a form whose digest was checked.
fn read_follow_push(form: &Form) -> Result<FollowPush, PushError> {
    let data = form.signed("data")?;
    let timestamp = std::str::from_utf8(form.signed("timestamp")?)
        .map_err(|_| PushError::Unauthorized(UnauthorizedReason::BadTimestamp))?;
    let malformed = PushError::Malformed;
    let msg_id = form
        .text("msgId")
        .ok_or(malformed(MalformedReason::MissingMsgId))?;
    let data_type = form.text("dataType").unwrap_or_default();
    if data_type != FOLLOW_DATA_TYPE {
        return Err(malformed(MalformedReason::UnexpectedDataType(data_type)));
    }
    let data = std::str::from_utf8(data)
        .map_err(|_| malformed(MalformedReason::DataNotUtf8))?
        .to_string();
    let record: FollowRecord = serde_json::from_str(&data)
        .map_err(|e| malformed(MalformedReason::BadData(e.to_string())))?;
    Ok(FollowPush {
        meta: PushMeta {
            msg_id,
            data_id: form.text("dataId"),
            data_version: form.text("dataVersion"),
            data_format: form.text("dataFormat"),
            data_source: form.text("dataSource"),
            tenant_id: form.text("tenantId"),
            status: form.text("status"),
            status_time: form.text("statusTime"),
            data_type,
            timestamp: timestamp.to_string(),
        },
        data,
        record,
    })
}

/// Builds the signed wire body of a push, fields in 勤策's order (absent optional fields are
/// left out), for the simulator, tests and benchmarks. `data` is signed and sent as given.
pub fn encode_follow_push(meta: &PushMeta, data: &str, pushsecret: &str) -> String {
    let digest = sign::push_digest(data.as_bytes(), pushsecret, &meta.timestamp);
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("msgId", &meta.msg_id);
    let optional = [
        ("dataId", &meta.data_id),
        ("dataVersion", &meta.data_version),
        ("dataFormat", &meta.data_format),
        ("dataSource", &meta.data_source),
        ("tenantId", &meta.tenant_id),
        ("status", &meta.status),
        ("statusTime", &meta.status_time),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            form.append_pair(name, value);
        }
    }
    form.append_pair("dataType", &meta.data_type);
    form.append_pair("data", data);
    form.append_pair("timestamp", &meta.timestamp);
    form.append_pair("digest", &digest);
    form.finish()
}

/// The success answer 勤策 expects within 5 s: `{"return_code":0,"return_msg":"","msg_id":"…"}`.
pub fn ack(msg_id: &str) -> String {
    serde_json::json!({"return_code": 0, "return_msg": "", "msg_id": msg_id}).to_string()
}

/// The failure answer (`return_code` 1); 勤策 then retries daily at 01:30 for up to 10 days.
pub fn nack(msg_id: &str, message: &str) -> String {
    serde_json::json!({"return_code": 1, "return_msg": message, "msg_id": msg_id}).to_string()
}

/// Receives one account's follow pushes.
#[derive(Debug, Clone)]
pub struct FollowReceiver {
    pushsecret: Secret,
}

impl FollowReceiver {
    /// A receiver checking digests with `pushsecret`.
    pub fn new(pushsecret: Secret) -> Self {
        Self { pushsecret }
    }
}

fn refusal(error: &PushError) -> PushRefusal {
    PushRefusal {
        reason: error.to_string(),
        answer: nack("", &error.to_string()),
    }
}

impl PushReceiver for FollowReceiver {
    fn verify(&self, _head: &PushHead, body: &[u8], _now: i64) -> Result<VerifiedPush, PushRefusal> {
        check_digest(&Form(parse_form(body)), self.pushsecret.expose())
            .map_err(|e| refusal(&e))?;
        // The digest covers `data`, so a replayed signature cannot carry another body.
        Ok(VerifiedPush { replay_key: None })
    }

    fn parse(&self, _account: &str, body: &[u8]) -> Result<Pushed, PushRefusal> {
        let push = read_follow_push(&Form(parse_form(body))).map_err(|e| refusal(&e))?;
        // `data` was signed and parsed as this exact text; keeping it as a Value (rather than
        // re-serializing the typed record) preserves every field the tenant sent.
        let record = serde_json::from_str(&push.data)
            .or_else(|_| serde_json::to_value(&push.record))
            .unwrap_or(serde_json::Value::Null);
        Ok(Pushed::Follow(PushedFollow {
            msg_id: push.meta.msg_id,
            data_id: push.meta.data_id,
            lead_id: push.record.lead_id,
            record,
        }))
    }

    fn ack_body(&self, pushed: &Pushed) -> String {
        match pushed {
            Pushed::Follow(follow) => ack(&follow.msg_id),
            Pushed::Lead(_) => ack(""),
        }
    }

    fn reject_body(&self, message: &str) -> String {
        nack("", message)
    }

    fn busy_body(&self, message: &str) -> String {
        nack("", message)
    }

    fn replay_window_secs(&self) -> Option<u64> {
        None
    }
}

#[cfg(test)]
mod receiver_tests {
    use super::*;

    #[test]
    fn answers_are_in_waiqins_shape_and_the_secret_stays_out_of_debug() {
        let receiver = FollowReceiver::new("p-secret".into());
        let busy: serde_json::Value = serde_json::from_str(&receiver.busy_body("x")).unwrap();
        assert_eq!(busy["return_code"], 1);
        assert_eq!(busy["return_msg"], "x");
        assert!(!format!("{receiver:?}").contains("p-secret"), "pushsecret leaked");
        assert_eq!(receiver.replay_window_secs(), None, "the digest covers the body");
    }
}
