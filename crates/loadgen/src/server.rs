//! A real `switchboard-server` process on 127.0.0.1, with its own data directory, that can be
//! killed and started again on the same port and data.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use anyhow::{Context, bail};
use switchboard_protocol::UserId;
use tokio::process::{Child, Command};

/// Writes `bench.toml` into `dir`: limits high enough that what is measured is the server,
/// not its allowances (`rate` messages a second per user, `connections` consoles per user).
pub fn bench_config(dir: &Path, rate: u32, connections: usize) -> anyhow::Result<PathBuf> {
    let config = dir.join("bench.toml");
    std::fs::write(
        &config,
        format!(
            "[limits]\nmessages_per_second = {rate}\nmessage_burst = {rate}\n\
             connections_per_user = {connections}\n",
            rate = rate.max(1),
        ),
    )?;
    Ok(config)
}

/// A server process; killed when dropped.
pub struct ServerProcess {
    binary: PathBuf,
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    args: Vec<String>,
    child: Option<Child>,
}

impl ServerProcess {
    /// Picks a free port on 127.0.0.1 and starts the server with `args` added.
    pub async fn launch(binary: PathBuf, data_dir: PathBuf, args: &[&str]) -> anyhow::Result<Self> {
        let probe = std::net::TcpListener::bind("127.0.0.1:0")?;
        let addr = probe.local_addr()?;
        drop(probe);
        let mut server = ServerProcess {
            binary,
            addr,
            data_dir,
            args: args.iter().map(|a| a.to_string()).collect(),
            child: None,
        };
        server.start().await?;
        Ok(server)
    }

    /// Starts the process and waits (at most 30 s) until `/healthz` answers.
    pub async fn start(&mut self) -> anyhow::Result<()> {
        let child = Command::new(&self.binary)
            .arg("--listen")
            .arg(self.addr.to_string())
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(&self.args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", self.binary.display()))?;
        self.child = Some(child);
        let url = format!("http://{}/healthz", self.addr);
        for _ in 0..300 {
            if reqwest::get(&url)
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("the server did not become ready within 30 s")
    }

    /// The URL of the server's database: its `--database-url`, else the SQLite file in its
    /// data directory.
    pub fn database_url(&self) -> String {
        match self.args.iter().position(|arg| arg == "--database-url") {
            Some(at) => self.args[at + 1].clone(),
            None => format!(
                "sqlite://{}",
                self.data_dir.join("switchboard.db").display()
            ),
        }
    }

    /// Ids of the accounts `--bench-users` seeded, in order (bench1 first); only right for a
    /// fresh database, where they are the only bench accounts.
    pub async fn bench_user_ids(&self) -> anyhow::Result<Vec<UserId>> {
        let db = crate::database(&self.database_url()).await?;
        let ids =
            sqlx::query_scalar("SELECT id FROM users WHERE username LIKE 'bench%' ORDER BY id")
                .fetch_all(&db)
                .await;
        db.close().await;
        Ok(ids?)
    }

    /// The process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref()?.id()
    }

    /// Kills the process at once (SIGKILL: a crash, nothing is flushed).
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().await?;
        }
        Ok(())
    }
}
