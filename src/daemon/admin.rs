//! The admin listener (`[daemon] admin_listen`), separate from the push listener:
//!
//! - `GET /metrics` — Prometheus text format ([`crate::metrics`]); the journal's and the
//!   daemon's gauges are refreshed just before rendering;
//! - `GET /healthz` — the process is alive and serving;
//! - `GET /readyz` — the journal commits, the scripts are loaded and intake is not shedding;
//!   503 with the reasons otherwise;
//! - the console (`console/`) under `/`, behind the admin token.
//!
//! The first three need no token (scrapers and probes carry none). Everything else needs
//! `admin_token`, given either as `Authorization: Bearer <token>` (scripts, curl) or as the
//! session cookie the login form sets (HttpOnly, SameSite=Strict; its value is derived from the
//! token, never the token itself). A POST authenticated by the cookie must also carry the form
//! field `csrf` the console's pages embed; a Bearer POST needs none (a browser never sends the
//! header on its own). Without a configured token the console is open, which the config only
//! allows on a loopback address.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use chrono::FixedOffset;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::Notify;

use super::breaker::{BreakerState, Breakers};
use crate::clock::Clock;
use crate::host::generation::{Host, Verdict};
use crate::secret::Secret;
use crate::store::Journal;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "leadrelay_session";

/// What the admin pages read.
#[derive(Clone)]
pub struct AdminState {
    /// The journal.
    pub journal: Journal,
    /// The script host.
    pub host: Arc<Host>,
    /// The circuit breakers.
    pub breakers: Arc<Breakers>,
    /// The daemon's clock.
    pub clock: Clock,
    /// `admin_token`, if set.
    pub token: Option<Secret>,
    /// Wakes the dispatcher after the console put work back (retry, reroute).
    pub wake: Arc<Notify>,
    /// The scheduled pulls, for the sources page.
    pub pulls: Vec<PullSchedule>,
    /// The zone cron schedules are read in (`[daemon] schedule_offset`).
    pub zone: FixedOffset,
    /// The scripts page's Preview (one at a time, the last result kept).
    pub preview: Arc<super::console::scripts::Previewer>,
}

/// One scheduled pull, as the sources page shows it.
#[derive(Clone, Debug)]
pub struct PullSchedule {
    /// The account.
    pub account: String,
    /// The endpoint (the checkpoint's name).
    pub endpoint: String,
    /// When it pulls, read in Beijing time.
    pub schedule: cron::Schedule,
    /// Its last pull and skipped ticks, as its scheduler reports them.
    pub health: Arc<crate::trigger::pull::PullHealth>,
}

impl AdminState {
    /// The session cookie's value for the configured token: a digest, so the cookie jar never
    /// holds the token.
    fn session_value(&self) -> Option<String> {
        self.token
            .as_ref()
            .map(|t| derive("leadrelay-session", t.expose()))
    }

    /// The value POST forms must carry as `csrf` when authenticated by the cookie.
    pub fn csrf_value(&self) -> String {
        self.token
            .as_ref()
            .map(|t| derive("leadrelay-csrf", t.expose()))
            .unwrap_or_default()
    }
}

fn derive(purpose: &str, token: &str) -> String {
    hex::encode(Sha256::digest(format!("{purpose}\n{token}").as_bytes()))
}

fn equal(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// How a request proved it may use the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authenticated {
    /// No token is configured (loopback only).
    Open,
    /// `Authorization: Bearer`.
    Bearer,
    /// The login cookie.
    Cookie,
}

fn authenticate(state: &AdminState, headers: &HeaderMap) -> Option<Authenticated> {
    let Some(token) = &state.token else {
        return Some(Authenticated::Open);
    };
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if bearer.is_some_and(|b| equal(b.trim(), token.expose())) {
        return Some(Authenticated::Bearer);
    }
    let session = state.session_value()?;
    let cookie_ok = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .any(|(name, value)| name == SESSION_COOKIE && equal(value, &session));
    cookie_ok.then_some(Authenticated::Cookie)
}

/// The admin router: public probes and metrics, the login form, and `console` behind the token.
pub fn router(state: AdminState, console: Router<AdminState>) -> Router {
    let protected = console.layer(middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/login", get(login_form).post(login))
        .route("/logout", axum::routing::post(logout))
        .merge(protected)
        .with_state(state)
}

/// Serves `router` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

async fn require_token(State(state): State<AdminState>, request: Request, next: Next) -> Response {
    let Some(how) = authenticate(&state, request.headers()) else {
        let wants_html = request
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"));
        if wants_html && request.method() == Method::GET {
            // A person: the login page, answered 401 so scripts see the refusal too.
            return (StatusCode::UNAUTHORIZED, login_page(None)).into_response();
        }
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "admin token required: Authorization: Bearer <token>, or log in at /login\n",
        )
            .into_response();
    };
    if request.method() == Method::POST && how == Authenticated::Cookie {
        // The console's forms are urlencoded; read the field, then hand the body on.
        let (parts, body) = request.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
            return (StatusCode::PAYLOAD_TOO_LARGE, "form too large\n").into_response();
        };
        let csrf = form_urlencoded::parse(&bytes)
            .find(|(k, _)| k == "csrf")
            .map(|(_, v)| v.into_owned());
        if !csrf.is_some_and(|c| equal(&c, &state.csrf_value())) {
            return (StatusCode::FORBIDDEN, "missing or wrong csrf field\n").into_response();
        }
        let request = Request::from_parts(parts, axum::body::Body::from(bytes));
        return next.run(request).await;
    }
    next.run(request).await
}

fn login_page(error: Option<&str>) -> Html<String> {
    let error = error
        .map(|e| format!("<p class=\"error\">{e}</p>"))
        .unwrap_or_default();
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>leadrelay · log in</title>\
         <style>{style}</style></head><body><nav><span class=\"brand\">leadrelay</span></nav><main>\
         <h1>Log in</h1>{error}<form method=\"post\" action=\"/login\">\
         <label>Admin token <input type=\"password\" name=\"token\" autofocus></label> \
         <button type=\"submit\">Log in</button></form></main></body></html>",
        style = super::console::STYLE
    ))
}

async fn login_form() -> Html<String> {
    login_page(None)
}

#[derive(serde::Deserialize)]
struct LoginForm {
    token: String,
}

async fn login(State(state): State<AdminState>, Form(form): Form<LoginForm>) -> Response {
    let (Some(token), Some(session)) = (&state.token, state.session_value()) else {
        return Redirect::to("/").into_response();
    };
    if !equal(form.token.trim(), token.expose()) {
        tracing::warn!("admin console: a login with a wrong token");
        return (StatusCode::UNAUTHORIZED, login_page(Some("Wrong token."))).into_response();
    }
    let cookie = format!("{SESSION_COOKIE}={session}; HttpOnly; SameSite=Strict; Path=/");
    let mut response = Redirect::to("/").into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

async fn logout() -> Response {
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "leadrelay_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0",
        ),
    );
    response
}

async fn metrics(State(state): State<AdminState>) -> Response {
    refresh_gauges(&state).await;
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::metrics::render(),
    )
        .into_response()
}

/// Sets the gauges that describe the journal and the daemon, read now.
async fn refresh_gauges(state: &AdminState) {
    let journal = state.journal.clone();
    let status = tokio::task::spawn_blocking(move || journal.reader().status()).await;
    match status {
        Ok(Ok(status)) => {
            for (work_state, count) in &status.work {
                crate::metrics::set_backlog(work_state.as_str(), *count);
            }
            crate::metrics::set_dead_letters(status.dead_letters);
            let now = state.clock.unix_secs();
            for checkpoint in &status.checkpoints {
                if let Ok(at) = checkpoint.position.trim().parse::<i64>() {
                    let lag = (now - at).max(0) as f64;
                    crate::metrics::set_pull_lag(&checkpoint.account, &checkpoint.endpoint, lag);
                }
            }
        }
        Ok(Err(e)) => tracing::warn!(error = %e, "metrics: cannot read the journal's counts"),
        Err(e) => tracing::warn!(error = %e, "metrics: the journal read panicked"),
    }
    for (account, breaker) in state.breakers.states() {
        let open = matches!(breaker, BreakerState::Open { .. });
        crate::metrics::set_breaker_open(&account, open);
    }
}

async fn readyz(State(state): State<AdminState>) -> Response {
    let mut problems = Vec::new();
    if let Err(e) = state.journal.probe_writable().await {
        problems.push(format!("the journal cannot commit: {e}"));
    }
    if state.journal.is_overloaded() {
        problems.push("intake is shedding load (backlog full)".to_string());
    }
    for (script, status) in state.host.status() {
        if status.live_version.is_none() {
            let why = match &status.verdict {
                Verdict::Rejected(errors) => errors
                    .first()
                    .map(ToString::to_string)
                    .unwrap_or_else(|| "rejected".into()),
                other => format!("{other:?}").to_lowercase(),
            };
            if !matches!(status.verdict, Verdict::Removed) {
                problems.push(format!("script {script} has no live version: {why}"));
            }
        }
    }
    if problems.is_empty() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready:\n- {}\n", problems.join("\n- ")),
        )
            .into_response()
    }
}
