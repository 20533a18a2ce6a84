//! One test per malformed input: each `DecodeError` (and `EncodeError`) variant with the exact
//! fields, plus the 32-bit address-list layout, IPv6 scope and flow info, and `sin_zero` bytes.

use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6};

use spi_types::address_list::{
    PointerWidth, decode_address_list, encode_address_list, encode_address_list_into,
};
use spi_types::registration::guid_from_reg_binary;
use spi_types::sockaddr::{decode_sockaddr, encode_sockaddr, write_sockaddr};
use spi_types::{
    DecodeError, EncodeError, Guid, ProtocolInfo, SanRegistration, WINOFED_PROVIDER_GUID,
    WinsockVersion, WsaError, WsaNetworkEvents, WspData,
};

const X64: PointerWidth = PointerWidth::Bits64;
const X86: PointerWidth = PointerWidth::Bits32;
const BASE: u64 = 0x1_4000_E040;

/// A little builder for hand-made 64-bit address lists.
fn list64(count: i32, entries: &[(u64, i32)], tail: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&count.to_le_bytes());
    b.extend_from_slice(&[0xab; 4]);
    for &(p, l) in entries {
        b.extend_from_slice(&p.to_le_bytes());
        b.extend_from_slice(&l.to_le_bytes());
        b.extend_from_slice(&[0xab; 4]);
    }
    b.extend_from_slice(tail);
    b
}

fn sin(a: [u8; 4]) -> Vec<u8> {
    let mut v = vec![2, 0, 0, 0];
    v.extend_from_slice(&a);
    v.extend_from_slice(&[0xab; 8]);
    v
}

// ---------------------------------------------------------------------------------------------
// Truncated
// ---------------------------------------------------------------------------------------------

#[test]
fn truncated_address_list_header() {
    for len in 0..4 {
        for w in [X64, X86] {
            assert_eq!(
                decode_address_list(&[0u8; 4][..len], BASE, w),
                Err(DecodeError::Truncated {
                    what: "SOCKET_ADDRESS_LIST header",
                    needed: 4,
                    available: len
                })
            );
        }
    }
}

#[test]
fn truncated_fixed_size_records() {
    assert_eq!(
        ProtocolInfo::decode(&[0u8; 627]),
        Err(DecodeError::Truncated {
            what: "WSAPROTOCOL_INFOW",
            needed: 628,
            available: 627
        })
    );
    assert_eq!(
        ProtocolInfo::decode(&[]),
        Err(DecodeError::Truncated {
            what: "WSAPROTOCOL_INFOW",
            needed: 628,
            available: 0
        })
    );
    assert_eq!(
        WspData::decode(&[0u8; 515]),
        Err(DecodeError::Truncated {
            what: "WSPDATA",
            needed: 516,
            available: 515
        })
    );
    assert_eq!(
        WsaNetworkEvents::decode(&[0u8; 43]),
        Err(DecodeError::Truncated {
            what: "WSANETWORKEVENTS",
            needed: 44,
            available: 43
        })
    );
    for len in 0..2 {
        assert_eq!(
            decode_sockaddr(&[2u8, 0][..len]),
            Err(DecodeError::Truncated {
                what: "sockaddr family",
                needed: 2,
                available: len
            })
        );
    }
}

#[test]
fn fixed_size_records_ignore_trailing_bytes() {
    let p = ProtocolInfo::tcpip(7);
    let mut b = p.encode().unwrap().to_vec();
    b.extend_from_slice(&[0xab; 50]);
    assert_eq!(ProtocolInfo::decode(&b), Ok(p));
    let ev = WsaNetworkEvents::default();
    let mut b = ev.encode().to_vec();
    b.push(0xff);
    assert_eq!(WsaNetworkEvents::decode(&b), Ok(ev));
}

// ---------------------------------------------------------------------------------------------
// Counts
// ---------------------------------------------------------------------------------------------

#[test]
fn negative_address_count() {
    for count in [-1, i32::MIN] {
        let b = list64(count, &[], &[]);
        assert_eq!(
            decode_address_list(&b, BASE, X64),
            Err(DecodeError::NegativeCount { count })
        );
        assert_eq!(
            decode_address_list(&b[..4], BASE, X86),
            Err(DecodeError::NegativeCount { count })
        );
    }
}

#[test]
fn zero_count_decodes_to_empty_even_in_a_header_only_buffer() {
    assert_eq!(decode_address_list(&[0, 0, 0, 0], BASE, X64), Ok(vec![]));
    assert_eq!(decode_address_list(&[0, 0, 0, 0], BASE, X86), Ok(vec![]));
}

#[test]
fn address_count_that_cannot_fit() {
    // 64-bit: 8 + 16 bytes hold one entry.
    let b = list64(2, &[(BASE + 24, 16)], &[]);
    assert_eq!(b.len(), 24);
    assert_eq!(
        decode_address_list(&b, BASE, X64),
        Err(DecodeError::CountTooLarge { count: 2, max: 1 })
    );
    // The same 24 bytes read as 32-bit hold (24 - 4) / 8 = 2 entries, so 3 cannot fit.
    let mut b32 = b.clone();
    b32[0..4].copy_from_slice(&3i32.to_le_bytes());
    assert_eq!(
        decode_address_list(&b32, BASE, X86),
        Err(DecodeError::CountTooLarge { count: 3, max: 2 })
    );
    // The doc example: an impossible count in an 8-byte buffer.
    let bad = [0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0];
    assert_eq!(
        decode_address_list(&bad, 0x1000, X64),
        Err(DecodeError::CountTooLarge {
            count: i32::MAX,
            max: 0
        })
    );
    assert_eq!(
        decode_address_list(&bad[..4], 0x1000, X64),
        Err(DecodeError::CountTooLarge {
            count: i32::MAX,
            max: 0
        })
    );
    assert_eq!(
        decode_address_list(&bad, 0x1000, X86),
        Err(DecodeError::CountTooLarge {
            count: i32::MAX,
            max: 0
        })
    );
}

// ---------------------------------------------------------------------------------------------
// Entries
// ---------------------------------------------------------------------------------------------

#[test]
fn negative_sockaddr_length() {
    let b = list64(
        2,
        &[(BASE + 40, 16), (BASE + 56, -16)],
        &[sin([1, 2, 3, 4]), sin([5, 6, 7, 8])].concat(),
    );
    assert_eq!(
        decode_address_list(&b, BASE, X64),
        Err(DecodeError::NegativeLength {
            index: 1,
            length: -16
        })
    );
}

#[test]
fn pointer_below_base() {
    let b = list64(1, &[(BASE - 1, 16)], &sin([1, 2, 3, 4]));
    assert_eq!(
        decode_address_list(&b, BASE, X64),
        Err(DecodeError::PointerOutside {
            index: 0,
            pointer: BASE - 1,
            length: 16,
            base: BASE,
            buffer_len: 40
        })
    );
    // A null pointer.
    let b = list64(1, &[(0, 16)], &sin([1, 2, 3, 4]));
    assert_eq!(
        decode_address_list(&b, BASE, X64),
        Err(DecodeError::PointerOutside {
            index: 0,
            pointer: 0,
            length: 16,
            base: BASE,
            buffer_len: 40
        })
    );
}

#[test]
fn pointer_past_end() {
    // The sockaddr starts inside but its length runs one byte past the end.
    let b = list64(1, &[(BASE + 25, 16)], &sin([1, 2, 3, 4]));
    assert_eq!(
        decode_address_list(&b, BASE, X64),
        Err(DecodeError::PointerOutside {
            index: 0,
            pointer: BASE + 25,
            length: 16,
            base: BASE,
            buffer_len: 40
        })
    );
    // Entirely past the end.
    let b = list64(1, &[(BASE + 4096, 16)], &sin([1, 2, 3, 4]));
    assert!(matches!(
        decode_address_list(&b, BASE, X64),
        Err(DecodeError::PointerOutside {
            index: 0,
            pointer,
            ..
        }) if pointer == BASE + 4096
    ));
    // Exactly at the end with a zero length is inside, and then too short for any family.
    let b = list64(1, &[(BASE + 24, 0)], &[]);
    assert_eq!(
        decode_address_list(&b, BASE, X64),
        Err(DecodeError::Truncated {
            what: "sockaddr family",
            needed: 2,
            available: 0
        })
    );
}

#[test]
fn pointer_plus_length_overflow() {
    let b = list64(1, &[(u64::MAX, 16)], &sin([1, 2, 3, 4]));
    assert_eq!(
        decode_address_list(&b, 0, X64),
        Err(DecodeError::PointerOutside {
            index: 0,
            pointer: u64::MAX,
            length: 16,
            base: 0,
            buffer_len: 40
        })
    );
    let b = list64(1, &[(u64::MAX - 3, i32::MAX)], &sin([1, 2, 3, 4]));
    assert_eq!(
        decode_address_list(&b, u64::MAX - 40, X64),
        Err(DecodeError::PointerOutside {
            index: 0,
            pointer: u64::MAX - 3,
            length: i32::MAX as usize,
            base: u64::MAX - 40,
            buffer_len: 40
        })
    );
}

#[test]
fn length_too_short_for_ipv4() {
    let b = list64(1, &[(BASE + 24, 15)], &sin([1, 2, 3, 4]));
    assert_eq!(
        decode_address_list(&b, BASE, X64),
        Err(DecodeError::LengthTooShort {
            context: "address entry 0: ".into(),
            family: 2,
            length: 15,
            needed: 16
        })
    );
    assert_eq!(
        decode_sockaddr(&sin([1, 2, 3, 4])[..8]),
        Err(DecodeError::LengthTooShort {
            context: String::new(),
            family: 2,
            length: 8,
            needed: 16
        })
    );
}

#[test]
fn length_too_short_for_ipv6() {
    let v6 = encode_sockaddr(&"[fd00::1]:0".parse().unwrap());
    let b = list64(
        2,
        &[(BASE + 40, 16), (BASE + 56, 27)],
        &[sin([9, 9, 9, 9]), v6.clone()].concat(),
    );
    assert_eq!(
        decode_address_list(&b, BASE, X64),
        Err(DecodeError::LengthTooShort {
            context: "address entry 1: ".into(),
            family: 23,
            length: 27,
            needed: 28
        })
    );
    // A 16-byte length (as for IPv4) is too short for IPv6.
    assert_eq!(
        decode_sockaddr(&v6[..16]),
        Err(DecodeError::LengthTooShort {
            context: String::new(),
            family: 23,
            length: 16,
            needed: 28
        })
    );
}

#[test]
fn unknown_address_family() {
    // Linux's AF_INET6 (10) is not a Windows family.
    let mut sa = encode_sockaddr(&"[fd00::1]:0".parse().unwrap());
    sa[0] = 10;
    assert_eq!(
        decode_sockaddr(&sa),
        Err(DecodeError::UnknownFamily {
            context: String::new(),
            family: 10
        })
    );
    let mut neg = sin([1, 2, 3, 4]);
    neg[0..2].copy_from_slice(&[0xff, 0xff]);
    assert_eq!(
        decode_sockaddr(&neg),
        Err(DecodeError::UnknownFamily {
            context: String::new(),
            family: -1
        })
    );
    let mut unspec = sin([1, 2, 3, 4]);
    unspec[0] = 0;
    let b = list64(1, &[(BASE + 24, 16)], &unspec);
    assert_eq!(
        decode_address_list(&b, BASE, X64),
        Err(DecodeError::UnknownFamily {
            context: "address entry 0: ".into(),
            family: 0
        })
    );
    // Family is read as the i16 `sin_family` in host (little-endian) order: 0x0200 is 512.
    let mut be = sin([1, 2, 3, 4]);
    be[0..2].copy_from_slice(&[0, 2]);
    assert_eq!(
        decode_sockaddr(&be),
        Err(DecodeError::UnknownFamily {
            context: String::new(),
            family: 512
        })
    );
}

// ---------------------------------------------------------------------------------------------
// Protocol info and strings
// ---------------------------------------------------------------------------------------------

#[test]
fn bad_protocol_chain_length() {
    for bad in [8, -1, i32::MIN, i32::MAX, 100] {
        let mut b = ProtocolInfo::tcpip(1).encode().unwrap();
        b[40..44].copy_from_slice(&bad.to_le_bytes());
        assert_eq!(
            ProtocolInfo::decode(&b),
            Err(DecodeError::BadChainLength(bad))
        );
    }
    for ok in 0i32..=7 {
        let mut b = ProtocolInfo::tcpip(1).encode().unwrap();
        b[40..44].copy_from_slice(&ok.to_le_bytes());
        assert_eq!(ProtocolInfo::decode(&b).unwrap().protocol_chain.len, ok);
    }
}

#[test]
fn unterminated_protocol_name() {
    let mut b = ProtocolInfo::tcpip(1).encode().unwrap();
    for i in (116..628).step_by(2) {
        b[i..i + 2].copy_from_slice(&u16::from(b'A').to_le_bytes());
    }
    assert_eq!(
        ProtocolInfo::decode(&b),
        Err(DecodeError::UnterminatedString {
            field: "WSAPROTOCOL_INFOW.szProtocol",
            capacity: 256
        })
    );
    // A terminator in the last unit is fine: 255 characters.
    b[626..628].copy_from_slice(&[0, 0]);
    assert_eq!(ProtocolInfo::decode(&b).unwrap().name, "A".repeat(255));
}

#[test]
fn unterminated_wspdata_description() {
    let mut b = [0x41u8; 516];
    b[0..4].copy_from_slice(&[2, 2, 2, 2]);
    assert_eq!(
        WspData::decode(&b),
        Err(DecodeError::UnterminatedString {
            field: "WSPDATA.szDescription",
            capacity: 256
        })
    );
}

#[test]
fn invalid_utf16_strings() {
    let mut b = ProtocolInfo::tcpip(1).encode().unwrap();
    b[116..118].copy_from_slice(&0xD800u16.to_le_bytes()); // a lone high surrogate
    assert_eq!(
        ProtocolInfo::decode(&b),
        Err(DecodeError::InvalidUtf16 {
            field: "WSAPROTOCOL_INFOW.szProtocol"
        })
    );
    let mut d = WspData {
        version: WinsockVersion::V2_2,
        high_version: WinsockVersion::V2_2,
        description: "x".into(),
    }
    .encode()
    .unwrap();
    d[4..6].copy_from_slice(&0xDC00u16.to_le_bytes()); // a lone low surrogate
    assert_eq!(
        WspData::decode(&d),
        Err(DecodeError::InvalidUtf16 {
            field: "WSPDATA.szDescription"
        })
    );
    // Garbage after the terminator is ignored.
    let mut b = ProtocolInfo::tcpip(1).encode().unwrap();
    b[200..202].copy_from_slice(&0xD800u16.to_le_bytes());
    assert_eq!(ProtocolInfo::decode(&b).unwrap().name, "TCP/IP");
}

#[test]
fn non_ascii_names_round_trip() {
    let mut p = ProtocolInfo::tcpip(3);
    p.name = "Späť 🦀 ТСР".into(); // includes a surrogate pair
    let b = p.encode().unwrap();
    assert_eq!(ProtocolInfo::decode(&b), Ok(p));
}

#[test]
fn strings_too_long_to_encode() {
    let mut p = ProtocolInfo::tcpip(1);
    p.name = "x".repeat(256);
    assert_eq!(
        p.encode(),
        Err(EncodeError::StringTooLong {
            field: "WSAPROTOCOL_INFOW.szProtocol",
            length: 256,
            max: 255
        })
    );
    // A crab is two UTF-16 units: 128 of them do not fit.
    p.name = "🦀".repeat(128);
    assert_eq!(
        p.encode(),
        Err(EncodeError::StringTooLong {
            field: "WSAPROTOCOL_INFOW.szProtocol",
            length: 256,
            max: 255
        })
    );
    p.name = "x".repeat(255);
    assert!(p.encode().is_ok());
    let d = WspData {
        version: WinsockVersion::V2_2,
        high_version: WinsockVersion::V2_2,
        description: "d".repeat(256),
    };
    assert_eq!(
        d.encode(),
        Err(EncodeError::StringTooLong {
            field: "WSPDATA.szDescription",
            length: 256,
            max: 255
        })
    );
    // An embedded NUL cannot be represented either.
    p.name = "a\0b".into();
    assert_eq!(
        p.encode(),
        Err(EncodeError::EmbeddedNul {
            field: "WSAPROTOCOL_INFOW.szProtocol"
        })
    );
    assert_eq!(p.encode().unwrap_err().wsa_error(), WsaError::WSAEINVAL);
}

// ---------------------------------------------------------------------------------------------
// Fixed-length values
// ---------------------------------------------------------------------------------------------

#[test]
fn protocol_chain_length_outside_range_is_not_encoded() {
    let mut p = spi_types::ProtocolInfo::tcpip(1);
    p.protocol_chain.len = 8;
    assert_eq!(p.encode(), Err(EncodeError::BadChainLength(8)));
    p.protocol_chain.len = -1;
    assert_eq!(p.encode(), Err(EncodeError::BadChainLength(-1)));
}

#[test]
fn registration_value_of_wrong_length() {
    let good = WINOFED_PROVIDER_GUID.to_bytes();
    for len in [0usize, 15, 17] {
        let data: Vec<u8> = good.iter().copied().cycle().take(len).collect();
        let want = Err(DecodeError::WrongLength {
            what: "TCP on SAN registration value",
            expected: 16,
            found: len,
        });
        assert_eq!(guid_from_reg_binary(&data), want, "{len}");
        let r = SanRegistration {
            name: "OpenFabrics Alliance".into(),
            data,
        };
        assert_eq!(r.provider_guid(), want, "{len}");
    }
    let r = SanRegistration::new("OpenFabrics Alliance", WINOFED_PROVIDER_GUID);
    assert_eq!(r.data, good);
    assert_eq!(r.provider_guid(), Ok(WINOFED_PROVIDER_GUID));
}

#[test]
fn guid_from_wrong_length_slice() {
    for len in [0usize, 1, 15, 17, 32] {
        assert_eq!(
            Guid::from_slice(&vec![0u8; len]),
            Err(DecodeError::WrongLength {
                what: "GUID",
                expected: 16,
                found: len
            })
        );
    }
    assert_eq!(Guid::from_slice(&[0u8; 16]), Ok(Guid::default()));
}

#[test]
fn decode_errors_display_what_is_wrong() {
    let e = DecodeError::CountTooLarge { count: 2, max: 1 };
    assert_eq!(
        e.to_string(),
        "address count 2 cannot fit: the buffer holds at most 1 entries"
    );
    let e = DecodeError::LengthTooShort {
        context: "address entry 1: ".into(),
        family: 23,
        length: 27,
        needed: 28,
    };
    assert_eq!(
        e.to_string(),
        "address entry 1: sockaddr of family 23 needs 28 bytes, has 27"
    );
    assert_eq!(
        DecodeError::BadChainLength(8).to_string(),
        "protocol chain length 8 is outside 0..=7"
    );
}

// ---------------------------------------------------------------------------------------------
// 32-bit layout
// ---------------------------------------------------------------------------------------------

#[test]
fn address_list_32_bit_layout_encodes_byte_for_byte() {
    let addrs: Vec<SocketAddr> = vec![
        "192.168.77.9:0".parse().unwrap(),
        "10.1.2.3:0".parse().unwrap(),
    ];
    let base = 0x0040_1000u64;
    let b = encode_address_list(&addrs, base, X86).unwrap();
    let mut want = Vec::new();
    want.extend_from_slice(&2i32.to_le_bytes()); // iAddressCount @0
    want.extend_from_slice(&0x0040_1014u32.to_le_bytes()); // Address[0].lpSockaddr @4 -> base+20
    want.extend_from_slice(&16i32.to_le_bytes()); // Address[0].iSockaddrLength @8
    want.extend_from_slice(&0x0040_1024u32.to_le_bytes()); // Address[1].lpSockaddr @12 -> base+36
    want.extend_from_slice(&16i32.to_le_bytes()); // Address[1].iSockaddrLength @16
    want.extend_from_slice(&[2, 0, 0, 0, 192, 168, 77, 9, 0, 0, 0, 0, 0, 0, 0, 0]);
    want.extend_from_slice(&[2, 0, 0, 0, 10, 1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(b, want);
    assert_eq!(b.len(), 4 + 24 * 2);
    assert_eq!(decode_address_list(&b, base, X86), Ok(addrs.clone()));
    // The same bytes read as a 64-bit list are not the same list.
    assert_ne!(decode_address_list(&b, base, X64), Ok(addrs));
}

#[test]
fn address_list_32_bit_empty_list_is_twelve_zero_bytes() {
    assert_eq!(
        encode_address_list(&[], 0x1000, X86).unwrap(),
        vec![0u8; 12]
    );
    assert_eq!(
        encode_address_list(&[], 0x1000, X64).unwrap(),
        vec![0u8; 24]
    );
}

#[test]
fn address_list_32_bit_decoding_errors() {
    // count 1, pointer base+12, length 16, sockaddr at 12.
    let base = 0x8000_0000u64;
    let mut b = Vec::new();
    b.extend_from_slice(&1i32.to_le_bytes());
    b.extend_from_slice(&0x8000_000Cu32.to_le_bytes());
    b.extend_from_slice(&16i32.to_le_bytes());
    b.extend_from_slice(&sin([172, 16, 0, 1]));
    assert_eq!(
        decode_address_list(&b, base, X86),
        Ok(vec!["172.16.0.1:0".parse().unwrap()])
    );
    // A 32-bit pointer can never reach a base above 4 GiB.
    assert!(matches!(
        decode_address_list(&b, 0x1_0000_0000, X86),
        Err(DecodeError::PointerOutside {
            pointer: 0x8000_000C,
            ..
        })
    ));
    let mut neg = b.clone();
    neg[8..12].copy_from_slice(&(-1i32).to_le_bytes());
    assert_eq!(
        decode_address_list(&neg, base, X86),
        Err(DecodeError::NegativeLength {
            index: 0,
            length: -1
        })
    );
}

#[test]
fn address_list_32_bit_base_must_fit_a_32_bit_pointer() {
    let addrs: Vec<SocketAddr> = vec!["10.0.0.1:0".parse().unwrap()];
    let needed = 4 + 24;
    // The last buffer that fits below 4 GiB: it ends exactly at the top of the address space.
    let top = (1u64 << 32) - needed as u64;
    let b = encode_address_list(&addrs, top, X86).unwrap();
    assert_eq!(decode_address_list(&b, top, X86), Ok(addrs.clone()));
    assert_eq!(
        encode_address_list(&addrs, top + 1, X86),
        Err(EncodeError::PointerOverflow {
            base: top + 1,
            bits: 32
        })
    );
    assert_eq!(
        encode_address_list(&addrs, 0x1_0000_0000, X86)
            .unwrap_err()
            .wsa_error(),
        WsaError::WSAEINVAL
    );
    // And a 64-bit buffer cannot wrap around the address space.
    let top64 = u64::MAX - (8 + 32) + 1;
    let b = encode_address_list(&addrs, top64, X64).unwrap();
    assert_eq!(decode_address_list(&b, top64, X64), Ok(addrs.clone()));
    assert_eq!(
        encode_address_list(&addrs, top64 + 1, X64),
        Err(EncodeError::PointerOverflow {
            base: top64 + 1,
            bits: 64
        })
    );
}

#[test]
fn too_small_buffer_for_each_width() {
    let addrs: Vec<SocketAddr> = vec![
        "10.0.0.1:0".parse().unwrap(),
        "[fd00::2]:0".parse().unwrap(),
    ];
    for (w, needed) in [(X64, 8 + 32 + 16 + 28), (X86, 4 + 16 + 16 + 28)] {
        let mut out = vec![0x5au8; needed - 1];
        let e = encode_address_list_into(&addrs, 0x1000, w, &mut out).unwrap_err();
        assert_eq!(
            e,
            EncodeError::BufferTooSmall {
                needed,
                available: needed - 1
            }
        );
        assert_eq!(e.wsa_error(), WsaError::WSAEFAULT);
        assert!(out.iter().all(|&b| b == 0x5a), "left untouched");
    }
    let mut short = [0u8; 27];
    assert_eq!(
        write_sockaddr(&addrs[1], &mut short),
        Err(EncodeError::BufferTooSmall {
            needed: 28,
            available: 27
        })
    );
}

// ---------------------------------------------------------------------------------------------
// IPv6 and sin_zero
// ---------------------------------------------------------------------------------------------

#[test]
fn ipv6_with_scope_id_and_flow_info_round_trips() {
    let a = SocketAddr::V6(SocketAddrV6::new(
        "fe80::1234:5678:9abc:def0".parse::<Ipv6Addr>().unwrap(),
        0xBEEF,
        0x000F_FFFF,
        0x1234_5678,
    ));
    let b = encode_sockaddr(&a);
    assert_eq!(b.len(), 28);
    let back = decode_sockaddr(&b).unwrap();
    assert_eq!(back, a);
    match back {
        SocketAddr::V6(v6) => {
            assert_eq!(v6.flowinfo(), 0x000F_FFFF);
            assert_eq!(v6.scope_id(), 0x1234_5678);
            assert_eq!(v6.port(), 0xBEEF);
        }
        SocketAddr::V4(_) => panic!("not v6"),
    }
    for w in [X64, X86] {
        let list = encode_address_list(&[a, a], 0x2000, w).unwrap();
        assert_eq!(decode_address_list(&list, 0x2000, w), Ok(vec![a, a]));
    }
}

#[test]
fn sin_zero_garbage_is_ignored() {
    let mut b = encode_sockaddr(&"192.168.77.9:445".parse().unwrap());
    b[8..16].copy_from_slice(&[0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89]);
    assert_eq!(decode_sockaddr(&b), Ok("192.168.77.9:445".parse().unwrap()));
    // Bytes past the family's size are ignored too.
    let mut longer = b.clone();
    longer.extend_from_slice(&[0xff; 100]);
    assert_eq!(
        decode_sockaddr(&longer),
        Ok("192.168.77.9:445".parse().unwrap())
    );
    // In a list, with 0xab padding everywhere a real implementation leaves it.
    let l = list64(1, &[(BASE + 24, 16)], &b);
    assert_eq!(
        decode_address_list(&l, BASE, X64),
        Ok(vec!["192.168.77.9:445".parse().unwrap()])
    );
    // And the encoder writes sin_zero as zeros.
    let mut out = [0xffu8; 16];
    write_sockaddr(&"1.2.3.4:5".parse().unwrap(), &mut out).unwrap();
    assert_eq!(out[8..16], [0u8; 8]);
}

#[test]
fn sockaddr_longer_than_needed_in_a_list_is_accepted() {
    // An IPv4 sockaddr given a SOCKADDR_STORAGE-sized length.
    let mut tail = sin([1, 2, 3, 4]);
    tail.resize(128, 0xab);
    let l = list64(1, &[(BASE + 24, 128)], &tail);
    assert_eq!(
        decode_address_list(&l, BASE, X64),
        Ok(vec!["1.2.3.4:0".parse().unwrap()])
    );
}

#[test]
fn entries_may_share_a_sockaddr() {
    let l = list64(2, &[(BASE + 40, 16), (BASE + 40, 16)], &sin([1, 2, 3, 4]));
    assert_eq!(
        decode_address_list(&l, BASE, X64),
        Ok(vec![
            "1.2.3.4:0".parse().unwrap(),
            "1.2.3.4:0".parse().unwrap()
        ])
    );
}
