//! `/scripts`: each script's live version, its handlers, and the last reload's verdict with
//! every error at `path:line:col`; and `POST /scripts/preview`, the dry run of the working copy.
//!
//! ## Preview
//!
//! Each script's row has a Preview button. It runs `leadrelay preview` ([`crate::preview`]'s
//! report, the one the CLI prints) on the scripts folder as it is on disk (the edited file and
//! the scripts beside it, since a lead goes through every script that wants it) against the
//! journal's newest [`PREVIEW_LEADS`] leads, and the page shows its summary line (how many
//! leads would change owner or calls, become unrouted, or fail at `file:line:col`), the calls
//! that change, and the whole report; or why nothing was replayed (a script that does not
//! load, each problem at `path:line:col`).
//!
//! The preview runs as a child `leadrelay preview` process of this binary rather than inside
//! the daemon, for three reasons: the preview layer (simulators, mirrored accounts) sits above
//! the daemon and the daemon never starts simulators itself; a child is bounded by a kill at
//! [`PREVIEW_DEADLINE`] whatever the scripts do, and keeps the daemon's runtime and memory free
//! of the replay; and the page shows exactly what the CLI shows. The guarantee that nothing is
//! sent is `preview`'s own: every account is mirrored onto the built-in simulators on a
//! loopback port, and the journal is opened read-only. One preview runs at a time. When the
//! process is not the `leadrelay` binary (a test harness embedding the daemon), the page says
//! the preview is not available.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, UNIX_EPOCH};

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;

use super::overview::{short, verdict_word};
use super::{csrf_field, escape, text};
use crate::daemon::admin::AdminState;
use crate::host::generation::Verdict;
use crate::host::run::Declaration;

/// `GET /scripts`.
pub async fn page(
    State(state): State<AdminState>,
    Query(q): Query<super::dead::NoteQuery>,
) -> Response {
    let statuses = state.host.status();
    let generation = state.host.generation();
    let csrf = csrf_field(&state);
    let mut body = super::note(q.note.as_deref());
    body.push_str(&state.preview.section());
    if statuses.is_empty() {
        body.push_str("<p id=\"none\">No scripts are loaded.</p>");
    }
    body.push_str(
        "<table id=\"scripts\"><tr><th>script</th><th>live version</th><th>last reload</th>\
         <th>decided (UTC+8)</th><th>handlers</th><th></th></tr>",
    );
    for (path, status) in &statuses {
        let version = status.live_version.as_deref().map_or_else(
            || "none".to_string(),
            |v| format!("<code>{}</code>", escape(short(v))),
        );
        let decided = status
            .at
            .duration_since(UNIX_EPOCH)
            .map_or_else(|_| "-".to_string(), |d| super::time(d.as_millis() as i64));
        let handlers: Vec<String> = generation
            .scripts
            .get(path)
            .map(|v| v.declarations.iter().map(describe).collect())
            .unwrap_or_default();
        let mut verdict = verdict_word(&status.verdict);
        if let Verdict::Rejected(errors) = &status.verdict {
            verdict.push_str("<ul class=\"error\">");
            for error in errors {
                verdict.push_str(&format!(
                    "<li><code>{}</code></li>",
                    text(&error.to_string())
                ));
            }
            verdict.push_str("</ul>");
            if status.live_version.is_some() {
                verdict.push_str("<span class=\"muted\">the previous version stays live</span>");
            }
        }
        body.push_str(&format!(
            "<tr><td>{}</td><td>{version}</td><td>{verdict}</td><td>{decided}</td><td>{}</td>\
             <td><form method=\"post\" action=\"/scripts/preview\" class=\"inline\">{csrf}\
             <button type=\"submit\" class=\"preview\" name=\"script\" value=\"{}\" \
             title=\"What the scripts on disk would do to the newest {PREVIEW_LEADS} leads\">Preview</button>\
             </form></td></tr>",
            text(path),
            if handlers.is_empty() {
                "-".to_string()
            } else {
                handlers.join("<br>")
            },
            escape(path),
        ));
    }
    body.push_str("</table>");
    body.push_str(
        "<p class=\"muted\">Scripts reload when their file changes; an edit that does not load is \
         rejected and the version before it keeps running. <code>leadrelay check</code> and \
         <code>leadrelay test</code> show the same errors before you save.</p>",
    );
    super::page(&state, "/scripts", "Scripts", &body).into_response()
}

/// The most leads one console preview replays (the newest).
pub const PREVIEW_LEADS: usize = 200;

/// How long one console preview may take before it is killed.
pub const PREVIEW_DEADLINE: Duration = Duration::from_secs(30);

/// The most output kept from one preview.
const PREVIEW_OUTPUT_LIMIT: usize = 256 * 1024;

/// Runs the console's previews (one at a time) and keeps the last one's result for the page.
pub struct Previewer {
    /// This binary, when it is `leadrelay` (not a test harness).
    exe: Option<PathBuf>,
    /// The daemon's config file, handed to `leadrelay preview --config`.
    config: PathBuf,
    /// The scripts folder (`[daemon] scripts`).
    scripts: PathBuf,
    /// When a preview is stopped ([`PREVIEW_DEADLINE`]).
    deadline: Duration,
    running: tokio::sync::Mutex<()>,
    last: Mutex<Option<PreviewRun>>,
    runs: std::sync::atomic::AtomicU64,
}

/// One finished preview.
#[derive(Debug, Clone)]
pub struct PreviewRun {
    /// Its number: the first preview since the daemon started is 1.
    pub number: u64,
    /// The script whose button asked for it.
    pub asked_for: String,
    /// When it finished (unix milliseconds).
    pub at_ms: i64,
    /// How long it took.
    pub took: Duration,
    /// What it found.
    pub outcome: PreviewOutcome,
}

/// What a preview found.
#[derive(Debug, Clone, PartialEq)]
pub enum PreviewOutcome {
    /// The report as `leadrelay preview` prints it, and its last line, the summary.
    Report {
        /// The summary line (`5 leads: 1 would change calls, 4 unchanged`).
        summary: String,
        /// The whole report.
        report: String,
    },
    /// Nothing was replayed: a script does not load, the journal cannot be read, or the
    /// preview could not run or took too long.
    Failed(String),
}

impl Previewer {
    /// A previewer for the daemon whose config file is `config` (`Config::origin`) and whose
    /// scripts are in `scripts`.
    pub fn new(config: &str, scripts: &Path) -> Previewer {
        let exe = std::env::current_exe()
            .ok()
            .filter(|p| p.file_stem().is_some_and(|s| s == "leadrelay"));
        Previewer {
            exe,
            config: PathBuf::from(config),
            scripts: scripts.to_path_buf(),
            deadline: PREVIEW_DEADLINE,
            running: tokio::sync::Mutex::new(()),
            last: Mutex::new(None),
            runs: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The last preview, if any.
    pub fn last(&self) -> Option<PreviewRun> {
        self.last.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Runs one preview for `script`'s button and keeps its result. `None` when another
    /// preview is running.
    pub async fn run(&self, script: &str, clock: &crate::clock::Clock) -> Option<PreviewRun> {
        let _one = self.running.try_lock().ok()?;
        let started = Instant::now();
        let outcome = self.outcome().await;
        let run = PreviewRun {
            number: self.runs.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1,
            asked_for: script.to_string(),
            at_ms: clock.unix_millis(),
            took: started.elapsed(),
            outcome,
        };
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(run.clone());
        Some(run)
    }

    async fn outcome(&self) -> PreviewOutcome {
        let Some(exe) = &self.exe else {
            return PreviewOutcome::Failed(
                "preview is not available in this process: it runs `leadrelay preview`, and \
                 this daemon is not running as the leadrelay binary"
                    .into(),
            );
        };
        if !self.config.is_file() {
            return PreviewOutcome::Failed(format!(
                "preview needs the daemon's config file, and {} is not one",
                self.config.display()
            ));
        }
        let mut command = tokio::process::Command::new(exe);
        command
            .arg("--config")
            .arg(&self.config)
            .arg("preview")
            .arg("--last")
            .arg(PREVIEW_LEADS.to_string())
            .arg("--scripts")
            .arg(&self.scripts)
            .env("LEADRELAY_LOG", "off")
            .env_remove("LEADRELAY_LOG_FORMAT")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let child = match command.spawn() {
            Ok(child) => child,
            Err(e) => return PreviewOutcome::Failed(format!("cannot start the preview: {e}")),
        };
        // On the deadline the future is dropped with the child, which kills it.
        match tokio::time::timeout(self.deadline, child.wait_with_output()).await {
            Err(_) => PreviewOutcome::Failed(format!(
                "the preview took longer than {:.1} s and was stopped",
                self.deadline.as_secs_f64()
            )),
            Ok(Err(e)) => PreviewOutcome::Failed(format!("the preview failed: {e}")),
            Ok(Ok(output)) => parse_output(&output.stdout, &output.stderr),
        }
    }

    /// The page's preview section: the last result, or an explanation.
    pub fn section(&self) -> String {
        let about = format!(
            "Preview replays the journal's newest {PREVIEW_LEADS} leads through the scripts as \
             they are on disk, against the built-in simulators, and compares with what the live \
             scripts did: nothing is sent to a vendor and nothing is written. It is \
             <code>leadrelay preview --last {PREVIEW_LEADS}</code>, stopped after {} s.",
            PREVIEW_DEADLINE.as_secs()
        );
        let Some(run) = self.last() else {
            return format!("<p class=\"muted\">{about}</p>");
        };
        let mut out = format!(
            "<section id=\"preview\" data-run=\"{number}\"><h2>Preview {number} of the working copy</h2>\
             <p class=\"muted\">Asked from {} at {} (UTC+8), took {:.1} s. {about}</p>",
            text(&run.asked_for),
            super::time(run.at_ms),
            run.took.as_secs_f64(),
            number = run.number,
        );
        match &run.outcome {
            PreviewOutcome::Failed(why) => out.push_str(&format!(
                "<p class=\"error\">Nothing was replayed.</p><pre id=\"preview-error\" class=\"error\">{}</pre>",
                text(why)
            )),
            PreviewOutcome::Report { summary, report } => {
                let class = if summary.contains(" would fail at ") {
                    "error"
                } else {
                    "ok"
                };
                out.push_str(&format!(
                    "<p id=\"preview-summary\" class=\"{class}\"><b>{}</b></p>",
                    text(summary)
                ));
                let calls = changed_calls(report);
                if !calls.is_empty() {
                    out.push_str(
                        "<table id=\"preview-calls\"><tr><th>call</th><th>change</th><th>leads</th></tr>",
                    );
                    for ((call, change), n) in calls {
                        out.push_str(&format!(
                            "<tr><td><code>{}</code></td><td>{change}</td><td class=\"n\">{n}</td></tr>",
                            escape(&call)
                        ));
                    }
                    out.push_str("</table>");
                }
                let leads = changed_leads(report);
                if !leads.is_empty() {
                    out.push_str(
                        "<table id=\"preview-leads\"><tr><th>lead</th><th>source</th><th>kind</th>\
                         <th>what the edit does</th></tr>",
                    );
                    for lead in leads.iter().take(PREVIEW_ROWS) {
                        out.push_str(&format!(
                            "<tr><td>{} <span class=\"muted\">#{}</span></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                            super::leads::search_link(&format!("#{}", lead.journal_id), &lead.lead_id),
                            lead.journal_id,
                            escape(&lead.source),
                            escape(&lead.kind),
                            text(&lead.what),
                        ));
                    }
                    out.push_str("</table>");
                    if leads.len() > PREVIEW_ROWS {
                        out.push_str(&format!(
                            "<p class=\"muted\">and {} more in the whole report.</p>",
                            leads.len() - PREVIEW_ROWS
                        ));
                    }
                }
                out.push_str(&format!(
                    "<details><summary>The whole report</summary><pre id=\"preview-report\">{}</pre></details>",
                    text(report)
                ));
            }
        }
        out.push_str("</section>");
        out
    }
}

/// What a finished `leadrelay preview` printed: a report (whatever its exit code: it exits
/// non-zero when a lead would fail) when its last line is the summary; otherwise the error.
fn parse_output(stdout: &[u8], stderr: &[u8]) -> PreviewOutcome {
    let cut = |bytes: &[u8]| {
        let bytes = &bytes[..bytes.len().min(PREVIEW_OUTPUT_LIMIT)];
        String::from_utf8_lossy(bytes).trim().to_string()
    };
    let whole = String::from_utf8_lossy(stdout);
    let summary = whole
        .trim()
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_string();
    if is_summary(&summary) {
        let mut report = cut(stdout);
        if stdout.len() > PREVIEW_OUTPUT_LIMIT {
            report.push_str(&format!(
                "\n… (the report is cut at {} KiB; `leadrelay preview` prints it all)\n\n{summary}",
                PREVIEW_OUTPUT_LIMIT / 1024
            ));
        }
        return PreviewOutcome::Report { summary, report };
    }
    // The CLI's error is the `error: …` line and what follows it (logging is off, but a line
    // before it, such as a panic's, is dropped all the same).
    let stderr = cut(stderr);
    let error = match stderr.find("error: ") {
        Some(at) if at == 0 || stderr[..at].ends_with('\n') => &stderr[at + "error: ".len()..],
        _ => stderr.as_str(),
    }
    .to_string();
    PreviewOutcome::Failed(if error.is_empty() {
        "the preview printed no report".to_string()
    } else {
        error
    })
}

/// `412 leads: …` / `1 lead: …`.
fn is_summary(line: &str) -> bool {
    let Some((count, rest)) = line.split_once(' ') else {
        return false;
    };
    count.parse::<usize>().is_ok() && (rest.starts_with("leads: ") || rest.starts_with("lead: "))
}

/// The calls the report's per-lead blocks list as added (`+`), removed (`-`) or with another
/// payload (`~`), with how many leads each: `(("xiaolanben::import_customer", "added"), 3)`.
fn changed_calls(report: &str) -> Vec<((String, &'static str), usize)> {
    let mut counts: std::collections::BTreeMap<(String, &'static str), usize> = Default::default();
    let mut seen_in_lead = std::collections::BTreeSet::new();
    for line in report.lines() {
        if line.starts_with("lead ") {
            seen_in_lead.clear();
            continue;
        }
        let Some(rest) = line.strip_prefix("  ") else {
            continue;
        };
        let change = match rest.chars().next() {
            Some('+') => "added",
            Some('-') => "removed",
            Some('~') => "payload changed",
            _ => continue,
        };
        let Some(call) = rest[1..].split_whitespace().next() else {
            continue;
        };
        let call = call.trim_end_matches(':').to_string();
        if seen_in_lead.insert((call.clone(), change)) {
            *counts.entry((call, change)).or_default() += 1;
        }
    }
    counts.into_iter().collect()
}

/// The most changed leads listed in the table (the report has them all).
const PREVIEW_ROWS: usize = 50;

/// A lead the report says the edit changes.
#[derive(Debug, Clone, PartialEq)]
struct ChangedLead {
    lead_id: String,
    journal_id: i64,
    source: String,
    kind: String,
    what: String,
}

/// The report's per-lead headlines: `lead 9002 (#2, tencent/sim_tencent, form): would change calls`.
fn changed_leads(report: &str) -> Vec<ChangedLead> {
    report
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("lead ")?;
            let (lead_id, rest) = rest.split_once(" (#")?;
            let (inside, what) = rest.split_once("): ")?;
            let mut parts = inside.splitn(3, ", ");
            Some(ChangedLead {
                lead_id: lead_id.to_string(),
                journal_id: parts.next()?.parse().ok()?,
                source: parts.next()?.to_string(),
                kind: parts.next()?.to_string(),
                what: what.to_string(),
            })
        })
        .collect()
}

/// The Preview buttons' form.
#[derive(Debug, serde::Deserialize)]
pub struct PreviewForm {
    /// The script whose button was pressed.
    #[serde(default)]
    pub script: String,
}

/// `POST /scripts/preview`: runs a preview (see the module doc), then shows it on `/scripts`.
pub async fn preview(State(state): State<AdminState>, Form(form): Form<PreviewForm>) -> Response {
    let previewer: Arc<Previewer> = state.preview.clone();
    match previewer.run(&form.script, &state.clock).await {
        Some(run) => {
            if let PreviewOutcome::Report { summary, .. } = &run.outcome {
                tracing::info!(script = %form.script, "console preview: {summary}");
            }
            Redirect::to("/scripts#preview").into_response()
        }
        None => Redirect::to(&format!(
            "/scripts?note={}",
            super::url_encode("A preview is already running; its result shows here when it ends.")
        ))
        .into_response(),
    }
}

fn describe(declaration: &Declaration) -> String {
    match declaration {
        Declaration::Lead {
            filter, function, ..
        } => {
            let mut on = vec![];
            if let Some(vendor) = filter.vendor {
                on.push(vendor.as_str().to_string());
            }
            if let Some(account) = &filter.account {
                on.push(account.clone());
            }
            let on = if on.is_empty() {
                "every lead".to_string()
            } else {
                on.join(" ")
            };
            format!(
                "<code>{}</code> on leads: {}",
                escape(function),
                escape(&on)
            )
        }
        Declaration::Follow {
            account, function, ..
        } => format!(
            "<code>{}</code> on follow records{}",
            escape(function),
            account
                .as_deref()
                .map(|a| format!(" of {}", escape(a)))
                .unwrap_or_default()
        ),
        Declaration::Schedule { cron, function, .. } => format!(
            "<code>{}</code> every <code>{}</code>",
            escape(function),
            escape(cron)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A previewer whose `leadrelay` is the shell script `body` (it gets the same arguments).
    fn fake(dir: &Path, body: &str, deadline: Duration) -> Previewer {
        use std::os::unix::fs::PermissionsExt;
        let exe = dir.join("leadrelay");
        std::fs::write(&exe, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        let config = dir.join("leadrelay.toml");
        std::fs::write(&config, "").unwrap();
        Previewer {
            exe: Some(exe),
            deadline,
            ..Previewer::new(&config.display().to_string(), &dir.join("scripts"))
        }
    }

    #[tokio::test]
    async fn the_preview_is_the_cli_with_its_bounds_and_its_summary_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let previewer = fake(
            dir.path(),
            "echo \"args: $*\"; echo; echo '1 lead: 1 would fail at a.rhai:2:5, 0 unchanged'; exit 1",
            Duration::from_secs(20),
        );
        let run = previewer
            .run("a.rhai", &crate::clock::Clock::system())
            .await
            .unwrap();
        let PreviewOutcome::Report { summary, report } = &run.outcome else {
            panic!("{run:?}")
        };
        assert_eq!(summary, "1 lead: 1 would fail at a.rhai:2:5, 0 unchanged");
        let config = dir.path().join("leadrelay.toml");
        let scripts = dir.path().join("scripts");
        assert!(
            report.starts_with(&format!(
                "args: --config {} preview --last {PREVIEW_LEADS} --scripts {}\n",
                config.display(),
                scripts.display()
            )),
            "{report}"
        );
        assert_eq!(run.number, 1);
        assert_eq!(previewer.last().unwrap().number, 1);
        assert!(previewer.section().contains("would fail at a.rhai:2:5"));
    }

    #[tokio::test]
    async fn a_preview_past_its_deadline_is_killed_and_only_one_runs_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        let previewer = Arc::new(fake(
            dir.path(),
            &format!("echo $$ > {}; exec sleep 30", pid_file.display()),
            Duration::from_millis(1500),
        ));
        let clock = crate::clock::Clock::system();
        let first = tokio::spawn({
            let (previewer, clock) = (previewer.clone(), clock);
            async move { previewer.run("a.rhai", &clock).await }
        });
        // While the first runs, a second is refused.
        let started = Instant::now();
        while !pid_file.exists() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the fake never started"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(previewer.run("b.rhai", &clock).await.is_none());
        let run = first.await.unwrap().unwrap();
        assert_eq!(
            run.outcome,
            PreviewOutcome::Failed("the preview took longer than 1.5 s and was stopped".into())
        );
        assert!(run.took < Duration::from_secs(10), "{:?}", run.took);
        // The child was killed, not left behind.
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        let gone = Instant::now();
        while Path::new(&format!("/proc/{}/stat", pid.trim())).exists()
            && !std::fs::read_to_string(format!("/proc/{}/stat", pid.trim()))
                .unwrap_or_default()
                .contains(") Z ")
        {
            assert!(
                gone.elapsed() < Duration::from_secs(10),
                "the preview {pid} still runs"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // And a preview can run again.
        assert!(previewer.run("a.rhai", &clock).await.is_some());
    }

    const REPORT: &str = "preview: scripts replayed against the simulators and compared with the journal's calls (dry run: nothing sent, nothing written)

lead 9002 (#2, tencent/sim_tencent, form): would change calls
  + xiaolanben::import_customer account=sim_xiaolanben

lead 9003 (#3, tencent/sim_tencent, form): would change owner
  ~ xiaolanben::import_customer staffId 1001 → 1002
  ~ xiaolanben::import_customer empName \"a\" → \"b\"

lead 9004 (#4, tencent/sim_tencent, form): would fail at route.rhai:3:29
  route.rhai:3:29: no owner
  - waiqin::create_customer account=sim_waiqin

4 leads: 1 would change owner, 1 would change calls, 1 would fail at route.rhai:3:29, 1 unchanged
";

    #[test]
    fn a_report_is_read_with_its_summary_and_changed_calls_whatever_the_exit_code() {
        let outcome = parse_output(REPORT.as_bytes(), b"");
        let PreviewOutcome::Report { summary, report } = outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(
            summary,
            "4 leads: 1 would change owner, 1 would change calls, 1 would fail at route.rhai:3:29, 1 unchanged"
        );
        assert_eq!(
            changed_calls(&report),
            vec![
                (("waiqin::create_customer".to_string(), "removed"), 1),
                (("xiaolanben::import_customer".to_string(), "added"), 1),
                (
                    ("xiaolanben::import_customer".to_string(), "payload changed"),
                    1
                ),
            ]
        );
    }

    #[test]
    fn the_changed_leads_are_read_from_their_headlines() {
        let leads = changed_leads(REPORT);
        assert_eq!(leads.len(), 3);
        assert_eq!(
            leads[2],
            ChangedLead {
                lead_id: "9004".into(),
                journal_id: 4,
                source: "tencent/sim_tencent".into(),
                kind: "form".into(),
                what: "would fail at route.rhai:3:29".into(),
            }
        );
    }

    #[test]
    fn a_long_report_is_cut_but_keeps_its_summary() {
        let long = format!(
            "{}\n\n3 leads: 3 would change calls, 0 unchanged\n",
            "lead 1 (#1, a/b, form): would change calls\n".repeat(10_000)
        );
        let PreviewOutcome::Report { summary, report } = parse_output(long.as_bytes(), b"") else {
            panic!("a report")
        };
        assert_eq!(summary, "3 leads: 3 would change calls, 0 unchanged");
        assert!(
            report.len() < PREVIEW_OUTPUT_LIMIT + 200,
            "{}",
            report.len()
        );
        assert!(
            report.ends_with(&summary),
            "the summary closes the cut report"
        );
    }

    #[test]
    fn without_a_summary_the_error_is_shown() {
        let stderr =
            b"error: 1 script problem(s) in /s; nothing was replayed:\n/s/b.rhai:3:17: oops\n";
        assert_eq!(
            parse_output(b"", stderr),
            PreviewOutcome::Failed(
                "1 script problem(s) in /s; nothing was replayed:\n/s/b.rhai:3:17: oops".into()
            )
        );
        assert_eq!(
            parse_output(
                b"",
                b"2026-12-01T03:18:42Z ERROR x: y\nerror: journal: gone\n"
            ),
            PreviewOutcome::Failed("journal: gone".into())
        );
        assert_eq!(
            parse_output(b"", b""),
            PreviewOutcome::Failed("the preview printed no report".into())
        );
        assert!(is_summary("1 lead: 1 unchanged"));
        assert!(!is_summary("lead 1 (#1, x): would fail"));
    }
}
