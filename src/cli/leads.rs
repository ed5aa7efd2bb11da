//! `leadrelay leads …` and `leadrelay follows …`: the leads and Waiqin follow records in the
//! journal.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use clap::Subcommand;

use super::{journal_reader, print_or_missing};
use crate::clock::Clock;
use crate::connectors::Vendor;

/// `leadrelay leads …`.
#[derive(Debug, Subcommand)]
pub enum LeadsCommand {
    /// Leads, newest first.
    List {
        /// Only leads that arrived since: `2026-11-01`, `2026-11-01 09:30`, or `2h`, `30m`, `1d`.
        #[arg(long)]
        since: Option<String>,
        /// Only leads in this state: pending, running, retry, done, dead, unrouted, skipped.
        #[arg(long)]
        status: Option<String>,
        /// Only leads of this vendor.
        #[arg(long)]
        vendor: Option<Vendor>,
        /// Only leads of this account.
        #[arg(long)]
        account: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// The whole story of one lead: arrival, every run and call, where it is now.
    Show {
        /// The vendor's lead id, or `#N` for the journal's id.
        id: String,
    },
    /// Route unrouted leads again, after fixing the scripts (works beside a running daemon).
    Reroute {
        /// The vendor's lead id, or `#N` for the journal's id.
        #[arg(required_unless_present = "unrouted", conflicts_with = "unrouted")]
        id: Option<String>,
        /// Every unrouted lead and follow record.
        #[arg(long)]
        unrouted: bool,
    },
    /// Erase one person on request: redact every lead and follow record holding this phone
    /// (or this one lead), scrub the runs and calls quoting them, and record the erasure
    /// (works beside a running daemon).
    Forget {
        /// The person's phone number, in any format (`+86 138-1234-5678`).
        #[arg(long, required_unless_present = "id", conflicts_with = "id")]
        phone: Option<String>,
        /// One lead: the vendor's lead id or `#N` (or a Waiqin follow record's msgId).
        #[arg(long)]
        id: Option<String>,
        /// Who asked or who is erasing, for the record [default: the OS user].
        #[arg(long)]
        by: Option<String>,
    },
}

/// `leadrelay follows …`.
#[derive(Debug, Subcommand)]
pub enum FollowsCommand {
    /// Follow records, newest first.
    List {
        /// Only those received since (a date, a Beijing time, or 30m, 2h, 1d).
        #[arg(long)]
        since: Option<String>,
        /// Only those of this Waiqin account.
        #[arg(long)]
        account: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// One follow record: fields (phones masked), runs, calls, state.
    Show {
        /// Waiqin's msgId, or #journal-id.
        id: String,
    },
}

pub(super) fn leads(
    config_path: Option<PathBuf>,
    command: LeadsCommand,
    clock: Clock,
) -> anyhow::Result<ExitCode> {
    let (path, reader) = journal_reader(config_path)?;
    match command {
        LeadsCommand::List {
            since,
            status,
            vendor,
            account,
            limit,
        } => {
            let now = clock.unix_millis();
            let query = crate::store::LeadQuery {
                since_ms: since
                    .map(|s| crate::inspect::parse_since(&s, now))
                    .transpose()
                    .map_err(anyhow::Error::msg)?,
                status: status
                    .map(|s| crate::inspect::parse_status(&s))
                    .transpose()
                    .map_err(anyhow::Error::msg)?,
                vendor: vendor.map(|v| v.as_str().to_string()),
                account,
                limit,
            };
            print!("{}", crate::inspect::leads_list(&*reader, &query)?);
            Ok(ExitCode::SUCCESS)
        }
        LeadsCommand::Show { id } => {
            let found = crate::inspect::lead_show(&*reader, &id)?;
            Ok(print_or_missing(found, format!("lead `{id}`"), &path))
        }
        LeadsCommand::Reroute { id, unrouted } => {
            let selector = match (id, unrouted) {
                (_, true) => crate::store::RerouteSelector::Unrouted,
                (Some(id), false) => crate::store::RerouteSelector::Lead(id),
                (None, false) => bail!("name a lead id or --unrouted"),
            };
            let rerouted = crate::store::beside::reroute(&path, &selector, clock)?;
            println!(
                "{rerouted} unrouted lead(s) queued again; a running daemon routes them within a \
                 second (those still wanted by no handler become unrouted again)"
            );
            Ok(ExitCode::SUCCESS)
        }
        LeadsCommand::Forget { phone, id, by } => forget(&path, phone, id, by, clock),
    }
}

/// Who is running this command, for the erasure record: `$USER` / `$USERNAME`.
fn os_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".to_string())
}

fn forget(
    journal: &crate::store::JournalTarget,
    phone: Option<String>,
    id: Option<String>,
    by: Option<String>,
    clock: Clock,
) -> anyhow::Result<ExitCode> {
    let selector = match (phone, id) {
        (Some(phone), _) => crate::store::ForgetSelector::Phone(phone),
        (None, Some(id)) => crate::store::ForgetSelector::Id(id),
        (None, None) => bail!("name a --phone or an --id"),
    };
    let by = by.unwrap_or_else(os_user);
    let now = clock.unix_millis();
    let erasure = crate::store::retention::forget(journal, &selector, &by, now)?;
    println!(
        "erasure {} recorded (by {by}): {} lead(s), {} follow record(s) redacted; {} run(s) and \
         {} call(s) scrubbed{}",
        erasure.id,
        erasure.leads.len(),
        erasure.follows.len(),
        erasure.runs,
        erasure.calls,
        if erasure.closed > 0 {
            format!(
                "; {} item(s) not yet routed closed as skipped",
                erasure.closed
            )
        } else {
            String::new()
        }
    );
    for lead in &erasure.leads {
        println!("  lead {lead}");
    }
    for follow in &erasure.follows {
        println!("  follow record {follow}");
    }
    for id in &erasure.quarantined {
        println!("  quarantined payload {id}: body removed");
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn follows(
    config_path: Option<PathBuf>,
    command: FollowsCommand,
    clock: Clock,
) -> anyhow::Result<ExitCode> {
    let (path, reader) = journal_reader(config_path)?;
    match command {
        FollowsCommand::List {
            since,
            account,
            limit,
        } => {
            let now = clock.unix_millis();
            let since_ms = since
                .map(|s| crate::inspect::parse_since(&s, now))
                .transpose()
                .map_err(anyhow::Error::msg)?;
            print!(
                "{}",
                crate::inspect::follows_list(&*reader, since_ms, account.as_deref(), limit)?
            );
            Ok(ExitCode::SUCCESS)
        }
        FollowsCommand::Show { id } => {
            let found = crate::inspect::follow_show(&*reader, &id)?;
            Ok(print_or_missing(
                found,
                format!("follow record `{id}`"),
                &path,
            ))
        }
    }
}
