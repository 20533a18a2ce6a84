//! The [`Switch`]: a thin facade that owns the providers, the routing table and the trace, and
//! delegates to the catalog reader, the initialization machine and the routing builder.

use std::net::SocketAddr;
use std::sync::Arc;

use ipnet::IpNet;
use spi_types::address_list::PointerWidth;
use spi_types::{AddressFamily, ConditionResult, Guid, ProtocolInfo, SanExtension};

use crate::catalog::{Catalog, read_catalog};
use crate::connection::{
    ConnectEnv, ConnectPolicy, ConnectStats, ConnectStatus, Connections, ListenOutcome,
    SocketError, SocketId, StoredOption, SwitchEvent, Via,
};
use crate::executor::{CallEnv, Executor};
use crate::id::ProviderId;
use crate::journal::Journal;
use crate::provider::{EventHandle, ExtensionHandle, ProviderLoader, TcpProvider};
use crate::providers::Providers;
pub use crate::providers::SwitchError;
use crate::report::{Diagnostic, RouteReport, SwitchReport};
use crate::routing::{
    ListenDecision, RouteDecision, RoutingTable, SharedRoutes, SocketKind, build,
};
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
}

/// How the switch is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SwitchConfig {
    /// The pointer width of the process the providers run in: decides the layout of the
    /// `SOCKET_ADDRESS_LIST` they answer and the size of an extension entry point.
    pub pointer_width: PointerWidth,
    /// The negative cache and the SAN deadline (both off by default).
    pub connect: ConnectPolicy,
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
            },
            upcalls,
            interfaces: Vec::new(),
            providers: Providers::default(),
            connections: Connections::new(config.connect),
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
        Footprint {
            providers: self.providers.len(),
            sockets,
            watched_events,
            negative_cache,
            deadlines,
            trace_events: self.journal.trace.len(),
            diagnostics: self.journal.diagnostics().len(),
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
