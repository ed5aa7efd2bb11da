//! Typed, tolerant models of the sales-leads API (spec §2.5): one request type per op with the
//! vendor's own field names (so a script payload reads like the vendor document), the response
//! envelope, the query records and their conversion to [`Lead`].
//!
//! Every request keeps fields we did not model in `extra` (sent as given), because tenants add
//! fields and ops people read the vendor page, not this file. Ids are sent as JSON strings (W-j:
//! the example's `6789690485561771524` is beyond 2^53 and the table says VARCHAR(40)) and read
//! from strings or numbers exactly.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::connectors::wire;
use crate::connectors::{Invalid, Vendor};
use crate::lead::{non_empty, Lead, LeadKind};

fn present(value: &Option<String>) -> bool {
    value.as_deref().is_some_and(|v| !v.trim().is_empty())
}

fn one_of(field: &'static str, value: &Option<String>, allowed: &[&str]) -> Result<(), Invalid> {
    match value.as_deref() {
        Some(v) if !allowed.contains(&v) => Err(Invalid::new(
            field,
            format!("{v:?} is not one of {}", allowed.join(", ")),
        )),
        _ => Ok(()),
    }
}

fn date(field: &'static str, value: &Option<String>) -> Result<(), Invalid> {
    match value.as_deref() {
        Some(v) if chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").is_err() || v.len() != 10 => {
            Err(Invalid::new(field, format!("{v:?} is not a yyyy-MM-dd date")))
        }
        _ => Ok(()),
    }
}

/// `null`, absence or any JSON value → the type's default (vendors send `null` for empty lists).
fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Text that may arrive as a string, a number or a bool (`"86"` vs `86`); numbers stay exact.
pub(crate) fn opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::Bool(b)) => Some(b.to_string()),
        Some(other) => Some(other.to_string()),
    })
}

/// One custom field of `addSalesLeads`/`modifySalesLeads` (list form).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SalesLeadExtInput {
    /// 自定义字段 key (the field's display name).
    pub salesleads_ext_key: String,
    /// Its value.
    #[serde(default, deserialize_with = "opt_text")]
    pub salesleads_ext_value: Option<String>,
}

/// The editable fields shared by `addSalesLeads` and `modifySalesLeads`, vendor names as sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SalesLeadFields {
    /// 负责人 (owner's name).
    #[serde(rename = "empName", skip_serializing_if = "Option::is_none")]
    pub emp_name: Option<String>,
    /// 线索池名称; `empName` or `poolName` is required on add.
    #[serde(rename = "poolName", skip_serializing_if = "Option::is_none")]
    pub pool_name: Option<String>,
    /// 客户名称.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cus_name: Option<String>,
    /// 线索来源 (checked against the tenant's options).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_type: Option<String>,
    /// 市场活动名称 (checked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub market_name: Option<String>,
    /// 联系人.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linkman: Option<String>,
    /// 手机号码国家码, e.g. `86`.
    #[serde(deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub mobile_country: Option<String>,
    /// 手机号码.
    #[serde(deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub mobile: Option<String>,
    /// 固话.
    #[serde(deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub tel: Option<String>,
    /// 线索类型.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_classification_name: Option<String>,
    /// 职务.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<String>,
    /// 线索详情.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// 省名称.
    #[serde(rename = "mssProvinceName", skip_serializing_if = "Option::is_none")]
    pub mss_province_name: Option<String>,
    /// 市名称.
    #[serde(rename = "mssCityName", skip_serializing_if = "Option::is_none")]
    pub mss_city_name: Option<String>,
    /// 区县名称.
    #[serde(rename = "mssAreaName", skip_serializing_if = "Option::is_none")]
    pub mss_area_name: Option<String>,
    /// 乡镇街道名称.
    #[serde(rename = "mssStreetName", skip_serializing_if = "Option::is_none")]
    pub mss_street_name: Option<String>,
    /// 地址.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mark_addr: Option<String>,
    /// 邮箱.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// 网址.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    /// 标注位置 (address text).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// 标注位置, `"lat,lon"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latlon: Option<String>,
    /// 自定义字段列表.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exts: Option<Vec<SalesLeadExtInput>>,
}

/// `addSalesLeads`: create a lead. `code` is the vendor's uniqueness key, so sending one makes a
/// retried create safe (the second attempt fails with a duplicate-code business error).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AddSalesLeadsRequest {
    /// 线索编码 (uniqueness checked).
    #[serde(
        default,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub code: Option<String>,
    /// The lead's fields.
    #[serde(flatten, deserialize_with = "wire::flat")]
    pub fields: SalesLeadFields,
    /// 手机号码是否能重复: `"0"` no, `"1"` or empty yes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mobile_repeat: Option<String>,
    /// Fields we did not model, sent as given.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl AddSalesLeadsRequest {
    /// Checks what the vendor would reject anyway, before sending.
    pub fn validate(&self) -> Result<(), Invalid> {
        if !present(&self.fields.emp_name) && !present(&self.fields.pool_name) {
            return Err(Invalid::new("empName|poolName", "one of them is required"));
        }
        one_of("mobile_repeat", &self.mobile_repeat, &["0", "1", ""])
    }
}

/// `modifySalesLeads`: update a lead found by `id` or `code`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModifySalesLeadsRequest {
    /// 线索ID (sent as a string, W-j).
    #[serde(
        default,
        deserialize_with = "wire::opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<String>,
    /// 线索编码; `id` or `code` is required.
    #[serde(
        default,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub code: Option<String>,
    /// The fields to change.
    #[serde(flatten, deserialize_with = "wire::flat")]
    pub fields: SalesLeadFields,
    /// Fields we did not model, sent as given.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ModifySalesLeadsRequest {
    /// `id` or `code` must be present.
    pub fn validate(&self) -> Result<(), Invalid> {
        id_or_code(&self.id, &self.code)
    }
}

fn id_or_code(id: &Option<String>, code: &Option<String>) -> Result<(), Invalid> {
    if present(id) || present(code) {
        Ok(())
    } else {
        Err(Invalid::new("id|code", "one of them is required"))
    }
}

/// The aPaaS mobile object `{phone, code}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ApaasMobile {
    /// 手机号.
    #[serde(
        default,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub phone: Option<String>,
    /// 国家编码, e.g. `86`.
    #[serde(
        default,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub code: Option<String>,
}

/// Fields shared by `addSalesLeadsForApaas` and `modifySalesLeadsForApaas`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ApaasLeadFields {
    /// 企业名称.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    /// 线索来源 (option name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_type: Option<String>,
    /// 线索类型 (option name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_classification_name: Option<String>,
    /// 退回原因.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub return_reason: Option<String>,
    /// 作废原因.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invalid_reason: Option<String>,
    /// 市场活动名称.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub market_name: Option<String>,
    /// 市场活动id (wins over the name).
    #[serde(
        deserialize_with = "wire::opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub market_id: Option<String>,
    /// 联系人.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linkman: Option<String>,
    /// 手机号码 `{phone, code}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mobile: Option<ApaasMobile>,
    /// 固话.
    #[serde(deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub telephone: Option<String>,
    /// 职务.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<String>,
    /// 线索详情.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// 国家.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mss_country: Option<String>,
    /// 省.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mss_province: Option<String>,
    /// 市.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mss_city: Option<String>,
    /// 区县.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mss_area: Option<String>,
    /// 乡镇街道.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mss_street: Option<String>,
    /// 邮箱.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// 网址.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    /// 分配状态: `"1"` assigned (needs `responsible_person`), `"0"` pool (needs `pool_name`).
    #[serde(deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub allocation_status: Option<String>,
    /// 跟进状态: `1` 待处理, `2` 跟进中, `5` 转换.
    #[serde(deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub salesleads_status: Option<String>,
    /// 线索池.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool_name: Option<String>,
    /// 作废补充说明.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removed_result: Option<String>,
    /// 线索标签.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<String>,
    /// 负责人ID (勤策 employee id).
    #[serde(
        deserialize_with = "wire::opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub responsible_person: Option<String>,
    /// 名片.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card_photo: Option<String>,
    /// Custom fields as a map `{field_key: value}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exts: Option<Map<String, Value>>,
}

impl ApaasLeadFields {
    fn validate(&self) -> Result<(), Invalid> {
        one_of("allocation_status", &self.allocation_status, &["0", "1"])?;
        one_of(
            "salesleads_status",
            &self.salesleads_status,
            &["1", "2", "5"],
        )?;
        match self.allocation_status.as_deref() {
            Some("0") if !present(&self.pool_name) => Err(Invalid::new(
                "pool_name",
                "required when allocation_status is \"0\" (unassigned)",
            )),
            Some("1") if !present(&self.responsible_person) => Err(Invalid::new(
                "responsible_person",
                "required when allocation_status is \"1\" (assigned)",
            )),
            _ => Ok(()),
        }
    }
}

/// `addSalesLeadsForApaas`: create a lead in the aPaaS data model.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AddSalesLeadsApaasRequest {
    /// 线索编码.
    #[serde(
        default,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub code: Option<String>,
    /// The shared aPaaS fields.
    #[serde(flatten, deserialize_with = "wire::flat")]
    pub fields: ApaasLeadFields,
    /// 地址.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mark_addr: Option<String>,
    /// 标注位置.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// 纬度.
    #[serde(
        default,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub latitude: Option<String>,
    /// 经度.
    #[serde(
        default,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub longitude: Option<String>,
    /// 手机号码是否能重复: `"0"` no, `"1"` or empty yes.
    #[serde(
        default,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub mobile_duplicate: Option<String>,
    /// Fields we did not model, sent as given.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl AddSalesLeadsApaasRequest {
    /// Checks enumerations and the allocation rule.
    pub fn validate(&self) -> Result<(), Invalid> {
        self.fields.validate()?;
        one_of("mobile_duplicate", &self.mobile_duplicate, &["0", "1", ""])
    }
}

/// `modifySalesLeadsForApaas`: update an aPaaS lead found by `id` or `code`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModifySalesLeadsApaasRequest {
    /// 线索ID (BIGINT in the table; sent as a string like every id, W-j).
    #[serde(
        default,
        deserialize_with = "wire::opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<String>,
    /// 线索编码; `id` or `code` is required.
    #[serde(
        default,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub code: Option<String>,
    /// The shared aPaaS fields.
    #[serde(flatten, deserialize_with = "wire::flat")]
    pub fields: ApaasLeadFields,
    /// 地址 — spelled `mark_address` in this op only (W-m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mark_address: Option<String>,
    /// Fields we did not model, sent as given.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ModifySalesLeadsApaasRequest {
    /// `id` or `code`, plus the aPaaS enumeration checks.
    pub fn validate(&self) -> Result<(), Invalid> {
        id_or_code(&self.id, &self.code)?;
        self.fields.validate()
    }
}

/// `removeSalesLeads`: void a lead found by `id` or `code`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RemoveSalesLeadsRequest {
    /// 线索ID.
    #[serde(
        default,
        deserialize_with = "wire::opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<String>,
    /// 线索编码; `id` or `code` is required.
    #[serde(
        default,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub code: Option<String>,
    /// 作废原因编码 (checked by the vendor; the example sends a number, the table says VARCHAR).
    #[serde(
        default,
        deserialize_with = "wire::opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub reason_id: Option<String>,
    /// 作废原因 (free text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Only in the example (W-l); sent when given.
    #[serde(
        default,
        deserialize_with = "wire::opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub emp_id: Option<String>,
    /// Fields we did not model, sent as given.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl RemoveSalesLeadsRequest {
    /// `id` or `code` must be present.
    pub fn validate(&self) -> Result<(), Invalid> {
        id_or_code(&self.id, &self.code)
    }
}

/// The documented values of the query's `salesleads_status`.
pub const QUERY_STATUSES: &[&str] = &["1", "2", "3", "5", "6"];

/// The conditions of `querySalesLeads` and `querySalesLeadsForApaas`; at least one is required.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct QueryConditions {
    /// 线索编码.
    #[serde(deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// 线索id.
    #[serde(
        deserialize_with = "wire::opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<String>,
    /// 联系人.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linkman: Option<String>,
    /// 手机号码.
    #[serde(deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub mobile: Option<String>,
    /// 负责人.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emp_name: Option<String>,
    /// 线索名称.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cus_name: Option<String>,
    /// 创建时间起始, `yyyy-MM-dd`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub create_time_start: Option<String>,
    /// 创建时间结束, `yyyy-MM-dd`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub create_time_end: Option<String>,
    /// 修改时间起始, `yyyy-MM-dd`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modify_time_start: Option<String>,
    /// 修改时间结束, `yyyy-MM-dd`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modify_time_end: Option<String>,
    /// 线索状态: 1 待处理, 2 跟进, 3 无效, 5 转换, 6 未分配.
    #[serde(deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub salesleads_status: Option<String>,
    /// 页码 (default 1).
    #[serde(
        deserialize_with = "wire::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub page: Option<i64>,
    /// 分页大小 (default 1000).
    #[serde(
        rename = "pageSize",
        deserialize_with = "wire::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub page_size: Option<i64>,
}

/// The vendor's default page size.
pub const DEFAULT_PAGE_SIZE: i64 = 1000;

impl QueryConditions {
    /// Conditions on the modification date, `start..=end` (`yyyy-MM-dd`), for pulling changes.
    pub fn modified_between(start: chrono::NaiveDate, end: chrono::NaiveDate) -> Self {
        Self {
            modify_time_start: Some(start.format("%Y-%m-%d").to_string()),
            modify_time_end: Some(end.format("%Y-%m-%d").to_string()),
            ..Self::default()
        }
    }

    fn has_condition(&self) -> bool {
        [
            &self.code,
            &self.id,
            &self.linkman,
            &self.mobile,
            &self.emp_name,
            &self.cus_name,
            &self.create_time_start,
            &self.create_time_end,
            &self.modify_time_start,
            &self.modify_time_end,
            &self.salesleads_status,
        ]
        .into_iter()
        .any(present)
    }

    fn validate(&self, extra_condition: bool) -> Result<(), Invalid> {
        if !self.has_condition() && !extra_condition {
            return Err(Invalid::new(
                "code|id|linkman|mobile|emp_name|cus_name|create_time_*|modify_time_*|salesleads_status",
                "the query needs at least one condition",
            ));
        }
        date("create_time_start", &self.create_time_start)?;
        date("create_time_end", &self.create_time_end)?;
        date("modify_time_start", &self.modify_time_start)?;
        date("modify_time_end", &self.modify_time_end)?;
        one_of("salesleads_status", &self.salesleads_status, QUERY_STATUSES)?;
        if self.page.is_some_and(|p| p < 1) {
            return Err(Invalid::new("page", "must be 1 or more"));
        }
        if self.page_size.is_some_and(|p| p < 1) {
            return Err(Invalid::new("pageSize", "must be 1 or more"));
        }
        Ok(())
    }
}

/// `querySalesLeads`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QuerySalesLeadsRequest {
    /// The conditions and paging.
    #[serde(flatten, deserialize_with = "wire::flat")]
    pub conditions: QueryConditions,
    /// Conditions we did not model, sent as given (they count as a condition).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl QuerySalesLeadsRequest {
    /// At least one condition, dates as `yyyy-MM-dd`, a documented status.
    pub fn validate(&self) -> Result<(), Invalid> {
        self.conditions.validate(!self.extra.is_empty())
    }
}

/// `querySalesLeadsForApaas`: the conditions plus sorting and a filter group.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QuerySalesLeadsApaasRequest {
    /// The conditions and paging.
    #[serde(flatten, deserialize_with = "wire::flat")]
    pub conditions: QueryConditions,
    /// `{field_key, type: asc|desc}` as in the example (W-k: the table says `sort`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sorts: Option<Value>,
    /// The table's spelling of `sorts`, passed through when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort: Option<Value>,
    /// `{connector: AND|OR, filters: {field_key, operator, field_values}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_group: Option<Value>,
    /// Fields we did not model, sent as given.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl QuerySalesLeadsApaasRequest {
    /// As [`QuerySalesLeadsRequest::validate`]; a `query_group` counts as a condition.
    pub fn validate(&self) -> Result<(), Invalid> {
        let extra_condition = !self.extra.is_empty() || self.query_group.is_some();
        self.conditions.validate(extra_condition)
    }
}

/// The envelope of every answer. `return_code` is `"0"` in the examples and `0` in the table and
/// the vendor's demo (W-c), so it is read as text from either; anything but `0` is a failure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// `0` success, `1` failure, other codes from the (unpublished) appendix.
    #[serde(deserialize_with = "wire::id")]
    pub return_code: String,
    /// The vendor's message.
    #[serde(default, deserialize_with = "opt_text")]
    pub return_msg: Option<String>,
    /// The echo of our `msg_id` (`null` in the query examples).
    #[serde(default, deserialize_with = "opt_text")]
    pub msg_id: Option<String>,
    /// A JSON-ENCODED STRING holding the data (W-d), `null` for writes.
    #[serde(default)]
    pub response_data: Value,
}

impl Envelope {
    /// True for `return_code` 0.
    pub fn is_success(&self) -> bool {
        self.return_code.trim() == "0"
    }

    /// `response_data` decoded: a string is parsed a second time (W-d); an array or object that
    /// is already JSON is taken as is; `null` and `""` are `Null`.
    pub fn data(&self) -> Result<Value, serde_json::Error> {
        match &self.response_data {
            Value::String(s) if s.trim().is_empty() => Ok(Value::Null),
            Value::String(s) => serde_json::from_str(s),
            other => Ok(other.clone()),
        }
    }
}

/// The answer of a write op (add, modify, remove).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WriteAck {
    /// The echo of the request's `msg_id`.
    pub msg_id: Option<String>,
    /// The vendor's message, usually `null` on success.
    pub return_msg: Option<String>,
}

/// A label of a queried lead.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SalesLeadLabel {
    /// 标签id.
    #[serde(default, deserialize_with = "wire::opt_id")]
    pub id: Option<String>,
    /// 标签对应线索id.
    #[serde(default, deserialize_with = "wire::opt_id")]
    pub salesleads_id: Option<String>,
    /// 标签名.
    #[serde(default, deserialize_with = "opt_text")]
    pub name: Option<String>,
    /// 标签颜色.
    #[serde(default, deserialize_with = "opt_text")]
    pub color: Option<String>,
    /// 标签规则描述.
    #[serde(default, deserialize_with = "opt_text")]
    pub rule_description: Option<String>,
    /// 标签status.
    #[serde(default, deserialize_with = "opt_text")]
    pub status: Option<String>,
    /// Anything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A custom field of a queried lead.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SalesLeadExt {
    /// 自定义字段column.
    #[serde(default, deserialize_with = "opt_text")]
    pub ext_column: Option<String>,
    /// 自定义字段key.
    #[serde(default, deserialize_with = "opt_text")]
    pub ext_key: Option<String>,
    /// 自定义字段value.
    #[serde(default, deserialize_with = "opt_text")]
    pub ext_value: Option<String>,
    /// Anything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

macro_rules! sales_lead {
    ($($(#[$doc:meta])* $field:ident),* $(,)?) => {
        /// One record of `querySalesLeads` (non-aPaaS fields of §2.5). Times are Beijing
        /// `yyyy-MM-dd HH:mm` text as sent; `raw` is the record exactly as received.
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        pub struct SalesLead {
            /// 线索id, exact decimal text even when sent as a number beyond 2^53.
            #[serde(deserialize_with = "wire::id")]
            pub id: String,
            $(
                $(#[$doc])*
                #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
                pub $field: Option<String>,
            )*
            /// 标签列表.
            #[serde(default, deserialize_with = "null_default")]
            pub labels: Vec<SalesLeadLabel>,
            /// 自定义字段列表.
            #[serde(default, deserialize_with = "null_default")]
            pub exts: Vec<SalesLeadExt>,
            /// Fields not modelled here.
            #[serde(flatten)]
            pub extra: Map<String, Value>,
            /// The record exactly as received (set by [`SalesLead::from_raw`]).
            #[serde(skip)]
            pub raw: Value,
        }
    };
}

sales_lead! {
    /// 线索名称.
    cus_name,
    /// 线索编码.
    code,
    /// 线索来源.
    source_type_name,
    /// 市场活动名称.
    market_name,
    /// 联系人.
    linkman,
    /// 手机号码国家码.
    mobile_country,
    /// 手机号码.
    mobile,
    /// 固话.
    tel,
    /// 职务.
    position,
    /// 线索详情.
    detail,
    /// 省名称.
    mss_province,
    /// 市名称.
    mss_city,
    /// 区县名称.
    mss_area,
    /// 乡镇街道名称.
    mss_street,
    /// 地址.
    mark_addr,
    /// 邮箱.
    email,
    /// 网址.
    website,
    /// 负责人.
    emp_name,
    /// 负责人勤策id.
    emp_id_str,
    /// 状态 (label, e.g. 跟进).
    status_value,
    /// 跟进内容.
    result,
    /// 线索无效原因.
    disable_reason_name,
    /// 无效补充说明.
    disable_reason_ext,
    /// 作废原因.
    delete_reason_name,
    /// 作废补充说明.
    delete_reason_ext,
    /// 退回原因.
    return_reason_name,
    /// 所属线索池.
    pool_name,
    /// 分配人.
    distribution_name,
    /// 分配时间.
    distribution_take_time,
    /// 创建人.
    creator_name,
    /// 创建时间, `yyyy-MM-dd HH:mm`.
    create_time,
    /// 转换时间.
    transf_time,
    /// 负责人变更时间.
    owner_change_time,
    /// 最后跟进人.
    follow_name,
    /// 最后跟进时间.
    follow_time,
    /// 最后修改人 (sic).
    modifyier_name,
    /// 最后修改时间, `yyyy-MM-dd HH:mm`.
    modify_time,
    /// 线索类型.
    customer_classification_name,
    /// 已转换客户编码.
    cm_code,
    /// 已转换客户名称.
    cm_name,
}

impl SalesLead {
    /// Decodes one record and keeps it verbatim in `raw`.
    pub fn from_raw(raw: Value) -> Result<Self, serde_json::Error> {
        let mut lead: SalesLead = serde_json::from_value(raw.clone())?;
        lead.raw = raw;
        Ok(lead)
    }

    /// The normalized lead. Waiqin has no kind (`Other`); `created_at` reads `create_time` as
    /// Beijing time; the address prefers `address` (when a tenant sends it) over `mark_addr`.
    pub fn to_lead(&self, account: &str) -> Lead {
        let raw = if self.raw.is_null() {
            serde_json::to_value(self).unwrap_or(Value::Null)
        } else {
            self.raw.clone()
        };
        let mut lead = Lead::new(Vendor::Waiqin, account, self.id.clone(), raw);
        lead.name = non_empty(self.linkman.as_deref());
        lead.phone = non_empty(self.mobile.as_deref());
        lead.email = non_empty(self.email.as_deref());
        (lead.province, lead.city) =
            crate::lead::area::normalize(self.mss_province.as_deref(), self.mss_city.as_deref());
        lead.address = non_empty(self.extra.get("address").and_then(Value::as_str))
            .or_else(|| non_empty(self.mark_addr.as_deref()));
        lead.kind = LeadKind::Other;
        lead.source = non_empty(self.source_type_name.as_deref());
        lead.created_at = self
            .create_time
            .as_deref()
            .and_then(crate::clock::parse_beijing);
        lead.remark = non_empty(self.detail.as_deref());
        lead
    }
}

/// One record of `querySalesLeadsForApaas`. Its values are nested objects (`{code,label}` options,
/// `{code,name}` regions, `{name,id}` owner…) that tenants extend freely, so only `id` and `code`
/// are typed and the rest stays JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ApaasSalesLead {
    /// 线索id, exact.
    #[serde(deserialize_with = "wire::id")]
    pub id: String,
    /// 线索编码.
    #[serde(default, deserialize_with = "opt_text")]
    pub code: Option<String>,
    /// Every other field as received.
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

/// Decodes the records of a query's `response_data` (already decoded once by [`Envelope::data`]):
/// an array, or `null` for no records.
pub fn decode_records<T>(
    data: Value,
    decode: impl Fn(Value) -> Result<T, serde_json::Error>,
) -> Result<Vec<T>, String> {
    match data {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| decode(item).map_err(|e| format!("record {i}: {e}")))
            .collect(),
        other => Err(format!(
            "response_data is not an array but {}",
            match other {
                Value::Object(_) => "an object",
                Value::String(_) => "a string",
                Value::Number(_) => "a number",
                _ => "a bool",
            }
        )),
    }
}
