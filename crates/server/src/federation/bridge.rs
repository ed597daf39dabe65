//! One link's life: what the XMPP side says goes to the chat service and the hub; what the
//! hub has for federated contacts (messages, read markers, typing) and the presence of
//! Switchboard users go to the XMPP side. See the module doc of [`super`] for delivery.

use std::{
    collections::{HashMap, HashSet},
    time::{Duration, Instant},
};

use axum::extract::ws::Utf8Bytes;
use futures_util::{SinkExt, StreamExt};
use sha2::{Digest, Sha256};
use sqlx::Row;
use switchboard_protocol::{
    ChatRefusal, ConversationId, MarkerUpdate, PresenceState, ServerFrame, UserId,
};
use tokio::sync::{broadcast, mpsc};
use tokio_xmpp::{
    jid::{BareJid, Jid},
    minidom::Element,
    parsers::presence::Type as PresenceType,
    xmlstream::ReadError,
};

use super::{
    link::{self, LinkError, Stream},
    stanza::{self, Incoming, Refusal},
};
use crate::{chat::markers::Mark, presence::ToLink, state::AppState, ws::allowance::FrameKind};

/// Frames for federated contacts that may wait for the link before some are dropped (the
/// link catches up on messages from the database).
const LINK_QUEUE: usize = 4096;
/// How often presence changes held back by a contact's allowance are published, and new
/// contacts read.
const TICK: Duration = Duration::from_millis(500);
/// Least time between two readings of the federated contacts.
const REFRESH_EVERY: Duration = Duration::from_secs(1);
/// Most messages read from the database per catch-up query.
const CATCH_UP_PAGE: i64 = 500;
/// A message from an XMPP user that the server refuses as busy is tried again this many
/// times, this far apart, before the sender is told to wait.
const BUSY_TRIES: u32 = 20;
const BUSY_PAUSE: Duration = Duration::from_millis(250);

/// A chat message from an XMPP user, as stored: `id` is its stanza id (for the receipt and
/// markers), `client_msg_id` the id it is stored under.
struct FromXmpp {
    from: Jid,
    id: Option<String>,
    client_msg_id: String,
    body: String,
    receipt: bool,
}

/// What one link knows while it is up.
struct Bridge<'a> {
    state: &'a AppState,
    domain: &'a str,
    /// Federated contacts by bare JID, and back.
    contacts: HashMap<BareJid, UserId>,
    jids: HashMap<UserId, BareJid>,
    /// Each federated contact's resources and their shown state.
    resources: HashMap<UserId, HashMap<String, PresenceState>>,
    /// Contacts whose latest presence waits for their allowance (the consoles' allowances of
    /// [`crate::ws::allowance`] apply to what a federated contact does: a flood from the XMPP
    /// side must not become a broadcast or a commit per stanza).
    held_back: HashSet<UserId>,
    /// XMPP users who asked for a Switchboard user's presence.
    subscribers: HashMap<UserId, HashSet<BareJid>>,
    /// When the contacts were last read from the database.
    refreshed: Option<Instant>,
    /// New contacts were added since the last reading.
    new_contacts: bool,
    /// Highest message id sent on this link, and the highest the XMPP server confirmed.
    sent: i64,
    confirmed: i64,
    /// The ping in flight and the message id it confirms.
    barrier: Option<(String, i64)>,
    next_ping: u64,
    /// Read seq last reported to the XMPP user per conversation (not to repeat `displayed`).
    displayed: HashMap<ConversationId, i64>,
}

/// Serves an open link until it breaks or the server shuts down.
pub async fn serve(state: &AppState, domain: &str, mut stream: Stream) -> Result<(), LinkError> {
    let (link, mut frames) = mpsc::channel(LINK_QUEUE);
    // Attached before the catch-up reads the database: a message committed meanwhile is
    // either read by it or announced on `frames`, never missed.
    state.hub.attach_link(link);
    let mut watch = state.hub.presence_changes();
    let mut bridge = Bridge::load(state, domain).await?;
    bridge.refresh(&mut stream, true).await?;
    bridge.catch_up(&mut stream).await?;
    // Whatever changed while the link was down.
    bridge.all_local_presence(&mut stream).await?;
    let mut tick = tokio::time::interval(TICK);
    loop {
        tokio::select! {
            _ = tick.tick() => bridge.tick(&mut stream).await?,
            () = state.shutdown.cancelled() => {
                let _ = stream.shutdown().await;
                return Ok(());
            }
            read = stream.next() => match read {
                Some(Ok(element)) => bridge.incoming(element, &mut stream).await?,
                Some(Err(ReadError::SoftTimeout)) => bridge.keepalive(&mut stream).await?,
                Some(Err(ReadError::ParseError(err))) => {
                    tracing::warn!(%err, "XMPP: a stanza that is not XML was dropped");
                }
                Some(Err(err)) => return Err(link::read_error(err)),
                None => return Err(LinkError::Broken("the XMPP server closed the connection".into())),
            },
            Some(told) = frames.recv() => match told {
                ToLink::Frame(user, frame) => bridge.outgoing(user, &frame, &mut stream).await?,
                // An import adds contacts by the thousand: read them once per tick.
                ToLink::Contact(_) => bridge.new_contacts = true,
            },
            watched = watch.recv() => match watched {
                Ok(frame) => bridge.local_presence(&frame, &mut stream).await?,
                Err(broadcast::error::RecvError::Lagged(_)) => bridge.all_local_presence(&mut stream).await?,
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            },
        }
    }
}

fn db_error(err: sqlx::Error) -> LinkError {
    LinkError::Broken(format!("database: {err}"))
}

async fn send(stream: &mut Stream, stanza: impl Into<Element>) -> Result<(), LinkError> {
    stream
        .send(&stanza.into())
        .await
        .map_err(|err| LinkError::Broken(err.to_string()))
}

/// The message id a stanza from an XMPP user is stored under: a UUID derived from the sender
/// and the stanza's stable id, so a copy sent again is the same message; a random one when
/// the stanza has no id (nothing can tell a copy from a new message then).
fn message_id_for(from: &BareJid, stable_id: Option<&str>) -> String {
    match stable_id {
        Some(id) => {
            let digest = Sha256::new()
                .chain_update(from.as_str())
                .chain_update([0])
                .chain_update(id)
                .finalize();
            let mut bytes = [0; 16];
            bytes.copy_from_slice(&digest[..16]);
            uuid::Builder::from_custom_bytes(bytes)
                .into_uuid()
                .hyphenated()
                .to_string()
        }
        None => uuid::Uuid::new_v4().hyphenated().to_string(),
    }
}

impl<'a> Bridge<'a> {
    async fn load(state: &'a AppState, domain: &'a str) -> Result<Self, LinkError> {
        let confirmed: i64 =
            sqlx::query_scalar("SELECT message_id FROM xmpp_forwarded WHERE singleton = 1")
                .fetch_optional(&state.db)
                .await
                .map_err(db_error)?
                .unwrap_or(0);
        let mut subscribers: HashMap<UserId, HashSet<BareJid>> = HashMap::new();
        for row in sqlx::query("SELECT user_id, jid FROM xmpp_subscribers")
            .fetch_all(&state.db)
            .await
            .map_err(db_error)?
        {
            if let Ok(jid) = row.get::<String, _>("jid").parse() {
                subscribers
                    .entry(row.get("user_id"))
                    .or_default()
                    .insert(jid);
            }
        }
        Ok(Bridge {
            state,
            domain,
            contacts: HashMap::new(),
            jids: HashMap::new(),
            refreshed: None,
            new_contacts: false,
            resources: HashMap::new(),
            held_back: HashSet::new(),
            subscribers,
            sent: confirmed,
            confirmed,
            barrier: None,
            next_ping: 0,
            displayed: HashMap::new(),
        })
    }

    fn component(&self) -> Jid {
        stanza::component_jid(self.domain)
    }

    /// Reads the federated contacts again (unless `now`, at most once a second: an unknown
    /// sender cannot make it a loop) and asks the new ones to share their presence (a
    /// subscription they approve once, or the XMPP server's shared roster approves for them;
    /// the server answers `subscribed` at once when it was approved before).
    async fn refresh(&mut self, stream: &mut Stream, now: bool) -> Result<(), LinkError> {
        if !now
            && self
                .refreshed
                .is_some_and(|at| at.elapsed() < REFRESH_EVERY)
        {
            return Ok(());
        }
        self.refreshed = Some(Instant::now());
        let rows = sqlx::query("SELECT id, xmpp FROM users WHERE xmpp IS NOT NULL AND active = 1")
            .fetch_all(&self.state.db)
            .await
            .map_err(db_error)?;
        let mut new = Vec::new();
        for row in rows {
            let id: UserId = row.get("id");
            let text: String = row.get("xmpp");
            match text.parse::<BareJid>() {
                Ok(jid) if !self.contacts.contains_key(&jid) => {
                    self.contacts.insert(jid.clone(), id);
                    self.jids.insert(id, jid.clone());
                    new.push(jid);
                }
                Ok(_) => {}
                Err(err) => {
                    tracing::warn!(jid = %text, %err, "XMPP: a directory address is not a JID")
                }
            }
        }
        for jid in new {
            // A probe waits for the approval: a probe before it counts as a refusal.
            let subscribe =
                stanza::presence_of_kind(PresenceType::Subscribe, self.component(), jid.into());
            send(stream, subscribe).await?;
        }
        Ok(())
    }

    /// The federated contact `jid`, reading the contacts again if it is not known yet.
    async fn contact(
        &mut self,
        jid: &BareJid,
        stream: &mut Stream,
    ) -> Result<Option<UserId>, LinkError> {
        if !self.contacts.contains_key(jid) {
            // Known new contacts are read at once, not at the next tick: their first
            // stanza may come before it.
            let now = std::mem::take(&mut self.new_contacts);
            self.refresh(stream, now).await?;
        }
        Ok(self.contacts.get(jid).copied())
    }

    /// Sends every message to a federated contact stored after the last one sent, then a
    /// ping to confirm them.
    async fn catch_up(&mut self, stream: &mut Stream) -> Result<(), LinkError> {
        loop {
            let rows = sqlx::query(
                "SELECT m.id, m.client_msg_id, m.body, s.username, r.xmpp \
                 FROM messages m JOIN users r ON r.id = m.recipient \
                 JOIN users s ON s.id = m.sender \
                 WHERE m.id > $1 AND r.xmpp IS NOT NULL AND s.xmpp IS NULL \
                 ORDER BY m.id LIMIT $2",
            )
            .bind(self.sent)
            .bind(CATCH_UP_PAGE)
            .fetch_all(&self.state.db)
            .await
            .map_err(db_error)?;
            for row in &rows {
                let id: i64 = row.get("id");
                let sender: String = row.get("username");
                let to: String = row.get("xmpp");
                match (
                    stanza::user_jid(&sender, self.domain),
                    to.parse::<BareJid>(),
                ) {
                    (Some(from), Ok(to)) => {
                        let client_msg_id: String = row.get("client_msg_id");
                        let body: String = row.get("body");
                        let message = stanza::chat(from, to.into(), &client_msg_id, &body);
                        send(stream, message).await?;
                    }
                    _ => {
                        tracing::warn!(message = id, %sender, %to, "XMPP: a message cannot be addressed")
                    }
                }
                self.sent = id;
            }
            if (rows.len() as i64) < CATCH_UP_PAGE {
                break;
            }
        }
        self.confirm(stream).await
    }

    /// Sends a ping that confirms what was sent, unless one is in flight already (its answer
    /// sends the next).
    async fn confirm(&mut self, stream: &mut Stream) -> Result<(), LinkError> {
        if self.barrier.is_some() || self.sent == self.confirmed {
            return Ok(());
        }
        self.ping(stream, Some(self.sent)).await
    }

    async fn ping(&mut self, stream: &mut Stream, confirms: Option<i64>) -> Result<(), LinkError> {
        self.next_ping += 1;
        let id = format!("switchboard-ping-{}", self.next_ping);
        send(stream, stanza::ping(self.domain, &id)).await?;
        if let Some(sent) = confirms {
            self.barrier = Some((id, sent));
        }
        Ok(())
    }

    /// The stream was silent: a ping makes the XMPP server answer, or the link time out.
    async fn keepalive(&mut self, stream: &mut Stream) -> Result<(), LinkError> {
        self.ping(stream, None).await
    }

    async fn incoming(&mut self, element: Element, stream: &mut Stream) -> Result<(), LinkError> {
        match stanza::classify(element, self.domain) {
            Incoming::Chat {
                from,
                to,
                id,
                stable_id,
                body,
                receipt,
            } => {
                let client_msg_id = message_id_for(&from.to_bare(), stable_id.as_deref());
                let message = FromXmpp {
                    from,
                    id,
                    client_msg_id,
                    body,
                    receipt,
                };
                self.chat(message, &to, stream).await
            }
            Incoming::Received { from, to, id } => {
                self.marker(&from, &to, &id, Mark::Delivered, stream).await
            }
            Incoming::Displayed { from, to, id } => {
                self.marker(&from, &to, &id, Mark::Read, stream).await
            }
            Incoming::Composing { from, to } => {
                if let (Some(contact), Some(user)) = (
                    self.contact(&from, stream).await?,
                    self.local_user(&to).await?,
                ) && self.allowed(contact, FrameKind::Typing)
                {
                    self.state.chat.typing(contact, user);
                }
                Ok(())
            }
            Incoming::Presence { from, shown } => {
                if let Some(contact) = self.contact(&from.to_bare(), stream).await? {
                    self.contact_presence(contact, &from, shown);
                }
                Ok(())
            }
            Incoming::Subscribe { from, to } => self.subscribe(from, &to, stream).await,
            Incoming::Subscribed { from } => {
                if self.contact(&from, stream).await?.is_some() {
                    let probe = stanza::presence_of_kind(
                        PresenceType::Probe,
                        self.component(),
                        from.into(),
                    );
                    send(stream, probe).await?;
                }
                Ok(())
            }
            Incoming::Unsubscribe { from, to } => {
                if let Some(user) = self.local_user(&to).await? {
                    if let Some(subscribers) = self.subscribers.get_mut(&user) {
                        subscribers.remove(&from);
                    }
                    sqlx::query("DELETE FROM xmpp_subscribers WHERE user_id = $1 AND jid = $2")
                        .bind(user)
                        .bind(from.as_str())
                        .execute(&self.state.db)
                        .await
                        .map_err(db_error)?;
                }
                Ok(())
            }
            Incoming::Pong { id } => {
                if let Some((_, sent)) = self.barrier.take_if(|(ping, _)| *ping == id) {
                    self.confirmed = sent;
                    sqlx::query(
                        "INSERT INTO xmpp_forwarded (singleton, message_id) VALUES (1, $1) \
                         ON CONFLICT (singleton) DO UPDATE SET \
                         message_id = CASE WHEN excluded.message_id > xmpp_forwarded.message_id \
                         THEN excluded.message_id ELSE xmpp_forwarded.message_id END",
                    )
                    .bind(sent)
                    .execute(&self.state.db)
                    .await
                    .map_err(db_error)?;
                    self.confirm(stream).await?;
                }
                Ok(())
            }
            Incoming::Bounced { from, id, reason } => {
                tracing::warn!(?from, ?id, %reason, "XMPP: a stanza Switchboard sent was refused");
                Ok(())
            }
            Incoming::Reply(reply) => send(stream, *reply).await,
            Incoming::Ignored(why) => {
                tracing::debug!(%why, "XMPP: stanza ignored");
                Ok(())
            }
        }
    }

    /// The active Switchboard user named `username` (never a federated contact).
    async fn local_user(&self, username: &str) -> Result<Option<UserId>, LinkError> {
        sqlx::query_scalar(
            "SELECT id FROM users WHERE username = $1 AND active = 1 AND xmpp IS NULL",
        )
        .bind(username)
        .fetch_optional(&self.state.db)
        .await
        .map_err(db_error)
    }

    async fn chat(
        &mut self,
        message: FromXmpp,
        to: &str,
        stream: &mut Stream,
    ) -> Result<(), LinkError> {
        let FromXmpp {
            from,
            id,
            client_msg_id,
            body,
            receipt,
        } = message;
        let bare = from.to_bare();
        let addressed = stanza::user_jid(to, self.domain).unwrap_or_else(|| self.component());
        let refuse = |why, text: &str| {
            stanza::refusal(addressed.clone(), from.clone(), id.as_deref(), why, text)
        };
        let Some(contact) = self.contact(&bare, stream).await? else {
            tracing::info!(from = %bare, "XMPP: a message from someone not in the directory was refused");
            let reply = refuse(
                Refusal::NotInDirectory,
                "Only people in the company directory can chat with Switchboard users.",
            );
            return send(stream, reply).await;
        };
        let Some(user) = self.local_user(to).await? else {
            let reply = refuse(
                Refusal::NoSuchUser,
                "There is no Switchboard user at this address.",
            );
            return send(stream, reply).await;
        };
        // XMPP clients seldom resend a refused message: a busy server is waited for here (the
        // link's stanzas wait in order behind it), a few seconds at most.
        let mut busy = 0;
        let sent = loop {
            let sent = self
                .state
                .chat
                .send(contact, client_msg_id.clone(), user, body.clone())
                .await;
            match sent {
                Err(refused) if refused.reason == ChatRefusal::Busy && busy < BUSY_TRIES => {
                    busy += 1;
                    tokio::time::sleep(BUSY_PAUSE).await;
                }
                sent => break sent,
            }
        };
        match sent {
            Ok(stored) => {
                if let Some(stanza_id) = id.as_deref().filter(|_| stored.new) {
                    sqlx::query(
                        "INSERT INTO xmpp_inbound (message_id, stanza_id) VALUES ($1, $2) \
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(stored.message.id)
                    .bind(stanza_id)
                    .execute(&self.state.db)
                    .await
                    .map_err(db_error)?;
                }
                if receipt && let Some(stanza_id) = id.as_deref() {
                    send(stream, stanza::received(addressed, from.clone(), stanza_id)).await?;
                }
                Ok(())
            }
            Err(refused) => {
                let why = match refused.reason {
                    ChatRefusal::Empty | ChatRefusal::TooLong | ChatRefusal::BadClientMsgId => {
                        Refusal::NotAcceptable
                    }
                    ChatRefusal::UnknownRecipient => Refusal::NoSuchUser,
                    ChatRefusal::PartnerOffline => Refusal::Unavailable,
                    ChatRefusal::RateLimited | ChatRefusal::Busy => Refusal::TooFast,
                    _ => Refusal::Internal,
                };
                tracing::info!(from = %bare, to, reason = ?refused.reason, "XMPP: a message was refused");
                send(stream, refuse(why, &refused.message)).await
            }
        }
    }

    /// The XMPP user's client received (or displayed) Switchboard's message `id`: their marker
    /// moves to it.
    async fn marker(
        &mut self,
        from: &BareJid,
        to: &str,
        id: &str,
        mark: Mark,
        stream: &mut Stream,
    ) -> Result<(), LinkError> {
        let (Some(contact), Some(user)) = (
            self.contact(from, stream).await?,
            self.local_user(to).await?,
        ) else {
            return Ok(());
        };
        // Markers only grow: one held back is made good by the next.
        if !self.allowed(contact, FrameKind::Read) {
            tracing::debug!(%from, "XMPP: a marker past the contact's allowance was dropped");
            return Ok(());
        }
        let seq: Option<i64> = sqlx::query_scalar(
            "SELECT seq FROM messages WHERE sender = $1 AND recipient = $2 AND client_msg_id = $3",
        )
        .bind(user)
        .bind(contact)
        .bind(id.to_lowercase())
        .fetch_optional(&self.state.db)
        .await
        .map_err(db_error)?;
        if let Some(seq) = seq
            && let Err(err) = self.state.chat.mark(contact, user, seq, mark).await
        {
            tracing::warn!(%err, %from, "XMPP: a marker could not be stored");
        }
        Ok(())
    }

    fn contact_presence(&mut self, contact: UserId, from: &Jid, shown: PresenceState) {
        let resource = from
            .resource()
            .map(|r| r.as_str().to_owned())
            .unwrap_or_default();
        let resources = self.resources.entry(contact).or_default();
        if shown == PresenceState::Offline {
            if resource.is_empty() {
                resources.clear();
            } else {
                resources.remove(&resource);
            }
        } else {
            resources.insert(resource, shown);
        }
        let best = self.best_presence(contact);
        if best == self.state.hub.presence_of(contact) {
            self.held_back.remove(&contact);
        } else if self.allowed(contact, FrameKind::Presence) {
            self.held_back.remove(&contact);
            self.state.hub.set_federated(contact, best);
        } else {
            self.held_back.insert(contact);
        }
    }

    /// Whether contact `contact` may do one more of `kind` now.
    fn allowed(&self, contact: UserId, kind: FrameKind) -> bool {
        self.state.frames.take(contact, kind)
    }

    /// The most reachable of a contact's resources.
    fn best_presence(&self, contact: UserId) -> PresenceState {
        let Some(resources) = self.resources.get(&contact) else {
            return PresenceState::Offline;
        };
        [
            PresenceState::Available,
            PresenceState::Busy,
            PresenceState::Dnd,
            PresenceState::Away,
        ]
        .into_iter()
        .find(|state| resources.values().any(|shown| shown == state))
        .unwrap_or(PresenceState::Offline)
    }

    /// The periodic work: new contacts, held-back presence.
    async fn tick(&mut self, stream: &mut Stream) -> Result<(), LinkError> {
        if std::mem::take(&mut self.new_contacts) {
            self.refresh(stream, true).await?;
        }
        self.flush_presence();
        Ok(())
    }

    /// Publishes the held-back presence of contacts whose allowance allows it again.
    fn flush_presence(&mut self) {
        let ready: Vec<UserId> = self
            .held_back
            .iter()
            .copied()
            .filter(|&contact| self.allowed(contact, FrameKind::Presence))
            .collect();
        for contact in ready {
            self.held_back.remove(&contact);
            let best = self.best_presence(contact);
            self.state.hub.set_federated(contact, best);
        }
    }

    async fn subscribe(
        &mut self,
        from: Jid,
        to: &str,
        stream: &mut Stream,
    ) -> Result<(), LinkError> {
        let (Some(user), Some(me)) = (
            self.local_user(to).await?,
            stanza::user_jid(to, self.domain),
        ) else {
            return Ok(());
        };
        let bare = from.to_bare();
        // Only people in the directory see Switchboard users' presence (an XMPP server that
        // federates with others would otherwise show it to the world).
        if self.contact(&bare, stream).await?.is_none() {
            let denied = stanza::presence_of_kind(PresenceType::Unsubscribed, me, bare.into());
            return send(stream, denied).await;
        }
        let subscribed =
            stanza::presence_of_kind(PresenceType::Subscribed, me.clone(), bare.clone().into());
        send(stream, subscribed).await?;
        let shown = self.state.hub.presence_of(user);
        send(stream, stanza::presence(me, from, shown)).await?;
        if self
            .subscribers
            .entry(user)
            .or_default()
            .insert(bare.clone())
        {
            sqlx::query(
                "INSERT INTO xmpp_subscribers (user_id, jid) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
                .bind(user)
                .bind(bare.as_str())
                .execute(&self.state.db)
                .await
                .map_err(db_error)?;
        }
        Ok(())
    }

    /// A frame the hub had for federated contact `user`.
    async fn outgoing(
        &mut self,
        user: UserId,
        frame: &Utf8Bytes,
        stream: &mut Stream,
    ) -> Result<(), LinkError> {
        if !self.jids.contains_key(&user) {
            // The hub sends only frames for federated contacts: this one is new.
            self.refresh(stream, true).await?;
        }
        let Some(jid) = self.jids.get(&user).cloned() else {
            return Ok(());
        };
        let Ok(frame) = ServerFrame::decode(frame.as_str()) else {
            return Ok(());
        };
        match frame {
            ServerFrame::ChatMessage(message) if message.to == user => self.catch_up(stream).await,
            ServerFrame::Marker(update) if update.user != user => {
                self.displayed(user, jid, update, stream).await
            }
            ServerFrame::Typing { from } => {
                if let Some(me) = self.local_jid(from).await? {
                    send(stream, stanza::composing(me, jid.into())).await?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// The XMPP address of Switchboard user `user` (never a federated contact).
    async fn local_jid(&self, user: UserId) -> Result<Option<Jid>, LinkError> {
        let username: Option<String> =
            sqlx::query_scalar("SELECT username FROM users WHERE id = $1 AND xmpp IS NULL")
                .bind(user)
                .fetch_optional(&self.state.db)
                .await
                .map_err(db_error)?;
        Ok(username.and_then(|name| stanza::user_jid(&name, self.domain)))
    }

    /// A Switchboard user read the conversation with federated contact `contact`: the newest
    /// message of the contact's they read is reported displayed (which implies the earlier).
    async fn displayed(
        &mut self,
        contact: UserId,
        jid: BareJid,
        update: MarkerUpdate,
        stream: &mut Stream,
    ) -> Result<(), LinkError> {
        let read = update.marker.read_seq;
        if self
            .displayed
            .get(&update.conversation)
            .is_some_and(|&seen| seen >= read)
        {
            return Ok(());
        }
        self.displayed.insert(update.conversation, read);
        let row = sqlx::query(
            "SELECT x.stanza_id FROM messages m JOIN xmpp_inbound x ON x.message_id = m.id \
             WHERE m.conversation_id = $1 AND m.sender = $2 AND m.seq <= $3 \
             ORDER BY m.seq DESC LIMIT 1",
        )
        .bind(update.conversation)
        .bind(contact)
        .bind(read)
        .fetch_optional(&self.state.db)
        .await
        .map_err(db_error)?;
        let Some(row) = row else {
            return Ok(());
        };
        let Some(me) = self.local_jid(update.user).await? else {
            return Ok(());
        };
        let stanza_id: String = row.get("stanza_id");
        send(stream, stanza::displayed(me, jid.into(), &stanza_id)).await
    }

    /// A presence change the hub sent to every console: Switchboard users' go to the XMPP
    /// users who subscribed to them.
    async fn local_presence(
        &mut self,
        frame: &Utf8Bytes,
        stream: &mut Stream,
    ) -> Result<(), LinkError> {
        // Every frame for every console passes here (directory deltas among them): decode
        // only when someone subscribed.
        if self.subscribers.is_empty() {
            return Ok(());
        }
        let Ok(ServerFrame::Presence(update)) = ServerFrame::decode(frame.as_str()) else {
            return Ok(());
        };
        self.tell_subscribers(update.user, update.state, stream)
            .await
    }

    async fn tell_subscribers(
        &mut self,
        user: UserId,
        shown: PresenceState,
        stream: &mut Stream,
    ) -> Result<(), LinkError> {
        let Some(subscribers) = self.subscribers.get(&user).cloned() else {
            return Ok(());
        };
        let Some(me) = self.local_jid(user).await? else {
            return Ok(());
        };
        for to in subscribers {
            send(stream, stanza::presence(me.clone(), to.into(), shown)).await?;
        }
        Ok(())
    }

    /// Presence changes were missed (a new link, a lagging watch): every subscribed-to
    /// user's presence is sent again.
    async fn all_local_presence(&mut self, stream: &mut Stream) -> Result<(), LinkError> {
        let users: Vec<UserId> = self.subscribers.keys().copied().collect();
        for user in users {
            let shown = self.state.hub.presence_of(user);
            self.tell_subscribers(user, shown, stream).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stanza_sent_again_is_the_same_message_and_other_senders_are_others() {
        let erin: BareJid = "erin@example.com".parse().unwrap();
        let frank: BareJid = "frank@example.com".parse().unwrap();
        let id = message_id_for(&erin, Some("abc"));
        assert_eq!(id, message_id_for(&erin, Some("abc")));
        assert_ne!(id, message_id_for(&frank, Some("abc")));
        assert_ne!(id, message_id_for(&erin, Some("abd")));
        assert!(uuid::Uuid::try_parse(&id).is_ok());
        assert_ne!(message_id_for(&erin, None), message_id_for(&erin, None));
    }
}
