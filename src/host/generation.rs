//! Generations: the set of live script versions, swapped whole on every reload.
//!
//! A reload builds a new [`Generation`] from the previous one with one script replaced. If the
//! edit does not load (syntax error, bad cron, missing handler, load-time error) the previous
//! version of that script stays live and the problem is recorded and logged as
//! `path:line:col: message`. A run takes the current generation's `Arc` when it starts, so runs
//! in flight finish on the version they started with.
//!
//! A version that names, in `on_lead`/`on_follow`, an account the configuration does not have (or
//! has for another vendor) is refused like any load error, so `check`, `test` and the daemon
//! agree. The content hash of the last refused edit of each script is kept, so the same broken
//! content is neither compiled nor logged again until the file changes.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use rhai::{Dynamic, Engine};
use tokio::sync::Semaphore;

use super::engine::{new_engine, Services};
use super::error::ScriptError;
use super::run::{CallHooks, Declaration, Detached};
use super::script::{self, content_hash, KnownAccounts, RunResult, ScriptVersion};
use crate::lead::Lead;

/// The live script versions, by path.
#[derive(Debug, Default)]
pub struct Generation {
    /// Increases by one with every change.
    pub number: u64,
    /// Live versions by path.
    pub scripts: BTreeMap<String, Arc<ScriptVersion>>,
}

/// The outcome of the last reload of one script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The new version is live.
    Live,
    /// The file did not change.
    Unchanged,
    /// The edit did not load; the previous version (if any) stays live.
    Rejected(Vec<ScriptError>),
    /// The file is gone; its handlers stopped.
    Removed,
}

/// What `status` shows for one script.
#[derive(Debug, Clone)]
pub struct ScriptStatus {
    /// The live version's hash, if any version is live.
    pub live_version: Option<String>,
    /// The last reload's verdict.
    pub verdict: Verdict,
    /// When it was decided.
    pub at: SystemTime,
}

/// One handler run of a lead, record or tick.
#[derive(Debug)]
pub struct HandlerRun {
    /// The script's path.
    pub script: Arc<str>,
    /// The script version it ran on.
    pub version: String,
    /// The handler function.
    pub function: String,
    /// What happened.
    pub result: RunResult,
}

/// How much reload work a host has done: an idle host's numbers stay still.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReloadStats {
    /// Scripts read from disk to see whether they changed.
    pub reads: u64,
    /// Scripts compiled (each changed content once).
    pub compiles: u64,
}

/// What a host's scripts may name in `on_lead`/`on_follow` when [`Host::new`] is used: the
/// services' accounts, which come from the config the daemon runs with.
pub const DEFAULT_ACCOUNTS_ORIGIN: &str = "the config";

/// Hooks for a lead or record routed outside the daemon: its handlers share one `once` owner,
/// as they share one work item in the daemon.
fn detached() -> Arc<dyn CallHooks> {
    Arc::new(Detached::new())
}

/// The script host: engine, live generation, and the pool permits for runs.
pub struct Host {
    engine: Engine,
    services: Arc<Services>,
    accounts: Option<KnownAccounts>,
    current: RwLock<Arc<Generation>>,
    status: Mutex<BTreeMap<String, ScriptStatus>>,
    /// The content hash of the last refused edit of each script.
    rejected: Mutex<HashMap<String, String>>,
    reads: AtomicU64,
    compiles: AtomicU64,
    permits: Arc<Semaphore>,
    /// The live generation's number, for whoever wants to hear about reloads.
    generations: tokio::sync::watch::Sender<u64>,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("generation", &self.generation().number)
            .finish()
    }
}

/// Whether a path is a script the host loads (tests and definitions are not).
pub fn is_script(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.ends_with(".rhai")
        && !name.ends_with(".test.rhai")
        && !name.ends_with(".d.rhai")
        && !name.starts_with('.')
}

impl Host {
    /// A host with no scripts yet, whose scripts may name only the services' accounts in
    /// `on_lead`/`on_follow`.
    pub fn new(services: Arc<Services>) -> Arc<Host> {
        Self::with_extension(services, |_| {})
    }

    /// A host whose engine gets extra functions on top of the production ones (the test kit).
    /// Scripts may name only the services' accounts.
    pub fn with_extension(services: Arc<Services>, extend: impl FnOnce(&mut Engine)) -> Arc<Host> {
        let accounts = KnownAccounts::of(DEFAULT_ACCOUNTS_ORIGIN, &services.accounts);
        Self::with_accounts(services, Some(accounts), extend)
    }

    /// A host whose scripts may name only `accounts` in `on_lead`/`on_follow`, or any account
    /// when `None` (no config: `test` and `route --dry-run` stand simulators in for whatever
    /// accounts the scripts name).
    pub fn with_accounts(
        services: Arc<Services>,
        accounts: Option<KnownAccounts>,
        extend: impl FnOnce(&mut Engine),
    ) -> Arc<Host> {
        let mut engine = new_engine(services.clone());
        extend(&mut engine);
        let permits = Arc::new(Semaphore::new(services.limits.concurrent_runs.max(1)));
        Arc::new(Host {
            engine,
            services,
            accounts,
            current: RwLock::new(Arc::new(Generation::default())),
            status: Mutex::new(BTreeMap::new()),
            rejected: Mutex::new(HashMap::new()),
            reads: AtomicU64::new(0),
            compiles: AtomicU64::new(0),
            permits,
            generations: tokio::sync::watch::Sender::new(0),
        })
    }

    /// Whether `on_lead`/`on_follow` may name only known accounts (there is a config); without
    /// one the test kit accepts any account name.
    pub fn checks_accounts(&self) -> bool {
        self.accounts.is_some()
    }

    /// Tells about every change of the live generation (a script became live or was removed):
    /// the receiver sees the new generation's number. The daemon's `preview_on_reload` uses it.
    pub fn subscribe_generations(&self) -> tokio::sync::watch::Receiver<u64> {
        self.generations.subscribe()
    }

    /// Loads `source` as the script `key` (its path, as if read from there) without reading the
    /// file, and makes it live if it loads. `preview` loads snapshots of a folder this way.
    /// Blocks.
    pub fn load_text(&self, key: &str, source: &str) -> Verdict {
        self.load_source(key, source, false)
    }

    /// How much reload work this host has done.
    pub fn reload_stats(&self) -> ReloadStats {
        ReloadStats {
            reads: self.reads.load(Ordering::Relaxed),
            compiles: self.compiles.load(Ordering::Relaxed),
        }
    }

    /// The engine (shared by every run).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The services scripts use.
    pub fn services(&self) -> &Arc<Services> {
        &self.services
    }

    /// The live generation.
    pub fn generation(&self) -> Arc<Generation> {
        self.current.read().expect("generation lock").clone()
    }

    /// Every script's status, by path.
    pub fn status(&self) -> BTreeMap<String, ScriptStatus> {
        self.status.lock().expect("status lock").clone()
    }

    /// Loads every script in `dir` (sorted by name). Blocks: compile and top-level runs happen here.
    pub fn load_dir(&self, dir: &Path) -> std::io::Result<Vec<(String, Verdict)>> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| is_script(p))
            .collect();
        paths.sort();
        Ok(paths
            .iter()
            .map(|p| (p.display().to_string(), self.reload(p)))
            .collect())
    }

    /// Re-reads one script and makes it live if it loads; otherwise keeps the previous version.
    /// Content that was refused before is not compiled (or logged) again. Blocks.
    pub fn reload(&self, path: &Path) -> Verdict {
        self.reload_with(path, false)
    }

    /// A shared module (a file in a subfolder of the scripts folder) was saved or removed.
    /// If it loads (or is gone), every script whose live version imports it is loaded again,
    /// and so is every script whose last edit was refused (it may have failed on the module);
    /// each keeps its last good version if it no longer loads. If the module does not load,
    /// nothing is reloaded: every importer stays on its last good version, and the module's
    /// error is logged and shown by `status`. Blocks.
    pub fn reload_module(&self, file: &Path) -> Verdict {
        let key = file.display().to_string();
        self.reads.fetch_add(1, Ordering::Relaxed);
        if file.exists() {
            self.compiles.fetch_add(1, Ordering::Relaxed);
            if let Err(error) = super::modules::check_module(&self.engine, file) {
                tracing::error!(
                    "{error} (every script importing this module stays on its last good version)"
                );
                let verdict = Verdict::Rejected(vec![error]);
                self.status.lock().expect("status lock").insert(
                    key,
                    ScriptStatus {
                        live_version: None,
                        verdict: verdict.clone(),
                        at: self.services.clock.now().into(),
                    },
                );
                return verdict;
            }
        }
        self.status.lock().expect("status lock").remove(&key);
        let mut importers: Vec<String> = self
            .generation()
            .scripts
            .iter()
            .filter(|(_, version)| version.imports_file(file))
            .map(|(path, _)| path.clone())
            .collect();
        importers.extend(self.rejected.lock().expect("rejected lock").keys().cloned());
        importers.sort();
        importers.dedup();
        tracing::info!(module = %key, importers = importers.len(), "shared module changed; reloading the scripts that import it");
        for importer in importers {
            self.reload_with(Path::new(&importer), true);
        }
        Verdict::Live
    }

    /// [`Host::reload`]; `force` compiles even an unchanged or refused content again (its
    /// modules may have changed).
    fn reload_with(&self, path: &Path, force: bool) -> Verdict {
        let key = path.display().to_string();
        self.reads.fetch_add(1, Ordering::Relaxed);
        let verdict = match std::fs::read_to_string(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.rejected.lock().expect("rejected lock").remove(&key);
                self.replace(&key, None);
                tracing::info!(script = %key, "script removed; its handlers stopped");
                Verdict::Removed
            }
            Err(e) => {
                let error = ScriptError::new(&key, Default::default(), format!("cannot read: {e}"));
                tracing::error!("{error}");
                Verdict::Rejected(vec![error])
            }
            Ok(source) => self.load_source(&key, &source, force),
        };
        crate::metrics::script_reloaded(
            &key,
            match verdict {
                Verdict::Live => "live",
                Verdict::Unchanged => "unchanged",
                Verdict::Rejected(_) => "rejected",
                Verdict::Removed => "removed",
            },
        );
        if verdict != Verdict::Unchanged {
            let live_version = self.generation().scripts.get(&key).map(|v| v.hash.clone());
            self.status.lock().expect("status lock").insert(
                key,
                ScriptStatus {
                    live_version,
                    verdict: verdict.clone(),
                    at: self.services.clock.now().into(),
                },
            );
        }
        verdict
    }

    fn load_source(&self, key: &str, source: &str, force: bool) -> Verdict {
        let hash = content_hash(source);
        let live = self
            .generation()
            .scripts
            .get(key)
            .map(|v| v.source_hash.clone());
        if force {
            // A module changed: compile whatever the script's own content is.
        } else if live.as_deref() == Some(hash.as_str()) {
            // Back to the live version after a refused edit: the refusal no longer applies.
            return if self
                .rejected
                .lock()
                .expect("rejected lock")
                .remove(key)
                .is_some()
            {
                Verdict::Live
            } else {
                Verdict::Unchanged
            };
        }
        if !force && self.rejected.lock().expect("rejected lock").get(key) == Some(&hash) {
            return Verdict::Unchanged;
        }
        self.compiles.fetch_add(1, Ordering::Relaxed);
        let loaded =
            script::load(&self.engine, &self.services.limits, key, source).and_then(|version| {
                let problems = self
                    .accounts
                    .as_ref()
                    .map(|known| script::check_accounts(&version, known))
                    .unwrap_or_default();
                if problems.is_empty() {
                    Ok(version)
                } else {
                    Err(problems)
                }
            });
        match loaded {
            Ok(version) => {
                tracing::info!(script = %key, version = %version.hash, "script live");
                self.rejected.lock().expect("rejected lock").remove(key);
                self.replace(key, Some(Arc::new(version)));
                Verdict::Live
            }
            Err(errors) => {
                for error in &errors {
                    tracing::error!("{error} (the previous version stays live)");
                }
                self.rejected
                    .lock()
                    .expect("rejected lock")
                    .insert(key.to_string(), hash);
                Verdict::Rejected(errors)
            }
        }
    }

    fn replace(&self, key: &str, version: Option<Arc<ScriptVersion>>) {
        let mut current = self.current.write().expect("generation lock");
        let mut scripts = current.scripts.clone();
        match version {
            Some(v) => scripts.insert(key.to_string(), v),
            None => scripts.remove(key),
        };
        *current = Arc::new(Generation {
            number: current.number + 1,
            scripts,
        });
        self.generations.send_replace(current.number);
    }

    /// Every `(script version, handler)` of the live generation that wants `lead`, in script
    /// order.
    pub fn lead_handlers(&self, lead: &Lead) -> Vec<(Arc<ScriptVersion>, String)> {
        let generation = self.generation();
        let mut handlers = Vec::new();
        for version in generation.scripts.values() {
            for declaration in &version.declarations {
                if let Declaration::Lead {
                    filter, function, ..
                } = declaration
                {
                    if filter.matches(lead) {
                        handlers.push((version.clone(), function.clone()));
                    }
                }
            }
        }
        handlers
    }

    /// The `on_follow` handlers that want a follow record pushed to `account`, in script order.
    pub fn follow_handlers(&self, account: &str) -> Vec<(Arc<ScriptVersion>, String)> {
        let generation = self.generation();
        let mut handlers = Vec::new();
        for version in generation.scripts.values() {
            for declaration in &version.declarations {
                if let Declaration::Follow {
                    account: wanted,
                    function,
                    ..
                } = declaration
                {
                    if wanted.as_deref().is_none_or(|a| a == account) {
                        handlers.push((version.clone(), function.clone()));
                    }
                }
            }
        }
        handlers
    }

    /// Runs every `on_follow` handler that wants a follow record pushed to `account`.
    pub async fn run_follow_with(
        self: &Arc<Self>,
        account: &str,
        record: &serde_json::Value,
        hooks: Option<Arc<dyn CallHooks>>,
    ) -> Vec<HandlerRun> {
        let hooks = Some(hooks.unwrap_or_else(detached));
        let generation = self.generation();
        let mut runs = Vec::new();
        for version in generation.scripts.values() {
            for declaration in &version.declarations {
                let Declaration::Follow {
                    account: wanted,
                    function,
                    ..
                } = declaration
                else {
                    continue;
                };
                if wanted.as_deref().is_none_or(|a| a == account) {
                    let args = vec![super::convert::json_to_dynamic(record)];
                    runs.push(
                        self.run_with(version.clone(), function, args, hooks.clone())
                            .await,
                    );
                }
            }
        }
        runs
    }

    /// Runs every lead handler that wants `lead`, in script order, on the blocking pool.
    pub async fn run_lead(self: &Arc<Self>, lead: &Lead) -> Vec<HandlerRun> {
        self.run_lead_with(lead, None).await
    }

    /// [`Host::run_lead`] with call hooks (the daemon's replay and circuit breakers).
    pub async fn run_lead_with(
        self: &Arc<Self>,
        lead: &Lead,
        hooks: Option<Arc<dyn CallHooks>>,
    ) -> Vec<HandlerRun> {
        let hooks = Some(hooks.unwrap_or_else(detached));
        let mut runs = Vec::new();
        for (version, function) in self.lead_handlers(lead) {
            let args = vec![Dynamic::from(lead.clone())];
            runs.push(self.run_with(version, &function, args, hooks.clone()).await);
        }
        runs
    }

    /// Runs `function(args…)` of one script version on the blocking pool, under the permits.
    pub async fn run(
        self: &Arc<Self>,
        version: Arc<ScriptVersion>,
        function: &str,
        args: Vec<Dynamic>,
    ) -> HandlerRun {
        self.run_with(version, function, args, None).await
    }

    /// [`Host::run`] with call hooks.
    pub async fn run_with(
        self: &Arc<Self>,
        version: Arc<ScriptVersion>,
        function: &str,
        args: Vec<Dynamic>,
        hooks: Option<Arc<dyn CallHooks>>,
    ) -> HandlerRun {
        let _permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .expect("the run semaphore is never closed");
        let host = self.clone();
        let function_name = function.to_string();
        let v = version.clone();
        let result = tokio::task::spawn_blocking(move || {
            script::run_handler_with(
                &host.engine,
                &host.services,
                &v,
                &function_name,
                args,
                hooks,
            )
        })
        .await
        .unwrap_or_else(|e| RunResult {
            outcome: Err(ScriptError::new(
                &version.path,
                Default::default(),
                format!("the run panicked: {e}"),
            )),
            calls: Vec::new(),
            skipped: None,
            run_id: super::run::next_run_id(),
            started_at: self.services.clock.now().into(),
            elapsed: Default::default(),
        });
        HandlerRun {
            script: version.path.clone(),
            version: version.hash.clone(),
            function: function.to_string(),
            result,
        }
    }
}

/// Why nothing ran for a lead or follow record: which handlers the live scripts declare, so
/// `leads show` can say what a typo in a filter did not match.
impl Host {
    /// `no handler matched: handlers exist for tencent/tx_main (scripts/a.rhai), feiyu (…)`.
    pub fn unrouted_reason(&self, follow: bool) -> String {
        let generation = self.generation();
        let mut wanted = Vec::new();
        for version in generation.scripts.values() {
            for declaration in &version.declarations {
                let filter = match (declaration, follow) {
                    (Declaration::Lead { filter, .. }, false) => {
                        match (&filter.vendor, &filter.account) {
                            (None, _) => "every lead".to_string(),
                            (Some(v), None) => v.to_string(),
                            (Some(v), Some(a)) => format!("{v}/{a}"),
                        }
                    }
                    (Declaration::Follow { account, .. }, true) => account
                        .clone()
                        .unwrap_or_else(|| "every account".to_string()),
                    _ => continue,
                };
                wanted.push(format!("{filter} ({})", version.path));
            }
        }
        let what = if follow { "on_follow" } else { "on_lead" };
        if wanted.is_empty() {
            format!("no handler matched: no live script declares {what}")
        } else {
            format!(
                "no handler matched: {what} handlers exist for {}",
                wanted.join(", ")
            )
        }
    }
}
