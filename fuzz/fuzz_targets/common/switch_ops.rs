//! Two switches on a mock fabric under a fuzzer-chosen configuration and sequence of operations
//! (structure-aware: the input is an [`Input`] built with `arbitrary`).
//!
//! Each host has a `switch_core::Switch`, a `MockLoader` and a `MockTcp` attached to one
//! `mock_provider::Fabric`, and one to three mock SAN providers ("ib", "iw", "roce") whose
//! `MockConfig` the input chooses: startup result, version answered, `WSPSocket` result,
//! addresses, address-list fault, extension answers, a panic in one call (the data calls
//! included), cleanup result, forced connect errors, `connect_pending`, `connect_delay_ms`,
//! `WSPSetSockOpt` result, which SAN fabric it is cabled to, and the data path's
//! `SO_MAX_MSG_SIZE`, `SO_MAX_RDMA_SIZE`, `SO_RDMA_THRESHOLD_SIZE` and RegisterMemory /
//! RegisterRdmaMemory results (each a [`ProviderFault`]; none means a healthy provider); the
//! switch's interfaces, SAN deadline, negative cache and sessions (`SessionConfig`: the
//! defaults, polling for completions, other sizes, or none); and maybe a listener set up after
//! initialization. Then, unless the input says otherwise, host 0 connects to host 1's "ib" and
//! host 1 accepts (or both ways: [`Warmup`]), as operations like the others; then at most
//! [`MAX_OPS`] operations: catalog changes (install or remove a provider), initialize again,
//! address changes (provider addresses and the switch's interfaces), socket + connect to one
//! of a few fixed destinations, connecting an open socket again, cancel, close, listen
//! (wildcard or a specific address, accepting or rejecting), accept, delivering signals,
//! handing a switch its completions, moving the clock, settling,
//! shutdown, and on the connections: send (0 bytes to a few MiB, maybe `MSG_OOB`), receive
//! (the stream or the urgent byte), shutdown for sending, receiving or both; and maybe a last
//! settling (every signal and completion delivered, the clock moved to every due time, every
//! connection read) before the end.
//!
//! Settling is what a platform does (see `crates/switch-core/tests/session_net`): deliver the
//! signalled events (`handle_event`) and the providers' completions (`handle_completions`,
//! which SAN connections need for their session negotiation, CONN-7, and their data) until
//! nothing moves, then move the clock on to the next due time.
//!
//! What is checked:
//!
//! - No panic escapes the switch: the mocks' deliberate panics (`panic_at`) must be caught by
//!   the switch's panic boundary. (The panic hook lets exactly those through without aborting;
//!   one that reaches this target is reported with the operation it escaped from.)
//! - After every operation: every `Watch` is for an event not watched yet and every `Unwatch`
//!   for one watched; `Connected` only for a socket with a connect under way, once; `Accepted`
//!   only on an open listener, and `accept` hands out the oldest connection announced (an
//!   accepted SAN connection is a socket of the switch, not yet announced, while its session
//!   negotiates); `Switch::footprint` agrees with the sockets and watched events the target
//!   knows of; no provider was cleaned up more often than it started, and the mock's `CallLog`
//!   saw exactly the `WSPCleanup` calls the switch's trace records; the fabric's model NIC
//!   refused no memory access (`Fabric::mem_violations() == 0`, MEM-1).
//! - The data, per connection end (a connect that completed, or an accepted connection): a
//!   send the switch took gets exactly one `Sent`, for its socket, whose report counts all its
//!   bytes and names the path (TCP for a TCP connection, inline for an urgent or empty send on
//!   a SAN, SESS-4); after a send failed with anything but `WSAENOBUFS` no later send of the
//!   end succeeds (but a send of 0 bytes, which completes at once); `Switch::bytes` counts
//!   exactly the bytes of the sends that succeeded and at least the bytes received; a send
//!   after `Shutdown::Send` is refused; nothing is received after the end of the stream;
//!   `Readable` names a socket of the switch.
//! - The two ends of a SAN connection are paired by the connecting side's address (the
//!   accepting side's peer), when that address names exactly one connection of the fabric
//!   and one end on each side. On every such pair, at the end, when every send has finished:
//!   the bytes each side received are a prefix of the other side's stream, which is every
//!   send's bytes in order (the last byte of an urgent send left out, SESS-4) except those of
//!   a send that failed with `WSAENOBUFS`, none of whose bytes leave (SESS-2); a side that
//!   read the end of the stream received all of it; each urgent byte read is the last byte of
//!   a later urgent send than the one before. A send that failed otherwise may have arrived
//!   whole, in part or not at all: the connection failed or closed under it, and what had
//!   arrived is still received (CLOSE-1), so only the prefix is checked. With the last
//!   settling, a pair whose hosts have no data-path fault (no `panic_at`, no registration
//!   fault, sessions on, no `shutdown`), open on both sides and with no error seen on either
//!   has nothing pending: every send finished, each side received exactly the other's stream,
//!   the last urgent byte, and the end of the stream after the other's `Shutdown::Send`.
//! - At the end: every application socket is closed, after which nothing is watched, no
//!   deadline is pending, no session is left and no session memory (`footprint().sessions`,
//!   `session_memory`), no TCP/IP socket is open and each provider has only its query socket
//!   open while alive; every send has finished (CLOSE-1); the providers hold no local or RDMA
//!   registration and cache nothing (`Fabric::memory`, MEM-2, MEM-3); then `shutdown`: every
//!   started provider (`WSPStartupEx` answered `Ok` in the trace) was cleaned up exactly once
//!   (`Call::Cleanup` in `loader.log()`), no provider socket is left open
//!   (`Fabric::open_sockets`) and this last shutdown left its cleanups no socket to close
//!   (`Fabric::reset_at_cleanup` unchanged by it), no memory is registered or cached, and the
//!   footprint shows no watched event or deadline. Documented exceptions: a provider
//!   configured to panic in `WSPCloseSocket` cannot close a socket (its sockets and
//!   registrations are not checked); the SAN sockets of connections without a session still
//!   open when a `Shutdown` op ran in the middle of the sequence, and those of any connection
//!   when its provider failed, are closed by the provider's `WSPCleanup`, not one by one
//!   (CLOSE-2; the mock's last cleanup closes what is still open, as Winsock's does), so a
//!   provider configured to panic in `WSPCleanup` may keep them open; a provider without
//!   MemoryRegistrationCacheCallback (or panicking in it) keeps its cache until its cleanup
//!   (MEM-2 calls the providers that offer it).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Once;
use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use ipnet::IpNet;
use mock_provider::{
    AddressFault, Fabric, MockCatalog, MockConfig, MockLoader, MockTcp, Transport,
};
use spi_types::consts::{SO_DEBUG, SOL_SOCKET};
use spi_types::{AddressFamily, ConditionResult, MsgFlags, SanExtension, WinsockVersion, WsaError};
use switch_core::connection::{
    ConnectPolicy, ConnectStatus, SocketError, SocketId, StoredOption, SwitchEvent, Via,
};
use switch_core::provider::{EventHandle, Shutdown};
use switch_core::routing::SocketKind;
use switch_core::session::conn::{DataPath, SendId, SendReport, SessionConfig};
use switch_core::trace::{Call, CallResult};
use switch_core::{ProviderState, Switch, SwitchConfig};

/// The most operations one input applies.
const MAX_OPS: usize = 64;
/// The most faults per provider.
const MAX_FAULTS: usize = 8;
/// The most steps one `Settle` takes (and the most signals one step delivers).
const MAX_SETTLE_STEPS: usize = 64;
/// The most rounds of settling and reading every connection in the last settling; the
/// rounds stop as soon as one reads nothing. A round moves a few kilobytes when messages are
/// small and the receive window narrow (128-byte messages, a 64 KiB window: about 14 KiB a
/// round, so 291 rounds for a 4 MiB send), and the data budget is 8 MiB.
const MAX_DATA_ROUNDS: usize = 8192;
/// The most bytes one input sends, all sends together: a send beyond it is cut to its size's
/// low byte (what is left of the budget at most).
const DATA_BUDGET: usize = 8 << 20;
/// The most `recv` calls one `Recv` operation makes.
const MAX_RECV_CALLS: usize = 8;
/// The provider names, by index on each host.
const NAMES: [&str; 3] = ["ib", "iw", "roce"];
/// The port every listener listens on and most connects go to.
const PORT: u16 = 7000;

// ---- the input ----

// What zero bytes give (`false`, `None`, 0, an enum's first variant, an empty list) is the
// plain case: healthy providers (a provider's faults are a sparse list, one element per fault),
// a wildcard listener on each host, the default sessions, a SAN connection from host 0 to host
// 1's "ib" established and accepted before the operations (`Warmup`), a settle at the end, and
// for an operation a connect from host 0 to host 1's "ib" (the first `Op`). `ops` comes last
// and takes the rest of the input; as every list `arbitrary` builds, each element is preceded
// by a "one more" byte (odd) and an even byte ends it. An enum is chosen by a little-endian
// u32 `x` as variant `(x * variants) >> 32`. So an input of zeros with a few odd bytes
// establishes and accepts SAN connections (see seeds/switch_ops), and each fault or odd
// operation is a small change from there.

/// One input: the two hosts, the warm-up, the ending and the operations.
#[derive(Arbitrary, Debug)]
pub struct Input {
    hosts: [HostSpec; 2],
    warmup: Warmup,
    ending: Ending,
    ops: Vec<Op>,
}

/// Operations applied (and checked) before the input's own, so that most inputs have a SAN
/// connection to move data on.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
enum Warmup {
    /// Host 0 connects to host 1's "ib", both settle, host 1 accepts on its first listener.
    Connected,
    /// The same both ways.
    BothWays,
    /// Nothing.
    None,
}

impl Warmup {
    fn ops(self) -> Vec<Op> {
        let connect = |host| Op::Connect {
            host,
            dest: Dest::Peer(0),
            bind: Bind::None,
            debug: false,
            datagram: false,
        };
        let accept = |host| Op::Accept {
            host,
            n: 0,
            close: false,
        };
        match self {
            Warmup::Connected => vec![connect(false), Op::Settle, accept(true)],
            Warmup::BothWays => vec![
                connect(false),
                connect(true),
                Op::Settle,
                accept(true),
                accept(false),
            ],
            Warmup::None => Vec::new(),
        }
    }
}

/// What happens after the operations, before everything is closed and shut down.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// Every signal and completion is delivered, the clock moved on and every connection read
    /// until nothing is left (bounded).
    Settle,
    /// Nothing: connects still under way are closed as they are.
    Abrupt,
}

#[derive(Arbitrary, Debug)]
struct HostSpec {
    /// The first provider, always installed at the start.
    first: ProviderSpec,
    more: [Option<ProviderSpec>; 2],
    /// The switch's interfaces (a subset of [`interface_pool`]), or the default.
    interfaces: Option<u8>,
    san_deadline_ms: Option<u8>,
    negative_cache_ms: Option<u8>,
    /// No listener right after initialization (else `listener` is set up).
    no_listener: bool,
    listener: ListenSpec,
    /// The switch's `SessionConfig` (and `trace_data`).
    session: SessionSpec,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
struct ListenSpec {
    at: ListenAt,
    backlog: i8,
    reject: bool,
}

/// How a switch sets up the sessions of its SAN connections.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum SessionSpec {
    /// `SessionConfig::default()`.
    Default,
    /// The defaults, with `poll_completions` (SESS-5: `WSPGetOverlappedResult`).
    Polling,
    /// Other sizes: `receives % 40` (the session takes at least 4), `sends % 16`, the message
    /// size, `cached_buffers % 4`, `rdma_in_flight % 16` (at least 1), the receive window, the
    /// send queue; and `SwitchConfig::trace_data`.
    Custom {
        poll: bool,
        receives: u8,
        sends: u8,
        message: MsgSize,
        cached: u8,
        in_flight: u8,
        window: Window,
        queue: Window,
        trace_data: bool,
    },
    /// `SessionConfig::disabled()`: SAN connections complete with their connect and carry no
    /// data through the switch.
    Disabled,
}

impl SessionSpec {
    /// The session configuration and `trace_data`.
    #[allow(
        clippy::needless_update,
        reason = "`..d`: the defaults for the fields `SessionConfig` may gain"
    )]
    fn get(self) -> (SessionConfig, bool) {
        let d = SessionConfig::default();
        match self {
            SessionSpec::Default => (d, false),
            SessionSpec::Polling => (
                SessionConfig {
                    poll_completions: true,
                    ..d
                },
                false,
            ),
            SessionSpec::Custom {
                poll,
                receives,
                sends,
                message,
                cached,
                in_flight,
                window,
                queue,
                trace_data,
            } => (
                SessionConfig {
                    enabled: true,
                    receives: u32::from(receives % 40),
                    sends: u32::from(sends % 16),
                    message_size: message.bytes(),
                    poll_completions: poll,
                    cached_buffers: usize::from(cached % 4),
                    rdma_in_flight: usize::from(in_flight % 16),
                    receive_window: window.bytes(),
                    send_queue: match queue {
                        Window::Default => d.send_queue,
                        other => other.bytes(),
                    },
                    ..d
                },
                trace_data,
            ),
            SessionSpec::Disabled => (SessionConfig::disabled(), false),
        }
    }
}

/// A message size: the session's buffers, or a provider's `SO_MAX_MSG_SIZE` (below 128 a
/// session refuses it, CONN-7).
#[derive(Arbitrary, Debug, Clone, Copy)]
enum MsgSize {
    B4096,
    B64,
    B128,
    B200,
    B1024,
    B65536,
}

impl MsgSize {
    fn bytes(self) -> u32 {
        match self {
            MsgSize::B4096 => 4096,
            MsgSize::B64 => 64,
            MsgSize::B128 => 128,
            MsgSize::B200 => 200,
            MsgSize::B1024 => 1024,
            MsgSize::B65536 => 65536,
        }
    }
}

/// A provider's `SO_MAX_RDMA_SIZE`.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum RdmaSize {
    B512,
    B4096,
    B65536,
    B1M,
}

impl RdmaSize {
    fn bytes(self) -> u32 {
        match self {
            RdmaSize::B512 => 512,
            RdmaSize::B4096 => 4096,
            RdmaSize::B65536 => 65536,
            RdmaSize::B1M => 1 << 20,
        }
    }
}

/// A provider's `SO_RDMA_THRESHOLD_SIZE`.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Threshold {
    Zero,
    One,
    B100,
    B4096,
    B65536,
    B1M,
    Max,
}

impl Threshold {
    fn bytes(self) -> u32 {
        match self {
            Threshold::Zero => 0,
            Threshold::One => 1,
            Threshold::B100 => 100,
            Threshold::B4096 => 4096,
            Threshold::B65536 => 65536,
            Threshold::B1M => 1 << 20,
            Threshold::Max => u32::MAX,
        }
    }
}

/// A session's `receive_window` or `send_queue` (`Default`: the default of either).
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Window {
    Default,
    B4096,
    B65536,
}

impl Window {
    fn bytes(self) -> usize {
        match self {
            Window::Default => SessionConfig::default().receive_window,
            Window::B4096 => 4096,
            Window::B65536 => 65536,
        }
    }
}

#[derive(Arbitrary, Debug)]
struct ProviderSpec {
    /// In the catalog at the start (the first provider always is).
    installed: bool,
    /// How its `MockConfig` differs from `MockConfig::generic` (at most [`MAX_FAULTS`] used).
    faults: Vec<ProviderFault>,
}

/// One change to a provider's `MockConfig`.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum ProviderFault {
    /// `WSPStartupEx` fails.
    Startup(Error),
    /// `WSPDATA.wVersion`.
    Version(Version),
    /// `WSPSocket` fails.
    Socket(Error),
    /// Its addresses: a subset of [`address_pool`] (instead of its default address).
    Addresses(u8),
    /// `address_fault`.
    AddressFault(Fault),
    /// Extension `SanExtension::ALL[which % 7]` answers this error.
    Extension {
        which: u8,
        error: Error,
    },
    /// `panic_at`.
    PanicAt(PanicAt),
    /// `WSPCleanup` fails.
    Cleanup(Error),
    /// A `connect_errors` entry.
    ConnectError {
        dest: Dest,
        error: Error,
    },
    ConnectPending,
    /// `connect_delay_ms` (`% 64`).
    ConnectDelay(u8),
    /// `WSPSetSockOpt` fails.
    SetOption(Error),
    /// Cabled to "san1" instead of "san0".
    OtherFabric,
    /// `max_msg_size` (`SO_MAX_MSG_SIZE`).
    MaxMsgSize(MsgSize),
    /// `max_rdma_size` (`SO_MAX_RDMA_SIZE`).
    MaxRdmaSize(RdmaSize),
    /// `rdma_threshold` (`SO_RDMA_THRESHOLD_SIZE`).
    RdmaThreshold(Threshold),
    /// `register_memory`: the RegisterMemory extension fails.
    RegisterMemory(Error),
    /// `register_rdma_memory`: the RegisterRdmaMemory extension fails.
    RegisterRdmaMemory(Error),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Error {
    NetDown,
    ConnRefused,
    ConnReset,
    TimedOut,
    HostUnreach,
    NetUnreach,
    NoBufs,
    OpNotSupp,
    Inval,
    Fault,
    ProviderFailedInit,
    WouldBlock,
    AddrNotAvail,
    Access,
}

impl Error {
    fn wsa(self) -> WsaError {
        match self {
            Error::NetDown => WsaError::WSAENETDOWN,
            Error::ConnRefused => WsaError::WSAECONNREFUSED,
            Error::ConnReset => WsaError::WSAECONNRESET,
            Error::TimedOut => WsaError::WSAETIMEDOUT,
            Error::HostUnreach => WsaError::WSAEHOSTUNREACH,
            Error::NetUnreach => WsaError::WSAENETUNREACH,
            Error::NoBufs => WsaError::WSAENOBUFS,
            Error::OpNotSupp => WsaError::WSAEOPNOTSUPP,
            Error::Inval => WsaError::WSAEINVAL,
            Error::Fault => WsaError::WSAEFAULT,
            Error::ProviderFailedInit => WsaError::WSAEPROVIDERFAILEDINIT,
            Error::WouldBlock => WsaError::WSAEWOULDBLOCK,
            Error::AddrNotAvail => WsaError::WSAEADDRNOTAVAIL,
            Error::Access => WsaError::WSAEACCES,
        }
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Version {
    V2_2,
    V2_0,
    V1_1,
    V3_0,
}

impl Version {
    fn get(self) -> WinsockVersion {
        match self {
            Version::V2_2 => WinsockVersion::V2_2,
            Version::V2_0 => WinsockVersion::new(2, 0),
            Version::V1_1 => WinsockVersion::new(1, 1),
            Version::V3_0 => WinsockVersion::new(3, 0),
        }
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Fault {
    None,
    TooSmallOnce,
    TooSmallAlways,
    Garbage,
    WrongFamily,
    ImpossibleCount,
    PointerOutside,
    Error(Error),
}

impl Fault {
    fn get(self) -> AddressFault {
        match self {
            Fault::None => AddressFault::None,
            Fault::TooSmallOnce => AddressFault::TooSmallOnce,
            Fault::TooSmallAlways => AddressFault::TooSmallAlways,
            Fault::Garbage => AddressFault::Garbage,
            Fault::WrongFamily => AddressFault::WrongFamily,
            Fault::ImpossibleCount => AddressFault::ImpossibleCount,
            Fault::PointerOutside => AddressFault::PointerOutside,
            Fault::Error(e) => AddressFault::Error(e.wsa()),
        }
    }
}

/// The call a provider panics in: the 13 calls of initialization and connections, then the
/// 11 of the data path.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
enum PanicAt {
    StartupEx,
    Cleanup,
    Socket,
    Bind,
    Listen,
    Connect,
    Accept,
    EventSelect,
    EnumNetworkEvents,
    SetSockOpt,
    CloseSocket,
    AddressListQuery,
    /// `WSPIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER, rdma_read)`.
    GetRdmaRead,
    GetSockOpt,
    Send,
    Recv,
    GetOverlappedResult,
    RegisterMemory,
    DeregisterMemory,
    RegisterRdmaMemory,
    DeregisterRdmaMemory,
    RdmaWrite,
    RdmaRead,
    CacheCallback,
}

impl PanicAt {
    fn call(self) -> Call {
        match self {
            PanicAt::StartupEx => Call::StartupEx,
            PanicAt::Cleanup => Call::Cleanup,
            PanicAt::Socket => Call::Socket,
            PanicAt::Bind => Call::Bind,
            PanicAt::Listen => Call::Listen,
            PanicAt::Connect => Call::Connect,
            PanicAt::Accept => Call::Accept,
            PanicAt::EventSelect => Call::EventSelect,
            PanicAt::EnumNetworkEvents => Call::EnumNetworkEvents,
            PanicAt::SetSockOpt => Call::SetSockOpt,
            PanicAt::CloseSocket => Call::CloseSocket,
            PanicAt::AddressListQuery => Call::AddressListQuery,
            PanicAt::GetRdmaRead => Call::GetExtension(SanExtension::RdmaRead),
            PanicAt::GetSockOpt => Call::GetSockOpt,
            PanicAt::Send => Call::Send,
            PanicAt::Recv => Call::Recv,
            PanicAt::GetOverlappedResult => Call::GetOverlappedResult,
            PanicAt::RegisterMemory => Call::RegisterMemory,
            PanicAt::DeregisterMemory => Call::DeregisterMemory,
            PanicAt::RegisterRdmaMemory => Call::RegisterRdmaMemory,
            PanicAt::DeregisterRdmaMemory => Call::DeregisterRdmaMemory,
            PanicAt::RdmaWrite => Call::RdmaWrite,
            PanicAt::RdmaRead => Call::RdmaRead,
            PanicAt::CacheCallback => Call::MemoryRegistrationCacheCallback,
        }
    }
}

/// Where a connect goes (port 7000 unless said otherwise).
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Dest {
    /// The default address of the other host's provider `n % 3`.
    Peer(u8),
    /// The default address of this host's provider `n % 3`.
    Own(u8),
    /// 10.1.9.2: an interface of host 1 that no SAN provider lists by default.
    Unserved,
    /// The other host's TCP/IP interface.
    PeerTcp,
    /// The other host's "ib" address, port 7001 (nobody listens there).
    WrongPort,
    /// 10.1.0.99: nobody owns it.
    Nobody,
    /// 10.1.0.7, which either host's providers may list.
    Shared,
    /// 0.0.0.0:7000.
    Wildcard,
    /// The other host's "ib" address, port 0.
    PortZero,
    /// fd00:1::(the other host), which a provider lists when its addresses say so.
    PeerV6,
}

/// Where a connecting socket is bound first.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Bind {
    /// Not bound.
    None,
    /// The wildcard of the destination's family, port 0.
    Wildcard,
    /// The default address of this host's provider `n % 3`, port 0.
    Provider(u8),
    /// This host's TCP/IP interface, port 0.
    Interface,
    /// The default address of this host's first provider, port 7100.
    FixedPort,
}

/// Where a listener is bound.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum ListenAt {
    WildcardV4,
    WildcardV6,
    /// The default address of this host's provider `n % 3`.
    Provider(u8),
    /// This host's TCP/IP interface.
    Interface,
    /// 10.1.9.2, an interface of host 1 that no SAN provider lists by default.
    Unserved,
    /// 10.1.0.7, which either host's providers may list.
    Shared,
    /// The IPv4 wildcard, port 0.
    Ephemeral,
}

/// How many bytes a send carries (biased small: two of the four kinds stay under 64 KiB, one
/// sits around the default RDMA threshold).
#[derive(Arbitrary, Debug, Clone, Copy)]
enum SendSize {
    /// 0 to 255 bytes.
    Tiny(u8),
    /// 0 to 65,535 bytes.
    Small(u16),
    /// 8192 + `d` bytes: around the default RDMA threshold.
    Threshold(i8),
    /// 64 KiB + 64 × `n` bytes: 64 KiB to about 4.1 MiB.
    Large(u16),
}

impl SendSize {
    fn bytes(self) -> usize {
        match self {
            SendSize::Tiny(n) => usize::from(n),
            SendSize::Small(n) => usize::from(n),
            SendSize::Threshold(d) => (8192 + isize::from(d)) as usize,
            SendSize::Large(n) => 65536 + 64 * usize::from(n),
        }
    }
}

/// The buffer a `Recv` reads into.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum RecvBuf {
    B65536,
    B1,
    B7,
    B4096,
    B1M,
}

impl RecvBuf {
    fn bytes(self) -> usize {
        match self {
            RecvBuf::B65536 => 65536,
            RecvBuf::B1 => 1,
            RecvBuf::B7 => 7,
            RecvBuf::B4096 => 4096,
            RecvBuf::B1M => 1 << 20,
        }
    }
}

/// `Switch::shutdown_socket`'s `how`.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum How {
    Send,
    Receive,
    Both,
}

impl How {
    fn get(self) -> Shutdown {
        match self {
            How::Send => Shutdown::Send,
            How::Receive => Shutdown::Receive,
            How::Both => Shutdown::Both,
        }
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Op {
    /// A new socket (stream or datagram), maybe `SO_DEBUG` set and bound, connects to `dest`.
    Connect {
        host: bool,
        dest: Dest,
        bind: Bind,
        debug: bool,
        datagram: bool,
    },
    /// Installs (or removes) provider `provider % n` in the host's catalog, then
    /// `Switch::catalog_changed`.
    Catalog {
        host: bool,
        provider: u8,
        install: bool,
    },
    /// `Switch::initialize` again with the same catalog.
    Initialize { host: bool, interfaces: Option<u8> },
    /// Sets a provider's addresses (if given), then `Switch::address_changed` with new
    /// interfaces (if given).
    Addresses {
        host: bool,
        provider: u8,
        addresses: Option<u8>,
        interfaces: Option<u8>,
    },
    /// The n-th open socket connects (again) to `dest`.
    Reconnect { host: bool, n: u8, dest: Dest },
    /// Cancels the n-th pending connect (or, with none, tries on the n-th open socket).
    Cancel { host: bool, n: u8 },
    /// Closes the n-th open socket.
    Close { host: bool, n: u8 },
    /// A new socket bound to `at` listens.
    Listen {
        host: bool,
        at: ListenAt,
        backlog: i8,
        reject: bool,
    },
    /// Takes the next accepted connection of the n-th listener (or tries on a socket that
    /// is not one), and maybe closes it at once.
    Accept { host: bool, n: u8, close: bool },
    /// Delivers up to `n % 8 + 1` signals.
    Deliver { n: u8 },
    /// Moves the clock on by `ms` and hands both switches the time.
    Advance { ms: u8 },
    /// Delivers signals and completions and moves the clock to each due time until nothing
    /// is left (bounded).
    Settle,
    /// `Switch::shutdown`.
    Shutdown { host: bool },
    /// `Switch::send` of `size` bytes (`MSG_OOB` with `oob`) on the `n % 128`-th connection
    /// end, or, with `n` from 128, on the n-th open socket.
    Send {
        host: bool,
        n: u8,
        size: SendSize,
        oob: bool,
    },
    /// `Switch::recv` on a connection end chosen as for `Send`: up to [`MAX_RECV_CALLS`]
    /// calls with a `buf` buffer until nothing is there, or (with `oob`) one for the urgent
    /// byte.
    Recv {
        host: bool,
        n: u8,
        buf: RecvBuf,
        oob: bool,
    },
    /// `Switch::shutdown_socket` on a connection end chosen as for `Send`.
    ShutdownSocket { host: bool, n: u8, how: How },
    /// `Switch::handle_completions` on one host.
    Complete { host: bool },
}

// ---- fixed addresses ----

fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

fn v6(group: u16, last: u16) -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(0xfd00, group, 0, 0, 0, 0, 0, last))
}

/// The default address of provider `p` of host `h`: 10.(p+1).0.(h+1).
fn default_address(h: usize, p: usize) -> IpAddr {
    v4(10, p as u8 + 1, 0, h as u8 + 1)
}

/// The TCP/IP interface of host `h` (host 1 also has 10.1.9.2).
fn tcp_interface(h: usize) -> IpAddr {
    v4(10, 0, 0, h as u8 + 1)
}

/// The addresses a provider of host `h` may list.
fn address_pool(h: usize) -> [IpAddr; 8] {
    let n = h as u8 + 1;
    [
        v4(10, 1, 0, n),
        v4(10, 2, 0, n),
        v4(10, 3, 0, n),
        v6(1, u16::from(n)),
        v4(10, 1, 9, 2),
        // The other host's "ib" address.
        v4(10, 1, 0, 3 - n),
        v4(10, 1, 0, 7),
        tcp_interface(h),
    ]
}

fn pick_addresses(h: usize, mask: u8) -> Vec<IpAddr> {
    address_pool(h)
        .into_iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, a)| a)
        .collect()
}

fn interface_pool() -> [IpNet; 8] {
    [
        "10.1.0.5/16",
        "10.2.0.5/16",
        "10.3.0.5/16",
        "fd00:1::5/64",
        "10.0.0.5/8",
        "10.1.0.5/24",
        "0.0.0.0/0",
        "10.1.0.7/32",
    ]
    .map(|s| s.parse().unwrap())
}

/// The switch's interfaces for `mask` (the first four when `None`).
fn interfaces(mask: Option<u8>) -> Vec<IpNet> {
    let mask = mask.unwrap_or(0b1111);
    interface_pool()
        .into_iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, a)| a)
        .collect()
}

/// Where a connect from host `h` goes.
fn destination(h: usize, d: Dest) -> SocketAddr {
    let peer = 1 - h;
    let ip = match d {
        Dest::Peer(p) => default_address(peer, usize::from(p) % 3),
        Dest::Own(p) => default_address(h, usize::from(p) % 3),
        Dest::Unserved => v4(10, 1, 9, 2),
        Dest::PeerTcp => tcp_interface(peer),
        Dest::WrongPort => return SocketAddr::new(default_address(peer, 0), 7001),
        Dest::Nobody => v4(10, 1, 0, 99),
        Dest::Shared => v4(10, 1, 0, 7),
        Dest::Wildcard => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        Dest::PortZero => return SocketAddr::new(default_address(peer, 0), 0),
        Dest::PeerV6 => v6(1, peer as u16 + 1),
    };
    SocketAddr::new(ip, PORT)
}

fn family(a: &SocketAddr) -> AddressFamily {
    if a.is_ipv4() {
        AddressFamily::INET
    } else {
        AddressFamily::INET6
    }
}

// ---- the panic hook ----

fn is_deliberate(payload: &(dyn std::any::Any + Send)) -> bool {
    payload
        .downcast_ref::<String>()
        .is_some_and(|m| m.starts_with("mock provider") && m.ends_with("as configured"))
}

/// libfuzzer-sys aborts on every panic, even one caught later; the mocks' deliberate panics
/// are caught by the switch on purpose, so they go through silently. Every other panic goes to
/// the hook installed before (libfuzzer-sys's, a crash; the replay test's, a failure).
pub fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let next = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !is_deliberate(info.payload()) {
                next(info);
            }
        }));
    });
}

// ---- the data ----

/// Byte `i` of send `seq` of connection end `end` of host `h`: different enough between sends
/// and ends that a byte out of place shows. The bytes come eight at a time from one 64-bit
/// mix of the send's key and the word's index, so [`fill_pattern`] writes a send a word at a
/// time and [`check_prefix`] compares whole slices: under the fuzzer's compare tracing a loop
/// over every byte of megabytes of data was half of the running time.
fn pattern(h: usize, end: usize, seq: u32, i: usize) -> u8 {
    pattern_word(pattern_key(h, end, seq), i / 8).to_le_bytes()[i % 8]
}

fn pattern_key(h: usize, end: usize, seq: u32) -> u64 {
    (u64::from(seq) << 32) ^ ((end as u64) << 8) ^ (h as u64) ^ 0x5851_F42D_4C95_7F2D
}

/// splitmix64 of the key and the word's index.
fn pattern_word(key: u64, word: usize) -> u64 {
    let mut x = key ^ (word as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The first `len` bytes of send `seq` (`pattern` of each), 32 at a time.
fn fill_pattern(h: usize, end: usize, seq: u32, len: usize) -> Vec<u8> {
    let key = pattern_key(h, end, seq);
    let mut data = vec![0; len.next_multiple_of(32)];
    for (k, chunk) in data.chunks_exact_mut(32).enumerate() {
        let w = k * 4;
        chunk[..8].copy_from_slice(&pattern_word(key, w).to_le_bytes());
        chunk[8..16].copy_from_slice(&pattern_word(key, w + 1).to_le_bytes());
        chunk[16..24].copy_from_slice(&pattern_word(key, w + 2).to_le_bytes());
        chunk[24..].copy_from_slice(&pattern_word(key, w + 3).to_le_bytes());
    }
    data.truncate(len);
    data
}

/// Where a send stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    /// Taken by `Switch::send`; no `Sent` yet.
    Pending,
    /// `Sent` with `Ok`.
    Done,
    /// `Sent` with this error.
    Failed(WsaError),
}

/// A send the switch took.
#[derive(Debug, Clone, Copy)]
struct SendRec {
    id: SendId,
    /// Its number on its end (its bytes are `pattern(host, end, seq, i)`).
    seq: u32,
    len: usize,
    oob: bool,
    status: Status,
}

impl SendRec {
    /// The bytes it puts into the stream: all of them, or all but the urgent byte (SESS-4).
    fn stream_len(&self) -> usize {
        if self.oob {
            self.len.saturating_sub(1)
        } else {
            self.len
        }
    }

    /// Whether none of its bytes leave: a registration failed (SESS-2).
    fn withheld(&self) -> bool {
        self.status == Status::Failed(WsaError::WSAENOBUFS)
    }
}

/// Which side of a SAN connection an end is, with the address that names the connection: the
/// connecting side's own address, which the accepting side has as its peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Caller(SocketAddr),
    Callee(SocketAddr),
}

/// One end of a connection the application got: a connect that completed, or a connection
/// a listener announced.
#[derive(Debug)]
struct End {
    socket: SocketId,
    /// Carried by a SAN provider (else by TCP/IP).
    san: bool,
    /// For a SAN end: its side, if known.
    side: Option<Side>,
    sends: Vec<SendRec>,
    /// The stream bytes the application received, in order.
    received: Vec<u8>,
    /// The urgent bytes it received, in order.
    urgent: Vec<u8>,
    /// A `recv` answered 0: the end of the stream.
    eof: bool,
    shut_send: bool,
    shut_recv: bool,
    /// Why the connection may not carry everything: an error seen on it.
    broken: Option<String>,
    closed: bool,
}

impl End {
    fn new(socket: SocketId, san: bool, side: Option<Side>) -> End {
        End {
            socket,
            san,
            side,
            sends: Vec::new(),
            received: Vec::new(),
            urgent: Vec::new(),
            eof: false,
            shut_send: false,
            shut_recv: false,
            broken: None,
            closed: false,
        }
    }

    fn break_with(&mut self, why: impl FnOnce() -> String) {
        if self.broken.is_none() {
            self.broken = Some(why());
        }
    }

    /// The bytes of the sends that succeeded.
    fn bytes_done(&self) -> u64 {
        self.sends
            .iter()
            .filter(|s| s.status == Status::Done)
            .map(|s| s.len as u64)
            .sum()
    }
}

/// Checks that what end `rcv` received is a prefix of the stream end `snd` (end `e` of host
/// `h`) sent: every send's stream bytes in order, but none of a send that failed with
/// `WSAENOBUFS` (SESS-2). Every send has finished. Answers the length of that stream.
fn check_prefix(what: &str, h: usize, e: usize, snd: &End, rcv: &End) -> usize {
    let received = &rcv.received;
    let mut at = 0;
    let mut total = 0;
    for (k, s) in snd.sends.iter().enumerate() {
        assert_ne!(
            s.status,
            Status::Pending,
            "{what}: send {k} {s:?} has not finished"
        );
        if s.withheld() {
            continue;
        }
        let n = s.stream_len();
        total += n;
        let take = n.min(received.len() - at);
        let expected = fill_pattern(h, e, s.seq, take);
        if received[at..at + take] != expected[..]
            && let Some(i) = (0..take).find(|&i| received[at + i] != expected[i])
        {
            panic!(
                "{what}: received byte {} is {:#04x}, but the stream has {:#04x} there (byte {i} \
                 of send {k}, {s:?}); sends {:?}",
                at + i,
                received[at + i],
                pattern(h, e, s.seq, i),
                snd.sends
            );
        }
        at += take;
    }
    assert_eq!(
        at,
        received.len(),
        "{what}: {} bytes received, more than the {total} bytes of the stream; sends {:?}",
        received.len(),
        snd.sends
    );
    // Each urgent byte read is the last byte of a later urgent send than the one before
    // (a newer urgent byte replaces one not read yet, SESS-4).
    let mut from = 0;
    for (j, &b) in rcv.urgent.iter().enumerate() {
        let found = (from..snd.sends.len()).find(|&k| {
            let s = &snd.sends[k];
            s.oob && s.len > 0 && !s.withheld() && pattern(h, e, s.seq, s.len - 1) == b
        });
        let Some(k) = found else {
            panic!(
                "{what}: urgent byte {j} ({b:#04x}) is the last byte of no urgent send after \
                 send {from}; urgent bytes {:?}, sends {:?}",
                rcv.urgent, snd.sends
            );
        };
        from = k + 1;
    }
    total
}

// ---- the world ----

struct Host {
    index: usize,
    switch: Switch,
    loader: MockLoader,
    catalog: MockCatalog,
    tcp: MockTcp,
    configs: Vec<MockConfig>,
    installed: Vec<bool>,
    /// Open application sockets (accepted ones included, taken or not).
    open: BTreeSet<SocketId>,
    /// Every socket the switch handed out.
    known: BTreeSet<SocketId>,
    /// Open listeners and the accepted connections not taken yet, in the order announced.
    listeners: BTreeMap<SocketId, VecDeque<SocketId>>,
    /// Sockets with a connect under way.
    pending: BTreeSet<SocketId>,
    watched: HashSet<EventHandle>,
    /// Per provider name: `WSPStartupEx` calls answered `Ok`, and `WSPCleanup` calls, from the
    /// switch's trace.
    started: BTreeMap<String, usize>,
    cleaned: BTreeMap<String, usize>,
    /// Every connection end the application got; `end_of` maps an open socket to its end.
    ends: Vec<End>,
    end_of: BTreeMap<SocketId, usize>,
    /// Every send the switch took: its end and its index there.
    sends: HashMap<SendId, (usize, usize)>,
    /// No provider has a data-path fault (`panic_at`, a registration error) and sessions are
    /// on: a connection between two such hosts carries everything.
    data_clean: bool,
    /// `Switch::shutdown` ran in the sequence.
    shut_down: bool,
}

impl Host {
    fn new(fabric: &Fabric, index: usize, spec: &HostSpec) -> Host {
        let specs: Vec<&ProviderSpec> = std::iter::once(&spec.first)
            .chain(spec.more.iter().flatten())
            .collect();
        let mut loader = MockLoader::new();
        let mut catalog = MockCatalog::with_tcpip();
        let mut configs = Vec::new();
        let mut installed = Vec::new();
        for (p, s) in specs.iter().enumerate() {
            let mut c = MockConfig::generic(NAMES[p]);
            c.addresses = vec![default_address(index, p)];
            for &f in s.faults.iter().take(MAX_FAULTS) {
                match f {
                    ProviderFault::Startup(e) => c.startup = Err(e.wsa()),
                    ProviderFault::Version(v) => c.version = v.get(),
                    ProviderFault::Socket(e) => c.socket = Err(e.wsa()),
                    ProviderFault::Addresses(mask) => c.addresses = pick_addresses(index, mask),
                    ProviderFault::AddressFault(f) => c.address_fault = f.get(),
                    ProviderFault::Extension { which, error } => {
                        let ext = SanExtension::ALL[usize::from(which) % SanExtension::ALL.len()];
                        c.extensions.insert(ext, Err(error.wsa()));
                    }
                    ProviderFault::PanicAt(call) => c.panic_at = Some(call.call()),
                    ProviderFault::Cleanup(e) => c.cleanup = Err(e.wsa()),
                    ProviderFault::ConnectError { dest, error } => {
                        c.connect_errors
                            .insert(destination(index, dest).ip(), error.wsa());
                    }
                    ProviderFault::ConnectPending => c.connect_pending = true,
                    ProviderFault::ConnectDelay(ms) => c.connect_delay_ms = u64::from(ms % 64),
                    ProviderFault::SetOption(e) => c.set_option = Err(e.wsa()),
                    ProviderFault::OtherFabric => c.fabric = "san1".to_owned(),
                    ProviderFault::MaxMsgSize(m) => c.max_msg_size = m.bytes(),
                    ProviderFault::MaxRdmaSize(m) => c.max_rdma_size = m.bytes(),
                    ProviderFault::RdmaThreshold(t) => c.rdma_threshold = t.bytes(),
                    ProviderFault::RegisterMemory(e) => c.register_memory = Err(e.wsa()),
                    ProviderFault::RegisterRdmaMemory(e) => c.register_rdma_memory = Err(e.wsa()),
                }
            }
            let install = p == 0 || s.installed;
            if install {
                catalog.install_mock(&c);
            }
            loader.add(c.clone());
            configs.push(c);
            installed.push(install);
        }
        loader.attach(fabric, index).expect("attach the loader");
        let policy = ConnectPolicy {
            negative_cache: spec
                .negative_cache_ms
                .map(|ms| Duration::from_millis(u64::from(ms))),
            san_deadline: spec
                .san_deadline_ms
                .map(|ms| Duration::from_millis(u64::from(ms))),
        };
        let (session, trace_data) = spec.session.get();
        let switch = Switch::new(SwitchConfig {
            connect: policy,
            session,
            trace_data,
            ..SwitchConfig::default()
        });
        let data_clean = session.enabled
            && configs.iter().all(|c| {
                c.panic_at.is_none() && c.register_memory.is_ok() && c.register_rdma_memory.is_ok()
            });
        Host {
            index,
            switch,
            loader,
            catalog,
            tcp: MockTcp::attached(fabric, index).expect("attach the TCP/IP mock"),
            configs,
            installed,
            open: BTreeSet::new(),
            known: BTreeSet::new(),
            listeners: BTreeMap::new(),
            pending: BTreeSet::new(),
            watched: HashSet::new(),
            started: BTreeMap::new(),
            cleaned: BTreeMap::new(),
            ends: Vec::new(),
            end_of: BTreeMap::new(),
            sends: HashMap::new(),
            data_clean,
            shut_down: false,
        }
    }

    fn provider(&self, n: u8) -> usize {
        usize::from(n) % self.configs.len()
    }

    /// The n-th element of a set, if it has any.
    fn nth(set: &BTreeSet<SocketId>, n: u8) -> Option<SocketId> {
        let len = set.len();
        (len > 0).then(|| *set.iter().nth(usize::from(n) % len).unwrap())
    }

    /// A socket for a data operation: the `n % 128`-th open connection end (any open socket
    /// when there is none), or, with `n` from 128, the n-th open socket.
    fn pick(&self, n: u8) -> Option<SocketId> {
        if n < 128 && !self.end_of.is_empty() {
            let ends: BTreeSet<SocketId> = self.end_of.keys().copied().collect();
            Self::nth(&ends, n)
        } else {
            Self::nth(&self.open, n)
        }
    }

    /// A socket the switch handed out (new, or accepted).
    fn opened(&mut self, s: SocketId, what: &str) {
        assert!(
            self.open.insert(s),
            "host {}: {what} {s:?} is already open",
            self.index
        );
        self.known.insert(s);
    }

    /// The application got a connection on `socket`.
    fn new_end(&mut self, socket: SocketId, via: Via, side: Option<Side>) {
        let e = self.ends.len();
        let san = matches!(via, Via::San(_));
        self.ends
            .push(End::new(socket, san, if san { side } else { None }));
        if let Some(old) = self.end_of.insert(socket, e) {
            panic!(
                "host {}: {socket:?} connected again while its connection {:?} is open",
                self.index, self.ends[old]
            );
        }
    }

    /// A connect of `socket` completed through `via`.
    fn connected(&mut self, socket: SocketId, via: Via) {
        let side = self
            .switch
            .connection(socket)
            .and_then(|(_, _, local)| local)
            .map(Side::Caller);
        self.new_end(socket, via, side);
    }

    /// Takes what the switch announced and what it called since the last time, checking it.
    fn drain(&mut self) {
        while let Some(e) = self.switch.poll() {
            match e {
                SwitchEvent::Watch(ev) => {
                    assert!(
                        self.watched.insert(ev),
                        "host {}: {ev:?} watched twice",
                        self.index
                    );
                }
                SwitchEvent::Unwatch(ev) => {
                    assert!(
                        self.watched.remove(&ev),
                        "host {}: {ev:?} released unwatched",
                        self.index
                    );
                }
                SwitchEvent::Connected { socket, result } => {
                    assert!(
                        self.pending.remove(&socket),
                        "host {}: {socket:?} connected ({result:?}) with no connect under way",
                        self.index
                    );
                    if let Ok(via) = result.result {
                        self.connected(socket, via);
                    }
                }
                SwitchEvent::Accepted {
                    listener,
                    socket,
                    peer,
                    ..
                } => {
                    let queue = self.listeners.get_mut(&listener).unwrap_or_else(|| {
                        panic!(
                            "host {}: accepted on {listener:?}, not a listener",
                            self.index
                        )
                    });
                    queue.push_back(socket);
                    self.opened(socket, "accepted socket");
                    // Accepted connections are SAN connections (TCP/IP ones are never taken).
                    let via = self
                        .switch
                        .connection(socket)
                        .map_or(Via::Tcp, |(via, _, _)| via);
                    assert!(
                        matches!(via, Via::San(_)),
                        "host {}: accepted {socket:?} is carried by {via:?}",
                        self.index
                    );
                    self.new_end(socket, via, Some(Side::Callee(peer)));
                }
                SwitchEvent::Rejected { listener, .. } => {
                    assert!(
                        self.listeners.contains_key(&listener),
                        "host {}: rejected on {listener:?}, not a listener",
                        self.index
                    );
                }
                SwitchEvent::Sent {
                    socket,
                    send,
                    result,
                } => self.sent(socket, send, result),
                SwitchEvent::Readable { socket } => {
                    assert!(
                        self.known.contains(&socket),
                        "host {}: readable {socket:?}, which the switch never handed out",
                        self.index
                    );
                }
            }
        }
        for ev in self.switch.take_trace() {
            match (ev.call, ev.result) {
                (Call::StartupEx, CallResult::Ok) => {
                    *self
                        .started
                        .entry(ev.provider_name.to_string())
                        .or_default() += 1;
                }
                (Call::Cleanup, _) => {
                    *self
                        .cleaned
                        .entry(ev.provider_name.to_string())
                        .or_default() += 1;
                }
                _ => {}
            }
        }
        self.switch.take_diagnostics();
    }

    /// A send finished.
    fn sent(&mut self, socket: SocketId, send: SendId, result: Result<SendReport, WsaError>) {
        let h = self.index;
        let Some(&(e, k)) = self.sends.get(&send) else {
            panic!("host {h}: {send:?} on {socket:?} finished ({result:?}), a send never taken");
        };
        let end = &mut self.ends[e];
        assert_eq!(
            end.socket, socket,
            "host {h}: {send:?} finished on another socket than its own"
        );
        let s = &mut end.sends[k];
        assert_eq!(s.id, send, "host {h}: the send table is wrong");
        assert_eq!(
            s.status,
            Status::Pending,
            "host {h}: {send:?} on {socket:?} finished twice, now with {result:?}"
        );
        match result {
            Ok(report) => {
                assert_eq!(
                    report.bytes, s.len,
                    "host {h}: {send:?} ({s:?}) on {socket:?} reports {report:?}"
                );
                let path_ok = if !end.san {
                    report.path == DataPath::Tcp
                } else if s.oob || s.len == 0 {
                    report.path == DataPath::Inline
                } else {
                    report.path != DataPath::Tcp
                };
                assert!(
                    path_ok,
                    "host {h}: {send:?} ({s:?}) on {socket:?}, a {} connection, reports {report:?}",
                    if end.san { "SAN" } else { "TCP" }
                );
                s.status = Status::Done;
            }
            Err(error) => {
                s.status = Status::Failed(error);
                if error != WsaError::WSAENOBUFS {
                    end.break_with(|| format!("{send:?} failed with {error}"));
                }
            }
        }
        // A send that failed with anything but WSAENOBUFS took the connection down with it:
        // no later send succeeds (but one of 0 bytes, which completes at once).
        if let Some(f) = end
            .sends
            .iter()
            .position(|s| matches!(s.status, Status::Failed(e) if e != WsaError::WSAENOBUFS))
        {
            assert!(
                !end.sends[f..]
                    .iter()
                    .any(|s| s.status == Status::Done && s.len > 0),
                "host {h}: on {socket:?} a send succeeded after send {f} failed: {:?}",
                end.sends
            );
        }
    }

    /// The invariants that hold after every operation.
    fn check(&self) {
        let fp = self.switch.footprint();
        assert_eq!(
            fp.watched_events,
            self.watched.len(),
            "host {}: footprint {fp:?}",
            self.index
        );
        // CONN-7, ACCEPT-3: a SAN connection a listener accepted is a socket of the switch
        // while its session negotiates, announced (`Accepted`) only once negotiated.
        assert!(
            fp.sockets >= self.open.len(),
            "host {}: footprint {fp:?}, open {:?}",
            self.index,
            self.open
        );
        assert!(
            fp.deadlines <= self.pending.len(),
            "host {}: footprint {fp:?}, pending {:?}",
            self.index,
            self.pending
        );
        let log = self.loader.log();
        for c in &self.configs {
            let started = self.started.get(&c.name).copied().unwrap_or(0);
            let cleaned = self.cleaned.get(&c.name).copied().unwrap_or(0);
            assert_eq!(
                log.count(&c.name, Call::Cleanup),
                cleaned,
                "host {}: `{}` got other WSPCleanup calls than the trace says",
                self.index,
                c.name
            );
            assert!(
                cleaned <= started,
                "host {}: `{}` cleaned up {cleaned} times, started {started} times",
                self.index,
                c.name
            );
        }
        // What the switch counts of a connection's bytes: the sends that succeeded, and at
        // least what the application read (a SAN connection counts what arrived).
        for (&s, &e) in &self.end_of {
            let end = &self.ends[e];
            if end.san && self.switch.session_counters(s).is_none() {
                // No session (sessions off, or closed by `shutdown`).
                continue;
            }
            let Some((sent, received)) = self.switch.bytes(s) else {
                continue;
            };
            assert_eq!(
                sent,
                end.bytes_done(),
                "host {}: {s:?} counts {sent} bytes sent; sends {:?}",
                self.index,
                end.sends
            );
            assert!(
                received >= end.received.len() as u64,
                "host {}: {s:?} counts {received} bytes received, the application read {}",
                self.index,
                end.received.len()
            );
        }
    }

    fn close(&mut self, s: SocketId) {
        let r = self.switch.close(&mut self.tcp, s);
        assert!(r.is_ok(), "host {}: closing open {s:?}: {r:?}", self.index);
        self.forget(s);
        for q in self.listeners.values_mut() {
            q.retain(|x| *x != s);
        }
        // ACCEPT-4: a listener's accepted connections not taken close with it.
        if let Some(untaken) = self.listeners.remove(&s) {
            for a in untaken {
                self.forget(a);
            }
        }
    }

    /// `s` is closed.
    fn forget(&mut self, s: SocketId) {
        self.open.remove(&s);
        self.pending.remove(&s);
        if let Some(e) = self.end_of.remove(&s) {
            self.ends[e].closed = true;
        }
    }

    fn connect(&mut self, s: SocketId, dest: SocketAddr) {
        let was_pending = self.pending.contains(&s);
        let was_listener = self.listeners.contains_key(&s);
        match self.switch.connect(&mut self.tcp, s, dest) {
            Ok(ConnectStatus::Pending) => {
                assert!(
                    !was_pending && !was_listener,
                    "host {}: {s:?} connects again while busy",
                    self.index
                );
                self.pending.insert(s);
            }
            Ok(ConnectStatus::Done(r)) => {
                assert!(
                    !was_pending && !was_listener,
                    "host {}: {s:?} connects again while busy",
                    self.index
                );
                if let Ok(via) = r.result {
                    self.connected(s, via);
                }
            }
            Err(_) => {}
        }
    }

    fn new_connect(&mut self, dest: SocketAddr, bind: Bind, debug: bool, datagram: bool) {
        let kind = if datagram {
            SocketKind::Datagram
        } else {
            SocketKind::Stream
        };
        let Ok(s) = self.switch.socket(&mut self.tcp, family(&dest), kind) else {
            return;
        };
        self.opened(s, "new socket");
        if debug {
            let option = StoredOption {
                level: SOL_SOCKET,
                name: SO_DEBUG,
                value: 1u32.to_le_bytes().to_vec(),
            };
            let _ = self.switch.set_option(&mut self.tcp, s, option);
        }
        let unspecified = if dest.is_ipv4() {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        } else {
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        };
        let at = match bind {
            Bind::None => None,
            Bind::Wildcard => Some(SocketAddr::new(unspecified, 0)),
            Bind::Provider(p) => Some(SocketAddr::new(
                default_address(self.index, usize::from(p) % 3),
                0,
            )),
            Bind::Interface => Some(SocketAddr::new(tcp_interface(self.index), 0)),
            Bind::FixedPort => Some(SocketAddr::new(default_address(self.index, 0), 7100)),
        };
        if let Some(at) = at {
            let _ = self.switch.bind(&mut self.tcp, s, at);
        }
        self.connect(s, dest);
    }

    fn listen(&mut self, at: ListenAt, backlog: i8, reject: bool) {
        let at = match at {
            ListenAt::WildcardV4 => SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), PORT),
            ListenAt::WildcardV6 => SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), PORT),
            ListenAt::Provider(p) => {
                SocketAddr::new(default_address(self.index, usize::from(p) % 3), PORT)
            }
            ListenAt::Interface => SocketAddr::new(tcp_interface(self.index), PORT),
            ListenAt::Unserved => SocketAddr::new(v4(10, 1, 9, 2), PORT),
            ListenAt::Shared => SocketAddr::new(v4(10, 1, 0, 7), PORT),
            ListenAt::Ephemeral => SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0),
        };
        let Ok(l) = self
            .switch
            .socket(&mut self.tcp, family(&at), SocketKind::Stream)
        else {
            return;
        };
        self.opened(l, "new listener");
        if self.switch.bind(&mut self.tcp, l, at).is_err() {
            return;
        }
        let decision = if reject {
            ConditionResult::Reject
        } else {
            ConditionResult::Accept
        };
        if self
            .switch
            .listen(&mut self.tcp, l, i32::from(backlog), decision)
            .is_ok()
        {
            self.listeners.insert(l, VecDeque::new());
        }
    }

    fn accept(&mut self, n: u8, close: bool) {
        let listeners: BTreeSet<SocketId> = self.listeners.keys().copied().collect();
        let Some(l) = Self::nth(&listeners, n) else {
            if let Some(s) = Self::nth(&self.open, n) {
                let r = self.switch.accept(s);
                assert!(
                    r.is_err(),
                    "host {}: accept on {s:?}, not a listener: {r:?}",
                    self.index
                );
            }
            return;
        };
        let r = self.switch.accept(l);
        // The oldest connection announced: the switch queues accepted connections as they
        // arrive (socket ids go up) and hands out the oldest whose session is negotiated;
        // negotiations may finish out of arrival order.
        let queue = self.listeners.get_mut(&l).unwrap();
        let expected = queue.iter().copied().min();
        queue.retain(|x| Some(*x) != expected);
        assert_eq!(r, Ok(expected), "host {}: accept on {l:?}", self.index);
        if let (Some(s), true) = (expected, close) {
            self.close(s);
        }
    }

    fn cancel(&mut self, n: u8) {
        if let Some(s) = Self::nth(&self.pending, n) {
            match self.switch.cancel_connect(&mut self.tcp, s) {
                Ok(()) => {
                    self.pending.remove(&s);
                }
                // CONN-7: established, its session negotiating: nothing left to cancel.
                Err(SocketError::WrongState {
                    state: "negotiating",
                    ..
                }) => {}
                Err(e) => panic!("host {}: cancelling pending {s:?}: {e:?}", self.index),
            }
        } else if let Some(s) = Self::nth(&self.open, n) {
            let r = self.switch.cancel_connect(&mut self.tcp, s);
            assert!(
                r.is_err(),
                "host {}: cancelled {s:?} with no connect under way",
                self.index
            );
        }
    }

    fn shutdown(&mut self) {
        self.switch.shutdown();
        self.shut_down = true;
        // CLOSE-2: the sessions end with the providers.
        for &e in self.end_of.values() {
            let end = &mut self.ends[e];
            if end.san {
                end.break_with(|| "the switch shut down".to_owned());
            }
        }
    }

    /// `Switch::send` of `len` bytes on the socket `n` picks.
    fn send(&mut self, n: u8, len: usize, oob: bool) {
        let Some(s) = self.pick(n) else {
            return;
        };
        let h = self.index;
        let end = self.end_of.get(&s).copied();
        let seq = end.map_or(0, |e| self.ends[e].sends.len() as u32);
        let data = fill_pattern(h, end.unwrap_or(usize::MAX), seq, len);
        let flags = if oob {
            MsgFlags::OOB
        } else {
            MsgFlags::empty()
        };
        match self.switch.send(&mut self.tcp, s, data, flags) {
            Ok(id) => {
                let Some(e) = end else {
                    panic!("host {h}: a send on {s:?}, which has no connection, was taken");
                };
                let end = &mut self.ends[e];
                assert!(
                    !end.shut_send,
                    "host {h}: a send on {s:?} was taken after its Shutdown::Send"
                );
                let k = end.sends.len();
                end.sends.push(SendRec {
                    id,
                    seq,
                    len,
                    oob,
                    status: Status::Pending,
                });
                assert!(
                    self.sends.insert(id, (e, k)).is_none(),
                    "host {h}: {id:?} answered twice"
                );
            }
            Err(err) => {
                // WSAEWOULDBLOCK: the send queue is full (`SessionConfig::send_queue`).
                if let (Some(e), false) = (end, err.wsa() == Some(WsaError::WSAEWOULDBLOCK)) {
                    let end = &mut self.ends[e];
                    if !end.shut_send {
                        end.break_with(|| format!("send: {err}"));
                    }
                }
            }
        }
        self.drain();
    }

    /// `Switch::recv` on the socket `n` picks.
    fn recv(&mut self, n: u8, size: usize, oob: bool) {
        if let Some(s) = self.pick(n) {
            self.read(s, size, oob, MAX_RECV_CALLS);
        }
    }

    /// Reads on `s`: up to `calls` calls into a `size`-byte buffer until nothing is there, or
    /// (with `oob`) the urgent byte. Answers whether anything came (bytes, the end of the
    /// stream, an urgent byte).
    fn read(&mut self, s: SocketId, size: usize, oob: bool, calls: usize) -> bool {
        let h = self.index;
        let end = self.end_of.get(&s).copied();
        let mut buf = vec![0u8; size.max(1)];
        let mut moved = false;
        if oob {
            match self
                .switch
                .recv(&mut self.tcp, s, &mut buf[..1], MsgFlags::OOB)
            {
                Ok(0) => {}
                Ok(k) => {
                    assert_eq!(k, 1, "host {h}: an urgent receive on {s:?} answered {k}");
                    let Some(e) = end else {
                        panic!("host {h}: an urgent byte on {s:?}, which has no connection");
                    };
                    self.ends[e].urgent.push(buf[0]);
                    moved = true;
                }
                Err(err) => {
                    // WSAEINVAL: no urgent byte (SESS-4).
                    if let (Some(e), false) = (end, err.wsa() == Some(WsaError::WSAEINVAL)) {
                        let end = &mut self.ends[e];
                        if !end.shut_recv {
                            end.break_with(|| format!("urgent recv: {err}"));
                        }
                    }
                }
            }
        } else {
            for _ in 0..calls {
                match self
                    .switch
                    .recv(&mut self.tcp, s, &mut buf, MsgFlags::empty())
                {
                    Ok(0) => {
                        if let Some(e) = end
                            && !self.ends[e].eof
                        {
                            self.ends[e].eof = true;
                            moved = true;
                        }
                        break;
                    }
                    Ok(k) => {
                        let Some(e) = end else {
                            panic!("host {h}: {k} bytes on {s:?}, which has no connection");
                        };
                        let end = &mut self.ends[e];
                        assert!(
                            !end.eof,
                            "host {h}: {k} bytes on {s:?} after the end of the stream"
                        );
                        end.received.extend_from_slice(&buf[..k]);
                        moved = true;
                    }
                    Err(err) => {
                        if err.wsa() != Some(WsaError::WSAEWOULDBLOCK)
                            && let Some(e) = end
                        {
                            let end = &mut self.ends[e];
                            if !end.shut_recv {
                                end.break_with(|| format!("recv: {err}"));
                            }
                        }
                        break;
                    }
                }
            }
        }
        self.drain();
        moved
    }

    /// Reads everything there is on every open connection end (the urgent byte too); answers
    /// whether anything came.
    fn read_everything(&mut self) -> bool {
        let mut moved = false;
        let sockets: Vec<(SocketId, usize)> = self.end_of.iter().map(|(s, e)| (*s, *e)).collect();
        for (s, e) in sockets {
            if !self.end_of.contains_key(&s) || self.ends[e].shut_recv {
                continue;
            }
            if !self.ends[e].eof {
                moved |= self.read(s, 1 << 20, false, 64);
            }
            moved |= self.read(s, 1, true, 1);
        }
        moved
    }

    /// `Switch::shutdown_socket` on the socket `n` picks.
    fn shutdown_socket(&mut self, n: u8, how: Shutdown) {
        let Some(s) = self.pick(n) else {
            return;
        };
        let r = self.switch.shutdown_socket(&mut self.tcp, s, how);
        match (self.end_of.get(&s).copied(), r) {
            (Some(e), Ok(())) => {
                let end = &mut self.ends[e];
                end.shut_send |= how.sends();
                end.shut_recv |= how.receives();
            }
            (Some(e), Err(err)) => {
                self.ends[e].break_with(|| format!("shutdown: {err}"));
            }
            (None, Ok(())) => panic!(
                "host {}: shutdown of {s:?}, which has no connection, succeeded",
                self.index
            ),
            (None, Err(_)) => {}
        }
        self.drain();
    }

    /// Whether provider `name` was configured to panic in `WSPCloseSocket` (it cannot close a
    /// socket, so its sockets are not checked).
    fn cannot_close(&self, name: &str) -> bool {
        self.configs
            .iter()
            .any(|c| c.name == name && c.panic_at == Some(Call::CloseSocket))
    }

    /// Closes every application socket.
    fn close_all(&mut self) {
        while let Some(&s) = self.open.iter().next() {
            self.close(s);
        }
        self.drain();
        self.check();
    }

    /// With every application socket closed: nothing is left but the query sockets; no
    /// session, no registered or cached memory.
    fn check_closed(&mut self, fabric: &Fabric) {
        self.drain();
        self.check();
        assert!(
            self.pending.is_empty(),
            "host {}: {:?}",
            self.index,
            self.pending
        );
        assert!(
            self.watched.is_empty(),
            "host {}: still watches {:?}",
            self.index,
            self.watched
        );
        let fp = self.switch.footprint();
        assert_eq!(
            (fp.sockets, fp.watched_events, fp.deadlines),
            (0, 0, 0),
            "host {}: everything closed, footprint {fp:?}",
            self.index
        );
        assert_eq!(
            (fp.sessions, fp.session_memory),
            (0, 0),
            "host {}: everything closed, footprint {fp:?}",
            self.index
        );
        assert_eq!(self.tcp.open_sockets(), 0, "host {}", self.index);
        let open = san_sockets(fabric, self.index);
        if !self.shut_down {
            // Not shut down yet: each live provider has its query socket open, nothing more.
            let report = self.switch.report();
            for c in &self.configs {
                if self.cannot_close(&c.name) {
                    continue;
                }
                let live = report
                    .providers
                    .iter()
                    .filter(|p| {
                        p.name == c.name
                            && matches!(p.state, ProviderState::Ready | ProviderState::Retiring)
                    })
                    .count();
                let transport = Transport::San(c.name.clone());
                assert_eq!(
                    open.get(&transport).copied().unwrap_or(0),
                    live,
                    "host {}: `{}` has {live} live instances; open sockets {open:?}",
                    self.index,
                    c.name
                );
            }
        }
        // Every connection's registrations went with it (MEM-3, CLOSE-1) and every range the
        // switch let go was named to the providers' caches (MEM-2).
        if !self.configs.iter().any(|c| self.cannot_close(&c.name)) {
            let m = fabric.memory(self.index);
            assert_eq!(
                (m.local, m.rdma),
                (0, 0),
                "host {}: everything closed, registered memory {m:?}",
                self.index
            );
            let keeps_cache = self.configs.iter().any(|c| {
                c.extension_answer(SanExtension::MemoryRegistrationCacheCallback)
                    .is_err()
                    || c.panic_at == Some(Call::MemoryRegistrationCacheCallback)
            });
            if !keeps_cache {
                assert_eq!(
                    m.cached, 0,
                    "host {}: everything closed, cached registrations {m:?}",
                    self.index
                );
            }
        }
    }

    /// Shuts down and checks every started provider was cleaned up once and nothing is left.
    fn finish(&mut self, fabric: &Fabric) {
        // The sockets providers' cleanups closed so far: those of connections still open when
        // a `Shutdown` op or a provider's failure ended them (CLOSE-2); this shutdown, after
        // every application socket was closed, must leave its cleanups nothing to close.
        let reset_before = fabric.reset_at_cleanup(self.index);
        self.shutdown();
        self.drain();
        self.check();
        assert!(
            self.watched.is_empty(),
            "host {}: still watches {:?}",
            self.index,
            self.watched
        );
        let fp = self.switch.footprint();
        assert_eq!(
            (fp.watched_events, fp.deadlines),
            (0, 0),
            "host {}: shut down, footprint {fp:?}",
            self.index
        );
        let log = self.loader.log();
        for c in &self.configs {
            let started = self.started.get(&c.name).copied().unwrap_or(0);
            assert_eq!(
                log.count(&c.name, Call::Cleanup),
                started,
                "host {}: `{}` started {started} times (WSPStartupEx Ok)",
                self.index,
                c.name
            );
        }
        let open = san_sockets(fabric, self.index);
        let reset = fabric.reset_at_cleanup(self.index);
        for c in &self.configs {
            if self.cannot_close(&c.name) {
                continue;
            }
            let transport = Transport::San(c.name.clone());
            // A cleanup that panics closes nothing: what it was to end stays open.
            let cleanup_panics = c.panic_at == Some(Call::Cleanup);
            assert!(
                cleanup_panics || !open.contains_key(&transport),
                "host {}: `{}` sockets left open after shutdown: {open:?}",
                self.index,
                c.name
            );
            assert_eq!(
                reset.get(&transport),
                reset_before.get(&transport),
                "host {}: `{}` had sockets open at the last shutdown, closed by its cleanup: \
                 {reset:?}, before {reset_before:?}",
                self.index,
                c.name
            );
        }
        assert!(
            !fabric
                .open_sockets(self.index)
                .contains_key(&Transport::Tcp),
            "host {}: TCP/IP sockets left open",
            self.index
        );
        let m = fabric.memory(self.index);
        assert_eq!(
            (m.local, m.rdma, m.cached),
            (0, 0, 0),
            "host {}: shut down, memory {m:?}",
            self.index
        );
        // Every send finished (CLOSE-1: those not finished when their socket closed failed).
        for end in &self.ends {
            assert!(
                end.sends.iter().all(|s| s.status != Status::Pending),
                "host {}: {:?} closed with sends not finished: {:?}",
                self.index,
                end.socket,
                end.sends
            );
        }
    }
}

/// The SAN provider sockets open on host `h`, per provider.
fn san_sockets(fabric: &Fabric, h: usize) -> BTreeMap<Transport, usize> {
    let mut open = fabric.open_sockets(h);
    open.remove(&Transport::Tcp);
    open
}

/// The two ends of a SAN connection: (host, end) of the connecting side, then of the
/// accepting side.
type Pair = ((usize, usize), (usize, usize));

struct World {
    fabric: Fabric,
    hosts: [Host; 2],
    /// What is left of [`DATA_BUDGET`].
    budget: usize,
}

impl World {
    fn new(input: &Input) -> World {
        let fabric = Fabric::new();
        fabric.add_host("alpha", [tcp_interface(0)]);
        fabric.add_host("beta", [tcp_interface(1), v4(10, 1, 9, 2)]);
        let mut hosts = [0, 1].map(|i| Host::new(&fabric, i, &input.hosts[i]));
        for (h, spec) in hosts.iter_mut().zip(&input.hosts) {
            h.switch
                .initialize(&h.catalog, &mut h.loader, interfaces(spec.interfaces));
            if !spec.no_listener {
                let l = spec.listener;
                h.listen(l.at, l.backlog, l.reject);
            }
            h.drain();
            h.check();
        }
        World {
            fabric,
            hosts,
            budget: DATA_BUDGET,
        }
    }

    fn both(&mut self, f: impl Fn(&mut Host, &Fabric)) {
        for h in &mut self.hosts {
            f(h, &self.fabric);
        }
    }

    fn deliver_one(&mut self) -> bool {
        let Some((h, ev)) = self.fabric.next_signal() else {
            return false;
        };
        let host = &mut self.hosts[h];
        host.switch.handle_event(&mut host.tcp, ev);
        host.drain();
        true
    }

    /// Hands host `h` the completions its providers posted (and, for sessions that poll,
    /// polls them): answers whether anything completed.
    fn complete(&mut self, h: usize) -> bool {
        let host = &mut self.hosts[h];
        let n = host.switch.handle_completions(&mut host.tcp);
        host.drain();
        n > 0
    }

    fn advance(&mut self, ms: u64) {
        self.fabric.advance(ms);
        let now = Duration::from_millis(self.fabric.now());
        self.both(|h, _| {
            h.switch.handle_timeout(&mut h.tcp, now);
            h.drain();
        });
    }

    /// What a platform does (bounded): delivers the signals and the completions until nothing
    /// moves, then moves the clock on to the next due time.
    fn settle(&mut self) {
        for _ in 0..MAX_SETTLE_STEPS {
            let mut moved = false;
            for _ in 0..MAX_SETTLE_STEPS {
                if !self.deliver_one() {
                    break;
                }
                moved = true;
            }
            for h in 0..2 {
                moved |= self.complete(h);
            }
            if moved {
                continue;
            }
            let due = [
                self.fabric.next_due(),
                self.hosts[0]
                    .switch
                    .poll_timeout()
                    .map(|d| d.as_millis() as u64),
                self.hosts[1]
                    .switch
                    .poll_timeout()
                    .map(|d| d.as_millis() as u64),
            ]
            .into_iter()
            .flatten()
            .min();
            let Some(t) = due else {
                return;
            };
            self.advance(t.saturating_sub(self.fabric.now()));
        }
    }

    /// Settles and reads every connection until nothing more comes (bounded).
    fn settle_data(&mut self) {
        for _ in 0..MAX_DATA_ROUNDS {
            self.settle();
            let mut moved = false;
            for h in &mut self.hosts {
                moved |= h.read_everything();
            }
            if !moved {
                return;
            }
        }
        self.settle();
    }

    /// Takes `len` bytes of the budget: `len`, or, past the budget, its low byte (what is left
    /// at most).
    fn take_budget(&mut self, len: usize) -> usize {
        let len = if len <= self.budget {
            len
        } else {
            (len % 256).min(self.budget)
        };
        self.budget -= len;
        len
    }

    fn apply(&mut self, op: Op) {
        let host = |b: bool| usize::from(b);
        match op {
            Op::Catalog {
                host: b,
                provider,
                install,
            } => {
                let h = &mut self.hosts[host(b)];
                let p = h.provider(provider);
                if install && !h.installed[p] {
                    h.catalog.install_mock(&h.configs[p]);
                } else if !install && h.installed[p] {
                    h.catalog.remove(h.configs[p].guid);
                }
                h.installed[p] = install;
                h.switch.catalog_changed(&h.catalog, &mut h.loader);
            }
            Op::Initialize {
                host: b,
                interfaces: mask,
            } => {
                let h = &mut self.hosts[host(b)];
                h.switch
                    .initialize(&h.catalog, &mut h.loader, interfaces(mask));
            }
            Op::Addresses {
                host: b,
                provider,
                addresses,
                interfaces: mask,
            } => {
                let h = &mut self.hosts[host(b)];
                let p = h.provider(provider);
                if let Some(a) = addresses {
                    h.loader
                        .set_addresses(h.configs[p].guid, pick_addresses(h.index, a));
                }
                h.switch.address_changed(mask.map(|m| interfaces(Some(m))));
            }
            Op::Connect {
                host: b,
                dest,
                bind,
                debug,
                datagram,
            } => self.hosts[host(b)].new_connect(destination(host(b), dest), bind, debug, datagram),
            Op::Reconnect { host: b, n, dest } => {
                let h = &mut self.hosts[host(b)];
                if let Some(s) = Host::nth(&h.open, n) {
                    h.connect(s, destination(h.index, dest));
                }
            }
            Op::Cancel { host: b, n } => self.hosts[host(b)].cancel(n),
            Op::Close { host: b, n } => {
                let h = &mut self.hosts[host(b)];
                if let Some(s) = Host::nth(&h.open, n) {
                    h.close(s);
                }
            }
            Op::Listen {
                host: b,
                at,
                backlog,
                reject,
            } => self.hosts[host(b)].listen(at, backlog, reject),
            Op::Accept { host: b, n, close } => self.hosts[host(b)].accept(n, close),
            Op::Deliver { n } => {
                for _ in 0..=(n % 8) {
                    if !self.deliver_one() {
                        break;
                    }
                }
            }
            Op::Advance { ms } => self.advance(u64::from(ms)),
            Op::Settle => self.settle(),
            Op::Shutdown { host: b } => self.hosts[host(b)].shutdown(),
            Op::Send {
                host: b,
                n,
                size,
                oob,
            } => {
                let len = self.take_budget(size.bytes());
                self.hosts[host(b)].send(n, len, oob);
            }
            Op::Recv {
                host: b,
                n,
                buf,
                oob,
            } => self.hosts[host(b)].recv(n, buf.bytes(), oob),
            Op::ShutdownSocket { host: b, n, how } => {
                self.hosts[host(b)].shutdown_socket(n, how.get())
            }
            Op::Complete { host: b } => {
                self.complete(host(b));
            }
        }
        self.both(|h, _| {
            h.drain();
            h.check();
        });
        self.check_memory_access();
    }

    /// MEM-1: the model NIC refused no access.
    fn check_memory_access(&self) {
        assert_eq!(
            self.fabric.mem_violations(),
            0,
            "the fabric refused memory accesses (MEM-1)"
        );
    }

    /// The SAN connections whose two ends are known: a connecting side's address that names
    /// exactly one SAN connection of the fabric, between the hosts of exactly one connecting
    /// end and one accepting end with that address.
    fn pairs(&self) -> Vec<Pair> {
        let mut callers: HashMap<SocketAddr, Vec<(usize, usize)>> = HashMap::new();
        let mut callees: HashMap<SocketAddr, Vec<(usize, usize)>> = HashMap::new();
        for (h, host) in self.hosts.iter().enumerate() {
            for (e, end) in host.ends.iter().enumerate() {
                match end.side {
                    Some(Side::Caller(a)) => callers.entry(a).or_default().push((h, e)),
                    Some(Side::Callee(a)) => callees.entry(a).or_default().push((h, e)),
                    None => {}
                }
            }
        }
        let mut fabric: HashMap<SocketAddr, Vec<(usize, usize)>> = HashMap::new();
        for c in self.fabric.connections() {
            if matches!(c.caller.transport, Transport::San(_)) {
                fabric
                    .entry(c.caller.address)
                    .or_default()
                    .push((c.caller.host, c.callee.host));
            }
        }
        let mut pairs = Vec::new();
        for (a, cs) in &callers {
            let (Some(ds), Some(fs)) = (callees.get(a), fabric.get(a)) else {
                continue;
            };
            if let ([c], [d], [(fc, fd)]) = (cs.as_slice(), ds.as_slice(), fs.as_slice())
                && c.0 == *fc
                && d.0 == *fd
            {
                pairs.push((*c, *d));
            }
        }
        pairs.sort_unstable();
        pairs
    }

    fn end(&self, (h, e): (usize, usize)) -> &End {
        &self.hosts[h].ends[e]
    }

    /// After the last settling: a pair between two hosts with no data-path fault, open on both
    /// sides and with no error seen has nothing pending, and each side received all the other
    /// sent.
    fn check_complete(&self, pairs: &[Pair]) {
        for &(c, d) in pairs {
            let clean =
                |(h, _): (usize, usize)| self.hosts[h].data_clean && !self.hosts[h].shut_down;
            let usable = |x: &End| !x.closed && x.broken.is_none();
            if !(clean(c) && clean(d) && usable(self.end(c)) && usable(self.end(d))) {
                continue;
            }
            for (from, to) in [(c, d), (d, c)] {
                let (snd, rcv) = (self.end(from), self.end(to));
                let what = format!(
                    "settled connection {from:?} -> {to:?} ({:?} -> {:?})",
                    snd.socket, rcv.socket
                );
                if rcv.shut_recv {
                    continue;
                }
                let total = check_prefix(&what, from.0, from.1, snd, rcv);
                assert_eq!(
                    rcv.received.len(),
                    total,
                    "{what}: {} of the {total} bytes sent arrived; sends {:?}",
                    rcv.received.len(),
                    snd.sends
                );
                if let Some(s) = snd.sends.iter().rev().find(|s| s.oob && s.len > 0) {
                    let last = pattern(from.0, from.1, s.seq, s.len - 1);
                    assert_eq!(
                        rcv.urgent.last(),
                        Some(&last),
                        "{what}: the last urgent byte did not arrive; urgent bytes {:?}, sends \
                         {:?}",
                        rcv.urgent,
                        snd.sends
                    );
                }
                assert!(
                    !snd.shut_send || rcv.eof,
                    "{what}: shut down for sending, but the end of the stream did not arrive"
                );
            }
        }
    }

    /// At the end, every send finished: what each side of a pair received is a prefix of
    /// what the other sent, all of it when it read the end of the stream.
    fn check_streams(&self, pairs: &[Pair]) {
        for &(c, d) in pairs {
            for (from, to) in [(c, d), (d, c)] {
                let (snd, rcv) = (self.end(from), self.end(to));
                let what = format!(
                    "connection {from:?} -> {to:?} ({:?} -> {:?})",
                    snd.socket, rcv.socket
                );
                let total = check_prefix(&what, from.0, from.1, snd, rcv);
                assert!(
                    !rcv.eof || rcv.received.len() == total,
                    "{what}: the end of the stream came after {} of the {total} bytes sent; \
                     sends {:?}",
                    rcv.received.len(),
                    snd.sends
                );
            }
        }
    }

    /// The last settling (with `Ending::Settle`), then closes and shuts everything down,
    /// checking what is left.
    fn finish(&mut self, ending: Ending) {
        if ending == Ending::Settle {
            self.settle_data();
        }
        let pairs = self.pairs();
        if ending == Ending::Settle {
            self.check_complete(&pairs);
        }
        self.both(|h, _| h.close_all());
        self.settle();
        self.both(|h, f| h.check_closed(f));
        self.both(|h, f| h.finish(f));
        self.check_memory_access();
        self.check_streams(&pairs);
    }
}

/// One input, as libfuzzer-sys runs `fuzz_target!(|input: Input| ...)`: bytes shorter than
/// `Input`'s size hint are skipped (libfuzzer-sys rejects them), the rest become an `Input`
/// with `Input::arbitrary_take_rest(Unstructured::new(data))` (an input it cannot build is
/// skipped too), then [`check`]. Expects [`install_panic_hook`].
pub fn run(data: &[u8]) {
    if data.len() < <Input as Arbitrary>::size_hint(0).0 {
        return;
    }
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    check(&input);
}

/// The target's body: applies the warm-up and the operations, then the ending, checking after
/// each; panics (a crash) when a check fails or a provider's panic escapes the switch.
pub fn check(input: &Input) {
    let mut world = World::new(input);
    let warmup = input.warmup.ops();
    for &op in warmup.iter().chain(input.ops.iter().take(MAX_OPS)) {
        let r = catch_unwind(AssertUnwindSafe(|| world.apply(op)));
        if let Err(payload) = r {
            panic!("{} in {op:?}", escaped(&*payload));
        }
    }
    let r = catch_unwind(AssertUnwindSafe(|| world.finish(input.ending)));
    if let Err(payload) = r {
        panic!(
            "{} at the end (settle, close, shutdown)",
            escaped(&*payload)
        );
    }
}

/// What a panic that unwound out of an operation was. Under libFuzzer only a deliberate panic
/// gets that far (any other aborted in libfuzzer-sys's hook); in the replay test any other
/// was recorded by the test's hook and unwinds too.
fn escaped(payload: &(dyn std::any::Any + Send)) -> String {
    let msg = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or_default();
    if is_deliberate(payload) {
        format!("a provider panic escaped the switch: {msg}")
    } else {
        format!("panicked: {msg}")
    }
}
