//! The INIT, HOT, ADDR and CLOSE rules of the switch, one or more tests per rule, driven through
//! the mock provider.

use std::net::IpAddr;

use ipnet::IpNet;
use mock_provider::{
    AddressFault, CallDetail, MockCatalog, MockConfig, MockLoader, MockTcp, RawAddressList,
};
use spi_types::{
    AddressFamily, Protocol, SanExtension, SocketFlags, SocketType, TCPIP_PROVIDER_GUID,
    WinsockVersion, WsaError,
};
use switch_core::connection::{ConnectStatus, SocketError, SocketId, Via};
use switch_core::report::{Diagnostic, ProviderState, RejectCause, SwitchReport};
use switch_core::routing::{RouteTarget, SocketKind};
use switch_core::session::conn::SessionConfig;
use switch_core::trace::{Call, CallArgs, CallResult};
use switch_core::{Switch, SwitchConfig};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

struct Host {
    switch: Switch,
    catalog: MockCatalog,
    loader: MockLoader,
    report: SwitchReport,
    tcp: MockTcp,
}

impl Host {
    /// A connection from an application socket to `dest`; answers the socket and where the
    /// connection went.
    fn connect(&mut self, dest: &str) -> (SocketId, Result<Via, WsaError>) {
        let s = self
            .switch
            .socket(&mut self.tcp, AddressFamily::INET, SocketKind::Stream)
            .unwrap();
        match self
            .switch
            .connect(&mut self.tcp, s, dest.parse().unwrap())
            .unwrap()
        {
            ConnectStatus::Done(r) => (s, r.result),
            ConnectStatus::Pending => panic!("the mock connects at once"),
        }
    }
}

fn host(configs: Vec<MockConfig>, interfaces: &[&str]) -> Host {
    let mut catalog = MockCatalog::with_tcpip();
    let mut loader = MockLoader::new();
    for c in configs {
        catalog.install_mock(&c);
        loader.add(c);
    }
    let mut switch = Switch::new(SwitchConfig {
        session: SessionConfig::disabled(),
        ..SwitchConfig::default()
    });
    let report = switch.initialize(
        &catalog,
        &mut loader,
        interfaces.iter().map(|s| net(s)).collect(),
    );
    Host {
        switch,
        catalog,
        loader,
        report,
        tcp: MockTcp::new(),
    }
}

fn state(r: &SwitchReport, name: &str) -> ProviderState {
    r.provider(name).unwrap().state
}

fn code(r: &SwitchReport, name: &str) -> String {
    r.provider(name).unwrap().reason.as_ref().unwrap().code()
}

fn step(r: &SwitchReport, name: &str) -> Call {
    r.provider(name).unwrap().reason.as_ref().unwrap().step
}

fn good(name: &str, addr: &str) -> MockConfig {
    MockConfig::generic(name).with_addresses([ip(addr)])
}

// ---------------------------------------------------------------------------------------------
// INIT-1
// ---------------------------------------------------------------------------------------------

#[test]
fn init_1_registered_entries_are_san_providers_in_catalog_order() {
    let a = good("a", "10.1.0.1");
    let b = good("b", "10.2.0.1");
    let c = good("c", "10.3.0.1");
    let mut catalog = MockCatalog::with_tcpip();
    catalog.install_mock(&a);
    catalog.install(&b.name, b.guid, true, false); // installed, not registered
    catalog.install_mock(&c);
    let mut loader = MockLoader::new();
    loader.add(a).add(b).add(c);
    let mut switch = Switch::new(SwitchConfig::default());
    let report = switch.initialize(&catalog, &mut loader, vec![]);

    assert_eq!(state(&report, "a"), ProviderState::Ready);
    assert_eq!(state(&report, "b"), ProviderState::Ignored);
    assert_eq!(state(&report, "c"), ProviderState::Ready);
    let started: Vec<&str> = switch
        .trace()
        .iter()
        .filter(|e| e.call == Call::StartupEx)
        .map(|e| &*e.provider_name)
        .collect();
    assert_eq!(started, ["a", "c"]);
    assert_eq!(loader.log().calls_of("b"), Vec::<Call>::new());
    // The TCP/IP record read from the catalog is the one passed on.
    assert_eq!(switch.tcpip_record().provider_id, TCPIP_PROVIDER_GUID);
    assert_eq!(switch.tcpip_record().catalog_entry_id, 1001);
}

#[test]
fn init_1_registration_without_catalog_entry_is_skipped_with_a_diagnostic() {
    let mut h = host(vec![good("a", "10.1.0.1")], &[]);
    let ghost = mock_provider::guid_for_name("ghost");
    h.catalog
        .add_registration("ghost", ghost.to_bytes().to_vec());
    let report = h.switch.catalog_changed(&h.catalog, &mut h.loader);
    assert!(report.diagnostics.iter().any(|d| matches!(
        d,
        Diagnostic::RegistrationWithoutCatalogEntry { name, guid } if name == "ghost" && *guid == ghost
    )));
    assert_eq!(report.providers.len(), 1);
    assert_eq!(state(&report, "a"), ProviderState::Ready);
}

#[test]
fn init_1_malformed_registration_is_reported_and_skipped() {
    let mut catalog = MockCatalog::with_tcpip();
    catalog.add_registration("short", vec![1, 2, 3]);
    let mut loader = MockLoader::new();
    let mut switch = Switch::new(SwitchConfig::default());
    let report = switch.initialize(&catalog, &mut loader, vec![]);
    let d = report
        .diagnostics
        .iter()
        .find(|d| d.code() == "malformed_registration")
        .unwrap();
    assert!(
        matches!(d, Diagnostic::MalformedRegistration { name, length: 3, .. } if name == "short")
    );
    assert!(report.providers.is_empty());
}

#[test]
fn init_1_entry_without_pfl_hidden_is_used_and_reported() {
    let a = good("a", "10.1.0.1");
    let mut catalog = MockCatalog::with_tcpip();
    catalog.install(&a.name, a.guid, false, true);
    let mut loader = MockLoader::new();
    loader.add(a);
    let mut switch = Switch::new(SwitchConfig::default());
    let report = switch.initialize(&catalog, &mut loader, vec![]);
    assert_eq!(state(&report, "a"), ProviderState::Ready);
    assert!(
        report
            .diagnostics
            .iter()
            .any(|d| d.code() == "provider_not_hidden")
    );
}

#[test]
fn init_1_a_catalog_without_tcpip_uses_the_builtin_record_and_says_so() {
    let a = good("a", "10.1.0.1");
    let mut catalog = MockCatalog::empty();
    catalog.install_mock(&a);
    let mut loader = MockLoader::new();
    loader.add(a);
    let mut switch = Switch::new(SwitchConfig::default());
    let report = switch.initialize(&catalog, &mut loader, vec![]);
    assert!(report.diagnostics.contains(&Diagnostic::TcpipEntryMissing));
    assert_eq!(state(&report, "a"), ProviderState::Ready);
    assert_eq!(switch.tcpip_record().provider_id, TCPIP_PROVIDER_GUID);
}

#[test]
fn init_1_a_provider_that_cannot_be_loaded_is_rejected() {
    let a = good("a", "10.1.0.1");
    let mut catalog = MockCatalog::with_tcpip();
    catalog.install_mock(&a);
    let mut loader = MockLoader::new();
    loader.fail_load(a.guid, WsaError::WSAEPROVIDERFAILEDINIT);
    let mut switch = Switch::new(SwitchConfig::default());
    let report = switch.initialize(&catalog, &mut loader, vec![]);
    assert_eq!(state(&report, "a"), ProviderState::Rejected);
    assert_eq!(code(&report, "a"), "WSAEPROVIDERFAILEDINIT");
    assert!(switch.trace().is_empty());
}

// ---------------------------------------------------------------------------------------------
// INIT-2 / INIT-2a
// ---------------------------------------------------------------------------------------------

#[test]
fn init_2_startup_asks_for_2_2_with_the_tcpip_record_and_the_upcalls() {
    let h = host(vec![good("a", "10.1.0.1")], &[]);
    let calls = h.loader.log().calls();
    let CallDetail::Startup {
        version,
        protocol_info,
    } = &calls[0].detail
    else {
        panic!("first call is not WSPStartupEx: {:?}", calls[0]);
    };
    assert_eq!(calls[0].call, Call::StartupEx);
    assert_eq!(*version, WinsockVersion::V2_2);
    assert_eq!(version.to_word(), 0x0202);
    assert_eq!(**protocol_info, spi_types::ProtocolInfo::tcpip(1001));
    assert_ne!(protocol_info.provider_id, mock_provider::guid_for_name("a"));
    let ev = &h.switch.trace()[0];
    assert_eq!(
        ev.args,
        CallArgs::Startup {
            version: WinsockVersion::V2_2,
            protocol_info: TCPIP_PROVIDER_GUID
        }
    );
    // The provider used the up-calls: its socket got a switch handle.
    assert_eq!(h.switch.upcalls().open_handles(), 1);
    let p = h.report.provider("a").unwrap();
    assert_eq!(p.version, Some(WinsockVersion::V2_2));
    assert_eq!(p.description.as_deref(), Some("a mock SAN provider"));
}

#[test]
fn init_2a_startup_errors_reject_without_cleanup() {
    for e in [
        WsaError::WSASYSNOTREADY,
        WsaError::WSAVERNOTSUPPORTED,
        WsaError::WSAEPROVIDERFAILEDINIT,
        WsaError::WSAEPROCLIM,
    ] {
        let h = host(vec![good("a", "10.1.0.1").with_startup(Err(e))], &[]);
        assert_eq!(state(&h.report, "a"), ProviderState::Rejected);
        assert_eq!(code(&h.report, "a"), e.name().unwrap());
        assert_eq!(step(&h.report, "a"), Call::StartupEx);
        assert_eq!(h.loader.log().calls_of("a"), [Call::StartupEx]);
        assert!(!h.report.provider("a").unwrap().cleaned_up);
    }
}

#[test]
fn init_2a_a_provider_needing_a_higher_version_answers_versnotsupported() {
    let h = host(
        vec![good("a", "10.1.0.1").with_min_version(WinsockVersion::new(3, 0))],
        &[],
    );
    assert_eq!(code(&h.report, "a"), "WSAVERNOTSUPPORTED");
    assert_eq!(h.loader.log().count("a", Call::Cleanup), 0);
}

#[test]
fn init_2a_an_unusable_answered_version_is_rejected_and_cleaned_up_once() {
    for v in [
        WinsockVersion::new(2, 0),
        WinsockVersion::new(2, 1),
        WinsockVersion::new(3, 0),
    ] {
        let h = host(vec![good("a", "10.1.0.1").with_version(v)], &[]);
        assert_eq!(state(&h.report, "a"), ProviderState::Rejected);
        assert_eq!(code(&h.report, "a"), "version_mismatch");
        let r = h.report.provider("a").unwrap().reason.clone().unwrap();
        assert_eq!(
            r.cause,
            RejectCause::VersionMismatch {
                answered: v,
                required: WinsockVersion::V2_2
            }
        );
        assert_eq!(
            h.loader.log().calls_of("a"),
            [Call::StartupEx, Call::Cleanup]
        );
    }
}

#[test]
fn init_2a_a_failing_cleanup_is_still_called_once_and_reported() {
    let h = host(
        vec![
            good("a", "10.1.0.1")
                .with_socket(Err(WsaError::WSAEMFILE))
                .with_cleanup(Err(WsaError::WSAENETDOWN)),
        ],
        &[],
    );
    assert_eq!(code(&h.report, "a"), "WSAEMFILE");
    assert_eq!(step(&h.report, "a"), Call::Socket);
    assert_eq!(h.loader.log().count("a", Call::Cleanup), 1);
    assert!(h.report.diagnostics.iter().any(
        |d| matches!(d, Diagnostic::CleanupFailed { error, .. } if *error == WsaError::WSAENETDOWN)
    ));
}

// ---------------------------------------------------------------------------------------------
// INIT-3 / INIT-3a
// ---------------------------------------------------------------------------------------------

#[test]
fn init_3_the_query_socket_is_a_tcp_stream_overlapped_socket() {
    let h = host(vec![good("a", "10.1.0.1")], &[]);
    let calls = h.loader.log().calls();
    let s = calls.iter().find(|c| c.call == Call::Socket).unwrap();
    assert_eq!(
        s.detail,
        CallDetail::Socket {
            family: AddressFamily::INET,
            socket_type: SocketType::STREAM,
            protocol: Protocol::TCP,
            flags: SocketFlags::OVERLAPPED,
        }
    );
}

#[test]
fn init_3_ipv4_and_ipv6_addresses_are_learned() {
    let a = MockConfig::generic("a").with_addresses([ip("10.1.0.1"), ip("fd00:1::7")]);
    let h = host(vec![a], &[]);
    assert_eq!(
        h.report.provider("a").unwrap().addresses,
        [ip("10.1.0.1"), ip("fd00:1::7")]
    );
}

#[test]
fn init_3_wsaefault_with_a_size_is_retried_with_that_size() {
    // 300 IPv4 addresses need 8 + 32 * 300 = 9608 bytes, more than the first buffer.
    let addrs: Vec<IpAddr> = (0..300u32)
        .map(|i| IpAddr::from([10, 9, (i >> 8) as u8, i as u8]))
        .collect();
    let h = host(
        vec![MockConfig::generic("a").with_addresses(addrs.clone())],
        &[],
    );
    assert_eq!(state(&h.report, "a"), ProviderState::Ready);
    assert_eq!(h.report.provider("a").unwrap().addresses, addrs);
    let queries: Vec<_> = h
        .switch
        .trace()
        .iter()
        .filter(|e| e.call == Call::AddressListQuery)
        .collect();
    assert_eq!(queries.len(), 2);
    assert_eq!(queries[0].result, CallResult::Error(WsaError::WSAEFAULT));
    assert_eq!(
        queries[0].args,
        CallArgs::AddressQuery {
            buffer_len: switch_core::startup::INITIAL_ADDRESS_BUFFER,
            needed: Some(9608)
        }
    );
    assert_eq!(
        queries[1].args,
        CallArgs::AddressQuery {
            buffer_len: 9608,
            needed: None
        }
    );
}

#[test]
fn init_3_too_small_once_is_retried() {
    let h = host(
        vec![good("a", "10.1.0.1").with_address_fault(AddressFault::TooSmallOnce)],
        &[],
    );
    assert_eq!(state(&h.report, "a"), ProviderState::Ready);
    assert_eq!(h.loader.log().count("a", Call::AddressListQuery), 2);
}

#[test]
fn init_3_retries_are_bounded() {
    let h = host(
        vec![good("a", "10.1.0.1").with_address_fault(AddressFault::TooSmallAlways)],
        &[],
    );
    assert_eq!(state(&h.report, "a"), ProviderState::Rejected);
    assert_eq!(code(&h.report, "a"), "address_list_retries_exhausted");
    assert_eq!(
        h.loader.log().count("a", Call::AddressListQuery),
        switch_core::startup::MAX_ADDRESS_QUERY_ATTEMPTS as usize
    );
    let calls = h.loader.log().calls_of("a");
    assert_eq!(
        &calls[calls.len() - 2..],
        [Call::CloseSocket, Call::Cleanup]
    );
}

#[test]
fn init_3_invalid_address_lists_are_rejected_with_what_was_wrong() {
    for (fault, want) in [
        (AddressFault::Garbage, "negative"),
        (AddressFault::WrongFamily, "unknown address family 17"),
        (AddressFault::ImpossibleCount, "cannot fit"),
        (AddressFault::PointerOutside, "outside the buffer"),
    ] {
        let h = host(vec![good("a", "10.1.0.1").with_address_fault(fault)], &[]);
        assert_eq!(state(&h.report, "a"), ProviderState::Rejected, "{fault:?}");
        assert_eq!(code(&h.report, "a"), "address_list_invalid", "{fault:?}");
        let reason = h.report.provider("a").unwrap().reason.clone().unwrap();
        assert!(reason.to_string().contains(want), "{fault:?}: {reason}");
        assert_eq!(h.loader.log().count("a", Call::CloseSocket), 1);
        assert_eq!(h.loader.log().count("a", Call::Cleanup), 1);
    }
}

#[test]
fn init_3_an_address_query_error_rejects_with_its_code() {
    let h = host(
        vec![good("a", "10.1.0.1").with_address_fault(AddressFault::Error(WsaError::WSAENETDOWN))],
        &[],
    );
    assert_eq!(code(&h.report, "a"), "WSAENETDOWN");
    assert_eq!(step(&h.report, "a"), Call::AddressListQuery);
}

#[test]
fn init_3_a_captured_wine_answer_replays_to_its_addresses() {
    let raw = RawAddressList {
        base: 0x1_4000_e040,
        bytes: hex(
            "02000000abababab68e000400100000010000000abababab78e000400100000010000000abababab02000000c0a84d09abababababababab020000000a010203abababababababab",
        ),
    };
    let h = host(vec![MockConfig::generic("a").with_address_raw(raw)], &[]);
    assert_eq!(state(&h.report, "a"), ProviderState::Ready);
    assert_eq!(
        h.report.provider("a").unwrap().addresses,
        [ip("192.168.77.9"), ip("10.1.2.3")]
    );
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn init_3a_the_table_maps_interface_subnets_to_providers() {
    let h = host(
        vec![good("a", "10.1.2.5"), good("b", "10.2.0.9")],
        &["10.1.0.5/16", "10.1.2.5/24", "10.2.0.1/16"],
    );
    let routes: Vec<(String, String)> = h
        .report
        .routes
        .iter()
        .map(|r| {
            let name = &h.report.providers[r.provider.0 as usize].name;
            (r.subnet.to_string(), name.clone())
        })
        .collect();
    // The most specific interface prefix holding the address is the provider's subnet.
    assert_eq!(
        routes,
        [
            ("10.1.2.0/24".to_owned(), "a".to_owned()),
            ("10.2.0.0/16".to_owned(), "b".to_owned())
        ]
    );
    let d = h
        .switch
        .decide_connect("10.1.2.77:80".parse().unwrap(), SocketKind::Stream);
    assert_eq!(
        d.target,
        RouteTarget::San(h.report.provider("a").unwrap().id)
    );
    let d = h
        .switch
        .decide_connect("10.1.3.1:80".parse().unwrap(), SocketKind::Stream);
    assert_eq!(d.target, RouteTarget::Tcp);
}

// ---------------------------------------------------------------------------------------------
// INIT-4
// ---------------------------------------------------------------------------------------------

#[test]
fn init_4_missing_mandatory_extension_rejects_provider() {
    for ext in SanExtension::ALL.into_iter().filter(|e| e.is_mandatory()) {
        let h = host(
            vec![good("a", "10.1.0.1").with_extension(ext, Err(WsaError::WSAEOPNOTSUPP))],
            &["10.1.0.0/16"],
        );
        assert_eq!(state(&h.report, "a"), ProviderState::Rejected, "{ext}");
        assert_eq!(code(&h.report, "a"), "missing_extension");
        assert_eq!(step(&h.report, "a"), Call::GetExtension(ext));
        let calls = h.loader.log().calls_of("a");
        assert_eq!(
            &calls[calls.len() - 2..],
            [Call::CloseSocket, Call::Cleanup]
        );
        assert!(
            h.report.routes.is_empty(),
            "a rejected provider serves no subnet"
        );
    }
}

#[test]
fn init_4_missing_optional_extensions_are_recorded_and_the_provider_stays() {
    let h = host(
        vec![good("a", "10.1.0.1").without_rdma_read().with_extension(
            SanExtension::MemoryRegistrationCacheCallback,
            Err(WsaError::WSAEOPNOTSUPP),
        )],
        &[],
    );
    let p = h.report.provider("a").unwrap();
    assert_eq!(p.state, ProviderState::Ready);
    let have: Vec<(SanExtension, bool)> = p.extensions.iter().collect();
    assert_eq!(
        have,
        [
            (SanExtension::RegisterMemory, true),
            (SanExtension::DeregisterMemory, true),
            (SanExtension::RegisterRdmaMemory, true),
            (SanExtension::DeregisterRdmaMemory, true),
            (SanExtension::RdmaWrite, true),
            (SanExtension::RdmaRead, false),
            (SanExtension::MemoryRegistrationCacheCallback, false),
        ]
    );
    let id = p.id;
    assert!(h.switch.extension(id, SanExtension::RdmaWrite).is_some());
    assert!(h.switch.extension(id, SanExtension::RdmaRead).is_none());
    assert_eq!(
        h.report
            .diagnostics
            .iter()
            .filter(|d| d.code() == "optional_extension_missing")
            .count(),
        2
    );
}

#[test]
fn init_4_every_extension_is_asked_for_by_its_guid_in_order() {
    let h = host(vec![good("a", "10.1.0.1")], &[]);
    let asked: Vec<Call> = h
        .loader
        .log()
        .calls_of("a")
        .into_iter()
        .filter(|c| matches!(c, Call::GetExtension(_)))
        .collect();
    assert_eq!(asked, SanExtension::ALL.map(Call::GetExtension));
}

#[test]
fn init_4_winofed_profile_without_rdma_read_is_ready_without_it() {
    let ib = MockConfig::winofed("ib")
        .without_rdma_read()
        .with_addresses([ip("10.4.0.2"), ip("fd00:4::2")]);
    let h = host(vec![ib], &["10.4.0.0/16"]);
    let p = h.report.provider("ib").unwrap();
    assert_eq!(p.state, ProviderState::Ready);
    assert!(!p.extensions.contains(SanExtension::RdmaRead));
    assert!(
        p.extensions
            .contains(SanExtension::MemoryRegistrationCacheCallback)
    );
    // WinOFED lists IPv4 addresses only.
    assert_eq!(p.addresses, [ip("10.4.0.2")]);
    assert_eq!(p.guid, spi_types::WINOFED_PROVIDER_GUID);
}

// ---------------------------------------------------------------------------------------------
// INIT-5 / INIT-6
// ---------------------------------------------------------------------------------------------

#[test]
fn init_5_every_provider_call_runs_on_the_callers_thread() {
    let h = host(vec![good("a", "10.1.0.1"), good("b", "10.2.0.1")], &[]);
    let me = std::thread::current().id();
    let calls = h.loader.log().calls();
    assert!(calls.len() > 10);
    assert!(calls.iter().all(|c| c.thread == me));
}

#[test]
fn init_6_one_providers_failure_does_not_stop_the_others() {
    let h = host(
        vec![
            good("a", "10.1.0.1").with_startup(Err(WsaError::WSASYSNOTREADY)),
            good("b", "10.2.0.1").with_panic_at(Call::Socket),
            good("c", "10.3.0.1").with_extension(SanExtension::RdmaWrite, Err(WsaError::WSAEINVAL)),
            good("d", "10.4.0.1"),
        ],
        &["10.0.0.0/8"],
    );
    assert_eq!(state(&h.report, "a"), ProviderState::Rejected);
    assert_eq!(state(&h.report, "b"), ProviderState::Rejected);
    assert_eq!(code(&h.report, "b"), "provider_panicked");
    assert_eq!(state(&h.report, "c"), ProviderState::Rejected);
    assert_eq!(state(&h.report, "d"), ProviderState::Ready);
    // b panicked after a successful startup: it is still cleaned up, once.
    assert_eq!(h.loader.log().count("b", Call::Cleanup), 1);
    // TCP always works: a destination nobody serves goes to TCP.
    let d = h
        .switch
        .decide_connect("192.0.2.1:80".parse().unwrap(), SocketKind::Stream);
    assert_eq!(d.target, RouteTarget::Tcp);
    let d = h
        .switch
        .decide_connect("10.4.0.9:80".parse().unwrap(), SocketKind::Stream);
    assert_eq!(
        d.target,
        RouteTarget::San(h.report.provider("d").unwrap().id)
    );
}

#[test]
fn init_6_the_report_says_how_far_each_provider_got() {
    let h = host(
        vec![
            good("a", "10.1.0.1").with_socket(Err(WsaError::WSAENOBUFS)),
            good("b", "10.2.0.1").with_address_fault(AddressFault::Garbage),
        ],
        &[],
    );
    let a = h.report.provider("a").unwrap();
    assert_eq!(a.version, Some(WinsockVersion::V2_2));
    assert_eq!(
        (a.state, step(&h.report, "a")),
        (ProviderState::Rejected, Call::Socket)
    );
    let b = h.report.provider("b").unwrap();
    assert_eq!(step(&h.report, "b"), Call::AddressListQuery);
    assert!(b.addresses.is_empty());
    assert!(b.cleaned_up);
}

// ---------------------------------------------------------------------------------------------
// HOT-1 / HOT-3
// ---------------------------------------------------------------------------------------------

#[test]
fn hot_1_a_newly_registered_provider_is_initialized_on_catalog_change() {
    let mut h = host(vec![good("a", "10.1.0.1")], &["10.1.0.0/16", "10.2.0.0/16"]);
    let b = good("b", "10.2.0.1");
    h.catalog.install_mock(&b);
    h.loader.add(b);
    let report = h.switch.catalog_changed(&h.catalog, &mut h.loader);
    assert_eq!(state(&report, "b"), ProviderState::Ready);
    assert_eq!(
        h.loader.log().count("a", Call::StartupEx),
        1,
        "a is not started again"
    );
    let d = h
        .switch
        .decide_connect("10.2.3.4:80".parse().unwrap(), SocketKind::Stream);
    assert_eq!(d.target, RouteTarget::San(report.provider("b").unwrap().id));
}

#[test]
fn hot_1_an_ignored_entry_that_becomes_registered_is_initialized() {
    let b = good("b", "10.2.0.1");
    let mut catalog = MockCatalog::with_tcpip();
    catalog.install(&b.name, b.guid, true, false);
    let mut loader = MockLoader::new();
    loader.add(b.clone());
    let mut switch = Switch::new(SwitchConfig::default());
    let r = switch.initialize(&catalog, &mut loader, vec![]);
    assert_eq!(state(&r, "b"), ProviderState::Ignored);
    catalog.add_registration("b", b.guid.to_bytes().to_vec());
    let r = switch.catalog_changed(&catalog, &mut loader);
    assert_eq!(state(&r, "b"), ProviderState::Ready);
    assert_eq!(r.providers.len(), 1);
}

#[test]
fn hot_1_an_unchanged_catalog_is_not_read_again() {
    let mut h = host(vec![good("a", "10.1.0.1")], &[]);
    let before = h.switch.trace().len();
    let calls_before = h.loader.log().calls().len();
    h.switch.catalog_changed(&h.catalog, &mut h.loader);
    assert_eq!(h.switch.trace().len(), before);
    assert_eq!(h.loader.log().calls().len(), calls_before);
}

#[test]
fn hot_3_a_removed_provider_without_connections_is_cleaned_up_at_once() {
    let mut h = host(vec![good("a", "10.1.0.1")], &["10.1.0.0/16"]);
    let guid = h.report.provider("a").unwrap().guid;
    h.catalog.remove(guid);
    let r = h.switch.catalog_changed(&h.catalog, &mut h.loader);
    assert_eq!(state(&r, "a"), ProviderState::Retired);
    assert!(r.routes.is_empty());
    let calls = h.loader.log().calls_of("a");
    assert_eq!(
        &calls[calls.len() - 2..],
        [Call::CloseSocket, Call::Cleanup]
    );
    let d = h
        .switch
        .decide_connect("10.1.0.9:80".parse().unwrap(), SocketKind::Stream);
    assert_eq!(d.target, RouteTarget::Tcp);
}

#[test]
fn hot_3_a_removed_provider_keeps_its_connections_until_the_last_closes() {
    let mut h = host(vec![good("a", "10.1.0.1")], &["10.1.0.0/16"]);
    let id = h.report.provider("a").unwrap().id;
    let (one, via) = h.connect("10.1.0.9:80");
    assert_eq!(via, Ok(Via::San(id)));
    let (two, via) = h.connect("10.1.0.10:80");
    assert_eq!(via, Ok(Via::San(id)));
    assert_eq!(h.switch.report().provider("a").unwrap().connections, 2);
    h.catalog.remove(h.report.provider("a").unwrap().guid);
    let r = h.switch.catalog_changed(&h.catalog, &mut h.loader);
    assert_eq!(state(&r, "a"), ProviderState::Retiring);
    assert!(r.routes.is_empty(), "it takes no new connections");
    let (three, via) = h.connect("10.1.0.11:80");
    assert_eq!(via, Ok(Via::Tcp), "a new connect goes to TCP");
    assert_eq!(h.loader.log().count("a", Call::Cleanup), 0);

    h.switch.close(&mut h.tcp, one).unwrap();
    assert_eq!(h.loader.log().count("a", Call::Cleanup), 0);
    assert_eq!(h.switch.report().provider("a").unwrap().connections, 1);
    h.switch.close(&mut h.tcp, two).unwrap();
    assert_eq!(h.loader.log().count("a", Call::Cleanup), 1);
    assert_eq!(state(&h.switch.report(), "a"), ProviderState::Retired);
    // Closing a TCP connection or a socket twice touches no provider; cleanup stays at one.
    h.switch.close(&mut h.tcp, three).unwrap();
    assert_eq!(
        h.switch.close(&mut h.tcp, two),
        Err(SocketError::UnknownSocket(two))
    );
    h.switch.shutdown();
    assert_eq!(h.loader.log().count("a", Call::Cleanup), 1);
    assert_eq!(h.tcp.open_sockets(), 0);
}

// ---------------------------------------------------------------------------------------------
// ADDR-1 / ADDR-2
// ---------------------------------------------------------------------------------------------

#[test]
fn addr_1_an_address_change_requeries_every_ready_provider_and_replaces_the_table() {
    let h = host(
        vec![good("a", "10.1.0.1"), good("b", "10.2.0.1")],
        &["10.0.0.0/8"],
    );
    let mut h = h;
    let shared = h.switch.shared_routes();
    let before = shared.snapshot();
    let a = h.report.provider("a").unwrap().clone();
    h.loader.set_addresses(a.guid, vec![ip("192.168.5.1")]);
    let r = h
        .switch
        .address_changed(Some(vec![net("10.0.0.0/8"), net("192.168.5.0/24")]));
    assert_eq!(h.loader.log().count("a", Call::AddressListQuery), 2);
    assert_eq!(h.loader.log().count("b", Call::AddressListQuery), 2);
    assert_eq!(r.provider("a").unwrap().addresses, [ip("192.168.5.1")]);
    // A reader holding the old table still sees it whole; new loads see the new one.
    assert_eq!(
        before.lookup(ip("10.1.0.1")).map(|r| r.provider),
        Some(a.id)
    );
    let now = shared.load();
    assert_eq!(
        now.lookup(ip("192.168.5.20")).map(|r| r.provider),
        Some(a.id)
    );
    assert_eq!(
        now.lookup(ip("10.1.0.1")).map(|r| r.provider),
        Some(r.provider("b").unwrap().id)
    );
}

#[test]
fn addr_1_a_failed_requery_keeps_the_provider_but_drops_its_routes() {
    let mut h = host(vec![good("a", "10.1.0.1")], &["10.1.0.0/16"]);
    let a = h.report.provider("a").unwrap().clone();
    let cfg = h.loader.config(a.guid).unwrap();
    cfg.lock().unwrap().address_fault = AddressFault::Error(WsaError::WSAENETDOWN);
    let r = h.switch.address_changed(None);
    assert_eq!(state(&r, "a"), ProviderState::Ready);
    assert!(r.routes.is_empty());
    assert!(
        r.diagnostics
            .iter()
            .any(|d| d.code() == "address_requery_failed")
    );
    assert_eq!(h.loader.log().count("a", Call::Cleanup), 0);
    // A later successful query brings the routes back.
    cfg.lock().unwrap().address_fault = AddressFault::None;
    let r = h.switch.address_changed(None);
    assert_eq!(r.routes.len(), 1);
}

#[test]
fn addr_1_a_provider_panicking_in_a_requery_is_rejected_and_cleaned_up() {
    let mut h = host(
        vec![good("a", "10.1.0.1"), good("b", "10.2.0.1")],
        &["10.0.0.0/8"],
    );
    let a = h.report.provider("a").unwrap().clone();
    h.loader.config(a.guid).unwrap().lock().unwrap().panic_at = Some(Call::AddressListQuery);
    let r = h.switch.address_changed(None);
    assert_eq!(state(&r, "a"), ProviderState::Rejected);
    assert_eq!(code(&r, "a"), "provider_panicked");
    assert_eq!(h.loader.log().count("a", Call::Cleanup), 1);
    assert_eq!(state(&r, "b"), ProviderState::Ready);
}

#[test]
fn addr_2_duplicate_addresses_within_and_across_providers_are_reported() {
    let a = MockConfig::generic("a").with_addresses([ip("10.1.0.1"), ip("10.1.0.1")]);
    let b = MockConfig::generic("b").with_addresses([ip("10.1.0.1")]);
    let h = host(vec![a, b], &["10.1.0.0/16"]);
    let dups = h
        .report
        .diagnostics
        .iter()
        .filter(|d| d.code() == "duplicate_address")
        .count();
    assert_eq!(dups, 2);
    // Compared by value: the IPv4-mapped form is the same address.
    let c = MockConfig::generic("c").with_addresses([ip("10.1.0.1"), ip("::ffff:10.1.0.1")]);
    let h = host(vec![c], &["10.1.0.0/16"]);
    assert!(
        h.report
            .diagnostics
            .iter()
            .any(|d| d.code() == "duplicate_address")
    );
}

// ---------------------------------------------------------------------------------------------
// CLOSE-2
// ---------------------------------------------------------------------------------------------

#[test]
fn close_2_shutdown_cleans_up_every_started_provider_once() {
    let mut h = host(
        vec![
            good("a", "10.1.0.1"),
            good("b", "10.2.0.1").with_extension(SanExtension::RdmaWrite, Err(WsaError::WSAEINVAL)),
            good("c", "10.3.0.1").with_startup(Err(WsaError::WSASYSNOTREADY)),
        ],
        &[],
    );
    let r = h.switch.shutdown();
    assert_eq!(h.loader.log().count("a", Call::Cleanup), 1);
    assert_eq!(h.loader.log().count("b", Call::Cleanup), 1);
    assert_eq!(h.loader.log().count("c", Call::Cleanup), 0);
    assert_eq!(state(&r, "a"), ProviderState::Retired);
    assert_eq!(
        h.switch.upcalls().open_handles(),
        0,
        "every socket handle was closed"
    );
    h.switch.shutdown();
    assert_eq!(h.loader.log().count("a", Call::Cleanup), 1);
}

#[test]
fn hot_3_a_retiring_provider_that_comes_back_serves_again() {
    let mut h = host(vec![good("a", "10.1.0.1")], &["10.1.0.0/16"]);
    let a = h.report.provider("a").unwrap().clone();
    let (conn, via) = h.connect("10.1.0.9:80");
    assert_eq!(via, Ok(Via::San(a.id)));
    h.catalog.remove(a.guid);
    let r = h.switch.catalog_changed(&h.catalog, &mut h.loader);
    assert_eq!(state(&r, "a"), ProviderState::Retiring);
    h.catalog.install(&a.name, a.guid, true, true);
    let r = h.switch.catalog_changed(&h.catalog, &mut h.loader);
    assert_eq!(state(&r, "a"), ProviderState::Ready);
    assert_eq!(r.routes.len(), 1);
    assert_eq!(h.loader.log().count("a", Call::StartupEx), 1);
    assert_eq!(h.loader.log().count("a", Call::Cleanup), 0);
    h.switch.close(&mut h.tcp, conn).unwrap();
    assert_eq!(state(&h.switch.report(), "a"), ProviderState::Ready);
    assert_eq!(h.switch.report().provider("a").unwrap().connections, 0);
}

#[test]
fn hot_1_a_retired_provider_that_comes_back_is_initialized_afresh() {
    let mut h = host(vec![good("a", "10.1.0.1")], &["10.1.0.0/16"]);
    let a = h.report.provider("a").unwrap().clone();
    h.catalog.remove(a.guid);
    h.switch.catalog_changed(&h.catalog, &mut h.loader);
    h.catalog.install(&a.name, a.guid, true, true);
    let r = h.switch.catalog_changed(&h.catalog, &mut h.loader);
    assert_eq!(r.providers.len(), 2);
    assert_eq!(r.providers[0].state, ProviderState::Retired);
    assert_eq!(r.providers[1].state, ProviderState::Ready);
    assert_eq!(h.loader.log().count("a", Call::StartupEx), 2);
    assert_eq!(h.loader.log().count("a", Call::Cleanup), 1);
    assert_eq!(h.switch.provider_by_guid(a.guid), Some(r.providers[1].id));
}

#[test]
fn hot_1_a_rejected_provider_that_leaves_and_returns_is_initialized_afresh() {
    let mut h = host(
        vec![good("a", "10.1.0.1").with_startup(Err(WsaError::WSASYSNOTREADY))],
        &["10.1.0.0/16"],
    );
    let a = h.report.provider("a").unwrap().clone();
    h.catalog.remove(a.guid);
    let r = h.switch.catalog_changed(&h.catalog, &mut h.loader);
    assert_eq!(state(&r, "a"), ProviderState::Retired);
    // Fixed meanwhile, and installed again.
    h.loader.config(a.guid).unwrap().lock().unwrap().startup = Ok(());
    h.catalog.install(&a.name, a.guid, true, true);
    let r = h.switch.catalog_changed(&h.catalog, &mut h.loader);
    assert_eq!(r.providers.len(), 2);
    assert_eq!(r.providers[1].state, ProviderState::Ready);
    assert_eq!(h.loader.log().count("a", Call::StartupEx), 2);
}

#[test]
fn hot_3_a_provider_unregistered_while_carrying_connections_comes_back_without_a_restart() {
    let mut h = host(vec![good("a", "10.1.0.1")], &["10.1.0.0/16"]);
    let a = h.report.provider("a").unwrap().clone();
    let (_conn, via) = h.connect("10.1.0.9:80");
    assert_eq!(via, Ok(Via::San(a.id)));
    // The registration goes, the catalog entry stays.
    h.catalog.remove(a.guid);
    h.catalog.install(&a.name, a.guid, true, false);
    let r = h.switch.catalog_changed(&h.catalog, &mut h.loader);
    assert_eq!(state(&r, "a"), ProviderState::Retiring);
    assert_eq!(r.providers.len(), 1, "no second slot for the same provider");
    h.catalog.add_registration("a", a.guid.to_bytes().to_vec());
    let r = h.switch.catalog_changed(&h.catalog, &mut h.loader);
    assert_eq!(r.providers.len(), 1);
    assert_eq!(state(&r, "a"), ProviderState::Ready);
    assert_eq!(h.loader.log().count("a", Call::StartupEx), 1);
    // Its addresses were asked for again when it came back.
    assert_eq!(h.loader.log().count("a", Call::AddressListQuery), 2);
}

#[test]
fn init_4_extension_entry_points_exist_only_while_the_provider_is_usable() {
    let mut h = host(
        vec![
            good("a", "10.1.0.1"),
            good("b", "10.2.0.1").with_extension(SanExtension::RdmaWrite, Err(WsaError::WSAEINVAL)),
        ],
        &[],
    );
    let a = h.report.provider("a").unwrap().clone();
    let b = h.report.provider("b").unwrap().clone();
    assert!(
        h.switch
            .extension(a.id, SanExtension::RegisterMemory)
            .is_some()
    );
    // b answered RegisterMemory before failing, but a rejected provider has no entry points.
    assert!(
        h.switch
            .extension(b.id, SanExtension::RegisterMemory)
            .is_none()
    );
    h.catalog.remove(a.guid);
    h.switch.catalog_changed(&h.catalog, &mut h.loader);
    assert!(
        h.switch
            .extension(a.id, SanExtension::RegisterMemory)
            .is_none()
    );
}

#[test]
fn close_2_shutdown_is_final() {
    let mut h = host(vec![good("a", "10.1.0.1")], &["10.1.0.0/16"]);
    h.switch.shutdown();
    let b = good("b", "10.2.0.1");
    h.catalog.install_mock(&b);
    h.loader.add(b);
    let r = h.switch.catalog_changed(&h.catalog, &mut h.loader);
    assert!(r.provider("b").is_none());
    h.switch.address_changed(None);
    assert_eq!(h.loader.log().count("a", Call::AddressListQuery), 1);
    let d = h
        .switch
        .decide_connect("10.1.0.9:80".parse().unwrap(), SocketKind::Stream);
    assert_eq!(d.target, RouteTarget::Tcp);
}

#[test]
fn close_2_dropping_the_switch_cleans_every_started_provider_up_once() {
    let h = host(vec![good("a", "10.1.0.1"), good("b", "10.2.0.1")], &[]);
    let log = h.loader.log().clone();
    assert_eq!(log.count("a", Call::Cleanup), 0);
    drop(h.switch);
    assert_eq!(log.count("a", Call::Cleanup), 1);
    assert_eq!(log.count("b", Call::Cleanup), 1);
}

#[test]
fn init_3_wsaefault_with_a_size_no_larger_than_the_buffer_is_retried_within_the_bound() {
    // TooSmallOnce answers WSAEFAULT with the right size although the first buffer was large
    // enough: the switch asks again and gets the list.
    let h = host(
        vec![good("a", "10.1.0.1").with_address_fault(AddressFault::TooSmallOnce)],
        &[],
    );
    let q: Vec<&CallArgs> = h
        .switch
        .trace()
        .iter()
        .filter(|e| e.call == Call::AddressListQuery)
        .map(|e| &e.args)
        .collect();
    let first = switch_core::startup::INITIAL_ADDRESS_BUFFER;
    assert_eq!(
        q,
        [
            &CallArgs::AddressQuery {
                buffer_len: first,
                needed: Some(40)
            },
            &CallArgs::AddressQuery {
                buffer_len: first,
                needed: None
            }
        ]
    );
    assert_eq!(state(&h.report, "a"), ProviderState::Ready);
}

#[test]
fn init_3_wsaefault_without_a_size_is_an_error() {
    use switch_core::provider::IoctlFailure;
    use switch_core::startup::{AddressAnswer, AddressProgress, AddressQuery};
    let mut q = AddressQuery::new(spi_types::PointerWidth::Bits64);
    assert_eq!(
        q.on_answer(&AddressAnswer::Failed(IoctlFailure::new(
            WsaError::WSAEFAULT
        ))),
        AddressProgress::Failed(RejectCause::Wsa(WsaError::WSAEFAULT))
    );
}

#[test]
fn init_2_a_finished_machine_takes_no_more_answers() {
    use switch_core::call::{Answer, Finished, NextCall, ProviderMachine};
    use switch_core::startup::InitMachine;
    let mut m = InitMachine::new("a", spi_types::PointerWidth::Bits64);
    assert_eq!(m.next_call(), Some(NextCall::StartupEx));
    m.advance(Answer::Started(Err(WsaError::WSASYSNOTREADY)))
        .unwrap();
    assert_eq!(m.next_call(), None);
    assert_eq!(m.advance(Answer::Closed(Ok(()))), Err(Finished));
    assert_eq!(m.rejection().unwrap().code(), "WSASYSNOTREADY");
    let failure = m.finish().result.unwrap_err();
    assert!(
        !failure.cleaned_up,
        "a provider that never started is not cleaned up"
    );
    assert_eq!(failure.data, None);
}

#[test]
fn init_1_a_registration_naming_tcpip_is_reported_and_tcpip_is_never_started() {
    let mut catalog = MockCatalog::with_tcpip();
    catalog.add_registration("oops", TCPIP_PROVIDER_GUID.to_bytes().to_vec());
    let mut loader = MockLoader::new();
    let mut switch = Switch::new(SwitchConfig::default());
    let report = switch.initialize(&catalog, &mut loader, vec![]);
    assert!(report.providers.is_empty());
    assert!(switch.trace().is_empty());
    assert!(report.diagnostics.iter().any(|d| matches!(
        d,
        Diagnostic::RegistrationNamesTcpip { name } if name == "oops"
    )));
}

#[test]
fn init_3a_many_uncovered_addresses_are_reported_once_each_across_address_changes() {
    // 40 providers x 500 addresses that no interface prefix covers: 20,000 host routes, each a
    // diagnostic. Noting them on every rebuild must not scan the earlier ones (with a scan, the
    // eleven rebuilds below would take about 2 x 10^9 comparisons).
    let configs: Vec<MockConfig> = (0..40u8)
        .map(|p| {
            let list: Vec<IpAddr> = (0..500u16)
                .map(|k| IpAddr::from([10, p, (k / 250) as u8, (k % 250) as u8 + 1]))
                .collect();
            MockConfig::generic(&format!("san-{p}")).with_addresses(list)
        })
        .collect();
    let mut h = host(configs, &[]);
    for _ in 0..10 {
        h.report = h.switch.address_changed(None);
    }
    let host_routes = h
        .report
        .diagnostics
        .iter()
        .filter(|d| d.code() == "host_route")
        .count();
    assert_eq!(host_routes, 20_000);
    assert_eq!(h.report.diagnostics.len(), 20_000);
    assert_eq!(h.report.routes.len(), 20_000);
    // Taken diagnostics are recorded again when noticed again.
    assert_eq!(h.switch.take_diagnostics().len(), 20_000);
    h.report = h.switch.address_changed(None);
    assert_eq!(h.report.diagnostics.len(), 20_000);
}
