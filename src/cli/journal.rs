//! `leadrelay journal …`: the journal file itself.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;

use super::journal_reader;

/// `leadrelay journal …`.
#[derive(Debug, Subcommand)]
pub enum JournalCommand {
    /// A consistent copy of the journal while the daemon runs (SQLite online backup); the
    /// copy is a journal you can point `[daemon] journal` at to restore.
    Backup {
        /// Where to write the copy (must not exist).
        file: PathBuf,
    },
}

pub(super) fn journal(
    config_path: Option<PathBuf>,
    command: JournalCommand,
) -> anyhow::Result<ExitCode> {
    let (path, reader) = journal_reader(config_path)?;
    match command {
        JournalCommand::Backup { file } => {
            let report = reader
                .backup_to(&file)
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
    }
}
