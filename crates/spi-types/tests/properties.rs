//! Property tests: every encoder round-trips through its decoder, and every decoder answers
//! arbitrary or mutated bytes with a value or an error, never a panic.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use proptest::prelude::*;
use spi_types::address_list::{
    PointerWidth, decode_address_list, encode_address_list, required_size,
};
use spi_types::registration::guid_from_reg_binary;
use spi_types::sockaddr::{decode_sockaddr, encode_sockaddr, sockaddr_len};
use spi_types::{
    AddressFamily, DecodeError, Guid, NetworkEvents, Protocol, ProtocolChain, ProtocolInfo,
    ProviderFlags, SanExtension, SanRegistration, ServiceFlags, SocketType, WinsockVersion,
    WsaError, WsaNetworkEvents, WspData,
};

// ---------------------------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------------------------

/// A string of at most 255 UTF-16 units and no NUL, mixing ASCII and any other character
/// (including ones outside the BMP, which take two units).
fn utf16_text() -> impl Strategy<Value = String> {
    let ch = prop_oneof![
        3 => proptest::char::range(' ', '~'),
        1 => any::<char>(),
    ]
    .prop_filter("no NUL", |c| *c != '\0');
    proptest::collection::vec(ch, 0..=260).prop_map(|chars| {
        let mut s = String::new();
        let mut units = 0;
        for c in chars {
            if units + c.len_utf16() > 255 {
                break;
            }
            units += c.len_utf16();
            s.push(c);
        }
        s
    })
}

fn width() -> impl Strategy<Value = PointerWidth> {
    prop_oneof![Just(PointerWidth::Bits64), Just(PointerWidth::Bits32)]
}

fn socket_addr() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<u32>(), any::<u16>())
            .prop_map(|(ip, port)| SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(ip), port))),
        (any::<u128>(), any::<u16>(), any::<u32>(), any::<u32>()).prop_map(
            |(ip, port, flow, scope)| SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(ip),
                port,
                flow,
                scope
            ))
        ),
    ]
}

/// An address list with a base at which it fits the pointer width.
fn placed_list() -> impl Strategy<Value = (Vec<SocketAddr>, PointerWidth, u64)> {
    (
        proptest::collection::vec(socket_addr(), 0..64),
        width(),
        any::<u64>(),
        any::<bool>(),
    )
        .prop_map(|(addrs, w, raw, small)| {
            let needed = required_size(&addrs, w) as u64;
            let limit = match w {
                PointerWidth::Bits64 => u64::MAX,
                PointerWidth::Bits32 => u64::from(u32::MAX),
            };
            // Highest base whose buffer's last byte is still addressable.
            let max_base = limit - (needed - 1);
            let base = if small {
                raw % 0x10_0000
            } else if max_base == u64::MAX {
                raw
            } else {
                raw % (max_base + 1)
            };
            (addrs, w, base)
        })
}

fn protocol_info() -> impl Strategy<Value = ProtocolInfo> {
    (
        (
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            any::<[u8; 16]>(),
            any::<u32>(),
            0i32..=7,
            any::<[u32; 7]>(),
        ),
        (
            any::<i32>(),
            any::<i32>(),
            any::<i32>(),
            any::<i32>(),
            any::<i32>(),
            any::<i32>(),
            any::<i32>(),
            any::<i32>(),
            any::<i32>(),
            any::<u32>(),
            any::<u32>(),
        ),
        utf16_text(),
    )
        .prop_map(
            |(
                (sf1, sf2, sf3, sf4, pf, id, cat, chain_len, entries),
                (ver, af, max_sa, min_sa, st, proto, max_off, order, sec, msg, reserved),
                name,
            )| ProtocolInfo {
                service_flags1: ServiceFlags::from_bits_retain(sf1),
                service_flags2: sf2,
                service_flags3: sf3,
                service_flags4: sf4,
                provider_flags: ProviderFlags::from_bits_retain(pf),
                provider_id: Guid::from_bytes(id),
                catalog_entry_id: cat,
                protocol_chain: ProtocolChain {
                    len: chain_len,
                    entries,
                },
                version: ver,
                address_family: AddressFamily(af),
                max_sockaddr: max_sa,
                min_sockaddr: min_sa,
                socket_type: SocketType(st),
                protocol: Protocol(proto),
                protocol_max_offset: max_off,
                network_byte_order: order,
                security_scheme: sec,
                message_size: msg,
                provider_reserved: reserved,
                name,
            },
        )
}

/// One change to a valid buffer.
#[derive(Debug, Clone)]
enum Mutation {
    /// Flip one bit of the byte at (index mod len).
    FlipBit(usize, u8),
    /// Overwrite the byte at (index mod len).
    SetByte(usize, u8),
    /// Overwrite the 4 or 8 bytes at an entry-area offset with an interesting value.
    SetField {
        /// Index into the header-and-entries area.
        at: usize,
        /// Which interesting value.
        pick: usize,
        /// 8 bytes rather than 4.
        wide: bool,
    },
    /// Cut the buffer to (len mod original length).
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(i, b)| Mutation::FlipBit(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, v)| Mutation::SetByte(i, v)),
        (any::<usize>(), any::<usize>(), any::<bool>())
            .prop_map(|(at, pick, wide)| { Mutation::SetField { at, pick, wide } }),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(buf: &mut Vec<u8>, m: &Mutation, base: u64, w: PointerWidth, count: usize) {
    if buf.is_empty() {
        return;
    }
    let len = buf.len();
    match *m {
        Mutation::FlipBit(i, b) => buf[i % len] ^= 1 << b,
        Mutation::SetByte(i, v) => buf[i % len] = v,
        Mutation::SetField { at, pick, wide } => {
            let entries = w.header_size() + count.max(1) * w.entry_size();
            // Align to 4 so the value lands on a count, pointer or length field.
            let at = (at % entries.min(len)) & !3;
            let blen = buf.len() as u64;
            let interesting = [
                0u64,
                u64::MAX,
                u64::from(u32::MAX),
                0x7fff_ffff,
                0x8000_0000,
                1,
                2,
                15,
                16,
                27,
                28,
                64,
                base,
                base.wrapping_sub(1),
                base.wrapping_add(blen),
                base.wrapping_add(blen - 1),
                base.wrapping_add(blen.saturating_sub(16)),
                base.wrapping_add(blen.saturating_sub(28)),
                base.wrapping_add(w.header_size() as u64),
                u64::MAX - 15,
            ];
            let v = interesting[pick % interesting.len()];
            let n = if wide { 8 } else { 4 };
            let end = (at + n).min(len);
            buf[at..end].copy_from_slice(&v.to_le_bytes()[..end - at]);
        }
        Mutation::Truncate(n) => buf.truncate(n % (len + 1)),
    }
}

// ---------------------------------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------------------------------

proptest! {
    #[test]
    fn wsa_error_name_and_code_round_trip(e in proptest::sample::select(WsaError::ALL)) {
        let name = e.name().unwrap();
        prop_assert_eq!(WsaError::from_name(name), Some(e));
        prop_assert_eq!(name.parse::<WsaError>(), Ok(e));
        prop_assert_eq!(WsaError::from_code(e.code()), e);
        prop_assert_eq!(e.to_string(), format!("{} ({})", name, e.code()));
    }

    #[test]
    fn wsa_error_any_code_is_kept(code in any::<i32>()) {
        let e = WsaError::from_code(code);
        prop_assert_eq!(e.code(), code);
        prop_assert_eq!(i32::from(e), code);
        if let Some(name) = e.name() {
            prop_assert_eq!(WsaError::from_name(name), Some(e));
        } else {
            prop_assert_eq!(e.to_string(), format!("unknown Winsock error ({code})"));
        }
    }

    #[test]
    fn guid_bytes_and_text_round_trip(bytes in any::<[u8; 16]>()) {
        let g = Guid::from_bytes(bytes);
        prop_assert_eq!(g.to_bytes(), bytes);
        prop_assert_eq!(Guid::from_slice(&bytes), Ok(g));
        let text = g.to_string();
        prop_assert_eq!(text.len(), 38);
        prop_assert_eq!(text.parse::<Guid>(), Ok(g));
        prop_assert_eq!(text.to_lowercase().parse::<Guid>(), Ok(g));
        prop_assert_eq!(text[1..37].parse::<Guid>(), Ok(g));
        // Data1 is little-endian in memory and first in the text.
        let data1 = u32::from_le_bytes(bytes[0..4].try_into().unwrap());
        prop_assert_eq!(&text[1..9], format!("{data1:08X}"));
    }

    #[test]
    fn winsock_version_word_and_text_round_trip(word in any::<u16>()) {
        let v = WinsockVersion::from_word(word);
        prop_assert_eq!(v.to_word(), word);
        prop_assert_eq!(v.major, (word & 0xff) as u8);
        prop_assert_eq!(v.minor, (word >> 8) as u8);
        prop_assert_eq!(v.to_string().parse::<WinsockVersion>(), Ok(v));
        prop_assert_eq!(WinsockVersion::new(v.major, v.minor), v);
    }

    #[test]
    fn wspdata_round_trips(
        version in any::<u16>(),
        high in any::<u16>(),
        description in utf16_text(),
    ) {
        let d = WspData {
            version: WinsockVersion::from_word(version),
            high_version: WinsockVersion::from_word(high),
            description,
        };
        let b = d.encode().unwrap();
        prop_assert_eq!(b.len(), 516);
        prop_assert_eq!(u16::from_le_bytes([b[0], b[1]]), version);
        prop_assert_eq!(u16::from_le_bytes([b[2], b[3]]), high);
        prop_assert_eq!(WspData::decode(&b), Ok(d));
    }

    #[test]
    fn protocol_info_round_trips(p in protocol_info()) {
        let b = p.encode().unwrap();
        prop_assert_eq!(b.len(), 628);
        let back = ProtocolInfo::decode(&b).unwrap();
        prop_assert_eq!(&back, &p);
        prop_assert_eq!(back.encode().unwrap(), b);
    }

    #[test]
    fn sockaddr_round_trips(a in socket_addr()) {
        let b = encode_sockaddr(&a);
        prop_assert_eq!(b.len(), sockaddr_len(&a));
        prop_assert_eq!(decode_sockaddr(&b), Ok(a));
        // sin_zero / trailing garbage does not matter.
        let mut g = b.clone();
        if a.is_ipv4() {
            g[8..16].fill(0xab);
        }
        g.extend_from_slice(&[0xcd; 8]);
        prop_assert_eq!(decode_sockaddr(&g), Ok(a));
    }

    #[test]
    fn address_list_round_trips((addrs, w, base) in placed_list()) {
        let b = encode_address_list(&addrs, base, w).unwrap();
        prop_assert_eq!(b.len(), required_size(&addrs, w));
        prop_assert_eq!(decode_address_list(&b, base, w), Ok(addrs.clone()));
        // Padding and sin_zero left as 0xab (as real implementations do) are ignored.
        let mut ab = b.clone();
        if w == PointerWidth::Bits64 {
            ab[4..8].fill(0xab);
            for i in 0..addrs.len() {
                let e = 8 + 16 * i;
                ab[e + 12..e + 16].fill(0xab);
            }
        }
        let mut data = (w.header_size() + addrs.len() * w.entry_size()).max(w.list_struct_size());
        for a in &addrs {
            if a.is_ipv4() {
                ab[data + 8..data + 16].fill(0xab);
            }
            data += sockaddr_len(a);
        }
        prop_assert_eq!(decode_address_list(&ab, base, w), Ok(addrs));
    }

    #[test]
    fn network_events_round_trip(events in any::<i32>(), codes in any::<[i32; 10]>()) {
        let ev = WsaNetworkEvents { events: NetworkEvents::from_bits_retain(events), error_codes: codes };
        let b = ev.encode();
        prop_assert_eq!(b.len(), 44);
        prop_assert_eq!(WsaNetworkEvents::decode(&b), Ok(ev));
    }

    #[test]
    fn network_events_set_then_error_for(bit in 0usize..10, code in proptest::option::of(1i32..)) {
        let e = NetworkEvents::from_bit_index(bit).unwrap();
        let mut ev = WsaNetworkEvents::default();
        ev.set(e, code.map(WsaError::from_code));
        prop_assert!(ev.events.contains(e));
        prop_assert_eq!(ev.error_codes[bit], code.unwrap_or(0));
        prop_assert_eq!(ev.error_for(e), code.map(WsaError::from_code));
        prop_assert_eq!(WsaNetworkEvents::decode(&ev.encode()), Ok(ev));
    }

    #[test]
    fn registration_guid_round_trips(bytes in any::<[u8; 16]>(), name in utf16_text()) {
        let g = Guid::from_bytes(bytes);
        let r = SanRegistration::new(name.clone(), g);
        prop_assert_eq!(&r.name, &name);
        prop_assert_eq!(r.data.as_slice(), bytes.as_slice());
        prop_assert_eq!(r.provider_guid(), Ok(g));
        prop_assert_eq!(guid_from_reg_binary(&bytes), Ok(g));
    }
}

// ---------------------------------------------------------------------------------------------
// Arbitrary bytes never panic
// ---------------------------------------------------------------------------------------------

proptest! {
    #[test]
    fn decode_sockaddr_never_panics(b in proptest::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(a) = decode_sockaddr(&b) {
            // What decoded re-encodes into the bytes it came from (sin_zero aside).
            let e = encode_sockaddr(&a);
            prop_assert!(b.len() >= e.len());
            let cmp = if a.is_ipv4() { 8 } else { 28 };
            prop_assert_eq!(&e[..cmp], &b[..cmp]);
        }
    }

    #[test]
    fn decode_address_list_never_panics(
        b in proptest::collection::vec(any::<u8>(), 0..512),
        base in any::<u64>(),
        w in width(),
    ) {
        if let Ok(addrs) = decode_address_list(&b, base, w) {
            let count = i32::from_le_bytes(b[0..4].try_into().unwrap());
            prop_assert_eq!(addrs.len() as i64, i64::from(count));
        }
    }

    #[test]
    fn decode_address_list_with_small_counts_never_panics(
        count in 0i32..8,
        rest in proptest::collection::vec(any::<u8>(), 0..256),
        base in 0u64..512,
        w in width(),
    ) {
        // Pointers that are small numbers often land inside a buffer based near zero.
        let mut b = count.to_le_bytes().to_vec();
        b.extend_from_slice(&rest);
        let _ = decode_address_list(&b, base, w);
    }

    #[test]
    fn protocol_info_decode_never_panics(b in proptest::collection::vec(any::<u8>(), 0..700)) {
        let r = ProtocolInfo::decode(&b);
        if b.len() < 628 {
            prop_assert_eq!(r, Err(DecodeError::Truncated {
                what: "WSAPROTOCOL_INFOW", needed: 628, available: b.len()
            }));
        } else {
            // Only the first 628 bytes are read.
            prop_assert_eq!(&r, &ProtocolInfo::decode(&b[..628]));
            if let Ok(p) = r {
                let e = p.encode().unwrap();
                prop_assert_eq!(&e[..116], &b[..116]);
                prop_assert_eq!(ProtocolInfo::decode(&e), Ok(p));
            }
        }
    }

    #[test]
    fn protocol_info_decode_with_valid_chain_never_panics(
        mut b in proptest::collection::vec(any::<u8>(), 628..=628),
        chain in 0i32..=7,
        name_units in proptest::collection::vec(any::<u16>(), 0..256),
    ) {
        // Reach the name decoder: a valid chain and arbitrary UTF-16 (often invalid, maybe
        // unterminated).
        b[40..44].copy_from_slice(&chain.to_le_bytes());
        for (i, u) in name_units.iter().enumerate() {
            b[116 + 2 * i..118 + 2 * i].copy_from_slice(&u.to_le_bytes());
        }
        match ProtocolInfo::decode(&b) {
            Ok(p) => prop_assert_eq!(ProtocolInfo::decode(&p.encode().unwrap()), Ok(p)),
            Err(e) => prop_assert!(matches!(
                e,
                DecodeError::UnterminatedString { .. } | DecodeError::InvalidUtf16 { .. }
            ), "{e:?}"),
        }
    }

    #[test]
    fn wspdata_decode_never_panics(b in proptest::collection::vec(any::<u8>(), 0..600)) {
        let r = WspData::decode(&b);
        if b.len() >= 516 {
            prop_assert_eq!(&r, &WspData::decode(&b[..516]));
            if let Ok(d) = r {
                prop_assert_eq!(WspData::decode(&d.encode().unwrap()), Ok(d));
            }
        } else {
            prop_assert!(r.is_err());
        }
    }

    #[test]
    fn network_events_decode_never_panics(b in proptest::collection::vec(any::<u8>(), 0..64)) {
        match WsaNetworkEvents::decode(&b) {
            Ok(ev) => {
                prop_assert!(b.len() >= 44);
                prop_assert_eq!(&ev.encode()[..], &b[..44]);
            }
            Err(e) => prop_assert_eq!(e, DecodeError::Truncated {
                what: "WSANETWORKEVENTS", needed: 44, available: b.len()
            }),
        }
    }

    #[test]
    fn guid_from_slice_and_registration_never_panic(b in proptest::collection::vec(any::<u8>(), 0..40)) {
        let g = Guid::from_slice(&b);
        let r = guid_from_reg_binary(&b);
        let ext = SanExtension::from_guid_bytes(&b);
        prop_assert_eq!(g.is_ok(), b.len() == 16);
        prop_assert_eq!(r.is_ok(), b.len() == 16);
        if let Ok(g) = g {
            prop_assert_eq!(&g.to_bytes()[..], b.as_slice());
            prop_assert_eq!(r, Ok(g));
            prop_assert_eq!(ext, SanExtension::from_guid(g));
        } else {
            prop_assert_eq!(ext, None);
        }
    }

    #[test]
    fn text_parsers_never_panic(s in "\\PC{0,48}") {
        let _ = s.parse::<Guid>();
        let _ = s.parse::<WinsockVersion>();
        let _ = s.parse::<WsaError>();
    }

    #[test]
    fn guid_like_text_never_panics(s in "[{]?[0-9A-Fa-f-]{30,40}[}]?") {
        if let Ok(g) = s.parse::<Guid>() {
            prop_assert_eq!(g.to_string().parse::<Guid>(), Ok(g));
        }
    }

    #[test]
    fn version_like_text_never_panics(s in "[0-9]{0,4}[.]?[0-9]{0,4}") {
        if let Ok(v) = s.parse::<WinsockVersion>() {
            prop_assert_eq!(v.to_string().parse::<WinsockVersion>(), Ok(v));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Mutated valid buffers
// ---------------------------------------------------------------------------------------------

proptest! {
    #[test]
    fn mutated_address_list_decodes_consistently_or_errors(
        (addrs, w, base) in placed_list(),
        mutations in proptest::collection::vec(mutation(), 1..6),
    ) {
        let mut b = encode_address_list(&addrs, base, w).unwrap();
        for m in &mutations {
            apply(&mut b, m, base, w, addrs.len());
        }
        match decode_address_list(&b, base, w) {
            Ok(decoded) => {
                let count = i32::from_le_bytes(b[0..4].try_into().unwrap());
                prop_assert_eq!(decoded.len() as i64, i64::from(count));
                // What decoded re-encodes and decodes to itself wherever it fits.
                if let Ok(re) = encode_address_list(&decoded, base, w) {
                    prop_assert_eq!(decode_address_list(&re, base, w), Ok(decoded.clone()));
                }
                let re = encode_address_list(&decoded, 0x1000, w).unwrap();
                prop_assert_eq!(decode_address_list(&re, 0x1000, w), Ok(decoded));
            }
            Err(e) => {
                // Every error names a real problem; spot-check the fields it reports.
                match e {
                    DecodeError::Truncated { available, .. } => prop_assert!(available < 4 || available < b.len() + 1),
                    DecodeError::NegativeCount { count } => prop_assert!(count < 0),
                    DecodeError::CountTooLarge { count, max } => prop_assert!(count as usize > max),
                    DecodeError::NegativeLength { length, .. } => prop_assert!(length < 0),
                    DecodeError::PointerOutside { pointer, length, base: eb, buffer_len, .. } => {
                        prop_assert_eq!(eb, base);
                        prop_assert_eq!(buffer_len, b.len());
                        let inside = pointer >= base
                            && (pointer - base).checked_add(length as u64)
                                .is_some_and(|end| end <= b.len() as u64);
                        prop_assert!(!inside);
                    }
                    DecodeError::LengthTooShort { length, needed, family, .. } => {
                        prop_assert!(length < needed);
                        prop_assert!(family == 2 || family == 23);
                    }
                    DecodeError::UnknownFamily { family, .. } => {
                        prop_assert!(family != 2 && family != 23);
                    }
                    other => prop_assert!(false, "unexpected error {:?}", other),
                }
            }
        }
    }

    #[test]
    fn mutated_protocol_info_decodes_consistently_or_errors(
        p in protocol_info(),
        edits in proptest::collection::vec((0usize..628, any::<u8>()), 1..8),
    ) {
        let mut b = p.encode().unwrap();
        for (i, v) in edits {
            b[i] = v;
        }
        match ProtocolInfo::decode(&b) {
            Ok(q) => {
                let e = q.encode().unwrap();
                prop_assert_eq!(&e[..116], &b[..116]);
                prop_assert_eq!(ProtocolInfo::decode(&e), Ok(q));
            }
            Err(e) => prop_assert!(matches!(
                e,
                DecodeError::BadChainLength(_)
                    | DecodeError::UnterminatedString { .. }
                    | DecodeError::InvalidUtf16 { .. }
            ), "{e:?}"),
        }
    }
}

#[test]
fn mutated_address_list_strategy_reaches_every_decoder_outcome() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    use std::collections::BTreeSet;

    let mut runner = TestRunner::deterministic();
    let strategy = (placed_list(), proptest::collection::vec(mutation(), 1..6));
    let mut seen = BTreeSet::new();
    for _ in 0..4000 {
        let ((addrs, w, base), mutations) = strategy.new_tree(&mut runner).unwrap().current();
        let mut b = encode_address_list(&addrs, base, w).unwrap();
        for m in &mutations {
            apply(&mut b, m, base, w, addrs.len());
        }
        let outcome = match decode_address_list(&b, base, w) {
            Ok(a) if a.is_empty() => "Ok(empty)",
            Ok(_) => "Ok(addresses)",
            Err(DecodeError::Truncated { .. }) => "Truncated",
            Err(DecodeError::NegativeCount { .. }) => "NegativeCount",
            Err(DecodeError::CountTooLarge { .. }) => "CountTooLarge",
            Err(DecodeError::NegativeLength { .. }) => "NegativeLength",
            Err(DecodeError::PointerOutside { .. }) => "PointerOutside",
            Err(DecodeError::LengthTooShort { .. }) => "LengthTooShort",
            Err(DecodeError::UnknownFamily { .. }) => "UnknownFamily",
            Err(other) => panic!("unexpected {other:?}"),
        };
        seen.insert(outcome);
    }
    let all: BTreeSet<&str> = [
        "Ok(empty)",
        "Ok(addresses)",
        "Truncated",
        "NegativeCount",
        "CountTooLarge",
        "NegativeLength",
        "PointerOutside",
        "LengthTooShort",
        "UnknownFamily",
    ]
    .into_iter()
    .collect();
    assert_eq!(seen, all, "outcomes the mutation strategy reached");
}
