//! `leadrelay check`, `definitions`, `route`, `test` and `preview`: working on the scripts.
//! `route` and `test` run in [`crate::host::workbench`]; this file starts the built-in
//! simulators for it and prints what it reports.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context};
use serde_json::Value;

use super::{journal_reader, optional_config, user_config};
use crate::clock::Clock;
use crate::config::sim::SimSeed;
use crate::config::Config;
use crate::connectors::{Accounts, HttpClient, Vendor};
use crate::host::check::{check_dir, write_definitions};
use crate::host::engine::Services;
use crate::host::script::KnownAccounts;
use crate::host::workbench::{
    self, RouteRequest, SimStand, Simulators, StandFuture, TestEvent, WorkbenchError,
};
use crate::sim::Simulator;

/// The accounts `on_lead`/`on_follow` may name: the config's. `None` without a config: account
/// names are then not checked (as `route` and `test` do, see [`workbench`]).
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

/// The built-in simulators, for the workbench's dry runs and tests.
struct BuiltInSimulators;

impl SimStand for Simulator {
    fn mirror(&self, config: &Config) -> Config {
        Simulator::mirror(self, config)
    }

    fn seed(&self, seed: &SimSeed) -> Result<Vec<u64>, String> {
        self.shared().seed(seed)
    }
}

impl Simulators for BuiltInSimulators {
    fn start(&self, clock: Clock) -> StandFuture<'_> {
        Box::pin(async move {
            let simulator = Simulator::start_local().await?;
            simulator.shared().set_base_clock(clock);
            Ok(Box::new(simulator) as Box<dyn SimStand>)
        })
    }
}

/// The workbench's error, with the CLI's hints, and the problems of scripts that do not load
/// printed first.
fn cli_error(e: WorkbenchError) -> anyhow::Error {
    match e {
        WorkbenchError::ScriptsDoNotLoad { ref problems, .. } => {
            for problem in problems {
                eprintln!("{problem}");
            }
            e.into()
        }
        WorkbenchError::NoAccount { vendor } => anyhow::anyhow!(
            "no {vendor} account is configured; name one with --account or use --dry-run"
        ),
        WorkbenchError::SeveralAccounts { vendor, names } => anyhow::anyhow!(
            "several {vendor} accounts are configured ({}); name one with --account",
            names.join(", ")
        ),
        e => e.into(),
    }
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
    let config = user_config(config_path)?;
    let request = RouteRequest {
        record,
        vendor,
        account,
    };
    let simulators = dry_run.then_some(&BuiltInSimulators as &dyn Simulators);
    let report = workbench::route(config.as_ref(), scripts, request, simulators, clock)
        .await
        .map_err(cli_error)?;
    if report.dry_run {
        println!("dry run: every call goes to the built-in simulators");
    }
    println!(
        "lead {} from {vendor} account {} (kind {})",
        report.lead.id, report.account, report.lead.kind
    );
    if report.runs.is_empty() {
        println!("no handler wants this lead (check the on_lead(...) declarations)");
    }
    for run in &report.runs {
        let verdict = match &run.result.outcome {
            Ok(_) => "ok".to_string(),
            Err(e) => format!("FAILED: {e}"),
        };
        println!(
            "\nrun {}::{} (version {}) {:?}: {verdict}",
            run.script, run.function, run.version, run.result.elapsed
        );
        for text in report.printed_by(run) {
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
    Ok(if report.failed() {
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
    let config = user_config(config_path)?;
    let print = |event: TestEvent| match event {
        TestEvent::FileFailed { problems, .. } => {
            for problem in problems {
                println!("FAIL {problem}");
            }
        }
        TestEvent::Ran(outcome) => {
            match outcome.error {
                None => println!("ok   {} ({} ms)", outcome.name, outcome.elapsed.as_millis()),
                Some(e) => println!(
                    "FAIL {} ({} ms)\n     {e}",
                    outcome.name,
                    outcome.elapsed.as_millis()
                ),
            }
            for line in &outcome.printed {
                println!("     print: {line}");
            }
        }
    };
    let summary = workbench::run_tests(config.as_ref(), &dir, &BuiltInSimulators, clock, print)
        .await
        .map_err(cli_error)?;
    println!("\n{} passed, {} failed", summary.passed, summary.failed);
    Ok(if summary.failed == 0 {
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
    let report = crate::preview::preview(&config, &*reader, &edited, live.as_ref(), window).await?;
    print!("{}", report.render());
    Ok(if report.fails() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
