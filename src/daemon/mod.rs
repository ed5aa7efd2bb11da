//! `leadrelay run`: the daemon. Wires the journal, the script host with hot reload, the webhook
//! server, the pull sources, the cron jobs and the dispatcher, and stops them in order:
//! intake first (no new pushes or pulls), then the dispatcher lets runs in flight finish, then
//! the journal's writer flushes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::config::Config;
use crate::connectors::{Accounts, HttpClient};
use crate::host::bridge::Bridge;
use crate::host::engine::Services;
use crate::host::generation::{Host, Verdict};
use crate::host::limits::Limits;
use crate::host::script::KnownAccounts;
use crate::host::watch::{self as script_watch, ScriptWatcher};
use crate::lead::Lead;
use crate::store::types::{Accepted, Arrival, Checkpoint, FollowArrival, Quarantined};
use crate::store::{Journal, JournalOptions, StoreError};
use crate::trigger::{pull, webhook, Intake, IntakeError};

pub mod admin;
pub mod breaker;
pub mod console;
pub mod cron;
pub mod dispatch;
pub mod retention;
pub mod status;

pub use breaker::{BreakerState, Breakers};

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// `[[sources]]` or `[daemon]` is wrong.
    #[error("{origin}: {message}")]
    Config {
        /// The config file.
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// The journal could not be opened.
    #[error("journal {path}: {source}")]
    Journal {
        /// The journal file.
        path: String,
        /// Why.
        source: StoreError,
    },
    /// The scripts folder or the listen address.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        source: std::io::Error,
    },
}

/// The journal as the triggers' intake; wakes the dispatcher when new work is committed.
#[derive(Clone)]
pub struct JournalIntake {
    journal: Journal,
    wake: Arc<Notify>,
}

impl JournalIntake {
    fn wake_if_new<T>(&self, accepted: &Result<T, IntakeError>, new: impl Fn(&T) -> bool) {
        if accepted.as_ref().is_ok_and(new) {
            self.wake.notify_one();
        }
    }
}

impl Intake for JournalIntake {
    async fn accept_leads(
        &self,
        leads: Vec<Lead>,
        arrival: Arrival,
        checkpoint: Option<Checkpoint>,
    ) -> Result<Vec<Accepted>, IntakeError> {
        // Labels are read before the leads move into the journal; only new ones are counted.
        let labels: Vec<(crate::connectors::Vendor, String)> = leads
            .iter()
            .map(|l| (l.vendor, l.account.clone()))
            .collect();
        let via = arrival.via.as_str();
        let accepted = self.journal.accept_leads(leads, arrival, checkpoint).await;
        if let Ok(accepted) = &accepted {
            for ((vendor, account), a) in labels.iter().zip(accepted) {
                if *a == Accepted::New {
                    crate::metrics::lead_received(vendor.as_str(), account, via);
                }
            }
        }
        self.wake_if_new(&accepted, |a| a.contains(&Accepted::New));
        accepted
    }

    async fn accept_follow(&self, follow: FollowArrival) -> Result<Accepted, IntakeError> {
        let accepted = self.journal.accept_follow(follow).await;
        self.wake_if_new(&accepted, |a| *a == Accepted::New);
        accepted
    }

    async fn quarantine(&self, item: Quarantined) -> Result<i64, IntakeError> {
        let kept = self.journal.quarantine(item).await;
        if kept.is_ok() {
            crate::metrics::quarantined();
        }
        kept
    }

    async fn checkpoint(
        &self,
        account: &str,
        endpoint: &str,
    ) -> Result<Option<String>, IntakeError> {
        self.journal.checkpoint(account, endpoint).await
    }

    async fn lease_source(
        &self,
        account: &str,
        endpoint: &str,
        ttl: Duration,
    ) -> Result<bool, IntakeError> {
        Ok(self.journal.lease_source(account, endpoint, ttl).await?)
    }

    fn is_overloaded(&self) -> bool {
        self.journal.is_overloaded()
    }

    fn clock(&self) -> Clock {
        self.journal.clock()
    }
}

/// A started daemon.
pub struct RunningDaemon {
    /// Where webhook pushes are received.
    pub addr: SocketAddr,
    /// The journal.
    pub journal: Journal,
    /// The script host.
    pub host: Arc<Host>,
    /// The accounts' circuit breakers.
    pub breakers: Arc<Breakers>,
    /// Where the admin listener (metrics, health, console) is, when `admin_listen` is set.
    pub admin_addr: Option<SocketAddr>,
    stop: watch::Sender<bool>,
    intake_tasks: Vec<JoinHandle<()>>,
    dispatcher: JoinHandle<()>,
    _watcher: ScriptWatcher,
}

/// Starts every part of the daemon on the current runtime, on the system clock.
pub async fn start(config: &Config) -> Result<RunningDaemon, DaemonError> {
    start_with_clock(config, Clock::system()).await
}

/// [`start`] on `clock`: the one clock every part reads the time from (see [`Clock`]). Tests
/// pass a manual clock and move it to make cron slots, retries and breaker probes come due.
pub async fn start_with_clock(config: &Config, clock: Clock) -> Result<RunningDaemon, DaemonError> {
    start_with(config, clock, retention::PruneTiming::default()).await
}

/// [`start_with_clock`] with the background prune timed by `prune` (tests: short checks).
pub async fn start_with(
    config: &Config,
    clock: Clock,
    prune: retention::PruneTiming,
) -> Result<RunningDaemon, DaemonError> {
    let settings = config.daemon.clone();
    let config_error = |message: String| DaemonError::Config {
        origin: config.origin.clone(),
        message,
    };
    let journal = Journal::connect(
        &settings.journal,
        JournalOptions {
            backlog_limit: settings.backlog_limit,
            clock,
            node: settings.node.clone(),
            lease: Duration::from_secs(settings.lease_secs.max(1)),
            finish_linger: crate::store::FINISH_LINGER,
            ..JournalOptions::default()
        },
    )
    .await
    .map_err(|source| DaemonError::Journal {
        path: settings.journal.to_string(),
        source,
    })?;

    let accounts = Accounts::from_config(config, HttpClient::new(), clock);
    let push_routes = webhook::push_routes(config, &config.sources).map_err(config_error)?;
    let pull_sources =
        pull::pull_sources(config, &accounts, &config.sources).map_err(config_error)?;

    let services = Services {
        accounts,
        bridge: Bridge::current(),
        limits: Limits {
            run_budget: Duration::from_millis(settings.run_budget_ms),
            ..Limits::default()
        },
        assignments: journal.assignments(),
        once: journal.once_keys(),
        clock,
        calendar: Arc::new(
            crate::host::calendar::Calendar::load_or_shipped(config.scripts.holidays.as_deref())
                .map_err(|e| config_error(e.to_string()))?,
        ),
    };
    let known = KnownAccounts::from_config(config);
    let host = Host::with_accounts(Arc::new(services), Some(known), |_| {});
    let (h, dir) = (host.clone(), settings.scripts.clone());
    let loaded = tokio::task::spawn_blocking(move || h.load_dir(&dir))
        .await
        .expect("loading scripts does not panic")
        .map_err(|source| DaemonError::Io {
            what: format!("cannot read scripts folder {}", settings.scripts.display()),
            source,
        })?;
    let live = loaded.iter().filter(|(_, v)| *v == Verdict::Live).count();
    let watcher =
        script_watch::watch(host.clone(), &settings.scripts).map_err(|e| DaemonError::Io {
            what: format!("cannot watch {}", settings.scripts.display()),
            source: std::io::Error::other(e.to_string()),
        })?;

    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .map_err(|source| DaemonError::Io {
            what: format!("cannot listen on {}", settings.listen),
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| DaemonError::Io {
        what: "listen address".into(),
        source,
    })?;

    let wake = Arc::new(Notify::new());
    journal.set_waker(wake.clone());
    let intake = Arc::new(JournalIntake {
        journal: journal.clone(),
        wake: wake.clone(),
    });
    let breakers = Arc::new(Breakers::with_clock(
        settings.breaker_failures,
        Duration::from_secs(settings.breaker_probe_secs),
        clock,
    ));
    let (stop, stopped) = watch::channel(false);

    let options = webhook::WebhookOptions {
        max_body_bytes: settings.max_body_bytes,
        trusted_proxies: settings.trusted_proxy_list().map_err(config_error)?,
        ..webhook::WebhookOptions::default()
    };
    let push_count = push_routes.len();
    let push_counters = webhook::PushCounters::of(&push_routes);
    let router = webhook::router(intake.clone(), push_routes, options);
    let mut webhook_stop = stopped.clone();
    let server = tokio::spawn(async move {
        let shutdown = async move {
            let _ = webhook_stop.wait_for(|s| *s).await;
        };
        if let Err(e) = webhook::serve(listener, router, shutdown).await {
            tracing::error!(error = %e, "the webhook server stopped");
        }
    });
    let pull_count = pull_sources.len();
    let pull_schedules: Vec<admin::PullSchedule> = pull_sources
        .iter()
        .map(|p| admin::PullSchedule {
            account: p.account.clone(),
            endpoint: p.endpoint().to_string(),
            schedule: p.schedule.clone(),
            health: p.health.clone(),
        })
        .collect();
    let pulls = tokio::spawn({
        let (intake, stopped) = (intake.clone(), stopped.clone());
        async move {
            pull::run_pulls(pull_sources, intake, stopped).await;
        }
    });
    let zone = settings.schedule_offset().map_err(config_error)?;
    let crons = tokio::spawn(cron::run(
        host.clone(),
        journal.clone(),
        zone,
        clock,
        Duration::from_secs(settings.cron_catch_up_max_age_secs),
        wake.clone(),
        stopped.clone(),
    ));
    let policy = settings.retention().map_err(config_error)?;
    let pruner = tokio::spawn(retention::run(
        journal.clone(),
        policy,
        prune,
        stopped.clone(),
    ));
    let status = tokio::spawn(status::publish(
        host.clone(),
        breakers.clone(),
        push_counters,
        status::status_path(&settings.journal, &settings.node),
        addr.to_string(),
        journal.clone(),
        stopped.clone(),
    ));
    let dispatcher = Arc::new(dispatch::Dispatcher::new(
        journal.clone(),
        host.clone(),
        settings.clone(),
        breakers.clone(),
        wake.clone(),
        clock,
    ));
    let mut intake_tasks = vec![server, pulls, crons, status, pruner];
    let admin_addr = match settings.admin_listen {
        None => None,
        Some(admin_listen) => {
            crate::metrics::install();
            let listener = tokio::net::TcpListener::bind(admin_listen)
                .await
                .map_err(|source| DaemonError::Io {
                    what: format!("cannot listen on {admin_listen} (admin_listen)"),
                    source,
                })?;
            let admin_addr = listener.local_addr().ok();
            let state = admin::AdminState {
                journal: journal.clone(),
                host: host.clone(),
                breakers: breakers.clone(),
                clock,
                token: settings.admin_token.clone(),
                wake: wake.clone(),
                pulls: pull_schedules,
                zone,
                preview: Arc::new(console::scripts::Previewer::new(
                    &config.origin,
                    &settings.scripts,
                )),
            };
            let router = admin::router(state, console::router());
            let mut admin_stop = stopped.clone();
            intake_tasks.push(tokio::spawn(async move {
                let shutdown = async move {
                    let _ = admin_stop.wait_for(|s| *s).await;
                };
                if let Err(e) = admin::serve(listener, router, shutdown).await {
                    tracing::error!(error = %e, "the admin listener stopped");
                }
            }));
            admin_addr
        }
    };
    let dispatcher = tokio::spawn(dispatcher.run(stopped, Duration::from_secs(10)));
    tracing::info!(
        webhooks = %addr,
        admin = %admin_addr.map_or_else(|| "off".to_string(), |a| format!("http://{a}/")),
        journal = %settings.journal,
        node = %settings.node,
        scripts = live,
        push_paths = push_count,
        pull_sources = pull_count,
        "leadrelay running"
    );
    Ok(RunningDaemon {
        addr,
        journal,
        host,
        breakers,
        admin_addr,
        stop,
        intake_tasks,
        dispatcher,
        _watcher: watcher,
    })
}

impl RunningDaemon {
    /// Stops intake, lets runs in flight finish (up to 10 s), and flushes the journal.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.intake_tasks {
            let _ = task.await;
        }
        let _ = self.dispatcher.await;
        tracing::info!("leadrelay stopped");
    }
}
