//! The async Feiyu client: two ops, `pull_clues` and `clue_callback` (§1.8, a conversion state
//! written back to a clue), plus [`Client::pull_window`], which pages through a whole window for
//! the pull source.
//!
//! Every call re-reads the clock and signs afresh (F-j: the vendor allows about ±300 s, and the
//! dispatcher retries by calling again). The window values are signed raw and sent
//! byte-identical: `form_urlencoded` leaves `YYYY-MM-DD` and unix seconds untouched, and only
//! encodes what the query syntax needs, which the server decodes back to the signed text.

use std::collections::HashSet;
use std::time::Duration;

use serde::Serialize;


use super::config::Credentials;
use super::model::{
    self, AnswerError, CallbackAnswer, CallbackRequest, Clue, CluePage, InvalidClue, PullRequest,
};
use super::sign;
use crate::connectors::http::RawResponse;
use crate::connectors::{CallError, ClientContext, FailureKind, Invalid, Vendor};

/// The op name of the pull.
pub const PULL_CLUES: &str = "pull_clues";

/// The op name of the status callback.
pub const CLUE_CALLBACK: &str = "clue_callback";

/// The replay window the spec assumes (F-j: the seed's `Signature` class has `timeout = 300`).
pub const TIMESTAMP_WINDOW_SECS: i64 = 300;

/// Client for one advertiser account (each has its own key and token).
#[derive(Clone, Debug)]
pub struct Client {
    ctx: ClientContext,
    credentials: Credentials,
}

/// Every clue of a window, gathered page by page by [`Client::pull_window`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClueWindow {
    /// The vendor's `count` on the last page fetched.
    pub count: u64,
    /// Pages fetched.
    pub pages: u32,
    /// Every clue once (by `clue_id`), in the vendor's order.
    pub clues: Vec<Clue>,
    /// Records that could not be decoded.
    pub invalid: Vec<InvalidClue>,
}

impl Client {
    /// Builds a client.
    pub fn new(ctx: ClientContext, credentials: Credentials) -> Self {
        Self { ctx, credentials }
    }

    /// The configured account name.
    pub fn account(&self) -> &str {
        &self.ctx.account
    }


    /// `GET /crm/v2/openapi/pull-clues/`: one page of the clues created in the window.
    /// A `status` other than `success` under HTTP 200 is an error: `Auth` when the message is
    /// about the signature, token or timestamp, `InvalidRequest` when it names a parameter,
    /// `Business` otherwise, with `status` as the code and `msg` as the message.
    pub async fn pull_clues(&self, request: &PullRequest) -> Result<CluePage, CallError> {
        let op = PULL_CLUES;
        request.validate().map_err(|e| self.invalid(op, e))?;
        let ts = self.ctx.clock.unix_secs().to_string();
        let to_sign = sign::string_to_sign(
            sign::PULL_CLUES_ROUTE,
            &[
                ("start_time", &request.start_time),
                ("end_time", &request.end_time),
            ],
            &ts,
        );
        let signature = sign::signature(self.credentials.signature_key.expose(), &to_sign);
        let query: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("start_time", &request.start_time)
            .append_pair("end_time", &request.end_time)
            .append_pair("page", &request.page.to_string())
            .append_pair("page_size", &request.page_size.to_string())
            .finish();
        let url = format!("{}{}?{query}", self.ctx.base_url, sign::PULL_CLUES_ROUTE);
        let builder = self.ctx.http.reqwest().get(url);
        let raw = self.send_signed(op, builder, signature, &ts).await?;
        let page = self.decode(op, &raw, request)?;
        tracing::debug!(
            account = %self.ctx.account,
            page = page.page,
            count = page.count,
            received = page.data.len(),
            invalid = page.invalid.len(),
            "feiyu pull_clues"
        );
        Ok(page)
    }

    /// Sends `builder` with the three headers every Feiyu request carries (spec §1.3).
    async fn send_signed(
        &self,
        op: &str,
        builder: reqwest::RequestBuilder,
        signature: String,
        ts: &str,
    ) -> Result<RawResponse, CallError> {
        let builder = builder
            .header("Signature", signature)
            .header("Timestamp", ts)
            .header("Access-Token", self.credentials.token.expose())
            .header("Content-Type", "application/json");
        self.ctx
            .http
            .send(Vendor::Feiyu, op, builder)
            .await
            .map_err(|e| e.with_account(&self.ctx.account))
    }

    /// `POST /crm/v2/openapi/clue/callback/` (spec §1.8): records `clue_convert_state` on the
    /// clue. Signed like the pull with the same three headers, over `"<route> <ts>"` (no query;
    /// vector F3). The body is serialized once and those bytes are sent. Failures are classified
    /// like the pull's: a `status` other than `success` under HTTP 200 is the vendor's error.
    pub async fn clue_callback(
        &self,
        request: &CallbackRequest,
    ) -> Result<CallbackAnswer, CallError> {
        let op = CLUE_CALLBACK;
        request.validate().map_err(|e| self.invalid(op, e))?;
        let body = serde_json::to_vec(&request.body())
            .map_err(|e| self.error(op, FailureKind::InvalidPayload, e.to_string()))?;
        let ts = self.ctx.clock.unix_secs().to_string();
        let to_sign = sign::string_to_sign(sign::CALLBACK_ROUTE, &[], &ts);
        let signature = sign::signature(self.credentials.signature_key.expose(), &to_sign);
        let url = format!("{}{}", self.ctx.base_url, sign::CALLBACK_ROUTE);
        let builder = self.ctx.http.reqwest().post(url).body(body);
        let raw = self.send_signed(op, builder, signature, &ts).await?;
        if !raw.is_success() {
            return Err(self.status_error(op, &raw));
        }
        let answer =
            model::parse_callback_answer(&raw.body).map_err(|e| self.answer_error(op, &raw, e))?;
        tracing::debug!(account = %self.ctx.account, clue_id = %request.clue_id, state = request.clue_convert_state, "feiyu clue_callback");
        Ok(answer)
    }

    /// Every clue of `request`'s window, from `request.page` on: pages 1, 2, … until
    /// `(page-1) * page_size >= count` or a page comes back empty, waiting `pause` between pages
    /// (the vendor asks for a few seconds: "注意请求频率"). A clue seen on an earlier page (the
    /// window can shift while clues arrive) is kept once. The first failing page fails the whole
    /// window; nothing is half-returned.
    pub async fn pull_window(
        &self,
        request: &PullRequest,
        pause: Duration,
    ) -> Result<ClueWindow, CallError> {
        let mut request = request.clone();
        let mut window = ClueWindow {
            count: 0,
            pages: 0,
            clues: Vec::new(),
            invalid: Vec::new(),
        };
        let mut seen = HashSet::new();
        loop {
            let page = self.pull_clues(&request).await?;
            window.pages += 1;
            window.count = page.count;
            let more = page.has_more();
            for clue in page.data {
                if seen.insert(clue.clue_id.clone()) {
                    window.clues.push(clue);
                }
            }
            window.invalid.extend(page.invalid);
            if !more {
                return Ok(window);
            }
            request.page += 1;
            if !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
        }
    }

    fn decode(
        &self,
        op: &str,
        raw: &RawResponse,
        request: &PullRequest,
    ) -> Result<CluePage, CallError> {
        if !raw.is_success() {
            return Err(self.status_error(op, raw));
        }
        model::parse_pull_answer(&raw.body, request.page, request.page_size)
            .map_err(|e| self.answer_error(op, raw, e))
    }

    /// A non-2xx answer, with the vendor's `status`/`msg` when the body carries them.
    fn status_error(&self, op: &str, raw: &RawResponse) -> CallError {
        let mut e = raw.status_error(Vendor::Feiyu, op);
        if let Some(AnswerError::Vendor { code, message }) = model::error_body(&raw.body) {
            e.code = Some(code);
            e.message = message;
        }
        e.with_account(&self.ctx.account)
    }

    /// A 2xx answer that is not a success, classified from its `msg` (see [`classify`]).
    fn answer_error(&self, op: &str, raw: &RawResponse, e: AnswerError) -> CallError {
        let e = match e {
            AnswerError::Vendor { code, message } => {
                let kind = match classify(&message) {
                    // The vendor documents no messages: clocks further apart than the
                    // window explain a refusal whatever it says.
                    FailureKind::Auth => {
                        raw.auth_or_clock(self.ctx.clock.now(), TIMESTAMP_WINDOW_SECS)
                    }
                    kind => kind,
                };
                CallError::new(Vendor::Feiyu, op, kind, message).with_code(code)
            }
            AnswerError::Undecodable(why) => CallError::new(
                Vendor::Feiyu,
                op,
                FailureKind::BadResponse,
                format!("{why}: {}", raw.body_excerpt()),
            ),
        };
        e.with_status(raw.status).with_account(&self.ctx.account)
    }

    fn error(&self, op: &str, kind: FailureKind, message: impl Into<String>) -> CallError {
        CallError::new(Vendor::Feiyu, op, kind, message).with_account(&self.ctx.account)
    }

    fn invalid(&self, op: &str, e: Invalid) -> CallError {
        e.into_call_error(Vendor::Feiyu, op)
            .with_account(&self.ctx.account)
    }
}

/// The kind of a vendor failure under HTTP 200, from its `msg`. The vendor publishes no error
/// codes (a failed answer is just a `status` other than "success", "-2" in the one public client
/// that names one, spec §1.6) nor messages, so the message is all there is: a timestamp problem
/// is `Clock` (our client always sends well-formed unix seconds, so the only way to get one
/// wrong is a clock off by more than the window); signature and token problems are `Auth`; a
/// named parameter is `InvalidRequest`; anything else is `Business`. Only `Clock` is retried.
pub fn classify(message: &str) -> FailureKind {
    const CLOCK: &[&str] = &["timestamp", "时间戳"];
    const AUTH: &[&str] = &[
        "signature",
        "token",
        "unauthori",
        "签名",
        "令牌",
        "鉴权",
        "认证",
        "授权",
    ];
    const PARAMS: &[&str] = &[
        "param",
        "start_time",
        "end_time",
        "page",
        "参数",
        "时间范围",
    ];
    let lower = message.to_lowercase();
    if CLOCK.iter().any(|k| lower.contains(k)) {
        FailureKind::Clock
    } else if AUTH.iter().any(|k| lower.contains(k)) {
        FailureKind::Auth
    } else if PARAMS.iter().any(|k| lower.contains(k)) {
        FailureKind::InvalidRequest
    } else {
        FailureKind::Business
    }
}
