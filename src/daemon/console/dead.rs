//! `/dead` and `/unrouted`: what is stuck, and putting it back after a fix (as
//! `leadrelay dead retry` and `leadrelay leads reroute` do).

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;

use super::leads::search_link;
use super::{csrf_field, escape, note, problem, read, text, url_encode};
use crate::daemon::admin::AdminState;
use crate::store::{DeadSelector, LeadQuery, RerouteSelector, WorkStatus};

/// How many unrouted leads the page lists.
pub const UNROUTED_LIMIT: usize = 200;

/// `?note=` after an action.
#[derive(Debug, Default, serde::Deserialize)]
pub struct NoteQuery {
    /// What the action did.
    #[serde(default)]
    pub note: Option<String>,
}

/// `GET /dead`: dead letters not yet retried, with their reasons.
pub async fn dead_page(State(state): State<AdminState>, Query(q): Query<NoteQuery>) -> Response {
    let dead = match read(&state, |r| r.dead_letters()).await {
        Ok(d) => d,
        Err(response) => return response,
    };
    let csrf = csrf_field(&state);
    let mut body = note(q.note.as_deref());
    if dead.is_empty() {
        body.push_str("<p id=\"none\">No dead letters.</p>");
    } else {
        body.push_str(&format!(
            "<p>{} dead letter{}. Fix the script or the account first, then retry: the item goes \
             back to pending with its attempts reset, like <code>leadrelay dead retry</code>.</p>\
             <form method=\"post\" action=\"/dead/retry\" class=\"inline\">{csrf}\
             <input type=\"hidden\" name=\"which\" value=\"all\">\
             <button type=\"submit\" id=\"retry-all\">Retry all</button></form>\
             <table id=\"dead\"><tr><th>dead letter</th><th>item</th><th>account</th><th>reason</th>\
             <th>attempts</th><th>since (UTC+8)</th><th></th></tr>",
            dead.len(),
            if dead.len() == 1 { "" } else { "s" }
        ));
        for d in &dead {
            let item = if d.kind == "lead" {
                format!("lead {}", search_link(&d.item, &d.item))
            } else {
                format!("{} {}", escape(&d.kind), text(&d.item))
            };
            body.push_str(&format!(
                "<tr><td>{id}</td><td>{item}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td>\
                 <td>{}</td><td><form method=\"post\" action=\"/dead/retry\" class=\"inline\">{csrf}\
                 <input type=\"hidden\" name=\"which\" value=\"{id}\">\
                 <button type=\"submit\" id=\"retry-{id}\">Retry</button></form></td></tr>",
                escape(&d.account),
                text(&d.reason),
                d.attempts,
                super::time(d.created_ms),
                id = d.id,
            ));
        }
        body.push_str("</table>");
    }
    super::page(&state, "/dead", "Dead letters", &body).into_response()
}

/// The retry and reroute forms.
#[derive(Debug, serde::Deserialize)]
pub struct ActionForm {
    /// `all`, or one dead letter's id / one lead (`#42` or a vendor lead id).
    pub which: String,
}

/// `POST /dead/retry`: `which` = a dead letter id or `all`.
pub async fn retry(State(state): State<AdminState>, Form(form): Form<ActionForm>) -> Response {
    let which = match form.which.trim() {
        "all" => DeadSelector::All,
        id => match id.parse() {
            Ok(id) => DeadSelector::One(id),
            Err(_) => {
                return problem(
                    StatusCode::BAD_REQUEST,
                    &format!("`{id}` is neither a dead letter id nor `all`"),
                )
            }
        },
    };
    match state.journal.retry_dead(which).await {
        Ok(n) => {
            if n > 0 {
                state.wake.notify_one();
            }
            tracing::info!(retried = n, "console: dead letters retried");
            done("/dead", &format!("{n} dead letter(s) queued again"))
        }
        Err(e) => problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("cannot retry: {e}"),
        ),
    }
}

/// `GET /unrouted`: leads no handler wanted, with the reason.
pub async fn unrouted_page(
    State(state): State<AdminState>,
    Query(q): Query<NoteQuery>,
) -> Response {
    let query = LeadQuery {
        status: Some(WorkStatus::Unrouted),
        limit: UNROUTED_LIMIT,
        ..LeadQuery::default()
    };
    let data = read(&state, move |r| Ok((r.list_leads(&query)?, r.status()?))).await;
    let (leads, status) = match data {
        Ok(d) => d,
        Err(response) => return response,
    };
    let csrf = csrf_field(&state);
    let total = status.count(WorkStatus::Unrouted);
    let mut body = note(q.note.as_deref());
    if total == 0 {
        body.push_str("<p id=\"none\">Nothing is unrouted.</p>");
    } else {
        body.push_str(&format!(
            "<p>{total} unrouted item{} (leads and follow records no handler wanted). After fixing \
             the scripts, route them again, like <code>leadrelay leads reroute</code>.</p>\
             <form method=\"post\" action=\"/unrouted/reroute\" class=\"inline\">{csrf}\
             <input type=\"hidden\" name=\"which\" value=\"all\">\
             <button type=\"submit\" id=\"reroute-all\">Route all again</button></form>",
            if total == 1 { "" } else { "s" }
        ));
        body.push_str(
            "<table id=\"unrouted\"><tr><th>lead</th><th>vendor</th><th>account</th><th>lead id</th>\
             <th>reason</th><th>arrived (UTC+8)</th><th></th></tr>",
        );
        for lead in &leads {
            body.push_str(&format!(
                "<tr><td><a href=\"/leads/{id}\">#{id}</a></td><td>{}</td><td>{}</td><td>{}</td>\
                 <td>{}</td><td>{}</td><td><form method=\"post\" action=\"/unrouted/reroute\" class=\"inline\">{csrf}\
                 <input type=\"hidden\" name=\"which\" value=\"#{id}\">\
                 <button type=\"submit\" id=\"reroute-{id}\">Route again</button></form></td></tr>",
                escape(&lead.vendor),
                escape(&lead.account),
                escape(&lead.vendor_lead_id),
                text(lead.reason.as_deref().unwrap_or("")),
                super::time(lead.received_ms),
                id = lead.id,
            ));
        }
        body.push_str("</table>");
    }
    super::page(&state, "/unrouted", "Unrouted", &body).into_response()
}

/// `POST /unrouted/reroute`: `which` = `all` or one lead (`#42` or a vendor lead id).
pub async fn reroute(State(state): State<AdminState>, Form(form): Form<ActionForm>) -> Response {
    let which = match form.which.trim() {
        "all" => RerouteSelector::Unrouted,
        "" => return problem(StatusCode::BAD_REQUEST, "name a lead or `all`"),
        lead => RerouteSelector::Lead(lead.to_string()),
    };
    match state.journal.reroute(which).await {
        Ok(n) => {
            if n > 0 {
                state.wake.notify_one();
            }
            tracing::info!(rerouted = n, "console: unrouted leads routed again");
            done("/unrouted", &format!("{n} unrouted item(s) queued again"))
        }
        Err(e) => problem(StatusCode::BAD_REQUEST, &format!("cannot route again: {e}")),
    }
}

/// Back to the list, with what happened.
fn done(path: &str, what: &str) -> Response {
    Redirect::to(&format!("{path}?note={}", url_encode(what))).into_response()
}
