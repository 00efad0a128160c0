//! `cis490-hub`: the hub and the dashboard server alone, the same server
//! as `cis490 serve` without the pipeline, models or trainers, so it
//! builds in minutes where `cis490` takes a quarter of an hour on two
//! cores. Producers publish to it over HTTP (`--hub URL`).
//!
//! - `cis490-hub serve ARGS`: what `cis490 serve ARGS` does;
//! - `cis490-hub demo ARGS`: serves what `cis490 demo ARGS` writes, for
//!   `cis490 demo ARGS --publish-only` to publish into (`cargo xtask demo`
//!   starts both, this one first).

use anyhow::Result;
use clap::{Parser, Subcommand};

use cis490_server::cli::{DemoArgs, ServeArgs, init_logging, say_where};
use cis490_server::serve;

#[derive(Parser)]
#[command(
    name = "cis490-hub",
    version,
    about = "The cis490 hub and dashboard server alone (cis490 serve without the pipeline)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the dashboard (as `cis490 serve`).
    Serve(ServeArgs),
    /// Serve what `cis490 demo` with the same arguments writes; that demo,
    /// run with --publish-only, publishes here.
    Demo(DemoArgs),
}

fn main() -> std::process::ExitCode {
    init_logging();
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", cis490_shared::error_chain(err.as_ref()));
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let config = match cli.command {
        Command::Serve(args) => args.into_config(),
        Command::Demo(args) if args.no_serve => {
            eprintln!("cis490-hub demo --no-serve: nothing to serve");
            return Ok(());
        }
        Command::Demo(args) => args.serve_args().into_config(),
    };
    serve::serve_until_stopped(config, say_where)?;
    Ok(())
}
