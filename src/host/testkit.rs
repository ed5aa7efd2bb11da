//! `leadrelay test`: script tests (`*.test.rhai`) that build leads, route them through the
//! scripts' handlers against the simulators, and assert on the vendor calls made.
//!
//! Inside a test function (`fn test_…()`):
//! - `make_lead(vendor, record)` — a lead from a record as the vendor sends it, from the
//!   vendor's first account; `make_lead(vendor, account, record)` from a named account (so a
//!   handler bound to a second brand account can be tested);
//! - `route(lead)` — runs every matching `on_lead` handler of the scripts; returns the runs as
//!   `[#{script, handler, ok, skipped}]` (`skipped` is the reason given to `skip`, or `()`), and
//!   throws `handler … failed: path:line:col: message` when one fails (catch it to test
//!   failures). Each `route` is one work item, as each new lead is in the daemon: `once` keys
//!   live for the whole test, so a second lead with the same key gets `false`, while the
//!   handlers of one lead share their claims;
//! - `follow(account, record)` — runs every matching `on_follow` handler with a Waiqin follow
//!   record (the `data` of a `salesLeads_follow` push, as a map) pushed to `account`; returns and
//!   throws like `route`. `route_follow(record)` does the same for the first Waiqin account;
//! - `set_now("2026-12-05 21:30")` — freezes the test's clock at that Beijing time:
//!   `now_beijing()`, `time::…`, `hours::…` and `run_job` read it, and the simulators' clocks
//!   run from it. Until a test calls it, the clock stands still at the time the test started;
//! - `sim::staff([...])`, `sim::waiqin_leads([...])`, `sim::linkflow_tags([...])` — seed the
//!   simulators as `[sim]` in the config does (see [`crate::config::sim::SimSeed`]);
//! - the functions of the script the test file is named after (`x.test.rhai` → `x.rhai`), run
//!   as a handler is (its constants, its calls recorded), except those named like a test
//!   function (a handler called `route`). A failure inside one is placed at the test's call,
//!   followed by its place in the script (`x.test.rhai:14:5: f failed: x.rhai:7:9: …`);
//! - `run_job(function)` — runs the scheduled job `function` now and returns whatever it returns;
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
use crate::config::sim::SimSeed;
use crate::connectors::{all_ops, lead_from_record, Vendor};
use crate::lead::Lead;

/// Seeds the simulators a test runs against (set by `leadrelay test`, which owns them; the
/// host layer cannot name the simulators). Returns the `tagId`s of seeded Linkflow tags.
pub type SimSeeder = Arc<dyn Fn(&SimSeed) -> Result<Vec<u64>, String> + Send + Sync>;

/// What a test runs with besides the host.
#[derive(Clone, Default)]
pub struct TestEnv {
    /// Seeds the simulators (`sim::staff(…)`…); `None`: those functions fail with a reason.
    pub seeder: Option<SimSeeder>,
}

struct TestState {
    host: Arc<Host>,
    calls: Vec<CallRecord>,
    env: TestEnv,
    printed: Vec<String>,
    /// The script the test file is named after, whose functions the test may call.
    script: Option<Arc<ScriptVersion>>,
}

thread_local! {
    static STATE: RefCell<Option<TestState>> = const { RefCell::new(None) };
}

/// What scripts `print` outside a test (`leadrelay route`), for the command to show under each
/// run: (handler as `path::function`, text).
static ROUTE_PRINTS: std::sync::Mutex<Vec<(String, String)>> = std::sync::Mutex::new(Vec::new());

/// Makes `print` in `engine` keep what scripts print for [`take_printed`] as well as logging it
/// (`leadrelay route` shows it under each run).
pub fn capture_prints(engine: &mut Engine) {
    engine.on_print(|text| {
        let handler = super::run::with_current(|c| c.handler.clone()).unwrap_or_default();
        tracing::info!(script = %handler, "{text}");
        ROUTE_PRINTS
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((handler, text.to_string()));
    });
}

/// What was printed since the last call, as (handler `path::function`, text), in order.
pub fn take_printed() -> Vec<(String, String)> {
    std::mem::take(&mut *ROUTE_PRINTS.lock().unwrap_or_else(|p| p.into_inner()))
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
            host.services(),
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
        .with_comments([
            "/// A lead from a record as the vendor sends it, from the vendor's first account (tests only).",
            "/// make_lead(\"tencent\", #{ leads_id: 5001, leads_type: \"LEADS_TYPE_FORM\" })",
        ])
        .with_params_info(["vendor: String", "record: Map", "Lead"])
        .set_into_module(
            &mut module,
            |ctx: NativeCallContext, vendor: &str, record: Dynamic| {
                make_lead(&ctx, vendor, None, record)
            },
        );
    FuncRegistration::new("make_lead")
        .in_global_namespace()
        .with_comments([
            "/// A lead from a record as the vendor sends it, from the named account (tests only):",
            "/// on_lead(\"tencent\", \"tx_brand_b\", …) handlers see it, others of that account too.",
        ])
        .with_params_info(["vendor: String", "account: String", "record: Map", "Lead"])
        .set_into_module(
            &mut module,
            |ctx: NativeCallContext, vendor: &str, account: &str, record: Dynamic| {
                make_lead(&ctx, vendor, Some(account), record)
            },
        );
    FuncRegistration::new("route")
        .in_global_namespace()
        .with_volatility(true)
        .with_comments([
            "/// Runs every matching on_lead handler of the scripts for `lead` (tests only); returns the",
            "/// runs as [#{script, handler, ok, skipped}] and throws when a handler fails.",
        ])
        .with_params_info(["lead: Lead", "Array"])
        .set_into_module(&mut module, |ctx: NativeCallContext, lead: Lead| {
            let host = with_state(&ctx, |s| s.host.clone())?;
            let handlers = host.lead_handlers(&lead);
            run_handlers(&ctx, &host, handlers, Dynamic::from(lead))
        });
    FuncRegistration::new("route_follow")
        .in_global_namespace()
        .with_volatility(true)
        .with_comments([
            "/// Runs every matching on_follow handler for a Waiqin follow record pushed to the first",
            "/// Waiqin account (tests only). Returns the runs like `route`.",
        ])
        .with_params_info(["record: Map", "Array"])
        .set_into_module(&mut module, |ctx: NativeCallContext, record: rhai::Map| {
            deliver_follow(&ctx, None, record)
        });
    FuncRegistration::new("follow")
        .in_global_namespace()
        .with_volatility(true)
        .with_comments([
            "/// Runs every matching on_follow handler for a Waiqin follow record (the push's `data`:",
            "/// lead_code, activity_type, activity_content, create_at…) pushed to `account` (tests only).",
            "/// Returns the runs like `route`.",
        ])
        .with_params_info(["account: String", "record: Map", "Array"])
        .set_into_module(
            &mut module,
            |ctx: NativeCallContext, account: &str, record: rhai::Map| {
                deliver_follow(&ctx, Some(account), record)
            },
        );
    FuncRegistration::new("set_now")
        .in_global_namespace()
        .with_volatility(true)
        .with_comments([
            "/// Freezes the test's clock at a Beijing time (\"2026-12-05 21:30\", \"2026-12-05\" or",
            "/// RFC 3339): now_beijing(), time::…, hours::… and run_job read it; the simulators' clocks",
            "/// run from it (tests only).",
        ])
        .with_params_info(["time: String", "()"])
        .set_into_module(&mut module, |ctx: NativeCallContext, text: &str| {
            let t = super::time::parse_text(text).map_err(|e| fail(&ctx, e.replace("time::parse", "set_now")))?;
            let clock = with_state(&ctx, |s| s.host.services().clock)?;
            if clock.set(t.with_timezone(&chrono::Utc)) {
                Ok(())
            } else {
                Err(fail(&ctx, "set_now needs the test clock of `leadrelay test`; this host runs on the system clock".into()))
            }
        });
    FuncRegistration::new("run_job")
        .in_global_namespace()
        .with_volatility(true)
        .with_comments([
            "/// Runs the scheduled job `function` of the scripts now, at the test clock's time, and",
            "/// returns whatever the job returns; throws \"the job failed: path:line:col: …\" (tests only).",
        ])
        .with_params_info(["function: String", "Dynamic"])
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
            let run = script::run_handler_with(host.engine(), host.services(), &version, function, vec![], None);
            with_state(&ctx, |s| s.calls.extend(run.calls))?;
            run.outcome.map_err(|e| fail(&ctx, format!("the job failed: {e}")))
        });
    FuncRegistration::new("calls")
        .in_global_namespace()
        .with_volatility(true)
        .with_comments([
            "/// Every vendor call made so far in this test (tests only), in order, as",
            "/// #{vendor, account, op, payload, ok, response (when ok), error (the thrown error map, when not)}.",
        ])
        .with_params_info(["Array"])
        .set_into_module(&mut module, |ctx: NativeCallContext| {
            with_state(&ctx, |s| {
                s.calls.iter().map(call_to_map).collect::<rhai::Array>()
            })
        });
    FuncRegistration::new("calls")
        .in_global_namespace()
        .with_volatility(true)
        .with_comments(["/// The vendor calls of `vendor` made so far in this test (tests only)."])
        .with_params_info(["vendor: String", "Array"])
        .set_into_module(&mut module, |ctx: NativeCallContext, vendor: &str| {
            filtered_calls(&ctx, vendor, None)
        });
    FuncRegistration::new("calls")
        .in_global_namespace()
        .with_volatility(true)
        .with_comments(["/// The calls of `vendor::op` made so far in this test (tests only)."])
        .with_params_info(["vendor: String", "op: String", "Array"])
        .set_into_module(
            &mut module,
            |ctx: NativeCallContext, vendor: &str, op: &str| filtered_calls(&ctx, vendor, Some(op)),
        );
    FuncRegistration::new("expect_call")
        .in_global_namespace()
        .with_volatility(true)
        .with_comments(["/// Fails unless a call of vendor::op was made whose payload contains `subset` (tests only)."])
        .with_params_info(["vendor: String", "op: String", "subset: Map", "()"])
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
                .with_params_info(["vendor: String", "()"])
                .set_into_module(&mut module, move |ctx: NativeCallContext, vendor: &str| {
                    f(&ctx, vendor, None)
                });
        } else {
            registration
                .with_params_info(["vendor: String", "op: String", "()"])
                .set_into_module(
                    &mut module,
                    move |ctx: NativeCallContext, vendor: &str, op: &str| f(&ctx, vendor, Some(op)),
                );
        }
    }
    FuncRegistration::new("assert")
        .in_global_namespace()
        .with_comments(["/// Fails the test with `message` unless `condition` is true."])
        .with_params_info(["condition: bool", "message: String", "()"])
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
        .with_params_info(["actual: Dynamic", "expected: Dynamic", "()"])
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
    engine.register_static_module("sim", sim_module().into());
    // A test file's calls of the tested script's functions go through wrappers that
    // `load_tests` adds to the test file (see `tested_function_wrappers`); each calls
    // `__tested__<name>`, which nothing defines, so it lands here. Rhai places no position on an
    // error from this hook, and wraps it with the test's calling line as it leaves the wrapper.
    // A call the test file cannot resolve that the tested script defines (a function no wrapper
    // covers) lands here too, without a place in the test.
    #[allow(deprecated)] // Rhai marks `on_missing_function` volatile, not deprecated.
    engine.on_missing_function(|name, args, is_method_call, _| {
        if is_method_call {
            return Ok(None);
        }
        let name = match name.strip_prefix(TESTED_PREFIX) {
            Some(tested) => tested,
            None if TEST_FUNCTIONS.contains(&name) => return Ok(None),
            None => name,
        };
        let args: Vec<Dynamic> = args.iter().map(|a| (**a).clone()).collect();
        call_tested(name, args).transpose()
    });
    engine.on_print(|text| {
        let captured = STATE.with(|s| {
            s.borrow_mut()
                .as_mut()
                .map(|state| state.printed.push(text.to_string()))
                .is_some()
        });
        if !captured {
            let script = super::run::with_current(|c| c.script.clone());
            tracing::info!(script = script.as_deref().unwrap_or("?"), "{text}");
        }
    });
}

/// What the wrappers of the tested script's functions call: `__tested__owner_at(p0)`.
const TESTED_PREFIX: &str = "__tested__";

/// Runs `name(args…)` of the script the running test is named after, as a handler is run (its
/// constants, its calls recorded for `calls()`); `None` when there is no such script or function.
/// A failure carries no position: the wrapper that called this is a function of the test file,
/// so Rhai wraps the error with the test's calling line, and the message says where in the
/// script it failed.
fn call_tested(name: &str, args: Vec<Dynamic>) -> Option<Result<Dynamic, Box<EvalAltResult>>> {
    let (host, version) = STATE.with(|s| {
        s.borrow()
            .as_ref()
            .and_then(|state| Some((state.host.clone(), state.script.clone()?)))
    })?;
    if !version
        .ast
        .iter_functions()
        .any(|f| f.name == name && f.params.len() == args.len())
    {
        return None;
    }
    let work: Arc<dyn CallHooks> = Arc::new(Detached::new());
    let run = script::run_handler_with(
        host.engine(),
        host.services(),
        &version,
        name,
        args,
        Some(work),
    );
    STATE.with(|s| {
        if let Some(state) = s.borrow_mut().as_mut() {
            state.calls.extend(run.calls);
        }
    });
    Some(run.outcome.map_err(|e| {
        EvalAltResult::ErrorRuntime(format!("{name} failed: {e}").into(), rhai::Position::NONE)
            .into()
    }))
}

/// Rhai source of one wrapper per function of `tested` that a test may call: `fn f(p0) {
/// __tested__f(p0) }`. Not for the test file's own functions (they win), the
/// test kit's names (a handler called `route` is run by `route(lead)`) or `test_…` names (they
/// would become tests).
fn tested_function_wrappers(tested: &ScriptVersion, test: &rhai::AST) -> String {
    let own: std::collections::HashSet<(String, usize)> = test
        .iter_functions()
        .map(|f| (f.name.to_string(), f.params.len()))
        .collect();
    let mut source = String::new();
    for f in tested.ast.iter_functions() {
        if TEST_FUNCTIONS.contains(&f.name)
            || f.name.starts_with("test_")
            || own.contains(&(f.name.to_string(), f.params.len()))
        {
            continue;
        }
        let params: Vec<String> = (0..f.params.len()).map(|i| format!("p{i}")).collect();
        let params = params.join(", ");
        source.push_str(&format!(
            "fn {name}({params}) {{ {TESTED_PREFIX}{name}({params}) }}\n",
            name = f.name
        ));
    }
    source
}

fn make_lead(
    ctx: &NativeCallContext,
    vendor: &str,
    account: Option<&str>,
    record: Dynamic,
) -> Result<Dynamic, Box<EvalAltResult>> {
    let vendor: Vendor = vendor.parse().map_err(|e: String| fail(ctx, e))?;
    let record = dynamic_to_json(&record).map_err(|e| fail(ctx, e))?;
    let account = with_state(ctx, |s| resolve_account(&s.host, vendor, account))?
        .map_err(|e| fail(ctx, e))?;
    lead_from_record(vendor, &account, record)
        .map(Dynamic::from)
        .map_err(|e| fail(ctx, e))
}

/// The account a test lead or follow record comes through: `wanted` when the host has it for
/// `vendor` (any name when there is no config, as the scripts' names are not checked then),
/// else the vendor's first account.
fn resolve_account(host: &Host, vendor: Vendor, wanted: Option<&str>) -> Result<String, String> {
    let names = host.services().accounts.names_of(vendor);
    match wanted {
        None => Ok(names
            .first()
            .map_or_else(|| "test".to_string(), |a| a.to_string())),
        Some(name) if names.contains(&name) || !host.checks_accounts() => Ok(name.to_string()),
        Some(name) => {
            let elsewhere = Vendor::ALL
                .into_iter()
                .find(|v| host.services().accounts.names_of(*v).contains(&name))
                .map(|v| format!(" (it is a {v} account)"))
                .unwrap_or_default();
            let list = if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            };
            Err(format!(
                "no {vendor} account \"{name}\"{elsewhere}; accounts of {vendor}: {list}"
            ))
        }
    }
}

/// The vendor a test's follow record comes through: the follow-record vendor that has the
/// account `wanted`, else the first of them (whose accounts an error then lists).
fn follow_vendor(host: &Host, wanted: Option<&str>) -> Result<Vendor, String> {
    let accounts = &host.services().accounts;
    let mut vendors = script::follow_vendors().peekable();
    let first = *vendors
        .peek()
        .ok_or("no vendor delivers follow records".to_string())?;
    Ok(vendors
        .find(|v| wanted.is_some_and(|name| accounts.names_of(*v).contains(&name)))
        .unwrap_or(first))
}

fn deliver_follow(
    ctx: &NativeCallContext,
    account: Option<&str>,
    record: rhai::Map,
) -> Result<rhai::Array, Box<EvalAltResult>> {
    let host = with_state(ctx, |s| s.host.clone())?;
    // As in the daemon: the record is pushed to one account of a vendor that delivers follow
    // records (the registry says which), so `on_follow("account", …)` filters behave as there.
    let vendor = follow_vendor(&host, account).map_err(|e| fail(ctx, e))?;
    let account = resolve_account(&host, vendor, account).map_err(|e| fail(ctx, e))?;
    let handlers = host.follow_handlers(&account);
    run_handlers(ctx, &host, handlers, Dynamic::from_map(record))
}

/// `sim::staff([...])`, `sim::waiqin_leads([...])`, `sim::linkflow_tags([...])`.
fn sim_module() -> Module {
    let mut module = Module::new();
    module.set_doc(
        "/// Seeding the simulators from a test, as `[sim]` in leadrelay.toml does (tests only).",
    );
    let seed = |ctx: &NativeCallContext,
                field: &str,
                items: rhai::Array|
     -> Result<Dynamic, Box<EvalAltResult>> {
        let items = dynamic_to_json(&Dynamic::from_array(items)).map_err(|e| fail(ctx, e))?;
        let seed: SimSeed = serde_json::from_value(serde_json::json!({ field: items }))
            .map_err(|e| fail(ctx, format!("sim::{field}: {e}")))?;
        let seeder = with_state(ctx, |s| s.env.seeder.clone())?.ok_or_else(|| {
            fail(
                ctx,
                format!("sim::{field} needs the simulators of `leadrelay test`"),
            )
        })?;
        let ids = seeder(&seed).map_err(|e| fail(ctx, format!("sim::{field}: {e}")))?;
        Ok(if field == "linkflow_tags" {
            Dynamic::from_array(
                ids.into_iter()
                    .map(|id| Dynamic::from_int(id as rhai::INT))
                    .collect(),
            )
        } else {
            Dynamic::UNIT
        })
    };
    FuncRegistration::new("staff")
        .with_comments([
            "/// Adds Xiaolanben staff the simulator accepts as staffId (besides 1001–1012):",
            "/// sim::staff([#{ id: 2001, name: \"陈静\", department: \"华南销售部\" }]). Also: mobile, role.",
        ])
        .with_params_info(["staff: Array", "()"])
        .set_into_module(&mut module, move |ctx: NativeCallContext, items: rhai::Array| {
            seed(&ctx, "staff", items)
        });
    FuncRegistration::new("waiqin_leads")
        .with_comments([
            "/// Puts Waiqin leads in the simulator: addSalesLeads fields (`code` required) and",
            "/// `salesleads_status` (\"5\" = 转换): sim::waiqin_leads([#{ code: \"tencent-9001\", salesleads_status: \"5\" }]).",
        ])
        .with_params_info(["leads: Array", "()"])
        .set_into_module(&mut module, move |ctx: NativeCallContext, items: rhai::Array| {
            seed(&ctx, "waiqin_leads", items)
        });
    FuncRegistration::new("linkflow_tags")
        .with_comments([
            "/// Creates Linkflow tags in the simulator and returns their tagIds:",
            "/// sim::linkflow_tags([#{ key: \"tag_vip\", name: \"VIP\", data_type: \"text\" }]).",
        ])
        .with_params_info(["tags: Array", "Array"])
        .set_into_module(
            &mut module,
            move |ctx: NativeCallContext, items: rhai::Array| seed(&ctx, "linkflow_tags", items),
        );
    module
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
    /// What the scripts (and the test) printed, in order.
    pub printed: Vec<String>,
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
    let mut version = script::load(host.engine(), &host.services().limits, &key, &source)?;
    if let Some(tested) = tested_script(host, path) {
        add_wrappers(host, &mut version, &tested, &key)?;
    }
    let mut names: Vec<String> = version
        .ast
        .iter_functions()
        .filter(|f| f.name.starts_with("test_") && f.params.is_empty())
        .map(|f| f.name.to_string())
        .collect();
    names.sort();
    Ok((version, names))
}

/// Adds to the test file `version` the wrappers of the tested script's functions (see
/// [`tested_function_wrappers`]), so a failure inside one is placed at the test's call.
fn add_wrappers(
    host: &Host,
    version: &mut ScriptVersion,
    tested: &ScriptVersion,
    key: &str,
) -> Result<(), Vec<ScriptError>> {
    let wrappers = tested_function_wrappers(tested, &version.ast);
    if wrappers.is_empty() {
        return Ok(());
    }
    let compiled = host.engine().compile(&wrappers).map_err(|e| {
        vec![ScriptError::new(
            key,
            Default::default(),
            format!(
                "cannot offer the functions of {} to the test: {e}",
                tested.path
            ),
        )]
    })?;
    // The test file's own functions win over a wrapper of the same name and arity.
    let mut ast = compiled.merge(&version.ast);
    ast.set_source(key);
    if let Some(run_ast) = &version.run_ast {
        let mut with_imports =
            rhai::AST::new(run_ast.statements().to_vec(), ast.shared_lib().clone());
        with_imports.set_source(key);
        version.run_ast = Some(with_imports);
    }
    version.ast = ast;
    Ok(())
}

/// The test kit's global functions: a script function of the same name is not offered to tests
/// (a handler called `route` is run by `route(lead)`).
pub const TEST_FUNCTIONS: &[&str] = &[
    "make_lead",
    "route",
    "route_follow",
    "follow",
    "set_now",
    "run_job",
    "calls",
    "expect_call",
    "expect_no_call",
    "assert",
    "assert_eq",
];

/// The live script a test file is named after: `x.test.rhai` → `x.rhai` beside it.
fn tested_script(host: &Host, test_path: &Path) -> Option<Arc<ScriptVersion>> {
    let name = test_path.file_name()?.to_str()?;
    let script = test_path.with_file_name(format!("{}.rhai", name.strip_suffix(".test.rhai")?));
    host.generation()
        .scripts
        .get(&script.display().to_string())
        .cloned()
}

/// Runs one test function of a loaded test file against `host`'s scripts. Blocks.
pub fn run_test(host: &Arc<Host>, version: &ScriptVersion, name: &str) -> TestOutcome {
    run_test_in(host, version, name, TestEnv::default())
}

/// [`run_test`] with the simulators' seeder. Blocks.
pub fn run_test_in(
    host: &Arc<Host>,
    version: &ScriptVersion,
    name: &str,
    env: TestEnv,
) -> TestOutcome {
    let script = tested_script(host, Path::new(&*version.path));
    STATE.with(|s| {
        *s.borrow_mut() = Some(TestState {
            host: host.clone(),
            calls: Vec::new(),
            env,
            printed: Vec::new(),
            script,
        })
    });
    let run = script::run_handler_with(host.engine(), host.services(), version, name, vec![], None);
    let printed = STATE
        .with(|s| s.borrow_mut().take())
        .map(|state| state.printed)
        .unwrap_or_default();
    let file = Path::new(&*version.path)
        .file_name()
        .map_or(version.path.to_string(), |n| {
            n.to_string_lossy().to_string()
        });
    TestOutcome {
        name: format!("{file}::{}", name.trim_start_matches("test_")),
        error: run.outcome.err(),
        elapsed: run.elapsed,
        printed,
    }
}
