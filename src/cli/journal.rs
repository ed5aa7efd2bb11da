//! `leadrelay journal …`: the journal file itself.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;

use super::journal_reader;
use crate::store::JournalTarget;

/// `leadrelay journal …`.
#[derive(Debug, Subcommand)]
pub enum JournalCommand {
    /// A consistent copy of the journal while the daemon runs (SQLite online backup); the
    /// copy is a journal you can point `[daemon] journal` at to restore.
    Backup {
        /// Where to write the copy (must not exist).
        file: PathBuf,
    },
    /// Copy a whole journal into an empty one, with the same ids, states, runs, calls,
    /// checkpoints and cron claims: to move from SQLite to PostgreSQL (or back). Stop the
    /// daemon first; work it was running is copied as pending, as a restart would.
    Copy {
        /// The journal to copy: a SQLite file or a postgres:// URL.
        #[arg(long)]
        from: String,
        /// An empty journal to copy into (created if missing): a SQLite file or a postgres://
        /// URL.
        #[arg(long)]
        to: String,
    },
}

pub(super) async fn journal(
    config_path: Option<PathBuf>,
    command: JournalCommand,
) -> anyhow::Result<ExitCode> {
    match command {
        JournalCommand::Copy { from, to } => copy(&from, &to).await,
        JournalCommand::Backup { file } => backup(config_path, &file),
    }
}

async fn copy(from: &str, to: &str) -> anyhow::Result<ExitCode> {
    let target = |text: &str| JournalTarget::parse(text).map_err(anyhow::Error::msg);
    let (from, to) = (target(from)?, target(to)?);
    let report = crate::store::copy::copy(&from, &to, &mut |line: &str| eprintln!("{line}"))
        .await
        .with_context(|| format!("journal copy from {from} to {to}"))?;
    let rows: Vec<String> = report
        .rows
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(table, n)| format!("{n} {table}"))
        .collect();
    println!(
        "copied {from} to {to}: {}; point [daemon] journal at the copy",
        if rows.is_empty() {
            "nothing (the source is empty)".to_string()
        } else {
            rows.join(", ")
        }
    );
    Ok(ExitCode::SUCCESS)
}

fn backup(config_path: Option<PathBuf>, file: &std::path::Path) -> anyhow::Result<ExitCode> {
    let (path, reader) = journal_reader(config_path)?;
    let report = reader
        .backup_to(file)
        .with_context(|| format!("backup of {path} to {}", file.display()))?;
    println!(
        "backup of {path} written to {}: {} leads, {:.1} MB; restore by pointing \
                 [daemon] journal at it (or copying it in place) with the daemon stopped",
        file.display(),
        report.leads,
        report.bytes as f64 / 1_000_000.0
    );
    Ok(ExitCode::SUCCESS)
}
