//! The exact provider call order of the seed (INIT-2 to INIT-4) for one provider, proven with a
//! strict `mockall` mock whose expectations must happen in one `Sequence`.
//!
//! Every provider call the switch makes runs behind a panic boundary, so a mockall failure
//! (an unexpected call, a call out of order, a call with other arguments) shows up as the
//! provider being rejected with `provider_panicked` and the mock's message; each test therefore
//! also asserts the provider's final state, reason and the switch's trace. Expectation counts
//! (`times(1)`, `never()`) are verified again when the switch drops the mock.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use mock_provider::MockCatalog;
use mockall::Sequence;
use spi_types::address_list::{PointerWidth, encode_address_list_into, required_size};
use spi_types::{
    AddressFamily, ConditionResult, Guid, IoctlCode, NetworkEvents, Protocol, ProtocolInfo,
    SanExtension, SocketFlags, SocketType, WinsockVersion, WsaError, WsaNetworkEvents, WspData,
};
use switch_core::catalog::{Catalog, CatalogEntry};
use switch_core::provider::{
    Accepted, ConditionArgs, EventHandle, ExtensionHandle, IoctlFailure, ProviderLoader,
    ProviderSocket, SanProvider, StartupAnswer, Upcalls,
};
use switch_core::startup::INITIAL_ADDRESS_BUFFER;
use switch_core::trace::{Call, CallArgs, CallResult};
use switch_core::{ProviderId, ProviderState, Switch, SwitchConfig};

mockall::mock! {
    Provider {}

    impl SanProvider for Provider {
        fn startup_ex(
            &mut self,
            version: WinsockVersion,
            protocol_info: &ProtocolInfo,
            upcalls: Arc<dyn Upcalls>,
        ) -> Result<StartupAnswer, WsaError>;
        fn cleanup(&mut self) -> Result<(), WsaError>;
        fn socket(
            &mut self,
            family: AddressFamily,
            socket_type: SocketType,
            protocol: Protocol,
            flags: SocketFlags,
        ) -> Result<ProviderSocket, WsaError>;
        fn bind(&mut self, socket: ProviderSocket, address: SocketAddr) -> Result<(), WsaError>;
        fn listen(&mut self, socket: ProviderSocket, backlog: i32) -> Result<(), WsaError>;
        fn connect(&mut self, socket: ProviderSocket, address: SocketAddr) -> Result<(), WsaError>;
        fn accept(
            &mut self,
            socket: ProviderSocket,
            condition: &mut dyn FnMut(&ConditionArgs) -> ConditionResult,
        ) -> Result<Accepted, WsaError>;
        fn event_select(
            &mut self,
            socket: ProviderSocket,
            event: EventHandle,
            events: NetworkEvents,
        ) -> Result<(), WsaError>;
        fn enum_network_events(
            &mut self,
            socket: ProviderSocket,
            event: Option<EventHandle>,
        ) -> Result<WsaNetworkEvents, WsaError>;
        fn ioctl(
            &mut self,
            socket: ProviderSocket,
            code: IoctlCode,
            input: &[u8],
            output: &mut [u8],
        ) -> Result<usize, IoctlFailure>;
        fn close_socket(&mut self, socket: ProviderSocket) -> Result<(), WsaError>;
    }
}

/// The provider's name in the catalog.
const NAME: &str = "Mocked SAN";
/// The provider's GUID.
const SAN_GUID: Guid = Guid(uuid::Uuid::from_u128(
    0x1234_5678_9ABC_4DEF_8123_4567_89AB_CDEF,
));
/// The socket the mock answers `WSPSocket` with.
const SOCKET: ProviderSocket = ProviderSocket(0xBEEF);
/// How many addresses the mock lists: enough that the first 4 KiB buffer is too small.
const ADDRESS_COUNT: usize = 300;

/// A loader that hands out one mockall mock, once.
struct OneMockLoader {
    mock: Option<MockProvider>,
    loads: usize,
}

impl OneMockLoader {
    fn new(mock: MockProvider) -> Self {
        OneMockLoader {
            mock: Some(mock),
            loads: 0,
        }
    }
}

impl ProviderLoader for OneMockLoader {
    fn load(&mut self, entry: &CatalogEntry) -> Result<Box<dyn SanProvider>, WsaError> {
        assert_eq!(
            entry.guid(),
            SAN_GUID,
            "the loader is asked for the SAN entry only"
        );
        self.loads += 1;
        match self.mock.take() {
            Some(m) => Ok(Box::new(m)),
            None => Err(WsaError::WSAEPROVIDERFAILEDINIT),
        }
    }
}

/// The TCP/IP entry (catalog entry id 1001) and one hidden, registered SAN provider.
fn catalog() -> MockCatalog {
    let mut c = MockCatalog::with_tcpip();
    c.install(NAME, SAN_GUID, true, true);
    c
}

/// The TCP/IP record as the catalog holds it.
fn tcpip_record(c: &MockCatalog) -> ProtocolInfo {
    let tcp: Guid = "{E70F1AA0-AB8B-11CF-8CA3-00805F48A192}".parse().unwrap();
    let e = c
        .entries()
        .into_iter()
        .find(|e| e.guid() == tcp)
        .expect("the catalog has the TCP/IP entry");
    assert_eq!(e.info.catalog_entry_id, 1001);
    e.info
}

/// The provider's NIC addresses: enough that the first 4 KiB buffer is too small.
fn addresses() -> Vec<SocketAddr> {
    (0..ADDRESS_COUNT)
        .map(|i| {
            SocketAddr::new(
                IpAddr::V4(Ipv4Addr::new(10, 7, (i / 250) as u8, (i % 250) as u8 + 1)),
                0,
            )
        })
        .collect()
}

fn startup_answer() -> StartupAnswer {
    StartupAnswer {
        data: WspData {
            version: WinsockVersion::V2_2,
            high_version: WinsockVersion::V2_2,
            description: "mockall SAN provider".to_owned(),
        },
        missing_entry_points: Vec::new(),
    }
}

/// The handle the mock writes for the `i`th extension of `SanExtension::ALL`.
fn handle_of(i: usize) -> u64 {
    0xABC0_0000 + 0x100 * (i as u64 + 1)
}

/// Expects `WSPStartupEx(2.2, TCP/IP record)` answering `answer`.
fn expect_startup(
    mock: &mut MockProvider,
    seq: &mut Sequence,
    record: ProtocolInfo,
    answer: Result<StartupAnswer, WsaError>,
) {
    mock.expect_startup_ex()
        .withf(move |v, info, _| *v == WinsockVersion::new(2, 2) && *info == record)
        .times(1)
        .in_sequence(seq)
        .return_once(move |_, _, _| answer);
}

/// Expects `WSPSocket(AF_INET, SOCK_STREAM, IPPROTO_TCP, WSA_FLAG_OVERLAPPED)`.
fn expect_socket(mock: &mut MockProvider, seq: &mut Sequence) {
    mock.expect_socket()
        .withf(|f, t, p, flags| {
            *f == AddressFamily::INET
                && *t == SocketType::STREAM
                && *p == Protocol::TCP
                && *flags == SocketFlags::OVERLAPPED
        })
        .times(1)
        .in_sequence(seq)
        .returning(|_, _, _, _| Ok(SOCKET));
}

/// Expects one `SIO_ADDRESS_LIST_QUERY` with an output buffer of `len` bytes, answering the
/// list of `addrs` written at the buffer's own address.
fn expect_address_list(
    mock: &mut MockProvider,
    seq: &mut Sequence,
    len: usize,
    addrs: Vec<SocketAddr>,
) {
    mock.expect_ioctl()
        .withf(move |s, code, input, output| {
            *s == SOCKET
                && *code == IoctlCode::SIO_ADDRESS_LIST_QUERY
                && input.is_empty()
                && output.len() == len
        })
        .times(1)
        .in_sequence(seq)
        .returning(move |_, _, _, output| {
            let base = output.as_ptr() as usize as u64;
            encode_address_list_into(&addrs, base, PointerWidth::Bits64, output)
                .map_err(|e| IoctlFailure::new(e.wsa_error()))
        });
}

/// Expects `SIO_GET_EXTENSION_FUNCTION_POINTER` for the `i`th extension (input exactly its
/// GUID's 16 bytes, an 8-byte output buffer), answering `answer` (a handle on success).
fn expect_extension(
    mock: &mut MockProvider,
    seq: &mut Sequence,
    i: usize,
    answer: Result<(), WsaError>,
) {
    let guid = SanExtension::ALL[i].guid().to_bytes();
    mock.expect_ioctl()
        .withf(move |s, code, input, output| {
            *s == SOCKET
                && *code == IoctlCode::SIO_GET_EXTENSION_FUNCTION_POINTER
                && input == guid.as_slice()
                && output.len() == 8
        })
        .times(1)
        .in_sequence(seq)
        .returning(move |_, _, _, output| match answer {
            Ok(()) => {
                output[..8].copy_from_slice(&handle_of(i).to_le_bytes());
                Ok(8)
            }
            Err(e) => Err(IoctlFailure::new(e)),
        });
}

/// The calls of the switch's trace, with their results.
fn trace_calls(switch: &Switch) -> Vec<(Call, CallResult)> {
    switch.trace().iter().map(|e| (e.call, e.result)).collect()
}

#[test]
fn init_2_seed_call_order_for_one_provider() {
    let catalog = catalog();
    let record = tcpip_record(&catalog);
    let addrs = addresses();
    let needed = required_size(&addrs, PointerWidth::Bits64);
    assert!(
        needed > INITIAL_ADDRESS_BUFFER,
        "the first buffer must be too small"
    );

    let mut mock = MockProvider::new();
    let mut seq = Sequence::new();
    expect_startup(&mut mock, &mut seq, record.clone(), Ok(startup_answer()));
    expect_socket(&mut mock, &mut seq);
    // First query: the 4 KiB buffer is too small; WSAEFAULT with the size needed.
    mock.expect_ioctl()
        .withf(|s, code, input, output| {
            *s == SOCKET
                && *code == IoctlCode::SIO_ADDRESS_LIST_QUERY
                && input.is_empty()
                && output.len() == INITIAL_ADDRESS_BUFFER
        })
        .times(1)
        .in_sequence(&mut seq)
        .returning(move |_, _, _, _| {
            Err(IoctlFailure {
                error: WsaError::WSAEFAULT,
                bytes_returned: needed,
            })
        });
    // Second query: a buffer of exactly the size asked for.
    expect_address_list(&mut mock, &mut seq, needed, addrs.clone());
    for i in 0..SanExtension::ALL.len() {
        expect_extension(&mut mock, &mut seq, i, Ok(()));
    }
    // Nothing is closed or cleaned up while the provider is ready (the trace below shows it);
    // shutting down closes the query socket, then cleans up, once each.
    mock.expect_close_socket()
        .withf(|s| *s == SOCKET)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(()));
    mock.expect_cleanup()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|| Ok(()));
    mock.expect_bind().never();
    mock.expect_listen().never();
    mock.expect_connect().never();
    mock.expect_event_select().never();
    mock.expect_enum_network_events().never();

    let mut loader = OneMockLoader::new(mock);
    let mut switch = Switch::new(SwitchConfig::default());
    let report = switch.initialize(&catalog, &mut loader, vec!["10.7.0.0/16".parse().unwrap()]);

    assert_eq!(loader.loads, 1);
    let p = report.provider(NAME).expect("the provider is reported");
    assert_eq!(
        p.reason, None,
        "no step failed (a mockall violation would show here)"
    );
    assert_eq!(p.state, ProviderState::Ready);
    assert_eq!(p.version, Some(WinsockVersion::V2_2));
    assert_eq!(p.description.as_deref(), Some("mockall SAN provider"));
    assert!(!p.cleaned_up);
    assert_eq!(
        p.addresses,
        addrs.iter().map(SocketAddr::ip).collect::<Vec<_>>()
    );
    for (i, ext) in SanExtension::ALL.into_iter().enumerate() {
        assert!(p.extensions.contains(ext), "{ext:?} is recorded");
        assert_eq!(
            switch.extension(p.id, ext),
            Some(ExtensionHandle(handle_of(i))),
            "{ext:?}'s handle is kept"
        );
    }
    assert_eq!(switch.tcpip_record(), &record);

    let mut expected = vec![
        (Call::StartupEx, CallResult::Ok),
        (Call::Socket, CallResult::Ok),
        (
            Call::AddressListQuery,
            CallResult::Error(WsaError::WSAEFAULT),
        ),
        (Call::AddressListQuery, CallResult::Ok),
    ];
    expected.extend(
        SanExtension::ALL
            .into_iter()
            .map(|e| (Call::GetExtension(e), CallResult::Ok)),
    );
    assert_eq!(trace_calls(&switch), expected);
    let t = switch.trace();
    assert_eq!(
        t[0].args,
        CallArgs::Startup {
            version: WinsockVersion::V2_2,
            protocol_info: record.provider_id,
        }
    );
    assert_eq!(
        t[2].args,
        CallArgs::AddressQuery {
            buffer_len: INITIAL_ADDRESS_BUFFER,
            needed: Some(needed),
        }
    );
    assert_eq!(
        t[3].args,
        CallArgs::AddressQuery {
            buffer_len: needed,
            needed: None,
        }
    );
    assert!(t.iter().all(|e| e.provider == ProviderId(0)));

    // CLOSE-2: shutdown closes the socket and cleans up; dropping the switch then does nothing
    // more (the mock checks every `times` when it is dropped).
    let after = switch.shutdown();
    assert!(after.provider(NAME).unwrap().cleaned_up);
    expected.push((Call::CloseSocket, CallResult::Ok));
    expected.push((Call::Cleanup, CallResult::Ok));
    assert_eq!(trace_calls(&switch), expected);
    drop(switch);
}

#[test]
fn init_4_missing_mandatory_extension_closes_socket_then_cleans_up_once() {
    let catalog = catalog();
    let record = tcpip_record(&catalog);
    let addrs = vec![
        "10.7.0.1:0".parse().unwrap(),
        "[fd00::7]:0".parse::<SocketAddr>().unwrap(),
    ];

    let mut mock = MockProvider::new();
    let mut seq = Sequence::new();
    expect_startup(&mut mock, &mut seq, record, Ok(startup_answer()));
    expect_socket(&mut mock, &mut seq);
    expect_address_list(&mut mock, &mut seq, INITIAL_ADDRESS_BUFFER, addrs);
    let rdma_write = SanExtension::ALL
        .iter()
        .position(|e| *e == SanExtension::RdmaWrite)
        .unwrap();
    for i in 0..rdma_write {
        expect_extension(&mut mock, &mut seq, i, Ok(()));
    }
    expect_extension(
        &mut mock,
        &mut seq,
        rdma_write,
        Err(WsaError::WSAEOPNOTSUPP),
    );
    mock.expect_close_socket()
        .withf(|s| *s == SOCKET)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(()));
    mock.expect_cleanup()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|| Ok(()));
    mock.expect_bind().never();
    mock.expect_listen().never();
    mock.expect_connect().never();
    mock.expect_event_select().never();
    mock.expect_enum_network_events().never();

    let mut loader = OneMockLoader::new(mock);
    let mut switch = Switch::new(SwitchConfig::default());
    let report = switch.initialize(&catalog, &mut loader, vec!["10.7.0.0/16".parse().unwrap()]);

    let p = report.provider(NAME).unwrap();
    assert_eq!(p.state, ProviderState::Rejected);
    let reason = p.reason.as_ref().expect("a rejection reason");
    assert_eq!(reason.code(), "missing_extension");
    assert_eq!(reason.step, Call::GetExtension(SanExtension::RdmaWrite));
    assert_eq!(reason.cause.wsa(), Some(WsaError::WSAEOPNOTSUPP));
    assert!(p.cleaned_up);
    assert!(
        report.routes.is_empty(),
        "a rejected provider serves no subnet"
    );

    let mut expected = vec![
        (Call::StartupEx, CallResult::Ok),
        (Call::Socket, CallResult::Ok),
        (Call::AddressListQuery, CallResult::Ok),
    ];
    expected.extend(
        SanExtension::ALL[..rdma_write]
            .iter()
            .map(|e| (Call::GetExtension(*e), CallResult::Ok)),
    );
    expected.extend([
        (
            Call::GetExtension(SanExtension::RdmaWrite),
            CallResult::Error(WsaError::WSAEOPNOTSUPP),
        ),
        (Call::CloseSocket, CallResult::Ok),
        (Call::Cleanup, CallResult::Ok),
    ]);
    assert_eq!(trace_calls(&switch), expected);

    // Shutting down calls nothing more on a provider that was already cleaned up.
    let after = switch.shutdown();
    assert_eq!(trace_calls(&switch), expected);
    assert_eq!(after.provider(NAME).unwrap().state, ProviderState::Rejected);
}

#[test]
fn init_2a_failed_startup_makes_no_further_call() {
    let catalog = catalog();
    let record = tcpip_record(&catalog);

    let mut mock = MockProvider::new();
    let mut seq = Sequence::new();
    expect_startup(
        &mut mock,
        &mut seq,
        record,
        Err(WsaError::WSAEPROVIDERFAILEDINIT),
    );
    mock.expect_socket().never();
    mock.expect_ioctl().never();
    mock.expect_close_socket().never();
    mock.expect_cleanup().never();
    mock.expect_bind().never();
    mock.expect_listen().never();
    mock.expect_connect().never();
    mock.expect_event_select().never();
    mock.expect_enum_network_events().never();

    let mut loader = OneMockLoader::new(mock);
    let mut switch = Switch::new(SwitchConfig::default());
    let report = switch.initialize(&catalog, &mut loader, Vec::new());

    let p = report.provider(NAME).unwrap();
    assert_eq!(p.state, ProviderState::Rejected);
    let reason = p.reason.as_ref().unwrap();
    assert_eq!(reason.code(), "WSAEPROVIDERFAILEDINIT");
    assert_eq!(reason.step, Call::StartupEx);
    assert!(
        !p.cleaned_up,
        "a provider that never started is not cleaned up"
    );
    assert_eq!(p.version, None);
    assert_eq!(
        trace_calls(&switch),
        vec![(
            Call::StartupEx,
            CallResult::Error(WsaError::WSAEPROVIDERFAILEDINIT)
        )]
    );

    // Nor at shutdown.
    switch.shutdown();
    assert_eq!(switch.trace().len(), 1);
}
