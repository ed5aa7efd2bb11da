//! Simulated Waiqin365 / 勤策 sales-leads OpenAPI (spec §2), served below `/waiqin/api`.
//!
//! Every refusal is the envelope the spec documents and nothing more specific: `return_code`
//! `"1"` ("0:成功,1:失败", spec §2.5) with a Chinese `return_msg`. The error-code appendix the
//! seed points to is not public (W-f), so the simulator invents no other codes, and clients must
//! read the message (e.g. `线索编码[x]已存在` for a `code` that exists: the seed says `code` is
//! "校验是否已存在"). Checks, in order:
//!
//! | check | `return_msg` starts with |
//! |---|---|
//! | `openid` path segment is the tenant's | `openid无效` |
//! | `timestamp` is 14 digits `yyyyMMddHHmmss` (W-b) | `时间戳格式错误` |
//! | `digest == lowerhex(md5(raw body|appkey|timestamp))` (W-a) | `签名错误` |
//! | `Content-Type` is `application/json` | `参数错误: Content-Type` |
//! | the body is a JSON object | `参数格式错误` |
//! | required fields (`empName`/`poolName`, `id`/`code`, a query condition) | `参数缺失` |
//! | enumerations and dates | `参数错误` |
//! | `code` already used | `线索编码[…]已存在` |
//! | mobile repeated with `mobile_repeat: "0"` | `手机号码[…]已存在` |
//! | lead not found by `id`/`code` | `线索不存在` |
//!
//! Not checked, because the spec documents no such rule: how far the timestamp may be from the
//! server's clock (no window is published, W-b) and whether a `msg_id` may be reused. A reused
//! `msg_id` is only counted (`replays` in the snapshot), so tests can prove each call signs
//! afresh without the simulator refusing what the vendor may accept.
//!
//! Unknown paths and ops get HTTP 404, other methods 405, bodies over the simulator's limit 413:
//! those are the web server's statuses, not the API's, and carry the same envelope. Successes
//! carry `return_code` as the string `"0"` (as the examples) and a query's `response_data` is a
//! JSON-ENCODED STRING. Leads are kept by `code` (the vendor's uniqueness key), and `snapshot()`
//! counts creates per code so crash tests can prove a lead was created exactly once.
//!
//! Controls under `/_sim/waiqin`: `POST /leads {"count": N}` generates N realistic leads;
//! `GET /leads/{code}` shows one in query shape; `POST /follow {"code": …}` builds a signed
//! `salesLeads_follow` push body for a lead (to replay at a webhook receiver).
//! `querySalesLeadsForApaas` accepts `query_group` but does not filter on it.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State as AxState};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use rand::Rng;
use serde_json::{json, Map, Value};

use super::synth;
use super::SimShared;
use crate::connectors::waiqin::sign;
use crate::connectors::waiqin::webhook::{encode_follow_push, PushMeta};
use crate::connectors::Vendor;

/// Where this vendor is served, below the simulator's base URL.
pub const PREFIX: &str = "/waiqin/api";

/// Config keys of the simulator's built-in waiqin account.
pub const CREDENTIALS_TOML: &str = "openid = \"5465103569540931532\"\nappkey = \"SIMwaiqinAppKey001\"\npushsecret = \"SimPushSecret0001\"\n";

/// The tenant's openid (as in [`CREDENTIALS_TOML`]).
pub const OPENID: &str = "5465103569540931532";
/// The tenant's appkey.
pub const APPKEY: &str = "SIMwaiqinAppKey001";
/// The tenant's pushsecret.
pub const PUSHSECRET: &str = "SimPushSecret0001";
/// Most leads one `POST /_sim/waiqin/leads` may generate.
pub const MAX_GENERATE: u64 = 100_000;
/// The only failure `return_code` the spec documents ("1:失败", §2.5); the appendix of other
/// codes is not public (W-f).
pub const FAILURE: &str = "1";
/// `msg_id`s remembered to count reuse; the oldest are forgotten first.
const REMEMBERED_MSG_IDS: usize = 100_000;

/// Query-record keys that the real API fills with `""` when empty.
const RECORD_KEYS: &[&str] = &[
    "cus_name",
    "code",
    "source_type_name",
    "market_name",
    "linkman",
    "mobile_country",
    "mobile",
    "tel",
    "position",
    "detail",
    "mss_province",
    "mss_city",
    "mss_area",
    "mss_street",
    "mark_addr",
    "email",
    "website",
    "emp_name",
    "emp_id_str",
    "status_value",
    "result",
    "disable_reason_name",
    "disable_reason_ext",
    "delete_reason_name",
    "delete_reason_ext",
    "return_reason_name",
    "pool_name",
    "distribution_name",
    "distribution_take_time",
    "creator_name",
    "create_time",
    "transf_time",
    "owner_change_time",
    "follow_name",
    "follow_time",
    "modifyier_name",
    "modify_time",
    "customer_classification_name",
    "cm_code",
    "cm_name",
];

/// Body field → query-record field, for `addSalesLeads`/`modifySalesLeads`.
const FIELD_MAP: &[(&str, &str)] = &[
    ("cus_name", "cus_name"),
    ("source_type", "source_type_name"),
    ("market_name", "market_name"),
    ("linkman", "linkman"),
    ("mobile_country", "mobile_country"),
    ("mobile", "mobile"),
    ("tel", "tel"),
    (
        "customer_classification_name",
        "customer_classification_name",
    ),
    ("position", "position"),
    ("detail", "detail"),
    ("mssProvinceName", "mss_province"),
    ("mssCityName", "mss_city"),
    ("mssAreaName", "mss_area"),
    ("mssStreetName", "mss_street"),
    ("mark_addr", "mark_addr"),
    ("email", "email"),
    ("website", "website"),
    ("empName", "emp_name"),
    ("poolName", "pool_name"),
];

/// Body field → query-record field, for the aPaaS ops (`mobile` is an object, handled apart).
const APAAS_FIELD_MAP: &[(&str, &str)] = &[
    ("company_name", "cus_name"),
    ("source_type", "source_type_name"),
    ("market_name", "market_name"),
    ("linkman", "linkman"),
    ("telephone", "tel"),
    (
        "customer_classification_name",
        "customer_classification_name",
    ),
    ("position", "position"),
    ("detail", "detail"),
    ("mss_province", "mss_province"),
    ("mss_city", "mss_city"),
    ("mss_area", "mss_area"),
    ("mss_street", "mss_street"),
    ("mark_addr", "mark_addr"),
    ("mark_address", "mark_addr"),
    ("email", "email"),
    ("website", "website"),
    ("pool_name", "pool_name"),
    ("responsible_person", "emp_id_str"),
    ("return_reason", "return_reason_name"),
    ("invalid_reason", "disable_reason_name"),
    ("removed_result", "delete_reason_ext"),
];

const QUERY_CONDITIONS: &[&str] = &[
    "code",
    "id",
    "linkman",
    "mobile",
    "emp_name",
    "cus_name",
    "create_time_start",
    "create_time_end",
    "modify_time_start",
    "modify_time_end",
    "salesleads_status",
];

fn status_label(status: &str) -> &'static str {
    match status {
        "1" => "待处理",
        "2" => "跟进",
        "3" => "无效",
        "5" => "转换",
        "6" => "未分配",
        _ => "",
    }
}

#[derive(Debug)]
struct SimLead {
    /// Query-shape record (every key of [`RECORD_KEYS`] plus `id`, `labels`, `exts`).
    record: Map<String, Value>,
    /// 1 待处理, 2 跟进, 3 无效, 5 转换, 6 未分配.
    status: String,
}

impl SimLead {
    fn get(&self, key: &str) -> &str {
        self.record.get(key).and_then(Value::as_str).unwrap_or("")
    }
}

#[derive(Debug, Default)]
struct Inner {
    seq: u64,
    leads: BTreeMap<u64, SimLead>,
    by_code: HashMap<String, u64>,
    by_id: HashMap<String, u64>,
    creates: BTreeMap<String, u64>,
    modifies: BTreeMap<String, u64>,
    removes: u64,
    generated: u64,
    auth_failures: u64,
    replays: u64,
    seen: HashSet<String>,
    seen_order: VecDeque<String>,
}

/// Waiqin simulator state.
#[derive(Debug, Default)]
pub struct State {
    inner: Mutex<Inner>,
}

impl State {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock would only come from a bug in this file; keep serving.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A JSON summary for `GET /_sim/state`: `leads` (current count), `creates` (code → times
    /// created), `modifies` (total), `modifies_per_code`, `removes`, `generated`,
    /// `auth_failures` (requests refused before the op ran) and `replays` (requests that reused
    /// a `msg_id`, which the simulator counts but does not refuse).
    pub fn snapshot(&self) -> Value {
        let inner = self.lock();
        json!({
            "leads": inner.leads.len(),
            "creates": inner.creates,
            "modifies": inner.modifies.values().sum::<u64>(),
            "modifies_per_code": inner.modifies,
            "removes": inner.removes,
            "generated": inner.generated,
            "auth_failures": inner.auth_failures,
            "replays": inner.replays,
        })
    }

    /// How many times a lead with `code` was created through the API.
    pub fn creates(&self, code: &str) -> u64 {
        self.lock().creates.get(code).copied().unwrap_or(0)
    }

    /// The current record of the lead with `code`, in `querySalesLeads` shape.
    pub fn lead(&self, code: &str) -> Option<Value> {
        let inner = self.lock();
        let seq = inner.by_code.get(code)?;
        inner
            .leads
            .get(seq)
            .map(|l| Value::Object(l.record.clone()))
    }
}

/// A refusal in the vendor's envelope: always `return_code` [`FAILURE`]; the message says why.
struct Refusal {
    http: StatusCode,
    message: String,
}

fn refuse(message: impl Into<String>) -> Refusal {
    Refusal {
        http: StatusCode::OK,
        message: message.into(),
    }
}

fn envelope_error(r: Refusal, msg_id: Option<&str>) -> Response {
    (
        r.http,
        Json(json!({
            "return_code": FAILURE,
            "return_msg": r.message,
            "msg_id": msg_id,
            "response_data": null,
        })),
    )
        .into_response()
}

fn envelope_ok(msg_id: Option<&str>, data: Value) -> Response {
    Json(json!({
        "return_code": "0",
        "return_msg": null,
        "msg_id": msg_id,
        "response_data": data,
    }))
    .into_response()
}

/// The vendor API, served below its prefix.
pub fn router(shared: Arc<SimShared>) -> Router {
    Router::new()
        .route(
            "/salesleads/v1/{op}/{openid}/{ts}/{digest}/{msg_id}",
            any(api),
        )
        .fallback(no_such_api)
        .with_state(shared)
}

async fn no_such_api(method: Method, uri: axum::http::Uri) -> Response {
    envelope_error(
        Refusal {
            http: StatusCode::NOT_FOUND,
            message: format!(
                "接口不存在: {method} {} (expected POST /salesleads/v1/{{op}}/{{openid}}/{{timestamp}}/{{digest}}/{{msg_id}})",
                uri.path()
            ),
        },
        None,
    )
}

const OPS: &[&str] = &[
    "addSalesLeads",
    "addSalesLeadsForApaas",
    "modifySalesLeads",
    "modifySalesLeadsForApaas",
    "removeSalesLeads",
    "querySalesLeads",
    "querySalesLeadsForApaas",
];

/// `{op}/{openid}/{timestamp}/{digest}/{msg_id}`.
type ApiPath = Path<(String, String, String, String, String)>;

async fn api(
    AxState(shared): AxState<Arc<SimShared>>,
    method: Method,
    headers: HeaderMap,
    path: Result<ApiPath, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Ok(Path((op, openid, ts, digest, msg_id))) = path else {
        let r = Refusal {
            http: StatusCode::NOT_FOUND,
            message: "接口不存在: 路径参数不可读".into(),
        };
        return envelope_error(r, None);
    };
    if method != Method::POST {
        let r = Refusal {
            http: StatusCode::METHOD_NOT_ALLOWED,
            message: format!("请求方式错误: {method} (only POST)"),
        };
        return envelope_error(r, None);
    }
    if !OPS.contains(&op.as_str()) {
        let r = Refusal {
            http: StatusCode::NOT_FOUND,
            message: format!("接口不存在: salesleads/v1/{op}"),
        };
        return envelope_error(r, None);
    }
    let body = match body {
        Ok(b) => b,
        Err(e) => {
            let r = Refusal {
                http: StatusCode::PAYLOAD_TOO_LARGE,
                message: format!("请求体过大或不可读: {e}"),
            };
            return envelope_error(r, Some(&msg_id));
        }
    };
    let state = &shared.waiqin;
    let now = shared.clock(Vendor::Waiqin).now_beijing();
    if let Err(r) = authenticate(state, &openid, &ts, &digest, &msg_id, &body) {
        return envelope_error(r, Some(&msg_id));
    }
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type
        .to_ascii_lowercase()
        .starts_with("application/json")
    {
        let r = refuse(format!(
            "参数错误: Content-Type必须为application/json, 收到 {content_type:?}"
        ));
        return envelope_error(r, Some(&msg_id));
    }
    let json: Map<String, Value> = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(map)) => map,
        Ok(_) => {
            return envelope_error(refuse("参数格式错误: 请求体必须是JSON对象"), Some(&msg_id))
        }
        Err(e) => {
            return envelope_error(
                refuse(format!("参数格式错误: 请求体不是合法的JSON ({e})")),
                Some(&msg_id),
            )
        }
    };
    let now_text = now.format("%Y-%m-%d %H:%M").to_string();
    let mut inner = state.lock();
    let result = match op.as_str() {
        "addSalesLeads" => add(&mut inner, &json, &now_text, false).map(|_| Value::Null),
        "addSalesLeadsForApaas" => add(&mut inner, &json, &now_text, true).map(|_| Value::Null),
        "modifySalesLeads" => modify(&mut inner, &json, &now_text, false).map(|_| Value::Null),
        "modifySalesLeadsForApaas" => {
            modify(&mut inner, &json, &now_text, true).map(|_| Value::Null)
        }
        "removeSalesLeads" => remove(&mut inner, &json).map(|_| Value::Null),
        "querySalesLeads" => query(&inner, &json, false),
        _ => query(&inner, &json, true),
    };
    drop(inner);
    match result {
        // Query examples carry `msg_id: null`; write examples echo it.
        Ok(data) if op.starts_with("query") => envelope_ok(None, data),
        Ok(data) => envelope_ok(Some(&msg_id), data),
        Err(r) => envelope_error(r, Some(&msg_id)),
    }
}

fn authenticate(
    state: &State,
    openid: &str,
    ts: &str,
    digest: &str,
    msg_id: &str,
    body: &[u8],
) -> Result<(), Refusal> {
    let check = || -> Result<(), Refusal> {
        if openid != OPENID {
            return Err(refuse(format!("openid无效: {openid}")));
        }
        // The format is part of the signing recipe (W-b); how far from the server's clock it
        // may be is not documented, so no window is checked (see the module doc).
        if sign::parse_timestamp(ts).is_none() {
            return Err(refuse(format!(
                "时间戳格式错误: {ts:?}, 应为yyyyMMddHHmmss"
            )));
        }
        if sign::digest(body, APPKEY, ts) != digest {
            return Err(refuse(
                "签名错误: digest与md5(消息体|appkey|timestamp)不一致",
            ));
        }
        Ok(())
    };
    let mut inner = state.lock();
    if let Err(r) = check() {
        inner.auth_failures += 1;
        return Err(r);
    }
    // A reused msg_id is counted, not refused: the spec only says the server echoes it.
    if inner.seen.insert(msg_id.to_string()) {
        inner.seen_order.push_back(msg_id.to_string());
        if inner.seen_order.len() > REMEMBERED_MSG_IDS {
            if let Some(old) = inner.seen_order.pop_front() {
                inner.seen.remove(&old);
            }
        }
    } else {
        inner.replays += 1;
    }
    Ok(())
}

/// A field as text: strings trimmed, numbers exact; empty → `None`.
fn text(body: &Map<String, Value>, key: &str) -> Option<String> {
    match body.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn one_of(body: &Map<String, Value>, key: &str, allowed: &[&str]) -> Result<(), Refusal> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(()),
        Some(v) => {
            let t = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if allowed.contains(&t.as_str()) {
                Ok(())
            } else {
                Err(refuse(format!(
                    "参数错误: {key}={t}, 可选值 {}",
                    allowed.join("/")
                )))
            }
        }
    }
}

fn new_id(inner: &Inner, rng: &mut impl Rng) -> String {
    loop {
        // Real ids are 19 digits, beyond 2^53.
        let id = rng
            .gen_range(4_000_000_000_000_000_000u64..9_200_000_000_000_000_000)
            .to_string();
        if !inner.by_id.contains_key(&id) {
            return id;
        }
    }
}

fn exts_list(value: Option<&Value>) -> Option<Value> {
    match value? {
        // addSalesLeads list form.
        Value::Array(items) => Some(Value::Array(
            items
                .iter()
                .filter_map(|item| {
                    let key = item.get("salesleads_ext_key")?.as_str()?;
                    Some(json!({
                        "ext_column": format!("ext_{}", &sign::digest(key.as_bytes(), "", "")[..10]),
                        "ext_key": key,
                        "ext_value": item.get("salesleads_ext_value").map(|v| match v {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        }).unwrap_or_default(),
                    }))
                })
                .collect(),
        )),
        // aPaaS map form.
        Value::Object(map) => Some(Value::Array(
            map.iter()
                .map(|(k, v)| {
                    json!({"ext_column": k, "ext_key": k, "ext_value": match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    }})
                })
                .collect(),
        )),
        _ => None,
    }
}

/// Copies the body's fields onto a record.
fn apply(record: &mut Map<String, Value>, body: &Map<String, Value>, apaas: bool) {
    let map = if apaas { APAAS_FIELD_MAP } else { FIELD_MAP };
    for (from, to) in map {
        if let Some(v) = text(body, from) {
            record.insert((*to).to_string(), Value::String(v));
        }
    }
    if apaas {
        if let Some(Value::Object(mobile)) = body.get("mobile") {
            if let Some(phone) = text(mobile, "phone") {
                record.insert("mobile".into(), phone.into());
            }
            if let Some(code) = text(mobile, "code") {
                record.insert("mobile_country".into(), code.into());
            }
        }
    }
    if let Some(exts) = exts_list(body.get("exts")) {
        record.insert("exts".into(), exts);
    }
}

fn check_apaas(body: &Map<String, Value>) -> Result<(), Refusal> {
    one_of(body, "allocation_status", &["0", "1"])?;
    one_of(body, "salesleads_status", &["1", "2", "5"])?;
    match text(body, "allocation_status").as_deref() {
        Some("0") if text(body, "pool_name").is_none() => {
            Err(refuse("参数缺失: 未分配的线索必填线索池(pool_name)"))
        }
        Some("1") if text(body, "responsible_person").is_none() => Err(refuse(
            "参数缺失: 已分配的线索必填负责人(responsible_person)",
        )),
        _ => Ok(()),
    }
}

fn add(
    inner: &mut Inner,
    body: &Map<String, Value>,
    now: &str,
    apaas: bool,
) -> Result<(), Refusal> {
    let status = if apaas {
        check_apaas(body)?;
        one_of(body, "mobile_duplicate", &["0", "1", ""])?;
        match text(body, "allocation_status").as_deref() {
            Some("0") => "6".to_string(),
            _ => text(body, "salesleads_status").unwrap_or_else(|| "1".into()),
        }
    } else {
        if text(body, "empName").is_none() && text(body, "poolName").is_none() {
            return Err(refuse(
                "参数缺失: 负责人(empName)与线索池名称(poolName)二者必填其一",
            ));
        }
        one_of(body, "mobile_repeat", &["0", "1", ""])?;
        if text(body, "empName").is_some() {
            "1".to_string()
        } else {
            "6".to_string()
        }
    };
    inner.seq += 1;
    let seq = inner.seq;
    let code = text(body, "code")
        .unwrap_or_else(|| format!("XS{}{seq:06}", now.replace(['-', ' ', ':'], "")));
    if inner.by_code.contains_key(&code) {
        return Err(refuse(format!("线索编码[{code}]已存在")));
    }
    let no_repeat_key = if apaas {
        "mobile_duplicate"
    } else {
        "mobile_repeat"
    };
    let mobile = if apaas {
        body.get("mobile")
            .and_then(Value::as_object)
            .and_then(|m| text(m, "phone"))
    } else {
        text(body, "mobile")
    };
    if text(body, no_repeat_key).as_deref() == Some("0") {
        if let Some(mobile) = &mobile {
            if inner.leads.values().any(|l| l.get("mobile") == mobile) {
                return Err(refuse(format!(
                    "手机号码[{}]已存在",
                    crate::secret::mask_phone(mobile)
                )));
            }
        }
    }
    let id = new_id(inner, &mut rand::thread_rng());
    let mut record = blank_record(&id, &code, now);
    apply(&mut record, body, apaas);
    record.insert("status_value".into(), status_label(&status).into());
    if record.get("emp_name").and_then(Value::as_str) != Some("") && !apaas {
        record.insert(
            "emp_id_str".into(),
            new_id(inner, &mut rand::thread_rng()).into(),
        );
    }
    insert(inner, seq, SimLead { record, status });
    *inner.creates.entry(code).or_default() += 1;
    Ok(())
}

fn blank_record(id: &str, code: &str, now: &str) -> Map<String, Value> {
    let mut record = Map::new();
    record.insert("id".into(), id.into());
    for key in RECORD_KEYS {
        record.insert((*key).into(), "".into());
    }
    record.insert("code".into(), code.into());
    record.insert("creator_name".into(), "OpenAPI".into());
    record.insert("create_time".into(), now.into());
    record.insert("modify_time".into(), now.into());
    record.insert("labels".into(), json!([]));
    record.insert("exts".into(), json!([]));
    record
}

fn insert(inner: &mut Inner, seq: u64, lead: SimLead) {
    inner.by_code.insert(lead.get("code").to_string(), seq);
    inner.by_id.insert(lead.get("id").to_string(), seq);
    inner.leads.insert(seq, lead);
}

fn find(inner: &Inner, body: &Map<String, Value>) -> Result<u64, Refusal> {
    let id = text(body, "id");
    let code = text(body, "code");
    let seq = match (&id, &code) {
        (Some(id), _) => inner.by_id.get(id),
        (None, Some(code)) => inner.by_code.get(code),
        (None, None) => return Err(refuse("参数缺失: 线索ID(id)与线索编码(code)不能同时为空")),
    };
    seq.copied().ok_or_else(|| {
        refuse(format!(
            "线索不存在: {}",
            id.map(|i| format!("id={i}"))
                .or(code.map(|c| format!("code={c}")))
                .unwrap_or_default()
        ))
    })
}

fn modify(
    inner: &mut Inner,
    body: &Map<String, Value>,
    now: &str,
    apaas: bool,
) -> Result<(), Refusal> {
    if apaas {
        check_apaas(body)?;
    }
    let seq = find(inner, body)?;
    let old_code = inner.leads[&seq].get("code").to_string();
    // With an id, a different `code` renames the lead (checked for uniqueness).
    let new_code = text(body, "code").filter(|c| *c != old_code);
    if let Some(code) = &new_code {
        if inner.by_code.contains_key(code) {
            return Err(refuse(format!("线索编码[{code}]已存在")));
        }
    }
    let lead = inner.leads.get_mut(&seq).expect("found above");
    apply(&mut lead.record, body, apaas);
    if apaas {
        if let Some(status) = text(body, "salesleads_status") {
            lead.record
                .insert("status_value".into(), status_label(&status).into());
            lead.status = status;
        }
    }
    lead.record.insert("modify_time".into(), now.into());
    lead.record
        .insert("modifyier_name".into(), "OpenAPI".into());
    let code = match new_code {
        Some(code) => {
            lead.record.insert("code".into(), code.clone().into());
            inner.by_code.remove(&old_code);
            inner.by_code.insert(code.clone(), seq);
            code
        }
        None => old_code,
    };
    *inner.modifies.entry(code).or_default() += 1;
    Ok(())
}

fn remove(inner: &mut Inner, body: &Map<String, Value>) -> Result<(), Refusal> {
    let seq = find(inner, body)?;
    let lead = inner.leads.remove(&seq).expect("found above");
    inner.by_code.remove(lead.get("code"));
    inner.by_id.remove(lead.get("id"));
    inner.removes += 1;
    Ok(())
}

fn query(inner: &Inner, body: &Map<String, Value>, apaas: bool) -> Result<Value, Refusal> {
    let has_condition = QUERY_CONDITIONS.iter().any(|k| text(body, k).is_some())
        || (apaas && body.get("query_group").is_some_and(|g| !g.is_null()));
    if !has_condition {
        return Err(refuse("参数缺失: 查询条件至少需要填写一个参数"));
    }
    for key in [
        "create_time_start",
        "create_time_end",
        "modify_time_start",
        "modify_time_end",
    ] {
        if let Some(d) = text(body, key) {
            if d.len() != 10 || chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d").is_err() {
                return Err(refuse(format!("参数错误: {key}={d}, 格式应为yyyy-MM-dd")));
            }
        }
    }
    one_of(body, "salesleads_status", &["1", "2", "3", "5", "6"])?;
    let page = positive(body, "page", 1)?;
    let page_size = positive(body, "pageSize", 1000)?;

    let eq = |key: &str, lead: &SimLead| text(body, key).is_none_or(|v| lead.get(key) == v);
    let contains = |key: &str, lead: &SimLead| {
        text(body, key).is_none_or(|v| lead.get(key).contains(v.as_str()))
    };
    let within = |field: &str, start: &str, end: &str, lead: &SimLead| {
        let day = lead.get(field).get(..10).unwrap_or("");
        text(body, start).is_none_or(|s| day >= s.as_str())
            && text(body, end).is_none_or(|e| day <= e.as_str())
    };
    let mut matched: Vec<&SimLead> = inner
        .leads
        .values()
        .filter(|l| {
            eq("code", l)
                && eq("id", l)
                && eq("mobile", l)
                && eq("emp_name", l)
                && contains("linkman", l)
                && contains("cus_name", l)
                && within("create_time", "create_time_start", "create_time_end", l)
                && within("modify_time", "modify_time_start", "modify_time_end", l)
                && text(body, "salesleads_status").is_none_or(|s| l.status == s)
        })
        .collect();
    if apaas {
        let sorts = body.get("sorts").or_else(|| body.get("sort"));
        let sorts = match sorts {
            Some(Value::Array(items)) => items.first(),
            other => other,
        };
        if let Some(sorts) = sorts.and_then(Value::as_object) {
            let key = text(sorts, "field_key").unwrap_or_else(|| "create_time".into());
            matched.sort_by(|a, b| a.get(&key).cmp(b.get(&key)));
            if text(sorts, "type").as_deref() == Some("desc") {
                matched.reverse();
            }
        }
    }
    let start = ((page - 1) as usize).saturating_mul(page_size as usize);
    let records: Vec<Value> = matched
        .into_iter()
        .skip(start)
        .take(page_size as usize)
        .map(|l| {
            if apaas {
                apaas_record(l)
            } else {
                Value::Object(l.record.clone())
            }
        })
        .collect();
    // The real API double-encodes: `response_data` is a string holding the JSON array.
    Ok(Value::String(Value::Array(records).to_string()))
}

fn positive(body: &Map<String, Value>, key: &str, default: u64) -> Result<u64, Refusal> {
    match text(body, key) {
        None => Ok(default),
        Some(t) => t
            .parse::<u64>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| refuse(format!("参数错误: {key}={t}, 应为正整数"))),
    }
}

fn apaas_record(lead: &SimLead) -> Value {
    let g = |k: &str| lead.get(k).to_string();
    let region = |k: &str| {
        if lead.get(k).is_empty() {
            Value::Null
        } else {
            json!({"code": "", "name": g(k)})
        }
    };
    let exts: Map<String, Value> = lead
        .record
        .get("exts")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|e| {
                    Some((
                        e.get("ext_column")?.as_str()?.to_string(),
                        e.get("ext_value").cloned().unwrap_or(Value::Null),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    json!({
        "id": g("id"),
        "code": g("code"),
        "company_name": g("cus_name"),
        "linkman": g("linkman"),
        "mobile": {"code": g("mobile_country"), "phone": g("mobile")},
        "tel": g("tel"),
        "position": g("position"),
        "detail": g("detail"),
        "mss_country": {"code": "86", "name": "中国"},
        "mss_province": region("mss_province"),
        "mss_city": region("mss_city"),
        "mss_area": region("mss_area"),
        "mss_street": region("mss_street"),
        "mark_addr": g("mark_addr"),
        "email": g("email"),
        "website": g("website"),
        "salesleads_status": {"code": lead.status, "label": status_label(&lead.status), "content": null},
        "allocation_status": if lead.status == "6" {
            json!({"code": "0", "label": "未分配", "content": null})
        } else {
            json!({"code": "1", "label": "已分配", "content": null})
        },
        "source_type_id": {"code": "", "label": g("source_type_name"), "content": null},
        "pool_name": g("pool_name"),
        "owner": if lead.get("emp_id_str").is_empty() {
            Value::Null
        } else {
            json!({"name": g("emp_name"), "id": g("emp_id_str"), "status": "1"})
        },
        "create_time": {"format": "YYYY-MM-DD HH:mm", "value": g("create_time")},
        "modify_time": {"format": "YYYY-MM-DD HH:mm", "value": g("modify_time")},
        "removed_result": g("delete_reason_ext"),
        "exts": exts,
    })
}

/// Controls under `/_sim/waiqin`.
pub fn control_router(shared: Arc<SimShared>) -> Router {
    Router::new()
        .route("/leads", post(generate_leads))
        .route("/leads/{code}", get(show_lead))
        .route("/follow", post(follow_push))
        .with_state(shared)
}

fn control_error(status: StatusCode, message: String) -> Response {
    (status, Json(json!({"error": message}))).into_response()
}

const SOURCES: &[&str] = &["客户介绍", "会议", "网络推广", "电话营销", "展会"];
const OWNERS: &[&str] = &["李四", "王五", "赵六"];
const CLASSES: &[&str] = &["学校", "运动场馆", "企业", "门店"];

async fn generate_leads(AxState(shared): AxState<Arc<SimShared>>, body: Bytes) -> Response {
    let count = match serde_json::from_slice::<Value>(&body) {
        Ok(v) => v.get("count").and_then(Value::as_u64),
        Err(_) => None,
    };
    let Some(count) = count.filter(|c| (1..=MAX_GENERATE).contains(c)) else {
        return control_error(
            StatusCode::BAD_REQUEST,
            format!("expected {{\"count\": N}} with 1 <= N <= {MAX_GENERATE}"),
        );
    };
    let now = shared
        .clock(Vendor::Waiqin)
        .now_beijing()
        .format("%Y-%m-%d %H:%M")
        .to_string();
    let mut inner = shared.waiqin.lock();
    let mut rng = rand::thread_rng();
    let mut codes = Vec::with_capacity(count as usize);
    for _ in 0..count {
        inner.seq += 1;
        let seq = inner.seq;
        let person = synth::person(&mut rng);
        let code = format!("SIM{seq:08}");
        let id = new_id(&inner, &mut rng);
        let mut record = blank_record(&id, &code, &now);
        let owner = OWNERS[rng.gen_range(0..OWNERS.len())];
        let status = ["1", "2", "6"][rng.gen_range(0..3)];
        let fields = [
            ("cus_name", format!("{}的门店", person.name)),
            (
                "source_type_name",
                SOURCES[rng.gen_range(0..SOURCES.len())].to_string(),
            ),
            ("linkman", person.name.clone()),
            ("mobile_country", "86".into()),
            ("mobile", person.phone.clone()),
            ("mss_province", person.province.clone()),
            ("mss_city", person.city.clone()),
            (
                "mark_addr",
                format!(
                    "{}{}人民路{}号",
                    person.province,
                    person.city,
                    rng.gen_range(1..500)
                ),
            ),
            (
                "customer_classification_name",
                CLASSES[rng.gen_range(0..CLASSES.len())].to_string(),
            ),
            ("detail", format!("{}咨询产品报价", person.name)),
            ("status_value", status_label(status).to_string()),
            ("creator_name", "系统".into()),
        ];
        for (k, v) in fields {
            record.insert(k.into(), v.into());
        }
        if status == "6" {
            record.insert("pool_name".into(), "默认线索池".into());
        } else {
            record.insert("emp_name".into(), owner.into());
            record.insert(
                "emp_id_str".into(),
                format!("50256535283806515{:02}", rng.gen_range(0..100)).into(),
            );
        }
        insert(
            &mut inner,
            seq,
            SimLead {
                record,
                status: status.to_string(),
            },
        );
        codes.push(code);
    }
    inner.generated += count;
    let total = inner.leads.len();
    Json(json!({
        "ok": true,
        "generated": count,
        "leads": total,
        "first_code": codes.first(),
        "last_code": codes.last(),
    }))
    .into_response()
}

async fn show_lead(AxState(shared): AxState<Arc<SimShared>>, Path(code): Path<String>) -> Response {
    match shared.waiqin.lead(&code) {
        Some(record) => Json(record).into_response(),
        None => control_error(StatusCode::NOT_FOUND, format!("no lead with code {code}")),
    }
}

/// `POST /_sim/waiqin/follow {"code", "activity_content"?, "msg_id"?, "status"?}` → a signed
/// `salesLeads_follow` push body for that lead, signed with the tenant's pushsecret.
async fn follow_push(AxState(shared): AxState<Arc<SimShared>>, body: Bytes) -> Response {
    let Ok(Value::Object(req)) = serde_json::from_slice::<Value>(&body) else {
        return control_error(
            StatusCode::BAD_REQUEST,
            "expected a JSON object {\"code\": …}".into(),
        );
    };
    let Some(code) = text(&req, "code") else {
        return control_error(StatusCode::BAD_REQUEST, "`code` is required".into());
    };
    let Some(lead) = shared.waiqin.lead(&code) else {
        return control_error(StatusCode::NOT_FOUND, format!("no lead with code {code}"));
    };
    let now = shared.clock(Vendor::Waiqin).now_beijing();
    let data = json!({
        "lead_ID": lead["id"],
        "lead_code": code,
        "lead_name": lead["cus_name"],
        "activity_type": "电话拜访",
        "activity_content": text(&req, "activity_content").unwrap_or_else(|| "电话回访".into()),
        "location": "",
        "offset": "0",
        "photo_path": "",
        "create_by": "李四",
        "department": "销售部",
        "create_at": now.format("%Y-%m-%d %H:%M").to_string(),
    })
    .to_string();
    let msg_id = text(&req, "msg_id").unwrap_or_else(|| {
        rand::thread_rng()
            .gen_range(10u64.pow(18)..u64::MAX)
            .to_string()
    });
    let meta = PushMeta {
        data_id: Some(uuid::Uuid::new_v4().simple().to_string()),
        data_version: Some("001".into()),
        data_format: Some("json".into()),
        data_source: Some("biz".into()),
        tenant_id: Some("7872470323618986146".into()),
        status: Some(text(&req, "status").unwrap_or_else(|| "0".into())),
        ..PushMeta::follow(msg_id.clone(), now.timestamp_millis())
    };
    Json(json!({
        "content_type": "application/x-www-form-urlencoded",
        "msg_id": msg_id,
        "body": encode_follow_push(&meta, &data, PUSHSECRET),
    }))
    .into_response()
}

impl State {
    /// Puts leads in place before a test (`[sim] waiqin_leads`, `sim::waiqin_leads([...])`):
    /// each body as `addSalesLeads` takes it (`poolName` "公海" when neither `empName` nor
    /// `poolName` is given), then its `salesleads_status` if any. Seeded leads are not counted
    /// as created through the API. `now` is the simulator's Beijing time.
    pub fn seed(&self, leads: &[Map<String, Value>], now: &str) -> Result<(), String> {
        let mut inner = self.lock();
        for (i, lead) in leads.iter().enumerate() {
            let mut body = lead.clone();
            let status = body.remove("salesleads_status").map(|s| match s {
                Value::String(s) => s,
                other => other.to_string(),
            });
            if text(&body, "empName").is_none() && text(&body, "poolName").is_none() {
                body.insert("poolName".into(), "公海".into());
            }
            let code = text(&body, "code").unwrap_or_default();
            add(&mut inner, &body, now, false)
                .map_err(|r| format!("waiqin_leads #{} (code {code}): {}", i + 1, r.message))?;
            inner.creates.remove(&code);
            if let Some(status) = status {
                let seq = inner.by_code[&code];
                let lead = inner.leads.get_mut(&seq).expect("just added");
                lead.record
                    .insert("status_value".into(), status_label(&status).into());
                lead.status = status;
            }
        }
        Ok(())
    }
}
