//! Several nodes on one PostgreSQL journal, at the journal's level: two `Journal` handles with
//! different node names on one database, as two `leadrelay run` processes would hold. Intake
//! de-duplication across nodes, disjoint claims, lease takeover (and the refusal of a stale
//! finish), a restarting node leaving the others' work alone, cron slots, `once` keys,
//! assignment counters and pull-source leases claimed once across nodes.

use std::sync::Arc;
use std::time::Duration;

use leadrelay::connectors::Vendor;
use leadrelay::lead::{Lead, LeadKind};
use leadrelay::store::types::{Accepted, Arrival, Via};
use leadrelay::store::{
    beside, CronFire, DeadSelector, Journal, JournalOptions, JournalTarget, RerouteSelector,
    RunRecord, StoreError, WorkOutcome,
};
use serde_json::json;

use crate::pg;

async fn node(url: &str, name: &str, lease: Duration) -> Journal {
    Journal::connect(
        &JournalTarget::parse(url).unwrap(),
        JournalOptions {
            node: name.to_string(),
            lease,
            ..JournalOptions::default()
        },
    )
    .await
    .unwrap()
}

fn lead(id: &str) -> Lead {
    let mut lead = Lead::new(Vendor::Tencent, "tx_main", id, json!({"leads_id": id}));
    lead.kind = LeadKind::Form;
    lead
}

fn push() -> Arrival {
    Arrival {
        via: Via::Push,
        endpoint: "/hooks/tencent/tx_main".into(),
        received_at_ms: 1_000,
    }
}

fn run() -> RunRecord {
    RunRecord {
        id: None,
        script: "scripts/route.rhai".into(),
        handler: "on_tencent".into(),
        version: "v1".into(),
        started_ms: 1_000,
        elapsed_ms: 3,
        error: None,
        skipped: None,
        calls: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_pushed_to_two_nodes_is_journaled_once() {
    let Some(db) = pg::database().await else {
        return;
    };
    let (a, b) = (
        node(&db.url, "a", Duration::from_secs(10)).await,
        node(&db.url, "b", Duration::from_secs(10)).await,
    );
    let mut tasks = Vec::new();
    for i in 0..40 {
        let journal = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            journal
                .accept_leads(vec![lead(&format!("L{}", i / 2))], push(), None)
                .await
                .unwrap()[0]
        }));
    }
    let mut new = 0;
    for task in tasks {
        if task.await.unwrap() == Accepted::New {
            new += 1;
        }
    }
    assert_eq!(
        new, 20,
        "each of the 20 leads is new exactly once across both nodes"
    );
    let claimed = b.claim_due(b.clock().unix_millis(), 100).await.unwrap();
    assert_eq!(claimed.len(), 20, "one work item per lead");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_claim_disjoint_work_and_only_the_holder_finishes_it() {
    let Some(db) = pg::database().await else {
        return;
    };
    let (a, b) = (
        node(&db.url, "a", Duration::from_secs(10)).await,
        node(&db.url, "b", Duration::from_secs(10)).await,
    );
    let leads = (0..10).map(|i| lead(&format!("D{i}"))).collect();
    a.accept_leads(leads, push(), None).await.unwrap();
    let now = a.clock().unix_millis();
    let (mine, theirs) = tokio::join!(a.claim_due(now, 6), b.claim_due(now, 6));
    let (mine, theirs) = (mine.unwrap(), theirs.unwrap());
    assert_eq!(mine.len() + theirs.len(), 10, "all ten claimed, none twice");
    let mut ids: Vec<i64> = mine.iter().chain(&theirs).map(|w| w.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 10, "claims are disjoint");
    // b cannot finish what a holds.
    let err = b
        .finish(mine[0].id, vec![run()], WorkOutcome::Done)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(ref m) if m.contains("held by a")),
        "{err}"
    );
    a.finish(mine[0].id, vec![run()], WorkOutcome::Done)
        .await
        .unwrap();
    assert!(a.claim_due(now, 10).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_nodes_work_is_taken_over_when_its_lease_lapses_and_its_late_finish_is_refused() {
    let Some(db) = pg::database().await else {
        return;
    };
    let lease = Duration::from_millis(600);
    let a = node(&db.url, "a", lease).await;
    let b = node(&db.url, "b", lease).await;
    a.accept_leads(vec![lead("T1")], push(), None)
        .await
        .unwrap();
    let claimed = a.claim_due(a.clock().unix_millis(), 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let work_id = claimed[0].id;
    // While a lives, its heartbeat renews the lease: b gets nothing.
    tokio::time::sleep(lease * 2).await;
    assert!(b
        .claim_due(b.clock().unix_millis(), 10)
        .await
        .unwrap()
        .is_empty());
    // a dies (its heartbeat stops with it); once the lease lapses b takes the item over.
    drop(a);
    let started = std::time::Instant::now();
    let taken = loop {
        let taken = b.claim_due(b.clock().unix_millis(), 10).await.unwrap();
        if !taken.is_empty() {
            break taken;
        }
        assert!(
            started.elapsed() < lease * 5,
            "not taken over within the lease"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(taken[0].id, work_id);
    assert_eq!(
        taken[0].attempts, 2,
        "the takeover is the item's second claim"
    );
    // a comes back under its name: it takes back only work still leased to it, so b's claim
    // stands, and a finish from a is refused.
    let a = node(&db.url, "a", lease).await;
    let err = a
        .finish(work_id, vec![run()], WorkOutcome::Done)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    b.finish(work_id, vec![run()], WorkOutcome::Done)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cron_slot_fires_once_across_nodes() {
    let Some(db) = pg::database().await else {
        return;
    };
    let nodes = [
        node(&db.url, "a", Duration::from_secs(10)).await,
        node(&db.url, "b", Duration::from_secs(10)).await,
        node(&db.url, "c", Duration::from_secs(10)).await,
    ];
    for slot in 0..20i64 {
        let fires = futures_join(
            nodes
                .iter()
                .map(|n| {
                    let n = n.clone();
                    async move {
                        n.fire_cron_slot("scripts/r.rhai::tick::*/2", slot * 2000)
                            .await
                    }
                })
                .collect(),
        )
        .await;
        let fired = fires
            .iter()
            .filter(|f| matches!(f.as_ref().unwrap(), CronFire::Fired { .. }))
            .count();
        let taken = fires
            .iter()
            .filter(|f| matches!(f.as_ref().unwrap(), CronFire::Taken))
            .count();
        assert_eq!((fired, taken), (1, 2), "slot {slot}: {fires:?}");
        // Finish the slot's work so the next slot is not an overlap.
        for n in &nodes {
            for work in n.claim_due(n.clock().unix_millis(), 10).await.unwrap() {
                n.finish(work.id, vec![run()], WorkOutcome::Done)
                    .await
                    .unwrap();
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_keys_and_assignment_counters_are_global() {
    let Some(db) = pg::database().await else {
        return;
    };
    let (a, b) = (
        node(&db.url, "a", Duration::from_secs(10)).await,
        node(&db.url, "b", Duration::from_secs(10)).await,
    );
    let (once_a, once_b) = (a.once_keys(), b.once_keys());
    let (count_a, count_b) = (a.assignments(), b.assignments());
    let answers = tokio::task::spawn_blocking(move || {
        let mut claims = Vec::new();
        let mut turns = Vec::new();
        for owner in 0..10i64 {
            let store = if owner % 2 == 0 { &once_a } else { &once_b };
            claims.push(
                store
                    .claim("13812345678", Duration::from_secs(60), owner)
                    .unwrap(),
            );
            let counter = if owner % 2 == 0 { &count_a } else { &count_b };
            turns.push(counter.next("sales"));
        }
        (claims, turns)
    })
    .await
    .unwrap();
    assert_eq!(
        answers.0.iter().filter(|c| **c).count(),
        1,
        "{:?}",
        answers.0
    );
    assert!(answers.0[0], "the first claim wins");
    assert_eq!(
        answers.1,
        (0..10).collect::<Vec<u64>>(),
        "one rotation shared by both nodes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_source_is_leased_to_one_node_at_a_time() {
    let Some(db) = pg::database().await else {
        return;
    };
    let (a, b) = (
        node(&db.url, "a", Duration::from_secs(10)).await,
        node(&db.url, "b", Duration::from_secs(10)).await,
    );
    let ttl = Duration::from_millis(400);
    assert!(a.lease_source("tx_main", "leads/get", ttl).await.unwrap());
    assert!(!b.lease_source("tx_main", "leads/get", ttl).await.unwrap());
    assert!(
        a.lease_source("tx_main", "leads/get", ttl).await.unwrap(),
        "renewed by its holder"
    );
    assert!(
        b.lease_source("tx_other", "leads/get", ttl).await.unwrap(),
        "another source"
    );
    tokio::time::sleep(ttl + Duration::from_millis(100)).await;
    assert!(
        b.lease_source("tx_main", "leads/get", ttl).await.unwrap(),
        "lapsed, taken over"
    );
    assert!(!a.lease_source("tx_main", "leads/get", ttl).await.unwrap());
}

async fn futures_join<T>(
    futures: Vec<impl std::future::Future<Output = T> + Send + 'static>,
) -> Vec<T>
where
    T: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

/// The operator's commands beside running nodes: `dead retry`, `leads reroute` and `job run`
/// on a PostgreSQL journal put work back (or queue it) for any node to claim.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_retry_reroute_and_job_run_work_beside_the_nodes() {
    let Some(db) = pg::database().await else {
        return;
    };
    let a = node(&db.url, "a", Duration::from_secs(10)).await;
    let target = JournalTarget::parse(&db.url).unwrap();
    let clock = a.clock();
    a.accept_leads(vec![lead("R1"), lead("R2")], push(), None)
        .await
        .unwrap();
    let claimed = a.claim_due(clock.unix_millis(), 10).await.unwrap();
    let dead = WorkOutcome::Dead {
        reason: "gave up".into(),
    };
    let unrouted = WorkOutcome::Unrouted {
        reason: "no handler".into(),
    };
    a.finish(claimed[0].id, vec![run()], dead).await.unwrap();
    a.finish(claimed[1].id, vec![run()], unrouted)
        .await
        .unwrap();
    assert!(a
        .claim_due(clock.unix_millis(), 10)
        .await
        .unwrap()
        .is_empty());

    let revived = beside::retry_dead(&target, DeadSelector::All, clock).unwrap();
    let rerouted = beside::reroute(&target, &RerouteSelector::Unrouted, clock).unwrap();
    let job = beside::enqueue_job(&target, "route.rhai::nightly::0 0 2 * * *", 7, clock).unwrap();
    assert_eq!((revived, rerouted), (1, 1));
    let mut again: Vec<i64> = a
        .claim_due(clock.unix_millis(), 10)
        .await
        .unwrap()
        .iter()
        .map(|w| w.id)
        .collect();
    again.sort();
    let mut expected = vec![claimed[0].id, claimed[1].id, job];
    expected.sort();
    assert_eq!(
        again, expected,
        "both leads and the job are claimable again"
    );
    // Nothing to put back twice.
    let err = beside::retry_dead(&target, DeadSelector::One(999), clock).unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err}");
}

/// Nodes wake each other through `LISTEN/NOTIFY`: work committed on one node rings the other's
/// dispatcher at once, so routing does not wait for the claim loop's idle look. The journal
/// itself never polls; only the listener rings the waker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_committed_on_one_node_wakes_the_others_through_notify() {
    let Some(db) = pg::database().await else {
        return;
    };
    let (a, b) = (
        node(&db.url, "a", Duration::from_secs(10)).await,
        node(&db.url, "b", Duration::from_secs(10)).await,
    );
    let wake = Arc::new(tokio::sync::Notify::new());
    b.set_waker(wake.clone());
    // b's listener connects in the background: push until a wake-up shows it listens.
    let mut listening = false;
    for i in 0..50 {
        a.accept_leads(vec![lead(&format!("W{i}"))], push(), None)
            .await
            .unwrap();
        if tokio::time::timeout(Duration::from_millis(200), wake.notified())
            .await
            .is_ok()
        {
            listening = true;
            break;
        }
    }
    assert!(listening, "b was never woken by a's commits");
    // A wake-up of an earlier push arriving late is stored as a permit; let it arrive and use it.
    let _ = tokio::time::timeout(Duration::from_millis(300), wake.notified()).await;
    // Now each commit that makes work due on a wakes b: a new lead, a dead letter put back.
    a.accept_leads(vec![lead("W-new")], push(), None)
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(5), wake.notified())
        .await
        .expect("a new lead on a wakes b");
    let claimed = a.claim_due(a.clock().unix_millis(), 100).await.unwrap();
    let first = claimed[0].id;
    a.finish(
        first,
        vec![run()],
        WorkOutcome::Dead {
            reason: "test".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(a.retry_dead(DeadSelector::All).await.unwrap(), 1);
    tokio::time::timeout(Duration::from_secs(5), wake.notified())
        .await
        .expect("a dead letter put back on a wakes b");
}
