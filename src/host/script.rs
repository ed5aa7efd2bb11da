//! One script version: compiled, its top level run once to collect handler declarations, every
//! declaration checked. A version is immutable; reloads build new ones, and runs pin the version
//! they started with.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rhai::{CallFnOptions, Dynamic, Engine, Scope, AST};
use sha2::{Digest, Sha256};

use super::error::ScriptError;
use super::limits::{self, Limits};
use super::run::{self, CallHooks, CallRecord, Declaration, Phase, RunContext};

/// A loaded, validated script.
#[derive(Debug)]
pub struct ScriptVersion {
    /// The path as given (shown in messages).
    pub path: Arc<str>,
    /// The first 12 hex digits of the source's SHA-256: the version every run records.
    pub hash: String,
    /// The compiled script.
    pub ast: AST,
    /// Handlers and schedules declared at the top level, in order.
    pub declarations: Vec<Declaration>,
    /// The top level's constants with their values; every run starts from a copy, which is how
    /// handlers see them (Rhai functions see constants of the scope they are called with).
    pub constants: Scope<'static>,
}

/// The names a script declares with `const` at the start of a line. Strict variables would
/// otherwise reject a handler that uses a top-level constant, because Rhai compiles functions
/// without knowing the top level's variables. A `const` inside a function only makes this list
/// longer, which is harmless: the local one shadows it.
fn declared_constants(source: &str) -> Scope<'static> {
    let mut scope = Scope::new();
    for line in source.lines() {
        let Some(rest) = line.trim_start().strip_prefix("const ") else {
            continue;
        };
        let name: String = rest
            .trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            // A plain variable, not a constant: the optimizer would fold a constant's
            // placeholder value into the handlers.
            scope.push(name, ());
        }
    }
    scope
}

/// The content hash used as a script version.
pub fn content_hash(source: &str) -> String {
    hex::encode(&Sha256::digest(source.as_bytes())[..6])
}

/// Compiles `source`, runs its top level once with declarations allowed and vendor calls refused,
/// and checks every declaration. Returns every problem found, each with its place.
pub fn load(
    engine: &Engine,
    limits: &Limits,
    path: &str,
    source: &str,
) -> Result<ScriptVersion, Vec<ScriptError>> {
    let mut ast = engine
        .compile_with_scope(&declared_constants(source), source)
        .map_err(|e| vec![ScriptError::from_parse(path, &e)])?;
    ast.set_source(path);
    let context = run::enter(RunContext::new(path.into(), Phase::Load));
    let _deadline = limits::set_deadline(Instant::now() + limits.run_budget);
    let mut top_level = Scope::new();
    let result = engine.run_ast_with_scope(&mut top_level, &ast);
    let context = context.finish();
    result.map_err(|e| vec![ScriptError::from_rhai(path, &e)])?;
    let mut constants = Scope::new();
    for (name, is_constant, value) in top_level.iter_raw() {
        if is_constant {
            constants.push_constant_dynamic(name.to_string(), value.clone());
        }
    }

    let functions: HashSet<(String, usize)> = ast
        .iter_functions()
        .map(|f| (f.name.to_string(), f.params.len()))
        .collect();
    let mut problems = Vec::new();
    for declaration in &context.declarations {
        let (function, arity, at, what) = match declaration {
            Declaration::Lead { function, at, .. } => (function, 1, at, "lead handler"),
            Declaration::Follow { function, at, .. } => (function, 1, at, "follow handler"),
            Declaration::Schedule { function, at, .. } => (function, 0, at, "scheduled job"),
        };
        if !functions.contains(&(function.clone(), arity)) {
            let hint = if functions.iter().any(|(name, _)| name == function) {
                format!(
                    "`{function}` must take {arity} parameter{}",
                    if arity == 1 { "" } else { "s" }
                )
            } else {
                format!("no function `{function}` is defined in this script")
            };
            problems.push(ScriptError::new(
                path,
                *at,
                format!("{what} `{function}`: {hint}"),
            ));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(ScriptVersion {
        path: path.into(),
        hash: content_hash(source),
        ast,
        declarations: context.declarations,
        constants,
    })
}

/// The result of one handler run.
#[derive(Debug)]
pub struct RunResult {
    /// What the handler returned, or where it failed.
    pub outcome: Result<Dynamic, ScriptError>,
    /// The vendor calls it made, in order.
    pub calls: Vec<CallRecord>,
    /// The reason given to `skip(reason)`, when the handler skipped (its outcome is then `Ok`).
    pub skipped: Option<String>,
    /// When it started (wall clock, for the journal and `leads show`).
    pub started_at: std::time::SystemTime,
    /// Wall time.
    pub elapsed: Duration,
}

/// Runs `function(args…)` of `version` on this thread with a fresh scope, under the run budget.
/// Blocks: call it on the blocking pool.
pub fn run_handler(
    engine: &Engine,
    limits: &Limits,
    version: &ScriptVersion,
    function: &str,
    args: Vec<Dynamic>,
) -> RunResult {
    run_handler_with(engine, limits, version, function, args, None)
}

/// [`run_handler`] with call hooks (the daemon's replay and circuit breakers).
pub fn run_handler_with(
    engine: &Engine,
    limits: &Limits,
    version: &ScriptVersion,
    function: &str,
    args: Vec<Dynamic>,
    hooks: Option<Arc<dyn CallHooks>>,
) -> RunResult {
    let started = Instant::now();
    let started_at = std::time::SystemTime::now();
    let mut run_context = RunContext::new(version.path.clone(), Phase::Run);
    run_context.handler = format!("{}::{function}", version.path);
    run_context.function = function.to_string();
    run_context.version = version.hash.clone();
    run_context.started_at = started_at;
    run_context.owner = hooks
        .as_ref()
        .and_then(|h| h.work_id())
        .unwrap_or_else(run::detached_owner);
    run_context.hooks = hooks;
    let context = run::enter(run_context);
    let _deadline = limits::set_deadline(started + limits.run_budget);
    let options = CallFnOptions::new().eval_ast(false).rewind_scope(true);
    let mut scope = version.constants.clone();
    let result =
        engine.call_fn_with_options::<Dynamic>(options, &mut scope, &version.ast, function, args);
    let context = context.finish();
    RunResult {
        outcome: result.map_err(|e| ScriptError::from_rhai(&version.path, &e)),
        calls: context.calls,
        skipped: context.skipped,
        started_at,
        elapsed: started.elapsed(),
    }
}
