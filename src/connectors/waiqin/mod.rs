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
pub mod sign;
pub mod webhook;

#[cfg(test)]
mod tests;

pub use client::Client;

use super::OpInfo;

/// Every op of this vendor; the payload of each uses the vendor's own field names.
pub const OPS: &[OpInfo] = &[
    OpInfo {
        name: "add_sales_leads",
        endpoint: "POST /salesleads/v1/addSalesLeads/{openid}/{timestamp}/{digest}/{msg_id}",
        summary: "Create a lead (empName or poolName required; code is unique)",
    },
    OpInfo {
        name: "add_sales_leads_apaas",
        endpoint:
            "POST /salesleads/v1/addSalesLeadsForApaas/{openid}/{timestamp}/{digest}/{msg_id}",
        summary: "Create a lead in the aPaaS data model",
    },
    OpInfo {
        name: "modify_sales_leads",
        endpoint: "POST /salesleads/v1/modifySalesLeads/{openid}/{timestamp}/{digest}/{msg_id}",
        summary: "Update a lead found by id or code",
    },
    OpInfo {
        name: "modify_sales_leads_apaas",
        endpoint:
            "POST /salesleads/v1/modifySalesLeadsForApaas/{openid}/{timestamp}/{digest}/{msg_id}",
        summary: "Update an aPaaS lead found by id or code",
    },
    OpInfo {
        name: "remove_sales_leads",
        endpoint: "POST /salesleads/v1/removeSalesLeads/{openid}/{timestamp}/{digest}/{msg_id}",
        summary: "Void a lead found by id or code",
    },
    OpInfo {
        name: "query_sales_leads",
        endpoint: "POST /salesleads/v1/querySalesLeads/{openid}/{timestamp}/{digest}/{msg_id}",
        summary: "Query one page of leads (at least one condition; page/pageSize)",
    },
    OpInfo {
        name: "query_sales_leads_apaas",
        endpoint:
            "POST /salesleads/v1/querySalesLeadsForApaas/{openid}/{timestamp}/{digest}/{msg_id}",
        summary: "Query one page of aPaaS leads (conditions, sorts, query_group)",
    },
];
