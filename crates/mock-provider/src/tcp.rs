//! A mock TCP/IP provider: sockets, binds with ephemeral ports, connects that succeed unless
//! the destination is set to fail, and a log of every call. Attached to a
//! [`Fabric`], its listeners and connects follow the fabric's hosts instead (see
//! [`MockTcp::attached`]), and a connection is a byte stream between its two ends.
//!
//! # Data
//!
//! On a fabric, `send` on a connected socket appends every byte to the stream towards the
//! other end (answering their number), and `recv` takes up to the buffer's size of them in
//! order: `WSAEWOULDBLOCK` when none is there, 0 once the other end shut down sending (or
//! closed) and everything was read. The accepting end of a connection gets its socket through
//! [`MockTcp::accept`] (bytes sent before that wait for it).
//!
//! - `send` after the socket's own `shutdown(Send)`: `WSAESHUTDOWN`; `recv` after its own
//!   `shutdown(Receive)`: `WSAESHUTDOWN` (what the other end sends from then on is dropped);
//!   `send` to an end that closed: `WSAECONNRESET`; a socket with no connection (unconnected
//!   or listening): `WSAENOTCONN`; a socket the provider does not have: `WSAENOTSOCK`.
//! - Urgent data, BSD style without `SO_OOBINLINE`: `send` with `MSG_OOB` puts every byte but
//!   the last into the stream, and the last one becomes the urgent byte, read with
//!   `recv(MSG_OOB)` (a newer urgent byte replaces one not read yet; `recv(MSG_OOB)` with
//!   none: `WSAEINVAL`).
//!
//! Without a fabric a connected socket talks to a silent peer: `send` takes every byte and
//! `recv` answers `WSAEWOULDBLOCK`, with the same shutdown rules.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};

use spi_types::{AddressFamily, MsgFlags, WsaError};
use switch_core::provider::{Shutdown, TcpProvider, TcpSocket};
use switch_core::routing::SocketKind;

use crate::fabric::{Fabric, FabricError, TcpAttachment};

/// One call the mock TCP/IP provider received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TcpCall {
    /// `socket(family, kind)`.
    Socket(TcpSocket, SocketKind),
    /// `bind(socket, address)`.
    Bind(TcpSocket, SocketAddr),
    /// `setsockopt(socket, level, name)`.
    SetOption(TcpSocket, i32, i32),
    /// `connect(socket, address)`.
    Connect(TcpSocket, SocketAddr),
    /// `listen(socket, backlog)`.
    Listen(TcpSocket, i32),
    /// `closesocket(socket)`.
    Close(TcpSocket),
    /// `send(socket, <bytes>, flags)`.
    Send(TcpSocket, usize, MsgFlags),
    /// `recv(socket, <buffer size>, flags)`.
    Recv(TcpSocket, usize, MsgFlags),
    /// `shutdown(socket, how)`.
    Shutdown(TcpSocket, Shutdown),
    /// [`MockTcp::accept`] on a listening socket.
    Accept(TcpSocket),
}

/// The mock TCP/IP provider.
#[derive(Debug, Default)]
pub struct MockTcp {
    next: u64,
    next_port: u16,
    open: HashMap<TcpSocket, Option<SocketAddr>>,
    /// Destinations whose connect fails, and with what (`WSAECONNREFUSED` for a host that does
    /// not listen, say).
    pub connect_errors: BTreeMap<IpAddr, WsaError>,
    /// Every call, in order.
    pub calls: Vec<TcpCall>,
    fabric: Option<TcpAttachment>,
    /// Without a fabric: connected sockets and how they are shut down (sending, receiving).
    silent: HashMap<TcpSocket, (bool, bool)>,
}

impl MockTcp {
    /// A TCP/IP provider where every connect succeeds.
    pub fn new() -> Self {
        Self::default()
    }

    /// The TCP/IP provider of `host` on `fabric`. `listen` registers a listener on the bound
    /// address for the host; `connect` succeeds only when a host owning the destination
    /// listens on it (else `WSAECONNREFUSED`, or `WSAEHOSTUNREACH` when no host owns it) and
    /// records the connection; [`connect_errors`](Self::connect_errors) still come first;
    /// `close` removes the socket's listener and closes its connection.
    pub fn attached(fabric: &Fabric, host: usize) -> Result<Self, FabricError> {
        Ok(MockTcp {
            fabric: Some(TcpAttachment::attach(fabric, host)?),
            ..Self::default()
        })
    }

    /// The host it is attached to, if it is on a fabric.
    pub fn host(&self) -> Option<usize> {
        self.fabric.as_ref().map(TcpAttachment::host)
    }

    /// The fabric it is attached to, if any.
    pub fn fabric(&self) -> Option<&Fabric> {
        self.fabric.as_ref().map(TcpAttachment::fabric)
    }

    /// How many sockets are open.
    pub fn open_sockets(&self) -> usize {
        self.open.len()
    }

    /// The connects made, in order.
    pub fn connects(&self) -> Vec<SocketAddr> {
        self.calls
            .iter()
            .filter_map(|c| match c {
                TcpCall::Connect(_, a) => Some(*a),
                _ => None,
            })
            .collect()
    }

    /// Accepts the oldest connection made to the listening `socket` that has no accepting
    /// socket yet: a new socket for its accepting end (bound to the address the connect
    /// reached) and the caller's address. `WSAEWOULDBLOCK` when there is none (always,
    /// without a fabric); `WSAEINVAL` when the socket does not listen. The fabric accepts TCP
    /// connects at once, so this only hands out the sockets.
    pub fn accept(&mut self, socket: TcpSocket) -> Result<(TcpSocket, SocketAddr), WsaError> {
        self.calls.push(TcpCall::Accept(socket));
        if !self.open.contains_key(&socket) {
            return Err(WsaError::WSAENOTSOCK);
        }
        let Some(f) = &self.fabric else {
            return Err(WsaError::WSAEWOULDBLOCK);
        };
        let new = TcpSocket(self.next + 1);
        let (local, remote) = f.accept(socket, new)?;
        self.next += 1;
        self.open.insert(new, Some(local));
        Ok((new, remote))
    }

    fn ephemeral(&mut self, ip: IpAddr) -> SocketAddr {
        self.next_port = self.next_port.wrapping_add(1);
        SocketAddr::new(ip, 49152 + self.next_port % 16384)
    }
}

impl TcpProvider for MockTcp {
    fn socket(&mut self, _family: AddressFamily, kind: SocketKind) -> Result<TcpSocket, WsaError> {
        self.next += 1;
        let s = TcpSocket(self.next);
        self.open.insert(s, None);
        if let Some(f) = &self.fabric {
            f.socket_opened(s);
        }
        self.calls.push(TcpCall::Socket(s, kind));
        Ok(s)
    }

    fn bind(&mut self, socket: TcpSocket, address: SocketAddr) -> Result<SocketAddr, WsaError> {
        self.calls.push(TcpCall::Bind(socket, address));
        let bound = if address.port() == 0 {
            self.ephemeral(address.ip())
        } else {
            address
        };
        let slot = self.open.get_mut(&socket).ok_or(WsaError::WSAENOTSOCK)?;
        *slot = Some(bound);
        Ok(bound)
    }

    fn set_option(
        &mut self,
        socket: TcpSocket,
        level: i32,
        name: i32,
        _value: &[u8],
    ) -> Result<(), WsaError> {
        self.calls.push(TcpCall::SetOption(socket, level, name));
        self.open
            .contains_key(&socket)
            .then_some(())
            .ok_or(WsaError::WSAENOTSOCK)
    }

    fn connect(&mut self, socket: TcpSocket, address: SocketAddr) -> Result<SocketAddr, WsaError> {
        self.calls.push(TcpCall::Connect(socket, address));
        if let Some(e) = self.connect_errors.get(&address.ip()) {
            return Err(*e);
        }
        let bound = *self.open.get(&socket).ok_or(WsaError::WSAENOTSOCK)?;
        let local = match bound {
            Some(l) => l,
            None => {
                let unspecified = if address.is_ipv4() {
                    IpAddr::from([0, 0, 0, 0])
                } else {
                    IpAddr::from([0u16; 8])
                };
                let l = self.ephemeral(unspecified);
                self.open.insert(socket, Some(l));
                l
            }
        };
        match &self.fabric {
            Some(f) => {
                let local = f.connect(socket, local, address)?;
                self.open.insert(socket, Some(local));
                Ok(local)
            }
            None => {
                self.silent.insert(socket, (false, false));
                Ok(local)
            }
        }
    }

    fn listen(&mut self, socket: TcpSocket, backlog: i32) -> Result<(), WsaError> {
        self.calls.push(TcpCall::Listen(socket, backlog));
        match &self.fabric {
            Some(f) => {
                let bound = *self.open.get(&socket).ok_or(WsaError::WSAENOTSOCK)?;
                f.listen(socket, bound, backlog)
            }
            None => Ok(()),
        }
    }

    fn close(&mut self, socket: TcpSocket) -> Result<(), WsaError> {
        self.calls.push(TcpCall::Close(socket));
        self.open.remove(&socket).ok_or(WsaError::WSAENOTSOCK)?;
        self.silent.remove(&socket);
        if let Some(f) = &self.fabric {
            f.close(socket);
        }
        Ok(())
    }

    fn send(&mut self, socket: TcpSocket, data: &[u8], flags: MsgFlags) -> Result<usize, WsaError> {
        self.calls.push(TcpCall::Send(socket, data.len(), flags));
        if !self.open.contains_key(&socket) {
            return Err(WsaError::WSAENOTSOCK);
        }
        if let Some(f) = &self.fabric {
            return f.send(socket, data, flags);
        }
        match self.silent.get(&socket) {
            None => Err(WsaError::WSAENOTCONN),
            Some((true, _)) => Err(WsaError::WSAESHUTDOWN),
            Some(_) => Ok(data.len()),
        }
    }

    fn recv(
        &mut self,
        socket: TcpSocket,
        buf: &mut [u8],
        flags: MsgFlags,
    ) -> Result<usize, WsaError> {
        self.calls.push(TcpCall::Recv(socket, buf.len(), flags));
        if !self.open.contains_key(&socket) {
            return Err(WsaError::WSAENOTSOCK);
        }
        if let Some(f) = &self.fabric {
            return f.recv(socket, buf, flags);
        }
        match self.silent.get(&socket) {
            None => Err(WsaError::WSAENOTCONN),
            Some((_, true)) => Err(WsaError::WSAESHUTDOWN),
            Some(_) if flags.contains(MsgFlags::OOB) => Err(WsaError::WSAEINVAL),
            Some(_) => Err(WsaError::WSAEWOULDBLOCK),
        }
    }

    fn shutdown(&mut self, socket: TcpSocket, how: Shutdown) -> Result<(), WsaError> {
        self.calls.push(TcpCall::Shutdown(socket, how));
        if !self.open.contains_key(&socket) {
            return Err(WsaError::WSAENOTSOCK);
        }
        if let Some(f) = &self.fabric {
            return f.shutdown(socket, how);
        }
        let state = self.silent.get_mut(&socket).ok_or(WsaError::WSAENOTCONN)?;
        state.0 |= how.sends();
        state.1 |= how.receives();
        Ok(())
    }
}
