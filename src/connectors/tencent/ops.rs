//! Tencent's ops table: every op declared once (see `crate::connectors::ops`).

use super::client::Client;
use super::config::Credentials;
use super::model::{Ack, ListLeadsPage, ListLeadsRequest, ReportPersonalWechatRequest, ReportRequest, SetLeadsStatusSystemRequest};
use crate::connectors::ops::ops_table;
use crate::connectors::Vendor;

ops_table! {
    vendor: Vendor::Tencent, client: Client, credentials: Credentials;
    list_leads("GET /leads/list", "One page of leads in a time window (start_time, end_time, page, page_size ≤ 200)",
        example: r#"{"start_time": 1780000000, "end_time": 1780086400, "time_type": 1, "page": 1, "page_size": 10}"#)
        : ListLeadsRequest => ListLeadsPage = |client, request| client.list_leads(&request);
    report("POST /leads/report", "Report lead statuses back: {\"list\": [{leads_id, leads_convert_type, …}]}, ≤ 50 items",
        example: r#"{"list": [{"leads_id": 1001, "leads_intention_score": "LEADS_INTENTION_SCORE_LEVEL_5"}]}"#)
        : ReportRequest => Ack = |client, request| client.report(&request);
    set_leads_status_system("POST /leads/set_leads_status_system", "Choose the status system of an account: 1 standard, 2 industry",
        example: r#"{"account_id": 25610, "leads_status_system_option": 1}"#)
        : SetLeadsStatusSystemRequest => Ack = |client, request| client.set_leads_status_system(&request);
    report_personal_wechat("POST /leads/report_personal_wechat", "Report a personal-WeChat add-friend lead (uuid, account_id, app_id, open_id, …)",
        example: r#"{"uuid": "u-1", "account_id": 25610, "app_id": "wx123", "open_id": "o-1", "avatar_url": "https://example.com/a.png", "nickname": "李伟", "click_id": "c-1", "action_time": "2026-11-30 10:00:00"}"#)
        : ReportPersonalWechatRequest => Ack = |client, request| client.report_personal_wechat(&request);
}
