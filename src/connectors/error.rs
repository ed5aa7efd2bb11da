//! `CallError`: how a vendor call failed and whether retrying can help. Every vendor client maps
//! its own envelopes onto this one type so the dispatcher and scripts see one shape.
//!
//! Two vocabularies live here. [`FailureKind`] is precise (a timeout is not a 503) and decides
//! retrying and the circuit breaker. [`ErrorKind`] is what scripts see as `e.kind`: seven
//! vendor-neutral words, so a script never has to know that Waiqin says "已存在" where Linkflow
//! says `B01151`. The vendor's own code and message stay in `CallError::code`/`message`.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use super::Vendor;

/// Why a call failed. The variant alone decides [`FailureKind::retryable`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The connection could not be made or broke before an answer.
    Connect,
    /// No answer within the deadline.
    Timeout,
    /// HTTP 5xx.
    ServerError,
    /// HTTP 429, or the vendor's own "too many requests".
    RateLimited,
    /// The vendor says it failed internally and asks to retry (e.g. Tencent codes 1100–1199).
    VendorBusy,
    /// Signature, credential or replay rejected (HTTP 401/403 or a vendor auth code).
    Auth,
    /// The vendor refused the request's timestamp as outside its window: this host's clock (or
    /// the vendor's) is off. Retryable: re-signing cannot fix it at once, but the lead must wait
    /// for the clock to be fixed instead of being dead-lettered with every other lead.
    Clock,
    /// A create refused because its key already exists (Waiqin "已存在", Linkflow B00001,
    /// B01102, B01151). Not retryable: the thing is there; the script decides what that means.
    Exists,
    /// The vendor rejected the request's parameters.
    InvalidRequest,
    /// Any other business-level refusal (quota, not found, state…) under any HTTP status.
    Business,
    /// The answer could not be decoded as the vendor's documented shape.
    BadResponse,
    /// The payload failed our own validation; nothing was sent.
    InvalidPayload,
}

impl FailureKind {
    /// True when the same call may succeed later without anyone changing anything.
    pub fn retryable(self) -> bool {
        matches!(
            self,
            Self::Connect
                | Self::Timeout
                | Self::ServerError
                | Self::RateLimited
                | Self::VendorBusy
                | Self::Clock
        )
    }

    /// The vendor-neutral kind scripts see as `e.kind`.
    pub fn neutral(self) -> ErrorKind {
        match self {
            Self::Connect | Self::Timeout | Self::ServerError | Self::VendorBusy => {
                ErrorKind::Unavailable
            }
            Self::RateLimited => ErrorKind::RateLimited,
            Self::Auth => ErrorKind::Auth,
            Self::Clock => ErrorKind::Clock,
            Self::Exists => ErrorKind::Exists,
            Self::InvalidRequest | Self::InvalidPayload => ErrorKind::Invalid,
            Self::Business | Self::BadResponse => ErrorKind::Business,
        }
    }

    /// The kind for an HTTP status that is not a success, before looking at the body.
    pub fn from_http_status(status: u16) -> Self {
        match status {
            429 => Self::RateLimited,
            500..=599 => Self::ServerError,
            401 | 403 => Self::Auth,
            404 => Self::Business,
            _ => Self::InvalidRequest,
        }
    }
}

/// The vendor-neutral kind of a failed call: `e.kind` in scripts (see [`FailureKind::neutral`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// A create was refused because its key already exists.
    Exists,
    /// Credentials, signature or permission refused.
    Auth,
    /// The request's timestamp is outside the vendor's window (clock skew). Retried.
    Clock,
    /// The vendor refused the parameters, or our own validation did before sending.
    Invalid,
    /// Too many requests. Retried.
    RateLimited,
    /// No usable answer: connect failure, timeout, HTTP 5xx, the vendor busy. Retried.
    Unavailable,
    /// Anything else the vendor refused, or an answer we could not read.
    Business,
}

impl ErrorKind {
    /// Every kind, in the order the README lists them.
    pub const ALL: [ErrorKind; 7] = [
        Self::Exists,
        Self::Auth,
        Self::Clock,
        Self::Invalid,
        Self::RateLimited,
        Self::Unavailable,
        Self::Business,
    ];

    /// The word scripts compare with: `e.kind == "exists"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Exists => "exists",
            Self::Auth => "auth",
            Self::Clock => "clock",
            Self::Invalid => "invalid",
            Self::RateLimited => "rate_limited",
            Self::Unavailable => "unavailable",
            Self::Business => "business",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One failed vendor call, with the vendor's own code and message kept verbatim.
#[derive(Debug, Clone, thiserror::Error)]
pub struct CallError {
    /// The vendor called.
    pub vendor: Vendor,
    /// The account name from the config (empty when the client was built without one).
    pub account: String,
    /// The op (`list_leads`, `import_customer`, …).
    pub op: String,
    /// What went wrong, which decides retrying.
    pub kind: FailureKind,
    /// The HTTP status, when an answer arrived.
    pub status: Option<u16>,
    /// The vendor's own error code (`2001`, `B00008`, `403`…), when it sent one.
    pub code: Option<String>,
    /// The vendor's message, or ours when the vendor gave none.
    pub message: String,
    /// The vendor's `Retry-After`, when it sent one.
    pub retry_after: Option<Duration>,
}

impl CallError {
    /// A failure of `kind` with a message and no HTTP status (transport, validation).
    pub fn new(vendor: Vendor, op: &str, kind: FailureKind, message: impl Into<String>) -> Self {
        Self {
            vendor,
            account: String::new(),
            op: op.to_string(),
            kind,
            status: None,
            code: None,
            message: message.into(),
            retry_after: None,
        }
    }

    /// Sets the HTTP status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// Sets the vendor's error code.
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// Sets the account name.
    pub fn with_account(mut self, account: impl Into<String>) -> Self {
        self.account = account.into();
        self
    }

    /// True when the same call may succeed later.
    pub fn retryable(&self) -> bool {
        self.kind.retryable()
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}::{} failed", self.vendor, self.op)?;
        if !self.account.is_empty() {
            write!(f, " (account {})", self.account)?;
        }
        f.write_str(": ")?;
        if let Some(status) = self.status {
            write!(f, "HTTP {status}, ")?;
        }
        if let Some(code) = &self.code {
            write!(f, "code {code}: ")?;
        }
        let verdict = if self.retryable() {
            "retryable"
        } else {
            "not retryable"
        };
        write!(f, "{} ({verdict})", self.message)
    }
}

/// A request that failed our own validation before anything was sent, naming the field in the
/// vendor's own spelling, with its position in lists (`customers[2].customerName`,
/// `list[0].leads_id`; `a|b` when one of two is required). Every vendor's `validate()` answers
/// with this; [`Invalid::into_call_error`] makes it the op's `InvalidPayload` [`CallError`],
/// whose message is `field: reason`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct Invalid {
    /// The field at fault.
    pub field: String,
    /// What is wrong with it.
    pub reason: String,
}

impl Invalid {
    /// `field` is wrong because of `reason`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The failure of `vendor`'s `op` this is: `InvalidPayload`, not retryable, nothing sent.
    pub fn into_call_error(self, vendor: Vendor, op: &str) -> CallError {
        CallError::new(vendor, op, FailureKind::InvalidPayload, self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_kinds_are_transient_ones_only() {
        assert!(FailureKind::from_http_status(503).retryable());
        assert!(FailureKind::from_http_status(429).retryable());
        assert!(!FailureKind::from_http_status(401).retryable());
        assert!(!FailureKind::from_http_status(400).retryable());
        assert!(!FailureKind::Business.retryable());
        assert!(FailureKind::VendorBusy.retryable());
        // A skewed clock is fixed by someone, later: wait for it instead of dead-lettering.
        assert!(FailureKind::Clock.retryable());
        // The key is there; calling again changes nothing.
        assert!(!FailureKind::Exists.retryable());
    }

    #[test]
    fn every_failure_kind_has_one_neutral_name_and_retrying_follows_it() {
        use FailureKind::*;
        let all = [
            Connect,
            Timeout,
            ServerError,
            RateLimited,
            VendorBusy,
            Auth,
            Clock,
            Exists,
            InvalidRequest,
            Business,
            BadResponse,
            InvalidPayload,
        ];
        let names: Vec<(&str, bool)> = all
            .iter()
            .map(|k| (k.neutral().as_str(), k.retryable()))
            .collect();
        assert_eq!(
            names,
            [
                ("unavailable", true),
                ("unavailable", true),
                ("unavailable", true),
                ("rate_limited", true),
                ("unavailable", true),
                ("auth", false),
                ("clock", true),
                ("exists", false),
                ("invalid", false),
                ("business", false),
                ("business", false),
                ("invalid", false),
            ]
        );
        // Every neutral kind is reachable, and serde spells it as scripts do.
        for kind in ErrorKind::ALL {
            assert!(all.iter().any(|k| k.neutral() == kind), "{kind}");
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::Value::from(kind.as_str())
            );
        }
    }

    /// Every error answer the spec documents, through its vendor's own classifier, lands on the
    /// neutral kind the README promises scripts.
    #[test]
    fn documented_errors_map_to_the_right_kind() {
        use crate::connectors::{feiyu, linkflow, tencent, waiqin, xiaolanben};
        let kind = |k: FailureKind| k.neutral().as_str();
        // Tencent §3.6: code ranges under HTTP 200; the seed's own failure example is 10000.
        for (code, message, expected) in [
            (1100, "内部错误", "unavailable"),
            (1199, "", "unavailable"),
            (2000, "invalid signature", "auth"),
            (2099, "no permission", "auth"),
            (2000, "timestamp expired", "clock"),
            (2100, "missing parameter", "invalid"),
            (2199, "invalid page_size", "invalid"),
            (10000, "失败", "business"),
        ] {
            let got = kind(tencent::client::kind_for_code(code, message));
            assert_eq!(got, expected, "tencent {code} {message}");
        }
        // Feiyu §1.6: `status` not "success" with a `msg`, no codes published.
        for (msg, expected) in [
            ("invalid signature", "auth"),
            ("invalid access token", "auth"),
            ("timestamp expired", "clock"),
            ("bad start_time", "invalid"),
            ("拉取失败", "business"),
        ] {
            assert_eq!(kind(feiyu::client::classify(msg)), expected, "feiyu {msg}");
        }
        // Waiqin §2.5/W-f: `return_code` 1 and a message; the code appendix is not public.
        for (msg, expected) in [
            ("线索编码[feiyu-1]已存在", "exists"),
            ("签名错误", "auth"),
            ("IP不在白名单内", "auth"),
            ("时间戳已过期", "clock"),
            ("参数缺失: empName", "invalid"),
            ("线索不存在", "business"),
        ] {
            assert_eq!(
                kind(waiqin::client::classify(msg)),
                expected,
                "waiqin {msg}"
            );
        }
        // Xiaolanben §4.5: the status decides; two 403 messages are documented.
        for (status, message, expected) in [
            (403, "请求未包含签名信息", "auth"),
            (403, "请求不允许重复执行", "auth"),
            (403, "签名参数错误", "clock"),
            (401, "请求未经过认证", "auth"),
            (400, "有必传参数未传", "invalid"),
            (500, "服务端异常错误", "unavailable"),
        ] {
            let got = kind(xiaolanben::client::kind_for_status(status, message));
            assert_eq!(got, expected, "xiaolanben {status} {message}");
        }
        // Linkflow §5.4: every listed code, under the status the seed gives it.
        for (status, code, expected) in [
            (400, "B00001", "exists"),
            (420, "B01102", "exists"),
            (500, "B01151", "exists"),
            (500, "B00002", "invalid"),
            (500, "B00010", "invalid"),
            (420, "B00030", "invalid"),
            (400, "B00031", "invalid"),
            (500, "B00093", "invalid"),
            (500, "B01157", "invalid"),
            (500, "B01163", "invalid"),
            (500, "B01206", "invalid"),
            (500, "B01403", "invalid"),
            (500, "B01404", "invalid"),
            (404, "B00008", "business"),
            (500, "B00022", "business"),
            (500, "B00037", "business"),
            (500, "B00043", "business"),
            (412, "B00157", "business"),
            (500, "B00159", "business"),
            (500, "B01152", "business"),
            (500, "B_01162", "business"),
            (500, "B01165", "business"),
            (500, "B01201", "business"),
            (500, "B01205", "business"),
            (400, "B01376", "business"),
            (500, "B01402", "business"),
            (500, "B01405", "business"),
            (401, "", "auth"),
        ] {
            let got = kind(linkflow::client::classify(status, code, ""));
            assert_eq!(got, expected, "linkflow {status} {code}");
        }
    }

    #[test]
    fn an_invalid_request_is_a_not_retryable_invalid_payload_naming_the_field() {
        let e = Invalid::new("customers[2].customerName", "is required")
            .into_call_error(Vendor::Xiaolanben, "import_customers");
        assert_eq!(e.kind, FailureKind::InvalidPayload);
        assert_eq!(e.kind.neutral(), ErrorKind::Invalid);
        assert!(!e.retryable());
        assert_eq!(e.status, None);
        assert_eq!(e.message, "customers[2].customerName: is required");
    }

    #[test]
    fn display_names_vendor_op_status_code_and_verdict() {
        let e = CallError::new(
            Vendor::Tencent,
            "list_leads",
            FailureKind::Auth,
            "invalid signature",
        )
        .with_status(200)
        .with_code("2001")
        .with_account("tx_main");
        assert_eq!(
            e.to_string(),
            "tencent::list_leads failed (account tx_main): HTTP 200, code 2001: invalid signature (not retryable)"
        );
    }
}
