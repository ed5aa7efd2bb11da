//! Prometheus metrics: the names, labels and units in one place, recorded through the `metrics`
//! facade and rendered by `metrics-exporter-prometheus` at the admin listener's `GET /metrics`.
//!
//! Every layer may record (like `clock`, this module depends on nothing of ours); without an
//! installed recorder (tests, CLI commands) recording is a no-op. Label values are bounded:
//! vendors, account, script, handler, op and schedule names come from the configuration and the
//! scripts folder, reasons and outcomes from fixed lists; never a lead id, a phone or a secret.
//!
//! Counters are recorded where the event happens; the gauges that describe the journal and the
//! daemon (backlog, dead letters, breakers, pull lag) are set just before each scrape by
//! `daemon::admin`, so they cost nothing between scrapes.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Buckets of the duration histograms, in seconds: pushes are acknowledged in milliseconds,
/// vendor calls take tens to thousands.
const DURATION_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder (once; later calls return the same handle) and describes
/// every metric, so `/metrics` lists them with help text before they first move.
pub fn install() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Suffix("_duration_seconds".to_string()),
                DURATION_BUCKETS,
            )
            .expect("the buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        // Another recorder may already be installed in a test process; the handle still
        // renders this one's (empty) view rather than failing the daemon.
        let _ = metrics::set_global_recorder(recorder);
        describe();
        metrics_process::Collector::default().describe();
        handle
    })
}

/// The text exposition of every metric, process metrics refreshed first.
pub fn render() -> String {
    let handle = install();
    metrics_process::Collector::default().collect();
    handle.render()
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        "leadrelay_leads_received_total",
        "Leads journaled for the first time, by vendor, account and how they came (push, pull)"
    );
    describe_counter!(
        "leadrelay_pushes_rejected_total",
        "Pushes not acknowledged, by account and reason"
    );
    describe_counter!(
        "leadrelay_runs_total",
        "Handler runs by script, handler and outcome (ok, retry, dead, skipped, unrouted)"
    );
    describe_counter!(
        "leadrelay_vendor_calls_total",
        "Vendor calls by vendor, account, op and outcome (ok or the neutral error kind)"
    );
    describe_histogram!(
        "leadrelay_vendor_call_duration_seconds",
        Unit::Seconds,
        "Vendor call durations by vendor, account and op"
    );
    describe_histogram!(
        "leadrelay_push_ack_duration_seconds",
        Unit::Seconds,
        "Time from a push's arrival to its answer (acknowledged only after the journal commit)"
    );
    describe_gauge!("leadrelay_backlog", "Work items in the journal by state");
    describe_gauge!(
        "leadrelay_dead_letters",
        "Leads dead-lettered and not yet resolved"
    );
    describe_counter!(
        "leadrelay_quarantined_total",
        "Pushes and pulled records kept in the quarantine"
    );
    describe_gauge!(
        "leadrelay_breaker_open",
        "1 while the account's circuit breaker is open"
    );
    describe_counter!(
        "leadrelay_script_reloads_total",
        "Script loads by script and verdict (live, unchanged, rejected, removed)"
    );
    describe_counter!(
        "leadrelay_cron_fires_total",
        "Cron slots fired by schedule and outcome (fired, skipped, missed)"
    );
    describe_gauge!(
        "leadrelay_pull_lag_seconds",
        "Seconds between now and the end of the last fully pulled window, by source"
    );
}

/// A lead was journaled for the first time.
pub fn lead_received(vendor: &str, account: &str, via: &'static str) {
    counter!("leadrelay_leads_received_total", "vendor" => vendor.to_string(), "account" => account.to_string(), "via" => via)
        .increment(1);
}

/// A push was answered with anything but an acknowledgement.
pub fn push_rejected(account: &str, reason: &'static str) {
    counter!("leadrelay_pushes_rejected_total", "account" => account.to_string(), "reason" => reason)
        .increment(1);
}

/// A push was answered after `elapsed`.
pub fn push_answered(elapsed: Duration) {
    histogram!("leadrelay_push_ack_duration_seconds").record(elapsed.as_secs_f64());
}

/// A handler run ended.
pub fn run_finished(script: &str, handler: &str, outcome: &'static str) {
    counter!("leadrelay_runs_total", "script" => script.to_string(), "handler" => handler.to_string(), "outcome" => outcome)
        .increment(1);
}

/// A vendor call returned (`outcome`: `ok` or the neutral error kind).
pub fn vendor_call(vendor: &str, account: &str, op: &str, outcome: &str, elapsed: Duration) {
    let (vendor, account, op) = (vendor.to_string(), account.to_string(), op.to_string());
    counter!("leadrelay_vendor_calls_total", "vendor" => vendor.clone(), "account" => account.clone(), "op" => op.clone(), "outcome" => outcome.to_string())
        .increment(1);
    histogram!("leadrelay_vendor_call_duration_seconds", "vendor" => vendor, "account" => account, "op" => op)
        .record(elapsed.as_secs_f64());
}

/// Something was put in the quarantine.
pub fn quarantined() {
    counter!("leadrelay_quarantined_total").increment(1);
}

/// A script was (re)loaded with `verdict`.
pub fn script_reloaded(script: &str, verdict: &'static str) {
    counter!("leadrelay_script_reloads_total", "script" => script.to_string(), "verdict" => verdict)
        .increment(1);
}

/// A cron slot was handled.
pub fn cron_fired(schedule: &str, outcome: &'static str) {
    counter!("leadrelay_cron_fires_total", "schedule" => schedule.to_string(), "outcome" => outcome)
        .increment(1);
}

/// Sets the work items in `state`.
pub fn set_backlog(state: &'static str, count: u64) {
    gauge!("leadrelay_backlog", "state" => state).set(count as f64);
}

/// Sets the unresolved dead letters.
pub fn set_dead_letters(count: u64) {
    gauge!("leadrelay_dead_letters").set(count as f64);
}

/// Sets whether `account`'s breaker is open.
pub fn set_breaker_open(account: &str, open: bool) {
    gauge!("leadrelay_breaker_open", "account" => account.to_string())
        .set(f64::from(u8::from(open)));
}

/// Sets a pull source's lag.
pub fn set_pull_lag(account: &str, endpoint: &str, seconds: f64) {
    gauge!("leadrelay_pull_lag_seconds", "account" => account.to_string(), "endpoint" => endpoint.to_string())
        .set(seconds);
}
