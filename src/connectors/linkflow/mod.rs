//! Linkflow CDP (连接云) open API: implements `vendor-docs/linkflow-cdp.txt` as resolved by
//! `spec/vendors.md` §5 (K-a…K-g).
//!
//! Owns: the token flow (`GET /token` with App Key and Secret, cached per client, single-flight
//! refresh 5 minutes before `expiration`, one retry after a token rejection), typed models for
//! every documented endpoint, and the mapping of Linkflow's bare bodies and
//! `{"domain","code","message"}` errors onto `CallError`. Linkflow signs nothing, so `sign.rs`
//! holds only the pure expiry logic. Does not: know Rhai, journal calls, or build leads.

pub mod client;
pub mod config;
pub mod model;
pub mod multipart;
pub mod ops;
pub mod sign;

#[cfg(test)]
mod tests;

pub use ops::OPS;
pub use client::Client;

use std::sync::Arc;

use serde_json::Value;

use crate::connectors::source::{PullSource, PushReceiver};
use crate::connectors::{not_a_source, CallError, ClientContext, Constant, OpInfo, Vendor, VendorSpec};
use crate::lead::Lead;

/// What Linkflow is and can do (see [`VendorSpec`]).
pub struct Spec;

impl VendorSpec for Spec {
    const VENDOR: Vendor = Vendor::Linkflow;
    const DEFAULT_BASE_URL: &'static str = config::DEFAULT_BASE_URL;
    const OPS: &'static [OpInfo] = ops::OPS;
    const PULLS: bool = false;
    const PUSHES: bool = false;
    const SECRET_KEYS: &'static [&'static str] = &["app_key", "app_secret"];
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
        Err(not_a_source(Vendor::Linkflow, "pull API"))
    }

    fn push_receiver(credentials: &config::Credentials) -> Result<Arc<dyn PushReceiver>, String> {
        let _ = credentials;
        Err(not_a_source(Vendor::Linkflow, "pushes"))
    }

    fn lead_from_record(account: &str, record: Value) -> Result<Lead, String> {
        let _ = (account, record);
        Err(not_a_source(Vendor::Linkflow, "lead records"))
    }

    fn constants() -> Vec<(String, Constant)> {
        Vec::new()
    }
}
