//! The hub: who is connected, each user's presence, and fan-out of every change to consoles.
//!
//! A user is online while at least one of their connections is open; their shown state is
//! then the one they chose (stored), otherwise `offline`. Every change is encoded once and
//! shared through one bounded broadcast channel: a connection that falls behind is closed
//! and resyncs from a fresh snapshot, it never slows the others.
//!
//! Federated contacts (people on the company's XMPP server, see [`crate::federation`]) have
//! no connections: their shown state is the one their XMPP presence says, and frames for them
//! go to the XMPP link.
//!
//! With several nodes ([`crate::cluster`]) a user may also be online through another node:
//! each node tells the others the presence of its own connections (on every change and in a
//! heartbeat), the hub keeps what each other node said, and a user is online while any node
//! has a connection of theirs. Frames for a user and for operators go to the other nodes too;
//! chat messages pass the cluster's delivery task, which keeps each conversation in order.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::{Arc, Mutex, MutexGuard},
};

use axum::extract::ws::Utf8Bytes;
use sqlx::{AnyPool, Row};
use switchboard_protocol::{ChatMessage, PresenceState, PresenceUpdate, Role, ServerFrame, UserId};
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

/// Frames a connection may lag behind before it is closed and must resync.
const FAN_OUT_QUEUE: usize = 4096;
/// Frames addressed to one connection (chat) that may wait before it is closed as too slow.
const DIRECT_QUEUE: usize = 1024;

/// Identifies one open connection in the hub.
pub type ConnId = u64;

/// Presence updates per snapshot page: about 7 KiB of JSON, like a directory page (a
/// connection's send buffer keeps the size of its largest frame).
const SNAPSHOT_PAGE: usize = 200;
/// Presence changes the hub remembers ([`HubState::recent`]).
const RECENT: usize = 4 * SNAPSHOT_PAGE;
/// Changes after which a joining connection gets a new snapshot rather than the shared one
/// and the changes since (which go in one page of their own).
const STALE_AFTER: u64 = SNAPSHOT_PAGE as u64;

/// The presence snapshot encoded once and shared by every connection that joins until
/// [`STALE_AFTER`] changes: encoding everyone's presence for each join (under the hub's lock)
/// cost the square of the company when thousands of consoles came back at once.
struct SharedSnapshot {
    /// The last change it holds.
    seq: u64,
    /// Its pages, each with `more: true`: the changes since come in the last page.
    pages: Vec<Utf8Bytes>,
}

/// The snapshot's last page: `updates` and `more: false`.
fn last_page(updates: Vec<PresenceUpdate>) -> Utf8Bytes {
    let frame = ServerFrame::PresenceSnapshot {
        presence: updates,
        more: false,
    };
    frame.encode().into()
}

/// A connection registered before its `hello`: it counts against the user's connection
/// limit and is closed at sign-out like a joined one, but the user is not online through it.
pub struct Opened {
    pub id: ConnId,
    /// Cancelled by the hub to close the connection (sign-out, deactivation).
    pub closed: CancellationToken,
}

/// What a connection gets when it joins (says `hello`): its receivers (frames for everyone,
/// frames for its user) and the presence snapshot taken at the same instant, in pages.
/// `direct` ends when the connection fell too far behind.
pub struct Joined {
    pub events: broadcast::Receiver<Utf8Bytes>,
    /// Everyone's presence changes, until the connection watches some users only.
    pub presence: broadcast::Receiver<Utf8Bytes>,
    /// Frames for operators only (calls, operator notes); `None` for other roles.
    pub operator_events: Option<broadcast::Receiver<Utf8Bytes>>,
    pub direct: mpsc::Receiver<Utf8Bytes>,
    pub snapshot: Vec<Utf8Bytes>,
}

struct Connection {
    user: UserId,
    session: String,
    closed: CancellationToken,
    /// Whether it said `hello` (its user is online through it).
    joined: bool,
    /// Dropped (set to `None`) when full, which ends the connection's `direct` receiver.
    direct: Option<mpsc::Sender<Utf8Bytes>>,
    /// The users whose presence it follows, once it said (`watch`); `None`: everyone's.
    watching: Option<HashSet<UserId>>,
}

#[derive(Default)]
struct HubState {
    /// The state each user chose, for every user.
    chosen: HashMap<UserId, PresenceState>,
    /// Joined connections per user; a user is online while this holds an entry for them.
    online: HashMap<UserId, Vec<ConnId>>,
    /// Every connection per user, joined or not yet: what the connection limit counts.
    open: HashMap<UserId, usize>,
    connections: HashMap<ConnId, Connection>,
    next_id: ConnId,
    /// The shown state of each federated contact, as their XMPP presence says.
    federated: HashMap<UserId, PresenceState>,
    /// What the XMPP link learns while it is up.
    link: Option<mpsc::Sender<ToLink>>,
    /// Users online through other nodes: node -> user -> the state shown there.
    remote: HashMap<NodeId, HashMap<UserId, PresenceState>>,
    /// What the other nodes learn, with several nodes.
    bus: Option<Bus>,
    /// Presence changes published so far, and the latest of them (at most [`RECENT`]): a
    /// joining connection gets the shared snapshot and the changes since it.
    presence_seq: u64,
    recent: VecDeque<(u64, PresenceUpdate)>,
    /// Per user, the connections watching their presence (see [`Hub::watch`]).
    watchers: HashMap<UserId, HashSet<ConnId>>,
}

/// Names one server process among several nodes.
pub type NodeId = String;

/// The hub's way to the other nodes ([`crate::cluster`]).
#[derive(Clone)]
pub struct Bus {
    /// What this node publishes.
    pub outbound: mpsc::Sender<ToNodes>,
    /// Chat messages to hand to consoles, in order ([`crate::cluster::delivery`]).
    pub chat: mpsc::UnboundedSender<crate::cluster::delivery::Job>,
}

/// What a node tells the others.
#[derive(Debug)]
pub enum ToNodes {
    /// The presence of one of this node's users changed (`Offline`: no connection left here).
    Presence(UserId, PresenceState),
    /// A frame for a user's consoles (a marker, typing).
    ToUser(UserId, Utf8Bytes),
    /// A frame for every operator's console (a call, a note).
    Operators(Utf8Bytes),
    /// A frame for every console (an absence).
    Everyone(Utf8Bytes),
    /// A chat message this node stored.
    Chat(ChatMessage),
    /// Everyone online through this node.
    Heartbeat(Vec<PresenceUpdate>),
    /// A session ended here (sign-out): its connections on other nodes close too. By the
    /// token's hash, never the token.
    CloseSession(String),
}

impl HubState {
    fn shown(&self, user: UserId) -> PresenceState {
        if self.online.contains_key(&user) {
            return self.local(user);
        }
        if let Some(&shown) = self.remote.values().find_map(|users| users.get(&user)) {
            return shown;
        }
        self.federated
            .get(&user)
            .copied()
            .unwrap_or(PresenceState::Offline)
    }

    /// The state this node's connections give `user`.
    fn local(&self, user: UserId) -> PresenceState {
        if self.online.contains_key(&user) {
            self.chosen
                .get(&user)
                .copied()
                .unwrap_or(PresenceState::Available)
        } else {
            PresenceState::Offline
        }
    }

    /// Connection `id` no longer watches `users`.
    fn unwatch(&mut self, id: ConnId, users: impl IntoIterator<Item = UserId>) {
        for user in users {
            if let Some(conns) = self.watchers.get_mut(&user) {
                conns.remove(&id);
                if conns.is_empty() {
                    self.watchers.remove(&user);
                }
            }
        }
    }

    /// Everyone not offline, here, through other nodes or over XMPP (everyone else is
    /// offline, which the console assumes).
    fn online_now(&self) -> Vec<PresenceUpdate> {
        let remote = self.remote.values().flat_map(HashMap::keys);
        let everyone: HashSet<UserId> = self
            .online
            .keys()
            .chain(self.federated.keys())
            .chain(remote)
            .copied()
            .collect();
        everyone
            .into_iter()
            .map(|user| PresenceUpdate {
                user,
                state: self.shown(user),
            })
            .filter(|update| update.state != PresenceState::Offline)
            .collect()
    }

    /// Tells the other nodes what this node's connections give `user` now.
    fn tell_nodes(&self, user: UserId) {
        if let Some(bus) = &self.bus
            && bus
                .outbound
                .try_send(ToNodes::Presence(user, self.local(user)))
                .is_err()
        {
            // The next heartbeat carries it.
            tracing::warn!(user, "cluster bus too far behind; a presence change waits");
        }
    }

    fn to_nodes(&self, event: ToNodes) {
        if let Some(bus) = &self.bus
            && bus.outbound.try_send(event).is_err()
        {
            tracing::warn!("cluster bus too far behind; a frame for other nodes was dropped");
        }
    }
}

/// What the hub tells the XMPP link.
#[derive(Debug)]
pub enum ToLink {
    /// A frame for a federated contact (a message, a marker, typing).
    Frame(UserId, Utf8Bytes),
    /// A new federated contact.
    Contact(UserId),
}

/// Presence and connections of every user; see the module doc.
pub struct Hub {
    state: Mutex<HubState>,
    events: broadcast::Sender<Utf8Bytes>,
    /// Presence changes, for the connections that follow everyone's (operators, and consoles
    /// that have not said what they watch).
    presence_events: broadcast::Sender<Utf8Bytes>,
    operator_events: broadcast::Sender<Utf8Bytes>,
    snapshot: Mutex<Option<Arc<SharedSnapshot>>>,
}

impl Hub {
    /// Loads every user's chosen presence, and who is a federated contact.
    pub async fn load(db: &AnyPool) -> Result<Self, sqlx::Error> {
        let rows = sqlx::query("SELECT id, presence, xmpp FROM users")
            .fetch_all(db)
            .await?;
        let federated = rows
            .iter()
            .filter(|row| row.get::<Option<String>, _>("xmpp").is_some())
            .map(|row| (row.get::<UserId, _>("id"), PresenceState::Offline))
            .collect();
        let chosen = rows
            .iter()
            .map(|row| {
                let name: String = row.get("presence");
                let state = PresenceState::parse(&name).unwrap_or(PresenceState::Available);
                (row.get::<UserId, _>("id"), state)
            })
            .collect();
        Ok(Hub {
            state: Mutex::new(HubState {
                chosen,
                federated,
                ..HubState::default()
            }),
            events: broadcast::channel(FAN_OUT_QUEUE).0,
            presence_events: broadcast::channel(FAN_OUT_QUEUE).0,
            operator_events: broadcast::channel(FAN_OUT_QUEUE).0,
            snapshot: Mutex::default(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, HubState> {
        // A panic while holding the lock leaves plain maps behind: still consistent enough.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Sends a presence change to the connections that follow everyone's and to those
    /// watching `user`, and remembers it for the shared snapshot. Called with the lock held,
    /// so that joins and watches (under the same lock) never miss or reorder one.
    fn publish(&self, hub: &mut HubState, user: UserId, state: PresenceState) {
        let update = PresenceUpdate { user, state };
        hub.presence_seq += 1;
        if hub.recent.len() == RECENT {
            hub.recent.pop_front();
        }
        hub.recent.push_back((hub.presence_seq, update));
        let frame: Utf8Bytes = ServerFrame::Presence(update).encode().into();
        // No receivers is fine: nobody follows everyone.
        let _ = self.presence_events.send(frame.clone());
        let HubState {
            watchers,
            connections,
            ..
        } = hub;
        for id in watchers.get(&user).into_iter().flatten() {
            if let Some(conn) = connections.get_mut(id) {
                Self::send_direct(*id, conn, &frame);
            }
        }
    }

    /// Queues `frame` for one connection; one too far behind is cut off (its `direct` ends,
    /// and the connection closes).
    fn send_direct(id: ConnId, conn: &mut Connection, frame: &Utf8Bytes) {
        if let Some(direct) = &conn.direct
            && direct.try_send(frame.clone()).is_err()
        {
            tracing::warn!(
                user = conn.user,
                conn = id,
                "connection too far behind; closing it"
            );
            conn.direct = None;
        }
    }

    /// The connection `id` (not an operator's) follows the presence of `users` only, from now
    /// on (users unknown here are left out). Its `direct` queue gets `watched` with the
    /// presence of those it did not follow yet, then their changes, in the order they happen
    /// (queued under the hub's lock, so an older change never follows the answer).
    pub fn watch(&self, id: ConnId, users: &[UserId]) {
        let mut state = self.lock();
        let wanted: HashSet<UserId> = users
            .iter()
            .copied()
            .filter(|user| state.chosen.contains_key(user))
            .collect();
        let Some(conn) = state.connections.get_mut(&id).filter(|conn| conn.joined) else {
            return;
        };
        let before = conn.watching.replace(wanted.clone()).unwrap_or_default();
        let gone: Vec<UserId> = before.difference(&wanted).copied().collect();
        state.unwatch(id, gone);
        let added: Vec<UserId> = wanted.difference(&before).copied().collect();
        for &user in &added {
            state.watchers.entry(user).or_default().insert(id);
        }
        let presence = added
            .into_iter()
            .map(|user| PresenceUpdate {
                user,
                state: state.shown(user),
            })
            .collect();
        let answer = ServerFrame::Watched { presence }.encode().into();
        if let Some(conn) = state.connections.get_mut(&id) {
            Self::send_direct(id, conn, &answer);
        }
    }

    /// Sends a frame that is not about presence (directory changes, settings) to every joined
    /// connection.
    pub fn broadcast(&self, frame: Utf8Bytes) {
        // No receivers is fine: nobody is watching.
        let _ = self.events.send(frame);
    }

    /// [`Hub::broadcast`] on every node.
    pub fn broadcast_everywhere(&self, frame: Utf8Bytes) {
        self.lock().to_nodes(ToNodes::Everyone(frame.clone()));
        self.broadcast(frame);
    }

    /// Sends a frame to the connections of operators only (calls, operator notes). Callers
    /// keep their own order (the calls service sends under its own lock).
    pub fn broadcast_operators(&self, frame: Utf8Bytes) {
        self.lock().to_nodes(ToNodes::Operators(frame.clone()));
        self.broadcast_operators_here(frame);
    }

    /// A frame from another node for the operators' consoles here.
    pub fn broadcast_operators_here(&self, frame: Utf8Bytes) {
        let _ = self.operator_events.send(frame);
    }

    /// Registers a connection of `user` under `session` that has not said `hello` yet, unless
    /// `user` already holds `max` connections: then `None`.
    pub fn open(&self, user: UserId, session: &str, max: usize) -> Option<Opened> {
        let mut state = self.lock();
        let open = state.open.entry(user).or_default();
        if *open >= max {
            return None;
        }
        *open += 1;
        let id = state.next_id;
        state.next_id += 1;
        let closed = CancellationToken::new();
        state.connections.insert(
            id,
            Connection {
                user,
                session: session.to_owned(),
                closed: closed.clone(),
                joined: false,
                direct: None,
                watching: None,
            },
        );
        Some(Opened { id, closed })
    }

    /// Joins an opened connection of a user of `role` (its `hello`): the user comes online if
    /// this is their first joined connection. `None` when the connection was closed meanwhile
    /// or has joined already.
    pub fn join(&self, id: ConnId, role: Role) -> Option<Joined> {
        let mut state = self.lock();
        let (direct_tx, direct) = mpsc::channel(DIRECT_QUEUE);
        let conn = state.connections.get_mut(&id).filter(|conn| !conn.joined)?;
        conn.joined = true;
        conn.direct = Some(direct_tx);
        let user = conn.user;
        let conns = state.online.entry(user).or_default();
        conns.push(id);
        if conns.len() == 1 {
            let shown = state.shown(user);
            self.publish(&mut state, user, shown);
            state.tell_nodes(user);
        }
        // Subscribed after that publish: the snapshot below already holds it.
        let events = self.events.subscribe();
        let presence = self.presence_events.subscribe();
        let operator_events = role
            .handles_calls()
            .then(|| self.operator_events.subscribe());
        let seq = state.presence_seq;
        let shared = self
            .snapshot
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
            .filter(|shared| seq - shared.seq <= STALE_AFTER);
        // The shared snapshot and the changes since, in order (the console applies the pages
        // in order: a later state wins, `offline` included); or a new one, encoded outside the
        // lock and shared from now on.
        let (shared, since) = match shared {
            Some(shared) => {
                let since: Vec<PresenceUpdate> = state
                    .recent
                    .iter()
                    .filter(|&&(at, _)| at > shared.seq)
                    .map(|&(_, update)| update)
                    .collect();
                drop(state);
                (shared, since)
            }
            None => {
                let online = state.online_now();
                drop(state);
                let pages = online
                    .chunks(SNAPSHOT_PAGE)
                    .map(|page| {
                        let frame = ServerFrame::PresenceSnapshot {
                            presence: page.to_vec(),
                            more: true,
                        };
                        frame.encode().into()
                    })
                    .collect();
                let shared = Arc::new(SharedSnapshot { seq, pages });
                let mut kept = self
                    .snapshot
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                if kept.as_ref().is_none_or(|kept| kept.seq < seq) {
                    *kept = Some(shared.clone());
                }
                (shared, Vec::new())
            }
        };
        let mut snapshot = shared.pages.clone();
        snapshot.push(last_page(since));
        Some(Joined {
            events,
            presence,
            operator_events,
            direct,
            snapshot,
        })
    }

    /// Opens and joins a connection with no limit (the demo's bots, tests).
    pub fn open_and_join(&self, user: UserId, session: &str) -> (ConnId, Joined) {
        let opened = self.open(user, session, usize::MAX).expect("no limit");
        let joined = self.join(opened.id, Role::User).expect("just opened");
        (opened.id, joined)
    }

    /// Unregisters a connection; the user goes offline when it was their last joined one.
    pub fn leave(&self, id: ConnId) {
        let mut state = self.lock();
        let Some(conn) = state.connections.remove(&id) else {
            return;
        };
        state.unwatch(id, conn.watching.into_iter().flatten());
        if let Some(open) = state.open.get_mut(&conn.user) {
            *open -= 1;
            if *open == 0 {
                state.open.remove(&conn.user);
            }
        }
        if !conn.joined {
            return;
        }
        let last = match state.online.get_mut(&conn.user) {
            Some(conns) => {
                conns.retain(|&other| other != id);
                conns.is_empty()
            }
            None => true,
        };
        if last {
            state.online.remove(&conn.user);
            let shown = state.shown(conn.user);
            self.publish(&mut state, conn.user, shown);
            state.tell_nodes(conn.user);
        }
    }

    /// Records the state `user` chose and tells everyone if the user is online.
    /// Returns false for a state nobody may choose (`offline`) or an unknown user.
    pub fn choose(&self, user: UserId, chosen: PresenceState) -> bool {
        if chosen == PresenceState::Offline {
            return false;
        }
        let mut state = self.lock();
        match state.chosen.get_mut(&user) {
            Some(current) => *current = chosen,
            None => return false,
        }
        if state.online.contains_key(&user) {
            self.publish(&mut state, user, chosen);
            state.tell_nodes(user);
        }
        true
    }

    /// Closes every connection of a session (sign-out).
    pub fn close_session(&self, session: &str) {
        let state = self.lock();
        state.to_nodes(ToNodes::CloseSession(session.to_owned()));
        Self::close_session_in(&state, session);
    }

    /// Another node's sign-out: the session's connections here close too.
    pub fn close_session_here(&self, session: &str) {
        Self::close_session_in(&self.lock(), session);
    }

    fn close_session_in(state: &HubState, session: &str) {
        for conn in state.connections.values() {
            if conn.session == session {
                conn.closed.cancel();
            }
        }
    }

    /// Closes every connection of `user` (deactivated, new role, new password): each
    /// console then reconnects with the new role or finds its session gone.
    pub fn close_user(&self, user: UserId) {
        let state = self.lock();
        for conn in state.connections.values() {
            if conn.user == user {
                conn.closed.cancel();
            }
        }
    }

    /// Learns of a new account, so that others can chat with it.
    pub fn add_user(&self, user: UserId) {
        self.lock()
            .chosen
            .entry(user)
            .or_insert(PresenceState::Available);
    }

    /// Sends a frame to every connection of `user` (chat). A connection whose queue is full is
    /// cut off, so it closes and resyncs instead of slowing the sender.
    pub fn send_to_user(&self, user: UserId, frame: &Utf8Bytes) {
        let mut state = self.lock();
        state.to_nodes(ToNodes::ToUser(user, frame.clone()));
        Self::deliver(&mut state, user, frame);
    }

    /// A frame from another node for `user`'s consoles here (and the XMPP link, if here).
    pub fn deliver_local(&self, user: UserId, frame: &Utf8Bytes) {
        Self::deliver(&mut self.lock(), user, frame);
    }

    /// A stored chat message for the consoles of its sender and recipient: at once on one
    /// node; through the cluster's delivery task, which keeps conversations in order, with
    /// several.
    pub fn send_chat(&self, message: ChatMessage) {
        let chat = self.lock().bus.as_ref().map(|bus| bus.chat.clone());
        match chat {
            Some(chat) => {
                if let Err(lost) = chat.send(crate::cluster::delivery::Job::Stored(message)) {
                    tracing::error!(?lost, "the cluster's delivery task has stopped");
                }
            }
            None => self.deliver_chat_here(&message),
        }
    }

    /// A stored chat message to the consoles here of its sender and recipient (and to the
    /// XMPP link, if here).
    pub fn deliver_chat_here(&self, message: &ChatMessage) {
        let frame: Utf8Bytes = ServerFrame::ChatMessage(message.clone()).encode().into();
        let mut state = self.lock();
        Self::deliver(&mut state, message.from, &frame);
        Self::deliver(&mut state, message.to, &frame);
    }

    fn deliver(state: &mut HubState, user: UserId, frame: &Utf8Bytes) {
        if let Some(link) = state
            .link
            .as_ref()
            .filter(|_| state.federated.contains_key(&user))
            && link.try_send(ToLink::Frame(user, frame.clone())).is_err()
        {
            // The link catches up on messages from the database; a lost marker or typing
            // notice is not worth stalling the sender for.
            tracing::warn!(user, "XMPP link too far behind; a frame for it was dropped");
        }
        let HubState {
            online,
            connections,
            ..
        } = &mut *state;
        for id in online.get(&user).into_iter().flatten() {
            if let Some(conn) = connections.get_mut(id) {
                Self::send_direct(*id, conn, frame);
            }
        }
    }

    /// Makes `users` federated contacts (offline until their XMPP presence says otherwise).
    pub fn federate(&self, users: &[UserId]) {
        let mut state = self.lock();
        for &user in users {
            state.chosen.entry(user).or_insert(PresenceState::Available);
            state
                .federated
                .entry(user)
                .or_insert(PresenceState::Offline);
            if let Some(link) = &state.link
                && link.try_send(ToLink::Contact(user)).is_err()
            {
                tracing::warn!(user, "XMPP link too far behind to learn of a new contact");
            }
        }
    }

    /// The XMPP link is up: frames for federated contacts go to `link` from now on.
    pub fn attach_link(&self, link: mpsc::Sender<ToLink>) {
        self.lock().link = Some(link);
    }

    /// The XMPP link went down: nothing is known of federated contacts' presence any more,
    /// so they are shown offline until it is back.
    pub fn detach_link(&self) {
        let mut state = self.lock();
        state.link = None;
        let shown: Vec<UserId> = state
            .federated
            .iter()
            .filter(|&(_, &shown)| shown != PresenceState::Offline)
            .map(|(&user, _)| user)
            .collect();
        for user in shown {
            state.federated.insert(user, PresenceState::Offline);
            self.publish(&mut state, user, PresenceState::Offline);
        }
    }

    /// A federated contact's XMPP presence changed; everyone is told. False for a user who is
    /// not a federated contact.
    pub fn set_federated(&self, user: UserId, shown: PresenceState) -> bool {
        let mut state = self.lock();
        match state.federated.get_mut(&user) {
            Some(current) if *current == shown => true,
            Some(current) => {
                *current = shown;
                self.publish(&mut state, user, shown);
                true
            }
            None => false,
        }
    }

    /// Every presence change from now on, as the `presence` frames sent to consoles.
    pub fn presence_changes(&self) -> broadcast::Receiver<Utf8Bytes> {
        self.presence_events.subscribe()
    }

    /// Whether `user` has a connection open (a console, or a demo bot).
    pub fn is_online(&self, user: UserId) -> bool {
        let state = self.lock();
        state.online.contains_key(&user)
            || state.remote.values().any(|users| users.contains_key(&user))
    }

    /// Joins this hub to other nodes through `bus`.
    pub fn attach_bus(&self, bus: Bus) {
        self.lock().bus = Some(bus);
    }

    /// Whether `user` has a console on this node.
    pub fn is_here(&self, user: UserId) -> bool {
        self.lock().online.contains_key(&user)
    }

    /// The users online through this node and their state: a heartbeat's content.
    pub fn local_presence(&self) -> Vec<PresenceUpdate> {
        let state = self.lock();
        state
            .online
            .keys()
            .map(|&user| PresenceUpdate {
                user,
                state: state.local(user),
            })
            .collect()
    }

    /// Node `node` says `user` shows `shown` through it (`Offline`: no connection there).
    pub fn remote_presence(&self, node: &str, user: UserId, shown: PresenceState) {
        let mut state = self.lock();
        if !state.chosen.contains_key(&user) {
            return;
        }
        let before = state.shown(user);
        let users = state.remote.entry(node.to_owned()).or_default();
        if shown == PresenceState::Offline {
            users.remove(&user);
        } else {
            users.insert(user, shown);
            // Online somewhere, the state shown is the one the user chose (on any node).
            state.chosen.insert(user, shown);
        }
        let after = state.shown(user);
        if after != before {
            self.publish(&mut state, user, after);
        }
    }

    /// Node `node` says these are all the users online through it (a heartbeat), or, with
    /// `None`, that it is gone: its users are offline unless online through another node.
    pub fn remote_node(&self, node: &str, online: Option<Vec<PresenceUpdate>>) {
        let mut state = self.lock();
        let old = state.remote.get(node).cloned().unwrap_or_default();
        let new: HashMap<UserId, PresenceState> = online
            .into_iter()
            .flatten()
            .filter(|update| {
                update.state != PresenceState::Offline && state.chosen.contains_key(&update.user)
            })
            .map(|update| (update.user, update.state))
            .collect();
        let mut touched: Vec<UserId> = old.keys().chain(new.keys()).copied().collect();
        touched.sort_unstable();
        touched.dedup();
        let before: Vec<PresenceState> = touched.iter().map(|&user| state.shown(user)).collect();
        state.remote.remove(node);
        for (&user, &shown) in &new {
            if old.get(&user) != Some(&shown) {
                state.chosen.insert(user, shown);
            }
        }
        if !new.is_empty() {
            state.remote.insert(node.to_owned(), new);
        }
        for (user, before) in touched.into_iter().zip(before) {
            let after = state.shown(user);
            if after != before {
                self.publish(&mut state, user, after);
            }
        }
    }

    /// Whether `user` is someone who can chat (a known account).
    pub fn is_user(&self, user: UserId) -> bool {
        self.lock().chosen.contains_key(&user)
    }

    /// Open connections (joined or not yet) and users online.
    pub fn counts(&self) -> (usize, usize) {
        let state = self.lock();
        (state.connections.len(), state.online.len())
    }

    /// Current shown presence of a user.
    pub fn presence_of(&self, user: UserId) -> PresenceState {
        self.lock().shown(user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub_with_users(ids: &[UserId]) -> Hub {
        let hub = Hub {
            state: Mutex::new(HubState::default()),
            events: broadcast::channel(16).0,
            presence_events: broadcast::channel(16).0,
            operator_events: broadcast::channel(16).0,
            snapshot: Mutex::default(),
        };
        hub.lock()
            .chosen
            .extend(ids.iter().map(|&id| (id, PresenceState::Available)));
        hub
    }

    fn next(rx: &mut broadcast::Receiver<Utf8Bytes>) -> ServerFrame {
        let bytes = rx.try_recv().expect("a frame was published");
        ServerFrame::decode(bytes.as_str()).unwrap()
    }

    /// What a console makes of a hello's snapshot pages: each user's last state, offline
    /// ones left out.
    fn folded(pages: &[Utf8Bytes]) -> HashMap<UserId, PresenceState> {
        let mut shown = HashMap::new();
        for (at, page) in pages.iter().enumerate() {
            let ServerFrame::PresenceSnapshot { presence, more } =
                ServerFrame::decode(page.as_str()).unwrap()
            else {
                panic!("not a snapshot page");
            };
            assert_eq!(more, at + 1 < pages.len(), "only the last page ends it");
            shown.extend(
                presence
                    .into_iter()
                    .map(|update| (update.user, update.state)),
            );
        }
        shown.retain(|_, state| *state != PresenceState::Offline);
        shown
    }

    fn shared_seq(hub: &Hub) -> u64 {
        hub.snapshot.lock().unwrap().as_ref().unwrap().seq
    }

    #[tokio::test]
    async fn a_joining_console_gets_the_shared_snapshot_and_the_changes_since() {
        use PresenceState::{Available, Busy};
        let hub = hub_with_users(&[1, 2, 3, 4]);
        let (_, first) = hub.open_and_join(1, "a");
        assert_eq!(folded(&first.snapshot), HashMap::from([(1, Available)]));
        let built = shared_seq(&hub);
        let (two, _) = hub.open_and_join(2, "b");
        assert!(hub.choose(1, Busy));
        hub.leave(two);
        let (_, _three) = hub.open_and_join(3, "c");
        let (_, fourth) = hub.open_and_join(4, "d");
        assert_eq!(shared_seq(&hub), built, "encoded once, shared");
        let expected = HashMap::from([(1, Busy), (3, Available), (4, Available)]);
        assert_eq!(folded(&fourth.snapshot), expected, "2 went offline since");

        // Past STALE_AFTER changes, the next join encodes a new one.
        let mut shown_3 = Available;
        for n in 0..=STALE_AFTER {
            shown_3 = if n.is_multiple_of(2) { Busy } else { Available };
            assert!(hub.choose(3, shown_3));
        }
        let (_, fifth) = hub.open_and_join(2, "e");
        assert!(shared_seq(&hub) > built + STALE_AFTER);
        let expected = HashMap::from([(1, Busy), (2, Available), (3, shown_3), (4, Available)]);
        assert_eq!(folded(&fifth.snapshot), expected);
    }

    #[tokio::test]
    async fn user_is_online_while_any_connection_is_open() {
        let hub = hub_with_users(&[1, 2]);
        let mut watcher = hub.open_and_join(2, "s2").1.presence;
        assert!(
            watcher.try_recv().is_err(),
            "its own arrival is in its snapshot, not sent again"
        );
        let (first, _first) = hub.open_and_join(1, "a");
        assert_eq!(
            next(&mut watcher),
            ServerFrame::Presence(PresenceUpdate {
                user: 1,
                state: PresenceState::Available
            })
        );
        let (second, _second) = hub.open_and_join(1, "b");
        hub.leave(first);
        assert_eq!(hub.presence_of(1), PresenceState::Available);
        assert!(watcher.try_recv().is_err(), "no change while a tab remains");
        hub.leave(second);
        assert_eq!(hub.presence_of(1), PresenceState::Offline);
        assert_eq!(
            next(&mut watcher),
            ServerFrame::Presence(PresenceUpdate {
                user: 1,
                state: PresenceState::Offline
            })
        );
    }

    #[tokio::test]
    async fn chosen_state_is_kept_and_offline_cannot_be_chosen() {
        let hub = hub_with_users(&[1]);
        assert!(hub.choose(1, PresenceState::Dnd));
        assert_eq!(
            hub.presence_of(1),
            PresenceState::Offline,
            "still not connected"
        );
        let (_, joined) = hub.open_and_join(1, "a");
        assert_eq!(hub.presence_of(1), PresenceState::Dnd);
        assert!(!hub.choose(1, PresenceState::Offline));
        assert!(!hub.choose(99, PresenceState::Busy));
        assert_eq!(hub.presence_of(1), PresenceState::Dnd);
        assert_eq!(
            folded(&joined.snapshot),
            HashMap::from([(1, PresenceState::Dnd)])
        );
    }

    #[tokio::test]
    async fn the_snapshot_pages_hold_everyone_online_and_no_one_else() {
        let users: Vec<UserId> = (1..=1_000).collect();
        let hub = hub_with_users(&users);
        let mut joined = Vec::new();
        for &user in &users[..900] {
            joined.push(hub.open_and_join(user, &format!("s{user}")).1);
        }
        // A new user online after each join: the shared snapshot and the changes since.
        let mut online: Vec<UserId> = folded(&joined[899].snapshot).into_keys().collect();
        online.sort_unstable();
        assert_eq!(online, users[..900], "the 100 offline users are left out");
        let pages = joined[899].snapshot.len();
        assert!(
            pages <= 900usize.div_ceil(SNAPSHOT_PAGE) + 1,
            "{pages} pages: full pages, and one with the changes since"
        );
    }

    #[tokio::test]
    async fn sign_out_closes_only_that_session() {
        let hub = hub_with_users(&[1]);
        let a = hub.open(1, "a", 2).unwrap();
        let b = hub.open(1, "b", 2).unwrap();
        hub.join(b.id, Role::User).unwrap();
        hub.close_session("a");
        assert!(
            a.closed.is_cancelled(),
            "a connection that has not said hello yet is closed too"
        );
        assert!(!b.closed.is_cancelled());
    }

    #[tokio::test]
    async fn connections_count_against_the_limit_from_the_start() {
        let hub = hub_with_users(&[1]);
        let first = hub.open(1, "a", 2).unwrap();
        let _second = hub.open(1, "a", 2).unwrap();
        assert!(hub.open(1, "a", 2).is_none(), "two open, none joined: full");
        assert_eq!(hub.presence_of(1), PresenceState::Offline, "no hello yet");
        hub.leave(first.id);
        let third = hub.open(1, "a", 2).unwrap();
        assert!(hub.join(third.id, Role::User).is_some());
        assert!(hub.join(third.id, Role::User).is_none(), "joins once");
        assert_eq!(hub.presence_of(1), PresenceState::Available);
        hub.leave(third.id);
        assert_eq!(hub.presence_of(1), PresenceState::Offline);
    }

    #[tokio::test]
    async fn direct_frames_reach_only_that_users_connections_and_a_slow_one_is_cut_off() {
        let hub = hub_with_users(&[1, 2]);
        let mut tab1 = hub.open_and_join(1, "a").1;
        let mut tab2 = hub.open_and_join(1, "b").1;
        let mut other = hub.open_and_join(2, "c").1;
        let frame: Utf8Bytes = "{}".into();
        hub.send_to_user(1, &frame);
        assert_eq!(tab1.direct.try_recv().unwrap(), frame);
        assert_eq!(tab2.direct.try_recv().unwrap(), frame);
        assert!(other.direct.try_recv().is_err());

        // tab2 never reads: once its queue is full it is cut off, tab1 goes on.
        for _ in 0..=DIRECT_QUEUE {
            hub.send_to_user(1, &frame);
            assert_eq!(tab1.direct.try_recv().unwrap(), frame);
        }
        let mut drained = 0;
        while tab2.direct.try_recv().is_ok() {
            drained += 1;
        }
        assert_eq!(drained, DIRECT_QUEUE);
        assert!(matches!(
            tab2.direct.try_recv(),
            Err(mpsc::error::TryRecvError::Disconnected)
        ));
    }
}
