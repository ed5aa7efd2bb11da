//! Values that cross into and out of the journal: how a lead arrived, pull checkpoints,
//! quarantined payloads. Shared by the triggers (which produce them) and the journal (which
//! stores them), so neither depends on the other; and the traits the journal implements for the
//! host (`once` keys, assignment counters) with the intake's error.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How a lead or record entered leadrelay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    /// A signed webhook push.
    Push,
    /// A scheduled pull.
    Pull,
    /// Injected by hand (`route`, tests, `demo`).
    Manual,
}

impl Via {
    /// The name stored in the journal and shown by the CLI: `push`, `pull`, `manual`.
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Push => "push",
            Via::Pull => "pull",
            Via::Manual => "manual",
        }
    }
}

/// Where and when something arrived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Arrival {
    /// Push, pull or manual.
    pub via: Via,
    /// The push path (`/hooks/tencent/tx_main`) or the pulled endpoint (`/leads/list`).
    pub endpoint: String,
    /// Unix milliseconds when leadrelay received it.
    pub received_at_ms: i64,
}

/// A pull position for one account and endpoint. Independent of scripts: no edit resets it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The account.
    pub account: String,
    /// The vendor endpoint (`/leads/list`, `/crm/v2/openapi/pull-clues/`, `querySalesLeads`).
    pub endpoint: String,
    /// Opaque position, e.g. the end of the last fully pulled window as unix seconds.
    pub position: String,
}

/// A payload that passed its signature check but could not be parsed: kept whole for a human.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantined {
    /// The account whose signature it carried.
    pub account: String,
    /// The push path it came to.
    pub endpoint: String,
    /// Why it could not be parsed.
    pub reason: String,
    /// The request's Content-Type, if any.
    pub content_type: Option<String>,
    /// The raw body, byte for byte.
    pub body: Vec<u8>,
    /// Unix milliseconds when it arrived.
    pub received_at_ms: i64,
}

/// A Waiqin `salesLeads_follow` record accepted from a push.
#[derive(Debug, Clone, PartialEq)]
pub struct FollowArrival {
    /// The account whose push secret verified it.
    pub account: String,
    /// Waiqin's `msgId` (de-duplication key with the account).
    pub msg_id: String,
    /// Waiqin's `dataId`.
    pub data_id: Option<String>,
    /// The decoded `data` record.
    pub record: serde_json::Value,
    /// Where and when.
    pub arrival: Arrival,
}

/// Whether an accepted item was new or already known (a duplicate push, an overlapping pull).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// Stored now; it will be routed.
    New,
    /// Already stored; nothing new happens.
    Duplicate,
}

// The store-facing traits and errors below are implemented or returned by the journal and used
// by the host (`once`, assignment counters) and the triggers (intake). They live here so the
// journal depends on `lead` only; `host::once`, `host::stdlib` and `trigger` re-export them.

/// Why the intake could not take something. The trigger answers 503 (push) or retries later
/// (pull); nothing is acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the journal cannot take it now: {0}")]
pub struct IntakeError(pub String);

/// Why a `once` claim could not be answered. The script sees it as an error (the run fails)
/// rather than a guess: a wrong `true` would import twice, a wrong `false` would drop a lead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("once(): {0}")]
pub struct OnceError(pub String);

/// Where `once` keys live.
pub trait OnceStore: Send + Sync + std::fmt::Debug {
    /// Claims `key` for `owner` for `ttl`. True when `owner` holds it afterwards: the key was
    /// free (never claimed, or expired), or `owner` already holds it. False when another owner
    /// holds it. Must be atomic: of many concurrent first claims, exactly one is true.
    fn claim(&self, key: &str, ttl: Duration, owner: i64) -> Result<bool, OnceError>;
}

/// Where assignment turn counters live. The in-memory store forgets on restart; the journal's
/// store keeps them.
pub trait AssignmentStore: Send + Sync + std::fmt::Debug {
    /// Returns the counter for `key` and advances it (0, 1, 2, …).
    fn next(&self, key: &str) -> u64;
}

/// Counters in memory.
#[derive(Debug, Default)]
pub struct MemoryAssignments {
    counters: Mutex<HashMap<String, u64>>,
}

impl AssignmentStore for MemoryAssignments {
    fn next(&self, key: &str) -> u64 {
        let mut counters = self.counters.lock().expect("assignment lock");
        let counter = counters.entry(key.to_string()).or_default();
        let value = *counter;
        *counter += 1;
        value
    }
}
