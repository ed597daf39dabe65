//! What an attacker or a bad network tries against connections and sign-in: frame floods,
//! sockets that never say hello or never read, trickling HTTP requests, oversized bodies,
//! parallel password guessing. Each test goes through real sockets.

mod common;

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    time::Duration,
};

use common::{Client, TestServer};
use futures_util::{SinkExt, StreamExt};
use switchboard_protocol::{
    ClientFrame, ErrorCode, PROTOCOL_VERSION, PresenceState, PresenceUpdate, ServerFrame,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
    time::Instant,
};
use tokio_tungstenite::{
    WebSocketStream,
    tungstenite::{Message, client::IntoClientRequest, http::HeaderValue},
};

/// Another loopback address: a second machine, for the server.
const ELSEWHERE: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// Sends `frame` up to `count` times while reading the answers: the `error` codes seen and
/// the close code.
async fn flood(client: Client, frame: &ClientFrame, count: usize) -> (Vec<ErrorCode>, Option<u16>) {
    let text = frame.encode();
    let (mut tx, mut rx) = client.socket.split();
    let send = async {
        for _ in 0..count {
            if tx.send(Message::text(text.clone())).await.is_err() {
                break; // closed by the server
            }
        }
    };
    let read = async {
        let mut errors = Vec::new();
        // Each frame gets at most one answer, plus a few other frames (presence, pongs).
        for _ in 0..count * 2 + 100 {
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
                Some(Err(_)) | None => return (errors, None),
            }
        }
        (errors, None)
    };
    tokio::join!(send, read).1
}

#[tokio::test]
async fn every_kind_of_frame_has_an_allowance_then_the_console_is_closed() {
    let server = TestServer::start().await;
    // A conversation whose first message a read marker may name.
    let (mut alice, _) = server.connect("alice").await;
    alice
        .send(&ClientFrame::ChatSend {
            client_msg_id: "00000000-0000-4000-8000-000000000001".into(),
            to: 1,
            body: "hello".into(),
        })
        .await;
    alice
        .recv_until(|frame| matches!(frame, ServerFrame::ChatAck { .. }).then_some(()))
        .await;
    drop(alice);
    let floods = [
        ClientFrame::SetPresence {
            state: PresenceState::Busy,
        },
        ClientFrame::ChatRead { with: 1, seq: 1 },
        ClientFrame::History {
            with: 1,
            before_seq: None,
            limit: 1,
        },
        ClientFrame::SearchUsers { query: "a".into() },
        ClientFrame::Typing { to: 1 },
        ClientFrame::Ping,
        ClientFrame::Watch { users: vec![1] },
    ];
    for frame in floods {
        // A user of its own for each kind: allowances are per user and kind.
        let (client, _) = server.connect("alice").await;
        let (errors, code) = flood(client, &frame, 2_000).await;
        let limited = errors
            .iter()
            .filter(|&&code| code == ErrorCode::RateLimited)
            .count();
        assert!(limited > 0, "{frame:?}: no rate_limited error ({errors:?})");
        assert_eq!(code, Some(1008), "{frame:?}: closed after the errors");
        // Let the allowance of the next kind's connection (a new one) not be this one's.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_presence_flood_over_many_sockets_reaches_others_only_within_the_allowance() {
    let server = TestServer::start().await;
    let (mut watcher, _) = server.connect("operator").await;
    let cookie = server.sign_in("alice", "alice").await.unwrap();
    let mut sockets = Vec::new();
    for _ in 0..20 {
        sockets.push(server.join(&cookie).await.0);
    }
    let states = [PresenceState::Busy, PresenceState::Away];
    let floods = sockets
        .into_iter()
        .enumerate()
        .map(|(n, client)| async move {
            let frame = ClientFrame::SetPresence {
                state: states[n % 2],
            };
            flood(client, &frame, 500).await
        });
    let results = futures_util::future::join_all(floods).await;
    assert!(
        results.iter().all(|(_, code)| *code == Some(1008)),
        "every flooding socket is closed: {:?}",
        results.iter().map(|r| r.1).collect::<Vec<_>>()
    );
    // Alice's 10,000 presence frames made at most her allowance of changes for the others
    // (a burst of 10, one a second after it), then she went offline with her last socket.
    let mut changes = 0;
    loop {
        match watcher.recv().await {
            ServerFrame::Presence(PresenceUpdate { user: 2, state }) => {
                if state == PresenceState::Offline {
                    break;
                }
                changes += 1;
            }
            _ => continue,
        }
    }
    assert!((1..=20).contains(&changes), "{changes} presence changes");
}

#[tokio::test]
async fn sockets_that_never_say_hello_count_against_the_limit_and_are_closed() {
    let server = TestServer::start_with(|config| config.limits.connections_per_user = 2).await;
    let cookie = server.sign_in("bob", "bob").await.unwrap();
    let origin = server.url("");
    let mut silent1 = server.open_ws(Some(&cookie), Some(&origin)).await.unwrap();
    let mut silent2 = server.open_ws(Some(&cookie), Some(&origin)).await.unwrap();
    let mut third = server.open_ws(Some(&cookie), Some(&origin)).await.unwrap();
    assert_eq!(
        third.close_code().await,
        Some(1008),
        "two silent sockets hold the two connections"
    );
    let started = Instant::now();
    for silent in [&mut silent1, &mut silent2] {
        let closed = async {
            loop {
                match silent.socket.next().await {
                    Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                    Some(Ok(_)) => continue,
                    _ => return None,
                }
            }
        };
        let closed = tokio::time::timeout(Duration::from_secs(15), closed)
            .await
            .expect("closed within the hello timeout");
        assert_eq!(closed, Some(1008));
    }
    assert!(started.elapsed() >= Duration::from_secs(5), "not at once");
    // Their places are free again.
    let (_tab, frames) = server.join(&cookie).await;
    assert!(matches!(frames[0], ServerFrame::Welcome { .. }));
}

#[tokio::test]
async fn a_socket_opened_before_sign_out_is_closed_at_sign_out() {
    let server = TestServer::start().await;
    let cookie = server.sign_in("carol", "carol").await.unwrap();
    let mut early = server
        .open_ws(Some(&cookie), Some(&server.url("")))
        .await
        .unwrap();
    let signed_out = server
        .http()
        .delete(server.url("/api/session"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(signed_out.status(), 204);
    // Its hello, if it gets through at all, gets nothing but the close.
    let _ = early
        .socket
        .send(Message::text(
            ClientFrame::Hello {
                version: PROTOCOL_VERSION,
            }
            .encode(),
        ))
        .await;
    loop {
        match early.next_message().await {
            Some(Message::Close(frame)) => {
                assert_eq!(frame.map(|f| u16::from(f.code)), Some(4001));
                break;
            }
            Some(Message::Text(text)) => panic!("a signed-out socket got {text}"),
            Some(_) => continue,
            None => break,
        }
    }
}

/// A WebSocket to `server` as `cookie` over a socket with a tiny receive buffer, which says
/// hello and then never reads.
async fn stalled_console(server: &TestServer, cookie: &str) -> WebSocketStream<TcpStream> {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(server.addr).await.unwrap();
    let mut request = server
        .url("/ws")
        .replacen("http", "ws", 1)
        .into_client_request()
        .unwrap();
    let headers = request.headers_mut();
    headers.insert("cookie", HeaderValue::from_str(cookie).unwrap());
    headers.insert("origin", HeaderValue::from_str(&server.url("")).unwrap());
    let (mut ws, _) = tokio_tungstenite::client_async(request, stream)
        .await
        .unwrap();
    ws.send(Message::text(
        ClientFrame::Hello {
            version: PROTOCOL_VERSION,
        }
        .encode(),
    ))
    .await
    .unwrap();
    ws
}

#[tokio::test]
async fn a_console_that_stops_reading_is_dropped_and_its_user_goes_offline() {
    let server = TestServer::start_with(|config| {
        config.limits.messages_per_second = 10_000;
        config.limits.message_burst = 10_000;
    })
    .await;
    let (alice, _) = server.connect("alice").await;
    let (mut to_server, mut from_server) = alice.socket.split();
    let bob_cookie = server.sign_in("bob", "bob").await.unwrap();
    let _stalled = stalled_console(&server, &bob_cookie).await;
    // Alice reads everything and waits for Bob to go offline, after he came online.
    let bob_gone = tokio::spawn(async move {
        let mut online = false;
        let deadline = Instant::now() + Duration::from_secs(60);
        while let Ok(Some(Ok(message))) =
            tokio::time::timeout_at(deadline, from_server.next()).await
        {
            let Message::Text(text) = message else {
                continue;
            };
            if let ServerFrame::Presence(PresenceUpdate { user: 3, state }) =
                ServerFrame::decode(&text).unwrap()
            {
                if online && state == PresenceState::Offline {
                    return true;
                }
                online = state != PresenceState::Offline;
            }
        }
        false
    });
    // More for Bob, who reads none of it, than the socket buffers hold (4 MiB at most here).
    let body = "x".repeat(4_000);
    for n in 0..3_000u64 {
        let frame = ClientFrame::ChatSend {
            client_msg_id: format!("00000000-0000-4000-8000-{n:012x}"),
            to: 3,
            body: body.clone(),
        };
        if to_server.send(Message::text(frame.encode())).await.is_err() {
            break;
        }
        if bob_gone.is_finished() {
            break;
        }
    }
    assert!(
        bob_gone.await.unwrap(),
        "Bob's stalled console was dropped and he went offline"
    );
    // The server goes on for everyone else.
    let (_carol, frames) = server.connect("carol").await;
    assert!(matches!(frames[0], ServerFrame::Welcome { .. }));
}

/// A connection from `from` that sends the start of a request and then one header byte every
/// half second, for at most `seconds`; true when the server closed it before then.
async fn trickle(server: SocketAddr, from: IpAddr, seconds: u64) -> bool {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(from, 0)).unwrap();
    let Ok(mut stream) = socket.connect(server).await else {
        return false;
    };
    let _ = stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await;
    let mut buf = [0u8; 512];
    for _ in 0..seconds * 2 {
        if stream.write_all(b"a").await.is_err() {
            return true;
        }
        let read = tokio::time::timeout(Duration::from_millis(500), stream.read(&mut buf)).await;
        if let Ok(Ok(0) | Err(_)) = read {
            return true;
        }
    }
    false
}

#[tokio::test]
async fn a_slowloris_neither_holds_its_connections_nor_stops_a_sign_in() {
    const HEADER_SECS: u64 = 2;
    let server = TestServer::start_with(|config| {
        config.limits.header_read_secs = HEADER_SECS;
        config.limits.max_connections = 1_000;
    })
    .await;
    let started = Instant::now();
    let attack: Vec<_> = (0..1_000)
        .map(|_| tokio::spawn(trickle(server.addr, ELSEWHERE, 4 * HEADER_SECS)))
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let signed_in = tokio::time::timeout(
        Duration::from_secs(3 * HEADER_SECS + 5),
        server.sign_in("dave", "dave"),
    )
    .await
    .expect("a sign-in during the attack is answered");
    assert!(signed_in.is_ok(), "dave signs in during the attack");
    let mut cut_off = 0;
    for connection in attack {
        cut_off += usize::from(connection.await.unwrap());
    }
    assert_eq!(cut_off, 1_000, "every trickling connection was closed");
    assert!(started.elapsed() < Duration::from_secs(4 * HEADER_SECS + 3));
}

#[tokio::test]
async fn an_oversized_body_is_refused_and_changes_nothing() {
    let server = TestServer::start().await;
    let huge = format!(
        r#"{{"username":"alice","password":"{}"}}"#,
        "x".repeat(1 << 20)
    );
    let response = server
        .http()
        .post(server.url("/api/session"))
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
}

#[tokio::test]
async fn parallel_wrong_passwords_are_throttled_like_sequential_ones() {
    let server = TestServer::start().await;
    let guesses = (0..500).map(|n| {
        let server = &server;
        async move {
            server
                .sign_in_response("alice", &format!("guess{n}"))
                .await
                .status()
        }
    });
    let statuses = futures_util::future::join_all(guesses).await;
    let checked = statuses.iter().filter(|s| s.as_u16() == 401).count();
    let throttled = statuses.iter().filter(|s| s.as_u16() == 429).count();
    assert_eq!(checked + throttled, 500, "{statuses:?}");
    assert!(checked <= 5, "{checked} passwords were checked");
}

#[tokio::test]
async fn wrong_passwords_from_one_address_do_not_lock_the_user_out_elsewhere() {
    let server = TestServer::start().await;
    for n in 0..6 {
        server.sign_in_response("bob", &format!("guess{n}")).await;
    }
    let here = server.sign_in_response("bob", "bob").await;
    assert_eq!(here.status(), 429, "the guessing address waits");
    let elsewhere = reqwest::Client::builder()
        .local_address(ELSEWHERE)
        .build()
        .unwrap()
        .post(server.url("/api/session"))
        .json(&serde_json::json!({"username": "bob", "password": "bob"}))
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), 200, "Bob at his own desk signs in");
}

#[tokio::test]
async fn metrics_count_tasks_and_connections() {
    let server = TestServer::start().await;
    let (_alice, _) = server.connect("alice").await;
    let text = reqwest::get(server.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |name: &str| -> usize {
        let line = text.lines().find(|l| l.starts_with(name)).unwrap();
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert!(value("switchboard_tasks ") > 0, "{text}");
    assert_eq!(value("switchboard_connections "), 1, "{text}");
    assert_eq!(value("switchboard_users_online "), 1, "{text}");
}
