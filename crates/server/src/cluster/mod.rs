//! Several nodes: `switchboard-server` processes on one PostgreSQL database, joined by NATS
//! (`--nats-url`), behind a load balancer; a console may reach any of them. The design and
//! what happens when a part fails are in docs/cluster.md.
//!
//! The database is the truth; the bus only carries what happened, so that consoles on other
//! nodes see it at once:
//!
//! * presence: each node tells the others the presence of its own consoles' users on every
//!   change and, in full, in a heartbeat every [`HEARTBEAT`]; a node not heard from for
//!   [`NODE_TIMEOUT`] is gone and its users turn offline (unless online through another node);
//! * frames for a user (markers, typing) and for operators (calls, notes) are relayed, and
//!   so is a sign-out (its consoles on every node close);
//! * chat messages pass [`delivery`], which delivers each conversation in seq order exactly
//!   once per node, fills gaps from the database, and catches up when the bus comes back.
//!
//! Directory, account and settings changes need nothing here: every node follows the audit
//! log in the database ([`crate::audit::follow`]).

pub mod delivery;

use std::{collections::HashMap, time::Duration};

use axum::extract::ws::Utf8Bytes;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use switchboard_protocol::{ChatMessage, PresenceState, PresenceUpdate, ServerFrame, UserId};
use tokio::{sync::mpsc, time::Instant};

use crate::{
    presence::{Bus, NodeId, ToNodes},
    state::AppState,
};

/// The bus's name in `/healthz`.
pub const BUS: &str = "nats bus";
/// The subject every node publishes on and listens to.
const SUBJECT: &str = "switchboard.events";
/// How often a node tells the others everyone online through it.
pub const HEARTBEAT: Duration = Duration::from_secs(2);
/// A node not heard from for this long is gone: its users are offline.
pub const NODE_TIMEOUT: Duration = Duration::from_secs(8);
/// Events waiting for the bus before the hub drops them (presence is healed by the next
/// heartbeat, chat by [`delivery`]'s gap filling and catch-up).
const OUTBOUND_QUEUE: usize = 16_384;

/// One event on the bus, from `node`.
#[derive(Debug, Serialize, Deserialize)]
struct Envelope {
    node: NodeId,
    #[serde(flatten)]
    event: Event,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
enum Event {
    /// What `node`'s consoles give `user` now (`offline`: none left there).
    Presence { user: UserId, state: PresenceState },
    /// Everyone online through `node`.
    Heartbeat { online: Vec<PresenceUpdate> },
    /// A frame for `user`'s consoles.
    ToUser { user: UserId, frame: String },
    /// A frame for every operator's console.
    Operators { frame: String },
    /// A frame for every console.
    Everyone { frame: String },
    /// A chat message `node` stored.
    Chat { message: ChatMessage },
    /// A session ended (sign-out): its consoles close on every node. The token's hash.
    CloseSession { session: String },
    /// `node` shuts down: its users are offline at once.
    Leaving,
}

/// A name for this process among the nodes: host, process id and a random part (a restarted
/// node is a new node).
fn node_id() -> NodeId {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .unwrap_or_else(|_| "node".into());
    format!(
        "{host}-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    )
}

/// Joins this node to the others on the NATS server at `url` and keeps it joined until
/// shutdown. Returns at once: the first connection, like every later one, is made in the
/// background (with backoff), and `/healthz` tells the bus's state meanwhile.
pub async fn join(state: AppState, url: &str) -> anyhow::Result<()> {
    let node = node_id();
    let (events_tx, mut bus_events) = mpsc::unbounded_channel();
    let client = async_nats::ConnectOptions::new()
        .name(&node)
        .retry_on_initial_connect()
        .event_callback(move |event| {
            let events_tx = events_tx.clone();
            async move {
                let _ = events_tx.send(event);
            }
        })
        .connect(url)
        .await?;
    let mut subscription = client.subscribe(SUBJECT).await?;
    state.health.link(BUS, "connecting");
    tracing::info!(%node, url, "joining the other nodes");

    let (outbound_tx, mut outbound) = mpsc::channel(OUTBOUND_QUEUE);
    let (chat_tx, chat) = mpsc::unbounded_channel();
    state.hub.attach_bus(Bus {
        outbound: outbound_tx.clone(),
        chat: chat_tx.clone(),
    });
    tokio::spawn(delivery::run(
        state.db.clone(),
        state.hub.clone(),
        chat,
        outbound_tx,
    ));

    // Publishes what the hub and the delivery task hand over, and the heartbeat.
    let publisher = client.clone();
    let me = node.clone();
    let hub = state.hub.clone();
    let shutdown = state.shutdown.clone();
    tokio::spawn(async move {
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        loop {
            let event = tokio::select! {
                Some(event) = outbound.recv() => event,
                _ = heartbeat.tick() => ToNodes::Heartbeat(hub.local_presence()),
                () = shutdown.cancelled() => break,
            };
            publish(&publisher, &me, into_event(event)).await;
        }
        publish(&publisher, &me, Event::Leaving).await;
        let _ = publisher.flush().await;
    });

    // Applies what the other nodes say, and forgets nodes not heard from.
    let me = node;
    tokio::spawn(async move {
        let mut heard: HashMap<NodeId, Instant> = HashMap::new();
        let mut sweep = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                Some(message) = subscription.next() => {
                    match serde_json::from_slice::<Envelope>(&message.payload) {
                        Ok(envelope) if envelope.node != me => {
                            heard.insert(envelope.node.clone(), Instant::now());
                            apply(&state, &chat_tx, envelope).await;
                        }
                        Ok(_) => {}
                        Err(err) => tracing::warn!(%err, "an event on the bus is not one of ours"),
                    }
                }
                Some(event) = bus_events.recv() => on_connection(&state, &chat_tx, event),
                _ = sweep.tick() => {
                    heard.retain(|node, at| {
                        let alive = at.elapsed() < NODE_TIMEOUT;
                        if !alive {
                            tracing::warn!(%node, "a node was not heard from: its users are offline");
                            state.hub.remote_node(node, None);
                        }
                        alive
                    });
                }
                () = state.shutdown.cancelled() => break,
            }
        }
    });
    Ok(())
}

fn into_event(event: ToNodes) -> Event {
    match event {
        ToNodes::Presence(user, state) => Event::Presence { user, state },
        ToNodes::Heartbeat(online) => Event::Heartbeat { online },
        ToNodes::ToUser(user, frame) => Event::ToUser {
            user,
            frame: frame.as_str().to_owned(),
        },
        ToNodes::Operators(frame) => Event::Operators {
            frame: frame.as_str().to_owned(),
        },
        ToNodes::Everyone(frame) => Event::Everyone {
            frame: frame.as_str().to_owned(),
        },
        ToNodes::Chat(message) => Event::Chat { message },
        ToNodes::CloseSession(session) => Event::CloseSession { session },
    }
}

async fn publish(client: &async_nats::Client, node: &str, event: Event) {
    let envelope = Envelope {
        node: node.to_owned(),
        event,
    };
    let payload = serde_json::to_vec(&envelope).expect("events encode");
    if let Err(err) = client.publish(SUBJECT, payload.into()).await {
        // Presence heals with the next heartbeat, chat with the delivery task's catch-up.
        tracing::warn!(%err, "publishing on the bus");
    }
}

/// What another node said, applied to this node's consoles.
async fn apply(state: &AppState, chat: &mpsc::UnboundedSender<delivery::Job>, envelope: Envelope) {
    let node = envelope.node;
    match envelope.event {
        Event::Presence { user, state: shown } => state.hub.remote_presence(&node, user, shown),
        Event::Heartbeat { online } => state.hub.remote_node(&node, Some(online)),
        Event::Leaving => state.hub.remote_node(&node, None),
        Event::ToUser { user, frame } => state.hub.deliver_local(user, &Utf8Bytes::from(frame)),
        Event::Operators { frame } => match ServerFrame::decode(&frame) {
            // The calls this node holds follow: an operator here acts on the call as it is.
            Ok(ServerFrame::Call(call)) => state.calls.changed_elsewhere(call).await,
            _ => state.hub.broadcast_operators_here(Utf8Bytes::from(frame)),
        },
        Event::Everyone { frame } => state.hub.broadcast(Utf8Bytes::from(frame)),
        Event::Chat { message } => {
            let _ = chat.send(delivery::Job::Remote(message));
        }
        Event::CloseSession { session } => state.hub.close_session_here(&session),
    }
}

/// The bus connection went up or down: `/healthz`, and a catch-up when it comes back.
fn on_connection(
    state: &AppState,
    chat: &mpsc::UnboundedSender<delivery::Job>,
    event: async_nats::Event,
) {
    match event {
        async_nats::Event::Connected => {
            tracing::info!("connected to the bus");
            state.health.link(BUS, "up");
            let _ = chat.send(delivery::Job::CatchUp);
        }
        async_nats::Event::Disconnected => {
            tracing::warn!("lost the bus; reconnecting");
            state.health.link(BUS, "down: disconnected from NATS");
            let _ = chat.send(delivery::Job::BusLost);
        }
        other => tracing::info!(event = %other, "bus"),
    }
}
