//! Hot reload in a temp dir, through the real watcher.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use leadrelay::connectors::Accounts;
use leadrelay::host::engine::Services;
use leadrelay::host::generation::{Host, Verdict};
use leadrelay::host::watch;

fn host() -> Arc<Host> {
    Host::new(Arc::new(Services::new(Accounts::default())))
}

fn script(version: &str) -> String {
    format!(
        "on_lead(\"route\");\nfn route(lead) {{ \"{version}\" }}\nfn which() {{ \"{version}\" }}\n"
    )
}

/// Saves like an editor: write a temporary file, then rename it over the script.
fn save(path: &Path, text: &str) {
    let tmp = path.with_extension("rhai.swp~");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

async fn live_version(host: &Arc<Host>, key: &str) -> Option<String> {
    let version = host.generation().scripts.get(key).cloned()?;
    let run = host.run(version, "which", vec![]).await;
    run.result.outcome.ok().map(|d| d.into_string().unwrap())
}

async fn wait_for(host: &Arc<Host>, key: &str, want: &str) -> Duration {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(5) {
        if live_version(host, key).await.as_deref() == Some(want) {
            return started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("{want} never went live");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_go_live_and_broken_edits_keep_the_last_good_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("route.rhai");
    let key = path.display().to_string();
    std::fs::write(&path, script("v1")).unwrap();
    let host = host();
    let loaded = host.load_dir(dir.path()).unwrap();
    assert_eq!(loaded, vec![(key.clone(), Verdict::Live)]);
    let _watch = watch::watch(host.clone(), dir.path()).unwrap();
    assert_eq!(live_version(&host, &key).await.as_deref(), Some("v1"));

    save(&path, &script("v2"));
    wait_for(&host, &key, "v2").await;

    save(
        &path,
        "on_lead(\"route\");\nfn route(lead) {\n  let = 3;\n}\n",
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        live_version(&host, &key).await.as_deref(),
        Some("v2"),
        "v2 must keep serving"
    );
    let status = host.status()[&key].clone();
    let Verdict::Rejected(errors) = status.verdict else {
        panic!("expected a rejected reload, got {:?}", status.verdict)
    };
    assert!(
        errors[0].to_string().starts_with(&format!("{key}:3:7: ")),
        "{}",
        errors[0]
    );

    save(&path, &script("v4"));
    wait_for(&host, &key, "v4").await;

    save(
        &path,
        "schedule(\"0 0 25 * * *\", \"tick\");\nfn tick() {}\nfn which() { \"v5\" }\n",
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(live_version(&host, &key).await.as_deref(), Some("v4"));
    let Verdict::Rejected(errors) = host.status()[&key].verdict.clone() else {
        panic!("a bad cron expression must be a load error")
    };
    assert!(
        errors[0].message.contains("bad cron expression"),
        "{}",
        errors[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_in_flight_finish_on_the_version_they_started_with() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("slow.rhai");
    let key = path.display().to_string();
    let slow =
        |v: &str| format!("fn which() {{ let n = 0; while n < 30000 {{ n += 1; }} \"{v}\" }}\n");
    std::fs::write(&path, slow("v1")).unwrap();
    let host = host();
    host.load_dir(dir.path()).unwrap();
    let pinned = host.generation().scripts[&key].clone();
    let h = host.clone();
    let in_flight = tokio::spawn(async move { h.run(pinned, "which", vec![]).await });
    std::fs::write(&path, slow("v2")).unwrap();
    assert_eq!(host.reload(&path), Verdict::Live);
    let old = in_flight.await.unwrap();
    assert_eq!(old.result.outcome.unwrap().into_string().unwrap(), "v1");
    assert_eq!(live_version(&host, &key).await.as_deref(), Some("v2"));
    assert_ne!(old.version, host.generation().scripts[&key].hash);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn save_to_live_latency_p99() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("route.rhai");
    let key = path.display().to_string();
    std::fs::write(&path, script("s0")).unwrap();
    let host = host();
    host.load_dir(dir.path()).unwrap();
    let _watch = watch::watch(host.clone(), dir.path()).unwrap();
    let mut samples = Vec::new();
    for i in 1..=40 {
        let version = format!("s{i}");
        save(&path, &script(&version));
        samples.push(wait_for(&host, &key, &version).await);
    }
    samples.sort();
    let p50 = samples[samples.len() / 2];
    let p99 = samples[(samples.len() * 99).div_ceil(100) - 1];
    println!(
        "save → live over {} saves: p50 {p50:?}, p99 {p99:?}",
        samples.len()
    );
    assert!(
        p99 <= Duration::from_millis(150),
        "save → live p99 {p99:?} exceeds 150 ms"
    );
}

/// Polls until `done` holds or `within` passes; returns whether it held.
async fn eventually(within: Duration, done: impl Fn() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < within {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    done()
}

/// Issue 8, item 6: one compile (and so one logged error) per saved content, none while idle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_script_is_compiled_and_logged_once_per_save() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("route.rhai");
    let broken = |n: u32| format!("on_lead(\"route\");\nfn route(lead) {{\n  let = {n};\n}}\n");
    std::fs::write(&path, broken(1)).unwrap();
    let host = host();
    host.load_dir(dir.path()).unwrap();
    assert_eq!(host.reload_stats().compiles, 1);
    let _watch = watch::watch(host.clone(), dir.path()).unwrap();

    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        host.reload_stats().compiles,
        1,
        "no recompilation without a change on disk"
    );

    save(&path, &broken(2));
    assert!(
        eventually(Duration::from_secs(2), || host.reload_stats().compiles == 2).await,
        "a new broken version is compiled once: {:?}",
        host.reload_stats()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(host.reload_stats().compiles, 2, "and only once");

    // Saving the same broken content again is read, not compiled or logged again.
    let reads = host.reload_stats().reads;
    save(&path, &broken(2));
    assert!(eventually(Duration::from_secs(2), || host.reload_stats().reads > reads).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(host.reload_stats().compiles, 2);

    // A fix goes live at once.
    save(&path, &script("fixed"));
    wait_for(&host, &path.display().to_string(), "fixed").await;
}

/// Issue 8, item 6: reading a script to reload it is not a change, so an idle folder, with a good
/// or a broken script, causes no reload work at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_watched_folder_does_no_reload_work() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("good.rhai"), script("v1")).unwrap();
    std::fs::write(
        dir.path().join("bad.rhai"),
        "fn route(lead) {\n  let = 1;\n}\n",
    )
    .unwrap();
    let host = host();
    host.load_dir(dir.path()).unwrap();
    let loaded = host.reload_stats();
    assert_eq!((loaded.reads, loaded.compiles), (2, 2));
    let _watch = watch::watch(host.clone(), dir.path()).unwrap();
    // Someone reads the scripts (an editor, `grep`, a backup): still nothing to reload.
    for name in ["good.rhai", "bad.rhai"] {
        std::fs::read_to_string(dir.path().join(name)).unwrap();
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(host.reload_stats(), loaded);
}

fn module(tag: &str) -> String {
    format!("// who owns what\nfn pick(kind) {{ \"{tag}:\" + kind }}\n")
}

const IMPORTER: &str = r#"import "shared/owners" as owners;
on_lead("route");
fn route(lead) { helper(lead.kind) }
fn helper(kind) { owners::pick(kind) }
fn which() { owners::pick("form") }
"#;

/// A script imports `shared/owners`; its handler and the helpers it calls see the module. Saving
/// the module reloads the importer; a broken module keeps the importer on its last good version
/// (with the module's own path:line:col), and fixing it goes live again. Versions are pinned:
/// one that loaded with the old module keeps running it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_and_its_helpers_use_a_shared_module() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("shared")).unwrap();
    let module_path = dir.path().join("shared").join("owners.rhai");
    std::fs::write(&module_path, module("m1")).unwrap();
    let path = dir.path().join("route.rhai");
    let key = path.display().to_string();
    std::fs::write(&path, IMPORTER).unwrap();
    let host = host();
    // The module is not a script: only route.rhai loads.
    assert_eq!(
        host.load_dir(dir.path()).unwrap(),
        vec![(key.clone(), Verdict::Live)]
    );
    assert_eq!(live_version(&host, &key).await.as_deref(), Some("m1:form"));
    let lead = leadrelay::lead::Lead::new(
        leadrelay::connectors::Vendor::Tencent,
        "tx",
        "1",
        serde_json::json!({}),
    );
    let runs = host.run_lead(&lead).await;
    assert_eq!(runs.len(), 1);
    let answer = runs[0].result.outcome.as_ref().unwrap().clone();
    assert_eq!(answer.into_string().unwrap(), format!("m1:{}", lead.kind));
    let first = host.generation().scripts[&key].clone();

    let _watch = watch::watch(host.clone(), dir.path()).unwrap();
    save(&module_path, &module("m2"));
    wait_for(&host, &key, "m2:form").await;
    assert_ne!(host.generation().scripts[&key].hash, first.hash);
    let old = host.run(first.clone(), "which", vec![]).await;
    assert_eq!(
        old.result.outcome.unwrap().into_string().unwrap(),
        "m1:form",
        "a version keeps the module it loaded with"
    );

    save(&module_path, "fn pick(kind) {\n  let = 1;\n}\n");
    let module_key = dir.path().join("shared/owners.rhai").display().to_string();
    let started = Instant::now();
    while !host.status().contains_key(&module_key) {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "no verdict on the module"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(live_version(&host, &key).await.as_deref(), Some("m2:form"));
    let Verdict::Rejected(errors) = host.status()[&module_key].verdict.clone() else {
        panic!("the broken module must be refused")
    };
    assert!(
        errors[0]
            .to_string()
            .starts_with(&format!("{module_key}:2:7: ")),
        "{}",
        errors[0]
    );

    save(&module_path, &module("m3"));
    wait_for(&host, &key, "m3:form").await;
    assert!(!host.status().contains_key(&module_key));
}

/// `check` loads shared modules too: one that declares a handler is refused at its place, an
/// import of a missing module names the file it looked for, and a module error reached through
/// an import is reported in the module's file.
#[tokio::test]
async fn check_reports_shared_module_problems_at_their_place() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("shared")).unwrap();
    std::fs::write(
        dir.path().join("shared/handlers.rhai"),
        "fn pick(kind) { kind }\non_lead(\"pick\");\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("shared/broken.rhai"),
        "fn pick(kind) {\n  kind +\n}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("a.rhai"),
        "import \"shared/missing\" as m;\non_lead(\"r\");\nfn r(lead) {}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("b.rhai"),
        "import \"shared/broken\" as b;\non_lead(\"r\");\nfn r(lead) {}\n",
    )
    .unwrap();
    let report = leadrelay::host::check::check_dir(
        Arc::new(Services::new(Accounts::default())),
        None,
        dir.path(),
    )
    .unwrap();
    assert_eq!((report.scripts, report.shared_modules), (2, 2));
    let problems: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
    let d = dir.path().display();
    assert!(
        problems.iter().any(|p| p
            .starts_with(&format!("{d}/a.rhai:1:8: cannot import \"shared/missing\""))
            && p.contains(&format!("{d}/shared/missing.rhai"))),
        "{problems:#?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with(&format!("{d}/shared/broken.rhai:3:1: "))
                && p.contains(&format!("called from {d}/b.rhai:1:8"))),
        "{problems:#?}"
    );
    assert!(
        problems.iter().any(|p| p.starts_with(&format!(
            "{d}/shared/handlers.rhai:2:1: on_lead(…) in a shared module"
        ))),
        "{problems:#?}"
    );
}

/// Issue 10, item 3: a shared module's functions read the module's own top-level constants (a
/// map indexed, a method on it, a helper of the module), and a constant of the importing script
/// with the same name does not leak into them, while the script still sees its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_modules_functions_read_its_own_top_level_constants() {
    const MODULE: &str = r#"// who owns what
const OWNERS = #{ form: 1001, phone: 1002 };
const DEFAULT = 7;
fn owner_for(kind) { OWNERS[kind] ?? fallback() }
fn fallback() { DEFAULT }
fn count() { OWNERS.len() }
fn with_closure() { let f = |kind| OWNERS[kind]; f.call("phone") }
"#;
    const SCRIPT: &str = r#"import "shared/owners" as owners;
on_lead("route");
const DEFAULT = 99;
fn route(lead) { owners::owner_for(lead.kind) }
fn form() { owners::owner_for("form") }
fn other() { owners::owner_for("visit") }
fn count() { owners::count() }
fn closure() { owners::with_closure() }
fn mine() { DEFAULT }
"#;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("shared")).unwrap();
    std::fs::write(dir.path().join("shared/owners.rhai"), MODULE).unwrap();
    let path = dir.path().join("route.rhai");
    let key = path.display().to_string();
    std::fs::write(&path, SCRIPT).unwrap();
    let host = host();
    assert_eq!(
        host.load_dir(dir.path()).unwrap(),
        vec![(key.clone(), Verdict::Live)]
    );
    let version = host.generation().scripts[&key].clone();
    for (function, expected) in [
        ("form", 1001),
        ("other", 7),
        ("count", 2),
        ("closure", 1002),
        ("mine", 99),
    ] {
        let run = host.run(version.clone(), function, vec![]).await;
        let value = run
            .result
            .outcome
            .unwrap_or_else(|e| panic!("{function}: {e}"));
        assert_eq!(value.as_int().unwrap(), expected, "{function}");
    }
}
