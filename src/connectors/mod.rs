//! The vendor layer: the ONE list of vendors ([`Vendor`]), the op registry ([`all_ops`]), and
//! [`AccountClient`], which dispatches a named op with a JSON payload to the right typed client.
//!
//! Each vendor lives in its own folder with the same files: `config.rs` (credentials),
//! `sign.rs` (pure signer, clock and nonce passed in), `model.rs` (typed, tolerant serde models),
//! `client.rs` (async client: serialize once, sign those bytes, send them, classify errors),
//! `webhook.rs` where the vendor pushes to us, and `tests.rs` with the spec's vectors.
//! Nothing here knows Rhai or the journal.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

pub mod error;
pub mod http;
pub mod wire;

pub mod feiyu;
pub mod linkflow;
pub mod tencent;
pub mod waiqin;
pub mod xiaolanben;

pub use error::{CallError, ErrorKind, FailureKind};
pub use http::HttpClient;

use crate::clock::Clock;

// The id enum lives in `lead` (a lead names its vendor, and `lead` sits below this layer); the
// vendor knowledge stays here as a second `impl` block, so `connectors::Vendor` is the same type
// with the same methods.
pub use crate::lead::Vendor;

impl Vendor {
    /// The vendor's public API base URL, used when an account sets no `base_url`.
    pub fn default_base_url(self) -> &'static str {
        match self {
            Vendor::Tencent => tencent::config::DEFAULT_BASE_URL,
            Vendor::Feiyu => feiyu::config::DEFAULT_BASE_URL,
            Vendor::Waiqin => waiqin::config::DEFAULT_BASE_URL,
            Vendor::Xiaolanben => xiaolanben::config::DEFAULT_BASE_URL,
            Vendor::Linkflow => linkflow::config::DEFAULT_BASE_URL,
        }
    }

    /// The ops this vendor offers.
    pub fn ops(self) -> &'static [OpInfo] {
        match self {
            Vendor::Tencent => tencent::OPS,
            Vendor::Feiyu => feiyu::OPS,
            Vendor::Waiqin => waiqin::OPS,
            Vendor::Xiaolanben => xiaolanben::OPS,
            Vendor::Linkflow => linkflow::OPS,
        }
    }
}

/// One op of one vendor: the name used by `leadrelay call` and by scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpInfo {
    /// snake_case op name (`list_leads`, `import_customer`, …).
    pub name: &'static str,
    /// HTTP method and path relative to the account's base URL, for help text.
    pub endpoint: &'static str,
    /// One line saying what the op does.
    pub summary: &'static str,
}

/// Every op of every vendor, with its vendor.
pub fn all_ops() -> impl Iterator<Item = (Vendor, &'static OpInfo)> {
    Vendor::ALL
        .into_iter()
        .flat_map(|v| v.ops().iter().map(move |op| (v, op)))
}

/// What every vendor client needs besides its credentials.
#[derive(Clone, Debug)]
pub struct ClientContext {
    /// The account name, carried into every error.
    pub account: String,
    /// The base URL, without a trailing slash.
    pub base_url: String,
    /// The shared HTTP client.
    pub http: HttpClient,
    /// The clock to sign with.
    pub clock: Clock,
}

/// One named credential set for one vendor.
#[derive(Debug, Clone)]
pub struct Account {
    /// The name under `[accounts.NAME]`.
    pub name: String,
    /// The account's vendor.
    pub vendor: Vendor,
    /// The API prefix, default the vendor's public URL; may point at a simulator or proxy.
    pub base_url: String,
    /// The vendor's credentials.
    pub credentials: Credentials,
}

/// The credentials of one account, by vendor.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// Tencent: `token`, `secret`, `algorithm`.
    Tencent(tencent::config::Credentials),
    /// Feiyu: `token`, `signature_key`.
    Feiyu(feiyu::config::Credentials),
    /// Waiqin: `openid`, `appkey`, `pushsecret`.
    Waiqin(waiqin::config::Credentials),
    /// Xiaolanben: `company_id`, `key`.
    Xiaolanben(xiaolanben::config::Credentials),
    /// Linkflow: `app_key`, `app_secret`.
    Linkflow(linkflow::config::Credentials),
}

/// A ready client for one configured account, whatever its vendor.
#[derive(Clone, Debug)]
pub enum AccountClient {
    /// A Tencent account.
    Tencent(tencent::Client),
    /// A Feiyu account.
    Feiyu(feiyu::Client),
    /// A Waiqin account.
    Waiqin(waiqin::Client),
    /// A Xiaolanben account.
    Xiaolanben(xiaolanben::Client),
    /// A Linkflow account.
    Linkflow(linkflow::Client),
}

impl AccountClient {
    /// Builds the client for `account`.
    pub fn new(account: &Account, http: HttpClient, clock: Clock) -> Self {
        let ctx = ClientContext {
            account: account.name.clone(),
            base_url: account.base_url.trim_end_matches('/').to_string(),
            http,
            clock,
        };
        match &account.credentials {
            Credentials::Tencent(c) => Self::Tencent(tencent::Client::new(ctx, c.clone())),
            Credentials::Feiyu(c) => Self::Feiyu(feiyu::Client::new(ctx, c.clone())),
            Credentials::Waiqin(c) => Self::Waiqin(waiqin::Client::new(ctx, c.clone())),
            Credentials::Xiaolanben(c) => Self::Xiaolanben(xiaolanben::Client::new(ctx, c.clone())),
            Credentials::Linkflow(c) => Self::Linkflow(linkflow::Client::new(ctx, c.clone())),
        }
    }

    /// The account's vendor.
    pub fn vendor(&self) -> Vendor {
        match self {
            Self::Tencent(_) => Vendor::Tencent,
            Self::Feiyu(_) => Vendor::Feiyu,
            Self::Waiqin(_) => Vendor::Waiqin,
            Self::Xiaolanben(_) => Vendor::Xiaolanben,
            Self::Linkflow(_) => Vendor::Linkflow,
        }
    }

    /// Runs op `op` with a JSON payload and returns the decoded answer as JSON. An unknown op or
    /// a payload that does not fit the op's request type fails with `InvalidPayload` before
    /// anything is sent.
    pub async fn call(&self, op: &str, payload: Value) -> Result<Value, CallError> {
        let vendor = self.vendor();
        if !vendor.ops().iter().any(|o| o.name == op) {
            let known: Vec<_> = vendor.ops().iter().map(|o| o.name).collect();
            return Err(CallError::new(
                vendor,
                op,
                FailureKind::InvalidPayload,
                format!("{vendor} has no op `{op}` (ops: {})", known.join(", ")),
            ));
        }
        match self {
            Self::Tencent(c) => c.call_op(op, payload).await,
            Self::Feiyu(c) => c.call_op(op, payload).await,
            Self::Waiqin(c) => c.call_op(op, payload).await,
            Self::Xiaolanben(c) => c.call_op(op, payload).await,
            Self::Linkflow(c) => c.call_op(op, payload).await,
        }
    }
}

/// Converts one record as a lead vendor sends it (a Tencent lead, a Feiyu clue, a Waiqin query
/// record) into a [`Lead`](crate::lead::Lead) of `account`.
pub fn lead_from_record(
    vendor: Vendor,
    account: &str,
    record: Value,
) -> Result<crate::lead::Lead, String> {
    let lead = match vendor {
        Vendor::Feiyu => feiyu::model::Clue::from_raw(record)
            .map(|clue| clue.to_lead(account))
            .map_err(|(e, _)| format!("not a Feiyu clue: {e}")),
        Vendor::Tencent => tencent::model::TencentLead::from_value(record)
            .map(|lead| lead.to_lead(account))
            .map_err(|e| format!("not a Tencent lead: {e}")),
        Vendor::Waiqin => waiqin::model::SalesLead::from_raw(record)
            .map(|lead| lead.to_lead(account))
            .map_err(|e| format!("not a Waiqin sales lead: {e}")),
        Vendor::Xiaolanben | Vendor::Linkflow => Err(format!(
            "{vendor} is a destination, not a lead source: leads come from tencent, feiyu or waiqin"
        )),
    }?;
    // The id is the journal's de-duplication key; a record without one is not a lead.
    if lead.id.trim().is_empty() {
        return Err(format!("not a {vendor} lead: its id is empty"));
    }
    Ok(lead)
}

/// The clients of every configured account, by name.
#[derive(Clone, Debug, Default)]
pub struct Accounts {
    clients: BTreeMap<String, AccountClient>,
}

impl Accounts {
    /// A client for every account (`Accounts::from_config` in `config` passes the configured ones).
    pub fn from_accounts<'a>(
        accounts: impl IntoIterator<Item = &'a Account>,
        http: HttpClient,
        clock: Clock,
    ) -> Self {
        let clients = accounts
            .into_iter()
            .map(|account| {
                (
                    account.name.clone(),
                    AccountClient::new(account, http.clone(), clock),
                )
            })
            .collect();
        Accounts { clients }
    }

    /// The client of account `name`.
    pub fn get(&self, name: &str) -> Option<&AccountClient> {
        self.clients.get(name)
    }

    /// The names of `vendor`'s accounts, sorted.
    pub fn names_of(&self, vendor: Vendor) -> Vec<&str> {
        self.clients
            .iter()
            .filter(|(_, c)| c.vendor() == vendor)
            .map(|(n, _)| n.as_str())
            .collect()
    }

    /// The account to use for a call of `vendor`: the one named, or the only one configured.
    /// The error says which accounts exist and how to name one.
    pub fn resolve(
        &self,
        vendor: Vendor,
        name: Option<&str>,
        op: &str,
    ) -> Result<(&str, &AccountClient), String> {
        if let Some(name) = name {
            return match self.clients.get_key_value(name) {
                Some((n, c)) if c.vendor() == vendor => Ok((n.as_str(), c)),
                Some((_, c)) => Err(format!(
                    "account `{name}` is a {} account, not {vendor}",
                    c.vendor()
                )),
                None => Err(format!(
                    "no account `{name}`; {vendor} accounts: {}",
                    list_or_none(&self.names_of(vendor))
                )),
            };
        }
        match self.names_of(vendor).as_slice() {
            [only] => Ok((only, &self.clients[*only])),
            [] => Err(format!("no {vendor} account is configured")),
            several => Err(format!(
                "several {vendor} accounts are configured ({}): name one, e.g. {vendor}::{op}(\"{}\", payload)",
                several.join(", "),
                several[0]
            )),
        }
    }
}

fn list_or_none(names: &[&str]) -> String {
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

/// Decodes an op's JSON payload into its typed request, or an `InvalidPayload` error naming the
/// field serde complained about. Shared by every vendor's `call_op`.
pub fn decode_payload<T: serde::de::DeserializeOwned>(
    vendor: Vendor,
    op: &str,
    payload: Value,
) -> Result<T, CallError> {
    serde_json::from_value(payload).map_err(|e| {
        CallError::new(
            vendor,
            op,
            FailureKind::InvalidPayload,
            format!("invalid payload: {e}"),
        )
    })
}

/// Encodes a typed answer as JSON for `call_op`. Serializing our own models cannot fail; a
/// failure would be a bug, reported as `BadResponse` rather than a panic.
pub fn encode_answer<T: Serialize>(
    vendor: Vendor,
    op: &str,
    answer: &T,
) -> Result<Value, CallError> {
    serde_json::to_value(answer)
        .map_err(|e| CallError::new(vendor, op, FailureKind::BadResponse, e.to_string()))
}
