//! The `X-Signature` recipes of spec §3.4, pure: the timestamp and nonce are arguments, nothing
//! here reads a clock or makes randomness.
//!
//! - outbound (every call we make): `base64(token,ts,nonce,lowerhex(H(token.ts.secret)))`;
//! - push (what the platform sends us): the same without the nonce.
//!
//! `H` is a PLAIN SHA-1 or SHA-256 over `token.ts.secret`, not an HMAC: the signature
//! authenticates the caller only and covers neither URL nor body (spec §3.4, X-a).

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::config::Algorithm;

/// The largest `X-Signature` we try to decode; real ones are under 200 characters, so anything
/// far larger is garbage and is refused before base64 allocates for it.
pub const MAX_SIGNATURE_LEN: usize = 1024;

/// Standard alphabet that accepts the padding present or missing (spec §6.1 step 1).
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// `lowerhex(H(token + "." + ts + "." + secret))`. `ts` is text so a verifier hashes exactly the
/// digits it received.
pub fn digest(token: &str, ts: &str, secret: &str, alg: Algorithm) -> String {
    let seed = [
        token.as_bytes(),
        b".",
        ts.as_bytes(),
        b".",
        secret.as_bytes(),
    ];
    match alg {
        Algorithm::Sha1 => {
            let mut h = Sha1::new();
            seed.iter().for_each(|part| h.update(part));
            hex::encode(h.finalize())
        }
        Algorithm::Sha256 => {
            let mut h = Sha256::new();
            seed.iter().for_each(|part| h.update(part));
            hex::encode(h.finalize())
        }
    }
}

/// The outbound 4-part `X-Signature` (spec §3.4 (i), vectors T1/T2).
pub fn x_signature(token: &str, secret: &str, ts: i64, nonce: &str, alg: Algorithm) -> String {
    let ts = ts.to_string();
    let sign = digest(token, &ts, secret, alg);
    STANDARD.encode(format!("{token},{ts},{nonce},{sign}"))
}

/// The push 3-part `X-Signature` (spec §3.4 (ii), vectors T3/T4), as the platform sends it.
pub fn push_x_signature(token: &str, secret: &str, ts: i64, alg: Algorithm) -> String {
    let ts = ts.to_string();
    let sign = digest(token, &ts, secret, alg);
    STANDARD.encode(format!("{token},{ts},{sign}"))
}

/// A decoded `X-Signature`, not yet verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedSignature {
    /// The caller's token.
    pub token: String,
    /// The timestamp exactly as sent (not checked to be numeric here).
    pub ts: String,
    /// The nonce of the 4-part form; `None` for the 3-part form.
    pub nonce: Option<String>,
    /// The hex digest exactly as sent (not lowercased).
    pub digest: String,
}

/// Why an `X-Signature` could not even be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureFormatError {
    /// The header is empty.
    #[error("X-Signature is empty")]
    Empty,
    /// Longer than [`MAX_SIGNATURE_LEN`].
    #[error("X-Signature is {0} characters long")]
    TooLong(usize),
    /// Not standard base64.
    #[error("X-Signature is not base64")]
    NotBase64,
    /// Decodes to bytes that are not UTF-8.
    #[error("X-Signature does not decode to UTF-8 text")]
    NotUtf8,
    /// Decodes to text with the wrong number of comma-separated parts.
    #[error("X-Signature has {0} comma-separated parts, expected 3 or 4")]
    PartCount(usize),
}

/// Decodes an `X-Signature` header: base64 (padding optional, surrounding white space ignored),
/// then 3 parts `token,ts,digest` or 4 parts `token,ts,nonce,digest`.
pub fn parse_x_signature(header: &str) -> Result<ParsedSignature, SignatureFormatError> {
    let header = header.trim();
    if header.is_empty() {
        return Err(SignatureFormatError::Empty);
    }
    if header.len() > MAX_SIGNATURE_LEN {
        return Err(SignatureFormatError::TooLong(header.len()));
    }
    let bytes = LENIENT
        .decode(header)
        .map_err(|_| SignatureFormatError::NotBase64)?;
    let text = String::from_utf8(bytes).map_err(|_| SignatureFormatError::NotUtf8)?;
    let parts: Vec<&str> = text.split(',').collect();
    match parts.as_slice() {
        [token, ts, digest] => Ok(ParsedSignature {
            token: token.to_string(),
            ts: ts.to_string(),
            nonce: None,
            digest: digest.to_string(),
        }),
        [token, ts, nonce, digest] => Ok(ParsedSignature {
            token: token.to_string(),
            ts: ts.to_string(),
            nonce: Some(nonce.to_string()),
            digest: digest.to_string(),
        }),
        other => Err(SignatureFormatError::PartCount(other.len())),
    }
}

/// Parses a timestamp that must be exactly 10 ASCII digits (unix seconds, spec §3.4).
pub fn parse_ts(ts: &str) -> Option<i64> {
    if ts.len() == 10 && ts.bytes().all(|b| b.is_ascii_digit()) {
        ts.parse().ok()
    } else {
        None
    }
}

/// Constant-time equality of two byte strings (length may leak; content does not).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}
