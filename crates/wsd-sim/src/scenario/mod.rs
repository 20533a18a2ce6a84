//! The scenario file: its typed model and its parser/validator.
//!
//! [`parse`] reads TOML text into a [`Scenario`] with every default filled in, or returns
//! every problem found ([`ScenarioErrors`]), each with the key's path and line. It never
//! panics, whatever the text.
//!
//! # How it works
//!
//! The text is parsed into toml's spanned tree (`toml::de::DeTable`), which keeps the byte
//! span of every key and value; a walker then reads each table by hand, so it can go on after
//! a problem and report them all. A line is counted from the span's start. A syntax error
//! stops there: the syntax errors are reported (all that the TOML parser recovers from), and
//! nothing else, since the tree after one is unreliable.
//!
//! # Rules the spec leaves open, as decided here
//!
//! - Key paths count array indexes from 0: `host[0].provider[1].startup`; a missing key is
//!   reported at the line of its table's header.
//! - A key of another op (`backlog` on a connect step) is an error, not ignored: a key that
//!   does nothing is most likely a mistake.
//! - `address_change`: either `provider` with `addresses`, or `interfaces` alone. Its
//!   `provider` must not have `address_list_raw`: the raw answer is replayed whatever the
//!   provider's addresses, so the change would change nothing.
//! - `install`, `remove`, `address_change`'s `provider` and an `expect = "san:<p>"` must name
//!   a provider defined on the step's host (installed or not). Whether a provider is
//!   installed at that point is the runner's business (a result, not a file error).
//! - `id`s of connect and listen steps are unique in the scenario; `close` must name the id of
//!   an earlier connect or listen step.
//! - Two catalog entries with the same GUID on one host are an error (a registration could
//!   not tell them apart); so are two registration values with the same name on one host.
//! - Names (host, provider, fabric, registration, id) must not be empty, and must not hold a
//!   control character ([`char::is_control`]: NUL, tab, newline, ...), which would break the
//!   report's columns and lines.
//! - `version`: each part 0..=255 (a byte of the version WORD). `backlog`: 0..=2147483647.
//! - Destinations and listen addresses refuse port 0. `from` accepts `"10.0.0.1"`,
//!   `"10.0.0.1:5000"`, `"fd00::1"`, `"[fd00::1]"`, `"[fd00::1]:5000"`; whether the host owns
//!   that address is the runner's business (a result such as WSAEADDRNOTAVAIL).
//! - No address key accepts a zone id (`"fe80::1%2"`, `"[fe80::1%2]:5"`): `to`, `from`,
//!   `address`, `interfaces` and `addresses` alike ([`ErrorKind::ZoneId`]); the simulation has
//!   no interfaces to scope an address to, and dropping the zone would change the address. A
//!   port above 65535 is [`ErrorKind::PortOutOfRange`].
//! - A step on an undefined host is reported, and its other keys are still checked (all but
//!   provider names). A missing or unknown `op` is reported, and the step's other keys are
//!   then checked only against the set of all step keys.
//! - GUID text: 36-character hyphenated form, braces optional.
//! - `hex`: pairs of hex digits; whitespace is ignored; an empty value is allowed.
//!   `address_list_raw.base`: `"0x"` and 1 to 16 hex digits.
//! - `connect_errors` keys must be quoted IP addresses; an unquoted one (which TOML reads
//!   as a dotted key, nested tables) gets its own message, under the whole key as written
//!   (`connect_errors."10.1.2.9"`) and quoting the user's own key and value. A key is taken
//!   as dotted when a `.` follows it in the file.
//! - A provider's default GUID is [`guid_for_name`] of its name (mock-provider's derivation,
//!   the only one in the project: a version-5 UUID of the name's UTF-8 bytes in the namespace
//!   `{6D0C2A5E-9B1F-4C3A-8E27-5D4F0B9A7C31}`), so the same provider name on two hosts has
//!   the same GUID, as the same vendor's provider would.
//! - The vocabulary is the library's: call names are [`Call`] (parsed exactly as its
//!   `Display` writes them), extensions [`SanExtension`], versions [`WinsockVersion`], socket
//!   kinds [`SocketKind`], GUIDs [`Guid`] (reported braced, upper-case, as Windows writes them).
//! - `profile` changes no key's default; it is handed to the mock provider, and the keys
//!   given override its behaviour. `addresses` may hold IPv6 even for `winofed` (the mock
//!   decides what that profile reports).
//! - `address_list_raw` and an `address_list_fault` other than `"none"` together are an error:
//!   the raw answer is replayed byte for byte, so a fault on top of it would be silently
//!   ignored.
//! - Every op of the file format is validated here, its keys included (`send`'s `bytes` 0 to
//!   16777216, [`MAX_SEND_BYTES`], since the simulator holds every byte; `advance`'s `ms` 0
//!   to 2^63-1; `send` and `shutdown` name the `id` of an earlier connect step).
//!   [`Op::is_supported`] is the one place that decides which ops the runner carries out; it
//!   supports every op today. [`parse`] (what `check` and `run` use) would refuse a step of
//!   an unsupported op on its `op` key ([`ErrorKind::UnsupportedOp`]); [`parse_with`] and
//!   [`Ops::All`] accept it (`explain` reads a file so and skips such steps).
//! - The data-path provider keys: `max_msg_size` and `rdma_threshold` 0 to 4294967295 (a
//!   DWORD socket option; a message size below the session's smallest makes the session
//!   negotiation fail, which the report shows); `max_rdma_size` 1024 ([`MIN_RDMA_SIZE`]) to
//!   4294967295, since the simulator carries out every RDMA operation and a few bytes each
//!   would make one send take millions; `register_memory` and `register_rdma_memory` are
//!   outcomes like `startup`.
//! - `library`: a relative path is joined to the scenario file's directory ([`parse_in`];
//!   [`parse`] and [`parse_with`], which have no file, take the current directory), and a bare
//!   file name is prefixed with `./`, so the system loader opens that file rather than search
//!   its library directories. The file must exist and be a regular file; the parser looks at
//!   it (it does not open or load it), so `check` reports a missing library with its line.
//!   Each mock-behaviour key beside it (`profile` to `register_rdma_memory`, the keys the spec
//!   lists) is an error of its own, at its own line. `name`, `guid`, `registered`, `hidden`,
//!   `installed` and `fabric` stay allowed (`fabric` has no effect: a library provider is on
//!   no simulated fabric). One file backs at most one catalog entry in the whole scenario
//!   (compared after resolving links): a shared object is loaded once per process, and its
//!   globals (the up-call table it keeps) would be shared by two entries. An
//!   `address_change` of a library provider is an error: it answers its own addresses.

mod error;
mod model;
mod parse;
mod values;

pub use error::{ErrorKind, ScenarioError, ScenarioErrors};
pub use mock_provider::guid_for_name;
pub use model::{
    Action, AddressChange, ConnectResult, Host, ListenResult, MAX_SEND_BYTES, MIN_RDMA_SIZE, Op,
    ProviderSpec, RawAddressList, Registration, RegistrationValue, Scenario, SendResult, Step,
    SwitchSettings,
};
pub use parse::{Ops, parse, parse_in, parse_with};
pub use spi_types::WsaError;
pub use spi_types::{Guid, SanExtension, WinsockVersion};
pub use switch_core::SocketKind;
pub use switch_core::trace::Call;
pub use values::{
    AddressListFault, BindAddr, ExtensionAnswers, Outcome, Profile, ShutdownHow, check_name,
    parse_address_fault, parse_call, parse_extension, parse_socket_addr, parse_socket_kind,
    parse_version, wsa_text,
};

#[cfg(test)]
mod tests;
