//! Waiqin's ops table: every op declared once (see `crate::connectors::ops`).

use super::client::Client;
use super::config::Credentials;
use super::model::{AddSalesLeadsApaasRequest, AddSalesLeadsRequest, ApaasSalesLead, ModifySalesLeadsApaasRequest, ModifySalesLeadsRequest, QuerySalesLeadsApaasRequest, QuerySalesLeadsRequest, RemoveSalesLeadsRequest, SalesLead, WriteAck};
use crate::connectors::ops::ops_table;
use crate::connectors::Vendor;

ops_table! {
    vendor: Vendor::Waiqin, client: Client, credentials: Credentials;
    add_sales_leads("POST /salesleads/v1/addSalesLeads/{openid}/{timestamp}/{digest}/{msg_id}", "Create a lead (empName or poolName required; code is unique)",
        example: r#"{"poolName": "线索池", "code": "CONTRACT-1", "linkman": "张伟", "mobile": "13900000000"}"#)
        : AddSalesLeadsRequest => WriteAck = |client, request| client.add_sales_leads(&request);
    add_sales_leads_apaas("POST /salesleads/v1/addSalesLeadsForApaas/{openid}/{timestamp}/{digest}/{msg_id}", "Create a lead in the aPaaS data model",
        example: r#"{"code": "CONTRACT-2", "allocation_status": "0", "pool_name": "线索池", "linkman": "张伟"}"#)
        : AddSalesLeadsApaasRequest => WriteAck = |client, request| client.add_sales_leads_apaas(&request);
    modify_sales_leads("POST /salesleads/v1/modifySalesLeads/{openid}/{timestamp}/{digest}/{msg_id}", "Update a lead found by id or code",
        example: r#"{"code": "CONTRACT-1", "linkman": "张伟伟"}"#)
        : ModifySalesLeadsRequest => WriteAck = |client, request| client.modify_sales_leads(&request);
    modify_sales_leads_apaas("POST /salesleads/v1/modifySalesLeadsForApaas/{openid}/{timestamp}/{digest}/{msg_id}", "Update an aPaaS lead found by id or code",
        example: r#"{"code": "CONTRACT-2", "linkman": "张伟伟"}"#)
        : ModifySalesLeadsApaasRequest => WriteAck = |client, request| client.modify_sales_leads_apaas(&request);
    remove_sales_leads("POST /salesleads/v1/removeSalesLeads/{openid}/{timestamp}/{digest}/{msg_id}", "Void a lead found by id or code",
        example: r#"{"code": "CONTRACT-1", "content": "重复线索"}"#)
        : RemoveSalesLeadsRequest => WriteAck = |client, request| client.remove_sales_leads(&request);
    query_sales_leads("POST /salesleads/v1/querySalesLeads/{openid}/{timestamp}/{digest}/{msg_id}", "Query one page of leads (at least one condition; page/pageSize)",
        example: r#"{"code": "CONTRACT-1", "page": 1, "pageSize": 10}"#)
        : QuerySalesLeadsRequest => Vec<SalesLead> = |client, request| client.query_sales_leads(&request);
    query_sales_leads_apaas("POST /salesleads/v1/querySalesLeadsForApaas/{openid}/{timestamp}/{digest}/{msg_id}", "Query one page of aPaaS leads (conditions, sorts, query_group)",
        example: r#"{"code": "CONTRACT-2", "page": 1, "pageSize": 10}"#)
        : QuerySalesLeadsApaasRequest => Vec<ApaasSalesLead> = |client, request| client.query_sales_leads_apaas(&request);
}
