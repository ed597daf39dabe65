//! A real server on 127.0.0.1:0 with the demo company, and clients that sign in and connect,
//! over plain HTTP or over HTTPS with a certificate made for the test.

#![allow(dead_code)] // Each test file uses a different part of this helper module.

pub mod cluster;
pub mod debian;
pub mod prosody;
pub mod slapd;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use futures_util::{SinkExt, StreamExt};
use switchboard_protocol::{ClientFrame, LoginRequest, PROTOCOL_VERSION, ServerFrame};
use switchboard_server::{AppState, Config, tls::Tls};
use tokio::net::TcpStream;
use tokio_rustls::rustls::{self, RootCertStore, crypto::ring, pki_types::CertificateDer};
use tokio_tungstenite::{
    Connector, MaybeTlsStream, WebSocketStream,
    tungstenite::{Message, client::IntoClientRequest, http::HeaderValue},
};
use tokio_util::sync::CancellationToken;

/// A running server; cancelled when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    pub state: AppState,
    db_dir: tempfile::TempDir,
    /// The server's database: SQLite in `db_dir`, or a fresh PostgreSQL database (see
    /// [`database_url`]).
    pub database_url: String,
    /// With [`TestServer::start_tls`]: the server's self-signed certificate, which the test's
    /// clients trust.
    pub certificate: Option<CertificateDer<'static>>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.state.shutdown.cancel();
    }
}

/// Runs `switchboard-server ARGS...`; its stdout, or its stdout and stderr when it fails.
pub fn run_command(args: &[&str]) -> Result<String, String> {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard-server"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        Ok(stdout)
    } else {
        Err(format!(
            "{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// Where the PostgreSQL cluster of this test run is, when the suite runs on PostgreSQL
/// (`make rust-test` runs it once on SQLite, then on a throwaway cluster through the load
/// generator's `with_cluster`).
pub const POSTGRES_ENV: &str = "SWITCHBOARD_TEST_POSTGRES";

/// A fresh database for one test server: SQLite in `dir`, or a new database on the cluster of
/// [`POSTGRES_ENV`].
pub async fn database_url(dir: &tempfile::TempDir) -> String {
    let Ok(cluster) = std::env::var(POSTGRES_ENV) else {
        return format!("sqlite://{}", dir.path().join("test.db").display());
    };
    use sqlx::Connection;
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let number = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!("test_{}_{number}", std::process::id());
    let mut admin = sqlx::PgConnection::connect(&cluster)
        .await
        .expect("connecting to the test PostgreSQL cluster");
    sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("CREATE DATABASE");
    let base = cluster.rsplit_once('/').expect("a database in the URL").0;
    format!("{base}/{name}")
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

    /// Starts a server speaking HTTPS, with a self-signed certificate for 127.0.0.1 and
    /// localhost read from PEM files as `--tls-cert` and `--tls-key` are.
    pub async fn start_tls() -> Self {
        let db_dir = tempfile::tempdir().unwrap();
        let names = ["127.0.0.1".to_owned(), "localhost".to_owned()];
        let made = rcgen::generate_simple_self_signed(names).unwrap();
        let cert = db_dir.path().join("cert.pem");
        let key = db_dir.path().join("key.pem");
        std::fs::write(&cert, made.cert.pem()).unwrap();
        std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
        let tls = Tls::load(&cert, &key).unwrap();
        let mut server = Self::start_in(db_dir, |config| config.tls = Some(tls)).await;
        server.certificate = Some(made.cert.der().clone());
        server
    }

    async fn start_in(db_dir: tempfile::TempDir, edit: impl FnOnce(&mut Config)) -> Self {
        let url = database_url(&db_dir).await;
        Self::start_on(db_dir, url, edit).await
    }

    /// Starts a server (a node) on an existing database, e.g. one of several on PostgreSQL.
    pub async fn start_node(database_url: String, edit: impl FnOnce(&mut Config)) -> Self {
        Self::start_on(tempfile::tempdir().unwrap(), database_url, edit).await
    }

    async fn start_on(
        db_dir: tempfile::TempDir,
        database_url: String,
        edit: impl FnOnce(&mut Config),
    ) -> Self {
        let mut config = Config::for_tests(&database_url, true);
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
            database_url,
            certificate: None,
        }
    }

    /// Stops this server and starts another on the same database (a restart).
    pub async fn restart(self) -> Self {
        self.restart_with(|_| {}).await
    }

    /// [`TestServer::restart`] with the test configuration changed by `edit`.
    pub async fn restart_with(mut self, edit: impl FnOnce(&mut Config)) -> Self {
        self.state.shutdown.cancel();
        let db_dir = std::mem::replace(&mut self.db_dir, tempfile::tempdir().unwrap());
        let url = std::mem::take(&mut self.database_url);
        drop(self);
        Self::start_on(db_dir, url, edit).await
    }

    pub fn url(&self, path: &str) -> String {
        let scheme = if self.certificate.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}{path}", self.addr)
    }

    /// rustls settings of a client that trusts only this server's certificate.
    fn tls_client(&self) -> Option<rustls::ClientConfig> {
        let certificate = self.certificate.clone()?;
        let mut roots = RootCertStore::empty();
        roots.add(certificate).unwrap();
        let config =
            rustls::ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth();
        Some(config)
    }

    /// An HTTP client for this server (trusting its certificate when it speaks HTTPS).
    pub fn http(&self) -> reqwest::Client {
        match self.tls_client() {
            Some(tls) => reqwest::Client::builder()
                .use_preconfigured_tls(tls)
                .build()
                .unwrap(),
            None => reqwest::Client::new(),
        }
    }

    /// `POST /api/session` with these credentials: the answer as it came.
    pub async fn sign_in_response(&self, username: &str, password: &str) -> reqwest::Response {
        self.http()
            .post(self.url("/api/session"))
            .json(&LoginRequest {
                username: username.into(),
                password: password.into(),
            })
            .send()
            .await
            .unwrap()
    }

    /// Signs in and returns the `name=value` of the session cookie.
    pub async fn sign_in(
        &self,
        username: &str,
        password: &str,
    ) -> Result<String, reqwest::Response> {
        let response = self.sign_in_response(username, password).await;
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
        let mut request = self
            .http()
            .request(method, self.url(path))
            .bearer_auth(switchboard_server::config::TEST_INGEST_TOKEN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    /// The whole call event feed, as a PBX integration reads it.
    pub async fn feed(&self) -> Vec<serde_json::Value> {
        let feed: serde_json::Value = self
            .ingest(reqwest::Method::GET, "/api/calls/events?after=0", None)
            .await
            .json()
            .await
            .unwrap();
        feed["events"].as_array().unwrap().clone()
    }

    /// Opens `/ws` with the given cookie and origin; the handshake error on refusal.
    pub async fn open_ws(
        &self,
        cookie: Option<&str>,
        origin: Option<&str>,
    ) -> Result<Client, tokio_tungstenite::tungstenite::Error> {
        let mut request = self
            .url("/ws")
            .replacen("http", "ws", 1)
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
        let connector = self
            .tls_client()
            .map(|tls| Connector::Rustls(Arc::new(tls)));
        let (socket, _) =
            tokio_tungstenite::connect_async_tls_with_config(request, None, false, connector)
                .await?;
        Ok(Client { socket })
    }

    /// Signs in as `username` (password = user name), connects, says hello and reads the
    /// welcome and both snapshots.
    pub async fn connect(&self, username: &str) -> (Client, Vec<ServerFrame>) {
        let cookie = self.sign_in(username, username).await.unwrap();
        self.join(&cookie).await
    }

    /// Connects with an existing session cookie, says hello and reads the frames of the
    /// hello exchange: welcome, directory and presence (their pages joined into one each),
    /// for operators the calls and notes snapshots, and last the chat list.
    pub async fn join(&self, cookie: &str) -> (Client, Vec<ServerFrame>) {
        let origin = self.url("");
        let mut client = self.open_ws(Some(cookie), Some(&origin)).await.unwrap();
        client
            .send(&ClientFrame::Hello {
                version: PROTOCOL_VERSION,
            })
            .await;
        let mut frames = vec![client.recv().await];
        // The server sends presence, then the directory; tests read them in the order
        // welcome, directory, presence.
        let presence = client
            .pages(|frame| match frame {
                ServerFrame::PresenceSnapshot { presence, more } => Some((presence, more)),
                _ => None,
            })
            .await;
        let entries = client
            .pages(|frame| match frame {
                ServerFrame::DirectorySnapshot { entries, more } => Some((entries, more)),
                _ => None,
            })
            .await;
        frames.push(ServerFrame::DirectorySnapshot {
            entries,
            more: false,
        });
        frames.push(ServerFrame::PresenceSnapshot {
            presence,
            more: false,
        });
        loop {
            let frame = client.recv().await;
            let last = matches!(frame, ServerFrame::ConversationsSnapshot { .. });
            frames.push(frame);
            if last {
                return (client, frames);
            }
        }
    }
}

/// The value of a response header as text; empty when absent.
pub fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
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

    /// Reads the pages of a snapshot (`page` splits a frame into its items and `more`, or
    /// gives `None` for a frame of another kind) and returns their items; panics on another
    /// frame before the page with `more` false.
    pub async fn pages<T>(
        &mut self,
        page: impl Fn(ServerFrame) -> Option<(Vec<T>, bool)>,
    ) -> Vec<T> {
        let mut items = Vec::new();
        loop {
            match page(self.recv().await) {
                Some((more_items, more)) => {
                    items.extend(more_items);
                    if !more {
                        return items;
                    }
                }
                None => panic!("another frame came before the snapshot's page with more = false"),
            }
        }
    }

    /// Reads frames until `wanted` picks one, skipping others; panics after 100 frames or
    /// when a frame takes over 5 s.
    pub async fn recv_until<T>(&mut self, mut wanted: impl FnMut(ServerFrame) -> Option<T>) -> T {
        for _ in 0..100 {
            if let Some(found) = wanted(self.recv().await) {
                return found;
            }
        }
        panic!("the awaited frame did not come within 100 frames")
    }

    /// The next `error` frame (other frames skipped): its code and message.
    pub async fn refusal(&mut self) -> (switchboard_protocol::ErrorCode, String) {
        self.recv_until(|frame| match frame {
            ServerFrame::Error { code, message } => Some((code, message)),
            _ => None,
        })
        .await
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
