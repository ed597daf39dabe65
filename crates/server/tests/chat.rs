//! Chat through real sockets: send, acknowledge, de-duplicate, fan out, history, chat list,
//! user search, authorization and the micollab rule.

mod common;

use common::{Client, TestServer};
use switchboard_protocol::{ChatMessage, ChatRefusal, ClientFrame, Mode, ServerFrame, UserId};

fn uuid(n: u64) -> String {
    format!("00000000-0000-4000-8000-{n:012x}")
}

fn me(frames: &[ServerFrame]) -> UserId {
    let ServerFrame::Welcome { me, .. } = &frames[0] else {
        panic!("no welcome")
    };
    me.id
}

async fn send(client: &mut Client, id: u64, to: UserId, body: &str) {
    client
        .send(&ClientFrame::ChatSend {
            client_msg_id: uuid(id),
            to,
            body: body.into(),
        })
        .await;
}

/// Sends messages 1..=`count` to `to`, each acknowledged before the next is sent.
async fn send_numbered(client: &mut Client, to: UserId, count: u64) {
    for n in 1..=count {
        send(client, n, to, &format!("message {n}")).await;
        answer_to(client, n).await;
    }
}

/// Reads frames until the ack (or nack) of `id`, collecting the chat messages seen on the way.
async fn answer_to(client: &mut Client, id: u64) -> (ServerFrame, Vec<ChatMessage>) {
    let mut seen = Vec::new();
    loop {
        match client.recv().await {
            ServerFrame::ChatMessage(message) => seen.push(message),
            frame @ (ServerFrame::ChatAck { .. } | ServerFrame::ChatNack { .. }) => {
                let (ServerFrame::ChatAck { client_msg_id, .. }
                | ServerFrame::ChatNack { client_msg_id, .. }) = &frame
                else {
                    unreachable!()
                };
                assert_eq!(client_msg_id, &uuid(id));
                return (frame, seen);
            }
            ServerFrame::Presence(_) | ServerFrame::Marker(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

async fn next_message(client: &mut Client) -> ChatMessage {
    loop {
        match client.recv().await {
            ServerFrame::ChatMessage(message) => return message,
            ServerFrame::Presence(_) | ServerFrame::Marker(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

async fn history(
    client: &mut Client,
    with: UserId,
    before_seq: Option<i64>,
    limit: u32,
) -> (Vec<i64>, bool) {
    client
        .send(&ClientFrame::History {
            with,
            before_seq,
            limit,
        })
        .await;
    loop {
        match client.recv().await {
            ServerFrame::HistoryPage {
                messages,
                has_more,
                with: w,
            } => {
                assert_eq!(w, with);
                return (messages.iter().map(|m| m.seq).collect(), has_more);
            }
            ServerFrame::Presence(_) | ServerFrame::ChatMessage(_) | ServerFrame::Marker(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_message_is_acknowledged_once_and_reaches_every_session_of_both_parties() {
    let server = TestServer::start().await;
    let (mut operator, frames) = server.connect("operator").await;
    let operator_id = me(&frames);
    let (mut operator_tab, _) = server.connect("operator").await;
    let (mut alice, frames) = server.connect("alice").await;
    let alice_id = me(&frames);
    let (mut alice_tab, _) = server.connect("alice").await;

    let body = "<img src=x onerror=alert(1)> is held on line 2";
    send(&mut operator, 1, alice_id, body).await;
    let (ack, _) = answer_to(&mut operator, 1).await;
    let ServerFrame::ChatAck { seq, id, .. } = ack else {
        panic!("refused: {ack:?}")
    };
    assert_eq!(seq, 1);
    for client in [&mut operator_tab, &mut alice, &mut alice_tab] {
        let message = next_message(client).await;
        assert_eq!(
            (message.id, message.from, message.to),
            (id, operator_id, alice_id)
        );
        assert_eq!(message.body, body, "stored and sent verbatim");
    }

    // A resend (same client_msg_id, e.g. after a reconnect) gets the same ack, and no copy.
    send(&mut operator, 1, alice_id, body).await;
    let (again, copies) = answer_to(&mut operator, 1).await;
    assert!(matches!(again, ServerFrame::ChatAck { id: same, seq: 1, .. } if same == id));
    assert!(copies.iter().all(|m| m.id == id), "{copies:?}");

    // Alice answers: seq 2 in the same conversation, and the next thing everyone sees.
    send(&mut alice_tab, 2, operator_id, "On my way").await;
    let (ack, _) = answer_to(&mut alice_tab, 2).await;
    assert!(
        matches!(ack, ServerFrame::ChatAck { seq: 2, .. }),
        "{ack:?}"
    );
    for client in [&mut operator_tab, &mut alice] {
        assert_eq!(next_message(client).await.body, "On my way");
    }
    let (seqs, has_more) = history(&mut alice, operator_id, None, 50).await;
    assert_eq!((seqs, has_more), (vec![1, 2], false));
}

#[tokio::test]
async fn refused_messages_say_why_and_store_nothing() {
    let server = TestServer::start().await;
    let (mut operator, frames) = server.connect("operator").await;
    let operator_id = me(&frames);
    let (_alice, frames) = server.connect("alice").await;
    let alice_id = me(&frames);
    let too_long = "x".repeat(4001);
    let cases: [(u64, UserId, &str, ChatRefusal); 5] = [
        (10, alice_id, "", ChatRefusal::Empty),
        (11, alice_id, " \n\t ", ChatRefusal::Empty),
        (12, alice_id, &too_long, ChatRefusal::TooLong),
        (13, operator_id, "me", ChatRefusal::UnknownRecipient),
        (14, 987_654, "nobody", ChatRefusal::UnknownRecipient),
    ];
    for (id, to, body, reason) in cases {
        send(&mut operator, id, to, body).await;
        let (answer, _) = answer_to(&mut operator, id).await;
        let ServerFrame::ChatNack {
            reason: got,
            message,
            ..
        } = answer
        else {
            panic!("{answer:?}")
        };
        assert_eq!(got, reason);
        assert!(!message.is_empty());
    }
    operator
        .send(&ClientFrame::ChatSend {
            client_msg_id: "7".into(),
            to: alice_id,
            body: "hi".into(),
        })
        .await;
    let ServerFrame::ChatNack { reason, .. } = operator.recv().await else {
        panic!()
    };
    assert_eq!(reason, ChatRefusal::BadClientMsgId);
    assert_eq!(
        history(&mut operator, alice_id, None, 50).await,
        (vec![], false)
    );
}

#[tokio::test]
async fn history_pages_go_back_by_seq_and_only_the_parties_read_them() {
    let server = TestServer::start().await;
    let (mut operator, frames) = server.connect("operator").await;
    let operator_id = me(&frames);
    let (mut bob, frames) = server.connect("bob").await;
    let bob_id = me(&frames);
    send_numbered(&mut operator, bob_id, 25).await;
    let (page, more) = history(&mut operator, bob_id, None, 10).await;
    assert_eq!((page, more), ((16..=25).collect::<Vec<_>>(), true));
    let (page, more) = history(&mut operator, bob_id, Some(16), 10).await;
    assert_eq!((page, more), ((6..=15).collect::<Vec<_>>(), true));
    let (page, more) = history(&mut bob, operator_id, Some(6), 10).await;
    assert_eq!((page, more), ((1..=5).collect::<Vec<_>>(), false));

    // Carol asks for "the conversation with bob": she gets hers (empty), never the operator's.
    let (mut carol, _) = server.connect("carol").await;
    assert_eq!(history(&mut carol, bob_id, None, 50).await, (vec![], false));
    assert_eq!(
        history(&mut carol, operator_id, None, 50).await,
        (vec![], false)
    );
}

#[tokio::test]
async fn history_pages_hold_at_most_history_page_max() {
    let server = TestServer::start_with(|config| config.client.limits.history_page_max = 5).await;
    let (mut operator, frames) = server.connect("operator").await;
    let ServerFrame::Welcome { config, .. } = &frames[0] else {
        panic!("no welcome")
    };
    assert_eq!(config.limits.history_page_max, 5, "the console is told");
    let (_bob, frames) = server.connect("bob").await;
    let bob_id = me(&frames);
    send_numbered(&mut operator, bob_id, 12).await;
    // Asking for 50 gets 5: the limit clamps, it does not refuse.
    let (page, more) = history(&mut operator, bob_id, None, 50).await;
    assert_eq!((page, more), ((8..=12).collect::<Vec<_>>(), true));
    let (page, more) = history(&mut operator, bob_id, Some(8), 50).await;
    assert_eq!((page, more), ((3..=7).collect::<Vec<_>>(), true));
    let (page, more) = history(&mut operator, bob_id, Some(3), 50).await;
    assert_eq!((page, more), (vec![1, 2], false));
}

#[tokio::test]
async fn the_chat_list_comes_with_hello_most_recent_first() {
    let server = TestServer::start().await;
    let (mut operator, frames) = server.connect("operator").await;
    let ServerFrame::ConversationsSnapshot { conversations } = frames.last().unwrap() else {
        panic!("no chat list in {frames:?}")
    };
    assert!(conversations.is_empty());
    let (_bob, frames) = server.connect("bob").await;
    let bob_id = me(&frames);
    let (_dave, frames) = server.connect("dave").await;
    let dave_id = me(&frames);
    send(&mut operator, 1, bob_id, "first").await;
    answer_to(&mut operator, 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    send(&mut operator, 2, dave_id, "second").await;
    answer_to(&mut operator, 2).await;

    let (_again, frames) = server.connect("operator").await;
    let ServerFrame::ConversationsSnapshot { conversations } = frames.last().unwrap() else {
        panic!()
    };
    let list: Vec<(&str, &str)> = conversations
        .iter()
        .map(|c| (c.partner.display_name.as_str(), c.last.body.as_str()))
        .collect();
    assert_eq!(list, [("Dave Dalton", "second"), ("Bob Baker", "first")]);
}

#[tokio::test]
async fn user_search_finds_people_without_a_conversation() {
    let server = TestServer::start().await;
    let (mut operator, _) = server.connect("operator").await;
    let mut search = async |query: &str| {
        operator
            .send(&ClientFrame::SearchUsers {
                query: query.into(),
            })
            .await;
        let ServerFrame::UserResults {
            users,
            query: echoed,
        } = operator.recv().await
        else {
            panic!()
        };
        assert_eq!(echoed, query);
        users
            .into_iter()
            .map(|u| u.display_name)
            .collect::<Vec<_>>()
    };
    assert_eq!(search("archer").await, ["Alice Archer"]);
    assert_eq!(search("ALI").await, ["Alice Archer"]);
    assert!(search("operator").await.is_empty(), "not oneself");
    assert!(search("%").await.is_empty(), "wildcards are literal");
    assert!(search("  ").await.is_empty());
    assert!(search("amelia").await.len() > 5);
}

#[tokio::test]
async fn micollab_mode_refuses_offline_partners() {
    let server = TestServer::start_with(|config| config.mode = Mode::Micollab).await;
    let (mut operator, _) = server.connect("operator").await;
    let alice_id = 2;
    send(&mut operator, 1, alice_id, "are you there?").await;
    let (answer, _) = answer_to(&mut operator, 1).await;
    assert!(
        matches!(
            answer,
            ServerFrame::ChatNack {
                reason: ChatRefusal::PartnerOffline,
                ..
            }
        ),
        "{answer:?}"
    );
    let (mut alice, frames) = server.connect("alice").await;
    assert_eq!(me(&frames), alice_id);
    send(&mut operator, 1, alice_id, "are you there?").await;
    let (answer, _) = answer_to(&mut operator, 1).await;
    assert!(
        matches!(answer, ServerFrame::ChatAck { seq: 1, .. }),
        "{answer:?}"
    );
    assert_eq!(next_message(&mut alice).await.body, "are you there?");
}

/// The next marker update that moved a read marker, skipping other frames (delivery updates
/// included).
async fn next_read(client: &mut Client) -> switchboard_protocol::MarkerUpdate {
    loop {
        match client.recv().await {
            ServerFrame::Marker(update) if update.marker.read_seq > 0 => return update,
            ServerFrame::Marker(_) => {}
            ServerFrame::Presence(_)
            | ServerFrame::ChatMessage(_)
            | ServerFrame::ChatAck { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn reading_in_one_tab_moves_the_marker_in_every_session_and_never_backwards() {
    let server = TestServer::start().await;
    let (mut tab1, frames) = server.connect("operator").await;
    let operator_id = me(&frames);
    let (mut tab2, _) = server.connect("operator").await;
    let (mut alice, frames) = server.connect("alice").await;
    let alice_id = me(&frames);
    for n in 1..=3 {
        send(&mut alice, n, operator_id, &format!("reply {n}")).await;
        answer_to(&mut alice, n).await;
    }
    // The operator's chat list says 3 unread.
    let (_tab3, frames) = server.connect("operator").await;
    let ServerFrame::ConversationsSnapshot { conversations } = frames.last().unwrap() else {
        panic!()
    };
    assert_eq!(conversations[0].unread, 3);
    assert_eq!(conversations[0].mine.read_seq, 0);

    tab1.send(&ClientFrame::ChatRead {
        with: alice_id,
        seq: 2,
    })
    .await;
    for client in [&mut tab2, &mut alice] {
        let update = next_read(client).await;
        assert_eq!((update.user, update.marker.read_seq), (operator_id, 2));
        assert_eq!((update.unread, update.as_of_seq), (1, 3));
    }
    // Backwards: nothing moves, nobody is told. Beyond the newest message or with nobody: refused.
    tab1.send(&ClientFrame::ChatRead {
        with: alice_id,
        seq: 1,
    })
    .await;
    for (with, seq) in [(alice_id, 4), (alice_id, -1), (4, 1)] {
        tab1.send(&ClientFrame::ChatRead { with, seq }).await;
        loop {
            match tab1.recv().await {
                ServerFrame::Error { code, .. } => {
                    assert_eq!(code, switchboard_protocol::ErrorCode::InvalidRequest);
                    break;
                }
                ServerFrame::ChatMessage(_) | ServerFrame::Marker(_) | ServerFrame::Presence(_) => {
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    tab1.send(&ClientFrame::ChatRead {
        with: alice_id,
        seq: 3,
    })
    .await;
    let update = next_marker(&mut tab2).await;
    assert_eq!(
        (update.marker.read_seq, update.unread),
        (3, 0),
        "seq 1 changed nothing"
    );
    let (_tab4, frames) = server.connect("operator").await;
    let ServerFrame::ConversationsSnapshot { conversations } = frames.last().unwrap() else {
        panic!()
    };
    assert_eq!(
        (conversations[0].unread, conversations[0].mine.read_seq),
        (0, 3)
    );
}

/// The next frame that is not a presence change (people come and go meanwhile).
async fn recv_skipping_presence(client: &mut Client) -> ServerFrame {
    loop {
        match client.recv().await {
            ServerFrame::Presence(_) => {}
            other => return other,
        }
    }
}

/// The next marker update of any kind.
async fn next_marker(client: &mut Client) -> switchboard_protocol::MarkerUpdate {
    loop {
        match client.recv().await {
            ServerFrame::Marker(update) => return update,
            ServerFrame::Presence(_)
            | ServerFrame::ChatMessage(_)
            | ServerFrame::ChatAck { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn receipts_follow_the_partners_markers() {
    let server = TestServer::start().await;
    let (mut operator, frames) = server.connect("operator").await;
    let operator_id = me(&frames);
    let alice_id = 2;

    // Alice is away: stored and acknowledged, not delivered.
    send(&mut operator, 1, alice_id, "while you were out").await;
    let (ack, _) = answer_to(&mut operator, 1).await;
    assert!(matches!(ack, ServerFrame::ChatAck { seq: 1, .. }));

    // She signs in: delivered, and the operator's console hears it.
    let (mut alice, frames) = server.connect("alice").await;
    let ServerFrame::ConversationsSnapshot { conversations } = frames.last().unwrap() else {
        panic!()
    };
    assert_eq!(
        conversations[0].unread, 1,
        "her chat list shows the message as unread"
    );
    let update = next_marker(&mut operator).await;
    assert_eq!(
        (
            update.user,
            update.marker.delivered_seq,
            update.marker.read_seq
        ),
        (alice_id, 1, 0)
    );

    // Online now: the next message is delivered at once.
    send(&mut operator, 2, alice_id, "are you free?").await;
    let update = next_marker(&mut operator).await;
    assert_eq!((update.user, update.marker.delivered_seq), (alice_id, 2));

    // She reads: the operator sees it read.
    alice
        .send(&ClientFrame::ChatRead {
            with: operator_id,
            seq: 2,
        })
        .await;
    let update = next_marker(&mut operator).await;
    assert_eq!((update.user, update.marker.read_seq), (alice_id, 2));
}

#[tokio::test]
async fn typing_reaches_the_partner_only_and_is_throttled() {
    let server = TestServer::start().await;
    let (mut operator, frames) = server.connect("operator").await;
    let operator_id = me(&frames);
    let (mut alice, frames) = server.connect("alice").await;
    let alice_id = me(&frames);
    let (mut bob, _) = server.connect("bob").await;
    for _ in 0..5 {
        operator.send(&ClientFrame::Typing { to: alice_id }).await;
    }
    assert_eq!(
        recv_skipping_presence(&mut alice).await,
        ServerFrame::Typing { from: operator_id }
    );
    // One notice for the burst: the next frame alice gets is the message that follows.
    send(&mut operator, 1, alice_id, "done typing").await;
    answer_to(&mut operator, 1).await;
    assert_eq!(next_message(&mut alice).await.body, "done typing");
    send(&mut operator, 2, 2_000_000, "x").await;
    let (answer, _) = answer_to(&mut operator, 2).await;
    assert!(matches!(answer, ServerFrame::ChatNack { .. }));
    bob.send(&ClientFrame::SearchUsers {
        query: "zz-none".into(),
    })
    .await;
    let reply = recv_skipping_presence(&mut bob).await;
    assert!(
        matches!(reply, ServerFrame::UserResults { .. }),
        "bob heard nothing of the typing: {reply:?}"
    );
}

#[tokio::test]
async fn typing_right_after_a_message_reaches_the_partner() {
    let server = TestServer::start().await;
    let (mut operator, frames) = server.connect("operator").await;
    let operator_id = me(&frames);
    let (mut alice, frames) = server.connect("alice").await;
    let alice_id = me(&frames);
    operator.send(&ClientFrame::Typing { to: alice_id }).await;
    assert_eq!(
        recv_skipping_presence(&mut alice).await,
        ServerFrame::Typing { from: operator_id }
    );
    // Well within the second of the throttle: the message clears the partner's indicator,
    // so the typing that follows it is forwarded.
    send(&mut operator, 1, alice_id, "first line").await;
    answer_to(&mut operator, 1).await;
    assert_eq!(next_message(&mut alice).await.body, "first line");
    operator.send(&ClientFrame::Typing { to: alice_id }).await;
    assert_eq!(
        recv_skipping_presence(&mut alice).await,
        ServerFrame::Typing { from: operator_id }
    );
}

#[tokio::test]
async fn a_thousand_messages_to_an_offline_user_arrive_exactly_once_in_order() {
    let server = TestServer::start_with(|config| {
        config.limits.messages_per_second = 10_000;
        config.limits.message_burst = 10_000;
    })
    .await;
    let (mut alice, frames) = server.connect("alice").await;
    let alice_id = me(&frames);
    let operator_id = 1;
    // The operator's console is closed: every message is stored and acknowledged, none
    // delivered.
    for n in 1..=1000 {
        send(
            &mut alice,
            n,
            operator_id,
            &format!("while you were out #{n}"),
        )
        .await;
    }
    let mut acked = 0;
    while acked < 1000 {
        match alice.recv().await {
            ServerFrame::ChatAck { seq, .. } => {
                acked += 1;
                assert!(seq <= 1000);
            }
            ServerFrame::ChatNack { reason, .. } => panic!("refused: {reason:?}"),
            ServerFrame::Marker(update) => panic!("delivered to nobody yet: {update:?}"),
            _ => {}
        }
    }

    // The operator opens the console: alice on top of the chat list with 1000 unread, and
    // the whole history exactly once, in order.
    let (mut operator, frames) = server.connect("operator").await;
    let ServerFrame::ConversationsSnapshot { conversations } = frames.last().unwrap() else {
        panic!()
    };
    assert_eq!(conversations[0].partner.id, alice_id);
    assert_eq!(conversations[0].unread, 1000);
    let mut seqs = Vec::new();
    let mut before = None;
    loop {
        let (page, more) = history(&mut operator, alice_id, before, 200).await;
        before = page.first().copied();
        seqs.splice(0..0, page);
        if !more {
            break;
        }
    }
    assert_eq!(seqs, (1..=1000).collect::<Vec<_>>());

    // Her console learns they were delivered.
    let update = loop {
        if let ServerFrame::Marker(update) = alice.recv().await {
            break update;
        }
    };
    assert_eq!(
        (update.user, update.marker.delivered_seq),
        (operator_id, 1000)
    );
}

#[tokio::test]
async fn messages_sent_without_waiting_are_stored_in_the_order_sent() {
    let server = TestServer::start_with(|config| {
        config.limits.messages_per_second = 1_000;
        config.limits.message_burst = 1_000;
    })
    .await;
    let (mut operator, _) = server.connect("operator").await;
    let (_alice, frames) = server.connect("alice").await;
    let alice_id = me(&frames);
    // More than a connection waits for at once (32): it reads on as commits come back.
    let count = 100;
    for n in 1..=count {
        send(&mut operator, n, alice_id, &format!("message {n}")).await;
    }
    let mut seq_of = std::collections::HashMap::new();
    while seq_of.len() < count as usize {
        if let ServerFrame::ChatAck {
            client_msg_id, seq, ..
        } = operator.recv().await
        {
            seq_of.insert(client_msg_id, seq);
        }
    }
    let seqs: Vec<i64> = (1..=count).map(|n| seq_of[&uuid(n)]).collect();
    let in_order: Vec<i64> = (1..=count as i64).collect();
    assert_eq!(seqs, in_order, "each message has the seq of its place");
}
