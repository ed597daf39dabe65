//! `switchboard-server`: parse the configuration, open the database, serve until a signal.

use clap::Parser;
use switchboard_server::{
    Config, cli,
    config::{Cli, Command},
    storage,
};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let cli = Cli::parse();
    let config = Config::load(&cli)?;
    if let Some(command) = cli.command.clone() {
        let url = &config.database_url;
        match command {
            // Read-only and never migrated: a copy of the database as the server keeps it.
            Command::Backup { to } => {
                storage::backup(url, cli.database_flag(), &to).await?;
                println!("backup written to {}", to.display());
            }
            Command::MigrateToPostgres { from, to } => {
                for (table, rows) in storage::to_postgres::migrate(&from, &to).await? {
                    println!("{table:<20} {rows:>9} rows");
                }
                println!("copied into the PostgreSQL database; the counts match");
            }
            Command::User(command) => cli::user(&storage::open(url).await?, command).await?,
            Command::Directory(command) => {
                cli::directory(&storage::open(url).await?, &config, command).await?
            }
        }
        return Ok(());
    }
    let shutdown = CancellationToken::new();
    let state = switchboard_server::prepare(config, shutdown.clone()).await?;
    let listener = tokio::net::TcpListener::bind(cli.listen)
        .await
        .map_err(|err| {
            anyhow::anyhow!(
                "cannot listen on {} ({err}); pick another with --listen",
                cli.listen
            )
        })?;
    if !cli.static_dir.join("index.html").is_file() {
        tracing::warn!(
            static_dir = %cli.static_dir.display(),
            "no built console here: run `make run` (or `trunk build --release`), or point --static-dir at it"
        );
    }
    let scheme = if state.config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let url = format!("{scheme}://{}/", listener.local_addr()?);
    tracing::info!(%url, entries = state.directory.entry_count(), "Switchboard is ready");
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        shutdown.cancel();
    });
    switchboard_server::run(listener, state).await?;
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
