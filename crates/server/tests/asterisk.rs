//! Calls through a real Asterisk (the build of scripts/asterisk.sh, started by the test with
//! the dialplan of tests/asterisk/): callers are Local channels, the operator's telephone is
//! a Local channel the dialplan answers.

mod common;

use std::{collections::BTreeMap, time::Duration};

use common::{Client, TestServer};
use switchboard_loadgen::asterisk::{self, Asterisk};
use switchboard_protocol::{
    Call, CallState, ClientFrame, DirectoryEntry, EntryId, ErrorCode, LineState, ServerFrame,
};
use switchboard_server::{calls::asterisk::AsteriskConfig, config::Config};

/// The server's configuration for `pbx`, with the operator's telephone: `Local/200@operators`
/// answers, `Local/209@operators` rings and never answers.
fn configure(pbx: &Asterisk, phone: Option<&str>) -> impl FnOnce(&mut Config) + use<> {
    let url = pbx.url();
    let operators = phone
        .map(|phone| BTreeMap::from([("operator".to_owned(), phone.to_owned())]))
        .unwrap_or_default();
    move |config: &mut Config| {
        config.confirm_within = Duration::from_secs(3);
        config.asterisk = Some(AsteriskConfig {
            url,
            user: asterisk::USER.into(),
            password_file: "unused".into(),
            password: asterisk::PASSWORD.into(),
            app: "switchboard".into(),
            context: "internal".into(),
            device: "Local/{extension}@internal".into(),
            operators,
            ring_secs: 5,
        });
    }
}

/// The operator's console, once it says the telephone system is available.
async fn operator(server: &TestServer) -> (Client, Vec<DirectoryEntry>) {
    let (mut client, frames) = server.connect("operator").await;
    let available = frames
        .iter()
        .any(|frame| matches!(frame, ServerFrame::Telephony { available: true }));
    if !available {
        client
            .recv_until(|frame| {
                matches!(frame, ServerFrame::Telephony { available: true }).then_some(())
            })
            .await;
    }
    let directory = frames
        .into_iter()
        .find_map(|frame| match frame {
            ServerFrame::DirectorySnapshot { entries, .. } => Some(entries),
            _ => None,
        })
        .unwrap();
    (client, directory)
}

fn entry(directory: &[DirectoryEntry], name: &str) -> EntryId {
    directory
        .iter()
        .find(|entry| entry.name == name)
        .unwrap()
        .id
}

/// The next version of a call in the given state (pending versions skipped).
async fn call_in(client: &mut Client, state: CallState) -> Call {
    client
        .recv_until(|frame| match frame {
            ServerFrame::Call(call) if call.state == state && call.pending.is_none() => Some(call),
            _ => None,
        })
        .await
}

/// A caller dials company line `dialled`; their line, and the call once queued.
async fn ring(
    pbx: &Asterisk,
    console: &mut Client,
    dialled: &str,
    name: &str,
    number: &str,
) -> (String, Call) {
    let line = pbx.call(dialled, &format!("{name} <{number}>")).await;
    let call = console
        .recv_until(|frame| match frame {
            ServerFrame::Call(call)
                if call.state == CallState::Queued
                    && call.caller_number == number
                    && call.pending.is_none() =>
            {
                Some(call)
            }
            _ => None,
        })
        .await;
    (line, call)
}

/// The channels of the bridges whose id starts with `prefix`, in Asterisk (a call's bridges
/// are `sb-call-<call>-<n>`).
async fn bridged(pbx: &Asterisk, prefix: &str) -> Vec<String> {
    pbx.bridges()
        .await
        .into_iter()
        .filter(|bridge| {
            bridge["id"]
                .as_str()
                .is_some_and(|id| id.starts_with(prefix))
        })
        .flat_map(|bridge| {
            serde_json::from_value::<Vec<String>>(bridge["channels"].clone()).unwrap()
        })
        .collect()
}

#[tokio::test]
async fn the_operator_answers_holds_retrieves_and_transfers_through_asterisk() {
    let pbx = Asterisk::start().await;
    let server = TestServer::start_with(configure(&pbx, Some("Local/200@operators"))).await;
    let (mut console, directory) = operator(&server).await;
    let alice = entry(&directory, "Alice Archer");
    let bob = entry(&directory, "Bob Baker");

    // A caller dials company line 2000: queued with the number dialled and their caller id.
    let (_, call) = ring(&pbx, &mut console, "2000", "Jane Doe", "5550100").await;
    assert_eq!(
        (
            call.caller_name.as_str(),
            call.caller_number.as_str(),
            call.dialled.as_str()
        ),
        ("Jane Doe", "5550100", "2000")
    );
    assert_eq!(call.caller_entry, None);

    // Answer: shown pending, then active once the operator's telephone is in the call.
    console
        .send(&ClientFrame::AnswerCall { call: call.id })
        .await;
    let pending = console
        .recv_until(|frame| match frame {
            ServerFrame::Call(call) => Some(call),
            _ => None,
        })
        .await;
    assert_eq!(pending.state, CallState::Queued);
    assert_eq!(pending.pending.as_ref().unwrap().operator, "operator");
    call_in(&mut console, CallState::Active).await;
    let bridge = format!("sb-call-{}-", call.id);
    assert_eq!(
        bridged(&pbx, &bridge).await.len(),
        2,
        "caller and operator talk"
    );

    // Hold puts the caller back in the holding bridge; retrieve brings them back.
    console.send(&ClientFrame::HoldCall { call: call.id }).await;
    call_in(&mut console, CallState::Held).await;
    assert_eq!(bridged(&pbx, "switchboard-holding").await.len(), 1);
    console
        .send(&ClientFrame::AnswerCall { call: call.id })
        .await;
    call_in(&mut console, CallState::Active).await;

    // Attended transfer to Alice (extension 2002): her lamp lights, then completing joins
    // the caller to her and the call leaves Switchboard.
    console
        .send(&ClientFrame::TransferCall {
            call: call.id,
            target: alice,
            blind: false,
        })
        .await;
    // The confirmation and Alice's lamp come in either order.
    let (mut transferring, mut lit) = (false, false);
    while !(transferring && lit) {
        match console.recv().await {
            ServerFrame::Call(moved) if moved.pending.is_none() => {
                transferring |= moved.state == CallState::Transferring;
            }
            ServerFrame::Lamps { lamps, .. } => {
                lit |= lamps
                    .iter()
                    .any(|lamp| lamp.entry == alice && lamp.state == LineState::InUse);
            }
            _ => {}
        }
    }
    // Wait until Alice has answered and sits in the call's bridge with the operator.
    for _ in 0..50 {
        if bridged(&pbx, &bridge).await.len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    console
        .send(&ClientFrame::ClearCall { call: call.id })
        .await;
    call_in(&mut console, CallState::Cleared).await;
    // The operator's line leaves the bridge as Asterisk hangs it up, a moment later.
    let mut joined = bridged(&pbx, &bridge).await;
    for _ in 0..50 {
        if joined.len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        joined = bridged(&pbx, &bridge).await;
    }
    assert_eq!(joined.len(), 2, "caller and Alice: {joined:?}");
    assert!(joined.iter().any(|id| id.contains("consult")));

    // A call from Bob's extension shows Bob; a blind transfer sends it to Alice's number.
    let (_, from_bob) = ring(&pbx, &mut console, "2100", "", "2003").await;
    assert_eq!(from_bob.caller_entry, Some(bob));
    assert_eq!(from_bob.caller_name, "Bob Baker");
    assert!(from_bob.caller_user.is_some());
    console
        .send(&ClientFrame::AnswerCall { call: from_bob.id })
        .await;
    call_in(&mut console, CallState::Active).await;
    console
        .send(&ClientFrame::TransferCall {
            call: from_bob.id,
            target: alice,
            blind: true,
        })
        .await;
    call_in(&mut console, CallState::Cleared).await;
    let sent_on = pbx.channels().await.into_iter().any(|channel| {
        channel["dialplan"]["context"] == "internal"
            && channel["dialplan"]["exten"] == "2002"
            && channel["name"]
                .as_str()
                .unwrap_or_default()
                .starts_with("Local/2100@company")
    });
    assert!(sent_on, "the caller went on to 2002 in the dialplan");

    // A caller who hangs up while queued leaves the queue at once.
    let (gone, queued) = ring(&pbx, &mut console, "2000", "Early Leaver", "5550199").await;
    pbx.hang_up(&gone).await;
    let cleared = call_in(&mut console, CallState::Cleared).await;
    assert_eq!(cleared.id, queued.id);
}

#[tokio::test]
async fn two_operators_answering_one_call_and_a_silent_telephone_change_nothing() {
    let pbx = Asterisk::start().await;
    let server = TestServer::start_with(configure(&pbx, Some("Local/200@operators"))).await;
    let (mut first, _) = operator(&server).await;
    let (mut second, _) = operator(&server).await;
    let (_, call) = ring(&pbx, &mut first, "2000", "Jane Doe", "5550100").await;
    // Two consoles press Answer at once: one gets the call, the other is told.
    first.send(&ClientFrame::AnswerCall { call: call.id }).await;
    second
        .send(&ClientFrame::AnswerCall { call: call.id })
        .await;
    let (code, message) = second.refusal().await;
    assert_eq!(code, ErrorCode::IllegalMove);
    assert_eq!(message, "operator is already answering this call.");
    call_in(&mut first, CallState::Active).await;
    drop((first, second, server));

    // The operator's telephone rings and nobody picks up: after the confirmation time the
    // command is refused and the call waits as before.
    let server = TestServer::start_with(configure(&pbx, Some("Local/209@operators"))).await;
    let (mut console, _) = operator(&server).await;
    let (_, call) = ring(&pbx, &mut console, "2000", "John Roe", "5550111").await;
    console
        .send(&ClientFrame::AnswerCall { call: call.id })
        .await;
    let (code, message) = console.refusal().await;
    assert_eq!(code, ErrorCode::Telephony);
    assert_eq!(
        message,
        "The telephone system did not confirm in 3 s: the call was not answered."
    );
    // Cleared of its pending command before the refusal was sent.
    let calls = server.state.calls.list().await;
    let after = calls.iter().find(|c| c.id == call.id).unwrap();
    assert_eq!((after.state, &after.pending), (CallState::Queued, &None));
    drop((console, server));

    // An operator without a telephone is told what to configure.
    let server = TestServer::start_with(configure(&pbx, None)).await;
    let (mut console, _) = operator(&server).await;
    let (_, call) = ring(&pbx, &mut console, "2000", "Jim Poe", "5550122").await;
    console
        .send(&ClientFrame::AnswerCall { call: call.id })
        .await;
    let (code, message) = console.refusal().await;
    assert_eq!(code, ErrorCode::Telephony);
    assert!(
        message.contains("no telephone is set for operator operator"),
        "{message}"
    );
}

#[tokio::test]
async fn a_restart_of_switchboard_loses_no_call_and_asterisk_going_away_is_shown() {
    let mut pbx = Asterisk::start().await;
    let server = TestServer::start_with(configure(&pbx, Some("Local/200@operators"))).await;
    let (mut console, directory) = operator(&server).await;
    // A call transferred to Alice: it left Switchboard, caller and Alice still talk.
    let (_, transferred) = ring(&pbx, &mut console, "2000", "Ann Other", "5550133").await;
    console
        .send(&ClientFrame::AnswerCall {
            call: transferred.id,
        })
        .await;
    call_in(&mut console, CallState::Active).await;
    console
        .send(&ClientFrame::TransferCall {
            call: transferred.id,
            target: entry(&directory, "Alice Archer"),
            blind: false,
        })
        .await;
    call_in(&mut console, CallState::Transferring).await;
    let their_bridge = format!("sb-call-{}-", transferred.id);
    for _ in 0..50 {
        if bridged(&pbx, &their_bridge).await.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    console
        .send(&ClientFrame::ClearCall {
            call: transferred.id,
        })
        .await;
    call_in(&mut console, CallState::Cleared).await;
    let (_, talking) = ring(&pbx, &mut console, "2000", "Jane Doe", "5550100").await;
    let (_, waiting) = ring(&pbx, &mut console, "2000", "John Roe", "5550111").await;
    console
        .send(&ClientFrame::AnswerCall { call: talking.id })
        .await;
    call_in(&mut console, CallState::Active).await;
    drop(console);

    // Switchboard restarts: both calls are found again in Asterisk as they were, and the
    // transferred caller is left talking to Alice.
    let server = server
        .restart_with(configure(&pbx, Some("Local/200@operators")))
        .await;
    let (mut console, _) = operator(&server).await;
    assert_eq!(bridged(&pbx, &their_bridge).await.len(), 2);
    let (calls, _) = match server.state.calls.snapshot().await {
        ServerFrame::CallsSnapshot { calls, now_ms } => (calls, now_ms),
        _ => unreachable!(),
    };
    let states: Vec<(i64, CallState)> = calls.iter().map(|call| (call.id, call.state)).collect();
    assert_eq!(
        states,
        [
            (talking.id, CallState::Active),
            (waiting.id, CallState::Queued)
        ]
    );
    console
        .send(&ClientFrame::HoldCall { call: talking.id })
        .await;
    call_in(&mut console, CallState::Held).await;

    // Asterisk goes away: the console is told, and the calls it took with it leave.
    pbx.kill();
    console
        .recv_until(|frame| {
            matches!(frame, ServerFrame::Telephony { available: false }).then_some(())
        })
        .await;
    pbx.run().await;
    console
        .recv_until(|frame| {
            matches!(frame, ServerFrame::Telephony { available: true }).then_some(())
        })
        .await;
    assert!(
        server.state.calls.list().await.is_empty(),
        "the calls ended with Asterisk"
    );
    // And it works again.
    ring(&pbx, &mut console, "2000", "Jane Doe", "5550100").await;
}

#[tokio::test]
async fn the_demos_simulated_calls_stay_out_of_a_real_telephone_system() {
    let pbx = Asterisk::start().await;
    let configure = configure(&pbx, Some("Local/200@operators"));
    let server = TestServer::start_with(|config| {
        configure(config);
        // A call every 0.5 to 1.5 s, were the simulator running.
        config.simulator_calls_per_minute = 60;
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        server.state.calls.list().await.is_empty(),
        "only Asterisk queues calls"
    );
}

#[tokio::test]
async fn a_transfer_nobody_answers_comes_back_and_missed_callers_are_called_back() {
    let pbx = Asterisk::start().await;
    let server = TestServer::start_with(configure(&pbx, Some("Local/200@operators"))).await;
    let (mut console, directory) = operator(&server).await;
    let bob = entry(&directory, "Bob Baker");

    // Bob's telephone rings out: the call comes back on hold, naming him.
    let (_, call) = ring(&pbx, &mut console, "2000", "Jane Doe", "5550100").await;
    console
        .send(&ClientFrame::AnswerCall { call: call.id })
        .await;
    call_in(&mut console, CallState::Active).await;
    console
        .send(&ClientFrame::TransferCall {
            call: call.id,
            target: bob,
            blind: false,
        })
        .await;
    call_in(&mut console, CallState::Transferring).await;
    // Pings keep the console's reads going while Bob's telephone rings (5 s).
    let mut back = None;
    for _ in 0..30 {
        console.send(&ClientFrame::Ping).await;
        back = console
            .recv_until(|frame| match frame {
                ServerFrame::Call(call) if call.state == CallState::Held => Some(Some(call)),
                ServerFrame::Pong => Some(None),
                _ => None,
            })
            .await;
        if back.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let back = back.expect("recalled once the ring timeout passed");
    assert_eq!((back.id, back.unanswered_by), (call.id, Some(bob)));
    assert_eq!(bridged(&pbx, "switchboard-holding").await.len(), 1);
    // Retrieved, the operator talks to the caller again.
    console
        .send(&ClientFrame::AnswerCall { call: call.id })
        .await;
    let retrieved = call_in(&mut console, CallState::Active).await;
    assert_eq!(retrieved.unanswered_by, None);
    assert_eq!(
        bridged(&pbx, &format!("sb-call-{}-", call.id)).await.len(),
        2
    );

    // Night service sets the dialplan's variable.
    let variable = switchboard_server::calls::asterisk::NIGHT_VARIABLE;
    for closed in [true, false] {
        console.send(&ClientFrame::SetNightService { closed }).await;
        console
            .recv_until(|frame| match frame {
                ServerFrame::NightService(night) if night.closed == closed => Some(()),
                _ => None,
            })
            .await;
        let expected = if closed { "1" } else { "0" };
        assert_eq!(pbx.global(variable).await, expected);
    }

    // A caller who hung up while queued is called back: the operator's telephone, then them.
    let (gone, missed) = ring(&pbx, &mut console, "2000", "Early Leaver", "5550199").await;
    pbx.hang_up(&gone).await;
    call_in(&mut console, CallState::Cleared).await;
    console
        .send(&ClientFrame::CallBack { call: missed.id })
        .await;
    console
        .recv_until(|frame| match frame {
            ServerFrame::MissedCalls { missed: calls, .. }
                if calls
                    .iter()
                    .any(|m| m.call == missed.id && m.called_back.is_some()) =>
            {
                Some(())
            }
            _ => None,
        })
        .await;
    let mut dialled = false;
    for _ in 0..50 {
        dialled = pbx.channels().await.into_iter().any(|channel| {
            channel["dialplan"]["exten"] == "5550199"
                && channel["name"]
                    .as_str()
                    .unwrap_or_default()
                    .starts_with("Local/200@operators")
        });
        if dialled {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        dialled,
        "the operator's telephone rang through to the caller"
    );
}
