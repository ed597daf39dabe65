//! The command line beside a running server: `user ...` and `directory import` change the
//! server's database, and the running server applies the change to open consoles.

mod common;

use std::{
    io::{BufRead, BufReader, Write},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use common::TestServer;
use switchboard_protocol::ServerFrame;

/// Runs `switchboard-server --database-url URL ARGS...` with `stdin`; its stdout, or a panic
/// with its stderr when it fails.
fn run(database_url: &str, args: &[&str], stdin: &str) -> Result<String, String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard-server"))
        .arg("--database-url")
        .arg(database_url)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        Ok(stdout)
    } else {
        Err(format!(
            "{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

// Multi-threaded: `run` blocks its thread until the command exits, and the server in this
// process must go on meanwhile (a transaction it began holds the write lock the command waits
// for).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_commands_take_effect_in_a_running_server() {
    let server = TestServer::start().await;
    let url = server.state.config.database_url.clone();
    let added = run(
        &url,
        &[
            "user",
            "add",
            "erin",
            "--role",
            "operator",
            "--display-name",
            "Erin Evans",
        ],
        "correct horse\n",
    )
    .unwrap();
    assert!(added.contains("added erin (operator)"), "{added}");
    let cookie = server.sign_in("erin", "correct horse").await.unwrap();
    let (mut erin, frames) = server.join(&cookie).await;
    assert!(matches!(
        frames[0],
        ServerFrame::Welcome {
            role: switchboard_protocol::Role::Operator,
            ..
        }
    ));

    let short = run(&url, &["user", "add", "frank"], "short\n").unwrap_err();
    assert!(short.contains("at least 8 characters"), "{short}");
    let taken = run(&url, &["user", "add", "erin"], "another password\n").unwrap_err();
    assert!(taken.contains("exists already"), "{taken}");

    run(&url, &["user", "deactivate", "erin"], "").unwrap();
    let started = Instant::now();
    assert_eq!(erin.close_code().await, Some(4001));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    let list = run(&url, &["user", "list"], "").unwrap();
    let line = list.lines().find(|line| line.starts_with("erin ")).unwrap();
    assert!(
        line.contains("operator") && line.contains("inactive"),
        "{line}"
    );

    run(&url, &["user", "activate", "erin"], "").unwrap();
    run(&url, &["user", "set-role", "erin", "admin"], "").unwrap();
    run(
        &url,
        &["user", "reset-password", "erin"],
        "battery staple\n",
    )
    .unwrap();
    assert_eq!(
        server
            .sign_in_response("erin", "correct horse")
            .await
            .status(),
        401
    );
    assert!(server.sign_in("erin", "battery staple").await.is_ok());
    let unknown = run(&url, &["user", "deactivate", "nobody"], "").unwrap_err();
    assert!(unknown.contains("no account named \"nobody\""), "{unknown}");
}

// Multi-threaded: `run` blocks its thread until the command exits, and the server in this
// process must go on meanwhile (a transaction it began holds the write lock the command waits
// for).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_import_from_the_command_line_previews_then_reaches_open_consoles() {
    let server = TestServer::start().await;
    let url = server.state.config.database_url.clone();
    let (mut operator, _) = server.connect("operator").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("people.csv");
    std::fs::write(
        &file,
        "id,name,extension\next-2001,Operator,2001\nq-1,Quinn Quarles,2401\nq-2,Rita Ross,24x\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let no_ldap = run(&url, &["directory", "sync"], "").unwrap_err();
    assert!(no_ldap.contains("no [directory.ldap]"), "{no_ldap}");
    let bad = run(&url, &["directory", "import", path], "").unwrap_err();
    assert!(bad.contains("line 4, column \"extension\""), "{bad}");

    std::fs::write(
        &file,
        "id,name,extension\next-2001,Operator,2001\nq-1,Quinn Quarles,2401\n",
    )
    .unwrap();
    let before = server.state.directory.entry_count();
    let preview = run(&url, &["directory", "import", "--dry-run", path], "").unwrap();
    assert!(preview.contains("add    Quinn Quarles (q-1)"), "{preview}");
    assert!(preview.contains("(dry run, nothing changed)"), "{preview}");
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(server.state.directory.entry_count(), before);

    let applied = run(&url, &["directory", "import", path], "").unwrap();
    assert!(
        applied.contains(&format!(
            "1 added, 1 changed, {} removed (applied)",
            before - 1
        )),
        "{applied}"
    );
    let upserted = operator
        .recv_until(|frame| match frame {
            ServerFrame::DirectoryChanged { upserted, .. } => Some(upserted),
            _ => None,
        })
        .await;
    assert!(upserted.iter().any(|entry| entry.name == "Quinn Quarles"));
}

#[test]
fn a_server_without_accounts_says_how_to_add_the_first_admin() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard-server"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut told = false;
    for line in lines.take(50) {
        let line = line.unwrap();
        if line.contains("switchboard-server user add NAME --role admin") {
            told = true;
            break;
        }
        if line.contains("Switchboard is ready") {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(told, "the start-up output names the command");
}
