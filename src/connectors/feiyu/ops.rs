//! Feiyu's ops table: every op declared once (see `crate::connectors::ops`).

#[allow(unused_imports)]
use serde_json::Value;

use super::client::Client;
use super::model::{CallbackAnswer, CallbackRequest, CluePage, PullRequest};
use crate::connectors::ops::ops_table;
use crate::connectors::Vendor;

ops_table! {
    vendor: Vendor::Feiyu, client: Client;
    pull_clues("GET /crm/v2/openapi/pull-clues/", "One page of the clues (线索) created in a start_time..end_time window of days")
        : PullRequest => CluePage = |client, request| client.pull_clues(&request);
    clue_callback("POST /crm/v2/openapi/clue/callback/", "Write a conversion state back to a clue: {clue_id, clue_convert_state} (an integer; values are the account's)")
        : CallbackRequest => CallbackAnswer = |client, request| client.clue_callback(&request);
}
