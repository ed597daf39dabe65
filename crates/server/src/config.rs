//! Server configuration: command-line flags (each also a `SWITCHBOARD_*` variable) and the TOML file.

use std::{net::SocketAddr, path::PathBuf};

use clap::Parser;
use serde::Deserialize;
use switchboard_protocol::{ClientConfig, DEFAULT_HISTORY_PAGE_MAX, Limits, Mode, Role};

use crate::{
    directory::ldap::LdapConfig,
    tls::{Tls, TlsError},
};

/// Flags of `switchboard-server`.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "switchboard-server",
    version,
    about = "Switchboard attendant console server"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Address to listen on.
    #[arg(long, env = "SWITCHBOARD_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Directory for the embedded database (used when --database-url is not given).
    #[arg(long, env = "SWITCHBOARD_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// Database URL, e.g. `sqlite://data/switchboard.db` or `sqlite::memory:`.
    #[arg(long, env = "SWITCHBOARD_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Chat mode chosen by the administrator.
    #[arg(long, env = "SWITCHBOARD_MODE", value_enum, default_value_t = ModeArg::Cloudlink)]
    pub mode: ModeArg,
    /// Directory holding the built console (trunk's dist/).
    #[arg(long, env = "SWITCHBOARD_STATIC_DIR", default_value = "dist")]
    pub static_dir: PathBuf,
    /// TOML file with predefined messages, the chat key and limits.
    #[arg(long, env = "SWITCHBOARD_CONFIG")]
    pub config: Option<PathBuf>,
    /// Seed the demo company (users operator, alice, bob, carol, dave; 200+ directory entries).
    #[arg(long, env = "SWITCHBOARD_DEMO")]
    pub demo: bool,
    /// Seed this many load-test accounts `bench1`..`benchN` (password `bench`), each with a
    /// directory entry, for benchmarks and the chaos test. Idempotent.
    #[arg(long, env = "SWITCHBOARD_BENCH_USERS", default_value_t = 0)]
    pub bench_users: u32,
    /// With --demo: bring the demo's colleagues to life (presence changes); `false` for none.
    #[arg(long, env = "SWITCHBOARD_DEMO_BOTS", default_value_t = true, action = clap::ArgAction::Set)]
    pub demo_bots: bool,
    /// With --demo: calls the simulator queues per minute (0 for none).
    #[arg(
        long,
        env = "SWITCHBOARD_SIMULATOR_CALLS_PER_MINUTE",
        default_value_t = 3
    )]
    pub simulator_calls_per_minute: u32,
    /// Minutes a session may go unused before it ends (an open console keeps it in use).
    #[arg(long, env = "SWITCHBOARD_SESSION_IDLE_MINUTES", default_value_t = 720)]
    pub session_idle_minutes: u32,
    /// Mark the session cookie `Secure`: set it when a reverse proxy in front of this server
    /// serves the console over HTTPS (with --tls-cert the cookie is always `Secure`).
    #[arg(long, env = "SWITCHBOARD_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// Serve HTTPS with this PEM certificate chain (the server's certificate first);
    /// needs --tls-key.
    #[arg(long, env = "SWITCHBOARD_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "SWITCHBOARD_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Bearer token of the call ingest API (`/api/calls`); without it that API refuses all.
    #[arg(long, env = "SWITCHBOARD_INGEST_TOKEN")]
    pub ingest_token: Option<String>,
}

/// What to do instead of serving.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Manage accounts (a running server applies the change within a second).
    #[command(subcommand)]
    User(UserCommand),
    /// Manage the company directory.
    #[command(subcommand)]
    Directory(DirectoryCommand),
    /// Copy the database, while the server runs, into a new file (restore: stop the server
    /// and put the copy in place of the database file).
    Backup {
        /// The copy to write; must not exist yet.
        #[arg(long)]
        to: PathBuf,
    },
}

/// `switchboard-server user ...`. Passwords never come from the command line: from
/// `--password-file`, else a prompt on a terminal, else one line of standard input.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum UserCommand {
    /// Create an account.
    Add {
        username: String,
        #[arg(long, value_enum, default_value_t = RoleArg::User)]
        role: RoleArg,
        /// Name shown to others (default: the username).
        #[arg(long)]
        display_name: Option<String>,
        /// File holding the password (first line).
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
    /// List every account with its role and whether it is active.
    List,
    /// Change an account's role.
    SetRole {
        username: String,
        #[arg(value_enum)]
        role: RoleArg,
    },
    /// Deactivate an account: its sessions and open consoles end, it cannot sign in; its
    /// conversations stay readable by their partners.
    Deactivate { username: String },
    /// Reactivate a deactivated account.
    Activate { username: String },
    /// Set a new password (the account's sessions end).
    ResetPassword {
        username: String,
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
}

/// `switchboard-server directory ...`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum DirectoryCommand {
    /// Replace the directory with a CSV file (columns in README "Administration"): one
    /// transaction; a bad row changes nothing and is reported with its line and column.
    Import {
        file: PathBuf,
        /// List what would be added, changed and removed, and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Sync the directory from LDAP once, as `[directory.ldap]` of --config says, and print
    /// the outcome (a running server's consoles get the changes).
    Sync,
}

/// A role as a command-line value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RoleArg {
    Admin,
    Operator,
    User,
}

impl From<RoleArg> for Role {
    fn from(role: RoleArg) -> Self {
        match role {
            RoleArg::Admin => Role::Admin,
            RoleArg::Operator => Role::Operator,
            RoleArg::User => Role::User,
        }
    }
}

/// Chat mode as a flag value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ModeArg {
    Micollab,
    Cloudlink,
}

impl From<ModeArg> for Mode {
    fn from(mode: ModeArg) -> Self {
        match mode {
            ModeArg::Micollab => Mode::Micollab,
            ModeArg::Cloudlink => Mode::Cloudlink,
        }
    }
}

/// Contents of the `--config` TOML file; every key is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Texts for one-click sending, in menu order. Absent: none (the demo brings its own);
    /// an explicit empty list means none, also in the demo.
    pub predefined_messages: Option<Vec<String>>,
    /// `KeyboardEvent.key` of the key that opens the chat window.
    pub chat_key: Option<String>,
    /// Limits the server enforces.
    #[serde(default)]
    pub limits: FileLimits,
    /// Where the directory comes from.
    #[serde(default)]
    pub directory: FileDirectory,
}

/// `[directory]` table of the TOML file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileDirectory {
    /// `[directory.ldap]`: sync the directory from LDAP / Active Directory.
    pub ldap: Option<LdapConfig>,
}

/// `[limits]` table of the TOML file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileLimits {
    pub max_frame_bytes: Option<usize>,
    pub max_message_chars: Option<usize>,
    pub messages_per_second: Option<u32>,
    pub message_burst: Option<u32>,
    pub connections_per_user: Option<usize>,
    pub bad_frames_per_minute: Option<u32>,
    pub history_page_max: Option<u32>,
    pub max_connections: Option<usize>,
    pub header_read_secs: Option<u64>,
}

/// Limits only the server needs to know (the console's are in [`ClientConfig::limits`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// Chat messages a user may send per second, on average.
    pub messages_per_second: u32,
    /// Messages a user may send at once above that rate (an outbox flushed after a reconnect).
    pub message_burst: u32,
    /// WebSocket connections (tabs, devices) one user may hold open.
    pub connections_per_user: usize,
    /// Frames answered with an `error` frame that one connection may send per minute (and
    /// at once) before it is closed with 1008.
    pub bad_frames_per_minute: u32,
    /// HTTP connections served at once; past it new ones wait (WebSockets, once upgraded, are
    /// bounded by `connections_per_user` instead).
    pub max_connections: usize,
    /// Seconds a client has to send a request's headers (idle keep-alive included).
    pub header_read_secs: u64,
}

/// Everything the running server needs to know, validated.
#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub mode: Mode,
    pub static_dir: PathBuf,
    pub demo: bool,
    /// Load-test accounts to seed.
    pub bench_users: u32,
    /// Run the demo bots (only with `demo`).
    pub demo_bots: bool,
    /// Calls per minute the demo's simulated exchange queues (0 without `demo`).
    pub simulator_calls_per_minute: u32,
    /// Token the ingest API requires; `None` disables it.
    pub ingest_token: Option<String>,
    pub limits: ServerLimits,
    /// Seconds a session may go unused.
    pub session_idle_secs: i64,
    /// Whether the session cookie is `Secure` although this server does not speak TLS itself
    /// (a proxy does); see [`Config::https`].
    pub secure_cookies: bool,
    /// The certificate and key when this server speaks HTTPS itself.
    pub tls: Option<Tls>,
    /// The directory's LDAP source, if any.
    pub ldap: Option<LdapConfig>,
    pub client: ClientConfig,
}

/// A configuration error that names the flag or key and the fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read --config {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("--config {path} is not valid: {source}")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    /// A key of the TOML file is out of range.
    #[error("--config: {0}")]
    Invalid(String),
    /// A flag (or its environment variable) is out of range; the message names it.
    #[error("{0}")]
    Flag(String),
    /// The TLS certificate or key cannot be used; the message names the flag and the file.
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// The ingest token of [`Config::for_tests`].
pub const TEST_INGEST_TOKEN: &str = "test-ingest-token-0123456789";

/// Predefined messages the demo company uses when the config file names none.
const DEMO_PREDEFINED_MESSAGES: [&str; 3] = [
    "Your caller is holding on line 2",
    "Your visitor is waiting in the lobby",
    "Please call the switchboard when you are free",
];

impl Config {
    /// Resolves flags and the optional TOML file into a validated configuration.
    pub fn load(cli: &Cli) -> Result<Self, ConfigError> {
        let file = match &cli.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
                toml::from_str(&text).map_err(|source| ConfigError::Parse {
                    path: path.clone(),
                    source,
                })?
            }
            None => FileConfig::default(),
        };
        let database_url = cli.database_url.clone().unwrap_or_else(|| {
            format!("sqlite://{}", cli.data_dir.join("switchboard.db").display())
        });
        Self::from_parts(cli, file, database_url)
    }

    fn from_parts(cli: &Cli, file: FileConfig, database_url: String) -> Result<Self, ConfigError> {
        let client_limits = Limits {
            max_frame_bytes: file.limits.max_frame_bytes.unwrap_or(64 * 1024),
            max_message_chars: file.limits.max_message_chars.unwrap_or(4000),
            history_page_max: file
                .limits
                .history_page_max
                .unwrap_or(DEFAULT_HISTORY_PAGE_MAX),
        };
        if !(1024..=1024 * 1024).contains(&client_limits.max_frame_bytes) {
            return Err(ConfigError::Invalid(
                "limits.max_frame_bytes must be between 1024 and 1048576".into(),
            ));
        }
        if client_limits.max_message_chars == 0
            || client_limits.max_message_chars * 4 > client_limits.max_frame_bytes
        {
            return Err(ConfigError::Invalid(
                "limits.max_message_chars must be at least 1 and fit in max_frame_bytes (4 bytes per character)"
                    .into(),
            ));
        }
        if client_limits.history_page_max == 0 {
            return Err(ConfigError::Invalid(format!(
                "limits.history_page_max must be at least 1 (default {DEFAULT_HISTORY_PAGE_MAX})"
            )));
        }
        if cli.simulator_calls_per_minute > 60 {
            return Err(ConfigError::Flag(
                "--simulator-calls-per-minute must be at most 60".into(),
            ));
        }
        if let Some(token) = &cli.ingest_token
            && token.len() < 16
        {
            return Err(ConfigError::Flag(
                "--ingest-token must be at least 16 characters (e.g. `openssl rand -hex 16`)"
                    .into(),
            ));
        }
        let limits = ServerLimits {
            messages_per_second: file.limits.messages_per_second.unwrap_or(10),
            message_burst: file.limits.message_burst.unwrap_or(100),
            connections_per_user: file.limits.connections_per_user.unwrap_or(20),
            bad_frames_per_minute: file.limits.bad_frames_per_minute.unwrap_or(60),
            max_connections: file.limits.max_connections.unwrap_or(10_000),
            header_read_secs: file.limits.header_read_secs.unwrap_or(10),
        };
        if !(16..=1_000_000).contains(&limits.max_connections) {
            return Err(ConfigError::Invalid(
                "limits.max_connections must be between 16 and 1000000 (default 10000)".into(),
            ));
        }
        if !(1..=300).contains(&limits.header_read_secs) {
            return Err(ConfigError::Invalid(
                "limits.header_read_secs must be between 1 and 300 (default 10)".into(),
            ));
        }
        if limits.messages_per_second == 0 || limits.message_burst == 0 {
            return Err(ConfigError::Invalid(
                "limits.messages_per_second and limits.message_burst must be at least 1".into(),
            ));
        }
        if cli.session_idle_minutes == 0 {
            return Err(ConfigError::Flag(
                "--session-idle-minutes must be at least 1".into(),
            ));
        }
        if limits.connections_per_user == 0 {
            return Err(ConfigError::Invalid(
                "limits.connections_per_user must be at least 1".into(),
            ));
        }
        if limits.bad_frames_per_minute == 0 {
            return Err(ConfigError::Invalid(
                "limits.bad_frames_per_minute must be at least 1 (default 60)".into(),
            ));
        }
        let tls = match (&cli.tls_cert, &cli.tls_key) {
            (Some(cert), Some(key)) => Some(Tls::load(cert, key)?),
            (None, None) => None,
            _ => {
                return Err(ConfigError::Flag(
                    "--tls-cert and --tls-key go together: give both PEM files to serve HTTPS, \
                     or neither to serve plain HTTP"
                        .into(),
                ));
            }
        };
        let chat_key = file.chat_key.unwrap_or_else(|| "F9".into());
        if chat_key.trim().is_empty() {
            return Err(ConfigError::Invalid(
                "chat_key must name a key, e.g. \"F9\"".into(),
            ));
        }
        let predefined_messages = match file.predefined_messages {
            Some(messages) => messages,
            None if cli.demo => DEMO_PREDEFINED_MESSAGES.map(String::from).to_vec(),
            None => Vec::new(),
        };
        if let Some(bad) = predefined_messages.iter().find(|m| m.trim().is_empty()) {
            return Err(ConfigError::Invalid(format!(
                "predefined_messages has an empty entry ({bad:?}); remove it"
            )));
        }
        if let Some(ldap) = &file.directory.ldap {
            ldap.check().map_err(ConfigError::Invalid)?;
        }
        Ok(Config {
            ldap: file.directory.ldap,
            database_url,
            mode: cli.mode.into(),
            static_dir: cli.static_dir.clone(),
            demo: cli.demo,
            bench_users: cli.bench_users,
            demo_bots: cli.demo && cli.demo_bots,
            simulator_calls_per_minute: if cli.demo {
                cli.simulator_calls_per_minute
            } else {
                0
            },
            ingest_token: cli.ingest_token.clone(),
            limits,
            session_idle_secs: i64::from(cli.session_idle_minutes) * 60,
            secure_cookies: cli.secure_cookies,
            tls,
            client: ClientConfig {
                predefined_messages,
                chat_key,
                limits: client_limits,
            },
        })
    }

    /// Whether consoles reach this server over HTTPS: it speaks TLS itself, or a proxy in
    /// front of it does (`--secure-cookies`). Then the session cookie is `Secure`.
    pub fn https(&self) -> bool {
        self.tls.is_some() || self.secure_cookies
    }

    /// A configuration for tests: the given database, no static files, no bots and no
    /// simulated calls (tests decide every change themselves), ingest token `TEST_INGEST_TOKEN`.
    pub fn for_tests(database_url: &str, demo: bool) -> Self {
        let cli = Cli::parse_from([
            "switchboard-server",
            "--demo-bots",
            "false",
            "--simulator-calls-per-minute",
            "0",
            "--ingest-token",
            TEST_INGEST_TOKEN,
        ]);
        let cli = Cli { demo, ..cli };
        Self::from_parts(&cli, FileConfig::default(), database_url.into())
            .expect("defaults are valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli(args: &[&str]) -> Cli {
        Cli::parse_from(std::iter::once("switchboard-server").chain(args.iter().copied()))
    }

    #[test]
    fn defaults_follow_the_design() {
        let config = Config::load(&cli(&[])).unwrap();
        assert_eq!(config.mode, Mode::Cloudlink);
        assert_eq!(config.database_url, "sqlite://data/switchboard.db");
        assert_eq!(config.client.chat_key, "F9");
        assert_eq!(config.client.limits.max_frame_bytes, 65536);
        assert!(config.client.predefined_messages.is_empty());
    }

    #[test]
    fn demo_brings_predefined_messages() {
        let config = Config::load(&cli(&["--demo", "--mode", "micollab"])).unwrap();
        assert_eq!(config.mode, Mode::Micollab);
        assert!(config.demo_bots, "bots are on by default in the demo");
        let quiet = Config::load(&cli(&["--demo", "--demo-bots", "false"])).unwrap();
        assert!(!quiet.demo_bots);
        assert!(
            !Config::load(&cli(&[])).unwrap().demo_bots,
            "no demo, no bots"
        );
        assert!(config.client.predefined_messages.len() >= 2);
        let none: FileConfig = toml::from_str("predefined_messages = []").unwrap();
        let demo = cli(&["--demo"]);
        let config = Config::from_parts(&demo, none, "sqlite::memory:".into()).unwrap();
        assert!(
            config.client.predefined_messages.is_empty(),
            "an explicit empty list wins"
        );
    }

    #[test]
    fn file_settings_are_read_and_checked() {
        let file: FileConfig = toml::from_str(
            "predefined_messages = [\"Line 2\"]\nchat_key = \"F8\"\n[limits]\nmax_message_chars = 500\n",
        )
        .unwrap();
        let config = Config::from_parts(&cli(&[]), file, "sqlite::memory:".into()).unwrap();
        assert_eq!(config.client.predefined_messages, ["Line 2"]);
        assert_eq!(config.client.chat_key, "F8");
        assert_eq!(config.client.limits.max_message_chars, 500);

        let bad: FileConfig = toml::from_str("[limits]\nmax_frame_bytes = 10\n").unwrap();
        let err = Config::from_parts(&cli(&[]), bad, "sqlite::memory:".into()).unwrap_err();
        assert!(err.to_string().contains("max_frame_bytes"), "{err}");
        for key in ["history_page_max", "bad_frames_per_minute"] {
            let zero: FileConfig = toml::from_str(&format!("[limits]\n{key} = 0\n")).unwrap();
            let err = Config::from_parts(&cli(&[]), zero, "sqlite::memory:".into()).unwrap_err();
            assert!(err.to_string().contains(key), "{err}");
        }
        assert!(toml::from_str::<FileConfig>("chat_kee = \"F9\"").is_err());
    }

    #[test]
    fn history_pages_and_bad_frames_have_limits() {
        let config = Config::load(&cli(&[])).unwrap();
        assert_eq!(config.client.limits.history_page_max, 200);
        assert_eq!(config.limits.bad_frames_per_minute, 60);
        let file: FileConfig =
            toml::from_str("[limits]\nhistory_page_max = 5\nbad_frames_per_minute = 10\n").unwrap();
        let config = Config::from_parts(&cli(&[]), file, "sqlite::memory:".into()).unwrap();
        assert_eq!(config.client.limits.history_page_max, 5);
        assert_eq!(config.limits.bad_frames_per_minute, 10);
    }

    #[test]
    fn tls_needs_both_files_and_names_the_one_that_fails() {
        let err = Config::load(&cli(&["--tls-cert", "cert.pem"])).unwrap_err();
        assert!(err.to_string().contains("--tls-key"), "{err}");
        let err = Config::load(&cli(&["--tls-key", "key.pem"])).unwrap_err();
        assert!(err.to_string().contains("--tls-cert"), "{err}");
        let err = Config::load(&cli(&[
            "--tls-cert",
            "/nonexistent/cert.pem",
            "--tls-key",
            "/nonexistent/key.pem",
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/cert.pem"), "{err}");
        let plain = Config::load(&cli(&[])).unwrap();
        assert!(plain.tls.is_none() && !plain.https());
        let proxied = Config::load(&cli(&["--secure-cookies"])).unwrap();
        assert!(proxied.https());
    }
}
