//! Packaging: `leadrelay init` scaffolds a project that passes `check` and `test` as written,
//! and `contrib/leadrelay.service` is a sandboxed unit whose paths match the README's
//! deployment config.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

fn leadrelay(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_leadrelay"));
    // The scaffold's own ./leadrelay.toml, not whatever the environment names.
    command.current_dir(dir).env_remove("LEADRELAY_CONFIG");
    command
}

fn run(dir: &Path, args: &[&str]) -> Output {
    leadrelay(dir).args(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn init_in_an_empty_folder_passes_check_and_test_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["init"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for file in leadrelay::init::files() {
        assert!(
            dir.path().join(&file.0).is_file(),
            "{} not written",
            file.0.display()
        );
        assert!(stdout.contains(&file.0.display().to_string()), "{stdout}");
    }
    assert!(
        stdout.contains("leadrelay check") && stdout.contains("leadrelay test"),
        "{stdout}"
    );

    let check = run(dir.path(), &["check"]);
    assert!(
        check.status.success(),
        "check: {}{}",
        text(&check.stdout),
        text(&check.stderr)
    );
    assert!(
        text(&check.stdout).contains("no problems"),
        "{}",
        text(&check.stdout)
    );

    let test = run(dir.path(), &["test"]);
    let report = text(&test.stdout);
    assert!(
        test.status.success(),
        "test: {report}{}",
        text(&test.stderr)
    );
    assert!(report.contains("2 passed, 0 failed"), "{report}");

    // The config it wrote is the one check and test read: an account per registered vendor.
    let config = leadrelay::config::Config::load(&dir.path().join("leadrelay.toml")).unwrap();
    for vendor in leadrelay::connectors::Vendor::ALL {
        assert!(
            config.accounts.values().any(|a| a.vendor == vendor),
            "no {vendor} account"
        );
    }
}

#[test]
fn init_refuses_to_overwrite_and_force_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("project");
    let project_arg = project.to_str().unwrap();
    assert!(run(dir.path(), &["init", project_arg]).status.success());
    let config = project.join("leadrelay.toml");
    std::fs::write(&config, "# mine\n").unwrap();

    let out = run(dir.path(), &["init", project_arg]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains(&config.display().to_string()), "{stderr}");
    assert!(stderr.contains("--force"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&config).unwrap(), "# mine\n");

    // Only the file that exists is named: a missing script is not a reason to refuse...
    std::fs::remove_file(project.join("scripts/leads_to_crm.rhai")).unwrap();
    let stderr = text(&run(dir.path(), &["init", project_arg]).stderr);
    assert!(stderr.contains("leads_to_crm.test.rhai"), "{stderr}");
    assert!(!stderr.contains("leads_to_crm.rhai"), "{stderr}");
    // ...and nothing is written when one file is refused.
    assert!(!project.join("scripts/leads_to_crm.rhai").exists());

    let out = run(dir.path(), &["init", "--force", project_arg]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(&config).unwrap(),
        leadrelay::init::config_toml()
    );
    assert!(project.join("scripts/leads_to_crm.rhai").is_file());
}

/// A systemd unit file: section → key → values in order (a key may repeat).
type Unit = BTreeMap<String, BTreeMap<String, Vec<String>>>;

/// Parses a unit file as INI, strictly: every line is blank, a comment, a `[section]` or a
/// `key=value` inside a section.
fn parse_unit(text: &str) -> Unit {
    let mut unit = Unit::new();
    let mut section: Option<String> = None;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = Some(name.to_string());
            unit.entry(name.to_string()).or_default();
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("line {}: not key=value: {line}", n + 1));
        let section = section
            .as_ref()
            .unwrap_or_else(|| panic!("line {}: key outside a section", n + 1));
        assert!(!key.trim().contains(' '), "line {}: bad key {key:?}", n + 1);
        unit.get_mut(section)
            .unwrap()
            .entry(key.trim().to_string())
            .or_default()
            .push(value.trim().to_string());
    }
    unit
}

fn unit_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/leadrelay.service")
}

#[test]
fn the_systemd_unit_is_sandboxed_and_its_paths_match_the_deployment_config() {
    let unit = parse_unit(&std::fs::read_to_string(unit_path()).unwrap());
    let service = &unit["Service"];
    let one = |key: &str| -> &str {
        let values = service
            .get(key)
            .unwrap_or_else(|| panic!("[Service] has no {key}"));
        assert_eq!(values.len(), 1, "{key} is set {} times", values.len());
        &values[0]
    };
    for (key, expected) in [
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("NoNewPrivileges", "yes"),
        ("StateDirectory", "leadrelay"),
        ("ConfigurationDirectory", "leadrelay"),
        ("EnvironmentFile", "-/etc/leadrelay/env"),
        ("Restart", "on-failure"),
        ("CapabilityBoundingSet", ""),
        ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
        ("SystemCallFilter", "@system-service"),
        (
            "ExecStart",
            "/usr/local/bin/leadrelay --config /etc/leadrelay/leadrelay.toml run",
        ),
    ] {
        assert_eq!(one(key), expected, "[Service] {key}");
    }
    // A dedicated user: a fixed one, or one systemd makes up.
    let dedicated = service.get("User").is_some_and(|u| u == &["leadrelay"])
        || service.get("DynamicUser").is_some_and(|d| d == &["yes"]);
    assert!(dedicated, "the unit runs as root");
    assert_eq!(unit["Install"]["WantedBy"], ["multi-user.target"]);

    // The README's deployment config puts the journal in the StateDirectory and the scripts in
    // the ConfigurationDirectory, and the unit's --config is that file.
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let deployment = readme
        .split("\n## Deployment")
        .nth(1)
        .expect("README has a Deployment section");
    let toml = deployment
        .split("```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the Deployment section has a toml block");
    let config =
        leadrelay::config::Config::parse(toml, "README Deployment", &|_| Some("x".into())).unwrap();
    let state = Path::new("/var/lib").join(one("StateDirectory"));
    let conf = Path::new("/etc").join(one("ConfigurationDirectory"));
    assert_eq!(
        config.daemon.journal,
        leadrelay::store::JournalTarget::Sqlite(state.join("leadrelay.db"))
    );
    assert!(
        config.daemon.scripts.starts_with(&conf),
        "{:?}",
        config.daemon.scripts
    );
    assert!(one("ExecStart").contains(&format!(
        "--config {}",
        conf.join("leadrelay.toml").display()
    )));
    assert!(one("EnvironmentFile")
        .trim_start_matches('-')
        .starts_with(conf.to_str().unwrap()));
}

#[test]
fn the_systemd_unit_passes_systemd_analyze_verify() {
    let Ok(version) = Command::new("systemd-analyze").arg("--version").output() else {
        println!("note: systemd-analyze is not installed; skipped `systemd-analyze verify`");
        return;
    };
    assert!(version.status.success());
    // verify also checks that ExecStart's binary exists: point it at the one just built.
    let dir = tempfile::tempdir().unwrap();
    let unit = std::fs::read_to_string(unit_path())
        .unwrap()
        .replace("/usr/local/bin/leadrelay", env!("CARGO_BIN_EXE_leadrelay"));
    let copy = dir.path().join("leadrelay.service");
    std::fs::write(&copy, unit).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&copy)
        .output()
        .unwrap();
    let messages = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{messages}");
    assert!(
        !messages.contains("leadrelay.service"),
        "systemd-analyze verify complains about the unit: {messages}"
    );
}

/// The README's "Running several nodes" config is what it says: a PostgreSQL journal from the
/// environment (password never shown), the node's name and its lease.
#[test]
fn the_readme_several_nodes_config_reads_as_documented() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = readme
        .split("\n## Running several nodes")
        .nth(1)
        .expect("README has a Running several nodes section");
    let toml = section
        .split("```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the section has a toml block");
    let url = "postgres://leadrelay:s3cret@db.internal:5432/leadrelay";
    let config = leadrelay::config::Config::parse(toml, "README several nodes", &|name| {
        (name == "LEADRELAY_JOURNAL").then(|| url.to_string())
    })
    .unwrap();
    let leadrelay::store::JournalTarget::Postgres(pg) = &config.daemon.journal else {
        panic!("{:?}", config.daemon.journal);
    };
    assert_eq!(pg.expose(), url);
    assert_eq!(
        config.daemon.journal.to_string(),
        "postgres://leadrelay:***@db.internal:5432/leadrelay"
    );
    assert!(!format!("{config:?}").contains("s3cret"));
    assert_eq!(config.daemon.node, "relay-1");
    assert_eq!(config.daemon.lease_secs, 12);
}
