//! The async Linkflow client: token cache with single-flight refresh, one typed method per
//! endpoint, and the mapping of Linkflow's bare-body envelope onto [`CallError`].
//!
//! Token policy (spec §5.3): the token lives in the client and is shared by every clone; it is
//! refreshed when `now >= expiration - 5 min` under one async mutex, so concurrent callers
//! wait for a single `GET /token`. A request rejected for its token (HTTP 401/403, or an error
//! body naming the token) is retried exactly once with a fresh token.
//!
//! Error policy: success is any 2xx with a bare body (object, array, number, `null` or empty).
//! An error is a non-2xx status, or an error body `{"domain":"linkflow","code","message"}`
//! even under 2xx. The vendor sends business refusals such as "tag exists" under HTTP 500, so a
//! known B-code decides the kind before the status does; unknown codes fall back to the status
//! (5xx and 429 retryable, 401/403 Auth, 404 Business, 420 and other 4xx InvalidRequest, K-g).

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::Mutex;

use super::config::Credentials;
use super::model::*;
use super::multipart;
use super::sign::{needs_refresh, parse_expiration};
use crate::connectors::http::RawResponse;
use crate::connectors::{CallError, ClientContext, FailureKind, Invalid, Vendor};
use crate::secret::Secret;

const VENDOR: Vendor = Vendor::Linkflow;

/// Codes that say the request's parameters are wrong: fixing the payload is the only cure.
const PARAMETER_CODES: &[&str] = &[
    "B00002", "B00010", "B00030", "B00031", "B00093", "B01157", "B01163", "B01206", "B01403",
    "B01404",
];

/// Codes that refuse a create because its key exists (spec §5.4): 群组已存在, 群组名已存在,
/// 标签已存在. What scripts see as `e.kind == "exists"`.
const EXISTS_CODES: &[&str] = &["B00001", "B01102", "B01151"];

/// Codes that refuse the request on other business grounds (not found, quota, state).
const BUSINESS_CODES: &[&str] = &[
    "B00008", "B00022", "B00037", "B00043", "B00157", "B00159", "B01152", "B01162", "B01165",
    "B01201", "B01205", "B01376", "B01402", "B01405",
];

/// A cached access token.
#[derive(Clone)]
struct Token {
    value: Secret,
    expires_at: DateTime<Utc>,
}

/// A request body, serialized once so a token retry resends the very same bytes.
#[derive(Clone)]
enum Body {
    Empty,
    Json(Bytes),
    Multipart { content_type: String, bytes: Bytes },
}

/// One prepared request.
struct Call {
    op: &'static str,
    method: Method,
    path: String,
    query: Vec<(&'static str, String)>,
    body: Body,
}

impl Call {
    fn new(op: &'static str, method: Method, path: impl Into<String>) -> Self {
        Self {
            op,
            method,
            path: path.into(),
            query: Vec::new(),
            body: Body::Empty,
        }
    }

    fn query(mut self, key: &'static str, value: Option<impl ToString>) -> Self {
        if let Some(v) = value {
            self.query.push((key, v.to_string()));
        }
        self
    }
}

/// Client for one Linkflow account. Clones share the token cache.
#[derive(Clone)]
pub struct Client {
    ctx: ClientContext,
    credentials: Credentials,
    token: Arc<Mutex<Option<Token>>>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The token is a credential: show only whether one is cached.
        let cached = self.token.try_lock().map(|t| t.is_some()).ok();
        f.debug_struct("linkflow::Client")
            .field("account", &self.ctx.account)
            .field("base_url", &self.ctx.base_url)
            .field("credentials", &self.credentials)
            .field("token_cached", &cached)
            .finish()
    }
}


impl Client {
    /// The account this client calls for.
    pub fn account(&self) -> &str {
        &self.ctx.account
    }

    /// Builds a client; no request is made until the first call.
    pub fn new(ctx: ClientContext, credentials: Credentials) -> Self {
        Self {
            ctx,
            credentials,
            token: Arc::new(Mutex::new(None)),
        }
    }


    // -----------------------------------------------------------------------------------------
    // Contacts and events
    // -----------------------------------------------------------------------------------------

    /// `POST /open/messages`: contact `set` and event `track` messages. A message without `ts`
    /// gets the client clock's epoch milliseconds. Answers the vendor's body (usually `null`).
    pub async fn send_messages(&self, batch: &MessageBatch) -> Result<Value, CallError> {
        const OP: &str = "send_messages";
        batch.validate_messages().map_err(|e| self.invalid(OP, e))?;
        let batch = self.stamp(batch);
        let call = self.json(Call::new(OP, Method::POST, "/open/messages"), &batch)?;
        self.execute(call).await
    }

    /// `POST /open/messages/orders`: `salesOrder`/`set` messages (K-b, K-c).
    pub async fn send_orders(&self, batch: &MessageBatch) -> Result<Value, CallError> {
        const OP: &str = "send_orders";
        batch.validate_orders().map_err(|e| self.invalid(OP, e))?;
        let batch = self.stamp(batch);
        let call = self.json(Call::new(OP, Method::POST, "/open/messages/orders"), &batch)?;
        self.execute(call).await
    }

    fn stamp(&self, batch: &MessageBatch) -> MessageBatch {
        let now = self.ctx.clock.unix_millis();
        let mut batch = batch.clone();
        for m in &mut batch.messages {
            m.ts.get_or_insert(now);
        }
        batch
    }

    /// `GET /open/identity/contact`: the id of the contact with this identity, or `None`.
    pub async fn find_contact(&self, req: &FindContactRequest) -> Result<Option<Id>, CallError> {
        const OP: &str = "find_contact";
        req.validate().map_err(|e| self.invalid(OP, e))?;
        let call = Call::new(OP, Method::GET, "/open/identity/contact")
            .query("idType", Some(&req.id_type))
            .query("id", Some(&req.id));
        self.execute(call).await
    }

    /// `GET /open/contacts/{id}/channel_identities`.
    pub async fn get_contact_channel_identities(
        &self,
        req: &ContactIdRequest,
    ) -> Result<Vec<ChannelIdentity>, CallError> {
        let path = format!("/open/contacts/{}/channel_identities", req.id);
        self.list(Call::new(
            "get_contact_channel_identities",
            Method::GET,
            path,
        ))
        .await
    }

    /// `GET /open/contacts`: one 0-based page.
    pub async fn list_contacts(
        &self,
        req: &ListContactsRequest,
    ) -> Result<Vec<Contact>, CallError> {
        const OP: &str = "list_contacts";
        req.validate().map_err(|e| self.invalid(OP, e))?;
        let call = Call::new(OP, Method::GET, "/open/contacts")
            .query("page", req.page)
            .query("size", req.size)
            .query("groupId", req.group_id)
            .query("search", req.search.as_ref());
        self.list(call).await
    }

    /// `GET /open/contacts/cursor`: contacts with ids above `lastMaxId`; the next cursor is the
    /// largest `id` returned.
    pub async fn scan_contacts(
        &self,
        req: &ScanContactsRequest,
    ) -> Result<Vec<Contact>, CallError> {
        const OP: &str = "scan_contacts";
        req.validate().map_err(|e| self.invalid(OP, e))?;
        let call = Call::new(OP, Method::GET, "/open/contacts/cursor")
            .query("lastMaxId", Some(req.last_max_id))
            .query("size", req.size);
        self.list(call).await
    }

    /// `GET /open/contacts_bulk/ids`: contact ids by update time.
    pub async fn list_contact_ids(
        &self,
        req: &ListContactIdsRequest,
    ) -> Result<Vec<Id>, CallError> {
        const OP: &str = "list_contact_ids";
        req.validate().map_err(|e| self.invalid(OP, e))?;
        let call = Call::new(OP, Method::GET, "/open/contacts_bulk/ids")
            .query("page", Some(req.page))
            .query("size", req.size)
            .query("minUpdateTime", req.min_update_time.as_ref())
            .query("maxUpdateTime", req.max_update_time.as_ref())
            .query("anonymous", req.anonymous);
        self.list(call).await
    }

    /// `GET /open/contacts_bulk`: details of up to 100 contacts.
    pub async fn get_contacts(&self, req: &GetContactsRequest) -> Result<Vec<Contact>, CallError> {
        const OP: &str = "get_contacts";
        req.validate().map_err(|e| self.invalid(OP, e))?;
        let ids: Vec<String> = req.ids.iter().map(Id::to_string).collect();
        let call = Call::new(OP, Method::GET, "/open/contacts_bulk")
            .query("ids", Some(ids.join(",")))
            .query("needOpenId", req.need_open_id.then_some(1));
        self.list(call).await
    }

    /// `POST /open/contacts/identities`: the contact owning an identity, with its identities.
    pub async fn find_contact_identities(
        &self,
        req: &FindContactIdentitiesRequest,
    ) -> Result<ContactIdentities, CallError> {
        const OP: &str = "find_contact_identities";
        req.validate().map_err(|e| self.invalid(OP, e))?;
        let call = self.json(
            Call::new(OP, Method::POST, "/open/contacts/identities"),
            req,
        )?;
        self.execute(call).await
    }

    /// `POST /open/contacts/tags`: tag values of the contact with this identity.
    pub async fn get_contact_tags(&self, req: &Identity) -> Result<Vec<ContactTag>, CallError> {
        const OP: &str = "get_contact_tags";
        req.validate_as("").map_err(|e| self.invalid(OP, e))?;
        let call = self.json(Call::new(OP, Method::POST, "/open/contacts/tags"), req)?;
        self.list(call).await
    }

    /// `DELETE /open/contacts/identities/unbind` (K-e: leading slash added).
    pub async fn unbind_identities(
        &self,
        req: &UnbindIdentitiesRequest,
    ) -> Result<Value, CallError> {
        const OP: &str = "unbind_identities";
        req.validate().map_err(|e| self.invalid(OP, e))?;
        let call = self.json(
            Call::new(OP, Method::DELETE, "/open/contacts/identities/unbind"),
            req,
        )?;
        self.execute(call).await
    }

    /// `GET /open/contacts/{id}/identities`.
    pub async fn list_contact_identities(
        &self,
        req: &ContactIdRequest,
    ) -> Result<Vec<IdentityRecord>, CallError> {
        let path = format!("/open/contacts/{}/identities", req.id);
        self.list(Call::new("list_contact_identities", Method::GET, path))
            .await
    }

    // -----------------------------------------------------------------------------------------
    // WeCom
    // -----------------------------------------------------------------------------------------

    /// `GET /open/workwechat/{channelId}/qrcodes`.
    pub async fn list_wecom_qrcodes(
        &self,
        req: &ListQrcodesRequest,
    ) -> Result<Vec<Qrcode>, CallError> {
        const OP: &str = "list_wecom_qrcodes";
        req.validate().map_err(|e| self.invalid(OP, e))?;
        let path = format!("/open/workwechat/{}/qrcodes", encode(&req.channel_id));
        self.list(Call::new(OP, Method::GET, path)).await
    }

    // -----------------------------------------------------------------------------------------
    // Tags
    // -----------------------------------------------------------------------------------------

    /// `POST /v1/tags`: create an uploadable tag (`tagType` defaults to `UPLOAD`).
    pub async fn create_tag(&self, req: &CreateTagRequest) -> Result<Tag, CallError> {
        const OP: &str = "create_tag";
        req.validate().map_err(|e| self.invalid(OP, e))?;
        let mut body = req.clone();
        body.tag_type.get_or_insert_with(|| "UPLOAD".to_string());
        let call = self.json(Call::new(OP, Method::POST, "/v1/tags"), &body)?;
        self.execute(call).await
    }

    /// `DELETE /v1/tags/tagkeys/{tagKey}`.
    pub async fn delete_tag(&self, req: &TagKeyRequest) -> Result<Value, CallError> {
        const OP: &str = "delete_tag";
        req.validate().map_err(|e| self.invalid(OP, e))?;
        let path = format!("/v1/tags/tagkeys/{}", req.tag_key);
        self.execute(Call::new(OP, Method::DELETE, path)).await
    }

    /// `GET /v1/tags?page=&size=` (size 200 when absent).
    pub async fn list_tags(&self, req: &ListTagsRequest) -> Result<Vec<Tag>, CallError> {
        const OP: &str = "list_tags";
        req.validate().map_err(|e| self.invalid(OP, e))?;
        let call = Call::new(OP, Method::GET, "/v1/tags")
            .query("size", Some(req.size.unwrap_or(200)))
            .query("page", Some(req.page));
        self.list(call).await
    }

    /// `GET /open/folders`.
    pub async fn list_folders(&self) -> Result<Vec<Folder>, CallError> {
        self.list(Call::new("list_folders", Method::GET, "/open/folders"))
            .await
    }

    /// `POST /v1/tags/tagkeys/{tagKey}/upload/file/operates/{operate}`: the content goes as the
    /// multipart part `file`.
    pub async fn upload_tag_values(
        &self,
        req: &UploadTagValuesRequest,
    ) -> Result<TagUpload, CallError> {
        const OP: &str = "upload_tag_values";
        req.validate().map_err(|e| self.invalid(OP, e))?;
        let boundary = format!("leadrelay-{}", uuid::Uuid::new_v4().simple());
        let part = multipart::file_part(
            &boundary,
            "file",
            &req.file_name,
            req.part_content_type(),
            req.content.as_bytes(),
        )
        .ok_or_else(|| {
            self.invalid(
                OP,
                Invalid::new("content", "contains the multipart boundary"),
            )
        })?;
        let path = format!(
            "/v1/tags/tagkeys/{}/upload/file/operates/{}",
            req.tag_key, req.operate
        );
        let mut call = Call::new(OP, Method::POST, path);
        call.body = Body::Multipart {
            content_type: part.content_type,
            bytes: Bytes::from(part.bytes),
        };
        self.execute(call).await
    }

    /// `POST /v1/tags/tagkeys/{tagKey}/calculate`.
    pub async fn calculate_tag(&self, req: &TagKeyRequest) -> Result<Value, CallError> {
        const OP: &str = "calculate_tag";
        req.validate().map_err(|e| self.invalid(OP, e))?;
        let path = format!("/v1/tags/tagkeys/{}/calculate", req.tag_key);
        self.execute(Call::new(OP, Method::POST, path)).await
    }

    /// `POST /v1/tags/tagkeys/{tagKey}/export`: starts an export task.
    pub async fn export_tag(&self, req: &ExportTagRequest) -> Result<TagExport, CallError> {
        const OP: &str = "export_tag";
        req.validate().map_err(|e| self.invalid(OP, e))?;
        let path = format!("/v1/tags/tagkeys/{}/export", req.tag_key);
        let call = self.json(Call::new(OP, Method::POST, path), req)?;
        self.execute(call).await
    }

    /// `GET /v1/tags/tagkeys/export/{taskId}`: polls an export task.
    pub async fn get_tag_export(&self, req: &TaskIdRequest) -> Result<TagExport, CallError> {
        let path = format!("/v1/tags/tagkeys/export/{}", req.task_id);
        self.execute(Call::new("get_tag_export", Method::GET, path))
            .await
    }

    /// `POST /v1/tags/value`: set or delete tag values of one contact.
    pub async fn set_tag_values(&self, req: &SetTagValuesRequest) -> Result<Value, CallError> {
        const OP: &str = "set_tag_values";
        req.validate().map_err(|e| self.invalid(OP, e))?;
        let call = self.json(Call::new(OP, Method::POST, "/v1/tags/value"), req)?;
        self.execute(call).await
    }

    /// `POST /open/dim/{dimensionId}/data`: the rows as a bare JSON array.
    pub async fn upload_dimension_data(
        &self,
        req: &UploadDimensionDataRequest,
    ) -> Result<Value, CallError> {
        const OP: &str = "upload_dimension_data";
        req.validate().map_err(|e| self.invalid(OP, e))?;
        let path = format!("/open/dim/{}/data", encode(&req.dimension_id));
        let call = self.json(Call::new(OP, Method::POST, path), &req.rows)?;
        self.execute(call).await
    }

    // -----------------------------------------------------------------------------------------
    // Groups
    // -----------------------------------------------------------------------------------------

    /// `GET /open/groups` with optional filters.
    pub async fn list_groups(&self, req: &ListGroupsRequest) -> Result<Vec<Group>, CallError> {
        const OP: &str = "list_groups";
        req.validate().map_err(|e| self.invalid(OP, e))?;
        let call = Call::new(OP, Method::GET, "/open/groups")
            .query("id", req.id)
            .query("name", req.name.as_ref())
            .query("groupType", req.group_type.as_ref())
            .query("lastUpdated", req.last_updated.as_ref())
            .query("ext1", req.ext1.as_ref())
            .query("ext2", req.ext2.as_ref());
        self.list(call).await
    }

    /// `POST /open/groups`: create a static group.
    pub async fn create_group(&self, req: &CreateGroupRequest) -> Result<Group, CallError> {
        const OP: &str = "create_group";
        req.validate().map_err(|e| self.invalid(OP, e))?;
        let call = self.json(Call::new(OP, Method::POST, "/open/groups"), req)?;
        self.execute(call).await
    }

    /// `POST /open/groups/{id}` with `{"name"}`: rename.
    pub async fn rename_group(&self, req: &RenameGroupRequest) -> Result<Value, CallError> {
        const OP: &str = "rename_group";
        req.validate().map_err(|e| self.invalid(OP, e))?;
        let path = format!("/open/groups/{}", req.id);
        let call = self.json(Call::new(OP, Method::POST, path), req)?;
        self.execute(call).await
    }

    /// `DELETE /open/groups/{id}`.
    pub async fn delete_group(&self, req: &GroupIdRequest) -> Result<Value, CallError> {
        let path = format!("/open/groups/{}", req.id);
        self.execute(Call::new("delete_group", Method::DELETE, path))
            .await
    }

    /// `GET /open/contacts/{contactId}/groups`.
    pub async fn list_contact_groups(
        &self,
        req: &ListContactGroupsRequest,
    ) -> Result<Vec<Group>, CallError> {
        const OP: &str = "list_contact_groups";
        req.validate().map_err(|e| self.invalid(OP, e))?;
        let path = format!("/open/contacts/{}/groups", req.contact_id);
        let call = Call::new(OP, Method::GET, path).query("groupType", req.group_type.as_ref());
        self.list(call).await
    }

    /// `GET /open/groups/{groupId}/contacts`: members after `memberId` (exclusive).
    pub async fn list_group_members(
        &self,
        req: &ListGroupMembersRequest,
    ) -> Result<Vec<GroupMember>, CallError> {
        const OP: &str = "list_group_members";
        req.validate().map_err(|e| self.invalid(OP, e))?;
        let path = format!("/open/groups/{}/contacts", req.group_id);
        let call = Call::new(OP, Method::GET, path)
            .query("memberId", req.member_id)
            .query("size", req.size);
        self.list(call).await
    }

    /// `POST /open/groups/{groupId}/contacts`: the ids as a bare JSON array.
    pub async fn add_group_members(
        &self,
        req: &GroupMembersRequest,
    ) -> Result<MembershipChange, CallError> {
        self.members("add_group_members", Method::POST, req).await
    }

    /// `DELETE /open/groups/{groupId}/contacts`: the ids as a bare JSON array.
    pub async fn remove_group_members(
        &self,
        req: &GroupMembersRequest,
    ) -> Result<MembershipChange, CallError> {
        self.members("remove_group_members", Method::DELETE, req)
            .await
    }

    async fn members(
        &self,
        op: &'static str,
        method: Method,
        req: &GroupMembersRequest,
    ) -> Result<MembershipChange, CallError> {
        req.validate().map_err(|e| self.invalid(op, e))?;
        let path = format!("/open/groups/{}/contacts", req.group_id);
        let call = self.json(Call::new(op, method, path), &req.contact_ids)?;
        self.execute(call).await
    }

    // -----------------------------------------------------------------------------------------
    // Orders, reports, short links
    // -----------------------------------------------------------------------------------------

    /// `GET /open/orders`: cursor mode (`lastMaxId`) or window mode (`startTime`, `endTime`,
    /// `page`).
    pub async fn list_orders(&self, req: &ListOrdersRequest) -> Result<Vec<Order>, CallError> {
        const OP: &str = "list_orders";
        req.validate().map_err(|e| self.invalid(OP, e))?;
        let call = Call::new(OP, Method::GET, "/open/orders")
            .query("lastMaxId", req.last_max_id)
            .query("page", req.page)
            .query("startTime", req.start_time.as_ref())
            .query("endTime", req.end_time.as_ref());
        self.list(call).await
    }

    /// `GET /open/report/{reportId}`; poll while `status` is 0.
    pub async fn get_report(&self, req: &ReportRequest) -> Result<Report, CallError> {
        let path = format!("/open/report/{}", req.report_id);
        self.execute(Call::new("get_report", Method::GET, path))
            .await
    }

    /// `GET /open/dashboard/{dashboardId}/summary`.
    pub async fn get_dashboard(&self, req: &DashboardRequest) -> Result<Dashboard, CallError> {
        let path = format!("/open/dashboard/{}/summary", req.dashboard_id);
        self.execute(Call::new("get_dashboard", Method::GET, path))
            .await
    }

    /// `POST /open/shorturl`.
    pub async fn create_short_url(&self, req: &ShortUrlRequest) -> Result<ShortUrl, CallError> {
        const OP: &str = "create_short_url";
        req.validate().map_err(|e| self.invalid(OP, e))?;
        let call = self.json(Call::new(OP, Method::POST, "/open/shorturl"), req)?;
        self.execute(call).await
    }

    /// `POST /open/shorturl/distribute`: a per-contact link; `utm.term` is the contact id.
    pub async fn create_distribute_short_url(
        &self,
        req: &ShortUrlRequest,
    ) -> Result<ShortUrl, CallError> {
        const OP: &str = "create_distribute_short_url";
        req.validate_distribute().map_err(|e| self.invalid(OP, e))?;
        let call = self.json(
            Call::new(OP, Method::POST, "/open/shorturl/distribute"),
            req,
        )?;
        self.execute(call).await
    }

    // -----------------------------------------------------------------------------------------
    // Token
    // -----------------------------------------------------------------------------------------

    /// A usable token. Holding the mutex across `GET /token` is the single flight: concurrent
    /// callers queue here and find the fresh token. `rejected` is the token the vendor just
    /// refused; if another caller already replaced it, that replacement is used as is.
    async fn token(&self, op: &str, rejected: Option<&Secret>) -> Result<Secret, CallError> {
        let mut slot = self.token.lock().await;
        if let Some(cached) = slot.as_ref() {
            match rejected {
                Some(old) if old.expose() != cached.value.expose() => {
                    return Ok(cached.value.clone())
                }
                None if !needs_refresh(cached.expires_at, self.ctx.clock.now()) => {
                    return Ok(cached.value.clone())
                }
                _ => {}
            }
        }
        let fresh = self.fetch_token(op).await?;
        let value = fresh.value.clone();
        *slot = Some(fresh);
        Ok(value)
    }

    async fn fetch_token(&self, op: &str) -> Result<Token, CallError> {
        let request = self
            .ctx
            .http
            .reqwest()
            .get(format!("{}/token", self.ctx.base_url))
            .header(ACCEPT, "application/json")
            .header("X-OpenApi-Key", self.credentials.app_key.expose())
            .header("X-OpenApi-Secret", self.credentials.app_secret.expose());
        let raw = self
            .ctx
            .http
            .send(VENDOR, op, request)
            .await
            .map_err(|e| e.with_account(&self.ctx.account))?;
        let answer: TokenAnswer = self.decode(op, &raw)?;
        if answer.token.trim().is_empty() {
            return Err(self.bad_response(op, &raw, "the /token answer has no token"));
        }
        let expires_at = parse_expiration(&answer.expiration)
            .map_err(|e| self.bad_response(op, &raw, &format!("the /token answer: {e}")))?;
        tracing::debug!(account = %self.ctx.account, %expires_at, "linkflow token refreshed");
        Ok(Token {
            value: Secret::new(answer.token),
            expires_at,
        })
    }

    // -----------------------------------------------------------------------------------------
    // Plumbing
    // -----------------------------------------------------------------------------------------

    /// Serializes `body` once into the call.
    fn json<B: Serialize + ?Sized>(&self, mut call: Call, body: &B) -> Result<Call, CallError> {
        let bytes = serde_json::to_vec(body).map_err(|e| {
            CallError::new(VENDOR, call.op, FailureKind::InvalidPayload, e.to_string())
                .with_account(&self.ctx.account)
        })?;
        call.body = Body::Json(Bytes::from(bytes));
        Ok(call)
    }

    /// For list endpoints: a `null` or empty answer is an empty list.
    async fn list<T: DeserializeOwned>(&self, call: Call) -> Result<Vec<T>, CallError> {
        Ok(self
            .execute::<Option<Vec<T>>>(call)
            .await?
            .unwrap_or_default())
    }

    async fn execute<T: DeserializeOwned>(&self, call: Call) -> Result<T, CallError> {
        let token = self.token(call.op, None).await?;
        let mut raw = self.send(&call, &token).await?;
        if rejects_token(&raw) {
            let fresh = self.token(call.op, Some(&token)).await?;
            raw = self.send(&call, &fresh).await?;
        }
        self.decode(call.op, &raw)
    }

    async fn send(&self, call: &Call, token: &Secret) -> Result<RawResponse, CallError> {
        let mut url = format!("{}{}", self.ctx.base_url, call.path);
        for (i, (key, value)) in call.query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(key);
            url.push('=');
            url.push_str(&encode(value));
        }
        let mut request = self
            .ctx
            .http
            .reqwest()
            .request(call.method.clone(), url)
            .header(ACCEPT, "application/json")
            .header("X-OpenApi-Token", token.expose());
        request = match &call.body {
            Body::Empty => request,
            Body::Json(bytes) => request
                .header(CONTENT_TYPE, "application/json")
                .body(reqwest::Body::from(bytes.clone())),
            Body::Multipart {
                content_type,
                bytes,
            } => request
                .header(CONTENT_TYPE, content_type.as_str())
                .body(reqwest::Body::from(bytes.clone())),
        };
        self.ctx
            .http
            .send(VENDOR, call.op, request)
            .await
            .map_err(|e| e.with_account(&self.ctx.account))
    }

    pub(super) fn decode<T: DeserializeOwned>(
        &self,
        op: &str,
        raw: &RawResponse,
    ) -> Result<T, CallError> {
        if !raw.is_success() {
            return Err(self.failure(op, raw));
        }
        if let Some(e) = error_body(&raw.body, true) {
            return Err(self.vendor_failure(op, raw, e));
        }
        let body = raw.body.trim_ascii();
        let body: &[u8] = if body.is_empty() { b"null" } else { body };
        serde_json::from_slice(body)
            .map_err(|e| self.bad_response(op, raw, &format!("undecodable answer ({e})")))
    }

    fn failure(&self, op: &str, raw: &RawResponse) -> CallError {
        match error_body(&raw.body, false) {
            Some(e) => self.vendor_failure(op, raw, e),
            None => raw.status_error(VENDOR, op).with_account(&self.ctx.account),
        }
    }

    fn vendor_failure(&self, op: &str, raw: &RawResponse, e: VendorError) -> CallError {
        let kind = classify(raw.status, &e.code, &e.message);
        let message = if e.message.is_empty() {
            format!("HTTP {} with code {} and no message", raw.status, e.code)
        } else {
            e.message
        };
        let mut err = CallError::new(VENDOR, op, kind, message)
            .with_status(raw.status)
            .with_code(e.code)
            .with_account(&self.ctx.account);
        err.retry_after = raw.retry_after();
        err
    }

    fn bad_response(&self, op: &str, raw: &RawResponse, what: &str) -> CallError {
        CallError::new(
            VENDOR,
            op,
            FailureKind::BadResponse,
            format!("{what}: {}", raw.body_excerpt()),
        )
        .with_status(raw.status)
        .with_account(&self.ctx.account)
    }

    fn invalid(&self, op: &str, e: Invalid) -> CallError {
        e.into_call_error(VENDOR, op)
            .with_account(&self.ctx.account)
    }
}

/// The empty payload of ops without parameters.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

/// Reads Linkflow's error body. Under 2xx (`strict`) only a body that says `"domain":"linkflow"`
/// counts, so an ordinary object with a `code` field is never mistaken for an error.
fn error_body(body: &[u8], strict: bool) -> Option<VendorError> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let object = value.as_object()?;
    if !object.contains_key("code") {
        return None;
    }
    if strict
        && (object.get("domain").and_then(Value::as_str) != Some("linkflow")
            || !object.contains_key("message"))
    {
        return None;
    }
    serde_json::from_value(value).ok()
}

/// True when the vendor refused the request because of its token: HTTP 401/403, or an error
/// body whose code or message names the token.
pub(super) fn rejects_token(raw: &RawResponse) -> bool {
    if raw.status == 401 || raw.status == 403 {
        return true;
    }
    error_body(&raw.body, raw.is_success())
        .is_some_and(|e| mentions_token(&e.code) || mentions_token(&e.message))
}

fn mentions_token(text: &str) -> bool {
    text.to_ascii_lowercase().contains("token")
}

/// The failure kind of a Linkflow error: a token problem is `Auth`; then a known code (the
/// vendor sends "not found" and "already exists" under HTTP 400/420/500, spec §5.4), then the
/// status. Linkflow signs nothing with a timestamp, so it never says `Clock`.
pub(crate) fn classify(status: u16, code: &str, message: &str) -> FailureKind {
    if status == 401 || status == 403 || mentions_token(code) || mentions_token(message) {
        return FailureKind::Auth;
    }
    if status == 429 {
        return FailureKind::RateLimited;
    }
    let code = code.replace('_', "");
    if PARAMETER_CODES.contains(&code.as_str()) {
        FailureKind::InvalidRequest
    } else if EXISTS_CODES.contains(&code.as_str()) {
        FailureKind::Exists
    } else if BUSINESS_CODES.contains(&code.as_str()) || (200..300).contains(&status) {
        // An unknown code under 2xx is still a refusal, never a success.
        FailureKind::Business
    } else {
        FailureKind::from_http_status(status)
    }
}

/// Percent-encodes a path segment or query value (RFC 3986 unreserved characters pass), so a
/// space becomes `%20` as the doc's `startTime=2023-01-01%2015%3A44%3A20` shows.
pub(crate) fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
