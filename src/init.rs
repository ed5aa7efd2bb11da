//! `leadrelay init [DIR]`: scaffolds a project that works as written — a commented
//! `leadrelay.toml` with an account for every registered vendor, a `[[sources]]` entry per lead
//! source, the `[daemon]` defaults, and `scripts/` with an example script and its test — so
//! `leadrelay check` and `leadrelay test` pass in DIR straight away.
//!
//! The accounts are generated from the vendor registry ([`Vendor::ALL`]) and each simulator's
//! built-in credentials ([`sim::credentials_toml`]), so a new vendor appears here without an
//! edit. They point at the simulators by default, because a `${VAR}` the environment does not
//! set makes the config fail to load; the production lines, with `${VAR}` for every secret key,
//! are written beside them as comments.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::config::DaemonSettings;
use crate::connectors::Vendor;
use crate::sim;

/// Where `leadrelay sim` listens by default; the scaffold's accounts point here.
pub const SIM_LISTEN: &str = "127.0.0.1:9000";

/// The example script and its test (`templates/init/scripts/`).
const EXAMPLE_SCRIPT: (&str, &str) = (
    "scripts/leads_to_crm.rhai",
    include_str!("../templates/init/scripts/leads_to_crm.rhai"),
);
const EXAMPLE_TEST: (&str, &str) = (
    "scripts/leads_to_crm.test.rhai",
    include_str!("../templates/init/scripts/leads_to_crm.test.rhai"),
);

/// What went wrong while scaffolding.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// Files the scaffold would write already exist (and `--force` was not given).
    #[error("{} already exist{}; `leadrelay init` does not overwrite files (--force overwrites them)", list(.0), if .0.len() == 1 { "s" } else { "" })]
    Exists(Vec<PathBuf>),
    /// A file or folder could not be written.
    #[error("{path}: cannot write: {source}")]
    Write {
        /// The file or folder.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

fn list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The account name the scaffold gives `vendor`'s account.
pub fn account_name(vendor: Vendor) -> String {
    format!("{vendor}_main")
}

/// The environment variable the production line of `vendor`'s secret `key` reads.
pub fn env_var(vendor: Vendor, key: &str) -> String {
    format!("{}_{}", vendor.as_str(), key).to_uppercase()
}

/// Where `vendor`'s credentials come from, where the vendor spec (`vendors.md`) says so; `None`
/// for a vendor it does not (a new vendor included).
fn credentials_source(vendor: Vendor) -> Option<&'static str> {
    Some(match vendor.as_str() {
        "tencent" => "leads.qq.com → API 接入配置: the 线索拉取接口 tab shows the token and lets you generate the secret.",
        "feiyu" => "飞鱼CRM → 管理 → 线索应用设置 → 线索数据转发; each advertiser account has its own token and key.",
        "waiqin" => "issued by 勤策 for your tenant: openid (企业接入唯一授权标识), appkey (企业授权数据签名密钥), pushsecret (to receive pushes). Tenants on other clouds set base_url to the OpenAPI地址 shown in 勤策 → 系统管理 → 集成管理 → API管理 → API授权, + `/api`.",
        "xiaolanben" => "company_id is provided by your Xiaolanben account manager.",
        "linkflow" => "the App Key and App Secret of your private App in Linkflow.",
        _ => return None,
    })
}

/// The files `init` writes, relative to the project folder, with their contents.
pub fn files() -> Vec<(PathBuf, String)> {
    vec![
        (PathBuf::from("leadrelay.toml"), config_toml()),
        (
            PathBuf::from(EXAMPLE_SCRIPT.0),
            EXAMPLE_SCRIPT.1.to_string(),
        ),
        (PathBuf::from(EXAMPLE_TEST.0), EXAMPLE_TEST.1.to_string()),
    ]
}

/// The scaffold's `leadrelay.toml`.
pub fn config_toml() -> String {
    let mut out = String::from(
        "# leadrelay.toml, written by `leadrelay init`. `leadrelay check` and `leadrelay test` pass on\n\
         # it as written; the README explains every key.\n\
         #\n\
         # Accounts: one named credential set of one vendor (an agency has many). Each account below\n\
         # points at the built-in simulators with the simulators' own credentials, so the file loads\n\
         # and the scripts can be checked and tested before you have any real credentials:\n\
         #   leadrelay sim        # the simulators on http://127.0.0.1:9000 (another terminal)\n\
         #   leadrelay run        # the daemon, pulling from and calling the simulators\n\
         # For production, replace each account's simulator lines with the commented production\n\
         # lines. Secrets are read from the environment with ${VAR}: a ${VAR} that is not set stops\n\
         # the config from loading (which is why they are commented out until you set them). Without\n\
         # base_url an account uses the vendor's public API.\n",
    );
    for vendor in Vendor::ALL {
        account_section(&mut out, vendor);
    }
    sources_section(&mut out);
    daemon_section(&mut out);
    out
}

fn account_section(out: &mut String, vendor: Vendor) {
    let secret_keys = vendor.secret_keys();
    let _ = writeln!(out, "\n[accounts.{}]", account_name(vendor));
    let _ = writeln!(out, "vendor = \"{vendor}\"");
    if let Some(source) = credentials_source(vendor) {
        let _ = writeln!(out, "# Credentials: {source}");
    }
    let _ = writeln!(out, "# Production:");
    let credentials = sim::credentials_toml(vendor);
    for line in credentials.lines().filter(|l| !l.trim().is_empty()) {
        let key = line.split('=').next().unwrap_or_default().trim();
        if secret_keys.contains(&key) {
            let _ = writeln!(out, "# {key} = \"${{{}}}\"", env_var(vendor, key));
        } else {
            let _ = writeln!(out, "# {line}    # your own value");
        }
    }
    let _ = writeln!(out, "# The simulators (delete these lines for production):");
    let _ = writeln!(
        out,
        "base_url = \"http://{SIM_LISTEN}{}\"",
        sim::prefix(vendor)
    );
    out.push_str(credentials);
    if !credentials.ends_with('\n') {
        out.push('\n');
    }
}

fn sources_section(out: &mut String) {
    out.push_str(
        "\n# Sources: how leads enter. A push path is the URL path to give the platform\n\
         # (https://<your host><path>); a pull is a cron schedule (seconds first, Beijing time).\n",
    );
    for vendor in Vendor::ALL.into_iter().filter(|v| !v.is_destination()) {
        let _ = writeln!(out, "\n[[sources]]\naccount = \"{}\"", account_name(vendor));
        if vendor.pushes() {
            let _ = writeln!(out, "push = \"/hooks/{vendor}/{}\"", account_name(vendor));
            let _ = writeln!(
                out,
                "# allow_from = [\"203.0.113.0/24\"]   # only these senders may push here"
            );
        }
        if vendor.pulls() {
            let _ = writeln!(
                out,
                "pull = \"0 */2 * * * *\"             # every 2 minutes"
            );
        }
    }
}

fn daemon_section(out: &mut String) {
    // Destructured without `..`, so a new setting cannot be left out of the scaffold.
    let DaemonSettings {
        listen,
        journal,
        node: _,
        lease_secs: _,
        scripts,
        max_body_bytes,
        backlog_limit,
        max_in_flight,
        account_concurrency,
        retry_max_age_secs,
        breaker_failures,
        breaker_probe_secs,
        run_budget_ms,
        timezone,
        trusted_proxies,
        cron_catch_up_max_age_secs,
        keep_days,
        personal_data_days,
        admin_listen: _,
        admin_token: _,
        preview_on_reload,
    } = DaemonSettings::default();
    let quoted = |s: &str| toml::Value::String(s.to_string()).to_string();
    let proxies: Vec<String> = trusted_proxies.iter().map(|p| quoted(p)).collect();
    let rows: [(String, &str); 17] = [
        (
            format!("listen = {}", quoted(&listen.to_string())),
            "webhook pushes; put your TLS reverse proxy in front",
        ),
        (
            format!("journal = {}", quoted(&journal.to_string())),
            "the SQLite journal (or postgres://… for several nodes); back it up with `leadrelay journal backup FILE`",
        ),
        (
            format!("scripts = {}", quoted(&scripts.to_string_lossy())),
            "reloaded on save",
        ),
        (
            format!("max_body_bytes = {max_body_bytes}"),
            "larger pushes: 413",
        ),
        (
            format!("backlog_limit = {backlog_limit}"),
            "more waiting leads: pushes get 503 + Retry-After",
        ),
        (
            format!("max_in_flight = {max_in_flight}"),
            "leads routed at once",
        ),
        (
            format!("account_concurrency = {account_concurrency}"),
            "leads of one account routed at once",
        ),
        (
            format!("retry_max_age_secs = {retry_max_age_secs}"),
            "retry failing calls this long, then dead-letter",
        ),
        (
            format!("breaker_failures = {breaker_failures}"),
            "consecutive failed calls that open an account's breaker",
        ),
        (
            format!("breaker_probe_secs = {breaker_probe_secs}"),
            "one probe call per interval while open",
        ),
        (
            format!("run_budget_ms = {run_budget_ms}"),
            "one handler run, vendor calls included",
        ),
        (
            format!("timezone = {}", quoted(&timezone)),
            "cron schedules: Asia/Shanghai, UTC or an offset like +08:00",
        ),
        (
            format!("trusted_proxies = [{}]", proxies.join(", ")),
            "reverse proxies whose X-Forwarded-For is believed",
        ),
        (
            format!("cron_catch_up_max_age_secs = {cron_catch_up_max_age_secs}"),
            "on start, catch up a missed cron slot at most this old",
        ),
        (
            format!("keep_days = {keep_days}"),
            "delete finished leads, their runs and calls after this",
        ),
        (
            format!("personal_data_days = {personal_data_days}"),
            "keep only the redacted form of finished leads after this",
        ),
        (
            format!("preview_on_reload = {preview_on_reload}"),
            "on each reload, log what the new scripts would do to this many recent leads (0: off)",
        ),
    ];
    out.push_str("\n# The daemon (`leadrelay run`). Every key is optional; these are the defaults.\n[daemon]\n");
    for (line, comment) in rows {
        let _ = writeln!(out, "{line:<36}# {comment}");
    }
    out.push_str(
        "# The admin listener: /metrics, /healthz, /readyz and the ops console (off when unset).\n\
         # admin_listen = \"127.0.0.1:8081\"\n\
         # admin_token = \"${LEADRELAY_ADMIN_TOKEN}\"   # required when admin_listen is not loopback\n",
    );
}

/// Writes the scaffold into `dir` (created if missing). Refuses, before writing anything, when
/// one of its files exists, unless `force`. Returns the paths written.
pub fn scaffold(dir: &Path, force: bool) -> Result<Vec<PathBuf>, InitError> {
    let files: Vec<(PathBuf, String)> = files()
        .into_iter()
        .map(|(relative, text)| (dir.join(relative), text))
        .collect();
    if !force {
        let existing: Vec<PathBuf> = files
            .iter()
            .filter(|(path, _)| path.exists())
            .map(|(path, _)| path.clone())
            .collect();
        if !existing.is_empty() {
            return Err(InitError::Exists(existing));
        }
    }
    let mut written = Vec::new();
    for (path, text) in files {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| InitError::Write {
                path: parent.display().to_string(),
                source,
            })?;
        }
        std::fs::write(&path, text).map_err(|source| InitError::Write {
            path: path.display().to_string(),
            source,
        })?;
        written.push(path);
    }
    Ok(written)
}

/// `leadrelay init`: scaffolds `dir` and prints what it wrote and what to do next.
pub fn run(dir: &Path, force: bool) -> Result<ExitCode, InitError> {
    let written = scaffold(dir, force)?;
    for path in &written {
        println!("wrote {}", path.display());
    }
    let cd = if dir == Path::new(".") {
        String::new()
    } else {
        format!("  cd {}\n", dir.display())
    };
    println!(
        "\nNext steps:\n{cd}  leadrelay check      # compile the scripts against leadrelay.toml\n  \
         leadrelay test       # run scripts/*.test.rhai against the built-in simulators\n  \
         leadrelay sim        # (another terminal) the simulators the accounts point at\n  \
         leadrelay run        # the daemon\n\
         Then put your real credentials in leadrelay.toml (the commented production lines,\n\
         secrets as ${{VAR}} from the environment) and edit scripts/leads_to_crm.rhai."
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn the_config_loads_with_an_account_per_vendor_and_the_default_daemon_settings() {
        let config = Config::parse(&config_toml(), "leadrelay.toml", &|_| None).unwrap();
        assert_eq!(config.accounts.len(), Vendor::ALL.len());
        for vendor in Vendor::ALL {
            let account = &config.accounts[&account_name(vendor)];
            assert_eq!(account.vendor, vendor);
            assert_eq!(
                account.base_url,
                format!("http://{SIM_LISTEN}{}", sim::prefix(vendor))
            );
        }
        assert_eq!(config.daemon, DaemonSettings::default());
        let sources: Vec<&str> = config.sources.iter().map(|s| s.account.as_str()).collect();
        let expected: Vec<String> = Vendor::ALL
            .into_iter()
            .filter(|v| !v.is_destination())
            .map(account_name)
            .collect();
        assert_eq!(sources, expected);
    }

    #[test]
    fn the_production_lines_read_every_secret_from_the_environment() {
        // Uncomment the production lines, drop the simulator lines: the config loads from the
        // environment, and names the variable when one is missing.
        let production: String = config_toml()
            .lines()
            .filter(|l| {
                !(l.starts_with("base_url")
                    || sim_line(l)
                    || l.starts_with("# admin_")
                    || l.starts_with("# allow_from"))
            })
            .map(|l| {
                let l = l.split("    # your own value").next().unwrap();
                match l.strip_prefix("# ") {
                    Some(rest) if rest.contains(" = ") => rest.to_string(),
                    _ => l.to_string(),
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        let env = |name: &str| Some(format!("value-of-{name}"));
        let config = Config::parse(&production, "leadrelay.toml", &env).unwrap();
        for vendor in Vendor::ALL {
            assert_eq!(
                config.accounts[&account_name(vendor)].base_url,
                vendor.default_base_url()
            );
        }
        let e = Config::parse(&production, "leadrelay.toml", &|_| None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("environment variable"), "{e}");
        // Every secret key is a ${VAR} line.
        for vendor in Vendor::ALL {
            for key in vendor.secret_keys() {
                let line = format!("{key} = \"${{{}}}\"", env_var(vendor, key));
                assert!(production.contains(&line), "missing {line}");
            }
        }
    }

    /// Whether `line` is one of the simulator credential lines.
    fn sim_line(line: &str) -> bool {
        Vendor::ALL
            .into_iter()
            .any(|v| sim::credentials_toml(v).lines().any(|c| c == line))
    }
}
