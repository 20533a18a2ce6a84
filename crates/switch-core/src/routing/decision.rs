//! Connect and listen decisions, each carrying its reason.

use std::fmt;

use ipnet::IpNet;

use crate::id::ProviderId;

/// The kind of application socket a decision is made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SocketKind {
    /// A TCP stream socket: the only kind a SAN provider can serve.
    Stream,
    /// A UDP datagram socket: always TCP/IP (ROUTE-2).
    Datagram,
    /// A raw socket: always TCP/IP (ROUTE-2).
    Raw,
    /// A multicast socket (or a stream aimed at a multicast or broadcast address): always
    /// TCP/IP (ROUTE-2).
    Multicast,
}

impl SocketKind {
    /// Lower-case name: `stream`, `datagram`, `raw` or `multicast`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stream => "stream",
            Self::Datagram => "datagram",
            Self::Raw => "raw",
            Self::Multicast => "multicast",
        }
    }
}

impl fmt::Display for SocketKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which provider serves a connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteTarget {
    /// The TCP/IP provider.
    Tcp,
    /// A SAN provider, tried first (the switch still falls back to TCP per CONN-2/CONN-4).
    San(ProviderId),
}

/// Why a connect went where it went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteReason {
    /// The destination lies in `subnet`, owned by `provider` (ROUTE-1). Code `route_match`.
    RouteMatch {
        /// The most specific matching subnet.
        subnet: IpNet,
        /// Its provider.
        provider: ProviderId,
    },
    /// No subnet of the table contains the destination (ROUTE-1). Code `no_route`.
    NoRoute,
    /// The socket kind (or a multicast/broadcast destination, counted as `Multicast`) always
    /// uses TCP (ROUTE-2). Code `socket_kind`.
    SocketKind {
        /// The kind that decided.
        kind: SocketKind,
    },
    /// A SAN connect to this destination fell back to TCP a short while ago, so the switch goes
    /// straight to TCP until the negative-cache entry expires. Code `negative_cache`.
    NegativeCache {
        /// The provider the table names.
        provider: ProviderId,
    },
    /// The destination matched `subnet` of `provider`, but the caller says that provider is not
    /// ready. Code `provider_not_ready`.
    ProviderNotReady {
        /// The matching subnet.
        subnet: IpNet,
        /// The provider that is not ready.
        provider: ProviderId,
    },
}

impl RouteReason {
    /// Stable snake_case code for reports: `route_match`, `no_route`, `socket_kind`,
    /// `provider_not_ready` or `negative_cache`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::RouteMatch { .. } => "route_match",
            Self::NoRoute => "no_route",
            Self::SocketKind { .. } => "socket_kind",
            Self::ProviderNotReady { .. } => "provider_not_ready",
            Self::NegativeCache { .. } => "negative_cache",
        }
    }
}

impl fmt::Display for RouteReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RouteMatch { subnet, provider } => {
                write!(f, "the destination is in subnet {subnet} of {provider}")
            }
            Self::NoRoute => f.write_str("no SAN subnet contains the destination"),
            Self::SocketKind { kind } => write!(f, "{kind} sockets always use TCP/IP"),
            Self::ProviderNotReady { subnet, provider } => write!(
                f,
                "the destination is in subnet {subnet} of {provider}, which is not ready"
            ),
            Self::NegativeCache { provider } => write!(
                f,
                "a SAN connect to the destination through {provider} fell back to TCP/IP recently"
            ),
        }
    }
}

/// A connect decision: the target and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RouteDecision {
    /// Where the connect goes.
    pub target: RouteTarget,
    /// Why.
    pub reason: RouteReason,
}

/// Why a listen decision lists the providers it lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListenReason {
    /// Bound to the wildcard: every ready SAN provider listens too. Code `wildcard`.
    Wildcard,
    /// Bound to an address of `provider`'s NIC, and it is ready. Code `nic_address`.
    NicAddress {
        /// The provider owning the address.
        provider: ProviderId,
    },
    /// Bound to an address of `provider`'s NIC, but it is not ready. Code `provider_not_ready`.
    ProviderNotReady {
        /// The provider owning the address.
        provider: ProviderId,
    },
    /// Bound to an address no SAN provider owns: TCP listens alone. Code `not_san_address`.
    NotSanAddress,
}

impl ListenReason {
    /// Stable snake_case code: `wildcard`, `nic_address`, `provider_not_ready` or
    /// `not_san_address`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Wildcard => "wildcard",
            Self::NicAddress { .. } => "nic_address",
            Self::ProviderNotReady { .. } => "provider_not_ready",
            Self::NotSanAddress => "not_san_address",
        }
    }
}

impl fmt::Display for ListenReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Wildcard => f.write_str("the socket is bound to the wildcard address"),
            Self::NicAddress { provider } => {
                write!(f, "the socket is bound to an address of {provider}")
            }
            Self::ProviderNotReady { provider } => write!(
                f,
                "the socket is bound to an address of {provider}, which is not ready"
            ),
            Self::NotSanAddress => f.write_str("no SAN provider owns the bound address"),
        }
    }
}

/// A listen decision (ROUTE-3): TCP always listens; `providers` listen as well.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ListenDecision {
    /// The SAN providers that listen in addition to TCP, ascending.
    pub providers: Vec<ProviderId>,
    /// Why.
    pub reason: ListenReason,
}
