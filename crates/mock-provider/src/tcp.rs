//! A mock TCP/IP provider: sockets, binds with ephemeral ports, connects that succeed unless
//! the destination is set to fail, and a log of every call. Attached to a
//! [`Fabric`], its listeners and connects follow the fabric's hosts instead (see
//! [`MockTcp::attached`]).

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};

use spi_types::{AddressFamily, WsaError};
use switch_core::provider::{TcpProvider, TcpSocket};
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
            None => Ok(local),
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
        if let Some(f) = &self.fabric {
            f.close(socket);
        }
        Ok(())
    }
}
