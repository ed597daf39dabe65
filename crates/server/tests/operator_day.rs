//! The operator's shared lists on the server: missed calls (kept, shared, called back through
//! the telephone system, marked done once), night service (switched by an operator or the
//! opening hours, told to the telephone system, kept), each operator's calls of today, and
//! the absences everyone sees.

mod common;

use std::time::Duration;

use common::{Client, TestServer};
use reqwest::Method;
use serde_json::json;
use switchboard_protocol::{
    Absence, AccountChange, Call, CallState, ClientFrame, ErrorCode, HandledCall, MissedCall,
    NightService, Role, ServerFrame,
};

async fn queue(server: &TestServer, name: &str, number: &str) -> Call {
    let body = json!({"caller_name": name, "caller_number": number, "dialled": "+1 555 2000"});
    let response = server.ingest(Method::POST, "/api/calls", Some(body)).await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

/// The telephone system reports `action` on `call` through the ingest API.
async fn report(server: &TestServer, call: &Call, action: &str) {
    let path = format!("/api/calls/{}/{action}", call.id);
    assert_eq!(server.ingest(Method::POST, &path, None).await.status(), 200);
}

/// The next change of the missed calls list: (missed or changed, done).
async fn missed_change(console: &mut Client) -> (Vec<MissedCall>, Vec<i64>) {
    console
        .recv_until(|frame| match frame {
            ServerFrame::MissedCalls {
                missed,
                done,
                snapshot: false,
            } => Some((missed, done)),
            _ => None,
        })
        .await
}

fn missed_snapshot(frames: &[ServerFrame]) -> Vec<MissedCall> {
    frames
        .iter()
        .find_map(|frame| match frame {
            ServerFrame::MissedCalls {
                missed,
                snapshot: true,
                ..
            } => Some(missed.clone()),
            _ => None,
        })
        .expect("operators get the missed calls at hello")
}

fn night_at_hello(frames: &[ServerFrame]) -> NightService {
    frames
        .iter()
        .find_map(|frame| match frame {
            ServerFrame::NightService(night) => Some(night.clone()),
            _ => None,
        })
        .expect("operators get night service at hello")
}

/// A second operator: alice, promoted by the admin. A new role takes effect when a console
/// reconnects: her console is closed (4001) once the change is in force, then opens again.
async fn second_operator(server: &TestServer) -> (Client, Vec<ServerFrame>) {
    let cookie = server.sign_in("alice", "alice").await.unwrap();
    let (mut before, _) = server.join(&cookie).await;
    let admin = server.sign_in("admin", "admin").await.unwrap();
    let promote = AccountChange {
        role: Some(Role::Operator),
        active: None,
    };
    let response = server
        .http()
        .patch(server.url("/api/admin/users/alice"))
        .header("cookie", admin)
        .json(&promote)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(before.close_code().await, Some(4001));
    server.join(&cookie).await
}

#[tokio::test]
async fn a_caller_who_hangs_up_while_queued_is_missed_for_every_operator_until_one_is_done() {
    let server = TestServer::start().await;
    let (mut operator, frames) = server.connect("operator").await;
    assert!(missed_snapshot(&frames).is_empty());
    let (mut alice, _) = second_operator(&server).await;

    let hung_up = queue(&server, "Jane Doe", "+1 555 0100").await;
    let answered = queue(&server, "Northwind", "+1 555 0147").await;
    report(&server, &hung_up, "clear").await;
    report(&server, &answered, "answer").await;
    report(&server, &answered, "clear").await;
    for console in [&mut operator, &mut alice] {
        let (missed, done) = missed_change(console).await;
        assert!(done.is_empty());
        assert_eq!(missed.len(), 1);
        let missed = &missed[0];
        assert_eq!(
            (
                missed.call,
                missed.caller_name.as_str(),
                missed.dialled.as_str()
            ),
            (hung_up.id, "Jane Doe", "+1 555 2000")
        );
        assert!(missed.missed_at_ms >= missed.queued_at_ms);
        assert_eq!(missed.called_back, None);
    }

    operator
        .send(&ClientFrame::CallBack { call: hung_up.id })
        .await;
    for console in [&mut operator, &mut alice] {
        let (missed, _) = missed_change(console).await;
        let called_back = missed[0].called_back.clone().expect("called back");
        assert_eq!(called_back.by, "Operator");
    }
    // A second operator clicking a moment later does not ring the caller again.
    alice
        .send(&ClientFrame::CallBack { call: hung_up.id })
        .await;
    let (code, message) = alice.refusal().await;
    assert_eq!(code, ErrorCode::Telephony);
    assert_eq!(message, "Operator is calling this caller back already.");

    // The list is kept: a console connecting later (or after a restart) gets it.
    let server = server.restart().await;
    let (mut operator, frames) = server.connect("operator").await;
    let listed = missed_snapshot(&frames);
    assert_eq!(listed.len(), 1, "only the caller who hung up: {listed:?}");
    assert_eq!(listed[0].call, hung_up.id);
    let (mut alice, _) = server.connect("alice").await;

    alice
        .send(&ClientFrame::MissedDone { call: hung_up.id })
        .await;
    for console in [&mut operator, &mut alice] {
        let (missed, done) = missed_change(console).await;
        assert_eq!((missed, done), (vec![], vec![hung_up.id]));
    }
    // Done once: the second operator to click is told, and nothing changes.
    operator
        .send(&ClientFrame::MissedDone { call: hung_up.id })
        .await;
    let (code, message) = operator.refusal().await;
    assert_eq!(code, ErrorCode::NotFound);
    assert!(message.contains("another operator"), "{message}");
    operator
        .send(&ClientFrame::CallBack { call: answered.id })
        .await;
    assert_eq!(operator.refusal().await.0, ErrorCode::NotFound);
    let (_, frames) = server.connect("operator").await;
    assert!(missed_snapshot(&frames).is_empty());

    // A withheld number cannot be called back; a caller who gets through on a later call
    // needs no call back.
    let withheld = queue(&server, "", "anonymous").await;
    report(&server, &withheld, "clear").await;
    let again_later = queue(&server, "Ann Again", "+1 555 0177").await;
    report(&server, &again_later, "clear").await;
    for _ in 0..2 {
        missed_change(&mut operator).await;
    }
    operator
        .send(&ClientFrame::CallBack { call: withheld.id })
        .await;
    assert_eq!(operator.refusal().await.0, ErrorCode::InvalidRequest);
    let through = queue(&server, "Ann Again", "+1 555 0177").await;
    report(&server, &through, "answer").await;
    let (missed, done) = missed_change(&mut operator).await;
    assert_eq!((missed, done), (vec![], vec![again_later.id]));
    let (_, frames) = server.connect("operator").await;
    let left: Vec<i64> = missed_snapshot(&frames).iter().map(|m| m.call).collect();
    assert_eq!(left, vec![withheld.id]);
}

#[tokio::test]
async fn a_call_back_goes_to_a_pbx_integration_with_the_number_to_dial() {
    let server = TestServer::start()
        .await
        .restart_with(|config| config.demo = false)
        .await;
    let call = queue(&server, "", "+44 20 7946 0018").await;
    report(&server, &call, "clear").await;
    let (mut operator, _) = server.connect("operator").await;
    operator
        .send(&ClientFrame::CallBack { call: call.id })
        .await;
    let (missed, _) = missed_change(&mut operator).await;
    assert!(missed[0].called_back.is_some());
    let command = server.feed().await.pop().unwrap();
    assert_eq!(
        (
            &command["action"],
            &command["target_number"],
            &command["source"],
            &command["command"]
        ),
        (
            &json!("call_back"),
            &json!("+442079460018"),
            &json!("operator:operator"),
            &json!(true)
        )
    );
}

#[tokio::test]
async fn night_service_is_switched_by_an_operator_shared_and_kept() {
    let server = TestServer::start().await;
    let (mut operator, frames) = server.connect("operator").await;
    assert!(!night_at_hello(&frames).closed);
    let (mut alice, _) = second_operator(&server).await;

    alice
        .send(&ClientFrame::SetNightService { closed: true })
        .await;
    for console in [&mut operator, &mut alice] {
        let night = console
            .recv_until(|frame| match frame {
                ServerFrame::NightService(night) => Some(night),
                _ => None,
            })
            .await;
        assert!(night.closed);
        assert_eq!(night.by, "Alice Archer");
    }
    // The PBX integration reads it.
    let read: NightService = server
        .ingest(Method::GET, "/api/night-service", None)
        .await
        .json()
        .await
        .unwrap();
    assert!(read.closed);
    let anonymous = server
        .http()
        .get(server.url("/api/night-service"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401, "the ingest token is needed");

    let server = server.restart().await;
    let (_, frames) = server.connect("operator").await;
    assert!(night_at_hello(&frames).closed, "kept across a restart");
}

#[tokio::test]
async fn opening_hours_close_the_switchboard_when_they_say_so() {
    use chrono::{Local, NaiveTime, Timelike, Weekday};
    use switchboard_server::calls::night::{BY_OPENING_HOURS, OpeningHours};

    // Open only during a minute that has passed today: closed now, since that minute.
    let now = Local::now().time();
    let (open, close) = if now.hour() >= 1 {
        (
            NaiveTime::from_hms_opt(0, 0, 0),
            NaiveTime::from_hms_opt(0, 1, 0),
        )
    } else {
        // Just after midnight: open from 23:58 to 23:59 on every day (yesterday's closing).
        (
            NaiveTime::from_hms_opt(23, 58, 0),
            NaiveTime::from_hms_opt(23, 59, 0),
        )
    };
    let hours = OpeningHours {
        days: vec![
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
            Weekday::Sat,
            Weekday::Sun,
        ],
        open: open.unwrap(),
        close: close.unwrap(),
    };
    let with_hours = |config: &mut switchboard_server::config::Config| {
        config.opening_hours = Some(hours.clone());
    };
    let server = TestServer::start_with(with_hours).await;
    let (mut operator, frames) = server.connect("operator").await;
    let night = if night_at_hello(&frames).closed {
        night_at_hello(&frames)
    } else {
        tokio::time::timeout(
            Duration::from_secs(30),
            operator.recv_until(|frame| match frame {
                ServerFrame::NightService(night) => Some(night),
                _ => None,
            }),
        )
        .await
        .expect("the hours close the switchboard")
    };
    assert!(night.closed);
    assert_eq!(night.by, BY_OPENING_HOURS);

    // An operator's switch holds until the hours next switch.
    operator
        .send(&ClientFrame::SetNightService { closed: false })
        .await;
    let opened = operator
        .recv_until(|frame| match frame {
            ServerFrame::NightService(night) => Some(night),
            _ => None,
        })
        .await;
    assert!(!opened.closed);
    let server = server.restart_with(with_hours).await;
    let (mut operator, frames) = server.connect("operator").await;
    assert!(!night_at_hello(&frames).closed);
    // The hours are checked at start and then every 15 s: nothing changes.
    let changed = tokio::time::timeout(
        Duration::from_secs(3),
        operator.recv_until(|frame| match frame {
            ServerFrame::NightService(night) => Some(night),
            _ => None,
        }),
    )
    .await;
    assert!(
        changed.is_err(),
        "the hours did not undo the operator's later switch: {changed:?}"
    );
}

#[tokio::test]
async fn todays_calls_list_what_this_operator_answered_and_where_it_went() {
    let server = TestServer::start().await;
    let (mut operator, frames) = server.connect("operator").await;
    let bob = frames
        .iter()
        .find_map(|frame| match frame {
            ServerFrame::DirectorySnapshot { entries, .. } => {
                entries.iter().find(|e| e.name == "Bob Baker").map(|e| e.id)
            }
            _ => None,
        })
        .unwrap();
    let transferred = queue(&server, "Jane Doe", "+1 555 0100").await;
    let released = queue(&server, "Contoso Ltd", "+1 555 0163").await;
    let not_mine = queue(&server, "Fabrikam Inc", "+1 555 0182").await;
    let came_back = queue(&server, "Rae Recalled", "+1 555 0190").await;
    let (mut alice, _) = second_operator(&server).await;

    let moves = [
        (
            ClientFrame::AnswerCall {
                call: transferred.id,
            },
            CallState::Active,
        ),
        (
            ClientFrame::TransferCall {
                call: transferred.id,
                target: bob,
                blind: false,
            },
            CallState::Transferring,
        ),
        (
            ClientFrame::ClearCall {
                call: transferred.id,
            },
            CallState::Cleared,
        ),
        (
            ClientFrame::AnswerCall { call: released.id },
            CallState::Active,
        ),
        (
            ClientFrame::ClearCall { call: released.id },
            CallState::Cleared,
        ),
    ];
    let moved_to = |state: CallState| {
        move |frame: ServerFrame| match frame {
            ServerFrame::Call(call) if call.pending.is_none() && call.state == state => Some(()),
            _ => None,
        }
    };
    for (frame, state) in moves {
        operator.send(&frame).await;
        operator.recv_until(moved_to(state)).await;
    }
    // Bob does not answer this one: it comes back, and is released.
    operator
        .send(&ClientFrame::AnswerCall { call: came_back.id })
        .await;
    operator.recv_until(moved_to(CallState::Active)).await;
    operator
        .send(&ClientFrame::TransferCall {
            call: came_back.id,
            target: bob,
            blind: false,
        })
        .await;
    operator.recv_until(moved_to(CallState::Transferring)).await;
    let path = format!("/api/calls/{}/recall", came_back.id);
    assert_eq!(server.ingest(Method::POST, &path, None).await.status(), 200);
    operator.recv_until(moved_to(CallState::Held)).await;
    operator
        .send(&ClientFrame::ClearCall { call: came_back.id })
        .await;
    operator.recv_until(moved_to(CallState::Cleared)).await;
    alice
        .send(&ClientFrame::AnswerCall { call: not_mine.id })
        .await;
    // Her console also saw the operator's calls move: wait for this one.
    alice
        .recv_until(|frame| match frame {
            ServerFrame::Call(call)
                if call.id == not_mine.id
                    && call.state == CallState::Active
                    && call.pending.is_none() =>
            {
                Some(())
            }
            _ => None,
        })
        .await;

    operator.send(&ClientFrame::TodaysCalls).await;
    let calls: Vec<HandledCall> = operator
        .recv_until(|frame| match frame {
            ServerFrame::TodaysCalls { calls } => Some(calls),
            _ => None,
        })
        .await;
    let ids: Vec<i64> = calls.iter().map(|call| call.call).collect();
    assert_eq!(
        ids,
        vec![came_back.id, released.id, transferred.id],
        "newest first, only mine"
    );
    assert_eq!(calls[2].transferred_to.as_deref(), Some("Bob Baker"));
    assert_eq!(calls[1].transferred_to, None);
    assert_eq!(calls[0].transferred_to, None, "Bob never took it");
    for call in &calls {
        let ended = call.ended_at_ms.expect("ended");
        assert!(ended >= call.answered_at_ms);
    }
    alice.send(&ClientFrame::TodaysCalls).await;
    let theirs = alice
        .recv_until(|frame| match frame {
            ServerFrame::TodaysCalls { calls } => Some(calls),
            _ => None,
        })
        .await;
    assert_eq!(theirs.len(), 1);
    assert_eq!((theirs[0].call, theirs[0].ended_at_ms), (not_mine.id, None));
}

fn absences_at_hello(frames: &[ServerFrame]) -> Vec<Absence> {
    frames
        .iter()
        .find_map(|frame| match frame {
            ServerFrame::Absences {
                absences,
                snapshot: true,
                ..
            } => Some(absences.clone()),
            _ => None,
        })
        .expect("every console gets the absences at hello")
}

async fn absence_change(console: &mut Client) -> (Vec<Absence>, Vec<i64>) {
    console
        .recv_until(|frame| match frame {
            ServerFrame::Absences {
                absences,
                ended,
                snapshot: false,
            } => Some((absences, ended)),
            _ => None,
        })
        .await
}

#[tokio::test]
async fn an_absence_reaches_every_console_until_it_ends_and_bad_ones_change_nothing() {
    let server = TestServer::start().await;
    let (mut alice, frames) = server.connect("alice").await;
    let me = frames
        .iter()
        .find_map(|frame| match frame {
            ServerFrame::Welcome { me, .. } => Some(me.id),
            _ => None,
        })
        .unwrap();
    let (mut bob, _) = server.connect("bob").await;
    let now = switchboard_server::clock::now_ms();
    let day = 86_400_000;
    let text = "On leave until 3 Dec, ask Bob Baker";
    alice
        .send(&ClientFrame::SetAbsence {
            text: text.into(),
            until_ms: now + day,
        })
        .await;
    for console in [&mut alice, &mut bob] {
        let (absences, _) = absence_change(console).await;
        assert_eq!(
            absences,
            vec![Absence {
                user: me,
                text: text.into(),
                until_ms: now + day
            }]
        );
    }
    let (_, frames) = server.connect("operator").await;
    assert_eq!(
        absences_at_hello(&frames).len(),
        1,
        "kept for later consoles"
    );

    for (text, until_ms) in [
        ("Back soon".to_owned(), now - 1_000),
        ("Back next year".to_owned(), now + 400 * day),
        ("x".repeat(201), now + day),
        ("Two\nlines".to_owned(), now + day),
    ] {
        alice
            .send(&ClientFrame::SetAbsence { text, until_ms })
            .await;
        assert_eq!(alice.refusal().await.0, ErrorCode::InvalidRequest);
    }
    let (_, frames) = server.connect("operator").await;
    assert_eq!(absences_at_hello(&frames)[0].text, text, "nothing changed");

    alice
        .send(&ClientFrame::SetAbsence {
            text: String::new(),
            until_ms: 0,
        })
        .await;
    assert_eq!(absence_change(&mut bob).await.1, vec![me]);
    let (_, frames) = server.connect("operator").await;
    assert!(absences_at_hello(&frames).is_empty());

    // One that ends by itself is gone from what later consoles get.
    alice
        .send(&ClientFrame::SetAbsence {
            text: "Out for lunch".into(),
            until_ms: switchboard_server::clock::now_ms() + 500,
        })
        .await;
    absence_change(&mut bob).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let (_, frames) = server.connect("operator").await;
    assert!(absences_at_hello(&frames).is_empty());
    // The sweep removes it and tells the consoles.
    let swept = switchboard_server::absence::sweep_once(&server.state)
        .await
        .unwrap();
    assert_eq!(swept, vec![me]);
    assert_eq!(absence_change(&mut bob).await.1, vec![me]);
}
