//! Two switches on a mock fabric under a fuzzer-chosen configuration and sequence of operations
//! (structure-aware: the input is an [`Input`] built with `arbitrary`).
//!
//! Each host has a `switch_core::Switch`, a `MockLoader` and a `MockTcp` attached to one
//! `mock_provider::Fabric`, and one to three mock SAN providers ("ib", "iw", "roce") whose
//! `MockConfig` the input chooses: startup result, version answered, `WSPSocket` result,
//! addresses, address-list fault, extension answers, a panic in one call, cleanup result,
//! forced connect errors, `connect_pending`, `connect_delay_ms`, `WSPSetSockOpt` result, and
//! which SAN fabric it is cabled to (each a [`ProviderFault`]; none means a healthy provider);
//! the switch's interfaces, SAN deadline and negative cache; and maybe a listener set up after
//! initialization. Then at most [`MAX_OPS`] operations: catalog changes
//! (install or remove a provider), initialize again, address changes (provider addresses and
//! the switch's interfaces), socket + connect to one of a few fixed destinations, connecting an
//! open socket again, cancel, close, listen (wildcard or a specific address, accepting or
//! rejecting), accept, delivering signals, moving the clock, settling, shutdown; and maybe a
//! last settling (every signal delivered, the clock moved to every due time) before the end.
//!
//! What is checked:
//!
//! - No panic escapes the switch: the mocks' deliberate panics (`panic_at`) must be caught by
//!   the switch's panic boundary. (The panic hook lets exactly those through without aborting;
//!   one that reaches this target is reported with the operation it escaped from.)
//! - After every operation: every `Watch` is for an event not watched yet and every `Unwatch`
//!   for one watched; `Connected` only for a socket with a connect under way, once; `Accepted`
//!   only on an open listener; `Switch::footprint` agrees with the sockets and watched events
//!   the target knows of; no provider was cleaned up more often than it started, and the mock's
//!   `CallLog` saw exactly the `WSPCleanup` calls the switch's trace records.
//! - At the end: every application socket is closed, after which nothing is watched, no
//!   deadline is pending, no TCP/IP socket is open and each provider has only its query socket
//!   open while alive; then `shutdown`: every started provider (`WSPStartupEx` answered `Ok`
//!   in the trace) was cleaned up exactly once (`Call::Cleanup` in `loader.log()`), no provider
//!   socket is left open (`Fabric::open_sockets`), and the footprint shows no watched event or
//!   deadline. Two documented exceptions: a provider configured to panic in `WSPCloseSocket`
//!   cannot close a socket, and the SAN sockets of connections still open when `shutdown` ran
//!   in the middle of the sequence are ended by `WSPCleanup`, not closed one by one (CLOSE-2).

#![no_main]

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Once;
use std::time::Duration;

use arbitrary::Arbitrary;
use ipnet::IpNet;
use libfuzzer_sys::fuzz_target;
use mock_provider::{
    AddressFault, Fabric, MockCatalog, MockConfig, MockLoader, MockTcp, Transport,
};
use spi_types::consts::{SO_DEBUG, SOL_SOCKET};
use spi_types::{AddressFamily, ConditionResult, SanExtension, WinsockVersion, WsaError};
use switch_core::connection::{ConnectPolicy, ConnectStatus, SocketId, StoredOption, SwitchEvent};
use switch_core::provider::EventHandle;
use switch_core::routing::SocketKind;
use switch_core::trace::{Call, CallResult};
use switch_core::{ProviderState, Switch, SwitchConfig};

/// The most operations one input applies.
const MAX_OPS: usize = 64;
/// The most faults per provider.
const MAX_FAULTS: usize = 8;
/// The most steps one `Settle` takes.
const MAX_SETTLE_STEPS: usize = 64;
/// The provider names, by index on each host.
const NAMES: [&str; 3] = ["ib", "iw", "roce"];
/// The port every listener listens on and most connects go to.
const PORT: u16 = 7000;

// ---- the input ----

// What zero bytes give (`false`, `None`, 0, an enum's first variant, an empty list) is the
// plain case: healthy providers (a provider's faults are a sparse list, one element per fault),
// a wildcard listener on each host, a settle at the end, and for an operation a connect from
// host 0 to host 1's "ib" (the first `Op`). `ops` comes last and takes the rest of the input;
// as every list `arbitrary` builds, each element is preceded by a "one more" byte (odd) and an
// even byte ends it. So an input of zeros with a few odd bytes establishes and accepts SAN
// connections (see seeds/switch_ops), and each fault or odd operation is a small change from
// there.

#[derive(Arbitrary, Debug)]
struct Input {
    hosts: [HostSpec; 2],
    ending: Ending,
    ops: Vec<Op>,
}

/// What happens after the operations, before everything is closed and shut down.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// Every signal is delivered and the clock moved on until nothing is left (bounded).
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
}

#[derive(Arbitrary, Debug, Clone, Copy)]
struct ListenSpec {
    at: ListenAt,
    backlog: i8,
    reject: bool,
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
    RdmaRead,
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
            PanicAt::RdmaRead => Call::GetExtension(SanExtension::RdmaRead),
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
    /// Delivers signals and moves the clock to each due time until nothing is left (bounded).
    Settle,
    /// `Switch::shutdown`.
    Shutdown { host: bool },
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
/// libfuzzer-sys's hook (a crash).
fn install_panic_hook() {
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
    /// Open listeners and the accepted connections not taken yet, oldest first.
    listeners: BTreeMap<SocketId, VecDeque<SocketId>>,
    /// Sockets with a connect under way.
    pending: BTreeSet<SocketId>,
    watched: HashSet<EventHandle>,
    /// Per provider name: `WSPStartupEx` calls answered `Ok`, and `WSPCleanup` calls, from the
    /// switch's trace.
    started: BTreeMap<String, usize>,
    cleaned: BTreeMap<String, usize>,
    /// Set by the first `Shutdown` op: the SAN sockets left open then (ended by `WSPCleanup`).
    leftover: Option<BTreeMap<Transport, usize>>,
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
        let switch = Switch::new(SwitchConfig {
            connect: policy,
            ..SwitchConfig::default()
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
            listeners: BTreeMap::new(),
            pending: BTreeSet::new(),
            watched: HashSet::new(),
            started: BTreeMap::new(),
            cleaned: BTreeMap::new(),
            leftover: None,
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
                }
                SwitchEvent::Accepted {
                    listener, socket, ..
                } => {
                    let queue = self.listeners.get_mut(&listener).unwrap_or_else(|| {
                        panic!(
                            "host {}: accepted on {listener:?}, not a listener",
                            self.index
                        )
                    });
                    queue.push_back(socket);
                    assert!(
                        self.open.insert(socket),
                        "host {}: accepted socket {socket:?} is already open",
                        self.index
                    );
                }
                SwitchEvent::Rejected { listener, .. } => {
                    assert!(
                        self.listeners.contains_key(&listener),
                        "host {}: rejected on {listener:?}, not a listener",
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

    /// The invariants that hold after every operation.
    fn check(&self) {
        let fp = self.switch.footprint();
        assert_eq!(
            fp.watched_events,
            self.watched.len(),
            "host {}: footprint {fp:?}",
            self.index
        );
        assert_eq!(
            fp.sockets,
            self.open.len(),
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
    }

    fn close(&mut self, s: SocketId) {
        let r = self.switch.close(&mut self.tcp, s);
        assert!(r.is_ok(), "host {}: closing open {s:?}: {r:?}", self.index);
        self.open.remove(&s);
        self.pending.remove(&s);
        for q in self.listeners.values_mut() {
            q.retain(|x| *x != s);
        }
        // ACCEPT-4: a listener's accepted connections not taken close with it.
        if let Some(untaken) = self.listeners.remove(&s) {
            for a in untaken {
                self.open.remove(&a);
            }
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
            Ok(ConnectStatus::Done(_)) => {
                assert!(
                    !was_pending && !was_listener,
                    "host {}: {s:?} connects again while busy",
                    self.index
                );
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
        assert!(
            self.open.insert(s),
            "host {}: new {s:?} already open",
            self.index
        );
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
        assert!(
            self.open.insert(l),
            "host {}: new {l:?} already open",
            self.index
        );
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
        let expected = self.listeners.get_mut(&l).unwrap().pop_front();
        assert_eq!(r, Ok(expected), "host {}: accept on {l:?}", self.index);
        if let (Some(s), true) = (expected, close) {
            self.close(s);
        }
    }

    fn cancel(&mut self, n: u8) {
        if let Some(s) = Self::nth(&self.pending, n) {
            let r = self.switch.cancel_connect(&mut self.tcp, s);
            assert!(
                r.is_ok(),
                "host {}: cancelling pending {s:?}: {r:?}",
                self.index
            );
            self.pending.remove(&s);
        } else if let Some(s) = Self::nth(&self.open, n) {
            let r = self.switch.cancel_connect(&mut self.tcp, s);
            assert!(
                r.is_err(),
                "host {}: cancelled {s:?} with no connect under way",
                self.index
            );
        }
    }

    fn shutdown(&mut self, fabric: &Fabric) {
        self.switch.shutdown();
        if self.leftover.is_none() {
            self.leftover = Some(san_sockets(fabric, self.index));
        }
    }

    /// Whether provider `name` was configured to panic in `WSPCloseSocket` (it cannot close a
    /// socket, so its sockets are not checked).
    fn cannot_close(&self, name: &str) -> bool {
        self.configs
            .iter()
            .any(|c| c.name == name && c.panic_at == Some(Call::CloseSocket))
    }

    /// Closes every application socket, checks nothing is left but the query sockets, shuts
    /// down and checks every started provider was cleaned up once and no socket is left.
    fn finish(&mut self, fabric: &Fabric) {
        while let Some(&s) = self.open.iter().next() {
            self.close(s);
        }
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
        assert_eq!(self.tcp.open_sockets(), 0, "host {}", self.index);
        let open = san_sockets(fabric, self.index);
        if self.leftover.is_none() {
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
        // What an earlier shutdown left to WSPCleanup (taken before this one records its own).
        let leftover = self.leftover.clone().unwrap_or_default();
        self.shutdown(fabric);
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
        for (transport, n) in &open {
            let Transport::San(name) = transport else {
                continue;
            };
            if self.cannot_close(name) {
                continue;
            }
            assert_eq!(
                *n,
                leftover.get(transport).copied().unwrap_or(0),
                "host {}: `{name}` sockets left open after shutdown: {open:?}; ended by an \
                 earlier shutdown: {leftover:?}",
                self.index
            );
        }
        assert!(
            !fabric
                .open_sockets(self.index)
                .contains_key(&Transport::Tcp),
            "host {}: TCP/IP sockets left open",
            self.index
        );
    }
}

/// The SAN provider sockets open on host `h`, per provider.
fn san_sockets(fabric: &Fabric, h: usize) -> BTreeMap<Transport, usize> {
    let mut open = fabric.open_sockets(h);
    open.remove(&Transport::Tcp);
    open
}

struct World {
    fabric: Fabric,
    hosts: [Host; 2],
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
        World { fabric, hosts }
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

    fn advance(&mut self, ms: u64) {
        self.fabric.advance(ms);
        let now = Duration::from_millis(self.fabric.now());
        self.both(|h, _| {
            h.switch.handle_timeout(&mut h.tcp, now);
            h.drain();
        });
    }

    fn settle(&mut self) {
        for _ in 0..MAX_SETTLE_STEPS {
            if self.deliver_one() {
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

    fn apply(&mut self, op: Op) {
        let fabric = self.fabric.clone();
        let hosts = &mut self.hosts;
        let host = |b: bool| usize::from(b);
        match op {
            Op::Catalog {
                host: b,
                provider,
                install,
            } => {
                let h = &mut hosts[host(b)];
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
                let h = &mut hosts[host(b)];
                h.switch
                    .initialize(&h.catalog, &mut h.loader, interfaces(mask));
            }
            Op::Addresses {
                host: b,
                provider,
                addresses,
                interfaces: mask,
            } => {
                let h = &mut hosts[host(b)];
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
            } => hosts[host(b)].new_connect(destination(host(b), dest), bind, debug, datagram),
            Op::Reconnect { host: b, n, dest } => {
                let h = &mut hosts[host(b)];
                if let Some(s) = Host::nth(&h.open, n) {
                    h.connect(s, destination(h.index, dest));
                }
            }
            Op::Cancel { host: b, n } => hosts[host(b)].cancel(n),
            Op::Close { host: b, n } => {
                let h = &mut hosts[host(b)];
                if let Some(s) = Host::nth(&h.open, n) {
                    h.close(s);
                }
            }
            Op::Listen {
                host: b,
                at,
                backlog,
                reject,
            } => hosts[host(b)].listen(at, backlog, reject),
            Op::Accept { host: b, n, close } => hosts[host(b)].accept(n, close),
            Op::Deliver { n } => {
                for _ in 0..=(n % 8) {
                    if !self.deliver_one() {
                        break;
                    }
                }
            }
            Op::Advance { ms } => self.advance(u64::from(ms)),
            Op::Settle => self.settle(),
            Op::Shutdown { host: b } => hosts[host(b)].shutdown(&fabric),
        }
        self.both(|h, _| {
            h.drain();
            h.check();
        });
    }
}

fuzz_target!(init: install_panic_hook(), |input: Input| {
    let mut world = World::new(&input);
    for &op in input.ops.iter().take(MAX_OPS) {
        let r = catch_unwind(AssertUnwindSafe(|| world.apply(op)));
        if let Err(payload) = r {
            // Only a deliberate panic gets here (any other aborted in the hook).
            let msg = payload
                .downcast_ref::<String>()
                .cloned()
                .unwrap_or_default();
            panic!("a provider panic escaped the switch in {op:?}: {msg}");
        }
    }
    let r = catch_unwind(AssertUnwindSafe(|| {
        if input.ending == Ending::Settle {
            world.settle();
        }
        world.both(|h, f| h.finish(f));
    }));
    if let Err(payload) = r {
        let msg = payload
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default();
        panic!("a provider panic escaped the switch at the end (settle, close, shutdown): {msg}");
    }
});
