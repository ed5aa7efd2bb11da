//! # leadrelay
//!
//! Routes sales leads between Chinese ad platforms (Tencent Ads leads, Toutiao/Feiyu) and CRMs
//! (Waiqin365, Xiaolanben, Linkflow CDP).
//!
//! ## Map
//!
//! One line per top-level module, bottom first (`tests/it/layering.rs` fails when a `pub mod`
//! has no line here):
//!
//! - [`secret`] — `Secret`, which prints as `***`; phone masking for logs.
//! - [`clock`] — the one injected `Clock` (system, skewed, or manual in tests) and Beijing time.
//! - [`metrics`] — the Prometheus metrics: names, labels, recording, rendering.
//! - [`lead`] — the normalized `Lead`, the kind vocabulary and the `Vendor` id shared by all.
//! - [`store`] — the journal: role traits (`roles.rs`: intake, work queue, calls, cron ledger,
//!   claims, checkpoints, maintenance, queries) over two backends, `sqlite/` (the embedded
//!   default, one group-committing writer) and `postgres/` (several nodes: leased claims,
//!   LISTEN/NOTIFY, heartbeats); leads, work items, runs and every call as it returns, cron
//!   slots, `once` keys, dead letters; the read queries.
//! - [`connectors`] — one folder per vendor (pure signer, typed models, async client, ops table,
//!   pull/push capabilities), registered by one line in `lead::for_each_vendor!`; accounts, and
//!   `connectors::AccountClient`, which dispatches an op.
//! - [`config`] — `leadrelay.toml` → validated accounts, `[[sources]]` and `[daemon]`; `${VAR}`.
//! - [`sim`] — signature-exact simulators of all five vendors on one HTTP server.
//! - [`host`] — the Rhai scripting host: one engine, limits, bridge, hot reload, stdlib,
//!   `once`/`skip`, tests; the workbench that routes one record and runs the script tests for
//!   any front end (the simulators handed in, since `host` cannot name `sim`).
//! - [`trigger`] — what produces work: pushes, pulls, cron ticks, file changes.
//! - [`daemon`] — `leadrelay run`: wires journal, host, triggers and the dispatcher (breakers,
//!   retries, cron jobs, status) and stops them in order; the admin listener (metrics, health)
//!   and the ops console (`daemon/console/`).
//! - [`inspect`] — what the journal inspection commands print, as pure text functions.
//! - [`init`] — `leadrelay init`: scaffolds a project (config with every vendor's account,
//!   sources, daemon defaults, an example script and its test) that passes `check` and `test`.
//! - [`preview`] — `leadrelay preview`: the journal's recent leads replayed through edited
//!   scripts against the simulators, compared with what the live scripts did.
//! - [`demo`] — `leadrelay demo`: the routing path end to end against the simulators.
//! - [`bench`] — `leadrelay bench`: throughput, latency, CPU, memory, start-up and reload of the
//!   daemon (a child process) against the simulators.
//! - [`cli`] — the `leadrelay` command line: parsing, printing and exit codes, one file per
//!   command group; the one `Clock` every command reads comes in at its entry.
//!
//! Dependency direction (each module uses only those to its left; `tests/it/layering.rs` walks
//! `src/` and fails on a `crate::` path against it):
//!
//! `secret`, `clock`, `metrics` (usable by all) ← `lead` ← `connectors` ← `config` ← `host` ←
//! `trigger` ← `daemon` ← `preview`/`demo`/`bench`/`init`/`cli`. Beside them: `store` uses `lead`
//! only (its `types` hold the
//! traits the host and triggers use: intake, `once`, assignment counters); `sim` sits beside
//! `connectors` (it may read `config`); `inspect` reads the journal (`store`, `lead`) for the
//! CLI and the daemon's console. `config` sits above `connectors` because an account is a connector's credentials, and
//! reads the journal's default backlog from `store`. `*/rhai.rs` files are Rhai glue and belong
//! to the host layer. Nothing below the top prints.

#![warn(missing_docs)]

pub mod bench;
pub mod cli;
pub mod clock;
pub mod config;
pub mod connectors;
pub mod daemon;
pub mod demo;
pub mod host;
pub mod init;
pub mod inspect;
pub mod lead;
pub mod metrics;
pub mod preview;
pub mod secret;
pub mod sim;
pub mod store;
pub mod trigger;
