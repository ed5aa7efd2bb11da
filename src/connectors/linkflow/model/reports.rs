//! Reports and dashboards.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::Id;
use crate::connectors::wire;

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
