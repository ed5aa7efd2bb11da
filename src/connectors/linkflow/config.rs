//! Linkflow account credentials (`[accounts.NAME]` with `vendor = "linkflow"`).

use serde::Deserialize;

use crate::secret::Secret;

/// The public API host. Older tenants use `https://open.linkflowtech.com`.
pub const DEFAULT_BASE_URL: &str = "https://cdp-api.linkflowtech.com";

/// App Key and App Secret of a private App in Linkflow's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// Sent as `X-OpenApi-Key` to `GET /token`.
    pub app_key: Secret,
    /// Sent as `X-OpenApi-Secret` to `GET /token`.
    pub app_secret: Secret,
}
