//! A minimal console: signs in over HTTP, opens `/ws`, sends and receives protocol frames.

use std::{net::SocketAddr, time::Duration};

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use switchboard_protocol::{ClientFrame, LoginRequest, PROTOCOL_VERSION, ServerFrame};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{Message, client::IntoClientRequest, http::HeaderValue},
};

/// Signs in and returns the session cookie (`name=value`).
pub async fn sign_in(addr: SocketAddr, username: &str, password: &str) -> anyhow::Result<String> {
    let response = reqwest::Client::new()
        .post(format!("http://{addr}/api/session"))
        .json(&LoginRequest {
            username: username.into(),
            password: password.into(),
        })
        .timeout(Duration::from_secs(10))
        .send()
        .await?;
    if !response.status().is_success() {
        bail!("sign-in of {username} answered {}", response.status());
    }
    let cookie = response
        .headers()
        .get("set-cookie")
        .context("no session cookie")?
        .to_str()?;
    Ok(cookie.split(';').next().unwrap_or_default().to_owned())
}

/// Signs out: ends the session of `cookie`, which closes its sockets (code 4001).
pub async fn sign_out(addr: SocketAddr, cookie: &str) -> anyhow::Result<()> {
    let response = reqwest::Client::new()
        .delete(format!("http://{addr}/api/session"))
        .header("cookie", cookie)
        .header("origin", format!("http://{addr}"))
        .timeout(Duration::from_secs(10))
        .send()
        .await?;
    if !response.status().is_success() {
        bail!("sign-out answered {}", response.status());
    }
    Ok(())
}

/// A random `client_msg_id` (a version 4 UUID, as a console makes for every message).
pub fn message_id(rng: &mut impl rand::Rng) -> String {
    let bits: u128 = rng.random();
    let hex = format!("{bits:032x}");
    format!(
        "{}-{}-4{}-8{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

/// One WebSocket connection, after `hello`.
pub struct Connection {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Connection {
    /// Opens `/ws` with the session cookie and says hello; returns the connection and the
    /// frames that came before the first `conversations_snapshot` (inclusive).
    pub async fn open(addr: SocketAddr, cookie: &str) -> anyhow::Result<(Self, Vec<ServerFrame>)> {
        let mut request = format!("ws://{addr}/ws").into_client_request()?;
        let headers = request.headers_mut();
        headers.insert("cookie", HeaderValue::from_str(cookie)?);
        headers.insert("origin", HeaderValue::from_str(&format!("http://{addr}"))?);
        let (socket, _) = tokio::time::timeout(
            Duration::from_secs(5),
            tokio_tungstenite::connect_async(request),
        )
        .await??;
        let mut connection = Connection { socket };
        connection
            .send(&ClientFrame::Hello {
                version: PROTOCOL_VERSION,
            })
            .await?;
        let mut frames = Vec::new();
        loop {
            let frame = connection
                .recv(Duration::from_secs(10))
                .await?
                .context("closed during hello")?;
            let done = matches!(frame, ServerFrame::ConversationsSnapshot { .. });
            frames.push(frame);
            if done {
                return Ok((connection, frames));
            }
        }
    }

    pub async fn send(&mut self, frame: &ClientFrame) -> anyhow::Result<()> {
        self.socket.send(Message::text(frame.encode())).await?;
        Ok(())
    }

    /// The next frame; `None` when the socket closed; an error after `wait` without one.
    pub async fn recv(&mut self, wait: Duration) -> anyhow::Result<Option<ServerFrame>> {
        loop {
            let message = tokio::time::timeout(wait, self.socket.next()).await?;
            match message {
                Some(Ok(Message::Text(text))) => return Ok(Some(ServerFrame::decode(&text)?)),
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return Ok(None),
                Some(Ok(_)) => continue,
            }
        }
    }
}
