//! The journal, on both backends: schema and migrations, intake de-duplication, checkpoints,
//! the dispatcher's work lifecycle, calls committed as they return, crash recovery, cron slots
//! as work items, `once` keys, assignment counters, the CLI's queries and group-commit
//! throughput.
//!
//! Each test body is written once against a [`Store`] and runs twice (see [`both!`]):
//! `journal::sqlite::NAME` on a SQLite file in a temp dir, and `journal::postgres::NAME` on a
//! fresh database of the test PostgreSQL server (`pg.rs`; it returns early, after one line on
//! stderr, when PostgreSQL is not installed and not required). SQLite is the reference: a
//! PostgreSQL variant that fails is a bug in `store/postgres/`.
//!
//! "Reopening after a crash" drops the handle without finishing its work and opens the journal
//! again: on SQLite the same file, on PostgreSQL a new `Journal::connect` under the same node
//! name (a node takes back at once only the work claimed under its own name).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use leadrelay::connectors::Vendor;
use leadrelay::host::once::OnceStore;
use leadrelay::host::stdlib::AssignmentStore;
use leadrelay::lead::{Lead, LeadKind};
use leadrelay::store::types::{Accepted, Arrival, Checkpoint, FollowArrival, Quarantined, Via};
use leadrelay::store::Queries;
use leadrelay::store::{
    fingerprint, open_reader, CallRow, CronFire, DeadSelector, Journal, JournalOptions,
    JournalReader, JournalTarget, LeadQuery, RunRecord, RunRow, RunStart, StoreError, WorkKind,
    WorkOutcome, WorkState, WorkStatus,
};
use serde_json::json;

use crate::pg;

fn temp() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("leadrelay.db");
    (dir, path)
}

/// Where one test's journal lives.
enum Store {
    /// A SQLite file in a temp dir (removed with it).
    Sqlite {
        _dir: tempfile::TempDir,
        path: PathBuf,
    },
    /// A fresh database on the test PostgreSQL server.
    Postgres { url: String },
}

/// The node name every journal of these tests opens under, so a reopen is the same node
/// coming back.
const NODE: &str = "journal-test";

fn options() -> JournalOptions {
    JournalOptions {
        node: NODE.into(),
        ..JournalOptions::default()
    }
}

impl Store {
    fn sqlite() -> Store {
        let (dir, path) = temp();
        Store::Sqlite { _dir: dir, path }
    }

    /// `None` when the PostgreSQL suite is skipped (see `pg.rs`).
    async fn postgres() -> Option<Store> {
        Some(Store::Postgres {
            url: pg::database().await?.url,
        })
    }

    fn target(&self) -> JournalTarget {
        match self {
            Store::Sqlite { path, .. } => JournalTarget::Sqlite(path.clone()),
            Store::Postgres { url } => JournalTarget::parse(url).unwrap(),
        }
    }

    /// Opens (or reopens) the journal with the tests' options.
    async fn open(&self) -> Journal {
        self.open_with(options()).await
    }

    async fn open_with(&self, options: JournalOptions) -> Journal {
        Journal::connect(&self.target(), options).await.unwrap()
    }

    /// A read side of its own, as the CLI opens beside a running daemon.
    fn reader(&self) -> Box<dyn Queries> {
        open_reader(&self.target()).unwrap()
    }

    /// The schema version this build writes (each backend counts its own migrations).
    fn known_version(&self) -> i64 {
        match self {
            Store::Sqlite { .. } => 4,
            Store::Postgres { .. } => 1,
        }
    }

    /// What a message about this journal names it by: the file, or the database.
    fn named_in_messages(&self) -> String {
        match self {
            Store::Sqlite { .. } => "leadrelay.db".to_string(),
            Store::Postgres { url } => url.rsplit('/').next().unwrap().to_string(),
        }
    }

    /// Marks the journal as written by a leadrelay whose schema is at `version`.
    async fn stamp_schema_version(&self, version: i64) {
        match self {
            Store::Sqlite { path, .. } => {
                let conn = rusqlite::Connection::open(path).unwrap();
                conn.pragma_update(None, "user_version", version).unwrap();
            }
            Store::Postgres { url } => {
                pg_execute(
                    url,
                    &format!(
                        "INSERT INTO schema_migrations (version, name, applied_ms) \
                         VALUES ({version}, 'future', 0)"
                    ),
                )
                .await
            }
        }
    }

    /// The `once` keys as stored.
    async fn stored_once_keys(&self) -> Vec<String> {
        match self {
            Store::Sqlite { path, .. } => rusqlite::Connection::open(path)
                .unwrap()
                .prepare("SELECT key FROM once_keys")
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap(),
            Store::Postgres { url } => {
                let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                    .await
                    .unwrap();
                let conn = tokio::spawn(conn);
                let keys = client
                    .query("SELECT key FROM once_keys", &[])
                    .await
                    .unwrap()
                    .iter()
                    .map(|r| r.get(0))
                    .collect();
                drop(client);
                let _ = conn.await;
                keys
            }
        }
    }

    fn backend(&self) -> &'static str {
        match self {
            Store::Sqlite { .. } => "SQLite, synchronous=NORMAL",
            Store::Postgres { .. } => "PostgreSQL, test server without fsync",
        }
    }
}

/// Runs one statement on the PostgreSQL database at `url`, beside the journal.
async fn pg_execute(url: &str, sql: &str) {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let conn = tokio::spawn(conn);
    client.batch_execute(sql).await.unwrap();
    drop(client);
    let _ = conn.await;
}

/// Runs each named test body (`async fn NAME(store: Store)`) once per backend:
/// `sqlite::NAME` and `postgres::NAME`.
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Store::sqlite()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(store) = super::Store::postgres().await else {
                        return;
                    };
                    super::$name(store).await;
                }
            )*
        }
    };
}

fn lead(account: &str, id: &str) -> Lead {
    let mut lead = Lead::new(
        Vendor::Tencent,
        account,
        id,
        json!({"leads_id": id, "leads_tel": "13812345678"}),
    );
    lead.name = Some("张三".into());
    lead.phone = Some("13812345678".into());
    lead.kind = LeadKind::Form;
    lead.city = Some("广州".into());
    lead
}

fn push(at_ms: i64) -> Arrival {
    Arrival {
        via: Via::Push,
        endpoint: "/hooks/tencent/tx_main".into(),
        received_at_ms: at_ms,
    }
}

fn run(handler: &str, error: Option<&str>, calls: Vec<CallRow>) -> RunRecord {
    RunRecord {
        id: None,
        script: "scripts/route.rhai".into(),
        handler: handler.into(),
        version: "v1-abc".into(),
        started_ms: 1_000,
        elapsed_ms: 12,
        error: error.map(str::to_string),
        skipped: None,
        calls,
    }
}

fn call(seq: u32, op: &str, payload: serde_json::Value, ok: bool) -> CallRow {
    CallRow {
        seq,
        vendor: "xiaolanben".into(),
        account: "xlb".into(),
        op: op.into(),
        fingerprint: fingerprint("xiaolanben", "xlb", op, &payload),
        ok,
        status: (!ok).then_some(503),
        code: (!ok).then(|| "B00008".to_string()),
        message: (!ok).then(|| "busy".to_string()),
        response: ok.then(|| json!({"customerId": 77, "op": op})),
        attempts: if ok { 1 } else { 3 },
        replayed: false,
    }
}

async fn migrations_create_the_schema_and_reopening_is_idempotent(store: Store) {
    let known = store.known_version();
    let first = store.open().await;
    let status = first.reader().status().unwrap();
    assert_eq!(status.schema_version, known);
    assert_eq!(status.leads, 0);
    assert_eq!(status.backlog(), 0);
    drop(first);
    let again = store.open().await;
    assert_eq!(again.reader().migrations().unwrap().len() as i64, known);
    assert_eq!(again.reader().status().unwrap().schema_version, known);
}

/// Both backends keep a schema version (SQLite's `user_version`, PostgreSQL's
/// `schema_migrations`) and refuse, for writing and for reading, a journal a newer leadrelay
/// migrated further.
async fn a_journal_from_a_newer_leadrelay_is_refused_clearly(store: Store) {
    let known = store.known_version();
    drop(store.open().await);
    store.stamp_schema_version(99).await;
    let err = Journal::connect(&store.target(), options())
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::TooNew { found: 99, known: k, .. } if k == known),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains(&format!(
            "schema version 99, newer than this leadrelay knows ({known})"
        )),
        "{message}"
    );
    assert!(message.contains(&store.named_in_messages()), "{message}");
    let err = open_reader(&store.target()).err().expect("refused");
    assert!(matches!(err, StoreError::TooNew { .. }), "{err:?}");
}

/// SQLite only: a file path can name nothing or another program's database. (A PostgreSQL
/// database is named by its URL and migrated on first connect; an unreachable one is the
/// outage tests' subject.)
#[test]
fn the_read_only_open_refuses_missing_files_and_foreign_databases() {
    let (dir, path) = temp();
    assert!(matches!(
        JournalReader::open(&path).unwrap_err(),
        StoreError::Open { .. }
    ));
    let other = dir.path().join("other.db");
    rusqlite::Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE t (x)")
        .unwrap();
    let err = JournalReader::open(&other).unwrap_err();
    assert!(matches!(err, StoreError::NotAJournal { .. }), "{err:?}");
}

async fn accept_leads_dedups_per_account_and_vendor_lead_id(store: Store) {
    let journal = store.open().await;
    let got = journal
        .accept_leads(
            vec![
                lead("tx_main", "1"),
                lead("tx_main", "1"),
                lead("tx_other", "1"),
            ],
            push(1_000),
            None,
        )
        .await
        .unwrap();
    assert_eq!(got, [Accepted::New, Accepted::Duplicate, Accepted::New]);
    let again = journal
        .accept_leads(vec![lead("tx_main", "1")], push(2_000), None)
        .await
        .unwrap();
    assert_eq!(again, [Accepted::Duplicate]);
    let status = journal.reader().status().unwrap();
    assert_eq!(status.leads, 2);
    assert_eq!(status.backlog(), 2, "one work item per new lead");
    assert_eq!(journal.backlog(), 2);
}

async fn follow_records_dedup_by_account_and_msg_id(store: Store) {
    let journal = store.open().await;
    let follow = |account: &str, msg: &str| FollowArrival {
        account: account.into(),
        msg_id: msg.into(),
        data_id: Some("d1".into()),
        record: json!({"follow_content": "called back"}),
        arrival: push(5),
    };
    assert_eq!(
        journal.accept_follow(follow("wq", "m1")).await.unwrap(),
        Accepted::New
    );
    assert_eq!(
        journal.accept_follow(follow("wq", "m1")).await.unwrap(),
        Accepted::Duplicate
    );
    assert_eq!(
        journal.accept_follow(follow("wq2", "m1")).await.unwrap(),
        Accepted::New
    );
    let work = journal.claim_due(0, 10).await.unwrap();
    assert_eq!(work.len(), 2);
    match &work[0].kind {
        WorkKind::Follow {
            account,
            msg_id,
            record,
            ..
        } => {
            assert_eq!((account.as_str(), msg_id.as_str()), ("wq", "m1"));
            assert_eq!(record["follow_content"], "called back");
        }
        other => panic!("{other:?}"),
    }
}

async fn a_checkpoint_commits_with_its_leads_and_survives_reopen(store: Store) {
    let journal = store.open().await;
    assert_eq!(
        journal.checkpoint("tx_main", "/leads/list").await.unwrap(),
        None
    );
    let cp = |position: &str| Checkpoint {
        account: "tx_main".into(),
        endpoint: "/leads/list".into(),
        position: position.into(),
    };
    journal
        .accept_leads(vec![lead("tx_main", "9")], push(1), Some(cp("1700000000")))
        .await
        .unwrap();
    journal
        .accept_leads(vec![], push(2), Some(cp("1700000600")))
        .await
        .unwrap();
    drop(journal);
    let journal = store.open().await;
    assert_eq!(
        journal
            .checkpoint("tx_main", "/leads/list")
            .await
            .unwrap()
            .as_deref(),
        Some("1700000600")
    );
    assert_eq!(journal.checkpoint("tx_main", "/other").await.unwrap(), None);
    let status = journal.reader().status().unwrap();
    assert_eq!(status.checkpoints.len(), 1);
    assert_eq!(status.checkpoints[0].position, "1700000600");
}

async fn claimed_work_left_running_by_a_crash_is_pending_after_reopen(store: Store) {
    let journal = store.open().await;
    journal
        .accept_leads(
            vec![lead("a", "1"), lead("a", "2"), lead("a", "3")],
            push(10),
            None,
        )
        .await
        .unwrap();
    let work = journal.claim_due(10, 2).await.unwrap();
    assert_eq!(work.len(), 2);
    assert_eq!(work[0].attempts, 1);
    assert_eq!(work[0].first_seen_ms, 10);
    match &work[0].kind {
        WorkKind::Lead(l) => {
            assert_eq!(**l, lead("a", "1"), "the full lead comes back");
        }
        other => panic!("{other:?}"),
    }
    let status = journal.reader().status().unwrap();
    assert_eq!(status.work[1], (WorkStatus::Running, 2));
    // Crash: drop without finishing.
    drop(journal);
    let journal = store.open().await;
    let status = journal.reader().status().unwrap();
    assert_eq!(status.work[0], (WorkStatus::Pending, 3));
    assert_eq!(status.work[1], (WorkStatus::Running, 0));
    let again = journal.claim_due(10, 10).await.unwrap();
    assert_eq!(again.len(), 3);
    assert_eq!(again[0].id, work[0].id, "oldest first");
    assert_eq!(again[0].attempts, 2, "the interrupted claim counts");
    assert!(journal.claim_due(10, 10).await.unwrap().is_empty());
}

async fn a_retry_is_due_only_from_its_time(store: Store) {
    let journal = store.open().await;
    journal
        .accept_leads(vec![lead("a", "1")], push(10), None)
        .await
        .unwrap();
    let work = journal.claim_due(10, 10).await.unwrap();
    journal
        .finish(
            work[0].id,
            vec![run("route", Some("scripts/route.rhai:3:5: busy"), vec![])],
            WorkOutcome::Retry {
                at_ms: 5_000,
                reason: "xiaolanben busy".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(journal.backlog(), 1, "a retry stays in the backlog");
    assert!(journal.claim_due(4_999, 10).await.unwrap().is_empty());
    let due = journal.claim_due(5_000, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].attempts, 2);
    // Finishing twice, or finishing work that is not running, is refused.
    journal
        .finish(due[0].id, vec![], WorkOutcome::Done)
        .await
        .unwrap();
    let err = journal
        .finish(due[0].id, vec![], WorkOutcome::Done)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert!(matches!(
        journal
            .finish(999, vec![], WorkOutcome::Done)
            .await
            .unwrap_err(),
        StoreError::NotFound(_)
    ));
    assert_eq!(journal.backlog(), 0);
}

async fn dead_work_becomes_a_dead_letter_and_retry_dead_revives_it(store: Store) {
    let journal = store.open().await;
    journal
        .accept_leads(vec![lead("a", "1"), lead("a", "2")], push(10), None)
        .await
        .unwrap();
    for work in journal.claim_due(10, 10).await.unwrap() {
        journal
            .finish(
                work.id,
                vec![],
                WorkOutcome::Dead {
                    reason: format!("HTTP 401 (not retryable) #{}", work.id),
                },
            )
            .await
            .unwrap();
    }
    assert_eq!(journal.backlog(), 0);
    let dead = journal.reader().dead_letters().unwrap();
    assert_eq!(dead.len(), 2);
    assert_eq!(dead[0].kind, "lead");
    assert_eq!(dead[0].item, "1");
    assert_eq!(dead[0].attempts, 1);
    assert!(dead[0].reason.starts_with("HTTP 401 (not retryable)"));
    let dead_only = LeadQuery {
        status: Some(WorkStatus::Dead),
        ..LeadQuery::default()
    };
    assert_eq!(journal.reader().list_leads(&dead_only).unwrap().len(), 2);

    assert_eq!(
        journal
            .retry_dead(DeadSelector::One(dead[0].id))
            .await
            .unwrap(),
        1
    );
    assert!(matches!(
        journal
            .retry_dead(DeadSelector::One(dead[0].id))
            .await
            .unwrap_err(),
        StoreError::NotFound(_)
    ));
    assert_eq!(journal.reader().dead_letters().unwrap().len(), 1);
    assert_eq!(journal.backlog(), 1);
    let revived = journal.claim_due(10, 10).await.unwrap();
    assert_eq!(revived.len(), 1);
    assert_eq!(revived[0].attempts, 1, "attempts reset");
    assert_eq!(journal.retry_dead(DeadSelector::All).await.unwrap(), 1);
    assert!(journal.reader().dead_letters().unwrap().is_empty());
    assert_eq!(journal.reader().status().unwrap().dead_letters, 0);
}

async fn succeeded_calls_of_earlier_runs_are_returned_for_replay(store: Store) {
    let journal = store.open().await;
    journal
        .accept_leads(vec![lead("a", "1")], push(10), None)
        .await
        .unwrap();
    let work = journal.claim_due(10, 1).await.unwrap().remove(0);
    assert!(journal.succeeded_calls(work.id).await.unwrap().is_empty());
    let import = json!({"entName": "ACME", "ts": 1});
    journal
        .finish(
            work.id,
            vec![run(
                "route",
                Some("scripts/route.rhai:7:9: linkflow busy"),
                vec![
                    call(0, "import_customer", import.clone(), true),
                    call(1, "send_event", json!({"request_id": "r1"}), false),
                ],
            )],
            WorkOutcome::Retry {
                at_ms: 20,
                reason: "busy".into(),
            },
        )
        .await
        .unwrap();
    let prior = journal.succeeded_calls(work.id).await.unwrap();
    assert_eq!(prior.len(), 1);
    assert_eq!(prior[0].handler, "route");
    assert_eq!(prior[0].seq, 0);
    assert_eq!(
        prior[0].response,
        json!({"customerId": 77, "op": "import_customer"})
    );
    // The retried run rebuilds the payload with a new clock: it still matches.
    assert_eq!(
        prior[0].fingerprint,
        fingerprint(
            "xiaolanben",
            "xlb",
            "import_customer",
            &json!({"ts": 2, "entName": "ACME"})
        )
    );
    let retried = journal.claim_due(20, 1).await.unwrap().remove(0);
    let mut replay = call(0, "import_customer", import, true);
    replay.replayed = true;
    journal
        .finish(
            retried.id,
            vec![run(
                "route",
                None,
                vec![
                    replay,
                    call(1, "send_event", json!({"request_id": "r1"}), true),
                ],
            )],
            WorkOutcome::Done,
        )
        .await
        .unwrap();
    let prior = journal.succeeded_calls(work.id).await.unwrap();
    assert_eq!(
        prior.iter().map(|c| c.seq).collect::<Vec<_>>(),
        [0, 1],
        "replays are not listed again"
    );
}

#[test]
fn fingerprint_ignores_clock_fields_but_not_business_fields() {
    let a = fingerprint(
        "tencent",
        "t",
        "report",
        &json!({"leads_id": 1, "ts": 1, "h_t": "1", "nonce": "a"}),
    );
    let b = fingerprint(
        "tencent",
        "t",
        "report",
        &json!({"nonce": "b", "h_t": "2", "leads_id": 1, "ts": 9}),
    );
    let c = fingerprint("tencent", "t", "report", &json!({"leads_id": 2, "ts": 1}));
    assert_eq!(a, b);
    assert_ne!(a, c);
}

async fn a_cron_slot_is_claimed_once_across_reopen_and_skips_are_counted(store: Store) {
    let journal = store.open().await;
    assert!(journal
        .claim_cron_slot("report.rhai#daily", 60_000)
        .await
        .unwrap());
    assert!(!journal
        .claim_cron_slot("report.rhai#daily", 60_000)
        .await
        .unwrap());
    assert!(journal
        .claim_cron_slot("other.rhai#daily", 60_000)
        .await
        .unwrap());
    journal
        .record_cron_skip("report.rhai#daily", 120_000, "previous tick still running")
        .await
        .unwrap();
    drop(journal);
    let journal = store.open().await;
    assert!(!journal
        .claim_cron_slot("report.rhai#daily", 60_000)
        .await
        .unwrap());
    assert!(journal
        .claim_cron_slot("report.rhai#daily", 180_000)
        .await
        .unwrap());
    let status = journal.reader().status().unwrap();
    let daily = status
        .cron
        .iter()
        .find(|c| c.schedule_key == "report.rhai#daily")
        .unwrap();
    assert_eq!(daily.claims, 2);
    assert_eq!(daily.skips, 1);
    assert_eq!(daily.last_slot_ms, Some(180_000));
    assert_eq!(
        daily.last_skip_reason.as_deref(),
        Some("previous tick still running")
    );
}

async fn old_cron_claims_are_pruned_but_never_fire_again(store: Store) {
    let journal = store.open().await;
    let week = 7 * 24 * 3600 * 1000;
    assert!(journal.claim_cron_slot("k", 0).await.unwrap());
    assert!(journal.claim_cron_slot("k", 2 * week).await.unwrap());
    assert!(
        !journal.claim_cron_slot("k", 0).await.unwrap(),
        "pruned, still refused"
    );
    assert!(
        !journal.claim_cron_slot("k", week / 2).await.unwrap(),
        "below the floor"
    );
    assert!(
        journal.claim_cron_slot("k", 2 * week - 1).await.unwrap(),
        "within retention"
    );
}

async fn assignment_counters_persist_across_reopen(store: Store) {
    let journal = store.open().await;
    let counters: Arc<dyn AssignmentStore> = journal.assignments();
    // The stdlib calls it from the blocking threads scripts run on.
    let first = tokio::task::spawn_blocking({
        let counters = counters.clone();
        move || {
            (0..3)
                .map(|_| counters.next("gz"))
                .chain([counters.next("sz")])
                .collect::<Vec<_>>()
        }
    })
    .await
    .unwrap();
    assert_eq!(first, [0, 1, 2, 0]);
    drop(counters);
    drop(journal);
    let journal = store.open().await;
    let counters = journal.assignments();
    let next = tokio::task::spawn_blocking(move || (counters.next("gz"), counters.next("sz")))
        .await
        .unwrap();
    assert_eq!(next, (3, 1));
}

async fn lead_story_tells_arrival_runs_calls_and_where_it_is(store: Store) {
    let journal = store.open().await;
    journal
        .accept_leads(vec![lead("tx_main", "4401")], push(1_700_000_000_000), None)
        .await
        .unwrap();
    let work = journal
        .claim_due(1_700_000_000_000, 1)
        .await
        .unwrap()
        .remove(0);
    journal
        .finish(
            work.id,
            vec![
                run(
                    "route",
                    None,
                    vec![call(0, "import_customer", json!({"entName": "A"}), true)],
                ),
                run(
                    "notify",
                    Some("scripts/route.rhai:20:3: linkflow::send_event failed: HTTP 503"),
                    vec![call(0, "send_event", json!({"request_id": "r"}), false)],
                ),
            ],
            WorkOutcome::Retry {
                at_ms: 1_700_000_060_000,
                reason: "linkflow busy".into(),
            },
        )
        .await
        .unwrap();
    let reader = journal.reader();
    let story = reader
        .lead_story("4401")
        .unwrap()
        .expect("found by vendor id");
    assert_eq!(story.lead, lead("tx_main", "4401"));
    assert_eq!(story.arrival, push(1_700_000_000_000));
    assert_eq!(story.work_id, work.id);
    assert_eq!(story.attempts, 1);
    assert_eq!(story.runs.len(), 2);
    assert_eq!(story.runs[0].handler, "route");
    assert_eq!(story.runs[0].status, "ok");
    assert_eq!(story.runs[0].version, "v1-abc");
    assert_eq!(story.runs[0].calls[0].op, "import_customer");
    assert!(story.runs[0].calls[0]
        .response_summary
        .as_deref()
        .unwrap()
        .contains("customerId"));
    assert_eq!(story.runs[1].status, "failed");
    assert_eq!(
        story.runs[1].error.as_deref(),
        Some("scripts/route.rhai:20:3: linkflow::send_event failed: HTTP 503")
    );
    let failed = &story.runs[1].calls[0];
    assert_eq!(
        (
            failed.ok,
            failed.status,
            failed.code.as_deref(),
            failed.attempts
        ),
        (false, Some(503), Some("B00008"), 3)
    );
    assert_eq!(
        story.state,
        WorkState::Retry {
            at_ms: 1_700_000_060_000,
            reason: "linkflow busy".into()
        }
    );
    let by_journal_id = reader
        .lead_story(&format!("#{}", story.id))
        .unwrap()
        .unwrap();
    assert_eq!(by_journal_id.id, story.id);
    assert!(reader.lead_story("nope").unwrap().is_none());
    let listed = reader.list_leads(&LeadQuery::default()).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].status, WorkStatus::Retry);
    assert_eq!(listed[0].reason.as_deref(), Some("linkflow busy"));
    let since_later = LeadQuery {
        since_ms: Some(1_700_000_000_001),
        ..LeadQuery::default()
    };
    assert!(reader.list_leads(&since_later).unwrap().is_empty());
}

async fn quarantine_keeps_the_body_byte_for_byte(store: Store) {
    let journal = store.open().await;
    let body: Vec<u8> = (0..=255u8)
        .chain(b"\x00{not json".iter().copied())
        .collect();
    let item = Quarantined {
        account: "fy".into(),
        endpoint: "/hooks/feiyu/fy".into(),
        reason: "expected value at line 1 column 1".into(),
        content_type: Some("application/json".into()),
        body: body.clone(),
        received_at_ms: 42,
    };
    let id = journal.quarantine(item.clone()).await.unwrap();
    drop(journal);
    let reader = store.reader();
    assert_eq!(reader.quarantine_item(id).unwrap(), Some(item));
    assert_eq!(reader.quarantine_item(id + 1).unwrap(), None);
    let list = reader.quarantined().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].bytes, body.len());
    assert_eq!(reader.status().unwrap().quarantined, 1);
}

async fn overload_follows_the_backlog_and_a_reader_sees_a_live_daemon(store: Store) {
    let journal = store
        .open_with(JournalOptions {
            backlog_limit: 2,
            ..options()
        })
        .await;
    let cli = store.reader();
    journal
        .accept_leads(vec![lead("a", "1"), lead("a", "2")], push(1), None)
        .await
        .unwrap();
    assert!(!journal.is_overloaded());
    journal
        .accept_leads(vec![lead("a", "3")], push(1), None)
        .await
        .unwrap();
    assert!(journal.is_overloaded());
    assert_eq!(
        cli.status().unwrap().leads,
        3,
        "another connection sees committed leads"
    );
    for work in journal.claim_due(1, 10).await.unwrap() {
        journal
            .finish(work.id, vec![], WorkOutcome::Done)
            .await
            .unwrap();
    }
    assert!(!journal.is_overloaded());
    drop(journal);
    let reopened = store
        .open_with(JournalOptions {
            backlog_limit: 0,
            ..options()
        })
        .await;
    assert!(
        !reopened.is_overloaded(),
        "the backlog is recounted on open"
    );
}

async fn concurrent_accepts_commit_every_lead_exactly_once(store: Store) {
    const TASKS: usize = 8;
    const PER_TASK: usize = 500;
    let journal = store.open().await;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let journal = journal.clone();
        tasks.push(tokio::spawn(async move {
            let mut new = 0;
            for i in 0..PER_TASK {
                // Every task also re-sends one lead of its neighbour: duplicates across tasks.
                let mine = lead(&format!("acct{}", t % 4), &format!("{t}-{i}"));
                let theirs = lead(
                    &format!("acct{}", (t + 1) % 4),
                    &format!("{}-{i}", (t + 1) % TASKS),
                );
                let got = journal
                    .accept_leads(vec![mine, theirs], push(i as i64), None)
                    .await
                    .unwrap();
                new += got.iter().filter(|a| **a == Accepted::New).count();
            }
            new
        }));
    }
    let mut new = 0;
    for task in tasks {
        new += task.await.unwrap();
    }
    let elapsed = started.elapsed();
    assert_eq!(
        new,
        TASKS * PER_TASK,
        "each distinct lead is new exactly once"
    );
    let status = journal.reader().status().unwrap();
    assert_eq!(status.leads as usize, TASKS * PER_TASK);
    assert_eq!(status.backlog() as usize, TASKS * PER_TASK);
    assert_eq!(journal.backlog() as usize, TASKS * PER_TASK);
    let offered = TASKS * PER_TASK * 2;
    println!(
        "journal accept throughput (debug build, {}): {} leads offered \
         ({} new) in {:.3}s = {:.0} leads/s",
        store.backend(),
        offered,
        new,
        elapsed.as_secs_f64(),
        offered as f64 / elapsed.as_secs_f64()
    );
    assert!(elapsed.as_secs() < 60, "took {elapsed:?}");
}

/// Two batches holding the same leads in opposite orders (one page pulled by two nodes, a push
/// beside a pull), sent at the same moment, both commit: neither is refused for waiting on the
/// other (on PostgreSQL that was a deadlock, 40P01), and each lead is new exactly once.
async fn batches_sharing_leads_in_opposite_orders_both_commit(store: Store) {
    const ROUNDS: usize = 100;
    let journal = store.open().await;
    for round in 0..ROUNDS {
        let (x, y) = (format!("x{round}"), format!("y{round}"));
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let batches = [
            vec![lead("a", &x), lead("b", &y)],
            vec![lead("b", &y), lead("a", &x)],
        ];
        let tasks: Vec<_> = batches
            .into_iter()
            .map(|batch| {
                let (journal, barrier) = (journal.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    journal.accept_leads(batch, push(1), None).await
                })
            })
            .collect();
        let mut new = 0;
        for task in tasks {
            let got = task
                .await
                .unwrap()
                .unwrap_or_else(|e| panic!("round {round}: {e}"));
            new += got.iter().filter(|a| **a == Accepted::New).count();
        }
        assert_eq!(new, 2, "round {round}");
    }
    assert_eq!(
        journal.reader().status().unwrap().leads as usize,
        2 * ROUNDS
    );
}

/// The journal's `Intake` role has the trigger's `Intake` shapes (futures are `Send`), so the
/// daemon implements the trigger's trait with one line per method.
struct AsIntake(Journal);

impl leadrelay::trigger::Intake for AsIntake {
    async fn accept_leads(
        &self,
        leads: Vec<Lead>,
        arrival: Arrival,
        checkpoint: Option<Checkpoint>,
    ) -> Result<Vec<Accepted>, leadrelay::trigger::IntakeError> {
        self.0.accept_leads(leads, arrival, checkpoint).await
    }
    async fn accept_follow(
        &self,
        follow: FollowArrival,
    ) -> Result<Accepted, leadrelay::trigger::IntakeError> {
        self.0.accept_follow(follow).await
    }
    async fn quarantine(&self, item: Quarantined) -> Result<i64, leadrelay::trigger::IntakeError> {
        self.0.quarantine(item).await
    }
    async fn checkpoint(
        &self,
        account: &str,
        endpoint: &str,
    ) -> Result<Option<String>, leadrelay::trigger::IntakeError> {
        self.0.checkpoint(account, endpoint).await
    }
    fn is_overloaded(&self) -> bool {
        self.0.is_overloaded()
    }
}

async fn the_journal_serves_as_the_triggers_intake(store: Store) {
    use leadrelay::trigger::Intake;
    let intake: Arc<AsIntake> = Arc::new(AsIntake(store.open().await));
    let task = tokio::spawn({
        let intake = intake.clone();
        async move {
            intake
                .accept_leads(vec![lead("a", "1")], push(1), None)
                .await
        }
    });
    assert_eq!(task.await.unwrap().unwrap(), [Accepted::New]);
    assert!(!intake.is_overloaded());
}

fn start(handler: &str, attempt: u32) -> RunStart {
    RunStart {
        attempt,
        script: "scripts/route.rhai".into(),
        handler: handler.into(),
        version: "v1-abc".into(),
        started_ms: 1_000,
    }
}

async fn a_call_committed_as_it_returns_survives_a_crash_mid_run_and_is_replayed(store: Store) {
    let journal = store.open().await;
    journal
        .accept_leads(vec![lead("a", "1")], push(10), None)
        .await
        .unwrap();
    let work = journal.claim_due(10, 1).await.unwrap().remove(0);
    let import = json!({"entName": "ACME", "ts": 1});
    // The run's first call: the run row is written with it, as `running`.
    let run_id = tokio::task::spawn_blocking({
        let (journal, import) = (journal.clone(), import.clone());
        move || {
            journal.record_call_blocking(
                work.id,
                RunRow::First(start("route", 1)),
                call(0, "import_customer", import, true),
            )
        }
    })
    .await
    .unwrap()
    .unwrap();
    let story = journal.reader().lead_story("1").unwrap().unwrap();
    assert_eq!(story.runs.len(), 1);
    assert_eq!(story.runs[0].status, "running");
    assert_eq!(
        story.runs[0].calls.len(),
        1,
        "committed before the run ends"
    );
    // kill -9 before the second call returns: nothing else is written.
    drop(journal);
    let journal = store.open().await;
    let story = journal.reader().lead_story("1").unwrap().unwrap();
    assert_eq!(story.runs[0].status, "interrupted");
    assert_eq!(story.state, WorkState::Pending);
    let retried = journal.claim_due(10, 1).await.unwrap().remove(0);
    assert_eq!(retried.id, work.id);
    let prior = journal.succeeded_calls(work.id).await.unwrap();
    assert_eq!(prior.len(), 1, "the interrupted run's call is replayable");
    assert_eq!(retried.prior, prior, "the claim reads the same calls");
    assert!(work.prior.is_empty(), "nothing to replay on a first run");
    assert_eq!((prior[0].handler.as_str(), prior[0].seq), ("route", 0));
    // The retry: call 0 replayed (written with the outcome), call 1 sent and written as it
    // returned, then the run is completed.
    let second = tokio::task::spawn_blocking({
        let journal = journal.clone();
        move || {
            journal.record_call_blocking(
                work.id,
                RunRow::First(start("route", 2)),
                call(1, "send_event", json!({"request_id": "r1"}), true),
            )
        }
    })
    .await
    .unwrap()
    .unwrap();
    assert_ne!(second, run_id);
    let same = tokio::task::spawn_blocking({
        let journal = journal.clone();
        move || {
            journal.record_call_blocking(
                work.id,
                RunRow::Written(second),
                call(2, "send_event", json!({"request_id": "r2"}), false),
            )
        }
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(same, second, "later calls join the run's row");
    let mut replay = call(0, "import_customer", import, true);
    replay.replayed = true;
    let mut record = run("route", None, vec![replay]);
    record.id = Some(second);
    journal
        .finish(work.id, vec![record.clone()], WorkOutcome::Done)
        .await
        .unwrap();
    let story = journal.reader().lead_story("1").unwrap().unwrap();
    assert_eq!(story.state, WorkState::Done);
    let statuses: Vec<&str> = story.runs.iter().map(|r| r.status.as_str()).collect();
    assert_eq!(statuses, ["interrupted", "ok"]);
    assert_eq!(story.runs[1].elapsed_ms, 12, "completed by finish");
    assert_eq!(story.runs[1].attempt, 2);
    let calls: Vec<(u32, bool)> = story.runs[1]
        .calls
        .iter()
        .map(|c| (c.seq, c.replayed))
        .collect();
    assert_eq!(calls, [(0, true), (1, false), (2, false)]);
    // A run row is completed only by its own work item, and only while it is running.
    journal
        .accept_leads(vec![lead("a", "2")], push(10), None)
        .await
        .unwrap();
    let other = journal.claim_due(10, 1).await.unwrap().remove(0);
    let err = journal
        .finish(other.id, vec![record], WorkOutcome::Done)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
}

async fn skipped_runs_keep_their_reason_and_the_work_its_state(store: Store) {
    let journal = store.open().await;
    journal
        .accept_leads(vec![lead("a", "1")], push(10), None)
        .await
        .unwrap();
    let work = journal.claim_due(10, 1).await.unwrap().remove(0);
    let mut skipped = run("route", None, vec![]);
    skipped.skipped = Some("same phone today".into());
    journal
        .finish(
            work.id,
            vec![skipped],
            WorkOutcome::Skipped {
                reason: "route: same phone today".into(),
            },
        )
        .await
        .unwrap();
    let story = journal.reader().lead_story("1").unwrap().unwrap();
    assert_eq!(story.runs[0].status, "skipped");
    assert_eq!(story.runs[0].note.as_deref(), Some("same phone today"));
    assert_eq!(
        story.state,
        WorkState::Skipped {
            reason: "route: same phone today".into()
        }
    );
    assert_eq!(journal.backlog(), 0, "skipped is final");
}

async fn once_is_claimed_by_exactly_one_of_many_concurrent_work_items(store: Store) {
    let journal = store.open().await;
    let once: Arc<dyn OnceStore> = journal.once_keys();
    let day = std::time::Duration::from_secs(86_400);
    // Scripts claim from the blocking threads they run on; 64 at once share the writer's batches.
    let barrier = Arc::new(std::sync::Barrier::new(64));
    let claims: Vec<_> = (1..=64i64)
        .map(|owner| {
            let (once, barrier) = (once.clone(), barrier.clone());
            tokio::task::spawn_blocking(move || {
                barrier.wait();
                (owner, once.claim("phone:13812345678", day, owner).unwrap())
            })
        })
        .collect();
    let mut winners = Vec::new();
    for claim in claims {
        let (owner, won) = claim.await.unwrap();
        if won {
            winners.push(owner);
        }
    }
    assert_eq!(winners.len(), 1, "exactly one true: {winners:?}");
    // The key is not kept in clear.
    let keys = store.stored_once_keys().await;
    assert_eq!(keys.len(), 1);
    assert!(!keys[0].contains("13812345678"), "{keys:?}");
}

async fn once_answers_a_retried_work_item_true_again_across_restarts_until_it_expires(
    store: Store,
) {
    let journal = store.open().await;
    let claim = |journal: &Journal, key: &'static str, secs: u64, owner: i64| {
        let store = journal.once_keys();
        tokio::task::spawn_blocking(move || {
            store
                .claim(key, std::time::Duration::from_secs(secs), owner)
                .unwrap()
        })
    };
    assert!(claim(&journal, "k", 3600, 7).await.unwrap());
    assert!(!claim(&journal, "k", 3600, 8).await.unwrap());
    drop(journal);
    let journal = store.open().await;
    assert!(
        claim(&journal, "k", 3600, 7).await.unwrap(),
        "the work item that claimed it, retried after a restart"
    );
    assert!(!claim(&journal, "k", 3600, 8).await.unwrap());
    // An expired key is free again, and the sweep drops it.
    assert!(claim(&journal, "brief", 0, 7).await.unwrap());
    assert!(claim(&journal, "brief", 3600, 8).await.unwrap());
    assert!(!claim(&journal, "brief", 3600, 7).await.unwrap());
    assert!(claim(&journal, "gone", 0, 1).await.unwrap());
    assert_eq!(journal.sweep_once_keys().await.unwrap(), 1);
}

async fn a_fired_cron_slot_is_a_work_item_that_blocks_overlapping_slots_and_can_die(store: Store) {
    let journal = store.open().await;
    let key = "scripts/nightly.rhai::report::0 0 9 * * *";
    let CronFire::Fired { work_id } = journal.fire_cron_slot(key, 60_000).await.unwrap() else {
        panic!("the first slot fires");
    };
    assert_eq!(journal.backlog(), 1);
    assert_eq!(
        journal.fire_cron_slot(key, 60_000).await.unwrap(),
        CronFire::Taken
    );
    assert_eq!(journal.last_cron_slot(key).await.unwrap(), Some(60_000));
    let work = journal.claim_due(now_ms(), 10).await.unwrap().remove(0);
    assert_eq!(work.id, work_id);
    assert_eq!(
        work.kind,
        WorkKind::Job {
            key: key.into(),
            slot_ms: 60_000
        }
    );
    // Running (and later waiting to retry): the next slot is skipped, and never fires later.
    assert_eq!(
        journal.fire_cron_slot(key, 120_000).await.unwrap(),
        CronFire::Overlap
    );
    journal
        .finish(
            work.id,
            vec![],
            WorkOutcome::Retry {
                at_ms: 0,
                reason: "busy".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        journal.fire_cron_slot(key, 180_000).await.unwrap(),
        CronFire::Overlap
    );
    assert_eq!(
        journal.fire_cron_slot(key, 120_000).await.unwrap(),
        CronFire::Taken
    );
    let work = journal.claim_due(now_ms(), 10).await.unwrap().remove(0);
    journal
        .finish(
            work.id,
            vec![],
            WorkOutcome::Dead {
                reason: "gave up after 86400 s of retries: busy".into(),
            },
        )
        .await
        .unwrap();
    let dead = journal.reader().dead_letters().unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(
        (
            dead[0].kind.as_str(),
            dead[0].item.as_str(),
            dead[0].slot_ms
        ),
        ("job", key, Some(60_000))
    );
    assert!(matches!(
        journal.fire_cron_slot(key, 240_000).await.unwrap(),
        CronFire::Fired { .. }
    ));
    let status = journal.reader().status().unwrap();
    let cron = &status.cron[0];
    assert_eq!((cron.claims, cron.skips), (2, 2));
    assert_eq!(cron.last_slot_ms, Some(240_000));
    assert_eq!(journal.last_cron_slot("never").await.unwrap(), None);
    // A dead job is retried like a lead.
    assert_eq!(journal.retry_dead(DeadSelector::All).await.unwrap(), 1);
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

async fn the_console_finds_leads_by_id_last_four_phone_digits_or_name_and_counts_per_minute(
    store: Store,
) {
    let journal = store.open().await;
    let mut other = lead("tx_main", "2002");
    other.name = Some("李四".into());
    other.phone = Some("13900001111".into());
    journal
        .accept_leads(
            vec![lead("tx_main", "1001"), other],
            push(120_000 + 5),
            None,
        )
        .await
        .unwrap();
    let reader = store.reader();
    let ids = |q: &str| -> Vec<String> {
        reader
            .search_leads(q, 50)
            .unwrap()
            .into_iter()
            .map(|l| l.vendor_lead_id)
            .collect()
    };
    assert_eq!(ids("1001"), ["1001"], "vendor lead id");
    assert_eq!(ids("#2"), ["2002"], "journal id");
    assert_eq!(
        ids("2"),
        ["2002"],
        "a bare number that is no vendor lead id"
    );
    assert_eq!(ids("5678"), ["1001"], "last four digits of the phone");
    assert_eq!(ids("1111"), ["2002"]);
    assert!(ids("13812345678").is_empty(), "never by the full number");
    assert!(ids("45678").is_empty(), "only exactly four digits");
    assert!(ids("1234").is_empty(), "the last four, not any four");
    assert_eq!(ids("张"), ["1001"], "part of the name");
    assert_eq!(ids("李四"), ["2002"]);
    assert!(ids("%").is_empty(), "LIKE wildcards are text");
    assert!(ids("  ").is_empty());

    assert_eq!(
        reader.activity(0, 60_000).unwrap(),
        vec![(120_000, 2, 0)],
        "two leads in during minute 2, none routed yet"
    );
    assert!(reader.activity(180_000, 60_000).unwrap().is_empty());
}

both!(
    migrations_create_the_schema_and_reopening_is_idempotent,
    a_journal_from_a_newer_leadrelay_is_refused_clearly,
    accept_leads_dedups_per_account_and_vendor_lead_id,
    follow_records_dedup_by_account_and_msg_id,
    a_checkpoint_commits_with_its_leads_and_survives_reopen,
    claimed_work_left_running_by_a_crash_is_pending_after_reopen,
    a_retry_is_due_only_from_its_time,
    dead_work_becomes_a_dead_letter_and_retry_dead_revives_it,
    succeeded_calls_of_earlier_runs_are_returned_for_replay,
    a_cron_slot_is_claimed_once_across_reopen_and_skips_are_counted,
    old_cron_claims_are_pruned_but_never_fire_again,
    assignment_counters_persist_across_reopen,
    lead_story_tells_arrival_runs_calls_and_where_it_is,
    quarantine_keeps_the_body_byte_for_byte,
    overload_follows_the_backlog_and_a_reader_sees_a_live_daemon,
    concurrent_accepts_commit_every_lead_exactly_once,
    batches_sharing_leads_in_opposite_orders_both_commit,
    the_journal_serves_as_the_triggers_intake,
    a_call_committed_as_it_returns_survives_a_crash_mid_run_and_is_replayed,
    skipped_runs_keep_their_reason_and_the_work_its_state,
    once_is_claimed_by_exactly_one_of_many_concurrent_work_items,
    once_answers_a_retried_work_item_true_again_across_restarts_until_it_expires,
    a_fired_cron_slot_is_a_work_item_that_blocks_overlapping_slots_and_can_die,
    the_console_finds_leads_by_id_last_four_phone_digits_or_name_and_counts_per_minute,
);
