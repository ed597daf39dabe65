//! Server benchmarks: connections held (and server memory per connection), presence fan-out
//! to every held connection, and 1:1 chat at a fixed offered rate, each against a real
//! `switchboard-server` and against the bare relay; then, on the server alone, the directory
//! import and chat latency under a presence flood; writes BENCHMARKS.md (`--only` runs one
//! section and prints it). Talks only to 127.0.0.1; every scenario is bounded in time.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use switchboard_loadgen::{
    churn::{self, ChurnPlan},
    console::{self, Results},
    crowd::{self, CrowdPlan},
    federation::{self, XmppPlan, XmppRun},
    flood::{self, FloodPlan, FloodRun},
    harness::{self, ChatPlan, ChatRun, HoldPlan, HoldRun, Peer},
    import::{self, ImportRun},
    nodes::{self, NodesPlan, Topology, TopologyRun},
    pbx::{self, PbxPlan, PbxRun},
    relay::{self, RelayProcess},
    report::{self, Figure, Goal, Section},
    saturation::{self, SaturationPlan},
    server::{self, ServerProcess},
    stats::{Latency, ms, nearest_rank},
    storm::{self, StormPlan, StormRun},
    system::{self, Machine},
};
use switchboard_protocol::UserId;

/// Benchmarks of the Switchboard server against a bare WebSocket relay.
#[derive(Debug, Parser)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// The server binary (a release build).
    #[arg(long, env = "SWITCHBOARD_SERVER_BIN")]
    server: Option<PathBuf>,
    /// The report to write (text outside its generated part is kept).
    #[arg(long, default_value = "BENCHMARKS.md")]
    out: PathBuf,
    /// Runs of every scenario; the report gives their median.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Connections held at once (and watching the presence changes).
    #[arg(long, default_value_t = 10_000)]
    connections: usize,
    /// Users those connections belong to (each holds connections / watcher-users: at most
    /// a user's allowance of connections at once, 30).
    #[arg(long, default_value_t = 1_000)]
    watcher_users: usize,
    /// Presence changes fanned out per run.
    #[arg(long, default_value_t = 20)]
    changes: usize,
    /// Connections opened at once.
    #[arg(long, default_value_t = 200)]
    concurrency: usize,
    /// Chatting pairs (one connection per user).
    #[arg(long, default_value_t = 200)]
    chat_pairs: usize,
    /// Chat messages offered per second, in total.
    #[arg(long, default_value_t = 10_000)]
    chat_rate: u32,
    /// Seconds of chat measured (after one second of warm-up).
    #[arg(long, default_value_t = 5)]
    chat_seconds: u64,
    /// The console benchmark's results (tests/bench writes them), added to the report.
    #[arg(long)]
    console_results: Option<PathBuf>,
    /// Chatting pairs whose latency the presence flood section measures.
    #[arg(long, default_value_t = 20)]
    flood_pairs: usize,
    /// Their chat messages per second, in total.
    #[arg(long, default_value_t = 200)]
    flood_chat_rate: u32,
    /// Sockets the flooding user opens.
    #[arg(long, default_value_t = 20)]
    flood_sockets: usize,
    /// `set_presence` frames per second the flooder offers over all its sockets.
    #[arg(long, default_value_t = 2_000)]
    flood_rate: u32,
    /// Pairs that chat across the XMPP bridge (and, for the comparison, console to console).
    #[arg(long, default_value_t = 10)]
    xmpp_pairs: u32,
    /// Messages per second each way across the XMPP bridge, in total.
    #[arg(long, default_value_t = 200)]
    xmpp_rate: u32,
    /// Consoles that watch one XMPP user's presence.
    #[arg(long, default_value_t = 1_000)]
    xmpp_watchers: u32,
    /// Chatting pairs in the several-nodes section (with two nodes, each pair across them).
    #[arg(long, default_value_t = 100)]
    nodes_pairs: usize,
    /// The several-nodes section's ordinary load, messages/s in total.
    #[arg(long, default_value_t = 2_000)]
    nodes_offered: u32,
    /// The several-nodes section's load to find the ceiling, messages/s in total.
    #[arg(long, default_value_t = 20_000)]
    nodes_saturation: u32,
    /// Connections watching one user's presence, spread over two nodes.
    #[arg(long, default_value_t = 10_000)]
    nodes_watchers: usize,
    /// The Asterisk section: calls answered, held and transferred one after another.
    #[arg(long, default_value_t = 100)]
    pbx_calls: usize,
    /// The Asterisk section: calls waiting during the lamp storm.
    #[arg(long, default_value_t = 200)]
    pbx_queued: usize,
    /// The Asterisk section: extensions whose lamp changes once a second.
    #[arg(long, default_value_t = 2_000)]
    pbx_extensions: u32,
    /// The Asterisk section: seconds of the lamp storm.
    #[arg(long, default_value_t = 20)]
    pbx_seconds: u64,
    /// The saturation curve: offered chat loads, messages/s in total, in increasing order.
    #[arg(long, value_delimiter = ',', default_values_t = [10_000, 20_000, 30_000, 40_000, 60_000])]
    saturation_steps: Vec<u32>,
    /// The saturation curve: seconds measured per step.
    #[arg(long, default_value_t = 3)]
    saturation_seconds: u64,
    /// The reconnect storm: consoles that come back after a restart.
    #[arg(long, default_value_t = 10_000)]
    storm_consoles: usize,
    /// The reconnect storm: users they belong to.
    #[arg(long, default_value_t = 1_000)]
    storm_users: usize,
    /// Connections held, stepped up on one server.
    #[arg(long, value_delimiter = ',', default_values_t = [5_000, 10_000, 20_000, 50_000, 100_000])]
    crowd_steps: Vec<usize>,
    /// Users those connections belong to.
    #[arg(long, default_value_t = 1_000)]
    crowd_users: usize,
    /// The presence churn: consoles held, one size after another.
    #[arg(long, value_delimiter = ',', default_values_t = [10_000, 20_000])]
    churn_consoles: Vec<usize>,
    /// The presence churn: seconds measured per phase.
    #[arg(long, default_value_t = 10)]
    churn_seconds: u64,
    /// Run only this section and print its table instead of writing the report.
    #[arg(long, value_enum)]
    only: Option<Only>,
}

/// A section of the server benchmarks that can be run alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Only {
    /// Connections held, presence fan-out, 1:1 chat (against the relay too).
    Server,
    /// The chat saturation curve (against the relay too).
    Saturation,
    /// Consoles reconnecting after a server restart, with chat during the storm.
    Storm,
    /// Connections held, stepped to 100,000 on one server.
    Crowd,
    /// A company's presence churn: everyone's presence against interest only.
    Churn,
    Import,
    Flood,
    /// Chat across the XMPP bridge and presence fan-out from an XMPP user (Prosody).
    Xmpp,
    /// One node on SQLite, one on PostgreSQL, two on PostgreSQL + NATS.
    Nodes,
    /// Calls through a real Asterisk, and the busy lamp field under load.
    Pbx,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the bare relay (the bench starts it itself).
    Relay {
        #[arg(long)]
        listen: SocketAddr,
    },
    /// For the console benchmark: bench users change presence at a fixed total rate.
    PresenceStorm {
        #[arg(long)]
        addr: SocketAddr,
        /// Users bench{first}..: each changes over its own connection.
        #[arg(long, default_value_t = 20)]
        users: u32,
        #[arg(long, default_value_t = 2)]
        first: u32,
        /// Changes per second, in total.
        #[arg(long, default_value_t = 1_000)]
        rate: u32,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// For the console benchmark: one bench user sends another many messages.
    Conversation {
        #[arg(long)]
        addr: SocketAddr,
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
        #[arg(long, default_value_t = 10_000)]
        messages: u32,
    },
    /// For the console benchmark: the lamps of extensions 100001… (bench users' entries)
    /// change once a second through Asterisk's ARI (the test configuration's user).
    LampStorm {
        /// Where ARI listens (127.0.0.1).
        #[arg(long)]
        ari: SocketAddr,
        #[arg(long, default_value_t = 2_000)]
        extensions: u32,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
}

/// Runs a console benchmark's load; refuses anything but 127.0.0.1.
async fn console_load(command: Command) -> anyhow::Result<()> {
    let addr = match &command {
        Command::Relay { listen: addr }
        | Command::PresenceStorm { addr, .. }
        | Command::Conversation { addr, .. }
        | Command::LampStorm { ari: addr, .. } => *addr,
    };
    anyhow::ensure!(
        addr.ip().is_loopback(),
        "the bench speaks to 127.0.0.1 only"
    );
    match command {
        Command::Relay { listen } => {
            relay::serve(tokio::net::TcpListener::bind(listen).await?).await
        }
        Command::PresenceStorm {
            addr,
            users,
            first,
            rate,
            seconds,
        } => {
            let names: Vec<String> = (first..first + users)
                .map(|n| format!("bench{n}"))
                .collect();
            let sent = console::presence_storm(addr, &names, rate, seconds).await?;
            println!("{sent} presence changes sent");
            Ok(())
        }
        Command::LampStorm {
            ari,
            extensions,
            seconds,
        } => {
            let changes = pbx::lamp_storm(&format!("http://{ari}"), extensions, seconds).await?;
            println!("{changes} lamp changes sent");
            Ok(())
        }
        Command::Conversation {
            addr,
            from,
            to,
            messages,
        } => {
            console::conversation(addr, &from, &to, messages, 500).await?;
            println!("{messages} messages from {from} to {to} acknowledged");
            Ok(())
        }
    }
}

/// What one run measured on one target.
struct Run {
    hold: HoldRun,
    chat: ChatRun,
    /// Messages in the database after the run (Switchboard only).
    stored: Option<i64>,
}

impl Args {
    /// Connections each watcher user needs.
    fn per_user(&self) -> usize {
        self.connections.div_ceil(self.watcher_users.max(1))
    }

    /// Bench users: the watchers, the one who changes presence, the chatters.
    fn users(&self) -> usize {
        self.watcher_users + 1 + 2 * self.chat_pairs
    }

    fn hold_plan(&self) -> HoldPlan {
        HoldPlan {
            connections: self.connections,
            concurrency: self.concurrency,
            changes: self.changes,
            change_limit: Duration::from_secs(5),
            open_limit: Duration::from_secs(120),
        }
    }

    fn flood_plan(&self) -> FloodPlan {
        FloodPlan {
            pairs: self.flood_pairs,
            chat: ChatPlan {
                rate: self.flood_chat_rate,
                warmup: Duration::from_secs(1),
                measure: Duration::from_secs(self.chat_seconds),
                drain: Duration::from_secs(5),
            },
            sockets: self.flood_sockets,
            rate: self.flood_rate,
        }
    }

    fn xmpp_plan(&self) -> XmppPlan {
        XmppPlan {
            pairs: self.xmpp_pairs,
            rate: self.xmpp_rate,
            seconds: self.chat_seconds,
            watchers: self.xmpp_watchers,
            changes: 10,
        }
    }

    fn nodes_plan(&self) -> NodesPlan {
        NodesPlan {
            pairs: self.nodes_pairs,
            offered: self.nodes_offered,
            saturation: self.nodes_saturation,
            seconds: self.chat_seconds,
            watchers: self.nodes_watchers,
            // At most 10 connections per user: within a user's allowance of connections at
            // once (30), which the server section's 100 per user would exceed.
            watcher_users: self.nodes_watchers.div_ceil(10),
            changes: self.changes,
        }
    }

    fn chat_plan(&self) -> ChatPlan {
        ChatPlan {
            rate: self.chat_rate,
            warmup: Duration::from_secs(1),
            measure: Duration::from_secs(self.chat_seconds),
            drain: Duration::from_secs(5),
        }
    }
}

/// Holds the connections, fans out presence, then chats; the same for both targets.
async fn scenarios(
    addr: SocketAddr,
    pid: u32,
    peers: &[Peer],
    args: &Args,
) -> anyhow::Result<(HoldRun, ChatRun)> {
    let w = args.watcher_users;
    let hold = harness::hold(&[addr], pid, &peers[..w], &peers[w], &args.hold_plan()).await?;
    // Let the target see every held connection go before the chat starts.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let chat = harness::chat(&[addr], &peers[w + 1..], &args.chat_plan()).await?;
    Ok((hold, chat))
}

async fn run_switchboard(args: &Args, server: &Path, run: usize) -> anyhow::Result<Run> {
    let data_dir =
        std::env::temp_dir().join(format!("switchboard-bench-{}-{run}", std::process::id()));
    std::fs::create_dir_all(&data_dir)?;
    // Limits high enough that what is measured is the server, not its rate limit.
    let config = server::bench_config(&data_dir, args.chat_rate, args.per_user() + 1)?;
    let users = args.users().to_string();
    let config_arg = config.display().to_string();
    let mut process = ServerProcess::launch(
        server.to_path_buf(),
        data_dir.clone(),
        &["--bench-users", &users, "--config", &config_arg],
    )
    .await?;
    let db_url = process.database_url();
    let ids = process.bench_user_ids().await?;
    anyhow::ensure!(
        ids.len() == args.users(),
        "expected {} bench users",
        args.users()
    );
    let addr = process.addr;
    let peers = harness::sign_in_bench_users(addr, &ids).await?;
    let pid = process.pid().context("the server is not running")?;
    let (hold, chat) = scenarios(addr, pid, &peers, args).await?;
    let stored: i64 = {
        let db = sqlx::SqlitePool::connect(&db_url).await?;
        let count = sqlx::query_scalar("SELECT count(*) FROM messages")
            .fetch_one(&db)
            .await?;
        db.close().await;
        count
    };
    process.kill().await?;
    let _ = std::fs::remove_dir_all(&data_dir);
    Ok(Run {
        hold,
        chat,
        stored: Some(stored),
    })
}

async fn run_relay(args: &Args) -> anyhow::Result<Run> {
    let exe = std::env::current_exe()?;
    let relay = RelayProcess::launch(exe).await?;
    let peers: Vec<Peer> = (1..=args.users() as UserId)
        .map(|id| Peer { id, cookie: None })
        .collect();
    let pid = relay.pid().context("the relay is not running")?;
    let (hold, chat) = scenarios(relay.addr, pid, &peers, args).await?;
    Ok(Run {
        hold,
        chat,
        stored: None,
    })
}

fn summary(target: &str, run: &Run) -> String {
    let mut fan_out: Vec<u64> = run
        .hold
        .fan_out_ms
        .iter()
        .map(|ms| (ms * 1000.0) as u64)
        .collect();
    let fan_out = Latency::of_micros(&mut fan_out);
    format!(
        "{target}: held {}/{} ({} failed{}) in {:.1} s, {:.2} KiB each; fan-out p50 {:.1} ms p99 {:.1} ms ({} incomplete); \
         chat {:.0} acked/s {:.0} delivered/s, ack p50 {:.1} p99 {:.1} max {:.1} ms, deliver p50 {:.1} p99 {:.1} max {:.1} ms, \
         unacked {} undelivered {} nacks {}{}{}",
        run.hold.opened,
        run.hold.opened + run.hold.failed,
        run.hold.failed,
        run.hold
            .first_error
            .as_deref()
            .map(|e| format!(": {e}"))
            .unwrap_or_default(),
        run.hold.open_secs,
        run.hold.kib_per_connection(),
        ms(fan_out.p50),
        ms(fan_out.p99),
        run.hold.incomplete,
        run.chat.acked_per_sec,
        run.chat.delivered_per_sec,
        ms(run.chat.ack.p50),
        ms(run.chat.ack.p99),
        ms(run.chat.ack.max),
        ms(run.chat.deliver.p50),
        ms(run.chat.deliver.p99),
        ms(run.chat.deliver.max),
        run.chat.unacked,
        run.chat.undelivered,
        run.chat.nacks,
        run.chat
            .first_nack
            .as_deref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default(),
        run.stored
            .map(|s| format!(", {s} stored"))
            .unwrap_or_default(),
    )
}

/// Percentile `q` of one run's fan-out times, ms.
fn fan_out_at(run: &HoldRun, q: f64) -> f64 {
    let mut micros: Vec<u64> = run
        .fan_out_ms
        .iter()
        .map(|ms| (ms * 1000.0) as u64)
        .collect();
    micros.sort_unstable();
    nearest_rank(&micros, q).map_or(f64::NAN, |us| us as f64 / 1000.0)
}

/// One figure: name, unit, target, and how to read it from a run.
type Row = (&'static str, &'static str, Option<Goal>, fn(&Run) -> f64);

fn sections(args: &Args, switchboard: &[Run], relay: &[Run]) -> Vec<Section> {
    let figures = |rows: &[Row]| -> Vec<Figure> {
        rows.iter()
            .map(|&(name, unit, goal, take)| {
                let mut figure = Figure::new(name, unit, goal);
                figure.switchboard = switchboard.iter().map(take).collect();
                figure.relay = relay.iter().map(take).collect();
                figure
            })
            .collect()
    };
    let target = Some(Goal::AtLeast(10_000.0));
    let acked = Some(Goal::AtLeast(f64::from(args.chat_rate) * 0.99));
    vec![
        Section {
            title: "Connections held".into(),
            about: format!(
                "{} WebSocket connections opened ({} at a time) and held, {} per signed-in user \
                 over {} users; each has finished its hello (Switchboard: welcome, presence, \
                 directory, calls and chat-list snapshots). Memory is the server's (or relay's) \
                 VmRSS after the opening minus before it, over the connections held.",
                args.connections,
                args.concurrency,
                args.per_user(),
                args.watcher_users
            ),
            figures: figures(&[
                ("connections held", "count", target, |r| {
                    r.hold.opened as f64
                }),
                ("time to open them all", "s", None, |r| r.hold.open_secs),
                ("server memory per connection", "KiB", None, |r| {
                    r.hold.kib_per_connection()
                }),
                (
                    "largest hello frame (the directory snapshot)",
                    "KiB",
                    None,
                    |r| r.hold.largest_hello_frame as f64 / 1024.0,
                ),
            ]),
        },
        Section {
            title: "Presence fan-out".into(),
            about: format!(
                "One connection sends `set_presence` {} times per run (100 ms apart); each time \
                 until the last of the held connections has decoded the `presence` frame. p50 \
                 and p99 are over one run's changes (with {} changes the p99 is nearly the \
                 slowest); the median is over runs.",
                args.changes, args.changes
            ),
            figures: figures(&[
                ("watchers reached", "count", target, |r| {
                    r.hold.opened as f64
                }),
                ("time until the last has it, p50", "ms", None, |r| {
                    fan_out_at(&r.hold, 0.5)
                }),
                (
                    "time until the last has it, p99",
                    "ms",
                    Some(Goal::Below(200.0)),
                    |r| fan_out_at(&r.hold, 0.99),
                ),
                (
                    "changes that did not reach everyone within 5 s",
                    "count",
                    None,
                    |r| r.hold.incomplete as f64,
                ),
            ]),
        },
        Section {
            title: "1:1 chat".into(),
            about: format!(
                "{} pairs, one connection per user, each sending to its partner so that together \
                 they offer {} messages/s (open loop: a message is sent on time whatever the \
                 answers). Rates count acknowledgements and partner deliveries received in the \
                 {} s window after 1 s of warm-up; latencies are of the messages sent in that \
                 window. Switchboard acknowledges only after the commit (SQLite, WAL, \
                 synchronous = FULL); the relay at once. After the run, Switchboard's database \
                 holds every acknowledged message (`stored` below).",
                args.chat_pairs, args.chat_rate, args.chat_seconds
            ),
            figures: figures(&[
                ("acknowledged", "msgs/s", acked, |r| r.chat.acked_per_sec),
                ("delivered to the partner", "msgs/s", None, |r| {
                    r.chat.delivered_per_sec
                }),
                ("send → ack p50", "ms", None, |r| ms(r.chat.ack.p50)),
                ("send → ack p99", "ms", Some(Goal::Below(50.0)), |r| {
                    ms(r.chat.ack.p99)
                }),
                ("send → ack max", "ms", None, |r| ms(r.chat.ack.max)),
                ("send → partner p50", "ms", None, |r| {
                    ms(r.chat.deliver.p50)
                }),
                ("send → partner p99", "ms", None, |r| {
                    ms(r.chat.deliver.p99)
                }),
                ("send → partner max", "ms", None, |r| {
                    ms(r.chat.deliver.max)
                }),
                ("unacknowledged after a 5 s drain", "msgs", None, |r| {
                    r.chat.unacked as f64
                }),
                ("sent", "msgs", None, |r| r.chat.sent as f64),
                ("stored in the database", "msgs", None, |r| {
                    r.stored.map_or(f64::NAN, |s| s as f64)
                }),
            ]),
        },
    ]
}

/// The reconnect storm figures (Switchboard only: the relay keeps no state to resync).
fn storm_section(plan: &StormPlan, runs: &[StormRun]) -> Section {
    let figure = |name: &str, unit: &str, goal, take: fn(&StormRun) -> f64| {
        let mut figure = Figure::new(name, unit, goal);
        figure.switchboard = runs.iter().map(take).collect();
        figure
    };
    Section {
        title: "Reconnect storm".into(),
        about: format!(
            "{} consoles ({} per user over {} users) hold their connection; the server is \
             SIGKILLed and started again on the same port and database, and every console \
             reconnects as the console does (exponential backoff from 0.5 s to 10 s with \
             jitter, the first wait included) until its hello is done: welcome, presence, \
             directory, calls and chat list. Times are from the kill. Meanwhile {} pairs chat \
             at {} messages/s in total, on connections opened once the server answers.",
            plan.consoles,
            plan.consoles.div_ceil(plan.users.max(1)),
            plan.users,
            plan.chat_pairs,
            plan.chat_rate
        ),
        figures: vec![
            figure(
                "consoles back with fresh snapshots",
                "count",
                Some(Goal::AtLeast(plan.consoles as f64)),
                |r| r.back as f64,
            ),
            figure("server answering again", "s", None, |r| r.ready_secs),
            figure("half of the consoles back", "s", None, |r| r.half_back_secs),
            figure("every console back", "s", None, |r| r.all_back_secs),
            figure("failed connection attempts", "count", None, |r| {
                r.failed_attempts as f64
            }),
            figure("chat during the storm: acknowledged", "msgs/s", None, |r| {
                r.chat.acked_per_sec
            }),
            figure("chat during the storm: send → ack p50", "ms", None, |r| {
                ms(r.chat.ack.p50)
            }),
            figure(
                "chat during the storm: send → ack p99",
                "ms",
                Some(Goal::Below(50.0)),
                |r| ms(r.chat.ack.p99),
            ),
        ],
    }
}

/// The directory import figures (Switchboard only: the relay has no directory).
fn import_section(runs: &[ImportRun]) -> Section {
    let figure = |name: &str, unit: &str, take: fn(&ImportRun) -> f64| {
        let mut figure = Figure::new(name, unit, None);
        figure.switchboard = runs.iter().map(take).collect();
        figure
    };
    Section {
        title: "Directory import".into(),
        about: format!(
            "`switchboard-server directory import` (release build) of a {} -row CSV file (11 \
             columns, 4 numbers per person) into a fresh database, then the same file with {} \
             rows changed. Times are the whole command (start, migrations, parse, one \
             transaction, commit); memory is the command's peak resident memory (VmHWM).",
            import::ROWS,
            import::CHANGED
        ),
        figures: vec![
            figure("import of 100,000 new entries", "s", |r| r.full_secs),
            figure("peak memory of that import", "MiB", |r| r.full_peak_mib),
            figure("re-import with 100 entries changed", "s", |r| r.delta_secs),
        ],
    }
}

fn flood_summary(run: &FloodRun) -> String {
    format!(
        "ack p50/p99 quiet {:.1}/{:.1} ms, flood {:.1}/{:.1} ms (p99 ratio {:.2}); flood acked \
         {:.0}/s, unacked {}, nacks {}; flooder wrote {} frames, got {} errors, {} closes, {} \
         refused openings, {} reopenings",
        ms(run.idle.ack.p50),
        ms(run.idle.ack.p99),
        ms(run.flood.ack.p50),
        ms(run.flood.ack.p99),
        run.p99_ratio(),
        run.flood.acked_per_sec,
        run.flood.unacked,
        run.flood.nacks,
        run.sent,
        run.errors,
        run.closed,
        run.refused,
        run.reopened
    )
}

/// The presence flood figures (Switchboard only: the relay has no allowances to enforce).
fn flood_section(args: &Args, runs: &[FloodRun]) -> Section {
    let figure = |name: &str, unit: &str, goal: Option<Goal>, take: fn(&FloodRun) -> f64| {
        let mut figure = Figure::new(name, unit, goal);
        figure.switchboard = runs.iter().map(take).collect();
        figure
    };
    Section {
        title: "Presence flood".into(),
        about: format!(
            "{} pairs chat at {} messages/s in total ({} s measured after 1 s of warm-up), \
             first on a quiet server, then on the same server while one other user sends \
             `set_presence` over {} sockets, {} frames/s in all. The server answers frames \
             past a user's allowance with `error` frames, then closes the socket (1008) and \
             refuses openings past the user's connection allowance; the flooder opens a closed \
             socket again 250 ms later and floods on until the window ends. Latencies are the \
             chatters' send → ack; the target is the flood's p99 within twice the quiet one.",
            args.flood_pairs,
            args.flood_chat_rate,
            args.chat_seconds,
            args.flood_sockets,
            args.flood_rate
        ),
        figures: vec![
            figure("quiet: send → ack p50", "ms", None, |r| {
                ms(r.idle.ack.p50)
            }),
            figure("quiet: send → ack p99", "ms", None, |r| {
                ms(r.idle.ack.p99)
            }),
            figure("flood: send → ack p50", "ms", None, |r| {
                ms(r.flood.ack.p50)
            }),
            figure("flood: send → ack p99", "ms", None, |r| {
                ms(r.flood.ack.p99)
            }),
            figure(
                "flood p99 over quiet p99",
                "ratio",
                Some(Goal::Below(2.0)),
                FloodRun::p99_ratio,
            ),
            figure("flood: acknowledged", "msgs/s", None, |r| {
                r.flood.acked_per_sec
            }),
            figure(
                "flood: unacknowledged after a 5 s drain",
                "msgs",
                None,
                |r| r.flood.unacked as f64,
            ),
            figure("presence frames the flooder wrote", "frames", None, |r| {
                r.sent as f64
            }),
            figure("`error` frames it got", "frames", None, |r| r.errors as f64),
            figure("its sockets the server closed", "count", None, |r| {
                r.closed as f64
            }),
            figure("openings the server refused", "count", None, |r| {
                r.refused as f64
            }),
        ],
    }
}

fn xmpp_summary(run: &XmppRun) -> String {
    format!(
        "console→console p50/p99 {:.1}/{:.1} ms ({:.0}/s); console→XMPP {:.1}/{:.1} ms \
         ({:.0}/s); XMPP→console {:.1}/{:.1} ms ({:.0}/s); undelivered {}; presence ({} \
         samples) p50/p99 {:.1}/{:.1} ms",
        ms(run.local.deliver.p50),
        ms(run.local.deliver.p99),
        run.local.delivered_per_sec,
        ms(run.to_xmpp.p50),
        ms(run.to_xmpp.p99),
        run.to_xmpp_per_sec,
        ms(run.from_xmpp.p50),
        ms(run.from_xmpp.p99),
        run.from_xmpp_per_sec,
        run.undelivered,
        run.fanout.count,
        ms(run.fanout.p50),
        ms(run.fanout.p99),
    )
}

/// The XMPP bridge figures (Switchboard only: the relay has no bridge).
fn xmpp_section(plan: &XmppPlan, runs: &[XmppRun]) -> Section {
    let figure = |name: &str, unit: &str, take: fn(&XmppRun) -> f64| {
        let mut figure = Figure::new(name, unit, None);
        figure.switchboard = runs.iter().map(take).collect();
        figure
    };
    Section {
        title: "Federation over XMPP".into(),
        about: format!(
            "Debian's Prosody on 127.0.0.1 and Switchboard as its component; XMPP users are \
             slixmpp clients (Python, one process each). {} pairs chat at {} messages/s in \
             total each way for {} s: first console → console on the same server (the \
             comparison), then each console with its XMPP user, both ways at once. Latency is \
             the sender's send → the recipient has the message (console or XMPP client); \
             then one XMPP user changes presence {} times, 500 ms apart, watched by {} consoles \
             (a sample per console and change). The XMPP side's clients share the machine's \
             cores with Prosody, the server and the load generator.",
            plan.pairs, plan.rate, plan.seconds, plan.changes, plan.watchers
        ),
        figures: vec![
            figure("console → console p50", "ms", |r| ms(r.local.deliver.p50)),
            figure("console → console p99", "ms", |r| ms(r.local.deliver.p99)),
            figure("console → console delivered", "msgs/s", |r| {
                r.local.delivered_per_sec
            }),
            figure("console → XMPP p50", "ms", |r| ms(r.to_xmpp.p50)),
            figure("console → XMPP p99", "ms", |r| ms(r.to_xmpp.p99)),
            figure("console → XMPP delivered", "msgs/s", |r| {
                r.to_xmpp_per_sec
            }),
            figure("XMPP → console p50", "ms", |r| ms(r.from_xmpp.p50)),
            figure("XMPP → console p99", "ms", |r| ms(r.from_xmpp.p99)),
            figure("XMPP → console delivered", "msgs/s", |r| {
                r.from_xmpp_per_sec
            }),
            figure("undelivered after a 5 s drain", "msgs", |r| {
                r.undelivered as f64
            }),
            figure("presence change → console p50", "ms", |r| {
                ms(r.fanout.p50)
            }),
            figure("presence change → console p99", "ms", |r| {
                ms(r.fanout.p99)
            }),
            figure("presence samples (consoles × changes)", "count", |r| {
                r.fanout.count as f64
            }),
        ],
    }
}

/// The Asterisk figures (Switchboard only: the relay has no telephone system).
fn pbx_section(plan: &PbxPlan, runs: &[PbxRun]) -> Section {
    let figure = |name: &str, unit: &str, take: fn(&PbxRun) -> f64| {
        let mut figure = Figure::new(name, unit, None);
        figure.switchboard = runs.iter().map(take).collect();
        figure
    };
    Section {
        title: "Calls through Asterisk".into(),
        about: format!(
            "A real Asterisk 22 (scripts/asterisk.sh) on 127.0.0.1 with the test dialplan \
             (tests/asterisk/); the operator's telephone is a Local channel the dialplan answers. \
             {} calls one after another: click (the frame sent) → the call confirmed in its new \
             state on the operator's console, for Answer (Asterisk dials the operator's \
             telephone and bridges it), Hold and Transfer (the target is dialled). Then {} calls \
             wait in the queue while each of {} extensions (Stasis device states set through \
             ARI by the load generator, 32 requests at a time) changes its lamp once a second \
             for {} s: server CPU over that time, and the lamps frames the operator's console \
             received (changes are gathered and sent 5 times a second).",
            plan.calls, plan.queued, plan.extensions, plan.seconds
        ),
        figures: vec![
            figure("Answer click → confirmed p50", "ms", |r| ms(r.answer.p50)),
            figure("Answer click → confirmed p99", "ms", |r| ms(r.answer.p99)),
            figure("Hold click → confirmed p50", "ms", |r| ms(r.hold.p50)),
            figure("Hold click → confirmed p99", "ms", |r| ms(r.hold.p99)),
            figure("Transfer click → confirmed p50", "ms", |r| {
                ms(r.transfer.p50)
            }),
            figure("Transfer click → confirmed p99", "ms", |r| {
                ms(r.transfer.p99)
            }),
            figure("lamp changes during the storm", "changes/s", |r| {
                r.lamp_changes_per_s
            }),
            figure("server CPU during the storm", "% of a core", |r| {
                r.storm_cpu_percent
            }),
            figure("lamps frames to the operator", "frames/s", |r| {
                r.lamp_frames_per_s
            }),
        ],
    }
}

fn nodes_summary(run: &TopologyRun) -> String {
    let fan_out = run.fan_out.as_ref().map_or(String::new(), |hold| {
        format!(
            "; fan-out to {} p50/p99 {:.1}/{:.1} ms ({} not opened in {:.0} s: {})",
            hold.opened,
            fan_out_at(hold, 0.50),
            fan_out_at(hold, 0.99),
            hold.failed,
            hold.open_secs,
            hold.first_error.as_deref().unwrap_or("no error"),
        )
    });
    format!(
        "offered {:.0}/s: acked {:.0}/s, ack p50/p99 {:.2}/{:.2} ms, delivery p50/p99 {:.2}/{:.2} \
         ms, unacked {}; offered {:.0}/s: acked {:.0}/s, ack p99 {:.0} ms, unacked {}{fan_out}",
        run.offered.offered_per_sec,
        run.offered.acked_per_sec,
        ms(run.offered.ack.p50),
        ms(run.offered.ack.p99),
        ms(run.offered.deliver.p50),
        ms(run.offered.deliver.p99),
        run.offered.unacked,
        run.saturated.offered_per_sec,
        run.saturated.acked_per_sec,
        ms(run.saturated.ack.p99),
        run.saturated.unacked,
    )
}

/// The several-nodes figures: each topology's, with the relay's in the same runs beside.
fn nodes_section(plan: &NodesPlan, runs: &[Vec<TopologyRun>]) -> Section {
    let relay = &runs[Topology::ALL.len()];
    let mut figures = Vec::new();
    let mut figure =
        |name: String, unit: &str, take: &dyn Fn(&TopologyRun) -> f64, of: &[TopologyRun]| {
            let mut figure = Figure::new(name, unit, None);
            figure.switchboard = of.iter().map(take).collect();
            figure.relay = relay.iter().map(take).collect();
            figures.push(figure);
        };
    for (topology, of) in Topology::ALL.into_iter().zip(runs) {
        let name = topology.name();
        let offered = plan.offered;
        figure(
            format!("{name}: acked at {offered} offered"),
            "msgs/s",
            &|r| r.offered.acked_per_sec,
            of,
        );
        figure(
            format!("{name}: ack p50 at {offered} offered"),
            "ms",
            &|r| ms(r.offered.ack.p50),
            of,
        );
        figure(
            format!("{name}: ack p99 at {offered} offered"),
            "ms",
            &|r| ms(r.offered.ack.p99),
            of,
        );
        figure(
            format!("{name}: delivery p50 at {offered} offered"),
            "ms",
            &|r| ms(r.offered.deliver.p50),
            of,
        );
        figure(
            format!("{name}: delivery p99 at {offered} offered"),
            "ms",
            &|r| ms(r.offered.deliver.p99),
            of,
        );
        let saturation = plan.saturation;
        figure(
            format!("{name}: acked at {saturation} offered"),
            "msgs/s",
            &|r| r.saturated.acked_per_sec,
            of,
        );
        figure(
            format!("{name}: ack p99 at {saturation} offered"),
            "ms",
            &|r| ms(r.saturated.ack.p99),
            of,
        );
        if topology == Topology::PostgresTwo {
            let hold =
                |r: &TopologyRun, q| r.fan_out.as_ref().map_or(0.0, |hold| fan_out_at(hold, q));
            figure(
                format!("{name}: presence to {} watchers p50", plan.watchers),
                "ms",
                &|r| hold(r, 0.50),
                of,
            );
            figure(
                format!("{name}: presence to {} watchers p99", plan.watchers),
                "ms",
                &|r| hold(r, 0.99),
                of,
            );
        }
    }
    Section {
        title: "Several nodes".into(),
        about: format!(
            "The same chat against one node on SQLite, one node on PostgreSQL (Debian's, \
             127.0.0.1, default settings: synchronous_commit on) and two nodes on PostgreSQL \
             joined by nats-server (Debian's): {} pairs, one connection each, at {} and at {} \
             messages/s offered in total (open loop), {} s measured after 1 s of warm-up; with \
             two nodes the two users of every pair are on different nodes, so every delivery \
             crosses the bus. Then one user's presence changes {} times, watched by {} \
             connections spread evenly over the two nodes. The relay column is the bare relay \
             in the same run under the same load (one process: the limit of this machine and \
             load generator). Release builds; everything shares the machine's cores.",
            plan.pairs, plan.offered, plan.saturation, plan.seconds, plan.changes, plan.watchers
        ),
        figures,
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(command) = args.command {
        return console_load(command).await;
    }
    let server = args
        .server
        .clone()
        .context("--server (or SWITCHBOARD_SERVER_BIN) is required")?;
    anyhow::ensure!(
        args.runs >= 1 && args.watcher_users >= 1 && args.chat_pairs >= 1,
        "runs, watcher users and chat pairs must be at least 1"
    );
    let wants = |section: Only| args.only.is_none_or(|only| only == section);
    let machine = Machine::describe();
    let mut all = Vec::new();
    if wants(Only::Server) {
        // Both ends of every connection live on this machine: the bench holds one side, the
        // target (which inherits this limit) the other.
        let needed = (args.connections + 2 * args.chat_pairs + 1_000) as u64;
        let limit = system::open_files_limit()?;
        anyhow::ensure!(
            limit >= needed,
            "the open-files limit is {limit}, {needed} are needed: raise it first (`ulimit -n {needed}`; `make bench` does)"
        );
        let mut switchboard = Vec::new();
        let mut relay = Vec::new();
        for run in 1..=args.runs {
            let sb = run_switchboard(&args, &server, run)
                .await
                .with_context(|| format!("Switchboard run {run}"))?;
            println!("run {run}/{}: {}", args.runs, summary("switchboard", &sb));
            switchboard.push(sb);
            let r = run_relay(&args)
                .await
                .with_context(|| format!("relay run {run}"))?;
            println!("run {run}/{}: {}", args.runs, summary("relay", &r));
            relay.push(r);
        }
        all.extend(sections(&args, &switchboard, &relay));
    }
    let command = std::env::var("BENCH_COMMAND")
        .unwrap_or_else(|_| std::env::args().collect::<Vec<_>>().join(" "));
    let mut notes = vec![
        format!(
            "the load generator, the server and the relay share this machine's {} cores: every \
             figure includes the load generator's own work (it reads and decodes every frame \
             it counts), which is why the relay, not the machine's theory, is the limit (the \
             \"limit\" columns; the console's limit is a plain page, see its sections)",
            machine.cores
        ),
        "everything runs on 127.0.0.1; a fresh server (new database) and a fresh relay process per run; runs alternate Switchboard, relay".into(),
        format!("{} runs per target; the table gives the median and every run in order", args.runs),
    ];
    if wants(Only::Saturation) {
        let plan = SaturationPlan {
            pairs: args.chat_pairs,
            steps: args.saturation_steps.clone(),
            seconds: args.saturation_seconds,
        };
        let (mut switchboard, mut relay) = (Vec::new(), Vec::new());
        for run in 1..=args.runs {
            let curve = saturation::switchboard(&server, &plan)
                .await
                .with_context(|| format!("saturation run {run}"))?;
            println!(
                "saturation run {run}/{}: switchboard {}",
                args.runs,
                curve.summary()
            );
            switchboard.push(curve);
            let curve = saturation::relay(&plan)
                .await
                .with_context(|| format!("relay saturation run {run}"))?;
            println!(
                "saturation run {run}/{}: relay {}",
                args.runs,
                curve.summary()
            );
            relay.push(curve);
        }
        all.push(saturation::section(&plan, &switchboard, &relay));
    }
    if wants(Only::Storm) {
        let plan = StormPlan {
            consoles: args.storm_consoles,
            users: args.storm_users,
            chat_pairs: 20,
            chat_rate: 200,
            limit: Duration::from_secs(120),
        };
        let mut runs = Vec::new();
        for run in 1..=args.runs {
            let figures = storm::run(&server, &plan)
                .await
                .with_context(|| format!("reconnect storm run {run}"))?;
            println!("reconnect storm run {run}/{}: {figures:?}", args.runs);
            runs.push(figures);
        }
        all.push(storm_section(&plan, &runs));
    }
    if wants(Only::Crowd) {
        let plan = CrowdPlan {
            steps: args.crowd_steps.clone(),
            users: args.crowd_users,
            concurrency: args.concurrency,
            changes: 5,
        };
        let (steps, cut) = crowd::fitting_steps(&plan.steps)?;
        let mut runs = Vec::new();
        for run in 1..=args.runs {
            let figures = crowd::run(&server, &plan, &steps)
                .await
                .with_context(|| format!("crowd run {run}"))?;
            runs.push(figures);
        }
        all.push(crowd::section(&plan, &steps, cut.as_deref(), &runs));
    }
    if wants(Only::Churn) {
        let (sizes, cut) = crowd::fitting_steps(&args.churn_consoles)?;
        let plan = ChurnPlan {
            sizes,
            people: 2_000,
            accounts: 1_000,
            watched: 50,
            changers: 100,
            minutes_per_change: 10.0,
            seconds: args.churn_seconds,
        };
        let mut runs = Vec::new();
        for run in 1..=args.runs {
            let figures = churn::run(&server, &plan)
                .await
                .with_context(|| format!("churn run {run}"))?;
            runs.push(figures);
        }
        all.push(churn::section(&plan, cut.as_deref(), &runs));
    }
    if wants(Only::Import) {
        let mut imports = Vec::new();
        for run in 1..=args.runs {
            let figures = import::run(&server)
                .await
                .with_context(|| format!("import run {run}"))?;
            println!("import run {run}/{}: {figures:?}", args.runs);
            imports.push(figures);
        }
        all.push(import_section(&imports));
    }
    if wants(Only::Flood) {
        let mut floods = Vec::new();
        for run in 1..=args.runs {
            let figures = flood::run(&server, &args.flood_plan())
                .await
                .with_context(|| format!("presence flood run {run}"))?;
            println!(
                "presence flood run {run}/{}: {}",
                args.runs,
                flood_summary(&figures)
            );
            floods.push(figures);
        }
        all.push(flood_section(&args, &floods));
    }
    if wants(Only::Xmpp) {
        let plan = args.xmpp_plan();
        let mut runs = Vec::new();
        for run in 1..=args.runs {
            let figures = federation::run(&server, &plan)
                .await
                .with_context(|| format!("XMPP run {run}"))?;
            println!("XMPP run {run}/{}: {}", args.runs, xmpp_summary(&figures));
            runs.push(figures);
        }
        all.push(xmpp_section(&plan, &runs));
    }
    if wants(Only::Nodes) {
        let plan = args.nodes_plan();
        let mut runs: Vec<Vec<TopologyRun>> = vec![Vec::new(); Topology::ALL.len() + 1];
        for run in 1..=args.runs {
            for (at, topology) in Topology::ALL.into_iter().enumerate() {
                let figures = nodes::run(&server, topology, &plan)
                    .await
                    .with_context(|| format!("{} run {run}", topology.name()))?;
                println!(
                    "{} run {run}/{}: {}",
                    topology.name(),
                    args.runs,
                    nodes_summary(&figures)
                );
                runs[at].push(figures);
            }
            let relay = RelayProcess::launch(std::env::current_exe()?).await?;
            let peers: Vec<Peer> = (1..=(plan.watcher_users + 1 + 2 * plan.pairs) as UserId)
                .map(|id| Peer { id, cookie: None })
                .collect();
            let pid = relay.pid().context("the relay is not running")?;
            let figures = nodes::scenarios(&[relay.addr], pid, &peers, &plan, true).await?;
            println!("relay run {run}/{}: {}", args.runs, nodes_summary(&figures));
            runs[Topology::ALL.len()].push(figures);
        }
        all.push(nodes_section(&plan, &runs));
    }
    if wants(Only::Pbx) {
        let plan = PbxPlan {
            calls: args.pbx_calls,
            queued: args.pbx_queued,
            extensions: args.pbx_extensions,
            seconds: args.pbx_seconds,
        };
        let mut runs = Vec::new();
        for run in 1..=args.runs {
            let figures = pbx::run(&server, &plan)
                .await
                .with_context(|| format!("Asterisk run {run}"))?;
            println!("Asterisk run {run}/{}: {figures:?}", args.runs);
            runs.push(figures);
        }
        all.push(pbx_section(&plan, &runs));
    }
    if args.only.is_some() {
        println!("{}", report::render(&machine, &command, &notes, &all));
        return Ok(());
    }
    if let Some(path) = &args.console_results {
        let console = Results::read(path)?;
        notes.extend(console.notes.iter().cloned());
        all.extend(console.sections());
    }
    let generated = report::render(&machine, &command, &notes, &all);
    let existing = std::fs::read_to_string(&args.out).unwrap_or_default();
    std::fs::write(&args.out, report::splice(&existing, &generated))?;
    println!("wrote {}", args.out.display());
    Ok(())
}
