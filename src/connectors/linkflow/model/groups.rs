//! Contact groups and their members.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{one_of, require, size_in, Id, Invalid};

/// `GET /open/groups`: every filter is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListGroupsRequest {
    /// Group id.
    #[serde(default)]
    pub id: Option<Id>,
    /// Name (substring match).
    #[serde(default)]
    pub name: Option<String>,
    /// `static` or `dynamic`.
    #[serde(default)]
    pub group_type: Option<String>,
    /// Updated since.
    #[serde(default)]
    pub last_updated: Option<String>,
    /// WeChat appId.
    #[serde(default)]
    pub ext1: Option<String>,
    /// WeChat tag id.
    #[serde(default)]
    pub ext2: Option<String>,
}

impl ListGroupsRequest {
    /// `groupType` ∈ {static, dynamic}.
    pub fn validate(&self) -> Result<(), Invalid> {
        if let Some(t) = &self.group_type {
            one_of("groupType", t, &["static", "dynamic"])?;
        }
        Ok(())
    }
}

/// `POST /open/groups`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateGroupRequest {
    /// Group name.
    #[serde(default)]
    pub name: String,
    /// Only `static` can be created (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_type: Option<String>,
    /// WeChat appId.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ext1: Option<String>,
    /// WeChat tag id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ext2: Option<String>,
}

impl CreateGroupRequest {
    /// A name; `groupType` only `static`.
    pub fn validate(&self) -> Result<(), Invalid> {
        require("name", &self.name)?;
        if let Some(t) = &self.group_type {
            one_of("groupType", t, &["static"])?;
        }
        Ok(())
    }
}

/// `POST /open/groups/{id}`: rename.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RenameGroupRequest {
    /// The group (path).
    #[serde(skip_serializing)]
    pub id: Id,
    /// The new name.
    #[serde(default)]
    pub name: String,
}

impl RenameGroupRequest {
    /// A name.
    pub fn validate(&self) -> Result<(), Invalid> {
        require("name", &self.name)
    }
}

/// A request naming one group by id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupIdRequest {
    /// The group.
    pub id: Id,
}

/// `GET /open/contacts/{contactId}/groups`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListContactGroupsRequest {
    /// The contact.
    pub contact_id: Id,
    /// `static` or `dynamic`.
    #[serde(default)]
    pub group_type: Option<String>,
}

impl ListContactGroupsRequest {
    /// `groupType` ∈ {static, dynamic}.
    pub fn validate(&self) -> Result<(), Invalid> {
        if let Some(t) = &self.group_type {
            one_of("groupType", t, &["static", "dynamic"])?;
        }
        Ok(())
    }
}

/// `GET /open/groups/{groupId}/contacts`: members after `memberId`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListGroupMembersRequest {
    /// The group.
    pub group_id: Id,
    /// Exclusive cursor: the last `memberId` seen (0 or absent for the first page).
    #[serde(default)]
    pub member_id: Option<Id>,
    /// At most 500 (vendor default 500).
    #[serde(default)]
    pub size: Option<u32>,
}

impl ListGroupMembersRequest {
    /// `size` ≤ 500.
    pub fn validate(&self) -> Result<(), Invalid> {
        size_in("size", self.size, 500)
    }
}

/// `POST`/`DELETE /open/groups/{groupId}/contacts`: the body is the bare array `contactIds`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GroupMembersRequest {
    /// The group.
    pub group_id: Id,
    /// Contacts to add or remove.
    #[serde(default)]
    pub contact_ids: Vec<Id>,
}

impl GroupMembersRequest {
    /// At least one contact.
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.contact_ids.is_empty() {
            Err(Invalid::new("contactIds", "must hold at least one contact id"))
        } else {
            Ok(())
        }
    }
}

/// A group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    /// Group id.
    pub id: Id,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// `static` or `dynamic` (open set).
    #[serde(default)]
    pub group_type: Option<String>,
    /// `yyyy-MM-dd HH:mm:ss`.
    #[serde(default)]
    pub date_created: Option<String>,
    /// `yyyy-MM-dd HH:mm:ss`.
    #[serde(default)]
    pub last_updated: Option<String>,
    /// Every other field (`ext1`, `ext2`…).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A member of a group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupMember {
    /// Membership id: the cursor for the next page.
    pub member_id: Id,
    /// The group.
    #[serde(default)]
    pub contact_group_id: Option<Id>,
    /// The contact (`id`, `name`, `mobilePhone`, `email`).
    #[serde(default)]
    pub contact: Option<Map<String, Value>>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl GroupMember {
    /// The member's contact id, when the vendor sent one.
    pub fn contact_id(&self) -> Option<Id> {
        let id = self.contact.as_ref()?.get("id")?;
        serde_json::from_value(id.clone()).ok()
    }
}

/// Answer of adding or removing members.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MembershipChange {
    /// Contacts added or removed.
    #[serde(default)]
    pub success: Vec<Id>,
    /// Contacts that were not (ids or objects, as the vendor sends them).
    #[serde(default)]
    pub failure: Vec<Value>,
    /// The group afterwards.
    #[serde(default)]
    pub group: Option<Group>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
