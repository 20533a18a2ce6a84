//! Soak: many connect-and-close cycles between two switches on the mock fabric, with faults
//! drawn from a seeded generator, checking every thousand cycles that nothing grows: open
//! provider sockets, the switches' tables, the trace (drained as a long-running embedder does)
//! and the events watched all return to their baseline.
//!
//! The bounded run (10,000 cycles) is part of `cargo test`; the long one (100,000) is
//! `cargo test -p switch-core --release --test soak_connections -- --ignored`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use mock_provider::{Fabric, MockCatalog, MockConfig, MockLoader, MockTcp, Transport};
use spi_types::{AddressFamily, ConditionResult, WsaError};
use switch_core::connection::{ConnectPolicy, ConnectStatus, SocketId, SwitchEvent};
use switch_core::routing::SocketKind;
use switch_core::session::conn::SessionConfig;
use switch_core::{Footprint, Switch, SwitchConfig};

/// A small deterministic generator (xorshift64*): the soak needs variety, not statistics.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

struct Host {
    switch: Switch,
    loader: MockLoader,
    tcp: MockTcp,
}

fn host(f: &Fabric, index: usize, ip: &str) -> Host {
    let config = MockConfig::generic("ib").with_addresses([ip.parse().unwrap()]);
    let mut catalog = MockCatalog::with_tcpip();
    catalog.install_mock(&config);
    let mut loader = MockLoader::new();
    loader.add(config);
    loader.attach(f, index).unwrap();
    let mut switch = Switch::new(SwitchConfig {
        connect: ConnectPolicy {
            negative_cache: Some(Duration::from_millis(50)),
            san_deadline: Some(Duration::from_millis(20)),
        },
        session: SessionConfig::disabled(),
        ..SwitchConfig::default()
    });
    switch.initialize(&catalog, &mut loader, vec!["10.1.0.0/16".parse().unwrap()]);
    Host {
        switch,
        loader,
        tcp: MockTcp::attached(f, index).unwrap(),
    }
}

/// Delivers every signal and the clock's due timers; answers the connects that finished on
/// alpha and the connections beta accepted.
fn settle(f: &Fabric, hosts: &mut [Host; 2]) -> (Vec<(SocketId, &'static str)>, Vec<SocketId>) {
    let (mut finished, mut accepted) = (Vec::new(), Vec::new());
    loop {
        while let Some((h, ev)) = f.next_signal() {
            let x = &mut hosts[h];
            x.switch.handle_event(&mut x.tcp, ev);
        }
        for (i, x) in hosts.iter_mut().enumerate() {
            while let Some(e) = x.switch.poll() {
                match (i, e) {
                    (0, SwitchEvent::Connected { socket, result }) => {
                        finished.push((socket, result.reason.code()));
                    }
                    (1, SwitchEvent::Accepted { listener, .. }) => {
                        if let Ok(Some(s)) = x.switch.accept(listener) {
                            accepted.push(s);
                        }
                    }
                    _ => {}
                }
            }
        }
        let due = [
            f.next_due(),
            // The switch's next timeout while a deadline is pending (its other timeouts are
            // negative-cache expiries, which the cycles' own clock steps take care of).
            hosts[0]
                .switch
                .poll_timeout()
                .filter(|_| hosts[0].switch.footprint().deadlines > 0)
                .map(|d| d.as_millis() as u64),
        ]
        .into_iter()
        .flatten()
        .min();
        match due {
            Some(t) if f.pending_signals() == 0 => {
                if t > f.now() {
                    f.advance(t - f.now());
                }
                for x in hosts.iter_mut() {
                    x.switch
                        .handle_timeout(&mut x.tcp, Duration::from_millis(f.now()));
                }
            }
            _ if f.pending_signals() > 0 => {}
            _ => return (finished, accepted),
        }
    }
}

fn open_san(f: &Fabric, h: usize) -> usize {
    f.open_sockets(h)
        .get(&Transport::San("ib".into()))
        .copied()
        .unwrap_or(0)
}

fn soak(cycles: usize, seed: u64) {
    let f = Fabric::new();
    f.add_host("alpha", ["10.0.0.1".parse().unwrap()]);
    f.add_host(
        "beta",
        ["10.0.0.2".parse().unwrap(), "10.1.9.2".parse().unwrap()],
    );
    let mut hosts = [host(&f, 0, "10.1.0.1"), host(&f, 1, "10.1.0.2")];
    let mut rng = Rng(seed | 1);
    let listen_at: SocketAddr = "0.0.0.0:7000".parse().unwrap();
    let b = &mut hosts[1];
    let l = b
        .switch
        .socket(&mut b.tcp, AddressFamily::INET, SocketKind::Stream)
        .unwrap();
    b.switch.bind(&mut b.tcp, l, listen_at).unwrap();
    b.switch
        .listen(&mut b.tcp, l, 8, ConditionResult::Accept)
        .unwrap();
    settle(&f, &mut hosts);
    for x in &mut hosts {
        x.switch.take_trace();
    }
    let baseline: Vec<Footprint> = hosts.iter().map(|x| x.switch.footprint()).collect();
    let baseline_san = [open_san(&f, 0), open_san(&f, 1)];
    let mut outcomes: BTreeMap<&'static str, usize> = BTreeMap::new();

    for cycle in 1..=cycles {
        // The faults of this cycle: a forced error on alpha's provider, a slow connection
        // manager past the SAN deadline, or a destination no SAN provider serves.
        let config = hosts[0]
            .loader
            .config(mock_provider::guid_for_name("ib"))
            .unwrap();
        {
            let mut c = config.lock().unwrap();
            c.connect_errors.clear();
            c.connect_delay_ms = 0;
            match rng.below(8) {
                0 => {
                    c.connect_errors
                        .insert("10.1.0.2".parse().unwrap(), WsaError::WSAENETDOWN);
                }
                1 => {
                    c.connect_errors
                        .insert("10.1.0.2".parse().unwrap(), WsaError::WSAECONNRESET);
                }
                2 => c.connect_delay_ms = 40,
                _ => {}
            }
        }
        let dest: SocketAddr = if rng.below(10) == 0 {
            "10.1.9.2:7000".parse().unwrap()
        } else {
            "10.1.0.2:7000".parse().unwrap()
        };
        let a = &mut hosts[0];
        let s = a
            .switch
            .socket(&mut a.tcp, AddressFamily::INET, SocketKind::Stream)
            .unwrap();
        let status = a.switch.connect(&mut a.tcp, s, dest).unwrap();
        let (finished, accepted) = settle(&f, &mut hosts);
        let code = match status {
            ConnectStatus::Done(r) => {
                assert!(finished.is_empty(), "cycle {cycle}: one ending only");
                r.reason.code()
            }
            ConnectStatus::Pending => {
                let [(socket, code)] = finished[..] else {
                    panic!("cycle {cycle}: the pending connect ends once: {finished:?}");
                };
                assert_eq!(socket, s);
                code
            }
        };
        *outcomes.entry(code).or_default() += 1;
        // Close both ends.
        let a = &mut hosts[0];
        a.switch.close(&mut a.tcp, s).unwrap();
        let b = &mut hosts[1];
        for t in accepted {
            b.switch.close(&mut b.tcp, t).unwrap();
        }
        settle(&f, &mut hosts);
        // Time moves on between cycles, so negative-cache entries come and go.
        f.advance(10);
        for x in &mut hosts {
            x.switch
                .handle_timeout(&mut x.tcp, Duration::from_millis(f.now()));
        }
        if cycle % 1_000 == 0 {
            // Let the negative cache expire, drain the trace as an embedder forwards it, and
            // compare with the baseline.
            f.advance(100);
            for x in &mut hosts {
                x.switch
                    .handle_timeout(&mut x.tcp, Duration::from_millis(f.now()));
                x.switch.take_trace();
            }
            settle(&f, &mut hosts);
            for (i, x) in hosts.iter().enumerate() {
                let now = x.switch.footprint();
                assert_eq!(
                    Footprint {
                        negative_cache: 0,
                        trace_events: 0,
                        ..now
                    },
                    Footprint {
                        negative_cache: 0,
                        ..baseline[i]
                    },
                    "host {i} after {cycle} cycles"
                );
                // Expired cache entries are purged as the cache grows, so it stays small.
                assert!(now.negative_cache <= 128, "host {i}: {now:?}");
                assert_eq!(x.switch.report().providers[0].connections, 0, "host {i}");
            }
            assert_eq!(
                [open_san(&f, 0), open_san(&f, 1)],
                baseline_san,
                "cycle {cycle}"
            );
            assert_eq!(hosts[0].tcp.open_sockets(), 0, "cycle {cycle}");
        }
    }
    // Every kind of ending happened.
    for code in [
        "route_match",
        "san_connect_failed",
        "san_connect_fatal",
        "negative_cache",
        "san_deadline",
    ] {
        assert!(
            outcomes.contains_key(code),
            "{code} never happened: {outcomes:?}"
        );
    }
}

#[test]
fn conn_4_soak_ten_thousand_connect_close_cycles_leave_nothing_behind() {
    soak(10_000, 0x5eed);
}

#[test]
#[ignore = "long soak: 100,000 cycles"]
fn conn_4_soak_a_hundred_thousand_connect_close_cycles() {
    soak(100_000, 0xfeed);
}
