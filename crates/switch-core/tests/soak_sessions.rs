//! A long-running pair of switches: thousands of SAN connections opened, carrying small and
//! large sends both ways, and closed, on the same two switches. Nothing the switches or the
//! model NIC hold may grow with the number of cycles: sockets, sessions, session memory,
//! registrations, cached registrations, up-call handles, the trace (data calls not traced) and
//! the events not yet taken.

mod session_net;

use session_net::{ALPHA, BETA, Net, Setup, pattern};
use switch_core::Footprint;

/// Cycles in `cargo test`; the ignored variant runs 10^5.
const CYCLES: usize = 2000;

fn state(net: &Net) -> Vec<(Footprint, usize)> {
    net.hosts
        .iter()
        .map(|h| (h.switch.footprint(), h.switch.upcalls().open_handles()))
        .collect()
}

#[test]
fn sess_1_soak_connections_carrying_data_leave_nothing_behind() {
    soak(CYCLES);
}

/// The long variant: `cargo test --release -p switch-core --test soak_sessions -- --ignored`.
#[test]
#[ignore = "long: 10^5 cycles"]
fn sess_1_long_soak_of_a_hundred_thousand_connections_leaves_nothing_behind() {
    soak(100_000);
}

fn soak(cycles: usize) {
    let mut net = Net::new(Setup {
        trace_data: false,
        ..Setup::default()
    });
    net.close();
    let mut baseline = None;
    for cycle in 0..cycles {
        net.open();
        let small = net.transfer(ALPHA, pattern(100, cycle as u8));
        assert_eq!(small.bytes, 100);
        let large = net.transfer(BETA, pattern(100_000 + cycle, cycle as u8));
        assert_eq!(large.bytes, 100_000 + cycle);
        net.close();
        for h in &mut net.hosts {
            h.events.clear();
            h.trace.clear();
            h.loader.log().clear();
            h.switch.take_trace();
        }
        if cycle == 10 {
            baseline = Some(state(&net));
        }
        if cycle > 10 && cycle % 1000 == 0 {
            assert_eq!(Some(state(&net)), baseline, "cycle {cycle}");
        }
    }
    for (at, (fp, handles)) in state(&net).into_iter().enumerate() {
        assert_eq!(
            (fp.sessions, fp.session_memory),
            (0, 0),
            "host {at}: {fp:?}"
        );
        // The listener (beta) and nothing else.
        assert!(fp.sockets <= 1, "host {at}: {fp:?}");
        assert!(fp.trace_events == 0, "host {at}: {fp:?}");
        // The query socket of the provider stays open.
        assert!(handles <= 2, "host {at}: {handles} up-call handles");
        let m = net.f.memory(at);
        assert_eq!((m.local, m.rdma, m.cached), (0, 0, 0), "host {at}: {m:?}");
    }
    assert_eq!(net.f.mem_violations(), 0);
}
