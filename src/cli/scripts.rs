//! `leadrelay check`, `definitions`, `route`, `test` and `preview`: working on the scripts.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context};
use serde_json::Value;

use super::{journal_reader, no_config, optional_config, user_config};
use crate::clock::Clock;
use crate::config::Config;
use crate::connectors::{Accounts, HttpClient, Vendor};
use crate::host::check::{check_dir, write_definitions};
use crate::host::engine::Services;
use crate::host::generation::{Host, Verdict};
use crate::host::script::KnownAccounts;
use crate::sim::Simulator;

/// The accounts `on_lead`/`on_follow` may name: the config's. `None` without a config: account
/// names are then not checked, and `test` and `route --dry-run` stand the simulators in for
/// whatever accounts the scripts name.
fn known_accounts(config: Option<&Config>) -> Option<KnownAccounts> {
    config.map(KnownAccounts::from_config)
}

pub(super) async fn check(
    config_path: Option<PathBuf>,
    dir: PathBuf,
    clock: Clock,
) -> anyhow::Result<ExitCode> {
    if !dir.is_dir() {
        bail!("{} is not a folder of scripts", dir.display());
    }
    let config = user_config(config_path)?;
    let accounts = config
        .as_ref()
        .map(|c| Accounts::from_config(c, HttpClient::new(), clock))
        .unwrap_or_default();
    let known = known_accounts(config.as_ref());
    let calendar = calendar_of(config.as_ref())?;
    let notes = calendar.coverage_notes(clock.now_beijing().date_naive());
    let services = Arc::new(Services {
        clock,
        calendar: Arc::new(calendar),
        ..Services::new(accounts)
    });
    let report = tokio::task::spawn_blocking(move || check_dir(services, known, &dir)).await??;
    for problem in &report.problems {
        println!("{problem}");
    }
    for note in notes {
        println!("{note}");
    }
    println!(
        "checked {} scripts, {} test files, {} shared modules and {} stdlib modules: {}",
        report.scripts,
        report.tests,
        report.shared_modules,
        report.stdlib_modules,
        match report.problems.len() {
            0 => "no problems".to_string(),
            1 => "1 problem".to_string(),
            n => format!("{n} problems"),
        }
    );
    Ok(if report.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

pub(super) async fn definitions(dir: PathBuf) -> anyhow::Result<ExitCode> {
    let services = Arc::new(Services::new(Accounts::default()));
    let target = dir.clone();
    let written = tokio::task::spawn_blocking(move || write_definitions(services, &target))
        .await?
        .with_context(|| format!("cannot write definitions into {}", dir.display()))?;
    for path in &written {
        println!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// The working-day calendar of `config` (`[scripts] holidays`), else the shipped one.
fn calendar_of(config: Option<&Config>) -> anyhow::Result<crate::host::calendar::Calendar> {
    Ok(crate::host::calendar::Calendar::load_or_shipped(
        config.and_then(|c| c.scripts.holidays.as_deref()),
    )?)
}

/// Starts the simulators for a dry run or a test on `clock` (their clocks run from it) with
/// `[sim]` of `config` seeded.
async fn seeded_simulator(config: &Config, clock: Clock) -> anyhow::Result<Simulator> {
    let simulator = Simulator::start_local().await?;
    simulator.shared().set_base_clock(clock.ticking());
    simulator
        .shared()
        .seed(&config.sim)
        .map_err(|e| anyhow::anyhow!("{}: [sim] {e}", config.origin))?;
    Ok(simulator)
}

/// A host over `config`'s accounts with the scripts of `dir` loaded; load problems are printed.
/// Handlers may name only the accounts of `known` (see [`known_accounts`]). Scripts read
/// `clock` (a manual one in tests); the clients sign with it, running.
async fn scripted_host(
    config: &Config,
    known: Option<KnownAccounts>,
    dir: &std::path::Path,
    extension: fn(&mut rhai::Engine),
    clock: Clock,
) -> anyhow::Result<Arc<Host>> {
    if !dir.is_dir() {
        bail!("{} is not a folder of scripts", dir.display());
    }
    let accounts = Accounts::from_config(config, HttpClient::new(), clock.ticking());
    let services = Services {
        clock,
        calendar: Arc::new(calendar_of(Some(config))?),
        ..Services::new(accounts)
    };
    let host = Host::with_accounts(Arc::new(services), known, extension);
    let (h, d) = (host.clone(), dir.to_path_buf());
    let loaded = tokio::task::spawn_blocking(move || h.load_dir(&d)).await??;
    let mut broken = 0;
    for (_, verdict) in loaded {
        if let Verdict::Rejected(problems) = verdict {
            broken += 1;
            for problem in problems {
                eprintln!("{problem}");
            }
        }
    }
    if broken > 0 {
        bail!(
            "{broken} script(s) in {} do not load; fix them first (see `leadrelay check`)",
            dir.display()
        );
    }
    Ok(host)
}

pub(super) async fn route(
    config_path: Option<PathBuf>,
    lead_file: &std::path::Path,
    vendor: Vendor,
    account: Option<String>,
    dry_run: bool,
    scripts: &std::path::Path,
    clock: Clock,
) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(lead_file)
        .with_context(|| format!("cannot read {}", lead_file.display()))?;
    let record: Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not valid JSON", lead_file.display()))?;
    let user_config = user_config(config_path)?;
    let known = known_accounts(user_config.as_ref());
    let user_config = user_config.unwrap_or_else(no_config);
    let simulator = if dry_run {
        Some(seeded_simulator(&user_config, clock).await?)
    } else {
        None
    };
    let config = match &simulator {
        Some(sim) => sim.mirror(&user_config),
        None => user_config,
    };
    let account = match account {
        Some(name) => name,
        None => {
            let names: Vec<_> = config
                .accounts
                .values()
                .filter(|a| a.vendor == vendor)
                .map(|a| a.name.clone())
                .collect();
            match names.as_slice() {
                [only] => only.clone(),
                [] => bail!(
                    "no {vendor} account is configured; name one with --account or use --dry-run"
                ),
                several => bail!(
                    "several {vendor} accounts are configured ({}); name one with --account",
                    several.join(", ")
                ),
            }
        }
    };
    let lead = crate::connectors::lead_from_record(vendor, &account, record)
        .map_err(anyhow::Error::msg)?;
    let host = scripted_host(
        &config,
        known,
        scripts,
        crate::host::testkit::capture_prints,
        clock,
    )
    .await?;
    if dry_run {
        println!("dry run: every call goes to the built-in simulators");
    }
    println!(
        "lead {} from {vendor} account {account} (kind {})",
        lead.id, lead.kind
    );
    let runs = host.run_lead(&lead).await;
    let printed = crate::host::testkit::take_printed();
    if runs.is_empty() {
        println!("no handler wants this lead (check the on_lead(...) declarations)");
    }
    let mut failed = false;
    for run in &runs {
        let verdict = match &run.result.outcome {
            Ok(_) => "ok".to_string(),
            Err(e) => {
                failed = true;
                format!("FAILED: {e}")
            }
        };
        println!(
            "\nrun {}::{} (version {}) {:?}: {verdict}",
            run.script, run.function, run.version, run.result.elapsed
        );
        let handler = format!("{}::{}", run.script, run.function);
        for (_, text) in printed.iter().filter(|(h, _)| *h == handler) {
            println!("  print: {text}");
        }
        for call in &run.result.calls {
            println!(
                "  call {}::{} account={} ({:?})",
                call.vendor, call.op, call.account, call.elapsed
            );
            println!("    payload:  {}", call.payload);
            match &call.outcome {
                Ok(response) => println!("    response: {response}"),
                Err(e) => println!("    error:    {e}"),
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

pub(super) async fn test(
    config_path: Option<PathBuf>,
    dir: PathBuf,
    clock: Clock,
) -> anyhow::Result<ExitCode> {
    let user_config = user_config(config_path)?;
    let known = known_accounts(user_config.as_ref());
    let user_config = user_config.unwrap_or_else(no_config);
    let files = crate::host::check::test_files(&dir)?;
    if files.is_empty() {
        bail!("no *.test.rhai files in {}", dir.display());
    }
    let (mut passed, mut failed) = (0, 0);
    for file in files {
        // Every test gets fresh simulators and a fresh host, so tests cannot see each other's
        // customers, leads or assignment turns.
        // The clock stands still at the test's start until the test calls `set_now`.
        let fresh = || async {
            let clock = Clock::manual(clock.now());
            let simulator = seeded_simulator(&user_config, clock).await?;
            let host = scripted_host(
                &simulator.mirror(&user_config),
                known.clone(),
                &dir,
                crate::host::testkit::register,
                clock,
            )
            .await?;
            anyhow::Ok((simulator, host))
        };
        let (_simulator, host) = fresh().await?;
        let (h, f) = (host.clone(), file.clone());
        let names =
            match tokio::task::spawn_blocking(move || crate::host::testkit::load_tests(&h, &f))
                .await?
            {
                Ok((_, names)) => names,
                Err(problems) => {
                    failed += 1;
                    for problem in problems {
                        println!("FAIL {problem}");
                    }
                    continue;
                }
            };
        for name in names {
            let (simulator, host) = fresh().await?;
            let shared = simulator.shared().clone();
            let env = crate::host::testkit::TestEnv {
                seeder: Some(Arc::new(move |seed| shared.seed(seed))),
            };
            let f = file.clone();
            let outcome = tokio::task::spawn_blocking(move || {
                crate::host::testkit::load_tests(&host, &f).map(|(version, _)| {
                    crate::host::testkit::run_test_in(&host, &version, &name, env)
                })
            })
            .await?
            .map_err(|problems| {
                anyhow::anyhow!("{} changed while testing: {problems:?}", file.display())
            })?;
            match outcome.error {
                None => {
                    passed += 1;
                    println!("ok   {} ({} ms)", outcome.name, outcome.elapsed.as_millis());
                }
                Some(e) => {
                    failed += 1;
                    println!(
                        "FAIL {} ({} ms)\n     {e}",
                        outcome.name,
                        outcome.elapsed.as_millis()
                    );
                }
            }
            for line in &outcome.printed {
                println!("     print: {line}");
            }
        }
    }
    println!("\n{passed} passed, {failed} failed");
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

pub(super) async fn preview(
    config_path: Option<PathBuf>,
    since: Option<String>,
    last: Option<usize>,
    scripts: PathBuf,
    clock: Clock,
) -> anyhow::Result<ExitCode> {
    use crate::preview::{ScriptSet, Window};
    let config = optional_config(config_path.clone())?;
    let (_, reader) = journal_reader(config_path)?;
    let now = clock.unix_millis();
    let window = match last {
        Some(n) => Window {
            since_ms: None,
            last: n,
        },
        None => Window {
            since_ms: Some(
                crate::inspect::parse_since(since.as_deref().unwrap_or("24h"), now)
                    .map_err(anyhow::Error::msg)?,
            ),
            last: Window::MAX,
        },
    };
    let edited = ScriptSet::read(&scripts)?;
    // The live scripts are replayed beside the edited ones when they are another folder.
    let live_dir = &config.daemon.scripts;
    let same = |a: &std::path::Path, b: &std::path::Path| {
        std::fs::canonicalize(a).ok() == std::fs::canonicalize(b).ok()
    };
    let live = if live_dir.is_dir() && !same(live_dir, &scripts) {
        Some(ScriptSet::read(live_dir)?)
    } else {
        None
    };
    let report = crate::preview::preview(&config, &reader, &edited, live.as_ref(), window).await?;
    print!("{}", report.render());
    Ok(if report.fails() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
