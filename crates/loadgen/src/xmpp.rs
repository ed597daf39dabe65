//! The XMPP side of the federation tests and the federation chaos test: a throwaway Prosody
//! (Debian's, as `tests/xmpp/prosody.py` runs it: 127.0.0.1, a temp dir, a virtual host
//! `localhost` with test users, offline storage, the component `switchboard.localhost`; never
//! the system service; killed when dropped), and XMPP users in a standard client library
//! (slixmpp, `tests/xmpp/scripted_client.py`). Test tools: they panic when the XMPP side
//! misbehaves.

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::json;

use crate::cluster::free_port;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Debian's Prosody.
pub const PROSODY: &str = "/usr/bin/prosody";
/// Debian's Python, which sees Debian's python3-slixmpp.
const PYTHON: &str = "/usr/bin/python3";
/// Debian's python3-slixmpp.
pub const SLIXMPP: &str = "/usr/lib/python3/dist-packages/slixmpp/__init__.py";
const SCRIPTED_CLIENT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/xmpp/scripted_client.py"
);
const PROSODY_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/xmpp/prosody.py");
/// The XMPP server's own domain, where its users are.
pub const HOST: &str = "localhost";
/// The component's domain: Switchboard users are `name@switchboard.localhost`.
pub const COMPONENT: &str = "switchboard.localhost";
/// Longest wait for Prosody to listen after it was started.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// A running Prosody; killed when dropped or [stopped](Prosody::stop).
pub struct Prosody {
    dir: tempfile::TempDir,
    child: Option<Child>,
    pub c2s_port: u16,
    pub component_port: u16,
}

impl Drop for Prosody {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Prosody {
    /// Starts Prosody with the users `names` (password = name) and waits until it listens.
    pub async fn start(names: &[&str]) -> Self {
        let mut prosody = Prosody {
            dir: tempfile::tempdir().unwrap(),
            child: None,
            c2s_port: free_port(),
            component_port: free_port(),
        };
        prosody.run(&names.join(",")).await;
        prosody
    }

    /// Starts the Prosody process again on the same ports and data (a restart).
    pub async fn restart(&mut self) {
        self.run("").await;
    }

    async fn run(&mut self, users: &str) {
        let root = self.dir.path();
        let log = std::fs::File::create(root.join("prosody.out")).unwrap();
        let child = Command::new(PYTHON)
            .arg(PROSODY_SCRIPT)
            .arg("--dir")
            .arg(root)
            .args(["--c2s-port", &self.c2s_port.to_string()])
            .args(["--component-port", &self.component_port.to_string()])
            .args(["--users", users])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("prosody starts");
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        for port in [self.c2s_port, self.component_port] {
            while tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_err()
            {
                assert!(
                    Instant::now() < deadline,
                    "prosody did not listen within {START_TIMEOUT:?}: {}",
                    self.log()
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    /// Kills Prosody at once (SIGKILL); its data stays until this is dropped.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// What Prosody wrote to its log and its console.
    pub fn log(&self) -> String {
        let read =
            |name: &str| std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        format!("{}\n{}", read("prosody.out"), read("prosody.log"))
    }

    /// The file holding the component secret.
    pub fn secret_file(&self) -> PathBuf {
        self.dir.path().join("secret")
    }

    /// Signs in as `name` (password = name) in the scripted client and waits until it is
    /// online.
    pub async fn client(&self, name: &str) -> XmppClient {
        XmppClient::connect(self.c2s_port, name)
            .await
            .unwrap_or_else(|why| panic!("{why}: {}", self.log()))
    }
}

/// An XMPP user in a standard client library (`tests/xmpp/scripted_client.py`): it approves
/// presence subscriptions, sends what it is told and reports what it receives.
pub struct XmppClient {
    pub jid: String,
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    events: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
}

/// A message the scripted client received.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct XmppMessage {
    pub from: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Option<String>,
    pub origin_id: Option<String>,
    pub body: Option<String>,
    pub received: Option<String>,
    pub displayed: Option<String>,
    pub composing: bool,
    pub error: Option<String>,
}

/// A presence the scripted client received: `kind` is available, away, xa, dnd, chat,
/// unavailable, subscribed...
#[derive(Debug, Clone, serde::Deserialize)]
pub struct XmppPresence {
    pub from: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// The address of Switchboard user `name` for XMPP users.
pub fn switchboard_user(name: &str) -> String {
    format!("{name}@{COMPONENT}")
}

impl XmppClient {
    /// Signs in as `name` (password = name) on the XMPP server's client port `c2s_port` and
    /// waits (at most 15 s) until it is online.
    pub async fn connect(c2s_port: u16, name: &str) -> Result<XmppClient, String> {
        let jid = format!("{name}@{HOST}");
        let mut child = tokio::process::Command::new(PYTHON)
            .arg(SCRIPTED_CLIENT)
            .args(["--jid", &jid, "--password", name])
            .arg("--server")
            .arg(format!("127.0.0.1:{c2s_port}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("the scripted XMPP client starts");
        let stdin = child.stdin.take().unwrap();
        let events = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut client = XmppClient {
            jid,
            child,
            stdin,
            events,
        };
        let online = tokio::time::timeout(Duration::from_secs(15), async {
            loop {
                match client.event().await {
                    Some(event) if event["event"] == "online" => return true,
                    Some(_) => {}
                    None => return false,
                }
            }
        })
        .await;
        match online {
            Ok(true) => Ok(client),
            Ok(false) => Err(format!(
                "the XMPP client of {name} stopped before it was online"
            )),
            Err(_) => Err(format!(
                "the XMPP client of {name} was not online within 15 s"
            )),
        }
    }

    async fn command(&mut self, command: serde_json::Value) {
        let mut line = command.to_string();
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).await.unwrap();
        self.stdin.flush().await.unwrap();
    }

    async fn event(&mut self) -> Option<serde_json::Value> {
        let line = self.events.next_line().await.ok()??;
        Some(serde_json::from_str(&line).expect("the scripted client writes JSON lines"))
    }

    /// Says it is available (with `show`: away, xa, dnd, chat).
    pub async fn presence(&mut self, show: Option<&str>) {
        self.command(json!({ "presence": { "show": show } })).await;
    }

    /// Sends a chat message with `id` (as stanza id and origin-id), asking for a receipt and
    /// marking it markable, as Conversations or Dino do.
    pub async fn say(&mut self, to: &str, id: &str, body: &str) {
        self.command(json!({ "say": { "to": to, "id": id, "body": body } }))
            .await;
    }

    /// Sends a message with one payload and no body (a receipt, a marker, a chat state).
    pub async fn signal(&mut self, to: &str, xml: &str) {
        self.command(json!({ "signal": { "to": to, "xml": xml } }))
            .await;
    }

    /// Sends raw XML on its stream.
    pub async fn raw(&mut self, xml: &str) {
        self.command(json!({ "raw": xml })).await;
    }

    /// The next message that `wanted` takes, within `within`.
    pub async fn expect<T>(
        &mut self,
        within: Duration,
        wanted: impl FnMut(&XmppMessage) -> Option<T>,
    ) -> T {
        self.expect_event("message", within, wanted).await
    }

    /// The next presence that `wanted` takes, within `within`.
    pub async fn expect_presence<T>(
        &mut self,
        within: Duration,
        wanted: impl FnMut(&XmppPresence) -> Option<T>,
    ) -> T {
        self.expect_event("presence", within, wanted).await
    }

    async fn expect_event<E: serde::de::DeserializeOwned, T>(
        &mut self,
        kind: &str,
        within: Duration,
        mut wanted: impl FnMut(&E) -> Option<T>,
    ) -> T {
        let jid = self.jid.clone();
        tokio::time::timeout(within, async {
            loop {
                let Some(event) = self.event().await else {
                    panic!("{jid}: the client stopped");
                };
                if event["event"] == kind {
                    let event: E = serde_json::from_value(event).unwrap();
                    if let Some(found) = wanted(&event) {
                        return found;
                    }
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{jid}: no {kind} wanted within {within:?}"))
    }

    /// Asks to see `to`'s presence.
    pub async fn subscribe(&mut self, to: &str) {
        self.command(json!({ "subscribe": { "to": to } })).await;
    }

    /// The next message, if one comes within `within` (`None` also when the client ended).
    /// Cancel-safe: nothing is lost when the wait is dropped.
    pub async fn next_message(&mut self, within: Duration) -> Option<XmppMessage> {
        tokio::time::timeout(within, async {
            while let Some(event) = self.event().await {
                if event["event"] == "message" {
                    return serde_json::from_value(event).ok();
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
    }

    /// Every message received within `within`.
    pub async fn collect(&mut self, within: Duration) -> Vec<XmppMessage> {
        let mut messages = Vec::new();
        let _ = tokio::time::timeout(within, async {
            while let Some(event) = self.event().await {
                if event["event"] == "message" {
                    messages.push(serde_json::from_value(event).unwrap());
                }
            }
        })
        .await;
        messages
    }

    /// Signs out and waits for the client to end.
    pub async fn quit(mut self) {
        self.command(json!({ "quit": true })).await;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
    }
}

/// A Switchboard server process linked to a fresh Prosody, for the chaos test and the
/// benchmark: accounts `bench1..` (`--bench-users`), XMPP users `x1..` in Prosody who are
/// federated contacts in the directory (imported with the server's `directory import`).
pub struct Federation {
    pub prosody: Prosody,
    pub server: crate::server::ServerProcess,
    /// The federated contacts' user ids, `x1` first.
    pub contacts: Vec<switchboard_protocol::UserId>,
    _data: tempfile::TempDir,
}

impl Federation {
    /// Starts both servers, loads the directory and waits until the link is up and the
    /// running server knows the contacts.
    pub async fn start(
        server_bin: &std::path::Path,
        bench_users: u32,
        contacts: u32,
    ) -> anyhow::Result<Self> {
        use anyhow::Context;
        let data = tempfile::tempdir()?;
        let names: Vec<String> = (1..=contacts).map(|n| format!("x{n}")).collect();
        let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let prosody = Prosody::start(&name_refs).await;
        let config = data.path().join("switchboard.toml");
        std::fs::write(
            &config,
            format!(
                "[xmpp]\ndomain = \"{COMPONENT}\"\nserver = \"127.0.0.1:{}\"\nsecret_file = \"{}\"\n",
                prosody.component_port,
                prosody.secret_file().display()
            ),
        )?;
        let config_arg = config.display().to_string();
        let server = crate::server::ServerProcess::launch(
            server_bin.to_owned(),
            data.path().join("data"),
            &[
                "--bench-users",
                &bench_users.to_string(),
                "--config",
                &config_arg,
            ],
        )
        .await?;
        let mut csv = String::from("id,name,username,xmpp\n");
        for n in 1..=bench_users {
            csv += &format!("b{n},Bench User {n},bench{n},\n");
        }
        for n in 1..=contacts {
            csv += &format!("x{n},XMPP User {n},,x{n}@{HOST}\n");
        }
        let csv_path = data.path().join("directory.csv");
        std::fs::write(&csv_path, csv)?;
        let status = std::process::Command::new(server_bin)
            .arg("--data-dir")
            .arg(&server.data_dir)
            .args(["directory", "import"])
            .arg(&csv_path)
            .stdout(Stdio::null())
            .status()?;
        anyhow::ensure!(status.success(), "directory import failed: {status}");
        let db = sqlx::SqlitePool::connect(&server.database_url()).await?;
        let mut ids = Vec::new();
        for n in 1..=contacts {
            let id = sqlx::query_scalar("SELECT id FROM users WHERE xmpp = ?")
                .bind(format!("x{n}@{HOST}"))
                .fetch_one(&db)
                .await
                .context("a federated contact is missing")?;
            ids.push(id);
        }
        db.close().await;
        let federation = Federation {
            prosody,
            server,
            contacts: ids,
            _data: data,
        };
        wait_for_link(&federation.server).await?;
        // The import reaches the running server through its change feed (300 ms).
        tokio::time::sleep(Duration::from_secs(1)).await;
        Ok(federation)
    }
}

/// Waits (at most 30 s) until `server`'s `/healthz` says the XMPP link is up.
pub async fn wait_for_link(server: &crate::server::ServerProcess) -> anyhow::Result<()> {
    let url = format!("http://{}/healthz", server.addr);
    for _ in 0..300 {
        if let Ok(response) = reqwest::get(&url).await
            && response
                .text()
                .await
                .is_ok_and(|text| text.contains("xmpp link: up"))
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("the XMPP link did not come up within 30 s")
}
