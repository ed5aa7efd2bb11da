//! Template request and answer models.

use serde::{Deserialize, Serialize};

use crate::connectors::Invalid;

/// `create_contact`'s payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateContactRequest {
    /// The contact's name.
    pub name: String,
    /// The contact's phone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

impl CreateContactRequest {
    /// Checks what the vendor would refuse anyway, before sending; names the field at fault.
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.name.trim().is_empty() {
            return Err(Invalid::new("name", "is required"));
        }
        Ok(())
    }
}

/// `get_contact`'s payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetContactRequest {
    /// The id `create_contact` answered.
    pub id: u64,
}

/// A contact as the vendor keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    /// Its id.
    pub id: u64,
    /// Its name.
    pub name: String,
    /// Its phone.
    #[serde(default)]
    pub phone: Option<String>,
}

/// Every answer's envelope.
#[derive(Debug, Clone, Deserialize)]
pub struct Envelope<T> {
    /// 0 on success.
    pub code: i64,
    /// Why, when `code` is not 0.
    #[serde(default)]
    pub message: String,
    /// The answer.
    pub data: Option<T>,
}
