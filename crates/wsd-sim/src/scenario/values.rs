//! Small value types of the scenario file, each parsed from its text form and displayed back
//! in the same form.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

use spi_types::{Guid, SanExtension, WinsockVersion};
use switch_core::SocketKind;
use switch_core::trace::Call;

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

/// Parses a Winsock version `"major.minor"`, each part 0..=255 (one byte of the version WORD).
pub fn parse_version(s: &str) -> Result<WinsockVersion, ErrorKind> {
    s.parse::<WinsockVersion>()
        .map_err(|_| ErrorKind::BadVersion(s.to_owned()))
}

/// Parses an extension name as in the report's `extensions` object (`"rdma_read"`, ...).
pub fn parse_extension(s: &str) -> Result<SanExtension, ErrorKind> {
    SanExtension::from_name(s).ok_or_else(|| ErrorKind::UnknownExtension(s.to_owned()))
}

/// Parses a call name exactly as in the report's `trace[].call` (`panic_at` key).
pub fn parse_call(s: &str) -> Result<Call, ErrorKind> {
    s.parse::<Call>()
        .map_err(|_| ErrorKind::UnknownCallName(s.to_owned()))
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
    pub fn get(&self, ext: SanExtension) -> Outcome {
        self.0[ext_index(ext)]
    }

    /// Sets the answer for `ext`.
    pub fn set(&mut self, ext: SanExtension, outcome: Outcome) {
        self.0[ext_index(ext)] = outcome;
    }

    /// Every extension with its answer, in report order.
    pub fn iter(&self) -> impl Iterator<Item = (SanExtension, Outcome)> + '_ {
        SanExtension::ALL.into_iter().map(|e| (e, self.get(e)))
    }
}

fn ext_index(ext: SanExtension) -> usize {
    SanExtension::ALL
        .iter()
        .position(|e| *e == ext)
        .unwrap_or(0)
}

/// How a provider's `SIO_ADDRESS_LIST_QUERY` answer goes wrong (`address_list_fault` key): the
/// mock provider's own fault type, whose text form is the scenario file's.
pub use mock_provider::AddressFault as AddressListFault;

/// Parses an `address_list_fault` value.
pub fn parse_address_fault(s: &str) -> Result<AddressListFault, ErrorKind> {
    match s.parse::<AddressListFault>() {
        Ok(f) => Ok(f),
        Err(mock_provider::config::AddressFaultParseError::UnknownError(name)) => {
            parse_wsa(&name).map(AddressListFault::Error)
        }
        Err(_) => Err(ErrorKind::BadAddressListFault(s.to_owned())),
    }
}

/// Parses a socket kind (`kind` key): `"stream"`, `"datagram"`, `"raw"` or `"multicast"`.
pub fn parse_socket_kind(s: &str) -> Result<SocketKind, ErrorKind> {
    [
        SocketKind::Stream,
        SocketKind::Datagram,
        SocketKind::Raw,
        SocketKind::Multicast,
    ]
    .into_iter()
    .find(|k| k.as_str() == s)
    .ok_or_else(|| ErrorKind::BadSocketKind(s.to_owned()))
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
pub fn parse_guid(s: &str) -> Result<Guid, ErrorKind> {
    if s.trim() != s {
        return Err(ErrorKind::BadGuid(s.to_owned()));
    }
    s.parse::<Guid>()
        .map_err(|_| ErrorKind::BadGuid(s.to_owned()))
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
