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
    // The interface prefixes themselves go through the same longest-prefix table, so finding
    // the most specific prefix holding an address is one lookup, not a scan of every interface.
    let interface_table = RoutingTable::from_routes(
        interfaces
            .iter()
            .enumerate()
            .map(|(i, &n)| (canonical_net(n), ProviderId(i as u32)))
            .collect(),
    );
    let mut order: Vec<&RouteInput<'_>> = providers.iter().collect();
    order.sort_by_key(|p| p.provider);
    let total: usize = order.iter().map(|p| p.addresses.len()).sum();

    // Duplicates (ADDR-2) are found by sorting rather than hashing: every usable address with
    // its position in catalog order, sorted by value; within a run of equal addresses the first
    // position owns it and the others are duplicates of it.
    let is_unusable = |a: IpAddr| match a {
        IpAddr::V4(a) => a.is_unspecified() || a.is_multicast() || a.is_broadcast(),
        IpAddr::V6(a) => a.is_unspecified() || a.is_multicast(),
    };
    let mut listed: Vec<(IpAddr, usize, ProviderId)> = Vec::with_capacity(total);
    for input in &order {
        for &raw in input.addresses {
            listed.push((raw.to_canonical(), listed.len(), input.provider));
        }
    }
    let mut by_value: Vec<(IpAddr, usize, ProviderId)> = listed
        .iter()
        .copied()
        .filter(|(a, _, _)| !is_unusable(*a))
        .collect();
    by_value.sort_unstable_by_key(|&(a, seq, _)| (a, seq));
    let mut first_owner: Vec<Option<ProviderId>> = vec![None; listed.len()];
    for run in by_value.chunk_by(|x, y| x.0 == y.0) {
        let owner = run[0].2;
        for &(_, seq, _) in &run[1..] {
            first_owner[seq] = Some(owner);
        }
    }

    let mut diagnostics = Vec::new();
    let mut owners: Vec<(IpAddr, ProviderId)> = Vec::with_capacity(total);
    let mut claims: HashMap<IpNet, ProviderId> = HashMap::new();
    let mut routes: Vec<(IpNet, ProviderId)> = Vec::new();
    let mut reported: HashSet<(IpNet, ProviderId)> = HashSet::new();
    // Consecutive addresses of one provider usually share a subnet: remember the last claim.
    let mut last_claim: Option<(IpNet, ProviderId)> = None;

    for &(address, seq, provider) in &listed {
        if is_unusable(address) {
            diagnostics.push(RouteDiagnostic::UnusableAddress { provider, address });
            continue;
        }
        if let Some(first) = first_owner[seq] {
            diagnostics.push(RouteDiagnostic::DuplicateAddress {
                address,
                first,
                second: provider,
            });
            continue;
        }
        owners.push((address, provider));

        let subnet = match interface_table.lookup(address) {
            Some(route) => route.subnet,
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
        if last_claim == Some((subnet, provider)) {
            continue;
        }
        match claims.get(&subnet) {
            None => {
                claims.insert(subnet, provider);
                routes.push((subnet, provider));
                last_claim = Some((subnet, provider));
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
            Some(_) => last_claim = Some((subnet, provider)),
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
