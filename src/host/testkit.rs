//! `leadrelay test`: script tests (`*.test.rhai`) that build leads, route them through the
//! scripts' handlers against the simulators, and assert on the vendor calls made.
//!
//! Inside a test function (`fn test_…()`):
//! - `make_lead(vendor, record)` — a lead from a record as the vendor sends it;
//! - `route(lead)` — runs every matching `on_lead` handler of the scripts; returns the runs as
//!   `[#{script, handler, ok, skipped}]` (`skipped` is the reason given to `skip`, or `()`), and
//!   throws `handler … failed: path:line:col: message` when one fails (catch it to test
//!   failures). Each `route` is one work item, as each new lead is in the daemon: `once` keys
//!   live for the whole test, so a second lead with the same key gets `false`, while the
//!   handlers of one lead share their claims;
//! - `route_follow(record)` — runs every matching `on_follow` handler with a Waiqin follow record
//!   (the `data` of a `salesLeads_follow` push, as a map) pushed to the first Waiqin account;
//!   returns and throws like `route`;
//! - `run_job(function)` — runs the scheduled job `function` now and returns its result;
//! - `expect_call(vendor, op, subset)` — passes when a call of `vendor::op` was made whose payload
//!   contains `subset` (maps are compared key by key, recursively);
//! - `expect_no_call(vendor)` / `expect_no_call(vendor, op)`;
//! - `calls()` — every call so far as `[#{vendor, account, op, payload, ok, response, error}]`;
//!   `calls(vendor)` and `calls(vendor, op)` only those;
//! - `assert(cond, message)` and `assert_eq(actual, expected)`.
//!
//! A vendor or op name these functions do not know fails the test with the valid names: a
//! misspelt `expect_no_call("waiqn")` would otherwise pass whatever the script does.

use std::cell::RefCell;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rhai::{Dynamic, Engine, EvalAltResult, FuncRegistration, Module, NativeCallContext};
use serde_json::Value;

use super::convert::{dynamic_to_json, json_to_dynamic};
use super::engine::error_map;
use super::error::ScriptError;
use super::generation::Host;
use super::run::{CallHooks, CallRecord, Declaration, Detached};
use super::script::{self, ScriptVersion};
use crate::connectors::{all_ops, lead_from_record, Vendor};
use crate::lead::Lead;

struct TestState {
    host: Arc<Host>,
    calls: Vec<CallRecord>,
}

thread_local! {
    static STATE: RefCell<Option<TestState>> = const { RefCell::new(None) };
}

fn fail(ctx: &NativeCallContext, message: String) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(message.into(), ctx.call_position()).into()
}

fn with_state<R>(
    ctx: &NativeCallContext,
    f: impl FnOnce(&mut TestState) -> R,
) -> Result<R, Box<EvalAltResult>> {
    STATE
        .with(|s| s.borrow_mut().as_mut().map(f))
        .ok_or_else(|| {
            fail(
                ctx,
                "test functions only work inside `leadrelay test`".into(),
            )
        })
}

/// True when `actual` contains `expected`: equal scalars, arrays of equal length whose items
/// match, and maps whose every expected key matches (extra keys in `actual` are fine).
pub fn json_contains(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => e
            .iter()
            .all(|(k, v)| a.get(k).is_some_and(|av| json_contains(av, v))),
        (Value::Array(a), Value::Array(e)) => {
            a.len() == e.len() && a.iter().zip(e).all(|(x, y)| json_contains(x, y))
        }
        (Value::Number(a), Value::Number(e)) => a.as_f64() == e.as_f64(),
        _ => actual == expected,
    }
}

/// The vendor called `name`, or an error listing the vendors.
fn known_vendor(ctx: &NativeCallContext, name: &str) -> Result<Vendor, Box<EvalAltResult>> {
    name.parse().map_err(|e: String| fail(ctx, e))
}

/// Checks that `op` is an op of `vendor`; the error lists the vendor's ops.
fn known_op(ctx: &NativeCallContext, vendor: Vendor, op: &str) -> Result<(), Box<EvalAltResult>> {
    if all_ops().any(|(v, o)| v == vendor && o.name == op) {
        return Ok(());
    }
    let ops: Vec<&str> = all_ops()
        .filter(|(v, _)| *v == vendor)
        .map(|(_, o)| o.name)
        .collect();
    let elsewhere = all_ops()
        .find(|(_, o)| o.name == op)
        .map(|(v, _)| format!(" (`{op}` is a {v} op)"))
        .unwrap_or_default();
    Err(fail(
        ctx,
        format!(
            "unknown op `{op}` of {vendor}{elsewhere}; {vendor} ops: {}",
            ops.join(", ")
        ),
    ))
}

/// The calls so far of `vendor` (and `op`), with both names checked.
fn filtered_calls(
    ctx: &NativeCallContext,
    vendor: &str,
    op: Option<&str>,
) -> Result<rhai::Array, Box<EvalAltResult>> {
    let vendor = known_vendor(ctx, vendor)?;
    if let Some(op) = op {
        known_op(ctx, vendor, op)?;
    }
    with_state(ctx, |s| {
        s.calls
            .iter()
            .filter(|c| c.vendor == vendor && op.is_none_or(|o| c.op == o))
            .map(call_to_map)
            .collect()
    })
}

fn call_to_map(call: &CallRecord) -> Dynamic {
    let mut map = rhai::Map::new();
    map.insert("vendor".into(), call.vendor.as_str().into());
    map.insert("account".into(), call.account.as_str().into());
    map.insert("op".into(), call.op.as_str().into());
    map.insert("payload".into(), json_to_dynamic(&call.payload));
    match &call.outcome {
        Ok(response) => {
            map.insert("ok".into(), true.into());
            map.insert("response".into(), json_to_dynamic(response));
        }
        Err(e) => {
            map.insert("ok".into(), false.into());
            map.insert("error".into(), error_map(e));
        }
    }
    map.into()
}

fn describe_calls(calls: &[CallRecord]) -> String {
    if calls.is_empty() {
        return "no calls were made".to_string();
    }
    let list: Vec<String> = calls
        .iter()
        .map(|c| format!("{}::{}({})", c.vendor, c.op, c.payload))
        .collect();
    format!("calls made: {}", list.join("; "))
}

/// Runs `handlers` with `arg` as one work item (their `once` claims are shared), records their
/// calls, and returns the runs as `[#{script, handler, ok, skipped}]`. A failing handler fails
/// the test where `route`/`route_follow` was called; a test that expects the failure catches it.
fn run_handlers(
    ctx: &NativeCallContext,
    host: &Arc<Host>,
    handlers: Vec<(Arc<ScriptVersion>, String)>,
    arg: Dynamic,
) -> Result<rhai::Array, Box<EvalAltResult>> {
    let work: Arc<dyn CallHooks> = Arc::new(Detached::new());
    let mut runs = rhai::Array::new();
    for (version, function) in handlers {
        let run = script::run_handler_with(
            host.engine(),
            &host.services().limits,
            &version,
            &function,
            vec![arg.clone()],
            Some(work.clone()),
        );
        let mut map = rhai::Map::new();
        map.insert("script".into(), version.path.to_string().into());
        map.insert("handler".into(), function.as_str().into());
        map.insert("ok".into(), run.outcome.is_ok().into());
        map.insert(
            "skipped".into(),
            run.skipped.clone().map_or(Dynamic::UNIT, Dynamic::from),
        );
        with_state(ctx, |s| s.calls.extend(run.calls))?;
        if let Err(e) = run.outcome {
            return Err(fail(ctx, format!("handler {function} failed: {e}")));
        }
        runs.push(map.into());
    }
    Ok(runs)
}

/// Registers the test functions on the engine.
pub fn register(engine: &mut Engine) {
    let mut module = Module::new();
    FuncRegistration::new("make_lead")
        .in_global_namespace()
        .with_comments(["/// A lead from a record as the vendor sends it (tests only)."])
        .set_into_module(
            &mut module,
            |ctx: NativeCallContext, vendor: &str, record: Dynamic| {
                let vendor: Vendor = vendor.parse().map_err(|e: String| fail(&ctx, e))?;
                let record = dynamic_to_json(&record).map_err(|e| fail(&ctx, e))?;
                let account = with_state(&ctx, |s| {
                    s.host
                        .services()
                        .accounts
                        .names_of(vendor)
                        .first()
                        .map(|a| a.to_string())
                })?
                .unwrap_or_else(|| "test".to_string());
                lead_from_record(vendor, &account, record)
                    .map(Dynamic::from)
                    .map_err(|e| fail(&ctx, e))
            },
        );
    FuncRegistration::new("route")
        .in_global_namespace()
        .with_volatility(true)
        .with_comments([
            "/// Runs every matching on_lead handler of the scripts for `lead` (tests only).",
        ])
        .set_into_module(&mut module, |ctx: NativeCallContext, lead: Lead| {
            let host = with_state(&ctx, |s| s.host.clone())?;
            let handlers = host.lead_handlers(&lead);
            run_handlers(&ctx, &host, handlers, Dynamic::from(lead))
        });
    FuncRegistration::new("route_follow")
        .in_global_namespace()
        .with_volatility(true)
        .with_comments([
            "/// Runs every matching on_follow handler for a Waiqin follow record (tests only).",
        ])
        .set_into_module(&mut module, |ctx: NativeCallContext, record: rhai::Map| {
            let host = with_state(&ctx, |s| s.host.clone())?;
            // As `make_lead` does: the record is pushed to the first Waiqin account, so
            // `on_follow("account", …)` filters behave as in the daemon.
            let account = host
                .services()
                .accounts
                .names_of(Vendor::Waiqin)
                .first()
                .map(|a| a.to_string())
                .unwrap_or_else(|| "test".to_string());
            let handlers = host.follow_handlers(&account);
            run_handlers(&ctx, &host, handlers, Dynamic::from_map(record))
        });
    FuncRegistration::new("run_job")
        .in_global_namespace()
        .with_volatility(true)
        .with_comments(["/// Runs the scheduled job `function` of the scripts now and returns its result (tests only)."])
        .set_into_module(&mut module, |ctx: NativeCallContext, function: &str| {
            let host = with_state(&ctx, |s| s.host.clone())?;
            let version = host
                .generation()
                .scripts
                .values()
                .find(|v| {
                    v.declarations.iter().any(
                        |d| matches!(d, Declaration::Schedule { function: f, .. } if f == function),
                    )
                })
                .cloned()
                .ok_or_else(|| fail(&ctx, format!("no script declares schedule(…, \"{function}\")")))?;
            let run = script::run_handler(host.engine(), &host.services().limits, &version, function, vec![]);
            with_state(&ctx, |s| s.calls.extend(run.calls))?;
            run.outcome.map_err(|e| fail(&ctx, format!("the job failed: {e}")))
        });
    FuncRegistration::new("calls")
        .in_global_namespace()
        .with_volatility(true)
        .with_comments(["/// Every vendor call made so far in this test (tests only)."])
        .set_into_module(&mut module, |ctx: NativeCallContext| {
            with_state(&ctx, |s| {
                s.calls.iter().map(call_to_map).collect::<rhai::Array>()
            })
        });
    FuncRegistration::new("calls")
        .in_global_namespace()
        .with_volatility(true)
        .with_comments(["/// The vendor calls of `vendor` made so far in this test (tests only)."])
        .set_into_module(&mut module, |ctx: NativeCallContext, vendor: &str| {
            filtered_calls(&ctx, vendor, None)
        });
    FuncRegistration::new("calls")
        .in_global_namespace()
        .with_volatility(true)
        .with_comments(["/// The calls of `vendor::op` made so far in this test (tests only)."])
        .set_into_module(
            &mut module,
            |ctx: NativeCallContext, vendor: &str, op: &str| filtered_calls(&ctx, vendor, Some(op)),
        );
    FuncRegistration::new("expect_call")
        .in_global_namespace()
        .with_volatility(true)
        .with_comments(["/// Fails unless a call of vendor::op was made whose payload contains `subset` (tests only)."])
        .set_into_module(&mut module, |ctx: NativeCallContext, vendor: &str, op: &str, subset: Dynamic| {
            let known = known_vendor(&ctx, vendor)?;
            known_op(&ctx, known, op)?;
            let expected = dynamic_to_json(&subset).map_err(|e| fail(&ctx, e))?;
            let (found, seen) = with_state(&ctx, |s| {
                let found = s
                    .calls
                    .iter()
                    .any(|c| c.vendor == known && c.op == op && json_contains(&c.payload, &expected));
                (found, describe_calls(&s.calls))
            })?;
            if found {
                Ok(())
            } else {
                Err(fail(&ctx, format!("expected a call {vendor}::{op} with {expected}; {seen}")))
            }
        });
    for arity in [1, 2] {
        let f = move |ctx: &NativeCallContext, vendor: &str, op: Option<&str>| {
            let known = known_vendor(ctx, vendor)?;
            if let Some(op) = op {
                known_op(ctx, known, op)?;
            }
            let (matching, seen) = with_state(ctx, |s| {
                let n = s
                    .calls
                    .iter()
                    .filter(|c| c.vendor == known && op.is_none_or(|o| c.op == o))
                    .count();
                (n, describe_calls(&s.calls))
            })?;
            if matching == 0 {
                Ok(())
            } else {
                let what = op.map_or(vendor.to_string(), |o| format!("{vendor}::{o}"));
                Err(fail(ctx, format!("expected no call of {what}; {seen}")))
            }
        };
        let registration = FuncRegistration::new("expect_no_call")
            .in_global_namespace()
            .with_volatility(true)
            .with_comments([
                "/// Fails if a call of the vendor (or vendor::op) was made (tests only).",
            ]);
        if arity == 1 {
            registration
                .set_into_module(&mut module, move |ctx: NativeCallContext, vendor: &str| {
                    f(&ctx, vendor, None)
                });
        } else {
            registration.set_into_module(
                &mut module,
                move |ctx: NativeCallContext, vendor: &str, op: &str| f(&ctx, vendor, Some(op)),
            );
        }
    }
    FuncRegistration::new("assert")
        .in_global_namespace()
        .with_comments(["/// Fails the test with `message` unless `condition` is true."])
        .set_into_module(
            &mut module,
            |ctx: NativeCallContext, condition: bool, message: &str| {
                if condition {
                    Ok(())
                } else {
                    Err(fail(&ctx, format!("assertion failed: {message}")))
                }
            },
        );
    FuncRegistration::new("assert_eq")
        .in_global_namespace()
        .with_comments(["/// Fails the test unless `actual` equals `expected`."])
        .set_into_module(
            &mut module,
            |ctx: NativeCallContext, actual: Dynamic, expected: Dynamic| {
                let (a, e) = (dynamic_to_json(&actual), dynamic_to_json(&expected));
                match (a, e) {
                    (Ok(a), Ok(e)) if a == e => Ok(()),
                    (Ok(a), Ok(e)) => Err(fail(&ctx, format!("expected {e}, got {a}"))),
                    _ => Err(fail(
                        &ctx,
                        format!(
                            "cannot compare {} with {}",
                            actual.type_name(),
                            expected.type_name()
                        ),
                    )),
                }
            },
        );
    engine.register_global_module(module.into());
}

/// One test's result.
#[derive(Debug)]
pub struct TestOutcome {
    /// `file::test_name`.
    pub name: String,
    /// Failure, with its place.
    pub error: Option<ScriptError>,
    /// How long it took.
    pub elapsed: Duration,
}

/// Loads a test file with `host`'s engine and lists its tests (`test_*` functions without
/// parameters), sorted. Blocks.
pub fn load_tests(
    host: &Arc<Host>,
    path: &Path,
) -> Result<(ScriptVersion, Vec<String>), Vec<ScriptError>> {
    let key = path.display().to_string();
    let source = std::fs::read_to_string(path).map_err(|e| {
        vec![ScriptError::new(
            &key,
            Default::default(),
            format!("cannot read: {e}"),
        )]
    })?;
    let version = script::load(host.engine(), &host.services().limits, &key, &source)?;
    let mut names: Vec<String> = version
        .ast
        .iter_functions()
        .filter(|f| f.name.starts_with("test_") && f.params.is_empty())
        .map(|f| f.name.to_string())
        .collect();
    names.sort();
    Ok((version, names))
}

/// Runs one test function of a loaded test file against `host`'s scripts. Blocks.
pub fn run_test(host: &Arc<Host>, version: &ScriptVersion, name: &str) -> TestOutcome {
    STATE.with(|s| {
        *s.borrow_mut() = Some(TestState {
            host: host.clone(),
            calls: Vec::new(),
        })
    });
    let run = script::run_handler(
        host.engine(),
        &host.services().limits,
        version,
        name,
        vec![],
    );
    STATE.with(|s| *s.borrow_mut() = None);
    let file = Path::new(&*version.path)
        .file_name()
        .map_or(version.path.to_string(), |n| {
            n.to_string_lossy().to_string()
        });
    TestOutcome {
        name: format!("{file}::{}", name.trim_start_matches("test_")),
        error: run.outcome.err(),
        elapsed: run.elapsed,
    }
}
