//! Dimension tables: upload rows.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{exact_numbers, require, Invalid};

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
            return Err(Invalid::new("rows", "must hold at least one row"));
        }
        for (i, row) in self.rows.iter().enumerate() {
            exact_numbers(&format!("rows[{i}]"), &Value::Object(row.clone()))?;
        }
        Ok(())
    }
}
