//! The load: signed Tencent pushes sent open loop (at intended instants, bounded in flight) or
//! closed loop (a fixed number of senders).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::Semaphore;

use super::OPEN_LOOP_IN_FLIGHT;
use crate::connectors::tencent::config::Algorithm;
use crate::connectors::tencent::webhook::sign_push;
use crate::sim::tencent::{SIM_SECRET, SIM_TOKEN};

/// One push and its answer.
#[derive(Debug, Clone, Copy)]
pub(super) struct Push {
    pub(super) id: u64,
    pub(super) intended: Instant,
    /// HTTP status; 0 when there was no answer.
    pub(super) status: u16,
    pub(super) ack: Duration,
    pub(super) lag: Duration,
}

/// Sends signed pushes.
#[derive(Clone)]
pub(super) struct Pusher {
    pub(super) client: reqwest::Client,
}

impl Pusher {
    pub(super) fn new() -> anyhow::Result<Pusher> {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(OPEN_LOOP_IN_FLIGHT)
            .tcp_nodelay(true)
            .timeout(Duration::from_secs(10))
            .no_proxy()
            .build()?;
        Ok(Pusher { client })
    }

    /// Sends lead `id`; returns the status (0: no answer) once the whole answer is read.
    pub(super) async fn send(&self, url: &str, id: u64) -> u16 {
        let headers = sign_push(
            SIM_TOKEN,
            SIM_SECRET,
            chrono::Utc::now().timestamp(),
            Algorithm::Sha256,
        );
        let mut request = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .body(lead_body(id));
        for (name, value) in headers.pairs() {
            request = request.header(name, value);
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                // Read to the end so the connection goes back to the pool.
                match response.bytes().await {
                    Ok(_) => status,
                    Err(_) => 0,
                }
            }
            Err(_) => 0,
        }
    }
}

/// A Tencent push body of a typical size (~300 bytes).
pub(super) fn lead_body(id: u64) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "leads_id": id,
        "leads_type": "LEADS_TYPE_FORM",
        "leads_name": "王女士",
        "leads_tel": "13812345678",
        "leads_create_time": chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string(),
        "leads_area": "北京市",
        "adgroup_id": 1_234_567,
        "campaign_id": 7_654_321,
        "leads_source": "LEADS_SOURCE_FORM",
        "bundle": "{\"city\":\"北京\",\"需求\":\"门店加盟\"}"
    }))
    .expect("a JSON value serializes")
}

/// Lead ids unique over the whole benchmark.
pub(super) struct Ids(pub(super) AtomicU64);

impl Ids {
    pub(super) fn next(&self) -> u64 {
        self.0.fetch_add(1, Ordering::Relaxed)
    }
}

/// `rate` pushes per second for `duration`, each at its intended instant whatever happened
/// to the earlier ones.
pub(super) async fn open_loop(
    pusher: &Pusher,
    url: &str,
    rate: f64,
    duration: Duration,
    ids: &Ids,
) -> Vec<Push> {
    let count = (rate * duration.as_secs_f64()).round().max(1.0) as u64;
    let period = Duration::from_secs_f64(1.0 / rate);
    let permits = Arc::new(Semaphore::new(OPEN_LOOP_IN_FLIGHT));
    let mut tasks = Vec::with_capacity(count as usize);
    let start = tokio::time::Instant::now() + Duration::from_millis(5);
    for i in 0..count {
        let intended = start + period.mul_f64(i as f64);
        tokio::time::sleep_until(intended).await;
        let permit = permits
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let (pusher, url, id) = (pusher.clone(), url.to_string(), ids.next());
        let intended = intended.into_std();
        tasks.push(tokio::spawn(async move {
            let lag = intended.elapsed();
            let status = pusher.send(&url, id).await;
            drop(permit);
            Push {
                id,
                intended,
                status,
                ack: intended.elapsed(),
                lag,
            }
        }));
    }
    let mut pushes = Vec::with_capacity(tasks.len());
    for task in tasks {
        if let Ok(push) = task.await {
            pushes.push(push);
        }
    }
    pushes
}

/// `senders` loops, each sending its next push when the previous one is answered.
pub(super) async fn closed_loop(
    pusher: &Pusher,
    url: &str,
    senders: usize,
    duration: Duration,
    ids: &Arc<Ids>,
) -> Vec<Push> {
    let until = Instant::now() + duration;
    let mut tasks = Vec::new();
    for _ in 0..senders {
        let (pusher, url, ids) = (pusher.clone(), url.to_string(), ids.clone());
        tasks.push(tokio::spawn(async move {
            let mut pushes = Vec::new();
            while Instant::now() < until {
                let id = ids.next();
                let sent = Instant::now();
                let status = pusher.send(&url, id).await;
                pushes.push(Push {
                    id,
                    intended: sent,
                    status,
                    ack: sent.elapsed(),
                    lag: Duration::ZERO,
                });
                if status != 200 {
                    // Shed or failing: back off a little rather than spin on refusals.
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
            pushes
        }));
    }
    let mut pushes = Vec::new();
    for task in tasks {
        if let Ok(mut p) = task.await {
            pushes.append(&mut p);
        }
    }
    pushes
}

/// `count` pushes sent as fast as `senders` loops can (each sends its next push when the
/// previous one is answered, with no back-off), stopping early at `until`; each push's id and
/// status (0: no answer).
pub(super) async fn burst(
    pusher: &Pusher,
    url: &str,
    count: u64,
    senders: usize,
    until: Instant,
    ids: &Arc<Ids>,
) -> Vec<(u64, u16)> {
    let left = Arc::new(AtomicU64::new(count));
    let mut tasks = Vec::new();
    for _ in 0..senders {
        let (pusher, url, ids, left) = (pusher.clone(), url.to_string(), ids.clone(), left.clone());
        tasks.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            while Instant::now() < until
                && left
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                    .is_ok()
            {
                let id = ids.next();
                statuses.push((id, pusher.send(&url, id).await));
            }
            statuses
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        if let Ok(mut s) = task.await {
            statuses.append(&mut s);
        }
    }
    statuses
}
