//! Runs a command beside a throwaway PostgreSQL cluster and nats-server (Debian's, 127.0.0.1,
//! temp dirs), with their URLs in `SWITCHBOARD_TEST_POSTGRES` and `SWITCHBOARD_TEST_NATS`;
//! stops them when the command ends and exits as it did. `make rust-test` runs the server's
//! integration tests through it (so that every test runs on PostgreSQL as well as on SQLite),
//! `make e2e` the Playwright specs (the two-node spec uses both).

use std::process::ExitCode;

use clap::Parser;
use switchboard_loadgen::cluster::{Nats, Postgres};

#[derive(Parser)]
struct Args {
    /// The command and its arguments.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let postgres = Postgres::start().await;
    let nats = Nats::start().await;
    let url = postgres.url("postgres");
    eprintln!("==> PostgreSQL on {url}, nats-server on {}", nats.url());
    let status = tokio::process::Command::new(&args.command[0])
        .args(&args.command[1..])
        .env("SWITCHBOARD_TEST_POSTGRES", &url)
        .env("SWITCHBOARD_TEST_NATS", nats.url())
        .status()
        .await;
    drop((postgres, nats));
    match status {
        Ok(status) if status.success() => ExitCode::SUCCESS,
        Ok(status) => {
            eprintln!("{} ended with {status}", args.command[0]);
            ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("running {}: {err}", args.command[0]);
            ExitCode::FAILURE
        }
    }
}
