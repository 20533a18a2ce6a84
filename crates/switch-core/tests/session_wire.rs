//! SESS-1, SESS-2, SESS-4, SESS-6: the session's control messages. Any valid message
//! round-trips through its encoding; the decoder never panics, and whatever it accepts encodes
//! back to the same bytes; a message's length is exactly what its header says.

use proptest::prelude::*;
use spi_types::WsaError;
use switch_core::session::wire::{Body, HEADER_SIZE, MAX_DESCRIPTOR, Message, WireError};

/// A [`Body`] that owns its bytes, for the strategies.
#[derive(Debug, Clone)]
enum Owned {
    Data(Vec<u8>),
    Urgent(Vec<u8>),
    ReadOffer {
        total: u64,
        descriptor: Vec<u8>,
        inline: Vec<u8>,
    },
    WriteRequest {
        total: u64,
        inline: Vec<u8>,
    },
    WriteTarget(Result<Vec<u8>, i32>),
    RdmaDone(Result<u64, i32>),
    WriteDone(Result<u64, i32>),
    Credit,
    Disconnect,
}

impl Owned {
    fn body(&self) -> Body<'_> {
        match self {
            Owned::Data(p) => Body::Data(p),
            Owned::Urgent(p) => Body::Urgent(p),
            Owned::ReadOffer {
                total,
                descriptor,
                inline,
            } => Body::ReadOffer {
                total: *total,
                descriptor,
                inline,
            },
            Owned::WriteRequest { total, inline } => Body::WriteRequest {
                total: *total,
                inline,
            },
            Owned::WriteTarget(t) => Body::WriteTarget(match t {
                Ok(d) => Ok(d),
                Err(code) => Err(WsaError::from_code(*code)),
            }),
            Owned::RdmaDone(d) => {
                Body::RdmaDone(d.as_ref().copied().map_err(|&c| WsaError::from_code(c)))
            }
            Owned::WriteDone(d) => {
                Body::WriteDone(d.as_ref().copied().map_err(|&c| WsaError::from_code(c)))
            }
            Owned::Credit => Body::Credit,
            Owned::Disconnect => Body::Disconnect,
        }
    }
}

fn bytes(range: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), range)
}

/// Any total larger than `inline`: near the bound, small, or anywhere up to `u64::MAX`.
fn total_above(inline: Vec<u8>) -> impl Strategy<Value = (u64, Vec<u8>)> {
    let least = inline.len() as u64 + 1;
    prop_oneof![Just(least), least..=least + 100_000, least..=u64::MAX,]
        .prop_map(move |total| (total, inline.clone()))
}

/// A non-zero Winsock error code, known or not (any `i32` bit pattern).
fn error_code() -> impl Strategy<Value = i32> {
    prop_oneof![
        prop::sample::select(WsaError::ALL).prop_map(|e| e.code()),
        any::<i32>().prop_filter("code 0 is success", |&c| c != 0),
    ]
}

fn valid_body() -> impl Strategy<Value = Owned> {
    prop_oneof![
        bytes(1..=300).prop_map(Owned::Data),
        bytes(1..=40).prop_map(Owned::Urgent),
        (
            bytes(0..=300).prop_flat_map(total_above),
            bytes(1..=MAX_DESCRIPTOR)
        )
            .prop_map(|((total, inline), descriptor)| Owned::ReadOffer {
                total,
                descriptor,
                inline,
            }),
        bytes(0..=300)
            .prop_flat_map(total_above)
            .prop_map(|(total, inline)| Owned::WriteRequest { total, inline }),
        prop_oneof![
            bytes(1..=MAX_DESCRIPTOR).prop_map(Ok),
            error_code().prop_map(Err),
        ]
        .prop_map(Owned::WriteTarget),
        prop_oneof![any::<u64>().prop_map(Ok), error_code().prop_map(Err)]
            .prop_map(Owned::RdmaDone),
        prop_oneof![any::<u64>().prop_map(Ok), error_code().prop_map(Err)]
            .prop_map(Owned::WriteDone),
        Just(Owned::Credit),
        Just(Owned::Disconnect),
    ]
}

fn valid_message() -> impl Strategy<Value = (u32, Owned)> {
    (
        prop_oneof![Just(0u32), 1u32..=4096, any::<u32>()],
        valid_body(),
    )
}

fn encode(m: &Message<'_>) -> Vec<u8> {
    let mut buf = vec![0; m.encoded_len()];
    let n = m.encode(&mut buf).expect("a valid message encodes");
    assert_eq!(n, buf.len());
    buf
}

/// `bytes` as the encoder writes what was decoded from them: the reserved fields (byte 1,
/// bytes 12..16) zeroed, and, in an `rdma_done` or `write_done` carrying an error, the ignored
/// `transferred` (bytes 20..28) too.
fn canonical(bytes: &[u8]) -> Vec<u8> {
    let mut b = bytes.to_vec();
    b[1] = 0;
    b[12..16].fill(0);
    if (b[0] == 6 || b[0] == 9) && b[16..20] != [0; 4] {
        b[20..28].fill(0);
    }
    b
}

/// Any byte sequence decodes without panicking; one that decodes is a message of exactly its
/// length, and encodes back to the same bytes but for the fields the decoder ignores.
fn check_decode(data: &[u8]) -> Result<(), TestCaseError> {
    match Message::decode(data) {
        Ok(m) => {
            prop_assert_eq!(m.encoded_len(), data.len());
            let again = encode(&m);
            prop_assert_eq!(&again, &canonical(data));
            prop_assert_eq!(Message::decode(&again), Ok(m));
        }
        Err(e) => {
            prop_assert!(!e.to_string().is_empty());
            if let WireError::BufferTooSmall { .. } = e {
                prop_assert!(false, "decode answered an encoder's error: {e}");
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// SESS-1/2/4/6 (a): any valid message encodes to `encoded_len` bytes and decodes back to
    /// itself; one byte less of buffer is `BufferTooSmall`.
    #[test]
    fn sess_2_any_valid_message_round_trips((credits, owned) in valid_message()) {
        let m = Message { credits, body: owned.body() };
        let b = encode(&m);
        prop_assert_eq!(b.len(), m.encoded_len());
        prop_assert_eq!(b.len() >= HEADER_SIZE, true);
        prop_assert_eq!(Message::decode(&b), Ok(m));
        let mut short = vec![0; b.len() - 1];
        prop_assert_eq!(
            m.encode(&mut short),
            Err(WireError::BufferTooSmall { needed: b.len(), available: b.len() - 1 })
        );
    }

    /// SESS-1 (b): arbitrary bytes never make the decoder panic, and what it accepts encodes
    /// back to the same bytes except the reserved fields.
    #[test]
    fn sess_1_decoding_arbitrary_bytes_never_panics(data in bytes(0..=599)) {
        check_decode(&data)?;
    }

    /// SESS-1 (b), nearer the format: a valid encoding with a few bytes overwritten (the
    /// header mostly), which decodes far more often than random bytes.
    #[test]
    fn sess_1_decoding_damaged_messages_never_panics(
        (credits, owned) in valid_message(),
        damage in prop::collection::vec((0usize..40, any::<u8>()), 1..=4),
    ) {
        let m = Message { credits, body: owned.body() };
        let mut b = encode(&m);
        for (at, value) in damage {
            if let Some(byte) = b.get_mut(at) {
                *byte = value;
            }
        }
        check_decode(&b)?;
    }

    /// SESS-1 (c): the message is exactly as long as its header says. Every strict prefix of
    /// a valid encoding is `Truncated`, every extension `TrailingBytes`.
    #[test]
    fn sess_1_prefixes_are_truncated_and_extensions_trailing(
        (credits, owned) in valid_message(),
        tail in bytes(1..=64),
    ) {
        let m = Message { credits, body: owned.body() };
        let b = encode(&m);
        for cut in 0..b.len() {
            prop_assert_eq!(
                Message::decode(&b[..cut]),
                Err(WireError::Truncated {
                    needed: if cut < HEADER_SIZE { HEADER_SIZE } else { b.len() },
                    available: cut,
                }),
                "prefix of {} bytes", cut
            );
        }
        for extra in 1..=tail.len() {
            let mut longer = b.clone();
            longer.extend_from_slice(&tail[..extra]);
            prop_assert_eq!(
                Message::decode(&longer),
                Err(WireError::TrailingBytes { length: b.len(), received: longer.len() })
            );
        }
    }

    /// SESS-1 (d): a kind byte outside 1..=9 is `UnknownKind`, whatever follows.
    #[test]
    fn sess_1_an_unknown_kind_byte_is_refused(
        (credits, owned) in valid_message(),
        kind in prop_oneof![Just(0u8), 10u8..=255],
    ) {
        let m = Message { credits, body: owned.body() };
        let mut b = encode(&m);
        b[0] = kind;
        prop_assert_eq!(Message::decode(&b), Err(WireError::UnknownKind(kind)));
    }
}

#[test]
fn sess_1_the_header_layout() {
    let m = Message {
        credits: 0x0403_0201,
        body: Body::ReadOffer {
            total: 0x100,
            descriptor: b"DESC",
            inline: b"xy",
        },
    };
    let b = encode(&m);
    assert_eq!(b.len(), HEADER_SIZE + 8 + 4 + 2);
    assert_eq!(b[0], 3, "kind read_offer");
    assert_eq!(b[1], 0, "reserved");
    assert_eq!(&b[2..4], &[12, 0], "extra_len");
    assert_eq!(&b[4..8], &[1, 2, 3, 4], "credits");
    assert_eq!(&b[8..12], &[2, 0, 0, 0], "payload_len");
    assert_eq!(&b[12..16], &[0; 4], "reserved");
    assert_eq!(&b[16..24], &0x100u64.to_le_bytes(), "total");
    assert_eq!(&b[24..28], b"DESC");
    assert_eq!(&b[28..], b"xy");
}
