//! `/leads`: find a lead and read its whole story.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::{escape, problem, read, url_encode};
use crate::daemon::admin::AdminState;
use crate::secret::mask_phone;

/// How many leads a search lists.
pub const SEARCH_LIMIT: usize = 50;

/// The search form's query.
#[derive(Debug, Default, serde::Deserialize)]
pub struct SearchQuery {
    /// What to look for.
    #[serde(default)]
    pub q: String,
}

/// `GET /leads?q=…`: the search form, the leads found, and the story of the first.
pub async fn search(State(state): State<AdminState>, Query(query): Query<SearchQuery>) -> Response {
    let q = query.q.trim().to_string();
    let mut body = format!(
        "<form method=\"get\" action=\"/leads\" id=\"search\">\
         <input type=\"search\" name=\"q\" id=\"q\" size=\"40\" value=\"{}\" \
          placeholder=\"vendor lead id, #journal id, last 4 phone digits, or name\" autofocus> \
         <button type=\"submit\">Search</button></form>\
         <p class=\"muted\">A phone is found by its last four digits only.</p>",
        escape(&q)
    );
    if q.is_empty() {
        return super::page(&state, "/leads", "Leads", &body).into_response();
    }
    let found = {
        let q = q.clone();
        read(&state, move |r| {
            let leads = r.search_leads(&q, SEARCH_LIMIT)?;
            let mut rows = Vec::with_capacity(leads.len());
            for lead in leads {
                let phone = r
                    .lead_story(&format!("#{}", lead.id))?
                    .and_then(|s| s.lead.phone)
                    .map_or_else(|| "-".to_string(), |p| mask_phone(&p));
                rows.push((lead, phone));
            }
            let story = match rows.first() {
                Some((lead, _)) if rows.len() == 1 => {
                    crate::inspect::lead_show(r, &format!("#{}", lead.id))?
                }
                _ => None,
            };
            Ok((rows, story))
        })
        .await
    };
    let (rows, story) = match found {
        Ok(found) => found,
        Err(response) => return response,
    };
    if rows.is_empty() {
        body.push_str(&format!(
            "<p id=\"none\">No lead matches <b>{}</b>.</p>",
            escape(&q)
        ));
    } else {
        body.push_str(&format!(
            "<p>{} lead{} found{}</p><table id=\"results\"><tr><th>id</th><th>vendor</th><th>account</th>\
             <th>lead id</th><th>kind</th><th>phone</th><th>arrived (UTC+8)</th><th>state</th></tr>",
            rows.len(),
            if rows.len() == 1 { "" } else { "s" },
            if rows.len() == SEARCH_LIMIT {
                " (the newest; there may be more)"
            } else {
                ""
            }
        ));
        for (lead, phone) in &rows {
            body.push_str(&format!(
                "<tr><td><a href=\"/leads/{id}\">#{id}</a></td><td>{}</td><td>{}</td><td>{}</td>\
                 <td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&lead.vendor),
                escape(&lead.account),
                escape(&lead.vendor_lead_id),
                escape(&lead.kind),
                escape(phone),
                super::time(lead.received_ms),
                lead.status.as_str(),
                id = lead.id,
            ));
        }
        body.push_str("</table>");
    }
    if let Some(story) = story {
        body.push_str(&story_html(&story));
    }
    super::page(&state, "/leads", "Leads", &body).into_response()
}

/// `GET /leads/{id}`: one lead's story (`id` as `leads show` takes it: a vendor lead id or
/// `#42`; a bare number is the journal id here, as the search results link it).
pub async fn show(State(state): State<AdminState>, Path(id): Path<String>) -> Response {
    let key = if id.bytes().all(|b| b.is_ascii_digit()) {
        format!("#{id}")
    } else {
        id.clone()
    };
    let story = read(&state, move |r| crate::inspect::lead_show(r, &key)).await;
    match story {
        Ok(Some(story)) => {
            let body = format!(
                "<form method=\"get\" action=\"/leads\"><input type=\"search\" name=\"q\" size=\"40\"> \
                 <button type=\"submit\">Search</button></form>{}",
                story_html(&story)
            );
            super::page(&state, "/leads", &format!("Lead {id}"), &body).into_response()
        }
        Ok(None) => problem(StatusCode::NOT_FOUND, &format!("no lead {id}")),
        Err(response) => response,
    }
}

/// `leads show`'s text, as a block.
fn story_html(story: &str) -> String {
    format!(
        "<h2>Story</h2><pre id=\"story\">{}</pre>",
        // Already masked by `inspect`; masked again in case, then escaped.
        super::text(story)
    )
}

/// A link to search for `q`.
pub fn search_link(q: &str, label: &str) -> String {
    format!(
        "<a href=\"/leads?q={}\">{}</a>",
        url_encode(q),
        escape(label)
    )
}
