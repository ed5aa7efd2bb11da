//! WeCom (企业微信) channel QR codes.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{require, Id, Invalid};

/// `GET /open/workwechat/{channelId}/qrcodes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListQrcodesRequest {
    /// The WeCom channel id (`ww0b8772cfc1ed757c`).
    #[serde(default)]
    pub channel_id: String,
}

impl ListQrcodesRequest {
    /// The channel is required.
    pub fn validate(&self) -> Result<(), Invalid> {
        require("channelId", &self.channel_id)
    }
}

/// A WeCom "contact me" QR code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Qrcode {
    /// Record id.
    pub id: Id,
    /// WeCom's config id.
    #[serde(default)]
    pub config_id: Option<String>,
    /// The QR image URL.
    #[serde(default)]
    pub qr_code: Option<String>,
    /// Every other field (`utm`, `contactWay`, …).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
