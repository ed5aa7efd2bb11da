//! Xiaolanben (小蓝本) CRM external-data import API: "CRM外部数据接入指南"
//! (`/work/shared/vendor-docs/xiaolanben-crm.txt`, resolved in spec §4).
//!
//! Owns the `h_sign` signer ([`sign`], pure), the typed import/staff models with the guide's
//! validation ([`model`]) and the async [`Client`]. Does not know scripts, the journal or the
//! simulator (which lives in `crate::sim::xiaolanben` and reuses [`sign`] to verify).
//!
//! Behaviour worth knowing:
//! - every call takes a fresh `h_t` (epoch ms) that is strictly increasing per client, since
//!   the CRM rejects a signature seen in the last 10 s (spec L-g); a retry is a new call;
//! - the body is serialized once to a `String`, signed, and sent byte-identical;
//! - `import_customers` answers per customer under HTTP 200: a partial failure is `Ok` with each
//!   customer's `success`/`failedReason`; all customers failing is a `Business` error;
//! - the batch caps (≤ 10 customers, ≤ 10 contacts each) are only "recommended" by the guide but
//!   enforced here before sending (see [`model::ImportCustomersRequest`]).

pub mod client;
pub mod config;
pub mod model;
pub mod ops;
pub mod sign;

#[cfg(test)]
mod tests;

pub use ops::OPS;
pub use client::Client;

use crate::connectors::{OpInfo, Vendor, VendorSpec};

/// What Xiaolanben is and can do (see [`VendorSpec`]).
pub struct Spec;

impl VendorSpec for Spec {
    const VENDOR: Vendor = Vendor::Xiaolanben;
    const DEFAULT_BASE_URL: &'static str = config::DEFAULT_BASE_URL;
    const OPS: &'static [OpInfo] = ops::OPS;
    const PULLS: bool = false;
    const PUSHES: bool = false;
    const FOLLOWS: bool = false;
    const SECRET_KEYS: &'static [&'static str] = &["key"];
    type Credentials = config::Credentials;
    type Client = Client;
}
