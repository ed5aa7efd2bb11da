//! Triggers produce work: webhook pushes, scheduled pulls, cron ticks and script-file changes.
//! They never run scripts themselves; they hand what arrives to an [`Intake`] (the journal), and
//! acknowledge a push or advance a checkpoint only after the intake has committed it.

use std::future::Future;

use crate::clock::Clock;
use crate::lead::Lead;
// Defined beside the journal, which returns it, so the journal does not depend on the triggers.
pub use crate::store::types::IntakeError;
use crate::store::types::{Accepted, Arrival, Checkpoint, FollowArrival, Quarantined};

// `[[sources]]` is part of the config file, validated by `Config::parse`; re-exported here
// because every trigger takes it.
pub use crate::config::SourceSpec;

pub mod guard;
pub mod pull;
pub mod webhook;

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

    /// Whether this node pulls `endpoint` for `account` now, for `ttl`: nodes sharing a
    /// journal take turns so one source is pulled by one node at a time. A journal only this
    /// node writes says yes.
    fn lease_source(
        &self,
        _account: &str,
        _endpoint: &str,
        _ttl: std::time::Duration,
    ) -> impl Future<Output = Result<bool, IntakeError>> + Send {
        std::future::ready(Ok(true))
    }

    /// True when the backlog is above its threshold: pushes are answered 503 with Retry-After
    /// instead of being buffered.
    fn is_overloaded(&self) -> bool;

    /// The clock pushes are stamped and checked with (arrival time, Tencent's signature window
    /// and replay guard): the daemon's one clock, which the journal holds.
    fn clock(&self) -> Clock {
        Clock::system()
    }
}
