//! CONN-7, SESS-1..6, MEM-1..3 and CLOSE-1 through two real switches on the mock fabric:
//! alpha (provider "ib" at 10.1.0.1) connects to beta (provider "ib" at 10.1.0.2), whose
//! application listens and accepts; then the two applications exchange bytes through the
//! switches' sessions. Every signal and every completion goes to its host's switch as a
//! platform would deliver it.

use spi_types::{MsgFlags, SanExtension, WsaError};
use switch_core::connection::{SwitchEvent, Via};
use switch_core::provider::Shutdown;
use switch_core::session::conn::{DataPath, SessionConfig};
use switch_core::trace::Call;

mod session_net;

use session_net::{ALPHA, BETA, Net, P, Setup, pattern};

#[test]
fn conn_7_the_connect_completes_only_after_buffers_are_registered_receives_posted_and_the_negotiation_exchanged()
 {
    let mut net = Net::listening(Setup::default());
    let l = net.listener;
    let s = net.start_connect();
    // The SAN connect itself finishes through the signals, but nobody has handled a
    // completion yet: the negotiation has not finished, so neither application has its
    // connection.
    net.signals_only();
    for h in &mut net.hosts {
        h.drain();
    }
    assert!(
        !net.hosts[ALPHA]
            .events
            .iter()
            .any(|e| matches!(e, SwitchEvent::Connected { .. })),
        "{:?}",
        net.hosts[ALPHA].events
    );
    assert_eq!(net.hosts[BETA].switch.accept(l).unwrap(), None);
    // Alpha's order: the options, the buffers' registration, the receives, then the
    // negotiation message.
    let calls: Vec<Call> = net.hosts[ALPHA]
        .trace
        .iter()
        .map(|t| t.call)
        .skip_while(|c| *c != Call::GetSockOpt)
        .collect();
    let register = calls
        .iter()
        .position(|c| *c == Call::RegisterMemory)
        .unwrap();
    let first_recv = calls.iter().position(|c| *c == Call::Recv).unwrap();
    let first_send = calls.iter().position(|c| *c == Call::Send).unwrap();
    assert_eq!(&calls[..3], &[Call::GetSockOpt; 3]);
    assert!(
        register < first_recv && first_recv < first_send,
        "{calls:?}"
    );
    assert_eq!(
        calls[first_recv..first_send].len(),
        SessionConfig::default().receives as usize
    );
    net.settle();
    assert!(net.hosts[ALPHA].events.iter().any(|e| matches!(
        e,
        SwitchEvent::Connected { socket, result } if *socket == s && result.result == Ok(Via::San(P))
    )));
    let taken = net.hosts[BETA].switch.accept(l).unwrap();
    assert!(
        taken.is_some(),
        "the accept completes after the negotiation"
    );
}

#[test]
fn accept_3_the_accepting_side_answers_the_negotiation_with_the_receives_it_posted() {
    let mut net = Net::new(Setup::default());
    let beta = &net.hosts[BETA];
    // Beta posted its receives before its only send, the negotiation reply; the connecting
    // side's message reached one of them.
    let calls: Vec<Call> = beta.trace.iter().map(|t| t.call).collect();
    let first_send = calls.iter().position(|c| *c == Call::Send).unwrap();
    let recvs_before = calls[..first_send]
        .iter()
        .filter(|c| **c == Call::Recv)
        .count();
    assert!(recvs_before >= SessionConfig::default().receives as usize);
    assert_eq!(beta.calls(Call::Send), 1, "only the reply so far");
    // The reply's credit is what alpha may send: 16 messages less the one it keeps back.
    let report = net.transfer(ALPHA, pattern(10, 1));
    assert_eq!(report.path, DataPath::Inline);
}

#[test]
fn sess_1_a_sender_never_has_more_messages_outstanding_than_the_peer_posted_and_buffers_are_reposted_at_once()
 {
    let mut net = Net::new(Setup::default());
    let posted = SessionConfig::default().receives as usize;
    let recvs_before = net.hosts[BETA].calls(Call::Recv);
    let consumed_before = net.hosts[BETA]
        .switch
        .session_counters(net.ends[BETA])
        .unwrap()
        .messages_received;
    // 200 small sends before anything is delivered: the credits run out and the sender
    // waits, without ever sending a message beta has no receive for.
    let sends_before = net.hosts[ALPHA].calls(Call::Send);
    let mut ids = Vec::new();
    let mut sent = Vec::new();
    for i in 0..200 {
        let data = pattern(10, i as u8);
        sent.extend_from_slice(&data);
        ids.push(net.send(ALPHA, data, MsgFlags::empty()));
    }
    // One credit stays back for a credit update.
    let sends_now = net.hosts[ALPHA].calls(Call::Send) - sends_before;
    assert_eq!(
        sends_now,
        posted - 1,
        "{sends_now} messages went out on {posted} receives"
    );
    assert_eq!(
        net.hosts[ALPHA]
            .switch
            .session_counters(net.ends[ALPHA])
            .map(|c| c.messages_sent),
        Some(posted as u64)
    );
    net.settle();
    for id in ids {
        assert!(net.hosts[ALPHA].sent(id).unwrap().is_ok());
    }
    assert_eq!(net.read_all(BETA), sent);
    // Every message beta consumed was posted again at once.
    let consumed = net.hosts[BETA]
        .switch
        .session_counters(net.ends[BETA])
        .unwrap()
        .messages_received
        - consumed_before;
    assert!(
        consumed >= 20,
        "200 sends of 10 bytes took {consumed} messages"
    );
    assert_eq!(
        (net.hosts[BETA].calls(Call::Recv) - recvs_before) as u64,
        consumed,
        "one new receive per message consumed"
    );
    assert_eq!(net.f.mem_violations(), 0);
}

#[test]
fn sess_2_small_sends_travel_inline_in_control_messages() {
    let mut net = Net::new(Setup::default());
    let report = net.transfer(ALPHA, pattern(8192, 3));
    assert_eq!(report.path, DataPath::Inline);
    assert_eq!(report.rdma_ops, 0);
    assert_eq!(report.bytes, 8192);
    assert!(
        report.messages >= 2,
        "8 KiB needs more than one 8 KiB buffer"
    );
    assert_eq!(net.hosts[ALPHA].calls(Call::RdmaWrite), 0);
    assert_eq!(net.hosts[BETA].calls(Call::RdmaRead), 0);
}

#[test]
fn sess_2_a_large_send_is_read_by_a_receiver_that_has_rdma_read() {
    let mut net = Net::new(Setup::default());
    let report = net.transfer(ALPHA, pattern(300_000, 5));
    assert_eq!(report.path, DataPath::RdmaRead);
    assert_eq!(report.rdma_ops, 1);
    // The sender registered its buffer for the peer, the receiver read it, the sender
    // deregistered once told.
    assert_eq!(net.hosts[ALPHA].calls(Call::RegisterRdmaMemory), 1);
    assert_eq!(net.hosts[ALPHA].calls(Call::DeregisterRdmaMemory), 1);
    assert_eq!(net.hosts[BETA].calls(Call::RdmaRead), 1);
    assert_eq!(net.hosts[ALPHA].calls(Call::RdmaWrite), 0);
    assert_eq!(net.f.mem_violations(), 0);
}

#[test]
fn sess_2_without_rdma_read_at_the_receiver_the_sender_writes_into_the_target_it_names() {
    let mut setup = Setup::default();
    setup.beta = setup
        .beta
        .with_extension(SanExtension::RdmaRead, Err(WsaError::WSAEOPNOTSUPP));
    let mut net = Net::new(setup);
    let report = net.transfer(ALPHA, pattern(300_000, 7));
    assert_eq!(report.path, DataPath::RdmaWrite);
    assert_eq!(report.rdma_ops, 1);
    assert_eq!(net.hosts[BETA].calls(Call::RegisterRdmaMemory), 1);
    assert_eq!(net.hosts[BETA].calls(Call::DeregisterRdmaMemory), 1);
    assert_eq!(net.hosts[ALPHA].calls(Call::RdmaWrite), 1);
    // Beta can still read: in the other direction alpha reads what beta offers.
    let back = net.transfer(BETA, pattern(200_000, 9));
    assert_eq!(back.path, DataPath::RdmaRead);
    assert_eq!(net.f.mem_violations(), 0);
}

#[test]
fn sess_2_a_registration_failure_completes_the_send_with_wsaenobufs_on_either_path() {
    // Read path: the sender cannot register its buffer for the peer.
    let mut setup = Setup::default();
    setup.alpha.register_rdma_memory = Err(WsaError::WSAENOBUFS);
    let mut net = Net::new(setup);
    let id = net.send(ALPHA, pattern(100_000, 1), MsgFlags::empty());
    net.settle();
    assert_eq!(net.hosts[ALPHA].sent(id), Some(Err(WsaError::WSAENOBUFS)));
    assert!(net.read_all(BETA).is_empty(), "nothing of it arrived");
    // The connection goes on.
    assert_eq!(net.transfer(ALPHA, pattern(100, 2)).path, DataPath::Inline);

    // Write path: the receiver cannot register its target.
    let mut setup = Setup::default();
    setup.beta = setup
        .beta
        .with_extension(SanExtension::RdmaRead, Err(WsaError::WSAEOPNOTSUPP));
    setup.beta.register_rdma_memory = Err(WsaError::WSAENOBUFS);
    let mut net = Net::new(setup);
    let id = net.send(ALPHA, pattern(100_000, 1), MsgFlags::empty());
    net.settle();
    assert_eq!(net.hosts[ALPHA].sent(id), Some(Err(WsaError::WSAENOBUFS)));
    assert!(net.read_all(BETA).is_empty());
    assert_eq!(net.transfer(ALPHA, pattern(100, 2)).path, DataPath::Inline);
}

#[test]
fn sess_3_max_rdma_size_splits_a_transfer_and_max_msg_size_caps_every_message() {
    let mut setup = Setup::default();
    setup.alpha.max_rdma_size = 4096;
    setup.alpha.max_msg_size = 512;
    setup.beta.max_msg_size = 512;
    let mut net = Net::new(setup);
    let data = pattern(40_000, 11);
    let report = net.transfer(ALPHA, data);
    assert_eq!(report.path, DataPath::RdmaRead);
    // The offer's 512-byte message carries the first 232 bytes inline (512 less the
    // 16-byte header, the total and room for the largest descriptor); the other 39,768
    // moved in reads of at most 4096 bytes: ten of them.
    assert_eq!(report.rdma_ops as usize, (40_000usize - 232).div_ceil(4096));
    assert_eq!(report.rdma_ops, 10);
    // An inline send of 2000 bytes needs at least four 512-byte messages.
    let small = net.transfer(ALPHA, pattern(2000, 12));
    assert_eq!(small.path, DataPath::Inline);
    assert!(small.messages >= 4, "{small:?}");
    assert_eq!(net.f.mem_violations(), 0);
}

#[test]
fn sess_4_urgent_data_travels_in_a_control_message_and_its_last_byte_is_the_urgent_byte() {
    let mut net = Net::new(Setup::default());
    let id = net.send(ALPHA, vec![1, 2, 3, 0xEE], MsgFlags::OOB);
    net.settle();
    let report = net.hosts[ALPHA].sent(id).unwrap().unwrap();
    assert_eq!(report.messages, 1);
    assert_eq!(net.read_all(BETA), vec![1, 2, 3]);
    let b = &mut net.hosts[BETA];
    // An empty buffer takes nothing, not even the urgent byte.
    assert_eq!(
        b.switch
            .recv(&mut b.tcp, net.ends[BETA], &mut [], MsgFlags::OOB)
            .unwrap(),
        0
    );
    let mut one = [0u8; 1];
    let n = b
        .switch
        .recv(&mut b.tcp, net.ends[BETA], &mut one, MsgFlags::OOB)
        .unwrap();
    assert_eq!((n, one[0]), (1, 0xEE));
    let again = b
        .switch
        .recv(&mut b.tcp, net.ends[BETA], &mut one, MsgFlags::OOB)
        .unwrap_err();
    assert_eq!(again.wsa(), Some(WsaError::WSAEINVAL));
}

#[test]
fn sess_5_completions_arrive_by_up_call_or_by_polling_as_the_event_handles_low_bit_says() {
    // Up-calls (the default): no WSPGetOverlappedResult at all.
    let mut net = Net::new(Setup::default());
    net.transfer(ALPHA, pattern(300_000, 1));
    assert_eq!(net.hosts[ALPHA].calls(Call::GetOverlappedResult), 0);
    // Polling: the same transfer completes through WSPGetOverlappedResult only.
    let mut setup = Setup::default();
    setup.session.poll_completions = true;
    let mut net = Net::new(setup);
    net.transfer(ALPHA, pattern(300_000, 1));
    net.transfer(BETA, pattern(3000, 2));
    assert!(net.hosts[ALPHA].calls(Call::GetOverlappedResult) > 0);
    assert!(net.hosts[BETA].calls(Call::GetOverlappedResult) > 0);
    assert_eq!(net.hosts[ALPHA].switch.upcalls().pending(), 0);
}

#[test]
fn sess_5_a_poll_round_asks_for_the_oldest_receive_only_while_it_is_under_way() {
    // A stream socket's receives complete in the order they were posted: while the oldest is
    // under way, so are the other 31, and polling them would cost a provider call each.
    let mut setup = Setup::default();
    setup.session.poll_completions = true;
    setup.session.receives = 32;
    let mut net = Net::new(setup);
    for round in 0..3 {
        let before = net.hosts[ALPHA].calls(Call::GetOverlappedResult);
        let a = &mut net.hosts[ALPHA];
        assert_eq!(a.switch.handle_completions(&mut a.tcp), 0);
        a.drain();
        assert_eq!(
            net.hosts[ALPHA].calls(Call::GetOverlappedResult) - before,
            1,
            "round {round}"
        );
    }
    // What arrives afterwards is still taken, every message in order, also when several
    // receives completed between two rounds.
    let data = pattern(40_000, 9);
    net.send(BETA, data.clone(), MsgFlags::empty());
    net.settle();
    assert_eq!(net.read_all(ALPHA), data);
}

#[test]
fn sess_6_shutdown_is_the_switchs_own_message_and_never_reaches_the_provider() {
    let mut net = Net::new(Setup::default());
    let data = pattern(5000, 4);
    let id = net.send(ALPHA, data.clone(), MsgFlags::empty());
    let a = &mut net.hosts[ALPHA];
    a.switch
        .shutdown_socket(&mut a.tcp, net.ends[ALPHA], Shutdown::Send)
        .unwrap();
    let before: Vec<Call> = net.hosts[ALPHA].trace.iter().map(|t| t.call).collect();
    net.settle();
    assert!(net.hosts[ALPHA].sent(id).unwrap().is_ok());
    // Everything sent before the shutdown arrives, then the end of the stream.
    assert_eq!(net.read_all(BETA), data);
    let b = &mut net.hosts[BETA];
    let mut buf = [0u8; 8];
    assert_eq!(
        b.switch
            .recv(&mut b.tcp, net.ends[BETA], &mut buf, MsgFlags::empty())
            .unwrap(),
        0
    );
    // Sending after a send shutdown fails; the peer can still send.
    let a = &mut net.hosts[ALPHA];
    let err = a
        .switch
        .send(&mut a.tcp, net.ends[ALPHA], vec![1], MsgFlags::empty())
        .unwrap_err();
    assert_eq!(err.wsa(), Some(WsaError::WSAESHUTDOWN));
    assert_eq!(net.transfer(BETA, pattern(50, 1)).path, DataPath::Inline);
    // The provider saw sends and receives only: no call of any other kind.
    let after: Vec<Call> = net.hosts[ALPHA].trace.iter().map(|t| t.call).collect();
    for c in &after[before.len()..] {
        assert!(
            matches!(
                c,
                Call::Send | Call::Recv | Call::RegisterRdmaMemory | Call::DeregisterRdmaMemory
            ),
            "{c}"
        );
    }
    // A receive shutdown is local: the application's receives fail.
    let b = &mut net.hosts[BETA];
    b.switch
        .shutdown_socket(&mut b.tcp, net.ends[BETA], Shutdown::Receive)
        .unwrap();
    assert_eq!(net.recv_error(BETA), Some(WsaError::WSAESHUTDOWN));
}

#[test]
fn mem_1_no_transfer_ever_makes_an_access_the_model_nic_refuses() {
    let mut setup = Setup::default();
    setup.alpha.max_rdma_size = 65536;
    let mut net = Net::new(setup);
    for (i, len) in [1usize, 100, 8192, 8193, 70_000, 1 << 20]
        .into_iter()
        .enumerate()
    {
        net.transfer(ALPHA, pattern(len, i as u8));
        net.transfer(BETA, pattern(len, 100 + i as u8));
    }
    assert_eq!(net.f.mem_violations(), 0);
}

#[test]
fn mem_2_memory_the_switch_releases_goes_through_every_providers_cache_callback_first() {
    let mut net = Net::new(Setup::default());
    let data = pattern(300_000, 1);
    let sent = data.clone();
    let at = sent.as_ptr() as usize;
    net.send(ALPHA, sent, MsgFlags::empty());
    net.settle();
    assert!(net.read_all(BETA) == data);
    // The sender's memory was exposed for the read. The switch keeps it for the application
    // to send from again; handing it back is letting it go, so the cache callback comes
    // first.
    assert_eq!(
        net.hosts[ALPHA].calls(Call::MemoryRegistrationCacheCallback),
        0
    );
    let a = &mut net.hosts[ALPHA];
    let back = a
        .switch
        .reclaim_buffers(&mut a.tcp, net.ends[ALPHA])
        .unwrap();
    a.drain();
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].as_ptr() as usize, at, "the same memory, not a copy");
    assert!(back[0] == data);
    assert!(net.hosts[ALPHA].calls(Call::MemoryRegistrationCacheCallback) >= 1);
    // A second transfer's memory is let go at the close instead, with the same callback.
    net.transfer(ALPHA, pattern(300_000, 2));
    let before = net.hosts[ALPHA].calls(Call::MemoryRegistrationCacheCallback);
    let a = &mut net.hosts[ALPHA];
    a.switch.close(&mut a.tcp, net.ends[ALPHA]).unwrap();
    let b = &mut net.hosts[BETA];
    b.switch.close(&mut b.tcp, net.ends[BETA]).unwrap();
    net.settle();
    assert!(net.hosts[ALPHA].calls(Call::MemoryRegistrationCacheCallback) > before);
    // Nothing stays cached or registered once both ends closed.
    for host in [ALPHA, BETA] {
        let m = net.f.memory(host);
        assert_eq!((m.local, m.rdma, m.cached), (0, 0, 0), "host {host}: {m:?}");
    }
}

#[test]
fn mem_3_closing_a_socket_first_releases_the_registrations_no_call_uses() {
    let mut setup = Setup::default();
    setup.session.cached_buffers = 2;
    let mut net = Net::new(setup);
    // Beta reads into staging buffers it keeps registered for the next transfer.
    net.transfer(ALPHA, pattern(300_000, 1));
    let cached = net.hosts[BETA].switch.footprint().session_memory;
    assert!(
        cached > 300_000,
        "the staging buffer stays cached: {cached}"
    );
    let deregs_before = net.hosts[BETA].calls(Call::DeregisterMemory);
    let b = &mut net.hosts[BETA];
    b.switch.close(&mut b.tcp, net.ends[BETA]).unwrap();
    b.drain();
    let t: Vec<Call> = b.trace.iter().map(|t| t.call).collect();
    let close = t.iter().rposition(|c| *c == Call::CloseSocket).unwrap();
    let dereg = t
        .iter()
        .rposition(|c| *c == Call::DeregisterMemory)
        .unwrap();
    assert!(net.hosts[BETA].calls(Call::DeregisterMemory) > deregs_before);
    assert!(dereg < close, "deregistered before the close: {t:?}");
}

#[test]
fn close_1_closing_aborts_pending_sends_and_the_peers_receives_fail_with_wsaeconnreset() {
    let mut setup = Setup::default();
    setup.beta = setup
        .beta
        .with_extension(SanExtension::RdmaRead, Err(WsaError::WSAEOPNOTSUPP));
    let mut net = Net::new(setup);
    // A large send waits for beta's write target; alpha closes before beta answers.
    let id = net.send(ALPHA, pattern(300_000, 1), MsgFlags::empty());
    let a = &mut net.hosts[ALPHA];
    a.switch.close(&mut a.tcp, net.ends[ALPHA]).unwrap();
    a.drain();
    assert_eq!(
        net.hosts[ALPHA].sent(id),
        Some(Err(WsaError::WSA_OPERATION_ABORTED))
    );
    net.settle();
    assert_eq!(net.recv_error(BETA), Some(WsaError::WSAECONNRESET));
    assert_eq!(net.f.mem_violations(), 0);
}

#[test]
fn sess_1_a_receiver_that_does_not_read_stops_returning_credits_beyond_its_receive_window() {
    let mut setup = Setup::default();
    setup.session.receive_window = 1000;
    let mut net = Net::new(setup);
    let mut ids = Vec::new();
    let mut sent = Vec::new();
    for i in 0..100 {
        let data = pattern(100, i);
        sent.extend_from_slice(&data);
        ids.push(net.send(ALPHA, data, MsgFlags::empty()));
    }
    net.settle();
    // Beta's application has read nothing: beta holds its window, plus what the credits it
    // had already returned let through, and alpha waits.
    let posted = SessionConfig::default().receives as u64;
    let held = net.hosts[BETA]
        .switch
        .session_counters(net.ends[BETA])
        .unwrap()
        .bytes_received;
    assert!(held >= 1000 && held <= 1000 + posted * 100, "{held}");
    let waiting = ids
        .iter()
        .filter(|id| net.hosts[ALPHA].sent(**id).is_none())
        .count();
    assert!(waiting > 0, "alpha was not held back");
    // Reading lets the rest come.
    let mut got = Vec::new();
    for _ in 0..100 {
        got.extend(net.read_all(BETA));
        net.settle();
        if got.len() == sent.len() {
            break;
        }
    }
    assert!(got == sent);
    assert!(ids.iter().all(|id| net.hosts[ALPHA].sent(*id).is_some()));
}

#[test]
fn close_1_a_session_that_fails_closes_its_provider_socket_so_the_peer_learns() {
    let mut setup = Setup::default();
    setup.alpha.panic_at = Some(Call::RdmaRead);
    let mut net = Net::new(setup);
    // Beta offers 1 MiB for alpha to read; alpha's provider panics in the read.
    let id = net.send(BETA, pattern(1 << 20, 3), MsgFlags::empty());
    net.settle();
    assert_eq!(net.recv_error(ALPHA), Some(WsaError::WSAECONNRESET));
    // Alpha closed its SAN socket at once: beta's send fails and its receives say so too.
    assert_eq!(net.hosts[BETA].sent(id), Some(Err(WsaError::WSAECONNRESET)));
    assert_eq!(net.recv_error(BETA), Some(WsaError::WSAECONNRESET));
    assert_eq!(net.hosts[ALPHA].calls(Call::CloseSocket), 1);
    // The applications close; nothing is left registered, and beta's send ended once (closing
    // does not end it again).
    net.close();
    let ended = net.hosts[BETA]
        .events
        .iter()
        .filter(|e| matches!(e, SwitchEvent::Sent { send, .. } if *send == id))
        .count();
    assert_eq!(ended, 1);
    for at in [ALPHA, BETA] {
        let m = net.f.memory(at);
        assert_eq!((m.local, m.rdma, m.cached), (0, 0, 0), "host {at}: {m:?}");
    }
}

#[test]
fn sess_2_a_written_send_succeeds_only_once_its_completion_message_went() {
    let mut setup = Setup::default();
    setup.beta = setup
        .beta
        .with_extension(SanExtension::RdmaRead, Err(WsaError::WSAEOPNOTSUPP));
    // The write succeeds, then the provider panics before the completion message is sent.
    setup.alpha.panic_at = Some(Call::DeregisterMemory);
    let mut net = Net::new(setup);
    let id = net.send(ALPHA, pattern(1 << 20, 4), MsgFlags::empty());
    net.settle();
    assert_eq!(net.hosts[ALPHA].calls(Call::RdmaWrite), 1);
    let result = net.hosts[ALPHA].sent(id).expect("the send ended");
    assert!(result.is_err(), "{result:?}");
    // Beta never got the bytes: the failed session reset the connection instead.
    assert_eq!(net.recv_error(BETA), Some(WsaError::WSAECONNRESET));
}

#[test]
fn sess_3_both_sides_split_transfers_at_the_smaller_max_rdma_size() {
    let mut setup = Setup::default();
    // A provider whose preferred threshold is above its own RDMA limit.
    setup.alpha.max_rdma_size = 4096;
    setup.alpha.rdma_threshold = 8192;
    let mut net = Net::new(setup);
    let report = net.transfer(ALPHA, pattern(1 << 20, 5));
    assert_eq!(report.path, DataPath::RdmaRead);
    // Beta made exactly the reads alpha reports, none above 4096 bytes.
    assert_eq!(
        net.hosts[BETA].calls(Call::RdmaRead),
        report.rdma_ops as usize
    );
    assert!(report.rdma_ops as usize >= (1 << 20) / 4096);
    let back = net.transfer(BETA, pattern(1 << 20, 6));
    assert_eq!(
        net.hosts[ALPHA].calls(Call::RdmaRead),
        back.rdma_ops as usize
    );
    assert!(back.rdma_ops as usize >= (1 << 20) / 4096);
}

#[test]
fn sess_4_the_urgent_byte_counts_as_received() {
    let mut net = Net::new(Setup::default());
    net.send(ALPHA, vec![1, 2, 3, 4, 5], MsgFlags::OOB);
    net.settle();
    let sent = net.hosts[ALPHA].switch.bytes(net.ends[ALPHA]).unwrap().0;
    let received = net.hosts[BETA].switch.bytes(net.ends[BETA]).unwrap().1;
    assert_eq!((sent, received), (5, 5));
}

#[test]
fn mem_3_a_failed_rdma_write_still_releases_its_registration() {
    let mut setup = Setup::default();
    setup.beta = setup
        .beta
        .with_extension(SanExtension::RdmaRead, Err(WsaError::WSAEOPNOTSUPP));
    setup.alpha.panic_at = Some(Call::RdmaWrite);
    let mut net = Net::new(setup);
    let id = net.send(ALPHA, pattern(1 << 20, 4), MsgFlags::empty());
    net.settle();
    assert!(net.hosts[ALPHA].sent(id).unwrap().is_err());
    let t: Vec<Call> = net.hosts[ALPHA].trace.iter().map(|t| t.call).collect();
    let registered = t.iter().filter(|c| **c == Call::RegisterMemory).count();
    let deregistered = t.iter().filter(|c| **c == Call::DeregisterMemory).count();
    // The message block and the data: both released, the data before the socket closed.
    assert_eq!(registered, 2, "{t:?}");
    assert_eq!(deregistered, 1, "{t:?}");
    let dereg = t.iter().position(|c| *c == Call::DeregisterMemory).unwrap();
    let close = t.iter().position(|c| *c == Call::CloseSocket).unwrap();
    assert!(dereg < close, "{t:?}");
    net.close();
    for at in [ALPHA, BETA] {
        let m = net.f.memory(at);
        assert_eq!((m.local, m.rdma, m.cached), (0, 0, 0), "host {at}: {m:?}");
    }
    assert_eq!(net.f.mem_violations(), 0);
}

#[test]
fn mem_3_unread_transfers_give_up_their_registrations_before_the_socket_closes() {
    let mut net = Net::new(Setup::default());
    let id = net.send(ALPHA, pattern(300_000, 1), MsgFlags::empty());
    net.settle();
    assert!(net.hosts[ALPHA].sent(id).unwrap().is_ok());
    // Beta's application never reads; it closes.
    let before = net.hosts[BETA].calls(Call::DeregisterMemory);
    let b = &mut net.hosts[BETA];
    b.switch.close(&mut b.tcp, net.ends[BETA]).unwrap();
    b.drain();
    let t: Vec<Call> = b.trace.iter().map(|t| t.call).collect();
    let close = t.iter().rposition(|c| *c == Call::CloseSocket).unwrap();
    let deregs_before_close = t[..close]
        .iter()
        .filter(|c| **c == Call::DeregisterMemory)
        .count();
    assert!(deregs_before_close > before, "{t:?}");
}

#[test]
fn sess_3_the_threshold_never_falls_below_what_one_message_carries() {
    let mut setup = Setup::default();
    setup.alpha.rdma_threshold = 0;
    setup.beta.rdma_threshold = 0;
    let mut net = Net::new(setup);
    let report = net.transfer(ALPHA, pattern(1000, 1));
    assert_eq!(report.path, DataPath::Inline);
    assert_eq!(
        net.transfer(ALPHA, pattern(10_000, 2)).path,
        DataPath::RdmaRead
    );
}

#[test]
fn sess_1_a_full_send_queue_answers_wsaewouldblock_as_a_full_tcp_buffer_would() {
    let mut setup = Setup::default();
    setup.session.send_queue = 1000;
    let mut net = Net::new(setup);
    net.send(ALPHA, pattern(600, 1), MsgFlags::empty());
    let a = &mut net.hosts[ALPHA];
    let err = a
        .switch
        .send(
            &mut a.tcp,
            net.ends[ALPHA],
            pattern(600, 2),
            MsgFlags::empty(),
        )
        .unwrap_err();
    assert_eq!(err.wsa(), Some(WsaError::WSAEWOULDBLOCK));
    net.settle();
    // Once the first finished, the second is taken.
    net.send(ALPHA, pattern(600, 2), MsgFlags::empty());
    net.settle();
    assert_eq!(net.read_all(BETA).len(), 1200);
}

#[test]
fn sess_2_a_transfer_can_be_taken_in_the_memory_it_arrived_in_without_a_copy() {
    for read in [true, false] {
        let mut setup = Setup::default();
        if !read {
            setup.beta = setup
                .beta
                .with_extension(SanExtension::RdmaRead, Err(WsaError::WSAEOPNOTSUPP));
        }
        let mut net = Net::new(setup);
        // Beta's application offers its own memory for the next transfer.
        let offered = vec![0u8; 1 << 20];
        let at = offered.as_ptr() as usize;
        net.hosts[BETA]
            .switch
            .provide_buffer(net.ends[BETA], offered)
            .unwrap();
        let data = pattern(1 << 20, 9);
        let id = net.send(ALPHA, data.clone(), MsgFlags::empty());
        net.settle();
        assert!(net.hosts[ALPHA].sent(id).unwrap().is_ok());
        let b = &mut net.hosts[BETA];
        let first = b.switch.recv_buffer(&mut b.tcp, net.ends[BETA]).unwrap();
        let rest = b.switch.recv_buffer(&mut b.tcp, net.ends[BETA]).unwrap();
        assert_eq!(first.len() + rest.len(), data.len());
        assert!(first[..] == data[..first.len()] && rest[..] == data[first.len()..]);
        // The transfer came back in the very memory offered: no copy.
        assert_eq!(rest.as_ptr() as usize, at, "read path: {read}");
        let nothing = b
            .switch
            .recv_buffer(&mut b.tcp, net.ends[BETA])
            .unwrap_err();
        assert_eq!(nothing.wsa(), Some(WsaError::WSAEWOULDBLOCK));
        b.drain();
        // It left the switch: no provider keeps a registration or a cached one of it.
        let m = net.f.memory(BETA);
        assert!(
            !m.cached_ranges
                .iter()
                .any(|(a, l)| (*a as usize) < at + (1 << 20) && at < *a as usize + l),
            "{m:?}"
        );
        assert!(net.hosts[BETA].calls(Call::MemoryRegistrationCacheCallback) >= 1);
        assert_eq!(net.f.mem_violations(), 0);
    }
}

#[test]
fn conn_7_a_switch_shut_down_while_negotiating_ends_the_connect_and_drops_the_accepted_one() {
    let mut net = Net::listening(Setup::default());
    let l = net.listener;
    let s = net.start_connect();
    // Both connections are up on the SAN and negotiating; no completion handled yet.
    net.signals_only();
    for h in &mut net.hosts {
        h.switch.shutdown();
        h.drain();
    }
    // The connect ended, once, with the provider gone; the accepted connection never shows.
    let ends: Vec<_> = net.hosts[ALPHA]
        .events
        .iter()
        .filter_map(|e| match e {
            SwitchEvent::Connected { socket, result } if *socket == s => Some(result.result),
            _ => None,
        })
        .collect();
    assert_eq!(ends, [Err(WsaError::WSAENETDOWN)]);
    assert_eq!(net.hosts[BETA].switch.accept(l).unwrap(), None);
    assert!(
        !net.hosts[BETA]
            .events
            .iter()
            .any(|e| matches!(e, SwitchEvent::Accepted { .. }))
    );
    // The accepted connection's TCP/IP socket is closed at the next call that reaches TCP/IP.
    let b = &mut net.hosts[BETA];
    b.switch.handle_completions(&mut b.tcp);
    b.switch.close(&mut b.tcp, l).unwrap();
    assert_eq!(b.switch.footprint().sockets, 0);
}

#[test]
fn sess_5_the_up_call_table_wakes_the_platform_for_each_completion() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let mut net = Net::new(Setup::default());
    let woken = Arc::new(AtomicUsize::new(0));
    let w = woken.clone();
    net.hosts[BETA].switch.upcalls().set_notify(move || {
        w.fetch_add(1, Ordering::SeqCst);
    });
    net.send(ALPHA, pattern(100, 1), MsgFlags::empty());
    // Beta's provider completed beta's receive when alpha's message arrived: beta's platform
    // was told, before anyone handled anything on beta.
    assert!(woken.load(Ordering::SeqCst) >= 1);
    assert_eq!(
        net.hosts[BETA].switch.upcalls().pending(),
        woken.load(Ordering::SeqCst)
    );
    net.settle();
    assert_eq!(net.read_all(BETA), pattern(100, 1));
}

#[test]
fn mem_2_a_sender_takes_back_the_memory_of_its_sends_on_either_path() {
    for read in [true, false] {
        let mut setup = Setup::default();
        if !read {
            setup.beta = setup
                .beta
                .with_extension(SanExtension::RdmaRead, Err(WsaError::WSAEOPNOTSUPP));
        }
        let mut net = Net::new(setup);
        let mut spare = pattern(1 << 20, 3);
        let at = spare.as_ptr() as usize;
        for round in 0..3 {
            net.send(ALPHA, std::mem::take(&mut spare), MsgFlags::empty());
            net.settle();
            assert_eq!(net.read_all(BETA).len(), 1 << 20);
            let a = &mut net.hosts[ALPHA];
            spare = a
                .switch
                .reclaim_buffers(&mut a.tcp, net.ends[ALPHA])
                .unwrap()
                .pop()
                .unwrap();
            assert_eq!(
                spare.as_ptr() as usize,
                at,
                "read path {read}, round {round}"
            );
        }
        let m = net.f.memory(ALPHA);
        assert_eq!((m.local, m.cached), (1, 0), "read path {read}: {m:?}");
    }
}

#[test]
fn conn_7_a_provider_failing_while_its_session_negotiates_ends_the_connect_with_provider_gone() {
    let mut net = Net::listening(Setup::default());
    let l = net.listener;
    let s = net.start_connect();
    // The SAN connect is made, the negotiation is under way (no completion handled yet).
    net.signals_only();
    assert_eq!(net.hosts[ALPHA].switch.footprint().sessions, 1);
    // Alpha's provider panics when the switch asks for its addresses again: the switch
    // isolates it, and with it the session it was negotiating.
    net.hosts[ALPHA]
        .loader
        .config(mock_provider::guid_for_name("ib"))
        .unwrap()
        .lock()
        .unwrap()
        .panic_at = Some(Call::AddressListQuery);
    net.hosts[ALPHA].switch.address_changed(None);
    net.hosts[ALPHA].drain();
    let done: Vec<_> = net.hosts[ALPHA]
        .events
        .iter()
        .filter_map(|e| match e {
            SwitchEvent::Connected { socket, result } if *socket == s => Some(*result),
            _ => None,
        })
        .collect();
    assert_eq!(done.len(), 1, "{:?}", net.hosts[ALPHA].events);
    assert_eq!(done[0].result, Err(WsaError::WSAENETDOWN));
    assert_eq!(done[0].reason.code(), "provider_gone");
    let f = net.hosts[ALPHA].switch.footprint();
    assert_eq!((f.sessions, f.session_memory), (0, 0));
    // Its cleanup reset the sockets it still had (WSPCleanup), the half-negotiated
    // connection's among them, and closed the switch's handles of them.
    assert!(
        !net.f
            .open_sockets(ALPHA)
            .keys()
            .any(|t| matches!(t, mock_provider::Transport::San(_))),
        "{:?}",
        net.f.open_sockets(ALPHA)
    );
    assert_eq!(net.hosts[ALPHA].switch.upcalls().open_handles(), 0);
    // Beta had finished its half of the negotiation before alpha's provider went: its
    // connection is announced, and reports the reset.
    net.settle();
    net.ends[BETA] = net.hosts[BETA].switch.accept(l).unwrap().expect("accepted");
    assert_eq!(net.recv_error(BETA), Some(WsaError::WSAECONNRESET));
    let h = &mut net.hosts[BETA];
    h.switch.close(&mut h.tcp, net.ends[BETA]).unwrap();
    net.settle();
    let f = net.hosts[BETA].switch.footprint();
    assert_eq!(
        (f.sessions, f.session_memory, f.sockets),
        (0, 0, 1),
        "{f:?}"
    );
    // Alpha's socket is an open, unconnected socket again; it closes.
    let a = &mut net.hosts[ALPHA];
    a.switch.close(&mut a.tcp, s).unwrap();
    assert_eq!(a.switch.footprint().sockets, 0);
}
