//! The `leadrelay` subcommands. Owns argument parsing, printing and exit codes; the work itself
//! is done by the library modules.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use serde_json::Value;

use crate::clock::Clock;
use crate::config::Config;
use crate::connectors::{all_ops, AccountClient, Accounts, HttpClient, Vendor};
use crate::host::check::{check_dir, write_definitions};
use crate::host::engine::Services;
use crate::host::generation::{Host, Verdict};
use crate::host::script::KnownAccounts;
use crate::sim::{Faults, Simulator};
use crate::store::{JournalTarget, Queries};

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
    /// latency, daemon CPU and memory, start-up and hot reload (a few minutes; build with
    /// --release). Exits non-zero only if an acknowledged lead was lost.
    Bench {
        /// Tiny counts and one run each: seconds in all, numbers not meaningful.
        #[arg(long)]
        quick: bool,
        /// Open-loop rates in leads per second, comma-separated [default: 500,1000,2000].
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

/// `leadrelay follows …`.
#[derive(Debug, Subcommand)]
pub enum FollowsCommand {
    /// Follow records, newest first.
    List {
        /// Only those received since (a date, a Beijing time, or 30m, 2h, 1d).
        #[arg(long)]
        since: Option<String>,
        /// Only those of this Waiqin account.
        #[arg(long)]
        account: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// One follow record: fields (phones masked), runs, calls, state.
    Show {
        /// Waiqin's msgId, or #journal-id.
        id: String,
    },
}

/// `leadrelay job …`.
#[derive(Debug, Subcommand)]
pub enum JobCommand {
    /// Queue a run of the job now in the journal; a running daemon runs it within a second
    /// (recorded, retried and dead-lettered like a cron slot). Waits for it and prints it.
    Run {
        /// The job function, or file.rhai::function.
        name: String,
        /// Seconds to wait for the daemon to finish it.
        #[arg(long, default_value_t = 60)]
        wait: u64,
    },
}

/// `leadrelay leads …`.
#[derive(Debug, Subcommand)]
pub enum LeadsCommand {
    /// Leads, newest first.
    List {
        /// Only leads that arrived since: `2026-11-01`, `2026-11-01 09:30`, or `2h`, `30m`, `1d`.
        #[arg(long)]
        since: Option<String>,
        /// Only leads in this state: pending, running, retry, done, dead, unrouted, skipped.
        #[arg(long)]
        status: Option<String>,
        /// Only leads of this vendor.
        #[arg(long)]
        vendor: Option<Vendor>,
        /// Only leads of this account.
        #[arg(long)]
        account: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// The whole story of one lead: arrival, every run and call, where it is now.
    Show {
        /// The vendor's lead id, or `#N` for the journal's id.
        id: String,
    },
    /// Route unrouted leads again, after fixing the scripts (works beside a running daemon).
    Reroute {
        /// The vendor's lead id, or `#N` for the journal's id.
        #[arg(required_unless_present = "unrouted", conflicts_with = "unrouted")]
        id: Option<String>,
        /// Every unrouted lead and follow record.
        #[arg(long)]
        unrouted: bool,
    },
    /// Erase one person on request: redact every lead and follow record holding this phone
    /// (or this one lead), scrub the runs and calls quoting them, and record the erasure
    /// (works beside a running daemon).
    Forget {
        /// The person's phone number, in any format (`+86 138-1234-5678`).
        #[arg(long, required_unless_present = "id", conflicts_with = "id")]
        phone: Option<String>,
        /// One lead: the vendor's lead id or `#N` (or a Waiqin follow record's msgId).
        #[arg(long)]
        id: Option<String>,
        /// Who asked or who is erasing, for the record [default: the OS user].
        #[arg(long)]
        by: Option<String>,
    },
}

/// `leadrelay journal …`.
#[derive(Debug, Subcommand)]
pub enum JournalCommand {
    /// A consistent copy of the journal while the daemon runs (SQLite online backup); the
    /// copy is a journal you can point `[daemon] journal` at to restore.
    Backup {
        /// Where to write the copy (must not exist).
        file: PathBuf,
    },
}

/// `leadrelay dead …`.
#[derive(Debug, Subcommand)]
pub enum DeadCommand {
    /// Every dead letter with its reason.
    List,
    /// Route dead letters again (after fixing the script or the account).
    Retry {
        /// The dead letter's id (from `dead list`).
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<i64>,
        /// Every dead letter.
        #[arg(long)]
        all: bool,
    },
}

/// `leadrelay quarantine …`.
#[derive(Debug, Subcommand)]
pub enum QuarantineCommand {
    /// Every quarantined payload.
    List,
    /// One payload, byte for byte.
    Show {
        /// Its id (from `quarantine list`).
        id: i64,
    },
}

/// Every op with the vendor its account needs, for `call --help`.
pub fn op_list_help() -> String {
    let mut out = String::from("Ops (the account's vendor in brackets):\n");
    for (vendor, op) in all_ops() {
        out.push_str(&format!(
            "  {:<28} [{vendor}] {} — {}\n  {:<28} e.g. {}\n",
            op.name, op.endpoint, op.summary, "", op.example
        ));
    }
    out
}

/// Runs a parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
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
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
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
        } => call(cli.config, &account, &op, json, json_file).await,
        Command::Check { dir } => check(cli.config, dir).await,
        Command::Init { dir, force } => Ok(crate::init::run(&dir, force)?),
        Command::Run => run_daemon(cli.config).await,
        Command::Leads { command } => leads(cli.config, command),
        Command::Dead { command } => dead(cli.config, command),
        Command::Quarantine { command } => quarantine(cli.config, command),
        Command::Status => status(cli.config),
        Command::Follows { command } => follows(cli.config, command),
        Command::Job { command } => job(cli.config, command).await,
        Command::Journal { command } => journal(cli.config, command),
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
        } => route(cli.config, &lead, vendor, account, dry_run, &scripts).await,
        Command::Test { dir } => test(cli.config, dir).await,
        Command::Preview {
            since,
            last,
            scripts,
        } => preview(cli.config, since, last, scripts).await,
        Command::Bench {
            quick,
            rates,
            seconds,
            repeat,
            growth,
        } => match growth {
            Some(n) => {
                println!("{}", crate::bench::growth(n).await?);
                Ok(ExitCode::SUCCESS)
            }
            None => bench(quick, rates, seconds, repeat).await,
        },
        Command::Definitions { dir } => definitions(dir).await,
    }
}

async fn sim(
    listen: SocketAddr,
    error_rate: f64,
    fault_status: u16,
    latency_ms: u64,
    write_config: Option<PathBuf>,
    leads: u32,
) -> anyhow::Result<()> {
    if !(0.0..=1.0).contains(&error_rate) {
        bail!("--error-rate must be between 0.0 and 1.0, got {error_rate}");
    }
    let simulator = Simulator::start(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    if leads > 0 {
        seed_leads(&simulator, leads).await?;
    }
    if error_rate > 0.0 || latency_ms > 0 {
        simulator.shared().set_faults(Faults {
            error_rate,
            status: Some(fault_status),
            latency_ms,
            ..Faults::default()
        });
    }
    let config = simulator.config_toml();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "leadrelay simulators listening on {}",
        simulator.base_url()
    )?;
    for vendor in Vendor::ALL {
        writeln!(
            out,
            "  {:<11} {}",
            vendor.as_str(),
            simulator.vendor_base_url(vendor)
        )?;
    }
    writeln!(out, "  {:<11} {}/_sim/state", "state", simulator.base_url())?;
    if let Some(path) = &write_config {
        std::fs::write(path, &config)
            .with_context(|| format!("cannot write {}", path.display()))?;
        writeln!(out, "\nconfig written to {}", path.display())?;
    }
    writeln!(out, "\n# ---- leadrelay.toml ----\n{config}")?;
    writeln!(out, "Press Ctrl-C to stop.")?;
    out.flush()?;
    drop(out);
    tokio::signal::ctrl_c().await?;
    Ok(())
}

/// Generates synthetic leads through the simulators' own control endpoints.
async fn seed_leads(simulator: &Simulator, count: u32) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    for path in [
        "/_sim/tencent/leads",
        "/_sim/feiyu/clues",
        "/_sim/waiqin/leads",
    ] {
        let response = http
            .post(format!("{}{path}", simulator.base_url()))
            .json(&serde_json::json!({ "count": count }))
            .send()
            .await
            .with_context(|| format!("cannot seed {path}"))?;
        if !response.status().is_success() {
            bail!("seeding {path} failed: HTTP {}", response.status());
        }
    }
    Ok(())
}

async fn call(
    config_path: Option<PathBuf>,
    account_name: &str,
    op: &str,
    json: Option<String>,
    json_file: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let path = Config::locate(config_path.as_deref());
    let config = Config::load(&path)?;
    let account = config.account(account_name).map_err(anyhow::Error::msg)?;
    let text = match (json, json_file) {
        (Some(text), _) => text,
        (None, Some(file)) if file.as_os_str() == "-" => std::io::read_to_string(std::io::stdin())
            .context("cannot read the payload from standard input")?,
        (None, Some(file)) => std::fs::read_to_string(&file)
            .with_context(|| format!("cannot read the payload file {}", file.display()))?,
        (None, None) => "{}".to_string(),
    };
    let payload: Value = serde_json::from_str(&text).context("the payload is not valid JSON")?;
    let client = AccountClient::new(account, HttpClient::new(), Clock::system());
    match client.call(op, payload).await {
        Ok(answer) => {
            println!("{}", serde_json::to_string_pretty(&answer)?);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            let e = e.with_account(account_name);
            eprintln!("error: {e}");
            Ok(ExitCode::from(if e.retryable() { 75 } else { 1 }))
        }
    }
}

/// The user's config: `--config`, else `$LEADRELAY_CONFIG`, else `./leadrelay.toml` when that
/// exists; `None` when there is none.
fn user_config(config_path: Option<PathBuf>) -> anyhow::Result<Option<Config>> {
    let path = Config::locate(config_path.as_deref());
    if config_path.is_none() && !path.exists() {
        return Ok(None);
    }
    Ok(Some(Config::load(&path)?))
}

/// The accounts `on_lead`/`on_follow` may name: the config's. `None` without a config: account
/// names are then not checked, and `test` and `route --dry-run` stand the simulators in for
/// whatever accounts the scripts name.
fn known_accounts(config: Option<&Config>) -> Option<KnownAccounts> {
    config.map(KnownAccounts::from_config)
}

async fn check(config_path: Option<PathBuf>, dir: PathBuf) -> anyhow::Result<ExitCode> {
    if !dir.is_dir() {
        bail!("{} is not a folder of scripts", dir.display());
    }
    let config = user_config(config_path)?;
    let accounts = config
        .as_ref()
        .map(|c| Accounts::from_config(c, HttpClient::new(), Clock::system()))
        .unwrap_or_default();
    let known = known_accounts(config.as_ref());
    let calendar = calendar_of(config.as_ref())?;
    let notes = calendar.coverage_notes(Clock::system().now_beijing().date_naive());
    let services = Arc::new(Services {
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

async fn definitions(dir: PathBuf) -> anyhow::Result<ExitCode> {
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

/// The user's config when there is one, else an empty one.
fn optional_config(config_path: Option<PathBuf>) -> anyhow::Result<Config> {
    Ok(user_config(config_path)?.unwrap_or_else(no_config))
}

/// The empty config that stands in when there is none.
fn no_config() -> Config {
    Config {
        origin: "(no config)".to_string(),
        ..Config::default()
    }
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

async fn route(
    config_path: Option<PathBuf>,
    lead_file: &std::path::Path,
    vendor: Vendor,
    account: Option<String>,
    dry_run: bool,
    scripts: &std::path::Path,
) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(lead_file)
        .with_context(|| format!("cannot read {}", lead_file.display()))?;
    let record: Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not valid JSON", lead_file.display()))?;
    let user_config = user_config(config_path)?;
    let known = known_accounts(user_config.as_ref());
    let user_config = user_config.unwrap_or_else(no_config);
    let simulator = if dry_run {
        Some(seeded_simulator(&user_config, Clock::system()).await?)
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
        Clock::system(),
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

async fn test(config_path: Option<PathBuf>, dir: PathBuf) -> anyhow::Result<ExitCode> {
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
            let clock = Clock::manual(chrono::Utc::now());
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

async fn bench(
    quick: bool,
    rates: Vec<u32>,
    seconds: Option<f64>,
    repeat: Option<usize>,
) -> anyhow::Result<ExitCode> {
    let mut options = if quick {
        crate::bench::BenchOptions::quick()
    } else {
        crate::bench::BenchOptions::default()
    };
    if !rates.is_empty() {
        options.rates = rates;
    }
    if let Some(seconds) = seconds {
        if !(seconds > 0.0 && seconds <= 60.0) {
            bail!("--seconds must be above 0 and at most 60, got {seconds}");
        }
        options.run_time = std::time::Duration::from_secs_f64(seconds);
    }
    if let Some(repeat) = repeat {
        options.repeat = repeat;
    }
    let report = crate::bench::run(options).await?;
    println!("{report}");
    Ok(if report.lost == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn preview(
    config_path: Option<PathBuf>,
    since: Option<String>,
    last: Option<usize>,
    scripts: PathBuf,
) -> anyhow::Result<ExitCode> {
    use crate::preview::{ScriptSet, Window};
    let config = optional_config(config_path.clone())?;
    let (_, reader) = journal_reader(config_path)?;
    let now = chrono::Utc::now().timestamp_millis();
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

async fn run_daemon(config_path: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let path = Config::locate(config_path.as_deref());
    let config = Config::load(&path)?;
    let daemon = crate::daemon::start(&config).await?;
    let preview = (config.daemon.preview_on_reload > 0).then(|| {
        tokio::spawn(crate::preview::on_reload(
            config.clone(),
            daemon.host.clone(),
            config.daemon.scripts.clone(),
            config.daemon.journal.clone(),
            config.daemon.preview_on_reload,
        ))
    });
    println!(
        "leadrelay running: webhooks on http://{}, journal {}, scripts {}{}",
        daemon.addr,
        config.daemon.journal,
        config.daemon.scripts.display(),
        daemon
            .admin_addr
            .map(|a| format!(", console and metrics on http://{a}/"))
            .unwrap_or_default()
    );
    wait_for_signal().await?;
    eprintln!("stopping: no new intake; letting runs in flight finish");
    if let Some(task) = preview {
        task.abort();
    }
    daemon.stop().await;
    Ok(ExitCode::SUCCESS)
}

async fn wait_for_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await?;
    Ok(())
}

/// The journal the config names (or the default one), opened read-only.
fn journal_reader(
    config_path: Option<PathBuf>,
) -> anyhow::Result<(JournalTarget, Box<dyn Queries>)> {
    let config = optional_config(config_path)?;
    let target = config.daemon.journal.clone();
    let reader = crate::store::open_reader(&target).with_context(|| {
        format!("cannot open the journal {target} (set [daemon] journal in the config)")
    })?;
    Ok((target, reader))
}

/// The SQLite file of `journal`, for the commands that write beside a running daemon through
/// SQLite's file lock; on a PostgreSQL journal they are not built yet and say so.
fn sqlite_file<'a>(
    journal: &'a JournalTarget,
    command: &str,
) -> anyhow::Result<&'a std::path::Path> {
    journal.sqlite_path().ok_or_else(|| {
        anyhow::anyhow!(
            "`leadrelay {command}` works on a SQLite journal only for now; {journal} is PostgreSQL"
        )
    })
}

fn print_or_missing(found: Option<String>, what: String, journal: &JournalTarget) -> ExitCode {
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

fn leads(config_path: Option<PathBuf>, command: LeadsCommand) -> anyhow::Result<ExitCode> {
    let (path, reader) = journal_reader(config_path)?;
    match command {
        LeadsCommand::List {
            since,
            status,
            vendor,
            account,
            limit,
        } => {
            let now = chrono::Utc::now().timestamp_millis();
            let query = crate::store::LeadQuery {
                since_ms: since
                    .map(|s| crate::inspect::parse_since(&s, now))
                    .transpose()
                    .map_err(anyhow::Error::msg)?,
                status: status
                    .map(|s| crate::inspect::parse_status(&s))
                    .transpose()
                    .map_err(anyhow::Error::msg)?,
                vendor: vendor.map(|v| v.as_str().to_string()),
                account,
                limit,
            };
            print!("{}", crate::inspect::leads_list(&*reader, &query)?);
            Ok(ExitCode::SUCCESS)
        }
        LeadsCommand::Show { id } => {
            let found = crate::inspect::lead_show(&*reader, &id)?;
            Ok(print_or_missing(found, format!("lead `{id}`"), &path))
        }
        LeadsCommand::Reroute { id, unrouted } => {
            let selector = match (id, unrouted) {
                (_, true) => crate::store::RerouteSelector::Unrouted,
                (Some(id), false) => crate::store::RerouteSelector::Lead(id),
                (None, false) => bail!("name a lead id or --unrouted"),
            };
            let rerouted = crate::store::offline::reroute_offline(
                sqlite_file(&path, "leads reroute")?,
                &selector,
            )?;
            println!(
                "{rerouted} unrouted lead(s) queued again; a running daemon routes them within a \
                 second (those still wanted by no handler become unrouted again)"
            );
            Ok(ExitCode::SUCCESS)
        }
        LeadsCommand::Forget { phone, id, by } => {
            forget(sqlite_file(&path, "leads forget")?, phone, id, by)
        }
    }
}

/// Who is running this command, for the erasure record: `$USER` / `$USERNAME`.
fn os_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".to_string())
}

fn forget(
    path: &std::path::Path,
    phone: Option<String>,
    id: Option<String>,
    by: Option<String>,
) -> anyhow::Result<ExitCode> {
    let selector = match (phone, id) {
        (Some(phone), _) => crate::store::ForgetSelector::Phone(phone),
        (None, Some(id)) => crate::store::ForgetSelector::Id(id),
        (None, None) => bail!("name a --phone or an --id"),
    };
    let by = by.unwrap_or_else(os_user);
    let now = chrono::Utc::now().timestamp_millis();
    let erasure = crate::store::offline::forget_offline(path, &selector, &by, now)?;
    println!(
        "erasure {} recorded (by {by}): {} lead(s), {} follow record(s) redacted; {} run(s) and \
         {} call(s) scrubbed{}",
        erasure.id,
        erasure.leads.len(),
        erasure.follows.len(),
        erasure.runs,
        erasure.calls,
        if erasure.closed > 0 {
            format!(
                "; {} item(s) not yet routed closed as skipped",
                erasure.closed
            )
        } else {
            String::new()
        }
    );
    for lead in &erasure.leads {
        println!("  lead {lead}");
    }
    for follow in &erasure.follows {
        println!("  follow record {follow}");
    }
    for id in &erasure.quarantined {
        println!("  quarantined payload {id}: body removed");
    }
    Ok(ExitCode::SUCCESS)
}

fn journal(config_path: Option<PathBuf>, command: JournalCommand) -> anyhow::Result<ExitCode> {
    let (path, reader) = journal_reader(config_path)?;
    match command {
        JournalCommand::Backup { file } => {
            let report = reader
                .backup_to(&file)
                .with_context(|| format!("backup of {path} to {}", file.display()))?;
            println!(
                "backup of {path} written to {}: {} leads, {:.1} MB; restore by pointing \
                 [daemon] journal at it (or copying it in place) with the daemon stopped",
                file.display(),
                report.leads,
                report.bytes as f64 / 1_000_000.0
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn dead(config_path: Option<PathBuf>, command: DeadCommand) -> anyhow::Result<ExitCode> {
    let (path, reader) = journal_reader(config_path)?;
    match command {
        DeadCommand::List => {
            print!("{}", crate::inspect::dead_list(&*reader)?);
            Ok(ExitCode::SUCCESS)
        }
        DeadCommand::Retry { id, all } => {
            let selector = match (id, all) {
                (_, true) => crate::store::DeadSelector::All,
                (Some(id), false) => crate::store::DeadSelector::One(id),
                (None, false) => bail!("name a dead letter id or --all"),
            };
            let revived = crate::store::offline::retry_dead_offline(
                sqlite_file(&path, "dead retry")?,
                selector,
            )?;
            println!("{revived} dead letter(s) queued again; a running daemon routes them within a second");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn quarantine(
    config_path: Option<PathBuf>,
    command: QuarantineCommand,
) -> anyhow::Result<ExitCode> {
    let (path, reader) = journal_reader(config_path)?;
    match command {
        QuarantineCommand::List => {
            print!("{}", crate::inspect::quarantine_list(&*reader)?);
            Ok(ExitCode::SUCCESS)
        }
        QuarantineCommand::Show { id } => {
            let found = crate::inspect::quarantine_show(&*reader, id)?;
            Ok(print_or_missing(
                found,
                format!("quarantined payload {id}"),
                &path,
            ))
        }
    }
}

fn follows(config_path: Option<PathBuf>, command: FollowsCommand) -> anyhow::Result<ExitCode> {
    let (path, reader) = journal_reader(config_path)?;
    match command {
        FollowsCommand::List {
            since,
            account,
            limit,
        } => {
            let now = chrono::Utc::now().timestamp_millis();
            let since_ms = since
                .map(|s| crate::inspect::parse_since(&s, now))
                .transpose()
                .map_err(anyhow::Error::msg)?;
            print!(
                "{}",
                crate::inspect::follows_list(&*reader, since_ms, account.as_deref(), limit)?
            );
            Ok(ExitCode::SUCCESS)
        }
        FollowsCommand::Show { id } => {
            let found = crate::inspect::follow_show(&*reader, &id)?;
            Ok(print_or_missing(
                found,
                format!("follow record `{id}`"),
                &path,
            ))
        }
    }
}

/// The live schedules of the config's scripts folder (loaded without vendor accounts: loading
/// never calls a vendor), with their next slot.
fn schedules_of(config: &Config) -> anyhow::Result<Vec<crate::daemon::cron::ScheduleInfo>> {
    let zone = config
        .daemon
        .schedule_offset()
        .map_err(anyhow::Error::msg)?;
    let host = Host::with_accounts(Arc::new(Services::new(Accounts::default())), None, |_| {});
    if config.daemon.scripts.is_dir() {
        host.load_dir(&config.daemon.scripts)?;
    }
    Ok(crate::daemon::cron::schedules(
        &host,
        zone,
        chrono::Utc::now().timestamp_millis(),
    ))
}

async fn job(config_path: Option<PathBuf>, command: JobCommand) -> anyhow::Result<ExitCode> {
    let JobCommand::Run { name, wait } = command;
    let config = optional_config(config_path.clone())?;
    let (path, reader) = journal_reader(config_path)?;
    let c = config.clone();
    let schedules = tokio::task::spawn_blocking(move || schedules_of(&c)).await??;
    let schedule =
        crate::daemon::cron::find_schedule(&schedules, &name).map_err(anyhow::Error::msg)?;
    let now = chrono::Utc::now().timestamp_millis();
    let work = crate::store::offline::enqueue_job_offline(
        sqlite_file(&path, "job run")?,
        &schedule.key,
        now,
    )?;
    println!("job {} queued as work #{work}", schedule.key);
    let running = crate::daemon::status::read(&path, &config.daemon.node)
        .is_some_and(|d| now - d.written_ms <= 10_000);
    if !running {
        println!("no daemon is running beside {path}: the job runs when `leadrelay run` starts");
        return Ok(ExitCode::SUCCESS);
    }
    let started = std::time::Instant::now();
    loop {
        if let Some((state, runs)) = reader.work_story(work)? {
            use crate::store::WorkState;
            let finished = matches!(
                state,
                WorkState::Done | WorkState::Dead { .. } | WorkState::Skipped { .. }
            );
            if finished || started.elapsed() >= std::time::Duration::from_secs(wait) {
                for run in &runs {
                    println!(
                        "run {} {} version {}: {}{}",
                        run.script,
                        run.handler,
                        run.version,
                        run.status,
                        run.error
                            .as_deref()
                            .map(|e| format!(": {}", crate::inspect::mask_phones_in(e)))
                            .unwrap_or_default()
                    );
                    for call in &run.calls {
                        println!(
                            "  call {}::{} account={} {}",
                            call.vendor,
                            call.op,
                            call.account,
                            if call.ok { "ok" } else { "failed" }
                        );
                    }
                }
                println!("now: {state:?}");
                return Ok(match state {
                    WorkState::Done | WorkState::Skipped { .. } => ExitCode::SUCCESS,
                    _ => ExitCode::FAILURE,
                });
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

fn status(config_path: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let policy = optional_config(config_path.clone())?
        .daemon
        .retention()
        .map_err(anyhow::Error::msg)?;
    let config = optional_config(config_path.clone())?;
    let (path, reader) = journal_reader(config_path)?;
    let mut extra = Vec::new();
    let mut warning = String::new();
    match crate::daemon::status::read(&path, &config.daemon.node) {
        Some(daemon) => {
            warning = crate::inspect::clock_skew_warning(&daemon.clock_skew);
            let age_ms = chrono::Utc::now().timestamp_millis() - daemon.written_ms;
            let mut body = format!(
                "pid {} listening on {}, started {}{}\n",
                daemon.pid,
                daemon.listen,
                crate::inspect::beijing_time(daemon.started_ms),
                if age_ms > 10_000 {
                    " (this snapshot is stale: is the daemon still running?)"
                } else {
                    ""
                }
            );
            for script in &daemon.scripts {
                body.push_str(&format!(
                    "{}  version {}  {}\n",
                    script.path,
                    script.version.as_deref().unwrap_or("none live"),
                    script.verdict
                ));
            }
            extra.push(("daemon and scripts".to_string(), body));
            let breakers = if daemon.open_breakers.is_empty() {
                "all closed\n".to_string()
            } else {
                daemon
                    .open_breakers
                    .iter()
                    .map(|(account, failures)| {
                        format!("{account}: open after {failures} consecutive failures\n")
                    })
                    .collect()
            };
            extra.push(("circuit breakers".to_string(), breakers));
            extra.extend(crate::inspect::suspicious_pushes_section(
                &daemon.suspicious_pushes,
            ));
        }
        None => extra.push((
            "daemon".to_string(),
            "not running (no status file beside the journal)\n".to_string(),
        )),
    }
    if let Ok(schedules) = schedules_of(&config) {
        if !schedules.is_empty() {
            let body: String = schedules
                .iter()
                .map(|s| {
                    format!(
                        "{}::{}  \"{}\"  next {}\n",
                        s.script,
                        s.function,
                        s.cron,
                        s.next_ms
                            .map_or("never".to_string(), crate::inspect::beijing_time)
                    )
                })
                .collect();
            extra.push(("schedules (next fire, Beijing time)".to_string(), body));
        }
    }
    extra.push(crate::inspect::retention_section(
        &*reader,
        policy,
        chrono::Utc::now().timestamp_millis(),
    )?);
    print!(
        "{warning}{}",
        crate::inspect::status_report(&*reader, &extra)?
    );
    Ok(ExitCode::SUCCESS)
}
