//! The journal's schema as an ordered list of migrations, and the connection settings.
//!
//! `PRAGMA user_version` holds the number of migrations applied; `schema_migrations` records when
//! each was applied. A migration is never edited once released: a change is a new entry at the
//! end. A journal whose version is above [`MIGRATIONS`]`.len()` was written by a newer leadrelay
//! and is refused rather than guessed at.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension};

use crate::store::{now_ms, Durability, StoreError};

/// One schema step: applied once, in order, inside one transaction.
pub(crate) struct Migration {
    /// A short name recorded in `schema_migrations`.
    pub name: &'static str,
    /// The SQL, run with `execute_batch`.
    pub sql: &'static str,
}

/// Every migration, oldest first. The schema version is the count applied.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        name: "initial",
        sql: r#"
-- One row per (account, vendor lead id). `body` is the full normalized Lead as JSON so a
-- restart can route it again without the vendor.
CREATE TABLE leads (
    id              INTEGER PRIMARY KEY,
    vendor          TEXT    NOT NULL,
    account         TEXT    NOT NULL,
    vendor_lead_id  TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    via             TEXT    NOT NULL,
    endpoint        TEXT    NOT NULL,
    received_ms     INTEGER NOT NULL,
    UNIQUE (account, vendor_lead_id)
);
CREATE INDEX leads_vendor_lead_id ON leads (vendor_lead_id);
CREATE INDEX leads_received ON leads (received_ms);

-- Waiqin follow records, one per (account, msgId).
CREATE TABLE follows (
    id           INTEGER PRIMARY KEY,
    account      TEXT    NOT NULL,
    msg_id       TEXT    NOT NULL,
    data_id      TEXT,
    record       TEXT    NOT NULL,
    via          TEXT    NOT NULL,
    endpoint     TEXT    NOT NULL,
    received_ms  INTEGER NOT NULL,
    UNIQUE (account, msg_id)
);

-- What the dispatcher has to do: exactly one item per new lead or follow record.
CREATE TABLE work (
    id             INTEGER PRIMARY KEY,
    lead_id        INTEGER REFERENCES leads (id),
    follow_id      INTEGER REFERENCES follows (id),
    account        TEXT    NOT NULL,
    status         TEXT    NOT NULL
                   CHECK (status IN ('pending', 'running', 'retry', 'done', 'dead')),
    due_ms         INTEGER NOT NULL,
    attempts       INTEGER NOT NULL DEFAULT 0,
    first_seen_ms  INTEGER NOT NULL,
    updated_ms     INTEGER NOT NULL,
    reason         TEXT,
    CHECK ((lead_id IS NULL) <> (follow_id IS NULL))
);
CREATE UNIQUE INDEX work_lead ON work (lead_id) WHERE lead_id IS NOT NULL;
CREATE UNIQUE INDEX work_follow ON work (follow_id) WHERE follow_id IS NOT NULL;
-- Partial: only claimable work is indexed, so finished work costs the claim query nothing.
-- Pending work is always due (oldest id first); retries only once `due_ms` has passed.
CREATE INDEX work_pending ON work (id) WHERE status = 'pending';
CREATE INDEX work_retry ON work (due_ms, id) WHERE status = 'retry';
CREATE INDEX work_status ON work (status);

-- One execution of one handler, pinned to one script version.
CREATE TABLE runs (
    id          INTEGER PRIMARY KEY,
    work_id     INTEGER NOT NULL REFERENCES work (id),
    attempt     INTEGER NOT NULL,
    script      TEXT    NOT NULL,
    handler     TEXT    NOT NULL,
    version     TEXT    NOT NULL,
    started_ms  INTEGER NOT NULL,
    elapsed_ms  INTEGER NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('ok', 'failed')),
    error       TEXT
);
CREATE INDEX runs_work ON runs (work_id);

-- One signed vendor request made by a run. `response` is the decoded answer as JSON, kept
-- whole so a retried run can be answered from here instead of calling again.
CREATE TABLE calls (
    id           INTEGER PRIMARY KEY,
    run_id       INTEGER NOT NULL REFERENCES runs (id),
    seq          INTEGER NOT NULL,
    vendor       TEXT    NOT NULL,
    account      TEXT    NOT NULL,
    op           TEXT    NOT NULL,
    fingerprint  TEXT    NOT NULL,
    ok           INTEGER NOT NULL,
    status       INTEGER,
    code         TEXT,
    message      TEXT,
    response     TEXT,
    attempts     INTEGER NOT NULL,
    replayed     INTEGER NOT NULL,
    UNIQUE (run_id, seq)
);

-- Pull positions, keyed by account and endpoint only: no script edit can reset one.
CREATE TABLE checkpoints (
    account     TEXT    NOT NULL,
    endpoint    TEXT    NOT NULL,
    position    TEXT    NOT NULL,
    updated_ms  INTEGER NOT NULL,
    PRIMARY KEY (account, endpoint)
) WITHOUT ROWID;

-- Claimed cron slots. Rows older than a retention window are pruned; `cron_state.floor_ms`
-- remembers how far, and slots below it are refused, so a slot still never fires twice.
CREATE TABLE cron_claims (
    schedule_key  TEXT    NOT NULL,
    slot_ms       INTEGER NOT NULL,
    claimed_ms    INTEGER NOT NULL,
    PRIMARY KEY (schedule_key, slot_ms)
) WITHOUT ROWID;
CREATE TABLE cron_state (
    schedule_key      TEXT    PRIMARY KEY,
    floor_ms          INTEGER NOT NULL,
    last_slot_ms      INTEGER,
    last_claimed_ms   INTEGER,
    claims            INTEGER NOT NULL DEFAULT 0,
    skips             INTEGER NOT NULL DEFAULT 0,
    last_skip_slot_ms INTEGER,
    last_skip_reason  TEXT
) WITHOUT ROWID;

CREATE TABLE dead_letters (
    id          INTEGER PRIMARY KEY,
    work_id     INTEGER NOT NULL REFERENCES work (id),
    reason      TEXT    NOT NULL,
    attempts    INTEGER NOT NULL,
    created_ms  INTEGER NOT NULL,
    retried_ms  INTEGER
);
CREATE INDEX dead_letters_open ON dead_letters (id) WHERE retried_ms IS NULL;

CREATE TABLE quarantine (
    id            INTEGER PRIMARY KEY,
    account       TEXT    NOT NULL,
    endpoint      TEXT    NOT NULL,
    reason        TEXT    NOT NULL,
    content_type  TEXT,
    body          BLOB    NOT NULL,
    received_ms   INTEGER NOT NULL
);

-- The stdlib's round-robin counters: `next` is the value the next call returns.
CREATE TABLE assignments (
    key   TEXT    PRIMARY KEY,
    next  INTEGER NOT NULL
) WITHOUT ROWID;
"#,
    },
    Migration {
        name: "effects",
        sql: r#"
-- Work gets two final states of its own and a third kind: a cron job slot.
--   unrouted: no live handler wanted the lead (never shown as routed; `leads reroute` re-runs it)
--   skipped:  every handler that ran chose `skip(reason)`
-- A job item has `job_key` (script path::function::cron) and `slot_ms`, one per slot.
CREATE TABLE work_v2 (
    id             INTEGER PRIMARY KEY,
    lead_id        INTEGER REFERENCES leads (id),
    follow_id      INTEGER REFERENCES follows (id),
    job_key        TEXT,
    slot_ms        INTEGER,
    account        TEXT    NOT NULL,
    status         TEXT    NOT NULL
                   CHECK (status IN ('pending', 'running', 'retry', 'done', 'dead', 'unrouted',
                                     'skipped')),
    due_ms         INTEGER NOT NULL,
    attempts       INTEGER NOT NULL DEFAULT 0,
    first_seen_ms  INTEGER NOT NULL,
    updated_ms     INTEGER NOT NULL,
    reason         TEXT,
    CHECK ((lead_id IS NOT NULL) + (follow_id IS NOT NULL) + (job_key IS NOT NULL) = 1),
    CHECK ((job_key IS NULL) = (slot_ms IS NULL))
);
INSERT INTO work_v2 (id, lead_id, follow_id, account, status, due_ms, attempts, first_seen_ms,
                     updated_ms, reason)
    SELECT id, lead_id, follow_id, account, status, due_ms, attempts, first_seen_ms, updated_ms,
           reason
    FROM work;
DROP TABLE work;
ALTER TABLE work_v2 RENAME TO work;
CREATE UNIQUE INDEX work_lead ON work (lead_id) WHERE lead_id IS NOT NULL;
CREATE UNIQUE INDEX work_follow ON work (follow_id) WHERE follow_id IS NOT NULL;
CREATE UNIQUE INDEX work_job ON work (job_key, slot_ms) WHERE job_key IS NOT NULL;
-- A job skips a slot while its previous one is unfinished; this finds that without reading the
-- job's whole history (a per-second job leaves 86,400 finished items a day).
CREATE INDEX work_job_open ON work (job_key)
    WHERE job_key IS NOT NULL AND status IN ('pending', 'running', 'retry');
CREATE INDEX work_pending ON work (id) WHERE status = 'pending';
CREATE INDEX work_retry ON work (due_ms, id) WHERE status = 'retry';
CREATE INDEX work_status ON work (status);

-- A run row is written when the run makes its first call (so each call can be committed as
-- it returns, before the script goes on) and completed when the run ends. A run still
-- `running` after a crash becomes `interrupted` on recovery; its succeeded calls are replayed.
-- `note` holds the reason given to `skip(reason)`.
CREATE TABLE runs_v2 (
    id          INTEGER PRIMARY KEY,
    work_id     INTEGER NOT NULL REFERENCES work (id),
    attempt     INTEGER NOT NULL,
    script      TEXT    NOT NULL,
    handler     TEXT    NOT NULL,
    version     TEXT    NOT NULL,
    started_ms  INTEGER NOT NULL,
    elapsed_ms  INTEGER NOT NULL,
    status      TEXT    NOT NULL
                CHECK (status IN ('running', 'ok', 'failed', 'skipped', 'interrupted')),
    error       TEXT,
    note        TEXT
);
INSERT INTO runs_v2 (id, work_id, attempt, script, handler, version, started_ms, elapsed_ms,
                     status, error)
    SELECT id, work_id, attempt, script, handler, version, started_ms, elapsed_ms, status, error
    FROM runs;
DROP TABLE runs;
ALTER TABLE runs_v2 RENAME TO runs;
CREATE INDEX runs_work ON runs (work_id);
CREATE INDEX runs_running ON runs (id) WHERE status = 'running';

-- `once(key, ttl)`: a key is held by the work item that claimed it until `expires_ms`. The
-- same work item asking again (a retried run) gets the same answer.
CREATE TABLE once_keys (
    key          TEXT    PRIMARY KEY,
    work_id      INTEGER NOT NULL,
    claimed_ms   INTEGER NOT NULL,
    expires_ms   INTEGER NOT NULL
) WITHOUT ROWID;
"#,
    },
    Migration {
        name: "retention",
        sql: r#"
-- Retention, redaction and erasure on request (`store::retention`).
-- `phone_hash`: hex SHA-256 of the normalized phone (`lead::normalize_phone`), '' when the row
-- has none or was redacted, NULL only on rows written before this migration (which
-- `leads forget --phone` then checks one by one). It lets an erasure find a person without
-- scanning bodies. It is pseudonymous, not anonymous (mobile numbers are few enough to
-- enumerate), so redaction clears it along with the body.
-- `redacted_ms`: when the row's personal data was replaced by its redacted form.
ALTER TABLE leads ADD COLUMN phone_hash TEXT;
ALTER TABLE leads ADD COLUMN redacted_ms INTEGER;
CREATE INDEX leads_phone_hash ON leads (phone_hash);
-- Redaction walks only rows still holding personal data, oldest first.
CREATE INDEX leads_unredacted ON leads (received_ms) WHERE redacted_ms IS NULL;
ALTER TABLE follows ADD COLUMN phone_hash TEXT;
ALTER TABLE follows ADD COLUMN redacted_ms INTEGER;
CREATE INDEX follows_phone_hash ON follows (phone_hash);
CREATE INDEX follows_received ON follows (received_ms);
CREATE INDEX follows_unredacted ON follows (received_ms) WHERE redacted_ms IS NULL;
-- Cron job items have no lead; their final items are pruned by age of their last update.
CREATE INDEX work_job_age ON work (updated_ms) WHERE job_key IS NOT NULL;
-- "Is this item's dead letter still open?" for each prune candidate.
CREATE INDEX dead_letters_work ON dead_letters (work_id);

-- One row per `leads forget`: who, when, how it matched and how many rows it touched. Never
-- the phone or id asked for: the record of an erasure must not re-identify the person.
CREATE TABLE erasures (
    id        INTEGER PRIMARY KEY,
    at_ms     INTEGER NOT NULL,
    by        TEXT    NOT NULL,
    matched   TEXT    NOT NULL CHECK (matched IN ('phone', 'id')),
    leads     INTEGER NOT NULL,
    follows   INTEGER NOT NULL,
    runs      INTEGER NOT NULL,
    calls     INTEGER NOT NULL
);
"#,
    },
    Migration {
        name: "erasure_quarantine",
        sql: r#"
-- `leads forget` also empties the quarantined payloads holding the person; how many is part
-- of the erasure's record (0 for erasures made before this migration).
ALTER TABLE erasures ADD COLUMN quarantined INTEGER NOT NULL DEFAULT 0;
"#,
    },
];

/// The schema version this build writes.
pub(crate) fn known_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// How long any journal connection waits for a lock before failing with "database is locked".
/// Writers hold the lock only for one short batch, so waiting beats failing.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Settings every connection needs. WAL lets the CLI read while the daemon writes;
/// `busy_timeout` covers the short moments a checkpoint holds a lock.
pub(crate) fn configure(conn: &Connection, durability: Durability) -> Result<(), StoreError> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Takes effect only on a file with no tables yet (a new journal): pages freed by pruning
    // can then be handed back to the OS in small steps (`PRAGMA incremental_vacuum(N)`) without
    // a VACUUM that would rewrite the whole file under the writer. Older journals are switched
    // by `enable_incremental_vacuum` when small enough (see there).
    conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
    // Deleted and overwritten content is zeroed, not merely unlinked: redaction and erasure
    // rewrite rows in place, and without this the old cell bytes (the phone, the name, the
    // raw body) would stay readable in the page's free space or on freelist pages until
    // reused. Vacuuming alone would only remove whole free pages, not the free space inside
    // live pages. It costs a few extra page writes per delete.
    conn.pragma_update(None, "secure_delete", "ON")?;
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Database(format!(
            "could not switch to WAL (journal_mode is {mode})"
        )));
    }
    let synchronous = match durability {
        Durability::Process => "NORMAL",
        Durability::Power => "FULL",
    };
    conn.pragma_update(None, "synchronous", synchronous)?;
    Ok(())
}

/// Brings the schema up to [`known_version`], refusing a newer journal.
pub(crate) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    check_version(found, path)?;
    if found == known_version() {
        return Ok(());
    }
    // Migrations rebuild tables (SQLite cannot alter a CHECK constraint), which foreign keys
    // would refuse mid-way; they are off for the migration and verified before its commit.
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    let result = migrate_in_transaction(conn, path);
    conn.pragma_update(None, "foreign_keys", "ON")?;
    result
}

fn migrate_in_transaction(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    // Re-read under the write lock: another process may have migrated meanwhile.
    let found: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    check_version(found, path)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version     INTEGER PRIMARY KEY,
             name        TEXT    NOT NULL,
             applied_ms  INTEGER NOT NULL
         );",
    )?;
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let version = index as i64 + 1;
        tx.execute_batch(migration.sql).map_err(|e| {
            StoreError::Database(format!("migration {version} ({}): {e}", migration.name))
        })?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_ms) VALUES (?1, ?2, ?3)",
            rusqlite::params![version, migration.name, now_ms()],
        )?;
        tracing::info!(version, name = migration.name, "journal migrated");
    }
    let violations: i64 =
        tx.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })?;
    if violations > 0 {
        return Err(StoreError::Database(format!(
            "migration left {violations} broken references; nothing was changed"
        )));
    }
    tx.pragma_update(None, "user_version", known_version())?;
    tx.commit()?;
    Ok(())
}

/// Journals created before retention have `auto_vacuum=NONE`, which only a VACUUM changes.
/// A VACUUM rewrites the whole file while holding the write lock, so it is done once, at
/// open, only when the file is at most [`ONE_TIME_VACUUM_MAX_BYTES`] (well under a second);
/// a bigger journal keeps `NONE` and reuses the pages pruning frees (its file stops growing
/// but does not shrink) until the operator runs `VACUUM` with the daemon stopped (README).
/// Returns true when the switch was made.
pub(crate) fn enable_incremental_vacuum(
    conn: &Connection,
    path: &Path,
) -> Result<bool, StoreError> {
    let mode: i64 = conn.pragma_query_value(None, "auto_vacuum", |r| r.get(0))?;
    if mode == 2 {
        return Ok(false);
    }
    let pages: i64 = conn.pragma_query_value(None, "page_count", |r| r.get(0))?;
    let page_size: i64 = conn.pragma_query_value(None, "page_size", |r| r.get(0))?;
    if pages * page_size > ONE_TIME_VACUUM_MAX_BYTES {
        tracing::warn!(
            path = %path.display(),
            bytes = pages * page_size,
            "journal: created before incremental vacuum and too big to convert at start; \
             pruned space is reused but the file will not shrink (see README, data retention)"
        );
        return Ok(false);
    }
    conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
    conn.execute_batch("VACUUM")?;
    Ok(true)
}

/// The largest journal converted to incremental vacuum at open (see
/// [`enable_incremental_vacuum`]).
pub(crate) const ONE_TIME_VACUUM_MAX_BYTES: i64 = 64 << 20;

/// Refuses journals this build cannot read.
pub(crate) fn check_version(found: i64, path: &Path) -> Result<(), StoreError> {
    if found > known_version() {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found,
            known: known_version(),
        });
    }
    Ok(())
}

/// The applied migrations, for `status` and tests.
pub(crate) fn applied(conn: &Connection) -> Result<Vec<(i64, String)>, StoreError> {
    let exists: Option<String> = conn
        .query_row(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if exists.is_none() {
        return Ok(Vec::new());
    }
    let mut stmt = conn.prepare("SELECT version, name FROM schema_migrations ORDER BY version")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}
