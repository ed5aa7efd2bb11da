//! Reports (status 0, then 1: poll until done) and the dashboard that lists them.

use serde_json::{json, Value};

use super::reply::{fail, ok_json, Answer};
use super::{Inner, DASHBOARD_ID, DASHBOARD_REPORTS};

impl Inner {
    pub(super) fn report(&mut self, id: u64) -> Answer {
        let Some((_, name)) = DASHBOARD_REPORTS.iter().find(|(r, _)| *r == id) else {
            return Err(fail(
                404,
                "B00008",
                format!("No [report] found with id [{id}]"),
            ));
        };
        let polls = self.report_polls.entry(id).or_default();
        *polls += 1;
        if *polls == 1 {
            return ok_json(json!({"status": 0, "reportName": name}));
        }
        let contacts = self.contacts.len().to_string();
        ok_json(json!({
            "status": 1,
            "reportName": name,
            "chartType": "NUMBER",
            "chart": {"type": "NUMBER", "display": "数字"},
            "measures": ["联系人总数"],
            "dimensions": [],
            "result": [{"dateList": [], "dimRsList": [{"dim": ["总体"], "rs": [[contacts.clone()]], "summary": [contacts]}]}],
        }))
    }
}

pub(super) fn dashboard(id: u64) -> Answer {
    if id != DASHBOARD_ID {
        return Err(fail(
            404,
            "B00008",
            format!("No [dashboard] found with id [{id}]"),
        ));
    }
    let reports: Vec<Value> = DASHBOARD_REPORTS
        .iter()
        .map(|(id, name)| json!({"id": id, "reportName": name}))
        .collect();
    ok_json(json!({"kanBanName": "y01", "reports": reports}))
}
