//! Roles on the WebSocket: only operators see and move calls and write operator notes; a
//! deactivated account's consoles end at once; a new role takes effect at reconnection.

mod common;

use common::{Client, TestServer};
use reqwest::Method;
use serde_json::json;
use switchboard_protocol::{
    AccountChange, Call, CallState, ClientFrame, ErrorCode, PresenceState, Role, ServerFrame,
};

async fn queue_call(server: &TestServer) -> Call {
    let body = json!({"caller_name": "Jane Doe", "caller_number": "+1 555 0100", "dialled": "+1 555 2000"});
    let response = server.ingest(Method::POST, "/api/calls", Some(body)).await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

fn role_of(frames: &[ServerFrame]) -> Role {
    match &frames[0] {
        ServerFrame::Welcome { role, .. } => *role,
        other => panic!("first frame is not welcome: {other:?}"),
    }
}

fn has_calls(frames: &[ServerFrame]) -> bool {
    frames
        .iter()
        .any(|frame| matches!(frame, ServerFrame::CallsSnapshot { .. }))
}

/// The next `error` frame's code.
async fn error_code(client: &mut Client) -> ErrorCode {
    client
        .recv_until(|frame| match frame {
            ServerFrame::Error { code, .. } => Some(code),
            _ => None,
        })
        .await
}

/// Makes `who` change presence, so that every console gets a frame: what a console gets
/// before it is what it got of earlier changes.
async fn presence_marker(who: &mut Client, state: PresenceState) {
    who.send(&ClientFrame::SetPresence { state }).await;
}

#[tokio::test]
async fn only_operators_get_the_calls_snapshot() {
    let server = TestServer::start().await;
    queue_call(&server).await;
    let (_operator, frames) = server.connect("operator").await;
    assert_eq!(role_of(&frames), Role::Operator);
    assert!(has_calls(&frames));
    for user in ["alice", "admin"] {
        let (_client, frames) = server.connect(user).await;
        assert!(!has_calls(&frames), "{user} got the calls snapshot");
        assert!(
            !frames.iter().any(|f| matches!(
                f,
                ServerFrame::Notes { .. }
                    | ServerFrame::MissedCalls { .. }
                    | ServerFrame::NightService(_)
            )),
            "{user} got operator notes, missed calls or night service"
        );
    }
}

#[tokio::test]
async fn only_operators_receive_call_changes() {
    let server = TestServer::start().await;
    let (mut operator, _) = server.connect("operator").await;
    let (mut alice, _) = server.connect("alice").await;
    let (mut bob, _) = server.connect("bob").await;
    let call = queue_call(&server).await;
    let seen = operator
        .recv_until(|frame| match frame {
            ServerFrame::Call(call) => Some(call),
            _ => None,
        })
        .await;
    assert_eq!(seen.id, call.id);
    presence_marker(&mut bob, PresenceState::Busy).await;
    // Alice's next frames: presence changes only, up to Bob's; never the call.
    loop {
        match alice.recv().await {
            ServerFrame::Presence(update) if update.state == PresenceState::Busy => break,
            ServerFrame::Presence(_) => continue,
            other => panic!("alice got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_users_call_frames_are_forbidden_and_change_nothing() {
    let server = TestServer::start().await;
    let call = queue_call(&server).await;
    let (mut alice, _) = server.connect("alice").await;
    let frames = [
        ClientFrame::AnswerCall { call: call.id },
        ClientFrame::HoldCall { call: call.id },
        ClientFrame::TransferCall {
            call: call.id,
            target: 1,
            blind: false,
        },
        ClientFrame::ClearCall { call: call.id },
        ClientFrame::CallBack { call: call.id },
        ClientFrame::MissedDone { call: call.id },
        ClientFrame::SetNightService { closed: true },
        ClientFrame::TodaysCalls,
    ];
    for frame in frames {
        alice.send(&frame).await;
        assert_eq!(
            error_code(&mut alice).await,
            ErrorCode::Forbidden,
            "{frame:?}"
        );
    }
    let response = server.ingest(Method::GET, "/api/calls", None).await;
    let body: serde_json::Value = response.json().await.unwrap();
    let calls: Vec<Call> = serde_json::from_value(body["calls"].clone()).unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].state, CallState::Queued, "the call did not move");
    let night: serde_json::Value = server
        .ingest(Method::GET, "/api/night-service", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(night["closed"], false, "the switchboard stayed open");
}

#[tokio::test]
async fn operator_notes_are_written_and_read_by_operators_only() {
    let server = TestServer::start().await;
    let (mut operator, frames) = server.connect("operator").await;
    let entry = match &frames[1] {
        ServerFrame::DirectorySnapshot { entries, .. } => entries[0].id,
        other => panic!("no directory: {other:?}"),
    };
    let (mut alice, _) = server.connect("alice").await;
    alice
        .send(&ClientFrame::SetNote {
            entry,
            text: "prefers calls after 10".into(),
        })
        .await;
    assert_eq!(error_code(&mut alice).await, ErrorCode::Forbidden);

    let (mut second_tab, _) = server.connect("operator").await;
    operator
        .send(&ClientFrame::SetNote {
            entry,
            text: "Absent until 3 Dec, calls to Bob Baker".into(),
        })
        .await;
    for console in [&mut operator, &mut second_tab] {
        let notes = console
            .recv_until(|frame| match frame {
                ServerFrame::Notes { notes, snapshot } => Some((notes, snapshot)),
                _ => None,
            })
            .await;
        assert!(!notes.1);
        assert_eq!(notes.0[0].text, "Absent until 3 Dec, calls to Bob Baker");
        assert_eq!(notes.0[0].author, "operator");
    }
    // A console opened later gets it in its snapshot.
    let (_third, frames) = server.connect("operator").await;
    let snapshot = frames.iter().find_map(|frame| match frame {
        ServerFrame::Notes {
            notes,
            snapshot: true,
        } => Some(notes.clone()),
        _ => None,
    });
    assert_eq!(snapshot.unwrap()[0].entry, entry);

    // Bad notes: an unknown entry, a note too long.
    operator
        .send(&ClientFrame::SetNote {
            entry: 999_999,
            text: "x".into(),
        })
        .await;
    assert_eq!(error_code(&mut operator).await, ErrorCode::NotFound);
    operator
        .send(&ClientFrame::SetNote {
            entry,
            text: "x".repeat(1001),
        })
        .await;
    assert_eq!(error_code(&mut operator).await, ErrorCode::InvalidRequest);
    // Alice never saw a note: her next frame after Bob's presence change is that change.
    let (mut bob, _) = server.connect("bob").await;
    presence_marker(&mut bob, PresenceState::Away).await;
    loop {
        match alice.recv().await {
            ServerFrame::Presence(update) if update.state == PresenceState::Away => break,
            ServerFrame::Presence(_) => continue,
            other => panic!("alice got {other:?}"),
        }
    }
}

async fn change(server: &TestServer, admin: &str, username: &str, change: AccountChange) -> u16 {
    server
        .http()
        .patch(server.url(&format!("/api/admin/users/{username}")))
        .header("cookie", admin)
        .json(&change)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_deactivated_users_consoles_and_sessions_end_at_once() {
    let server = TestServer::start().await;
    let admin = server.sign_in("admin", "admin").await.unwrap();
    let (mut alice, _) = server.connect("alice").await;
    let alice_cookie = server.sign_in("alice", "alice").await.unwrap();
    let deactivate = AccountChange {
        role: None,
        active: Some(false),
    };
    assert_eq!(change(&server, &admin, "alice", deactivate).await, 200);
    assert_eq!(alice.close_code().await, Some(4001));
    let whoami = server
        .http()
        .get(server.url("/api/session"))
        .header("cookie", &alice_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(whoami.status(), 401, "her other session ended too");
    assert_eq!(
        server.sign_in_response("alice", "alice").await.status(),
        401
    );

    let reactivate = AccountChange {
        role: None,
        active: Some(true),
    };
    assert_eq!(change(&server, &admin, "alice", reactivate).await, 200);
    assert!(server.sign_in("alice", "alice").await.is_ok());
}

#[tokio::test]
async fn a_new_role_takes_effect_when_the_console_reconnects() {
    let server = TestServer::start().await;
    let admin = server.sign_in("admin", "admin").await.unwrap();
    let cookie = server.sign_in("alice", "alice").await.unwrap();
    let (mut alice, frames) = server.join(&cookie).await;
    assert_eq!(role_of(&frames), Role::User);
    let promote = AccountChange {
        role: Some(Role::Operator),
        active: None,
    };
    assert_eq!(change(&server, &admin, "alice", promote).await, 200);
    assert_eq!(alice.close_code().await, Some(4001));
    let (_alice, frames) = server.join(&cookie).await;
    assert_eq!(role_of(&frames), Role::Operator, "same session, new role");
    assert!(has_calls(&frames));
}
