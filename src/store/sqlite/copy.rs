//! `journal copy` on SQLite: every row of a table read at once from a read-only connection,
//! and every table written into an empty journal in one transaction.

use std::path::Path;

use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, OpenFlags};

use crate::store::copy::{not_empty, Cell, Dump, Table};
use crate::store::{Durability, StoreError};

/// Every row of every table, by id (or key) order, in one read transaction (one snapshot).
pub(crate) fn read_tables(
    path: &Path,
    tables: &'static [Table],
) -> Result<Vec<Vec<Vec<Cell>>>, StoreError> {
    let mut conn =
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(|e| {
            StoreError::Open {
                path: path.to_path_buf(),
                message: e.to_string(),
            }
        })?;
    let tx = conn.transaction()?;
    tables.iter().map(|table| read_table(&tx, table)).collect()
}

fn read_table(conn: &Connection, table: &Table) -> Result<Vec<Vec<Cell>>, StoreError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {} FROM {} ORDER BY 1",
        table.column_list(),
        table.name
    ))?;
    let width = table.columns.len();
    let rows = stmt.query_map([], |r| {
        (0..width)
            .map(|i| {
                Ok(match r.get_ref(i)? {
                    ValueRef::Null => Cell::Null,
                    ValueRef::Integer(n) => Cell::Int(n),
                    ValueRef::Real(f) => Cell::Int(f as i64),
                    ValueRef::Text(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Cell::Blob(b.to_vec()),
                })
            })
            .collect::<rusqlite::Result<Vec<Cell>>>()
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Creates (or opens) the journal at `path`, checks it is empty, and inserts `dump` in one
/// transaction.
pub(crate) fn write_tables(path: &Path, dump: &Dump) -> Result<(), StoreError> {
    let mut conn = Connection::open(path).map_err(|e| StoreError::Open {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    super::schema::configure(&conn, Durability::Process)?;
    super::schema::migrate(&mut conn, path)?;
    let held: i64 = conn.query_row(
        "SELECT (SELECT count(*) FROM leads) + (SELECT count(*) FROM follows)
              + (SELECT count(*) FROM work)",
        [],
        |r| r.get(0),
    )?;
    if held > 0 {
        return Err(not_empty(&path.display().to_string(), held));
    }
    let tx = conn.transaction()?;
    for (table, rows) in dump {
        let placeholders = (1..=table.columns.len())
            .map(|i| format!("?{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut insert = tx.prepare(&format!(
            "INSERT INTO {} ({}) VALUES ({placeholders})",
            table.name,
            table.column_list()
        ))?;
        for row in rows {
            let values: Vec<Value> = row
                .iter()
                .map(|cell| match cell {
                    Cell::Null => Value::Null,
                    Cell::Int(n) => Value::Integer(*n),
                    Cell::Text(t) => Value::Text(t.clone()),
                    Cell::Blob(b) => Value::Blob(b.clone()),
                })
                .collect();
            insert.execute(rusqlite::params_from_iter(values))?;
        }
    }
    tx.commit()?;
    Ok(())
}
