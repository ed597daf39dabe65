//! Chaos test: simulated consoles chat at a fixed total rate (open loop) while the server is
//! killed (SIGKILL) and restarted; afterwards every acknowledged message must be stored
//! exactly once, in the order its sender wrote it, and have reached its recipient exactly
//! once, in order. Talks only to 127.0.0.1; bounded in time.
//!
//! With `--nodes 2` or more, the server is several nodes on a throwaway PostgreSQL and
//! nats-server (docs/cluster.md): the consoles are spread over the nodes and reconnect to
//! any node that answers, and the kills take turns between a node and nats-server.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque},
    path::PathBuf,
    process::ExitCode,
    sync::{Arc, Mutex},
    time::Duration,
};

use clap::Parser;
use rand::{Rng, SeedableRng, rngs::StdRng};
use sqlx::Row;
use switchboard_loadgen::{
    client,
    cluster::{Nats, Postgres},
    server::ServerProcess,
};
use switchboard_protocol::{ChatMessage, ChatRefusal, ClientFrame, ServerFrame, UserId};
use tokio::time::{Instant, MissedTickBehavior, sleep};

/// Chaos test of message delivery across server crashes.
#[derive(Debug, Parser)]
struct Args {
    /// Simulated consoles (one user each).
    #[arg(long, default_value_t = 50)]
    clients: u32,
    /// Chat messages offered per second by all consoles together, open loop: each console
    /// writes on a fixed schedule whatever the answers, and what falls due while the server
    /// is away waits in its outbox, as in a real console.
    #[arg(long, default_value_t = 1_000)]
    rate: u32,
    /// Seconds of chatting (the drain and the checks come after).
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Times the server is killed with SIGKILL and restarted during the chatting.
    #[arg(long, default_value_t = 3)]
    kills: u32,
    /// Server nodes: 1 (SQLite), or several on PostgreSQL joined by NATS.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=4))]
    nodes: u32,
    /// The server binary.
    #[arg(long, env = "SWITCHBOARD_SERVER_BIN")]
    server: PathBuf,
}

/// Longest the drain (resending what is unacknowledged, catching up) may take.
const DRAIN_LIMIT: Duration = Duration::from_secs(60);

/// What every console saw, for the checks at the end.
#[derive(Default)]
struct Ledger {
    /// client_msg_id -> (sender, recipient, the sender's count) of every message a console
    /// created; the count orders a sender's messages.
    sent: HashMap<String, (UserId, UserId, u64)>,
    /// client_msg_id -> message id of every acknowledgement (a second, different id is a
    /// duplicate).
    acked: HashMap<String, i64>,
    duplicate_acks: u64,
    /// Per recipient, per sender: seq -> message id as received (live or replayed).
    received: HashMap<UserId, HashMap<UserId, BTreeMap<i64, i64>>>,
    /// The same seq received with two different ids.
    conflicting: u64,
    /// Messages written to a socket at least once and not acknowledged yet.
    in_flight: u64,
    /// Messages refused at least once: resent later, after those behind them, as a console
    /// does (src/chat/outbox.rs), so their place in the sender's order is not checked.
    nacked: HashSet<String>,
}

impl Ledger {
    fn receive(&mut self, me: UserId, message: &ChatMessage) {
        if message.to != me {
            return;
        }
        let seqs = self
            .received
            .entry(me)
            .or_default()
            .entry(message.from)
            .or_default();
        if let Some(&known) = seqs.get(&message.seq) {
            if known != message.id {
                self.conflicting += 1;
            }
        } else {
            seqs.insert(message.seq, message.id);
        }
    }
}

/// The seqs held of one conversation: all up to `upto`, and some beyond. A gap is caught up
/// from `upto`, not from the newest seq held: a message that arrived live while an earlier
/// catch-up was cut short by a drop must not hide the messages before it.
#[derive(Default)]
struct Held {
    upto: i64,
    beyond: BTreeSet<i64>,
}

impl Held {
    fn insert(&mut self, seq: i64) {
        if seq > self.upto {
            self.beyond.insert(seq);
        }
        while self.beyond.remove(&(self.upto + 1)) {
            self.upto += 1;
        }
    }
}

struct Pending {
    client_msg_id: String,
    to: UserId,
    body: String,
    /// Written to a socket at least once (counted in [`Ledger::in_flight`]).
    written: bool,
}

impl Pending {
    fn frame(&self) -> ClientFrame {
        ClientFrame::ChatSend {
            client_msg_id: self.client_msg_id.clone(),
            to: self.to,
            body: self.body.clone(),
        }
    }
}

/// One simulated console.
struct Console {
    me: UserId,
    /// The nodes it may connect to, and the one it tries next (its own first; another
    /// when that one does not answer).
    nodes: Vec<std::net::SocketAddr>,
    node: usize,
    username: String,
    peers: Vec<UserId>,
    outbox: VecDeque<Pending>,
    /// Per partner, the seqs this console holds of the conversation.
    held: HashMap<UserId, Held>,
    /// Per partner being caught up: the seq up to which every message was held before the gap.
    catching_up: HashMap<UserId, i64>,
    ledger: Arc<Mutex<Ledger>>,
    rng: StdRng,
    sent: u64,
}

impl Console {
    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn note(&mut self, message: &ChatMessage) {
        let partner = if message.from == self.me {
            message.to
        } else {
            message.from
        };
        self.held.entry(partner).or_default().insert(message.seq);
        self.ledger().receive(self.me, message);
    }

    /// Handles one frame; returns a history request to make, if the frame calls for one.
    fn handle(&mut self, frame: ServerFrame) -> Option<ClientFrame> {
        match frame {
            ServerFrame::ChatAck {
                client_msg_id, id, ..
            } => {
                let position = self
                    .outbox
                    .iter()
                    .position(|p| p.client_msg_id == client_msg_id);
                let written = position
                    .and_then(|at| self.outbox.remove(at))
                    .is_some_and(|p| p.written);
                let mut ledger = self.ledger();
                if written {
                    ledger.in_flight -= 1;
                }
                if let Some(&earlier) = ledger.acked.get(&client_msg_id) {
                    if earlier != id {
                        ledger.duplicate_acks += 1;
                    }
                } else {
                    ledger.acked.insert(client_msg_id, id);
                }
                None
            }
            ServerFrame::ChatMessage(message) => {
                self.note(&message);
                None
            }
            ServerFrame::HistoryPage {
                with,
                messages,
                has_more,
            } => {
                for message in &messages {
                    self.note(message);
                }
                // Walk back until the page reaches what was held before the gap.
                let held = self.catching_up.get(&with).copied()?;
                match messages.first() {
                    Some(oldest) if has_more && oldest.seq > held + 1 => {
                        Some(ClientFrame::History {
                            with,
                            before_seq: Some(oldest.seq),
                            limit: 200,
                        })
                    }
                    _ => {
                        self.catching_up.remove(&with);
                        None
                    }
                }
            }
            // Rate limited or refused: it stays in the outbox and is sent again later.
            ServerFrame::ChatNack {
                client_msg_id,
                reason,
                ..
            } => {
                let passing = [
                    ChatRefusal::RateLimited,
                    ChatRefusal::Internal,
                    ChatRefusal::Busy,
                ];
                if !passing.contains(&reason) {
                    eprintln!("{}: message refused: {reason:?}", self.username);
                }
                self.ledger().nacked.insert(client_msg_id);
                None
            }
            _ => None,
        }
    }

    /// A new message to a random peer, put at the end of the outbox (not written yet).
    fn new_message(&mut self) {
        let to = self.peers[self.rng.random_range(0..self.peers.len())];
        self.sent += 1;
        let pending = Pending {
            client_msg_id: client::message_id(&mut self.rng),
            to,
            body: format!("{} #{}", self.username, self.sent),
            written: false,
        };
        self.ledger()
            .sent
            .insert(pending.client_msg_id.clone(), (self.me, to, self.sent));
        self.outbox.push_back(pending);
    }

    /// Writes the outbox to `conn` in order: all of it (`from` 0, after a reconnect or to
    /// retry) or only what was added since (`from` the length before).
    async fn write_outbox(
        &mut self,
        conn: &mut client::Connection,
        from: usize,
    ) -> anyhow::Result<()> {
        for at in from..self.outbox.len() {
            conn.send(&self.outbox[at].frame()).await?;
            if !self.outbox[at].written {
                self.outbox[at].written = true;
                self.ledger().in_flight += 1;
            }
        }
        Ok(())
    }

    /// The history requests that fill the gaps a conversations snapshot reveals.
    fn gaps(&mut self, frames: Vec<ServerFrame>) -> Vec<ClientFrame> {
        let mut requests = Vec::new();
        for frame in frames {
            let ServerFrame::ConversationsSnapshot { conversations } = frame else {
                continue;
            };
            for summary in conversations {
                let partner = summary.partner.id;
                let held = self.held.get(&partner).map_or(0, |held| held.upto);
                if summary.last.seq > held {
                    self.catching_up.insert(partner, held);
                    requests.push(ClientFrame::History {
                        with: partner,
                        before_seq: None,
                        limit: 200,
                    });
                }
            }
        }
        requests
    }

    /// Connects (again), catches up what it missed and resends its outbox in order with the
    /// same ids; `None` while the server is away.
    async fn reconnect(&mut self, cookie: &mut Option<String>) -> Option<client::Connection> {
        let addr = self.nodes[self.node];
        // The session lives in the database: it works on every node.
        if cookie.is_none() {
            *cookie = client::sign_in(addr, &self.username, "bench").await.ok();
        }
        let opened = match cookie.as_deref() {
            Some(cookie) => client::Connection::open(addr, cookie).await.ok(),
            None => None,
        };
        let Some((mut conn, frames)) = opened else {
            self.node = (self.node + 1) % self.nodes.len();
            return None;
        };
        self.catching_up.clear();
        for frame in &self.gaps(frames) {
            conn.send(frame).await.ok()?;
        }
        self.write_outbox(&mut conn, 0).await.ok()?;
        Some(conn)
    }

    /// Writes a new message every `period` from `first` until `chat_until`, reconnecting
    /// whenever the server goes away, then keeps resending what is unacknowledged until the
    /// outbox is empty or `give_up`.
    async fn run(
        mut self,
        (first, period): (Instant, Duration),
        chat_until: Instant,
        give_up: Instant,
    ) -> Self {
        let mut ticks = tokio::time::interval_at(first, period);
        // Open loop: ticks missed while the server was away fire at once after the reconnect,
        // so the offered rate holds over the run whatever the server does.
        ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
        let mut cookie = None;
        while Instant::now() < give_up {
            let Some(mut conn) = self.reconnect(&mut cookie).await else {
                sleep(Duration::from_millis(self.rng.random_range(100..300))).await;
                continue;
            };
            // Consoles also lose their network now and then, for up to two seconds: what is
            // sent to them meanwhile must come back through the catch-up.
            let drop_at =
                Instant::now() + Duration::from_millis(self.rng.random_range(2_000..8_000));
            loop {
                let chatting = Instant::now() < chat_until;
                if !chatting && self.outbox.is_empty() {
                    return self;
                }
                let sent = tokio::select! {
                    frame = conn.recv(Duration::from_secs(30)) => match frame {
                        Ok(Some(frame)) => match self.handle(frame) {
                            Some(next) => conn.send(&next).await,
                            None => Ok(()),
                        },
                        _ => break,
                    },
                    _ = ticks.tick(), if chatting => {
                        let from = self.outbox.len();
                        self.new_message();
                        self.write_outbox(&mut conn, from).await
                    }
                    _ = tokio::time::sleep_until(drop_at), if chatting => break,
                    // Unacknowledged after the chatting (rate limited): send again.
                    _ = sleep(Duration::from_secs(2)), if !chatting => {
                        self.write_outbox(&mut conn, 0).await
                    }
                };
                if sent.is_err() {
                    break;
                }
            }
            drop(conn);
            sleep(Duration::from_millis(self.rng.random_range(200..2_000))).await;
        }
        eprintln!(
            "{}: gave up with {} unacknowledged",
            self.username,
            self.outbox.len()
        );
        self
    }

    /// Once everyone is done: connects as a console opening after the storm would, and
    /// catches up every conversation (bounded by `give_up`).
    async fn final_catch_up(&mut self, give_up: Instant) {
        let mut cookie = None;
        while Instant::now() < give_up {
            let Some(mut conn) = self.reconnect(&mut cookie).await else {
                sleep(Duration::from_millis(200)).await;
                continue;
            };
            while !self.catching_up.is_empty() && Instant::now() < give_up {
                match conn.recv(Duration::from_secs(10)).await {
                    Ok(Some(frame)) => {
                        if let Some(next) = self.handle(frame) {
                            let _ = conn.send(&next).await;
                        }
                    }
                    _ => break,
                }
            }
            if self.catching_up.is_empty() {
                return;
            }
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let args = Args::parse();
    anyhow::ensure!(args.clients >= 2, "--clients must be at least 2");
    anyhow::ensure!(args.rate >= 1, "--rate must be at least 1");
    let data_dir = std::env::temp_dir().join(format!("switchboard-chaos-{}", std::process::id()));
    std::fs::create_dir_all(&data_dir)?;
    // No user can send faster than all of them together, nor hold more in its outbox than
    // two seconds of that after an outage: with these allowances the server never refuses a
    // message for its rate, and what is tested is delivery across crashes, not the limits.
    let config = data_dir.join("chaos.toml");
    std::fs::write(
        &config,
        format!(
            "[limits]\nmessages_per_second = {rate}\nmessage_burst = {burst}\n",
            rate = args.rate,
            burst = 2 * args.rate,
        ),
    )?;
    let bench = args.clients.to_string();
    let config_arg = config.display().to_string();
    let mut node_args = vec!["--bench-users", &bench, "--config", &config_arg];
    // Several nodes: their database and bus.
    let mut shared: Option<(Postgres, Nats)> = None;
    let (database_url, nats_url);
    if args.nodes > 1 {
        let postgres = Postgres::start().await;
        database_url = postgres.create_database("chaos").await;
        let nats = Nats::start().await;
        nats_url = nats.url();
        node_args.extend(["--database-url", &database_url, "--nats-url", &nats_url]);
        shared = Some((postgres, nats));
    }
    let mut servers = Vec::new();
    for node in 0..args.nodes {
        let dir = data_dir.join(format!("node{node}"));
        servers.push(ServerProcess::launch(args.server.clone(), dir, &node_args).await?);
    }
    let addrs: Vec<_> = servers.iter().map(|server| server.addr).collect();
    println!(
        "chaos: {} consoles, {} msgs/s in all, {} s of chat, {} kills, {} node(s) on {addrs:?}",
        args.clients, args.rate, args.seconds, args.kills, args.nodes
    );

    let db_url = servers[0].database_url();
    let ids = servers[0].bench_user_ids().await?;
    anyhow::ensure!(
        ids.len() == args.clients as usize,
        "expected {} bench users",
        args.clients
    );

    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let start = Instant::now();
    let chat_until = start + Duration::from_secs(args.seconds);
    let give_up = chat_until + DRAIN_LIMIT;
    // Each console's share of the rate, the consoles' schedules spread evenly over one period.
    let period = Duration::from_secs_f64(f64::from(args.clients) / f64::from(args.rate));
    let mut consoles = Vec::new();
    for (n, &me) in ids.iter().enumerate() {
        let first = start + period.mul_f64(n as f64 / ids.len() as f64);
        let console = Console {
            me,
            nodes: addrs.clone(),
            node: n % addrs.len(),
            username: format!("bench{}", n + 1),
            peers: ids.iter().copied().filter(|&id| id != me).collect(),
            outbox: VecDeque::new(),
            held: HashMap::new(),
            catching_up: HashMap::new(),
            ledger: ledger.clone(),
            rng: StdRng::seed_from_u64(n as u64),
            sent: 0,
        };
        let schedule = (first, period);
        consoles.push(tokio::spawn(console.run(schedule, chat_until, give_up)));
    }

    let every = Duration::from_secs(args.seconds) / (args.kills + 1);
    let mut in_flight_at_kills = Vec::new();
    for kill in 1..=args.kills {
        sleep(every).await;
        let (in_flight, queued) = {
            let ledger = ledger.lock().unwrap_or_else(|p| p.into_inner());
            let open = ledger.sent.len() as u64 - ledger.acked.len() as u64;
            (ledger.in_flight, open.saturating_sub(ledger.in_flight))
        };
        // One node: the server each time. Several: a node (each in turn), then the bus.
        let victim = match &mut shared {
            Some((_, nats)) if kill % 2 == 0 => {
                nats.kill();
                "nats-server".to_owned()
            }
            _ => {
                let node = ((kill - 1) / 2) as usize % servers.len();
                servers[node].kill().await?;
                if args.nodes > 1 {
                    format!("node {}", node + 1)
                } else {
                    "the server".to_owned()
                }
            }
        };
        println!(
            "chaos: killed {victim} ({kill}/{}) with {in_flight} messages in flight (sent, \
             not yet acknowledged) and {queued} waiting in outboxes",
            args.kills
        );
        in_flight_at_kills.push(in_flight);
        sleep(Duration::from_millis(500)).await;
        if let Some((_, nats)) = shared.as_mut().filter(|_| kill % 2 == 0) {
            nats.run().await;
        }
        for server in &mut servers {
            if server.pid().is_none() {
                server.start().await?;
            }
        }
    }
    let mut finished = Vec::new();
    for console in consoles {
        finished.push(console.await?);
    }
    // All at once, as consoles opening after the storm would: one slow catch-up must not eat
    // the others' time.
    let catch_ups = finished
        .iter_mut()
        .map(|console| console.final_catch_up(give_up + DRAIN_LIMIT));
    futures_util::future::join_all(catch_ups).await;
    for server in &mut servers {
        server.kill().await?;
    }

    // The checks: the database as the server left it after its last crash.
    let db = switchboard_loadgen::database(&db_url).await?;
    let rows = sqlx::query("SELECT id, client_msg_id, sender, recipient, seq FROM messages")
        .fetch_all(&db)
        .await?;
    db.close().await;
    let ledger = ledger.lock().unwrap_or_else(|p| p.into_inner());
    let mut stored: HashMap<String, Vec<(i64, UserId, UserId, i64)>> = HashMap::new();
    for row in &rows {
        stored.entry(row.get("client_msg_id")).or_default().push((
            row.get("id"),
            row.get("sender"),
            row.get("recipient"),
            row.get("seq"),
        ));
    }
    let mut lost = 0u64;
    let mut duplicated = ledger.duplicate_acks + ledger.conflicting;
    let mut undelivered = 0u64;
    // Per sender and recipient: (the sender's count, seq) of every acknowledged message.
    let mut conversations: HashMap<(UserId, UserId), Vec<(u64, i64)>> = HashMap::new();
    for (client_msg_id, &id) in &ledger.acked {
        match stored.get(client_msg_id).map(Vec::as_slice) {
            Some([(stored_id, from, to, seq)]) if *stored_id == id => {
                if let Some(&(_, _, count)) = ledger.sent.get(client_msg_id)
                    && !ledger.nacked.contains(client_msg_id)
                {
                    conversations
                        .entry((*from, *to))
                        .or_default()
                        .push((count, *seq));
                }
                let received = ledger
                    .received
                    .get(to)
                    .and_then(|by| by.get(from))
                    .and_then(|seqs| seqs.get(seq));
                if received != Some(&id) {
                    undelivered += 1;
                }
            }
            Some([_]) | None => lost += 1,
            Some(_) => duplicated += 1,
        }
    }
    // A sender's messages must be stored in the order it wrote them.
    let mut out_of_order = 0u64;
    for messages in conversations.values_mut() {
        messages.sort_unstable();
        out_of_order += messages.windows(2).filter(|w| w[1].1 < w[0].1).count() as u64;
    }
    let strangers = stored
        .keys()
        .filter(|id| !ledger.sent.contains_key(*id))
        .count();
    let unacknowledged = ledger.sent.len() - ledger.acked.len();
    println!(
        "chaos: sent {} / acknowledged {} / stored {} / lost {lost} / duplicated {duplicated} / \
         undelivered {undelivered} / out of order {out_of_order} / unacknowledged \
         {unacknowledged} / unknown {strangers} ({:.1} s)",
        ledger.sent.len(),
        ledger.acked.len(),
        rows.len(),
        start.elapsed().as_secs_f64()
    );
    println!(
        "chaos: {:.0} msgs/s offered over {} s; in flight at the {} kills: {} (total {})",
        ledger.sent.len() as f64 / args.seconds as f64,
        args.seconds,
        in_flight_at_kills.len(),
        in_flight_at_kills
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(" + "),
        in_flight_at_kills.iter().sum::<u64>()
    );
    let _ = std::fs::remove_dir_all(&data_dir);
    let failed =
        lost + duplicated + undelivered + out_of_order > 0 || strangers > 0 || unacknowledged > 0;
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
