//! Soak test: thousands of consoles on one real server for minutes, with presence churn, chat,
//! reconnects and sign-outs. The server's memory, open files, threads and tasks, measured once
//! every console is connected and again after a settle at the end, must stay within the
//! bounds below, and no console may get an error frame, a refused message or a close it did
//! not ask for. Talks only to 127.0.0.1; every loop is bounded in count and time.

use std::{
    fmt,
    net::SocketAddr,
    path::PathBuf,
    process::ExitCode,
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use anyhow::{Context, bail};
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use rand::{Rng, SeedableRng, rngs::StdRng};
use switchboard_loadgen::{
    client,
    harness::{self, Peer, Socket},
    server::ServerProcess,
    system,
};
use switchboard_protocol::{ClientFrame, PresenceState, ServerFrame, UserId};
use tokio::{
    sync::{Semaphore, mpsc, watch},
    time::{Instant, MissedTickBehavior, sleep, timeout},
};
use tokio_tungstenite::tungstenite::{self, Message};

/// Soak test of a server holding thousands of consoles.
#[derive(Debug, Parser)]
struct Args {
    /// The server binary (a release build).
    #[arg(long, env = "SWITCHBOARD_SERVER_BIN")]
    server: PathBuf,
    /// Seconds of churn (the opening and the settles come on top).
    #[arg(long, default_value_t = 600)]
    seconds: u64,
    /// Consoles connected at once, each with its own session.
    #[arg(long, default_value_t = 2_000)]
    consoles: usize,
    /// Bench users they sign in as: console n is bench{n % users + 1}, so by default every
    /// user has two consoles open, like two tabs.
    #[arg(long, default_value_t = 1_000)]
    users: usize,
    /// Presence changes per second, all consoles together (each is fanned out to every one).
    #[arg(long, default_value_t = 5.0)]
    presence_rate: f64,
    /// Chat messages per second, all consoles together.
    #[arg(long, default_value_t = 20.0)]
    chat_rate: f64,
    /// Reconnects (close the socket, open a new one, hello) per second, all together.
    #[arg(long, default_value_t = 2.0)]
    reconnect_rate: f64,
    /// Sign-outs (then sign in again and reconnect) per second, all together.
    #[arg(long, default_value_t = 0.5)]
    sign_out_rate: f64,
    /// Seconds of quiet before each measurement.
    #[arg(long, default_value_t = 20)]
    settle: u64,
}

/// How far a figure may grow from the first measurement to the last:
/// `first × (1 + growth) + slack`.
struct Bound {
    growth: f64,
    slack: u64,
}

impl Bound {
    fn allows(&self, first: u64, last: u64) -> bool {
        last as f64 <= first as f64 * (1.0 + self.growth) + self.slack as f64
    }
}

/// Resident memory, +25%: the same consoles are connected at both measurements, so what may
/// grow is what the allocator keeps of freed memory and caches that fill as the run goes. A
/// leak of one reconnect's hello (the directory and presence snapshots, some 100 KiB) at each
/// of the ~1,500 reconnects and sign-outs of the default run would exceed it many times over.
const RSS: Bound = Bound {
    growth: 0.25,
    slack: 0,
};
/// Open files, +5%: one socket per console at both measurements plus the database's files; 5%
/// (100 with 2,000 consoles) is room for pooled database connections opened on demand, far
/// below one descriptor left behind per reconnect or sign-out.
const FDS: Bound = Bound {
    growth: 0.05,
    slack: 0,
};
/// Threads, +4: tokio's workers are fixed and its blocking threads (password hashing, the
/// database) exit after 10 s idle, which the settle outlasts; four is room for ones that
/// happen to be busy at the measurement.
const THREADS: Bound = Bound {
    growth: 0.0,
    slack: 4,
};
/// Tokio tasks (`GET /metrics`), +5%: the same consoles hold the same tasks at both
/// measurements; one task left behind per reconnect or sign-out would be far more.
const TASKS: Bound = Bound {
    growth: 0.05,
    slack: 0,
};

/// Consoles signing in and opening at once.
const OPENING: usize = 32;
/// Longest the opening of every console may take.
const OPEN_LIMIT: Duration = Duration::from_secs(300);
/// Longest one step of a console may take (a sign-in, a close handshake, acks awaited).
const STEP_LIMIT: Duration = Duration::from_secs(15);
/// Progress is printed this often during the churn.
const REPORT_EVERY: Duration = Duration::from_secs(60);
/// Close code the server ends a signed-out session's sockets with.
const SIGNED_OUT: u16 = 4001;

/// What the churn asks a console to do.
#[derive(Debug, Clone, Copy)]
enum Action {
    Presence,
    Chat,
    Reconnect,
    SignOut,
}

/// Totals of every console.
#[derive(Default)]
struct Counts {
    connected: AtomicUsize,
    /// Actions handed to consoles and not finished yet.
    pending: AtomicUsize,
    presence: AtomicU64,
    chats: AtomicU64,
    acks: AtomicU64,
    reconnects: AtomicU64,
    sign_outs: AtomicU64,
    /// Actions not handed out because the console was still busy with the one before.
    skipped: AtomicU64,
    problems: AtomicU64,
}

/// Problems printed; the rest are only counted.
const PRINTED_PROBLEMS: u64 = 20;

impl Counts {
    fn problem(&self, what: String) {
        if self.problems.fetch_add(1, Ordering::AcqRel) < PRINTED_PROBLEMS {
            eprintln!("soak: problem: {what}");
        }
    }

    fn line(&self) -> String {
        let get = |count: &AtomicU64| count.load(Ordering::Acquire);
        format!(
            "{} presence changes, {} chats ({} acknowledged), {} reconnects, {} sign-outs, {} \
             skipped (console busy), {} problems",
            get(&self.presence),
            get(&self.chats),
            get(&self.acks),
            get(&self.reconnects),
            get(&self.sign_outs),
            get(&self.skipped),
            get(&self.problems)
        )
    }
}

/// One simulated console: a session and its socket.
struct Console {
    addr: SocketAddr,
    me: UserId,
    username: String,
    cookie: String,
    socket: Socket,
    /// Everyone it may chat with.
    users: Arc<Vec<UserId>>,
    rng: StdRng,
    presence: usize,
    /// Messages sent on this socket and not acknowledged yet.
    unacked: u64,
    /// Counted in [`Counts::connected`].
    online: bool,
    counts: Arc<Counts>,
}

impl Console {
    /// Signs in as `username` and opens a socket.
    async fn open(
        addr: SocketAddr,
        me: UserId,
        username: String,
        users: Arc<Vec<UserId>>,
        counts: Arc<Counts>,
    ) -> anyhow::Result<Self> {
        let cookie = client::sign_in(addr, &username, "bench").await?;
        let socket = harness::open(addr, &peer(me, &cookie)).await?;
        counts.connected.fetch_add(1, Ordering::AcqRel);
        Ok(Console {
            addr,
            me,
            rng: StdRng::seed_from_u64(me as u64),
            username,
            cookie,
            socket,
            users,
            presence: 0,
            unacked: 0,
            online: true,
            counts,
        })
    }

    /// Reads frames and does what it is asked until `stop`.
    async fn run(mut self, mut actions: mpsc::Receiver<Action>, mut stop: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = stop.changed() => break,
                Some(action) = actions.recv() => {
                    let done = self.act(action).await;
                    self.counts.pending.fetch_sub(1, Ordering::AcqRel);
                    if let Err(err) = done {
                        self.counts.problem(format!("{}: {action:?}: {err:#}", self.username));
                        if self.reopen().await.is_err() {
                            return;
                        }
                    }
                }
                message = self.socket.next() => {
                    if let Err(err) = self.read(message) {
                        self.counts.problem(format!("{}: {err:#}", self.username));
                        if self.reopen().await.is_err() {
                            return;
                        }
                    }
                }
            }
        }
        if self.unacked > 0 {
            let unacked = self.unacked;
            self.counts.problem(format!(
                "{}: {unacked} messages unacknowledged",
                self.username
            ));
        }
        let _ = timeout(STEP_LIMIT, self.socket.close(None)).await;
    }

    /// Checks one incoming message; an error for anything a console should never get.
    fn read(&mut self, message: Option<Result<Message, tungstenite::Error>>) -> anyhow::Result<()> {
        match message {
            Some(Ok(Message::Text(text))) => {
                // Presence changes are the bulk of what arrives: not decoded.
                if text.starts_with(harness::PRESENCE) {
                    return Ok(());
                }
                match ServerFrame::decode(&text).context("undecodable frame")? {
                    ServerFrame::ChatAck { .. } => {
                        self.unacked = self.unacked.saturating_sub(1);
                        self.counts.acks.fetch_add(1, Ordering::AcqRel);
                    }
                    ServerFrame::ChatNack { reason, .. } => bail!("message refused: {reason:?}"),
                    ServerFrame::Error { code, message } => {
                        bail!("error frame: {code:?}: {message}")
                    }
                    _ => {}
                }
                Ok(())
            }
            Some(Ok(Message::Close(frame))) => bail!("closed by the server: {frame:?}"),
            Some(Ok(_)) => Ok(()),
            Some(Err(err)) => bail!("connection lost: {err}"),
            None => bail!("connection lost"),
        }
    }

    /// Notes whether the console holds an open socket (after its hello) or is between two.
    fn set_online(&mut self, online: bool) {
        if online != self.online {
            self.online = online;
            if online {
                self.counts.connected.fetch_add(1, Ordering::AcqRel);
            } else {
                self.counts.connected.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }

    async fn send(&mut self, frame: &ClientFrame) -> anyhow::Result<()> {
        Ok(self.socket.send(Message::text(frame.encode())).await?)
    }

    async fn act(&mut self, action: Action) -> anyhow::Result<()> {
        match action {
            Action::Presence => {
                self.presence = (self.presence + 1) % PresenceState::SELECTABLE.len();
                let state = PresenceState::SELECTABLE[self.presence];
                self.send(&ClientFrame::SetPresence { state }).await?;
                self.counts.presence.fetch_add(1, Ordering::AcqRel);
            }
            Action::Chat => {
                let to = loop {
                    let to = self.users[self.rng.random_range(0..self.users.len())];
                    if to != self.me {
                        break to;
                    }
                };
                let frame = ClientFrame::ChatSend {
                    client_msg_id: client::message_id(&mut self.rng),
                    to,
                    body: format!("soak message from {}", self.username),
                };
                self.send(&frame).await?;
                self.unacked += 1;
                self.counts.chats.fetch_add(1, Ordering::AcqRel);
            }
            Action::Reconnect => {
                self.await_acks().await?;
                self.set_online(false);
                self.socket.close(None).await?;
                self.await_close(None).await?;
                self.socket = harness::open(self.addr, &peer(self.me, &self.cookie)).await?;
                self.set_online(true);
                self.counts.reconnects.fetch_add(1, Ordering::AcqRel);
            }
            Action::SignOut => {
                self.await_acks().await?;
                self.set_online(false);
                client::sign_out(self.addr, &self.cookie).await?;
                self.await_close(Some(SIGNED_OUT)).await?;
                self.cookie = client::sign_in(self.addr, &self.username, "bench").await?;
                self.socket = harness::open(self.addr, &peer(self.me, &self.cookie)).await?;
                self.set_online(true);
                self.counts.sign_outs.fetch_add(1, Ordering::AcqRel);
            }
        }
        Ok(())
    }

    /// Reads until every message sent on this socket is acknowledged, so that closing it
    /// loses no acknowledgement.
    async fn await_acks(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + STEP_LIMIT;
        while self.unacked > 0 {
            let message = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .context("acknowledgements did not come")?;
            self.read(message)?;
        }
        Ok(())
    }

    /// Reads until the socket closes: with `code` when the server closes it, or (`None`) as
    /// the answer to this console's own close.
    async fn await_close(&mut self, code: Option<u16>) -> anyhow::Result<()> {
        let deadline = Instant::now() + STEP_LIMIT;
        loop {
            let message = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .context("the socket did not close")?;
            match message {
                Some(Ok(Message::Close(frame))) => {
                    let got = frame.map(|f| u16::from(f.code));
                    if code.is_some() && got != code {
                        bail!("closed with {got:?}, expected {code:?}");
                    }
                }
                None | Some(Err(_)) => return Ok(()),
                other => self.read(other)?,
            }
        }
    }

    /// After a problem: signs in again and opens a new socket (a few tries); an error when
    /// the console cannot come back.
    async fn reopen(&mut self) -> anyhow::Result<()> {
        self.set_online(false);
        self.unacked = 0;
        for _ in 0..3 {
            let opened = async {
                self.cookie = client::sign_in(self.addr, &self.username, "bench").await?;
                harness::open(self.addr, &peer(self.me, &self.cookie)).await
            };
            match timeout(STEP_LIMIT, opened).await {
                Ok(Ok(socket)) => {
                    self.socket = socket;
                    self.set_online(true);
                    return Ok(());
                }
                Ok(Err(err)) => self
                    .counts
                    .problem(format!("{}: reopening: {err:#}", self.username)),
                Err(_) => self
                    .counts
                    .problem(format!("{}: reopening timed out", self.username)),
            }
            sleep(Duration::from_secs(1)).await;
        }
        bail!("{} could not reconnect", self.username)
    }
}

fn peer(id: UserId, cookie: &str) -> Peer {
    Peer {
        id,
        cookie: Some(cookie.to_owned()),
    }
}

/// What is measured of the server.
struct Sample {
    rss_kib: u64,
    fds: u64,
    threads: u64,
    /// `switchboard_tasks` of `GET /metrics`, when the server has that route.
    tasks: Option<u64>,
}

impl Sample {
    async fn take(pid: u32, addr: SocketAddr) -> anyhow::Result<Self> {
        Ok(Sample {
            rss_kib: system::rss_kib(pid)?,
            fds: system::open_fds(pid)?,
            threads: system::threads(pid)?,
            tasks: tasks(addr).await,
        })
    }
}

impl fmt::Display for Sample {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tasks = self
            .tasks
            .map_or_else(|| "n/a".to_owned(), |n| n.to_string());
        write!(
            f,
            "rss {:.1} MiB, fds {}, threads {}, tasks: {tasks}",
            self.rss_kib as f64 / 1024.0,
            self.fds,
            self.threads
        )
    }
}

/// The server's tokio task count from `GET /metrics` (Prometheus text: `switchboard_tasks N`).
async fn tasks(addr: SocketAddr) -> Option<u64> {
    let response = reqwest::Client::new()
        .get(format!("http://{addr}/metrics"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .ok()?
        .error_for_status()
        .ok()?;
    let text = response.text().await.ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix("switchboard_tasks ")?.trim().parse().ok())
}

/// Hands random actions to random consoles at the rates asked, for `seconds`; prints
/// progress every minute.
async fn churn(args: &Args, consoles: &[mpsc::Sender<Action>], counts: &Counts, pid: u32) {
    let rates = [
        (Action::Presence, args.presence_rate),
        (Action::Chat, args.chat_rate),
        (Action::Reconnect, args.reconnect_rate),
        (Action::SignOut, args.sign_out_rate),
    ];
    let total: f64 = rates.iter().map(|(_, rate)| rate.max(0.0)).sum();
    let start = Instant::now();
    let end = start + Duration::from_secs(args.seconds);
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / total.max(0.001)));
    // Open loop: actions late because the load generator was busy are handed out at once.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut rng = StdRng::seed_from_u64(0);
    let mut report_at = start + REPORT_EVERY;
    while ticks.tick().await < end {
        if Instant::now() >= report_at {
            report_at += REPORT_EVERY;
            let server = system::rss_kib(pid).unwrap_or(0) as f64 / 1024.0;
            let fds = system::open_fds(pid).unwrap_or(0);
            println!(
                "soak: {} s: {}; server rss {server:.1} MiB, fds {fds}",
                start.elapsed().as_secs(),
                counts.line()
            );
        }
        let mut pick = rng.random::<f64>() * total;
        let Some(&(action, _)) = rates.iter().find(|(_, rate)| {
            pick -= rate.max(0.0);
            pick < 0.0
        }) else {
            continue;
        };
        counts.pending.fetch_add(1, Ordering::AcqRel);
        if consoles[rng.random_range(0..consoles.len())]
            .try_send(action)
            .is_err()
        {
            counts.pending.fetch_sub(1, Ordering::AcqRel);
            counts.skipped.fetch_add(1, Ordering::AcqRel);
        }
    }
}

/// Waits (at most `limit`) until `done` holds.
async fn wait_until(limit: Duration, done: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while !done() {
        if Instant::now() >= deadline {
            return false;
        }
        sleep(Duration::from_millis(100)).await;
    }
    true
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let args = Args::parse();
    anyhow::ensure!(
        args.users >= 2 && args.consoles >= args.users,
        "--users must be at least 2 and at most --consoles"
    );
    // The server allows 20 consoles per user; a closed one may linger a moment after its
    // replacement opens.
    anyhow::ensure!(
        args.consoles.div_ceil(args.users) <= 10,
        "at most 10 consoles per user (raise --users)"
    );
    let needed = (args.consoles + 500) as u64;
    let limit = system::open_files_limit()?;
    anyhow::ensure!(
        limit >= needed,
        "the open-files limit is {limit}, {needed} are needed: raise it first (`ulimit -n {needed}`; `make soak` does)"
    );
    let data_dir = std::env::temp_dir().join(format!("switchboard-soak-{}", std::process::id()));
    std::fs::create_dir_all(&data_dir)?;
    let users = args.users.to_string();
    let mut server = ServerProcess::launch(
        args.server.clone(),
        data_dir.clone(),
        &["--bench-users", &users],
    )
    .await?;
    let (addr, pid) = (
        server.addr,
        server.pid().context("the server is not running")?,
    );
    let ids = Arc::new(server.bench_user_ids().await?);
    anyhow::ensure!(
        ids.len() == args.users,
        "expected {} bench users",
        args.users
    );
    println!(
        "soak: {} consoles over {} users, {} s of churn ({}/s presence, {}/s chat, {}/s \
         reconnects, {}/s sign-outs), server on {addr}",
        args.consoles,
        args.users,
        args.seconds,
        args.presence_rate,
        args.chat_rate,
        args.reconnect_rate,
        args.sign_out_rate
    );

    let counts = Arc::new(Counts::default());
    let failed = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(Semaphore::new(OPENING));
    let (stop_tx, stop) = watch::channel(false);
    let started = Instant::now();
    let mut senders = Vec::with_capacity(args.consoles);
    let mut tasks = Vec::with_capacity(args.consoles);
    for n in 0..args.consoles {
        let (tx, rx) = mpsc::channel(1);
        senders.push(tx);
        let (me, username) = (ids[n % args.users], format!("bench{}", n % args.users + 1));
        let (ids, counts, failed, gate, stop) = (
            ids.clone(),
            counts.clone(),
            failed.clone(),
            gate.clone(),
            stop.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let Ok(permit) = gate.acquire_owned().await else {
                return;
            };
            let console = Console::open(addr, me, username.clone(), ids, counts.clone()).await;
            drop(permit);
            match console {
                Ok(console) => console.run(rx, stop).await,
                Err(err) => {
                    failed.fetch_add(1, Ordering::AcqRel);
                    counts.problem(format!("{username}: opening: {err:#}"));
                }
            }
        }));
    }
    let all_open = wait_until(OPEN_LIMIT, || {
        counts.connected.load(Ordering::Acquire) + failed.load(Ordering::Acquire) >= args.consoles
    })
    .await;
    let opened = counts.connected.load(Ordering::Acquire);
    println!(
        "soak: {opened} consoles connected in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let mut ok = all_open && opened == args.consoles;
    let mut first = None;
    let mut last = None;
    if ok {
        // Let the opening's presence fan-out and password hashing finish first.
        sleep(Duration::from_secs(args.settle)).await;
        let sample = Sample::take(pid, addr).await?;
        println!("soak: start: {sample}");
        first = Some(sample);
        churn(&args, &senders, &counts, pid).await;
        let quiet = wait_until(STEP_LIMIT * 4, || {
            counts.pending.load(Ordering::Acquire) == 0
                && counts.connected.load(Ordering::Acquire) == args.consoles
        })
        .await;
        if !quiet {
            counts.problem(format!(
                "after the churn: {} consoles connected, {} actions unfinished",
                counts.connected.load(Ordering::Acquire),
                counts.pending.load(Ordering::Acquire)
            ));
        }
        sleep(Duration::from_secs(args.settle)).await;
        let sample = Sample::take(pid, addr).await?;
        println!("soak: end:   {sample}");
        last = Some(sample);
    }
    let _ = stop_tx.send(true);
    let closing = Instant::now() + Duration::from_secs(30);
    for task in tasks {
        if tokio::time::timeout_at(closing, task).await.is_err() {
            break;
        }
    }
    server.kill().await?;
    let _ = std::fs::remove_dir_all(&data_dir);

    println!("soak: {}", counts.line());
    if let (Some(first), Some(last)) = (&first, &last) {
        let mut check = |name: &str, bound: &Bound, first: u64, last: u64| {
            let within = bound.allows(first, last);
            ok &= within;
            println!(
                "soak: {name}: {first} -> {last} ({:+.1}%, bound +{:.0}%{}) {}",
                (last as f64 / first.max(1) as f64 - 1.0) * 100.0,
                bound.growth * 100.0,
                if bound.slack > 0 {
                    format!(" +{}", bound.slack)
                } else {
                    String::new()
                },
                if within { "ok" } else { "EXCEEDED" }
            );
        };
        check("rss KiB", &RSS, first.rss_kib, last.rss_kib);
        check("fds", &FDS, first.fds, last.fds);
        check("threads", &THREADS, first.threads, last.threads);
        match (first.tasks, last.tasks) {
            (Some(a), Some(b)) => check("tasks", &TASKS, a, b),
            _ => println!("soak: tasks: n/a"),
        }
    }
    ok &= counts.problems.load(Ordering::Acquire) == 0
        && counts.chats.load(Ordering::Acquire) == counts.acks.load(Ordering::Acquire);
    println!("soak: {}", if ok { "passed" } else { "FAILED" });
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
