//! `leadrelay.toml` → validated [`Config`]. Owns file lookup (`--config`, `LEADRELAY_CONFIG`,
//! `./leadrelay.toml`), `${VAR}` substitution from the environment, and error messages that name
//! the file, the account and the key. It never logs a credential: credentials are [`Secret`]s.
//!
//! [`Secret`]: crate::secret::Secret

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

// Accounts are defined by the connectors layer (a client is built from one); config only
// parses them, so the dependency points one way: config → connectors.
pub use crate::connectors::{Account, Credentials};
use crate::connectors::{Accounts, HttpClient, Vendor};
use crate::secret::Secret;
use ipnet::IpNet;

pub mod sim;

/// Environment variable naming the config file when `--config` is not given.
pub const CONFIG_ENV: &str = "LEADRELAY_CONFIG";
/// Config file used when neither `--config` nor `LEADRELAY_CONFIG` is given.
pub const DEFAULT_CONFIG_FILE: &str = "leadrelay.toml";

/// A config problem, always naming where it is.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: cannot read config: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has an unknown top-level key.
    #[error("{path}: {message}")]
    Syntax {
        /// The file.
        path: String,
        /// The TOML parser's message, with line and column.
        message: String,
    },
    /// One account is wrong.
    #[error("{path}: account `{account}`: {message}")]
    Account {
        /// The file.
        path: String,
        /// The account name.
        account: String,
        /// What is wrong, naming the key.
        message: String,
    },
    /// One `[[sources]]` entry is wrong.
    #[error("{path}: {entry}: {message}")]
    Source {
        /// The file.
        path: String,
        /// Which entry: `[[sources]] #2 (account `tx_main`)`.
        entry: String,
        /// What is wrong, naming the key and the value.
        message: String,
    },
}

/// The whole validated configuration.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Where it was read from (for messages).
    pub origin: String,
    /// Accounts by name, sorted.
    pub accounts: BTreeMap<String, Account>,
    /// How leads enter (`[[sources]]`).
    pub sources: Vec<SourceSpec>,
    /// The daemon's settings (`[daemon]`).
    pub daemon: DaemonSettings,
    /// The scripting host's settings (`[scripts]`).
    pub scripts: sim::ScriptSettings,
    /// What the simulators start with in `test` and `route --dry-run` (`[sim]`).
    pub sim: sim::SimSeed,
}

/// `[daemon]`: how `leadrelay run` listens, journals, retries and sheds load. Every key is
/// optional.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DaemonSettings {
    /// Where webhook pushes are received.
    pub listen: std::net::SocketAddr,
    /// The journal: a SQLite file (default `leadrelay.db`), or a `postgres://` URL shared by
    /// several nodes (`${VAR}` allowed; the password is never shown).
    pub journal: crate::store::JournalTarget,
    /// This node's name among several sharing a PostgreSQL journal: recorded with its runs and
    /// claims, listed by `status`. Default: the host name. Two nodes must not share a name.
    pub node: String,
    /// PostgreSQL journal: a node's claim on work outlives its last heartbeat by this many
    /// seconds before another node takes the work over (heartbeats come every quarter of it).
    pub lease_secs: u64,
    /// The scripts folder.
    pub scripts: PathBuf,
    /// Pushes with a larger body are refused with 413.
    pub max_body_bytes: usize,
    /// Above this many leads waiting, pushes are answered 503 with Retry-After.
    pub backlog_limit: u64,
    /// Leads being routed at once.
    pub max_in_flight: usize,
    /// Leads of one account being routed at once.
    pub account_concurrency: usize,
    /// A lead whose calls keep failing is retried for this long, then dead-lettered.
    pub retry_max_age_secs: u64,
    /// Consecutive failed calls of an account that open its circuit breaker.
    pub breaker_failures: u32,
    /// While a breaker is open, one probe call per this many seconds.
    pub breaker_probe_secs: u64,
    /// Wall-clock budget of one handler run, vendor calls included.
    pub run_budget_ms: u64,
    /// The zone cron schedules run in: `Asia/Shanghai` (default), `UTC`, or an offset such as
    /// `+08:00`. Never the server's local zone.
    pub timezone: String,
    /// Reverse proxies (CIDR blocks or addresses) whose `X-Forwarded-For` is believed when a
    /// push source checks `allow_from`. Empty (default): the header is never believed.
    pub trusted_proxies: Vec<String>,
    /// On start, a schedule with `catch_up: "last"` fires the most recent slot it missed while
    /// the daemon was down, if that slot is at most this old.
    pub cron_catch_up_max_age_secs: u64,
    /// Final leads, follow records and job items older than this many days are deleted with
    /// their runs and calls (README, "Data retention and personal information").
    pub keep_days: u32,
    /// Final leads and follow records older than this many days keep only their redacted form.
    pub personal_data_days: u32,
    /// The admin listener: `/metrics`, `/healthz`, `/readyz` and the console. Off when unset.
    pub admin_listen: Option<std::net::SocketAddr>,
    /// The console's token (`${VAR}` allowed, resolved when the config is read). Required when
    /// `admin_listen` is not a loopback address.
    pub admin_token: Option<Secret>,
    /// On each hot reload, replay this many of the newest leads through the new scripts against
    /// the simulators and log `preview`'s one-line summary. 0 (default): off.
    pub preview_on_reload: usize,
}

impl DaemonSettings {
    /// The schedules' zone as a fixed offset. Zones with daylight saving time are refused: the
    /// vendors' own timestamps are Beijing time, which has none.
    pub fn schedule_offset(&self) -> Result<chrono::FixedOffset, String> {
        parse_timezone(&self.timezone)
    }

    /// `keep_days` and `personal_data_days` as a validated policy; the error names the keys.
    pub fn retention(&self) -> Result<crate::store::RetentionPolicy, String> {
        crate::store::RetentionPolicy::new(self.keep_days, self.personal_data_days)
    }

    /// Resolves `${VAR}` in `journal` (a PostgreSQL URL usually carries a password).
    fn resolve_journal(&mut self, env: &dyn Fn(&str) -> Option<String>) -> Result<(), String> {
        let crate::store::JournalTarget::Sqlite(path) = &self.journal else {
            return Ok(());
        };
        let Some(text) = path.to_str().filter(|t| t.contains("${")) else {
            return Ok(());
        };
        let mut value = toml::Value::String(text.to_string());
        substitute_env("journal", &mut value, env)?;
        let toml::Value::String(resolved) = value else {
            unreachable!("substitution keeps a string a string")
        };
        self.journal = crate::store::JournalTarget::parse(&resolved)?;
        Ok(())
    }

    /// Resolves `${VAR}` in `admin_token` and refuses an admin listener that is reachable from
    /// other machines without a token (its console can retry dead letters).
    fn check_admin(&mut self, env: &dyn Fn(&str) -> Option<String>) -> Result<(), String> {
        if let Some(token) = &self.admin_token {
            let mut value = toml::Value::String(token.expose().to_string());
            substitute_env("admin_token", &mut value, env)?;
            let resolved = value.as_str().unwrap_or_default().trim().to_string();
            self.admin_token = (!resolved.is_empty()).then(|| Secret::new(resolved));
        }
        match (self.admin_listen, &self.admin_token) {
            (Some(addr), None) if !addr.ip().is_loopback() => Err(format!(
                "key `admin_listen`: {addr} is reachable from other machines, so `admin_token` is required (e.g. admin_token = \"${{LEADRELAY_ADMIN_TOKEN}}\")"
            )),
            _ => Ok(()),
        }
    }

    /// `trusted_proxies`, parsed; the error names the key and the bad value.
    pub fn trusted_proxy_list(&self) -> Result<NetList, String> {
        NetList::parse(&self.trusted_proxies).map_err(|e| format!("key `trusted_proxies`: {e}"))
    }
}

/// Parses `Asia/Shanghai`-style names of UTC+8 zones, `UTC`, or `±HH:MM`.
pub fn parse_timezone(text: &str) -> Result<chrono::FixedOffset, String> {
    let east = |secs| {
        chrono::FixedOffset::east_opt(secs)
            .ok_or_else(|| format!("timezone `{text}` is out of range"))
    };
    match text.trim() {
        "Asia/Shanghai" | "Asia/Chongqing" | "Asia/Harbin" | "Asia/Urumqi" | "PRC"
        | "Asia/Hong_Kong" | "Asia/Taipei" | "Asia/Macau" | "Asia/Singapore" => east(8 * 3600),
        "UTC" | "Etc/UTC" | "Z" => east(0),
        offset => {
            let (sign, rest) = match offset.as_bytes().first() {
                Some(b'+') => (1, &offset[1..]),
                Some(b'-') => (-1, &offset[1..]),
                _ => {
                    return Err(format!(
                        "timezone `{text}`: use Asia/Shanghai, UTC, or an offset like +08:00"
                    ))
                }
            };
            let (h, m) = rest.split_once(':').unwrap_or((rest, "0"));
            let (h, m): (i32, i32) = match (h.parse(), m.parse()) {
                (Ok(h), Ok(m)) if h <= 14 && m < 60 => (h, m),
                _ => {
                    return Err(format!(
                        "timezone `{text}`: use Asia/Shanghai, UTC, or an offset like +08:00"
                    ))
                }
            };
            east(sign * (h * 3600 + m * 60))
        }
    }
}

/// The one defaults table of `[daemon]` (the README's example config shows these values).
impl Default for DaemonSettings {
    fn default() -> Self {
        DaemonSettings {
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 8080)),
            journal: crate::store::JournalTarget::Sqlite(PathBuf::from("leadrelay.db")),
            node: crate::store::default_node_name(),
            lease_secs: crate::store::DEFAULT_LEASE.as_secs(),
            scripts: PathBuf::from("scripts"),
            max_body_bytes: 1 << 20,
            backlog_limit: crate::store::DEFAULT_BACKLOG_LIMIT,
            max_in_flight: 64,
            account_concurrency: 8,
            retry_max_age_secs: 24 * 3600,
            breaker_failures: 5,
            breaker_probe_secs: 30,
            run_budget_ms: 2000,
            timezone: "Asia/Shanghai".to_string(),
            trusted_proxies: Vec::new(),
            cron_catch_up_max_age_secs: 3600,
            keep_days: 90,
            personal_data_days: 30,
            admin_listen: None,
            admin_token: None,
            preview_on_reload: 0,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    accounts: BTreeMap<String, toml::Table>,
    #[serde(default)]
    sources: Vec<SourceSpec>,
    #[serde(default)]
    daemon: DaemonSettings,
    #[serde(default)]
    scripts: sim::ScriptSettings,
    #[serde(default)]
    sim: sim::SimSeed,
}

impl Config {
    /// The config file to use: `explicit`, else `$LEADRELAY_CONFIG`, else `./leadrelay.toml`.
    pub fn locate(explicit: Option<&Path>) -> PathBuf {
        explicit
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os(CONFIG_ENV).map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_FILE))
    }

    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: origin.clone(),
            source,
        })?;
        Self::parse(&text, &origin, &|name| std::env::var(name).ok())
    }

    /// Parses config text; `env` resolves `${VAR}` references. `origin` names the text in errors.
    pub fn parse(
        text: &str,
        origin: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: origin.to_string(),
            message: e.to_string().trim_end().replace('\n', " "),
        })?;
        let mut accounts = BTreeMap::new();
        for (name, table) in raw.accounts {
            let account =
                parse_account(&name, table, env).map_err(|message| ConfigError::Account {
                    path: origin.to_string(),
                    account: name.clone(),
                    message,
                })?;
            accounts.insert(name, account);
        }
        let mut daemon = raw.daemon;
        daemon
            .resolve_journal(env)
            .and_then(|()| daemon.check_admin(env))
            .map_err(|message| ConfigError::Syntax {
                path: origin.to_string(),
                message: format!("[daemon] {message}"),
            })?;
        daemon
            .schedule_offset()
            .map(|_| ())
            .and_then(|()| daemon.trusted_proxy_list().map(|_| ()))
            .and_then(|()| daemon.retention().map(|_| ()))
            .map_err(|message| ConfigError::Syntax {
                path: origin.to_string(),
                message: format!("[daemon] {message}"),
            })?;
        // Checked here, not only when the daemon builds its routes and pulls, so `check` and
        // every command that reads the config report a bad `[[sources]]` entry at once. Only
        // what the entry itself says is checked here; whether its account's vendor can push or
        // be pulled is the triggers' question (they know the vendors' capabilities).
        let mut push_paths: Vec<(&str, &str)> = Vec::new();
        for (i, source) in raw.sources.iter().enumerate() {
            let entry = source_label(i, &source.account);
            let source_error = |message: String| ConfigError::Source {
                path: origin.to_string(),
                entry: entry.clone(),
                message,
            };
            if source.pull.is_none() && source.push.is_none() {
                return Err(source_error("has neither `pull` nor `push`".into()));
            }
            source_allow_from(source).map_err(source_error)?;
            if let Some(path) = &source.push {
                check_path(path).map_err(|e| source_error(format!("key `push`: {e}")))?;
                if let Some((_, other)) = push_paths.iter().find(|(p, _)| p == path) {
                    return Err(source_error(format!(
                        "key `push`: path `{path}` is already used by account `{other}`"
                    )));
                }
                push_paths.push((path, &source.account));
            }
        }
        raw.sim.validate().map_err(|message| ConfigError::Syntax {
            path: origin.to_string(),
            message: format!("[sim] {message}"),
        })?;
        Ok(Config {
            origin: origin.to_string(),
            accounts,
            sources: raw.sources,
            daemon,
            scripts: raw.scripts,
            sim: raw.sim,
        })
    }

    /// The account called `name`, or an error listing the configured ones.
    pub fn account(&self, name: &str) -> Result<&Account, String> {
        self.accounts.get(name).ok_or_else(|| {
            let known: Vec<_> = self.accounts.keys().map(String::as_str).collect();
            if known.is_empty() {
                format!(
                    "{}: no account `{name}`: no accounts are configured",
                    self.origin
                )
            } else {
                format!(
                    "{}: no account `{name}` (configured: {})",
                    self.origin,
                    known.join(", ")
                )
            }
        })
    }
}

fn parse_account(
    name: &str,
    mut table: toml::Table,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Account, String> {
    for (key, value) in table.iter_mut() {
        substitute_env(key, value, env)?;
    }
    let vendor = match table.remove("vendor") {
        None => return Err("missing key `vendor`".to_string()),
        Some(toml::Value::String(v)) => v
            .parse::<Vendor>()
            .map_err(|e| format!("key `vendor`: {e}"))?,
        Some(other) => {
            return Err(format!(
                "key `vendor` must be a string, got {}",
                other.type_str()
            ))
        }
    };
    let base_url = match table.remove("base_url") {
        None => vendor.default_base_url().to_string(),
        Some(toml::Value::String(url))
            if url.starts_with("http://") || url.starts_with("https://") =>
        {
            url.trim_end_matches('/').to_string()
        }
        Some(other) => {
            return Err(format!(
                "key `base_url` must be an http:// or https:// URL, got {other}"
            ))
        }
    };
    let credentials = vendor.parse_credentials(table)?;
    Ok(Account {
        name: name.to_string(),
        vendor,
        base_url,
        credentials,
    })
}

fn substitute_env(
    key: &str,
    value: &mut toml::Value,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), String> {
    let toml::Value::String(text) = value else {
        return Ok(());
    };
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("key `{key}`: unterminated `${{` in value"))?;
        let var = &after[..end];
        if var.is_empty() {
            return Err(format!("key `{key}`: empty `${{}}` in value"));
        }
        let resolved = env(var)
            .ok_or_else(|| format!("key `{key}`: environment variable `{var}` is not set"))?;
        out.push_str(&resolved);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    *text = out;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "TX_SECRET").then(|| "s3cr3t".to_string())
    }

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, "leadrelay.toml", &env)
    }

    #[test]
    fn retention_days_default_and_are_validated() {
        let c = parse("").unwrap();
        assert_eq!((c.daemon.keep_days, c.daemon.personal_data_days), (90, 30));
        let c = parse("[daemon]\nkeep_days = 30\npersonal_data_days = 30\n").unwrap();
        assert_eq!(c.daemon.retention().unwrap().keep_days, 30);
        let e = parse("[daemon]\nkeep_days = 10\npersonal_data_days = 20\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("personal_data_days (20) must not exceed keep_days (10)"),
            "{e}"
        );
        let e = parse("[daemon]\nkeep_days = 0\n").unwrap_err().to_string();
        assert!(e.contains("must be at least 1"), "{e}");
    }

    #[test]
    fn unknown_key_names_file_account_and_key() {
        let e = parse("[accounts.tx_main]\nvendor = \"tencent\"\ntoken = \"t\"\nsecret = \"s\"\ntokn = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("leadrelay.toml: account `tx_main`: unknown key `tokn`"),
            "{e}"
        );
    }

    #[test]
    fn missing_env_var_names_the_key_and_variable() {
        let e = parse(
            "[accounts.tx_main]\nvendor = \"tencent\"\ntoken = \"${NOPE}\"\nsecret = \"s\"\n",
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            "leadrelay.toml: account `tx_main`: key `token`: environment variable `NOPE` is not set"
        );
    }

    #[test]
    fn unknown_vendor_lists_the_vendors() {
        let e = parse("[accounts.a]\nvendor = \"baidu\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("account `a`: key `vendor`: unknown vendor `baidu`"),
            "{e}"
        );
        assert!(
            e.contains("tencent, feiyu, waiqin, xiaolanben, linkflow"),
            "{e}"
        );
    }

    #[test]
    fn env_substitution_and_default_base_url() {
        let c = parse(
            "[accounts.tx]\nvendor = \"tencent\"\ntoken = \"t\"\nsecret = \"${TX_SECRET}\"\n",
        )
        .unwrap();
        let a = &c.accounts["tx"];
        assert_eq!(a.base_url, "https://leads.qq.com/api/mv1");
        let Credentials::Tencent(creds) = &a.credentials else {
            panic!("tencent credentials expected")
        };
        assert_eq!(creds.secret.expose(), "s3cr3t");
        assert!(
            !format!("{c:?}").contains("s3cr3t"),
            "secret leaked into Debug"
        );
    }

    #[test]
    fn schedule_timezones_are_names_of_utc8_zones_utc_or_offsets() {
        assert_eq!(
            parse_timezone("Asia/Shanghai").unwrap().local_minus_utc(),
            8 * 3600
        );
        assert_eq!(parse_timezone("UTC").unwrap().local_minus_utc(), 0);
        assert_eq!(
            parse_timezone("-05:30").unwrap().local_minus_utc(),
            -(5 * 3600 + 1800)
        );
        let e = parse("[daemon]\ntimezone = \"Europe/Paris\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("[daemon] timezone `Europe/Paris`: use Asia/Shanghai"),
            "{e}"
        );
    }

    #[test]
    fn bad_allow_from_is_a_config_error_naming_file_source_and_value() {
        let tx = "[accounts.tx_main]\nvendor = \"tencent\"\ntoken = \"t\"\nsecret = \"s\"\n";
        let with_source = |source: &str| {
            parse(&format!(
                "{tx}\n[[sources]]\naccount = \"tx_main\"\npull = \"0 * * * * *\"\n\n[[sources]]\naccount = \"tx_main\"\n{source}"
            ))
        };
        let e = with_source("push = \"/hooks/t\"\nallow_from = [\"10.0.0.0/8\", \"1.2.3.0/33\"]\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(
                "leadrelay.toml: [[sources]] #2 (account `tx_main`): key `allow_from`: `1.2.3.0/33`:"
            ),
            "{e}"
        );
        let e = with_source("push = \"/hooks/t\"\nallow_from = [\"office\"]\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("#2 (account `tx_main`): key `allow_from`: `office` is not an IP address"),
            "{e}"
        );
        let e = with_source("push = \"/hooks/t\"\nallow_from = []\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("#2 (account `tx_main`): key `allow_from` is empty"),
            "{e}"
        );
        let e = with_source("pull = \"0 * * * * *\"\nallow_from = [\"10.0.0.0/8\"]\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("has no `push` path"), "{e}");

        let c = with_source(
            "push = \"/hooks/t\"\nallow_from = [\"1.2.3.0/24\", \"10.0.0.5\", \"::1/128\"]\n",
        )
        .unwrap();
        assert_eq!(c.sources[1].allow_from.as_ref().unwrap().len(), 3);
    }

    #[test]
    fn a_source_without_trigger_a_bad_push_path_or_a_reused_one_is_a_config_error() {
        // Caught when the file is read (so by `leadrelay check`), not only when the daemon
        // builds its routes.
        let tx = "[accounts.tx_main]\nvendor = \"tencent\"\ntoken = \"t\"\nsecret = \"s\"\n";
        let with_sources = |sources: &str| parse(&format!("{tx}\n{sources}"));
        let e = with_sources("[[sources]]\naccount = \"tx_main\"\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "leadrelay.toml: [[sources]] #1 (account `tx_main`): has neither `pull` nor `push`"
        );
        let e = with_sources("[[sources]]\naccount = \"tx_main\"\npush = \"hooks/t\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("leadrelay.toml: [[sources]] #1 (account `tx_main`): key `push`: path `hooks/t` must start with `/`"),
            "{e}"
        );
        let e = with_sources(
            "[[sources]]\naccount = \"tx_main\"\npush = \"/hooks/t\"\n\n[[sources]]\naccount = \"tx_main\"\npush = \"/hooks/t\"\n",
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            "leadrelay.toml: [[sources]] #2 (account `tx_main`): key `push`: path `/hooks/t` is already used by account `tx_main`"
        );
        let ok = with_sources("[[sources]]\naccount = \"tx_main\"\npush = \"/hooks/t\"\n").unwrap();
        assert_eq!(ok.sources[0].overlap_secs, 600);
    }

    #[test]
    fn the_daemon_and_the_journal_share_one_default_backlog() {
        assert_eq!(
            DaemonSettings::default().backlog_limit,
            crate::store::JournalOptions::default().backlog_limit
        );
    }

    #[test]
    fn bad_trusted_proxies_is_a_config_error_naming_file_and_value() {
        let e = parse("[daemon]\ntrusted_proxies = [\"127.0.0.1\", \"10.0.0.1/8\"]\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(
                "leadrelay.toml: [daemon] key `trusted_proxies`: `10.0.0.1/8` has bits set"
            ),
            "{e}"
        );
        let c = parse("[daemon]\ntrusted_proxies = [\"127.0.0.1/32\", \"fd00::/8\"]\n").unwrap();
        let list = c.daemon.trusted_proxy_list().unwrap();
        assert!(list.contains("127.0.0.1".parse().unwrap()));
        assert!(list.contains("fd12::1".parse().unwrap()));
        assert!(Config::default()
            .daemon
            .trusted_proxy_list()
            .unwrap()
            .is_empty());
    }

    #[test]
    fn unknown_top_level_key_is_a_syntax_error_with_the_file() {
        let e = parse("[acounts.x]\n").unwrap_err().to_string();
        assert!(e.starts_with("leadrelay.toml: "), "{e}");
        assert!(e.contains("acounts"), "{e}");
    }
}

impl Accounts {
    /// A client for every account in `config`. Defined here rather than in `connectors`, which
    /// must not know the config file.
    pub fn from_config(config: &Config, http: HttpClient, clock: crate::clock::Clock) -> Self {
        Accounts::from_accounts(config.accounts.values(), http, clock)
    }
}

/// One `[[sources]]` entry: how leads enter from one account.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// The account (must exist under `[accounts]`).
    pub account: String,
    /// Pull on this cron schedule (6 fields with seconds, or 5).
    #[serde(default)]
    pub pull: Option<String>,
    /// Accept pushes on this path (e.g. `/hooks/tencent/tx_main`).
    #[serde(default)]
    pub push: Option<String>,
    /// Each pull window starts this many seconds before the last checkpoint, so leads the
    /// vendor records late are not missed (duplicates are dropped by the journal).
    #[serde(default = "default_overlap_secs")]
    pub overlap_secs: u64,
    /// Page size of pulls (default: the vendor's maximum).
    #[serde(default)]
    pub page_size: Option<u32>,
    /// Accept pushes only from these networks (CIDR blocks or plain addresses), judged by the
    /// peer address or, behind `[daemon] trusted_proxies`, by `X-Forwarded-For`. `None`: from
    /// anywhere. Kept as written; `source_allow_from` parses and checks it.
    #[serde(default)]
    pub allow_from: Option<Vec<String>>,
}

fn default_overlap_secs() -> u64 {
    600
}

/// A source's `allow_from`, parsed. Errors name the key and the bad value (the caller adds the
/// file and the source): an entry that is not an address or CIDR block, an empty list (which
/// would refuse every push), or the key on a source without `push`.
pub(crate) fn source_allow_from(source: &SourceSpec) -> Result<Option<NetList>, String> {
    let Some(entries) = &source.allow_from else {
        return Ok(None);
    };
    if source.push.is_none() {
        return Err(
            "key `allow_from` limits who may push, but this source has no `push` path".into(),
        );
    }
    if entries.is_empty() {
        return Err(
            "key `allow_from` is empty, which would refuse every push; remove the key to accept pushes from any address".into(),
        );
    }
    NetList::parse(entries)
        .map(Some)
        .map_err(|e| format!("key `allow_from`: {e}"))
}

/// `[[sources]] #N (account `x`)`: the prefix of every source error, shared with the pulls.
pub(crate) fn source_label(index: usize, account: &str) -> String {
    format!("[[sources]] #{} (account `{account}`)", index + 1)
}

/// A source with neither trigger is a typo (e.g. `pul = …` would already be refused, but an
/// entry with only `account` is accepted by serde) and would silently do nothing.
pub(crate) fn check_has_trigger(source: &SourceSpec, at: &str) -> Result<(), String> {
    if source.pull.is_none() && source.push.is_none() {
        return Err(format!("{at}: has neither `pull` nor `push`"));
    }
    Ok(())
}

pub(crate) fn check_path(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err(format!("path `{path}` must start with `/`"));
    }
    if path.len() < 2 {
        return Err("path `/` is too broad; use e.g. `/hooks/<vendor>/<account>`".into());
    }
    if let Some(c) = path
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || matches!(c, '?' | '#' | '%'))
    {
        return Err(format!(
            "path `{path}` contains {c:?}; use a plain path such as `/hooks/tencent/tx_main`"
        ));
    }
    Ok(())
}

/// A list of networks, as written in `[[sources]] allow_from` or `[daemon] trusted_proxies`:
/// CIDR blocks (`10.0.0.0/8`, `2001:db8::/32`) or plain addresses (`10.0.0.5`, `::1`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetList(Vec<IpNet>);

impl NetList {
    /// Parses every entry; the error names the first bad entry and says what is wrong with it.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<NetList, String> {
        entries
            .iter()
            .map(|entry| parse_net(entry.as_ref()))
            .collect::<Result<Vec<_>, _>>()
            .map(NetList)
    }

    /// True when `ip` is inside one of the networks. An IPv4 peer seen on a dual-stack socket as
    /// `::ffff:a.b.c.d` is matched as the IPv4 address it is.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// True when the list has no entry.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn parse_net(entry: &str) -> Result<IpNet, String> {
    let entry = entry.trim();
    if let Ok(net) = entry.parse::<IpNet>() {
        // `10.1.2.3/16` parses, but it is almost always a typo for one of two different things,
        // and guessing wrong either opens or closes a whole network.
        if net.addr() != net.network() {
            return Err(format!(
                "`{entry}` has bits set after its /{} prefix; write `{}` for the network or `{}` for the one address",
                net.prefix_len(),
                net.trunc(),
                net.addr()
            ));
        }
        return Ok(net);
    }
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Ok(IpNet::from(ip));
    }
    if let Some((addr, _)) = entry.split_once('/') {
        if addr.parse::<IpAddr>().is_ok() {
            return Err(format!(
                "`{entry}`: the prefix length after `/` must be 0 to 32 for IPv4, 0 to 128 for IPv6"
            ));
        }
    }
    Err(format!(
        "`{entry}` is not an IP address or a CIDR block (write e.g. `10.0.0.5`, `10.0.0.0/8`, `::1` or `2001:db8::/32`)"
    ))
}
