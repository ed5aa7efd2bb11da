//! Template credentials: `key_id` and `secret` under `[accounts.NAME]`.

use serde::Deserialize;

use crate::secret::Secret;

/// The vendor's public API (made up).
pub const DEFAULT_BASE_URL: &str = "https://api.template.invalid";

/// One account's credentials.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// The key id, sent in `X-Template-Key`.
    pub key_id: String,
    /// The signing secret; never sent.
    pub secret: Secret,
}
