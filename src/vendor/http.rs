//! The shared HTTP client (reqwest + rustls) and the one place where transport failures and
//! non-2xx statuses become [`CallError`]s. Vendor clients build requests and decode bodies; they do
//! not classify transport errors themselves.

use std::time::Duration;

use bytes::Bytes;
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
