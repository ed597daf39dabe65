//! Message ids through real sockets: a `client_msg_id` is one message whatever the letter case
//! it is written in, and is stored in lowercase hyphenated form.

mod common;

use common::{Client, TestServer};
use switchboard_protocol::{ChatMessage, ClientFrame, ServerFrame, UserId};

const ID: &str = "0b7e4f0e-7f39-4c1e-9a8e-2f3a1c9d5e61";

/// Sends "hello" under `client_msg_id` and returns the answer, with the chat messages that came
/// before it.
async fn send(
    client: &mut Client,
    client_msg_id: &str,
    to: UserId,
) -> (ServerFrame, Vec<ChatMessage>) {
    client
        .send(&ClientFrame::ChatSend {
            client_msg_id: client_msg_id.into(),
            to,
            body: "hello".into(),
        })
        .await;
    let mut seen = Vec::new();
    loop {
        match client.recv().await {
            ServerFrame::ChatMessage(message) => seen.push(message),
            frame @ (ServerFrame::ChatAck { .. } | ServerFrame::ChatNack { .. }) => {
                return (frame, seen);
            }
            _ => {}
        }
    }
}

#[tokio::test]
async fn one_id_in_two_letter_cases_is_one_message_stored_in_lowercase() {
    let server = TestServer::start().await;
    let (mut operator, _) = server.connect("operator").await;
    let (mut alice_client, frames) = server.connect("alice").await;
    let ServerFrame::Welcome { me: alice, .. } = &frames[0] else {
        panic!("no welcome")
    };

    let (first, _) = send(&mut operator, &ID.to_uppercase(), alice.id).await;
    let ServerFrame::ChatAck {
        id,
        seq,
        client_msg_id: acknowledged,
        ..
    } = first
    else {
        panic!("refused: {first:?}")
    };
    assert_eq!(acknowledged, ID, "acknowledged in lowercase");
    let received = alice_client
        .recv_until(|frame| match frame {
            ServerFrame::ChatMessage(message) => Some(message),
            _ => None,
        })
        .await;
    assert_eq!(
        (received.id, received.client_msg_id.as_str()),
        (id, ID),
        "sent on in lowercase"
    );

    for resend in [
        ID.to_owned(),
        ID.to_uppercase(),
        "0B7E4F0E-7f39-4C1E-9a8e-2F3A1C9D5E61".into(),
    ] {
        let (again, copies) = send(&mut operator, &resend, alice.id).await;
        assert!(
            matches!(again, ServerFrame::ChatAck { id: same, seq: 1, .. } if same == id),
            "{resend}: {again:?}"
        );
        assert!(copies.iter().all(|m| m.id == id), "{resend}: {copies:?}");
    }
    assert_eq!(seq, 1);
    let stored: Vec<String> = sqlx::query_scalar("SELECT client_msg_id FROM messages")
        .fetch_all(&server.state.db)
        .await
        .unwrap();
    assert_eq!(stored, [ID]);
}
