//! Routing-table lookups and builds: `switch_core::routing::RoutingTable` against the LPM crates a
//! user would pick instead (prefix-trie, ip_network_table, iptrie's LC-trie) and a linear scan,
//! all in the same run.
//!
//! Tables are generated deterministically (splitmix64): IPv4 BGP-like (85 % /24, the rest /16 to
//! /23, in 1.0.0.0..224.0.0.0), IPv6 mostly /48 with /32 and /64 (nested in each other about half
//! the time, under 2000::/3). Each measured iteration performs 4,096 lookups (half of the queries
//! are addresses inside a random table prefix, half uniformly random), so criterion's per-element
//! throughput is the cost of one lookup. The linear scan runs only up to 4,096 prefixes.
//!
//! Every implementation gets typed addresses (`Ipv4Addr`/`Ipv6Addr`, or the crate's own prefix
//! type), the same way: the query array passes through `black_box`, its elements do not (a
//! per-element `black_box` of an `IpAddr` measures a store-forwarding stall, not a lookup).
//! `ours` is `RoutingTable::lookup_v4`/`lookup_v6`; `ours_ipaddr` is `RoutingTable::lookup` on
//! `IpAddr` (family dispatch and the IPv4-mapped check included), which the decisions use.
//!
//! Run a subset with e.g. `cargo bench --bench routing -- v4_lookup/ours`.

// criterion_group! generates an undocumented `pub fn`.
#![allow(missing_docs)]

use std::collections::HashSet;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use switch_core::id::ProviderId;
use switch_core::routing::RoutingTable;

const QUERIES: usize = 4096;
const PROVIDERS: u64 = 8;
const V4_SIZES: [usize; 5] = [16, 256, 4_096, 65_536, 1_000_000];
const V6_SIZES: [usize; 3] = [16, 4_096, 200_000];
const LINEAR_MAX: usize = 4_096;

/// splitmix64: a small deterministic PRNG.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn gen_v4(n: usize, seed: u64) -> Vec<(Ipv4Net, u32)> {
    let mut rng = Rng(seed);
    let mut seen = HashSet::with_capacity(n);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let len = if rng.below(100) < 85 {
            24
        } else {
            16 + rng.below(8) as u8
        };
        let addr = 0x0100_0000 + rng.below(0xe000_0000 - 0x0100_0000) as u32;
        let net = Ipv4Net::new(Ipv4Addr::from(addr), len).unwrap().trunc();
        if seen.insert(net) {
            out.push((net, rng.below(PROVIDERS) as u32));
        }
    }
    out
}

fn gen_v6(n: usize, seed: u64) -> Vec<(Ipv6Net, u32)> {
    let mut rng = Rng(seed);
    let mut seen = HashSet::with_capacity(n);
    let mut out: Vec<(Ipv6Net, u32)> = Vec::with_capacity(n);
    let mut p32: Vec<u128> = Vec::new();
    let mut p48: Vec<u128> = Vec::new();
    while out.len() < n {
        let roll = rng.below(100);
        let random =
            (0x2000u128 << 112) | (u128::from(rng.next()) << 64 | u128::from(rng.next())) >> 3;
        let (len, addr) = if roll < 20 {
            (32, random)
        } else if roll < 80 {
            match p32.len() {
                k if k > 0 && rng.below(2) == 0 => {
                    let parent = p32[rng.below(k as u64) as usize];
                    (48, parent | (u128::from(rng.next() as u16) << 80))
                }
                _ => (48, random),
            }
        } else {
            match p48.len() {
                k if k > 0 && rng.below(2) == 0 => {
                    let parent = p48[rng.below(k as u64) as usize];
                    (64, parent | (u128::from(rng.next() as u16) << 64))
                }
                _ => (64, random),
            }
        };
        let net = Ipv6Net::new(Ipv6Addr::from(addr), len).unwrap().trunc();
        if seen.insert(net) {
            let start = u128::from(net.network());
            match len {
                32 => p32.push(start),
                48 => p48.push(start),
                _ => {}
            }
            out.push((net, rng.below(PROVIDERS) as u32));
        }
    }
    out
}

fn queries_v4(table: &[(Ipv4Net, u32)], seed: u64) -> Vec<Ipv4Addr> {
    let mut rng = Rng(seed);
    (0..QUERIES)
        .map(|i| {
            if i % 2 == 0 {
                let net = table[rng.below(table.len() as u64) as usize].0;
                let host = (1u64 << (32 - net.prefix_len())) - 1;
                Ipv4Addr::from(u32::from(net.network()) | (rng.next() & host) as u32)
            } else {
                Ipv4Addr::from(rng.next() as u32)
            }
        })
        .collect()
}

fn queries_v6(table: &[(Ipv6Net, u32)], seed: u64) -> Vec<Ipv6Addr> {
    let mut rng = Rng(seed);
    (0..QUERIES)
        .map(|i| {
            let r = u128::from(rng.next()) << 64 | u128::from(rng.next());
            if i % 2 == 0 {
                let net = table[rng.below(table.len() as u64) as usize].0;
                let host = u128::MAX >> net.prefix_len();
                Ipv6Addr::from(u128::from(net.network()) | (r & host))
            } else {
                // Random, but inside 2000::/3 so that misses are not trivially far away.
                Ipv6Addr::from((0x2000u128 << 112) | (r >> 3))
            }
        })
        .collect()
}

fn ours_from<N: Into<IpNet> + Copy>(t: &[(N, u32)]) -> RoutingTable {
    RoutingTable::from_routes(t.iter().map(|&(n, p)| (n.into(), ProviderId(p))).collect())
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .measurement_time(Duration::from_millis(1500))
        .warm_up_time(Duration::from_millis(500))
}

/// Benchmarks one implementation; its table is built once, and only if the filter selects it.
fn lookup_bench<T>(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    n: usize,
    make: impl Fn() -> T,
    run: impl Fn(&T) -> u32,
) {
    let mut cache: Option<T> = None;
    g.bench_function(BenchmarkId::new(name, n), |b| {
        let t = cache.get_or_insert_with(&make);
        b.iter(|| run(t))
    });
}

fn ours_report(t: RoutingTable, family: &str, n: usize) -> RoutingTable {
    eprintln!(
        "ours {family} n={n}: {} bytes, {:.2} bytes/prefix",
        t.memory_bytes(),
        t.memory_bytes() as f64 / n as f64
    );
    t
}

fn linear(nets: &[(IpNet, u32)], q: IpAddr) -> u32 {
    let mut best: Option<(u8, u32)> = None;
    for &(net, p) in nets {
        if net.contains(&q) && best.is_none_or(|(l, _)| net.prefix_len() > l) {
            best = Some((net.prefix_len(), p));
        }
    }
    best.map_or(0, |(_, p)| p + 1)
}

/// One lookup group (IPv4 or IPv6): every implementation at every table size.
macro_rules! lookup_group {
    (
        $name:ident, $sizes:expr, $gen:ident, $queries:ident, $seed:expr, $qseed:expr,
        $family:ident, $net:ty, $label:literal, $lookup:ident, $network:ty, $longest:ident,
        $prefix:ty $(,)?
    ) => {
        fn $name(c: &mut Criterion) {
            let mut g = c.benchmark_group(stringify!($name));
            g.throughput(Throughput::Elements(QUERIES as u64));
            for &n in &$sizes {
                let table = $gen(n, $seed + n as u64);
                let qs = $queries(&table, $qseed + n as u64);
                let ips: Vec<IpAddr> = qs.iter().map(|&a| IpAddr::$family(a)).collect();
                let nets: Vec<$net> = qs.iter().map(|&a| <$net>::from(a)).collect();
                lookup_bench(
                    &mut g,
                    "ours",
                    n,
                    || ours_report(ours_from(&table), $label, n),
                    |t| {
                        let mut acc = 0u32;
                        for &q in black_box(&qs) {
                            acc = acc.wrapping_add(t.$lookup(q).map_or(0, |r| r.provider.0 + 1));
                        }
                        acc
                    },
                );
                lookup_bench(
                    &mut g,
                    "ours_ipaddr",
                    n,
                    || ours_from(&table),
                    |t| {
                        let mut acc = 0u32;
                        for &q in black_box(&ips) {
                            acc = acc.wrapping_add(t.lookup(q).map_or(0, |r| r.provider.0 + 1));
                        }
                        acc
                    },
                );
                lookup_bench(
                    &mut g,
                    "prefix_trie",
                    n,
                    || {
                        let mut t = prefix_trie::PrefixMap::<$net, u32>::new();
                        for &(net, p) in &table {
                            t.insert(net, p);
                        }
                        t
                    },
                    |t| {
                        let mut acc = 0u32;
                        for q in black_box(&nets) {
                            acc = acc.wrapping_add(t.get_lpm(q).map_or(0, |(_, v)| v + 1));
                        }
                        acc
                    },
                );
                lookup_bench(
                    &mut g,
                    "ip_network_table",
                    n,
                    || {
                        let mut t = ip_network_table::IpNetworkTable::<u32>::new();
                        for &(net, p) in &table {
                            let net = <$network>::new(net.network(), net.prefix_len()).unwrap();
                            t.insert(net, p);
                        }
                        t
                    },
                    |t| {
                        let mut acc = 0u32;
                        for &q in black_box(&qs) {
                            acc = acc.wrapping_add(t.$longest(q).map_or(0, |(_, v)| v + 1));
                        }
                        acc
                    },
                );
                lookup_bench(
                    &mut g,
                    "iptrie_lc",
                    n,
                    || {
                        let mut t = iptrie::map::RTrieMap::<$prefix, u32>::with_root(0);
                        for &(net, p) in &table {
                            t.insert(<$prefix>::from(net), p + 1);
                        }
                        t.compress()
                    },
                    |t| {
                        let mut acc = 0u32;
                        for q in black_box(&qs) {
                            acc = acc.wrapping_add(*t.lookup(q).1);
                        }
                        acc
                    },
                );
                if n <= LINEAR_MAX {
                    lookup_bench(
                        &mut g,
                        "linear",
                        n,
                        || {
                            table
                                .iter()
                                .map(|&(n, p)| (IpNet::from(n), p))
                                .collect::<Vec<_>>()
                        },
                        |t| {
                            let mut acc = 0u32;
                            for &q in black_box(&ips) {
                                acc = acc.wrapping_add(linear(t, q));
                            }
                            acc
                        },
                    );
                }
            }
            g.finish();
        }
    };
}

lookup_group!(
    v4_lookup,
    V4_SIZES,
    gen_v4,
    queries_v4,
    0x5eed_0000,
    0x9e3,
    V4,
    Ipv4Net,
    "v4",
    lookup_v4,
    ip_network::Ipv4Network,
    longest_match_ipv4,
    iptrie::Ipv4Prefix,
);
lookup_group!(
    v6_lookup,
    V6_SIZES,
    gen_v6,
    queries_v6,
    0x6eed_0000,
    0x6e3,
    V6,
    Ipv6Net,
    "v6",
    lookup_v6,
    ip_network::Ipv6Network,
    longest_match_ipv6,
    iptrie::Ipv6Prefix,
);

fn build(c: &mut Criterion) {
    let mut g = c.benchmark_group("build");
    let n = 4_096;
    let v4 = gen_v4(n, 0x5eed_0000 + n as u64);
    let routes: Vec<(IpNet, ProviderId)> =
        v4.iter().map(|&(n, p)| (n.into(), ProviderId(p))).collect();
    g.bench_function(BenchmarkId::new("ours_v4", n), |b| {
        b.iter_batched(
            || routes.clone(),
            RoutingTable::from_routes,
            BatchSize::SmallInput,
        )
    });
    let v6 = gen_v6(n, 0x6eed_0000 + n as u64);
    let routes6: Vec<(IpNet, ProviderId)> =
        v6.iter().map(|&(n, p)| (n.into(), ProviderId(p))).collect();
    g.bench_function(BenchmarkId::new("ours_v6", n), |b| {
        b.iter_batched(
            || routes6.clone(),
            RoutingTable::from_routes,
            BatchSize::SmallInput,
        )
    });
    g.bench_function(BenchmarkId::new("prefix_trie_v4", n), |b| {
        b.iter(|| {
            let mut t = prefix_trie::PrefixMap::<Ipv4Net, u32>::new();
            for &(net, p) in &v4 {
                t.insert(net, p);
            }
            t
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = v4_lookup, v6_lookup, build
}
criterion_main!(benches);
