//! The [`Switch`]: a thin facade that owns the providers, the routing table and the trace, and
//! delegates to the catalog reader, the initialization machine and the routing builder.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;
use spi_types::address_list::PointerWidth;
use spi_types::{Guid, ProtocolInfo, SanExtension, WsaError, WspData};

use crate::address::{Requery, requery};
use crate::catalog::{Catalog, CatalogEntry, read_catalog};
use crate::driver::{CallContext, close_and_cleanup, guarded, perform};
use crate::id::ProviderId;
use crate::provider::{ExtensionHandle, ProviderLoader, ProviderSocket, SanProvider, Upcalls};
use crate::report::{
    Diagnostic, ExtensionSet, ProviderReport, ProviderState, RejectCause, Rejection, RouteReport,
    SwitchReport,
};
use crate::routing::{
    ListenDecision, RouteDecision, RouteInput, RoutingTable, SharedRoutes, SocketKind, build,
};
use crate::startup::InitMachine;
use crate::trace::{Call, CallArgs, CallResult, TraceEvent};
use crate::upcall::UpcallTable;

/// How the switch is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SwitchConfig {
    /// The pointer width of the process the providers run in: decides the layout of the
    /// `SOCKET_ADDRESS_LIST` they answer and the size of an extension entry point.
    pub pointer_width: PointerWidth,
}

/// A provider the switch has seen, with everything it learned about it.
struct Slot {
    id: ProviderId,
    entry: CatalogEntry,
    state: ProviderState,
    instance: Option<Box<dyn SanProvider>>,
    socket: Option<ProviderSocket>,
    data: Option<WspData>,
    extensions: ExtensionSet,
    handles: [Option<ExtensionHandle>; 7],
    addresses: Vec<IpAddr>,
    rejection: Option<Rejection>,
    started: bool,
    cleaned_up: bool,
    connections: usize,
}

impl Slot {
    fn new(id: ProviderId, entry: CatalogEntry, state: ProviderState) -> Self {
        Slot {
            id,
            entry,
            state,
            instance: None,
            socket: None,
            data: None,
            extensions: ExtensionSet::default(),
            handles: [None; 7],
            addresses: Vec::new(),
            rejection: None,
            started: false,
            cleaned_up: false,
            connections: 0,
        }
    }

    fn name(&self) -> &str {
        self.entry.name()
    }

    fn report(&self) -> ProviderReport {
        ProviderReport {
            id: self.id,
            name: self.name().to_owned(),
            guid: self.entry.guid(),
            state: self.state,
            reason: self.rejection.clone(),
            version: self.data.as_ref().map(|d| d.version),
            high_version: self.data.as_ref().map(|d| d.high_version),
            description: self.data.as_ref().map(|d| d.description.clone()),
            extensions: self.extensions,
            addresses: self.addresses.clone(),
            connections: self.connections,
            cleaned_up: self.cleaned_up,
        }
    }
}

/// The switch errors a caller can meet outside initialization (which reports instead of
/// failing).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SwitchError {
    /// No provider has this id.
    #[error("{0} is not a provider of this switch")]
    UnknownProvider(ProviderId),
    /// The provider cannot take a new connection in its state.
    #[error("provider `{name}` is {state} and takes no new connections")]
    NotReady {
        /// The provider's name.
        name: String,
        /// Its state.
        state: ProviderState,
    },
    /// A connection was closed on a provider that has none open.
    #[error("provider `{0}` has no open connection to close")]
    NoConnection(String),
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
    config: SwitchConfig,
    upcalls: Arc<UpcallTable>,
    tcpip: ProtocolInfo,
    interfaces: Vec<IpNet>,
    slots: Vec<Slot>,
    routes: Arc<SharedRoutes>,
    diagnostics: Vec<Diagnostic>,
    trace: Vec<TraceEvent>,
    catalog_generation: Option<u64>,
    closed: bool,
}

impl std::fmt::Debug for Switch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Switch")
            .field("providers", &self.slots.len())
            .field("routes", &self.routes.load().len())
            .finish_non_exhaustive()
    }
}

impl Switch {
    /// A switch with no provider yet.
    pub fn new(config: SwitchConfig) -> Self {
        Switch {
            config,
            upcalls: Arc::new(UpcallTable::new()),
            tcpip: ProtocolInfo::tcpip(0),
            interfaces: Vec::new(),
            slots: Vec::new(),
            routes: Arc::new(SharedRoutes::default()),
            diagnostics: Vec::new(),
            trace: Vec::new(),
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
        for idx in 0..self.slots.len() {
            if self.slots[idx].state == ProviderState::Ready {
                self.requery(idx);
            }
        }
        self.rebuild_routes();
        self.report()
    }

    /// Records a new SAN connection on `provider` (it must be ready).
    pub fn connection_opened(&mut self, provider: ProviderId) -> Result<(), SwitchError> {
        let slot = self.slot_mut(provider)?;
        if slot.state != ProviderState::Ready {
            return Err(SwitchError::NotReady {
                name: slot.name().to_owned(),
                state: slot.state,
            });
        }
        slot.connections += 1;
        Ok(())
    }

    /// Records that a SAN connection on `provider` closed; a retiring provider whose last
    /// connection this was is cleaned up now (HOT-3).
    pub fn connection_closed(&mut self, provider: ProviderId) -> Result<(), SwitchError> {
        let slot = self.slot_mut(provider)?;
        if slot.connections == 0 {
            return Err(SwitchError::NoConnection(slot.name().to_owned()));
        }
        slot.connections -= 1;
        if slot.connections == 0 && slot.state == ProviderState::Retiring {
            let idx = provider.0 as usize;
            self.shut_provider(idx);
            self.slots[idx].state = ProviderState::Retired;
        }
        Ok(())
    }

    /// Cleans up every started provider that is not cleaned up yet (CLOSE-2): closes its query
    /// socket and calls `WSPCleanup` once. Shutting down is final: afterwards
    /// [`initialize`](Self::initialize), [`catalog_changed`](Self::catalog_changed) and
    /// [`address_changed`](Self::address_changed) change nothing and every connect goes to TCP.
    /// Dropping a switch shuts it down.
    pub fn shutdown(&mut self) -> SwitchReport {
        self.closed = true;
        for idx in 0..self.slots.len() {
            let s = &self.slots[idx];
            if s.started && !s.cleaned_up {
                self.shut_provider(idx);
                let s = &mut self.slots[idx];
                if s.state == ProviderState::Ready || s.state == ProviderState::Retiring {
                    s.state = ProviderState::Retired;
                }
            }
        }
        self.rebuild_routes();
        self.report()
    }

    /// Where a connect to `dest` goes (ROUTE-1, ROUTE-2), with its reason.
    pub fn decide_connect(&self, dest: SocketAddr, kind: SocketKind) -> RouteDecision {
        self.routes
            .load()
            .decide_connect(dest.ip(), kind, |p| self.is_ready(p))
    }

    /// Which SAN providers listen besides TCP for a socket bound to `addr` (ROUTE-3).
    pub fn decide_listen(&self, addr: SocketAddr) -> ListenDecision {
        let ready: Vec<ProviderId> = self
            .slots
            .iter()
            .filter(|s| s.state == ProviderState::Ready)
            .map(|s| s.id)
            .collect();
        self.routes.load().decide_listen(addr.ip(), &ready)
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
        let slot = self.slots.get(provider.0 as usize)?;
        if !matches!(slot.state, ProviderState::Ready | ProviderState::Retiring) {
            return None;
        }
        let i = SanExtension::ALL.iter().position(|e| *e == extension)?;
        slot.handles[i]
    }

    /// The provider with this GUID, if the switch has seen it.
    pub fn provider_by_guid(&self, guid: Guid) -> Option<ProviderId> {
        self.slots
            .iter()
            .rev()
            .find(|s| s.entry.guid() == guid)
            .map(|s| s.id)
    }

    /// The TCP/IP record passed to `WSPStartupEx`.
    pub fn tcpip_record(&self) -> &ProtocolInfo {
        &self.tcpip
    }

    /// Every provider call made so far (since the last [`take_trace`](Self::take_trace)), in
    /// order.
    pub fn trace(&self) -> &[TraceEvent] {
        &self.trace
    }

    /// Takes the trace recorded so far, leaving it empty (for a long-running embedder that
    /// forwards events elsewhere; they are also emitted as `tracing` events).
    pub fn take_trace(&mut self) -> Vec<TraceEvent> {
        std::mem::take(&mut self.trace)
    }

    /// Takes the diagnostics recorded so far, leaving them empty.
    pub fn take_diagnostics(&mut self) -> Vec<Diagnostic> {
        std::mem::take(&mut self.diagnostics)
    }

    /// The switch's state now.
    pub fn report(&self) -> SwitchReport {
        SwitchReport {
            providers: self.slots.iter().map(Slot::report).collect(),
            routes: self
                .routes
                .load()
                .routes()
                .map(|r| RouteReport {
                    subnet: r.subnet,
                    provider: r.provider,
                })
                .collect(),
            diagnostics: self.diagnostics.clone(),
        }
    }

    fn is_ready(&self, p: ProviderId) -> bool {
        self.slots
            .get(p.0 as usize)
            .is_some_and(|s| s.state == ProviderState::Ready)
    }

    fn slot_mut(&mut self, p: ProviderId) -> Result<&mut Slot, SwitchError> {
        self.slots
            .get_mut(p.0 as usize)
            .ok_or(SwitchError::UnknownProvider(p))
    }

    fn next_id(&self) -> ProviderId {
        ProviderId(self.slots.len() as u32)
    }

    fn sync_catalog(&mut self, catalog: &dyn Catalog, loader: &mut dyn ProviderLoader) {
        self.catalog_generation = Some(catalog.generation());
        let view = read_catalog(catalog);
        match view.tcpip {
            Some(t) => self.tcpip = t,
            None => self.note(Diagnostic::TcpipEntryMissing),
        }
        for d in view.diagnostics {
            self.note(d);
        }

        // HOT-3: providers that left the catalog (or the registration list).
        for idx in 0..self.slots.len() {
            let guid = self.slots[idx].entry.guid();
            let still_san = view.san.iter().any(|d| d.entry.guid() == guid);
            let still_ignored = view.ignored.iter().any(|e| e.guid() == guid);
            match self.slots[idx].state {
                ProviderState::Ready if !still_san => self.retire(idx),
                // A rejected provider that leaves is done with; if it comes back it is a new
                // provider and is initialized afresh.
                ProviderState::Rejected if !still_san => {
                    self.slots[idx].state = ProviderState::Retired;
                }
                ProviderState::Ignored if !still_ignored && !still_san => {
                    self.slots[idx].state = ProviderState::Retired;
                }
                _ => {}
            }
        }

        // INIT / HOT-1: registered providers not running yet, in catalog order.
        for detected in view.san {
            match self.live_slot(detected.entry.guid()) {
                Some(idx) if self.slots[idx].state == ProviderState::Ignored => {
                    self.slots[idx].entry = detected.entry;
                    self.init_provider(idx, loader);
                }
                // Back before its last connection closed: it never stopped, so it serves again,
                // with its addresses asked for anew.
                Some(idx) if self.slots[idx].state == ProviderState::Retiring => {
                    self.slots[idx].state = ProviderState::Ready;
                    self.requery(idx);
                }
                Some(_) => {}
                None => {
                    let id = self.next_id();
                    self.slots
                        .push(Slot::new(id, detected.entry, ProviderState::Initializing));
                    self.init_provider(id.0 as usize, loader);
                }
            }
        }
        for entry in view.ignored {
            if self.live_slot(entry.guid()).is_none() {
                let id = self.next_id();
                self.slots
                    .push(Slot::new(id, entry, ProviderState::Ignored));
            }
        }
    }

    /// The slot of `guid` that is not retired: there is at most one.
    fn live_slot(&self, guid: Guid) -> Option<usize> {
        self.slots
            .iter()
            .rposition(|s| s.entry.guid() == guid && s.state != ProviderState::Retired)
    }

    fn init_provider(&mut self, idx: usize, loader: &mut dyn ProviderLoader) {
        let slot = &mut self.slots[idx];
        slot.state = ProviderState::Initializing;
        let name = slot.name().to_owned();
        let loaded = match guarded(|| loader.load(&slot.entry)) {
            Ok(r) => r.map_err(RejectCause::LoadFailed),
            Err(msg) => Err(RejectCause::Panicked(msg)),
        };
        let mut instance = match loaded {
            Ok(i) => i,
            Err(cause) => {
                slot.state = ProviderState::Rejected;
                slot.rejection = Some(Rejection {
                    provider: name,
                    step: Call::StartupEx,
                    cause,
                });
                return;
            }
        };
        let mut machine = InitMachine::new(
            slot.id,
            &name,
            self.tcpip.provider_id,
            self.config.pointer_width,
        );
        let upcalls: Arc<dyn Upcalls> = self.upcalls.clone();
        let ctx = CallContext {
            tcpip: &self.tcpip,
            upcalls,
            width: self.config.pointer_width,
        };
        while let Some(answer) = perform(instance.as_mut(), machine.next_call(), &ctx) {
            if let Some(ev) = machine.advance(answer) {
                self.trace.push(ev);
            }
        }
        let out = machine.finish();
        for d in out.diagnostics {
            self.note(d);
        }
        let slot = &mut self.slots[idx];
        slot.started = out.started;
        slot.cleaned_up = out.cleaned_up;
        slot.data = out.data;
        slot.extensions = out.extensions;
        slot.handles = out.handles;
        slot.addresses = out.addresses;
        slot.socket = out.socket;
        slot.rejection = out.rejection;
        slot.state = if out.ready {
            ProviderState::Ready
        } else {
            ProviderState::Rejected
        };
        // A rejected provider was cleaned up (if it had started) and is dropped.
        slot.instance = out.ready.then_some(instance);
    }

    fn retire(&mut self, idx: usize) {
        if self.slots[idx].connections == 0 {
            self.shut_provider(idx);
            self.slots[idx].state = ProviderState::Retired;
        } else {
            self.slots[idx].state = ProviderState::Retiring;
        }
    }

    /// Closes the query socket and calls `WSPCleanup` once, tracing both.
    fn shut_provider(&mut self, idx: usize) {
        let slot = &mut self.slots[idx];
        if slot.cleaned_up || !slot.started {
            return;
        }
        let Some(instance) = slot.instance.as_mut() else {
            return;
        };
        let socket = slot.socket.take();
        let (closed, cleaned) = close_and_cleanup(instance.as_mut(), socket);
        slot.cleaned_up = true;
        slot.instance = None;
        slot.handles = [None; 7];
        let (id, name) = (slot.id, slot.name().to_owned());
        let to_result = |r: &Result<(), Option<WsaError>>| match r {
            Ok(()) => CallResult::Ok,
            Err(Some(e)) => CallResult::Error(*e),
            Err(None) => CallResult::Panic,
        };
        if let Some(c) = &closed {
            self.push_trace(id, &name, Call::CloseSocket, to_result(c), CallArgs::None);
        }
        self.push_trace(
            id,
            &name,
            Call::Cleanup,
            to_result(&cleaned),
            CallArgs::None,
        );
        if let Err(Some(error)) = cleaned {
            self.note(Diagnostic::CleanupFailed {
                provider: name,
                error,
            });
        }
    }

    fn push_trace(
        &mut self,
        id: ProviderId,
        name: &str,
        call: Call,
        result: CallResult,
        args: CallArgs,
    ) {
        let ev = TraceEvent {
            provider: id,
            provider_name: name.to_owned(),
            call,
            result,
            args,
        };
        ev.emit();
        self.trace.push(ev);
    }

    fn requery(&mut self, idx: usize) {
        let width = self.config.pointer_width;
        let slot = &mut self.slots[idx];
        let (id, name) = (slot.id, slot.name().to_owned());
        let (Some(instance), Some(socket)) = (slot.instance.as_mut(), slot.socket) else {
            return;
        };
        let Requery { events, outcome } = requery(instance.as_mut(), socket, width);
        for (result, args) in events {
            self.push_trace(id, &name, Call::AddressListQuery, result, args);
        }
        let slot = &mut self.slots[idx];
        match outcome {
            Ok(list) => slot.addresses = list,
            Err(cause @ RejectCause::Panicked(_)) => {
                slot.rejection = Some(Rejection {
                    provider: name,
                    step: Call::AddressListQuery,
                    cause,
                });
                slot.addresses.clear();
                self.shut_provider(idx);
                self.slots[idx].state = ProviderState::Rejected;
            }
            Err(cause) => {
                slot.addresses.clear();
                self.note(Diagnostic::AddressRequeryFailed {
                    provider: name,
                    cause,
                });
            }
        }
    }

    /// Records a diagnostic unless the same one was recorded already.
    fn note(&mut self, d: Diagnostic) {
        if !self.diagnostics.contains(&d) {
            self.diagnostics.push(d);
        }
    }

    fn rebuild_routes(&mut self) {
        let inputs: Vec<RouteInput<'_>> = self
            .slots
            .iter()
            .filter(|s| s.state == ProviderState::Ready)
            .map(|s| RouteInput {
                provider: s.id,
                addresses: &s.addresses,
            })
            .collect();
        let out = build(&self.interfaces, &inputs);
        for d in out.diagnostics {
            self.note(Diagnostic::Route(d));
        }
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
