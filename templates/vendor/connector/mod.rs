//! Template: a made-up destination vendor, the starting point for a new one (see
//! `templates/vendor/README.md`). Requests are JSON, signed with
//! `X-Template-Signature: hex(hmac_sha256(secret, "<ts>\n<body>"))`; answers are
//! `{"code": 0, "message": "ok", "data": …}`, a non-zero code being a refusal.

pub mod client;
pub mod config;
pub mod model;
pub mod ops;
pub mod sign;

#[cfg(test)]
mod tests;

pub use client::Client;
pub use ops::OPS;

use std::sync::Arc;

use serde_json::Value;

use crate::connectors::source::{PullSource, PushReceiver};
use crate::connectors::{
    not_a_source, CallError, ClientContext, Constant, OpInfo, Vendor, VendorSpec,
};
use crate::lead::Lead;

/// What Template is and can do (see [`VendorSpec`]).
pub struct Spec;

impl VendorSpec for Spec {
    const VENDOR: Vendor = Vendor::Template;
    const DEFAULT_BASE_URL: &'static str = config::DEFAULT_BASE_URL;
    const OPS: &'static [OpInfo] = ops::OPS;
    const PULLS: bool = false;
    const PUSHES: bool = false;
    const SECRET_KEYS: &'static [&'static str] = &["secret"];
    type Credentials = config::Credentials;
    type Client = Client;

    fn client(ctx: ClientContext, credentials: config::Credentials) -> Client {
        Client::new(ctx, credentials)
    }

    async fn call_op(client: &Client, op: &str, payload: Value) -> Result<Value, CallError> {
        client.call_op(op, payload).await
    }

    fn pull_source(client: &Client) -> Result<Arc<dyn PullSource>, String> {
        let _ = client;
        Err(not_a_source(Vendor::Template, "pull API"))
    }

    fn push_receiver(credentials: &config::Credentials) -> Result<Arc<dyn PushReceiver>, String> {
        let _ = credentials;
        Err(not_a_source(Vendor::Template, "pushes"))
    }

    fn lead_from_record(account: &str, record: Value) -> Result<Lead, String> {
        let _ = (account, record);
        Err(not_a_source(Vendor::Template, "lead records"))
    }

    fn constants() -> Vec<(String, Constant)> {
        Vec::new()
    }
}
