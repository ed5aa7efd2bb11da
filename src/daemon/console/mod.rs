//! The console's pages, served by the admin listener behind the admin token
//! ([`super::admin`]). Server-rendered HTML with its one stylesheet embedded in every page: no
//! external assets, no JavaScript; it works offline. One module per page:
//!
//! - [`overview`] (`/`): leads in and routed per minute as an inline SVG chart, the backlog by
//!   state, dead letters, unrouted, quarantine, open breakers, pull lag, script versions;
//! - [`leads`] (`/leads`): search by vendor lead id, journal id, last four phone digits or
//!   name; one lead's whole story as `leads show` prints it;
//! - [`dead`] (`/dead`, `/unrouted`): lists with reasons, retry one or all (POST);
//! - [`quarantine`] (`/quarantine`): list and raw bodies, phone numbers masked;
//! - [`scripts`] (`/scripts`): versions and the last reload verdict with `path:line:col`;
//!   Preview (POST): what the scripts on disk would do to the journal's newest leads;
//! - [`sources`] (`/sources`): checkpoints, pull schedules, cron jobs, next fires and skips.
//!
//! Every piece of text that comes from the journal, a script or a vendor goes through
//! [`escape`]; phone numbers are masked as `leads show` masks them. Write actions are POST forms
//! carrying the `csrf` field ([`AdminState::csrf_value`]).

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use super::admin::AdminState;
use crate::store::{Queries, StoreError};

pub mod dead;
pub mod leads;
pub mod overview;
pub mod quarantine;
pub mod scripts;
pub mod sources;

/// The console's routes.
pub fn router() -> Router<AdminState> {
    Router::new()
        .route("/", get(overview::page))
        .route("/leads", get(leads::search))
        .route("/leads/{id}", get(leads::show))
        .route("/dead", get(dead::dead_page))
        .route("/dead/retry", post(dead::retry))
        .route("/unrouted", get(dead::unrouted_page))
        .route("/unrouted/reroute", post(dead::reroute))
        .route("/quarantine", get(quarantine::list))
        .route("/quarantine/{id}", get(quarantine::show))
        .route("/scripts", get(scripts::page))
        .route("/scripts/preview", post(scripts::preview))
        .route("/sources", get(sources::page))
}

/// Escapes text for HTML (element content and double-quoted attributes).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes text for a URL's query value.
pub fn url_encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// The pages of the nav bar: (path, label).
const NAV: [(&str, &str); 7] = [
    ("/", "Overview"),
    ("/leads", "Leads"),
    ("/dead", "Dead letters"),
    ("/unrouted", "Unrouted"),
    ("/quarantine", "Quarantine"),
    ("/scripts", "Scripts"),
    ("/sources", "Sources and cron"),
];

/// The console's one stylesheet, embedded in every page (the login page too).
pub const STYLE: &str = "\
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#1d2330;background:#f6f7f9}\
nav{display:flex;flex-wrap:wrap;gap:2px;align-items:center;background:#1d2b45;padding:0 12px}\
nav a{color:#cfd8e8;text-decoration:none;padding:10px 12px}nav a.on{color:#fff;background:#2f4570}\
nav a:hover{color:#fff}nav .brand{color:#fff;font-weight:600;margin-right:12px}\
nav form{margin-left:auto}nav button{background:none;border:1px solid #6b7ea3;color:#cfd8e8;border-radius:4px;padding:4px 10px;cursor:pointer}\
main{padding:16px 20px;max-width:1200px}h1{font-size:20px;margin:4px 0 12px}h2{font-size:16px;margin:20px 0 8px}\
table{border-collapse:collapse;background:#fff;margin:4px 0 12px}th,td{border:1px solid #dde1e8;padding:4px 8px;text-align:left;vertical-align:top}\
th{background:#eef1f5;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}\
pre{background:#fff;border:1px solid #dde1e8;padding:10px;overflow-x:auto;white-space:pre-wrap}\
.cards{display:flex;flex-wrap:wrap;gap:10px;margin-bottom:8px}.card{background:#fff;border:1px solid #dde1e8;border-radius:6px;padding:8px 14px;min-width:120px}\
.card b{display:block;font-size:22px}.card.bad b{color:#b42318}.note{background:#e8f3ec;border:1px solid #9ccfae;padding:6px 10px;border-radius:4px}\
.error{color:#b42318}.ok{color:#16794c}.muted{color:#6b7385}form.inline{display:inline;margin:0}\
button{cursor:pointer}svg text{font-size:11px;fill:#4a5468}";

/// A whole page: the nav bar (with `active` highlighted), a logout button, and `body`.
pub fn page(state: &AdminState, active: &str, title: &str, body: &str) -> Html<String> {
    let nav: String = NAV
        .iter()
        .map(|(path, label)| {
            let class = if *path == active { " class=\"on\"" } else { "" };
            format!("<a href=\"{path}\"{class}>{label}</a>")
        })
        .collect();
    let logout = if state.token.is_some() {
        format!(
            "<form method=\"post\" action=\"/logout\">{}<button type=\"submit\" id=\"logout\">Log out</button></form>",
            csrf_field(state)
        )
    } else {
        String::new()
    };
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>leadrelay · {title}</title><style>{STYLE}</style></head>\
         <body><nav><span class=\"brand\">leadrelay</span>{nav}{logout}</nav>\
         <main><h1>{title}</h1>{body}</main></body></html>",
        title = escape(title),
    ))
}

/// The hidden `csrf` field every POST form carries.
pub fn csrf_field(state: &AdminState) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        escape(&state.csrf_value())
    )
}

/// Runs a journal read off the async runtime.
pub async fn read<T: Send + 'static>(
    state: &AdminState,
    f: impl FnOnce(&dyn Queries) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, Response> {
    let journal = state.journal.clone();
    match tokio::task::spawn_blocking(move || f(journal.reader())).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("the journal cannot be read: {e}"),
        )),
        Err(e) => Err(problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("the journal read failed: {e}"),
        )),
    }
}

/// A plain error page.
pub fn problem(status: StatusCode, message: &str) -> Response {
    (
        status,
        Html(format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>leadrelay · error</title></head>\
             <body><p class=\"error\">{}</p><p><a href=\"/\">Overview</a></p></body></html>",
            escape(&crate::secret::mask_phones_in(message))
        )),
    )
        .into_response()
}

/// A note carried through a redirect (`?note=`), shown on top of the page.
pub fn note(text: Option<&str>) -> String {
    text.filter(|t| !t.is_empty())
        .map(|t| format!("<p class=\"note\" id=\"note\">{}</p>", escape(t)))
        .unwrap_or_default()
}

/// Free text for a page: phone numbers masked, then escaped.
pub fn text(value: &str) -> String {
    escape(&crate::secret::mask_phones_in(value))
}

/// Beijing time of unix milliseconds, as the CLI prints it.
pub fn time(ms: i64) -> String {
    crate::inspect::beijing_time(ms)
}
