//! `leadrelay check` and `leadrelay definitions`: validate scripts without running handlers, and
//! write editor definitions from the same engine scripts run on.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::engine::Services;
use super::error::ScriptError;
use super::generation::{Host, Verdict};
use super::script::{self, KnownAccounts};
use super::stdlib;

/// What `check` found.
#[derive(Debug, Default)]
pub struct CheckReport {
    /// Scripts loaded.
    pub scripts: usize,
    /// Test files compiled.
    pub tests: usize,
    /// Stdlib modules compiled.
    pub stdlib_modules: usize,
    /// Shared modules (files in subfolders) loaded.
    pub shared_modules: usize,
    /// Every problem, in file order.
    pub problems: Vec<ScriptError>,
}

/// Loads every script in `dir` (declarations checked, and the accounts they name against
/// `accounts` when there is a config), loads every shared module of its subfolders, compiles
/// every `*.test.rhai` with its imports resolved, and compiles the stdlib. Blocks.
pub fn check_dir(
    services: Arc<Services>,
    accounts: Option<KnownAccounts>,
    dir: &Path,
) -> std::io::Result<CheckReport> {
    // Test files are compiled with the test kit's functions (`make_lead`, `sim::staff`…), which
    // scripts themselves do not get.
    let test_engine =
        Host::with_accounts(services.clone(), accounts.clone(), super::testkit::register);
    let host = Host::with_accounts(services, accounts, |_| {});
    let mut report = CheckReport {
        stdlib_modules: stdlib::MODULES.len(),
        ..CheckReport::default()
    };
    report.problems.extend(stdlib::problems(host.engine()));
    for (_, verdict) in host.load_dir(dir)? {
        report.scripts += 1;
        if let Verdict::Rejected(problems) = verdict {
            report.problems.extend(problems);
        }
    }
    for path in super::modules::module_files(dir) {
        report.shared_modules += 1;
        if let Err(problem) = super::modules::check_module(host.engine(), &path) {
            report.problems.push(problem);
        }
    }
    for path in test_files(dir)? {
        report.tests += 1;
        let source = std::fs::read_to_string(&path)?;
        if let Err(problems) =
            script::compile(test_engine.engine(), &path.display().to_string(), &source)
        {
            report.problems.extend(problems);
        }
    }
    Ok(report)
}

/// The `*.test.rhai` files in `dir`, sorted.
pub fn test_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_str().is_some_and(|s| s.ends_with(".test.rhai")))
        .collect();
    paths.sort();
    Ok(paths)
}

/// Writes `.d.rhai` definition files for editors into `dir`; returns the files written.
pub fn write_definitions(services: Arc<Services>, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    // With the test kit, so test files get completion too (its functions say "tests only").
    let host = Host::with_extension(services, super::testkit::register);
    std::fs::create_dir_all(dir)?;
    host.engine()
        .definitions()
        .with_headers(true)
        .include_standard_packages(false)
        .write_to_dir(dir)?;
    super::definitions::finish(dir)?;
    let mut written: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_str().is_some_and(|s| s.ends_with(".d.rhai")))
        .collect();
    written.sort();
    Ok(written)
}
