//! Soak: a long run of address changes through the whole switch while readers on other threads
//! decide connects from the published table (ADDR-1). Nothing may grow with the number of
//! changes: the trace drains, the diagnostics stay the same few, the table stays one route.
//!
//! The bounded run is part of `cargo test`; the long one is
//! `cargo test -p switch-core --release --test soak -- --ignored`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;

use mock_provider::{MockCatalog, MockConfig, MockLoader};
use switch_core::routing::{RouteTarget, SocketKind};
use switch_core::trace::Call;
use switch_core::{ProviderState, Switch, SwitchConfig};

const READERS: usize = 2;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn soak(changes: usize) {
    let config = MockConfig::generic("san").with_addresses(vec![ip("10.1.0.5")]);
    let guid = config.guid;
    let mut catalog = MockCatalog::with_tcpip();
    catalog.install_mock(&config);
    let mut loader = MockLoader::new();
    loader.add(config);
    let mut switch = Switch::new(SwitchConfig::default());
    let interfaces = vec![
        "10.1.0.0/16".parse().unwrap(),
        "10.2.0.0/16".parse().unwrap(),
    ];
    let report = switch.initialize(&catalog, &mut loader, interfaces);
    assert_eq!(report.providers[0].state, ProviderState::Ready);
    let baseline_diagnostics = report.diagnostics.len();
    switch.take_trace();

    let shared = switch.shared_routes();
    let done = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicUsize::new(0));
    let one: SocketAddr = "10.1.9.9:80".parse().unwrap();
    let two: SocketAddr = "10.2.9.9:80".parse().unwrap();
    let readers: Vec<_> = (0..READERS)
        .map(|_| {
            let (shared, done, reads) = (shared.clone(), done.clone(), reads.clone());
            thread::spawn(move || {
                let mut n = 0usize;
                while !done.load(Ordering::Acquire) || n < 1_000 {
                    let table = shared.load();
                    let san = |dest: SocketAddr| {
                        matches!(
                            table
                                .decide_connect(dest.ip(), SocketKind::Stream, |_| true)
                                .target,
                            RouteTarget::San(_)
                        )
                    };
                    // The provider owns exactly one of the two subnets in every table.
                    assert!(san(one) ^ san(two), "a table with both or neither subnet");
                    n += 1;
                }
                reads.fetch_add(n, Ordering::Relaxed);
            })
        })
        .collect();

    for i in 0..changes {
        let next = if i % 2 == 0 { "10.2.0.5" } else { "10.1.0.5" };
        assert!(loader.set_addresses(guid, vec![ip(next)]));
        let report = switch.address_changed(None);
        assert_eq!(report.routes.len(), 1);
        assert_eq!(report.providers[0].addresses, [ip(next)]);
        assert_eq!(report.diagnostics.len(), baseline_diagnostics);
        // One query per change, and the trace drains to nothing.
        let trace = switch.take_trace();
        assert_eq!(trace.len(), 1);
        assert_eq!(trace[0].call, Call::AddressListQuery);
        assert!(switch.trace().is_empty());
    }
    done.store(true, Ordering::Release);
    for r in readers {
        r.join().expect("reader panicked");
    }
    assert!(reads.load(Ordering::Relaxed) >= READERS * 1_000);
    // Readers hold no table now: only the switch's own handle and ours remain.
    assert_eq!(Arc::strong_count(&shared), 2);
    let report = switch.shutdown();
    assert!(report.providers[0].cleaned_up);
}

#[test]
fn addr_1_soak_ten_thousand_address_changes_with_readers_leave_nothing_behind() {
    soak(10_000);
}

#[test]
#[ignore = "long soak: a million address changes"]
fn addr_1_soak_a_million_address_changes() {
    soak(1_000_000);
}
