//! Tencent Ads leads platform (腾讯广告 线索管理平台, `leads.qq.com/api/mv1`), implementing the
//! platform's "API接入指南" as resolved in spec §3 (the seed document 002 is an OCR-garbled copy;
//! where they differ this follows the spec), plus the push receiver checklist of §6.1.
//!
//! Owns: the `X-Signature` recipes ([`sign`], pure), the tolerant lead model and request
//! validation ([`model`]), the known enum values ([`enums`]), the async client ([`Client`]) and
//! inbound push verification ([`webhook`]). It does not own journaling, dedup or scripts: a
//! verified push comes back as a [`model::TencentLead`] and the caller decides what to do.

pub mod client;
pub mod config;
pub mod enums;
pub mod model;
pub mod ops;
pub mod pull;
pub mod sign;
pub mod webhook;

#[cfg(test)]
mod tests;

pub use ops::OPS;
pub use client::Client;

use std::sync::Arc;

use serde_json::Value;

use crate::connectors::source::{PullSource, PushReceiver};
use crate::connectors::{Constant, OpInfo, Vendor, VendorSpec};
use crate::lead::Lead;

/// What Tencent is and can do (see [`VendorSpec`]).
pub struct Spec;

impl VendorSpec for Spec {
    const VENDOR: Vendor = Vendor::Tencent;
    const DEFAULT_BASE_URL: &'static str = config::DEFAULT_BASE_URL;
    const OPS: &'static [OpInfo] = ops::OPS;
    const PULLS: bool = true;
    const PUSHES: bool = true;
    const FOLLOWS: bool = false;
    const SECRET_KEYS: &'static [&'static str] = &["token", "secret"];
    type Credentials = config::Credentials;
    type Client = Client;

    fn pull_source(client: &Client) -> Result<Arc<dyn PullSource>, String> {
        Ok(Arc::new(client.clone()))
    }

    fn push_receiver(credentials: &config::Credentials) -> Result<Arc<dyn PushReceiver>, String> {
        Ok(Arc::new(webhook::PushVerifier::from_credentials(credentials)))
    }

    fn lead_from_record(account: &str, record: Value) -> Result<Lead, String> {
        model::TencentLead::from_value(record)
            .map(|lead| lead.to_lead(account))
            .map_err(|e| format!("not a Tencent lead: {e}"))
    }

    fn constants() -> Vec<(String, Constant)> {
        // Constants whose value is the vendor's string: `tencent::LEADS_TYPE_FORM ==
        // "LEADS_TYPE_FORM"`, so a typo in a script is an error, not a silently false
        // comparison. Values that do not start with their enum's name get it as a prefix:
        // `tencent::LEADS_SOURCE_XJ == "XJ"`.
        enums::ALL
            .iter()
            .flat_map(|(group, values)| {
                values.iter().map(move |value| {
                    let name = if value.starts_with(group) {
                        value.to_string()
                    } else {
                        format!("{group}_{value}")
                    };
                    (name, Constant::Text(value))
                })
            })
            .collect()
    }
}
