//! Concurrent writers on one database file: chat sends (the group-committing writer) and read
//! markers (their own write transactions) through real sockets, beside other commits on the
//! same file (as a `switchboard-server user ...` command makes). None may fail with "database
//! is locked": every write transaction takes the write lock when it begins.

mod common;

use std::time::Duration;

use common::{Client, TestServer};
use switchboard_protocol::{ChatRefusal, ClientFrame, ErrorCode, ServerFrame, UserId};

/// Messages each user sends.
const MESSAGES: u64 = 150;
/// Every this many messages a console marks the conversation read: within the server's
/// allowance of read markers (crates/server/src/ws/allowance.rs).
const READ_EVERY: u64 = 5;

/// What one console saw: acks of its own messages, and failures that are the database's.
#[derive(Debug, Default)]
struct Outcome {
    acked: u64,
    received: u64,
    failures: Vec<String>,
}

/// Sends `MESSAGES` messages to `to` without waiting, and marks the conversation with `from`
/// read every `READ_EVERY` messages from them, until all its messages are answered and all of `from`'s have arrived (or
/// nothing came for 3 s).
async fn chat_and_read(mut client: Client, me: UserId, to: UserId, from: UserId) -> Outcome {
    for n in 0..MESSAGES {
        client
            .send(&ClientFrame::ChatSend {
                client_msg_id: format!("00000000-0000-4000-8000-{:06x}{n:06x}", me),
                to,
                body: format!("message {n} from {me}"),
            })
            .await;
    }
    let mut outcome = Outcome::default();
    while outcome.acked < MESSAGES || outcome.received < MESSAGES {
        // A message that failed never arrives: stop waiting once the sockets fall quiet.
        let Ok(frame) = tokio::time::timeout(Duration::from_secs(3), client.recv()).await else {
            break;
        };
        match frame {
            ServerFrame::ChatAck { .. } => outcome.acked += 1,
            ServerFrame::ChatNack {
                reason, message, ..
            } => {
                assert_eq!(reason, ChatRefusal::Internal, "{message}");
                outcome.acked += 1;
                outcome.failures.push(message);
            }
            ServerFrame::ChatMessage(message) if message.from == from => {
                outcome.received += 1;
                if outcome.received % READ_EVERY != 0 {
                    continue;
                }
                client
                    .send(&ClientFrame::ChatRead {
                        with: from,
                        seq: message.seq,
                    })
                    .await;
            }
            ServerFrame::Error {
                code: ErrorCode::Internal,
                message,
            } => outcome.failures.push(message),
            _ => {}
        }
    }
    outcome
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_chat_and_marker_writes_never_fail_on_a_busy_database() {
    let server = TestServer::start_with(|config| {
        config.limits.messages_per_second = 10_000;
        config.limits.message_burst = 10_000;
    })
    .await;
    let names = ["operator", "alice", "bob", "carol", "dave"];
    let mut clients = Vec::new();
    for name in names {
        let (client, frames) = server.connect(name).await;
        let ServerFrame::Welcome { me, .. } = &frames[0] else {
            panic!("no welcome")
        };
        clients.push((client, me.id));
    }
    // A ring: each user writes to the next and reads what the previous one wrote.
    let ids: Vec<UserId> = clients.iter().map(|(_, id)| *id).collect();
    let tasks: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, (client, me))| {
            let to = ids[(i + 1) % ids.len()];
            let from = ids[(i + ids.len() - 1) % ids.len()];
            tokio::spawn(chat_and_read(client, me, to, from))
        })
        .collect();
    // Meanwhile other connections commit, one small write after another.
    let db = server.state.db.clone();
    sqlx::query("CREATE TABLE elsewhere (n INTEGER)")
        .execute(&db)
        .await
        .unwrap();
    let done = tokio_util::sync::CancellationToken::new();
    let others = tokio::spawn({
        let done = done.clone();
        async move {
            let mut n = 0;
            while !done.is_cancelled() {
                sqlx::query("INSERT INTO elsewhere (n) VALUES ($1)")
                    .bind(n)
                    .execute(&db)
                    .await
                    .unwrap();
                n += 1;
            }
            n
        }
    });
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    done.cancel();
    assert!(others.await.unwrap() > 0);
    for outcome in outcomes {
        assert!(outcome.failures.is_empty(), "{outcome:?}");
        assert_eq!((outcome.acked, outcome.received), (MESSAGES, MESSAGES));
    }
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM messages")
        .fetch_one(&server.state.db)
        .await
        .unwrap();
    assert_eq!(stored, (MESSAGES * names.len() as u64) as i64);
}
