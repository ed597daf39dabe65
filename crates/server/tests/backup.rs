//! `switchboard-server backup` through the real binary: it copies the database as it is (read
//! only, never migrated, also under a running server) and refuses a data dir or URL that holds
//! no Switchboard database, writing and creating nothing.

mod common;

use std::path::Path;

use common::{TestServer, run_command};

fn text(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn a_data_dir_or_url_without_a_database_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let copy = dir.path().join("copy.db");

    let err =
        run_command(&["--data-dir", text(&empty), "backup", "--to", text(&copy)]).unwrap_err();
    let live = empty.join("switchboard.db");
    assert!(
        err.contains("--data-dir") && err.contains(text(&live)),
        "{err}"
    );
    assert!(!copy.exists(), "no empty backup");
    assert!(!live.exists(), "no database created: {err}");

    let missing = dir.path().join("missing.db");
    let url = format!("sqlite://{}", missing.display());
    let err = run_command(&["--database-url", &url, "backup", "--to", text(&copy)]).unwrap_err();
    assert!(
        err.contains("--database-url") && err.contains(text(&missing)),
        "{err}"
    );
    assert!(!copy.exists() && !missing.exists());

    let err = run_command(&[
        "--database-url",
        "sqlite::memory:",
        "backup",
        "--to",
        text(&copy),
    ]);
    assert!(err.unwrap_err().contains("in-memory"));

    // Some other SQLite database: not copied as if it were the server's.
    let other = dir.path().join("other.db");
    let other_url = format!("sqlite://{}?mode=rwc", other.display());
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let pool = sqlx::SqlitePool::connect(&other_url).await.unwrap();
        sqlx::query("CREATE TABLE notes (text TEXT)")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    });
    let url = format!("sqlite://{}", other.display());
    let err = run_command(&["--database-url", &url, "backup", "--to", text(&copy)]).unwrap_err();
    assert!(err.contains("not a Switchboard database"), "{err}");
    assert!(!copy.exists());

    // A data dir with the server's database (the server stopped): copied.
    let data = dir.path().join("data");
    let password = dir.path().join("password");
    std::fs::write(&password, "correct horse\n").unwrap();
    let add = ["user", "add", "zoe", "--password-file", text(&password)];
    run_command(&[&["--data-dir", text(&data)], &add[..]].concat()).unwrap();
    run_command(&["--data-dir", text(&data), "backup", "--to", text(&copy)]).unwrap();
    assert!(copy.is_file());
}

// Multi-threaded: `run` blocks its thread until the command exits, and the server in this
// process must go on meanwhile (a transaction it began holds the write lock the command waits
// for).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_servers_database_is_copied_as_it_is_never_migrated() {
    let server = TestServer::start().await;
    let db = &server.state.db;
    // As if an older server ran on this database: its newest migration not applied yet.
    let newest: i64 = sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations")
        .fetch_one(db)
        .await
        .unwrap();
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = $1")
        .bind(newest)
        .execute(db)
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.db");
    let url = server.state.config.database_url.clone();
    if url.starts_with("postgres:") {
        let refused =
            run_command(&["--database-url", &url, "backup", "--to", text(&copy)]).unwrap_err();
        assert!(refused.contains("pg_dump"), "{refused}");
        assert!(!copy.exists());
        return;
    }
    let out = run_command(&["--database-url", &url, "backup", "--to", text(&copy)]).unwrap();
    assert!(out.contains("backup written"), "{out}");

    let applied: Option<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE version = $1")
            .bind(newest)
            .fetch_optional(db)
            .await
            .unwrap();
    assert_eq!(applied, None, "the backup migrated the live database");
    let copied = sqlx::SqlitePool::connect(&format!("sqlite://{}", copy.display()))
        .await
        .unwrap();
    let operators: i64 =
        sqlx::query_scalar("SELECT count(*) FROM users WHERE username = 'operator'")
            .fetch_one(&copied)
            .await
            .unwrap();
    assert_eq!(operators, 1);
    let versions: i64 =
        sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE version = $1")
            .bind(newest)
            .fetch_one(&copied)
            .await
            .unwrap();
    assert_eq!(versions, 0, "the copy is the database as it was");
}
