//! Configured limits are enforced: messages per second per user, connections per user.

mod common;

use common::TestServer;
use switchboard_protocol::{ChatRefusal, ClientFrame, PROTOCOL_VERSION, ServerFrame};

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
