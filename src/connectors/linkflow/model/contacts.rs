//! Contacts: lookups, lists, scans, bulk reads, identities and their answers.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{date, require, size_in, Id, Identity, Invalid};
use crate::connectors::wire;

/// `GET /open/identity/contact`: which contact has this identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FindContactRequest {
    /// Identity type (`idCard`, `mobilePhone`…).
    #[serde(default)]
    pub id_type: String,
    /// Identity value.
    #[serde(default, deserialize_with = "wire::id")]
    pub id: String,
}

impl FindContactRequest {
    /// Both fields are required.
    pub fn validate(&self) -> Result<(), Invalid> {
        require("idType", &self.id_type)?;
        require("id", &self.id)
    }
}

/// A request naming one contact by id (`/open/contacts/{id}/…`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactIdRequest {
    /// The contact id.
    pub id: Id,
}

/// `GET /open/contacts`: one 0-based page of contacts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListContactsRequest {
    /// 0-based page (vendor default 0).
    #[serde(default)]
    pub page: Option<u32>,
    /// Page size, at most 200 (vendor default 200).
    #[serde(default)]
    pub size: Option<u32>,
    /// Only members of this group.
    #[serde(default)]
    pub group_id: Option<Id>,
    /// A search keyword (phone, name…).
    #[serde(default)]
    pub search: Option<String>,
}

impl ListContactsRequest {
    /// `size` ≤ 200 and page·size ≤ 10000.
    pub fn validate(&self) -> Result<(), Invalid> {
        size_in("size", self.size, 200)?;
        page_window(self.page.unwrap_or(0), self.size.unwrap_or(200))
    }
}

pub(super) fn page_window(page: u32, size: u32) -> Result<(), Invalid> {
    if u64::from(page) * u64::from(size) > 10_000 {
        Err(Invalid::new(
            "page",
            format!("page*size is {page}*{size}, must be at most 10000"),
        ))
    } else {
        Ok(())
    }
}

/// `GET /open/contacts/cursor`: contacts with ids above `lastMaxId`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScanContactsRequest {
    /// The largest id of the previous page; 0 for the first.
    #[serde(default)]
    pub last_max_id: Id,
    /// Page size, at most 200 (vendor default 200).
    #[serde(default)]
    pub size: Option<u32>,
}

impl ScanContactsRequest {
    /// `size` ≤ 200.
    pub fn validate(&self) -> Result<(), Invalid> {
        size_in("size", self.size, 200)
    }
}

/// `GET /open/contacts_bulk/ids`: contact ids by update time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListContactIdsRequest {
    /// 0-based page.
    #[serde(default)]
    pub page: u32,
    /// Page size; page·size ≤ 10000.
    #[serde(default)]
    pub size: Option<u32>,
    /// Updated on or after this day (`yyyy-MM-dd`).
    #[serde(default)]
    pub min_update_time: Option<String>,
    /// Updated before this day (`yyyy-MM-dd`).
    #[serde(default)]
    pub max_update_time: Option<String>,
    /// -1 all, 0 named (vendor default), 1 anonymous.
    #[serde(default)]
    pub anonymous: Option<i64>,
}

impl ListContactIdsRequest {
    /// `size` required, page·size ≤ 10000 (B00030), dates as `yyyy-MM-dd`, `anonymous` ∈ {-1,0,1}.
    pub fn validate(&self) -> Result<(), Invalid> {
        let size = self.size.ok_or_else(|| Invalid::new("size", "is required"))?;
        if size == 0 {
            return Err(Invalid::new("size", "must be at least 1"));
        }
        page_window(self.page, size)?;
        if let Some(d) = &self.min_update_time {
            date("minUpdateTime", d)?;
        }
        if let Some(d) = &self.max_update_time {
            date("maxUpdateTime", d)?;
        }
        if let Some(a) = self.anonymous {
            if !(-1..=1).contains(&a) {
                return Err(Invalid::new("anonymous", format!("is {a}, expected -1, 0 or 1")));
            }
        }
        Ok(())
    }
}

/// `GET /open/contacts_bulk`: details of up to 100 contacts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetContactsRequest {
    /// 1 to 100 contact ids (the vendor silently drops ids beyond 100; we refuse instead).
    #[serde(default)]
    pub ids: Vec<Id>,
    /// Also return each contact's `openIds`.
    #[serde(default)]
    pub need_open_id: bool,
}

impl GetContactsRequest {
    /// 1..=100 ids.
    pub fn validate(&self) -> Result<(), Invalid> {
        match self.ids.len() {
            0 => Err(Invalid::new("ids", "must hold at least one id")),
            n if n > 100 => Err(Invalid::new("ids", format!("holds {n} ids, at most 100"))),
            _ => Ok(()),
        }
    }
}

/// `POST /open/contacts/identities`: every identity of the contact owning `identity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FindContactIdentitiesRequest {
    /// An identity of the contact.
    pub identity: Identity,
    /// Only these identity types; all when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_types: Option<Vec<String>>,
}

impl FindContactIdentitiesRequest {
    /// The identity is required.
    pub fn validate(&self) -> Result<(), Invalid> {
        self.identity.validate_as("identity")
    }
}

/// `DELETE /open/contacts/identities/unbind`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UnbindIdentitiesRequest {
    /// The contact.
    pub contact_id: Id,
    /// Identities to detach (custom types, `mobilePhone`, `wechat.unionId`, `wechat.openId`,
    /// `wxa.openId`, `workwechat.externalUserId`).
    #[serde(default)]
    pub identities: Vec<Identity>,
}

impl UnbindIdentitiesRequest {
    /// At least one identity.
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.identities.is_empty() {
            return Err(Invalid::new("identities", "must hold at least one identity"));
        }
        for (i, identity) in self.identities.iter().enumerate() {
            identity.validate_as(&format!("identities[{i}]"))?;
        }
        Ok(())
    }
}

/// A contact as `/open/contacts`, `/open/contacts/cursor` and `/open/contacts_bulk` return it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    /// Contact id.
    pub id: Id,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Mobile phone.
    #[serde(default)]
    pub mobile_phone: Option<String>,
    /// Email.
    #[serde(default)]
    pub email: Option<String>,
    /// `male`, `female`, `unknown` (open set).
    #[serde(default)]
    pub gender: Option<String>,
    /// Anonymous (not yet identified) contact.
    #[serde(default)]
    pub is_anonymous: Option<bool>,
    /// `yyyy-MM-dd HH:mm:ss`.
    #[serde(default)]
    pub date_created: Option<String>,
    /// `yyyy-MM-dd HH:mm:ss`.
    #[serde(default)]
    pub last_updated: Option<String>,
    /// Custom properties.
    #[serde(default)]
    pub props: Option<Map<String, Value>>,
    /// Every other field (`utm`, `city`, `company`, `openIds`…), kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A channel account of a contact (`/open/contacts/{id}/channel_identities`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelIdentity {
    /// Record id.
    pub id: Id,
    /// The contact.
    #[serde(default)]
    pub contact_id: Option<Id>,
    /// Numeric id of the channel.
    #[serde(default)]
    pub channel_id: Option<Id>,
    /// The account's id inside the channel (openid, external user id…).
    #[serde(default)]
    pub external_id: Option<String>,
    /// Active binding.
    #[serde(default)]
    pub is_active: Option<bool>,
    /// The channel (`channelId`, `channelType`, `name`…), kept as sent.
    #[serde(default)]
    pub channel: Option<Map<String, Value>>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An identity record of a contact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentityRecord {
    /// The identity value.
    #[serde(deserialize_with = "wire::id")]
    pub id: String,
    /// The identity type.
    #[serde(rename = "type")]
    pub kind: String,
    /// When it was bound.
    #[serde(default)]
    pub date_created: Option<String>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `POST /open/contacts/identities` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactIdentities {
    /// The contact owning the identity asked about.
    pub contact_id: Id,
    /// Its identities (filtered by `identityTypes`).
    #[serde(default)]
    pub identities: Vec<IdentityRecord>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A tag value of a contact (`POST /open/contacts/tags`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactTag {
    /// Tag id.
    pub tag_id: Id,
    /// Tag key.
    #[serde(default)]
    pub tag_key: Option<String>,
    /// Tag display name.
    #[serde(default)]
    pub tag_name: Option<String>,
    /// The value (text; the vendor may send numbers or arrays for other data types).
    #[serde(default)]
    pub value: Value,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
