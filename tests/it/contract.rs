//! The vendor contract: what every registered vendor must do, checked over `Vendor::ALL`, so a
//! vendor added by one line in `lead::for_each_vendor!` is held to it without writing a test.
//! `.ci/new-vendor-check` registers the template vendor in a scratch copy and runs this file.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Router;
use leadrelay::clock::Clock;
use leadrelay::connectors::source::PushHead;
use leadrelay::connectors::{Account, AccountClient, FailureKind, HttpClient, Vendor};
use leadrelay::sim::{self, Simulator};
use serde_json::Value;

use crate::common::Harness;

fn is_snake_case(name: &str) -> bool {
    !name.is_empty()
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.contains("__")
        && !name.ends_with('_')
}

/// The simulator's credentials for `vendor` as a TOML table.
fn sim_credentials(vendor: Vendor) -> toml::Table {
    sim::credentials_toml(vendor)
        .parse()
        .expect("the simulator's credentials are TOML")
}

/// The text of every secret the simulator's account of `vendor` holds.
fn sim_secrets(vendor: Vendor) -> Vec<String> {
    let table = sim_credentials(vendor);
    vendor
        .secret_keys()
        .iter()
        .filter_map(|key| table.get(*key))
        .map(|value| match value {
            toml::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect()
}

fn account(vendor: Vendor, base_url: &str, credentials: toml::Table) -> Account {
    Account {
        name: format!("contract_{vendor}"),
        vendor,
        base_url: base_url.to_string(),
        credentials: vendor
            .parse_credentials(credentials)
            .unwrap_or_else(|e| panic!("{vendor}: the simulator's credentials parse: {e}")),
    }
}

fn client(account: &Account, timeout: Duration) -> AccountClient {
    AccountClient::new(account, HttpClient::with_timeout(timeout), Clock::system())
}

fn example(vendor: Vendor, op: &str) -> Value {
    let info = vendor.ops().iter().find(|o| o.name == op).unwrap();
    serde_json::from_str(info.example)
        .unwrap_or_else(|e| panic!("{vendor}::{op}: the example is not JSON: {e}"))
}

#[test]
fn every_vendor_has_unique_snake_case_ops_with_json_examples_and_declares_its_secrets() {
    for vendor in Vendor::ALL {
        let ops = vendor.ops();
        assert!(!ops.is_empty(), "{vendor} has no ops");
        let mut names = BTreeSet::new();
        for op in ops {
            assert!(
                is_snake_case(op.name),
                "{vendor}::{} is not snake_case",
                op.name
            );
            assert!(
                names.insert(op.name),
                "{vendor}::{} is declared twice",
                op.name
            );
            assert!(
                !op.summary.trim().is_empty(),
                "{vendor}::{} has no summary",
                op.name
            );
            assert!(
                !op.endpoint.trim().is_empty(),
                "{vendor}::{} has no endpoint",
                op.name
            );
            example(vendor, op.name);
        }
        assert!(
            !vendor.secret_keys().is_empty(),
            "{vendor} declares no secret credential key"
        );
        let table = sim_credentials(vendor);
        for key in vendor.secret_keys() {
            assert!(
                table.contains_key(*key),
                "{vendor}: secret key `{key}` is not a credential key of the simulator's account"
            );
        }
    }
}

/// Every op of every vendor, with its example, through the simulator: each is signed, sent to
/// its endpoint and answered, and the answer is decoded: a success, or the vendor's own refusal
/// (an id the simulator does not know) read from the vendor's envelope. Never an auth failure,
/// a transport error, an undecodable answer or a local payload refusal.
#[tokio::test]
async fn every_op_of_every_vendor_round_trips_through_the_simulator() {
    let h = Harness::start().await;
    let mut report = Vec::new();
    for vendor in Vendor::ALL {
        let client = h.client(vendor);
        let (mut ok, mut refused) = (0, 0);
        for op in vendor.ops() {
            let before = h.sim.shared().requests(vendor);
            match client.call(op.name, example(vendor, op.name)).await {
                Ok(_) => ok += 1,
                Err(e) => {
                    assert!(
                        matches!(
                            e.kind,
                            FailureKind::Business
                                | FailureKind::InvalidRequest
                                | FailureKind::Exists
                        ) && e.status.is_some(),
                        "{vendor}::{}: {e} ({:?})",
                        op.name,
                        e.kind
                    );
                    refused += 1;
                }
            }
            assert!(
                h.sim.shared().requests(vendor) > before,
                "{vendor}::{} reached no simulator route",
                op.name
            );
        }
        report.push(format!(
            "{vendor}: {ok} ok, {refused} refused by the vendor"
        ));
        assert!(ok > 0, "{vendor}: no op succeeded");
    }
    eprintln!("contract round trips: {}", report.join("; "));
}

#[tokio::test]
async fn an_unknown_op_is_refused_before_anything_is_sent() {
    let h = Harness::start().await;
    for vendor in Vendor::ALL {
        let before = h.sim.shared().requests(vendor);
        let e = h
            .client(vendor)
            .call("no_such_op", Value::Null)
            .await
            .unwrap_err();
        assert_eq!(e.kind, FailureKind::InvalidPayload, "{vendor}: {e}");
        assert!(!e.retryable(), "{vendor}");
        let message = e.to_string();
        assert!(
            message.contains("has no op `no_such_op`"),
            "{vendor}: {message}"
        );
        assert!(
            message.contains(vendor.ops()[0].name),
            "{vendor}: the refusal lists the ops: {message}"
        );
        assert_eq!(
            h.sim.shared().requests(vendor),
            before,
            "{vendor}: sent anyway"
        );
    }
}

#[tokio::test]
async fn a_payload_of_the_wrong_shape_is_refused_locally_and_not_retried() {
    let h = Harness::start().await;
    for vendor in Vendor::ALL {
        let op = vendor.ops()[0].name;
        let e = h
            .client(vendor)
            .call(op, Value::String("not a map".into()))
            .await
            .unwrap_err();
        assert_eq!(e.kind, FailureKind::InvalidPayload, "{vendor}::{op}: {e}");
        assert!(!e.retryable(), "{vendor}::{op}");
    }
}

#[tokio::test]
async fn wrong_secrets_are_refused_by_the_simulator_as_auth_in_the_vendors_own_shape() {
    let h = Harness::start().await;
    for vendor in Vendor::ALL {
        let mut credentials = sim_credentials(vendor);
        for key in vendor.secret_keys() {
            if let Some(toml::Value::String(value)) = credentials.get_mut(*key) {
                *value = format!("wrong-{value}");
            }
        }
        let base_url = h.sim.vendor_base_url(vendor);
        let wrong = client(
            &account(vendor, &base_url, credentials),
            Duration::from_secs(5),
        );
        let op = vendor.ops()[0].name;
        let e = wrong.call(op, example(vendor, op)).await.unwrap_err();
        // `Auth` is only given when the client read the vendor's own error envelope.
        assert_eq!(e.kind, FailureKind::Auth, "{vendor}::{op}: {e}");
        assert!(
            e.status.is_some(),
            "{vendor}::{op}: the simulator answered: {e}"
        );
        assert!(
            !e.retryable(),
            "{vendor}::{op}: auth failures are not retried"
        );
    }
}

#[test]
fn secrets_never_appear_in_debug_output() {
    for vendor in Vendor::ALL {
        let account = account(vendor, "http://127.0.0.1:9", sim_credentials(vendor));
        let client = client(&account, Duration::from_secs(1));
        let shown = format!("{account:?} {client:?} {:?}", account.credentials);
        for secret in sim_secrets(vendor) {
            assert!(
                !shown.contains(&secret),
                "{vendor}: a secret shows in Debug: {shown}"
            );
        }
    }
}

/// A loopback server that answers every request with `status`, or never answers.
async fn answering(status: Option<StatusCode>) -> SocketAddr {
    let app = Router::new().fallback(move || async move {
        match status {
            Some(status) => (status, "{}").into_response(),
            None => {
                tokio::time::sleep(Duration::from_secs(30)).await;
                StatusCode::OK.into_response()
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

#[tokio::test]
async fn rate_limits_server_errors_and_timeouts_are_retryable() {
    let cases = [
        (Some(StatusCode::TOO_MANY_REQUESTS), "429"),
        (Some(StatusCode::INTERNAL_SERVER_ERROR), "500"),
        (Some(StatusCode::BAD_GATEWAY), "502"),
        (Some(StatusCode::SERVICE_UNAVAILABLE), "503"),
        (None, "timeout"),
    ];
    for (status, label) in cases {
        let addr = answering(status).await;
        for vendor in Vendor::ALL {
            let base_url = format!("http://{addr}");
            let account = account(vendor, &base_url, sim_credentials(vendor));
            let client = client(&account, Duration::from_millis(300));
            let op = vendor.ops()[0].name;
            let e = client.call(op, example(vendor, op)).await.unwrap_err();
            assert!(
                e.retryable(),
                "{vendor}::{op} on {label}: {e} ({:?})",
                e.kind
            );
        }
    }
}

#[tokio::test]
async fn lead_sources_answer_as_they_declare_and_refuse_forged_pushes_in_their_own_shape() {
    let h = Harness::start().await;
    for vendor in Vendor::ALL {
        let account = &h.config.accounts[&Simulator::account_name(vendor)];
        let client = h.client(vendor);
        assert_eq!(
            client.pull_source().is_ok(),
            vendor.pulls(),
            "{vendor}: the pull capability and PULLS disagree"
        );
        let receiver = account.credentials.push_receiver();
        assert_eq!(
            receiver.is_ok(),
            vendor.pushes(),
            "{vendor}: the push capability and PUSHES disagree"
        );
        if let Ok(receiver) = receiver {
            let now = Clock::system().unix_secs();
            let refusal = receiver
                .verify(&PushHead::default(), b"forged=1", now)
                .unwrap_err();
            assert!(!refusal.reason.is_empty(), "{vendor}");
            let answer: Value = serde_json::from_str(&refusal.answer)
                .unwrap_or_else(|e| panic!("{vendor}: the refusal is not JSON: {e}"));
            assert!(answer.is_object(), "{vendor}: {answer}");
            for body in [receiver.reject_body("x"), receiver.busy_body("x")] {
                let body: Value = serde_json::from_str(&body).unwrap();
                assert!(body.is_object(), "{vendor}: {body}");
            }
        }
        if !vendor.pulls() && !vendor.pushes() {
            let e = leadrelay::connectors::lead_from_record(vendor, "a", serde_json::json!({}))
                .unwrap_err();
            assert!(e.contains("destination"), "{vendor}: {e}");
        }
    }
}
