//! Lead sources as vendor capabilities: a vendor that serves leads by pull implements
//! [`PullSource`] in its folder's `pull.rs`, one that pushes implements [`PushReceiver`] in its
//! `webhook.rs`. `crate::trigger` drives both without knowing any vendor by name: it owns the
//! schedules, checkpoints, HTTP server, guards and the journal hand-off; the vendor owns the
//! wire (which endpoint, which page size, how a push is signed, what its answers look like).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use serde_json::Value;

use super::CallError;
use crate::lead::Lead;

/// A boxed, sendable future: what a capability's async method returns, so the traits stay
/// usable as trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One window of a scheduled pull, in Beijing time (day-granular vendors use its dates).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullWindow {
    /// Start of the window.
    pub start: DateTime<FixedOffset>,
    /// End of the window.
    pub end: DateTime<FixedOffset>,
    /// Records per page, within `1..=max_page_size()`.
    pub page_size: u32,
    /// Pause between pages.
    pub page_pause: Duration,
}

/// A record the vendor returned that is not a lead, with why: it goes to the quarantine.
#[derive(Debug, Clone, PartialEq)]
pub struct RejectedRecord {
    /// Why it could not be converted.
    pub reason: String,
    /// The record as the vendor sent it.
    pub raw: Value,
}

/// What one window brought.
#[derive(Debug, Clone, Default)]
pub struct Pulled {
    /// The window's leads, converted.
    pub leads: Vec<Lead>,
    /// Records that could not be converted.
    pub rejected: Vec<RejectedRecord>,
}

/// A vendor whose leads are pulled on a schedule. Implemented by the vendor's client.
pub trait PullSource: Send + Sync {
    /// The endpoint pulled; it also names the source's checkpoint in the journal.
    fn endpoint(&self) -> &'static str;
    /// The largest page the vendor serves (the default page size).
    fn max_page_size(&self) -> u32;
    /// The pause between pages the vendor asks for (`Duration::ZERO` when it asks none).
    fn page_pause(&self) -> Duration;
    /// Every record of the window, page by page, converted into leads of the client's account.
    fn fetch_window(&self, window: PullWindow) -> BoxFuture<'_, Result<Pulled, CallError>>;
}

/// The request head a push verifier may need, copied out before the body is read.
#[derive(Debug, Clone, Default)]
pub struct PushHead {
    /// `X-Signature`, when sent (an unreadable value is kept as "").
    pub signature: Option<String>,
    /// `X-Signature-Algorithm`, when sent.
    pub algorithm: Option<String>,
    /// `Content-Type`, when sent.
    pub content_type: Option<String>,
}

/// A push whose signature checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedPush {
    /// For a vendor whose signature does not cover the body: the key of the signature (its
    /// digest) and the time it was made, for the replay guard. `None` when the signature covers
    /// the body, so a replay with another body cannot verify.
    pub replay_key: Option<(String, i64)>,
}

/// A Waiqin-style follow record pushed for a lead.
#[derive(Debug, Clone, PartialEq)]
pub struct PushedFollow {
    /// The vendor's message id (de-duplication key).
    pub msg_id: String,
    /// The vendor's data id, when sent.
    pub data_id: Option<String>,
    /// The lead the record follows.
    pub lead_id: String,
    /// The record as the vendor sent it.
    pub record: Value,
}

/// What a verified push carries.
#[derive(Debug, Clone)]
pub enum Pushed {
    /// One lead.
    Lead(Box<Lead>),
    /// One follow record.
    Follow(PushedFollow),
}

impl Pushed {
    /// The lead id the push is about, for log lines.
    pub fn lead_id(&self) -> &str {
        match self {
            Pushed::Lead(lead) => &lead.id,
            Pushed::Follow(follow) => &follow.lead_id,
        }
    }
}

/// Why a push is refused, with the answer in the vendor's own shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushRefusal {
    /// What went wrong (logged; never holds the body or a secret).
    pub reason: String,
    /// The body to answer with.
    pub answer: String,
}

/// A vendor that pushes to us. Built per account from its credentials; implemented in the
/// vendor's `webhook.rs`. Every method but `verify` is pure over the bytes it is given.
pub trait PushReceiver: Send + Sync + std::fmt::Debug {
    /// Checks the push's signature on the raw bytes, before any parsing (`now`: unix seconds).
    /// A refusal is answered 401 and nothing is stored.
    fn verify(&self, head: &PushHead, body: &[u8], now: i64) -> Result<VerifiedPush, PushRefusal>;
    /// Reads a verified body as `account`'s lead or follow record. A refusal is answered 400 and
    /// the body is kept in the quarantine.
    fn parse(&self, account: &str, body: &[u8]) -> Result<Pushed, PushRefusal>;
    /// The success answer, once the push is committed (or known already).
    fn ack_body(&self, pushed: &Pushed) -> String;
    /// A refusal of an invalid request (403, 405, 413, unreadable body) in the vendor's shape.
    fn reject_body(&self, message: &str) -> String;
    /// A "busy, send it again later" in the vendor's shape (503).
    fn busy_body(&self, message: &str) -> String;
    /// For a vendor whose signature does not cover the body: how long a signature verifies,
    /// which is how long the replay guard must remember it. `None`: the body is signed.
    fn replay_window_secs(&self) -> Option<u64>;
}
