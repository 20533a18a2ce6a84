//! The TCP/IP side of the fabric: listeners per host, synchronous connects, the accepting
//! ends' sockets and the byte streams between the two ends of a connection.

use std::collections::VecDeque;
use std::net::SocketAddr;

use spi_types::{MsgFlags, WsaError};
use switch_core::provider::{Shutdown, TcpSocket};

use super::{
    EndRecord, Fabric, FabricError, TcpKey, TcpReg, Transport, effective_backlog, unspecified,
};

/// A mock TCP/IP provider's place on a fabric.
#[derive(Debug)]
pub(crate) struct TcpAttachment {
    fabric: Fabric,
    provider: usize,
    host: usize,
}

/// A TCP socket as the fabric knows it.
pub(super) struct TcpEndpoint {
    listening: Option<SocketAddr>,
    /// The connection it is an end of, and which end (0 the caller's, 1 the callee's).
    connection: Option<(usize, usize)>,
}

/// A TCP listener of a host.
pub(super) struct TcpListener {
    key: TcpKey,
    pub(super) backlog: usize,
    /// Connections made to it whose accepting end has no socket yet, oldest first.
    unaccepted: VecDeque<usize>,
}

/// One end's side of a TCP byte stream.
#[derive(Default)]
struct StreamEnd {
    /// Bytes sent to this end and not read yet.
    inbox: VecDeque<u8>,
    /// The urgent byte sent to this end and not read yet.
    urgent: Option<u8>,
    /// This end shut down sending.
    shut_send: bool,
    /// This end shut down receiving.
    shut_recv: bool,
    /// This end's socket closed.
    closed: bool,
}

/// The byte stream of a TCP connection: the caller's end (0) and the callee's (1).
#[derive(Default)]
pub(super) struct TcpStream {
    ends: [StreamEnd; 2],
    /// The accepting end has a socket ([`MockTcp::accept`](crate::MockTcp::accept)).
    accepted: bool,
}

impl TcpAttachment {
    /// Attaches a TCP/IP provider instance to `host`.
    pub(crate) fn attach(fabric: &Fabric, host: usize) -> Result<Self, FabricError> {
        let mut s = fabric.lock();
        s.check_host(host)?;
        s.tcps.push(TcpReg {
            host,
            open_sockets: 0,
        });
        Ok(TcpAttachment {
            fabric: fabric.clone(),
            provider: s.tcps.len() - 1,
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

    fn key(&self, socket: TcpSocket) -> TcpKey {
        TcpKey {
            provider: self.provider,
            socket,
        }
    }

    /// A socket was created.
    pub(crate) fn socket_opened(&self, socket: TcpSocket) {
        let mut s = self.fabric.lock();
        s.tcp.insert(
            self.key(socket),
            TcpEndpoint {
                listening: None,
                connection: None,
            },
        );
        if let Some(t) = s.tcps.get_mut(self.provider) {
            t.open_sockets += 1;
        }
    }

    /// Gives the oldest connection made to the listening `socket` that has no accepting
    /// socket yet the socket `new` (which the provider just opened); answers the address of
    /// the connection's two ends (local, remote). `WSAEWOULDBLOCK` when there is none.
    pub(crate) fn accept(
        &self,
        socket: TcpSocket,
        new: TcpSocket,
    ) -> Result<(SocketAddr, SocketAddr), WsaError> {
        let key = self.key(socket);
        let mut s = self.fabric.lock();
        let ep = s.tcp.get(&key).ok_or(WsaError::WSAENOTSOCK)?;
        let address = ep.listening.ok_or(WsaError::WSAEINVAL)?;
        let id = loop {
            let l = s
                .hosts
                .get_mut(self.host)
                .and_then(|h| h.tcp_listeners.get_mut(&address))
                .filter(|l| l.key == key)
                .ok_or(WsaError::WSAEINVAL)?;
            let id = l.unaccepted.pop_front().ok_or(WsaError::WSAEWOULDBLOCK)?;
            // A connection whose caller closed before it was accepted is gone.
            if s.tcp_streams.contains_key(&id) {
                break id;
            }
        };
        let c = s.connections.get(id).ok_or(WsaError::WSAECONNRESET)?;
        let (local, remote) = (c.callee.address, c.caller.address);
        if let Some(stream) = s.tcp_streams.get_mut(&id) {
            stream.accepted = true;
        }
        s.tcp.insert(
            self.key(new),
            TcpEndpoint {
                listening: None,
                connection: Some((id, 1)),
            },
        );
        if let Some(t) = s.tcps.get_mut(self.provider) {
            t.open_sockets += 1;
        }
        Ok((local, remote))
    }

    /// The stream of the connected `socket`, and which end it holds.
    fn stream(s: &mut super::State, key: TcpKey) -> Result<(&mut TcpStream, usize), WsaError> {
        let ep = s.tcp.get(&key).ok_or(WsaError::WSAENOTSOCK)?;
        let (id, end) = ep.connection.ok_or(WsaError::WSAENOTCONN)?;
        let stream = s.tcp_streams.get_mut(&id).ok_or(WsaError::WSAENOTCONN)?;
        Ok((stream, end))
    }

    /// `send` on a connected socket: every byte is taken; with `MSG_OOB` the last byte is the
    /// urgent byte (it replaces one the peer has not read).
    pub(crate) fn send(
        &self,
        socket: TcpSocket,
        data: &[u8],
        flags: MsgFlags,
    ) -> Result<usize, WsaError> {
        let mut s = self.fabric.lock();
        let (stream, end) = Self::stream(&mut s, self.key(socket))?;
        if stream.ends[end].shut_send {
            return Err(WsaError::WSAESHUTDOWN);
        }
        let peer = &mut stream.ends[1 - end];
        if peer.closed {
            return Err(WsaError::WSAECONNRESET);
        }
        if peer.shut_recv {
            // Nobody will read them.
            return Ok(data.len());
        }
        match data.split_last() {
            Some((&last, rest)) if flags.contains(MsgFlags::OOB) => {
                peer.inbox.extend(rest);
                peer.urgent = Some(last);
            }
            _ => peer.inbox.extend(data),
        }
        Ok(data.len())
    }

    /// `recv` on a connected socket (with `MSG_OOB`: the urgent byte).
    pub(crate) fn recv(
        &self,
        socket: TcpSocket,
        buf: &mut [u8],
        flags: MsgFlags,
    ) -> Result<usize, WsaError> {
        let mut s = self.fabric.lock();
        let (stream, end) = Self::stream(&mut s, self.key(socket))?;
        let peer_done = stream.ends[1 - end].shut_send || stream.ends[1 - end].closed;
        let me = &mut stream.ends[end];
        if me.shut_recv {
            return Err(WsaError::WSAESHUTDOWN);
        }
        if flags.contains(MsgFlags::OOB) {
            let Some(first) = buf.first_mut() else {
                return Ok(0);
            };
            *first = me.urgent.take().ok_or(WsaError::WSAEINVAL)?;
            return Ok(1);
        }
        if me.inbox.is_empty() {
            return if peer_done || buf.is_empty() {
                Ok(0)
            } else {
                Err(WsaError::WSAEWOULDBLOCK)
            };
        }
        let n = buf.len().min(me.inbox.len());
        for (dst, src) in buf.iter_mut().zip(me.inbox.drain(..n)) {
            *dst = src;
        }
        Ok(n)
    }

    /// `shutdown` of a connected socket.
    pub(crate) fn shutdown(&self, socket: TcpSocket, how: Shutdown) -> Result<(), WsaError> {
        let mut s = self.fabric.lock();
        let (stream, end) = Self::stream(&mut s, self.key(socket))?;
        let me = &mut stream.ends[end];
        if how.sends() {
            me.shut_send = true;
        }
        if how.receives() {
            me.shut_recv = true;
            me.inbox.clear();
        }
        Ok(())
    }

    /// `listen` on a socket bound to `bound` (`None`: not bound).
    pub(crate) fn listen(
        &self,
        socket: TcpSocket,
        bound: Option<SocketAddr>,
        backlog: i32,
    ) -> Result<(), WsaError> {
        let key = self.key(socket);
        let mut s = self.fabric.lock();
        let ep = s.tcp.get(&key).ok_or(WsaError::WSAENOTSOCK)?;
        if ep.connection.is_some() {
            return Err(WsaError::WSAEISCONN);
        }
        let address = bound.ok_or(WsaError::WSAEINVAL)?;
        let already = ep.listening.is_some();
        let h = s.hosts.get_mut(self.host).ok_or(WsaError::WSAENETDOWN)?;
        let backlog = effective_backlog(backlog);
        match h.tcp_listeners.get_mut(&address) {
            // Listening again changes the backlog only.
            Some(l) if l.key == key => l.backlog = backlog,
            Some(_) => return Err(WsaError::WSAEADDRINUSE),
            None if already => return Err(WsaError::WSAEINVAL),
            None => {
                h.tcp_listeners.insert(
                    address,
                    TcpListener {
                        key,
                        backlog,
                        unaccepted: VecDeque::new(),
                    },
                );
            }
        }
        if let Some(ep) = s.tcp.get_mut(&key) {
            ep.listening = Some(address);
        }
        Ok(())
    }

    /// `connect` from `local` (a wildcard IP is replaced by the host's address of the family);
    /// answers the local address.
    pub(crate) fn connect(
        &self,
        socket: TcpSocket,
        local: SocketAddr,
        dest: SocketAddr,
    ) -> Result<SocketAddr, WsaError> {
        let key = self.key(socket);
        let mut s = self.fabric.lock();
        let ep = s.tcp.get(&key).ok_or(WsaError::WSAENOTSOCK)?;
        if ep.listening.is_some() {
            return Err(WsaError::WSAEINVAL);
        }
        if ep.connection.is_some() {
            return Err(WsaError::WSAEISCONN);
        }
        if dest.ip().is_unspecified() || dest.port() == 0 {
            return Err(WsaError::WSAEADDRNOTAVAIL);
        }
        if !local.ip().is_unspecified() && local.is_ipv4() != dest.is_ipv4() {
            return Err(WsaError::WSAEAFNOSUPPORT);
        }
        let owners = s.owners(dest.ip());
        if owners.is_empty() {
            return Err(WsaError::WSAEHOSTUNREACH);
        }
        let any = SocketAddr::new(unspecified(dest.is_ipv4()), dest.port());
        let (callee, listener) = owners
            .into_iter()
            .find_map(|h| {
                let host = s.hosts.get(h)?;
                [dest, any]
                    .into_iter()
                    .find(|a| host.tcp_listeners.contains_key(a))
                    .map(|a| (h, a))
            })
            .ok_or(WsaError::WSAECONNREFUSED)?;
        let local = if local.ip().is_unspecified() {
            SocketAddr::new(s.host_ip(self.host, dest.is_ipv4()), local.port())
        } else {
            local
        };
        let id = s.add_connection(
            EndRecord {
                host: self.host,
                address: local,
                transport: Transport::Tcp,
                open: true,
            },
            EndRecord {
                host: callee,
                address: dest,
                transport: Transport::Tcp,
                open: true,
            },
        );
        if let Some(ep) = s.tcp.get_mut(&key) {
            ep.connection = Some((id, 0));
        }
        s.tcp_streams.insert(id, TcpStream::default());
        let st = &mut *s;
        let streams = &st.tcp_streams;
        if let Some(l) = st
            .hosts
            .get_mut(callee)
            .and_then(|h| h.tcp_listeners.get_mut(&listener))
        {
            // Connections whose caller closed unaccepted are forgotten on the way.
            l.unaccepted.retain(|c| streams.contains_key(c));
            l.unaccepted.push_back(id);
        }
        Ok(local)
    }

    /// `closesocket`: its listener goes, its end of its connection closes (the peer reads what
    /// is left, then the end of the stream; its sends fail with `WSAECONNRESET`). A caller
    /// whose connection was never accepted closes both ends: the accepting end has no socket.
    pub(crate) fn close(&self, socket: TcpSocket) {
        let key = self.key(socket);
        let mut s = self.fabric.lock();
        let Some(ep) = s.tcp.remove(&key) else {
            return;
        };
        if let Some(t) = s.tcps.get_mut(self.provider) {
            t.open_sockets = t.open_sockets.saturating_sub(1);
        }
        if let Some(address) = ep.listening
            && let Some(h) = s.hosts.get_mut(self.host)
            && h.tcp_listeners.get(&address).is_some_and(|l| l.key == key)
        {
            h.tcp_listeners.remove(&address);
        }
        if let Some((id, end)) = ep.connection {
            let accepted = s.tcp_streams.get(&id).is_some_and(|t| t.accepted);
            let mut gone = !accepted;
            if let Some(t) = s.tcp_streams.get_mut(&id) {
                t.ends[end].closed = true;
                gone |= t.ends.iter().all(|e| e.closed);
            }
            if gone {
                s.tcp_streams.remove(&id);
            }
            s.close_end(id, end == 0);
            if !accepted {
                s.close_end(id, false);
            }
        }
    }
}
