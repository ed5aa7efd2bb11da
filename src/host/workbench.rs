//! `leadrelay route` and `leadrelay test` without the printing: one vendor record through the
//! scripts' lead handlers ([`route`]), and every `*.test.rhai` test on fresh simulators and a
//! fresh host ([`run_tests`]). A front end (the CLI, a console page) calls these and renders the
//! result its own way.
//!
//! The host layer cannot name the simulators (`sim` sits beside the connectors), so a front end
//! hands them in as a [`Simulators`] trait object: it starts a fresh set whose clocks run from a
//! given clock, and each set ([`SimStand`]) mirrors a config onto itself and takes `[sim]` seeds.
//! The CLI implements it over `sim::Simulator`.
//!
//! Time comes from the caller's clock: a routed record runs on it, and each test's clock stands
//! still at its time until the test calls `set_now`.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use serde_json::Value;

use super::calendar::{Calendar, CalendarError};
use super::engine::Services;
use super::error::ScriptError;
use super::generation::{HandlerRun, Host, Verdict};
use super::script::KnownAccounts;
use super::testkit::{self, TestEnv, TestOutcome};
use crate::clock::Clock;
use crate::config::sim::SimSeed;
use crate::config::Config;
use crate::connectors::{lead_from_record, Accounts, HttpClient, Vendor};
use crate::lead::Lead;

/// One running set of simulators (see the module doc). Dropping it stops them.
pub trait SimStand: Send + Sync {
    /// `config` with every account pointed at these simulators: the config's account names
    /// kept, and one account for each vendor it has none of.
    fn mirror(&self, config: &Config) -> Config;
    /// Adds staff, Waiqin leads and Linkflow tags as `[sim]` does; returns the tags' ids. The
    /// error names the entry.
    fn seed(&self, seed: &SimSeed) -> Result<Vec<u64>, String>;
}

/// What [`Simulators::start`] returns.
pub type StandFuture<'a> =
    Pin<Box<dyn Future<Output = std::io::Result<Box<dyn SimStand>>> + Send + 'a>>;

/// Starts fresh simulators for a dry run or a test (see the module doc).
pub trait Simulators: Send + Sync {
    /// A fresh set, empty but for what it builds in, whose clocks run from `clock`.
    fn start(&self, clock: Clock) -> StandFuture<'_>;
}

/// Why a route or a test run could not run (a failing handler or test is not an error: it is
/// in the report).
#[derive(Debug, thiserror::Error)]
pub enum WorkbenchError {
    /// The scripts folder is not a folder.
    #[error("{} is not a folder of scripts", .0.display())]
    NotAFolder(PathBuf),
    /// A folder or file could not be read.
    #[error("cannot read {}: {reason}", path.display())]
    Read {
        /// What.
        path: PathBuf,
        /// Why (in the message, not a `source`, so a chain printer does not repeat it).
        reason: std::io::Error,
    },
    /// `test` found nothing to run.
    #[error("no *.test.rhai files in {}", .0.display())]
    NoTests(PathBuf),
    /// Scripts that do not load: nothing runs until they are fixed.
    #[error(
        "{broken} script(s) in {} do not load; fix them first (see `leadrelay check`)",
        dir.display()
    )]
    ScriptsDoNotLoad {
        /// The scripts folder.
        dir: PathBuf,
        /// How many scripts do not load.
        broken: usize,
        /// Their problems, each with its place.
        problems: Vec<ScriptError>,
    },
    /// A test file changed between listing its tests and running one.
    #[error("{} changed while testing: {}", file.display(), join(problems))]
    ChangedWhileTesting {
        /// The test file.
        file: PathBuf,
        /// What no longer loads.
        problems: Vec<ScriptError>,
    },
    /// `[scripts] holidays` does not load.
    #[error(transparent)]
    Calendar(#[from] CalendarError),
    /// The simulators did not start.
    #[error("cannot start the simulators: {0}")]
    SimStart(std::io::Error),
    /// `[sim]` of the config does not seed.
    #[error("{origin}: [sim] {message}")]
    SimSeed {
        /// The config's origin.
        origin: String,
        /// Which entry and why.
        message: String,
    },
    /// No account of the record's vendor to route it through.
    #[error("no {vendor} account is configured")]
    NoAccount {
        /// The record's vendor.
        vendor: Vendor,
    },
    /// Several accounts of the record's vendor and none named.
    #[error("several {vendor} accounts are configured ({}): name one", names.join(", "))]
    SeveralAccounts {
        /// The record's vendor.
        vendor: Vendor,
        /// Their names.
        names: Vec<String>,
    },
    /// The record is not a lead of its vendor.
    #[error("{0}")]
    Record(String),
    /// A blocking task (script loading, a test) panicked or was cancelled.
    #[error("a script task did not finish: {0}")]
    Task(tokio::task::JoinError),
}

impl From<tokio::task::JoinError> for WorkbenchError {
    fn from(e: tokio::task::JoinError) -> Self {
        WorkbenchError::Task(e)
    }
}

fn join(problems: &[ScriptError]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// The config `route` and `test` run with: the user's, or an empty one when there is none.
/// Without a config account names are not checked, and the simulators stand in for whatever
/// accounts the scripts name.
fn config_or_empty(config: Option<&Config>) -> (Config, Option<KnownAccounts>) {
    match config {
        Some(config) => (config.clone(), Some(KnownAccounts::from_config(config))),
        None => (
            Config {
                origin: "(no config)".to_string(),
                ..Config::default()
            },
            None,
        ),
    }
}

/// Starts simulators on `clock` (their clocks run from it) with `[sim]` of `config` seeded.
async fn seeded(
    simulators: &dyn Simulators,
    config: &Config,
    clock: Clock,
) -> Result<Box<dyn SimStand>, WorkbenchError> {
    let stand = simulators
        .start(clock.ticking())
        .await
        .map_err(WorkbenchError::SimStart)?;
    stand
        .seed(&config.sim)
        .map_err(|message| WorkbenchError::SimSeed {
            origin: config.origin.clone(),
            message,
        })?;
    Ok(stand)
}

/// A host over `config`'s accounts with the scripts of `dir` loaded. Handlers may name only the
/// accounts of `known`. Scripts read `clock` (a manual one in tests); the clients sign with it,
/// running.
async fn scripted_host(
    config: &Config,
    known: Option<KnownAccounts>,
    dir: &Path,
    extension: fn(&mut rhai::Engine),
    clock: Clock,
) -> Result<Arc<Host>, WorkbenchError> {
    if !dir.is_dir() {
        return Err(WorkbenchError::NotAFolder(dir.to_path_buf()));
    }
    let accounts = Accounts::from_config(config, HttpClient::new(), clock.ticking());
    let calendar = Calendar::load_or_shipped(config.scripts.holidays.as_deref())?;
    let services = Services {
        clock,
        calendar: Arc::new(calendar),
        ..Services::new(accounts)
    };
    let host = Host::with_accounts(Arc::new(services), known, extension);
    let (h, d) = (host.clone(), dir.to_path_buf());
    let loaded = tokio::task::spawn_blocking(move || h.load_dir(&d))
        .await?
        .map_err(|reason| WorkbenchError::Read {
            path: dir.to_path_buf(),
            reason,
        })?;
    let (mut broken, mut problems) = (0, Vec::new());
    for (_, verdict) in loaded {
        if let Verdict::Rejected(found) = verdict {
            broken += 1;
            problems.extend(found);
        }
    }
    if broken > 0 {
        return Err(WorkbenchError::ScriptsDoNotLoad {
            dir: dir.to_path_buf(),
            broken,
            problems,
        });
    }
    Ok(host)
}

/// One vendor record to route.
#[derive(Debug, Clone)]
pub struct RouteRequest {
    /// The record as the vendor sends it (a Tencent lead, a Feiyu clue, a Waiqin record).
    pub record: Value,
    /// The vendor it comes from.
    pub vendor: Vendor,
    /// The account it came through; `None`: the vendor's only account.
    pub account: Option<String>,
}

/// What routing one record did.
#[derive(Debug)]
pub struct RouteReport {
    /// Whether the calls went to the simulators.
    pub dry_run: bool,
    /// The account the record came through.
    pub account: String,
    /// The lead made from the record.
    pub lead: Lead,
    /// Every handler run, in order (empty: no handler wants the lead).
    pub runs: Vec<HandlerRun>,
    /// What the scripts printed, as (handler `path::function`, text), in order.
    pub printed: Vec<(String, String)>,
}

impl RouteReport {
    /// Whether a handler failed.
    pub fn failed(&self) -> bool {
        self.runs.iter().any(|run| run.result.outcome.is_err())
    }

    /// What `run` printed.
    pub fn printed_by<'a>(&'a self, run: &HandlerRun) -> impl Iterator<Item = &'a str> + 'a {
        let handler = format!("{}::{}", run.script, run.function);
        self.printed
            .iter()
            .filter(move |(h, _)| *h == handler)
            .map(|(_, text)| text.as_str())
    }
}

/// Runs the lead handlers of the scripts in `dir` for one vendor record, on `config`'s accounts
/// (`None`: no config), or on fresh simulators when `simulators` is given (a dry run: every
/// call goes to them, `[sim]` of the config seeded). Handlers read `clock`.
pub async fn route(
    config: Option<&Config>,
    dir: &Path,
    request: RouteRequest,
    simulators: Option<&dyn Simulators>,
    clock: Clock,
) -> Result<RouteReport, WorkbenchError> {
    let (user_config, known) = config_or_empty(config);
    let stand = match simulators {
        Some(simulators) => Some(seeded(simulators, &user_config, clock).await?),
        None => None,
    };
    let config = match &stand {
        Some(stand) => stand.mirror(&user_config),
        None => user_config,
    };
    let vendor = request.vendor;
    let account = match request.account {
        Some(name) => name,
        None => {
            let names: Vec<String> = config
                .accounts
                .values()
                .filter(|a| a.vendor == vendor)
                .map(|a| a.name.clone())
                .collect();
            match <[String; 1]>::try_from(names) {
                Ok([only]) => only,
                Err(names) if names.is_empty() => return Err(WorkbenchError::NoAccount { vendor }),
                Err(names) => return Err(WorkbenchError::SeveralAccounts { vendor, names }),
            }
        }
    };
    let lead =
        lead_from_record(vendor, &account, request.record).map_err(WorkbenchError::Record)?;
    let host = scripted_host(&config, known, dir, testkit::capture_prints, clock).await?;
    let runs = host.run_lead(&lead).await;
    let printed = testkit::take_printed();
    Ok(RouteReport {
        dry_run: stand.is_some(),
        account,
        lead,
        runs,
        printed,
    })
}

/// What happened in a test run, as it happens.
#[derive(Debug)]
pub enum TestEvent {
    /// A test file that does not load (it counts as one failure).
    FileFailed {
        /// The test file.
        file: PathBuf,
        /// Its problems.
        problems: Vec<ScriptError>,
    },
    /// One test ran (passed when its `error` is `None`).
    Ran(TestOutcome),
}

/// How a test run ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TestSummary {
    /// Tests that passed.
    pub passed: usize,
    /// Tests that failed, and test files that do not load.
    pub failed: usize,
}

/// Runs every test of the `*.test.rhai` files in `dir` against the scripts of `dir`, each test
/// on fresh simulators (`[sim]` of the config seeded) and a fresh host, so tests cannot see each
/// other's customers, leads or assignment turns. Each test's clock stands still at `clock`'s
/// time when it starts until the test calls `set_now`. `on_event` hears about each test as it
/// ends.
pub async fn run_tests(
    config: Option<&Config>,
    dir: &Path,
    simulators: &dyn Simulators,
    clock: Clock,
    mut on_event: impl FnMut(TestEvent) + Send,
) -> Result<TestSummary, WorkbenchError> {
    let (user_config, known) = config_or_empty(config);
    let files = super::check::test_files(dir).map_err(|reason| WorkbenchError::Read {
        path: dir.to_path_buf(),
        reason,
    })?;
    if files.is_empty() {
        return Err(WorkbenchError::NoTests(dir.to_path_buf()));
    }
    let fresh = || async {
        let clock = Clock::manual(clock.now());
        let stand = seeded(simulators, &user_config, clock).await?;
        let host = scripted_host(
            &stand.mirror(&user_config),
            known.clone(),
            dir,
            testkit::register,
            clock,
        )
        .await?;
        Ok::<_, WorkbenchError>((stand, host))
    };
    let mut summary = TestSummary::default();
    for file in files {
        let (_stand, host) = fresh().await?;
        let (h, f) = (host.clone(), file.clone());
        let names = match tokio::task::spawn_blocking(move || testkit::load_tests(&h, &f)).await? {
            Ok((_, names)) => names,
            Err(problems) => {
                summary.failed += 1;
                on_event(TestEvent::FileFailed { file, problems });
                continue;
            }
        };
        for name in names {
            let (stand, host) = fresh().await?;
            let stand: Arc<dyn SimStand> = Arc::from(stand);
            let seeder = stand.clone();
            let env = TestEnv {
                seeder: Some(Arc::new(move |seed| seeder.seed(seed))),
            };
            let f = file.clone();
            let outcome = tokio::task::spawn_blocking(move || {
                testkit::load_tests(&host, &f)
                    .map(|(version, _)| testkit::run_test_in(&host, &version, &name, env))
            })
            .await?
            .map_err(|problems| WorkbenchError::ChangedWhileTesting {
                file: file.clone(),
                problems,
            })?;
            if outcome.error.is_none() {
                summary.passed += 1;
            } else {
                summary.failed += 1;
            }
            on_event(TestEvent::Ran(outcome));
            drop(stand);
        }
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use chrono::Utc;

    use super::*;

    /// Simulators that record what they were asked: the clocks they started on and the seeds
    /// they took. A stand mirrors a config onto one Tencent account per Tencent account of the
    /// config (or `sim_tencent`), as the real ones keep the config's names.
    #[derive(Default)]
    struct FakeSimulators {
        clocks: Mutex<Vec<Clock>>,
        seeds: Arc<Mutex<Vec<SimSeed>>>,
    }

    struct FakeStand {
        seeds: Arc<Mutex<Vec<SimSeed>>>,
    }

    fn tencent_accounts(names: &[&str]) -> Config {
        let text: String = names
            .iter()
            .map(|n| {
                format!("[accounts.{n}]\nvendor = \"tencent\"\ntoken = \"t\"\nsecret = \"s\"\n")
            })
            .collect();
        Config::parse(&text, "test.toml", &|_| None).unwrap()
    }

    impl SimStand for FakeStand {
        fn mirror(&self, config: &Config) -> Config {
            let mut names: Vec<&str> = config.accounts.keys().map(String::as_str).collect();
            if names.is_empty() {
                names.push("sim_tencent");
            }
            Config {
                origin: format!("{} (mirrored)", config.origin),
                accounts: tencent_accounts(&names).accounts,
                ..config.clone()
            }
        }

        fn seed(&self, seed: &SimSeed) -> Result<Vec<u64>, String> {
            if seed.staff.iter().any(|s| s.name.is_empty()) {
                return Err("staff #1: name must not be empty".into());
            }
            self.seeds.lock().unwrap().push(seed.clone());
            Ok(vec![])
        }
    }

    impl Simulators for FakeSimulators {
        fn start(&self, clock: Clock) -> StandFuture<'_> {
            self.clocks.lock().unwrap().push(clock);
            let seeds = self.seeds.clone();
            Box::pin(async move { Ok(Box::new(FakeStand { seeds }) as Box<dyn SimStand>) })
        }
    }

    fn scripts(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        dir
    }

    fn tencent_record(id: u64) -> RouteRequest {
        RouteRequest {
            record: serde_json::json!({
                "leads_id": id,
                "leads_type": "LEADS_TYPE_FORM",
                "leads_name": "张三",
                "leads_tel": "13812345678",
            }),
            vendor: Vendor::Tencent,
            account: None,
        }
    }

    fn beijing(text: &str) -> chrono::DateTime<Utc> {
        crate::clock::parse_beijing(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    const ROUTES: &str = "on_lead(\"tencent\", \"greet\");\non_lead(\"tencent\", \"boom\");\n\
        on_lead(\"feiyu\", \"never\");\n\
        fn greet(lead) { print(`lead ${lead.id} at ${now_beijing().year}`); }\n\
        fn boom(lead) { throw \"no staff for \" + lead.id; }\n\
        fn never(lead) {}\n";

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dry_run_routes_on_fresh_seeded_simulators_and_reports_every_run() {
        let dir = scripts(&[("routes.rhai", ROUTES)]);
        let sims = FakeSimulators::default();
        let clock = Clock::manual(beijing("2021-03-04 05:06"));
        let report = route(None, dir.path(), tencent_record(42), Some(&sims), clock)
            .await
            .unwrap();
        assert!(report.dry_run);
        assert_eq!(report.account, "sim_tencent", "the stand's only account");
        assert_eq!(report.lead.id, "42");
        let ran: Vec<_> = report.runs.iter().map(|r| r.function.as_str()).collect();
        assert_eq!(ran, ["greet", "boom"], "only the Tencent handlers");
        assert!(report.failed());
        let error = report.runs[1].result.outcome.as_ref().unwrap_err();
        assert!(error.to_string().contains("no staff for 42"), "{error}");
        let printed: Vec<_> = report.printed_by(&report.runs[0]).collect();
        assert_eq!(
            printed,
            ["lead 42 at 2021"],
            "the handler read the given clock"
        );
        assert_eq!(report.printed_by(&report.runs[1]).count(), 0);
        // One set of simulators, on the given clock (running), seeded with `[sim]`.
        let clocks = sims.clocks.lock().unwrap();
        assert_eq!(clocks.as_slice(), [clock.ticking()]);
        assert_eq!(sims.seeds.lock().unwrap().len(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn without_simulators_the_record_goes_through_exactly_one_named_or_only_account() {
        let dir = scripts(&[(
            "routes.rhai",
            "on_lead(\"tencent\", \"r\");\nfn r(lead) {}\n",
        )]);
        let clock = Clock::system();
        let e = route(None, dir.path(), tencent_record(1), None, clock)
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                WorkbenchError::NoAccount {
                    vendor: Vendor::Tencent
                }
            ),
            "{e:?}"
        );
        let two = tencent_accounts(&["tx_a", "tx_b"]);
        let e = route(Some(&two), dir.path(), tencent_record(1), None, clock)
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "several tencent accounts are configured (tx_a, tx_b): name one"
        );
        let named = RouteRequest {
            account: Some("tx_b".into()),
            ..tencent_record(1)
        };
        let report = route(Some(&two), dir.path(), named, None, clock)
            .await
            .unwrap();
        assert!(!report.dry_run);
        assert_eq!(report.account, "tx_b");
        assert_eq!(report.lead.account, "tx_b");
        assert_eq!(report.runs.len(), 1);
        assert!(!report.failed());
        let one = tencent_accounts(&["tx_only"]);
        let no_id = RouteRequest {
            record: serde_json::json!({ "leads_name": "张三" }),
            ..tencent_record(1)
        };
        let e = route(Some(&one), dir.path(), no_id, None, clock)
            .await
            .unwrap_err();
        assert!(matches!(e, WorkbenchError::Record(_)), "{e:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn scripts_that_do_not_load_and_a_bad_sim_seed_stop_a_route_with_their_places() {
        let dir = scripts(&[
            ("good.rhai", "on_lead(\"tencent\", \"r\");\nfn r(lead) {}\n"),
            (
                "bad.rhai",
                "on_lead(\"tencent\", \"r\");\nfn r(lead) {\n  let x = ;\n}\n",
            ),
        ]);
        let sims = FakeSimulators::default();
        let e = route(
            None,
            dir.path(),
            tencent_record(1),
            Some(&sims),
            Clock::system(),
        )
        .await
        .unwrap_err();
        let WorkbenchError::ScriptsDoNotLoad {
            broken, problems, ..
        } = &e
        else {
            panic!("{e:?}")
        };
        assert_eq!(*broken, 1);
        assert!(
            problems[0].to_string().contains("bad.rhai:3:"),
            "{problems:?}"
        );
        assert!(e.to_string().starts_with("1 script(s) in "), "{e}");

        let missing = dir.path().join("nope");
        let e = route(
            None,
            &missing,
            tencent_record(1),
            Some(&sims),
            Clock::system(),
        )
        .await
        .unwrap_err();
        assert!(matches!(e, WorkbenchError::NotAFolder(_)), "{e:?}");

        let mut config = Config {
            origin: "leadrelay.toml".into(),
            ..Config::default()
        };
        config.sim.staff.push(Default::default());
        let e = route(
            Some(&config),
            dir.path(),
            tencent_record(1),
            Some(&sims),
            Clock::system(),
        )
        .await
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "leadrelay.toml: [sim] staff #1: name must not be empty"
        );
    }

    const TESTS: &str = "fn test_passes() { route(make_lead(\"tencent\", #{ leads_id: 7, leads_tel: \"13812345678\" })); }\n\
        fn test_starts_at_the_given_time() { assert_eq(now_beijing().year, 2021); }\n\
        fn test_seeds() { sim::staff([#{ id: 2001, name: \"陈静\" }]); }\n\
        fn test_fails() { print(\"about to fail\"); assert(false, \"nope\"); }\n";

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_test_runs_on_fresh_simulators_and_a_clock_standing_at_the_given_time() {
        let dir = scripts(&[
            (
                "routes.rhai",
                "on_lead(\"tencent\", \"r\");\nfn r(lead) {}\n",
            ),
            ("routes.test.rhai", TESTS),
            ("broken.test.rhai", "fn test_x() { let = ; }\n"),
        ]);
        let sims = FakeSimulators::default();
        let start = beijing("2021-03-04 05:06");
        let mut events = Vec::new();
        let summary = run_tests(None, dir.path(), &sims, Clock::manual(start), |e| {
            events.push(e)
        })
        .await
        .unwrap();
        assert_eq!(
            summary,
            TestSummary {
                passed: 3,
                failed: 2
            }
        );
        let seen: Vec<String> = events
            .iter()
            .map(|e| match e {
                TestEvent::FileFailed { file, problems } => format!(
                    "{} does not load: {}",
                    file.file_name().unwrap().to_string_lossy(),
                    problems.len()
                ),
                TestEvent::Ran(o) => format!("{} {}", o.name, o.error.is_none()),
            })
            .collect();
        assert_eq!(
            seen,
            [
                "broken.test.rhai does not load: 1",
                "routes.test.rhai::fails false",
                "routes.test.rhai::passes true",
                "routes.test.rhai::seeds true",
                "routes.test.rhai::starts_at_the_given_time true",
            ]
        );
        let TestEvent::Ran(failed) = &events[1] else {
            unreachable!()
        };
        assert_eq!(failed.printed, ["about to fail"]);
        // A set per test file (to list its tests) and one per test, each on a manual clock
        // standing at the given time, running for the simulators.
        let clocks = sims.clocks.lock().unwrap();
        assert_eq!(clocks.len(), 2 + 4);
        assert!(clocks.iter().all(|c| c.is_manual()));
        assert!(clocks.iter().all(|c| (c.now() - start).num_seconds() < 60));
        // Each set took `[sim]` (empty here), and `sim::staff` seeded its test's own set.
        let seeds = sims.seeds.lock().unwrap();
        assert_eq!(seeds.len(), 6 + 1);
        assert_eq!(seeds.iter().filter(|s| !s.staff.is_empty()).count(), 1);
    }

    #[tokio::test]
    async fn a_folder_without_tests_or_that_cannot_be_read_is_an_error() {
        let dir = scripts(&[("routes.rhai", "fn r(lead) {}\n")]);
        let e = run_tests(
            None,
            dir.path(),
            &FakeSimulators::default(),
            Clock::system(),
            |_| {},
        )
        .await
        .unwrap_err();
        assert!(matches!(e, WorkbenchError::NoTests(_)), "{e:?}");
        let missing = dir.path().join("nope");
        let e = run_tests(
            None,
            &missing,
            &FakeSimulators::default(),
            Clock::system(),
            |_| {},
        )
        .await
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "cannot read {}: No such file or directory (os error 2)",
                missing.display()
            )
        );
        assert!(std::error::Error::source(&e).is_none(), "said once");
    }

    /// A front end may run the workbench on a spawned task (the console does).
    #[allow(dead_code)]
    fn the_futures_are_send(config: &Config, dir: &Path, sims: &dyn Simulators) {
        fn send<T: Send>(_: T) {}
        send(route(
            Some(config),
            dir,
            tencent_record(1),
            Some(sims),
            Clock::system(),
        ));
        send(run_tests(Some(config), dir, sims, Clock::system(), |_| {}));
    }
}
