//! Sign-in, sign-out and who may open the WebSocket.

mod common;

use common::{TestServer, header};
use switchboard_protocol::{ApiError, SessionInfo};
use tokio_tungstenite::tungstenite::Error as WsError;

#[tokio::test]
async fn health_check_answers_when_ready() {
    let server = TestServer::start().await;
    let response = reqwest::get(server.url("/healthz")).await.unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn wrong_password_and_unknown_user_look_the_same() {
    let server = TestServer::start().await;
    let mut bodies = Vec::new();
    for (user, password) in [
        ("alice", "wrong"),
        ("nobody", "alice"),
        ("amelia.abbott", ""),
    ] {
        let response = server.sign_in(user, password).await.unwrap_err();
        assert_eq!(response.status(), 401);
        let body: ApiError = response.json().await.unwrap();
        assert_eq!(body.error, "invalid_credentials");
        bodies.push(body.message);
    }
    assert!(bodies.iter().all(|m| m == &bodies[0]), "{bodies:?}");
}

#[tokio::test]
async fn session_cookie_is_http_only_and_strict() {
    let server = TestServer::start().await;
    let response = server.sign_in_response("carol", "carol").await;
    assert_eq!(response.status(), 200);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    let info: SessionInfo = response.json().await.unwrap();
    assert_eq!(info.user.display_name, "Carol Carter");

    let name_value = cookie.split(';').next().unwrap();
    let whoami = reqwest::Client::new()
        .get(server.url("/api/session"))
        .header("cookie", name_value)
        .send()
        .await
        .unwrap();
    assert_eq!(whoami.status(), 200);
    let anonymous = reqwest::get(server.url("/api/session")).await.unwrap();
    assert_eq!(anonymous.status(), 401);
}

fn refused_status(result: Result<common::Client, WsError>) -> u16 {
    match result {
        Err(WsError::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("the upgrade was accepted"),
    }
}

#[tokio::test]
async fn websocket_needs_a_session_and_the_servers_origin() {
    let server = TestServer::start().await;
    let own = server.url("");
    let cookie = server.sign_in("alice", "alice").await.unwrap();
    assert_eq!(refused_status(server.open_ws(None, Some(&own)).await), 401);
    let forged = "switchboard_session=00";
    assert_eq!(
        refused_status(server.open_ws(Some(forged), Some(&own)).await),
        401
    );
    let evil = Some("http://evil.example");
    assert_eq!(
        refused_status(server.open_ws(Some(&cookie), evil).await),
        403
    );
    assert_eq!(
        refused_status(server.open_ws(Some(&cookie), None).await),
        403
    );
    assert!(server.open_ws(Some(&cookie), Some(&own)).await.is_ok());
}

#[tokio::test]
async fn sign_out_ends_the_session_and_closes_its_sockets() {
    let server = TestServer::start().await;
    let signed_out = server.sign_in("alice", "alice").await.unwrap();
    let (mut tab1, _) = server.join(&signed_out).await;
    let (mut tab2, _) = server.join(&signed_out).await;
    let (mut other_device, _) = server.connect("alice").await;

    let out = reqwest::Client::new()
        .delete(server.url("/api/session"))
        .header("cookie", &signed_out)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    for tab in [&mut tab1, &mut tab2] {
        assert_eq!(tab.close_code().await, Some(4001));
    }
    let again = reqwest::Client::new()
        .get(server.url("/api/session"))
        .header("cookie", &signed_out)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 401, "the session is gone");

    // Her other session is untouched and still served.
    other_device
        .send(&switchboard_protocol::ClientFrame::SetPresence {
            state: switchboard_protocol::PresenceState::Away,
        })
        .await;
    assert!(matches!(
        other_device.recv().await,
        switchboard_protocol::ServerFrame::Presence(_)
    ));
}

#[tokio::test]
async fn malformed_sign_in_bodies_get_a_json_error() {
    let server = TestServer::start().await;
    let client = reqwest::Client::new();
    for body in [
        "not json",
        r#"{"username": "alice"}"#,
        r#"{"username": 1, "password": "x"}"#,
    ] {
        let response = client
            .post(server.url("/api/session"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{body}");
        assert!(response.headers().get("set-cookie").is_none());
        let error: ApiError = response.json().await.unwrap();
        assert_eq!(error.error, "bad_request");
        assert!(!error.message.is_empty());
    }
}

#[tokio::test]
async fn repeated_failures_throttle_that_name_even_with_the_right_password() {
    let server = TestServer::start().await;
    for _ in 0..5 {
        let response = server.sign_in("alice", "guess").await.unwrap_err();
        assert_eq!(response.status(), 401);
    }
    let blocked = server.sign_in("alice", "alice").await.unwrap_err();
    assert_eq!(blocked.status(), 429);
    let error: ApiError = blocked.json().await.unwrap();
    assert_eq!(error.error, "too_many_attempts");
    assert!(error.message.contains("minutes"), "{}", error.message);
    // An unknown name is throttled the same way: the answer does not reveal who exists.
    for _ in 0..5 {
        server.sign_in("nobody", "guess").await.unwrap_err();
    }
    assert_eq!(
        server.sign_in("nobody", "x").await.unwrap_err().status(),
        429
    );
    assert!(
        server.sign_in("bob", "bob").await.is_ok(),
        "other names are not blocked"
    );
}

#[tokio::test]
async fn an_unused_session_ends_after_the_idle_timeout() {
    let server = TestServer::start_with(|config| config.session_idle_secs = 1).await;
    let cookie = server.sign_in("carol", "carol").await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    let whoami = reqwest::Client::new()
        .get(server.url("/api/session"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(whoami.status(), 401);
    assert!(
        server
            .open_ws(Some(&cookie), Some(&server.url("")))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn the_cookie_is_secure_behind_an_https_proxy() {
    let server = TestServer::start_with(|config| config.secure_cookies = true).await;
    let response = server.sign_in_response("dave", "dave").await;
    let cookie = header(&response, "set-cookie");
    assert!(cookie.contains("Secure"), "{cookie}");
    assert_eq!(
        header(&response, "strict-transport-security"),
        "",
        "HSTS is the proxy's to send"
    );
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let server = TestServer::start().await;
    for path in ["/healthz", "/api/session", "/no/such/page"] {
        let response = reqwest::get(server.url(path)).await.unwrap();
        let header = |name: &str| header(&response, name);
        let csp = header("content-security-policy");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(csp.contains("default-src 'none'"), "{path}: {csp}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header("referrer-policy"), "no-referrer", "{path}");
        assert_eq!(
            header("strict-transport-security"),
            "",
            "{path}: plain HTTP"
        );
    }
}
