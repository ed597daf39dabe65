//! The connection task: WebSocket to `/ws`, hello, dispatch into the store, intents, reconnect.

use futures::channel::mpsc;
use futures::future::{AbortHandle, Abortable};
use futures::{FutureExt, SinkExt, StreamExt, select};
use gloo_net::websocket::Message;
use gloo_net::websocket::futures::WebSocket;
use gloo_timers::future::TimeoutFuture;
use leptos::logging::warn;
use leptos::task::spawn_local;
use switchboard_protocol::{ClientFrame, PROTOCOL_VERSION, ServerFrame, backoff::Backoff};

use crate::api::{self, RequestError};
use crate::store::Store;

/// Handle of a running connection task; [`Connection::stop`] ends it and closes its socket.
#[derive(Debug, Clone)]
pub struct Connection(AbortHandle);

impl Connection {
    /// Stops the task for good (sign-out); calling it twice is harmless.
    pub fn stop(&self) {
        self.0.abort();
    }
}

/// Starts the connection task for the signed-in user. It runs until stopped or until the server
/// says the session is gone, in which case it calls `on_signed_out` once.
pub fn connect(store: Store, on_signed_out: impl FnOnce() + 'static) -> Connection {
    let (handle, registration) = AbortHandle::new_pair();
    spawn_local(async move {
        // Aborting drops the task, and with it the socket, which closes it.
        let _ = Abortable::new(run(store, on_signed_out), registration).await;
    });
    Connection(handle)
}

async fn run(store: Store, on_signed_out: impl FnOnce()) {
    let mut backoff = Backoff::default();
    loop {
        match socket_url().and_then(|url| WebSocket::open(&url).map_err(|e| e.to_string())) {
            Ok(socket) => serve(store, socket, &mut backoff).await,
            Err(error) => warn!("cannot open the WebSocket: {error}"),
        }
        store.connection_lost();
        TimeoutFuture::new(backoff.next_delay_ms(js_sys::Math::random())).await;
        // A socket refused at the upgrade looks like any lost connection: ask whether the
        // session is still valid before trying again.
        if let Err(RequestError::Unauthorized(_)) = api::session().await {
            on_signed_out();
            return;
        }
    }
}

/// `ws:` or `wss:` like the page, same host.
fn socket_url() -> Result<String, String> {
    let location = leptos::prelude::window().location();
    let describe = |error: wasm_bindgen::JsValue| format!("{error:?}");
    let scheme = match location.protocol().map_err(describe)?.as_str() {
        "https:" => "wss:",
        _ => "ws:",
    };
    Ok(format!(
        "{scheme}//{}/ws",
        location.host().map_err(describe)?
    ))
}

/// How often the console pings the server while connected (`ping`, answered by `pong`). A
/// half-open link (a NAT or proxy that dropped the connection without a close) stays "open" to
/// the browser forever, so only the silence tells (docs/design.md, honest connection state).
const PING_EVERY_MS: u32 = 3_000;

/// Heartbeats in a row that may go unanswered before the link is taken for dead: the status
/// says "Reconnecting…" 9 to 12 s after the server was last heard, yet a server busy for a few
/// seconds (a large snapshot to encode, a slow commit) is not mistaken for a lost one. Counting
/// heartbeats rather than seconds also keeps a background tab, whose timers the browser may
/// slow to one a minute, from taking that minute for silence: each ping gets a whole beat.
const MISSED_PINGS_ALLOWED: u32 = 3;

/// Runs one socket until it closes, or until the server goes silent: hello, then frames in,
/// intents and heartbeats out.
async fn serve(store: Store, socket: WebSocket, backoff: &mut Backoff) {
    let (mut outgoing, incoming) = socket.split();
    let mut incoming = incoming.fuse();
    let (intents_tx, mut intents) = mpsc::unbounded();
    store.socket_opened(intents_tx);
    let mut frame = ClientFrame::Hello {
        version: PROTOCOL_VERSION,
    };
    let mut heartbeat = Heartbeat::default();
    let mut beat = TimeoutFuture::new(PING_EVERY_MS).fuse();
    loop {
        if let Err(error) = outgoing.send(Message::Text(frame.encode())).await {
            warn!("cannot send {frame:?}: {error}");
            return;
        }
        frame = loop {
            select! {
                message = incoming.next() => {
                    heartbeat.heard();
                    match message {
                        Some(Ok(Message::Text(text))) => dispatch(store, &text, backoff),
                        Some(Ok(Message::Bytes(_))) => warn!("ignored a binary frame"),
                        Some(Err(error)) => {
                            warn!("WebSocket closed: {error}");
                            return;
                        }
                        None => return,
                    }
                },
                intent = intents.next() => match intent {
                    Some(intent) => break intent,
                    None => return,
                },
                () = beat => {
                    beat = TimeoutFuture::new(PING_EVERY_MS).fuse();
                    if !heartbeat.beat() {
                        warn!("{MISSED_PINGS_ALLOWED} heartbeats unanswered: reconnecting");
                        return;
                    }
                    break ClientFrame::Ping;
                },
            }
        };
    }
}

/// Counts heartbeats sent since the server was last heard from.
#[derive(Debug, Default)]
struct Heartbeat {
    unanswered: u32,
}

impl Heartbeat {
    /// A frame arrived (a `pong` or anything else): the link is alive.
    fn heard(&mut self) {
        self.unanswered = 0;
    }

    /// A heartbeat is due: true to send a `ping`, false when [`MISSED_PINGS_ALLOWED`] have gone
    /// unanswered and the link is dead.
    fn beat(&mut self) -> bool {
        if self.unanswered >= MISSED_PINGS_ALLOWED {
            return false;
        }
        self.unanswered += 1;
        true
    }
}

fn dispatch(store: Store, text: &str, backoff: &mut Backoff) {
    match ServerFrame::decode(text) {
        Ok(frame) => {
            if matches!(frame, ServerFrame::Welcome { .. }) {
                backoff.reset();
            }
            store.apply(frame);
        }
        Err(error) => warn!("ignored an unreadable frame: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_is_dead_after_three_unanswered_heartbeats() {
        let mut heartbeat = Heartbeat::default();
        assert!((0..3).all(|_| heartbeat.beat()), "three pings go out");
        assert!(!heartbeat.beat(), "the fourth beat finds none answered");
        let mut heartbeat = Heartbeat::default();
        for _ in 0..10 {
            assert!(heartbeat.beat() && heartbeat.beat());
            heartbeat.heard();
        }
    }
}
