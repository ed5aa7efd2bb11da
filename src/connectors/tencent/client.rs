//! The async leads.qq.com client: one typed method per op, `call_op` for scripts and the CLI, and
//! [`Client::list_window`] to page through a whole window for the pull source.
//!
//! Every call reads the clock and draws a fresh nonce, so the dispatcher can retry by calling
//! again. Every answer is HTTP 200 with a `code` (spec §3.6); a non-zero code is an error whose
//! kind comes from the code range ([`kind_for_code`]).

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::config::Credentials;
use super::model::{
    Ack, Envelope, ListLeadsPage, ListLeadsRequest, ReportPersonalWechatRequest,
    ReportRequest, SetLeadsStatusSystemRequest, TencentLead,
};
use super::sign;
use crate::connectors::http::RawResponse;
use crate::connectors::{CallError, ClientContext, FailureKind, Invalid, Vendor};

/// Produces the nonce of each request (≤ 32 characters, unique per request).
pub type NonceSource = Arc<dyn Fn() -> String + Send + Sync>;

/// Stops [`Client::list_window`] from looping forever on a platform that misreports
/// `total_page`: 2,000 pages of 200 is 400,000 leads, more than any window we pull.
pub const MAX_WINDOW_PAGES: i64 = 2_000;

#[derive(Clone)]
struct Nonce(NonceSource);

impl fmt::Debug for Nonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NonceSource")
    }
}

fn random_nonce() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Client for one Tencent account.
#[derive(Clone, Debug)]
pub struct Client {
    ctx: ClientContext,
    credentials: Credentials,
    nonce: Nonce,
    report_ids_as_strings: bool,
}

/// The platform's timestamp window: "10-digit timestamp within 5 minutes of server time"
/// (spec §3.1 notes, §3.4).
pub const TIMESTAMP_WINDOW_SECS: i64 = 300;

/// Maps a non-zero platform code onto a failure kind. The platform documents code *ranges*, not
/// codes (spec §3.6, X-g): 1100–1199 internal error (retry), 2000–2100 permission/signature
/// ("check token, secret, clock and algorithm"), 2100–2200 parameters; anything else, such as
/// the seed's own `10000`, is a refusal we cannot place.
///
/// Nothing documents which code or message a stale timestamp gets, only that it falls in the
/// permission range, so a permission-range message that speaks of the timestamp is `Clock`;
/// [`Client`] also calls it `Clock` when the platform's `Date` shows the clocks more than the
/// window apart, whatever the message says.
pub fn kind_for_code(code: i64, message: &str) -> FailureKind {
    match code {
        1100..=1199 => FailureKind::VendorBusy,
        2000..=2099 if mentions_timestamp(message) => FailureKind::Clock,
        2000..=2099 => FailureKind::Auth,
        2100..=2199 => FailureKind::InvalidRequest,
        _ => FailureKind::Business,
    }
}

fn mentions_timestamp(message: &str) -> bool {
    let lower = message.to_lowercase();
    ["timestamp", "time stamp", "时间戳", "过期", "expired"]
        .iter()
        .any(|w| lower.contains(w))
}

impl Client {
    /// Builds a client that signs with 32-hex random nonces.
    pub fn new(ctx: ClientContext, credentials: Credentials) -> Self {
        Self {
            ctx,
            credentials,
            nonce: Nonce(Arc::new(random_nonce)),
            report_ids_as_strings: false,
        }
    }

    /// Replaces the nonce source (tests use it to replay a nonce on purpose).
    pub fn with_nonce_source(mut self, source: NonceSource) -> Self {
        self.nonce = Nonce(source);
        self
    }

    /// Sends `leads_id` in `/leads/report` bodies as JSON strings instead of numbers: the
    /// switch X-p asks for should the live API refuse numbers (the table types it string).
    pub fn with_report_ids_as_strings(mut self, as_strings: bool) -> Self {
        self.report_ids_as_strings = as_strings;
        self
    }

    /// The account name.
    pub fn account(&self) -> &str {
        &self.ctx.account
    }

    /// `GET /leads/list`: one page of leads.
    pub async fn list_leads(&self, req: &ListLeadsRequest) -> Result<ListLeadsPage, CallError> {
        const OP: &str = "list_leads";
        req.validate().map_err(|e| self.invalid(OP, e))?;
        let url = format!("{}/leads/list?{}", self.ctx.base_url, req.query());
        let request = self
            .signed(self.ctx.http.reqwest().get(url))
            .header("Accept", "application/json");
        let data = self.send(OP, request).await?;
        self.decode_data(OP, data)
    }

    /// Pages through the whole window of `req` (from `req.page` up to `total_page`) and returns
    /// every lead once, first occurrence kept: leads arriving while we page push older ones to
    /// later pages, which would otherwise repeat them.
    pub async fn list_window(&self, req: &ListLeadsRequest) -> Result<Vec<TencentLead>, CallError> {
        let mut req = req.clone();
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for _ in 0..MAX_WINDOW_PAGES {
            let page = self.list_leads(&req).await?;
            let last = page.page_info.total_page;
            let empty = page.list.is_empty();
            for lead in page.list {
                if seen.insert(lead.leads_id.clone()) {
                    out.push(lead);
                }
            }
            if empty || req.page >= last {
                return Ok(out);
            }
            req.page += 1;
        }
        Err(self
            .error(
                "list_leads",
                FailureKind::BadResponse,
                format!("window still has pages after {MAX_WINDOW_PAGES}; narrow the window"),
            )
            .with_status(200))
    }

    /// `POST /leads/report`: report lead statuses back (1..=50 items).
    pub async fn report(&self, req: &ReportRequest) -> Result<Ack, CallError> {
        const OP: &str = "report";
        req.validate().map_err(|e| self.invalid(OP, e))?;
        if !self.report_ids_as_strings {
            return self.post_ack(OP, "/leads/report", req).await;
        }
        let items: Vec<Value> = req
            .list
            .iter()
            .map(|item| {
                let mut v = serde_json::to_value(item).unwrap_or(Value::Null);
                v["leads_id"] = Value::String(item.leads_id.clone());
                v
            })
            .collect();
        self.post_ack(OP, "/leads/report", &serde_json::json!({ "list": items }))
            .await
    }

    /// `POST /leads/set_leads_status_system`: choose the standard (1) or industry (2) statuses.
    pub async fn set_leads_status_system(
        &self,
        req: &SetLeadsStatusSystemRequest,
    ) -> Result<Ack, CallError> {
        const OP: &str = "set_leads_status_system";
        req.validate().map_err(|e| self.invalid(OP, e))?;
        self.post_ack(OP, "/leads/set_leads_status_system", req)
            .await
    }

    /// `POST /leads/report_personal_wechat`: report a personal-WeChat add-friend lead.
    pub async fn report_personal_wechat(
        &self,
        req: &ReportPersonalWechatRequest,
    ) -> Result<Ack, CallError> {
        const OP: &str = "report_personal_wechat";
        req.validate().map_err(|e| self.invalid(OP, e))?;
        self.post_ack(OP, "/leads/report_personal_wechat", req)
            .await
    }


    /// Sends `body` as signed JSON to `path` exactly once serialized, and decodes an [`Ack`].
    async fn post_ack<T: serde::Serialize>(
        &self,
        op: &str,
        path: &str,
        body: &T,
    ) -> Result<Ack, CallError> {
        let bytes = serde_json::to_vec(body).map_err(|e| {
            self.error(
                op,
                FailureKind::InvalidPayload,
                format!("cannot encode: {e}"),
            )
        })?;
        let request = self
            .signed(
                self.ctx
                    .http
                    .reqwest()
                    .post(format!("{}{path}", self.ctx.base_url)),
            )
            .header("Content-Type", "application/json")
            .header("Accept", "application/json")
            .body(reqwest::Body::from(bytes));
        let (message, data) = self.send_envelope(op, request).await?;
        Ok(Ack { message, data })
    }

    /// Adds a freshly signed `X-Signature` and the explicit algorithm header.
    fn signed(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        let ts = self.ctx.clock.unix_secs();
        let nonce = (self.nonce.0)();
        let alg = self.credentials.algorithm;
        let signature = sign::x_signature(
            self.credentials.token.expose(),
            self.credentials.secret.expose(),
            ts,
            &nonce,
            alg,
        );
        request
            .header("X-Signature", signature)
            .header("X-Signature-Algorithm", alg.as_str())
    }

    async fn send(&self, op: &str, request: reqwest::RequestBuilder) -> Result<Value, CallError> {
        self.send_envelope(op, request).await.map(|(_, data)| data)
    }

    /// Sends and unwraps the envelope: `(message, data)` on code 0, a classified error otherwise.
    async fn send_envelope(
        &self,
        op: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<(String, Value), CallError> {
        let account = |e: CallError| e.with_account(&self.ctx.account);
        let raw = self
            .ctx
            .http
            .send(Vendor::Tencent, op, request)
            .await
            .map_err(account)?;
        self.unwrap_envelope(op, &raw).map_err(account)
    }

    fn unwrap_envelope(&self, op: &str, raw: &RawResponse) -> Result<(String, Value), CallError> {
        let envelope = match serde_json::from_slice::<Envelope>(&raw.body) {
            Ok(envelope) => envelope,
            // A non-2xx without the vendor's envelope (proxy, overload) is classified by status.
            Err(_) if !raw.is_success() => return Err(raw.status_error(Vendor::Tencent, op)),
            Err(e) => {
                return Err(CallError::new(
                    Vendor::Tencent,
                    op,
                    FailureKind::BadResponse,
                    format!("undecodable answer ({e}): {}", raw.body_excerpt()),
                )
                .with_status(raw.status))
            }
        };
        let message = envelope.message.unwrap_or_default();
        if envelope.code != 0 {
            let by_status = FailureKind::from_http_status(raw.status);
            // A transient HTTP status wins over the code so a 503 stays retryable.
            let kind = if !raw.is_success() && by_status.retryable() {
                by_status
            } else {
                match kind_for_code(envelope.code, &message) {
                    FailureKind::Auth => {
                        raw.auth_or_clock(self.ctx.clock.now(), TIMESTAMP_WINDOW_SECS)
                    }
                    kind => kind,
                }
            };
            let mut e = CallError::new(Vendor::Tencent, op, kind, message)
                .with_status(raw.status)
                .with_code(envelope.code.to_string());
            e.retry_after = raw.retry_after();
            return Err(e);
        }
        if !raw.is_success() {
            return Err(raw.status_error(Vendor::Tencent, op));
        }
        Ok((message, envelope.data))
    }

    fn decode_data<T: DeserializeOwned>(&self, op: &str, data: Value) -> Result<T, CallError> {
        if data.is_null() {
            return Err(self
                .error(op, FailureKind::BadResponse, "code 0 but no data")
                .with_status(200));
        }
        serde_json::from_value(data).map_err(|e| {
            self.error(
                op,
                FailureKind::BadResponse,
                format!("undecodable data: {e}"),
            )
            .with_status(200)
        })
    }

    fn invalid(&self, op: &str, e: Invalid) -> CallError {
        e.into_call_error(Vendor::Tencent, op)
            .with_account(&self.ctx.account)
    }

    fn error(&self, op: &str, kind: FailureKind, message: impl Into<String>) -> CallError {
        CallError::new(Vendor::Tencent, op, kind, message).with_account(&self.ctx.account)
    }
}
