//! The sample providers written in C, loaded through the real SPI ABI and initialized by a real
//! switch: each ends as its mock twin does (state, reason, version, extensions, addresses),
//! and the up-calls they make reach the switch's table.
//!
//! Each test loads its own copy of a sample (a distinct file is a distinct instance with its
//! own globals, as two provider DLLs would be), so tests can run in parallel.

#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use mock_provider::{AddressFault, MockCatalog, MockConfig, MockLoader};
use spi_abi::{Library, LibraryLoader, LoadError};
use spi_types::{Guid, SanExtension, WsaError};
use switch_core::provider::ProviderLoader;
use switch_core::report::ProviderReport;
use switch_core::trace::Call;
use switch_core::{ProviderState, Switch, SwitchConfig};

fn sample(name: &str) -> PathBuf {
    let ext = if cfg!(target_os = "macos") {
        "dylib"
    } else {
        "so"
    };
    Path::new(env!("WSD_SAMPLE_PROVIDERS")).join(format!("libwsd_{name}.{ext}"))
}

/// A private copy of sample `name`, so this test's instance is its own.
fn copy_of(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let src = sample(name);
    let dir = std::env::temp_dir().join(format!("wsd-spi-abi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let dst = dir.join(format!(
        "{}-{}",
        N.fetch_add(1, Ordering::Relaxed),
        src.file_name().unwrap().to_string_lossy()
    ));
    std::fs::copy(&src, &dst).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
    dst
}

const GUID: Guid = Guid(uuid_from(0x5A3D_0001_0000_4000_8000_0000_0000_0001));

const fn uuid_from(v: u128) -> uuid::Uuid {
    uuid::Uuid::from_u128(v)
}

/// Initializes a switch with one provider, loaded by `loader`; answers the switch and the
/// provider's report.
fn init(loader: &mut dyn ProviderLoader) -> (Switch, ProviderReport) {
    let mut catalog = MockCatalog::with_tcpip();
    catalog.install("ib", GUID, true, true);
    let mut switch = Switch::new(SwitchConfig::default());
    let report = switch.initialize(
        &catalog,
        loader,
        vec!["10.1.0.0/16".parse().unwrap(), "fd00::/64".parse().unwrap()],
    );
    let p = report.provider("ib").unwrap().clone();
    (switch, p)
}

fn from_library(name: &str) -> (Switch, ProviderReport) {
    let mut loader = LibraryLoader::new();
    loader.add(GUID, copy_of(name));
    init(&mut loader)
}

fn from_mock(config: MockConfig) -> (Switch, ProviderReport) {
    let mut config =
        config.with_addresses(["10.1.0.5".parse().unwrap(), "fd00::5".parse().unwrap()]);
    config.name = "ib".into();
    config.guid = GUID;
    let mut loader = MockLoader::new();
    loader.add(config);
    init(&mut loader)
}

/// What must be the same for a C provider and its mock twin.
fn outcome(
    p: &ProviderReport,
) -> (
    ProviderState,
    Option<String>,
    Option<Call>,
    bool,
    Vec<bool>,
    Vec<String>,
) {
    (
        p.state,
        p.reason.as_ref().map(|r| r.code()),
        p.reason.as_ref().map(|r| r.step),
        p.version.is_some(),
        SanExtension::ALL
            .iter()
            .map(|e| p.extensions.contains(*e))
            .collect(),
        p.addresses.iter().map(ToString::to_string).collect(),
    )
}

#[test]
fn init_2_a_good_c_provider_is_ready_with_both_addresses_and_every_extension() {
    let (mut switch, p) = from_library("good");
    assert_eq!(p.state, ProviderState::Ready, "{p:?}");
    assert_eq!(
        p.addresses
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["10.1.0.5", "fd00::5"]
    );
    assert!(SanExtension::ALL.iter().all(|e| p.extensions.contains(*e)));
    assert_eq!(p.version.map(|v| v.to_string()).as_deref(), Some("2.2"));
    // The query socket it opened went through WPUCreateSocketHandle to the switch's table.
    assert_eq!(switch.upcalls().open_handles(), 1);
    let (_, mock) = from_mock(MockConfig::generic("ib"));
    assert_eq!(outcome(&p), outcome(&mock));
    // Shutdown closes the query socket (its last up-call, WPUCloseSocketHandle) and cleans
    // up.
    switch.shutdown();
    assert_eq!(switch.upcalls().open_handles(), 0);
    let calls: Vec<Call> = switch.trace().iter().map(|t| t.call).collect();
    assert_eq!(calls.last(), Some(&Call::Cleanup), "{calls:?}");
}

#[test]
fn init_3_a_c_provider_asking_for_a_larger_address_buffer_is_asked_again() {
    let (switch, p) = from_library("fault_size");
    let queries = switch
        .trace()
        .iter()
        .filter(|t| t.call == Call::AddressListQuery)
        .count();
    assert_eq!(queries, 2);
    let (_, mock) =
        from_mock(MockConfig::generic("ib").with_address_fault(AddressFault::TooSmallOnce));
    assert_eq!(outcome(&p), outcome(&mock));
    assert_eq!(p.state, ProviderState::Ready);
}

#[test]
fn init_4_a_c_provider_without_rdma_read_is_ready_without_it() {
    let (_, p) = from_library("no_rdma_read");
    assert_eq!(p.state, ProviderState::Ready);
    assert!(!p.extensions.contains(SanExtension::RdmaRead));
    let (_, mock) = from_mock(
        MockConfig::generic("ib")
            .with_extension(SanExtension::RdmaRead, Err(WsaError::WSAEOPNOTSUPP))
            .with_extension(
                SanExtension::MemoryRegistrationCacheCallback,
                Err(WsaError::WSAEOPNOTSUPP),
            ),
    );
    assert_eq!(outcome(&p), outcome(&mock));
}

#[test]
fn init_4_a_c_provider_without_the_mandatory_rdma_write_is_rejected_and_cleaned_up() {
    let (switch, p) = from_library("no_rdma_write");
    assert_eq!(p.state, ProviderState::Rejected);
    assert_eq!(
        p.reason.as_ref().map(|r| r.code()).as_deref(),
        Some("missing_extension")
    );
    assert!(p.cleaned_up);
    assert_eq!(switch.upcalls().open_handles(), 0);
    let (_, mock) = from_mock(
        MockConfig::generic("ib")
            .with_extension(SanExtension::RdmaWrite, Err(WsaError::WSAEOPNOTSUPP)),
    );
    assert_eq!(outcome(&p), outcome(&mock));
}

#[test]
fn init_2a_a_c_provider_that_refuses_version_2_2_is_rejected_without_cleanup() {
    let (switch, p) = from_library("old_version");
    assert_eq!(p.state, ProviderState::Rejected);
    assert_eq!(
        p.reason.as_ref().map(|r| r.code()).as_deref(),
        Some("WSAVERNOTSUPPORTED")
    );
    assert!(!p.cleaned_up);
    assert!(!switch.trace().iter().any(|t| t.call == Call::Cleanup));
    let (_, mock) =
        from_mock(MockConfig::generic("ib").with_startup(Err(WsaError::WSAVERNOTSUPPORTED)));
    assert_eq!(outcome(&p), outcome(&mock));
}

#[test]
fn init_2_a_c_provider_that_leaves_wspsocket_empty_is_rejected_with_missing_entry_point() {
    let (switch, p) = from_library("null_socket");
    assert_eq!(p.state, ProviderState::Rejected);
    let reason = p.reason.as_ref().unwrap();
    assert_eq!(reason.code(), "missing_entry_point");
    assert_eq!(reason.step, Call::StartupEx);
    assert!(
        reason.cause.to_string().contains("WSPSocket"),
        "{}",
        reason.cause
    );
    // It did start, so it is cleaned up.
    assert!(p.cleaned_up);
    assert!(switch.trace().iter().any(|t| t.call == Call::Cleanup));
}

#[test]
fn init_1_a_library_that_is_missing_or_has_no_wspstartupex_is_an_error_not_a_crash() {
    let missing = Library::open("/nonexistent/libwsd_provider.so").unwrap_err();
    assert!(matches!(missing, LoadError::Open { .. }), "{missing}");
    let no_export = Library::open(copy_of("no_export")).unwrap_err();
    assert!(
        matches!(no_export, LoadError::NoStartup { .. }),
        "{no_export}"
    );
    assert!(no_export.to_string().contains("WSPStartupEx"));
    // Through the switch: the entry is rejected as not loadable.
    let mut loader = LibraryLoader::new();
    loader.add(GUID, copy_of("no_export"));
    let (_, p) = init(&mut loader);
    assert_eq!(p.state, ProviderState::Rejected);
    assert_eq!(loader.failures().len(), 1);
}
