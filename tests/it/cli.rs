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
    for (vendor, op) in leadrelay::vendor::all_ops() {
        assert!(
            help.contains(op.name),
            "{} missing from call --help",
            op.name
        );
        assert!(help.contains(&format!("[{vendor}]")));
    }
}
