//! The simulator's controls under `/_sim/linkflow` (token lifetime, injected errors, synthetic
//! contacts).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State as AxumState;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use crate::connectors::Vendor;
use crate::sim::SimShared;

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
        let p = crate::sim::synth::person(&mut rng);
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
