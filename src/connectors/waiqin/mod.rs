//! Waiqin365 / 勤策 sales leads (`salesleads/v1`): the outbound OpenAPI of
//! `vendor-docs/waiqin365-salesleads.txt` (seed 001, the official page
//! `api.waiqin365.com/SERVER/app/customer_salesleads/salesleads.html`) as resolved by
//! `spec/vendors.md` §2, and the inbound `salesLeads_follow` push (§2.6, §6.2).
//!
//! Owns: the pure signer ([`sign`]), the request/response/record models and their conversion to
//! [`crate::lead::Lead`] ([`model`]), the async client ([`Client`]) and push verification
//! ([`webhook`]). It does not know Rhai, the journal or HTTP serving: the daemon feeds raw push
//! bodies to [`webhook::verify_follow_push`] and answers with [`webhook::ack`].
//!
//! Signing (§2.3): `POST {base}/salesleads/v1/{op}/{openid}/{ts}/{digest}/{msg_id}` where
//! `ts = yyyyMMddHHmmss` in Beijing time and `digest = lowerhex(md5(body|appkey|ts))` over the exact
//! body bytes sent. Answers are `{return_code, return_msg, msg_id, response_data}` with
//! `response_data` a JSON-encoded string.

pub mod client;
pub mod config;
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
use crate::connectors::{OpInfo, Vendor, VendorSpec};
use crate::lead::Lead;

/// What Waiqin is and can do (see [`VendorSpec`]).
pub struct Spec;

impl VendorSpec for Spec {
    const VENDOR: Vendor = Vendor::Waiqin;
    const DEFAULT_BASE_URL: &'static str = config::DEFAULT_BASE_URL;
    const OPS: &'static [OpInfo] = ops::OPS;
    const PULLS: bool = true;
    const PUSHES: bool = true;
    const FOLLOWS: bool = true;
    const SECRET_KEYS: &'static [&'static str] = &["appkey", "pushsecret"];
    type Credentials = config::Credentials;
    type Client = Client;

    fn pull_source(client: &Client) -> Result<Arc<dyn PullSource>, String> {
        Ok(Arc::new(client.clone()))
    }

    fn push_receiver(credentials: &config::Credentials) -> Result<Arc<dyn PushReceiver>, String> {
        match &credentials.pushsecret {
            Some(secret) if !secret.is_empty() => {
                Ok(Arc::new(webhook::FollowReceiver::new(secret.clone())))
            }
            _ => Err("this waiqin account has no `pushsecret`; add it under its [accounts.NAME] to receive follow pushes".to_string()),
        }
    }

    fn lead_from_record(account: &str, record: Value) -> Result<Lead, String> {
        model::SalesLead::from_raw(record)
            .map(|lead| lead.to_lead(account))
            .map_err(|e| format!("not a Waiqin sales lead: {e}"))
    }
}
