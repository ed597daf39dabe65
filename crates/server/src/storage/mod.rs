//! The database: opening the pool, durability settings and migrations.
//!
//! Every feature runs on SQLite (embedded, one node: the default) and on PostgreSQL (several
//! nodes on one database, docs/cluster.md) through sqlx's `Any` driver. Queries are written
//! in the SQL both accept (`$1` placeholders, `ON CONFLICT`, `RETURNING`); the few places that
//! differ ask [`is_postgres`]. Each database has its own migrations, one file per version in
//! `migrations/sqlite` and `migrations/postgres`, with the same schema.

pub mod to_postgres;

use std::{
    path::{Path, PathBuf},
    str::FromStr,
    time::Duration,
};

use sqlx::{
    Any, AnyPool, Connection, Executor, SqliteConnection, Transaction,
    any::{AnyConnectOptions, AnyPoolOptions},
    sqlite::SqliteConnectOptions,
};

/// The database pool every part of the server shares.
pub type Db = AnyPool;

/// Whether `url` names a PostgreSQL database (else it is SQLite).
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres:") || url.starts_with("postgresql:")
}

/// Whether `db` is PostgreSQL.
pub fn is_postgres(db: &Db) -> bool {
    is_postgres_url(db.connect_options().database_url.as_str())
}

/// Opens the database and brings its schema up to date: SQLite is created if missing,
/// PostgreSQL must exist (an empty database is fine).
///
/// SQLite runs in WAL so that readers run beside the writer, with `synchronous = FULL` so that
/// every commit is durable before it returns: whatever the server acknowledges survives a
/// crash or power loss. PostgreSQL's defaults (`synchronous_commit = on`) already are.
pub async fn open(url: &str) -> Result<Db, sqlx::Error> {
    sqlx::any::install_default_drivers();
    if is_postgres_url(url) {
        let pool = AnyPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        return Ok(pool);
    }
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    let sqlite = SqliteConnectOptions::from_str(url)?;
    if let Some(dir) = sqlite.get_filename().parent()
        && !in_memory
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)?;
    }
    let options = AnyConnectOptions::from_str(&creating(url))?;
    // Each connection to `:memory:` is its own database: keep exactly one, forever.
    let pool = if in_memory {
        AnyPoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
    } else {
        AnyPoolOptions::new().max_connections(8)
    }
    // A connection to a local file does not go bad between uses: checking it before each
    // use is one more round trip to its thread (the chat writer takes one per batch).
    .test_before_acquire(false)
    .after_connect(|conn, _| {
        Box::pin(async move {
            conn.execute(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                 PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000",
            )
            .await?;
            Ok(())
        })
    })
    .connect_with(options)
    .await?;
    sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
    Ok(pool)
}

/// `url` with `mode=rwc` (create if missing) unless it names a mode already.
fn creating(url: &str) -> String {
    if url.contains("mode=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

/// Begins a transaction that writes. On SQLite it is `BEGIN IMMEDIATE`: it takes the write
/// lock at once, waiting up to the busy timeout while another writer holds it. A plain
/// (deferred) `BEGIN` that reads and then writes fails at once with SQLITE_BUSY ("database is
/// locked") when another connection committed in between, without waiting: in the chat writer
/// that fails a whole batch of messages. PostgreSQL locks rows as they are written.
pub async fn begin_write(db: &Db) -> Result<Transaction<'static, Any>, sqlx::Error> {
    if is_postgres(db) {
        db.begin().await
    } else {
        db.begin_with("BEGIN IMMEDIATE").await
    }
}

/// How a statement spells its bind parameters. Queries are written with `$1` (both databases
/// accept it), but SQLite looks a numbered parameter up in a list at every use, a cost that
/// grows with the square of their number: the chat writer's 3,584-parameter `INSERT` spent
/// a third of the server's time there. Long statements built at run time therefore give
/// SQLite anonymous `?` (bound in the order they appear) and PostgreSQL, which accepts no
/// `?`, numbers. (sqlx's `QueryBuilder` writes `?` for the `Any` driver.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Params {
    /// `$1`, `$2`, …: PostgreSQL.
    Numbered,
    /// `?` in binding order: SQLite.
    InOrder,
}

impl Params {
    /// The spelling for the database behind `conn`.
    pub fn of(conn: &sqlx::AnyConnection) -> Self {
        if conn.backend_name().eq_ignore_ascii_case("postgresql") {
            Params::Numbered
        } else {
            Params::InOrder
        }
    }

    /// Placeholder number `n` (from 1). With [`Params::InOrder`], every placeholder of the
    /// statement must come in the order of its binding.
    pub fn one(self, n: usize) -> String {
        match self {
            Params::Numbered => format!("${n}"),
            Params::InOrder => "?".to_owned(),
        }
    }

    /// The `VALUES` list of a multi-row statement: `rows` tuples of `columns` placeholders,
    /// numbered from `first`.
    pub fn values(self, rows: usize, columns: usize, first: usize) -> String {
        let mut sql = String::with_capacity(8 + rows * columns * 7);
        sql.push_str("VALUES ");
        for row in 0..rows {
            if row > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for column in 0..columns {
                if column > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&self.one(first + row * columns + column));
            }
            sql.push(')');
        }
        sql
    }
}

/// Why a backup was not written; each names the flag to fix.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("--to {0} exists already; choose a new file")]
    Exists(PathBuf),
    #[error(
        "{flag} names no database to back up: there is no {path}; \
         give the --data-dir (or --database-url) the server runs with"
    )]
    NoDatabase { flag: &'static str, path: PathBuf },
    #[error(
        "{flag} names a PostgreSQL database: back it up with PostgreSQL's own tools \
         (pg_dump, or continuous archiving); nothing was written"
    )]
    Postgres { flag: &'static str },
    #[error("{flag} {url} is an in-memory database: there is nothing to back up")]
    InMemory { flag: &'static str, url: String },
    #[error(
        "{path} ({flag}) is not a Switchboard database (it has no migration history); \
         nothing was written"
    )]
    NotSwitchboard { flag: &'static str, path: PathBuf },
    #[error("backing up {path} ({flag}): {source}")]
    Database {
        flag: &'static str,
        path: PathBuf,
        source: sqlx::Error,
    },
}

/// Writes a consistent copy of the database at `url` into `to` while a server keeps using it
/// (`VACUUM INTO`: one read transaction, the copy is compact and complete). The database is
/// opened read-only and as it is: never created, never migrated (a newer binary must not
/// change the schema under a running older server). `flag` is where `url` came from
/// (`--data-dir` or `--database-url`), for the error messages.
pub async fn backup(url: &str, flag: &'static str, to: &Path) -> Result<(), BackupError> {
    if is_postgres_url(url) {
        return Err(BackupError::Postgres { flag });
    }
    if to.exists() {
        return Err(BackupError::Exists(to.to_owned()));
    }
    let in_memory = || BackupError::InMemory {
        flag,
        url: url.to_owned(),
    };
    if url.contains(":memory:") || url.contains("mode=memory") {
        return Err(in_memory());
    }
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|source| BackupError::Database {
            flag,
            path: PathBuf::from(url),
            source,
        })?
        .read_only(true)
        .create_if_missing(false)
        .busy_timeout(Duration::from_secs(5));
    let path = options.get_filename().to_owned();
    if !path.is_file() {
        return Err(BackupError::NoDatabase { flag, path });
    }
    let failed = |source| BackupError::Database {
        flag,
        path: path.clone(),
        source,
    };
    let mut db = SqliteConnection::connect_with(&options)
        .await
        .map_err(failed)?;
    let migrated: Option<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name = '_sqlx_migrations'",
    )
    .fetch_optional(&mut db)
    .await
    .map_err(failed)?;
    if migrated.is_none() {
        return Err(BackupError::NotSwitchboard { flag, path });
    }
    sqlx::query("VACUUM INTO ?")
        .bind(to.to_string_lossy().as_ref())
        .execute(&mut db)
        .await
        .map_err(failed)?;
    db.close().await.map_err(failed)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_backup_is_a_complete_database_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("live.db").display());
        let live = open(&url).await.unwrap();
        sqlx::query("INSERT INTO users (username, display_name) VALUES ('zoe', 'Zoe Zeller')")
            .execute(&live)
            .await
            .unwrap();
        let copy = dir.path().join("copy.db");
        backup(&url, "--database-url", &copy).await.unwrap();
        let restored = open(&format!("sqlite://{}", copy.display())).await.unwrap();
        let name: String =
            sqlx::query_scalar("SELECT display_name FROM users WHERE username = 'zoe'")
                .fetch_one(&restored)
                .await
                .unwrap();
        assert_eq!(name, "Zoe Zeller");
        let again = backup(&url, "--database-url", &copy).await.unwrap_err();
        assert!(again.to_string().contains("exists already"), "{again}");
    }
}
