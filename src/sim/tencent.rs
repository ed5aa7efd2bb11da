//! Simulated leads.qq.com (spec §3): the four endpoints below the prefix, verified as the
//! platform does, answered as the platform does (always HTTP 200 with `{code, message, data}`,
//! §3.6), with state.
//!
//! The platform documents code *ranges*, not codes (§3.6, X-g): 1100–1199 internal, 2000–2100
//! permission/signature, 2100–2200 parameters. So every refusal answers one placeholder per
//! range ([`codes::AUTH`] = 2000, [`codes::INVALID`] = 2101) and says what is wrong in
//! `message`; nothing may depend on a finer code, because the platform never published one.
//!
//! Verification, in order (all [`codes::AUTH`]): `X-Signature` present, decodable with our
//! token, `X-Signature-Algorithm` SHA1/SHA256 (SHA1 when absent, §3.3), 10-digit timestamp,
//! digest, timestamp within ±300 s of the simulator's clock ("within 5 minutes", §3.1), then for
//! the 4-part form a nonce of 1..=32 characters never seen before for this token within the
//! window ("每个请求都不重复", X-d). The 3-part form (the older recipe) is accepted without
//! replay protection. Then the parameters ([`codes::INVALID`]), and for `/leads/report` every
//! `leads_id` must be a lead the simulator has (generated or pushed): the platform cannot take a
//! status for a lead it never issued, and an unknown id is a wrong parameter value.
//!
//! Nonces are remembered per token only after the digest verified (so strangers cannot fill the
//! memory), forgotten once their timestamp leaves the window, and capped per token.
//!
//! Controls (under `/_sim/tencent`): `POST /leads {"count": N, "spread_secs": S?, "at": unix?}`
//! generates leads and returns them; `POST /push {"algorithm": "SHA1"?}` generates one lead and
//! returns it with the headers of a signed platform push.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone};
use rand::Rng;
use serde_json::{json, Map, Value};

use super::{synth, SimShared};
use crate::clock::beijing;
use crate::connectors::tencent::config::Algorithm;
use crate::connectors::tencent::{enums, sign, webhook};
use crate::connectors::Vendor;

/// Where this vendor is served, below the simulator's base URL.
pub const PREFIX: &str = "/tencent/api/mv1";

/// Config keys of the simulator's built-in tencent account.
pub const CREDENTIALS_TOML: &str =
    "token = \"10001\"\nsecret = \"sim-tencent-secret-0123456789abcd\"\nalgorithm = \"SHA256\"\n";

/// The built-in account's token.
pub const SIM_TOKEN: &str = "10001";
/// The built-in account's secret.
pub const SIM_SECRET: &str = "sim-tencent-secret-0123456789abcd";
/// The advertiser id behind [`SIM_TOKEN`].
pub const SIM_ACCOUNT_ID: i64 = 25610;

/// Accepted distance between a request's timestamp and the simulator's clock ("within 5
/// minutes of server time", spec §3.1).
pub const WINDOW_SECS: i64 = 300;

/// Placeholder codes, one per documented range (spec §3.6, X-g). The finer codes inside the
/// ranges are not published, so the simulator does not make any up.
pub mod codes {
    /// The permission/signature range 2000–2100 ("check token, secret, clock and algorithm"):
    /// its first code.
    pub const AUTH: i64 = 2000;
    /// The parameter range 2100–2200. Not 2100 itself: the garbled ranges both claim it.
    pub const INVALID: i64 = 2101;
}
/// Nonces remembered per token at most; the oldest are forgotten first.
pub const MAX_NONCES_PER_TOKEN: usize = 200_000;
/// Most leads one control call may generate.
pub const MAX_GENERATE: usize = 20_000;

/// Smallest generated `leads_id`: 2^53 + 1, so ids are never exact as f64.
const FIRST_ID: u64 = (1 << 53) + 1;

#[derive(Debug)]
struct SimLead {
    id: u64,
    create_ts: i64,
    action_ts: i64,
    record: Value,
}

#[derive(Debug, Default)]
struct NonceLog {
    seen: HashSet<String>,
    order: VecDeque<(i64, String)>,
}

impl NonceLog {
    fn prune(&mut self, now: i64) {
        while let Some((ts, _)) = self.order.front() {
            if *ts >= now - WINDOW_SECS && self.order.len() < MAX_NONCES_PER_TOKEN {
                break;
            }
            if let Some((_, nonce)) = self.order.pop_front() {
                self.seen.remove(&nonce);
            }
        }
    }
}

#[derive(Debug, Default)]
struct Inner {
    /// Sorted newest first: (`leads_create_time` desc, `leads_id` desc), the list API's order.
    leads: Vec<SimLead>,
    /// Every `leads_id` in `leads`, for `/leads/report`.
    ids: HashSet<u64>,
    next_id: u64,
    list_calls: u64,
    report_calls: u64,
    report_items: u64,
    reports: BTreeMap<String, Vec<Value>>,
    status_system: BTreeMap<i64, i64>,
    status_system_calls: u64,
    wechat: BTreeMap<String, Value>,
    wechat_created: u64,
    wechat_updated: u64,
    nonces: HashMap<String, NonceLog>,
    rejected: BTreeMap<i64, u64>,
}

/// tencent simulator state.
#[derive(Debug, Default)]
pub struct State {
    inner: Mutex<Inner>,
}

impl State {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the maps half-updated in a way that
        // matters to a simulator; keep serving.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A JSON summary for `GET /_sim/state`.
    pub fn snapshot(&self) -> Value {
        let inner = self.lock();
        let by_id: Map<String, Value> = inner
            .reports
            .iter()
            .map(|(id, items)| (id.clone(), json!(items.len())))
            .collect();
        let latest: Map<String, Value> = inner
            .reports
            .iter()
            .filter_map(|(id, items)| items.last().map(|last| (id.clone(), last.clone())))
            .collect();
        let status: Map<String, Value> = inner
            .status_system
            .iter()
            .map(|(a, o)| (a.to_string(), json!(o)))
            .collect();
        let rejected: Map<String, Value> = inner
            .rejected
            .iter()
            .map(|(c, n)| (c.to_string(), json!(n)))
            .collect();
        json!({
            "leads": inner.leads.len(),
            "list_calls": inner.list_calls,
            "report_calls": inner.report_calls,
            "reports": inner.report_items,
            "reports_by_leads_id": by_id,
            "latest_report_by_leads_id": latest,
            "status_system": status,
            "status_system_calls": inner.status_system_calls,
            "personal_wechat": {
                "total": inner.wechat.len(),
                "created": inner.wechat_created,
                "updated": inner.wechat_updated,
            },
            "rejected": rejected,
            "nonces_remembered": inner.nonces.values().map(|n| n.order.len()).sum::<usize>(),
        })
    }

    /// Generates `count` leads created within `spread_secs` before `newest` (unix seconds) and
    /// returns their records.
    pub fn generate(&self, newest: i64, count: usize, spread_secs: i64) -> Vec<Value> {
        let mut rng = rand::thread_rng();
        let mut inner = self.lock();
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            if inner.next_id == 0 {
                inner.next_id = FIRST_ID + rng.gen_range(0..1_000_000u64) * 1_000;
            }
            let id = inner.next_id;
            inner.next_id += rng.gen_range(1..1_000);
            let create_ts = newest - rng.gen_range(0..=spread_secs.max(0));
            let action_ts = create_ts - rng.gen_range(0..120);
            let record = synth_lead(&mut rng, id, create_ts, action_ts);
            out.push(record.clone());
            inner.ids.insert(id);
            inner.leads.push(SimLead {
                id,
                create_ts,
                action_ts,
                record,
            });
        }
        inner
            .leads
            .sort_by_key(|l| std::cmp::Reverse((l.create_ts, l.id)));
        out
    }

    /// Every report item received for `leads_id`, oldest first.
    pub fn reports_for(&self, leads_id: &str) -> Vec<Value> {
        self.lock()
            .reports
            .get(leads_id)
            .cloned()
            .unwrap_or_default()
    }

    /// The status system chosen for an advertiser, when one was set.
    pub fn status_system(&self, account_id: i64) -> Option<i64> {
        self.lock().status_system.get(&account_id).copied()
    }

    /// The personal-WeChat report stored under `uuid`.
    pub fn personal_wechat(&self, uuid: &str) -> Option<Value> {
        self.lock().wechat.get(uuid).cloned()
    }
}

fn beijing_text(ts: i64) -> String {
    DateTime::from_timestamp(ts, 0)
        .unwrap_or_default()
        .with_timezone(&beijing())
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

fn short_place(name: &str) -> &str {
    name.trim_end_matches('省').trim_end_matches('市')
}

fn synth_lead(rng: &mut impl Rng, id: u64, create_ts: i64, action_ts: i64) -> Value {
    let p = synth::person(rng);
    let leads_type = enums::LEADS_TYPE[rng.gen_range(0..enums::LEADS_TYPE.len())];
    let sub_type = match leads_type {
        "LEADS_TYPE_FORM" => "FORM_SUBMIT__FORM_SUBMIT",
        "LEADS_TYPE_ONE_CLICK_AUTHORIZE" => "ONE_CLICK_AUTHORIZE__FORM_SUBMIT",
        "LEADS_TYPE_INTELLIGENT_TOOL" => "INTELLIGENT_TOOL__LEAVE_INFORMATION",
        _ => "",
    };
    let gender = match p.gender {
        1 => "GENDER_TYPE_MALE",
        2 => "GENDER_TYPE_FEMALE",
        _ => "GENDER_TYPE_UNKNOWN",
    };
    let campaign: u32 = rng.gen_range(1_000_000..9_999_999);
    let mut lead = json!({
        "leads_id": id,
        "click_id": format!("wx0{:016x}", rng.gen::<u64>()),
        "account_id": SIM_ACCOUNT_ID,
        "account_type": "ACCOUNT_TYPE_GDT",
        "advertiser_id": SIM_ACCOUNT_ID.to_string(),
        "wechat_appid": "",
        "agency_id": "",
        "agency_name": "",
        "wechat_spid": "",
        "claim_advertiser_id": SIM_ACCOUNT_ID,
        "campaign_id": campaign.to_string(),
        "campaign_name": "春季招生推广",
        "adgroup_id": (campaign + 17).to_string(),
        "adgroup_name": "华南-25至40岁",
        "ad_id": (campaign + 31).to_string(),
        "ad_name": "表单-试听课",
        "adcreative_id": (campaign + 53).to_string(),
        "adcreative_name": "视频创意A",
        "page_id": rng.gen_range(100_000..999_999u32).to_string(),
        "page_name": "免费试听报名",
        "page_url": "https://h5.gdt.qq.com/xjviewer/nemo/1234567",
        "component_id": "",
        "component_name": "",
    });
    let person = json!({
        "leads_type": leads_type,
        "leads_sub_type": sub_type,
        "chat_id": if leads_type == "LEADS_TYPE_ONLINE_CONSULT" { rng.gen_range(1_000_000_000..1_999_999_999u32).to_string() } else { String::new() },
        "leads_tags": "",
        "leads_source": enums::LEADS_SOURCE[rng.gen_range(0..8)],
        "leads_sub_source": "",
        "leads_potential_score": rng.gen_range(1..=5).to_string(),
        "leads_touch_tag": "LEADS_TOUCH_TAG_NEVER_CONTACT",
        "leads_follow_tag": "LEADS_FOLLOW_TAG_DEFAULT",
        "leads_name": p.name,
        "leads_tel": p.phone,
        "tel_location": format!("{} {}", short_place(&p.province), short_place(&p.city)),
        "leads_area": if p.province == p.city { p.city.clone() } else { format!("{}{}", p.province, p.city) },
        "leads_email": "",
        "leads_qq": "",
        "leads_wechat": "",
        "leads_gender": gender,
        "bundle": "{}",
        "leads_create_time": beijing_text(create_ts),
        "leads_action_time": beijing_text(action_ts),
        "shop_name": "",
        "shop_address": "",
        "leads_pool_id": "",
        "layer_form_content": "",
        "nick_name": "",
        "owner_name": "",
        "custom_qa": "",
        "leads_response_duration": 0,
    });
    if let (Value::Object(map), Value::Object(more)) = (&mut lead, person) {
        map.extend(more);
    }
    // Both spellings occur in the platform's examples (X-k); exercise both.
    if let Value::Object(map) = &mut lead {
        let prefixed = rng.gen_bool(0.5);
        let key = |k: &str| {
            if prefixed {
                format!("leads_{k}")
            } else {
                k.to_string()
            }
        };
        map.insert(key("age"), json!(rng.gen_range(18..60).to_string()));
        map.insert(
            key("address"),
            json!(format!("{}{}", p.city, "科技园路1号")),
        );
    }
    lead
}

// ---------------------------------------------------------------------------------------------
// Answers
// ---------------------------------------------------------------------------------------------

/// An answer in the platform's shape; API errors are HTTP 200.
fn fail(shared: &SimShared, code: i64, message: impl Into<String>) -> Response {
    *shared.tencent.lock().rejected.entry(code).or_default() += 1;
    Json(json!({"code": code, "message": message.into()})).into_response()
}

fn success(data: Value) -> Response {
    Json(json!({"code": 0, "message": "success", "data": data})).into_response()
}

// ---------------------------------------------------------------------------------------------
// Verification
// ---------------------------------------------------------------------------------------------

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ()> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v.to_str().map(Some).map_err(|_| ()),
    }
}

/// Checks the signature headers; `Err((code, message))` in the platform's terms.
fn authenticate(shared: &SimShared, headers: &HeaderMap) -> Result<(), (i64, String)> {
    let signature = header(headers, "x-signature")
        .map_err(|_| {
            (
                codes::AUTH,
                "invalid signature: X-Signature is not ASCII".to_string(),
            )
        })?
        .ok_or((codes::AUTH, "missing X-Signature header".to_string()))?;
    let algorithm = match header(headers, "x-signature-algorithm") {
        Err(()) => return Err((codes::AUTH, "unsupported X-Signature-Algorithm".into())),
        Ok(None) => Algorithm::Sha1,
        Ok(Some(name)) => match name.trim() {
            "SHA1" | "sha1" => Algorithm::Sha1,
            "SHA256" | "sha256" => Algorithm::Sha256,
            other => {
                let shown: String = other.chars().take(32).collect();
                return Err((
                    codes::AUTH,
                    format!("unsupported X-Signature-Algorithm {shown:?}"),
                ));
            }
        },
    };
    let parsed = sign::parse_x_signature(signature)
        .map_err(|e| (codes::AUTH, format!("invalid signature: {e}")))?;
    if !sign::ct_eq(parsed.token.as_bytes(), SIM_TOKEN.as_bytes()) {
        return Err((codes::AUTH, "invalid signature: unknown token".into()));
    }
    let ts = sign::parse_ts(&parsed.ts).ok_or((
        codes::AUTH,
        "invalid timestamp: expected 10-digit unix seconds".to_string(),
    ))?;
    let expected = sign::digest(SIM_TOKEN, &parsed.ts, SIM_SECRET, algorithm);
    if !sign::ct_eq(expected.as_bytes(), parsed.digest.as_bytes()) {
        return Err((
            codes::AUTH,
            format!("invalid signature: digest mismatch ({algorithm})"),
        ));
    }
    let now = shared.clock(Vendor::Tencent).unix_secs();
    if (ts - now).abs() > WINDOW_SECS {
        return Err((
            codes::AUTH,
            format!("timestamp expired: {ts} is {} s from server time", ts - now),
        ));
    }
    if let Some(nonce) = parsed.nonce {
        if nonce.is_empty() || nonce.len() > crate::connectors::tencent::model::MAX_NONCE_LEN {
            return Err((
                codes::AUTH,
                "invalid nonce: must be 1 to 32 characters".into(),
            ));
        }
        let mut inner = shared.tencent.lock();
        let log = inner.nonces.entry(parsed.token).or_default();
        log.prune(now);
        if !log.seen.insert(nonce.clone()) {
            return Err((
                codes::AUTH,
                "nonce reused: each request needs a new nonce".into(),
            ));
        }
        log.order.push_back((ts, nonce));
    }
    Ok(())
}

macro_rules! auth_or_fail {
    ($shared:expr, $headers:expr) => {
        if let Err((code, message)) = authenticate(&$shared, &$headers) {
            return fail(&$shared, code, message);
        }
    };
}

fn body_json(
    shared: &SimShared,
    body: Result<Bytes, BytesRejection>,
) -> Result<Value, Box<Response>> {
    let bytes = body.map_err(|e| {
        let status = e.status();
        let mut r = fail(
            shared,
            codes::INVALID,
            format!("cannot read request body: {e}"),
        );
        *r.status_mut() = status;
        Box::new(r)
    })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Box::new(fail(
            shared,
            codes::INVALID,
            "request body is empty",
        )));
    }
    serde_json::from_slice::<Value>(&bytes).map_err(|e| {
        Box::new(fail(
            shared,
            codes::INVALID,
            format!("request body is not valid JSON: {e}"),
        ))
    })
}

/// A JSON integer or a decimal string.
fn as_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A `leads_id`: a JSON integer or a decimal string, as exact text.
fn as_id(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) if n.is_u64() || n.is_i64() => Some(n.to_string()),
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            Some(s.clone())
        }
        _ => None,
    }
}

fn text<'a>(item: &'a Value, key: &str) -> Option<&'a str> {
    item.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

// ---------------------------------------------------------------------------------------------
// GET /leads/list
// ---------------------------------------------------------------------------------------------

/// Parses `start_time`/`end_time`: unix seconds, `YYYY-MM-DD` (whole Beijing day) or
/// `YYYY-MM-DD HH:MM:SS`.
fn parse_bound(text: &str, end: bool) -> Option<i64> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok();
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let time = if end {
            date.and_hms_opt(23, 59, 59)?
        } else {
            date.and_hms_opt(0, 0, 0)?
        };
        return beijing()
            .from_local_datetime(&time)
            .single()
            .map(|t| t.timestamp());
    }
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
        .ok()
        .and_then(|t| beijing().from_local_datetime(&t).single())
        .map(|t| t.timestamp())
}

async fn list_leads(
    AxState(shared): AxState<Arc<SimShared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    auth_or_fail!(shared, headers);
    let params: HashMap<String, String> =
        form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let get = |k: &str| params.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let Some(start_text) = get("start_time") else {
        return fail(&shared, codes::INVALID, "missing parameter: start_time");
    };
    let Some(end_text) = get("end_time") else {
        return fail(&shared, codes::INVALID, "missing parameter: end_time");
    };
    let Some(start) = parse_bound(start_text, false) else {
        return fail(
            &shared,
            codes::INVALID,
            format!("invalid start_time: {start_text:?}"),
        );
    };
    let Some(end) = parse_bound(end_text, true) else {
        return fail(
            &shared,
            codes::INVALID,
            format!("invalid end_time: {end_text:?}"),
        );
    };
    if start > end {
        return fail(&shared, codes::INVALID, "start_time is after end_time");
    }
    let int_param = |k: &str, default: i64| match get(k) {
        None => Ok(default),
        Some(v) => v.parse::<i64>().map_err(|_| format!("invalid {k}: {v:?}")),
    };
    let time_type = match int_param("time_type", 0) {
        Ok(t @ 0..=1) => t,
        Ok(t) => {
            return fail(
                &shared,
                codes::INVALID,
                format!("invalid time_type: {t} (0 or 1)"),
            )
        }
        Err(m) => return fail(&shared, codes::INVALID, m),
    };
    let page = match int_param("page", 1) {
        Ok(p) if p >= 1 => p,
        Ok(p) => {
            return fail(
                &shared,
                codes::INVALID,
                format!("invalid page: {p} (from 1)"),
            )
        }
        Err(m) => return fail(&shared, codes::INVALID, m),
    };
    let page_size = match int_param("page_size", 10) {
        Ok(s @ 1..=200) => s,
        Ok(s) => {
            return fail(
                &shared,
                codes::INVALID,
                format!("invalid page_size: {s} (must be between 1 and 200)"),
            )
        }
        Err(m) => return fail(&shared, codes::INVALID, m),
    };
    let after = match get("search_after_leads_id") {
        None => None,
        Some(v) => match v.parse::<u64>() {
            Ok(id) => Some(id),
            Err(_) => {
                return fail(
                    &shared,
                    codes::INVALID,
                    format!("invalid search_after_leads_id: {v:?}"),
                )
            }
        },
    };

    let mut inner = shared.tencent.lock();
    inner.list_calls += 1;
    let in_window: Vec<&SimLead> = inner
        .leads
        .iter()
        .filter(|l| {
            let t = if time_type == 1 {
                l.create_ts
            } else {
                l.action_ts
            };
            (start..=end).contains(&t)
        })
        .collect();
    let rest: &[&SimLead] = match after {
        None => &in_window,
        Some(id) => match in_window.iter().position(|l| l.id == id) {
            Some(at) => &in_window[at + 1..],
            None => {
                drop(inner);
                return fail(
                    &shared,
                    codes::INVALID,
                    format!("search_after_leads_id {id} is not in the window"),
                );
            }
        },
    };
    let total = rest.len() as i64;
    let total_page = (total + page_size - 1) / page_size;
    let from = ((page - 1).saturating_mul(page_size)).min(total) as usize;
    let to = (from + page_size as usize).min(rest.len());
    let list: Vec<Value> = rest[from..to].iter().map(|l| l.record.clone()).collect();
    drop(inner);
    success(json!({
        "page_info": {"page": page, "page_size": page_size, "total_number": total, "total_page": total_page},
        "list": list,
    }))
}

// ---------------------------------------------------------------------------------------------
// POST /leads/report
// ---------------------------------------------------------------------------------------------

fn check_report_item(i: usize, item: &Value, industry: bool) -> Result<String, (i64, String)> {
    let field = |k: &str| format!("list[{i}].{k}");
    if !item.is_object() {
        return Err((codes::INVALID, format!("list[{i}] must be an object")));
    }
    let id = item.get("leads_id").and_then(as_id).ok_or((
        codes::INVALID,
        format!("{} is missing or not an id", field("leads_id")),
    ))?;
    let convert = text(item, "leads_convert_type");
    let reason = text(item, "leads_ineffect_reason");
    let score = text(item, "leads_intention_score");
    let outer = text(item, "outerLeadsConvertType");
    if convert.is_none() && score.is_none() && outer.is_none() {
        return Err((
            codes::INVALID,
            format!(
                "{}: one of leads_convert_type, leads_intention_score, outerLeadsConvertType is required",
                field("leads_convert_type")
            ),
        ));
    }
    if let Some(c) = convert {
        if !enums::LEADS_CONVERT_STATUS.contains(&c) {
            return Err((
                codes::INVALID,
                format!("{}: unknown value {c:?}", field("leads_convert_type")),
            ));
        }
        if !industry && enums::LEADS_CONVERT_STATUS_INDUSTRY.contains(&c) {
            return Err((
                codes::INVALID,
                format!(
                    "{}: {c} needs the industry status system (leads_status_system_option 2)",
                    field("leads_convert_type")
                ),
            ));
        }
        if c == enums::CONVERT_STATUS_DEPRECATED && reason.is_none() {
            return Err((
                codes::INVALID,
                format!(
                    "{} is required when leads_convert_type is LEADS_CONVERT_STATUS_DEPRECATED",
                    field("leads_ineffect_reason")
                ),
            ));
        }
    }
    if let Some(r) = reason {
        if !enums::LEADS_INEFFECT_REASON.contains(&r) {
            return Err((
                codes::INVALID,
                format!("{}: unknown value {r:?}", field("leads_ineffect_reason")),
            ));
        }
    }
    if let Some(s) = score {
        if !enums::LEADS_INTENTION_SCORE.contains(&s) {
            return Err((
                codes::INVALID,
                format!("{}: unknown value {s:?}", field("leads_intention_score")),
            ));
        }
    }
    Ok(id)
}

async fn report(
    AxState(shared): AxState<Arc<SimShared>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    auth_or_fail!(shared, headers);
    let body = match body_json(&shared, body) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let Some(list) = body.get("list").and_then(Value::as_array) else {
        return fail(
            &shared,
            codes::INVALID,
            "missing parameter: list (an array)",
        );
    };
    if list.is_empty() {
        return fail(&shared, codes::INVALID, "list must hold at least one item");
    }
    // The cap is the spec's reading of a garbled line (X-n: "plausibly 50"), which our client
    // enforces too; a finer code for it is not published.
    if list.len() > 50 {
        return fail(
            &shared,
            codes::INVALID,
            format!("list holds {} items, at most 50", list.len()),
        );
    }
    let industry = shared.tencent.status_system(SIM_ACCOUNT_ID) == Some(2);
    let mut ids = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        match check_report_item(i, item, industry) {
            Ok(id) => ids.push(id),
            Err((code, message)) => return fail(&shared, code, message),
        }
    }
    let mut inner = shared.tencent.lock();
    // A status for a lead the platform never issued cannot be stored. Nothing documents the
    // answer, so it is the documented envelope with the parameter range's placeholder (an
    // unknown id is a wrong parameter value), and the whole call is refused: the spec says
    // nothing of partial success either.
    if let Some((i, id)) = ids
        .iter()
        .enumerate()
        .find(|(_, id)| !id.parse().is_ok_and(|n: u64| inner.ids.contains(&n)))
    {
        drop(inner);
        return fail(
            &shared,
            codes::INVALID,
            format!("list[{i}].leads_id: no lead {id} (leads_id 不存在)"),
        );
    }
    inner.report_calls += 1;
    for (id, item) in ids.into_iter().zip(list) {
        inner.report_items += 1;
        inner.reports.entry(id).or_default().push(item.clone());
    }
    drop(inner);
    success(json!([{}]))
}

// ---------------------------------------------------------------------------------------------
// POST /leads/set_leads_status_system
// ---------------------------------------------------------------------------------------------

async fn set_leads_status_system(
    AxState(shared): AxState<Arc<SimShared>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    auth_or_fail!(shared, headers);
    let body = match body_json(&shared, body) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let Some(account_id) = body.get("account_id").and_then(as_int) else {
        return fail(
            &shared,
            codes::INVALID,
            "missing parameter: account_id (an integer)",
        );
    };
    if account_id != SIM_ACCOUNT_ID {
        return fail(
            &shared,
            codes::AUTH,
            format!("no permission for account_id {account_id}"),
        );
    }
    let option = match body.get("leads_status_system_option").and_then(as_int) {
        Some(o @ 1..=2) => o,
        Some(o) => {
            return fail(
                &shared,
                codes::INVALID,
                format!("invalid leads_status_system_option: {o} (1 or 2)"),
            )
        }
        None => {
            return fail(
                &shared,
                codes::INVALID,
                "missing parameter: leads_status_system_option",
            )
        }
    };
    let mut inner = shared.tencent.lock();
    inner.status_system_calls += 1;
    inner.status_system.insert(account_id, option);
    drop(inner);
    success(json!([{}]))
}

// ---------------------------------------------------------------------------------------------
// POST /leads/report_personal_wechat
// ---------------------------------------------------------------------------------------------

async fn report_personal_wechat(
    AxState(shared): AxState<Arc<SimShared>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    auth_or_fail!(shared, headers);
    let body = match body_json(&shared, body) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    for key in [
        "uuid",
        "app_id",
        "open_id",
        "avatar_url",
        "nickname",
        "click_id",
        "action_time",
    ] {
        if text(&body, key).is_none() {
            return fail(&shared, codes::INVALID, format!("missing parameter: {key}"));
        }
    }
    let Some(account_id) = body.get("account_id").and_then(as_int) else {
        return fail(
            &shared,
            codes::INVALID,
            "missing parameter: account_id (an integer)",
        );
    };
    if account_id != SIM_ACCOUNT_ID {
        return fail(
            &shared,
            codes::AUTH,
            format!("no permission for account_id {account_id}"),
        );
    }
    let action_time = text(&body, "action_time").unwrap_or_default();
    if NaiveDateTime::parse_from_str(action_time, "%Y-%m-%d %H:%M:%S").is_err() {
        return fail(
            &shared,
            codes::INVALID,
            format!("invalid action_time: {action_time:?} (yyyy-mm-dd HH:MM:SS)"),
        );
    }
    let uuid = text(&body, "uuid").unwrap_or_default().to_string();
    let mut inner = shared.tencent.lock();
    if inner.wechat.insert(uuid, body).is_some() {
        inner.wechat_updated += 1;
    } else {
        inner.wechat_created += 1;
    }
    drop(inner);
    success(json!([{}]))
}

// ---------------------------------------------------------------------------------------------
// Routers
// ---------------------------------------------------------------------------------------------

// Unknown paths and methods are the web server's business, not the API's (which always answers
// HTTP 200): the statuses are HTTP's own, the body the documented envelope with the parameter
// placeholder.

async fn method_not_allowed(request: axum::extract::Request) -> Response {
    let mut r = Json(json!({
        "code": codes::INVALID,
        "message": format!("method {} not allowed for {}", request.method(), request.uri().path()),
    }))
    .into_response();
    *r.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    r
}

async fn no_such_interface(request: axum::extract::Request) -> Response {
    let mut r = Json(json!({
        "code": codes::INVALID,
        "message": format!("no such interface: {} {}", request.method(), request.uri().path()),
    }))
    .into_response();
    *r.status_mut() = StatusCode::NOT_FOUND;
    r
}

/// The vendor API, served below its prefix.
pub fn router(shared: Arc<SimShared>) -> Router {
    Router::new()
        .route("/leads/list", get(list_leads).fallback(method_not_allowed))
        .route("/leads/report", post(report).fallback(method_not_allowed))
        .route(
            "/leads/set_leads_status_system",
            post(set_leads_status_system).fallback(method_not_allowed),
        )
        .route(
            "/leads/report_personal_wechat",
            post(report_personal_wechat).fallback(method_not_allowed),
        )
        .fallback(no_such_interface)
        .with_state(shared)
}

async fn control_generate(
    AxState(shared): AxState<Arc<SimShared>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let bad = |m: String| (StatusCode::BAD_REQUEST, Json(json!({"error": m}))).into_response();
    let body: Value = match body {
        Ok(b) if b.iter().all(u8::is_ascii_whitespace) => json!({}),
        Ok(b) => match serde_json::from_slice(&b) {
            Ok(v) => v,
            Err(e) => return bad(format!("invalid JSON: {e}")),
        },
        Err(e) => return bad(format!("cannot read body: {e}")),
    };
    let count = match body.get("count").map(Value::as_u64) {
        None => 1,
        Some(Some(n)) if (n as usize) <= MAX_GENERATE => n as usize,
        Some(_) => return bad(format!("count must be an integer 0..={MAX_GENERATE}")),
    };
    let spread = match body.get("spread_secs").map(Value::as_i64) {
        None => 3600,
        Some(Some(s)) if s >= 0 => s,
        Some(_) => return bad("spread_secs must be a non-negative integer".into()),
    };
    let newest = match body.get("at").map(Value::as_i64) {
        None => shared.clock(Vendor::Tencent).unix_secs(),
        Some(Some(t)) if (0..=4_102_444_800).contains(&t) => t,
        Some(_) => return bad("at must be unix seconds".into()),
    };
    let leads = shared.tencent.generate(newest, count, spread);
    Json(json!({"count": leads.len(), "leads": leads})).into_response()
}

async fn control_push(
    AxState(shared): AxState<Arc<SimShared>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body: Value = match body {
        Ok(b) => serde_json::from_slice(&b).unwrap_or_else(|_| json!({})),
        Err(_) => json!({}),
    };
    let algorithm = body
        .get("algorithm")
        .and_then(Value::as_str)
        .and_then(Algorithm::parse)
        .unwrap_or(Algorithm::Sha1);
    let now = shared.clock(Vendor::Tencent).unix_secs();
    let lead = shared
        .tencent
        .generate(now, 1, 0)
        .pop()
        .unwrap_or(Value::Null);
    let headers = webhook::sign_push(SIM_TOKEN, SIM_SECRET, now, algorithm);
    Json(json!({
        "headers": {
            "X-Signature": headers.signature,
            "X-Signature-Algorithm": headers.algorithm.as_str(),
            "Content-Type": "application/json",
        },
        "body": lead,
    }))
    .into_response()
}

/// Controls under `/_sim/tencent`.
pub fn control_router(shared: Arc<SimShared>) -> Router {
    Router::new()
        .route("/leads", post(control_generate))
        .route("/push", post(control_push))
        .with_state(shared)
}
