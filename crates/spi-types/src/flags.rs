//! Flag sets of the SPI: service flags, provider flags, network events, registration access,
//! message flags and socket-creation flags.

use bitflags::bitflags;

bitflags! {
    /// `dwServiceFlags1` of a protocol-info record (`XP1_*`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub struct ServiceFlags: u32 {
        /// `XP1_CONNECTIONLESS`
        const CONNECTIONLESS = 0x0000_0001;
        /// `XP1_GUARANTEED_DELIVERY`
        const GUARANTEED_DELIVERY = 0x0000_0002;
        /// `XP1_GUARANTEED_ORDER`
        const GUARANTEED_ORDER = 0x0000_0004;
        /// `XP1_MESSAGE_ORIENTED`
        const MESSAGE_ORIENTED = 0x0000_0008;
        /// `XP1_PSEUDO_STREAM`
        const PSEUDO_STREAM = 0x0000_0010;
        /// `XP1_GRACEFUL_CLOSE`
        const GRACEFUL_CLOSE = 0x0000_0020;
        /// `XP1_EXPEDITED_DATA`
        const EXPEDITED_DATA = 0x0000_0040;
        /// `XP1_CONNECT_DATA`
        const CONNECT_DATA = 0x0000_0080;
        /// `XP1_DISCONNECT_DATA`
        const DISCONNECT_DATA = 0x0000_0100;
        /// `XP1_SUPPORT_BROADCAST`
        const SUPPORT_BROADCAST = 0x0000_0200;
        /// `XP1_SUPPORT_MULTIPOINT`
        const SUPPORT_MULTIPOINT = 0x0000_0400;
        /// `XP1_MULTIPOINT_CONTROL_PLANE`
        const MULTIPOINT_CONTROL_PLANE = 0x0000_0800;
        /// `XP1_MULTIPOINT_DATA_PLANE`
        const MULTIPOINT_DATA_PLANE = 0x0000_1000;
        /// `XP1_QOS_SUPPORTED`: the provider takes QoS options, so the switch forwards them.
        const QOS_SUPPORTED = 0x0000_2000;
        /// `XP1_INTERRUPT` (documented as reserved)
        const INTERRUPT = 0x0000_4000;
        /// `XP1_UNI_SEND`
        const UNI_SEND = 0x0000_8000;
        /// `XP1_UNI_RECV`
        const UNI_RECV = 0x0001_0000;
        /// `XP1_IFS_HANDLES`
        const IFS_HANDLES = 0x0002_0000;
        /// `XP1_PARTIAL_MESSAGE`
        const PARTIAL_MESSAGE = 0x0004_0000;
        /// `XP1_SAN_SUPPORT_SDP` (Windows 7 and later)
        const SAN_SUPPORT_SDP = 0x0008_0000;
        // Unknown bits of a decoded record are kept, so records re-encode exactly.
        const _ = !0;
    }
}

bitflags! {
    /// `dwProviderFlags` of a protocol-info record (`PFL_*`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub struct ProviderFlags: u32 {
        /// `PFL_MULTIPLE_PROTO_ENTRIES`
        const MULTIPLE_PROTO_ENTRIES = 0x0000_0001;
        /// `PFL_RECOMMENDED_PROTO_ENTRY`
        const RECOMMENDED_PROTO_ENTRY = 0x0000_0002;
        /// `PFL_HIDDEN`: not returned by `WSAEnumProtocols`; required of a SAN provider's entry.
        const HIDDEN = 0x0000_0004;
        /// `PFL_MATCHES_PROTOCOL_ZERO`
        const MATCHES_PROTOCOL_ZERO = 0x0000_0008;
        /// `PFL_NETWORKDIRECT_PROVIDER` (Windows 7 and later)
        const NETWORKDIRECT_PROVIDER = 0x0000_0010;
        const _ = !0;
    }
}

bitflags! {
    /// Network events (`FD_*`) for `WSPEventSelect` and `WSANETWORKEVENTS`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
    pub struct NetworkEvents: i32 {
        /// `FD_READ`
        const READ = 1 << 0;
        /// `FD_WRITE`
        const WRITE = 1 << 1;
        /// `FD_OOB`
        const OOB = 1 << 2;
        /// `FD_ACCEPT`
        const ACCEPT = 1 << 3;
        /// `FD_CONNECT`
        const CONNECT = 1 << 4;
        /// `FD_CLOSE`
        const CLOSE = 1 << 5;
        /// `FD_QOS`
        const QOS = 1 << 6;
        /// `FD_GROUP_QOS`
        const GROUP_QOS = 1 << 7;
        /// `FD_ROUTING_INTERFACE_CHANGE`
        const ROUTING_INTERFACE_CHANGE = 1 << 8;
        /// `FD_ADDRESS_LIST_CHANGE`
        const ADDRESS_LIST_CHANGE = 1 << 9;
        const _ = !0;
    }
}

/// `FD_MAX_EVENTS`: the number of network events, and of `iErrorCode` slots.
pub const FD_MAX_EVENTS: usize = 10;

/// `FD_ALL_EVENTS` = `(1 << FD_MAX_EVENTS) - 1`.
pub const FD_ALL_EVENTS: i32 = (1 << FD_MAX_EVENTS) - 1;

impl NetworkEvents {
    /// The `FD_*_BIT` index of a single event (`FD_CONNECT` is 4), or `None` when `self` is not
    /// exactly one of the ten known events.
    pub fn bit_index(self) -> Option<usize> {
        let bits = self.bits();
        if bits.count_ones() == 1 && (bits as u32) < (1 << FD_MAX_EVENTS) {
            Some(bits.trailing_zeros() as usize)
        } else {
            None
        }
    }

    /// The event whose `FD_*_BIT` index is `index`, for `index < FD_MAX_EVENTS`.
    pub fn from_bit_index(index: usize) -> Option<Self> {
        (index < FD_MAX_EVENTS).then(|| NetworkEvents::from_bits_retain(1 << index))
    }
}

bitflags! {
    /// Access of a memory registration (`MEM_*` of `WSPRegisterMemory` / `WSPRegisterRdmaMemory`).
    ///
    /// These are the Windows Sockets Direct values, unrelated to the virtual-memory `MEM_*`
    /// constants of `winnt.h`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub struct MemoryAccess: u32 {
        /// `MEM_READ`
        const READ = 1;
        /// `MEM_WRITE`
        const WRITE = 2;
        /// `MEM_READWRITE`
        const READWRITE = 3;
    }
}

bitflags! {
    /// Send and receive flags (`MSG_*`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub struct MsgFlags: u32 {
        /// `MSG_OOB`
        const OOB = 0x1;
        /// `MSG_PEEK`
        const PEEK = 0x2;
        /// `MSG_DONTROUTE`
        const DONTROUTE = 0x4;
        /// `MSG_WAITALL`
        const WAITALL = 0x8;
        /// `MSG_INTERRUPT`
        const INTERRUPT = 0x10;
        /// `MSG_PUSH_IMMEDIATE`
        const PUSH_IMMEDIATE = 0x20;
        /// `MSG_PARTIAL`
        const PARTIAL = 0x8000;
        const _ = !0;
    }
}

/// `MSG_MAXIOVLEN`: the most buffers one send or receive takes.
pub const MSG_MAXIOVLEN: usize = 16;

bitflags! {
    /// Socket-creation flags (`WSA_FLAG_*`) of `WSPSocket`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub struct SocketFlags: u32 {
        /// `WSA_FLAG_OVERLAPPED`: the only flag the switch passes to a SAN provider.
        const OVERLAPPED = 0x01;
        /// `WSA_FLAG_MULTIPOINT_C_ROOT`
        const MULTIPOINT_C_ROOT = 0x02;
        /// `WSA_FLAG_MULTIPOINT_C_LEAF`
        const MULTIPOINT_C_LEAF = 0x04;
        /// `WSA_FLAG_MULTIPOINT_D_ROOT`
        const MULTIPOINT_D_ROOT = 0x08;
        /// `WSA_FLAG_MULTIPOINT_D_LEAF`
        const MULTIPOINT_D_LEAF = 0x10;
        /// `WSA_FLAG_ACCESS_SYSTEM_SECURITY`
        const ACCESS_SYSTEM_SECURITY = 0x40;
        /// `WSA_FLAG_NO_HANDLE_INHERIT`
        const NO_HANDLE_INHERIT = 0x80;
        /// `WSA_FLAG_REGISTERED_IO`
        const REGISTERED_IO = 0x100;
        const _ = !0;
    }
}
