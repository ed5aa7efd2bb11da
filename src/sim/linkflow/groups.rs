//! Contact groups and their members.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::reply::{fail, ok_empty, ok_json, Answer, Fail};
use super::request::{id_of, pass, required_text, text_of, Req};
use super::{Inner, SimGroup};

impl Inner {
    pub(super) fn group(&self, id: u64) -> Result<&SimGroup, Fail> {
        self.groups
            .get(&id)
            .ok_or_else(|| fail(404, "B00008", format!("No [group] found with id [{id}]")))
    }

    pub(super) fn group_json(g: &SimGroup) -> Value {
        let mut v = json!({
            "lastUpdated": g.updated, "groupType": g.group_type, "dateCreated": g.created,
            "name": g.name, "id": g.id,
        });
        if let Some(obj) = v.as_object_mut() {
            if let Some(e) = &g.ext1 {
                obj.insert("ext1".into(), json!(e));
            }
            if let Some(e) = &g.ext2 {
                obj.insert("ext2".into(), json!(e));
            }
        }
        v
    }

    pub(super) fn list_groups(&self, req: &Req) -> Answer {
        let id = req.q_u64("id")?;
        let since = req.q("lastUpdated");
        let list: Vec<Value> = self
            .groups
            .values()
            .filter(|g| pass(id, |id| id == g.id))
            .filter(|g| pass(req.q("name"), |n| g.name.contains(n)))
            .filter(|g| pass(req.q("groupType"), |t| g.group_type == t))
            .filter(|g| pass(req.q("ext1"), |e| g.ext1.as_deref() == Some(e)))
            .filter(|g| pass(req.q("ext2"), |e| g.ext2.as_deref() == Some(e)))
            .filter(|g| pass(since, |s| g.updated.as_str() >= s))
            .map(Self::group_json)
            .collect();
        ok_json(Value::Array(list))
    }

    pub(super) fn create_group(&mut self, req: &Req) -> Answer {
        let body = req.json_object()?;
        let name = required_text(&body, "name")?;
        let group_type = text_of(body.get("groupType")).unwrap_or_else(|| "static".into());
        if group_type != "static" {
            return Err(fail(400, "B00010", "参数不合法: groupType must be static"));
        }
        if self.groups.values().any(|g| g.name == name) {
            return Err(fail(400, "B00001", format!("群组已存在: {name}")));
        }
        let id = self.next_group_id;
        self.next_group_id += 1;
        let g = SimGroup {
            id,
            name,
            group_type,
            ext1: text_of(body.get("ext1")),
            ext2: text_of(body.get("ext2")),
            created: req.stamp(),
            updated: req.stamp(),
            members: BTreeMap::new(),
        };
        let answer = Self::group_json(&g);
        self.groups.insert(id, g);
        ok_json(answer)
    }

    pub(super) fn rename_group(&mut self, req: &Req, id: u64) -> Answer {
        self.group(id)?;
        // The doc lists `name` under "Request Parameters": accept it as a query parameter or
        // in a JSON body.
        let name = match req.q("name") {
            Some(n) => n.to_string(),
            None => required_text(&req.json_object()?, "name")?,
        };
        if self.groups.values().any(|g| g.id != id && g.name == name) {
            return Err(fail(420, "B01102", format!("群组名已存在: {name}")));
        }
        let at = req.stamp();
        if let Some(g) = self.groups.get_mut(&id) {
            g.name = name;
            g.updated = at;
        }
        ok_empty()
    }

    pub(super) fn delete_group(&mut self, id: u64) -> Answer {
        self.group(id)?;
        self.groups.remove(&id);
        ok_empty()
    }

    pub(super) fn contact_groups(&self, req: &Req, contact_id: u64) -> Answer {
        self.contact(contact_id)?;
        let list: Vec<Value> = self
            .groups
            .values()
            .filter(|g| g.members.values().any(|(c, _)| *c == contact_id))
            .filter(|g| pass(req.q("groupType"), |t| g.group_type == t))
            .map(Self::group_json)
            .collect();
        ok_json(Value::Array(list))
    }

    pub(super) fn group_members(&self, req: &Req, group_id: u64) -> Answer {
        let size = req.q_u64("size")?.unwrap_or(500);
        if size > 500 {
            return Err(fail(400, "B00031", format!("size超过最大数量: {size}")));
        }
        let after = req.q_u64("memberId")?.unwrap_or(0);
        let g = self.group(group_id)?;
        let list: Vec<Value> = g
            .members
            .range(after.saturating_add(1)..)
            .take(size as usize)
            .map(|(member_id, (contact_id, at))| {
                let contact = self.contacts.get(contact_id).map(|c| {
                    let v = self.contact_json(c, false);
                    json!({"mobilePhone": v["mobilePhone"], "name": v["name"], "id": c.id, "email": v["email"]})
                });
                json!({
                    "lastUpdated": at, "dateCreated": at, "contact": contact,
                    "contactGroupId": g.id, "version": null, "memberId": member_id,
                })
            })
            .collect();
        ok_json(Value::Array(list))
    }

    pub(super) fn change_members(&mut self, req: &Req, group_id: u64, add: bool) -> Answer {
        let ids = match req.json()? {
            Value::Array(ids) => ids,
            _ => {
                return Err(fail(
                    400,
                    "B00010",
                    "参数不合法: body must be an array of contact ids",
                ))
            }
        };
        let g = self.group(group_id)?;
        if g.group_type != "static" {
            return Err(fail(
                400,
                "B00010",
                "参数不合法: only static groups take members",
            ));
        }
        let mut success = Vec::new();
        let mut failure = Vec::new();
        let at = req.stamp();
        for raw in ids {
            match id_of(&raw).filter(|id| self.contacts.contains_key(id)) {
                Some(contact_id) => {
                    let member_id = self.next_member_id;
                    let Some(g) = self.groups.get_mut(&group_id) else {
                        break;
                    };
                    let present = g
                        .members
                        .iter()
                        .find(|(_, (c, _))| *c == contact_id)
                        .map(|(m, _)| *m);
                    match (add, present) {
                        (true, None) => {
                            g.members.insert(member_id, (contact_id, at.clone()));
                            self.next_member_id += 1;
                        }
                        (false, Some(m)) => {
                            g.members.remove(&m);
                        }
                        _ => {}
                    }
                    success.push(json!(contact_id));
                }
                None => failure.push(raw),
            }
        }
        let group = self.groups.get_mut(&group_id).map(|g| {
            g.updated = at;
            Self::group_json(g)
        });
        ok_json(json!({"success": success, "failure": failure, "group": group}))
    }
}
