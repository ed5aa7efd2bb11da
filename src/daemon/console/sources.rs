//! `/sources`: pull sources (schedule, next pull, checkpoint, lag) and cron jobs (next fire,
//! slots fired, slots skipped and why).

use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::overview::position_ms;
use super::{escape, read, text};
use crate::daemon::admin::AdminState;
use crate::host::run::Declaration;
use crate::host::schedule::parse_cron;

/// `GET /sources`.
pub async fn page(State(state): State<AdminState>) -> Response {
    let status = match read(&state, |r| r.status()).await {
        Ok(s) => s,
        Err(response) => return response,
    };
    let now = state.clock.now();
    let now_ms = state.clock.unix_millis();
    let mut body = String::new();

    body.push_str("<h2>Pull sources</h2>");
    if state.pulls.is_empty() {
        body.push_str("<p class=\"muted\">No source is pulled on a schedule.</p>");
    } else {
        body.push_str(
            "<table id=\"pulls\"><tr><th>account</th><th>endpoint</th><th>schedule (UTC+8)</th>\
             <th>next pull (UTC+8)</th><th>last pull (UTC+8)</th><th>last committed (UTC+8)</th>\
             <th>pulled up to</th><th>lag</th><th>skipped ticks</th></tr>",
        );
        for pull in &state.pulls {
            let last_pull = pull.health.last();
            // After a failure the next pull is the backoff's retry, not the next tick.
            let next_ms = match &last_pull {
                Some(last) if last.next_ms.is_some_and(|n| n > now_ms) => last.next_ms,
                _ => pull
                    .schedule
                    .after(&now.with_timezone(&crate::clock::beijing()))
                    .next()
                    .map(|t| t.timestamp_millis()),
            };
            let next = next_ms.map_or_else(|| "never".to_string(), super::time);
            let last = match &last_pull {
                None => "<span class=\"muted\">none since the daemon started</span>".to_string(),
                Some(l) => match &l.error {
                    None => format!("{} <span class=\"ok\">ok</span>", super::time(l.at_ms)),
                    Some(error) => format!(
                        "{} <span class=\"error\">failed ({} in a row): {}</span>",
                        super::time(l.at_ms),
                        l.failures,
                        text(error)
                    ),
                },
            };
            let checkpoint = status
                .checkpoints
                .iter()
                .find(|c| c.account == pull.account && c.endpoint == pull.endpoint);
            let (committed, upto, lag) = match checkpoint {
                None => ("not yet".to_string(), "-".to_string(), "-".to_string()),
                Some(c) => {
                    let (upto, lag) = match position_ms(&c.position) {
                        Some(at) => (super::time(at), crate::inspect::age(now_ms - at)),
                        None => (text(&c.position), "-".to_string()),
                    };
                    (super::time(c.updated_ms), upto, lag)
                }
            };
            body.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{next}</td><td>{last}</td>\
                 <td>{committed}</td><td>{upto}</td><td class=\"n\">{lag}</td><td class=\"n\">{}</td></tr>",
                escape(&pull.account),
                escape(&pull.endpoint),
                escape(&pull.schedule.to_string()),
                pull.health.skipped_ticks(),
            ));
        }
        body.push_str("</table>");
        body.push_str(
            "<p class=\"muted\">A failed pull is retried with a growing backoff; the checkpoint \
             only moves when a pull commits, so the next one covers the same window.</p>",
        );
    }
    let others: Vec<_> = status
        .checkpoints
        .iter()
        .filter(|c| {
            !state
                .pulls
                .iter()
                .any(|p| p.account == c.account && p.endpoint == c.endpoint)
        })
        .collect();
    if !others.is_empty() {
        body.push_str("<h2>Other checkpoints</h2><table><tr><th>account</th><th>endpoint</th><th>position</th><th>updated (UTC+8)</th></tr>");
        for c in others {
            body.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&c.account),
                escape(&c.endpoint),
                text(&c.position),
                super::time(c.updated_ms)
            ));
        }
        body.push_str("</table>");
    }

    body.push_str("<h2>Cron jobs</h2>");
    let mut jobs = Vec::new();
    for version in state.host.generation().scripts.values() {
        for declaration in &version.declarations {
            if let Declaration::Schedule { cron, function, .. } = declaration {
                let key = crate::daemon::cron::job_key(&version.path, function, cron);
                let next = parse_cron(cron)
                    .ok()
                    .and_then(|s| s.after(&now.with_timezone(&state.zone)).next())
                    .map_or_else(
                        || "never".to_string(),
                        |t| super::time(t.timestamp_millis()),
                    );
                jobs.push((
                    key,
                    version.path.to_string(),
                    function.clone(),
                    cron.clone(),
                    next,
                ));
            }
        }
    }
    if jobs.is_empty() && status.cron.is_empty() {
        body.push_str("<p class=\"muted\">No script declares a schedule.</p>");
    } else {
        body.push_str(
            "<table id=\"cron\"><tr><th>script</th><th>handler</th><th>schedule</th><th>next fire (UTC+8)</th>\
             <th>last slot (UTC+8)</th><th>fired</th><th>skipped</th><th>last skip</th></tr>",
        );
        let row = |key: &str| status.cron.iter().find(|c| c.schedule_key == key);
        for (key, path, function, cron, next) in &jobs {
            let history = row(key);
            body.push_str(&format!(
                "<tr><td>{}</td><td><code>{}</code></td><td><code>{}</code></td><td>{next}</td>\
                 <td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
                text(path),
                escape(function),
                escape(cron),
                history
                    .and_then(|h| h.last_slot_ms)
                    .map_or_else(|| "-".to_string(), super::time),
                history.map_or(0, |h| h.claims),
                history.map_or(0, |h| h.skips),
                history
                    .and_then(|h| h.last_skip_reason.as_deref())
                    .map_or_else(|| "-".to_string(), text),
            ));
        }
        for history in status
            .cron
            .iter()
            .filter(|c| !jobs.iter().any(|(k, ..)| *k == c.schedule_key))
        {
            body.push_str(&format!(
                "<tr class=\"muted\"><td colspan=\"3\">{} (no longer declared)</td><td>-</td><td>{}</td>\
                 <td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
                text(&history.schedule_key),
                history
                    .last_slot_ms
                    .map_or_else(|| "-".to_string(), super::time),
                history.claims,
                history.skips,
                history
                    .last_skip_reason
                    .as_deref()
                    .map_or_else(|| "-".to_string(), text),
            ));
        }
        body.push_str("</table>");
    }
    super::page(&state, "/sources", "Sources and cron", &body).into_response()
}
