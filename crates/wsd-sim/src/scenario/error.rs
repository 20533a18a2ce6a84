//! Scenario errors: each names the key (a path such as `host[0].provider[1].startup`, indexes
//! counted from 0) and its line (counted from 1).

use std::fmt;

use super::model::Op;

/// One problem in a scenario file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    /// The line, counted from 1, of the key (or of the table header for a missing key).
    pub line: usize,
    /// The key's path, such as `host[0].provider[1].startup`; empty for a TOML syntax error.
    pub key: String,
    /// What is wrong.
    pub kind: ErrorKind,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "line {}: {}", self.line, self.kind)
        } else {
            write!(f, "line {}: {}: {}", self.line, self.key, self.kind)
        }
    }
}

impl std::error::Error for ScenarioError {}

/// All the problems found in a scenario file, sorted by line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} error(s) in the scenario, the first: {}", .0.len(), .0.first().map(ToString::to_string).unwrap_or_default())]
pub struct ScenarioErrors(pub Vec<ScenarioError>);

impl ScenarioErrors {
    /// The errors, sorted by line.
    pub fn errors(&self) -> &[ScenarioError] {
        &self.0
    }
}

/// What is wrong with a key or a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    /// The text is not valid TOML.
    #[error("TOML syntax error: {0}")]
    Syntax(String),
    /// A key that this table does not have.
    #[error("unknown key (expected one of: {expected})")]
    UnknownKey {
        /// The keys this table accepts, comma-separated.
        expected: String,
    },
    /// A required key is missing.
    #[error("missing required key")]
    Missing,
    /// A value of the wrong TOML type.
    #[error("expected {expected}, found {found}")]
    WrongType {
        /// The type the key needs.
        expected: &'static str,
        /// The type given.
        found: &'static str,
    },
    /// A string that must not be empty is.
    #[error("must not be empty")]
    Empty,
    /// A scenario without any `[[host]]`.
    #[error("a scenario needs at least one [[host]]")]
    NoHosts,
    /// An interface that is not `"address/len"`.
    #[error("bad interface {value:?}: {why}")]
    BadInterface {
        /// The text given.
        value: String,
        /// Why it is wrong.
        why: &'static str,
    },
    /// Not an IP address.
    #[error("bad IP address {0:?}: expected an IPv4 or IPv6 address without port or brackets")]
    BadIpAddress(String),
    /// Not an `"address:port"`.
    #[error("bad address {value:?}: {why}")]
    BadSocketAddress {
        /// The text given.
        value: String,
        /// Why it is wrong.
        why: &'static str,
    },
    /// An address with a zone id (`"fe80::1%2"`), which no key accepts.
    #[error(
        "bad address {value:?}: zone ids (here \"%{zone}\") are not supported; give the address without one"
    )]
    ZoneId {
        /// The text given.
        value: String,
        /// The zone id, without the `%`.
        zone: String,
    },
    /// An address whose port is a number above 65535.
    #[error("bad address {value:?}: port {port} is out of range (0..=65535)")]
    PortOutOfRange {
        /// The text given.
        value: String,
        /// The port text.
        port: String,
    },
    /// A name with a control character.
    #[error(
        "contains the control character {} at character {at}: names must be printable (no NUL, tab, newline or other control character)",
        char_code(.ch)
    )]
    ControlCharacter {
        /// The character.
        ch: char,
        /// Its index, in characters from 0.
        at: usize,
    },
    /// Not a `shutdown` direction.
    #[error("unknown shutdown direction {0:?} (expected send, receive or both)")]
    BadHow(String),
    /// A `send` or `shutdown` naming the id of a listener, not of a connection.
    #[error("id {id:?} names the listener of line {line}, not a connection (ids of connect steps)")]
    NotAConnection {
        /// The id.
        id: String,
        /// The listen step's `id` line.
        line: usize,
    },
    /// Not an `"address[:port]"`.
    #[error(
        "bad local address {0:?}: expected \"address\" or \"address:port\" (IPv6 in brackets with a port)"
    )]
    BadBindAddress(String),
    /// Not a WSA error name.
    #[error("unknown WSA error name {0:?}")]
    UnknownWsaName(String),
    /// Neither `"ok"` nor a WSA error name.
    #[error("expected \"ok\" or a WSA error name, found {0:?}")]
    BadOutcome(String),
    /// Not a call name of `trace[].call`.
    #[error(
        "unknown call name {0:?} (expected a name as in trace[].call, such as \"WSPConnect\" or \"WSPIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER, rdma_read)\")"
    )]
    UnknownCallName(String),
    /// Not an extension name.
    #[error(
        "unknown extension {0:?} (expected register_memory, deregister_memory, register_rdma_memory, deregister_rdma_memory, rdma_write, rdma_read or memory_registration_cache_callback)"
    )]
    UnknownExtension(String),
    /// Not an `address_list_fault` value.
    #[error(
        "bad address_list_fault {0:?} (expected none, too_small_once, too_small_always, garbage, wrong_family, impossible_count, pointer_outside or error:<WSA name>)"
    )]
    BadAddressListFault(String),
    /// Not a profile.
    #[error("unknown profile {0:?} (expected \"generic\" or \"winofed\")")]
    BadProfile(String),
    /// Not a `"major.minor"` version.
    #[error("bad version {0:?} (expected \"major.minor\", each 0 to 255)")]
    BadVersion(String),
    /// Not GUID text.
    #[error("bad GUID {0:?} (expected \"xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx\", braces allowed)")]
    BadGuid(String),
    /// Not hex bytes.
    #[error("bad hex {value:?}: {why}")]
    BadHex {
        /// The text given (shortened).
        value: String,
        /// Why it is wrong.
        why: String,
    },
    /// Not a `"0x…"` base address.
    #[error("bad base address {0:?} (expected \"0x\" and 1 to 16 hex digits)")]
    BadBase(String),
    /// Not a socket kind.
    #[error("unknown socket kind {0:?} (expected stream, datagram, raw or multicast)")]
    BadSocketKind(String),
    /// Not a step op.
    #[error("unknown op {0:?} (expected one of: {ops})", ops = op_names(Op::ALL.into_iter(), "or"))]
    BadOp(String),
    /// A step op of the file format that the runner does not support yet
    /// ([`Op::is_supported`]); `check` and `run` refuse it alike.
    #[error(
        "op {op} is not supported yet (the runner supports {ops})",
        ops = op_names(Op::supported(), "and")
    )]
    UnsupportedOp {
        /// The op.
        op: Op,
    },
    /// Not a valid `expect` value for this op.
    #[error("bad expect {value:?} for op {op} (expected {allowed})")]
    BadExpect {
        /// The text given.
        value: String,
        /// The step's op.
        op: &'static str,
        /// What the op's results look like.
        allowed: &'static str,
    },
    /// An integer out of range.
    #[error("{value} is out of range ({range})")]
    OutOfRange {
        /// The value given.
        value: String,
        /// The range allowed.
        range: &'static str,
    },
    /// A second host with the same name.
    #[error("duplicate host name {name:?} (first defined on line {first_line})")]
    DuplicateHost {
        /// The name.
        name: String,
        /// Where it was first defined.
        first_line: usize,
    },
    /// A second provider with the same name on one host.
    #[error("duplicate provider name {name:?} on this host (first defined on line {first_line})")]
    DuplicateProvider {
        /// The name.
        name: String,
        /// Where it was first defined.
        first_line: usize,
    },
    /// A second catalog entry with the same GUID on one host.
    #[error(
        "duplicate provider GUID {guid} on this host (also provider {other:?}, line {first_line})"
    )]
    DuplicateGuid {
        /// The GUID.
        guid: String,
        /// The provider that has it first.
        other: String,
        /// Where that one is defined.
        first_line: usize,
    },
    /// A second registration value with the same name on one host.
    #[error(
        "duplicate registration name {name:?} on this host (first defined on line {first_line})"
    )]
    DuplicateRegistration {
        /// The name.
        name: String,
        /// Where it was first defined.
        first_line: usize,
    },
    /// A second connection or listener with the same `id`.
    #[error("duplicate id {name:?} (first used on line {first_line})")]
    DuplicateId {
        /// The id.
        name: String,
        /// Where it was first used.
        first_line: usize,
    },
    /// A registration with both or neither of `guid` and `hex`.
    #[error("a registration needs exactly one of `guid` and `hex`")]
    RegistrationValue,
    /// A step on a host the scenario does not define.
    #[error("no host named {0:?}")]
    UndefinedHost(String),
    /// A provider the host does not define.
    #[error("no provider named {provider:?} on host {host:?}")]
    UndefinedProvider {
        /// The provider name.
        provider: String,
        /// The host name.
        host: String,
    },
    /// A `close` of an id no earlier connect or listen step defines.
    #[error("no earlier connect or listen step has id {0:?}")]
    UndefinedId(String),
    /// A `send` or `shutdown` of an id no earlier connect step defines.
    #[error("no earlier connect step has id {0:?}")]
    UndefinedConnection(String),
    /// A key the step's op does not use.
    #[error("key not used by op {op} (it uses: {used})")]
    NotUsedByOp {
        /// The step's op.
        op: &'static str,
        /// The keys that op uses.
        used: &'static str,
    },
    /// A key the step's op needs is missing.
    #[error("op {op} needs this key")]
    MissingForOp {
        /// The step's op.
        op: &'static str,
    },
    /// An `address_change` step with a wrong combination of keys.
    #[error("{0}")]
    AddressChangeShape(&'static str),
    /// An `address_change` of a provider that has `address_list_raw`: its raw answer is
    /// replayed whatever its addresses, so the change would change nothing.
    #[error(
        "provider {provider:?} has address_list_raw, which it answers whatever its addresses: an address_change of it would change nothing"
    )]
    AddressChangeOfRaw {
        /// The provider.
        provider: String,
    },
    /// An `address_change` of a provider loaded from `library`: the library answers its own
    /// addresses, so the change would change nothing.
    #[error(
        "provider {provider:?} is loaded from a library, which answers its own addresses: an address_change of it would change nothing"
    )]
    AddressChangeOfLibrary {
        /// The provider.
        provider: String,
    },
    /// A key that describes the mock provider's behaviour beside `library`.
    #[error(
        "describes the mock provider's behaviour, and is not allowed beside `library` (line {library_line}): the library's own code answers"
    )]
    MockKeyWithLibrary {
        /// The line of the `library` key.
        library_line: usize,
    },
    /// A `library` file that cannot be used: missing, unreadable, or not a regular file.
    #[error("cannot use library file {path}: {why}")]
    BadLibrary {
        /// The path as resolved (relative to the scenario file's directory).
        path: String,
        /// Why.
        why: String,
    },
    /// The same `library` file for a second catalog entry.
    #[error(
        "library file {path} is already the library of {other} (line {line}): a shared object is loaded once per process, so it can back only one catalog entry; give this entry its own copy of the file"
    )]
    SharedLibrary {
        /// The path as resolved.
        path: String,
        /// The entry that has it first, as a key path (`host[0].provider[1]`).
        other: String,
        /// The line of that entry's `library` key.
        line: usize,
    },
    /// `address_list_fault` (other than `"none"`) together with `address_list_raw`.
    #[error(
        "address_list_fault cannot be combined with address_list_raw: the raw answer is replayed byte for byte"
    )]
    RawWithFault,
    /// A `connect_errors` key that TOML read as a dotted key (`10.0.0.1 = …` unquoted, which
    /// TOML reads as the nested keys `10`, `0`, `0`, `1`).
    #[error(
        "unquoted, TOML reads {key} as nested keys ({parts}); connect_errors keys are IP addresses and must be quoted: \"{key}\" = {value}"
    )]
    UnquotedAddressKey {
        /// The whole dotted key as written, its parts joined by `.`.
        key: String,
        /// Its parts, as TOML read them, comma-separated.
        parts: String,
        /// The value's text as written in the file (shortened).
        value: String,
    },
}

/// Op names for messages: `a, b or c` (`and`: `a, b and c`).
fn op_names(ops: impl Iterator<Item = Op>, and_or: &str) -> String {
    let names: Vec<&str> = ops.map(Op::name).collect();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => {
            format!("{} {and_or} {last}", rest.join(", "))
        }
        Some((last, _)) => (*last).to_owned(),
        None => String::new(),
    }
}

/// A character as `U+000A (\n)`: the code, and Rust's escape of it.
fn char_code(ch: &char) -> String {
    format!("U+{:04X} ({})", u32::from(*ch), ch.escape_default())
}
