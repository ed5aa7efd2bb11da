//! Waiqin's ops table: every op declared once (see `crate::connectors::ops`).

#[allow(unused_imports)]
use serde_json::Value;

use super::client::Client;
use super::model::{AddSalesLeadsApaasRequest, AddSalesLeadsRequest, ApaasSalesLead, ModifySalesLeadsApaasRequest, ModifySalesLeadsRequest, QuerySalesLeadsApaasRequest, QuerySalesLeadsRequest, RemoveSalesLeadsRequest, SalesLead, WriteAck};
use crate::connectors::ops::ops_table;
use crate::connectors::Vendor;

ops_table! {
    vendor: Vendor::Waiqin, client: Client;
    add_sales_leads("POST /salesleads/v1/addSalesLeads/{openid}/{timestamp}/{digest}/{msg_id}", "Create a lead (empName or poolName required; code is unique)")
        : AddSalesLeadsRequest => WriteAck = |client, request| client.add_sales_leads(&request);
    add_sales_leads_apaas("POST /salesleads/v1/addSalesLeadsForApaas/{openid}/{timestamp}/{digest}/{msg_id}", "Create a lead in the aPaaS data model")
        : AddSalesLeadsApaasRequest => WriteAck = |client, request| client.add_sales_leads_apaas(&request);
    modify_sales_leads("POST /salesleads/v1/modifySalesLeads/{openid}/{timestamp}/{digest}/{msg_id}", "Update a lead found by id or code")
        : ModifySalesLeadsRequest => WriteAck = |client, request| client.modify_sales_leads(&request);
    modify_sales_leads_apaas("POST /salesleads/v1/modifySalesLeadsForApaas/{openid}/{timestamp}/{digest}/{msg_id}", "Update an aPaaS lead found by id or code")
        : ModifySalesLeadsApaasRequest => WriteAck = |client, request| client.modify_sales_leads_apaas(&request);
    remove_sales_leads("POST /salesleads/v1/removeSalesLeads/{openid}/{timestamp}/{digest}/{msg_id}", "Void a lead found by id or code")
        : RemoveSalesLeadsRequest => WriteAck = |client, request| client.remove_sales_leads(&request);
    query_sales_leads("POST /salesleads/v1/querySalesLeads/{openid}/{timestamp}/{digest}/{msg_id}", "Query one page of leads (at least one condition; page/pageSize)")
        : QuerySalesLeadsRequest => Vec<SalesLead> = |client, request| client.query_sales_leads(&request);
    query_sales_leads_apaas("POST /salesleads/v1/querySalesLeadsForApaas/{openid}/{timestamp}/{digest}/{msg_id}", "Query one page of aPaaS leads (conditions, sorts, query_group)")
        : QuerySalesLeadsApaasRequest => Vec<ApaasSalesLead> = |client, request| client.query_sales_leads_apaas(&request);
}
