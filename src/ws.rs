//! The connection task: WebSocket to `/ws`, hello, dispatch into the store, intents, reconnect.

use futures::channel::mpsc;
use futures::future::{AbortHandle, Abortable};
use futures::{SinkExt, StreamExt, select};
use gloo_net::websocket::Message;
use gloo_net::websocket::futures::WebSocket;
use gloo_timers::future::TimeoutFuture;
use leptos::logging::warn;
use leptos::task::spawn_local;
use switchboard_protocol::{ClientFrame, PROTOCOL_VERSION, ServerFrame};

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

/// Runs one socket until it closes: hello, then frames in and intents out.
async fn serve(store: Store, socket: WebSocket, backoff: &mut Backoff) {
    let (mut outgoing, incoming) = socket.split();
    let mut incoming = incoming.fuse();
    let (intents_tx, mut intents) = mpsc::unbounded();
    store.socket_opened(intents_tx);
    let hello = ClientFrame::Hello {
        version: PROTOCOL_VERSION,
    };
    if let Err(error) = outgoing.send(Message::Text(hello.encode())).await {
        warn!("cannot send hello: {error}");
        return;
    }
    loop {
        select! {
            message = incoming.next() => match message {
                Some(Ok(Message::Text(text))) => dispatch(store, &text, backoff),
                Some(Ok(Message::Bytes(_))) => warn!("ignored a binary frame"),
                Some(Err(error)) => {
                    warn!("WebSocket closed: {error}");
                    return;
                }
                None => return,
            },
            intent = intents.next() => {
                let Some(intent) = intent else { return };
                if let Err(error) = outgoing.send(Message::Text(intent.encode())).await {
                    warn!("cannot send {intent:?}: {error}");
                    return;
                }
            },
        }
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

/// Exponential backoff with jitter between reconnection attempts, so that a restarted server
/// is not hit by every console at the same instant.
#[derive(Debug, Default)]
struct Backoff {
    attempt: u32,
}

impl Backoff {
    const FIRST_MS: u32 = 500;
    const CAP_MS: u32 = 10_000;

    /// The next delay: half of the exponential step fixed, half random (`jitter` in 0..1).
    fn next_delay_ms(&mut self, jitter: f64) -> u32 {
        let step = Self::FIRST_MS
            .saturating_mul(1 << self.attempt.min(16))
            .min(Self::CAP_MS);
        self.attempt = self.attempt.saturating_add(1);
        let half = f64::from(step / 2);
        (half + half * jitter.clamp(0.0, 1.0)) as u32
    }

    /// A welcome arrived: the next loss starts again from the first step.
    fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_the_cap_and_stays_within_bounds() {
        let mut backoff = Backoff::default();
        let most: Vec<u32> = (0..8).map(|_| backoff.next_delay_ms(1.0)).collect();
        assert_eq!(most, [500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000]);
        let mut backoff = Backoff::default();
        let least: Vec<u32> = (0..3).map(|_| backoff.next_delay_ms(0.0)).collect();
        assert_eq!(least, [250, 500, 1000]);
        for _ in 0..100 {
            assert!(backoff.next_delay_ms(0.5) <= Backoff::CAP_MS);
        }
    }

    #[test]
    fn backoff_restarts_after_a_welcome() {
        let mut backoff = Backoff::default();
        for _ in 0..5 {
            backoff.next_delay_ms(1.0);
        }
        backoff.reset();
        assert_eq!(backoff.next_delay_ms(1.0), 500);
    }
}
