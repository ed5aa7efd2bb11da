//! `leadrelay demo`: the product end to end on a fresh machine with no credentials. It starts
//! the built-in simulators, the daemon (journal in a fresh folder under the system temp dir, the
//! shipped `scripts/` with hot reload) and a bounded stream of synthetic leads: signed Tencent
//! pushes, and leads generated in the Tencent and Feiyu simulators for the scheduled pulls. A few
//! percent of Xiaolanben calls fail on purpose, so retries show. Live progress every second; a
//! summary and what to try next at the end. The demo's folder is kept so `leads show` works
//! afterwards.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::{json, Value};

use crate::config::Config;
use crate::connectors::tencent::config::Algorithm;
use crate::connectors::tencent::webhook::sign_push;
use crate::connectors::Vendor;
use crate::sim::{Faults, Simulator};
use crate::store::{LeadQuery, Queries, WorkStatus};

/// How much demo to run.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// The scripts folder.
    pub scripts: PathBuf,
    /// Stop sending after this many leads…
    pub leads: usize,
    /// …or after this long, whichever comes first.
    pub duration: Duration,
    /// Keep the daemon and its console up after the summary, until Ctrl-C.
    pub keep: bool,
}

/// Share of Xiaolanben calls that fail with 503, so the demo shows retries.
const FAULT_RATE: f64 = 0.03;

/// Runs the demo; returns how many leads ended as dead letters.
pub async fn run(options: DemoOptions) -> anyhow::Result<u64> {
    if !options.scripts.is_dir() {
        bail!("{} is not a folder of scripts", options.scripts.display());
    }
    let scripts = std::fs::canonicalize(&options.scripts)?;
    let dir = std::env::temp_dir().join(format!("leadrelay-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let simulator = Simulator::start_local()
        .await
        .context("cannot start the simulators")?;
    let config_text = format!(
        "{}\n[daemon]\nlisten = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\njournal = \"{}\"\nscripts = \"{}\"\nbreaker_probe_secs = 1\n\n\
         [[sources]]\naccount = \"sim_tencent\"\npush = \"/hooks/tencent\"\npull = \"*/2 * * * * *\"\n\n\
         [[sources]]\naccount = \"sim_feiyu\"\npull = \"*/2 * * * * *\"\n",
        simulator.config_toml(),
        dir.join("leadrelay.db").display(),
        scripts.display(),
    );
    let config_path = dir.join("leadrelay.toml");
    std::fs::write(&config_path, &config_text)?;
    let config = Config::parse(&config_text, &config_path.display().to_string(), &|_| None)?;
    let daemon = crate::daemon::start(&config).await?;
    simulator.shared().set_faults(Faults {
        vendor: Some(Vendor::Xiaolanben),
        error_rate: FAULT_RATE,
        status: Some(503),
        ..Faults::default()
    });
    println!(
        "leadrelay demo — simulators on {}, daemon on http://{}",
        simulator.base_url(),
        daemon.addr
    );
    println!("journal and config in {}", dir.display());
    if let Some(admin) = daemon.admin_addr {
        println!("console on http://{admin}/ (loopback, no token needed)");
    }
    println!(
        "sending up to {} leads for {} s (signed Tencent pushes, plus Tencent and Feiyu pulls every 2 s);",
        options.leads,
        options.duration.as_secs()
    );
    println!(
        "{:.0}% of Xiaolanben calls fail on purpose, so you can watch retries.",
        FAULT_RATE * 100.0
    );
    println!(
        "Edit a file in {} while it runs: the new version shows up below.\n",
        scripts.display()
    );

    let http = reqwest::Client::new();
    let push_url = format!("http://{}/hooks/tencent", daemon.addr);
    let started = Instant::now();
    let mut sent = 0usize;
    let mut next_id: u64 = 880_000_000_000 + u64::from(std::process::id()) * 100_000;
    let mut last_progress = Instant::now();
    let mut tick = 0u64;
    while started.elapsed() < options.duration && sent < options.leads {
        tick += 1;
        // Every 100 ms: a few pushes, and now and then new leads for the pulls to find.
        for _ in 0..3 {
            if sent >= options.leads {
                break;
            }
            next_id += 1;
            sent += 1;
            push(&http, &push_url, next_id).await?;
        }
        if tick % 10 == 0 && sent + 4 <= options.leads {
            generate(&http, &simulator, 2).await?;
            sent += 4;
        }
        if last_progress.elapsed() >= Duration::from_secs(1) {
            progress(&daemon, &simulator, started.elapsed())?;
            last_progress = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Let the last pulls happen and the backlog drain (retries included), bounded.
    simulator.shared().clear_faults();
    let drain_started = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        progress(&daemon, &simulator, started.elapsed())?;
        let status = daemon.journal.reader().status()?;
        if (status.backlog() == 0 && drain_started.elapsed() > Duration::from_secs(3))
            || drain_started.elapsed() > Duration::from_secs(30)
        {
            break;
        }
    }
    let dead = summary(daemon.journal.reader(), &simulator, &config_path)?;
    if options.keep {
        if let Some(admin) = daemon.admin_addr {
            println!("\nthe daemon and its console stay up on http://{admin}/ — Ctrl-C to stop");
        }
        tokio::signal::ctrl_c()
            .await
            .context("cannot wait for Ctrl-C")?;
    }
    daemon.stop().await;
    Ok(dead)
}

async fn push(http: &reqwest::Client, url: &str, id: u64) -> anyhow::Result<()> {
    let person = crate::sim::synth::person(&mut rand::thread_rng());
    let kinds = [
        "LEADS_TYPE_FORM",
        "LEADS_TYPE_FORM",
        "LEADS_TYPE_ONLINE_CONSULT",
        "LEADS_TYPE_PHONE",
        "LEADS_TYPE_LOTTERY",
    ];
    let lead = json!({
        "leads_id": id,
        "leads_type": kinds[(id % kinds.len() as u64) as usize],
        "leads_name": person.name,
        "leads_tel": person.phone,
        "leads_area": format!("{}-{}", person.province, person.city),
        "leads_create_time": chrono::Utc::now().with_timezone(&crate::clock::beijing()).format("%Y-%m-%d %H:%M:%S").to_string(),
    });
    let (token, secret) = (
        crate::sim::tencent::SIM_TOKEN,
        crate::sim::tencent::SIM_SECRET,
    );
    let headers = sign_push(
        token,
        secret,
        chrono::Utc::now().timestamp(),
        Algorithm::Sha256,
    );
    let mut request = http
        .post(url)
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&lead)?);
    for (name, value) in headers.pairs() {
        request = request.header(name, value);
    }
    let status = request
        .send()
        .await
        .context("the daemon did not answer a push")?
        .status();
    if !status.is_success() {
        tracing::warn!(status = status.as_u16(), "a demo push was not accepted");
    }
    Ok(())
}

async fn generate(
    http: &reqwest::Client,
    simulator: &Simulator,
    count: usize,
) -> anyhow::Result<()> {
    for path in ["/_sim/tencent/leads", "/_sim/feiyu/clues"] {
        http.post(format!("{}{path}", simulator.base_url()))
            .json(&json!({ "count": count }))
            .send()
            .await
            .with_context(|| format!("cannot generate leads at {path}"))?;
    }
    Ok(())
}

fn destinations(simulator: &Simulator) -> BTreeMap<&'static str, u64> {
    let state = simulator.shared().snapshot();
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    BTreeMap::from([
        ("xiaolanben customers", n(&state["xiaolanben"]["creates"])),
        (
            "waiqin leads",
            state["waiqin"]["creates"]
                .as_object()
                .map_or(0, |m| m.len() as u64),
        ),
        ("linkflow events", n(&state["linkflow"]["events"])),
    ])
}

fn progress(
    daemon: &crate::daemon::RunningDaemon,
    simulator: &Simulator,
    elapsed: Duration,
) -> anyhow::Result<()> {
    let status = daemon.journal.reader().status()?;
    let routed: Vec<String> = destinations(simulator)
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    let versions: Vec<String> = daemon
        .host
        .generation()
        .scripts
        .values()
        .map(|v| {
            let name = std::path::Path::new(&*v.path)
                .file_stem()
                .map_or(String::new(), |n| n.to_string_lossy().to_string());
            format!("{name}@{}", &v.hash[..6])
        })
        .collect();
    println!(
        "[{:>4.1}s] leads in {:>4} · routed {:>4} · retrying {:>3} · dead {:>2} · {} · scripts {}",
        elapsed.as_secs_f64(),
        status.leads,
        status.count(WorkStatus::Done),
        status.count(WorkStatus::Retry),
        status.dead_letters,
        routed.join(" · "),
        versions.join(" ")
    );
    Ok(())
}

fn summary(
    reader: &dyn Queries,
    simulator: &Simulator,
    config_path: &std::path::Path,
) -> anyhow::Result<u64> {
    let status = reader.status()?;
    println!("\nsummary");
    println!("  {:<28} {:>6}", "leads journaled", status.leads);
    println!("  {:<28} {:>6}", "routed", status.count(WorkStatus::Done));
    println!(
        "  {:<28} {:>6}",
        "still retrying",
        status.count(WorkStatus::Retry) + status.count(WorkStatus::Pending)
    );
    println!("  {:<28} {:>6}", "dead letters", status.dead_letters);
    println!("  {:<28} {:>6}", "quarantined", status.quarantined);
    for (destination, n) in destinations(simulator) {
        println!("  {destination:<28} {n:>6}");
    }
    let sample = reader.list_leads(&LeadQuery {
        limit: 1,
        ..LeadQuery::default()
    })?;
    let config = config_path.display();
    println!("\nwhat to try next:");
    if let Some(lead) = sample.first() {
        println!(
            "  leadrelay --config {config} leads show {}      # the whole story of one lead",
            lead.vendor_lead_id
        );
    }
    println!("  leadrelay --config {config} status");
    println!("  edit scripts/tencent_to_xiaolanben.rhai (FORM_OWNER), run the demo again and watch its version change;");
    println!("  leadrelay test                                   # the scripts' offline tests");
    Ok(status.dead_letters)
}
