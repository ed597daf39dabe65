//! A real Asterisk for the tests and benchmarks: the build of `scripts/asterisk.sh` (made
//! once into a cache outside the clone), started as its own process on 127.0.0.1 with the
//! configuration of `tests/asterisk/` in a temp dir; killed when dropped. Test callers are
//! Local channels originated into the test dialplan (no telephones needed). Test tools: they
//! panic when Asterisk does not start.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use crate::cluster::free_port;

/// The ARI user of the test configuration.
pub const USER: &str = "switchboard";
/// Its password.
pub const PASSWORD: &str = "test-ari-secret";
/// Longest wait for Asterisk to answer ARI after it was started.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The project's root (for `scripts/` and `tests/asterisk/`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Where Asterisk is installed: `scripts/asterisk.sh` builds it the first time (minutes,
/// with progress on standard error) and prints the prefix.
pub fn prefix() -> PathBuf {
    let out = Command::new(root().join("scripts/asterisk.sh"))
        .stderr(Stdio::inherit())
        .output()
        .expect("scripts/asterisk.sh runs");
    assert!(out.status.success(), "scripts/asterisk.sh failed");
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// A running Asterisk; killed when dropped.
pub struct Asterisk {
    dir: tempfile::TempDir,
    prefix: PathBuf,
    child: Option<Child>,
    pub port: u16,
    http: reqwest::Client,
}

impl Drop for Asterisk {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Asterisk {
    /// Writes the test configuration into a temp dir and starts Asterisk on a free port.
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let prefix = prefix();
        for sub in ["run", "log", "spool", "lib"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        let templates = root().join("tests/asterisk");
        for file in std::fs::read_dir(&templates).expect("tests/asterisk") {
            let path = file.unwrap().path();
            let text = std::fs::read_to_string(&path)
                .unwrap()
                .replace("@PREFIX@", &prefix.to_string_lossy())
                .replace("@CONF@", &dir.path().to_string_lossy())
                .replace("@PORT@", &port.to_string())
                .replace("@PASSWORD@", PASSWORD);
            std::fs::write(dir.path().join(path.file_name().unwrap()), text).unwrap();
        }
        let mut asterisk = Asterisk {
            dir,
            prefix,
            child: None,
            port,
            http: reqwest::Client::new(),
        };
        asterisk.run().await;
        asterisk
    }

    /// Starts the process (again, after [`Asterisk::kill`]) on the same port; waits until
    /// ARI answers.
    pub async fn run(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("log/console.log")).unwrap();
        let child = Command::new(self.prefix.join("sbin/asterisk"))
            .arg("-C")
            .arg(self.dir.path().join("asterisk.conf"))
            .args(["-f", "-n"])
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("asterisk starts");
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let info = self
                .http
                .get(format!("{}/ari/asterisk/info", self.url()))
                .basic_auth(USER, Some(PASSWORD))
                .send()
                .await;
            if info.is_ok_and(|response| response.status().is_success()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "Asterisk did not answer ARI within {START_TIMEOUT:?}: {}",
                std::fs::read_to_string(self.dir.path().join("log/console.log"))
                    .unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Kills Asterisk at once (SIGKILL): every call on it is gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Where ARI listens.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The configuration dir (its `log/` has what Asterisk logged).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    async fn ari(&self, method: reqwest::Method, path: &str) -> serde_json::Value {
        let response = self
            .http
            .request(method, format!("{}/ari{path}", self.url()))
            .basic_auth(USER, Some(PASSWORD))
            .send()
            .await
            .expect("ARI answers");
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert!(status.is_success(), "ARI {path}: {status} {body}");
        serde_json::from_str(&body).unwrap_or(serde_json::Value::Null)
    }

    /// A caller from `caller_id` (`"Jane Doe <5550100>"`) dials company line `dialled`;
    /// returns the id of the caller's own end, to hang up with.
    pub async fn call(&self, dialled: &str, caller_id: &str) -> String {
        let query = [
            ("endpoint", format!("Local/{dialled}@company")),
            ("context", "callers".into()),
            ("extension", "talk".into()),
            ("callerId", caller_id.into()),
        ];
        let query = serde_urlencoded(&query);
        let channel = self
            .ari(reqwest::Method::POST, &format!("/channels?{query}"))
            .await;
        channel["id"].as_str().expect("a channel id").to_owned()
    }

    /// Hangs a channel up (the caller puts the phone down).
    pub async fn hang_up(&self, channel: &str) {
        self.ari(reqwest::Method::DELETE, &format!("/channels/{channel}"))
            .await;
    }

    /// Every channel, as ARI lists them.
    pub async fn channels(&self) -> Vec<serde_json::Value> {
        match self.ari(reqwest::Method::GET, "/channels").await {
            serde_json::Value::Array(channels) => channels,
            _ => Vec::new(),
        }
    }

    /// Every bridge, as ARI lists them.
    pub async fn bridges(&self) -> Vec<serde_json::Value> {
        match self.ari(reqwest::Method::GET, "/bridges").await {
            serde_json::Value::Array(bridges) => bridges,
            _ => Vec::new(),
        }
    }

    /// The value of a global dialplan variable.
    pub async fn global(&self, name: &str) -> String {
        let query = serde_urlencoded(&[("variable", name.to_owned())]);
        let variable = self
            .ari(reqwest::Method::GET, &format!("/asterisk/variable?{query}"))
            .await;
        variable["value"].as_str().unwrap_or_default().to_owned()
    }
}

/// `key=value&…`, values percent-encoded.
fn serde_urlencoded(pairs: &[(&str, String)]) -> String {
    reqwest::Url::parse_with_params("http://x/", pairs)
        .expect("valid pairs")
        .query()
        .unwrap_or_default()
        .to_owned()
}
