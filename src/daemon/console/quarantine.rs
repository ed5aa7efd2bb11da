//! `/quarantine`: payloads that could not be read as leads, kept byte for byte; shown here with
//! phone numbers masked.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::{escape, problem, read, text};
use crate::daemon::admin::AdminState;

/// `GET /quarantine`: every quarantined payload, without bodies.
pub async fn list(State(state): State<AdminState>) -> Response {
    let items = match read(&state, |r| r.quarantined()).await {
        Ok(items) => items,
        Err(response) => return response,
    };
    let mut body = String::new();
    if items.is_empty() {
        body.push_str("<p id=\"none\">Nothing is quarantined.</p>");
    } else {
        body.push_str(&format!(
            "<p>{} quarantined payload{}.</p><table id=\"quarantine\"><tr><th>id</th><th>account</th>\
             <th>endpoint</th><th>reason</th><th>type</th><th>bytes</th><th>received (UTC+8)</th></tr>",
            items.len(),
            if items.len() == 1 { "" } else { "s" }
        ));
        for q in &items {
            body.push_str(&format!(
                "<tr><td><a href=\"/quarantine/{id}\">{id}</a></td><td>{}</td><td>{}</td><td>{}</td>\
                 <td>{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
                escape(&q.account),
                text(&q.endpoint),
                text(&q.reason),
                text(q.content_type.as_deref().unwrap_or("-")),
                q.bytes,
                super::time(q.received_ms),
                id = q.id,
            ));
        }
        body.push_str("</table>");
    }
    super::page(&state, "/quarantine", "Quarantine", &body).into_response()
}

/// `GET /quarantine/{id}`: one payload's body as text, phone numbers masked.
pub async fn show(State(state): State<AdminState>, Path(id): Path<i64>) -> Response {
    let item = match read(&state, move |r| r.quarantine_item(id)).await {
        Ok(Some(item)) => item,
        Ok(None) => {
            return problem(
                StatusCode::NOT_FOUND,
                &format!("no quarantined payload {id}"),
            )
        }
        Err(response) => return response,
    };
    let raw = String::from_utf8_lossy(&item.body);
    let body = format!(
        "<table><tr><th>account</th><td>{}</td></tr><tr><th>endpoint</th><td>{}</td></tr>\
         <tr><th>reason</th><td>{}</td></tr><tr><th>type</th><td>{}</td></tr>\
         <tr><th>received (UTC+8)</th><td>{}</td></tr><tr><th>bytes</th><td>{}</td></tr></table>\
         <h2>Body (phone numbers masked)</h2><pre id=\"body\">{}</pre>\
         <p><a href=\"/quarantine\">All quarantined payloads</a></p>",
        escape(&item.account),
        text(&item.endpoint),
        text(&item.reason),
        text(item.content_type.as_deref().unwrap_or("-")),
        super::time(item.received_at_ms),
        item.body.len(),
        text(&raw),
    );
    super::page(
        &state,
        "/quarantine",
        &format!("Quarantined payload {id}"),
        &body,
    )
    .into_response()
}
