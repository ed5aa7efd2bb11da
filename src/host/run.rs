//! The context of the script code running on this thread: which script, whether it is loading
//! (top level, where handlers are declared and vendor calls are refused) or running a handler,
//! and the vendor calls made so far. Native functions reach it through [`with_current`].

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::vendor::{CallError, Vendor};

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
    /// `schedule("cron", "fn")`.
    Schedule {
        /// The cron expression as written.
        cron: String,
        /// The script function called on each tick.
        function: String,
        /// Where it was declared.
        at: Position,
    },
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

/// What a run's vendor calls pass through besides the vendor: the daemon answers calls that
/// already succeeded in an earlier run of the same lead from its journal (so a retry never sends
/// them again) and fails calls fast while an account's circuit breaker is open.
pub trait CallHooks: Send + Sync {
    /// Before sending call number `seq` of `handler`: `Some(Ok(answer))` answers it without
    /// sending (a replay), `Some(Err(e))` fails it without sending, `None` sends it.
    fn before(
        &self,
        handler: &str,
        seq: usize,
        vendor: Vendor,
        account: &str,
        op: &str,
        payload: &Value,
    ) -> Option<Result<Value, CallError>>;

    /// After a call was sent, with its outcome.
    fn after(&self, vendor: Vendor, account: &str, op: &str, outcome: &Result<Value, CallError>);
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
    /// `script::function` of the running handler (replay matches calls by it).
    pub handler: String,
    /// Replay and breaker hooks, when the daemon runs the handler.
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
