//! Verification of the platform's lead push (spec §6.1), on the raw request: header values as
//! plain `Option<&str>` and the body as bytes, so this module knows nothing of axum.
//!
//! The signature is checked first and the body parsed only after it passed, and the two failures
//! are different errors: [`PushError::Unauthorized`] (answer 401, store nothing) versus
//! [`PushError::Malformed`] (a genuine push we cannot read: answer 400 and quarantine it).

use super::config::{Algorithm, Credentials};
use crate::connectors::source::{PushHead, PushReceiver, PushRefusal, Pushed};
use super::model::TencentLead;
use super::sign::{self, SignatureFormatError};
use crate::secret::Secret;

/// The body to answer an accepted push with (spec §6.1, the seed's success example).
pub const PUSH_ACK: &str = r#"{"code":0,"message":"success","data":[{}]}"#;

/// Default tolerated distance between the push's timestamp and our clock, in seconds.
pub const DEFAULT_MAX_SKEW_SECS: u64 = 300;

/// Why a push's signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    /// No `X-Signature` header.
    #[error("missing X-Signature header")]
    MissingSignature,
    /// The header does not decode to `token,ts[,nonce],digest`.
    #[error(transparent)]
    Format(#[from] SignatureFormatError),
    /// The token is not ours.
    #[error("X-Signature token does not match the configured token")]
    TokenMismatch,
    /// The timestamp is not 10 digits.
    #[error("X-Signature timestamp is not 10 digits")]
    BadTimestamp,
    /// The timestamp is too far from our clock.
    #[error("X-Signature timestamp is {skew_secs} s from our clock (allowed ±{max_secs} s)")]
    Stale {
        /// Signed distance, push minus now.
        skew_secs: i64,
        /// The tolerance.
        max_secs: u64,
    },
    /// `X-Signature-Algorithm` names something else than SHA1/SHA256.
    #[error("unsupported X-Signature-Algorithm {0:?}")]
    UnknownAlgorithm(String),
    /// The digest does not match.
    #[error("X-Signature digest does not match ({0})")]
    DigestMismatch(Algorithm),
}

/// Why a push was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// The signature failed: answer 401 and store nothing.
    #[error("unauthorized push: {0}")]
    Unauthorized(#[from] AuthFailure),
    /// The signature passed but the body is not one lead object: answer 400 and quarantine.
    #[error("malformed push body: {0}")]
    Malformed(String),
}

impl PushError {
    /// The HTTP status to answer with.
    pub fn http_status(&self) -> u16 {
        match self {
            PushError::Unauthorized(_) => 401,
            PushError::Malformed(_) => 400,
        }
    }

    /// The platform-style code to put in the answer body.
    pub fn code(&self) -> i64 {
        match self {
            PushError::Unauthorized(_) => 2001,
            PushError::Malformed(_) => 2101,
        }
    }

    /// The answer body, `{"code":…,"message":…}`.
    pub fn response_body(&self) -> String {
        serde_json::json!({"code": self.code(), "message": self.to_string()}).to_string()
    }
}

/// What a valid signature said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedPush {
    /// The push's unix timestamp.
    pub ts: i64,
    /// The algorithm the digest was checked with.
    pub algorithm: Algorithm,
    /// The nonce, when the platform sent the 4-part form.
    pub nonce: Option<String>,
    /// The digest as sent: the replay guard's key (the signature does not cover the body).
    pub digest: String,
}

/// Verifies pushes for one account.
#[derive(Debug, Clone)]
pub struct PushVerifier {
    token: Secret,
    secret: Secret,
    max_skew_secs: Option<u64>,
}

impl PushVerifier {
    /// A verifier for `token`/`secret` with the default ±300 s window.
    pub fn new(token: Secret, secret: Secret) -> Self {
        Self {
            token,
            secret,
            max_skew_secs: Some(DEFAULT_MAX_SKEW_SECS),
        }
    }

    /// A verifier for an account's credentials.
    pub fn from_credentials(credentials: &Credentials) -> Self {
        Self::new(credentials.token.clone(), credentials.secret.clone())
    }

    /// Sets the timestamp window; `None` disables the check (the push's retry policy is
    /// undocumented, X-l, so an operator may need to accept late redeliveries).
    pub fn with_max_skew(mut self, max_skew_secs: Option<u64>) -> Self {
        self.max_skew_secs = max_skew_secs;
        self
    }

    /// Checks `X-Signature` (and `X-Signature-Algorithm`) against our token and secret at
    /// `now_unix`.
    pub fn verify_signature(
        &self,
        signature: Option<&str>,
        algorithm: Option<&str>,
        now_unix: i64,
    ) -> Result<VerifiedPush, AuthFailure> {
        let header = signature.ok_or(AuthFailure::MissingSignature)?;
        let parsed = sign::parse_x_signature(header)?;
        if !sign::ct_eq(parsed.token.as_bytes(), self.token.expose().as_bytes()) {
            return Err(AuthFailure::TokenMismatch);
        }
        let ts = sign::parse_ts(&parsed.ts).ok_or(AuthFailure::BadTimestamp)?;
        if let Some(max) = self.max_skew_secs {
            let skew = ts.saturating_sub(now_unix);
            if skew.unsigned_abs() > max {
                return Err(AuthFailure::Stale {
                    skew_secs: skew,
                    max_secs: max,
                });
            }
        }
        let alg = match algorithm.map(str::trim).filter(|a| !a.is_empty()) {
            Some(name) => Algorithm::parse(name)
                .ok_or_else(|| AuthFailure::UnknownAlgorithm(name.chars().take(32).collect()))?,
            None => Algorithm::from_digest_len(parsed.digest.len()).unwrap_or(Algorithm::Sha1),
        };
        let expected = sign::digest(self.token.expose(), &parsed.ts, self.secret.expose(), alg);
        if !sign::ct_eq(
            expected.as_bytes(),
            parsed.digest.to_ascii_lowercase().as_bytes(),
        ) {
            return Err(AuthFailure::DigestMismatch(alg));
        }
        Ok(VerifiedPush {
            ts,
            algorithm: alg,
            nonce: parsed.nonce,
            digest: parsed.digest,
        })
    }

    /// Verifies the signature, then parses `body` as ONE lead object.
    pub fn verify(
        &self,
        signature: Option<&str>,
        algorithm: Option<&str>,
        body: &[u8],
        now_unix: i64,
    ) -> Result<TencentLead, PushError> {
        self.verify_signature(signature, algorithm, now_unix)?;
        parse_push_body(body)
    }
}

/// Parses a push body as one lead object, with a reason that says what is wrong.
pub fn parse_push_body(body: &[u8]) -> Result<TencentLead, PushError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(PushError::Malformed("empty body".into()));
    }
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| PushError::Malformed(format!("not JSON: {e}")))?;
    if !value.is_object() {
        return Err(PushError::Malformed(
            "expected one lead object (the push is not a list)".into(),
        ));
    }
    TencentLead::from_value(value).map_err(|e| PushError::Malformed(format!("not a lead: {e}")))
}

/// The headers of a push as the platform would send it: the 3-part `X-Signature` and
/// `X-Signature-Algorithm`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushHeaders {
    /// `X-Signature`.
    pub signature: String,
    /// `X-Signature-Algorithm`.
    pub algorithm: Algorithm,
}

impl PushHeaders {
    /// `(name, value)` pairs to set on a request.
    pub fn pairs(&self) -> [(&'static str, String); 2] {
        [
            ("X-Signature", self.signature.clone()),
            ("X-Signature-Algorithm", self.algorithm.as_str().to_string()),
        ]
    }
}

/// Signs a push at `ts` (for the simulator, tests and benchmarks).
pub fn sign_push(token: &str, secret: &str, ts: i64, algorithm: Algorithm) -> PushHeaders {
    PushHeaders {
        signature: sign::push_x_signature(token, secret, ts, algorithm),
        algorithm,
    }
}

/// Tencent's code for "busy, retry later" (the 1100–1199 range, spec §3.6).
const BUSY: i64 = 1100;
/// Tencent's code for a request we refuse as invalid (the 2100–2199 range).
const INVALID: i64 = 2100;

impl PushReceiver for PushVerifier {
    fn verify(
        &self,
        head: &PushHead,
        _body: &[u8],
        now: i64,
    ) -> Result<crate::connectors::source::VerifiedPush, PushRefusal> {
        match self.verify_signature(head.signature.as_deref(), head.algorithm.as_deref(), now) {
            Ok(verified) => Ok(crate::connectors::source::VerifiedPush {
                replay_key: Some((verified.digest, verified.ts)),
            }),
            Err(failure) => Err(PushRefusal {
                reason: failure.to_string(),
                answer: PushError::Unauthorized(failure).response_body(),
            }),
        }
    }

    fn parse(&self, account: &str, body: &[u8]) -> Result<Pushed, PushRefusal> {
        match parse_push_body(body) {
            Ok(lead) => Ok(Pushed::Lead(Box::new(lead.to_lead(account)))),
            Err(error) => Err(PushRefusal {
                reason: error.to_string(),
                answer: error.response_body(),
            }),
        }
    }

    fn ack_body(&self, _pushed: &Pushed) -> String {
        PUSH_ACK.to_string()
    }

    fn reject_body(&self, message: &str) -> String {
        serde_json::json!({"code": INVALID, "message": message}).to_string()
    }

    fn busy_body(&self, message: &str) -> String {
        serde_json::json!({"code": BUSY, "message": message}).to_string()
    }

    fn replay_window_secs(&self) -> Option<u64> {
        // The signature covers the token and the time, not the body (see the trigger's replay
        // guard); the guard remembers signatures for as long as they verify.
        Some(self.max_skew_secs.unwrap_or(DEFAULT_MAX_SKEW_SECS))
    }
}

#[cfg(test)]
mod receiver_tests {
    use super::*;

    #[test]
    fn answers_are_in_tencents_shape_and_the_guard_window_is_the_signature_window() {
        let receiver = PushVerifier::new("tok".into(), "sec".into());
        let busy: serde_json::Value = serde_json::from_str(&receiver.busy_body("x")).unwrap();
        assert_eq!(busy["code"], BUSY);
        let invalid: serde_json::Value = serde_json::from_str(&receiver.reject_body("x")).unwrap();
        assert_eq!(invalid["code"], INVALID);
        assert_eq!(receiver.replay_window_secs(), Some(DEFAULT_MAX_SKEW_SECS));
    }
}
