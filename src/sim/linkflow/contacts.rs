//! Contacts and their identities: create/resolve, lookups, lists, scans, bulk reads, tags of a
//! contact, unbinding.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde_json::{json, Map, Value};

use super::reply::{fail, ok_empty, ok_json, Answer, Fail};
use super::request::{id_of, identity_of, pass, stamp, text_of, Req};
use super::{Inner, SimContact, UNBINDABLE_TYPES};
use crate::clock::beijing;

impl Inner {
    pub(super) fn create_contact(
        &mut self,
        identities: &[(String, String)],
        now: DateTime<Utc>,
    ) -> u64 {
        let id = self.next_contact_id;
        self.next_contact_id += 1;
        let at = stamp(now);
        let contact = SimContact {
            id,
            fields: Map::new(),
            identities: identities
                .iter()
                .map(|(k, v)| (k.clone(), v.clone(), at.clone()))
                .collect(),
            channels: BTreeSet::new(),
            tags: BTreeMap::new(),
            created: at.clone(),
            updated: at,
            updated_at: now,
        };
        for (kind, value) in identities {
            self.identity_index
                .insert((kind.clone(), value.clone()), id);
            *self
                .creates_by_identity
                .entry(format!("{kind}:{value}"))
                .or_default() += 1;
        }
        self.contacts.insert(id, contact);
        self.contacts_created += 1;
        id
    }

    /// The contact owning any of `identities`, else a new one; identities not yet bound to
    /// anyone are bound to it. Returns (contact id, created now).
    pub(super) fn resolve(
        &mut self,
        identities: &[(String, String)],
        now: DateTime<Utc>,
    ) -> (u64, bool) {
        let existing = identities
            .iter()
            .find_map(|i| self.identity_index.get(i).copied());
        let Some(id) = existing else {
            return (self.create_contact(identities, now), true);
        };
        let at = stamp(now);
        for identity in identities {
            if !self.identity_index.contains_key(identity) {
                self.identity_index.insert(identity.clone(), id);
                if let Some(c) = self.contacts.get_mut(&id) {
                    c.identities
                        .push((identity.0.clone(), identity.1.clone(), at.clone()));
                }
            }
        }
        (id, false)
    }

    pub(super) fn contact_json(&self, c: &SimContact, open_ids: bool) -> Value {
        let mut out = Map::new();
        for key in [
            "anonymousId",
            "name",
            "nickname",
            "dateOfBirthday",
            "avatar",
            "mobilePhone",
            "homePhone",
            "email",
            "country",
            "state",
            "city",
            "company",
            "idCard",
        ] {
            out.insert(key.into(), Value::Null);
        }
        out.insert("gender".into(), json!("unknown"));
        out.insert("utm".into(), json!({}));
        out.insert("props".into(), json!({}));
        for (k, v) in &c.fields {
            out.insert(k.clone(), v.clone());
        }
        for (kind, value, _) in &c.identities {
            if matches!(kind.as_str(), "mobilePhone" | "email" | "idCard")
                && out.get(kind).is_some_and(Value::is_null)
            {
                out.insert(kind.clone(), json!(value));
            }
        }
        out.insert("isAnonymous".into(), json!(false));
        out.insert("id".into(), json!(c.id));
        out.insert("dateCreated".into(), json!(c.created));
        out.insert("lastUpdated".into(), json!(c.updated));
        if open_ids {
            let ids: Vec<Value> = c
                .identities
                .iter()
                .filter(|(k, _, _)| k.ends_with("openId"))
                .map(|(_, v, _)| json!({"channelId": "wx5a39a02868a39999", "channelName": "渠道名称A", "openId": v}))
                .collect();
            out.insert("openIds".into(), Value::Array(ids));
        }
        Value::Object(out)
    }

    pub(super) fn contact(&self, id: u64) -> Result<&SimContact, Fail> {
        self.contacts
            .get(&id)
            .ok_or_else(|| fail(404, "B00008", format!("No [contact] found with id [{id}]")))
    }

    pub(super) fn contact_by_identity(
        &self,
        identity: &(String, String),
    ) -> Result<&SimContact, Fail> {
        self.identity_index
            .get(identity)
            .and_then(|id| self.contacts.get(id))
            .ok_or_else(|| {
                fail(
                    404,
                    "B00008",
                    format!("No [contact] found with identity [{}]", identity.0),
                )
            })
    }

    pub(super) fn find_contact(&self, req: &Req) -> Answer {
        let (Some(kind), Some(id)) = (req.q("idType"), req.q("id")) else {
            return Err(fail(
                500,
                "B00010",
                "参数不合法: idType and id are required",
            ));
        };
        let found = self.identity_index.get(&(kind.to_string(), id.to_string()));
        let body = match found {
            Some(id) => id.to_string(),
            None => "null".to_string(),
        };
        Ok((
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response())
    }

    pub(super) fn channel_identities(&self, id: u64) -> Answer {
        let c = self.contact(id)?;
        let records: Vec<Value> = c
            .channels
            .iter()
            .enumerate()
            .map(|(i, key)| {
                let channel_id = 140_926_029_029_409u64 + i as u64;
                json!({
                    "dateCreated": c.created, "lastUpdated": c.updated, "ver": 1,
                    "id": 140_992_033_742_850u64 + (c.id % 1_000_000) * 16 + i as u64,
                    "contactId": c.id, "channelId": channel_id, "isActive": true,
                    "externalId": c.identities.first().map(|i| i.1.clone()),
                    "channel": {"id": channel_id, "channelId": key, "channelType": "UDC",
                                "name": key, "status": "ACTIVE", "tenantId": 1, "orgId": "1"}
                })
            })
            .collect();
        ok_json(Value::Array(records))
    }

    pub(super) fn list_contacts(&self, req: &Req) -> Answer {
        let page = req.q_u64("page")?.unwrap_or(0);
        let size = req.q_u64("size")?.unwrap_or(200);
        if size == 0 || size > 200 {
            return Err(fail(
                400,
                "B00031",
                format!("超过最大数量: size {size} > 200"),
            ));
        }
        if page * size > 10_000 {
            return Err(fail(420, "B00030", "page*size必须小于等于10000"));
        }
        let members: Option<HashSet<u64>> = match req.q_u64("groupId")? {
            Some(g) => Some(self.group(g)?.members.values().map(|(c, _)| *c).collect()),
            None => None,
        };
        let search = req.q("search");
        let list: Vec<Value> = self
            .contacts
            .values()
            .filter(|c| pass(members.as_ref(), |m| m.contains(&c.id)))
            .map(|c| self.contact_json(c, false))
            .filter(|v| {
                pass(search, |s| {
                    ["name", "mobilePhone", "email"].iter().any(|k| {
                        v.get(*k)
                            .and_then(Value::as_str)
                            .is_some_and(|x| x.contains(s))
                    })
                })
            })
            .skip((page * size) as usize)
            .take(size as usize)
            .collect();
        ok_json(Value::Array(list))
    }

    pub(super) fn scan_contacts(&self, req: &Req) -> Answer {
        let Some(last) = req.q_u64("lastMaxId")? else {
            return Err(fail(400, "B00002", "必填参数为空: lastMaxId"));
        };
        let size = req.q_u64("size")?.unwrap_or(200);
        if size == 0 || size > 200 {
            return Err(fail(
                400,
                "B00031",
                format!("超过最大数量: size {size} > 200"),
            ));
        }
        let list: Vec<Value> = self
            .contacts
            .range(last.saturating_add(1)..)
            .take(size as usize)
            .map(|(_, c)| self.contact_json(c, false))
            .collect();
        ok_json(Value::Array(list))
    }

    pub(super) fn contact_ids(&self, req: &Req) -> Answer {
        let (Some(page), Some(size)) = (req.q_u64("page")?, req.q_u64("size")?) else {
            return Err(fail(400, "B00002", "必填参数为空: page, size"));
        };
        if page.saturating_mul(size) > 10_000 {
            return Err(fail(420, "B00030", "page*size必须小于等于10000"));
        }
        let day = |key: &str| -> Result<Option<DateTime<Utc>>, Fail> {
            req.q(key)
                .map(|d| {
                    NaiveDate::parse_from_str(d, "%Y-%m-%d")
                        .ok()
                        .and_then(|d| d.and_hms_opt(0, 0, 0))
                        .and_then(|t| beijing().from_local_datetime(&t).single())
                        .map(|t| t.with_timezone(&Utc))
                        .ok_or_else(|| fail(400, "B00010", format!("参数不合法: {key}={d}")))
                })
                .transpose()
        };
        let min = day("minUpdateTime")?;
        let max = day("maxUpdateTime")?;
        let anonymous = req.q_i64("anonymous")?.unwrap_or(0);
        if !(-1..=1).contains(&anonymous) {
            return Err(fail(400, "B00010", "参数不合法: anonymous"));
        }
        // Every simulated contact is named, so anonymous=1 finds nobody.
        let ids: Vec<u64> = self
            .contacts
            .values()
            .filter(|_| anonymous != 1)
            .filter(|c| pass(min, |m| m <= c.updated_at) && pass(max, |m| c.updated_at < m))
            .map(|c| c.id)
            .skip((page * size) as usize)
            .take(size as usize)
            .collect();
        ok_json(json!(ids))
    }

    pub(super) fn contacts_bulk(&self, req: &Req) -> Answer {
        let Some(ids) = req.q("ids") else {
            return Err(fail(400, "B00002", "必填参数为空: ids"));
        };
        let ids: Vec<u64> = ids
            .split(',')
            .map(|s| s.trim().parse::<u64>())
            .collect::<Result<_, _>>()
            .map_err(|_| fail(400, "B00010", "参数不合法: ids"))?;
        let open_ids = req.q("needOpenId") == Some("1");
        let list: Vec<Value> = ids
            .iter()
            .take(100)
            .filter_map(|id| self.contacts.get(id))
            .map(|c| self.contact_json(c, open_ids))
            .collect();
        ok_json(Value::Array(list))
    }

    pub(super) fn contact_identities(&self, req: &Req) -> Answer {
        let body = req.json_object()?;
        let identity = identity_of(body.get("identity").unwrap_or(&Value::Null), "identity")?;
        let wanted: Option<HashSet<String>> = body
            .get("identityTypes")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|v| text_of(Some(v))).collect());
        let c = self.contact_by_identity(&identity)?;
        let identities: Vec<Value> = c
            .identities
            .iter()
            .filter(|(k, _, _)| pass(wanted.as_ref(), |w| w.contains(k)))
            .map(|(k, v, at)| json!({"id": v, "type": k, "dateCreated": at}))
            .collect();
        ok_json(json!({"contactId": c.id, "identities": identities}))
    }

    pub(super) fn contact_tags(&self, req: &Req) -> Answer {
        let body = req.json()?;
        let identity = identity_of(&body, "")?;
        let c = self.contact_by_identity(&identity)?;
        let tags: Vec<Value> = c
            .tags
            .iter()
            .filter_map(|(tag_id, value)| {
                let t = self.tags.get(tag_id)?;
                Some(json!({"tagId": t.id, "tagName": t.name, "tagKey": t.key, "value": value}))
            })
            .collect();
        ok_json(Value::Array(tags))
    }

    pub(super) fn unbind(&mut self, req: &Req) -> Answer {
        let body = req.json_object()?;
        let Some(contact_id) = body.get("contactId").and_then(id_of) else {
            return Err(fail(400, "B00002", "必填参数为空: contactId"));
        };
        let identities: Vec<(String, String)> = match body.get("identities") {
            Some(Value::Array(items)) if !items.is_empty() => items
                .iter()
                .enumerate()
                .map(|(i, v)| identity_of(v, &format!("identities[{i}]")))
                .collect::<Result<_, _>>()?,
            _ => return Err(fail(400, "B00002", "必填参数为空: identities")),
        };
        let c = self.contact(contact_id)?;
        for (kind, value) in &identities {
            if !c.identities.iter().any(|(k, _, _)| k == kind) {
                return Err(fail(500, "B01403", format!("身份类型不存在: {kind}")));
            }
            if UNBINDABLE_TYPES.contains(&kind.as_str()) {
                return Err(fail(500, "B01404", format!("身份类型不可解绑: {kind}")));
            }
            if !c.identities.iter().any(|(k, v, _)| k == kind && v == value) {
                return Err(fail(500, "B01405", format!("身份值不存在: {kind}")));
            }
        }
        if c.identities.len() <= identities.len() {
            return Err(fail(500, "B01402", "解绑后联系人身份数量小于1"));
        }
        if let Some(c) = self.contacts.get_mut(&contact_id) {
            c.identities
                .retain(|(k, v, _)| !identities.iter().any(|(ik, iv)| ik == k && iv == v));
        }
        for identity in identities {
            self.identity_index.remove(&identity);
        }
        ok_empty()
    }

    pub(super) fn identities_by_id(&self, id: u64) -> Answer {
        let c = self.contact(id)?;
        let list: Vec<Value> = c
            .identities
            .iter()
            .map(|(k, v, at)| json!({"id": v, "type": k, "dateCreated": at}))
            .collect();
        ok_json(Value::Array(list))
    }
}
