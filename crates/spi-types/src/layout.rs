//! Sizes and field offsets of the SPI structures, for 64- and 32-bit Windows.
//!
//! The structures this crate encodes ([`ProtocolInfo`](crate::ProtocolInfo),
//! [`WspData`](crate::WspData), the sockaddrs, the address list,
//! [`WsaNetworkEvents`](crate::WsaNetworkEvents)) use these numbers; the others are described
//! here for platform shims that lay them out themselves.
//!
//! ```
//! use spi_types::layout::{Struct, layout};
//! use spi_types::address_list::PointerWidth;
//! let ov = layout(Struct::WsaOverlapped, PointerWidth::Bits64);
//! assert_eq!(ov.size, 32);
//! assert_eq!(ov.offset("hEvent"), Some(24));
//! ```

use crate::address_list::PointerWidth;

/// A structure of the SPI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Struct {
    /// `GUID`.
    Guid,
    /// `WSAPROTOCOLCHAIN`.
    ProtocolChain,
    /// `WSAPROTOCOL_INFOW`.
    ProtocolInfoW,
    /// `WSAPROTOCOL_INFOA`: as the W form but `szProtocol` is 256 bytes.
    ProtocolInfoA,
    /// `SOCKADDR`.
    Sockaddr,
    /// `SOCKADDR_IN`.
    SockaddrIn,
    /// `SOCKADDR_IN6`.
    SockaddrIn6,
    /// `SOCKADDR_STORAGE`.
    SockaddrStorage,
    /// `SOCKET_ADDRESS`.
    SocketAddress,
    /// `SOCKET_ADDRESS_LIST` (with its one declared entry).
    SocketAddressList,
    /// `WSPDATA`.
    WspData,
    /// `WSATHREADID`.
    WsaThreadId,
    /// `WSABUF`.
    WsaBuf,
    /// `WSABUFEX`.
    WsaBufEx,
    /// `WSAOVERLAPPED`.
    WsaOverlapped,
    /// `WSANETWORKEVENTS`.
    WsaNetworkEvents,
    /// `FLOWSPEC`.
    FlowSpec,
    /// `QOS`.
    Qos,
    /// `WSPUPCALLTABLEEX` (16 function pointers).
    UpcallTableEx,
    /// `WSPPROC_TABLE` (30 function pointers).
    ProcTable,
    /// The WinOFED provider's RDMA buffer descriptor (provider-private; the switch treats a
    /// descriptor as opaque bytes of the length the provider reports).
    WinofedRdmaDescriptor,
    /// `SOCKET` (`UINT_PTR`).
    Socket,
    /// `GROUP` (`unsigned int`).
    Group,
    /// `BOOL` (`int`).
    Bool,
}

/// A structure's size, alignment and named field offsets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// Size in bytes.
    pub size: usize,
    /// Alignment in bytes.
    pub align: usize,
    /// Field names (as in the headers) and offsets.
    pub fields: Vec<(&'static str, usize)>,
}

impl Layout {
    /// The offset of a field.
    pub fn offset(&self, field: &str) -> Option<usize> {
        self.fields
            .iter()
            .find(|(n, _)| *n == field)
            .map(|(_, o)| *o)
    }
}

/// The members of `WSPUPCALLTABLEEX`, in order.
pub const UPCALL_TABLE_EX_MEMBERS: [&str; 16] = [
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

/// The members of `WSPPROC_TABLE`, in order.
pub const PROC_TABLE_MEMBERS: [&str; 30] = [
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

/// The layout of `s` for pointer width `w`.
pub fn layout(s: Struct, w: PointerWidth) -> Layout {
    let p = w.bytes();
    let l = |size, align, fields: &[(&'static str, usize)]| Layout {
        size,
        align,
        fields: fields.to_vec(),
    };
    match s {
        Struct::Guid => l(
            16,
            4,
            &[("Data1", 0), ("Data2", 4), ("Data3", 6), ("Data4", 8)],
        ),
        Struct::ProtocolChain => l(32, 4, &[("ChainLen", 0), ("ChainEntries", 4)]),
        Struct::ProtocolInfoW => l(
            628,
            4,
            &[
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
            ],
        ),
        Struct::ProtocolInfoA => {
            let mut w = layout(Struct::ProtocolInfoW, w);
            w.size = 372;
            w
        }
        Struct::Sockaddr => l(16, 2, &[("sa_family", 0), ("sa_data", 2)]),
        Struct::SockaddrIn => l(
            16,
            4,
            &[
                ("sin_family", 0),
                ("sin_port", 2),
                ("sin_addr", 4),
                ("sin_zero", 8),
            ],
        ),
        Struct::SockaddrIn6 => l(
            28,
            4,
            &[
                ("sin6_family", 0),
                ("sin6_port", 2),
                ("sin6_flowinfo", 4),
                ("sin6_addr", 8),
                ("sin6_scope_id", 24),
            ],
        ),
        Struct::SockaddrStorage => l(128, 8, &[("ss_family", 0)]),
        Struct::SocketAddress => l(2 * p, p, &[("lpSockaddr", 0), ("iSockaddrLength", p)]),
        Struct::SocketAddressList => l(3 * p, p, &[("iAddressCount", 0), ("Address", p)]),
        Struct::WspData => l(
            516,
            2,
            &[("wVersion", 0), ("wHighVersion", 2), ("szDescription", 4)],
        ),
        Struct::WsaThreadId => l(2 * p, p, &[("ThreadHandle", 0), ("Reserved", p)]),
        Struct::WsaBuf => l(2 * p, p, &[("len", 0), ("buf", p)]),
        Struct::WsaBufEx => l(3 * p, p, &[("len", 0), ("buf", p), ("handle", 2 * p)]),
        Struct::WsaOverlapped => l(
            2 * p + 8 + p,
            p,
            &[
                ("Internal", 0),
                ("InternalHigh", p),
                ("Offset", 2 * p),
                ("OffsetHigh", 2 * p + 4),
                ("hEvent", 2 * p + 8),
            ],
        ),
        Struct::WsaNetworkEvents => l(44, 4, &[("lNetworkEvents", 0), ("iErrorCode", 4)]),
        Struct::FlowSpec => l(
            32,
            4,
            &[
                ("TokenRate", 0),
                ("TokenBucketSize", 4),
                ("PeakBandwidth", 8),
                ("Latency", 12),
                ("DelayVariation", 16),
                ("ServiceType", 20),
                ("MaxSduSize", 24),
                ("MinimumPolicedSize", 28),
            ],
        ),
        Struct::Qos => l(
            64 + 2 * p,
            p,
            &[
                ("SendingFlowspec", 0),
                ("ReceivingFlowspec", 32),
                ("ProviderSpecific", 64),
            ],
        ),
        Struct::UpcallTableEx => Layout {
            size: 16 * p,
            align: p,
            fields: UPCALL_TABLE_EX_MEMBERS
                .iter()
                .enumerate()
                .map(|(i, n)| (*n, i * p))
                .collect(),
        },
        Struct::WinofedRdmaDescriptor => l(
            24,
            8,
            &[("iova", 0), ("lkey", 8), ("rkey", 12), ("node1", 16)],
        ),
        Struct::Socket => l(p, p, &[]),
        Struct::Group => l(4, 4, &[]),
        Struct::Bool => l(4, 4, &[]),
        Struct::ProcTable => Layout {
            size: 30 * p,
            align: p,
            fields: PROC_TABLE_MEMBERS
                .iter()
                .enumerate()
                .map(|(i, n)| (*n, i * p))
                .collect(),
        },
    }
}
