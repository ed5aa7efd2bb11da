//! `leadrelay run`, `leadrelay status` and `leadrelay job …`: the daemon, what it is doing, and
//! its scheduled jobs.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Subcommand;

use super::{journal_reader, optional_config};
use crate::clock::Clock;
use crate::config::Config;
use crate::connectors::Accounts;
use crate::host::engine::Services;
use crate::host::generation::Host;

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

pub(super) async fn run_daemon(
    config_path: Option<PathBuf>,
    clock: Clock,
) -> anyhow::Result<ExitCode> {
    let path = Config::locate(config_path.as_deref());
    let config = Config::load(&path)?;
    let daemon = crate::daemon::start_with_clock(&config, clock).await?;
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

/// The live schedules of the config's scripts folder (loaded without vendor accounts: loading
/// never calls a vendor), with their next slot after `clock`'s now.
fn schedules_of(
    config: &Config,
    clock: Clock,
) -> anyhow::Result<Vec<crate::daemon::cron::ScheduleInfo>> {
    let zone = config
        .daemon
        .schedule_offset()
        .map_err(anyhow::Error::msg)?;
    let host = Host::with_accounts(
        Arc::new(Services {
            clock,
            ..Services::new(Accounts::default())
        }),
        None,
        |_| {},
    );
    if config.daemon.scripts.is_dir() {
        host.load_dir(&config.daemon.scripts)?;
    }
    Ok(crate::daemon::cron::schedules(
        &host,
        zone,
        clock.unix_millis(),
    ))
}

pub(super) async fn job(
    config_path: Option<PathBuf>,
    command: JobCommand,
    clock: Clock,
) -> anyhow::Result<ExitCode> {
    let JobCommand::Run { name, wait } = command;
    let config = optional_config(config_path.clone())?;
    let (path, reader) = journal_reader(config_path)?;
    let c = config.clone();
    let schedules = tokio::task::spawn_blocking(move || schedules_of(&c, clock)).await??;
    let schedule =
        crate::daemon::cron::find_schedule(&schedules, &name).map_err(anyhow::Error::msg)?;
    let now = clock.unix_millis();
    let work = crate::store::beside::enqueue_job(&path, &schedule.key, now, clock)?;
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

pub(super) fn status(config_path: Option<PathBuf>, clock: Clock) -> anyhow::Result<ExitCode> {
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
            let age_ms = clock.unix_millis() - daemon.written_ms;
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
    if let Ok(schedules) = schedules_of(&config, clock) {
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
        clock.unix_millis(),
    )?);
    print!(
        "{warning}{}",
        crate::inspect::status_report(&*reader, &extra)?
    );
    Ok(ExitCode::SUCCESS)
}
