//! `leadrelay demo`: the whole routing path on a fresh machine with no credentials — built-in
//! simulators, the shipped scripts (hot-reloaded while it runs), and a bounded stream of
//! synthetic leads that are pulled from the Tencent and Feiyu simulators and routed.
//!
//! It keeps its state in memory; the daemon (`run`) is what journals leads durably.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::task::JoinSet;

use crate::clock::Clock;
use crate::host::engine::Services;
use crate::host::generation::{Host, Verdict};
use crate::host::watch;
use crate::lead::Lead;
use crate::sim::Simulator;
use crate::vendor::{feiyu, tencent, AccountClient, Accounts, HttpClient, Vendor};

/// How much demo to run.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// The scripts folder.
    pub scripts: PathBuf,
    /// Stop after this many leads…
    pub leads: usize,
    /// …or after this long, whichever comes first.
    pub duration: Duration,
}

#[derive(Default)]
struct Tally {
    leads_in: usize,
    runs_ok: usize,
    runs_failed: usize,
    calls: BTreeMap<String, (usize, usize)>,
    versions: BTreeMap<String, usize>,
    failures: Vec<String>,
}

/// Runs the demo, printing progress to stdout; returns the summary's failure count.
pub async fn run(options: DemoOptions) -> anyhow::Result<usize> {
    if !options.scripts.is_dir() {
        bail!("{} is not a folder of scripts", options.scripts.display());
    }
    let simulator = Simulator::start_local()
        .await
        .context("cannot start the simulators")?;
    let config = simulator.config();
    let accounts = Accounts::from_config(&config, HttpClient::new(), Clock::system());
    let host = Host::new(Arc::new(Services::new(accounts.clone())));
    let (h, dir) = (host.clone(), options.scripts.clone());
    let loaded = tokio::task::spawn_blocking(move || h.load_dir(&dir)).await??;
    println!("leadrelay demo: simulators on {}", simulator.base_url());
    for (path, verdict) in &loaded {
        match verdict {
            Verdict::Rejected(problems) => {
                for p in problems {
                    println!("  ✗ {p}");
                }
            }
            _ => println!("  ✓ {path} live"),
        }
    }
    let _watch =
        watch::watch(host.clone(), &options.scripts).context("cannot watch the scripts folder")?;
    println!(
        "routing up to {} leads for {} s; edit a file in {} and watch the versions change\n",
        options.leads,
        options.duration.as_secs(),
        options.scripts.display()
    );

    let tencent = match accounts.get(&Simulator::account_name(Vendor::Tencent)) {
        Some(AccountClient::Tencent(c)) => c.clone(),
        _ => bail!("the simulator config has no Tencent account"),
    };
    let feiyu = match accounts.get(&Simulator::account_name(Vendor::Feiyu)) {
        Some(AccountClient::Feiyu(c)) => c.clone(),
        _ => bail!("the simulator config has no Feiyu account"),
    };
    let http = reqwest::Client::new();
    let started = Instant::now();
    let mut seen = HashSet::new();
    let mut tally = Tally::default();
    let mut in_flight = JoinSet::new();
    let mut last_progress = Instant::now();
    while started.elapsed() < options.duration && tally.leads_in < options.leads {
        let batch = (options.leads - tally.leads_in).clamp(1, 10);
        for path in ["/_sim/tencent/leads", "/_sim/feiyu/clues"] {
            http.post(format!("{}{path}", simulator.base_url()))
                .json(&serde_json::json!({ "count": batch.div_ceil(2) }))
                .send()
                .await
                .with_context(|| format!("cannot generate leads at {path}"))?;
        }
        for lead in pull(&tencent, &feiyu).await? {
            if tally.leads_in >= options.leads || !seen.insert((lead.vendor, lead.id.clone())) {
                continue;
            }
            tally.leads_in += 1;
            let host = host.clone();
            in_flight.spawn(async move { host.run_lead(&lead).await });
        }
        while let Some(done) = in_flight.try_join_next() {
            count(&mut tally, done?);
        }
        if last_progress.elapsed() >= Duration::from_secs(1) {
            progress(&tally, started.elapsed());
            last_progress = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    while let Some(done) = in_flight.join_next().await {
        count(&mut tally, done?);
    }
    progress(&tally, started.elapsed());
    summary(&tally);
    Ok(tally.runs_failed)
}

async fn pull(tencent: &tencent::Client, feiyu: &feiyu::Client) -> anyhow::Result<Vec<Lead>> {
    let all_time = tencent::model::ListLeadsRequest {
        start_time: "2020-01-01".into(),
        end_time: "2030-12-31".into(),
        time_type: None,
        page: 1,
        page_size: 200,
        search_after_leads_id: None,
        account_id: None,
    };
    let mut leads: Vec<Lead> = tencent
        .list_window(&all_time)
        .await?
        .iter()
        .map(|l| l.to_lead(tencent.account()))
        .collect();
    let clues = feiyu
        .pull_window(
            &feiyu::model::PullRequest::days(
                chrono::NaiveDate::from_ymd_opt(2020, 1, 1).expect("valid date"),
                chrono::NaiveDate::from_ymd_opt(2030, 12, 31).expect("valid date"),
            ),
            Duration::ZERO,
        )
        .await?;
    leads.extend(clues.clues.iter().map(|c| c.to_lead(feiyu.account())));
    Ok(leads)
}

fn count(tally: &mut Tally, runs: Vec<crate::host::generation::HandlerRun>) {
    for run in runs {
        *tally
            .versions
            .entry(format!("{} @ {}", run.script, run.version))
            .or_default() += 1;
        match &run.result.outcome {
            Ok(_) => tally.runs_ok += 1,
            Err(e) => {
                tally.runs_failed += 1;
                if tally.failures.len() < 5 {
                    tally.failures.push(e.to_string());
                }
            }
        }
        for call in &run.result.calls {
            let entry = tally
                .calls
                .entry(format!("{}::{}", call.vendor, call.op))
                .or_default();
            if call.outcome.is_ok() {
                entry.0 += 1;
            } else {
                entry.1 += 1;
            }
        }
    }
}

fn progress(tally: &Tally, elapsed: Duration) {
    let calls: Vec<String> = tally
        .calls
        .iter()
        .map(|(k, (ok, _))| format!("{k} {ok}"))
        .collect();
    println!(
        "[{:>4.1}s] leads in {:>4} · handler runs ok {:>4} failed {:>3} · {}",
        elapsed.as_secs_f64(),
        tally.leads_in,
        tally.runs_ok,
        tally.runs_failed,
        calls.join(" · ")
    );
}

fn summary(tally: &Tally) {
    println!("\nsummary");
    println!("  {:<34} {:>6} {:>7}", "call", "ok", "failed");
    for (call, (ok, failed)) in &tally.calls {
        println!("  {call:<34} {ok:>6} {failed:>7}");
    }
    println!("\n  {:<48} {:>6}", "script version", "runs");
    for (version, runs) in &tally.versions {
        println!("  {version:<48} {runs:>6}");
    }
    for failure in &tally.failures {
        println!("  failed run: {failure}");
    }
    println!(
        "\n{} leads routed by {} handler runs ({} failed).",
        tally.leads_in,
        tally.runs_ok + tally.runs_failed,
        tally.runs_failed
    );
    println!(
        "Next: edit scripts/tencent_to_xiaolanben.rhai (FORM_OWNER) and run `leadrelay test`;"
    );
    println!(
        "      `leadrelay route --lead FILE --vendor tencent --dry-run` shows one lead's calls."
    );
}
