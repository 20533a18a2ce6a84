//! ADDR-1: readers keep deciding while the table is replaced; each reader sees the old table or
//! the new one, never a mix, and is never blocked.

use std::cmp::Reverse;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use ipnet::{IpNet, Ipv4Net};
use switch_core::id::ProviderId;
use switch_core::routing::{Route, RoutingTable, SharedRoutes};

const SWAPS: usize = 10_000;
const READERS: usize = 3;

/// The reference model: longest prefix, then lowest provider id.
fn reference(routes: &[(IpNet, ProviderId)], addr: IpAddr) -> Option<Route> {
    routes
        .iter()
        .filter(|(n, _)| n.contains(&addr))
        .min_by_key(|&&(n, p)| (Reverse(n.prefix_len()), p))
        .map(|&(subnet, provider)| Route { subnet, provider })
}

fn v4(a: u32, len: u8) -> IpNet {
    IpNet::V4(Ipv4Net::new(Ipv4Addr::from(a), len).unwrap().trunc())
}

/// Two tables that answer differently for every query below.
/// A route list, as given to `RoutingTable::from_routes`.
type Routes = Vec<(IpNet, ProviderId)>;

fn tables() -> (Routes, Routes) {
    let mut old = Vec::new();
    let mut new = Vec::new();
    for i in 0..64u32 {
        old.push((v4(0x0a00_0000 | (i << 16), 16), ProviderId(i % 3)));
        old.push((
            v4(0x0a00_0000 | (i << 16) | (i << 8), 24),
            ProviderId(10 + i % 3),
        ));
        new.push((v4(0x0a00_0000 | (i << 16), 16), ProviderId(20 + i % 3)));
        new.push((
            v4(0x0a00_0000 | (i << 16) | ((i + 1) << 8), 24),
            ProviderId(30 + i % 3),
        ));
    }
    (old, new)
}

fn queries() -> Vec<IpAddr> {
    (0..64u32)
        .flat_map(|i| {
            [0u32, 1, 2]
                .map(|k| IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | (i << 16) | ((i + k) << 8) | 7)))
        })
        .collect()
}

#[test]
fn addr_1_readers_see_old_or_new_table_never_a_mix() {
    let (old_routes, new_routes) = tables();
    let qs = queries();
    let expect_old: Vec<Option<Route>> = qs.iter().map(|&q| reference(&old_routes, q)).collect();
    let expect_new: Vec<Option<Route>> = qs.iter().map(|&q| reference(&new_routes, q)).collect();
    // The test only proves something if the two tables disagree on every query.
    assert!(expect_old.iter().zip(&expect_new).all(|(a, b)| a != b));
    assert!(expect_old.iter().chain(&expect_new).all(Option::is_some));

    let old_table = RoutingTable::from_routes(old_routes.clone());
    let new_table = RoutingTable::from_routes(new_routes.clone());
    let shared = Arc::new(SharedRoutes::new(old_table.clone()));
    let done = Arc::new(AtomicBool::new(false));
    let snapshots = Arc::new(AtomicUsize::new(0));
    let start = Arc::new(Barrier::new(READERS + 1));

    let readers: Vec<_> = (0..READERS)
        .map(|r| {
            let (shared, done, snapshots, start) = (
                shared.clone(),
                done.clone(),
                snapshots.clone(),
                start.clone(),
            );
            let (qs, expect_old, expect_new) = (qs.clone(), expect_old.clone(), expect_new.clone());
            thread::spawn(move || {
                let mut k = r;
                start.wait();
                // Keep reading until the writer is done, and at least 1,000 snapshots each.
                while !done.load(Ordering::Acquire) || k < r + 1_000 {
                    let table = shared.load();
                    // Several lookups within one snapshot must all come from one table.
                    let picks = [
                        k % qs.len(),
                        (k * 7 + 3) % qs.len(),
                        (k * 13 + 5) % qs.len(),
                    ];
                    let answers: Vec<Option<Route>> =
                        picks.iter().map(|&i| table.lookup(qs[i])).collect();
                    let all_old = picks
                        .iter()
                        .zip(&answers)
                        .all(|(&i, a)| *a == expect_old[i]);
                    let all_new = picks
                        .iter()
                        .zip(&answers)
                        .all(|(&i, a)| *a == expect_new[i]);
                    assert!(
                        all_old || all_new,
                        "mixed answers {answers:?} for queries {picks:?}"
                    );
                    snapshots.fetch_add(1, Ordering::Relaxed);
                    k += 1;
                }
            })
        })
        .collect();

    start.wait();
    for i in 0..SWAPS {
        let next = if i % 2 == 0 {
            new_table.clone()
        } else {
            old_table.clone()
        };
        let previous = shared.replace(next);
        // The writer always gets back the table it published before.
        let expected_previous = if i % 2 == 0 { &old_table } else { &new_table };
        assert_eq!(&*previous, expected_previous);
    }
    done.store(true, Ordering::Release);
    for r in readers {
        r.join().expect("reader panicked");
    }
    // 10,000 swaps, an even number: the old table is current again.
    assert_eq!(*shared.load().as_ref(), old_table);
    assert!(snapshots.load(Ordering::Relaxed) >= READERS * 1_000);
}
