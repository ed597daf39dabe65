//! Any frames one signed-in console sends, one per line: the server's connection loop (the
//! same `ws::serve` that runs behind `/ws`, over a real database) answers with frames that
//! decode, never panics, and returns once the console is gone.
#![no_main]

use std::{sync::LazyLock, time::Duration};

use axum::extract::ws::Message;
use futures::{SinkExt, channel::mpsc, stream};
use libfuzzer_sys::fuzz_target;
use switchboard_protocol::{Role, ServerFrame, User};
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
    session: String,
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
    // A real session: the loop checks that it has not ended.
    let session: String = runtime.block_on(async {
        switchboard_server::auth::create_session(&state.db, id)
            .await
            .expect("a session");
        sqlx::query_scalar("SELECT token_hash FROM sessions WHERE user_id = ?")
            .bind(id)
            .fetch_one(&state.db)
            .await
            .expect("its hash")
    });
    let operator = User {
        id,
        username: "operator".into(),
        display_name,
    };
    World {
        runtime,
        state,
        operator,
        session,
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
    // Each input is a console of its own, with the allowances of a fresh one.
    let mut state = world.state.clone();
    state.frames = Default::default();
    let serve = ws::serve(
        state,
        CurrentSession {
            user: world.operator.clone(),
            role: Role::Operator,
            session: world.session.clone(),
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
