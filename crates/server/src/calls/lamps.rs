//! The busy lamp field: the line state of each directory entry's extension, as the telephone
//! system reports it, sent to operators (a snapshot when a console joins, then changes).
//! Changes are gathered and sent a few times a second: a busy company changes lamps faster
//! than a console needs to repaint them.

use std::{collections::HashMap, sync::Arc, sync::Mutex, time::Duration};

use switchboard_protocol::{EntryId, LineLamp, LineState, ServerFrame};
use tokio_util::sync::CancellationToken;

use crate::presence::Hub;

/// How often gathered lamp changes go out.
const FLUSH_EVERY: Duration = Duration::from_millis(200);

#[derive(Default)]
struct Field {
    states: HashMap<EntryId, LineState>,
    /// Changed since the last flush, last state wins.
    changed: HashMap<EntryId, LineState>,
}

/// The lamps, shared by the adapter that sets them and the connections that show them.
#[derive(Default)]
pub struct Lamps {
    field: Mutex<Field>,
}

impl Lamps {
    fn field(&self) -> std::sync::MutexGuard<'_, Field> {
        self.field
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The `lamps` snapshot frame for a console that just joined.
    pub fn snapshot(&self) -> ServerFrame {
        let field = self.field();
        let mut lamps: Vec<LineLamp> = field
            .states
            .iter()
            .map(|(&entry, &state)| LineLamp { entry, state })
            .collect();
        lamps.sort_by_key(|lamp| lamp.entry);
        ServerFrame::Lamps {
            lamps,
            snapshot: true,
        }
    }

    /// Every lamp at once (the telephone system was read again): operators get a snapshot.
    pub fn replace(&self, hub: &Hub, states: HashMap<EntryId, LineState>) {
        {
            let mut field = self.field();
            field.states = states;
            field.changed.clear();
        }
        hub.broadcast_operators(self.snapshot().encode().into());
    }

    /// One lamp changed; operators get it with the next flush.
    pub fn set(&self, entry: EntryId, state: LineState) {
        let mut field = self.field();
        if field.states.insert(entry, state) != Some(state) {
            field.changed.insert(entry, state);
        }
    }

    /// Sends gathered changes every [`FLUSH_EVERY`] until shutdown.
    pub async fn run(self: Arc<Self>, hub: Arc<Hub>, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(FLUSH_EVERY);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = shutdown.cancelled() => return,
            }
            let mut lamps: Vec<LineLamp> = self
                .field()
                .changed
                .drain()
                .map(|(entry, state)| LineLamp { entry, state })
                .collect();
            if lamps.is_empty() {
                continue;
            }
            lamps.sort_by_key(|lamp| lamp.entry);
            let frame = ServerFrame::Lamps {
                lamps,
                snapshot: false,
            };
            hub.broadcast_operators(frame.encode().into());
        }
    }
}
