//! A real server on 127.0.0.1:0 with the demo company, and clients that sign in and connect.

#![allow(dead_code)] // Each test file uses a different part of this helper module.

use std::{net::SocketAddr, time::Duration};

use futures_util::{SinkExt, StreamExt};
use switchboard_protocol::{ClientFrame, LoginRequest, PROTOCOL_VERSION, ServerFrame};
use switchboard_server::{AppState, Config};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{Message, client::IntoClientRequest, http::HeaderValue},
};
use tokio_util::sync::CancellationToken;

/// A running server; cancelled when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    pub state: AppState,
    db_dir: tempfile::TempDir,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.state.shutdown.cancel();
    }
}

impl TestServer {
    /// Starts a server with the demo company in a fresh database.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts a server with the demo company and the test configuration changed by `edit`.
    pub async fn start_with(edit: impl FnOnce(&mut Config)) -> Self {
        let db_dir = tempfile::tempdir().unwrap();
        Self::start_in(db_dir, edit).await
    }

    async fn start_in(db_dir: tempfile::TempDir, edit: impl FnOnce(&mut Config)) -> Self {
        let url = format!("sqlite://{}", db_dir.path().join("test.db").display());
        let mut config = Config::for_tests(&url, true);
        edit(&mut config);
        let state = switchboard_server::prepare(config, CancellationToken::new())
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(switchboard_server::run(listener, state.clone()));
        TestServer {
            addr,
            state,
            db_dir,
        }
    }

    /// Stops this server and starts another on the same database (a restart).
    pub async fn restart(mut self) -> Self {
        self.state.shutdown.cancel();
        let db_dir = std::mem::replace(&mut self.db_dir, tempfile::tempdir().unwrap());
        drop(self);
        Self::start_in(db_dir, |_| {}).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Signs in and returns the `name=value` of the session cookie.
    pub async fn sign_in(
        &self,
        username: &str,
        password: &str,
    ) -> Result<String, reqwest::Response> {
        let response = reqwest::Client::new()
            .post(self.url("/api/session"))
            .json(&LoginRequest {
                username: username.into(),
                password: password.into(),
            })
            .send()
            .await
            .unwrap();
        if !response.status().is_success() {
            return Err(response);
        }
        let cookie = response.headers()["set-cookie"].to_str().unwrap();
        Ok(cookie.split(';').next().unwrap().to_owned())
    }

    /// Calls the ingest API with the test token; `body` is sent as JSON when given.
    pub async fn ingest(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> reqwest::Response {
        let mut request = reqwest::Client::new()
            .request(method, self.url(path))
            .bearer_auth(switchboard_server::config::TEST_INGEST_TOKEN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    /// Opens `/ws` with the given cookie and origin; the handshake error on refusal.
    pub async fn open_ws(
        &self,
        cookie: Option<&str>,
        origin: Option<&str>,
    ) -> Result<Client, tokio_tungstenite::tungstenite::Error> {
        let mut request = format!("ws://{}/ws", self.addr)
            .into_client_request()
            .unwrap();
        if let Some(cookie) = cookie {
            request
                .headers_mut()
                .insert("cookie", HeaderValue::from_str(cookie).unwrap());
        }
        if let Some(origin) = origin {
            request
                .headers_mut()
                .insert("origin", HeaderValue::from_str(origin).unwrap());
        }
        let (socket, _) = tokio_tungstenite::connect_async(request).await?;
        Ok(Client { socket })
    }

    /// Signs in as `username` (password = user name), connects, says hello and reads the
    /// welcome and both snapshots.
    pub async fn connect(&self, username: &str) -> (Client, Vec<ServerFrame>) {
        let cookie = self.sign_in(username, username).await.unwrap();
        self.join(&cookie).await
    }

    /// Connects with an existing session cookie, says hello and reads the welcome and the
    /// directory, presence and calls snapshots.
    pub async fn join(&self, cookie: &str) -> (Client, Vec<ServerFrame>) {
        let origin = self.url("");
        let mut client = self.open_ws(Some(cookie), Some(&origin)).await.unwrap();
        client
            .send(&ClientFrame::Hello {
                version: PROTOCOL_VERSION,
            })
            .await;
        let mut frames = Vec::new();
        for _ in 0..5 {
            frames.push(client.recv().await);
        }
        (client, frames)
    }
}

/// A console's WebSocket, speaking the protocol.
pub struct Client {
    pub socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Client {
    pub async fn send(&mut self, frame: &ClientFrame) {
        self.send_text(&frame.encode()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.socket.send(Message::text(text)).await.unwrap();
    }

    /// The next server frame (pings skipped); panics after 5 s.
    pub async fn recv(&mut self) -> ServerFrame {
        loop {
            match self.next_message().await {
                Some(Message::Text(text)) => return ServerFrame::decode(&text).unwrap(),
                Some(Message::Ping(_) | Message::Pong(_)) => continue,
                other => panic!("expected a frame, got {other:?}"),
            }
        }
    }

    /// Reads past any frames until the server closes the socket; its close code, if any.
    pub async fn close_code(&mut self) -> Option<u16> {
        loop {
            match self.next_message().await {
                Some(Message::Close(frame)) => return frame.map(|f| f.code.into()),
                Some(_) => continue,
                None => return None,
            }
        }
    }

    /// The next WebSocket message, `None` when the socket closed; panics after 5 s.
    pub async fn next_message(&mut self) -> Option<Message> {
        tokio::time::timeout(Duration::from_secs(5), self.socket.next())
            .await
            .expect("no message within 5 s")
            .and_then(Result::ok)
    }
}
