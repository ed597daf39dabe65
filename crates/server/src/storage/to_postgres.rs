//! `migrate-to-postgres`: moves a single-node installation (SQLite) to PostgreSQL, before it
//! grows to several nodes (docs/cluster.md). Every table is copied as it is, ids included,
//! in one PostgreSQL transaction; the counts of both sides are compared before it commits.

use sqlx::{AnyPool, Row};

/// The tables, parents before children (foreign keys hold at every insert).
const TABLES: [&str; 17] = [
    "users",
    "sessions",
    "absences",
    "directory_entries",
    "calls",
    "call_events",
    "conversations",
    "messages",
    "markers",
    "entry_notes",
    "audit_log",
    "settings",
    "directory_sync",
    "xmpp_inbound",
    "xmpp_forwarded",
    "xmpp_subscribers",
    "night_service",
];
/// Rows per `INSERT` (PostgreSQL takes at most 65,535 bound values per statement).
const ROWS_PER_INSERT: usize = 500;

/// How many rows of each table were copied.
pub type Copied = Vec<(&'static str, i64)>;

/// Copies every table of `from` (SQLite, brought up to this version's schema first) into
/// `to` (PostgreSQL, created up to the same schema), which must hold no data.
pub async fn migrate(from: &str, to: &str) -> anyhow::Result<Copied> {
    anyhow::ensure!(
        !super::is_postgres_url(from),
        "--from must be the SQLite database of a single-node installation (sqlite://…)"
    );
    anyhow::ensure!(
        super::is_postgres_url(to),
        "--to must be a PostgreSQL database (postgres://…)"
    );
    let source = super::open(from).await?;
    let target = super::open(to).await?;
    for table in TABLES {
        anyhow::ensure!(
            count(&target, table).await? == 0,
            "--to is not empty ({table} has rows): migrate into a new, empty database; \
             nothing was copied"
        );
    }
    let mut tx = target.begin().await?;
    let mut copied = Copied::new();
    for table in TABLES {
        let columns = columns(&target, table).await?;
        let names = columns
            .iter()
            .map(|(name, _)| name.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let rows = sqlx::query(&format!("SELECT {names} FROM {table}"))
            .fetch_all(&source)
            .await?;
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            let sql = format!(
                "INSERT INTO {table} ({names}) {}",
                super::Params::Numbered.values(chunk.len(), columns.len(), 1)
            );
            let mut insert = sqlx::query(&sql);
            for row in chunk {
                for (index, (_, integer)) in columns.iter().enumerate() {
                    insert = if *integer {
                        insert.bind(row.try_get::<Option<i64>, _>(index)?)
                    } else {
                        insert.bind(row.try_get::<Option<String>, _>(index)?)
                    };
                }
            }
            insert.execute(&mut *tx).await?;
        }
        copied.push((table, i64::try_from(rows.len())?));
    }
    // Ids the database gives from now on follow the copied ones.
    for (table, column) in [
        ("users", "id"),
        ("directory_entries", "id"),
        ("calls", "id"),
        ("call_events", "seq"),
        ("conversations", "id"),
        ("messages", "id"),
        ("audit_log", "seq"),
    ] {
        sqlx::query(&format!(
            "SELECT setval(pg_get_serial_sequence('{table}', '{column}'), \
             COALESCE(MAX({column}), 0) + 1, false) FROM {table}"
        ))
        .execute(&mut *tx)
        .await?;
    }
    for &(table, rows) in &copied {
        let stored: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&mut *tx)
            .await?;
        anyhow::ensure!(
            stored == rows,
            "{table}: {rows} rows read but {stored} stored; nothing was committed"
        );
        let left: i64 = count(&source, table).await?;
        anyhow::ensure!(
            left == rows,
            "{table} changed while it was copied ({rows} rows read, {left} now): stop the \
             server first; nothing was committed"
        );
    }
    tx.commit().await?;
    source.close().await;
    target.close().await;
    Ok(copied)
}

async fn count(db: &AnyPool, table: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(db)
        .await
}

/// The columns of `table` in PostgreSQL, each with whether it is an integer (else text).
async fn columns(db: &AnyPool, table: &str) -> Result<Vec<(String, bool)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT column_name::text AS name, data_type::text AS kind FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
    )
    .bind(table)
    .fetch_all(db)
    .await?;
    Ok(rows
        .iter()
        .map(|row| {
            let kind: String = row.get("kind");
            (row.get("name"), kind == "bigint")
        })
        .collect())
}
