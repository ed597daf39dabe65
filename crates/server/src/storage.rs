//! The database: opening the pool, durability settings and migrations.

use std::{str::FromStr, time::Duration};

use sqlx::{
    SqlitePool,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

/// Opens (creating if missing) the SQLite database and brings its schema up to date.
///
/// WAL lets readers run beside the writer; `synchronous = FULL` makes every commit durable
/// before it returns, so whatever the server acknowledges survives a crash or power loss.
pub async fn open(url: &str) -> Result<SqlitePool, sqlx::Error> {
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5));
    if let Some(dir) = options.get_filename().parent()
        && !in_memory
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)?;
    }
    // Each connection to `:memory:` is its own database: keep exactly one, forever.
    let pool = if in_memory {
        SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
    } else {
        SqlitePoolOptions::new().max_connections(8)
    }
    .connect_with(options)
    .await?;
    sqlx::migrate!("./migrations").run(&pool).await?;
    Ok(pool)
}
