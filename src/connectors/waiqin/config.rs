//! Waiqin365 account credentials (`[accounts.NAME]` with `vendor = "waiqin"`).

use serde::Deserialize;

use crate::secret::Secret;

/// The default OpenAPI地址 + `/api`; tenants on other clouds set their own `base_url`.
pub const DEFAULT_BASE_URL: &str = "https://openapi.waiqin365.com/api";

/// From 勤策 → 系统管理 → 集成管理 → API管理 → API授权.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// 企业接入唯一授权标识 (19 characters); part of every URL path, so not secret.
    pub openid: String,
    /// 企业授权数据签名密钥 (18 characters).
    pub appkey: Secret,
    /// Shared secret of inbound pushes; needed only to receive `salesLeads_follow` pushes.
    #[serde(default)]
    pub pushsecret: Option<Secret>,
}
