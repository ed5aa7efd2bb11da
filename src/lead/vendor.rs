//! The vendor id: which of the five APIs a lead, an account or a call belongs to. It lives here,
//! at the bottom, because a [`Lead`](super::Lead) names its vendor; what each vendor can do
//! (ops, base URL, clients) is added by `crate::connectors`, which re-exports this type.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The five vendors. Adding one means adding a variant here and a folder in `src/connectors/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Vendor {
    /// Tencent Ads leads platform (leads.qq.com).
    Tencent,
    /// Toutiao / Ocean Engine Feiyu CRM pull-clues.
    Feiyu,
    /// Waiqin365 (勤策) sales leads.
    Waiqin,
    /// Xiaolanben (小蓝本) CRM import.
    Xiaolanben,
    /// Linkflow CDP.
    Linkflow,
}

impl Vendor {
    /// Every vendor, in display order.
    pub const ALL: [Vendor; 5] = [
        Vendor::Tencent,
        Vendor::Feiyu,
        Vendor::Waiqin,
        Vendor::Xiaolanben,
        Vendor::Linkflow,
    ];

    /// The name used in config, CLI and scripts.
    pub fn as_str(self) -> &'static str {
        match self {
            Vendor::Tencent => "tencent",
            Vendor::Feiyu => "feiyu",
            Vendor::Waiqin => "waiqin",
            Vendor::Xiaolanben => "xiaolanben",
            Vendor::Linkflow => "linkflow",
        }
    }
}

impl fmt::Display for Vendor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Vendor {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Vendor::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown vendor `{s}` (expected one of: {})",
                    Vendor::ALL.map(Vendor::as_str).join(", ")
                )
            })
    }
}
