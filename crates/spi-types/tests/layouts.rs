//! Every size and offset of facts.md section 3, for 64- and 32-bit Windows, through
//! `layout::layout` and the codecs' size constants; the WinOFED address-list size formula.

use std::net::SocketAddr;

use spi_types::address_list::{self, PointerWidth, required_size};
use spi_types::layout::{Layout, PROC_TABLE_MEMBERS, Struct, UPCALL_TABLE_EX_MEMBERS, layout};
use spi_types::sockaddr::{
    SOCKADDR_IN_SIZE, SOCKADDR_IN6_SIZE, SOCKADDR_SIZE, SOCKADDR_STORAGE_SIZE,
};
use spi_types::{ProtocolChain, ProtocolInfo, WsaNetworkEvents, WspData};

const X64: PointerWidth = PointerWidth::Bits64;
const X86: PointerWidth = PointerWidth::Bits32;

/// Asserts the size, and every (field, x64 offset, x86 offset) given, and that the layout has no
/// other fields.
fn check(s: Struct, size: (usize, usize), fields: &[(&str, usize, usize)]) {
    for (w, want_size) in [(X64, size.0), (X86, size.1)] {
        let l: Layout = layout(s, w);
        assert_eq!(l.size, want_size, "{s:?} {w:?} size");
        for &(f, o64, o86) in fields {
            let want = if w == X64 { o64 } else { o86 };
            assert_eq!(l.offset(f), Some(want), "{s:?} {w:?} offset of {f}");
        }
        assert_eq!(l.fields.len(), fields.len(), "{s:?} {w:?} field count");
        assert_eq!(l.offset("NoSuchField"), None);
    }
}

fn check_align(s: Struct, x64: usize, x86: usize) {
    assert_eq!(layout(s, X64).align, x64, "{s:?} x64 align");
    assert_eq!(layout(s, X86).align, x86, "{s:?} x86 align");
}

#[test]
fn facts_3_1_guid_layout() {
    check(
        Struct::Guid,
        (16, 16),
        &[
            ("Data1", 0, 0),
            ("Data2", 4, 4),
            ("Data3", 6, 6),
            ("Data4", 8, 8),
        ],
    );
    check_align(Struct::Guid, 4, 4);
}

#[test]
fn facts_3_2_protocol_chain_layout() {
    check(
        Struct::ProtocolChain,
        (32, 32),
        &[("ChainLen", 0, 0), ("ChainEntries", 4, 4)],
    );
    check_align(Struct::ProtocolChain, 4, 4);
    assert_eq!(ProtocolChain::SIZE, 32);
}

#[test]
fn facts_3_3_wsaprotocol_infow_layout() {
    let fields: &[(&str, usize)] = &[
        ("dwServiceFlags1", 0),
        ("dwServiceFlags2", 4),
        ("dwServiceFlags3", 8),
        ("dwServiceFlags4", 12),
        ("dwProviderFlags", 16),
        ("ProviderId", 20),
        ("dwCatalogEntryId", 36),
        ("ProtocolChain", 40),
        ("iVersion", 72),
        ("iAddressFamily", 76),
        ("iMaxSockAddr", 80),
        ("iMinSockAddr", 84),
        ("iSocketType", 88),
        ("iProtocol", 92),
        ("iProtocolMaxOffset", 96),
        ("iNetworkByteOrder", 100),
        ("iSecurityScheme", 104),
        ("dwMessageSize", 108),
        ("dwProviderReserved", 112),
        ("szProtocol", 116),
    ];
    let both: Vec<_> = fields.iter().map(|&(f, o)| (f, o, o)).collect();
    check(Struct::ProtocolInfoW, (628, 628), &both);
    check_align(Struct::ProtocolInfoW, 4, 4);
    assert_eq!(ProtocolInfo::SIZE, 628);
    // No padding: each field ends where the next begins; szProtocol is 256 WCHARs.
    assert_eq!(116 + 256 * 2, 628);
}

#[test]
fn facts_3_3_protocol_info_encoder_writes_each_field_at_its_offset() {
    let mut p = ProtocolInfo::tcpip(0x1122_3344);
    p.service_flags2 = 0x0202_0202;
    p.service_flags3 = 0x0303_0303;
    p.service_flags4 = 0x0404_0404;
    p.protocol_chain = ProtocolChain {
        len: 7,
        entries: [0xE1, 0xE2, 0xE3, 0xE4, 0xE5, 0xE6, 0xE7],
    };
    p.version = 0x0A0A_0A0A;
    p.protocol_max_offset = 0x0B0B_0B0B;
    p.network_byte_order = 1;
    p.security_scheme = 0x0C0C_0C0C;
    p.message_size = 0x0D0D_0D0D;
    p.provider_reserved = 0x0E0E_0E0E;
    let b = p.encode().unwrap();
    let u = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
    let l = layout(Struct::ProtocolInfoW, X64);
    let at = |f: &str| l.offset(f).unwrap();
    assert_eq!(u(at("dwServiceFlags1")), 0x20066);
    assert_eq!(u(at("dwServiceFlags2")), 0x0202_0202);
    assert_eq!(u(at("dwServiceFlags3")), 0x0303_0303);
    assert_eq!(u(at("dwServiceFlags4")), 0x0404_0404);
    assert_eq!(u(at("dwProviderFlags")), 8);
    assert_eq!(
        b[at("ProviderId")..at("ProviderId") + 16],
        p.provider_id.to_bytes()
    );
    assert_eq!(u(at("dwCatalogEntryId")), 0x1122_3344);
    assert_eq!(u(at("ProtocolChain")), 7);
    for i in 0..7 {
        assert_eq!(u(at("ProtocolChain") + 4 + 4 * i), 0xE1 + i as u32);
    }
    assert_eq!(u(at("iVersion")), 0x0A0A_0A0A);
    assert_eq!(u(at("iAddressFamily")), 2);
    assert_eq!(u(at("iMaxSockAddr")), 16);
    assert_eq!(u(at("iMinSockAddr")), 16);
    assert_eq!(u(at("iSocketType")), 1);
    assert_eq!(u(at("iProtocol")), 6);
    assert_eq!(u(at("iProtocolMaxOffset")), 0x0B0B_0B0B);
    assert_eq!(u(at("iNetworkByteOrder")), 1);
    assert_eq!(u(at("iSecurityScheme")), 0x0C0C_0C0C);
    assert_eq!(u(at("dwMessageSize")), 0x0D0D_0D0D);
    assert_eq!(u(at("dwProviderReserved")), 0x0E0E_0E0E);
    let name: Vec<u8> = "TCP/IP".encode_utf16().flat_map(u16::to_le_bytes).collect();
    assert_eq!(b[116..116 + name.len()], name[..]);
    assert!(b[116 + name.len()..].iter().all(|&x| x == 0));
}

#[test]
fn facts_3_4_sockaddr_layouts() {
    check(
        Struct::Sockaddr,
        (16, 16),
        &[("sa_family", 0, 0), ("sa_data", 2, 2)],
    );
    check(
        Struct::SockaddrIn,
        (16, 16),
        &[
            ("sin_family", 0, 0),
            ("sin_port", 2, 2),
            ("sin_addr", 4, 4),
            ("sin_zero", 8, 8),
        ],
    );
    check_align(Struct::SockaddrIn, 4, 4);
    check(
        Struct::SockaddrIn6,
        (28, 28),
        &[
            ("sin6_family", 0, 0),
            ("sin6_port", 2, 2),
            ("sin6_flowinfo", 4, 4),
            ("sin6_addr", 8, 8),
            ("sin6_scope_id", 24, 24),
        ],
    );
    check_align(Struct::SockaddrIn6, 4, 4);
    check(Struct::SockaddrStorage, (128, 128), &[("ss_family", 0, 0)]);
    check_align(Struct::SockaddrStorage, 8, 8);
    assert_eq!(SOCKADDR_SIZE, 16);
    assert_eq!(SOCKADDR_IN_SIZE, 16);
    assert_eq!(SOCKADDR_IN6_SIZE, 28);
    assert_eq!(SOCKADDR_STORAGE_SIZE, 128);
}

#[test]
fn facts_3_4_sockaddr_encoder_writes_each_field_at_its_offset() {
    use spi_types::sockaddr::encode_sockaddr;
    let v4: SocketAddr = "192.168.77.9:445".parse().unwrap();
    let b = encode_sockaddr(&v4);
    assert_eq!(
        b,
        [2, 0, 0x01, 0xbd, 192, 168, 77, 9, 0, 0, 0, 0, 0, 0, 0, 0]
    );
    let v6 = SocketAddr::V6(std::net::SocketAddrV6::new(
        "fd00::1:2".parse().unwrap(),
        0x1234,
        0xA1B2_C3D4,
        0x0000_0007,
    ));
    let b = encode_sockaddr(&v6);
    assert_eq!(b.len(), 28);
    assert_eq!(b[0..2], [23, 0], "sin6_family = 23, host order");
    assert_eq!(b[2..4], [0x12, 0x34], "sin6_port, network order");
    assert_eq!(b[4..8], 0xA1B2_C3D4u32.to_le_bytes(), "sin6_flowinfo");
    assert_eq!(
        b[8..24],
        "fd00::1:2".parse::<std::net::Ipv6Addr>().unwrap().octets()
    );
    assert_eq!(b[24..28], 7u32.to_le_bytes(), "sin6_scope_id");
}

#[test]
fn facts_3_5_socket_address_and_list_layouts() {
    check(
        Struct::SocketAddress,
        (16, 8),
        &[("lpSockaddr", 0, 0), ("iSockaddrLength", 8, 4)],
    );
    check_align(Struct::SocketAddress, 8, 4);
    check(
        Struct::SocketAddressList,
        (24, 12),
        &[("iAddressCount", 0, 0), ("Address", 8, 4)],
    );
    check_align(Struct::SocketAddressList, 8, 4);
    // The address-list codec uses the same numbers.
    assert_eq!(X64.bytes(), 8);
    assert_eq!(X86.bytes(), 4);
    assert_eq!(X64.header_size(), 8);
    assert_eq!(X86.header_size(), 4);
    assert_eq!(X64.entry_size(), 16);
    assert_eq!(X86.entry_size(), 8);
    assert_eq!(X64.list_struct_size(), 24);
    assert_eq!(X86.list_struct_size(), 12);
    assert_eq!(PointerWidth::default(), X64);
}

fn v4s(n: usize) -> Vec<SocketAddr> {
    (0..n)
        .map(|i| SocketAddr::from(([10, 0, (i >> 8) as u8, i as u8], 0)))
        .collect()
}

#[test]
fn facts_3_5_winofed_address_list_size_formula() {
    // n = 0 gives sizeof(SOCKET_ADDRESS_LIST).
    assert_eq!(required_size(&[], X64), 24);
    assert_eq!(required_size(&[], X86), 12);
    for n in 1..=300 {
        let a = v4s(n);
        assert_eq!(required_size(&a, X64), 8 + 32 * n, "x64 n={n}");
        assert_eq!(required_size(&a, X86), 4 + 24 * n, "x86 n={n}");
        // WinOFED's own expression.
        for (w, list, entry) in [(X64, 24, 16), (X86, 12, 8)] {
            assert_eq!(
                required_size(&a, w),
                list + (n - 1) * (entry + 16) + 16,
                "{w:?} n={n}"
            );
        }
        // The encoder writes exactly that much.
        assert_eq!(
            address_list::encode_address_list(&a, 0x1000, X64)
                .unwrap()
                .len(),
            8 + 32 * n
        );
        assert_eq!(
            address_list::encode_address_list(&a, 0x1000, X86)
                .unwrap()
                .len(),
            4 + 24 * n
        );
    }
    assert_eq!(
        address_list::encode_address_list(&[], 0x1000, X64)
            .unwrap()
            .len(),
        24
    );
    assert_eq!(
        address_list::encode_address_list(&[], 0x1000, X86)
            .unwrap()
            .len(),
        12
    );
}

#[test]
fn facts_3_5_address_list_size_with_ipv6_entries() {
    let v6: SocketAddr = "[fd00::1]:0".parse().unwrap();
    let v4: SocketAddr = "10.0.0.1:0".parse().unwrap();
    assert_eq!(required_size(&[v6], X64), 8 + 16 + 28);
    assert_eq!(required_size(&[v6], X86), 4 + 8 + 28);
    assert_eq!(required_size(&[v4, v6], X64), 8 + 2 * 16 + 16 + 28);
    assert_eq!(required_size(&[v4, v6], X86), 4 + 2 * 8 + 16 + 28);
}

#[test]
fn facts_3_6_wspdata_layout() {
    check(
        Struct::WspData,
        (516, 516),
        &[
            ("wVersion", 0, 0),
            ("wHighVersion", 2, 2),
            ("szDescription", 4, 4),
        ],
    );
    check_align(Struct::WspData, 2, 2);
    assert_eq!(WspData::SIZE, 516);
    let d = WspData {
        version: spi_types::WinsockVersion::new(2, 2),
        high_version: spi_types::WinsockVersion::new(2, 0),
        description: "ab".into(),
    };
    let b = d.encode().unwrap();
    assert_eq!(b[0..2], [2, 2]);
    assert_eq!(b[2..4], [2, 0]);
    assert_eq!(b[4..10], [b'a', 0, b'b', 0, 0, 0]);
}

#[test]
fn facts_3_7_wsathreadid_layout() {
    check(
        Struct::WsaThreadId,
        (16, 8),
        &[("ThreadHandle", 0, 0), ("Reserved", 8, 4)],
    );
}

#[test]
fn facts_3_8_wsabuf_and_wsabufex_layouts() {
    check(Struct::WsaBuf, (16, 8), &[("len", 0, 0), ("buf", 8, 4)]);
    check(
        Struct::WsaBufEx,
        (24, 12),
        &[("len", 0, 0), ("buf", 8, 4), ("handle", 16, 8)],
    );
}

#[test]
fn facts_3_9_wsaoverlapped_layout() {
    check(
        Struct::WsaOverlapped,
        (32, 20),
        &[
            ("Internal", 0, 0),
            ("InternalHigh", 8, 4),
            ("Offset", 16, 8),
            ("OffsetHigh", 20, 12),
            ("hEvent", 24, 16),
        ],
    );
    check_align(Struct::WsaOverlapped, 8, 4);
}

#[test]
fn facts_3_10_wsanetworkevents_layout() {
    check(
        Struct::WsaNetworkEvents,
        (44, 44),
        &[("lNetworkEvents", 0, 0), ("iErrorCode", 4, 4)],
    );
    assert_eq!(WsaNetworkEvents::SIZE, 44);
    let mut ev = WsaNetworkEvents::default();
    ev.set(
        spi_types::NetworkEvents::ADDRESS_LIST_CHANGE,
        Some(spi_types::WsaError::WSAENETDOWN),
    );
    let b = ev.encode();
    assert_eq!(b[0..4], 0x200i32.to_le_bytes());
    // iErrorCode[FD_ADDRESS_LIST_CHANGE_BIT = 9] at 4 + 4 * 9.
    assert_eq!(b[40..44], 10050i32.to_le_bytes());
    assert!(b[4..40].iter().all(|&x| x == 0));
}

#[test]
fn facts_3_11_flowspec_and_qos_layouts() {
    check(
        Struct::FlowSpec,
        (32, 32),
        &[
            ("TokenRate", 0, 0),
            ("TokenBucketSize", 4, 4),
            ("PeakBandwidth", 8, 8),
            ("Latency", 12, 12),
            ("DelayVariation", 16, 16),
            ("ServiceType", 20, 20),
            ("MaxSduSize", 24, 24),
            ("MinimumPolicedSize", 28, 28),
        ],
    );
    check(
        Struct::Qos,
        (80, 72),
        &[
            ("SendingFlowspec", 0, 0),
            ("ReceivingFlowspec", 32, 32),
            ("ProviderSpecific", 64, 64),
        ],
    );
}

#[test]
fn facts_3_13_upcall_table_ex_member_order_and_size() {
    let facts: [&str; 16] = [
        "lpWPUCloseEvent",
        "lpWPUCloseSocketHandle",
        "lpWPUCreateEvent",
        "lpWPUCreateSocketHandle",
        "lpWPUFDIsSet",
        "lpWPUGetProviderPath",
        "lpWPUModifyIFSHandle",
        "lpWPUPostMessage",
        "lpWPUQueryBlockingCallback",
        "lpWPUQuerySocketHandleContext",
        "lpWPUQueueApc",
        "lpWPUResetEvent",
        "lpWPUSetEvent",
        "lpWPUOpenCurrentThread",
        "lpWPUCloseThread",
        "lpWPUCompleteOverlappedRequest",
    ];
    assert_eq!(UPCALL_TABLE_EX_MEMBERS, facts);
    let fields: Vec<_> = facts
        .iter()
        .enumerate()
        .map(|(i, &n)| (n, 8 * i, 4 * i))
        .collect();
    check(Struct::UpcallTableEx, (128, 64), &fields);
}

#[test]
fn facts_3_14_proc_table_member_order_and_size() {
    let facts: [&str; 30] = [
        "lpWSPAccept",
        "lpWSPAddressToString",
        "lpWSPAsyncSelect",
        "lpWSPBind",
        "lpWSPCancelBlockingCall",
        "lpWSPCleanup",
        "lpWSPCloseSocket",
        "lpWSPConnect",
        "lpWSPDuplicateSocket",
        "lpWSPEnumNetworkEvents",
        "lpWSPEventSelect",
        "lpWSPGetOverlappedResult",
        "lpWSPGetPeerName",
        "lpWSPGetSockName",
        "lpWSPGetSockOpt",
        "lpWSPGetQOSByName",
        "lpWSPIoctl",
        "lpWSPJoinLeaf",
        "lpWSPListen",
        "lpWSPRecv",
        "lpWSPRecvDisconnect",
        "lpWSPRecvFrom",
        "lpWSPSelect",
        "lpWSPSend",
        "lpWSPSendDisconnect",
        "lpWSPSendTo",
        "lpWSPSetSockOpt",
        "lpWSPShutdown",
        "lpWSPSocket",
        "lpWSPStringToAddress",
    ];
    assert_eq!(PROC_TABLE_MEMBERS, facts);
    let fields: Vec<_> = facts
        .iter()
        .enumerate()
        .map(|(i, &n)| (n, 8 * i, 4 * i))
        .collect();
    check(Struct::ProcTable, (240, 120), &fields);
}

#[test]
fn facts_3_3_protocol_info_a_and_3_12_scalars_and_3_15_winofed_descriptor() {
    for w in [PointerWidth::Bits64, PointerWidth::Bits32] {
        let a = layout(Struct::ProtocolInfoA, w);
        assert_eq!(a.size, 372);
        assert_eq!(a.offset("szProtocol"), Some(116));
        assert_eq!(layout(Struct::Group, w).size, 4);
        assert_eq!(layout(Struct::Bool, w).size, 4);
        let d = layout(Struct::WinofedRdmaDescriptor, w);
        assert_eq!(d.size, 24);
        assert_eq!(
            [
                d.offset("iova"),
                d.offset("lkey"),
                d.offset("rkey"),
                d.offset("node1")
            ],
            [Some(0), Some(8), Some(12), Some(16)]
        );
    }
    assert_eq!(layout(Struct::Socket, PointerWidth::Bits64).size, 8);
    assert_eq!(layout(Struct::Socket, PointerWidth::Bits32).size, 4);
}
