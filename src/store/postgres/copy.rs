//! `journal copy` on PostgreSQL: every row of a table read in one query, and every table written
//! into an empty journal in one transaction (multi-row inserts), with the identity sequences
//! moved past the copied ids so new rows never collide with them.

use tokio_postgres::types::ToSql;

use crate::store::copy::{not_empty, Cell, Dump, Kind, Table};
use crate::store::target::PgUrl;
use crate::store::StoreError;

/// PostgreSQL takes at most 65,535 parameters a statement.
const MAX_PARAMS: usize = 60_000;

/// Every row of every table, by id (or key) order, in one read-only snapshot.
pub(crate) async fn read_tables(
    url: &PgUrl,
    tables: &'static [Table],
) -> Result<Vec<Vec<Vec<Cell>>>, StoreError> {
    let pool = super::connect(url).await?;
    let mut client = pool.get().await?;
    let tx = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    let mut out = Vec::with_capacity(tables.len());
    for table in tables {
        out.push(read_table(&tx, table).await?);
    }
    Ok(out)
}

async fn read_table(
    client: &deadpool_postgres::Transaction<'_>,
    table: &Table,
) -> Result<Vec<Vec<Cell>>, StoreError> {
    let rows = client
        .query(
            &format!(
                "SELECT {} FROM {} ORDER BY 1",
                table.column_list(),
                table.name
            ),
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            table
                .columns
                .iter()
                .enumerate()
                .map(|(i, (_, kind))| match kind {
                    Kind::Int => r.get::<_, Option<i64>>(i).map_or(Cell::Null, Cell::Int),
                    Kind::Text => r.get::<_, Option<String>>(i).map_or(Cell::Null, Cell::Text),
                    Kind::Blob => r
                        .get::<_, Option<Vec<u8>>>(i)
                        .map_or(Cell::Null, Cell::Blob),
                })
                .collect()
        })
        .collect())
}

/// Connects (creating the schema), checks the journal is empty, and inserts `dump` in one
/// transaction.
pub(crate) async fn write_tables(url: &PgUrl, dump: &Dump) -> Result<(), StoreError> {
    let pool = super::connect(url).await?;
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let held: i64 = tx
        .query_one(
            "SELECT (SELECT count(*) FROM leads) + (SELECT count(*) FROM follows)
                  + (SELECT count(*) FROM work)",
            &[],
        )
        .await?
        .get(0);
    if held > 0 {
        return Err(not_empty(&url.to_string(), held));
    }
    for (table, rows) in dump {
        let width = table.columns.len();
        for chunk in rows.chunks((MAX_PARAMS / width).max(1)) {
            let values = (0..chunk.len())
                .map(|r| {
                    let row = (1..=width)
                        .map(|c| format!("${}", r * width + c))
                        .collect::<Vec<_>>()
                        .join(", ");
                    format!("({row})")
                })
                .collect::<Vec<_>>()
                .join(", ");
            let params: Vec<Box<dyn ToSql + Sync + Send>> = chunk
                .iter()
                .flat_map(|row| row.iter().zip(table.columns))
                .map(|(cell, (_, kind))| param(cell, *kind))
                .collect();
            let refs: Vec<&(dyn ToSql + Sync)> = params
                .iter()
                .map(|p| p.as_ref() as &(dyn ToSql + Sync))
                .collect();
            tx.execute(
                &format!(
                    "INSERT INTO {} ({}) VALUES {values}",
                    table.name,
                    table.column_list()
                ),
                &refs,
            )
            .await?;
        }
        if table.has_id {
            // Past the largest copied id (or back to 1 for an empty table).
            tx.execute(
                &format!(
                    "SELECT setval(pg_get_serial_sequence('{0}', 'id'),
                                   GREATEST((SELECT max(id) FROM {0}), 1),
                                   (SELECT max(id) IS NOT NULL FROM {0}))",
                    table.name
                ),
                &[],
            )
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// A cell as a typed parameter of its column (a NULL keeps the column's type).
fn param(cell: &Cell, kind: Kind) -> Box<dyn ToSql + Sync + Send> {
    match (cell, kind) {
        (Cell::Int(n), _) => Box::new(*n),
        (Cell::Text(t), Kind::Blob) => Box::new(t.clone().into_bytes()),
        (Cell::Text(t), _) => Box::new(t.clone()),
        (Cell::Blob(b), Kind::Text) => Box::new(String::from_utf8_lossy(b).into_owned()),
        (Cell::Blob(b), _) => Box::new(b.clone()),
        (Cell::Null, Kind::Int) => Box::new(None::<i64>),
        (Cell::Null, Kind::Text) => Box::new(None::<String>),
        (Cell::Null, Kind::Blob) => Box::new(None::<Vec<u8>>),
    }
}
