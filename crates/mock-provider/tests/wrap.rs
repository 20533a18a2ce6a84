//! The provider wrappers ([`FaultInjector`], [`Tracer`]) around mock providers, driven by a real
//! switch through small loaders that wrap what they load: the INIT and ADDR rules see an
//! injected fault exactly as they see the mock's own, and a tracer sees exactly the switch's
//! trace.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};

use mock_provider::{
    AddressFault, CallLog, FaultInjector, FaultPlan, MockCatalog, MockConfig, MockLoader,
    MockProvider, TracedCall, Tracer, When,
};
use spi_types::consts::{SO_MAX_MSG_SIZE, SOL_SOCKET};
use spi_types::{
    AddressFamily, IoctlCode, MemoryAccess, Protocol, ProtocolInfo, SanExtension, SocketFlags,
    SocketType, WinsockVersion, WsaError,
};
use switch_core::catalog::CatalogEntry;
use switch_core::memory::{Buffer, MemoryRange, WsaBufEx};
use switch_core::provider::{
    ExtensionHandle, IoctlFailure, Overlapped, ProviderLoader, ProviderSocket, SanProvider,
};
use switch_core::report::{ProviderState, SwitchReport};
use switch_core::trace::{Call, CallResult};
use switch_core::upcall::UpcallTable;
use switch_core::{Switch, SwitchConfig};

type Wrap = Box<dyn FnMut(&MockConfig, MockProvider) -> Box<dyn SanProvider>>;

/// A loader that makes a [`MockProvider`] for each configuration it holds (as
/// [`MockLoader`] does) and hands the switch whatever `wrap` makes of it.
struct WrappingLoader {
    configs: Vec<MockConfig>,
    log: CallLog,
    wrap: Wrap,
}

impl WrappingLoader {
    fn new(
        configs: &[MockConfig],
        wrap: impl FnMut(&MockConfig, MockProvider) -> Box<dyn SanProvider> + 'static,
    ) -> Self {
        WrappingLoader {
            configs: configs.to_vec(),
            log: CallLog::new(),
            wrap: Box::new(wrap),
        }
    }
}

impl ProviderLoader for WrappingLoader {
    fn load(&mut self, entry: &CatalogEntry) -> Result<Box<dyn SanProvider>, WsaError> {
        let config = self
            .configs
            .iter()
            .find(|c| c.guid == entry.guid())
            .cloned()
            .ok_or(WsaError::WSAEPROVIDERFAILEDINIT)?;
        let mock = MockProvider::new(config.clone(), self.log.clone());
        Ok((self.wrap)(&config, mock))
    }
}

/// Fault plans by provider name: the handles a test keeps while the switch owns the
/// injectors.
#[derive(Default)]
struct Plans(BTreeMap<String, FaultPlan>);

impl Plans {
    fn of(&mut self, name: &str) -> &FaultPlan {
        self.0.entry(name.to_owned()).or_default()
    }
}

/// A loader wrapping every mock in a `FaultInjector` with its name's plan.
fn injecting(configs: &[MockConfig], plans: &Plans) -> WrappingLoader {
    let plans = plans.0.clone();
    WrappingLoader::new(configs, move |config, mock| {
        let plan = plans.get(&config.name).cloned().unwrap_or_default();
        Box::new(FaultInjector::new(mock).with_plan(plan))
    })
}

/// Everything the traces of several tracers reported, tagged with the provider's name.
type Seen = Arc<Mutex<Vec<(String, TracedCall)>>>;

/// A sink that records into `seen` under `name`.
fn recorder(seen: &Seen, name: &str) -> impl FnMut(&TracedCall) + Send + 'static {
    let seen = seen.clone();
    let name = name.to_owned();
    move |c: &TracedCall| seen.lock().unwrap().push((name.clone(), *c))
}

fn catalog(configs: &[MockConfig]) -> MockCatalog {
    let mut catalog = MockCatalog::with_tcpip();
    for c in configs {
        catalog.install_mock(c);
    }
    catalog
}

fn initialize(
    configs: &[MockConfig],
    loader: &mut dyn ProviderLoader,
    interfaces: &[&str],
) -> (Switch, SwitchReport) {
    let mut switch = Switch::new(SwitchConfig::default());
    let report = switch.initialize(
        &catalog(configs),
        loader,
        interfaces.iter().map(|s| s.parse().unwrap()).collect(),
    );
    (switch, report)
}

/// The same switch run with the providers' own settings: a plain [`MockLoader`].
fn initialize_plain(configs: &[MockConfig], interfaces: &[&str]) -> (Switch, SwitchReport) {
    let mut loader = MockLoader::new();
    for c in configs {
        loader.add(c.clone());
    }
    initialize(configs, &mut loader, interfaces)
}

/// The switch's trace as a tracer reports it.
fn switch_trace(switch: &Switch) -> Vec<(String, TracedCall)> {
    switch
        .trace()
        .iter()
        .map(|e| {
            (
                e.provider_name.to_string(),
                TracedCall {
                    call: e.call,
                    result: e.result,
                },
            )
        })
        .collect()
}

fn good(name: &str, addr: &str) -> MockConfig {
    MockConfig::generic(name).with_addresses([addr.parse().unwrap()])
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

// ---------------------------------------------------------------------------------------------
// The fault plan on its own
// ---------------------------------------------------------------------------------------------

#[test]
fn when_selects_calls_by_their_one_based_number() {
    let picked = |w: When| -> Vec<u64> { (1..=7).filter(|&n| w.applies(n)).collect() };
    assert_eq!(picked(When::Always), [1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(picked(When::Nth(3)), [3]);
    assert_eq!(picked(When::Nth(0)), Vec::<u64>::new());
    assert_eq!(picked(When::Every(3)), [3, 6]);
    assert_eq!(picked(When::Every(0)), Vec::<u64>::new());
    assert_eq!(picked(When::After(5)), [6, 7]);
    assert_eq!(picked(When::After(0)), picked(When::Always));
}

fn started(config: MockConfig) -> (FaultInjector<MockProvider>, CallLog) {
    let log = CallLog::new();
    let mut p = FaultInjector::new(MockProvider::new(config, log.clone()));
    p.startup_ex(
        WinsockVersion::V2_2,
        &ProtocolInfo::tcpip(1001),
        Arc::new(UpcallTable::new()),
    )
    .unwrap();
    (p, log)
}

fn open(p: &mut dyn SanProvider) -> Result<ProviderSocket, WsaError> {
    p.socket(
        AddressFamily::INET,
        SocketType::STREAM,
        Protocol::TCP,
        SocketFlags::OVERLAPPED,
    )
}

#[test]
fn each_kind_of_call_is_counted_and_faulted_on_its_own() {
    let (p, log) = started(MockConfig::generic("m"));
    let mut p = p
        .fail(Call::Socket, WsaError::WSAENOBUFS, When::Every(2))
        .fail(Call::Socket, WsaError::WSAEMFILE, When::After(4))
        .panic_at(Call::Bind, When::Nth(2));
    let answers: Vec<Result<(), WsaError>> = (0..6).map(|_| open(&mut p).map(drop)).collect();
    // The first rule that applies decides: Every(2) before After(4).
    assert_eq!(
        answers,
        [
            Ok(()),
            Err(WsaError::WSAENOBUFS),
            Ok(()),
            Err(WsaError::WSAENOBUFS),
            Err(WsaError::WSAEMFILE),
            Err(WsaError::WSAENOBUFS),
        ]
    );
    assert_eq!(p.calls(Call::Socket), 6);
    assert_eq!(p.calls(Call::StartupEx), 1);
    // Faulted calls never reach the mock.
    assert_eq!(log.count("m", Call::Socket), 2);

    let s = ProviderSocket(0x5001);
    let any: std::net::SocketAddr = "0.0.0.0:0".parse().unwrap();
    assert_eq!(p.bind(s, any), Ok(()));
    let panicked = catch_unwind(AssertUnwindSafe(|| p.bind(s, any))).unwrap_err();
    let message = panicked.downcast_ref::<String>().unwrap();
    assert!(message.contains("WSPBind"), "{message}");
    // The plan is still usable after a panic, and its rules can change.
    assert_eq!(p.bind(s, any), Ok(()));
    assert_eq!(p.calls(Call::Bind), 3);
    assert_eq!(log.count("m", Call::Bind), 2);
    p.plan().clear(Call::Socket);
    assert!(open(&mut p).is_ok());
    assert_eq!(p.plan().total_calls(), 1 + 7 + 3);
    assert_eq!(p.into_inner().host(), None);
}

#[test]
fn ioctls_are_named_by_what_they_ask_and_others_pass_through_untouched() {
    let (p, log) = started(MockConfig::generic("m"));
    let seen = Seen::default();
    let mut p = Tracer::new(
        p.fail(
            Call::GetExtension(SanExtension::RdmaRead),
            WsaError::WSAEOPNOTSUPP,
            When::Always,
        ),
        recorder(&seen, "m"),
    );
    let s = open(&mut p).unwrap();
    let mut out = [0u8; 8];
    let mut ask = |p: &mut Tracer<FaultInjector<MockProvider>>, code, input: &[u8]| {
        p.ioctl(s, code, input, &mut out).map_err(|f| f.error)
    };
    let write = SanExtension::RdmaWrite.guid().to_bytes();
    let read = SanExtension::RdmaRead.guid().to_bytes();
    let other = [7u8; 16];
    assert_eq!(
        ask(
            &mut p,
            IoctlCode::SIO_GET_EXTENSION_FUNCTION_POINTER,
            &write
        ),
        Ok(8)
    );
    assert_eq!(
        ask(&mut p, IoctlCode::SIO_GET_EXTENSION_FUNCTION_POINTER, &read),
        Err(WsaError::WSAEOPNOTSUPP)
    );
    let unknown_guid = ask(
        &mut p,
        IoctlCode::SIO_GET_EXTENSION_FUNCTION_POINTER,
        &other,
    );
    let unknown_code = ask(&mut p, IoctlCode::SIO_GET_QOS, &[]);
    assert!(unknown_guid.is_err() && unknown_code.is_err());
    // Neither unnamed ioctl is traced or counted; the named ones are.
    let calls: Vec<TracedCall> = seen.lock().unwrap().iter().map(|(_, c)| *c).collect();
    assert_eq!(
        calls,
        [
            TracedCall {
                call: Call::Socket,
                result: CallResult::Ok
            },
            TracedCall {
                call: Call::GetExtension(SanExtension::RdmaWrite),
                result: CallResult::Ok
            },
            TracedCall {
                call: Call::GetExtension(SanExtension::RdmaRead),
                result: CallResult::Error(WsaError::WSAEOPNOTSUPP)
            },
        ]
    );
    // StartupEx, Socket and the two extensions.
    assert_eq!(p.inner().plan().total_calls(), 4);
    assert_eq!(
        log.calls_of("m"),
        [
            Call::StartupEx,
            Call::Socket,
            Call::GetExtension(SanExtension::RdmaWrite)
        ]
    );
}

/// Runs every provider method once on `p` (started on `table`), as a data path would; answers
/// each answer, rendered.
fn script(p: &mut dyn SanProvider, table: Arc<UpcallTable>) -> Vec<String> {
    let mut out = Vec::new();
    out.push(format!(
        "{:?}",
        p.startup_ex(WinsockVersion::V2_2, &ProtocolInfo::tcpip(1001), table)
            .map(|a| a.data.version)
    ));
    let s = open(p).unwrap();
    let mut entries = BTreeMap::new();
    for ext in SanExtension::ALL {
        let mut b = [0u8; 8];
        let r = p.ioctl(
            s,
            IoctlCode::SIO_GET_EXTENSION_FUNCTION_POINTER,
            &ext.guid().to_bytes(),
            &mut b,
        );
        out.push(format!("{r:?}"));
        entries.insert(ext, ExtensionHandle(u64::from_le_bytes(b)));
    }
    let entry = |e| entries[&e];
    let mut v = [0u8; 4];
    out.push(format!(
        "{:?} {v:?}",
        p.get_sock_opt(s, SOL_SOCKET, SO_MAX_MSG_SIZE, &mut v)
    ));
    out.push(format!(
        "{:?}",
        p.set_sock_opt(s, SOL_SOCKET, 1, &[1, 0, 0, 0])
    ));
    let buffer = Buffer::zeroed(64);
    let range = MemoryRange::whole(&buffer);
    let access = MemoryAccess::READ | MemoryAccess::WRITE;
    let handle = p
        .register_memory(entry(SanExtension::RegisterMemory), s, &range, access)
        .unwrap();
    let bufs = [WsaBufEx {
        range: range.clone(),
        handle,
    }];
    let ov = Overlapped {
        id: 1,
        poll_only: true,
    };
    out.push(format!("{:?}", p.send(s, &bufs, ov)));
    out.push(format!("{:?}", p.recv(s, &bufs, ov)));
    out.push(format!("{:?}", p.get_overlapped_result(s, ov)));
    let mut descriptor = [0u8; 64];
    let rdma = entry(SanExtension::RegisterRdmaMemory);
    out.push(format!(
        "{:?}",
        p.register_rdma_memory(rdma, s, &range, access, &mut descriptor)
    ));
    let dereg = entry(SanExtension::DeregisterRdmaMemory);
    out.push(format!("{:?}", p.deregister_rdma_memory(dereg, s, &[0; 8])));
    let (w, r) = (
        entry(SanExtension::RdmaWrite),
        entry(SanExtension::RdmaRead),
    );
    out.push(format!("{:?}", p.rdma_write(w, s, &bufs, &[0; 8], 0, ov)));
    out.push(format!("{:?}", p.rdma_read(r, s, &bufs, &[0; 8], 0, ov)));
    let dereg = entry(SanExtension::DeregisterMemory);
    out.push(format!("{:?}", p.deregister_memory(dereg, s, handle)));
    let cache = entry(SanExtension::MemoryRegistrationCacheCallback);
    out.push(format!(
        "{:?}",
        p.memory_registration_cache_callback(cache, range.addr(), range.len)
    ));
    out.push(format!("{:?}", p.close_socket(s)));
    out.push(format!("{:?}", p.cleanup()));
    out
}

#[test]
fn the_wrappers_forward_every_method_the_data_path_included() {
    let bare_log = CallLog::new();
    let mut bare = MockProvider::new(MockConfig::generic("m"), bare_log.clone());
    let bare_table = Arc::new(UpcallTable::new());
    let bare_answers = script(&mut bare, bare_table.clone());

    let log = CallLog::new();
    let seen = Seen::default();
    let mut wrapped = Tracer::new(
        FaultInjector::new(MockProvider::new(MockConfig::generic("m"), log.clone())),
        recorder(&seen, "m"),
    );
    let table = Arc::new(UpcallTable::new());
    let answers = script(&mut wrapped, table.clone());

    // The same answers as the bare mock's, not the trait's WSAEOPNOTSUPP defaults.
    assert_eq!(answers, bare_answers);
    assert!(
        !answers.iter().any(|a| a.contains("WSAEOPNOTSUPP")),
        "{answers:#?}"
    );
    let mock_calls = bare_log.calls_of("m");
    assert_eq!(log.calls_of("m"), mock_calls);
    // The tracer reported every call, in order, the data path included.
    let traced: Vec<Call> = seen.lock().unwrap().iter().map(|(_, c)| c.call).collect();
    assert_eq!(traced, mock_calls);
    assert!(traced.contains(&Call::RdmaRead) && traced.contains(&Call::RegisterMemory));
    let injector = wrapped.into_inner();
    assert_eq!(injector.calls(Call::Send), 1);
    assert_eq!(injector.plan().total_calls(), mock_calls.len() as u64);
    // The up-call table went through: the mock made and closed its socket handle there.
    assert_eq!(table.open_handles(), bare_table.open_handles());
}

#[test]
fn register_rdma_memory_and_ioctls_answer_injected_errors_as_ioctl_failures() {
    let (p, log) = started(MockConfig::generic("m"));
    let mut p = p
        .fail(Call::RegisterRdmaMemory, WsaError::WSAENOBUFS, When::Always)
        .fail(Call::AddressListQuery, WsaError::WSAENETDOWN, When::Nth(1));
    let s = open(&mut p).unwrap();
    let buffer = Buffer::zeroed(8);
    let mut d = [0u8; 64];
    assert_eq!(
        p.register_rdma_memory(
            ExtensionHandle(1),
            s,
            &MemoryRange::whole(&buffer),
            MemoryAccess::READ,
            &mut d
        ),
        Err(IoctlFailure::new(WsaError::WSAENOBUFS))
    );
    let mut out = [0u8; 256];
    assert_eq!(
        p.ioctl(s, IoctlCode::SIO_ADDRESS_LIST_QUERY, &[], &mut out),
        Err(IoctlFailure::new(WsaError::WSAENETDOWN))
    );
    assert!(
        p.ioctl(s, IoctlCode::SIO_ADDRESS_LIST_QUERY, &[], &mut out)
            .is_ok()
    );
    assert_eq!(log.count("m", Call::RegisterRdmaMemory), 0);
    assert_eq!(log.count("m", Call::AddressListQuery), 1);
}

// ---------------------------------------------------------------------------------------------
// INIT-2 / INIT-2a
// ---------------------------------------------------------------------------------------------

#[test]
fn init_2_the_tracer_passes_the_upcall_table_through_unchanged() {
    let configs = [good("a", "10.1.0.1")];
    let seen = Seen::default();
    let s = seen.clone();
    let mut loader = WrappingLoader::new(&configs, move |c, mock| {
        Box::new(Tracer::new(mock, recorder(&s, &c.name)))
    });
    let (switch, report) = initialize(&configs, &mut loader, &[]);
    assert_eq!(state(&report, "a"), ProviderState::Ready);
    let (_, plain) = initialize_plain(&configs, &[]);
    assert_eq!(report.providers, plain.providers);
    // The mock made its query socket's handle through the switch's own table.
    assert_eq!(switch.upcalls().open_handles(), 1);
}

#[test]
fn init_2a_an_injected_startup_error_rejects_without_reaching_the_provider() {
    let configs = [good("a", "10.1.0.1")];
    let mut plans = Plans::default();
    plans
        .of("a")
        .fail(Call::StartupEx, WsaError::WSASYSNOTREADY, When::Always);
    let mut loader = injecting(&configs, &plans);
    let (switch, report) = initialize(&configs, &mut loader, &[]);
    assert_eq!(state(&report, "a"), ProviderState::Rejected);
    assert_eq!(code(&report, "a"), "WSASYSNOTREADY");
    assert_eq!(step(&report, "a"), Call::StartupEx);
    assert!(!report.provider("a").unwrap().cleaned_up);
    assert!(loader.log.calls().is_empty());
    // The switch cannot tell it from the mock's own startup error.
    let own = [good("a", "10.1.0.1").with_startup(Err(WsaError::WSASYSNOTREADY))];
    let (plain, plain_report) = initialize_plain(&own, &[]);
    assert_eq!(switch.trace(), plain.trace());
    assert_eq!(report.providers, plain_report.providers);
}

// ---------------------------------------------------------------------------------------------
// INIT-3 / ADDR-1
// ---------------------------------------------------------------------------------------------

#[test]
fn init_3_an_injected_failure_of_the_second_address_query_rejects_the_provider() {
    // The mock asks for a larger buffer once; the retry is the second query, which fails.
    let configs = [good("a", "10.1.0.1").with_address_fault(AddressFault::TooSmallOnce)];
    let mut plans = Plans::default();
    plans
        .of("a")
        .fail(Call::AddressListQuery, WsaError::WSAENETDOWN, When::Nth(2));
    let mut loader = injecting(&configs, &plans);
    let (switch, report) = initialize(&configs, &mut loader, &[]);
    assert_eq!(state(&report, "a"), ProviderState::Rejected);
    assert_eq!(code(&report, "a"), "WSAENETDOWN");
    assert_eq!(step(&report, "a"), Call::AddressListQuery);
    assert_eq!(plans.of("a").calls(Call::AddressListQuery), 2);
    assert_eq!(loader.log.count("a", Call::AddressListQuery), 1);
    let results: Vec<CallResult> = switch
        .trace()
        .iter()
        .filter(|e| e.call == Call::AddressListQuery)
        .map(|e| e.result)
        .collect();
    assert_eq!(
        results,
        [
            CallResult::Error(WsaError::WSAEFAULT),
            CallResult::Error(WsaError::WSAENETDOWN)
        ]
    );
    // Rejected after a successful startup: the query socket is closed, the provider cleaned up.
    let calls = loader.log.calls_of("a");
    assert_eq!(
        &calls[calls.len() - 2..],
        [Call::CloseSocket, Call::Cleanup]
    );
}

#[test]
fn addr_1_an_injected_failure_of_the_second_address_query_fails_only_that_requery() {
    let configs = [good("a", "10.1.0.1")];
    let mut plans = Plans::default();
    plans
        .of("a")
        .fail(Call::AddressListQuery, WsaError::WSAENETDOWN, When::Nth(2));
    let mut loader = injecting(&configs, &plans);
    let (mut switch, report) = initialize(&configs, &mut loader, &["10.1.0.0/16"]);
    assert_eq!(state(&report, "a"), ProviderState::Ready);
    assert_eq!(report.routes.len(), 1);

    let r = switch.address_changed(None);
    assert_eq!(state(&r, "a"), ProviderState::Ready);
    assert!(r.routes.is_empty());
    assert!(
        r.diagnostics
            .iter()
            .any(|d| d.code() == "address_requery_failed")
    );
    assert_eq!(loader.log.count("a", Call::Cleanup), 0);

    let r = switch.address_changed(None);
    assert_eq!(r.routes.len(), 1, "the third query is not faulted");
    assert_eq!(plans.of("a").calls(Call::AddressListQuery), 3);
    assert_eq!(loader.log.count("a", Call::AddressListQuery), 2);
}

// ---------------------------------------------------------------------------------------------
// INIT-4
// ---------------------------------------------------------------------------------------------

#[test]
fn init_4_an_injected_extension_failure_rejects_as_the_mocks_own_setting_would() {
    for ext in SanExtension::ALL.into_iter().filter(|e| e.is_mandatory()) {
        let configs = [good("a", "10.1.0.1")];
        let mut plans = Plans::default();
        plans.of("a").fail(
            Call::GetExtension(ext),
            WsaError::WSAEOPNOTSUPP,
            When::Always,
        );
        let mut loader = injecting(&configs, &plans);
        let (switch, report) = initialize(&configs, &mut loader, &["10.1.0.0/16"]);
        assert_eq!(state(&report, "a"), ProviderState::Rejected, "{ext}");
        assert_eq!(code(&report, "a"), "missing_extension", "{ext}");
        assert_eq!(step(&report, "a"), Call::GetExtension(ext), "{ext}");
        assert!(report.routes.is_empty());
        assert_eq!(plans.of("a").calls(Call::GetExtension(ext)), 1);
        assert_eq!(loader.log.count("a", Call::GetExtension(ext)), 0);

        let own = [good("a", "10.1.0.1").with_extension(ext, Err(WsaError::WSAEOPNOTSUPP))];
        let (plain, plain_report) = initialize_plain(&own, &["10.1.0.0/16"]);
        assert_eq!(switch.trace(), plain.trace(), "{ext}");
        assert_eq!(report.providers, plain_report.providers, "{ext}");
        assert_eq!(report.diagnostics, plain_report.diagnostics, "{ext}");
    }
}

#[test]
fn init_4_an_injected_optional_extension_failure_keeps_the_provider_without_it() {
    let configs = [good("a", "10.1.0.1")];
    let mut plans = Plans::default();
    plans.of("a").fail(
        Call::GetExtension(SanExtension::RdmaRead),
        WsaError::WSAEOPNOTSUPP,
        When::Always,
    );
    let mut loader = injecting(&configs, &plans);
    let (switch, report) = initialize(&configs, &mut loader, &[]);
    let p = report.provider("a").unwrap();
    assert_eq!(p.state, ProviderState::Ready);
    assert!(!p.extensions.contains(SanExtension::RdmaRead));
    assert!(p.extensions.contains(SanExtension::RdmaWrite));
    assert!(switch.extension(p.id, SanExtension::RdmaRead).is_none());
    let (_, plain) = initialize_plain(&[good("a", "10.1.0.1").without_rdma_read()], &[]);
    assert_eq!(report.providers, plain.providers);
}

#[test]
fn init_4_a_boxed_provider_from_any_loader_is_wrapped_like_a_concrete_one() {
    // What a loader answers, a library-loaded provider included, is a Box<dyn SanProvider>.
    struct Boxing {
        inner: MockLoader,
        plan: FaultPlan,
        seen: Seen,
    }
    impl ProviderLoader for Boxing {
        fn load(&mut self, entry: &CatalogEntry) -> Result<Box<dyn SanProvider>, WsaError> {
            let loaded = self.inner.load(entry)?;
            let config = self.inner.config(entry.guid()).unwrap();
            let name = config.lock().unwrap().name.clone();
            let faulty = FaultInjector::from_box(loaded).with_plan(self.plan.clone());
            Ok(Box::new(Tracer::new(faulty, recorder(&self.seen, &name))))
        }
    }
    let configs = [good("a", "10.1.0.1")];
    let mut inner = MockLoader::new();
    inner.add(configs[0].clone());
    let mut loader = Boxing {
        inner,
        plan: FaultPlan::new(),
        seen: Seen::default(),
    };
    loader.plan.fail(
        Call::GetExtension(SanExtension::RdmaWrite),
        WsaError::WSAEINVAL,
        When::Always,
    );
    let (switch, report) = initialize(&configs, &mut loader, &[]);
    assert_eq!(state(&report, "a"), ProviderState::Rejected);
    assert_eq!(code(&report, "a"), "missing_extension");
    assert_eq!(
        step(&report, "a"),
        Call::GetExtension(SanExtension::RdmaWrite)
    );
    assert_eq!(*loader.seen.lock().unwrap(), switch_trace(&switch));
    assert_eq!(
        loader
            .inner
            .log()
            .count("a", Call::GetExtension(SanExtension::RdmaWrite)),
        0
    );
}

// ---------------------------------------------------------------------------------------------
// INIT-6
// ---------------------------------------------------------------------------------------------

#[test]
fn init_6_an_injected_panic_in_socket_rejects_with_provider_panicked() {
    let configs = [good("a", "10.1.0.1"), good("b", "10.2.0.1")];
    let mut plans = Plans::default();
    plans.of("a").panic_at(Call::Socket, When::Always);
    let mut loader = injecting(&configs, &plans);
    let (switch, report) = initialize(&configs, &mut loader, &["10.0.0.0/8"]);
    assert_eq!(state(&report, "a"), ProviderState::Rejected);
    assert_eq!(code(&report, "a"), "provider_panicked");
    assert_eq!(step(&report, "a"), Call::Socket);
    let reason = report.provider("a").unwrap().reason.clone().unwrap();
    assert!(
        reason.to_string().contains("injected panic in WSPSocket"),
        "{reason}"
    );
    // It panicked after a successful startup: it is still cleaned up, once; the other stays.
    assert_eq!(loader.log.count("a", Call::Cleanup), 1);
    assert_eq!(loader.log.count("a", Call::Socket), 0);
    assert_eq!(state(&report, "b"), ProviderState::Ready);

    let own = [
        good("a", "10.1.0.1").with_panic_at(Call::Socket),
        good("b", "10.2.0.1"),
    ];
    let (plain, plain_report) = initialize_plain(&own, &["10.0.0.0/8"]);
    assert_eq!(switch.trace(), plain.trace());
    assert_eq!(code(&plain_report, "a"), "provider_panicked");
    assert_eq!(report.routes, plain_report.routes);
}

#[test]
fn init_6_a_tracer_sees_exactly_the_switchs_trace_in_order_with_the_same_results() {
    let configs = [
        good("a", "10.1.0.1"),
        good("b", "10.2.0.1"),
        good("c", "10.3.0.1"),
        good("d", "10.4.0.1").with_address_fault(AddressFault::TooSmallOnce),
        good("e", "10.5.0.1"),
        good("f", "10.6.0.1").with_cleanup(Err(WsaError::WSAENETDOWN)),
        good("g", "10.7.0.1").with_panic_at(Call::GetExtension(SanExtension::RdmaRead)),
    ];
    let mut plans = Plans::default();
    plans.of("b").panic_at(Call::Socket, When::Always);
    plans.of("c").fail(
        Call::GetExtension(SanExtension::RdmaWrite),
        WsaError::WSAEINVAL,
        When::Always,
    );
    plans
        .of("e")
        .fail(Call::StartupEx, WsaError::WSAEPROCLIM, When::Always);
    plans
        .of("f")
        .fail(Call::Socket, WsaError::WSAEMFILE, When::Always);
    plans
        .of("a")
        .fail(Call::AddressListQuery, WsaError::WSAENETDOWN, When::Nth(2));
    let seen = Seen::default();
    let mut loader = {
        let plans = plans.0.clone();
        let seen = seen.clone();
        // Tracer<FaultInjector<MockProvider>>: the tracer sees the injected faults too.
        WrappingLoader::new(&configs, move |c, mock| {
            let plan = plans.get(&c.name).cloned().unwrap_or_default();
            let faulty = FaultInjector::new(mock).with_plan(plan);
            Box::new(Tracer::new(faulty, recorder(&seen, &c.name)))
        })
    };
    let (mut switch, report) = initialize(&configs, &mut loader, &["10.0.0.0/8"]);
    assert_eq!(state(&report, "a"), ProviderState::Ready);
    assert_eq!(state(&report, "d"), ProviderState::Ready);
    for rejected in ["b", "c", "e", "f", "g"] {
        assert_eq!(
            state(&report, rejected),
            ProviderState::Rejected,
            "{rejected}"
        );
    }
    switch.address_changed(None);
    switch.shutdown();

    let expected = switch_trace(&switch);
    assert!(expected.len() > 40, "{}", expected.len());
    assert_eq!(*seen.lock().unwrap(), expected);
    // Panics (injected or the mock's own) are reported as such, before they go on.
    let panics: Vec<(String, Call)> = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, c)| c.result == CallResult::Panic)
        .map(|(n, c)| (n.clone(), c.call))
        .collect();
    assert_eq!(
        panics,
        [
            ("b".to_owned(), Call::Socket),
            ("g".to_owned(), Call::GetExtension(SanExtension::RdmaRead))
        ]
    );
}
