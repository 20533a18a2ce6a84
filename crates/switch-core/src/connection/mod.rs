//! Application sockets and their connects (CONN-1 to CONN-6, ROUTE-2).
//!
//! Every application socket is created, and bound if asked, on the TCP/IP provider first, and
//! the options the application sets are stored (CONN-1). A connect the routing table sends to a
//! SAN provider runs as a [`ConnectMachine`]; everything else, and every SAN attempt that falls
//! back, connects through TCP/IP.
//!
//! ## Waiting, the sans-IO way (INIT-5)
//!
//! The switch never blocks, starts no thread and reads no clock. When an attempt answers
//! `WSAEWOULDBLOCK` the switch has minted an [`EventHandle`] for its `WSPEventSelect`; it emits
//! [`SwitchEvent::Watch`] so the platform's waiter watches that event, and the platform reports
//! it back through `Switch::handle_event` when it is signalled. The outcome of a connect that
//! did not finish at once comes out of `Switch::poll` as [`SwitchEvent::Connected`]; the
//! waiter is released with [`SwitchEvent::Unwatch`].
//!
//! ## Decisions where the documentation is silent
//!
//! - **The local address.** The companion socket is bound to the TCP socket's IP and port
//!   (CONN-2). When the application did not bind, or bound to a wildcard, the switch binds the
//!   TCP socket to the SAN provider's own address in the matched subnet with port 0 first, and
//!   uses the port TCP/IP chose.
//! - **Forwarded options** are `SO_DEBUG` and, for a provider whose protocol record has
//!   `XP1_QOS_SUPPORTED`, the QoS group options (`SO_GROUP_ID`, `SO_GROUP_PRIORITY`); the switch
//!   keeps every other option to itself.
//! - **A failure of `WSPEventSelect`** counts as a companion-socket failure (CONN-2): nothing
//!   has been sent to the peer yet, so TCP is used.
//! - **A panic** in a provider call during an attempt is that call failing: before
//!   `WSPConnect` the companion socket failed, after it the SAN connect failed with
//!   `WSAENETDOWN` and falls back to TCP.

mod connect;
mod data;
mod listen;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use spi_types::{
    AddressFamily, ConditionResult, ServiceFlags, WsaError,
    consts::{SO_DEBUG, SO_GROUP_ID, SO_GROUP_PRIORITY, SOL_SOCKET},
};

pub use connect::{AttemptEnd, ConnectMachine, MAX_SPURIOUS_EVENTS, StoredOption, is_fatal};
pub use listen::{AcceptEnd, AcceptMachine, ListenMachine};

use crate::executor::{Executor, Overrun};
use crate::id::ProviderId;
use crate::provider::{EventHandle, ProviderSocket, TcpProvider, TcpSocket};
use crate::providers::Providers;
use crate::routing::{ListenDecision, RouteDecision, RouteReason, RouteTarget, SocketKind};
use crate::session::conn::{Role, SendId, SendReport, Session, SessionConfig};

/// The switch's own id of an application socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketId(pub u64);

impl SocketError {
    /// The Winsock error behind the failure, the same whether the connection is on a SAN or
    /// on TCP/IP; `None` for the switch's own refusals.
    pub fn wsa(&self) -> Option<WsaError> {
        match self {
            SocketError::Tcp { error, .. } | SocketError::Failed { error, .. } => Some(*error),
            _ => None,
        }
    }
}

impl std::fmt::Display for SocketId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "socket#{}", self.0)
    }
}

/// Which provider carries a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Via {
    /// The TCP/IP provider.
    Tcp,
    /// A SAN provider.
    San(ProviderId),
}

/// Why a connect went where it went: the routing reasons, and what happened on the SAN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectReason {
    /// The routing decision alone (`route_match`, `no_route`, `socket_kind`,
    /// `provider_not_ready`).
    Route(RouteReason),
    /// A step of the companion socket failed before `WSPConnect` (CONN-2): TCP was used.
    CompanionSocketFailed {
        /// The provider tried.
        provider: ProviderId,
        /// Its error.
        error: WsaError,
    },
    /// The SAN connect failed and TCP was used (CONN-4).
    SanConnectFailed {
        /// The provider tried.
        provider: ProviderId,
        /// Its error.
        error: WsaError,
    },
    /// The SAN connect failed with an error TCP would meet too: the connect failed (CONN-4).
    SanConnectFatal {
        /// The provider tried.
        provider: ProviderId,
        /// Its error.
        error: WsaError,
    },
    /// The SAN connect had not finished by the SAN deadline: the companion socket was closed
    /// and TCP was used.
    SanDeadline {
        /// The provider tried.
        provider: ProviderId,
    },
    /// The provider was taken down (the switch shut down, or the provider panicked) while the
    /// SAN connect was under way: the connect failed with `WSAENETDOWN`.
    ProviderGone {
        /// The provider tried.
        provider: ProviderId,
    },
    /// The SAN connection was established but its session negotiation failed (CONN-7): no
    /// fallback follows an established connection (CONN-5), the connect fails with
    /// `WSAECONNRESET`.
    SessionFailed {
        /// The provider.
        provider: ProviderId,
    },
}

impl ConnectReason {
    /// The report code: `route_match`, `no_route`, `socket_kind`, `provider_not_ready`,
    /// `negative_cache`, `companion_socket_failed`, `san_connect_failed`, `san_connect_fatal`,
    /// `san_deadline` or `provider_gone`.
    pub fn code(&self) -> &'static str {
        match self {
            ConnectReason::Route(r) => r.code(),
            ConnectReason::CompanionSocketFailed { .. } => "companion_socket_failed",
            ConnectReason::SanConnectFailed { .. } => "san_connect_failed",
            ConnectReason::SanConnectFatal { .. } => "san_connect_fatal",
            ConnectReason::SanDeadline { .. } => "san_deadline",
            ConnectReason::ProviderGone { .. } => "provider_gone",
            ConnectReason::SessionFailed { .. } => "session_failed",
        }
    }

    /// The WSA error behind it, if any.
    pub fn wsa(&self) -> Option<WsaError> {
        match self {
            ConnectReason::Route(_) | ConnectReason::SanDeadline { .. } => None,
            ConnectReason::ProviderGone { .. } => Some(WsaError::WSAENETDOWN),
            ConnectReason::SessionFailed { .. } => Some(WsaError::WSAECONNRESET),
            ConnectReason::CompanionSocketFailed { error, .. }
            | ConnectReason::SanConnectFailed { error, .. }
            | ConnectReason::SanConnectFatal { error, .. } => Some(*error),
        }
    }
}

/// How an application connect ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectResult {
    /// Connected through this provider, or failed with this error.
    pub result: Result<Via, WsaError>,
    /// Why.
    pub reason: ConnectReason,
}

/// Where an application connect stands when `Switch::connect` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectStatus {
    /// Finished: connected or failed.
    Done(ConnectResult),
    /// A SAN connect is under way; its result comes out of `Switch::poll` as
    /// [`SwitchEvent::Connected`].
    Pending,
}

/// What the switch tells the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SwitchEvent {
    /// Watch this event and report it through `Switch::handle_event` when it is signalled.
    Watch(EventHandle),
    /// Stop watching this event.
    Unwatch(EventHandle),
    /// A connect that was pending finished.
    Connected {
        /// The application socket.
        socket: SocketId,
        /// How it ended.
        result: ConnectResult,
    },
    /// A listening socket accepted a SAN connection; take it with `Switch::accept`.
    Accepted {
        /// The listening socket.
        listener: SocketId,
        /// The new application socket of the connection.
        socket: SocketId,
        /// The provider carrying it.
        provider: ProviderId,
        /// The peer.
        peer: SocketAddr,
    },
    /// A listening socket's condition function rejected a SAN peer (ACCEPT-2).
    Rejected {
        /// The listening socket.
        listener: SocketId,
        /// The provider.
        provider: ProviderId,
    },
    /// A send finished: its bytes left (or failed to leave) through the path the report
    /// names.
    Sent {
        /// The socket.
        socket: SocketId,
        /// The send, as `Switch::send` answered it.
        send: SendId,
        /// What the send did, or its error.
        result: Result<SendReport, WsaError>,
    },
    /// Data, the end of the stream, an urgent byte or an error is there to receive on a SAN
    /// connection.
    Readable {
        /// The socket.
        socket: SocketId,
    },
}

/// The switch's own additions to the documented connect path; each is off by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConnectPolicy {
    /// After a SAN connect to a destination fell back to TCP, later connects to that
    /// destination IP go straight to TCP (reason `negative_cache`) for this long. `None`: off.
    pub negative_cache: Option<Duration>,
    /// A SAN connect not finished this long after it started is abandoned: the companion
    /// socket is closed and TCP is used (reason `san_deadline`). `None`: off.
    pub san_deadline: Option<Duration>,
}

/// Counters of finished application connects, per reason code and per outcome.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectStats {
    /// Finished connects per reason code.
    pub by_reason: BTreeMap<&'static str, u64>,
    /// Connects carried by a SAN provider.
    pub san: u64,
    /// Connects carried by TCP/IP.
    pub tcp: u64,
    /// Connects that failed.
    pub failed: u64,
}

impl ConnectStats {
    fn count(&mut self, r: &ConnectResult) {
        *self.by_reason.entry(r.reason.code()).or_default() += 1;
        match r.result {
            Ok(Via::San(_)) => self.san += 1,
            Ok(Via::Tcp) => self.tcp += 1,
            Err(_) => self.failed += 1,
        }
    }
}

/// What a listen set up: TCP/IP always, and each SAN provider ROUTE-3 names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenOutcome {
    /// The address the socket listens on.
    pub address: SocketAddr,
    /// Each SAN provider asked to listen, and whether it does.
    pub san: Vec<(ProviderId, Result<(), WsaError>)>,
}

/// An application-socket call the switch refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SocketError {
    /// No open socket has this id.
    #[error("{0} is not an open socket of this switch")]
    UnknownSocket(SocketId),
    /// The socket cannot do this in its state.
    #[error("{socket} is {state}; it cannot {call}")]
    WrongState {
        /// The socket.
        socket: SocketId,
        /// Its state.
        state: &'static str,
        /// What was asked.
        call: &'static str,
    },
    /// The TCP/IP provider failed the call.
    #[error("TCP/IP {call} of {socket} failed with {error}")]
    Tcp {
        /// The socket.
        socket: SocketId,
        /// The call.
        call: &'static str,
        /// The error.
        error: WsaError,
    },
    /// A send, receive or shutdown on a SAN connection failed with the Winsock error the
    /// application sees (`WSAEWOULDBLOCK` for a receive with nothing to read, or the error
    /// that ended the connection).
    #[error("{call} on {socket} failed with {error}")]
    Failed {
        /// The socket.
        socket: SocketId,
        /// The call.
        call: &'static str,
        /// The error.
        error: WsaError,
    },
    /// The switch is shut down.
    #[error("the switch is shut down")]
    ShutDown,
}

/// One SAN provider's listening socket of a listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SanListener {
    provider: ProviderId,
    socket: ProviderSocket,
    event: EventHandle,
}

struct Listener {
    address: SocketAddr,
    backlog: i32,
    decision: ConditionResult,
    san: Vec<SanListener>,
    accepted: VecDeque<SocketId>,
}

/// What a watched event belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Watched {
    Connect(SocketId),
    Accept(SocketId, ProviderId),
}

/// A SAN attempt in flight.
struct Attempt {
    provider: ProviderId,
    dest: SocketAddr,
    route: RouteReason,
    machine: ConnectMachine,
    /// When the SAN deadline falls, if one is set.
    deadline: Option<Duration>,
    /// The deadline fell: the attempt was abandoned for TCP.
    expired: bool,
}

enum SocketState {
    Open,
    Listening(Box<Listener>),
    Connecting(Box<Attempt>),
    /// A SAN connection whose session is being negotiated (CONN-7, ACCEPT-3): established,
    /// but not yet the application's.
    Negotiating(Box<Negotiating>),
    Connected {
        via: Via,
        san: Option<ProviderSocket>,
        remote: SocketAddr,
        /// The session of a SAN connection.
        session: Option<Box<Session>>,
    },
}

/// What a negotiating connection becomes for the application once its session is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Announce {
    /// The application's connect completes, with the route's reason.
    Connect(RouteReason),
    /// The listener announces an accepted connection.
    Accept { listener: SocketId },
}

struct Negotiating {
    provider: ProviderId,
    san: ProviderSocket,
    remote: SocketAddr,
    session: Box<Session>,
    announce: Announce,
}

impl SocketState {
    fn name(&self) -> &'static str {
        match self {
            SocketState::Open => "open",
            SocketState::Listening(_) => "listening",
            SocketState::Connecting(_) => "connecting",
            SocketState::Negotiating(_) => "negotiating",
            SocketState::Connected { .. } => "connected",
        }
    }
}

struct AppSocket {
    /// Bytes the application sent and received through TCP/IP (a SAN connection's session
    /// counts its own).
    tcp_bytes: (u64, u64),
    kind: SocketKind,
    tcp: TcpSocket,
    local: Option<SocketAddr>,
    options: Vec<StoredOption>,
    state: SocketState,
    /// The listener whose queue holds this accepted socket until the application takes it.
    queued_on: Option<SocketId>,
}

/// The switch's socket table and the attempts in flight.
#[derive(Default)]
pub(crate) struct Connections {
    sockets: HashMap<SocketId, AppSocket>,
    next_socket: u64,
    next_event: u64,
    waiting: HashMap<EventHandle, Watched>,
    events: VecDeque<SwitchEvent>,
    policy: ConnectPolicy,
    now: Duration,
    /// Destinations whose SAN connect fell back, and when their entry expires.
    negative: HashMap<IpAddr, Duration>,
    /// The same entries ordered by expiry.
    expiries: BTreeSet<(Duration, IpAddr)>,
    /// The listening sockets, so provider changes touch listeners without a scan of every
    /// socket.
    listeners: BTreeSet<SocketId>,
    deadlines: BTreeSet<(Duration, SocketId)>,
    stats: ConnectStats,
    /// How sessions are set up; `None`: SAN connections carry no session.
    session: Option<SessionConfig>,
    /// The session serial each SAN connection's overlapped ids carry, and its socket.
    serials: HashMap<u64, SocketId>,
    next_serial: u64,
    next_send: u64,
    /// TCP/IP sockets to close at the next call that can reach TCP/IP.
    orphan_tcp: Vec<TcpSocket>,
}

/// What a connect needs from the rest of the switch.
pub(crate) struct ConnectEnv<'a, 'e> {
    pub tcp: &'a mut dyn TcpProvider,
    pub providers: &'a mut Providers,
    pub exec: &'a mut Executor<'e>,
}

impl<'e> ConnectEnv<'_, 'e> {
    /// The same environment, borrowed again for one more call.
    pub fn reborrow(&mut self) -> ConnectEnv<'_, 'e> {
        ConnectEnv {
            tcp: &mut *self.tcp,
            providers: &mut *self.providers,
            exec: &mut *self.exec,
        }
    }
}

impl Connections {
    pub fn new(policy: ConnectPolicy, session: Option<SessionConfig>) -> Self {
        Connections {
            policy,
            session,
            ..Connections::default()
        }
    }

    /// The routing decision for `dest`, with the negative cache applied: a destination whose
    /// SAN connect fell back recently goes to TCP.
    pub fn filter(&self, decision: RouteDecision, dest: IpAddr) -> RouteDecision {
        match decision.target {
            RouteTarget::San(provider)
                if self.negative.get(&dest).is_some_and(|&t| t > self.now) =>
            {
                RouteDecision {
                    target: RouteTarget::Tcp,
                    reason: RouteReason::NegativeCache { provider },
                }
            }
            _ => decision,
        }
    }

    /// Time moves to `now` (it never goes back); attempts past their SAN deadline are
    /// abandoned for TCP.
    pub fn handle_timeout(&mut self, env: ConnectEnv<'_, '_>, now: Duration) {
        self.now = self.now.max(now);
        // Negative-cache entries that expired.
        while let Some(&(t, ip)) = self.expiries.first() {
            if t > self.now {
                break;
            }
            self.expiries.pop_first();
            if self.negative.get(&ip) == Some(&t) {
                self.negative.remove(&ip);
            }
        }
        let due: Vec<SocketId> = self
            .deadlines
            .iter()
            .take_while(|(t, _)| *t <= self.now)
            .map(|(_, id)| *id)
            .collect();
        let mut env = env;
        for id in due {
            // The connect may have finished with its signal not yet delivered: ask the
            // provider first, and abandon the attempt only if it is still under way.
            if let Some(AppSocket {
                state: SocketState::Connecting(a),
                ..
            }) = self.sockets.get_mut(&id)
                && a.machine.is_waiting()
            {
                a.machine.on_event();
                if self.run_and_announce(env.reborrow(), id) {
                    continue;
                }
            }
            if let Some(AppSocket {
                state: SocketState::Connecting(a),
                ..
            }) = self.sockets.get_mut(&id)
            {
                a.expired = true;
                a.machine.cancel();
            }
            self.run_and_announce(env.reborrow(), id);
        }
    }

    /// Drives the attempt of `id`; when it finished, announces it with
    /// [`SwitchEvent::Connected`] and answers true.
    fn run_and_announce(&mut self, env: ConnectEnv<'_, '_>, id: SocketId) -> bool {
        match self.run_attempt(env, id) {
            Ok(ConnectStatus::Done(result)) => {
                self.events
                    .push_back(SwitchEvent::Connected { socket: id, result });
                true
            }
            _ => false,
        }
    }

    /// When the switch next needs `handle_timeout`: the earliest SAN deadline or
    /// negative-cache expiry.
    pub fn poll_timeout(&self) -> Option<Duration> {
        let deadline = self.deadlines.first().map(|(t, _)| *t);
        let expiry = self.expiries.first().map(|(t, _)| *t);
        [deadline, expiry].into_iter().flatten().min()
    }

    /// The counters of finished connects.
    pub fn stats(&self) -> &ConnectStats {
        &self.stats
    }

    /// How many entries the connection tables hold now.
    pub fn footprint(&self) -> (usize, usize, usize, usize) {
        (
            self.sockets.len(),
            self.waiting.len(),
            self.negative.len(),
            self.deadlines.len(),
        )
    }

    fn remember_fallback(&mut self, dest: IpAddr) {
        let Some(ttl) = self.policy.negative_cache else {
            return;
        };
        let expiry = self.now.saturating_add(ttl);
        if let Some(old) = self.negative.insert(dest, expiry) {
            self.expiries.remove(&(old, dest));
        }
        // `poll_timeout` names the earliest expiry, so a platform that calls `handle_timeout`
        // when asked sees every entry go at its time.
        self.expiries.insert((expiry, dest));
    }

    fn finished(&mut self, r: &ConnectResult) {
        self.stats.count(r);
        tracing::debug!(
            target: "switch_core::connect",
            reason = r.reason.code(),
            wsa = ?r.reason.wsa(),
            result = ?r.result,
            "connect finished"
        );
    }

    pub fn socket(
        &mut self,
        tcp: &mut dyn TcpProvider,
        family: AddressFamily,
        kind: SocketKind,
    ) -> Result<SocketId, SocketError> {
        let id = SocketId(self.next_socket);
        let handle = tcp.socket(family, kind).map_err(|error| SocketError::Tcp {
            socket: id,
            call: "socket",
            error,
        })?;
        self.next_socket += 1;
        self.sockets.insert(
            id,
            AppSocket {
                tcp_bytes: (0, 0),
                kind,
                tcp: handle,
                local: None,
                options: Vec::new(),
                state: SocketState::Open,
                queued_on: None,
            },
        );
        Ok(id)
    }

    /// The address an open socket is bound to, if it is.
    pub fn local(&self, id: SocketId) -> Result<Option<SocketAddr>, SocketError> {
        self.sockets
            .get(&id)
            .map(|s| s.local)
            .ok_or(SocketError::UnknownSocket(id))
    }

    /// The kind of an open socket.
    pub fn kind(&self, id: SocketId) -> Result<SocketKind, SocketError> {
        self.sockets
            .get(&id)
            .map(|s| s.kind)
            .ok_or(SocketError::UnknownSocket(id))
    }

    fn get_ref(&self, id: SocketId) -> Result<&AppSocket, SocketError> {
        self.sockets.get(&id).ok_or(SocketError::UnknownSocket(id))
    }

    fn get(&mut self, id: SocketId) -> Result<&mut AppSocket, SocketError> {
        self.sockets
            .get_mut(&id)
            .ok_or(SocketError::UnknownSocket(id))
    }

    pub fn bind(
        &mut self,
        tcp: &mut dyn TcpProvider,
        id: SocketId,
        address: SocketAddr,
    ) -> Result<SocketAddr, SocketError> {
        let s = self.get(id)?;
        let bound = tcp.bind(s.tcp, address).map_err(|error| SocketError::Tcp {
            socket: id,
            call: "bind",
            error,
        })?;
        s.local = Some(bound);
        Ok(bound)
    }

    pub fn set_option(
        &mut self,
        tcp: &mut dyn TcpProvider,
        id: SocketId,
        option: StoredOption,
    ) -> Result<(), SocketError> {
        let s = self.get(id)?;
        tcp.set_option(s.tcp, option.level, option.name, &option.value)
            .map_err(|error| SocketError::Tcp {
                socket: id,
                call: "setsockopt",
                error,
            })?;
        s.options
            .retain(|o| (o.level, o.name) != (option.level, option.name));
        s.options.push(option);
        Ok(())
    }

    /// The application's connect: decided by `decision`, through the SAN provider it names or
    /// through TCP.
    pub fn connect(
        &mut self,
        env: ConnectEnv<'_, '_>,
        id: SocketId,
        dest: SocketAddr,
        decision: RouteDecision,
    ) -> Result<ConnectStatus, SocketError> {
        let s = self.get(id)?;
        if !matches!(s.state, SocketState::Open) {
            return Err(SocketError::WrongState {
                socket: id,
                state: s.state.name(),
                call: "connect",
            });
        }
        let provider = match decision.target {
            RouteTarget::San(p) if s.kind == SocketKind::Stream => p,
            _ => {
                let reason = ConnectReason::Route(decision.reason);
                let r = self.connect_tcp(env.tcp, id, dest, reason)?;
                self.finished(&r);
                return Ok(ConnectStatus::Done(r));
            }
        };
        // CONN-2: the companion binds to the TCP socket's own address, fully qualified. A
        // socket bound to a specific address keeps it; one bound to the wildcard keeps its port
        // and the companion takes the SAN provider's address facing the destination; an
        // unbound one is bound on TCP/IP first, there, with a port TCP/IP chooses. A bind
        // TCP/IP refuses is a companion failure like any other: TCP/IP connects on its own.
        let san_ip = env.providers.local_address_for(provider, dest.ip());
        let local = match (s.local, san_ip) {
            (Some(l), _) if !l.ip().is_unspecified() => l,
            (Some(l), Some(ip)) => SocketAddr::new(ip, l.port()),
            (None, Some(ip)) => match env.tcp.bind(s.tcp, SocketAddr::new(ip, 0)) {
                Ok(bound) => {
                    s.local = Some(bound);
                    bound
                }
                Err(error) => {
                    let reason = ConnectReason::CompanionSocketFailed { provider, error };
                    self.remember_fallback(dest.ip());
                    let r = self.connect_tcp(env.tcp, id, dest, reason)?;
                    self.finished(&r);
                    return Ok(ConnectStatus::Done(r));
                }
            },
            (_, None) => {
                let reason = ConnectReason::CompanionSocketFailed {
                    provider,
                    error: WsaError::WSAEADDRNOTAVAIL,
                };
                let r = self.connect_tcp(env.tcp, id, dest, reason)?;
                self.finished(&r);
                return Ok(ConnectStatus::Done(r));
            }
        };
        let s = self.get(id)?;
        let qos = env.providers.takes_qos(provider);
        let options = s
            .options
            .iter()
            .filter(|o| forwarded(o, qos))
            .cloned()
            .collect();
        let event = self.mint_event();
        let attempt = Attempt {
            provider,
            dest,
            route: decision.reason,
            machine: ConnectMachine::new(local, dest, options, event),
            deadline: self.policy.san_deadline.map(|d| self.now.saturating_add(d)),
            expired: false,
        };
        // HOT-3: an attempt counts as a connection of its provider from the start, so a
        // provider that leaves the catalog meanwhile retires only once the attempt is over.
        if env.providers.connection_opened(provider).is_err() {
            let reason = ConnectReason::CompanionSocketFailed {
                provider,
                error: WsaError::WSAENETDOWN,
            };
            let r = self.connect_tcp(env.tcp, id, dest, reason)?;
            self.finished(&r);
            return Ok(ConnectStatus::Done(r));
        }
        if let Some(t) = attempt.deadline {
            self.deadlines.insert((t, id));
        }
        self.get(id)?.state = SocketState::Connecting(Box::new(attempt));
        self.waiting.insert(event, Watched::Connect(id));
        self.events.push_back(SwitchEvent::Watch(event));
        self.run_attempt(env, id)
    }

    /// The platform reports `event` signalled.
    pub fn handle_event(&mut self, env: ConnectEnv<'_, '_>, event: EventHandle) {
        match self.waiting.get(&event).copied() {
            Some(Watched::Connect(id)) => {
                if let Some(AppSocket {
                    state: SocketState::Connecting(a),
                    ..
                }) = self.sockets.get_mut(&id)
                {
                    a.machine.on_event();
                }
                self.run_and_announce(env, id);
            }
            Some(Watched::Accept(listener, provider)) => {
                self.accept_signalled(env, listener, provider, event);
            }
            None => {}
        }
    }

    /// A new event handle. Handles start at 1: 0 would be a null event to a Windows shim.
    fn mint_event(&mut self) -> EventHandle {
        self.next_event += 1;
        EventHandle(self.next_event)
    }

    /// The application listens (LISTEN-1, ROUTE-3): TCP/IP listens; each SAN provider of
    /// `decision` gets a listening socket on the same address and port. A provider whose
    /// listen fails is left out (its socket closed); TCP still listens.
    pub fn listen(
        &mut self,
        env: ConnectEnv<'_, '_>,
        id: SocketId,
        backlog: i32,
        decision: ConditionResult,
        route: ListenDecision,
    ) -> Result<ListenOutcome, SocketError> {
        let s = self.get(id)?;
        if !matches!(s.state, SocketState::Open) || s.kind != SocketKind::Stream {
            return Err(SocketError::WrongState {
                socket: id,
                state: if s.kind == SocketKind::Stream {
                    s.state.name()
                } else {
                    "not a stream socket"
                },
                call: "listen",
            });
        }
        let address = s.local.ok_or(SocketError::WrongState {
            socket: id,
            state: "unbound",
            call: "listen",
        })?;
        env.tcp
            .listen(s.tcp, backlog)
            .map_err(|error| SocketError::Tcp {
                socket: id,
                call: "listen",
                error,
            })?;
        self.listeners.insert(id);
        let s = self.get(id)?;
        s.state = SocketState::Listening(Box::new(Listener {
            address,
            backlog,
            decision,
            san: Vec::new(),
            accepted: VecDeque::new(),
        }));
        let mut outcome = ListenOutcome {
            address,
            san: Vec::new(),
        };
        for p in route.providers {
            let r = self.listen_on(env.providers, env.exec, id, p);
            outcome.san.push((p, r));
        }
        Ok(outcome)
    }

    /// Sets up provider `p`'s listening socket for listener `id`.
    fn listen_on(
        &mut self,
        providers: &mut Providers,
        exec: &mut Executor<'_>,
        id: SocketId,
        p: ProviderId,
    ) -> Result<(), WsaError> {
        let event = self.mint_event();
        let Some(AppSocket {
            state: SocketState::Listening(l),
            ..
        }) = self.sockets.get_mut(&id)
        else {
            return Err(WsaError::WSAEINVAL);
        };
        let mut machine = ListenMachine::new(l.address, l.backlog, event);
        match providers.drive_on(p, &mut machine, exec) {
            Some(Ok(_)) => {}
            _ => return Err(machine.failed().unwrap_or(WsaError::WSAENETDOWN)),
        }
        let socket = machine
            .listening()
            .ok_or(machine.failed().unwrap_or(WsaError::WSAEINVAL))?;
        l.san.push(SanListener {
            provider: p,
            socket,
            event,
        });
        self.waiting.insert(event, Watched::Accept(id, p));
        self.events.push_back(SwitchEvent::Watch(event));
        Ok(())
    }

    /// HOT-2: provider `p` became ready: every listener bound to the wildcard gets a listening
    /// socket on it.
    pub fn join_listeners(
        &mut self,
        providers: &mut Providers,
        exec: &mut Executor<'_>,
        p: ProviderId,
    ) {
        let wildcard: Vec<SocketId> = self
            .listeners
            .iter()
            .filter(|id| match self.sockets.get(id).map(|s| &s.state) {
                Some(SocketState::Listening(l)) => {
                    l.address.ip().is_unspecified() && !l.san.iter().any(|x| x.provider == p)
                }
                _ => false,
            })
            .copied()
            .collect();
        for id in wildcard {
            let _ = self.listen_on(providers, exec, id, p);
        }
    }

    /// HOT-3: provider `p` leaves: its listening sockets are closed (its connections stay).
    pub fn close_listeners_of(
        &mut self,
        providers: &mut Providers,
        exec: &mut Executor<'_>,
        p: ProviderId,
    ) {
        let mut closed = Vec::new();
        for id in &self.listeners {
            if let Some(AppSocket {
                state: SocketState::Listening(l),
                ..
            }) = self.sockets.get_mut(id)
            {
                l.san.retain(|x| {
                    if x.provider == p {
                        closed.push(*x);
                        false
                    } else {
                        true
                    }
                });
            }
        }
        for x in closed {
            self.release(x.event);
            providers.close_only(x.provider, x.socket, exec);
        }
    }

    /// Forgets listening sockets of providers that are no longer alive (taken down after a
    /// panic): there is nothing left to call.
    pub fn prune(&mut self, providers: &Providers) {
        self.drop_dead_sessions(providers);
        let mut gone = Vec::new();
        for id in &self.listeners {
            if let Some(AppSocket {
                state: SocketState::Listening(l),
                ..
            }) = self.sockets.get_mut(id)
            {
                l.san.retain(|x| {
                    let alive = providers.is_alive(x.provider);
                    if !alive {
                        gone.push(x.event);
                    }
                    alive
                });
            }
        }
        for e in gone {
            self.release(e);
        }
        // Attempts on a provider that was taken down (a panic in an address re-query, or
        // shutdown): it will never signal them, and its cleanup released their sockets. They
        // end now, failed, so the application can connect again.
        let orphans: Vec<SocketId> = self
            .waiting
            .values()
            .filter_map(|w| match w {
                Watched::Connect(id) => Some(*id),
                Watched::Accept(..) => None,
            })
            .filter(|id| match self.sockets.get(id).map(|s| &s.state) {
                Some(SocketState::Connecting(a)) => !providers.is_alive(a.provider),
                _ => false,
            })
            .collect();
        for id in orphans {
            self.orphan(id);
        }
    }

    /// Ends the attempt of `id`, whose provider is gone, as failed with `WSAENETDOWN`.
    fn orphan(&mut self, id: SocketId) {
        let Some(s) = self.sockets.get_mut(&id) else {
            return;
        };
        let SocketState::Connecting(a) = std::mem::replace(&mut s.state, SocketState::Open) else {
            return;
        };
        self.release(a.machine.event());
        if let Some(t) = a.deadline {
            self.deadlines.remove(&(t, id));
        }
        let result = ConnectResult {
            result: Err(WsaError::WSAENETDOWN),
            reason: ConnectReason::ProviderGone {
                provider: a.provider,
            },
        };
        self.finished(&result);
        self.events
            .push_back(SwitchEvent::Connected { socket: id, result });
    }

    /// Before shutdown: every attempt under way closes its companion socket while its
    /// provider is still alive, and ends as failed.
    pub fn abandon_attempts(&mut self, providers: &mut Providers, exec: &mut Executor<'_>) {
        let attempts: Vec<SocketId> = self
            .waiting
            .values()
            .filter_map(|w| match w {
                Watched::Connect(id) => Some(*id),
                Watched::Accept(..) => None,
            })
            .collect();
        for id in attempts {
            if let Some(AppSocket {
                state: SocketState::Connecting(a),
                ..
            }) = self.sockets.get_mut(&id)
            {
                if let Some(c) = a.machine.companion() {
                    providers.close_only(a.provider, c, exec);
                }
                let _ = providers.connection_closed(a.provider, exec);
            }
            self.orphan(id);
        }
    }

    fn release(&mut self, event: EventHandle) {
        if self.waiting.remove(&event).is_some() {
            self.events.push_back(SwitchEvent::Unwatch(event));
        }
    }

    fn accept_signalled(
        &mut self,
        env: ConnectEnv<'_, '_>,
        listener: SocketId,
        provider: ProviderId,
        event: EventHandle,
    ) {
        let Some(AppSocket {
            state: SocketState::Listening(l),
            ..
        }) = self.sockets.get(&listener)
        else {
            return;
        };
        let Some(x) = l.san.iter().find(|x| x.event == event).copied() else {
            return;
        };
        // The application's queue of accepted connections is as long as its backlog: a peer
        // beyond it is refused (CF_REJECT), as a full backlog is (ACCEPT-2).
        let decision = if l.accepted.len() >= usize::try_from(l.backlog.max(1)).unwrap_or(1) {
            ConditionResult::Reject
        } else {
            l.decision
        };
        let address = l.address;
        let mut machine = AcceptMachine::new(x.socket, event, decision);
        if !matches!(
            env.providers.drive_on(provider, &mut machine, env.exec),
            Some(Ok(_))
        ) {
            return;
        }
        match machine.end() {
            Some(AcceptEnd::Accepted(a)) => {
                let family = if a.peer.is_ipv4() {
                    AddressFamily::INET
                } else {
                    AddressFamily::INET6
                };
                // The accepted connection is an application socket like any other.
                let Ok(tcp) = env.tcp.socket(family, SocketKind::Stream) else {
                    env.providers.close_only(provider, a.socket, env.exec);
                    return;
                };
                let id = SocketId(self.next_socket);
                self.next_socket += 1;
                // On a wildcard listener the connection's own address is the provider's
                // address facing the peer.
                let local = if address.ip().is_unspecified() {
                    env.providers
                        .local_address_for(provider, a.peer.ip())
                        .map_or(address, |ip| SocketAddr::new(ip, address.port()))
                } else {
                    address
                };
                self.sockets.insert(
                    id,
                    AppSocket {
                        tcp_bytes: (0, 0),
                        kind: SocketKind::Stream,
                        tcp,
                        local: Some(local),
                        options: Vec::new(),
                        state: SocketState::Connected {
                            via: Via::San(provider),
                            san: Some(a.socket),
                            remote: a.peer,
                            session: None,
                        },
                        queued_on: Some(listener),
                    },
                );
                env.providers.connection_opened(provider).ok();
                if let Some(AppSocket {
                    state: SocketState::Listening(l),
                    ..
                }) = self.sockets.get_mut(&listener)
                {
                    l.accepted.push_back(id);
                }
                // ACCEPT-3: with sessions on, the connection is the application's once its
                // session is negotiated.
                if self.start_session(env, id, Role::Acceptor, Announce::Accept { listener }) {
                    return;
                }
                self.events.push_back(SwitchEvent::Accepted {
                    listener,
                    socket: id,
                    provider,
                    peer: a.peer,
                });
            }
            Some(AcceptEnd::Rejected) => self
                .events
                .push_back(SwitchEvent::Rejected { listener, provider }),
            _ => {}
        }
    }

    /// Takes the next connection a listener accepted on a SAN provider.
    pub fn accept(&mut self, listener: SocketId) -> Result<Option<SocketId>, SocketError> {
        self.get(listener)?;
        let sockets = &self.sockets;
        let ready = |id: &SocketId| {
            !matches!(
                sockets.get(id).map(|s| &s.state),
                Some(SocketState::Negotiating(_))
            )
        };
        let first = match &self.get_ref(listener)?.state {
            SocketState::Listening(l) => l.accepted.iter().position(ready),
            _ => None,
        };
        let taken = match &mut self.get(listener)?.state {
            SocketState::Listening(l) => first.and_then(|i| l.accepted.remove(i)),
            other => {
                return Err(SocketError::WrongState {
                    socket: listener,
                    state: other.name(),
                    call: "accept",
                });
            }
        };
        if let Some(s) = taken.and_then(|id| self.sockets.get_mut(&id)) {
            s.queued_on = None;
        }
        Ok(taken)
    }

    /// The SAN providers a listener listens on.
    pub fn listening_on(&self, listener: SocketId) -> Vec<ProviderId> {
        match self.sockets.get(&listener).map(|s| &s.state) {
            Some(SocketState::Listening(l)) => l.san.iter().map(|x| x.provider).collect(),
            _ => Vec::new(),
        }
    }

    /// Cancels a pending connect (CONN-6): the companion socket is closed and the socket is
    /// open again, unconnected.
    pub fn cancel(&mut self, env: ConnectEnv<'_, '_>, id: SocketId) -> Result<(), SocketError> {
        let s = self.get(id)?;
        let SocketState::Connecting(a) = &mut s.state else {
            return Err(SocketError::WrongState {
                socket: id,
                state: s.state.name(),
                call: "cancel a connect",
            });
        };
        a.machine.cancel();
        self.run_attempt(env, id).map(|_| ())
    }

    /// Closes the socket: its TCP/IP socket, and its SAN socket or pending attempt.
    pub fn close(
        &mut self,
        mut env: ConnectEnv<'_, '_>,
        id: SocketId,
    ) -> Result<Option<ProviderId>, SocketError> {
        if let SocketState::Connecting(_) = self.get(id)?.state {
            self.cancel(env.reborrow(), id)?;
        }
        let s = self
            .sockets
            .remove(&id)
            .ok_or(SocketError::UnknownSocket(id))?;
        // An accepted connection closed before the application took it leaves its
        // listener's queue.
        if let Some(AppSocket {
            state: SocketState::Listening(l),
            ..
        }) = s.queued_on.and_then(|l| self.sockets.get_mut(&l))
        {
            l.accepted.retain(|x| *x != id);
        }
        self.listeners.remove(&id);
        if let SocketState::Listening(l) = &s.state {
            // Its SAN listening sockets close, and so do the connections it accepted that the
            // application never took (ACCEPT-4).
            for x in &l.san {
                self.release(x.event);
                env.providers.close_only(x.provider, x.socket, env.exec);
            }
            for taken in &l.accepted {
                let _ = self.close(env.reborrow(), *taken);
            }
        }
        let mut closed_on = None;
        match s.state {
            SocketState::Connected {
                via: Via::San(p),
                san: Some(san),
                session,
                ..
            } => {
                match session {
                    Some(session) => self.close_session(env.providers, env.exec, p, san, session),
                    None => env.providers.close_socket(p, san, env.exec),
                }
                closed_on = Some(p);
            }
            SocketState::Negotiating(n) => {
                self.close_session(env.providers, env.exec, n.provider, n.san, n.session);
                closed_on = Some(n.provider);
            }
            _ => {}
        }
        env.tcp.close(s.tcp).map_err(|error| SocketError::Tcp {
            socket: id,
            call: "closesocket",
            error,
        })?;
        Ok(closed_on)
    }

    pub fn poll(&mut self) -> Option<SwitchEvent> {
        self.events.pop_front()
    }

    /// The connection a socket has, if it is connected: through which provider, to where.
    pub fn connection(&self, id: SocketId) -> Option<(Via, SocketAddr, Option<SocketAddr>)> {
        match self.sockets.get(&id)? {
            AppSocket {
                state: SocketState::Connected { via, remote, .. },
                local,
                ..
            } => Some((*via, *remote, *local)),
            _ => None,
        }
    }

    fn connect_tcp(
        &mut self,
        tcp: &mut dyn TcpProvider,
        id: SocketId,
        dest: SocketAddr,
        reason: ConnectReason,
    ) -> Result<ConnectResult, SocketError> {
        let s = self.get(id)?;
        let answer = match tcp.connect(s.tcp, dest) {
            // The TCP/IP provider goes on with the connect in the background: the switch's
            // part is done, the connection is TCP's.
            Err(WsaError::WSAEWOULDBLOCK) => Ok(s.local.unwrap_or_else(|| {
                SocketAddr::new(
                    if dest.is_ipv4() {
                        IpAddr::from([0, 0, 0, 0])
                    } else {
                        IpAddr::from([0u16; 8])
                    },
                    0,
                )
            })),
            other => other,
        };
        match answer {
            Ok(local) => {
                s.local = Some(local);
                s.state = SocketState::Connected {
                    via: Via::Tcp,
                    san: None,
                    remote: dest,
                    session: None,
                };
                Ok(ConnectResult {
                    result: Ok(Via::Tcp),
                    reason,
                })
            }
            Err(error) => {
                s.state = SocketState::Open;
                Ok(ConnectResult {
                    result: Err(error),
                    reason,
                })
            }
        }
    }

    /// Drives the socket's attempt as far as it goes now, and finishes the connect if it
    /// ended.
    fn run_attempt(
        &mut self,
        env: ConnectEnv<'_, '_>,
        id: SocketId,
    ) -> Result<ConnectStatus, SocketError> {
        let s = self.get(id)?;
        let SocketState::Connecting(a) = &mut s.state else {
            return Ok(ConnectStatus::Pending);
        };
        let provider = a.provider;
        let driven = env.providers.drive_on(provider, &mut a.machine, env.exec);
        let end = match driven {
            Some(Ok(_)) => match a.machine.end() {
                Some(end) => end,
                None => return Ok(ConnectStatus::Pending),
            },
            // The machine overran: nothing was established; its companion socket, if open,
            // is closed here, and the attempt ends where it was heading or falls back.
            Some(Err(Overrun { .. })) => {
                if let Some(c) = a.machine.companion() {
                    env.providers.close_only(provider, c, env.exec);
                }
                a.machine
                    .heading()
                    .unwrap_or(AttemptEnd::Fallback(WsaError::WSAENETDOWN))
            }
            // The provider is gone (taken down after a panic): its sockets went with its
            // cleanup; the attempt ends where it was heading (a cancel stays a cancel) or
            // falls back.
            None => a
                .machine
                .heading()
                .unwrap_or(AttemptEnd::Fallback(WsaError::WSAENETDOWN)),
        };
        let (dest, event, route, deadline, expired) =
            (a.dest, a.machine.event(), a.route, a.deadline, a.expired);
        self.release(event);
        if let Some(t) = deadline {
            self.deadlines.remove(&(t, id));
        }
        if !matches!(end, AttemptEnd::Established(_)) {
            // The attempt no longer counts; a retiring provider whose last one this was is
            // taken down now (HOT-3).
            let _ = env.providers.connection_closed(provider, env.exec);
        }
        let s = self.get(id)?;
        let result = match end {
            AttemptEnd::Established(san) => {
                // Counted since the attempt began.
                s.state = SocketState::Connected {
                    via: Via::San(provider),
                    san: Some(san),
                    remote: dest,
                    session: None,
                };
                // CONN-7: the connect completes once the session is negotiated.
                if self.start_session(env, id, Role::Connector, Announce::Connect(route)) {
                    return Ok(ConnectStatus::Pending);
                }
                ConnectResult {
                    result: Ok(Via::San(provider)),
                    reason: ConnectReason::Route(route),
                }
            }
            AttemptEnd::Fatal(error) => {
                s.state = SocketState::Open;
                ConnectResult {
                    result: Err(error),
                    reason: ConnectReason::SanConnectFatal { provider, error },
                }
            }
            AttemptEnd::Cancelled if expired => {
                self.remember_fallback(dest.ip());
                self.connect_tcp(env.tcp, id, dest, ConnectReason::SanDeadline { provider })?
            }
            AttemptEnd::Cancelled => {
                s.state = SocketState::Open;
                return Ok(ConnectStatus::Pending);
            }
            AttemptEnd::CompanionFailed(error) => {
                self.remember_fallback(dest.ip());
                self.connect_tcp(
                    env.tcp,
                    id,
                    dest,
                    ConnectReason::CompanionSocketFailed { provider, error },
                )?
            }
            AttemptEnd::Fallback(error) => {
                self.remember_fallback(dest.ip());
                self.connect_tcp(
                    env.tcp,
                    id,
                    dest,
                    ConnectReason::SanConnectFailed { provider, error },
                )?
            }
        };
        if result.result.is_ok_and(|v| v != Via::Tcp) {
            self.negative.remove(&dest.ip());
        }
        self.finished(&result);
        Ok(ConnectStatus::Done(result))
    }
}

/// Whether the switch replays `option` on a companion socket (CONN-2): `SO_DEBUG`, and the QoS
/// group options for a provider that takes QoS.
fn forwarded(option: &StoredOption, qos: bool) -> bool {
    option.level == SOL_SOCKET
        && (option.name == SO_DEBUG
            || (qos && matches!(option.name, SO_GROUP_ID | SO_GROUP_PRIORITY)))
}

/// Whether a provider record's flags promise QoS.
pub(crate) fn takes_qos(flags: ServiceFlags) -> bool {
    flags.contains(ServiceFlags::QOS_SUPPORTED)
}
