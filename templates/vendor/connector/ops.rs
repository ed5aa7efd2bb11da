//! Template's ops table: every op declared once (see `crate::connectors::ops`).

use super::client::Client;
use super::config::Credentials;
use super::model::{Contact, CreateContactRequest, GetContactRequest};
use crate::connectors::ops::ops_table;
use crate::connectors::Vendor;

ops_table! {
    vendor: Vendor::Template, client: Client, credentials: Credentials;
    create_contact("POST /v1/contacts", "Create a contact (name, phone)",
        example: r#"{"name": "李伟", "phone": "13800000001"}"#)
        : CreateContactRequest => Contact = |client, request| client.create_contact(&request);
    get_contact("POST /v1/contacts/get", "One contact by id",
        example: r#"{"id": 1}"#)
        : GetContactRequest => Contact = |client, request| client.get_contact(&request);
}
