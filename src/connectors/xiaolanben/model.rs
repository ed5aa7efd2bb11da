//! Typed Xiaolanben requests and answers (spec §4.5), with the validation the guide documents.
//!
//! Field names are the vendor's own (camelCase), so an op payload is what the guide shows.
//! Custom fields are literal dotted keys (`"customizeField.text_13": "…"`, spec L-e), kept in a
//! flattened map; any other unknown key in a customer or contact is rejected before sending,
//! because the CRM would silently ignore a misspelt field.
//!
//! Answers are tolerant: ids may be numbers or strings (spec L-h), unknown fields are kept in
//! `extra`, and an added `data` wrapper is unwrapped (spec L-f).

use std::collections::{BTreeMap, HashMap};

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::connectors::{wire, Invalid};
use crate::lead::{Gender, Lead};

/// Prefix of custom-field keys in customers and contacts.
pub const CUSTOMIZE_FIELD_PREFIX: &str = "customizeField.";
/// Most customers per batch import we send (see [`ImportCustomersRequest`]).
pub const MAX_BATCH_CUSTOMERS: usize = 10;
/// Most contacts per customer in a batch import we send.
pub const MAX_BATCH_CONTACTS: usize = 10;
/// Largest page the staff list serves.
pub const MAX_PAGE_SIZE: u32 = 100;
/// Smallest page the staff list serves.
pub const MIN_PAGE_SIZE: u32 = 2;

/// The `duplicateControl` query option: how the CRM handles duplicates on import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DuplicateControl {
    /// The company's configured rules; a hit fails the import.
    #[serde(rename = "SYSTEM")]
    System,
    /// Fail when the customer's owner and the phone's owner differ.
    #[serde(rename = "CUSTOMER_PHONE_DUPLICATE_FAIL")]
    CustomerPhoneDuplicateFail,
    /// Drop the conflicting phone's contact instead of failing.
    #[serde(rename = "CUSTOMER_PHONE_DUPLICATE_IGNORE")]
    CustomerPhoneDuplicateIgnore,
}

impl DuplicateControl {
    /// Every value.
    pub const ALL: [DuplicateControl; 3] = [
        DuplicateControl::System,
        DuplicateControl::CustomerPhoneDuplicateFail,
        DuplicateControl::CustomerPhoneDuplicateIgnore,
    ];

    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            DuplicateControl::System => "SYSTEM",
            DuplicateControl::CustomerPhoneDuplicateFail => "CUSTOMER_PHONE_DUPLICATE_FAIL",
            DuplicateControl::CustomerPhoneDuplicateIgnore => "CUSTOMER_PHONE_DUPLICATE_IGNORE",
        }
    }

    /// Parses a wire value.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == text)
    }
}

/// The import endpoints' query options. Absent options are not sent, so the CRM's defaults
/// apply (`checkKeepLimit` true, the others false, duplicate control by CRM config).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImportOptions {
    /// Check the owner's customer quota when `staffId` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_keep_limit: Option<bool>,
    /// Update a customer owned by someone else (the owner stays).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_conflict_update: Option<bool>,
    /// Unlock the matched company automatically.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_unlock: Option<bool>,
    /// Claim an existing public-sea customer for `staffId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_draw: Option<bool>,
    /// Duplicate handling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate_control: Option<DuplicateControl>,
}

impl ImportOptions {
    /// The options as query parameters (booleans as `true`/`false`, spec §4.3 edge case 6).
    pub fn to_params(&self) -> Vec<(String, Vec<String>)> {
        let bools = [
            ("checkKeepLimit", self.check_keep_limit),
            ("ownerConflictUpdate", self.owner_conflict_update),
            ("autoUnlock", self.auto_unlock),
            ("autoDraw", self.auto_draw),
        ];
        let mut out: Vec<(String, Vec<String>)> = bools
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k.to_string(), vec![v.to_string()])))
            .collect();
        if let Some(d) = self.duplicate_control {
            out.push(("duplicateControl".into(), vec![d.as_str().into()]));
        }
        out
    }
}

/// One contact of a customer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    /// Our id for this contact (required); the answer maps it to the CRM's contact id. A
    /// number is accepted and sent as its decimal text.
    #[serde(default, deserialize_with = "text_or_number")]
    pub third_data_id: String,
    /// Name, ≤ 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Job title, ≤ 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<String>,
    /// Department, ≤ 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dept: Option<String>,
    /// Mobile, ≤ 30. The CRM assigns new customers to the phone's owner, if any.
    #[serde(
        default,
        deserialize_with = "wire::opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub phone: Option<String>,
    /// Landline, ≤ 30.
    #[serde(
        default,
        deserialize_with = "wire::opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub tel: Option<String>,
    /// Email, ≤ 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Address, ≤ 200.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addr: Option<String>,
    /// Avatar URL, ≤ 400.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo: Option<String>,
    /// WeChat id, ≤ 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wechat: Option<String>,
    /// QQ, ≤ 30.
    #[serde(
        default,
        deserialize_with = "wire::opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub qq: Option<String>,
    /// 男, 女 or 未知.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
    /// `yyyy-MM-dd`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birthday: Option<String>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remark: Option<String>,
    /// `customizeField.<id>` keys, sent as literal dotted keys.
    #[serde(flatten)]
    pub customize_fields: Map<String, Value>,
}

/// One customer with its contacts: the body of the single import, an element of the batch.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Customer {
    /// Company name, 0–200: the customer's identity in the CRM (upsert key); when absent the
    /// CRM uses `customerName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ent_name: Option<String>,
    /// Customer name, required, 1–200.
    #[serde(default)]
    pub customer_name: String,
    /// Owner for a new customer (a Long; sent as a JSON number, a numeric string is accepted).
    #[serde(
        default,
        deserialize_with = "wire::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub staff_id: Option<i64>,
    /// Source, for a new customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_source: Option<String>,
    /// Public sea, for a new customer.
    #[serde(
        default,
        deserialize_with = "wire::opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub public_sea_id: Option<String>,
    /// Group; created when missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Custom tag ids (numbers accepted, sent as strings).
    #[serde(
        default,
        deserialize_with = "opt_text_list",
        skip_serializing_if = "Option::is_none"
    )]
    pub tag_ids: Option<Vec<String>>,
    /// Contacts; on update the CRM matches them by phone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contacts: Vec<Contact>,
    /// `customizeField.<id>` keys, sent as literal dotted keys.
    #[serde(flatten)]
    pub customize_fields: Map<String, Value>,
}

/// Payload of `import_customer`: the customer's fields at the top level, plus an optional
/// `options` object with the query options, e.g.
/// `{"customerName": "…", "contacts": [{"thirdDataId": "u1"}], "options": {"autoDraw": true}}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImportCustomerRequest {
    /// The customer (the request body).
    #[serde(flatten, deserialize_with = "wire::flat")]
    pub customer: Customer,
    /// The query options.
    #[serde(default)]
    pub options: ImportOptions,
}

/// Payload of `import_customers`: `{"customers": [...], "options": {...}}`.
///
/// The guide only *recommends* ≤ 10 customers × ≤ 10 contacts per call; we enforce it as a hard
/// cap (rejected before sending, with a message saying to split the batch), because the answer
/// time grows with the batch and a slow answer is what turns into a retried, in-doubt import.
/// Customer names must be distinct: the answer is keyed by customer name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportCustomersRequest {
    /// The customers (the request body is this JSON array).
    pub customers: Vec<Customer>,
    /// The query options.
    #[serde(default)]
    pub options: ImportOptions,
}

/// Payload of `list_staffs`. `pageIndex` defaults to 1 and `pageSize` to 100.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListStaffsRequest {
    /// Page number from 1.
    #[serde(default = "first_page")]
    pub page_index: u32,
    /// 2–100.
    #[serde(default = "max_page")]
    pub page_size: u32,
    /// Name contains, or exact mobile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<String>,
}

impl Default for ListStaffsRequest {
    fn default() -> Self {
        Self {
            page_index: 1,
            page_size: MAX_PAGE_SIZE,
            search: None,
        }
    }
}

impl ListStaffsRequest {
    /// The query parameters (an empty `search` is left out, spec L-a).
    pub fn to_params(&self) -> Vec<(String, Vec<String>)> {
        let mut out = vec![
            ("pageIndex".to_string(), vec![self.page_index.to_string()]),
            ("pageSize".to_string(), vec![self.page_size.to_string()]),
        ];
        if let Some(search) = self.search.as_ref().filter(|s| !s.is_empty()) {
            out.push(("search".into(), vec![search.clone()]));
        }
        out
    }

    /// Checks the documented ranges.
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.page_index < 1 {
            return Err(Invalid::new("pageIndex", "must be 1 or more"));
        }
        if !(MIN_PAGE_SIZE..=MAX_PAGE_SIZE).contains(&self.page_size) {
            return Err(Invalid::new(
                "pageSize",
                format!(
                    "must be between {MIN_PAGE_SIZE} and {MAX_PAGE_SIZE} (got {})",
                    self.page_size
                ),
            ));
        }
        Ok(())
    }
}

/// Payload of `list_all_staffs`: pages through the whole staff list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListAllStaffsRequest {
    /// Name contains, or exact mobile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<String>,
}

fn first_page() -> u32 {
    1
}

fn max_page() -> u32 {
    MAX_PAGE_SIZE
}

/// The answer of a single import.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportResult {
    /// The CRM's customer id.
    #[serde(deserialize_with = "wire::int")]
    pub customer_id: i64,
    /// The owner, when the customer has one.
    #[serde(default, deserialize_with = "wire::opt_int")]
    pub staff_id: Option<i64>,
    /// The public sea, when the customer is in one.
    #[serde(default, deserialize_with = "wire::opt_id")]
    pub public_sea_id: Option<String>,
    /// True when the customer was created, false when updated; `None` if the CRM did not say.
    #[serde(default)]
    pub is_new: Option<bool>,
    /// Our `thirdDataId` → the CRM's contact id. Ignored contacts are absent.
    #[serde(default, deserialize_with = "id_map")]
    pub contact_id_map: BTreeMap<String, i64>,
    /// Fields the guide does not list.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One customer's entry in the batch answer, as sent by the CRM.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchEntry {
    /// Whether the import succeeded; when absent, success is inferred from a customer id and
    /// no `failedReason`.
    #[serde(default)]
    pub success: Option<bool>,
    /// The CRM's customer id.
    #[serde(default, deserialize_with = "wire::opt_int")]
    pub customer_id: Option<i64>,
    /// The owner.
    #[serde(default, deserialize_with = "wire::opt_int")]
    pub staff_id: Option<i64>,
    /// The public sea.
    #[serde(default, deserialize_with = "wire::opt_id")]
    pub public_sea_id: Option<String>,
    /// Created or updated.
    #[serde(default)]
    pub is_new: Option<bool>,
    /// `thirdDataId` → contact id.
    #[serde(default, deserialize_with = "id_map")]
    pub contact_id_map: BTreeMap<String, i64>,
    /// Why it failed.
    #[serde(default)]
    pub failed_reason: Option<String>,
    /// Fields the guide does not list.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One customer's outcome in a batch import, in request order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerOutcome {
    /// The customer name we sent (the answer's key).
    pub customer_name: String,
    /// True when this customer was imported.
    pub success: bool,
    /// The CRM's customer id.
    pub customer_id: Option<i64>,
    /// The owner.
    pub staff_id: Option<i64>,
    /// The public sea.
    pub public_sea_id: Option<String>,
    /// Created or updated.
    pub is_new: Option<bool>,
    /// `thirdDataId` → contact id.
    pub contact_id_map: BTreeMap<String, i64>,
    /// Why it failed (the CRM's text, or ours when the answer had no entry for it).
    pub failed_reason: Option<String>,
}

/// The answer of a batch import. A call where every customer failed is an error (`Business`);
/// otherwise this lists every customer with `success` and, for failures, `failedReason`, so a
/// partial failure under HTTP 200 is never mistaken for a full success.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportBatchResult {
    /// One outcome per customer, in request order (then any extra keys the CRM sent).
    pub results: Vec<CustomerOutcome>,
    /// How many succeeded.
    pub succeeded_count: usize,
    /// How many failed.
    pub failed_count: usize,
}

impl ImportBatchResult {
    /// True when some but not all customers failed.
    pub fn is_partial(&self) -> bool {
        self.failed_count > 0 && self.succeeded_count > 0
    }

    /// The failed outcomes.
    pub fn failures(&self) -> impl Iterator<Item = &CustomerOutcome> {
        self.results.iter().filter(|o| !o.success)
    }

    /// The successful outcomes.
    pub fn successes(&self) -> impl Iterator<Item = &CustomerOutcome> {
        self.results.iter().filter(|o| o.success)
    }
}

/// One employee from the staff list.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Staff {
    /// The id to use as `staffId`.
    #[serde(deserialize_with = "wire::int")]
    pub staff_id: i64,
    /// Name.
    #[serde(default)]
    pub real_name: Option<String>,
    /// Mobile.
    #[serde(default, deserialize_with = "wire::opt_id")]
    pub mobile: Option<String>,
    /// Department.
    #[serde(default)]
    pub department: Option<String>,
    /// Role id.
    #[serde(default, deserialize_with = "wire::opt_int")]
    pub role_id: Option<i64>,
    /// Role name.
    #[serde(default)]
    pub role: Option<String>,
    /// Fields the guide does not list.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The error body of a non-2xx answer: `{"trackingId": "…", "errors": [{"code": 403, "message": "…"}]}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// The vendor's request id, for support tickets.
    #[serde(default, deserialize_with = "wire::opt_id")]
    pub tracking_id: Option<String>,
    /// The errors; the first one is reported.
    #[serde(default)]
    pub errors: Vec<ErrorItem>,
}

/// One entry of [`ErrorBody::errors`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorItem {
    /// The code (the HTTP status in every documented case).
    #[serde(default, deserialize_with = "wire::opt_id")]
    pub code: Option<String>,
    /// The message, verbatim.
    #[serde(default)]
    pub message: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Validation. Lengths are counted like Java's `String.length()` (UTF-16 units), since that is
// what the CRM checks.

fn java_len(text: &str) -> usize {
    text.encode_utf16().count()
}

fn check_len(path: &str, field: &str, value: Option<&str>, max: usize) -> Result<(), Invalid> {
    match value {
        Some(v) if java_len(v) > max => Err(Invalid::new(
            format!("{path}{field}"),
            format!("must be at most {max} characters (got {})", java_len(v)),
        )),
        _ => Ok(()),
    }
}

fn check_custom_keys(path: &str, fields: &Map<String, Value>) -> Result<(), Invalid> {
    for key in fields.keys() {
        let ok = key
            .strip_prefix(CUSTOMIZE_FIELD_PREFIX)
            .is_some_and(|id| !id.is_empty());
        if !ok {
            return Err(Invalid::new(
                format!("{path}{key}"),
                "is not a known field (custom fields are written `customizeField.<field id>`)",
            ));
        }
    }
    Ok(())
}

/// True when `text` is a real `yyyy-MM-dd` date.
fn is_iso_date(text: &str) -> bool {
    text.len() == 10 && chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok()
}

impl Contact {
    /// Checks the guide's constraints; `path` prefixes field names in the message
    /// (e.g. `contacts[0].`).
    pub fn validate(&self, path: &str) -> Result<(), Invalid> {
        if self.third_data_id.trim().is_empty() {
            return Err(Invalid::new(format!("{path}thirdDataId"), "is required"));
        }
        for (field, value, max) in [
            ("name", &self.name, 30),
            ("position", &self.position, 30),
            ("dept", &self.dept, 30),
            ("phone", &self.phone, 30),
            ("tel", &self.tel, 30),
            ("email", &self.email, 100),
            ("addr", &self.addr, 200),
            ("logo", &self.logo, 400),
            ("wechat", &self.wechat, 30),
            ("qq", &self.qq, 30),
        ] {
            check_len(path, field, value.as_deref(), max)?;
        }
        if let Some(g) = self.gender.as_deref().filter(|g| !g.is_empty()) {
            if !["男", "女", "未知"].contains(&g) {
                return Err(Invalid::new(
                    format!("{path}gender"),
                    format!("must be 男, 女 or 未知 (got {g:?})"),
                ));
            }
        }
        if let Some(b) = self.birthday.as_deref().filter(|b| !b.is_empty()) {
            if !is_iso_date(b) {
                return Err(Invalid::new(
                    format!("{path}birthday"),
                    format!("must be a yyyy-MM-dd date (got {b:?})"),
                ));
            }
        }
        check_custom_keys(path, &self.customize_fields)
    }
}

impl Customer {
    /// Checks the guide's constraints; `path` prefixes field names in the message
    /// (e.g. `customers[2].`).
    pub fn validate(&self, path: &str) -> Result<(), Invalid> {
        let name_len = java_len(self.customer_name.trim());
        if name_len == 0 {
            return Err(Invalid::new(format!("{path}customerName"), "is required"));
        }
        if java_len(&self.customer_name) > 200 {
            return Err(Invalid::new(
                format!("{path}customerName"),
                format!(
                    "must be 1–200 characters (got {})",
                    java_len(&self.customer_name)
                ),
            ));
        }
        check_len(path, "entName", self.ent_name.as_deref(), 200)?;
        check_custom_keys(path, &self.customize_fields)?;
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (i, contact) in self.contacts.iter().enumerate() {
            contact.validate(&format!("{path}contacts[{i}]."))?;
            if let Some(first) = seen.insert(contact.third_data_id.as_str(), i) {
                return Err(Invalid::new(
                    format!("{path}contacts[{i}].thirdDataId"),
                    format!(
                        "{:?} repeats contacts[{first}] (it keys the answer's contactIdMap)",
                        contact.third_data_id
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The CRM's identity of this customer: `entName` when set, else `customerName`.
    pub fn upsert_key(&self) -> &str {
        self.ent_name
            .as_deref()
            .filter(|e| !e.is_empty())
            .unwrap_or(&self.customer_name)
    }

    /// A customer with one contact made from a normalized lead. `customerName` is the lead's
    /// name (else its phone, else `线索 <id>`); the contact's `thirdDataId` is
    /// `<vendor>:<lead id>`. `entName`, `staffId` and the rest are left to the caller (a
    /// script), since they are routing decisions; note that without `entName` the CRM dedups
    /// by `customerName`.
    pub fn from_lead(lead: &Lead) -> Customer {
        let name = lead
            .name
            .clone()
            .or_else(|| lead.phone.clone())
            .unwrap_or_else(|| format!("线索 {}", lead.id));
        let place: String = [&lead.province, &lead.city]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .concat();
        let addr = match (&lead.address, place.is_empty()) {
            (Some(a), _) => Some(a.clone()),
            (None, false) => Some(place),
            (None, true) => None,
        };
        Customer {
            customer_name: name,
            contacts: vec![Contact {
                third_data_id: format!("{}:{}", lead.vendor, lead.id),
                name: lead.name.clone(),
                phone: lead.phone.clone(),
                email: lead.email.clone(),
                wechat: lead.wechat.clone(),
                qq: lead.qq.clone(),
                gender: (lead.gender != Gender::Unknown).then(|| lead.gender.label_zh().into()),
                addr,
                remark: lead.remark.clone(),
                ..Contact::default()
            }],
            ..Customer::default()
        }
    }
}

impl ImportCustomersRequest {
    /// Checks every customer, the batch caps and distinct names.
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.customers.is_empty() {
            return Err(Invalid::new("customers", "must not be empty"));
        }
        if self.customers.len() > MAX_BATCH_CUSTOMERS {
            return Err(Invalid::new(
                "customers",
                format!(
                    "has {} entries; at most {MAX_BATCH_CUSTOMERS} per call (split the batch)",
                    self.customers.len()
                ),
            ));
        }
        let mut names: HashMap<&str, usize> = HashMap::new();
        for (i, c) in self.customers.iter().enumerate() {
            let path = format!("customers[{i}].");
            c.validate(&path)?;
            if c.contacts.len() > MAX_BATCH_CONTACTS {
                return Err(Invalid::new(
                    format!("{path}contacts"),
                    format!(
                        "has {} entries; at most {MAX_BATCH_CONTACTS} per customer in a batch",
                        c.contacts.len()
                    ),
                ));
            }
            if let Some(first) = names.insert(c.customer_name.as_str(), i) {
                return Err(Invalid::new(
                    format!("{path}customerName"),
                    format!(
                        "{:?} repeats customers[{first}] (the answer is keyed by customer name)",
                        c.customer_name
                    ),
                ));
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Answer decoding.

/// Removes an added `{"data": …}` wrapper (spec L-f) when `is_bare` says the value is not
/// already the documented answer. A customer named "data" in a batch answer is told apart by
/// `is_bare`, not guessed.
pub fn unwrap_data(value: Value, is_bare: impl Fn(&Value) -> bool) -> Value {
    if is_bare(&value) {
        return value;
    }
    match value {
        Value::Object(mut map) if map.contains_key("data") => {
            map.remove("data").unwrap_or(Value::Null)
        }
        other => other,
    }
}

/// True for a batch answer entry (an object with any of the documented entry fields).
fn is_batch_entry(v: &Value) -> bool {
    v.as_object().is_some_and(|o| {
        ["success", "customerId", "failedReason", "isNew"]
            .iter()
            .any(|k| o.contains_key(*k))
    })
}

/// Decodes a batch answer against the customers sent: each sent customer gets its entry (by
/// `customerName`, falling back to `entName`); a customer with no entry is reported failed;
/// entries for names we did not send are appended.
pub fn decode_batch(value: Value, sent: &[Customer]) -> Result<ImportBatchResult, String> {
    let value = unwrap_data(value, |v| {
        // Bare when it is a map of entries; `{"data": {...entries}}` is a wrapper unless
        // "data" is itself an entry (a customer named "data").
        v.as_object()
            .is_some_and(|o| !o.contains_key("data") || is_batch_entry(&o["data"]))
    });
    let Value::Object(map) = value else {
        return Err(format!(
            "expected an object keyed by customer name, got {value}"
        ));
    };
    let mut entries: Vec<(String, BatchEntry)> = Vec::with_capacity(map.len());
    for (name, entry) in map {
        let entry: BatchEntry = serde_json::from_value(entry)
            .map_err(|e| format!("entry for customer {name:?}: {e}"))?;
        entries.push((name, entry));
    }
    let mut results = Vec::with_capacity(sent.len().max(entries.len()));
    for customer in sent {
        let pos = entries
            .iter()
            .position(|(n, _)| *n == customer.customer_name)
            .or_else(|| {
                let ent = customer.ent_name.as_deref().filter(|e| !e.is_empty())?;
                entries.iter().position(|(n, _)| n == ent)
            });
        let outcome = match pos {
            Some(i) => outcome(customer.customer_name.clone(), entries.remove(i).1),
            None => CustomerOutcome {
                customer_name: customer.customer_name.clone(),
                failed_reason: Some("the answer has no entry for this customer".into()),
                ..CustomerOutcome::default()
            },
        };
        results.push(outcome);
    }
    results.extend(entries.into_iter().map(|(n, e)| outcome(n, e)));
    let succeeded_count = results.iter().filter(|o| o.success).count();
    Ok(ImportBatchResult {
        failed_count: results.len() - succeeded_count,
        succeeded_count,
        results,
    })
}

fn outcome(customer_name: String, e: BatchEntry) -> CustomerOutcome {
    let success = e
        .success
        .unwrap_or(e.customer_id.is_some() && e.failed_reason.is_none());
    CustomerOutcome {
        customer_name,
        success,
        customer_id: e.customer_id,
        staff_id: e.staff_id,
        public_sea_id: e.public_sea_id,
        is_new: e.is_new,
        contact_id_map: e.contact_id_map,
        failed_reason: match (success, e.failed_reason) {
            (false, None) => Some("failed without a reason".into()),
            (_, reason) => reason,
        },
    }
}

/// Decodes a single import's answer (bare, or in a `data` wrapper).
pub fn decode_import(value: Value) -> Result<ImportResult, String> {
    let value = unwrap_data(value, |v| v.get("customerId").is_some());
    serde_json::from_value(value).map_err(|e| e.to_string())
}

/// Decodes a staff page (a bare array, or one in a `data` wrapper). `null` reads as empty.
pub fn decode_staffs(value: Value) -> Result<Vec<Staff>, String> {
    let value = unwrap_data(value, Value::is_array);
    if value.is_null() {
        return Ok(Vec::new());
    }
    serde_json::from_value(value).map_err(|e| e.to_string())
}

/// The error in a body, if it is the vendor's error shape with at least one error.
pub fn decode_error(body: &[u8]) -> Option<ErrorBody> {
    let parsed: ErrorBody = serde_json::from_slice(body).ok()?;
    (!parsed.errors.is_empty()).then_some(parsed)
}

// ---------------------------------------------------------------------------------------------
// Tolerant field helpers.

/// A string or an integer. Decoded by hand rather than as an untagged enum, whose error ("data
/// did not match any variant") would not say what was expected.
enum TextOrNumber {
    Text(String),
    Int(i64),
    UInt(u64),
}

impl<'de> Deserialize<'de> for TextOrNumber {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct TextOrNumberVisitor;
        impl serde::de::Visitor<'_> for TextOrNumberVisitor {
            type Value = TextOrNumber;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string or an integer")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<TextOrNumber, E> {
                Ok(TextOrNumber::Text(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<TextOrNumber, E> {
                Ok(TextOrNumber::Int(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<TextOrNumber, E> {
                Ok(TextOrNumber::UInt(v))
            }
        }
        d.deserialize_any(TextOrNumberVisitor)
    }
}

impl TextOrNumber {
    fn into_string(self) -> String {
        match self {
            TextOrNumber::Text(t) => t,
            TextOrNumber::Int(i) => i.to_string(),
            TextOrNumber::UInt(u) => u.to_string(),
        }
    }
}

fn text_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<TextOrNumber>::deserialize(d)?
        .map(TextOrNumber::into_string)
        .unwrap_or_default())
}

fn opt_text_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    Ok(Option::<Vec<TextOrNumber>>::deserialize(d)?
        .map(|v| v.into_iter().map(TextOrNumber::into_string).collect()))
}

fn id_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, i64>, D::Error> {
    let raw = Option::<BTreeMap<String, TextOrNumber>>::deserialize(d)?.unwrap_or_default();
    raw.into_iter()
        .map(|(k, v)| {
            let text = v.into_string();
            text.trim()
                .parse::<i64>()
                .map(|id| (k, id))
                .map_err(|_| de::Error::custom(format!("contact id {text:?} is not an integer")))
        })
        .collect()
}
