//! The typed scenario: what a valid scenario file says, with every default filled in.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use ipnet::IpNet;
use spi_types::{Guid, WinsockVersion};
use switch_core::SocketKind;
use switch_core::trace::Call;

use super::WsaError;
use super::values::{
    AddressListFault, BindAddr, ExtensionAnswers, Outcome, Profile, ShutdownHow, wsa_text,
};

/// A whole scenario: hosts on one simulated network, and the steps, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// The hosts, in file order (at least one).
    pub hosts: Vec<Host>,
    /// The steps, in file order.
    pub steps: Vec<Step>,
}

impl Scenario {
    /// The host named `name`.
    pub fn host(&self, name: &str) -> Option<&Host> {
        self.hosts.iter().find(|h| h.name == name)
    }
}

/// One `[[host]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Host {
    /// The host's name, unique in the scenario.
    pub name: String,
    /// The TCP/IP provider's interface addresses with their prefix lengths (host bits kept).
    pub interfaces: Vec<IpNet>,
    /// The catalog entries, in catalog order.
    pub providers: Vec<ProviderSpec>,
    /// Extra values of the SAN registration list.
    pub registrations: Vec<Registration>,
    /// The switch's own settings on this host (`[host.switch]`).
    pub switch: SwitchSettings,
    /// The line of the `[[host]]` header.
    pub line: usize,
}

/// `[host.switch]`: the switch's own settings on a host; 0 turns a timer off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SwitchSettings {
    /// The negative cache's time limit in ms (0: off).
    pub negative_cache_ms: u64,
    /// The SAN deadline in ms (0: off).
    pub san_deadline_ms: u64,
    /// Receives posted per SAN connection (`None`: the switch's default).
    pub receive_buffers: Option<u32>,
}

impl Host {
    /// The provider named `name` on this host.
    pub fn provider(&self, name: &str) -> Option<&ProviderSpec> {
        self.providers.iter().find(|p| p.name == name)
    }
}

/// One `[[host.provider]]`: a catalog entry and how its provider behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderSpec {
    /// The provider's name, unique on its host.
    pub name: String,
    /// The provider GUID (given, or [`guid_for_name`](super::guid_for_name) of the name).
    pub guid: Guid,
    /// Whether the GUID is in the SAN registration list.
    pub registered: bool,
    /// Whether the catalog entry carries PFL_HIDDEN.
    pub hidden: bool,
    /// Whether the entry is in the catalog at start.
    pub installed: bool,
    /// The ready-made behaviour the other keys override.
    pub profile: Profile,
    /// SAN providers on the same fabric reach each other.
    pub fabric: String,
    /// The `WSPStartupEx` result.
    pub startup: Outcome,
    /// The version answered in WSPDATA.
    pub version: WinsockVersion,
    /// WSPDATA's description; `None`: a generated text.
    pub description: Option<String>,
    /// The `WSPSocket` result.
    pub socket: Outcome,
    /// The NIC addresses (the `SIO_ADDRESS_LIST_QUERY` answer), duplicates kept.
    pub addresses: Vec<IpAddr>,
    /// How that answer goes wrong.
    pub address_list_fault: AddressListFault,
    /// A captured answer to replay byte for byte; overrides `addresses`.
    pub address_list_raw: Option<RawAddressList>,
    /// The answer to `SIO_GET_EXTENSION_FUNCTION_POINTER` per extension.
    pub extensions: ExtensionAnswers,
    /// The call inside which the provider panics.
    pub panic_at: Option<Call>,
    /// The `WSPCleanup` result.
    pub cleanup: Outcome,
    /// Forced connect errors per remote address (overrides the topology on the SAN side).
    pub connect_errors: BTreeMap<IpAddr, WsaError>,
    /// Simulated time a SAN connect through this provider takes, in ms.
    pub connect_delay_ms: u64,
    /// The provider's `SO_MAX_MSG_SIZE` answer (SESS-3), in bytes.
    pub max_msg_size: u32,
    /// The provider's `SO_MAX_RDMA_SIZE` answer, in bytes.
    pub max_rdma_size: u32,
    /// The provider's `SO_RDMA_THRESHOLD_SIZE` answer, in bytes.
    pub rdma_threshold: u32,
    /// The result of the provider's `WSPRegisterMemory` calls.
    pub register_memory: Outcome,
    /// The result of the provider's `WSPRegisterRdmaMemory` calls.
    pub register_rdma_memory: Outcome,
    /// `library`: the provider is loaded from this shared object through the real SPI ABI
    /// instead of being a mock; the path as resolved (a relative `library` is joined to the
    /// scenario file's directory). The mock-behaviour fields above keep their defaults and
    /// are not used.
    pub library: Option<PathBuf>,
    /// The line of the `[[host.provider]]` header.
    pub line: usize,
}

/// A captured `SIO_ADDRESS_LIST_QUERY` answer (`address_list_raw`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawAddressList {
    /// The address at which the real provider wrote the buffer.
    pub base: u64,
    /// The buffer, byte for byte.
    pub bytes: Vec<u8>,
}

/// One `[[host.registration]]`: an extra value in the SAN registration list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// The registry value's name, unique on its host.
    pub name: String,
    /// The value's data.
    pub value: RegistrationValue,
    /// The line of the `[[host.registration]]` header.
    pub line: usize,
}

/// The data of a registration value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrationValue {
    /// A well-formed value: a provider GUID.
    Guid(Guid),
    /// Raw REG_BINARY bytes, any length (16 bytes form a GUID; other lengths are malformed).
    Raw(Vec<u8>),
}

/// One `[[step]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The host it runs on (the first host when not given).
    pub host: String,
    /// What it does.
    pub action: Action,
    /// The line of the `[[step]]` header.
    pub line: usize,
}

/// A step's op (*fixed* names, see [`Action::op`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `connect`
    Connect,
    /// `listen`
    Listen,
    /// `close`
    Close,
    /// `explain`
    Explain,
    /// `address_change`
    AddressChange,
    /// `install`
    Install,
    /// `remove`
    Remove,
    /// `send`
    Send,
    /// `shutdown`
    Shutdown,
    /// `advance`
    Advance,
}

impl Op {
    /// Every op, in the spec's order.
    pub const ALL: [Op; 10] = [
        Op::Connect,
        Op::Listen,
        Op::Close,
        Op::Explain,
        Op::AddressChange,
        Op::Install,
        Op::Remove,
        Op::Send,
        Op::Shutdown,
        Op::Advance,
    ];

    /// The op's name in the scenario and the report.
    pub fn name(self) -> &'static str {
        match self {
            Op::Connect => "connect",
            Op::Listen => "listen",
            Op::Close => "close",
            Op::Explain => "explain",
            Op::AddressChange => "address_change",
            Op::Install => "install",
            Op::Remove => "remove",
            Op::Send => "send",
            Op::Shutdown => "shutdown",
            Op::Advance => "advance",
        }
    }

    /// The step keys this op uses, besides `op` and `host`.
    pub fn keys(self) -> &'static [&'static str] {
        match self {
            Op::Connect => &["to", "from", "kind", "id", "expect"],
            Op::Listen => &["address", "backlog", "accept", "id", "expect"],
            Op::Close => &["id"],
            Op::Explain => &["to", "from", "kind", "expect"],
            Op::AddressChange => &["provider", "addresses", "interfaces"],
            Op::Install | Op::Remove => &["provider"],
            Op::Send => &["id", "bytes", "oob", "expect"],
            Op::Shutdown => &["id", "how"],
            Op::Advance => &["ms"],
        }
    }

    /// Whether the runner supports this op: the one place that decides it. `check` and `run`
    /// refuse a file with a step of an unsupported op (the parser reports it, see
    /// [`parse`](super::parse)), and `explain` skips such steps. Every op of the format is
    /// supported today (send and shutdown came with the data path); the machinery stays for
    /// the ops the format may gain before the runner carries them out.
    pub fn is_supported(self) -> bool {
        match self {
            Op::Explain
            | Op::AddressChange
            | Op::Install
            | Op::Remove
            | Op::Connect
            | Op::Listen
            | Op::Close
            | Op::Advance
            | Op::Send
            | Op::Shutdown => true,
        }
    }

    /// The ops the runner supports, in the spec's order (for messages).
    pub fn supported() -> impl Iterator<Item = Op> {
        Op::ALL.into_iter().filter(|o| o.is_supported())
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The most bytes one `send` step may send: 16 MiB. The simulator holds every byte of a send
/// in memory (the application's buffer, the provider's, the receiver's), so the file format
/// bounds it.
pub const MAX_SEND_BYTES: u32 = 16 << 20;

/// The smallest `max_rdma_size` a provider may have: 1 KiB. The simulator carries out every
/// RDMA operation, and a send may take its size in bytes divided by this many (16384 for the
/// largest send); a few bytes per operation would make one send take millions.
pub const MIN_RDMA_SIZE: u32 = 1024;

/// What a step does, with its op's keys.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// `connect`: an application connects.
    Connect {
        /// The destination.
        to: SocketAddr,
        /// The local bind address.
        from: Option<BindAddr>,
        /// The socket kind.
        kind: SocketKind,
        /// Names the connection for a later `close`.
        id: Option<String>,
        /// The result it must have.
        expect: Option<ConnectResult>,
    },
    /// `listen`: an application listens.
    Listen {
        /// The local address; the unspecified address is the wildcard.
        address: SocketAddr,
        /// The listen backlog (default 5).
        backlog: u32,
        /// `true`: the condition function answers CF_ACCEPT; `false`: CF_REJECT.
        accept: bool,
        /// Names the listener for a later `close`.
        id: Option<String>,
        /// The result it must have.
        expect: Option<ListenResult>,
    },
    /// `close`: closes a connection (both ends) or a listener.
    Close {
        /// The id of an earlier connect or listen step.
        id: String,
    },
    /// `explain`: the routing decision for a connect, without connecting.
    Explain {
        /// The destination.
        to: SocketAddr,
        /// The local bind address.
        from: Option<BindAddr>,
        /// The socket kind.
        kind: SocketKind,
        /// The result it must have.
        expect: Option<ConnectResult>,
    },
    /// `address_change`: a provider's addresses or the host's interfaces change.
    AddressChange(AddressChange),
    /// `install`: a catalog entry is added.
    Install {
        /// The provider, defined on the step's host.
        provider: String,
    },
    /// `remove`: a catalog entry leaves.
    Remove {
        /// The provider, defined on the step's host.
        provider: String,
    },
    /// `send`: the application sends bytes on a connection.
    Send {
        /// The id of an earlier connect step.
        id: String,
        /// How many bytes.
        bytes: u32,
        /// Urgent data (MSG_OOB).
        oob: bool,
        /// The result it must have.
        expect: Option<SendResult>,
    },
    /// `shutdown`: the application shuts a connection down in one or both directions.
    Shutdown {
        /// The id of an earlier connect step.
        id: String,
        /// Which direction.
        how: ShutdownHow,
    },
    /// `advance`: the simulated clock moves forward.
    Advance {
        /// By this many milliseconds.
        ms: u64,
    },
}

impl Action {
    /// This action's op.
    pub fn op(&self) -> Op {
        match self {
            Action::Connect { .. } => Op::Connect,
            Action::Listen { .. } => Op::Listen,
            Action::Close { .. } => Op::Close,
            Action::Explain { .. } => Op::Explain,
            Action::AddressChange(_) => Op::AddressChange,
            Action::Install { .. } => Op::Install,
            Action::Remove { .. } => Op::Remove,
            Action::Send { .. } => Op::Send,
            Action::Shutdown { .. } => Op::Shutdown,
            Action::Advance { .. } => Op::Advance,
        }
    }
}

/// What an `address_change` step changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressChange {
    /// A SAN provider's new address list (`provider` + `addresses`).
    Provider {
        /// The provider, defined on the step's host.
        provider: String,
        /// Its new addresses.
        addresses: Vec<IpAddr>,
    },
    /// The host's new TCP/IP interfaces (`interfaces`, without `provider`).
    Interfaces(Vec<IpNet>),
}

/// The `result` of a connect or explain step: `"san:<provider>"`, `"tcp"` or `"error:<WSA>"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectResult {
    /// Served by this SAN provider.
    San(String),
    /// Served by TCP/IP.
    Tcp,
    /// The application's connect fails with this error.
    Error(WsaError),
}

impl fmt::Display for ConnectResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectResult::San(p) => write!(f, "san:{p}"),
            ConnectResult::Tcp => f.write_str("tcp"),
            ConnectResult::Error(e) => write!(f, "error:{}", wsa_text(*e)),
        }
    }
}

/// The `result` of a send step: `"ok"` or `"error:<WSA>"`, the shape of a listen's.
pub type SendResult = ListenResult;

/// The `result` of a listen step: `"ok"` or `"error:<WSA>"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenResult {
    /// The listen succeeded.
    Ok,
    /// The listen failed with this error.
    Error(WsaError),
}

impl fmt::Display for ListenResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenResult::Ok => f.write_str("ok"),
            ListenResult::Error(e) => write!(f, "error:{}", wsa_text(*e)),
        }
    }
}
