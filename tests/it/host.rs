//! The scripting host through the production engine constructor.

use std::sync::Arc;
use std::time::{Duration, Instant};

use leadrelay::host::engine::{new_engine, Services};
use leadrelay::host::limits::Limits;
use leadrelay::host::run::Declaration;
use leadrelay::host::script::{self, ScriptVersion};
use leadrelay::vendor::Accounts;

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
