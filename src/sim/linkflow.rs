//! Simulated Linkflow CDP: `GET /token` with the App Key/Secret headers, `X-OpenApi-Token` on
//! every other call, bare-body answers and `{"domain":"linkflow","code","message"}` errors with
//! the B-codes of spec §5.4, and state for contacts, events, orders, tags, groups and short links.
//!
//! Every B-code answered is one the seed lists, under the HTTP status the seed gives for it
//! (e.g. 404 B00008, 420 B00030, 500 B01151, 400 B00001). Choices where the vendor document is
//! silent (all visible to tests through [`State::snapshot`]):
//! - token problems (missing, unknown or expired token, wrong App Key/Secret) are a bare HTTP
//!   401 with a plain-text reason and no Linkflow error body: Linkflow documents no token error
//!   code, and the spec's token policy (§5.3) reacts to 401/403, so nothing needs one; unknown
//!   paths are a bare 404 and a non-GET `/token` a bare 405, as any web server answers;
//! - old tokens stay valid until they expire; the lifetime defaults to 2 h and is set by a
//!   control;
//! - a repeated `request_id` is acknowledged without being applied again, as is a repeated
//!   `message_id`, so a resent batch cannot double-create;
//! - contact ids start above 2^53 so that any float on the way corrupts them visibly;
//! - reports answer `status` 0 on the first request and 1 afterwards (poll-until-done);
//! - limits the doc names without a number (B00031 列表超过最大数量, B01206 上传数量超过限制,
//!   B00157 群组数量上限, B00037 标签配额) are not enforced: the simulator would have to invent
//!   the number. `POST /_sim/linkflow/fail_next` produces those answers on demand. The orders
//!   window pages 100 orders at a time (a page size, not a refusal).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Body;
use axum::extract::{Request, State as AxumState};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde_json::{json, Map, Value};
use subtle::ConstantTimeEq;

use super::{SimShared, MAX_BODY};
use crate::clock::beijing;
use crate::connectors::Vendor;

/// Where this vendor is served, below the simulator's base URL.
pub const PREFIX: &str = "/linkflow";

/// Config keys of the simulator's built-in linkflow account.
pub const CREDENTIALS_TOML: &str =
    "app_key = \"sim-linkflow-key\"\napp_secret = \"sim-linkflow-secret\"\n";

const APP_KEY: &str = "sim-linkflow-key";
const APP_SECRET: &str = "sim-linkflow-secret";
const DEFAULT_TOKEN_TTL_SECS: i64 = 7200;
/// 2^53 + 1: the first contact id is already beyond what an f64 holds exactly.
const FIRST_CONTACT_ID: u64 = 9_007_199_254_740_993;
const FIRST_ORDER_ID: u64 = 144_357_503_180_802;
const FIRST_TASK_ID: u64 = 19_723_653_547_885;
/// The one WeCom channel the sim knows (the doc's example).
const WECOM_CHANNEL: &str = "ww0b8772cfc1ed757c";
const DASHBOARD_ID: u64 = 1;
const DASHBOARD_REPORTS: &[(u64, &str)] = &[
    (404, "归因无"),
    (410, "统计分析"),
    (411, "分享转发"),
    (412, "用户"),
    (413, "粉丝数"),
];
/// Dimension tables: alias and primary key column (`None`: a table without a key, B01201).
const DIMENSIONS: &[(&str, Option<&str>)] = &[
    ("dim_color", Some("id")),
    ("dim_store", Some("storeId")),
    ("dim_nokey", None),
];
const UNBINDABLE_TYPES: &[&str] = &["email", "idCard"];
const ORDER_PAGE: usize = 100;

/// Linkflow simulator state.
#[derive(Debug, Default)]
pub struct State {
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    token_ttl_secs: i64,
    /// token → expiry (unix seconds).
    tokens: HashMap<String, i64>,
    token_requests: u64,
    token_rejections: u64,
    contacts: BTreeMap<u64, SimContact>,
    identity_index: HashMap<(String, String), u64>,
    next_contact_id: u64,
    contacts_created: u64,
    contacts_updated: u64,
    creates_by_identity: BTreeMap<String, u64>,
    updates_by_identity: BTreeMap<String, u64>,
    events: u64,
    events_by_type: BTreeMap<String, u64>,
    seen_request_ids: HashSet<String>,
    seen_message_ids: HashSet<String>,
    duplicate_requests: u64,
    duplicate_messages: u64,
    orders: BTreeMap<u64, SimOrder>,
    order_index: HashMap<String, u64>,
    next_order_id: u64,
    orders_created: u64,
    orders_updated: u64,
    tags: BTreeMap<u64, SimTag>,
    next_tag_id: u64,
    tag_uploads: u64,
    exports: HashMap<u64, (String, u32)>,
    next_task_id: u64,
    dimension_rows: BTreeMap<String, BTreeMap<String, Value>>,
    groups: BTreeMap<u64, SimGroup>,
    next_group_id: u64,
    next_member_id: u64,
    short_urls: Vec<(String, String, Option<String>)>,
    report_polls: HashMap<u64, u32>,
    /// An error the next authenticated API call answers with instead of being served.
    fail_next: Option<(u16, String, String)>,
}

impl Default for Inner {
    fn default() -> Self {
        let mut groups = BTreeMap::new();
        groups.insert(
            51,
            SimGroup {
                id: 51,
                name: "最近7天活跃客户".into(),
                group_type: "dynamic".into(),
                ext1: None,
                ext2: None,
                created: "2017-12-11 11:20:04".into(),
                updated: "2017-12-11 16:52:39".into(),
                members: BTreeMap::new(),
            },
        );
        Self {
            token_ttl_secs: DEFAULT_TOKEN_TTL_SECS,
            tokens: HashMap::new(),
            token_requests: 0,
            token_rejections: 0,
            contacts: BTreeMap::new(),
            identity_index: HashMap::new(),
            next_contact_id: FIRST_CONTACT_ID,
            contacts_created: 0,
            contacts_updated: 0,
            creates_by_identity: BTreeMap::new(),
            updates_by_identity: BTreeMap::new(),
            events: 0,
            events_by_type: BTreeMap::new(),
            seen_request_ids: HashSet::new(),
            seen_message_ids: HashSet::new(),
            duplicate_requests: 0,
            duplicate_messages: 0,
            orders: BTreeMap::new(),
            order_index: HashMap::new(),
            next_order_id: FIRST_ORDER_ID,
            orders_created: 0,
            orders_updated: 0,
            tags: BTreeMap::new(),
            next_tag_id: 1,
            tag_uploads: 0,
            exports: HashMap::new(),
            next_task_id: FIRST_TASK_ID,
            dimension_rows: BTreeMap::new(),
            groups,
            next_group_id: 300,
            next_member_id: 1_243_167,
            short_urls: Vec::new(),
            report_polls: HashMap::new(),
            fail_next: None,
        }
    }
}

#[derive(Debug, Clone)]
struct SimContact {
    id: u64,
    fields: Map<String, Value>,
    identities: Vec<(String, String, String)>,
    channels: BTreeSet<String>,
    tags: BTreeMap<u64, String>,
    created: String,
    updated: String,
    updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
struct SimOrder {
    body: Map<String, Value>,
    updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
struct SimTag {
    id: u64,
    key: String,
    name: String,
    data_type: String,
    created: String,
    updated: String,
    last_calculated: Option<String>,
}

#[derive(Debug, Clone)]
struct SimGroup {
    id: u64,
    name: String,
    group_type: String,
    ext1: Option<String>,
    ext2: Option<String>,
    created: String,
    updated: String,
    /// memberId → (contact id, added at).
    members: BTreeMap<u64, (u64, String)>,
}

impl State {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere must not take the simulator down with it.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A JSON summary for `GET /_sim/state`.
    pub fn snapshot(&self) -> Value {
        let s = self.lock();
        let dims: BTreeMap<_, _> = s
            .dimension_rows
            .iter()
            .map(|(k, v)| (k.clone(), v.len()))
            .collect();
        json!({
            "token_requests": s.token_requests,
            "tokens_issued": s.tokens.len(),
            "token_rejections": s.token_rejections,
            "token_ttl_secs": s.token_ttl_secs,
            "contacts": s.contacts.len(),
            "contacts_created": s.contacts_created,
            "contacts_updated": s.contacts_updated,
            "creates_by_identity": s.creates_by_identity,
            "updates_by_identity": s.updates_by_identity,
            "events": s.events,
            "events_by_type": s.events_by_type,
            "duplicate_requests": s.duplicate_requests,
            "duplicate_messages": s.duplicate_messages,
            "orders": s.orders.len(),
            "orders_created": s.orders_created,
            "orders_updated": s.orders_updated,
            "tags": s.tags.len(),
            "tag_uploads": s.tag_uploads,
            "groups": s.groups.len(),
            "short_urls": s.short_urls.len(),
            "dimension_rows": dims,
        })
    }
}

/// The vendor API, served below its prefix. One handler routes by hand so that every
/// answer, unknown paths and oversized bodies included, comes in Linkflow's error shape.
pub fn router(shared: Arc<SimShared>) -> Router {
    Router::new()
        .route("/", any(handle))
        .route("/{*path}", any(handle))
        .with_state(shared)
}

/// Controls under `/_sim/linkflow`: `POST /token_ttl {"seconds": N}`, `POST /expire_tokens`,
/// `POST /contacts {"count": N}` (synthetic contacts with a `mobilePhone` identity), and
/// `POST /fail_next {"status": 200, "code": "B01151", "message": "…"}` (the next authenticated
/// call answers that Linkflow error body, e.g. a business error under HTTP 200).
pub fn control_router(shared: Arc<SimShared>) -> Router {
    Router::new()
        .route("/token_ttl", post(set_token_ttl))
        .route("/fail_next", post(set_fail_next))
        .route("/expire_tokens", post(expire_tokens))
        .route("/contacts", post(generate_contacts))
        .with_state(shared)
}

async fn set_token_ttl(AxumState(shared): AxumState<Arc<SimShared>>, body: Body) -> Response {
    let body = match axum::body::to_bytes(body, 4096).await {
        Ok(b) => b,
        Err(_) => return control_error("body too large"),
    };
    match serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("seconds").and_then(Value::as_i64))
    {
        Some(seconds) if seconds >= 0 => {
            shared.linkflow.lock().token_ttl_secs = seconds;
            Json(json!({"ok": true, "seconds": seconds})).into_response()
        }
        _ => control_error("expected {\"seconds\": N} with N >= 0"),
    }
}

async fn set_fail_next(AxumState(shared): AxumState<Arc<SimShared>>, body: Body) -> Response {
    let body = match axum::body::to_bytes(body, 4096).await {
        Ok(b) => b,
        Err(_) => return control_error("body too large"),
    };
    let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let status = value
        .get("status")
        .and_then(Value::as_u64)
        .and_then(|s| u16::try_from(s).ok())
        .filter(|s| StatusCode::from_u16(*s).is_ok());
    let code = value.get("code").and_then(Value::as_str);
    let message = value.get("message").and_then(Value::as_str).unwrap_or("");
    match (status, code) {
        (Some(status), Some(code)) => {
            shared.linkflow.lock().fail_next = Some((status, code.into(), message.into()));
            Json(json!({"ok": true})).into_response()
        }
        _ => control_error("expected {\"status\": N, \"code\": \"B…\", \"message\": \"…\"}"),
    }
}

/// A bare HTTP error without Linkflow's error body, for what Linkflow documents no body for.
fn bare(status: StatusCode, reason: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        reason.to_string(),
    )
        .into_response()
}

fn injected(status: u16, code: &str, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    (
        status,
        Json(json!({"domain": "linkflow", "code": code, "message": message})),
    )
        .into_response()
}

async fn expire_tokens(AxumState(shared): AxumState<Arc<SimShared>>) -> Response {
    let now = shared.clock(Vendor::Linkflow).unix_secs();
    let mut s = shared.linkflow.lock();
    let count = s.tokens.len();
    for expiry in s.tokens.values_mut() {
        *expiry = (*expiry).min(now - 1);
    }
    Json(json!({"ok": true, "expired": count})).into_response()
}

async fn generate_contacts(AxumState(shared): AxumState<Arc<SimShared>>, body: Body) -> Response {
    let body = match axum::body::to_bytes(body, 4096).await {
        Ok(b) => b,
        Err(_) => return control_error("body too large"),
    };
    let count = match serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("count").and_then(Value::as_u64))
    {
        Some(n) if n <= 10_000 => n,
        _ => return control_error("expected {\"count\": N} with N <= 10000"),
    };
    let now = shared.clock(Vendor::Linkflow).now();
    let mut rng = rand::thread_rng();
    let mut s = shared.linkflow.lock();
    let mut ids = Vec::new();
    for _ in 0..count {
        let p = super::synth::person(&mut rng);
        let identity = ("mobilePhone".to_string(), p.phone.clone());
        if s.identity_index.contains_key(&identity) {
            continue;
        }
        let mut fields = Map::new();
        fields.insert("name".into(), json!(p.name));
        fields.insert("mobilePhone".into(), json!(p.phone));
        fields.insert("state".into(), json!(p.province));
        fields.insert("city".into(), json!(p.city));
        fields.insert(
            "gender".into(),
            json!(["unknown", "male", "female"][usize::from(p.gender.min(2))]),
        );
        let id = s.create_contact(&[identity], now);
        if let Some(c) = s.contacts.get_mut(&id) {
            c.fields = fields;
        }
        ids.push(id);
    }
    Json(json!({"ok": true, "ids": ids})).into_response()
}

fn control_error(message: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": message}))).into_response()
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// One Linkflow error answer.
struct Fail {
    status: u16,
    code: &'static str,
    message: String,
}

fn fail(status: u16, code: &'static str, message: impl Into<String>) -> Fail {
    Fail {
        status,
        code,
        message: message.into(),
    }
}

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        (
            status,
            Json(json!({"domain": "linkflow", "code": self.code, "message": self.message})),
        )
            .into_response()
    }
}

type Answer = Result<Response, Fail>;

fn ok_json(value: Value) -> Answer {
    Ok((StatusCode::OK, Json(value)).into_response())
}

fn ok_empty() -> Answer {
    Ok(StatusCode::OK.into_response())
}

// ---------------------------------------------------------------------------------------------
// Request parsing helpers
// ---------------------------------------------------------------------------------------------

struct Req {
    method: Method,
    segments: Vec<String>,
    query: HashMap<String, String>,
    headers: HeaderMap,
    body: bytes::Bytes,
    now: DateTime<Utc>,
}

impl Req {
    fn q(&self, key: &str) -> Option<&str> {
        self.query
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    fn q_u64(&self, key: &str) -> Result<Option<u64>, Fail> {
        self.q(key)
            .map(|v| {
                v.trim()
                    .parse::<u64>()
                    .map_err(|_| fail(400, "B00010", format!("参数不合法: {key}={v}")))
            })
            .transpose()
    }

    fn q_i64(&self, key: &str) -> Result<Option<i64>, Fail> {
        self.q(key)
            .map(|v| {
                v.trim()
                    .parse::<i64>()
                    .map_err(|_| fail(400, "B00010", format!("参数不合法: {key}={v}")))
            })
            .transpose()
    }

    fn json(&self) -> Result<Value, Fail> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Err(fail(400, "B00002", "必填参数为空: request body"));
        }
        serde_json::from_slice(&self.body)
            .map_err(|e| fail(400, "B00010", format!("参数不合法: body is not JSON ({e})")))
    }

    fn json_object(&self) -> Result<Map<String, Value>, Fail> {
        match self.json()? {
            Value::Object(map) => Ok(map),
            _ => Err(fail(
                400,
                "B00010",
                "参数不合法: body must be a JSON object",
            )),
        }
    }

    fn stamp(&self) -> String {
        stamp(self.now)
    }
}

fn stamp(t: DateTime<Utc>) -> String {
    t.with_timezone(&beijing())
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

fn path_id(text: &str, what: &str) -> Result<u64, Fail> {
    text.parse()
        .map_err(|_| fail(400, "B00010", format!("参数不合法: {what} [{text}]")))
}

/// A string, or a number written as text; `None` for anything else or blank.
fn text_of(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) if n.is_u64() || n.is_i64() => Some(n.to_string()),
        _ => None,
    }
}

fn id_of(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn required_text(map: &Map<String, Value>, key: &str) -> Result<String, Fail> {
    text_of(map.get(key)).ok_or_else(|| fail(400, "B00002", format!("必填参数为空: {key}")))
}

fn identity_of(v: &Value, field: &str) -> Result<(String, String), Fail> {
    let id = text_of(v.get("id"));
    let kind = text_of(v.get("type"));
    match (kind, id) {
        (Some(kind), Some(id)) => Ok((kind, id)),
        _ => Err(fail(
            400,
            "B00002",
            format!("必填参数为空: {field}.id/type"),
        )),
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).and_then(|b| hex(*b)),
                bytes.get(i + 2).and_then(|b| hex(*b)),
            ) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ---------------------------------------------------------------------------------------------
// The handler
// ---------------------------------------------------------------------------------------------

async fn handle(AxumState(shared): AxumState<Arc<SimShared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return fail(
                413,
                "B00010",
                format!("参数不合法: request body exceeds {MAX_BODY} bytes"),
            )
            .into_response()
        }
    };
    let segments = parts
        .uri
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    let query = form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    let req = Req {
        method: parts.method,
        segments,
        query,
        headers: parts.headers,
        body,
        now: shared.clock(Vendor::Linkflow).now(),
    };
    let mut state = shared.linkflow.lock();
    state.serve(&req)
}

impl Inner {
    fn serve(&mut self, req: &Req) -> Response {
        let segs: Vec<&str> = req.segments.iter().map(String::as_str).collect();
        let answer = if segs == ["token"] {
            self.token(req)
        } else {
            if let Err(reason) = self.check_token(req) {
                return bare(StatusCode::UNAUTHORIZED, reason);
            }
            match self.fail_next.take() {
                Some((status, code, message)) => Ok(injected(status, &code, &message)),
                None => self.route(req, &segs),
            }
        };
        answer.unwrap_or_else(IntoResponse::into_response)
    }

    fn token(&mut self, req: &Req) -> Answer {
        self.token_requests += 1;
        if req.method != Method::GET {
            return Ok(bare(StatusCode::METHOD_NOT_ALLOWED, "GET /token only"));
        }
        let header = |name: &str| {
            req.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        let key = header("x-openapi-key");
        let secret = header("x-openapi-secret");
        if key.is_empty() || secret.is_empty() {
            return Ok(bare(
                StatusCode::UNAUTHORIZED,
                "X-OpenApi-Key and X-OpenApi-Secret are required",
            ));
        }
        let key_ok = key.as_bytes().ct_eq(APP_KEY.as_bytes());
        let secret_ok = secret.as_bytes().ct_eq(APP_SECRET.as_bytes());
        if !bool::from(key_ok & secret_ok) {
            return Ok(bare(
                StatusCode::UNAUTHORIZED,
                "App Key or App Secret is wrong",
            ));
        }
        let raw = format!("2-{}", uuid::Uuid::new_v4());
        let token = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, raw);
        let expires = req.now.timestamp() + self.token_ttl_secs;
        self.tokens.insert(token.clone(), expires);
        let expiration = Utc
            .timestamp_opt(expires, 0)
            .single()
            .map(stamp)
            .unwrap_or_default();
        ok_json(json!({"expiration": expiration, "token": token}))
    }

    /// `Err` is why the token is refused, for a bare 401 (see the module doc).
    fn check_token(&mut self, req: &Req) -> Result<(), &'static str> {
        let token = req
            .headers
            .get("x-openapi-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .trim();
        let problem = if token.is_empty() {
            Some("X-OpenApi-Token is required")
        } else {
            match self.tokens.get(token) {
                None => Some("X-OpenApi-Token is not a valid token"),
                Some(&expiry) if req.now.timestamp() >= expiry => {
                    Some("X-OpenApi-Token has expired")
                }
                Some(_) => None,
            }
        };
        match problem {
            Some(reason) => {
                self.token_rejections += 1;
                Err(reason)
            }
            None => Ok(()),
        }
    }

    fn route(&mut self, req: &Req, segs: &[&str]) -> Answer {
        let m = req.method.as_str();
        match (m, segs) {
            ("POST", ["open", "messages"]) => self.messages(req, false),
            ("POST", ["open", "messages", "orders"]) => self.messages(req, true),
            ("GET", ["open", "identity", "contact"]) => self.find_contact(req),
            ("GET", ["open", "contacts", id, "channel_identities"]) => {
                self.channel_identities(path_id(id, "id")?)
            }
            ("GET", ["open", "workwechat", channel, "qrcodes"]) => qrcodes(channel),
            ("POST", ["v1", "tags"]) => self.create_tag(req),
            ("GET", ["v1", "tags"]) => self.list_tags(req),
            ("DELETE", ["v1", "tags", "tagkeys", key]) => self.delete_tag(key),
            ("GET", ["v1", "tags", "tagkeys", "export", task]) => {
                self.poll_export(path_id(task, "taskId")?)
            }
            ("POST", ["v1", "tags", "tagkeys", key, "upload", "file", "operates", operate]) => {
                self.upload_tag_file(req, key, operate)
            }
            ("POST", ["v1", "tags", "tagkeys", key, "calculate"]) => self.calculate_tag(req, key),
            ("POST", ["v1", "tags", "tagkeys", key, "export"]) => self.export_tag(req, key),
            ("POST", ["v1", "tags", "value"]) => self.set_tag_values(req),
            ("GET", ["open", "folders"]) => folders(),
            ("POST", ["open", "dim", dim, "data"]) => self.dimension_data(req, dim),
            ("GET", ["open", "contacts"]) => self.list_contacts(req),
            ("GET", ["open", "contacts", "cursor"]) => self.scan_contacts(req),
            ("GET", ["open", "contacts_bulk", "ids"]) => self.contact_ids(req),
            ("GET", ["open", "contacts_bulk"]) => self.contacts_bulk(req),
            ("POST", ["open", "contacts", "identities"]) => self.contact_identities(req),
            ("POST", ["open", "contacts", "tags"]) => self.contact_tags(req),
            ("DELETE", ["open", "contacts", "identities", "unbind"]) => self.unbind(req),
            ("GET", ["open", "contacts", id, "identities"]) => {
                self.identities_by_id(path_id(id, "id")?)
            }
            ("GET", ["open", "groups"]) => self.list_groups(req),
            ("POST", ["open", "groups"]) => self.create_group(req),
            ("POST", ["open", "groups", id]) => self.rename_group(req, path_id(id, "id")?),
            ("DELETE", ["open", "groups", id]) => self.delete_group(path_id(id, "id")?),
            ("GET", ["open", "contacts", id, "groups"]) => {
                self.contact_groups(req, path_id(id, "contactId")?)
            }
            ("GET", ["open", "groups", id, "contacts"]) => {
                self.group_members(req, path_id(id, "groupId")?)
            }
            ("POST", ["open", "groups", id, "contacts"]) => {
                self.change_members(req, path_id(id, "groupId")?, true)
            }
            ("DELETE", ["open", "groups", id, "contacts"]) => {
                self.change_members(req, path_id(id, "groupId")?, false)
            }
            ("GET", ["open", "orders"]) => self.list_orders(req),
            ("GET", ["open", "report", id]) => self.report(path_id(id, "reportId")?),
            ("GET", ["open", "dashboard", id, "summary"]) => dashboard(path_id(id, "dashboardId")?),
            ("POST", ["open", "shorturl"]) => self.short_url(req, false),
            ("POST", ["open", "shorturl", "distribute"]) => self.short_url(req, true),
            _ => Ok(bare(
                StatusCode::NOT_FOUND,
                &format!("no endpoint {m} /{}", segs.join("/")),
            )),
        }
    }

    // -----------------------------------------------------------------------------------------
    // Contacts, events, orders
    // -----------------------------------------------------------------------------------------

    fn create_contact(&mut self, identities: &[(String, String)], now: DateTime<Utc>) -> u64 {
        let id = self.next_contact_id;
        self.next_contact_id += 1;
        let at = stamp(now);
        let contact = SimContact {
            id,
            fields: Map::new(),
            identities: identities
                .iter()
                .map(|(k, v)| (k.clone(), v.clone(), at.clone()))
                .collect(),
            channels: BTreeSet::new(),
            tags: BTreeMap::new(),
            created: at.clone(),
            updated: at,
            updated_at: now,
        };
        for (kind, value) in identities {
            self.identity_index
                .insert((kind.clone(), value.clone()), id);
            *self
                .creates_by_identity
                .entry(format!("{kind}:{value}"))
                .or_default() += 1;
        }
        self.contacts.insert(id, contact);
        self.contacts_created += 1;
        id
    }

    /// The contact owning any of `identities`, else a new one; identities not yet bound to
    /// anyone are bound to it. Returns (contact id, created now).
    fn resolve(&mut self, identities: &[(String, String)], now: DateTime<Utc>) -> (u64, bool) {
        let existing = identities
            .iter()
            .find_map(|i| self.identity_index.get(i).copied());
        let Some(id) = existing else {
            return (self.create_contact(identities, now), true);
        };
        let at = stamp(now);
        for identity in identities {
            if !self.identity_index.contains_key(identity) {
                self.identity_index.insert(identity.clone(), id);
                if let Some(c) = self.contacts.get_mut(&id) {
                    c.identities
                        .push((identity.0.clone(), identity.1.clone(), at.clone()));
                }
            }
        }
        (id, false)
    }

    fn messages(&mut self, req: &Req, orders: bool) -> Answer {
        let body = req.json_object()?;
        let channel_key = required_text(&body, "channelKey")?;
        let allowed: &[&str] = if orders {
            &["UDC", "YOUZAN", "YOUZANSELF"]
        } else {
            &["UDC", "TTMP", "WECHAT_WXA"]
        };
        if let Some(t) = body.get("channelType") {
            if !t.as_str().is_some_and(|t| allowed.contains(&t)) {
                return Err(fail(400, "B00010", format!("参数不合法: channelType {t}")));
            }
        }
        let identities: Vec<(String, String)> = match body.get("identities") {
            Some(Value::Array(items)) if !items.is_empty() => items
                .iter()
                .enumerate()
                .map(|(i, v)| identity_of(v, &format!("identities[{i}]")))
                .collect::<Result<_, _>>()?,
            _ => return Err(fail(400, "B00002", "必填参数为空: identities")),
        };
        let messages = match body.get("messages") {
            Some(Value::Array(items)) if !items.is_empty() => items,
            _ => return Err(fail(400, "B00002", "必填参数为空: messages")),
        };
        // Validate the whole batch before applying any of it.
        for (i, m) in messages.iter().enumerate() {
            let domain = m.get("domain").and_then(Value::as_str).unwrap_or("");
            let action = m.get("action").and_then(Value::as_str).unwrap_or("");
            let pair_ok = if orders {
                (domain, action) == ("salesOrder", "set")
            } else {
                matches!((domain, action), ("contact", "set") | ("event", "track"))
            };
            if !pair_ok {
                return Err(fail(
                    400,
                    "B00010",
                    format!("参数不合法: messages[{i}] domain={domain:?} action={action:?}"),
                ));
            }
            if m.get("ts")
                .and_then(Value::as_i64)
                .is_none_or(|ts| ts < 100_000_000_000)
            {
                return Err(fail(
                    400,
                    "B00010",
                    format!("参数不合法: messages[{i}].ts must be epoch milliseconds"),
                ));
            }
            let Some(data) = m.get("data").and_then(Value::as_object) else {
                return Err(fail(
                    400,
                    "B00002",
                    format!("必填参数为空: messages[{i}].data"),
                ));
            };
            if domain == "event" && text_of(data.get("event")).is_none() {
                return Err(fail(
                    400,
                    "B00002",
                    format!("必填参数为空: messages[{i}].data.event"),
                ));
            }
            if orders && text_of(data.get("orderId")).is_none() {
                return Err(fail(
                    400,
                    "B00002",
                    format!("必填参数为空: messages[{i}].data.orderId"),
                ));
            }
        }
        if let Some(request_id) = text_of(body.get("request_id")) {
            if !self.seen_request_ids.insert(request_id) {
                self.duplicate_requests += 1;
                return ok_empty();
            }
        }
        let (contact_id, created) = self.resolve(&identities, req.now);
        let at = req.stamp();
        if let Some(c) = self.contacts.get_mut(&contact_id) {
            c.channels.insert(channel_key);
        }
        let mut first_contact_set = created;
        for m in messages {
            if let Some(message_id) = text_of(m.get("message_id")) {
                if !self.seen_message_ids.insert(message_id) {
                    self.duplicate_messages += 1;
                    continue;
                }
            }
            let data = m
                .get("data")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            match m.get("domain").and_then(Value::as_str) {
                Some("contact") => {
                    if let Some(c) = self.contacts.get_mut(&contact_id) {
                        merge_contact(&mut c.fields, data);
                        c.updated = at.clone();
                        c.updated_at = req.now;
                    }
                    // A contact created by this request counts once, as a create.
                    if first_contact_set {
                        first_contact_set = false;
                    } else {
                        self.contacts_updated += 1;
                        for (kind, value) in &identities {
                            *self
                                .updates_by_identity
                                .entry(format!("{kind}:{value}"))
                                .or_default() += 1;
                        }
                    }
                }
                Some("event") => {
                    self.events += 1;
                    let kind = text_of(data.get("event")).unwrap_or_default();
                    *self.events_by_type.entry(kind).or_default() += 1;
                }
                _ => self.upsert_order(contact_id, data, req.now),
            }
        }
        ok_empty()
    }

    fn upsert_order(&mut self, contact_id: u64, data: Map<String, Value>, now: DateTime<Utc>) {
        let order_id = text_of(data.get("orderId")).unwrap_or_default();
        let at = stamp(now);
        let id = match self.order_index.get(&order_id) {
            Some(&id) => {
                self.orders_updated += 1;
                id
            }
            None => {
                let id = self.next_order_id;
                self.next_order_id += 1;
                self.order_index.insert(order_id.clone(), id);
                self.orders_created += 1;
                id
            }
        };
        let mut body = self
            .orders
            .get(&id)
            .map(|o| o.body.clone())
            .unwrap_or_else(|| {
                let mut m = Map::new();
                m.insert("dateCreated".into(), json!(at));
                m
            });
        for (k, v) in data {
            body.insert(k, v);
        }
        let mut lines: Vec<Value> = body
            .get("lines")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for line in &mut lines {
            if let Some(l) = line.as_object_mut() {
                if !l.contains_key("id") {
                    l.insert("id".into(), json!(self.next_order_id));
                    self.next_order_id += 1;
                }
                l.insert("orderId".into(), json!(order_id));
                l.insert("contactId".into(), json!(contact_id));
            }
        }
        body.insert("lines".into(), Value::Array(lines));
        body.insert("id".into(), json!(id));
        body.insert("contactId".into(), json!(contact_id));
        body.insert("lastUpdated".into(), json!(at));
        body.insert("tenantId".into(), json!(1));
        if let Some(status) = body.get("orderStatus").cloned() {
            body.entry("orderOuterStatus").or_insert(status);
        }
        self.orders.insert(
            id,
            SimOrder {
                body,
                updated_at: now,
            },
        );
    }

    fn contact_json(&self, c: &SimContact, open_ids: bool) -> Value {
        let mut out = Map::new();
        for key in [
            "anonymousId",
            "name",
            "nickname",
            "dateOfBirthday",
            "avatar",
            "mobilePhone",
            "homePhone",
            "email",
            "country",
            "state",
            "city",
            "company",
            "idCard",
        ] {
            out.insert(key.into(), Value::Null);
        }
        out.insert("gender".into(), json!("unknown"));
        out.insert("utm".into(), json!({}));
        out.insert("props".into(), json!({}));
        for (k, v) in &c.fields {
            out.insert(k.clone(), v.clone());
        }
        for (kind, value, _) in &c.identities {
            if matches!(kind.as_str(), "mobilePhone" | "email" | "idCard")
                && out.get(kind).is_some_and(Value::is_null)
            {
                out.insert(kind.clone(), json!(value));
            }
        }
        out.insert("isAnonymous".into(), json!(false));
        out.insert("id".into(), json!(c.id));
        out.insert("dateCreated".into(), json!(c.created));
        out.insert("lastUpdated".into(), json!(c.updated));
        if open_ids {
            let ids: Vec<Value> = c
                .identities
                .iter()
                .filter(|(k, _, _)| k.ends_with("openId"))
                .map(|(_, v, _)| json!({"channelId": "wx5a39a02868a39999", "channelName": "渠道名称A", "openId": v}))
                .collect();
            out.insert("openIds".into(), Value::Array(ids));
        }
        Value::Object(out)
    }

    fn contact(&self, id: u64) -> Result<&SimContact, Fail> {
        self.contacts
            .get(&id)
            .ok_or_else(|| fail(404, "B00008", format!("No [contact] found with id [{id}]")))
    }

    fn contact_by_identity(&self, identity: &(String, String)) -> Result<&SimContact, Fail> {
        self.identity_index
            .get(identity)
            .and_then(|id| self.contacts.get(id))
            .ok_or_else(|| {
                fail(
                    404,
                    "B00008",
                    format!("No [contact] found with identity [{}]", identity.0),
                )
            })
    }

    fn find_contact(&self, req: &Req) -> Answer {
        let (Some(kind), Some(id)) = (req.q("idType"), req.q("id")) else {
            return Err(fail(
                500,
                "B00010",
                "参数不合法: idType and id are required",
            ));
        };
        let found = self.identity_index.get(&(kind.to_string(), id.to_string()));
        let body = match found {
            Some(id) => id.to_string(),
            None => "null".to_string(),
        };
        Ok((
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response())
    }

    fn channel_identities(&self, id: u64) -> Answer {
        let c = self.contact(id)?;
        let records: Vec<Value> = c
            .channels
            .iter()
            .enumerate()
            .map(|(i, key)| {
                let channel_id = 140_926_029_029_409u64 + i as u64;
                json!({
                    "dateCreated": c.created, "lastUpdated": c.updated, "ver": 1,
                    "id": 140_992_033_742_850u64 + (c.id % 1_000_000) * 16 + i as u64,
                    "contactId": c.id, "channelId": channel_id, "isActive": true,
                    "externalId": c.identities.first().map(|i| i.1.clone()),
                    "channel": {"id": channel_id, "channelId": key, "channelType": "UDC",
                                "name": key, "status": "ACTIVE", "tenantId": 1, "orgId": "1"}
                })
            })
            .collect();
        ok_json(Value::Array(records))
    }

    fn list_contacts(&self, req: &Req) -> Answer {
        let page = req.q_u64("page")?.unwrap_or(0);
        let size = req.q_u64("size")?.unwrap_or(200);
        if size == 0 || size > 200 {
            return Err(fail(
                400,
                "B00031",
                format!("超过最大数量: size {size} > 200"),
            ));
        }
        if page * size > 10_000 {
            return Err(fail(420, "B00030", "page*size必须小于等于10000"));
        }
        let members: Option<HashSet<u64>> = match req.q_u64("groupId")? {
            Some(g) => Some(self.group(g)?.members.values().map(|(c, _)| *c).collect()),
            None => None,
        };
        let search = req.q("search");
        let list: Vec<Value> = self
            .contacts
            .values()
            .filter(|c| pass(members.as_ref(), |m| m.contains(&c.id)))
            .map(|c| self.contact_json(c, false))
            .filter(|v| {
                pass(search, |s| {
                    ["name", "mobilePhone", "email"].iter().any(|k| {
                        v.get(*k)
                            .and_then(Value::as_str)
                            .is_some_and(|x| x.contains(s))
                    })
                })
            })
            .skip((page * size) as usize)
            .take(size as usize)
            .collect();
        ok_json(Value::Array(list))
    }

    fn scan_contacts(&self, req: &Req) -> Answer {
        let Some(last) = req.q_u64("lastMaxId")? else {
            return Err(fail(400, "B00002", "必填参数为空: lastMaxId"));
        };
        let size = req.q_u64("size")?.unwrap_or(200);
        if size == 0 || size > 200 {
            return Err(fail(
                400,
                "B00031",
                format!("超过最大数量: size {size} > 200"),
            ));
        }
        let list: Vec<Value> = self
            .contacts
            .range(last.saturating_add(1)..)
            .take(size as usize)
            .map(|(_, c)| self.contact_json(c, false))
            .collect();
        ok_json(Value::Array(list))
    }

    fn contact_ids(&self, req: &Req) -> Answer {
        let (Some(page), Some(size)) = (req.q_u64("page")?, req.q_u64("size")?) else {
            return Err(fail(400, "B00002", "必填参数为空: page, size"));
        };
        if page.saturating_mul(size) > 10_000 {
            return Err(fail(420, "B00030", "page*size必须小于等于10000"));
        }
        let day = |key: &str| -> Result<Option<DateTime<Utc>>, Fail> {
            req.q(key)
                .map(|d| {
                    NaiveDate::parse_from_str(d, "%Y-%m-%d")
                        .ok()
                        .and_then(|d| d.and_hms_opt(0, 0, 0))
                        .and_then(|t| beijing().from_local_datetime(&t).single())
                        .map(|t| t.with_timezone(&Utc))
                        .ok_or_else(|| fail(400, "B00010", format!("参数不合法: {key}={d}")))
                })
                .transpose()
        };
        let min = day("minUpdateTime")?;
        let max = day("maxUpdateTime")?;
        let anonymous = req.q_i64("anonymous")?.unwrap_or(0);
        if !(-1..=1).contains(&anonymous) {
            return Err(fail(400, "B00010", "参数不合法: anonymous"));
        }
        // Every simulated contact is named, so anonymous=1 finds nobody.
        let ids: Vec<u64> = self
            .contacts
            .values()
            .filter(|_| anonymous != 1)
            .filter(|c| pass(min, |m| m <= c.updated_at) && pass(max, |m| c.updated_at < m))
            .map(|c| c.id)
            .skip((page * size) as usize)
            .take(size as usize)
            .collect();
        ok_json(json!(ids))
    }

    fn contacts_bulk(&self, req: &Req) -> Answer {
        let Some(ids) = req.q("ids") else {
            return Err(fail(400, "B00002", "必填参数为空: ids"));
        };
        let ids: Vec<u64> = ids
            .split(',')
            .map(|s| s.trim().parse::<u64>())
            .collect::<Result<_, _>>()
            .map_err(|_| fail(400, "B00010", "参数不合法: ids"))?;
        let open_ids = req.q("needOpenId") == Some("1");
        let list: Vec<Value> = ids
            .iter()
            .take(100)
            .filter_map(|id| self.contacts.get(id))
            .map(|c| self.contact_json(c, open_ids))
            .collect();
        ok_json(Value::Array(list))
    }

    fn contact_identities(&self, req: &Req) -> Answer {
        let body = req.json_object()?;
        let identity = identity_of(body.get("identity").unwrap_or(&Value::Null), "identity")?;
        let wanted: Option<HashSet<String>> = body
            .get("identityTypes")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|v| text_of(Some(v))).collect());
        let c = self.contact_by_identity(&identity)?;
        let identities: Vec<Value> = c
            .identities
            .iter()
            .filter(|(k, _, _)| pass(wanted.as_ref(), |w| w.contains(k)))
            .map(|(k, v, at)| json!({"id": v, "type": k, "dateCreated": at}))
            .collect();
        ok_json(json!({"contactId": c.id, "identities": identities}))
    }

    fn contact_tags(&self, req: &Req) -> Answer {
        let body = req.json()?;
        let identity = identity_of(&body, "")?;
        let c = self.contact_by_identity(&identity)?;
        let tags: Vec<Value> = c
            .tags
            .iter()
            .filter_map(|(tag_id, value)| {
                let t = self.tags.get(tag_id)?;
                Some(json!({"tagId": t.id, "tagName": t.name, "tagKey": t.key, "value": value}))
            })
            .collect();
        ok_json(Value::Array(tags))
    }

    fn unbind(&mut self, req: &Req) -> Answer {
        let body = req.json_object()?;
        let Some(contact_id) = body.get("contactId").and_then(id_of) else {
            return Err(fail(400, "B00002", "必填参数为空: contactId"));
        };
        let identities: Vec<(String, String)> = match body.get("identities") {
            Some(Value::Array(items)) if !items.is_empty() => items
                .iter()
                .enumerate()
                .map(|(i, v)| identity_of(v, &format!("identities[{i}]")))
                .collect::<Result<_, _>>()?,
            _ => return Err(fail(400, "B00002", "必填参数为空: identities")),
        };
        let c = self.contact(contact_id)?;
        for (kind, value) in &identities {
            if !c.identities.iter().any(|(k, _, _)| k == kind) {
                return Err(fail(500, "B01403", format!("身份类型不存在: {kind}")));
            }
            if UNBINDABLE_TYPES.contains(&kind.as_str()) {
                return Err(fail(500, "B01404", format!("身份类型不可解绑: {kind}")));
            }
            if !c.identities.iter().any(|(k, v, _)| k == kind && v == value) {
                return Err(fail(500, "B01405", format!("身份值不存在: {kind}")));
            }
        }
        if c.identities.len() <= identities.len() {
            return Err(fail(500, "B01402", "解绑后联系人身份数量小于1"));
        }
        if let Some(c) = self.contacts.get_mut(&contact_id) {
            c.identities
                .retain(|(k, v, _)| !identities.iter().any(|(ik, iv)| ik == k && iv == v));
        }
        for identity in identities {
            self.identity_index.remove(&identity);
        }
        ok_empty()
    }

    fn identities_by_id(&self, id: u64) -> Answer {
        let c = self.contact(id)?;
        let list: Vec<Value> = c
            .identities
            .iter()
            .map(|(k, v, at)| json!({"id": v, "type": k, "dateCreated": at}))
            .collect();
        ok_json(Value::Array(list))
    }

    // -----------------------------------------------------------------------------------------
    // Tags, dimension tables
    // -----------------------------------------------------------------------------------------

    fn tag_by_key(&self, key: &str) -> Result<&SimTag, Fail> {
        self.tags
            .values()
            .find(|t| t.key == key)
            .ok_or_else(|| fail(500, "B01162", format!("tagKey不存在: {key}")))
    }

    fn tag_json(t: &SimTag) -> Value {
        json!({
            "tagId": t.id, "tagKey": t.key, "tagName": t.name, "dataType": t.data_type,
            "tagType": "UPLOAD", "status": "ACTIVE", "folderId": 175,
            "dateCreated": t.created, "lastUpdated": t.updated,
            "lastCalculateTime": t.last_calculated,
        })
    }

    fn create_tag(&mut self, req: &Req) -> Answer {
        let body = req.json_object()?;
        let key = text_of(body.get("tagKey"))
            .ok_or_else(|| fail(500, "B00002", "必填参数为空: tagKey"))?;
        if !crate::connectors::linkflow::model::is_valid_tag_key(&key) {
            return Err(fail(
                500,
                "B01157",
                "key不符合tag_开头,只包含:小写字母、数字、下划线",
            ));
        }
        let name = required_text(&body, "tagName").map_err(|f| Fail { status: 500, ..f })?;
        let data_type = required_text(&body, "dataType").map_err(|f| Fail { status: 500, ..f })?;
        if !["text", "number", "array", "datetime", "boolean"].contains(&data_type.as_str()) {
            return Err(fail(
                500,
                "B00010",
                format!("参数不合法: dataType {data_type}"),
            ));
        }
        if text_of(body.get("tagType")).as_deref() != Some("UPLOAD") {
            return Err(fail(500, "B00010", "参数不合法: tagType must be UPLOAD"));
        }
        let identity_type =
            required_text(&body, "identityType").map_err(|f| Fail { status: 500, ..f })?;
        if identity_type == "externalId" {
            let channel = text_of(body.get("channelId"))
                .ok_or_else(|| fail(500, "B00002", "必填参数为空: channelId"))?;
            if channel.parse::<u64>().is_err() {
                return Err(fail(500, "B00159", format!("channelId不存在: {channel}")));
            }
        }
        if self.tags.values().any(|t| t.key == key) {
            return Err(fail(500, "B01151", format!("标签已经存在: {key}")));
        }
        let tag = SimTag {
            id: self.next_tag_id,
            key,
            name,
            data_type,
            created: req.stamp(),
            updated: req.stamp(),
            last_calculated: None,
        };
        self.next_tag_id += 1;
        let answer = Self::tag_json(&tag);
        self.tags.insert(tag.id, tag);
        ok_json(answer)
    }

    fn list_tags(&self, req: &Req) -> Answer {
        let (Some(page), Some(size)) = (req.q_u64("page")?, req.q_u64("size")?) else {
            return Err(fail(
                500,
                "B00010",
                "参数不合法: page and size are required",
            ));
        };
        if size == 0 || size > 200 {
            return Err(fail(
                500,
                "B00010",
                format!("参数不合法: size {size} > 200"),
            ));
        }
        let list: Vec<Value> = self
            .tags
            .values()
            .skip(page.saturating_mul(size) as usize)
            .take(size as usize)
            .map(Self::tag_json)
            .collect();
        ok_json(Value::Array(list))
    }

    fn delete_tag(&mut self, key: &str) -> Answer {
        let Some(id) = self.tags.values().find(|t| t.key == key).map(|t| t.id) else {
            // The doc spells this one `B_01162`.
            return Err(fail(500, "B_01162", format!("标签不存在: {key}")));
        };
        self.tags.remove(&id);
        for c in self.contacts.values_mut() {
            c.tags.remove(&id);
        }
        ok_empty()
    }

    fn upload_tag_file(&mut self, req: &Req, key: &str, operate: &str) -> Answer {
        if !["overwrite", "append"].contains(&operate) {
            return Err(fail(
                500,
                "B00010",
                format!("参数不合法: operate {operate}"),
            ));
        }
        self.tag_by_key(key)?;
        let content_type = req
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let boundary = multipart_boundary(content_type).ok_or_else(|| {
            fail(
                500,
                "B00010",
                "参数不合法: expected multipart/form-data with a boundary",
            )
        })?;
        let (file_name, content) = file_part(&req.body, &boundary)
            .ok_or_else(|| fail(500, "B00002", "必填参数为空: file"))?;
        if content.len() > 100 * 1024 * 1024 {
            return Err(fail(500, "B01163", "文件大小超过100M"));
        }
        self.tag_uploads += 1;
        let folder = uuid::Uuid::new_v4().simple().to_string();
        let object = uuid::Uuid::new_v4().simple().to_string();
        let day = req.now.with_timezone(&beijing()).format("%Y%m%d");
        ok_json(json!({
            "tagKey": key,
            "fileName": file_name,
            "ossUrl": format!("https://oss.sim.linkflowtech.com/oss/1/tag/upload/tmp/{day}/{folder}/{object}"),
        }))
    }

    fn calculate_tag(&mut self, req: &Req, key: &str) -> Answer {
        let id = self.tag_by_key(key)?.id;
        if let Some(t) = self.tags.get_mut(&id) {
            t.last_calculated = Some(req.stamp());
        }
        ok_empty()
    }

    fn export_tag(&mut self, req: &Req, key: &str) -> Answer {
        self.tag_by_key(key)?;
        let body = req.json_object()?;
        let identity_type =
            required_text(&body, "identityType").map_err(|f| Fail { status: 500, ..f })?;
        if identity_type == "externalId" && text_of(body.get("channelId")).is_none() {
            return Err(fail(500, "B00002", "必填参数为空: channelId"));
        }
        let task = self.next_task_id;
        self.next_task_id += 1;
        self.exports.insert(task, (key.to_string(), 0));
        ok_json(json!({"tagKey": key, "taskId": task, "status": "INITIAL"}))
    }

    fn poll_export(&mut self, task: u64) -> Answer {
        let Some((key, polls)) = self.exports.get_mut(&task) else {
            return Err(fail(
                404,
                "B00008",
                format!("No [task] found with id [{task}]"),
            ));
        };
        *polls += 1;
        if *polls == 1 {
            ok_json(json!({"taskId": task, "status": "RUNNING", "errorMsg": "", "fileUrl": ""}))
        } else {
            ok_json(json!({
                "taskId": task, "status": "FINISH", "errorMsg": "",
                "fileUrl": format!("https://oss.sim.linkflowtech.com/oss/1/tag/export/{key}_{task}.csv"),
            }))
        }
    }

    fn set_tag_values(&mut self, req: &Req) -> Answer {
        let body = req.json_object()?;
        let identity = identity_of(body.get("identity").unwrap_or(&Value::Null), "identity")?;
        let actions = match body.get("actions") {
            Some(Value::Array(a)) if !a.is_empty() => a.clone(),
            _ => return Err(fail(400, "B00002", "必填参数为空: actions")),
        };
        let contact_id = match self.identity_index.get(&identity) {
            Some(&id) => id,
            None => return Err(fail(400, "B01376", "身份不存在")),
        };
        let mut changes = Vec::new();
        for (i, a) in actions.iter().enumerate() {
            let tag_id = a
                .get("tagId")
                .and_then(id_of)
                .ok_or_else(|| fail(400, "B00002", format!("必填参数为空: actions[{i}].tagId")))?;
            if !self.tags.contains_key(&tag_id) {
                return Err(fail(500, "B01162", format!("标签不存在: {tag_id}")));
            }
            match a.get("action").and_then(Value::as_str) {
                Some("set") => {
                    let value = text_of(a.get("value")).ok_or_else(|| {
                        fail(400, "B00002", format!("必填参数为空: actions[{i}].value"))
                    })?;
                    changes.push((tag_id, Some(value)));
                }
                Some("delete") => changes.push((tag_id, None)),
                _ => {
                    return Err(fail(
                        400,
                        "B00010",
                        format!("参数不合法: actions[{i}].action"),
                    ))
                }
            }
        }
        if let Some(c) = self.contacts.get_mut(&contact_id) {
            for (tag_id, value) in changes {
                match value {
                    Some(v) => c.tags.insert(tag_id, v),
                    None => c.tags.remove(&tag_id),
                };
            }
        }
        ok_empty()
    }

    fn dimension_data(&mut self, req: &Req, dim: &str) -> Answer {
        let Some((_, key)) = DIMENSIONS.iter().find(|(d, _)| *d == dim) else {
            return Err(fail(500, "B00043", format!("维度表不存在: {dim}")));
        };
        let Some(key) = key else {
            return Err(fail(500, "B01201", format!("维度表无主键: {dim}")));
        };
        let rows = match req.json()? {
            Value::Array(rows) => rows,
            _ => {
                return Err(fail(
                    400,
                    "B00010",
                    "参数不合法: body must be an array of rows",
                ))
            }
        };
        let mut keyed = Vec::with_capacity(rows.len());
        for (i, row) in rows.into_iter().enumerate() {
            let pk = text_of(row.get(*key)).ok_or_else(|| {
                fail(
                    500,
                    "B01205",
                    format!("数据结点不包含主键列: rows[{i}].{key}"),
                )
            })?;
            keyed.push((pk, row));
        }
        let table = self.dimension_rows.entry(dim.to_string()).or_default();
        table.extend(keyed);
        ok_empty()
    }

    // -----------------------------------------------------------------------------------------
    // Groups
    // -----------------------------------------------------------------------------------------

    fn group(&self, id: u64) -> Result<&SimGroup, Fail> {
        self.groups
            .get(&id)
            .ok_or_else(|| fail(404, "B00008", format!("No [group] found with id [{id}]")))
    }

    fn group_json(g: &SimGroup) -> Value {
        let mut v = json!({
            "lastUpdated": g.updated, "groupType": g.group_type, "dateCreated": g.created,
            "name": g.name, "id": g.id,
        });
        if let Some(obj) = v.as_object_mut() {
            if let Some(e) = &g.ext1 {
                obj.insert("ext1".into(), json!(e));
            }
            if let Some(e) = &g.ext2 {
                obj.insert("ext2".into(), json!(e));
            }
        }
        v
    }

    fn list_groups(&self, req: &Req) -> Answer {
        let id = req.q_u64("id")?;
        let since = req.q("lastUpdated");
        let list: Vec<Value> = self
            .groups
            .values()
            .filter(|g| pass(id, |id| id == g.id))
            .filter(|g| pass(req.q("name"), |n| g.name.contains(n)))
            .filter(|g| pass(req.q("groupType"), |t| g.group_type == t))
            .filter(|g| pass(req.q("ext1"), |e| g.ext1.as_deref() == Some(e)))
            .filter(|g| pass(req.q("ext2"), |e| g.ext2.as_deref() == Some(e)))
            .filter(|g| pass(since, |s| g.updated.as_str() >= s))
            .map(Self::group_json)
            .collect();
        ok_json(Value::Array(list))
    }

    fn create_group(&mut self, req: &Req) -> Answer {
        let body = req.json_object()?;
        let name = required_text(&body, "name")?;
        let group_type = text_of(body.get("groupType")).unwrap_or_else(|| "static".into());
        if group_type != "static" {
            return Err(fail(400, "B00010", "参数不合法: groupType must be static"));
        }
        if self.groups.values().any(|g| g.name == name) {
            return Err(fail(400, "B00001", format!("群组已存在: {name}")));
        }
        let id = self.next_group_id;
        self.next_group_id += 1;
        let g = SimGroup {
            id,
            name,
            group_type,
            ext1: text_of(body.get("ext1")),
            ext2: text_of(body.get("ext2")),
            created: req.stamp(),
            updated: req.stamp(),
            members: BTreeMap::new(),
        };
        let answer = Self::group_json(&g);
        self.groups.insert(id, g);
        ok_json(answer)
    }

    fn rename_group(&mut self, req: &Req, id: u64) -> Answer {
        self.group(id)?;
        // The doc lists `name` under "Request Parameters": accept it as a query parameter or
        // in a JSON body.
        let name = match req.q("name") {
            Some(n) => n.to_string(),
            None => required_text(&req.json_object()?, "name")?,
        };
        if self.groups.values().any(|g| g.id != id && g.name == name) {
            return Err(fail(420, "B01102", format!("群组名已存在: {name}")));
        }
        let at = req.stamp();
        if let Some(g) = self.groups.get_mut(&id) {
            g.name = name;
            g.updated = at;
        }
        ok_empty()
    }

    fn delete_group(&mut self, id: u64) -> Answer {
        self.group(id)?;
        self.groups.remove(&id);
        ok_empty()
    }

    fn contact_groups(&self, req: &Req, contact_id: u64) -> Answer {
        self.contact(contact_id)?;
        let list: Vec<Value> = self
            .groups
            .values()
            .filter(|g| g.members.values().any(|(c, _)| *c == contact_id))
            .filter(|g| pass(req.q("groupType"), |t| g.group_type == t))
            .map(Self::group_json)
            .collect();
        ok_json(Value::Array(list))
    }

    fn group_members(&self, req: &Req, group_id: u64) -> Answer {
        let size = req.q_u64("size")?.unwrap_or(500);
        if size > 500 {
            return Err(fail(400, "B00031", format!("size超过最大数量: {size}")));
        }
        let after = req.q_u64("memberId")?.unwrap_or(0);
        let g = self.group(group_id)?;
        let list: Vec<Value> = g
            .members
            .range(after.saturating_add(1)..)
            .take(size as usize)
            .map(|(member_id, (contact_id, at))| {
                let contact = self.contacts.get(contact_id).map(|c| {
                    let v = self.contact_json(c, false);
                    json!({"mobilePhone": v["mobilePhone"], "name": v["name"], "id": c.id, "email": v["email"]})
                });
                json!({
                    "lastUpdated": at, "dateCreated": at, "contact": contact,
                    "contactGroupId": g.id, "version": null, "memberId": member_id,
                })
            })
            .collect();
        ok_json(Value::Array(list))
    }

    fn change_members(&mut self, req: &Req, group_id: u64, add: bool) -> Answer {
        let ids = match req.json()? {
            Value::Array(ids) => ids,
            _ => {
                return Err(fail(
                    400,
                    "B00010",
                    "参数不合法: body must be an array of contact ids",
                ))
            }
        };
        let g = self.group(group_id)?;
        if g.group_type != "static" {
            return Err(fail(
                400,
                "B00010",
                "参数不合法: only static groups take members",
            ));
        }
        let mut success = Vec::new();
        let mut failure = Vec::new();
        let at = req.stamp();
        for raw in ids {
            match id_of(&raw).filter(|id| self.contacts.contains_key(id)) {
                Some(contact_id) => {
                    let member_id = self.next_member_id;
                    let Some(g) = self.groups.get_mut(&group_id) else {
                        break;
                    };
                    let present = g
                        .members
                        .iter()
                        .find(|(_, (c, _))| *c == contact_id)
                        .map(|(m, _)| *m);
                    match (add, present) {
                        (true, None) => {
                            g.members.insert(member_id, (contact_id, at.clone()));
                            self.next_member_id += 1;
                        }
                        (false, Some(m)) => {
                            g.members.remove(&m);
                        }
                        _ => {}
                    }
                    success.push(json!(contact_id));
                }
                None => failure.push(raw),
            }
        }
        let group = self.groups.get_mut(&group_id).map(|g| {
            g.updated = at;
            Self::group_json(g)
        });
        ok_json(json!({"success": success, "failure": failure, "group": group}))
    }

    // -----------------------------------------------------------------------------------------
    // Orders, reports, short URLs
    // -----------------------------------------------------------------------------------------

    fn list_orders(&self, req: &Req) -> Answer {
        if let Some(last) = req.q_u64("lastMaxId")? {
            let list: Vec<Value> = self
                .orders
                .range(last.saturating_add(1)..)
                .take(ORDER_PAGE)
                .map(|(_, o)| Value::Object(o.body.clone()))
                .collect();
            return ok_json(Value::Array(list));
        }
        let (Some(start), Some(end)) = (req.q("startTime"), req.q("endTime")) else {
            return Err(fail(
                400,
                "B00002",
                "必填参数为空: lastMaxId or startTime/endTime",
            ));
        };
        let parse = |key: &str, text: &str| {
            NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
                .ok()
                .and_then(|t| beijing().from_local_datetime(&t).single())
                .map(|t| t.with_timezone(&Utc))
                .ok_or_else(|| fail(400, "B00010", format!("参数不合法: {key}={text}")))
        };
        let start = parse("startTime", start)?;
        let end = parse("endTime", end)?;
        let page = req.q_u64("page")?.unwrap_or(1);
        if page > 100 {
            return Err(fail(500, "B00093", "超过最大页数"));
        }
        if page == 0 {
            return Err(fail(400, "B00010", "参数不合法: page starts at 1"));
        }
        let list: Vec<Value> = self
            .orders
            .values()
            .filter(|o| o.updated_at >= start && o.updated_at < end)
            .skip((page as usize - 1) * ORDER_PAGE)
            .take(ORDER_PAGE)
            .map(|o| Value::Object(o.body.clone()))
            .collect();
        ok_json(Value::Array(list))
    }

    fn report(&mut self, id: u64) -> Answer {
        let Some((_, name)) = DASHBOARD_REPORTS.iter().find(|(r, _)| *r == id) else {
            return Err(fail(
                404,
                "B00008",
                format!("No [report] found with id [{id}]"),
            ));
        };
        let polls = self.report_polls.entry(id).or_default();
        *polls += 1;
        if *polls == 1 {
            return ok_json(json!({"status": 0, "reportName": name}));
        }
        let contacts = self.contacts.len().to_string();
        ok_json(json!({
            "status": 1,
            "reportName": name,
            "chartType": "NUMBER",
            "chart": {"type": "NUMBER", "display": "数字"},
            "measures": ["联系人总数"],
            "dimensions": [],
            "result": [{"dateList": [], "dimRsList": [{"dim": ["总体"], "rs": [[contacts.clone()]], "summary": [contacts]}]}],
        }))
    }

    fn short_url(&mut self, req: &Req, distribute: bool) -> Answer {
        let body = req.json_object()?;
        let url = required_text(&body, "url")?;
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(fail(400, "B00010", "参数不合法: url"));
        }
        let term = body.get("utm").and_then(|u| text_of(u.get("term")));
        if distribute {
            let Some(term) = term.clone() else {
                return Err(fail(400, "B00002", "必填参数为空: utm.term"));
            };
            let known = term
                .parse::<u64>()
                .ok()
                .filter(|id| self.contacts.contains_key(id));
            if known.is_none() {
                return Err(fail(
                    420,
                    "B00008",
                    format!("No [contact] found with id [{term}]"),
                ));
            }
        }
        let n = self.short_urls.len() as u64 + 0x3_0000;
        let code = base62(n);
        let short = format!("http://ln8w.cn/{code}");
        self.short_urls.push((code, url, term));
        ok_json(json!({"shorturl": short}))
    }
}

fn merge_contact(fields: &mut Map<String, Value>, data: Map<String, Value>) {
    for (k, v) in data {
        match (k.as_str(), v) {
            ("props", Value::Object(props)) => {
                let slot = fields
                    .entry("props")
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Some(existing) = slot.as_object_mut() {
                    existing.extend(props);
                } else {
                    *slot = Value::Object(props);
                }
            }
            (_, v) => {
                fields.insert(k, v);
            }
        }
    }
}

fn qrcodes(channel: &str) -> Answer {
    if channel != WECOM_CHANNEL {
        return Err(fail(500, "B00022", format!("渠道不存在: {channel}")));
    }
    ok_json(json!([
        {
            "dateCreated": "2022-07-19 10:43:41", "lastUpdated": "2022-09-06 09:57:16", "id": 2,
            "configId": "7c4028ec8fc99597bf28cc8791f9aa71",
            "qrCode": "https://wework.qpic.cn/wwpic/8350_c_NNsuGtQQyhaO4_1658198622/0",
            "tenantId": 1, "channelId": 140926029029409u64,
            "utm": {"source": "新建来源", "campaign": "新建活动", "term": "新建关键字"},
            "contactWay": {"remark": "添加单人", "type": "SINGLE"},
            "isSetWelcomeMessage": false, "workWechatWelcomeMessageId": 17
        },
        {
            "dateCreated": "2022-08-26 16:07:51", "lastUpdated": "2022-08-26 16:07:51", "id": 3,
            "configId": "6e49729729d83fc67ef9cb91715ba14b",
            "qrCode": "https://wework.qpic.cn/wwpic/493891_tr12MGgQTES9Nfs_1661501271/0",
            "tenantId": 1, "channelId": 140926029029409u64,
            "utm": {"source": "", "campaign": "", "term": ""},
            "contactWay": {"remark": "11", "type": "SINGLE"},
            "isSetWelcomeMessage": false
        }
    ]))
}

fn folders() -> Answer {
    ok_json(json!([
        {"id": 174, "name": "标签", "domain": "TAG", "parentId": 0,
         "dateCreated": "2024-11-08 15:02:41", "lastUpdated": "2024-11-08 15:02:41"},
        {"id": 175, "name": "测试目录名称", "domain": "TAG", "parentId": 174,
         "dateCreated": "2024-11-08 15:03:10", "lastUpdated": "2024-11-08 15:03:10"}
    ]))
}

fn dashboard(id: u64) -> Answer {
    if id != DASHBOARD_ID {
        return Err(fail(
            404,
            "B00008",
            format!("No [dashboard] found with id [{id}]"),
        ));
    }
    let reports: Vec<Value> = DASHBOARD_REPORTS
        .iter()
        .map(|(id, name)| json!({"id": id, "reportName": name}))
        .collect();
    ok_json(json!({"kanBanName": "y01", "reports": reports}))
}

fn base62(mut n: u64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 62) as usize]);
        n /= 62;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8_lossy(&out).into_owned()
}

/// The boundary of a `multipart/form-data` content type, quoted or not.
fn multipart_boundary(content_type: &str) -> Option<String> {
    let mut parts = content_type.split(';');
    if !parts
        .next()?
        .trim()
        .eq_ignore_ascii_case("multipart/form-data")
    {
        return None;
    }
    parts.find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim().eq_ignore_ascii_case("boundary"))
            .then(|| v.trim().trim_matches('"').to_string())
            .filter(|b| !b.is_empty() && b.len() <= 200)
    })
}

/// The part named `file` with a file name: (file name, content). Never panics on garbage.
fn file_part(body: &[u8], boundary: &str) -> Option<(String, Vec<u8>)> {
    let delimiter = format!("--{boundary}");
    let next_delimiter = format!("\r\n--{boundary}");
    let mut pos = find(body, delimiter.as_bytes(), 0)? + delimiter.len();
    loop {
        let rest = body.get(pos..)?;
        if rest.starts_with(b"--") {
            return None;
        }
        let headers_start = pos + 2; // CRLF after the delimiter
        let headers_end = find(body, b"\r\n\r\n", headers_start)?;
        let headers = String::from_utf8_lossy(body.get(headers_start..headers_end)?).into_owned();
        let content_start = headers_end + 4;
        let content_end = find(body, next_delimiter.as_bytes(), content_start)?;
        let disposition = headers
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition:"))?;
        if disposition.contains("name=\"file\"") {
            let file_name = disposition
                .split("filename=\"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .unwrap_or("")
                .to_string();
            if !file_name.is_empty() {
                return Some((file_name, body.get(content_start..content_end)?.to_vec()));
            }
        }
        pos = content_end + next_delimiter.len();
    }
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// An absent filter lets everything through.
fn pass<T>(filter: Option<T>, f: impl FnOnce(T) -> bool) -> bool {
    match filter {
        None => true,
        Some(v) => f(v),
    }
}

impl State {
    /// Creates tags before a test (`[sim] linkflow_tags`, `sim::linkflow_tags([...])`), as
    /// `POST /v1/tags` would; returns their `tagId`s in order. A key that exists is refused.
    pub fn seed_tags(
        &self,
        tags: &[crate::config::sim::TagSeed],
        now: DateTime<Utc>,
    ) -> Result<Vec<u64>, String> {
        let mut s = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut ids = Vec::new();
        for (i, t) in tags.iter().enumerate() {
            if s.tags.values().any(|existing| existing.key == t.key) {
                return Err(format!(
                    "linkflow_tags #{} (key {}): the simulator already has tag {}",
                    i + 1,
                    t.key,
                    t.key
                ));
            }
            let tag = SimTag {
                id: s.next_tag_id,
                key: t.key.clone(),
                name: t.name.clone().unwrap_or_else(|| t.key.clone()),
                data_type: t.data_type.clone().unwrap_or_else(|| "text".into()),
                created: stamp(now),
                updated: stamp(now),
                last_calculated: None,
            };
            s.next_tag_id += 1;
            ids.push(tag.id);
            s.tags.insert(tag.id, tag);
        }
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_the_clients_multipart_body() {
        let body = crate::connectors::linkflow::multipart::file_part(
            "b1",
            "file",
            "等级.csv",
            "text/csv",
            b"phone,value\r\n1,A",
        )
        .unwrap();
        assert_eq!(
            multipart_boundary(&body.content_type).as_deref(),
            Some("b1")
        );
        let (name, content) = file_part(&body.bytes, "b1").unwrap();
        assert_eq!(name, "等级.csv");
        assert_eq!(content, b"phone,value\r\n1,A");
        assert_eq!(
            multipart_boundary("multipart/form-data; boundary=\"q q\"").as_deref(),
            Some("q q")
        );
        assert_eq!(multipart_boundary("text/plain; boundary=x"), None);
    }

    #[test]
    fn percent_decoding_is_lenient() {
        assert_eq!(percent_decode("ww%20x"), "ww x");
        assert_eq!(percent_decode("%E6%B8%A0"), "渠");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(base62(0), "0");
        assert_eq!(base62(62), "10");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn multipart_parser_never_panics(body in proptest::collection::vec(proptest::arbitrary::any::<u8>(), 0..300), boundary in "[a-zA-Z0-9]{1,8}") {
            let _ = file_part(&body, &boundary);
            let mut framed = format!("--{boundary}\r\n").into_bytes();
            framed.extend_from_slice(&body);
            let _ = file_part(&framed, &boundary);
        }

        #[test]
        fn header_and_path_parsers_never_panic(text in ".{0,60}") {
            let _ = multipart_boundary(&text);
            let _ = percent_decode(&text);
        }
    }
}
