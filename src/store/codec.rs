//! Encoding and decoding shared by the backends: a claimed row into a [`Work`], stored call
//! responses into [`PriorCall`]s, and a call's response into the text both journals store.

use super::model::{CallRow, PriorCall, Work, WorkKind};
use super::StoreError;

/// A claimed row as the writer returns it; decoded on the caller's thread.
pub(crate) struct ClaimedRow {
    pub id: i64,
    pub account: String,
    pub attempts: u32,
    pub first_seen_ms: i64,
    pub lead_body: Option<String>,
    pub follow: Option<(String, String, Option<String>, String)>,
    pub job: Option<(String, i64)>,
    pub prior: Vec<PriorRow>,
}

/// A succeeded earlier call as stored: handler, seq, fingerprint, response JSON.
pub(crate) type PriorRow = (String, u32, String, Option<String>);

pub(crate) fn decode_prior(
    work_id: i64,
    rows: Vec<PriorRow>,
) -> Result<Vec<PriorCall>, StoreError> {
    rows.into_iter()
        .map(|(handler, seq, fingerprint, response)| {
            let response = match response {
                Some(text) => serde_json::from_str(&text).map_err(|e| {
                    StoreError::Corrupt(format!("call response of work {work_id}: {e}"))
                })?,
                None => serde_json::Value::Null,
            };
            Ok(PriorCall {
                handler,
                seq,
                fingerprint,
                response,
            })
        })
        .collect()
}

/// A call's response as stored (JSON text), `None` when it had none.
pub(crate) fn serialize_response(
    work_id: i64,
    call: &CallRow,
) -> Result<Option<String>, StoreError> {
    call.response
        .as_ref()
        .map(|v| {
            serde_json::to_string(v)
                .map_err(|e| StoreError::Corrupt(format!("call response of work {work_id}: {e}")))
        })
        .transpose()
}

/// A claimed row as the dispatcher's [`Work`].
pub(crate) fn decode_claimed(row: ClaimedRow) -> Result<Work, StoreError> {
    let kind = match (row.lead_body, row.follow) {
        (None, None) if row.job.is_some() => {
            let (key, slot_ms) = row.job.expect("checked");
            WorkKind::Job { key, slot_ms }
        }
        (Some(body), _) => {
            WorkKind::Lead(Box::new(serde_json::from_str(&body).map_err(|e| {
                StoreError::Corrupt(format!("lead body of work {}: {e}", row.id))
            })?))
        }
        (None, Some((account, msg_id, data_id, record))) => WorkKind::Follow {
            account,
            msg_id,
            data_id,
            record: serde_json::from_str(&record).map_err(|e| {
                StoreError::Corrupt(format!("follow record of work {}: {e}", row.id))
            })?,
        },
        (None, None) => {
            return Err(StoreError::Corrupt(format!(
                "work {} has neither a lead, a follow record nor a job",
                row.id
            )))
        }
    };
    Ok(Work {
        id: row.id,
        kind,
        prior: decode_prior(row.id, row.prior)?,
        account: row.account,
        attempts: row.attempts,
        first_seen_ms: row.first_seen_ms,
    })
}
