//! Read-only measurements of a SQLite journal file for `leadrelay bench --growth`: bytes the
//! payloads take, bytes the file uses, and the ages a prune moves. Here so no SQLite type leaves
//! the backend's folder.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::store::StoreError;

/// Bytes of lead bodies (the bench's `probe-` leads excluded) and call responses.
pub fn payload_bytes(path: &Path) -> Result<u64, StoreError> {
    let conn = Connection::open(path)?;
    Ok(conn.query_row(
        // The probe's leads (accepted while pruning, never routed) are not the N measured.
        "SELECT (SELECT coalesce(sum(length(body)), 0) FROM leads
                 WHERE vendor_lead_id NOT LIKE 'probe-%')
              + (SELECT coalesce(sum(length(response)), 0) FROM calls)",
        [],
        |r| r.get::<_, i64>(0),
    )? as u64)
}

/// (Bytes in used pages after a WAL checkpoint, the file's size.)
pub fn used_bytes(path: &Path) -> Result<(u64, u64), StoreError> {
    let conn = Connection::open(path)?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    let pages: i64 = conn.pragma_query_value(None, "page_count", |r| r.get(0))?;
    let free: i64 = conn.pragma_query_value(None, "freelist_count", |r| r.get(0))?;
    let size: i64 = conn.pragma_query_value(None, "page_size", |r| r.get(0))?;
    let file = std::fs::metadata(path)
        .map_err(|e| StoreError::Database(format!("{}: {e}", path.display())))?
        .len();
    Ok((((pages - free) * size) as u64, file))
}

/// A read-only connection watching what a prune changes.
pub struct PruneProbe {
    conn: Connection,
}

impl PruneProbe {
    /// Opens `path` read-only beside the daemon writing it.
    pub fn open(path: &Path) -> Result<PruneProbe, StoreError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::from_secs(5))?;
        Ok(PruneProbe { conn })
    }

    /// When the oldest lead still holding personal data arrived.
    pub fn oldest_unredacted(&self) -> Result<Option<i64>, StoreError> {
        Ok(self.conn.query_row(
            "SELECT min(received_ms) FROM leads INDEXED BY leads_unredacted
             WHERE redacted_ms IS NULL",
            [],
            |r| r.get(0),
        )?)
    }

    /// When the oldest lead still stored arrived.
    pub fn oldest(&self) -> Result<Option<i64>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT min(received_ms) FROM leads", [], |r| r.get(0))?)
    }

    /// Free pages not yet handed back.
    pub fn free_pages(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .pragma_query_value(None, "freelist_count", |r| r.get(0))?)
    }
}
