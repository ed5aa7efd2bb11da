//! The stdlib: Rhai modules shipped in `stdlib/` and embedded in the binary, importable by name
//! (`import "phone" as phone;`, or directly as `phone::normalize(…)`), plus the native functions they stand on: turn counters for
//! assignment (kept behind [`AssignmentStore`] so the journal can hold them) and Beijing time.

use rhai::module_resolvers::StaticModuleResolver;
use rhai::{Engine, FuncRegistration, Module, Scope, INT};

use super::error::ScriptError;
// Defined beside the journal, which implements it, so the journal does not depend on the host.
pub use crate::store::types::{AssignmentStore, MemoryAssignments};

/// The stdlib modules: (import name, source).
pub const MODULES: &[(&str, &str)] = &[
    ("phone", include_str!("../../stdlib/phone.rhai")),
    ("assign", include_str!("../../stdlib/assign.rhai")),
    ("hours", include_str!("../../stdlib/hours.rhai")),
    ("map", include_str!("../../stdlib/map.rhai")),
];

/// Registers the native functions the stdlib modules use: turn counters, and Beijing time and
/// the working-day calendar from the services' clock (see [`super::time`]).
pub fn register_natives(engine: &mut Engine, services: &super::engine::Services) {
    super::time::register(engine, services.clock, services.calendar.clone());
    let assignments = services.assignments.clone();
    let mut module = Module::new();
    FuncRegistration::new("assign_counter_next")
        .in_global_namespace()
        .with_volatility(true)
        .with_purity(false)
        .with_comments([
            "/// Returns the turn counter of `key` and advances it (used by the assign module).",
        ])
        .set_into_module(&mut module, move |key: &str| -> INT {
            assignments.next(key) as INT
        });
    engine.register_global_module(module.into());
}

/// Compiles every stdlib module with `engine` and makes them importable. Returns the problems
/// (which would be bugs in the shipped stdlib; `check` reports them).
pub fn install(engine: &mut Engine) -> Vec<ScriptError> {
    let mut resolver = StaticModuleResolver::new();
    let mut problems = Vec::new();
    for (name, source) in MODULES {
        let path = format!("stdlib/{name}.rhai");
        match compile_module(engine, &path, source) {
            Ok(module) => {
                // Also a static module: handlers run without re-running the script's top level,
                // so a top-level `import` is not in scope inside them; the static module is.
                engine.register_static_module(*name, module.clone().into());
                resolver.insert(*name, module);
            }
            Err(e) => problems.push(e),
        }
    }
    // Shared modules (`import "shared/owners"`) resolve after the stdlib's names.
    engine.set_module_resolver(super::modules::Resolver::new(resolver));
    problems
}

/// Compiles every stdlib module with `engine` without installing anything; `check` uses it to
/// report problems found with the production engine.
pub fn problems(engine: &Engine) -> Vec<ScriptError> {
    MODULES
        .iter()
        .filter_map(|(name, source)| {
            compile_module(engine, &format!("stdlib/{name}.rhai"), source).err()
        })
        .collect()
}

fn compile_module(engine: &Engine, path: &str, source: &str) -> Result<Module, ScriptError> {
    let mut ast = engine
        .compile(source)
        .map_err(|e| ScriptError::from_parse(path, &e))?;
    ast.set_source(path);
    let mut module = Module::eval_ast_as_new(Scope::new(), &ast, engine)
        .map_err(|e| ScriptError::from_rhai(path, &e))?;
    module.build_index();
    Ok(module)
}
