//! `/healthz` through a real socket: 200 "ok" while every supervised task (the chat writer)
//! is up, 503 naming the task and why while one is down, and 200 again once it restarted.

mod common;

use std::time::{Duration, Instant};

use common::TestServer;
use switchboard_server::chat::writer;
use tokio_util::sync::CancellationToken;

/// `/healthz`'s status and body.
async fn healthz(server: &TestServer) -> (u16, String) {
    let response = reqwest::get(server.url("/healthz")).await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// Polls `/healthz` (up to 5 s) until it answers `want`.
async fn until(server: &TestServer, want: (u16, &str)) {
    let started = Instant::now();
    loop {
        let (status, body) = healthz(server).await;
        if (status, body.as_str()) == want {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "/healthz says {status} {body:?}, not {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn healthz_reports_a_supervised_task_down_with_its_reason_until_it_restarted() {
    let server = TestServer::start().await;
    assert_eq!(healthz(&server).await, (200, "ok".to_owned()));
    assert_eq!(
        server.state.health.status(),
        [(writer::TASK, None)],
        "the chat writer is supervised, and up"
    );

    // A task beside the writer that panics once, then runs.
    let mut first = true;
    server.state.health.supervise(
        "archiver",
        Duration::from_millis(500),
        CancellationToken::new(),
        move || {
            let panics = std::mem::replace(&mut first, false);
            async move {
                assert!(!panics, "disk on fire");
                std::future::pending().await
            }
        },
    );
    until(&server, (503, "archiver: it panicked: disk on fire")).await;
    until(&server, (200, "ok")).await;
}
