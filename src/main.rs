//! The `leadrelay` binary: parse the command line, set up logging, run, map errors to exit codes.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = leadrelay::cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LEADRELAY_LOG").unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new(cli.command.default_log_level())
            }),
        )
        .with_writer(std::io::stderr)
        .init();
    leadrelay::cli::run(cli)
}
