//! Unit tests of the writer's batching and the schema; the journal's behaviour end to end is in
//! `tests/it/journal.rs`.

use super::*;
use crate::store::{ForgetSelector, Journal};

fn temp() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.db");
    (dir, path)
}

/// Keeps the writer thread busy for `ms` with a job of its own, so that jobs sent meanwhile
/// queue up behind it.
fn hold_the_writer(
    journal: &SqliteJournal,
    ms: u64,
) -> tokio::task::JoinHandle<Result<(), StoreError>> {
    let journal = journal.clone();
    tokio::spawn(async move {
        journal
            .write(move |_| {
                std::thread::sleep(Duration::from_millis(ms));
                Ok(())
            })
            .await
    })
}

/// Rows in `assignments`, read on a connection of its own: what is committed.
fn committed_assignments(path: &Path) -> i64 {
    Connection::open(path)
        .unwrap()
        .query_row("SELECT count(*) FROM assignments", [], |r| r.get(0))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_job_does_not_poison_its_batch() {
    let (_dir, path) = temp();
    let journal = SqliteJournal::open(&path, JournalOptions::default()).unwrap();
    // Many jobs queued at once share batches; every odd one writes and then fails.
    let mut tasks = Vec::new();
    for i in 0..64i64 {
        let journal = journal.clone();
        tasks.push(tokio::spawn(async move {
            journal
                .write(move |ctx| {
                    ctx.conn.execute(
                        "INSERT INTO assignments (key, next) VALUES (?1, 1)",
                        [format!("k{i}")],
                    )?;
                    ctx.backlog_delta += 1;
                    if i % 2 == 1 {
                        return Err(StoreError::Conflict(format!("job {i} fails")));
                    }
                    Ok(i)
                })
                .await
        }));
    }
    let mut ok = 0;
    for (i, task) in tasks.into_iter().enumerate() {
        match task.await.unwrap() {
            Ok(v) => {
                assert_eq!(v, i as i64);
                ok += 1;
            }
            Err(e) => assert_eq!(e, StoreError::Conflict(format!("job {i} fails"))),
        }
    }
    assert_eq!(ok, 32);
    let rows: i64 = journal
        .write(|ctx| {
            Ok(ctx
                .conn
                .query_row("SELECT count(*) FROM assignments", [], |r| r.get(0))?)
        })
        .await
        .unwrap();
    assert_eq!(
        rows, 32,
        "failed jobs' writes are rolled back, the others committed"
    );
    assert_eq!(
        journal.backlog(),
        32,
        "failed jobs' backlog changes are dropped"
    );
}

#[test]
fn migrations_record_each_version_and_reopen_is_idempotent() {
    let (_dir, path) = temp();
    drop(Journal::open(&path, JournalOptions::default()).unwrap());
    let journal = Journal::open(&path, JournalOptions::default()).unwrap();
    let applied = journal.reader().migrations().unwrap();
    assert_eq!(applied.len(), MIGRATIONS_LEN);
    assert_eq!(applied[0], (1, "initial".to_string()));
    assert_eq!(
        journal.reader().status().unwrap().schema_version,
        schema::known_version()
    );
}

const MIGRATIONS_LEN: usize = schema::MIGRATIONS.len();

#[tokio::test]
async fn connection_is_wal_with_foreign_keys() {
    let (_dir, path) = temp();
    let journal = SqliteJournal::open(&path, JournalOptions::default()).unwrap();
    let (mode, fk, sync): (String, i64, i64) = journal
        .write(|ctx| {
            let c = ctx.conn;
            Ok((
                c.pragma_query_value(None, "journal_mode", |r| r.get(0))?,
                c.pragma_query_value(None, "foreign_keys", |r| r.get(0))?,
                c.pragma_query_value(None, "synchronous", |r| r.get(0))?,
            ))
        })
        .await
        .unwrap();
    assert_eq!(
        (mode.as_str(), fk, sync),
        ("wal", 1, 1),
        "WAL, foreign keys, NORMAL"
    );
}

#[test]
fn a_version_1_journal_keeps_its_leads_runs_calls_and_dead_letters_through_migration_2() {
    let (_dir, path) = temp();
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(schema::MIGRATIONS[0].sql).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute_batch(
            "INSERT INTO leads VALUES (1, 'tencent', 'tx', '5001', 'form', '{}', 'push', '/p', 1);
             INSERT INTO work (id, lead_id, account, status, due_ms, attempts, first_seen_ms,
                               updated_ms, reason)
                 VALUES (7, 1, 'tx', 'dead', 1, 3, 1, 2, 'boom');
             INSERT INTO runs VALUES (3, 7, 3, 'a.rhai', 'route', 'abc', 1, 5, 'failed', 'x');
             INSERT INTO calls VALUES (1, 3, 0, 'xiaolanben', 'x', 'import_customer', 'fp', 1,
                                       NULL, NULL, NULL, '{}', 1, 0);
             INSERT INTO dead_letters VALUES (1, 7, 'boom', 3, 2, NULL);",
        )
        .unwrap();
    }
    let journal = SqliteJournal::open(&path, JournalOptions::default()).unwrap();
    drop(journal);
    let conn = Connection::open(&path).unwrap();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, schema::known_version());
    let row: (i64, String, String) = conn
        .query_row(
            "SELECT w.id, w.status, r.status FROM work w JOIN runs r ON r.work_id = w.id
             JOIN calls c ON c.run_id = r.id JOIN dead_letters d ON d.work_id = w.id",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(row, (7, "dead".to_string(), "failed".to_string()));
    let broken: i64 = conn
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(broken, 0);
    // The new states are accepted.
    conn.execute("UPDATE work SET status = 'unrouted' WHERE id = 7", [])
        .unwrap();
}

#[tokio::test]
async fn the_job_overlap_check_reads_only_unfinished_items() {
    let (_dir, path) = temp();
    let journal = SqliteJournal::open(&path, JournalOptions::default()).unwrap();
    let plan: Vec<String> = journal
        .write(|ctx| {
            let mut stmt = ctx
                .conn
                .prepare(&format!("EXPLAIN QUERY PLAN {JOB_UNFINISHED}"))?;
            let rows = stmt.query_map(["k"], |r| r.get::<_, String>(3))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
        .unwrap();
    assert!(
        plan.iter()
            .any(|step| step.contains("USING INDEX work_job_open")),
        "{plan:?}"
    );
}

/// A journal written by the previous release (schema 2, `auto_vacuum=NONE`, no phone hashes)
/// is migrated on open, switched to incremental vacuum (it is small), and `leads forget`
/// still finds its leads by phone by checking the unhashed rows one by one.
#[tokio::test]
async fn a_schema_2_journal_migrates_to_retention_and_old_leads_are_still_found_by_phone() {
    let (_dir, path) = temp();
    {
        let mut conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        let tx = conn.transaction().unwrap();
        for migration in &schema::MIGRATIONS[..2] {
            tx.execute_batch(migration.sql).unwrap();
        }
        tx.pragma_update(None, "user_version", 2).unwrap();
        let mut lead = Lead::new(
            crate::lead::Vendor::Feiyu,
            "fy",
            "old-1",
            serde_json::json!({"telephone": "13855556666"}),
        );
        lead.phone = Some("138 5555 6666".into());
        tx.execute(
            "INSERT INTO leads (vendor, account, vendor_lead_id, kind, body, via, endpoint,
                                received_ms)
             VALUES ('feiyu', 'fy', 'old-1', 'other', ?1, 'pull', '/x', 1)",
            [serde_json::to_string(&lead).unwrap()],
        )
        .unwrap();
        tx.execute(
            "INSERT INTO work (lead_id, account, status, due_ms, first_seen_ms, updated_ms)
             VALUES (1, 'fy', 'done', 1, 1, 1)",
            [],
        )
        .unwrap();
        tx.commit().unwrap();
        let mode: i64 = conn
            .pragma_query_value(None, "auto_vacuum", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, 0, "the old journal has no auto-vacuum");
    }
    let journal = SqliteJournal::open(&path, JournalOptions::default()).unwrap();
    assert_eq!(
        journal.reader().status().unwrap().schema_version,
        schema::known_version()
    );
    drop(journal);
    let conn = Connection::open(&path).unwrap();
    let mode: i64 = conn
        .pragma_query_value(None, "auto_vacuum", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, 2, "switched to incremental vacuum at open");
    drop(conn);
    let erasure = offline::forget_offline(
        &path,
        &ForgetSelector::Phone("13855556666".into()),
        "test",
        5,
    )
    .unwrap();
    assert_eq!(erasure.leads, vec!["feiyu fy old-1".to_string()]);
    let story = JournalReader::open(&path)
        .unwrap()
        .lead_story("old-1")
        .unwrap()
        .unwrap();
    assert_eq!((story.lead.phone, story.lead.redacted_ms), (None, Some(5)));
}

/// The prune's queries walk the partial indexes made for them, not whole tables.
#[test]
fn prune_queries_use_their_indexes() {
    let (_dir, path) = temp();
    drop(Journal::open(&path, JournalOptions::default()).unwrap());
    let conn = Connection::open(&path).unwrap();
    let mode: i64 = conn
        .pragma_query_value(None, "auto_vacuum", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, 2, "a new journal is created with incremental vacuum");
    let plan = |sql: &str| -> String {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows: Vec<String> = stmt
            .query_map([], |r| r.get::<_, String>(3))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        rows.join(" | ")
    };
    let bind = |sql: String| sql.replace("?1", "5").replace("?2", "10");
    let redact = plan(&bind(retention::redact_leads_sql()));
    assert!(
        redact.starts_with("SEARCH l USING") && redact.contains("INDEX leads_unredacted"),
        "{redact}"
    );
    assert!(!redact.contains("TEMP B-TREE"), "{redact}");
    let delete = plan(&bind(retention::delete_leads_sql()));
    assert!(
        delete.starts_with("SEARCH l USING") && delete.contains("INDEX leads_received"),
        "{delete}"
    );
    assert!(!delete.contains("TEMP B-TREE"), "{delete}");
    let forget = plan("SELECT id FROM leads WHERE phone_hash = 'x' OR phone_hash IS NULL");
    assert!(forget.contains("leads_phone_hash"), "{forget}");
}

/// New leads go straight to the dispatcher, already claimed in their intake's commit, while it
/// has room and nothing older waits; the rest queue up and are claimed in order, and a
/// duplicate is never handed over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_leads_are_handed_to_the_dispatcher_while_it_has_room_and_nothing_older_waits() {
    use crate::store::types::{Accepted, Arrival, Via};
    use crate::store::{Handoff, WorkKind, WorkState};
    let (_dir, path) = temp();
    let journal = SqliteJournal::open(&path, JournalOptions::default()).unwrap();
    let (handoff, mut handed) = Handoff::new(2);
    journal.set_handoff(handoff.clone());
    let lead = |id: &str| {
        Lead::new(
            crate::lead::Vendor::Tencent,
            "tx",
            id,
            serde_json::json!({}),
        )
    };
    let arrival = Arrival {
        via: Via::Push,
        endpoint: "/hooks/tencent".into(),
        received_at_ms: 1,
    };
    let ids = |works: &[Work]| -> Vec<String> {
        works
            .iter()
            .map(|w| match &w.kind {
                WorkKind::Lead(lead) => lead.id.clone(),
                other => panic!("{other:?}"),
            })
            .collect()
    };
    // Before the dispatcher's first claim nothing is known about older work: it queues.
    journal
        .accept_leads(vec![lead("A")], arrival.clone(), None)
        .await
        .unwrap();
    assert!(handed.try_recv().is_err());
    let claimed = journal.claim_due(1, handoff.room()).await.unwrap();
    handoff.take(claimed.len());
    assert_eq!(ids(&claimed), ["A"]);
    // One place left: B is handed over, C and D queue behind it, B's duplicate is not handed.
    let accepted = journal
        .accept_leads(
            vec![lead("B"), lead("C"), lead("B"), lead("D")],
            arrival.clone(),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        accepted,
        [
            Accepted::New,
            Accepted::New,
            Accepted::Duplicate,
            Accepted::New
        ]
    );
    let b = handed.try_recv().expect("B was handed over");
    assert_eq!(ids(std::slice::from_ref(&b)), ["B"]);
    assert_eq!(b.attempts, 1);
    assert!(handed.try_recv().is_err(), "only one place was free");
    assert_eq!(handoff.room(), 0);
    let story = journal.reader().lead_story("B").unwrap().unwrap();
    assert_eq!(story.state, WorkState::Running);
    // B finishes and frees its place; C and D are claimed, oldest first.
    journal
        .finish(b.id, Vec::new(), crate::store::WorkOutcome::Done)
        .await
        .unwrap();
    handoff.release(1);
    let claimed = journal.claim_due(1, handoff.room()).await.unwrap();
    assert_eq!(ids(&claimed), ["C"]);
    assert_eq!(journal.backlog(), 3, "A, C and D");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deferred_job_rides_along_with_the_next_batch_or_commits_alone_after_its_linger() {
    let (_dir, path) = temp();
    let journal = SqliteJournal::open(&path, JournalOptions::default()).unwrap();
    let insert = |key: &'static str| {
        move |ctx: &mut Ctx<'_>| {
            ctx.conn
                .execute("INSERT INTO assignments (key, next) VALUES (?1, 1)", [key])?;
            Ok(())
        }
    };
    let count = |key: &'static str| {
        move |ctx: &mut Ctx<'_>| -> Result<i64, StoreError> {
            Ok(ctx.conn.query_row(
                "SELECT count(*) FROM assignments WHERE key = ?1",
                [key],
                |r| r.get(0),
            )?)
        }
    };

    // A long linger: the job waits for the next batch.
    let deferred = tokio::spawn({
        let journal = journal.clone();
        async move {
            journal
                .write_deferred(Duration::from_secs(30), insert("rides"))
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!deferred.is_finished(), "a deferred job waits for a batch");
    let committed: i64 = committed_assignments(&path);
    assert_eq!(committed, 0, "nothing is committed before a batch takes it");
    // The next batch takes it first, in its own transaction.
    let seen_by_the_next_job = journal.write(count("rides")).await.unwrap();
    assert_eq!(seen_by_the_next_job, 1);
    tokio::time::timeout(Duration::from_secs(5), deferred)
        .await
        .expect("the deferred job is answered with the batch that took it")
        .unwrap()
        .unwrap();

    // With nothing else to ride along with, it commits alone once its linger is over.
    let started = Instant::now();
    tokio::time::timeout(
        Duration::from_secs(5),
        journal.write_deferred(Duration::from_millis(50), insert("alone")),
    )
    .await
    .expect("a lone deferred job commits after its linger")
    .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(50));
    assert_eq!(journal.write(count("alone")).await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_without_a_savepoint_that_fails_rolls_back_its_whole_batch_and_only_that() {
    let (_dir, path) = temp();
    let journal = SqliteJournal::open(&path, JournalOptions::default()).unwrap();
    let insert = |key: &'static str| {
        move |ctx: &mut Ctx<'_>| -> Result<(), StoreError> {
            ctx.conn
                .execute("INSERT INTO assignments (key, next) VALUES (?1, 1)", [key])?;
            Ok(())
        }
    };
    // Holds the writer so that the next three jobs queue up and share one batch.
    let holding = hold_the_writer(&journal, 400);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let before = tokio::spawn({
        let journal = journal.clone();
        async move { journal.write(insert("before")).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let failing = tokio::spawn({
        let journal = journal.clone();
        async move {
            journal
                .submit(writer::job_failing_its_batch(move |ctx| {
                    insert("failing")(ctx)?;
                    Err::<(), _>(StoreError::Database("disk full".into()))
                }))
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let after = tokio::spawn({
        let journal = journal.clone();
        async move { journal.write(insert("after")).await }
    });
    holding.await.unwrap().unwrap();
    assert_eq!(
        failing.await.unwrap(),
        Err(StoreError::Database("disk full".into()))
    );
    assert!(before.await.unwrap().is_err(), "its batch is rolled back");
    assert!(after.await.unwrap().is_err(), "its batch is rolled back");
    let rows: i64 = committed_assignments(&path);
    assert_eq!(rows, 0, "nothing of the batch was committed");
    // The next batch is unaffected.
    journal.write(insert("next")).await.unwrap();
    journal
        .submit(writer::job_failing_its_batch(insert("unguarded")))
        .await
        .unwrap();
    let rows: i64 = committed_assignments(&path);
    assert_eq!(rows, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocking_write_commits_on_its_own_thread_while_the_writer_is_idle_and_queues_otherwise()
{
    let (_dir, path) = temp();
    let journal = SqliteJournal::open(&path, JournalOptions::default()).unwrap();
    let insert_and_name_the_thread = |key: &'static str| {
        move |ctx: &mut Ctx<'_>| -> Result<(std::thread::ThreadId, Option<String>), StoreError> {
            ctx.conn
                .execute("INSERT INTO assignments (key, next) VALUES (?1, 1)", [key])?;
            let thread = std::thread::current();
            Ok((thread.id(), thread.name().map(str::to_string)))
        }
    };

    // Idle: the caller's own thread runs and commits it.
    let (caller, (ran_on, _)) = tokio::task::spawn_blocking({
        let journal = journal.clone();
        move || {
            let ran = journal.write_blocking(insert_and_name_the_thread("idle"));
            (std::thread::current().id(), ran.unwrap())
        }
    })
    .await
    .unwrap();
    assert_eq!(ran_on, caller);

    // Busy: it queues for the writer thread.
    let holding = hold_the_writer(&journal, 300);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (_, name) = tokio::task::spawn_blocking({
        let journal = journal.clone();
        move || journal.write_blocking(insert_and_name_the_thread("busy"))
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(name.as_deref(), Some("journal-writer"));
    holding.await.unwrap().unwrap();

    let rows: i64 = committed_assignments(&path);
    assert_eq!(rows, 2, "both committed");
}
