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
pub mod ops;
pub mod pull;
pub mod sign;

#[cfg(test)]
mod tests;

pub use ops::OPS;
pub use client::{Client, ClueWindow};
pub use model::{CallbackAnswer, CallbackRequest, Clue, CluePage, PullRequest};

use std::sync::Arc;

use serde_json::Value;

use crate::connectors::source::PullSource;
use crate::connectors::{Constant, OpInfo, Vendor, VendorSpec};
use crate::lead::Lead;

/// What Feiyu is and can do (see [`VendorSpec`]).
pub struct Spec;

impl VendorSpec for Spec {
    const VENDOR: Vendor = Vendor::Feiyu;
    const DEFAULT_BASE_URL: &'static str = config::DEFAULT_BASE_URL;
    const OPS: &'static [OpInfo] = ops::OPS;
    const PULLS: bool = true;
    const PUSHES: bool = false;
    const FOLLOWS: bool = false;
    const SECRET_KEYS: &'static [&'static str] = &["token", "signature_key"];
    type Credentials = config::Credentials;
    type Client = Client;

    fn pull_source(client: &Client) -> Result<Arc<dyn PullSource>, String> {
        Ok(Arc::new(client.clone()))
    }

    fn lead_from_record(account: &str, record: Value) -> Result<Lead, String> {
        model::Clue::from_raw(record)
            .map(|clue| clue.to_lead(account))
            .map_err(|(e, _)| format!("not a Feiyu clue: {e}"))
    }

    fn constants() -> Vec<(String, Constant)> {
        // `feiyu::CLUE_TYPE_FORM` (= 0), `feiyu::CLUE_SOURCE_AD`, `feiyu::GENDER_MALE`, so
        // scripts compare `lead.raw.clue_type == feiyu::CLUE_TYPE_FORM`.
        model::CLUE_TYPES
            .iter()
            .chain(model::CLUE_SOURCES)
            .chain(model::GENDERS)
            .map(|(name, value, _label)| (name.to_string(), Constant::Int(*value)))
            .collect()
    }
}
