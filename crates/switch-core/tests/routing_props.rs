//! Property tests: the compiled table against plain reference models (ROUTE-1, ROUTE-4,
//! INIT-3a, ADDR-2).
//!
//! Case counting: each lookup proptest runs 256 random tables with 64 queries each, i.e.
//! 16,384 checked lookups per test; the three lookup tests (IPv4, IPv6 up to /64, mixed with
//! IPv6 longer than /64) check 49,152 lookups, plus 256 full `routes()` comparisons each. The
//! large-table tests (dense clusters, so lookups need binary steps before the counting phase)
//! run 24 tables of 300 to 1,500 prefixes with 256 queries each, twice (6,144 lookups each);
//! the dense-cluster tests (hundreds of prefixes nested under one IPv4 /16 and one IPv6 /32)
//! run 32 tables with 256 queries each, twice (8,192 lookups each).
//! The builder test runs 256 random catalogs.

use std::cmp::Reverse;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use proptest::prelude::*;
use switch_core::id::ProviderId;
use switch_core::routing::{Route, RouteDiagnostic, RouteInput, RoutingTable, build};

/// Reference canonical form: host bits zeroed, `::ffff:0:0/96`-inside prefixes as IPv4.
fn canon(net: IpNet) -> IpNet {
    if let IpNet::V6(n) = net
        && n.prefix_len() >= 96
        && let Some(v4) = n.network().to_ipv4_mapped()
    {
        return IpNet::V4(Ipv4Net::new(v4, n.prefix_len() - 96).unwrap()).trunc();
    }
    net.trunc()
}

/// Reference lookup: a linear scan; longest prefix, then lowest provider id among equal subnets.
fn reference(routes: &[(IpNet, ProviderId)], addr: IpAddr) -> Option<Route> {
    let addr = addr.to_canonical();
    routes
        .iter()
        .map(|&(n, p)| (canon(n), p))
        .filter(|(n, _)| n.contains(&addr))
        .min_by_key(|&(n, p)| (Reverse(n.prefix_len()), p))
        .map(|(subnet, provider)| Route { subnet, provider })
}

/// Reference route list: every distinct subnet with its lowest provider id, sorted.
fn reference_routes(routes: &[(IpNet, ProviderId)]) -> Vec<Route> {
    let mut all: Vec<Route> = routes
        .iter()
        .map(|&(n, p)| Route {
            subnet: canon(n),
            provider: p,
        })
        .collect();
    all.sort();
    all.dedup_by_key(|r| r.subnet);
    all
}

/// IPv4 prefixes clustered around a few bases, so that they nest and collide.
fn v4_routes() -> impl Strategy<Value = Vec<(IpNet, ProviderId)>> {
    (
        prop::collection::vec(any::<u32>(), 1..4),
        prop::collection::vec(
            (any::<u32>(), 0usize..4, 0u32..=32, 0u32..4, 0u32..=32),
            0..40,
        ),
    )
        .prop_map(|(bases, picks)| {
            picks
                .into_iter()
                .map(|(r, b, spread, p, len)| {
                    let addr = bases[b % bases.len()] ^ (r & (u32::MAX >> spread.min(31)) >> 1);
                    let len = len as u8;
                    (
                        IpNet::V4(Ipv4Net::new(Ipv4Addr::from(addr), len).unwrap()),
                        ProviderId(p),
                    )
                })
                .collect()
        })
}

/// IPv6 prefixes clustered around a few bases; `max_len` 64 exercises the 64-bit path.
fn v6_routes(max_len: u8) -> impl Strategy<Value = Vec<(IpNet, ProviderId)>> {
    (
        prop::collection::vec(any::<u128>(), 1..4),
        prop::collection::vec(
            (any::<u128>(), 0usize..4, 0u32..128, 0u32..4, 0u8..=max_len),
            0..40,
        ),
    )
        .prop_map(|(bases, picks)| {
            picks
                .into_iter()
                .map(|(r, b, spread, p, len)| {
                    let addr = bases[b % bases.len()] ^ (r & (u128::MAX >> spread) >> 1);
                    (
                        IpNet::V6(Ipv6Net::new(Ipv6Addr::from(addr), len).unwrap()),
                        ProviderId(p),
                    )
                })
                .collect()
        })
}

/// Queries near the routes (first, last, just outside) and random ones.
fn queries(routes: &[(IpNet, ProviderId)], seeds: &[(u128, u8)]) -> Vec<IpAddr> {
    seeds
        .iter()
        .map(|&(r, how)| {
            if routes.is_empty() || how % 4 == 3 {
                return if how % 2 == 0 {
                    IpAddr::V4(Ipv4Addr::from(r as u32))
                } else {
                    IpAddr::V6(Ipv6Addr::from(r))
                };
            }
            let net = routes[(r % routes.len() as u128) as usize].0.trunc();
            match (net, how % 4) {
                (IpNet::V4(n), 0) => IpAddr::V4(n.network()),
                (IpNet::V4(n), 1) => {
                    IpAddr::V4(Ipv4Addr::from(u32::from(n.broadcast()).wrapping_add(1)))
                }
                (IpNet::V4(n), _) => {
                    let host = u32::MAX.checked_shr(u32::from(n.prefix_len())).unwrap_or(0);
                    IpAddr::V4(Ipv4Addr::from(
                        u32::from(n.network()) | ((r >> 40) as u32 & host),
                    ))
                }
                (IpNet::V6(n), 0) => IpAddr::V6(n.network()),
                (IpNet::V6(n), 1) => {
                    IpAddr::V6(Ipv6Addr::from(u128::from(n.broadcast()).wrapping_add(1)))
                }
                (IpNet::V6(n), _) => {
                    let host = u128::MAX
                        .checked_shr(u32::from(n.prefix_len()))
                        .unwrap_or(0);
                    IpAddr::V6(Ipv6Addr::from(
                        u128::from(n.network()) | (r.rotate_left(17) & host),
                    ))
                }
            }
        })
        .collect()
}

fn check_table(
    routes: Vec<(IpNet, ProviderId)>,
    seeds: Vec<(u128, u8)>,
) -> Result<(), TestCaseError> {
    let table = RoutingTable::from_routes(routes.clone());
    let expected_routes = reference_routes(&routes);
    prop_assert_eq!(table.len(), expected_routes.len());
    prop_assert_eq!(table.routes().collect::<Vec<_>>(), expected_routes);
    for q in queries(&routes, &seeds) {
        prop_assert_eq!(table.lookup(q), reference(&routes, q), "query {}", q);
    }
    Ok(())
}

fn seeds() -> impl Strategy<Value = Vec<(u128, u8)>> {
    prop::collection::vec((any::<u128>(), any::<u8>()), 64)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn route_1_route_4_ipv4_lookup_matches_linear_reference(routes in v4_routes(), seeds in seeds()) {
        check_table(routes, seeds)?;
    }

    #[test]
    fn route_1_route_4_ipv6_up_to_64_lookup_matches_linear_reference(routes in v6_routes(64), seeds in seeds()) {
        check_table(routes, seeds)?;
    }

    #[test]
    fn route_1_route_4_mixed_families_and_long_ipv6_match_linear_reference(
        v4 in v4_routes(),
        v6 in v6_routes(128),
        seeds in seeds(),
    ) {
        let mut routes = v4;
        routes.extend(v6);
        check_table(routes, seeds)?;
    }
}

/// Big tables: IPv4 and IPv6 prefixes packed around two bases each.
fn big_routes(max_v6_len: u8) -> impl Strategy<Value = Vec<(IpNet, ProviderId)>> {
    (
        any::<[u32; 2]>(),
        any::<[u128; 2]>(),
        prop::collection::vec(
            (any::<u128>(), any::<bool>(), 0u32..4, 0u8..=255),
            300..1500,
        ),
    )
        .prop_map(move |(b4, b6, picks)| {
            picks
                .into_iter()
                .map(|(r, which, p, l)| {
                    let provider = ProviderId(p);
                    if l % 2 == 0 {
                        let addr = b4[usize::from(which)] ^ ((r as u32) & 0x000f_ffff);
                        let len = 16 + l % 17;
                        (
                            IpNet::V4(Ipv4Net::new(Ipv4Addr::from(addr), len).unwrap()),
                            provider,
                        )
                    } else {
                        let addr = b6[usize::from(which)] ^ (r & (u128::MAX >> 40));
                        let len = 24 + l % (max_v6_len - 23);
                        (
                            IpNet::V6(Ipv6Net::new(Ipv6Addr::from(addr), len).unwrap()),
                            provider,
                        )
                    }
                })
                .collect()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn route_1_large_clustered_tables_up_to_64_match_linear_reference(
        routes in big_routes(64),
        seeds in prop::collection::vec((any::<u128>(), any::<u8>()), 256),
    ) {
        check_table(routes, seeds)?;
    }

    #[test]
    fn route_1_large_clustered_tables_long_ipv6_match_linear_reference(
        routes in big_routes(128),
        seeds in prop::collection::vec((any::<u128>(), any::<u8>()), 256),
    ) {
        check_table(routes, seeds)?;
    }
}

/// Dense clusters: one IPv4 /16 and one IPv6 /32 holding up to 400 nested prefixes each (the
/// direct-index buckets there hold far more intervals than one counting window, so lookups take
/// binary steps first), plus a few far-away prefixes of both families (so that the IPv6 index
/// spans far more than the /32).
fn dense_routes(max_v6_len: u8) -> impl Strategy<Value = Vec<(IpNet, ProviderId)>> {
    (
        any::<u32>(),
        any::<u128>(),
        prop::collection::vec((any::<u128>(), 0u32..4, 0u8..=255), 50..400),
    )
        .prop_map(move |(b4, b6, picks)| {
            let mut out = vec![
                (
                    IpNet::V4(Ipv4Net::new(Ipv4Addr::from(b4), 16).unwrap()),
                    ProviderId(0),
                ),
                (
                    IpNet::V6(Ipv6Net::new(Ipv6Addr::from(b6), 32).unwrap()),
                    ProviderId(0),
                ),
            ];
            for (i, (r, p, l)) in picks.into_iter().enumerate() {
                let provider = ProviderId(p);
                match i % 8 {
                    0 if i % 16 == 8 => out.push((
                        IpNet::V6(Ipv6Net::new(Ipv6Addr::from(r), 16 + l % 17).unwrap()),
                        provider,
                    )),
                    0 => out.push((
                        IpNet::V4(Ipv4Net::new(Ipv4Addr::from(r as u32), 8 + l % 17).unwrap()),
                        provider,
                    )),
                    1..=3 => {
                        let addr = (b4 & 0xffff_0000) | (r as u32 & 0xffff);
                        out.push((
                            IpNet::V4(Ipv4Net::new(Ipv4Addr::from(addr), 17 + l % 16).unwrap()),
                            provider,
                        ));
                    }
                    _ => {
                        let addr = (b6 & !(u128::MAX >> 32)) | (r >> 32);
                        let len = 33 + l % (max_v6_len - 32);
                        out.push((
                            IpNet::V6(Ipv6Net::new(Ipv6Addr::from(addr), len).unwrap()),
                            provider,
                        ));
                    }
                }
            }
            out
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn route_1_dense_nested_clusters_up_to_64_match_linear_reference(
        routes in dense_routes(64),
        seeds in prop::collection::vec((any::<u128>(), any::<u8>()), 256),
    ) {
        check_table(routes, seeds)?;
    }

    #[test]
    fn route_1_dense_nested_clusters_long_ipv6_match_linear_reference(
        routes in dense_routes(128),
        seeds in prop::collection::vec((any::<u128>(), any::<u8>()), 256),
    ) {
        check_table(routes, seeds)?;
    }
}

/// Reference builder written as plainly as possible, with vectors and linear scans.
fn reference_build(
    interfaces: &[IpNet],
    providers: &[(ProviderId, Vec<IpAddr>)],
) -> (Vec<Route>, Vec<RouteDiagnostic>) {
    let mut order: Vec<&(ProviderId, Vec<IpAddr>)> = providers.iter().collect();
    order.sort_by_key(|p| p.0);
    let mut seen: Vec<(IpAddr, ProviderId)> = Vec::new();
    let mut routes: Vec<Route> = Vec::new();
    let mut reported: Vec<(IpNet, ProviderId)> = Vec::new();
    let mut diags = Vec::new();
    for (provider, addresses) in order {
        let provider = *provider;
        for a in addresses {
            let address = a.to_canonical();
            let unusable = match address {
                IpAddr::V4(v) => v.is_unspecified() || v.is_multicast() || v.is_broadcast(),
                IpAddr::V6(v) => v.is_unspecified() || v.is_multicast(),
            };
            if unusable {
                diags.push(RouteDiagnostic::UnusableAddress { provider, address });
                continue;
            }
            if let Some(&(_, first)) = seen.iter().find(|s| s.0 == address) {
                diags.push(RouteDiagnostic::DuplicateAddress {
                    address,
                    first,
                    second: provider,
                });
                continue;
            }
            seen.push((address, provider));
            let mut best: Option<IpNet> = None;
            for i in interfaces {
                let i = canon(*i);
                if i.contains(&address) && best.is_none_or(|b| i.prefix_len() > b.prefix_len()) {
                    best = Some(i);
                }
            }
            let subnet = best.unwrap_or_else(|| {
                let host = IpNet::from(address);
                diags.push(RouteDiagnostic::HostRoute {
                    provider,
                    address,
                    subnet: host,
                });
                host
            });
            match routes.iter().find(|r| r.subnet == subnet) {
                None => routes.push(Route { subnet, provider }),
                Some(r) if r.provider != provider && !reported.contains(&(subnet, provider)) => {
                    reported.push((subnet, provider));
                    diags.push(RouteDiagnostic::SubnetConflict {
                        subnet,
                        winner: r.provider,
                        loser: provider,
                        address,
                    });
                }
                Some(_) => {}
            }
        }
    }
    routes.sort();
    (routes, diags)
}

fn small_v4(x: u8) -> IpAddr {
    // A few /24s in 10.0.0.0/16, plus the odd unusable address.
    match x % 32 {
        0 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        1 => IpAddr::V4(Ipv4Addr::new(224, 0, 0, 9)),
        2 => IpAddr::V6(Ipv4Addr::new(10, 0, 1, 1).to_ipv6_mapped()),
        _ => IpAddr::V4(Ipv4Addr::new(10, 0, x % 4, x / 4 % 8)),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn init_3a_addr_2_route_4_builder_matches_reference(
        iface_picks in prop::collection::vec((0u8..4, prop::sample::select(vec![8u8, 16, 23, 24, 25, 30])), 0..5),
        v6_iface in any::<bool>(),
        catalog in prop::collection::vec((0u32..5, prop::collection::vec(any::<u8>(), 0..6), prop::collection::vec(0u16..4, 0..3)), 0..5),
    ) {
        let mut interfaces: Vec<IpNet> = iface_picks
            .iter()
            .map(|&(third, len)| IpNet::V4(Ipv4Net::new(Ipv4Addr::new(10, 0, third, 1), len).unwrap()))
            .collect();
        if v6_iface {
            interfaces.push("fd00::1/64".parse().unwrap());
        }
        let providers: Vec<(ProviderId, Vec<IpAddr>)> = catalog
            .iter()
            .map(|(id, v4, v6)| {
                let mut addrs: Vec<IpAddr> = v4.iter().map(|&x| small_v4(x)).collect();
                addrs.extend(v6.iter().map(|&h| IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, h % 2, 0, 0, 0, h))));
                (ProviderId(*id), addrs)
            })
            .collect();
        let inputs: Vec<RouteInput<'_>> = providers
            .iter()
            .map(|(p, a)| RouteInput { provider: *p, addresses: a })
            .collect();
        let out = build(&interfaces, &inputs);
        let (routes, diags) = reference_build(&interfaces, &providers);
        prop_assert_eq!(out.table.routes().collect::<Vec<_>>(), routes.clone());
        prop_assert_eq!(out.diagnostics, diags);
        for r in &routes {
            let probe = r.subnet.network();
            prop_assert_eq!(out.table.lookup(probe), reference(&routes.iter().map(|r| (r.subnet, r.provider)).collect::<Vec<_>>(), probe));
        }
    }
}
