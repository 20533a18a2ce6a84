//! LISTEN-1, ROUTE-3, HOT-2 and HOT-3 for listening sockets, through the whole switch with mock
//! providers on one host.

use std::net::SocketAddr;

use mock_provider::{CallDetail, MockCatalog, MockConfig, MockLoader, MockTcp, TcpCall};
use spi_types::{AddressFamily, ConditionResult};
use switch_core::connection::{SocketError, SocketId, SwitchEvent};
use switch_core::routing::SocketKind;
use switch_core::trace::{Call, CallArgs};
use switch_core::{ProviderId, ProviderState, Switch, SwitchConfig};

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

struct Host {
    switch: Switch,
    catalog: MockCatalog,
    loader: MockLoader,
    tcp: MockTcp,
}

fn san(name: &str, ip: &str) -> MockConfig {
    MockConfig::generic(name).with_addresses(vec![ip.parse().unwrap()])
}

fn host(configs: Vec<MockConfig>) -> Host {
    let mut catalog = MockCatalog::with_tcpip();
    let mut loader = MockLoader::new();
    for c in configs {
        catalog.install_mock(&c);
        loader.add(c);
    }
    let mut switch = Switch::new(SwitchConfig::default());
    switch.initialize(
        &catalog,
        &mut loader,
        vec![
            "10.1.0.0/16".parse().unwrap(),
            "10.2.0.0/16".parse().unwrap(),
        ],
    );
    loader.log().clear();
    Host {
        switch,
        catalog,
        loader,
        tcp: MockTcp::new(),
    }
}

impl Host {
    fn listener(&mut self, at: &str) -> SocketId {
        let s = self
            .switch
            .socket(&mut self.tcp, AddressFamily::INET, SocketKind::Stream)
            .unwrap();
        self.switch.bind(&mut self.tcp, s, addr(at)).unwrap();
        s
    }

    fn calls(&self, name: &str) -> Vec<Call> {
        self.loader.log().calls_of(name)
    }
}

#[test]
fn listen_1_a_san_listen_is_socket_bind_listen_and_event_select_for_fd_accept() {
    let mut h = host(vec![san("a", "10.1.0.1")]);
    let l = h.listener("10.1.0.1:7000");
    let out = h
        .switch
        .listen(&mut h.tcp, l, 17, ConditionResult::Accept)
        .unwrap();
    assert_eq!(out.address, addr("10.1.0.1:7000"));
    assert_eq!(out.san, [(ProviderId(0), Ok(()))]);
    assert_eq!(
        h.calls("a"),
        [Call::Socket, Call::Bind, Call::Listen, Call::EventSelect]
    );
    // Bound to the same address and port, with the application's backlog.
    let args: Vec<CallArgs> = h
        .switch
        .trace()
        .iter()
        .filter(|e| matches!(e.call, Call::Bind | Call::Listen))
        .map(|e| e.args.clone())
        .collect();
    assert_eq!(
        args,
        [
            CallArgs::Address(addr("10.1.0.1:7000")),
            CallArgs::Backlog(17)
        ]
    );
    assert!(h.tcp.calls.contains(&TcpCall::Listen(
        match h.tcp.calls[0] {
            TcpCall::Socket(s, _) => s,
            _ => unreachable!(),
        },
        17
    )));
    // A waiter watches the provider's event.
    let watched: Vec<_> = std::iter::from_fn(|| h.switch.poll()).collect();
    assert!(matches!(watched.as_slice(), [SwitchEvent::Watch(_)]));
    assert_eq!(h.switch.listening_on(l), [ProviderId(0)]);
}

#[test]
fn route_3_wildcard_listens_on_every_ready_provider_a_nic_address_on_its_own_only() {
    let mut h = host(vec![san("a", "10.1.0.1"), san("b", "10.2.0.1")]);
    let any = h.listener("0.0.0.0:7000");
    h.switch
        .listen(&mut h.tcp, any, 5, ConditionResult::Accept)
        .unwrap();
    assert_eq!(h.switch.listening_on(any), [ProviderId(0), ProviderId(1)]);
    let one = h.listener("10.2.0.1:7001");
    h.switch
        .listen(&mut h.tcp, one, 5, ConditionResult::Accept)
        .unwrap();
    assert_eq!(h.switch.listening_on(one), [ProviderId(1)]);
    let elsewhere = h.listener("192.0.2.1:7002");
    let out = h
        .switch
        .listen(&mut h.tcp, elsewhere, 5, ConditionResult::Accept)
        .unwrap();
    assert!(out.san.is_empty(), "TCP listens alone");
    assert_eq!(h.loader.log().count("a", Call::Listen), 1);
    assert_eq!(h.loader.log().count("b", Call::Listen), 2);
}

#[test]
fn listen_1_a_provider_whose_listen_fails_is_left_out_and_its_socket_closed() {
    let mut bad = san("a", "10.1.0.1");
    bad.panic_at = Some(Call::Listen);
    let mut h = host(vec![bad, san("b", "10.2.0.1")]);
    let any = h.listener("0.0.0.0:7000");
    let out = h
        .switch
        .listen(&mut h.tcp, any, 5, ConditionResult::Accept)
        .unwrap();
    assert_eq!(out.san.len(), 2);
    assert!(out.san[0].1.is_err());
    assert_eq!(out.san[1], (ProviderId(1), Ok(())));
    assert_eq!(h.calls("a").last(), Some(&Call::CloseSocket));
    assert_eq!(h.switch.listening_on(any), [ProviderId(1)]);
}

#[test]
fn listen_1_listening_needs_a_bound_stream_socket_in_the_open_state() {
    let mut h = host(vec![san("a", "10.1.0.1")]);
    let s = h
        .switch
        .socket(&mut h.tcp, AddressFamily::INET, SocketKind::Stream)
        .unwrap();
    assert!(matches!(
        h.switch.listen(&mut h.tcp, s, 5, ConditionResult::Accept),
        Err(SocketError::WrongState {
            state: "unbound",
            ..
        })
    ));
    let d = h
        .switch
        .socket(&mut h.tcp, AddressFamily::INET, SocketKind::Datagram)
        .unwrap();
    h.switch.bind(&mut h.tcp, d, addr("10.1.0.1:53")).unwrap();
    assert!(
        h.switch
            .listen(&mut h.tcp, d, 5, ConditionResult::Accept)
            .is_err()
    );
    assert!(h.calls("a").is_empty(), "no SAN provider was asked");
}

#[test]
fn hot_2_a_provider_installed_later_joins_every_wildcard_listener() {
    let mut h = host(vec![san("a", "10.1.0.1")]);
    let any = h.listener("0.0.0.0:7000");
    h.switch
        .listen(&mut h.tcp, any, 9, ConditionResult::Accept)
        .unwrap();
    let specific = h.listener("10.1.0.1:7001");
    h.switch
        .listen(&mut h.tcp, specific, 9, ConditionResult::Accept)
        .unwrap();
    let late = san("late", "10.2.0.1");
    h.catalog.install_mock(&late);
    h.loader.add(late);
    h.switch.catalog_changed(&h.catalog, &mut h.loader);
    assert_eq!(h.switch.listening_on(any), [ProviderId(0), ProviderId(1)]);
    assert_eq!(h.switch.listening_on(specific), [ProviderId(0)]);
    let late_calls = h.calls("late");
    assert_eq!(
        &late_calls[late_calls.len() - 4..],
        [Call::Socket, Call::Bind, Call::Listen, Call::EventSelect]
    );
    let bind = h
        .loader
        .log()
        .calls()
        .into_iter()
        .rfind(|c| c.provider == "late" && c.call == Call::Bind)
        .unwrap();
    assert_eq!(bind.detail, CallDetail::Address(addr("0.0.0.0:7000")));
}

#[test]
fn hot_3_a_provider_that_leaves_closes_its_listening_sockets_first() {
    let mut h = host(vec![san("a", "10.1.0.1"), san("b", "10.2.0.1")]);
    let any = h.listener("0.0.0.0:7000");
    h.switch
        .listen(&mut h.tcp, any, 5, ConditionResult::Accept)
        .unwrap();
    std::iter::from_fn(|| h.switch.poll()).count();
    h.catalog.remove(mock_provider::guid_for_name("a"));
    let r = h.switch.catalog_changed(&h.catalog, &mut h.loader);
    assert_eq!(r.provider("a").unwrap().state, ProviderState::Retired);
    let a = h.calls("a");
    // The listening socket, then the query socket, then cleanup.
    assert_eq!(
        &a[a.len() - 3..],
        [Call::CloseSocket, Call::CloseSocket, Call::Cleanup]
    );
    assert_eq!(h.switch.listening_on(any), [ProviderId(1)]);
    let events: Vec<_> = std::iter::from_fn(|| h.switch.poll()).collect();
    assert!(matches!(events.as_slice(), [SwitchEvent::Unwatch(_)]));
}

#[test]
fn listen_1_closing_a_listener_closes_its_san_sockets() {
    let mut h = host(vec![san("a", "10.1.0.1"), san("b", "10.2.0.1")]);
    let any = h.listener("0.0.0.0:7000");
    h.switch
        .listen(&mut h.tcp, any, 5, ConditionResult::Accept)
        .unwrap();
    h.switch.close(&mut h.tcp, any).unwrap();
    assert_eq!(h.loader.log().count("a", Call::CloseSocket), 1);
    assert_eq!(h.loader.log().count("b", Call::CloseSocket), 1);
    assert_eq!(h.tcp.open_sockets(), 0);
    assert_eq!(h.switch.accept(any), Err(SocketError::UnknownSocket(any)));
    // Shutting down afterwards closes only the query sockets.
    h.switch.shutdown();
    assert_eq!(h.loader.log().count("a", Call::CloseSocket), 2);
}

#[test]
fn close_2_shutdown_closes_listening_sockets_before_cleanup() {
    let mut h = host(vec![san("a", "10.1.0.1")]);
    let any = h.listener("0.0.0.0:7000");
    h.switch
        .listen(&mut h.tcp, any, 5, ConditionResult::Accept)
        .unwrap();
    h.switch.shutdown();
    let a = h.calls("a");
    assert_eq!(
        &a[a.len() - 3..],
        [Call::CloseSocket, Call::CloseSocket, Call::Cleanup]
    );
    assert!(h.switch.listening_on(any).is_empty());
    assert!(matches!(
        h.switch.listen(&mut h.tcp, any, 5, ConditionResult::Accept),
        Err(SocketError::ShutDown)
    ));
}
