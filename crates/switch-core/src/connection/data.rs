//! The application's data on its connections: sends, receives and shutdown through the SAN
//! session or TCP/IP, the same calls either way (SESS-1..6), and the switch's side of the
//! sessions: starting them (CONN-7, ACCEPT-3), routing completions to them (SESS-5), closing
//! them (MEM-3, CLOSE-1) and releasing their memory (MEM-2).

use std::collections::{BTreeSet, VecDeque};

use spi_types::{MsgFlags, SanExtension, WsaError};

use super::{
    Announce, AppSocket, ConnectEnv, ConnectReason, ConnectResult, Connections, Negotiating,
    SocketError, SocketId, SocketState, SwitchEvent, Via,
};
use crate::call::{Answer, Finished, NextCall, ProviderMachine};
use crate::executor::Executor;
use crate::id::ProviderId;
use crate::memory::Buffer;
use crate::provider::{ProviderSocket, Shutdown};
use crate::providers::Providers;
use crate::session::conn::{
    Counters, DataPath, Entries, Piece, Role, SendId, SendReport, Session, SessionError,
    SessionEvent,
};
use crate::upcall::Completion;

/// A fixed list of calls whose answers change nothing: the MEM-2 cache callbacks.
struct CallList(VecDeque<NextCall>);

impl ProviderMachine for CallList {
    fn next_call(&self) -> Option<NextCall> {
        self.0.front().cloned()
    }

    fn advance(&mut self, _: Answer) -> Result<(), Finished> {
        self.0.pop_front().map(|_| ()).ok_or(Finished)
    }

    fn call_budget(&self) -> usize {
        self.0.len()
    }
}

/// The extension entry points a session on provider `p` calls; `None` when a mandatory one
/// is missing (a ready provider always has them).
fn entries(env: &ConnectEnv<'_, '_>, p: ProviderId) -> Option<Entries> {
    let e = |x| env.providers.extension(p, x);
    Some(Entries {
        register: e(SanExtension::RegisterMemory)?,
        deregister: e(SanExtension::DeregisterMemory)?,
        register_rdma: e(SanExtension::RegisterRdmaMemory)?,
        deregister_rdma: e(SanExtension::DeregisterRdmaMemory)?,
        rdma_write: e(SanExtension::RdmaWrite)?,
        rdma_read: e(SanExtension::RdmaRead),
    })
}

/// The session of a socket, and its provider.
fn session_of(s: &mut AppSocket) -> Option<(ProviderId, &mut Session)> {
    match &mut s.state {
        SocketState::Negotiating(n) => Some((n.provider, n.session.as_mut())),
        SocketState::Connected {
            via: Via::San(p),
            session: Some(session),
            ..
        } => Some((*p, session.as_mut())),
        _ => None,
    }
}

impl Connections {
    /// Starts the session of the SAN connection `id`, just established; answers whether it
    /// did (sessions are on and the provider has the memory extensions). The connection then
    /// negotiates, and becomes the application's when the session says so.
    pub(super) fn start_session(
        &mut self,
        env: ConnectEnv<'_, '_>,
        id: SocketId,
        role: Role,
        announce: Announce,
    ) -> bool {
        let Some(config) = self.session else {
            return false;
        };
        let Some(s) = self.sockets.get_mut(&id) else {
            return false;
        };
        let SocketState::Connected {
            via: Via::San(provider),
            san: Some(san),
            remote,
            session: None,
        } = s.state
        else {
            return false;
        };
        let Some(entries) = entries(&env, provider) else {
            return false;
        };
        self.next_serial += 1;
        let serial = self.next_serial;
        s.state = SocketState::Negotiating(Box::new(Negotiating {
            provider,
            san,
            remote,
            session: Box::new(Session::new(san, role, entries, config, serial)),
            announce,
        }));
        self.serials.insert(serial, id);
        self.drive_session(env, id);
        true
    }

    /// Makes the calls the session of `id` asks for, then acts on what it says.
    fn drive_session(&mut self, mut env: ConnectEnv<'_, '_>, id: SocketId) {
        let Some((provider, session)) = self.sockets.get_mut(&id).and_then(session_of) else {
            return;
        };
        match env.providers.drive_on(provider, session, env.exec) {
            Some(Ok(_)) => {}
            Some(Err(_)) => session.abort(SessionError::Overrun),
            None => session.abort(SessionError::Provider {
                call: "a provider call",
                error: WsaError::WSAENETDOWN,
            }),
        }
        let released = session.take_released();
        let mut events = Vec::new();
        while let Some(e) = session.poll_event() {
            events.push(e);
        }
        release_memory(env.providers, env.exec, released);
        for e in events {
            self.on_session_event(env.reborrow(), id, e);
        }
    }

    fn on_session_event(&mut self, env: ConnectEnv<'_, '_>, id: SocketId, event: SessionEvent) {
        match event {
            SessionEvent::Negotiated => {
                let Some(s) = self.sockets.get_mut(&id) else {
                    return;
                };
                let SocketState::Negotiating(n) =
                    std::mem::replace(&mut s.state, SocketState::Open)
                else {
                    return;
                };
                let n = *n;
                s.state = SocketState::Connected {
                    via: Via::San(n.provider),
                    san: Some(n.san),
                    remote: n.remote,
                    session: Some(n.session),
                };
                match n.announce {
                    Announce::Connect(route) => {
                        let result = ConnectResult {
                            result: Ok(Via::San(n.provider)),
                            reason: ConnectReason::Route(route),
                        };
                        self.negative.remove(&n.remote.ip());
                        self.finished(&result);
                        self.events
                            .push_back(SwitchEvent::Connected { socket: id, result });
                    }
                    Announce::Accept { listener } => self.events.push_back(SwitchEvent::Accepted {
                        listener,
                        socket: id,
                        provider: n.provider,
                        peer: n.remote,
                    }),
                }
            }
            SessionEvent::NegotiationFailed(error) => {
                tracing::debug!(target: "switch_core::session", %error, %id, "negotiation failed");
                let Some(s) = self.sockets.get_mut(&id) else {
                    return;
                };
                let SocketState::Negotiating(n) =
                    std::mem::replace(&mut s.state, SocketState::Open)
                else {
                    return;
                };
                let n = *n;
                let tcp = s.tcp;
                self.close_session(env.providers, env.exec, n.provider, n.san, n.session);
                match n.announce {
                    Announce::Connect(_) => {
                        let result = ConnectResult {
                            result: Err(WsaError::WSAECONNRESET),
                            reason: ConnectReason::SessionFailed {
                                provider: n.provider,
                            },
                        };
                        self.finished(&result);
                        self.events
                            .push_back(SwitchEvent::Connected { socket: id, result });
                    }
                    Announce::Accept { listener } => {
                        // The connection never became the application's: it goes, quietly.
                        if let Some(SocketState::Listening(l)) =
                            self.sockets.get_mut(&listener).map(|s| &mut s.state)
                        {
                            l.accepted.retain(|x| *x != id);
                        }
                        self.sockets.remove(&id);
                        let _ = env.tcp.close(tcp);
                    }
                }
            }
            SessionEvent::Sent { send, result } => self.events.push_back(SwitchEvent::Sent {
                socket: id,
                send,
                result,
            }),
            SessionEvent::Readable => self.events.push_back(SwitchEvent::Readable { socket: id }),
            SessionEvent::Failed(error) => {
                tracing::debug!(target: "switch_core::session", %error, %id, "session failed");
                // The peer must learn: the provider socket closes now, so the peer's receives
                // fail (CLOSE-1). The application keeps its socket; its receives and sends
                // answer the error until it closes.
                let Some(s) = self.sockets.get_mut(&id) else {
                    return;
                };
                let SocketState::Connected {
                    via: Via::San(p),
                    san,
                    session,
                    ..
                } = &mut s.state
                else {
                    return;
                };
                let (p, Some(sock), Some(mut sess)) = (*p, san.take(), session.take()) else {
                    return;
                };
                let events = self.shut_session(env.providers, env.exec, p, sock, &mut sess);
                if let Some(SocketState::Connected { session, .. }) =
                    self.sockets.get_mut(&id).map(|s| &mut s.state)
                {
                    *session = Some(sess);
                }
                self.announce(id, events, true);
            }
        }
    }

    /// Closes a session's socket (MEM-3, CLOSE-1): the registrations no pending call uses
    /// are released, the provider socket is closed, the sends still pending fail, and the
    /// session's memory goes through MEM-2.
    pub(super) fn close_session(
        &mut self,
        providers: &mut Providers,
        exec: &mut Executor<'_>,
        provider: ProviderId,
        san: ProviderSocket,
        mut session: Box<Session>,
    ) {
        let id = self.serials.get(&session.serial()).copied();
        let events = self.shut_session(providers, exec, provider, san, &mut session);
        if let Some(id) = id {
            self.announce(id, events, false);
        }
    }

    /// Releases what no call uses (MEM-3), closes the provider socket, and ends the session
    /// (CLOSE-1); answers the sends that ended with it.
    fn shut_session(
        &mut self,
        providers: &mut Providers,
        exec: &mut Executor<'_>,
        provider: ProviderId,
        san: ProviderSocket,
        session: &mut Session,
    ) -> Vec<SessionEvent> {
        self.serials.remove(&session.serial());
        session.close();
        providers.drive_on(provider, session, exec);
        providers.close_socket(provider, san, exec);
        session.closed();
        let released = session.take_released();
        release_memory(providers, exec, released);
        std::iter::from_fn(|| session.poll_event())
            .filter(|e| matches!(e, SessionEvent::Sent { .. }))
            .collect()
    }

    /// Hands a closed session's last events to the application; `readable` when the socket
    /// stays, for the application to read the error.
    fn announce(&mut self, id: SocketId, events: Vec<SessionEvent>, readable: bool) {
        for e in events {
            if let SessionEvent::Sent { send, result } = e {
                self.events.push_back(SwitchEvent::Sent {
                    socket: id,
                    send,
                    result,
                });
            }
        }
        if readable {
            self.events.push_back(SwitchEvent::Readable { socket: id });
        }
    }
}

/// MEM-2: before the switch lets memory go that a provider may have cached a registration of,
/// every provider that has MemoryRegistrationCacheCallback is told.
fn release_memory(providers: &mut Providers, exec: &mut Executor<'_>, buffers: Vec<Buffer>) {
    forget_registrations(providers, exec, &buffers);
    drop(buffers);
}

/// Calls every alive provider's MemoryRegistrationCacheCallback for each of `buffers`.
fn forget_registrations(providers: &mut Providers, exec: &mut Executor<'_>, buffers: &[Buffer]) {
    if buffers.is_empty() {
        return;
    }
    for (p, entry) in providers.alive_with(SanExtension::MemoryRegistrationCacheCallback) {
        let mut calls = CallList(
            buffers
                .iter()
                .map(|b| NextCall::CacheCallback {
                    entry,
                    address: b.addr(),
                    size: b.len(),
                })
                .collect(),
        );
        providers.drive_on(p, &mut calls, exec);
    }
}

impl Connections {
    /// Completions the providers posted through `WPUCompleteOverlappedRequest`, handed to
    /// their sessions (SESS-5). Answers how many reached a session.
    pub fn complete(&mut self, mut env: ConnectEnv<'_, '_>, completions: Vec<Completion>) -> usize {
        // TCP/IP sockets of accepted connections whose provider died while they negotiated.
        for tcp in std::mem::take(&mut self.orphan_tcp) {
            let _ = env.tcp.close(tcp);
        }
        let mut touched = BTreeSet::new();
        let mut applied = 0;
        for c in completions {
            let Some(&id) = self.serials.get(&(c.overlapped.id >> 24)) else {
                continue;
            };
            if let Some((_, session)) = self.sockets.get_mut(&id).and_then(session_of) {
                let result = match c.error {
                    None => Ok(c.bytes),
                    Some(e) => Err(e),
                };
                if session.complete(c.overlapped.id, result) {
                    applied += 1;
                }
                touched.insert(id);
            }
        }
        for id in touched {
            self.drive_session(env.reborrow(), id);
        }
        applied
    }

    /// Polls every session's calls under way with `WSPGetOverlappedResult` (sessions set up
    /// to poll, SESS-5). Answers how many completed.
    pub fn poll_sessions(&mut self, mut env: ConnectEnv<'_, '_>) -> usize {
        // Sessions poll only when the switch is set up so; otherwise `handle_completions`
        // would walk every connection on each of its rounds for nothing.
        if !self.session.is_some_and(|c| c.poll_completions) {
            return 0;
        }
        let mut ids: Vec<SocketId> = self.serials.values().copied().collect();
        ids.sort_unstable();
        let mut completed = 0;
        for id in ids {
            let Some((_, session)) = self.sockets.get_mut(&id).and_then(session_of) else {
                continue;
            };
            if !session.polls() {
                continue;
            }
            let before = session.completed();
            session.poll_completions();
            self.drive_session(env.reborrow(), id);
            if let Some((_, session)) = self.sockets.get_mut(&id).and_then(session_of) {
                completed += usize::try_from(session.completed() - before).unwrap_or(usize::MAX);
            }
        }
        completed
    }

    /// Sessions whose provider was taken down: their sockets went with its cleanup, so they
    /// end now.
    pub(super) fn drop_dead_sessions(&mut self, providers: &Providers) {
        let dead: Vec<SocketId> = self
            .serials
            .values()
            .copied()
            .filter(|id| {
                self.sockets
                    .get(id)
                    .and_then(|s| match &s.state {
                        SocketState::Negotiating(n) => Some(n.provider),
                        SocketState::Connected {
                            via: Via::San(p), ..
                        } => Some(*p),
                        _ => None,
                    })
                    .is_some_and(|p| !providers.is_alive(p))
            })
            .collect();
        let mut dead = dead;
        dead.sort_unstable();
        for id in dead {
            // A connection still negotiating never became the application's: a connect fails
            // (its provider is gone), an accepted one goes quietly.
            if let Some(s) = self.sockets.get_mut(&id)
                && let SocketState::Negotiating(_) = s.state
            {
                let SocketState::Negotiating(n) =
                    std::mem::replace(&mut s.state, SocketState::Open)
                else {
                    continue;
                };
                self.serials.remove(&n.session.serial());
                self.abandon_negotiation(id, n.announce, n.provider);
                continue;
            }
            let Some(s) = self.sockets.get_mut(&id) else {
                continue;
            };
            // Its socket went with the provider's cleanup.
            if let SocketState::Connected { san, .. } = &mut s.state {
                *san = None;
            }
            let Some((_, session)) = session_of(s) else {
                continue;
            };
            session.abort(SessionError::Provider {
                call: "WSPCleanup",
                error: WsaError::WSAENETDOWN,
            });
            session.closed();
            let serial = session.serial();
            let mut events = Vec::new();
            while let Some(e) = session.poll_event() {
                events.push(e);
            }
            self.serials.remove(&serial);
            for e in events {
                match e {
                    SessionEvent::Sent { send, result } => {
                        self.events.push_back(SwitchEvent::Sent {
                            socket: id,
                            send,
                            result,
                        })
                    }
                    SessionEvent::Readable | SessionEvent::Failed(_) => {
                        self.events.push_back(SwitchEvent::Readable { socket: id })
                    }
                    _ => {}
                }
            }
        }
    }

    /// Closes every session (before the switch shuts down).
    pub fn close_sessions(&mut self, providers: &mut Providers, exec: &mut Executor<'_>) {
        let mut ids: Vec<SocketId> = self.serials.values().copied().collect();
        ids.sort_unstable();
        for id in ids {
            let Some(s) = self.sockets.get_mut(&id) else {
                continue;
            };
            let taken = match &mut s.state {
                SocketState::Negotiating(_) => {
                    let SocketState::Negotiating(n) =
                        std::mem::replace(&mut s.state, SocketState::Open)
                    else {
                        continue;
                    };
                    let n = *n;
                    self.close_session(providers, exec, n.provider, n.san, n.session);
                    // It never became the application's: the connect ends (its provider is
                    // going), an accepted connection goes quietly.
                    self.abandon_negotiation(id, n.announce, n.provider);
                    continue;
                }
                SocketState::Connected {
                    via: Via::San(p),
                    san: Some(san),
                    session,
                    ..
                } => session.take().map(|x| (*p, *san, x)),
                _ => None,
            };
            if let Some((p, san, session)) = taken {
                self.close_session(providers, exec, p, san, session);
                // The provider socket is closed; the connection has nothing left.
                if let Some(SocketState::Connected { san, .. }) =
                    self.sockets.get_mut(&id).map(|s| &mut s.state)
                {
                    *san = None;
                }
            }
        }
    }

    /// Ends a connection whose negotiation will never finish because its provider is gone
    /// or going: the application's connect fails with `WSAENETDOWN` (`provider_gone`); an
    /// accepted connection leaves its listener's queue and the table, unannounced.
    fn abandon_negotiation(&mut self, id: SocketId, announce: Announce, provider: ProviderId) {
        match announce {
            Announce::Connect(_) => {
                if let Some(s) = self.sockets.get_mut(&id) {
                    s.state = SocketState::Open;
                }
                let result = ConnectResult {
                    result: Err(WsaError::WSAENETDOWN),
                    reason: ConnectReason::ProviderGone { provider },
                };
                self.finished(&result);
                self.events
                    .push_back(SwitchEvent::Connected { socket: id, result });
            }
            Announce::Accept { listener } => {
                if let Some(SocketState::Listening(l)) =
                    self.sockets.get_mut(&listener).map(|s| &mut s.state)
                {
                    l.accepted.retain(|x| *x != id);
                }
                if let Some(s) = self.sockets.remove(&id) {
                    self.orphan_tcp.push(s.tcp);
                }
            }
        }
    }

    fn next_send_id(&mut self) -> SendId {
        self.next_send += 1;
        SendId(self.next_send)
    }

    /// The application sends `data` on connection `id` (`MsgFlags::OOB`: urgent data). The
    /// send's end comes out as [`SwitchEvent::Sent`] with the id answered here.
    pub fn send(
        &mut self,
        env: ConnectEnv<'_, '_>,
        id: SocketId,
        data: Vec<u8>,
        flags: MsgFlags,
    ) -> Result<SendId, SocketError> {
        let send = self.next_send_id();
        let s = self.get(id)?;
        let oob = flags.contains(MsgFlags::OOB);
        match &mut s.state {
            SocketState::Connected { via: Via::Tcp, .. } => {
                let bytes = env
                    .tcp
                    .send(s.tcp, &data, flags & MsgFlags::OOB)
                    .map_err(|error| SocketError::Tcp {
                        socket: id,
                        call: "send",
                        error,
                    })?;
                s.tcp_bytes.0 += bytes as u64;
                self.events.push_back(SwitchEvent::Sent {
                    socket: id,
                    send,
                    result: Ok(SendReport {
                        bytes,
                        path: DataPath::Tcp,
                        messages: 0,
                        rdma_ops: 0,
                    }),
                });
                Ok(send)
            }
            SocketState::Connected {
                session: Some(session),
                ..
            } => {
                session
                    .send(send, data, oob)
                    .map_err(|error| SocketError::Failed {
                        socket: id,
                        call: "send",
                        error,
                    })?;
                self.drive_session(env, id);
                Ok(send)
            }
            SocketState::Connected { .. } => Err(SocketError::Failed {
                socket: id,
                call: "send",
                error: WsaError::WSAEOPNOTSUPP,
            }),
            other => Err(SocketError::WrongState {
                socket: id,
                state: other.name(),
                call: "send",
            }),
        }
    }

    /// The application receives into `buf` (`MsgFlags::OOB`: the urgent byte): the bytes
    /// received, 0 at the end of the stream; `WSAEWOULDBLOCK` (in the error) when nothing is
    /// there yet.
    pub fn recv(
        &mut self,
        env: ConnectEnv<'_, '_>,
        id: SocketId,
        buf: &mut [u8],
        flags: MsgFlags,
    ) -> Result<usize, SocketError> {
        let s = self.get(id)?;
        let failed = |error| SocketError::Failed {
            socket: id,
            call: "recv",
            error,
        };
        match &mut s.state {
            SocketState::Connected { via: Via::Tcp, .. } => {
                let n = env
                    .tcp
                    .recv(s.tcp, buf, flags & MsgFlags::OOB)
                    .map_err(|error| SocketError::Tcp {
                        socket: id,
                        call: "recv",
                        error,
                    })?;
                s.tcp_bytes.1 += n as u64;
                Ok(n)
            }
            SocketState::Connected {
                session: Some(session),
                ..
            } => {
                let r = if flags.contains(MsgFlags::OOB) {
                    // An empty buffer takes nothing: the urgent byte stays for the next call.
                    match buf.first_mut() {
                        None => Ok(0),
                        Some(first) => session.recv_oob().map(|b| {
                            *first = b;
                            1
                        }),
                    }
                } else {
                    session.recv(buf)
                };
                // Reading may return staged memory to the cache or release it.
                self.drive_session(env, id);
                r.map_err(failed)
            }
            SocketState::Connected { .. } => Err(failed(WsaError::WSAEOPNOTSUPP)),
            other => Err(SocketError::WrongState {
                socket: id,
                state: other.name(),
                call: "recv",
            }),
        }
    }

    /// The application takes the next piece of what arrived whole, as a vector: a SAN
    /// transfer in the memory it arrived in, without a copy (its registration released and
    /// MEM-2 done first, since the memory leaves the switch), or the bytes that came inline; on
    /// TCP/IP what is there (up to 64 KiB). An empty vector is the end of the stream;
    /// `WSAEWOULDBLOCK` (in the error) means nothing is there yet.
    pub fn recv_buffer(
        &mut self,
        mut env: ConnectEnv<'_, '_>,
        id: SocketId,
    ) -> Result<Vec<u8>, SocketError> {
        let s = self.get(id)?;
        let failed = |error| SocketError::Failed {
            socket: id,
            call: "recv",
            error,
        };
        let piece = match &mut s.state {
            SocketState::Connected { via: Via::Tcp, .. } => {
                let mut v = vec![0u8; 64 << 10];
                let n = env
                    .tcp
                    .recv(s.tcp, &mut v, MsgFlags::empty())
                    .map_err(|error| SocketError::Tcp {
                        socket: id,
                        call: "recv",
                        error,
                    })?;
                s.tcp_bytes.1 += n as u64;
                v.truncate(n);
                return Ok(v);
            }
            SocketState::Connected {
                session: Some(session),
                ..
            } => session.recv_piece().map_err(failed)?,
            SocketState::Connected { .. } => return Err(failed(WsaError::WSAEOPNOTSUPP)),
            other => {
                return Err(SocketError::WrongState {
                    socket: id,
                    state: other.name(),
                    call: "recv",
                });
            }
        };
        // The deregistration the piece asked for is made first.
        self.drive_session(env.reborrow(), id);
        Ok(match piece {
            Piece::Bytes(v) => v,
            Piece::Staged(buffer, len) => {
                forget_registrations(env.providers, env.exec, std::slice::from_ref(&buffer));
                let mut v = buffer.into_vec();
                v.truncate(len);
                v
            }
        })
    }

    /// The memory of the sends on `id` that finished, for the application to send from again
    /// (the last few are kept; MEM-2 is done for those that were registered, since the memory
    /// leaves the switch). Empty on a TCP/IP connection, whose sends are copied at once.
    pub fn reclaim(
        &mut self,
        env: ConnectEnv<'_, '_>,
        id: SocketId,
    ) -> Result<Vec<Vec<u8>>, SocketError> {
        let Some((_, session)) = session_of(self.get(id)?) else {
            return Ok(Vec::new());
        };
        let taken = session.reclaim();
        let registered: Vec<Buffer> = taken
            .iter()
            .filter(|(_, r)| *r)
            .map(|(b, _)| b.clone())
            .collect();
        forget_registrations(env.providers, env.exec, &registered);
        drop(registered);
        Ok(taken.into_iter().map(|(b, _)| b.into_vec()).collect())
    }

    /// The application offers `buffer` for the next transfers it receives on `id`, so that
    /// [`recv_buffer`](Self::recv_buffer) can hand them over without a copy (on TCP/IP it is
    /// not needed and is let go).
    pub fn provide_buffer(&mut self, id: SocketId, buffer: Vec<u8>) -> Result<(), SocketError> {
        if let Some((_, session)) = session_of(self.get(id)?) {
            session.provide_buffer(buffer);
        }
        Ok(())
    }

    /// The application shuts its connection down for sending, receiving or both: TCP/IP's
    /// `shutdown`, or the session's own protocol, never forwarded to a SAN provider (SESS-6).
    pub fn shutdown(
        &mut self,
        env: ConnectEnv<'_, '_>,
        id: SocketId,
        how: Shutdown,
    ) -> Result<(), SocketError> {
        let s = self.get(id)?;
        match &mut s.state {
            SocketState::Connected { via: Via::Tcp, .. } => {
                env.tcp
                    .shutdown(s.tcp, how)
                    .map_err(|error| SocketError::Tcp {
                        socket: id,
                        call: "shutdown",
                        error,
                    })
            }
            SocketState::Connected {
                session: Some(session),
                ..
            } => {
                session
                    .shutdown(how.sends(), how.receives())
                    .map_err(|error| SocketError::Failed {
                        socket: id,
                        call: "shutdown",
                        error,
                    })?;
                self.drive_session(env, id);
                Ok(())
            }
            other => Err(SocketError::WrongState {
                socket: id,
                state: other.name(),
                call: "shutdown",
            }),
        }
    }

    /// What a connection has moved: `(bytes sent, bytes received)` by the application.
    pub fn bytes(&self, id: SocketId) -> Option<(u64, u64)> {
        let s = self.sockets.get(&id)?;
        match &s.state {
            SocketState::Connected {
                session: Some(session),
                ..
            } => {
                let c = session.counters();
                Some((c.bytes_sent, c.bytes_received))
            }
            SocketState::Connected { .. } => Some(s.tcp_bytes),
            _ => None,
        }
    }

    /// A SAN connection's session counters.
    pub fn session_counters(&self, id: SocketId) -> Option<Counters> {
        match &self.sockets.get(&id)?.state {
            SocketState::Connected {
                session: Some(session),
                ..
            } => Some(session.counters()),
            SocketState::Negotiating(n) => Some(n.session.counters()),
            _ => None,
        }
    }

    /// The sessions and the memory they hold.
    pub fn session_footprint(&self) -> (usize, usize) {
        let mut memory = 0;
        for id in self.serials.values() {
            if let Some(s) = self.sockets.get(id) {
                memory += match &s.state {
                    SocketState::Negotiating(n) => n.session.footprint(),
                    SocketState::Connected {
                        session: Some(session),
                        ..
                    } => session.footprint(),
                    _ => 0,
                };
            }
        }
        (self.serials.len(), memory)
    }
}
