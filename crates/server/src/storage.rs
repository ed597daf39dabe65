//! The database: opening the pool, durability settings and migrations.

use std::{str::FromStr, time::Duration};

use sqlx::{
    Sqlite, SqlitePool, Transaction,
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

/// Begins a transaction that writes, as `BEGIN IMMEDIATE`: it takes the write lock at once,
/// waiting up to the busy timeout while another writer holds it. A plain (deferred) `BEGIN`
/// that reads and then writes fails at once with SQLITE_BUSY ("database is locked") when
/// another connection committed in between, without waiting: in the chat writer that fails a
/// whole batch of messages.
pub async fn begin_write(db: &SqlitePool) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
    db.begin_with("BEGIN IMMEDIATE").await
}

/// Writes a consistent copy of the database into `to` while others keep using it
/// (`VACUUM INTO`: one read transaction, the copy is compact and complete).
pub async fn backup(db: &SqlitePool, to: &std::path::Path) -> Result<(), sqlx::Error> {
    if to.exists() {
        return Err(sqlx::Error::Configuration(
            format!("{} exists already; choose a new file", to.display()).into(),
        ));
    }
    sqlx::query("VACUUM INTO ?")
        .bind(to.to_string_lossy().as_ref())
        .execute(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_backup_is_a_complete_database_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let live = open(&format!(
            "sqlite://{}",
            dir.path().join("live.db").display()
        ))
        .await
        .unwrap();
        sqlx::query("INSERT INTO users (username, display_name) VALUES ('zoe', 'Zoe Zeller')")
            .execute(&live)
            .await
            .unwrap();
        let copy = dir.path().join("copy.db");
        backup(&live, &copy).await.unwrap();
        let restored = open(&format!("sqlite://{}", copy.display())).await.unwrap();
        let name: String =
            sqlx::query_scalar("SELECT display_name FROM users WHERE username = 'zoe'")
                .fetch_one(&restored)
                .await
                .unwrap();
        assert_eq!(name, "Zoe Zeller");
        let again = backup(&live, &copy).await.unwrap_err();
        assert!(again.to_string().contains("exists already"), "{again}");
    }
}
