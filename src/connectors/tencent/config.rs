//! Tencent account credentials (`[accounts.NAME]` with `vendor = "tencent"`).

use serde::Deserialize;

use crate::secret::Secret;

/// The public API prefix.
pub const DEFAULT_BASE_URL: &str = "https://leads.qq.com/api/mv1";

/// The hash inside `X-Signature`. Sent explicitly as `X-Signature-Algorithm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
pub enum Algorithm {
    /// SHA-1 (the platform's default when the header is absent).
    #[serde(rename = "SHA1")]
    Sha1,
    /// SHA-256 (supported since 2021-12-13; our default).
    #[serde(rename = "SHA256")]
    #[default]
    Sha256,
}

impl Algorithm {
    /// The header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Sha1 => "SHA1",
            Algorithm::Sha256 => "SHA256",
        }
    }
}

/// Token and secret from the platform's API接入配置 page.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// The account token (also the first part of `X-Signature`).
    pub token: Secret,
    /// The signing secret.
    pub secret: Secret,
    /// `SHA1` or `SHA256` (default `SHA256`).
    #[serde(default)]
    pub algorithm: Algorithm,
}

impl Algorithm {
    /// Parses an `X-Signature-Algorithm` value. Case and a dash are tolerated (`sha256`,
    /// `SHA-256`) because the platform's own spelling is only known from examples.
    pub fn parse(text: &str) -> Option<Self> {
        let normalized: String = text
            .trim()
            .chars()
            .filter(|c| *c != '-' && *c != '_')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        match normalized.as_str() {
            "SHA1" => Some(Algorithm::Sha1),
            "SHA256" => Some(Algorithm::Sha256),
            _ => None,
        }
    }

    /// The algorithm whose lowercase hex digest has `len` characters (40 SHA-1, 64 SHA-256).
    pub fn from_digest_len(len: usize) -> Option<Self> {
        match len {
            40 => Some(Algorithm::Sha1),
            64 => Some(Algorithm::Sha256),
            _ => None,
        }
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
