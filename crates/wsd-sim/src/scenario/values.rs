//! Small value types of the scenario file, each parsed from its text form and displayed back
//! in the same form.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

use uuid::Uuid;

use super::WsaError;
use super::error::ErrorKind;

/// The text of a WSA error: its name, or its number when it has no name.
pub fn wsa_text(e: WsaError) -> String {
    match e.name() {
        Some(n) => n.to_owned(),
        None => e.code().to_string(),
    }
}

/// Parses a WSA error name (`"WSAECONNREFUSED"`, `"WSA_IO_PENDING"`, ...).
pub fn parse_wsa(s: &str) -> Result<WsaError, ErrorKind> {
    WsaError::from_name(s).ok_or_else(|| ErrorKind::UnknownWsaName(s.to_owned()))
}

/// The answer a simulated provider call gives: `"ok"` or a WSA error name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The call succeeds.
    Ok,
    /// The call fails with this error.
    Fail(WsaError),
}

impl Outcome {
    /// Parses `"ok"` or a WSA error name.
    pub fn parse(s: &str) -> Result<Outcome, ErrorKind> {
        if s == "ok" {
            Ok(Outcome::Ok)
        } else if let Some(e) = WsaError::from_name(s) {
            Ok(Outcome::Fail(e))
        } else if s.starts_with("WSA") {
            Err(ErrorKind::UnknownWsaName(s.to_owned()))
        } else {
            Err(ErrorKind::BadOutcome(s.to_owned()))
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Ok => f.write_str("ok"),
            Outcome::Fail(e) => f.write_str(&wsa_text(*e)),
        }
    }
}

/// A ready-made provider behaviour (`profile` key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Profile {
    /// `"generic"`: a well-behaved provider.
    #[default]
    Generic,
    /// `"winofed"`: behaves like the open-source WinOFED InfiniBand provider.
    Winofed,
}

impl FromStr for Profile {
    type Err = ErrorKind;
    fn from_str(s: &str) -> Result<Self, ErrorKind> {
        match s {
            "generic" => Ok(Profile::Generic),
            "winofed" => Ok(Profile::Winofed),
            _ => Err(ErrorKind::BadProfile(s.to_owned())),
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Profile::Generic => "generic",
            Profile::Winofed => "winofed",
        })
    }
}

/// A Winsock version `"major.minor"`, each part 0..=255 (one byte of the version WORD).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// The major version (low byte of the WORD).
    pub major: u8,
    /// The minor version (high byte of the WORD).
    pub minor: u8,
}

impl Version {
    /// Version 2.2, what the switch asks for.
    pub const V2_2: Version = Version { major: 2, minor: 2 };
}

impl FromStr for Version {
    type Err = ErrorKind;
    fn from_str(s: &str) -> Result<Self, ErrorKind> {
        let bad = || ErrorKind::BadVersion(s.to_owned());
        let (a, b) = s.split_once('.').ok_or_else(bad)?;
        let part = |p: &str| -> Option<u8> {
            if p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            p.parse().ok()
        };
        Ok(Version {
            major: part(a).ok_or_else(bad)?,
            minor: part(b).ok_or_else(bad)?,
        })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// A SAN extension function, named as in the report's `extensions` object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Extension {
    /// `register_memory` (WSPRegisterMemory), mandatory.
    RegisterMemory,
    /// `deregister_memory` (WSPDeregisterMemory), mandatory.
    DeregisterMemory,
    /// `register_rdma_memory` (WSPRegisterRdmaMemory), mandatory.
    RegisterRdmaMemory,
    /// `deregister_rdma_memory` (WSPDeregisterRdmaMemory), mandatory.
    DeregisterRdmaMemory,
    /// `rdma_write` (WSPRdmaWrite), mandatory.
    RdmaWrite,
    /// `rdma_read` (WSPRdmaRead), optional.
    RdmaRead,
    /// `memory_registration_cache_callback` (WSPMemoryRegistrationCacheCallback), optional.
    MemoryRegistrationCacheCallback,
}

impl Extension {
    /// All seven extensions, in the order of the report's `extensions` object.
    pub const ALL: [Extension; 7] = [
        Extension::RegisterMemory,
        Extension::DeregisterMemory,
        Extension::RegisterRdmaMemory,
        Extension::DeregisterRdmaMemory,
        Extension::RdmaWrite,
        Extension::RdmaRead,
        Extension::MemoryRegistrationCacheCallback,
    ];

    /// The extension's name as in the report.
    pub fn name(self) -> &'static str {
        match self {
            Extension::RegisterMemory => "register_memory",
            Extension::DeregisterMemory => "deregister_memory",
            Extension::RegisterRdmaMemory => "register_rdma_memory",
            Extension::DeregisterRdmaMemory => "deregister_rdma_memory",
            Extension::RdmaWrite => "rdma_write",
            Extension::RdmaRead => "rdma_read",
            Extension::MemoryRegistrationCacheCallback => "memory_registration_cache_callback",
        }
    }

    /// Whether the switch rejects a provider that lacks this extension (INIT-4).
    pub fn is_mandatory(self) -> bool {
        !matches!(
            self,
            Extension::RdmaRead | Extension::MemoryRegistrationCacheCallback
        )
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl FromStr for Extension {
    type Err = ErrorKind;
    fn from_str(s: &str) -> Result<Self, ErrorKind> {
        Extension::ALL
            .into_iter()
            .find(|e| e.name() == s)
            .ok_or_else(|| ErrorKind::UnknownExtension(s.to_owned()))
    }
}

impl fmt::Display for Extension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The answer to `SIO_GET_EXTENSION_FUNCTION_POINTER` for each extension (`extensions` key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtensionAnswers([Outcome; 7]);

impl Default for ExtensionAnswers {
    fn default() -> Self {
        ExtensionAnswers([Outcome::Ok; 7])
    }
}

impl ExtensionAnswers {
    /// The answer for `ext`.
    pub fn get(&self, ext: Extension) -> Outcome {
        self.0[ext.index()]
    }

    /// Sets the answer for `ext`.
    pub fn set(&mut self, ext: Extension, outcome: Outcome) {
        self.0[ext.index()] = outcome;
    }

    /// Every extension with its answer, in report order.
    pub fn iter(&self) -> impl Iterator<Item = (Extension, Outcome)> + '_ {
        Extension::ALL.into_iter().map(|e| (e, self.get(e)))
    }
}

/// A provider call name, exactly as in the report's `trace[].call` (`panic_at` key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallName {
    /// `WSPStartupEx`
    WspStartupEx,
    /// `WSPCleanup`
    WspCleanup,
    /// `WSPSocket`
    WspSocket,
    /// `WSPBind`
    WspBind,
    /// `WSPListen`
    WspListen,
    /// `WSPConnect`
    WspConnect,
    /// `WSPAccept`
    WspAccept,
    /// `WSPEventSelect`
    WspEventSelect,
    /// `WSPEnumNetworkEvents`
    WspEnumNetworkEvents,
    /// `WSPSetSockOpt`
    WspSetSockOpt,
    /// `WSPCloseSocket`
    WspCloseSocket,
    /// `WSPIoctl(SIO_ADDRESS_LIST_QUERY)`
    AddressListQuery,
    /// `WSPIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER, <extension>)`
    GetExtension(Extension),
}

const SIMPLE_CALLS: [(CallName, &str); 12] = [
    (CallName::WspStartupEx, "WSPStartupEx"),
    (CallName::WspCleanup, "WSPCleanup"),
    (CallName::WspSocket, "WSPSocket"),
    (CallName::WspBind, "WSPBind"),
    (CallName::WspListen, "WSPListen"),
    (CallName::WspConnect, "WSPConnect"),
    (CallName::WspAccept, "WSPAccept"),
    (CallName::WspEventSelect, "WSPEventSelect"),
    (CallName::WspEnumNetworkEvents, "WSPEnumNetworkEvents"),
    (CallName::WspSetSockOpt, "WSPSetSockOpt"),
    (CallName::WspCloseSocket, "WSPCloseSocket"),
    (
        CallName::AddressListQuery,
        "WSPIoctl(SIO_ADDRESS_LIST_QUERY)",
    ),
];

impl CallName {
    /// Every call name: the twelve plain calls, then one extension query per extension.
    pub fn all() -> impl Iterator<Item = CallName> {
        SIMPLE_CALLS
            .into_iter()
            .map(|(c, _)| c)
            .chain(Extension::ALL.into_iter().map(CallName::GetExtension))
    }
}

impl FromStr for CallName {
    type Err = ErrorKind;
    /// Exact names; inside the extension form, spaces around the extension name are allowed.
    fn from_str(s: &str) -> Result<Self, ErrorKind> {
        if let Some((c, _)) = SIMPLE_CALLS.iter().find(|(_, n)| *n == s) {
            return Ok(*c);
        }
        let ext = s
            .strip_prefix("WSPIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER,")
            .and_then(|r| r.strip_suffix(')'))
            .and_then(|r| r.trim().parse::<Extension>().ok());
        ext.map(CallName::GetExtension)
            .ok_or_else(|| ErrorKind::UnknownCallName(s.to_owned()))
    }
}

impl fmt::Display for CallName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallName::GetExtension(e) => {
                write!(f, "WSPIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER, {e})")
            }
            other => {
                let name = SIMPLE_CALLS
                    .iter()
                    .find(|(c, _)| c == other)
                    .map_or("", |(_, n)| *n);
                f.write_str(name)
            }
        }
    }
}

/// How a provider's `SIO_ADDRESS_LIST_QUERY` answer goes wrong (`address_list_fault` key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressListFault {
    /// `"none"`: a correct answer.
    None,
    /// `"too_small_once"`: WSAEFAULT with the right size, then the list.
    TooSmallOnce,
    /// `"too_small_always"`: WSAEFAULT every time.
    TooSmallAlways,
    /// `"garbage"`: bytes that are no list.
    Garbage,
    /// `"wrong_family"`: an entry of an unknown address family.
    WrongFamily,
    /// `"impossible_count"`: a count that does not fit the buffer.
    ImpossibleCount,
    /// `"pointer_outside"`: an entry points outside the buffer.
    PointerOutside,
    /// `"error:<WSA name>"`: the ioctl fails with that error.
    Error(WsaError),
}

impl FromStr for AddressListFault {
    type Err = ErrorKind;
    fn from_str(s: &str) -> Result<Self, ErrorKind> {
        Ok(match s {
            "none" => AddressListFault::None,
            "too_small_once" => AddressListFault::TooSmallOnce,
            "too_small_always" => AddressListFault::TooSmallAlways,
            "garbage" => AddressListFault::Garbage,
            "wrong_family" => AddressListFault::WrongFamily,
            "impossible_count" => AddressListFault::ImpossibleCount,
            "pointer_outside" => AddressListFault::PointerOutside,
            other => match other.strip_prefix("error:") {
                Some(name) => AddressListFault::Error(parse_wsa(name)?),
                None => return Err(ErrorKind::BadAddressListFault(s.to_owned())),
            },
        })
    }
}

impl fmt::Display for AddressListFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AddressListFault::None => "none",
            AddressListFault::TooSmallOnce => "too_small_once",
            AddressListFault::TooSmallAlways => "too_small_always",
            AddressListFault::Garbage => "garbage",
            AddressListFault::WrongFamily => "wrong_family",
            AddressListFault::ImpossibleCount => "impossible_count",
            AddressListFault::PointerOutside => "pointer_outside",
            AddressListFault::Error(e) => return write!(f, "error:{}", wsa_text(*e)),
        })
    }
}

/// The socket kind of a connect or explain step (`kind` key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SocketKind {
    /// `"stream"`: TCP.
    #[default]
    Stream,
    /// `"datagram"`: UDP; always TCP/IP (ROUTE-2).
    Datagram,
    /// `"raw"`: always TCP/IP (ROUTE-2).
    Raw,
    /// `"multicast"`: always TCP/IP (ROUTE-2).
    Multicast,
}

impl FromStr for SocketKind {
    type Err = ErrorKind;
    fn from_str(s: &str) -> Result<Self, ErrorKind> {
        match s {
            "stream" => Ok(SocketKind::Stream),
            "datagram" => Ok(SocketKind::Datagram),
            "raw" => Ok(SocketKind::Raw),
            "multicast" => Ok(SocketKind::Multicast),
            _ => Err(ErrorKind::BadSocketKind(s.to_owned())),
        }
    }
}

impl fmt::Display for SocketKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SocketKind::Stream => "stream",
            SocketKind::Datagram => "datagram",
            SocketKind::Raw => "raw",
            SocketKind::Multicast => "multicast",
        })
    }
}

/// Parses an interface `"address/len"` (IPv4 or IPv6). The address keeps its host bits
/// (`10.1.0.5/16` is the interface address 10.1.0.5 in 10.1.0.0/16).
pub fn parse_interface(s: &str) -> Result<ipnet::IpNet, ErrorKind> {
    if !s.contains('/') {
        return Err(ErrorKind::BadInterface {
            value: s.to_owned(),
            why: "no \"/len\" prefix length",
        });
    }
    s.parse::<ipnet::IpNet>()
        .map_err(|_| ErrorKind::BadInterface {
            value: s.to_owned(),
            why: "expected \"address/len\" with an IPv4 or IPv6 address and a prefix length that fits it",
        })
}

/// Parses an IP address (IPv4 or IPv6, no brackets, no port).
pub fn parse_ip(s: &str) -> Result<IpAddr, ErrorKind> {
    s.parse::<IpAddr>()
        .map_err(|_| ErrorKind::BadIpAddress(s.to_owned()))
}

/// Parses a destination or listen address `"address:port"`: IPv4, IPv6 in brackets, or
/// IPv4-mapped IPv6 in brackets. Port 0 is refused: nothing can be reached or listened on there.
pub fn parse_socket_addr(s: &str) -> Result<SocketAddr, ErrorKind> {
    let addr = s
        .parse::<SocketAddr>()
        .map_err(|_| ErrorKind::BadSocketAddress {
            value: s.to_owned(),
            why: "expected \"address:port\" (IPv6 in brackets: \"[fd00::1]:80\")",
        })?;
    if addr.port() == 0 {
        return Err(ErrorKind::BadSocketAddress {
            value: s.to_owned(),
            why: "port 0 is not a port one can connect or listen to",
        });
    }
    Ok(addr)
}

/// A local bind address `"address[:port]"` (`from` key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BindAddr {
    /// The local address.
    pub ip: IpAddr,
    /// The local port, if one was given (0 or none: any port).
    pub port: Option<u16>,
}

impl FromStr for BindAddr {
    type Err = ErrorKind;
    /// Accepts `"10.0.0.1"`, `"10.0.0.1:5000"`, `"fd00::1"`, `"[fd00::1]"`, `"[fd00::1]:5000"`.
    fn from_str(s: &str) -> Result<Self, ErrorKind> {
        if let Ok(a) = s.parse::<SocketAddr>() {
            return Ok(BindAddr {
                ip: a.ip(),
                port: Some(a.port()),
            });
        }
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(BindAddr { ip, port: None });
        }
        if let Some(inner) = s.strip_prefix('[').and_then(|r| r.strip_suffix(']'))
            && let Ok(ip) = inner.parse::<Ipv6Addr>()
        {
            return Ok(BindAddr {
                ip: IpAddr::V6(ip),
                port: None,
            });
        }
        Err(ErrorKind::BadBindAddress(s.to_owned()))
    }
}

impl fmt::Display for BindAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.ip, self.port) {
            (ip, Some(p)) => write!(f, "{}", SocketAddr::new(ip, p)),
            (IpAddr::V6(ip), None) => write!(f, "[{ip}]"),
            (IpAddr::V4(ip), None) => write!(f, "{ip}"),
        }
    }
}

/// Parses GUID text: `"xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"`, optionally in braces.
pub fn parse_guid(s: &str) -> Result<Uuid, ErrorKind> {
    let inner = s
        .strip_prefix('{')
        .and_then(|r| r.strip_suffix('}'))
        .unwrap_or(s);
    if inner.len() != 36 {
        return Err(ErrorKind::BadGuid(s.to_owned()));
    }
    Uuid::try_parse(inner).map_err(|_| ErrorKind::BadGuid(s.to_owned()))
}

/// The namespace of GUIDs derived from provider names (UUID version 5, SHA-1):
/// `c5a8f3e2-4b1d-5e6f-9a7b-3c2d1e0f4a5b`. Fixed forever: changing it changes every
/// default GUID in every report.
pub const GUID_NAMESPACE: Uuid = Uuid::from_u128(0xc5a8f3e2_4b1d_5e6f_9a7b_3c2d1e0f4a5b);

/// The default GUID of a provider named `name`: UUID v5 of the name in [`GUID_NAMESPACE`].
pub fn derived_guid(name: &str) -> Uuid {
    Uuid::new_v5(&GUID_NAMESPACE, name.as_bytes())
}

/// Parses hex bytes: pairs of hex digits; ASCII whitespace between them is ignored.
pub fn parse_hex(s: &str) -> Result<Vec<u8>, ErrorKind> {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if let Some(bad) = digits.iter().find(|b| !b.is_ascii_hexdigit()) {
        return Err(ErrorKind::BadHex {
            value: truncate(s),
            why: format!("{:?} is not a hex digit", char::from(*bad)),
        });
    }
    if !digits.len().is_multiple_of(2) {
        return Err(ErrorKind::BadHex {
            value: truncate(s),
            why: "an odd number of hex digits".to_owned(),
        });
    }
    Ok(digits
        .chunks_exact(2)
        .map(|p| (hex_val(p[0]) << 4) | hex_val(p[1]))
        .collect())
}

fn hex_val(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        b'A'..=b'F' => b - b'A' + 10,
        _ => 0,
    }
}

/// Parses a buffer base address `"0x…"` (1 to 16 hex digits).
pub fn parse_base(s: &str) -> Result<u64, ErrorKind> {
    let digits = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .ok_or_else(|| ErrorKind::BadBase(s.to_owned()))?;
    if digits.is_empty() || digits.len() > 16 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ErrorKind::BadBase(s.to_owned()));
    }
    u64::from_str_radix(digits, 16).map_err(|_| ErrorKind::BadBase(s.to_owned()))
}

/// At most 40 characters of `s`, for error messages about long values.
fn truncate(s: &str) -> String {
    if s.chars().count() <= 40 {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(40).collect();
        t.push('…');
        t
    }
}
