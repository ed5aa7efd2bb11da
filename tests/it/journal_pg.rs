//! The PostgreSQL journal's schema and read side against a real server (see `pg.rs`):
//! migrations apply once and a newer database is refused, and every query answers exactly as
//! the SQLite journal's reader does for the same content written through the same `Journal`
//! calls.

use leadrelay::clock::Clock;
use leadrelay::connectors::Vendor;
use leadrelay::lead::{Lead, LeadKind};
use leadrelay::store::types::{Arrival, Checkpoint, Quarantined, Via};
use leadrelay::store::{
    open_reader, CallRow, CronFire, Journal, JournalOptions, JournalTarget, LeadQuery,
    RetentionPolicy, RunRecord, StoreError, WorkOutcome,
};
use serde_json::json;

use crate::pg;

fn options() -> JournalOptions {
    JournalOptions {
        clock: Clock::manual(chrono::DateTime::from_timestamp_millis(1_700_000_000_000).unwrap()),
        node: "n1".into(),
        ..JournalOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_apply_once_and_a_newer_database_is_refused() {
    let Some(db) = pg::database().await else {
        return;
    };
    let target = JournalTarget::parse(&db.url).unwrap();
    let first = Journal::connect(&target, options()).await.unwrap();
    drop(first);
    // A second connect finds the schema current and changes nothing.
    let _second = Journal::connect(&target, options()).await.unwrap();
    let reader = open_reader(&target).unwrap();
    assert_eq!(
        reader.migrations().unwrap(),
        vec![(1, "initial".to_string())]
    );
    drop(reader);
    let (client, conn) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let conn = tokio::spawn(conn);
    client
        .batch_execute(
            "INSERT INTO schema_migrations (version, name, applied_ms) VALUES (99, 'future', 0)",
        )
        .await
        .unwrap();
    drop(client);
    let _ = conn.await;
    let err = Journal::connect(&target, options()).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::TooNew {
                found: 99,
                known: 1,
                ..
            }
        ),
        "{err}"
    );
}

fn lead(id: &str, name: &str, phone: &str) -> Lead {
    let mut lead = Lead::new(Vendor::Tencent, "tx_main", id, json!({"leads_id": id}));
    lead.kind = LeadKind::Form;
    lead.name = Some(name.into());
    lead.phone = Some(phone.into());
    lead
}

fn arrival(at: i64) -> Arrival {
    Arrival {
        via: Via::Pull,
        endpoint: "/leads/list".into(),
        received_at_ms: at,
    }
}

fn run(calls: Vec<CallRow>, error: Option<&str>) -> RunRecord {
    RunRecord {
        id: None,
        script: "scripts/route.rhai".into(),
        handler: "on_tencent".into(),
        version: "v1".into(),
        started_ms: 1_700_000_000_100,
        elapsed_ms: 7,
        error: error.map(str::to_string),
        skipped: None,
        calls,
    }
}

fn call(seq: u32, ok: bool) -> CallRow {
    CallRow {
        seq,
        vendor: "xiaolanben".into(),
        account: "xlb".into(),
        op: "create_clue".into(),
        fingerprint: format!("fp{seq}"),
        ok,
        status: Some(if ok { 200 } else { 500 }),
        code: (!ok).then(|| "E500".to_string()),
        message: (!ok).then(|| "server busy".to_string()),
        response: Some(json!({"data": "线".repeat(300)})),
        attempts: 2,
        replayed: seq == 1,
    }
}

/// The same content in any journal: leads in every state, runs with calls, a dead letter, a
/// retry, a checkpoint, a quarantined body and a cron slot.
async fn seed(journal: &Journal) {
    let cp = Checkpoint {
        account: "tx_main".into(),
        endpoint: "/leads/list".into(),
        position: "1700000000".into(),
    };
    journal
        .accept_leads(
            vec![
                lead("L1", "张三", "13800001234"),
                lead("L2", "Li_Si", "13900005678"),
                lead("L3", "王五", "13700001234"),
            ],
            arrival(1_699_999_000_000),
            Some(cp),
        )
        .await
        .unwrap();
    journal
        .accept_leads(
            vec![lead("L4", "赵六", "13600000000")],
            arrival(1_699_999_100_000),
            None,
        )
        .await
        .unwrap();
    let mut work = journal.claim_due(1_700_000_000_000, 3).await.unwrap();
    work.sort_by_key(|w| w.id);
    assert_eq!(work.len(), 3);
    journal
        .finish(
            work[0].id,
            vec![run(vec![call(1, true), call(2, true)], None)],
            WorkOutcome::Done,
        )
        .await
        .unwrap();
    journal
        .finish(
            work[1].id,
            vec![run(
                vec![call(1, false)],
                Some("scripts/route.rhai:3:5: boom"),
            )],
            WorkOutcome::Dead {
                reason: "boom".into(),
            },
        )
        .await
        .unwrap();
    journal
        .finish(
            work[2].id,
            vec![run(vec![call(1, false)], None)],
            WorkOutcome::Retry {
                at_ms: 1_700_000_060_000,
                reason: "vendor busy".into(),
            },
        )
        .await
        .unwrap();
    journal
        .quarantine(Quarantined {
            account: "tx_main".into(),
            endpoint: "/hooks/tencent/tx_main".into(),
            reason: "not JSON".into(),
            content_type: Some("text/plain".into()),
            body: b"\x00\xffnot json".to_vec(),
            received_at_ms: 1_699_999_200_000,
        })
        .await
        .unwrap();
    assert!(matches!(
        journal
            .fire_cron_slot("route.rhai#nightly", 1_700_000_000_000)
            .await
            .unwrap(),
        CronFire::Fired { .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_query_answers_as_the_sqlite_reader_does() {
    let Some(db) = pg::database().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("leadrelay.db");
    let sqlite = JournalTarget::parse(file.to_str().unwrap()).unwrap();
    let postgres = JournalTarget::parse(&db.url).unwrap();
    for target in [&sqlite, &postgres] {
        let journal = Journal::connect(target, options()).await.unwrap();
        seed(&journal).await;
    }
    let (s, p) = (
        open_reader(&sqlite).unwrap(),
        open_reader(&postgres).unwrap(),
    );
    let same = |what: &str, a: String, b: String| assert_eq!(a, b, "{what}: SQLite vs PostgreSQL");
    let all = LeadQuery::default();
    same(
        "leads list",
        format!("{:?}", s.list_leads(&all)),
        format!("{:?}", p.list_leads(&all)),
    );
    let dead = LeadQuery {
        status: Some(leadrelay::store::WorkStatus::Dead),
        vendor: Some("tencent".into()),
        account: Some("tx_main".into()),
        since_ms: Some(1_699_999_000_000),
        ..LeadQuery::default()
    };
    same(
        "leads list --status dead",
        format!("{:?}", s.list_leads(&dead)),
        format!("{:?}", p.list_leads(&dead)),
    );
    assert_eq!(p.list_leads(&dead).unwrap().len(), 1);
    // Runs on PostgreSQL carry the node that made them; SQLite's have none.
    let unnoded = |runs: &mut Vec<leadrelay::store::RunStory>| {
        for run in runs {
            assert_eq!(run.node.take().as_deref().unwrap_or("n1"), "n1");
        }
    };
    for id in ["L1", "L2", "L3", "L4", "#2", "4", "nope"] {
        let mut ps = p.lead_story(id).unwrap();
        if let Some(story) = &mut ps {
            unnoded(&mut story.runs);
        }
        same(
            &format!("leads show {id}"),
            format!("{:?}", s.lead_story(id).unwrap()),
            format!("{ps:?}"),
        );
    }
    assert_eq!(
        p.lead_story("L1").unwrap().unwrap().runs[0].node.as_deref(),
        Some("n1")
    );
    assert_eq!(p.lead_story("L1").unwrap().unwrap().runs[0].calls.len(), 2);
    // `leads show` says which node made each run.
    let shown = leadrelay::inspect::lead_show(p.as_ref(), "L1")
        .unwrap()
        .unwrap();
    assert!(shown.contains("on node n1"), "{shown}");
    same(
        "dead",
        format!("{:?}", s.dead_letters()),
        format!("{:?}", p.dead_letters()),
    );
    assert_eq!(p.dead_letters().unwrap().len(), 1);
    same(
        "quarantine",
        format!("{:?}", s.quarantined()),
        format!("{:?}", p.quarantined()),
    );
    same(
        "quarantine show",
        format!("{:?}", s.quarantine_item(1)),
        format!("{:?}", p.quarantine_item(1)),
    );
    assert_eq!(
        p.quarantine_item(1).unwrap().unwrap().body,
        b"\x00\xffnot json"
    );
    let (mut ss, mut ps) = (s.status().unwrap(), p.status().unwrap());
    assert_eq!(ps.schema_version, 1);
    (ss.schema_version, ps.schema_version) = (0, 0);
    // Only PostgreSQL lists the nodes sharing it (here the one that wrote the content).
    let nodes: Vec<String> = std::mem::take(&mut ps.nodes)
        .into_iter()
        .map(|n| n.name)
        .collect();
    assert_eq!(nodes, ["n1"]);
    assert!(ss.nodes.is_empty());
    same("status", format!("{ss:?}"), format!("{ps:?}"));
    assert_eq!((ps.leads, ps.checkpoints.len(), ps.cron.len()), (4, 1, 1));
    let policy = RetentionPolicy::default();
    let (sr, pr) = (
        s.retention_status(policy, 1_800_000_000_000).unwrap(),
        p.retention_status(policy, 1_800_000_000_000).unwrap(),
    );
    assert!(pr.file_bytes > 0);
    same(
        "retention",
        format!(
            "{:?}",
            (
                sr.oldest_lead_ms,
                sr.redacted_leads,
                sr.erasures,
                sr.last_erasure_ms,
                sr.next_prune
            )
        ),
        format!(
            "{:?}",
            (
                pr.oldest_lead_ms,
                pr.redacted_leads,
                pr.erasures,
                pr.last_erasure_ms,
                pr.next_prune
            )
        ),
    );
    same(
        "activity",
        format!("{:?}", s.activity(0, 60_000)),
        format!("{:?}", p.activity(0, 60_000)),
    );
    for text in ["L2", "#3", "3", "1234", "li_", "LI", "张", "100%", ""] {
        same(
            &format!("search {text:?}"),
            format!("{:?}", s.search_leads(text, 10)),
            format!("{:?}", p.search_leads(text, 10)),
        );
    }
    assert_eq!(p.search_leads("1234", 10).unwrap().len(), 2);
    same(
        "recorded",
        format!("{:?}", s.recorded_leads(None, 100)),
        format!("{:?}", p.recorded_leads(None, 100)),
    );
    for id in 1..=6 {
        let mut pw = p.work_story(id).unwrap();
        if let Some((_, runs)) = &mut pw {
            unnoded(runs);
        }
        same(
            &format!("work {id}"),
            format!("{:?}", s.work_story(id).unwrap()),
            format!("{pw:?}"),
        );
    }
    same(
        "follows",
        format!("{:?}", s.list_follows(None, None, 10)),
        format!("{:?}", p.list_follows(None, None, 10)),
    );
    same(
        "follow show",
        format!("{:?}", s.follow_story("m1")),
        format!("{:?}", p.follow_story("m1")),
    );
    assert!(matches!(
        p.backup_to(&dir.path().join("copy.db")),
        Err(StoreError::Conflict(_))
    ));
}

/// `leadrelay journal copy` moves the journal the demo made into PostgreSQL and back: every
/// query answers the same on the original, the PostgreSQL copy and the copy of the copy, ids
/// included; a non-empty target is refused; and new rows in the PostgreSQL copy get ids past
/// the copied ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journal_copy_round_trips_a_journal_made_by_the_demo() {
    let Some(db) = pg::database().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let leadrelay = || {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_leadrelay"));
        command
            .current_dir(dir.path())
            .env("LEADRELAY_LOG", "error");
        command
    };
    let scripts = format!("{}/scripts", env!("CARGO_MANIFEST_DIR"));
    let demo = leadrelay()
        .args([
            "demo",
            "--seconds",
            "3",
            "--leads",
            "30",
            "--scripts",
            &scripts,
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&demo.stdout).into_owned();
    assert!(demo.status.success(), "{stdout}");
    let demo_dir = stdout
        .lines()
        .find_map(|l| l.strip_prefix("journal and config in "))
        .unwrap_or_else(|| panic!("{stdout}"))
        .trim()
        .to_string();
    let original = format!("{demo_dir}/leadrelay.db");
    let back = dir.path().join("back.db").display().to_string();
    for (from, to) in [(&original, &db.url), (&db.url, &back)] {
        let out = leadrelay()
            .args(["journal", "copy", "--from", from, "--to", to])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains(" leads"));
    }
    let readers: Vec<_> = [&original, &db.url, &back]
        .iter()
        .map(|t| open_reader(&JournalTarget::parse(t).unwrap()).unwrap())
        .collect();
    let answers = |r: &dyn leadrelay::store::Queries| {
        let mut status = r.status().unwrap();
        status.schema_version = 0;
        let leads = r.list_leads(&LeadQuery::default()).unwrap();
        assert!(
            leads.len() >= 20,
            "the demo journaled {} leads",
            leads.len()
        );
        let stories: Vec<_> = leads
            .iter()
            .map(|l| r.lead_story(&format!("#{}", l.id)).unwrap())
            .collect();
        format!(
            "{status:?}\n{leads:?}\n{stories:?}\n{:?}\n{:?}",
            r.dead_letters().unwrap(),
            r.quarantined().unwrap()
        )
    };
    let first = answers(readers[0].as_ref());
    assert_eq!(first, answers(readers[1].as_ref()), "SQLite → PostgreSQL");
    assert_eq!(first, answers(readers[2].as_ref()), "PostgreSQL → SQLite");
    // The target must be empty.
    let again = leadrelay()
        .args(["journal", "copy", "--from", &original, "--to", &db.url])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("must be an empty journal"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    // New leads in the PostgreSQL copy get ids after the copied ones.
    let copied_max = readers[1]
        .list_leads(&LeadQuery::default())
        .unwrap()
        .iter()
        .map(|l| l.id)
        .max()
        .unwrap();
    let journal = Journal::connect(&JournalTarget::parse(&db.url).unwrap(), options())
        .await
        .unwrap();
    journal
        .accept_leads(
            vec![lead("after-copy", "新", "13900000000")],
            arrival(1),
            None,
        )
        .await
        .unwrap();
    let new_id = readers[1].lead_story("after-copy").unwrap().unwrap().id;
    assert!(
        new_id > copied_max,
        "new id {new_id} after copied {copied_max}"
    );
}

/// Retention on PostgreSQL does what it does on SQLite: the same content, pruned with the same
/// policy at the same instant, gives the same report and the same answers afterwards (first
/// redaction only, then deletion).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_prunes_and_redacts_as_on_sqlite() {
    let Some(db) = pg::database().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("leadrelay.db");
    let targets = [
        JournalTarget::parse(file.to_str().unwrap()).unwrap(),
        JournalTarget::parse(&db.url).unwrap(),
    ];
    let mut journals = Vec::new();
    for target in &targets {
        let journal = Journal::connect(target, options()).await.unwrap();
        seed(&journal).await;
        journals.push(journal);
    }
    let now = 1_800_000_000_000;
    let answers = |journal: &Journal| {
        let r = journal.reader();
        let stories: Vec<_> = ["L1", "L2", "L3", "L4"]
            .iter()
            .map(|id| {
                r.lead_story(id).unwrap().map(|mut s| {
                    for run in &mut s.runs {
                        run.node = None;
                    }
                    s
                })
            })
            .collect();
        let mut status = r.status().unwrap();
        (status.schema_version, status.nodes) = (0, Vec::new());
        format!("{status:?}\n{stories:?}\n{:?}", r.dead_letters().unwrap())
    };
    // Redaction only: keep for ten years, personal data for one day.
    let redact = RetentionPolicy::new(3650, 1).unwrap();
    let mut reports = Vec::new();
    for journal in &journals {
        reports.push(journal.prune(redact, now, 2).await.unwrap());
    }
    assert_eq!(reports[0], reports[1], "redaction report");
    assert!(reports[1].redacted_leads > 0, "{:?}", reports[1]);
    assert_eq!(
        answers(&journals[0]),
        answers(&journals[1]),
        "after redaction"
    );
    let redacted = journals[1].reader().lead_story("L1").unwrap().unwrap();
    assert!(redacted.lead.redacted_ms.is_some(), "{redacted:?}");
    assert!(
        !format!("{redacted:?}").contains("13800001234")
            && !format!("{redacted:?}").contains("张三"),
        "the phone and name are gone: {redacted:?}"
    );

    // Then deletion at the defaults.
    let mut reports = Vec::new();
    for journal in &journals {
        reports.push(
            journal
                .prune(RetentionPolicy::default(), now, 2)
                .await
                .unwrap(),
        );
    }
    assert_eq!(reports[0], reports[1], "deletion report");
    assert!(reports[1].deleted_leads > 0, "{:?}", reports[1]);
    assert_eq!(
        answers(&journals[0]),
        answers(&journals[1]),
        "after deletion"
    );
}

/// More content for an erasure, after [`seed`]: the person of L1 (13800001234) again as a
/// pending lead with the phone written otherwise, a pending follow record and a quarantined
/// body holding the phone, and another person's lead whose run quotes it.
async fn seed_person(journal: &Journal) {
    let mut work = journal.claim_due(1_700_000_000_000, 10).await.unwrap();
    work.sort_by_key(|w| w.id);
    // L4 (another person) and the cron job were pending.
    assert_eq!(work.len(), 2, "{work:?}");
    let mut quoting = call(1, false);
    quoting.message = Some("duplicate of 13800001234 (张三)".into());
    quoting.response = Some(json!({"msg": "phone 13800001234 exists"}));
    journal
        .finish(
            work[0].id,
            vec![run(vec![quoting], Some("crm said 13800001234 exists"))],
            WorkOutcome::Done,
        )
        .await
        .unwrap();
    journal
        .finish(work[1].id, vec![run(vec![], None)], WorkOutcome::Done)
        .await
        .unwrap();
    let mut again = lead("L5", "张三", "+86 138-0000-1234");
    again.raw = json!({"leads_id": "L5", "tel": "138 0000 1234"});
    journal
        .accept_leads(vec![again], arrival(1_699_999_300_000), None)
        .await
        .unwrap();
    journal
        .accept_follow(leadrelay::store::types::FollowArrival {
            account: "wq_main".into(),
            msg_id: "m1".into(),
            data_id: Some("d-0001".into()),
            record: json!({"customer": "张三", "mobile": "13800001234", "note": "回访"}),
            arrival: arrival(1_699_999_400_000),
        })
        .await
        .unwrap();
    journal
        .quarantine(Quarantined {
            account: "tx_main".into(),
            endpoint: "/hooks/tencent/tx_main".into(),
            reason: "not JSON: tel=138-0000-1234".into(),
            content_type: Some("text/plain".into()),
            body: b"tel=+86 138-0000-1234 name=\xe5\xbc\xa0".to_vec(),
            received_at_ms: 1_699_999_500_000,
        })
        .await
        .unwrap();
}

/// Everything a person could see of a journal through `Queries`, runs' nodes left out (only
/// PostgreSQL records them).
fn visible(r: &dyn leadrelay::store::Queries) -> String {
    let unnode =
        |runs: &mut Vec<leadrelay::store::RunStory>| runs.iter_mut().for_each(|r| r.node = None);
    let leads: Vec<_> = ["L1", "L2", "L3", "L4", "L5"]
        .iter()
        .map(|id| {
            r.lead_story(id).unwrap().map(|mut s| {
                unnode(&mut s.runs);
                s
            })
        })
        .collect();
    let work: Vec<_> = (1..=8)
        .map(|id| {
            r.work_story(id).unwrap().map(|(w, mut runs)| {
                unnode(&mut runs);
                (w, runs)
            })
        })
        .collect();
    let follow = r.follow_story("m1").unwrap().map(|mut s| {
        unnode(&mut s.runs);
        s
    });
    let quarantine: Vec<_> = r
        .quarantined()
        .unwrap()
        .iter()
        .map(|q| r.quarantine_item(q.id).unwrap())
        .collect();
    let mut status = r.status().unwrap();
    (status.schema_version, status.nodes) = (0, Vec::new());
    let retention = r
        .retention_status(RetentionPolicy::default(), 1_800_000_000_000)
        .unwrap();
    format!(
        "{status:?}\n{leads:?}\n{work:?}\n{follow:?}\n{quarantine:?}\n{:?}\n{:?}\n{:?}",
        r.dead_letters().unwrap(),
        r.list_follows(None, None, 10).unwrap(),
        (
            retention.redacted_leads,
            retention.erasures,
            retention.last_erasure_ms
        )
    )
}

/// `leads forget` on PostgreSQL does what it does on SQLite: the same content, erased for the
/// same person, gives the same report and leaves the same visible data — by phone (however
/// written), by id, again (nothing left), and for an id nobody has. Then the CLI erases on a
/// PostgreSQL journal through `--config`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forget_erases_as_on_sqlite_and_the_cli_runs_it() {
    use leadrelay::store::retention::forget;
    use leadrelay::store::ForgetSelector;

    let Some(db) = pg::database().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("leadrelay.db");
    let targets = [
        JournalTarget::parse(file.to_str().unwrap()).unwrap(),
        JournalTarget::parse(&db.url).unwrap(),
    ];
    let mut journals = Vec::new();
    for target in &targets {
        let journal = Journal::connect(target, options()).await.unwrap();
        seed(&journal).await;
        seed_person(&journal).await;
        journals.push(journal);
    }
    let same = |what: &str| {
        let (s, p) = (visible(journals[0].reader()), visible(journals[1].reader()));
        assert_eq!(s, p, "{what}: SQLite vs PostgreSQL");
        p
    };
    let before = same("before");
    assert!(before.contains("13800001234"), "{before}");
    let now = 1_700_000_500_000;
    // The nodes keep running beside the erasure (their journals stay open).
    let erase = |selector: ForgetSelector| {
        let reports: Vec<_> = targets
            .iter()
            .map(|t| forget(t, &selector, "dpo", now))
            .collect();
        assert_eq!(reports[0], reports[1], "{selector:?}: SQLite vs PostgreSQL");
        reports.into_iter().next().unwrap()
    };
    let erasure = erase(ForgetSelector::Phone("+86 138 0000 1234".into())).unwrap();
    assert_eq!(erasure.id, 1);
    assert_eq!(
        erasure.leads,
        ["tencent tx_main L1", "tencent tx_main L5"],
        "{erasure:?}"
    );
    assert_eq!(erasure.follows, ["wq_main m1"], "{erasure:?}");
    assert_eq!(erasure.quarantined, [2], "{erasure:?}");
    assert_eq!(
        erasure.closed, 2,
        "L5 and the follow record were pending: {erasure:?}"
    );
    assert!(erasure.runs >= 1 && erasure.calls >= 3, "{erasure:?}");
    let after = same("after the phone's erasure");
    // (Another item's texts lose the phone only: the name in L4's call message stays, as
    // the README says.)
    for gone in [
        "13800001234",
        "1234 name",
        "138-0000-1234",
        "138 0000 1234",
        "回访",
    ] {
        assert!(!after.contains(gone), "{gone} is left:\n{after}");
    }
    assert!(after.contains("duplicate of *** (张三)"), "{after}");
    assert!(after.contains("personal data erased on request"), "{after}");
    // Others are untouched.
    assert!(
        after.contains("13900005678") || after.contains("Li_Si"),
        "{after}"
    );

    let by_id = erase(ForgetSelector::Id("L2".into())).unwrap();
    assert_eq!((by_id.id, by_id.leads.len()), (2, 1), "{by_id:?}");
    same("after the id's erasure");
    let again = erase(ForgetSelector::Phone("13800001234".into())).unwrap();
    assert_eq!(again.id, 3);
    assert!(
        again.leads.is_empty() && again.follows.is_empty() && again.quarantined.is_empty(),
        "{again:?}"
    );
    assert!(matches!(
        erase(ForgetSelector::Id("nope".into())),
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        erase(ForgetSelector::Phone("12".into())),
        Err(StoreError::Conflict(_))
    ));
    same("at the end");

    // The CLI on a PostgreSQL journal.
    let config = dir.path().join("leadrelay.toml");
    std::fs::write(&config, format!("[daemon]\njournal = {:?}\n", db.url)).unwrap();
    let cli = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_leadrelay"))
            .arg("--config")
            .arg(&config)
            .args(args)
            .env("LEADRELAY_LOG", "error")
            .output()
            .unwrap()
    };
    let out = cli(&[
        "leads",
        "forget",
        "--phone",
        "13600000000",
        "--by",
        "cli test",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("erasure 4 recorded (by cli test): 1 lead(s), 0 follow record(s)")
            && stdout.contains("lead tencent tx_main L4"),
        "{stdout}"
    );
    let l4 = journals[1].reader().lead_story("L4").unwrap().unwrap();
    assert!(l4.lead.redacted_ms.is_some(), "{l4:?}");
    assert!(!format!("{l4:?}").contains("13600000000"), "{l4:?}");
    let out = cli(&["leads", "forget", "--id", "nope"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("`nope` not found"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A read-only command never changes the schema: a reader (and `leads forget`) on an empty
/// database refuses it clearly and leaves it without a table; a journal from a newer
/// leadrelay is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_checks_the_schema_and_never_creates_it() {
    let Some(db) = pg::database().await else {
        return;
    };
    let target = JournalTarget::parse(&db.url).unwrap();
    let err = open_reader(&target).err().unwrap().to_string();
    assert!(
        err.contains("no leadrelay journal")
            && err.contains("run the daemon on it or `leadrelay journal copy` to create it"),
        "{err}"
    );
    assert!(!err.contains("password"), "{err}");
    let err = leadrelay::store::retention::forget(
        &target,
        &leadrelay::store::ForgetSelector::Phone("13800001234".into()),
        "t",
        1,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("no leadrelay journal"), "{err}");
    let (client, conn) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let conn = tokio::spawn(conn);
    let tables = |client: tokio_postgres::Client| async move {
        let n: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        (n, client)
    };
    let (n, client) = tables(client).await;
    assert_eq!(n, 0, "the reader created tables");
    // The CLI's read commands say the same.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("leadrelay.toml");
    std::fs::write(&config, format!("[daemon]\njournal = {:?}\n", db.url)).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_leadrelay"))
        .arg("--config")
        .arg(&config)
        .args(["leads", "list"])
        .env("LEADRELAY_LOG", "error")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("`leadrelay journal copy` to create it"),
        "{stderr}"
    );
    let (n, client) = tables(client).await;
    assert_eq!(n, 0, "`leads list` created tables");

    // A journal of a newer leadrelay.
    drop(Journal::connect(&target, options()).await.unwrap());
    assert!(open_reader(&target).is_ok());
    client
        .batch_execute(
            "INSERT INTO schema_migrations (version, name, applied_ms) VALUES (99, 'future', 0)",
        )
        .await
        .unwrap();
    let err = open_reader(&target).err().unwrap();
    assert!(
        matches!(
            err,
            StoreError::TooNew {
                found: 99,
                known: 1,
                ..
            }
        ),
        "{err}"
    );
    drop(client);
    let _ = conn.await;
}

/// `leads forget` beside a running node: while a node holds one of the person's work items
/// (as it does finishing it), the erasure waits for it instead of overwriting it, and
/// meanwhile the node keeps taking leads and its prune step skips the rows the erasure holds.
/// Once the node commits, the erasure completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forget_waits_for_a_node_holding_the_persons_work_and_blocks_no_one() {
    use std::time::Duration;

    use leadrelay::store::retention::forget;
    use leadrelay::store::ForgetSelector;

    let Some(db) = pg::database().await else {
        return;
    };
    let target = JournalTarget::parse(&db.url).unwrap();
    let journal = Journal::connect(&target, options()).await.unwrap();
    seed(&journal).await;
    seed_person(&journal).await;
    let (mut node, conn) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let (watch, conn) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    // A node finishing L1's work holds its row.
    let holder = node.transaction().await.unwrap();
    holder
        .query("SELECT id FROM work WHERE lead_id = 1 FOR UPDATE", &[])
        .await
        .unwrap();
    let erasing = {
        let target = target.clone();
        tokio::task::spawn_blocking(move || {
            forget(
                &target,
                &ForgetSelector::Phone("13800001234".into()),
                "dpo",
                1_700_000_500_000,
            )
        })
    };
    // The erasure is waiting for that row lock.
    let waiting = async {
        loop {
            let n: i64 = watch
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity
                     WHERE datname = current_database() AND wait_event_type = 'Lock'",
                    &[],
                )
                .await
                .unwrap()
                .get(0);
            if n > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("the erasure waits for the node's lock");
    assert!(!erasing.is_finished());
    // Meanwhile the nodes go on: intake commits, and a prune step redacts what is final
    // except the leads the erasure holds (L1), without waiting for it.
    tokio::time::timeout(
        Duration::from_secs(10),
        journal.accept_leads(
            vec![lead("L6", "孙七", "13500000000")],
            arrival(1_700_000_400_000),
            None,
        ),
    )
    .await
    .expect("intake is not blocked")
    .unwrap();
    let report = tokio::time::timeout(
        Duration::from_secs(10),
        journal.prune_step(
            RetentionPolicy::new(3650, 1).unwrap(),
            1_800_000_000_000,
            100,
        ),
    )
    .await
    .expect("a prune step is not blocked")
    .unwrap();
    assert_eq!(report.redacted_leads, 1, "L4 only, L1 is held: {report:?}");
    assert!(journal
        .reader()
        .lead_story("L1")
        .unwrap()
        .unwrap()
        .lead
        .redacted_ms
        .is_none());
    holder.commit().await.unwrap();
    let erasure = tokio::time::timeout(Duration::from_secs(10), erasing)
        .await
        .expect("the erasure completes once the node commits")
        .unwrap()
        .unwrap();
    assert_eq!(
        erasure.leads,
        ["tencent tx_main L1", "tencent tx_main L5"],
        "{erasure:?}"
    );
    let l1 = journal.reader().lead_story("L1").unwrap().unwrap();
    assert_eq!(l1.lead.redacted_ms, Some(1_700_000_500_000), "{l1:?}");
}
