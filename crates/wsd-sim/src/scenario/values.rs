//! Small value types of the scenario file, each parsed from its text form and displayed back
//! in the same form.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
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
/// (`10.1.0.5/16` is the interface address 10.1.0.5 in 10.1.0.0/16). Zone ids are refused.
pub fn parse_interface(s: &str) -> Result<ipnet::IpNet, ErrorKind> {
    refuse_zone(s, s.split('/').next().unwrap_or(s))?;
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

/// Parses an IP address (IPv4 or IPv6, no brackets, no port, no zone id).
pub fn parse_ip(s: &str) -> Result<IpAddr, ErrorKind> {
    refuse_zone(s, s)?;
    s.parse::<IpAddr>()
        .map_err(|_| ErrorKind::BadIpAddress(s.to_owned()))
}

/// A [`ErrorKind::ZoneId`] when `host` (the address part of `value`) carries a zone id
/// (`fe80::1%2`, `fe80::1%eth0`): the simulation has no interfaces to scope addresses to, and
/// dropping the zone silently would change the address's meaning.
fn refuse_zone(value: &str, host: &str) -> Result<(), ErrorKind> {
    match host.split_once('%') {
        Some((_, zone)) => Err(ErrorKind::ZoneId {
            value: value.to_owned(),
            zone: zone.to_owned(),
        }),
        None => Ok(()),
    }
}

/// The parts of `"address[:port]"` text: IPv6 in brackets (`"[fd00::1]:80"`, `"[fd00::1]"`),
/// IPv4 with or without a port, or a bare IPv6 address (which cannot carry a port).
struct HostPort<'a> {
    /// The address text, without brackets.
    host: &'a str,
    /// Whether it was in brackets.
    bracketed: bool,
    /// The port text after the `:`, if any.
    port: Option<&'a str>,
}

/// Splits `s` into [`HostPort`], or `None` when its brackets do not pair up.
fn split_host_port(s: &str) -> Option<HostPort<'_>> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            a => Some(a.strip_prefix(':')?),
        };
        return Some(HostPort {
            host,
            bracketed: true,
            port,
        });
    }
    if s.matches(':').count() >= 2 {
        // Only an IPv6 address has two colons; without brackets it has no port.
        return Some(HostPort {
            host: s,
            bracketed: false,
            port: None,
        });
    }
    Some(match s.split_once(':') {
        Some((host, port)) => HostPort {
            host,
            bracketed: false,
            port: Some(port),
        },
        None => HostPort {
            host: s,
            bracketed: false,
            port: None,
        },
    })
}

/// The port of `value`: `Ok(None)` when `port` is not a decimal number (the caller's generic
/// message applies), [`ErrorKind::PortOutOfRange`] when it is one above 65535.
fn parse_port(value: &str, port: &str) -> Result<Option<u16>, ErrorKind> {
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    match port.parse::<u16>() {
        Ok(p) => Ok(Some(p)),
        Err(_) => Err(ErrorKind::PortOutOfRange {
            value: value.to_owned(),
            port: port.to_owned(),
        }),
    }
}

/// The address of a [`HostPort`]: IPv6 when bracketed or bare with colons, IPv4 otherwise.
fn host_ip(hp: &HostPort<'_>) -> Option<IpAddr> {
    if hp.bracketed || hp.host.contains(':') {
        hp.host.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
    } else {
        hp.host.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
    }
}

/// Parses a destination or listen address `"address:port"`: IPv4, IPv6 in brackets, or
/// IPv4-mapped IPv6 in brackets. Port 0 is refused: nothing can be reached or listened on
/// there. A zone id, a port above 65535, a missing port and an IPv6 address without brackets
/// each get their own message.
pub fn parse_socket_addr(s: &str) -> Result<SocketAddr, ErrorKind> {
    let bad = |why: &'static str| ErrorKind::BadSocketAddress {
        value: s.to_owned(),
        why,
    };
    let generic = "expected \"address:port\" (IPv6 in brackets: \"[fd00::1]:80\")";
    let hp = split_host_port(s).ok_or_else(|| bad(generic))?;
    refuse_zone(s, hp.host)?;
    let port = match hp.port {
        Some(p) => parse_port(s, p)?.ok_or_else(|| bad(generic))?,
        None if !hp.bracketed && hp.host.parse::<Ipv6Addr>().is_ok() => {
            return Err(bad(
                "an IPv6 destination goes in brackets with the port after them: \"[fd00::1]:80\"",
            ));
        }
        None if host_ip(&hp).is_some() => {
            return Err(bad(
                "no port: expected \"address:port\" (IPv6 in brackets: \"[fd00::1]:80\")",
            ));
        }
        None => return Err(bad(generic)),
    };
    let ip = host_ip(&hp).ok_or_else(|| bad(generic))?;
    if port == 0 {
        return Err(bad("port 0 is not a port one can connect or listen to"));
    }
    Ok(SocketAddr::new(ip, port))
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
    /// Accepts `"10.0.0.1"`, `"10.0.0.1:5000"`, `"fd00::1"`, `"[fd00::1]"`, `"[fd00::1]:5000"`;
    /// refuses zone ids (as `to`, `interfaces` and `addresses` do) and ports above 65535.
    fn from_str(s: &str) -> Result<Self, ErrorKind> {
        let bad = || ErrorKind::BadBindAddress(s.to_owned());
        let hp = split_host_port(s).ok_or_else(bad)?;
        refuse_zone(s, hp.host)?;
        let port = match hp.port {
            Some(p) => Some(parse_port(s, p)?.ok_or_else(bad)?),
            None => None,
        };
        let ip = host_ip(&hp).ok_or_else(bad)?;
        Ok(BindAddr { ip, port })
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

/// How a `shutdown` step shuts its connection down (`how` key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownHow {
    /// `"send"`: SD_SEND.
    Send,
    /// `"receive"`: SD_RECEIVE.
    Receive,
    /// `"both"`: SD_BOTH.
    Both,
}

impl FromStr for ShutdownHow {
    type Err = ErrorKind;
    fn from_str(s: &str) -> Result<Self, ErrorKind> {
        match s {
            "send" => Ok(ShutdownHow::Send),
            "receive" => Ok(ShutdownHow::Receive),
            "both" => Ok(ShutdownHow::Both),
            _ => Err(ErrorKind::BadHow(s.to_owned())),
        }
    }
}

impl fmt::Display for ShutdownHow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ShutdownHow::Send => "send",
            ShutdownHow::Receive => "receive",
            ShutdownHow::Both => "both",
        })
    }
}

/// Checks a name (of a host, provider, fabric, registration value or connection id): a
/// control character (NUL, tab, newline, any [`char::is_control`]) is refused, since it would
/// break the report's columns and lines.
pub fn check_name(s: &str) -> Result<(), ErrorKind> {
    match s.chars().enumerate().find(|(_, c)| c.is_control()) {
        Some((at, ch)) => Err(ErrorKind::ControlCharacter { ch, at }),
        None => Ok(()),
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
pub(crate) fn truncate(s: &str) -> String {
    if s.chars().count() <= 40 {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(40).collect();
        t.push('…');
        t
    }
}
