//! HTTPS with the server's own certificate: a Secure cookie, HSTS, wss://, no plain HTTP on
//! the TLS port, and a restart still closing sockets with 1012.

mod common;

use common::{TestServer, header};
use switchboard_protocol::{PresenceState, ServerFrame};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn sign_in_and_the_console_socket_work_over_https() {
    let server = TestServer::start_tls().await;
    assert!(server.url("/").starts_with("https://"));
    let response = server.sign_in_response("alice", "alice").await;
    assert_eq!(response.status(), 200);
    let header = |name: &str| header(&response, name);
    let cookie = header("set-cookie");
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(
        header("strict-transport-security").starts_with("max-age="),
        "{:?}",
        response.headers()
    );

    // The console's own https origin may open wss://.
    let name_value = cookie.split(';').next().unwrap();
    let (_alice, frames) = server.join(name_value).await;
    let ServerFrame::Welcome { me, .. } = &frames[0] else {
        panic!("expected welcome, got {:?}", frames[0]);
    };
    assert_eq!(me.username, "alice");
    assert_eq!(
        server.state.hub.presence_of(me.id),
        PresenceState::Available
    );
    // Another site may not.
    assert!(
        server
            .open_ws(Some(name_value), Some("https://evil.example"))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn plain_http_on_the_tls_port_gets_no_page() {
    let server = TestServer::start_tls().await;
    assert_eq!(
        server
            .http()
            .get(server.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200,
        "the same request over https is answered"
    );

    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let request = format!(
        "GET /healthz HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        server.addr
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        tcp.read_to_end(&mut answer),
    )
    .await
    .expect("the server hangs up instead of waiting");
    // A reset or a TLS alert, never an HTTP response.
    if read.is_ok() {
        assert!(
            !answer.starts_with(b"HTTP/"),
            "{:?}",
            String::from_utf8_lossy(&answer)
        );
    }
    let plain = reqwest::get(format!("http://{}/healthz", server.addr)).await;
    assert!(plain.is_err(), "{plain:?}");
}

#[tokio::test]
async fn a_restart_closes_secure_sockets_with_1012() {
    let server = TestServer::start_tls().await;
    let (mut bob, _) = server.connect("bob").await;
    server.state.shutdown.cancel();
    assert_eq!(bob.close_code().await, Some(1012));
}
