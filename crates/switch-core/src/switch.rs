//! The [`Switch`]: a thin facade that owns the providers, the routing table and the trace, and
//! delegates to the catalog reader, the initialization machine and the routing builder.

use std::net::SocketAddr;
use std::sync::Arc;

use ipnet::IpNet;
use spi_types::address_list::PointerWidth;
use spi_types::{AddressFamily, ConditionResult, Guid, MsgFlags, ProtocolInfo, SanExtension};

use crate::catalog::{Catalog, read_catalog};
use crate::connection::{
    ConnectEnv, ConnectPolicy, ConnectStats, ConnectStatus, Connections, ListenOutcome,
    SocketError, SocketId, StoredOption, SwitchEvent, Via,
};
use crate::executor::{CallEnv, Executor};
use crate::id::ProviderId;
use crate::journal::Journal;
use crate::provider::{EventHandle, ExtensionHandle, ProviderLoader, Shutdown, TcpProvider};
use crate::providers::Providers;
pub use crate::providers::SwitchError;
use crate::report::{Diagnostic, RouteReport, SwitchReport};
use crate::routing::{
    ListenDecision, RouteDecision, RoutingTable, SharedRoutes, SocketKind, build,
};
use crate::session::conn::{Counters as SessionCounters, SendId, SessionConfig};
use crate::trace::TraceEvent;
use crate::upcall::UpcallTable;

/// The sizes of the switch's tables (see [`Switch::footprint`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Footprint {
    /// Provider slots (every provider ever seen, one slot per catalog appearance).
    pub providers: usize,
    /// Open application sockets.
    pub sockets: usize,
    /// Events the switch waits on.
    pub watched_events: usize,
    /// Negative-cache entries (expired ones are purged as the cache grows).
    pub negative_cache: usize,
    /// Pending SAN deadlines.
    pub deadlines: usize,
    /// Trace events not yet taken ([`Switch::take_trace`]).
    pub trace_events: usize,
    /// Diagnostics not yet taken ([`Switch::take_diagnostics`]).
    pub diagnostics: usize,
    /// SAN connections with a session.
    pub sessions: usize,
    /// Bytes the sessions hold: message buffers and cached staging buffers.
    pub session_memory: usize,
}

/// How the switch is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SwitchConfig {
    /// The pointer width of the process the providers run in: decides the layout of the
    /// `SOCKET_ADDRESS_LIST` they answer and the size of an extension entry point.
    pub pointer_width: PointerWidth,
    /// The negative cache and the SAN deadline (both off by default).
    pub connect: ConnectPolicy,
    /// How SAN connections' sessions are set up (on by default).
    pub session: SessionConfig,
    /// Record data-path calls (sends, receives, RDMA, memory registration) in the trace too.
    /// Off by default: the trace then grows with initialization and control calls only, not
    /// with the traffic a long-running process carries.
    pub trace_data: bool,
}

/// The Windows Sockets switch's core: it brings SAN providers up, keeps the subnet-to-provider
/// table, and answers which provider serves a socket.
///
/// Everything the platform does comes in through arguments: the [`Catalog`] to read, the
/// [`ProviderLoader`] that makes providers, the TCP/IP interfaces. The switch makes provider
/// calls on the caller's thread and starts no thread itself.
///
/// ```
/// use switch_core::{Switch, SwitchConfig};
/// use switch_core::catalog::{Catalog, CatalogEntry};
/// use switch_core::provider::{ProviderLoader, SanProvider};
/// use spi_types::{ProtocolInfo, SanRegistration, WsaError};
///
/// // A catalog with the TCP/IP entry only, and no SAN provider registered.
/// struct OnlyTcp;
/// impl Catalog for OnlyTcp {
///     fn entries(&self) -> Vec<CatalogEntry> {
///         vec![CatalogEntry { info: ProtocolInfo::tcpip(1001) }]
///     }
///     fn san_registrations(&self) -> Vec<SanRegistration> { Vec::new() }
///     fn generation(&self) -> u64 { 1 }
/// }
/// struct NoLoader;
/// impl ProviderLoader for NoLoader {
///     fn load(&mut self, _: &CatalogEntry) -> Result<Box<dyn SanProvider>, WsaError> {
///         Err(WsaError::WSAEPROVIDERFAILEDINIT)
///     }
/// }
///
/// let mut switch = Switch::new(SwitchConfig::default());
/// let report = switch.initialize(&OnlyTcp, &mut NoLoader, vec!["10.1.0.5/16".parse().unwrap()]);
/// assert!(report.providers.is_empty());
/// // With no SAN provider every connection goes to TCP.
/// let d = switch.decide_connect("10.1.2.3:80".parse().unwrap(), switch_core::SocketKind::Stream);
/// assert_eq!(d.reason.code(), "no_route");
/// ```
pub struct Switch {
    upcalls: Arc<UpcallTable>,
    env: CallEnv,
    interfaces: Vec<IpNet>,
    providers: Providers,
    connections: Connections,
    routes: Arc<SharedRoutes>,
    journal: Journal,
    catalog_generation: Option<u64>,
    closed: bool,
}

impl std::fmt::Debug for Switch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Switch")
            .field("providers", &self.providers.len())
            .field("routes", &self.routes.load().len())
            .finish_non_exhaustive()
    }
}

impl Switch {
    /// A switch with no provider yet.
    pub fn new(config: SwitchConfig) -> Self {
        let upcalls = Arc::new(UpcallTable::new());
        Switch {
            env: CallEnv {
                tcpip: ProtocolInfo::tcpip(0),
                upcalls: upcalls.clone(),
                width: config.pointer_width,
                trace_data: config.trace_data,
            },
            upcalls,
            interfaces: Vec::new(),
            providers: Providers::default(),
            connections: Connections::new(
                config.connect,
                config.session.enabled.then_some(config.session),
            ),
            routes: Arc::new(SharedRoutes::default()),
            journal: Journal::default(),
            catalog_generation: None,
            closed: false,
        }
    }

    /// Brings the switch up (INIT-1 to INIT-6): reads the catalog (the TCP/IP record first),
    /// initializes every registered SAN provider in catalog order, and builds the routing table
    /// from their addresses and the TCP/IP provider's `interfaces`. One provider's failure never
    /// stops the others; the report says how far each got.
    pub fn initialize(
        &mut self,
        catalog: &dyn Catalog,
        loader: &mut dyn ProviderLoader,
        interfaces: Vec<IpNet>,
    ) -> SwitchReport {
        if self.closed {
            return self.report();
        }
        self.interfaces = interfaces;
        self.sync_catalog(catalog, loader);
        self.rebuild_routes();
        self.report()
    }

    /// Reacts to a catalog change (HOT-1, HOT-3): re-reads the catalog if its generation moved,
    /// initializes newly registered providers, and retires providers that left it. A retiring
    /// provider takes no new connections and is cleaned up when its last connection closes (at
    /// once when it has none); one that comes back while still retiring serves again without a
    /// new initialization. A provider rejected earlier is not retried while its entry stays; a
    /// retired one that comes back is a new provider and is initialized afresh.
    pub fn catalog_changed(
        &mut self,
        catalog: &dyn Catalog,
        loader: &mut dyn ProviderLoader,
    ) -> SwitchReport {
        if !self.closed && self.catalog_generation != Some(catalog.generation()) {
            self.sync_catalog(catalog, loader);
            self.rebuild_routes();
        }
        self.report()
    }

    /// Reacts to an address change (ADDR-1): takes the TCP/IP provider's new interfaces if
    /// given, queries every ready provider's address list again, and replaces the routing table
    /// in one step.
    ///
    /// A provider whose re-query fails keeps running (its connections are unaffected) but
    /// serves no subnet until a later query succeeds; the failure is reported
    /// (`address_requery_failed`). A provider that panics is rejected and cleaned up.
    pub fn address_changed(&mut self, interfaces: Option<Vec<IpNet>>) -> SwitchReport {
        if self.closed {
            return self.report();
        }
        if let Some(i) = interfaces {
            self.interfaces = i;
        }
        let mut exec = Executor {
            env: &self.env,
            journal: &mut self.journal,
        };
        self.providers.requery_ready(&mut exec);
        self.connections.prune(&self.providers);
        self.rebuild_routes();
        self.report()
    }

    /// Creates an application socket of `kind` in `family` on the TCP/IP provider (CONN-1).
    pub fn socket(
        &mut self,
        tcp: &mut dyn TcpProvider,
        family: AddressFamily,
        kind: SocketKind,
    ) -> Result<SocketId, SocketError> {
        if self.closed {
            return Err(SocketError::ShutDown);
        }
        self.connections.socket(tcp, family, kind)
    }

    /// Binds an application socket on the TCP/IP provider (CONN-1); answers the address bound.
    pub fn bind(
        &mut self,
        tcp: &mut dyn TcpProvider,
        socket: SocketId,
        address: SocketAddr,
    ) -> Result<SocketAddr, SocketError> {
        self.connections.bind(tcp, socket, address)
    }

    /// Sets an option on the TCP/IP socket and stores it; a later SAN companion socket gets
    /// the options its provider takes (CONN-1, CONN-2).
    pub fn set_option(
        &mut self,
        tcp: &mut dyn TcpProvider,
        socket: SocketId,
        option: StoredOption,
    ) -> Result<(), SocketError> {
        self.connections.set_option(tcp, socket, option)
    }

    /// The application's connect (ROUTE-1, ROUTE-2, CONN-2 to CONN-5): through the SAN
    /// provider the table names, falling back to TCP/IP as CONN-4 says, or through TCP/IP.
    /// A SAN connect that does not finish at once is [`ConnectStatus::Pending`]; its result
    /// comes out of [`poll`](Self::poll).
    ///
    /// The switch reads no clock: a SAN deadline counts from the time last passed to
    /// [`handle_timeout`](Self::handle_timeout), and the negative cache is judged at that
    /// time. An embedder that turns either on passes the time in before it connects (and
    /// whenever [`poll_timeout`](Self::poll_timeout) asks).
    pub fn connect(
        &mut self,
        tcp: &mut dyn TcpProvider,
        socket: SocketId,
        dest: SocketAddr,
    ) -> Result<ConnectStatus, SocketError> {
        let kind = self.connections.kind(socket)?;
        let decision = if self.closed {
            self.routes
                .load()
                .decide_connect(dest.ip(), kind, |_| false)
        } else {
            self.decide_connect(dest, kind)
        };
        self.with_env(tcp, |c, env| c.connect(env, socket, dest, decision))
    }

    /// Cancels a pending connect (CONN-6): the companion socket is closed; the socket stays
    /// open and unconnected.
    pub fn cancel_connect(
        &mut self,
        tcp: &mut dyn TcpProvider,
        socket: SocketId,
    ) -> Result<(), SocketError> {
        self.with_env(tcp, |c, env| c.cancel(env, socket))
    }

    /// Closes an application socket: its TCP/IP socket and its SAN socket. The last
    /// connection of a retiring provider takes the provider down (HOT-3).
    pub fn close(
        &mut self,
        tcp: &mut dyn TcpProvider,
        socket: SocketId,
    ) -> Result<(), SocketError> {
        // A retiring provider whose last connection this was is taken down; it had no route
        // already, so the table stays as it is.
        self.with_env(tcp, |c, env| c.close(env, socket).map(|_| ()))
    }

    /// The application listens on its bound socket (LISTEN-1, ROUTE-3): TCP/IP listens, and
    /// so does each ready SAN provider ROUTE-3 names (the one owning the bound address, or
    /// every one for the wildcard). `decision` is what the switch's condition function answers
    /// a SAN peer (ACCEPT-1): `ConditionResult::Accept` or `ConditionResult::Reject`.
    /// A provider installed later joins every wildcard listener (HOT-2).
    pub fn listen(
        &mut self,
        tcp: &mut dyn TcpProvider,
        socket: SocketId,
        backlog: i32,
        decision: ConditionResult,
    ) -> Result<ListenOutcome, SocketError> {
        if self.closed {
            return Err(SocketError::ShutDown);
        }
        let address = self.connections.local(socket)?;
        let route = self.decide_listen(
            address.unwrap_or_else(|| SocketAddr::new(std::net::Ipv4Addr::UNSPECIFIED.into(), 0)),
        );
        self.with_env(tcp, |c, env| {
            c.listen(env, socket, backlog, decision, route)
        })
    }

    /// The SAN providers a listening socket listens on (besides TCP/IP).
    pub fn listening_on(&self, listener: SocketId) -> Vec<ProviderId> {
        self.connections.listening_on(listener)
    }

    /// Takes the next SAN connection a listening socket accepted (announced by
    /// [`SwitchEvent::Accepted`]); `None` when there is none.
    pub fn accept(&mut self, listener: SocketId) -> Result<Option<SocketId>, SocketError> {
        self.connections.accept(listener)
    }

    /// The platform reports that `event` (one the switch asked it to watch) is signalled.
    pub fn handle_event(&mut self, tcp: &mut dyn TcpProvider, event: EventHandle) {
        self.with_env(tcp, |c, env| c.handle_event(env, event))
    }

    /// Time moves on to `now` (the platform's monotonic clock, from any fixed start; the
    /// switch reads no clock): SAN connects past their deadline go to TCP.
    pub fn handle_timeout(&mut self, tcp: &mut dyn TcpProvider, now: std::time::Duration) {
        self.with_env(tcp, |c, env| c.handle_timeout(env, now))
    }

    /// When the switch next wants [`handle_timeout`](Self::handle_timeout), if ever.
    pub fn poll_timeout(&self) -> Option<std::time::Duration> {
        self.connections.poll_timeout()
    }

    /// How much the switch holds now, table by table: what a long-running embedder watches
    /// to see that nothing grows without bound.
    pub fn footprint(&self) -> Footprint {
        let (sockets, watched_events, negative_cache, deadlines) = self.connections.footprint();
        let (sessions, session_memory) = self.connections.session_footprint();
        Footprint {
            providers: self.providers.len(),
            sockets,
            watched_events,
            negative_cache,
            deadlines,
            trace_events: self.journal.trace.len(),
            diagnostics: self.journal.diagnostics().len(),
            sessions,
            session_memory,
        }
    }

    /// Counters of finished connects per reason and outcome.
    pub fn connect_stats(&self) -> &ConnectStats {
        self.connections.stats()
    }

    /// The next thing the switch tells the platform: events to watch or release, connects
    /// that finished.
    pub fn poll(&mut self) -> Option<SwitchEvent> {
        self.connections.poll()
    }

    /// Where a connected socket's connection goes: the provider carrying it, the remote and
    /// the local address.
    pub fn connection(&self, socket: SocketId) -> Option<(Via, SocketAddr, Option<SocketAddr>)> {
        self.connections.connection(socket)
    }

    /// The application sends `data` on a connected socket, the same call on a SAN connection
    /// and on TCP/IP (`MsgFlags::OOB` sends urgent data, SESS-4). On a SAN connection small
    /// sends travel inline in the session's messages and large ones by RDMA (SESS-2). The
    /// send's end comes out of [`poll`](Self::poll) as [`SwitchEvent::Sent`] with the id
    /// answered here, with the path it took.
    ///
    /// Two hosts on the mock fabric, each with its switch: alpha connects to beta over the
    /// SAN, the sessions negotiate, and 100 KiB go from alpha's application to beta's by RDMA.
    ///
    /// ```
    /// use mock_provider::{Fabric, MockCatalog, MockConfig, MockLoader, MockTcp};
    /// use spi_types::{AddressFamily, ConditionResult, MsgFlags, WsaError};
    /// use switch_core::connection::SwitchEvent;
    /// use switch_core::routing::SocketKind;
    /// use switch_core::session::conn::DataPath;
    /// use switch_core::{Switch, SwitchConfig};
    ///
    /// let fabric = Fabric::new();
    /// let mut hosts: Vec<(Switch, MockTcp)> = Vec::new();
    /// for (i, ip) in ["10.1.0.1", "10.1.0.2"].iter().enumerate() {
    ///     fabric.add_host(&format!("h{i}"), [format!("10.0.0.{}", i + 1).parse().unwrap()]);
    ///     let ib = MockConfig::generic("ib").with_addresses([ip.parse().unwrap()]);
    ///     let mut catalog = MockCatalog::with_tcpip();
    ///     catalog.install_mock(&ib);
    ///     let mut loader = MockLoader::new();
    ///     loader.add(ib);
    ///     loader.attach(&fabric, i).unwrap();
    ///     let mut switch = Switch::new(SwitchConfig::default());
    ///     switch.initialize(&catalog, &mut loader, vec!["10.1.0.0/16".parse().unwrap()]);
    ///     hosts.push((switch, MockTcp::attached(&fabric, i).unwrap()));
    /// }
    /// // What a platform does: deliver signalled events and provider completions.
    /// let settle = |hosts: &mut Vec<(Switch, MockTcp)>| loop {
    ///     let mut moved = false;
    ///     while let Some((i, event)) = fabric.next_signal() {
    ///         let (s, tcp) = &mut hosts[i];
    ///         s.handle_event(tcp, event);
    ///         moved = true;
    ///     }
    ///     for (s, tcp) in hosts.iter_mut() {
    ///         moved |= s.handle_completions(tcp) > 0;
    ///     }
    ///     if !moved {
    ///         break;
    ///     }
    /// };
    /// let (beta, tcp) = &mut hosts[1];
    /// let l = beta.socket(tcp, AddressFamily::INET, SocketKind::Stream).unwrap();
    /// beta.bind(tcp, l, "10.1.0.2:7000".parse().unwrap()).unwrap();
    /// beta.listen(tcp, l, 8, ConditionResult::Accept).unwrap();
    /// let (alpha, tcp) = &mut hosts[0];
    /// let a = alpha.socket(tcp, AddressFamily::INET, SocketKind::Stream).unwrap();
    /// alpha.connect(tcp, a, "10.1.0.2:7000".parse().unwrap()).unwrap();
    /// settle(&mut hosts);
    /// let b = hosts[1].0.accept(l).unwrap().expect("negotiated and accepted");
    ///
    /// let (alpha, tcp) = &mut hosts[0];
    /// let send = alpha.send(tcp, a, vec![42; 100 << 10], MsgFlags::empty()).unwrap();
    /// settle(&mut hosts);
    /// let report = std::iter::from_fn(|| hosts[0].0.poll())
    ///     .find_map(|e| match e {
    ///         SwitchEvent::Sent { send: s, result, .. } if s == send => Some(result),
    ///         _ => None,
    ///     })
    ///     .unwrap()
    ///     .unwrap();
    /// assert_eq!(report.path, DataPath::RdmaRead);
    ///
    /// let (beta, tcp) = &mut hosts[1];
    /// let mut buf = vec![0; 200 << 10];
    /// let n = beta.recv(tcp, b, &mut buf, MsgFlags::empty()).unwrap();
    /// assert_eq!(n, 100 << 10);
    /// assert!(buf[..n].iter().all(|&x| x == 42));
    /// let nothing = beta.recv(tcp, b, &mut buf, MsgFlags::empty()).unwrap_err();
    /// assert_eq!(nothing.wsa(), Some(WsaError::WSAEWOULDBLOCK));
    /// ```
    pub fn send(
        &mut self,
        tcp: &mut dyn TcpProvider,
        socket: SocketId,
        data: Vec<u8>,
        flags: MsgFlags,
    ) -> Result<SendId, SocketError> {
        self.with_env(tcp, |c, env| c.send(env, socket, data, flags))
    }

    /// The application receives into `buf` (`MsgFlags::OOB`: the urgent byte): the bytes
    /// received, 0 at the end of the stream. Nothing there yet is an error whose
    /// [`wsa`](SocketError::wsa) is `WSAEWOULDBLOCK`; [`SwitchEvent::Readable`] says when to
    /// try again on a SAN connection.
    pub fn recv(
        &mut self,
        tcp: &mut dyn TcpProvider,
        socket: SocketId,
        buf: &mut [u8],
        flags: MsgFlags,
    ) -> Result<usize, SocketError> {
        self.with_env(tcp, |c, env| c.recv(env, socket, buf, flags))
    }

    /// Takes the next piece of what arrived on `socket` whole, as a vector: on a SAN
    /// connection a large transfer comes in the memory it was received into, without the copy
    /// [`recv`](Self::recv) makes (pair it with [`provide_buffer`](Self::provide_buffer) to
    /// hand the memory back for the next transfer). An empty vector is the end of the stream;
    /// nothing there yet is `WSAEWOULDBLOCK` in the error.
    pub fn recv_buffer(
        &mut self,
        tcp: &mut dyn TcpProvider,
        socket: SocketId,
    ) -> Result<Vec<u8>, SocketError> {
        self.with_env(tcp, |c, env| c.recv_buffer(env, socket))
    }

    /// Takes back the memory of finished sends on `socket`, to send from again instead of
    /// allocating: the sending half of the provided-buffer model. A large send's memory was
    /// registered for the transfer; it is released and every provider's cache told (MEM-2)
    /// before it is handed back. The last `SessionConfig::cached_buffers` sends are kept.
    pub fn reclaim_buffers(
        &mut self,
        tcp: &mut dyn TcpProvider,
        socket: SocketId,
    ) -> Result<Vec<Vec<u8>>, SocketError> {
        self.with_env(tcp, |c, env| c.reclaim(env, socket))
    }

    /// Offers memory for the next transfers `socket` receives, so they land in it and
    /// [`recv_buffer`](Self::recv_buffer) hands it back without a copy: the provided-buffer
    /// model of high-throughput receivers. Kept while the connection's cache has room
    /// (`SessionConfig::cached_buffers`), let go otherwise.
    pub fn provide_buffer(&mut self, socket: SocketId, buffer: Vec<u8>) -> Result<(), SocketError> {
        self.connections.provide_buffer(socket, buffer)
    }

    /// Shuts a connection down for sending, receiving or both (SESS-6: on a SAN connection in
    /// the switch's own protocol, never forwarded to the provider).
    pub fn shutdown_socket(
        &mut self,
        tcp: &mut dyn TcpProvider,
        socket: SocketId,
        how: Shutdown,
    ) -> Result<(), SocketError> {
        self.with_env(tcp, |c, env| c.shutdown(env, socket, how))
    }

    /// Takes the completions providers posted through `WPUCompleteOverlappedRequest` and, for
    /// sessions that poll, asks the providers with `WSPGetOverlappedResult` (SESS-5); moves
    /// every session on until nothing more completes. The platform calls it when a provider
    /// completed something (the up-call table's [`pending`](UpcallTable::pending) says so)
    /// and, when sessions poll, whenever it wants them to make progress. Answers how many
    /// completions it handled.
    pub fn handle_completions(&mut self, tcp: &mut dyn TcpProvider) -> usize {
        let mut total = 0;
        loop {
            let completions = self.upcalls.take_completions();
            let n = self.with_env(tcp, |c, mut env| {
                c.complete(env.reborrow(), completions) + c.poll_sessions(env)
            });
            if n == 0 {
                return total;
            }
            total += n;
        }
    }

    /// What a connection has moved: bytes sent and received by the application.
    pub fn bytes(&self, socket: SocketId) -> Option<(u64, u64)> {
        self.connections.bytes(socket)
    }

    /// A SAN connection's session counters: bytes, control messages, RDMA operations.
    pub fn session_counters(&self, socket: SocketId) -> Option<SessionCounters> {
        self.connections.session_counters(socket)
    }

    /// Cleans up every started provider that is not cleaned up yet (CLOSE-2): closes its query
    /// socket and calls `WSPCleanup` once. Shutting down is final: afterwards
    /// [`initialize`](Self::initialize), [`catalog_changed`](Self::catalog_changed) and
    /// [`address_changed`](Self::address_changed) change nothing and every connect goes to TCP.
    /// Dropping a switch shuts it down.
    pub fn shutdown(&mut self) -> SwitchReport {
        self.closed = true;
        let mut exec = Executor {
            env: &self.env,
            journal: &mut self.journal,
        };
        for p in self.providers.ready_ids() {
            self.connections
                .close_listeners_of(&mut self.providers, &mut exec, p);
        }
        self.connections
            .abandon_attempts(&mut self.providers, &mut exec);
        self.connections
            .close_sessions(&mut self.providers, &mut exec);
        self.providers.shutdown(&mut exec);
        self.connections.prune(&self.providers);
        self.rebuild_routes();
        self.report()
    }

    /// Where a connect to `dest` goes (ROUTE-1, ROUTE-2, and the negative cache when it is
    /// on), with its reason: the decision [`connect`](Self::connect) acts on.
    pub fn decide_connect(&self, dest: SocketAddr, kind: SocketKind) -> RouteDecision {
        let d = self
            .routes
            .load()
            .decide_connect(dest.ip(), kind, |p| self.providers.is_ready(p));
        self.connections.filter(d, dest.ip())
    }

    /// Which SAN providers listen besides TCP for a socket bound to `addr` (ROUTE-3).
    pub fn decide_listen(&self, addr: SocketAddr) -> ListenDecision {
        self.routes
            .load()
            .decide_listen(addr.ip(), &self.providers.ready_ids())
    }

    /// The routing table as published now.
    pub fn routes(&self) -> Arc<RoutingTable> {
        self.routes.snapshot()
    }

    /// A handle readers on other threads can load the current table from; it follows every
    /// replacement. Every provider in a published table is ready (the table is rebuilt whenever
    /// one stops being ready), so such a reader can decide with
    /// `table.decide_connect(dest, kind, |_| true)` and get the switch's answer.
    pub fn shared_routes(&self) -> Arc<SharedRoutes> {
        self.routes.clone()
    }

    /// The switch's up-call table (the one handed to every provider).
    pub fn upcalls(&self) -> Arc<UpcallTable> {
        self.upcalls.clone()
    }

    /// The entry point a provider returned for `extension`, if the provider is ready (or
    /// retiring, still carrying connections) and has it. A rejected or cleaned-up provider has
    /// none.
    pub fn extension(
        &self,
        provider: ProviderId,
        extension: SanExtension,
    ) -> Option<ExtensionHandle> {
        self.providers.extension(provider, extension)
    }

    /// The provider with this GUID, if the switch has seen it (its newest slot, when it left
    /// the catalog and came back).
    pub fn provider_by_guid(&self, guid: Guid) -> Option<ProviderId> {
        self.providers.by_guid(guid)
    }

    /// The TCP/IP record passed to `WSPStartupEx`.
    pub fn tcpip_record(&self) -> &ProtocolInfo {
        &self.env.tcpip
    }

    /// Every provider call made so far (since the last [`take_trace`](Self::take_trace)), in
    /// order.
    pub fn trace(&self) -> &[TraceEvent] {
        &self.journal.trace
    }

    /// Takes the trace recorded so far, leaving it empty (for a long-running embedder that
    /// forwards events elsewhere; they are also emitted as `tracing` events).
    pub fn take_trace(&mut self) -> Vec<TraceEvent> {
        std::mem::take(&mut self.journal.trace)
    }

    /// Takes the diagnostics recorded so far, leaving them empty. A diagnostic noticed again
    /// later (a host route still there at the next address change) is recorded again.
    pub fn take_diagnostics(&mut self) -> Vec<Diagnostic> {
        self.journal.take_diagnostics()
    }

    /// The switch's state now.
    pub fn report(&self) -> SwitchReport {
        SwitchReport {
            providers: self.providers.reports(),
            routes: self
                .routes
                .load()
                .routes()
                .map(|r| RouteReport {
                    subnet: r.subnet,
                    provider: r.provider,
                })
                .collect(),
            diagnostics: self.journal.diagnostics().cloned().collect(),
        }
    }

    /// Runs `f` on the connections with everything a provider call needs.
    fn with_env<R>(
        &mut self,
        tcp: &mut dyn TcpProvider,
        f: impl FnOnce(&mut Connections, ConnectEnv<'_, '_>) -> R,
    ) -> R {
        let mut exec = Executor {
            env: &self.env,
            journal: &mut self.journal,
        };
        let env = ConnectEnv {
            tcp,
            providers: &mut self.providers,
            exec: &mut exec,
        };
        f(&mut self.connections, env)
    }

    fn sync_catalog(&mut self, catalog: &dyn Catalog, loader: &mut dyn ProviderLoader) {
        self.catalog_generation = Some(catalog.generation());
        let mut view = read_catalog(catalog);
        match view.tcpip.take() {
            Some(t) => self.env.tcpip = t,
            None => self.journal.note(Diagnostic::TcpipEntryMissing),
        }
        self.journal.note_all(std::mem::take(&mut view.diagnostics));
        let mut exec = Executor {
            env: &self.env,
            journal: &mut self.journal,
        };
        // HOT-3: a provider that leaves stops listening before it retires.
        for p in self.providers.leaving(&view) {
            self.connections
                .close_listeners_of(&mut self.providers, &mut exec, p);
        }
        let before: std::collections::HashSet<ProviderId> =
            self.providers.ready_ids().into_iter().collect();
        self.providers.sync(view, loader, &mut exec);
        self.connections.prune(&self.providers);
        // HOT-2: a provider that became ready joins every wildcard listener.
        for p in self.providers.ready_ids() {
            if !before.contains(&p) {
                self.connections
                    .join_listeners(&mut self.providers, &mut exec, p);
            }
        }
    }

    fn rebuild_routes(&mut self) {
        let out = build(&self.interfaces, &self.providers.route_inputs());
        self.journal
            .note_all(out.diagnostics.into_iter().map(Diagnostic::Route));
        self.routes.replace(out.table);
    }
}

impl Drop for Switch {
    /// Cleans up every started provider that is not cleaned up yet (CLOSE-2), so each is
    /// cleaned up exactly once even when the embedder forgets [`Switch::shutdown`].
    fn drop(&mut self) {
        if !self.closed {
            self.shutdown();
        }
    }
}
