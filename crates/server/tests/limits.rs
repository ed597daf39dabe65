//! Configured limits are enforced: messages per second per user, connections per user, bad
//! frames per connection.

mod common;

use std::time::Duration;

use common::{Client, TestServer};
use futures_util::{SinkExt, StreamExt};
use switchboard_protocol::{
    ChatRefusal, ClientFrame, ErrorCode, PROTOCOL_VERSION, PresenceState, PresenceUpdate,
    ServerFrame, UserId,
};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn a_user_sending_too_fast_is_refused_and_others_are_not() {
    let server = TestServer::start_with(|config| {
        config.limits.messages_per_second = 1;
        config.limits.message_burst = 3;
    })
    .await;
    let (mut operator, _) = server.connect("operator").await;
    let (mut alice, _) = server.connect("alice").await;
    let mut answers = Vec::new();
    for n in 0..5u64 {
        let client_msg_id = format!("00000000-0000-4000-8000-{n:012x}");
        operator
            .send(&ClientFrame::ChatSend {
                client_msg_id,
                to: 2,
                body: format!("burst {n}"),
            })
            .await;
        loop {
            match operator.recv().await {
                ServerFrame::ChatAck { .. } => break answers.push(None),
                ServerFrame::ChatNack { reason, .. } => break answers.push(Some(reason)),
                _ => {}
            }
        }
    }
    let limited = Some(ChatRefusal::RateLimited);
    assert_eq!(answers, [None, None, None, limited, limited]);

    // A resend of a stored message (another tab flushing the same outbox) is acknowledged
    // again even now: it costs no allowance.
    operator
        .send(&ClientFrame::ChatSend {
            client_msg_id: format!("00000000-0000-4000-8000-{:012x}", 0),
            to: 2,
            body: "burst 0".into(),
        })
        .await;
    loop {
        match operator.recv().await {
            ServerFrame::ChatAck { seq, .. } => break assert_eq!(seq, 1),
            ServerFrame::ChatNack { reason, .. } => panic!("a resend was refused: {reason:?}"),
            _ => {}
        }
    }

    // Alice has her own allowance.
    alice
        .send(&ClientFrame::ChatSend {
            client_msg_id: "00000000-0000-4000-8000-0000000000aa".into(),
            to: 1,
            body: "hello".into(),
        })
        .await;
    loop {
        match alice.recv().await {
            ServerFrame::ChatAck { .. } => break,
            ServerFrame::ChatNack { reason, .. } => panic!("alice was refused: {reason:?}"),
            _ => {}
        }
    }
}

#[tokio::test]
async fn a_user_may_hold_only_so_many_connections() {
    let server = TestServer::start_with(|config| config.limits.connections_per_user = 2).await;
    let cookie = server.sign_in("bob", "bob").await.unwrap();
    let (_tab1, _) = server.join(&cookie).await;
    let (_tab2, _) = server.join(&cookie).await;
    let mut tab3 = server
        .open_ws(Some(&cookie), Some(&server.url("")))
        .await
        .unwrap();
    tab3.send(&ClientFrame::Hello {
        version: PROTOCOL_VERSION,
    })
    .await;
    assert_eq!(tab3.close_code().await, Some(1008));
    // Others are not affected.
    let (_carol, frames) = server.connect("carol").await;
    assert!(matches!(frames[0], ServerFrame::Welcome { .. }));
}

/// Bad frames one connection sends at most in the flood test.
const FLOOD: usize = 3000;

/// Sends up to [`FLOOD`] bad frames (malformed JSON, an unknown type, a wrong field type, a
/// second hello) while reading the answers; the `error` frames seen and the close code.
async fn flood(client: Client) -> (Vec<ErrorCode>, Option<u16>) {
    let hello_again = ClientFrame::Hello {
        version: PROTOCOL_VERSION,
    }
    .encode();
    let bad = [
        "{",
        r#"{"type":"launch"}"#,
        r#"{"type":"set_presence","state":7}"#,
        &hello_again,
    ];
    let (mut tx, mut rx) = client.socket.split();
    let send = async {
        for text in bad.iter().cycle().take(FLOOD) {
            if tx.send(Message::text(*text)).await.is_err() {
                break; // closed by the server
            }
        }
    };
    let read = async {
        let mut errors = Vec::new();
        // Every bad frame gets at most one answer; other frames (presence) are few.
        for _ in 0..FLOOD + 100 {
            let next = tokio::time::timeout(Duration::from_secs(5), rx.next())
                .await
                .expect("the flooding console heard nothing for 5 s");
            match next {
                Some(Ok(Message::Text(text))) => {
                    if let ServerFrame::Error { code, .. } = ServerFrame::decode(&text).unwrap() {
                        errors.push(code);
                    }
                }
                Some(Ok(Message::Close(frame))) => return (errors, frame.map(|f| f.code.into())),
                Some(Ok(_)) => {}
                Some(Err(err)) => panic!("after {} errors: {err}", errors.len()),
                None => return (errors, None),
            }
        }
        panic!("{} error frames and no close", errors.len())
    };
    tokio::join!(send, read).1
}

fn me(frames: &[ServerFrame]) -> UserId {
    match &frames[0] {
        ServerFrame::Welcome { me, .. } => me.id,
        other => panic!("expected welcome, got {other:?}"),
    }
}

/// `from` sends `body` to `to`: acknowledged to `from`, delivered to `recipient`.
async fn chat(from: &mut Client, recipient: &mut Client, to: UserId, n: u64, body: &str) {
    let client_msg_id = format!("00000000-0000-4000-8000-{n:012x}");
    from.send(&ClientFrame::ChatSend {
        client_msg_id: client_msg_id.clone(),
        to,
        body: body.into(),
    })
    .await;
    from.recv_until(|frame| match frame {
        ServerFrame::ChatAck {
            client_msg_id: id, ..
        } if id == client_msg_id => Some(()),
        ServerFrame::ChatNack { reason, .. } => panic!("refused: {reason:?}"),
        _ => None,
    })
    .await;
    let delivered = recipient
        .recv_until(|frame| match frame {
            ServerFrame::ChatMessage(message) if message.to == to => Some(message.body),
            _ => None,
        })
        .await;
    assert_eq!(delivered, body);
}

#[tokio::test]
async fn a_flood_of_bad_frames_is_closed_with_1008_while_others_are_served() {
    const ALLOWED: u32 = 50;
    let server =
        TestServer::start_with(|config| config.limits.bad_frames_per_minute = ALLOWED).await;
    let (dave, _) = server.connect("dave").await;
    let (mut bob, frames) = server.connect("bob").await;
    let bob_id = me(&frames);
    let (mut carol, frames) = server.connect("carol").await;
    let carol_id = me(&frames);

    let flood = tokio::spawn(flood(dave));
    // Bob and Carol chat while the flood goes on (at least two rounds, at most twenty).
    for round in 0..20u64 {
        let text = format!("round {round}, from Bob");
        chat(&mut bob, &mut carol, carol_id, 2 * round, &text).await;
        let text = format!("round {round}, from Carol");
        chat(&mut carol, &mut bob, bob_id, 2 * round + 1, &text).await;
        if round >= 1 && flood.is_finished() {
            break;
        }
    }
    bob.send(&ClientFrame::SetPresence {
        state: PresenceState::Busy,
    })
    .await;
    let busy = PresenceUpdate {
        user: bob_id,
        state: PresenceState::Busy,
    };
    let presence = |frame| match frame {
        ServerFrame::Presence(update) if update.user == bob_id => Some(update),
        _ => None,
    };
    assert_eq!(carol.recv_until(presence).await, busy);
    assert_eq!(bob.recv_until(presence).await, busy);

    let (errors, close) = flood.await.unwrap();
    assert_eq!(close, Some(1008), "after {} error frames", errors.len());
    // The allowance, plus what refilled while the flood lasted; never the whole flood.
    assert!(
        (ALLOWED as usize..FLOOD / 2).contains(&errors.len()),
        "{} error frames",
        errors.len()
    );
    assert!(
        errors
            .iter()
            .all(|code| matches!(code, ErrorCode::MalformedFrame | ErrorCode::OutOfOrder)),
        "{errors:?}"
    );
}
