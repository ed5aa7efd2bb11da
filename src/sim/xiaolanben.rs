//! Simulated Xiaolanben (小蓝本) CRM import API (spec §4), served below `/xiaolanben`.
//!
//! Verifies every request as the real server does, in this order, answering in the vendor's
//! error shape `{"trackingId": "…", "errors": [{"code": N, "message": "…"}]}`:
//!
//! 1. `h_t` and `h_sign` present → else 403 `请求未包含签名信息`;
//! 2. `h_t` an integer within 10 s of the sim clock ("接口服务器端限制10秒内有效") → else 403:
//!    the guide puts "签名参数错误等原因" (signature parameter problems) under 403 but gives no
//!    text for this one, so the text `请求签名已过期` is ours and nothing may depend on it —
//!    clients tell it by the status, and by the `Date` header showing the clocks apart;
//! 3. `companyId` header present and numeric → else 400; equal to the account's → else 401
//!    `请求未经过认证` (the guide's "未开通接口");
//! 4. `h_sign` equal to the signature recomputed from the parsed query parameter map (repeated
//!    keys merged), the raw body (POST) and `h_t` → else 401 `请求未经过认证`;
//! 5. the same `h_sign` not seen in its 10 s window → else 403 `请求不允许重复执行` (memory is
//!    bounded: a signature is forgotten once its `h_t` is out of the window anyway);
//! 6. query options, JSON body and fields → else 400 (or, in a batch, a per-customer failure).
//!
//! Business refusals of a single import (unknown `staffId`, owner conflict, phone conflict) are
//! 400 in the same shape: the guide documents per-customer `failedReason`s for the batch import
//! but no status for these, and 400 ("请求参数错误") is the documented status nearest to a
//! request the server will not carry out as given. No "already exists" refusal is simulated: an
//! import is an upsert (spec §4.5).
//!
//! Bodies over [`super::MAX_BODY`] get 413, other methods 405, unknown paths 404, all in the
//! vendor's shape.
//!
//! State: customers upserted by `entName` (else `customerName`), contacts matched by
//! `thirdDataId` then phone, and per-key create/update counts, which crash tests read to prove
//! no lead is imported twice. Business rules simulated: an unknown `staffId` fails; updating a
//! customer owned by another staff member fails unless `ownerConflictUpdate=true`
//! (`autoDraw=true` claims a public-sea customer); a contact phone that belongs to another
//! customer fails, or is skipped with `CUSTOMER_PHONE_DUPLICATE_IGNORE`. `checkKeepLimit` and
//! `autoUnlock` are accepted and validated but have no effect.
//!
//! Controls under `/_sim/xiaolanben`: `GET /customers` lists stored customers;
//! `DELETE /customers` forgets customers and counts.
//!
//! For latency measurements (`leadrelay bench`), the instant an import call for a customer name
//! was first received is remembered ([`State::received_at`]), the oldest forgotten first.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State as AxState};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{json, Map, Value};
use subtle::ConstantTimeEq;

use super::{SimShared, MAX_BODY};
use crate::connectors::xiaolanben::client::{
    IMPORT_CUSTOMERS_PATH, IMPORT_CUSTOMER_PATH, STAFFS_PATH,
};
use crate::connectors::xiaolanben::sign;
use crate::connectors::Vendor;

/// Where this vendor is served, below the simulator's base URL.
pub const PREFIX: &str = "/xiaolanben";

/// Config keys of the simulator's built-in xiaolanben account.
pub const CREDENTIALS_TOML: &str = "company_id = 10001\nkey = \"sim-xiaolanben-key\"\n";

const COMPANY_ID: i64 = 10001;
const KEY: &str = "sim-xiaolanben-key";
/// Validity of `h_t` and memory of a used signature, in milliseconds.
const WINDOW_MS: i64 = 10_000;
/// A body over the limit is read (and dropped) up to this size so the client sees the 413
/// instead of a reset connection; beyond it the connection is simply closed.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;
/// The public sea new customers without an owner fall into.
const DEFAULT_PUBLIC_SEA: &str = "PS-DEFAULT";
const FIRST_CUSTOMER_ID: i64 = 1_800_000_000_000_000_001;
const FIRST_CONTACT_ID: i64 = 1_900_000_000_000_000_001;

/// One employee of the simulated company.
struct SimStaff {
    id: i64,
    name: &'static str,
    mobile: &'static str,
    department: &'static str,
    role_id: i64,
    role: &'static str,
}

const STAFF: &[SimStaff] = &[
    SimStaff {
        id: 1001,
        name: "王建国",
        mobile: "13810021001",
        department: "销售一部",
        role_id: 2,
        role: "销售经理",
    },
    SimStaff {
        id: 1002,
        name: "李娜",
        mobile: "13910021002",
        department: "销售一部",
        role_id: 3,
        role: "销售代表",
    },
    SimStaff {
        id: 1003,
        name: "张伟",
        mobile: "15010021003",
        department: "销售一部",
        role_id: 3,
        role: "销售代表",
    },
    SimStaff {
        id: 1004,
        name: "刘洋",
        mobile: "15810021004",
        department: "销售二部",
        role_id: 2,
        role: "销售经理",
    },
    SimStaff {
        id: 1005,
        name: "陈静",
        mobile: "18610021005",
        department: "销售二部",
        role_id: 3,
        role: "销售代表",
    },
    SimStaff {
        id: 1006,
        name: "杨帆",
        mobile: "18810021006",
        department: "销售二部",
        role_id: 3,
        role: "销售代表",
    },
    SimStaff {
        id: 1007,
        name: "赵磊",
        mobile: "13710021007",
        department: "大客户部",
        role_id: 1,
        role: "销售总监",
    },
    SimStaff {
        id: 1008,
        name: "黄丽",
        mobile: "13610021008",
        department: "大客户部",
        role_id: 3,
        role: "销售代表",
    },
    SimStaff {
        id: 1009,
        name: "周杰",
        mobile: "17710021009",
        department: "渠道部",
        role_id: 4,
        role: "渠道经理",
    },
    SimStaff {
        id: 1010,
        name: "吴敏",
        mobile: "18910021010",
        department: "渠道部",
        role_id: 3,
        role: "销售代表",
    },
    SimStaff {
        id: 1011,
        name: "徐强",
        mobile: "15910021011",
        department: "客服部",
        role_id: 5,
        role: "客服专员",
    },
    SimStaff {
        id: 1012,
        name: "孙芳",
        mobile: "13510021012",
        department: "综合管理部",
        role_id: 0,
        role: "管理员",
    },
];

/// Most receive instants remembered; enough for a benchmark run at several thousand leads/s
/// while bounding the simulator's memory when it serves for a long time.
const RECEIVED_CAP: usize = 256 * 1024;

/// xiaolanben simulator state.
#[derive(Debug, Default)]
pub struct State {
    inner: Mutex<Inner>,
    // Apart from `inner` so the benchmark's polling does not contend with the upserts.
    received: Mutex<Received>,
}

/// Customer name → when its first import call was received.
#[derive(Debug, Default)]
struct Received {
    at: HashMap<String, Instant>,
    order: VecDeque<String>,
}

#[derive(Debug, Default)]
struct Inner {
    /// By upsert key (`entName`, else `customerName`).
    customers: BTreeMap<String, StoredCustomer>,
    issued_customers: i64,
    issued_contacts: i64,
    /// Contact phone → the key of the customer holding it.
    phone_owner: HashMap<String, String>,
    creates: BTreeMap<String, u64>,
    updates: BTreeMap<String, u64>,
    /// Used signatures → when they may be forgotten (their `h_t` is then stale anyway).
    seen: HashMap<String, i64>,
    seen_order: VecDeque<(i64, String)>,
    rejected: BTreeMap<&'static str, u64>,
    /// Staff added by `[sim] staff` or `sim::staff([...])`, after the built-in ones.
    extra_staff: Vec<crate::config::sim::StaffSeed>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct StoredCustomer {
    key: String,
    customer_id: i64,
    customer_name: String,
    ent_name: Option<String>,
    staff_id: Option<i64>,
    public_sea_id: Option<String>,
    customer_source: Option<String>,
    tag: Option<String>,
    tag_ids: Vec<String>,
    customize_fields: Map<String, Value>,
    contacts: Vec<StoredContact>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct StoredContact {
    contact_id: i64,
    third_data_id: String,
    phone: Option<String>,
    fields: Map<String, Value>,
}

impl State {
    /// A JSON summary for `GET /_sim/state`: `customers`, `contacts`, `creates`, `updates`
    /// (totals), `creates_by_key`/`updates_by_key` (per upsert key), `rejected` (by reason) and
    /// `remembered_signatures`.
    pub fn snapshot(&self) -> Value {
        let inner = self.lock();
        json!({
            "customers": inner.customers.len(),
            "contacts": inner.customers.values().map(|c| c.contacts.len()).sum::<usize>(),
            "creates": inner.creates.values().sum::<u64>(),
            "updates": inner.updates.values().sum::<u64>(),
            "creates_by_key": inner.creates,
            "updates_by_key": inner.updates,
            "rejected": inner.rejected,
            "remembered_signatures": inner.seen.len(),
        })
    }

    /// When an import call for the customer named `customer_name` was first received (its
    /// signature verified); `None` if none was, or it was forgotten (the oldest go first once
    /// 262,144 names are remembered).
    pub fn received_at(&self, customer_name: &str) -> Option<Instant> {
        self.received_lock().at.get(customer_name).copied()
    }

    /// Forgets every receive instant.
    pub fn clear_received(&self) {
        let mut received = self.received_lock();
        received.at.clear();
        received.order.clear();
    }

    fn note_received(&self, customer_name: &str, at: Instant) {
        let mut received = self.received_lock();
        if received.at.contains_key(customer_name) {
            return;
        }
        if received.order.len() >= RECEIVED_CAP {
            if let Some(oldest) = received.order.pop_front() {
                received.at.remove(&oldest);
            }
        }
        received.at.insert(customer_name.to_string(), at);
        received.order.push_back(customer_name.to_string());
    }

    fn received_lock(&self) -> std::sync::MutexGuard<'_, Received> {
        self.received.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the maps half-updated in a way that
        // matters to a simulator; keep serving.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The vendor API, served below its prefix.
pub fn router(shared: Arc<SimShared>) -> Router {
    Router::new()
        .route(IMPORT_CUSTOMER_PATH, any(import_one))
        .route(IMPORT_CUSTOMERS_PATH, any(import_many))
        .route(STAFFS_PATH, any(staffs))
        .fallback(not_found)
        .with_state(shared)
}

/// Controls under `/_sim/xiaolanben`.
pub fn control_router(shared: Arc<SimShared>) -> Router {
    Router::new()
        .route("/customers", get(list_customers).delete(clear_customers))
        .with_state(shared)
}

async fn list_customers(AxState(shared): AxState<Arc<SimShared>>) -> Json<Value> {
    let inner = shared.xiaolanben.lock();
    Json(json!(inner.customers.values().collect::<Vec<_>>()))
}

async fn clear_customers(AxState(shared): AxState<Arc<SimShared>>) -> Json<Value> {
    shared.xiaolanben.clear_received();
    let mut inner = shared.xiaolanben.lock();
    inner.customers.clear();
    inner.phone_owner.clear();
    inner.creates.clear();
    inner.updates.clear();
    Json(json!({"ok": true}))
}

// ---------------------------------------------------------------------------------------------
// Errors and request plumbing.

fn vendor_error(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({
            "trackingId": uuid::Uuid::new_v4().to_string(),
            "errors": [{"code": status.as_u16(), "message": message.into()}],
        })),
    )
        .into_response()
}

fn bad_request(message: impl Into<String>) -> Response {
    vendor_error(StatusCode::BAD_REQUEST, message)
}

async fn not_found(request: Request) -> Response {
    vendor_error(
        StatusCode::NOT_FOUND,
        format!("接口不存在: {} {}", request.method(), request.uri().path()),
    )
}

enum BodyRead {
    Complete(Bytes),
    TooLarge,
    Broken,
}

async fn read_body(mut body: Body) -> BodyRead {
    let mut buf = Vec::new();
    let mut total = 0usize;
    loop {
        let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        match frame {
            None => break,
            Some(Err(_)) => return BodyRead::Broken,
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    total = total.saturating_add(data.len());
                    if total <= MAX_BODY {
                        buf.extend_from_slice(&data);
                    } else if total > DRAIN_LIMIT {
                        return BodyRead::TooLarge;
                    }
                }
            }
        }
    }
    if total > MAX_BODY {
        BodyRead::TooLarge
    } else {
        BodyRead::Complete(Bytes::from(buf))
    }
}

/// A request that passed steps 1–5 of the module doc.
struct Verified {
    params: Vec<(String, Vec<String>)>,
    body: String,
}

/// Reads and verifies a request for `method`; the `Err` is the answer to send.
async fn verify(
    shared: &SimShared,
    method: Method,
    request: Request,
) -> Result<Verified, Response> {
    let (parts, body) = request.into_parts();
    if parts.method != method {
        return Err(vendor_error(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("Request method '{}' not supported", parts.method),
        ));
    }
    let body = match read_body(body).await {
        BodyRead::Complete(b) => b,
        BodyRead::TooLarge => {
            return Err(vendor_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("请求体过大 (最大 {MAX_BODY} 字节)"),
            ))
        }
        BodyRead::Broken => return Err(bad_request("请求体读取失败")),
    };
    // Like a servlet container decoding the body as UTF-8: invalid bytes become U+FFFD, and
    // the signature is computed over that text.
    let body = String::from_utf8_lossy(&body).into_owned();
    let params = sign::parse_query(parts.uri.query().unwrap_or(""));
    let state = &shared.xiaolanben;
    let reject = |reason: &'static str, response: Response| {
        *state.lock().rejected.entry(reason).or_default() += 1;
        response
    };
    let first = |name: &str| -> Option<&str> {
        params
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.iter().find(|v| !v.is_empty()))
            .map(String::as_str)
    };
    let (Some(h_t), Some(h_sign)) = (first(sign::H_T), first(sign::H_SIGN)) else {
        return Err(reject(
            "missing_signature",
            vendor_error(StatusCode::FORBIDDEN, "请求未包含签名信息"),
        ));
    };
    let now = shared.clock(Vendor::Xiaolanben).unix_millis();
    let Ok(h_t_ms) = h_t.trim().parse::<i64>() else {
        return Err(reject(
            "bad_timestamp",
            vendor_error(StatusCode::FORBIDDEN, "请求签名参数错误: h_t"),
        ));
    };
    if now.abs_diff(h_t_ms) > WINDOW_MS as u64 {
        return Err(reject(
            "stale",
            vendor_error(StatusCode::FORBIDDEN, "请求签名已过期"),
        ));
    }
    match company_id(&parts.headers) {
        Err(message) => return Err(reject("missing_company", bad_request(message))),
        Ok(id) if id != COMPANY_ID => {
            return Err(reject(
                "unknown_company",
                vendor_error(StatusCode::UNAUTHORIZED, "请求未经过认证"),
            ))
        }
        Ok(_) => {}
    }
    let signed_body =
        (parts.method == Method::POST || parts.method == Method::PUT).then_some(body.as_str());
    let expected = sign::h_sign(&params, signed_body, h_t_ms, KEY);
    if !bool::from(expected.as_bytes().ct_eq(h_sign.as_bytes())) {
        return Err(reject(
            "bad_signature",
            vendor_error(StatusCode::UNAUTHORIZED, "请求未经过认证"),
        ));
    }
    let h_sign = h_sign.to_string();
    {
        let mut inner = state.lock();
        while inner.seen_order.front().is_some_and(|(exp, _)| *exp <= now) {
            if let Some((exp, old)) = inner.seen_order.pop_front() {
                if inner.seen.get(&old) == Some(&exp) {
                    inner.seen.remove(&old);
                }
            }
        }
        if inner.seen.get(&h_sign).is_some_and(|exp| *exp > now) {
            *inner.rejected.entry("replay").or_default() += 1;
            return Err(vendor_error(StatusCode::FORBIDDEN, "请求不允许重复执行"));
        }
        let expires = h_t_ms + WINDOW_MS + 1;
        inner.seen.insert(h_sign.clone(), expires);
        inner.seen_order.push_back((expires, h_sign));
    }
    Ok(Verified { params, body })
}

fn company_id(headers: &HeaderMap) -> Result<i64, String> {
    let value = headers
        .get("companyId")
        .ok_or("缺少请求头 companyId")?
        .to_str()
        .map_err(|_| "请求头 companyId 类型错误")?;
    value
        .trim()
        .parse::<i64>()
        .map_err(|_| format!("请求头 companyId 类型错误: {value:?}"))
}

// ---------------------------------------------------------------------------------------------
// Query options.

#[derive(Debug, Default, Clone, Copy)]
struct Options {
    owner_conflict_update: bool,
    auto_draw: bool,
    ignore_phone_conflicts: bool,
}

/// Spring's boolean conversion: true/false/on/off/yes/no/1/0, any case.
fn parse_bool(name: &str, value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "on" | "yes" | "1" => Ok(true),
        "false" | "off" | "no" | "0" => Ok(false),
        _ => Err(format!("参数类型错误: {name}={value}")),
    }
}

fn parse_options(params: &[(String, Vec<String>)]) -> Result<Options, String> {
    let mut opts = Options::default();
    for (key, values) in params {
        let Some(value) = values.iter().find(|v| !v.is_empty()) else {
            continue;
        };
        match key.as_str() {
            "checkKeepLimit" | "autoUnlock" => {
                parse_bool(key, value)?;
            }
            "ownerConflictUpdate" => opts.owner_conflict_update = parse_bool(key, value)?,
            "autoDraw" => opts.auto_draw = parse_bool(key, value)?,
            "duplicateControl" => match value.as_str() {
                "SYSTEM" | "CUSTOMER_PHONE_DUPLICATE_FAIL" => {}
                "CUSTOMER_PHONE_DUPLICATE_IGNORE" => opts.ignore_phone_conflicts = true,
                other => return Err(format!("参数错误: duplicateControl 不支持 {other}")),
            },
            _ => {}
        }
    }
    Ok(opts)
}

// ---------------------------------------------------------------------------------------------
// Customer parsing: `Request` problems fail the whole call (Jackson could not bind the body);
// `Customer` problems fail only that customer in a batch.

enum Reject {
    Request(String),
    Customer(String),
}

struct ParsedContact {
    third_data_id: String,
    phone: Option<String>,
    fields: Map<String, Value>,
}

struct ParsedCustomer {
    key: String,
    customer_name: String,
    ent_name: Option<String>,
    staff_id: Option<i64>,
    customer_source: Option<String>,
    public_sea_id: Option<String>,
    tag: Option<String>,
    tag_ids: Option<Vec<String>>,
    customize_fields: Map<String, Value>,
    contacts: Vec<ParsedContact>,
}

fn java_len(text: &str) -> usize {
    text.encode_utf16().count()
}

/// A string field (Jackson also binds numbers and booleans to `String`).
fn text(obj: &Map<String, Value>, field: &str, path: &str) -> Result<Option<String>, Reject> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => Ok(Some(v.to_string())),
        Some(_) => Err(Reject::Request(format!(
            "参数类型错误: {path}{field} 应为字符串"
        ))),
    }
}

fn max_len(value: &Option<String>, field: &str, path: &str, max: usize) -> Result<(), Reject> {
    match value {
        Some(v) if java_len(v) > max => {
            Err(Reject::Customer(format!("{path}{field} 长度不能超过{max}")))
        }
        _ => Ok(()),
    }
}

fn parse_customer(value: &Value, path: &str) -> Result<ParsedCustomer, Reject> {
    let Some(obj) = value.as_object() else {
        return Err(Reject::Request(format!("参数类型错误: {path}应为对象")));
    };
    let customer_name = text(obj, "customerName", path)?.unwrap_or_default();
    if customer_name.trim().is_empty() {
        return Err(Reject::Request(format!("{path}customerName 不能为空")));
    }
    let ent_name = text(obj, "entName", path)?;
    let staff_id = match obj.get("staffId") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(
            n.as_i64()
                .ok_or_else(|| Reject::Request(format!("参数类型错误: {path}staffId 应为Long")))?,
        ),
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(
            s.trim()
                .parse::<i64>()
                .map_err(|_| Reject::Request(format!("参数类型错误: {path}staffId 应为Long")))?,
        ),
        Some(_) => {
            return Err(Reject::Request(format!(
                "参数类型错误: {path}staffId 应为Long"
            )))
        }
    };
    let tag_ids = match obj.get("tagIds") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    Value::Number(n) => Ok(n.to_string()),
                    _ => Err(Reject::Request(format!(
                        "参数类型错误: {path}tagIds 应为字符串列表"
                    ))),
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Some(_) => {
            return Err(Reject::Request(format!(
                "参数类型错误: {path}tagIds 应为列表"
            )))
        }
    };
    let contacts = match obj.get("contacts") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, c)| parse_contact(c, &format!("{path}contacts[{i}].")))
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => {
            return Err(Reject::Request(format!(
                "参数类型错误: {path}contacts 应为列表"
            )))
        }
    };
    let customer = ParsedCustomer {
        key: ent_name
            .clone()
            .filter(|e| !e.is_empty())
            .unwrap_or_else(|| customer_name.clone()),
        customer_source: text(obj, "customerSource", path)?,
        public_sea_id: text(obj, "publicSeaId", path)?.filter(|s| !s.is_empty()),
        tag: text(obj, "tag", path)?,
        customize_fields: custom_fields(obj),
        customer_name,
        ent_name,
        staff_id,
        tag_ids,
        contacts,
    };
    if java_len(&customer.customer_name) > 200 {
        return Err(Reject::Customer(format!(
            "{path}customerName 长度需介于1~200"
        )));
    }
    max_len(&customer.ent_name, "entName", path, 200)?;
    Ok(customer)
}

fn custom_fields(obj: &Map<String, Value>) -> Map<String, Value> {
    obj.iter()
        .filter(|(k, _)| k.starts_with("customizeField."))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn parse_contact(value: &Value, path: &str) -> Result<ParsedContact, Reject> {
    let Some(obj) = value.as_object() else {
        return Err(Reject::Request(format!("参数类型错误: {path}应为对象")));
    };
    let third_data_id = text(obj, "thirdDataId", path)?.unwrap_or_default();
    if third_data_id.trim().is_empty() {
        return Err(Reject::Customer(format!("{path}thirdDataId 不能为空")));
    }
    let mut fields = custom_fields(obj);
    for (field, max) in [
        ("name", 30),
        ("position", 30),
        ("dept", 30),
        ("phone", 30),
        ("tel", 30),
        ("email", 100),
        ("addr", 200),
        ("logo", 400),
        ("wechat", 30),
        ("qq", 30),
        ("gender", 2),
        ("birthday", 10),
        ("remark", usize::MAX),
    ] {
        let value = text(obj, field, path)?;
        max_len(&value, field, path, max)?;
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            fields.insert(field.into(), Value::String(v));
        }
    }
    if let Some(g) = fields.get("gender").and_then(Value::as_str) {
        if !["男", "女", "未知"].contains(&g) {
            return Err(Reject::Customer(format!("{path}gender 只能为 男/女/未知")));
        }
    }
    Ok(ParsedContact {
        phone: fields
            .get("phone")
            .and_then(Value::as_str)
            .map(str::to_string),
        third_data_id,
        fields,
    })
}

// ---------------------------------------------------------------------------------------------
// The upsert.

impl Inner {
    /// Creates or updates one customer; checks every rule before changing anything, so a failed
    /// customer leaves no trace. Returns the answer entry (without `success`).
    fn upsert(&mut self, c: ParsedCustomer, opts: Options) -> Result<Map<String, Value>, String> {
        if let Some(id) = c.staff_id {
            if !STAFF.iter().any(|s| s.id == id) && !self.extra_staff.iter().any(|s| s.id == id) {
                return Err(format!("员工不存在: staffId={id}"));
            }
        }
        let existing = self.customers.get(&c.key);
        let mut draw = false;
        if let Some(e) = existing {
            match (e.staff_id, c.staff_id) {
                (None, Some(_)) if opts.auto_draw => draw = true,
                (None, _) => {}
                (Some(owner), Some(asked)) if owner == asked => {}
                (Some(_), _) if opts.owner_conflict_update => {}
                (Some(_), _) => return Err("客户已归属于其它员工，不允许更新".into()),
            }
        }
        // Contacts whose phone belongs to another customer: fail, or drop them when asked to.
        let mut keep = Vec::with_capacity(c.contacts.len());
        for contact in &c.contacts {
            let conflict = contact
                .phone
                .as_ref()
                .and_then(|p| self.phone_owner.get(p))
                .is_some_and(|owner| *owner != c.key);
            if conflict && !opts.ignore_phone_conflicts {
                return Err(format!(
                    "联系人手机号已归属于其它客户: thirdDataId={}",
                    contact.third_data_id
                ));
            }
            keep.push(!conflict);
        }

        let is_new = existing.is_none();
        if is_new {
            let customer_id = FIRST_CUSTOMER_ID + self.issued_customers;
            self.issued_customers += 1;
            let public_sea_id = match (&c.public_sea_id, c.staff_id) {
                (Some(sea), _) => Some(sea.clone()),
                (None, None) => Some(DEFAULT_PUBLIC_SEA.to_string()),
                (None, Some(_)) => None,
            };
            self.customers.insert(
                c.key.clone(),
                StoredCustomer {
                    key: c.key.clone(),
                    customer_id,
                    customer_name: c.customer_name.clone(),
                    ent_name: c.ent_name.clone().filter(|e| !e.is_empty()),
                    staff_id: c.staff_id,
                    public_sea_id,
                    customer_source: c.customer_source.clone(),
                    tag: c.tag.clone(),
                    tag_ids: c.tag_ids.clone().unwrap_or_default(),
                    customize_fields: Map::new(),
                    contacts: Vec::new(),
                },
            );
            *self.creates.entry(c.key.clone()).or_default() += 1;
        } else {
            *self.updates.entry(c.key.clone()).or_default() += 1;
        }
        let mut contact_ids = Map::new();
        let mut next_contact = FIRST_CONTACT_ID + self.issued_contacts;
        let mut new_phones = Vec::new();
        let stored = self
            .customers
            .get_mut(&c.key)
            .expect("inserted or present above");
        stored.customer_name = c.customer_name;
        if draw {
            stored.staff_id = c.staff_id;
        }
        if c.tag.is_some() {
            stored.tag = c.tag;
        }
        if let Some(tag_ids) = c.tag_ids {
            stored.tag_ids = tag_ids;
        }
        stored.customize_fields.extend(c.customize_fields);
        for (contact, keep) in c.contacts.into_iter().zip(keep) {
            if !keep {
                continue;
            }
            let found = stored
                .contacts
                .iter()
                .position(|s| s.third_data_id == contact.third_data_id)
                .or_else(|| {
                    let phone = contact.phone.as_ref()?;
                    stored
                        .contacts
                        .iter()
                        .position(|s| s.phone.as_ref() == Some(phone))
                });
            let contact_id = match found {
                Some(i) => {
                    let s = &mut stored.contacts[i];
                    s.third_data_id = contact.third_data_id.clone();
                    s.fields.extend(contact.fields);
                    if contact.phone.is_some() {
                        s.phone = contact.phone.clone();
                    }
                    s.contact_id
                }
                None => {
                    let id = next_contact;
                    next_contact += 1;
                    stored.contacts.push(StoredContact {
                        contact_id: id,
                        third_data_id: contact.third_data_id.clone(),
                        phone: contact.phone.clone(),
                        fields: contact.fields,
                    });
                    id
                }
            };
            if let Some(p) = contact.phone {
                new_phones.push(p);
            }
            contact_ids.insert(contact.third_data_id, json!(contact_id));
        }
        let answer = json!({
            "customerId": stored.customer_id,
            "staffId": stored.staff_id,
            "publicSeaId": stored.public_sea_id,
            "isNew": is_new,
            "contactIdMap": contact_ids,
        });
        self.issued_contacts = next_contact - FIRST_CONTACT_ID;
        for p in new_phones {
            self.phone_owner.insert(p, c.key.clone());
        }
        match answer {
            Value::Object(map) => Ok(map),
            _ => unreachable!("json! object"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Handlers.

async fn import_one(AxState(shared): AxState<Arc<SimShared>>, request: Request) -> Response {
    let received = Instant::now();
    let v = match verify(&shared, Method::POST, request).await {
        Ok(v) => v,
        Err(response) => return response,
    };
    let opts = match parse_options(&v.params) {
        Ok(o) => o,
        Err(m) => return bad_request(m),
    };
    let body: Value = match serde_json::from_str(&v.body) {
        Ok(b) => b,
        Err(e) => return bad_request(format!("请求体不是合法的JSON: {e}")),
    };
    let customer = match parse_customer(&body, "") {
        Ok(c) => c,
        Err(Reject::Request(m) | Reject::Customer(m)) => return bad_request(m),
    };
    shared
        .xiaolanben
        .note_received(&customer.customer_name, received);
    match shared.xiaolanben.lock().upsert(customer, opts) {
        Ok(answer) => Json(Value::Object(answer)).into_response(),
        Err(reason) => bad_request(reason),
    }
}

async fn import_many(AxState(shared): AxState<Arc<SimShared>>, request: Request) -> Response {
    let received = Instant::now();
    let v = match verify(&shared, Method::POST, request).await {
        Ok(v) => v,
        Err(response) => return response,
    };
    let opts = match parse_options(&v.params) {
        Ok(o) => o,
        Err(m) => return bad_request(m),
    };
    let body: Value = match serde_json::from_str(&v.body) {
        Ok(b) => b,
        Err(e) => return bad_request(format!("请求体不是合法的JSON: {e}")),
    };
    let Value::Array(items) = body else {
        return bad_request("参数类型错误: 请求体应为客户列表");
    };
    if items.is_empty() {
        return bad_request("客户列表不能为空");
    }
    // Bind everything first (a binding error fails the call), then import one by one.
    let mut parsed = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let path = format!("[{i}].");
        match parse_customer(item, &path) {
            Ok(c) => {
                shared.xiaolanben.note_received(&c.customer_name, received);
                parsed.push((c.customer_name.clone(), Ok(c)));
            }
            Err(Reject::Request(m)) => return bad_request(m),
            Err(Reject::Customer(m)) => {
                let name = item
                    .get("customerName")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                parsed.push((name, Err(m)));
            }
        }
    }
    let mut answer = Map::new();
    let mut inner = shared.xiaolanben.lock();
    for (name, customer) in parsed {
        let entry = match customer.and_then(|c| inner.upsert(c, opts)) {
            Ok(mut fields) => {
                let mut entry = Map::new();
                entry.insert("success".into(), json!(true));
                entry.append(&mut fields);
                entry.insert("failedReason".into(), Value::Null);
                entry
            }
            Err(reason) => json!({
                "success": false,
                "customerId": null,
                "staffId": null,
                "publicSeaId": null,
                "isNew": null,
                "contactIdMap": null,
                "failedReason": reason,
            })
            .as_object()
            .cloned()
            .unwrap_or_default(),
        };
        answer.insert(name, Value::Object(entry));
    }
    Json(Value::Object(answer)).into_response()
}

async fn staffs(AxState(shared): AxState<Arc<SimShared>>, request: Request) -> Response {
    let v = match verify(&shared, Method::GET, request).await {
        Ok(v) => v,
        Err(response) => return response,
    };
    let first = |name: &str| {
        v.params
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, vals)| vals.iter().find(|x| !x.is_empty()))
            .cloned()
    };
    let int = |name: &str| -> Result<i64, String> {
        let raw = first(name).ok_or_else(|| format!("缺少必传参数 {name}"))?;
        raw.trim()
            .parse::<i64>()
            .map_err(|_| format!("参数类型错误: {name}={raw}"))
    };
    let (page_index, page_size) = match (int("pageIndex"), int("pageSize")) {
        (Ok(i), Ok(s)) => (i, s),
        (Err(m), _) | (_, Err(m)) => return bad_request(m),
    };
    if page_index < 1 {
        return bad_request("pageIndex 必须从1开始");
    }
    if !(2..=100).contains(&page_size) {
        return bad_request("pageSize 需介于2~100之间");
    }
    let search = first("search");
    let extra = shared.xiaolanben.lock().extra_staff.clone();
    let everyone = STAFF
        .iter()
        .map(|s| {
            json!({
                "staffId": s.id,
                "realName": s.name,
                "mobile": s.mobile,
                "department": s.department,
                "roleId": s.role_id,
                "role": s.role,
            })
        })
        .chain(extra.iter().map(seeded_staff_json));
    let matching: Vec<Value> = everyone
        .filter(|s| match &search {
            Some(q) => {
                s["realName"].as_str().unwrap_or("").contains(q.as_str())
                    || s["mobile"].as_str() == Some(q.as_str())
            }
            None => true,
        })
        .collect();
    let skip = (page_index - 1).saturating_mul(page_size);
    let page: Vec<Value> = matching
        .into_iter()
        .skip(usize::try_from(skip).unwrap_or(usize::MAX))
        .take(page_size as usize)
        .collect();
    Json(Value::Array(page)).into_response()
}

fn seeded_staff_json(s: &crate::config::sim::StaffSeed) -> Value {
    json!({
        "staffId": s.id,
        "realName": s.name,
        "mobile": s.mobile.clone().unwrap_or_default(),
        "department": s.department.clone().unwrap_or_default(),
        "roleId": 3,
        "role": s.role.clone().unwrap_or_else(|| "销售代表".to_string()),
    })
}

impl State {
    /// Adds staff members (`[sim] staff`, `sim::staff([...])`): imports may then name their
    /// `staffId`s, and `staffs` lists them after the built-in 1001–1012. An id already known
    /// is refused.
    pub fn seed_staff(&self, staff: &[crate::config::sim::StaffSeed]) -> Result<(), String> {
        let mut inner = self.lock();
        for (i, s) in staff.iter().enumerate() {
            if STAFF.iter().any(|b| b.id == s.id) || inner.extra_staff.iter().any(|b| b.id == s.id)
            {
                return Err(format!(
                    "staff #{} (id {}): the simulator already has staffId {}",
                    i + 1,
                    s.id,
                    s.id
                ));
            }
            inner.extra_staff.push(s.clone());
        }
        Ok(())
    }
}
