//! Full switch initialization (`Switch::new` + `Switch::initialize`, INIT-1 to INIT-4 and the
//! INIT-3a routing build) of 1, 8 and 64 mock SAN providers with 1,000 IPv4 addresses each.
//!
//! Provider `p` lists 10.p.x.y (1,000 distinct addresses) and the TCP/IP provider has one /16
//! interface per provider (10.p.0.0/16), so every provider claims one subnet. Each list is
//! larger than the switch's first 4 KiB buffer, so every provider also takes the `WSAEFAULT`
//! retry. The catalog and loader are built outside the measurement (`iter_batched`); the
//! switch is dropped outside it too. Target: 64 providers in at most 5 ms.
//!
//! The `scale` group checks that initialization and address changes stay linear in addresses
//! and diagnostics: 200 providers x 1,000 addresses (200,000 addresses) with covering /16
//! interfaces (one route each), the same addresses under no interface (200,000 host routes,
//! each a `host_route` diagnostic), and 100 providers listing the same 1,000 addresses
//! (99,000 `duplicate_address` diagnostics). The three run side by side; the uncovered and
//! duplicate cases should stay within a small factor of the covered one. `address_change` does
//! the same for one address change on a switch that already holds those diagnostics, so a
//! storm of changes does not grow with the diagnostics noted before.
//!
//! Run with `cargo bench --bench init`.

// criterion_group! generates an undocumented `pub fn`.
#![allow(missing_docs)]

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ipnet::IpNet;
use mock_provider::{MockCatalog, MockConfig, MockLoader};
use switch_core::{ProviderState, Switch, SwitchConfig};

const ADDRESSES: usize = 1_000;
const PROVIDER_COUNTS: [usize; 3] = [1, 8, 64];

/// The 1,000 addresses of provider `p`: 10.p.x.y.
fn addresses_of(p: usize) -> Vec<IpAddr> {
    (0..ADDRESSES)
        .map(|k| {
            IpAddr::V4(Ipv4Addr::new(
                10,
                p as u8,
                (k / 250) as u8,
                (k % 250) as u8 + 1,
            ))
        })
        .collect()
}

/// A catalog with TCP/IP and `n` registered providers, their loader, and the TCP/IP
/// interfaces.
fn setup(n: usize) -> (MockCatalog, MockLoader, Vec<IpNet>) {
    let mut catalog = MockCatalog::with_tcpip();
    let mut loader = MockLoader::new();
    let mut interfaces = Vec::with_capacity(n);
    for p in 0..n {
        let config = MockConfig::generic(&format!("san-{p}")).with_addresses(addresses_of(p));
        catalog.install_mock(&config);
        loader.add(config);
        interfaces.push(format!("10.{p}.0.0/16").parse().unwrap());
    }
    (catalog, loader, interfaces)
}

/// The three shapes of the `scale` group.
#[derive(Clone, Copy)]
enum Shape {
    /// 200 providers, 10.p.x.y, each under a 10.p.0.0/16 interface.
    Covered,
    /// The same addresses with no interface: 200,000 host routes.
    Uncovered,
    /// 100 providers listing the same 1,000 addresses under one /8.
    Shared,
}

impl Shape {
    const ALL: [(Shape, &'static str); 3] = [
        (Shape::Covered, "covered_200x1000"),
        (Shape::Uncovered, "uncovered_200x1000"),
        (Shape::Shared, "shared_100x1000"),
    ];

    fn setup(self) -> (MockCatalog, MockLoader, Vec<IpNet>) {
        let (n, same) = match self {
            Shape::Covered | Shape::Uncovered => (200, false),
            Shape::Shared => (100, true),
        };
        let mut catalog = MockCatalog::with_tcpip();
        let mut loader = MockLoader::new();
        let mut interfaces = Vec::new();
        for p in 0..n {
            let list = addresses_of(if same { 0 } else { p });
            let config = MockConfig::generic(&format!("san-{p}")).with_addresses(list);
            catalog.install_mock(&config);
            loader.add(config);
            if let Shape::Covered = self {
                interfaces.push(format!("10.{p}.0.0/16").parse().unwrap());
            }
        }
        if let Shape::Shared = self {
            interfaces.push("10.0.0.0/8".parse().unwrap());
        }
        (catalog, loader, interfaces)
    }
}

fn scale(c: &mut Criterion) {
    let mut g = c.benchmark_group("scale");
    g.sample_size(10);
    for (shape, name) in Shape::ALL {
        g.bench_function(BenchmarkId::new("init", name), |b| {
            b.iter_batched(
                || shape.setup(),
                |(catalog, mut loader, interfaces)| {
                    let mut switch = Switch::new(SwitchConfig::default());
                    let report = switch.initialize(&catalog, &mut loader, interfaces);
                    black_box(&report);
                    (switch, report, loader, catalog)
                },
                BatchSize::LargeInput,
            );
        });
    }
    for (shape, name) in Shape::ALL {
        let (catalog, mut loader, interfaces) = shape.setup();
        let mut switch = Switch::new(SwitchConfig::default());
        switch.initialize(&catalog, &mut loader, interfaces);
        g.bench_function(BenchmarkId::new("address_change", name), |b| {
            b.iter(|| {
                let report = switch.address_changed(None);
                switch.take_trace();
                report
            });
        });
    }
    g.finish();
}

fn init(c: &mut Criterion) {
    // Check once that the measured work is the whole, successful initialization.
    for n in PROVIDER_COUNTS {
        let (catalog, mut loader, interfaces) = setup(n);
        let mut switch = Switch::new(SwitchConfig::default());
        let report = switch.initialize(&catalog, &mut loader, interfaces);
        assert_eq!(report.providers.len(), n);
        assert!(
            report
                .providers
                .iter()
                .all(|p| p.state == ProviderState::Ready && p.addresses.len() == ADDRESSES)
        );
        assert_eq!(report.routes.len(), n);
    }

    let mut g = c.benchmark_group("init");
    for n in PROVIDER_COUNTS {
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(
            BenchmarkId::new("providers_x1000_addresses", n),
            &n,
            |b, &n| {
                b.iter_batched(
                    || setup(n),
                    |(catalog, mut loader, interfaces)| {
                        let mut switch = Switch::new(SwitchConfig::default());
                        let report = switch.initialize(&catalog, &mut loader, interfaces);
                        black_box(&report);
                        (switch, report, loader, catalog)
                    },
                    BatchSize::SmallInput,
                );
            },
        );
    }
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(15)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500))
}

criterion_group! {
    name = benches;
    config = config();
    targets = init, scale
}
criterion_main!(benches);
