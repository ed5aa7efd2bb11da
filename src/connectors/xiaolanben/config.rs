//! Xiaolanben account credentials (`[accounts.NAME]` with `vendor = "xiaolanben"`).

use serde::Deserialize;

use crate::secret::Secret;

/// The public API host.
pub const DEFAULT_BASE_URL: &str = "https://api.xiaolanben.com";

/// From the Xiaolanben account manager.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// Sent as the `companyId` header (not signed). A number; a string of digits is accepted.
    #[serde(deserialize_with = "crate::connectors::wire::id")]
    pub company_id: String,
    /// The signing key.
    pub key: Secret,
}
