//! Numeric constants of the SPI: socket options, condition results, address families, socket
//! types, protocols and the protocol-info constants.

/// `SOL_SOCKET`: the socket-level option level.
pub const SOL_SOCKET: i32 = 0xffff;
/// `SO_DEBUG`
pub const SO_DEBUG: i32 = 0x0001;
/// `SO_GROUP_ID`
pub const SO_GROUP_ID: i32 = 0x2001;
/// `SO_GROUP_PRIORITY`
pub const SO_GROUP_PRIORITY: i32 = 0x2002;
/// `SO_MAX_MSG_SIZE`: caps one provider send.
pub const SO_MAX_MSG_SIZE: i32 = 0x2003;
/// `SO_PROTOCOL_INFOA`
pub const SO_PROTOCOL_INFOA: i32 = 0x2004;
/// `SO_PROTOCOL_INFOW`
pub const SO_PROTOCOL_INFOW: i32 = 0x2005;
/// `SO_MAX_RDMA_SIZE`: caps one RDMA operation (Windows Sockets Direct).
pub const SO_MAX_RDMA_SIZE: i32 = 0x700D;
/// `SO_RDMA_THRESHOLD_SIZE`: the provider's preferred RDMA threshold (Windows Sockets Direct).
pub const SO_RDMA_THRESHOLD_SIZE: i32 = 0x700E;
/// `TCP_NODELAY` (level `IPPROTO_TCP`).
pub const TCP_NODELAY: i32 = 0x0001;

/// What the switch's condition function answers a provider's `WSPAccept` (`CF_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum ConditionResult {
    /// `CF_ACCEPT` = 0: accept the connection.
    Accept = 0,
    /// `CF_REJECT` = 1: refuse it; the provider answers `WSAECONNREFUSED`.
    Reject = 1,
    /// `CF_DEFER` = 2: decide later; the provider answers `WSATRY_AGAIN`.
    Defer = 2,
}

impl ConditionResult {
    /// The numeric value.
    pub const fn value(self) -> i32 {
        self as i32
    }
    /// The result with this value, if it is one of the three.
    pub const fn from_value(v: i32) -> Option<Self> {
        match v {
            0 => Some(Self::Accept),
            1 => Some(Self::Reject),
            2 => Some(Self::Defer),
            _ => None,
        }
    }
}

macro_rules! int_newtype {
    ($(#[$m:meta])* $name:ident { $($(#[$cm:meta])* $c:ident = $v:expr,)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub i32);
        impl $name {
            $($(#[$cm])* pub const $c: $name = $name($v);)*
        }
    };
}

int_newtype!(
    /// An address family with its Windows value (`AF_INET6` is 23, not Linux's 10).
    AddressFamily {
        /// `AF_UNSPEC` = 0
        UNSPEC = 0,
        /// `AF_INET` = 2
        INET = 2,
        /// `AF_INET6` = 23
        INET6 = 23,
    }
);

int_newtype!(
    /// A socket type (`SOCK_*`).
    SocketType {
        /// `SOCK_STREAM` = 1
        STREAM = 1,
        /// `SOCK_DGRAM` = 2
        DGRAM = 2,
        /// `SOCK_RAW` = 3
        RAW = 3,
        /// `SOCK_RDM` = 4
        RDM = 4,
        /// `SOCK_SEQPACKET` = 5
        SEQPACKET = 5,
    }
);

int_newtype!(
    /// A protocol number (`IPPROTO_*`).
    Protocol {
        /// `IPPROTO_IP` = 0
        IP = 0,
        /// `IPPROTO_TCP` = 6
        TCP = 6,
        /// `IPPROTO_UDP` = 17
        UDP = 17,
        /// `IPPROTO_IPV6` = 41
        IPV6 = 41,
        /// `IPPROTO_RAW` = 255
        RAW = 255,
    }
);

/// `BIGENDIAN` (network byte order) in `iNetworkByteOrder`.
pub const BIGENDIAN: i32 = 0x0000;
/// `LITTLEENDIAN` in `iNetworkByteOrder`.
pub const LITTLEENDIAN: i32 = 0x0001;
/// `SECURITY_PROTOCOL_NONE` in `iSecurityScheme`.
pub const SECURITY_PROTOCOL_NONE: i32 = 0x0000;
/// `WSAPROTOCOL_LEN`: characters of `szProtocol` before its terminator.
pub const WSAPROTOCOL_LEN: usize = 255;
/// `MAX_PROTOCOL_CHAIN`: entries of a protocol chain.
pub const MAX_PROTOCOL_CHAIN: usize = 7;
/// `BASE_PROTOCOL`: the chain length of a base provider.
pub const BASE_PROTOCOL: i32 = 1;
/// `LAYERED_PROTOCOL`: the chain length of a layered entry.
pub const LAYERED_PROTOCOL: i32 = 0;
/// `WSPDESCRIPTION_LEN`: characters of `WSPDATA.szDescription` before its terminator.
pub const WSPDESCRIPTION_LEN: usize = 255;
/// `WSADESCRIPTION_LEN` (of `WSADATA`).
pub const WSADESCRIPTION_LEN: usize = 256;
/// `WSASYS_STATUS_LEN` (of `WSADATA`).
pub const WSASYS_STATUS_LEN: usize = 128;
/// `WSS_OPERATION_IN_PROGRESS`: `OVERLAPPED.Internal` while an operation is pending.
pub const WSS_OPERATION_IN_PROGRESS: u32 = 0x0000_0103;
/// `FROM_PROTOCOL_INFO`: take the value from the protocol-info record.
pub const FROM_PROTOCOL_INFO: i32 = -1;
/// `SG_UNCONSTRAINED_GROUP`
pub const SG_UNCONSTRAINED_GROUP: u32 = 0x01;
/// `SG_CONSTRAINED_GROUP`
pub const SG_CONSTRAINED_GROUP: u32 = 0x02;
/// `SD_RECEIVE`
pub const SD_RECEIVE: i32 = 0;
/// `SD_SEND`
pub const SD_SEND: i32 = 1;
/// `SD_BOTH`
pub const SD_BOTH: i32 = 2;
/// `SOCKET_ERROR`
pub const SOCKET_ERROR: i32 = -1;
/// `INVALID_SOCKET` as a 64-bit `SOCKET` (all ones at pointer width).
pub const INVALID_SOCKET_64: u64 = u64::MAX;
/// `INVALID_SOCKET` as a 32-bit `SOCKET`.
pub const INVALID_SOCKET_32: u32 = u32::MAX;
/// `INADDR_ANY`
pub const INADDR_ANY: u32 = 0x0000_0000;
/// `INADDR_LOOPBACK`
pub const INADDR_LOOPBACK: u32 = 0x7f00_0001;
/// `INADDR_NONE`
pub const INADDR_NONE: u32 = 0xffff_ffff;
/// `SOMAXCONN`
pub const SOMAXCONN: i32 = 0x7fff_ffff;
/// `dwMessageSize` of a stream protocol.
pub const MESSAGE_SIZE_STREAM: u32 = 0;
/// `dwMessageSize`: depends on the MTU; query `SO_MAX_MSG_SIZE` after binding.
pub const MESSAGE_SIZE_MTU: u32 = 1;
/// `dwMessageSize` of a message-oriented protocol with no limit.
pub const MESSAGE_SIZE_UNLIMITED: u32 = 0xffff_ffff;
