//! Federation over XMPP against a real Prosody: a scripted XMPP client (tokio-xmpp) and
//! Switchboard consoles chat, with receipts, read markers, typing and presence; bad input
//! from the XMPP side is refused with an error stanza; messages survive the XMPP server's
//! restart, once each.

mod common;

use std::time::Duration;

use common::{TestServer, prosody};
use switchboard_loadgen::xmpp::{HOST, Prosody, XmppClient, switchboard_user};
use switchboard_protocol::{ClientFrame, PresenceState, ServerFrame, UserId};
use switchboard_server::directory::import::{self, Applier, Record};

/// Long enough for a stanza's round trip through Prosody on a loaded machine.
const WAIT: Duration = Duration::from_secs(10);

/// A directory with the operator, Alice, and Erin, who is on the XMPP server.
fn directory() -> Vec<Record> {
    let local = |id: &str, name: &str, username: &str| Record {
        external_id: id.into(),
        name: name.into(),
        username: Some(username.into()),
        ..Record::default()
    };
    vec![
        local("op", "Operator", "operator"),
        local("alice", "Alice Archer", "alice"),
        Record {
            external_id: "erin".into(),
            name: "Erin Evans".into(),
            xmpp: format!("erin@{}", HOST),
            ..Record::default()
        },
    ]
}

/// A server linked to `prosody`, its directory loaded, and the federated contact Erin's id.
async fn linked_server(prosody: &Prosody) -> (TestServer, UserId) {
    linked_server_with(prosody, |_| {}).await
}

/// [`linked_server`] with the test configuration changed by `edit`.
async fn linked_server_with(
    prosody: &Prosody,
    edit: impl FnOnce(&mut switchboard_server::Config),
) -> (TestServer, UserId) {
    let xmpp = prosody::config(prosody);
    let server = TestServer::start_with(|config| {
        config.xmpp = Some(xmpp);
        edit(config);
    })
    .await;
    let by = Applier {
        actor: "test",
        action: "directory.import",
        create_accounts: false,
        deactivate_removed: false,
    };
    import::apply(&server.state.db, &directory(), by, false)
        .await
        .unwrap();
    let erin: UserId = sqlx::query_scalar("SELECT id FROM users WHERE xmpp = $1")
        .bind(format!("erin@{}", HOST))
        .fetch_one(&server.state.db)
        .await
        .unwrap();
    wait_for_link(&server).await;
    // The import reaches the running server through the audit log's change feed.
    let deadline = tokio::time::Instant::now() + WAIT;
    while !server.state.hub.is_user(erin) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the server never learned of Erin"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (server, erin)
}

async fn wait_for_link(server: &TestServer) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let health = server
            .http()
            .get(server.url("/healthz"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if health.contains("xmpp link: up") {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the XMPP link did not come up: {health}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Erin's client, signed in, available, and subscribed to by the component (approved).
async fn erin_online(prosody: &Prosody, show: Option<&str>) -> XmppClient {
    let mut erin = prosody.client("erin").await;
    erin.presence(show).await;
    erin
}

/// Waits on a console until `user`'s presence is `wanted`.
async fn presence_becomes(console: &mut common::Client, user: UserId, wanted: PresenceState) {
    tokio::time::timeout(
        WAIT,
        console.recv_until(|frame| match frame {
            ServerFrame::Presence(update) if update.user == user && update.state == wanted => {
                Some(())
            }
            _ => None,
        }),
    )
    .await
    .unwrap_or_else(|_| panic!("presence of {user} did not become {wanted:?}"));
}

#[tokio::test]
async fn an_xmpp_user_and_an_operator_chat_with_receipts_markers_typing_and_presence() {
    let prosody = prosody::start(&["erin", "frank"]).await;
    let (server, erin_id) = linked_server(&prosody).await;
    let (mut operator, _) = server.connect("operator").await;
    let operator_id: UserId =
        sqlx::query_scalar("SELECT id FROM users WHERE username = 'operator'")
            .fetch_one(&server.state.db)
            .await
            .unwrap();

    // Erin signs in to her XMPP client and approves the subscription: her presence shows.
    let mut erin = erin_online(&prosody, None).await;
    let mut shown = PresenceState::Offline;
    let deadline = tokio::time::Instant::now() + WAIT;
    while shown != PresenceState::Available {
        assert!(
            tokio::time::Instant::now() < deadline,
            "Erin never showed available"
        );
        erin.collect(Duration::from_millis(200)).await;
        shown = server.state.hub.presence_of(erin_id);
    }
    erin.presence(Some("dnd")).await;
    presence_becomes(&mut operator, erin_id, PresenceState::Dnd).await;

    // The operator writes to Erin: her client gets it, with the message's id as origin-id.
    let id = "6f1c2b9e-3a4d-4e5f-8a7b-1c2d3e4f5a6b";
    operator
        .send(&ClientFrame::ChatSend {
            client_msg_id: id.into(),
            to: erin_id,
            body: "Your caller is holding on line 2 <b>".into(),
        })
        .await;
    let got = erin
        .expect(WAIT, |message| {
            message.body.is_some().then(|| message.clone())
        })
        .await;
    assert_eq!(
        got.body.as_deref(),
        Some("Your caller is holding on line 2 <b>")
    );
    assert_eq!(got.id.as_deref(), Some(id));
    assert_eq!(got.from, switchboard_user("operator"));
    assert_eq!(got.origin_id.as_deref(), Some(id));

    // Her client's receipt and displayed marker move her markers on the operator's console.
    erin.signal(
        &switchboard_user("operator"),
        &format!("<received xmlns='urn:xmpp:receipts' id='{id}'/>"),
    )
    .await;
    let delivered = tokio::time::timeout(
        WAIT,
        operator.recv_until(|frame| match frame {
            ServerFrame::Marker(update)
                if update.user == erin_id && update.marker.delivered_seq >= 1 =>
            {
                Some(update)
            }
            _ => None,
        }),
    )
    .await
    .expect("the receipt reached the console");
    assert_eq!(delivered.marker.read_seq, 0);
    erin.signal(
        &switchboard_user("operator"),
        &format!("<displayed xmlns='urn:xmpp:chat-markers:0' id='{id}'/>"),
    )
    .await;
    tokio::time::timeout(
        WAIT,
        operator.recv_until(|frame| match frame {
            ServerFrame::Marker(update)
                if update.user == erin_id && update.marker.read_seq >= 1 =>
            {
                Some(())
            }
            _ => None,
        }),
    )
    .await
    .expect("the displayed marker reached the console");

    // Erin types, then answers: the console sees typing, then the message from Erin; her
    // client gets a receipt for it.
    erin.signal(
        &switchboard_user("operator"),
        "<composing xmlns='http://jabber.org/protocol/chatstates'/>",
    )
    .await;
    tokio::time::timeout(
        WAIT,
        operator.recv_until(|frame| match frame {
            ServerFrame::Typing { from } if from == erin_id => Some(()),
            _ => None,
        }),
    )
    .await
    .expect("Erin's typing reached the console");
    erin.say(
        &switchboard_user("operator"),
        "erin-1",
        "Put them through <i>please</i>",
    )
    .await;
    let message = tokio::time::timeout(
        WAIT,
        operator.recv_until(|frame| match frame {
            ServerFrame::ChatMessage(message) if message.from == erin_id => Some(message),
            _ => None,
        }),
    )
    .await
    .expect("Erin's message reached the console");
    assert_eq!(message.body, "Put them through <i>please</i>");
    assert_eq!(message.to, operator_id);
    erin.expect(WAIT, |m| {
        (m.received.as_deref() == Some("erin-1")).then_some(())
    })
    .await;

    // The operator reads it: Erin's client gets `displayed` naming her message.
    operator
        .send(&ClientFrame::ChatRead {
            with: erin_id,
            seq: message.seq,
        })
        .await;
    erin.expect(WAIT, |m| {
        (m.displayed.as_deref() == Some("erin-1")).then_some(())
    })
    .await;

    // The operator types: Erin's client sees `composing`.
    operator.send(&ClientFrame::Typing { to: erin_id }).await;
    erin.expect(WAIT, |m| m.composing.then_some(())).await;

    // The same stanza again (a client resending after a lost link) is not a second message.
    erin.say(
        &switchboard_user("operator"),
        "erin-1",
        "Put them through <i>please</i>",
    )
    .await;
    erin.expect(WAIT, |m| {
        (m.received.as_deref() == Some("erin-1")).then_some(())
    })
    .await;
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM messages WHERE sender = $1")
        .bind(erin_id)
        .fetch_one(&server.state.db)
        .await
        .unwrap();
    assert_eq!(stored, 1, "a resent stanza was stored twice");

    // Erin signs out: she turns offline on the console.
    erin.quit().await;
    presence_becomes(&mut operator, erin_id, PresenceState::Offline).await;
}

#[tokio::test]
async fn bad_input_from_the_xmpp_side_gets_an_error_stanza_and_changes_nothing() {
    let prosody = prosody::start(&["erin", "frank"]).await;
    let (server, _erin_id) = linked_server(&prosody).await;
    let count = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM messages")
            .fetch_one(&server.state.db)
            .await
            .unwrap()
    };

    // Frank is on the XMPP server but not in the directory.
    let mut frank = prosody.client("frank").await;
    frank
        .say(&switchboard_user("operator"), "f1", "hello")
        .await;
    let error = frank.expect(WAIT, |m| m.error.clone()).await;
    assert_eq!(error, "forbidden");

    // Erin writes to nobody, then far too much.
    let mut erin = erin_online(&prosody, None).await;
    erin.say(&switchboard_user("nobody"), "e1", "hello").await;
    let error = erin.expect(WAIT, |m| m.error.clone()).await;
    assert_eq!(error, "item-not-found");
    let long = "x".repeat(server.state.client_config().limits.max_message_chars + 1);
    erin.say(&switchboard_user("operator"), "e2", &long).await;
    let error = erin.expect(WAIT, |m| m.error.clone()).await;
    assert_eq!(error, "not-acceptable");
    assert_eq!(count().await, 0);

    // A flood past the allowance (a burst of 100 by default) is refused with
    // resource-constraint, and the link stays up.
    let burst = 150;
    for n in 0..burst {
        erin.say(
            &switchboard_user("operator"),
            &format!("flood-{n}"),
            "flood",
        )
        .await;
    }
    let replies = erin.collect(Duration::from_secs(5)).await;
    let refused = replies
        .iter()
        .filter(|m| m.error.as_deref() == Some("resource-constraint"))
        .count();
    assert!(refused > 0, "no message of the flood was refused");
    let stored = count().await;
    assert_eq!(
        stored as usize + refused,
        burst,
        "each message is stored or refused"
    );
    wait_for_link(&server).await;
}

#[tokio::test]
async fn messages_cross_a_restart_of_the_xmpp_server_once_each() {
    let mut prosody = prosody::start(&["erin"]).await;
    let (server, erin_id) = linked_server(&prosody).await;
    let (mut operator, _) = server.connect("operator").await;
    let mut erin = erin_online(&prosody, None).await;
    let send = |n: usize| ClientFrame::ChatSend {
        client_msg_id: format!("00000000-0000-4000-8000-{n:012}"),
        to: erin_id,
        body: format!("message {n}"),
    };
    operator.send(&send(1)).await;
    eprintln!("DEBUG {}", prosody.log());
    erin.expect(WAIT, |m| {
        (m.body.as_deref() == Some("message 1")).then_some(())
    })
    .await;
    // The XMPP server confirmed it (its ping came back) before it goes down.
    wait_until_confirmed(&server, 1).await;

    // Prosody is killed; the operator goes on writing (stored, acknowledged).
    prosody.stop();
    erin.quit().await;
    for n in 2..=4 {
        operator.send(&send(n)).await;
    }
    prosody.restart().await;
    wait_for_link(&server).await;
    let mut erin = erin_online(&prosody, None).await;
    let bodies = each_once(&mut erin, 2..=4).await;
    assert!(
        !bodies.iter().any(|b| b == "message 1"),
        "message 1 came again: {bodies:?}"
    );
}

#[tokio::test]
async fn a_switchboard_users_presence_reaches_the_xmpp_users_who_subscribed() {
    let prosody = prosody::start(&["erin", "frank"]).await;
    let (server, _erin_id) = linked_server(&prosody).await;
    let (mut operator, _) = server.connect("operator").await;
    let mut erin = erin_online(&prosody, None).await;
    let operator_jid = switchboard_user("operator");
    erin.subscribe(&operator_jid).await;
    erin.expect_presence(WAIT, |p| {
        (p.from.starts_with(&operator_jid) && p.kind == "available").then_some(())
    })
    .await;
    operator
        .send(&ClientFrame::SetPresence {
            state: PresenceState::Away,
        })
        .await;
    erin.expect_presence(WAIT, |p| {
        (p.from.starts_with(&operator_jid) && p.kind == "away").then_some(())
    })
    .await;
    drop(operator);
    erin.expect_presence(WAIT, |p| {
        (p.from.starts_with(&operator_jid) && p.kind == "unavailable").then_some(())
    })
    .await;

    // The subscription outlives a restart of Switchboard: Erin sees the operator come back.
    let xmpp = prosody::config(&prosody);
    let server = server.restart_with(|config| config.xmpp = Some(xmpp)).await;
    wait_for_link(&server).await;
    let (_operator, _) = server.connect("operator").await;
    erin.expect_presence(WAIT, |p| {
        (p.from.starts_with(&operator_jid) && p.kind == "away").then_some(())
    })
    .await;

    // Someone on the XMPP server who is not in the directory is refused.
    let mut frank = prosody.client("frank").await;
    frank.subscribe(&operator_jid).await;
    frank
        .expect_presence(WAIT, |p| {
            (p.from.starts_with(&operator_jid) && p.kind == "unsubscribed").then_some(())
        })
        .await;
}

#[tokio::test]
async fn messages_from_xmpp_wait_for_a_closed_console_as_unread() {
    let prosody = prosody::start(&["erin"]).await;
    let (server, erin_id) = linked_server(&prosody).await;
    let mut erin = erin_online(&prosody, None).await;
    erin.say(&switchboard_user("operator"), "while-away", "Call me back")
        .await;
    erin.expect(WAIT, |m| {
        (m.received.as_deref() == Some("while-away")).then_some(())
    })
    .await;
    let (_operator, frames) = server.connect("operator").await;
    assert!(
        frames.contains(&ServerFrame::Federation { down: None }),
        "the hello says the XMPP link is up"
    );
    let conversations = frames
        .iter()
        .find_map(|frame| match frame {
            ServerFrame::ConversationsSnapshot { conversations, .. } => Some(conversations),
            _ => None,
        })
        .expect("the chat list comes at hello");
    let with_erin = conversations
        .iter()
        .find(|c| c.partner.id == erin_id)
        .expect("Erin's conversation is in the chat list");
    assert_eq!(with_erin.last.body, "Call me back");
    assert_eq!(with_erin.unread, 1, "it is unread (a red dot)");
}

#[tokio::test]
async fn in_micollab_mode_an_offline_xmpp_contact_cannot_be_messaged() {
    let prosody = prosody::start(&["erin"]).await;
    let (server, erin_id) = linked_server_with(&prosody, |config| {
        config.mode = switchboard_protocol::Mode::Micollab;
    })
    .await;
    let (mut operator, _) = server.connect("operator").await;
    operator
        .send(&ClientFrame::ChatSend {
            client_msg_id: "1b7e4f0e-7f39-4c1e-9a8e-2f3a1c9d5e61".into(),
            to: erin_id,
            body: "Are you there?".into(),
        })
        .await;
    let reason = tokio::time::timeout(
        WAIT,
        operator.recv_until(|frame| match frame {
            ServerFrame::ChatNack { reason, .. } => Some(reason),
            ServerFrame::ChatAck { .. } => panic!("a message to an offline contact was taken"),
            _ => None,
        }),
    )
    .await
    .expect("an answer to the send");
    assert_eq!(reason, switchboard_protocol::ChatRefusal::PartnerOffline);
}

#[tokio::test]
async fn messages_cross_a_restart_of_switchboard_once_each() {
    let prosody = prosody::start(&["erin"]).await;
    let (server, erin_id) = linked_server(&prosody).await;
    let (mut operator, _) = server.connect("operator").await;
    // Erin is offline: the XMPP server keeps the messages for her.
    for n in 1..=3 {
        operator
            .send(&ClientFrame::ChatSend {
                client_msg_id: format!("00000000-0000-4000-8000-{n:012}"),
                to: erin_id,
                body: format!("message {n}"),
            })
            .await;
    }
    wait_until_confirmed(&server, 3).await;
    drop(operator);
    let xmpp = prosody::config(&prosody);
    let server = server.restart_with(|config| config.xmpp = Some(xmpp)).await;
    wait_for_link(&server).await;
    let mut erin = erin_online(&prosody, None).await;
    each_once(&mut erin, 1..=3).await;
}

/// Reads what `erin` receives for 5 s: "message N" for each N of `numbers` exactly once.
/// Returns every body received.
async fn each_once(erin: &mut XmppClient, numbers: std::ops::RangeInclusive<usize>) -> Vec<String> {
    let got = erin.collect(Duration::from_secs(5)).await;
    let bodies: Vec<String> = got.into_iter().filter_map(|m| m.body).collect();
    for n in numbers {
        let text = format!("message {n}");
        assert_eq!(
            bodies.iter().filter(|b| **b == text).count(),
            1,
            "{text} arrived other than once: {bodies:?}"
        );
    }
    bodies
}

/// Waits until the XMPP server confirmed every message up to `message_id`.
async fn wait_until_confirmed(server: &TestServer, message_id: i64) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let confirmed: Option<i64> = sqlx::query_scalar("SELECT message_id FROM xmpp_forwarded")
            .fetch_optional(&server.state.db)
            .await
            .unwrap();
        if confirmed.is_some_and(|id| id >= message_id) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "message {message_id} was never confirmed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_federated_contacts_account_can_neither_sign_in_nor_get_a_password() {
    let prosody = prosody::start(&["erin"]).await;
    let (server, _erin_id) = linked_server(&prosody).await;
    let username = format!("xmpp:erin@{}", HOST);
    let refused = switchboard_server::accounts::reset_password(
        &server.state.db,
        "test",
        &username,
        "a long enough password".into(),
    )
    .await;
    assert!(refused.is_err(), "a password was set on an XMPP contact");
    let hash: Option<String> =
        sqlx::query_scalar("SELECT password_hash FROM users WHERE username = $1")
            .bind(&username)
            .fetch_one(&server.state.db)
            .await
            .unwrap();
    assert_eq!(hash, None);
    // Even with a password in the database (written by hand), sign-in refuses the account.
    let known = server.sign_in_response("operator", "operator").await;
    assert_eq!(known.status(), 200);
    sqlx::query("UPDATE users SET password_hash = (SELECT password_hash FROM users WHERE username = 'operator') WHERE username = $1")
        .bind(&username)
        .execute(&server.state.db)
        .await
        .unwrap();
    let response = server.sign_in_response(&username, "operator").await;
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn an_xmpp_presence_flood_reaches_consoles_only_within_the_allowance() {
    let prosody = prosody::start(&["erin"]).await;
    let (server, erin_id) = linked_server(&prosody).await;
    let (mut operator, _) = server.connect("operator").await;
    let mut erin = erin_online(&prosody, None).await;
    presence_becomes(&mut operator, erin_id, PresenceState::Available).await;
    let flood = 200;
    for n in 0..flood {
        erin.presence(Some(if n % 2 == 0 { "dnd" } else { "away" }))
            .await;
    }
    erin.presence(Some("xa")).await;
    // What the console hears within 3 s: at most the allowance (a burst of 10, then one a
    // second), never one frame per stanza.
    let mut heard = 0;
    let until = tokio::time::Instant::now() + Duration::from_secs(3);
    while let Ok(frame) = tokio::time::timeout_at(until, operator.recv()).await {
        if matches!(frame, ServerFrame::Presence(update) if update.user == erin_id) {
            heard += 1;
        }
    }
    assert!(
        (1..=16).contains(&heard),
        "{heard} presence frames for {flood} stanzas"
    );
    // The latest state is shown once the allowance allows it: xa is away.
    let deadline = tokio::time::Instant::now() + WAIT;
    while server.state.hub.presence_of(erin_id) != PresenceState::Away {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the latest presence was never shown"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
