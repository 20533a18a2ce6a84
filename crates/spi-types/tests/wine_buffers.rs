//! Buffers captured from Wine 8.0's ws2_32 (x86_64): the four `WSAPROTOCOL_INFOW` catalog
//! records and one `SIO_ADDRESS_LIST_QUERY` answer decode to exactly the recorded values, and
//! encode back to the recorded bytes.

use std::net::{IpAddr, SocketAddr};

use serde_json::Value;
use spi_types::address_list::{
    PointerWidth, decode_address_list, encode_address_list, encode_address_list_into, required_size,
};
use spi_types::{AddressFamily, EncodeError, Guid, ProtocolInfo, WsaError};

const CAPTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../testdata/winsock/wine-ws2_32.json"
);

fn capture() -> Value {
    let text = std::fs::read_to_string(CAPTURE)
        .unwrap_or_else(|e| panic!("cannot read the Wine capture at {CAPTURE}: {e}"));
    serde_json::from_str(&text).expect("the Wine capture is JSON")
}

fn hex(s: &str) -> Vec<u8> {
    assert_eq!(s.len() % 2, 0, "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn int(v: &Value, key: &str) -> i64 {
    v[key]
        .as_i64()
        .unwrap_or_else(|| panic!("{key} is not an integer"))
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not a string"))
}

fn records() -> Vec<Value> {
    let c = capture();
    let r = c["protocol_info"]
        .as_array()
        .expect("protocol_info[]")
        .clone();
    assert_eq!(r.len(), 4, "four catalog records");
    r
}

fn address_answer() -> Value {
    let c = capture();
    let a = c["address_list_query"]
        .as_array()
        .expect("address_list_query[]");
    assert_eq!(a.len(), 1);
    a[0].clone()
}

/// Asserts that `p` carries every field value the probe recorded for `r`.
fn assert_record_fields(p: &ProtocolInfo, r: &Value) {
    let name = text(r, "name");
    assert_eq!(p.name, name);
    assert_eq!(
        i64::from(p.service_flags1.bits()),
        int(r, "service_flags1"),
        "{name} service_flags1"
    );
    assert_eq!(
        i64::from(p.provider_flags.bits()),
        int(r, "provider_flags"),
        "{name} provider_flags"
    );
    let id: Guid = text(r, "provider_id").parse().unwrap();
    assert_eq!(p.provider_id, id, "{name} provider_id");
    assert_eq!(
        p.provider_id.to_string(),
        format!("{{{}}}", text(r, "provider_id")),
        "{name} provider_id text"
    );
    assert_eq!(
        i64::from(p.catalog_entry_id),
        int(r, "catalog_entry_id"),
        "{name} catalog_entry_id"
    );
    assert_eq!(
        i64::from(p.protocol_chain.len),
        int(r, "chain_len"),
        "{name} chain_len"
    );
    assert_eq!(i64::from(p.version), int(r, "version"), "{name} version");
    assert_eq!(
        i64::from(p.address_family.0),
        int(r, "address_family"),
        "{name} address_family"
    );
    assert_eq!(
        i64::from(p.socket_type.0),
        int(r, "socket_type"),
        "{name} socket_type"
    );
    assert_eq!(
        i64::from(p.protocol.0),
        int(r, "protocol"),
        "{name} protocol"
    );
    assert_eq!(
        i64::from(p.max_sockaddr),
        int(r, "max_sockaddr"),
        "{name} max_sockaddr"
    );
    assert_eq!(
        i64::from(p.min_sockaddr),
        int(r, "min_sockaddr"),
        "{name} min_sockaddr"
    );
    assert_eq!(
        i64::from(p.message_size),
        int(r, "message_size"),
        "{name} message_size"
    );
}

fn decode_record(r: &Value) -> (ProtocolInfo, Vec<u8>) {
    let bytes = hex(text(r, "bytes"));
    assert_eq!(bytes.len(), 628, "{}: 628 bytes", text(r, "name"));
    (ProtocolInfo::decode(&bytes).expect("decodes"), bytes)
}

fn check_record(index: usize, expected_name: &str) {
    let r = &records()[index];
    assert_eq!(text(r, "name"), expected_name);
    let (p, bytes) = decode_record(r);
    assert_record_fields(&p, r);
    assert_eq!(
        p.encode().unwrap().as_slice(),
        bytes.as_slice(),
        "{expected_name}: encoding the decoded record gives the recorded bytes"
    );
}

#[test]
fn wine_tcpip_record_decodes_to_recorded_values_and_encodes_back() {
    check_record(0, "TCP/IP");
}

#[test]
fn wine_udpip_record_decodes_to_recorded_values_and_encodes_back() {
    check_record(1, "UDP/IP");
}

#[test]
fn wine_tcpipv6_record_decodes_to_recorded_values_and_encodes_back() {
    check_record(2, "TCP/IPv6");
}

#[test]
fn wine_udpipv6_record_decodes_to_recorded_values_and_encodes_back() {
    check_record(3, "UDP/IPv6");
}

#[test]
fn wine_records_reserved_fields_are_zero_and_chain_is_base() {
    for r in records() {
        let (p, _) = decode_record(&r);
        assert_eq!(p.protocol_chain, spi_types::ProtocolChain::base());
        assert_eq!(
            (p.service_flags2, p.service_flags3, p.service_flags4),
            (0, 0, 0)
        );
        assert_eq!(p.provider_reserved, 0);
        assert_eq!(p.protocol_max_offset, 0);
        assert_eq!(p.network_byte_order, spi_types::consts::BIGENDIAN);
        assert_eq!(p.security_scheme, spi_types::consts::SECURITY_PROTOCOL_NONE);
    }
}

#[test]
fn wine_tcpip_record_equals_protocol_info_tcpip_constructor() {
    let (p, bytes) = decode_record(&records()[0]);
    let built = ProtocolInfo::tcpip(1001);
    // Field by field, so a mismatch names the field.
    assert_eq!(built.service_flags1, p.service_flags1);
    assert_eq!(built.service_flags2, p.service_flags2);
    assert_eq!(built.service_flags3, p.service_flags3);
    assert_eq!(built.service_flags4, p.service_flags4);
    assert_eq!(built.provider_flags, p.provider_flags);
    assert_eq!(built.provider_id, p.provider_id);
    assert_eq!(built.catalog_entry_id, p.catalog_entry_id);
    assert_eq!(built.protocol_chain, p.protocol_chain);
    assert_eq!(built.version, p.version);
    assert_eq!(built.address_family, p.address_family);
    assert_eq!(built.max_sockaddr, p.max_sockaddr);
    assert_eq!(built.min_sockaddr, p.min_sockaddr);
    assert_eq!(built.socket_type, p.socket_type);
    assert_eq!(built.protocol, p.protocol);
    assert_eq!(built.protocol_max_offset, p.protocol_max_offset);
    assert_eq!(built.network_byte_order, p.network_byte_order);
    assert_eq!(built.security_scheme, p.security_scheme);
    assert_eq!(built.message_size, p.message_size);
    assert_eq!(built.provider_reserved, p.provider_reserved);
    assert_eq!(built.name, p.name);
    assert_eq!(built, p);
    assert_eq!(built.encode().unwrap().as_slice(), bytes.as_slice());
}

// ---------------------------------------------------------------------------------------------
// SIO_ADDRESS_LIST_QUERY
// ---------------------------------------------------------------------------------------------

fn base_of(a: &Value) -> u64 {
    let s = text(a, "base");
    u64::from_str_radix(s.strip_prefix("0x").expect("0x-prefixed base"), 16).unwrap()
}

fn recorded_addresses(a: &Value) -> Vec<SocketAddr> {
    a["addresses"]
        .as_array()
        .expect("addresses[]")
        .iter()
        .map(|v| {
            let ip: IpAddr = v.as_str().unwrap().parse().unwrap();
            // Providers write port 0.
            SocketAddr::new(ip, 0)
        })
        .collect()
}

#[test]
fn wine_address_list_decodes_to_recorded_addresses() {
    let a = address_answer();
    assert_eq!(int(&a, "socket_family"), i64::from(AddressFamily::INET.0));
    let bytes = hex(text(&a, "bytes"));
    assert_eq!(bytes.len() as i64, int(&a, "returned"));
    let got = decode_address_list(&bytes, base_of(&a), PointerWidth::Bits64).unwrap();
    assert_eq!(got, recorded_addresses(&a));
}

#[test]
fn wine_address_list_encodes_to_recorded_bytes_except_unwritten_ab_bytes() {
    let a = address_answer();
    let recorded = hex(text(&a, "bytes"));
    let ours =
        encode_address_list(&recorded_addresses(&a), base_of(&a), PointerWidth::Bits64).unwrap();
    assert_eq!(ours.len(), recorded.len());
    let mut ab_positions = Vec::new();
    for (i, (&r, &o)) in recorded.iter().zip(&ours).enumerate() {
        if r == 0xab && o == 0 {
            ab_positions.push(i);
        } else {
            assert_eq!(o, r, "byte {i}: ours {o:#04x}, recorded {r:#04x}");
        }
    }
    assert!(!ab_positions.is_empty());
    // Every unwritten byte is structure padding or sin_zero: header padding 4..8, entry padding
    // (16-byte entries from offset 8, 4 bytes after iSockaddrLength at +8..+12), and sin_zero
    // of each 16-byte sockaddr_in packed from offset 8 + 2 * 16 = 40.
    let count = usize::try_from(int(&a, "returned") - 8).unwrap() / 32;
    let is_padding = |i: usize| {
        (4..8).contains(&i)
            || (0..count).any(|k| {
                let entry = 8 + 16 * k;
                let sa = 8 + 16 * count + 16 * k;
                (entry + 12..entry + 16).contains(&i) || (sa + 8..sa + 16).contains(&i)
            })
    };
    for &i in &ab_positions {
        assert!(is_padding(i), "byte {i} is 0xab but no padding or sin_zero");
    }
}

#[test]
fn wine_address_list_pointers_point_into_the_buffer_after_the_entries() {
    let a = address_answer();
    let bytes = hex(text(&a, "bytes"));
    let base = base_of(&a);
    for k in 0..2 {
        let p = u64::from_le_bytes(bytes[8 + 16 * k..16 + 16 * k].try_into().unwrap());
        assert_eq!(p, base + 40 + 16 * k as u64);
        let len = i32::from_le_bytes(bytes[16 + 16 * k..20 + 16 * k].try_into().unwrap());
        assert_eq!(len, 16);
    }
}

#[test]
fn wine_address_list_required_size_is_recorded_needed() {
    let a = address_answer();
    let addrs = recorded_addresses(&a);
    for key in ["zero_buffer", "eight_byte_buffer"] {
        assert_eq!(
            required_size(&addrs, PointerWidth::Bits64) as i64,
            int(&a[key], "needed")
        );
    }
    assert_eq!(required_size(&addrs, PointerWidth::Bits64), 72);
    assert_eq!(
        required_size(&addrs, PointerWidth::Bits64) as i64,
        int(&a, "returned")
    );
}

#[test]
fn wine_address_list_too_small_buffers_fail_with_wsaefault_and_needed_size() {
    let a = address_answer();
    let addrs = recorded_addresses(&a);
    for (key, size) in [("zero_buffer", 0usize), ("eight_byte_buffer", 8)] {
        let rec = &a[key];
        let mut out = vec![0xabu8; size];
        let err = encode_address_list_into(&addrs, base_of(&a), PointerWidth::Bits64, &mut out)
            .unwrap_err();
        assert_eq!(
            err,
            EncodeError::BufferTooSmall {
                needed: 72,
                available: size
            }
        );
        match err {
            EncodeError::BufferTooSmall { needed, .. } => {
                assert_eq!(needed as i64, int(rec, "needed"), "{key}")
            }
            ref other => panic!("{key}: {other:?}"),
        }
        assert_eq!(err.wsa_error(), WsaError::WSAEFAULT);
        assert_eq!(err.wsa_error().code(), 10014);
        assert_eq!(
            i64::from(err.wsa_error().code()),
            int(rec, "error"),
            "{key}"
        );
        // The too-small buffer is left untouched.
        assert!(out.iter().all(|&b| b == 0xab), "{key}");
    }
}

#[test]
fn wine_address_list_into_exact_and_larger_buffer_succeeds() {
    let a = address_answer();
    let addrs = recorded_addresses(&a);
    let recorded = hex(text(&a, "bytes"));
    for extra in [0usize, 1, 100] {
        let mut out = vec![0xabu8; 72 + extra];
        let n =
            encode_address_list_into(&addrs, base_of(&a), PointerWidth::Bits64, &mut out).unwrap();
        assert_eq!(n, 72);
        assert!(
            out[72..].iter().all(|&b| b == 0xab),
            "bytes past 72 untouched"
        );
        assert_eq!(
            decode_address_list(&out[..72], base_of(&a), PointerWidth::Bits64).unwrap(),
            addrs
        );
        // Decoding the recorded buffer with trailing space also works.
        let mut longer = recorded.clone();
        longer.extend(std::iter::repeat_n(0xab, extra));
        assert_eq!(
            decode_address_list(&longer, base_of(&a), PointerWidth::Bits64).unwrap(),
            addrs
        );
    }
    // One byte short is too small.
    let mut out = vec![0u8; 71];
    assert_eq!(
        encode_address_list_into(&addrs, base_of(&a), PointerWidth::Bits64, &mut out),
        Err(EncodeError::BufferTooSmall {
            needed: 72,
            available: 71
        })
    );
}
