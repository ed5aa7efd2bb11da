//! The Template client: serialize once, sign those bytes, send them, read the envelope.

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::config::Credentials;
use super::model::{Contact, CreateContactRequest, Envelope, GetContactRequest};
use super::sign;
use crate::connectors::{CallError, ClientContext, FailureKind, Vendor};

const VENDOR: Vendor = Vendor::Template;

/// A Template account's client.
#[derive(Clone, Debug)]
pub struct Client {
    ctx: ClientContext,
    credentials: Credentials,
}

impl Client {
    /// Builds a client; no request is made until the first call.
    pub fn new(ctx: ClientContext, credentials: Credentials) -> Self {
        Self { ctx, credentials }
    }

    /// The account this client calls for.
    pub fn account(&self) -> &str {
        &self.ctx.account
    }

    /// `POST /v1/contacts`.
    pub async fn create_contact(&self, request: &CreateContactRequest) -> Result<Contact, CallError> {
        request.validate().map_err(|e| {
            e.into_call_error(VENDOR, "create_contact")
                .with_account(self.account())
        })?;
        self.post("create_contact", "/v1/contacts", request).await
    }

    /// `POST /v1/contacts/get`.
    pub async fn get_contact(&self, request: &GetContactRequest) -> Result<Contact, CallError> {
        self.post("get_contact", "/v1/contacts/get", request).await
    }

    async fn post<T: DeserializeOwned>(
        &self,
        op: &str,
        path: &str,
        request: &impl Serialize,
    ) -> Result<T, CallError> {
        let body = serde_json::to_vec(request)
            .map_err(|e| self.error(op, FailureKind::InvalidPayload, e.to_string()))?;
        let ts = self.ctx.clock.unix_secs();
        let signature = sign::signature(self.credentials.secret.expose(), ts, &body);
        let builder = self
            .ctx
            .http
            .reqwest()
            .post(format!("{}{path}", self.ctx.base_url))
            .header("content-type", "application/json")
            .header("x-template-key", &self.credentials.key_id)
            .header("x-template-timestamp", ts.to_string())
            .header("x-template-signature", signature)
            .body(body);
        let raw = self
            .ctx
            .http
            .send(VENDOR, op, builder)
            .await
            .map_err(|e| e.with_account(self.account()))?;
        let envelope: Option<Envelope<T>> = serde_json::from_slice(&raw.body).ok();
        match envelope {
            Some(Envelope { code: 0, data: Some(data), .. }) if raw.is_success() => Ok(data),
            Some(Envelope { code, message, .. }) if code != 0 => {
                let kind = match code {
                    401 => FailureKind::Auth,
                    400 => FailureKind::InvalidRequest,
                    _ => FailureKind::Business,
                };
                Err(self
                    .error(op, kind, message)
                    .with_status(raw.status)
                    .with_code(code.to_string()))
            }
            _ if !raw.is_success() => Err(raw.status_error(VENDOR, op).with_account(self.account())),
            _ => Err(self
                .error(op, FailureKind::BadResponse, raw.body_excerpt())
                .with_status(raw.status)),
        }
    }

    fn error(&self, op: &str, kind: FailureKind, message: impl Into<String>) -> CallError {
        CallError::new(VENDOR, op, kind, message).with_account(self.account())
    }
}
