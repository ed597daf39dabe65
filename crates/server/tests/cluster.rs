//! Several nodes on one PostgreSQL database joined by NATS (both real, started here): consoles
//! on different nodes see each other's presence, chat, get receipts, markers, typing, calls
//! and account changes as on one node; a killed node's users turn offline elsewhere; a NATS
//! outage delays messages and loses none.

mod common;

use std::time::{Duration, Instant};

use common::{Client, TestServer, cluster, run_command};
use switchboard_loadgen::server::ServerProcess;
use switchboard_protocol::{
    CallState, ChatMessage, ClientFrame, Marker, PresenceState, PresenceUpdate, ServerFrame, UserId,
};
use switchboard_server::cluster::NODE_TIMEOUT;

/// What docs/cluster.md states: a dead node's users are offline elsewhere within 10 s (the
/// node timeout, the once-a-second sweep, and a second of scheduling on a loaded machine).
const OFFLINE_WITHIN: Duration = Duration::from_secs(10);
const _: () = assert!(NODE_TIMEOUT.as_secs() + 2 <= OFFLINE_WITHIN.as_secs());

fn me(frames: &[ServerFrame]) -> UserId {
    let ServerFrame::Welcome { me, .. } = &frames[0] else {
        panic!("no welcome")
    };
    me.id
}

/// Whether the hello frames show `user` online.
fn online_in(frames: &[ServerFrame], user: UserId) -> bool {
    frames.iter().any(|frame| {
        matches!(frame, ServerFrame::PresenceSnapshot { presence, .. }
            if presence.iter().any(|update| update.user == user))
    })
}

async fn presence_of(client: &mut Client, user: UserId) -> PresenceState {
    client
        .recv_until(|frame| match frame {
            ServerFrame::Presence(PresenceUpdate { user: who, state }) if who == user => {
                Some(state)
            }
            _ => None,
        })
        .await
}

/// The next chat message `client` receives.
async fn next_chat(client: &mut Client) -> ChatMessage {
    client
        .recv_until(|frame| match frame {
            ServerFrame::ChatMessage(message) => Some(message),
            _ => None,
        })
        .await
}

async fn say(client: &mut Client, id: &str, to: UserId, body: &str) {
    client
        .send(&ClientFrame::ChatSend {
            client_msg_id: id.into(),
            to,
            body: body.into(),
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consoles_on_two_nodes_work_as_on_one() {
    let shared = cluster::start().await;
    let a = shared.node().await;
    let b = shared.node().await;

    let (mut bob, bob_hello) = b.connect("bob").await;
    let bob_id = me(&bob_hello);
    let (mut alice, alice_hello) = a.connect("alice").await;
    let alice_id = me(&alice_hello);
    assert!(
        online_in(&alice_hello, bob_id),
        "alice's snapshot on node A holds bob, online on node B"
    );
    assert_eq!(
        presence_of(&mut bob, alice_id).await,
        PresenceState::Available
    );

    // Chat, its receipt, the read marker, typing.
    say(
        &mut alice,
        "00000000-0000-4000-8000-000000000001",
        bob_id,
        "line 2 for you",
    )
    .await;
    let message = next_chat(&mut bob).await;
    assert_eq!(
        (message.from, message.body.as_str()),
        (alice_id, "line 2 for you")
    );
    let delivered = alice
        .recv_until(|frame| match frame {
            ServerFrame::Marker(update) if update.user == bob_id => Some(update.marker),
            _ => None,
        })
        .await;
    assert_eq!(delivered.delivered_seq, message.seq);
    bob.send(&ClientFrame::ChatRead {
        with: alice_id,
        seq: message.seq,
    })
    .await;
    let read = alice
        .recv_until(|frame| match frame {
            ServerFrame::Marker(update) if update.user == bob_id && update.marker.read_seq > 0 => {
                Some(update.marker)
            }
            _ => None,
        })
        .await;
    assert_eq!(
        read,
        Marker {
            read_seq: message.seq,
            delivered_seq: message.seq
        }
    );
    bob.send(&ClientFrame::Typing { to: alice_id }).await;
    alice
        .recv_until(|frame| {
            matches!(frame, ServerFrame::Typing { from } if from == bob_id).then_some(())
        })
        .await;

    // A presence chosen on B, seen on A.
    bob.send(&ClientFrame::SetPresence {
        state: PresenceState::Busy,
    })
    .await;
    assert_eq!(presence_of(&mut alice, bob_id).await, PresenceState::Busy);

    // A call queued through node A reaches the operator's console on node B; answered there,
    // node A's operator console sees it active, and node A refuses to answer it again.
    let (mut operator_b, _) = b.connect("operator").await;
    let (mut operator_a, _) = a.connect("operator").await;
    let queued = a
        .ingest(
            reqwest::Method::POST,
            "/api/calls",
            Some(serde_json::json!({"caller_number": "+44 20 7946 0000", "dialled": "100"})),
        )
        .await;
    assert!(queued.status().is_success(), "{}", queued.status());
    let call = operator_b
        .recv_until(|frame| match frame {
            ServerFrame::Call(call) if call.state == CallState::Queued => Some(call),
            _ => None,
        })
        .await;
    operator_b
        .send(&ClientFrame::AnswerCall { call: call.id })
        .await;
    operator_a
        .recv_until(|frame| match frame {
            ServerFrame::Call(seen) if seen.id == call.id && seen.state == CallState::Active => {
                Some(())
            }
            _ => None,
        })
        .await;
    let again = a.state.calls.list().await;
    assert_eq!(
        again
            .iter()
            .find(|open| open.id == call.id)
            .map(|c| c.state),
        Some(CallState::Active),
        "node A holds the call as node B left it"
    );

    // An account change made through node A closes the account's consoles on node B.
    let (mut carol, _) = b.connect("carol").await;
    let admin = a.sign_in("admin", "admin").await.unwrap();
    let deactivated = a
        .http()
        .patch(a.url("/api/admin/users/carol"))
        .header("cookie", admin)
        .json(&serde_json::json!({"active": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(deactivated.status(), 200);
    assert_eq!(carol.close_code().await, Some(4001));

    // Signing out through node A closes the session's console on node B.
    let cookie = a.sign_in("dave", "dave").await.unwrap();
    let (mut dave_on_b, _) = b.join(&cookie).await;
    let signed_out = a
        .http()
        .delete(a.url("/api/session"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(signed_out.status(), 204);
    assert_eq!(dave_on_b.close_code().await, Some(4001));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_nodes_users_turn_offline_elsewhere_unless_online_on_another_node() {
    let shared = cluster::start().await;
    let a = shared.node().await;
    let dir = tempfile::tempdir().unwrap();
    let nats_url = shared.nats.url();
    let mut b = ServerProcess::launch(
        env!("CARGO_BIN_EXE_switchboard-server").into(),
        dir.path().to_owned(),
        &[
            "--database-url",
            &shared.database_url,
            "--nats-url",
            &nats_url,
        ],
    )
    .await
    .unwrap();
    let (mut alice, _) = a.connect("alice").await;
    // bob only on B; dave on both.
    let mut on_b = Vec::new();
    for name in ["bob", "dave"] {
        let cookie = switchboard_loadgen::client::sign_in(b.addr, name, name)
            .await
            .unwrap();
        let (client, hello) = switchboard_loadgen::client::Connection::open(b.addr, &cookie)
            .await
            .unwrap();
        on_b.push((me(&hello), client));
    }
    let (bob_id, dave_id) = (on_b[0].0, on_b[1].0);
    let (_dave_on_a, _) = a.connect("dave").await;
    for user in [bob_id, dave_id] {
        // Each is online for alice (dave through both nodes).
        while !a.state.hub.is_online(user) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    b.kill().await.unwrap();
    let killed = Instant::now();
    while a.state.hub.is_online(bob_id) {
        assert!(
            killed.elapsed() < OFFLINE_WITHIN * 2,
            "bob is still online {:?} after node B died",
            killed.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = killed.elapsed();
    assert!(
        took <= OFFLINE_WITHIN,
        "bob turned offline {took:?} after node B died (stated: within {OFFLINE_WITHIN:?})"
    );
    alice
        .recv_until(|frame| match frame {
            ServerFrame::Presence(PresenceUpdate { user, state })
                if user == bob_id && state == PresenceState::Offline =>
            {
                Some(())
            }
            _ => None,
        })
        .await;
    assert_eq!(
        a.state.hub.presence_of(dave_id),
        PresenceState::Available,
        "dave still has a console on node A"
    );
    drop(on_b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_stored_while_the_bus_is_down_arrive_once_when_it_returns() {
    let mut shared = cluster::start().await;
    let a = shared.node().await;
    let b = shared.node().await;
    let (mut bob, bob_hello) = b.connect("bob").await;
    let bob_id = me(&bob_hello);
    let (mut alice, alice_hello) = a.connect("alice").await;
    let alice_id = me(&alice_hello);
    presence_of(&mut bob, alice_id).await;

    shared.nats.kill();
    cluster::wait_for_bus(&a, "down").await;
    let ids: Vec<String> = (1..=5)
        .map(|n| format!("00000000-0000-4000-8000-0000000000{n:02}"))
        .collect();
    for (n, id) in ids.iter().enumerate() {
        say(
            &mut alice,
            id,
            bob_id,
            &format!("while the bus is down {n}"),
        )
        .await;
        alice
            .recv_until(|frame| matches!(frame, ServerFrame::ChatAck { .. }).then_some(()))
            .await;
    }
    shared.nats.run().await;
    let mut seen = Vec::new();
    while seen.len() < ids.len() {
        let message = next_chat(&mut bob).await;
        seen.push(message);
    }
    let seqs: Vec<i64> = seen.iter().map(|message| message.seq).collect();
    assert_eq!(seqs, vec![1, 2, 3, 4, 5], "in order, each once");
    // Nothing more comes: no copy of any of them.
    let more = tokio::time::timeout(Duration::from_secs(3), async {
        loop {
            if let ServerFrame::ChatMessage(message) = bob.recv().await {
                return message;
            }
        }
    })
    .await;
    assert!(more.is_err(), "a message came twice: {more:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_node_installation_moves_to_postgres_and_goes_on_there() {
    let shared = cluster::start().await;
    // A single node on SQLite, with a conversation, a read marker and a call.
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}", dir.path().join("switchboard.db").display());
    let single = TestServer::start_node(sqlite.clone(), |_| {}).await;
    let (mut alice, alice_hello) = single.connect("alice").await;
    let (mut bob, bob_hello) = single.connect("bob").await;
    let (alice_id, bob_id) = (me(&alice_hello), me(&bob_hello));
    for n in 1..=3 {
        say(
            &mut alice,
            &format!("00000000-0000-4000-8000-00000000000{n}"),
            bob_id,
            &format!("before the move {n}"),
        )
        .await;
        alice
            .recv_until(|frame| matches!(frame, ServerFrame::ChatAck { .. }).then_some(()))
            .await;
    }
    bob.send(&ClientFrame::ChatRead {
        with: alice_id,
        seq: 2,
    })
    .await;
    bob.recv_until(|frame| {
        matches!(frame, ServerFrame::Marker(update) if update.marker.read_seq == 2).then_some(())
    })
    .await;
    let queued = single
        .ingest(
            reqwest::Method::POST,
            "/api/calls",
            Some(serde_json::json!({"caller_number": "+44 20 7946 0001", "dialled": "100"})),
        )
        .await;
    assert_eq!(queued.status(), 201);
    drop((alice, bob));
    drop(single);
    // The stopped server's tasks let go of the database.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let postgres = shared.database_url.as_str();
    let out = run_command(&["migrate-to-postgres", "--from", &sqlite, "--to", postgres]).unwrap();
    assert!(out.contains("the counts match"), "{out}");
    assert!(out.contains("messages") && out.contains("3 rows"), "{out}");
    let again =
        run_command(&["migrate-to-postgres", "--from", &sqlite, "--to", postgres]).unwrap_err();
    assert!(again.contains("is not empty"), "{again}");

    // On PostgreSQL: the same passwords, the conversation with its markers, the open call;
    // a new message continues the conversation's seq and gets a new id.
    let node = shared.node().await;
    let (mut bob, bob_hello) = node.connect("bob").await;
    let summary = bob_hello
        .iter()
        .find_map(|frame| match frame {
            ServerFrame::ConversationsSnapshot { conversations, .. } => conversations
                .iter()
                .find(|summary| summary.partner.id == alice_id)
                .cloned(),
            _ => None,
        })
        .expect("bob's conversation with alice moved");
    assert_eq!((summary.last.seq, summary.unread), (3, 1));
    assert_eq!(node.state.calls.list().await.len(), 1);
    let (mut alice, _) = node.connect("alice").await;
    say(
        &mut alice,
        "00000000-0000-4000-8000-000000000004",
        bob_id,
        "after the move",
    )
    .await;
    let message = next_chat(&mut bob).await;
    assert_eq!(message.seq, 4);
    assert!(message.id > 3, "a new id: {}", message.id);
}
