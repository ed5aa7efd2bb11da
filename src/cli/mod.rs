//! The `leadrelay` subcommands. Owns argument parsing, printing and exit codes; the work itself
//! is done by the library modules.
//!
//! This file holds the clap definitions, the dispatch and what several groups share (finding the
//! config, opening the journal); each group of subcommands has its own file:
//!
//! - `leads` — `leads list|show|reroute|forget`, `follows list|show`;
//! - `dead` — `dead list|retry`, `quarantine list|show`;
//! - `journal` — `journal backup`;
//! - `daemon` — `run`, `status`, `job run`;
//! - `scripts` — `check`, `definitions`, `route`, `test`, `preview`;
//! - `tools` — `sim`, `call`, `bench`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::clock::Clock;
use crate::config::Config;
use crate::connectors::Vendor;
use crate::store::{JournalTarget, Queries};

mod daemon;
mod dead;
mod journal;
mod leads;
mod scripts;
mod tools;

pub use daemon::JobCommand;
use daemon::{job, run_daemon, status};
use dead::{dead, quarantine};
pub use dead::{DeadCommand, QuarantineCommand};
use journal::journal;
pub use journal::JournalCommand;
use leads::{follows, leads};
pub use leads::{FollowsCommand, LeadsCommand};
use scripts::{check, definitions, preview, route, test};
pub use tools::op_list_help;
use tools::{bench, call, sim};

/// leadrelay: route sales leads between ad platforms and CRMs with Rhai scripts.
#[derive(Debug, Parser)]
#[command(name = "leadrelay", version, about)]
pub struct Cli {
    /// Config file (default: $LEADRELAY_CONFIG, else ./leadrelay.toml).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Leads in the journal: `leads list`, `leads show ID`.
    Leads {
        /// What to do.
        #[command(subcommand)]
        command: LeadsCommand,
    },
    /// Dead letters: `dead list`, `dead retry ID|--all` (after fixing a script).
    Dead {
        /// What to do.
        #[command(subcommand)]
        command: DeadCommand,
    },
    /// Inbound payloads that passed their signature check but could not be parsed.
    Quarantine {
        /// What to do.
        #[command(subcommand)]
        command: QuarantineCommand,
    },
    /// Waiqin follow records in the journal: `follows list`, `follows show ID`.
    Follows {
        /// What to do.
        #[command(subcommand)]
        command: FollowsCommand,
    },
    /// Scheduled jobs: `job run NAME` runs one now through the daemon's journal.
    Job {
        /// What to do.
        #[command(subcommand)]
        command: JobCommand,
    },
    /// Sources, scripts, backlog, dead letters and circuit breakers at a glance.
    Status,
    /// The journal file itself: `journal backup FILE` (works beside a running daemon).
    Journal {
        /// What to do.
        #[command(subcommand)]
        command: JournalCommand,
    },
    /// Run the daemon: webhooks, scheduled pulls, cron jobs and the dispatcher, with the journal
    /// and hot-reloaded scripts, until SIGINT or SIGTERM.
    Run,
    /// Route a bounded stream of synthetic leads through the scripts against the built-in
    /// simulators: no config, no credentials.
    Demo {
        /// The scripts folder.
        #[arg(long, default_value = "scripts")]
        scripts: PathBuf,
        /// Stop after this many leads.
        #[arg(long, default_value_t = 200)]
        leads: usize,
        /// Stop after this many seconds.
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// Keep the daemon and its console up after the summary, until Ctrl-C.
        #[arg(long)]
        keep: bool,
    },
    /// Scaffold a project in DIR: leadrelay.toml (an account per vendor, on the simulators),
    /// sources, daemon defaults, and scripts/ with an example and its test.
    Init {
        /// The project folder (created if missing).
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Overwrite files that already exist.
        #[arg(long)]
        force: bool,
    },
    /// Run the vendor simulators until Ctrl-C; prints each vendor's base URL and a ready config.
    Sim {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:9000")]
        listen: SocketAddr,
        /// Answer this share of vendor requests (0.0–1.0) with --fault-status.
        #[arg(long, default_value_t = 0.0)]
        error_rate: f64,
        /// HTTP status of injected faults.
        #[arg(long, default_value_t = 503)]
        fault_status: u16,
        /// Delay every vendor answer by this many milliseconds.
        #[arg(long, default_value_t = 0)]
        latency_ms: u64,
        /// Write the ready-to-use config to this file as well as printing it.
        #[arg(long, value_name = "FILE")]
        write_config: Option<PathBuf>,
        /// Synthetic leads to generate at start in each lead source (Tencent, Feiyu, Waiqin).
        #[arg(long, default_value_t = 20)]
        leads: u32,
    },
    /// Compile and validate every script, test file and stdlib module; print each problem as
    /// path:line:col: message.
    Check {
        /// The scripts folder.
        #[arg(default_value = "scripts")]
        dir: PathBuf,
    },
    /// Write .d.rhai definition files (vendor functions, lead getters, constants) for editors.
    Definitions {
        /// Where to write them.
        #[arg(default_value = "scripts")]
        dir: PathBuf,
    },
    /// Run the lead handlers of the scripts for one vendor record and print every call made.
    Route {
        /// The record as the vendor sends it (a Tencent lead, a Feiyu clue, a Waiqin record), JSON.
        #[arg(long, value_name = "FILE")]
        lead: PathBuf,
        /// The vendor the record comes from.
        #[arg(long)]
        vendor: Vendor,
        /// The account it came through (default: the vendor's only account).
        #[arg(long)]
        account: Option<String>,
        /// Send the calls to the built-in simulators, never to real accounts.
        #[arg(long)]
        dry_run: bool,
        /// The scripts folder.
        #[arg(long, default_value = "scripts")]
        scripts: PathBuf,
    },
    /// Benchmark end to end against the built-in simulators, on 127.0.0.1 only: throughput,
    /// latency, daemon CPU (per lead, idle, per shed push) and memory, start-up and hot reload
    /// (a few minutes; build with --release). Exits non-zero only if an acknowledged lead was
    /// lost.
    Bench {
        /// Tiny counts and one run each: seconds in all, numbers not meaningful.
        #[arg(long)]
        quick: bool,
        /// Open-loop rates in leads per second, comma-separated; a run sends at least 450 leads
        /// [default: 30,100,500,1000,2000].
        #[arg(long, value_delimiter = ',')]
        rates: Vec<u32>,
        /// Seconds each run sends [default: 5].
        #[arg(long)]
        seconds: Option<f64>,
        /// Runs per scenario; the median is reported [default: 3].
        #[arg(long)]
        repeat: Option<usize>,
        /// Instead: journal N synthetic leads over simulated days, prune them at the default
        /// retention, and report bytes per lead and the writer's latency while pruning
        /// [default N: 1000000].
        #[arg(long, value_name = "N", num_args = 0..=1, default_missing_value = "1000000")]
        growth: Option<u64>,
        /// The daemons journal into this PostgreSQL database (postgres://…) instead of a fresh
        /// SQLite file per run; the report adds the CPU of this machine's `postgres` processes.
        #[arg(long, value_name = "URL")]
        journal: Option<String>,
    },
    /// Replay the journal's recent leads through edited scripts against the built-in
    /// simulators and show what would change: calls added, removed or with another payload
    /// (field by field), leads that would become unrouted or fail. Dry run: nothing is sent,
    /// nothing is written; works beside a running daemon. Exits non-zero if a lead would fail.
    Preview {
        /// Leads received since: a date, a Beijing time or how long ago (30m, 24h, 7d)
        /// [default: 24h].
        #[arg(long, conflicts_with = "last")]
        since: Option<String>,
        /// The newest N leads instead.
        #[arg(long, value_name = "N")]
        last: Option<usize>,
        /// The edited scripts.
        #[arg(long, default_value = "scripts")]
        scripts: PathBuf,
    },
    /// Run the *.test.rhai files against the built-in simulators.
    Test {
        /// The scripts folder (scripts and their tests).
        #[arg(default_value = "scripts")]
        dir: PathBuf,
    },
    /// Make one signed vendor call and print the decoded answer as JSON.
    #[command(after_long_help = op_list_help())]
    Call {
        /// The account (a name under `[accounts]` in the config).
        account: String,
        /// The op, e.g. list_leads or import_customer (see the list below).
        op: String,
        /// The payload as JSON (default `{}`).
        #[arg(long, conflicts_with = "json_file")]
        json: Option<String>,
        /// Read the payload from a file (`-` for standard input).
        #[arg(long, value_name = "FILE")]
        json_file: Option<PathBuf>,
    },
}

impl Command {
    /// The log level when `LEADRELAY_LOG` is not set: long-running commands report progress,
    /// one-shot commands print their own results and log only problems.
    pub fn default_log_level(&self) -> &'static str {
        match self {
            Command::Sim { .. } | Command::Run => "info",
            _ => "warn",
        }
    }
}

/// Runs a parsed command line and returns the process exit code. `clock` is the one source of
/// "now" for every command (`Clock::system()` in the binary; a manual clock in tests): the
/// `--since` windows, the erasure record, the queued job's slot, the status report, the clients'
/// signatures and the daemon all read it. Durations measured for reporting stay on `Instant`.
pub fn run(cli: Cli, clock: Clock) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli, clock)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(cli: Cli, clock: Clock) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Sim {
            listen,
            error_rate,
            fault_status,
            latency_ms,
            write_config,
            leads,
        } => {
            sim(
                listen,
                error_rate,
                fault_status,
                latency_ms,
                write_config,
                leads,
            )
            .await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Call {
            account,
            op,
            json,
            json_file,
        } => call(cli.config, &account, &op, json, json_file, clock).await,
        Command::Check { dir } => check(cli.config, dir, clock).await,
        Command::Init { dir, force } => Ok(crate::init::run(&dir, force)?),
        Command::Run => run_daemon(cli.config, clock).await,
        Command::Leads { command } => leads(cli.config, command, clock),
        Command::Dead { command } => dead(cli.config, command, clock),
        Command::Quarantine { command } => quarantine(cli.config, command),
        Command::Status => status(cli.config, clock),
        Command::Follows { command } => follows(cli.config, command, clock),
        Command::Job { command } => job(cli.config, command, clock).await,
        Command::Journal { command } => journal(cli.config, command).await,
        Command::Demo {
            scripts,
            leads,
            seconds,
            keep,
        } => {
            let dead = crate::demo::run(crate::demo::DemoOptions {
                scripts,
                leads,
                duration: std::time::Duration::from_secs(seconds),
                keep,
            })
            .await?;
            Ok(if dead == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Route {
            lead,
            vendor,
            account,
            dry_run,
            scripts,
        } => route(cli.config, &lead, vendor, account, dry_run, &scripts, clock).await,
        Command::Test { dir } => test(cli.config, dir, clock).await,
        Command::Preview {
            since,
            last,
            scripts,
        } => preview(cli.config, since, last, scripts, clock).await,
        Command::Bench {
            quick,
            rates,
            seconds,
            repeat,
            growth,
            journal,
        } => match growth {
            Some(n) => {
                println!("{}", crate::bench::growth(n).await?);
                Ok(ExitCode::SUCCESS)
            }
            None => bench(quick, rates, seconds, repeat, journal).await,
        },
        Command::Definitions { dir } => definitions(dir).await,
    }
}

/// The user's config: `--config`, else `$LEADRELAY_CONFIG`, else `./leadrelay.toml` when that
/// exists; `None` when there is none.
pub(super) fn user_config(config_path: Option<PathBuf>) -> anyhow::Result<Option<Config>> {
    let path = Config::locate(config_path.as_deref());
    if config_path.is_none() && !path.exists() {
        return Ok(None);
    }
    Ok(Some(Config::load(&path)?))
}

/// The user's config when there is one, else an empty one.
pub(super) fn optional_config(config_path: Option<PathBuf>) -> anyhow::Result<Config> {
    Ok(user_config(config_path)?.unwrap_or_else(no_config))
}

/// The empty config that stands in when there is none.
pub(super) fn no_config() -> Config {
    Config {
        origin: "(no config)".to_string(),
        ..Config::default()
    }
}

/// The journal the config names (or the default one), opened read-only.
pub(super) fn journal_reader(
    config_path: Option<PathBuf>,
) -> anyhow::Result<(JournalTarget, Box<dyn Queries>)> {
    let config = optional_config(config_path)?;
    let target = config.daemon.journal.clone();
    let reader = crate::store::open_reader(&target).with_context(|| {
        format!("cannot open the journal {target} (set [daemon] journal in the config)")
    })?;
    Ok((target, reader))
}

pub(super) fn print_or_missing(
    found: Option<String>,
    what: String,
    journal: &JournalTarget,
) -> ExitCode {
    match found {
        Some(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        None => {
            eprintln!("error: no {what} in {journal}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::store::{Journal, JournalOptions, JournalReader, RetentionPolicy};

    /// A config in `dir` whose journal is `dir/journal.db` (created), and its path.
    fn config_with_journal(dir: &std::path::Path) -> (PathBuf, PathBuf) {
        let journal = dir.join("journal.db");
        drop(Journal::open(&journal, JournalOptions::default()).unwrap());
        let config = dir.join("leadrelay.toml");
        std::fs::write(
            &config,
            format!("[daemon]\njournal = {:?}\n", journal.display().to_string()),
        )
        .unwrap();
        (config, journal)
    }

    #[tokio::test]
    async fn a_command_reads_now_from_the_clock_it_is_given() {
        let dir = tempfile::tempdir().unwrap();
        let (config, journal) = config_with_journal(dir.path());
        let then = crate::clock::parse_beijing("2021-03-04 05:06:07")
            .unwrap()
            .with_timezone(&Utc);
        let cli = Cli::try_parse_from([
            "leadrelay",
            "--config",
            config.to_str().unwrap(),
            "leads",
            "forget",
            "--phone",
            "13811112222",
            "--by",
            "clock test",
        ])
        .unwrap();
        let code = dispatch(cli, Clock::manual(then)).await.unwrap();
        assert_eq!(code, ExitCode::SUCCESS);
        // The erasure is recorded at the injected time, not at the wall clock's.
        let status = JournalReader::open(&journal)
            .unwrap()
            .retention_status(RetentionPolicy::default(), then.timestamp_millis())
            .unwrap();
        assert_eq!(status.erasures, 1);
        assert_eq!(status.last_erasure_ms, Some(then.timestamp_millis()));
    }
}
