//! Typed, tolerant models of leads.qq.com (spec §3.6–§3.8): the lead object (list records and
//! pushes share it), the list page, the four request bodies with their validation, and the
//! response envelope.
//!
//! Tolerance rules, because the only document is an OCR copy and the platform keeps adding
//! fields: every lead field is an optional string that also accepts a number, boolean or JSON
//! value (ids such as `campaign_id` arrive as `0`, `"0"` or `""`); `leads_id` keeps its exact
//! digits beyond 2^53; enums stay open strings; the `leads_`-prefixed spellings of X-k are
//! aliases; anything unknown lands in `extra`.

use chrono::{DateTime, FixedOffset};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};
use std::fmt;

use super::enums;
use crate::clock;
use crate::connectors::{wire, Invalid, Vendor};
use crate::lead::{non_empty, Gender, Lead, LeadKind};

/// Largest `page_size` the list API accepts.
pub const MAX_PAGE_SIZE: i64 = 200;
/// Most items one `/leads/report` call may carry (X-n).
pub const MAX_REPORT_ITEMS: usize = 50;
/// Longest nonce the platform accepts (X-d).
pub const MAX_NONCE_LEN: usize = 32;

// ---------------------------------------------------------------------------------------------
// Loose scalars
// ---------------------------------------------------------------------------------------------

struct LooseVisitor;

impl<'de> Visitor<'de> for LooseVisitor {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string, number, boolean or null")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(LooseVisitor)
    }
    // JSON-text fields (`bundle`, `custom_qa`…) sometimes arrive as real JSON; keep them as text.
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let v = Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok(Some(v.to_string()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        let v = Value::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
        Ok(Some(v.to_string()))
    }
}

/// Any JSON scalar as text; `null` as `None`.
fn loose<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    d.deserialize_any(LooseVisitor)
}

/// Like [`loose`] for a required field.
fn loose_required<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    loose(d)?.ok_or_else(|| de::Error::custom("must not be null"))
}

/// Sends a decimal id as a JSON number (X-p), anything else as a string.
fn id_as_number<S: Serializer>(id: &str, s: S) -> Result<S::Ok, S::Error> {
    match id.parse::<u64>() {
        Ok(n) if n.to_string() == id => s.serialize_u64(n),
        _ => s.serialize_str(id),
    }
}

// ---------------------------------------------------------------------------------------------
// The lead object
// ---------------------------------------------------------------------------------------------

macro_rules! lead_struct {
    ($( $(#[$meta:meta])* $name:ident ),* $(,)?) => {
        /// One lead as the platform sends it (spec §3.8), in list pages and in pushes.
        ///
        /// Every field but `leads_id` is optional text; enums are open strings. Build one with
        /// [`TencentLead::from_value`] to keep the record exactly as received in `raw`.
        #[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
        pub struct TencentLead {
            /// 线索id, exact decimal text (numbers beyond 2^53 stay exact).
            #[serde(deserialize_with = "wire::id")]
            pub leads_id: String,
            $(
                $(#[$meta])*
                #[serde(default, deserialize_with = "loose", skip_serializing_if = "Option::is_none")]
                pub $name: Option<String>,
            )*
            /// Fields this model does not know, kept verbatim.
            #[serde(flatten)]
            pub extra: Map<String, Value>,
            /// The record exactly as received (`Null` when deserialized without
            /// [`TencentLead::from_value`]); never serialized back.
            #[serde(skip)]
            pub raw: Value,
        }
    };
}

lead_struct! {
    /// 点击id.
    click_id,
    /// 广告主id.
    account_id,
    /// ACCOUNT_TYPE.
    account_type,
    /// 腾讯广告主id.
    advertiser_id,
    /// 公众号APPID.
    wechat_appid,
    /// 代理商 id.
    agency_id,
    /// 代理商名称.
    agency_name,
    /// 微信服务商 id.
    wechat_spid,
    /// 认领广告主 id.
    claim_advertiser_id,
    /// 推广计划 id.
    campaign_id,
    /// 推广计划名称.
    campaign_name,
    /// 广告组 id.
    adgroup_id,
    /// 广告组名称.
    adgroup_name,
    /// 创意 id (deprecated).
    creative_id,
    /// 创意名称 (deprecated).
    creative_name,
    /// 广告 id.
    ad_id,
    /// 广告名称.
    ad_name,
    /// MKT API creative id.
    adcreative_id,
    /// MKT API creative name.
    adcreative_name,
    /// 动态创意 id.
    dynamic_creative_id,
    /// 动态创意名称.
    dynamic_creative_name,
    /// 落地页 id.
    page_id,
    /// 落地页名称.
    page_name,
    /// 落地页 URL.
    page_url,
    /// Landing-page tools (seen in the list example only).
    page_tools,
    /// 组件 id.
    component_id,
    /// 组件名称.
    component_name,
    /// LEADS_TYPE.
    leads_type,
    /// LEADS_SUB_TYPE.
    leads_sub_type,
    /// 会话 id.
    chat_id,
    /// 线索标签, `;`-separated.
    leads_tags,
    /// LEADS_SOURCE.
    leads_source,
    /// LEADS_SUB_SOURCE.
    leads_sub_source,
    /// LEADS_COME_FROM (deprecated).
    leads_come_from,
    /// 系统评分.
    leads_potential_score,
    /// LEADS_TOUCH_TAG.
    leads_touch_tag,
    /// LEADS_FOLLOW_TAG.
    leads_follow_tag,
    /// LEADS_INTENTION_SCORE, when the record carries one.
    leads_intention_score,
    /// LEADS_CONVERT_STATUS, when the record carries one.
    leads_convert_type,
    /// 姓名.
    leads_name,
    /// 电话.
    leads_tel,
    /// 号码归属地.
    tel_location,
    /// 所在地.
    leads_area,
    /// 邮箱.
    leads_email,
    /// QQ.
    leads_qq,
    /// 微信.
    leads_wechat,
    /// GENDER_TYPE.
    leads_gender,
    /// 国籍.
    #[serde(alias = "leads_nationality")]
    nationality,
    /// 工作年限.
    #[serde(alias = "leads_working_years")]
    working_years,
    /// 年龄.
    #[serde(alias = "leads_age")]
    age,
    /// 职业.
    #[serde(alias = "leads_profession")]
    profession,
    /// 身份证号.
    #[serde(alias = "leads_id_number")]
    id_number,
    /// 详细地址.
    #[serde(alias = "leads_address")]
    address,
    /// 其他线索信息 (JSON text).
    bundle,
    /// 入库时间, `yyyy-MM-dd HH:mm:ss` Beijing time.
    leads_create_time,
    /// 提交时间, `yyyy-MM-dd HH:mm:ss` Beijing time.
    leads_action_time,
    /// 门店名称.
    shop_name,
    /// 门店地址.
    shop_address,
    /// 智能电话 middle number.
    call_middle_num,
    /// 智能电话 consumer hotline.
    call_consumer_hotline,
    /// 智能电话 touch tag.
    call_touch_tag,
    /// 智能电话 duration.
    call_duration,
    /// 智能电话 recording URL.
    call_record_url,
    /// 线索池 id.
    leads_pool_id,
    /// 意向表单内容 (JSON text).
    layer_form_content,
    /// 微信昵称.
    nick_name,
    /// 是否为多发表单.
    is_broad_cast_leads,
    /// 当前归属人.
    owner_name,
    /// 全部跟进记录.
    all_follow_records,
    /// 互动问答 (JSON text).
    custom_qa,
    /// 线索响应时长.
    leads_response_duration,
}

/// Pairs of (plain, `leads_`-prefixed) spellings that alias one field (X-k).
const ALIASED: &[(&str, &str)] = &[
    ("nationality", "leads_nationality"),
    ("working_years", "leads_working_years"),
    ("age", "leads_age"),
    ("profession", "leads_profession"),
    ("id_number", "leads_id_number"),
    ("address", "leads_address"),
];

impl TencentLead {
    /// Decodes one lead record and keeps it, as received, in `raw`. A record carrying both
    /// spellings of an aliased field (`age` and `leads_age`) keeps the plain one in the typed
    /// field and the prefixed one in `extra`, where serde alone would refuse the duplicate.
    pub fn from_value(value: Value) -> Result<Self, serde_json::Error> {
        let Value::Object(map) = &value else {
            return Err(de::Error::custom(format!(
                "a lead must be a JSON object, got {}",
                json_type(&value)
            )));
        };
        let duplicated: Vec<&str> = ALIASED
            .iter()
            .filter(|(plain, prefixed)| map.contains_key(*plain) && map.contains_key(*prefixed))
            .map(|(_, prefixed)| *prefixed)
            .collect();
        let mut lead = if duplicated.is_empty() {
            TencentLead::deserialize(&value)?
        } else {
            let mut trimmed = map.clone();
            let moved: Vec<(String, Value)> = duplicated
                .iter()
                .filter_map(|k| trimmed.remove(*k).map(|v| (k.to_string(), v)))
                .collect();
            let mut lead = TencentLead::deserialize(&Value::Object(trimmed))?;
            lead.extra.extend(moved);
            lead
        };
        // The id is the de-duplication key of the journal: a lead without one cannot be
        // accepted (found by the fuzz test `tencent_push_bodies_with_a_valid_signature…`).
        if lead.leads_id.trim().is_empty() {
            return Err(de::Error::custom("leads_id is empty"));
        }
        lead.raw = value;
        Ok(lead)
    }

    /// Decodes one lead from JSON bytes (a push body).
    pub fn from_slice(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        Self::from_value(serde_json::from_slice(bytes)?)
    }

    /// `leads_create_time` as Beijing time, when present and well formed.
    pub fn created_at(&self) -> Option<DateTime<FixedOffset>> {
        self.leads_create_time
            .as_deref()
            .and_then(clock::parse_beijing)
    }

    /// The normalized lead for `account`. Kind from `leads_type`, gender from `leads_gender`,
    /// province/city from `leads_area` then `tel_location`, in full official names, `created_at` from
    /// `leads_create_time` (Beijing), `raw` = the record as received.
    pub fn to_lead(&self, account: &str) -> Lead {
        let raw = if self.raw.is_null() {
            serde_json::to_value(self).unwrap_or(Value::Null)
        } else {
            self.raw.clone()
        };
        let mut lead = Lead::new(Vendor::Tencent, account, self.leads_id.clone(), raw);
        lead.name = non_empty(self.leads_name.as_deref());
        lead.phone = non_empty(self.leads_tel.as_deref());
        lead.email = non_empty(self.leads_email.as_deref());
        lead.wechat = non_empty(self.leads_wechat.as_deref());
        lead.qq = non_empty(self.leads_qq.as_deref());
        lead.gender = gender(self.leads_gender.as_deref());
        lead.address = non_empty(self.address.as_deref());
        lead.kind = self
            .leads_type
            .as_deref()
            .map(|t| LeadKind::from_tencent(t.trim()))
            .unwrap_or(LeadKind::Other);
        lead.source = non_empty(self.leads_source.as_deref());
        lead.created_at = self.created_at();
        let (province, city) = [&self.leads_area, &self.tel_location]
            .into_iter()
            .filter_map(|text| text.as_deref())
            .map(split_area)
            .find(|(p, _)| p.is_some())
            .unwrap_or((None, None));
        lead.province = province;
        lead.city = city;
        lead
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn gender(text: Option<&str>) -> Gender {
    match text.map(str::trim) {
        Some("GENDER_TYPE_MALE" | "男" | "MALE") => Gender::Male,
        Some("GENDER_TYPE_FEMALE" | "女" | "FEMALE") => Gender::Female,
        _ => Gender::Unknown,
    }
}

/// (province, city) from a Chinese place text (`广东省深圳市南山区`, `广东 深圳`, `广东深圳`,
/// `北京`), both normalized to full official names by [`crate::lead::area::split`].
pub fn split_area(text: &str) -> (Option<String>, Option<String>) {
    crate::lead::area::split(text)
}

// ---------------------------------------------------------------------------------------------
// Envelope and list page
// ---------------------------------------------------------------------------------------------

/// The envelope of every answer (spec §3.6): HTTP 200 with a `code`.
#[derive(Debug, Clone, Deserialize)]
pub struct Envelope {
    /// 0 = success.
    #[serde(deserialize_with = "wire::int")]
    pub code: i64,
    /// The platform's message.
    #[serde(default, deserialize_with = "loose")]
    pub message: Option<String>,
    /// The payload, when any.
    #[serde(default)]
    pub data: Value,
}

/// The answer of an op whose payload is only an acknowledgement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ack {
    /// The platform's message (`success`, often empty).
    pub message: String,
    /// Whatever the platform put in `data` (`[{}]` in the examples).
    pub data: Value,
}

/// `page_info` of a list page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PageInfo {
    /// This page, from 1.
    #[serde(default, deserialize_with = "wire::int")]
    pub page: i64,
    /// Items per page.
    #[serde(default, deserialize_with = "wire::int")]
    pub page_size: i64,
    /// Items in the whole window.
    #[serde(default, deserialize_with = "wire::int")]
    pub total_number: i64,
    /// Pages in the whole window.
    #[serde(default, deserialize_with = "wire::int")]
    pub total_page: i64,
}

/// `data` of `GET /leads/list`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListLeadsPage {
    /// Paging.
    #[serde(default)]
    pub page_info: PageInfo,
    /// The leads, newest `leads_create_time` first.
    #[serde(default, deserialize_with = "lead_list")]
    pub list: Vec<TencentLead>,
}

fn lead_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<TencentLead>, D::Error> {
    Option::<Vec<Value>>::deserialize(d)?
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            TencentLead::from_value(v).map_err(|e| de::Error::custom(format!("list[{i}]: {e}")))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

fn default_page() -> i64 {
    1
}
fn default_page_size() -> i64 {
    10
}

/// How `start_time`/`end_time` are written (X-e): dates as in the seed, or unix seconds as one
/// working poller does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeFormat {
    /// `YYYY-MM-DD` (Beijing date), the seed's example.
    #[default]
    Date,
    /// Unix seconds.
    UnixSeconds,
}

/// Query of `GET /leads/list` (spec §3.7 2.2.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListLeadsRequest {
    /// Window start: `YYYY-MM-DD` or unix seconds (X-e).
    #[serde(deserialize_with = "loose_required")]
    pub start_time: String,
    /// Window end: `YYYY-MM-DD` or unix seconds.
    #[serde(deserialize_with = "loose_required")]
    pub end_time: String,
    /// 0 = 提交时间 (action time), 1 = 入库时间 (creation time).
    #[serde(
        default,
        deserialize_with = "wire::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub time_type: Option<i64>,
    /// Page, from 1 (default 1).
    #[serde(default = "default_page", deserialize_with = "wire::int")]
    pub page: i64,
    /// Items per page, 1..=200 (default 10).
    #[serde(default = "default_page_size", deserialize_with = "wire::int")]
    pub page_size: i64,
    /// Deep paging: the last `leads_id` of the previous page.
    #[serde(
        default,
        deserialize_with = "wire::opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub search_after_leads_id: Option<String>,
    /// Sent as a harmless extra query parameter when set (the UI shows it in the URL).
    #[serde(
        default,
        deserialize_with = "wire::opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub account_id: Option<String>,
}

impl ListLeadsRequest {
    /// A first-page request for `[start, end]` written in `format`, `page_size` 200.
    pub fn window(
        start: DateTime<FixedOffset>,
        end: DateTime<FixedOffset>,
        format: TimeFormat,
    ) -> Self {
        let fmt = |t: DateTime<FixedOffset>| match format {
            TimeFormat::Date => t
                .with_timezone(&clock::beijing())
                .format("%Y-%m-%d")
                .to_string(),
            TimeFormat::UnixSeconds => t.timestamp().to_string(),
        };
        Self {
            start_time: fmt(start),
            end_time: fmt(end),
            time_type: None,
            page: 1,
            page_size: MAX_PAGE_SIZE,
            search_after_leads_id: None,
            account_id: None,
        }
    }

    /// Checks what the platform would refuse.
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.start_time.trim().is_empty() {
            return Err(Invalid::new("start_time", "is required"));
        }
        if self.end_time.trim().is_empty() {
            return Err(Invalid::new("end_time", "is required"));
        }
        if let Some(t) = self.time_type {
            if !(0..=1).contains(&t) {
                return Err(Invalid::new(
                    "time_type",
                    format!("must be 0 or 1, got {t}"),
                ));
            }
        }
        if self.page < 1 {
            return Err(Invalid::new(
                "page",
                format!("must be ≥ 1, got {}", self.page),
            ));
        }
        if !(1..=MAX_PAGE_SIZE).contains(&self.page_size) {
            return Err(Invalid::new(
                "page_size",
                format!("must be 1..={MAX_PAGE_SIZE}, got {}", self.page_size),
            ));
        }
        Ok(())
    }

    /// The query string, without the leading `?`.
    pub fn query(&self) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("start_time", &self.start_time);
        q.append_pair("end_time", &self.end_time);
        if let Some(t) = self.time_type {
            q.append_pair("time_type", &t.to_string());
        }
        q.append_pair("page", &self.page.to_string());
        q.append_pair("page_size", &self.page_size.to_string());
        if let Some(id) = &self.search_after_leads_id {
            q.append_pair("search_after_leads_id", id);
        }
        if let Some(id) = &self.account_id {
            q.append_pair("account_id", id);
        }
        q.finish()
    }
}

/// One item of `POST /leads/report` (spec §3.7 2.2.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportItem {
    /// The lead; sent as a JSON number (X-p) when it is a decimal id.
    #[serde(deserialize_with = "wire::id", serialize_with = "id_as_number")]
    pub leads_id: String,
    /// LEADS_CONVERT_STATUS.
    #[serde(
        default,
        deserialize_with = "loose",
        skip_serializing_if = "Option::is_none"
    )]
    pub leads_convert_type: Option<String>,
    /// LEADS_INEFFECT_REASON; required with `LEADS_CONVERT_STATUS_DEPRECATED`.
    #[serde(
        default,
        deserialize_with = "loose",
        skip_serializing_if = "Option::is_none"
    )]
    pub leads_ineffect_reason: Option<String>,
    /// LEADS_INTENTION_SCORE_LEVEL_1..6.
    #[serde(
        default,
        deserialize_with = "loose",
        skip_serializing_if = "Option::is_none"
    )]
    pub leads_intention_score: Option<String>,
    /// Free-text external status (camelCase on the wire).
    #[serde(
        rename = "outerLeadsConvertType",
        alias = "outer_leads_convert_type",
        default,
        deserialize_with = "loose",
        skip_serializing_if = "Option::is_none"
    )]
    pub outer_leads_convert_type: Option<String>,
    /// Free-text external invalid reason (camelCase on the wire).
    #[serde(
        rename = "outerLeadsIneffectReason",
        alias = "outer_leads_ineffect_reason",
        default,
        deserialize_with = "loose",
        skip_serializing_if = "Option::is_none"
    )]
    pub outer_leads_ineffect_reason: Option<String>,
}

fn given(v: &Option<String>) -> bool {
    v.as_deref().is_some_and(|s| !s.trim().is_empty())
}

impl ReportItem {
    /// Checks one item; `at` is its index, for the field name.
    pub fn validate(&self, at: usize) -> Result<(), Invalid> {
        let field = |name: &str| format!("list[{at}].{name}");
        if self.leads_id.trim().is_empty() {
            return Err(Invalid::new(field("leads_id"), "is required"));
        }
        if !(given(&self.leads_convert_type)
            || given(&self.leads_intention_score)
            || given(&self.outer_leads_convert_type))
        {
            return Err(Invalid::new(
                field("leads_convert_type"),
                "one of leads_convert_type, leads_intention_score, outerLeadsConvertType is required",
            ));
        }
        if self.leads_convert_type.as_deref().map(str::trim)
            == Some(enums::CONVERT_STATUS_DEPRECATED)
            && !given(&self.leads_ineffect_reason)
        {
            return Err(Invalid::new(
                field("leads_ineffect_reason"),
                "is required when leads_convert_type is LEADS_CONVERT_STATUS_DEPRECATED",
            ));
        }
        Ok(())
    }
}

/// Body of `POST /leads/report`: `{"list": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportRequest {
    /// 1..=50 items.
    pub list: Vec<ReportItem>,
}

impl ReportRequest {
    /// Checks the list size and every item.
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.list.is_empty() {
            return Err(Invalid::new("list", "must hold at least one item"));
        }
        if self.list.len() > MAX_REPORT_ITEMS {
            return Err(Invalid::new(
                "list",
                format!(
                    "holds {} items, at most {MAX_REPORT_ITEMS} per call",
                    self.list.len()
                ),
            ));
        }
        self.list
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| item.validate(i))
    }
}

/// Body of `POST /leads/set_leads_status_system` (spec §3.7 2.2.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetLeadsStatusSystemRequest {
    /// Advertiser id.
    #[serde(deserialize_with = "wire::int")]
    pub account_id: i64,
    /// 1 = standard, 2 = industry (X-o).
    #[serde(alias = "option", deserialize_with = "wire::int")]
    pub leads_status_system_option: i64,
}

impl SetLeadsStatusSystemRequest {
    /// Checks the account id and the option.
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.account_id <= 0 {
            return Err(Invalid::new(
                "account_id",
                "must be a positive advertiser id",
            ));
        }
        if !enums::LEADS_STATUS_SYSTEM_OPTION.contains(&self.leads_status_system_option) {
            return Err(Invalid::new(
                "leads_status_system_option",
                format!(
                    "must be 1 (standard) or 2 (industry), got {}",
                    self.leads_status_system_option
                ),
            ));
        }
        Ok(())
    }
}

/// Body of `POST /leads/report_personal_wechat` (spec §3.7 2.2.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportPersonalWechatRequest {
    /// Unique key, e.g. `account_id_app_id_open_id`.
    #[serde(default, deserialize_with = "loose")]
    pub uuid: Option<String>,
    /// Advertiser id.
    #[serde(default, deserialize_with = "wire::opt_int")]
    pub account_id: Option<i64>,
    /// WeChat AppId.
    #[serde(default, deserialize_with = "loose")]
    pub app_id: Option<String>,
    /// User openId.
    #[serde(default, deserialize_with = "loose")]
    pub open_id: Option<String>,
    /// Avatar URL.
    #[serde(default, deserialize_with = "loose")]
    pub avatar_url: Option<String>,
    /// Nickname.
    #[serde(default, deserialize_with = "loose")]
    pub nickname: Option<String>,
    /// Click id.
    #[serde(default, deserialize_with = "loose")]
    pub click_id: Option<String>,
    /// `yyyy-mm-dd HH:MM:SS`.
    #[serde(default, deserialize_with = "loose")]
    pub action_time: Option<String>,
    /// 1 = QQ号, …
    #[serde(
        default,
        deserialize_with = "wire::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub login_name_type: Option<i64>,
    /// Login name.
    #[serde(
        default,
        deserialize_with = "loose",
        skip_serializing_if = "Option::is_none"
    )]
    pub login_name: Option<String>,
    /// Landing-page id.
    #[serde(
        default,
        deserialize_with = "loose",
        skip_serializing_if = "Option::is_none"
    )]
    pub page_id: Option<String>,
    /// Landing-page name.
    #[serde(
        default,
        deserialize_with = "loose",
        skip_serializing_if = "Option::is_none"
    )]
    pub page_name: Option<String>,
}

impl ReportPersonalWechatRequest {
    /// Checks every required field and the `action_time` format.
    pub fn validate(&self) -> Result<(), Invalid> {
        let required = [
            ("uuid", &self.uuid),
            ("app_id", &self.app_id),
            ("open_id", &self.open_id),
            ("avatar_url", &self.avatar_url),
            ("nickname", &self.nickname),
            ("click_id", &self.click_id),
            ("action_time", &self.action_time),
        ];
        if let Some((name, _)) = required.iter().find(|(_, v)| !given(v)) {
            return Err(Invalid::new(*name, "is required"));
        }
        match self.account_id {
            None => return Err(Invalid::new("account_id", "is required")),
            Some(id) if id <= 0 => {
                return Err(Invalid::new(
                    "account_id",
                    "must be a positive advertiser id",
                ))
            }
            _ => {}
        }
        let at = self.action_time.as_deref().unwrap_or_default();
        if chrono::NaiveDateTime::parse_from_str(at.trim(), "%Y-%m-%d %H:%M:%S").is_err() {
            return Err(Invalid::new(
                "action_time",
                format!("must be yyyy-mm-dd HH:MM:SS, got {at:?}"),
            ));
        }
        Ok(())
    }
}
