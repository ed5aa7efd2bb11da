//! Typed, tolerant models of the pull (spec §1.3, §1.6): the request ([`PullRequest`]), the
//! answer envelope ([`parse_pull_answer`] → [`CluePage`]), one clue ([`Clue`]) and its
//! conversion to a [`Lead`], plus the enum tables scripts will see as constants.
//!
//! Tolerance rules, each from a difference between the seed and the captured real payload:
//! ids are strings or numbers, kept as exact decimal text (F-g); the phone is `telephone` or
//! `telphone` (F-f); `create_time` is a number or a string (of unix seconds); the enum fields are
//! numbers or strings; unknown fields are kept. One undecodable clue does not sink its page: it is
//! reported in [`CluePage::invalid`] with its raw JSON, so a pull can quarantine it and move on.

use chrono::{DateTime, FixedOffset};
use serde::de::Deserializer;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::clock::{beijing, parse_beijing};
use crate::connectors::{wire, Invalid, Vendor};
use crate::lead::{non_empty, Gender, Lead, LeadKind};

/// `clue_type` values: (constant name for scripts, value, the vendor's label).
pub const CLUE_TYPES: &[(&str, i64, &str)] = &[
    ("CLUE_TYPE_FORM", 0, "表单提交"),
    ("CLUE_TYPE_CONSULT", 1, "在线咨询"),
    ("CLUE_TYPE_SMART_PHONE", 2, "智能电话"),
    ("CLUE_TYPE_CALLBACK", 3, "网页回呼"),
    ("CLUE_TYPE_COUPON", 4, "卡券"),
    ("CLUE_TYPE_LOTTERY", 5, "抽奖"),
];

/// `clue_source` values: (constant name for scripts, value, the vendor's label).
pub const CLUE_SOURCES: &[(&str, i64, &str)] = &[
    ("CLUE_SOURCE_EXTERNAL", 0, "外部流量"),
    ("CLUE_SOURCE_AD", 1, "正常投放"),
    ("CLUE_SOURCE_IMPORT", 2, "外部导入"),
    ("CLUE_SOURCE_ABNORMAL", 3, "异常提交"),
    ("CLUE_SOURCE_AD_PREVIEW", 4, "广告预览"),
    ("CLUE_SOURCE_DOUYIN_MESSAGE", 5, "抖音私信"),
    ("CLUE_SOURCE_LUBAN", 6, "鲁班线索"),
];

/// `gender` values: (constant name for scripts, value, the vendor's label).
pub const GENDERS: &[(&str, i64, &str)] = &[
    ("GENDER_UNKNOWN", 0, "未知"),
    ("GENDER_MALE", 1, "男"),
    ("GENDER_FEMALE", 2, "女"),
];

/// The `convert_status` texts the seed lists (filled about 10 minutes after the clue).
pub const CONVERT_STATUSES: &[&str] = &[
    "数据获取中",
    "无",
    "合法转化",
    "不匹配转化",
    "广告预览",
    "其他不合法转化",
    "外部流量",
];

/// The largest `page_size` the vendor serves (F-i).
pub const MAX_PAGE_SIZE: u32 = 100;

/// The label of `value` in one of the tables above.
pub fn label(table: &[(&str, i64, &'static str)], value: i64) -> Option<&'static str> {
    table
        .iter()
        .find(|(_, v, _)| *v == value)
        .map(|(_, _, l)| *l)
}

/// An enum-like field sent as a number (`1`) or a string (`"1"`, or a label). Numeric strings
/// read as [`Code::Int`]; anything else is kept as text rather than failing the clue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Code {
    /// A number, or a string holding one.
    Int(i64),
    /// Any other value, as text (JSON text for non-strings).
    Text(String),
}

impl Code {
    /// The number, when it is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Code::Int(i) => Some(*i),
            Code::Text(_) => None,
        }
    }

    fn from_value(value: Value) -> Option<Code> {
        match value {
            Value::Null => None,
            Value::Number(n) => Some(match n.as_i64() {
                Some(i) => Code::Int(i),
                None => match n.as_f64() {
                    Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Code::Int(f as i64),
                    _ => Code::Text(n.to_string()),
                },
            }),
            Value::String(s) => Some(match s.trim().parse::<i64>() {
                Ok(i) => Code::Int(i),
                Err(_) => Code::Text(s),
            }),
            other => Some(Code::Text(other.to_string())),
        }
    }
}

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Code::from_value(Value::deserialize(d)?)
            .ok_or_else(|| serde::de::Error::custom("expected a number or a string, got null"))
    }
}

fn opt_code<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Code>, D::Error> {
    Ok(Code::from_value(Value::deserialize(d)?))
}

/// Text fields: a string, or a number/boolean kept as its text (QQ numbers arrive as numbers in
/// some integrations). Never fails, so one odd field cannot make a clue undecodable.
fn opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Null => None,
        Value::String(s) => Some(s),
        other => Some(other.to_string()),
    })
}

/// One clue (线索) as the pull returns it. Decoding keeps the JSON as received in [`Clue::raw`],
/// and serializing writes exactly that JSON back, so answers show the vendor's own record.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(try_from = "Value", into = "Value")]
pub struct Clue {
    /// 线索 id, exact decimal text (above 2^53 in practice).
    pub clue_id: String,
    /// 广告主 id.
    pub adv_id: Option<String>,
    /// 广告计划 id.
    pub ad_plan_id: Option<String>,
    /// 广告计划名称.
    pub ad_plan_name: Option<String>,
    /// 站点 id (`null` in the captured payload).
    pub site_id: Option<String>,
    /// 落地页 url.
    pub external_url: Option<String>,
    /// 组件类型, see [`CLUE_TYPES`].
    pub clue_type: Option<Code>,
    /// 组件名字.
    pub module_name: Option<String>,
    /// 组件 id.
    pub module_id: Option<String>,
    /// 线索创建时间: unix seconds as a number or a string.
    pub create_time: Option<Code>,
    /// 线索来源, see [`CLUE_SOURCES`].
    pub clue_source: Option<Code>,
    /// 姓名.
    pub name: Option<String>,
    /// 电话: `telephone` (seed) or `telphone` (real payload); the first non-empty one.
    pub telephone: Option<String>,
    /// 性别, see [`GENDERS`].
    pub gender: Option<Code>,
    /// 年龄, as text.
    pub age: Option<String>,
    /// 邮箱.
    pub email: Option<String>,
    /// 微信.
    pub weixin: Option<String>,
    /// QQ.
    pub qq: Option<String>,
    /// 省份.
    pub province_name: Option<String>,
    /// 城市.
    pub city_name: Option<String>,
    /// 详细地址.
    pub address: Option<String>,
    /// 用户备注留言.
    pub remark: Option<String>,
    /// 广告主自定义的其它字段信息.
    pub remark_dict: Option<Value>,
    /// 广告主表单自定义字段, passed through.
    pub form_remark: Option<String>,
    /// 流量来源 (今日头条, 抖音…), filled about 10 minutes late.
    pub appname: Option<String>,
    /// 转化状态, see [`CONVERT_STATUSES`], filled about 10 minutes late.
    pub convert_status: Option<String>,
    /// Fields outside the seed's table (`adv_name`, `store`, `location`, `req_id`, …).
    pub extra: Map<String, Value>,
    /// The clue's JSON exactly as received.
    pub raw: Value,
}

/// The wire shape behind [`Clue`]'s decoding.
#[derive(Deserialize)]
struct ClueWire {
    #[serde(deserialize_with = "wire::id")]
    clue_id: String,
    #[serde(default, deserialize_with = "wire::opt_id")]
    adv_id: Option<String>,
    #[serde(default, deserialize_with = "wire::opt_id")]
    ad_plan_id: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    ad_plan_name: Option<String>,
    #[serde(default, deserialize_with = "wire::opt_id")]
    site_id: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    external_url: Option<String>,
    #[serde(default, deserialize_with = "opt_code")]
    clue_type: Option<Code>,
    #[serde(default, deserialize_with = "opt_text")]
    module_name: Option<String>,
    #[serde(default, deserialize_with = "wire::opt_id")]
    module_id: Option<String>,
    #[serde(default, deserialize_with = "opt_code")]
    create_time: Option<Code>,
    #[serde(default, deserialize_with = "opt_code")]
    clue_source: Option<Code>,
    #[serde(default, deserialize_with = "opt_text")]
    name: Option<String>,
    // Two fields rather than a serde alias: a record carrying both spellings must not be a
    // "duplicate field" error.
    #[serde(default, deserialize_with = "opt_text")]
    telephone: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    telphone: Option<String>,
    #[serde(default, deserialize_with = "opt_code")]
    gender: Option<Code>,
    #[serde(default, deserialize_with = "opt_text")]
    age: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    email: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    weixin: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    qq: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    province_name: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    city_name: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    address: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    remark: Option<String>,
    #[serde(default)]
    remark_dict: Option<Value>,
    #[serde(default, deserialize_with = "opt_text")]
    form_remark: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    appname: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    convert_status: Option<String>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

impl TryFrom<Value> for Clue {
    type Error = serde_json::Error;

    fn try_from(raw: Value) -> Result<Self, Self::Error> {
        Clue::from_raw(raw).map_err(|(e, _)| e)
    }
}

impl Clue {
    /// Decodes a record, handing it back with the error when it is not a clue (so that a
    /// page can report it without cloning every record up front).
    pub fn from_raw(raw: Value) -> Result<Clue, (serde_json::Error, Value)> {
        let w = match ClueWire::deserialize(&raw) {
            Ok(w) => w,
            Err(e) => return Err((e, raw)),
        };
        let telephone = non_empty(w.telephone.as_deref())
            .or_else(|| non_empty(w.telphone.as_deref()))
            .or(w.telephone)
            .or(w.telphone);
        Ok(Clue {
            clue_id: w.clue_id,
            adv_id: w.adv_id,
            ad_plan_id: w.ad_plan_id,
            ad_plan_name: w.ad_plan_name,
            site_id: w.site_id,
            external_url: w.external_url,
            clue_type: w.clue_type,
            module_name: w.module_name,
            module_id: w.module_id,
            create_time: w.create_time,
            clue_source: w.clue_source,
            name: w.name,
            telephone,
            gender: w.gender,
            age: w.age,
            email: w.email,
            weixin: w.weixin,
            qq: w.qq,
            province_name: w.province_name,
            city_name: w.city_name,
            address: w.address,
            remark: w.remark,
            remark_dict: w.remark_dict,
            form_remark: w.form_remark,
            appname: w.appname,
            convert_status: w.convert_status,
            extra: w.extra,
            raw,
        })
    }
}

impl From<Clue> for Value {
    fn from(clue: Clue) -> Value {
        clue.raw
    }
}

impl Clue {
    /// When the clue was created, in Beijing time: `create_time` as unix seconds, or as
    /// `yyyy-MM-dd HH:mm:ss` local text should the vendor ever send that.
    pub fn created_at(&self) -> Option<DateTime<FixedOffset>> {
        match self.create_time.as_ref()? {
            Code::Int(secs) => {
                DateTime::from_timestamp(*secs, 0).map(|t| t.with_timezone(&beijing()))
            }
            Code::Text(text) => parse_beijing(text),
        }
    }

    /// The `clue_source` label (正常投放…), the number for an unknown value, or the text sent.
    pub fn source_label(&self) -> Option<String> {
        match self.clue_source.as_ref()? {
            Code::Int(i) => {
                Some(label(CLUE_SOURCES, *i).map_or_else(|| i.to_string(), str::to_string))
            }
            Code::Text(t) => non_empty(Some(t)),
        }
    }

    /// Province and city in full official names ([`crate::lead::area`]): `province_name`/
    /// `city_name`, each falling back to its half of the real payload's `location` ("江苏+镇江").
    pub fn place(&self) -> (Option<String>, Option<String>) {
        let location = self
            .extra
            .get("location")
            .and_then(Value::as_str)
            .unwrap_or("");
        let mut parts = location.splitn(2, '+');
        let (loc_province, loc_city) = (parts.next(), parts.next());
        crate::lead::area::normalize(
            non_empty(self.province_name.as_deref())
                .or_else(|| non_empty(loc_province))
                .as_deref(),
            non_empty(self.city_name.as_deref())
                .or_else(|| non_empty(loc_city))
                .as_deref(),
        )
    }

    /// The normalized lead, for the account it came through.
    pub fn to_lead(&self, account: &str) -> Lead {
        let mut lead = Lead::new(
            Vendor::Feiyu,
            account,
            self.clue_id.clone(),
            self.raw.clone(),
        );
        lead.name = non_empty(self.name.as_deref());
        lead.phone = non_empty(self.telephone.as_deref());
        lead.email = non_empty(self.email.as_deref());
        lead.wechat = non_empty(self.weixin.as_deref());
        lead.qq = non_empty(self.qq.as_deref());
        lead.gender = match &self.gender {
            Some(Code::Int(1)) => Gender::Male,
            Some(Code::Int(2)) => Gender::Female,
            Some(Code::Text(t)) if t.trim() == "男" => Gender::Male,
            Some(Code::Text(t)) if t.trim() == "女" => Gender::Female,
            _ => Gender::Unknown,
        };
        (lead.province, lead.city) = self.place();
        lead.address = non_empty(self.address.as_deref());
        lead.kind = self
            .clue_type
            .as_ref()
            .and_then(Code::as_int)
            .map_or(LeadKind::Other, LeadKind::from_feiyu);
        lead.source = self.source_label();
        lead.created_at = self.created_at();
        lead.remark = non_empty(self.remark.as_deref());
        lead
    }
}

fn default_page() -> u32 {
    1
}

fn default_page_size() -> u32 {
    MAX_PAGE_SIZE
}

/// The `pull_clues` request. Payload: `{"start_time": "2024-05-01", "end_time": "2024-05-31",
/// "page": 1, "page_size": 100}` (`page` and `page_size` optional).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PullRequest {
    /// Start of the window, `YYYY-MM-DD` (精确到天), inclusive. Signed and sent byte-identical.
    pub start_time: String,
    /// End of the window, same format, inclusive.
    pub end_time: String,
    /// 1-based page.
    #[serde(default = "default_page")]
    pub page: u32,
    /// Clues per page, 1..=100.
    #[serde(default = "default_page_size")]
    pub page_size: u32,
}

impl PullRequest {
    /// Page 1 of the window `start..=end` (dates, `YYYY-MM-DD`), 100 clues per page.
    pub fn days(start: chrono::NaiveDate, end: chrono::NaiveDate) -> Self {
        Self {
            start_time: start.format("%Y-%m-%d").to_string(),
            end_time: end.format("%Y-%m-%d").to_string(),
            page: 1,
            page_size: MAX_PAGE_SIZE,
        }
    }

    /// Checks what we can before sending, and names the field at fault. Window values may be
    /// any text the vendor understands (one library sends unix seconds), but never empty and
    /// never with white space or control characters, which would make the signed text
    /// ambiguous (the signature separates the timestamp with one space).
    pub fn validate(&self) -> Result<(), Invalid> {
        for (field, value) in [
            ("start_time", &self.start_time),
            ("end_time", &self.end_time),
        ] {
            if value.is_empty() {
                return Err(Invalid::new(field, "must not be empty (expected YYYY-MM-DD)"));
            }
            if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(Invalid::new(
                    field,
                    format!("{value:?} must not contain spaces or control characters (expected YYYY-MM-DD)"),
                ));
            }
        }
        if self.page == 0 {
            return Err(Invalid::new("page", "must be 1 or more"));
        }
        if !(1..=MAX_PAGE_SIZE).contains(&self.page_size) {
            return Err(Invalid::new(
                "page_size",
                format!("must be between 1 and {MAX_PAGE_SIZE}, got {}", self.page_size),
            ));
        }
        Ok(())
    }
}

/// The `clue_callback` request (spec §1.8): a conversion state written back to one clue.
/// Payload: `{"clue_id": "6831434361875726350", "clue_convert_state": 3}` — the fields of the
/// body's `data`; the client wraps them as `{"source":0,"data":{…}}`.
///
/// What the values of `clue_convert_state` mean is not in the spec (§1.8 shows only that it is an
/// integer), so any integer is sent as given; take the value from the advertiser's Feiyu account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Value")]
pub struct CallbackRequest {
    /// The clue's id, as the pull returned it (a string of digits, beyond 2^53).
    pub clue_id: String,
    /// The conversion state to record.
    pub clue_convert_state: i64,
}

impl TryFrom<Value> for CallbackRequest {
    type Error = Invalid;

    fn try_from(payload: Value) -> Result<Self, Invalid> {
        CallbackRequest::from_payload(&payload)
    }
}

/// The one value of the body's `source` on record (spec §1.8); its meaning is not documented, so
/// it is not a payload field a script could set to something the vendor never showed.
pub const CALLBACK_SOURCE: i64 = 0;

impl CallbackRequest {
    /// Reads a payload, naming the field at fault: `clue_id` (a non-empty string or an integer;
    /// sent as a string, as §1.8 shows) and `clue_convert_state` (an integer, or an integer in a
    /// string). Any other key is refused, so a typo is not silently dropped.
    pub fn from_payload(payload: &Value) -> Result<CallbackRequest, Invalid> {
        let Value::Object(map) = payload else {
            return Err(Invalid::new(
                "payload",
                format!(
                    "must be an object {{clue_id, clue_convert_state}}, got {}",
                    kind_of(payload)
                ),
            ));
        };
        if let Some(key) = map
            .keys()
            .find(|k| !matches!(k.as_str(), "clue_id" | "clue_convert_state"))
        {
            return Err(Invalid::new(
                key.as_str(),
                "unknown field (expected clue_id and clue_convert_state)",
            ));
        }
        let clue_id = match map.get("clue_id") {
            None | Some(Value::Null) => return Err(Invalid::new("clue_id", "is required")),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) if n.is_u64() || n.is_i64() => n.to_string(),
            Some(other) => {
                return Err(Invalid::new(
                    "clue_id",
                    format!("must be a string or an integer, got {}", kind_of(other)),
                ))
            }
        };
        let clue_convert_state = match map.get("clue_convert_state") {
            None | Some(Value::Null) => {
                return Err(Invalid::new("clue_convert_state", "is required"))
            }
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::String(s)) => s.trim().parse().ok(),
            Some(_) => None,
        }
        .ok_or_else(|| {
            Invalid::new(
                "clue_convert_state",
                format!("must be an integer, got {}", map["clue_convert_state"]),
            )
        })?;
        let request = CallbackRequest {
            clue_id,
            clue_convert_state,
        };
        request.validate()?;
        Ok(request)
    }

    /// Checks what we can before sending: the id is not empty and carries no white space or
    /// control characters (no clue id has them; one would be a script bug, such as a name).
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.clue_id.trim().is_empty() {
            return Err(Invalid::new("clue_id", "must not be empty"));
        }
        if self
            .clue_id
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(Invalid::new(
                "clue_id",
                format!(
                    "{:?} must not contain spaces or control characters",
                    self.clue_id
                ),
            ));
        }
        Ok(())
    }

    /// The body as §1.8 gives it: `{"source":0,"data":{"clue_id":"…","clue_convert_state":N}}`.
    pub fn body(&self) -> Value {
        serde_json::json!({
            "source": CALLBACK_SOURCE,
            "data": {"clue_id": self.clue_id, "clue_convert_state": self.clue_convert_state},
        })
    }
}

/// A successful `clue_callback` answer: its `status` (`success`) and every other field verbatim
/// (the spec documents none).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallbackAnswer {
    /// The vendor's success status as sent.
    pub status: String,
    /// The rest of the answer, as sent.
    #[serde(flatten)]
    pub rest: serde_json::Map<String, Value>,
}

/// Decodes a `clue_callback` answer body: success when `status` is `success` (§1.8; the seed's
/// `sucess` spelling is accepted as for the pull), else the vendor's failure with its `msg`.
pub fn parse_callback_answer(body: &[u8]) -> Result<CallbackAnswer, AnswerError> {
    let mut map = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => map,
        Ok(other) => {
            return Err(AnswerError::Undecodable(format!(
                "expected a JSON object, got {}",
                kind_of(&other)
            )))
        }
        Err(e) => return Err(AnswerError::Undecodable(e.to_string())),
    };
    let status = map.remove("status").unwrap_or(Value::Null);
    if !is_success_status(&status) {
        let msg = map.remove("msg").unwrap_or(Value::Null);
        return Err(vendor_error(status, msg));
    }
    Ok(CallbackAnswer {
        status: status.as_str().unwrap_or_default().to_string(),
        rest: map,
    })
}

/// A clue the page carried but that could not be decoded (e.g. without `clue_id`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvalidClue {
    /// Its position in `data`.
    pub index: usize,
    /// Why it could not be decoded.
    pub error: String,
    /// The record as received.
    pub raw: Value,
}

/// One page of the pull.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CluePage {
    /// The vendor's success status as sent (`success`, or the seed's `sucess`).
    pub status: String,
    /// Total clues in the window (all pages).
    pub count: u64,
    /// The page asked for.
    pub page: u32,
    /// The page size asked for.
    pub page_size: u32,
    /// The clues of this page, in the vendor's order.
    pub data: Vec<Clue>,
    /// Records of this page that could not be decoded; empty in the normal case.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub invalid: Vec<InvalidClue>,
}

impl CluePage {
    /// True when a later page may hold more clues: this page was not empty and
    /// `page * page_size < count`.
    pub fn has_more(&self) -> bool {
        let received = self.data.len() + self.invalid.len();
        received > 0 && u64::from(self.page) * u64::from(self.page_size) < self.count
    }
}

/// Why an answer is not a page.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnswerError {
    /// Not JSON, or not an object, or `data` is not a list.
    #[error("undecodable answer: {0}")]
    Undecodable(String),
    /// The vendor's own failure: `status` is not `success`.
    #[error("status {code}: {message}")]
    Vendor {
        /// `status` as text (`error`, `-2`, …).
        code: String,
        /// `msg` verbatim: the string, or the JSON text of an object/array.
        message: String,
    },
}

/// The envelope `{status, count, data, msg}`; every field read as a plain JSON value so that no
/// spelling of `status` can make the answer undecodable (F-d).
#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    status: Value,
    #[serde(default)]
    count: Value,
    #[serde(default)]
    data: Value,
    #[serde(default)]
    msg: Value,
}

/// True for the success statuses: `"success"`, and the seed's `"sucess"` (sic).
pub fn is_success_status(status: &Value) -> bool {
    matches!(status.as_str(), Some("success" | "sucess"))
}

/// Decodes a pull answer body for page `page` of `page_size`.
pub fn parse_pull_answer(body: &[u8], page: u32, page_size: u32) -> Result<CluePage, AnswerError> {
    let envelope: Envelope = match serde_json::from_slice::<Value>(body) {
        Ok(value @ Value::Object(_)) => {
            Envelope::deserialize(value).map_err(|e| AnswerError::Undecodable(e.to_string()))?
        }
        Ok(other) => {
            return Err(AnswerError::Undecodable(format!(
                "expected a JSON object, got {}",
                kind_of(&other)
            )))
        }
        Err(e) => return Err(AnswerError::Undecodable(e.to_string())),
    };
    if !is_success_status(&envelope.status) {
        return Err(vendor_error(envelope.status, envelope.msg));
    }
    let status = envelope.status.as_str().unwrap_or_default().to_string();
    let records = match envelope.data {
        Value::Null => Vec::new(),
        Value::Array(records) => records,
        other => {
            return Err(AnswerError::Undecodable(format!(
                "`data` should be a list, got {}",
                kind_of(&other)
            )))
        }
    };
    let mut data = Vec::with_capacity(records.len());
    let mut invalid = Vec::new();
    for (index, raw) in records.into_iter().enumerate() {
        match Clue::from_raw(raw) {
            Ok(clue) => data.push(clue),
            Err((e, raw)) => invalid.push(InvalidClue {
                index,
                error: e.to_string(),
                raw,
            }),
        }
    }
    let received = (data.len() + invalid.len()) as u64;
    let count = match &envelope.count {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    // Without a usable count, what the page holds is the best lower bound.
    .unwrap_or(u64::from(page.saturating_sub(1)) * u64::from(page_size) + received);
    Ok(CluePage {
        status,
        count,
        page,
        page_size,
        data,
        invalid,
    })
}

/// The vendor's failure from a `status` and `msg`, both kept verbatim.
pub fn vendor_error(status: Value, msg: Value) -> AnswerError {
    let code = match status {
        Value::String(s) => s,
        Value::Null => "null".to_string(),
        other => other.to_string(),
    };
    let message = match msg {
        Value::String(s) => s,
        Value::Null => format!("status {code} without msg"),
        other => other.to_string(),
    };
    AnswerError::Vendor { code, message }
}

/// The `status`/`msg` of an error body the vendor sent with a non-2xx status, when it is one.
pub fn error_body(body: &[u8]) -> Option<AnswerError> {
    let envelope: Envelope = serde_json::from_slice(body).ok()?;
    if envelope.msg.is_null() || is_success_status(&envelope.status) {
        return None;
    }
    Some(vendor_error(envelope.status, envelope.msg))
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
