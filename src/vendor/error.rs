//! `CallError`: how a vendor call failed and whether retrying can help. Every vendor client maps
//! its own envelopes onto this one type so the dispatcher and scripts see one shape.

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
    /// Signature, credential, timestamp window or replay rejected (HTTP 401/403 or a vendor auth code).
    Auth,
    /// The vendor rejected the request's parameters.
    InvalidRequest,
    /// A business-level refusal (duplicate, quota, not found…) under any HTTP status.
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
        )
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
