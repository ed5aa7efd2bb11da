//! The webhook server: signed pushes from every vendor that is a [`PushReceiver`] (a lead per
//! push, or a follow record), one configured path per account. The vendor's `webhook.rs` says
//! how a push is signed, what it carries and what the answers look like; this module owns the
//! order of the steps, the guards and the hand-off to the journal.
//!
//! Every push goes through the same steps, and the order is the contract:
//!
//! 1. the path must be configured (else 404);
//! 2. with `allow_from`, the sender's address must be in it (else 403 before anything is read,
//!    nothing stored, not even in the quarantine): the peer address, or the `X-Forwarded-For`
//!    client when the peer is one of `trusted_proxies` ([`guard::client_addr`]);
//! 3. the method must be POST (else 405);
//! 4. an overloaded intake answers 503 with `Retry-After` before anything is read, because
//!    shedding load is only useful when it is cheap;
//! 5. the body is read with a cap (default 1 MiB), 413 above it;
//! 6. the signature is verified on the raw bytes, before any parsing: a failure is 401 and
//!    nothing is stored (a forged push must not be able to fill the quarantine);
//! 7. for a vendor whose signature does not cover the body (Tencent), the replay guard notes
//!    the signature with a fingerprint of the body; the same signature with another body is
//!    logged and counted as suspicious, then processed like any push (see [`ReplayGuard`] for
//!    why it is not refused);
//! 8. a verified body that does not parse is kept byte for byte in the quarantine and answered
//!    400 with the reason;
//! 9. the lead or follow record is handed to the [`Intake`], and only once it reports the commit
//!    is the push answered in the vendor's own success shape. A duplicate is answered success
//!    too: the vendor re-sends until it hears success, and the journal already has it.
//!
//! Any intake failure is 503 and nothing is acknowledged, so the vendor retries.
//!
//! One log line per push outcome, with `path`, `account`, `outcome` and the lead id. Bodies,
//! parse errors (serde quotes the offending value, which may be a phone number), signatures and
//! secrets are never logged.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;

use super::guard::{self, NetList, Replay, ReplayGuard};
use super::{Intake, SourceSpec};
use crate::config::Config;
use crate::config::{check_has_trigger, check_path, source_allow_from, source_label};
use crate::connectors::source::{PushHead, PushReceiver, Pushed};
use crate::connectors::{vendors_that, Vendor};
use crate::store::types::{Accepted, Arrival, FollowArrival, Quarantined, Via};

/// Largest push body read by default; Tencent pushes one lead and Waiqin one follow record, a
/// few KiB each, so anything near this is not a genuine push.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// Default `Retry-After` (seconds) of a 503 answered because the intake is overloaded.
pub const DEFAULT_RETRY_AFTER_SECS: u64 = 5;

/// One push path and the account it belongs to.
#[derive(Debug, Clone)]
pub struct PushRoute {
    /// The exact request path, e.g. `/hooks/tencent/tx_main`.
    pub path: String,
    /// The account whose credentials verify pushes to `path`.
    pub account: String,
    /// The vendor's receiver: verifies, parses and answers pushes in the vendor's shape.
    pub receiver: Arc<dyn PushReceiver>,
    /// Senders allowed to push here (`allow_from`); `None`: anyone.
    pub allow_from: Option<NetList>,
    /// For a vendor whose signature does not cover the body: the replay guard.
    pub replay_guard: Option<PathReplayGuard>,
}

/// The replay guard of one push path. The memory of signatures is shared by every path of the
/// same account: they verify the same signatures, so headers seen on one path could be replayed
/// on another. The count is the path's own, and shared by clones of the route, so the daemon
/// reads the count of the route the router serves ([`PushCounters`]).
#[derive(Debug, Clone)]
pub struct PathReplayGuard {
    guard: Arc<ReplayGuard>,
    suspicious: Arc<AtomicU64>,
    /// When the last WARN line was written, and the suspicious pushes since: genuine leads
    /// pushed within one second share a signature, so a busy path would otherwise log a line
    /// per lead. At most one line per [`SUSPICIOUS_LOG_EVERY`]; the count is exact regardless.
    log: Arc<Mutex<(Option<Instant>, u64)>>,
}

/// The shortest interval between two "suspicious push" lines of one path.
pub const SUSPICIOUS_LOG_EVERY: Duration = Duration::from_secs(60);

impl PathReplayGuard {
    /// A guard with its own count over `guard`'s memory.
    pub fn new(guard: Arc<ReplayGuard>) -> Self {
        PathReplayGuard {
            guard,
            suspicious: Arc::new(AtomicU64::new(0)),
            log: Arc::new(Mutex::new((None, 0))),
        }
    }

    /// Pushes to this path since start that reused a signature with another body.
    pub fn suspicious(&self) -> u64 {
        self.suspicious.load(Ordering::Relaxed)
    }
}

/// The suspicious-push counts of every push path with a replay guard, read by the daemon's
/// status file.
#[derive(Debug, Clone, Default)]
pub struct PushCounters(Vec<(String, Arc<AtomicU64>)>);

impl PushCounters {
    /// The counters of `routes` (clones of the routes given to [`router`] share them).
    pub fn of(routes: &[PushRoute]) -> Self {
        PushCounters(
            routes
                .iter()
                .filter_map(|r| {
                    let guard = r.replay_guard.as_ref()?;
                    Some((r.path.clone(), guard.suspicious.clone()))
                })
                .collect(),
        )
    }

    /// `(path, suspicious pushes since start)` per guarded path, in configuration order.
    pub fn snapshot(&self) -> Vec<(String, u64)> {
        self.0
            .iter()
            .map(|(path, count)| (path.clone(), count.load(Ordering::Relaxed)))
            .collect()
    }
}

/// Server-wide settings of the webhook router.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookOptions {
    /// Bodies longer than this are answered 413 without being read further.
    pub max_body_bytes: usize,
    /// `Retry-After` of the 503 answered while the intake is overloaded.
    pub retry_after_secs: u64,
    /// Peers whose `X-Forwarded-For` is believed when checking `allow_from` (`[daemon]
    /// trusted_proxies`); empty: the header is never believed.
    pub trusted_proxies: NetList,
}

impl Default for WebhookOptions {
    fn default() -> Self {
        Self {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            retry_after_secs: DEFAULT_RETRY_AFTER_SECS,
            trusted_proxies: NetList::default(),
        }
    }
}

/// The push routes of every `[[sources]]` entry with a `push` path. Errors name the entry (1-based)
/// and its account: unknown account, a vendor that does not push, a Waiqin account without
/// `pushsecret`, a path that is not absolute, or a path used twice.
pub fn push_routes(config: &Config, sources: &[SourceSpec]) -> Result<Vec<PushRoute>, String> {
    let mut routes: Vec<PushRoute> = Vec::new();
    let mut replay_guards: HashMap<String, Arc<ReplayGuard>> = HashMap::new();
    for (i, source) in sources.iter().enumerate() {
        let at = source_label(i, &source.account);
        check_has_trigger(source, &at)?;
        let allow_from = source_allow_from(source).map_err(|e| format!("{at}: {e}"))?;
        let Some(path) = &source.push else { continue };
        let account = config
            .account(&source.account)
            .map_err(|e| format!("{at}: {e}"))?;
        check_path(path).map_err(|e| format!("{at}: key `push`: {e}"))?;
        if let Some(other) = routes.iter().find(|r| &r.path == path) {
            return Err(format!(
                "{at}: key `push`: path `{path}` is already used by account `{}`",
                other.account
            ));
        }
        let receiver = account.credentials.push_receiver().map_err(|reason| {
            let pushes_from = vendors_that(Vendor::pushes);
            if account.vendor.is_destination() {
                format!(
                    "{at}: key `push`: account `{}` is a {} account, a destination rather than a lead source (pushes come from {pushes_from})",
                    account.name, account.vendor
                )
            } else {
                format!("{at}: key `push`: account `{}`: {reason}", account.name)
            }
        })?;
        let replay_guard = receiver.replay_window_secs().map(|window| {
            let shared = replay_guards
                .entry(account.name.clone())
                .or_insert_with(|| Arc::new(ReplayGuard::new(window)));
            PathReplayGuard::new(shared.clone())
        });
        routes.push(PushRoute {
            path: path.clone(),
            account: account.name.clone(),
            receiver,
            allow_from,
            replay_guard,
        });
    }
    Ok(routes)
}

struct Shared<I> {
    intake: Arc<I>,
    routes: HashMap<String, Arc<PushRoute>>,
    options: WebhookOptions,
}

/// The webhook router: one POST endpoint per route, 404 elsewhere. Paths are matched exactly
/// (no parameters), so any configured path works; if two routes share a path, the first wins
/// ([`push_routes`] refuses that).
pub fn router<I: Intake>(
    intake: Arc<I>,
    routes: Vec<PushRoute>,
    options: WebhookOptions,
) -> Router {
    let mut by_path = HashMap::new();
    for route in routes {
        by_path
            .entry(route.path.clone())
            .or_insert_with(|| Arc::new(route));
    }
    let limit = options.max_body_bytes;
    let shared = Arc::new(Shared {
        intake,
        routes: by_path,
        options,
    });
    Router::new()
        .fallback(dispatch::<I>)
        .with_state(shared)
        .layer(DefaultBodyLimit::max(limit))
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets in-flight pushes finish
/// (their commit and answer) before returning. Each request carries its peer address
/// (`ConnectInfo`), which `allow_from` needs; a router served any other way refuses every push
/// to a path with `allow_from`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    // A header that is not valid text is kept as an empty value rather than dropped, so a
    // garbled X-Signature is a format error, not a "missing header".
    headers
        .get(name)
        .map(|v| v.to_str().map(str::to_string).unwrap_or_default())
}

/// Answers one request and counts it: an acknowledgement's latency, or a refusal's reason.
async fn dispatch<I: Intake>(State(shared): State<Arc<Shared<I>>>, request: Request) -> Response {
    let started = Instant::now();
    let route = shared.routes.get(request.uri().path()).cloned();
    let response = answer(&shared, route.clone(), request).await;
    if let Some(route) = route {
        let reason = match response.status() {
            StatusCode::OK => {
                crate::metrics::push_answered(started.elapsed());
                None
            }
            StatusCode::FORBIDDEN => Some("forbidden"),
            StatusCode::METHOD_NOT_ALLOWED => Some("method_not_allowed"),
            StatusCode::PAYLOAD_TOO_LARGE => Some("too_large"),
            StatusCode::UNAUTHORIZED => Some("unauthorized"),
            StatusCode::BAD_REQUEST => Some("malformed"),
            StatusCode::SERVICE_UNAVAILABLE => Some("unavailable"),
            _ => Some("other"),
        };
        if let Some(reason) = reason {
            crate::metrics::push_rejected(&route.account, reason);
        }
    }
    response
}

async fn answer<I: Intake>(
    shared: &Arc<Shared<I>>,
    route: Option<Arc<PushRoute>>,
    request: Request,
) -> Response {
    let path = request.uri().path();
    let Some(route) = route else {
        tracing::debug!(path = %truncate(path, 200), outcome = "not_found", "push");
        return json_response(
            StatusCode::NOT_FOUND,
            serde_json::json!({"error": "no push endpoint at this path"}).to_string(),
        );
    };
    let sender = Sender::of(&request, &shared.options.trusted_proxies);
    if let Some(allowed) = &route.allow_from {
        if let Some(refusal) = refuse_outsider(&route, allowed, &sender) {
            return refusal;
        }
    }
    if request.method() != Method::POST {
        log(&route, "method_not_allowed", None);
        let mut response = json_response(
            StatusCode::METHOD_NOT_ALLOWED,
            error_body(&route, "push endpoints accept POST only"),
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    if shared.intake.is_overloaded() {
        log(&route, "overloaded", None);
        let mut response = json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            busy_body(&route, "overloaded, retry later"),
        );
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(shared.options.retry_after_secs),
        );
        return response;
    }
    let received_at_ms = shared.intake.clock().unix_millis();
    let head = PushHead {
        signature: header_text(request.headers(), "x-signature"),
        algorithm: header_text(request.headers(), "x-signature-algorithm"),
        content_type: header_text(request.headers(), "content-type"),
    };
    let body = match Bytes::from_request(request, &()).await {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            log(&route, "too_large", None);
            let limit = shared.options.max_body_bytes;
            return json_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                error_body(
                    &route,
                    &format!("body exceeds the limit of {limit} bytes for push endpoints"),
                ),
            );
        }
        Err(_) => {
            log(&route, "body_unreadable", None);
            return json_response(
                StatusCode::BAD_REQUEST,
                error_body(&route, "the request body could not be read"),
            );
        }
    };
    let ctx = PushContext {
        shared,
        route: &route,
        head,
        sender,
        received_at_ms,
    };
    ctx.receive(body).await
}

/// Who sent a push, as far as we can tell.
struct Sender {
    /// The TCP peer (a proxy's address behind a reverse proxy); `None` only if the router is
    /// served without [`serve`] (no `ConnectInfo`).
    peer: Option<IpAddr>,
    /// The address the push is judged by: the peer, or the client a trusted proxy vouched for
    /// ([`guard::client_addr`]). `None` when the peer is unknown.
    client: Option<Result<IpAddr, guard::ClientAddrError>>,
}

impl Sender {
    fn of(request: &Request, trusted_proxies: &NetList) -> Sender {
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        let client = peer.map(|peer| {
            // The common case (no proxy, or a peer that is not one) reads no header and
            // allocates nothing; `client_addr` would give the same answer.
            if !trusted_proxies.contains(peer) {
                return Ok(peer.to_canonical());
            }
            // A value that is not text cannot be an address; "" fails to parse, so it fails
            // closed if the algorithm ever has to use it.
            let forwarded: Vec<&str> = request
                .headers()
                .get_all("x-forwarded-for")
                .iter()
                .map(|v| v.to_str().unwrap_or(""))
                .collect();
            guard::client_addr(peer, &forwarded, trusted_proxies)
        });
        Sender { peer, client }
    }

    /// `(peer, client)` as text for log lines, `unknown` where we cannot tell.
    fn log_fields(&self) -> (String, String) {
        let unknown = || "unknown".to_string();
        let peer = self.peer.map_or_else(unknown, |p| p.to_string());
        let client = match &self.client {
            Some(Ok(client)) => client.to_string(),
            _ => unknown(),
        };
        (peer, client)
    }
}

/// Step 2: the 403 for a sender outside `allowed`, or `None` when it may push. A refusal is
/// logged at WARN with the path, the peer and the client it was judged by, and answered in the
/// vendor's error shape; nothing of the request is read.
fn refuse_outsider(route: &PushRoute, allowed: &NetList, sender: &Sender) -> Option<Response> {
    if let Some(Ok(client)) = &sender.client {
        if allowed.contains(*client) {
            return None;
        }
    }
    let (peer, client_text) = sender.log_fields();
    match &sender.client {
        Some(Ok(client)) => {
            tracing::warn!(path = %route.path, account = %route.account, peer = %peer, client = %client, outcome = "forbidden", reason = "address not in allow_from", "push");
            Some(forbidden(
                route,
                &format!("address {client} is not allowed to push to this path"),
            ))
        }
        Some(Err(error)) => {
            tracing::warn!(path = %route.path, account = %route.account, peer = %peer, client = %client_text, outcome = "forbidden", reason = %error, "push");
            Some(forbidden(
                route,
                "the sender's address cannot be read from X-Forwarded-For",
            ))
        }
        None => {
            // Only reachable if the router is served without `serve`: fail closed.
            tracing::warn!(path = %route.path, account = %route.account, peer = %peer, outcome = "forbidden", reason = "the peer address is unknown (server started without connect info)", "push");
            Some(forbidden(route, "the sender's address is unknown"))
        }
    }
}

fn forbidden(route: &PushRoute, message: &str) -> Response {
    json_response(StatusCode::FORBIDDEN, error_body(route, message))
}

struct PushContext<'a, I> {
    shared: &'a Shared<I>,
    route: &'a PushRoute,
    head: PushHead,
    /// For log lines: who sent it.
    sender: Sender,
    received_at_ms: i64,
}

impl<I: Intake> PushContext<'_, I> {
    fn arrival(&self) -> Arrival {
        Arrival {
            via: Via::Push,
            endpoint: self.route.path.clone(),
            received_at_ms: self.received_at_ms,
        }
    }

    /// Steps 6 to 9 for a body read within the cap.
    async fn receive(self, body: Bytes) -> Response {
        let route = self.route;
        let receiver = route.receiver.as_ref();
        let now = self.shared.intake.clock().unix_secs();
        let verified = match receiver.verify(&self.head, &body, now) {
            Ok(verified) => verified,
            Err(refusal) => {
                tracing::warn!(path = %route.path, account = %route.account, outcome = "unauthorized", reason = %refusal.reason, "push");
                return json_response(StatusCode::UNAUTHORIZED, refusal.answer);
            }
        };
        if let (Some(guard), Some((key, signed_at))) = (&route.replay_guard, &verified.replay_key) {
            self.note_replay(guard, key, *signed_at, &body, now);
        }
        let pushed = match receiver.parse(&route.account, &body) {
            Ok(pushed) => pushed,
            Err(refusal) => {
                return self
                    .quarantine(
                        body,
                        refusal.reason,
                        StatusCode::BAD_REQUEST,
                        refusal.answer,
                    )
                    .await;
            }
        };
        // Read before the lead or record moves into the journal: neither is copied.
        let ack = receiver.ack_body(&pushed);
        let lead_id = pushed.lead_id().to_string();
        let (accepted, msg_id) = match pushed {
            Pushed::Lead(lead) => (
                self.shared
                    .intake
                    .accept_leads(vec![*lead], self.arrival(), None)
                    .await
                    .map(|accepted| accepted.first().copied().unwrap_or(Accepted::New)),
                None,
            ),
            Pushed::Follow(follow) => {
                let msg_id = follow.msg_id.clone();
                let accepted = self
                    .shared
                    .intake
                    .accept_follow(FollowArrival {
                        account: route.account.clone(),
                        msg_id: follow.msg_id,
                        data_id: follow.data_id,
                        record: follow.record,
                        arrival: self.arrival(),
                    })
                    .await;
                (accepted, Some(msg_id))
            }
        };
        match accepted {
            Ok(accepted) => {
                let outcome = match accepted {
                    Accepted::Duplicate => "duplicate",
                    Accepted::New => "accepted",
                };
                // The client is logged so operators can learn the platform's addresses for
                // `allow_from` (the vendors do not publish them).
                let (peer, client) = self.sender.log_fields();
                match &msg_id {
                    Some(msg_id) => {
                        tracing::info!(path = %route.path, account = %route.account, outcome, lead_id = %lead_id, msg_id = %msg_id, peer = %peer, client = %client, "push")
                    }
                    None => {
                        tracing::info!(path = %route.path, account = %route.account, outcome, lead_id = %lead_id, peer = %peer, client = %client, "push")
                    }
                }
                json_response(StatusCode::OK, ack)
            }
            Err(e) => self.unavailable(&e.to_string(), Some(&lead_id)),
        }
    }

    /// Step 7: the replay guard. A suspicious push is logged and counted but still processed:
    /// it passed the vendor's own check, and genuine pushes made within the same second share
    /// a signature (see [`ReplayGuard`]). The line names no lead, body or signature: the
    /// signature would let a reader of the log push for the rest of its window.
    fn note_replay(
        &self,
        guard: &PathReplayGuard,
        key: &str,
        signed_at: i64,
        body: &[u8],
        now: i64,
    ) {
        // Keyed on the signature's digest (see ReplayGuard).
        let replay = guard.guard.observe(key, signed_at, body, now);
        if let Replay::OtherBody { bodies } = replay {
            let total = guard.suspicious.fetch_add(1, Ordering::Relaxed) + 1;
            let since_last_line = {
                let mut log = guard.log.lock().expect("suspicious log lock");
                log.1 += 1;
                if log.0.is_some_and(|at| at.elapsed() < SUSPICIOUS_LOG_EVERY) {
                    return;
                }
                log.0 = Some(Instant::now());
                std::mem::take(&mut log.1)
            };
            let route = self.route;
            let (peer, client) = self.sender.log_fields();
            tracing::warn!(
                path = %route.path,
                account = %route.account,
                peer = %peer,
                client = %client,
                signed_at,
                distinct_bodies = bodies,
                suspicious_total = total,
                since_last_line,
                outcome = "suspicious",
                "push: signature already seen with another body; accepted, as this vendor's signature does not cover the body (README: Security; at most one such line a minute per path)"
            );
        }
    }

    /// Keeps a verified but unreadable body and answers `status` with `answer`; if even the
    /// quarantine cannot take it, answers 503 so the vendor sends it again.
    async fn quarantine(
        &self,
        body: Bytes,
        reason: String,
        status: StatusCode,
        answer: String,
    ) -> Response {
        let route = self.route;
        let item = Quarantined {
            account: route.account.clone(),
            endpoint: route.path.clone(),
            reason,
            content_type: self.head.content_type.clone(),
            body: body.to_vec(),
            received_at_ms: self.received_at_ms,
        };
        match self.shared.intake.quarantine(item).await {
            Ok(id) => {
                tracing::warn!(path = %route.path, account = %route.account, outcome = "quarantined", quarantine_id = id, "push");
                json_response(status, answer)
            }
            Err(e) => self.unavailable(&e.to_string(), None),
        }
    }

    fn unavailable(&self, error: &str, lead_id: Option<&str>) -> Response {
        let route = self.route;
        tracing::error!(path = %route.path, account = %route.account, outcome = "intake_error", lead_id = lead_id.unwrap_or(""), error, "push");
        json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            busy_body(route, "the journal cannot take it now, retry later"),
        )
    }
}

fn log(route: &PushRoute, outcome: &'static str, lead_id: Option<&str>) {
    tracing::info!(path = %route.path, account = %route.account, outcome, lead_id = lead_id.unwrap_or(""), "push");
}

fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((at, _)) => &text[..at],
        None => text,
    }
}

/// A refusal in the vendor's own error shape (the vendor's sender logs it).
fn error_body(route: &PushRoute, message: &str) -> String {
    route.receiver.reject_body(message)
}

/// A "try again later" in the vendor's own error shape.
fn busy_body(route: &PushRoute, message: &str) -> String {
    route.receiver.busy_body(message)
}

fn json_response(status: StatusCode, body: String) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_must_be_plain_and_absolute() {
        assert!(check_path("/hooks/tencent/tx").is_ok());
        assert!(check_path("hooks/x")
            .unwrap_err()
            .contains("must start with `/`"));
        assert!(check_path("/").is_err());
        assert!(check_path("/a b").is_err());
        assert!(check_path("/a?b=1").is_err());
    }
}
