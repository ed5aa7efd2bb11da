//! Orders: the listing window and the order answer.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{datetime, Id, Invalid};
use crate::connectors::wire;

/// `GET /open/orders`: either the cursor `lastMaxId`, or the window `startTime`/`endTime`
/// (`[start, end)` on update time) with a 1-based `page` ≤ 100.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListOrdersRequest {
    /// Cursor mode: the last order `id` of the previous page, 0 first.
    #[serde(default)]
    pub last_max_id: Option<Id>,
    /// Window mode: `yyyy-MM-dd HH:mm:ss`, inclusive.
    #[serde(default)]
    pub start_time: Option<String>,
    /// Window mode: `yyyy-MM-dd HH:mm:ss`, exclusive.
    #[serde(default)]
    pub end_time: Option<String>,
    /// Window mode: 1..=100 (default 1).
    #[serde(default)]
    pub page: Option<u32>,
}

impl ListOrdersRequest {
    /// Exactly one mode; dates well formed; page 1..=100 (B00093).
    pub fn validate(&self) -> Result<(), Invalid> {
        let window = self.start_time.is_some() || self.end_time.is_some() || self.page.is_some();
        match (self.last_max_id, window) {
            (Some(_), true) => Err(Invalid::new(
                "lastMaxId",
                "cannot be combined with startTime/endTime/page",
            )),
            (None, false) => Err(Invalid::new(
                "lastMaxId",
                "is required (or give startTime, endTime and page)",
            )),
            (Some(_), false) => Ok(()),
            (None, true) => {
                let start = self
                    .start_time
                    .as_deref()
                    .ok_or_else(|| Invalid::new("startTime", "is required with endTime/page"))?;
                let end = self
                    .end_time
                    .as_deref()
                    .ok_or_else(|| Invalid::new("endTime", "is required with startTime/page"))?;
                datetime("startTime", start)?;
                datetime("endTime", end)?;
                if start >= end {
                    return Err(Invalid::new("endTime", "must be after startTime"));
                }
                match self.page {
                    Some(p) if !(1..=100).contains(&p) => {
                        Err(Invalid::new("page", format!("is {p}, must be 1..=100")))
                    }
                    _ => Ok(()),
                }
            }
        }
    }
}

/// An order with its lines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    /// Linkflow's record id: the cursor for the next page.
    pub id: Id,
    /// The shop's order number.
    #[serde(deserialize_with = "wire::id")]
    pub order_id: String,
    /// The contact.
    #[serde(default)]
    pub contact_id: Option<Id>,
    /// System order status (open set).
    #[serde(default)]
    pub order_status: Option<String>,
    /// `yyyy-MM-dd HH:mm:ss`.
    #[serde(default)]
    pub last_updated: Option<String>,
    /// Order lines, kept as sent.
    #[serde(default)]
    pub lines: Vec<Map<String, Value>>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
