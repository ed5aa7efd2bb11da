//! The `leadrelay` binary: parse the command line, set up logging, run, map errors to exit codes.

use std::io::IsTerminal;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = leadrelay::cli::Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("LEADRELAY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(cli.command.default_log_level()));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // Log shippers read JSON lines; files and pipes get no colour codes, terminals do.
    match std::env::var("LEADRELAY_LOG_FORMAT").as_deref() {
        Ok("json") => builder.json().init(),
        Ok("text") | Err(_) => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        Ok(other) => {
            builder.with_ansi(false).init();
            tracing::warn!("LEADRELAY_LOG_FORMAT={other:?} is not `json` or `text`; logging text");
        }
    }
    leadrelay::cli::run(cli, leadrelay::clock::Clock::system())
}
