//! Tags (create, list, delete, file upload, calculate, export, values), tag folders and dimension
//! tables.

use axum::http::header;
use serde_json::{json, Value};

use super::reply::{fail, ok_empty, ok_json, Answer, Fail};
use super::request::{id_of, identity_of, required_text, text_of, Req};
use super::{Inner, SimTag, DIMENSIONS};
use crate::clock::beijing;

impl Inner {
    pub(super) fn tag_by_key(&self, key: &str) -> Result<&SimTag, Fail> {
        self.tags
            .values()
            .find(|t| t.key == key)
            .ok_or_else(|| fail(500, "B01162", format!("tagKey不存在: {key}")))
    }

    pub(super) fn tag_json(t: &SimTag) -> Value {
        json!({
            "tagId": t.id, "tagKey": t.key, "tagName": t.name, "dataType": t.data_type,
            "tagType": "UPLOAD", "status": "ACTIVE", "folderId": 175,
            "dateCreated": t.created, "lastUpdated": t.updated,
            "lastCalculateTime": t.last_calculated,
        })
    }

    pub(super) fn create_tag(&mut self, req: &Req) -> Answer {
        let body = req.json_object()?;
        let key = text_of(body.get("tagKey"))
            .ok_or_else(|| fail(500, "B00002", "必填参数为空: tagKey"))?;
        if !crate::connectors::linkflow::model::is_valid_tag_key(&key) {
            return Err(fail(
                500,
                "B01157",
                "key不符合tag_开头,只包含:小写字母、数字、下划线",
            ));
        }
        let name = required_text(&body, "tagName").map_err(|f| Fail { status: 500, ..f })?;
        let data_type = required_text(&body, "dataType").map_err(|f| Fail { status: 500, ..f })?;
        if !["text", "number", "array", "datetime", "boolean"].contains(&data_type.as_str()) {
            return Err(fail(
                500,
                "B00010",
                format!("参数不合法: dataType {data_type}"),
            ));
        }
        if text_of(body.get("tagType")).as_deref() != Some("UPLOAD") {
            return Err(fail(500, "B00010", "参数不合法: tagType must be UPLOAD"));
        }
        let identity_type =
            required_text(&body, "identityType").map_err(|f| Fail { status: 500, ..f })?;
        if identity_type == "externalId" {
            let channel = text_of(body.get("channelId"))
                .ok_or_else(|| fail(500, "B00002", "必填参数为空: channelId"))?;
            if channel.parse::<u64>().is_err() {
                return Err(fail(500, "B00159", format!("channelId不存在: {channel}")));
            }
        }
        if self.tags.values().any(|t| t.key == key) {
            return Err(fail(500, "B01151", format!("标签已经存在: {key}")));
        }
        let tag = SimTag {
            id: self.next_tag_id,
            key,
            name,
            data_type,
            created: req.stamp(),
            updated: req.stamp(),
            last_calculated: None,
        };
        self.next_tag_id += 1;
        let answer = Self::tag_json(&tag);
        self.tags.insert(tag.id, tag);
        ok_json(answer)
    }

    pub(super) fn list_tags(&self, req: &Req) -> Answer {
        let (Some(page), Some(size)) = (req.q_u64("page")?, req.q_u64("size")?) else {
            return Err(fail(
                500,
                "B00010",
                "参数不合法: page and size are required",
            ));
        };
        if size == 0 || size > 200 {
            return Err(fail(
                500,
                "B00010",
                format!("参数不合法: size {size} > 200"),
            ));
        }
        let list: Vec<Value> = self
            .tags
            .values()
            .skip(page.saturating_mul(size) as usize)
            .take(size as usize)
            .map(Self::tag_json)
            .collect();
        ok_json(Value::Array(list))
    }

    pub(super) fn delete_tag(&mut self, key: &str) -> Answer {
        let Some(id) = self.tags.values().find(|t| t.key == key).map(|t| t.id) else {
            // The doc spells this one `B_01162`.
            return Err(fail(500, "B_01162", format!("标签不存在: {key}")));
        };
        self.tags.remove(&id);
        for c in self.contacts.values_mut() {
            c.tags.remove(&id);
        }
        ok_empty()
    }

    pub(super) fn upload_tag_file(&mut self, req: &Req, key: &str, operate: &str) -> Answer {
        if !["overwrite", "append"].contains(&operate) {
            return Err(fail(
                500,
                "B00010",
                format!("参数不合法: operate {operate}"),
            ));
        }
        self.tag_by_key(key)?;
        let content_type = req
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let boundary = multipart_boundary(content_type).ok_or_else(|| {
            fail(
                500,
                "B00010",
                "参数不合法: expected multipart/form-data with a boundary",
            )
        })?;
        let (file_name, content) = file_part(&req.body, &boundary)
            .ok_or_else(|| fail(500, "B00002", "必填参数为空: file"))?;
        if content.len() > 100 * 1024 * 1024 {
            return Err(fail(500, "B01163", "文件大小超过100M"));
        }
        self.tag_uploads += 1;
        let folder = uuid::Uuid::new_v4().simple().to_string();
        let object = uuid::Uuid::new_v4().simple().to_string();
        let day = req.now.with_timezone(&beijing()).format("%Y%m%d");
        ok_json(json!({
            "tagKey": key,
            "fileName": file_name,
            "ossUrl": format!("https://oss.sim.linkflowtech.com/oss/1/tag/upload/tmp/{day}/{folder}/{object}"),
        }))
    }

    pub(super) fn calculate_tag(&mut self, req: &Req, key: &str) -> Answer {
        let id = self.tag_by_key(key)?.id;
        if let Some(t) = self.tags.get_mut(&id) {
            t.last_calculated = Some(req.stamp());
        }
        ok_empty()
    }

    pub(super) fn export_tag(&mut self, req: &Req, key: &str) -> Answer {
        self.tag_by_key(key)?;
        let body = req.json_object()?;
        let identity_type =
            required_text(&body, "identityType").map_err(|f| Fail { status: 500, ..f })?;
        if identity_type == "externalId" && text_of(body.get("channelId")).is_none() {
            return Err(fail(500, "B00002", "必填参数为空: channelId"));
        }
        let task = self.next_task_id;
        self.next_task_id += 1;
        self.exports.insert(task, (key.to_string(), 0));
        ok_json(json!({"tagKey": key, "taskId": task, "status": "INITIAL"}))
    }

    pub(super) fn poll_export(&mut self, task: u64) -> Answer {
        let Some((key, polls)) = self.exports.get_mut(&task) else {
            return Err(fail(
                404,
                "B00008",
                format!("No [task] found with id [{task}]"),
            ));
        };
        *polls += 1;
        if *polls == 1 {
            ok_json(json!({"taskId": task, "status": "RUNNING", "errorMsg": "", "fileUrl": ""}))
        } else {
            ok_json(json!({
                "taskId": task, "status": "FINISH", "errorMsg": "",
                "fileUrl": format!("https://oss.sim.linkflowtech.com/oss/1/tag/export/{key}_{task}.csv"),
            }))
        }
    }

    pub(super) fn set_tag_values(&mut self, req: &Req) -> Answer {
        let body = req.json_object()?;
        let identity = identity_of(body.get("identity").unwrap_or(&Value::Null), "identity")?;
        let actions = match body.get("actions") {
            Some(Value::Array(a)) if !a.is_empty() => a.clone(),
            _ => return Err(fail(400, "B00002", "必填参数为空: actions")),
        };
        let contact_id = match self.identity_index.get(&identity) {
            Some(&id) => id,
            None => return Err(fail(400, "B01376", "身份不存在")),
        };
        let mut changes = Vec::new();
        for (i, a) in actions.iter().enumerate() {
            let tag_id = a
                .get("tagId")
                .and_then(id_of)
                .ok_or_else(|| fail(400, "B00002", format!("必填参数为空: actions[{i}].tagId")))?;
            if !self.tags.contains_key(&tag_id) {
                return Err(fail(500, "B01162", format!("标签不存在: {tag_id}")));
            }
            match a.get("action").and_then(Value::as_str) {
                Some("set") => {
                    let value = text_of(a.get("value")).ok_or_else(|| {
                        fail(400, "B00002", format!("必填参数为空: actions[{i}].value"))
                    })?;
                    changes.push((tag_id, Some(value)));
                }
                Some("delete") => changes.push((tag_id, None)),
                _ => {
                    return Err(fail(
                        400,
                        "B00010",
                        format!("参数不合法: actions[{i}].action"),
                    ))
                }
            }
        }
        if let Some(c) = self.contacts.get_mut(&contact_id) {
            for (tag_id, value) in changes {
                match value {
                    Some(v) => c.tags.insert(tag_id, v),
                    None => c.tags.remove(&tag_id),
                };
            }
        }
        ok_empty()
    }

    pub(super) fn dimension_data(&mut self, req: &Req, dim: &str) -> Answer {
        let Some((_, key)) = DIMENSIONS.iter().find(|(d, _)| *d == dim) else {
            return Err(fail(500, "B00043", format!("维度表不存在: {dim}")));
        };
        let Some(key) = key else {
            return Err(fail(500, "B01201", format!("维度表无主键: {dim}")));
        };
        let rows = match req.json()? {
            Value::Array(rows) => rows,
            _ => {
                return Err(fail(
                    400,
                    "B00010",
                    "参数不合法: body must be an array of rows",
                ))
            }
        };
        let mut keyed = Vec::with_capacity(rows.len());
        for (i, row) in rows.into_iter().enumerate() {
            let pk = text_of(row.get(*key)).ok_or_else(|| {
                fail(
                    500,
                    "B01205",
                    format!("数据结点不包含主键列: rows[{i}].{key}"),
                )
            })?;
            keyed.push((pk, row));
        }
        let table = self.dimension_rows.entry(dim.to_string()).or_default();
        table.extend(keyed);
        ok_empty()
    }
}

pub(super) fn folders() -> Answer {
    ok_json(json!([
        {"id": 174, "name": "标签", "domain": "TAG", "parentId": 0,
         "dateCreated": "2024-11-08 15:02:41", "lastUpdated": "2024-11-08 15:02:41"},
        {"id": 175, "name": "测试目录名称", "domain": "TAG", "parentId": 174,
         "dateCreated": "2024-11-08 15:03:10", "lastUpdated": "2024-11-08 15:03:10"}
    ]))
}

/// The boundary of a `multipart/form-data` content type, quoted or not.
pub(super) fn multipart_boundary(content_type: &str) -> Option<String> {
    let mut parts = content_type.split(';');
    if !parts
        .next()?
        .trim()
        .eq_ignore_ascii_case("multipart/form-data")
    {
        return None;
    }
    parts.find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim().eq_ignore_ascii_case("boundary"))
            .then(|| v.trim().trim_matches('"').to_string())
            .filter(|b| !b.is_empty() && b.len() <= 200)
    })
}

/// The part named `file` with a file name: (file name, content). Never panics on garbage.
pub(super) fn file_part(body: &[u8], boundary: &str) -> Option<(String, Vec<u8>)> {
    let delimiter = format!("--{boundary}");
    let next_delimiter = format!("\r\n--{boundary}");
    let mut pos = find(body, delimiter.as_bytes(), 0)? + delimiter.len();
    loop {
        let rest = body.get(pos..)?;
        if rest.starts_with(b"--") {
            return None;
        }
        let headers_start = pos + 2; // CRLF after the delimiter
        let headers_end = find(body, b"\r\n\r\n", headers_start)?;
        let headers = String::from_utf8_lossy(body.get(headers_start..headers_end)?).into_owned();
        let content_start = headers_end + 4;
        let content_end = find(body, next_delimiter.as_bytes(), content_start)?;
        let disposition = headers
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition:"))?;
        if disposition.contains("name=\"file\"") {
            let file_name = disposition
                .split("filename=\"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .unwrap_or("")
                .to_string();
            if !file_name.is_empty() {
                return Some((file_name, body.get(content_start..content_end)?.to_vec()));
            }
        }
        pos = content_end + next_delimiter.len();
    }
}

pub(super) fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}
