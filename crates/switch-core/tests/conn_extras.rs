//! The switch's own additions to the connect path, each off by default: the negative cache,
//! the SAN deadline, and the counters per reason.

use std::net::SocketAddr;
use std::time::Duration;

use mock_provider::{MockCatalog, MockConfig, MockLoader, MockTcp};
use spi_types::{AddressFamily, WsaError};
use switch_core::connection::{ConnectPolicy, ConnectStatus, SocketId, SwitchEvent, Via};
use switch_core::routing::{RouteReason, RouteTarget, SocketKind};
use switch_core::session::conn::SessionConfig;
use switch_core::trace::Call;
use switch_core::{ProviderId, Switch, SwitchConfig};

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

struct Host {
    switch: Switch,
    loader: MockLoader,
    tcp: MockTcp,
}

fn host(policy: ConnectPolicy, f: impl FnOnce(&mut MockConfig)) -> Host {
    let mut c = MockConfig::generic("san").with_addresses(vec!["10.1.0.1".parse().unwrap()]);
    f(&mut c);
    let mut catalog = MockCatalog::with_tcpip();
    catalog.install_mock(&c);
    let mut loader = MockLoader::new();
    loader.add(c);
    let mut switch = Switch::new(SwitchConfig {
        connect: policy,
        session: SessionConfig::disabled(),
        ..SwitchConfig::default()
    });
    switch.initialize(&catalog, &mut loader, vec!["10.1.0.0/16".parse().unwrap()]);
    loader.log().clear();
    Host {
        switch,
        loader,
        tcp: MockTcp::new(),
    }
}

impl Host {
    fn connect(&mut self, dest: &str) -> (SocketId, ConnectStatus) {
        let s = self
            .switch
            .socket(&mut self.tcp, AddressFamily::INET, SocketKind::Stream)
            .unwrap();
        let status = self.switch.connect(&mut self.tcp, s, addr(dest)).unwrap();
        (s, status)
    }

    fn code(&mut self, dest: &str) -> &'static str {
        match self.connect(dest).1 {
            ConnectStatus::Done(r) => r.reason.code(),
            ConnectStatus::Pending => "pending",
        }
    }
}

fn cached(ms: u64) -> ConnectPolicy {
    ConnectPolicy {
        negative_cache: Some(Duration::from_millis(ms)),
        san_deadline: None,
    }
}

#[test]
fn negative_cache_a_destination_that_fell_back_goes_straight_to_tcp_until_it_expires() {
    let mut h = host(cached(1_000), |c| {
        c.connect_errors
            .insert("10.1.0.9".parse().unwrap(), WsaError::WSAETIMEDOUT);
    });
    h.switch.handle_timeout(&mut h.tcp, Duration::from_secs(10));
    assert_eq!(h.code("10.1.0.9:80"), "san_connect_failed");
    let attempts = h.loader.log().count("san", Call::Connect);
    assert_eq!(h.code("10.1.0.9:81"), "negative_cache");
    assert_eq!(
        h.loader.log().count("san", Call::Connect),
        attempts,
        "no SAN call"
    );
    // explain's decision is the same one.
    let d = h
        .switch
        .decide_connect(addr("10.1.0.9:80"), SocketKind::Stream);
    assert_eq!(
        (d.target, d.reason),
        (
            RouteTarget::Tcp,
            RouteReason::NegativeCache {
                provider: ProviderId(0)
            }
        )
    );
    // Another destination of the same subnet is not affected.
    assert_eq!(h.code("10.1.0.10:80"), "route_match");
    // Until just before expiry it holds; at expiry the SAN is tried again.
    h.switch
        .handle_timeout(&mut h.tcp, Duration::from_millis(10_999));
    assert_eq!(h.code("10.1.0.9:80"), "negative_cache");
    h.switch
        .handle_timeout(&mut h.tcp, Duration::from_millis(11_000));
    assert_eq!(h.code("10.1.0.9:80"), "san_connect_failed");
}

#[test]
fn negative_cache_is_off_by_default_and_a_fatal_error_is_not_cached() {
    let mut h = host(ConnectPolicy::default(), |c| {
        c.connect_errors
            .insert("10.1.0.9".parse().unwrap(), WsaError::WSAETIMEDOUT);
    });
    assert_eq!(h.code("10.1.0.9:80"), "san_connect_failed");
    assert_eq!(h.code("10.1.0.9:80"), "san_connect_failed");

    let mut h = host(cached(1_000), |c| {
        c.connect_errors
            .insert("10.1.0.9".parse().unwrap(), WsaError::WSAECONNREFUSED);
    });
    assert_eq!(h.code("10.1.0.9:80"), "san_connect_fatal");
    assert_eq!(h.code("10.1.0.9:80"), "san_connect_fatal");
}

#[test]
fn san_deadline_a_slow_san_connect_is_abandoned_for_tcp() {
    // Two hosts on the fabric: beta listens (SAN and TCP) but its events are never delivered,
    // so alpha's SAN connect stays queued past alpha's deadline.
    use mock_provider::Fabric;
    let f = Fabric::new();
    f.add_host("alpha", ["10.0.0.1".parse().unwrap()]);
    f.add_host("beta", ["10.0.0.9".parse().unwrap()]);
    let on = |index: usize, ip: &str, policy: ConnectPolicy| {
        let c = MockConfig::generic("san").with_addresses(vec![ip.parse().unwrap()]);
        let mut catalog = MockCatalog::with_tcpip();
        catalog.install_mock(&c);
        let mut loader = MockLoader::new();
        loader.add(c);
        loader.attach(&f, index).unwrap();
        let mut switch = Switch::new(SwitchConfig {
            connect: policy,
            session: SessionConfig::disabled(),
            ..SwitchConfig::default()
        });
        switch.initialize(&catalog, &mut loader, vec!["10.1.0.0/16".parse().unwrap()]);
        Host {
            switch,
            loader,
            tcp: MockTcp::attached(&f, index).unwrap(),
        }
    };
    let mut h = on(
        0,
        "10.1.0.1",
        ConnectPolicy {
            negative_cache: Some(Duration::from_secs(60)),
            san_deadline: Some(Duration::from_millis(500)),
        },
    );
    let mut beta = on(1, "10.1.0.9", ConnectPolicy::default());
    let l = beta
        .switch
        .socket(&mut beta.tcp, AddressFamily::INET, SocketKind::Stream)
        .unwrap();
    beta.switch
        .bind(&mut beta.tcp, l, addr("0.0.0.0:80"))
        .unwrap();
    beta.switch
        .listen(&mut beta.tcp, l, 5, spi_types::ConditionResult::Accept)
        .unwrap();
    assert_eq!(h.switch.poll_timeout(), None);
    h.switch.handle_timeout(&mut h.tcp, Duration::from_secs(1));
    let (s, status) = h.connect("10.1.0.9:80");
    assert_eq!(status, ConnectStatus::Pending);
    assert_eq!(h.switch.poll_timeout(), Some(Duration::from_millis(1_500)));
    h.switch
        .handle_timeout(&mut h.tcp, Duration::from_millis(1_499));
    assert!(h.switch.connection(s).is_none(), "still waiting");
    h.switch
        .handle_timeout(&mut h.tcp, Duration::from_millis(1_500));
    let events: Vec<_> = std::iter::from_fn(|| h.switch.poll()).collect();
    let connected = events.iter().find_map(|e| match e {
        SwitchEvent::Connected { socket, result } => Some((*socket, *result)),
        _ => None,
    });
    let (socket, result) = connected.expect("the connect finished");
    assert_eq!(socket, s);
    assert_eq!(result.result, Ok(Via::Tcp));
    assert_eq!(result.reason.code(), "san_deadline");
    // The switch asked the provider first (the connect had not finished), then closed the
    // companion socket.
    let calls = h.loader.log().calls_of("san");
    assert_eq!(
        &calls[calls.len() - 2..],
        [Call::EnumNetworkEvents, Call::CloseSocket]
    );
    assert_eq!(h.tcp.connects(), [addr("10.1.0.9:80")]);
    // The negative-cache entry's expiry is the next timeout.
    assert_eq!(h.switch.poll_timeout(), Some(Duration::from_millis(61_500)));
    assert_eq!(h.code("10.1.0.9:80"), "negative_cache");
    h.switch
        .handle_timeout(&mut h.tcp, Duration::from_millis(61_500));
    assert_eq!(h.switch.poll_timeout(), None);
    assert_eq!(h.switch.footprint().negative_cache, 0);
}

#[test]
fn san_deadline_a_connect_finished_but_not_yet_signalled_is_kept_on_the_san() {
    let policy = ConnectPolicy {
        negative_cache: None,
        san_deadline: Some(Duration::from_millis(500)),
    };
    // The mock's pending connect has completed by the time anyone asks.
    let mut h = host(policy, |c| c.connect_pending = true);
    let (s, status) = h.connect("10.1.0.9:80");
    assert_eq!(status, ConnectStatus::Pending);
    h.switch
        .handle_timeout(&mut h.tcp, Duration::from_millis(500));
    assert_eq!(h.switch.connection(s).unwrap().0, Via::San(ProviderId(0)));
    assert!(h.tcp.connects().is_empty(), "no second connection over TCP");
}

#[test]
fn san_deadline_a_connect_that_finishes_in_time_drops_its_deadline() {
    let policy = ConnectPolicy {
        negative_cache: None,
        san_deadline: Some(Duration::from_millis(500)),
    };
    let mut h = host(policy, |c| c.connect_pending = true);
    let (s, _) = h.connect("10.1.0.9:80");
    let ev = std::iter::from_fn(|| h.switch.poll())
        .find_map(|e| match e {
            SwitchEvent::Watch(ev) => Some(ev),
            _ => None,
        })
        .unwrap();
    assert!(h.switch.poll_timeout().is_some());
    h.switch.handle_event(&mut h.tcp, ev);
    assert_eq!(h.switch.poll_timeout(), None);
    h.switch.handle_timeout(&mut h.tcp, Duration::from_secs(5));
    assert_eq!(h.switch.connection(s).unwrap().0, Via::San(ProviderId(0)));
    assert!(h.tcp.connects().is_empty());
}

#[test]
fn connect_stats_count_every_finished_connect_per_reason() {
    let mut h = host(ConnectPolicy::default(), |c| {
        c.connect_errors
            .insert("10.1.0.9".parse().unwrap(), WsaError::WSAETIMEDOUT);
        c.connect_errors
            .insert("10.1.0.8".parse().unwrap(), WsaError::WSAECONNREFUSED);
    });
    h.code("10.1.0.9:80");
    h.code("10.1.0.8:80");
    h.code("10.1.0.7:80");
    h.code("192.0.2.1:80");
    let stats = h.switch.connect_stats().clone();
    assert_eq!(stats.san, 1);
    assert_eq!(stats.tcp, 2);
    assert_eq!(stats.failed, 1);
    assert_eq!(stats.by_reason.get("san_connect_failed"), Some(&1));
    assert_eq!(stats.by_reason.get("san_connect_fatal"), Some(&1));
    assert_eq!(stats.by_reason.get("route_match"), Some(&1));
    assert_eq!(stats.by_reason.get("no_route"), Some(&1));
    assert_eq!(stats.by_reason.values().sum::<u64>(), 4);
}
