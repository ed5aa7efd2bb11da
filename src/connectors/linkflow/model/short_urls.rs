//! Short links and their UTM parameters.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{require, require_opt, Invalid};
use crate::connectors::wire;

/// UTM parameters of a short link.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Utm {
    /// Source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Campaign.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
    /// Medium.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub medium: Option<String>,
    /// Content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Keyword; for a distribute link, the contact id.
    #[serde(
        default,
        deserialize_with = "wire::opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub term: Option<String>,
}

/// `POST /open/shorturl` and `POST /open/shorturl/distribute`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShortUrlRequest {
    /// The long URL.
    #[serde(default)]
    pub url: String,
    /// Tracking parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm: Option<Utm>,
}

impl ShortUrlRequest {
    /// An http(s) URL.
    pub fn validate(&self) -> Result<(), Invalid> {
        require("url", &self.url)?;
        if !(self.url.starts_with("http://") || self.url.starts_with("https://")) {
            return Err(Invalid::new("url", "must start with http:// or https://"));
        }
        Ok(())
    }

    /// Also `utm.term`, the contact id, which a distribute link requires.
    pub fn validate_distribute(&self) -> Result<(), Invalid> {
        self.validate()?;
        let term = self.utm.as_ref().and_then(|u| u.term.clone());
        require_opt("utm.term", &term)?;
        if !term.unwrap_or_default().bytes().all(|b| b.is_ascii_digit()) {
            return Err(Invalid::new("utm.term", "must be a contact id (digits)"));
        }
        Ok(())
    }
}

/// A short link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShortUrl {
    /// The short URL.
    pub shorturl: String,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
