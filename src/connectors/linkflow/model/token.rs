//! The `GET /token` answer and the vendor's error body.

use serde::Deserialize;
use serde_json::Value;

use crate::connectors::wire;

/// The `GET /token` answer.
#[derive(Debug, Clone, Deserialize)]
pub struct TokenAnswer {
    /// The opaque token.
    #[serde(default)]
    pub token: String,
    /// The absolute expiry (text in Beijing time, or an epoch number).
    #[serde(default)]
    pub expiration: Value,
}

/// The vendor's error body: `{"domain":"linkflow","code":"B00008","message":"…"}`.
#[derive(Debug, Clone, Deserialize)]
pub struct VendorError {
    /// `linkflow`.
    #[serde(default)]
    pub domain: Option<String>,
    /// `B00008`…
    #[serde(deserialize_with = "wire::id")]
    pub code: String,
    /// The vendor's message.
    #[serde(default)]
    pub message: String,
}
