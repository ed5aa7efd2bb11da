//! `POST /open/messages` and `/open/messages/orders`: contact, event and order messages, with
//! `request_id`/`message_id` deduplication.

use serde_json::{Map, Value};

use super::reply::{fail, ok_empty, Answer};
use super::request::{identity_of, required_text, text_of, Req};
use super::Inner;

impl Inner {
    pub(super) fn messages(&mut self, req: &Req, orders: bool) -> Answer {
        let body = req.json_object()?;
        let channel_key = required_text(&body, "channelKey")?;
        let allowed: &[&str] = if orders {
            &["UDC", "YOUZAN", "YOUZANSELF"]
        } else {
            &["UDC", "TTMP", "WECHAT_WXA"]
        };
        if let Some(t) = body.get("channelType") {
            if !t.as_str().is_some_and(|t| allowed.contains(&t)) {
                return Err(fail(400, "B00010", format!("参数不合法: channelType {t}")));
            }
        }
        let identities: Vec<(String, String)> = match body.get("identities") {
            Some(Value::Array(items)) if !items.is_empty() => items
                .iter()
                .enumerate()
                .map(|(i, v)| identity_of(v, &format!("identities[{i}]")))
                .collect::<Result<_, _>>()?,
            _ => return Err(fail(400, "B00002", "必填参数为空: identities")),
        };
        let messages = match body.get("messages") {
            Some(Value::Array(items)) if !items.is_empty() => items,
            _ => return Err(fail(400, "B00002", "必填参数为空: messages")),
        };
        // Validate the whole batch before applying any of it.
        for (i, m) in messages.iter().enumerate() {
            let domain = m.get("domain").and_then(Value::as_str).unwrap_or("");
            let action = m.get("action").and_then(Value::as_str).unwrap_or("");
            let pair_ok = if orders {
                (domain, action) == ("salesOrder", "set")
            } else {
                matches!((domain, action), ("contact", "set") | ("event", "track"))
            };
            if !pair_ok {
                return Err(fail(
                    400,
                    "B00010",
                    format!("参数不合法: messages[{i}] domain={domain:?} action={action:?}"),
                ));
            }
            if m.get("ts")
                .and_then(Value::as_i64)
                .is_none_or(|ts| ts < 100_000_000_000)
            {
                return Err(fail(
                    400,
                    "B00010",
                    format!("参数不合法: messages[{i}].ts must be epoch milliseconds"),
                ));
            }
            let Some(data) = m.get("data").and_then(Value::as_object) else {
                return Err(fail(
                    400,
                    "B00002",
                    format!("必填参数为空: messages[{i}].data"),
                ));
            };
            if domain == "event" && text_of(data.get("event")).is_none() {
                return Err(fail(
                    400,
                    "B00002",
                    format!("必填参数为空: messages[{i}].data.event"),
                ));
            }
            if orders && text_of(data.get("orderId")).is_none() {
                return Err(fail(
                    400,
                    "B00002",
                    format!("必填参数为空: messages[{i}].data.orderId"),
                ));
            }
        }
        if let Some(request_id) = text_of(body.get("request_id")) {
            if !self.seen_request_ids.insert(request_id) {
                self.duplicate_requests += 1;
                return ok_empty();
            }
        }
        let (contact_id, created) = self.resolve(&identities, req.now);
        let at = req.stamp();
        if let Some(c) = self.contacts.get_mut(&contact_id) {
            c.channels.insert(channel_key);
        }
        let mut first_contact_set = created;
        for m in messages {
            if let Some(message_id) = text_of(m.get("message_id")) {
                if !self.seen_message_ids.insert(message_id) {
                    self.duplicate_messages += 1;
                    continue;
                }
            }
            let data = m
                .get("data")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            match m.get("domain").and_then(Value::as_str) {
                Some("contact") => {
                    if let Some(c) = self.contacts.get_mut(&contact_id) {
                        merge_contact(&mut c.fields, data);
                        c.updated = at.clone();
                        c.updated_at = req.now;
                    }
                    // A contact created by this request counts once, as a create.
                    if first_contact_set {
                        first_contact_set = false;
                    } else {
                        self.contacts_updated += 1;
                        for (kind, value) in &identities {
                            *self
                                .updates_by_identity
                                .entry(format!("{kind}:{value}"))
                                .or_default() += 1;
                        }
                    }
                }
                Some("event") => {
                    self.events += 1;
                    let kind = text_of(data.get("event")).unwrap_or_default();
                    *self.events_by_type.entry(kind).or_default() += 1;
                }
                _ => self.upsert_order(contact_id, data, req.now),
            }
        }
        ok_empty()
    }
}

pub(super) fn merge_contact(fields: &mut Map<String, Value>, data: Map<String, Value>) {
    for (k, v) in data {
        match (k.as_str(), v) {
            ("props", Value::Object(props)) => {
                let slot = fields
                    .entry("props")
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Some(existing) = slot.as_object_mut() {
                    existing.extend(props);
                } else {
                    *slot = Value::Object(props);
                }
            }
            (_, v) => {
                fields.insert(k, v);
            }
        }
    }
}
