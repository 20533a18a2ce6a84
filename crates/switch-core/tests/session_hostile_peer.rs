//! SESS-1: whatever a peer (or its provider) puts into the switch's receive buffers, and
//! whatever the provider answers, one session never panics: it negotiates or fails, carries the
//! stream or fails, and always stays within the calls and memory it asked for.
//!
//! The session is driven by hand as the switch's executor would drive it, with a scripted
//! provider: option answers, registrations and data calls come from the test case; received
//! "messages" are arbitrary bytes written into the buffers the session posted, completed with
//! an arbitrary byte count (even one larger than the buffer).

use proptest::prelude::*;
use spi_types::WsaError;
use switch_core::call::{Answer, NextCall, ProviderMachine};
use switch_core::memory::MemoryHandle;
use switch_core::provider::{DataOutcome, ExtensionHandle, ProviderSocket};
use switch_core::session::conn::{Entries, Role, SendId, Session, SessionConfig, SessionEvent};
use switch_core::session::negotiation::Negotiation;
use switch_core::session::wire::{Body, Message};

#[derive(Debug, Clone)]
enum Input {
    /// The peer's next message: these bytes, completed with this count.
    Message(Vec<u8>, usize),
    /// A well-formed control message of kind `k` (1 to 9), with these credits, sizes and
    /// bytes: legal in form, not necessarily in the protocol's state.
    Valid(u8, u32, u64, Vec<u8>),
    /// A valid negotiation reply with these fields.
    Reply(u32, u32, u32, u32, bool),
    /// A receive fails with this error.
    RecvError(i32),
    /// The application sends this many bytes.
    Send(usize, bool),
    /// The application reads.
    Read,
    /// The application shuts its sends down.
    Shutdown,
}

fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        4 => (
            proptest::collection::vec(any::<u8>(), 0..200),
            prop_oneof![8 => 0usize..300, 1 => Just(usize::MAX), 1 => any::<usize>()],
        )
            .prop_map(|(b, n)| Input::Message(b, n)),
        4 => (
            1u8..=9,
            prop_oneof![4 => 0u32..6, 1 => any::<u32>()],
            prop_oneof![6 => 0u64..70_000, 1 => Just(u64::MAX), 1 => Just(1u64 << 40), 1 => any::<u64>()],
            proptest::collection::vec(any::<u8>(), 1..40),
        )
            .prop_map(|(k, c, n, b)| Input::Valid(k, c, n, b)),
        2 => (0u32..40, 0u32..9000, 0u32..100_000, 0u32..100_000, any::<bool>())
            .prop_map(|(c, b, t, r, rr)| Input::Reply(c, b, t, r, rr)),
        1 => prop_oneof![Just(10054), Just(995), any::<i32>()].prop_map(Input::RecvError),
        2 => (0usize..50_000, any::<bool>()).prop_map(|(n, oob)| Input::Send(n, oob)),
        1 => Just(Input::Read),
        1 => Just(Input::Shutdown),
    ]
}

/// What the scripted provider answers each call, and the receives it holds.
struct Provider {
    /// The calls made, by name.
    made: Vec<&'static str>,
    opts: [Result<u32, WsaError>; 3],
    next_opt: usize,
    recvs: Vec<(u64, switch_core::memory::WsaBufEx)>,
    data_ok: bool,
}

impl Provider {
    fn answer(&mut self, call: &NextCall) -> Answer {
        self.made.push(match call {
            NextCall::RegisterRdmaMemory { .. } => "register_rdma",
            NextCall::Rdma { read: true, .. } => "rdma_read",
            NextCall::Send { .. } => "send",
            _ => "other",
        });
        match call {
            NextCall::GetSockOpt { .. } => {
                let a = self.opts[self.next_opt % 3];
                self.next_opt += 1;
                Answer::SockOpt(a)
            }
            NextCall::RegisterMemory { .. } => Answer::Registered(Ok(MemoryHandle(7))),
            NextCall::RegisterRdmaMemory { .. } => Answer::RdmaRegistered(Ok(vec![1; 24])),
            NextCall::Recv {
                buffers,
                overlapped,
                ..
            } => {
                self.recvs.push((overlapped.id, buffers[0].clone()));
                Answer::Data(Ok(DataOutcome::Pending))
            }
            NextCall::Send { .. } | NextCall::Rdma { .. } => {
                if self.data_ok {
                    Answer::Data(Ok(DataOutcome::Done(0)))
                } else {
                    Answer::Data(Err(WsaError::WSAENETDOWN))
                }
            }
            NextCall::GetOverlappedResult { .. } => {
                Answer::Overlapped(Err(WsaError::WSA_IO_INCOMPLETE))
            }
            _ => Answer::Done(Ok(())),
        }
    }
}

/// Makes every call the session asks for, as the executor would, within its budget.
fn drive(s: &mut Session, p: &mut Provider) {
    let budget = s.call_budget();
    for _ in 0..budget {
        let Some(call) = s.next_call() else { return };
        let a = p.answer(&call);
        s.advance(a).unwrap();
    }
    assert!(s.next_call().is_none() || s.call_budget() > 0);
}

fn entries() -> Entries {
    let h = ExtensionHandle(1);
    Entries {
        register: h,
        deregister: h,
        register_rdma: h,
        deregister_rdma: h,
        rdma_write: h,
        rdma_read: Some(h),
    }
}

/// Runs the inputs; answers whether the session was open at some point, the bytes the
/// application read, and the calls made.
fn run(
    opts: [Result<u32, WsaError>; 3],
    data_ok: bool,
    inputs: Vec<Input>,
) -> (bool, Vec<u8>, Vec<&'static str>) {
    let mut opened = false;
    let mut read = Vec::new();
    let config = SessionConfig {
        receives: 4,
        sends: 4,
        message_size: 256,
        ..SessionConfig::default()
    };
    let mut s = Session::new(ProviderSocket(1), Role::Connector, entries(), config, 1);
    let mut p = Provider {
        made: Vec::new(),
        opts,
        next_opt: 0,
        recvs: Vec::new(),
        data_ok,
    };
    drive(&mut s, &mut p);
    let mut sends = 0u64;
    for input in inputs {
        match input {
            Input::Message(..) | Input::RecvError(_) if p.recvs.is_empty() => {}
            Input::Message(bytes, n) => {
                let (id, buf) = p.recvs.remove(0);
                let take = bytes.len().min(buf.range.len);
                buf.range
                    .buffer
                    .write(buf.range.offset, &bytes[..take])
                    .unwrap();
                s.complete(id, Ok(n));
            }
            Input::Valid(kind, credits, n, bytes) => {
                if p.recvs.is_empty() {
                    continue;
                }
                let body = match kind {
                    1 => Body::Data(&bytes),
                    2 => Body::Urgent(&bytes),
                    3 => Body::ReadOffer {
                        total: n.max(bytes.len() as u64 + 1),
                        descriptor: &bytes,
                        inline: &bytes[..bytes.len() / 2],
                    },
                    4 => Body::WriteRequest {
                        total: n.max(bytes.len() as u64 + 1),
                        inline: &bytes,
                    },
                    5 => Body::WriteTarget(Ok(&bytes)),
                    6 => Body::RdmaDone(Ok(n)),
                    7 => Body::Credit,
                    8 => Body::Disconnect,
                    _ => Body::WriteDone(Ok(n)),
                };
                let m = Message { credits, body };
                let mut out = vec![0u8; m.encoded_len()];
                let len = m.encode(&mut out).unwrap();
                let (id, buf) = p.recvs.remove(0);
                let take = len.min(buf.range.len);
                buf.range
                    .buffer
                    .write(buf.range.offset, &out[..take])
                    .unwrap();
                s.complete(id, Ok(take));
            }
            Input::Reply(credits, buffer_size, threshold, rdma, rr) => {
                if p.recvs.is_empty() {
                    continue;
                }
                let (id, buf) = p.recvs.remove(0);
                let m = Negotiation {
                    reply: true,
                    rdma_read: rr,
                    credits,
                    buffer_size,
                    rdma_threshold: threshold,
                    max_rdma_size: rdma,
                };
                let bytes = m.encode();
                let take = bytes.len().min(buf.range.len);
                buf.range
                    .buffer
                    .write(buf.range.offset, &bytes[..take])
                    .unwrap();
                s.complete(id, Ok(take));
            }
            Input::RecvError(code) => {
                let (id, _) = p.recvs.remove(0);
                s.complete(id, Err(WsaError::from_code(code)));
            }
            Input::Send(n, oob) => {
                sends += 1;
                let _ = s.send(SendId(sends), vec![9; n], oob);
            }
            Input::Read => {
                let mut buf = [0u8; 512];
                if let Ok(n) = s.recv(&mut buf) {
                    read.extend_from_slice(&buf[..n]);
                }
                let _ = s.recv_oob();
            }
            Input::Shutdown => {
                let _ = s.shutdown(true, false);
            }
        }
        drive(&mut s, &mut p);
        opened |= s.is_open();
        while let Some(e) = s.poll_event() {
            if let SessionEvent::Sent { send, .. } = e {
                assert!(send.0 >= 1 && send.0 <= sends);
            }
        }
        // Credits never exceed what the peer could have posted.
        assert!(s.credits() <= 4096);
        // The session never has more calls under way than its buffers and transfers allow.
        assert!(s.pending_ops() <= 4 + 4 + 16 + 1, "{}", s.pending_ops());
    }
    s.close();
    drive(&mut s, &mut p);
    s.closed();
    assert_eq!(s.pending_ops(), 0);
    assert_eq!(s.footprint(), 0);
    (opened, read, p.made)
}

#[test]
fn sess_1_the_scripted_peer_negotiates_and_delivers_bytes() {
    let (opened, read, _) = run(
        [Ok(65536), Ok(1 << 20), Ok(8192)],
        true,
        vec![
            Input::Reply(16, 4096, 8192, 1 << 20, true),
            Input::Valid(1, 0, 0, b"hello".to_vec()),
            Input::Valid(7, 3, 0, vec![0]),
            Input::Read,
        ],
    );
    assert!(opened);
    assert_eq!(read, b"hello");
    // Returning more credits than the peer posted fails the session: nothing more is read.
    let (opened, read, _) = run(
        [Ok(65536), Ok(1 << 20), Ok(8192)],
        true,
        vec![
            Input::Reply(4, 4096, 8192, 1 << 20, true),
            Input::Valid(7, 5, 0, vec![0]),
            Input::Valid(1, 0, 0, b"late".to_vec()),
            Input::Read,
        ],
    );
    assert!(opened);
    assert!(read.is_empty());
}

#[test]
fn sess_2_a_transfer_too_large_or_an_rdma_read_that_moves_too_little_fails_the_connection() {
    // A write request for 2^40 bytes: refused before anything is allocated.
    let (opened, read, made) = run(
        [Ok(65536), Ok(1 << 20), Ok(8192)],
        true,
        vec![
            Input::Reply(16, 4096, 8192, 1 << 20, true),
            Input::Valid(4, 0, 1 << 40, vec![1; 10]),
            Input::Valid(1, 0, 0, b"after".to_vec()),
            Input::Read,
        ],
    );
    assert!(opened && read.is_empty());
    assert!(!made.contains(&"register_rdma"));
    // A read offer whose read completes with 0 bytes: nothing of it is delivered.
    let (opened, read, made) = run(
        [Ok(65536), Ok(1 << 20), Ok(8192)],
        true,
        vec![
            Input::Reply(16, 4096, 8192, 1 << 20, true),
            Input::Valid(3, 0, 1000, vec![7; 24]),
            Input::Read,
        ],
    );
    assert!(opened);
    assert!(made.contains(&"rdma_read"));
    assert!(read.is_empty(), "{} bytes delivered", read.len());
}

#[test]
fn sess_3_message_buffers_too_small_for_an_offer_carry_every_send_inline() {
    // The switch's buffers are 256 bytes: an offer with the largest descriptor would not fit.
    let (opened, _, made) = run(
        [Ok(65536), Ok(1 << 20), Ok(8192)],
        true,
        vec![
            Input::Reply(16, 4096, 8192, 1 << 20, true),
            Input::Send(50_000, false),
        ],
    );
    assert!(opened);
    assert!(!made.contains(&"register_rdma"));
    // The negotiation message, then inline messages, as many as the peer's credit of 16 allows
    // less the one kept back (the peer never returns any here).
    assert_eq!(made.iter().filter(|c| **c == "send").count(), 1 + 15);
}

fn opt() -> impl Strategy<Value = Result<u32, WsaError>> {
    prop_oneof![
        3 => any::<u32>().prop_map(Ok),
        1 => Just(Err(WsaError::WSAENOPROTOOPT)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn sess_1_no_peer_message_or_provider_answer_panics_the_session(
        opts in [opt(), opt(), opt()],
        data_ok in prop_oneof![4 => Just(true), 1 => Just(false)],
        inputs in proptest::collection::vec(input(), 0..40),
    ) {
        run(opts, data_ok, inputs);
    }
}
