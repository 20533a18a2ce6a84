//! The SAN side of the fabric: the sockets of attached mock providers, their listeners, queued
//! connects and connect results.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;

use spi_types::{NetworkEvents, WsaError, WsaNetworkEvents};
use switch_core::provider::{Accepted, ConditionArgs, EventHandle, ProviderSocket};

use super::data::{DataEnd, Upcall};
use super::{
    EndRecord, Fabric, FabricError, ProviderReg, SanKey, State, Transport, effective_backlog,
    unspecified,
};
use crate::provider::SharedConfig;
use crate::registry::{Registry, SharedRegistry};

/// A mock provider's place on a fabric. Dropping it withdraws the provider (as `WSPCleanup`
/// does); its open sockets stay counted.
pub(crate) struct SanAttachment {
    pub(super) fabric: Fabric,
    provider: usize,
    host: usize,
}

impl std::fmt::Debug for SanAttachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SanAttachment")
            .field("provider", &self.provider)
            .field("host", &self.host)
            .finish()
    }
}

/// A SAN socket as the fabric knows it.
pub(super) struct SanEndpoint {
    host: usize,
    bound: Option<SocketAddr>,
    event: Option<EventHandle>,
    selected: NetworkEvents,
    pub(super) listen: Option<ListenQueue>,
    connect: ConnectState,
    /// The connection it is an end of, and whether it is the caller's end.
    connection: Option<(usize, bool)>,
    /// Its messages, requests and peer.
    pub(super) data: DataEnd,
}

impl SanEndpoint {
    fn new(host: usize) -> Self {
        SanEndpoint {
            host,
            bound: None,
            event: None,
            selected: NetworkEvents::empty(),
            listen: None,
            connect: ConnectState::Idle,
            connection: None,
            data: DataEnd::default(),
        }
    }

    /// The event to signal for `events`, if the socket selected them.
    fn event_for(&self, events: NetworkEvents) -> Option<EventHandle> {
        self.event.filter(|_| self.selected.intersects(events))
    }
}

/// A listening socket's state.
pub(super) struct ListenQueue {
    address: SocketAddr,
    pub(super) backlog: usize,
    /// Connects not yet accepted, oldest first.
    pub(super) queue: VecDeque<SanKey>,
    /// `FD_ACCEPT` was signalled and no `WSPAccept` has re-enabled it since.
    signalled: bool,
}

/// Where a socket's connect stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ConnectState {
    /// No connect (or the last one failed and was reported).
    Idle,
    /// Under way: queued on a listener, or its result is on the way.
    Waiting {
        attempt: u64,
        dest: SocketAddr,
        queued_on: Option<SanKey>,
    },
    /// Decided; `WSPEnumNetworkEvents` has not reported it yet.
    Decided(Result<(), WsaError>),
    /// Connected, and reported.
    Connected,
}

/// The connect a `WSPAccept` would take, offered to the condition function.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AcceptOffer {
    caller: SanKey,
    /// What the condition function is given.
    pub(crate) args: ConditionArgs,
}

/// What came of the condition function.
#[derive(Debug, Clone, Copy)]
pub(crate) enum AcceptDecision {
    /// `CF_DEFER`.
    Defer,
    /// `CF_REJECT`.
    Reject,
    /// `CF_ACCEPT`, with the socket the provider made for the connection or the error that
    /// prevented making one.
    Accept(Result<ProviderSocket, WsaError>),
}

/// How a connect ends when `WSPConnect` is called.
enum Outcome {
    /// Decided at once.
    Now(WsaError),
    /// Decided, delivered after the connecting provider's delay.
    Later(WsaError),
    /// Queued on this listener.
    Queued(SanKey),
}

impl SanAttachment {
    /// Attaches a provider instance over `config` to `host`: `started` says whether it is
    /// started, `sockets` are the sockets it has open, `registry` its memory registrations
    /// (whose handles get the instance's tag from now on).
    pub(crate) fn attach(
        fabric: &Fabric,
        host: usize,
        config: &SharedConfig,
        registry: &SharedRegistry,
        started: bool,
        sockets: impl IntoIterator<Item = ProviderSocket>,
    ) -> Result<Self, FabricError> {
        fabric.add_host_config(host, config)?;
        let mut s = fabric.lock();
        let provider = s.providers.len();
        let mut open_sockets = 0;
        for socket in sockets {
            s.san
                .insert(SanKey { provider, socket }, SanEndpoint::new(host));
            open_sockets += 1;
        }
        s.providers.push(ProviderReg {
            index: provider,
            host,
            config: Arc::clone(config),
            started,
            listeners: BTreeMap::new(),
            open_sockets,
            reset_at_cleanup: 0,
            registry: Arc::downgrade(registry),
        });
        Registry::lock(registry).set_tag(provider as u64 + 1);
        Ok(SanAttachment {
            fabric: fabric.clone(),
            provider,
            host,
        })
    }

    /// The host it is attached to.
    pub(crate) fn host(&self) -> usize {
        self.host
    }

    /// The fabric it is attached to.
    pub(crate) fn fabric(&self) -> &Fabric {
        &self.fabric
    }

    pub(super) fn key(&self, socket: ProviderSocket) -> SanKey {
        SanKey {
            provider: self.provider,
            socket,
        }
    }

    /// The provider started (serves its addresses) or cleaned up (withdrawn).
    pub(crate) fn set_started(&self, started: bool) {
        let mut s = self.fabric.lock();
        if started {
            if let Some(p) = s.providers.get_mut(self.provider) {
                p.started = true;
            }
        } else {
            s.withdraw(self.provider);
        }
    }

    /// `WSPSocket` (or an accepted socket that is not the fabric's doing) opened `socket`.
    pub(crate) fn socket_opened(&self, socket: ProviderSocket) {
        let mut s = self.fabric.lock();
        s.san.insert(self.key(socket), SanEndpoint::new(self.host));
        if let Some(p) = s.providers.get_mut(self.provider) {
            p.open_sockets += 1;
        }
    }

    /// `WSPBind`, once the provider has checked the address is its own (or a wildcard).
    pub(crate) fn bind(&self, socket: ProviderSocket, address: SocketAddr) -> Result<(), WsaError> {
        let mut s = self.fabric.lock();
        let key = self.key(socket);
        let ep = s.san.get(&key).ok_or(WsaError::WSAENOTSOCK)?;
        if ep.bound.is_some() {
            return Err(WsaError::WSAEINVAL);
        }
        let port = match address.port() {
            0 => s.ephemeral_port(self.host),
            p => p,
        };
        if let Some(ep) = s.san.get_mut(&key) {
            ep.bound = Some(SocketAddr::new(address.ip(), port));
        }
        Ok(())
    }

    /// `WSPListen`.
    pub(crate) fn listen(&self, socket: ProviderSocket, backlog: i32) -> Result<(), WsaError> {
        self.fabric.lock().san_listen(self.key(socket), backlog)
    }

    /// `WSPConnect`.
    pub(crate) fn connect(&self, socket: ProviderSocket, dest: SocketAddr) -> Result<(), WsaError> {
        self.fabric.lock().san_connect(self.key(socket), dest)
    }

    /// The first half of `WSPAccept`: the oldest queued connect, for the condition function.
    pub(crate) fn accept_offer(&self, socket: ProviderSocket) -> Result<AcceptOffer, WsaError> {
        self.fabric.lock().accept_offer(self.key(socket))
    }

    /// The second half of `WSPAccept`: what the condition function decided.
    pub(crate) fn accept_finish(
        &self,
        socket: ProviderSocket,
        offer: AcceptOffer,
        decision: AcceptDecision,
    ) -> Result<Accepted, WsaError> {
        self.fabric
            .lock()
            .accept_finish(self.key(socket), offer, decision)
    }

    /// `WSPEventSelect`, once the provider has checked the events.
    pub(crate) fn event_select(
        &self,
        socket: ProviderSocket,
        event: EventHandle,
        events: NetworkEvents,
    ) -> Result<(), WsaError> {
        self.fabric
            .lock()
            .san_event_select(self.key(socket), event, events)
    }

    /// `WSPEnumNetworkEvents`.
    pub(crate) fn enum_network_events(
        &self,
        socket: ProviderSocket,
    ) -> Result<WsaNetworkEvents, WsaError> {
        self.fabric.lock().san_enum(self.key(socket))
    }

    /// `WSPCloseSocket`: answers the completions to up-call (CLOSE-1), which the provider
    /// makes once the fabric is unlocked and before its `WPUCloseSocketHandle`.
    pub(crate) fn close(&self, socket: ProviderSocket) -> Result<Vec<Upcall>, WsaError> {
        self.fabric.lock().san_close(self.key(socket))
    }

    /// The provider's last `WSPCleanup` found `socket` still open: closed as by
    /// `WSPCloseSocket`, and counted (`Fabric::reset_at_cleanup`).
    pub(crate) fn reset_at_cleanup(&self, socket: ProviderSocket) -> Result<Vec<Upcall>, WsaError> {
        let mut s = self.fabric.lock();
        let upcalls = s.san_close(self.key(socket))?;
        if let Some(p) = s.providers.get_mut(self.provider) {
            p.reset_at_cleanup += 1;
        }
        Ok(upcalls)
    }
}

impl Drop for SanAttachment {
    fn drop(&mut self) {
        let mut s = self.fabric.lock();
        s.withdraw(self.provider);
        s.drop_rdma_of(self.provider);
    }
}

impl State {
    fn provider_delay(&self, provider: usize) -> u64 {
        self.providers
            .get(provider)
            .map_or(0, |p| p.cfg().connect_delay_ms)
    }

    fn provider_name(&self, provider: usize) -> String {
        self.providers
            .get(provider)
            .map_or_else(String::new, ProviderReg::name)
    }

    /// The provider stops serving: no more connects reach it, its listeners stop listening and
    /// their queued connects are refused.
    fn withdraw(&mut self, provider: usize) {
        let Some(p) = self.providers.get_mut(provider) else {
            return;
        };
        p.started = false;
        let listeners = std::mem::take(&mut p.listeners);
        for socket in listeners.into_values() {
            let key = SanKey { provider, socket };
            if let Some(l) = self.san.get_mut(&key).and_then(|e| e.listen.take()) {
                self.refuse_queued(l.queue);
            }
        }
    }

    /// Refuses every connect of `queue` (their listener is gone).
    fn refuse_queued(&mut self, queue: VecDeque<SanKey>) {
        for caller in queue {
            self.settle(caller, Err(WsaError::WSAECONNREFUSED));
        }
    }

    /// The listener's side decided the queued or timed connect of `caller`: the result reaches
    /// it after its provider's delay.
    fn settle(&mut self, caller: SanKey, result: Result<(), WsaError>) {
        let Some(ep) = self.san.get_mut(&caller) else {
            return;
        };
        let ConnectState::Waiting {
            attempt, queued_on, ..
        } = &mut ep.connect
        else {
            return;
        };
        *queued_on = None;
        let attempt = *attempt;
        match self.provider_delay(caller.provider) {
            0 => self.decide(caller, attempt, result),
            delay => self.set_timer(delay, caller, attempt, result),
        }
    }

    /// Connect `attempt` of `socket` has its result: it is recorded for
    /// `WSPEnumNetworkEvents` and `FD_CONNECT` is signalled. Nothing happens if the socket
    /// closed or moved on to another attempt.
    pub(super) fn decide(&mut self, socket: SanKey, attempt: u64, result: Result<(), WsaError>) {
        let Some(ep) = self.san.get_mut(&socket) else {
            return;
        };
        if !matches!(ep.connect, ConnectState::Waiting { attempt: a, .. } if a == attempt) {
            return;
        }
        ep.connect = ConnectState::Decided(result);
        if let Some(event) = ep.event_for(NetworkEvents::CONNECT) {
            let host = ep.host;
            self.signal(host, event);
        }
    }

    /// Signals a listener's `FD_ACCEPT` if connects are queued, it selected `FD_ACCEPT`, and
    /// no signal is outstanding.
    fn signal_accept(&mut self, listener: SanKey) {
        let Some(ep) = self.san.get_mut(&listener) else {
            return;
        };
        let event = ep.event_for(NetworkEvents::ACCEPT);
        let host = ep.host;
        let Some(l) = ep.listen.as_mut() else {
            return;
        };
        if let Some(event) = event.filter(|_| !l.signalled && !l.queue.is_empty()) {
            l.signalled = true;
            self.signal(host, event);
        }
    }

    fn san_listen(&mut self, key: SanKey, backlog: i32) -> Result<(), WsaError> {
        let ep = self.san.get_mut(&key).ok_or(WsaError::WSAENOTSOCK)?;
        let backlog = effective_backlog(backlog);
        match ep.connect {
            ConnectState::Idle => {}
            ConnectState::Connected => return Err(WsaError::WSAEISCONN),
            _ => return Err(WsaError::WSAEINVAL),
        }
        if let Some(l) = ep.listen.as_mut() {
            // Listening again changes the backlog only.
            l.backlog = backlog;
            return Ok(());
        }
        let address = ep.bound.ok_or(WsaError::WSAEINVAL)?;
        let p = self
            .providers
            .get_mut(key.provider)
            .ok_or(WsaError::WSAENOTSOCK)?;
        if p.listeners.contains_key(&address) {
            return Err(WsaError::WSAEADDRINUSE);
        }
        p.listeners.insert(address, key.socket);
        if let Some(ep) = self.san.get_mut(&key) {
            ep.listen = Some(ListenQueue {
                address,
                backlog,
                queue: VecDeque::new(),
                signalled: false,
            });
        }
        Ok(())
    }

    /// The started provider on `fabric` that lists `ip`, the first attached if several do.
    fn serving(&self, fabric: &str, ip: std::net::IpAddr) -> Option<usize> {
        self.providers.iter().position(|p| {
            p.started && {
                let c = p.cfg();
                c.fabric == fabric && c.addresses.contains(&ip) && !(c.ipv4_only && ip.is_ipv6())
            }
        })
    }

    /// `provider`'s listener for `dest`: on its address, else on the wildcard of its family.
    fn listener_for(&self, provider: usize, dest: SocketAddr) -> Option<SanKey> {
        let p = self.providers.get(provider)?;
        let any = SocketAddr::new(unspecified(dest.is_ipv4()), dest.port());
        p.listeners
            .get(&dest)
            .or_else(|| p.listeners.get(&any))
            .map(|&socket| SanKey { provider, socket })
    }

    /// The address a connecting socket uses: its bound address with a wildcard replaced by the
    /// provider's first address of the family (or the host's) and port 0 by an ephemeral port.
    fn connect_local(
        &mut self,
        key: SanKey,
        host: usize,
        bound: Option<SocketAddr>,
        v4: bool,
    ) -> SocketAddr {
        let ip = match bound {
            Some(b) if !b.ip().is_unspecified() => b.ip(),
            _ => {
                let own = self.providers.get(key.provider).and_then(|p| {
                    p.cfg()
                        .listed_addresses()
                        .into_iter()
                        .find(|a| a.is_ipv4() == v4)
                });
                own.unwrap_or_else(|| self.host_ip(host, v4))
            }
        };
        let port = match bound.map_or(0, |b| b.port()) {
            0 => self.ephemeral_port(host),
            p => p,
        };
        SocketAddr::new(ip, port)
    }

    fn san_connect(&mut self, key: SanKey, dest: SocketAddr) -> Result<(), WsaError> {
        let ep = self.san.get(&key).ok_or(WsaError::WSAENOTSOCK)?;
        if ep.listen.is_some() {
            return Err(WsaError::WSAEINVAL);
        }
        match ep.connect {
            ConnectState::Idle => {}
            ConnectState::Waiting { .. } | ConnectState::Decided(_) => {
                return Err(WsaError::WSAEALREADY);
            }
            ConnectState::Connected => return Err(WsaError::WSAEISCONN),
        }
        if dest.ip().is_unspecified() || dest.port() == 0 {
            return Err(WsaError::WSAEADDRNOTAVAIL);
        }
        if ep.bound.is_some_and(|b| b.is_ipv4() != dest.is_ipv4()) {
            return Err(WsaError::WSAEAFNOSUPPORT);
        }
        let (host, bound) = (ep.host, ep.bound);
        let p = self
            .providers
            .get(key.provider)
            .ok_or(WsaError::WSAENOTSOCK)?;
        let (forced, pending, delay, fabric) = {
            let c = p.cfg();
            (
                c.connect_errors.get(&dest.ip()).copied(),
                c.connect_pending,
                c.connect_delay_ms,
                c.fabric.clone(),
            )
        };
        let local = self.connect_local(key, host, bound, dest.is_ipv4());
        let outcome = if let Some(e) = forced {
            Outcome::Now(e)
        } else if self.owners(dest.ip()).is_empty() {
            Outcome::Now(WsaError::WSAEHOSTUNREACH)
        } else {
            match self.serving(&fabric, dest.ip()) {
                None if delay > 0 => Outcome::Later(WsaError::WSAETIMEDOUT),
                None => Outcome::Now(WsaError::WSAETIMEDOUT),
                Some(q) => match self.listener_for(q, dest) {
                    None => Outcome::Now(WsaError::WSAECONNREFUSED),
                    Some(l) => {
                        let full = self
                            .san
                            .get(&l)
                            .and_then(|e| e.listen.as_ref())
                            .is_none_or(|q| q.queue.len() >= q.backlog);
                        if full {
                            Outcome::Now(WsaError::WSAECONNREFUSED)
                        } else {
                            Outcome::Queued(l)
                        }
                    }
                },
            }
        };
        let attempt = self.next_attempt;
        self.next_attempt += 1;
        let Some(ep) = self.san.get_mut(&key) else {
            return Err(WsaError::WSAENOTSOCK);
        };
        // Connecting binds the socket.
        ep.bound = Some(local);
        let waiting = |queued_on| ConnectState::Waiting {
            attempt,
            dest,
            queued_on,
        };
        match outcome {
            Outcome::Now(e) if !pending => Err(e),
            Outcome::Now(e) => {
                ep.connect = waiting(None);
                self.decide(key, attempt, Err(e));
                Err(WsaError::WSAEWOULDBLOCK)
            }
            Outcome::Later(e) => {
                ep.connect = waiting(None);
                self.set_timer(delay, key, attempt, Err(e));
                Err(WsaError::WSAEWOULDBLOCK)
            }
            Outcome::Queued(l) => {
                ep.connect = waiting(Some(l));
                if let Some(q) = self.san.get_mut(&l).and_then(|e| e.listen.as_mut()) {
                    q.queue.push_back(key);
                }
                self.signal_accept(l);
                Err(WsaError::WSAEWOULDBLOCK)
            }
        }
    }

    fn accept_offer(&mut self, key: SanKey) -> Result<AcceptOffer, WsaError> {
        let ep = self.san.get_mut(&key).ok_or(WsaError::WSAENOTSOCK)?;
        let l = ep.listen.as_mut().ok_or(WsaError::WSAEINVAL)?;
        // Calling WSPAccept re-enables FD_ACCEPT.
        l.signalled = false;
        let port = l.address.port();
        let &caller = l.queue.front().ok_or(WsaError::WSAEWOULDBLOCK)?;
        let (local, dest) = match self.san.get(&caller) {
            Some(SanEndpoint {
                bound: Some(local),
                connect: ConnectState::Waiting { dest, .. },
                ..
            }) => (*local, *dest),
            // Closing a socket takes it out of the queue, so this does not happen; should it,
            // the connect is dropped as reset.
            _ => {
                if let Some(l) = self.san.get_mut(&key).and_then(|e| e.listen.as_mut()) {
                    l.queue.pop_front();
                }
                self.signal_accept(key);
                return Err(WsaError::WSAECONNRESET);
            }
        };
        Ok(AcceptOffer {
            caller,
            args: ConditionArgs {
                caller: local,
                callee: SocketAddr::new(dest.ip(), port),
            },
        })
    }

    fn accept_finish(
        &mut self,
        key: SanKey,
        offer: AcceptOffer,
        decision: AcceptDecision,
    ) -> Result<Accepted, WsaError> {
        let ep = self.san.get_mut(&key).ok_or(WsaError::WSAENOTSOCK)?;
        let host = ep.host;
        let l = ep.listen.as_mut().ok_or(WsaError::WSAEINVAL)?;
        if l.queue.front() != Some(&offer.caller) {
            // The queue changed while the condition function ran (another thread): the
            // connect offered is gone.
            return Err(WsaError::WSAECONNRESET);
        }
        let made = match decision {
            AcceptDecision::Defer => return Err(WsaError::WSATRY_AGAIN),
            AcceptDecision::Reject => Err(WsaError::WSAECONNREFUSED),
            AcceptDecision::Accept(made) => made,
        };
        l.queue.pop_front();
        let answer = match made {
            // Rejected, or no socket could be made for it: the caller is refused.
            Err(e) => {
                self.settle(offer.caller, Err(WsaError::WSAECONNREFUSED));
                Err(e)
            }
            Ok(socket) => {
                let caller_host = self.san.get(&offer.caller).map_or(host, |e| e.host);
                let id = self.add_connection(
                    EndRecord {
                        host: caller_host,
                        address: offer.args.caller,
                        transport: Transport::San(self.provider_name(offer.caller.provider)),
                        open: true,
                    },
                    EndRecord {
                        host,
                        address: offer.args.callee,
                        transport: Transport::San(self.provider_name(key.provider)),
                        open: true,
                    },
                );
                let accepted = SanKey {
                    provider: key.provider,
                    socket,
                };
                self.san.insert(
                    accepted,
                    SanEndpoint {
                        bound: Some(offer.args.callee),
                        connect: ConnectState::Connected,
                        connection: Some((id, false)),
                        ..SanEndpoint::new(host)
                    },
                );
                if let Some(p) = self.providers.get_mut(key.provider) {
                    p.open_sockets += 1;
                }
                if let Some(a) = self.san.get_mut(&accepted) {
                    a.data.peer = Some(offer.caller);
                }
                if let Some(c) = self.san.get_mut(&offer.caller) {
                    c.connection = Some((id, true));
                    c.data.peer = Some(accepted);
                }
                self.settle(offer.caller, Ok(()));
                Ok(Accepted {
                    socket,
                    peer: offer.args.caller,
                })
            }
        };
        self.signal_accept(key);
        answer
    }

    fn san_event_select(
        &mut self,
        key: SanKey,
        event: EventHandle,
        events: NetworkEvents,
    ) -> Result<(), WsaError> {
        let ep = self.san.get_mut(&key).ok_or(WsaError::WSAENOTSOCK)?;
        ep.event = Some(event);
        ep.selected = events;
        if let Some(l) = ep.listen.as_mut() {
            // Selecting FD_ACCEPT while connects are queued signals at once.
            l.signalled = false;
        }
        let connect_ready = matches!(ep.connect, ConnectState::Decided(_))
            .then(|| ep.event_for(NetworkEvents::CONNECT))
            .flatten();
        let host = ep.host;
        self.signal_accept(key);
        if let Some(event) = connect_ready {
            self.signal(host, event);
        }
        Ok(())
    }

    fn san_enum(&mut self, key: SanKey) -> Result<WsaNetworkEvents, WsaError> {
        let ep = self.san.get_mut(&key).ok_or(WsaError::WSAENOTSOCK)?;
        let mut events = WsaNetworkEvents::default();
        if let Some(l) = ep.listen.as_mut() {
            if l.queue.is_empty() {
                // The connect that was signalled went away (cancelled, closed, timed out)
                // before it was accepted: nothing will call WSPAccept, so FD_ACCEPT is
                // re-enabled here, and the next connect signals again.
                l.signalled = false;
            } else {
                events.set(NetworkEvents::ACCEPT, None);
            }
        }
        if let ConnectState::Decided(result) = ep.connect {
            events.set(NetworkEvents::CONNECT, result.err());
            ep.connect = match result {
                Ok(()) => ConnectState::Connected,
                Err(_) => ConnectState::Idle,
            };
        }
        Ok(events)
    }

    fn san_close(&mut self, key: SanKey) -> Result<Vec<Upcall>, WsaError> {
        let mut ep = self.san.remove(&key).ok_or(WsaError::WSAENOTSOCK)?;
        let upcalls = self.close_data(key, &mut ep.data);
        if let Some(p) = self.providers.get_mut(key.provider) {
            p.open_sockets = p.open_sockets.saturating_sub(1);
            if let Some(l) = &ep.listen
                && p.listeners.get(&l.address) == Some(&key.socket)
            {
                p.listeners.remove(&l.address);
            }
        }
        if let Some(l) = ep.listen {
            self.refuse_queued(l.queue);
        }
        if let ConnectState::Waiting {
            queued_on: Some(listener),
            ..
        } = ep.connect
            && let Some(l) = self.san.get_mut(&listener).and_then(|e| e.listen.as_mut())
        {
            l.queue.retain(|c| *c != key);
        }
        if let Some((id, caller)) = ep.connection {
            self.close_end(id, caller);
        }
        Ok(upcalls)
    }
}
