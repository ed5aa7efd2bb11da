//! Signature-exact vendor simulators: one HTTP server that serves every vendor under its own
//! prefix, verifies requests as the real vendor would, answers in the vendor's own envelopes,
//! keeps state, generates synthetic leads, and injects faults on request.
//!
//! Used by `leadrelay sim`, `demo`, `test`, the test suite and the benchmark. Each vendor's
//! behaviour lives in `sim/<vendor>.rs`; this file owns the server, the prefixes, fault
//! injection and the control endpoints under `/_sim`:
//!
//! - `GET /_sim/state` — every vendor's state summary (create/update counts…) as JSON;
//! - `POST /_sim/faults` — `{"vendor": "xiaolanben"?, "error_rate": 1.0, "status": 503,
//!   "latency_ms": 0, "timeout": false, "lost_rate": 0.0}`; `DELETE /_sim/faults` clears every
//!   fault. A lost answer is a request the vendor served (its effect is applied) whose answer
//!   never arrives: the connection breaks mid-answer, as when a network drops after the vendor
//!   committed;
//! - `POST /_sim/clock` — `{"vendor": "xiaolanben"?, "skew_secs": 30}` moves a vendor's (or
//!   every vendor's) server clock, to show what clock skew does;
//! - `/_sim/<vendor>/…` — vendor-specific controls (e.g. generating leads).
//!
//! What the simulators answer is what the spec (`vendors.md`) documents, and nothing more:
//! where it documents an error code, that code; where it documents only a range or an envelope
//! (Tencent's code ranges, Waiqin's `return_code` "1", Feiyu's non-"success" `status`), that
//! shape, with the reason in a comment at the answer; where it leaves a limit or a code
//! unknown, no invented one. Every answer carries an HTTP `Date` from the vendor's own clock,
//! as a real server's does, so a client can see a clock skew.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::oneshot;

use crate::clock::Clock;
use crate::config::Config;
use crate::connectors::Vendor;

pub mod seed;
pub mod synth;

/// Generates, from the vendor list in `crate::lead::for_each_vendor!`, the simulator's module
/// declarations, its per-vendor state and the per-vendor lookups. Each vendor's simulator is
/// `sim/<folder>.rs` (or a folder) with `PREFIX`, `CREDENTIALS_TOML`, `State` (with
/// `snapshot()`), `router` and `control_router`; the compiler names whatever a new one lacks.
macro_rules! register_simulators {
    ($($variant:ident => $folder:ident, $doc:literal;)*) => {
        $(#[doc = $doc] pub mod $folder;)*

        /// State shared by every simulated vendor.
        #[derive(Debug, Default)]
        pub struct SimShared {
            /// Seconds every vendor's clock is moved by, and each vendor's own on top, by
            /// [`Vendor::index`].
            skew_all_secs: AtomicI64,
            skew_secs: [AtomicI64; Vendor::ALL.len()],
            faults: Mutex<HashMap<Option<Vendor>, Faults>>,
            requests: Mutex<HashMap<Vendor, u64>>,
            /// The clock every vendor's clock is skewed from (see `seed.rs`); the system
            /// clock if unset.
            base_clock: std::sync::OnceLock<Clock>,
            $(#[doc = $doc] pub $folder: $folder::State,)*
        }

        /// Where each vendor is served, below the simulator's base URL.
        pub fn prefix(vendor: Vendor) -> &'static str {
            match vendor {
                $(Vendor::$variant => $folder::PREFIX,)*
            }
        }

        /// The config keys (besides `vendor` and `base_url`) of the simulator's built-in account.
        pub fn credentials_toml(vendor: Vendor) -> &'static str {
            match vendor {
                $(Vendor::$variant => $folder::CREDENTIALS_TOML,)*
            }
        }

        fn vendor_router(vendor: Vendor, shared: Arc<SimShared>) -> Router {
            match vendor {
                $(Vendor::$variant => $folder::router(shared),)*
            }
        }

        fn control_router(vendor: Vendor, shared: Arc<SimShared>) -> Router {
            match vendor {
                $(Vendor::$variant => $folder::control_router(shared),)*
            }
        }

        impl SimShared {
            fn vendor_snapshot(&self, vendor: Vendor) -> Value {
                match vendor {
                    $(Vendor::$variant => self.$folder.snapshot(),)*
                }
            }
        }
    };
}
crate::lead::for_each_vendor!(register_simulators);

/// Largest request body any simulated vendor accepts; larger ones get 413.
pub const MAX_BODY: usize = 2 * 1024 * 1024;

/// Faults to inject into a vendor's answers.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Only this vendor; all vendors when absent.
    pub vendor: Option<Vendor>,
    /// Share of requests (0.0–1.0) answered with `status` instead of being served.
    pub error_rate: f64,
    /// The status of injected errors (default 503).
    pub status: Option<u16>,
    /// Delay added before every answer, in milliseconds.
    pub latency_ms: u64,
    /// Never answer (the client times out).
    pub timeout: bool,
    /// Share of requests (0.0–1.0) that are served — the vendor applies them — but whose
    /// answer is lost: the connection breaks after the headers, so the caller cannot know the
    /// outcome.
    pub lost_rate: f64,
}

/// Body of `POST /_sim/clock`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClockSkew {
    /// Only this vendor; every vendor when absent.
    #[serde(default)]
    pub vendor: Option<Vendor>,
    /// Seconds the server clock runs ahead (negative: behind) of the system clock.
    pub skew_secs: i64,
}

impl SimShared {
    /// `vendor`'s server clock, for its timestamp windows and `Date` headers.
    pub fn clock(&self, vendor: Vendor) -> Clock {
        let secs = self.skew_all_secs.load(Ordering::Relaxed)
            + self.skew_secs[vendor.index()].load(Ordering::Relaxed);
        self.base_clock().skewed_by_secs(secs)
    }

    /// Moves one vendor's server clock (or, with `vendor: None`, the base of every vendor's)
    /// `skew_secs` away from the system clock. Replaces an earlier skew.
    pub fn set_clock_skew(&self, skew: &ClockSkew) {
        // Bounded so the sum of both skews, in milliseconds, cannot overflow.
        let secs = skew.skew_secs.clamp(-10 * 365 * 86_400, 10 * 365 * 86_400);
        match skew.vendor {
            Some(vendor) => self.skew_secs[vendor.index()].store(secs, Ordering::Relaxed),
            None => self.skew_all_secs.store(secs, Ordering::Relaxed),
        }
    }

    /// Sets faults for one vendor (or all, when `faults.vendor` is `None`).
    pub fn set_faults(&self, faults: Faults) {
        self.faults
            .lock()
            .expect("faults lock")
            .insert(faults.vendor, faults);
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        self.faults.lock().expect("faults lock").clear();
    }

    fn faults_for(&self, vendor: Vendor) -> Option<Faults> {
        let faults = self.faults.lock().expect("faults lock");
        faults
            .get(&Some(vendor))
            .or_else(|| faults.get(&None))
            .cloned()
    }

    /// How many requests a vendor has received (faulted ones included).
    pub fn requests(&self, vendor: Vendor) -> u64 {
        self.requests
            .lock()
            .expect("requests lock")
            .get(&vendor)
            .copied()
            .unwrap_or(0)
    }

    /// Every vendor's state summary.
    pub fn snapshot(&self) -> Value {
        let requests: HashMap<_, _> = Vendor::ALL.map(|v| (v.as_str(), self.requests(v))).into();
        let mut snapshot = serde_json::Map::new();
        snapshot.insert("requests".to_string(), json!(requests));
        for vendor in Vendor::ALL {
            snapshot.insert(vendor.to_string(), self.vendor_snapshot(vendor));
        }
        Value::Object(snapshot)
    }
}

/// A running simulator. Dropping it stops the server.
pub struct Simulator {
    addr: SocketAddr,
    shared: Arc<SimShared>,
    stop: Option<oneshot::Sender<()>>,
}

impl Simulator {
    /// Starts serving on `addr` (port 0 picks a free port) on the current tokio runtime.
    pub async fn start(addr: SocketAddr) -> std::io::Result<Simulator> {
        let shared = Arc::new(SimShared::default());
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let app = router(shared.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "simulator stopped");
            }
        });
        Ok(Simulator {
            addr,
            shared,
            stop: Some(stop),
        })
    }

    /// Starts on a free loopback port.
    pub async fn start_local() -> std::io::Result<Simulator> {
        Self::start(SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The base URL an account of `vendor` should use.
    pub fn vendor_base_url(&self, vendor: Vendor) -> String {
        format!("{}{}", self.base_url(), prefix(vendor))
    }

    /// The shared state, to inspect counts or set faults.
    pub fn shared(&self) -> &Arc<SimShared> {
        &self.shared
    }

    /// The name of the simulator's built-in account for `vendor` in [`Simulator::config_toml`].
    pub fn account_name(vendor: Vendor) -> String {
        format!("sim_{vendor}")
    }

    /// A ready-to-use `leadrelay.toml` with one account per vendor pointing here.
    pub fn config_toml(&self) -> String {
        let mut out = String::from(
            "# Accounts of the leadrelay simulators; the credentials are the simulators' own.\n",
        );
        for vendor in Vendor::ALL {
            out.push_str(&format!(
                "\n[accounts.{}]\nvendor = \"{vendor}\"\nbase_url = \"{}\"\n{}",
                Self::account_name(vendor),
                self.vendor_base_url(vendor),
                credentials_toml(vendor)
            ));
        }
        out
    }

    /// A config with every account of `config` under the same name, pointing at the simulators
    /// with their credentials, plus the built-in `sim_<vendor>` account of each vendor `config`
    /// has no account for. Dry runs use it so scripts that name accounts work unchanged.
    pub fn mirror(&self, config: &Config) -> Config {
        let own = self.config();
        let mut mirrored = Config {
            origin: format!("{} (mirrored onto the simulators)", config.origin),
            ..config.clone()
        };
        mirrored.accounts.clear();
        for vendor in Vendor::ALL {
            let sim_account = &own.accounts[&Self::account_name(vendor)];
            let mut names: Vec<String> = config
                .accounts
                .values()
                .filter(|a| a.vendor == vendor)
                .map(|a| a.name.clone())
                .collect();
            if names.is_empty() {
                names.push(sim_account.name.clone());
            }
            for name in names {
                let mut account = sim_account.clone();
                account.name = name.clone();
                mirrored.accounts.insert(name, account);
            }
        }
        mirrored
    }

    /// [`Simulator::config_toml`], parsed.
    pub fn config(&self) -> Config {
        Config::parse(&self.config_toml(), "<simulator>", &|_| None)
            .expect("the simulator's own config is valid")
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The whole simulator as an axum router.
pub fn router(shared: Arc<SimShared>) -> Router {
    let mut app = Router::new()
        .route("/_sim/state", get(state_handler))
        .route(
            "/_sim/faults",
            axum::routing::post(set_faults_handler).delete(clear_faults_handler),
        )
        .route("/_sim/clock", axum::routing::post(set_clock_handler))
        .with_state(shared.clone());
    for vendor in Vendor::ALL {
        app = app.nest(
            &format!("/_sim/{vendor}"),
            control_router(vendor, shared.clone()),
        );
        let faulted = vendor_router(vendor, shared.clone())
            .layer(middleware::from_fn_with_state(
                (shared.clone(), vendor),
                inject_faults,
            ))
            .layer(middleware::from_fn_with_state(
                (shared.clone(), vendor),
                date_header,
            ));
        app = app.nest(prefix(vendor), faulted);
    }
    app.fallback(unknown_path)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
}

async fn inject_faults(
    State((shared, vendor)): State<(Arc<SimShared>, Vendor)>,
    request: Request,
    next: Next,
) -> Response {
    *shared
        .requests
        .lock()
        .expect("requests lock")
        .entry(vendor)
        .or_default() += 1;
    if let Some(faults) = shared.faults_for(vendor) {
        if faults.latency_ms > 0 {
            tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
        }
        if faults.timeout {
            // Long enough for any client deadline; the connection closes when the server stops.
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        if faults.error_rate > 0.0 && rand::random::<f64>() < faults.error_rate {
            let status = StatusCode::from_u16(faults.status.unwrap_or(503))
                .unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let mut response =
                (status, format!("simulated fault: HTTP {}", status.as_u16())).into_response();
            if status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::TOO_MANY_REQUESTS
            {
                response
                    .headers_mut()
                    .insert("retry-after", axum::http::HeaderValue::from_static("1"));
            }
            return response;
        }
        if faults.lost_rate > 0.0 && rand::random::<f64>() < faults.lost_rate {
            let served = next.run(request).await;
            return lose_answer(served);
        }
    }
    next.run(request).await
}

/// `served`'s status and headers with a body that fails before its first byte: the server
/// aborts the connection, so the caller sees the request sent and no answer.
fn lose_answer(served: Response) -> Response {
    let (mut parts, _) = served.into_parts();
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    let broken = futures_util::stream::once(async {
        Err::<axum::body::Bytes, _>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "simulated lost answer",
        ))
    });
    Response::from_parts(parts, Body::from_stream(broken))
}

/// Stamps every answer of `vendor`, faults included, with an HTTP `Date` from that vendor's
/// clock: a real server's `Date` comes from its own clock, which is what makes a skew visible.
async fn date_header(
    State((shared, vendor)): State<(Arc<SimShared>, Vendor)>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    let date = shared
        .clock(vendor)
        .now()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    if let Ok(value) = axum::http::HeaderValue::from_str(&date) {
        response
            .headers_mut()
            .insert(axum::http::header::DATE, value);
    }
    response
}

async fn state_handler(State(shared): State<Arc<SimShared>>) -> Json<Value> {
    Json(shared.snapshot())
}

async fn set_faults_handler(
    State(shared): State<Arc<SimShared>>,
    body: axum::body::Bytes,
) -> Response {
    match serde_json::from_slice::<Faults>(&body) {
        Ok(faults)
            if (0.0..=1.0).contains(&faults.error_rate)
                && (0.0..=1.0).contains(&faults.lost_rate) =>
        {
            shared.set_faults(faults.clone());
            Json(json!({"ok": true, "faults": faults})).into_response()
        }
        Ok(_) => bad_request("error_rate and lost_rate must be between 0.0 and 1.0"),
        Err(e) => bad_request(&format!("invalid faults: {e}")),
    }
}

async fn set_clock_handler(
    State(shared): State<Arc<SimShared>>,
    body: axum::body::Bytes,
) -> Response {
    match serde_json::from_slice::<ClockSkew>(&body) {
        Ok(skew) => {
            shared.set_clock_skew(&skew);
            Json(json!({"ok": true, "clock": skew})).into_response()
        }
        Err(e) => bad_request(&format!(
            "invalid clock skew ({e}); expected {{\"vendor\": \"xiaolanben\"?, \"skew_secs\": N}}"
        )),
    }
}

async fn clear_faults_handler(State(shared): State<Arc<SimShared>>) -> Json<Value> {
    shared.clear_faults();
    Json(json!({"ok": true}))
}

async fn unknown_path(request: Request<Body>) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"error": format!("the simulator serves no {} {}", request.method(), request.uri().path())})),
    )
        .into_response()
}

fn bad_request(message: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": message}))).into_response()
}
