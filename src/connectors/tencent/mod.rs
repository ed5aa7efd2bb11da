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
pub mod rhai;
pub mod sign;
pub mod webhook;

#[cfg(test)]
mod tests;

pub use client::Client;

use super::OpInfo;

/// Every op of this vendor.
pub const OPS: &[OpInfo] = &[
    OpInfo {
        name: "list_leads",
        endpoint: "GET /leads/list",
        summary: "One page of leads in a time window (start_time, end_time, page, page_size ≤ 200)",
    },
    OpInfo {
        name: "report",
        endpoint: "POST /leads/report",
        summary:
            "Report lead statuses back: {\"list\": [{leads_id, leads_convert_type, …}]}, ≤ 50 items",
    },
    OpInfo {
        name: "set_leads_status_system",
        endpoint: "POST /leads/set_leads_status_system",
        summary: "Choose the status system of an account: 1 standard, 2 industry",
    },
    OpInfo {
        name: "report_personal_wechat",
        endpoint: "POST /leads/report_personal_wechat",
        summary: "Report a personal-WeChat add-friend lead (uuid, account_id, app_id, open_id, …)",
    },
];
