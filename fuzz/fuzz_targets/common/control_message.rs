//! The session's control messages (`switch_core::session::wire::Message::decode`, SESS-1, 2, 4,
//! 6): never panics. A decoded message is exactly as long as the input (`encoded_len`),
//! encodes back to the input's bytes but for the fields the decoder ignores (the reserved
//! byte 1 and bytes 12..16, and the `transferred` of an `rdma_done` or `write_done` error),
//! decodes back to itself, does not fit a buffer one byte short, and its prefixes of 0, 15, 16
//! and length - 1 bytes are `Truncated`. An error is the one the header calls for: `Truncated`
//! below the header or the header's length, `TrailingBytes` above it, `UnknownKind` exactly
//! for a kind byte outside 1..=9; every error displays.

use switch_core::session::wire::{HEADER_SIZE, Message, WireError};

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The target's body: one input, any bytes.
pub fn run(data: &[u8]) {
    let decoded = Message::decode(data);
    // The length the header gives, when there is a header.
    let length = (data.len() >= HEADER_SIZE)
        .then(|| HEADER_SIZE as u64 + u64::from(u16_at(data, 2)) + u64::from(u32_at(data, 8)));
    let known_kind = data.first().is_some_and(|k| (1..=9).contains(k));
    match decoded {
        Ok(m) => {
            assert!(known_kind, "accepted kind {:?}", data.first());
            assert_eq!(length, Some(data.len() as u64), "accepted a wrong length");
            assert_eq!(m.encoded_len(), data.len(), "encoded_len");
            let mut out = vec![0xa5; data.len() + 1];
            let n = m
                .encode(&mut out)
                .unwrap_or_else(|e| panic!("decoded message does not encode: {e}"));
            assert_eq!(n, data.len());
            assert_eq!(out[n], 0xa5, "wrote past the message");
            let mut expected = data.to_vec();
            expected[1] = 0;
            expected[12..16].fill(0);
            if (expected[0] == 6 || expected[0] == 9) && expected[16..20] != [0; 4] {
                expected[20..28].fill(0);
            }
            assert_eq!(&out[..n], &expected[..], "re-encoding changed the bytes");
            assert_eq!(
                Message::decode(&out[..n]),
                Ok(m),
                "round trip changed the message"
            );
            assert_eq!(
                m.encode(&mut out[..n - 1]),
                Err(WireError::BufferTooSmall {
                    needed: n,
                    available: n - 1
                }),
            );
            for cut in [0, HEADER_SIZE - 1, HEADER_SIZE, n - 1] {
                if cut < n {
                    assert!(
                        matches!(
                            Message::decode(&data[..cut]),
                            Err(WireError::Truncated { .. })
                        ),
                        "a prefix of {cut} bytes is not Truncated"
                    );
                }
            }
        }
        Err(e) => {
            let _ = e.to_string();
            match e {
                WireError::Truncated { needed, available } => {
                    assert_eq!(available, data.len());
                    assert!(
                        needed > available,
                        "Truncated with {needed} needed of {available}"
                    );
                    if let Some(length) = length {
                        assert_eq!(needed as u64, length.min(usize::MAX as u64));
                    } else {
                        assert_eq!(needed, HEADER_SIZE);
                    }
                }
                WireError::TrailingBytes {
                    length: l,
                    received,
                } => {
                    assert_eq!(received, data.len());
                    assert_eq!(Some(l as u64), length);
                    assert!(l < received);
                }
                WireError::UnknownKind(k) => {
                    assert!(!known_kind, "refused known kind {k}");
                    assert_eq!(data.first(), Some(&k));
                }
                WireError::BadExtraLength { extra_len, .. } => {
                    assert!(known_kind);
                    assert_eq!(extra_len, usize::from(u16_at(data, 2)));
                }
                WireError::Invalid { .. } => {
                    assert!(known_kind);
                    assert_eq!(
                        length,
                        Some(data.len() as u64),
                        "Invalid before the length check"
                    );
                }
                WireError::BufferTooSmall { .. } => panic!("decode answered BufferTooSmall"),
            }
        }
    }
}
