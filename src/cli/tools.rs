//! `leadrelay sim`, `leadrelay call` and `leadrelay bench`: the simulators, one signed vendor
//! call, and the benchmark.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use serde_json::Value;

use crate::clock::Clock;
use crate::config::Config;
use crate::connectors::{all_ops, AccountClient, HttpClient, Vendor};
use crate::sim::{Faults, Simulator};

/// Every op with the vendor its account needs, for `call --help`.
pub fn op_list_help() -> String {
    let mut out = String::from("Ops (the account's vendor in brackets):\n");
    for (vendor, op) in all_ops() {
        out.push_str(&format!(
            "  {:<28} [{vendor}] {} — {}\n  {:<28} e.g. {}\n",
            op.name, op.endpoint, op.summary, "", op.example
        ));
    }
    out
}

pub(super) async fn sim(
    listen: SocketAddr,
    error_rate: f64,
    fault_status: u16,
    latency_ms: u64,
    write_config: Option<PathBuf>,
    leads: u32,
) -> anyhow::Result<()> {
    if !(0.0..=1.0).contains(&error_rate) {
        bail!("--error-rate must be between 0.0 and 1.0, got {error_rate}");
    }
    let simulator = Simulator::start(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    if leads > 0 {
        seed_leads(&simulator, leads).await?;
    }
    if error_rate > 0.0 || latency_ms > 0 {
        simulator.shared().set_faults(Faults {
            error_rate,
            status: Some(fault_status),
            latency_ms,
            ..Faults::default()
        });
    }
    let config = simulator.config_toml();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "leadrelay simulators listening on {}",
        simulator.base_url()
    )?;
    for vendor in Vendor::ALL {
        writeln!(
            out,
            "  {:<11} {}",
            vendor.as_str(),
            simulator.vendor_base_url(vendor)
        )?;
    }
    writeln!(out, "  {:<11} {}/_sim/state", "state", simulator.base_url())?;
    if let Some(path) = &write_config {
        std::fs::write(path, &config)
            .with_context(|| format!("cannot write {}", path.display()))?;
        writeln!(out, "\nconfig written to {}", path.display())?;
    }
    writeln!(out, "\n# ---- leadrelay.toml ----\n{config}")?;
    writeln!(out, "Press Ctrl-C to stop.")?;
    out.flush()?;
    drop(out);
    tokio::signal::ctrl_c().await?;
    Ok(())
}

/// Generates synthetic leads through the simulators' own control endpoints.
async fn seed_leads(simulator: &Simulator, count: u32) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    for path in [
        "/_sim/tencent/leads",
        "/_sim/feiyu/clues",
        "/_sim/waiqin/leads",
    ] {
        let response = http
            .post(format!("{}{path}", simulator.base_url()))
            .json(&serde_json::json!({ "count": count }))
            .send()
            .await
            .with_context(|| format!("cannot seed {path}"))?;
        if !response.status().is_success() {
            bail!("seeding {path} failed: HTTP {}", response.status());
        }
    }
    Ok(())
}

pub(super) async fn call(
    config_path: Option<PathBuf>,
    account_name: &str,
    op: &str,
    json: Option<String>,
    json_file: Option<PathBuf>,
    clock: Clock,
) -> anyhow::Result<ExitCode> {
    let path = Config::locate(config_path.as_deref());
    let config = Config::load(&path)?;
    let account = config.account(account_name).map_err(anyhow::Error::msg)?;
    let text = match (json, json_file) {
        (Some(text), _) => text,
        (None, Some(file)) if file.as_os_str() == "-" => std::io::read_to_string(std::io::stdin())
            .context("cannot read the payload from standard input")?,
        (None, Some(file)) => std::fs::read_to_string(&file)
            .with_context(|| format!("cannot read the payload file {}", file.display()))?,
        (None, None) => "{}".to_string(),
    };
    let payload: Value = serde_json::from_str(&text).context("the payload is not valid JSON")?;
    let client = AccountClient::new(account, HttpClient::new(), clock);
    match client.call(op, payload).await {
        Ok(answer) => {
            println!("{}", serde_json::to_string_pretty(&answer)?);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            let e = e.with_account(account_name);
            eprintln!("error: {e}");
            Ok(ExitCode::from(if e.retryable() { 75 } else { 1 }))
        }
    }
}

pub(super) async fn bench(
    quick: bool,
    rates: Vec<u32>,
    seconds: Option<f64>,
    repeat: Option<usize>,
    journal: Option<String>,
) -> anyhow::Result<ExitCode> {
    let mut options = if quick {
        crate::bench::BenchOptions::quick()
    } else {
        crate::bench::BenchOptions::default()
    };
    if !rates.is_empty() {
        options.rates = rates;
    }
    if let Some(seconds) = seconds {
        if !(seconds > 0.0 && seconds <= 60.0) {
            bail!("--seconds must be above 0 and at most 60, got {seconds}");
        }
        options.run_time = std::time::Duration::from_secs_f64(seconds);
    }
    if let Some(repeat) = repeat {
        options.repeat = repeat;
    }
    if let Some(journal) = journal {
        match crate::store::JournalTarget::parse(&journal).map_err(anyhow::Error::msg)? {
            crate::store::JournalTarget::Postgres(url) => options.journal = Some(url),
            crate::store::JournalTarget::Sqlite(_) => bail!(
                "--journal takes a postgres:// URL; without it each run journals into a fresh \
                 SQLite file"
            ),
        }
    }
    let report = crate::bench::run(options).await?;
    println!("{report}");
    Ok(if report.lost == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
