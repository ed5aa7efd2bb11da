//! Simulated feiyu (stub; being implemented).

use std::sync::Arc;

use axum::Router;
use serde_json::{json, Value};

use super::SimShared;

/// Config keys of the simulator's built-in feiyu account.
pub const CREDENTIALS_TOML: &str =
    "token = \"sim-feiyu-token\"\nsignature_key = \"SimFeiyuSignKey01\"\n";

/// feiyu simulator state.
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

/// Controls under `/_sim/feiyu`.
pub fn control_router(shared: Arc<SimShared>) -> Router {
    let _ = shared;
    Router::new()
}
