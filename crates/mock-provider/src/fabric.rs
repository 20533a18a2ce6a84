//! A multi-host network in one process: hosts with their TCP/IP interface addresses, the SAN
//! providers and TCP/IP providers attached to them, and what their connects meet.
//!
//! A [`Fabric`] is a cloneable handle; every clone sees the same network. It is deterministic:
//! no thread, no real clock, no I/O. Time is a simulated clock in milliseconds that moves only
//! through [`Fabric::advance`]. An event a provider signals (the `WSAEVENT` a switch gave to
//! `WSPEventSelect`) goes into a queue of `(host, event)` pairs that [`Fabric::next_signal`]
//! releases in order; event handles are minted by each host's switch, so the host index is part
//! of every signal.
//!
//! SAN providers join through [`MockLoader::attach`](crate::MockLoader::attach) (every provider
//! the loader makes is attached to the host) or [`MockProvider::attach`](crate::MockProvider::attach);
//! TCP/IP providers through [`MockTcp::attached`](crate::MockTcp::attached).
//!
//! # Who owns an address
//!
//! A host owns its interface addresses and the addresses of every SAN provider configuration
//! attached to it, started or not (the NIC is there even when its provider is not running).
//! Provider addresses are read from the shared configurations when a connect asks, so a change
//! through [`MockLoader::set_addresses`](crate::MockLoader::set_addresses) takes effect at once.
//! A SAN provider *serves* its listed addresses on its fabric
//! ([`MockConfig::fabric`](crate::MockConfig::fabric)) from a successful `WSPStartupEx` until
//! `WSPCleanup` (or until it is dropped).
//!
//! # A SAN connect (`WSPConnect` on a socket of an attached provider)
//!
//! Checked in this order:
//!
//! 1. the socket's own state: not a socket of the provider `WSAENOTSOCK`; listening
//!    `WSAEINVAL`; a connect under way `WSAEALREADY`; connected `WSAEISCONN`; a wildcard
//!    address or port 0 as destination `WSAEADDRNOTAVAIL`; a destination of the other family
//!    than the bound address `WSAEAFNOSUPPORT`;
//! 2. a [`connect_errors`](crate::MockConfig::connect_errors) entry for the destination: that
//!    error;
//! 3. no host owns the destination: `WSAEHOSTUNREACH`;
//! 4. no started provider on the same fabric lists it: `WSAETIMEDOUT`;
//! 5. the serving provider has no listener on the destination (its address or the wildcard of
//!    its family, and its port): `WSAECONNREFUSED`;
//! 6. the listener's backlog of connects not yet accepted is full: `WSAECONNREFUSED`, and the
//!    listener sees nothing;
//! 7. otherwise the connect is queued on the listener, the listener's `FD_ACCEPT` is signalled
//!    and `WSPConnect` answers `WSAEWOULDBLOCK`.
//!
//! Errors of 2 to 6 are answered by `WSPConnect` itself, with two exceptions: with
//! [`connect_pending`](crate::MockConfig::connect_pending) the call answers `WSAEWOULDBLOCK`
//! and the error comes through `FD_CONNECT` (signalled at once), and `WSAETIMEDOUT` with a
//! [`connect_delay_ms`](crate::MockConfig::connect_delay_ms) above 0 comes through `FD_CONNECT`
//! when the clock has moved on by that delay.
//!
//! The result of a queued connect is decided by the listener's side: accepted (success),
//! refused by the condition function, or refused because the listener closed or its provider
//! cleaned up (`WSAECONNREFUSED`). It reaches the connecting socket after the *connecting*
//! provider's `connect_delay_ms` (at once for 0): its `FD_CONNECT` is then signalled and the
//! next `WSPEnumNetworkEvents` reports it once.
//!
//! # Events
//!
//! `WSPEnumNetworkEvents` reports `FD_ACCEPT` on a listening socket while connects are queued,
//! and `FD_CONNECT` with its result once a connect is decided (then forgets it: a success makes
//! the socket connected, an error leaves it free to connect again). Events are signalled only
//! to a socket that selected them with `WSPEventSelect`; selecting them when the condition
//! already holds signals at once. As in Winsock, `FD_ACCEPT` is signalled once until the next
//! `WSPAccept` re-enables it: a connect arriving while an earlier signal is outstanding does
//! not signal again, and a `WSPAccept` that leaves connects queued signals again.
//!
//! # Closing
//!
//! `WSPCloseSocket` removes the socket's listener (its queued connects are refused), takes a
//! queued connect out of its listener's queue, and marks its end of a connection closed; the
//! connection stays in [`Fabric::connections`] as history. Its data side (CLOSE-1): its own
//! pending receives complete with `WSA_OPERATION_ABORTED`, the peer's pending receives fail
//! with `WSAECONNRESET` and the peer's later sends, receives, RDMA registrations and RDMA
//! transfers on the connection fail with `WSAECONNRESET` (messages that reached the peer
//! before are still received first); the socket's RDMA registrations are dropped.
//! `WSPCleanup` withdraws the provider: its addresses are no longer served and its listeners
//! stop listening (their queued connects are refused). Its sockets that are still open stay
//! counted by [`Fabric::open_sockets`], which is what a leak check looks at.
//!
//! # Data between SAN sockets
//!
//! A connected SAN socket (from the accept on the listening side, and from the moment the
//! listener accepted on the connecting side) carries messages and RDMA to the other end of its
//! connection; the provider checks its own arguments and local buffers first (see
//! [`MockProvider`](crate::MockProvider)).
//!
//! - A `WSPSend` is one message. It goes into the peer's oldest posted receive or, when none
//!   is posted, is held, in order, for the next receives posted. A message larger than the
//!   receive it meets completes that receive with `WSAEMSGSIZE` and is dropped. The send
//!   completes at once with its size.
//! - Requests complete through the up-call table of the provider that started them, made once
//!   the fabric is unlocked, or, for a `poll_only` request, are kept for
//!   `WSPGetOverlappedResult`.
//! - An RDMA registration exposes memory to the peer of the registering socket's connection;
//!   its descriptor ([`RDMA_DESCRIPTOR_LEN`] bytes) names it fabric-wide with a check value.
//!   RdmaWrite and RdmaRead need a descriptor of a live registration of the peer of this very
//!   connection (`WSAEINVAL` otherwise, `WSAECONNRESET` once the peer closed), a transfer
//!   inside it (`WSAEFAULT`) and `MEM_WRITE` respectively `MEM_READ` on it (`WSAEACCES`). The
//!   bytes are copied at once, and the request completes at once.
//! - Every refused access is counted by [`Fabric::mem_violations`];
//!   [`Fabric::memory`] shows what a host's providers hold registered and cached.
//!
//! Not connected: `WSAENOTCONN`.
//!
//! # TCP/IP
//!
//! An attached [`MockTcp`](crate::MockTcp) connects synchronously: a
//! [`connect_errors`](crate::MockTcp::connect_errors) entry first; then no host owns the
//! destination `WSAEHOSTUNREACH`; an owning host with a TCP listener on the destination (its
//! address or the wildcard, and the port) connects, and the connection is recorded with both
//! ends; otherwise `WSAECONNREFUSED`. The accepting end gets a socket of its own only through
//! [`MockTcp::accept`](crate::MockTcp::accept) on the listener; until then the connection
//! closes (both ends) when its connecting socket does, and once accepted each end closes with
//! its own socket. The two ends exchange a byte stream (see [`MockTcp`](crate::MockTcp)).
//!
//! # Cost
//!
//! Per-socket state is in hash maps keyed by provider and socket; listeners in ordered maps
//! per provider and per host. Address lookups go over the hosts and their providers (a
//! handful), never over sockets. Whatever produces signals in a batch goes in a fixed order, so
//! a run is the same every time.

mod data;
mod san;
mod tcp;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use spi_types::WsaError;
use switch_core::provider::{EventHandle, ProviderSocket, TcpSocket};

use crate::config::MockConfig;
use crate::provider::SharedConfig;
use crate::registry::Registry;

pub use data::RDMA_DESCRIPTOR_LEN;
pub(crate) use data::{Notify, RdmaDirection, Request, Upcall};
pub(crate) use san::{AcceptDecision, SanAttachment};
pub(crate) use tcp::TcpAttachment;

/// A mock network of hosts (see the [module documentation](self)).
#[derive(Clone, Default)]
pub struct Fabric(Arc<Mutex<State>>);

impl std::fmt::Debug for Fabric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.lock();
        f.debug_struct("Fabric")
            .field("now", &s.now)
            .field("hosts", &s.hosts.len())
            .field("signals", &s.signals.len())
            .field("timers", &s.timers.len())
            .finish_non_exhaustive()
    }
}

/// A fabric call was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FabricError {
    /// No host has this index.
    #[error("the fabric has no host {0}")]
    UnknownHost(usize),
    /// The provider (or loader) is attached to a fabric already.
    #[error("already attached to a fabric")]
    AlreadyAttached,
}

/// A host as [`Fabric::hosts`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostInfo {
    /// Its index, as [`Fabric::add_host`] answered it.
    pub index: usize,
    /// Its name.
    pub name: String,
    /// Its TCP/IP interface addresses.
    pub interfaces: Vec<IpAddr>,
}

/// What carries a connection or a listener.
///
/// `Display` gives `san:<provider name>` or `tcp`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    /// The SAN provider of this name.
    San(String),
    /// TCP/IP.
    Tcp,
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::San(name) => write!(f, "san:{name}"),
            Transport::Tcp => f.write_str("tcp"),
        }
    }
}

/// One end of a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionEnd {
    /// The host it is on.
    pub host: usize,
    /// Its address.
    pub address: SocketAddr,
    /// What carries it on this host.
    pub transport: Transport,
    /// Whether it is still open.
    pub open: bool,
}

/// A connection the fabric established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionInfo {
    /// Its number, in the order connections were established (from 0).
    pub id: usize,
    /// The connecting end.
    pub caller: ConnectionEnd,
    /// The accepting end (for a SAN connection the accepted socket; for TCP the address the
    /// connect reached, on the host that listened).
    pub callee: ConnectionEnd,
}

impl ConnectionInfo {
    /// Whether both ends are open.
    pub fn is_open(&self) -> bool {
        self.caller.open && self.callee.open
    }
}

/// Which end of a connection a host holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// It connected.
    Caller,
    /// It accepted.
    Callee,
}

/// A connection as one host sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostConnection {
    /// The connection's number ([`ConnectionInfo::id`]).
    pub id: usize,
    /// Which end this host holds.
    pub role: Role,
    /// This host's address.
    pub local: SocketAddr,
    /// The other end's address.
    pub remote: SocketAddr,
    /// What carries it on this host.
    pub transport: Transport,
    /// Whether this host's end is still open.
    pub open: bool,
}

/// A listening socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerInfo {
    /// The address it listens on (possibly a wildcard).
    pub address: SocketAddr,
    /// Its provider.
    pub transport: Transport,
    /// Its backlog, after clamping (see [`effective_backlog`]).
    pub backlog: usize,
    /// How many connects wait to be accepted (always 0 for TCP, which accepts at once).
    pub queued: usize,
}

/// The registered memory of a host's SAN providers ([`Fabric::memory`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryStats {
    /// Live local registrations (`WSPRegisterMemory`) of its provider instances.
    pub local: usize,
    /// Live RDMA registrations (`WSPRegisterRdmaMemory`) of its providers' sockets.
    pub rdma: usize,
    /// Deregistered local registrations its provider instances still cache (MEM-2): the
    /// memory stays pinned until a MemoryRegistrationCacheCallback covering it or the
    /// provider's cleanup.
    pub cached: usize,
    /// The cached ranges, as (address, length), by address.
    pub cached_ranges: Vec<(u64, usize)>,
}

/// The backlog a listener keeps for the `backlog` given to `listen`: below 1 counts as 1, and
/// above [`MAX_BACKLOG`] (`SOMAXCONN` included) as [`MAX_BACKLOG`].
pub fn effective_backlog(backlog: i32) -> usize {
    usize::try_from(backlog).map_or(1, |b| b.clamp(1, MAX_BACKLOG))
}

/// The largest backlog a listener keeps.
pub const MAX_BACKLOG: usize = 200;

/// The first ephemeral port the fabric gives a SAN socket that binds port 0 or connects
/// unbound; the ports go up from here, per host.
pub const FIRST_EPHEMERAL_PORT: u16 = 32768;

impl Fabric {
    /// An empty fabric at time 0.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update keeps the state consistent at each step that can panic (none does on
        // purpose), so a poisoned lock is still usable.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a host with its TCP/IP interface addresses; answers its index (0, 1, ... in the
    /// order hosts are added). Names need not be unique; [`host_index`](Self::host_index)
    /// finds the first.
    pub fn add_host(&self, name: &str, interfaces: impl IntoIterator<Item = IpAddr>) -> usize {
        let mut s = self.lock();
        s.hosts.push(HostState {
            name: name.to_owned(),
            interfaces: interfaces.into_iter().collect(),
            configs: Vec::new(),
            tcp_listeners: BTreeMap::new(),
            next_port: 0,
        });
        s.hosts.len() - 1
    }

    /// Replaces a host's interface addresses.
    pub fn set_interfaces(
        &self,
        host: usize,
        interfaces: impl IntoIterator<Item = IpAddr>,
    ) -> Result<(), FabricError> {
        let mut s = self.lock();
        let h = s.host_mut(host)?;
        h.interfaces = interfaces.into_iter().collect();
        Ok(())
    }

    /// Every host, by index.
    pub fn hosts(&self) -> Vec<HostInfo> {
        self.lock()
            .hosts
            .iter()
            .enumerate()
            .map(|(index, h)| HostInfo {
                index,
                name: h.name.clone(),
                interfaces: h.interfaces.clone(),
            })
            .collect()
    }

    /// The index of the first host named `name`.
    pub fn host_index(&self, name: &str) -> Option<usize> {
        self.lock().hosts.iter().position(|h| h.name == name)
    }

    /// The hosts that own `ip` (an interface address or an address of an attached SAN
    /// provider), by index.
    pub fn owners(&self, ip: IpAddr) -> Vec<usize> {
        self.lock().owners(ip)
    }

    /// `UnknownHost` unless the fabric has `host`.
    pub(crate) fn check_host(&self, host: usize) -> Result<(), FabricError> {
        self.lock().check_host(host)
    }

    /// Records `config` as a SAN provider configuration of `host`: its addresses belong to the
    /// host from now on. The same configuration is recorded once.
    pub(crate) fn add_host_config(
        &self,
        host: usize,
        config: &SharedConfig,
    ) -> Result<(), FabricError> {
        let mut s = self.lock();
        let h = s.host_mut(host)?;
        if !h.configs.iter().any(|c| Arc::ptr_eq(c, config)) {
            h.configs.push(Arc::clone(config));
        }
        Ok(())
    }

    /// The simulated time, in milliseconds since the fabric was made.
    pub fn now(&self) -> u64 {
        self.lock().now
    }

    /// Moves the clock on by `ms`, releasing every timed signal due by then, in the order of
    /// their due times (and, for equal times, the order they were set).
    pub fn advance(&self, ms: u64) {
        let mut s = self.lock();
        let target = s.now.saturating_add(ms);
        while let Some(entry) = s.timers.first_entry() {
            if entry.key().0 > target {
                break;
            }
            let ((due, _), delivery) = entry.remove_entry();
            s.now = due;
            s.decide(delivery.socket, delivery.attempt, delivery.result);
        }
        s.now = target;
    }

    /// When the next timed signal is due, if one is set.
    pub fn next_due(&self) -> Option<u64> {
        self.lock().timers.keys().next().map(|(due, _)| *due)
    }

    /// The oldest signalled event not yet taken: the host whose switch minted it, and the
    /// event. A simulator hands it to that host's switch (`Switch::handle_event`).
    pub fn next_signal(&self) -> Option<(usize, EventHandle)> {
        self.lock().signals.pop_front()
    }

    /// How many signalled events wait to be taken.
    pub fn pending_signals(&self) -> usize {
        self.lock().signals.len()
    }

    /// Every connection established so far, open or closed, in the order they were made.
    pub fn connections(&self) -> Vec<ConnectionInfo> {
        self.lock()
            .connections
            .iter()
            .enumerate()
            .map(|(id, c)| ConnectionInfo {
                id,
                caller: c.caller.info(),
                callee: c.callee.info(),
            })
            .collect()
    }

    /// The connections `host` holds an end of, in the order they were made (a connection from
    /// a host to itself gives two rows).
    pub fn connections_of(&self, host: usize) -> Vec<HostConnection> {
        let s = self.lock();
        let mut rows = Vec::new();
        for (id, c) in s.connections.iter().enumerate() {
            for (role, mine, theirs) in [
                (Role::Caller, &c.caller, &c.callee),
                (Role::Callee, &c.callee, &c.caller),
            ] {
                if mine.host == host {
                    rows.push(HostConnection {
                        id,
                        role,
                        local: mine.address,
                        remote: theirs.address,
                        transport: mine.transport.clone(),
                        open: mine.open,
                    });
                }
            }
        }
        rows
    }

    /// The listening sockets of `host`: SAN ones by provider, then TCP ones, each by address.
    pub fn listeners(&self, host: usize) -> Vec<ListenerInfo> {
        let s = self.lock();
        let mut out = Vec::new();
        for p in s.providers.iter().filter(|p| p.host == host) {
            let transport = Transport::San(p.name());
            for (address, socket) in &p.listeners {
                let key = SanKey {
                    provider: p.index,
                    socket: *socket,
                };
                if let Some(l) = s.san.get(&key).and_then(|e| e.listen.as_ref()) {
                    out.push(ListenerInfo {
                        address: *address,
                        transport: transport.clone(),
                        backlog: l.backlog,
                        queued: l.queue.len(),
                    });
                }
            }
        }
        if let Some(h) = s.hosts.get(host) {
            for (address, l) in &h.tcp_listeners {
                out.push(ListenerInfo {
                    address: *address,
                    transport: Transport::Tcp,
                    backlog: l.backlog,
                    queued: 0,
                });
            }
        }
        out
    }

    /// How many memory accesses the SAN providers' model NIC refused so far, fabric-wide
    /// (MEM-1): a data call's local buffer outside a live registration of its socket or
    /// without the access right it needs, a registration of a range outside its buffer, and
    /// an RDMA transfer whose target descriptor is not a live registration of the peer of
    /// that very connection (after the peer closed included), lies outside it, or lacks the
    /// access right. A switch that follows the rules never makes one.
    pub fn mem_violations(&self) -> u64 {
        self.lock().mem_violations
    }

    /// The registered memory of every SAN provider instance attached to `host` (instances
    /// already dropped have none).
    pub fn memory(&self, host: usize) -> MemoryStats {
        let s = self.lock();
        let mut m = MemoryStats::default();
        for p in s.providers.iter().filter(|p| p.host == host) {
            if let Some(r) = p.registry.upgrade() {
                let r = Registry::lock(&r);
                m.local += r.local_count();
                m.cached_ranges.extend(r.cached_ranges());
            }
        }
        m.cached = m.cached_ranges.len();
        m.cached_ranges.sort_unstable();
        m.rdma = s
            .rdma
            .values()
            .filter(|r| {
                s.providers
                    .get(r.owner.provider)
                    .is_some_and(|p| p.host == host)
            })
            .count();
        m
    }

    /// How many sockets the last `WSPCleanup` of a SAN provider on `host` found still open
    /// and closed itself, per provider, over the fabric's life. A switch that relies on
    /// `WSPCleanup` to end its connections (CLOSE-2) shows here; so does one that forgot to
    /// close a socket: this is what a leak check looks at besides
    /// [`open_sockets`](Self::open_sockets).
    pub fn reset_at_cleanup(&self, host: usize) -> BTreeMap<Transport, usize> {
        let s = self.lock();
        let mut out = BTreeMap::new();
        for p in s.providers.iter().filter(|p| p.host == host) {
            if p.reset_at_cleanup > 0 {
                *out.entry(Transport::San(p.name())).or_insert(0) += p.reset_at_cleanup;
            }
        }
        out
    }

    /// How many sockets are open on `host`, per provider (`san:<name>` for each SAN provider
    /// with open sockets, summed over its instances; `tcp` for the TCP/IP providers). A socket
    /// counts from `WSPSocket` (or `WSPAccept`) to `WSPCloseSocket`, or to its provider's last
    /// `WSPCleanup`, which closes what is still open as Winsock says (see
    /// [`reset_at_cleanup`](Self::reset_at_cleanup)).
    pub fn open_sockets(&self, host: usize) -> BTreeMap<Transport, usize> {
        let s = self.lock();
        let mut out = BTreeMap::new();
        for p in s.providers.iter().filter(|p| p.host == host) {
            if p.open_sockets > 0 {
                *out.entry(Transport::San(p.name())).or_insert(0) += p.open_sockets;
            }
        }
        let tcp: usize = s
            .tcps
            .iter()
            .filter(|t| t.host == host)
            .map(|t| t.open_sockets)
            .sum();
        if tcp > 0 {
            out.insert(Transport::Tcp, tcp);
        }
        out
    }
}

/// A SAN socket's key: the provider instance and the provider's own descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct SanKey {
    provider: usize,
    socket: ProviderSocket,
}

/// A TCP socket's key: the TCP/IP provider instance and its descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct TcpKey {
    provider: usize,
    socket: TcpSocket,
}

#[derive(Default)]
struct State {
    now: u64,
    hosts: Vec<HostState>,
    /// SAN provider instances, by the index their attachment holds.
    providers: Vec<ProviderReg>,
    /// TCP/IP provider instances, by the index their attachment holds.
    tcps: Vec<TcpReg>,
    san: HashMap<SanKey, san::SanEndpoint>,
    tcp: HashMap<TcpKey, tcp::TcpEndpoint>,
    connections: Vec<ConnectionRecord>,
    signals: VecDeque<(usize, EventHandle)>,
    /// Connect results on their way, by due time and the order they were set.
    timers: BTreeMap<(u64, u64), Delivery>,
    next_timer: u64,
    next_attempt: u64,
    /// Live RDMA registrations, by their fabric-wide id.
    rdma: HashMap<u64, data::RdmaReg>,
    next_rdma: u64,
    /// Refused memory accesses (MEM-1).
    mem_violations: u64,
    /// The byte streams of TCP connections, by connection id.
    tcp_streams: HashMap<usize, tcp::TcpStream>,
}

struct HostState {
    name: String,
    interfaces: Vec<IpAddr>,
    configs: Vec<SharedConfig>,
    tcp_listeners: BTreeMap<SocketAddr, tcp::TcpListener>,
    next_port: u16,
}

struct ProviderReg {
    index: usize,
    host: usize,
    config: SharedConfig,
    started: bool,
    listeners: BTreeMap<SocketAddr, ProviderSocket>,
    open_sockets: usize,
    /// Sockets its last `WSPCleanup` found open and closed.
    reset_at_cleanup: usize,
    /// The instance's local registrations and cache (gone once the instance is dropped).
    registry: Weak<Mutex<Registry>>,
}

impl ProviderReg {
    fn cfg(&self) -> MutexGuard<'_, MockConfig> {
        self.config.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn name(&self) -> String {
        self.cfg().name.clone()
    }
}

struct TcpReg {
    host: usize,
    open_sockets: usize,
}

/// A connect result on its way to the connecting socket.
struct Delivery {
    socket: SanKey,
    attempt: u64,
    result: Result<(), WsaError>,
}

struct ConnectionRecord {
    caller: EndRecord,
    callee: EndRecord,
}

struct EndRecord {
    host: usize,
    address: SocketAddr,
    transport: Transport,
    open: bool,
}

impl EndRecord {
    fn info(&self) -> ConnectionEnd {
        ConnectionEnd {
            host: self.host,
            address: self.address,
            transport: self.transport.clone(),
            open: self.open,
        }
    }
}

fn unspecified(v4: bool) -> IpAddr {
    if v4 {
        Ipv4Addr::UNSPECIFIED.into()
    } else {
        Ipv6Addr::UNSPECIFIED.into()
    }
}

impl State {
    fn host_mut(&mut self, host: usize) -> Result<&mut HostState, FabricError> {
        self.hosts
            .get_mut(host)
            .ok_or(FabricError::UnknownHost(host))
    }

    fn check_host(&self, host: usize) -> Result<(), FabricError> {
        if host < self.hosts.len() {
            Ok(())
        } else {
            Err(FabricError::UnknownHost(host))
        }
    }

    /// The hosts owning `ip`, by index.
    fn owners(&self, ip: IpAddr) -> Vec<usize> {
        self.hosts
            .iter()
            .enumerate()
            .filter(|(_, h)| {
                h.interfaces.contains(&ip)
                    || h.configs.iter().any(|c| {
                        c.lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .addresses
                            .contains(&ip)
                    })
            })
            .map(|(i, _)| i)
            .collect()
    }

    /// The address a socket of `host` uses when it is bound to a wildcard: the host's first
    /// interface address of the family, else its first provider address of the family, else
    /// the wildcard itself.
    fn host_ip(&self, host: usize, v4: bool) -> IpAddr {
        let Some(h) = self.hosts.get(host) else {
            return unspecified(v4);
        };
        h.interfaces
            .iter()
            .copied()
            .find(|a| a.is_ipv4() == v4)
            .or_else(|| {
                h.configs.iter().find_map(|c| {
                    c.lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .addresses
                        .iter()
                        .copied()
                        .find(|a| a.is_ipv4() == v4)
                })
            })
            .unwrap_or(unspecified(v4))
    }

    /// The next ephemeral port of `host`.
    fn ephemeral_port(&mut self, host: usize) -> u16 {
        match self.hosts.get_mut(host) {
            Some(h) => {
                let port = FIRST_EPHEMERAL_PORT + h.next_port % 16384;
                h.next_port = h.next_port.wrapping_add(1);
                port
            }
            None => FIRST_EPHEMERAL_PORT,
        }
    }

    fn signal(&mut self, host: usize, event: EventHandle) {
        self.signals.push_back((host, event));
    }

    /// Sets a timer that delivers `result` to `socket`'s connect `attempt` in `delay` ms.
    fn set_timer(
        &mut self,
        delay: u64,
        socket: SanKey,
        attempt: u64,
        result: Result<(), WsaError>,
    ) {
        let due = self.now.saturating_add(delay);
        let seq = self.next_timer;
        self.next_timer += 1;
        self.timers.insert(
            (due, seq),
            Delivery {
                socket,
                attempt,
                result,
            },
        );
    }

    fn add_connection(&mut self, caller: EndRecord, callee: EndRecord) -> usize {
        self.connections.push(ConnectionRecord { caller, callee });
        self.connections.len() - 1
    }

    /// Marks one end of connection `id` closed: the caller's end if `caller`, else the
    /// callee's.
    fn close_end(&mut self, id: usize, caller: bool) {
        if let Some(c) = self.connections.get_mut(id) {
            if caller {
                c.caller.open = false;
            } else {
                c.callee.open = false;
            }
        }
    }
}
