//! waiqin client (stub).

use serde_json::Value;

use super::config::Credentials;
use crate::vendor::{CallError, ClientContext, FailureKind, Vendor};

/// Client for one account.
#[derive(Clone, Debug)]
pub struct Client {
    ctx: ClientContext,
    #[allow(dead_code)]
    credentials: Credentials,
}

impl Client {
    /// Builds a client.
    pub fn new(ctx: ClientContext, credentials: Credentials) -> Self {
        Self { ctx, credentials }
    }

    /// Runs a named op.
    pub async fn call_op(&self, op: &str, _payload: Value) -> Result<Value, CallError> {
        let _ = &self.ctx;
        Err(CallError::new(
            Vendor::Waiqin,
            op,
            FailureKind::InvalidPayload,
            "not implemented",
        ))
    }
}
