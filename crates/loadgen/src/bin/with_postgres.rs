//! Runs a command beside a throwaway PostgreSQL cluster (Debian's, 127.0.0.1, a temp dir),
//! with its URL in `SWITCHBOARD_TEST_POSTGRES`; stops the cluster when the command ends and
//! exits as it did. `make rust-test` runs the server's integration tests through it, so that
//! every test runs on PostgreSQL as well as on SQLite.

use std::process::ExitCode;

use clap::Parser;
use switchboard_loadgen::cluster::Postgres;

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
    let url = postgres.url("postgres");
    eprintln!("==> PostgreSQL on {url}");
    let status = tokio::process::Command::new(&args.command[0])
        .args(&args.command[1..])
        .env("SWITCHBOARD_TEST_POSTGRES", &url)
        .status()
        .await;
    drop(postgres);
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
