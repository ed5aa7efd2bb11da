//! Orders: upserted by order messages, listed by id cursor or time window.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde_json::{json, Map, Value};

use super::reply::{fail, ok_json, Answer};
use super::request::{stamp, text_of, Req};
use super::{Inner, SimOrder, ORDER_PAGE};
use crate::clock::beijing;

impl Inner {
    pub(super) fn upsert_order(
        &mut self,
        contact_id: u64,
        data: Map<String, Value>,
        now: DateTime<Utc>,
    ) {
        let order_id = text_of(data.get("orderId")).unwrap_or_default();
        let at = stamp(now);
        let id = match self.order_index.get(&order_id) {
            Some(&id) => {
                self.orders_updated += 1;
                id
            }
            None => {
                let id = self.next_order_id;
                self.next_order_id += 1;
                self.order_index.insert(order_id.clone(), id);
                self.orders_created += 1;
                id
            }
        };
        let mut body = self
            .orders
            .get(&id)
            .map(|o| o.body.clone())
            .unwrap_or_else(|| {
                let mut m = Map::new();
                m.insert("dateCreated".into(), json!(at));
                m
            });
        for (k, v) in data {
            body.insert(k, v);
        }
        let mut lines: Vec<Value> = body
            .get("lines")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for line in &mut lines {
            if let Some(l) = line.as_object_mut() {
                if !l.contains_key("id") {
                    l.insert("id".into(), json!(self.next_order_id));
                    self.next_order_id += 1;
                }
                l.insert("orderId".into(), json!(order_id));
                l.insert("contactId".into(), json!(contact_id));
            }
        }
        body.insert("lines".into(), Value::Array(lines));
        body.insert("id".into(), json!(id));
        body.insert("contactId".into(), json!(contact_id));
        body.insert("lastUpdated".into(), json!(at));
        body.insert("tenantId".into(), json!(1));
        if let Some(status) = body.get("orderStatus").cloned() {
            body.entry("orderOuterStatus").or_insert(status);
        }
        self.orders.insert(
            id,
            SimOrder {
                body,
                updated_at: now,
            },
        );
    }

    pub(super) fn list_orders(&self, req: &Req) -> Answer {
        if let Some(last) = req.q_u64("lastMaxId")? {
            let list: Vec<Value> = self
                .orders
                .range(last.saturating_add(1)..)
                .take(ORDER_PAGE)
                .map(|(_, o)| Value::Object(o.body.clone()))
                .collect();
            return ok_json(Value::Array(list));
        }
        let (Some(start), Some(end)) = (req.q("startTime"), req.q("endTime")) else {
            return Err(fail(
                400,
                "B00002",
                "必填参数为空: lastMaxId or startTime/endTime",
            ));
        };
        let parse = |key: &str, text: &str| {
            NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
                .ok()
                .and_then(|t| beijing().from_local_datetime(&t).single())
                .map(|t| t.with_timezone(&Utc))
                .ok_or_else(|| fail(400, "B00010", format!("参数不合法: {key}={text}")))
        };
        let start = parse("startTime", start)?;
        let end = parse("endTime", end)?;
        let page = req.q_u64("page")?.unwrap_or(1);
        if page > 100 {
            return Err(fail(500, "B00093", "超过最大页数"));
        }
        if page == 0 {
            return Err(fail(400, "B00010", "参数不合法: page starts at 1"));
        }
        let list: Vec<Value> = self
            .orders
            .values()
            .filter(|o| o.updated_at >= start && o.updated_at < end)
            .skip((page as usize - 1) * ORDER_PAGE)
            .take(ORDER_PAGE)
            .map(|o| Value::Object(o.body.clone()))
            .collect();
        ok_json(Value::Array(list))
    }
}
