//! The journal inspection commands' texts, rendered from a journal built in a temp dir with the
//! `Journal` API: a lead's story, lists with filters, dead letters, quarantine, status; phone
//! masking everywhere; and `dead retry` from the CLI while a daemon's writer has the file open.

use std::path::{Path, PathBuf};
use std::time::Duration;

use leadrelay::connectors::Vendor;
use leadrelay::inspect::{self, parse_since};
use leadrelay::lead::{Lead, LeadKind};
use leadrelay::store::offline::retry_dead_offline;
use leadrelay::store::types::{Arrival, Checkpoint, Quarantined, Via};
use leadrelay::store::Queries;
use leadrelay::store::{
    fingerprint, CallRow, DeadSelector, Journal, JournalOptions, JournalReader, LeadQuery,
    RunRecord, StoreError, WorkKind, WorkOutcome, WorkStatus,
};
use serde_json::json;

/// 2024-05-01 09:30:00 Beijing time.
const T0: i64 = 1_714_527_000_000;
const MIN: i64 = 60_000;
const PHONE: &str = "13812345678";
const MASKED: &str = "138******78";

fn temp() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("leadrelay.db");
    (dir, path)
}

fn lead(vendor: Vendor, account: &str, id: &str) -> Lead {
    let mut lead = Lead::new(
        vendor,
        account,
        id,
        json!({"leads_id": id, "leads_tel": PHONE}),
    );
    lead.name = Some("张三".into());
    lead.phone = Some(PHONE.into());
    // People often use their number as WeChat id: it must be masked there too.
    lead.wechat = Some(PHONE.into());
    lead.kind = LeadKind::Form;
    lead.city = Some("广州".into());
    lead.created_at =
        Some(chrono::DateTime::parse_from_rfc3339("2024-05-01T09:29:10+08:00").unwrap());
    lead
}

fn arrival(via: Via, endpoint: &str, at_ms: i64) -> Arrival {
    Arrival {
        via,
        endpoint: endpoint.into(),
        received_at_ms: at_ms,
    }
}

fn push(at_ms: i64) -> Arrival {
    arrival(Via::Push, "/hooks/tencent/tx_main", at_ms)
}

fn run(version: &str, started_ms: i64, error: Option<&str>, calls: Vec<CallRow>) -> RunRecord {
    RunRecord {
        id: None,
        script: "scripts/route.rhai".into(),
        handler: "on_lead".into(),
        version: version.into(),
        started_ms,
        elapsed_ms: 12,
        error: error.map(str::to_string),
        skipped: None,
        calls,
    }
}

fn ok_call(seq: u32, replayed: bool) -> CallRow {
    let payload = json!({"entName": "张三", "mobile": PHONE});
    CallRow {
        seq,
        vendor: "xiaolanben".into(),
        account: "xlb".into(),
        op: "import_customer".into(),
        fingerprint: fingerprint("xiaolanben", "xlb", "import_customer", &payload),
        ok: true,
        status: None,
        code: None,
        message: None,
        // Vendors echo the phone back; the story must still not show it.
        response: Some(json!({"customerId": 77, "mobile": PHONE})),
        attempts: 1,
        replayed,
    }
}

fn failed_call(seq: u32) -> CallRow {
    let payload = json!({"event": "lead"});
    CallRow {
        seq,
        vendor: "linkflow".into(),
        account: "lf".into(),
        op: "send_event".into(),
        fingerprint: fingerprint("linkflow", "lf", "send_event", &payload),
        ok: false,
        status: Some(503),
        code: Some("B00008".into()),
        message: Some("busy".into()),
        response: None,
        attempts: 3,
        replayed: false,
    }
}

/// Claims exactly the one pending item and checks it is the expected lead.
async fn claim_one(journal: &Journal, now_ms: i64, vendor_lead_id: &str) -> i64 {
    let work = journal.claim_due(now_ms, 1).await.unwrap();
    assert_eq!(work.len(), 1);
    match &work[0].kind {
        WorkKind::Lead(l) => assert_eq!(l.id, vendor_lead_id),
        other => panic!("{other:?}"),
    }
    work[0].id
}

const RETRY_ERROR: &str =
    "scripts/route.rhai:12:5: linkflow::send_event failed: HTTP 503 (retryable)";
const DEAD_ERROR: &str = "scripts/route.rhai:7:13: phone 13812345678 is not valid for Waiqin";

/// The journal every test reads:
/// - `1001` tencent/tx_main, pushed at T0, routed at once;
/// - `1002` tencent/tx_main, pushed at T0+1m: failed (retry), then routed with a replayed call;
/// - `1003` tencent/tx_main, pulled at T0+2m with a checkpoint: waiting for a retry at T0+60m;
/// - `2001` feiyu/fy_main, pushed at T0+3m: a script error made it a dead letter;
/// - `2002` feiyu/fy_main, pushed at T0+4m: pending;
/// - quarantine 1 (not UTF-8) and 2 (UTF-8 text); cron claims and a skip.
async fn build(path: &Path) -> Journal {
    let journal = Journal::open(path, JournalOptions::default()).unwrap();

    journal
        .accept_leads(
            vec![lead(Vendor::Tencent, "tx_main", "1001")],
            push(T0),
            None,
        )
        .await
        .unwrap();
    let w = claim_one(&journal, T0, "1001").await;
    journal
        .finish(
            w,
            vec![run("v1-abc", T0 + 50, None, vec![ok_call(0, false)])],
            WorkOutcome::Done,
        )
        .await
        .unwrap();

    journal
        .accept_leads(
            vec![lead(Vendor::Tencent, "tx_main", "1002")],
            push(T0 + MIN),
            None,
        )
        .await
        .unwrap();
    let w = claim_one(&journal, T0 + MIN, "1002").await;
    journal
        .finish(
            w,
            vec![run(
                "v1-abc",
                T0 + MIN + 50,
                Some(RETRY_ERROR),
                vec![ok_call(0, false), failed_call(1)],
            )],
            WorkOutcome::Retry {
                at_ms: T0 + MIN + 30_000,
                reason: "linkflow busy".into(),
            },
        )
        .await
        .unwrap();
    let w2 = claim_one(&journal, T0 + MIN + 30_000, "1002").await;
    assert_eq!(w2, w);
    let mut second = failed_call(1);
    second.ok = true;
    second.status = None;
    second.code = None;
    second.message = None;
    second.attempts = 1;
    second.response = Some(json!({"code": 0}));
    journal
        .finish(
            w,
            vec![run(
                "v2-def",
                T0 + MIN + 30_050,
                None,
                vec![ok_call(0, true), second],
            )],
            WorkOutcome::Done,
        )
        .await
        .unwrap();

    journal
        .accept_leads(
            vec![lead(Vendor::Tencent, "tx_main", "1003")],
            arrival(Via::Pull, "/leads/list", T0 + 2 * MIN),
            Some(Checkpoint {
                account: "tx_main".into(),
                endpoint: "/leads/list".into(),
                position: "1714527120".into(),
            }),
        )
        .await
        .unwrap();
    let w = claim_one(&journal, T0 + 2 * MIN, "1003").await;
    journal
        .finish(
            w,
            vec![run(
                "v2-def",
                T0 + 2 * MIN + 50,
                Some(RETRY_ERROR),
                vec![failed_call(0)],
            )],
            WorkOutcome::Retry {
                at_ms: T0 + 60 * MIN,
                reason: "linkflow busy".into(),
            },
        )
        .await
        .unwrap();

    journal
        .accept_leads(
            vec![lead(Vendor::Feiyu, "fy_main", "2001")],
            arrival(Via::Push, "/hooks/feiyu/fy_main", T0 + 3 * MIN),
            None,
        )
        .await
        .unwrap();
    let w = claim_one(&journal, T0 + 3 * MIN, "2001").await;
    journal
        .finish(
            w,
            vec![run("v2-def", T0 + 3 * MIN + 50, Some(DEAD_ERROR), vec![])],
            WorkOutcome::Dead {
                reason: format!("script error: {DEAD_ERROR}"),
            },
        )
        .await
        .unwrap();

    journal
        .accept_leads(
            vec![lead(Vendor::Feiyu, "fy_main", "2002")],
            arrival(Via::Push, "/hooks/feiyu/fy_main", T0 + 4 * MIN),
            None,
        )
        .await
        .unwrap();

    journal
        .quarantine(Quarantined {
            account: "fy_main".into(),
            endpoint: "/hooks/feiyu/fy_main".into(),
            reason: "invalid UTF-8 at byte 10".into(),
            content_type: Some("application/json".into()),
            body: b"{\"leads\":[\xff\xfe\x00]".to_vec(),
            received_at_ms: T0 + 5 * MIN,
        })
        .await
        .unwrap();
    journal
        .quarantine(Quarantined {
            account: "tx_main".into(),
            endpoint: "/hooks/tencent/tx_main".into(),
            reason: "missing field `leads_id`".into(),
            content_type: None,
            body: "{\"leads\": [{\"城市\": \"广州\"}]}".as_bytes().to_vec(),
            received_at_ms: T0 + 6 * MIN,
        })
        .await
        .unwrap();

    for slot in [T0, T0 + 10 * MIN] {
        assert!(journal
            .claim_cron_slot("scripts/nightly.rhai#report", slot)
            .await
            .unwrap());
    }
    journal
        .record_cron_skip(
            "scripts/nightly.rhai#report",
            T0 + 20 * MIN,
            "previous tick still running",
        )
        .await
        .unwrap();
    journal
}

fn show(reader: &dyn Queries, id: &str) -> String {
    inspect::lead_show(reader, id)
        .unwrap()
        .unwrap_or_else(|| panic!("no lead {id}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lead_show_tells_the_whole_story() {
    let (_dir, path) = temp();
    let journal = build(&path).await;
    let text = show(journal.reader(), "1002");
    println!("{text}");
    for expected in [
        "lead #2  tencent lead 1002 of account tx_main",
        "arrived  2024-05-01 09:31:00  pushed to /hooks/tencent/tx_main",
        "kind        form",
        "name        张三",
        &format!("phone       {MASKED}"),
        "created at  2024-05-01 09:29:10",
        "runs (2 over 2 claims)",
        "run 1  attempt 1  scripts/route.rhai  handler on_lead  version v1-abc  started 2024-05-01 09:31:00  12 ms  failed",
        &format!("error: {RETRY_ERROR}"),
        "call 0  xiaolanben xlb import_customer  ok  1 attempt",
        "call 1  linkflow lf send_event  failed  HTTP 503  code B00008  3 attempts",
        "message: busy",
        "run 2  attempt 2  scripts/route.rhai  handler on_lead  version v2-def",
        "ok  1 attempt  replayed from the journal",
        "response: {\"customerId\":77,",
        "now: routed",
    ] {
        assert!(text.contains(expected), "missing `{expected}` in\n{text}");
    }
    assert!(text.ends_with("now: routed\n"), "{text}");

    let pulled = show(journal.reader(), "1003");
    assert!(
        pulled.contains("arrived  2024-05-01 09:32:00  pulled from /leads/list"),
        "{pulled}"
    );
    assert!(
        pulled.contains("now: waiting to retry at 2024-05-01 10:30:00 (linkflow busy)"),
        "{pulled}"
    );

    let dead = show(journal.reader(), "2001");
    assert!(dead.contains("error: scripts/route.rhai:7:13: phone 138******78 is not valid"));
    assert!(
        dead.contains(
            "now: dead letter: script error: scripts/route.rhai:7:13: phone 138******78 is not \
             valid for Waiqin  (dead letter 1; after fixing the script: leadrelay dead retry 1)"
        ),
        "{dead}"
    );

    let pending = show(journal.reader(), "#5");
    assert!(pending.contains("runs: none yet"), "{pending}");
    assert!(pending.contains("now: pending"), "{pending}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phone_numbers_never_appear_in_full() {
    let (_dir, path) = temp();
    let journal = build(&path).await;
    drop(journal);
    // From another process's point of view: the CLI's read-only open.
    let reader = JournalReader::open(&path).unwrap();
    let mut texts = vec![
        inspect::leads_list(&reader, &LeadQuery::default()).unwrap(),
        inspect::dead_list(&reader).unwrap(),
        inspect::quarantine_list(&reader).unwrap(),
        inspect::status_report(&reader, &[]).unwrap(),
    ];
    for id in ["1001", "1002", "1003", "2001", "2002"] {
        texts.push(show(&reader, id));
    }
    for text in &texts {
        assert!(!text.contains(PHONE), "full phone number in\n{text}");
        assert!(
            !text.contains("12345678"),
            "most of the phone number in\n{text}"
        );
    }
    assert!(texts[0].contains(MASKED));
    assert!(
        texts[4].contains(&format!("wechat      {MASKED}")),
        "{}",
        texts[4]
    );
    assert!(
        texts[5].contains("\"mobile\":\"138******78\""),
        "{}",
        texts[5]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leads_list_shows_state_and_filters() {
    let (_dir, path) = temp();
    let journal = build(&path).await;
    let reader = journal.reader();
    let all = inspect::leads_list(reader, &LeadQuery::default()).unwrap();
    println!("{all}");
    let lines: Vec<&str> = all.lines().collect();
    assert_eq!(lines.len(), 7, "header, 5 leads, count:\n{all}");
    assert!(lines[0].starts_with("ID  VENDOR"), "{all}");
    // Newest first.
    let ids: Vec<&str> = lines[1..6]
        .iter()
        .map(|l| l.split_whitespace().nth(3).unwrap())
        .collect();
    assert_eq!(ids, ["2002", "2001", "1003", "1002", "1001"]);
    assert!(lines[1].ends_with("2024-05-01 09:34:00  pending"), "{all}");
    assert!(lines[2].ends_with("dead"), "{all}");
    assert!(lines[3].ends_with("retry at 2024-05-01 10:30:00"), "{all}");
    assert!(lines[4].ends_with("done"), "{all}");
    assert!(lines[5].starts_with("#1  tencent  tx_main  1001"), "{all}");
    assert!(
        lines[5].contains("  form  138******78  2024-05-01 09:30:00  done"),
        "{all}"
    );
    assert_eq!(lines[6], "5 leads");

    let by_status = LeadQuery {
        status: Some(inspect::parse_status("done").unwrap()),
        ..LeadQuery::default()
    };
    let done = inspect::leads_list(reader, &by_status).unwrap();
    assert!(done.contains("1001") && done.contains("1002") && !done.contains("2002"));
    assert!(done.ends_with("2 leads\n"), "{done}");

    let by_vendor = LeadQuery {
        vendor: Some("feiyu".into()),
        ..LeadQuery::default()
    };
    let feiyu = inspect::leads_list(reader, &by_vendor).unwrap();
    assert!(feiyu.contains("2001") && !feiyu.contains("1001"), "{feiyu}");

    let since = LeadQuery {
        since_ms: Some(parse_since("2024-05-01 09:32:00", 0).unwrap()),
        ..LeadQuery::default()
    };
    let recent = inspect::leads_list(reader, &since).unwrap();
    assert!(recent.ends_with("3 leads\n"), "{recent}");
    let since_2m_ago = LeadQuery {
        since_ms: Some(parse_since("2m", T0 + 4 * MIN).unwrap()),
        status: Some(WorkStatus::Retry),
        ..LeadQuery::default()
    };
    let retrying = inspect::leads_list(reader, &since_2m_ago).unwrap();
    assert!(
        retrying.contains("1003") && retrying.ends_with("1 lead\n"),
        "{retrying}"
    );

    let limited = LeadQuery {
        limit: 2,
        ..LeadQuery::default()
    };
    let two = inspect::leads_list(reader, &limited).unwrap();
    assert!(
        two.ends_with("2 leads (the newest 2; there may be more)\n"),
        "{two}"
    );

    let none = LeadQuery {
        vendor: Some("waiqin".into()),
        ..LeadQuery::default()
    };
    assert_eq!(
        inspect::leads_list(reader, &none).unwrap(),
        "no leads match\n"
    );
    assert!(inspect::parse_status("finished")
        .unwrap_err()
        .contains("pending, running, retry, done, dead"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_ids_give_none() {
    let (_dir, path) = temp();
    let journal = build(&path).await;
    let reader = journal.reader();
    assert_eq!(inspect::lead_show(reader, "nope").unwrap(), None);
    assert_eq!(inspect::lead_show(reader, "#999").unwrap(), None);
    assert_eq!(inspect::lead_show(reader, "999").unwrap(), None);
    assert_eq!(inspect::quarantine_show(reader, 999).unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_list_with_the_retry_hint() {
    let (_dir, path) = temp();
    let journal = build(&path).await;
    let text = inspect::dead_list(journal.reader()).unwrap();
    println!("{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("ID  LEAD"), "{text}");
    // The dead letter's time is when the journal wrote it (the wall clock), not a fixture time.
    assert!(
        lines[1].starts_with("1   #4 2001  fy_main  on_lead  "),
        "{text}"
    );
    assert!(
        lines[1].ends_with(
            "  script error: scripts/route.rhai:7:13: phone 138******78 is not valid for Waiqin"
        ),
        "{text}"
    );
    assert_eq!(lines[2], "1 dead letter");
    assert_eq!(
        lines[3],
        "after fixing the script: leadrelay dead retry ID (or --all)"
    );
    journal.retry_dead(DeadSelector::All).await.unwrap();
    assert_eq!(
        inspect::dead_list(journal.reader()).unwrap(),
        "no dead letters\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quarantine_shows_exactly_what_arrived() {
    let (_dir, path) = temp();
    let journal = build(&path).await;
    let reader = journal.reader();
    let list = inspect::quarantine_list(reader).unwrap();
    println!("{list}");
    assert!(list.contains("1   fy_main  /hooks/feiyu/fy_main    14 B  2024-05-01 09:35:00  invalid UTF-8 at byte 10"), "{list}");
    assert!(list.contains("2 quarantined payloads"), "{list}");

    let binary = inspect::quarantine_show(reader, 1).unwrap().unwrap();
    println!("{binary}");
    assert!(binary.contains("account       fy_main"), "{binary}");
    assert!(
        binary.contains("content type  application/json"),
        "{binary}"
    );
    assert!(binary.contains("size          14 bytes"), "{binary}");
    assert!(
        binary.contains("body (not valid UTF-8; hex dump):"),
        "{binary}"
    );
    assert!(
        binary.contains("00000000  7b 22 6c 65 61 64 73 22  3a 5b ff fe 00 5d"),
        "{binary}"
    );
    assert!(binary.ends_with("|{\"leads\":[...]|\n"), "{binary}");

    let text = inspect::quarantine_show(reader, 2).unwrap().unwrap();
    assert!(text.contains("content type  (none)"), "{text}");
    assert!(
        text.contains(
            "body (UTF-8 text, exactly as received):\n{\"leads\": [{\"城市\": \"广州\"}]}\n"
        ),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_report_shows_backlog_checkpoints_cron_and_extra_sections() {
    let (_dir, path) = temp();
    let journal = build(&path).await;
    let extra = vec![(
        "scripts".to_string(),
        "scripts/route.rhai  v2-def  loaded 2024-05-01 09:00:00".to_string(),
    )];
    let text = inspect::status_report_at(journal.reader(), T0 + 30 * MIN, &extra).unwrap();
    println!("{text}");
    for expected in [
        "stored: 5 leads, 0 follow records",
        "  pending   1\n",
        "  retry     1\n",
        "  done      2\n",
        "  dead      1\n",
        "  unrouted  0\n",
        "  backlog   2 (pending + running + retry)\n",
        "dead letters: 1 open  (leadrelay dead list)",
        "quarantine: 2 payloads  (leadrelay quarantine list)",
        "tx_main  /leads/list  1714527120  2024-05-01 09:32:00  28m",
        "scripts/nightly.rhai#report  2024-05-01 09:40:00",
        "2       1      previous tick still running",
        "\nscripts\n  scripts/route.rhai  v2-def  loaded 2024-05-01 09:00:00\n",
    ] {
        assert!(text.contains(expected), "missing `{expected}` in\n{text}");
    }
    // When a checkpoint advanced and a slot was claimed is the journal's wall clock.
    let now = inspect::status_report(journal.reader(), &[]).unwrap();
    assert!(
        now.contains("  0s ago  ") || now.contains("  1s ago  "),
        "{now}"
    );
    assert!(
        !now.contains("\nscripts\n"),
        "no extra sections unless given"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_retry_from_the_cli_while_the_daemon_writes() {
    let (_dir, path) = temp();
    let journal = build(&path).await;
    let dead = journal.reader().dead_letters().unwrap();
    assert_eq!(dead.len(), 1);
    let backlog_before = journal.backlog();

    // Another writer (as if the daemon were mid-batch) holds the write lock for a while; the
    // offline retry waits for it instead of failing.
    let holder = {
        let path = path.clone();
        let (locked_tx, locked_rx) = std::sync::mpsc::channel();
        let handle = std::thread::spawn(move || {
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.execute_batch("BEGIN IMMEDIATE").unwrap();
            locked_tx.send(()).unwrap();
            std::thread::sleep(Duration::from_millis(300));
            conn.execute_batch("COMMIT").unwrap();
        });
        locked_rx.recv().unwrap();
        handle
    };
    let offline_path = path.clone();
    let revived = tokio::task::spawn_blocking(move || {
        retry_dead_offline(&offline_path, DeadSelector::One(dead[0].id))
    })
    .await
    .unwrap()
    .unwrap();
    holder.join().unwrap();
    assert_eq!(revived, 1);

    // The live writer's next claim finds it, as a fresh item.
    let work = journal.claim_due(T0 + 5 * MIN, 10).await.unwrap();
    let ids: Vec<String> = work
        .iter()
        .map(|w| match &w.kind {
            WorkKind::Lead(l) => l.id.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert!(ids.contains(&"2001".to_string()), "{ids:?}");
    let item = work
        .iter()
        .find(|w| matches!(&w.kind, WorkKind::Lead(l) if l.id == "2001"))
        .unwrap();
    assert_eq!(item.attempts, 1, "attempts were reset");
    assert!(inspect::dead_list(journal.reader())
        .unwrap()
        .starts_with("no dead letters"));

    // The daemon's counter did not see the revival (documented): it lags, nothing breaks.
    assert_eq!(journal.backlog(), backlog_before);
    for w in &work {
        journal
            .finish(w.id, vec![], WorkOutcome::Done)
            .await
            .unwrap();
    }
    assert!(!journal.is_overloaded());
    let status = journal.reader().status().unwrap();
    assert_eq!(
        status.backlog(),
        1,
        "the table is exact: 1003 still waits for its retry"
    );
    drop(journal);
    let reopened = Journal::open(&path, JournalOptions::default()).unwrap();
    assert_eq!(reopened.backlog(), 1, "a reopen recounts");
    drop(reopened);

    // Already retried, unknown, missing file, not a journal.
    let err = retry_dead_offline(&path, DeadSelector::One(1)).unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    assert_eq!(retry_dead_offline(&path, DeadSelector::All).unwrap(), 0);
    let missing = path.with_file_name("typo.db");
    let err = retry_dead_offline(&missing, DeadSelector::All).unwrap_err();
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    assert!(!missing.exists(), "a mistyped path leaves no file behind");
    let other = path.with_file_name("other.db");
    rusqlite::Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE t (x)")
        .unwrap();
    let err = retry_dead_offline(&other, DeadSelector::All).unwrap_err();
    assert!(matches!(err, StoreError::NotAJournal { .. }), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_retry_all_offline_revives_every_open_letter() {
    let (_dir, path) = temp();
    let journal = build(&path).await;
    let offline_path = path.clone();
    let revived =
        tokio::task::spawn_blocking(move || retry_dead_offline(&offline_path, DeadSelector::All))
            .await
            .unwrap()
            .unwrap();
    assert_eq!(revived, 1);
    let text = show(journal.reader(), "2001");
    assert!(
        text.ends_with("now: pending (waiting for the dispatcher to claim it)\n"),
        "{text}"
    );
}

#[test]
fn parse_since_reads_dates_times_and_durations() {
    let now = T0;
    assert_eq!(parse_since("2024-05-01", now), Ok(T0 - (9 * 60 + 30) * MIN));
    assert_eq!(parse_since("2024-05-01 09:30:00", now), Ok(T0));
    assert_eq!(parse_since(" 2024-05-01 09:30 ", now), Ok(T0));
    assert_eq!(parse_since("30m", now), Ok(T0 - 30 * MIN));
    assert_eq!(parse_since("2h", now), Ok(T0 - 120 * MIN));
    assert_eq!(parse_since("1d", now), Ok(T0 - 24 * 60 * MIN));
    assert_eq!(parse_since("1h30m", now), Ok(T0 - 90 * MIN));
    assert_eq!(parse_since("45s", now), Ok(T0 - 45_000));
    assert_eq!(parse_since("1w", now), Ok(T0 - 7 * 24 * 60 * MIN));
    for (bad, why) in [
        ("", "empty"),
        ("yesterday", "unknown unit `y`"),
        ("30", "`30` has no unit"),
        ("h", "no number"),
        ("2024-13-01", "not a valid date"),
        ("2024-05-01 25:00:00", "not a valid date"),
        ("99999999999999999999d", "too large"),
        ("9999999999999d", "too long ago"),
    ] {
        let err = parse_since(bad, now).unwrap_err();
        assert!(err.contains(why), "`{bad}`: {err}");
        assert!(
            err.contains("expected a date (2024-05-01)"),
            "the error says what is accepted: {err}"
        );
    }
}
