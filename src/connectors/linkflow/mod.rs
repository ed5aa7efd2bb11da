//! Linkflow CDP (连接云) open API: implements `vendor-docs/linkflow-cdp.txt` as resolved by
//! `spec/vendors.md` §5 (K-a…K-g).
//!
//! Owns: the token flow (`GET /token` with App Key and Secret, cached per client, single-flight
//! refresh 5 minutes before `expiration`, one retry after a token rejection), typed models for
//! every documented endpoint, and the mapping of Linkflow's bare bodies and
//! `{"domain","code","message"}` errors onto `CallError`. Linkflow signs nothing, so `sign.rs`
//! holds only the pure expiry logic. Does not: know Rhai, journal calls, or build leads.

pub mod client;
pub mod config;
pub mod model;
pub mod multipart;
pub mod sign;

#[cfg(test)]
mod tests;

pub use client::Client;

use super::OpInfo;

const fn op(name: &'static str, endpoint: &'static str, summary: &'static str) -> OpInfo {
    OpInfo {
        name,
        endpoint,
        summary,
    }
}

/// Every op of this vendor, one per documented endpoint (besides `GET /token`).
pub const OPS: &[OpInfo] = &[
    op(
        "send_messages",
        "POST /open/messages",
        "Create/update contacts (contact/set) and track events (event/track)",
    ),
    op(
        "send_orders",
        "POST /open/messages/orders",
        "Create/update orders (salesOrder/set) with their lines",
    ),
    op(
        "find_contact",
        "GET /open/identity/contact",
        "Contact id for an identity (idType, id), or null",
    ),
    op(
        "get_contact_channel_identities",
        "GET /open/contacts/{id}/channel_identities",
        "Channel accounts of a contact",
    ),
    op(
        "list_wecom_qrcodes",
        "GET /open/workwechat/{channelId}/qrcodes",
        "WeCom contact-me QR codes of a channel",
    ),
    op(
        "create_tag",
        "POST /v1/tags",
        "Create an uploadable tag (tagKey, tagName, dataType, identityType)",
    ),
    op(
        "delete_tag",
        "DELETE /v1/tags/tagkeys/{tagKey}",
        "Delete a tag",
    ),
    op(
        "list_tags",
        "GET /v1/tags",
        "One page of tag metadata (page 0-based, size <= 200)",
    ),
    op("list_folders", "GET /open/folders", "Tag folders"),
    op(
        "upload_tag_values",
        "POST /v1/tags/tagkeys/{tagKey}/upload/file/operates/{operate}",
        "Upload a tag-value file (operate overwrite|append; fileName, content)",
    ),
    op(
        "calculate_tag",
        "POST /v1/tags/tagkeys/{tagKey}/calculate",
        "Recalculate a tag",
    ),
    op(
        "export_tag",
        "POST /v1/tags/tagkeys/{tagKey}/export",
        "Start exporting a tag's values (returns taskId)",
    ),
    op(
        "get_tag_export",
        "GET /v1/tags/tagkeys/export/{taskId}",
        "Poll a tag export (status, fileUrl)",
    ),
    op(
        "set_tag_values",
        "POST /v1/tags/value",
        "Set or delete tag values of one contact",
    ),
    op(
        "upload_dimension_data",
        "POST /open/dim/{dimensionId}/data",
        "Upload rows into a dimension table (dimensionId, rows)",
    ),
    op(
        "list_contacts",
        "GET /open/contacts",
        "One page of contacts (page, size <= 200, groupId, search)",
    ),
    op(
        "scan_contacts",
        "GET /open/contacts/cursor",
        "Contacts after the cursor lastMaxId (size <= 200)",
    ),
    op(
        "list_contact_ids",
        "GET /open/contacts_bulk/ids",
        "Contact ids by update time (page*size <= 10000)",
    ),
    op(
        "get_contacts",
        "GET /open/contacts_bulk",
        "Details of up to 100 contacts by id",
    ),
    op(
        "find_contact_identities",
        "POST /open/contacts/identities",
        "The contact owning an identity, with its identities",
    ),
    op(
        "get_contact_tags",
        "POST /open/contacts/tags",
        "Tag values of the contact with an identity (id, type)",
    ),
    op(
        "unbind_identities",
        "DELETE /open/contacts/identities/unbind",
        "Detach identities from a contact",
    ),
    op(
        "list_contact_identities",
        "GET /open/contacts/{id}/identities",
        "Identities of a contact by contact id",
    ),
    op(
        "list_groups",
        "GET /open/groups",
        "Groups, filtered by id, name, groupType, lastUpdated, ext1, ext2",
    ),
    op("create_group", "POST /open/groups", "Create a static group"),
    op("rename_group", "POST /open/groups/{id}", "Rename a group"),
    op("delete_group", "DELETE /open/groups/{id}", "Delete a group"),
    op(
        "list_contact_groups",
        "GET /open/contacts/{contactId}/groups",
        "Groups of a contact",
    ),
    op(
        "list_group_members",
        "GET /open/groups/{groupId}/contacts",
        "Members after the cursor memberId (size <= 500)",
    ),
    op(
        "add_group_members",
        "POST /open/groups/{groupId}/contacts",
        "Add contacts (contactIds) to a static group",
    ),
    op(
        "remove_group_members",
        "DELETE /open/groups/{groupId}/contacts",
        "Remove contacts (contactIds) from a static group",
    ),
    op(
        "list_orders",
        "GET /open/orders",
        "Orders by cursor lastMaxId, or by startTime/endTime window and page (1..=100)",
    ),
    op(
        "get_report",
        "GET /open/report/{reportId}",
        "A report's result (status 0 = still computing)",
    ),
    op(
        "get_dashboard",
        "GET /open/dashboard/{dashboardId}/summary",
        "A dashboard's name and reports",
    ),
    op(
        "create_short_url",
        "POST /open/shorturl",
        "A tracked short link (url, utm)",
    ),
    op(
        "create_distribute_short_url",
        "POST /open/shorturl/distribute",
        "A per-contact short link (utm.term = contact id)",
    ),
];
