//! The bare WebSocket relay the benchmarks compare Switchboard against: the same frames, no
//! sign-in, no storage. A `chat_send` is acknowledged at once and its `chat_message` goes to
//! every connection of both parties; a `set_presence` is encoded once and sent to everyone.
//! A connection names its user in the URL (`/ws?user=7`).

use std::{
    collections::HashMap,
    net::SocketAddr,
    path::PathBuf,
    process::Stdio,
    sync::{
        Arc, Mutex,
        atomic::{AtomicI64, AtomicU64, Ordering},
    },
    time::Duration,
};

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use switchboard_protocol::{ChatMessage, ClientFrame, PresenceUpdate, ServerFrame, UserId};
use tokio::{
    net::{TcpListener, TcpStream},
    process::{Child, Command},
    sync::{broadcast, mpsc},
};
use tokio_tungstenite::tungstenite::{
    Message, Utf8Bytes,
    handshake::server::{Request, Response},
};

/// Frames a connection may lag behind the fan-out before it is dropped (as in the server).
const FAN_OUT_QUEUE: usize = 4096;
/// Frames addressed to one connection that may wait before it is dropped (as in the server).
const DIRECT_QUEUE: usize = 1024;

/// The open connections of one user: id and queue of each.
type Connections = Vec<(u64, mpsc::Sender<Utf8Bytes>)>;

/// The relay's connections per user and its fan-out channel.
struct Relay {
    users: Mutex<HashMap<UserId, Connections>>,
    everyone: broadcast::Sender<Utf8Bytes>,
    next_conn: AtomicU64,
    next_message: AtomicI64,
}

impl Relay {
    fn send_to_user(&self, user: UserId, frame: &Utf8Bytes) {
        let users = self.users.lock().unwrap_or_else(|p| p.into_inner());
        for (_, conn) in users.get(&user).into_iter().flatten() {
            // A full queue drops the frame; the reader notices the gap (as a lost message).
            let _ = conn.try_send(frame.clone());
        }
    }

    fn leave(&self, user: UserId, id: u64) {
        let mut users = self.users.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(conns) = users.get_mut(&user) {
            conns.retain(|(other, _)| *other != id);
            if conns.is_empty() {
                users.remove(&user);
            }
        }
    }
}

/// Serves the relay on `listener` until the process ends.
pub async fn serve(listener: TcpListener) -> anyhow::Result<()> {
    let relay = Arc::new(Relay {
        users: Mutex::default(),
        everyone: broadcast::channel(FAN_OUT_QUEUE).0,
        next_conn: AtomicU64::new(1),
        next_message: AtomicI64::new(1),
    });
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(connection(relay.clone(), stream));
    }
}

/// The user a request names in `?user=`.
fn user_of(request: &Request) -> Option<UserId> {
    request
        .uri()
        .query()?
        .split('&')
        .find_map(|pair| pair.strip_prefix("user="))?
        .parse()
        .ok()
}

async fn connection(relay: Arc<Relay>, stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut user = None;
    // The error type is tungstenite's (an HTTP response); this callback never fails.
    #[allow(clippy::result_large_err)]
    let callback = |request: &Request, response: Response| {
        user = user_of(request);
        Ok(response)
    };
    let Ok(socket) = tokio_tungstenite::accept_hdr_async_with_config(
        stream,
        callback,
        Some(crate::harness::config()),
    )
    .await
    else {
        return;
    };
    let Some(user) = user else {
        return;
    };
    let (mut sink, mut stream) = socket.split();
    let id = relay.next_conn.fetch_add(1, Ordering::Relaxed);
    let (direct_tx, mut direct) = mpsc::channel(DIRECT_QUEUE);
    let mut events = relay.everyone.subscribe();
    relay
        .users
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(user)
        .or_default()
        .push((id, direct_tx));
    loop {
        let sent = tokio::select! {
            frame = events.recv() => match frame {
                Ok(frame) => sink.send(Message::Text(frame)).await,
                Err(_) => break,
            },
            frame = direct.recv() => match frame {
                Some(frame) => sink.send(Message::Text(frame)).await,
                None => break,
            },
            message = stream.next() => match message {
                Some(Ok(Message::Text(text))) => match handle(&relay, user, &text) {
                    Some(reply) => sink.send(Message::Text(reply)).await,
                    None => Ok(()),
                },
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => Ok(()),
            },
        };
        if sent.is_err() {
            break;
        }
    }
    relay.leave(user, id);
}

/// Applies one frame; returns the reply to its sender, if any.
fn handle(relay: &Relay, user: UserId, text: &str) -> Option<Utf8Bytes> {
    match ClientFrame::decode(text).ok()? {
        // What the harness waits for after hello.
        ClientFrame::Hello { .. } => Some(
            ServerFrame::ConversationsSnapshot {
                conversations: Vec::new(),
            }
            .encode()
            .into(),
        ),
        ClientFrame::ChatSend {
            client_msg_id,
            to,
            body,
        } => {
            let id = relay.next_message.fetch_add(1, Ordering::Relaxed);
            let sent_at_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64);
            let ack = ServerFrame::ChatAck {
                client_msg_id: client_msg_id.clone(),
                id,
                conversation: 0,
                seq: id,
                sent_at_ms,
            };
            let message = ServerFrame::ChatMessage(ChatMessage {
                id,
                conversation: 0,
                seq: id,
                from: user,
                to,
                body,
                sent_at_ms,
                client_msg_id,
            });
            let frame: Utf8Bytes = message.encode().into();
            relay.send_to_user(user, &frame);
            relay.send_to_user(to, &frame);
            Some(ack.encode().into())
        }
        ClientFrame::SetPresence { state } => {
            let frame = ServerFrame::Presence(PresenceUpdate { user, state }).encode();
            let _ = relay.everyone.send(frame.into());
            None
        }
        _ => None,
    }
}

/// The relay in its own process (as the server is), so that both are measured alike; killed
/// when dropped.
pub struct RelayProcess {
    pub addr: SocketAddr,
    child: Child,
}

impl RelayProcess {
    /// Starts `program relay --listen <addr>` on a free port of 127.0.0.1 and waits (at most
    /// 10 s) until it accepts connections.
    pub async fn launch(program: PathBuf) -> anyhow::Result<Self> {
        let addr = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let child = Command::new(&program)
            .arg("relay")
            .arg("--listen")
            .arg(addr.to_string())
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {} relay", program.display()))?;
        for _ in 0..100 {
            if TcpStream::connect(addr).await.is_ok() {
                return Ok(RelayProcess { addr, child });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("the relay did not accept connections within 10 s")
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

    type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

    async fn connect(addr: SocketAddr, user: UserId) -> Socket {
        let url = format!("ws://{addr}/ws?user={user}");
        let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let hello = ClientFrame::Hello { version: 1 }.encode();
        socket.send(Message::text(hello)).await.unwrap();
        assert!(matches!(
            next(&mut socket).await,
            ServerFrame::ConversationsSnapshot { .. }
        ));
        socket
    }

    async fn next(socket: &mut Socket) -> ServerFrame {
        let wait = Duration::from_secs(5);
        loop {
            let message = tokio::time::timeout(wait, socket.next()).await.unwrap();
            if let Some(Ok(Message::Text(text))) = message {
                return ServerFrame::decode(&text).unwrap();
            }
        }
    }

    #[tokio::test]
    async fn acknowledges_forwards_and_fans_out() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(serve(listener));
        let mut alice = connect(addr, 1).await;
        let mut bob = connect(addr, 2).await;
        let send = ClientFrame::ChatSend {
            client_msg_id: "m1".into(),
            to: 2,
            body: "hi".into(),
        };
        alice.send(Message::text(send.encode())).await.unwrap();
        let mut seen = [next(&mut alice).await, next(&mut alice).await];
        seen.sort_by_key(|frame| matches!(frame, ServerFrame::ChatAck { .. }));
        assert!(matches!(&seen[0], ServerFrame::ChatMessage(m) if m.from == 1 && m.to == 2));
        assert!(
            matches!(&seen[1], ServerFrame::ChatAck { client_msg_id, .. } if client_msg_id == "m1")
        );
        assert!(matches!(next(&mut bob).await, ServerFrame::ChatMessage(m) if m.body == "hi"));

        let busy = ClientFrame::SetPresence {
            state: switchboard_protocol::PresenceState::Busy,
        };
        bob.send(Message::text(busy.encode())).await.unwrap();
        for socket in [&mut alice, &mut bob] {
            assert!(matches!(next(socket).await, ServerFrame::Presence(p) if p.user == 2));
        }
    }
}
