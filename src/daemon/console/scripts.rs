//! `/scripts`: each script's live version, its handlers, and the last reload's verdict with
//! every error at `path:line:col`.

use std::time::UNIX_EPOCH;

use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::overview::{short, verdict_word};
use super::{escape, text};
use crate::daemon::admin::AdminState;
use crate::host::generation::Verdict;
use crate::host::run::Declaration;

/// `GET /scripts`.
pub async fn page(State(state): State<AdminState>) -> Response {
    let statuses = state.host.status();
    let generation = state.host.generation();
    let mut body = String::new();
    if statuses.is_empty() {
        body.push_str("<p id=\"none\">No scripts are loaded.</p>");
    }
    body.push_str(
        "<table id=\"scripts\"><tr><th>script</th><th>live version</th><th>last reload</th>\
         <th>decided (UTC+8)</th><th>handlers</th></tr>",
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
            "<tr><td>{}</td><td>{version}</td><td>{verdict}</td><td>{decided}</td><td>{}</td></tr>",
            text(path),
            if handlers.is_empty() {
                "-".to_string()
            } else {
                handlers.join("<br>")
            }
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
