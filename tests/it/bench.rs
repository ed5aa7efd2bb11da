//! `leadrelay bench --quick` end to end: a real daemon child process, the simulators, every
//! scenario. Checks that every number is there and that nothing acknowledged was lost, never
//! timings (they depend on the machine).

use std::time::Duration;

use leadrelay::bench::{self, BenchOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_bench_reports_every_number_and_loses_nothing() {
    let options = BenchOptions {
        daemon_exe: Some(env!("CARGO_BIN_EXE_leadrelay").into()),
        ..BenchOptions::quick()
    };
    let report = tokio::time::timeout(Duration::from_secs(60), bench::run(options))
        .await
        .expect("the quick bench finishes in time")
        .expect("the quick bench runs");

    assert_eq!(report.lost, 0, "an acknowledged lead was not routed");
    assert!(report.clock_ticks > 0);
    assert!(!report.startup.times.is_empty());
    assert!(report.startup.times.iter().all(|t| !t.is_zero()));
    assert!(report.startup.idle_rss_median_kib > 0);

    assert_eq!(report.open_loop.len(), 1);
    let scenarios = report
        .open_loop
        .iter()
        .chain([&report.closed_loop, &report.overload]);
    for scenario in scenarios {
        assert_eq!(scenario.runs.len(), 1, "{}", scenario.name);
        for run in scenario.runs.iter().chain([&scenario.median]) {
            let name = &scenario.name;
            assert!(run.sent > 0, "{name}: nothing sent");
            assert!(run.acked > 0, "{name}: nothing acknowledged");
            assert_eq!(run.sent, run.acked + run.shed + run.failed, "{name}");
            assert_eq!(run.routed, run.acked, "{name}: acknowledged but not routed");
            assert_eq!(run.lost, 0, "{name}");
            assert!(run.offered_per_sec > 0.0, "{name}");
            assert!(run.leads_per_sec > 0.0, "{name}");
            assert!(run.cpu_secs.is_finite() && run.cpu_secs >= 0.0, "{name}");
            assert!(run.leads_per_cpu_sec.is_finite(), "{name}");
            if std::path::Path::new("/proc/self/schedstat").exists() {
                // At least the switch to the worker that reads the push.
                assert!(
                    run.switches_per_lead.is_finite() && run.switches_per_lead >= 1.0,
                    "{name}: {} switches per lead",
                    run.switches_per_lead
                );
            }
            assert!(run.peak_rss_kib > 0, "{name}");
            assert_eq!(run.push_to_vendor.samples as u64, run.routed, "{name}");
            assert!(run.ack.samples as u64 >= run.acked, "{name}");
            for l in [&run.ack, &run.push_to_vendor] {
                assert!(
                    l.p50 <= l.p99 && l.p99 <= l.p999 && l.p999 <= l.max,
                    "{name}"
                );
                assert!(!l.max.is_zero(), "{name}");
            }
        }
    }
    assert!(report.overload.runs[0].offered_per_sec >= report.closed_loop.median.leads_per_sec);

    assert_eq!(report.idle.percent.len(), 1);
    assert!(report.idle.percent[0].is_finite() && report.idle.percent[0] >= 0.0);
    assert_eq!(report.shedding.runs.len(), 1);
    let shed = &report.shedding.runs[0];
    assert!(shed.filled > 0, "the backlog was not filled");
    assert!(shed.shed > 0, "no burst push was shed: {shed:?}");
    assert_eq!(shed.sent, shed.shed + shed.other);
    assert!(shed.cpu_us_per_shed.is_finite() && shed.cpu_us_per_shed >= 0.0);
    for run in report.open_loop.iter().chain([&report.closed_loop]) {
        let r = &run.median;
        assert!(r.cpu_us_per_lead.is_finite() && r.cpu_us_per_lead >= 0.0);
    }

    assert_eq!(report.reload.saves, 3);
    assert!(report.reload.live > 0, "no reload was seen going live");
    assert_eq!(report.reload.save_to_live.samples, report.reload.live);

    let text = report.to_string();
    let targets = report.targets();
    assert_eq!(targets.len(), 12);
    for target in &targets {
        assert!(text.contains(&target.target), "missing {}", target.target);
    }
    assert!(text.contains("Open loop, 200 leads/s"));
    assert!(text.contains("QUICK MODE"));
}
