//! Toutiao / Ocean Engine Feiyu CRM (巨量引擎 飞鱼CRM), the "线索数据转发" pull API
//! (`GET /crm/v2/openapi/pull-clues/`), implementing seed document 000
//! (`feiyu-toutiao-pull-clues.txt`) as resolved by `vendors.md` §1 and §7.
//!
//! Owns: the pure signer ([`sign`]), the tolerant clue model and its [`Lead`] conversion
//! ([`model`]), and the async client ([`client`]). Feiyu never pushes to us, so there is no
//! webhook here. The §1.8 status callback (`clue_callback`) writes a conversion state back to a
//! clue; the spec knows it from one public client only, so its state values are not ours to name.
//! Nothing here knows Rhai, the journal or scheduling.
//!
//! [`Lead`]: crate::lead::Lead

pub mod client;
pub mod config;
pub mod model;
pub mod rhai;
pub mod sign;

#[cfg(test)]
mod tests;

pub use client::{Client, ClueWindow};
pub use model::{CallbackAnswer, CallbackRequest, Clue, CluePage, PullRequest};

use super::OpInfo;

/// Every op of this vendor.
pub const OPS: &[OpInfo] = &[
    OpInfo {
        name: client::PULL_CLUES,
        endpoint: "GET /crm/v2/openapi/pull-clues/",
        summary: "One page of the clues (线索) created in a start_time..end_time window of days",
    },
    OpInfo {
        name: client::CLUE_CALLBACK,
        endpoint: "POST /crm/v2/openapi/clue/callback/",
        summary: "Write a conversion state back to a clue: {clue_id, clue_convert_state} (an integer; values are the account's)",
    },
];
