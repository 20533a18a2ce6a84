//! The CONN rules and ROUTE-2 through the whole switch: application sockets on the mock TCP/IP
//! provider, connects routed to a mock SAN provider, and what each provider was asked.

use std::net::SocketAddr;

use mock_provider::{CallDetail, MockCatalog, MockConfig, MockLoader, MockTcp, TcpCall};
use spi_types::consts::{SO_DEBUG, SOL_SOCKET};
use spi_types::{AddressFamily, NetworkEvents, WsaError};
use switch_core::call::{Answer, NextCall, ProviderMachine};
use switch_core::connection::{
    AttemptEnd, ConnectMachine, ConnectReason, ConnectStatus, MAX_SPURIOUS_EVENTS, SocketError,
    SocketId, StoredOption, SwitchEvent, Via, is_fatal,
};
use switch_core::provider::{EventHandle, ProviderSocket};
use switch_core::routing::{RouteReason, SocketKind};
use switch_core::session::conn::SessionConfig;
use switch_core::trace::Call;
use switch_core::{ProviderId, Switch, SwitchConfig};

const SO_RCVBUF: i32 = 0x1002;
const P: ProviderId = ProviderId(0);

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

struct Host {
    switch: Switch,
    catalog: MockCatalog,
    loader: MockLoader,
    tcp: MockTcp,
}

/// One SAN provider "san" owning 10.1.0.1 in 10.1.0.0/16, configured by `f`.
fn host(f: impl FnOnce(&mut MockConfig)) -> Host {
    let mut c = MockConfig::generic("san").with_addresses(vec!["10.1.0.1".parse().unwrap()]);
    f(&mut c);
    let mut catalog = MockCatalog::with_tcpip();
    catalog.install_mock(&c);
    let mut loader = MockLoader::new();
    loader.add(c);
    let mut switch = Switch::new(SwitchConfig {
        session: SessionConfig::disabled(),
        ..SwitchConfig::default()
    });
    switch.initialize(&catalog, &mut loader, vec!["10.1.0.0/16".parse().unwrap()]);
    loader.log().clear();
    Host {
        switch,
        catalog,
        loader,
        tcp: MockTcp::new(),
    }
}

impl Host {
    fn socket(&mut self, kind: SocketKind) -> SocketId {
        self.switch
            .socket(&mut self.tcp, AddressFamily::INET, kind)
            .unwrap()
    }

    fn connect(&mut self, s: SocketId, dest: &str) -> ConnectStatus {
        self.switch.connect(&mut self.tcp, s, addr(dest)).unwrap()
    }

    fn san_calls(&self) -> Vec<Call> {
        self.loader.log().calls_of("san")
    }

    fn events(&mut self) -> Vec<SwitchEvent> {
        std::iter::from_fn(|| self.switch.poll()).collect()
    }
}

fn done(status: ConnectStatus) -> switch_core::connection::ConnectResult {
    match status {
        ConnectStatus::Done(r) => r,
        ConnectStatus::Pending => panic!("expected a finished connect"),
    }
}

#[test]
fn conn_1_sockets_are_created_bound_and_configured_on_tcp_first() {
    let mut h = host(|_| {});
    let s = h.socket(SocketKind::Stream);
    let bound = h.switch.bind(&mut h.tcp, s, addr("10.1.0.1:0")).unwrap();
    assert_eq!(bound.ip(), addr("10.1.0.1:0").ip());
    assert_ne!(bound.port(), 0, "TCP/IP chose the port");
    h.switch
        .set_option(
            &mut h.tcp,
            s,
            StoredOption {
                level: SOL_SOCKET,
                name: SO_DEBUG,
                value: vec![1, 0, 0, 0],
            },
        )
        .unwrap();
    assert!(matches!(
        h.tcp.calls.as_slice(),
        [
            TcpCall::Socket(_, SocketKind::Stream),
            TcpCall::Bind(_, _),
            TcpCall::SetOption(_, SOL_SOCKET, SO_DEBUG)
        ]
    ));
    assert!(
        h.san_calls().is_empty(),
        "no SAN provider is asked before a connect"
    );
    assert_eq!(
        h.switch.bind(&mut h.tcp, SocketId(99), addr("10.1.0.1:0")),
        Err(SocketError::UnknownSocket(SocketId(99)))
    );
}

#[test]
fn conn_2_the_companion_socket_binds_to_the_tcp_sockets_address_and_takes_forwarded_options() {
    let mut h = host(|_| {});
    let s = h.socket(SocketKind::Stream);
    for name in [SO_DEBUG, SO_RCVBUF] {
        let option = StoredOption {
            level: SOL_SOCKET,
            name,
            value: vec![1, 0, 0, 0],
        };
        h.switch.set_option(&mut h.tcp, s, option).unwrap();
    }
    let r = done(h.connect(s, "10.1.0.9:80"));
    assert_eq!(r.result, Ok(Via::San(P)));
    assert_eq!(r.reason.code(), "route_match");
    // The TCP socket was bound to the provider's address with a port TCP/IP chose, and the
    // companion to exactly that address.
    let tcp_bound = h
        .tcp
        .calls
        .iter()
        .find_map(|c| match c {
            TcpCall::Bind(_, a) => Some(*a),
            _ => None,
        })
        .unwrap();
    assert_eq!(tcp_bound, addr("10.1.0.1:0"));
    let (_, _, local) = h.switch.connection(s).unwrap();
    let local = local.unwrap();
    assert_eq!(local.ip(), tcp_bound.ip());
    assert_ne!(local.port(), 0);
    let san_bind = h
        .loader
        .log()
        .calls()
        .into_iter()
        .find(|c| c.call == Call::Bind)
        .unwrap();
    assert_eq!(san_bind.detail, CallDetail::Address(local));
    // SO_DEBUG is forwarded, SO_RCVBUF is the switch's own business.
    assert_eq!(
        h.san_calls(),
        [
            Call::Socket,
            Call::Bind,
            Call::SetSockOpt,
            Call::EventSelect,
            Call::Connect
        ]
    );
    assert!(h.tcp.connects().is_empty(), "TCP/IP never connected");
}

#[test]
fn conn_2_a_failing_companion_step_closes_it_and_uses_tcp() {
    let mut h = host(|c| c.set_option = Err(WsaError::WSAENOPROTOOPT));
    let s = h.socket(SocketKind::Stream);
    let debug = StoredOption {
        level: SOL_SOCKET,
        name: SO_DEBUG,
        value: vec![1, 0, 0, 0],
    };
    h.switch.set_option(&mut h.tcp, s, debug).unwrap();
    let r = done(h.connect(s, "10.1.0.9:80"));
    assert_eq!(r.result, Ok(Via::Tcp));
    assert_eq!(
        r.reason,
        ConnectReason::CompanionSocketFailed {
            provider: P,
            error: WsaError::WSAENOPROTOOPT
        }
    );
    assert_eq!(r.reason.code(), "companion_socket_failed");
    assert_eq!(
        h.san_calls(),
        [
            Call::Socket,
            Call::Bind,
            Call::SetSockOpt,
            Call::CloseSocket
        ]
    );
    assert_eq!(h.tcp.connects(), [addr("10.1.0.9:80")]);
}

#[test]
fn conn_2_a_companion_socket_that_cannot_be_created_means_tcp() {
    let mut h = host(|_| {});
    h.loader
        .config(mock_provider::guid_for_name("san"))
        .unwrap()
        .lock()
        .unwrap()
        .socket = Err(WsaError::WSAENOBUFS);
    let s = h.socket(SocketKind::Stream);
    let r = done(h.connect(s, "10.1.0.9:80"));
    assert_eq!(r.result, Ok(Via::Tcp));
    assert_eq!(r.reason.wsa(), Some(WsaError::WSAENOBUFS));
    assert_eq!(h.san_calls(), [Call::Socket], "nothing to close");
}

#[test]
fn conn_2_an_application_bound_elsewhere_makes_the_companion_bind_fail_and_uses_tcp() {
    let mut h = host(|_| {});
    let s = h.socket(SocketKind::Stream);
    h.switch.bind(&mut h.tcp, s, addr("10.1.7.7:4000")).unwrap();
    let r = done(h.connect(s, "10.1.0.9:80"));
    assert_eq!(r.result, Ok(Via::Tcp));
    assert_eq!(r.reason.code(), "companion_socket_failed");
    assert_eq!(r.reason.wsa(), Some(WsaError::WSAEADDRNOTAVAIL));
    assert_eq!(h.san_calls(), [Call::Socket, Call::Bind, Call::CloseSocket]);
}

#[test]
fn conn_3_event_select_then_connect_and_an_immediate_success() {
    let mut h = host(|_| {});
    let s = h.socket(SocketKind::Stream);
    let r = done(h.connect(s, "10.1.0.9:80"));
    assert_eq!(r.result, Ok(Via::San(P)));
    let events = h.events();
    assert!(matches!(
        events.as_slice(),
        [SwitchEvent::Watch(a), SwitchEvent::Unwatch(b)] if a == b
    ));
    let selected = h
        .switch
        .trace()
        .iter()
        .filter(|e| e.call == Call::EventSelect)
        .count();
    assert_eq!(selected, 1);
}

#[test]
fn conn_3_a_pending_connect_finishes_through_the_event() {
    let mut h = host(|c| c.connect_pending = true);
    let s = h.socket(SocketKind::Stream);
    assert_eq!(h.connect(s, "10.1.0.9:80"), ConnectStatus::Pending);
    let [SwitchEvent::Watch(ev)] = h.events()[..] else {
        panic!("the switch asks to watch one event");
    };
    assert!(h.switch.connection(s).is_none(), "not connected yet");
    // An event nobody asked for changes nothing.
    h.switch.handle_event(&mut h.tcp, EventHandle(ev.0 + 100));
    assert!(h.events().is_empty());
    h.switch.handle_event(&mut h.tcp, ev);
    let events = h.events();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0], SwitchEvent::Unwatch(ev));
    let SwitchEvent::Connected { socket, result } = events[1] else {
        panic!("{events:?}");
    };
    assert_eq!(socket, s);
    assert_eq!(result.result, Ok(Via::San(P)));
    assert_eq!(
        h.san_calls(),
        [
            Call::Socket,
            Call::Bind,
            Call::EventSelect,
            Call::Connect,
            Call::EnumNetworkEvents
        ]
    );
    assert_eq!(h.switch.connection(s).unwrap().0, Via::San(P));
}

#[test]
fn conn_3_spurious_events_are_tolerated_then_the_attempt_times_out() {
    let local = addr("10.1.0.1:5000");
    let mut m = ConnectMachine::new(local, addr("10.1.0.9:80"), Vec::new(), EventHandle(1));
    let s = ProviderSocket(3);
    m.advance(Answer::Socket(Ok(s))).unwrap();
    m.advance(Answer::Done(Ok(()))).unwrap(); // bind
    m.advance(Answer::Done(Ok(()))).unwrap(); // event select
    m.advance(Answer::Done(Err(WsaError::WSAEWOULDBLOCK)))
        .unwrap();
    assert!(m.is_waiting());
    for _ in 0..MAX_SPURIOUS_EVENTS {
        assert!(m.is_waiting());
        m.on_event();
        assert_eq!(
            m.next_call(),
            Some(NextCall::EnumNetworkEvents {
                socket: s,
                event: EventHandle(1)
            })
        );
        m.advance(Answer::Events(Ok(Default::default()))).unwrap();
    }
    assert_eq!(m.next_call(), Some(NextCall::CloseSocket(s)));
    m.advance(Answer::Closed(Ok(()))).unwrap();
    assert_eq!(m.end(), Some(AttemptEnd::Fallback(WsaError::WSAETIMEDOUT)));
    assert_eq!(m.call_budget(), 0);
}

#[test]
fn conn_3_the_call_budget_covers_the_longest_attempt() {
    let options = vec![
        StoredOption {
            level: SOL_SOCKET,
            name: SO_DEBUG,
            value: vec![1]
        };
        3
    ];
    let mut m = ConnectMachine::new(
        addr("10.1.0.1:5000"),
        addr("10.1.0.9:80"),
        options,
        EventHandle(1),
    );
    let budget = m.call_budget();
    let mut calls = 0;
    loop {
        match m.next_call() {
            None if m.is_waiting() => m.on_event(),
            None => break,
            Some(NextCall::Socket { .. }) => {
                m.advance(Answer::Socket(Ok(ProviderSocket(1)))).unwrap();
                calls += 1;
            }
            Some(NextCall::Connect { .. }) => {
                m.advance(Answer::Done(Err(WsaError::WSAEWOULDBLOCK)))
                    .unwrap();
                calls += 1;
            }
            Some(NextCall::EnumNetworkEvents { .. }) => {
                m.advance(Answer::Events(Ok(Default::default()))).unwrap();
                calls += 1;
            }
            Some(_) => {
                m.advance(Answer::Done(Ok(()))).unwrap();
                calls += 1;
            }
        }
    }
    assert_eq!(calls, budget);
}

#[test]
fn conn_4_reset_refused_and_unreachable_fail_the_connect_without_tcp() {
    for error in [
        WsaError::WSAECONNRESET,
        WsaError::WSAECONNREFUSED,
        WsaError::WSAEHOSTUNREACH,
    ] {
        assert!(is_fatal(error));
        let mut h = host(|c| {
            c.connect_errors.insert("10.1.0.9".parse().unwrap(), error);
        });
        let s = h.socket(SocketKind::Stream);
        let r = done(h.connect(s, "10.1.0.9:80"));
        assert_eq!(r.result, Err(error));
        assert_eq!(
            r.reason,
            ConnectReason::SanConnectFatal { provider: P, error }
        );
        assert_eq!(r.reason.code(), "san_connect_fatal");
        assert_eq!(h.san_calls().last(), Some(&Call::CloseSocket));
        assert!(h.tcp.connects().is_empty(), "{error}: TCP would fail too");
        // The socket may try again.
        assert!(h.switch.connection(s).is_none());
    }
}

#[test]
fn conn_4_any_other_error_closes_the_companion_and_falls_back_to_tcp() {
    for error in [
        WsaError::WSAETIMEDOUT,
        WsaError::WSAENETUNREACH,
        WsaError::WSAENOBUFS,
        WsaError::WSAEADDRINUSE,
    ] {
        assert!(!is_fatal(error));
        let mut h = host(|c| {
            c.connect_errors.insert("10.1.0.9".parse().unwrap(), error);
        });
        let s = h.socket(SocketKind::Stream);
        let r = done(h.connect(s, "10.1.0.9:80"));
        assert_eq!(r.result, Ok(Via::Tcp));
        assert_eq!(r.reason.code(), "san_connect_failed");
        assert_eq!(r.reason.wsa(), Some(error));
        assert_eq!(h.san_calls().last(), Some(&Call::CloseSocket));
        assert_eq!(h.tcp.connects(), [addr("10.1.0.9:80")]);
    }
}

#[test]
fn conn_4_an_error_reported_by_the_event_follows_the_same_table() {
    let mut h = host(|c| {
        c.connect_pending = true;
        c.connect_errors
            .insert("10.1.0.9".parse().unwrap(), WsaError::WSAECONNREFUSED);
        c.connect_errors
            .insert("10.1.0.10".parse().unwrap(), WsaError::WSAETIMEDOUT);
    });
    let refused = h.socket(SocketKind::Stream);
    let slow = h.socket(SocketKind::Stream);
    assert_eq!(h.connect(refused, "10.1.0.9:80"), ConnectStatus::Pending);
    assert_eq!(h.connect(slow, "10.1.0.10:80"), ConnectStatus::Pending);
    let watched: Vec<EventHandle> = h
        .events()
        .into_iter()
        .filter_map(|e| match e {
            SwitchEvent::Watch(ev) => Some(ev),
            _ => None,
        })
        .collect();
    assert_eq!(watched.len(), 2);
    assert_ne!(watched[0], watched[1], "one event per attempt");
    for ev in &watched {
        h.switch.handle_event(&mut h.tcp, *ev);
    }
    let results: Vec<_> = h
        .events()
        .into_iter()
        .filter_map(|e| match e {
            SwitchEvent::Connected { socket, result } => Some((socket, result.result)),
            _ => None,
        })
        .collect();
    assert_eq!(
        results,
        [
            (refused, Err(WsaError::WSAECONNREFUSED)),
            (slow, Ok(Via::Tcp))
        ]
    );
    assert_eq!(h.tcp.connects(), [addr("10.1.0.10:80")]);
}

#[test]
fn conn_5_an_established_san_connection_never_falls_back() {
    let mut h = host(|c| c.connect_pending = true);
    let s = h.socket(SocketKind::Stream);
    h.connect(s, "10.1.0.9:80");
    let [SwitchEvent::Watch(ev)] = h.events()[..] else {
        panic!()
    };
    h.switch.handle_event(&mut h.tcp, ev);
    assert_eq!(h.switch.connection(s).unwrap().0, Via::San(P));
    h.events();
    // The same event again, an address change that removes the route, a second connect: the
    // connection stays on the SAN and TCP/IP is never asked to connect.
    h.switch.handle_event(&mut h.tcp, ev);
    h.loader
        .set_addresses(mock_provider::guid_for_name("san"), Vec::new());
    h.switch.address_changed(None);
    assert!(matches!(
        h.switch.connect(&mut h.tcp, s, addr("10.1.0.9:80")),
        Err(SocketError::WrongState {
            state: "connected",
            ..
        })
    ));
    assert!(h.events().is_empty());
    assert_eq!(h.switch.connection(s).unwrap().0, Via::San(P));
    assert!(h.tcp.connects().is_empty());
    assert_eq!(h.switch.report().providers[0].connections, 1);
}

#[test]
fn conn_6_cancelling_a_pending_connect_closes_the_companion_socket() {
    let mut h = host(|c| c.connect_pending = true);
    let s = h.socket(SocketKind::Stream);
    assert_eq!(h.connect(s, "10.1.0.9:80"), ConnectStatus::Pending);
    h.switch.cancel_connect(&mut h.tcp, s).unwrap();
    assert_eq!(h.san_calls().last(), Some(&Call::CloseSocket));
    assert!(
        h.tcp.connects().is_empty(),
        "a cancelled connect does not fall back"
    );
    let events = h.events();
    assert!(
        matches!(events.as_slice(), [SwitchEvent::Watch(a), SwitchEvent::Unwatch(b)] if a == b)
    );
    assert!(h.switch.connection(s).is_none());
    // Cancelling what is not pending is refused; the socket can connect again.
    assert!(matches!(
        h.switch.cancel_connect(&mut h.tcp, s),
        Err(SocketError::WrongState { .. })
    ));
    assert_eq!(h.connect(s, "10.1.0.9:80"), ConnectStatus::Pending);
    // Closing a socket whose connect is pending cancels it too.
    h.switch.close(&mut h.tcp, s).unwrap();
    assert_eq!(h.loader.log().count("san", Call::CloseSocket), 2);
    assert_eq!(h.tcp.open_sockets(), 0);
}

#[test]
fn route_2_datagram_raw_and_multicast_sockets_never_reach_a_san_provider() {
    let mut h = host(|_| {});
    for kind in [SocketKind::Datagram, SocketKind::Raw, SocketKind::Multicast] {
        let s = h.socket(kind);
        // Port 0 is fine: the port plays no part for these sockets.
        let r = done(h.connect(s, "10.1.0.9:0"));
        assert_eq!(r.result, Ok(Via::Tcp));
        assert_eq!(
            r.reason,
            ConnectReason::Route(RouteReason::SocketKind { kind })
        );
    }
    assert!(h.san_calls().is_empty());
    assert_eq!(h.tcp.connects().len(), 3);
}

#[test]
fn route_1_a_connect_outside_every_san_subnet_goes_to_tcp_with_no_provider_call() {
    let mut h = host(|_| {});
    let s = h.socket(SocketKind::Stream);
    let r = done(h.connect(s, "192.0.2.1:80"));
    assert_eq!(r.result, Ok(Via::Tcp));
    assert_eq!(r.reason.code(), "no_route");
    assert!(h.san_calls().is_empty());
}

#[test]
fn conn_3_fd_connect_is_the_only_event_selected() {
    let mut h = host(|_| {});
    let s = h.socket(SocketKind::Stream);
    h.connect(s, "10.1.0.9:80");
    let m = ConnectMachine::new(
        addr("10.1.0.1:1"),
        addr("10.1.0.9:80"),
        Vec::new(),
        EventHandle(7),
    );
    let mut m = m;
    m.advance(Answer::Socket(Ok(ProviderSocket(1)))).unwrap();
    m.advance(Answer::Done(Ok(()))).unwrap();
    assert_eq!(
        m.next_call(),
        Some(NextCall::EventSelect {
            socket: ProviderSocket(1),
            event: EventHandle(7),
            events: NetworkEvents::CONNECT
        })
    );
}

fn connected_events(h: &mut Host) -> Vec<(SocketId, switch_core::connection::ConnectResult)> {
    h.events()
        .into_iter()
        .filter_map(|e| match e {
            SwitchEvent::Connected { socket, result } => Some((socket, result)),
            _ => None,
        })
        .collect()
}

#[test]
fn hot_3_a_provider_that_leaves_during_a_connect_retires_only_after_it() {
    let mut h = host(|c| c.connect_pending = true);
    let s = h.socket(SocketKind::Stream);
    assert_eq!(h.connect(s, "10.1.0.9:80"), ConnectStatus::Pending);
    let [SwitchEvent::Watch(ev)] = h.events()[..] else {
        panic!()
    };
    // The attempt counts: the provider retires instead of being cleaned up under it.
    h.catalog.remove(mock_provider::guid_for_name("san"));
    let r = h.switch.catalog_changed(&h.catalog, &mut h.loader);
    assert_eq!(r.providers[0].state, switch_core::ProviderState::Retiring);
    assert_eq!(r.providers[0].connections, 1);
    h.switch.handle_event(&mut h.tcp, ev);
    assert_eq!(h.switch.connection(s).unwrap().0, Via::San(P));
    assert_eq!(h.loader.log().count("san", Call::Cleanup), 0);
    h.switch.close(&mut h.tcp, s).unwrap();
    let calls = h.san_calls();
    assert_eq!(
        &calls[calls.len() - 3..],
        [Call::CloseSocket, Call::CloseSocket, Call::Cleanup]
    );
    assert_eq!(
        h.switch.report().providers[0].state,
        switch_core::ProviderState::Retired
    );
}

#[test]
fn close_2_shutdown_ends_a_pending_connect_and_closes_its_companion_first() {
    let mut h = host(|c| c.connect_pending = true);
    let s = h.socket(SocketKind::Stream);
    h.connect(s, "10.1.0.9:80");
    h.events();
    h.switch.shutdown();
    let calls = h.san_calls();
    // The companion, then the query socket, then cleanup.
    assert_eq!(
        &calls[calls.len() - 3..],
        [Call::CloseSocket, Call::CloseSocket, Call::Cleanup]
    );
    let done = connected_events(&mut h);
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].0, s);
    assert_eq!(done[0].1.result, Err(WsaError::WSAENETDOWN));
    assert_eq!(done[0].1.reason.code(), "provider_gone");
    assert_eq!(h.switch.footprint().watched_events, 0);
    // Closing the socket afterwards makes no TCP connect (CONN-6: no fallback on a cancel).
    h.switch.close(&mut h.tcp, s).unwrap();
    assert!(h.tcp.connects().is_empty());
}

#[test]
fn addr_1_a_provider_panicking_in_a_requery_ends_its_pending_connects() {
    let mut h = host(|c| c.connect_pending = true);
    let s = h.socket(SocketKind::Stream);
    h.connect(s, "10.1.0.9:80");
    h.events();
    h.loader
        .config(mock_provider::guid_for_name("san"))
        .unwrap()
        .lock()
        .unwrap()
        .panic_at = Some(Call::AddressListQuery);
    h.switch.address_changed(None);
    let done = connected_events(&mut h);
    assert_eq!(done.len(), 1, "the attempt ends once");
    assert_eq!(done[0].1.reason.code(), "provider_gone");
    let f = h.switch.footprint();
    assert_eq!((f.sockets, f.watched_events, f.deadlines), (1, 0, 0));
    // The socket can connect again, through TCP now.
    assert_eq!(
        h.connect(s, "10.1.0.9:80"),
        ConnectStatus::Done(switch_core::connection::ConnectResult {
            result: Ok(Via::Tcp),
            reason: ConnectReason::Route(RouteReason::NoRoute),
        })
    );
}

#[test]
fn conn_4_a_tcp_connect_still_under_way_after_a_fallback_is_a_tcp_connection() {
    let mut h = host(|c| {
        c.connect_errors
            .insert("10.1.0.9".parse().unwrap(), WsaError::WSAETIMEDOUT);
    });
    h.tcp
        .connect_errors
        .insert("10.1.0.9".parse().unwrap(), WsaError::WSAEWOULDBLOCK);
    let s = h.socket(SocketKind::Stream);
    let r = done(h.connect(s, "10.1.0.9:80"));
    assert_eq!(r.result, Ok(Via::Tcp));
    assert_eq!(h.switch.connection(s).unwrap().0, Via::Tcp);
    assert_eq!(h.switch.connect_stats().failed, 0);
}

#[test]
fn conn_2_a_socket_bound_to_the_wildcard_keeps_its_port_and_is_not_bound_again() {
    let mut h = host(|_| {});
    let s = h.socket(SocketKind::Stream);
    h.switch.bind(&mut h.tcp, s, addr("0.0.0.0:4000")).unwrap();
    let r = done(h.connect(s, "10.1.0.9:80"));
    assert_eq!(r.result, Ok(Via::San(P)));
    let binds = h
        .tcp
        .calls
        .iter()
        .filter(|c| matches!(c, TcpCall::Bind(..)))
        .count();
    assert_eq!(binds, 1, "TCP/IP is not asked to bind a bound socket again");
    let san_bind = h
        .loader
        .log()
        .calls()
        .into_iter()
        .find(|c| c.call == Call::Bind)
        .unwrap();
    assert_eq!(san_bind.detail, CallDetail::Address(addr("10.1.0.1:4000")));
}

#[test]
fn conn_3_event_handles_are_never_zero() {
    let mut h = host(|c| c.connect_pending = true);
    let s = h.socket(SocketKind::Stream);
    h.connect(s, "10.1.0.9:80");
    let [SwitchEvent::Watch(ev)] = h.events()[..] else {
        panic!()
    };
    assert_ne!(ev, EventHandle(0), "0 is a null event to a Windows shim");
}
