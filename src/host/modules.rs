//! Shared modules: `import "shared/owners" as owners;` in a script loads
//! `<the script's folder>/shared/owners.rhai` (a path is relative to the folder of the file that
//! imports, as in Rhai's own file resolver; a module may import another the same way).
//!
//! A shared module lives in a subfolder of `scripts/` (the host loads only the folder's own
//! files as scripts, so a module is never taken for a script) and declares no handlers: one
//! that calls `on_lead`, `on_follow` or `schedule` is refused with its place, as are vendor calls
//! at its top level (they would fire on every load).
//!
//! Versions are pinned. A script version resolves its modules once, when it loads, and keeps
//! them ([`Pinned`]): its runs use those, whatever the files say later, so a version is one
//! fixed piece of code, and its hash covers its modules' sources. The host reloads every script
//! that imports a module when the module is saved; if the module does not load, nothing is
//! reloaded and every importer stays on its last good version (`Host::reload_module`).
//!
//! How a handler sees a top-level `import`: Rhai lets a script's functions use the modules its
//! top level imported, but the host calls handlers without running the top level again (that
//! would declare the handlers again). So a version that imports keeps a second, small AST made
//! of its functions and its top-level `import` statements only, and its runs evaluate that one
//! first: each import is a lookup in the pinned set, not a read or a compile. Pinned by
//! `a_handler_and_its_helpers_use_a_shared_module` (tests/it/reload.rs).
//!
//! A module's functions read the module's own top-level constants: Rhai keeps them in the
//! module's encapsulated environment, and [`super::script::resolve_constant`] answers a plain
//! `NAME` from it (and never from the importing script's constants inside a module function).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rhai::module_resolvers::StaticModuleResolver;
use rhai::{Engine, EvalAltResult, Module, ModuleResolver, Position, Scope, Shared};

use super::error::ScriptError;
use super::run::{self, Phase, RunContext};
use super::script::content_hash;

/// The modules one script version resolved when it loaded: file → (content hash, module).
pub type Pinned = BTreeMap<String, (String, Shared<Module>)>;

thread_local! {
    /// Set while a handler runs: the running version's modules.
    static RUNNING: RefCell<Option<Arc<Pinned>>> = const { RefCell::new(None) };
    /// Set while a script loads: the modules resolved so far (one compile per module per load)
    /// and the files being evaluated (an import cycle is an error, not a stack overflow).
    static LOADING: RefCell<Option<(Pinned, Vec<String>)>> = const { RefCell::new(None) };
}

/// While the guard lives, imports on this thread resolve to `pinned` only.
pub(crate) fn enter_run(pinned: Arc<Pinned>) -> RunGuard {
    RunGuard(RUNNING.with(|r| r.replace(Some(pinned))))
}

/// Restores the previous run's modules.
pub(crate) struct RunGuard(Option<Arc<Pinned>>);

impl Drop for RunGuard {
    fn drop(&mut self) {
        let previous = self.0.take();
        RUNNING.with(|r| *r.borrow_mut() = previous);
    }
}

/// Collects the modules resolved on this thread until [`LoadGuard::finish`].
pub(crate) fn enter_load() -> LoadGuard {
    LoadGuard(Some(
        LOADING.with(|l| l.replace(Some((Pinned::new(), Vec::new())))),
    ))
}

/// A load in progress; see [`enter_load`].
pub(crate) struct LoadGuard(Option<Option<(Pinned, Vec<String>)>>);

impl LoadGuard {
    /// The modules the load resolved.
    pub(crate) fn finish(mut self) -> Pinned {
        let previous = self.0.take().expect("finish runs once");
        LOADING
            .with(|l| l.replace(previous))
            .map(|(pinned, _)| pinned)
            .unwrap_or_default()
    }
}

impl Drop for LoadGuard {
    fn drop(&mut self) {
        if let Some(previous) = self.0.take() {
            LOADING.with(|l| *l.borrow_mut() = previous);
        }
    }
}

/// The file `import "path"` names from the file `source`.
pub fn module_file(source: &str, path: &str) -> String {
    let base = Path::new(source).parent().unwrap_or(Path::new(""));
    base.join(format!("{path}.rhai")).display().to_string()
}

/// The engine's module resolver: the stdlib by name, then shared modules by path.
pub struct Resolver {
    stdlib: StaticModuleResolver,
}

impl Resolver {
    /// Shared modules after the stdlib's.
    pub fn new(stdlib: StaticModuleResolver) -> Self {
        Resolver { stdlib }
    }
}

impl ModuleResolver for Resolver {
    fn resolve(
        &self,
        engine: &Engine,
        source: Option<&str>,
        path: &str,
        pos: Position,
    ) -> Result<Shared<Module>, Box<EvalAltResult>> {
        if self.stdlib.contains_path(path) {
            return self.stdlib.resolve(engine, source, path, pos);
        }
        let Some(source) = source.filter(|s| !s.is_empty()) else {
            return Err(EvalAltResult::ErrorModuleNotFound(path.to_string(), pos).into());
        };
        let file = module_file(source, path);
        if let Some(pinned) = RUNNING.with(|r| r.borrow().clone()) {
            return pinned
                .get(&file)
                .map(|(_, module)| module.clone())
                .ok_or_else(|| EvalAltResult::ErrorModuleNotFound(path.to_string(), pos).into());
        }
        let cached = LOADING.with(|l| {
            l.borrow()
                .as_ref()
                .and_then(|(pinned, _)| pinned.get(&file).map(|(_, m)| m.clone()))
        });
        if let Some(module) = cached {
            return Ok(module);
        }
        let cycle = LOADING.with(|l| {
            l.borrow()
                .as_ref()
                .is_some_and(|(_, stack)| stack.contains(&file))
        });
        if cycle {
            return Err(EvalAltResult::ErrorInModule(
                file.clone(),
                EvalAltResult::ErrorRuntime(
                    format!("import cycle: {file} imports itself through \"{path}\"").into(),
                    pos,
                )
                .into(),
                pos,
            )
            .into());
        }
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(EvalAltResult::ErrorModuleNotFound(path.to_string(), pos).into())
            }
            Err(e) => {
                return Err(EvalAltResult::ErrorInModule(
                    file.clone(),
                    EvalAltResult::ErrorRuntime(format!("cannot read: {e}").into(), pos).into(),
                    pos,
                )
                .into())
            }
        };
        LOADING.with(|l| {
            if let Some((_, stack)) = l.borrow_mut().as_mut() {
                stack.push(file.clone());
            }
        });
        let module = eval_module(engine, &file, &text);
        LOADING.with(|l| {
            if let Some((pinned, stack)) = l.borrow_mut().as_mut() {
                stack.pop();
                if let Ok(module) = &module {
                    pinned.insert(file.clone(), (content_hash(&text), module.clone()));
                }
            }
        });
        module.map_err(|e| EvalAltResult::ErrorInModule(file, e, pos).into())
    }
}

/// Compiles and evaluates the module `file`, refusing handler declarations.
fn eval_module(
    engine: &Engine,
    file: &str,
    text: &str,
) -> Result<Shared<Module>, Box<EvalAltResult>> {
    // Like a script: its functions may read its top-level constants.
    let mut ast = engine
        .compile_with_scope(&super::script::declared_constants(text), text)
        .map_err(|e| -> Box<EvalAltResult> { e.into() })?;
    ast.set_source(file);
    // Declarations are collected, not refused, by a load context: look at them afterwards.
    let context = run::enter(RunContext::new(file.into(), Phase::Load));
    let module = Module::eval_ast_as_new(Scope::new(), &ast, engine);
    let context = context.finish();
    let mut module = module?;
    if let Some(declaration) = context.declarations.first() {
        let (what, at) = match declaration {
            run::Declaration::Lead { at, .. } => ("on_lead", at),
            run::Declaration::Follow { at, .. } => ("on_follow", at),
            run::Declaration::Schedule { at, .. } => ("schedule", at),
        };
        return Err(EvalAltResult::ErrorRuntime(
            format!(
                "{what}(…) in a shared module: a module declares no handlers; declare them in a script of the scripts folder"
            )
            .into(),
            if at.line == 0 {
                Position::NONE
            } else {
                Position::new(at.line as u16, at.column as u16)
            },
        )
        .into());
    }
    module.build_index();
    Ok(module.into())
}

/// Loads the module `file` on its own (no importer): what `check` and a module's reload
/// report. Blocks.
pub fn check_module(engine: &Engine, file: &Path) -> Result<(), ScriptError> {
    let key = file.display().to_string();
    let text = std::fs::read_to_string(file)
        .map_err(|e| ScriptError::new(&key, Default::default(), format!("cannot read: {e}")))?;
    let _load = enter_load();
    LOADING.with(|l| {
        if let Some((_, stack)) = l.borrow_mut().as_mut() {
            stack.push(key.clone());
        }
    });
    eval_module(engine, &key, &text)
        .map(|_| ())
        .map_err(|e| ScriptError::from_rhai(&key, &e))
}

/// Every `.rhai` file in the subfolders of `dir` (shared modules), sorted; tests and
/// definitions left out.
pub fn module_files(dir: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
            if path.is_dir() {
                // Hidden folders (.git) are not modules.
                let hidden = path
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'));
                if !hidden && depth < 8 {
                    walk(&path, depth + 1, out);
                }
            } else if depth > 0 && super::generation::is_script(&path) {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, 0, &mut out);
    out.sort();
    out
}
