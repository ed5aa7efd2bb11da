//! Shared helpers for the integration tests.

#![allow(dead_code)]

use leadrelay::clock::Clock;
use leadrelay::config::Config;
use leadrelay::connectors::{AccountClient, HttpClient, Vendor};
use leadrelay::sim::Simulator;

/// A simulator on a free loopback port, its config, and a way to build clients.
pub struct Harness {
    pub sim: Simulator,
    pub config: Config,
}

impl Harness {
    pub async fn start() -> Harness {
        let sim = Simulator::start_local().await.expect("simulator starts");
        let config = sim.config();
        Harness { sim, config }
    }

    /// The built-in account of `vendor`, signing with the system clock.
    pub fn client(&self, vendor: Vendor) -> AccountClient {
        self.client_with(vendor, Clock::system(), |_| {})
    }

    /// The built-in account of `vendor`, with a clock and a chance to edit the account.
    pub fn client_with(
        &self,
        vendor: Vendor,
        clock: Clock,
        edit: impl FnOnce(&mut leadrelay::config::Account),
    ) -> AccountClient {
        let mut account = self.config.accounts[&Simulator::account_name(vendor)].clone();
        edit(&mut account);
        AccountClient::new(
            &account,
            HttpClient::with_timeout(std::time::Duration::from_secs(5)),
            clock,
        )
    }

    pub fn base_url(&self) -> String {
        self.sim.base_url()
    }
}

/// The top-level keys of a JSON object in order (the vendors' error shapes are pinned by them).
pub fn keys(body: &serde_json::Value) -> Vec<&str> {
    body.as_object()
        .unwrap_or_else(|| panic!("not a JSON object: {body}"))
        .keys()
        .map(String::as_str)
        .collect()
}
