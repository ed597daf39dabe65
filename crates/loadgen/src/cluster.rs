//! The servers several Switchboard nodes share, for the tests, the chaos test and the
//! benchmarks: a throwaway PostgreSQL cluster and a throwaway nats-server (Debian's), each its
//! own process on 127.0.0.1 with its data in a temp dir, never the system services; killed
//! when dropped. Test tools: they panic when a server does not start.

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// Debian's PostgreSQL programs (the version bookworm ships).
pub const POSTGRES_BIN: &str = "/usr/lib/postgresql/15/bin";
/// Debian's nats-server.
pub const NATS_SERVER: &str = "/usr/sbin/nats-server";
/// Longest wait for a server to listen after it was started.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// The PostgreSQL role the tests connect as (trust authentication on 127.0.0.1 only).
const ROLE: &str = "switchboard";

/// A running PostgreSQL cluster; stopped when dropped.
pub struct Postgres {
    dir: tempfile::TempDir,
    child: Option<Child>,
    pub port: u16,
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Postgres {
    /// Creates a cluster in a temp dir (`initdb`) and starts it; waits until it answers.
    /// PostgreSQL refuses to run as root: as root, the cluster belongs to the `postgres`
    /// account Debian's package creates.
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        if is_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .expect("chown runs");
            assert!(status.success(), "chown of the PostgreSQL dir failed");
        }
        let out = as_postgres(&Path::new(POSTGRES_BIN).join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-U", ROLE, "-A", "trust", "-E", "UTF8", "--no-sync"])
            .output()
            .expect("initdb runs");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut postgres = Postgres {
            dir,
            child: None,
            port: free_port(),
        };
        postgres.run().await;
        postgres
    }

    /// Starts the server process of the cluster (again, after [`Postgres::kill`]).
    pub async fn run(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("postgres.log")).unwrap();
        if is_root() {
            std::os::unix::fs::chown(
                self.dir.path().join("postgres.log"),
                Some(uid("postgres")),
                None,
            )
            .unwrap();
        }
        let child = as_postgres(&Path::new(POSTGRES_BIN).join("postgres"))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .arg("-k")
            .arg(self.dir.path())
            .args(["-c", "max_connections=300", "-c", "shared_buffers=128MB"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("postgres starts");
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let ready = Command::new(Path::new(POSTGRES_BIN).join("pg_isready"))
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", ROLE])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|status| status.success());
            if ready {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "PostgreSQL did not start within {START_TIMEOUT:?}: {}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Kills the server at once (SIGKILL); the data stays until this is dropped.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The URL of `database` on this cluster.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://{ROLE}@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates an empty database and returns its URL.
    pub async fn create_database(&self, name: &str) -> String {
        use sqlx::Connection;
        let mut admin = sqlx::PgConnection::connect(&self.url("postgres"))
            .await
            .expect("connecting to PostgreSQL");
        sqlx::raw_sql(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut admin)
            .await
            .expect("CREATE DATABASE");
        self.url(name)
    }

    /// What PostgreSQL wrote to its log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default()
    }
}

/// A running nats-server; killed when dropped.
pub struct Nats {
    dir: tempfile::TempDir,
    child: Option<Child>,
    pub port: u16,
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Nats {
    /// Starts nats-server on a free port of 127.0.0.1 and waits until it listens.
    pub async fn start() -> Self {
        let mut nats = Nats {
            dir: tempfile::tempdir().unwrap(),
            child: None,
            port: free_port(),
        };
        nats.run().await;
        nats
    }

    /// Starts the process (again, after [`Nats::kill`]) on the same port.
    pub async fn run(&mut self) {
        let log = self.dir.path().join("nats.log");
        let child = Command::new(NATS_SERVER)
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string()])
            .arg("-l")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server starts");
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "nats-server did not listen within {START_TIMEOUT:?}: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Kills nats-server at once (SIGKILL).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The URL nodes connect to.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }
}

fn is_root() -> bool {
    uid_of_self() == 0
}

fn uid_of_self() -> u32 {
    std::fs::metadata("/proc/self")
        .map_or(u32::MAX, |meta| std::os::unix::fs::MetadataExt::uid(&meta))
}

/// The uid of a system account.
fn uid(name: &str) -> u32 {
    let out = Command::new("id")
        .args(["-u", name])
        .output()
        .expect("id runs");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("no {name} account"))
}

/// `program` as the `postgres` account when this process is root, else as this user.
fn as_postgres(program: &Path) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}
