//! The switch's provider machines driven by hand, call by call: what each asks for, when it is
//! finished, what it says it did (INIT-2a, INIT-3, INIT-4, ADDR-1), and the call budgets that
//! bound every driving loop.

use std::net::{IpAddr, SocketAddr};

use mock_provider::{MockCatalog, MockConfig, MockLoader};
use spi_types::address_list::encode_address_list;
use spi_types::{PointerWidth, SanExtension, WinsockVersion, WsaError, WspData};
use switch_core::address::{
    AddressProgress, AddressQuery, INITIAL_ADDRESS_BUFFER, MAX_ADDRESS_BUFFER,
    MAX_ADDRESS_QUERY_ATTEMPTS, Requery,
};
use switch_core::call::{AddressAnswer, Answer, Finished, NextCall, ProviderMachine};
use switch_core::provider::{ExtensionHandle, IoctlFailure, ProviderSocket};
use switch_core::report::{Diagnostic, ExtensionFailure, ProviderState, RejectCause};
use switch_core::startup::{INIT_CALL_BUDGET, InitMachine};
use switch_core::teardown::Teardown;
use switch_core::trace::Call;
use switch_core::{Switch, SwitchConfig};

const W: PointerWidth = PointerWidth::Bits64;
const S: ProviderSocket = ProviderSocket(7);

fn data(version: WinsockVersion) -> WspData {
    WspData {
        version,
        high_version: version,
        description: "test".into(),
    }
}

fn list(addrs: &[&str], base: u64) -> AddressAnswer {
    let addrs: Vec<SocketAddr> = addrs
        .iter()
        .map(|a| SocketAddr::new(a.parse().unwrap(), 0))
        .collect();
    let buffer = encode_address_list(&addrs, base, W).unwrap();
    let returned = buffer.len();
    AddressAnswer::Filled {
        buffer,
        base,
        returned,
    }
}

fn fault(needed: usize) -> AddressAnswer {
    AddressAnswer::Failed(IoctlFailure {
        error: WsaError::WSAEFAULT,
        bytes_returned: needed,
    })
}

/// A machine that started with version 2.2 and opened its query socket `S`.
fn with_socket() -> InitMachine {
    let mut m = InitMachine::new("p", W);
    m.advance(Answer::Started(Ok(data(WinsockVersion::V2_2))))
        .unwrap();
    m.advance(Answer::Socket(Ok(S))).unwrap();
    m
}

/// Answers every extension query of `m` with success, counting the calls.
fn answer_extensions(m: &mut InitMachine) -> usize {
    let mut n = 0;
    while let Some(NextCall::GetExtension { extension, .. }) = m.next_call() {
        m.advance(Answer::Extension(Ok(ExtensionHandle(
            0x1000 + extension.index() as u64,
        ))))
        .unwrap();
        n += 1;
    }
    n
}

#[test]
fn init_2a_version_mismatch_cleans_up_exactly_once_and_says_so() {
    let mut m = InitMachine::new("p", W);
    m.advance(Answer::Started(Ok(data(WinsockVersion::new(2, 0)))))
        .unwrap();
    // Started, so the only call left is one WSPCleanup: no socket was opened.
    assert_eq!(m.next_call(), Some(NextCall::Cleanup));
    m.advance(Answer::CleanedUp(Ok(()))).unwrap();
    assert_eq!(m.next_call(), None);
    assert_eq!(m.advance(Answer::CleanedUp(Ok(()))), Err(Finished));
    let outcome = m.finish();
    let failure = outcome.result.unwrap_err();
    assert!(failure.cleaned_up);
    assert_eq!(failure.rejection.step, Call::StartupEx);
    assert_eq!(failure.rejection.code(), "version_mismatch");
    assert_eq!(failure.data.unwrap().version, WinsockVersion::new(2, 0));
    assert!(outcome.diagnostics.is_empty());
}

#[test]
fn init_2a_a_failed_cleanup_is_still_one_cleanup_and_is_reported() {
    let mut m = InitMachine::new("p", W);
    m.advance(Answer::Started(Ok(data(WinsockVersion::V2_2))))
        .unwrap();
    m.advance(Answer::Socket(Err(WsaError::WSAENOBUFS)))
        .unwrap();
    assert_eq!(m.next_call(), Some(NextCall::Cleanup));
    m.advance(Answer::CleanedUp(Err(WsaError::WSAEINVAL)))
        .unwrap();
    assert_eq!(m.next_call(), None);
    let outcome = m.finish();
    let failure = outcome.result.unwrap_err();
    assert!(failure.cleaned_up);
    assert_eq!(failure.rejection.code(), "WSAENOBUFS");
    assert_eq!(
        outcome.diagnostics,
        [Diagnostic::CleanupFailed {
            provider: "p".into(),
            error: WsaError::WSAEINVAL
        }]
    );
}

#[test]
fn init_4_missing_mandatory_extension_closes_the_socket_then_cleans_up() {
    let mut m = with_socket();
    m.advance(Answer::Addresses(list(&["10.0.0.1"], 0x1000)))
        .unwrap();
    m.advance(Answer::Extension(Ok(ExtensionHandle(1))))
        .unwrap();
    m.advance(Answer::Extension(Err(ExtensionFailure::NoEntryPoint)))
        .unwrap();
    assert_eq!(m.next_call(), Some(NextCall::CloseSocket(S)));
    // A failing close does not stop the cleanup.
    m.advance(Answer::Closed(Err(WsaError::WSAENOTSOCK)))
        .unwrap();
    assert_eq!(m.next_call(), Some(NextCall::Cleanup));
    m.advance(Answer::CleanedUp(Ok(()))).unwrap();
    assert_eq!(m.next_call(), None);
    let failure = m.finish().result.unwrap_err();
    assert!(failure.cleaned_up);
    assert_eq!(
        failure.rejection.step,
        Call::GetExtension(SanExtension::DeregisterMemory)
    );
    assert_eq!(failure.rejection.code(), "missing_extension");
    assert!(failure.extensions.contains(SanExtension::RegisterMemory));
    assert!(!failure.extensions.contains(SanExtension::DeregisterMemory));
    assert_eq!(failure.addresses, ["10.0.0.1".parse::<IpAddr>().unwrap()]);
}

#[test]
fn init_6_a_panic_while_cleaning_up_ends_the_machine_and_keeps_the_message() {
    let mut m = with_socket();
    m.advance(Answer::Panicked("in the query".into())).unwrap();
    assert_eq!(m.next_call(), Some(NextCall::CloseSocket(S)));
    m.advance(Answer::Panicked("in close".into())).unwrap();
    assert_eq!(m.next_call(), Some(NextCall::Cleanup));
    m.advance(Answer::Panicked("in cleanup".into())).unwrap();
    assert_eq!(m.next_call(), None);
    let outcome = m.finish();
    let failure = outcome.result.unwrap_err();
    assert_eq!(
        failure.rejection.cause,
        RejectCause::Panicked("in the query".into())
    );
    assert!(
        failure.cleaned_up,
        "cleanup was called, even though it panicked"
    );
    let messages: Vec<(Call, &str)> = outcome
        .diagnostics
        .iter()
        .filter_map(|d| match d {
            Diagnostic::ProviderPanicked { call, message, .. } => Some((*call, message.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(
        messages,
        [
            (Call::CloseSocket, "in close"),
            (Call::Cleanup, "in cleanup")
        ]
    );
}

#[test]
fn init_2_an_answer_of_the_wrong_kind_is_a_failure_that_still_cleans_up() {
    let mut m = InitMachine::new("p", W);
    m.advance(Answer::Started(Ok(data(WinsockVersion::V2_2))))
        .unwrap();
    m.advance(Answer::Closed(Ok(()))).unwrap();
    assert_eq!(m.rejection().unwrap().code(), "WSAEINVAL");
    assert_eq!(m.next_call(), Some(NextCall::Cleanup));
}

#[test]
fn init_2_the_call_budget_is_the_longest_legitimate_sequence() {
    // The longest sequence: every retry the query rule allows, six extensions, a panic in the
    // seventh (which rejects even an optional one), then close and cleanup.
    let mut m = InitMachine::new("p", W);
    let mut calls = 0;
    m.advance(Answer::Started(Ok(data(WinsockVersion::V2_2))))
        .unwrap();
    m.advance(Answer::Socket(Ok(S))).unwrap();
    calls += 2;
    for i in 1..MAX_ADDRESS_QUERY_ATTEMPTS {
        m.advance(Answer::Addresses(fault(
            INITIAL_ADDRESS_BUFFER + i as usize,
        )))
        .unwrap();
        calls += 1;
    }
    m.advance(Answer::Addresses(list(&["10.0.0.1"], 0x1000)))
        .unwrap();
    calls += 1;
    for _ in 0..SanExtension::ALL.len() - 1 {
        m.advance(Answer::Extension(Ok(ExtensionHandle(9))))
            .unwrap();
        calls += 1;
    }
    m.advance(Answer::Panicked("last".into())).unwrap();
    calls += 1;
    while m.next_call().is_some() {
        m.advance(Answer::Closed(Ok(())).clone()).ok();
        let _ = m.advance(Answer::CleanedUp(Ok(())));
        calls += 2;
    }
    assert_eq!(calls, INIT_CALL_BUDGET);
    assert_eq!(m.call_budget(), INIT_CALL_BUDGET);
    assert!(m.finish().result.unwrap_err().cleaned_up);
}

#[test]
fn init_3_a_successful_initialization_hands_over_socket_handles_and_addresses() {
    let mut m = with_socket();
    assert_eq!(
        m.next_call(),
        Some(NextCall::QueryAddresses {
            socket: S,
            buffer_len: INITIAL_ADDRESS_BUFFER
        })
    );
    m.advance(Answer::Addresses(fault(5000))).unwrap();
    assert_eq!(
        m.next_call(),
        Some(NextCall::QueryAddresses {
            socket: S,
            buffer_len: 5000
        })
    );
    m.advance(Answer::Addresses(list(&["10.0.0.1", "fd00::1"], 0x2000)))
        .unwrap();
    assert_eq!(answer_extensions(&mut m), 7);
    assert_eq!(m.next_call(), None);
    let init = m.finish().result.unwrap();
    assert_eq!(init.socket, S);
    assert_eq!(init.addresses.len(), 2);
    for e in SanExtension::ALL {
        assert_eq!(
            init.handles.get(e),
            Some(ExtensionHandle(0x1000 + e.index() as u64))
        );
    }
}

#[test]
fn init_3_the_byte_count_bounds_the_decode() {
    // Two entries encoded, but the provider says it wrote only the header and the first entry's
    // record: the second entry's sockaddr lies outside what it wrote.
    let AddressAnswer::Filled { buffer, base, .. } = list(&["10.0.0.1", "10.0.0.2"], 0x3000) else {
        unreachable!()
    };
    let mut q = AddressQuery::new(W);
    let short = AddressAnswer::Filled {
        buffer: buffer.clone(),
        base,
        returned: 8 + 2 * 16,
    };
    assert!(matches!(
        q.on_answer(&short),
        AddressProgress::Failed(RejectCause::AddressListInvalid(_))
    ));
    // Exactly what was written decodes; nothing is reported.
    let mut q = AddressQuery::new(W);
    let exact = AddressAnswer::Filled {
        returned: buffer.len(),
        buffer: buffer.clone(),
        base,
    };
    assert!(matches!(q.on_answer(&exact), AddressProgress::Done(l) if l.len() == 2));
    assert!(!q.answered_without_size());
}

#[test]
fn init_3_a_byte_count_beyond_the_buffer_rejects() {
    let mut q = AddressQuery::new(W);
    let over = AddressAnswer::Filled {
        buffer: vec![0; 64],
        base: 0x1000,
        returned: 65,
    };
    assert_eq!(
        q.on_answer(&over),
        AddressProgress::Failed(RejectCause::AddressListOverreported {
            returned: 65,
            buffer_len: 64
        })
    );
}

#[test]
fn init_3_a_byte_count_of_zero_decodes_the_whole_buffer_and_is_reported() {
    let AddressAnswer::Filled { buffer, base, .. } = list(&["10.0.0.1"], 0x3000) else {
        unreachable!()
    };
    let mut q = AddressQuery::new(W);
    let unsized_answer = AddressAnswer::Filled {
        buffer,
        base,
        returned: 0,
    };
    assert!(matches!(q.on_answer(&unsized_answer), AddressProgress::Done(l) if l.len() == 1));
    assert!(q.answered_without_size());

    // Through the switch: the provider is ready and the report says what happened.
    let mut c = MockConfig::generic("quiet");
    c.addresses = vec!["10.0.0.1".parse().unwrap()];
    c.address_raw = Some(mock_provider::RawAddressList {
        base: 0x10,
        bytes: Vec::new(),
    });
    let mut catalog = MockCatalog::with_tcpip();
    catalog.install_mock(&c);
    let mut loader = MockLoader::new();
    loader.add(c);
    let mut switch = Switch::new(SwitchConfig::default());
    let report = switch.initialize(&catalog, &mut loader, vec![]);
    assert_eq!(
        report.provider("quiet").unwrap().state,
        ProviderState::Ready
    );
    assert!(report.provider("quiet").unwrap().addresses.is_empty());
    assert!(
        report
            .diagnostics
            .contains(&Diagnostic::AddressListSizeMissing {
                provider: "quiet".into()
            })
    );
}

#[test]
fn init_3_a_size_at_the_cap_is_retried_and_one_above_is_refused() {
    let mut q = AddressQuery::new(W);
    assert_eq!(
        q.on_answer(&fault(MAX_ADDRESS_BUFFER)),
        AddressProgress::Retry(MAX_ADDRESS_BUFFER)
    );
    let mut q = AddressQuery::new(W);
    assert_eq!(
        q.on_answer(&fault(MAX_ADDRESS_BUFFER + 1)),
        AddressProgress::Failed(RejectCause::AddressListTooLarge {
            needed: MAX_ADDRESS_BUFFER + 1,
            limit: MAX_ADDRESS_BUFFER
        })
    );
}

/// A provider whose list needs exactly `needed` bytes: the mock asks for its list's size plus a
/// slack chosen to land on `needed`.
fn provider_needing(needed: usize) -> (Switch, ProviderState, Option<String>) {
    let mut c = MockConfig::generic("big");
    c.addresses = vec!["10.0.0.1".parse().unwrap()];
    let list_size = spi_types::address_list::required_size(
        &[SocketAddr::new(c.addresses[0], 0)],
        PointerWidth::Bits64,
    );
    c.size_slack = needed - list_size;
    let mut catalog = MockCatalog::with_tcpip();
    catalog.install_mock(&c);
    let mut loader = MockLoader::new();
    loader.add(c);
    let mut switch = Switch::new(SwitchConfig::default());
    let report = switch.initialize(&catalog, &mut loader, vec![]);
    let p = report.provider("big").unwrap();
    (switch, p.state, p.reason.as_ref().map(|r| r.code()))
}

#[test]
fn init_3_a_provider_asking_for_exactly_16_mib_is_served() {
    let (switch, state, reason) = provider_needing(MAX_ADDRESS_BUFFER);
    assert_eq!(state, ProviderState::Ready, "{reason:?}");
    let sizes: Vec<_> = switch
        .trace()
        .iter()
        .filter(|e| e.call == Call::AddressListQuery)
        .map(|e| e.args.clone())
        .collect();
    assert_eq!(sizes.len(), 2);
}

#[test]
fn init_3_a_provider_asking_for_more_than_16_mib_is_rejected() {
    let (_, state, reason) = provider_needing(MAX_ADDRESS_BUFFER + 1);
    assert_eq!(state, ProviderState::Rejected);
    assert_eq!(reason.as_deref(), Some("address_list_too_large"));
}

#[test]
fn addr_1_a_requery_asks_at_most_its_budget_then_gives_up() {
    let mut r = Requery::new(S, W);
    assert_eq!(r.call_budget(), MAX_ADDRESS_QUERY_ATTEMPTS as usize);
    let mut calls = 0;
    while let Some(NextCall::QueryAddresses { socket, buffer_len }) = r.next_call() {
        assert_eq!(socket, S);
        r.advance(Answer::Addresses(fault(buffer_len + 1))).unwrap();
        calls += 1;
    }
    assert_eq!(calls, MAX_ADDRESS_QUERY_ATTEMPTS as usize);
    assert_eq!(r.advance(Answer::Addresses(fault(1))), Err(Finished));
    assert!(matches!(
        r.finish(),
        Some(Err(RejectCause::AddressListRetriesExhausted { attempts, .. }))
            if attempts == MAX_ADDRESS_QUERY_ATTEMPTS
    ));
}

#[test]
fn addr_1_a_requery_panic_or_wrong_answer_ends_it() {
    let mut r = Requery::new(S, W);
    r.advance(Answer::Panicked("boom".into())).unwrap();
    assert_eq!(r.next_call(), None);
    assert_eq!(r.finish(), Some(Err(RejectCause::Panicked("boom".into()))));
    let mut r = Requery::new(S, W);
    r.advance(Answer::Socket(Ok(S))).unwrap();
    assert_eq!(r.finish(), Some(Err(RejectCause::Wsa(WsaError::WSAEINVAL))));
    let mut r = Requery::new(S, W);
    assert_eq!(r.clone().finish(), None, "not finished before an answer");
    r.advance(Answer::Addresses(list(&["10.9.9.9"], 0x40)))
        .unwrap();
    assert_eq!(r.finish(), Some(Ok(vec!["10.9.9.9".parse().unwrap()])));
}

#[test]
fn close_2_teardown_closes_then_cleans_up_once() {
    let mut t = Teardown::new("p", Some(S), true);
    assert_eq!(t.call_budget(), 2);
    assert_eq!(t.next_call(), Some(NextCall::CloseSocket(S)));
    assert_eq!(t.open_socket(), Some(S));
    t.advance(Answer::Closed(Ok(()))).unwrap();
    assert_eq!(t.open_socket(), None);
    assert!(t.cleanup_due());
    assert!(!t.cleaned_up());
    assert_eq!(t.next_call(), Some(NextCall::Cleanup));
    t.advance(Answer::CleanedUp(Ok(()))).unwrap();
    assert!(t.cleaned_up());
    assert!(!t.cleanup_due());
    assert_eq!(t.next_call(), None);
    assert_eq!(t.advance(Answer::CleanedUp(Ok(()))), Err(Finished));
    assert!(t.take_diagnostics().is_empty());
}

#[test]
fn close_2_teardown_of_a_provider_that_never_started_only_closes() {
    let mut t = Teardown::new("p", Some(S), false);
    t.advance(Answer::Closed(Ok(()))).unwrap();
    assert_eq!(t.next_call(), None);
    assert!(!t.cleaned_up());
    let t = Teardown::new("p", None, false);
    assert_eq!(t.next_call(), None);
}

#[test]
fn close_2_teardown_reports_a_failed_cleanup_and_panics_with_their_messages() {
    let mut t = Teardown::new("p", Some(S), true);
    t.advance(Answer::Panicked("close".into())).unwrap();
    t.advance(Answer::CleanedUp(Err(WsaError::WSAENETDOWN)))
        .unwrap();
    assert!(t.cleaned_up());
    assert_eq!(
        t.take_diagnostics(),
        [
            Diagnostic::ProviderPanicked {
                provider: "p".into(),
                call: Call::CloseSocket,
                message: "close".into()
            },
            Diagnostic::CleanupFailed {
                provider: "p".into(),
                error: WsaError::WSAENETDOWN
            }
        ]
    );
    assert!(t.take_diagnostics().is_empty());
}

#[test]
fn init_6_an_abandoned_machine_is_rejected_and_still_tears_down() {
    let mut m = with_socket();
    m.abandon(switch_core::Overrun {
        calls: INIT_CALL_BUDGET,
        pending: Call::AddressListQuery,
    });
    assert_eq!(m.rejection().unwrap().code(), "sequence_overrun");
    assert_eq!(m.next_call(), Some(NextCall::CloseSocket(S)));
    m.advance(Answer::Closed(Ok(()))).unwrap();
    assert_eq!(m.next_call(), Some(NextCall::Cleanup));
    // The teardown overran too: the machine stops where it is, without claiming a cleanup.
    m.abandon(switch_core::Overrun {
        calls: 2,
        pending: Call::Cleanup,
    });
    assert_eq!(m.next_call(), None);
    let failure = m.finish().result.unwrap_err();
    assert!(!failure.cleaned_up);
    assert_eq!(
        failure.rejection.cause,
        RejectCause::SequenceOverrun {
            calls: INIT_CALL_BUDGET
        }
    );
    assert_eq!(failure.rejection.step, Call::AddressListQuery);
}

#[test]
fn init_6_a_machine_abandoned_before_startup_makes_no_call() {
    let mut m = InitMachine::new("p", W);
    m.abandon(switch_core::Overrun {
        calls: 0,
        pending: Call::StartupEx,
    });
    assert_eq!(m.next_call(), None);
    assert!(!m.finish().result.unwrap_err().cleaned_up);
}
