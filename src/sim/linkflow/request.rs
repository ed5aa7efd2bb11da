//! The parsed request and the helpers every resource uses to read it.

use std::collections::HashMap;

use axum::http::{HeaderMap, Method};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::reply::{fail, Fail};
use crate::clock::beijing;

pub(super) struct Req {
    pub(super) method: Method,
    pub(super) segments: Vec<String>,
    pub(super) query: HashMap<String, String>,
    pub(super) headers: HeaderMap,
    pub(super) body: bytes::Bytes,
    pub(super) now: DateTime<Utc>,
}

impl Req {
    pub(super) fn q(&self, key: &str) -> Option<&str> {
        self.query
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    pub(super) fn q_u64(&self, key: &str) -> Result<Option<u64>, Fail> {
        self.q(key)
            .map(|v| {
                v.trim()
                    .parse::<u64>()
                    .map_err(|_| fail(400, "B00010", format!("参数不合法: {key}={v}")))
            })
            .transpose()
    }

    pub(super) fn q_i64(&self, key: &str) -> Result<Option<i64>, Fail> {
        self.q(key)
            .map(|v| {
                v.trim()
                    .parse::<i64>()
                    .map_err(|_| fail(400, "B00010", format!("参数不合法: {key}={v}")))
            })
            .transpose()
    }

    pub(super) fn json(&self) -> Result<Value, Fail> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Err(fail(400, "B00002", "必填参数为空: request body"));
        }
        serde_json::from_slice(&self.body)
            .map_err(|e| fail(400, "B00010", format!("参数不合法: body is not JSON ({e})")))
    }

    pub(super) fn json_object(&self) -> Result<Map<String, Value>, Fail> {
        match self.json()? {
            Value::Object(map) => Ok(map),
            _ => Err(fail(
                400,
                "B00010",
                "参数不合法: body must be a JSON object",
            )),
        }
    }

    pub(super) fn stamp(&self) -> String {
        stamp(self.now)
    }
}

pub(super) fn stamp(t: DateTime<Utc>) -> String {
    t.with_timezone(&beijing())
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

pub(super) fn path_id(text: &str, what: &str) -> Result<u64, Fail> {
    text.parse()
        .map_err(|_| fail(400, "B00010", format!("参数不合法: {what} [{text}]")))
}

/// A string, or a number written as text; `None` for anything else or blank.
pub(super) fn text_of(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) if n.is_u64() || n.is_i64() => Some(n.to_string()),
        _ => None,
    }
}

pub(super) fn id_of(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

pub(super) fn required_text(map: &Map<String, Value>, key: &str) -> Result<String, Fail> {
    text_of(map.get(key)).ok_or_else(|| fail(400, "B00002", format!("必填参数为空: {key}")))
}

pub(super) fn identity_of(v: &Value, field: &str) -> Result<(String, String), Fail> {
    let id = text_of(v.get("id"));
    let kind = text_of(v.get("type"));
    match (kind, id) {
        (Some(kind), Some(id)) => Ok((kind, id)),
        _ => Err(fail(
            400,
            "B00002",
            format!("必填参数为空: {field}.id/type"),
        )),
    }
}

pub(super) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).and_then(|b| hex(*b)),
                bytes.get(i + 2).and_then(|b| hex(*b)),
            ) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An absent filter lets everything through.
pub(super) fn pass<T>(filter: Option<T>, f: impl FnOnce(T) -> bool) -> bool {
    match filter {
        None => true,
        Some(v) => f(v),
    }
}
