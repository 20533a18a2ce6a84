//! The session negotiation message (`switch_core::session::Negotiation::decode`): never panics.
//! A decoded message passes `validate`, encodes to the input's version-1 fields (magic, version,
//! the two defined flag bits, the four numbers) and decodes back to itself. Independently of
//! the decoder, the input's version-1 fields taken as they are encode to a message that decodes
//! exactly when `validate` accepts them.

use switch_core::session::{MAX_NEGOTIATION_SIZE, NEGOTIATION_HEADER_SIZE, Negotiation};

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The target's body: one input, any bytes.
pub fn run(data: &[u8]) {
    let decoded = Negotiation::decode(data);
    match decoded {
        Ok(m) => {
            assert!(
                (NEGOTIATION_HEADER_SIZE..=MAX_NEGOTIATION_SIZE).contains(&data.len()),
                "accepted {} bytes",
                data.len()
            );
            let length = usize::from(u16_at(data, 6));
            assert!(
                (NEGOTIATION_HEADER_SIZE..=data.len()).contains(&length),
                "accepted a length field of {length} for {} bytes",
                data.len()
            );
            m.validate()
                .unwrap_or_else(|e| panic!("decoded message does not validate: {e}"));
            let bytes = m.encode();
            assert_eq!(&bytes[..6], &data[..6], "magic or version changed");
            assert_eq!(
                u16_at(&bytes, 8),
                u16_at(data, 8) & 0b11,
                "defined flags changed"
            );
            assert_eq!(&bytes[12..28], &data[12..28], "numbers changed");
            assert_eq!(
                Negotiation::decode(&bytes),
                Ok(m),
                "negotiation round trip changed the message"
            );
        }
        Err(e) => {
            // Every error displays.
            let _ = e.to_string();
            if data.len() > MAX_NEGOTIATION_SIZE || data.len() < NEGOTIATION_HEADER_SIZE {
                return;
            }
        }
    }
    if data.len() < NEGOTIATION_HEADER_SIZE {
        return;
    }
    // The numbers as they are, whatever the header says: encode accepts any value, and the
    // encoding decodes exactly when the fields are in range.
    let flags = u16_at(data, 8);
    let raw = Negotiation {
        reply: flags & 1 != 0,
        rdma_read: flags & 2 != 0,
        credits: u32_at(data, 12),
        buffer_size: u32_at(data, 16),
        rdma_threshold: u32_at(data, 20),
        max_rdma_size: u32_at(data, 24),
    };
    let again = Negotiation::decode(&raw.encode());
    match raw.validate() {
        Ok(()) => assert_eq!(again, Ok(raw), "a valid message does not round-trip"),
        Err(e) => assert_eq!(again, Err(e), "decode and validate disagree"),
    }
}
