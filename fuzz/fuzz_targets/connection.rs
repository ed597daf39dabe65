//! Any frames one signed-in console sends, one per line: the server's connection loop (the
//! same `ws::serve` that runs behind `/ws`, over a real database) answers with frames that
//! decode, never panics, and returns once the console is gone.
#![no_main]

use std::{sync::LazyLock, time::Duration};

use axum::extract::ws::Message;
use futures::{SinkExt, channel::mpsc, stream};
use libfuzzer_sys::fuzz_target;
use switchboard_protocol::{ServerFrame, User};
use switchboard_server::{AppState, Config, auth::CurrentSession, ws};
use tokio::runtime::Runtime;
use tokio_util::sync::CancellationToken;

/// Frames of one input at most: inputs are about what frames do, not how many.
const MAX_FRAMES: usize = 64;

/// One server (the demo company, a database in a temp dir) shared by every input.
struct World {
    runtime: Runtime,
    state: AppState,
    operator: User,
    _dir: tempfile::TempDir,
}

static WORLD: LazyLock<World> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let dir = tempfile::tempdir().expect("a temp dir");
    let url = format!("sqlite://{}", dir.path().join("fuzz.db").display());
    let state = runtime
        .block_on(switchboard_server::prepare(
            Config::for_tests(&url, true),
            CancellationToken::new(),
        ))
        .expect("the server starts");
    let (id, display_name): (i64, String) = runtime
        .block_on(
            sqlx::query_as("SELECT id, display_name FROM users WHERE username = 'operator'")
                .fetch_one(&state.db),
        )
        .expect("the demo operator exists");
    let operator = User {
        id,
        username: "operator".into(),
        display_name,
    };
    World {
        runtime,
        state,
        operator,
        _dir: dir,
    }
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let world = &*WORLD;
    let frames: Vec<Result<Message, axum::Error>> = text
        .split('\n')
        .take(MAX_FRAMES)
        .map(|line| Ok(Message::Text(line.into())))
        .collect();
    let (sink, mut sent) = mpsc::unbounded::<Message>();
    let sink = sink.sink_map_err(|_| ());
    let serve = ws::serve(
        world.state.clone(),
        CurrentSession {
            user: world.operator.clone(),
            session: "fuzz".into(),
        },
        sink,
        stream::iter(frames),
    );
    world
        .runtime
        .block_on(async { tokio::time::timeout(Duration::from_secs(10), serve).await })
        .expect("the loop returns once the console is gone");
    while let Ok(message) = sent.try_recv() {
        if let Message::Text(text) = message {
            ServerFrame::decode(&text).expect("every frame the server sends decodes");
        }
    }
});
