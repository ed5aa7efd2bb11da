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

use crate::connectors::{OpInfo, Vendor, VendorSpec};

/// What Template is and can do (see [`VendorSpec`]).
pub struct Spec;

impl VendorSpec for Spec {
    const VENDOR: Vendor = Vendor::Template;
    const DEFAULT_BASE_URL: &'static str = config::DEFAULT_BASE_URL;
    const OPS: &'static [OpInfo] = ops::OPS;
    const PULLS: bool = false;
    const PUSHES: bool = false;
    const FOLLOWS: bool = false;
    const SECRET_KEYS: &'static [&'static str] = &["secret"];
    type Credentials = config::Credentials;
    type Client = Client;
}
