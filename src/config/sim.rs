//! `[sim]` and `[scripts]`: the optional sections for the script author's offline work.
//!
//! `[sim]` is what the built-in simulators start with in `leadrelay test` and
//! `route --dry-run` (a test adds more with `sim::staff([...])` and friends), so scripts that
//! use a tenant's real staff ids, Waiqin leads or Linkflow tags run offline. `[scripts]` holds
//! settings of the scripting host (the holiday file).

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `[scripts]`: settings of the scripting host. Every key is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScriptSettings {
    /// The holiday file behind `hours::is_workday` (default: the shipped one,
    /// `stdlib/holidays-cn.txt`). Relative paths are read from the working directory, like
    /// `[daemon] scripts`.
    pub holidays: Option<PathBuf>,
}

/// Data the simulators start with (`[sim]` in the config, or `sim::…` in a test).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimSeed {
    /// Xiaolanben staff (besides the simulator's own 1001–1012): `staffId`s it accepts.
    pub staff: Vec<StaffSeed>,
    /// Waiqin leads that exist before the test: `addSalesLeads` fields (`code` required), plus
    /// `salesleads_status` ("1" 待处理, "2" 跟进, "3" 无效, "5" 转换, "6" 未分配).
    pub waiqin_leads: Vec<Map<String, Value>>,
    /// Linkflow tags that exist before the test.
    pub linkflow_tags: Vec<TagSeed>,
}

/// One Xiaolanben staff member.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StaffSeed {
    /// The `staffId`.
    pub id: i64,
    /// 姓名.
    pub name: String,
    /// Mobile number (optional).
    #[serde(default)]
    pub mobile: Option<String>,
    /// Department (optional).
    #[serde(default)]
    pub department: Option<String>,
    /// Role name (optional, default 销售代表).
    #[serde(default)]
    pub role: Option<String>,
}

/// One Linkflow tag.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TagSeed {
    /// `tagKey`: `tag_` + lower-case letters, digits, `_`.
    pub key: String,
    /// `tagName` (default: the key).
    #[serde(default)]
    pub name: Option<String>,
    /// `dataType`: text (default), number, array, datetime, boolean.
    #[serde(default)]
    pub data_type: Option<String>,
}

const WAIQIN_STATUSES: &[&str] = &["1", "2", "3", "5", "6"];
const TAG_TYPES: &[&str] = &["text", "number", "array", "datetime", "boolean"];

impl SimSeed {
    /// Whether there is nothing to seed.
    pub fn is_empty(&self) -> bool {
        self.staff.is_empty() && self.waiqin_leads.is_empty() && self.linkflow_tags.is_empty()
    }

    /// Checks every entry; the error names the list, the entry (1-based) and the key:
    /// `staff #2 (id 2001): name must not be empty`.
    pub fn validate(&self) -> Result<(), String> {
        let mut ids = BTreeSet::new();
        for (i, s) in self.staff.iter().enumerate() {
            let at = format!("staff #{} (id {})", i + 1, s.id);
            if s.id <= 0 {
                return Err(format!("{at}: id must be a positive staffId"));
            }
            if s.name.trim().is_empty() {
                return Err(format!("{at}: name must not be empty"));
            }
            if !ids.insert(s.id) {
                return Err(format!("{at}: id {} is listed twice", s.id));
            }
        }
        let mut codes = BTreeSet::new();
        for (i, lead) in self.waiqin_leads.iter().enumerate() {
            let code = match lead.get("code") {
                Some(Value::String(c)) if !c.trim().is_empty() => c.trim().to_string(),
                Some(other) => {
                    return Err(format!(
                        "waiqin_leads #{}: code must be a non-empty string, got {other}",
                        i + 1
                    ))
                }
                None => {
                    return Err(format!(
                        "waiqin_leads #{}: code is required (the lead's unique code)",
                        i + 1
                    ))
                }
            };
            let at = format!("waiqin_leads #{} (code {code})", i + 1);
            if let Some(status) = lead.get("salesleads_status") {
                let text = match status {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    other => other.to_string(),
                };
                if !WAIQIN_STATUSES.contains(&text.as_str()) {
                    return Err(format!(
                        "{at}: salesleads_status must be one of {}, got {status}",
                        WAIQIN_STATUSES.join(", ")
                    ));
                }
            }
            if !codes.insert(code.clone()) {
                return Err(format!("{at}: code {code} is listed twice"));
            }
        }
        let mut keys = BTreeSet::new();
        for (i, t) in self.linkflow_tags.iter().enumerate() {
            let at = format!("linkflow_tags #{} (key {})", i + 1, t.key);
            let valid_key = t.key.starts_with("tag_")
                && t.key.len() > 4
                && t.key
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !valid_key {
                return Err(format!(
                    "{at}: key must be tag_ followed by lower-case letters, digits or _"
                ));
            }
            if let Some(kind) = &t.data_type {
                if !TAG_TYPES.contains(&kind.as_str()) {
                    return Err(format!(
                        "{at}: data_type must be one of {}, got \"{kind}\"",
                        TAG_TYPES.join(", ")
                    ));
                }
            }
            if !keys.insert(t.key.clone()) {
                return Err(format!("{at}: key {} is listed twice", t.key));
            }
        }
        Ok(())
    }

    /// Adds `other`'s entries after this one's.
    pub fn extend(&mut self, other: SimSeed) {
        self.staff.extend(other.staff);
        self.waiqin_leads.extend(other.waiqin_leads);
        self.linkflow_tags.extend(other.linkflow_tags);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed(toml_text: &str) -> Result<SimSeed, String> {
        #[derive(Deserialize)]
        struct Doc {
            sim: SimSeed,
        }
        let doc: Doc = toml::from_str(toml_text).map_err(|e| e.to_string())?;
        doc.sim.validate()?;
        Ok(doc.sim)
    }

    #[test]
    fn a_sim_section_reads_staff_leads_and_tags() {
        let s = seed(
            r#"
[sim]
staff = [{ id = 2001, name = "陈静", department = "华南销售部" }]
waiqin_leads = [{ code = "tencent-9001", cus_name = "周涛", poolName = "公海", salesleads_status = "5" }]
linkflow_tags = [{ key = "tag_vip", name = "VIP" }]
"#,
        )
        .unwrap();
        assert_eq!(s.staff[0].id, 2001);
        assert_eq!(s.waiqin_leads[0]["cus_name"], "周涛");
        assert_eq!(s.linkflow_tags[0].key, "tag_vip");
    }

    #[test]
    fn a_bad_sim_section_says_which_entry_and_key() {
        let e = seed("[sim]\nstaff = [{ id = 2001, name = \"a\" }, { id = 2001, name = \"b\" }]")
            .unwrap_err();
        assert_eq!(e, "staff #2 (id 2001): id 2001 is listed twice");
        let e = seed("[sim]\nstaff = [{ id = 2001, nmae = \"a\" }]").unwrap_err();
        assert!(e.contains("unknown field `nmae`"), "{e}");
        let e = seed("[sim]\nwaiqin_leads = [{ cus_name = \"a\" }]").unwrap_err();
        assert_eq!(
            e,
            "waiqin_leads #1: code is required (the lead's unique code)"
        );
        let e = seed("[sim]\nwaiqin_leads = [{ code = \"x\", salesleads_status = \"4\" }]")
            .unwrap_err();
        assert!(
            e.starts_with("waiqin_leads #1 (code x): salesleads_status must be one of"),
            "{e}"
        );
        let e = seed("[sim]\nlinkflow_tags = [{ key = \"VIP\" }]").unwrap_err();
        assert!(
            e.starts_with("linkflow_tags #1 (key VIP): key must be tag_"),
            "{e}"
        );
    }
}
