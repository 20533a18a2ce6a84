//! Full switch initialization (`Switch::new` + `Switch::initialize`, INIT-1 to INIT-4 and the
//! INIT-3a routing build) of 1, 8 and 64 mock SAN providers with 1,000 IPv4 addresses each.
//!
//! Provider `p` lists 10.p.x.y (1,000 distinct addresses) and the TCP/IP provider has one /16
//! interface per provider (10.p.0.0/16), so every provider claims one subnet. Each list is
//! larger than the switch's first 4 KiB buffer, so every provider also takes the `WSAEFAULT`
//! retry. The catalog and loader are built outside the measurement (`iter_batched`); the
//! switch is dropped outside it too. Target: 64 providers in at most 5 ms.
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
    targets = init
}
criterion_main!(benches);
