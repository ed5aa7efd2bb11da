//! Typed Linkflow requests and answers, with the vendor's own field names (camelCase, except
//! `request_id`/`message_id`) so an op payload reads like the vendor's doc.
//!
//! Requests deny unknown fields (a typo such as `tagkey` is caught before anything is sent) and
//! carry `validate()` for the documented constraints; answers are tolerant: ids come as numbers
//! or strings and stay exact beyond 2^53 ([`Id`]), and unknown fields are kept in `extra`.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::connectors::wire;

// ---------------------------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------------------------

/// A Linkflow numeric id (contact, group, tag, task, order…). Read from a JSON integer or a
/// numeric string and written as a JSON integer, always exact: real ids are around 7·10^14 and
/// the simulator hands out ids above 2^53 on purpose, so an f64 would corrupt them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Id(pub u64);

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl From<u64> for Id {
    fn from(v: u64) -> Self {
        Id(v)
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

struct IdVisitor;

impl<'de> Visitor<'de> for IdVisitor {
    type Value = Id;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a non-negative integer id (number or numeric string)")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Id, E> {
        Ok(Id(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Id, E> {
        u64::try_from(v)
            .map(Id)
            .map_err(|_| E::custom(format!("id {v} is negative")))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Id, E> {
        // Only floats that are certainly exact; anything beyond 2^53 has already lost digits.
        if v.fract() == 0.0 && (0.0..9_007_199_254_740_992.0).contains(&v) {
            Ok(Id(v as u64))
        } else {
            Err(E::custom(format!("id {v} is not an exact integer")))
        }
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Id, E> {
        v.trim()
            .parse()
            .map(Id)
            .map_err(|_| E::custom(format!("id {v:?} is not a non-negative integer")))
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(IdVisitor)
    }
}

/// One identity of a contact (`{"id": "13800000000", "type": "mobilePhone"}`). The value is
/// text on the wire; a payload may give it as a number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    /// The identity value (phone number, email, openid…).
    #[serde(deserialize_with = "wire::id")]
    pub id: String,
    /// The identity type (`mobilePhone`, `email`, `idCard`, `wechat.unionId`…).
    #[serde(rename = "type")]
    pub kind: String,
}

impl Identity {
    /// An identity of `kind` with value `id`.
    pub fn new(kind: impl Into<String>, id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            kind: kind.into(),
        }
    }

    /// Requires `id` and `type`, reported under `field` (`identities[0]`), or bare when empty.
    pub fn validate_as(&self, field: &str) -> Result<(), Invalid> {
        let name = |leaf: &str| {
            if field.is_empty() {
                leaf.to_string()
            } else {
                format!("{field}.{leaf}")
            }
        };
        require(&name("id"), &self.id)?;
        require(&name("type"), &self.kind)
    }
}

/// A documented constraint that a payload breaks; nothing was sent. `field` uses the vendor's
/// field names (`messages[1].action`, `tagKey`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{field}` {problem}")]
pub struct Invalid {
    /// The offending field.
    pub field: String,
    /// What is wrong with it.
    pub problem: String,
}

fn invalid(field: &str, problem: impl Into<String>) -> Invalid {
    Invalid {
        field: field.to_string(),
        problem: problem.into(),
    }
}

fn require(field: &str, value: &str) -> Result<(), Invalid> {
    if value.trim().is_empty() {
        Err(invalid(field, "is required"))
    } else {
        Ok(())
    }
}

fn require_opt(field: &str, value: &Option<String>) -> Result<(), Invalid> {
    require(field, value.as_deref().unwrap_or(""))
}

fn one_of(field: &str, value: &str, allowed: &[&str]) -> Result<(), Invalid> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!("is {value:?}, expected one of: {}", allowed.join(", ")),
        ))
    }
}

fn size_in(field: &str, size: Option<u32>, max: u32) -> Result<(), Invalid> {
    match size {
        Some(s) if s == 0 || s > max => Err(invalid(field, format!("is {s}, must be 1..={max}"))),
        _ => Ok(()),
    }
}

/// `yyyy-MM-dd HH:mm:ss`, as the orders window wants.
fn datetime(field: &str, value: &str) -> Result<(), Invalid> {
    chrono::NaiveDateTime::parse_from_str(value, "%Y-%m-%d %H:%M:%S")
        .map(|_| ())
        .map_err(|_| invalid(field, format!("is {value:?}, expected yyyy-MM-dd HH:mm:ss")))
}

/// `yyyy-MM-dd`, as the contact-id export wants.
fn date(field: &str, value: &str) -> Result<(), Invalid> {
    chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .map(|_| ())
        .map_err(|_| invalid(field, format!("is {value:?}, expected yyyy-MM-dd")))
}

/// Rejects integers that already lost digits: without serde_json's `arbitrary_precision` a
/// value such as the doc's `11111111111111112001` arrives as an f64, and sending it on would
/// silently store a different number (K-f). The caller must send such values as strings.
fn exact_numbers(field: &str, value: &Value) -> Result<(), Invalid> {
    match value {
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() >= 9_007_199_254_740_992.0 => {
                Err(invalid(
                    field,
                    format!(
                        "is {n}, an integer beyond 2^53 that cannot be kept exact; send it as a string"
                    ),
                ))
            }
            _ => Ok(()),
        },
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| exact_numbers(&format!("{field}[{i}]"), v)),
        Value::Object(map) => map
            .iter()
            .try_for_each(|(k, v)| exact_numbers(&format!("{field}.{k}"), v)),
        _ => Ok(()),
    }
}

/// The tag key rule (B01157): `tag_` followed by lowercase letters, digits and underscores.
pub fn is_valid_tag_key(key: &str) -> bool {
    key.strip_prefix("tag_").is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    })
}

fn tag_key(field: &str, key: &str) -> Result<(), Invalid> {
    require(field, key)?;
    if is_valid_tag_key(key) {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!("is {key:?}: must be `tag_` followed by lowercase letters, digits or `_`"),
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Messages: contacts, events, orders
// ---------------------------------------------------------------------------------------------

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
            return Err(invalid("identities", "must hold at least one identity"));
        }
        for (i, identity) in self.identities.iter().enumerate() {
            identity.validate_as(&format!("identities[{i}]"))?;
        }
        if self.messages.is_empty() {
            return Err(invalid("messages", "must hold at least one message"));
        }
        for (i, m) in self.messages.iter().enumerate() {
            if let Some(ts) = m.ts {
                if ts < MIN_TS_MS {
                    return Err(invalid(
                        &format!("messages[{i}].ts"),
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
                    return Err(invalid(&format!("{field}.data.{key}"), "is required"));
                }
            }
            if let Some(lines) = m.data.get("lines") {
                let lines = lines
                    .as_array()
                    .ok_or_else(|| invalid(&format!("{field}.data.lines"), "must be an array"))?;
                for (j, line) in lines.iter().enumerate() {
                    let ok = match line.get("lineId") {
                        Some(Value::String(s)) => !s.trim().is_empty(),
                        Some(Value::Number(_)) => true,
                        _ => false,
                    };
                    if !ok {
                        return Err(invalid(
                            &format!("{field}.data.lines[{j}].lineId"),
                            "is required",
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Contacts
// ---------------------------------------------------------------------------------------------

/// `GET /open/identity/contact`: which contact has this identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FindContactRequest {
    /// Identity type (`idCard`, `mobilePhone`…).
    #[serde(default)]
    pub id_type: String,
    /// Identity value.
    #[serde(default, deserialize_with = "wire::id")]
    pub id: String,
}

impl FindContactRequest {
    /// Both fields are required.
    pub fn validate(&self) -> Result<(), Invalid> {
        require("idType", &self.id_type)?;
        require("id", &self.id)
    }
}

/// A request naming one contact by id (`/open/contacts/{id}/…`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactIdRequest {
    /// The contact id.
    pub id: Id,
}

/// `GET /open/contacts`: one 0-based page of contacts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListContactsRequest {
    /// 0-based page (vendor default 0).
    #[serde(default)]
    pub page: Option<u32>,
    /// Page size, at most 200 (vendor default 200).
    #[serde(default)]
    pub size: Option<u32>,
    /// Only members of this group.
    #[serde(default)]
    pub group_id: Option<Id>,
    /// A search keyword (phone, name…).
    #[serde(default)]
    pub search: Option<String>,
}

impl ListContactsRequest {
    /// `size` ≤ 200 and page·size ≤ 10000.
    pub fn validate(&self) -> Result<(), Invalid> {
        size_in("size", self.size, 200)?;
        page_window(self.page.unwrap_or(0), self.size.unwrap_or(200))
    }
}

fn page_window(page: u32, size: u32) -> Result<(), Invalid> {
    if u64::from(page) * u64::from(size) > 10_000 {
        Err(invalid(
            "page",
            format!("page*size is {page}*{size}, must be at most 10000"),
        ))
    } else {
        Ok(())
    }
}

/// `GET /open/contacts/cursor`: contacts with ids above `lastMaxId`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScanContactsRequest {
    /// The largest id of the previous page; 0 for the first.
    #[serde(default)]
    pub last_max_id: Id,
    /// Page size, at most 200 (vendor default 200).
    #[serde(default)]
    pub size: Option<u32>,
}

impl ScanContactsRequest {
    /// `size` ≤ 200.
    pub fn validate(&self) -> Result<(), Invalid> {
        size_in("size", self.size, 200)
    }
}

/// `GET /open/contacts_bulk/ids`: contact ids by update time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListContactIdsRequest {
    /// 0-based page.
    #[serde(default)]
    pub page: u32,
    /// Page size; page·size ≤ 10000.
    #[serde(default)]
    pub size: Option<u32>,
    /// Updated on or after this day (`yyyy-MM-dd`).
    #[serde(default)]
    pub min_update_time: Option<String>,
    /// Updated before this day (`yyyy-MM-dd`).
    #[serde(default)]
    pub max_update_time: Option<String>,
    /// -1 all, 0 named (vendor default), 1 anonymous.
    #[serde(default)]
    pub anonymous: Option<i64>,
}

impl ListContactIdsRequest {
    /// `size` required, page·size ≤ 10000 (B00030), dates as `yyyy-MM-dd`, `anonymous` ∈ {-1,0,1}.
    pub fn validate(&self) -> Result<(), Invalid> {
        let size = self.size.ok_or_else(|| invalid("size", "is required"))?;
        if size == 0 {
            return Err(invalid("size", "must be at least 1"));
        }
        page_window(self.page, size)?;
        if let Some(d) = &self.min_update_time {
            date("minUpdateTime", d)?;
        }
        if let Some(d) = &self.max_update_time {
            date("maxUpdateTime", d)?;
        }
        if let Some(a) = self.anonymous {
            if !(-1..=1).contains(&a) {
                return Err(invalid("anonymous", format!("is {a}, expected -1, 0 or 1")));
            }
        }
        Ok(())
    }
}

/// `GET /open/contacts_bulk`: details of up to 100 contacts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetContactsRequest {
    /// 1 to 100 contact ids (the vendor silently drops ids beyond 100; we refuse instead).
    #[serde(default)]
    pub ids: Vec<Id>,
    /// Also return each contact's `openIds`.
    #[serde(default)]
    pub need_open_id: bool,
}

impl GetContactsRequest {
    /// 1..=100 ids.
    pub fn validate(&self) -> Result<(), Invalid> {
        match self.ids.len() {
            0 => Err(invalid("ids", "must hold at least one id")),
            n if n > 100 => Err(invalid("ids", format!("holds {n} ids, at most 100"))),
            _ => Ok(()),
        }
    }
}

/// `POST /open/contacts/identities`: every identity of the contact owning `identity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FindContactIdentitiesRequest {
    /// An identity of the contact.
    pub identity: Identity,
    /// Only these identity types; all when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_types: Option<Vec<String>>,
}

impl FindContactIdentitiesRequest {
    /// The identity is required.
    pub fn validate(&self) -> Result<(), Invalid> {
        self.identity.validate_as("identity")
    }
}

/// `DELETE /open/contacts/identities/unbind`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UnbindIdentitiesRequest {
    /// The contact.
    pub contact_id: Id,
    /// Identities to detach (custom types, `mobilePhone`, `wechat.unionId`, `wechat.openId`,
    /// `wxa.openId`, `workwechat.externalUserId`).
    #[serde(default)]
    pub identities: Vec<Identity>,
}

impl UnbindIdentitiesRequest {
    /// At least one identity.
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.identities.is_empty() {
            return Err(invalid("identities", "must hold at least one identity"));
        }
        for (i, identity) in self.identities.iter().enumerate() {
            identity.validate_as(&format!("identities[{i}]"))?;
        }
        Ok(())
    }
}

/// A contact as `/open/contacts`, `/open/contacts/cursor` and `/open/contacts_bulk` return it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    /// Contact id.
    pub id: Id,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Mobile phone.
    #[serde(default)]
    pub mobile_phone: Option<String>,
    /// Email.
    #[serde(default)]
    pub email: Option<String>,
    /// `male`, `female`, `unknown` (open set).
    #[serde(default)]
    pub gender: Option<String>,
    /// Anonymous (not yet identified) contact.
    #[serde(default)]
    pub is_anonymous: Option<bool>,
    /// `yyyy-MM-dd HH:mm:ss`.
    #[serde(default)]
    pub date_created: Option<String>,
    /// `yyyy-MM-dd HH:mm:ss`.
    #[serde(default)]
    pub last_updated: Option<String>,
    /// Custom properties.
    #[serde(default)]
    pub props: Option<Map<String, Value>>,
    /// Every other field (`utm`, `city`, `company`, `openIds`…), kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A channel account of a contact (`/open/contacts/{id}/channel_identities`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelIdentity {
    /// Record id.
    pub id: Id,
    /// The contact.
    #[serde(default)]
    pub contact_id: Option<Id>,
    /// Numeric id of the channel.
    #[serde(default)]
    pub channel_id: Option<Id>,
    /// The account's id inside the channel (openid, external user id…).
    #[serde(default)]
    pub external_id: Option<String>,
    /// Active binding.
    #[serde(default)]
    pub is_active: Option<bool>,
    /// The channel (`channelId`, `channelType`, `name`…), kept as sent.
    #[serde(default)]
    pub channel: Option<Map<String, Value>>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An identity record of a contact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentityRecord {
    /// The identity value.
    #[serde(deserialize_with = "wire::id")]
    pub id: String,
    /// The identity type.
    #[serde(rename = "type")]
    pub kind: String,
    /// When it was bound.
    #[serde(default)]
    pub date_created: Option<String>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `POST /open/contacts/identities` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactIdentities {
    /// The contact owning the identity asked about.
    pub contact_id: Id,
    /// Its identities (filtered by `identityTypes`).
    #[serde(default)]
    pub identities: Vec<IdentityRecord>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A tag value of a contact (`POST /open/contacts/tags`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactTag {
    /// Tag id.
    pub tag_id: Id,
    /// Tag key.
    #[serde(default)]
    pub tag_key: Option<String>,
    /// Tag display name.
    #[serde(default)]
    pub tag_name: Option<String>,
    /// The value (text; the vendor may send numbers or arrays for other data types).
    #[serde(default)]
    pub value: Value,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

// ---------------------------------------------------------------------------------------------
// WeCom
// ---------------------------------------------------------------------------------------------

/// `GET /open/workwechat/{channelId}/qrcodes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListQrcodesRequest {
    /// The WeCom channel id (`ww0b8772cfc1ed757c`).
    #[serde(default)]
    pub channel_id: String,
}

impl ListQrcodesRequest {
    /// The channel is required.
    pub fn validate(&self) -> Result<(), Invalid> {
        require("channelId", &self.channel_id)
    }
}

/// A WeCom "contact me" QR code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Qrcode {
    /// Record id.
    pub id: Id,
    /// WeCom's config id.
    #[serde(default)]
    pub config_id: Option<String>,
    /// The QR image URL.
    #[serde(default)]
    pub qr_code: Option<String>,
    /// Every other field (`utm`, `contactWay`, …).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

// ---------------------------------------------------------------------------------------------
// Tags
// ---------------------------------------------------------------------------------------------

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
            return Err(invalid(
                "fileName",
                "must not contain quotes or line breaks",
            ));
        }
        if self.content.is_empty() {
            return Err(invalid("content", "is empty"));
        }
        if self.content.len() > MAX_TAG_FILE_BYTES {
            return Err(invalid(
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
            return Err(invalid("actions", "must hold at least one action"));
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

// ---------------------------------------------------------------------------------------------
// Dimension tables
// ---------------------------------------------------------------------------------------------

/// `POST /open/dim/{dimensionId}/data`: the body is the bare array `rows`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UploadDimensionDataRequest {
    /// The dimension table's alias.
    #[serde(default)]
    pub dimension_id: String,
    /// Row objects; each must carry the table's primary key column.
    #[serde(default)]
    pub rows: Vec<Map<String, Value>>,
}

impl UploadDimensionDataRequest {
    /// A table and at least one row, numbers exact.
    pub fn validate(&self) -> Result<(), Invalid> {
        require("dimensionId", &self.dimension_id)?;
        if self.rows.is_empty() {
            return Err(invalid("rows", "must hold at least one row"));
        }
        for (i, row) in self.rows.iter().enumerate() {
            exact_numbers(&format!("rows[{i}]"), &Value::Object(row.clone()))?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Groups
// ---------------------------------------------------------------------------------------------

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
            Err(invalid("contactIds", "must hold at least one contact id"))
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

// ---------------------------------------------------------------------------------------------
// Orders
// ---------------------------------------------------------------------------------------------

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
            (Some(_), true) => Err(invalid(
                "lastMaxId",
                "cannot be combined with startTime/endTime/page",
            )),
            (None, false) => Err(invalid(
                "lastMaxId",
                "is required (or give startTime, endTime and page)",
            )),
            (Some(_), false) => Ok(()),
            (None, true) => {
                let start = self
                    .start_time
                    .as_deref()
                    .ok_or_else(|| invalid("startTime", "is required with endTime/page"))?;
                let end = self
                    .end_time
                    .as_deref()
                    .ok_or_else(|| invalid("endTime", "is required with startTime/page"))?;
                datetime("startTime", start)?;
                datetime("endTime", end)?;
                if start >= end {
                    return Err(invalid("endTime", "must be after startTime"));
                }
                match self.page {
                    Some(p) if !(1..=100).contains(&p) => {
                        Err(invalid("page", format!("is {p}, must be 1..=100")))
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

// ---------------------------------------------------------------------------------------------
// Reports, dashboards, short URLs
// ---------------------------------------------------------------------------------------------

/// `GET /open/report/{reportId}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReportRequest {
    /// The report.
    pub report_id: Id,
}

/// A report result. `status` 0 means still computing: poll again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// 0 computing, 1 done.
    #[serde(default, deserialize_with = "wire::opt_int")]
    pub status: Option<i64>,
    /// Report name.
    #[serde(default)]
    pub report_name: Option<String>,
    /// `NUMBER`, `PIE`, `LINE`, `TWO_YAXIS`… (open set).
    #[serde(default)]
    pub chart_type: Option<String>,
    /// Chart settings.
    #[serde(default)]
    pub chart: Value,
    /// Measure labels.
    #[serde(default)]
    pub measures: Vec<Value>,
    /// Dimensions.
    #[serde(default)]
    pub dimensions: Vec<Value>,
    /// The result; its shape depends on the chart type.
    #[serde(default)]
    pub result: Value,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Report {
    /// True once computed (`status` 1).
    pub fn is_done(&self) -> bool {
        self.status == Some(1)
    }
}

/// `GET /open/dashboard/{dashboardId}/summary`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DashboardRequest {
    /// The dashboard.
    pub dashboard_id: Id,
}

/// A dashboard definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Dashboard {
    /// Dashboard name.
    #[serde(default)]
    pub kan_ban_name: Option<String>,
    /// Its reports.
    #[serde(default)]
    pub reports: Vec<ReportRef>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A report listed on a dashboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportRef {
    /// Report id.
    pub id: Id,
    /// Report name.
    #[serde(default)]
    pub report_name: Option<String>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// UTM parameters of a short link.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Utm {
    /// Source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Campaign.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
    /// Medium.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub medium: Option<String>,
    /// Content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Keyword; for a distribute link, the contact id.
    #[serde(
        default,
        deserialize_with = "wire::opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub term: Option<String>,
}

/// `POST /open/shorturl` and `POST /open/shorturl/distribute`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShortUrlRequest {
    /// The long URL.
    #[serde(default)]
    pub url: String,
    /// Tracking parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm: Option<Utm>,
}

impl ShortUrlRequest {
    /// An http(s) URL.
    pub fn validate(&self) -> Result<(), Invalid> {
        require("url", &self.url)?;
        if !(self.url.starts_with("http://") || self.url.starts_with("https://")) {
            return Err(invalid("url", "must start with http:// or https://"));
        }
        Ok(())
    }

    /// Also `utm.term`, the contact id, which a distribute link requires.
    pub fn validate_distribute(&self) -> Result<(), Invalid> {
        self.validate()?;
        let term = self.utm.as_ref().and_then(|u| u.term.clone());
        require_opt("utm.term", &term)?;
        if !term.unwrap_or_default().bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid("utm.term", "must be a contact id (digits)"));
        }
        Ok(())
    }
}

/// A short link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShortUrl {
    /// The short URL.
    pub shorturl: String,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

// ---------------------------------------------------------------------------------------------
// Token and errors
// ---------------------------------------------------------------------------------------------

/// The `GET /token` answer.
#[derive(Debug, Clone, Deserialize)]
pub struct TokenAnswer {
    /// The opaque token.
    #[serde(default)]
    pub token: String,
    /// The absolute expiry (text in Beijing time, or an epoch number).
    #[serde(default)]
    pub expiration: Value,
}

/// The vendor's error body: `{"domain":"linkflow","code":"B00008","message":"…"}`.
#[derive(Debug, Clone, Deserialize)]
pub struct VendorError {
    /// `linkflow`.
    #[serde(default)]
    pub domain: Option<String>,
    /// `B00008`…
    #[serde(deserialize_with = "wire::id")]
    pub code: String,
    /// The vendor's message.
    #[serde(default)]
    pub message: String,
}
