//! The scripting host through the production engine constructor.

use std::sync::Arc;
use std::time::{Duration, Instant};

use leadrelay::connectors::{Accounts, Vendor};
use leadrelay::host::engine::{new_engine, Services};
use leadrelay::host::limits::Limits;
use leadrelay::host::run::Declaration;
use leadrelay::host::script::{self, ScriptVersion};

use crate::common::Harness;

fn services(accounts: Accounts, budget: Duration) -> Arc<Services> {
    Arc::new(Services {
        limits: Limits {
            run_budget: budget,
            ..Limits::default()
        },
        ..Services::new(accounts)
    })
}

fn load_ok(engine: &rhai::Engine, limits: &Limits, source: &str) -> ScriptVersion {
    script::load(engine, limits, "scripts/t.rhai", source)
        .unwrap_or_else(|e| panic!("load failed: {e:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runaway_scripts_stop_within_budget_while_other_runs_continue() {
    let budget = Duration::from_millis(300);
    let services = services(Accounts::default(), budget);
    let engine = Arc::new(new_engine(services.clone()));
    let source = r#"
        fn spin() { loop {} }
        fn recurse() { recurse() }
        fn double() { let s = "x"; loop { s += s; } }
        fn grow() { let a = []; loop { a.push(1); } }
        fn quick() { 40 + 2 }
    "#;
    let version = Arc::new(load_ok(&engine, &services.limits, source));
    let mut runaways = Vec::new();
    for (function, expect) in [
        ("spin", &["time budget"][..]),
        ("recurse", &["nested function calls"]),
        ("double", &["string"]),
        // The array limit is checked on every push by measuring the array, so in a debug build
        // the budget can run out first; either way the run stops with a clear reason.
        ("grow", &["array", "time budget"]),
    ] {
        let (engine, version, limits) = (engine.clone(), version.clone(), services.limits.clone());
        runaways.push(tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let run = script::run_handler(&engine, &limits, &version, function, vec![]);
            (function, expect, run.outcome, started.elapsed())
        }));
    }
    // A well-behaved run is not held up by the runaways.
    let (e, v, l) = (engine.clone(), version.clone(), services.limits.clone());
    let quick = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let run = script::run_handler(&e, &l, &v, "quick", vec![]);
        (run.outcome.unwrap().as_int().unwrap(), started.elapsed())
    })
    .await
    .unwrap();
    assert_eq!(quick.0, 42);
    assert!(
        quick.1 < Duration::from_millis(100),
        "quick run took {:?}",
        quick.1
    );
    for handle in runaways {
        let (function, expect, outcome, elapsed) = handle.await.unwrap();
        let error = outcome.expect_err(function);
        let text = error.to_string().to_lowercase();
        assert!(
            expect.iter().any(|e| text.contains(e)),
            "{function}: {text}"
        );
        assert!(text.starts_with("scripts/t.rhai:"), "{function}: {text}");
        assert!(
            elapsed <= budget + Duration::from_millis(50),
            "{function} ran {elapsed:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vendor_calls_at_load_time_are_refused_with_the_place() {
    let harness = Harness::start().await;
    let accounts = Accounts::from_config(&harness.config, Default::default(), Default::default());
    let services = services(accounts, Duration::from_secs(2));
    let engine = new_engine(services.clone());
    let source = "let staff = xiaolanben::list_staffs(#{ pageIndex: 1, pageSize: 20 });\n";
    let errors = tokio::task::spawn_blocking(move || {
        script::load(&engine, &services.limits, "scripts/bad.rhai", source).unwrap_err()
    })
    .await
    .unwrap();
    assert_eq!(errors.len(), 1);
    let text = errors[0].to_string();
    assert!(text.starts_with("scripts/bad.rhai:1:"), "{text}");
    assert!(
        text.contains("xiaolanben::list_staffs cannot be called at the top level"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declarations_are_collected_and_checked_at_load() {
    let services = services(Accounts::default(), Duration::from_secs(2));
    let engine = new_engine(services.clone());
    let limits = services.limits.clone();
    let good = r#"
        on_lead("tencent", "route_tencent");
        on_lead("feiyu", "fy_main", Fn("route_feiyu"));
        on_follow("follow");
        schedule("30 9 * * *", "daily");
        fn route_tencent(lead) {}
        fn route_feiyu(lead) {}
        fn follow(record) {}
        fn daily() {}
    "#;
    let version = load_ok(&engine, &limits, good);
    assert_eq!(version.declarations.len(), 4);
    assert!(
        matches!(&version.declarations[3], Declaration::Schedule { cron, .. } if cron == "30 9 * * *")
    );

    let missing = "on_lead(\"route\");\n";
    let e = script::load(&engine, &limits, "s.rhai", missing).unwrap_err();
    assert_eq!(
        e[0].to_string(),
        "s.rhai:1:1: lead handler `route`: no function `route` is defined in this script"
    );

    let bad_cron = "\nschedule(\"0 61 * * * *\", \"daily\");\nfn daily() {}\n";
    let e = script::load(&engine, &limits, "s.rhai", bad_cron).unwrap_err();
    assert!(
        e[0].to_string()
            .starts_with("s.rhai:2:1: bad cron expression `0 61 * * * *`"),
        "{}",
        e[0]
    );

    let syntax = "fn route(lead) {\n  let x = ;\n}\n";
    let e = script::load(&engine, &limits, "s.rhai", syntax).unwrap_err();
    assert!(e[0].to_string().starts_with("s.rhai:2:11: "), "{}", e[0]);

    let unknown_vendor = "on_lead(\"baidu\", \"route\");\nfn route(lead) {}\n";
    let e = script::load(&engine, &limits, "s.rhai", unknown_vendor).unwrap_err();
    assert!(
        e[0].to_string().contains("unknown vendor `baidu`"),
        "{}",
        e[0]
    );

    let inside = "fn route(lead) { on_lead(\"x\") }\n";
    let version = load_ok(&engine, &limits, inside);
    let run = script::run_handler(
        &engine,
        &limits,
        &version,
        "route",
        vec![rhai::Dynamic::UNIT],
    );
    assert!(run
        .outcome
        .unwrap_err()
        .message
        .contains("call it at the top level"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handlers_see_top_level_constants() {
    let services = services(Accounts::default(), Duration::from_secs(2));
    let engine = new_engine(services.clone());
    let source = "const TEAM = #{ \"广州市\": [\"陈静\"] };\nconst OWNER = 1001;\nfn owner() { OWNER }\nfn team(city) { TEAM[city] ?? [] }\n";
    let version = load_ok(&engine, &services.limits, source);
    assert_eq!(
        version.constants.len(),
        2,
        "constants kept: {:?}",
        version.constants
    );
    let before = std::time::SystemTime::now();
    let run = script::run_handler(&engine, &services.limits, &version, "owner", vec![]);
    assert!(
        run.started_at >= before && run.started_at <= std::time::SystemTime::now(),
        "the run's own start time"
    );
    assert_eq!(run.outcome.unwrap().as_int().unwrap(), 1001);
    let run = script::run_handler(
        &engine,
        &services.limits,
        &version,
        "team",
        vec!["广州市".into()],
    );
    assert_eq!(run.outcome.unwrap().to_string(), "[\"陈静\"]");
}

/// Runs `fn probe()` of `source` against the simulators' accounts and returns its value as JSON.
async fn probe(harness: &Harness, source: &str) -> Result<serde_json::Value, String> {
    let accounts = Accounts::from_config(&harness.config, Default::default(), Default::default());
    let host = leadrelay::host::generation::Host::new(Arc::new(Services::new(accounts)));
    let version = script::load(host.engine(), &host.services().limits, "probe.rhai", source)
        .map_err(|e| format!("{e:?}"))?;
    let run = host.run(Arc::new(version), "probe", vec![]).await;
    run.result
        .outcome
        .map_err(|e| e.to_string())
        .and_then(|d| leadrelay::host::convert::dynamic_to_json(&d))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_vendor_is_callable_from_rhai_against_the_simulators() {
    let harness = Harness::start().await;
    let source = r#"
        fn probe() {
            let today = now_beijing();
            let day = "" + today.year + "-" + (if today.month < 10 { "0" } else { "" }) + today.month
                + "-" + (if today.day < 10 { "0" } else { "" }) + today.day;
            #{
                tencent: tencent::list_leads(#{ start_time: "2020-01-01", end_time: day }).page_info.page,
                feiyu: feiyu::pull_clues(#{ start_time: "2020-01-01", end_time: day }).status,
                waiqin: waiqin::add_sales_leads(#{ code: "rhai-1", cus_name: "张三", poolName: "公海" }).msg_id != (),
                xiaolanben: xiaolanben::import_customer("sim_xiaolanben", #{
                    customerName: "张三 13812345678",
                    staffId: 1001,
                    contacts: [#{ thirdDataId: "t:1", name: "张三", phone: "13812345678" }],
                }).isNew,
                linkflow: linkflow::find_contact(#{ idType: "mobile", id: "13800000000" }),
            }
        }
    "#;
    let answer = probe(&harness, source).await.unwrap();
    assert_eq!(
        answer,
        serde_json::json!({"tencent": 1, "feiyu": "success", "waiqin": true, "xiaolanben": true, "linkflow": null})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vendor_errors_are_catchable_maps_and_validation_names_the_field() {
    let harness = Harness::start().await;
    let source = r#"
        fn probe() {
            waiqin::add_sales_leads(#{ code: "dup-1", cus_name: "张三", poolName: "公海" });
            let caught = #{};
            try {
                waiqin::add_sales_leads(#{ code: "dup-1", cus_name: "张三", poolName: "公海" });
            } catch (e) {
                caught = e;
            }
            let invalid = #{};
            try {
                xiaolanben::import_customer(#{ customerName: "", contacts: [] });
            } catch (e) {
                invalid = e;
            }
            let unnamed = "";
            try { tencent::list_leads("no_such_account", #{}); } catch (e) { unnamed = e.message; }
            #{ caught: caught, invalid: invalid, unnamed: unnamed }
        }
    "#;
    let answer = probe(&harness, source).await.unwrap();
    let caught = &answer["caught"];
    assert_eq!(caught["vendor"], "waiqin");
    assert_eq!(caught["account"], "sim_waiqin");
    assert_eq!(caught["op"], "add_sales_leads");
    assert_eq!(caught["status"], 200);
    assert_eq!(caught["kind"], "exists");
    assert_eq!(caught["code"], "1");
    assert!(
        caught["message"].as_str().unwrap().contains("dup-1"),
        "{caught}"
    );
    assert_eq!(caught["retryable"], false);
    let invalid = &answer["invalid"];
    assert_eq!(invalid["kind"], "invalid");
    assert!(
        invalid["message"]
            .as_str()
            .unwrap()
            .contains("customerName"),
        "{invalid}"
    );
    assert_eq!(invalid["status"], serde_json::Value::Null);
    assert!(
        answer["unnamed"]
            .as_str()
            .unwrap()
            .contains("no account `no_such_account`"),
        "{answer}"
    );
}

/// A payload value of the wrong type, from a script: the error names the field by its path and
/// says what was expected, caught (`e.message`) or not (the run's error, with the script's
/// position), and nothing is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_payload_type_from_a_script_names_the_field() {
    let harness = Harness::start().await;
    let before = harness.sim.shared().requests(Vendor::Xiaolanben);
    let source = r#"
        fn probe() {
            let caught = #{};
            try {
                xiaolanben::import_customer(#{ customerName: "甲", staffId: true });
            } catch (e) {
                caught = e;
            }
            let nested = "";
            try {
                xiaolanben::import_customers(#{ customers: [
                    #{ customerName: "甲" },
                    #{ customerName: "乙", contacts: [#{ thirdDataId: 1.5 }] },
                ] });
            } catch (e) {
                nested = e.message;
            }
            #{ caught: caught, nested: nested }
        }
    "#;
    let answer = probe(&harness, source).await.unwrap();
    let caught = &answer["caught"];
    assert_eq!(caught["kind"], "invalid", "{caught}");
    assert_eq!(caught["op"], "import_customer");
    assert_eq!(
        caught["message"],
        "invalid payload: staffId: expected an integer or a string of digits, got true"
    );
    assert_eq!(
        answer["nested"],
        "invalid payload: customers[1].contacts[0].thirdDataId: invalid type: floating point `1.5`, expected a string or an integer"
    );
    let uncaught = probe(
        &harness,
        "fn probe() {\n    tencent::list_leads(#{ start_time: \"2026-11-30\", end_time: \"2026-11-30\", page: \"two\" })\n}",
    )
    .await
    .unwrap_err();
    assert!(
        // The uncaught error shows the error map as JSON, so the quotes are escaped.
        uncaught.contains(r#"page: expected an integer or a string of digits, got \"two\""#),
        "{uncaught}"
    );
    assert!(uncaught.contains("probe.rhai:2:"), "{uncaught}");
    assert_eq!(harness.sim.shared().requests(Vendor::Xiaolanben), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calling_without_an_account_name_lists_the_accounts_when_there_are_several() {
    let harness = Harness::start().await;
    let mut config = harness.config.clone();
    let mut second = config.accounts["sim_xiaolanben"].clone();
    second.name = "xlb_east".into();
    config.accounts.insert("xlb_east".into(), second);
    let accounts = Accounts::from_config(&config, Default::default(), Default::default());
    let host = leadrelay::host::generation::Host::new(Arc::new(Services::new(accounts)));
    let source = "fn probe() { xiaolanben::list_staffs(#{ pageIndex: 1, pageSize: 20 }) }";
    let version = script::load(host.engine(), &host.services().limits, "p.rhai", source).unwrap();
    let run = host.run(Arc::new(version), "probe", vec![]).await;
    let error = run.result.outcome.unwrap_err().to_string();
    assert!(
        error.contains(
            "several xiaolanben accounts are configured (sim_xiaolanben, xlb_east): name one"
        ),
        "{error}"
    );
}

/// Issue 8, item 5.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn constants_are_visible_in_helper_functions() {
    let services = services(Accounts::default(), Duration::from_secs(2));
    let engine = new_engine(services.clone());
    let limits = services.limits.clone();
    let source = r#"
        const OWNER = 1001;
        const TEAM = ["陈静", "黄磊"];
        const CITIES = #{ "广州市": [2001, 2002] };
        on_lead("route");
        schedule("0 0 9 * * *", "job");
        fn route(lead) { helper() }
        fn job() { helper() }
        fn helper() {
            let plus = |n| n + OWNER;
            [OWNER, TEAM[1], TEAM.len(), CITIES["广州市"][0], plus.call(1), deeper(), shadowed(7)]
        }
        fn deeper() { OWNER + 1 }
        fn shadowed(n) { let OWNER = n; OWNER }
    "#;
    let version = load_ok(&engine, &limits, source);
    let expected = r#"[1001, "黄磊", 2, 2001, 1002, 1002, 7]"#;
    let run = script::run_handler(
        &engine,
        &limits,
        &version,
        "route",
        vec![rhai::Dynamic::UNIT],
    );
    assert_eq!(run.outcome.unwrap().to_string(), expected, "lead handler");
    let run = script::run_handler(&engine, &limits, &version, "job", vec![]);
    assert_eq!(run.outcome.unwrap().to_string(), expected, "scheduled job");

    // A name that is neither a constant nor a local is still a load (and `check`) error.
    let undefined = "const OWNER = 1;\nfn route(lead) {\n  helper()\n}\nfn helper() {\n  OWNR\n}\n";
    let e = script::load(&engine, &limits, "s.rhai", undefined).unwrap_err();
    assert!(
        e[0].to_string().starts_with("s.rhai:6:3: ") && e[0].message.contains("OWNR"),
        "{}",
        e[0]
    );
}

/// Issue 8, item 7: the place of an error inside the stdlib is the stdlib's, followed by the
/// script's call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdlib_errors_name_the_stdlib_file_and_the_calling_line() {
    let services = services(Accounts::default(), Duration::from_secs(2));
    let engine = new_engine(services.clone());
    let limits = services.limits.clone();
    let source = "fn route(lead) {\n  let open = helper();\n}\nfn helper() {\n  hours::is_open_at(5, 9, 18)\n}\nfn plain() {\n  let x = 1;\n  x.nope\n}\n";
    let version = script::load(&engine, &limits, "a.rhai", source).unwrap();
    let run = script::run_handler(
        &engine,
        &limits,
        &version,
        "route",
        vec![rhai::Dynamic::UNIT],
    );
    let error = run.outcome.unwrap_err();
    let text = error.to_string();
    assert!(
        text.starts_with("stdlib/hours.rhai:34:24: "),
        "the stdlib's own file and line: {text}"
    );
    assert!(text.ends_with(" (called from a.rhai:5:10)"), "{text}");
    assert!(text.contains("weekday"), "{text}");

    // An error in the script itself keeps the plain `path:line:col: message`.
    let run = script::run_handler(&engine, &limits, &version, "plain", vec![]);
    let text = run.outcome.unwrap_err().to_string();
    assert!(text.starts_with("a.rhai:9:"), "{text}");
    assert!(!text.contains("called from"), "{text}");
}

/// Issue 8, item 7: runaway and size-limit errors lose their place inside Rhai; they name the
/// handler at its own line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runaway_errors_name_the_handler_and_its_line() {
    let services = services(Accounts::default(), Duration::from_millis(200));
    let engine = new_engine(services.clone());
    let limits = services.limits.clone();
    let source = "fn spin() {\n  helper()\n}\nfn helper() { loop {} }\nfn recurse() {\n  recurse()\n}\nfn grow() {\n  let s = \"x\";\n  loop { s += s; }\n}\n";
    let version = script::load(&engine, &limits, "scripts/t.rhai", source).unwrap();
    for (handler, line, reason) in [
        ("spin", 1, "time budget"),
        ("recurse", 5, "nested function calls"),
        ("grow", 8, "string"),
    ] {
        let run = script::run_handler(&engine, &limits, &version, handler, vec![]);
        let text = run.outcome.unwrap_err().to_string();
        let place = format!("scripts/t.rhai:{line}:");
        assert!(text.starts_with(&place), "{handler}: {text}");
        assert!(
            text.contains(&format!("handler `{handler}` stopped: ")),
            "{handler}: {text}"
        );
        assert!(text.to_lowercase().contains(reason), "{handler}: {text}");
    }
}

/// Writes `files` into a fresh folder.
fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

/// Issue 8, item 8: misspelt vendor and op names in test assertions fail the test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_vendor_or_op_names_in_test_assertions_fail_the_test() {
    use leadrelay::host::testkit;
    let tests = r#"
        fn test_misspelt_vendor() { expect_no_call("waiqn"); }
        fn test_op_of_another_vendor() { expect_no_call("waiqin", "report"); }
        fn test_misspelt_op() { expect_call("xiaolanben", "import_customr", #{}); }
        fn test_calls_filter() { calls("linkflw"); }
        fn test_calls_op_filter() { calls("waiqin", "add_sales_lead"); }
        fn test_known_names() {
            expect_no_call("waiqin");
            expect_no_call("tencent", "report");
            assert_eq(calls("waiqin", "add_sales_leads").len(), 0);
        }
    "#;
    let dir = folder(&[("a.test.rhai", tests)]);
    let host = leadrelay::host::generation::Host::with_extension(
        Arc::new(Services::new(Accounts::default())),
        testkit::register,
    );
    let path = dir.path().join("a.test.rhai");
    let outcomes = tokio::task::spawn_blocking(move || {
        let (version, names) = testkit::load_tests(&host, &path).unwrap();
        names
            .iter()
            .map(|name| {
                let outcome = testkit::run_test(&host, &version, name);
                (name.clone(), outcome.error.map(|e| e.to_string()))
            })
            .collect::<std::collections::BTreeMap<_, _>>()
    })
    .await
    .unwrap();
    let failure = |name: &str| {
        outcomes[name]
            .clone()
            .unwrap_or_else(|| panic!("{name} must fail"))
    };
    let vendors = "expected one of: tencent, feiyu, waiqin, xiaolanben, linkflow";
    let e = failure("test_misspelt_vendor");
    assert!(
        e.contains("unknown vendor `waiqn`") && e.contains(vendors),
        "{e}"
    );
    let e = failure("test_op_of_another_vendor");
    assert!(
        e.contains("unknown op `report` of waiqin (`report` is a tencent op)")
            && e.contains("waiqin ops: add_sales_leads, "),
        "{e}"
    );
    let e = failure("test_misspelt_op");
    assert!(
        e.contains("unknown op `import_customr` of xiaolanben") && e.contains("import_customer"),
        "{e}"
    );
    let e = failure("test_calls_filter");
    assert!(
        e.contains("unknown vendor `linkflw`") && e.contains(vendors),
        "{e}"
    );
    let e = failure("test_calls_op_filter");
    assert!(e.contains("unknown op `add_sales_lead` of waiqin"), "{e}");
    assert_eq!(outcomes["test_known_names"], None);
}

/// Issue 8, item 8: `check` compiles test files the way `test` loads them, imports resolved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_resolves_the_imports_of_test_files() {
    let dir = folder(&[
        (
            "a.test.rhai",
            "import \"phone\" as phone;\nimport \"nope\" as nope;\nconst CITY = \"广州市\";\nfn test_city() { assert_eq(CITY, \"广州市\"); }\nfn test_inner() {\n  import \"nada\" as nada;\n}\n",
        ),
        ("b.test.rhai", "const OWNER = 1;\nfn test_owner() { assert_eq(OWNER, 1); }\n"),
    ]);
    let services = Arc::new(Services::new(Accounts::default()));
    let path = dir.path().to_path_buf();
    let report = tokio::task::spawn_blocking(move || {
        leadrelay::host::check::check_dir(services, None, &path).unwrap()
    })
    .await
    .unwrap();
    let a = dir.path().join("a.test.rhai").display().to_string();
    let problems: Vec<String> = report.problems.iter().map(|p| p.to_string()).collect();
    assert_eq!(
        problems,
        vec![
            format!("{a}:2:8: cannot import \"nope\": no such module (the stdlib has: phone, assign, hours, map; a shared module would be the file {}/nope.rhai)", dir.path().display()),
            format!("{a}:6:10: cannot import \"nada\": no such module (the stdlib has: phone, assign, hours, map; a shared module would be the file {}/nada.rhai)", dir.path().display()),
        ],
        "and a test file's constants are no problem"
    );
}

const CONFIG: &str = r#"
[accounts.tx_main]
vendor = "tencent"
token = "t"
secret = "s"

[accounts.tx_brand_b]
vendor = "tencent"
token = "t"
secret = "s"

[accounts.wq]
vendor = "waiqin"
openid = "1"
appkey = "k"
"#;

/// Issue 8, item 2(b): the daemon's host refuses a script whose handlers name accounts the config
/// lacks or has for another vendor, and the last good version keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_refuses_handlers_naming_unconfigured_or_foreign_accounts() {
    use leadrelay::host::generation::{Host, Verdict};
    use leadrelay::host::script::KnownAccounts;
    let config = leadrelay::config::Config::parse(CONFIG, "leadrelay.toml", &|_| None).unwrap();
    let accounts = Accounts::from_config(&config, Default::default(), Default::default());
    let good = "on_lead(\"tencent\", \"tx_main\", \"route\");\non_follow(\"wq\", \"follow\");\nfn route(lead) { \"good\" }\nfn follow(r) {}\n";
    let bad = "on_lead(\"tencent\", \"tx_mian\", \"route\");\non_lead(\"tencent\", \"wq\", \"route\");\non_follow(\"tx_main\", \"follow\");\nfn route(lead) { \"bad\" }\nfn follow(r) {}\n";
    let dir = folder(&[("route.rhai", good)]);
    let path = dir.path().join("route.rhai");
    let key = path.display().to_string();

    let host = Host::new(Arc::new(Services::new(accounts.clone())));
    let h = host.clone();
    let (p, b) = (path.clone(), bad.to_string());
    let verdicts = tokio::task::spawn_blocking(move || {
        let first = h.reload(&p);
        std::fs::write(&p, b).unwrap();
        (first, h.reload(&p))
    })
    .await
    .unwrap();
    assert_eq!(verdicts.0, Verdict::Live);
    let Verdict::Rejected(problems) = verdicts.1 else {
        panic!("expected the edit to be refused, got {:?}", verdicts.1)
    };
    let problems: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    assert_eq!(
        problems,
        vec![
            format!("{key}:1:1: on_lead names account \"tx_mian\", which is not in the config (accounts of tencent: tx_brand_b, tx_main)"),
            format!("{key}:2:1: on_lead names account \"wq\", which is a waiqin account, not a tencent one (accounts of tencent: tx_brand_b, tx_main)"),
            format!("{key}:3:1: on_follow names account \"tx_main\", which is a tencent account, not a waiqin one (accounts of waiqin: wq)"),
        ]
    );
    let live = host.generation().scripts[&key].clone();
    let run = host.run(live, "route", vec![rhai::Dynamic::UNIT]).await;
    assert_eq!(
        run.result.outcome.unwrap().to_string(),
        "good",
        "the last good version serves"
    );

    // Without a config (`test`, `route --dry-run`), the simulators stand in for any account.
    let host = Host::with_accounts(Arc::new(Services::new(accounts)), None, |_| {});
    let h = host.clone();
    let verdict = tokio::task::spawn_blocking(move || h.reload(&path))
        .await
        .unwrap();
    assert_eq!(verdict, Verdict::Live);

    // `check` names the config file.
    let known = KnownAccounts::new(
        "other.toml",
        [("wq".to_string(), leadrelay::connectors::Vendor::Waiqin)],
    );
    let services = Arc::new(Services::new(Accounts::default()));
    let d = dir.path().to_path_buf();
    let report = tokio::task::spawn_blocking(move || {
        leadrelay::host::check::check_dir(services, Some(known), &d).unwrap()
    })
    .await
    .unwrap();
    assert_eq!(
        report.problems[0].to_string(),
        format!("{key}:1:1: on_lead names account \"tx_mian\", which is not in other.toml (accounts of tencent: none)")
    );
}

/// `on_follow` accounts and a test's `follow(…)` come from the vendor registry: the vendors whose
/// spec says `FOLLOWS` (today only Waiqin), each of which pushes.
#[test]
fn follow_records_come_from_the_vendors_the_registry_marks() {
    use leadrelay::connectors::Vendor;
    let followers: Vec<Vendor> = script::follow_vendors().collect();
    assert_eq!(followers, vec![Vendor::Waiqin]);
    for vendor in Vendor::ALL {
        assert!(
            !vendor.follows() || vendor.pushes(),
            "{vendor} follows without pushing"
        );
    }
}
