//! `once`, `skip` and schedule options as scripts see them: through the production engine,
//! `route` without the daemon, and `leadrelay test` (which must predict what the daemon does).
//! The journal's side is in `journal.rs`, the daemon's in `daemon.rs`.

use std::process::Command;
use std::sync::Arc;

use leadrelay::connectors::{Accounts, Vendor};
use leadrelay::host::engine::{new_engine, Services};
use leadrelay::host::generation::Host;
use leadrelay::host::run::{CatchUp, Declaration};
use leadrelay::host::script;
use leadrelay::lead::Lead;
use serde_json::json;

/// The README's example: one lead per phone number and day.
const DEDUP: &str = r#"
on_lead("tencent", "route");
fn route(lead) {
    if !once("phone:" + phone::normalize(lead.phone), 86400) {
        skip("same phone today");
        return;
    }
    print("first lead of this phone today");
}
"#;

fn lead(id: &str, phone: &str) -> Lead {
    let mut lead = Lead::new(Vendor::Tencent, "tx", id, json!({}));
    lead.phone = Some(phone.into());
    lead
}

fn host_with(dir: &std::path::Path, source: &str) -> Arc<Host> {
    std::fs::write(dir.join("route.rhai"), source).unwrap();
    let host = Host::new(Arc::new(Services::new(Accounts::default())));
    let loaded = host.load_dir(dir).unwrap();
    assert!(
        loaded
            .iter()
            .all(|(_, v)| *v == leadrelay::host::generation::Verdict::Live),
        "{loaded:?}"
    );
    host
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_lets_the_first_lead_of_a_key_through_and_skip_ends_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let host = host_with(dir.path(), DEDUP);
    let first = host.run_lead(&lead("1", "13812345678")).await;
    assert!(first[0].result.outcome.is_ok());
    assert_eq!(first[0].result.skipped, None);
    // The same number written differently normalizes to the same key.
    let second = host.run_lead(&lead("2", "+86 138-1234-5678")).await;
    assert!(second[0].result.outcome.is_ok(), "a skip is not a failure");
    assert_eq!(
        second[0].result.skipped.as_deref(),
        Some("same phone today")
    );
    let other = host.run_lead(&lead("3", "13900001111")).await;
    assert_eq!(other[0].result.skipped, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handlers_of_one_lead_share_its_claim_and_skip_cannot_be_caught() {
    let dir = tempfile::tempdir().unwrap();
    let source = r#"
on_lead("first");
on_lead("second");
fn first(lead) { if !once("k:" + lead.phone, 60) { skip("taken"); } }
fn second(lead) {
    if !once("k:" + lead.phone, 60) { skip("taken"); }
    try { skip("inside try"); } catch (e) { throw "skip was caught: " + e; }
    throw "skip did not end the handler";
}
"#;
    let host = host_with(dir.path(), source);
    let runs = host.run_lead(&lead("1", "13812345678")).await;
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].result.skipped, None, "the first claim");
    assert!(
        runs[1].result.outcome.is_ok(),
        "{:?}",
        runs[1].result.outcome
    );
    assert_eq!(
        runs[1].result.skipped.as_deref(),
        Some("inside try"),
        "the same lead's second handler holds the claim too, and skip ends it"
    );
    let again = host.run_lead(&lead("2", "13812345678")).await;
    assert_eq!(again[0].result.skipped.as_deref(), Some("taken"));
}

#[tokio::test]
async fn once_and_skip_are_refused_at_the_top_level_and_bad_arguments_are_explained() {
    let engine = new_engine(Arc::new(Services::new(Accounts::default())));
    let limits = Default::default();
    let errors =
        script::load(&engine, &limits, "scripts/t.rhai", "once(\"k\", 60);\n").unwrap_err();
    assert!(
        errors[0].to_string().starts_with("scripts/t.rhai:1:1:")
            && errors[0].to_string().contains("inside a handler"),
        "{errors:?}"
    );
    let errors = script::load(&engine, &limits, "scripts/t.rhai", "\nskip(\"x\");\n").unwrap_err();
    assert!(errors[0]
        .to_string()
        .contains("skip(…) cannot be called at the top level"));

    let version = script::load(
        &engine,
        &limits,
        "scripts/t.rhai",
        "fn zero() { once(\"k\", 0) }\nfn empty() { once(\"\", 60) }\n",
    )
    .unwrap();
    let zero = script::run_handler(&engine, &limits, &version, "zero", vec![]);
    let e = zero.outcome.unwrap_err().to_string();
    assert!(e.contains("ttl_secs must be between 1 and"), "{e}");
    let empty = script::run_handler(&engine, &limits, &version, "empty", vec![]);
    assert!(empty
        .outcome
        .unwrap_err()
        .to_string()
        .contains("the key is empty"));
}

#[tokio::test]
async fn schedule_takes_a_catch_up_policy_and_refuses_unknown_options() {
    let engine = new_engine(Arc::new(Services::new(Accounts::default())));
    let limits = Default::default();
    let source = "schedule(\"0 0 9 * * *\", \"a\");\n\
                  schedule(\"0 0 9 * * *\", \"b\", #{ catch_up: \"none\" });\n\
                  schedule(\"0 0 9 * * *\", \"c\", #{ catch_up: \"last\" });\n\
                  fn a() {}\nfn b() {}\nfn c() {}\n";
    let version = script::load(&engine, &limits, "scripts/t.rhai", source).unwrap();
    let policies: Vec<CatchUp> = version
        .declarations
        .iter()
        .filter_map(|d| match d {
            Declaration::Schedule { catch_up, .. } => Some(*catch_up),
            _ => None,
        })
        .collect();
    assert_eq!(policies, [CatchUp::Last, CatchUp::Never, CatchUp::Last]);

    for (options, expected) in [
        (
            "#{ catch_up: \"all\" }",
            "catch_up must be one of \"last\", \"none\", got all",
        ),
        (
            "#{ catchup: \"none\" }",
            "unknown option `catchup`; the options are: catch_up",
        ),
    ] {
        let source = format!("\nschedule(\"0 0 9 * * *\", \"a\", {options});\nfn a() {{}}\n");
        let errors = script::load(&engine, &limits, "scripts/t.rhai", &source).unwrap_err();
        let message = errors[0].to_string();
        assert!(
            message.starts_with("scripts/t.rhai:2:1:") && message.contains(expected),
            "{message}"
        );
    }
}

#[test]
fn leadrelay_test_predicts_once_and_skip_as_the_daemon_does() {
    let dir = tempfile::tempdir().unwrap();
    let scripts = dir.path().join("scripts");
    std::fs::create_dir(&scripts).unwrap();
    std::fs::write(scripts.join("dedup.rhai"), DEDUP).unwrap();
    std::fs::write(
        scripts.join("dedup.test.rhai"),
        r#"
fn lead(id, tel) {
    make_lead("tencent", #{ leads_id: id, leads_type: "LEADS_TYPE_FORM", leads_name: "张三", leads_tel: tel })
}

fn test_a_second_lead_with_the_same_phone_is_skipped() {
    let first = route(lead(1, "13812345678"));
    assert_eq(first[0].skipped, ());
    let second = route(lead(2, "+86 13812345678"));
    assert_eq(second[0].skipped, "same phone today");
    assert(second[0].ok, "a skip is not a failure");
}

fn test_each_test_starts_with_no_keys() {
    assert_eq(route(lead(3, "13812345678"))[0].skipped, ());
}
"#,
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_leadrelay"))
        .current_dir(dir.path())
        .args(["test", "scripts"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("2 passed, 0 failed"), "{stdout}");
}
