//! The runner: builds each host (mock catalog, mock loader, switch), runs the steps in order,
//! and fills a [`Report`].
//!
//! # Decisions
//!
//! - One [`Switch`] per host, initialized in host order with the host's `interfaces`; the
//!   catalog holds the TCP/IP entry, then the installed providers in file order, then the
//!   host's extra registration values. A provider with `installed = false` is known to the
//!   loader only; an `install` step adds its entry (and registration) and signals a catalog
//!   change.
//! - `install` of a provider already in the catalog answers `"error:already_installed"` and
//!   does nothing; `remove` of one not in it `"error:not_installed"`.
//! - `explain` asks [`Switch::decide_connect`]; `from` does not change the decision (the
//!   switch decides on the destination only) and is shown in the step's target.
//! - The report shows the hosts as they are after the last step; the switch is not shut
//!   down, so ready providers stay `ready` (a `remove` step shows `WSPCleanup`).
//! - `trace[]` is in time order: each host's initialization, then each step's calls, each
//!   event carrying the index of its step (`step`, null during initialization).
//! - Provider ids of the library are replaced by provider names everywhere, route
//!   diagnostics' details included.
//! - `providers[].version` is the version the switch accepted ([`REQUIRED_VERSION`], 2.2) or
//!   null; `answered_version` is what the provider answered in WSPDATA, accepted or not
//!   (null when its `WSPStartupEx` never succeeded).
//! - `summary.connects`/`reasons` count connect steps only; explain steps (decisions, not
//!   connections) count in `summary.explains`/`explain_reasons`. `summary.per_host` (ours)
//!   holds the same counts per host; `hosts` (ours) lists every host, in file order.
//! - Each host's switch records the data path's calls in the trace too
//!   (`SwitchConfig::trace_data`), and posts `receive_buffers` receives per SAN connection
//!   when the host sets it (the switch's default otherwise).
//! - `connections[].bytes_sent` and `bytes_received` are the switch's counts (`Switch::bytes`)
//!   of each end, copied after every step and at the close, so a closed end keeps the counts
//!   it closed with; the accepting end of a TCP connection, which the switch never sees,
//!   counts its own.
//! - `summary.bytes_per_path` (ours: the spec names no field) sums the bytes of the send steps
//!   that succeeded per path; `summary.sends` counts the send steps per result.
//! - Reason details write an IPv6 destination in brackets (`[::]`), so its colons do not run
//!   into the sentence. switch-core gives a stream connect to a one-to-many destination the
//!   reason `socket_kind` with the kind `multicast`, broadcast or not; the detail says which
//!   it is: a multicast address, the broadcast address (255.255.255.255), or the broadcast
//!   address of the SAN subnet the destination fell in.
//! - A provider with `library` is loaded from that shared object through the real SPI ABI
//!   (`spi_abi::LibraryLoader`), and every other one is a mock (a host's loader gives each
//!   entry its kind); the switch cannot tell them apart. A library that cannot be loaded is rejected at `WSPStartupEx`
//!   as the switch reports any load failure (`WSAEPROVIDERFAILEDINIT`), and the reason's
//!   detail adds what the system loader said. A library provider is on no simulated fabric:
//!   its connects end as its own code answers (the samples answer WSAENETUNREACH, so the
//!   switch falls back to TCP), no other host's SAN provider reaches its addresses, and its
//!   data path is not adapted yet (see `spi_abi::adapter`).

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ipnet::IpNet;
use mock_provider::{Fabric, MockCatalog, MockConfig, MockLoader, MockTcp};
use serde_json::json;
use spi_abi::{LibraryLoader, LoadError};
use spi_types::Guid;
use spi_types::{DecodeError, WsaError};
use switch_core::catalog::CatalogEntry;
use switch_core::connection::{ConnectPolicy, ConnectResult as CoreConnect, SocketId, SwitchEvent};
use switch_core::provider::{ProviderLoader, SanProvider, TcpSocket};
use switch_core::report::{
    Diagnostic as CoreDiagnostic, ProviderState as CoreState, RejectCause, Subject,
};
use switch_core::routing::{Route as CoreRoute, RouteDiagnostic};
use switch_core::session::conn::{SendId, SendReport, SessionConfig};
use switch_core::startup::REQUIRED_VERSION;
use switch_core::trace::{CallArgs, TraceEvent as CoreTrace};
use switch_core::{
    ProviderId, RouteDecision, RouteReason, RouteTarget, SocketKind, Switch, SwitchConfig,
    SwitchReport,
};

use crate::data::{self, Conn, End, EndSocket};
use crate::net::{self, Named};
use crate::report::{
    ConnectionReport, Diagnostic, ExtensionFlags, HostSummary, ProviderReason, ProviderReport,
    ProviderState, ReasonCode, Report, Route, StepReason, StepReport, TraceEvent,
};
use crate::scenario::{
    Action, AddressChange, ErrorKind, Host, Op, Outcome, Profile, ProviderSpec, RegistrationValue,
    Scenario, Step,
};

/// Why a scenario could not be run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    /// A step whose op the runner does not support yet ([`Op::is_supported`]); the message
    /// is the parser's ([`ErrorKind::UnsupportedOp`]). [`parse`](crate::scenario::parse)
    /// already refuses such a step, so this is met only by a scenario built by hand or read
    /// with [`Ops::All`](crate::scenario::Ops::All).
    #[error("line {line}: {}", ErrorKind::UnsupportedOp { op: *.op })]
    Unsupported {
        /// The step's line.
        line: usize,
        /// Its op.
        op: Op,
    },
    /// A step or an option names a host the scenario does not define.
    #[error("no host named {0:?}")]
    UnknownHost(String),
    /// A step names a provider its host does not define.
    #[error("line {line}: no provider named {provider:?} on host {host:?}")]
    UnknownProvider {
        /// The step's line.
        line: usize,
        /// The host.
        host: String,
        /// The provider.
        provider: String,
    },
}

/// A step whose result differs from its `expect`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The step's line in the scenario file.
    pub line: usize,
    /// The host it ran on.
    pub host: String,
    /// The op.
    pub op: String,
    /// What the file expects.
    pub expected: String,
    /// What it got.
    pub got: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {}: {} on {}: expected {}, got {}",
            self.line, self.op, self.host, self.expected, self.got
        )
    }
}

/// The simulated hosts after a run, for further questions (`explain`).
pub struct Simulation<'s> {
    scenario: &'s Scenario,
    hosts: Vec<SimHost<'s>>,
    trace: Vec<TraceEvent>,
    steps: Vec<StepReport>,
    /// What connect and listen steps named by `id` (or generated ids).
    named: HashMap<String, Named>,
    connections: Vec<ConnectionReport>,
    generated: usize,
}

impl std::fmt::Debug for Simulation<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulation")
            .field("hosts", &self.hosts.len())
            .field("steps", &self.steps.len())
            .finish_non_exhaustive()
    }
}

/// A host's provider loader: the providers with `library` from their shared objects, the
/// others mocks.
#[derive(Default)]
pub(crate) struct HostLoader {
    mock: MockLoader,
    library: LibraryLoader,
    libraries: BTreeSet<Guid>,
}

impl HostLoader {
    /// The last load failure of the library provider with GUID `guid`, if its load failed.
    pub(crate) fn load_error(&self, guid: Guid) -> Option<&LoadError> {
        self.library
            .failures()
            .iter()
            .rev()
            .find(|(g, _)| *g == guid)
            .map(|(_, e)| e)
    }
}

impl ProviderLoader for HostLoader {
    fn load(&mut self, entry: &CatalogEntry) -> Result<Box<dyn SanProvider>, WsaError> {
        if self.libraries.contains(&entry.guid()) {
            self.library.load(entry)
        } else {
            self.mock.load(entry)
        }
    }
}

/// One simulated host.
pub(crate) struct SimHost<'s> {
    pub(crate) spec: &'s Host,
    catalog: MockCatalog,
    loader: HostLoader,
    pub(crate) switch: Switch,
    pub(crate) tcp: MockTcp,
    pub(crate) fabric: Fabric,
    installed: BTreeSet<String>,
    traced: usize,
    /// The trace of every host in the order the calls were made: (host index, event).
    pub(crate) log: std::rc::Rc<std::cell::RefCell<Vec<(usize, CoreTrace)>>>,
    index: usize,
    /// Connects that finished after they were pending.
    pub(crate) finished: HashMap<SocketId, CoreConnect>,
    /// SAN connections accepted and not yet taken: (listener, socket).
    pub(crate) accepted: Vec<(SocketId, SocketId)>,
    /// Sends that finished and were not looked at yet.
    pub(crate) sent: HashMap<SendId, Result<SendReport, WsaError>>,
    /// The listening sockets of the host's applications, with the TCP/IP provider's socket
    /// of each (where the simulator accepts TCP connections).
    pub(crate) tcp_listeners: Vec<(SocketId, TcpSocket)>,
}

/// Runs `scenario`: initializes every host, runs every step, and returns the report with the
/// steps whose `expect` failed.
pub fn run(scenario: &Scenario) -> Result<(Report, Vec<Mismatch>), RunError> {
    let sim = Simulation::start(scenario)?;
    let mismatches = sim.mismatches();
    Ok((sim.report(), mismatches))
}

impl<'s> Simulation<'s> {
    /// Initializes the hosts and runs the steps.
    pub fn start(scenario: &'s Scenario) -> Result<Self, RunError> {
        if let Some(step) = scenario
            .steps
            .iter()
            .find(|s| !s.action.op().is_supported())
        {
            return Err(RunError::Unsupported {
                line: step.line,
                op: step.action.op(),
            });
        }
        let mut sim = Simulation {
            scenario,
            hosts: Vec::new(),
            trace: Vec::new(),
            steps: Vec::new(),
            named: HashMap::new(),
            connections: Vec::new(),
            generated: 0,
        };
        let fabric = Fabric::new();
        let log = std::rc::Rc::default();
        for spec in &scenario.hosts {
            let index = fabric.add_host(&spec.name, spec.interfaces.iter().map(|n| n.addr()));
            let mut host = SimHost::new(spec, &fabric, index, &log);
            host.switch
                .initialize(&host.catalog, &mut host.loader, spec.interfaces.clone());
            sim.collect_trace_of(&mut host, None);
            sim.hosts.push(host);
        }
        for (i, step) in scenario.steps.iter().enumerate() {
            let report = sim.step(i, step)?;
            sim.steps.push(report);
            sim.refresh_bytes();
        }
        Ok(sim)
    }

    fn host_index(&self, name: &str) -> Result<usize, RunError> {
        self.hosts
            .iter()
            .position(|h| h.spec.name == name)
            .ok_or_else(|| RunError::UnknownHost(name.to_owned()))
    }

    /// Moves the calls recorded since the last time into the report's trace, in the order they
    /// were made across the hosts.
    fn collect_trace_of(&mut self, host: &mut SimHost<'_>, step: Option<usize>) {
        host.flush_trace();
        let log = std::mem::take(&mut *host.log.borrow_mut());
        for (h, ev) in log {
            let x = if h == host.index {
                &*host
            } else {
                match self.hosts.iter().find(|x| x.index == h) {
                    Some(x) => x,
                    None => continue,
                }
            };
            let names = NameMap::new(&x.switch.report());
            self.trace
                .push(trace_event(&x.spec.name, &ev, step, &names));
        }
    }

    fn step(&mut self, index: usize, step: &Step) -> Result<StepReport, RunError> {
        let h = self.host_index(&step.host)?;
        if matches!(
            step.action,
            Action::Connect { .. }
                | Action::Listen { .. }
                | Action::Close { .. }
                | Action::Advance { .. }
                | Action::Send { .. }
                | Action::Shutdown { .. }
        ) {
            let out = self.net_step(h, step);
            self.collect_all_traces(index);
            return out;
        }
        let mut host = self.hosts.remove(h);
        let out = host.step(step);
        self.collect_trace_of(&mut host, Some(index));
        self.hosts.insert(h, host);
        out
    }

    fn collect_all_traces(&mut self, index: usize) {
        for host in &mut self.hosts {
            host.flush_trace();
        }
        let Some(mut first) = (!self.hosts.is_empty()).then(|| self.hosts.remove(0)) else {
            return;
        };
        self.collect_trace_of(&mut first, Some(index));
        self.hosts.insert(0, first);
    }

    /// Copies each open connection end's byte counts into its `connections[]` element (a
    /// closed end keeps the counts it had when it was closed).
    fn refresh_bytes(&mut self) {
        for named in self.named.values() {
            let Named::Connection(conn) = named else {
                continue;
            };
            if conn.closed {
                continue;
            }
            for end in &conn.ends {
                let (Some(r), Some((sent, received))) = (end.record, end.bytes(&self.hosts)) else {
                    continue;
                };
                if let Some(c) = self.connections.get_mut(r) {
                    c.bytes_sent = sent;
                    c.bytes_received = received;
                }
            }
        }
    }

    /// A connection step, which may involve every host.
    fn net_step(&mut self, h: usize, step: &Step) -> Result<StepReport, RunError> {
        let mut reason = None;
        let mut expected = None;
        let mut listeners = None;
        let mut send = None;
        let mut received = None;
        let (target, result) = match &step.action {
            Action::Connect {
                to,
                from,
                kind,
                id,
                expect,
            } => {
                expected = expect.as_ref().map(ToString::to_string);
                let out = net::connect(&mut self.hosts, h, *to, *from, *kind);
                if let Some((socket, peer)) = out.established {
                    let id = id.clone().unwrap_or_else(|| {
                        self.generated += 1;
                        format!("c{}", self.generated)
                    });
                    let records = net::records(
                        &self.hosts,
                        self.steps.len(),
                        h,
                        socket,
                        peer,
                        &id,
                        &out.reason,
                        *to,
                    );
                    let first = self.connections.len();
                    let mut ends = vec![End::new(
                        h,
                        EndSocket::Switch(socket),
                        (!records.is_empty()).then_some(first),
                    )];
                    if let Some((ph, ps)) = peer {
                        ends.push(End::new(ph, ps, (records.len() > 1).then_some(first + 1)));
                    }
                    self.connections.extend(records);
                    self.named.insert(
                        id,
                        Named::Connection(Box::new(Conn {
                            ends,
                            closed: false,
                        })),
                    );
                }
                reason = Some(out.reason);
                (
                    target_text(*to, from.map(|f| f.to_string()), *kind),
                    out.result,
                )
            }
            Action::Listen {
                address,
                backlog,
                accept,
                id,
                expect,
            } => {
                expected = expect.as_ref().map(ToString::to_string);
                let (result, on, socket) =
                    net::listen(&mut self.hosts, h, *address, *backlog, *accept);
                if let (Some(id), Some(socket)) = (id, socket) {
                    self.named
                        .insert(id.clone(), Named::Listener { host: h, socket });
                }
                listeners = Some(on);
                (address.to_string(), result)
            }
            Action::Close { id } => {
                let result = match self.named.get_mut(id) {
                    Some(Named::Listener { host, socket }) => {
                        let (host, socket) = (*host, *socket);
                        self.named.remove(id);
                        let x = &mut self.hosts[host];
                        x.tcp_listeners.retain(|(s, _)| *s != socket);
                        x.switch
                            .close(&mut x.tcp, socket)
                            .map(|_| ())
                            .map_err(|e| e.to_string())
                    }
                    Some(Named::Connection(conn)) if !conn.closed => {
                        conn.closed = true;
                        // The counts as they are at the close, which ends them.
                        for end in &conn.ends {
                            let Some(r) = end.record else { continue };
                            if let Some(c) = self.connections.get_mut(r) {
                                if let Some((sent, received)) = end.bytes(&self.hosts) {
                                    c.bytes_sent = sent;
                                    c.bytes_received = received;
                                }
                                c.state = "closed".to_owned();
                            }
                        }
                        // The accepting end first, then the connecting end, whose result is
                        // the step's.
                        for end in conn.ends.iter().skip(1) {
                            let _ = end.close(&mut self.hosts);
                        }
                        conn.ends
                            .first()
                            .map_or(Ok(()), |end| end.close(&mut self.hosts))
                    }
                    _ => Ok(()),
                };
                let _ = net::deliver(&mut self.hosts);
                let text = match result {
                    Ok(()) => "ok".to_owned(),
                    Err(e) => format!("error:{e}"),
                };
                (id.clone(), text)
            }
            Action::Send {
                id,
                bytes,
                oob,
                expect,
            } => {
                expected = expect.as_ref().map(ToString::to_string);
                let conn = match self.named.get_mut(id) {
                    Some(Named::Connection(c)) => Some(c.as_mut()),
                    _ => None,
                };
                let out = data::send(&mut self.hosts, conn, id, h, *bytes, *oob);
                send = out.send;
                received = Some(out.received);
                let what = if *oob { " urgent" } else { "" };
                let unit = if *bytes == 1 { "byte" } else { "bytes" };
                (format!("{id}: {bytes} {unit}{what}"), out.result)
            }
            Action::Shutdown { id, how } => {
                let conn = match self.named.get_mut(id) {
                    Some(Named::Connection(c)) => Some(c.as_mut()),
                    _ => None,
                };
                let out = data::shutdown(&mut self.hosts, conn, h, *how);
                received = Some(out.received);
                (format!("{id}: {how}"), out.result)
            }
            Action::Advance { ms } => {
                let now = self.hosts[h].fabric.now();
                net::advance_to(&mut self.hosts, now.saturating_add(*ms));
                (format!("{ms} ms"), "ok".to_owned())
            }
            _ => unreachable_step(step)?,
        };
        let ok = expected.as_ref().is_none_or(|e| *e == result);
        Ok(StepReport {
            host: self.hosts[h].spec.name.clone(),
            op: step.action.op().name().to_owned(),
            target,
            result,
            reason,
            listeners,
            send,
            received,
            expected,
            ok,
            line: step.line,
        })
    }

    /// The steps whose `expect` failed.
    pub fn mismatches(&self) -> Vec<Mismatch> {
        self.steps
            .iter()
            .filter(|s| !s.ok)
            .map(|s| Mismatch {
                line: s.line,
                host: s.host.clone(),
                op: s.op.clone(),
                expected: s.expected.clone().unwrap_or_default(),
                got: s.result.clone(),
            })
            .collect()
    }

    /// The decision of host `host` (the first host when `None`) for a `kind` connect to
    /// `to`, as a step report of op `explain`.
    pub fn explain(
        &self,
        host: Option<&str>,
        to: SocketAddr,
        kind: SocketKind,
    ) -> Result<StepReport, RunError> {
        let h = match host {
            Some(name) => self.host_index(name)?,
            None => 0,
        };
        let host = self
            .hosts
            .get(h)
            .ok_or_else(|| RunError::UnknownHost(String::new()))?;
        let (result, reason) = host.explain(to, kind);
        Ok(StepReport {
            host: host.spec.name.clone(),
            op: Op::Explain.name().to_owned(),
            target: target_text(to, None, kind),
            result,
            reason: Some(reason),
            listeners: None,
            send: None,
            received: None,
            expected: None,
            ok: true,
            line: 0,
        })
    }

    /// The report of the hosts as they are now.
    pub fn report(&self) -> Report {
        let mut report = Report {
            hosts: self.hosts.iter().map(|h| h.spec.name.clone()).collect(),
            steps: self.steps.clone(),
            connections: self.connections.clone(),
            trace: self.trace.clone(),
            ..Report::default()
        };
        for host in &self.hosts {
            let sr = host.switch.report();
            let names = NameMap::new(&sr);
            let name = &host.spec.name;
            let mut per_host = HostSummary {
                host: name.clone(),
                ..HostSummary::default()
            };
            for p in &sr.providers {
                let state = state_of(p.state);
                report.summary.providers.add(state);
                per_host.providers.add(state);
                let mut extensions = ExtensionFlags::default();
                for (e, on) in p.extensions.iter() {
                    set_flag(&mut extensions, e.name(), on);
                }
                report.providers.push(ProviderReport {
                    host: name.clone(),
                    name: p.name.clone(),
                    guid: p.guid.to_string(),
                    state,
                    reason: p.reason.as_ref().map(|r| ProviderReason {
                        step: r.step.to_string(),
                        code: r.code(),
                        detail: match (&r.cause, host.loader.load_error(p.guid)) {
                            (RejectCause::LoadFailed(_), Some(e)) => {
                                format!("{}: {e}", cause_text(&r.cause))
                            }
                            _ => cause_text(&r.cause),
                        },
                    }),
                    // Only the version the switch accepted (docs/scenario.md: "2.2" or null);
                    // what the provider answered is in `answered_version`.
                    version: p
                        .version
                        .filter(|v| *v == REQUIRED_VERSION)
                        .map(|v| v.to_string()),
                    answered_version: p.version.map(|v| v.to_string()),
                    extensions,
                    addresses: p.addresses.iter().map(ToString::to_string).collect(),
                });
            }
            for r in &sr.routes {
                report.routes.push(Route {
                    host: name.clone(),
                    subnet: r.subnet.to_string(),
                    provider: names.get(r.provider),
                });
            }
            for d in &sr.diagnostics {
                let provider = match d.subject() {
                    Subject::None => None,
                    Subject::Name(n) => Some(n.to_owned()),
                    Subject::Id(id) => Some(names.get(id)),
                };
                report.diagnostics.push(Diagnostic {
                    host: name.clone(),
                    provider,
                    code: d.code().to_owned(),
                    detail: diagnostic_detail(d, &names),
                });
            }
            report.summary.per_host.push(per_host);
        }
        let sum = &mut report.summary;
        for s in &self.steps {
            if let Some(f) = &s.send {
                let path = f.path.as_deref();
                sum.data.add(&s.result, path, f.bytes);
                if let Some(h) = sum.per_host.iter_mut().find(|h| h.host == s.host) {
                    h.data.add(&s.result, path, f.bytes);
                }
            }
            let Some(reason) = &s.reason else { continue };
            let connect = s.op == Op::Connect.name();
            sum.steps.add(connect, &s.result, reason.code);
            if let Some(h) = sum.per_host.iter_mut().find(|h| h.host == s.host) {
                h.steps.add(connect, &s.result, reason.code);
            }
        }
        report
    }

    /// The scenario this simulation runs.
    pub fn scenario(&self) -> &Scenario {
        self.scenario
    }
}

impl<'s> SimHost<'s> {
    fn new(
        spec: &'s Host,
        fabric: &Fabric,
        index: usize,
        log: &std::rc::Rc<std::cell::RefCell<Vec<(usize, CoreTrace)>>>,
    ) -> Self {
        let mut catalog = MockCatalog::with_tcpip();
        let mut loader = HostLoader::default();
        // A fresh loader and TCP/IP provider are attached once, to a host the fabric just
        // made: attaching cannot fail here.
        let _ = loader.mock.attach(fabric, index);
        let tcp = MockTcp::attached(fabric, index).unwrap_or_default();
        let mut installed = BTreeSet::new();
        for p in &spec.providers {
            match &p.library {
                Some(path) => {
                    loader.library.add(p.guid, path.clone());
                    loader.libraries.insert(p.guid);
                }
                None => {
                    loader.mock.add(mock_config(p));
                }
            }
            if p.installed {
                catalog.install(&p.name, p.guid, p.hidden, p.registered);
                installed.insert(p.name.clone());
            }
        }
        for r in &spec.registrations {
            let bytes = match &r.value {
                RegistrationValue::Guid(g) => g.to_bytes().to_vec(),
                RegistrationValue::Raw(b) => b.clone(),
            };
            catalog.add_registration(&r.name, bytes);
        }
        let ms = |v: u64| (v > 0).then(|| Duration::from_millis(v));
        let defaults = SessionConfig::default();
        let config = SwitchConfig {
            connect: ConnectPolicy {
                negative_cache: ms(spec.switch.negative_cache_ms),
                san_deadline: ms(spec.switch.san_deadline_ms),
            },
            session: SessionConfig {
                receives: spec.switch.receive_buffers.unwrap_or(defaults.receives),
                ..defaults
            },
            // The trace shows the data path's calls too (sends, receives, RDMA, memory).
            trace_data: true,
            ..SwitchConfig::default()
        };
        SimHost {
            spec,
            catalog,
            loader,
            switch: Switch::new(config),
            tcp,
            fabric: fabric.clone(),
            installed,
            traced: 0,
            log: log.clone(),
            index,
            finished: HashMap::new(),
            accepted: Vec::new(),
            sent: HashMap::new(),
            tcp_listeners: Vec::new(),
        }
    }

    /// Appends the calls this host's switch made since the last flush to the shared log, so
    /// the report's trace follows the order of the calls across hosts.
    pub(crate) fn flush_trace(&mut self) {
        let events = &self.switch.trace()[self.traced..];
        self.log
            .borrow_mut()
            .extend(events.iter().map(|e| (self.index, e.clone())));
        self.traced = self.switch.trace().len();
    }

    /// Takes what the switch says: finished connects and accepted connections (Watch and
    /// Unwatch need no waiter here: the fabric signals by handle).
    pub(crate) fn collect_events(&mut self) {
        self.flush_trace();
        while let Some(e) = self.switch.poll() {
            match e {
                SwitchEvent::Connected { socket, result } => {
                    self.finished.insert(socket, result);
                }
                SwitchEvent::Accepted {
                    listener, socket, ..
                } => self.accepted.push((listener, socket)),
                SwitchEvent::Sent { send, result, .. } => {
                    self.sent.insert(send, result);
                }
                // The application reads after every data step anyway.
                _ => {}
            }
        }
    }

    fn provider(&self, step: &Step, name: &str) -> Result<&'s ProviderSpec, RunError> {
        self.spec
            .provider(name)
            .ok_or_else(|| RunError::UnknownProvider {
                line: step.line,
                host: self.spec.name.clone(),
                provider: name.to_owned(),
            })
    }

    fn step(&mut self, step: &Step) -> Result<StepReport, RunError> {
        let mut reason = None;
        let mut expected = None;
        let (target, result) = match &step.action {
            Action::Explain {
                to,
                from,
                kind,
                expect,
            } => {
                let (result, why) = self.explain(*to, *kind);
                reason = Some(why);
                expected = expect.as_ref().map(ToString::to_string);
                (target_text(*to, from.map(|f| f.to_string()), *kind), result)
            }
            Action::AddressChange(AddressChange::Provider {
                provider,
                addresses,
            }) => {
                let p = self.provider(step, provider)?;
                // A library provider answers its own addresses (the parser refuses the step).
                self.loader.mock.set_addresses(p.guid, addresses.clone());
                self.switch.address_changed(None);
                let text: Vec<String> = addresses.iter().map(ToString::to_string).collect();
                (format!("{provider} [{}]", text.join(", ")), "ok".to_owned())
            }
            Action::AddressChange(AddressChange::Interfaces(list)) => {
                self.switch.address_changed(Some(list.clone()));
                let text: Vec<String> = list.iter().map(ToString::to_string).collect();
                (format!("interfaces [{}]", text.join(", ")), "ok".to_owned())
            }
            Action::Install { provider } => {
                let p = self.provider(step, provider)?;
                let result = if self.installed.insert(p.name.clone()) {
                    self.catalog
                        .install(&p.name, p.guid, p.hidden, p.registered);
                    self.switch.catalog_changed(&self.catalog, &mut self.loader);
                    "ok"
                } else {
                    "error:already_installed"
                };
                (provider.clone(), result.to_owned())
            }
            Action::Remove { provider } => {
                let p = self.provider(step, provider)?;
                let result = if self.installed.remove(&p.name) {
                    self.catalog.remove(p.guid);
                    self.switch.catalog_changed(&self.catalog, &mut self.loader);
                    "ok"
                } else {
                    "error:not_installed"
                };
                (provider.clone(), result.to_owned())
            }
            _ => unreachable_step(step)?,
        };
        let ok = expected.as_ref().is_none_or(|e| *e == result);
        Ok(StepReport {
            host: self.spec.name.clone(),
            op: step.action.op().name().to_owned(),
            target,
            result,
            reason,
            listeners: None,
            send: None,
            received: None,
            expected,
            ok,
            line: step.line,
        })
    }

    fn explain(&self, to: SocketAddr, kind: SocketKind) -> (String, StepReason) {
        let d: RouteDecision = self.switch.decide_connect(to, kind);
        let names = NameMap::new(&self.switch.report());
        let result = match d.target {
            RouteTarget::Tcp => "tcp".to_owned(),
            RouteTarget::San(p) => format!("san:{}", names.get(p)),
        };
        (result, self.route_reason(d.reason, to, kind))
    }

    /// The report's reason for a routing decision on a `kind` connect to `to`.
    pub(crate) fn route_reason(
        &self,
        reason: RouteReason,
        to: SocketAddr,
        kind: SocketKind,
    ) -> StepReason {
        let names = NameMap::new(&self.switch.report());
        let ip = to.ip();
        let shown = ip_text(ip);
        let (code, detail) = match reason {
            RouteReason::RouteMatch { subnet, provider } => (
                ReasonCode::RouteMatch,
                format!(
                    "{shown} is in subnet {subnet}, served by {}",
                    names.get(provider)
                ),
            ),
            RouteReason::NoRoute => (
                ReasonCode::NoRoute,
                format!("no SAN subnet contains {shown}: TCP/IP"),
            ),
            RouteReason::SocketKind { kind: k } if k == kind => (
                ReasonCode::SocketKind,
                format!("{k} sockets always use TCP/IP"),
            ),
            RouteReason::SocketKind { .. } => (
                ReasonCode::SocketKind,
                format!(
                    "{shown} is {}: one-to-many traffic uses TCP/IP",
                    self.one_to_many(ip)
                ),
            ),
            RouteReason::ProviderNotReady { subnet, provider } => (
                ReasonCode::ProviderNotReady,
                format!(
                    "{shown} is in subnet {subnet} of {}, which is not ready: TCP/IP",
                    names.get(provider)
                ),
            ),
            RouteReason::NegativeCache { provider } => (
                ReasonCode::NegativeCache,
                format!(
                    "a SAN connect to {shown} through {} fell back recently: TCP/IP",
                    names.get(provider)
                ),
            ),
        };
        StepReason {
            code,
            wsa: None,
            detail,
        }
    }
}

impl SimHost<'_> {
    /// What kind of one-to-many destination `ip` is, for a stream connect that the switch sent
    /// to TCP/IP for its destination (switch-core reports multicast and broadcast alike, as
    /// the socket kind `multicast`): "a multicast address", "the broadcast address" or "the
    /// broadcast address of subnet …" (of the SAN subnet the switch matched it in).
    fn one_to_many(&self, ip: IpAddr) -> String {
        match ip.to_canonical() {
            IpAddr::V4(a) if a.is_broadcast() => "the broadcast address".to_owned(),
            a if a.is_multicast() => "a multicast address".to_owned(),
            a @ IpAddr::V4(v4) => match self.switch.routes().lookup(a) {
                Some(CoreRoute {
                    subnet: IpNet::V4(n),
                    ..
                }) if n.prefix_len() < 31 && n.broadcast() == v4 => {
                    format!("the broadcast address of subnet {n}")
                }
                _ => "a multicast or broadcast address".to_owned(),
            },
            IpAddr::V6(_) => "a multicast or broadcast address".to_owned(),
        }
    }
}

/// An address as it reads in a sentence: IPv4 as is, IPv6 in brackets (`[::]`, not `::`,
/// whose colons would run into the text around it).
fn ip_text(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => format!("[{a}]"),
    }
}

/// The mock configuration a provider of the scenario stands for.
fn mock_config(p: &ProviderSpec) -> MockConfig {
    let base = match p.profile {
        Profile::Generic => MockConfig::generic(&p.name),
        Profile::Winofed => MockConfig::winofed(&p.name),
    };
    let mut c = base
        .with_guid(p.guid)
        .with_startup(result_of(p.startup))
        .with_version(p.version)
        .with_socket(result_of(p.socket))
        .with_addresses(p.addresses.iter().copied())
        .with_address_fault(p.address_list_fault)
        .with_cleanup(result_of(p.cleanup))
        .with_fabric(&p.fabric)
        .with_connect_delay_ms(p.connect_delay_ms)
        .with_max_msg_size(p.max_msg_size)
        .with_max_rdma_size(p.max_rdma_size)
        .with_rdma_threshold(p.rdma_threshold)
        .with_register_memory(result_of(p.register_memory))
        .with_register_rdma_memory(result_of(p.register_rdma_memory));
    if let Some(d) = &p.description {
        c = c.with_description(d);
    }
    if let Some(raw) = &p.address_list_raw {
        c = c.with_address_raw(mock_provider::RawAddressList {
            base: raw.base,
            bytes: raw.bytes.clone(),
        });
    }
    for (ext, outcome) in p.extensions.iter() {
        c = c.with_extension(ext, result_of(outcome));
    }
    if let Some(call) = p.panic_at {
        c = c.with_panic_at(call);
    }
    for (ip, e) in &p.connect_errors {
        c = c.with_connect_error(*ip, *e);
    }
    c
}

fn result_of(o: Outcome) -> Result<(), WsaError> {
    match o {
        Outcome::Ok => Ok(()),
        Outcome::Fail(e) => Err(e),
    }
}

fn state_of(s: CoreState) -> ProviderState {
    match s {
        CoreState::Ready => ProviderState::Ready,
        // `Initializing` is never seen between steps; counted as not serving.
        CoreState::Rejected | CoreState::Initializing => ProviderState::Rejected,
        CoreState::Ignored => ProviderState::Ignored,
        CoreState::Retiring => ProviderState::Retiring,
        CoreState::Retired => ProviderState::Retired,
    }
}

fn set_flag(f: &mut ExtensionFlags, name: &str, on: bool) {
    let slot = match name {
        "register_memory" => &mut f.register_memory,
        "deregister_memory" => &mut f.deregister_memory,
        "register_rdma_memory" => &mut f.register_rdma_memory,
        "deregister_rdma_memory" => &mut f.deregister_rdma_memory,
        "rdma_write" => &mut f.rdma_write,
        "rdma_read" => &mut f.rdma_read,
        "memory_registration_cache_callback" => &mut f.memory_registration_cache_callback,
        _ => return,
    };
    *slot = on;
}

/// The step's target text for connect and explain: `to`, the kind when not stream, `from`.
fn target_text(to: SocketAddr, from: Option<String>, kind: SocketKind) -> String {
    let mut t = to.to_string();
    if kind != SocketKind::Stream {
        t.push_str(&format!(" ({kind})"));
    }
    if let Some(f) = from {
        t.push_str(&format!(" from {f}"));
    }
    t
}

/// A step the caller should have run elsewhere, or one the runner does not support.
fn unreachable_step<T>(step: &Step) -> Result<T, RunError> {
    Err(RunError::Unsupported {
        line: step.line,
        op: step.action.op(),
    })
}

/// Provider ids of one switch → names.
pub(crate) struct NameMap(Vec<(ProviderId, String)>);

impl NameMap {
    pub(crate) fn new(r: &SwitchReport) -> Self {
        NameMap(r.providers.iter().map(|p| (p.id, p.name.clone())).collect())
    }

    pub(crate) fn get(&self, id: ProviderId) -> String {
        self.0
            .iter()
            .find(|(i, _)| *i == id)
            .map_or_else(|| id.to_string(), |(_, n)| n.clone())
    }
}

/// A rejection cause as a sentence, with buffer addresses (which differ from run to run)
/// replaced by offsets into the buffer, so the report is deterministic.
fn cause_text(cause: &RejectCause) -> String {
    if let RejectCause::AddressListInvalid(DecodeError::PointerOutside {
        index,
        pointer,
        length,
        base,
        buffer_len,
    }) = cause
    {
        let offset = pointer.wrapping_sub(*base) as i64;
        return format!(
            "its address list is invalid: address entry {index}: sockaddr at buffer offset {offset} ({length} bytes) lies outside the buffer ({buffer_len} bytes)"
        );
    }
    cause.to_string()
}

fn diagnostic_detail(d: &CoreDiagnostic, names: &NameMap) -> String {
    if let CoreDiagnostic::AddressRequeryFailed { provider, cause } = d {
        return format!(
            "re-querying the addresses of `{provider}` failed ({}); it serves no subnet until a later query succeeds",
            cause_text(cause)
        );
    }
    let CoreDiagnostic::Route(r) = d else {
        return d.to_string();
    };
    match *r {
        RouteDiagnostic::HostRoute {
            provider,
            address,
            subnet,
        } => format!(
            "address {address} of {} is in no interface prefix, so only the host route {subnet} was added",
            names.get(provider)
        ),
        RouteDiagnostic::DuplicateAddress {
            address,
            first,
            second,
        } => format!(
            "address {address} of {} was already listed by {}, so the later listing was ignored",
            names.get(second),
            names.get(first)
        ),
        RouteDiagnostic::SubnetConflict {
            subnet,
            winner,
            loser,
            address,
        } => format!(
            "{} claims subnet {subnet} (address {address}) already owned by {}, which keeps it",
            names.get(loser),
            names.get(winner)
        ),
        RouteDiagnostic::UnusableAddress { provider, address } => format!(
            "{} lists address {address}, which cannot identify a NIC, so it was ignored",
            names.get(provider)
        ),
    }
}

fn trace_event(host: &str, ev: &CoreTrace, step: Option<usize>, names: &NameMap) -> TraceEvent {
    let args = match &ev.args {
        CallArgs::None => None,
        CallArgs::Startup {
            version,
            protocol_info,
        } => Some(json!({
            "version": version.to_string(),
            "protocol_info": protocol_info.to_string(),
        })),
        CallArgs::AddressQuery { buffer_len, needed } => Some(json!({
            "buffer_len": buffer_len,
            "needed": needed,
        })),
        CallArgs::Address(a) => Some(json!({ "address": a.to_string() })),
        CallArgs::Backlog(b) => Some(json!({ "backlog": b })),
    };
    let provider = if ev.provider_name.is_empty() {
        names.get(ev.provider)
    } else {
        ev.provider_name.to_string()
    };
    TraceEvent {
        host: host.to_owned(),
        provider,
        call: ev.call.to_string(),
        result: ev.result.to_string(),
        args,
        step,
    }
}
