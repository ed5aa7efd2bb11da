//! `leadrelay journal copy`: a whole journal from one backend into an empty journal of the
//! other (or the same), row for row with the same ids, so a user moves from SQLite to
//! PostgreSQL when one machine is outgrown (and back).
//!
//! Both schemas carry the same tables and columns ([`TABLES`]); PostgreSQL's multi-node
//! bookkeeping (leases, source leases, the `nodes` table, which node made a run) is not copied:
//! it describes processes, not leads. Work that was `running` is copied as `pending`, and its
//! runs still `running` as `interrupted`, exactly what a restart does: the copy is meant to be
//! made with the daemon stopped, and a run in flight is re-run with its succeeded calls replayed.

use super::{JournalTarget, StoreError};

/// One stored value.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// SQL NULL.
    Null,
    /// An integer.
    Int(i64),
    /// Text.
    Text(String),
    /// Bytes (quarantined bodies).
    Blob(Vec<u8>),
}

/// A column's type in both schemas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `INTEGER` / `BIGINT`.
    Int,
    /// `TEXT`.
    Text,
    /// `BLOB` / `BYTEA`.
    Blob,
}

/// A table as both backends store it.
#[derive(Debug)]
pub struct Table {
    /// Its name.
    pub name: &'static str,
    /// Its columns, in the order rows carry them.
    pub columns: &'static [(&'static str, Kind)],
    /// Whether it has an `id` identity column (PostgreSQL moves its sequence past the copy).
    pub has_id: bool,
}

impl Table {
    /// The columns, comma-separated.
    pub fn column_list(&self) -> String {
        self.columns
            .iter()
            .map(|(name, _)| *name)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

use Kind::{Blob, Int, Text};

/// Every table, parents before children (references hold at every insert).
pub const TABLES: &[Table] = &[
    Table {
        name: "leads",
        columns: &[
            ("id", Int),
            ("vendor", Text),
            ("account", Text),
            ("vendor_lead_id", Text),
            ("kind", Text),
            ("body", Text),
            ("via", Text),
            ("endpoint", Text),
            ("received_ms", Int),
            ("phone_hash", Text),
            ("redacted_ms", Int),
        ],
        has_id: true,
    },
    Table {
        name: "follows",
        columns: &[
            ("id", Int),
            ("account", Text),
            ("msg_id", Text),
            ("data_id", Text),
            ("record", Text),
            ("via", Text),
            ("endpoint", Text),
            ("received_ms", Int),
            ("phone_hash", Text),
            ("redacted_ms", Int),
        ],
        has_id: true,
    },
    Table {
        name: "work",
        columns: &[
            ("id", Int),
            ("lead_id", Int),
            ("follow_id", Int),
            ("job_key", Text),
            ("slot_ms", Int),
            ("account", Text),
            ("status", Text),
            ("due_ms", Int),
            ("attempts", Int),
            ("first_seen_ms", Int),
            ("updated_ms", Int),
            ("reason", Text),
        ],
        has_id: true,
    },
    Table {
        name: "runs",
        columns: &[
            ("id", Int),
            ("work_id", Int),
            ("attempt", Int),
            ("script", Text),
            ("handler", Text),
            ("version", Text),
            ("started_ms", Int),
            ("elapsed_ms", Int),
            ("status", Text),
            ("error", Text),
            ("note", Text),
        ],
        has_id: true,
    },
    Table {
        name: "calls",
        columns: &[
            ("id", Int),
            ("run_id", Int),
            ("seq", Int),
            ("vendor", Text),
            ("account", Text),
            ("op", Text),
            ("fingerprint", Text),
            ("ok", Int),
            ("status", Int),
            ("code", Text),
            ("message", Text),
            ("response", Text),
            ("attempts", Int),
            ("replayed", Int),
        ],
        has_id: true,
    },
    Table {
        name: "checkpoints",
        columns: &[
            ("account", Text),
            ("endpoint", Text),
            ("position", Text),
            ("updated_ms", Int),
        ],
        has_id: false,
    },
    Table {
        name: "cron_claims",
        columns: &[
            ("schedule_key", Text),
            ("slot_ms", Int),
            ("claimed_ms", Int),
        ],
        has_id: false,
    },
    Table {
        name: "cron_state",
        columns: &[
            ("schedule_key", Text),
            ("floor_ms", Int),
            ("last_slot_ms", Int),
            ("last_claimed_ms", Int),
            ("claims", Int),
            ("skips", Int),
            ("last_skip_slot_ms", Int),
            ("last_skip_reason", Text),
        ],
        has_id: false,
    },
    Table {
        name: "dead_letters",
        columns: &[
            ("id", Int),
            ("work_id", Int),
            ("reason", Text),
            ("attempts", Int),
            ("created_ms", Int),
            ("retried_ms", Int),
        ],
        has_id: true,
    },
    Table {
        name: "quarantine",
        columns: &[
            ("id", Int),
            ("account", Text),
            ("endpoint", Text),
            ("reason", Text),
            ("content_type", Text),
            ("body", Blob),
            ("received_ms", Int),
        ],
        has_id: true,
    },
    Table {
        name: "assignments",
        columns: &[("key", Text), ("next", Int)],
        has_id: false,
    },
    Table {
        name: "once_keys",
        columns: &[
            ("key", Text),
            ("work_id", Int),
            ("claimed_ms", Int),
            ("expires_ms", Int),
        ],
        has_id: false,
    },
    Table {
        name: "erasures",
        columns: &[
            ("id", Int),
            ("at_ms", Int),
            ("by", Text),
            ("matched", Text),
            ("leads", Int),
            ("follows", Int),
            ("runs", Int),
            ("calls", Int),
            ("quarantined", Int),
        ],
        has_id: true,
    },
];

/// What a copy moved: rows per table, in [`TABLES`] order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyReport {
    /// `(table, rows)`.
    pub rows: Vec<(&'static str, u64)>,
}

/// Every row of every table of a journal, as read.
pub(crate) type Dump = Vec<(&'static Table, Vec<Vec<Cell>>)>;

/// Copies the journal at `from` into the empty journal at `to` (created and migrated if need
/// be); `progress` hears one line per table. Refuses a target that holds any lead, follow
/// record or work item.
pub async fn copy(
    from: &JournalTarget,
    to: &JournalTarget,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<CopyReport, StoreError> {
    if from == to {
        return Err(StoreError::Conflict(format!(
            "journal copy: {from} is both the source and the target"
        )));
    }
    let tables = match from {
        JournalTarget::Sqlite(path) => super::sqlite::copy::read_tables(path, TABLES)?,
        JournalTarget::Postgres(url) => super::postgres::copy::read_tables(url, TABLES).await?,
    };
    let mut dump: Dump = Vec::with_capacity(TABLES.len());
    for (table, rows) in TABLES.iter().zip(tables) {
        progress(&format!(
            "read {} {} rows from {from}",
            rows.len(),
            table.name
        ));
        dump.push((
            table,
            rows.into_iter().map(|row| settle(table, row)).collect(),
        ));
    }
    let report = CopyReport {
        rows: dump
            .iter()
            .map(|(table, rows)| (table.name, rows.len() as u64))
            .collect(),
    };
    match to {
        JournalTarget::Sqlite(path) => super::sqlite::copy::write_tables(path, &dump)?,
        JournalTarget::Postgres(url) => super::postgres::copy::write_tables(url, &dump).await?,
    }
    progress(&format!("wrote every table to {to}"));
    Ok(report)
}

/// What a restart would make of a row caught mid-flight: running work is pending again, and
/// its running runs are interrupted.
fn settle(table: &Table, mut row: Vec<Cell>) -> Vec<Cell> {
    let status = table.columns.iter().position(|(name, _)| *name == "status");
    if let (Some(i), "work" | "runs") = (status, table.name) {
        if row[i] == Cell::Text("running".into()) {
            let settled = if table.name == "work" {
                "pending"
            } else {
                "interrupted"
            };
            row[i] = Cell::Text(settled.into());
        }
    }
    row
}

/// The message for a target that is not empty.
pub(crate) fn not_empty(target: &str, rows: i64) -> StoreError {
    StoreError::Conflict(format!(
        "journal copy: {target} already holds {rows} leads, follow records or work items; the \
         target must be an empty journal (nothing is merged)"
    ))
}
