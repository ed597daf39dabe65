//! Property tests: every frame survives encode -> decode unchanged, whatever its text, and
//! arbitrary text never panics the decoder.

use proptest::prelude::*;
use switchboard_protocol::{
    ChatMessage, ClientFrame, DirectoryEntry, Marker, MarkerUpdate, PresenceState, PresenceUpdate,
    ServerFrame,
};

fn presence() -> impl Strategy<Value = PresenceState> {
    prop_oneof![
        Just(PresenceState::Available),
        Just(PresenceState::Busy),
        Just(PresenceState::Away),
        Just(PresenceState::Dnd),
        Just(PresenceState::Offline),
    ]
}

fn client_frame() -> impl Strategy<Value = ClientFrame> {
    prop_oneof![
        any::<u32>().prop_map(|version| ClientFrame::Hello { version }),
        presence().prop_map(|state| ClientFrame::SetPresence { state }),
        any::<i64>().prop_map(|call| ClientFrame::AnswerCall { call }),
        (any::<i64>(), any::<i64>(), any::<bool>()).prop_map(|(call, target, blind)| {
            ClientFrame::TransferCall {
                call,
                target,
                blind,
            }
        }),
        (any::<String>(), any::<i64>(), any::<String>()).prop_map(|(client_msg_id, to, body)| {
            ClientFrame::ChatSend {
                client_msg_id,
                to,
                body,
            }
        }),
        (any::<i64>(), any::<Option<i64>>(), any::<u32>()).prop_map(|(with, before_seq, limit)| {
            ClientFrame::History {
                with,
                before_seq,
                limit,
            }
        }),
        any::<String>().prop_map(|query| ClientFrame::SearchUsers { query }),
        (any::<i64>(), any::<i64>()).prop_map(|(with, seq)| ClientFrame::ChatRead { with, seq }),
        any::<i64>().prop_map(|to| ClientFrame::Typing { to }),
    ]
}

fn server_frame() -> impl Strategy<Value = ServerFrame> {
    let message = (any::<[i64; 6]>(), any::<String>(), any::<String>()).prop_map(
        |([id, conversation, seq, from, to, sent_at_ms], body, client_msg_id)| ChatMessage {
            id,
            conversation,
            seq,
            from,
            to,
            body,
            sent_at_ms,
            client_msg_id,
        },
    );
    let entry = (
        any::<i64>(),
        any::<[String; 4]>(),
        any::<Vec<String>>(),
        any::<Option<i64>>(),
    )
        .prop_map(
            |(id, [name, department, title, location], numbers, user)| DirectoryEntry {
                id,
                name,
                numbers,
                department,
                title,
                location,
                user,
                email: String::new(),
                xmpp: String::new(),
            },
        );
    prop_oneof![
        (any::<i64>(), presence())
            .prop_map(|(user, state)| ServerFrame::Presence(PresenceUpdate { user, state })),
        (proptest::collection::vec(entry, 0..4), any::<bool>())
            .prop_map(|(entries, more)| ServerFrame::DirectorySnapshot { entries, more }),
        message.prop_map(ServerFrame::ChatMessage),
        (any::<[i64; 5]>(), any::<u32>()).prop_map(
            |([conversation, user, read_seq, delivered_seq, as_of_seq], unread)| {
                ServerFrame::Marker(MarkerUpdate {
                    conversation,
                    user,
                    marker: Marker {
                        read_seq,
                        delivered_seq,
                    },
                    unread,
                    as_of_seq,
                })
            }
        ),
        (any::<String>(), any::<[i64; 4]>()).prop_map(
            |(client_msg_id, [id, conversation, seq, sent_at_ms])| ServerFrame::ChatAck {
                client_msg_id,
                id,
                conversation,
                seq,
                sent_at_ms,
            }
        ),
    ]
}

proptest! {
    #[test]
    fn client_frames_round_trip(frame in client_frame()) {
        prop_assert_eq!(ClientFrame::decode(&frame.encode()).unwrap(), frame);
    }

    #[test]
    fn server_frames_round_trip(frame in server_frame()) {
        prop_assert_eq!(ServerFrame::decode(&frame.encode()).unwrap(), frame);
    }

    #[test]
    fn arbitrary_text_is_refused_or_decoded_never_a_panic(text in ".{0,200}") {
        let _ = ClientFrame::decode(&text);
    }

    #[test]
    fn json_objects_with_a_known_type_and_junk_fields_are_refused(
        kind in prop_oneof![Just("hello"), Just("chat_send"), Just("set_presence")],
        junk in "[a-z]{1,8}",
    ) {
        let text = format!(r#"{{"type":"{kind}","{junk}x":1}}"#);
        prop_assert!(ClientFrame::decode(&text).is_err());
    }
}
