//! `GET /token` and the `X-OpenApi-Token` check in front of every other call.

use axum::http::{Method, StatusCode};
use chrono::{TimeZone, Utc};
use serde_json::json;
use subtle::ConstantTimeEq;

use super::reply::{bare, ok_json, Answer};
use super::request::{stamp, Req};
use super::{Inner, APP_KEY, APP_SECRET};

impl Inner {
    pub(super) fn token(&mut self, req: &Req) -> Answer {
        self.token_requests += 1;
        if req.method != Method::GET {
            return Ok(bare(StatusCode::METHOD_NOT_ALLOWED, "GET /token only"));
        }
        let header = |name: &str| {
            req.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        let key = header("x-openapi-key");
        let secret = header("x-openapi-secret");
        if key.is_empty() || secret.is_empty() {
            return Ok(bare(
                StatusCode::UNAUTHORIZED,
                "X-OpenApi-Key and X-OpenApi-Secret are required",
            ));
        }
        let key_ok = key.as_bytes().ct_eq(APP_KEY.as_bytes());
        let secret_ok = secret.as_bytes().ct_eq(APP_SECRET.as_bytes());
        if !bool::from(key_ok & secret_ok) {
            return Ok(bare(
                StatusCode::UNAUTHORIZED,
                "App Key or App Secret is wrong",
            ));
        }
        let raw = format!("2-{}", uuid::Uuid::new_v4());
        let token = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, raw);
        let expires = req.now.timestamp() + self.token_ttl_secs;
        self.tokens.insert(token.clone(), expires);
        let expiration = Utc
            .timestamp_opt(expires, 0)
            .single()
            .map(stamp)
            .unwrap_or_default();
        ok_json(json!({"expiration": expiration, "token": token}))
    }

    /// `Err` is why the token is refused, for a bare 401 (see the module doc).
    pub(super) fn check_token(&mut self, req: &Req) -> Result<(), &'static str> {
        let token = req
            .headers
            .get("x-openapi-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .trim();
        let problem = if token.is_empty() {
            Some("X-OpenApi-Token is required")
        } else {
            match self.tokens.get(token) {
                None => Some("X-OpenApi-Token is not a valid token"),
                Some(&expiry) if req.now.timestamp() >= expiry => {
                    Some("X-OpenApi-Token has expired")
                }
                Some(_) => None,
            }
        };
        match problem {
            Some(reason) => {
                self.token_rejections += 1;
                Err(reason)
            }
            None => Ok(()),
        }
    }
}
