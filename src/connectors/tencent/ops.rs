//! Tencent's ops table: every op declared once (see `crate::connectors::ops`).

#[allow(unused_imports)]
use serde_json::Value;

use super::client::Client;
use super::model::{Ack, ListLeadsPage, ListLeadsRequest, ReportPersonalWechatRequest, ReportRequest, SetLeadsStatusSystemRequest};
use crate::connectors::ops::ops_table;
use crate::connectors::Vendor;

ops_table! {
    vendor: Vendor::Tencent, client: Client;
    list_leads("GET /leads/list", "One page of leads in a time window (start_time, end_time, page, page_size ≤ 200)")
        : ListLeadsRequest => ListLeadsPage = |client, request| client.list_leads(&request);
    report("POST /leads/report", "Report lead statuses back: {\"list\": [{leads_id, leads_convert_type, …}]}, ≤ 50 items")
        : ReportRequest => Ack = |client, request| client.report(&request);
    set_leads_status_system("POST /leads/set_leads_status_system", "Choose the status system of an account: 1 standard, 2 industry")
        : SetLeadsStatusSystemRequest => Ack = |client, request| client.set_leads_status_system(&request);
    report_personal_wechat("POST /leads/report_personal_wechat", "Report a personal-WeChat add-friend lead (uuid, account_id, app_id, open_id, …)")
        : ReportPersonalWechatRequest => Ack = |client, request| client.report_personal_wechat(&request);
}
