//! Linkflow's ops table: every op declared once (see `crate::connectors::ops`).


use serde_json::Value;

use super::client::{Client, NoParams};
use super::config::Credentials;
use super::model::{ChannelIdentity, Contact, ContactIdRequest, ContactIdentities, ContactTag, CreateGroupRequest, CreateTagRequest, Dashboard, DashboardRequest, ExportTagRequest, FindContactIdentitiesRequest, FindContactRequest, Folder, GetContactsRequest, Group, GroupIdRequest, GroupMember, GroupMembersRequest, Id, Identity, IdentityRecord, ListContactGroupsRequest, ListContactIdsRequest, ListContactsRequest, ListGroupMembersRequest, ListGroupsRequest, ListOrdersRequest, ListQrcodesRequest, ListTagsRequest, MembershipChange, MessageBatch, Order, Qrcode, RenameGroupRequest, Report, ReportRequest, ScanContactsRequest, SetTagValuesRequest, ShortUrl, ShortUrlRequest, Tag, TagExport, TagKeyRequest, TagUpload, TaskIdRequest, UnbindIdentitiesRequest, UploadDimensionDataRequest, UploadTagValuesRequest};
use crate::connectors::ops::ops_table;
use crate::connectors::Vendor;

ops_table! {
    vendor: Vendor::Linkflow, client: Client, credentials: Credentials;
    send_messages("POST /open/messages", "Create/update contacts (contact/set) and track events (event/track)",
        example: r#"{"channelKey": "udc_12SyQfFmg", "identities": [{"id": "13800000001", "type": "mobilePhone"}], "messages": [{"domain": "contact", "action": "set", "data": {"name": "李伟"}}]}"#)
        : MessageBatch => Value = |client, request| client.send_messages(&request);
    send_orders("POST /open/messages/orders", "Create/update orders (salesOrder/set) with their lines",
        example: r#"{"channelKey": "udc_12SyQfFmg", "channelType": "YOUZAN", "identities": [{"id": "13800000001", "type": "mobilePhone"}], "messages": [{"message_id": "o-1", "domain": "salesOrder", "action": "set", "data": {"saleChannel": "有赞", "orderId": "E20221028", "orderStatus": "TRADE_PAID", "orderDate": "2022-10-28 10:33:44", "totalPrice": 100.24, "lines": [{"lineId": "L20221028", "productName": "维生素C", "quantity": 2, "price": 50.12}]}}]}"#)
        : MessageBatch => Value = |client, request| client.send_orders(&request);
    find_contact("GET /open/identity/contact", "Contact id for an identity (idType, id), or null",
        example: r#"{"idType": "mobilePhone", "id": "13800000001"}"#)
        : FindContactRequest => Option<Id> = |client, request| client.find_contact(&request);
    get_contact_channel_identities("GET /open/contacts/{id}/channel_identities", "Channel accounts of a contact",
        example: r#"{"id": 9007199254740993}"#)
        : ContactIdRequest => Vec<ChannelIdentity> = |client, request| client.get_contact_channel_identities(&request);
    list_wecom_qrcodes("GET /open/workwechat/{channelId}/qrcodes", "WeCom contact-me QR codes of a channel",
        example: r#"{"channelId": "ww0b8772cfc1ed757c"}"#)
        : ListQrcodesRequest => Vec<Qrcode> = |client, request| client.list_wecom_qrcodes(&request);
    create_tag("POST /v1/tags", "Create an uploadable tag (tagKey, tagName, dataType, identityType)",
        example: r#"{"tagKey": "tag_level", "tagName": "等级", "dataType": "text", "identityType": "mobilePhone"}"#)
        : CreateTagRequest => Tag = |client, request| client.create_tag(&request);
    delete_tag("DELETE /v1/tags/tagkeys/{tagKey}", "Delete a tag",
        example: r#"{"tagKey": "tag_unused"}"#)
        : TagKeyRequest => Value = |client, request| client.delete_tag(&request);
    list_tags("GET /v1/tags", "One page of tag metadata (page 0-based, size <= 200)",
        example: r#"{"page": 0, "size": 10}"#)
        : ListTagsRequest => Vec<Tag> = |client, request| client.list_tags(&request);
    list_folders("GET /open/folders", "Tag folders",
        example: r#"{}"#)
        : NoParams => Vec<Folder> = |client, _request| client.list_folders();
    upload_tag_values("POST /v1/tags/tagkeys/{tagKey}/upload/file/operates/{operate}", "Upload a tag-value file (operate overwrite|append; fileName, content)",
        example: r#"{"tagKey": "tag_level", "operate": "append", "fileName": "等级.csv", "content": "mobilePhone,value\n13800000001,A\n"}"#)
        : UploadTagValuesRequest => TagUpload = |client, request| client.upload_tag_values(&request);
    calculate_tag("POST /v1/tags/tagkeys/{tagKey}/calculate", "Recalculate a tag",
        example: r#"{"tagKey": "tag_level"}"#)
        : TagKeyRequest => Value = |client, request| client.calculate_tag(&request);
    export_tag("POST /v1/tags/tagkeys/{tagKey}/export", "Start exporting a tag's values (returns taskId)",
        example: r#"{"tagKey": "tag_level", "identityType": "mobilePhone"}"#)
        : ExportTagRequest => TagExport = |client, request| client.export_tag(&request);
    get_tag_export("GET /v1/tags/tagkeys/export/{taskId}", "Poll a tag export (status, fileUrl)",
        example: r#"{"taskId": 1}"#)
        : TaskIdRequest => TagExport = |client, request| client.get_tag_export(&request);
    set_tag_values("POST /v1/tags/value", "Set or delete tag values of one contact",
        example: r#"{"identity": {"id": "13800000001", "type": "mobilePhone"}, "actions": [{"tagId": 1, "value": "A,B", "action": "set"}]}"#)
        : SetTagValuesRequest => Value = |client, request| client.set_tag_values(&request);
    upload_dimension_data("POST /open/dim/{dimensionId}/data", "Upload rows into a dimension table (dimensionId, rows)",
        example: r#"{"dimensionId": "dim_color", "rows": [{"id": "1", "color": "红色"}]}"#)
        : UploadDimensionDataRequest => Value = |client, request| client.upload_dimension_data(&request);
    list_contacts("GET /open/contacts", "One page of contacts (page, size <= 200, groupId, search)",
        example: r#"{"page": 0, "size": 3}"#)
        : ListContactsRequest => Vec<Contact> = |client, request| client.list_contacts(&request);
    scan_contacts("GET /open/contacts/cursor", "Contacts after the cursor lastMaxId (size <= 200)",
        example: r#"{"lastMaxId": 0, "size": 200}"#)
        : ScanContactsRequest => Vec<Contact> = |client, request| client.scan_contacts(&request);
    list_contact_ids("GET /open/contacts_bulk/ids", "Contact ids by update time (page*size <= 10000)",
        example: r#"{"page": 0, "size": 100, "minUpdateTime": "2026-11-01", "maxUpdateTime": "2026-12-31"}"#)
        : ListContactIdsRequest => Vec<Id> = |client, request| client.list_contact_ids(&request);
    get_contacts("GET /open/contacts_bulk", "Details of up to 100 contacts by id",
        example: r#"{"ids": [9007199254740993], "needOpenId": true}"#)
        : GetContactsRequest => Vec<Contact> = |client, request| client.get_contacts(&request);
    find_contact_identities("POST /open/contacts/identities", "The contact owning an identity, with its identities",
        example: r#"{"identity": {"id": "13800000001", "type": "mobilePhone"}, "identityTypes": ["email"]}"#)
        : FindContactIdentitiesRequest => ContactIdentities = |client, request| client.find_contact_identities(&request);
    get_contact_tags("POST /open/contacts/tags", "Tag values of the contact with an identity (id, type)",
        example: r#"{"id": "13800000001", "type": "mobilePhone"}"#)
        : Identity => Vec<ContactTag> = |client, request| client.get_contact_tags(&request);
    unbind_identities("DELETE /open/contacts/identities/unbind", "Detach identities from a contact",
        example: r#"{"contactId": 9007199254740993, "identities": [{"id": "li@example.com", "type": "email"}]}"#)
        : UnbindIdentitiesRequest => Value = |client, request| client.unbind_identities(&request);
    list_contact_identities("GET /open/contacts/{id}/identities", "Identities of a contact by contact id",
        example: r#"{"id": "9007199254740993"}"#)
        : ContactIdRequest => Vec<IdentityRecord> = |client, request| client.list_contact_identities(&request);
    list_groups("GET /open/groups", "Groups, filtered by id, name, groupType, lastUpdated, ext1, ext2",
        example: r#"{"name": "双11", "groupType": "static"}"#)
        : ListGroupsRequest => Vec<Group> = |client, request| client.list_groups(&request);
    create_group("POST /open/groups", "Create a static group",
        example: r#"{"name": "双11vip客户"}"#)
        : CreateGroupRequest => Group = |client, request| client.create_group(&request);
    rename_group("POST /open/groups/{id}", "Rename a group",
        example: r#"{"id": 1, "name": "双12vip客户"}"#)
        : RenameGroupRequest => Value = |client, request| client.rename_group(&request);
    delete_group("DELETE /open/groups/{id}", "Delete a group",
        example: r#"{"id": 1}"#)
        : GroupIdRequest => Value = |client, request| client.delete_group(&request);
    list_contact_groups("GET /open/contacts/{contactId}/groups", "Groups of a contact",
        example: r#"{"contactId": 9007199254740993, "groupType": "static"}"#)
        : ListContactGroupsRequest => Vec<Group> = |client, request| client.list_contact_groups(&request);
    list_group_members("GET /open/groups/{groupId}/contacts", "Members after the cursor memberId (size <= 500)",
        example: r#"{"groupId": 1, "size": 10}"#)
        : ListGroupMembersRequest => Vec<GroupMember> = |client, request| client.list_group_members(&request);
    add_group_members("POST /open/groups/{groupId}/contacts", "Add contacts (contactIds) to a static group",
        example: r#"{"groupId": 1, "contactIds": [9007199254740993]}"#)
        : GroupMembersRequest => MembershipChange = |client, request| client.add_group_members(&request);
    remove_group_members("DELETE /open/groups/{groupId}/contacts", "Remove contacts (contactIds) from a static group",
        example: r#"{"groupId": 1, "contactIds": [9007199254740993]}"#)
        : GroupMembersRequest => MembershipChange = |client, request| client.remove_group_members(&request);
    list_orders("GET /open/orders", "Orders by cursor lastMaxId, or by startTime/endTime window and page (1..=100)",
        example: r#"{"lastMaxId": 0}"#)
        : ListOrdersRequest => Vec<Order> = |client, request| client.list_orders(&request);
    get_report("GET /open/report/{reportId}", "A report's result (status 0 = still computing)",
        example: r#"{"reportId": 1}"#)
        : ReportRequest => Report = |client, request| client.get_report(&request);
    get_dashboard("GET /open/dashboard/{dashboardId}/summary", "A dashboard's name and reports",
        example: r#"{"dashboardId": 1}"#)
        : DashboardRequest => Dashboard = |client, request| client.get_dashboard(&request);
    create_short_url("POST /open/shorturl", "A tracked short link (url, utm)",
        example: r#"{"url": "https://example.com/landing", "utm": {"source": "leadrelay"}}"#)
        : ShortUrlRequest => ShortUrl = |client, request| client.create_short_url(&request);
    create_distribute_short_url("POST /open/shorturl/distribute", "A per-contact short link (utm.term = contact id)",
        example: r#"{"url": "https://example.com/landing", "utm": {"term": "9007199254740993"}}"#)
        : ShortUrlRequest => ShortUrl = |client, request| client.create_distribute_short_url(&request);
}
