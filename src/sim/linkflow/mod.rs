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
//!
//! Layout: this file holds the state, the router and the one route table; each resource's
//! handlers are in their own file (`contacts`, `messages`, `orders`, `tags`, `groups`,
//! `reports`, `short_urls`, `wecom`), beside the token check (`token`), the request helpers
//! (`request`), the answer shapes (`reply`) and the simulator's controls (`control`).

mod contacts;
mod control;
mod groups;
mod messages;
mod orders;
mod reply;
mod reports;
mod request;
mod short_urls;
mod tags;
mod token;
mod wecom;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{Request, State as AxumState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::{SimShared, MAX_BODY};
use crate::connectors::Vendor;
use reply::{bare, fail, injected, Answer};
use reports::dashboard;
use request::{path_id, percent_decode, stamp, Req};
use tags::folders;
use wecom::qrcodes;

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

pub use control::control_router;

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
    use super::short_urls::base62;
    use super::tags::{file_part, multipart_boundary};
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
