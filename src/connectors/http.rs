//! The shared HTTP client (reqwest + rustls) and the one place where transport failures and
//! non-2xx statuses become [`CallError`]s. Vendor clients build requests and decode bodies; they do
//! not classify transport errors themselves.

use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;

use super::error::{CallError, FailureKind};
use super::Vendor;

/// Default deadline for one vendor request, connect included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// One shared connection pool for every vendor and account. Cheap to clone.
#[derive(Clone, Debug)]
pub struct HttpClient {
    inner: reqwest::Client,
}

impl HttpClient {
    /// A client with the default timeouts.
    pub fn new() -> Self {
        Self::with_timeout(DEFAULT_TIMEOUT)
    }

    /// A client whose requests give up after `timeout`.
    pub fn with_timeout(timeout: Duration) -> Self {
        let inner = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5).min(timeout))
            .timeout(timeout)
            .user_agent(concat!("leadrelay/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("reqwest client with rustls builds without system dependencies");
        Self { inner }
    }

    /// The underlying reqwest client, to build requests with.
    pub fn reqwest(&self) -> &reqwest::Client {
        &self.inner
    }

    /// Sends `request` and reads the whole body. Transport failures become retryable
    /// `Connect`/`Timeout` errors; every HTTP status, including errors, comes back as a
    /// [`RawResponse`] so the vendor can read its own error body.
    pub async fn send(
        &self,
        vendor: Vendor,
        op: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<RawResponse, CallError> {
        let response = request
            .send()
            .await
            .map_err(|e| transport_error(vendor, op, &e))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(|e| transport_error(vendor, op, &e))?;
        Ok(RawResponse {
            status,
            headers,
            body,
        })
    }
}

impl Default for HttpClient {
    fn default() -> Self {
        Self::new()
    }
}

fn transport_error(vendor: Vendor, op: &str, e: &reqwest::Error) -> CallError {
    let kind = if e.is_timeout() {
        FailureKind::Timeout
    } else {
        FailureKind::Connect
    };
    // reqwest's Display includes the URL, which for some vendors carries a signature; keep only
    // the error chain's last cause.
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    CallError::new(
        vendor,
        op,
        kind,
        format!("{kind:?}: {cause}").to_lowercase(),
    )
}

/// A vendor's answer, whatever its status.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// HTTP status code.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Bytes,
}

impl RawResponse {
    /// True for 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// `Retry-After` in seconds, when present and numeric.
    pub fn retry_after(&self) -> Option<Duration> {
        self.headers
            .get(reqwest::header::RETRY_AFTER)?
            .to_str()
            .ok()?
            .trim()
            .parse::<u64>()
            .ok()
            .map(Duration::from_secs)
    }

    /// How many seconds the vendor's clock (its HTTP `Date` header) is ahead of `ours`
    /// (negative: behind); `None` without a readable `Date`. Origin servers with a clock send
    /// one on every answer (RFC 9110 §6.6.1), so this needs nothing the vendor documents.
    pub fn server_clock_offset_secs(&self, ours: DateTime<Utc>) -> Option<i64> {
        let text = self.headers.get(reqwest::header::DATE)?.to_str().ok()?;
        let theirs = DateTime::parse_from_rfc2822(text.trim()).ok()?;
        Some(theirs.timestamp() - ours.timestamp())
    }

    /// `Clock` when the vendor's `Date` is more than `window_secs` away from `ours`, else
    /// `Auth`. For a signature refusal whose message cannot be trusted to say "timestamp" (the
    /// vendors document no such message): two clocks further apart than the vendor's window
    /// explain the refusal whatever its text says.
    pub fn auth_or_clock(&self, ours: DateTime<Utc>, window_secs: i64) -> FailureKind {
        match self.server_clock_offset_secs(ours) {
            Some(offset) if offset.abs() > window_secs => FailureKind::Clock,
            _ => FailureKind::Auth,
        }
    }

    /// The body as text for error messages, cut to 300 characters.
    pub fn body_excerpt(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let mut out: String = text.chars().take(300).collect();
        if text.chars().count() > 300 {
            out.push('…');
        }
        out
    }

    /// The error for a non-2xx answer whose body the vendor did not explain: kind from the
    /// status, message from the body excerpt, `Retry-After` kept.
    pub fn status_error(&self, vendor: Vendor, op: &str) -> CallError {
        let mut e = CallError::new(
            vendor,
            op,
            FailureKind::from_http_status(self.status),
            if self.body.is_empty() {
                format!("HTTP {} with an empty body", self.status)
            } else {
                self.body_excerpt()
            },
        )
        .with_status(self.status);
        e.retry_after = self.retry_after();
        e
    }

    /// Decodes the body as JSON of type `T`, or a `BadResponse` error quoting the body.
    pub fn json<T: serde::de::DeserializeOwned>(
        &self,
        vendor: Vendor,
        op: &str,
    ) -> Result<T, CallError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            CallError::new(
                vendor,
                op,
                FailureKind::BadResponse,
                format!("undecodable answer ({e}): {}", self.body_excerpt()),
            )
            .with_status(self.status)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer_dated(date: &str) -> RawResponse {
        let mut headers = HeaderMap::new();
        headers.insert(reqwest::header::DATE, date.parse().unwrap());
        RawResponse {
            status: 403,
            headers,
            body: Bytes::new(),
        }
    }

    #[test]
    fn the_vendors_date_header_tells_clock_skew_from_a_bad_signature() {
        // 2024-01-01 04:30:35 UTC.
        let ours = DateTime::from_timestamp(1_704_083_435, 0).unwrap();
        let same = answer_dated("Mon, 01 Jan 2024 04:30:36 GMT");
        assert_eq!(same.server_clock_offset_secs(ours), Some(1));
        assert_eq!(same.auth_or_clock(ours, 10), FailureKind::Auth);
        let ahead = answer_dated("Mon, 01 Jan 2024 04:31:05 GMT");
        assert_eq!(ahead.server_clock_offset_secs(ours), Some(30));
        assert_eq!(ahead.auth_or_clock(ours, 10), FailureKind::Clock);
        assert_eq!(ahead.auth_or_clock(ours, 300), FailureKind::Auth);
        let behind = answer_dated("Mon, 01 Jan 2024 04:20:35 GMT");
        assert_eq!(behind.auth_or_clock(ours, 300), FailureKind::Clock);
        // No usable Date: no evidence of skew.
        let garbled = answer_dated("yesterday");
        assert_eq!(garbled.server_clock_offset_secs(ours), None);
        assert_eq!(garbled.auth_or_clock(ours, 10), FailureKind::Auth);
    }
}
