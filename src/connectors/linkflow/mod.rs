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

use crate::connectors::{OpInfo, Vendor, VendorSpec};

/// What Linkflow is and can do (see [`VendorSpec`]).
pub struct Spec;

impl VendorSpec for Spec {
    const VENDOR: Vendor = Vendor::Linkflow;
    const DEFAULT_BASE_URL: &'static str = config::DEFAULT_BASE_URL;
    const OPS: &'static [OpInfo] = ops::OPS;
    const PULLS: bool = false;
    const PUSHES: bool = false;
    const FOLLOWS: bool = false;
    const SECRET_KEYS: &'static [&'static str] = &["app_key", "app_secret"];
    type Credentials = config::Credentials;
    type Client = Client;
}
