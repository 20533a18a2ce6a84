//! Every numeric value of facts.md section 1 and every GUID of section 2, as literal tables
//! copied from the facts sheet (never derived from the crate), so a wrong constant fails.

use spi_types::consts::{self, AddressFamily, ConditionResult, Protocol, SocketType};
use spi_types::flags::{self, FD_ALL_EVENTS, FD_MAX_EVENTS, MSG_MAXIOVLEN};
use spi_types::ioctl::{self, IoctlCode};
use spi_types::{
    Guid, MemoryAccess, MsgFlags, NetworkEvents, ProviderFlags, SanExtension, ServiceFlags,
    SocketFlags, WINOFED_PROVIDER_GUID, WsaError,
};

// ---------------------------------------------------------------------------------------------
// 1.1 IOCTL composition
// ---------------------------------------------------------------------------------------------

#[test]
fn facts_1_1_ioctl_composition_constants() {
    let table: &[(&str, u32, u32)] = &[
        ("IOCPARM_MASK", ioctl::IOCPARM_MASK, 0x7f),
        ("IOC_VOID", ioctl::IOC_VOID, 0x2000_0000),
        ("IOC_OUT", ioctl::IOC_OUT, 0x4000_0000),
        ("IOC_IN", ioctl::IOC_IN, 0x8000_0000),
        ("IOC_INOUT", ioctl::IOC_INOUT, 0xC000_0000),
        ("IOC_UNIX", ioctl::IOC_UNIX, 0x0000_0000),
        ("IOC_WS2", ioctl::IOC_WS2, 0x0800_0000),
        ("IOC_PROTOCOL", ioctl::IOC_PROTOCOL, 0x1000_0000),
        ("IOC_VENDOR", ioctl::IOC_VENDOR, 0x1800_0000),
    ];
    for &(name, got, want) in table {
        assert_eq!(got, want, "{name}");
    }
    assert_eq!(ioctl::IOC_INOUT, ioctl::IOC_IN | ioctl::IOC_OUT);
}

/// How a control code is composed in the headers.
#[derive(Clone, Copy, Debug)]
enum Macro {
    Io,
    Ior,
    Iow,
    Iorw,
}

/// (name, constant, macro, code, hex, dec) from the facts table.
const SIO_TABLE: &[(&str, IoctlCode, Macro, u32, u32, u32)] = &[
    (
        "SIO_GET_EXTENSION_FUNCTION_POINTER",
        IoctlCode::SIO_GET_EXTENSION_FUNCTION_POINTER,
        Macro::Iorw,
        6,
        0xC800_0006,
        3355443206,
    ),
    (
        "SIO_GET_QOS",
        IoctlCode::SIO_GET_QOS,
        Macro::Iorw,
        7,
        0xC800_0007,
        3355443207,
    ),
    (
        "SIO_GET_GROUP_QOS",
        IoctlCode::SIO_GET_GROUP_QOS,
        Macro::Iorw,
        8,
        0xC800_0008,
        3355443208,
    ),
    (
        "SIO_SET_QOS",
        IoctlCode::SIO_SET_QOS,
        Macro::Iow,
        11,
        0x8800_000B,
        2281701387,
    ),
    (
        "SIO_SET_GROUP_QOS",
        IoctlCode::SIO_SET_GROUP_QOS,
        Macro::Iow,
        12,
        0x8800_000C,
        2281701388,
    ),
    (
        "SIO_ADDRESS_LIST_QUERY",
        IoctlCode::SIO_ADDRESS_LIST_QUERY,
        Macro::Ior,
        22,
        0x4800_0016,
        1207959574,
    ),
    (
        "SIO_ADDRESS_LIST_CHANGE",
        IoctlCode::SIO_ADDRESS_LIST_CHANGE,
        Macro::Io,
        23,
        0x2800_0017,
        671088663,
    ),
];

#[test]
fn facts_1_1_every_sio_code_hex_and_dec() {
    for &(name, code, _, _, hex, dec) in SIO_TABLE {
        assert_eq!(hex, dec, "{name}: facts table hex and dec disagree");
        assert_eq!(code.value(), hex, "{name} hex");
        assert_eq!(code.value(), dec, "{name} dec");
        assert_eq!(code.name(), Some(name));
        assert_eq!(code.to_string(), name);
    }
}

#[test]
fn facts_1_1_composing_with_the_helpers_gives_every_sio_code() {
    for &(name, code, mac, y, hex, _) in SIO_TABLE {
        let composed = match mac {
            Macro::Io => IoctlCode::wsaio(ioctl::IOC_WS2, y),
            Macro::Ior => IoctlCode::wsaior(ioctl::IOC_WS2, y),
            Macro::Iow => IoctlCode::wsaiow(ioctl::IOC_WS2, y),
            Macro::Iorw => IoctlCode::wsaiorw(ioctl::IOC_WS2, y),
        };
        assert_eq!(composed, code, "{name}");
        assert_eq!(composed.value(), hex, "{name}");
        // The documented bit fields.
        assert_eq!(composed.code(), y, "{name} code field");
        assert_eq!(composed.kind(), 1, "{name}: type is generic Winsock 2");
        assert_eq!(composed.vendor(), 0, "{name} vendor field");
        assert_eq!(
            composed.has_input(),
            matches!(mac, Macro::Iow | Macro::Iorw),
            "{name}"
        );
        assert_eq!(
            composed.has_output(),
            matches!(mac, Macro::Ior | Macro::Iorw),
            "{name}"
        );
        assert_eq!(composed.is_void(), matches!(mac, Macro::Io), "{name}");
    }
}

#[test]
fn facts_1_1_helpers_are_the_header_macros() {
    // _WSAIO(x,y)=IOC_VOID|x|y, _WSAIOR=IOC_OUT|x|y, _WSAIOW=IOC_IN|x|y, _WSAIORW=IOC_INOUT|x|y
    for x in [0u32, 0x0800_0000, 0x1000_0000, 0x1800_0000] {
        for y in [0u32, 1, 6, 0x7f, 0xffff] {
            assert_eq!(IoctlCode::wsaio(x, y).value(), 0x2000_0000 | x | y);
            assert_eq!(IoctlCode::wsaior(x, y).value(), 0x4000_0000 | x | y);
            assert_eq!(IoctlCode::wsaiow(x, y).value(), 0x8000_0000 | x | y);
            assert_eq!(IoctlCode::wsaiorw(x, y).value(), 0xC000_0000 | x | y);
            assert_eq!(IoctlCode::wsaio(x, y).kind(), x >> 27);
        }
    }
    assert_eq!(IoctlCode(0x1234_5678).name(), None);
    assert_eq!(IoctlCode(0x1234_5678).to_string(), "IoctlCode(0x12345678)");
}

// ---------------------------------------------------------------------------------------------
// 1.2 Socket options
// ---------------------------------------------------------------------------------------------

#[test]
fn facts_1_2_socket_options() {
    let table: &[(&str, i32, i32)] = &[
        ("SOL_SOCKET", consts::SOL_SOCKET, 0xffff),
        ("SO_DEBUG", consts::SO_DEBUG, 0x0001),
        ("SO_GROUP_ID", consts::SO_GROUP_ID, 0x2001),
        ("SO_GROUP_PRIORITY", consts::SO_GROUP_PRIORITY, 0x2002),
        ("SO_MAX_MSG_SIZE", consts::SO_MAX_MSG_SIZE, 0x2003),
        ("SO_PROTOCOL_INFOA", consts::SO_PROTOCOL_INFOA, 0x2004),
        ("SO_PROTOCOL_INFOW", consts::SO_PROTOCOL_INFOW, 0x2005),
        ("SO_MAX_RDMA_SIZE", consts::SO_MAX_RDMA_SIZE, 0x700D),
        (
            "SO_RDMA_THRESHOLD_SIZE",
            consts::SO_RDMA_THRESHOLD_SIZE,
            0x700E,
        ),
    ];
    for &(name, got, want) in table {
        assert_eq!(got, want, "{name}");
    }
}

// ---------------------------------------------------------------------------------------------
// 1.3 MEM flags
// ---------------------------------------------------------------------------------------------

#[test]
fn facts_1_3_memory_registration_flags() {
    let table: &[(&str, MemoryAccess, u32)] = &[
        ("MEM_READ", MemoryAccess::READ, 1),
        ("MEM_WRITE", MemoryAccess::WRITE, 2),
        ("MEM_READWRITE", MemoryAccess::READWRITE, 3),
    ];
    for &(name, got, want) in table {
        assert_eq!(got.bits(), want, "{name}");
    }
    assert_eq!(
        MemoryAccess::READ | MemoryAccess::WRITE,
        MemoryAccess::READWRITE
    );
}

// ---------------------------------------------------------------------------------------------
// 1.4 FD events
// ---------------------------------------------------------------------------------------------

/// (name, event, bit index, mask) from the facts table.
const FD_TABLE: &[(&str, NetworkEvents, usize, i32)] = &[
    ("FD_READ", NetworkEvents::READ, 0, 0x001),
    ("FD_WRITE", NetworkEvents::WRITE, 1, 0x002),
    ("FD_OOB", NetworkEvents::OOB, 2, 0x004),
    ("FD_ACCEPT", NetworkEvents::ACCEPT, 3, 0x008),
    ("FD_CONNECT", NetworkEvents::CONNECT, 4, 0x010),
    ("FD_CLOSE", NetworkEvents::CLOSE, 5, 0x020),
    ("FD_QOS", NetworkEvents::QOS, 6, 0x040),
    ("FD_GROUP_QOS", NetworkEvents::GROUP_QOS, 7, 0x080),
    (
        "FD_ROUTING_INTERFACE_CHANGE",
        NetworkEvents::ROUTING_INTERFACE_CHANGE,
        8,
        0x100,
    ),
    (
        "FD_ADDRESS_LIST_CHANGE",
        NetworkEvents::ADDRESS_LIST_CHANGE,
        9,
        0x200,
    ),
];

#[test]
fn facts_1_4_every_network_event_bit_index_and_mask() {
    assert_eq!(FD_TABLE.len(), 10);
    for &(name, ev, bit, mask) in FD_TABLE {
        assert_eq!(ev.bits(), mask, "{name} mask");
        assert_eq!(1 << bit, mask, "{name}: mask is 1 << bit");
        assert_eq!(ev.bit_index(), Some(bit), "{name} bit_index");
        assert_eq!(
            NetworkEvents::from_bit_index(bit),
            Some(ev),
            "{name} from_bit_index"
        );
    }
}

#[test]
fn facts_1_4_fd_max_events_and_fd_all_events() {
    assert_eq!(FD_MAX_EVENTS, 10);
    assert_eq!(FD_ALL_EVENTS, 0x3FF);
    assert_eq!(FD_ALL_EVENTS, (1 << 10) - 1);
    let all = FD_TABLE
        .iter()
        .fold(NetworkEvents::empty(), |acc, &(_, e, _, _)| acc | e);
    assert_eq!(all.bits(), FD_ALL_EVENTS);
}

#[test]
fn facts_1_4_bit_index_helpers_reject_non_single_events() {
    assert_eq!(NetworkEvents::from_bit_index(10), None);
    assert_eq!(NetworkEvents::from_bit_index(usize::MAX), None);
    assert_eq!(NetworkEvents::empty().bit_index(), None);
    assert_eq!(
        (NetworkEvents::READ | NetworkEvents::WRITE).bit_index(),
        None
    );
    assert_eq!(NetworkEvents::from_bits_retain(0x400).bit_index(), None);
    assert_eq!(NetworkEvents::from_bits_retain(i32::MIN).bit_index(), None);
    assert_eq!(NetworkEvents::from_bits_retain(-1).bit_index(), None);
}

// ---------------------------------------------------------------------------------------------
// 1.5 CF, 1.6 MSG
// ---------------------------------------------------------------------------------------------

#[test]
fn facts_1_5_condition_function_results() {
    let table: &[(&str, ConditionResult, i32)] = &[
        ("CF_ACCEPT", ConditionResult::Accept, 0x0000),
        ("CF_REJECT", ConditionResult::Reject, 0x0001),
        ("CF_DEFER", ConditionResult::Defer, 0x0002),
    ];
    for &(name, cf, v) in table {
        assert_eq!(cf.value(), v, "{name}");
        assert_eq!(ConditionResult::from_value(v), Some(cf), "{name}");
    }
    assert_eq!(ConditionResult::from_value(3), None);
    assert_eq!(ConditionResult::from_value(-1), None);
}

#[test]
fn facts_1_6_message_flags() {
    let table: &[(&str, MsgFlags, u32)] = &[
        ("MSG_OOB", MsgFlags::OOB, 0x1),
        ("MSG_PEEK", MsgFlags::PEEK, 0x2),
        ("MSG_DONTROUTE", MsgFlags::DONTROUTE, 0x4),
        ("MSG_WAITALL", MsgFlags::WAITALL, 0x8),
        ("MSG_INTERRUPT", MsgFlags::INTERRUPT, 0x10),
        ("MSG_PUSH_IMMEDIATE", MsgFlags::PUSH_IMMEDIATE, 0x20),
        ("MSG_PARTIAL", MsgFlags::PARTIAL, 0x8000),
    ];
    for &(name, f, v) in table {
        assert_eq!(f.bits(), v, "{name}");
    }
    assert_eq!(MSG_MAXIOVLEN, 16);
}

// ---------------------------------------------------------------------------------------------
// 1.7 XP1, 1.8 PFL
// ---------------------------------------------------------------------------------------------

#[test]
fn facts_1_7_every_xp1_service_flag() {
    let table: &[(&str, ServiceFlags, u32)] = &[
        (
            "XP1_CONNECTIONLESS",
            ServiceFlags::CONNECTIONLESS,
            0x0000_0001,
        ),
        (
            "XP1_GUARANTEED_DELIVERY",
            ServiceFlags::GUARANTEED_DELIVERY,
            0x0000_0002,
        ),
        (
            "XP1_GUARANTEED_ORDER",
            ServiceFlags::GUARANTEED_ORDER,
            0x0000_0004,
        ),
        (
            "XP1_MESSAGE_ORIENTED",
            ServiceFlags::MESSAGE_ORIENTED,
            0x0000_0008,
        ),
        (
            "XP1_PSEUDO_STREAM",
            ServiceFlags::PSEUDO_STREAM,
            0x0000_0010,
        ),
        (
            "XP1_GRACEFUL_CLOSE",
            ServiceFlags::GRACEFUL_CLOSE,
            0x0000_0020,
        ),
        (
            "XP1_EXPEDITED_DATA",
            ServiceFlags::EXPEDITED_DATA,
            0x0000_0040,
        ),
        ("XP1_CONNECT_DATA", ServiceFlags::CONNECT_DATA, 0x0000_0080),
        (
            "XP1_DISCONNECT_DATA",
            ServiceFlags::DISCONNECT_DATA,
            0x0000_0100,
        ),
        (
            "XP1_SUPPORT_BROADCAST",
            ServiceFlags::SUPPORT_BROADCAST,
            0x0000_0200,
        ),
        (
            "XP1_SUPPORT_MULTIPOINT",
            ServiceFlags::SUPPORT_MULTIPOINT,
            0x0000_0400,
        ),
        (
            "XP1_MULTIPOINT_CONTROL_PLANE",
            ServiceFlags::MULTIPOINT_CONTROL_PLANE,
            0x0000_0800,
        ),
        (
            "XP1_MULTIPOINT_DATA_PLANE",
            ServiceFlags::MULTIPOINT_DATA_PLANE,
            0x0000_1000,
        ),
        (
            "XP1_QOS_SUPPORTED",
            ServiceFlags::QOS_SUPPORTED,
            0x0000_2000,
        ),
        ("XP1_INTERRUPT", ServiceFlags::INTERRUPT, 0x0000_4000),
        ("XP1_UNI_SEND", ServiceFlags::UNI_SEND, 0x0000_8000),
        ("XP1_UNI_RECV", ServiceFlags::UNI_RECV, 0x0001_0000),
        ("XP1_IFS_HANDLES", ServiceFlags::IFS_HANDLES, 0x0002_0000),
        (
            "XP1_PARTIAL_MESSAGE",
            ServiceFlags::PARTIAL_MESSAGE,
            0x0004_0000,
        ),
        (
            "XP1_SAN_SUPPORT_SDP",
            ServiceFlags::SAN_SUPPORT_SDP,
            0x0008_0000,
        ),
    ];
    assert_eq!(table.len(), 20);
    for &(name, f, v) in table {
        assert_eq!(f.bits(), v, "{name}");
        let flag_name = name.strip_prefix("XP1_").unwrap();
        assert_eq!(
            ServiceFlags::from_name(flag_name),
            Some(f),
            "{name} bitflags name"
        );
    }
    // Unknown bits are kept, so a record re-encodes exactly.
    assert_eq!(
        ServiceFlags::from_bits_retain(0x8010_0000).bits(),
        0x8010_0000
    );
}

#[test]
fn facts_1_8_every_pfl_provider_flag() {
    let table: &[(&str, ProviderFlags, u32)] = &[
        (
            "PFL_MULTIPLE_PROTO_ENTRIES",
            ProviderFlags::MULTIPLE_PROTO_ENTRIES,
            0x0000_0001,
        ),
        (
            "PFL_RECOMMENDED_PROTO_ENTRY",
            ProviderFlags::RECOMMENDED_PROTO_ENTRY,
            0x0000_0002,
        ),
        ("PFL_HIDDEN", ProviderFlags::HIDDEN, 0x0000_0004),
        (
            "PFL_MATCHES_PROTOCOL_ZERO",
            ProviderFlags::MATCHES_PROTOCOL_ZERO,
            0x0000_0008,
        ),
        (
            "PFL_NETWORKDIRECT_PROVIDER",
            ProviderFlags::NETWORKDIRECT_PROVIDER,
            0x0000_0010,
        ),
    ];
    for &(name, f, v) in table {
        assert_eq!(f.bits(), v, "{name}");
        let flag_name = name.strip_prefix("PFL_").unwrap();
        assert_eq!(ProviderFlags::from_name(flag_name), Some(f), "{name}");
    }
    assert_eq!(
        ProviderFlags::from_bits_retain(0xF000_0000).bits(),
        0xF000_0000
    );
}

// ---------------------------------------------------------------------------------------------
// 1.9 misc
// ---------------------------------------------------------------------------------------------

#[test]
fn facts_1_9_misc_protocol_info_constants() {
    let ints: &[(&str, i64, i64)] = &[
        ("BIGENDIAN", consts::BIGENDIAN.into(), 0x0000),
        ("LITTLEENDIAN", consts::LITTLEENDIAN.into(), 0x0001),
        (
            "SECURITY_PROTOCOL_NONE",
            consts::SECURITY_PROTOCOL_NONE.into(),
            0x0000,
        ),
        ("WSAPROTOCOL_LEN", consts::WSAPROTOCOL_LEN as i64, 255),
        ("MAX_PROTOCOL_CHAIN", consts::MAX_PROTOCOL_CHAIN as i64, 7),
        ("BASE_PROTOCOL", consts::BASE_PROTOCOL.into(), 1),
        ("LAYERED_PROTOCOL", consts::LAYERED_PROTOCOL.into(), 0),
        ("WSPDESCRIPTION_LEN", consts::WSPDESCRIPTION_LEN as i64, 255),
        ("WSADESCRIPTION_LEN", consts::WSADESCRIPTION_LEN as i64, 256),
        ("WSASYS_STATUS_LEN", consts::WSASYS_STATUS_LEN as i64, 128),
        (
            "WSS_OPERATION_IN_PROGRESS",
            consts::WSS_OPERATION_IN_PROGRESS.into(),
            0x0000_0103,
        ),
        (
            "WSS_OPERATION_IN_PROGRESS (dec)",
            consts::WSS_OPERATION_IN_PROGRESS.into(),
            259,
        ),
        ("FROM_PROTOCOL_INFO", consts::FROM_PROTOCOL_INFO.into(), -1),
        (
            "SG_UNCONSTRAINED_GROUP",
            consts::SG_UNCONSTRAINED_GROUP.into(),
            0x01,
        ),
        (
            "SG_CONSTRAINED_GROUP",
            consts::SG_CONSTRAINED_GROUP.into(),
            0x02,
        ),
        ("SD_RECEIVE", consts::SD_RECEIVE.into(), 0),
        ("SD_SEND", consts::SD_SEND.into(), 1),
        ("SD_BOTH", consts::SD_BOTH.into(), 2),
        ("SOCKET_ERROR", consts::SOCKET_ERROR.into(), -1),
        ("INADDR_ANY", consts::INADDR_ANY.into(), 0x0000_0000),
        (
            "INADDR_LOOPBACK",
            consts::INADDR_LOOPBACK.into(),
            0x7f00_0001,
        ),
        ("INADDR_NONE", consts::INADDR_NONE.into(), 0xffff_ffff),
        ("SOMAXCONN", consts::SOMAXCONN.into(), 0x7fff_ffff),
        // 3.3 dwMessageSize specials.
        ("MESSAGE_SIZE_STREAM", consts::MESSAGE_SIZE_STREAM.into(), 0),
        ("MESSAGE_SIZE_MTU", consts::MESSAGE_SIZE_MTU.into(), 1),
        (
            "MESSAGE_SIZE_UNLIMITED",
            consts::MESSAGE_SIZE_UNLIMITED.into(),
            0xFFFF_FFFF,
        ),
    ];
    for &(name, got, want) in ints {
        assert_eq!(got, want, "{name}");
    }
    // INVALID_SOCKET = (SOCKET)~0, all ones at pointer width.
    assert_eq!(consts::INVALID_SOCKET_64, 0xFFFF_FFFF_FFFF_FFFF);
    assert_eq!(consts::INVALID_SOCKET_32, 0xFFFF_FFFF);
}

#[test]
fn facts_1_9_wsa_flag_socket_creation_flags() {
    let table: &[(&str, SocketFlags, u32)] = &[
        ("WSA_FLAG_OVERLAPPED", SocketFlags::OVERLAPPED, 0x01),
        (
            "WSA_FLAG_MULTIPOINT_C_ROOT",
            SocketFlags::MULTIPOINT_C_ROOT,
            0x02,
        ),
        (
            "WSA_FLAG_MULTIPOINT_C_LEAF",
            SocketFlags::MULTIPOINT_C_LEAF,
            0x04,
        ),
        (
            "WSA_FLAG_MULTIPOINT_D_ROOT",
            SocketFlags::MULTIPOINT_D_ROOT,
            0x08,
        ),
        (
            "WSA_FLAG_MULTIPOINT_D_LEAF",
            SocketFlags::MULTIPOINT_D_LEAF,
            0x10,
        ),
        (
            "WSA_FLAG_ACCESS_SYSTEM_SECURITY",
            SocketFlags::ACCESS_SYSTEM_SECURITY,
            0x40,
        ),
        (
            "WSA_FLAG_NO_HANDLE_INHERIT",
            SocketFlags::NO_HANDLE_INHERIT,
            0x80,
        ),
        ("WSA_FLAG_REGISTERED_IO", SocketFlags::REGISTERED_IO, 0x100),
    ];
    for &(name, f, v) in table {
        assert_eq!(f.bits(), v, "{name}");
    }
}

// ---------------------------------------------------------------------------------------------
// 1.10 AF / SOCK / IPPROTO
// ---------------------------------------------------------------------------------------------

#[test]
fn facts_1_10_address_families_socket_types_protocols() {
    let table: &[(&str, i32, i32)] = &[
        ("AF_UNSPEC", AddressFamily::UNSPEC.0, 0),
        ("AF_INET", AddressFamily::INET.0, 2),
        ("AF_INET6", AddressFamily::INET6.0, 23),
        ("SOCK_STREAM", SocketType::STREAM.0, 1),
        ("SOCK_DGRAM", SocketType::DGRAM.0, 2),
        ("SOCK_RAW", SocketType::RAW.0, 3),
        ("SOCK_RDM", SocketType::RDM.0, 4),
        ("SOCK_SEQPACKET", SocketType::SEQPACKET.0, 5),
        ("IPPROTO_IP", Protocol::IP.0, 0),
        ("IPPROTO_TCP", Protocol::TCP.0, 6),
        ("IPPROTO_UDP", Protocol::UDP.0, 17),
        ("IPPROTO_IPV6", Protocol::IPV6.0, 41),
        ("IPPROTO_RAW", Protocol::RAW.0, 255),
        ("TCP_NODELAY", consts::TCP_NODELAY, 0x0001),
    ];
    for &(name, got, want) in table {
        assert_eq!(got, want, "{name}");
    }
    assert_ne!(
        AddressFamily::INET6.0,
        10,
        "AF_INET6 is 23 on Windows, not Linux's 10"
    );
}

// ---------------------------------------------------------------------------------------------
// 1.11 error codes
// ---------------------------------------------------------------------------------------------

/// (name, offset from WSABASEERR, dec, hex) from the facts table.
const WSAE_TABLE: &[(&str, i32, i32, i32)] = &[
    ("WSAEINTR", 4, 10004, 0x2714),
    ("WSAEBADF", 9, 10009, 0x2719),
    ("WSAEACCES", 13, 10013, 0x271D),
    ("WSAEFAULT", 14, 10014, 0x271E),
    ("WSAEINVAL", 22, 10022, 0x2726),
    ("WSAEMFILE", 24, 10024, 0x2728),
    ("WSAEWOULDBLOCK", 35, 10035, 0x2733),
    ("WSAEINPROGRESS", 36, 10036, 0x2734),
    ("WSAEALREADY", 37, 10037, 0x2735),
    ("WSAENOTSOCK", 38, 10038, 0x2736),
    ("WSAEDESTADDRREQ", 39, 10039, 0x2737),
    ("WSAEMSGSIZE", 40, 10040, 0x2738),
    ("WSAEPROTOTYPE", 41, 10041, 0x2739),
    ("WSAENOPROTOOPT", 42, 10042, 0x273A),
    ("WSAEPROTONOSUPPORT", 43, 10043, 0x273B),
    ("WSAESOCKTNOSUPPORT", 44, 10044, 0x273C),
    ("WSAEOPNOTSUPP", 45, 10045, 0x273D),
    ("WSAEPFNOSUPPORT", 46, 10046, 0x273E),
    ("WSAEAFNOSUPPORT", 47, 10047, 0x273F),
    ("WSAEADDRINUSE", 48, 10048, 0x2740),
    ("WSAEADDRNOTAVAIL", 49, 10049, 0x2741),
    ("WSAENETDOWN", 50, 10050, 0x2742),
    ("WSAENETUNREACH", 51, 10051, 0x2743),
    ("WSAENETRESET", 52, 10052, 0x2744),
    ("WSAECONNABORTED", 53, 10053, 0x2745),
    ("WSAECONNRESET", 54, 10054, 0x2746),
    ("WSAENOBUFS", 55, 10055, 0x2747),
    ("WSAEISCONN", 56, 10056, 0x2748),
    ("WSAENOTCONN", 57, 10057, 0x2749),
    ("WSAESHUTDOWN", 58, 10058, 0x274A),
    ("WSAETOOMANYREFS", 59, 10059, 0x274B),
    ("WSAETIMEDOUT", 60, 10060, 0x274C),
    ("WSAECONNREFUSED", 61, 10061, 0x274D),
    ("WSAELOOP", 62, 10062, 0x274E),
    ("WSAENAMETOOLONG", 63, 10063, 0x274F),
    ("WSAEHOSTDOWN", 64, 10064, 0x2750),
    ("WSAEHOSTUNREACH", 65, 10065, 0x2751),
    ("WSAENOTEMPTY", 66, 10066, 0x2752),
    ("WSAEPROCLIM", 67, 10067, 0x2753),
    ("WSAEUSERS", 68, 10068, 0x2754),
    ("WSAEDQUOT", 69, 10069, 0x2755),
    ("WSAESTALE", 70, 10070, 0x2756),
    ("WSAEREMOTE", 71, 10071, 0x2757),
    ("WSASYSNOTREADY", 91, 10091, 0x276B),
    ("WSAVERNOTSUPPORTED", 92, 10092, 0x276C),
    ("WSANOTINITIALISED", 93, 10093, 0x276D),
    ("WSAEDISCON", 101, 10101, 0x2775),
    ("WSAENOMORE", 102, 10102, 0x2776),
    ("WSAECANCELLED", 103, 10103, 0x2777),
    ("WSAEINVALIDPROCTABLE", 104, 10104, 0x2778),
    ("WSAEINVALIDPROVIDER", 105, 10105, 0x2779),
    ("WSAEPROVIDERFAILEDINIT", 106, 10106, 0x277A),
    ("WSASYSCALLFAILURE", 107, 10107, 0x277B),
    ("WSASERVICE_NOT_FOUND", 108, 10108, 0x277C),
    ("WSATYPE_NOT_FOUND", 109, 10109, 0x277D),
    ("WSA_E_NO_MORE", 110, 10110, 0x277E),
    ("WSA_E_CANCELLED", 111, 10111, 0x277F),
    ("WSAEREFUSED", 112, 10112, 0x2780),
    ("WSAHOST_NOT_FOUND", 1001, 11001, 0x2AF9),
    ("WSATRY_AGAIN", 1002, 11002, 0x2AFA),
    ("WSANO_RECOVERY", 1003, 11003, 0x2AFB),
    ("WSANO_DATA", 1004, 11004, 0x2AFC),
];

/// (name, Win32 alias, value) from the facts table.
const WIN32_ALIASED: &[(&str, &str, i32)] = &[
    ("WSA_INVALID_HANDLE", "ERROR_INVALID_HANDLE", 6),
    ("WSA_NOT_ENOUGH_MEMORY", "ERROR_NOT_ENOUGH_MEMORY", 8),
    ("WSA_INVALID_PARAMETER", "ERROR_INVALID_PARAMETER", 87),
    ("WSA_OPERATION_ABORTED", "ERROR_OPERATION_ABORTED", 995),
    ("WSA_IO_INCOMPLETE", "ERROR_IO_INCOMPLETE", 996),
    ("WSA_IO_PENDING", "ERROR_IO_PENDING", 997),
];

/// The crate's named constant for a name of the facts table, written out by hand so a wrong
/// constant (not only a wrong name table) fails.
fn named_constant(name: &str) -> WsaError {
    match name {
        "WSAEINTR" => WsaError::WSAEINTR,
        "WSAEBADF" => WsaError::WSAEBADF,
        "WSAEACCES" => WsaError::WSAEACCES,
        "WSAEFAULT" => WsaError::WSAEFAULT,
        "WSAEINVAL" => WsaError::WSAEINVAL,
        "WSAEMFILE" => WsaError::WSAEMFILE,
        "WSAEWOULDBLOCK" => WsaError::WSAEWOULDBLOCK,
        "WSAEINPROGRESS" => WsaError::WSAEINPROGRESS,
        "WSAEALREADY" => WsaError::WSAEALREADY,
        "WSAENOTSOCK" => WsaError::WSAENOTSOCK,
        "WSAEDESTADDRREQ" => WsaError::WSAEDESTADDRREQ,
        "WSAEMSGSIZE" => WsaError::WSAEMSGSIZE,
        "WSAEPROTOTYPE" => WsaError::WSAEPROTOTYPE,
        "WSAENOPROTOOPT" => WsaError::WSAENOPROTOOPT,
        "WSAEPROTONOSUPPORT" => WsaError::WSAEPROTONOSUPPORT,
        "WSAESOCKTNOSUPPORT" => WsaError::WSAESOCKTNOSUPPORT,
        "WSAEOPNOTSUPP" => WsaError::WSAEOPNOTSUPP,
        "WSAEPFNOSUPPORT" => WsaError::WSAEPFNOSUPPORT,
        "WSAEAFNOSUPPORT" => WsaError::WSAEAFNOSUPPORT,
        "WSAEADDRINUSE" => WsaError::WSAEADDRINUSE,
        "WSAEADDRNOTAVAIL" => WsaError::WSAEADDRNOTAVAIL,
        "WSAENETDOWN" => WsaError::WSAENETDOWN,
        "WSAENETUNREACH" => WsaError::WSAENETUNREACH,
        "WSAENETRESET" => WsaError::WSAENETRESET,
        "WSAECONNABORTED" => WsaError::WSAECONNABORTED,
        "WSAECONNRESET" => WsaError::WSAECONNRESET,
        "WSAENOBUFS" => WsaError::WSAENOBUFS,
        "WSAEISCONN" => WsaError::WSAEISCONN,
        "WSAENOTCONN" => WsaError::WSAENOTCONN,
        "WSAESHUTDOWN" => WsaError::WSAESHUTDOWN,
        "WSAETOOMANYREFS" => WsaError::WSAETOOMANYREFS,
        "WSAETIMEDOUT" => WsaError::WSAETIMEDOUT,
        "WSAECONNREFUSED" => WsaError::WSAECONNREFUSED,
        "WSAELOOP" => WsaError::WSAELOOP,
        "WSAENAMETOOLONG" => WsaError::WSAENAMETOOLONG,
        "WSAEHOSTDOWN" => WsaError::WSAEHOSTDOWN,
        "WSAEHOSTUNREACH" => WsaError::WSAEHOSTUNREACH,
        "WSAENOTEMPTY" => WsaError::WSAENOTEMPTY,
        "WSAEPROCLIM" => WsaError::WSAEPROCLIM,
        "WSAEUSERS" => WsaError::WSAEUSERS,
        "WSAEDQUOT" => WsaError::WSAEDQUOT,
        "WSAESTALE" => WsaError::WSAESTALE,
        "WSAEREMOTE" => WsaError::WSAEREMOTE,
        "WSASYSNOTREADY" => WsaError::WSASYSNOTREADY,
        "WSAVERNOTSUPPORTED" => WsaError::WSAVERNOTSUPPORTED,
        "WSANOTINITIALISED" => WsaError::WSANOTINITIALISED,
        "WSAEDISCON" => WsaError::WSAEDISCON,
        "WSAENOMORE" => WsaError::WSAENOMORE,
        "WSAECANCELLED" => WsaError::WSAECANCELLED,
        "WSAEINVALIDPROCTABLE" => WsaError::WSAEINVALIDPROCTABLE,
        "WSAEINVALIDPROVIDER" => WsaError::WSAEINVALIDPROVIDER,
        "WSAEPROVIDERFAILEDINIT" => WsaError::WSAEPROVIDERFAILEDINIT,
        "WSASYSCALLFAILURE" => WsaError::WSASYSCALLFAILURE,
        "WSASERVICE_NOT_FOUND" => WsaError::WSASERVICE_NOT_FOUND,
        "WSATYPE_NOT_FOUND" => WsaError::WSATYPE_NOT_FOUND,
        "WSA_E_NO_MORE" => WsaError::WSA_E_NO_MORE,
        "WSA_E_CANCELLED" => WsaError::WSA_E_CANCELLED,
        "WSAEREFUSED" => WsaError::WSAEREFUSED,
        "WSAHOST_NOT_FOUND" => WsaError::WSAHOST_NOT_FOUND,
        "WSATRY_AGAIN" => WsaError::WSATRY_AGAIN,
        "WSANO_RECOVERY" => WsaError::WSANO_RECOVERY,
        "WSANO_DATA" => WsaError::WSANO_DATA,
        "WSA_INVALID_HANDLE" => WsaError::WSA_INVALID_HANDLE,
        "WSA_NOT_ENOUGH_MEMORY" => WsaError::WSA_NOT_ENOUGH_MEMORY,
        "WSA_INVALID_PARAMETER" => WsaError::WSA_INVALID_PARAMETER,
        "WSA_OPERATION_ABORTED" => WsaError::WSA_OPERATION_ABORTED,
        "WSA_IO_INCOMPLETE" => WsaError::WSA_IO_INCOMPLETE,
        "WSA_IO_PENDING" => WsaError::WSA_IO_PENDING,
        other => panic!("no constant for {other}"),
    }
}

/// Asserts everything the crate says about one named code.
fn check_code(name: &str, value: i32) {
    let c = named_constant(name);
    assert_eq!(c.code(), value, "{name}: constant value");
    assert_eq!(i32::from(c), value, "{name}: into i32");
    assert_eq!(WsaError::from_code(value), c, "{name}: from_code");
    assert_eq!(WsaError::from(value), c, "{name}: from i32");
    assert_eq!(
        WsaError::from_code(value).name(),
        Some(name),
        "{name}: value -> name"
    );
    assert_eq!(WsaError::from_name(name), Some(c), "{name}: name -> value");
    assert_eq!(name.parse::<WsaError>(), Ok(c), "{name}: FromStr");
    assert_eq!(
        c.to_string(),
        format!("{name} ({value})"),
        "{name}: Display"
    );
    assert_eq!(format!("{c:?}"), name, "{name}: Debug");
    assert!(c.is_known(), "{name}");
    assert!(WsaError::ALL.contains(&c), "{name}: in ALL");
}

#[test]
fn facts_1_11_wsabaseerr() {
    assert_eq!(spi_types::error::WSABASEERR, 10000);
}

#[test]
fn facts_1_11_every_error_code_value() {
    assert_eq!(WSAE_TABLE.len(), 62);
    for &(name, offset, dec, hex) in WSAE_TABLE {
        assert_eq!(dec, hex, "{name}: facts table dec and hex disagree");
        assert_eq!(10000 + offset, dec, "{name}: WSABASEERR + offset");
        check_code(name, dec);
    }
}

#[test]
fn facts_1_11_win32_aliased_error_codes() {
    for &(name, _alias, value) in WIN32_ALIASED {
        check_code(name, value);
    }
}

#[test]
fn facts_1_11_all_lists_exactly_the_facts_codes() {
    let mut facts: Vec<i32> = WSAE_TABLE
        .iter()
        .map(|t| t.2)
        .chain(WIN32_ALIASED.iter().map(|t| t.2))
        .collect();
    facts.sort_unstable();
    let mut all: Vec<i32> = WsaError::ALL.iter().map(|e| e.code()).collect();
    all.sort_unstable();
    assert_eq!(all, facts);
    // No two names share a value.
    let mut dedup = all.clone();
    dedup.dedup();
    assert_eq!(dedup.len(), all.len());
}

#[test]
fn facts_1_11_unknown_codes_are_preserved() {
    for code in [
        0,
        1,
        10000,
        10001,
        10090,
        10113,
        11005,
        12345,
        -1,
        i32::MIN,
        i32::MAX,
    ] {
        let e = WsaError::from_code(code);
        assert_eq!(e.code(), code);
        assert_eq!(i32::from(e), code);
        assert_eq!(e.name(), None, "{code}");
        assert!(!e.is_known());
        assert_eq!(e.to_string(), format!("unknown Winsock error ({code})"));
        assert_eq!(format!("{e:?}"), format!("WsaError({code})"));
    }
}

#[test]
fn facts_1_11_unknown_names_do_not_parse() {
    for bad in [
        "",
        "wsaeconnrefused",
        "WSAECONNREFUSED ",
        " WSAECONNREFUSED",
        "ECONNREFUSED",
        "10061",
        "ERROR_IO_PENDING",
        "WSABASEERR",
    ] {
        let err = bad.parse::<WsaError>().unwrap_err();
        assert_eq!(err.0, bad);
        assert_eq!(WsaError::from_name(bad), None);
    }
}

// ---------------------------------------------------------------------------------------------
// 2. SAN extension GUIDs
// ---------------------------------------------------------------------------------------------

/// (symbol, extension, brace form, in-memory bytes as printed, mandatory) from the facts table.
const GUID_TABLE: &[(&str, SanExtension, &str, &str, bool)] = &[
    (
        "WSAID_REGISTERMEMORY",
        SanExtension::RegisterMemory,
        "{C0B422F5-F58C-11D1-AD6C-00C04FA34A2D}",
        "f5 22 b4 c0 8c f5 d1 11 ad 6c 00 c0 4f a3 4a 2d",
        true,
    ),
    (
        "WSAID_DEREGISTERMEMORY",
        SanExtension::DeregisterMemory,
        "{C0B422F6-F58C-11D1-AD6C-00C04FA34A2D}",
        "f6 22 b4 c0 8c f5 d1 11 ad 6c 00 c0 4f a3 4a 2d",
        true,
    ),
    (
        "WSAID_REGISTERRDMAMEMORY",
        SanExtension::RegisterRdmaMemory,
        "{C0B422F7-F58C-11D1-AD6C-00C04FA34A2D}",
        "f7 22 b4 c0 8c f5 d1 11 ad 6c 00 c0 4f a3 4a 2d",
        true,
    ),
    (
        "WSAID_DEREGISTERRDMAMEMORY",
        SanExtension::DeregisterRdmaMemory,
        "{C0B422F8-F58C-11D1-AD6C-00C04FA34A2D}",
        "f8 22 b4 c0 8c f5 d1 11 ad 6c 00 c0 4f a3 4a 2d",
        true,
    ),
    (
        "WSAID_RDMAWRITE",
        SanExtension::RdmaWrite,
        "{C0B422F9-F58C-11D1-AD6C-00C04FA34A2D}",
        "f9 22 b4 c0 8c f5 d1 11 ad 6c 00 c0 4f a3 4a 2d",
        true,
    ),
    (
        "WSAID_RDMAREAD",
        SanExtension::RdmaRead,
        "{C0B422FA-F58C-11D1-AD6C-00C04FA34A2D}",
        "fa 22 b4 c0 8c f5 d1 11 ad 6c 00 c0 4f a3 4a 2d",
        false,
    ),
    (
        "WSAID_MEMORYREGISTRATIONCACHECALLBACK",
        SanExtension::MemoryRegistrationCacheCallback,
        "{E5DA4AF8-D824-48CD-A799-6337A98ED2AF}",
        "f8 4a da e5 24 d8 cd 48 a7 99 63 37 a9 8e d2 af",
        false,
    ),
];

/// Parses "f5 22 b4 ..." (the facts table's byte strings).
fn hex_bytes(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

#[test]
fn facts_2_every_extension_guid_brace_form_and_bytes() {
    assert_eq!(GUID_TABLE.len(), SanExtension::ALL.len());
    for &(symbol, ext, brace, bytes, _) in GUID_TABLE {
        let bytes = hex_bytes(bytes);
        assert_eq!(bytes.len(), 16, "{symbol}");
        let g = ext.guid();
        assert_eq!(g.to_string(), brace, "{symbol}: brace form");
        assert_eq!(
            g.to_bytes().as_slice(),
            bytes.as_slice(),
            "{symbol}: memory bytes"
        );
        assert_eq!(brace.parse::<Guid>(), Ok(g), "{symbol}: parse brace form");
        assert_eq!(
            brace.trim_matches(|c| c == '{' || c == '}').parse::<Guid>(),
            Ok(g),
            "{symbol}: parse without braces"
        );
        assert_eq!(
            brace.to_lowercase().parse::<Guid>(),
            Ok(g),
            "{symbol}: parse lower case"
        );
        assert_eq!(Guid::from_slice(&bytes), Ok(g), "{symbol}: from_slice");
        assert_eq!(ext.symbol(), symbol);
        assert_eq!(SanExtension::from_guid(g), Some(ext));
        assert_eq!(SanExtension::from_name(ext.name()), Some(ext));
        assert_eq!(ext.to_string(), ext.name());
    }
}

#[test]
fn facts_2_mandatory_and_optional_extensions() {
    for &(symbol, ext, _, _, mandatory) in GUID_TABLE {
        assert_eq!(ext.is_mandatory(), mandatory, "{symbol}");
    }
    let optional: Vec<_> = SanExtension::ALL
        .iter()
        .filter(|e| !e.is_mandatory())
        .collect();
    assert_eq!(
        optional,
        [
            &SanExtension::RdmaRead,
            &SanExtension::MemoryRegistrationCacheCallback
        ]
    );
}

#[test]
fn facts_2_extension_index_is_its_position_in_all() {
    for (i, e) in SanExtension::ALL.iter().enumerate() {
        assert_eq!(e.index(), i, "{e}");
    }
}

#[test]
fn facts_2_extension_lookup_from_a_16_byte_buffer() {
    for &(symbol, ext, _, bytes, _) in GUID_TABLE {
        let bytes = hex_bytes(bytes);
        assert_eq!(SanExtension::from_guid_bytes(&bytes), Some(ext), "{symbol}");
        // One flipped byte anywhere is no longer this extension.
        for i in 0..16 {
            let mut b = bytes.clone();
            b[i] ^= 0x01;
            assert_ne!(
                SanExtension::from_guid_bytes(&b),
                Some(ext),
                "{symbol} byte {i}"
            );
        }
    }
    // The brace-form-as-big-endian bytes are not the in-memory form.
    let be = hex_bytes("c0 b4 22 f5 f5 8c 11 d1 ad 6c 00 c0 4f a3 4a 2d");
    assert_eq!(SanExtension::from_guid_bytes(&be), None);
    assert_eq!(SanExtension::from_guid_bytes(&[0u8; 16]), None);
}

#[test]
fn facts_2_wrong_length_guid_buffer_is_no_extension() {
    for &(symbol, _, _, bytes, _) in GUID_TABLE {
        let bytes = hex_bytes(bytes);
        for len in [0usize, 1, 8, 15] {
            assert_eq!(
                SanExtension::from_guid_bytes(&bytes[..len]),
                None,
                "{symbol} {len}"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(SanExtension::from_guid_bytes(&longer), None, "{symbol} 17");
        longer.extend_from_slice(&bytes);
        assert_eq!(SanExtension::from_guid_bytes(&longer), None, "{symbol} 33");
    }
}

#[test]
fn facts_2_winofed_provider_guid_bytes() {
    let bytes = hex_bytes("4d 65 43 c9 84 2c b7 4d af 3e fd f1 c5 32 24 58");
    assert_eq!(
        WINOFED_PROVIDER_GUID.to_bytes().as_slice(),
        bytes.as_slice()
    );
    assert_eq!(
        WINOFED_PROVIDER_GUID.to_string(),
        "{C943654D-2C84-4DB7-AF3E-FDF1C5322458}"
    );
    assert_eq!(Guid::from_slice(&bytes), Ok(WINOFED_PROVIDER_GUID));
    assert_eq!(SanExtension::from_guid(WINOFED_PROVIDER_GUID), None);
}

#[test]
fn facts_2_tcpip_provider_guid() {
    // The TCP/IP provider id of the Wine capture, bytes a0 1a 0f e7 8b ab cf 11 8c a3 ...
    let bytes = hex_bytes("a0 1a 0f e7 8b ab cf 11 8c a3 00 80 5f 48 a1 92");
    assert_eq!(
        spi_types::TCPIP_PROVIDER_GUID.to_string(),
        "{E70F1AA0-AB8B-11CF-8CA3-00805F48A192}"
    );
    assert_eq!(
        spi_types::TCPIP_PROVIDER_GUID.to_bytes().as_slice(),
        bytes.as_slice()
    );
}

#[test]
fn guid_text_that_is_not_a_guid_is_rejected() {
    for bad in [
        "",
        "{}",
        "{",
        "}",
        "{C0B422F5-F58C-11D1-AD6C-00C04FA34A2D",
        "C0B422F5-F58C-11D1-AD6C-00C04FA34A2D}",
        "C0B422F5F58C11D1AD6C00C04FA34A2D",
        "{C0B422F5-F58C-11D1-AD6C-00C04FA34A2G}",
        "{C0B422F5-F58C-11D1-AD6C-00C04FA34A2D0}",
    ] {
        assert!(bad.parse::<Guid>().is_err(), "{bad:?}");
    }
}

#[test]
fn flags_module_is_reexported() {
    // The flag constants used above are reachable through their module too.
    assert_eq!(flags::FD_MAX_EVENTS, 10);
}
