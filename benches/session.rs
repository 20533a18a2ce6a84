//! Data through the switch's sessions on the mock fabric, side by side in one run with what a
//! user would compare it to.
//!
//! Two hosts share one fabric (the harness of the session tests): alpha connects to beta's
//! listener over the SAN provider "ib", both switches negotiate the session, and then:
//!
//! - `transfer_1mib/memcpy`: a plain copy of 1 MiB between two buffers allocated once: the
//!   bandwidth the mock's RDMA (which is a copy) could reach at best.
//! - `transfer_1mib/switch_rdma_read`: alpha's application sends 1 MiB (a buffer it hands
//!   over, made outside the timing), the switches move it (the first part inline, the rest
//!   read by beta's switch through RdmaRead into a cached staging buffer), and beta's
//!   application receives it into a buffer of its own. Every signal and completion is
//!   delivered, as a platform would.
//! - `transfer_1mib/switch_rdma_write`: the same with beta's provider lacking RdmaRead, so alpha
//!   writes into the target beta names.
//! - `transfer_1mib/switch_rdma_read_provided_buffer` and `…_write_provided_buffer`: the same
//!   transfers, with beta's application taking each in the memory it arrived in
//!   (`Switch::recv_buffer`) and handing that memory back for the next
//!   (`Switch::provide_buffer`), and alpha's application sending from the memory of its
//!   previous send (`Switch::reclaim_buffers`): the one copy left is the mock's RDMA.
//! - `messages_64b/channel`: 1,000 messages of 64 bytes through a `std::sync::mpsc` channel
//!   in the same thread (sent, then received).
//! - `messages_64b/switch`: the same 1,000 messages sent by alpha's application, settled, and
//!   read by beta's application.
//!
//! - `connect_cycle/with_session` and `connect_cycle/without_session`: alpha connects to
//!   beta's listener over the SAN, beta's application accepts, both close, with the session's
//!   negotiation (CONN-7: options, the message block's registration, the receives, the two
//!   messages) and without it: the difference is what a session costs a connection, switch
//!   and mock together.
//!
//! - `poll_round/receives_8` and `poll_round/receives_800`: with
//!   `SessionConfig::poll_completions`, one `Switch::handle_completions` on alpha while
//!   nothing arrives, with 8 receives posted (the default) and with 100 times as many. A round
//!   asks the provider for the oldest receive only (SESS-5), so the two cost the same.
//!
//! Throughput is set per case, so criterion prints bytes or messages per second.
//!
//! Run with `cargo bench --bench session`.

// criterion_group! generates an undocumented `pub fn`.
#![allow(missing_docs)]

#[path = "../crates/switch-core/tests/session_net/mod.rs"]
mod session_net;

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use session_net::{ALPHA, BETA, Net, Setup};
use spi_types::{MsgFlags, SanExtension, WsaError};
use switch_core::session::conn::SessionConfig;

const MIB: usize = 1 << 20;

/// Beta's application reads `len` bytes into `buf`.
fn receive(net: &mut Net, buf: &mut [u8], len: usize) {
    let mut got = 0;
    while got < len {
        let h = &mut net.hosts[BETA];
        match h.switch.recv(
            &mut h.tcp,
            net.ends[BETA],
            &mut buf[got..],
            MsgFlags::empty(),
        ) {
            Ok(0) => panic!("the stream ended"),
            Ok(n) => got += n,
            Err(e) => {
                assert_eq!(e.wsa(), Some(WsaError::WSAEWOULDBLOCK), "{e}");
                net.settle();
            }
        }
    }
}

/// Drops what the hosts and the mocks recorded, so nothing grows across iterations.
fn forget(net: &mut Net) {
    for h in &mut net.hosts {
        h.events.clear();
        h.trace.clear();
        h.loader.log().clear();
    }
}

/// Switches that trace initialization and control calls only, as an embedder runs them.
fn quiet() -> Setup {
    Setup {
        trace_data: false,
        ..Setup::default()
    }
}

fn transfer(c: &mut Criterion) {
    let mut g = c.benchmark_group("transfer_1mib");
    g.throughput(Throughput::Bytes(MIB as u64));
    let src = vec![0x5a_u8; MIB];
    let mut dst = vec![0_u8; MIB];
    g.bench_function("memcpy", |b| {
        b.iter(|| {
            dst.copy_from_slice(black_box(&src));
            black_box(&mut dst);
        })
    });
    // The provided-buffer way: the receiver takes each transfer in the memory it arrived in
    // (`Switch::recv_buffer`) and hands that memory back for the next one
    // (`Switch::provide_buffer`): one copy, the RDMA's.
    for (name, read) in [
        ("switch_rdma_read_provided_buffer", true),
        ("switch_rdma_write_provided_buffer", false),
    ] {
        let mut setup = quiet();
        if !read {
            setup.beta = setup
                .beta
                .with_extension(SanExtension::RdmaRead, Err(WsaError::WSAEOPNOTSUPP));
        }
        let mut net = Net::new(setup);
        let end = net.ends[BETA];
        net.hosts[BETA]
            .switch
            .provide_buffer(end, vec![0_u8; MIB])
            .unwrap();
        let sender = net.ends[ALPHA];
        let mut spare = vec![0x5a_u8; MIB];
        g.bench_function(name, |b| {
            b.iter(|| {
                net.send(ALPHA, std::mem::take(&mut spare), MsgFlags::empty());
                net.settle();
                let h = &mut net.hosts[BETA];
                let mut got = 0;
                while got < MIB {
                    let piece = h.switch.recv_buffer(&mut h.tcp, end).unwrap();
                    got += piece.len();
                    if piece.len() > MIB / 2 {
                        h.switch.provide_buffer(end, piece).unwrap();
                    }
                }
                // The sender sends from the same memory next time.
                let a = &mut net.hosts[ALPHA];
                spare = a
                    .switch
                    .reclaim_buffers(&mut a.tcp, sender)
                    .unwrap()
                    .pop()
                    .unwrap();
                forget(&mut net);
            })
        });
    }
    for (name, read) in [("switch_rdma_read", true), ("switch_rdma_write", false)] {
        let mut setup = quiet();
        if !read {
            setup.beta = setup
                .beta
                .with_extension(SanExtension::RdmaRead, Err(WsaError::WSAEOPNOTSUPP));
        }
        let mut net = Net::new(setup);
        let mut buf = vec![0_u8; MIB];
        g.bench_function(name, |b| {
            b.iter_batched(
                || vec![0x5a_u8; MIB],
                |data| {
                    net.send(ALPHA, data, MsgFlags::empty());
                    net.settle();
                    receive(&mut net, &mut buf, MIB);
                    forget(&mut net);
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

fn messages(c: &mut Criterion) {
    const N: usize = 1000;
    let mut g = c.benchmark_group("messages_64b");
    g.throughput(Throughput::Elements(N as u64));
    let payload = vec![7_u8; 64];
    g.bench_function("channel", |b| {
        let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
        b.iter(|| {
            for _ in 0..N {
                tx.send(payload.clone()).unwrap();
            }
            let mut got = 0;
            while let Ok(m) = rx.try_recv() {
                got += m.len();
            }
            assert_eq!(got, N * 64);
        })
    });
    let mut net = Net::new(quiet());
    let mut buf = vec![0_u8; N * 64];
    g.bench_function("switch", |b| {
        b.iter(|| {
            for _ in 0..N {
                net.send(ALPHA, payload.clone(), MsgFlags::empty());
            }
            net.settle();
            receive(&mut net, &mut buf, N * 64);
            forget(&mut net);
        })
    });
    g.finish();
}

fn connect_cycle(c: &mut Criterion) {
    let mut g = c.benchmark_group("connect_cycle");
    g.throughput(Throughput::Elements(1));
    for (name, session) in [
        ("with_session", SessionConfig::default()),
        ("without_session", SessionConfig::disabled()),
    ] {
        let mut net = Net::new(Setup { session, ..quiet() });
        net.close();
        g.bench_function(name, |b| {
            b.iter(|| {
                net.open();
                net.close();
                forget(&mut net);
            })
        });
    }
    g.finish();
}

fn poll_round(c: &mut Criterion) {
    let mut g = c.benchmark_group("poll_round");
    g.throughput(Throughput::Elements(1));
    for receives in [8, 800] {
        let session = SessionConfig {
            poll_completions: true,
            receives,
            ..SessionConfig::default()
        };
        let mut net = Net::new(Setup { session, ..quiet() });
        forget(&mut net);
        g.bench_function(format!("receives_{receives}"), |b| {
            b.iter(|| {
                let a = &mut net.hosts[ALPHA];
                assert_eq!(a.switch.handle_completions(&mut a.tcp), 0);
                a.loader.log().clear();
            })
        });
    }
    g.finish();
}

criterion_group!(benches, transfer, messages, connect_cycle, poll_round);
criterion_main!(benches);
