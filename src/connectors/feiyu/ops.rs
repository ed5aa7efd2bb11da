//! Feiyu's ops table: every op declared once (see `crate::connectors::ops`).

use super::client::Client;
use super::config::Credentials;
use super::model::{CallbackAnswer, CallbackRequest, CluePage, PullRequest};
use crate::connectors::ops::ops_table;
use crate::connectors::Vendor;

ops_table! {
    vendor: Vendor::Feiyu, client: Client, credentials: Credentials;
    pull_clues("GET /crm/v2/openapi/pull-clues/", "One page of the clues (线索) created in a start_time..end_time window of days",
        example: r#"{"start_time": "2026-11-30", "end_time": "2026-11-30", "page": 1, "page_size": 10}"#)
        : PullRequest => CluePage = |client, request| client.pull_clues(&request);
    clue_callback("POST /crm/v2/openapi/clue/callback/", "Write a conversion state back to a clue: {clue_id, clue_convert_state} (an integer; values are the account's)",
        example: r#"{"clue_id": "6831434361875726350", "clue_convert_state": 3}"#)
        : CallbackRequest => CallbackAnswer = |client, request| client.clue_callback(&request);
}
