//! `leadrelay preview`, the shadow run: what an edit of the scripts would do to real recent
//! traffic, before it goes live.
//!
//! The leads of a period are read from the journal (read-only, so it works beside a running
//! daemon, and nothing is ever written to it) and routed through the edited scripts against
//! the built-in simulators on a loopback port: nothing reaches a vendor. Each lead's outcome is
//! compared with what the live scripts did with it:
//!
//! - The journal keeps, for every call a run made, its vendor, account, op and the fingerprint
//!   of its payload ([`crate::store::fingerprint`]), never the payload itself. So when the live
//!   scripts' folder (`[daemon] scripts`) is another folder than the edited one, the live
//!   scripts are replayed too, beside the edited ones and under the same conditions (their own
//!   simulators, fresh turn counters and `once` keys, the leads in the same order). The edit is
//!   then the only difference between the two replays, and the live replay gives the payloads
//!   for a field-level diff (`xiaolanben::import_customer staffId 1001 → 1002`). Leads for which
//!   the live replay does not reproduce the journal's calls (turn counters that had another
//!   value, the clock, vendor answers, or scripts saved since) are counted in a note.
//! - When the edited folder is the live folder (or no live folder exists), the edited scripts
//!   are compared with the journal itself: calls by fingerprint, with no field-level detail.
//!
//! Per lead: calls added, calls removed, calls whose payload changed, and whether the lead would
//! become unrouted, be routed again, or fail (with the script's `path:line:col`). The summary
//! line (`412 leads: 37 would change owner, 2 would fail at tencent_to_xiaolanben.rhai:14:9, 373
//! unchanged`) is also what the daemon logs on each hot reload when `[daemon] preview_on_reload`
//! is set ([`on_reload`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::clock::Clock;
use crate::config::Config;
use crate::connectors::{Accounts, HttpClient};
use crate::host::engine::Services;
use crate::host::error::ScriptError;
use crate::host::generation::{is_script, HandlerRun, Host, Verdict};
use crate::host::script::KnownAccounts;
use crate::secret::mask_phones_in;
use crate::sim::Simulator;
use crate::store::{fingerprint, is_volatile, Queries, RecordedLead, StoreError, WorkStatus};

/// Why a preview could not run.
#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    /// The scripts folder could not be read.
    #[error("cannot read the scripts folder {dir}: {source}")]
    Scripts {
        /// The folder.
        dir: String,
        /// Why.
        source: std::io::Error,
    },
    /// Some edited scripts do not load (each problem as `path:line:col: message`).
    #[error("{} script problem(s) in {dir}; nothing was replayed:\n{}", problems.len(), problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    DoesNotLoad {
        /// The folder.
        dir: String,
        /// Every problem.
        problems: Vec<ScriptError>,
    },
    /// The journal could not be read.
    #[error("journal: {0}")]
    Journal(#[from] StoreError),
    /// The simulators did not start.
    #[error("cannot start the simulators: {0}")]
    Simulator(std::io::Error),
}

/// A folder's scripts as text, read at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptSet {
    /// The folder.
    pub dir: PathBuf,
    /// `(path, source)` of every script in it (not tests, not shared modules), sorted.
    pub files: Vec<(String, String)>,
}

impl ScriptSet {
    /// Reads every script of `dir`, keyed by path the way the host keys them.
    pub fn read(dir: &Path) -> Result<ScriptSet, PreviewError> {
        let error = |source| PreviewError::Scripts {
            dir: dir.display().to_string(),
            source,
        };
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(error)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| is_script(p) && p.is_file())
            .collect();
        paths.sort();
        let mut files = Vec::with_capacity(paths.len());
        for path in paths {
            let source = std::fs::read_to_string(&path).map_err(error)?;
            files.push((path.display().to_string(), source));
        }
        Ok(ScriptSet {
            dir: dir.to_path_buf(),
            files,
        })
    }
}

/// Which leads to replay: those received since `since_ms` (all when `None`), at most the newest
/// `last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Only leads received at or after this (unix milliseconds).
    pub since_ms: Option<i64>,
    /// At most this many, the newest.
    pub last: usize,
}

impl Window {
    /// The most leads one preview replays when no `--last` is given.
    pub const MAX: usize = 10_000;
}

/// One call as compared: who, what, and the payload when known.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The vendor.
    pub vendor: String,
    /// The account.
    pub account: String,
    /// The op.
    pub op: String,
    /// The payload's fingerprint.
    pub fingerprint: String,
    /// The payload (not known for a call read from the journal).
    pub payload: Option<Value>,
}

impl Call {
    fn name(&self) -> String {
        format!("{}::{}", self.vendor, self.op)
    }

    fn key(&self) -> (&str, &str, &str) {
        (&self.vendor, &self.account, &self.op)
    }
}

/// What routing one lead came to.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Outcome {
    /// No handler wanted it.
    pub unrouted: bool,
    /// The first failure: `(place, message)`, place as `file:line:col`.
    pub failure: Option<(String, String)>,
    /// Every call, in order.
    pub calls: Vec<Call>,
}

impl Outcome {
    /// The outcome of `runs` (a replay).
    pub fn of_runs(runs: &[HandlerRun]) -> Outcome {
        let mut outcome = Outcome {
            unrouted: runs.is_empty(),
            ..Outcome::default()
        };
        for run in runs {
            for call in &run.result.calls {
                let vendor = call.vendor.as_str();
                outcome.calls.push(Call {
                    vendor: vendor.to_string(),
                    account: call.account.clone(),
                    op: call.op.clone(),
                    fingerprint: fingerprint(vendor, &call.account, &call.op, &call.payload),
                    payload: Some(call.payload.clone()),
                });
            }
            if let (Err(e), None) = (&run.result.outcome, &outcome.failure) {
                outcome.failure = Some((place_of(e), e.to_string()));
            }
        }
        outcome
    }

    /// What the journal recorded for `lead` (its last attempt).
    pub fn of_journal(lead: &RecordedLead) -> Outcome {
        let mut outcome = Outcome {
            unrouted: lead.status == WorkStatus::Unrouted,
            ..Outcome::default()
        };
        for run in &lead.runs {
            for call in &run.calls {
                outcome.calls.push(Call {
                    vendor: call.vendor.clone(),
                    account: call.account.clone(),
                    op: call.op.clone(),
                    fingerprint: call.fingerprint.clone(),
                    payload: None,
                });
            }
            if let (Some(error), None) = (&run.error, &outcome.failure) {
                outcome.failure = Some((place_in(error), error.clone()));
            }
        }
        if outcome.failure.is_none() && matches!(lead.status, WorkStatus::Dead | WorkStatus::Retry)
        {
            let reason = lead.reason.clone().unwrap_or_default();
            outcome.failure = Some((place_in(&reason), reason));
        }
        outcome
    }

    fn fingerprints(&self) -> Vec<&str> {
        self.calls.iter().map(|c| c.fingerprint.as_str()).collect()
    }
}

/// `file:line:col` of a script error (the file name only: the folder is the same for all).
fn place_of(e: &ScriptError) -> String {
    let file = Path::new(&e.path)
        .file_name()
        .map_or(e.path.clone(), |n| n.to_string_lossy().to_string());
    if e.at.line == 0 {
        file
    } else {
        format!("{file}:{}:{}", e.at.line, e.at.column)
    }
}

/// The `file:line:col` at the start of a journaled `path:line:col: message`.
fn place_in(error: &str) -> String {
    let head = error.split(": ").next().unwrap_or(error);
    Path::new(head)
        .file_name()
        .map_or(head.to_string(), |n| n.to_string_lossy().to_string())
}

/// One changed field of a payload: its path (`contacts[0].name`) and both values (`None`: absent).
#[derive(Debug, Clone, PartialEq)]
pub struct FieldChange {
    /// Where in the payload.
    pub path: String,
    /// The live value.
    pub before: Option<Value>,
    /// The edited value.
    pub after: Option<Value>,
}

/// How one call differs.
#[derive(Debug, Clone, PartialEq)]
pub enum CallChange {
    /// Only the edited scripts make it.
    Added(Call),
    /// Only the live scripts make it.
    Removed(Call),
    /// Both make it, with another payload; the fields when both payloads are known.
    Payload {
        /// The edited call.
        call: Call,
        /// The changed fields (`None`: the live payload is known only by its fingerprint).
        fields: Option<Vec<FieldChange>>,
    },
}

/// What the edit does to one lead.
#[derive(Debug, Clone, PartialEq)]
pub enum LeadVerdict {
    /// Same calls, same payloads.
    Unchanged,
    /// Calls differ; `owner` when a changed field names who owns the lead.
    Changed {
        /// A field such as `staffId` or `empName` changed.
        owner: bool,
    },
    /// No handler of the edited scripts wants it (the live ones routed it).
    Unrouted,
    /// The live scripts left it unrouted; the edited ones route it.
    Routed,
    /// A handler of the edited scripts fails.
    Fails {
        /// `file:line:col`.
        place: String,
        /// The whole error.
        message: String,
    },
}

/// One replayed lead.
#[derive(Debug, Clone, PartialEq)]
pub struct LeadPreview {
    /// The journal id.
    pub journal_id: i64,
    /// The vendor's lead id.
    pub lead_id: String,
    /// `vendor/account`.
    pub source: String,
    /// The lead kind.
    pub kind: String,
    /// What the edit does to it.
    pub verdict: LeadVerdict,
    /// Its call differences.
    pub calls: Vec<CallChange>,
    /// The live replay did not reproduce the journal for this lead.
    pub replay_differs: bool,
}

/// Fields whose change means the lead goes to someone else.
const OWNER_FIELDS: &[&str] = &[
    "staffId",
    "publicSeaId",
    "empName",
    "poolName",
    "owner",
    "owner_name",
    "ownerId",
];

/// What a preview found.
#[derive(Debug, Clone, PartialEq)]
pub struct PreviewReport {
    /// The edited scripts' folder.
    pub edited: PathBuf,
    /// The live scripts' folder, when it was replayed too.
    pub live: Option<PathBuf>,
    /// Every lead, oldest first.
    pub leads: Vec<LeadPreview>,
}

impl PreviewReport {
    /// True when a lead would fail: `preview` then exits non-zero.
    pub fn fails(&self) -> bool {
        self.leads
            .iter()
            .any(|l| matches!(l.verdict, LeadVerdict::Fails { .. }))
    }

    /// `412 leads: 37 would change owner, 2 would fail at tencent_to_xiaolanben.rhai:14:9, 373
    /// unchanged`.
    pub fn summary(&self) -> String {
        let count =
            |f: &dyn Fn(&LeadVerdict) -> bool| self.leads.iter().filter(|l| f(&l.verdict)).count();
        let mut parts = Vec::new();
        let owner = count(&|v| matches!(v, LeadVerdict::Changed { owner: true }));
        let calls = count(&|v| matches!(v, LeadVerdict::Changed { owner: false }));
        let unrouted = count(&|v| matches!(v, LeadVerdict::Unrouted));
        let routed = count(&|v| matches!(v, LeadVerdict::Routed));
        if owner > 0 {
            parts.push(format!("{owner} would change owner"));
        }
        if calls > 0 {
            parts.push(format!("{calls} would change calls"));
        }
        if unrouted > 0 {
            parts.push(format!("{unrouted} would become unrouted"));
        }
        if routed > 0 {
            parts.push(format!("{routed} would be routed (unrouted now)"));
        }
        let mut fails: BTreeMap<&str, usize> = BTreeMap::new();
        for lead in &self.leads {
            if let LeadVerdict::Fails { place, .. } = &lead.verdict {
                *fails.entry(place).or_default() += 1;
            }
        }
        for (place, n) in fails {
            parts.push(format!("{n} would fail at {place}"));
        }
        parts.push(format!(
            "{} unchanged",
            count(&|v| matches!(v, LeadVerdict::Unchanged))
        ));
        let n = self.leads.len();
        format!(
            "{n} lead{}: {}",
            if n == 1 { "" } else { "s" },
            parts.join(", ")
        )
    }

    /// The whole report: one block per lead that would change, a note, and the summary.
    pub fn render(&self) -> String {
        let mut out = String::new();
        match &self.live {
            Some(live) => out.push_str(&format!(
                "preview: {} replayed beside the live scripts {} against the simulators (dry run: nothing sent, nothing written)\n",
                self.edited.display(),
                live.display()
            )),
            None => out.push_str(&format!(
                "preview: {} replayed against the simulators and compared with the journal's calls (dry run: nothing sent, nothing written)\n",
                self.edited.display()
            )),
        }
        for lead in &self.leads {
            let what = match &lead.verdict {
                LeadVerdict::Unchanged => continue,
                LeadVerdict::Changed { owner: true } => "would change owner".to_string(),
                LeadVerdict::Changed { owner: false } => "would change calls".to_string(),
                LeadVerdict::Unrouted => "would become unrouted".to_string(),
                LeadVerdict::Routed => "would be routed (unrouted now)".to_string(),
                LeadVerdict::Fails { place, .. } => format!("would fail at {place}"),
            };
            out.push_str(&format!(
                "\nlead {} (#{}, {}, {}): {what}\n",
                lead.lead_id, lead.journal_id, lead.source, lead.kind
            ));
            if let LeadVerdict::Fails { message, .. } = &lead.verdict {
                out.push_str(&format!("  {}\n", mask_phones_in(message)));
            }
            for change in &lead.calls {
                out.push_str(&render_change(change));
            }
        }
        let differs = self.leads.iter().filter(|l| l.replay_differs).count();
        if differs > 0 {
            out.push_str(&format!(
                "\nnote: for {differs} lead(s) the live scripts, replayed, do not make the calls the journal recorded \
                 (turn counters or `once` keys that had other values, the clock, vendor answers, or scripts saved \
                 since); they are compared with the replay\n"
            ));
        }
        out.push('\n');
        out.push_str(&self.summary());
        out.push('\n');
        out
    }
}

fn render_value(value: &Option<Value>) -> String {
    match value {
        None => "(none)".to_string(),
        Some(v) => mask_phones_in(&v.to_string()),
    }
}

fn render_change(change: &CallChange) -> String {
    match change {
        CallChange::Added(call) => format!("  + {} account={}\n", call.name(), call.account),
        CallChange::Removed(call) => format!("  - {} account={}\n", call.name(), call.account),
        CallChange::Payload { call, fields: None } => format!(
            "  ~ {} account={}: payload changed (the journal keeps only its fingerprint; keep the \
             live scripts in [daemon] scripts to see which fields)\n",
            call.name(),
            call.account
        ),
        CallChange::Payload {
            call,
            fields: Some(fields),
        } => fields
            .iter()
            .map(|f| {
                format!(
                    "  ~ {} {} {} → {}\n",
                    call.name(),
                    f.path,
                    render_value(&f.before),
                    render_value(&f.after)
                )
            })
            .collect(),
    }
}

/// The fields that differ between two payloads, leaving out clock and signature keys (as the
/// fingerprint does). Objects are compared key by key, arrays item by item.
pub fn field_diff(before: &Value, after: &Value) -> Vec<FieldChange> {
    let mut out = Vec::new();
    diff_at(String::new(), Some(before), Some(after), &mut out);
    out
}

fn diff_at(
    path: String,
    before: Option<&Value>,
    after: Option<&Value>,
    out: &mut Vec<FieldChange>,
) {
    match (before, after) {
        (Some(Value::Object(a)), Some(Value::Object(b))) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for key in keys {
                if is_volatile(key) {
                    continue;
                }
                let sub = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                diff_at(sub, a.get(key), b.get(key), out);
            }
        }
        (Some(Value::Array(a)), Some(Value::Array(b))) => {
            for i in 0..a.len().max(b.len()) {
                diff_at(format!("{path}[{i}]"), a.get(i), b.get(i), out);
            }
        }
        (a, b) if a != b => out.push(FieldChange {
            path: if path.is_empty() {
                "(payload)".into()
            } else {
                path
            },
            before: a.cloned(),
            after: b.cloned(),
        }),
        _ => {}
    }
}

/// Pairs the calls of `live` and `edited` (the n-th call to one vendor, account and op with the
/// n-th) and lists the differences.
fn call_changes(live: &[Call], edited: &[Call]) -> Vec<CallChange> {
    let mut changes = Vec::new();
    let mut used = vec![false; live.len()];
    for call in edited {
        let pair = live
            .iter()
            .enumerate()
            .find(|(i, l)| !used[*i] && l.key() == call.key());
        match pair {
            Some((i, l)) => {
                used[i] = true;
                if l.fingerprint != call.fingerprint {
                    let fields = match (&l.payload, &call.payload) {
                        (Some(a), Some(b)) => Some(field_diff(a, b)),
                        _ => None,
                    };
                    changes.push(CallChange::Payload {
                        call: call.clone(),
                        fields,
                    });
                }
            }
            None => changes.push(CallChange::Added(call.clone())),
        }
    }
    for (i, l) in live.iter().enumerate() {
        if !used[i] {
            changes.push(CallChange::Removed(l.clone()));
        }
    }
    changes
}

/// Compares one lead's live outcome with its edited one.
pub fn compare(live: &Outcome, edited: &Outcome) -> (LeadVerdict, Vec<CallChange>) {
    let calls = call_changes(&live.calls, &edited.calls);
    let verdict = if let Some((place, message)) = &edited.failure {
        LeadVerdict::Fails {
            place: place.clone(),
            message: message.clone(),
        }
    } else if edited.unrouted && !live.unrouted {
        LeadVerdict::Unrouted
    } else if live.unrouted && !edited.unrouted {
        LeadVerdict::Routed
    } else if calls.is_empty() {
        LeadVerdict::Unchanged
    } else {
        let owner = calls.iter().any(|c| match c {
            CallChange::Payload {
                fields: Some(fields),
                ..
            } => fields.iter().any(|f| {
                let last = f.path.rsplit('.').next().unwrap_or(&f.path);
                OWNER_FIELDS.contains(&last)
            }),
            _ => false,
        });
        LeadVerdict::Changed { owner }
    };
    (verdict, calls)
}

/// One folder of scripts loaded onto its own simulators, with fresh turn counters and `once`
/// keys.
struct Replayer {
    _simulator: Simulator,
    host: Arc<Host>,
}

impl Replayer {
    /// `strict`: a script that does not load is an error (the edited folder); otherwise it is
    /// left out with a warning (a live folder whose broken file the daemon refused).
    async fn start(
        config: &Config,
        set: &ScriptSet,
        strict: bool,
    ) -> Result<Replayer, PreviewError> {
        let simulator = Simulator::start_local()
            .await
            .map_err(PreviewError::Simulator)?;
        let mirrored = simulator.mirror(config);
        let accounts = Accounts::from_config(&mirrored, HttpClient::new(), Clock::system());
        let known = (!config.accounts.is_empty()).then(|| KnownAccounts::from_config(config));
        let host = Host::with_accounts(Arc::new(Services::new(accounts)), known, |_| {});
        let (h, files) = (host.clone(), set.files.clone());
        let verdicts = tokio::task::spawn_blocking(move || {
            files
                .iter()
                .map(|(key, source)| h.load_text(key, source))
                .collect::<Vec<_>>()
        })
        .await
        .expect("loading scripts does not panic");
        let problems: Vec<ScriptError> = verdicts
            .into_iter()
            .flat_map(|v| match v {
                Verdict::Rejected(problems) => problems,
                _ => Vec::new(),
            })
            .collect();
        if !problems.is_empty() {
            if strict {
                return Err(PreviewError::DoesNotLoad {
                    dir: set.dir.display().to_string(),
                    problems,
                });
            }
            for problem in problems {
                tracing::warn!("preview leaves out a live script that does not load: {problem}");
            }
        }
        Ok(Replayer {
            _simulator: simulator,
            host,
        })
    }

    async fn route(&self, lead: &crate::lead::Lead) -> Outcome {
        Outcome::of_runs(&self.host.run_lead(lead).await)
    }
}

/// Replays the leads of `window` from `journal` through `edited` (and `live`, when given: see
/// the module doc) against fresh simulators, and compares. Reads the journal only.
pub async fn preview(
    config: &Config,
    journal: &dyn Queries,
    edited: &ScriptSet,
    live: Option<&ScriptSet>,
    window: Window,
) -> Result<PreviewReport, PreviewError> {
    let recorded = journal.recorded_leads(window.since_ms, window.last)?;
    let candidate = Replayer::start(config, edited, true).await?;
    let baseline = match live {
        Some(set) => Some(Replayer::start(config, set, false).await?),
        None => None,
    };
    let mut leads = Vec::with_capacity(recorded.len());
    for lead in &recorded {
        let journaled = Outcome::of_journal(lead);
        let edited_outcome = candidate.route(&lead.lead).await;
        let (live_outcome, replay_differs) = match &baseline {
            Some(b) => {
                let replayed = b.route(&lead.lead).await;
                let differs = replayed.fingerprints() != journaled.fingerprints()
                    || replayed.unrouted != journaled.unrouted;
                (replayed, differs)
            }
            None => (journaled, false),
        };
        let (verdict, calls) = compare(&live_outcome, &edited_outcome);
        leads.push(LeadPreview {
            journal_id: lead.id,
            lead_id: lead.lead.id.clone(),
            source: format!("{}/{}", lead.lead.vendor, lead.lead.account),
            kind: lead.lead.kind.to_string(),
            verdict,
            calls,
            replay_differs,
        });
    }
    Ok(PreviewReport {
        edited: edited.dir.clone(),
        live: live.map(|l| l.dir.clone()),
        leads,
    })
}

/// How long after a reload the daemon waits for more saves before previewing.
const RELOAD_QUIET: Duration = Duration::from_millis(200);

/// `[daemon] preview_on_reload = N`: after each change of `host`'s live scripts, replays the
/// newest `last` leads of the journal at `journal` through the scripts of `dir` as they are now,
/// beside the previous snapshot of the folder, and logs the summary line. Runs until aborted.
pub async fn on_reload(
    config: Config,
    host: Arc<Host>,
    dir: PathBuf,
    journal: crate::store::JournalTarget,
    last: usize,
) {
    let mut generations = host.subscribe_generations();
    let mut previous = match ScriptSet::read(&dir) {
        Ok(set) => set,
        Err(e) => {
            tracing::warn!(error = %e, "preview_on_reload is off: cannot read the scripts");
            return;
        }
    };
    while generations.changed().await.is_ok() {
        tokio::time::sleep(RELOAD_QUIET).await;
        generations.borrow_and_update();
        let current = match ScriptSet::read(&dir) {
            Ok(set) => set,
            Err(e) => {
                tracing::warn!(error = %e, "preview of the reload skipped");
                continue;
            }
        };
        if current == previous {
            continue;
        }
        let result = match crate::store::open_reader(&journal) {
            Ok(reader) => {
                let window = Window {
                    since_ms: None,
                    last,
                };
                preview(&config, &*reader, &current, Some(&previous), window).await
            }
            Err(e) => Err(e.into()),
        };
        match result {
            Ok(report) => tracing::info!(
                leads = report.leads.len(),
                "preview of the reload: {}",
                report.summary()
            ),
            Err(e) => tracing::warn!(error = %e, "preview of the reload failed"),
        }
        previous = current;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn call(op: &str, payload: Value) -> Call {
        Call {
            vendor: "xiaolanben".into(),
            account: "xlb".into(),
            op: op.into(),
            fingerprint: fingerprint("xiaolanben", "xlb", op, &payload),
            payload: Some(payload),
        }
    }

    #[test]
    fn field_diff_names_nested_paths_and_skips_clock_keys() {
        let before = json!({"staffId": 1001, "ts": 1, "contacts": [{"name": "a"}]});
        let after = json!({"staffId": 1002, "ts": 2, "contacts": [{"name": "b"}, {"name": "c"}]});
        let diff = field_diff(&before, &after);
        let paths: Vec<&str> = diff.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["contacts[0].name", "contacts[1]", "staffId"]);
        assert_eq!(diff[2].before, Some(json!(1001)));
        assert_eq!(diff[2].after, Some(json!(1002)));
    }

    #[test]
    fn an_owner_field_change_is_an_owner_change_and_renders_as_a_field_diff() {
        let live = Outcome {
            calls: vec![call("import_customer", json!({"staffId": 1001}))],
            ..Outcome::default()
        };
        let edited = Outcome {
            calls: vec![call("import_customer", json!({"staffId": 1002}))],
            ..Outcome::default()
        };
        let (verdict, changes) = compare(&live, &edited);
        assert_eq!(verdict, LeadVerdict::Changed { owner: true });
        assert_eq!(
            render_change(&changes[0]),
            "  ~ xiaolanben::import_customer staffId 1001 → 1002\n"
        );
    }

    #[test]
    fn added_and_removed_calls_are_listed() {
        let live = Outcome {
            calls: vec![call("import_customer", json!({}))],
            ..Outcome::default()
        };
        let edited = Outcome {
            calls: vec![call("import_customers", json!([]))],
            ..Outcome::default()
        };
        let (verdict, changes) = compare(&live, &edited);
        assert_eq!(verdict, LeadVerdict::Changed { owner: false });
        assert!(matches!(&changes[0], CallChange::Added(c) if c.op == "import_customers"));
        assert!(matches!(&changes[1], CallChange::Removed(c) if c.op == "import_customer"));
        assert_eq!(compare(&live, &live), (LeadVerdict::Unchanged, vec![]));
    }

    #[test]
    fn places_are_file_line_col() {
        assert_eq!(
            place_in("/srv/scripts/a.rhai:14:9: boom: more"),
            "a.rhai:14:9"
        );
    }
}
