//! `once(key, ttl_secs)` and `skip(reason)`: the two script functions that decide whether a run
//! acts at all.
//!
//! `once` is an atomic claim: `true` for the first work item that claims `key` within
//! `ttl_secs`, `false` for every other one until the key expires. The answer belongs to the
//! work item, not to the call: every handler of the same lead, and every retry of it, gets the
//! same `true` (the key remembers its owner, [`RunContext::owner`](super::run::RunContext)), so a
//! retried run does not skip the lead it claimed before it failed. Where keys live is behind
//! [`OnceStore`]: in memory for `leadrelay test` and `route --dry-run`, in the journal for the
//! daemon (the journal's single writer serializes claims, so concurrent runs cannot both win).
//!
//! `skip(reason)` records the reason and ends the handler at once, like `return` (it cannot be
//! caught by `try`/`catch`): the run ends as `skipped` and `leads show` tells why. Calls made
//! before it stand. A lead all of whose handlers skipped ends in the state `skipped`; if any
//! handler ran to the end without skipping, the lead is routed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rhai::{Engine, EvalAltResult, FuncRegistration, Module, NativeCallContext, INT};

use super::run::{self, Phase};
use crate::clock::Clock;
// The store traits live in the journal's layer (`store::types`) so the journal implements them
// without depending on the host.
pub use crate::store::types::{OnceError, OnceStore};

/// Keys in memory (`leadrelay test`, `route --dry-run`): forgotten when the process ends.
/// Expiries are read on its clock (the system clock by default).
#[derive(Debug, Default)]
pub struct MemoryOnce {
    keys: Mutex<HashMap<String, (i64, i64)>>,
    clock: Clock,
}

impl MemoryOnce {
    /// Keys that expire on `clock` (a script test's manual clock).
    pub fn with_clock(clock: Clock) -> Self {
        MemoryOnce {
            keys: Mutex::default(),
            clock,
        }
    }
}

impl OnceStore for MemoryOnce {
    fn claim(&self, key: &str, ttl: Duration, owner: i64) -> Result<bool, OnceError> {
        let now = self.clock.unix_millis();
        let expires = now.saturating_add(ttl.as_millis().min(i64::MAX as u128) as i64);
        let mut keys = self.keys.lock().expect("once lock");
        match keys.get(key) {
            Some((holder, until)) if *until > now => Ok(*holder == owner),
            _ => {
                keys.insert(key.to_string(), (owner, expires));
                Ok(true)
            }
        }
    }
}

/// The longest TTL `once` accepts: a year. Longer is almost surely a unit mistake (ms for s).
pub const MAX_TTL_SECS: INT = 366 * 24 * 3600;

fn runtime_error(ctx: &NativeCallContext, message: String) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(message.into(), ctx.call_position()).into()
}

/// The context of a handler run, or an error naming `what` when called at a script's top level
/// (which runs on every load, so a claim there would be spent by saving the file).
fn in_run(ctx: &NativeCallContext, what: &str) -> Result<(), Box<EvalAltResult>> {
    match run::with_current(|c| c.phase) {
        Some(Phase::Run) => Ok(()),
        _ => Err(runtime_error(
            ctx,
            format!(
                "{what} cannot be called at the top level of a script: the top level runs on \
                 every load; call it inside a handler"
            ),
        )),
    }
}

/// Registers `once` and `skip` on the engine.
pub fn register(engine: &mut Engine, store: Arc<dyn OnceStore>) {
    let mut module = Module::new();
    FuncRegistration::new("once")
        .in_global_namespace()
        .with_volatility(true)
        .with_purity(false)
        .with_comments([
            "/// Claims `key` for `ttl_secs` seconds: true the first time (and again for every",
            "/// handler and retry of the same lead), false for any other lead until it expires.",
            "/// if !once(\"phone:\" + phone::normalize(lead.phone), 86400) { skip(\"same phone today\"); }",
        ])
        .with_params_info(["key: &str", "ttl_secs: i64", "bool"])
        .set_into_module(
            &mut module,
            move |ctx: NativeCallContext, key: &str, ttl_secs: INT| {
                in_run(&ctx, "once(…)")?;
                if key.is_empty() {
                    return Err(runtime_error(&ctx, "once(): the key is empty".into()));
                }
                if !(1..=MAX_TTL_SECS).contains(&ttl_secs) {
                    return Err(runtime_error(
                        &ctx,
                        format!(
                            "once(): ttl_secs must be between 1 and {MAX_TTL_SECS} (a year), \
                             got {ttl_secs}"
                        ),
                    ));
                }
                let owner = run::with_current(|c| c.owner).unwrap_or_else(run::detached_owner);
                store
                    .claim(key, Duration::from_secs(ttl_secs as u64), owner)
                    .map_err(|e| runtime_error(&ctx, e.to_string()))
            },
        );
    FuncRegistration::new("skip")
        .in_global_namespace()
        .with_volatility(true)
        .with_purity(false)
        .with_comments([
            "/// Ends the handler now, as `skipped` with `reason` (shown by `leads show`).",
            "/// Cannot be caught; calls made before it stand.",
        ])
        .with_params_info(["reason: &str", "()"])
        .set_into_module(
            &mut module,
            |ctx: NativeCallContext, reason: &str| -> Result<(), Box<EvalAltResult>> {
                in_run(&ctx, "skip(…)")?;
                let reason = if reason.trim().is_empty() {
                    "skipped by the script".to_string()
                } else {
                    reason.to_string()
                };
                run::with_current(|c| c.skipped = Some(reason));
                // `Exit` is Rhai's own `exit()`: it passes through every function frame, cannot be
                // caught, and ends the handler call with a value rather than an error, so the run
                // ends here, cleanly (`script::run_handler_with` then reads `skipped`).
                Err(EvalAltResult::Exit(rhai::Dynamic::UNIT, ctx.call_position()).into())
            },
        );
    engine.register_global_module(module.into());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_keys_belong_to_their_owner_until_they_expire() {
        let store = MemoryOnce::default();
        let day = Duration::from_secs(86_400);
        assert!(store.claim("phone:1", day, 1).unwrap());
        assert!(store.claim("phone:1", day, 1).unwrap(), "the owner again");
        assert!(!store.claim("phone:1", day, 2).unwrap(), "another owner");
        assert!(store.claim("phone:2", day, 2).unwrap(), "another key");
        assert!(store.claim("short", Duration::ZERO, 1).unwrap());
        assert!(
            store.claim("short", day, 2).unwrap(),
            "expired keys are free"
        );
    }

    #[test]
    fn memory_keys_expire_on_their_clock() {
        let clock = Clock::manual(chrono::Utc::now());
        let store = MemoryOnce::with_clock(clock);
        let hour = Duration::from_secs(3600);
        assert!(store.claim("phone:1", hour, 1).unwrap());
        clock.advance(chrono::Duration::minutes(59));
        assert!(
            !store.claim("phone:1", hour, 2).unwrap(),
            "held for the hour"
        );
        clock.advance(chrono::Duration::minutes(1));
        assert!(store.claim("phone:1", hour, 2).unwrap(), "free after it");
    }
}
