//! The TCP/IP side of the fabric: listeners per host and synchronous connects.

use std::net::SocketAddr;

use spi_types::WsaError;
use switch_core::provider::TcpSocket;

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
    connection: Option<usize>,
}

/// A TCP listener of a host.
pub(super) struct TcpListener {
    key: TcpKey,
    pub(super) backlog: usize,
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
                h.tcp_listeners
                    .insert(address, TcpListener { key, backlog });
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
        let callee = owners
            .into_iter()
            .find(|&h| {
                s.hosts.get(h).is_some_and(|h| {
                    h.tcp_listeners.contains_key(&dest) || h.tcp_listeners.contains_key(&any)
                })
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
            ep.connection = Some(id);
        }
        Ok(local)
    }

    /// `closesocket`: its listener goes, its connection closes (both ends: the accepting end
    /// has no socket of its own in the mock).
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
        if let Some(id) = ep.connection {
            s.close_end(id, true);
            s.close_end(id, false);
        }
    }
}
