//! CONN-7 / ACCEPT-3: the negotiation message's wire format, byte by byte, and a decoder that
//! refuses every malformed message without panicking.

use proptest::prelude::*;
use switch_core::session::{
    MAX_CREDITS, MAX_NEGOTIATION_SIZE, NEGOTIATION_HEADER_SIZE, Negotiation, NegotiationError,
};

fn sample() -> Negotiation {
    Negotiation {
        reply: true,
        rdma_read: false,
        credits: 32,
        buffer_size: 4096,
        rdma_threshold: 8192,
        max_rdma_size: 1 << 20,
    }
}

#[test]
fn conn_7_the_message_layout_byte_by_byte() {
    let b = sample().encode();
    assert_eq!(b.len(), NEGOTIATION_HEADER_SIZE);
    assert_eq!(&b[0..4], b"WSDN");
    assert_eq!(&b[4..6], &[1, 0], "version 1");
    assert_eq!(&b[6..8], &[28, 0], "length");
    assert_eq!(&b[8..10], &[1, 0], "flags: reply");
    assert_eq!(&b[10..12], &[0, 0], "reserved");
    assert_eq!(&b[12..16], &32u32.to_le_bytes());
    assert_eq!(&b[16..20], &4096u32.to_le_bytes());
    assert_eq!(&b[20..24], &8192u32.to_le_bytes());
    assert_eq!(&b[24..28], &(1u32 << 20).to_le_bytes());
    let m = Negotiation {
        reply: false,
        rdma_read: true,
        ..sample()
    };
    assert_eq!(&m.encode()[8..10], &[2, 0], "flags: rdma_read");
    const { assert!(MAX_NEGOTIATION_SIZE <= 256) };
}

#[test]
fn accept_3_a_later_version_may_add_fields_a_version_1_reader_skips() {
    let mut b = sample().encode().to_vec();
    b.extend_from_slice(&[0xee; 20]);
    b[6..8].copy_from_slice(&48u16.to_le_bytes());
    // Reserved flag bits and the reserved field are ignored too.
    b[9] |= 0x80;
    b[10] = 7;
    assert_eq!(Negotiation::decode(&b), Ok(sample()));
}

#[test]
fn accept_3_malformed_messages_are_refused_with_what_is_wrong() {
    let good = sample().encode();
    assert_eq!(
        Negotiation::decode(&good[..27]),
        Err(NegotiationError::Truncated {
            needed: 28,
            available: 27
        })
    );
    assert_eq!(
        Negotiation::decode(&[0u8; 257]),
        Err(NegotiationError::TooLong { length: 257 })
    );
    let mut b = good;
    b[0] = b'X';
    assert!(matches!(
        Negotiation::decode(&b),
        Err(NegotiationError::BadMagic { .. })
    ));
    let mut b = good;
    b[4] = 2;
    assert_eq!(
        Negotiation::decode(&b),
        Err(NegotiationError::UnsupportedVersion(2))
    );
    let mut b = good;
    b[6..8].copy_from_slice(&40u16.to_le_bytes());
    assert_eq!(
        Negotiation::decode(&b),
        Err(NegotiationError::Truncated {
            needed: 40,
            available: 28
        })
    );
    let mut b = good;
    b[6..8].copy_from_slice(&300u16.to_le_bytes());
    assert_eq!(
        Negotiation::decode(&b),
        Err(NegotiationError::TooLong { length: 300 })
    );
    let mut b = good;
    b[6..8].copy_from_slice(&27u16.to_le_bytes());
    assert!(matches!(
        Negotiation::decode(&b),
        Err(NegotiationError::OutOfRange {
            field: "length",
            ..
        })
    ));
    for (credits, ok) in [
        (0, false),
        (1, true),
        (MAX_CREDITS, true),
        (MAX_CREDITS + 1, false),
    ] {
        let m = Negotiation {
            credits,
            ..sample()
        };
        assert_eq!(
            Negotiation::decode(&m.encode()).is_ok(),
            ok,
            "credits {credits}"
        );
    }
    for (size, ok) in [(63, false), (64, true)] {
        let m = Negotiation {
            buffer_size: size,
            ..sample()
        };
        assert_eq!(
            Negotiation::decode(&m.encode()).is_ok(),
            ok,
            "buffer {size}"
        );
    }
    let m = Negotiation {
        max_rdma_size: 8191,
        ..sample()
    };
    assert!(matches!(
        Negotiation::decode(&m.encode()),
        Err(NegotiationError::OutOfRange {
            field: "max_rdma_size",
            ..
        })
    ));
}

fn valid() -> impl Strategy<Value = Negotiation> {
    (
        any::<bool>(),
        any::<bool>(),
        1..=MAX_CREDITS,
        64u32..,
        any::<u32>(),
    )
        .prop_flat_map(|(reply, rdma_read, credits, buffer_size, threshold)| {
            (threshold..=u32::MAX).prop_map(move |max| Negotiation {
                reply,
                rdma_read,
                credits,
                buffer_size,
                rdma_threshold: threshold,
                max_rdma_size: max,
            })
        })
}

proptest! {
    #[test]
    fn conn_7_every_valid_message_round_trips(m in valid()) {
        prop_assert_eq!(Negotiation::decode(&m.encode()), Ok(m));
    }

    #[test]
    fn accept_3_no_input_makes_the_decoder_panic(b in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(m) = Negotiation::decode(&b) {
            prop_assert!(m.validate().is_ok());
            prop_assert_eq!(Negotiation::decode(&m.encode()), Ok(m));
        }
    }

    #[test]
    fn accept_3_a_mutated_valid_message_decodes_or_is_refused(
        m in valid(), at in 0usize..NEGOTIATION_HEADER_SIZE, byte in any::<u8>()
    ) {
        let mut b = m.encode();
        b[at] = byte;
        match Negotiation::decode(&b) {
            Ok(d) => prop_assert!(d.validate().is_ok()),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }
}
