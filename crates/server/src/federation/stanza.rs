//! What a stanza from the XMPP server means for Switchboard ([`classify`]), and the stanzas
//! Switchboard sends. Pure functions of their inputs: the bridge and the fuzzer drive them.
//!
//! Supported: messages (RFC 6121), delivery receipts (XEP-0184), chat markers (XEP-0333,
//! `displayed`), chat states (XEP-0085, `composing`), stable ids (XEP-0359 `origin-id`),
//! presence and subscriptions (RFC 6121), ping (XEP-0199).

use std::str::FromStr;

use switchboard_protocol::PresenceState;
use tokio_xmpp::{
    jid::{BareJid, Jid},
    minidom::Element,
    parsers::{
        chatstates::ChatState,
        iq::Iq,
        message::{Id, Lang, Message, MessageType},
        ns,
        ping::Ping,
        presence::{Presence, Show, Type as PresenceType},
        receipts::{Received, Request},
        stanza_error::{DefinedCondition, ErrorType, StanzaError},
        stanza_id::OriginId,
    },
};

/// XEP-0333 chat markers, which the XMPP parsers crate does not model.
pub const CHAT_MARKERS: &str = "urn:xmpp:chat-markers:0";

/// What an incoming stanza asks of Switchboard. `to` is always the user name of a Switchboard
/// user (the local part of an address on the component's domain), `from` the XMPP user.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A chat message. `id` is its stanza id, which receipts and markers name; `stable_id`
    /// what tells a copy sent again (origin-id, else the stanza id); `receipt` whether the
    /// sender asked for a delivery receipt.
    Chat {
        from: Jid,
        to: String,
        id: Option<String>,
        stable_id: Option<String>,
        body: String,
        receipt: bool,
    },
    /// The XMPP user's client received Switchboard's message `id`.
    Received {
        from: BareJid,
        to: String,
        id: String,
    },
    /// The XMPP user displayed Switchboard's messages up to `id`.
    Displayed {
        from: BareJid,
        to: String,
        id: String,
    },
    /// The XMPP user is typing.
    Composing { from: BareJid, to: String },
    /// The presence of one of the XMPP user's resources.
    Presence { from: Jid, shown: PresenceState },
    /// The XMPP user asks to see `to`'s presence from now on (`subscribe`), or now (`probe`).
    Subscribe { from: Jid, to: String },
    /// The XMPP user approved (or had approved) Switchboard's request to see their presence.
    Subscribed { from: BareJid },
    /// The XMPP user no longer wants `to`'s presence.
    Unsubscribe { from: BareJid, to: String },
    /// An answer to Switchboard's own ping `id`.
    Pong { id: String },
    /// A stanza Switchboard sent came back as an error.
    Bounced {
        from: Option<Jid>,
        id: Option<String>,
        reason: String,
    },
    /// An answer the bridge sends at once (a ping's result, an error for what is not
    /// supported or not understood).
    Reply(Box<Element>),
    /// Nothing to do; why, for the log.
    Ignored(String),
}

/// Classifies a stanza the XMPP server routed to the component's `domain`. Never fails:
/// what cannot be understood is an error reply (when it can be addressed) or ignored.
pub fn classify(element: Element, domain: &str) -> Incoming {
    let name = element.name().to_owned();
    let ns = element.ns();
    if ns != ns::COMPONENT && ns != ns::DEFAULT_NS {
        return Incoming::Ignored(format!("element {name} in namespace {ns}"));
    }
    let original = element.clone();
    match name.as_str() {
        "message" => match Message::try_from(element) {
            Ok(message) => message_meaning(message, domain),
            Err(err) => malformed(&original, &format!("malformed message: {err}")),
        },
        "presence" => match Presence::try_from(element) {
            Ok(presence) => presence_meaning(presence, domain),
            Err(err) => malformed(&original, &format!("malformed presence: {err}")),
        },
        "iq" => match Iq::try_from(element) {
            Ok(iq) => iq_meaning(iq, domain),
            Err(err) => malformed(&original, &format!("malformed iq: {err}")),
        },
        other => Incoming::Ignored(format!("unknown stanza {other}")),
    }
}

/// The user name a stanza is addressed to, when it is `name@domain`.
fn addressee(to: Option<&Jid>, domain: &str) -> Option<String> {
    let to = to?;
    (to.domain().as_str() == domain)
        .then(|| to.node().map(|node| node.as_str().to_owned()))
        .flatten()
}

fn message_meaning(message: Message, domain: &str) -> Incoming {
    let Some(from) = message.from.clone() else {
        return Incoming::Ignored("message without a sender".into());
    };
    if message.type_ == MessageType::Error {
        return Incoming::Bounced {
            from: Some(from),
            id: message.id.map(|id| id.0),
            reason: error_text(&message.payloads),
        };
    }
    let Some(to) = addressee(message.to.as_ref(), domain) else {
        return error_reply(
            &Element::from(message),
            DefinedCondition::ItemNotFound,
            ErrorType::Cancel,
            "There is no Switchboard user at this address.",
        )
        .unwrap_or_else(|| Incoming::Ignored("message to no user".into()));
    };
    let bare = from.to_bare();
    if let Some(body) = message
        .bodies
        .get("")
        .or_else(|| message.bodies.values().next())
    {
        let id = message.id.as_ref().map(|id| id.0.clone());
        let stable_id = message
            .payloads
            .iter()
            .find_map(|payload| OriginId::try_from(payload.clone()).ok())
            .map(|origin| origin.id)
            .or_else(|| id.clone());
        let receipt = message
            .payloads
            .iter()
            .any(|payload| payload.is("request", ns::RECEIPTS));
        return Incoming::Chat {
            from,
            to,
            id,
            stable_id,
            body: body.clone(),
            receipt,
        };
    }
    for payload in &message.payloads {
        if let Ok(received) = Received::try_from(payload.clone()) {
            return Incoming::Received {
                from: bare,
                to,
                id: received.id,
            };
        }
        if payload.is("displayed", CHAT_MARKERS)
            && let Some(id) = payload.attr("id")
        {
            return Incoming::Displayed {
                from: bare,
                to,
                id: id.to_owned(),
            };
        }
        if payload.is("composing", ns::CHATSTATES) {
            return Incoming::Composing { from: bare, to };
        }
    }
    Incoming::Ignored("message without a body, receipt, marker or typing".into())
}

fn presence_meaning(presence: Presence, domain: &str) -> Incoming {
    let Some(from) = presence.from.clone() else {
        return Incoming::Ignored("presence without a sender".into());
    };
    let to = addressee(presence.to.as_ref(), domain);
    match (presence.type_, to) {
        (PresenceType::None, _) => Incoming::Presence {
            from,
            shown: shown_of(presence.show),
        },
        (PresenceType::Unavailable, _) => Incoming::Presence {
            from,
            shown: PresenceState::Offline,
        },
        (PresenceType::Subscribe | PresenceType::Probe, Some(to)) => {
            Incoming::Subscribe { from, to }
        }
        (PresenceType::Subscribed, _) => Incoming::Subscribed {
            from: from.to_bare(),
        },
        (PresenceType::Unsubscribe, Some(to)) => Incoming::Unsubscribe {
            from: from.to_bare(),
            to,
        },
        (PresenceType::Error, _) => Incoming::Bounced {
            from: Some(from),
            id: presence.id,
            reason: error_text(&presence.payloads),
        },
        (other, _) => Incoming::Ignored(format!("presence of type {other:?}")),
    }
}

/// Switchboard's state for an XMPP `show`: away and extended away are both away.
pub fn shown_of(show: Option<Show>) -> PresenceState {
    match show {
        None | Some(Show::Chat) => PresenceState::Available,
        Some(Show::Away | Show::Xa) => PresenceState::Away,
        Some(Show::Dnd) => PresenceState::Dnd,
    }
}

fn iq_meaning(iq: Iq, domain: &str) -> Incoming {
    match iq {
        Iq::Result { id, .. } => Incoming::Pong { id },
        Iq::Error {
            id, from, error, ..
        } => Incoming::Bounced {
            from,
            id: Some(id),
            reason: format!("{:?}", error.defined_condition),
        },
        // An answer with nobody to send it to would go to the component itself.
        Iq::Get { from: None, .. } | Iq::Set { from: None, .. } => {
            Incoming::Ignored("a request without a sender".into())
        }
        Iq::Get {
            from: Some(from),
            to,
            id,
            payload,
        } if payload.is("ping", ns::PING) => Incoming::Reply(Box::new(
            Iq::Result {
                from: Some(to.unwrap_or_else(|| component_jid(domain))),
                to: Some(from),
                id,
                payload: None,
            }
            .into(),
        )),
        Iq::Get {
            from: Some(from),
            to,
            id,
            ..
        }
        | Iq::Set {
            from: Some(from),
            to,
            id,
            ..
        } => Incoming::Reply(Box::new(
            Iq::from_error(
                id,
                stanza_error(
                    DefinedCondition::ServiceUnavailable,
                    ErrorType::Cancel,
                    "Switchboard answers pings only.",
                ),
            )
            .with_from(to.unwrap_or_else(|| component_jid(domain)))
            .with_to(from)
            .into(),
        )),
    }
}

fn error_text(payloads: &[Element]) -> String {
    payloads
        .iter()
        .find_map(|payload| StanzaError::try_from(payload.clone()).ok())
        .map_or_else(
            || "no reason given".to_owned(),
            |error| {
                let text = error.texts.values().next().cloned().unwrap_or_default();
                format!("{:?} {text}", error.defined_condition)
                    .trim()
                    .to_owned()
            },
        )
}

fn stanza_error(condition: DefinedCondition, kind: ErrorType, text: &str) -> StanzaError {
    StanzaError::new(kind, condition, "en", text)
}

/// A stanza that could not be understood: an error back to its sender when it names one
/// (and is not itself an error, which must never be answered), otherwise ignored.
fn malformed(element: &Element, reason: &str) -> Incoming {
    error_reply(
        element,
        DefinedCondition::BadRequest,
        ErrorType::Modify,
        "Switchboard could not understand this stanza.",
    )
    .unwrap_or_else(|| Incoming::Ignored(reason.to_owned()))
}

/// The error answer to `element` (same name, `type='error'`, from and to swapped, same id),
/// or `None` when it has no usable sender or is an error already.
fn error_reply(
    element: &Element,
    condition: DefinedCondition,
    kind: ErrorType,
    text: &str,
) -> Option<Incoming> {
    if element.attr("type") == Some("error") {
        return None;
    }
    let from = Jid::from_str(element.attr("from")?).ok()?;
    let to = element.attr("to").and_then(|to| Jid::from_str(to).ok());
    Some(Incoming::Reply(Box::new(error_stanza(
        element.name(),
        to,
        from,
        element.attr("id"),
        stanza_error(condition, kind, text),
    ))))
}

/// An error stanza named `name` (message, presence, iq).
fn error_stanza(
    name: &str,
    from: Option<Jid>,
    to: Jid,
    id: Option<&str>,
    error: StanzaError,
) -> Element {
    let mut reply = Element::builder(name, ns::COMPONENT)
        .attr(minidom_name("type"), "error")
        .attr(minidom_name("to"), to.to_string());
    if let Some(from) = from {
        reply = reply.attr(minidom_name("from"), from.to_string());
    }
    if let Some(id) = id {
        reply = reply.attr(minidom_name("id"), id);
    }
    reply.append(Element::from(error)).build()
}

fn minidom_name(name: &'static str) -> tokio_xmpp::minidom::rxml::NcName {
    tokio_xmpp::minidom::rxml::NcName::try_from(name).expect("a valid XML name")
}

/// The error Switchboard's address `from` sends back to the XMPP user `to` for a message
/// it refused (`id`: the message's).
pub fn refusal(from: Jid, to: Jid, id: Option<&str>, why: Refusal, text: &str) -> Element {
    let (condition, kind) = match why {
        Refusal::NotInDirectory => (DefinedCondition::Forbidden, ErrorType::Auth),
        Refusal::NoSuchUser => (DefinedCondition::ItemNotFound, ErrorType::Cancel),
        Refusal::Unavailable => (DefinedCondition::RecipientUnavailable, ErrorType::Wait),
        Refusal::NotAcceptable => (DefinedCondition::NotAcceptable, ErrorType::Modify),
        Refusal::TooFast => (DefinedCondition::ResourceConstraint, ErrorType::Wait),
        Refusal::Internal => (DefinedCondition::InternalServerError, ErrorType::Wait),
    };
    error_stanza(
        "message",
        Some(from),
        to,
        id,
        stanza_error(condition, kind, text),
    )
}

/// Kinds of refusal of an incoming message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The sender is not a federated contact (not in the directory).
    NotInDirectory,
    /// No Switchboard user has that name.
    NoSuchUser,
    /// The user is offline and the chat mode does not keep messages for them.
    Unavailable,
    /// Empty or too long.
    NotAcceptable,
    /// Past the sender's allowance.
    TooFast,
    /// Could not be stored now; the sender may try again.
    Internal,
}

/// The JID of the component itself.
pub fn component_jid(domain: &str) -> Jid {
    Jid::from_str(domain).unwrap_or_else(|_| Jid::from(BareJid::from_str("invalid").unwrap()))
}

/// The JID of Switchboard user `username` on the component's `domain`.
pub fn user_jid(username: &str, domain: &str) -> Option<Jid> {
    Jid::from_str(&format!("{username}@{domain}")).ok()
}

/// A chat message from a Switchboard user: its id (the message's UUID) is also its origin-id,
/// so the XMPP user's client drops a copy sent again after a lost link; it asks for a
/// receipt and is markable.
pub fn chat(from: Jid, to: Jid, id: &str, body: &str) -> Message {
    let mut message = Message::new_with_type(MessageType::Chat, Some(to))
        .with_body(Lang::default(), body.to_owned())
        .with_payload(Request)
        .with_payload(OriginId { id: id.to_owned() })
        .with_payload(ChatState::Active);
    message
        .payloads
        .push(Element::bare("markable", CHAT_MARKERS));
    message.from = Some(from);
    message.id = Some(Id(id.to_owned()));
    message
}

/// The receipt for message `id` (XEP-0184).
pub fn received(from: Jid, to: Jid, id: &str) -> Message {
    let mut message = Message::new(Some(to)).with_payload(Received { id: id.to_owned() });
    message.from = Some(from);
    message
}

/// Messages up to `id` were displayed (XEP-0333).
pub fn displayed(from: Jid, to: Jid, id: &str) -> Message {
    let mut message = Message::new_with_type(MessageType::Chat, Some(to));
    message.payloads.push(
        Element::builder("displayed", CHAT_MARKERS)
            .attr(minidom_name("id"), id)
            .build(),
    );
    message.from = Some(from);
    message
}

/// The Switchboard user is typing (XEP-0085).
pub fn composing(from: Jid, to: Jid) -> Message {
    let mut message =
        Message::new_with_type(MessageType::Chat, Some(to)).with_payload(ChatState::Composing);
    message.from = Some(from);
    message
}

/// A Switchboard user's presence, for an XMPP user who subscribed to it.
pub fn presence(from: Jid, to: Jid, shown: PresenceState) -> Presence {
    let presence = match shown {
        PresenceState::Offline => Presence::new(PresenceType::Unavailable),
        PresenceState::Available => Presence::new(PresenceType::None),
        PresenceState::Busy | PresenceState::Dnd => {
            Presence::new(PresenceType::None).with_show(Show::Dnd)
        }
        PresenceState::Away => Presence::new(PresenceType::None).with_show(Show::Away),
    };
    presence.with_from(from).with_to(to)
}

/// A presence stanza of `kind` (subscribe, subscribed, probe) with no more to it.
pub fn presence_of_kind(kind: PresenceType, from: Jid, to: Jid) -> Presence {
    Presence::new(kind).with_from(from).with_to(to)
}

/// A ping, from the component to itself: its answer comes back through the XMPP server
/// after everything sent before it, so it confirms they were taken.
pub fn ping(domain: &str, id: &str) -> Iq {
    Iq::from_get(id, Ping)
        .with_from(component_jid(domain))
        .with_to(component_jid(domain))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOMAIN: &str = "switchboard.example.com";

    fn parse(xml: &str) -> Element {
        xml.parse().expect("test XML parses")
    }

    /// The `type` of the stanza an incoming one is answered with, if any.
    fn reply_type(incoming: Incoming) -> Option<String> {
        match incoming {
            Incoming::Reply(reply) => reply.attr("type").map(str::to_owned),
            _ => None,
        }
    }

    fn jid(text: &str) -> Jid {
        Jid::from_str(text).unwrap()
    }

    #[test]
    fn a_chat_message_names_its_stable_id_and_whether_it_wants_a_receipt() {
        let incoming = classify(
            parse(
                "<message xmlns='jabber:component:accept' type='chat' id='s1' \
                 from='erin@example.com/phone' to='operator@switchboard.example.com'>\
                 <body>Hello &lt;b&gt;</body><request xmlns='urn:xmpp:receipts'/>\
                 <origin-id xmlns='urn:xmpp:sid:0' id='o1'/></message>",
            ),
            DOMAIN,
        );
        assert_eq!(
            incoming,
            Incoming::Chat {
                from: jid("erin@example.com/phone"),
                to: "operator".into(),
                id: Some("s1".into()),
                stable_id: Some("o1".into()),
                body: "Hello <b>".into(),
                receipt: true,
            }
        );
    }

    #[test]
    fn receipts_markers_and_typing_are_told_apart() {
        let wrap = |payload: &str| {
            parse(&format!(
                "<message xmlns='jabber:component:accept' from='erin@example.com/x' \
                 to='alice@switchboard.example.com'>{payload}</message>"
            ))
        };
        let erin = BareJid::from_str("erin@example.com").unwrap();
        assert_eq!(
            classify(
                wrap("<received xmlns='urn:xmpp:receipts' id='m1'/>"),
                DOMAIN
            ),
            Incoming::Received {
                from: erin.clone(),
                to: "alice".into(),
                id: "m1".into()
            }
        );
        assert_eq!(
            classify(
                wrap("<displayed xmlns='urn:xmpp:chat-markers:0' id='m2'/>"),
                DOMAIN
            ),
            Incoming::Displayed {
                from: erin.clone(),
                to: "alice".into(),
                id: "m2".into()
            }
        );
        assert_eq!(
            classify(
                wrap("<composing xmlns='http://jabber.org/protocol/chatstates'/>"),
                DOMAIN
            ),
            Incoming::Composing {
                from: erin,
                to: "alice".into()
            }
        );
    }

    #[test]
    fn presence_maps_to_switchboard_states() {
        let presence = |inner: &str, kind: &str| {
            classify(
                parse(&format!(
                    "<presence xmlns='jabber:component:accept' {kind} from='erin@example.com/x' \
                     to='switchboard.example.com'>{inner}</presence>"
                )),
                DOMAIN,
            )
        };
        let shown = |incoming| match incoming {
            Incoming::Presence { shown, .. } => shown,
            other => panic!("not a presence: {other:?}"),
        };
        assert_eq!(shown(presence("", "")), PresenceState::Available);
        assert_eq!(
            shown(presence("<show>away</show>", "")),
            PresenceState::Away
        );
        assert_eq!(shown(presence("<show>xa</show>", "")), PresenceState::Away);
        assert_eq!(shown(presence("<show>dnd</show>", "")), PresenceState::Dnd);
        assert_eq!(
            shown(presence("", "type='unavailable'")),
            PresenceState::Offline
        );
    }

    #[test]
    fn what_cannot_be_understood_gets_an_error_back_and_an_error_never_does() {
        let bad = parse(
            "<message xmlns='jabber:component:accept' type='bogus' id='b1' \
             from='erin@example.com/x' to='alice@switchboard.example.com'><body>x</body></message>",
        );
        match classify(bad, DOMAIN) {
            Incoming::Reply(reply) => {
                assert_eq!(reply.attr("type"), Some("error"));
                assert_eq!(reply.attr("to"), Some("erin@example.com/x"));
                assert_eq!(reply.attr("id"), Some("b1"));
            }
            other => panic!("expected an error reply, got {other:?}"),
        }
        let error = parse(
            "<message xmlns='jabber:component:accept' type='error' \
             from='erin@example.com/x' to='alice@switchboard.example.com'/>",
        );
        assert!(matches!(classify(error, DOMAIN), Incoming::Bounced { .. }));
        let to_nobody = parse(
            "<message xmlns='jabber:component:accept' from='erin@example.com/x' \
             to='switchboard.example.com'><body>hi</body></message>",
        );
        assert!(matches!(classify(to_nobody, DOMAIN), Incoming::Reply(_)));
    }

    #[test]
    fn pings_are_answered_and_other_requests_refused() {
        let ping = parse(
            "<iq xmlns='jabber:component:accept' type='get' id='p1' from='example.com' \
             to='switchboard.example.com'><ping xmlns='urn:xmpp:ping'/></iq>",
        );
        assert_eq!(
            reply_type(classify(ping, DOMAIN)).as_deref(),
            Some("result")
        );
        let version = parse(
            "<iq xmlns='jabber:component:accept' type='get' id='v1' from='example.com' \
             to='switchboard.example.com'><query xmlns='jabber:iq:version'/></iq>",
        );
        assert_eq!(
            reply_type(classify(version, DOMAIN)).as_deref(),
            Some("error")
        );
        // Found by the fuzzer: a request with no sender is not answered (the answer would go
        // to the component itself).
        let anonymous = parse(
            "<iq xmlns='jabber:component:accept' type='get' id='p1' \
             to='switchboard.example.com'><query xmlns='jabber:iq:version'/></iq>",
        );
        assert!(matches!(classify(anonymous, DOMAIN), Incoming::Ignored(_)));
    }

    #[test]
    fn outgoing_chat_carries_its_id_as_origin_id_and_asks_for_a_receipt() {
        let message = chat(
            jid("operator@switchboard.example.com"),
            jid("erin@example.com"),
            "0b7e4f0e-7f39-4c1e-9a8e-2f3a1c9d5e61",
            "<i>text</i>",
        );
        let element = Element::from(message);
        assert_eq!(
            element.attr("id"),
            Some("0b7e4f0e-7f39-4c1e-9a8e-2f3a1c9d5e61")
        );
        assert!(element.get_child("request", ns::RECEIPTS).is_some());
        assert!(element.get_child("markable", CHAT_MARKERS).is_some());
        assert_eq!(
            element
                .get_child("origin-id", ns::SID)
                .and_then(|o| o.attr("id")),
            Some("0b7e4f0e-7f39-4c1e-9a8e-2f3a1c9d5e61")
        );
        assert_eq!(
            element.get_child("body", ns::COMPONENT).map(Element::text),
            Some("<i>text</i>".into())
        );
    }
}
