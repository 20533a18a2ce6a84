//! `WSANETWORKEVENTS` decoding (`WsaNetworkEvents::decode`): never panics; accepts any 44 or
//! more bytes; the record encodes back to the input's first 44 bytes; `error_for` agrees with
//! the fields for every single event and answers `None` for a value that is not one event.

use spi_types::flags::FD_MAX_EVENTS;
use spi_types::{NetworkEvents, WsaNetworkEvents};

/// The target's body: one input, any bytes.
pub fn run(data: &[u8]) {
    let Ok(ev) = WsaNetworkEvents::decode(data) else {
        assert!(
            data.len() < WsaNetworkEvents::SIZE,
            "a long enough buffer was rejected"
        );
        return;
    };
    let bytes = ev.encode();
    assert_eq!(
        &bytes[..],
        &data[..WsaNetworkEvents::SIZE],
        "encoding differs from the input"
    );
    assert_eq!(WsaNetworkEvents::decode(&bytes).ok(), Some(ev));
    for i in 0..FD_MAX_EVENTS {
        let event = NetworkEvents::from_bit_index(i).expect("a known event index");
        let code = ev.error_codes[i];
        let expected = ev.events.contains(event) && code != 0;
        assert_eq!(
            ev.error_for(event).map(|e| e.code()),
            expected.then_some(code)
        );
    }
    // The event bits themselves, taken as one value: `None` unless exactly one known event.
    if ev.events.bit_index().is_none() {
        assert_eq!(ev.error_for(ev.events), None);
    }
}
