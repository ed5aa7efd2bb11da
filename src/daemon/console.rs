//! The console's pages, served by the admin listener behind the admin token
//! ([`super::admin`]). Server-rendered HTML with no external assets.

use axum::extract::State;
use axum::response::Html;
use axum::routing::get;
use axum::Router;

use super::admin::AdminState;

/// The console's routes.
pub fn router() -> Router<AdminState> {
    Router::new().route("/", get(overview))
}

/// Escapes text for HTML.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn overview(State(state): State<AdminState>) -> Html<String> {
    let journal = state.journal.clone();
    let status = tokio::task::spawn_blocking(move || journal.reader().status())
        .await
        .ok()
        .and_then(Result::ok);
    let body = match status {
        Some(status) => {
            let rows: String = status
                .work
                .iter()
                .map(|(s, n)| format!("<tr><td>{}</td><td>{n}</td></tr>", s.as_str()))
                .collect();
            format!(
                "<p>Leads: {} · dead letters: {} · quarantined: {}</p><table><tr><th>work</th><th>count</th></tr>{rows}</table>",
                status.leads, status.dead_letters, status.quarantined
            )
        }
        None => "<p>The journal cannot be read right now.</p>".to_string(),
    };
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>leadrelay · overview</title></head><body><h1>Overview</h1>{body}</body></html>"
    ))
}
