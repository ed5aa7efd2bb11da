//! The `leadrelay` binary end to end.

use std::process::Command;

fn leadrelay() -> Command {
    Command::new(env!("CARGO_BIN_EXE_leadrelay"))
}

#[test]
fn wrong_config_is_one_line_naming_file_account_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("leadrelay.toml");
    std::fs::write(
        &path,
        "[accounts.xlb]\nvendor = \"xiaolanben\"\ncompany_id = 1\nkey = \"k\"\nsecret = \"oops\"\n",
    )
    .unwrap();
    let out = leadrelay()
        .args([
            "--config",
            path.to_str().unwrap(),
            "call",
            "xlb",
            "list_staffs",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<_> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].contains("leadrelay.toml: account `xlb`: unknown key `secret`"),
        "{stderr}"
    );
}

#[test]
fn call_help_lists_every_op_with_its_vendor() {
    let out = leadrelay().args(["call", "--help"]).output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for (vendor, op) in leadrelay::connectors::all_ops() {
        assert!(
            help.contains(op.name),
            "{} missing from call --help",
            op.name
        );
        assert!(help.contains(&format!("[{vendor}]")));
    }
}

fn manifest_path(relative: &str) -> String {
    format!("{}/{relative}", env!("CARGO_MANIFEST_DIR"))
}

/// `leadrelay sim` as a child process; killed on drop.
struct SimProcess {
    child: std::process::Child,
    config: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl SimProcess {
    fn start() -> SimProcess {
        use std::io::BufRead;
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("leadrelay.toml");
        let mut child = leadrelay()
            .args([
                "sim",
                "--listen",
                "127.0.0.1:0",
                "--leads",
                "5",
                "--write-config",
            ])
            .arg(&config)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = std::io::BufReader::new(stdout).lines();
        let started = std::time::Instant::now();
        while started.elapsed() < std::time::Duration::from_secs(20) {
            match lines.next() {
                Some(Ok(line)) if line.starts_with("config written to") => {
                    // The simulator prints more after this line; a closed pipe would make that
                    // print fail and the simulator exit, so keep reading until it does.
                    std::thread::spawn(move || lines.for_each(drop));
                    return SimProcess {
                        child,
                        config,
                        _dir: dir,
                    };
                }
                Some(Ok(_)) => continue,
                _ => break,
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("leadrelay sim did not start");
    }

    fn call(&self, account: &str, op: &str, json: &str) -> std::process::Output {
        leadrelay()
            .arg("--config")
            .arg(&self.config)
            .args(["call", account, op, "--json", json])
            .output()
            .unwrap()
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The README's `leadrelay --config sim.toml call ACCOUNT OP --json '…'` lines.
fn readme_call_examples() -> Vec<(String, String, String)> {
    let readme = std::fs::read_to_string(manifest_path("README.md")).unwrap();
    readme
        .lines()
        .filter_map(|line| {
            line.trim()
                .strip_prefix("leadrelay --config sim.toml call ")
        })
        .map(|rest| {
            let (head, json) = rest.split_once(" --json '").expect("a --json '…' argument");
            let (account, op) = head.split_once(' ').unwrap();
            (
                account.to_string(),
                op.to_string(),
                json.trim_end_matches('\'').to_string(),
            )
        })
        .collect()
}

#[test]
fn the_readme_call_examples_work_against_sim_for_every_vendor() {
    let sim = SimProcess::start();
    let examples = readme_call_examples();
    let vendors: std::collections::BTreeSet<_> =
        examples.iter().map(|(a, _, _)| a.clone()).collect();
    assert_eq!(vendors.len(), 5, "one example per vendor: {examples:?}");
    for (account, op, json) in &examples {
        let out = sim.call(account, op, json);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{account} {op}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_str::<serde_json::Value>(&stdout)
            .unwrap_or_else(|e| panic!("{account} {op}: {e}: {stdout}"));
    }
    let listed = sim.call(
        "sim_tencent",
        "list_leads",
        r#"{"start_time":"2020-01-01","end_time":"2030-12-31"}"#,
    );
    assert!(String::from_utf8_lossy(&listed.stdout).contains("\"total_number\": 5"));
    // As the README says: the Waiqin example a second time is the vendor's own error, exit 1,
    // printed as the README quotes it.
    let (account, op, json) = examples.iter().find(|(a, _, _)| a == "sim_waiqin").unwrap();
    let again = sim.call(account, op, json);
    assert_eq!(again.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&again.stderr);
    let readme = std::fs::read_to_string(manifest_path("README.md")).unwrap();
    let quoted = "HTTP 200, code 1: 线索编码[demo-1]已存在";
    assert!(readme.contains(quoted), "the README quotes the answer");
    assert!(
        stderr.contains(quoted) && stderr.contains("(not retryable)"),
        "{stderr}"
    );
}

/// The README's op table is generated from the ops tables. `LEADRELAY_BLESS=1 cargo test
/// readme_op_table` rewrites it after an op changes.
#[test]
fn the_readme_op_table_is_the_generated_one() {
    let path = manifest_path("README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let begin = readme
        .find("<!-- ops:begin")
        .expect("README has <!-- ops:begin -->");
    let begin = begin + readme[begin..].find("-->").unwrap() + "-->\n".len();
    let end = readme
        .find("<!-- ops:end -->")
        .expect("README has <!-- ops:end -->");
    let table = leadrelay::connectors::ops::markdown_table();
    if readme[begin..end] != table {
        if std::env::var_os("LEADRELAY_BLESS").is_some() {
            std::fs::write(
                &path,
                format!("{}{table}{}", &readme[..begin], &readme[end..]),
            )
            .unwrap();
            return;
        }
        panic!(
            "README's op table is stale; run `LEADRELAY_BLESS=1 cargo test readme_op_table` or paste:\n{table}"
        );
    }
    for (vendor, op) in leadrelay::connectors::all_ops() {
        assert!(readme.contains(&format!("| `{}` | {vendor} |", op.name)));
    }
}

#[test]
fn check_test_and_definitions_work_on_the_shipped_scripts() {
    let check = leadrelay()
        .args(["check", &manifest_path("scripts")])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{stdout}");
    assert!(stdout.contains("no problems"), "{stdout}");

    let test = leadrelay()
        .args(["test", &manifest_path("scripts")])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&test.stdout);
    assert!(test.status.success(), "{stdout}");
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
    assert!(
        stdout.contains("ok   tencent_to_xiaolanben.test.rhai::form_leads_go_to_staff_1001"),
        "{stdout}"
    );

    let dir = tempfile::tempdir().unwrap();
    let defs = leadrelay()
        .args(["definitions"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(defs.status.success());
    let xiaolanben = std::fs::read_to_string(dir.path().join("xiaolanben.d.rhai")).unwrap();
    assert!(
        xiaolanben.contains("fn import_customer(account: string, payload: map)"),
        "{xiaolanben}"
    );
    let statics = std::fs::read_to_string(dir.path().join("__static__.d.rhai")).unwrap();
    assert!(
        statics.contains("fn get kind(lead: Lead)") && statics.contains("fn on_lead("),
        "{statics}"
    );
    let tencent = std::fs::read_to_string(dir.path().join("tencent.d.rhai")).unwrap();
    assert!(
        tencent.contains("LEADS_TYPE_FORM"),
        "constants missing from tencent.d.rhai"
    );
}

#[test]
fn check_reports_every_problem_with_its_place() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.rhai"),
        "on_lead(\"route\");\nfn route(lead) {\n  let x = ;\n}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("b.rhai"),
        "schedule(\"every day\", \"job\");\nfn job() {}\n",
    )
    .unwrap();
    let out = leadrelay().arg("check").arg(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let a = dir.path().join("a.rhai").display().to_string();
    let b = dir.path().join("b.rhai").display().to_string();
    assert!(stdout.contains(&format!("{a}:3:11: ")), "{stdout}");
    assert!(
        stdout.contains(&format!("{b}:1:1: bad cron expression `every day`")),
        "{stdout}"
    );
    assert!(stdout.contains("2 problems"), "{stdout}");
}

#[test]
fn route_dry_run_prints_each_call_to_the_simulators() {
    let dir = tempfile::tempdir().unwrap();
    let lead = dir.path().join("lead.json");
    std::fs::write(&lead, r#"{"leads_id": 9007199254740993, "leads_type": "LEADS_TYPE_FORM", "leads_name": "张三", "leads_tel": "13812345678"}"#).unwrap();
    let out = leadrelay()
        .args([
            "route",
            "--vendor",
            "tencent",
            "--dry-run",
            "--scripts",
            &manifest_path("scripts"),
            "--lead",
        ])
        .arg(&lead)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("lead 9007199254740993 from tencent"),
        "{stdout}"
    );
    assert!(
        stdout.contains("call xiaolanben::import_customer"),
        "{stdout}"
    );
    assert!(stdout.contains("\"staffId\":1001"), "{stdout}");
    assert!(stdout.contains("call linkflow::send_messages"), "{stdout}");
}

#[test]
fn demo_runs_on_the_shipped_scripts_without_config_and_ends_with_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let out = leadrelay()
        .current_dir(dir.path())
        .args([
            "demo",
            "--seconds",
            "3",
            "--leads",
            "40",
            "--scripts",
            &manifest_path("scripts"),
        ])
        .env("LEADRELAY_LOG", "error")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("leads in"), "live progress: {stdout}");
    assert!(
        stdout.contains("summary") && stdout.contains("dead letters                      0"),
        "{stdout}"
    );
    assert!(stdout.contains("leads show "), "what to try next: {stdout}");
}

/// Issue 8, item 2(b): with a config (found as ./leadrelay.toml or given), `check` reports
/// handlers naming accounts the config lacks or has for another vendor; without one, neither
/// `check` nor `test` rejects account names (the simulators stand in for them).
#[test]
fn check_with_a_config_reports_handlers_naming_accounts_it_lacks() {
    let dir = tempfile::tempdir().unwrap();
    let scripts = dir.path().join("scripts");
    std::fs::create_dir(&scripts).unwrap();
    std::fs::write(
        scripts.join("a.rhai"),
        "on_lead(\"tencent\", \"tx_mian\", \"route\");\non_follow(\"tx_main\", \"route\");\nfn route(lead) {}\n",
    )
    .unwrap();
    std::fs::write(
        scripts.join("a.test.rhai"),
        "fn test_loads() { assert(true, \"loads\"); }\n",
    )
    .unwrap();
    let config = "[accounts.tx_main]\nvendor = \"tencent\"\ntoken = \"t\"\nsecret = \"s\"\n\n[accounts.tx_brand_b]\nvendor = \"tencent\"\ntoken = \"t\"\nsecret = \"s\"\n\n[accounts.wq]\nvendor = \"waiqin\"\nopenid = \"1\"\nappkey = \"k\"\n";
    std::fs::write(dir.path().join("leadrelay.toml"), config).unwrap();
    std::fs::write(dir.path().join("other.toml"), config).unwrap();
    let run = |args: &[&str], cwd: &std::path::Path| {
        let out = leadrelay()
            .args(args)
            .current_dir(cwd)
            .env_remove("LEADRELAY_CONFIG")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
        )
    };

    let (code, stdout) = run(&["check", "scripts"], dir.path());
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        stdout.contains("scripts/a.rhai:1:1: on_lead names account \"tx_mian\", which is not in leadrelay.toml (accounts of tencent: tx_brand_b, tx_main)\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("scripts/a.rhai:2:1: on_follow names account \"tx_main\", which is a tencent account, not a waiqin one (accounts of waiqin: wq)\n"),
        "{stdout}"
    );
    let (code, stdout) = run(&["--config", "other.toml", "check", "scripts"], dir.path());
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("which is not in other.toml"), "{stdout}");
    let (code, stdout) = run(&["test", "scripts"], dir.path());
    assert_eq!(code, Some(1), "a config applies to `test` too: {stdout}");

    // No config: nothing to check the names against.
    let (code, stdout) = run(&["check", "."], &scripts);
    assert_eq!(code, Some(0), "{stdout}");
    let (code, stdout) = run(&["test", "."], &scripts);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("1 passed, 0 failed"), "{stdout}");
}

/// The README's Rhai blocks, in order.
fn readme_rhai_blocks() -> Vec<String> {
    let readme = std::fs::read_to_string(manifest_path("README.md")).unwrap();
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in readme.lines() {
        match (&mut current, line.trim_start()) {
            (None, "```rhai") => current = Some(String::new()),
            (Some(_), "```") => blocks.push(current.take().unwrap()),
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

/// Every Rhai example in the README loads with the production engine, and the script and test
/// of the tour pass `leadrelay test` together, so the README cannot drift from the product.
#[test]
fn the_readme_rhai_examples_load_and_the_tour_test_passes() {
    let blocks = readme_rhai_blocks();
    let find = |needle: &str| -> &String {
        blocks
            .iter()
            .find(|b| b.contains(needle))
            .unwrap_or_else(|| panic!("no README rhai block contains `{needle}`"))
    };
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: String| std::fs::write(dir.path().join(name), text).unwrap();
    write(
        "tour.rhai",
        find("on_lead(\"tencent\", \"route_tencent\")").clone(),
    );
    write(
        "tour.test.rhai",
        find("fn test_form_leads_go_to_staff_1001").clone(),
    );
    // Fragments become handlers, as a reader would paste them.
    write(
        "dedup.rhai",
        format!(
            "on_lead(\"feiyu\", \"route\");\n{}",
            find("once(\"phone:\"")
        ),
    );
    write(
        "exists.rhai",
        format!(
            "on_lead(\"feiyu\", \"route_exists\");\nfn route_exists(lead) {{\n{}}}\n",
            find("e.kind == \"exists\"")
        ),
    );
    // A script and its test, each a block whose first line names it (`// scripts/x.rhai`,
    // `// scripts/x.test.rhai`), pass `leadrelay test` together in a folder of their own.
    let name_of = |block: &String| {
        block
            .lines()
            .next()
            .and_then(|l| l.trim().strip_prefix("// scripts/"))
            .map(str::to_string)
    };
    let mut covered = 4;
    let mut pairs = 0;
    for test_block in blocks.iter() {
        let Some(test_name) = name_of(test_block).filter(|n| n.ends_with(".test.rhai")) else {
            continue;
        };
        let script_name = test_name.replace(".test.rhai", ".rhai");
        let script_block = blocks
            .iter()
            .find(|b| name_of(b).as_deref() == Some(script_name.as_str()))
            .unwrap_or_else(|| panic!("the README has a test {test_name} but no {script_name}"));
        let pair = tempfile::tempdir().unwrap();
        std::fs::write(pair.path().join(&script_name), script_block).unwrap();
        std::fs::write(pair.path().join(&test_name), test_block).unwrap();
        let tests = test_block.matches("\nfn test_").count();
        let run = leadrelay().arg("test").arg(pair.path()).output().unwrap();
        let out = String::from_utf8_lossy(&run.stdout).to_string()
            + &*String::from_utf8_lossy(&run.stderr);
        assert!(run.status.success(), "{test_name}: {out}");
        assert!(
            out.contains(&format!("{tests} passed, 0 failed")),
            "{test_name}: {out}"
        );
        covered += 2;
        pairs += 1;
    }
    assert!(
        pairs >= 1,
        "the README's script guide has a script with its test"
    );
    for (i, block) in blocks.iter().enumerate() {
        let known = [
            "route_tencent",
            "fn test_form",
            "once(\"phone:\"",
            "e.kind == \"exists\"",
        ];
        let paired = name_of(block).is_some_and(|n| {
            n.ends_with(".test.rhai")
                || blocks
                    .iter()
                    .any(|b| name_of(b).as_deref() == Some(&n.replace(".rhai", ".test.rhai")))
        });
        if let Some(module) = block
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("// scripts/shared/"))
        {
            // A shared module example goes where its first line says.
            std::fs::create_dir_all(dir.path().join("shared")).unwrap();
            std::fs::write(dir.path().join("shared").join(module.trim()), block).unwrap();
            covered += 1;
        } else if !paired && !known.iter().any(|k| block.contains(k)) {
            // A new example: it must at least load as a script of its own.
            write(&format!("extra_{i}.rhai"), block.clone());
            covered += 1;
        }
    }
    assert_eq!(covered, blocks.len());

    let check = leadrelay().arg("check").arg(dir.path()).output().unwrap();
    let out = String::from_utf8_lossy(&check.stdout).to_string()
        + &*String::from_utf8_lossy(&check.stderr);
    assert!(check.status.success(), "{out}");
    assert!(out.contains("no problems"), "{out}");
    let test = leadrelay().arg("test").arg(dir.path()).output().unwrap();
    let out = String::from_utf8_lossy(&test.stdout).to_string();
    assert!(test.status.success(), "{out}");
    assert!(out.contains("1 passed, 0 failed"), "{out}");
}
