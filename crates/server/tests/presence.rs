//! Presence fan-out and the connection protocol, through real sockets.

mod common;

use common::TestServer;
use futures_util::{SinkExt, StreamExt};
use switchboard_protocol::{
    ClientFrame, ErrorCode, Mode, PresenceState, PresenceUpdate, ServerFrame,
};
use tokio_tungstenite::tungstenite::Message;

fn user_id(frames: &[ServerFrame], name: &str) -> i64 {
    let Some(ServerFrame::DirectorySnapshot { entries, .. }) = frames.get(1) else {
        panic!("second frame is not the directory: {frames:?}");
    };
    entries
        .iter()
        .find(|e| e.name == name)
        .and_then(|e| e.user)
        .unwrap()
}

#[tokio::test]
async fn hello_brings_welcome_directory_and_presence() {
    let server = TestServer::start().await;
    let (_operator, frames) = server.connect("operator").await;
    let ServerFrame::Welcome {
        me, mode, config, ..
    } = &frames[0]
    else {
        panic!("first frame is not welcome: {:?}", frames[0]);
    };
    assert_eq!(me.display_name, "Operator");
    assert_eq!(*mode, Mode::Cloudlink);
    assert!(config.predefined_messages.len() >= 2);
    assert_eq!(config.chat_key, "F9");

    let ServerFrame::DirectorySnapshot { entries, .. } = &frames[1] else {
        panic!()
    };
    assert!(
        entries.len() >= 200,
        "demo directory has {} entries",
        entries.len()
    );
    let lobby = entries.iter().find(|e| e.name == "Lobby Phone").unwrap();
    assert_eq!(lobby.user, None);
    for name in [
        "Operator",
        "Alice Archer",
        "Bob Baker",
        "Carol Carter",
        "Dave Dalton",
    ] {
        assert!(
            entries.iter().any(|e| e.name == name && e.user.is_some()),
            "{name}"
        );
    }

    let alice = user_id(&frames, "Alice Archer");
    let operator = me.id;
    let ServerFrame::PresenceSnapshot { presence, .. } = &frames[2] else {
        panic!()
    };
    let state_of = |user| presence.iter().find(|p| p.user == user).map(|p| p.state);
    assert_eq!(state_of(alice), None, "offline users are left out");
    assert_eq!(state_of(operator), Some(PresenceState::Available));
}

#[tokio::test]
async fn presence_changes_reach_other_consoles() {
    let server = TestServer::start().await;
    let (mut operator, frames) = server.connect("operator").await;
    let alice_id = user_id(&frames, "Alice Archer");
    let update = |state| {
        ServerFrame::Presence(PresenceUpdate {
            user: alice_id,
            state,
        })
    };

    let (mut alice, _) = server.connect("alice").await;
    assert_eq!(operator.recv().await, update(PresenceState::Available));

    alice
        .send(&ClientFrame::SetPresence {
            state: PresenceState::Busy,
        })
        .await;
    assert_eq!(operator.recv().await, update(PresenceState::Busy));
    assert_eq!(
        alice.recv().await,
        update(PresenceState::Busy),
        "her own tabs learn it too"
    );

    // A second tab coming and going changes nothing; closing the last one makes her offline.
    let (second_tab, _) = server.connect("alice").await;
    drop(second_tab);
    alice.socket.close(None).await.unwrap();
    assert_eq!(operator.recv().await, update(PresenceState::Offline));

    // Her choice is remembered for the next sign-in.
    let (_alice, _) = server.connect("alice").await;
    assert_eq!(operator.recv().await, update(PresenceState::Busy));
}

#[tokio::test]
async fn bad_frames_get_errors_and_change_nothing() {
    let server = TestServer::start().await;
    let cookie = server.sign_in("bob", "bob").await.unwrap();
    let mut bob = server
        .open_ws(Some(&cookie), Some(&server.url("")))
        .await
        .unwrap();

    let expect_error = |frame: ServerFrame, code: ErrorCode| match frame {
        ServerFrame::Error { code: got, .. } => assert_eq!(got, code),
        other => panic!("expected error {code:?}, got {other:?}"),
    };
    bob.send(&ClientFrame::SetPresence {
        state: PresenceState::Away,
    })
    .await;
    expect_error(bob.recv().await, ErrorCode::OutOfOrder);
    bob.send(&ClientFrame::Hello { version: 99 }).await;
    expect_error(bob.recv().await, ErrorCode::UnsupportedVersion);
    for text in [
        "{",
        "[]",
        r#"{"type":"launch"}"#,
        r#"{"type":"set_presence","state":7}"#,
    ] {
        bob.send_text(text).await;
        expect_error(bob.recv().await, ErrorCode::MalformedFrame);
    }
    bob.socket
        .send(Message::binary(vec![1, 2, 3]))
        .await
        .unwrap();
    expect_error(bob.recv().await, ErrorCode::MalformedFrame);

    bob.send(&ClientFrame::Hello {
        version: switchboard_protocol::PROTOCOL_VERSION,
    })
    .await;
    let ServerFrame::Welcome { me, .. } = bob.recv().await else {
        panic!("no welcome")
    };
    // The directory's and presence's pages, the calls, and last the chat list.
    for _ in 0..1_000 {
        if let ServerFrame::ConversationsSnapshot { .. } = bob.recv().await {
            break;
        }
    }
    bob.send(&ClientFrame::SetPresence {
        state: PresenceState::Offline,
    })
    .await;
    expect_error(bob.recv().await, ErrorCode::InvalidRequest);
    bob.send(&ClientFrame::Hello {
        version: switchboard_protocol::PROTOCOL_VERSION,
    })
    .await;
    expect_error(bob.recv().await, ErrorCode::OutOfOrder);
    assert_eq!(
        server.state.hub.presence_of(me.id),
        PresenceState::Available
    );
}

#[tokio::test]
async fn oversized_frames_close_the_connection_with_1009() {
    // A small limit, so that the whole frame fits in the socket buffers and the client is not
    // left blocked half-way through sending it.
    let server = TestServer::start_with(|config| {
        config.client.limits.max_frame_bytes = 4096;
        config.client.limits.max_message_chars = 1000;
    })
    .await;
    let (mut dave, _) = server.connect("dave").await;
    let huge = format!(
        r#"{{"type":"hello","version":2,"pad":"{}"}}"#,
        "x".repeat(5_000)
    );
    let _ = dave.socket.send(Message::text(huge)).await;
    assert_eq!(dave.close_code().await, Some(1009), "Message Too Big");
    // The rest of the huge frame is never read, so the socket may end with a reset.
    let after = dave.socket.next().await;
    assert!(
        !matches!(after, Some(Ok(_))),
        "the connection is closed: {after:?}"
    );
    let (_carol, frames) = server.connect("carol").await;
    assert!(
        matches!(frames[0], ServerFrame::Welcome { .. }),
        "others are still served"
    );
}

#[tokio::test]
async fn demo_bots_bring_colleagues_to_life_but_never_the_named_accounts() {
    let server = TestServer::start_with(|config| config.demo_bots = true).await;
    let (mut operator, frames) = server.connect("operator").await;
    let ServerFrame::DirectorySnapshot { entries, .. } = &frames[1] else {
        panic!()
    };
    let accounts: Vec<i64> = [
        "Operator",
        "Alice Archer",
        "Bob Baker",
        "Carol Carter",
        "Dave Dalton",
    ]
    .iter()
    .map(|name| user_id(&frames, name))
    .collect();
    let ServerFrame::PresenceSnapshot { presence, .. } = &frames[2] else {
        panic!()
    };
    for update in presence.iter().filter(|p| accounts[1..].contains(&p.user)) {
        assert_eq!(update.state, PresenceState::Offline, "{update:?}");
    }
    // Some colleague changes within a few seconds (a bot acts every 0.3 to 1.5 s).
    let ServerFrame::Presence(update) = operator.recv().await else {
        panic!("not a presence")
    };
    assert!(
        !accounts.contains(&update.user),
        "a bot drove a real account: {update:?}"
    );
    assert!(entries.iter().any(|e| e.user == Some(update.user)));
}

/// The next `presence` frame, skipping others (pongs, chat, ...).
async fn next_presence(client: &mut common::Client) -> PresenceUpdate {
    client
        .recv_until(|frame| match frame {
            ServerFrame::Presence(update) => Some(update),
            _ => None,
        })
        .await
}

/// Sends `watch` with `users`; the presence its answer brings.
async fn watch(client: &mut common::Client, users: Vec<i64>) -> Vec<PresenceUpdate> {
    client.send(&ClientFrame::Watch { users }).await;
    client
        .recv_until(|frame| match frame {
            ServerFrame::Watched { presence } => Some(presence),
            _ => None,
        })
        .await
}

#[tokio::test]
async fn a_console_that_watches_gets_the_presence_of_the_users_it_shows_only() {
    let server = TestServer::start().await;
    let (mut operator, frames) = server.connect("operator").await;
    let (bob_id, carol_id) = (
        user_id(&frames, "Bob Baker"),
        user_id(&frames, "Carol Carter"),
    );
    let (mut alice, _) = server.connect("alice").await;
    let (mut bob, _) = server.connect("bob").await;
    let (mut carol, _) = server.connect("carol").await;
    let set = |state| ClientFrame::SetPresence { state };

    let watched = watch(&mut alice, vec![bob_id]).await;
    let bob_now = PresenceUpdate {
        user: bob_id,
        state: PresenceState::Available,
    };
    assert_eq!(watched, [bob_now]);

    carol.send(&set(PresenceState::Busy)).await;
    let carol_busy = PresenceUpdate {
        user: carol_id,
        state: PresenceState::Busy,
    };
    let bob_away = PresenceUpdate {
        user: bob_id,
        state: PresenceState::Away,
    };
    // Carol's change is out (her own console has it) before Bob's.
    while next_presence(&mut carol).await != carol_busy {}
    bob.send(&set(PresenceState::Away)).await;
    // Carol changed first: had it been sent to Alice, it would come before Bob's.
    assert_eq!(next_presence(&mut alice).await, bob_away);
    // Operators follow everyone (past the arrivals of the three, queued before).
    let mut seen_by_operator = Vec::new();
    while seen_by_operator.len() < 2 {
        let update = next_presence(&mut operator).await;
        if update.state != PresenceState::Available {
            seen_by_operator.push(update);
        }
    }
    assert_eq!(seen_by_operator, [carol_busy, bob_away]);

    // Scrolled on: Carol shown, Bob no more. Carol's state comes with the answer.
    let watched = watch(&mut alice, vec![carol_id]).await;
    assert_eq!(watched, [carol_busy]);
    bob.send(&set(PresenceState::Dnd)).await;
    let bob_dnd = PresenceUpdate {
        user: bob_id,
        state: PresenceState::Dnd,
    };
    while next_presence(&mut bob).await != bob_dnd {}
    carol.send(&set(PresenceState::Available)).await;
    assert_eq!(
        next_presence(&mut alice).await,
        PresenceUpdate {
            user: carol_id,
            state: PresenceState::Available
        }
    );
}

#[tokio::test]
async fn watch_is_refused_to_operators_and_past_its_bound() {
    let server = TestServer::start().await;
    let (mut operator, _) = server.connect("operator").await;
    let (mut alice, _) = server.connect("alice").await;
    let refused = |frame| match frame {
        ServerFrame::Error { code, .. } => Some(code),
        _ => None,
    };
    operator.send(&ClientFrame::Watch { users: vec![1] }).await;
    assert_eq!(
        operator.recv_until(refused).await,
        ErrorCode::InvalidRequest
    );
    let too_many = (1..=switchboard_protocol::MAX_WATCHED as i64 + 1).collect();
    alice.send(&ClientFrame::Watch { users: too_many }).await;
    assert_eq!(alice.recv_until(refused).await, ErrorCode::InvalidRequest);
}
