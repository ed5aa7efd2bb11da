//! Resource limits for script runs, and the per-thread run deadline that `on_progress` enforces.

use std::cell::Cell;
use std::time::{Duration, Instant};

/// Limits applied to every script run (and to loading a script's top level).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock budget of one run, vendor calls included.
    pub run_budget: Duration,
    /// Rhai operations per run; a second guard besides the wall clock.
    pub max_operations: u64,
    /// Nested function calls (deep recursion stops here).
    pub max_call_levels: usize,
    /// Expression nesting depth.
    pub max_expr_depth: usize,
    /// Expression nesting depth inside functions.
    pub max_function_expr_depth: usize,
    /// Bytes in one string.
    pub max_string_size: usize,
    /// Elements in one array.
    pub max_array_size: usize,
    /// Entries in one object map.
    pub max_map_size: usize,
    /// Script runs executing at once on the blocking pool.
    pub concurrent_runs: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            run_budget: Duration::from_secs(2),
            max_operations: 50_000_000,
            max_call_levels: 64,
            max_expr_depth: 64,
            max_function_expr_depth: 32,
            max_string_size: 1 << 20,
            max_array_size: 100_000,
            max_map_size: 10_000,
            concurrent_runs: 16,
        }
    }
}

thread_local! {
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Sets this thread's run deadline until the guard drops. Runs happen on blocking-pool threads,
/// one at a time per thread, so a thread-local is exactly "the current run".
pub fn set_deadline(deadline: Instant) -> DeadlineGuard {
    let previous = DEADLINE.with(|d| d.replace(Some(deadline)));
    DeadlineGuard { previous }
}

/// This thread's run deadline, if a run is in progress.
pub fn deadline() -> Option<Instant> {
    DEADLINE.with(Cell::get)
}

/// True when this thread's run is past its deadline.
pub fn past_deadline() -> bool {
    deadline().is_some_and(|d| Instant::now() >= d)
}

/// Restores the previous deadline when dropped.
pub struct DeadlineGuard {
    previous: Option<Instant>,
}

impl Drop for DeadlineGuard {
    fn drop(&mut self) {
        DEADLINE.with(|d| d.set(self.previous));
    }
}
