//! Simulated Feiyu CRM pull API (spec §1), served below [`super::prefix`]`(Feiyu)`.
//!
//! `GET /crm/v2/openapi/pull-clues/` verifies like the real server is understood to:
//! `Access-Token` must be the account's token; `Timestamp` must be unix seconds within ±300 s of
//! the simulator's clock (F-j); `Signature` must equal base64(hex(HMAC-SHA256)) of
//! `route?start_time=S&end_time=E ts`, recomputed from the query values as received (after the
//! usual URL decoding, never normalized) and the `Timestamp` text, compared in constant time.
//! Then the window is checked: `YYYY-MM-DD` days (inclusive, Beijing time) or unix seconds, start
//! not after end; `page` ≥ 1 (default 1) and `page_size` 1..=100 (default 10, as the seed says).
//!
//! `POST /crm/v2/openapi/clue/callback/` (spec §1.8) checks the same three headers with the
//! signature over `"<route> <ts>"` (no query, vector F3), then the body's shape:
//! `{"source": <integer>, "data": {"clue_id": "<non-empty string>", "clue_convert_state": <integer>}}`.
//! The spec says nothing of which clues or states the vendor accepts, so the sim accepts any and
//! records each callback (`GET /_sim/feiyu/callbacks`) for tests to read.
//!
//! Every failure is answered the vendor's way: **HTTP 200** with `{"status":"-2","msg":"…"}`.
//! The spec documents a failure only as "`status` is not `success` and a `msg` is present", and
//! `"-2"` is the one failure value a public client names (spec §1.6, F-d); the vendor publishes
//! no error codes or messages, so the `msg` texts are ours and nothing may depend on them. The
//! public clients only ever look at `status`/`msg` (the seed example even retries anything that
//! is not HTTP 200, which would make a bad token look transient), so the sim does not use 401.
//! Unknown paths get 404 and wrong methods 405 (the web server's statuses), in the same shape.
//!
//! Controls under `/_sim/feiyu`: `POST /clues {"count": N, "date"?: "YYYY-MM-DD"}` generates N
//! clues created on that day (default today, Beijing time) and returns them; `GET /clues` lists
//! every clue; `GET /callbacks` lists the callbacks accepted. `snapshot()`: `clues`, `pulls`
//! (pages served), `callbacks` (accepted), `rejected` (failed pulls and callbacks).

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{RawQuery, State as AxumState};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{NaiveDate, TimeZone};
use rand::Rng;
use serde::Deserialize;
use serde_json::{json, Value};
use subtle::ConstantTimeEq;

use super::synth;
use super::SimShared;
use crate::clock::beijing;
use crate::connectors::feiyu::model::{CONVERT_STATUSES, MAX_PAGE_SIZE};
use crate::connectors::feiyu::sign;
use crate::connectors::Vendor;

/// Where this vendor is served, below the simulator's base URL.
pub const PREFIX: &str = "/feiyu";

/// Config keys of the simulator's built-in feiyu account.
pub const CREDENTIALS_TOML: &str =
    "token = \"sim-feiyu-token\"\nsignature_key = \"SimFeiyuSignKey01\"\n";

const TOKEN: &str = "sim-feiyu-token";
const SIGNATURE_KEY: &str = "SimFeiyuSignKey01";
/// The accepted distance between `Timestamp` and the server's clock: the spec's resolution F-j
/// (the seed's `Signature` class has `timeout = 300`), not a published limit.
pub const TIMESTAMP_WINDOW_SECS: i64 = 300;
/// The seed's default page size.
const DEFAULT_PAGE_SIZE: usize = 10;
/// The most clues one control call may generate.
const MAX_GENERATE: usize = 10_000;
/// The advertiser behind the sim account, in the captured payload's style.
const ADV_ID: &str = "1664750332606472";
/// Clue ids start near the captured one, well above 2^53.
const FIRST_CLUE_ID: u64 = 6_831_434_361_875_726_350;

/// feiyu simulator state.
#[derive(Debug, Default)]
pub struct State {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    clues: Vec<SimClue>,
    generated: u64,
    pulls: u64,
    /// Accepted callbacks' bodies, in order.
    callbacks: Vec<Value>,
    rejected: u64,
}

#[derive(Debug)]
struct SimClue {
    /// Unix seconds.
    created: i64,
    /// Creation order, to keep pages stable for clues of the same second.
    seq: u64,
    record: Value,
}

impl State {
    /// A JSON summary for `GET /_sim/state`.
    pub fn snapshot(&self) -> Value {
        let inner = self.lock();
        json!({
            "clues": inner.clues.len(),
            "pulls": inner.pulls,
            "callbacks": inner.callbacks.len(),
            "rejected": inner.rejected,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic elsewhere must not take the simulator down with a poisoned lock.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The vendor API, served below its prefix.
pub fn router(shared: Arc<SimShared>) -> Router {
    Router::new()
        .route(
            sign::PULL_CLUES_ROUTE,
            get(pull_clues).fallback(method_not_allowed),
        )
        .route(
            sign::CALLBACK_ROUTE,
            post(clue_callback).fallback(method_not_allowed),
        )
        .fallback(unknown_route)
        .with_state(shared)
}

/// Controls under `/_sim/feiyu`.
pub fn control_router(shared: Arc<SimShared>) -> Router {
    Router::new()
        .route("/clues", post(generate).get(list))
        .route("/callbacks", get(list_callbacks))
        .with_state(shared)
}

/// The `status` of a failed answer: the only failure value on record (spec §1.6).
pub const FAILURE_STATUS: &str = "-2";

/// The vendor's error shape. HTTP 200, like the real service (see the module doc).
fn vendor_error(msg: impl Into<String>) -> Response {
    Json(json!({"status": FAILURE_STATUS, "msg": msg.into()})).into_response()
}

async fn unknown_route(method: Method, uri: Uri) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"status": FAILURE_STATUS, "msg": format!("no such api: {method} {}", uri.path())})),
    )
        .into_response()
}

async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    let allowed = if uri.path().ends_with(sign::CALLBACK_ROUTE) {
        "clue/callback is POST"
    } else {
        "pull-clues is GET"
    };
    (
        StatusCode::METHOD_NOT_ALLOWED,
        Json(json!({"status": FAILURE_STATUS, "msg": format!("method {method} not allowed: {allowed}")})),
    )
        .into_response()
}

async fn clue_callback(
    AxumState(shared): AxumState<Arc<SimShared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let outcome = serve_callback(&shared, &headers, &body);
    let mut inner = shared.feiyu.lock();
    match outcome {
        Ok(body) => {
            inner.callbacks.push(body);
            Json(json!({"status": "success"})).into_response()
        }
        Err(msg) => {
            inner.rejected += 1;
            vendor_error(msg)
        }
    }
}

fn serve_callback(shared: &SimShared, headers: &HeaderMap, body: &[u8]) -> Result<Value, String> {
    check_signed(shared, headers, sign::CALLBACK_ROUTE, &[])?;
    let body: Value = serde_json::from_slice(body).map_err(|e| format!("body is not JSON: {e}"))?;
    let integer = |v: Option<&Value>| v.and_then(Value::as_i64);
    if integer(body.get("source")).is_none() {
        return Err("bad parameter source: expected an integer".into());
    }
    let data = body
        .get("data")
        .and_then(Value::as_object)
        .ok_or("bad parameter data: expected an object {clue_id, clue_convert_state}")?;
    match data.get("clue_id").and_then(Value::as_str) {
        Some(id) if !id.trim().is_empty() => {}
        _ => return Err("bad parameter data.clue_id: expected a non-empty string".into()),
    }
    if integer(data.get("clue_convert_state")).is_none() {
        return Err("bad parameter data.clue_convert_state: expected an integer".into());
    }
    Ok(body)
}

async fn list_callbacks(AxumState(shared): AxumState<Arc<SimShared>>) -> Json<Value> {
    Json(Value::Array(shared.feiyu.lock().callbacks.clone()))
}

/// Checks `Access-Token`, `Timestamp` (±300 s) and `Signature` over `route[?query] ts`, the way
/// both routes are signed (spec §1.4, §1.8).
fn check_signed(
    shared: &SimShared,
    headers: &HeaderMap,
    route: &str,
    query: &[(&str, &str)],
) -> Result<(), String> {
    let token = header(headers, "Access-Token")?;
    if !bool::from(token.as_bytes().ct_eq(TOKEN.as_bytes())) {
        return Err("invalid access token".into());
    }
    let ts_text = header(headers, "Timestamp")?;
    let signature = header(headers, "Signature")?;
    let ts: i64 = ts_text
        .parse()
        .map_err(|_| format!("invalid Timestamp {ts_text:?}: expected unix seconds"))?;
    let now = shared.clock(Vendor::Feiyu).unix_secs();
    if (ts - now).abs() > TIMESTAMP_WINDOW_SECS {
        return Err(format!(
            "timestamp expired: {ts} is {} s from server time {now} (allowed ±{TIMESTAMP_WINDOW_SECS} s)",
            ts - now
        ));
    }
    let expected = sign::signature(SIGNATURE_KEY, &sign::string_to_sign(route, query, ts_text));
    if !bool::from(expected.as_bytes().ct_eq(signature.as_bytes())) {
        return Err("invalid signature".into());
    }
    Ok(())
}

async fn pull_clues(
    AxumState(shared): AxumState<Arc<SimShared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let outcome = serve_pull(&shared, &headers, query.as_deref().unwrap_or(""));
    let mut inner = shared.feiyu.lock();
    match outcome {
        Ok(body) => {
            inner.pulls += 1;
            Json(body).into_response()
        }
        Err(msg) => {
            inner.rejected += 1;
            vendor_error(msg)
        }
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, String> {
    match headers.get(name) {
        None => Err(format!("missing {name} header")),
        Some(v) => match v.to_str() {
            Ok(text) if !text.is_empty() => Ok(text),
            _ => Err(format!("invalid {name} header: empty or not ASCII")),
        },
    }
}

fn serve_pull(shared: &SimShared, headers: &HeaderMap, query: &str) -> Result<Value, String> {
    let token = header(headers, "Access-Token")?;
    if !bool::from(token.as_bytes().ct_eq(TOKEN.as_bytes())) {
        return Err("invalid access token".into());
    }
    header(headers, "Timestamp")?;
    header(headers, "Signature")?;

    let mut start_time = None;
    let mut end_time = None;
    let mut page = None;
    let mut page_size = None;
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        let slot = match key.as_ref() {
            "start_time" => &mut start_time,
            "end_time" => &mut end_time,
            "page" => &mut page,
            "page_size" => &mut page_size,
            // Real servers ignore parameters they do not know; so does the sim.
            _ => continue,
        };
        if slot.is_some() {
            return Err(format!("duplicate parameter {key}"));
        }
        *slot = Some(value.into_owned());
    }
    let start_time = start_time.ok_or("missing parameter start_time")?;
    let end_time = end_time.ok_or("missing parameter end_time")?;
    check_signed(
        shared,
        headers,
        sign::PULL_CLUES_ROUTE,
        &[("start_time", &start_time), ("end_time", &end_time)],
    )?;

    let (from, to) = window(&start_time, &end_time)?;
    let page: usize = match page {
        None => 1,
        Some(p) => p
            .parse()
            .ok()
            .filter(|p| *p >= 1)
            .ok_or_else(|| format!("bad page {p:?}: expected an integer >= 1"))?,
    };
    let page_size: usize = match page_size {
        None => DEFAULT_PAGE_SIZE,
        Some(s) => s
            .parse()
            .ok()
            .filter(|s| (1..=MAX_PAGE_SIZE as usize).contains(s))
            .ok_or_else(|| {
                format!("bad page_size {s:?}: expected an integer from 1 to {MAX_PAGE_SIZE}")
            })?,
    };

    let inner = shared.feiyu.lock();
    let mut matching: Vec<&SimClue> = inner
        .clues
        .iter()
        .filter(|c| (from..=to).contains(&c.created))
        .collect();
    matching.sort_by_key(|c| (c.created, c.seq));
    let data: Vec<Value> = matching
        .iter()
        .skip((page - 1).saturating_mul(page_size))
        .take(page_size)
        .map(|c| c.record.clone())
        .collect();
    Ok(json!({"status": "success", "count": matching.len(), "data": data}))
}

/// The window in unix seconds, both ends inclusive: whole Beijing days for `YYYY-MM-DD`, or the
/// seconds themselves (one public library sends those).
fn window(start: &str, end: &str) -> Result<(i64, i64), String> {
    fn bound(field: &str, text: &str, end_of_day: bool) -> Result<i64, String> {
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            return text
                .parse()
                .map_err(|_| format!("bad {field} {text:?}: too large"));
        }
        let day = NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map_err(|_| format!("bad {field} {text:?}: expected YYYY-MM-DD"))?;
        let day = if end_of_day {
            day.succ_opt()
        } else {
            Some(day)
        }
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .and_then(|t| beijing().from_local_datetime(&t).single())
        .ok_or_else(|| format!("bad {field} {text:?}: out of range"))?;
        Ok(day.timestamp() - i64::from(end_of_day))
    }
    let from = bound("start_time", start, false)?;
    let to = bound("end_time", end, true)?;
    if from > to {
        return Err(format!(
            "bad time window: start_time {start} is after end_time {end}"
        ));
    }
    Ok((from, to))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GenerateRequest {
    count: usize,
    #[serde(default)]
    date: Option<String>,
}

fn control_error(message: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"status": "error", "msg": message})),
    )
        .into_response()
}

async fn generate(AxumState(shared): AxumState<Arc<SimShared>>, body: Bytes) -> Response {
    let request: GenerateRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return control_error(format!(
                "invalid body ({e}); expected {{\"count\": N, \"date\": \"YYYY-MM-DD\"}}"
            ))
        }
    };
    if !(1..=MAX_GENERATE).contains(&request.count) {
        return control_error(format!("count must be between 1 and {MAX_GENERATE}"));
    }
    let now = shared.clock(Vendor::Feiyu).now_beijing();
    let today = now.date_naive();
    let day = match request.date.as_deref() {
        None => today,
        Some(text) => match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            Ok(day) => day,
            Err(_) => return control_error(format!("bad date {text:?}: expected YYYY-MM-DD")),
        },
    };
    let Some(day_start) = day
        .and_hms_opt(0, 0, 0)
        .and_then(|t| beijing().from_local_datetime(&t).single())
        .map(|t| t.timestamp())
    else {
        return control_error(format!("date {day} is out of range"));
    };
    // Clues of today cannot be from the future.
    let latest = if day == today {
        now.timestamp()
    } else {
        day_start + 86_399
    };

    let mut rng = rand::thread_rng();
    let mut inner = shared.feiyu.lock();
    let mut created = Vec::with_capacity(request.count);
    for _ in 0..request.count {
        let seq = inner.generated;
        inner.generated += 1;
        let at = rng.gen_range(day_start..=latest.max(day_start));
        let record = synthetic_clue(&mut rng, seq, at);
        created.push(record.clone());
        inner.clues.push(SimClue {
            created: at,
            seq,
            record,
        });
    }
    Json(json!({"ok": true, "count": created.len(), "clues": created})).into_response()
}

async fn list(AxumState(shared): AxumState<Arc<SimShared>>) -> Json<Value> {
    let inner = shared.feiyu.lock();
    let clues: Vec<&Value> = inner.clues.iter().map(|c| &c.record).collect();
    Json(json!({"count": clues.len(), "clues": clues}))
}

/// One clue in the captured real payload's style: ids as strings above 2^53, `create_time` as a
/// string, `site_id` sometimes null, the `telphone` spelling on every other clue (the seed's
/// `telephone` on the rest), every `clue_type` in turn, and the extras (`store`, `location`…).
fn synthetic_clue(rng: &mut impl Rng, seq: u64, created: i64) -> Value {
    const PLANS: &[&str] = &["装修-表单-通投", "教育-咨询-抖音", "汽车-电话-头条"];
    const APPS: &[&str] = &["今日头条", "抖音", "西瓜视频", "穿山甲"];
    const REMARKS: &[&str] = &["", "想了解价格", "周末方便联系", "请尽快回电"];
    const MODULES: [&str; 6] = ["表单", "在线咨询", "智能电话", "网页回呼", "卡券", "抽奖"];
    let person = synth::person(rng);
    let clue_type = (seq % 6) as i64;
    let clue_id = (FIRST_CLUE_ID + seq * 7919 + rng.gen_range(0..7919)).to_string();
    let plan_id = format!("16678685464{:05}", rng.gen_range(0..100_000));
    let short = |s: &str| s.trim_end_matches(['省', '市']).to_string();
    let location = format!("{}+{}", short(&person.province), short(&person.city));
    let local = chrono::DateTime::from_timestamp(created, 0)
        .map(|t| {
            t.with_timezone(&beijing())
                .format("%Y-%m-%d %H:%M:%S")
                .to_string()
        })
        .unwrap_or_default();
    let phone_key = if seq % 2 == 0 {
        "telphone"
    } else {
        "telephone"
    };
    // One clue in four carries only `location`, as the captured payload does.
    let (province, city) = if seq % 4 == 3 {
        (String::new(), String::new())
    } else {
        (person.province.clone(), person.city.clone())
    };
    let mut record = json!({
        "clue_id": clue_id,
        "adv_id": ADV_ID,
        "adv_name": "模拟广告主",
        "ad_plan_id": plan_id,
        "ad_plan_name": PLANS[rng.gen_range(0..PLANS.len())],
        "site_id": if seq % 3 == 0 { Value::Null } else { json!(format!("68220{:014}", seq)) },
        "external_url": format!("https://www.chengzijianzhan.com/tetris/page/{plan_id}/"),
        "clue_type": clue_type,
        "module_name": MODULES[clue_type as usize],
        "module_id": format!("{}", 1_667_870_000_000_000u64 + seq),
        "create_time": created.to_string(),
        "clue_source": if seq % 5 == 4 { 6 } else { 1 },
        "name": person.name,
        "gender": person.gender,
        "age": 0,
        "email": "",
        "weixin": if seq % 3 == 1 { format!("wx_{:06}", rng.gen_range(0..1_000_000)) } else { String::new() },
        "qq": "",
        "province_name": province,
        "city_name": city,
        "address": "",
        "remark": REMARKS[rng.gen_range(0..REMARKS.len())],
        "remark_dict": {},
        "form_remark": "",
        "appname": APPS[rng.gen_range(0..APPS.len())],
        "convert_status": CONVERT_STATUSES[2],
        "store_id": "",
        "location": location,
        "cid": format!("{}", 1_667_870_000_100_000u64 + seq),
        "req_id": format!("{}{:016X}", local.replace(['-', ' ', ':'], ""), rng.gen::<u64>()),
        "date": local,
    });
    let map = record.as_object_mut().expect("a clue is an object");
    map.insert(phone_key.to_string(), Value::String(person.phone));
    map.insert(
        "store".into(),
        json!({"store_name": "", "store_id": "", "store_pack_remark": "", "store_pack_name": "",
               "store_remark": "", "store_address": "", "store_location": "", "store_pack_id": ""}),
    );
    record
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_whole_beijing_days_or_seconds() {
        // 2020-05-27 00:00:00 +08:00 = 1590508800.
        assert_eq!(
            window("2020-05-27", "2020-05-27").unwrap(),
            (1_590_508_800, 1_590_508_800 + 86_399)
        );
        assert_eq!(window("1", "2").unwrap(), (1, 2));
        assert!(window("2020-05-28", "2020-05-27")
            .unwrap_err()
            .contains("after end_time"));
        assert!(window("2020-13-01", "2020-05-27")
            .unwrap_err()
            .starts_with("bad start_time"));
        assert!(window("2020-05-01", "")
            .unwrap_err()
            .starts_with("bad end_time"));
    }

    #[test]
    fn synthetic_clues_decode_as_clues() {
        let mut rng = rand::thread_rng();
        for seq in 0..12 {
            let record = synthetic_clue(&mut rng, seq, 1_590_567_259);
            let clue = crate::connectors::feiyu::Clue::try_from(record).unwrap();
            assert!(clue.clue_id.parse::<u64>().unwrap() > 1 << 53);
            assert!(clue.telephone.as_deref().is_some_and(|p| p.len() == 11));
            let lead = clue.to_lead("sim");
            assert!(lead.province.is_some() && lead.city.is_some());
            assert_eq!(lead.created_at.unwrap().timestamp(), 1_590_567_259);
        }
    }
}
