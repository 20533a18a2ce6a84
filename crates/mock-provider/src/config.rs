//! What a mock provider does: its configuration and the builder that makes it.

use std::collections::BTreeMap;
use std::net::IpAddr;

use spi_types::{Guid, SanExtension, WINOFED_PROVIDER_GUID, WinsockVersion, WsaError};
use switch_core::trace::Call;

/// How the answer to `SIO_ADDRESS_LIST_QUERY` goes wrong.
///
/// `Display` and `FromStr` use the names scenario files use: `"none"`, `"too_small_once"`,
/// `"too_small_always"`, `"garbage"`, `"wrong_family"`, `"impossible_count"`,
/// `"pointer_outside"`, `"error:<WSA name>"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AddressFault {
    /// It does not: the list, or `WSAEFAULT` with the size needed when the buffer is too small.
    #[default]
    None,
    /// `WSAEFAULT` with the right size on the first query, then the list.
    TooSmallOnce,
    /// `WSAEFAULT` on every query, each time asking for twice the buffer offered.
    TooSmallAlways,
    /// Bytes that are no list (a negative count).
    Garbage,
    /// A well-formed list whose first sockaddr has an unknown family (17); with no addresses
    /// configured, a list of one made-up entry (192.0.2.1) so there is an entry to damage.
    WrongFamily,
    /// A count that cannot fit the buffer (`i32::MAX`).
    ImpossibleCount,
    /// A list whose first entry points past the end of the buffer (with no addresses
    /// configured, a list of one made-up entry, as for `WrongFamily`).
    PointerOutside,
    /// The query fails with this error.
    Error(WsaError),
}

/// The text is not an address-list fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressFaultParseError {
    /// Not one of the fault names.
    #[error(
        "`{0}` is not an address-list fault (expected none, too_small_once, too_small_always, \
         garbage, wrong_family, impossible_count, pointer_outside or error:<WSA name>)"
    )]
    UnknownFault(String),
    /// `error:` followed by something that is not a WSA error name.
    #[error("`{0}` is not a Winsock error name")]
    UnknownError(String),
}

impl std::str::FromStr for AddressFault {
    type Err = AddressFaultParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "none" => AddressFault::None,
            "too_small_once" => AddressFault::TooSmallOnce,
            "too_small_always" => AddressFault::TooSmallAlways,
            "garbage" => AddressFault::Garbage,
            "wrong_family" => AddressFault::WrongFamily,
            "impossible_count" => AddressFault::ImpossibleCount,
            "pointer_outside" => AddressFault::PointerOutside,
            other => match other.strip_prefix("error:") {
                Some(name) => AddressFault::Error(
                    WsaError::from_name(name)
                        .ok_or_else(|| AddressFaultParseError::UnknownError(name.to_owned()))?,
                ),
                None => return Err(AddressFaultParseError::UnknownFault(s.to_owned())),
            },
        })
    }
}

impl std::fmt::Display for AddressFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AddressFault::None => "none",
            AddressFault::TooSmallOnce => "too_small_once",
            AddressFault::TooSmallAlways => "too_small_always",
            AddressFault::Garbage => "garbage",
            AddressFault::WrongFamily => "wrong_family",
            AddressFault::ImpossibleCount => "impossible_count",
            AddressFault::PointerOutside => "pointer_outside",
            AddressFault::Error(e) => {
                return match e.name() {
                    Some(n) => write!(f, "error:{n}"),
                    None => write!(f, "error:{}", e.code()),
                };
            }
        })
    }
}

/// A captured `SIO_ADDRESS_LIST_QUERY` answer to replay: the buffer as the real provider wrote
/// it at address `base`. The mock moves its pointers to the switch's buffer and changes nothing
/// else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawAddressList {
    /// The address the buffer had when captured.
    pub base: u64,
    /// The buffer's bytes.
    pub bytes: Vec<u8>,
}

/// Everything a mock provider does. Build one with [`MockConfig::generic`] or
/// [`MockConfig::winofed`] and the `with_*` methods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockConfig {
    /// The provider's catalog name.
    pub name: String,
    /// Its provider GUID.
    pub guid: Guid,
    /// Requests for a version below this are answered `WSAVERNOTSUPPORTED`.
    pub min_version: WinsockVersion,
    /// `WSPStartupEx`'s result when the version is acceptable.
    pub startup: Result<(), WsaError>,
    /// The version answered in `WSPDATA.wVersion`.
    pub version: WinsockVersion,
    /// `WSPDATA.wHighVersion`.
    pub high_version: WinsockVersion,
    /// `WSPDATA.szDescription`.
    pub description: String,
    /// `WSPSocket`'s result.
    pub socket: Result<(), WsaError>,
    /// The NIC addresses.
    pub addresses: Vec<IpAddr>,
    /// Whether IPv6 addresses are left out of the list (WinOFED lists IPv4 only).
    pub ipv4_only: bool,
    /// How the address-list answer goes wrong.
    pub address_fault: AddressFault,
    /// A captured answer to replay instead of `addresses`.
    pub address_raw: Option<RawAddressList>,
    /// Extra bytes added to the size asked for on `WSAEFAULT` (WinOFED is slightly generous).
    pub size_slack: usize,
    /// The answer per extension; a missing key means success.
    pub extensions: BTreeMap<SanExtension, Result<(), WsaError>>,
    /// The answer to an extension GUID the provider does not know.
    pub unknown_guid: WsaError,
    /// The answer to an ioctl code the provider does not know.
    pub unknown_ioctl: WsaError,
    /// The provider panics inside this call.
    pub panic_at: Option<Call>,
    /// `WSPCleanup`'s result.
    pub cleanup: Result<(), WsaError>,
    /// Forced connect results per remote address: the error `WSPConnect` answers at once, or,
    /// with [`connect_pending`](Self::connect_pending), the error `FD_CONNECT` reports.
    pub connect_errors: BTreeMap<IpAddr, WsaError>,
    /// `WSPConnect` answers `WSAEWOULDBLOCK` and the result comes with the event: the next
    /// `WSPEnumNetworkEvents` on the socket reports `FD_CONNECT` with the error of
    /// [`connect_errors`](Self::connect_errors), or success.
    pub connect_pending: bool,
    /// On a fabric ([`Fabric`](crate::fabric::Fabric)): how long, in simulated milliseconds,
    /// the answer to a connect takes to come back — a `WSAETIMEDOUT` for a destination nobody
    /// serves, and the result of a connect the listener accepted or refused. 0 (the default)
    /// means at once. Without a fabric it plays no part.
    pub connect_delay_ms: u64,
    /// `WSPSetSockOpt`'s result (`Ok` by default).
    pub set_option: Result<(), WsaError>,
    /// The name of the SAN fabric its NICs are cabled to: on a
    /// [`Fabric`](crate::fabric::Fabric), a connect reaches only providers with the same name.
    pub fabric: String,
    /// `SO_MAX_MSG_SIZE`: the largest message one `WSPSend` takes (65536 by default); a larger
    /// send fails with `WSAEMSGSIZE`.
    pub max_msg_size: u32,
    /// `SO_MAX_RDMA_SIZE`: the most bytes one RdmaWrite or RdmaRead moves (1048576 by default);
    /// more fail with `WSAEMSGSIZE`.
    pub max_rdma_size: u32,
    /// `SO_RDMA_THRESHOLD_SIZE`: the RDMA threshold the provider would prefer (8192 by default).
    pub rdma_threshold: u32,
    /// The RegisterMemory extension's result once its arguments are valid (`Ok` by default).
    pub register_memory: Result<(), WsaError>,
    /// The RegisterRdmaMemory extension's result once its arguments are valid (`Ok` by
    /// default).
    pub register_rdma_memory: Result<(), WsaError>,
}

impl MockConfig {
    /// A provider that does everything right: accepts 2.2, answers 2.2, lists `addresses`,
    /// has all seven extensions. Its GUID is derived from its name (a version-5 UUID in the
    /// mock's own namespace), so the same name always gives the same GUID.
    pub fn generic(name: &str) -> Self {
        MockConfig {
            name: name.to_owned(),
            guid: guid_for_name(name),
            min_version: WinsockVersion::V2_2,
            startup: Ok(()),
            version: WinsockVersion::V2_2,
            high_version: WinsockVersion::V2_2,
            description: format!("{name} mock SAN provider"),
            socket: Ok(()),
            addresses: Vec::new(),
            ipv4_only: false,
            address_fault: AddressFault::None,
            address_raw: None,
            size_slack: 0,
            extensions: BTreeMap::new(),
            unknown_guid: WsaError::WSAEINVAL,
            unknown_ioctl: WsaError::WSAEOPNOTSUPP,
            panic_at: None,
            cleanup: Ok(()),
            connect_errors: BTreeMap::new(),
            connect_pending: false,
            connect_delay_ms: 0,
            set_option: Ok(()),
            fabric: "san0".to_owned(),
            max_msg_size: 65536,
            max_rdma_size: 1_048_576,
            rdma_threshold: 8192,
            register_memory: Ok(()),
            register_rdma_memory: Ok(()),
        }
    }

    /// A provider that behaves like the open-source WinOFED InfiniBand WSD provider: versions
    /// below 2.2 are answered `WSAVERNOTSUPPORTED`; an unknown extension GUID `WSAEINVAL`; an
    /// unknown ioctl `WSAENOPROTOOPT`; a too-small address buffer `WSAEFAULT` with a slightly
    /// generous size; IPv4 addresses only; its own GUID and description. RdmaRead can be
    /// switched off with [`without_rdma_read`](Self::without_rdma_read).
    pub fn winofed(name: &str) -> Self {
        MockConfig {
            guid: WINOFED_PROVIDER_GUID,
            description: "OpenFabrics Winsock Direct for InfiniBand".to_owned(),
            ipv4_only: true,
            size_slack: 16,
            unknown_guid: WsaError::WSAEINVAL,
            unknown_ioctl: WsaError::WSAENOPROTOOPT,
            ..MockConfig::generic(name)
        }
    }

    /// Sets the GUID.
    pub fn with_guid(mut self, guid: Guid) -> Self {
        self.guid = guid;
        self
    }

    /// Sets the NIC addresses.
    pub fn with_addresses(mut self, addresses: impl IntoIterator<Item = IpAddr>) -> Self {
        self.addresses = addresses.into_iter().collect();
        self
    }

    /// Sets `WSPStartupEx`'s result.
    pub fn with_startup(mut self, result: Result<(), WsaError>) -> Self {
        self.startup = result;
        self
    }

    /// Sets the lowest version accepted.
    pub fn with_min_version(mut self, v: WinsockVersion) -> Self {
        self.min_version = v;
        self
    }

    /// Sets the version answered.
    pub fn with_version(mut self, v: WinsockVersion) -> Self {
        self.version = v;
        self
    }

    /// Sets the description.
    pub fn with_description(mut self, d: &str) -> Self {
        self.description = d.to_owned();
        self
    }

    /// Sets `WSPSocket`'s result.
    pub fn with_socket(mut self, result: Result<(), WsaError>) -> Self {
        self.socket = result;
        self
    }

    /// Sets the address-list fault.
    pub fn with_address_fault(mut self, fault: AddressFault) -> Self {
        self.address_fault = fault;
        self
    }

    /// Replays a captured address-list answer.
    pub fn with_address_raw(mut self, raw: RawAddressList) -> Self {
        self.address_raw = Some(raw);
        self
    }

    /// Sets one extension's answer.
    pub fn with_extension(mut self, ext: SanExtension, answer: Result<(), WsaError>) -> Self {
        self.extensions.insert(ext, answer);
        self
    }

    /// Switches RdmaRead off: its GUID is answered `WSAEOPNOTSUPP`.
    pub fn without_rdma_read(self) -> Self {
        self.with_extension(SanExtension::RdmaRead, Err(WsaError::WSAEOPNOTSUPP))
    }

    /// Makes the provider panic inside `call`.
    pub fn with_panic_at(mut self, call: Call) -> Self {
        self.panic_at = Some(call);
        self
    }

    /// Sets `WSPCleanup`'s result.
    pub fn with_cleanup(mut self, result: Result<(), WsaError>) -> Self {
        self.cleanup = result;
        self
    }

    /// Forces connects to `remote` to fail with `error`.
    pub fn with_connect_error(mut self, remote: IpAddr, error: WsaError) -> Self {
        self.connect_errors.insert(remote, error);
        self
    }

    /// Makes `WSPConnect` answer `WSAEWOULDBLOCK` and report its result through `FD_CONNECT`
    /// (see [`connect_pending`](Self::connect_pending)).
    pub fn with_connect_pending(mut self, pending: bool) -> Self {
        self.connect_pending = pending;
        self
    }

    /// Sets how long connect answers take on a fabric (see
    /// [`connect_delay_ms`](Self::connect_delay_ms)).
    pub fn with_connect_delay_ms(mut self, ms: u64) -> Self {
        self.connect_delay_ms = ms;
        self
    }

    /// Sets the fabric.
    pub fn with_fabric(mut self, fabric: &str) -> Self {
        self.fabric = fabric.to_owned();
        self
    }

    /// Sets `SO_MAX_MSG_SIZE`.
    pub fn with_max_msg_size(mut self, bytes: u32) -> Self {
        self.max_msg_size = bytes;
        self
    }

    /// Sets `SO_MAX_RDMA_SIZE`.
    pub fn with_max_rdma_size(mut self, bytes: u32) -> Self {
        self.max_rdma_size = bytes;
        self
    }

    /// Sets `SO_RDMA_THRESHOLD_SIZE`.
    pub fn with_rdma_threshold(mut self, bytes: u32) -> Self {
        self.rdma_threshold = bytes;
        self
    }

    /// Sets the RegisterMemory extension's result (see
    /// [`register_memory`](Self::register_memory)).
    pub fn with_register_memory(mut self, result: Result<(), WsaError>) -> Self {
        self.register_memory = result;
        self
    }

    /// Sets the RegisterRdmaMemory extension's result (see
    /// [`register_rdma_memory`](Self::register_rdma_memory)).
    pub fn with_register_rdma_memory(mut self, result: Result<(), WsaError>) -> Self {
        self.register_rdma_memory = result;
        self
    }

    /// The answer configured for `ext`.
    pub fn extension_answer(&self, ext: SanExtension) -> Result<(), WsaError> {
        self.extensions.get(&ext).copied().unwrap_or(Ok(()))
    }

    /// The addresses the provider lists (IPv6 ones left out for an IPv4-only provider).
    pub fn listed_addresses(&self) -> Vec<IpAddr> {
        self.addresses
            .iter()
            .copied()
            .filter(|a| !(self.ipv4_only && a.is_ipv6()))
            .collect()
    }
}

/// The namespace of the GUIDs [`guid_for_name`] derives: `{6D0C2A5E-9B1F-4C3A-8E27-5D4F0B9A7C31}`.
pub const NAME_NAMESPACE: uuid::Uuid =
    uuid::Uuid::from_u128(0x6D0C2A5E_9B1F_4C3A_8E27_5D4F0B9A7C31);

/// The stable GUID a mock provider named `name` gets by default (a version-5 UUID of the name in
/// [`NAME_NAMESPACE`]).
pub fn guid_for_name(name: &str) -> Guid {
    Guid(uuid::Uuid::new_v5(&NAME_NAMESPACE, name.as_bytes()))
}
