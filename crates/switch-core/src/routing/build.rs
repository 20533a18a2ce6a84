//! Building a table from provider address lists and interface prefixes (INIT-3a, ADDR-2,
//! ROUTE-4).

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use ipnet::IpNet;

use super::diag::RouteDiagnostic;
use super::table::{RoutingTable, canonical_net};
use crate::id::ProviderId;

/// One ready SAN provider's address list, as its `SIO_ADDRESS_LIST_QUERY` answered it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteInput<'a> {
    /// The provider (its id gives its catalog order).
    pub provider: ProviderId,
    /// Its NIC addresses, in the order reported.
    pub addresses: &'a [IpAddr],
}

/// The result of [`build`]: the table and everything the builder had to decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildOutput {
    /// The compiled table.
    pub table: RoutingTable,
    /// Findings, in the order met (providers in catalog order, addresses in list order).
    pub diagnostics: Vec<RouteDiagnostic>,
}

/// Builds the routing table (INIT-3a) from the TCP/IP provider's interface prefixes and each
/// ready SAN provider's addresses.
///
/// Providers are taken in catalog order (ascending [`ProviderId`], whatever order `providers`
/// is in). For each address (IPv4-mapped IPv6 taken as IPv4):
///
/// * unspecified, multicast and limited-broadcast addresses are ignored
///   ([`RouteDiagnostic::UnusableAddress`]);
/// * an address already listed is ignored ([`RouteDiagnostic::DuplicateAddress`], ADDR-2);
/// * the most specific interface prefix containing it gives the subnet (its network address);
///   with none, the subnet is the host route `/32` or `/128` ([`RouteDiagnostic::HostRoute`]);
/// * a subnet already claimed by an earlier provider stays with it
///   ([`RouteDiagnostic::SubnetConflict`], once per subnet and losing provider, ROUTE-4).
///
/// Every kept address is recorded for listen decisions (ROUTE-3).
pub fn build(interfaces: &[IpNet], providers: &[RouteInput<'_>]) -> BuildOutput {
    let interfaces: Vec<IpNet> = interfaces.iter().map(|&n| canonical_net(n)).collect();
    let mut order: Vec<&RouteInput<'_>> = providers.iter().collect();
    order.sort_by_key(|p| p.provider);

    let mut diagnostics = Vec::new();
    let mut owner_of: HashMap<IpAddr, ProviderId> = HashMap::new();
    let mut owners: Vec<(IpAddr, ProviderId)> = Vec::new();
    let mut claims: HashMap<IpNet, ProviderId> = HashMap::new();
    let mut routes: Vec<(IpNet, ProviderId)> = Vec::new();
    let mut reported: HashSet<(IpNet, ProviderId)> = HashSet::new();

    for input in order {
        let provider = input.provider;
        for &raw in input.addresses {
            let address = raw.to_canonical();
            let unusable = match address {
                IpAddr::V4(a) => a.is_unspecified() || a.is_multicast() || a.is_broadcast(),
                IpAddr::V6(a) => a.is_unspecified() || a.is_multicast(),
            };
            if unusable {
                diagnostics.push(RouteDiagnostic::UnusableAddress { provider, address });
                continue;
            }
            if let Some(&first) = owner_of.get(&address) {
                diagnostics.push(RouteDiagnostic::DuplicateAddress {
                    address,
                    first,
                    second: provider,
                });
                continue;
            }
            owner_of.insert(address, provider);
            owners.push((address, provider));

            let subnet = match interfaces
                .iter()
                .filter(|net| net.contains(&address))
                .max_by_key(|net| net.prefix_len())
            {
                Some(&net) => net,
                None => {
                    let host = IpNet::from(address);
                    diagnostics.push(RouteDiagnostic::HostRoute {
                        provider,
                        address,
                        subnet: host,
                    });
                    host
                }
            };
            match claims.get(&subnet) {
                None => {
                    claims.insert(subnet, provider);
                    routes.push((subnet, provider));
                }
                Some(&winner) if winner != provider => {
                    if reported.insert((subnet, provider)) {
                        diagnostics.push(RouteDiagnostic::SubnetConflict {
                            subnet,
                            winner,
                            loser: provider,
                            address,
                        });
                    }
                }
                Some(_) => {}
            }
        }
    }
    for d in &diagnostics {
        tracing::debug!(code = d.code(), "{d}");
    }
    BuildOutput {
        table: RoutingTable::compile(routes, owners),
        diagnostics,
    }
}
