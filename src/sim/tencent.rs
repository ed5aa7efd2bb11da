//! Simulated tencent (stub; being implemented).

use std::sync::Arc;

use axum::Router;
use serde_json::{json, Value};

use super::SimShared;

/// Config keys of the simulator's built-in tencent account.
pub const CREDENTIALS_TOML: &str =
    "token = \"10001\"\nsecret = \"sim-tencent-secret-0123456789abcd\"\nalgorithm = \"SHA256\"\n";

/// tencent simulator state.
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

/// Controls under `/_sim/tencent`.
pub fn control_router(shared: Arc<SimShared>) -> Router {
    let _ = shared;
    Router::new()
}
