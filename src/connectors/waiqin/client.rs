//! The async Waiqin365 client: one typed method per op. Each call serializes its body once, signs
//! exactly those bytes with a fresh timestamp and `msg_id`, POSTs them, and maps the envelope onto
//! [`CallError`] (a non-zero `return_code` under HTTP 200 is an error, never a success).

use serde::Serialize;
use serde_json::Value;

use super::config::Credentials;
use super::model::{
    decode_records, AddSalesLeadsApaasRequest, AddSalesLeadsRequest, ApaasSalesLead, Envelope,
    ModifySalesLeadsApaasRequest, ModifySalesLeadsRequest, QuerySalesLeadsApaasRequest,
    QuerySalesLeadsRequest, RemoveSalesLeadsRequest, SalesLead, WriteAck, DEFAULT_PAGE_SIZE,
};
use super::sign;
use crate::connectors::{CallError, ClientContext, FailureKind, Invalid, Vendor};

/// Stops a runaway pager (a vendor that ignores `page` would otherwise loop forever).
pub const MAX_PAGES: i64 = 10_000;

/// Client for one Waiqin365 tenant.
#[derive(Clone, Debug)]
pub struct Client {
    ctx: ClientContext,
    credentials: Credentials,
}

/// Our snake_case op name → the vendor's path segment.
fn vendor_op(op: &str) -> Option<&'static str> {
    Some(match op {
        "add_sales_leads" => "addSalesLeads",
        "add_sales_leads_apaas" => "addSalesLeadsForApaas",
        "modify_sales_leads" => "modifySalesLeads",
        "modify_sales_leads_apaas" => "modifySalesLeadsForApaas",
        "remove_sales_leads" => "removeSalesLeads",
        "query_sales_leads" => "querySalesLeads",
        "query_sales_leads_apaas" => "querySalesLeadsForApaas",
        _ => return None,
    })
}

/// The failure kind of a non-zero `return_code`. Waiqin documents only `0` = success and
/// `1` = failure; its error-code appendix is not public (spec §2.5, W-f), so the vendor's message
/// decides, checked in this order:
///
/// - a timestamp that is expired, ahead or too far off → `Clock` (retried: the host clock is
///   wrong, not the lead). Waiqin documents no window (W-b), so only the message can say so;
/// - signing, timestamp format, openid, appkey, IP allow-list (W-o) and replay → `Auth`;
/// - "频繁"/rate messages → `RateLimited`; "系统繁忙"/"稍后重试" → `VendorBusy`;
/// - "已存在" (e.g. `线索编码[x]已存在`: the seed says `code` is "校验是否已存在", checked for
///   existence) → `Exists`;
/// - parameter problems → `InvalidRequest`;
/// - everything else (not found…) → `Business`.
///
/// Auth is checked before parameters because "时间戳格式错误" is about signing.
pub fn classify(return_msg: &str) -> FailureKind {
    let msg = return_msg.to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| msg.contains(w));
    if has(&["时间戳", "timestamp"])
        && has(&[
            "过期",
            "超时",
            "超前",
            "相差",
            "失效",
            "有效期",
            "expired",
            "skew",
            "window",
            "too old",
        ])
    {
        FailureKind::Clock
    } else if has(&[
        "签名",
        "digest",
        "signature",
        "时间戳",
        "timestamp",
        "openid",
        "appkey",
        "授权",
        "白名单",
        "重复请求",
        "重复的请求",
        "replay",
        "msg_id",
    ]) {
        FailureKind::Auth
    } else if has(&["频繁", "限流", "too many", "rate limit"]) {
        FailureKind::RateLimited
    } else if has(&["系统繁忙", "稍后重试", "busy", "try again"]) {
        FailureKind::VendorBusy
    } else if has(&["已存在", "already exist"]) {
        FailureKind::Exists
    } else if has(&[
        "参数",
        "必填",
        "不能为空",
        "格式",
        "json",
        "parameter",
        "missing",
        "required",
        "invalid",
    ]) {
        FailureKind::InvalidRequest
    } else {
        FailureKind::Business
    }
}

impl Client {
    /// Builds a client for one tenant.
    pub fn new(ctx: ClientContext, credentials: Credentials) -> Self {
        Self { ctx, credentials }
    }

    /// The account name this client reports in errors.
    pub fn account(&self) -> &str {
        &self.ctx.account
    }

    fn error(&self, op: &str, kind: FailureKind, message: impl Into<String>) -> CallError {
        CallError::new(Vendor::Waiqin, op, kind, message).with_account(&self.ctx.account)
    }

    fn invalid(&self, op: &str, e: Invalid) -> CallError {
        e.into_call_error(Vendor::Waiqin, op)
            .with_account(&self.ctx.account)
    }

    /// Serializes `body` once and sends those bytes under a fresh `msg_id`.
    async fn send<T: Serialize>(&self, op: &str, body: &T) -> Result<Envelope, CallError> {
        let bytes = serde_json::to_vec(body)
            .map_err(|e| self.error(op, FailureKind::InvalidPayload, e.to_string()))?;
        // Fresh on every call: the dispatcher retries by calling again, and the spec asks for a
        // unique msg_id per request (whether the vendor refuses a reused one is undocumented).
        let msg_id = uuid::Uuid::new_v4().simple().to_string();
        self.send_raw(op, bytes, &msg_id).await
    }

    /// Sends pre-serialized body bytes as op `op` (a name from [`super::OPS`]), signed now,
    /// under the caller's `msg_id`, and returns the success envelope. The typed methods use it
    /// with a fresh uuid; call it directly only to send bytes verbatim (tools, tests). Use a
    /// unique `msg_id` (spec §2.3); the vendor echoes it in its answer.
    pub async fn send_raw(
        &self,
        op: &str,
        bytes: Vec<u8>,
        msg_id: &str,
    ) -> Result<Envelope, CallError> {
        let Some(path_op) = vendor_op(op) else {
            return Err(self.error(
                op,
                FailureKind::InvalidPayload,
                format!("waiqin has no op `{op}`"),
            ));
        };
        let ts = sign::timestamp(&self.ctx.clock.now_beijing());
        let digest = sign::digest(&bytes, self.credentials.appkey.expose(), &ts);
        let url = sign::signed_url(
            &self.ctx.base_url,
            sign::SALESLEADS_MODULE,
            path_op,
            &self.credentials.openid,
            &ts,
            &digest,
            msg_id,
        );
        tracing::debug!(op, msg_id = %msg_id, bytes = bytes.len(), "waiqin call");
        let request = self
            .ctx
            .http
            .reqwest()
            .post(url)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/json;charset=utf-8",
            )
            .body(reqwest::Body::from(bytes));
        let raw = self
            .ctx
            .http
            .send(Vendor::Waiqin, op, request)
            .await
            .map_err(|e| e.with_account(&self.ctx.account))?;
        let envelope = serde_json::from_slice::<Envelope>(&raw.body);
        if !raw.is_success() {
            // The status decides retrying; the vendor's own code and message are kept when the
            // body is an envelope.
            let mut e = raw.status_error(Vendor::Waiqin, op);
            if let Ok(env) = envelope {
                e.code = Some(env.return_code);
                if let Some(msg) = env.return_msg {
                    e.message = msg;
                }
            }
            return Err(e.with_account(&self.ctx.account));
        }
        let envelope = envelope.map_err(|e| {
            self.error(
                op,
                FailureKind::BadResponse,
                format!("undecodable answer ({e}): {}", raw.body_excerpt()),
            )
            .with_status(raw.status)
        })?;
        if !envelope.is_success() {
            let message = envelope
                .return_msg
                .clone()
                .unwrap_or_else(|| format!("return_code {}", envelope.return_code));
            return Err(self
                .error(op, classify(&message), message)
                .with_status(raw.status)
                .with_code(envelope.return_code));
        }
        Ok(envelope)
    }

    async fn write<T: Serialize>(&self, op: &str, body: &T) -> Result<WriteAck, CallError> {
        let envelope = self.send(op, body).await?;
        Ok(WriteAck {
            msg_id: envelope.msg_id,
            return_msg: envelope.return_msg,
        })
    }

    async fn query<T: Serialize, R>(
        &self,
        op: &str,
        body: &T,
        decode: impl Fn(Value) -> Result<R, serde_json::Error>,
    ) -> Result<Vec<R>, CallError> {
        let envelope = self.send(op, body).await?;
        let bad = |message: String| {
            self.error(op, FailureKind::BadResponse, message)
                .with_status(200)
        };
        let data = envelope
            .data()
            .map_err(|e| bad(format!("response_data is not JSON text: {e}")))?;
        decode_records(data, decode).map_err(bad)
    }

    /// `addSalesLeads`: creates a lead. A `code` (or, with `mobile_repeat: "0"`, a mobile) that
    /// already exists is an `Exists` error.
    pub async fn add_sales_leads(&self, req: &AddSalesLeadsRequest) -> Result<WriteAck, CallError> {
        const OP: &str = "add_sales_leads";
        req.validate().map_err(|e| self.invalid(OP, e))?;
        self.write(OP, req).await
    }

    /// `addSalesLeadsForApaas`: creates a lead in the aPaaS model.
    pub async fn add_sales_leads_apaas(
        &self,
        req: &AddSalesLeadsApaasRequest,
    ) -> Result<WriteAck, CallError> {
        const OP: &str = "add_sales_leads_apaas";
        req.validate().map_err(|e| self.invalid(OP, e))?;
        self.write(OP, req).await
    }

    /// `modifySalesLeads`: updates a lead found by `id` or `code`.
    pub async fn modify_sales_leads(
        &self,
        req: &ModifySalesLeadsRequest,
    ) -> Result<WriteAck, CallError> {
        const OP: &str = "modify_sales_leads";
        req.validate().map_err(|e| self.invalid(OP, e))?;
        self.write(OP, req).await
    }

    /// `modifySalesLeadsForApaas`: updates an aPaaS lead found by `id` or `code`.
    pub async fn modify_sales_leads_apaas(
        &self,
        req: &ModifySalesLeadsApaasRequest,
    ) -> Result<WriteAck, CallError> {
        const OP: &str = "modify_sales_leads_apaas";
        req.validate().map_err(|e| self.invalid(OP, e))?;
        self.write(OP, req).await
    }

    /// `removeSalesLeads`: voids a lead found by `id` or `code`.
    pub async fn remove_sales_leads(
        &self,
        req: &RemoveSalesLeadsRequest,
    ) -> Result<WriteAck, CallError> {
        const OP: &str = "remove_sales_leads";
        req.validate().map_err(|e| self.invalid(OP, e))?;
        self.write(OP, req).await
    }

    /// `querySalesLeads`: one page of records.
    pub async fn query_sales_leads(
        &self,
        req: &QuerySalesLeadsRequest,
    ) -> Result<Vec<SalesLead>, CallError> {
        const OP: &str = "query_sales_leads";
        req.validate().map_err(|e| self.invalid(OP, e))?;
        self.query(OP, req, SalesLead::from_raw).await
    }

    /// `querySalesLeadsForApaas`: one page of aPaaS records.
    pub async fn query_sales_leads_apaas(
        &self,
        req: &QuerySalesLeadsApaasRequest,
    ) -> Result<Vec<ApaasSalesLead>, CallError> {
        const OP: &str = "query_sales_leads_apaas";
        req.validate().map_err(|e| self.invalid(OP, e))?;
        self.query(OP, req, serde_json::from_value).await
    }

    /// Every page of `querySalesLeads` from `req.page` (default 1) on. No total is returned, so
    /// it stops at the first page shorter than `pageSize` (default 1000) [INF, spec §2.5].
    /// Each page is a separate signed call; an error on any page fails the whole pull.
    pub async fn query_sales_leads_all(
        &self,
        req: &QuerySalesLeadsRequest,
    ) -> Result<Vec<SalesLead>, CallError> {
        let mut req = req.clone();
        let page_size = req.conditions.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
        req.conditions.page_size = Some(page_size);
        let first = req.conditions.page.unwrap_or(1);
        let mut all = Vec::new();
        for page in first..first + MAX_PAGES {
            req.conditions.page = Some(page);
            let records = self.query_sales_leads(&req).await?;
            let short = (records.len() as i64) < page_size;
            all.extend(records);
            if short {
                return Ok(all);
            }
        }
        Err(self.error(
            "query_sales_leads",
            FailureKind::BadResponse,
            format!("more than {MAX_PAGES} full pages; the vendor seems to ignore `page`"),
        ))
    }

}
