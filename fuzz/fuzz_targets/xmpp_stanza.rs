//! Any stanza the XMPP server routes to the component: whatever parses as XML is classified
//! without a panic, and an error reply never answers an error (no error loops between
//! servers) and is addressed to the stanza's sender.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_server::federation::stanza::{Incoming, classify};
use tokio_xmpp::minidom::Element;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(element) = text.parse::<Element>() else {
        return;
    };
    let was_error = element.attr("type") == Some("error");
    let sender = element.attr("from").map(str::to_owned);
    if let Incoming::Reply(reply) = classify(element, "switchboard.example.com")
        && reply.attr("type") == Some("error")
    {
        assert!(!was_error, "an error was answered with an error");
        assert!(sender.is_some(), "an error went to nobody");
    }
});
