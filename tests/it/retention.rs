//! Retention, redaction, erasure on request and online backup, on real journal files aged by
//! an injected "now". Personal data is checked gone by searching the database file's bytes.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use leadrelay::connectors::Vendor;
use leadrelay::lead::{Lead, LeadKind};
use leadrelay::store::offline::forget_offline;
use leadrelay::store::retention::DAY_MS;
use leadrelay::store::types::{Arrival, FollowArrival, Quarantined, Via};
use leadrelay::store::Queries;
use leadrelay::store::{
    fingerprint, CallRow, DeadSelector, ForgetSelector, Journal, JournalOptions, JournalReader,
    RetentionPolicy, RunRecord, WorkKind, WorkOutcome,
};
use serde_json::json;

fn temp() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("leadrelay.db");
    (dir, path)
}

fn open(path: &Path) -> Journal {
    Journal::open(path, JournalOptions::default()).unwrap()
}

fn now_real() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn arrival(at_ms: i64) -> Arrival {
    Arrival {
        via: Via::Push,
        endpoint: "/hooks/x".into(),
        received_at_ms: at_ms,
    }
}

/// A lead whose personal values all carry `tag`, so each one can be searched for.
fn person(vendor: Vendor, id: &str, tag: &str, phone: &str) -> Lead {
    let mut lead = Lead::new(
        vendor,
        "acct",
        id,
        json!({"leads_id": id, "tel": phone, "addr": format!("body-{tag}-street")}),
    );
    lead.name = Some(format!("name-{tag}"));
    lead.phone = Some(phone.to_string());
    lead.wechat = Some(format!("wx-{tag}"));
    lead.city = Some("广州".into());
    lead.kind = LeadKind::Form;
    lead
}

fn run_with(error: Option<String>, response: serde_json::Value) -> RunRecord {
    let payload = json!({"x": 1});
    RunRecord {
        id: None,
        script: "scripts/route.rhai".into(),
        handler: "route".into(),
        version: "v1".into(),
        started_ms: 1,
        elapsed_ms: 2,
        error,
        skipped: None,
        calls: vec![CallRow {
            seq: 1,
            vendor: "xiaolanben".into(),
            account: "xlb".into(),
            op: "import_customer".into(),
            fingerprint: fingerprint("xiaolanben", "xlb", "import_customer", &payload),
            ok: true,
            status: None,
            code: None,
            message: None,
            response: Some(response),
            attempts: 1,
            replayed: false,
        }],
    }
}

/// Claims everything due and finishes each item with the outcome `decide` picks by the
/// item's vendor lead id (or msgId / job key).
async fn route(journal: &Journal, decide: impl Fn(&str) -> (WorkOutcome, RunRecord)) {
    loop {
        let work = journal.claim_due(now_real(), 100).await.unwrap();
        if work.is_empty() {
            return;
        }
        for item in work {
            let key = match &item.kind {
                WorkKind::Lead(lead) => lead.id.clone(),
                WorkKind::Follow { msg_id, .. } => msg_id.clone(),
                WorkKind::Job { key, .. } => key.clone(),
            };
            let (outcome, run) = decide(&key);
            journal.finish(item.id, vec![run], outcome).await.unwrap();
        }
    }
}

/// The database file's bytes (and its WAL's, if one is left) contain `needle`.
fn file_contains(path: &Path, needle: &str) -> bool {
    let mut bytes = std::fs::read(path).unwrap();
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    if let Ok(more) = std::fs::read(PathBuf::from(wal)) {
        bytes.extend(more);
    }
    let needle = needle.as_bytes();
    bytes.windows(needle.len()).any(|w| w == needle)
}

fn ok(response: serde_json::Value) -> (WorkOutcome, RunRecord) {
    (WorkOutcome::Done, run_with(None, response))
}

#[tokio::test]
async fn pruning_deletes_old_final_leads_and_redacts_personal_data_past_its_days() {
    let (_dir, path) = temp();
    let journal = open(&path);
    // "now" is injected: 91 days ahead of the wall clock, so a cron item finished today is
    // past keep_days too, and leads are aged by their arrival time relative to it.
    let now = now_real() + 91 * DAY_MS;
    let age = |days: i64| now - days * DAY_MS;
    // (id, tag, phone, age in days)
    let leads = [
        ("del-done", "a", "13800000001", 100),
        ("del-skip", "b", "13800000002", 95),
        ("red-done", "c", "13800000003", 50),
        ("keep-new", "d", "13800000004", 10),
        ("unrouted", "e", "13800000005", 100),
        ("open-dead", "f", "13800000006", 100),
        ("resolved", "g", "13800000007", 100),
        ("pending", "h", "13800000008", 100),
    ];
    for (id, tag, phone, days) in leads {
        journal
            .accept_leads(
                vec![person(Vendor::Tencent, id, tag, phone)],
                arrival(age(days)),
                None,
            )
            .await
            .unwrap();
    }
    journal
        .accept_follow(FollowArrival {
            account: "wq".into(),
            msg_id: "msg-red".into(),
            data_id: Some("d1".into()),
            record: json!({"mobile": "13800000009", "name": "name-i"}),
            arrival: arrival(age(40)),
        })
        .await
        .unwrap();
    journal
        .quarantine(Quarantined {
            account: "acct".into(),
            endpoint: "/hooks/x".into(),
            reason: "bad json".into(),
            content_type: None,
            body: b"{broken 13800000010".to_vec(),
            received_at_ms: age(200),
        })
        .await
        .unwrap();
    let job = journal
        .fire_cron_slot("scripts/route.rhai::tick::* * * * *", 60_000)
        .await
        .unwrap();
    assert!(matches!(job, leadrelay::store::CronFire::Fired { .. }));

    // Everything but `pending` is claimed; `pending` is accepted again after the first round.
    let decide = |key: &str| -> (WorkOutcome, RunRecord) {
        match key {
            "del-skip" => (
                WorkOutcome::Skipped {
                    reason: "not ours".into(),
                },
                run_with(None, json!({})),
            ),
            "unrouted" => (
                WorkOutcome::Unrouted {
                    reason: "no handler".into(),
                },
                run_with(None, json!({})),
            ),
            "open-dead" | "resolved" => (
                WorkOutcome::Dead {
                    reason: "HTTP 401".into(),
                },
                run_with(Some("failed for 13800000006".into()), json!({})),
            ),
            // The run's error and the call's response quote the person.
            "red-done" => (
                WorkOutcome::Done,
                run_with(
                    Some("warning about name-c at 13800000003".into()),
                    json!({"entName": "name-c", "tel": "13800000003"}),
                ),
            ),
            other => ok(json!({"echo": other})),
        }
    };
    route(&journal, |key| {
        if key == "pending" {
            // Left running → give it back as a retry far in the future (not final).
            (
                WorkOutcome::Retry {
                    at_ms: i64::MAX / 2,
                    reason: "later".into(),
                },
                run_with(None, json!({})),
            )
        } else {
            decide(key)
        }
    })
    .await;
    // The resolved dead letter: retried, then routed.
    let letter = journal
        .reader()
        .dead_letters()
        .unwrap()
        .into_iter()
        .find(|d| d.item == "resolved")
        .unwrap();
    journal
        .retry_dead(DeadSelector::One(letter.id))
        .await
        .unwrap();
    route(&journal, |key| ok(json!({"echo": key}))).await;

    let policy = RetentionPolicy::default();
    let (_, status) = leadrelay::inspect::retention_section(journal.reader(), policy, now).unwrap();
    assert!(
        status.contains("next prune: delete 3 leads, 0 follow records, 1 job item; redact 1 lead, 1 follow record"),
        "{status}"
    );

    // Small batches: several steps are needed, and each is a commit of its own.
    let mut total = leadrelay::store::PruneReport::default();
    loop {
        let step = journal.prune_step(policy, now, 2).await.unwrap();
        assert!(step.total() <= 2);
        if step.total() == 0 {
            break;
        }
        total.add(step);
    }
    assert_eq!(
        (
            total.deleted_leads,
            total.deleted_follows,
            total.deleted_jobs,
            total.redacted_leads,
            total.redacted_follows
        ),
        (3, 0, 1, 1, 1)
    );
    journal.reclaim().await.unwrap();
    // A second pass finds nothing: an idle check does no work.
    assert_eq!(journal.prune(policy, now, 200).await.unwrap().total(), 0);

    let reader = journal.reader();
    for gone in ["del-done", "del-skip", "resolved"] {
        assert!(
            reader.lead_story(gone).unwrap().is_none(),
            "{gone} was not deleted"
        );
    }
    for kept in ["keep-new", "unrouted", "open-dead", "pending"] {
        let story = reader.lead_story(kept).unwrap().unwrap();
        assert!(story.lead.redacted_ms.is_none(), "{kept} was redacted");
        assert!(story.lead.phone.is_some());
    }
    assert_eq!(
        reader.dead_letters().unwrap().len(),
        1,
        "the open dead letter survives"
    );
    assert_eq!(
        reader.quarantined().unwrap().len(),
        1,
        "quarantine survives"
    );

    let story = reader.lead_story("red-done").unwrap().unwrap();
    assert_eq!(story.lead.redacted_ms, Some(now));
    assert_eq!(story.lead.city.as_deref(), Some("广州"));
    assert_eq!(story.lead.kind, LeadKind::Form);
    assert_eq!((story.lead.name, story.lead.phone), (None, None));
    assert_eq!(story.runs.len(), 1, "the run stays");
    assert!(story.runs[0].calls[0].ok, "the call's outcome stays");
    let shown = leadrelay::inspect::lead_show(reader, "red-done")
        .unwrap()
        .unwrap();
    assert!(shown.contains("personal data removed on"), "{shown}");
    assert!(
        shown.contains("done") || shown.contains("routed"),
        "{shown}"
    );
    assert!(
        !shown.contains("13800000003") && !shown.contains("name-c"),
        "{shown}"
    );

    // Full async prune (with reclaim and WAL truncation) to settle the file, then close it.
    journal.prune(policy, now, 200).await.unwrap();
    drop(journal);
    for (tag, phone) in [
        ("a", "13800000001"),
        ("b", "13800000002"),
        ("c", "13800000003"),
        ("g", "13800000007"),
    ] {
        assert!(
            !file_contains(&path, phone),
            "phone of {tag} left in the file"
        );
        assert!(
            !file_contains(&path, &format!("name-{tag}")),
            "name of {tag} left"
        );
        assert!(
            !file_contains(&path, &format!("body-{tag}-street")),
            "body of {tag} left"
        );
        assert!(
            !file_contains(&path, &format!("wx-{tag}")),
            "wechat of {tag} left"
        );
    }
    assert!(!file_contains(&path, "13800000009") && !file_contains(&path, "name-i"));
    // The search does find what must stay: it would catch a leak.
    for phone in ["13800000004", "13800000005", "13800000006", "13800000008"] {
        assert!(
            file_contains(&path, phone),
            "{phone} should still be stored"
        );
    }
    assert!(file_contains(&path, "body-d-street"));
}

#[tokio::test]
async fn forget_by_phone_redacts_the_persons_tencent_feiyu_and_waiqin_records_only() {
    let (_dir, path) = temp();
    let journal = open(&path);
    let now = now_real();
    let mut tencent = person(Vendor::Tencent, "tx-1", "zhang", "13812345678");
    tencent.remark = Some("call after 6pm".into());
    let feiyu = person(Vendor::Feiyu, "fy-1", "zhang2", "+86 138-1234-5678");
    let other = person(Vendor::Tencent, "tx-2", "li", "13900001111");
    journal
        .accept_leads(vec![tencent, other], arrival(now - DAY_MS), None)
        .await
        .unwrap();
    journal
        .accept_leads(vec![feiyu], arrival(now - DAY_MS), None)
        .await
        .unwrap();
    journal
        .accept_follow(FollowArrival {
            account: "wq".into(),
            msg_id: "msg-1".into(),
            data_id: Some("d-1".into()),
            record: json!({"customer": {"mobile": "138 1234 5678", "name": "name-wang"}}),
            arrival: arrival(now - DAY_MS),
        })
        .await
        .unwrap();
    route(&journal, |key| match key {
        "tx-1" => ok(json!({"entName": "name-zhang", "mobile": "13812345678"})),
        "fy-1" => (
            WorkOutcome::Done,
            run_with(
                Some("retry: 138-1234-5678 busy".into()),
                json!({"ok": true, "phone": "+86 138-1234-5678"}),
            ),
        ),
        "tx-2" => ok(json!({"entName": "name-li", "mobile": "13900001111"})),
        _ => ok(json!({"mobile": "13812345678"})),
    })
    .await;

    // Beside the open journal (the daemon's writer holds it), like the CLI.
    let erasure = forget_offline(
        &path,
        &ForgetSelector::Phone("+86 138 1234 5678".into()),
        "alice",
        now,
    )
    .unwrap();
    assert_eq!(erasure.leads.len(), 2, "{erasure:?}");
    assert!(erasure.leads.iter().any(|l| l.ends_with("tx-1")));
    assert!(erasure.leads.iter().any(|l| l.ends_with("fy-1")));
    assert_eq!(erasure.follows, vec!["wq msg-1".to_string()]);
    assert!(erasure.calls >= 3, "{erasure:?}");

    let reader = journal.reader();
    let untouched = reader.lead_story("tx-2").unwrap().unwrap();
    assert_eq!(untouched.lead.phone.as_deref(), Some("13900001111"));
    assert!(untouched.lead.redacted_ms.is_none());
    assert!(untouched.runs[0].calls[0]
        .response_summary
        .as_deref()
        .unwrap()
        .contains("name-li"));
    for id in ["tx-1", "fy-1"] {
        let story = reader.lead_story(id).unwrap().unwrap();
        assert_eq!(story.lead.redacted_ms, Some(now));
        assert!(story.runs[0].calls[0].response_summary.is_none());
    }
    let (_, status) =
        leadrelay::inspect::retention_section(reader, RetentionPolicy::default(), now).unwrap();
    assert!(status.contains("erasures on request: 1"), "{status}");

    // The daemon keeps working after the erasure.
    journal
        .accept_leads(
            vec![person(Vendor::Tencent, "tx-3", "new", "13700000000")],
            arrival(now),
            None,
        )
        .await
        .unwrap();
    drop(journal);
    // The erasure record names who and how many, not the phone.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let (by, matched, leads, follows): (String, String, i64, i64) = conn
        .query_row(
            "SELECT by, matched, leads, follows FROM erasures",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!(
        (by.as_str(), matched.as_str(), leads, follows),
        ("alice", "phone", 2, 1)
    );
    drop(conn);
    for gone in [
        "13812345678",
        "1234-5678",
        "1234 5678",
        "name-zhang",
        "name-wang",
        "wx-zhang",
        "body-zhang",
        "call after 6pm",
    ] {
        assert!(!file_contains(&path, gone), "`{gone}` left in the file");
    }
    for kept in ["13900001111", "name-li", "body-li-street"] {
        assert!(
            file_contains(&path, kept),
            "`{kept}` should still be stored"
        );
    }
}

#[tokio::test]
async fn forget_by_id_and_unknown_ids() {
    let (_dir, path) = temp();
    let journal = open(&path);
    let now = now_real();
    journal
        .accept_leads(
            vec![person(Vendor::Tencent, "tx-9", "x", "13811112222")],
            arrival(now),
            None,
        )
        .await
        .unwrap();
    // Not routed yet: erasing it closes its work instead of routing an empty lead later.
    let erasure = forget_offline(&path, &ForgetSelector::Id("tx-9".into()), "ops", now).unwrap();
    assert_eq!((erasure.leads.len(), erasure.closed), (1, 1));
    let story = journal.reader().lead_story("tx-9").unwrap().unwrap();
    assert!(matches!(
        story.state,
        leadrelay::store::WorkState::Skipped { .. }
    ));
    assert!(journal.claim_due(i64::MAX, 10).await.unwrap().is_empty());
    let e = forget_offline(&path, &ForgetSelector::Id("nope".into()), "ops", now).unwrap_err();
    assert!(e.to_string().contains("`nope` not found"), "{e}");
}

#[tokio::test]
async fn backup_under_load_holds_every_lead_acknowledged_before_it_began() {
    let (dir, path) = temp();
    let journal = open(&path);
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..4 {
        let (j, acked, stop) = (journal.clone(), acked.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let ids: Vec<String> = (0..5).map(|k| format!("w{w}-{i}-{k}")).collect();
                let leads = ids
                    .iter()
                    .map(|id| person(Vendor::Tencent, id, id, "13800000000"))
                    .collect();
                j.accept_leads(leads, arrival(1), None).await.unwrap();
                acked.lock().unwrap().extend(ids);
                i += 1;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before: Vec<String> = acked.lock().unwrap().clone();
    assert!(
        before.len() > 50,
        "the load is running ({} acked)",
        before.len()
    );
    let dest = dir.path().join("backup.db");
    let (j, d) = (journal.clone(), dest.clone());
    let report = tokio::task::spawn_blocking(move || j.reader().backup_to(&d))
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    assert!(report.leads as usize >= before.len());
    // A backup refuses to overwrite.
    assert!(journal.reader().backup_to(&dest).is_err());

    let copy = JournalReader::open(&dest).unwrap();
    let status = copy.status().unwrap();
    assert_eq!(status.leads, report.leads);
    drop(copy);
    let conn = rusqlite::Connection::open(&dest).unwrap();
    let known: HashSet<String> = conn
        .prepare("SELECT vendor_lead_id FROM leads")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    drop(conn);
    let missing = before.iter().filter(|id| !known.contains(*id)).count();
    assert_eq!(
        missing, 0,
        "leads acknowledged before the backup are missing from it"
    );
    // It is a journal the daemon can open (restore = point `journal` at it).
    let restored = open(&dest);
    assert_eq!(restored.reader().status().unwrap().leads, report.leads);
}

#[tokio::test]
async fn growth_bench_small_run_shrinks_on_redaction_and_empties_on_delete() {
    let (_dir, path) = temp();
    let report = leadrelay::bench::growth_with(&path, 2_000).await.unwrap();
    assert_eq!(report.redact.report.redacted_leads, 2_000);
    assert_eq!(report.delete.report.deleted_leads, 2_000);
    // Redaction rewrites the payload much smaller; whether pages are freed depends on how
    // SQLite rebalances them (reported, not asserted beyond "no growth").
    assert!(
        report.payload_per_lead_redacted < report.payload_per_lead_full * 0.5,
        "{report}"
    );
    // Used pages are reported, not asserted: the probe's leads (their number depends on how
    // busy the machine is) are in them.
    assert!(
        report.redact.probes > 0 && report.redact.p99_ms > 0.0,
        "{report}"
    );
    // Deleted and reclaimed: what is left is the probe's leads (written while both prunes
    // ran, so their number depends on how busy the machine is) and at most a tenth of the
    // deleted leads' space. Without reclaiming, the file would keep all 2,000 leads' pages.
    let probe_leads = (report.redact.probes + report.delete.probes) as f64;
    assert!(
        (report.file_bytes_after_delete as f64)
            < report.bytes_per_lead_full * (probe_leads + 2_000.0 * 0.1),
        "{report}"
    );
}

/// The binary: `leads forget` prints what it touched, `leads show` says the data is gone,
/// `status` shows the retention section, `journal backup` writes a journal, and a bad
/// retention config is refused naming the keys.
#[tokio::test]
async fn cli_forget_backup_and_status() {
    let (dir, path) = temp();
    let journal = open(&path);
    journal
        .accept_leads(
            vec![person(Vendor::Tencent, "tx-cli", "cli", "13866667777")],
            arrival(now_real()),
            None,
        )
        .await
        .unwrap();
    let config = dir.path().join("leadrelay.toml");
    std::fs::write(
        &config,
        format!("[daemon]\njournal = {:?}\n", path.to_str().unwrap()),
    )
    .unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_leadrelay"))
            .arg("--config")
            .arg(&config)
            .args(args)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string()
                + String::from_utf8_lossy(&out.stderr).as_ref(),
        )
    };
    // Beside the open journal, as beside a daemon.
    let (ok, out) = run(&["leads", "forget", "--phone", "138 6666 7777", "--by", "dpo"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("erasure 1 recorded (by dpo): 1 lead(s), 0 follow record(s)"),
        "{out}"
    );
    assert!(out.contains("lead tencent acct tx-cli"), "{out}");
    let (ok, out) = run(&["leads", "show", "tx-cli"]);
    assert!(ok && out.contains("personal data removed on"), "{out}");
    assert!(!out.contains("name-cli"), "{out}");
    let (ok, out) = run(&["status"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("journal size") && out.contains("erasures on request: 1"),
        "{out}"
    );
    assert!(out.contains("next prune: delete 0 leads"), "{out}");
    let backup = dir.path().join("copy.db");
    let (ok, out) = run(&["journal", "backup", backup.to_str().unwrap()]);
    assert!(ok && out.contains("1 leads"), "{out}");
    assert!(JournalReader::open(&backup)
        .unwrap()
        .lead_story("tx-cli")
        .unwrap()
        .is_some());
    let (ok, out) = run(&["journal", "backup", backup.to_str().unwrap()]);
    assert!(!ok && out.contains("never overwrites"), "{out}");
    drop(journal);
    std::fs::write(
        &config,
        "[daemon]\nkeep_days = 7\npersonal_data_days = 30\n",
    )
    .unwrap();
    let (ok, out) = run(&["status"]);
    assert!(
        !ok && out.contains("personal_data_days (30) must not exceed keep_days (7)"),
        "{out}"
    );
}

/// A quarantined push (verified, unparsable) may hold the person too: `forget` empties its body
/// whichever way the number is written there, leaves other quarantined payloads byte for byte,
/// and counts it in the erasure record. `--id` finds a quarantined duplicate of the lead.
#[tokio::test]
async fn forget_empties_quarantined_payloads_holding_the_person_and_only_those() {
    let (_dir, path) = temp();
    let journal = open(&path);
    let now = now_real();
    let quarantine = |body: &[u8], reason: &str| Quarantined {
        account: "acct".into(),
        endpoint: "/hooks/x".into(),
        reason: reason.into(),
        content_type: Some("application/json".into()),
        body: body.to_vec(),
        received_at_ms: now - DAY_MS,
    };
    // Separators in the number, a parser message quoting it, and a form-encoded body.
    let q_separated = journal
        .quarantine(quarantine(
            br#"{"leads_tel": "+86 138-1234-5678", "leads_name": "name-qz", "#,
            "EOF while parsing near `138-1234-5678`",
        ))
        .await
        .unwrap();
    let other_body: &[u8] = br#"{"leads_tel": "13900002222", "leads_name": "name-other" ,,}"#;
    let q_other = journal
        .quarantine(quarantine(other_body, "expected value at line 1 column 52"))
        .await
        .unwrap();
    let q_form = journal
        .quarantine(quarantine(
            b"tel=13812345678&name=%E5%BC%A0&addr=body-qz-street\xff",
            "not JSON",
        ))
        .await
        .unwrap();
    let q_dup = journal
        .quarantine(quarantine(
            br#"{"leads_id": "tx-dup-4711", "leads_tel": "13700007777"#,
            "EOF while parsing",
        ))
        .await
        .unwrap();
    journal
        .accept_leads(
            vec![
                person(Vendor::Tencent, "tx-q1", "qz", "13812345678"),
                person(Vendor::Tencent, "tx-dup-4711", "dup", "13700007777"),
            ],
            arrival(now - DAY_MS),
            None,
        )
        .await
        .unwrap();

    let erasure = forget_offline(
        &path,
        &ForgetSelector::Phone("138 1234 5678".into()),
        "dpo",
        now,
    )
    .unwrap();
    assert_eq!(erasure.leads.len(), 1, "{erasure:?}");
    assert_eq!(
        erasure.quarantined,
        vec![q_separated, q_form],
        "{erasure:?}"
    );

    let reader = journal.reader();
    for id in [q_separated, q_form] {
        let item = reader.quarantine_item(id).unwrap().unwrap();
        assert_eq!(
            item.body,
            leadrelay::store::retention::QUARANTINE_ERASED,
            "quarantine {id}"
        );
        assert!(!item.reason.contains("5678"), "{}", item.reason);
        // What a human needs to see that something came and was erased stays.
        assert_eq!(item.account, "acct");
        assert_eq!(item.received_at_ms, now - DAY_MS);
        let shown = leadrelay::inspect::quarantine_show(reader, id)
            .unwrap()
            .unwrap();
        assert!(shown.contains("removed on request"), "{shown}");
    }
    let other = reader.quarantine_item(q_other).unwrap().unwrap();
    assert_eq!(
        other.body, other_body,
        "another person's payload is untouched"
    );
    assert_eq!(other.reason, "expected value at line 1 column 52");
    assert_eq!(
        reader.quarantine_item(q_dup).unwrap().unwrap().body,
        br#"{"leads_id": "tx-dup-4711", "leads_tel": "13700007777"#.to_vec()
    );

    // By id: the lead and the quarantined duplicate of its push.
    let by_id =
        forget_offline(&path, &ForgetSelector::Id("tx-dup-4711".into()), "dpo", now).unwrap();
    assert_eq!(
        (by_id.leads.len(), by_id.quarantined.clone()),
        (1, vec![q_dup])
    );
    // A second erasure of the same phone finds no quarantined payload left to empty.
    let again = forget_offline(
        &path,
        &ForgetSelector::Phone("13812345678".into()),
        "dpo",
        now,
    )
    .unwrap();
    assert!(again.quarantined.is_empty(), "{again:?}");
    drop(journal);

    let conn = rusqlite::Connection::open(&path).unwrap();
    let counts: Vec<(String, i64, i64)> = conn
        .prepare("SELECT matched, leads, quarantined FROM erasures ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        counts,
        vec![
            ("phone".to_string(), 1, 2),
            ("id".to_string(), 1, 1),
            ("phone".to_string(), 0, 0)
        ]
    );
    drop(conn);
    for gone in [
        "13812345678",
        "1234-5678",
        "name-qz",
        "body-qz-street",
        "13700007777",
    ] {
        assert!(!file_contains(&path, gone), "`{gone}` left in the file");
    }
    for kept in ["13900002222", "name-other"] {
        assert!(
            file_contains(&path, kept),
            "`{kept}` should still be stored"
        );
    }
}

/// The running daemon's background prune, end to end: leads pushed over HTTP and routed, then
/// aged by moving the daemon's injected clock past `personal_data_days` and `keep_days`; the
/// prune timer (checking every few milliseconds here instead of every 5 minutes) redacts, then
/// deletes the finished lead, and leaves the open dead letter alone.
#[tokio::test]
async fn the_running_daemon_prunes_leads_aged_by_its_clock() {
    use leadrelay::clock::Clock;
    use leadrelay::connectors::tencent::config::Algorithm;
    use leadrelay::connectors::tencent::webhook::sign_push;
    use leadrelay::daemon::retention::PruneTiming;
    use leadrelay::store::WorkState;

    let sim = leadrelay::sim::Simulator::start_local().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("scripts")).unwrap();
    std::fs::write(
        dir.path().join("scripts/route.rhai"),
        r#"
on_lead("tencent", "route");
fn route(lead) {
    if lead.id == "9003" { throw "no owner for " + lead.phone; }
    xiaolanben::import_customer(#{ customerName: lead.name + " " + lead.phone });
}
"#,
    )
    .unwrap();
    let path = dir.path().join("leadrelay.db");
    let text = format!(
        "{}\n[daemon]\nlisten = \"127.0.0.1:0\"\njournal = \"{}\"\nscripts = \"{}\"\n\
         keep_days = 90\npersonal_data_days = 30\n\
         [[sources]]\naccount = \"sim_tencent\"\npush = \"/hooks/tencent\"\n",
        sim.config_toml(),
        path.display(),
        dir.path().join("scripts").display(),
    );
    let config = leadrelay::config::Config::parse(&text, "leadrelay.toml", &|_| None).unwrap();
    let clock = Clock::manual(chrono::Utc::now());
    let daemon = leadrelay::daemon::start_with(
        &config,
        clock,
        PruneTiming {
            first_check: Duration::from_millis(10),
            every: Duration::from_millis(20),
        },
    )
    .await
    .unwrap();

    let client = reqwest::Client::new();
    for (id, phone) in [(9001, "13855550001"), (9003, "13855550003")] {
        let body = json!({"leads_id": id, "leads_type": "LEADS_TYPE_FORM",
                          "leads_name": format!("name-{id}"), "leads_tel": phone});
        let headers = sign_push(
            "10001",
            "sim-tencent-secret-0123456789abcd",
            chrono::Utc::now().timestamp(),
            Algorithm::Sha256,
        );
        let mut request = client
            .post(format!("http://{}/hooks/tencent", daemon.addr))
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&body).unwrap());
        for (name, value) in headers.pairs() {
            request = request.header(name, value);
        }
        assert_eq!(request.send().await.unwrap().status().as_u16(), 200);
    }
    let reader = JournalReader::open(&path).unwrap();
    let state = |r: &JournalReader, id: &str| r.lead_story(id).unwrap().map(|s| s.state);
    wait_until(&reader, "routed and dead-lettered", |r| {
        state(r, "9001") == Some(WorkState::Done)
            && matches!(state(r, "9003"), Some(WorkState::Dead { .. }))
    })
    .await;
    // Many checks have run by now at the clock's "today": nothing was due.
    let (_, status) = leadrelay::inspect::retention_section(
        &reader,
        RetentionPolicy::default(),
        clock.unix_millis(),
    )
    .unwrap();
    assert!(status.contains("0 leads redacted so far"), "{status}");

    // 31 days later the routed lead loses its personal data, the dead letter keeps it.
    clock.advance(chrono::Duration::days(31));
    let redacted_at = clock.unix_millis();
    wait_until(&reader, "redacted by the daemon", |r| {
        r.lead_story("9001")
            .unwrap()
            .is_some_and(|s| s.lead.redacted_ms.is_some())
    })
    .await;
    let story = reader.lead_story("9001").unwrap().unwrap();
    assert_eq!(story.lead.redacted_ms, Some(redacted_at));
    assert_eq!((story.lead.name, story.lead.phone), (None, None));
    assert_eq!(story.state, WorkState::Done, "its story stays");
    assert!(story.runs[0].calls[0].ok);
    let dead = reader.lead_story("9003").unwrap().unwrap();
    assert!(dead.lead.redacted_ms.is_none() && dead.lead.phone.is_some());

    // Past keep_days it is deleted; the open dead letter still survives.
    clock.advance(chrono::Duration::days(60));
    wait_until(&reader, "deleted by the daemon", |r| {
        r.lead_story("9001").unwrap().is_none()
    })
    .await;
    let dead = reader.lead_story("9003").unwrap().unwrap();
    assert!(matches!(dead.state, WorkState::Dead { .. }));
    assert_eq!(dead.lead.phone.as_deref(), Some("13855550003"));
    assert_eq!(reader.dead_letters().unwrap().len(), 1);
    drop(reader);
    daemon.stop().await;
    assert!(!file_contains(&path, "13855550001") && !file_contains(&path, "name-9001"));
    assert!(
        file_contains(&path, "13855550003"),
        "the dead letter's lead is kept"
    );
}

/// Polls `reader` until `done` holds, failing after 20 s.
async fn wait_until(reader: &JournalReader, what: &str, done: impl Fn(&JournalReader) -> bool) {
    let started = std::time::Instant::now();
    while !done(reader) {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{what}: not after 20 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
