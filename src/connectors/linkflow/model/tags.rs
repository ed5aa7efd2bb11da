//! Tags: create, list, delete, upload values, export, set values; tag folders.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{one_of, require, require_opt, size_in, tag_key, Id, Identity, Invalid};
use crate::connectors::wire;

/// Tag data types accepted by `POST /v1/tags`.
pub const TAG_DATA_TYPES: &[&str] = &["text", "number", "array", "datetime", "boolean"];

/// `POST /v1/tags`: create an uploadable tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateTagRequest {
    /// `tag_` + `[a-z0-9_]`.
    #[serde(default)]
    pub tag_key: String,
    /// Display name.
    #[serde(default)]
    pub tag_name: String,
    /// `text`, `number`, `array`, `datetime` or `boolean`.
    #[serde(default)]
    pub data_type: String,
    /// Only `UPLOAD` is accepted; filled in when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_type: Option<String>,
    /// Identity type the values are keyed by (`phone`, `email`, `externalId`…).
    #[serde(default)]
    pub identity_type: String,
    /// The channel's numeric id; required when `identityType` is `externalId`.
    #[serde(
        default,
        deserialize_with = "wire::opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub channel_id: Option<String>,
}

impl CreateTagRequest {
    /// Key format, required fields, data type, tag type, channel for `externalId`.
    pub fn validate(&self) -> Result<(), Invalid> {
        tag_key("tagKey", &self.tag_key)?;
        require("tagName", &self.tag_name)?;
        require("dataType", &self.data_type)?;
        one_of("dataType", &self.data_type, TAG_DATA_TYPES)?;
        if let Some(t) = &self.tag_type {
            one_of("tagType", t, &["UPLOAD"])?;
        }
        require("identityType", &self.identity_type)?;
        if self.identity_type == "externalId" {
            require_opt("channelId", &self.channel_id)?;
        }
        Ok(())
    }
}

/// A request naming one tag by key (delete, calculate).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TagKeyRequest {
    /// The tag key.
    #[serde(default)]
    pub tag_key: String,
}

impl TagKeyRequest {
    /// Key format.
    pub fn validate(&self) -> Result<(), Invalid> {
        tag_key("tagKey", &self.tag_key)
    }
}

/// `GET /v1/tags`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListTagsRequest {
    /// 0-based page.
    #[serde(default)]
    pub page: u32,
    /// Page size, at most 200; 200 when absent.
    #[serde(default)]
    pub size: Option<u32>,
}

impl ListTagsRequest {
    /// `size` ≤ 200.
    pub fn validate(&self) -> Result<(), Invalid> {
        size_in("size", self.size, 200)
    }
}

/// Tag metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tag {
    /// Tag id (used by `set_tag_values`).
    pub tag_id: Id,
    /// Tag key.
    pub tag_key: String,
    /// Display name.
    #[serde(default)]
    pub tag_name: Option<String>,
    /// Data type.
    #[serde(default)]
    pub data_type: Option<String>,
    /// Tag type (`UPLOAD`, `RULE_LAYER`, … open set).
    #[serde(default)]
    pub tag_type: Option<String>,
    /// `ACTIVE`…
    #[serde(default)]
    pub status: Option<String>,
    /// Folder.
    #[serde(default)]
    pub folder_id: Option<Id>,
    /// `yyyy-MM-dd HH:mm:ss`.
    #[serde(default)]
    pub date_created: Option<String>,
    /// `yyyy-MM-dd HH:mm:ss`.
    #[serde(default)]
    pub last_updated: Option<String>,
    /// Every other field (`lastCalculateTime`…).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A tag folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Folder {
    /// Folder id.
    pub id: Id,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// `TAG`…
    #[serde(default)]
    pub domain: Option<String>,
    /// Parent folder; 0 or absent for a root folder.
    #[serde(default)]
    pub parent_id: Option<Id>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Folder {
    /// True for a root folder (`parentId` 0 or absent).
    pub fn is_root(&self) -> bool {
        !matches!(self.parent_id, Some(p) if p.0 != 0)
    }
}

/// Largest tag-value file the vendor takes (B01163).
pub const MAX_TAG_FILE_BYTES: usize = 100 * 1024 * 1024;

/// `POST /v1/tags/tagkeys/{tagKey}/upload/file/operates/{operate}`: the file travels as the
/// multipart part `file`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UploadTagValuesRequest {
    /// The tag key.
    #[serde(default)]
    pub tag_key: String,
    /// `overwrite` (replace the tag's files) or `append`.
    #[serde(default)]
    pub operate: String,
    /// The file name sent with the part.
    #[serde(default)]
    pub file_name: String,
    /// The file's content.
    #[serde(default)]
    pub content: String,
    /// The part's content type; `text/csv` for `.csv` names, else `application/octet-stream`.
    #[serde(default)]
    pub content_type: Option<String>,
}

impl UploadTagValuesRequest {
    /// Key format, `operate`, a file name without quotes or line breaks, size ≤ 100 MB.
    pub fn validate(&self) -> Result<(), Invalid> {
        tag_key("tagKey", &self.tag_key)?;
        one_of("operate", &self.operate, &["overwrite", "append"])?;
        require("fileName", &self.file_name)?;
        if self.file_name.contains(['"', '\r', '\n']) {
            return Err(Invalid::new(
                "fileName",
                "must not contain quotes or line breaks",
            ));
        }
        if self.content.is_empty() {
            return Err(Invalid::new("content", "is empty"));
        }
        if self.content.len() > MAX_TAG_FILE_BYTES {
            return Err(Invalid::new(
                "content",
                format!(
                    "is {} bytes, the vendor takes at most 100 MB",
                    self.content.len()
                ),
            ));
        }
        Ok(())
    }

    /// The content type of the file part.
    pub fn part_content_type(&self) -> &str {
        match &self.content_type {
            Some(t) if !t.trim().is_empty() => t,
            _ if self.file_name.to_ascii_lowercase().ends_with(".csv") => "text/csv",
            _ => "application/octet-stream",
        }
    }
}

/// The upload answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TagUpload {
    /// The tag key.
    #[serde(default)]
    pub tag_key: Option<String>,
    /// The stored file name.
    #[serde(default)]
    pub file_name: Option<String>,
    /// Where the vendor stored it.
    #[serde(default)]
    pub oss_url: Option<String>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `POST /v1/tags/tagkeys/{tagKey}/export`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExportTagRequest {
    /// The tag key (path).
    #[serde(default, skip_serializing)]
    pub tag_key: String,
    /// Identity type the values are exported by.
    #[serde(default)]
    pub identity_type: String,
    /// Required when `identityType` is `externalId`.
    #[serde(
        default,
        deserialize_with = "wire::opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub channel_id: Option<String>,
}

impl ExportTagRequest {
    /// Key format, identity type, channel for `externalId`.
    pub fn validate(&self) -> Result<(), Invalid> {
        tag_key("tagKey", &self.tag_key)?;
        require("identityType", &self.identity_type)?;
        if self.identity_type == "externalId" {
            require_opt("channelId", &self.channel_id)?;
        }
        Ok(())
    }
}

/// `GET /v1/tags/tagkeys/export/{taskId}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TaskIdRequest {
    /// The export task.
    pub task_id: Id,
}

/// An export task, as created and as polled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TagExport {
    /// The task id to poll.
    pub task_id: Id,
    /// `INITIAL`, `RUNNING`, `FINISH`, `ERROR`… (open set).
    #[serde(default)]
    pub status: Option<String>,
    /// The tag key (creation answer).
    #[serde(default)]
    pub tag_key: Option<String>,
    /// Why it failed.
    #[serde(default)]
    pub error_msg: Option<String>,
    /// The download URL once finished.
    #[serde(default)]
    pub file_url: Option<String>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl TagExport {
    /// True once the file can be downloaded.
    pub fn is_finished(&self) -> bool {
        self.status.as_deref() == Some("FINISH")
    }
}

/// `POST /v1/tags/value`: set or delete tag values of one contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetTagValuesRequest {
    /// The contact's identity.
    pub identity: Identity,
    /// What to do, per tag.
    #[serde(default)]
    pub actions: Vec<TagAction>,
}

/// One tag action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TagAction {
    /// The tag (an uploadable tag).
    pub tag_id: Id,
    /// The value; several joined by commas. Required for `set`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// `set` or `delete`.
    #[serde(default)]
    pub action: String,
}

impl SetTagValuesRequest {
    /// Identity, at least one action, `set` with a value or `delete`.
    pub fn validate(&self) -> Result<(), Invalid> {
        self.identity.validate_as("identity")?;
        if self.actions.is_empty() {
            return Err(Invalid::new("actions", "must hold at least one action"));
        }
        for (i, a) in self.actions.iter().enumerate() {
            one_of(
                &format!("actions[{i}].action"),
                &a.action,
                &["set", "delete"],
            )?;
            if a.action == "set" {
                require_opt(&format!("actions[{i}].value"), &a.value)?;
            }
        }
        Ok(())
    }
}
