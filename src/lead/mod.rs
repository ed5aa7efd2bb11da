//! The normalized [`Lead`]: one shape for a Tencent lead, a Feiyu clue or a Waiqin record, plus the
//! vendor's own record in `raw`. Owns the kind vocabulary ([`LeadKind`]) and nothing vendor-specific:
//! conversions live in each vendor's `model.rs`.
//!
//! ## Kind mapping
//!
//! | kind | Tencent `leads_type` | Feiyu `clue_type` |
//! |---|---|---|
//! | `form` | `LEADS_TYPE_FORM` | 0 表单提交 |
//! | `consult` | `LEADS_TYPE_ONLINE_CONSULT`, `LEADS_TYPE_INTELLIGENT_TOOL` | 1 在线咨询 |
//! | `phone` | `LEADS_TYPE_MAKE_PHONE_CALL`, `LEADS_TYPE_PHONE` | 2 智能电话 |
//! | `callback` | — | 3 网页回呼 |
//! | `coupon` | `LEADS_TYPE_PROMOTION_COUPON` | 4 卡券 |
//! | `lottery` | `LEADS_TYPE_LOTTERY` | 5 抽奖 |
//! | `click` | `LEADS_TYPE_LANDING_PAGE_CLICK` | — |
//! | `authorize` | `LEADS_TYPE_ONE_CLICK_AUTHORIZE`, `LEADS_TYPE_APPLY_WECHAT_AUTH` | — |
//! | `wechat` | `LEADS_TYPE_PAGE_SCAN_CODE`, `LEADS_TYPE_PROMOTION_FOLLOW` | — |
//! | `other` | any other value, or none | any other value, or none |
//!
//! Waiqin records carry no kind and read as `other`. The vendor's own value always stays in `raw`.

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub mod area;
mod vendor;
pub(crate) use vendor::for_each_vendor;
pub use vendor::Vendor;

pub mod rhai;

/// What the person did to become a lead, in one vocabulary across vendors (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LeadKind {
    /// Filled in a form.
    Form,
    /// Started an online (or intelligent-tool) consultation.
    Consult,
    /// Called, directly or through a smart phone number.
    Phone,
    /// Asked for a call back from a web page.
    Callback,
    /// Claimed a coupon.
    Coupon,
    /// Took part in a lottery.
    Lottery,
    /// Clicked through a landing page.
    Click,
    /// Authorized their details with one click.
    Authorize,
    /// Followed or added a WeChat / WeCom account.
    Wechat,
    /// Anything else, or not stated.
    #[default]
    Other,
}

impl LeadKind {
    /// Every kind.
    pub const ALL: [LeadKind; 10] = [
        LeadKind::Form,
        LeadKind::Consult,
        LeadKind::Phone,
        LeadKind::Callback,
        LeadKind::Coupon,
        LeadKind::Lottery,
        LeadKind::Click,
        LeadKind::Authorize,
        LeadKind::Wechat,
        LeadKind::Other,
    ];

    /// The lowercase name used in scripts and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            LeadKind::Form => "form",
            LeadKind::Consult => "consult",
            LeadKind::Phone => "phone",
            LeadKind::Callback => "callback",
            LeadKind::Coupon => "coupon",
            LeadKind::Lottery => "lottery",
            LeadKind::Click => "click",
            LeadKind::Authorize => "authorize",
            LeadKind::Wechat => "wechat",
            LeadKind::Other => "other",
        }
    }

    /// The kind of a Tencent `leads_type` value.
    pub fn from_tencent(leads_type: &str) -> Self {
        match leads_type {
            "LEADS_TYPE_FORM" => LeadKind::Form,
            "LEADS_TYPE_ONLINE_CONSULT" | "LEADS_TYPE_INTELLIGENT_TOOL" => LeadKind::Consult,
            "LEADS_TYPE_MAKE_PHONE_CALL" | "LEADS_TYPE_PHONE" => LeadKind::Phone,
            "LEADS_TYPE_PROMOTION_COUPON" => LeadKind::Coupon,
            "LEADS_TYPE_LOTTERY" => LeadKind::Lottery,
            "LEADS_TYPE_LANDING_PAGE_CLICK" => LeadKind::Click,
            "LEADS_TYPE_ONE_CLICK_AUTHORIZE" | "LEADS_TYPE_APPLY_WECHAT_AUTH" => {
                LeadKind::Authorize
            }
            "LEADS_TYPE_PAGE_SCAN_CODE" | "LEADS_TYPE_PROMOTION_FOLLOW" => LeadKind::Wechat,
            _ => LeadKind::Other,
        }
    }

    /// The kind of a Feiyu `clue_type` value (0–5).
    pub fn from_feiyu(clue_type: i64) -> Self {
        match clue_type {
            0 => LeadKind::Form,
            1 => LeadKind::Consult,
            2 => LeadKind::Phone,
            3 => LeadKind::Callback,
            4 => LeadKind::Coupon,
            5 => LeadKind::Lottery,
            _ => LeadKind::Other,
        }
    }
}

impl std::fmt::Display for LeadKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A person's gender as the vendors state it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Gender {
    /// 男.
    Male,
    /// 女.
    Female,
    /// 未知 or not stated.
    #[default]
    Unknown,
}

impl Gender {
    /// The lowercase name used in scripts.
    pub fn as_str(self) -> &'static str {
        match self {
            Gender::Male => "male",
            Gender::Female => "female",
            Gender::Unknown => "unknown",
        }
    }

    /// The Chinese label Xiaolanben and Waiqin expect (男/女/未知).
    pub fn label_zh(self) -> &'static str {
        match self {
            Gender::Male => "男",
            Gender::Female => "女",
            Gender::Unknown => "未知",
        }
    }
}

/// One lead, normalized. Empty vendor values are `None`, never `Some("")`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lead {
    /// Where it came from.
    pub vendor: Vendor,
    /// The configured account it came through.
    pub account: String,
    /// The vendor's id for it (`leads_id`, `clue_id`, Waiqin `id`), exact decimal text.
    pub id: String,
    /// The person's name.
    pub name: Option<String>,
    /// Phone number as the vendor sent it.
    pub phone: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// WeChat id.
    pub wechat: Option<String>,
    /// QQ number.
    pub qq: Option<String>,
    /// Gender.
    pub gender: Gender,
    /// Province.
    pub province: Option<String>,
    /// City.
    pub city: Option<String>,
    /// Street address.
    pub address: Option<String>,
    /// What the person did (see the module doc for the mapping).
    pub kind: LeadKind,
    /// The vendor's traffic source (Tencent `leads_source`, Feiyu `clue_source`, Waiqin `source_type_name`).
    pub source: Option<String>,
    /// When the vendor recorded it.
    pub created_at: Option<DateTime<FixedOffset>>,
    /// Free-text remark.
    pub remark: Option<String>,
    /// The vendor's own record, every field kept.
    pub raw: Value,
    /// Set (unix milliseconds) once the journal replaced this lead's personal data with its
    /// redacted form (`store::retention`): name, phone, contacts, address, remark and `raw`
    /// are gone; ids, vendor, account, kind, city, source and times are kept. Absent until
    /// then, so lead bodies written before retention existed read unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redacted_ms: Option<i64>,
}

impl Lead {
    /// An empty lead with only its identity set; conversions fill the rest.
    pub fn new(
        vendor: Vendor,
        account: impl Into<String>,
        id: impl Into<String>,
        raw: Value,
    ) -> Self {
        Lead {
            vendor,
            account: account.into(),
            id: id.into(),
            name: None,
            phone: None,
            email: None,
            wechat: None,
            qq: None,
            gender: Gender::Unknown,
            province: None,
            city: None,
            address: None,
            kind: LeadKind::Other,
            source: None,
            created_at: None,
            remark: None,
            raw,
            redacted_ms: None,
        }
    }

    /// The redacted form of this lead, as of `now_ms`: what retention and `leads forget` keep.
    /// Only what statistics and `leads show` need stays — ids, vendor, account, kind, city,
    /// the traffic source and the vendor's time; every field that identifies or reaches the
    /// person, and the vendor's raw record (which repeats them), is dropped.
    pub fn redacted(&self, now_ms: i64) -> Lead {
        let mut out = Lead::new(
            self.vendor,
            self.account.clone(),
            self.id.clone(),
            Value::Null,
        );
        out.kind = self.kind;
        out.city = self.city.clone();
        out.source = self.source.clone();
        out.created_at = self.created_at;
        out.redacted_ms = Some(self.redacted_ms.unwrap_or(now_ms));
        out
    }

    /// Every personal value this lead holds as text (name, phone, contacts, address, remark),
    /// for scrubbing copies of them out of run errors and call messages when it is redacted.
    pub fn personal_values(&self) -> Vec<String> {
        let mut out: Vec<String> = [
            &self.name,
            &self.phone,
            &self.email,
            &self.wechat,
            &self.qq,
            &self.address,
            &self.remark,
        ]
        .into_iter()
        .flatten()
        .filter(|v| v.chars().count() >= 2)
        .cloned()
        .collect();
        if let Some(phone) = self.phone.as_deref().and_then(normalize_phone) {
            out.push(phone);
        }
        out
    }
}

/// Normalizes a phone number the way the stdlib's `phone::normalize` does (keep the two in
/// step): full-width digits become ASCII, everything but digits goes, and a `+86`, `0086` or
/// `86` (before 11 digits) prefix is dropped. `None` when no digit is left. The journal matches
/// `leads forget --phone` on this form, so `+86 138-1234-5678` finds `13812345678`.
pub fn normalize_phone(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '0'..='9' => out.push(c),
            '\u{FF10}'..='\u{FF19}' => {
                out.push(char::from(b'0' + (c as u32 - 0xFF10) as u8));
            }
            '+' | '\u{FF0B}' if out.is_empty() => out.push('+'),
            _ => {}
        }
    }
    let digits = if let Some(rest) = out.strip_prefix("+86") {
        rest.to_string()
    } else if let Some(rest) = out.strip_prefix("0086") {
        rest.to_string()
    } else if out.len() == 13 && out.starts_with("86") {
        out[2..].to_string()
    } else {
        out.trim_start_matches('+').to_string()
    };
    (!digits.is_empty()).then_some(digits)
}

/// True when `text` normalizes to a mainland mobile number (11 digits starting with 1).
pub fn is_mobile(text: &str) -> bool {
    normalize_phone(text).is_some_and(|p| p.len() == 11 && p.starts_with('1'))
}

impl Lead {
    /// The normalized fields and `raw` as one JSON object (what scripts see as `lead.to_map()`).
    pub fn to_json(&self) -> Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map,
            _ => unreachable!("Lead always serializes to an object"),
        }
    }
}

/// `Some(text)` when `text` has anything but white space, trimmed. Conversions use it so that
/// vendors' empty strings become `None`.
pub fn non_empty(text: Option<&str>) -> Option<String> {
    text.map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_its_name() {
        for kind in LeadKind::ALL {
            let json = serde_json::to_value(kind).unwrap();
            assert_eq!(json, Value::String(kind.as_str().into()));
            assert_eq!(serde_json::from_value::<LeadKind>(json).unwrap(), kind);
        }
    }

    #[test]
    fn vendor_kinds_map_onto_one_vocabulary() {
        assert_eq!(LeadKind::from_tencent("LEADS_TYPE_FORM"), LeadKind::Form);
        assert_eq!(LeadKind::from_tencent("LEADS_TYPE_PHONE"), LeadKind::Phone);
        assert_eq!(
            LeadKind::from_tencent("LEADS_TYPE_SOMETHING_NEW"),
            LeadKind::Other
        );
        assert_eq!(LeadKind::from_feiyu(0), LeadKind::Form);
        assert_eq!(LeadKind::from_feiyu(3), LeadKind::Callback);
        assert_eq!(LeadKind::from_feiyu(9), LeadKind::Other);
    }

    #[test]
    fn phones_normalize_like_the_stdlib() {
        assert_eq!(
            normalize_phone("+86 138-1234-5678").as_deref(),
            Some("13812345678")
        );
        assert_eq!(
            normalize_phone("８６１３８１２３４５６７８").as_deref(),
            Some("13812345678")
        );
        assert_eq!(
            normalize_phone("0086 13812345678").as_deref(),
            Some("13812345678")
        );
        assert_eq!(
            normalize_phone("(020) 8888-1234").as_deref(),
            Some("02088881234")
        );
        assert_eq!(normalize_phone("n/a"), None);
        assert!(is_mobile("138 1234 5678"));
        assert!(!is_mobile("02088881234"));
    }

    #[test]
    fn redaction_keeps_identity_and_drops_the_person() {
        let mut lead = Lead::new(Vendor::Tencent, "tx", "42", serde_json::json!({"tel": "1"}));
        lead.name = Some("张三".into());
        lead.phone = Some("13812345678".into());
        lead.city = Some("广州".into());
        lead.kind = LeadKind::Form;
        let red = lead.redacted(7);
        assert_eq!(
            (red.id.as_str(), red.kind, red.city.as_deref()),
            ("42", LeadKind::Form, Some("广州"))
        );
        assert_eq!(
            (red.name, red.phone, red.raw, red.redacted_ms),
            (None, None, Value::Null, Some(7))
        );
        assert!(lead.personal_values().contains(&"13812345678".to_string()));
    }

    #[test]
    fn empty_strings_become_none() {
        assert_eq!(non_empty(Some("  ")), None);
        assert_eq!(non_empty(Some(" 张三 ")), Some("张三".into()));
    }
}
