//! Xiaolanben's ops table: every op declared once (see `crate::connectors::ops`).

use super::client::Client;
use super::config::Credentials;
use super::model::{ImportBatchResult, ImportCustomerRequest, ImportCustomersRequest, ImportResult, ListAllStaffsRequest, ListStaffsRequest, Staff};
use crate::connectors::ops::ops_table;
use crate::connectors::Vendor;

ops_table! {
    vendor: Vendor::Xiaolanben, client: Client, credentials: Credentials;
    import_customer("POST /blue-crm/api/v1/open/customer/import/customerWithContact", "Create or update one customer (keyed by entName, else customerName) with its contacts",
        example: r#"{"customerName": "杭州丙网络科技有限公司", "staffId": "1002", "contacts": [{"thirdDataId": 1, "name": "李伟", "phone": "13900000000"}]}"#)
        : ImportCustomerRequest => ImportResult = |client, request| client.import_customer(&request);
    import_customers("POST /blue-crm/api/v1/open/customer/import/customersWithContact", "Create or update up to 10 customers; each one reports success or failedReason",
        example: r#"{"customers": [{"customerName": "甲"}, {"customerName": "乙"}]}"#)
        : ImportCustomersRequest => ImportBatchResult = |client, request| client.import_customers(&request);
    list_staffs("GET /blue-crm/api/v1/open/companycenter/staffs", "One page of the staff list (pageIndex from 1, pageSize 2–100, search by name or mobile)",
        example: r#"{"pageSize": 2}"#)
        : ListStaffsRequest => Vec<Staff> = |client, request| client.list_staffs(&request);
    list_all_staffs("GET /blue-crm/api/v1/open/companycenter/staffs (every page)", "The whole staff list, paged until a short page, each staff member once",
        example: r#"{}"#)
        : ListAllStaffsRequest => Vec<Staff> = |client, request| client.list_all_staffs(request.search.as_deref());
}
