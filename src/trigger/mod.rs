//! Triggers produce work: webhook pushes, scheduled pulls, cron ticks and script-file changes.
//! They never run scripts themselves; they hand what arrives to an [`Intake`] (the journal), and
//! acknowledge a push or advance a checkpoint only after the intake has committed it.

use std::future::Future;

use serde::Deserialize;

use crate::lead::Lead;
use crate::store::types::{Accepted, Arrival, Checkpoint, FollowArrival, Quarantined};

pub mod guard;
pub mod pull;
pub mod webhook;

/// Why the intake could not take something. The trigger answers 503 (push) or retries later
/// (pull); nothing is acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the journal cannot take it now: {0}")]
pub struct IntakeError(pub String);

/// Where triggers put what arrives. Implemented by the journal; tests use an in-memory fake.
pub trait Intake: Send + Sync + 'static {
    /// Commits `leads` (de-duplicated by account + vendor lead id) and, in the same transaction,
    /// `checkpoint`. Returns, per lead in order, whether it was new. Resolves only after commit.
    fn accept_leads(
        &self,
        leads: Vec<Lead>,
        arrival: Arrival,
        checkpoint: Option<Checkpoint>,
    ) -> impl Future<Output = Result<Vec<Accepted>, IntakeError>> + Send;

    /// Commits a Waiqin follow record (de-duplicated by account + msgId).
    fn accept_follow(
        &self,
        follow: FollowArrival,
    ) -> impl Future<Output = Result<Accepted, IntakeError>> + Send;

    /// Keeps a verified but unparsable payload; returns its quarantine id.
    fn quarantine(
        &self,
        item: Quarantined,
    ) -> impl Future<Output = Result<i64, IntakeError>> + Send;

    /// The last committed position of a pull.
    fn checkpoint(
        &self,
        account: &str,
        endpoint: &str,
    ) -> impl Future<Output = Result<Option<String>, IntakeError>> + Send;

    /// True when the backlog is above its threshold: pushes are answered 503 with Retry-After
    /// instead of being buffered.
    fn is_overloaded(&self) -> bool;
}

/// One `[[sources]]` entry: how leads enter from one account.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// The account (must exist under `[accounts]`).
    pub account: String,
    /// Pull on this cron schedule (6 fields with seconds, or 5).
    #[serde(default)]
    pub pull: Option<String>,
    /// Accept pushes on this path (e.g. `/hooks/tencent/tx_main`).
    #[serde(default)]
    pub push: Option<String>,
    /// Each pull window starts this many seconds before the last checkpoint, so leads the
    /// vendor records late are not missed (duplicates are dropped by the journal).
    #[serde(default = "default_overlap_secs")]
    pub overlap_secs: u64,
    /// Page size of pulls (default: the vendor's maximum).
    #[serde(default)]
    pub page_size: Option<u32>,
    /// Accept pushes only from these networks (CIDR blocks or plain addresses), judged by the
    /// peer address or, behind `[daemon] trusted_proxies`, by `X-Forwarded-For`. `None`: from
    /// anywhere. Kept as written; [`webhook::source_allow_from`] parses and checks it.
    #[serde(default)]
    pub allow_from: Option<Vec<String>>,
}

fn default_overlap_secs() -> u64 {
    600
}
