//! `leadrelay dead …` and `leadrelay quarantine …`: what could not be routed or parsed.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use clap::Subcommand;

use super::{journal_reader, print_or_missing};

/// `leadrelay dead …`.
#[derive(Debug, Subcommand)]
pub enum DeadCommand {
    /// Every dead letter with its reason.
    List,
    /// Route dead letters again (after fixing the script or the account).
    Retry {
        /// The dead letter's id (from `dead list`).
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<i64>,
        /// Every dead letter.
        #[arg(long)]
        all: bool,
    },
}

/// `leadrelay quarantine …`.
#[derive(Debug, Subcommand)]
pub enum QuarantineCommand {
    /// Every quarantined payload.
    List,
    /// One payload, byte for byte.
    Show {
        /// Its id (from `quarantine list`).
        id: i64,
    },
}

pub(super) fn dead(
    config_path: Option<PathBuf>,
    command: DeadCommand,
    clock: crate::clock::Clock,
) -> anyhow::Result<ExitCode> {
    let (path, reader) = journal_reader(config_path)?;
    match command {
        DeadCommand::List => {
            print!("{}", crate::inspect::dead_list(&*reader)?);
            Ok(ExitCode::SUCCESS)
        }
        DeadCommand::Retry { id, all } => {
            let selector = match (id, all) {
                (_, true) => crate::store::DeadSelector::All,
                (Some(id), false) => crate::store::DeadSelector::One(id),
                (None, false) => bail!("name a dead letter id or --all"),
            };
            let revived = crate::store::beside::retry_dead(&path, selector, clock)?;
            println!("{revived} dead letter(s) queued again; a running daemon routes them within a second");
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub(super) fn quarantine(
    config_path: Option<PathBuf>,
    command: QuarantineCommand,
) -> anyhow::Result<ExitCode> {
    let (path, reader) = journal_reader(config_path)?;
    match command {
        QuarantineCommand::List => {
            print!("{}", crate::inspect::quarantine_list(&*reader)?);
            Ok(ExitCode::SUCCESS)
        }
        QuarantineCommand::Show { id } => {
            let found = crate::inspect::quarantine_show(&*reader, id)?;
            Ok(print_or_missing(
                found,
                format!("quarantined payload {id}"),
                &path,
            ))
        }
    }
}
