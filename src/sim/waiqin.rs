//! Simulated waiqin (stub; being implemented).

use std::sync::Arc;

use axum::Router;
use serde_json::{json, Value};

use super::SimShared;

/// Config keys of the simulator's built-in waiqin account.
pub const CREDENTIALS_TOML: &str = "openid = \"5465103569540931532\"\nappkey = \"SIMwaiqinAppKey001\"\npushsecret = \"SimPushSecret0001\"\n";

/// waiqin simulator state.
#[derive(Debug, Default)]
pub struct State {}

impl State {
    /// A JSON summary for `GET /_sim/state`.
    pub fn snapshot(&self) -> Value {
        json!({})
    }
}

/// The vendor API, served below its prefix.
pub fn router(shared: Arc<SimShared>) -> Router {
    let _ = shared;
    Router::new()
}

/// Controls under `/_sim/waiqin`.
pub fn control_router(shared: Arc<SimShared>) -> Router {
    let _ = shared;
    Router::new()
}
