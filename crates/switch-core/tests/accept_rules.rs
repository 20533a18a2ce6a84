//! ACCEPT-1, ACCEPT-2 and ACCEPT-4 through two real switches on the mock fabric: alpha
//! (provider "ib" at 10.1.0.1) connects to beta (provider "ib" at 10.1.0.2), whose switch
//! listens; every signalled event goes to its host's switch as a platform waiter would deliver
//! it.

use std::net::SocketAddr;

use mock_provider::{CallDetail, Fabric, MockCatalog, MockConfig, MockLoader, MockTcp, Transport};
use spi_types::{AddressFamily, ConditionResult, WsaError};
use switch_core::connection::{ConnectReason, ConnectStatus, SocketId, SwitchEvent, Via};
use switch_core::provider::ProviderSocket;
use switch_core::routing::SocketKind;
use switch_core::session::conn::SessionConfig;
use switch_core::trace::{Call, CallResult};
use switch_core::{ProviderId, Switch, SwitchConfig};

const ALPHA: usize = 0;
const BETA: usize = 1;
/// The SAN provider of each host (each switch has exactly one).
const P: ProviderId = ProviderId(0);
const LISTEN_AT: &str = "10.1.0.2:7000";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn ib() -> Transport {
    Transport::San("ib".into())
}

struct Host {
    switch: Switch,
    loader: MockLoader,
    tcp: MockTcp,
    events: Vec<SwitchEvent>,
}

/// A host of `f` whose switch runs one provider "ib" at `ip`, routed through 10.1.0.0/16.
fn host(f: &Fabric, index: usize, ip: &str) -> Host {
    let config = MockConfig::generic("ib").with_addresses([ip.parse().unwrap()]);
    let mut catalog = MockCatalog::with_tcpip();
    catalog.install_mock(&config);
    let mut loader = MockLoader::new();
    loader.add(config);
    loader.attach(f, index).unwrap();
    let mut switch = Switch::new(SwitchConfig {
        session: SessionConfig::disabled(),
        ..SwitchConfig::default()
    });
    switch.initialize(&catalog, &mut loader, vec!["10.1.0.0/16".parse().unwrap()]);
    Host {
        switch,
        loader,
        tcp: MockTcp::attached(f, index).unwrap(),
        events: Vec::new(),
    }
}

/// Alpha and beta on one fabric.
fn pair() -> (Fabric, Host, Host) {
    let f = Fabric::new();
    assert_eq!(f.add_host("alpha", ["10.0.0.1".parse().unwrap()]), ALPHA);
    assert_eq!(f.add_host("beta", ["10.0.0.2".parse().unwrap()]), BETA);
    let alpha = host(&f, ALPHA, "10.1.0.1");
    let beta = host(&f, BETA, "10.1.0.2");
    (f, alpha, beta)
}

impl Host {
    fn drain(&mut self) {
        self.events
            .extend(std::iter::from_fn(|| self.switch.poll()));
    }

    /// A listener on `at` whose condition function answers `decision`; the provider's calls
    /// and the switch's trace start afresh after it.
    fn listen(&mut self, at: &str, backlog: i32, decision: ConditionResult) -> SocketId {
        let l = self
            .switch
            .socket(&mut self.tcp, AddressFamily::INET, SocketKind::Stream)
            .unwrap();
        self.switch.bind(&mut self.tcp, l, addr(at)).unwrap();
        let out = self
            .switch
            .listen(&mut self.tcp, l, backlog, decision)
            .unwrap();
        assert_eq!(out.san, [(P, Ok(()))], "the SAN provider listens too");
        self.drain();
        self.events.clear();
        self.loader.log().clear();
        self.switch.take_trace();
        l
    }

    fn connect(&mut self, dest: &str) -> (SocketId, ConnectStatus) {
        let s = self
            .switch
            .socket(&mut self.tcp, AddressFamily::INET, SocketKind::Stream)
            .unwrap();
        let status = self.switch.connect(&mut self.tcp, s, addr(dest)).unwrap();
        self.drain();
        (s, status)
    }

    /// The address the latest companion socket was bound to (the caller's address).
    fn companion_address(&self) -> SocketAddr {
        let bound =
            self.loader
                .log()
                .calls()
                .into_iter()
                .rev()
                .find_map(|c| match (c.call, c.detail) {
                    (Call::Bind, CallDetail::Address(a)) => Some(a),
                    _ => None,
                });
        bound.expect("a companion socket was bound")
    }

    fn calls(&self) -> Vec<Call> {
        self.loader.log().calls_of("ib")
    }

    /// The provider sockets the logged calls of `call` were made on.
    fn sockets_of(&self, call: Call) -> Vec<ProviderSocket> {
        self.loader
            .log()
            .calls()
            .into_iter()
            .filter(|c| c.call == call)
            .filter_map(|c| match c.detail {
                CallDetail::Socket2(s) | CallDetail::Ioctl { socket: s, .. } => Some(s),
                _ => None,
            })
            .collect()
    }

    fn connected(&self, socket: SocketId) -> Vec<Result<Via, WsaError>> {
        self.events
            .iter()
            .filter_map(|e| match e {
                SwitchEvent::Connected { socket: s, result } if *s == socket => Some(result.result),
                _ => None,
            })
            .collect()
    }

    fn accepted(&self) -> Vec<(SocketId, SocketId, SocketAddr)> {
        self.events
            .iter()
            .filter_map(|e| match *e {
                SwitchEvent::Accepted {
                    listener,
                    socket,
                    provider,
                    peer,
                } => {
                    assert_eq!(provider, P);
                    Some((listener, socket, peer))
                }
                _ => None,
            })
            .collect()
    }

    fn rejected(&self) -> Vec<SocketId> {
        self.events
            .iter()
            .filter_map(|e| match *e {
                SwitchEvent::Rejected { listener, provider } => {
                    assert_eq!(provider, P);
                    Some(listener)
                }
                _ => None,
            })
            .collect()
    }
}

/// Delivers one signal to its host's switch; answers the host it went to.
fn deliver_one(f: &Fabric, alpha: &mut Host, beta: &mut Host) -> Option<usize> {
    let (i, event) = f.next_signal()?;
    let h = if i == ALPHA { alpha } else { beta };
    h.switch.handle_event(&mut h.tcp, event);
    h.drain();
    Some(i)
}

/// Delivers every signal until none is left; answers the hosts they went to, in order.
fn run(f: &Fabric, alpha: &mut Host, beta: &mut Host) -> Vec<usize> {
    std::iter::from_fn(|| deliver_one(f, alpha, beta)).collect()
}

#[test]
fn accept_1_the_signalled_listener_enumerates_then_accepts_and_the_condition_function_decides() {
    let (f, mut alpha, mut beta) = pair();
    let l = beta.listen(LISTEN_AT, 5, ConditionResult::Accept);
    let (s, status) = alpha.connect(LISTEN_AT);
    assert_eq!(status, ConnectStatus::Pending);
    let local = alpha.companion_address();

    // The first signal is beta's FD_ACCEPT; handling it is one WSPEnumNetworkEvents then one
    // WSPAccept on the listening socket, and nothing else.
    assert_eq!(deliver_one(&f, &mut alpha, &mut beta), Some(BETA));
    assert_eq!(beta.calls(), [Call::EnumNetworkEvents, Call::Accept]);
    let trace: Vec<(Call, CallResult)> = beta
        .switch
        .trace()
        .iter()
        .map(|e| (e.call, e.result))
        .collect();
    assert_eq!(
        trace,
        [
            (Call::EnumNetworkEvents, CallResult::Ok),
            (Call::Accept, CallResult::Ok)
        ]
    );
    let listening = beta.sockets_of(Call::EnumNetworkEvents);
    assert_eq!(beta.sockets_of(Call::Accept), listening);

    // The condition function was called inside that WSPAccept: by the time it returned, the
    // provider had decided CF_ACCEPT: the connection exists on the fabric and beta's switch has
    // announced it, before alpha was told anything.
    let conns = f.connections();
    assert_eq!(conns.len(), 1);
    assert_eq!(conns[0].caller.address, local);
    assert_eq!(conns[0].callee.address, addr(LISTEN_AT));
    assert!(conns[0].is_open());
    let accepted = beta.accepted();
    assert_eq!(accepted.len(), 1, "{:?}", beta.events);
    let (listener, new, peer) = accepted[0];
    assert_eq!(listener, l);
    assert_eq!(peer, local);
    assert!(alpha.connected(s).is_empty());

    // Alpha learns it through its own event: connected over the SAN.
    assert_eq!(run(&f, &mut alpha, &mut beta), [ALPHA]);
    assert_eq!(alpha.connected(s), [Ok(Via::San(P))]);
    assert_eq!(alpha.switch.connection(s).unwrap().0, Via::San(P));
    assert!(alpha.tcp.connects().is_empty(), "no TCP connect was made");

    // The application takes the connection: a socket of its own, over the SAN, to alpha's
    // address; taking it again finds nothing.
    assert_eq!(beta.switch.accept(l), Ok(Some(new)));
    assert_eq!(
        beta.switch.connection(new),
        Some((Via::San(P), local, Some(addr(LISTEN_AT))))
    );
    assert_eq!(beta.switch.accept(l), Ok(None));
    assert_eq!(beta.calls(), [Call::EnumNetworkEvents, Call::Accept]);
}

#[test]
fn accept_2_a_rejecting_condition_function_refuses_the_caller_with_wsaeconnrefused() {
    let (f, mut alpha, mut beta) = pair();
    let l = beta.listen(LISTEN_AT, 5, ConditionResult::Reject);
    let (s, status) = alpha.connect(LISTEN_AT);
    assert_eq!(status, ConnectStatus::Pending);
    assert_eq!(run(&f, &mut alpha, &mut beta), [BETA, ALPHA]);

    // The listener host hears of the rejection, and WSPAccept answered WSAECONNREFUSED.
    assert_eq!(beta.rejected(), [l]);
    assert!(beta.accepted().is_empty());
    assert_eq!(beta.calls(), [Call::EnumNetworkEvents, Call::Accept]);
    let accept = beta
        .switch
        .trace()
        .iter()
        .find(|e| e.call == Call::Accept)
        .unwrap();
    assert_eq!(accept.result, CallResult::Error(WsaError::WSAECONNREFUSED));
    assert_eq!(beta.switch.accept(l), Ok(None));

    // The caller's connect fails with WSAECONNREFUSED (CONN-4: no fallback).
    let results: Vec<_> = alpha
        .events
        .iter()
        .filter_map(|e| match e {
            SwitchEvent::Connected { socket, result } if *socket == s => Some(*result),
            _ => None,
        })
        .collect();
    assert_eq!(results.len(), 1, "{:?}", alpha.events);
    assert_eq!(results[0].result, Err(WsaError::WSAECONNREFUSED));
    assert_eq!(results[0].reason.code(), "san_connect_fatal");
    assert_eq!(
        results[0].reason,
        ConnectReason::SanConnectFatal {
            provider: P,
            error: WsaError::WSAECONNREFUSED
        }
    );
    assert!(alpha.tcp.connects().is_empty(), "no TCP attempt");
    assert_eq!(alpha.switch.connection(s), None);
    assert!(f.connections().is_empty());
    // The refused companion socket was closed.
    assert_eq!(
        alpha.loader.log().count("ib", Call::Socket) - 1,
        alpha.loader.log().count("ib", Call::CloseSocket)
    );
}

#[test]
fn accept_2_a_full_backlog_is_refused_at_once_without_an_event_for_the_listener() {
    let (f, mut alpha, mut beta) = pair();
    let l = beta.listen(LISTEN_AT, 1, ConditionResult::Accept);

    // Two connects before beta's switch handles anything: the first is queued (and signals
    // beta once), the second finds the backlog of 1 full.
    let (first, status) = alpha.connect(LISTEN_AT);
    assert_eq!(status, ConnectStatus::Pending);
    assert_eq!(f.pending_signals(), 1);
    assert_eq!(f.listeners(BETA)[0].queued, 1);
    let (second, status) = alpha.connect(LISTEN_AT);
    let ConnectStatus::Done(r) = status else {
        panic!("a full backlog is refused at once: {status:?}");
    };
    assert_eq!(r.result, Err(WsaError::WSAECONNREFUSED));
    assert_eq!(r.reason.code(), "san_connect_fatal");
    assert_eq!(f.pending_signals(), 1, "no event for the refused connect");
    assert_eq!(f.listeners(BETA)[0].queued, 1);
    assert!(alpha.tcp.connects().is_empty());

    // Beta's switch sees exactly one FD_ACCEPT, accepts exactly once.
    let delivered = run(&f, &mut alpha, &mut beta);
    assert_eq!(
        delivered.iter().filter(|&&h| h == BETA).count(),
        1,
        "{delivered:?}"
    );
    assert_eq!(beta.calls(), [Call::EnumNetworkEvents, Call::Accept]);
    let accepted = beta.accepted();
    assert_eq!(accepted.len(), 1, "{:?}", beta.events);
    assert_eq!(accepted[0].0, l);
    assert!(beta.rejected().is_empty());
    assert_eq!(alpha.connected(first), [Ok(Via::San(P))]);
    assert!(alpha.connected(second).is_empty(), "its connect was done");
    assert_eq!(f.connections().len(), 1);
}

#[test]
fn accept_4_connections_never_taken_are_closed_with_the_listener() {
    let (f, mut alpha, mut beta) = pair();
    // The query socket, from initialization (the log starts afresh after the listen).
    let query = beta.sockets_of(Call::AddressListQuery)[0];
    let l = beta.listen(LISTEN_AT, 5, ConditionResult::Accept);
    let (s, _) = alpha.connect(LISTEN_AT);
    run(&f, &mut alpha, &mut beta);
    assert_eq!(alpha.connected(s), [Ok(Via::San(P))]);
    assert_eq!(beta.accepted().len(), 1);
    let listening = beta.sockets_of(Call::Accept)[0];

    // Before: the query socket, the listening socket and the accepted one; TCP/IP has the
    // listener's socket and the accepted connection's application socket.
    let open = f.open_sockets(BETA);
    assert_eq!(open.get(&ib()), Some(&3), "{open:?}");
    assert_eq!(open.get(&Transport::Tcp), Some(&2), "{open:?}");

    // The application never calls accept; it closes the listener.
    beta.switch.close(&mut beta.tcp, l).unwrap();
    let closed = beta.sockets_of(Call::CloseSocket);
    assert_eq!(closed.len(), 2, "the listening and the accepted socket");
    assert!(closed.contains(&listening));
    let accepted = *closed.iter().find(|&&c| c != listening).unwrap();
    assert_ne!(accepted, query);
    assert!(beta.switch.listening_on(l).is_empty());
    assert!(f.listeners(BETA).is_empty());
    assert_eq!(
        f.open_sockets(BETA),
        [(ib(), 1)].into_iter().collect(),
        "only the query socket is left"
    );
    // The connection's accepting end is closed; alpha's end is still open.
    let c = &f.connections()[0];
    assert!(!c.callee.open);
    assert!(c.caller.open);

    // The query socket is the only one shutdown closes.
    beta.switch.shutdown();
    assert_eq!(
        beta.sockets_of(Call::CloseSocket),
        [closed[0], closed[1], query]
    );
    assert!(
        f.open_sockets(BETA).is_empty(),
        "{:?}",
        f.open_sockets(BETA)
    );
}

/// Found by `conn_props` (minimal case: connect, cancel it, deliver beta's signal, connect
/// again). The fabric's `WSPEnumNetworkEvents` reports `FD_ACCEPT` only while a connect is
/// queued, yet `FD_ACCEPT` is re-enabled only by `WSPAccept`: when the queued connect goes away
/// (cancelled, closed, or past alpha's SAN deadline) between the signal and beta's handling of
/// it, the enumeration reports nothing, the switch rightly makes no `WSPAccept` (ACCEPT-1), and
/// the listener is never signalled again.
#[test]
fn accept_1_a_listener_whose_signalled_connect_went_away_still_accepts_the_next_one() {
    let (f, mut alpha, mut beta) = pair();
    let l = beta.listen(LISTEN_AT, 5, ConditionResult::Accept);
    let (first, status) = alpha.connect(LISTEN_AT);
    assert_eq!(status, ConnectStatus::Pending);
    assert_eq!(f.pending_signals(), 1, "beta's FD_ACCEPT");
    // CONN-6: the application cancels; the companion socket closes and leaves the queue.
    alpha.switch.cancel_connect(&mut alpha.tcp, first).unwrap();
    assert_eq!(f.listeners(BETA)[0].queued, 0);
    // Beta's switch handles the signal: nothing to accept any more.
    assert_eq!(deliver_one(&f, &mut alpha, &mut beta), Some(BETA));
    assert_eq!(beta.calls(), [Call::EnumNetworkEvents]);
    assert!(beta.events.is_empty());

    // A new connect is queued on the listener...
    let (second, status) = alpha.connect(LISTEN_AT);
    assert_eq!(status, ConnectStatus::Pending);
    assert_eq!(f.listeners(BETA)[0].queued, 1);
    // ...and beta's listener must hear of it and accept it.
    assert_eq!(
        f.pending_signals(),
        1,
        "no FD_ACCEPT for the queued connect: the listener is deaf"
    );
    run(&f, &mut alpha, &mut beta);
    assert_eq!(beta.accepted().len(), 1);
    assert_eq!(beta.accepted()[0].0, l);
    assert_eq!(alpha.connected(second), [Ok(Via::San(P))]);
}

/// `SwitchEvent::Accepted` names the new socket, so the application can close it without
/// taking it first; the listener still hands the closed socket out afterwards.
#[test]
fn accept_4_an_announced_connection_closed_before_it_is_taken_is_not_handed_out() {
    let (f, mut alpha, mut beta) = pair();
    let l = beta.listen(LISTEN_AT, 5, ConditionResult::Accept);
    alpha.connect(LISTEN_AT);
    run(&f, &mut alpha, &mut beta);
    let (_, new, _) = beta.accepted()[0];
    beta.switch.close(&mut beta.tcp, new).unwrap();
    assert_eq!(beta.switch.connection(new), None);
    assert_eq!(
        f.open_sockets(BETA).get(&ib()),
        Some(&2),
        "query and listening"
    );
    // Nothing is left to take.
    assert_eq!(beta.switch.accept(l), Ok(None));
}
