//! The Administration API: who may use it, accounts, directory import (atomic, previewed,
//! live on open consoles), chat settings and the audit log.

mod common;

use common::TestServer;
use reqwest::Method;
use serde_json::json;
use switchboard_protocol::{
    Account, ApiError, AuditEntry, DirectoryDiff, DirectoryEntry, Role, ServerFrame,
};

/// An admin API request with a session cookie (or none).
async fn request(
    server: &TestServer,
    cookie: Option<&str>,
    method: Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> reqwest::Response {
    let mut request = server.http().request(method, server.url(path));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

async fn import(server: &TestServer, cookie: &str, csv: &str, dry_run: bool) -> reqwest::Response {
    server
        .http()
        .post(server.url(&format!("/api/admin/directory/import?dry_run={dry_run}")))
        .header("cookie", cookie)
        .header("content-type", "text/csv")
        .body(csv.to_owned())
        .send()
        .await
        .unwrap()
}

/// Every route of the admin API, with a body it accepts.
fn admin_routes() -> Vec<(Method, &'static str, Option<serde_json::Value>)> {
    vec![
        (Method::GET, "/api/admin/users", None),
        (
            Method::POST,
            "/api/admin/users",
            Some(
                json!({"username": "eve", "display_name": "Eve", "role": "admin", "password": "password1"}),
            ),
        ),
        (
            Method::PATCH,
            "/api/admin/users/alice",
            Some(json!({"role": "admin"})),
        ),
        (
            Method::POST,
            "/api/admin/users/alice/password",
            Some(json!({"password": "password1"})),
        ),
        (Method::GET, "/api/admin/directory/sync", None),
        (Method::POST, "/api/admin/directory/sync", None),
        (Method::GET, "/api/admin/settings", None),
        (
            Method::PUT,
            "/api/admin/settings",
            Some(json!({"predefined_messages": ["x"], "chat_key": "F2"})),
        ),
        (Method::GET, "/api/admin/audit", None),
    ]
}

#[tokio::test]
async fn the_admin_api_refuses_everyone_but_admins() {
    let server = TestServer::start().await;
    let operator = server.sign_in("operator", "operator").await.unwrap();
    let alice = server.sign_in("alice", "alice").await.unwrap();
    for (method, path, body) in admin_routes() {
        let anonymous = request(&server, None, method.clone(), path, body.clone()).await;
        assert_eq!(anonymous.status(), 401, "{method} {path} without a session");
        for cookie in [&operator, &alice] {
            let response = request(&server, Some(cookie), method.clone(), path, body.clone()).await;
            assert_eq!(response.status(), 403, "{method} {path} as a non-admin");
            let error: ApiError = response.json().await.unwrap();
            assert_eq!(error.error, "forbidden");
        }
    }
    let csv = "id,name\nx1,Mallory\n";
    for cookie in [&operator, &alice] {
        assert_eq!(import(&server, cookie, csv, false).await.status(), 403);
    }
    // Nothing changed: no account, no role, no password, no settings, no import.
    let admin = server.sign_in("admin", "admin").await.unwrap();
    let accounts: Vec<Account> =
        request(&server, Some(&admin), Method::GET, "/api/admin/users", None)
            .await
            .json()
            .await
            .unwrap();
    assert!(!accounts.iter().any(|a| a.username == "eve"));
    let alice_account = accounts.iter().find(|a| a.username == "alice").unwrap();
    assert_eq!(alice_account.role, Role::User);
    assert!(server.sign_in("alice", "alice").await.is_ok());
    let audit: Vec<AuditEntry> =
        request(&server, Some(&admin), Method::GET, "/api/admin/audit", None)
            .await
            .json()
            .await
            .unwrap();
    assert!(audit.is_empty(), "{audit:?}");
}

#[tokio::test]
async fn an_admin_manages_accounts_and_every_action_is_audited() {
    let server = TestServer::start().await;
    let admin = server.sign_in("admin", "admin").await.unwrap();
    let add = json!({"username": "erin", "display_name": "Erin Evans", "role": "operator", "password": "correct horse"});
    let response = request(
        &server,
        Some(&admin),
        Method::POST,
        "/api/admin/users",
        Some(add.clone()),
    )
    .await;
    assert_eq!(response.status(), 201);
    let erin: Account = response.json().await.unwrap();
    assert_eq!((erin.role, erin.active), (Role::Operator, true));
    let again = request(
        &server,
        Some(&admin),
        Method::POST,
        "/api/admin/users",
        Some(add),
    )
    .await;
    assert_eq!(again.status(), 409);
    for bad in [
        json!({"username": "Bad Name", "display_name": "X", "role": "user", "password": "password1"}),
        json!({"username": "frank", "display_name": "", "role": "user", "password": "password1"}),
        json!({"username": "frank", "display_name": "Frank", "role": "user", "password": "short"}),
        json!({"username": "frank", "display_name": "Frank", "role": "king", "password": "password1"}),
    ] {
        let response = request(
            &server,
            Some(&admin),
            Method::POST,
            "/api/admin/users",
            Some(bad.clone()),
        )
        .await;
        assert_eq!(response.status(), 400, "{bad}");
    }
    let (_erin, frames) = {
        let cookie = server.sign_in("erin", "correct horse").await.unwrap();
        server.join(&cookie).await
    };
    assert!(matches!(
        frames[0],
        ServerFrame::Welcome {
            role: Role::Operator,
            ..
        }
    ));

    let reset = request(
        &server,
        Some(&admin),
        Method::POST,
        "/api/admin/users/erin/password",
        Some(json!({"password": "battery staple"})),
    )
    .await;
    assert_eq!(reset.status(), 204);
    assert_eq!(
        server
            .sign_in_response("erin", "correct horse")
            .await
            .status(),
        401
    );
    assert!(server.sign_in("erin", "battery staple").await.is_ok());
    let missing = request(
        &server,
        Some(&admin),
        Method::PATCH,
        "/api/admin/users/nobody",
        Some(json!({"active": false})),
    )
    .await;
    assert_eq!(missing.status(), 404);

    let audit: Vec<AuditEntry> =
        request(&server, Some(&admin), Method::GET, "/api/admin/audit", None)
            .await
            .json()
            .await
            .unwrap();
    let actions: Vec<(&str, &str)> = audit
        .iter()
        .map(|entry| (entry.actor.as_str(), entry.action.as_str()))
        .collect();
    assert_eq!(actions, [("admin", "user.password"), ("admin", "user.add")]);
}

#[tokio::test]
async fn the_last_active_admin_can_be_neither_demoted_nor_deactivated() {
    let server = TestServer::start().await;
    let admin = server.sign_in("admin", "admin").await.unwrap();
    let patch = |username: &'static str, body: serde_json::Value| {
        let (server, admin) = (&server, &admin);
        async move {
            let path = format!("/api/admin/users/{username}");
            request(server, Some(admin), Method::PATCH, &path, Some(body))
                .await
                .status()
        }
    };
    for change in [json!({"role": "operator"}), json!({"active": false})] {
        assert_eq!(patch("admin", change).await, 409);
    }
    // With a second admin, the first may step down.
    assert_eq!(patch("carol", json!({"role": "admin"})).await, 200);
    assert_eq!(patch("admin", json!({"role": "user"})).await, 200);
}

const GOOD: &str = "\
id,name,username,department,title,location,extension,mobile,other_numbers,email,xmpp
ext-2001,Operator,operator,Reception,Switchboard operator,Head office,2001,,,,
ext-2002,Alice Archer,alice,Sales,Sales director,Head office,2002,+1 555 0102,100;+1 555 0199,alice@example.com,alice@xmpp.example.com
n-1,Nadia Novak,,Legal,Counsel,Harbour site,2301,,,nadia@example.com,
n-2,Oscar Olsen,oscar,Support,Support engineer,Remote,2302,,,,
";

#[tokio::test]
async fn a_bad_row_fails_the_whole_import_with_its_line_and_column() {
    let server = TestServer::start().await;
    let admin = server.sign_in("admin", "admin").await.unwrap();
    let before = server.state.directory.entry_count();
    let header = "id,name,extension\n";
    let cases = [
        (
            format!("{header}a,Ann,1\nb,,2\n"),
            "line 3, column \"name\"",
        ),
        (
            format!("{header}a,Ann,1\na,Bea,2\n"),
            "line 3, column \"id\"",
        ),
        (
            format!("{header}a,Ann,1\nb,Bea,12ab\n"),
            "line 3, column \"extension\"",
        ),
        (
            format!("{header}a,Ann,1\nb,Bea\n"),
            "line 3: 2 fields where the header has 3",
        ),
        (
            "id,name,shoe_size\na,Ann,9\n".to_owned(),
            "line 1, column \"shoe_size\"",
        ),
        (
            "name\nAnn\n".to_owned(),
            "column \"id\": this column is required",
        ),
        (
            "id,name,username\na,Ann,ann\nb,Bea,ann\n".to_owned(),
            "line 3, column \"username\"",
        ),
        ("id,name\n".to_owned(), "the file has no rows"),
        (
            "id,name,extension\r\na,\"Ann\nAnderson\",1\r\nb,Bea,12ab\r\n".to_owned(),
            "line 4, column \"extension\"",
        ),
        (String::new(), "the file is empty"),
    ];
    for (csv, expected) in cases {
        let response = import(&server, &admin, &csv, false).await;
        assert_eq!(response.status(), 400, "{csv}");
        let error: ApiError = response.json().await.unwrap();
        assert_eq!(error.error, "invalid_csv");
        assert!(
            error.message.contains(expected),
            "{expected:?} not in {:?}",
            error.message
        );
    }
    // Bytes that are not UTF-8 at all.
    let mut latin1 = b"id,name\na,Ann\nb,B".to_vec();
    latin1.extend([0xe9, b'a', b'\n']);
    let response = server
        .http()
        .post(server.url("/api/admin/directory/import"))
        .header("cookie", &admin)
        .body(latin1)
        .send()
        .await
        .unwrap();
    let error: ApiError = response.json().await.unwrap();
    assert_eq!(
        error.message,
        "Nothing was imported: line 3, column \"name\": not valid UTF-8"
    );
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(
        server.state.directory.entry_count(),
        before,
        "nothing changed"
    );
}

#[tokio::test]
async fn an_import_previews_then_applies_and_open_consoles_get_the_delta() {
    let server = TestServer::start().await;
    let admin = server.sign_in("admin", "admin").await.unwrap();
    let (mut operator, frames) = server.connect("operator").await;
    let ServerFrame::DirectorySnapshot {
        entries: before, ..
    } = &frames[1]
    else {
        panic!("no directory")
    };
    let preview: DirectoryDiff = import(&server, &admin, GOOD, true)
        .await
        .json()
        .await
        .unwrap();
    assert!(!preview.applied);
    let names = |refs: &[switchboard_protocol::EntryRef]| -> Vec<String> {
        refs.iter().map(|r| r.name.clone()).collect()
    };
    assert_eq!(names(&preview.added), ["Nadia Novak", "Oscar Olsen"]);
    assert_eq!(names(&preview.changed), ["Operator", "Alice Archer"]);
    assert_eq!(preview.removed.len(), before.len() - 2);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(
        server.state.directory.entry_count(),
        before.len(),
        "a dry run changes nothing"
    );

    let applied: DirectoryDiff = import(&server, &admin, GOOD, false)
        .await
        .json()
        .await
        .unwrap();
    assert!(applied.applied);
    assert_eq!(
        (applied.added, applied.changed, applied.removed),
        (preview.added, preview.changed, preview.removed)
    );
    let (upserted, removed) = operator
        .recv_until(|frame| match frame {
            ServerFrame::DirectoryChanged { upserted, removed } => Some((upserted, removed)),
            _ => None,
        })
        .await;
    assert_eq!(upserted.len(), 4);
    assert_eq!(removed.len(), before.len() - 2);
    let alice: &DirectoryEntry = upserted.iter().find(|e| e.name == "Alice Archer").unwrap();
    assert_eq!(alice.numbers, ["2002", "+1 555 0102", "100", "+1 555 0199"]);
    assert_eq!(alice.xmpp, "alice@xmpp.example.com");
    assert_eq!(alice.title, "Sales director");
    assert!(alice.user.is_some(), "linked to her account");

    // A console opened now gets the new directory; removed people are gone from it.
    let (_late, frames) = server.connect("alice").await;
    let ServerFrame::DirectorySnapshot { entries, .. } = &frames[1] else {
        panic!("no directory")
    };
    let mut names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["Alice Archer", "Nadia Novak", "Operator", "Oscar Olsen"]
    );

    // The same file again changes nothing; a removed person comes back as added.
    let again: DirectoryDiff = import(&server, &admin, GOOD, false)
        .await
        .json()
        .await
        .unwrap();
    assert!(again.added.is_empty() && again.changed.is_empty() && again.removed.is_empty());
    let with_bob = format!("{GOOD}ext-2003,Bob Baker,bob,Engineering,,,2003,,,,\n");
    let back: DirectoryDiff = import(&server, &admin, &with_bob, false)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(names_of(&back.added), ["Bob Baker"]);

    // Oscar had no account: the import made one, which cannot sign in yet.
    assert_eq!(server.sign_in_response("oscar", "").await.status(), 401);
    let accounts: Vec<switchboard_protocol::Account> = server
        .http()
        .get(server.url("/api/admin/users"))
        .header("cookie", &admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        accounts
            .iter()
            .any(|a| a.username == "oscar" && a.role == Role::User)
    );
}

fn names_of(refs: &[switchboard_protocol::EntryRef]) -> Vec<&str> {
    refs.iter().map(|r| r.name.as_str()).collect()
}

#[tokio::test]
async fn conversations_with_a_removed_entry_stay_readable() {
    let server = TestServer::start().await;
    let admin = server.sign_in("admin", "admin").await.unwrap();
    let (mut operator, _) = server.connect("operator").await;
    let (_bob, frames) = server.connect("bob").await;
    let ServerFrame::Welcome { me: bob, .. } = &frames[0] else {
        panic!("no welcome")
    };
    operator
        .send(&switchboard_protocol::ClientFrame::ChatSend {
            client_msg_id: "5f0c5a52-8f8e-4a4c-9a51-6a8f5f5f0001".into(),
            to: bob.id,
            body: "your caller is holding".into(),
        })
        .await;
    operator
        .recv_until(|frame| matches!(frame, ServerFrame::ChatAck { .. }).then_some(()))
        .await;
    let applied: DirectoryDiff = import(&server, &admin, GOOD, false)
        .await
        .json()
        .await
        .unwrap();
    assert!(applied.removed.iter().any(|r| r.name == "Bob Baker"));
    operator
        .send(&switchboard_protocol::ClientFrame::History {
            with: bob.id,
            before_seq: None,
            limit: 50,
        })
        .await;
    let messages = operator
        .recv_until(|frame| match frame {
            ServerFrame::HistoryPage { messages, .. } => Some(messages),
            _ => None,
        })
        .await;
    assert_eq!(messages[0].body, "your caller is holding");
}

#[tokio::test]
async fn chat_settings_apply_live_and_bad_ones_change_nothing() {
    let server = TestServer::start().await;
    let admin = server.sign_in("admin", "admin").await.unwrap();
    let (mut alice, _) = server.connect("alice").await;
    let settings = json!({"predefined_messages": ["Your caller is on line 3"], "chat_key": "F10"});
    let response = request(
        &server,
        Some(&admin),
        Method::PUT,
        "/api/admin/settings",
        Some(settings),
    )
    .await;
    assert_eq!(response.status(), 204);
    let config = alice
        .recv_until(|frame| match frame {
            ServerFrame::ConfigChanged(config) => Some(config),
            _ => None,
        })
        .await;
    assert_eq!(config.chat_key, "F10");
    assert_eq!(config.predefined_messages, ["Your caller is on line 3"]);
    for bad in [
        json!({"predefined_messages": ["ok", " "], "chat_key": "F10"}),
        json!({"predefined_messages": [], "chat_key": ""}),
        json!({"predefined_messages": [], "chat_key": "not a key at all"}),
        // Already the key of "Answer next call".
        json!({"predefined_messages": [], "chat_key": "F2"}),
    ] {
        let response = request(
            &server,
            Some(&admin),
            Method::PUT,
            "/api/admin/settings",
            Some(bad),
        )
        .await;
        assert_eq!(response.status(), 400);
    }
    // After a restart the stored settings still win over the config file.
    let server = server.restart().await;
    let (_alice, frames) = server.connect("alice").await;
    let ServerFrame::Welcome { config, .. } = &frames[0] else {
        panic!("no welcome")
    };
    assert_eq!(config.chat_key, "F10");
}

#[tokio::test]
async fn a_sync_that_manages_accounts_deactivates_those_of_removed_entries() {
    use switchboard_server::directory::import::{Applier, Record, apply};
    let server = TestServer::start().await;
    let (mut alice, _) = server.connect("alice").await;
    let (_bob, _) = server.connect("bob").await;
    let record = |id: &str, name: &str, username: &str| Record {
        external_id: id.into(),
        name: name.into(),
        username: Some(username.into()),
        ..Record::default()
    };
    // Alice's entry is gone from the source; Bob's and the operator's stay.
    let records = [
        record("ext-2001", "Operator", "operator"),
        record("ext-2003", "Bob Baker", "bob"),
    ];
    let sync = Applier {
        actor: "ldap-sync",
        action: "directory.sync",
        create_accounts: true,
        deactivate_removed: true,
    };
    let diff = apply(&server.state.db, &records, sync, false)
        .await
        .unwrap();
    assert!(
        diff.removed
            .iter()
            .any(|entry| entry.name == "Alice Archer")
    );
    assert_eq!(alice.close_code().await, Some(4001), "her console ends");
    assert_eq!(
        server.sign_in_response("alice", "alice").await.status(),
        401
    );
    assert!(server.sign_in("bob", "bob").await.is_ok(), "Bob's stays");

    // An import that does not manage accounts removes entries and leaves accounts alone.
    let import = Applier {
        deactivate_removed: false,
        ..sync
    };
    apply(&server.state.db, &records[..1], import, false)
        .await
        .unwrap();
    assert!(server.sign_in("bob", "bob").await.is_ok());
}
