//! Calls end to end on the server: the ingest API, operator actions over the WebSocket, the
//! event feed, persistence across a restart and the OpenAPI document.

mod common;

use common::TestServer;
use reqwest::Method;
use serde_json::{Value, json};
use switchboard_protocol::{ApiError, Call, CallState, ClientFrame, ErrorCode, ServerFrame};

fn jane() -> Value {
    json!({"caller_name": "Jane Doe", "caller_number": "+1 555 0100", "dialled": "+1 555 2000"})
}

async fn queue(server: &TestServer, body: Value) -> Call {
    let response = server.ingest(Method::POST, "/api/calls", Some(body)).await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

async fn open_calls(server: &TestServer) -> Vec<Call> {
    let response = server.ingest(Method::GET, "/api/calls", None).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    serde_json::from_value(body["calls"].clone()).unwrap()
}

/// The next call that moved (pending versions skipped).
async fn moved(console: &mut common::Client) -> Call {
    console
        .recv_until(|frame| match frame {
            ServerFrame::Call(call) if call.pending.is_none() => Some(call),
            _ => None,
        })
        .await
}

async fn error_of(response: reqwest::Response, status: u16) -> ApiError {
    assert_eq!(response.status(), status);
    response.json().await.unwrap()
}

#[tokio::test]
async fn the_ingest_api_needs_its_token() {
    let server = TestServer::start().await;
    let client = reqwest::Client::new();
    let url = server.url("/api/calls");
    let missing = client.post(&url).json(&jane()).send().await.unwrap();
    assert_eq!(error_of(missing, 401).await.error, "unauthenticated");
    let wrong = client
        .post(&url)
        .bearer_auth("not-the-token-0123456789")
        .json(&jane())
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let listed = client.get(&url).send().await.unwrap();
    assert_eq!(listed.status(), 401);
    assert!(open_calls(&server).await.is_empty(), "nothing was queued");
}

#[tokio::test]
async fn bad_calls_are_refused_with_the_field_named_and_change_nothing() {
    let server = TestServer::start().await;
    let cases = [
        (
            json!({"caller_name": "X", "dialled": "+1 555 2000"}),
            "caller_number",
        ),
        (
            json!({"caller_number": "  ", "dialled": "+1 555 2000"}),
            "caller_number",
        ),
        (
            json!({"caller_number": "+1 555 0100", "dialled": ""}),
            "dialled",
        ),
        (
            json!({"caller_number": "+1", "dialled": "+1", "caller_name": "x".repeat(500)}),
            "caller_name",
        ),
        (
            json!({"caller_number": "+1", "dialled": "+1", "ring_tone": "loud"}),
            "ring_tone",
        ),
        (
            json!({"caller_number": 5550100, "dialled": "+1"}),
            "caller_number",
        ),
    ];
    for (body, field) in cases {
        let response = server
            .ingest(Method::POST, "/api/calls", Some(body.clone()))
            .await;
        let error = error_of(response, 400).await;
        assert!(error.message.contains(field), "{body}: {}", error.message);
    }
    let stranger = json!({"caller_number": "+1", "dialled": "+1", "caller_user": 999_999});
    let response = server
        .ingest(Method::POST, "/api/calls", Some(stranger))
        .await;
    assert!(
        error_of(response, 404)
            .await
            .message
            .contains("caller_user")
    );
    let events = server
        .ingest(Method::GET, "/api/calls/events?limit=5000", None)
        .await;
    assert_eq!(error_of(events, 400).await.error, "bad_request");
    assert!(open_calls(&server).await.is_empty());
}

#[tokio::test]
async fn calls_move_only_along_the_state_machine() {
    let server = TestServer::start().await;
    let call = queue(&server, jane()).await;
    assert_eq!(call.state, CallState::Queued);
    let path = |action: &str| format!("/api/calls/{}/{action}", call.id);

    // Illegal moves: 409, and the call stays as it was.
    let held = server.ingest(Method::POST, &path("hold"), None).await;
    assert_eq!(error_of(held, 409).await.error, "illegal_move");
    let transfer = server
        .ingest(Method::POST, &path("transfer"), Some(json!({"target": 1})))
        .await;
    assert_eq!(transfer.status(), 409);
    assert_eq!(open_calls(&server).await, std::slice::from_ref(&call));

    let answered: Call = server
        .ingest(Method::POST, &path("answer"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(answered.state, CallState::Active);
    assert!(answered.answered_at_ms.is_some());
    let held: Call = server
        .ingest(Method::POST, &path("hold"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(held.state, CallState::Held);

    let unknown_target = server
        .ingest(
            Method::POST,
            &path("transfer"),
            Some(json!({"target": 999_999})),
        )
        .await;
    assert!(
        error_of(unknown_target, 404)
            .await
            .message
            .contains("target")
    );
    let no_body = server.ingest(Method::POST, &path("transfer"), None).await;
    assert_eq!(no_body.status(), 400);
    let transferring: Call = server
        .ingest(Method::POST, &path("transfer"), Some(json!({"target": 2})))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(transferring.state, CallState::Transferring);
    assert_eq!(transferring.transfer_target, Some(2));

    // The target did not answer: back on hold, naming them, kept across a read; answering
    // it again forgets them. Only a call being transferred can come back.
    let recalled: Call = server
        .ingest(Method::POST, &path("recall"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            recalled.state,
            recalled.unanswered_by,
            recalled.transfer_target
        ),
        (CallState::Held, Some(2), None)
    );
    assert!(recalled.held_at_ms.is_some());
    assert_eq!(open_calls(&server).await, std::slice::from_ref(&recalled));
    let again = server.ingest(Method::POST, &path("recall"), None).await;
    assert_eq!(error_of(again, 409).await.error, "illegal_move");
    let retrieved: Call = server
        .ingest(Method::POST, &path("answer"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(retrieved.unanswered_by, None);
    let transferring: Call = server
        .ingest(Method::POST, &path("transfer"), Some(json!({"target": 2})))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(transferring.state, CallState::Transferring);

    let cleared: Call = server
        .ingest(Method::POST, &path("clear"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cleared.state, CallState::Cleared);
    assert!(open_calls(&server).await.is_empty());
    let again = server.ingest(Method::POST, &path("answer"), None).await;
    assert_eq!(error_of(again, 404).await.error, "not_found");
    let not_an_id = server
        .ingest(Method::POST, "/api/calls/abc/answer", None)
        .await;
    assert_eq!(error_of(not_an_id, 400).await.error, "bad_request");
}

#[tokio::test]
async fn operators_act_through_the_websocket_and_every_console_follows() {
    let server = TestServer::start().await;
    let first = queue(&server, jane()).await;
    let (mut operator, frames) = server.connect("operator").await;
    let Some((calls, now_ms)) = frames.iter().find_map(|frame| match frame {
        ServerFrame::CallsSnapshot { calls, now_ms } => Some((calls, now_ms)),
        _ => None,
    }) else {
        panic!("no calls snapshot in {frames:?}");
    };
    assert_eq!(calls, std::slice::from_ref(&first));
    assert!(*now_ms >= first.queued_at_ms);
    let (mut second_tab, _) = server.connect("operator").await;

    let alice_id = 2;
    let second = queue(
        &server,
        json!({"caller_name": "Alice Archer", "caller_number": "2002",
        "dialled": "+1 555 2000", "caller_user": alice_id}),
    )
    .await;
    for console in [&mut operator, &mut second_tab] {
        assert_eq!(console.recv().await, ServerFrame::Call(second.clone()));
    }

    // A command shows pending on every console, then the call moves once confirmed.
    operator
        .send(&ClientFrame::AnswerCall { call: first.id })
        .await;
    let ServerFrame::Call(pending) = second_tab.recv().await else {
        panic!()
    };
    assert_eq!((pending.id, pending.state), (first.id, CallState::Queued));
    assert_eq!(pending.pending.unwrap().operator, "operator");
    let active = moved(&mut second_tab).await;
    assert_eq!((active.id, active.state), (first.id, CallState::Active));
    moved(&mut operator).await;

    // Answering the other call holds the first one, as a desk phone does.
    second_tab
        .send(&ClientFrame::AnswerCall { call: second.id })
        .await;
    for console in [&mut operator, &mut second_tab] {
        let held = moved(console).await;
        assert_eq!((held.id, held.state), (first.id, CallState::Held));
        let taken = moved(console).await;
        assert_eq!((taken.id, taken.state), (second.id, CallState::Active));
    }

    // Illegal or unknown: an error to the asker only, nothing changes.
    operator
        .send(&ClientFrame::HoldCall { call: first.id })
        .await;
    let ServerFrame::Error { code, .. } = operator.recv().await else {
        panic!()
    };
    assert_eq!(code, ErrorCode::IllegalMove);
    operator
        .send(&ClientFrame::ClearCall { call: 424_242 })
        .await;
    let ServerFrame::Error { code, .. } = operator.recv().await else {
        panic!()
    };
    assert_eq!(code, ErrorCode::NotFound);
    operator
        .send(&ClientFrame::TransferCall {
            call: second.id,
            target: -1,
            blind: false,
        })
        .await;
    let ServerFrame::Error { code, .. } = operator.recv().await else {
        panic!()
    };
    assert_eq!(code, ErrorCode::NotFound);

    // What operators did is in the event feed, for the PBX integration.
    let events = server.feed().await;
    let moves: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["source"].as_str().unwrap()))
        .collect();
    assert_eq!(
        moves,
        [
            ("queue", "telephony"),
            ("queue", "telephony"),
            ("answer", "operator:operator"),
            ("hold", "operator:operator"),
            ("answer", "operator:operator"),
        ]
    );
    let last = events.last().unwrap()["seq"].as_i64().unwrap();
    let later: Value = server
        .ingest(
            Method::GET,
            &format!("/api/calls/events?after={last}"),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(later["events"], json!([]));
    let bad = server
        .ingest(Method::GET, "/api/calls/events?after=soon", None)
        .await;
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn a_restart_keeps_queued_active_and_held_calls() {
    let server = TestServer::start().await;
    let waiting = queue(&server, jane()).await;
    let talking = queue(
        &server,
        json!({"caller_number": "+44 20 7946 0018", "dialled": "+1 555 2100"}),
    )
    .await;
    let done = queue(
        &server,
        json!({"caller_number": "+1 555 0147", "dialled": "+1 555 2100"}),
    )
    .await;
    server
        .ingest(
            Method::POST,
            &format!("/api/calls/{}/answer", talking.id),
            None,
        )
        .await;
    server
        .ingest(Method::POST, &format!("/api/calls/{}/clear", done.id), None)
        .await;
    let held = queue(
        &server,
        json!({"caller_number": "+1 555 0148", "dialled": "+1 555 2100"}),
    )
    .await;
    for step in ["answer", "hold"] {
        server
            .ingest(
                Method::POST,
                &format!("/api/calls/{}/{step}", held.id),
                None,
            )
            .await;
    }
    let before = open_calls(&server).await;

    // Kept whole, the time a held call went on hold included (the console recalls it). The
    // telephone system answering the third call held the one in progress itself.
    let server = server.restart().await;
    let after = open_calls(&server).await;
    assert_eq!(after, before);
    let states: Vec<_> = after
        .iter()
        .map(|c| (c.id, c.state, c.held_at_ms.is_some()))
        .collect();
    assert_eq!(
        states,
        [
            (waiting.id, CallState::Queued, false),
            (talking.id, CallState::Held, true),
            (held.id, CallState::Held, true)
        ]
    );
    // Retrieved, it is no longer on hold.
    server
        .ingest(
            Method::POST,
            &format!("/api/calls/{}/answer", held.id),
            None,
        )
        .await;
    let retrieved = open_calls(&server).await;
    let retrieved = retrieved.iter().find(|c| c.id == held.id).unwrap();
    assert_eq!(
        (retrieved.state, retrieved.held_at_ms),
        (CallState::Active, None)
    );
}

#[tokio::test]
async fn the_openapi_document_describes_the_whole_http_api() {
    let server = TestServer::start().await;
    let doc: Value = reqwest::get(server.url("/api/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/healthz", "get"),
        ("/api/session", "post"),
        ("/api/session", "get"),
        ("/api/session", "delete"),
        ("/api/calls", "post"),
        ("/api/calls", "get"),
        ("/api/calls/events", "get"),
        ("/api/calls/{id}/answer", "post"),
        ("/api/calls/{id}/hold", "post"),
        ("/api/calls/{id}/transfer", "post"),
        ("/api/calls/{id}/clear", "post"),
        ("/api/calls/{id}/recall", "post"),
        ("/api/night-service", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path}"
        );
    }
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for schema in [
        "Call",
        "CallState",
        "NewCall",
        "TransferRequest",
        "ApiError",
        "LoginRequest",
    ] {
        assert!(schemas.contains_key(schema), "{schema}");
    }
    let required = schemas["NewCall"]["required"].as_array().unwrap();
    assert!(required.contains(&json!("caller_number")));
    assert!(doc["components"]["securitySchemes"]["ingest_token"].is_object());
    // Every reference points at a schema the document defines.
    let text = doc.to_string();
    for reference in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = reference.split('"').next().unwrap();
        assert!(schemas.contains_key(name), "dangling reference to {name}");
    }
}

#[tokio::test]
async fn a_pbx_integration_speaks_numbers_not_switchboard_ids() {
    let server = TestServer::start().await;
    // A call from Alice's extension shows Alice, though the PBX only knows the number.
    let call = queue(
        &server,
        json!({"caller_name": "", "caller_number": "2002", "dialled": "2000"}),
    )
    .await;
    assert_eq!(call.caller_name, "Alice Archer");
    assert!(call.caller_entry.is_some());
    assert!(call.caller_user.is_some());
    // Transfers name the target by number, and the feed says which number to dial.
    let path = format!("/api/calls/{}", call.id);
    let answered = server
        .ingest(Method::POST, &format!("{path}/answer"), None)
        .await;
    assert_eq!(answered.status(), 200);
    let server = &server;
    let transfer = |body: Value| {
        let url = format!("{path}/transfer");
        async move { server.ingest(Method::POST, &url, Some(body)).await }
    };
    let unknown = transfer(json!({"number": "9999"})).await;
    assert_eq!(error_of(unknown, 404).await.error, "not_found");
    let both = transfer(json!({"number": "2003", "target": 1})).await;
    assert_eq!(both.status(), 400);
    let moved = transfer(json!({"number": "+1 555 2003"})).await;
    assert_eq!(moved.status(), 200);
    let transfer = server
        .feed()
        .await
        .into_iter()
        .find(|event| event["action"] == "transfer")
        .unwrap();
    assert_eq!(transfer["target_number"], "2003");
}

#[tokio::test]
async fn with_a_pbx_integration_a_command_waits_for_the_reported_move() {
    // The demo's accounts, then no simulated exchange: operators' commands go to the PBX
    // integration through the event feed, and the call moves when it reports the move.
    let server = TestServer::start()
        .await
        .restart_with(|config| {
            config.demo = false;
            config.confirm_within = std::time::Duration::from_secs(2);
        })
        .await;
    let call = queue(&server, jane()).await;
    let (mut operator, _) = server.connect("operator").await;
    operator
        .send(&ClientFrame::AnswerCall { call: call.id })
        .await;
    let ServerFrame::Call(pending) = operator.recv().await else {
        panic!()
    };
    assert_eq!(pending.state, CallState::Queued);
    assert!(pending.pending.is_some());
    // The integration follows the feed, where the command arrives right after the pending
    // call went to the consoles.
    let mut command = Value::Null;
    for _ in 0..50 {
        command = server.feed().await.pop().unwrap();
        if command["command"] == json!(true) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        (
            &command["action"],
            &command["state"],
            &command["source"],
            &command["command"]
        ),
        (
            &json!("answer"),
            &json!("queued"),
            &json!("operator:operator"),
            &json!(true)
        )
    );
    let reported = server
        .ingest(
            Method::POST,
            &format!("/api/calls/{}/answer", call.id),
            None,
        )
        .await;
    assert_eq!(reported.status(), 200);
    let active = moved(&mut operator).await;
    assert_eq!((active.id, active.state), (call.id, CallState::Active));

    // A command the integration never reports is refused after the confirmation time, and
    // the call stays as it was.
    operator
        .send(&ClientFrame::HoldCall { call: call.id })
        .await;
    // The refusal (to the asker) and the call no longer pending (to every operator) come
    // in either order.
    let (mut refusal, mut unchanged) = (None, None);
    while refusal.is_none() || unchanged.is_none() {
        match operator.recv().await {
            ServerFrame::Error { code, message } => refusal = Some((code, message)),
            ServerFrame::Call(call) if call.pending.is_none() => unchanged = Some(call.state),
            _ => {}
        }
    }
    assert_eq!(unchanged, Some(CallState::Active));
    assert_eq!(
        refusal,
        Some((
            ErrorCode::Telephony,
            "The telephone system did not confirm in 2 s: the call was not held.".into()
        ))
    );
}
