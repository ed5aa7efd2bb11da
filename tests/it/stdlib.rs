//! The shipped stdlib modules, through the production engine.

use std::sync::Arc;

use leadrelay::connectors::Accounts;
use leadrelay::host::engine::Services;
use leadrelay::host::generation::Host;
use leadrelay::host::script;

/// Runs `body` as the body of a handler in a script with every stdlib module imported.
async fn eval(body: &str) -> Result<rhai::Dynamic, String> {
    let host = Host::new(Arc::new(Services::new(Accounts::default())));
    let source = format!(
        "import \"phone\" as phone;\nimport \"assign\" as assign;\nimport \"hours\" as hours;\nfn probe() {{\n{body}\n}}\n"
    );
    let version = script::load(
        host.engine(),
        &host.services().limits,
        "probe.rhai",
        &source,
    )
    .map_err(|e| format!("{e:?}"))?;
    let run = host.run(Arc::new(version), "probe", vec![]).await;
    run.result.outcome.map_err(|e| e.to_string())
}

async fn text(body: &str) -> String {
    eval(body).await.unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phone_normalizes_prefixes_separators_and_full_width_digits() {
    assert_eq!(
        text(r#"phone::normalize("+86 138-1234-5678")"#).await,
        "13812345678"
    );
    assert_eq!(
        text(r#"phone::normalize("0086 13812345678")"#).await,
        "13812345678"
    );
    assert_eq!(
        text(r#"phone::normalize("8613812345678")"#).await,
        "13812345678"
    );
    assert_eq!(
        text(r#"phone::normalize("１３８ １２３４ ５６７８")"#).await,
        "13812345678"
    );
    assert_eq!(
        text(r#"phone::normalize("(010) 8888.6666")"#).await,
        "01088886666"
    );
    assert_eq!(text(r#"phone::normalize(())"#).await, "");
    assert_eq!(text(r#"phone::is_mobile("+86 13812345678")"#).await, "true");
    assert_eq!(text(r#"phone::is_mobile("010-88886666")"#).await, "false");
    assert_eq!(text(r#"phone::mask("13812345678")"#).await, "138******78");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_robin_rotates_per_key_and_weighted_follows_weights() {
    let picks = text(
        r#"let out = [];
           for i in 0..4 { out.push(assign::round_robin("gz", [1001, 1002, 1003])); }
           out.push(assign::round_robin("sz", [2001, 2002]));
           out"#,
    )
    .await;
    assert_eq!(picks, "[1001, 1002, 1003, 1001, 2001]");
    let weighted = text(
        r#"let counts = #{};
           for i in 0..8 { let id = assign::weighted("w", [["a", 3], ["b", 1]]); counts[id] = (counts[id] ?? 0) + 1; }
           counts"#,
    )
    .await;
    assert_eq!(weighted, "#{\"a\": 6, \"b\": 2}");
    let e = eval(r#"assign::round_robin("x", [])"#).await.unwrap_err();
    assert!(e.contains("no staff given for rotation `x`"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn business_hours_follow_beijing_weekdays() {
    assert_eq!(
        text(r#"hours::is_open_at(#{ weekday: 1, hour: 9 }, 9, 18)"#).await,
        "true"
    );
    assert_eq!(
        text(r#"hours::is_open_at(#{ weekday: 5, hour: 18 }, 9, 18)"#).await,
        "false"
    );
    assert_eq!(
        text(r#"hours::is_open_at(#{ weekday: 6, hour: 10 }, 9, 18)"#).await,
        "false"
    );
    let now = text("let t = now_beijing(); t.hour >= 0 && t.hour < 24 && t.weekday >= 1").await;
    assert_eq!(now, "true");
}
