//! The ONE engine constructor, used by the daemon, `check`, `route`, `test` and the tests, so
//! what is tested is what runs.
//!
//! It sets the limits, strict variables, `print`/`debug` into tracing, the `Lead` type, the
//! handler declarations (`on_lead`, `on_follow`, `schedule`), `once`/`skip` (see [`super::once`])
//! and one static module per vendor whose functions are the vendor's ops.
//!
//! Vendor functions are registered volatile, so the optimizer never folds a call into a constant
//! at compile time, and they refuse to run at load time (a script's top level), where a call
//! would fire on every save.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Instant;

use rhai::{
    Dynamic, Engine, EvalAltResult, FnPtr, FuncRegistration, Module, NativeCallContext, INT,
};

use super::bridge::{Bridge, BridgeError};
use super::convert::{dynamic_to_json, json_to_dynamic};
use super::limits::{self, Limits};
use super::once::{self as once_fn, MemoryOnce, OnceStore};
use super::run::{self, CallRecord, CallSite, CatchUp, Declaration, LeadFilter, Phase};
use super::schedule::parse_cron;
use super::stdlib::{self, AssignmentStore, MemoryAssignments};
use crate::connectors::{all_ops, Accounts, CallError, Constant, FailureKind, Vendor};

/// What scripts can reach: the configured accounts, the bridge to run their calls, the limits.
#[derive(Debug, Clone)]
pub struct Services {
    /// Clients by account name.
    pub accounts: Accounts,
    /// The sync→async crossing.
    pub bridge: Bridge,
    /// Run limits.
    pub limits: Limits,
    /// Turn counters of the stdlib's assignment helpers.
    pub assignments: Arc<dyn AssignmentStore>,
    /// Where `once(key, ttl)` keeps its keys.
    pub once: Arc<dyn OnceStore>,
    /// What `now_beijing()`, `time::` and `hours::` read (frozen by `set_now` in tests).
    pub clock: crate::clock::Clock,
    /// The working days of `hours::is_workday` (`[scripts] holidays`).
    pub calendar: Arc<super::calendar::Calendar>,
}

impl Services {
    /// Services for `accounts` with default limits, in-memory assignment counters and `once`
    /// keys, on the current tokio runtime.
    pub fn new(accounts: Accounts) -> Self {
        Services {
            accounts,
            bridge: Bridge::current(),
            limits: Limits::default(),
            assignments: Arc::new(MemoryAssignments::default()),
            once: Arc::new(MemoryOnce::default()),
            clock: crate::clock::Clock::system(),
            calendar: Arc::new(super::calendar::Calendar::default()),
        }
    }
}

/// Builds the engine. Call once per set of services; the engine is shared by every run.
pub fn new_engine(services: Arc<Services>) -> Engine {
    let mut engine = Engine::new();
    let limits = &services.limits;
    engine
        .set_max_operations(limits.max_operations)
        .set_max_call_levels(limits.max_call_levels)
        .set_max_expr_depths(limits.max_expr_depth, limits.max_function_expr_depth)
        .set_max_string_size(limits.max_string_size)
        .set_max_array_size(limits.max_array_size)
        .set_max_map_size(limits.max_map_size)
        .set_strict_variables(true)
        .set_fail_on_invalid_map_property(false);
    // Checking the clock every operation costs ~3% of a tight loop; every 256th is enough to stop
    // within a millisecond of the deadline.
    let budget = limits.run_budget;
    engine.on_progress(move |ops| {
        if ops % 256 == 0 && limits::past_deadline() {
            Some(format!("the run exceeded its time budget of {budget:?}").into())
        } else {
            None
        }
    });
    engine.on_print(|text| {
        let script = run::with_current(|c| c.script.clone());
        tracing::info!(script = script.as_deref().unwrap_or("?"), "{text}");
    });
    engine.on_debug(|text, source, position| {
        let script = run::with_current(|c| c.script.clone());
        let place = source.map(str::to_string).or(script.map(|s| s.to_string()));
        tracing::debug!(
            script = place.as_deref().unwrap_or("?"),
            line = position.line().unwrap_or(0),
            "{text}"
        );
    });
    // Top-level constants in every function of a script; see `script::resolve_constant`.
    #[allow(deprecated)] // Rhai marks `on_var` volatile, not deprecated.
    engine.on_var(super::script::resolve_constant);
    crate::lead::rhai::register(&mut engine);
    register_declarations(&mut engine);
    for vendor in Vendor::ALL {
        engine.register_static_module(vendor.as_str(), vendor_module(vendor, &services).into());
    }
    stdlib::register_natives(&mut engine, &services);
    once_fn::register(&mut engine, services.once.clone());
    // A broken shipped module is a leadrelay bug; scripts that import it fail with "module not
    // found", and `leadrelay check` reports the module's own error.
    for problem in stdlib::install(&mut engine) {
        tracing::error!("the shipped stdlib does not load: {problem}");
    }
    engine
}

fn function_name(value: &Dynamic) -> Result<String, Box<EvalAltResult>> {
    if let Some(ptr) = value.clone().try_cast::<FnPtr>() {
        return Ok(ptr.fn_name().to_string());
    }
    value.clone().into_string().map_err(|ty| {
        format!("expected a function name (a string or Fn(\"name\")), got {ty}").into()
    })
}

fn declare(
    ctx: &NativeCallContext,
    what: &str,
    declaration: Declaration,
) -> Result<(), Box<EvalAltResult>> {
    let accepted = run::with_current(|c| {
        if c.phase == Phase::Load {
            c.declarations.push(declaration);
            true
        } else {
            false
        }
    });
    match accepted {
        Some(true) => Ok(()),
        _ => Err(EvalAltResult::ErrorRuntime(
            format!("{what}(…) declares a handler: call it at the top level of a script, not inside a function").into(),
            ctx.call_position(),
        )
        .into()),
    }
}

fn register_declarations(engine: &mut Engine) {
    fn lead(
        ctx: NativeCallContext,
        filter: LeadFilter,
        f: Dynamic,
    ) -> Result<(), Box<EvalAltResult>> {
        let function = function_name(&f)?;
        let at = ctx.call_position().into();
        declare(
            &ctx,
            "on_lead",
            Declaration::Lead {
                filter,
                function,
                at,
            },
        )
    }
    fn vendor_of(name: &str) -> Result<Vendor, Box<EvalAltResult>> {
        Vendor::from_str(name).map_err(|e| e.into())
    }
    fn follow(
        ctx: NativeCallContext,
        account: Option<&str>,
        f: Dynamic,
    ) -> Result<(), Box<EvalAltResult>> {
        let function = function_name(&f)?;
        let at = ctx.call_position().into();
        let account = account.map(str::to_string);
        declare(
            &ctx,
            "on_follow",
            Declaration::Follow {
                account,
                function,
                at,
            },
        )
    }
    let doc_lead =
        "/// Declares a lead handler: `handler(lead)` runs for each new lead. Top level only.";
    FuncRegistration::new("on_lead")
        .with_comments([doc_lead, "/// on_lead(\"route\") — every lead."])
        .with_params_info(["handler: String", "()"])
        .register_into_engine(engine, |ctx: NativeCallContext, f: Dynamic| {
            lead(ctx, LeadFilter::default(), f)
        });
    FuncRegistration::new("on_lead")
        .with_comments([
            doc_lead,
            "/// on_lead(\"tencent\", \"route\") — only leads of one vendor.",
        ])
        .with_params_info(["vendor: String", "handler: String", "()"])
        .register_into_engine(
            engine,
            |ctx: NativeCallContext, vendor: &str, f: Dynamic| {
                let filter = LeadFilter {
                    vendor: Some(vendor_of(vendor)?),
                    account: None,
                };
                lead(ctx, filter, f)
            },
        );
    FuncRegistration::new("on_lead")
        .with_comments([
            doc_lead,
            "/// on_lead(\"tencent\", \"tx_main\", \"route\") — only leads of one account.",
        ])
        .with_params_info(["vendor: String", "account: String", "handler: String", "()"])
        .register_into_engine(
            engine,
            |ctx: NativeCallContext, vendor: &str, account: &str, f: Dynamic| {
                let filter = LeadFilter {
                    vendor: Some(vendor_of(vendor)?),
                    account: Some(account.to_string()),
                };
                lead(ctx, filter, f)
            },
        );
    let doc_follow =
        "/// Declares a handler for Waiqin follow records: `handler(record)`. Top level only.";
    FuncRegistration::new("on_follow")
        .with_comments([doc_follow])
        .with_params_info(["handler: String", "()"])
        .register_into_engine(engine, |ctx: NativeCallContext, f: Dynamic| {
            follow(ctx, None, f)
        });
    FuncRegistration::new("on_follow")
        .with_comments([
            doc_follow,
            "/// on_follow(\"wq_main\", \"record\") — only pushes to one account.",
        ])
        .with_params_info(["account: String", "handler: String", "()"])
        .register_into_engine(
            engine,
            |ctx: NativeCallContext, account: &str, f: Dynamic| follow(ctx, Some(account), f),
        );
    fn schedule(
        ctx: NativeCallContext,
        cron: &str,
        f: Dynamic,
        catch_up: CatchUp,
    ) -> Result<(), Box<EvalAltResult>> {
        let function = function_name(&f)?;
        parse_cron(cron).map_err(|e| -> Box<EvalAltResult> {
            EvalAltResult::ErrorRuntime(e.into(), ctx.call_position()).into()
        })?;
        let at = ctx.call_position().into();
        let cron = cron.to_string();
        declare(
            &ctx,
            "schedule",
            Declaration::Schedule {
                cron,
                function,
                catch_up,
                at,
            },
        )
    }
    let doc_schedule = [
        "/// Declares a scheduled job: `job()` runs at each cron tick (Beijing time by default).",
        "/// 6 fields with seconds (\"0 30 9 * * Mon-Fri\") or a 5-field crontab (\"30 9 * * Mon-Fri\"). Top level only.",
    ];
    FuncRegistration::new("schedule")
        .with_comments(doc_schedule)
        .with_params_info(["cron: String", "job: String", "()"])
        .register_into_engine(engine, |ctx: NativeCallContext, cron: &str, f: Dynamic| {
            schedule(ctx, cron, f, CatchUp::default())
        });
    FuncRegistration::new("schedule")
        .with_comments([
            doc_schedule[0],
            doc_schedule[1],
            "/// Options: `catch_up`: \"last\" (default: on start, fire the most recent slot missed while",
            "/// the daemon was down, if younger than [daemon] cron_catch_up_max_age_secs) or \"none\".",
        ])
        .with_params_info(["cron: String", "job: String", "options: Map", "()"])
        .register_into_engine(
            engine,
            |ctx: NativeCallContext, cron: &str, f: Dynamic, options: rhai::Map| {
                let mut catch_up = CatchUp::default();
                for (key, value) in options {
                    match key.as_str() {
                        "catch_up" => {
                            let name = value.clone().into_string().unwrap_or_default();
                            catch_up = CatchUp::parse(&name).ok_or_else(|| -> Box<EvalAltResult> {
                                EvalAltResult::ErrorRuntime(
                                    format!(
                                        "schedule(…): catch_up must be one of {}, got {value}",
                                        CatchUp::NAMES.map(|n| format!("\"{n}\"")).join(", ")
                                    )
                                    .into(),
                                    ctx.call_position(),
                                )
                                .into()
                            })?;
                        }
                        other => {
                            return Err(EvalAltResult::ErrorRuntime(
                                format!("schedule(…): unknown option `{other}`; the options are: catch_up")
                                    .into(),
                                ctx.call_position(),
                            )
                            .into())
                        }
                    }
                }
                schedule(ctx, cron, f, catch_up)
            },
        );
}

/// The module `vendor::…` with two functions per op: `op(payload)` for the only account of the
/// vendor, and `op("account", payload)`.
fn vendor_module(vendor: Vendor, services: &Arc<Services>) -> Module {
    let mut module = Module::new();
    for (name, value) in vendor.constants() {
        match value {
            Constant::Int(n) => module.set_var(name, n as INT),
            Constant::Text(text) => module.set_var(name, text),
        };
    }
    for (_, op) in all_ops().filter(|(v, _)| *v == vendor) {
        let name = op.name;
        let doc = format!("/// {} (`{}`).", op.summary, op.endpoint);
        let s = services.clone();
        FuncRegistration::new(name)
            .with_volatility(true)
            .with_purity(false)
            .with_comments([
                doc.as_str(),
                "/// Uses the only configured account of this vendor; throws a map on failure.",
            ])
            .with_params_info(["payload: Map", "Dynamic"])
            .set_into_module(
                &mut module,
                move |ctx: NativeCallContext, payload: Dynamic| {
                    vendor_call(&ctx, &s, vendor, name, None, &payload)
                },
            );
        let s = services.clone();
        FuncRegistration::new(name)
            .with_volatility(true)
            .with_purity(false)
            .with_comments([
                doc.as_str(),
                "/// Uses the named account; throws a map on failure.",
            ])
            .with_params_info(["account: &str", "payload: Map", "Dynamic"])
            .set_into_module(
                &mut module,
                move |ctx: NativeCallContext, account: &str, payload: Dynamic| {
                    vendor_call(&ctx, &s, vendor, name, Some(account), &payload)
                },
            );
    }
    module
}

/// The error map a failed vendor call throws: `#{vendor, account, op, kind, status, code, message,
/// retryable}`. `kind` is vendor-neutral (`exists`, `auth`, `clock`, `invalid`, `rate_limited`,
/// `unavailable`, `business`: [`crate::connectors::ErrorKind`]) so scripts never match raw codes;
/// `code` and `message` are the vendor's own.
pub fn error_map(e: &CallError) -> Dynamic {
    let mut map = rhai::Map::new();
    map.insert("vendor".into(), e.vendor.as_str().into());
    map.insert("account".into(), e.account.as_str().into());
    map.insert("op".into(), e.op.as_str().into());
    map.insert(
        "status".into(),
        e.status
            .map_or(Dynamic::UNIT, |s| Dynamic::from_int(s.into())),
    );
    map.insert(
        "code".into(),
        e.code.clone().map_or(Dynamic::UNIT, Dynamic::from),
    );
    map.insert("message".into(), e.message.as_str().into());
    map.insert("retryable".into(), e.retryable().into());
    map.insert("kind".into(), e.kind.neutral().as_str().into());
    map.into()
}

fn throw(ctx: &NativeCallContext, e: &CallError) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(error_map(e), ctx.call_position()).into()
}

fn vendor_call(
    ctx: &NativeCallContext,
    services: &Services,
    vendor: Vendor,
    op: &'static str,
    account: Option<&str>,
    payload: &Dynamic,
) -> Result<Dynamic, Box<EvalAltResult>> {
    let phase = run::with_current(|c| c.phase);
    if phase != Some(Phase::Run) {
        return Err(EvalAltResult::ErrorRuntime(
            format!(
                "{vendor}::{op} cannot be called at the top level of a script: the top level runs on every load; call it inside a handler"
            )
            .into(),
            ctx.call_position(),
        )
        .into());
    }
    let fail = |kind: FailureKind, account: &str, message: String| {
        throw(
            ctx,
            &CallError::new(vendor, op, kind, message).with_account(account),
        )
    };
    let (account, client) = services
        .accounts
        .resolve(vendor, account, op)
        .map_err(|m| fail(FailureKind::InvalidPayload, account.unwrap_or(""), m))?;
    let payload =
        dynamic_to_json(payload).map_err(|m| fail(FailureKind::InvalidPayload, account, m))?;
    let (seq, script, function, version, run_id, started_at, hooks) = run::with_current(|c| {
        (
            c.calls.len(),
            c.script.clone(),
            c.function.clone(),
            c.version.clone(),
            c.run_id,
            c.started_at,
            c.hooks.clone(),
        )
    })
    .unwrap_or_else(|| {
        (
            0,
            "".into(),
            String::new(),
            String::new(),
            run::next_run_id(),
            services.clock.now().into(),
            None,
        )
    });
    let site = CallSite {
        script: &script,
        function: &function,
        version: &version,
        run_id,
        started_at,
        seq,
        vendor,
        account,
        op,
        payload: &payload,
    };
    let started = Instant::now();
    let early = hooks.as_ref().and_then(|h| h.before(&site));
    let replayed = matches!(early, Some(Ok(_)));
    let outcome = match early {
        Some(outcome) => outcome.map_err(|e| e.with_account(account)),
        None => {
            let deadline =
                limits::deadline().unwrap_or_else(|| Instant::now() + services.limits.run_budget);
            let future = {
                let client = client.clone();
                let payload = payload.clone();
                async move { client.call(op, payload).await }
            };
            let outcome = match services.bridge.call(future, deadline) {
                Ok(result) => result.map_err(|e| e.with_account(account)),
                Err(BridgeError::DeadlineExceeded) => Err(CallError::new(
                    vendor,
                    op,
                    FailureKind::Timeout,
                    "the run's time budget ran out before the vendor answered",
                )
                .with_account(account)),
                Err(BridgeError::Cancelled) => Err(CallError::new(
                    vendor,
                    op,
                    FailureKind::Connect,
                    "leadrelay is shutting down",
                )
                .with_account(account)),
            };
            // The daemon commits the call to its journal here, before the script sees the
            // answer: a crash from now on cannot make a retry send this call again.
            if let Some(h) = &hooks {
                h.after(&site, &outcome, started.elapsed());
            }
            outcome
        }
    };
    let result = match &outcome {
        Ok(answer) => Ok(json_to_dynamic(answer)),
        Err(e) => Err(throw(ctx, e)),
    };
    run::with_current(|c| {
        c.calls.push(CallRecord {
            seq,
            vendor,
            account: account.to_string(),
            op: op.to_string(),
            payload,
            outcome,
            elapsed: started.elapsed(),
            replayed,
        });
    });
    result
}
