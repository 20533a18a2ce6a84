//! The multi-host fabric: SAN and TCP/IP connects between hosts, driven through the provider
//! traits directly (and, at the end, through two real switches).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use mock_provider::fabric::{MAX_BACKLOG, effective_backlog};
use mock_provider::{
    CallLog, Fabric, FabricError, MockCatalog, MockConfig, MockLoader, MockProvider, MockTcp, Role,
    Transport,
};
use spi_types::{
    AddressFamily, ConditionResult, NetworkEvents, Protocol, ProtocolInfo, SocketFlags, SocketType,
    WinsockVersion, WsaError, WsaNetworkEvents,
};
use switch_core::provider::{
    ConditionArgs, EventHandle, ProviderSocket, SanProvider, TcpProvider, TcpSocket,
};
use switch_core::routing::SocketKind;
use switch_core::upcall::UpcallTable;

const ALPHA: usize = 0;
const BETA: usize = 1;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Two hosts: alpha (interface 10.0.0.1) and beta (interface 10.0.0.2).
fn fabric() -> Fabric {
    let f = Fabric::new();
    assert_eq!(f.add_host("alpha", [ip("10.0.0.1")]), ALPHA);
    assert_eq!(f.add_host("beta", [ip("10.0.0.2")]), BETA);
    f
}

/// A started mock SAN provider attached to a host, with its own up-call table.
struct San {
    p: MockProvider,
    upcalls: Arc<UpcallTable>,
}

fn san(f: &Fabric, host: usize, config: MockConfig) -> San {
    let mut s = unstarted(f, host, config);
    s.p.startup_ex(
        WinsockVersion::V2_2,
        &ProtocolInfo::tcpip(1001),
        s.upcalls.clone(),
    )
    .unwrap();
    s
}

fn unstarted(f: &Fabric, host: usize, config: MockConfig) -> San {
    let mut p = MockProvider::new(config, CallLog::new());
    p.attach(f, host).unwrap();
    San {
        p,
        upcalls: Arc::new(UpcallTable::new()),
    }
}

/// Provider "ib" with `address`, on fabric "san0".
fn ib(address: &str) -> MockConfig {
    MockConfig::generic("ib").with_addresses([ip(address)])
}

impl San {
    fn socket(&mut self) -> ProviderSocket {
        self.p
            .socket(
                AddressFamily::INET,
                SocketType::STREAM,
                Protocol::TCP,
                SocketFlags::OVERLAPPED,
            )
            .unwrap()
    }

    /// A socket bound to `at`, listening with `backlog`, selecting `FD_ACCEPT` on `event`.
    fn listener(&mut self, at: &str, backlog: i32, event: u64) -> ProviderSocket {
        let s = self.socket();
        self.p.bind(s, addr(at)).unwrap();
        self.p.listen(s, backlog).unwrap();
        self.p
            .event_select(s, EventHandle(event), NetworkEvents::ACCEPT)
            .unwrap();
        s
    }

    /// A socket bound to `at`, selecting `FD_CONNECT` on `event`, as the switch's companion
    /// socket is.
    fn connector(&mut self, at: &str, event: u64) -> ProviderSocket {
        let s = self.socket();
        self.p.bind(s, addr(at)).unwrap();
        self.p
            .event_select(s, EventHandle(event), NetworkEvents::CONNECT)
            .unwrap();
        s
    }

    fn events(&mut self, s: ProviderSocket) -> WsaNetworkEvents {
        self.p.enum_network_events(s, None).unwrap()
    }

    fn accept(
        &mut self,
        s: ProviderSocket,
        answer: ConditionResult,
    ) -> (
        Result<switch_core::provider::Accepted, WsaError>,
        Option<ConditionArgs>,
    ) {
        let mut seen = None;
        let r = self.p.accept(s, &mut |args: &ConditionArgs| {
            seen = Some(*args);
            answer
        });
        (r, seen)
    }
}

fn signals(f: &Fabric) -> Vec<(usize, EventHandle)> {
    std::iter::from_fn(|| f.next_signal()).collect()
}

fn connect_result(e: &WsaNetworkEvents) -> Option<Result<(), WsaError>> {
    e.events
        .contains(NetworkEvents::CONNECT)
        .then(|| e.error_for(NetworkEvents::CONNECT).map_or(Ok(()), Err))
}

#[test]
fn an_address_no_host_owns_is_unreachable_at_once() {
    let f = fabric();
    let mut a = san(&f, ALPHA, ib("10.1.0.1"));
    let c = a.connector("10.1.0.1:5000", 1);
    assert_eq!(
        a.p.connect(c, addr("10.9.9.9:80")),
        Err(WsaError::WSAEHOSTUNREACH)
    );
    assert!(signals(&f).is_empty());
    assert_eq!(
        connect_result(&a.events(c)),
        None,
        "nothing to report later"
    );
    assert!(f.owners(ip("10.9.9.9")).is_empty());
}

#[test]
fn an_owned_address_nobody_serves_on_the_fabric_times_out() {
    let f = fabric();
    let mut a = san(&f, ALPHA, ib("10.1.0.1"));
    // Beta's interface address; a provider on another fabric; a provider never started.
    let _other = san(
        &f,
        BETA,
        MockConfig::generic("eth")
            .with_addresses([ip("10.2.0.2")])
            .with_fabric("roce"),
    );
    let _idle = unstarted(
        &f,
        BETA,
        MockConfig::generic("idle").with_addresses([ip("10.3.0.2")]),
    );
    for dest in ["10.0.0.2:80", "10.2.0.2:80", "10.3.0.2:80"] {
        let c = a.connector("10.1.0.1:0", 1);
        assert_eq!(f.owners(addr(dest).ip()), [BETA], "{dest}");
        assert_eq!(
            a.p.connect(c, addr(dest)),
            Err(WsaError::WSAETIMEDOUT),
            "{dest}"
        );
    }
    assert!(signals(&f).is_empty());
}

#[test]
fn a_timeout_with_a_delay_comes_only_when_the_clock_moves() {
    let f = fabric();
    let mut a = san(&f, ALPHA, ib("10.1.0.1").with_connect_delay_ms(50));
    let c = a.connector("10.1.0.1:5000", 7);
    assert_eq!(
        a.p.connect(c, addr("10.0.0.2:80")),
        Err(WsaError::WSAEWOULDBLOCK)
    );
    assert_eq!(f.next_due(), Some(50));
    assert_eq!(connect_result(&a.events(c)), None);
    // A second connect while one is under way is refused.
    assert_eq!(
        a.p.connect(c, addr("10.0.0.2:80")),
        Err(WsaError::WSAEALREADY)
    );
    f.advance(49);
    assert!(signals(&f).is_empty());
    assert_eq!(connect_result(&a.events(c)), None);
    f.advance(1);
    assert_eq!(f.now(), 50);
    assert_eq!(signals(&f), [(ALPHA, EventHandle(7))]);
    assert_eq!(
        connect_result(&a.events(c)),
        Some(Err(WsaError::WSAETIMEDOUT))
    );
    assert_eq!(connect_result(&a.events(c)), None, "reported once");
    assert_eq!(f.next_due(), None);
}

#[test]
fn a_served_address_without_a_listener_refuses() {
    let f = fabric();
    let mut a = san(&f, ALPHA, ib("10.1.0.1"));
    let mut b = san(&f, BETA, ib("10.1.0.2"));
    b.listener("10.1.0.2:7001", 5, 1);
    let c = a.connector("10.1.0.1:5000", 1);
    assert_eq!(
        a.p.connect(c, addr("10.1.0.2:7000")),
        Err(WsaError::WSAECONNREFUSED)
    );
    assert!(signals(&f).is_empty());
    assert!(f.connections().is_empty());
}

#[test]
fn a_full_backlog_refuses_at_once_and_the_listener_sees_nothing() {
    let f = fabric();
    let mut a = san(&f, ALPHA, ib("10.1.0.1"));
    let mut b = san(&f, BETA, ib("10.1.0.2"));
    let l = b.listener("10.1.0.2:7000", 1, 30);
    let first = a.connector("10.1.0.1:5001", 1);
    let second = a.connector("10.1.0.1:5002", 2);
    assert_eq!(
        a.p.connect(first, addr("10.1.0.2:7000")),
        Err(WsaError::WSAEWOULDBLOCK)
    );
    assert_eq!(signals(&f), [(BETA, EventHandle(30))]);
    assert_eq!(
        a.p.connect(second, addr("10.1.0.2:7000")),
        Err(WsaError::WSAECONNREFUSED)
    );
    assert!(signals(&f).is_empty(), "no event to the listener");
    let listeners = f.listeners(BETA);
    assert_eq!(listeners.len(), 1);
    assert_eq!(listeners[0].queued, 1);
    assert_eq!(listeners[0].backlog, 1);
    // Accepting makes room again.
    assert!(b.accept(l, ConditionResult::Accept).0.is_ok());
    assert_eq!(
        a.p.connect(second, addr("10.1.0.2:7000")),
        Err(WsaError::WSAEWOULDBLOCK)
    );
}

#[test]
fn an_accepted_connect_signals_the_callers_fd_connect_with_success() {
    let f = fabric();
    let mut a = san(&f, ALPHA, ib("10.1.0.1"));
    let mut b = san(&f, BETA, ib("10.1.0.2"));
    let l = b.listener("10.1.0.2:7000", 5, 30);
    let c = a.connector("10.1.0.1:5000", 4);
    assert_eq!(
        a.p.connect(c, addr("10.1.0.2:7000")),
        Err(WsaError::WSAEWOULDBLOCK)
    );
    assert_eq!(signals(&f), [(BETA, EventHandle(30))]);
    assert!(b.events(l).events.contains(NetworkEvents::ACCEPT));
    assert_eq!(connect_result(&a.events(c)), None, "not decided yet");
    let (accepted, seen) = b.accept(l, ConditionResult::Accept);
    let accepted = accepted.unwrap();
    assert_eq!(
        seen,
        Some(ConditionArgs {
            caller: addr("10.1.0.1:5000"),
            callee: addr("10.1.0.2:7000"),
        })
    );
    assert_eq!(accepted.peer, addr("10.1.0.1:5000"));
    assert_eq!(signals(&f), [(ALPHA, EventHandle(4))]);
    assert!(!b.events(l).events.contains(NetworkEvents::ACCEPT));
    assert_eq!(connect_result(&a.events(c)), Some(Ok(())));
    assert_eq!(
        a.p.connect(c, addr("10.1.0.2:7000")),
        Err(WsaError::WSAEISCONN)
    );
    // The accepted socket has a switch handle like any other.
    assert_eq!(b.upcalls.open_handles(), 2);
    // The fabric's record, from both sides.
    let conns = f.connections();
    assert_eq!(conns.len(), 1);
    assert!(conns[0].is_open());
    assert_eq!(conns[0].caller.host, ALPHA);
    assert_eq!(conns[0].callee.address, addr("10.1.0.2:7000"));
    assert_eq!(conns[0].caller.transport.to_string(), "san:ib");
    let beta = f.connections_of(BETA);
    assert_eq!(beta.len(), 1);
    assert_eq!(beta[0].role, Role::Callee);
    assert_eq!(beta[0].remote, addr("10.1.0.1:5000"));
    assert_eq!(f.open_sockets(BETA)[&Transport::San("ib".into())], 2);
    // Closing the accepted socket closes its end only.
    b.p.close_socket(accepted.socket).unwrap();
    let conns = f.connections();
    assert!(conns[0].caller.open && !conns[0].callee.open && !conns[0].is_open());
    assert_eq!(f.open_sockets(BETA)[&Transport::San("ib".into())], 1);
}

#[test]
fn a_rejected_connect_is_refused_on_both_sides() {
    let f = fabric();
    let mut a = san(&f, ALPHA, ib("10.1.0.1"));
    let mut b = san(&f, BETA, ib("10.1.0.2"));
    let l = b.listener("10.1.0.2:7000", 5, 30);
    let c = a.connector("10.1.0.1:5000", 4);
    a.p.connect(c, addr("10.1.0.2:7000")).unwrap_err();
    signals(&f);
    let (r, seen) = b.accept(l, ConditionResult::Reject);
    assert_eq!(r, Err(WsaError::WSAECONNREFUSED));
    assert!(seen.is_some());
    assert_eq!(signals(&f), [(ALPHA, EventHandle(4))]);
    assert_eq!(
        connect_result(&a.events(c)),
        Some(Err(WsaError::WSAECONNREFUSED))
    );
    assert!(f.connections().is_empty());
    assert_eq!(b.upcalls.open_handles(), 1, "no socket was made");
    // A refused socket may try again.
    assert_eq!(
        a.p.connect(c, addr("10.1.0.2:7000")),
        Err(WsaError::WSAEWOULDBLOCK)
    );
}

#[test]
fn a_deferred_connect_stays_queued() {
    let f = fabric();
    let mut a = san(&f, ALPHA, ib("10.1.0.1"));
    let mut b = san(&f, BETA, ib("10.1.0.2"));
    let l = b.listener("10.1.0.2:7000", 5, 30);
    let c = a.connector("10.1.0.1:5000", 4);
    a.p.connect(c, addr("10.1.0.2:7000")).unwrap_err();
    signals(&f);
    assert_eq!(
        b.accept(l, ConditionResult::Defer).0,
        Err(WsaError::WSATRY_AGAIN)
    );
    assert!(signals(&f).is_empty());
    assert_eq!(f.listeners(BETA)[0].queued, 1);
    assert!(b.accept(l, ConditionResult::Accept).0.is_ok());
}

#[test]
fn the_connect_delay_holds_the_accepted_result_until_the_clock_moves() {
    let f = fabric();
    let mut a = san(&f, ALPHA, ib("10.1.0.1").with_connect_delay_ms(20));
    let mut b = san(&f, BETA, ib("10.1.0.2"));
    let l = b.listener("10.1.0.2:7000", 5, 30);
    let c = a.connector("10.1.0.1:5000", 4);
    a.p.connect(c, addr("10.1.0.2:7000")).unwrap_err();
    assert_eq!(
        signals(&f),
        [(BETA, EventHandle(30))],
        "the request is not delayed"
    );
    b.accept(l, ConditionResult::Accept).0.unwrap();
    assert!(signals(&f).is_empty());
    assert_eq!(connect_result(&a.events(c)), None);
    assert_eq!(f.next_due(), Some(20));
    f.advance(19);
    assert!(signals(&f).is_empty());
    f.advance(5);
    assert_eq!(f.now(), 24);
    assert_eq!(signals(&f), [(ALPHA, EventHandle(4))]);
    assert_eq!(connect_result(&a.events(c)), Some(Ok(())));
}

#[test]
fn fd_accept_is_signalled_once_until_an_accept_re_enables_it() {
    let f = fabric();
    let mut a = san(&f, ALPHA, ib("10.1.0.1"));
    let mut b = san(&f, BETA, ib("10.1.0.2"));
    let l = b.listener("10.1.0.2:7000", 5, 30);
    for (i, port) in [5001, 5002].into_iter().enumerate() {
        let c = a.connector(&format!("10.1.0.1:{port}"), i as u64);
        a.p.connect(c, addr("10.1.0.2:7000")).unwrap_err();
    }
    assert_eq!(signals(&f), [(BETA, EventHandle(30))], "one signal for two");
    let (r, seen) = b.accept(l, ConditionResult::Accept);
    r.unwrap();
    assert_eq!(seen.unwrap().caller, addr("10.1.0.1:5001"), "oldest first");
    // One connect is left: signalled again, next to the first caller's FD_CONNECT.
    assert_eq!(
        signals(&f),
        [(ALPHA, EventHandle(0)), (BETA, EventHandle(30))]
    );
    let (r, seen) = b.accept(l, ConditionResult::Accept);
    r.unwrap();
    assert_eq!(seen.unwrap().caller, addr("10.1.0.1:5002"));
    assert_eq!(signals(&f), [(ALPHA, EventHandle(1))]);
    assert_eq!(
        b.accept(l, ConditionResult::Accept).0,
        Err(WsaError::WSAEWOULDBLOCK)
    );
}

#[test]
fn closing_a_listener_refuses_its_queued_connects() {
    let f = fabric();
    let mut a = san(&f, ALPHA, ib("10.1.0.1"));
    let mut b = san(&f, BETA, ib("10.1.0.2"));
    let l = b.listener("10.1.0.2:7000", 5, 30);
    let c1 = a.connector("10.1.0.1:5001", 1);
    let c2 = a.connector("10.1.0.1:5002", 2);
    a.p.connect(c1, addr("10.1.0.2:7000")).unwrap_err();
    a.p.connect(c2, addr("10.1.0.2:7000")).unwrap_err();
    signals(&f);
    b.p.close_socket(l).unwrap();
    assert_eq!(
        signals(&f),
        [(ALPHA, EventHandle(1)), (ALPHA, EventHandle(2))]
    );
    for c in [c1, c2] {
        assert_eq!(
            connect_result(&a.events(c)),
            Some(Err(WsaError::WSAECONNREFUSED))
        );
    }
    assert!(f.listeners(BETA).is_empty());
    assert_eq!(
        a.p.connect(c1, addr("10.1.0.2:7000")),
        Err(WsaError::WSAECONNREFUSED),
        "nobody listens any more"
    );
}

#[test]
fn a_connecting_socket_that_closes_leaves_the_queue() {
    let f = fabric();
    let mut a = san(&f, ALPHA, ib("10.1.0.1"));
    let mut b = san(&f, BETA, ib("10.1.0.2"));
    let l = b.listener("10.1.0.2:7000", 5, 30);
    let c = a.connector("10.1.0.1:5000", 1);
    a.p.connect(c, addr("10.1.0.2:7000")).unwrap_err();
    assert_eq!(f.open_sockets(ALPHA)[&Transport::San("ib".into())], 1);
    a.p.close_socket(c).unwrap();
    assert_eq!(f.listeners(BETA)[0].queued, 0);
    assert!(!b.events(l).events.contains(NetworkEvents::ACCEPT));
    assert_eq!(
        b.accept(l, ConditionResult::Accept).0,
        Err(WsaError::WSAEWOULDBLOCK)
    );
    assert!(f.open_sockets(ALPHA).is_empty(), "no leak");
}

#[test]
fn a_wildcard_listener_takes_connects_for_every_address_of_its_provider() {
    let f = fabric();
    let mut a = san(&f, ALPHA, ib("10.1.0.1"));
    let mut b = san(
        &f,
        BETA,
        MockConfig::generic("ib").with_addresses([ip("10.1.0.2"), ip("10.1.4.2")]),
    );
    let l = b.listener("0.0.0.0:7000", 5, 30);
    for (i, dest) in ["10.1.0.2:7000", "10.1.4.2:7000"].into_iter().enumerate() {
        let c = a.connector(&format!("10.1.0.1:{}", 5000 + i), i as u64);
        a.p.connect(c, addr(dest)).unwrap_err();
        let (r, seen) = b.accept(l, ConditionResult::Accept);
        r.unwrap();
        assert_eq!(
            seen.unwrap().callee,
            addr(dest),
            "the address the connect reached"
        );
    }
    let listeners = f.listeners(BETA);
    assert_eq!(listeners[0].address, addr("0.0.0.0:7000"));
    assert_eq!(listeners[0].transport, Transport::San("ib".into()));
}

#[test]
fn connect_errors_override_the_fabric_and_connect_pending_reports_them_by_event() {
    let f = fabric();
    let mut a = san(
        &f,
        ALPHA,
        ib("10.1.0.1").with_connect_error(ip("10.1.0.2"), WsaError::WSAENETUNREACH),
    );
    let mut b = san(&f, BETA, ib("10.1.0.2"));
    b.listener("10.1.0.2:7000", 5, 30);
    let c = a.connector("10.1.0.1:5000", 1);
    assert_eq!(
        a.p.connect(c, addr("10.1.0.2:7000")),
        Err(WsaError::WSAENETUNREACH)
    );
    let mut pending = san(
        &f,
        ALPHA,
        MockConfig::generic("slow")
            .with_addresses([ip("10.1.0.3")])
            .with_connect_pending(true)
            .with_connect_error(ip("10.1.0.2"), WsaError::WSAENETUNREACH),
    );
    let c = pending.connector("10.1.0.3:5000", 9);
    assert_eq!(
        pending.p.connect(c, addr("10.1.0.2:7000")),
        Err(WsaError::WSAEWOULDBLOCK)
    );
    assert_eq!(
        signals(&f),
        [(ALPHA, EventHandle(9))],
        "the listener saw nothing"
    );
    assert_eq!(
        connect_result(&pending.events(c)),
        Some(Err(WsaError::WSAENETUNREACH))
    );
    // With connect_pending the fabric's own errors come by event too.
    let c = pending.connector("10.1.0.3:5001", 10);
    assert_eq!(
        pending.p.connect(c, addr("10.9.9.9:80")),
        Err(WsaError::WSAEWOULDBLOCK)
    );
    assert_eq!(signals(&f), [(ALPHA, EventHandle(10))]);
    assert_eq!(
        connect_result(&pending.events(c)),
        Some(Err(WsaError::WSAEHOSTUNREACH))
    );
}

/// Alpha's "ib" (10.1.0.1) connects from 10.1.0.1:5000 (event 1) to beta's listener at
/// 10.1.0.2:7000 (event 30), and the connect waits in the listener's queue; the signals so far
/// are taken.
fn connect_queued() -> (Fabric, San, San, ProviderSocket, ProviderSocket) {
    let f = fabric();
    let mut a = san(&f, ALPHA, ib("10.1.0.1"));
    let mut b = san(&f, BETA, ib("10.1.0.2"));
    let l = b.listener("10.1.0.2:7000", 5, 30);
    let c = a.connector("10.1.0.1:5000", 1);
    a.p.connect(c, addr("10.1.0.2:7000")).unwrap_err();
    signals(&f);
    (f, a, b, l, c)
}

#[test]
fn cleanup_withdraws_the_provider_and_refuses_what_waited_on_it() {
    let (f, mut a, mut b, l, c) = connect_queued();
    b.p.cleanup().unwrap();
    assert_eq!(signals(&f), [(ALPHA, EventHandle(1))]);
    assert_eq!(
        connect_result(&a.events(c)),
        Some(Err(WsaError::WSAECONNREFUSED))
    );
    assert_eq!(
        a.p.connect(c, addr("10.1.0.2:7000")),
        Err(WsaError::WSAETIMEDOUT),
        "the host still owns the address; nobody serves it"
    );
    assert!(f.listeners(BETA).is_empty());
    // The listening socket was never closed: the cleanup closed it, as Winsock says, and a
    // leak check sees that it had to.
    assert!(f.open_sockets(BETA).is_empty());
    assert_eq!(f.reset_at_cleanup(BETA)[&Transport::San("ib".into())], 1);
    assert_eq!(b.p.close_socket(l), Err(WsaError::WSAENOTSOCK));
    assert!(f.reset_at_cleanup(ALPHA).is_empty());
}

#[test]
fn the_last_cleanup_closes_the_connections_still_open() {
    let (f, mut a, mut b, l, _) = connect_queued();
    let (accepted, _) = b.accept(l, ConditionResult::Accept);
    assert!(accepted.is_ok());
    signals(&f);
    assert!(f.connections()[0].caller.open);
    // Two starts: the first cleanup leaves everything as it is.
    a.p.startup_ex(
        WinsockVersion::V2_2,
        &ProtocolInfo::tcpip(1001),
        a.upcalls.clone(),
    )
    .unwrap();
    a.p.cleanup().unwrap();
    assert_eq!(f.open_sockets(ALPHA)[&Transport::San("ib".into())], 1);
    assert!(f.reset_at_cleanup(ALPHA).is_empty());
    // The last one closes the connected socket, as `WSPCloseSocket` would.
    a.p.cleanup().unwrap();
    assert!(f.open_sockets(ALPHA).is_empty());
    assert_eq!(f.reset_at_cleanup(ALPHA)[&Transport::San("ib".into())], 1);
    let conn = &f.connections()[0];
    assert!(!conn.caller.open);
    assert!(conn.callee.open);
    assert!(f.reset_at_cleanup(BETA).is_empty());
}

#[test]
fn bad_calls_answer_winsock_errors() {
    let f = fabric();
    let mut a = san(&f, ALPHA, ib("10.1.0.1"));
    let mut b = san(&f, BETA, ib("10.1.0.2"));
    let nobody = ProviderSocket(0xdead);
    assert_eq!(
        a.p.connect(nobody, addr("10.1.0.2:1")),
        Err(WsaError::WSAENOTSOCK)
    );
    assert_eq!(a.p.listen(nobody, 5), Err(WsaError::WSAENOTSOCK));
    assert_eq!(
        a.p.enum_network_events(nobody, None),
        Err(WsaError::WSAENOTSOCK)
    );
    assert_eq!(
        a.accept(nobody, ConditionResult::Accept).0,
        Err(WsaError::WSAENOTSOCK)
    );
    assert_eq!(a.p.close_socket(nobody), Err(WsaError::WSAENOTSOCK));
    let unbound = a.socket();
    assert_eq!(a.p.listen(unbound, 5), Err(WsaError::WSAEINVAL));
    assert_eq!(
        a.accept(unbound, ConditionResult::Accept).0,
        Err(WsaError::WSAEINVAL),
        "not listening"
    );
    assert_eq!(
        a.p.connect(unbound, addr("0.0.0.0:80")),
        Err(WsaError::WSAEADDRNOTAVAIL)
    );
    assert_eq!(
        a.p.connect(unbound, addr("[fd00::2]:80")),
        Err(WsaError::WSAEHOSTUNREACH),
        "an unbound socket takes either family"
    );
    let l = b.listener("10.1.0.2:7000", 5, 30);
    assert_eq!(b.p.connect(l, addr("10.1.0.1:1")), Err(WsaError::WSAEINVAL));
    let again = b.socket();
    b.p.bind(again, addr("10.1.0.2:7000")).unwrap();
    assert_eq!(b.p.listen(again, 5), Err(WsaError::WSAEADDRINUSE));
    assert_eq!(
        b.p.bind(again, addr("10.1.0.2:7001")),
        Err(WsaError::WSAEINVAL)
    );
    let v4 = b.connector("10.1.0.2:5000", 1);
    assert_eq!(
        b.p.connect(v4, addr("[fd00::1]:80")),
        Err(WsaError::WSAEAFNOSUPPORT)
    );
    // Attaching twice, or to a host that does not exist.
    assert_eq!(a.p.attach(&f, BETA), Err(FabricError::AlreadyAttached));
    let mut stray = MockProvider::new(ib("10.1.0.9"), CallLog::new());
    assert_eq!(stray.attach(&f, 7), Err(FabricError::UnknownHost(7)));
    assert!(MockTcp::attached(&f, 7).is_err());
    assert!(MockLoader::new().attach(&f, 7).is_err());
    assert_eq!(effective_backlog(-3), 1);
    assert_eq!(effective_backlog(0x7fff_ffff), MAX_BACKLOG);
}

#[test]
fn an_unbound_connector_gets_its_providers_address_and_an_ephemeral_port() {
    let f = fabric();
    let mut a = san(&f, ALPHA, ib("10.1.0.1"));
    let mut b = san(&f, BETA, ib("10.1.0.2"));
    let l = b.listener("10.1.0.2:7000", 5, 30);
    let c = a.socket();
    a.p.connect(c, addr("10.1.0.2:7000")).unwrap_err();
    let (r, _) = b.accept(l, ConditionResult::Accept);
    let peer = r.unwrap().peer;
    assert_eq!(peer.ip(), ip("10.1.0.1"));
    assert_eq!(peer.port(), mock_provider::fabric::FIRST_EPHEMERAL_PORT);
}

#[test]
fn a_dropped_provider_serves_nothing() {
    let f = fabric();
    let mut a = san(&f, ALPHA, ib("10.1.0.1"));
    let mut b = san(&f, BETA, ib("10.1.0.2"));
    b.listener("10.1.0.2:7000", 5, 30);
    drop(b);
    let c = a.connector("10.1.0.1:5000", 1);
    assert_eq!(
        a.p.connect(c, addr("10.1.0.2:7000")),
        Err(WsaError::WSAETIMEDOUT)
    );
}

fn tcp(f: &Fabric, host: usize) -> MockTcp {
    MockTcp::attached(f, host).unwrap()
}

fn tcp_socket(t: &mut MockTcp) -> TcpSocket {
    t.socket(AddressFamily::INET, SocketKind::Stream).unwrap()
}

#[test]
fn tcp_connects_follow_the_listeners_of_the_owning_host() {
    let f = fabric();
    let mut a = tcp(&f, ALPHA);
    let mut b = tcp(&f, BETA);
    let l = tcp_socket(&mut b);
    b.bind(l, addr("0.0.0.0:80")).unwrap();
    b.listen(l, 5).unwrap();
    assert_eq!(f.listeners(BETA)[0].transport, Transport::Tcp);

    let ok = tcp_socket(&mut a);
    let local = a.connect(ok, addr("10.0.0.2:80")).unwrap();
    assert_eq!(
        local.ip(),
        ip("10.0.0.1"),
        "the wildcard becomes the interface"
    );
    let conns = f.connections();
    assert_eq!(conns.len(), 1);
    assert_eq!(conns[0].callee.host, BETA);
    assert_eq!(conns[0].callee.address, addr("10.0.0.2:80"));
    assert_eq!(conns[0].caller.address, local);
    assert_eq!(conns[0].caller.transport.to_string(), "tcp");
    assert_eq!(f.connections_of(ALPHA)[0].role, Role::Caller);
    assert_eq!(
        a.connect(ok, addr("10.0.0.2:80")),
        Err(WsaError::WSAEISCONN)
    );

    let refused = tcp_socket(&mut a);
    assert_eq!(
        a.connect(refused, addr("10.0.0.2:81")),
        Err(WsaError::WSAECONNREFUSED)
    );
    let unreachable = tcp_socket(&mut a);
    assert_eq!(
        a.connect(unreachable, addr("10.9.9.9:80")),
        Err(WsaError::WSAEHOSTUNREACH)
    );
    a.connect_errors
        .insert(ip("10.0.0.2"), WsaError::WSAENETDOWN);
    let forced = tcp_socket(&mut a);
    assert_eq!(
        a.connect(forced, addr("10.0.0.2:80")),
        Err(WsaError::WSAENETDOWN)
    );
    assert_eq!(f.open_sockets(ALPHA)[&Transport::Tcp], 4);

    // Closing: the connection closes, the listener goes.
    a.close(ok).unwrap();
    assert!(!f.connections()[0].is_open());
    b.close(l).unwrap();
    assert!(f.listeners(BETA).is_empty());
    a.connect_errors.clear();
    let late = tcp_socket(&mut a);
    assert_eq!(
        a.connect(late, addr("10.0.0.2:80")),
        Err(WsaError::WSAECONNREFUSED)
    );
    for s in [refused, unreachable, forced, late] {
        a.close(s).unwrap();
    }
    assert!(f.open_sockets(ALPHA).is_empty());
    assert!(f.open_sockets(BETA).is_empty());
}

#[test]
fn tcp_reaches_a_hosts_san_addresses_and_refuses_bad_listens() {
    let f = fabric();
    let _b_san = unstarted(&f, BETA, ib("10.1.0.2"));
    let mut a = tcp(&f, ALPHA);
    let mut b = tcp(&f, BETA);
    let l = tcp_socket(&mut b);
    assert_eq!(b.listen(l, 5), Err(WsaError::WSAEINVAL), "not bound");
    b.bind(l, addr("10.1.0.2:80")).unwrap();
    b.listen(l, 5).unwrap();
    let other = tcp_socket(&mut b);
    b.bind(other, addr("10.1.0.2:80")).unwrap();
    assert_eq!(b.listen(other, 5), Err(WsaError::WSAEADDRINUSE));
    let c = tcp_socket(&mut a);
    assert!(a.connect(c, addr("10.1.0.2:80")).is_ok());
    assert_eq!(b.listen(TcpSocket(999), 5), Err(WsaError::WSAENOTSOCK));
}

#[test]
fn a_loader_attaches_every_provider_it_makes_and_its_addresses_belong_to_the_host() {
    let f = fabric();
    let mut loader = MockLoader::new();
    loader.add(ib("10.1.0.2"));
    loader.attach(&f, BETA).unwrap();
    // Added after attaching, never loaded: the NIC is there all the same.
    loader.add(MockConfig::generic("never").with_addresses([ip("10.7.0.2")]));
    assert_eq!(f.owners(ip("10.1.0.2")), [BETA]);
    assert_eq!(f.owners(ip("10.7.0.2")), [BETA]);
    assert_eq!(loader.attachment().map(|(_, h)| h), Some(BETA));
    assert!(matches!(
        loader.attach(&f, ALPHA),
        Err(FabricError::AlreadyAttached)
    ));
    // A change of address through the loader is seen at once.
    loader.set_addresses(mock_provider::guid_for_name("never"), vec![ip("10.8.0.2")]);
    assert!(f.owners(ip("10.7.0.2")).is_empty());
    assert_eq!(f.owners(ip("10.8.0.2")), [BETA]);
}

/// Two real switches: alpha connects to beta over the SAN, then to an address nobody serves
/// and falls back to TCP, which reaches beta's TCP listener.
mod switches {
    use super::*;
    use switch_core::connection::{ConnectReason, ConnectStatus, SwitchEvent, Via};
    use switch_core::{ProviderId, Switch, SwitchConfig};

    struct Host {
        switch: Switch,
        tcp: MockTcp,
        events: Vec<SwitchEvent>,
    }

    fn host(f: &Fabric, index: usize, config: MockConfig) -> Host {
        let mut catalog = MockCatalog::with_tcpip();
        catalog.install_mock(&config);
        let mut loader = MockLoader::new();
        loader.add(config);
        loader.attach(f, index).unwrap();
        let mut switch = Switch::new(SwitchConfig::default());
        switch.initialize(&catalog, &mut loader, vec!["10.1.0.0/16".parse().unwrap()]);
        Host {
            switch,
            tcp: MockTcp::attached(f, index).unwrap(),
            events: Vec::new(),
        }
    }

    impl Host {
        fn drain(&mut self) {
            self.events
                .extend(std::iter::from_fn(|| self.switch.poll()));
        }
    }

    /// Delivers every signal to its host's switch and lets every switch handle its providers'
    /// completions (which move the SAN sessions on), until nothing is left to do.
    fn run(f: &Fabric, hosts: &mut [&mut Host]) {
        for _ in 0..100_000 {
            for h in hosts.iter_mut() {
                h.drain();
            }
            if let Some((i, event)) = f.next_signal() {
                let h = &mut hosts[i];
                h.switch.handle_event(&mut h.tcp, event);
                continue;
            }
            let mut handled = 0;
            for h in hosts.iter_mut() {
                handled += h.switch.handle_completions(&mut h.tcp);
            }
            if handled == 0 && f.pending_signals() == 0 {
                for h in hosts.iter_mut() {
                    h.drain();
                }
                return;
            }
        }
        panic!("the switches never settle");
    }

    #[test]
    fn two_switches_connect_over_the_san_and_fall_back_to_tcp_across_hosts() {
        let f = fabric();
        let mut alpha = host(&f, ALPHA, ib("10.1.0.1"));
        let mut beta = host(&f, BETA, ib("10.1.0.2"));

        // Beta listens on 10.1.0.2:7000 through its switch (SAN and TCP).
        let l = beta
            .switch
            .socket(&mut beta.tcp, AddressFamily::INET, SocketKind::Stream)
            .unwrap();
        beta.switch
            .bind(&mut beta.tcp, l, addr("10.1.0.2:7000"))
            .unwrap();
        beta.switch
            .listen(&mut beta.tcp, l, 5, ConditionResult::Accept)
            .unwrap();

        // Alpha connects: pending, then beta accepts and alpha is connected over the SAN.
        let s = alpha
            .switch
            .socket(&mut alpha.tcp, AddressFamily::INET, SocketKind::Stream)
            .unwrap();
        let status = alpha
            .switch
            .connect(&mut alpha.tcp, s, addr("10.1.0.2:7000"))
            .unwrap();
        assert_eq!(status, ConnectStatus::Pending);
        run(&f, &mut [&mut alpha, &mut beta]);
        assert!(
            alpha.events.iter().any(|e| matches!(
                e,
                SwitchEvent::Connected { socket, result } if *socket == s
                    && result.result == Ok(Via::San(ProviderId(0)))
            )),
            "{:?}",
            alpha.events
        );
        assert!(
            beta.events
                .iter()
                .any(|e| matches!(e, SwitchEvent::Accepted { listener, .. } if *listener == l)),
            "{:?}",
            beta.events
        );
        let san: Vec<_> = f
            .connections()
            .into_iter()
            .filter(|c| c.caller.transport == Transport::San("ib".into()))
            .collect();
        assert_eq!(san.len(), 1);
        assert_eq!(san[0].callee.address, addr("10.1.0.2:7000"));

        // An address beta owns but nobody serves on the SAN: the SAN connect times out, and
        // the fallback reaches beta's TCP listener on the same port.
        f.set_interfaces(BETA, [ip("10.0.0.2"), ip("10.1.9.2")])
            .unwrap();
        let t = alpha
            .switch
            .socket(&mut alpha.tcp, AddressFamily::INET, SocketKind::Stream)
            .unwrap();
        let l2 = beta
            .switch
            .socket(&mut beta.tcp, AddressFamily::INET, SocketKind::Stream)
            .unwrap();
        beta.switch
            .bind(&mut beta.tcp, l2, addr("10.1.9.2:8000"))
            .unwrap();
        beta.switch
            .listen(&mut beta.tcp, l2, 5, ConditionResult::Accept)
            .unwrap();
        let status = alpha
            .switch
            .connect(&mut alpha.tcp, t, addr("10.1.9.2:8000"))
            .unwrap();
        let ConnectStatus::Done(r) = status else {
            panic!("a timeout without delay is answered at once: {status:?}");
        };
        assert_eq!(r.result, Ok(Via::Tcp));
        assert!(matches!(
            r.reason,
            ConnectReason::SanConnectFailed {
                error: WsaError::WSAETIMEDOUT,
                ..
            }
        ));
        let tcp = f.connections_of(BETA);
        assert!(tcp.iter().any(|c| c.transport == Transport::Tcp
            && c.local == addr("10.1.9.2:8000")
            && c.role == Role::Callee));

        // A port beta does not listen on over the SAN: refused, and no fallback (CONN-4).
        let u = alpha
            .switch
            .socket(&mut alpha.tcp, AddressFamily::INET, SocketKind::Stream)
            .unwrap();
        let status = alpha
            .switch
            .connect(&mut alpha.tcp, u, addr("10.1.0.2:9999"))
            .unwrap();
        let ConnectStatus::Done(r) = status else {
            panic!("{status:?}");
        };
        assert_eq!(r.result, Err(WsaError::WSAECONNREFUSED));

        // Closing everything leaves no provider socket open beyond each switch's query socket.
        for sock in [s, t, u] {
            alpha.switch.close(&mut alpha.tcp, sock).unwrap();
        }
        alpha.switch.shutdown();
        assert!(
            f.open_sockets(ALPHA).is_empty(),
            "{:?}",
            f.open_sockets(ALPHA)
        );
        // The sessions moved their messages within the model NIC's rules (MEM-1).
        assert_eq!(f.mem_violations(), 0);
    }
}
