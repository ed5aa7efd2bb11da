//! The PostgreSQL journal: one database shared by several leadrelay nodes.
//!
//! ## What is global, what is per node
//!
//! Everything a lead's fate depends on lives in the database, so any node may take any push
//! and any piece of work: leads and follow records are unique per account and vendor id
//! (`ON CONFLICT DO NOTHING`), acknowledged only after `COMMIT`; cron slots, `once` keys and
//! assignment counters are single rows claimed by conditional upserts, so of many nodes exactly
//! one wins. Per node: the backlog figure that sheds pushes (refreshed from the database every
//! heartbeat), circuit breakers, and script versions (reported in `nodes`).
//!
//! ## Leases
//!
//! A node claims work with `FOR UPDATE SKIP LOCKED`, stamping `claimed_by` and
//! `lease_until_ms`; its heartbeat renews the leases of everything it is running. A node that
//! dies stops renewing; once a lease lapses, the item is claimable again by any node (its runs
//! still `running` become `interrupted`, and their succeeded calls are replayed, as after a
//! crash on SQLite). A node finishing an item it no longer holds is refused, so a slow node
//! cannot overwrite the outcome of the node that took over. A node starting up takes back at
//! once only the work still leased to its own name: it never resets other nodes' work.
//!
//! ## Waking
//!
//! Intake and `wake_retries_waiting_on` send `NOTIFY leadrelay_work` inside their transaction
//! (delivered on commit); every node `LISTEN`s on its own connection and wakes its dispatcher,
//! so routing latency does not depend on polling.
//!
//! ## Connections
//!
//! A `deadpool-postgres` pool (TLS by rustls with the webpki roots when the URL asks for it
//! with `sslmode`). While the database is unreachable every write fails at once with
//! [`StoreError::Database`], which the intake turns into 503 with `Retry-After`: nothing is
//! acknowledged without a commit. The pool reconnects by itself when the database is back.

use std::sync::Arc;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::config::SslMode;

use super::target::PgUrl;
use super::StoreError;

pub(crate) mod copy;
mod journal;
pub mod reader;
pub(crate) mod retention;

pub use journal::PgJournal;
pub(crate) mod schema;

/// Connections per node: enough for intake, the dispatcher's claims and finishes, calls from
/// script threads and the console at once.
const POOL_SIZE: usize = 16;

/// A driver error as a [`StoreError`]; the message names what failed, never a value bound.
pub(crate) fn pg_error(e: tokio_postgres::Error) -> StoreError {
    match e.as_db_error() {
        Some(db) => StoreError::Database(format!("{}: {}", db.code().code(), db.message())),
        None => StoreError::Database(e.to_string()),
    }
}

/// A pool error as a [`StoreError`].
pub(crate) fn pool_error(e: deadpool_postgres::PoolError) -> StoreError {
    match e {
        deadpool_postgres::PoolError::Backend(e) => pg_error(e),
        other => StoreError::Database(format!("no database connection: {other}")),
    }
}

/// A pool of connections to `url`. Connects lazily; [`connect`] checks one at once.
pub(crate) fn pool(url: &PgUrl) -> Result<Pool, StoreError> {
    let config: tokio_postgres::Config = url.expose().parse().map_err(|e| StoreError::Open {
        path: url.to_string().into(),
        message: format!("not a PostgreSQL URL: {e}"),
    })?;
    let manager_config = ManagerConfig {
        recycling_method: RecyclingMethod::Fast,
    };
    let manager = if config.get_ssl_mode() == SslMode::Disable {
        Manager::from_config(config, tokio_postgres::NoTls, manager_config)
    } else {
        Manager::from_config(config, tls(), manager_config)
    };
    Pool::builder(manager)
        .max_size(POOL_SIZE)
        .wait_timeout(Some(std::time::Duration::from_secs(5)))
        .create_timeout(Some(std::time::Duration::from_secs(5)))
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .build()
        .map_err(|e| StoreError::Open {
            path: url.to_string().into(),
            message: e.to_string(),
        })
}

/// rustls with the webpki roots, for `sslmode=prefer|require` URLs.
pub(crate) fn tls() -> tokio_postgres_rustls::MakeRustlsConnect {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("ring supports the default protocol versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_postgres_rustls::MakeRustlsConnect::new(config)
}

/// Opens the pool, checks a connection and migrates the schema.
pub(crate) async fn connect(url: &PgUrl) -> Result<Pool, StoreError> {
    let pool = pool(url)?;
    let mut client = pool.get().await.map_err(|e| StoreError::Open {
        path: url.to_string().into(),
        message: match pool_error(e) {
            StoreError::Database(m) => m,
            other => other.to_string(),
        },
    })?;
    schema::migrate(&mut client, &url.to_string()).await?;
    Ok(pool)
}

/// Runs `work` to completion from synchronous code (the CLI's commands): inside a
/// multi-threaded runtime on it, otherwise on a small runtime of its own.
pub(crate) fn block_on<T>(
    work: impl std::future::Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| handle.block_on(work))
        }
        _ => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::Database(format!("cannot start a runtime: {e}")))?
            .block_on(work),
    }
}
