//! One script version: compiled, its top level run once to collect handler declarations, every
//! declaration checked. A version is immutable; reloads build new ones, and runs pin the version
//! they started with.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rhai::{ASTNode, CallFnOptions, Dynamic, Engine, Expr, Scope, Stmt, AST};
use sha2::{Digest, Sha256};

use super::engine::Services;
use super::error::{Handler, ScriptError};
use super::limits::{self, Limits};
use super::modules::{self, Pinned};
use super::run::{self, CallHooks, CallRecord, Declaration, Phase, Position, RunContext};
use crate::clock::Clock;
use crate::connectors::{Accounts, Vendor};

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
    /// The top level's constants with their values. Every function of the script sees them
    /// while one of its handlers runs (see [`resolve_constant`]).
    pub constants: Arc<Scope<'static>>,
    /// [`content_hash`] of its own source (`hash` also covers its modules).
    pub source_hash: String,
    /// The shared modules it imports, as they were when it loaded (see [`super::modules`]).
    pub modules: Arc<Pinned>,
    /// When the top level imports modules: the functions and those `import` statements only,
    /// which runs evaluate so that the handlers see the imports.
    pub run_ast: Option<AST>,
}

impl ScriptVersion {
    /// True when this version imports the shared module `file` (compared as canonical paths).
    pub fn imports_file(&self, file: &std::path::Path) -> bool {
        let wanted = std::fs::canonicalize(file).ok();
        self.modules.keys().any(|m| {
            let m = std::path::Path::new(m);
            m == file || (wanted.is_some() && std::fs::canonicalize(m).ok() == wanted)
        })
    }
}

/// The names a script declares with `const` at the start of a line. Strict variables would
/// otherwise reject a function that uses a top-level constant, because Rhai compiles functions
/// without knowing the top level's variables. A `const` inside a function only makes this list
/// longer, which is harmless: the local one shadows it.
pub(crate) fn declared_constants(source: &str) -> Scope<'static> {
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
            // placeholder value into the functions.
            scope.push(name, ());
        }
    }
    scope
}

/// The content hash used as a script version.
pub fn content_hash(source: &str) -> String {
    hex::encode(&Sha256::digest(source.as_bytes())[..6])
}

/// Compiles `source` (a script or a test file) the way [`load`] does, and checks that every
/// `import "…"` in it, top level or inside a function, names a module that resolves. Plain
/// compilation does not resolve imports, so an unresolvable one would otherwise only fail when
/// that line runs. `check` uses this for test files.
pub fn compile(engine: &Engine, path: &str, source: &str) -> Result<AST, Vec<ScriptError>> {
    let mut ast = engine
        .compile_with_scope(&declared_constants(source), source)
        .map_err(|e| vec![ScriptError::from_parse(path, &e)])?;
    ast.set_source(path);
    let mut problems = Vec::new();
    ast.walk(&mut |nodes: &[ASTNode]| {
        if let Some(ASTNode::Stmt(Stmt::Import(import, _))) = nodes.last() {
            if let Expr::StringConstant(module, at) = &import.0 {
                if let Err(e) = engine
                    .module_resolver()
                    .resolve(engine, Some(path), module, *at)
                {
                    let mut problem = ScriptError::from_rhai(path, &e);
                    if matches!(*e, rhai::EvalAltResult::ErrorModuleNotFound(..)) {
                        problem.message = format!(
                            "cannot import \"{module}\": no such module (the stdlib has: {}; a shared module would be the file {})",
                            super::stdlib::MODULES
                                .iter()
                                .map(|(name, _)| *name)
                                .collect::<Vec<_>>()
                                .join(", "),
                            modules::module_file(path, module)
                        );
                    }
                    problems.push(problem);
                }
            }
        }
        true
    });
    if problems.is_empty() {
        Ok(ast)
    } else {
        Err(problems)
    }
}

/// Compiles `source`, runs its top level once with declarations allowed and vendor calls refused,
/// keeps the top level's constants, and checks every declaration. Returns every problem found,
/// each with its place.
pub fn load(
    engine: &Engine,
    limits: &Limits,
    path: &str,
    source: &str,
) -> Result<ScriptVersion, Vec<ScriptError>> {
    // Every shared module this load resolves is collected, so the version keeps them.
    let loading = modules::enter_load();
    let ast = compile(engine, path, source)?;
    let context = run::enter(RunContext::new(path.into(), Phase::Load));
    let _deadline = limits::set_deadline(Instant::now() + limits.run_budget);
    let mut top_level = Scope::new();
    let result = engine.run_ast_with_scope(&mut top_level, &ast);
    let context = context.finish();
    let pinned = loading.finish();
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
    let imports: Vec<Stmt> = ast
        .statements()
        .iter()
        .filter(|s| matches!(s, Stmt::Import(..)))
        .cloned()
        .collect();
    let run_ast = (!imports.is_empty()).then(|| {
        let mut run_ast = AST::new(imports, ast.shared_lib().clone());
        run_ast.set_source(path);
        run_ast
    });
    // A version is its source and its modules' sources: editing a module makes a new version.
    let hash = if pinned.is_empty() {
        content_hash(source)
    } else {
        let mut all = source.to_string();
        for (file, (module_hash, _)) in &pinned {
            all.push_str(&format!("\0{file}={module_hash}"));
        }
        content_hash(&all)
    };
    Ok(ScriptVersion {
        path: path.into(),
        hash,
        source_hash: content_hash(source),
        ast,
        declarations: context.declarations,
        constants: Arc::new(constants),
        modules: Arc::new(pinned),
        run_ast,
    })
}

thread_local! {
    /// The constants of the script whose handler runs on this thread (see [`resolve_constant`]).
    static CONSTANTS: RefCell<Option<Arc<Scope<'static>>>> = const { RefCell::new(None) };
}

/// Makes `constants` the ones [`resolve_constant`] answers with on this thread until the guard
/// drops (then the previous ones are back: a test's `route(…)` runs a script inside a test run).
fn enter_constants(constants: Arc<Scope<'static>>) -> ConstantsGuard {
    ConstantsGuard(CONSTANTS.with(|c| c.replace(Some(constants))))
}

struct ConstantsGuard(Option<Arc<Scope<'static>>>);

impl Drop for ConstantsGuard {
    fn drop(&mut self) {
        let previous = self.0.take();
        CONSTANTS.with(|c| *c.borrow_mut() = previous);
    }
}

/// The engine's variable resolver (registered by the engine constructor): a read of a name that
/// is not a local variable, inside a handler run, gets the running script's top-level constant of
/// that name.
///
/// Rhai runs every script function in a fresh scope. A handler called by the host sees the scope
/// it is called with, but a helper the handler calls, or a closure, saw nothing of it (`Variable
/// not found: OWNER`), and `check` could not tell: the placeholders of `declared_constants` make
/// such a function compile. Rhai's own `global::OWNER` works only when written that way, and
/// folding the values into the AST with the optimizer skips `OWNER[city]` and `OWNER.len()`
/// (the optimizer keeps a variable at the root of an index or method chain). So the values are
/// looked up when read. Locals have a precomputed scope offset (`index > 0`) and return at once,
/// so the cost is one callback per variable read; a local of the same name still shadows the
/// constant. Pinned by `constants_are_visible_in_helper_functions` (tests/it/host.rs).
///
/// A shared module's functions see the module's own constants instead. Rhai evaluates a module
/// once ([`rhai::Module::eval_ast_as_new`]) and collects its top-level `const`s into the
/// module's encapsulated environment, which it makes current (`global.constants`) whenever one
/// of the module's functions runs; `global::NAME` reads them, and so does this resolver for a
/// plain `NAME`. Inside a module's function (its innermost function library is the module's,
/// not the running script's) the script's constants are not consulted, so a module behaves the
/// same whichever script imports it. Pinned by `a_shared_modules_functions_read_its_own_top_level_constants`
/// (tests/it/reload.rs).
pub fn resolve_constant(
    name: &str,
    index: usize,
    context: rhai::EvalContext,
) -> Result<Option<Dynamic>, Box<rhai::EvalAltResult>> {
    if index > 0 {
        return Ok(None);
    }
    let global = context.global_runtime_state();
    let own = global
        .constants
        .as_ref()
        .and_then(|constants| rhai::locked_read(constants)?.get(name).cloned());
    if let Some(value) = own {
        if context.scope().contains(name) {
            return Ok(None);
        }
        return Ok(Some(value));
    }
    let running = run::with_current(|c| c.script.clone());
    let in_module = match (global.lib.last().and_then(|lib| lib.id()), running) {
        (Some(library), Some(script)) => library != &*script,
        _ => false,
    };
    if in_module {
        return Ok(None);
    }
    CONSTANTS.with(|c| {
        let constants = c.borrow();
        let Some(value) = constants.as_ref().and_then(|s| s.get(name)) else {
            return Ok(None);
        };
        if context.scope().contains(name) {
            return Ok(None);
        }
        Ok(Some(value.clone()))
    })
}

/// The accounts `on_lead(vendor, account, …)` and `on_follow(account, …)` may name, and the
/// config file they come from (for messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownAccounts {
    origin: String,
    by_vendor: BTreeMap<Vendor, Vec<String>>,
    vendor_of: BTreeMap<String, Vendor>,
}

impl KnownAccounts {
    /// `(name, vendor)` pairs from the config called `origin` in messages (its file name).
    pub fn new(
        origin: impl Into<String>,
        accounts: impl IntoIterator<Item = (String, Vendor)>,
    ) -> Self {
        let mut known = KnownAccounts {
            origin: origin.into(),
            by_vendor: BTreeMap::new(),
            vendor_of: BTreeMap::new(),
        };
        for (name, vendor) in accounts {
            known
                .by_vendor
                .entry(vendor)
                .or_default()
                .push(name.clone());
            known.vendor_of.insert(name, vendor);
        }
        for names in known.by_vendor.values_mut() {
            names.sort();
        }
        known
    }

    /// The accounts of `config`, named in messages by the config's file name.
    pub fn from_config(config: &crate::config::Config) -> Self {
        let origin = std::path::Path::new(&config.origin)
            .file_name()
            .map_or(config.origin.clone(), |n| n.to_string_lossy().to_string());
        Self::new(
            origin,
            config.accounts.values().map(|a| (a.name.clone(), a.vendor)),
        )
    }

    /// The accounts scripts can call through.
    pub fn of(origin: impl Into<String>, accounts: &Accounts) -> Self {
        let pairs = Vendor::ALL.into_iter().flat_map(|vendor| {
            accounts
                .names_of(vendor)
                .into_iter()
                .map(move |name| (name.to_string(), vendor))
        });
        Self::new(origin, pairs)
    }

    /// Why `declaration` of `account` for `vendor` cannot work, if it cannot.
    fn problem(&self, declaration: &str, account: &str, vendor: Vendor) -> Option<String> {
        let names = self.by_vendor.get(&vendor).map_or(&[][..], Vec::as_slice);
        let list = if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        };
        match self.vendor_of.get(account) {
            Some(v) if *v == vendor => None,
            Some(other) => Some(format!(
                "{declaration} names account \"{account}\", which is a {other} account, not a {vendor} one (accounts of {vendor}: {list})"
            )),
            None => Some(format!(
                "{declaration} names account \"{account}\", which is not in {} (accounts of {vendor}: {list})",
                self.origin
            )),
        }
    }

    /// Why `on_follow(account, …)` cannot work: the account must belong to a vendor that pushes
    /// follow records ([`Vendor::follows`]). The message names the first such vendor.
    fn follow_problem(&self, account: &str) -> Option<String> {
        if self.vendor_of.get(account).is_some_and(|v| v.follows()) {
            return None;
        }
        match follow_vendors().next() {
            Some(vendor) => self.problem("on_follow", account, vendor),
            None => Some(format!(
                "on_follow names account \"{account}\", but no vendor delivers follow records"
            )),
        }
    }
}

/// The vendors whose pushes include follow records (the registry's [`Vendor::follows`]), in
/// registration order.
pub fn follow_vendors() -> impl Iterator<Item = Vendor> {
    Vendor::ALL.into_iter().filter(|v| v.follows())
}

/// Every `on_lead`/`on_follow` declaration of `version` that names an account `known` does not
/// have for that vendor (`on_follow` accounts are accounts of a vendor that pushes follow
/// records), each at its place.
pub fn check_accounts(version: &ScriptVersion, known: &KnownAccounts) -> Vec<ScriptError> {
    version
        .declarations
        .iter()
        .filter_map(|declaration| {
            let (message, at) = match declaration {
                Declaration::Lead { filter, at, .. } => (
                    known.problem("on_lead", filter.account.as_deref()?, filter.vendor?)?,
                    at,
                ),
                Declaration::Follow { account, at, .. } => {
                    (known.follow_problem(account.as_deref()?)?, at)
                }
                Declaration::Schedule { .. } => return None,
            };
            Some(ScriptError::new(&version.path, *at, message))
        })
        .collect()
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
    /// The run's id ([`run::next_run_id`]), the same its calls carried in their [`CallSite`]s.
    ///
    /// [`CallSite`]: super::run::CallSite
    pub run_id: u64,
    /// When it started, on the host's clock (for the journal and `leads show`).
    pub started_at: std::time::SystemTime,
    /// How long it took (measured on `Instant`, whatever the clock says).
    pub elapsed: Duration,
}

/// Runs `function(args…)` of `version` on this thread with a fresh scope, under the run budget,
/// stamped with the system clock. The host and the test kit run handlers with their own clock
/// through [`run_handler_with`]. Blocks: call it on the blocking pool.
pub fn run_handler(
    engine: &Engine,
    limits: &Limits,
    version: &ScriptVersion,
    function: &str,
    args: Vec<Dynamic>,
) -> RunResult {
    run(
        engine,
        limits,
        Clock::system(),
        version,
        function,
        args,
        None,
    )
}

/// [`run_handler`] with the services' limits and clock (the run's start stamp is
/// `services.clock`'s time) and call hooks (the daemon's replay and circuit breakers).
pub fn run_handler_with(
    engine: &Engine,
    services: &Services,
    version: &ScriptVersion,
    function: &str,
    args: Vec<Dynamic>,
    hooks: Option<Arc<dyn CallHooks>>,
) -> RunResult {
    run(
        engine,
        &services.limits,
        services.clock,
        version,
        function,
        args,
        hooks,
    )
}

fn run(
    engine: &Engine,
    limits: &Limits,
    clock: Clock,
    version: &ScriptVersion,
    function: &str,
    args: Vec<Dynamic>,
    hooks: Option<Arc<dyn CallHooks>>,
) -> RunResult {
    let started = Instant::now();
    let started_at: std::time::SystemTime = clock.now().into();
    let run_id = run::next_run_id();
    let mut run_context = RunContext::new(version.path.clone(), Phase::Run);
    run_context.handler = format!("{}::{function}", version.path);
    run_context.function = function.to_string();
    run_context.version = version.hash.clone();
    run_context.run_id = run_id;
    run_context.started_at = started_at;
    run_context.owner = hooks
        .as_ref()
        .and_then(|h| h.work_id())
        .unwrap_or_else(run::detached_owner);
    run_context.hooks = hooks;
    let context = run::enter(run_context);
    let _deadline = limits::set_deadline(started + limits.run_budget);
    // A version that imports runs its `import` statements first (lookups in its pinned modules,
    // see `super::modules`), so its functions see them.
    let (ast, eval_imports) = match &version.run_ast {
        Some(run_ast) => (run_ast, true),
        None => (&version.ast, false),
    };
    let options = CallFnOptions::new()
        .eval_ast(eval_imports)
        .rewind_scope(true);
    let arity = args.len();
    // Constants reach every function through `resolve_constant`, so the scope starts empty.
    let _constants = enter_constants(version.constants.clone());
    let _modules = modules::enter_run(version.modules.clone());
    let mut scope = Scope::new();
    let result = engine.call_fn_with_options::<Dynamic>(options, &mut scope, ast, function, args);
    let context = context.finish();
    RunResult {
        outcome: result.map_err(|e| {
            let at = version
                .ast
                .iter_fn_def()
                .find(|f| f.name == function && f.params.len() == arity)
                .map_or_else(Position::default, |f| f.body.start_position().into());
            let handler = Handler { name: function, at };
            ScriptError::from_run(&version.path, handler, &e)
        }),
        calls: context.calls,
        skipped: context.skipped,
        run_id,
        started_at,
        elapsed: started.elapsed(),
    }
}
