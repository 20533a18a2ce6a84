//! What the table builder had to decide, reported to the caller.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::id::ProviderId;

/// One finding of [`build`](super::build); none of them stops the build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum RouteDiagnostic {
    /// The address lies in no interface prefix, so it was routed as a `/32` or `/128` host route.
    #[error(
        "{provider} address {address} is in no interface prefix, so only the host route {subnet} was added"
    )]
    HostRoute {
        /// The provider owning the address.
        provider: ProviderId,
        /// The address.
        address: IpAddr,
        /// The host route added (`/32` or `/128`).
        subnet: IpNet,
    },
    /// An address listed twice, by one provider or by two (ADDR-2); the first listing wins.
    #[error(
        "address {address} of {second} was already listed by {first}, so the later listing was ignored"
    )]
    DuplicateAddress {
        /// The address.
        address: IpAddr,
        /// The provider that listed it first (catalog order).
        first: ProviderId,
        /// The provider listing it again (may equal `first`).
        second: ProviderId,
    },
    /// Two providers claim one subnet (ROUTE-4); the earlier catalog entry keeps it.
    #[error(
        "{loser} claims subnet {subnet} (address {address}) already owned by {winner}, so {winner} keeps it"
    )]
    SubnetConflict {
        /// The contested subnet.
        subnet: IpNet,
        /// The earlier catalog entry, which keeps the subnet.
        winner: ProviderId,
        /// The later catalog entry, whose claim was dropped.
        loser: ProviderId,
        /// The loser's first address in that subnet.
        address: IpAddr,
    },
    /// An address no connection can be routed to (unspecified, multicast or limited broadcast).
    #[error("{provider} lists address {address}, which cannot identify a NIC, so it was ignored")]
    UnusableAddress {
        /// The provider listing it.
        provider: ProviderId,
        /// The address.
        address: IpAddr,
    },
}

impl RouteDiagnostic {
    /// Stable snake_case code for reports: `host_route`, `duplicate_address`,
    /// `subnet_conflict` or `unusable_address`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::HostRoute { .. } => "host_route",
            Self::DuplicateAddress { .. } => "duplicate_address",
            Self::SubnetConflict { .. } => "subnet_conflict",
            Self::UnusableAddress { .. } => "unusable_address",
        }
    }
}
