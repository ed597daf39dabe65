//! Server configuration: command-line flags (each also a `SWITCHBOARD_*` variable) and the TOML file.

use std::{
    fmt::Display,
    net::SocketAddr,
    path::{Path, PathBuf},
};

use clap::Parser;
use serde::Deserialize;
use switchboard_protocol::{
    ClientConfig, DEFAULT_HISTORY_PAGE_MAX, DEFAULT_HOLD_RECALL_SECS, Limits, Line, Mode, Role,
    is_hex_colour, keys::Keys,
};

use crate::{
    calls::{asterisk::AsteriskConfig, night::OpeningHours},
    directory::ldap::LdapConfig,
    federation::XmppConfig,
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
    /// NATS server joining this node to others on the same PostgreSQL database, e.g.
    /// `nats://127.0.0.1:4222` (see docs/cluster.md).
    #[arg(long, env = "SWITCHBOARD_NATS_URL")]
    pub nats_url: Option<String>,
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
    /// directory entry, for benchmarks and the chaos test. Idempotent. 0 to 100000.
    #[arg(long, env = "SWITCHBOARD_BENCH_USERS", default_value_t = BENCH_USERS.default)]
    pub bench_users: u32,
    /// With --demo: bring the demo's colleagues to life (presence changes); `false` for none.
    #[arg(long, env = "SWITCHBOARD_DEMO_BOTS", default_value_t = true, action = clap::ArgAction::Set)]
    pub demo_bots: bool,
    /// With --demo: calls the simulator queues per minute (0 for none), 0 to 60.
    #[arg(
        long,
        env = "SWITCHBOARD_SIMULATOR_CALLS_PER_MINUTE",
        default_value_t = SIMULATOR_CALLS_PER_MINUTE.default
    )]
    pub simulator_calls_per_minute: u32,
    /// Minutes a session may go unused before it ends (an open console keeps it in use),
    /// 1 to 43200 (30 days).
    #[arg(
        long,
        env = "SWITCHBOARD_SESSION_IDLE_MINUTES",
        default_value_t = SESSION_IDLE_MINUTES.default
    )]
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
    /// File whose first line is the bearer token of the call ingest API (`/api/calls`); or
    /// give the token itself in the environment variable SWITCHBOARD_INGEST_TOKEN. Never as
    /// a flag value, which `ps` shows to everyone. Without either, that API refuses all.
    #[arg(long, env = "SWITCHBOARD_INGEST_TOKEN_FILE")]
    pub ingest_token_file: Option<PathBuf>,
}

impl Cli {
    /// The flag that chose the database, for messages about it.
    pub fn database_flag(&self) -> &'static str {
        if self.database_url.is_some() {
            "--database-url"
        } else {
            "--data-dir"
        }
    }
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
    /// Move a single-node installation's data (SQLite) into a new, empty PostgreSQL database,
    /// to run several nodes on it; stop the server first. Checks the counts at the end.
    MigrateToPostgres {
        /// The SQLite database, e.g. `sqlite://data/switchboard.db`.
        #[arg(long)]
        from: String,
        /// The PostgreSQL database, e.g. `postgres://switchboard@db.example.com/switchboard`.
        #[arg(long)]
        to: String,
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
    /// `[keys]`: the console's other keyboard shortcuts over their defaults
    /// (`switchboard_protocol::keys::Keys`; the README's operator guide lists them).
    pub keys: Option<toml::Table>,
    /// `[[lines]]`: the company's lines by dialled number.
    #[serde(default)]
    pub lines: Vec<FileLine>,
    /// Seconds a call may stay on hold before the operator's console recalls it.
    pub hold_recall_secs: Option<u32>,
    /// `[opening_hours]`: night service follows them (operators may still switch).
    pub opening_hours: Option<OpeningHours>,
    /// Limits the server enforces.
    #[serde(default)]
    pub limits: FileLimits,
    /// Where the directory comes from.
    #[serde(default)]
    pub directory: FileDirectory,
    /// `[xmpp]`: federation with the company's XMPP server.
    pub xmpp: Option<XmppConfig>,
    /// The telephone system.
    #[serde(default)]
    pub pbx: FilePbx,
}

/// `[pbx]` table of the TOML file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilePbx {
    /// Seconds an operator's command may wait for the telephone system's confirmation.
    pub confirm_secs: Option<u64>,
    /// `[pbx.asterisk]`: drive an Asterisk PBX through ARI.
    pub asterisk: Option<AsteriskConfig>,
}

/// `[directory]` table of the TOML file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileDirectory {
    /// `[directory.ldap]`: sync the directory from LDAP / Active Directory.
    pub ldap: Option<LdapConfig>,
}

/// One `[[lines]]` entry of the TOML file (`switchboard_protocol::Line` once checked).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileLine {
    pub number: String,
    pub name: String,
    #[serde(default)]
    pub priority: u8,
    #[serde(default)]
    pub colour: String,
    #[serde(default)]
    pub greeting: String,
}

/// Most `[[lines]]`, longest line name and greeting.
const MAX_LINES: usize = 100;
const MAX_LINE_NAME: usize = 60;
const MAX_GREETING: usize = 200;
/// Line priorities: 0 (the default, numbers without a line) to 9.
const MAX_PRIORITY: u8 = 9;

/// The `[[lines]]` checked: a number and a name each, numbers once, priorities 0 to 9, colours
/// `#rgb` / `#rrggbb` (they go into a style attribute), bounded texts.
fn company_lines(lines: Vec<FileLine>) -> Result<Vec<Line>, ConfigError> {
    if lines.len() > MAX_LINES {
        return Err(ConfigError::Invalid(format!(
            "at most {MAX_LINES} [[lines]]; there are {}",
            lines.len()
        )));
    }
    let mut checked: Vec<Line> = Vec::with_capacity(lines.len());
    for line in lines {
        let number = line.number.trim().to_owned();
        let name = line.name.trim().to_owned();
        let greeting = line.greeting.trim().to_owned();
        let colour = line.colour.trim().to_owned();
        let problem = if number.is_empty() || name.is_empty() {
            Some("needs a number and a name".to_owned())
        } else if checked.iter().any(|other| other.number == number) {
            Some("has a number another line has".to_owned())
        } else if name.chars().count() > MAX_LINE_NAME || greeting.chars().count() > MAX_GREETING {
            Some(format!(
                "has a name over {MAX_LINE_NAME} or a greeting over {MAX_GREETING} characters"
            ))
        } else if line.priority > MAX_PRIORITY {
            Some(format!(
                "has priority {}; it must be 0 to {MAX_PRIORITY}",
                line.priority
            ))
        } else if !colour.is_empty() && !is_hex_colour(&colour) {
            Some(format!("has colour \"{colour}\"; write #rgb or #rrggbb"))
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(ConfigError::Invalid(format!(
                "the [[lines]] entry \"{}\" ({}) {problem}",
                line.name, line.number
            )));
        }
        checked.push(Line {
            number,
            name,
            priority: line.priority,
            colour,
            greeting,
        });
    }
    Ok(checked)
}

/// `[limits]` table of the TOML file; each key's range and default is its [`Bounds`] below.
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

/// The `[keys]` table over the default shortcuts: every name known, every key written
/// correctly, no key twice (the chat key included).
fn console_keys(table: Option<toml::Table>, chat_key: &str) -> Result<Keys, ConfigError> {
    let table = table.unwrap_or_default();
    let defaults = Keys::default();
    let names: Vec<&str> = defaults.all().iter().map(|(name, _)| *name).collect();
    if let Some(unknown) = table.keys().find(|name| !names.contains(&name.as_str())) {
        return Err(ConfigError::Invalid(format!(
            "[keys] has no shortcut \"{unknown}\"; they are {}",
            names.join(", ")
        )));
    }
    let keys: Keys = toml::Value::Table(table)
        .try_into()
        .map_err(|err| ConfigError::Invalid(format!("[keys]: {err}")))?;
    keys.check(chat_key).map_err(ConfigError::Invalid)?;
    Ok(keys)
}

/// The range a number of the configuration must be in, and its value when not given.
#[derive(Debug, Clone, Copy)]
pub struct Bounds<T> {
    pub min: T,
    pub max: T,
    pub default: T,
}

impl<T: PartialOrd + Display + Copy> Bounds<T> {
    /// `value` (the default when absent) if it is in range; otherwise a sentence naming
    /// `name` (a flag or a key), the range and the default.
    fn check(&self, name: &str, value: Option<T>) -> Result<T, String> {
        let value = value.unwrap_or(self.default);
        if (self.min..=self.max).contains(&value) {
            Ok(value)
        } else {
            Err(format!(
                "{name} must be between {} and {} (default {}); it is {value}",
                self.min, self.max, self.default
            ))
        }
    }

    /// [`Bounds::check`] for a key of `[limits]`.
    fn limit(&self, key: &str, value: Option<T>) -> Result<T, ConfigError> {
        self.check(&format!("limits.{key}"), value)
            .map_err(ConfigError::Invalid)
    }

    /// [`Bounds::check`] for a flag (or its environment variable).
    fn flag(&self, flag: &str, value: T) -> Result<T, ConfigError> {
        self.check(flag, Some(value)).map_err(ConfigError::Flag)
    }
}

const fn bounds<T>(min: T, max: T, default: T) -> Bounds<T> {
    Bounds { min, max, default }
}

/// Largest WebSocket frame accepted: enough for the longest message, small enough that a
/// connection cannot make the server buffer much.
pub const MAX_FRAME_BYTES: Bounds<usize> = bounds(1024, 1024 * 1024, 64 * 1024);
/// Longest chat message in characters; also at most a quarter of `max_frame_bytes` (up to
/// 4 bytes per character), checked beside the others.
pub const MAX_MESSAGE_CHARS: Bounds<usize> = bounds(1, 256 * 1024, 4000);
/// Chat messages per user per second, on average. The load tests raise it to 100,000
/// (tests/bench/console.bench.ts, crates/loadgen/src/bin/bench.rs).
pub const MESSAGES_PER_SECOND: Bounds<u32> = bounds(1, 1_000_000, 10);
/// Chat messages per user at once; raised as far by the load tests.
pub const MESSAGE_BURST: Bounds<u32> = bounds(1, 1_000_000, 100);
/// Open consoles per user; the server benchmark holds hundreds per bench user.
pub const CONNECTIONS_PER_USER: Bounds<usize> = bounds(1, 100_000, 20);
/// Frames answered with an `error` per connection and minute.
pub const BAD_FRAMES_PER_MINUTE: Bounds<u32> = bounds(1, 100_000, 60);
/// HTTP connections served at once.
pub const MAX_CONNECTIONS: Bounds<usize> = bounds(16, 1_000_000, 10_000);
/// Seconds a client has to send a request's headers.
pub const HEADER_READ_SECS: Bounds<u64> = bounds(1, 300, 10);
/// Most messages in one history page.
pub const HISTORY_PAGE_MAX: Bounds<u32> = bounds(1, 1000, DEFAULT_HISTORY_PAGE_MAX);
/// `hold_recall_secs`: ten seconds to an hour.
pub const HOLD_RECALL_SECS: Bounds<u32> = bounds(10, 3_600, DEFAULT_HOLD_RECALL_SECS);
/// `--session-idle-minutes`: a minute to 30 days.
pub const SESSION_IDLE_MINUTES: Bounds<u32> = bounds(1, 30 * 24 * 60, 720);
/// `--bench-users`: the benchmarks seed up to 50,000 (tests/bench/console.bench.ts).
pub const BENCH_USERS: Bounds<u32> = bounds(0, 100_000, 0);
/// `--simulator-calls-per-minute`: one a second at most keeps the demo's queue readable.
pub const SIMULATOR_CALLS_PER_MINUTE: Bounds<u32> = bounds(0, 60, 3);
/// `pbx.confirm_secs`: how long an operator's command may wait for the telephone system.
pub const PBX_CONFIRM_SECS: Bounds<u64> = bounds(1, 60, 10);
/// Shortest ingest token: 128 bits as hex, e.g. `openssl rand -hex 16`.
const MIN_INGEST_TOKEN_CHARS: usize = 16;
/// The environment variable that may hold the ingest token itself.
pub const INGEST_TOKEN_ENV: &str = "SWITCHBOARD_INGEST_TOKEN";

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
    /// The NATS server joining this node to the others, with several nodes.
    pub nats_url: Option<String>,
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
    /// The XMPP server this one federates with, if any.
    pub xmpp: Option<XmppConfig>,
    /// The Asterisk PBX this console drives, if any.
    pub asterisk: Option<AsteriskConfig>,
    /// How long an operator's command may wait for the telephone system's confirmation.
    pub confirm_within: std::time::Duration,
    /// When the switchboard is open; night service follows them.
    pub opening_hours: Option<OpeningHours>,
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
        let ingest_token = ingest_token(
            cli.ingest_token_file.as_deref(),
            std::env::var(INGEST_TOKEN_ENV).ok(),
        )?;
        Self::from_parts(cli, file, database_url, ingest_token)
    }

    fn from_parts(
        cli: &Cli,
        mut file: FileConfig,
        database_url: String,
        ingest_token: Option<String>,
    ) -> Result<Self, ConfigError> {
        let max_frame_bytes =
            MAX_FRAME_BYTES.limit("max_frame_bytes", file.limits.max_frame_bytes)?;
        let max_message_chars =
            MAX_MESSAGE_CHARS.limit("max_message_chars", file.limits.max_message_chars)?;
        if max_message_chars * 4 > max_frame_bytes {
            return Err(ConfigError::Invalid(format!(
                "limits.max_message_chars must fit in max_frame_bytes (4 bytes per character): \
                 at most {} with max_frame_bytes = {max_frame_bytes}",
                max_frame_bytes / 4
            )));
        }
        let client_limits = Limits {
            max_frame_bytes,
            max_message_chars,
            history_page_max: HISTORY_PAGE_MAX
                .limit("history_page_max", file.limits.history_page_max)?,
        };
        let limits = ServerLimits {
            messages_per_second: MESSAGES_PER_SECOND
                .limit("messages_per_second", file.limits.messages_per_second)?,
            message_burst: MESSAGE_BURST.limit("message_burst", file.limits.message_burst)?,
            connections_per_user: CONNECTIONS_PER_USER
                .limit("connections_per_user", file.limits.connections_per_user)?,
            bad_frames_per_minute: BAD_FRAMES_PER_MINUTE
                .limit("bad_frames_per_minute", file.limits.bad_frames_per_minute)?,
            max_connections: MAX_CONNECTIONS
                .limit("max_connections", file.limits.max_connections)?,
            header_read_secs: HEADER_READ_SECS
                .limit("header_read_secs", file.limits.header_read_secs)?,
        };
        let session_idle_minutes =
            SESSION_IDLE_MINUTES.flag("--session-idle-minutes", cli.session_idle_minutes)?;
        let bench_users = BENCH_USERS.flag("--bench-users", cli.bench_users)?;
        let simulator_calls_per_minute = SIMULATOR_CALLS_PER_MINUTE.flag(
            "--simulator-calls-per-minute",
            cli.simulator_calls_per_minute,
        )?;
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
        let keys = console_keys(file.keys, &chat_key)?;
        let lines = company_lines(file.lines)?;
        let hold_recall_secs = HOLD_RECALL_SECS
            .check("hold_recall_secs", file.hold_recall_secs)
            .map_err(ConfigError::Invalid)?;
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
        if let Some(asterisk) = &mut file.pbx.asterisk {
            asterisk.check().map_err(ConfigError::Invalid)?;
        }
        if let Some(xmpp) = &file.xmpp {
            xmpp.check().map_err(ConfigError::Invalid)?;
        }
        if let Some(hours) = &file.opening_hours {
            hours.check().map_err(ConfigError::Invalid)?;
        }
        if cli.nats_url.is_some() && !crate::storage::is_postgres_url(&database_url) {
            return Err(ConfigError::Flag(
                "--nats-url joins nodes that share one database: it needs \
                 --database-url postgres://… (SQLite belongs to one node)"
                    .into(),
            ));
        }
        Ok(Config {
            nats_url: cli.nats_url.clone(),
            ldap: file.directory.ldap,
            xmpp: file.xmpp,
            asterisk: file.pbx.asterisk,
            opening_hours: file.opening_hours,
            confirm_within: std::time::Duration::from_secs(
                PBX_CONFIRM_SECS
                    .check("pbx.confirm_secs", file.pbx.confirm_secs)
                    .map_err(ConfigError::Invalid)?,
            ),
            database_url,
            mode: cli.mode.into(),
            static_dir: cli.static_dir.clone(),
            demo: cli.demo,
            bench_users,
            demo_bots: cli.demo && cli.demo_bots,
            simulator_calls_per_minute: if cli.demo {
                simulator_calls_per_minute
            } else {
                0
            },
            ingest_token,
            limits,
            session_idle_secs: i64::from(session_idle_minutes) * 60,
            secure_cookies: cli.secure_cookies,
            tls,
            client: ClientConfig {
                predefined_messages,
                chat_key,
                limits: client_limits,
                keys,
                lines,
                hold_recall_secs,
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
        ]);
        let cli = Cli { demo, ..cli };
        let token = Some(TEST_INGEST_TOKEN.to_owned());
        Self::from_parts(&cli, FileConfig::default(), database_url.into(), token)
            .expect("defaults are valid")
    }
}

/// The ingest token: the first line of `file` (`--ingest-token-file`), or `env` (the value of
/// SWITCHBOARD_INGEST_TOKEN; empty counts as unset), not both; at least 16 characters.
fn ingest_token(file: Option<&Path>, env: Option<String>) -> Result<Option<String>, ConfigError> {
    let env = env.filter(|token| !token.is_empty());
    let (token, source) = match (file, env) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::Flag(format!(
                "--ingest-token-file and {INGEST_TOKEN_ENV} are both set: keep one"
            )));
        }
        (Some(path), None) => {
            let text = std::fs::read_to_string(path).map_err(|err| {
                ConfigError::Flag(format!(
                    "cannot read --ingest-token-file {}: {err}",
                    path.display()
                ))
            })?;
            let token = text.lines().next().unwrap_or_default().trim().to_owned();
            (token, format!("--ingest-token-file {}", path.display()))
        }
        (None, Some(token)) => (token, INGEST_TOKEN_ENV.to_owned()),
        (None, None) => return Ok(None),
    };
    if token.chars().count() < MIN_INGEST_TOKEN_CHARS {
        return Err(ConfigError::Flag(format!(
            "the ingest token in {source} must be at least {MIN_INGEST_TOKEN_CHARS} characters \
             on its first line (e.g. `openssl rand -hex 16`)"
        )));
    }
    Ok(Some(token))
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
        let config = Config::from_parts(&demo, none, "sqlite::memory:".into(), None).unwrap();
        assert!(
            config.client.predefined_messages.is_empty(),
            "an explicit empty list wins"
        );
    }

    #[test]
    fn file_settings_are_read_and_checked() {
        let file: FileConfig = toml::from_str(
            "predefined_messages = [\"Line 2\"]\nchat_key = \"F10\"\n[limits]\nmax_message_chars = 500\n",
        )
        .unwrap();
        let config = Config::from_parts(&cli(&[]), file, "sqlite::memory:".into(), None).unwrap();
        assert_eq!(config.client.predefined_messages, ["Line 2"]);
        assert_eq!(config.client.chat_key, "F10");
        assert_eq!(config.client.limits.max_message_chars, 500);
        assert_eq!(config.client.keys, Keys::default());

        let bad: FileConfig = toml::from_str("[limits]\nmax_frame_bytes = 10\n").unwrap();
        let err = Config::from_parts(&cli(&[]), bad, "sqlite::memory:".into(), None).unwrap_err();
        assert!(err.to_string().contains("max_frame_bytes"), "{err}");
        for key in ["history_page_max", "bad_frames_per_minute"] {
            let zero: FileConfig = toml::from_str(&format!("[limits]\n{key} = 0\n")).unwrap();
            let err =
                Config::from_parts(&cli(&[]), zero, "sqlite::memory:".into(), None).unwrap_err();
            assert!(err.to_string().contains(key), "{err}");
        }
        assert!(toml::from_str::<FileConfig>("chat_kee = \"F9\"").is_err());
    }

    #[test]
    fn keys_are_read_over_their_defaults_and_checked() {
        let load = |text: &str| {
            let file: FileConfig = toml::from_str(text).unwrap();
            Config::from_parts(&cli(&[]), file, "sqlite::memory:".into(), None)
        };
        let config = load("[keys]\nanswer_next = \"F10\"\nhold = \"Alt+H\"\n").unwrap();
        assert_eq!(config.client.keys.answer_next, "F10");
        assert_eq!(config.client.keys.hold, "Alt+H");
        assert_eq!(config.client.keys.release, Keys::default().release);
        for (text, named) in [
            ("[keys]\nanwser_next = \"F10\"\n", "anwser_next"),
            ("[keys]\nhold = \"F9\"\n", "keys.hold and chat_key"),
            ("chat_key = \"F2\"\n", "keys.answer_next and chat_key"),
            ("[keys]\nrelease = \"Hyper+R\"\n", "keys.release"),
        ] {
            let err = load(text).unwrap_err().to_string();
            assert!(err.contains(named), "{text}: {err}");
        }
    }

    #[test]
    fn lines_are_read_and_checked() {
        let load = |text: &str| {
            let file: FileConfig = toml::from_str(text).unwrap();
            Config::from_parts(&cli(&[]), file, "sqlite::memory:".into(), None)
        };
        let config = load(
            "[[lines]]\nnumber = \"2000\"\nname = \"Main line\"\npriority = 1\ncolour = \"#1e3a5f\"\n\
             greeting = \"Good morning, Contoso\"\n[[lines]]\nnumber = \"2999\"\nname = \"Emergency\"\n\
             priority = 9\ncolour = \"#b91c1c\"\n",
        )
        .unwrap();
        let lines = &config.client.lines;
        assert_eq!(lines.len(), 2);
        assert_eq!(
            (lines[0].name.as_str(), lines[0].priority),
            ("Main line", 1)
        );
        assert_eq!(lines[1].greeting, "");
        for (text, named) in [
            (
                "[[lines]]\nnumber = \"2000\"\nname = \"\"\n",
                "needs a number and a name",
            ),
            (
                "[[lines]]\nnumber = \"1\"\nname = \"A\"\n[[lines]]\nnumber = \"1\"\nname = \"B\"\n",
                "another line has",
            ),
            (
                "[[lines]]\nnumber = \"1\"\nname = \"A\"\npriority = 10\n",
                "0 to 9",
            ),
            (
                "[[lines]]\nnumber = \"1\"\nname = \"A\"\ncolour = \"red;background:url(x)\"\n",
                "#rgb or #rrggbb",
            ),
        ] {
            let err = load(text).unwrap_err().to_string();
            assert!(err.contains(named), "{text}: {err}");
        }
        assert!(
            toml::from_str::<FileConfig>(
                "[[lines]]\nnumber = \"1\"\nname = \"A\"\ncolor = \"#fff\"\n"
            )
            .is_err()
        );
    }

    #[test]
    fn history_pages_and_bad_frames_have_limits() {
        let config = Config::load(&cli(&[])).unwrap();
        assert_eq!(config.client.limits.history_page_max, 200);
        assert_eq!(config.limits.bad_frames_per_minute, 60);
        let file: FileConfig =
            toml::from_str("[limits]\nhistory_page_max = 5\nbad_frames_per_minute = 10\n").unwrap();
        let config = Config::from_parts(&cli(&[]), file, "sqlite::memory:".into(), None).unwrap();
        assert_eq!(config.client.limits.history_page_max, 5);
        assert_eq!(config.limits.bad_frames_per_minute, 10);
    }

    #[test]
    fn every_number_is_bounded_and_the_error_names_it() {
        let keys: [(&str, u64, u64); 9] = [
            ("max_frame_bytes", 1023, 1_048_577),
            ("max_message_chars", 0, 262_145),
            ("messages_per_second", 0, 1_000_001),
            ("message_burst", 0, 1_000_001),
            ("connections_per_user", 0, 100_001),
            ("bad_frames_per_minute", 0, 100_001),
            ("history_page_max", 0, 1001),
            ("max_connections", 15, 1_000_001),
            ("header_read_secs", 0, 301),
        ];
        for (key, below, above) in keys {
            for value in [below, above] {
                let mut toml = format!("[limits]\n{key} = {value}\n");
                if key == "max_message_chars" {
                    toml.push_str("max_frame_bytes = 1048576\n");
                }
                let file: FileConfig = toml::from_str(&toml).unwrap();
                let err = Config::from_parts(&cli(&[]), file, "sqlite::memory:".into(), None)
                    .unwrap_err()
                    .to_string();
                assert!(
                    err.contains(&format!("limits.{key} must be between")),
                    "{err}"
                );
                assert!(err.contains(&format!("it is {value}")), "{err}");
            }
        }
        let too_long: FileConfig =
            toml::from_str("[limits]\nmax_frame_bytes = 4096\nmax_message_chars = 1025\n").unwrap();
        let err = Config::from_parts(&cli(&[]), too_long, "sqlite::memory:".into(), None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("max_message_chars") && err.contains("at most 1024"),
            "{err}"
        );

        let flags = [
            ("--session-idle-minutes", "0"),
            ("--session-idle-minutes", "43201"),
            ("--bench-users", "100001"),
            ("--simulator-calls-per-minute", "61"),
        ];
        for (flag, value) in flags {
            let err = Config::load(&cli(&[flag, value])).unwrap_err().to_string();
            assert!(err.starts_with(&format!("{flag} must be between")), "{err}");
        }
        let edges = cli(&[
            "--session-idle-minutes",
            "43200",
            "--bench-users",
            "100000",
            "--simulator-calls-per-minute",
            "60",
        ]);
        assert!(
            Config::load(&edges).is_ok(),
            "the bounds themselves are allowed"
        );
    }

    #[test]
    fn the_ingest_token_comes_from_a_file_or_the_environment_never_a_flag() {
        assert!(
            Cli::try_parse_from(["switchboard-server", "--ingest-token", "0123456789abcdef"])
                .is_err(),
            "a token on the command line is visible in `ps`"
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "0123456789abcdef\nignored\n").unwrap();
        let from_file = ingest_token(Some(&file), None).unwrap();
        assert_eq!(from_file.as_deref(), Some("0123456789abcdef"));
        let from_env = ingest_token(None, Some("fedcba9876543210".into())).unwrap();
        assert_eq!(from_env.as_deref(), Some("fedcba9876543210"));
        assert_eq!(ingest_token(None, None).unwrap(), None);
        assert_eq!(
            ingest_token(None, Some(String::new())).unwrap(),
            None,
            "empty is unset"
        );

        let both = ingest_token(Some(&file), Some("fedcba9876543210".into())).unwrap_err();
        assert!(both.to_string().contains("both set"), "{both}");
        let missing = dir.path().join("missing");
        let err = ingest_token(Some(&missing), None).unwrap_err().to_string();
        assert!(
            err.contains("--ingest-token-file") && err.contains("missing"),
            "{err}"
        );
        std::fs::write(&file, "short\n").unwrap();
        let err = ingest_token(Some(&file), None).unwrap_err().to_string();
        assert!(
            err.contains("--ingest-token-file") && err.contains("16"),
            "{err}"
        );
        let err = ingest_token(None, Some("short".into()))
            .unwrap_err()
            .to_string();
        assert!(err.contains(INGEST_TOKEN_ENV), "{err}");
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
