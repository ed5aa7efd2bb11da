//! The Template vendor's simulator: checks `X-Template-Signature` over the exact body bytes
//! (±300 s on the timestamp), keeps contacts, and answers in the vendor's envelope.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State as AxState;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::SimShared;
use crate::connectors::template::model::{Contact, CreateContactRequest, GetContactRequest};
use crate::connectors::template::sign;
use crate::connectors::Vendor;

/// Where this vendor is served, below the simulator's base URL.
pub const PREFIX: &str = "/template";

/// The config keys of the simulator's built-in account.
pub const CREDENTIALS_TOML: &str = "key_id = \"sim-key\"\nsecret = \"sim-template-secret\"\n";

const KEY_ID: &str = "sim-key";
const SECRET: &str = "sim-template-secret";

/// The simulator's contacts.
#[derive(Debug, Default)]
pub struct State {
    contacts: Mutex<BTreeMap<u64, Contact>>,
}

impl State {
    /// A summary for `GET /_sim/state`.
    pub fn snapshot(&self) -> Value {
        json!({"contacts": self.contacts.lock().expect("contacts lock").len()})
    }
}

/// The vendor's routes.
pub fn router(shared: Arc<SimShared>) -> Router {
    Router::new()
        .route("/v1/contacts", post(create_contact))
        .route("/v1/contacts/get", post(get_contact))
        .with_state(shared)
}

/// Controls under `/_sim/template` (none yet).
pub fn control_router(shared: Arc<SimShared>) -> Router {
    Router::new().with_state(shared)
}

fn refuse(code: i64, message: &str) -> Json<Value> {
    Json(json!({"code": code, "message": message, "data": null}))
}

/// The signature check, as the vendor would do it.
fn verify(shared: &SimShared, headers: &HeaderMap, body: &[u8]) -> Result<(), Json<Value>> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
    if header("x-template-key") != KEY_ID {
        return Err(refuse(401, "unknown key id"));
    }
    let Ok(ts) = header("x-template-timestamp").parse::<i64>() else {
        return Err(refuse(401, "bad timestamp"));
    };
    if (shared.clock(Vendor::Template).unix_secs() - ts).abs() > 300 {
        return Err(refuse(401, "stale timestamp"));
    }
    if header("x-template-signature") != sign::signature(SECRET, ts, body) {
        return Err(refuse(401, "signature mismatch"));
    }
    Ok(())
}

async fn create_contact(
    AxState(shared): AxState<Arc<SimShared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Json<Value> {
    if let Err(refusal) = verify(&shared, &headers, &body) {
        return refusal;
    }
    let Ok(request) = serde_json::from_slice::<CreateContactRequest>(&body) else {
        return refuse(400, "invalid body");
    };
    let mut contacts = shared.template.contacts.lock().expect("contacts lock");
    let id = contacts.len() as u64 + 1;
    let contact = Contact {
        id,
        name: request.name,
        phone: request.phone,
    };
    contacts.insert(id, contact.clone());
    Json(json!({"code": 0, "message": "ok", "data": contact}))
}

async fn get_contact(
    AxState(shared): AxState<Arc<SimShared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Json<Value> {
    if let Err(refusal) = verify(&shared, &headers, &body) {
        return refusal;
    }
    let Ok(request) = serde_json::from_slice::<GetContactRequest>(&body) else {
        return refuse(400, "invalid body");
    };
    match shared.template.contacts.lock().expect("contacts lock").get(&request.id) {
        Some(contact) => Json(json!({"code": 0, "message": "ok", "data": contact})),
        None => refuse(404, "no such contact"),
    }
}
