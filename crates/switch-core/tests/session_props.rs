//! SESS-1..3 and MEM-1 as properties: two hosts on the mock fabric exchange random sends (0 to
//! 4 MiB) in both directions, interleaved at random with deliveries and reads, under random
//! thresholds, message sizes, receive counts, RDMA sizes and completion modes, with and
//! without RdmaRead on either side. Every byte arrives exactly once and in order, credits
//! never exceed what the peer posted, no access the model NIC refuses is ever attempted, and
//! no registration outlives the connection.

mod session_net;

use proptest::prelude::*;
use session_net::{ALPHA, BETA, Net, Setup, pattern};
use spi_types::{MsgFlags, SanExtension, WsaError};
use switch_core::session::conn::SessionConfig;

#[derive(Debug, Clone)]
struct Sizes {
    receives: u32,
    message_size: u32,
    thresholds: [u32; 2],
    max_msg: [u32; 2],
    max_rdma: [u32; 2],
    rdma_read: [bool; 2],
    poll: bool,
}

#[derive(Debug, Clone)]
enum Op {
    /// The application at host `from` sends `len` bytes.
    Send { from: usize, len: usize },
    /// Signals and completions are delivered until nothing moves.
    Settle,
    /// The application at host `at` reads what is there.
    Read { at: usize },
}

fn sizes() -> impl Strategy<Value = Sizes> {
    (
        4u32..=24,
        prop_oneof![Just(128u32), 256u32..=4096, Just(8192u32), Just(65536u32)],
        [0u32..=70_000, 0u32..=70_000],
        [
            prop_oneof![Just(128u32), 512u32..=65536],
            prop_oneof![Just(128u32), 512u32..=65536],
        ],
        [
            prop_oneof![Just(1u32), 4096u32..=(2 << 20)],
            prop_oneof![Just(1u32), 4096u32..=(2 << 20)],
        ],
        [any::<bool>(), any::<bool>()],
        any::<bool>(),
    )
        .prop_map(
            |(receives, message_size, thresholds, max_msg, max_rdma, rdma_read, poll)| Sizes {
                receives,
                message_size,
                thresholds,
                max_msg,
                max_rdma: max_rdma.map(|m| m.max(512)),
                rdma_read,
                poll,
            },
        )
}

fn len() -> impl Strategy<Value = usize> {
    prop_oneof![
        4 => 0usize..=300,
        3 => 300usize..=20_000,
        2 => 20_000usize..=300_000,
        1 => 300_000usize..=(4 << 20),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (0usize..2, len()).prop_map(|(from, len)| Op::Send { from, len }),
        2 => Just(Op::Settle),
        2 => (0usize..2).prop_map(|at| Op::Read { at }),
    ]
}

fn setup(s: &Sizes) -> Setup {
    let mut setup = Setup {
        session: SessionConfig {
            receives: s.receives,
            sends: s.receives,
            message_size: s.message_size,
            poll_completions: s.poll,
            ..SessionConfig::default()
        },
        ..Setup::default()
    };
    for (i, mock) in [&mut setup.alpha, &mut setup.beta].into_iter().enumerate() {
        mock.rdma_threshold = s.thresholds[i];
        mock.max_msg_size = s.max_msg[i];
        mock.max_rdma_size = s.max_rdma[i];
        if !s.rdma_read[i] {
            *mock = mock
                .clone()
                .with_extension(SanExtension::RdmaRead, Err(WsaError::WSAEOPNOTSUPP));
        }
    }
    setup
}

/// Credits never exceed the receives the peer posted.
fn check_credits(net: &Net, posted: u32) {
    for (h, end) in net.hosts.iter().zip(net.ends) {
        if let Some(c) = h.switch.session_counters(end) {
            assert!(
                c.credits <= posted,
                "{} credits on {posted} receives",
                c.credits
            );
        }
    }
}

fn run(sizes: Sizes, ops: Vec<Op>) {
    let mut net = Net::new(setup(&sizes));
    let posted = sizes.receives;
    let mut sent: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
    let mut got: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
    let mut ids = Vec::new();
    for (i, op) in ops.into_iter().enumerate() {
        match op {
            Op::Send { from, len } => {
                let data = pattern(len, i as u8);
                sent[from].extend_from_slice(&data);
                ids.push((from, net.send(from, data, MsgFlags::empty())));
            }
            Op::Settle => net.settle(),
            Op::Read { at } => {
                let bytes = net.read_all(at);
                got[at].extend_from_slice(&bytes);
            }
        }
        check_credits(&net, posted);
    }
    // The applications read until everything arrived: a receiver that does not read holds
    // its peer back (the receive window), so reading lets the rest come.
    for _ in 0..1000 {
        net.settle();
        let mut moved = false;
        for at in [ALPHA, BETA] {
            let bytes = net.read_all(at);
            moved |= !bytes.is_empty();
            got[at].extend_from_slice(&bytes);
        }
        if !moved {
            break;
        }
    }
    for (from, id) in ids {
        let r = net.hosts[from].sent(id).expect("every send finished");
        assert!(r.is_ok(), "{r:?}");
    }
    // Every byte exactly once, in order.
    assert_eq!(got[BETA].len(), sent[ALPHA].len());
    assert!(got[BETA] == sent[ALPHA], "alpha's bytes arrived changed");
    assert_eq!(got[ALPHA].len(), sent[BETA].len());
    assert!(got[ALPHA] == sent[BETA], "beta's bytes arrived changed");
    assert_eq!(net.f.mem_violations(), 0);
    // No registration outlives the connection.
    for at in [ALPHA, BETA] {
        let h = &mut net.hosts[at];
        h.switch.close(&mut h.tcp, net.ends[at]).unwrap();
    }
    net.settle();
    for at in [ALPHA, BETA] {
        let m = net.f.memory(at);
        assert_eq!((m.local, m.rdma, m.cached), (0, 0, 0), "host {at}: {m:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        max_shrink_iters: 200,
        ..ProptestConfig::default()
    })]

    #[test]
    fn sess_1_2_3_every_byte_arrives_once_in_order_within_credits_and_registrations(
        sizes in sizes(),
        ops in proptest::collection::vec(op(), 1..24),
    ) {
        run(sizes, ops);
    }
}
