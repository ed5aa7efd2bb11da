//! What the journal inspection commands print (`leads list`, `leads show`, `dead list`,
//! `quarantine list|show`, `status`): pure functions from a [`JournalReader`] to plain text for
//! a terminal — aligned columns, no colors, times in Beijing time (`yyyy-MM-dd HH:mm:ss`, UTC+8,
//! the zone the vendors and their users work in). They neither print nor exit: the CLI does.
//!
//! Phone numbers never appear in full. The lead's own phone is masked with
//! [`mask_phone`] wherever it shows up (its field, but also a WeChat id that is the same number,
//! a vendor's echo in a call response, a script's error message), and any other free text is
//! passed through [`mask_phones_in`](crate::secret::mask_phones_in), which masks anything shaped like a mainland mobile number.
//! The lead's raw vendor record is not shown at all: it holds the phone in vendor-specific
//! fields. The one deliberate exception is `quarantine show`, whose whole point is to show the
//! bytes that arrived exactly; it is only shown for one item asked for by id.
//!
//! Text that came from outside (vendor messages, script errors, quarantined bodies) never
//! reaches the terminal with control characters in it: a payload must not be able to move the
//! cursor or recolor the screen of the person inspecting it.

use chrono::{DateTime, Utc};

use crate::clock::{beijing, parse_beijing};
use crate::secret::mask_phone;
pub use crate::secret::mask_phones_in;
use crate::store::types::Via;
use crate::store::{
    DeadLetter, LeadQuery, LeadStory, Queries, RunStory, StoreError, WorkState, WorkStatus,
};

/// The place the daemon-side status parts (script versions, breaker states, last pull errors)
/// plug into [`status_report`]: one `(heading, body)` pair per section, printed after the
/// journal's own sections in the order given. The body may hold several lines; each is
/// indented under the heading.
pub type StatusSection = (String, String);

/// Beijing time `yyyy-MM-dd HH:mm:ss` of unix milliseconds.
pub fn beijing_time(ms: i64) -> String {
    match DateTime::<Utc>::from_timestamp_millis(ms) {
        Some(t) => t
            .with_timezone(&beijing())
            .format("%Y-%m-%d %H:%M:%S")
            .to_string(),
        None => format!("(invalid time {ms} ms)"),
    }
}

/// A short age or duration: `45s`, `3m`, `2h05m`, `3d04h`; negative ages read `in …`.
pub fn age(ms: i64) -> String {
    if ms < 0 {
        return format!("in {}", age(ms.saturating_neg()));
    }
    let secs = ms / 1000;
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}d{h:02}h")
    } else if h > 0 {
        format!("{h}h{m:02}m")
    } else if m > 0 {
        format!("{m}m")
    } else {
        format!("{s}s")
    }
}

/// How long ago unix milliseconds `then_ms` was, seen from `now_ms`: `3m ago`, or `in 3m`
/// when the clocks disagree and it lies ahead.
pub fn ago(now_ms: i64, then_ms: i64) -> String {
    let ms = now_ms.saturating_sub(then_ms);
    if ms < 0 {
        age(ms)
    } else {
        format!("{} ago", age(ms))
    }
}

/// Reads a `--since` value as unix milliseconds: a Beijing date `2024-05-01` (its midnight), a
/// Beijing time `2024-05-01 09:30:00` (or `09:30`), or a duration ago — `30m`, `2h`, `1d`,
/// `45s`, `1w`, or combined like `1h30m` — counted back from `now_ms`.
pub fn parse_since(text: &str, now_ms: i64) -> Result<i64, String> {
    let text = text.trim();
    let explain = |why: &str| {
        format!(
            "cannot read `{text}` as a time{why}: expected a date (2024-05-01), a Beijing time \
             (2024-05-01 09:30:00) or how long ago (30m, 2h, 1d, 1h30m)"
        )
    };
    if text.is_empty() {
        return Err(explain(" (it is empty)"));
    }
    if let Ok(date) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let midnight = date.and_hms_opt(0, 0, 0).expect("midnight exists");
        return parse_beijing(&midnight.format("%Y-%m-%d %H:%M:%S").to_string())
            .map(|t| t.timestamp_millis())
            .ok_or_else(|| explain(""));
    }
    if let Some(t) = parse_beijing(text) {
        return Ok(t.timestamp_millis());
    }
    if text.starts_with(|c: char| c.is_ascii_digit()) && text.contains('-') {
        // Looks like a date, so a duration reading would only confuse.
        return Err(explain(" (not a valid date or time)"));
    }
    let ago = parse_duration_ms(text).map_err(|why| explain(&format!(" ({why})")))?;
    now_ms
        .checked_sub(ago)
        .ok_or_else(|| explain(" (too long ago)"))
}

fn parse_duration_ms(text: &str) -> Result<i64, String> {
    let mut total: i64 = 0;
    let mut digits = String::new();
    let mut parts = 0;
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit_ms: i64 = match c.to_ascii_lowercase() {
            's' => 1000,
            'm' => 60_000,
            'h' => 3_600_000,
            'd' => 86_400_000,
            'w' => 7 * 86_400_000,
            other => return Err(format!("unknown unit `{other}`; use s, m, h, d or w")),
        };
        if digits.is_empty() {
            return Err(format!("`{c}` has no number before it"));
        }
        let n: i64 = digits.parse().map_err(|_| "number too large".to_string())?;
        digits.clear();
        total = n
            .checked_mul(unit_ms)
            .and_then(|ms| total.checked_add(ms))
            .ok_or("too long ago")?;
        parts += 1;
    }
    if !digits.is_empty() {
        return Err(format!(
            "`{digits}` has no unit; write e.g. {digits}m or {digits}h"
        ));
    }
    if parts == 0 {
        return Err("no duration".into());
    }
    Ok(total)
}

/// Reads a `--status` value: one of `pending`, `running`, `retry`, `done`, `dead`.
pub fn parse_status(text: &str) -> Result<WorkStatus, String> {
    WorkStatus::parse(text.trim()).ok_or_else(|| {
        let names: Vec<&str> = WorkStatus::ALL.iter().map(|s| s.as_str()).collect();
        format!(
            "unknown lead state `{}`; use one of: {}",
            one_line(text),
            names.join(", ")
        )
    })
}

// ----- leads ------------------------------------------------------------------------------

/// `leads list`: one line per lead matching `query`, newest first, then a count line.
///
/// The summaries carry no contact details and no retry time, so each line looks up its lead's
/// story for the masked phone and the state: one extra read per line, bounded by the query's
/// limit (100 by default). A lead whose state changed between the two reads shows the newer one.
pub fn leads_list(reader: &dyn Queries, query: &LeadQuery) -> Result<String, StoreError> {
    let leads = reader.list_leads(query)?;
    let mut table = Table::new([
        "ID",
        "VENDOR",
        "ACCOUNT",
        "LEAD ID",
        "KIND",
        "PHONE",
        "ARRIVED (UTC+8)",
        "STATE",
    ]);
    for summary in &leads {
        let story = reader.lead_story(&format!("#{}", summary.id))?;
        let phone = story
            .as_ref()
            .and_then(|s| s.lead.phone.as_deref())
            .map_or_else(|| "-".to_string(), mask_phone);
        let state = match &story {
            Some(story) => state_word(&story.state),
            None => summary.status.as_str().to_string(),
        };
        table.row([
            format!("#{}", summary.id),
            one_line(&summary.vendor),
            one_line(&summary.account),
            one_line(&summary.vendor_lead_id),
            one_line(&summary.kind),
            phone,
            beijing_time(summary.received_ms),
            state,
        ]);
    }
    let mut out = String::new();
    if !leads.is_empty() {
        out.push_str(&table.render());
    }
    let limit = query.limit.min(LeadQuery::MAX_LIMIT);
    out.push_str(&match leads.len() {
        0 => "no leads match\n".to_string(),
        1 => "1 lead\n".to_string(),
        n if n == limit => format!("{n} leads (the newest {limit}; there may be more)\n"),
        n => format!("{n} leads\n"),
    });
    Ok(out)
}

fn state_word(state: &WorkState) -> String {
    match state {
        WorkState::Pending => "pending".into(),
        WorkState::Running => "running".into(),
        WorkState::Retry { at_ms, .. } => format!("retry at {}", beijing_time(*at_ms)),
        WorkState::Done => "done".into(),
        WorkState::Dead { .. } => "dead".into(),
        WorkState::Unrouted { .. } => "unrouted".into(),
        WorkState::Skipped { .. } => "skipped".into(),
    }
}

/// `leads show ID`: the whole story of one lead — how and when it arrived, its normalized
/// fields, every run with its calls, and where it is now. `id` is a vendor lead id or a
/// journal id written `#42` (see [`JournalReader::lead_story`]). `None` when there is no such
/// lead.
pub fn lead_show(reader: &dyn Queries, id: &str) -> Result<Option<String>, StoreError> {
    let Some(story) = reader.lead_story(id)? else {
        return Ok(None);
    };
    // The dead letter's id is what `dead retry` takes, so the story names it.
    let dead_letter = match story.state {
        WorkState::Dead { .. } => reader
            .dead_letters()?
            .into_iter()
            .find(|d| d.work_id == story.work_id),
        _ => None,
    };
    Ok(Some(render_story(&story, dead_letter.as_ref())))
}

fn render_story(story: &LeadStory, dead_letter: Option<&DeadLetter>) -> String {
    let lead = &story.lead;
    let mask = Masker::for_phone(lead.phone.as_deref());
    let mut out = String::new();
    let mut line = |text: String| {
        out.push_str(&text);
        out.push('\n');
    };
    line(format!(
        "lead #{}  {} lead {} of account {}  (times are Beijing time, UTC+8)",
        story.id,
        lead.vendor.as_str(),
        // Ids are what the user types next; they are shown as they are, like in `leads list`.
        one_line(&lead.id),
        one_line(&lead.account),
    ));
    let arrival = &story.arrival;
    let how = match arrival.via {
        Via::Push => format!("pushed to {}", mask.text(&arrival.endpoint)),
        Via::Pull => format!("pulled from {}", mask.text(&arrival.endpoint)),
        Via::Manual => format!("injected by hand ({})", mask.text(&arrival.endpoint)),
    };
    line(format!(
        "arrived  {}  {how}",
        beijing_time(arrival.received_at_ms)
    ));
    if let Some(at) = lead.redacted_ms {
        // Said up front: the fields below are what retention or an erasure kept, not a lead
        // that arrived without a name and phone.
        line(format!(
            "personal data removed on {} (retention or `leads forget`); ids, kind, city and \
             outcomes are kept",
            beijing_time(at)
        ));
    }
    line(String::new());

    line("fields".into());
    let text = |value: &Option<String>| value.as_deref().map(|v| mask.text(v));
    let candidates: [(&str, Option<String>); 13] = [
        ("kind", Some(lead.kind.as_str().to_string())),
        ("name", text(&lead.name)),
        ("phone", lead.phone.as_deref().map(mask_phone)),
        ("email", text(&lead.email)),
        ("wechat", text(&lead.wechat)),
        ("qq", text(&lead.qq)),
        (
            "gender",
            (lead.gender != crate::lead::Gender::Unknown).then(|| lead.gender.as_str().to_string()),
        ),
        ("province", text(&lead.province)),
        ("city", text(&lead.city)),
        ("address", text(&lead.address)),
        ("source", text(&lead.source)),
        (
            "created at",
            lead.created_at
                .map(|t| beijing_time(t.timestamp_millis()) + "  (by the vendor)"),
        ),
        ("remark", text(&lead.remark)),
    ];
    let fields: Vec<(&str, String)> = candidates
        .into_iter()
        .filter_map(|(name, value)| value.map(|v| (name, v)))
        .collect();
    let width = fields.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    for (name, value) in &fields {
        line(format!("  {name:<width$}  {value}"));
    }
    if let Some(raw) = lead.raw.as_object() {
        line(format!(
            "  ({} raw vendor fields kept in the journal, not shown: they hold contact details)",
            raw.len()
        ));
    }
    line(String::new());

    out.push_str(&render_runs(&story.runs, story.attempts, &mask));
    let mut line = |text: String| {
        out.push_str(&text);
        out.push('\n');
    };
    line(String::new());

    line(match &story.state {
        WorkState::Pending => "now: pending (waiting for the dispatcher to claim it)".to_string(),
        WorkState::Running => "now: running (a run is routing it right now)".to_string(),
        WorkState::Retry { at_ms, reason } => format!(
            "now: waiting to retry at {} ({})",
            beijing_time(*at_ms),
            mask.text(reason)
        ),
        WorkState::Done => "now: routed".to_string(),
        WorkState::Dead { reason } => match dead_letter {
            Some(d) => format!(
                "now: dead letter: {}  (dead letter {}; after fixing the script: leadrelay dead \
                 retry {})",
                mask.text(reason),
                d.id,
                d.id
            ),
            None => format!("now: dead letter: {}", mask.text(reason)),
        },
        WorkState::Unrouted { reason } => format!(
            "now: unrouted: {}  (after fixing the scripts: leadrelay leads reroute {})",
            mask.text(reason),
            story.lead.id
        ),
        WorkState::Skipped { reason } => format!("now: skipped: {}", mask.text(reason)),
    });
    out
}

// ----- dead letters -----------------------------------------------------------------------

/// The runs part of a story (`leads show`, `follows show`).
fn render_runs(runs: &[RunStory], attempts: u32, mask: &Masker) -> String {
    let mut out = String::new();
    let mut line = |text: String| {
        out.push_str(&text);
        out.push('\n');
    };
    if runs.is_empty() {
        line("runs: none yet".into());
    } else {
        line(format!(
            "runs ({} over {} claim{})",
            runs.len(),
            attempts,
            if attempts == 1 { "" } else { "s" }
        ));
    }
    for (n, run) in runs.iter().enumerate() {
        // A run still going or cut short has no duration of its own yet.
        let took = match run.status.as_str() {
            "running" | "interrupted" => "-".to_string(),
            _ => format!("{} ms", run.elapsed_ms),
        };
        let node = run
            .node
            .as_deref()
            .map(|node| format!("  on node {}", mask.text(node)))
            .unwrap_or_default();
        line(format!(
            "  run {}  attempt {}  {}  handler {}  version {}  started {}  {took}  {}{node}",
            n + 1,
            run.attempt,
            mask.text(&run.script),
            mask.text(&run.handler),
            mask.text(&run.version),
            beijing_time(run.started_ms),
            mask.text(&run.status),
        ));
        if let Some(error) = &run.error {
            line(format!("    error: {}", mask.text(error)));
        }
        if let Some(note) = &run.note {
            line(format!("    skipped: {}", mask.text(note)));
        }
        if run.status == "interrupted" {
            line(
                "    the daemon stopped during this run; its calls below were journaled as they \
                 returned, and those that succeeded are replayed, not sent again, by the next run"
                    .to_string(),
            );
        }
        for call in &run.calls {
            let mut parts = vec![
                format!("call {}", call.seq),
                format!(
                    "{} {} {}",
                    mask.text(&call.vendor),
                    mask.text(&call.account),
                    mask.text(&call.op)
                ),
                if call.ok { "ok" } else { "failed" }.to_string(),
            ];
            if let Some(status) = call.status {
                parts.push(format!("HTTP {status}"));
            }
            if let Some(code) = &call.code {
                parts.push(format!("code {}", mask.text(code)));
            }
            parts.push(format!(
                "{} attempt{}",
                call.attempts,
                if call.attempts == 1 { "" } else { "s" }
            ));
            if call.replayed {
                parts.push("replayed from the journal".into());
            }
            line(format!("    {}", parts.join("  ")));
            if let Some(message) = &call.message {
                line(format!("      message: {}", mask.text(message)));
            }
            if let Some(response) = &call.response_summary {
                line(format!("      response: {}", mask.text(response)));
            }
        }
    }
    out
}

/// `follows list`: Waiqin follow records, newest first, one line each, without contact
/// details.
pub fn follows_list(
    reader: &dyn Queries,
    since_ms: Option<i64>,
    account: Option<&str>,
    limit: usize,
) -> Result<String, StoreError> {
    let follows = reader.list_follows(since_ms, account, limit)?;
    let mut table = Table::new([
        "ID",
        "ACCOUNT",
        "MSG ID",
        "DATA ID",
        "ARRIVED (UTC+8)",
        "STATE",
    ]);
    for f in &follows {
        let state = match &f.reason {
            Some(reason) if !reason.is_empty() => {
                format!("{}: {}", f.status, mask_phones_in(&one_line(reason)))
            }
            _ => f.status.as_str().to_string(),
        };
        table.row([
            format!("#{}", f.id),
            one_line(&f.account),
            one_line(&f.msg_id),
            f.data_id
                .as_deref()
                .map_or_else(|| "-".to_string(), one_line),
            beijing_time(f.received_ms),
            state,
        ]);
    }
    let mut out = String::new();
    if !follows.is_empty() {
        out.push_str(&table.render());
    }
    let limit = limit.min(LeadQuery::MAX_LIMIT);
    out.push_str(&match follows.len() {
        0 => "no follow records match\n".to_string(),
        1 => "1 follow record\n".to_string(),
        n if n == limit => format!("{n} follow records (the newest {limit}; there may be more)\n"),
        n => format!("{n} follow records\n"),
    });
    Ok(out)
}

/// `follows show ID`: one follow record (its fields with phones masked), its runs and calls,
/// and where its work is. `None` when there is no such record.
pub fn follow_show(reader: &dyn Queries, id: &str) -> Result<Option<String>, StoreError> {
    let Some(story) = reader.follow_story(id)? else {
        return Ok(None);
    };
    let mask = Masker::for_phone(None);
    let mut out = String::new();
    let mut line = |text: String| {
        out.push_str(&text);
        out.push('\n');
    };
    line(format!(
        "follow record #{}  msgId {} of waiqin account {}  (times are Beijing time, UTC+8)",
        story.id,
        one_line(&story.msg_id),
        one_line(&story.account)
    ));
    let arrival = &story.arrival;
    let how = match arrival.via {
        Via::Push => format!("pushed to {}", mask.text(&arrival.endpoint)),
        Via::Pull => format!("pulled from {}", mask.text(&arrival.endpoint)),
        Via::Manual => format!("injected by hand ({})", mask.text(&arrival.endpoint)),
    };
    line(format!(
        "arrived  {}  {how}",
        beijing_time(arrival.received_at_ms)
    ));
    if let Some(data_id) = &story.data_id {
        line(format!("dataId   {}", one_line(data_id)));
    }
    line(String::new());
    match story.record.as_object() {
        Some(fields) if !fields.is_empty() => {
            line("fields".into());
            let width = fields.keys().map(|k| display_width(k)).max().unwrap_or(0);
            for (key, value) in fields {
                let text = match value {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let mut shown = mask.text(&text);
                if shown.chars().count() > 100 {
                    shown = shown.chars().take(100).collect::<String>() + "…";
                }
                let pad = width.saturating_sub(display_width(key));
                line(format!("  {}{}  {shown}", one_line(key), " ".repeat(pad)));
            }
        }
        _ => line("fields: none kept (redacted by retention or `leads forget`)".into()),
    }
    line(String::new());
    out.push_str(&render_runs(&story.runs, story.attempts, &mask));
    out.push('\n');
    out.push_str(&match &story.state {
        WorkState::Pending => "now: pending (waiting for the dispatcher to claim it)".to_string(),
        WorkState::Running => "now: running (a run is handling it right now)".to_string(),
        WorkState::Retry { at_ms, reason } => format!(
            "now: waiting to retry at {} ({})",
            beijing_time(*at_ms),
            mask.text(reason)
        ),
        WorkState::Done => "now: handled".to_string(),
        WorkState::Dead { reason } => format!(
            "now: dead letter: {}  (see leadrelay dead list)",
            mask.text(reason)
        ),
        WorkState::Unrouted { reason } => format!("now: unrouted: {}", mask.text(reason)),
        WorkState::Skipped { reason } => format!("now: skipped: {}", mask.text(reason)),
    });
    out.push('\n');
    Ok(Some(out))
}

/// `dead list`: the open dead letters (leads, follow records and scheduled jobs), oldest first,
/// and how to retry them.
///
/// The handler is the one whose run failed last; it comes from the lead's story, found by its
/// vendor lead id. It reads `-` for follow records and for the rare lead whose vendor lead id
/// is shared with a newer lead of another account.
pub fn dead_list(reader: &dyn Queries) -> Result<String, StoreError> {
    let letters = reader.dead_letters()?;
    if letters.is_empty() {
        return Ok("no dead letters\n".to_string());
    }
    let mut table = Table::new(["ID", "LEAD", "ACCOUNT", "HANDLER", "DIED (UTC+8)", "REASON"]);
    for letter in &letters {
        if letter.kind == "job" {
            table.row(job_dead_letter_row(letter));
            continue;
        }
        let story = match letter.kind.as_str() {
            "lead" => reader
                .lead_story(&letter.item)?
                .filter(|s| s.work_id == letter.work_id),
            _ => None,
        };
        let mask = Masker::for_phone(story.as_ref().and_then(|s| s.lead.phone.as_deref()));
        let handler = story
            .as_ref()
            .and_then(|s| {
                s.runs
                    .iter()
                    .rev()
                    .find(|r| r.error.is_some())
                    .or(s.runs.last())
            })
            .map_or_else(|| "-".to_string(), |r| mask.text(&r.handler));
        let what = match (&story, letter.kind.as_str()) {
            (Some(story), _) => format!("#{} {}", story.id, one_line(&letter.item)),
            (None, "lead") => one_line(&letter.item),
            (None, kind) => format!("{kind} {}", one_line(&letter.item)),
        };
        table.row([
            letter.id.to_string(),
            what,
            one_line(&letter.account),
            handler,
            beijing_time(letter.created_ms),
            mask.text(&letter.reason),
        ]);
    }
    let mut out = table.render();
    out.push_str(&format!(
        "{} dead letter{}\nafter fixing the script: leadrelay dead retry ID (or --all)\n",
        letters.len(),
        if letters.len() == 1 { "" } else { "s" }
    ));
    Ok(out)
}

/// A scheduled job's dead letter: the job (`job script::function`) and its slot, the function
/// as the handler. Jobs have no account.
fn job_dead_letter_row(letter: &DeadLetter) -> [String; 6] {
    // The key is `path::function::cron`; the cron expression never contains `::`.
    let mut parts = letter.item.rsplitn(3, "::");
    let (cron, function, path) = (parts.next(), parts.next(), parts.next());
    let (what, handler) = match (cron, function, path) {
        (Some(cron), Some(function), Some(path)) => (
            format!(
                "job {}::{} ({}) slot {}",
                one_line(path),
                one_line(function),
                one_line(cron),
                letter.slot_ms.map_or_else(|| "-".to_string(), beijing_time)
            ),
            one_line(function),
        ),
        _ => (format!("job {}", one_line(&letter.item)), "-".to_string()),
    };
    [
        letter.id.to_string(),
        what,
        "-".to_string(),
        handler,
        beijing_time(letter.created_ms),
        mask_phones_in(&one_line(&letter.reason)),
    ]
}

// ----- quarantine -------------------------------------------------------------------------

/// `quarantine list`: payloads that passed their signature check but could not be parsed.
pub fn quarantine_list(reader: &dyn Queries) -> Result<String, StoreError> {
    let items = reader.quarantined()?;
    if items.is_empty() {
        return Ok("quarantine is empty\n".to_string());
    }
    let mut table = Table::new([
        "ID",
        "ACCOUNT",
        "ENDPOINT",
        "SIZE",
        "ARRIVED (UTC+8)",
        "REASON",
    ]);
    for item in &items {
        table.row([
            item.id.to_string(),
            one_line(&item.account),
            one_line(&item.endpoint),
            format!("{} B", item.bytes),
            beijing_time(item.received_ms),
            mask_phones_in(&one_line(&item.reason)),
        ]);
    }
    let mut out = table.render();
    out.push_str(&format!(
        "{} quarantined payload{}; see one with: leadrelay quarantine show ID\n",
        items.len(),
        if items.len() == 1 { "" } else { "s" }
    ));
    Ok(out)
}

/// `quarantine show ID`: the metadata and the body exactly as it arrived — as text when it is
/// UTF-8 without control characters (other than line breaks and tabs), otherwise as a hex
/// dump. `None` when there is no such item.
pub fn quarantine_show(reader: &dyn Queries, id: i64) -> Result<Option<String>, StoreError> {
    let Some(item) = reader.quarantine_item(id)? else {
        return Ok(None);
    };
    let mut out = String::new();
    let fields = [
        ("id", id.to_string()),
        ("account", one_line(&item.account)),
        ("endpoint", one_line(&item.endpoint)),
        (
            "arrived",
            format!("{} (UTC+8)", beijing_time(item.received_at_ms)),
        ),
        (
            "content type",
            item.content_type
                .as_deref()
                .map_or_else(|| "(none)".to_string(), one_line),
        ),
        ("reason", one_line(&item.reason)),
        ("size", format!("{} bytes", item.body.len())),
    ];
    for (name, value) in fields {
        out.push_str(&format!("{name:<12}  {value}\n"));
    }
    out.push('\n');
    match printable_text(&item.body) {
        _ if item.body.is_empty() => out.push_str("body: (empty)\n"),
        _ if item.body == crate::store::retention::QUARANTINE_ERASED => {
            out.push_str("body: removed on request (`leads forget`): it held personal data\n")
        }
        Some(text) => {
            out.push_str("body (UTF-8 text, exactly as received):\n");
            out.push_str(text);
            if !text.ends_with('\n') {
                out.push_str("\n(no newline at end of body)\n");
            }
        }
        None => {
            let why = if std::str::from_utf8(&item.body).is_ok() {
                "UTF-8 with control characters"
            } else {
                "not valid UTF-8"
            };
            out.push_str(&format!("body ({why}; hex dump):\n"));
            out.push_str(&hex_dump(&item.body));
        }
    }
    Ok(Some(out))
}

/// The body as text when printing it cannot disturb the terminal.
fn printable_text(body: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(body).ok()?;
    text.chars()
        .all(|c| !c.is_control() || matches!(c, '\n' | '\t' | '\r'))
        .then_some(text)
}

/// `xxd`-style: offset, 16 bytes in hex, and the printable ASCII beside them.
fn hex_dump(bytes: &[u8]) -> String {
    let mut out = String::new();
    for (row, chunk) in bytes.chunks(16).enumerate() {
        let mut hex = String::with_capacity(48);
        for (i, byte) in chunk.iter().enumerate() {
            if i == 8 {
                hex.push(' ');
            }
            hex.push_str(&format!("{byte:02x} "));
        }
        let ascii: String = chunk
            .iter()
            .map(|&b| {
                if b.is_ascii_graphic() || b == b' ' {
                    b as char
                } else {
                    '.'
                }
            })
            .collect();
        out.push_str(&format!("{:08x}  {hex:<49} |{ascii}|\n", row * 16));
    }
    out
}

// ----- status -----------------------------------------------------------------------------

/// `status` section "retention": the journal's size, its oldest lead, erasures, and what the
/// next prune under `policy` will remove, as of `now_ms`.
pub fn retention_section(
    reader: &dyn Queries,
    policy: crate::store::RetentionPolicy,
    now_ms: i64,
) -> Result<StatusSection, StoreError> {
    let r = reader.retention_status(policy, now_ms)?;
    let mb = |b: u64| format!("{:.1} MB", b as f64 / 1_000_000.0);
    let mut body = format!(
        "journal size {} (+ WAL {}, {} free inside)\n",
        mb(r.file_bytes),
        mb(r.wal_bytes),
        mb(r.free_bytes)
    );
    body.push_str(&match r.oldest_lead_ms {
        Some(ms) => format!(
            "oldest lead arrived {} ({})\n",
            beijing_time(ms),
            ago(now_ms, ms)
        ),
        None => "no leads stored\n".to_string(),
    });
    body.push_str(&format!(
        "policy: delete final items after {} days, remove personal data after {} days; {} lead{} \
         redacted so far\n",
        policy.keep_days,
        policy.personal_data_days,
        r.redacted_leads,
        plural(r.redacted_leads)
    ));
    let next = r.next_prune;
    body.push_str(&format!(
        "next prune: delete {} lead{}, {} follow record{}, {} job item{}; redact {} lead{}, {} \
         follow record{}\n",
        next.deleted_leads,
        plural(next.deleted_leads),
        next.deleted_follows,
        plural(next.deleted_follows),
        next.deleted_jobs,
        plural(next.deleted_jobs),
        next.redacted_leads,
        plural(next.redacted_leads),
        next.redacted_follows,
        plural(next.redacted_follows),
    ));
    body.push_str(&match r.last_erasure_ms {
        Some(ms) => format!(
            "erasures on request: {} (last {})\n",
            r.erasures,
            beijing_time(ms)
        ),
        None => "erasures on request: none\n".to_string(),
    });
    Ok(("retention".to_string(), body))
}

/// `status`: the journal at a glance — backlog by state, dead letters, quarantine, pull
/// checkpoints and cron schedules — followed by the `extra` sections the daemon adds (see
/// [`StatusSection`]). Ages are counted from the system clock: this is the CLI's entry (the
/// command runs in its own process, whose clock is the system's); [`status_report_at`] takes
/// the time.
pub fn status_report(reader: &dyn Queries, extra: &[StatusSection]) -> Result<String, StoreError> {
    status_report_at(reader, crate::clock::Clock::system().unix_millis(), extra)
}

/// [`status_report`] with ages counted from `now_ms`.
pub fn status_report_at(
    reader: &dyn Queries,
    now_ms: i64,
    extra: &[StatusSection],
) -> Result<String, StoreError> {
    let status = reader.status()?;
    let mut out = format!(
        "journal {}  (schema {}; times are Beijing time, UTC+8)\n",
        reader.location(),
        status.schema_version
    );
    out.push_str(&format!(
        "stored: {} lead{}, {} follow record{}\n\n",
        status.leads,
        plural(status.leads),
        status.follows,
        plural(status.follows),
    ));

    out.push_str("work by state\n");
    let mut table = Table::new(["", "STATE", "COUNT"]);
    for (state, n) in &status.work {
        table.row([String::new(), state.as_str().to_string(), n.to_string()]);
    }
    table.row([
        String::new(),
        "backlog".to_string(),
        format!("{} (pending + running + retry)", status.backlog()),
    ]);
    out.push_str(&table.render());
    let unrouted = status.count(WorkStatus::Unrouted);
    if unrouted > 0 {
        out.push_str(&format!(
            "unrouted: {unrouted} (no handler matched; leadrelay leads list --status unrouted, \
             then after a fix: leadrelay leads reroute --unrouted)\n"
        ));
    }
    out.push_str(&format!(
        "dead letters: {} open{}\n",
        status.dead_letters,
        if status.dead_letters > 0 {
            "  (leadrelay dead list)"
        } else {
            ""
        }
    ));
    out.push_str(&format!(
        "quarantine: {} payload{}{}\n\n",
        status.quarantined,
        plural(status.quarantined),
        if status.quarantined > 0 {
            "  (leadrelay quarantine list)"
        } else {
            ""
        }
    ));

    if !status.nodes.is_empty() {
        out.push_str(&nodes_section(&status.nodes, now_ms));
    }

    if status.checkpoints.is_empty() {
        out.push_str("checkpoints: none (no pull has committed yet)\n\n");
    } else {
        out.push_str("checkpoints\n");
        let mut table = Table::new([
            "",
            "ACCOUNT",
            "ENDPOINT",
            "POSITION",
            "POSITION (UTC+8)",
            "BEHIND",
            "ADVANCED",
        ]);
        for cp in &status.checkpoints {
            let at = position_ms(&cp.position);
            table.row([
                String::new(),
                one_line(&cp.account),
                one_line(&cp.endpoint),
                one_line(&cp.position),
                at.map_or_else(|| "-".to_string(), beijing_time),
                at.map_or_else(|| "-".to_string(), |ms| age(now_ms.saturating_sub(ms))),
                ago(now_ms, cp.updated_ms),
            ]);
        }
        out.push_str(&table.render());
        out.push('\n');
    }

    if status.cron.is_empty() {
        out.push_str("cron: no schedule has fired yet\n");
    } else {
        out.push_str("cron\n");
        let mut table = Table::new([
            "",
            "SCHEDULE",
            "LAST SLOT",
            "CLAIMED",
            "CLAIMS",
            "SKIPS",
            "LAST SKIP",
        ]);
        for cron in &status.cron {
            table.row([
                String::new(),
                one_line(&cron.schedule_key),
                cron.last_slot_ms
                    .map_or_else(|| "-".to_string(), beijing_time),
                cron.last_claimed_ms
                    .map_or_else(|| "-".to_string(), |ms| ago(now_ms, ms)),
                cron.claims.to_string(),
                cron.skips.to_string(),
                cron.last_skip_reason
                    .as_deref()
                    .map_or_else(|| "-".to_string(), one_line),
            ]);
        }
        out.push_str(&table.render());
    }

    for (heading, body) in extra {
        out.push('\n');
        out.push_str(&one_line(heading));
        out.push('\n');
        for line in body.lines() {
            out.push_str("  ");
            out.push_str(&mask_phones_in(&one_line(line)));
            out.push('\n');
        }
    }
    Ok(out)
}

/// The warning `status` prints first, one line per account whose vendor refused the timestamps
/// of its latest calls (the daemon's breakers count them): `(account, clock failures in a
/// row)`. Empty when there is none. Those leads wait in `retry`, so without this line an
/// operator would see a backlog growing for no visible reason.
pub fn clock_skew_warning(suspects: &[(String, u32)]) -> String {
    let mut out = String::new();
    for (account, failures) in suspects {
        out.push_str(&format!(
            "!! clock skew suspected for account {}: the vendor refused the timestamp of its last {failures} call{}; check this host's clock (NTP). Its leads are retried, not dead-lettered, until retry_max_age_secs.\n",
            one_line(account),
            plural(u64::from(*failures)),
        ));
    }
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

/// The daemon's replay-guard counts as a `status` section: per Tencent push path, the pushes
/// since the daemon started that reused a signature with another body. `None` when the daemon
/// has no such path.
pub fn suspicious_pushes_section(counts: &[(String, u64)]) -> Option<StatusSection> {
    if counts.is_empty() {
        return None;
    }
    let body = counts
        .iter()
        .map(|(path, n)| match n {
            0 => format!("{path}: none\n"),
            n => format!(
                "{path}: {n} suspicious push{} (an X-Signature reused with another body; see README \"Security\")\n",
                if *n == 1 { "" } else { "es" }
            ),
        })
        .collect();
    Some((
        "suspicious pushes since the daemon started".to_string(),
        body,
    ))
}

/// A checkpoint position read as a time, when it is one: positions are opaque, but the pulls
/// we ship store the end of the last pulled window as unix seconds.
fn position_ms(position: &str) -> Option<i64> {
    // 2000-01-01 .. 2100-01-01: anything else is a cursor or page number, not a time.
    const PLAUSIBLE: std::ops::Range<i64> = 946_684_800..4_102_444_800;
    let secs: i64 = position.trim().parse().ok()?;
    PLAUSIBLE.contains(&secs).then(|| secs * 1000)
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

// ----- text helpers -----------------------------------------------------------------------

/// Free text for one line: line breaks and tabs become spaces, other control characters are
/// shown escaped (`\u{1b}`), so outside text cannot break the layout or drive the terminal.
fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => out.push_str(&c.escape_unicode().to_string()),
            c => out.push(c),
        }
    }
    out
}

/// Redaction for one lead's story: its own phone, however it is embedded, plus anything else
/// shaped like a mobile number.
struct Masker {
    phone: Option<(String, String)>,
}

impl Masker {
    fn for_phone(phone: Option<&str>) -> Masker {
        // A phone this short would mask unrelated digits; the shape rule still applies.
        let phone = phone
            .map(str::trim)
            .filter(|p| p.chars().filter(char::is_ascii_digit).count() >= 6)
            .map(|p| (p.to_string(), mask_phone(p)));
        Masker { phone }
    }

    fn text(&self, text: &str) -> String {
        let text = one_line(text);
        let text = match &self.phone {
            Some((full, masked)) => text.replace(full.as_str(), masked),
            None => text,
        };
        mask_phones_in(&text)
    }
}

/// Columns padded to the widest cell, counting East Asian wide characters as two columns so
/// Chinese account names and reasons stay aligned. The last column is not padded.
struct Table<const N: usize> {
    rows: Vec<[String; N]>,
}

impl<const N: usize> Table<N> {
    fn new(headers: [&str; N]) -> Self {
        Table {
            rows: vec![headers.map(str::to_string)],
        }
    }

    fn row(&mut self, cells: [String; N]) {
        self.rows.push(cells);
    }

    fn render(&self) -> String {
        let mut widths = [0usize; N];
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(display_width(cell));
            }
        }
        let mut out = String::new();
        for row in &self.rows {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                line.push_str(cell);
                if i + 1 < N {
                    line.push_str(&" ".repeat(widths[i] - display_width(cell)));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// Terminal columns `text` takes: 2 for East Asian wide and full-width characters, else 1.
fn display_width(text: &str) -> usize {
    text.chars()
        .map(|c| match c as u32 {
            0x1100..=0x115F
            | 0x2E80..=0x303E
            | 0x3041..=0x33FF
            | 0x3400..=0x4DBF
            | 0x4E00..=0x9FFF
            | 0xA000..=0xA4CF
            | 0xAC00..=0xD7A3
            | 0xF900..=0xFAFF
            | 0xFE30..=0xFE4F
            | 0xFF00..=0xFF60
            | 0xFFE0..=0xFFE6
            | 0x1F300..=0x1F64F
            | 0x1F900..=0x1F9FF
            | 0x20000..=0x3FFFD => 2,
            _ => 1,
        })
        .sum()
}

/// The nodes sharing a PostgreSQL journal: heartbeat age, version, live scripts and open
/// breakers, and a warning when the nodes alive run different script versions.
fn nodes_section(nodes: &[crate::store::NodeRow], now_ms: i64) -> String {
    // Alive: a heartbeat within the last minute (heartbeats come every few seconds).
    let alive = |n: &crate::store::NodeRow| now_ms.saturating_sub(n.heartbeat_ms) < 60_000;
    let mut out = String::from("nodes\n");
    let mut table = Table::new([
        "",
        "NODE",
        "HEARTBEAT",
        "STARTED",
        "VERSION",
        "SCRIPTS",
        "OPEN BREAKERS",
    ]);
    for node in nodes {
        table.row([
            if alive(node) {
                String::new()
            } else {
                "down".to_string()
            },
            one_line(&node.name),
            ago(now_ms, node.heartbeat_ms),
            ago(now_ms, node.started_ms),
            one_line(&node.leadrelay),
            if node.scripts.is_empty() {
                "-".to_string()
            } else {
                one_line(&node.scripts)
            },
            if node.open_breakers.is_empty() {
                "-".to_string()
            } else {
                one_line(&node.open_breakers)
            },
        ]);
    }
    out.push_str(&table.render());
    let versions: std::collections::BTreeSet<&str> = nodes
        .iter()
        .filter(|n| alive(n) && !n.scripts.is_empty())
        .map(|n| n.scripts.as_str())
        .collect();
    if versions.len() > 1 {
        out.push_str(
            "WARNING: the nodes alive run different script versions; deploy the same scripts \
             to every node\n",
        );
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mobile_shaped_numbers_are_masked_and_ids_are_not() {
        assert_eq!(
            mask_phones_in("call 13812345678 or 8613912345678 now"),
            "call 138******78 or 861********78 now"
        );
        // A 19-digit lead id and a 10-digit timestamp are not phones.
        let ids = "lead 1234567890123456789 at 1714527000";
        assert_eq!(mask_phones_in(ids), ids);
        assert_eq!(
            mask_phones_in("12345678901"),
            "12345678901",
            "12… is no mobile"
        );
    }

    #[test]
    fn one_line_defuses_control_characters() {
        assert_eq!(one_line("a\nb\tc"), "a b c");
        assert_eq!(one_line("\u{1b}[31mred"), "\\u{1b}[31mred");
    }

    #[test]
    fn tables_align_wide_characters() {
        let mut t = Table::new(["A", "B"]);
        t.row(["广州".into(), "x".into()]);
        t.row(["ab".into(), "y".into()]);
        assert_eq!(t.render(), "A     B\n广州  x\nab    y\n");
    }

    #[test]
    fn ages_read_short() {
        assert_eq!(age(45_000), "45s");
        assert_eq!(age(3 * 60_000 + 5_000), "3m");
        assert_eq!(age(2 * 3_600_000 + 5 * 60_000), "2h05m");
        assert_eq!(age(3 * 86_400_000 + 4 * 3_600_000), "3d04h");
        assert_eq!(age(-60_000), "in 1m");
    }

    #[test]
    fn hex_dump_shows_offsets_bytes_and_ascii() {
        let dump = hex_dump(b"0123456789abcdef{\"a\":\xff}");
        let lines: Vec<&str> = dump.lines().collect();
        assert_eq!(
            lines[0],
            "00000000  30 31 32 33 34 35 36 37  38 39 61 62 63 64 65 66  |0123456789abcdef|"
        );
        assert!(lines[1].starts_with("00000010  7b 22 61 22 3a ff 7d "));
        assert!(lines[1].ends_with(" |{\"a\":.}|"));
        // A short last line keeps the text column where the full lines have it.
        assert_eq!(lines[0].find('|'), lines[1].find('|'));
    }
}
