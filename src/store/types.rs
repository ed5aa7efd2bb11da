//! Values that cross into and out of the journal: how a lead arrived, pull checkpoints,
//! quarantined payloads. Shared by the triggers (which produce them) and the journal (which
//! stores them), so neither depends on the other.

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
