//! Any bytes a client sends: the decoder refuses or decodes, never panics, and whatever it
//! accepts encodes back to a frame that decodes to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_protocol::ClientFrame;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(frame) = ClientFrame::decode(text) {
        let again = ClientFrame::decode(&frame.encode()).expect("an encoded frame decodes");
        assert_eq!(again, frame);
    }
});
