//! Messages: contact, event and order messages in one batch (`POST /open/messages`,
//! `/open/messages/orders`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{exact_numbers, one_of, require, Identity, Invalid};
use crate::connectors::wire;

/// Channel types accepted by `POST /open/messages`.
pub const MESSAGE_CHANNEL_TYPES: &[&str] = &["UDC", "TTMP", "WECHAT_WXA"];
/// Channel types accepted by `POST /open/messages/orders`.
pub const ORDER_CHANNEL_TYPES: &[&str] = &["UDC", "YOUZAN", "YOUZANSELF"];

/// Below this a `ts` is in seconds, which the vendor does not want (K-d: epoch milliseconds).
const MIN_TS_MS: i64 = 100_000_000_000;

/// The body of `POST /open/messages` (contacts and events) and `POST /open/messages/orders`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageBatch {
    /// Unique per request; the vendor may use it to drop a resent request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The channel (`udc_12SyQfFmg`).
    #[serde(rename = "channelKey", default)]
    pub channel_key: String,
    /// `UDC` (default), `TTMP`, `WECHAT_WXA`; for orders `UDC`, `YOUZAN`, `YOUZANSELF`.
    #[serde(
        rename = "channelType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub channel_type: Option<String>,
    /// Who the messages are about; at least one.
    #[serde(default)]
    pub identities: Vec<Identity>,
    /// The contact, event or order messages; at least one.
    #[serde(default)]
    pub messages: Vec<Message>,
}

/// One message of a [`MessageBatch`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Message {
    /// Unique per message; lets a resent message be recognised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// `contact`, `event` or (orders) `salesOrder`.
    #[serde(default)]
    pub domain: String,
    /// `set` for contacts and orders, `track` for events.
    #[serde(default)]
    pub action: String,
    /// Epoch milliseconds (K-d). Left out, the client fills in its clock's now.
    #[serde(
        default,
        deserialize_with = "wire::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub ts: Option<i64>,
    /// The contact fields, the event (`event`, `eventDate`, `props`…) or the order head with
    /// `lines`.
    #[serde(default)]
    pub data: Map<String, Value>,
}

impl Message {
    /// A `contact`/`set` message.
    pub fn contact(data: Map<String, Value>) -> Self {
        Self::new("contact", "set", data)
    }

    /// An `event`/`track` message.
    pub fn event(data: Map<String, Value>) -> Self {
        Self::new("event", "track", data)
    }

    /// A `salesOrder`/`set` message.
    pub fn order(data: Map<String, Value>) -> Self {
        Self::new("salesOrder", "set", data)
    }

    fn new(domain: &str, action: &str, data: Map<String, Value>) -> Self {
        Self {
            message_id: None,
            domain: domain.into(),
            action: action.into(),
            ts: None,
            data,
        }
    }
}

impl MessageBatch {
    fn validate_common(&self, channel_types: &[&str]) -> Result<(), Invalid> {
        require("channelKey", &self.channel_key)?;
        if let Some(t) = &self.channel_type {
            one_of("channelType", t, channel_types)?;
        }
        if self.identities.is_empty() {
            return Err(Invalid::new("identities", "must hold at least one identity"));
        }
        for (i, identity) in self.identities.iter().enumerate() {
            identity.validate_as(&format!("identities[{i}]"))?;
        }
        if self.messages.is_empty() {
            return Err(Invalid::new("messages", "must hold at least one message"));
        }
        for (i, m) in self.messages.iter().enumerate() {
            if let Some(ts) = m.ts {
                if ts < MIN_TS_MS {
                    return Err(Invalid::new(
                        format!("messages[{i}].ts"),
                        format!("is {ts}: must be epoch milliseconds"),
                    ));
                }
            }
            exact_numbers(
                &format!("messages[{i}].data"),
                &Value::Object(m.data.clone()),
            )?;
        }
        Ok(())
    }

    /// Checks a contact/event batch: channel, identities, and each message's domain/action pair
    /// (`contact`/`set` or `event`/`track`; an event needs `data.event`).
    pub fn validate_messages(&self) -> Result<(), Invalid> {
        self.validate_common(MESSAGE_CHANNEL_TYPES)?;
        for (i, m) in self.messages.iter().enumerate() {
            let field = format!("messages[{i}]");
            require(&format!("{field}.domain"), &m.domain)?;
            one_of(&format!("{field}.domain"), &m.domain, &["contact", "event"])?;
            let action = if m.domain == "contact" {
                "set"
            } else {
                "track"
            };
            one_of(&format!("{field}.action"), &m.action, &[action])?;
            if m.domain == "event" {
                let event = m.data.get("event").and_then(Value::as_str).unwrap_or("");
                require(&format!("{field}.data.event"), event)?;
            }
        }
        Ok(())
    }

    /// Checks an order batch: `salesOrder`/`set` (K-c), `data.orderId`, `data.orderDate`, and
    /// `lineId` on every line.
    pub fn validate_orders(&self) -> Result<(), Invalid> {
        self.validate_common(ORDER_CHANNEL_TYPES)?;
        for (i, m) in self.messages.iter().enumerate() {
            let field = format!("messages[{i}]");
            one_of(&format!("{field}.domain"), &m.domain, &["salesOrder"])?;
            one_of(&format!("{field}.action"), &m.action, &["set"])?;
            for key in ["orderId", "orderDate"] {
                let present = match m.data.get(key) {
                    Some(Value::String(s)) => !s.trim().is_empty(),
                    Some(Value::Number(_)) => true,
                    _ => false,
                };
                if !present {
                    return Err(Invalid::new(format!("{field}.data.{key}"), "is required"));
                }
            }
            if let Some(lines) = m.data.get("lines") {
                let lines = lines
                    .as_array()
                    .ok_or_else(|| Invalid::new(format!("{field}.data.lines"), "must be an array"))?;
                for (j, line) in lines.iter().enumerate() {
                    let ok = match line.get("lineId") {
                        Some(Value::String(s)) => !s.trim().is_empty(),
                        Some(Value::Number(_)) => true,
                        _ => false,
                    };
                    if !ok {
                        return Err(Invalid::new(
                            format!("{field}.data.lines[{j}].lineId"),
                            "is required",
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}
