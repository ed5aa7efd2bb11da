//! The context of the script code running on this thread: which script, whether it is loading
//! (top level, where handlers are declared and vendor calls are refused) or running a handler,
//! the vendor calls made so far, the work item the run belongs to (the owner of its `once`
//! keys) and whether it chose to `skip`. Native functions reach it through [`with_current`].
//!
//! [`CallHooks`] is how the daemon sits between a run and its effects without the host knowing
//! the journal: it answers calls that already succeeded from the journal, commits each call as
//! it returns (before the script goes on), and names the work item.

use std::cell::RefCell;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::connectors::{CallError, Vendor};

/// Where a declaration or error sits in a script.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    /// 1-based line (0 = unknown).
    pub line: usize,
    /// 1-based column (0 = unknown).
    pub column: usize,
}

impl From<rhai::Position> for Position {
    fn from(p: rhai::Position) -> Self {
        Position {
            line: p.line().unwrap_or(0),
            column: p.position().unwrap_or(0),
        }
    }
}

/// Which leads a lead handler wants.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LeadFilter {
    /// Only leads of this vendor.
    pub vendor: Option<Vendor>,
    /// Only leads of this account.
    pub account: Option<String>,
}

impl LeadFilter {
    /// True when the filter wants `lead`.
    pub fn matches(&self, lead: &crate::lead::Lead) -> bool {
        self.vendor.is_none_or(|v| v == lead.vendor)
            && self.account.as_deref().is_none_or(|a| a == lead.account)
    }
}

/// A handler or schedule declared at a script's top level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Declaration {
    /// `on_lead([vendor, [account,]] "fn")`.
    Lead {
        /// Which leads.
        filter: LeadFilter,
        /// The script function called with the lead.
        function: String,
        /// Where it was declared.
        at: Position,
    },
    /// `on_follow([account,] "fn")`: Waiqin follow records.
    Follow {
        /// Only pushes to this account.
        account: Option<String>,
        /// The script function called with the record.
        function: String,
        /// Where it was declared.
        at: Position,
    },
    /// `schedule("cron", "fn")` or `schedule("cron", "fn", #{ catch_up: "none" })`.
    Schedule {
        /// The cron expression as written.
        cron: String,
        /// The script function called on each tick.
        function: String,
        /// What happens on start to a slot missed while the daemon was down.
        catch_up: CatchUp,
        /// Where it was declared.
        at: Position,
    },
}

/// A schedule's catch-up policy: what the daemon does on start about slots that fell while it
/// was down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CatchUp {
    /// `"last"` (the default): fire the most recent missed slot once, if it is younger than
    /// `[daemon] cron_catch_up_max_age_secs`.
    #[default]
    Last,
    /// `"none"`: missed slots are not fired.
    Never,
}

impl CatchUp {
    /// The names scripts write.
    pub const NAMES: [&'static str; 2] = ["last", "none"];

    /// The policy called `name` in a script.
    pub fn parse(name: &str) -> Option<CatchUp> {
        match name {
            "last" => Some(CatchUp::Last),
            "none" => Some(CatchUp::Never),
            _ => None,
        }
    }
}

/// One vendor call made by a run.
#[derive(Debug, Clone)]
pub struct CallRecord {
    /// 0-based order of the call within its run.
    pub seq: usize,
    /// The vendor.
    pub vendor: Vendor,
    /// The account used.
    pub account: String,
    /// The op.
    pub op: String,
    /// The payload as sent to the client.
    pub payload: Value,
    /// The decoded answer, or the failure.
    pub outcome: Result<Value, CallError>,
    /// How long it took.
    pub elapsed: Duration,
    /// True when the answer came from the journal (an earlier run made this call) and nothing
    /// was sent.
    pub replayed: bool,
}

/// One vendor call as the hooks see it: which run makes it, and what it sends.
#[derive(Debug, Clone, Copy)]
pub struct CallSite<'a> {
    /// The script's path.
    pub script: &'a str,
    /// The handler function.
    pub function: &'a str,
    /// The script version the run is pinned to.
    pub version: &'a str,
    /// The run's id ([`next_run_id`]): tells two runs of one function apart, even when they
    /// start at the same instant of a frozen clock.
    pub run_id: u64,
    /// When the run started, on the host's [`Clock`](crate::clock::Clock).
    pub started_at: SystemTime,
    /// 0-based order of the call within its run.
    pub seq: usize,
    /// The vendor.
    pub vendor: Vendor,
    /// The account used.
    pub account: &'a str,
    /// The op.
    pub op: &'a str,
    /// The payload as sent to the client.
    pub payload: &'a Value,
}

/// What a run's effects pass through besides the engine: the daemon answers calls that already
/// succeeded in an earlier run of the same work item from its journal (so a retry never sends
/// them again), fails calls fast while an account's circuit breaker is open, commits each call
/// to the journal as it returns, and names the work item that owns the run's `once` keys.
///
/// Both call hooks run on the thread running the script (a blocking-pool thread), so they may
/// block; the script waits for them.
pub trait CallHooks: Send + Sync {
    /// Before sending a call: `Some(Ok(answer))` answers it without sending (a replay),
    /// `Some(Err(e))` fails it without sending, `None` sends it.
    fn before(&self, _call: &CallSite<'_>) -> Option<Result<Value, CallError>> {
        None
    }

    /// After a call was sent, with its outcome, before the script sees it.
    fn after(&self, _call: &CallSite<'_>, _outcome: &Result<Value, CallError>, _elapsed: Duration) {
    }

    /// The work item the run belongs to. Every run of one item (all its handlers, all its
    /// retries) shares it, so `once` answers them alike. `None`: a run of its own.
    fn work_id(&self) -> Option<i64> {
        None
    }
}

/// Hooks of a run outside the daemon (`route --dry-run`, `leadrelay test`): nothing is replayed
/// or journaled, but every handler of one lead shares one owner for `once`, as they share one
/// work item in the daemon.
#[derive(Debug)]
pub struct Detached {
    owner: i64,
}

impl Detached {
    /// A new owner, distinct from every other one and from every journal work id.
    pub fn new() -> Self {
        Detached {
            owner: detached_owner(),
        }
    }
}

impl Default for Detached {
    fn default() -> Self {
        Self::new()
    }
}

impl CallHooks for Detached {
    fn work_id(&self) -> Option<i64> {
        Some(self.owner)
    }
}

/// A fresh owner for a run that belongs to no journal work item: negative, so it never equals
/// a work id (those are positive row ids).
pub fn detached_owner() -> i64 {
    static NEXT: AtomicI64 = AtomicI64::new(-1);
    NEXT.fetch_sub(1, Ordering::Relaxed)
}

/// A fresh run id: unique in this process, never 0. Each handler run gets one, so whoever
/// follows a run's calls (the dispatcher's journal hooks) can key them by run rather than by
/// start time, which a frozen or manual clock gives to many runs at once.
pub fn next_run_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// What the running code may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Evaluating a script's top level: declarations allowed, vendor calls refused.
    Load,
    /// Running a handler: vendor calls allowed, declarations refused.
    Run,
}

/// The state of the code running on this thread.
pub struct RunContext {
    /// The script's path, for messages.
    pub script: Arc<str>,
    /// Load or run.
    pub phase: Phase,
    /// Declarations collected while loading.
    pub declarations: Vec<Declaration>,
    /// Vendor calls made while running.
    pub calls: Vec<CallRecord>,
    /// `script::function` of the running handler, for messages.
    pub handler: String,
    /// The running handler function.
    pub function: String,
    /// The script version the run is pinned to.
    pub version: String,
    /// The run's id ([`next_run_id`]; 0 while loading).
    pub run_id: u64,
    /// When the run started, on the host's clock (the Unix epoch while loading: a load makes
    /// no calls, so nothing reads it).
    pub started_at: SystemTime,
    /// The work item the run belongs to ([`CallHooks::work_id`], or a detached owner): who
    /// holds the `once` keys it claims.
    pub owner: i64,
    /// The reason given to `skip(reason)`, once the handler called it.
    pub skipped: Option<String>,
    /// Replay, journaling and breaker hooks, when the daemon runs the handler.
    pub hooks: Option<std::sync::Arc<dyn CallHooks>>,
}

impl RunContext {
    /// A fresh context.
    pub fn new(script: Arc<str>, phase: Phase) -> Self {
        RunContext {
            script,
            phase,
            declarations: Vec::new(),
            calls: Vec::new(),
            handler: String::new(),
            function: String::new(),
            version: String::new(),
            run_id: 0,
            started_at: SystemTime::UNIX_EPOCH,
            owner: 0,
            skipped: None,
            hooks: None,
        }
    }
}

impl std::fmt::Debug for RunContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunContext")
            .field("script", &self.script)
            .field("phase", &self.phase)
            .field("handler", &self.handler)
            .field("calls", &self.calls.len())
            .finish()
    }
}

thread_local! {
    static CURRENT: RefCell<Option<RunContext>> = const { RefCell::new(None) };
}

/// Makes `context` current on this thread until [`ContextGuard::finish`] (or drop).
pub fn enter(context: RunContext) -> ContextGuard {
    let previous = CURRENT.with(|c| c.replace(Some(context)));
    ContextGuard {
        previous: Some(previous),
    }
}

/// Applies `f` to the current context, if any.
pub fn with_current<R>(f: impl FnOnce(&mut RunContext) -> R) -> Option<R> {
    CURRENT.with(|c| c.borrow_mut().as_mut().map(f))
}

/// Restores the previous context.
pub struct ContextGuard {
    previous: Option<Option<RunContext>>,
}

impl ContextGuard {
    /// Ends the context and returns what it collected.
    pub fn finish(mut self) -> RunContext {
        let previous = self.previous.take().expect("finish runs once");
        CURRENT
            .with(|c| c.replace(previous))
            .expect("the context entered is still current")
    }
}

impl Drop for ContextGuard {
    fn drop(&mut self) {
        if let Some(previous) = self.previous.take() {
            CURRENT.with(|c| c.replace(previous));
        }
    }
}
