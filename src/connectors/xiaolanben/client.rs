//! The async Xiaolanben client: validates, serializes the body once, signs exactly those bytes
//! with a fresh `h_t` (never reusing a signature), sends them, and maps answers and errors onto
//! [`CallError`].

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::Value;

use super::config::Credentials;
use super::model::{
    self, Customer, ImportBatchResult, ImportCustomerRequest, ImportCustomersRequest,
    ImportOptions, ImportResult, ListStaffsRequest, Staff, MAX_PAGE_SIZE,
};
use super::sign;
use crate::connectors::http::RawResponse;
use crate::connectors::{CallError, ClientContext, FailureKind, Invalid, Vendor};

/// Path of the single import.
pub const IMPORT_CUSTOMER_PATH: &str = "/blue-crm/api/v1/open/customer/import/customerWithContact";
/// Path of the batch import.
pub const IMPORT_CUSTOMERS_PATH: &str =
    "/blue-crm/api/v1/open/customer/import/customersWithContact";
/// Path of the staff list.
pub const STAFFS_PATH: &str = "/blue-crm/api/v1/open/companycenter/staffs";
/// The import endpoints' content type.
pub const JSON_UTF8: &str = "application/json; charset=utf-8";
/// How long an `h_t` is valid: "接口服务器端限制10秒内有效" (spec §4.2).
pub const H_T_WINDOW_SECS: i64 = 10;
/// The two 403 messages the guide documents (spec §4.5). Neither is about the clock; any other
/// 403 ("签名参数错误等原因", signature parameter problems) is, see [`kind_for_status`].
pub const DOCUMENTED_403_MESSAGES: [&str; 2] = ["请求未包含签名信息", "请求不允许重复执行"];

/// `list_all_staffs` stops with an error after this many pages: a server that keeps answering
/// full pages (e.g. ignoring `pageIndex`) must not loop forever.
const MAX_STAFF_PAGES: u32 = 1000;

const VENDOR: Vendor = Vendor::Xiaolanben;

/// Client for one Xiaolanben account (one `companyId`).
#[derive(Clone, Debug)]
pub struct Client {
    ctx: ClientContext,
    credentials: Credentials,
    /// Signatures issued with an `h_t` not yet in the past → that `h_t`, shared by clones. The
    /// server rejects a signature seen in the last 10 s (spec L-g), so two identical requests
    /// in the same millisecond must get different `h_t`. Only the signature must be unique, not
    /// `h_t`: a strictly increasing `h_t` per account runs ahead of the clock above 1,000 calls/s
    /// and, 10 s ahead, every call is refused as expired (found by `leadrelay bench`).
    issued: Arc<Mutex<HashMap<String, i64>>>,
}

impl Client {
    /// The account this client calls for.
    pub fn account(&self) -> &str {
        &self.ctx.account
    }

    /// Builds a client.
    pub fn new(ctx: ClientContext, credentials: Credentials) -> Self {
        Self {
            ctx,
            credentials,
            issued: Arc::new(Mutex::new(HashMap::new())),
        }
    }


    /// Imports (creates or updates) one customer with its contacts.
    pub async fn import_customer(
        &self,
        req: &ImportCustomerRequest,
    ) -> Result<ImportResult, CallError> {
        const OP: &str = "import_customer";
        req.customer
            .validate("")
            .map_err(|e| self.invalid(OP, e))?;
        let body = self.to_body(OP, &req.customer)?;
        let raw = self
            .send(
                OP,
                reqwest::Method::POST,
                IMPORT_CUSTOMER_PATH,
                &req.options.to_params(),
                Some(body),
            )
            .await?;
        let value = self.success_json(OP, &raw)?;
        model::decode_import(value).map_err(|e| self.bad_response(OP, &raw, &e))
    }

    /// Imports up to 10 customers in one call. Some customers may fail while others succeed
    /// under HTTP 200: the answer marks each one; when every customer failed, this is a
    /// `Business` error listing the reasons.
    pub async fn import_customers(
        &self,
        req: &ImportCustomersRequest,
    ) -> Result<ImportBatchResult, CallError> {
        const OP: &str = "import_customers";
        req.validate()
            .map_err(|e| self.invalid(OP, e))?;
        let body = self.to_body(OP, &req.customers)?;
        let raw = self
            .send(
                OP,
                reqwest::Method::POST,
                IMPORT_CUSTOMERS_PATH,
                &req.options.to_params(),
                Some(body),
            )
            .await?;
        let value = self.success_json(OP, &raw)?;
        let result = model::decode_batch(value, &req.customers)
            .map_err(|e| self.bad_response(OP, &raw, &e))?;
        if result.succeeded_count == 0 {
            let reasons: Vec<String> = result
                .failures()
                .map(|o| {
                    format!(
                        "{}: {}",
                        o.customer_name,
                        o.failed_reason.as_deref().unwrap_or("")
                    )
                })
                .collect();
            return Err(self
                .error(
                    OP,
                    FailureKind::Business,
                    format!(
                        "all {} customers failed: {}",
                        result.failed_count,
                        reasons.join("; ")
                    ),
                )
                .with_status(raw.status));
        }
        Ok(result)
    }

    /// Imports one customer given as separate parts (a convenience over [`Client::import_customer`]).
    pub async fn import_one(
        &self,
        customer: Customer,
        options: ImportOptions,
    ) -> Result<ImportResult, CallError> {
        self.import_customer(&ImportCustomerRequest { customer, options })
            .await
    }

    /// One page of the staff list. A page shorter than `pageSize` is the last.
    pub async fn list_staffs(&self, req: &ListStaffsRequest) -> Result<Vec<Staff>, CallError> {
        self.staff_page("list_staffs", req).await
    }

    /// The whole staff list (optionally filtered), paging with the largest page size until a
    /// short page. A staff member seen on two pages (the list moved while paging) appears once.
    pub async fn list_all_staffs(&self, search: Option<&str>) -> Result<Vec<Staff>, CallError> {
        const OP: &str = "list_all_staffs";
        let mut all = Vec::new();
        let mut seen = HashSet::new();
        for page_index in 1..=MAX_STAFF_PAGES {
            let req = ListStaffsRequest {
                page_index,
                page_size: MAX_PAGE_SIZE,
                search: search.map(str::to_string),
            };
            let page = self.staff_page(OP, &req).await?;
            let last = page.len() < MAX_PAGE_SIZE as usize;
            all.extend(page.into_iter().filter(|s| seen.insert(s.staff_id)));
            if last {
                return Ok(all);
            }
        }
        Err(self.error(
            OP,
            FailureKind::BadResponse,
            format!("the staff list did not end within {MAX_STAFF_PAGES} pages"),
        ))
    }

    async fn staff_page(&self, op: &str, req: &ListStaffsRequest) -> Result<Vec<Staff>, CallError> {
        req.validate()
            .map_err(|e| self.invalid(op, e))?;
        let raw = self
            .send(
                op,
                reqwest::Method::GET,
                STAFFS_PATH,
                &req.to_params(),
                None,
            )
            .await?;
        let value = self.success_json(op, &raw)?;
        model::decode_staffs(value).map_err(|e| self.bad_response(op, &raw, &e))
    }

    /// `h_t` = now in epoch ms and its signature, unless this client (or a clone) already
    /// issued that very signature (an identical request in the same millisecond): then the next
    /// millisecond, and so on.
    fn sign_fresh(&self, params: &[(String, Vec<String>)], body: Option<&str>) -> (i64, String) {
        let now = self.ctx.clock.unix_millis();
        let mut h_t = now;
        loop {
            let signature = sign::h_sign(params, body, h_t, self.credentials.key.expose());
            let mut issued = self.issued.lock().unwrap_or_else(PoisonError::into_inner);
            // Signatures with an `h_t` in the past cannot recur (h_t ≥ now), so the map holds
            // about one millisecond of calls.
            issued.retain(|_, t| *t >= now);
            if issued.insert(signature.clone(), h_t).is_none() {
                return (h_t, signature);
            }
            h_t += 1;
        }
    }

    fn to_body<T: serde::Serialize>(&self, op: &str, body: &T) -> Result<String, CallError> {
        serde_json::to_string(body).map_err(|e| {
            self.error(
                op,
                FailureKind::InvalidPayload,
                format!("body does not serialize: {e}"),
            )
        })
    }

    /// Signs and sends one request. The body string is signed and then moved, unchanged, into
    /// the request: the bytes hashed are the bytes sent.
    async fn send(
        &self,
        op: &str,
        method: reqwest::Method,
        path: &str,
        params: &[(String, Vec<String>)],
        body: Option<String>,
    ) -> Result<RawResponse, CallError> {
        let (h_t, signature) = self.sign_fresh(params, body.as_deref());
        let url = format!(
            "{}{path}?{}",
            self.ctx.base_url,
            sign::query_string(params, h_t, &signature)
        );
        let mut request = self
            .ctx
            .http
            .reqwest()
            .request(method, url)
            .header("companyId", self.credentials.company_id.as_str());
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, JSON_UTF8)
                .body(reqwest::Body::from(body));
        }
        tracing::debug!(account = %self.ctx.account, op, h_t, "xiaolanben request");
        self.ctx
            .http
            .send(VENDOR, op, request)
            .await
            .map_err(|e| e.with_account(&self.ctx.account))
    }

    /// The JSON of a 2xx answer, or the error it carries: a non-2xx status, or the vendor's
    /// error shape under 200 (an error, never a success).
    fn success_json(&self, op: &str, raw: &RawResponse) -> Result<Value, CallError> {
        if !raw.is_success() {
            return Err(self.with_clock_check(error_from_response(&self.ctx.account, op, raw), raw));
        }
        if let Some(err) = model::decode_error(&raw.body) {
            return Err(self.with_clock_check(vendor_error(&self.ctx.account, op, raw, &err), raw));
        }
        raw.json::<Value>(VENDOR, op)
            .map_err(|e| e.with_account(&self.ctx.account))
    }

    /// An `Auth` refusal becomes `Clock` when the server's `Date` is more than the 10 s `h_t`
    /// window away from our clock: the message of a stale `h_t` is undocumented (it may well
    /// be the documented replay text), the clocks are not.
    fn with_clock_check(&self, mut e: CallError, raw: &RawResponse) -> CallError {
        if e.kind == FailureKind::Auth {
            e.kind = raw.auth_or_clock(self.ctx.clock.now(), H_T_WINDOW_SECS);
        }
        e
    }

    fn error(&self, op: &str, kind: FailureKind, message: impl Into<String>) -> CallError {
        CallError::new(VENDOR, op, kind, message).with_account(&self.ctx.account)
    }

    fn invalid(&self, op: &str, e: Invalid) -> CallError {
        e.into_call_error(VENDOR, op)
            .with_account(&self.ctx.account)
    }

    fn bad_response(&self, op: &str, raw: &RawResponse, problem: &str) -> CallError {
        self.error(
            op,
            FailureKind::BadResponse,
            format!("undecodable answer ({problem}): {}", raw.body_excerpt()),
        )
        .with_status(raw.status)
    }
}


/// The kind of an error answer from its status and message (spec §4.5): 401 (bad signature, API
/// not enabled) is `Auth`; 403 is `Auth` for the two documented messages (no signature,
/// replay) and `Clock` otherwise: 403 covers "signature parameter" problems, and the only one
/// our client can cause besides those two is an `h_t` outside the 10 s window; 400 is
/// `InvalidRequest`, 5xx retryable.
pub fn kind_for_status(status: u16, message: &str) -> FailureKind {
    match status {
        403 if DOCUMENTED_403_MESSAGES.iter().any(|m| message.contains(m)) => FailureKind::Auth,
        403 => FailureKind::Clock,
        _ => FailureKind::from_http_status(status),
    }
}

/// The error for a non-2xx answer: kind from [`kind_for_status`] (`Retry-After` kept), code and
/// message from `errors[0]` of the vendor's error body when there is one, else the status and
/// body excerpt.
pub fn error_from_response(account: &str, op: &str, raw: &RawResponse) -> CallError {
    match model::decode_error(&raw.body) {
        Some(err) => vendor_error(account, op, raw, &err),
        None => raw.status_error(VENDOR, op).with_account(account),
    }
}

fn vendor_error(account: &str, op: &str, raw: &RawResponse, err: &model::ErrorBody) -> CallError {
    let first = &err.errors[0];
    let status = if raw.is_success() {
        // An error shape under 2xx: classify by its code, which mirrors an HTTP status.
        first
            .code
            .as_deref()
            .and_then(|c| c.trim().parse::<u16>().ok())
            .filter(|c| (400..600).contains(c))
    } else {
        Some(raw.status)
    };
    let message = first.message.clone().unwrap_or_else(|| raw.body_excerpt());
    let kind = status.map_or(FailureKind::Business, |s| kind_for_status(s, &message));
    if let Some(tracking_id) = &err.tracking_id {
        tracing::debug!(account, op, tracking_id, "xiaolanben error");
    }
    let mut e = CallError::new(VENDOR, op, kind, message)
        .with_status(raw.status)
        .with_account(account);
    if let Some(code) = &first.code {
        e = e.with_code(code.clone());
    }
    e.retry_after = raw.retry_after();
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use crate::connectors::HttpClient;

    fn client() -> Client {
        Client::new(
            ClientContext {
                account: "x".into(),
                base_url: "http://127.0.0.1:9".into(),
                http: HttpClient::new(),
                clock: Clock::system(),
            },
            Credentials {
                company_id: "10001".into(),
                key: "k".into(),
            },
        )
    }

    #[test]
    fn h_t_stays_on_the_clock_at_any_rate_and_never_repeats_a_signature() {
        let c = client();
        let params = Vec::new();
        let started = Clock::system().unix_millis();
        // 20,000 different requests as fast as possible: a per-call +1 ms would put h_t
        // 20 s ahead of the clock, past the server's 10 s window.
        let mut last = 0;
        for i in 0..20_000 {
            let (h_t, _) = c.sign_fresh(&params, Some(&format!("{{\"n\":{i}}}")));
            last = last.max(h_t);
        }
        assert!(last <= Clock::system().unix_millis() + 1, "h_t ran ahead");
        assert!(last >= started);
        // Identical requests in one millisecond still get distinct signatures.
        let a = c.sign_fresh(&params, Some("{}"));
        let b = c.sign_fresh(&params, Some("{}"));
        assert_ne!(a.1, b.1);
        assert_ne!(a.0, b.0);
    }
}
