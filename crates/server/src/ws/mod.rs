//! Per-connection WebSocket loop: authenticate the upgrade, then decode, apply, reply and fan out.
//! The handlers of call and chat frames are in [`calls`] and [`chat`]; what each user may send
//! of each kind of frame is in [`allowance`].
//!
//! Each connection is two tasks: this loop reads frames and the hub's fan-out, and queues what
//! it sends for a writer task. A console that stops reading fills the writer's queue; after
//! [`SEND_TIMEOUT`] the connection is dropped (and its user goes offline if it was their last),
//! so nothing it does can stall the loop, its sign-out, or the server's shutdown.
//!
//! Close codes: 1009 for a frame over `max_frame_bytes`, 1008 for too many open consoles, too
//! many bad frames (`bad_frames_per_minute`, frames past their allowance included), connecting
//! too often or no `hello` in time, 1012 when the server restarts, 1013 for a console too far
//! behind, 4001 after sign-out.

pub mod allowance;
mod calls;
mod chat;

use std::{sync::Arc, time::Duration};

use axum::{
    extract::{
        State, WebSocketUpgrade,
        ws::{CloseFrame, Message, Utf8Bytes, close_code},
    },
    http::{HeaderMap, header},
    response::Response,
};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use switchboard_protocol::{
    CallAction, ClientFrame, EntryId, ErrorCode, MAX_WATCHED, PROTOCOL_VERSION, PresenceState,
    ServerFrame, UserId,
};
use tokio::{
    sync::{Semaphore, broadcast, mpsc},
    time::Instant,
};
use tokio_util::sync::CancellationToken;

use self::allowance::FrameKind;
use crate::{
    absence::AbsenceError, auth::CurrentSession, bucket::TokenBucket,
    directory::notes::MAX_NOTE_CHARS, error::AppError, presence::ConnId, state::AppState,
};

/// How often the server pings an idle console.
const PING_EVERY: Duration = Duration::from_secs(20);
/// A console silent for this long (no frame, no pong) is gone.
const SILENCE_LIMIT: Duration = Duration::from_secs(60);
/// A socket that has not said `hello` within this long is closed: it holds one of its user's
/// `connections_per_user` without being a console.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// Frames queued for the writer task. A burst larger than this (the `hello` snapshots) waits
/// for room, up to [`SEND_TIMEOUT`].
const WRITE_QUEUE: usize = 64;
/// A console that accepts no frame for this long has stopped reading: it is dropped.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Typing notices forwarded at most this often per connection.
const TYPING_INTERVAL: Duration = Duration::from_secs(1);
/// Initial read buffer of a connection. tungstenite zero-fills the whole buffer before every
/// read, so its default (128 KiB) is resident memory for every open console; frames from
/// consoles are small, and the buffer grows for a larger one (up to the frame limit).
const READ_BUFFER: usize = 4 * 1024;
/// Bytes of frames the writer task gathers before writing them to the socket. The writer
/// feeds every frame waiting in its queue before it flushes (one write for a burst of small
/// frames), and the buffer keeps the largest size it ever reached (up to this plus the largest
/// frame): with tungstenite's default (128 KiB) the `hello` snapshots left most of it resident
/// in every open console.
const WRITE_BUFFER: usize = 8 * 1024;
/// How long a closing connection waits for the console's Close before dropping the socket.
const CLOSE_GRACE: Duration = Duration::from_secs(2);
/// Close code telling the console its session ended (sign-out): do not reconnect blindly.
const SIGNED_OUT: u16 = 4001;

/// True when `Origin` is this server itself: refuses cross-site WebSocket hijacking.
fn same_origin(headers: &HeaderMap) -> bool {
    let value = |name| headers.get(name).and_then(|v| v.to_str().ok());
    match (value(header::ORIGIN), value(header::HOST)) {
        (Some(origin), Some(host)) => {
            origin.strip_prefix("http://") == Some(host)
                || origin.strip_prefix("https://") == Some(host)
        }
        _ => false,
    }
}

/// `GET /ws`: upgrades a signed-in, same-origin request.
pub async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    session: CurrentSession,
    ws: WebSocketUpgrade,
) -> Result<Response, AppError> {
    if !same_origin(&headers) {
        tracing::warn!(origin = ?headers.get(header::ORIGIN), "refused WebSocket origin");
        return Err(AppError::ForbiddenOrigin);
    }
    let limit = state.config.client.limits.max_frame_bytes;
    Ok(ws
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |socket| {
            let (sink, stream) = socket.split();
            serve(state, session, sink, stream)
        }))
}

/// Why the loop stopped, and what to tell the console.
enum Stop {
    /// The console closed, the socket broke, or it stopped reading: nothing to send.
    Gone,
    /// Close the socket with this code and reason.
    Close(u16, &'static str),
}

/// The connection after `hello`.
struct Joined {
    events: broadcast::Receiver<Utf8Bytes>,
    /// Everyone's presence changes; `None` once the console watches some users only (their
    /// changes then come through `direct`).
    presence: Option<broadcast::Receiver<Utf8Bytes>>,
    operator_events: Option<broadcast::Receiver<Utf8Bytes>>,
    direct: mpsc::Receiver<Utf8Bytes>,
}

/// One console's connection: the reading half, and the queue of the writer task.
struct Connection {
    state: AppState,
    session: CurrentSession,
    /// This connection in the hub, from the upgrade on (before `hello` too).
    id: ConnId,
    /// Frames for the writer task.
    out: mpsc::Sender<Message>,
    joined: Option<Joined>,
    /// When this connection last forwarded a typing notice.
    last_typing: Option<Instant>,
    /// When this connection last recorded its session as in use.
    last_touch: Instant,
    /// Allowance of frames answered with an `error` frame; past it the connection is closed.
    bad_frames: TokenBucket,
    /// Room for messages waiting for their commit ([`chat::SENDS_IN_FLIGHT`]).
    sends: Arc<Semaphore>,
}

/// Runs one connection until the console leaves, signs out, stops reading, or the server
/// shuts down.
pub async fn serve<S, R>(state: AppState, session: CurrentSession, sink: S, mut stream: R)
where
    S: Sink<Message> + Unpin + Send + 'static,
    R: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    let (out, queue) = mpsc::channel(WRITE_QUEUE);
    let writer_gone = CancellationToken::new();
    tokio::spawn(write(sink, queue, writer_gone.clone()));
    let opened = match open(&state, &session).await {
        Ok(opened) => opened,
        Err((code, reason)) => return close(&out, &mut stream, code, reason).await,
    };
    let shutdown = state.shutdown.clone();
    let per_minute = f64::from(state.config.limits.bad_frames_per_minute);
    let mut conn = Connection {
        state,
        session,
        id: opened.id,
        out,
        joined: None,
        last_typing: None,
        last_touch: Instant::now(),
        bad_frames: TokenBucket::new(per_minute / 60.0, per_minute),
        sends: Arc::new(Semaphore::new(chat::SENDS_IN_FLIGHT)),
    };
    let mut ping = tokio::time::interval(PING_EVERY);
    let mut last_heard = Instant::now();
    let hello_by = Instant::now() + HELLO_TIMEOUT;
    let stop = loop {
        let step = tokio::select! {
            _ = shutdown.cancelled() => Err(Stop::Close(close_code::RESTART, "server restarting")),
            _ = opened.closed.cancelled() => Err(Stop::Close(SIGNED_OUT, "signed out")),
            _ = writer_gone.cancelled() => Err(Stop::Gone),
            _ = tokio::time::sleep_until(hello_by), if conn.joined.is_none() => {
                Err(Stop::Close(close_code::POLICY, "no hello in time"))
            }
            outbound = next_outbound(&mut conn.joined) => match outbound {
                Outbound::Everyone(Ok(frame)) | Outbound::Direct(Some(frame)) => {
                    conn.send(frame).await
                }
                Outbound::Everyone(Err(broadcast::error::RecvError::Lagged(_)))
                | Outbound::Direct(None) => {
                    Err(Stop::Close(close_code::AGAIN, "too far behind; reconnect to resync"))
                }
                Outbound::Everyone(Err(broadcast::error::RecvError::Closed)) => Err(Stop::Gone),
            },
            message = stream.next() => {
                last_heard = Instant::now();
                match message {
                    Some(Ok(Message::Text(text))) => conn.handle(&text).await,
                    Some(Ok(Message::Binary(_))) => {
                        conn.refuse(ErrorCode::MalformedFrame, "frames are JSON text").await
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => Ok(()),
                    Some(Err(err)) => Err(read_failed(err)),
                    Some(Ok(Message::Close(_))) | None => Err(Stop::Gone),
                }
            }
            _ = ping.tick() => {
                if last_heard.elapsed() > SILENCE_LIMIT {
                    Err(Stop::Gone)
                } else {
                    conn.keep_session_alive().await;
                    conn.queue(Message::Ping(Default::default())).await
                }
            }
        };
        if let Err(stop) = step {
            break stop;
        }
    };
    conn.state.hub.leave(conn.id);
    if let Stop::Close(code, reason) = stop {
        close(&conn.out, &mut stream, code, reason).await;
    }
}

/// Registers the connection in the hub before its `hello`, so that it counts against its
/// user's connections and closes at sign-out; else the close code and reason.
async fn open(
    state: &AppState,
    session: &CurrentSession,
) -> Result<crate::presence::Opened, (u16, &'static str)> {
    let user = session.user.id;
    if !state.frames.take(user, FrameKind::Connect) {
        tracing::warn!(user = %session.user.username, "connecting too often");
        return Err((close_code::POLICY, "connecting too often; wait a moment"));
    }
    let max = state.config.limits.connections_per_user;
    let opened = state.hub.open(user, &session.session, max).ok_or((
        close_code::POLICY,
        "too many open consoles for this user; close one",
    ))?;
    // A sign-out between the upgrade's session check and this registration found nothing
    // to close: look again now that a sign-out would.
    match crate::auth::session_exists(&state.db, &session.session).await {
        Ok(true) => Ok(opened),
        Ok(false) | Err(_) => {
            state.hub.leave(opened.id);
            Err((SIGNED_OUT, "signed out"))
        }
    }
}

/// Sends Close, then waits for the console's Close, discarding what it sent before it, so
/// that the socket ends with FIN: closing it with unread frames resets it, and a reset may
/// overtake our Close on its way to the console.
async fn close<R>(out: &mpsc::Sender<Message>, stream: &mut R, code: u16, reason: &'static str)
where
    R: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let sent = tokio::time::timeout(SEND_TIMEOUT, out.send(Message::Close(Some(frame)))).await;
    if !matches!(sent, Ok(Ok(()))) {
        return;
    }
    let drain = async {
        if code == close_code::SIZE {
            // Nothing can be read past a frame too large: hold the socket instead.
            std::future::pending::<()>().await;
        }
        while let Some(Ok(_)) = stream.next().await {}
    };
    let _ = tokio::time::timeout(CLOSE_GRACE, drain).await;
}

/// The writer task: sends what the loop queued, as many frames as are waiting per flush, until
/// Close is sent, the socket breaks, or the console accepts nothing for [`SEND_TIMEOUT`].
/// Cancels `gone` when it stops, which ends the loop.
async fn write<S>(mut sink: S, mut queue: mpsc::Receiver<Message>, gone: CancellationToken)
where
    S: Sink<Message> + Unpin,
{
    let _gone = gone.drop_guard();
    // Grows for a burst (the `hello` snapshots) and shrinks after it: held by every open
    // console, a whole queue's room would be a few KiB each.
    let mut batch = Vec::new();
    while queue.recv_many(&mut batch, WRITE_QUEUE).await > 0 {
        let closing = batch.iter().any(|m| matches!(m, Message::Close(_)));
        let send = async {
            for message in batch.drain(..) {
                sink.feed(message).await?;
            }
            sink.flush().await
        };
        match tokio::time::timeout(SEND_TIMEOUT, send).await {
            Ok(Ok(())) if !closing => {}
            Ok(Ok(())) | Ok(Err(_)) => return,
            Err(_) => {
                tracing::warn!("a console stopped reading; dropping its connection");
                return;
            }
        }
        batch.shrink_to(WRITE_QUEUE / 8);
    }
}

/// Why reading stopped: a frame over the size limit is told so (1009, Message Too Big);
/// anything else means the console is gone.
fn read_failed(err: axum::Error) -> Stop {
    match err.into_inner().downcast::<tungstenite::Error>() {
        Ok(err) if matches!(*err, tungstenite::Error::Capacity(_)) => {
            Stop::Close(close_code::SIZE, "frame larger than max_frame_bytes")
        }
        _ => Stop::Gone,
    }
}

/// A frame from the hub for this connection.
enum Outbound {
    /// From the fan-out to every console (presence, calls); lagging ends it.
    Everyone(Result<Utf8Bytes, broadcast::error::RecvError>),
    /// Addressed to this user (chat); `None` when the hub cut the connection off as too slow.
    Direct(Option<Utf8Bytes>),
}

/// The next frame from the hub; never before `hello`.
async fn next_outbound(joined: &mut Option<Joined>) -> Outbound {
    match joined {
        Some(joined) => tokio::select! {
            frame = joined.events.recv() => Outbound::Everyone(frame),
            frame = joined.direct.recv() => Outbound::Direct(frame),
            Some(frame) = next_of(&mut joined.presence) => Outbound::Everyone(frame),
            Some(frame) = next_of(&mut joined.operator_events) => Outbound::Everyone(frame),
        },
        None => std::future::pending().await,
    }
}

/// The next frame of a fan-out this connection follows (operators' frames, everyone's
/// presence); never when it does not.
async fn next_of(
    events: &mut Option<broadcast::Receiver<Utf8Bytes>>,
) -> Option<Result<Utf8Bytes, broadcast::error::RecvError>> {
    match events {
        Some(events) => Some(events.recv().await),
        None => std::future::pending().await,
    }
}

impl Connection {
    /// Queues a message for the writer task, waiting at most [`SEND_TIMEOUT`] for room.
    async fn queue(&mut self, message: Message) -> Result<(), Stop> {
        match tokio::time::timeout(SEND_TIMEOUT, self.out.send(message)).await {
            Ok(Ok(())) => Ok(()),
            // The writer stopped (the socket broke), or the console stopped reading.
            Ok(Err(_)) | Err(_) => Err(Stop::Gone),
        }
    }

    async fn send(&mut self, text: Utf8Bytes) -> Result<(), Stop> {
        self.queue(Message::Text(text)).await
    }

    async fn send_frame(&mut self, frame: &ServerFrame) -> Result<(), Stop> {
        self.send(frame.encode().into()).await
    }

    /// An open console is a session in use: it must not reach the idle timeout.
    async fn keep_session_alive(&mut self) {
        let every = Duration::from_secs(crate::auth::TOUCH_EVERY_SECS.unsigned_abs());
        if self.last_touch.elapsed() >= every {
            self.last_touch = Instant::now();
            if let Err(err) = crate::auth::touch(&self.state.db, &self.session.session).await {
                tracing::warn!(%err, "recording session use");
            }
        }
    }

    /// Answers a refused frame with an `error` frame; the connection goes on, unless it has
    /// sent more bad frames than `bad_frames_per_minute` allows (the server's own failures,
    /// `internal`, do not count).
    async fn refuse(&mut self, code: ErrorCode, message: impl Into<String>) -> Result<(), Stop> {
        let message = message.into();
        let user = &self.session.user.username;
        tracing::debug!(?code, %message, %user, "refused frame");
        if code != ErrorCode::Internal && !self.bad_frames.take() {
            tracing::warn!(%user, "too many bad frames; closing the connection");
            return Err(Stop::Close(close_code::POLICY, "too many bad frames"));
        }
        self.send_frame(&ServerFrame::Error { code, message }).await
    }

    /// Decodes one text frame and hands it to its handler.
    async fn handle(&mut self, text: &str) -> Result<(), Stop> {
        let frame = match ClientFrame::decode(text) {
            Ok(frame) => frame,
            Err(err) => {
                return self
                    .refuse(ErrorCode::MalformedFrame, err.to_string())
                    .await;
            }
        };
        if let Some(kind) = FrameKind::of(&frame)
            && !self.state.frames.take(self.session.user.id, kind)
        {
            let message = format!("too many {} at once; slow down", kind.name());
            return self.refuse(ErrorCode::RateLimited, message).await;
        }
        match frame {
            ClientFrame::Hello { version } => self.hello(version).await,
            ClientFrame::SetPresence { state } => self.set_presence(state).await,
            ClientFrame::AnswerCall { call } => self.call_action(call, CallAction::Answer).await,
            ClientFrame::HoldCall { call } => self.call_action(call, CallAction::Hold).await,
            ClientFrame::TransferCall {
                call,
                target,
                blind,
            } => {
                let action = if blind {
                    CallAction::BlindTransfer { target }
                } else {
                    CallAction::Transfer { target }
                };
                self.call_action(call, action).await
            }
            ClientFrame::ClearCall { call } => self.call_action(call, CallAction::Clear).await,
            ClientFrame::ChatSend {
                client_msg_id,
                to,
                body,
            } => self.chat_send(client_msg_id, to, body).await,
            ClientFrame::History {
                with,
                before_seq,
                limit,
            } => self.history(with, before_seq, limit).await,
            ClientFrame::SearchUsers { query } => self.search_users(query).await,
            ClientFrame::ChatRead { with, seq } => self.chat_read(with, seq).await,
            ClientFrame::Typing { to } => self.typing(to).await,
            ClientFrame::SetNote { entry, text } => self.set_note(entry, text).await,
            ClientFrame::Ping => self.send_frame(&ServerFrame::Pong).await,
            ClientFrame::Watch { users } => self.watch(users).await,
            ClientFrame::CallBack { call } => self.call_back(call).await,
            ClientFrame::MissedDone { call } => self.missed_done(call).await,
            ClientFrame::SetNightService { closed } => self.set_night_service(closed).await,
            ClientFrame::TodaysCalls => self.todays_calls().await,
            ClientFrame::SetAbsence { text, until_ms } => self.set_absence(text, until_ms).await,
        }
    }

    /// `hello`: join the hub, then send welcome, presence and directory snapshots.
    async fn hello(&mut self, version: u32) -> Result<(), Stop> {
        if self.joined.is_some() {
            return self
                .refuse(ErrorCode::OutOfOrder, "hello was already sent")
                .await;
        }
        if version != PROTOCOL_VERSION {
            let message = format!("this server speaks protocol version {PROTOCOL_VERSION}");
            return self.refuse(ErrorCode::UnsupportedVersion, message).await;
        }
        let role = self.session.role;
        let Some(joined) = self.state.hub.join(self.id, role) else {
            return Err(Stop::Gone);
        };
        self.joined = Some(Joined {
            events: joined.events,
            presence: Some(joined.presence),
            operator_events: joined.operator_events,
            direct: joined.direct,
        });
        let welcome = ServerFrame::Welcome {
            version: PROTOCOL_VERSION,
            me: self.session.user.clone(),
            role,
            mode: self.state.config.mode,
            config: self.state.client_config(),
        };
        self.send_frame(&welcome).await?;
        // Presence before the directory: a console shows the directory's first page while the
        // rest arrives, and its rows then show presence as it is, not offline.
        for page in joined.snapshot {
            self.send(page).await?;
        }
        let directory = self.state.directory.clone();
        for page in directory.snapshot().iter() {
            self.send(page.clone()).await?;
        }
        if self.state.config.xmpp.is_some() {
            let down = crate::federation::down_reason(&self.state);
            self.send_frame(&ServerFrame::Federation { down }).await?;
        }
        match crate::absence::snapshot(&self.state.db).await {
            Ok(absences) => self.send_frame(&absences).await?,
            Err(err) => {
                tracing::error!(%err, "loading absences");
                return Err(Stop::Close(
                    close_code::ERROR,
                    "could not load absences; reconnect",
                ));
            }
        }
        if role.handles_calls() {
            self.operator_snapshots().await?;
        }
        match self.state.chat.conversations(self.session.user.id).await {
            Ok(conversations) => {
                self.send_frame(&ServerFrame::ConversationsSnapshot { conversations })
                    .await?;
                if let Err(err) = self
                    .state
                    .chat
                    .delivered_on_arrival(self.session.user.id)
                    .await
                {
                    tracing::error!(%err, "marking messages delivered");
                }
                Ok(())
            }
            Err(err) => {
                tracing::error!(%err, "loading the chat list");
                Err(Stop::Close(
                    close_code::ERROR,
                    "could not load the chat list; reconnect",
                ))
            }
        }
    }

    /// `watch`: from now on this console follows the presence of `users` only; the hub answers
    /// `watched` (through the connection's own queue). Operators follow everyone's (their
    /// directory, queue and transfer assistant show anyone): they are refused.
    async fn watch(&mut self, users: Vec<UserId>) -> Result<(), Stop> {
        let Some(joined) = &mut self.joined else {
            return self.refuse(ErrorCode::OutOfOrder, "send hello first").await;
        };
        if self.session.role.handles_calls() {
            let message = "operators follow everyone's presence; watch is for other consoles";
            return self.refuse(ErrorCode::InvalidRequest, message).await;
        }
        if users.len() > MAX_WATCHED {
            let message = format!("watch at most {MAX_WATCHED} users at once");
            return self.refuse(ErrorCode::InvalidRequest, message).await;
        }
        // Its changes come through `direct` from here on, after the answer.
        joined.presence = None;
        self.state.hub.watch(self.id, &users);
        Ok(())
    }

    /// Calls, operator notes, missed calls and night service, for an operator's console after joining: a change from now
    /// on is in the snapshot, the queue, or both (changes are whole calls and whole notes, so
    /// seeing one twice is harmless).
    async fn operator_snapshots(&mut self) -> Result<(), Stop> {
        let calls = self.state.calls.snapshot().await;
        self.send_frame(&calls).await?;
        self.send_frame(&self.state.calls.telephony_frame()).await?;
        self.send_frame(&self.state.calls.lamps.snapshot()).await?;
        let stored = async {
            let notes = crate::directory::notes::all(&self.state.db).await?;
            let missed = self.state.calls.missed_snapshot().await?;
            let night = self.state.calls.night_frame().await?;
            Ok::<_, sqlx::Error>((notes, missed, night))
        };
        match stored.await {
            Ok((notes, missed, night)) => {
                self.send_frame(&ServerFrame::Notes {
                    notes,
                    snapshot: true,
                })
                .await?;
                self.send_frame(&missed).await?;
                self.send_frame(&night).await
            }
            Err(err) => {
                tracing::error!(%err, "loading notes, missed calls or night service");
                Err(Stop::Close(
                    close_code::ERROR,
                    "could not load the operator's lists; reconnect",
                ))
            }
        }
    }

    /// Refuses a frame only operators may send, for anyone else; `Ok(true)` lets it through.
    async fn operator_only(&mut self, what: &str) -> Result<bool, Stop> {
        if self.joined.is_none() {
            self.refuse(ErrorCode::OutOfOrder, "send hello first")
                .await?;
            return Ok(false);
        }
        if !self.session.role.handles_calls() {
            let message = format!("only operators may {what}");
            self.refuse(ErrorCode::Forbidden, message).await?;
            return Ok(false);
        }
        Ok(true)
    }

    /// `set_note`: an operator writes (or removes) the note on an entry; every operator's
    /// console gets it.
    async fn set_note(&mut self, entry: EntryId, text: String) -> Result<(), Stop> {
        if !self.operator_only("write notes").await? {
            return Ok(());
        }
        if !self.state.directory.contains(entry) {
            return self
                .refuse(ErrorCode::NotFound, format!("no directory entry {entry}"))
                .await;
        }
        if text.chars().count() > MAX_NOTE_CHARS {
            let message = format!("a note has at most {MAX_NOTE_CHARS} characters");
            return self.refuse(ErrorCode::InvalidRequest, message).await;
        }
        let author = self.session.user.username.clone();
        match crate::directory::notes::set(&self.state.db, &author, entry, &text).await {
            Ok(note) => {
                let frame = ServerFrame::Notes {
                    notes: vec![note],
                    snapshot: false,
                };
                self.state.hub.broadcast_operators(frame.encode().into());
                Ok(())
            }
            Err(err) => {
                tracing::error!(%err, "storing a note");
                self.refuse(ErrorCode::Internal, "could not store the note; try again")
                    .await
            }
        }
    }

    /// `set_absence`: the signed-in user's absence, stored and sent to every console.
    async fn set_absence(&mut self, text: String, until_ms: i64) -> Result<(), Stop> {
        if self.joined.is_none() {
            return self.refuse(ErrorCode::OutOfOrder, "send hello first").await;
        }
        let user = self.session.user.id;
        match crate::absence::set(&self.state, user, &text, until_ms).await {
            Ok(()) => Ok(()),
            Err(AbsenceError::Invalid(message)) => {
                self.refuse(ErrorCode::InvalidRequest, message).await
            }
            Err(AbsenceError::Database(err)) => {
                tracing::error!(%err, "storing an absence");
                self.refuse(
                    ErrorCode::Internal,
                    "could not store the absence; try again",
                )
                .await
            }
        }
    }

    /// `set_presence`: store the chosen state, then tell everyone.
    async fn set_presence(&mut self, state: PresenceState) -> Result<(), Stop> {
        if self.joined.is_none() {
            return self.refuse(ErrorCode::OutOfOrder, "send hello first").await;
        }
        if state == PresenceState::Offline {
            return self
                .refuse(
                    ErrorCode::InvalidRequest,
                    "offline follows from signing out; choose available, busy, away or dnd",
                )
                .await;
        }
        let user = self.session.user.id;
        let stored = sqlx::query("UPDATE users SET presence = $1 WHERE id = $2")
            .bind(state.as_str())
            .bind(user)
            .execute(&self.state.db)
            .await;
        if let Err(err) = stored {
            tracing::error!(%err, "storing presence");
            return self
                .refuse(ErrorCode::Internal, "could not store presence; try again")
                .await;
        }
        self.state.hub.choose(user, state);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        if let Some(origin) = origin {
            headers.insert(header::ORIGIN, HeaderValue::from_str(origin).unwrap());
        }
        headers
    }

    #[test]
    fn only_the_servers_own_origin_may_connect() {
        assert!(same_origin(&headers(
            Some("http://127.0.0.1:8080"),
            "127.0.0.1:8080"
        )));
        assert!(same_origin(&headers(
            Some("https://pbx.example"),
            "pbx.example"
        )));
        assert!(!same_origin(&headers(
            Some("http://evil.example"),
            "127.0.0.1:8080"
        )));
        assert!(!same_origin(&headers(
            Some("http://127.0.0.1:8081"),
            "127.0.0.1:8080"
        )));
        assert!(!same_origin(&headers(Some("null"), "127.0.0.1:8080")));
        assert!(!same_origin(&headers(None, "127.0.0.1:8080")));
    }

    #[test]
    fn only_a_frame_over_the_limit_closes_with_1009() {
        let too_big =
            tungstenite::Error::Capacity(tungstenite::error::CapacityError::MessageTooLong {
                size: 70_000,
                max_size: 65_536,
            });
        assert!(matches!(
            read_failed(axum::Error::new(too_big)),
            Stop::Close(close_code::SIZE, _)
        ));
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        let broken = tungstenite::Error::Io(reset);
        assert!(matches!(read_failed(axum::Error::new(broken)), Stop::Gone));
        assert!(matches!(
            read_failed(axum::Error::new(std::fmt::Error)),
            Stop::Gone
        ));
    }
}
