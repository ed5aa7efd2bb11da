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
pub mod sign;

#[cfg(test)]
mod tests;

pub use client::Client;

use super::OpInfo;

/// Every op of this vendor.
pub const OPS: &[OpInfo] = &[
    OpInfo {
        name: "import_customer",
        endpoint: "POST /blue-crm/api/v1/open/customer/import/customerWithContact",
        summary: "Create or update one customer (keyed by entName, else customerName) with its contacts",
    },
    OpInfo {
        name: "import_customers",
        endpoint: "POST /blue-crm/api/v1/open/customer/import/customersWithContact",
        summary: "Create or update up to 10 customers; each one reports success or failedReason",
    },
    OpInfo {
        name: "list_staffs",
        endpoint: "GET /blue-crm/api/v1/open/companycenter/staffs",
        summary: "One page of the staff list (pageIndex from 1, pageSize 2–100, search by name or mobile)",
    },
    OpInfo {
        name: "list_all_staffs",
        endpoint: "GET /blue-crm/api/v1/open/companycenter/staffs (every page)",
        summary: "The whole staff list, paged until a short page, each staff member once",
    },
];
