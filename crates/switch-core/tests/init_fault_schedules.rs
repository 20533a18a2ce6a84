//! Initialization under random fault schedules (INIT-2a, INIT-3, INIT-4, INIT-6): 1 to 8 mock
//! providers, each with a random mix of startup errors, versions, socket errors, address-list
//! faults, extension answers, injected panics, cleanup errors, visibility and load failures,
//! checked against an independent reference model of which providers must end up ready.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Once;

use ipnet::IpNet;
use mock_provider::{AddressFault, CallLog, MockCatalog, MockConfig, MockLoader};
use proptest::prelude::*;
use spi_types::{SanExtension, WinsockVersion, WsaError};
use switch_core::report::{Diagnostic, wsa_name};
use switch_core::trace::{Call, CallResult};
use switch_core::{
    ProviderId, ProviderState, RouteTarget, SocketKind, Switch, SwitchConfig, SwitchReport,
};

/// Silences the messages of the mocks' deliberate panics (this test binary only).
fn silence_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| std::panic::set_hook(Box::new(|_| {})));
}

/// One provider's fault schedule.
#[derive(Debug, Clone)]
struct Schedule {
    load_error: Option<WsaError>,
    startup: Result<(), WsaError>,
    version: WinsockVersion,
    socket: Result<(), WsaError>,
    address_fault: AddressFault,
    extensions: [Result<(), WsaError>; 7],
    panic_at: Option<Call>,
    cleanup: Result<(), WsaError>,
    hidden: bool,
}

/// What the reference model says about one provider.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Expected {
    ready: bool,
    /// `WSPStartupEx` succeeded.
    started: bool,
    /// `WSPSocket` answered a socket.
    socket_open: bool,
    /// The step and code of the rejection.
    rejection: Option<(Call, String)>,
}

/// The independent reference model: walks the seed's steps in order and stops at the first
/// one the schedule makes fail (a panic injected into a call that is reached, an error, a bad
/// version, a bad address list, a missing mandatory extension).
fn model(s: &Schedule) -> Expected {
    let mut e = Expected {
        ready: false,
        started: false,
        socket_open: false,
        rejection: None,
    };
    let reject = |mut e: Expected, call: Call, code: String| {
        e.rejection = Some((call, code));
        e
    };
    let panics = |call: Call| s.panic_at == Some(call);
    let panicked = || "provider_panicked".to_owned();

    if let Some(err) = s.load_error {
        return reject(e, Call::StartupEx, wsa_name(err));
    }
    if panics(Call::StartupEx) {
        return reject(e, Call::StartupEx, panicked());
    }
    if let Err(err) = s.startup {
        return reject(e, Call::StartupEx, wsa_name(err));
    }
    e.started = true;
    if s.version != WinsockVersion::V2_2 {
        return reject(e, Call::StartupEx, "version_mismatch".into());
    }
    if panics(Call::Socket) {
        return reject(e, Call::Socket, panicked());
    }
    if let Err(err) = s.socket {
        return reject(e, Call::Socket, wsa_name(err));
    }
    e.socket_open = true;
    if panics(Call::AddressListQuery) {
        return reject(e, Call::AddressListQuery, panicked());
    }
    let address_code = match &s.address_fault {
        AddressFault::None | AddressFault::TooSmallOnce => None,
        AddressFault::TooSmallAlways => Some("address_list_retries_exhausted".to_owned()),
        AddressFault::Garbage
        | AddressFault::WrongFamily
        | AddressFault::ImpossibleCount
        | AddressFault::PointerOutside => Some("address_list_invalid".to_owned()),
        AddressFault::Error(err) => Some(wsa_name(*err)),
    };
    if let Some(code) = address_code {
        return reject(e, Call::AddressListQuery, code);
    }
    for (ext, answer) in SanExtension::ALL.into_iter().zip(s.extensions) {
        let call = Call::GetExtension(ext);
        if panics(call) {
            return reject(e, call, panicked());
        }
        if answer.is_err() && ext.is_mandatory() {
            return reject(e, call, "missing_extension".into());
        }
    }
    e.ready = true;
    e
}

fn name_of(i: usize) -> String {
    format!("san-{i}")
}

/// Provider `i`'s NIC addresses (two, in 10.(i+1).0.0/16).
fn addresses_of(i: usize) -> Vec<IpAddr> {
    (1..=2)
        .map(|h| IpAddr::V4(Ipv4Addr::new(10, i as u8 + 1, 0, h)))
        .collect()
}

fn subnet_of(i: usize) -> IpNet {
    format!("10.{}.0.0/16", i + 1).parse().unwrap()
}

fn config_of(i: usize, s: &Schedule) -> MockConfig {
    let mut c = MockConfig::generic(&name_of(i))
        .with_startup(s.startup)
        .with_version(s.version)
        .with_socket(s.socket)
        .with_addresses(addresses_of(i))
        .with_address_fault(s.address_fault)
        .with_cleanup(s.cleanup);
    for (ext, answer) in SanExtension::ALL.into_iter().zip(s.extensions) {
        c = c.with_extension(ext, answer);
    }
    if let Some(call) = s.panic_at {
        c = c.with_panic_at(call);
    }
    c
}

/// The catalog and loader for a list of schedules (provider `i` is `san-i`).
fn setup(schedules: &[Schedule]) -> (MockCatalog, MockLoader) {
    let mut catalog = MockCatalog::with_tcpip();
    let mut loader = MockLoader::new();
    for (i, s) in schedules.iter().enumerate() {
        let config = config_of(i, s);
        catalog.install(&config.name, config.guid, s.hidden, true);
        if let Some(err) = s.load_error {
            loader.fail_load(config.guid, err);
        }
        loader.add(config);
    }
    (catalog, loader)
}

/// How many `WSPStartupEx` calls of provider `id` the trace records as successful.
fn started_in_trace(switch: &Switch, id: ProviderId) -> usize {
    switch
        .trace()
        .iter()
        .filter(|e| e.provider == id && e.call == Call::StartupEx && e.result == CallResult::Ok)
        .count()
}

/// Checks the report and the calls made after `initialize` against the model.
fn check_initialized(
    schedules: &[Schedule],
    switch: &Switch,
    report: &SwitchReport,
    log: &CallLog,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(report.providers.len(), schedules.len());
    for (i, s) in schedules.iter().enumerate() {
        let name = name_of(i);
        let exp = model(s);
        let p = &report.providers[i];
        prop_assert_eq!(&p.name, &name);
        prop_assert_eq!(p.id, ProviderId(i as u32));

        let want_state = if exp.ready {
            ProviderState::Ready
        } else {
            ProviderState::Rejected
        };
        prop_assert_eq!(p.state, want_state, "{} {:?}", name, p.reason);
        let got_rejection = p.reason.as_ref().map(|r| (r.step, r.code()));
        prop_assert_eq!(&got_rejection, &exp.rejection, "{}", name);

        // Started according to the trace and according to the model.
        let started = started_in_trace(switch, p.id);
        prop_assert_eq!(started, usize::from(exp.started), "{}", name);
        prop_assert_eq!(
            log.count(&name, Call::StartupEx),
            usize::from(s.load_error.is_none())
        );

        // Exactly one cleanup for a started provider that was rejected, none while ready or
        // never started; the query socket closed iff it was opened and the provider rejected.
        let want_cleanups = usize::from(exp.started && !exp.ready);
        prop_assert_eq!(log.count(&name, Call::Cleanup), want_cleanups, "{}", name);
        prop_assert_eq!(p.cleaned_up, want_cleanups == 1, "{}", name);
        let want_closes = usize::from(exp.socket_open && !exp.ready);
        prop_assert_eq!(log.count(&name, Call::CloseSocket), want_closes, "{}", name);

        // Initialization makes none of the connection calls.
        for call in [
            Call::Bind,
            Call::Listen,
            Call::Connect,
            Call::Accept,
            Call::EventSelect,
            Call::EnumNetworkEvents,
            Call::SetSockOpt,
        ] {
            prop_assert_eq!(log.count(&name, call), 0, "{} {}", name, call);
        }
        if s.load_error.is_some() {
            prop_assert!(log.calls_of(&name).is_empty());
        }

        if exp.ready {
            prop_assert_eq!(&p.addresses, &addresses_of(i));
            prop_assert_eq!(p.version, Some(WinsockVersion::V2_2));
            for (ext, answer) in SanExtension::ALL.into_iter().zip(s.extensions) {
                prop_assert_eq!(p.extensions.contains(ext), answer.is_ok(), "{:?}", ext);
            }
        }

        // TCP always works; a ready provider serves its subnet, a rejected one none.
        let dest = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, i as u8 + 1, 7, 7)), 80);
        let want_target = if exp.ready {
            RouteTarget::San(p.id)
        } else {
            RouteTarget::Tcp
        };
        prop_assert_eq!(
            switch.decide_connect(dest, SocketKind::Stream).target,
            want_target
        );

        let not_hidden = report
            .diagnostics
            .iter()
            .any(|d| matches!(d, Diagnostic::ProviderNotHidden { name: n, .. } if *n == name));
        prop_assert_eq!(not_hidden, !s.hidden, "{}", name);
    }
    let ready = schedules.iter().filter(|s| model(s).ready).count();
    prop_assert_eq!(report.routes.len(), ready);
    Ok(())
}

/// Checks that after `shutdown` every started provider was cleaned up exactly once in total.
fn check_shut_down(
    schedules: &[Schedule],
    report: &SwitchReport,
    log: &CallLog,
) -> Result<(), TestCaseError> {
    for (i, s) in schedules.iter().enumerate() {
        let name = name_of(i);
        let exp = model(s);
        let p = &report.providers[i];
        prop_assert_eq!(
            log.count(&name, Call::Cleanup),
            usize::from(exp.started),
            "{}",
            name
        );
        prop_assert_eq!(
            log.count(&name, Call::CloseSocket),
            usize::from(exp.socket_open),
            "{}",
            name
        );
        prop_assert_eq!(p.cleaned_up, exp.started, "{}", name);
        let want = if exp.ready {
            ProviderState::Retired
        } else {
            ProviderState::Rejected
        };
        prop_assert_eq!(p.state, want, "{}", name);
    }
    prop_assert!(report.routes.is_empty());
    Ok(())
}

fn wsa_error() -> impl Strategy<Value = WsaError> {
    prop_oneof![
        Just(WsaError::WSAENETDOWN),
        Just(WsaError::WSAENOBUFS),
        Just(WsaError::WSAEINVAL),
        Just(WsaError::from_code(12_345)),
    ]
}

fn result(ok_weight: u32) -> impl Strategy<Value = Result<(), WsaError>> {
    prop_oneof![ok_weight => Just(Ok(())), 1 => wsa_error().prop_map(Err)]
}

fn extension_answer() -> impl Strategy<Value = Result<(), WsaError>> {
    prop_oneof![
        12 => Just(Ok(())),
        1 => Just(Err(WsaError::WSAEOPNOTSUPP)),
        1 => Just(Err(WsaError::WSAEINVAL)),
        1 => wsa_error().prop_map(Err),
    ]
}

fn address_fault() -> impl Strategy<Value = AddressFault> {
    prop_oneof![
        6 => Just(AddressFault::None),
        3 => Just(AddressFault::TooSmallOnce),
        1 => Just(AddressFault::TooSmallAlways),
        1 => Just(AddressFault::Garbage),
        1 => Just(AddressFault::WrongFamily),
        1 => Just(AddressFault::ImpossibleCount),
        1 => Just(AddressFault::PointerOutside),
        1 => prop_oneof![Just(WsaError::WSAEFAULT), wsa_error()].prop_map(AddressFault::Error),
    ]
}

fn schedule() -> impl Strategy<Value = Schedule> {
    let startup = prop_oneof![
        6 => Just(Ok(())),
        1 => Just(Err(WsaError::WSAVERNOTSUPPORTED)),
        1 => Just(Err(WsaError::WSASYSNOTREADY)),
        1 => Just(Err(WsaError::WSAEPROVIDERFAILEDINIT)),
    ];
    let version = prop_oneof![
        6 => Just(WinsockVersion::V2_2),
        1 => Just(WinsockVersion::new(2, 0)),
        1 => Just(WinsockVersion::new(3, 0)),
    ];
    let panic_at = prop_oneof![
        3 => Just(None),
        1 => proptest::sample::select(Call::all()).prop_map(Some),
    ];
    let load_error = prop_oneof![
        10 => Just(None),
        1 => prop_oneof![
            Just(WsaError::WSAEPROVIDERFAILEDINIT),
            Just(WsaError::WSAEINVALIDPROVIDER)
        ]
        .prop_map(Some),
    ];
    (
        (load_error, startup, version, result(8)),
        address_fault(),
        proptest::array::uniform7(extension_answer()),
        (panic_at, result(3), any::<bool>()),
    )
        .prop_map(
            |(
                (load_error, startup, version, socket),
                address_fault,
                extensions,
                (panic_at, cleanup, hidden),
            )| Schedule {
                load_error,
                startup,
                version,
                socket,
                address_fault,
                extensions,
                panic_at,
                cleanup,
                hidden,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn init_6_random_fault_schedules_match_the_reference_model(
        schedules in proptest::collection::vec(schedule(), 1..=8)
    ) {
        silence_panics();
        let (catalog, mut loader) = setup(&schedules);
        let interfaces: Vec<IpNet> = (0..schedules.len()).map(subnet_of).collect();
        let mut switch = Switch::new(SwitchConfig::default());

        let init = catch_unwind(AssertUnwindSafe(|| {
            switch.initialize(&catalog, &mut loader, interfaces)
        }));
        prop_assert!(init.is_ok(), "a panic escaped Switch::initialize");
        let report = init.unwrap();
        check_initialized(&schedules, &switch, &report, loader.log())?;

        let shut = catch_unwind(AssertUnwindSafe(|| switch.shutdown()));
        prop_assert!(shut.is_ok(), "a panic escaped Switch::shutdown");
        check_shut_down(&schedules, &shut.unwrap(), loader.log())?;
    }
}

#[test]
fn init_6_a_panicking_provider_is_isolated() {
    silence_panics();
    let good = |i: usize| MockConfig::generic(&name_of(i)).with_addresses(addresses_of(i));
    let configs = [
        good(0),
        good(1).with_panic_at(Call::StartupEx),
        good(2).with_panic_at(Call::Socket),
        good(3),
    ];
    let mut catalog = MockCatalog::with_tcpip();
    let mut loader = MockLoader::new();
    for c in &configs {
        catalog.install_mock(c);
        loader.add(c.clone());
    }
    let interfaces: Vec<IpNet> = (0..configs.len()).map(subnet_of).collect();
    let mut switch = Switch::new(SwitchConfig::default());
    let report = switch.initialize(&catalog, &mut loader, interfaces);
    let log = loader.log();

    let states: Vec<ProviderState> = report.providers.iter().map(|p| p.state).collect();
    assert_eq!(
        states,
        [
            ProviderState::Ready,
            ProviderState::Rejected,
            ProviderState::Rejected,
            ProviderState::Ready
        ]
    );
    for (i, step) in [(1, Call::StartupEx), (2, Call::Socket)] {
        let p = &report.providers[i];
        let reason = p.reason.as_ref().unwrap();
        assert_eq!(reason.code(), "provider_panicked", "{}", p.name);
        assert_eq!(reason.step, step, "{}", p.name);
        assert_eq!(
            switch
                .trace()
                .iter()
                .filter(|e| e.provider == p.id && e.result == CallResult::Panic)
                .map(|e| e.call)
                .collect::<Vec<_>>(),
            vec![step]
        );
    }
    // A panic inside WSPStartupEx is a failed startup: nothing more is called.
    assert_eq!(log.calls_of(&name_of(1)), vec![Call::StartupEx]);
    assert!(!report.providers[1].cleaned_up);
    // A panic inside WSPSocket after a good startup: no socket to close, one cleanup.
    assert_eq!(
        log.calls_of(&name_of(2)),
        vec![Call::StartupEx, Call::Socket, Call::Cleanup]
    );
    assert!(report.providers[2].cleaned_up);

    // The others are untouched and serve their subnets; everything else goes to TCP.
    for i in [0, 3] {
        let p = &report.providers[i];
        assert_eq!(p.reason, None);
        assert_eq!(p.addresses, addresses_of(i));
        assert_eq!(log.count(&name_of(i), Call::Cleanup), 0);
        let dest = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, i as u8 + 1, 9, 9)), 80);
        assert_eq!(
            switch.decide_connect(dest, SocketKind::Stream).target,
            RouteTarget::San(p.id)
        );
    }
    for i in [1, 2] {
        let dest = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, i as u8 + 1, 9, 9)), 80);
        assert_eq!(
            switch.decide_connect(dest, SocketKind::Stream).target,
            RouteTarget::Tcp
        );
    }
    assert_eq!(
        report
            .routes
            .iter()
            .map(|r| (r.subnet, r.provider))
            .collect::<Vec<_>>(),
        vec![(subnet_of(0), ProviderId(0)), (subnet_of(3), ProviderId(3))]
    );
}
