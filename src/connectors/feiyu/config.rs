//! Feiyu account credentials (`[accounts.NAME]` with `vendor = "feiyu"`).

use serde::Deserialize;

use crate::secret::Secret;

/// The public API host (the trailing path is added per op).
pub const DEFAULT_BASE_URL: &str = "https://feiyu.oceanengine.com";

/// Token and signature key from 飞鱼CRM → 管理 → 线索应用设置 → 线索数据转发 (one pair per advertiser).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// Sent as `Access-Token`.
    pub token: Secret,
    /// HMAC-SHA256 key, used as raw bytes (not base64-decoded).
    pub signature_key: Secret,
}
