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
//! - `messages_64b/channel`: 1,000 messages of 64 bytes through a `std::sync::mpsc` channel
//!   in the same thread (sent, then received).
//! - `messages_64b/switch`: the same 1,000 messages sent by alpha's application, settled, and
//!   read by beta's application.
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

criterion_group!(benches, transfer, messages);
criterion_main!(benches);
