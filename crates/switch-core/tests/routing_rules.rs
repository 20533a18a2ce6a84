//! The routing rules of the spec (INIT-3a, ADDR-2, ROUTE-1..4), one test per behaviour.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use switch_core::id::ProviderId;
use switch_core::routing::{
    ListenReason, Route, RouteDecision, RouteDiagnostic, RouteInput, RouteReason, RouteTarget,
    RoutingTable, SharedRoutes, SocketKind, build,
};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

const A: ProviderId = ProviderId(1);
const B: ProviderId = ProviderId(2);
const C: ProviderId = ProviderId(3);

fn all_ready(_: ProviderId) -> bool {
    true
}

fn route(subnet: &str, provider: ProviderId) -> Route {
    Route {
        subnet: net(subnet),
        provider,
    }
}

#[test]
fn init_3a_table_built_from_provider_addresses_and_interface_prefixes() {
    let interfaces = [
        net("10.1.0.7/16"),
        net("192.168.5.1/24"),
        net("fd00:1:2:3::9/64"),
    ];
    let a = [ip("10.1.2.3"), ip("fd00:1:2:3::1")];
    let b = [ip("192.168.5.20")];
    let out = build(
        &interfaces,
        &[
            RouteInput {
                provider: B,
                addresses: &b,
            },
            RouteInput {
                provider: A,
                addresses: &a,
            },
        ],
    );
    assert_eq!(out.diagnostics, vec![]);
    assert_eq!(
        out.table.routes().collect::<Vec<_>>(),
        vec![
            route("10.1.0.0/16", A),
            route("192.168.5.0/24", B),
            route("fd00:1:2:3::/64", A)
        ]
    );
    assert_eq!(out.table.len(), 3);
    assert_eq!(
        out.table.lookup(ip("10.1.255.255")),
        Some(route("10.1.0.0/16", A))
    );
    assert_eq!(out.table.lookup(ip("10.2.0.0")), None);
    assert_eq!(
        out.table.lookup(ip("fd00:1:2:3:ffff::1")),
        Some(route("fd00:1:2:3::/64", A))
    );
    assert_eq!(out.table.owner(ip("192.168.5.20")), Some(B));
    assert_eq!(out.table.owner(ip("192.168.5.21")), None);
}

#[test]
fn init_3a_nested_interface_prefixes_most_specific_wins() {
    let interfaces = [net("10.0.0.0/8"), net("10.1.2.0/24"), net("10.1.0.0/16")];
    let a = [ip("10.1.2.3")];
    let b = [ip("10.9.9.9")];
    let out = build(
        &interfaces,
        &[
            RouteInput {
                provider: A,
                addresses: &a,
            },
            RouteInput {
                provider: B,
                addresses: &b,
            },
        ],
    );
    assert_eq!(out.diagnostics, vec![]);
    assert_eq!(
        out.table.routes().collect::<Vec<_>>(),
        vec![route("10.0.0.0/8", B), route("10.1.2.0/24", A)]
    );
    assert_eq!(
        out.table.lookup(ip("10.1.3.1")),
        Some(route("10.0.0.0/8", B))
    );
    assert_eq!(
        out.table.lookup(ip("10.1.2.200")),
        Some(route("10.1.2.0/24", A))
    );
}

#[test]
fn init_3a_address_without_prefix_becomes_reported_host_route() {
    let a = [ip("172.16.0.5"), ip("2001:db8::5")];
    let out = build(
        &[net("10.0.0.0/8")],
        &[RouteInput {
            provider: A,
            addresses: &a,
        }],
    );
    assert_eq!(
        out.diagnostics,
        vec![
            RouteDiagnostic::HostRoute {
                provider: A,
                address: ip("172.16.0.5"),
                subnet: net("172.16.0.5/32")
            },
            RouteDiagnostic::HostRoute {
                provider: A,
                address: ip("2001:db8::5"),
                subnet: net("2001:db8::5/128")
            },
        ]
    );
    assert_eq!(out.diagnostics[0].code(), "host_route");
    assert_eq!(
        out.diagnostics[0].to_string(),
        "provider#1 address 172.16.0.5 is in no interface prefix, so only the host route 172.16.0.5/32 was added"
    );
    assert_eq!(
        out.table.lookup(ip("172.16.0.5")),
        Some(route("172.16.0.5/32", A))
    );
    assert_eq!(out.table.lookup(ip("172.16.0.6")), None);
    assert_eq!(
        out.table.lookup(ip("2001:db8::5")),
        Some(route("2001:db8::5/128", A))
    );
    assert_eq!(out.table.lookup(ip("2001:db8::4")), None);
}

#[test]
fn init_3a_unusable_addresses_ignored_and_reported() {
    let a = [
        ip("0.0.0.0"),
        ip("224.0.0.1"),
        ip("255.255.255.255"),
        ip("ff02::1"),
        ip("::"),
    ];
    let out = build(
        &[net("0.0.0.0/0")],
        &[RouteInput {
            provider: A,
            addresses: &a,
        }],
    );
    assert_eq!(out.diagnostics.len(), 5);
    assert!(
        out.diagnostics
            .iter()
            .all(|d| d.code() == "unusable_address")
    );
    assert!(out.table.is_empty());
    assert_eq!(out.table.owner(ip("224.0.0.1")), None);
}

#[test]
fn addr_2_duplicate_addresses_reported() {
    let interfaces = [net("10.0.0.0/24")];
    let a = [ip("10.0.0.1"), ip("10.0.0.1")];
    let b = [ip("::ffff:10.0.0.1"), ip("10.0.0.2")];
    let out = build(
        &interfaces,
        &[
            RouteInput {
                provider: A,
                addresses: &a,
            },
            RouteInput {
                provider: B,
                addresses: &b,
            },
        ],
    );
    let dup_within = RouteDiagnostic::DuplicateAddress {
        address: ip("10.0.0.1"),
        first: A,
        second: A,
    };
    let dup_across = RouteDiagnostic::DuplicateAddress {
        address: ip("10.0.0.1"),
        first: A,
        second: B,
    };
    let conflict = RouteDiagnostic::SubnetConflict {
        subnet: net("10.0.0.0/24"),
        winner: A,
        loser: B,
        address: ip("10.0.0.2"),
    };
    assert_eq!(out.diagnostics, vec![dup_within, dup_across, conflict]);
    assert_eq!(dup_across.code(), "duplicate_address");
    assert_eq!(
        dup_across.to_string(),
        "address 10.0.0.1 of provider#2 was already listed by provider#1, so the later listing was ignored"
    );
    // The first listing keeps the address, also for listen decisions.
    assert_eq!(out.table.owner(ip("10.0.0.1")), Some(A));
    assert_eq!(out.table.owner(ip("::ffff:10.0.0.1")), Some(A));
    assert_eq!(out.table.owner(ip("10.0.0.2")), Some(B));
}

#[test]
fn route_4_conflict_earlier_catalog_entry_wins() {
    let interfaces = [net("10.0.0.0/24"), net("fd00::/64")];
    let a = [ip("10.0.0.1")];
    let b = [ip("10.0.0.2"), ip("10.0.0.3"), ip("fd00::2")];
    let c = [ip("fd00::3")];
    // Given out of catalog order on purpose.
    let out = build(
        &interfaces,
        &[
            RouteInput {
                provider: C,
                addresses: &c,
            },
            RouteInput {
                provider: B,
                addresses: &b,
            },
            RouteInput {
                provider: A,
                addresses: &a,
            },
        ],
    );
    let c1 = RouteDiagnostic::SubnetConflict {
        subnet: net("10.0.0.0/24"),
        winner: A,
        loser: B,
        address: ip("10.0.0.2"),
    };
    let c2 = RouteDiagnostic::SubnetConflict {
        subnet: net("fd00::/64"),
        winner: B,
        loser: C,
        address: ip("fd00::3"),
    };
    assert_eq!(out.diagnostics, vec![c1, c2]);
    assert_eq!(c1.code(), "subnet_conflict");
    assert_eq!(
        c1.to_string(),
        "provider#2 claims subnet 10.0.0.0/24 (address 10.0.0.2) already owned by provider#1, so provider#1 keeps it"
    );
    assert_eq!(
        out.table.lookup(ip("10.0.0.200")),
        Some(route("10.0.0.0/24", A))
    );
    assert_eq!(
        out.table.lookup(ip("fd00::77")),
        Some(route("fd00::/64", B))
    );

    let direct = RoutingTable::from_routes(vec![(net("10.0.0.0/24"), B), (net("10.0.0.9/24"), A)]);
    assert_eq!(direct.len(), 1);
    assert_eq!(direct.lookup(ip("10.0.0.1")), Some(route("10.0.0.0/24", A)));
}

#[test]
fn route_1_longest_prefix_wins() {
    let t = RoutingTable::from_routes(vec![
        (net("10.0.0.0/8"), A),
        (net("10.1.0.0/16"), B),
        (net("10.1.1.0/24"), C),
        (net("10.1.1.128/32"), A),
        (net("2001:db8::/32"), A),
        (net("2001:db8:1::/48"), B),
        (net("2001:db8:1:0:8000::/65"), C),
    ]);
    assert_eq!(t.lookup(ip("10.200.0.1")), Some(route("10.0.0.0/8", A)));
    assert_eq!(t.lookup(ip("10.1.200.1")), Some(route("10.1.0.0/16", B)));
    assert_eq!(t.lookup(ip("10.1.1.127")), Some(route("10.1.1.0/24", C)));
    assert_eq!(t.lookup(ip("10.1.1.128")), Some(route("10.1.1.128/32", A)));
    assert_eq!(t.lookup(ip("10.1.1.129")), Some(route("10.1.1.0/24", C)));
    assert_eq!(t.lookup(ip("11.0.0.0")), None);
    assert_eq!(
        t.lookup(ip("2001:db8:2::1")),
        Some(route("2001:db8::/32", A))
    );
    assert_eq!(
        t.lookup(ip("2001:db8:1::1")),
        Some(route("2001:db8:1::/48", B))
    );
    assert_eq!(
        t.lookup(ip("2001:db8:1:0:8000::1")),
        Some(route("2001:db8:1:0:8000::/65", C))
    );
    assert_eq!(t.lookup(ip("2001:db9::")), None);
    assert_eq!(t.len(), 7);
}

#[test]
fn route_1_ipv4_mapped_destination_looked_up_as_ipv4() {
    let t = RoutingTable::from_routes(vec![(net("10.1.0.0/16"), A), (net("::/0"), B)]);
    assert_eq!(
        t.lookup(ip("::ffff:10.1.2.3")),
        Some(route("10.1.0.0/16", A))
    );
    // Mapped addresses are IPv4 only: the IPv6 default route does not catch them.
    assert_eq!(t.lookup(ip("::ffff:10.2.0.1")), None);
    assert_eq!(t.lookup(ip("2001:db8::1")), Some(route("::/0", B)));
    // A mapped prefix is stored as the IPv4 prefix it stands for.
    let m = RoutingTable::from_routes(vec![(net("::ffff:192.168.0.0/112"), C)]);
    assert_eq!(
        m.routes().collect::<Vec<_>>(),
        vec![route("192.168.0.0/16", C)]
    );
    assert_eq!(
        m.lookup(ip("192.168.3.4")),
        Some(route("192.168.0.0/16", C))
    );
}

#[test]
fn route_1_link_local_lookup_ignores_scope_id() {
    let out = build(
        &[net("fe80::/64")],
        &[RouteInput {
            provider: A,
            addresses: &[ip("fe80::1")],
        }],
    );
    let dest: std::net::SocketAddrV6 = "[fe80::2%7]:80".parse().unwrap();
    assert_eq!(dest.scope_id(), 7);
    let d = out
        .table
        .decide_connect(IpAddr::V6(*dest.ip()), SocketKind::Stream, all_ready);
    assert_eq!(d.target, RouteTarget::San(A));
    assert_eq!(
        d.reason,
        RouteReason::RouteMatch {
            subnet: net("fe80::/64"),
            provider: A
        }
    );
}

#[test]
fn route_1_connect_decisions_carry_reason() {
    let t = RoutingTable::from_routes(vec![(net("10.1.0.0/16"), A), (net("10.2.0.0/16"), B)]);
    let d = t.decide_connect(ip("10.1.2.3"), SocketKind::Stream, all_ready);
    assert_eq!(
        d,
        RouteDecision {
            target: RouteTarget::San(A),
            reason: RouteReason::RouteMatch {
                subnet: net("10.1.0.0/16"),
                provider: A
            },
        }
    );
    assert_eq!(d.reason.code(), "route_match");
    assert_eq!(
        d.reason.to_string(),
        "the destination is in subnet 10.1.0.0/16 of provider#1"
    );

    let d = t.decide_connect(ip("10.3.0.1"), SocketKind::Stream, all_ready);
    assert_eq!(
        d,
        RouteDecision {
            target: RouteTarget::Tcp,
            reason: RouteReason::NoRoute
        }
    );
    assert_eq!(d.reason.code(), "no_route");

    let d = t.decide_connect(ip("10.2.0.1"), SocketKind::Stream, |p| p != B);
    assert_eq!(
        d,
        RouteDecision {
            target: RouteTarget::Tcp,
            reason: RouteReason::ProviderNotReady {
                subnet: net("10.2.0.0/16"),
                provider: B
            },
        }
    );
    assert_eq!(d.reason.code(), "provider_not_ready");
    assert_eq!(
        d.reason.to_string(),
        "the destination is in subnet 10.2.0.0/16 of provider#2, which is not ready"
    );
}

#[test]
fn route_2_datagram_raw_multicast_use_tcp() {
    let t = RoutingTable::from_routes(vec![(net("0.0.0.0/0"), A), (net("::/0"), A)]);
    let asked = std::cell::Cell::new(0);
    for kind in [SocketKind::Datagram, SocketKind::Raw, SocketKind::Multicast] {
        let d = t.decide_connect(ip("10.1.2.3"), kind, |_| {
            asked.set(asked.get() + 1);
            true
        });
        assert_eq!(
            d,
            RouteDecision {
                target: RouteTarget::Tcp,
                reason: RouteReason::SocketKind { kind }
            }
        );
        assert_eq!(d.reason.code(), "socket_kind");
    }
    // The table (and readiness) is never consulted for them.
    assert_eq!(asked.get(), 0);
    assert_eq!(
        RouteReason::SocketKind {
            kind: SocketKind::Datagram
        }
        .to_string(),
        "datagram sockets always use TCP/IP"
    );
}

#[test]
fn route_2_stream_to_multicast_or_broadcast_destination_uses_tcp() {
    let t = RoutingTable::from_routes(vec![
        (net("0.0.0.0/0"), A),
        (net("10.1.0.0/16"), B),
        (net("::/0"), A),
    ]);
    let multicast = RouteDecision {
        target: RouteTarget::Tcp,
        reason: RouteReason::SocketKind {
            kind: SocketKind::Multicast,
        },
    };
    for dest in [
        "224.0.0.1",
        "239.1.2.3",
        "255.255.255.255",
        "10.1.255.255",
        "ff02::1",
        "::ffff:224.0.0.5",
    ] {
        assert_eq!(
            t.decide_connect(ip(dest), SocketKind::Stream, all_ready),
            multicast,
            "{dest}"
        );
    }
    // The directed broadcast of the matched subnet only; a host address still routes.
    assert_eq!(
        t.decide_connect(ip("10.1.255.254"), SocketKind::Stream, all_ready)
            .target,
        RouteTarget::San(B)
    );
    // 10.2.255.255 matches only 0.0.0.0/0, whose broadcast is 255.255.255.255: a unicast host.
    assert_eq!(
        t.decide_connect(ip("10.2.255.255"), SocketKind::Stream, all_ready)
            .target,
        RouteTarget::San(A)
    );
}

fn listen_table() -> RoutingTable {
    let a = [ip("10.0.0.1"), ip("fd00::1")];
    let b = [ip("10.0.1.1")];
    build(
        &[net("10.0.0.0/24"), net("10.0.1.0/24"), net("fd00::/64")],
        &[
            RouteInput {
                provider: A,
                addresses: &a,
            },
            RouteInput {
                provider: B,
                addresses: &b,
            },
        ],
    )
    .table
}

#[test]
fn route_3_listen_wildcard_means_every_ready_provider() {
    let t = listen_table();
    for wildcard in ["0.0.0.0", "::", "::ffff:0.0.0.0"] {
        let d = t.decide_listen(ip(wildcard), &[C, A, C]);
        assert_eq!(d.providers, vec![A, C], "{wildcard}");
        assert_eq!(d.reason, ListenReason::Wildcard);
        assert_eq!(d.reason.code(), "wildcard");
    }
    assert_eq!(t.decide_listen(ip("0.0.0.0"), &[]).providers, vec![]);
}

#[test]
fn route_3_listen_on_nic_address_means_that_provider() {
    let t = listen_table();
    let d = t.decide_listen(ip("10.0.1.1"), &[A, B]);
    assert_eq!(d.providers, vec![B]);
    assert_eq!(d.reason, ListenReason::NicAddress { provider: B });
    assert_eq!(d.reason.code(), "nic_address");
    let d = t.decide_listen(ip("fd00::1"), &[A]);
    assert_eq!(d.providers, vec![A]);
    let d = t.decide_listen(ip("::ffff:10.0.0.1"), &[A]);
    assert_eq!(d.providers, vec![A]);
}

#[test]
fn route_3_listen_elsewhere_means_tcp_only() {
    let t = listen_table();
    // In a SAN subnet but not a NIC address: TCP alone.
    let d = t.decide_listen(ip("10.0.0.2"), &[A, B]);
    assert_eq!(d.providers, vec![]);
    assert_eq!(d.reason, ListenReason::NotSanAddress);
    assert_eq!(d.reason.code(), "not_san_address");
    let d = t.decide_listen(ip("10.0.1.1"), &[A]);
    assert_eq!(d.providers, vec![]);
    assert_eq!(d.reason, ListenReason::ProviderNotReady { provider: B });
    assert_eq!(d.reason.code(), "provider_not_ready");
    assert_eq!(
        d.reason.to_string(),
        "the socket is bound to an address of provider#2, which is not ready"
    );
}

#[test]
fn route_1_routes_report_includes_shadowed_and_adjacent_routes() {
    let routes = vec![
        (net("10.0.0.0/24"), A),
        (net("10.0.0.0/25"), B),
        (net("10.0.0.128/25"), B),
        (net("10.0.1.0/24"), A),
        (net("10.0.2.0/24"), A),
        (net("2001:db8::/64"), C),
        (net("2001:db8:0:1::/64"), C),
    ];
    let t = RoutingTable::from_routes(routes.clone());
    let mut expected: Vec<Route> = routes
        .iter()
        .map(|&(subnet, provider)| Route { subnet, provider })
        .collect();
    expected.sort();
    assert_eq!(t.routes().collect::<Vec<_>>(), expected);
    assert_eq!(t.len(), 7);
    assert_eq!(t.lookup(ip("10.0.2.9")), Some(route("10.0.2.0/24", A)));
    assert_eq!(
        t.lookup(ip("2001:db8:0:1::9")),
        Some(route("2001:db8:0:1::/64", C))
    );
}

#[test]
fn route_1_empty_table_routes_nothing() {
    let t = RoutingTable::default();
    assert!(t.is_empty());
    assert_eq!(t.lookup(ip("10.0.0.1")), None);
    assert_eq!(t.lookup(ip("::1")), None);
    assert_eq!(t.routes().count(), 0);
    assert!(t.memory_bytes() > 0);
    assert_eq!(
        t.decide_connect(ip("10.0.0.1"), SocketKind::Stream, all_ready)
            .reason,
        RouteReason::NoRoute
    );
}

#[test]
fn route_1_extreme_prefixes() {
    let t = RoutingTable::from_routes(vec![
        (net("0.0.0.0/0"), A),
        (net("255.255.255.255/32"), B),
        (net("0.0.0.0/32"), C),
        (net("::/0"), A),
        (net("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"), B),
        (net("::/128"), C),
    ]);
    assert_eq!(
        t.lookup(ip("255.255.255.255")),
        Some(route("255.255.255.255/32", B))
    );
    assert_eq!(t.lookup(ip("255.255.255.254")), Some(route("0.0.0.0/0", A)));
    assert_eq!(t.lookup(ip("0.0.0.0")), Some(route("0.0.0.0/32", C)));
    assert_eq!(t.lookup(ip("0.0.0.1")), Some(route("0.0.0.0/0", A)));
    assert_eq!(
        t.lookup(IpAddr::V6(Ipv6Addr::from(u128::MAX))),
        Some(route("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", B))
    );
    assert_eq!(
        t.lookup(IpAddr::V6(Ipv6Addr::from(u128::MAX - 1))),
        Some(route("::/0", A))
    );
    assert_eq!(t.lookup(ip("::")), Some(route("::/128", C)));
    assert_eq!(
        t.lookup(IpAddr::V4(Ipv4Addr::new(1, 2, 3, 4))),
        Some(route("0.0.0.0/0", A))
    );
    assert_eq!(t.routes().count(), 6);
}

#[test]
fn addr_1_replace_publishes_new_table() {
    let shared = SharedRoutes::new(RoutingTable::from_routes(vec![(net("10.0.0.0/8"), A)]));
    let before = shared.load();
    let old = shared.replace(RoutingTable::from_routes(vec![(net("10.0.0.0/8"), B)]));
    assert_eq!(old.lookup(ip("10.1.1.1")).map(|r| r.provider), Some(A));
    // A guard taken before the swap keeps seeing its whole table.
    assert_eq!(before.lookup(ip("10.1.1.1")).map(|r| r.provider), Some(A));
    assert_eq!(
        shared.load().lookup(ip("10.1.1.1")).map(|r| r.provider),
        Some(B)
    );
    assert_eq!(shared.snapshot().len(), 1);
    assert!(SharedRoutes::default().load().is_empty());
}
