//! The benchmark scenarios, driven the same way against Switchboard and the bare relay:
//! connections held (with a presence change fanned out to all of them) and 1:1 chat at a
//! fixed offered rate. Every wait is bounded; only 127.0.0.1 is spoken to.

use std::{
    net::{IpAddr, SocketAddr},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use anyhow::bail;
use futures_util::{SinkExt, StreamExt};
use switchboard_protocol::{
    ChatRefusal, ClientFrame, PROTOCOL_VERSION, PresenceState, ServerFrame, UserId,
};
use tokio::{
    net::{TcpSocket, TcpStream},
    sync::{Notify, Semaphore, mpsc, watch},
    task::JoinHandle,
    time::{Instant, MissedTickBehavior},
};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, client_async_with_config,
    tungstenite::{
        Message, client::IntoClientRequest, http::HeaderValue, protocol::WebSocketConfig,
    },
};

use crate::stats::Latency;

/// A client connection.
pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Who a connection speaks as: a Switchboard user with a session cookie, or (for the relay,
/// which has no sign-in) a bare user id.
#[derive(Debug, Clone)]
pub struct Peer {
    pub id: UserId,
    pub cookie: Option<String>,
}

/// The frame that ends the hello exchange on both targets.
const CONVERSATIONS: &str = "{\"type\":\"conversations_snapshot\"";
/// A message refused as busy is sent again after this long: the console's first pause.
const RESEND_AFTER: Duration = Duration::from_millis(750);
/// How every `error` frame starts.
pub const ERROR: &str = "{\"type\":\"error\",";
/// How every `presence` frame starts: readers that only count frames skip decoding them.
pub const PRESENCE: &str = "{\"type\":\"presence\",";
const ACK: &str = "{\"type\":\"chat_ack\",";
const NACK: &str = "{\"type\":\"chat_nack\",";
const MESSAGE: &str = "{\"type\":\"chat_message\",";
/// Longest one connection may take to open and finish its hello.
const OPEN_LIMIT: Duration = Duration::from_secs(30);

/// WebSocket settings of the bench's connections and the relay's: a small read buffer, as
/// the server has (tungstenite zero-fills all of it, 128 KiB by default, before every read).
pub fn config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(4 * 1024)
}

/// Opens `/ws` as `peer`, says hello and waits for the chat list (the last frame of the
/// hello exchange); frames before it are skipped, not decoded.
pub async fn open(addr: SocketAddr, peer: &Peer) -> anyhow::Result<Socket> {
    Ok(open_measured(addr, peer, None).await?.0)
}

/// [`open`] from the source address `source` (none: the system's choice), also returning the
/// size of the largest frame of the hello exchange (bytes).
pub async fn open_measured(
    addr: SocketAddr,
    peer: &Peer,
    source: Option<IpAddr>,
) -> anyhow::Result<(Socket, usize)> {
    let url = match &peer.cookie {
        Some(_) => format!("ws://{addr}/ws"),
        None => format!("ws://{addr}/ws?user={}", peer.id),
    };
    let mut request = url.into_client_request()?;
    if let Some(cookie) = &peer.cookie {
        let headers = request.headers_mut();
        headers.insert("cookie", HeaderValue::from_str(cookie)?);
        headers.insert("origin", HeaderValue::from_str(&format!("http://{addr}"))?);
    }
    let deadline = Instant::now() + OPEN_LIMIT;
    let connect = async {
        let tcp = match source {
            Some(ip) => {
                let socket = TcpSocket::new_v4()?;
                socket.bind(SocketAddr::new(ip, 0))?;
                socket.connect(addr).await?
            }
            None => TcpStream::connect(addr).await?,
        };
        tcp.set_nodelay(true)?;
        let stream = MaybeTlsStream::Plain(tcp);
        anyhow::Ok(client_async_with_config(request, stream, Some(config())).await?)
    };
    let (mut socket, _) = tokio::time::timeout_at(deadline, connect).await??;
    let hello = ClientFrame::Hello {
        version: PROTOCOL_VERSION,
    };
    socket.send(Message::text(hello.encode())).await?;
    let mut largest = 0;
    loop {
        let message = tokio::time::timeout_at(deadline, socket.next()).await?;
        if let Some(Ok(Message::Text(text))) = &message {
            largest = largest.max(text.len());
        }
        match message {
            Some(Ok(Message::Text(text))) if text.starts_with(CONVERSATIONS) => {
                return Ok((socket, largest));
            }
            Some(Ok(Message::Close(frame))) => bail!("closed during hello: {frame:?}"),
            Some(Ok(_)) => continue,
            Some(Err(err)) => return Err(err.into()),
            None => bail!("closed during hello"),
        }
    }
}

/// Signs in the accounts of `--bench-users` whose ids are `ids` (bench1 first, in order; see
/// [`crate::server::ServerProcess::bench_user_ids`]), 16 at a time.
pub async fn sign_in_bench_users(addr: SocketAddr, ids: &[UserId]) -> anyhow::Result<Vec<Peer>> {
    let mut peers = Vec::with_capacity(ids.len());
    for (chunk, start) in ids.chunks(16).zip((0..).step_by(16)) {
        let signing = chunk.iter().enumerate().map(|(i, _)| {
            let name = format!("bench{}", start + i + 1);
            async move { crate::client::sign_in(addr, &name, "bench").await }
        });
        for (cookie, &id) in futures_util::future::join_all(signing)
            .await
            .into_iter()
            .zip(chunk)
        {
            peers.push(Peer {
                id,
                cookie: Some(cookie?),
            });
        }
    }
    Ok(peers)
}

/// Nanoseconds since `epoch`, the clock every timestamp of one scenario is taken on.
fn since(epoch: Instant) -> u64 {
    epoch.elapsed().as_nanos() as u64
}

/// What the connections-held scenario measured in one run.
#[derive(Debug, Clone, Default)]
pub struct HoldRun {
    pub opened: usize,
    pub failed: usize,
    /// The first reason a connection could not be opened.
    pub first_error: Option<String>,
    pub open_secs: f64,
    pub rss_before_kib: u64,
    pub rss_after_kib: u64,
    /// Per presence change that reached every connection: ms until the last one had it.
    pub fan_out_ms: Vec<f64>,
    /// Presence changes that did not reach every connection within the limit.
    pub incomplete: usize,
    /// The largest frame of the hello exchange (Switchboard: the directory snapshot), bytes.
    pub largest_hello_frame: usize,
}

impl HoldRun {
    /// Server memory per held connection, KiB.
    pub fn kib_per_connection(&self) -> f64 {
        self.rss_after_kib.saturating_sub(self.rss_before_kib) as f64 / self.opened.max(1) as f64
    }
}

/// How the connections-held scenario runs.
#[derive(Debug, Clone)]
pub struct HoldPlan {
    pub connections: usize,
    /// Connections being opened at once.
    pub concurrency: usize,
    /// Presence changes fanned out to the held connections.
    pub changes: usize,
    /// Longest wait for one change to reach every connection.
    pub change_limit: Duration,
    /// Longest the whole opening may take.
    pub open_limit: Duration,
}

/// The presence changes watched for, in turn (each differs from the one before).
const STATES: [PresenceState; 4] = [
    PresenceState::Busy,
    PresenceState::Away,
    PresenceState::Dnd,
    PresenceState::Available,
];

/// Arrivals of the presence change in flight, shared by every watcher.
struct Probe {
    epoch: Instant,
    changer: UserId,
    expected: AtomicU8,
    arrived: AtomicUsize,
    target: AtomicUsize,
    last_ns: AtomicU64,
    all_there: Notify,
}

impl Probe {
    fn saw(&self, update: &switchboard_protocol::PresenceUpdate) {
        if update.user != self.changer
            || update.state != STATES[usize::from(self.expected.load(Ordering::Acquire))]
        {
            return;
        }
        self.last_ns.fetch_max(since(self.epoch), Ordering::AcqRel);
        if self.arrived.fetch_add(1, Ordering::AcqRel) + 1 == self.target.load(Ordering::Acquire) {
            self.all_there.notify_one();
        }
    }
}

/// Reads a held connection until told to stop, noting the presence changes of the probe.
async fn watch_presence(mut socket: Socket, probe: Arc<Probe>, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            message = socket.next() => match message {
                Some(Ok(Message::Text(text))) => {
                    if text.starts_with(PRESENCE)
                        && let Ok(ServerFrame::Presence(update)) = ServerFrame::decode(&text)
                    {
                        probe.saw(&update);
                    }
                }
                Some(Ok(_)) => {}
                _ => break,
            },
        }
    }
}

/// Connections held open, each reading until told to stop and noting the presence changes of
/// one changer, who has a connection of its own: the connections-held scenario and the
/// connections stepped to 100,000 are both made of it.
pub struct Crowd {
    changer: Socket,
    probe: Arc<Probe>,
    stop_tx: watch::Sender<bool>,
    stop: watch::Receiver<bool>,
    gate: Arc<Semaphore>,
    opened: Arc<AtomicUsize>,
    failed: Arc<AtomicUsize>,
    first_error: Arc<Mutex<Option<String>>>,
    tasks: Vec<JoinHandle<()>>,
    /// The largest frame of the changer's hello (Switchboard: a directory page), bytes.
    pub largest_hello_frame: usize,
}

/// What one [`Crowd::open`] did.
#[derive(Debug, Clone, Copy)]
pub struct Opening {
    pub opened: usize,
    pub failed: usize,
    pub secs: f64,
}

impl Crowd {
    /// Opens the changer's connection; `concurrency` connections are opened at once.
    pub async fn new(addr: SocketAddr, changer: &Peer, concurrency: usize) -> anyhow::Result<Self> {
        let (changer_socket, largest_hello_frame) = open_measured(addr, changer, None).await?;
        let (stop_tx, stop) = watch::channel(false);
        Ok(Crowd {
            changer: changer_socket,
            probe: Arc::new(Probe {
                epoch: Instant::now(),
                changer: changer.id,
                expected: AtomicU8::new(0),
                arrived: AtomicUsize::new(0),
                target: AtomicUsize::new(usize::MAX),
                last_ns: AtomicU64::new(0),
                all_there: Notify::new(),
            }),
            stop_tx,
            stop,
            gate: Arc::new(Semaphore::new(concurrency.max(1))),
            opened: Arc::new(AtomicUsize::new(0)),
            failed: Arc::new(AtomicUsize::new(0)),
            first_error: Arc::new(Mutex::new(None)),
            tasks: Vec::new(),
            largest_hello_frame,
        })
    }

    /// Connections open now.
    pub fn held(&self) -> usize {
        self.opened.load(Ordering::Acquire)
    }

    /// The first reason a connection could not be opened.
    pub fn first_error(&self) -> Option<String> {
        self.first_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Opens `count` more connections as `watchers` in turn, connection n to `addrs[n % len]`
    /// from `sources[n % len]` (several 127.0.0.x source addresses give more than one address's
    /// ephemeral ports; none: the system's choice), waiting at most `limit` for them all.
    pub async fn open(
        &mut self,
        addrs: &[SocketAddr],
        sources: &[IpAddr],
        watchers: &[Peer],
        count: usize,
        limit: Duration,
    ) -> anyhow::Result<Opening> {
        anyhow::ensure!(
            !watchers.is_empty() && !addrs.is_empty(),
            "no watchers or no nodes"
        );
        let (opened_before, failed_before) = (self.held(), self.failed.load(Ordering::Acquire));
        let first = self.tasks.len();
        let started = Instant::now();
        for n in first..first + count {
            let peer = watchers[n % watchers.len()].clone();
            let addr = addrs[n % addrs.len()];
            let source = (!sources.is_empty()).then(|| sources[n % sources.len()]);
            let (gate, opened, failed, first_error) = (
                self.gate.clone(),
                self.opened.clone(),
                self.failed.clone(),
                self.first_error.clone(),
            );
            let (probe, stop) = (self.probe.clone(), self.stop.clone());
            self.tasks.push(tokio::spawn(async move {
                let Ok(permit) = gate.acquire_owned().await else {
                    return;
                };
                let socket = open_measured(addr, &peer, source).await;
                drop(permit);
                match socket {
                    Ok((socket, _)) => {
                        opened.fetch_add(1, Ordering::AcqRel);
                        watch_presence(socket, probe, stop).await;
                    }
                    Err(err) => {
                        failed.fetch_add(1, Ordering::AcqRel);
                        let mut first = first_error.lock().unwrap_or_else(|p| p.into_inner());
                        first.get_or_insert_with(|| format!("{err:#}"));
                    }
                }
            }));
        }
        let deadline = started + limit;
        let settled =
            || self.held() + self.failed.load(Ordering::Acquire) - opened_before - failed_before;
        while settled() < count && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let opened = self.held() - opened_before;
        Ok(Opening {
            opened,
            failed: count - opened,
            secs: started.elapsed().as_secs_f64(),
        })
    }

    /// Has the changer change presence `changes` times, one after another; per change that
    /// reached every held connection within `limit`, ms until the last one had it, and how
    /// many did not.
    pub async fn fan_out(
        &mut self,
        changes: usize,
        limit: Duration,
    ) -> anyhow::Result<(Vec<f64>, usize)> {
        let (mut fan_out_ms, mut incomplete) = (Vec::with_capacity(changes), 0);
        let probe = &self.probe;
        for change in 0..changes {
            let index = change % STATES.len();
            probe.arrived.store(0, Ordering::Release);
            probe.last_ns.store(0, Ordering::Release);
            probe.target.store(self.held(), Ordering::Release);
            probe.expected.store(index as u8, Ordering::Release);
            let frame = ClientFrame::SetPresence {
                state: STATES[index],
            };
            let sent_ns = since(probe.epoch);
            self.changer.send(Message::text(frame.encode())).await?;
            if tokio::time::timeout(limit, probe.all_there.notified())
                .await
                .is_ok()
            {
                let last = probe.last_ns.load(Ordering::Acquire);
                fan_out_ms.push(last.saturating_sub(sent_ns) as f64 / 1_000_000.0);
            } else {
                incomplete += 1;
            }
            // Drain what the changer's own connection got, then pause between changes.
            let pause = Instant::now() + Duration::from_millis(100);
            while let Ok(Some(_)) = tokio::time::timeout_at(pause, self.changer.next()).await {}
        }
        Ok((fan_out_ms, incomplete))
    }

    /// Closes every connection (waiting at most 10 s for them to end).
    pub async fn close(self) {
        let _ = self.stop_tx.send(true);
        let closing = Instant::now() + Duration::from_secs(10);
        for task in self.tasks {
            if tokio::time::timeout_at(closing, task).await.is_err() {
                break;
            }
        }
    }
}

/// Opens `plan.connections` connections spread over `watchers` (each user holds several)
/// and over `addrs` (the nodes: connection n goes to `addrs[n % len]`), measures the memory
/// `pid` gained, then has `changer` (on the first node) change presence `plan.changes` times
/// and measures how long each change takes to reach every held connection.
pub async fn hold(
    addrs: &[SocketAddr],
    pid: u32,
    watchers: &[Peer],
    changer: &Peer,
    plan: &HoldPlan,
) -> anyhow::Result<HoldRun> {
    anyhow::ensure!(!addrs.is_empty(), "no nodes");
    let mut crowd = Crowd::new(addrs[0], changer, plan.concurrency).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before_kib = crate::system::rss_kib(pid)?;
    let opening = crowd
        .open(addrs, &[], watchers, plan.connections, plan.open_limit)
        .await?;
    // Let the joins' own presence fan-out settle before memory and changes are measured.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_after_kib = crate::system::rss_kib(pid)?;
    let (fan_out_ms, incomplete) = crowd.fan_out(plan.changes, plan.change_limit).await?;
    let run = HoldRun {
        opened: opening.opened,
        failed: opening.failed,
        first_error: crowd.first_error(),
        open_secs: opening.secs,
        rss_before_kib,
        rss_after_kib,
        fan_out_ms,
        incomplete,
        largest_hello_frame: crowd.largest_hello_frame,
    };
    crowd.close().await;
    Ok(run)
}

/// How the chat scenario runs.
#[derive(Debug, Clone)]
pub struct ChatPlan {
    /// Messages per second offered in total, spread evenly over the connections.
    pub rate: u32,
    /// Sending before the measured window (not counted).
    pub warmup: Duration,
    /// The measured window.
    pub measure: Duration,
    /// Longest wait after sending for what is still unacknowledged or undelivered.
    pub drain: Duration,
}

/// What the chat scenario measured in one run.
#[derive(Debug, Clone, Default)]
pub struct ChatRun {
    pub connections: usize,
    pub offered_per_sec: f64,
    pub sent: u64,
    /// Acknowledgements and deliveries received within the measured window, per second.
    pub acked_per_sec: f64,
    pub delivered_per_sec: f64,
    /// Of messages sent within the measured window.
    pub ack: Latency,
    pub deliver: Latency,
    pub nacks: u64,
    pub first_nack: Option<String>,
    /// Messages refused as busy, resent (as a console does, in order) and then acknowledged.
    pub acked_after_resend: u64,
    /// After the drain: messages sent but never acknowledged, or never delivered.
    pub unacked: u64,
    pub undelivered: u64,
}

/// Totals every chat connection adds to.
#[derive(Default)]
struct ChatCounts {
    sent: AtomicU64,
    acked: AtomicU64,
    delivered: AtomicU64,
    acked_in_window: AtomicU64,
    delivered_in_window: AtomicU64,
    nacks: AtomicU64,
    first_nack: Mutex<Option<String>>,
    acked_after_resend: AtomicU64,
}

/// A UUID-shaped client message id that carries its sender connection, a counter and the
/// moment it was sent (ns since the scenario's epoch, last 12 hex digits).
fn message_id(conn: usize, count: u64, sent_ns: u64) -> String {
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        conn as u32,
        (count >> 32) & 0xffff,
        (count >> 16) & 0xffff,
        count & 0xffff,
        sent_ns & 0xffff_ffff_ffff
    )
}

/// When the message with this id was sent (see [`message_id`]).
fn sent_ns_of(id: &str) -> Option<u64> {
    u64::from_str_radix(id.get(24..)?, 16).ok()
}

/// The measured window, in ns since the epoch.
#[derive(Clone, Copy)]
struct Window {
    start: u64,
    end: u64,
}

impl Window {
    fn holds(&self, ns: u64) -> bool {
        (self.start..self.end).contains(&ns)
    }
}

/// Sends to `partner` at a fixed period from `first` until `until`, whatever the answers;
/// before each new message, resends in order those refused as busy (`refused`), as the
/// console does (the server holds a conversation back until its refused message returns).
async fn send_chat(
    mut sink: futures_util::stream::SplitSink<Socket, Message>,
    conn: usize,
    partner: UserId,
    (first, period, until, give_up): (Instant, Duration, Instant, Instant),
    epoch: Instant,
    counts: Arc<ChatCounts>,
    mut refused: mpsc::UnboundedReceiver<String>,
) -> futures_util::stream::SplitSink<Socket, Message> {
    let mut ticks = tokio::time::interval_at(first, period);
    // Open loop: a late tick is sent at once, so the offered rate holds even when answers lag.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut count = 0u64;
    // Refused messages and when to send them again.
    let mut waiting: Vec<(Instant, String)> = Vec::new();
    loop {
        let tick = ticks.tick().await;
        if tick >= until {
            break;
        }
        if !resend_due(&mut sink, &mut waiting, &mut refused, partner, tick).await {
            return sink;
        }
        count += 1;
        let frame = ClientFrame::ChatSend {
            client_msg_id: message_id(conn, count, since(epoch)),
            to: partner,
            body: format!("bench message {count}"),
        };
        if sink.send(Message::text(frame.encode())).await.is_err() {
            break;
        }
        counts.sent.fetch_add(1, Ordering::AcqRel);
    }
    // A console's outbox keeps what was refused: resent until nothing is left for a second.
    let mut idle_since = Instant::now();
    while Instant::now() < give_up && idle_since.elapsed() < Duration::from_secs(1) {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if !resend_due(
            &mut sink,
            &mut waiting,
            &mut refused,
            partner,
            Instant::now(),
        )
        .await
        {
            break;
        }
        if !waiting.is_empty() {
            idle_since = Instant::now();
        }
    }
    sink
}

/// Takes the newly refused ids into `waiting` (to send again after [`RESEND_AFTER`]), then
/// sends those due at `now` again, in the order written; false when the socket is gone.
async fn resend_due(
    sink: &mut futures_util::stream::SplitSink<Socket, Message>,
    waiting: &mut Vec<(Instant, String)>,
    refused: &mut mpsc::UnboundedReceiver<String>,
    partner: UserId,
    now: Instant,
) -> bool {
    while let Ok(id) = refused.try_recv() {
        waiting.push((Instant::now() + RESEND_AFTER, id));
    }
    let due = waiting.iter().take_while(|(at, _)| *at <= now).count();
    let mut again: Vec<String> = waiting.drain(..due).map(|(_, id)| id).collect();
    // In the order written: ids sort by their counter.
    again.sort_unstable();
    for client_msg_id in again {
        let frame = ClientFrame::ChatSend {
            client_msg_id,
            to: partner,
            body: "bench message, resent".into(),
        };
        if sink.send(Message::text(frame.encode())).await.is_err() {
            return false;
        }
    }
    true
}

/// Reads a chat connection until told to stop; returns the ack and delivery latencies (µs)
/// of the messages sent within the window and acknowledged at once (those resent after a
/// busy refusal are counted apart); tells the sender what was refused as busy.
async fn read_chat(
    mut stream: futures_util::stream::SplitStream<Socket>,
    me: UserId,
    (epoch, window): (Instant, Window),
    counts: Arc<ChatCounts>,
    mut stop: watch::Receiver<bool>,
    refused: mpsc::UnboundedSender<String>,
) -> (Vec<u64>, Vec<u64>) {
    let (mut acks, mut deliveries) = (Vec::new(), Vec::new());
    let mut resent = std::collections::HashSet::new();
    loop {
        let text = tokio::select! {
            _ = stop.changed() => break,
            message = stream.next() => match message {
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(_)) => continue,
                _ => break,
            },
        };
        let now = since(epoch);
        let (id, samples, total, in_window) = if text.starts_with(ACK) {
            let Ok(ServerFrame::ChatAck { client_msg_id, .. }) = ServerFrame::decode(&text) else {
                continue;
            };
            if resent.remove(&client_msg_id) {
                counts.acked_after_resend.fetch_add(1, Ordering::AcqRel);
                counts.acked.fetch_add(1, Ordering::AcqRel);
                if window.holds(now) {
                    counts.acked_in_window.fetch_add(1, Ordering::AcqRel);
                }
                continue;
            }
            (
                client_msg_id,
                &mut acks,
                &counts.acked,
                &counts.acked_in_window,
            )
        } else if text.starts_with(MESSAGE) {
            let Ok(ServerFrame::ChatMessage(message)) = ServerFrame::decode(&text) else {
                continue;
            };
            if message.to != me {
                continue;
            }
            let (total, in_window) = (&counts.delivered, &counts.delivered_in_window);
            (message.client_msg_id, &mut deliveries, total, in_window)
        } else {
            if text.starts_with(NACK) {
                counts.nacks.fetch_add(1, Ordering::AcqRel);
                if let Ok(ServerFrame::ChatNack {
                    client_msg_id,
                    reason: ChatRefusal::Busy,
                    ..
                }) = ServerFrame::decode(&text)
                {
                    resent.insert(client_msg_id.clone());
                    let _ = refused.send(client_msg_id);
                    continue;
                }
                let mut first = counts.first_nack.lock().unwrap_or_else(|p| p.into_inner());
                first.get_or_insert_with(|| text.to_string());
            }
            continue;
        };
        total.fetch_add(1, Ordering::AcqRel);
        if window.holds(now) {
            in_window.fetch_add(1, Ordering::AcqRel);
        }
        if let Some(sent) = sent_ns_of(&id).filter(|&sent| window.holds(sent)) {
            samples.push(now.saturating_sub(sent) / 1_000);
        }
    }
    (acks, deliveries)
}

/// Pairs up `peers` (0 with 1, 2 with 3, ...), one connection each, and has every connection
/// send to its partner so that together they offer `plan.rate` messages a second. Peer n
/// connects to `addrs[n % len]`: with two nodes, every pair chats across them.
pub async fn chat(
    addrs: &[SocketAddr],
    peers: &[Peer],
    plan: &ChatPlan,
) -> anyhow::Result<ChatRun> {
    anyhow::ensure!(
        peers.len() >= 2 && peers.len().is_multiple_of(2),
        "chat needs pairs of peers"
    );
    anyhow::ensure!(!addrs.is_empty(), "no nodes");
    let mut sockets = Vec::with_capacity(peers.len());
    for (c, chunk) in peers.chunks(64).enumerate() {
        let opening = chunk
            .iter()
            .enumerate()
            .map(|(n, peer)| open(addrs[(c * 64 + n) % addrs.len()], peer));
        for socket in futures_util::future::join_all(opening).await {
            sockets.push(socket?);
        }
    }
    let connections = sockets.len();
    let period = Duration::from_secs_f64(connections as f64 / f64::from(plan.rate.max(1)));
    let epoch = Instant::now();
    let start = epoch + Duration::from_millis(200);
    let window_start = start + plan.warmup;
    let until = window_start + plan.measure;
    let window = Window {
        start: (window_start - epoch).as_nanos() as u64,
        end: (until - epoch).as_nanos() as u64,
    };
    let counts = Arc::new(ChatCounts::default());
    // Senders stop at `until` (then resend what was refused); one stuck on a full socket is
    // given up after the drain.
    let give_up = until + plan.drain;
    let (stop_tx, stop) = watch::channel(false);
    let mut senders = Vec::with_capacity(connections);
    let mut readers = Vec::with_capacity(connections);
    for (n, socket) in sockets.into_iter().enumerate() {
        let (sink, stream) = socket.split();
        let partner = peers[n ^ 1].id;
        // Spread the connections' sends evenly over one period.
        let first = start + period.mul_f64(n as f64 / connections as f64);
        let timing = (first, period, until, give_up);
        let (refused_tx, refused_rx) = mpsc::unbounded_channel();
        senders.push(tokio::spawn(send_chat(
            sink,
            n,
            partner,
            timing,
            epoch,
            counts.clone(),
            refused_rx,
        )));
        readers.push(tokio::spawn(read_chat(
            stream,
            peers[n].id,
            (epoch, window),
            counts.clone(),
            stop.clone(),
            refused_tx,
        )));
    }
    let mut sinks = Vec::with_capacity(connections);
    for sender in senders {
        match tokio::time::timeout_at(give_up, sender).await {
            Ok(Ok(sink)) => sinks.push(sink),
            _ => break,
        }
    }
    let sent = counts.sent.load(Ordering::Acquire);
    while Instant::now() < give_up
        && (counts.acked.load(Ordering::Acquire) + counts.nacks.load(Ordering::Acquire) < sent
            || counts.delivered.load(Ordering::Acquire) < sent)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop_tx.send(true);
    let (mut acks, mut deliveries) = (Vec::new(), Vec::new());
    for reader in readers {
        if let Ok(Ok((a, d))) = tokio::time::timeout(Duration::from_secs(5), reader).await {
            acks.extend(a);
            deliveries.extend(d);
        }
    }
    drop(sinks);
    let measured = plan.measure.as_secs_f64();
    let acked = counts.acked.load(Ordering::Acquire);
    let delivered = counts.delivered.load(Ordering::Acquire);
    let first_nack = counts
        .first_nack
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    Ok(ChatRun {
        connections,
        offered_per_sec: f64::from(plan.rate),
        sent,
        acked_per_sec: counts.acked_in_window.load(Ordering::Acquire) as f64 / measured,
        delivered_per_sec: counts.delivered_in_window.load(Ordering::Acquire) as f64 / measured,
        ack: Latency::of_micros(&mut acks),
        deliver: Latency::of_micros(&mut deliveries),
        nacks: counts.nacks.load(Ordering::Acquire),
        first_nack,
        acked_after_resend: counts.acked_after_resend.load(Ordering::Acquire),
        unacked: sent.saturating_sub(acked),
        undelivered: sent.saturating_sub(delivered),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_uuid_shaped_and_carry_the_send_time() {
        let id = message_id(7, 0x1_0002_0003, 0xabc_def0_1234);
        assert_eq!(id, "00000007-0001-0002-0003-0abcdef01234");
        assert_eq!(id.len(), 36);
        assert_eq!(sent_ns_of(&id), Some(0xabc_def0_1234));
        assert_eq!(sent_ns_of("short"), None);
    }

    #[tokio::test]
    async fn both_scenarios_run_against_the_relay() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(crate::relay::serve(listener));
        let peers: Vec<Peer> = (1..=5).map(|id| Peer { id, cookie: None }).collect();
        let plan = HoldPlan {
            connections: 20,
            concurrency: 4,
            changes: 3,
            change_limit: Duration::from_secs(5),
            open_limit: Duration::from_secs(10),
        };
        let held = hold(&[addr], std::process::id(), &peers[..4], &peers[4], &plan)
            .await
            .unwrap();
        assert_eq!((held.opened, held.failed), (20, 0));
        assert_eq!((held.fan_out_ms.len(), held.incomplete), (3, 0));

        let plan = ChatPlan {
            rate: 400,
            warmup: Duration::from_millis(100),
            measure: Duration::from_millis(500),
            drain: Duration::from_secs(2),
        };
        let chat = chat(&[addr], &peers[..4], &plan).await.unwrap();
        assert!(chat.sent >= 200, "sent {}", chat.sent);
        assert_eq!((chat.unacked, chat.undelivered, chat.nacks), (0, 0, 0));
        assert!(chat.ack.count > 100 && chat.deliver.count > 100);
        assert!(chat.acked_per_sec > 200.0, "{}", chat.acked_per_sec);
    }
}
