//! The directory sync from LDAP against a real slapd: a big company through paged searches,
//! deltas to open consoles, failures that leave the directory as it was, TLS, the sync loop.

mod common;

use std::{sync::Arc, time::Duration};

use common::{
    TestServer,
    slapd::{PEOPLE, Slapd, company, person},
};
use futures_util::StreamExt;
use ldap3::Scope;
use sqlx::{AnyPool, Row};
use switchboard_protocol::{ServerFrame, SyncStatus};
use switchboard_server::directory::ldap::{self, sync_once};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

/// The directory as stored: (external id, name, numbers, department, title, location, email,
/// removed), in id order.
async fn directory_rows(db: &AnyPool) -> Vec<String> {
    sqlx::query(
        "SELECT external_id, name, numbers, department, title, location, email, \
         removed_at_ms FROM directory_entries ORDER BY id",
    )
    .fetch_all(db)
    .await
    .unwrap()
    .iter()
    .map(|row| {
        let text = |column: &str| row.get::<Option<String>, _>(column).unwrap_or_default();
        let removed = row.get::<Option<i64>, _>("removed_at_ms").is_some();
        format!(
            "{}|{}|{}|{}|{}|{}|{}|{removed}",
            text("external_id"),
            text("name"),
            text("numbers"),
            text("department"),
            text("title"),
            text("location"),
            text("email"),
        )
    })
    .collect()
}

async fn audit_rows(db: &AnyPool) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_log")
        .fetch_one(db)
        .await
        .unwrap()
}

async fn active_entries(db: &AnyPool) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM directory_entries WHERE removed_at_ms IS NULL")
        .fetch_one(db)
        .await
        .unwrap()
}

/// Waits (at most 5 s) until the server's change feed has loaded a directory of `count`
/// entries.
async fn wait_for_directory(server: &TestServer, count: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while server.state.directory.entry_count() != count {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the server's directory has {} entries, not {count}",
            server.state.directory.entry_count()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn assert_ok(status: &SyncStatus) {
    assert_eq!(status.error, None, "{status:?}");
    assert!(status.configured && status.finished_at_ms.is_some());
}

fn counts(status: &SyncStatus) -> (u32, u32, u32) {
    (status.added, status.changed, status.removed)
}

#[tokio::test]
async fn a_company_of_ten_thousand_syncs_in_pages_and_again_changes_nothing() {
    const PEOPLE_COUNT: usize = 10_000;
    let slapd = Slapd::start().await;
    let people = company(PEOPLE_COUNT);
    let started = std::time::Instant::now();
    slapd.add_people(&people).await;
    eprintln!(
        "loading {PEOPLE_COUNT} people into slapd: {:?}",
        started.elapsed()
    );
    let config = slapd.config("");

    // The server caps unpaged searches at 1000 entries, as Active Directory does: only a
    // paged search can read this company.
    let mut service = slapd.admin().await;
    service
        .simple_bind(common::slapd::SYNC_DN, common::slapd::SYNC_PASSWORD)
        .await
        .unwrap()
        .success()
        .unwrap();
    let capped = service
        .search(
            PEOPLE,
            Scope::Subtree,
            "(objectClass=inetOrgPerson)",
            vec!["uid"],
        )
        .await
        .unwrap();
    assert_eq!(capped.1.rc, 4, "sizeLimitExceeded: {:?}", capped.1);

    let server = TestServer::start().await;
    let demo_entries = active_entries(&server.state.db).await;
    let started = std::time::Instant::now();
    let status = sync_once(&server.state.db, &config).await;
    eprintln!(
        "full sync of {PEOPLE_COUNT} entries: {:?}",
        started.elapsed()
    );
    assert_ok(&status);
    assert_eq!(
        counts(&status),
        (PEOPLE_COUNT as u32, 0, demo_entries as u32),
        "everyone added, the demo company removed"
    );
    assert_eq!(
        ldap::last_status(&server.state.db, true).await.unwrap(),
        status
    );
    assert_eq!(active_entries(&server.state.db).await, PEOPLE_COUNT as i64);
    let sample = &people[4_242];
    let row = sqlx::query(
        "SELECT external_id, name, numbers, department, title, location, email, user_id \
         FROM directory_entries WHERE email = $1",
    )
    .bind(&sample.mail)
    .fetch_one(&server.state.db)
    .await
    .unwrap();
    assert_eq!(row.get::<String, _>("name"), sample.cn);
    assert_eq!(
        row.get::<String, _>("numbers"),
        serde_json::json!([sample.telephone_number, sample.mobile]).to_string()
    );
    assert_eq!(row.get::<String, _>("department"), sample.ou);
    assert_eq!(row.get::<String, _>("title"), sample.title);
    assert_eq!(row.get::<String, _>("location"), sample.l);
    assert_eq!(
        row.get::<Option<i64>, _>("user_id"),
        None,
        "no such account"
    );
    let uuid: String = row.get("external_id");
    assert_eq!(uuid.len(), 36, "an entryUUID: {uuid}");
    wait_for_directory(&server, PEOPLE_COUNT).await;

    let before = directory_rows(&server.state.db).await;
    let audit = audit_rows(&server.state.db).await;
    let started = std::time::Instant::now();
    let again = sync_once(&server.state.db, &config).await;
    eprintln!(
        "sync of {PEOPLE_COUNT} unchanged entries: {:?}",
        started.elapsed()
    );
    assert_ok(&again);
    assert_eq!(counts(&again), (0, 0, 0));
    assert_eq!(directory_rows(&server.state.db).await, before);
    assert_eq!(
        audit_rows(&server.state.db).await,
        audit,
        "no audit row, no delta"
    );
}

/// Reads frames until a `directory_changed`; a new directory snapshot fails the test.
async fn next_directory_change(
    client: &mut common::Client,
) -> (Vec<switchboard_protocol::DirectoryEntry>, Vec<i64>) {
    client
        .recv_until(|frame| match frame {
            ServerFrame::DirectoryChanged { upserted, removed } => Some((upserted, removed)),
            ServerFrame::DirectorySnapshot { .. } => panic!("a new snapshot instead of a delta"),
            _ => None,
        })
        .await
}

#[tokio::test]
async fn a_change_in_ldap_reaches_an_open_console_as_one_delta() {
    let slapd = Slapd::start().await;
    slapd.add_people(&company(40)).await;
    let config = slapd.config("");
    let server = TestServer::start().await;
    assert_ok(&sync_once(&server.state.db, &config).await);
    wait_for_directory(&server, 40).await;
    let (mut operator, frames) = server.connect("operator").await;
    let ServerFrame::DirectorySnapshot { entries, .. } = &frames[1] else {
        panic!("no directory snapshot: {frames:?}")
    };
    assert_eq!(entries.len(), 40);
    let id_of = |name: &str| entries.iter().find(|e| e.name == name).unwrap().id;

    let (changed, gone, new) = (person(3), person(7), person(40));
    slapd
        .replace(&changed.dn(), "title", &["Chief Listener"])
        .await;
    slapd.delete(&gone.dn()).await;
    slapd.add_people(std::slice::from_ref(&new)).await;
    let status = sync_once(&server.state.db, &config).await;
    assert_ok(&status);
    assert_eq!(counts(&status), (1, 1, 1));

    let (mut upserted, removed) = next_directory_change(&mut operator).await;
    upserted.sort_by_key(|entry| entry.id);
    assert_eq!(removed, [id_of(&gone.cn)]);
    assert_eq!(upserted.len(), 2, "{upserted:?}");
    assert_eq!(upserted[0].id, id_of(&changed.cn), "same entry, same id");
    assert_eq!(upserted[0].title, "Chief Listener");
    assert_eq!(upserted[1].name, new.cn);
    assert_eq!(
        upserted[1].numbers,
        [new.telephone_number.clone(), new.mobile.clone()]
    );
    assert!(!entries.iter().any(|entry| entry.id == upserted[1].id));

    // Nothing more about the directory: no second delta, no snapshot.
    let quiet_until = tokio::time::Instant::now() + Duration::from_millis(1_000);
    while let Ok(message) = tokio::time::timeout_at(quiet_until, operator.socket.next()).await {
        if let Some(Ok(Message::Text(text))) = message {
            let frame = ServerFrame::decode(&text).unwrap();
            assert!(
                !matches!(
                    frame,
                    ServerFrame::DirectoryChanged { .. } | ServerFrame::DirectorySnapshot { .. }
                ),
                "another directory frame: {frame:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_refused_bind_or_a_stopped_server_leaves_the_directory_as_it_was() {
    let mut slapd = Slapd::start().await;
    slapd.add_people(&company(20)).await;
    let config = slapd.config("");
    let server = TestServer::start().await;
    let db = &server.state.db;
    assert_ok(&sync_once(db, &config).await);
    slapd.replace(&person(1).dn(), "title", &["Changed"]).await;
    let before = directory_rows(db).await;
    let audit = audit_rows(db).await;

    let wrong = ldap::LdapConfig {
        password_file: Some(slapd.write_file("wrong-password", "guess\n")),
        ..config.clone()
    };
    let status = sync_once(db, &wrong).await;
    let error = status.error.clone().expect("the bind fails");
    assert!(
        error.contains("bind as") && error.contains("invalidCredentials"),
        "{error}"
    );
    assert_eq!(counts(&status), (0, 0, 0));
    assert_eq!(ldap::last_status(db, true).await.unwrap(), status);

    let missing = ldap::LdapConfig {
        password_file: Some(slapd.write_file("x", "").with_file_name("absent")),
        ..config.clone()
    };
    let error = sync_once(db, &missing).await.error.unwrap();
    assert!(
        error.contains("password_file") && error.contains("absent"),
        "{error}"
    );

    slapd.stop();
    let started = std::time::Instant::now();
    let status = sync_once(db, &config).await;
    let error = status.error.clone().expect("nobody answers");
    assert!(
        error.contains("cannot connect to ldap://127.0.0.1"),
        "{error}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(ldap::last_status(db, true).await.unwrap(), status);

    assert_eq!(
        directory_rows(db).await,
        before,
        "the directory is untouched"
    );
    assert_eq!(audit_rows(db).await, audit);
}

#[tokio::test]
async fn an_entry_with_a_bad_or_missing_field_fails_the_sync_naming_its_dn() {
    let slapd = Slapd::start().await;
    slapd.add_people(&company(20)).await;
    let config = slapd.config("");
    let server = TestServer::start().await;
    let db = &server.state.db;
    assert_ok(&sync_once(db, &config).await);
    let before = directory_rows(db).await;

    let bad_phone = format!("uid=badphone,{PEOPLE}");
    slapd
        .add(
            &bad_phone,
            &[
                ("objectClass", &["inetOrgPerson"]),
                ("uid", &["badphone"]),
                ("cn", &["Bad Phone"]),
                ("sn", &["Phone"]),
                ("telephoneNumber", &["call me"]),
            ],
        )
        .await;
    let error = sync_once(db, &config).await.error.expect("the sync fails");
    assert!(
        error.contains(&bad_phone) && error.contains("extension (telephoneNumber)"),
        "{error}"
    );
    assert_eq!(directory_rows(db).await, before);
    slapd.delete(&bad_phone).await;

    let bad_mail = format!("uid=badmail,{PEOPLE}");
    slapd
        .add(
            &bad_mail,
            &[
                ("objectClass", &["inetOrgPerson"]),
                ("uid", &["badmail"]),
                ("cn", &["Bad Mail"]),
                ("sn", &["Mail"]),
                ("mail", &["bad mail at example.com"]),
            ],
        )
        .await;
    let error = sync_once(db, &config).await.error.expect("the sync fails");
    assert!(
        error.contains(&bad_mail) && error.contains("email (mail)"),
        "{error}"
    );
    assert_eq!(directory_rows(db).await, before);
    slapd.delete(&bad_mail).await;

    // Names from an attribute the entries do not have.
    let display_names = slapd.config("[attributes]\nname = \"displayName\"");
    let error = sync_once(db, &display_names)
        .await
        .error
        .expect("the sync fails");
    assert!(
        error.contains(",ou=people,dc=example,dc=com")
            && error.contains("name (displayName)")
            && error.contains("no such attribute"),
        "{error}"
    );
    assert_eq!(directory_rows(db).await, before);

    // Once the entries are right again, the sync goes through (with nothing to change).
    let status = sync_once(db, &config).await;
    assert_ok(&status);
    assert_eq!(counts(&status), (0, 0, 0));
}

#[tokio::test]
async fn ldaps_and_starttls_trust_the_given_ca_only() {
    let slapd = Slapd::start().await;
    slapd.add_people(&company(5)).await;
    let server = TestServer::start().await;
    let db = &server.state.db;
    let ca_file = slapd.ca_file.display();
    let starttls = slapd.config(&format!("starttls = true\nca_file = \"{ca_file}\""));
    let status = sync_once(db, &starttls).await;
    assert_ok(&status);
    assert_eq!(status.added, 5);

    let ldaps = ldap::LdapConfig {
        url: slapd.ldaps_url.clone(),
        starttls: false,
        ..starttls.clone()
    };
    ldaps.check().unwrap();
    assert_ok(&sync_once(db, &ldaps).await);

    // The system's roots do not include the test's own certificate.
    let untrusted = ldap::LdapConfig {
        ca_file: None,
        ..ldaps
    };
    let error = sync_once(db, &untrusted).await.error.expect("untrusted");
    assert!(
        error.contains("cannot connect") || error.contains("trusted root"),
        "{error}"
    );
}

#[tokio::test]
async fn the_sync_loop_runs_at_start_and_on_sync_now_and_stops_on_shutdown() {
    let slapd = Slapd::start().await;
    slapd.add_people(&company(10)).await;
    let server = TestServer::start().await;
    let db = server.state.db.clone();
    let now = Arc::new(tokio::sync::Notify::new());
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(ldap::run(
        db.clone(),
        slapd.config(""),
        now.clone(),
        shutdown.clone(),
    ));

    let status_when = async |done: fn(&SyncStatus) -> bool| {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let status = ldap::last_status(&db, true).await.unwrap();
            if done(&status) {
                return status;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no such sync: {status:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let first = status_when(|s| s.finished_at_ms.is_some()).await;
    assert_ok(&first);
    assert_eq!(first.added, 10);

    slapd.add_people(&[person(10)]).await;
    now.notify_one();
    let second = status_when(|s| s.added == 1).await;
    assert_ok(&second);

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("run returns on shutdown")
        .unwrap();
}
